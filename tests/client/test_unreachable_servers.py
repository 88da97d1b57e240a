"""A server that does not answer holds the transfers queued to it: one probe at a time stands
for them (``core/transfers/origins.py``), not every transfer on its own back-off; when the
server answers again they all go at once. The real download job, against real servers on
loopback that drop each request, answer nothing, or serve the files."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import urllib3

from alu_client.core.store import Store
from alu_client.core.store.transfers import TransferStore
from alu_client.core.transfers.base import RetryableError, Tuning
from alu_client.core.transfers.origins import (
    PROBE_ENV,
    answers,
    origin_of,
    out_of_reach,
    probe_backoff,
)
from alu_client.core.transfers.queue import TransferQueue
from alu_client.core.transfers.retry import Backoff, RetryPolicy
from tests.support.hostile import Authority
from tests.support.outage import Server, body_of
from tests.support.tlsproxy import TlsTunnelProxy
from tests.support.waiting import end_process, wait_until

#: the probe of these tests: 0.1-0.2 s, growing to 0.2-0.4 s (by default 1-2 s to 15-30 s)
PROBE = Backoff(base=0.2, cap=0.4)


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    made: list[Server] = []
    yield made
    for s in made:
        s.close()


def serve(servers: list[Server], mode: str) -> Server:
    s = Server(mode)
    servers.append(s)
    return s


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "library.sqlite3")
    yield s
    s.close()


def attempts(q: TransferQueue) -> int:
    return sum(t.attempts for t in q.transfers.all())


def test_transfers_to_a_server_that_drops_every_request_wait_for_one_probe(
    store: Store, servers: list[Server], tmp_path: Path
) -> None:
    # 200 downloads queued with the hub down made ~1,200 attempts in 30 s: each transfer tried
    # on its own back-off. Here 30, with back-offs of 0.05-0.2 s, for 3 s: hundreds before
    down = serve(servers, "drop")
    q = TransferQueue(
        store, policy=RetryPolicy(Backoff(base=0.05, cap=0.2)), probe=PROBE, max_downloads=2
    )
    for n in range(30):
        q.add_download(down.url(f"/clip{n}.mp4"), tmp_path / f"clip{n}.mp4")
    q.start()
    try:
        threading.Event().wait(3.0)  # the window the requests are counted in
    finally:
        q.stop()
    # the two the caps let start tried, and failed; the others were never tried: the probe
    # (a HEAD, at most one in flight, 0.1-0.4 s apart) stood for them all
    assert attempts(q) <= 3, attempts(q)
    assert down.count("GET") <= 2 * attempts(q)  # (each GET goes once more on a new connection)
    probes = down.count("HEAD")
    assert 2 <= probes <= 2 * 17, probes
    waiting = q.transfers.all(("queued",))
    assert len(waiting) == 30
    failed = [t for t in waiting if t.attempts]
    assert all(t.last_error == "The server could not be reached; trying again." for t in failed)


def test_when_the_server_answers_again_the_held_transfers_all_go_in_their_order(
    store: Store, servers: list[Server], tmp_path: Path
) -> None:
    # their own back-off had grown to ten minutes: the probe finds the server back within its
    # interval, and the transfers go at once, one at a time (the cap), urgent ones first
    down = serve(servers, "drop")
    q = TransferQueue(
        store,
        policy=RetryPolicy(Backoff(base=600.0, cap=600.0, jitter=0.0)),
        probe=PROBE,
        max_downloads=1,
    )
    ids = [q.add_download(down.url(f"/r{n}"), tmp_path / f"r{n}") for n in range(12)]
    urgent = q.add_download(down.url("/urgent"), tmp_path / "urgent", priority="urgent")
    q.start()
    try:
        wait_until(
            lambda: (t := q.transfers.get(urgent)) is not None and t.last_error,
            what="the first attempt failed",
        )
        back = time.monotonic()
        down.up()
        for tid in [urgent, *ids]:
            t = q.wait_for(tid, timeout=5)
            assert t.state == "done", t
        took = time.monotonic() - back
    finally:
        q.stop()
    assert took < 0.4 + 2.0, took  # the probe's interval, then 13 small files
    # the urgent one was tried first, and once: the others waited for the probe
    assert [t.attempts for t in q.transfers.all()] == [2] + [1] * 12
    assert down.served == ["/urgent", *[f"/r{n}" for n in range(12)]]
    for tid in ids:
        path = Path(q.transfers.get(tid).destination)  # type: ignore[union-attr]
        assert path.read_bytes() == body_of(f"/{path.name}")


def test_the_user_pauses_cancels_and_retries_held_transfers_at_once(
    store: Store, servers: list[Server], tmp_path: Path
) -> None:
    # (a guard: the hold must not stand in the user's way) "Retry now" of a held transfer
    # tries it at once, though its server still does not answer; pause and cancel are at once
    down = serve(servers, "drop")
    q = TransferQueue(
        store,
        policy=RetryPolicy(Backoff(base=600.0, cap=600.0, jitter=0.0)),
        probe=Backoff(base=600.0, cap=600.0),  # (no probe in this test's time)
        max_downloads=1,
    )
    first, paused, canceled, retried = (
        q.add_download(down.url(f"/{n}"), tmp_path / n) for n in ("a", "b", "c", "d")
    )
    q.start()
    try:
        wait_until(lambda: (t := q.transfers.get(first)) and t.last_error, what="a failure")
        q.pause(paused)
        q.cancel(canceled)
        assert q.transfers.get(paused).state == "paused"  # type: ignore[union-attr]
        assert q.transfers.get(canceled).state == "canceled"  # type: ignore[union-attr]
        assert q.transfers.get(retried).attempts == 0  # type: ignore[union-attr]
        q.retry_now(retried)
        wait_until(
            lambda: (t := q.transfers.get(retried)) and t.attempts == 1 and t.last_error,
            timeout=3,
            what="the retried one tried at once",
        )
        q.retry_now(first)
        wait_until(
            lambda: (t := q.transfers.get(first)) and t.attempts == 2, timeout=3, what="again"
        )
    finally:
        q.stop()


def test_a_transfer_to_another_server_is_not_held(
    store: Store, servers: list[Server], tmp_path: Path
) -> None:
    # a server that accepts and never answers held both download slots with the attempts of
    # its transfers, one stall timeout each, one after the other: a download from another
    # server, which answers, waited behind them
    silent = serve(servers, "silent")
    live = serve(servers, "up")
    q = TransferQueue(
        store,
        policy=RetryPolicy(Backoff(base=0.05, cap=0.1)),
        probe=PROBE,
        tuning=Tuning(connect_timeout=1.0, stall_timeout=1.0),
        max_downloads=2,
    )
    for n in range(20):
        q.add_download(silent.url(f"/s{n}"), tmp_path / f"s{n}")
    other = q.add_download(live.url("/elsewhere.mp4"), tmp_path / "elsewhere.mp4")
    began = time.monotonic()
    q.start()
    try:
        t = q.wait_for(other, timeout=4)
        took = time.monotonic() - began
        assert t.state == "done", t
        # (the second attempt to the silent server may still be waiting for its answer)
        wait_until(lambda: not q.transfers.all(("active",)), what="the attempts ended")
        held = q.transfers.all(("queued",))
    finally:
        q.stop()
    assert took < 1.0 + 1.5, took  # one stall timeout, then its own small file
    assert len(held) == 20 and sum(t.attempts for t in held) <= 3


def test_fetch_goes_on_within_the_probes_interval_of_the_server_answering(
    servers: list[Server], tmp_path: Path
) -> None:
    # `alu fetch` runs its own engine: it waited out its back-off after the network was back,
    # up to 5 minutes of nothing (the app's sync says "the hub is back"; nothing told the
    # command). Its transfer had been failing for a while (an earlier run in the outage): the
    # back-off of its next failure is 2.5-5 minutes
    down = serve(servers, "drop")
    home = tmp_path / "home"
    dest = tmp_path / "clip.mp4"
    url = down.url("/clip.mp4")
    (home / "data").mkdir(parents=True)
    store = Store(home / "data" / "library.sqlite3")
    transfers = TransferStore(store)
    tid = transfers.add("download", url, str(dest), label=dest.name)
    assert transfers.claim(tid)
    transfers.finish(
        tid,
        "queued",
        error="The server could not be reached; trying again.",
        next_attempt_at=time.time() + 200,
        failures=12,
    )
    store.close()
    env = {**os.environ, "ALU_CLIENT_HOME": str(home), PROBE_ENV: "0.2,0.4"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "alu_client.cli", "fetch", url, str(dest)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # the run tries at once (the command asked), fails, and waits
        wait_until(lambda: down.count("GET") >= 1, timeout=20, what="the command's attempt")
        wait_until(lambda: transfers_left(home) == 1, timeout=5, what="the attempt's end")
        back = time.monotonic()
        down.up()
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail("alu fetch still waited 10 s after the server answered again")
        took = time.monotonic() - back
    finally:
        end_process(proc)
    assert proc.returncode == 0, err
    assert dest.read_bytes() == body_of("/clip.mp4")
    assert took < 0.4 + 3.0, took  # the probe's interval, the file, the command's end


def transfers_left(home: Path) -> int:
    """How many transfers of ``home``'s library wait to retry after a failed attempt."""
    store = Store(home / "data" / "library.sqlite3")
    try:
        row = store.query_one(
            "SELECT COUNT(*) FROM transfers WHERE state = 'queued' AND attempts = 2"
        )
        return int(row[0]) if row else 0
    finally:
        store.close()


def test_what_says_a_server_is_out_of_reach(servers: list[Server]) -> None:
    silent = serve(servers, "silent")
    live = serve(servers, "up")
    drop = serve(servers, "drop")
    with socket_refusing() as port:
        refused = f"http://127.0.0.1:{port}/x"
        failures = {
            refused: _error(refused),
            drop.url("/x"): _error(drop.url("/x")),
            silent.url("/x"): _error(silent.url("/x"), timeout=0.3),
        }
    for url, error in failures.items():
        origin = origin_of(url)
        assert origin is not None
        said = _as_a_job_says_it(error, "The server could not be reached; trying again.")
        assert out_of_reach(said, origin), url
        assert not out_of_reach(said, "http://elsewhere.test:80"), url  # another server's
    # the answer had begun, then the link broke or stalled: the server was reached
    live_origin = origin_of(live.url("/")) or ""
    for broken in (
        urllib3.exceptions.ProtocolError("Connection broken: reset", ConnectionResetError()),
        urllib3.exceptions.ReadTimeoutError(None, "/x", "Read timed out."),  # type: ignore[arg-type]
    ):
        said = _as_a_job_says_it(broken, "The connection stalled; resuming.")
        assert not out_of_reach(said, live_origin), broken
    session = requests.Session()
    try:
        assert answers(session, live.url("/"), 1.0, 1.0)
        assert not answers(session, drop.url("/"), 1.0, 1.0)
        assert not answers(session, silent.url("/"), 1.0, 0.3)
    finally:
        session.close()


def test_a_file_error_is_not_the_server_out_of_reach(servers: list[Server]) -> None:
    # a download folder or an upload's source on a share that went away: macOS smbfs and
    # Linux CIFS say EHOSTDOWN ("Host is down"), as a connect to a host that is down does.
    # With no request in the chain it was charged to the transfer's own server
    origin = "http://127.0.0.1:80"
    for code in (errno.EHOSTDOWN, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ECONNREFUSED):
        local = OSError(code, os.strerror(code), "/Volumes/share/clip.mp4.part")
        # as the download job says it (``_disk_error(e) from e``) ...
        said = _as_a_job_says_it(local, "The file could not be written to the disk.")
        assert not out_of_reach(said, origin), code
        # ... and the upload job (``raise RetryableError(...) from None`` in its handler)
        assert not out_of_reach(_raised_in_handling(local), origin), code
    # the same errno from a connect is the server's (urllib3 wraps it; requests wraps that)
    with socket_refusing() as port:
        refused = _error(f"http://127.0.0.1:{port}/x")
    wrapped = requests.ConnectionError(
        urllib3.exceptions.NewConnectionError(
            None,  # type: ignore[arg-type]
            "Failed to establish a new connection",
        )
    )
    wrapped.__cause__ = OSError(errno.EHOSTDOWN, "Host is down")
    for network in (refused, wrapped):
        said = _as_a_job_says_it(network, "The server could not be reached; trying again.")
        assert out_of_reach(said, f"http://127.0.0.1:{port}"), network


def test_a_transfer_whose_folder_is_away_keeps_its_back_off_and_its_server_is_not_held(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # its server answers every request; the folder says "Host is down". It was taken for the
    # server out of reach: held, probed, found answering, hurried - a retry every probe
    # interval for ever, whatever its back-off; and every other transfer to the server in its
    # back-off hurried with it (here a 503 that asked for a minute)
    hub = _PathServer()
    share = tmp_path / "share"
    share.mkdir()
    real_open = os.open

    def share_gone(path: str | os.PathLike[str], *args: object, **kwargs: object) -> int:
        if os.fspath(path).startswith(str(share)):
            raise OSError(errno.EHOSTDOWN, os.strerror(errno.EHOSTDOWN), os.fspath(path))
        return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", share_gone)
    q = TransferQueue(
        store, policy=RetryPolicy(Backoff(base=1.0, cap=1.0, jitter=0.0)), probe=PROBE
    )
    away = q.add_download(hub.url("/clip.mp4"), share / "clip.mp4")
    busy = q.add_download(hub.url("/busy.mp4"), tmp_path / "busy.mp4")
    q.start()
    try:
        threading.Event().wait(2.5)  # the window the attempts are counted in
    finally:
        q.stop()
        hub.close()
    t = q.transfers.get(away)
    assert t is not None and "Host is down" in t.last_error, t
    assert t.attempts <= 3, t.attempts  # its own back-off: 1 s (before: one every ~0.3 s)
    assert q.transfers.get(busy).attempts == 1  # type: ignore[union-attr]
    assert hub.count("HEAD") == 0  # never probed


def test_a_server_back_hurries_only_the_transfers_that_failed_to_reach_it(
    store: Store, tmp_path: Path
) -> None:
    # one download of the server is cut before any answer (its server out of reach), another
    # was told 503 and to come back in a minute: the probe finds the server answering, and the
    # first goes at once; the second keeps the wait the server asked for
    hub = _PathServer()
    q = TransferQueue(
        store, policy=RetryPolicy(Backoff(base=600.0, cap=600.0, jitter=0.0)), probe=PROBE
    )
    busy = q.add_download(hub.url("/busy.mp4"), tmp_path / "busy.mp4")
    q.start()
    try:
        wait_until(lambda: (t := q.transfers.get(busy)) and t.last_error, what="the 503")
        gone = q.add_download(hub.url("/gone.mp4"), tmp_path / "gone.mp4")
        wait_until(lambda: hub.count("HEAD") >= 1, what="the probe")
        wait_until(lambda: (t := q.transfers.get(gone)) and t.attempts >= 2, what="hurried by it")
        # it fails to reach the server again at once (a server that answers the probe, not
        # this request): it keeps its back-off now, where it went again at every probe (one
        # every 0.1-0.4 s) for ever
        threading.Event().wait(1.5)  # the window its attempts are counted in
    finally:
        q.stop()
        hub.close()
    assert q.transfers.get(busy).attempts == 1  # type: ignore[union-attr]
    assert q.transfers.get(gone).attempts == 2  # type: ignore[union-attr]


def test_a_probe_that_could_not_start_is_started_again(
    store: Store, servers: list[Server], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the probe's thread refused (no thread to be had): the server was marked as probing
    # all the same, and never probed again - its transfers held until the user acted
    down = serve(servers, "drop")
    refused: list[str] = []
    start = threading.Thread.start

    def start_once_refused(self: threading.Thread) -> None:
        if self.name == "alu-probe" and not refused:
            refused.append(self.name)
            raise RuntimeError("can't start new thread")
        start(self)

    monkeypatch.setattr(threading.Thread, "start", start_once_refused)
    q = TransferQueue(
        store, policy=RetryPolicy(Backoff(base=600.0, cap=600.0, jitter=0.0)), probe=PROBE
    )
    tid = q.add_download(down.url("/clip.mp4"), tmp_path / "clip.mp4")
    q.start()
    try:
        wait_until(lambda: refused, what="the probe refused")
        down.up()
        t = q.wait_for(tid, timeout=3)  # (the next probe: 0.1-0.4 s)
    finally:
        q.stop()
    assert t.state == "done", t


def test_a_probe_starting_as_the_engine_stops_makes_no_session(
    store: Store, servers: list[Server], tmp_path: Path
) -> None:
    # ``stop`` closes the sessions; a probe that asked for one after that made a new session
    # that nobody closed
    live = serve(servers, "up")
    q = TransferQueue(store, probe=PROBE)
    q.start()
    q.stop()
    q._probe_one(origin_of(live.url("/")) or "", live.url("/clip.mp4"))
    assert not q.sessions._sessions


class _PathServer(ThreadingHTTPServer):
    """Answers a HEAD with 200; a GET of /busy… with 503 and Retry-After: 60; a GET of
    /gone… by closing the connection without a word; any other GET with a small body.
    Counts the requests by method."""

    daemon_threads = True

    def __init__(self) -> None:
        counts: dict[str, int] = {}
        self.counts = counts

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                counts["HEAD"] = counts.get("HEAD", 0) + 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                counts["GET"] = counts.get("GET", 0) + 1
                if self.path.startswith("/gone"):
                    self.close_connection = True
                    return
                if self.path.startswith("/busy"):
                    self.send_response(503)
                    self.send_header("Retry-After", "60")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b"x" * 1000)

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def count(self, method: str) -> int:
        return self.counts.get(method, 0)

    def close(self) -> None:
        self.shutdown()
        self.server_close()


def test_a_proxys_bad_gateway_is_not_the_server_answering(servers: list[Server]) -> None:
    # through a forward proxy (plain http://), the proxy's 502/503/504 is its own word that it
    # could not reach the server; any other answer it passes on is the server's
    live = serve(servers, "up")
    gateway = _StatusProxy(502)
    session = requests.Session()
    session.trust_env = False
    try:
        with socket_refusing() as port:
            session.proxies = {"http": gateway.url}
            assert not answers(session, f"http://127.0.0.1:{port}/", 1.0, 1.0)
            session.proxies = {"http": live.url("")}  # (a "proxy" that answers 200 itself)
            assert answers(session, f"http://127.0.0.1:{port}/", 1.0, 1.0)
    finally:
        session.close()
        gateway.shutdown()
        gateway.server_close()


def test_an_https_proxys_certificate_refused_is_no_server_out_of_reach(tmp_path: Path) -> None:
    # requests calls it a ProxyError, which counted as out of reach: the transfers would wait
    # for a probe that never said "answers", for ever, instead of saying "certificate"
    ca = Authority(tmp_path / "ca", name="Nobody's CA")
    proxy = TlsTunnelProxy(*ca.issue(["127.0.0.1"], name="proxy"))
    session = requests.Session()
    session.trust_env = False
    session.proxies = {"https": proxy.url}
    url = "https://127.0.0.1:9/clip.mp4"
    try:
        with pytest.raises(requests.exceptions.ProxyError) as refused:
            session.get(url, timeout=5)
        said = _as_a_job_says_it(refused.value, "The server's security certificate was refused.")
        assert not out_of_reach(said, origin_of(url) or "")
        assert answers(session, url, 2.0, 2.0)  # (its transfers then say what is wrong)
    finally:
        session.close()
        proxy.close()


class _StatusProxy(ThreadingHTTPServer):
    """A forward proxy that answers every request with ``status`` itself."""

    daemon_threads = True

    def __init__(self, status: int) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()


def test_the_probes_back_off_can_be_set_for_a_process() -> None:
    assert (probe_backoff({}).base, probe_backoff({}).cap) == (2.0, 30.0)
    assert (probe_backoff({PROBE_ENV: "0.5,4"}).base, probe_backoff({PROBE_ENV: "0.5,4"}).cap) == (
        0.5,
        4.0,
    )
    for bad in ("x", "5,1", "-1", "1,2,3", "nan"):
        assert probe_backoff({PROBE_ENV: bad}).cap == 30.0, bad


class socket_refusing:
    """A loopback port nothing listens on (bound, never listening: a connect is refused)."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return int(self.sock.getsockname()[1])

    def __exit__(self, *_exc: object) -> None:
        self.sock.close()


def _as_a_job_says_it(error: BaseException, message: str) -> BaseException:
    """``message`` raised from ``error``, as the jobs raise their words (its cause kept)."""
    said = RetryableError(message)
    said.__cause__ = error
    return said


def _raised_in_handling(error: BaseException) -> BaseException:
    """A job's message raised ``from None`` while it handled ``error`` (its context kept)."""
    try:
        try:
            raise error
        except OSError:
            raise RetryableError("The folder of the file is not there now.") from None
    except RetryableError as e:
        return e


def _error(url: str, timeout: float = 2.0) -> BaseException:
    try:
        requests.get(url, timeout=(timeout, timeout))
    except requests.RequestException as e:
        return e
    raise AssertionError(f"{url} answered")
