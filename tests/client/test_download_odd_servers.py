"""Downloads from HTTP servers that answer legally but unusually, and from folders where
something else already sits: a part file the download did not make (another program's, another
download's, a link to another file), a store that ignores If-Range with only Last-Modified to go
by, replicas behind a balancer each with its own ETag, a path that cannot be, a redirect to
another server that asks for a sign-in. Each ends with our file byte-identical, or with the
clear error that is right and nothing of anyone else's touched."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from alu_client.core import http as client_http
from alu_client.core.http import HEADERS_TOO_LARGE_MESSAGE
from alu_client.core.transfers.base import PermanentError, RetryableError, Tuning
from alu_client.core.transfers.download import DownloadSpec, discard_part, run
from alu_client.core.transfers.download import protocol as download_protocol
from alu_client.core.transfers.download.protocol import _keeps_credentials
from alu_client.core.transfers.download.verify import PLACED
from alu_hub.server import free_port
from tests.client.test_download import Job, assert_done, part_of, sha

pytestmark = pytest.mark.timeout(60)

MB = 1024 * 1024
LM = "Mon, 01 Jan 2024 00:00:00 GMT"

#: (status, headers, body) for a request; the handler is the request's own
Answer = tuple[int, list[tuple[str, str]], bytes]


class Server(ThreadingHTTPServer):
    """Answers every GET with ``answer(handler)``; records (path, Range, If-Range, auth)."""

    daemon_threads = True

    def __init__(self, answer: Callable[[BaseHTTPRequestHandler], Answer]) -> None:
        super().__init__(("127.0.0.1", free_port()), _Handler)
        self.answer = answer
        self.seen: list[tuple[str, str | None, str | None, str | None]] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        h = self.headers
        self.server.seen.append(
            (self.path, h.get("Range"), h.get("If-Range"), h.get("Authorization"))
        )
        status, headers, body = self.server.answer(self)
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def ranged(
    data: Callable[[], bytes],
    validators: Callable[[], list[tuple[str, str]]],
    *,
    if_range: bool = True,
    cut_after: int | None = None,
) -> Callable[[BaseHTTPRequestHandler], Answer]:
    """A static file with Range; ``if_range`` False: If-Range ignored (a range of whatever the
    file is now); ``cut_after``: the first answer stops after that many bytes."""
    cuts = [cut_after] if cut_after is not None else []

    def answer(h: BaseHTTPRequestHandler) -> Answer:
        d, v = data(), validators()
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", h.headers.get("Range") or "")
        if m and if_range and h.headers.get("If-Range") not in (None, *(x for _k, x in v)):
            m = None  # the file changed: the whole new one
        if m is None:
            status, start, body = 200, 0, d
            headers = [*v, ("Accept-Ranges", "bytes")]
        else:
            start = int(m.group(1))
            end = min(int(m.group(2)) if m.group(2) else len(d) - 1, len(d) - 1)
            status, body = 206, d[start : end + 1]
            headers = [*v, ("Content-Range", f"bytes {start}-{end}/{len(d)}")]
        if cuts:
            n = cuts.pop()
            h.close_connection = True  # the answer says its full length, then stops short
            h.send_response(status)
            for k, x in headers:
                h.send_header(k, x)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body[:n])
            h.wfile.flush()
            raise ConnectionAbortedError  # handle_error: quiet
        return status, headers, body

    return answer


@pytest.fixture
def job(tmp_path: Path) -> Iterator[Job]:
    j = Job(
        tmp=tmp_path, tuning=Tuning(connect_timeout=5, stall_timeout=5, segment_threshold=2 * MB)
    )
    yield j
    j.sessions.close()


@pytest.fixture
def served() -> Iterator[Callable[[Callable[[BaseHTTPRequestHandler], Answer]], Server]]:
    servers: list[Server] = []

    def start(answer: Callable[[BaseHTTPRequestHandler], Answer]) -> Server:
        servers.append(Server(answer))
        return servers[-1]

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


# --- a part file this download did not make ----------------------------------------------------


@pytest.mark.parametrize("kind", ["another program's file", "a link to another file"])
def test_a_part_file_it_did_not_make_is_never_written_into(
    served: Callable[..., Server], job: Job, tmp_path: Path, kind: str
) -> None:
    data = random.Random(1).randbytes(3 * MB)
    server = served(ranged(lambda: data, lambda: [("ETag", '"v1"')]))
    dest = job.tmp / "out" / "clip.mxf"
    dest.parent.mkdir()
    precious = tmp_path / "notes.txt"
    precious.write_bytes(b"my notes - must not change")
    if kind == "a link to another file":
        part_of(dest).symlink_to(precious)
    else:
        part_of(dest).write_bytes(precious.read_bytes())
    with pytest.raises(PermanentError, match="this download did not make it"):
        run(DownloadSpec(f"{server.url}/clip.mxf", dest), job.context())
    assert precious.read_bytes() == b"my notes - must not change"
    assert part_of(dest).read_bytes() == b"my notes - must not change"
    assert server.seen == []  # refused before a byte was asked for
    discard_part(dest, job.checkpoint.data)  # a cancel then leaves it alone too
    assert part_of(dest).read_bytes() == b"my notes - must not change"


def test_two_downloads_to_one_name_never_mix_their_bytes(
    served: Callable[..., Server], job: Job
) -> None:
    # A is cut, B (another file, same destination) must not build on A's part, nor A on B's
    a_data, b_data = random.Random(2).randbytes(3 * MB), random.Random(3).randbytes(3 * MB)
    a = served(ranged(lambda: a_data, lambda: [("ETag", '"a"')], cut_after=MB))
    b = served(ranged(lambda: b_data, lambda: [("ETag", '"b"')]))
    dest = job.tmp / "y.mxf"
    spec_a = DownloadSpec(f"{a.url}/a.mxf", dest, segments=1)
    with pytest.raises(RetryableError):
        run(spec_a, job.context())
    assert part_of(dest).stat().st_size > 0
    other = Job(tmp=job.tmp, tuning=job.tuning)  # B: a transfer of its own
    with pytest.raises(PermanentError, match="this download did not make it"):
        run(DownloadSpec(f"{b.url}/b.mxf", dest), other.context())
    assert_done(run(spec_a, job.context()), dest, a_data)  # A resumes its own part
    assert a.seen[-1][1] is not None  # resumed with a Range, not fetched again whole
    other.sessions.close()


def _renumbered(part: Path) -> None:
    """The part file as its drive gives it back after a re-plug or a new mount: the same
    bytes under other numbers (a copy: a test cannot change st_dev, a new inode it can)."""
    before = part.stat()
    copy = part.with_name(part.name + ".copy")
    copy.write_bytes(part.read_bytes())
    os.replace(copy, part)  # (made while the old inode lived: never its number again)
    assert (part.stat().st_dev, part.stat().st_ino) != (before.st_dev, before.st_ino)


@pytest.mark.parametrize("segments", [1, 4])
def test_its_own_part_file_under_new_numbers_is_resumed(
    served: Callable[..., Server], job: Job, segments: int
) -> None:
    # a USB disk plugged in again, a reboot, a share mounted again: the download's own part
    # file had another device number, was refused as "this download did not make it" for
    # good, Retry failed the same way, and a cancel left it there
    data = random.Random(11).randbytes(6 * MB)
    # the first run ends with the rest missing: one stream is cut, segments past 3 MB refused
    cut = 2 * MB if segments == 1 else None
    whole = ranged(lambda: data, lambda: [("ETag", '"v1"')], cut_after=cut)
    down = [True]

    def answer(h: BaseHTTPRequestHandler) -> Answer:
        m = re.match(r"bytes=(\d+)-", h.headers.get("Range") or "")
        if down[0] and m is not None and int(m.group(1)) >= 3 * MB:
            return 503, [], b""
        return whole(h)

    server = served(answer)
    dest = job.tmp / "steady.mp4"
    spec = DownloadSpec(f"{server.url}/steady.mp4", dest, sha256=sha(data), segments=segments)
    with pytest.raises(RetryableError):
        run(spec, job.context())
    counted = sum(row[2] for row in job.checkpoint.data["segments"])
    assert counted > 0
    _renumbered(part_of(dest))
    down[0] = False
    assert_done(run(spec, job.context()), dest, data)
    # resumed from its bytes: only the rest was asked for
    assert all(rng is not None for _p, rng, _i, _a in server.seen[1:])
    assert job.metered <= len(data) - counted


def test_a_cancel_removes_its_own_part_file_under_new_numbers(
    served: Callable[..., Server], job: Job
) -> None:
    data = random.Random(12).randbytes(3 * MB)
    server = served(ranged(lambda: data, lambda: [("ETag", '"v1"')], cut_after=MB))
    dest = job.tmp / "gone.mp4"
    with pytest.raises(RetryableError):
        run(DownloadSpec(f"{server.url}/gone.mp4", dest, segments=1), job.context())
    _renumbered(part_of(dest))
    discard_part(dest, job.checkpoint.data)
    assert not os.path.lexists(part_of(dest))


def test_another_file_put_in_place_of_its_part_file_is_still_refused(
    served: Callable[..., Server], job: Job
) -> None:
    # the part file replaced by another of the same size (another program's, the same name):
    # new numbers, and other bytes where the checkpoint counts this download's
    data = random.Random(13).randbytes(3 * MB)
    server = served(ranged(lambda: data, lambda: [("ETag", '"v1"')], cut_after=MB))
    dest = job.tmp / "theirs.mp4"
    spec = DownloadSpec(f"{server.url}/theirs.mp4", dest, segments=1)
    with pytest.raises(RetryableError):
        run(spec, job.context())
    part = part_of(dest)
    theirs = bytearray(part.read_bytes())
    theirs[-1] ^= 0xFF  # the last byte counted differs: the tail of the probe
    replacement = part.with_name("replacement")
    replacement.write_bytes(bytes(theirs))
    os.replace(replacement, part)
    asked = len(server.seen)
    with pytest.raises(PermanentError, match="this download did not make it"):
        run(spec, job.context())
    assert len(server.seen) == asked  # refused before a byte was asked for
    discard_part(dest, job.checkpoint.data)  # a cancel leaves it alone too
    assert part.read_bytes() == bytes(theirs)


def test_an_empty_part_file_left_by_a_crash_is_taken_over(
    served: Callable[..., Server], job: Job
) -> None:
    # the run that made it died before its first checkpoint: nothing to lose, nothing refused
    data = random.Random(4).randbytes(MB)
    server = served(ranged(lambda: data, lambda: [("ETag", '"v1"')]))
    dest = job.tmp / "c.mxf"
    part_of(dest).write_bytes(b"")
    assert_done(run(DownloadSpec(f"{server.url}/c.mxf", dest), job.context()), dest, data)


@pytest.mark.skipif(sys.platform == "win32", reason="the part file's lock is POSIX's flock")
def test_an_empty_part_file_another_download_is_writing_is_left_to_it(
    served: Callable[..., Server], job: Job
) -> None:
    # two downloads from two data folders to one name at once: the first made the part file
    # and had written nothing yet; the second took the empty file for its own, and both wrote
    # into it: a file of both at its name, said checked (5 races in 10 without a sha256)
    import fcntl

    data = random.Random(5).randbytes(MB)
    server = served(ranged(lambda: data, lambda: [("ETag", '"v1"')]))
    dest = job.tmp / "race.mxf"
    other = os.open(part_of(dest), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the other download, running
        with pytest.raises(RetryableError, match="Another download is writing"):
            run(DownloadSpec(f"{server.url}/race.mxf", dest), job.context())
        assert server.seen == [] and part_of(dest).stat().st_size == 0
    finally:
        os.close(other)  # it ended (here: died before its first byte)
    assert_done(run(DownloadSpec(f"{server.url}/race.mxf", dest), job.context()), dest, data)


def test_a_part_file_made_by_another_download_just_after_a_look_is_left_to_it(
    served: Callable[..., Server], job: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    # both looked, found no part file, and made it with O_EXCL: the second's "File exists"
    # was said as "The file cannot be saved there; choose another folder or name"
    from alu_client.core.transfers.download import job as job_module

    data = random.Random(6).randbytes(MB)
    server = served(ranged(lambda: data, lambda: [("ETag", '"v1"')]))
    dest = job.tmp / "raced.mxf"
    part_of(dest).write_bytes(b"the other download's first bytes")
    real = os.path.lexists
    monkeypatch.setattr(
        job_module.os.path, "lexists", lambda p: False if str(p).endswith(".part") else real(p)
    )
    with pytest.raises(RetryableError, match="Another download is writing"):
        run(DownloadSpec(f"{server.url}/raced.mxf", dest), job.context())
    assert part_of(dest).read_bytes() == b"the other download's first bytes"


# --- validators and replicas -------------------------------------------------------------------


def test_a_resume_on_last_modified_alone_never_splices_a_newer_file(
    served: Callable[..., Server], job: Job
) -> None:
    # no ETag; the file is replaced (same size, new Last-Modified) while the download waits,
    # and the store ignores If-Range: its 206 is a range of the new file
    old, new = random.Random(5).randbytes(3 * MB), random.Random(6).randbytes(3 * MB)
    current = {"data": old, "lm": LM}
    server = served(
        ranged(
            lambda: current["data"],
            lambda: [("Last-Modified", current["lm"])],
            if_range=False,
            cut_after=MB,
        )
    )
    dest = job.tmp / "lm.mxf"
    spec = DownloadSpec(f"{server.url}/lm.mxf", dest, segments=1)
    with pytest.raises(RetryableError):
        run(spec, job.context())
    current.update(data=new, lm="Tue, 02 Jan 2024 00:00:00 GMT")
    result = run(spec, job.context())
    assert_done(result, dest, new)  # the new file whole: no old bytes at its start
    assert result.restarted
    assert server.seen[1][2] == LM  # the resume did ask If-Range with the old date


def test_replicas_with_their_own_etags_end_in_one_stream_not_in_a_loop(
    served: Callable[..., Server], job: Job
) -> None:
    # each segment is a connection of its own; a balancer sends them to replicas that tag
    # the same bytes differently, so If-Range fails on all but one: segments started over for
    # ever ("The file kept changing…"); one stream takes the whole answer
    data = random.Random(7).randbytes(8 * MB)
    turn = iter(range(10_000))
    server = served(ranged(lambda: data, lambda: [("ETag", f'"replica-{next(turn) % 2}"')]))
    dest = job.tmp / "lb.mxf"
    result = run(DownloadSpec(f"{server.url}/lb.mxf", dest, sha256=sha(data)), job.context())
    assert_done(result, dest, data)
    assert set(job.checkpoint.data) <= {PLACED}  # what identifies the file it put in place
    assert len(server.seen) < 12


def test_replicas_that_ignore_if_range_end_in_one_stream_not_in_a_loop(
    served: Callable[..., Server], job: Job
) -> None:
    # the same replicas, ignoring If-Range (a 206 whatever it says, as S3-compatible stores
    # do): another tag on a 206 started the segments over until "The file kept changing…",
    # and the queue tried again within a second, for ever (hundreds of requests a minute)
    data = random.Random(9).randbytes(8 * MB)
    turn = iter(range(10_000))
    server = served(
        ranged(lambda: data, lambda: [("ETag", f'"replica-{next(turn) % 2}"')], if_range=False)
    )
    dest = job.tmp / "lb2.mxf"
    result = run(DownloadSpec(f"{server.url}/lb.mxf", dest, sha256=sha(data)), job.context())
    assert_done(result, dest, data)
    assert len(server.seen) < 12
    assert server.seen[-1][1] is None  # the last request: the whole file, one stream


def test_a_file_that_keeps_changing_is_no_progress_for_the_queue(
    served: Callable[..., Server], job: Job
) -> None:
    # a file still being written on the server: every answer says a larger size, so every
    # attempt starts over; the bytes it fetched are thrown away, and the queue must not take
    # them for progress (its back-off would start over at ~1 s at every run, for ever)
    base = random.Random(10).randbytes(8 * MB)
    grow = iter(range(10_000))
    server = served(
        ranged(lambda: base[: 6 * MB + 1000 * next(grow)], lambda: [("ETag", '"live"')])
    )
    dest = job.tmp / "live.mxf"
    with pytest.raises(RetryableError, match="kept changing") as e:
        run(DownloadSpec(f"{server.url}/live.mxf", dest), job.context())
    assert e.value.wasted
    assert len(server.seen) < 40  # a few start overs in a run, not a loop


def test_a_server_that_answers_only_the_first_range_ends_in_one_stream(
    served: Callable[..., Server], job: Job
) -> None:
    data = random.Random(8).randbytes(8 * MB)
    whole = ranged(lambda: data, lambda: [("ETag", '"v1"')])

    def answer(h: BaseHTTPRequestHandler) -> Answer:
        if not (h.headers.get("Range") or "").startswith("bytes=0-"):
            del h.headers["Range"]  # mid-file ranges: the whole file, 200
        return whole(h)

    server = served(answer)
    dest = job.tmp / "first.mxf"
    assert_done(run(DownloadSpec(f"{server.url}/f.mxf", dest), job.context()), dest, data)
    assert server.seen[-1][1] is None  # the last request: the whole file, one stream


# --- a server that takes one connection at a time ------------------------------------------------


def one_at_a_time(server: Server, *, cut_first: int | None = None) -> list[int]:
    """Make ``server`` serve one request at a time (a per-client connection limit) and tell
    any other "503, Retry-After: 5"; ``cut_first``: the first answer stops after that many
    bytes, once the others were refused. Returns the statuses sent, in order."""
    lock = threading.Lock()
    busy = [False]
    cuts = [cut_first] if cut_first is not None else []
    statuses: list[int] = []

    class OneAtATime(_Handler):
        def do_GET(self) -> None:
            with lock:
                refused, busy[0] = busy[0], True
            if refused:
                statuses.append(503)
                self.close_connection = True
                self.send_response(503)
                self.send_header("Retry-After", "5")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            try:
                time.sleep(0.2)  # latency: the other streams ask meanwhile
                status, headers, body = self.server.answer(self)
                statuses.append(status)
                if cuts:
                    self.close_connection = True
                    self.send_response(status)
                    for k, v in headers:
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[: cuts.pop()])
                    self.wfile.flush()
                    time.sleep(0.3)  # the others are refused before this one is cut
                    return
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            finally:
                with lock:
                    busy[0] = False

    server.RequestHandlerClass = OneAtATime
    return statuses


def test_pieces_refused_to_extra_streams_are_fetched_by_the_one_served(
    served: Callable[..., Server], job: Job
) -> None:
    # the refused streams left their pieces "failed" for the next run: the attempt ended in
    # the 503, waited its Retry-After, and the next one opened 4 streams again (80 s for
    # 48 MiB that one stream fetches in under a second)
    data = random.Random(11).randbytes(8 * MB)
    server = served(ranged(lambda: data, lambda: [("ETag", '"v1"')]))
    statuses = one_at_a_time(server)
    dest = job.tmp / "one.mxf"
    result = run(DownloadSpec(f"{server.url}/one.mxf", dest, sha256=sha(data)), job.context())
    assert_done(result, dest, data)
    assert 503 in statuses  # the extra streams were refused, and it did not matter


def test_a_server_that_refused_extra_streams_gets_fewer_from_then_on(
    served: Callable[..., Server], job: Job
) -> None:
    # the one stream served is cut as well: the run ends, remembering that the server takes
    # one stream; the next run asks on one stream only, and is not refused
    data = random.Random(12).randbytes(8 * MB)
    server = served(ranged(lambda: data, lambda: [("ETag", '"v1"')]))
    statuses = one_at_a_time(server, cut_first=MB // 2)  # of a 1 MiB probe
    dest = job.tmp / "few.mxf"
    spec = DownloadSpec(f"{server.url}/few.mxf", dest, sha256=sha(data))
    with pytest.raises(RetryableError):
        run(spec, job.context())
    assert job.checkpoint.data.get("streams") == 1
    assert statuses.count(503) == 3
    first_run = len(statuses)
    assert_done(run(spec, job.context()), dest, data)
    assert 503 not in statuses[first_run:]


# --- the destination's path --------------------------------------------------------------------


@pytest.mark.parametrize("where", ["a folder in the path is a file", "a name too long"])
def test_a_path_that_cannot_be_fails_at_once(
    served: Callable[..., Server], job: Job, where: str
) -> None:
    # these were retried for ever ("trying again") by the queue
    data = b"x" * 1000
    server = served(ranged(lambda: data, lambda: [("ETag", '"v1"')]))
    if where == "a name too long":
        dest = job.tmp / ("a" * 252 + ".mxf")
    else:
        (job.tmp / "notadir").write_bytes(b"")
        dest = job.tmp / "notadir" / "out.mxf"
    with pytest.raises(PermanentError, match="cannot be saved there"):
        run(DownloadSpec(f"{server.url}/x.mxf", dest), job.context())


# --- redirects ---------------------------------------------------------------------------------


def test_a_sign_in_asked_where_the_credentials_are_not_sent_fails_plainly(
    served: Callable[..., Server], job: Job
) -> None:
    # the credentials stay with their origin; a 401 there was taken for an expired signed
    # link and retried for ever
    def wants_token(h: BaseHTTPRequestHandler) -> Answer:
        if h.headers.get("Authorization") != "Bearer s3cret":
            return 401, [("WWW-Authenticate", 'Bearer realm="dl"')], b""
        return 200, [], b"x" * 1000

    other = served(wants_token)
    origin = served(lambda h: (301, [("Location", f"{other.url}/f.mxf")], b""))
    job.headers = {"Authorization": "Bearer s3cret"}
    with pytest.raises(PermanentError, match="asks for a sign-in"):
        run(DownloadSpec(f"{origin.url}/f.mxf", job.tmp / "f.mxf"), job.context())
    assert [auth for *_x, auth in other.seen] == [None]  # the token never went there


def test_a_redirect_written_with_a_backslash_takes_no_credentials_elsewhere(
    served: Callable[..., Server], job: Job
) -> None:
    # urllib.parse reads http://127.0.0.1:B\@127.0.0.1:A/f as port A (the origin: the
    # credentials kept), requests ends the host at the backslash and connects to port B
    stranger = served(lambda h: (200, [], b"x" * 1000))
    start = [""]
    origin = served(lambda h: (302, [("Location", start[0])], b""))
    start[0] = f"{stranger.url}\\@127.0.0.1:{origin.server_address[1]}/f.mxf"
    job.headers = {"Authorization": "Bearer s3cret"}
    with pytest.raises(PermanentError) as e:
        run(DownloadSpec(f"{origin.url}/f.mxf", job.tmp / "f.mxf"), job.context())
    assert e.value.message == download_protocol.MSG_BAD_REDIRECT
    assert stranger.seen == []  # not even without the token
    assert [auth for *_x, auth in origin.seen] == ["Bearer s3cret"]


@pytest.mark.parametrize(
    "location",
    ["http://127.0.0.1:99999/x", "http://127.0.0.1:abc/x", "http://[::1/x", "http://[::1]x/"],
)
def test_a_redirect_to_an_address_that_is_none_fails_plainly(
    location: str, served: Callable[..., Server], job: Job
) -> None:
    # a port that is no port, a broken IPv6 literal: "Something went wrong in ALU Desk
    # (ValueError)", the words for a bug of the app, retried
    origin = served(lambda h: (302, [("Location", location)], b""))
    job.headers = {"Authorization": "Bearer s3cret"}  # (requests' own check read the port)
    with pytest.raises(PermanentError) as e:
        run(DownloadSpec(f"{origin.url}/f.mxf", job.tmp / "f.mxf"), job.context())
    assert e.value.message == download_protocol.MSG_BAD_REDIRECT
    assert not (job.tmp / "f.mxf").exists()


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:99999/f.mxf", "http://[::1/f.mxf", "http://127.0.0.1:1\\@127.0.0.1:2/f"],
)
def test_a_download_address_that_is_none_fails_plainly(url: str, job: Job) -> None:
    with pytest.raises(PermanentError) as e:
        run(DownloadSpec(url, job.tmp / "f.mxf"), job.context())
    assert e.value.message == download_protocol.MSG_BAD_ADDRESS


# --- ranges answered otherwise than asked ------------------------------------------------------


def test_a_range_answered_from_earlier_than_asked_is_used(
    served: Callable[..., Server], job: Job
) -> None:
    # a store that aligns ranges to 1 MiB blocks: Content-Range says what the body holds
    # (RFC 9110 §14.4); "the wrong part of the file" was retried for ever
    data = random.Random(9).randbytes(3 * MB)
    plain = ranged(lambda: data, lambda: [("ETag", '"v1"')], cut_after=MB + 777)

    def aligned(h: BaseHTTPRequestHandler) -> Answer:
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", h.headers.get("Range") or "")
        if m:
            h.headers.replace_header("Range", f"bytes={int(m.group(1)) // MB * MB}-")
        return plain(h)

    server = served(aligned)
    dest = job.tmp / "al.mxf"
    spec = DownloadSpec(f"{server.url}/al.mxf", dest, segments=1)
    with pytest.raises(RetryableError):
        run(spec, job.context())
    result = run(spec, job.context())
    assert_done(result, dest, data)
    assert not result.restarted and server.seen[-1][1] == f"bytes={MB + 777}-"


def test_bytes_read_and_thrown_away_are_held_back_by_the_limit_too(
    served: Callable[..., Server], job: Job
) -> None:
    # every range answered from byte 0 (legal, see above): a resumed stream reads the start
    # again and drops it; only written bytes went through the meter, so `--limit 8MB` let
    # ~22 MB/s through. The dropped ones go to ctx.throttle (the same limits, no progress)
    data = random.Random(13).randbytes(8 * MB)
    plain = ranged(lambda: data, lambda: [("ETag", '"v1"')], cut_after=3 * MB)

    def from_zero(h: BaseHTTPRequestHandler) -> Answer:
        if h.headers.get("Range"):
            h.headers.replace_header("Range", "bytes=0-")
        return plain(h)

    server = served(from_zero)
    dest = job.tmp / "z.mxf"
    spec = DownloadSpec(f"{server.url}/z.mxf", dest, sha256=sha(data), segments=1)
    with pytest.raises(RetryableError):
        run(spec, job.context())  # cut after 3 MB
    ctx = job.context()
    thrown: list[int] = []
    ctx.throttle = thrown.append
    result = run(spec, ctx)
    assert_done(result, dest, data)
    assert server.seen[-1][1].startswith("bytes=") and not result.restarted
    assert result.bytes_fetched == len(data)  # from byte 0 again, as the server does
    # the start read again, up to where the first run had saved (at most its 3 MB): throttled,
    # not counted as progress; the rest written and metered
    assert 2 * MB <= sum(thrown) <= 3 * MB
    assert job.metered == len(data) - sum(thrown)


def test_a_server_answering_every_range_from_byte_0_is_read_on_one_stream(
    served: Callable[..., Server], job: Job
) -> None:
    # each of four streams read the file from byte 0 up to the end of its piece and dropped
    # the start: 2.5x the file (4x under a limit, the streams splitting ever more)
    data = random.Random(14).randbytes(8 * MB)
    plain = ranged(lambda: data, lambda: [("ETag", '"v1"')])

    def from_zero(h: BaseHTTPRequestHandler) -> Answer:
        if h.headers.get("Range"):
            h.headers.replace_header("Range", "bytes=0-")
        return plain(h)

    server = served(from_zero)
    dest = job.tmp / "z.mxf"
    ctx = job.context()
    notes: list[str] = []
    ctx.note = notes.append
    result = run(DownloadSpec(f"{server.url}/z.mxf", dest, sha256=sha(data), segments=4), ctx)
    assert_done(result, dest, data)
    assert result.bytes_fetched < 1.5 * len(data)
    assert server.seen[-1][1] is None  # the file asked for whole, once
    assert notes == []  # nothing saved had been thrown away: nothing to say


def test_a_multipart_answer_to_one_range_ends_in_the_whole_file(
    served: Callable[..., Server], job: Job
) -> None:
    data = random.Random(10).randbytes(3 * MB)
    plain = ranged(lambda: data, lambda: [("ETag", '"v1"')])

    def multipart(h: BaseHTTPRequestHandler) -> Answer:
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", h.headers.get("Range") or "")
        if not m:
            return plain(h)
        start = int(m.group(1))
        end = min(int(m.group(2)) if m.group(2) else len(data) - 1, len(data) - 1)
        body = (
            b"--B\r\nContent-Type: application/octet-stream\r\n"
            + f"Content-Range: bytes {start}-{end}/{len(data)}\r\n\r\n".encode()
            + data[start : end + 1]
            + b"\r\n--B--\r\n"
        )
        return 206, [("Content-Type", "multipart/byteranges; boundary=B"), ("ETag", '"v1"')], body

    server = served(multipart)
    dest = job.tmp / "mp.mxf"
    assert_done(run(DownloadSpec(f"{server.url}/mp.mxf", dest), job.context()), dest, data)
    assert server.seen[-1][1] is None


def test_content_encoding_none_is_no_coding(served: Callable[..., Server], job: Job) -> None:
    # not a coding at all, but what many download scripts send; it failed for good
    data = random.Random(11).randbytes(MB)
    plain = ranged(lambda: data, lambda: [("ETag", '"v1"')])

    def none(h: BaseHTTPRequestHandler) -> Answer:
        status, headers, body = plain(h)
        return status, [*headers, ("Content-Encoding", "none")], body

    server = served(none)
    dest = job.tmp / "ce.mxf"
    assert_done(run(DownloadSpec(f"{server.url}/ce.mxf", dest), job.context()), dest, data)


def test_interim_answers_before_the_answer_are_skipped(
    served: Callable[..., Server], job: Job
) -> None:
    """103 Early Hints (CDNs send them), 102 Processing: informational answers before the
    final one (RFC 9110 §15.2). They failed as "unexpected answer (HTTP 103)", and the real
    answer was left on the connection."""
    data = random.Random(12).randbytes(3 * MB)  # segmented: several requests per connection
    plain = ranged(lambda: data, lambda: [("ETag", '"v1"')])

    def hints(h: BaseHTTPRequestHandler) -> Answer:
        h.wfile.write(b"HTTP/1.1 102 Processing\r\n\r\n")
        h.wfile.write(
            b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n"
            b"Link: </b.js>; rel=preload\r\n\r\n"
        )
        return plain(h)

    server = served(hints)
    dest = job.tmp / "hints.mxf"
    spec = DownloadSpec(f"{server.url}/hints.mxf", dest, sha256=sha(data))
    assert_done(run(spec, job.context()), dest, data)
    assert len(server.seen) >= 2


def test_a_kept_alive_connection_the_server_closed_as_idle_is_no_failure(
    served: Callable[..., Server], job: Job
) -> None:
    """The server's idle timer closes a kept-alive connection as the next request comes on it:
    the GET goes again at once on a new connection (RFC 9112 §9.3.1). It failed the run ("The
    server could not be reached") and waited out the queue's back-off."""
    data = random.Random(13).randbytes(MB)
    plain = ranged(lambda: data, lambda: [("ETag", '"v1"')])
    closed: list[str] = []

    def idle_timer(h: BaseHTTPRequestHandler) -> Answer:
        last = getattr(h, "answered_at", None)
        if last is not None and time.monotonic() - last > 0.5:
            closed.append(h.path)
            h.close_connection = True
            raise ConnectionAbortedError  # closed, unanswered
        answer = plain(h)
        h.answered_at = time.monotonic()  # type: ignore[attr-defined]
        return answer

    server = served(idle_timer)
    first, second = job.tmp / "a.mxf", job.tmp / "b.mxf"
    assert_done(run(DownloadSpec(f"{server.url}/a", first, segments=1), job.context()), first, data)
    time.sleep(0.8)  # the connection idles past the server's timer
    spec = DownloadSpec(f"{server.url}/b", second, segments=1)
    assert_done(run(spec, job.context()), second, data)  # the same session pool: the queue's
    assert closed == ["/b"]


@pytest.mark.parametrize("kind", ["many", "long"])
def test_a_header_section_larger_than_can_be_read_is_said_so_once(
    served: Callable[..., Server], job: Job, kind: str
) -> None:
    """More than 100 header fields, or one over 256 KiB (RFC 9110 sets no limit; Python's
    http.client refuses them): it was "could not be reached", retried for ever."""
    data = random.Random(14).randbytes(1000)
    plain = ranged(lambda: data, lambda: [("ETag", '"v1"')])
    extra = (
        [(f"X-Trace-{i}", "x") for i in range(120)]
        if kind == "many"
        else [("X-Big", "y" * 270_000)]
    )

    def big(h: BaseHTTPRequestHandler) -> Answer:
        status, headers, body = plain(h)
        return status, [*headers, *extra], body

    server = served(big)
    dest = job.tmp / "h.mxf"
    with pytest.raises(PermanentError) as e:
        run(DownloadSpec(f"{server.url}/h.mxf", dest), job.context())
    assert e.value.message == HEADERS_TOO_LARGE_MESSAGE
    assert not dest.exists()


def test_a_header_line_of_a_tus_heads_size_is_read(served: Callable[..., Server], job: Job) -> None:
    """A tus HEAD gives an upload's Upload-Metadata back: with an item's longest texts, a line
    of ~160 KB, which http.client (64 KiB) refused — the upload could never be resumed."""
    data = random.Random(15).randbytes(1000)
    plain = ranged(lambda: data, lambda: [("ETag", '"v1"')])

    def long_line(h: BaseHTTPRequestHandler) -> Answer:
        status, headers, body = plain(h)
        return status, [*headers, ("Upload-Metadata", "script " + "QQ" * 80_000)], body

    server = served(long_line)
    dest = job.tmp / "l.mxf"
    run(DownloadSpec(f"{server.url}/l.mxf", dest), job.context())
    assert dest.read_bytes() == data


@pytest.mark.parametrize(
    ("source", "target", "kept"),
    [
        ("http://agence.example/f.mxf", "http://agence.example/g.mxf", True),
        ("http://agence.example/f.mxf", "https://agence.example/f.mxf", True),  # upgraded
        ("http://agence.example:80/f", "https://AGENCE.example:443/f", True),
        ("https://agence.example/f.mxf", "http://agence.example/f.mxf", False),  # downgraded
        ("http://agence.example:8080/f", "https://agence.example/f", False),
        ("http://agence.example/f.mxf", "https://cdn.example/f.mxf", False),
        ("http://agence.example/f.mxf", "http://agence.example.evil/f.mxf", False),
    ],
)
def test_which_redirects_keep_the_credentials(source: str, target: str, kept: bool) -> None:
    assert _keeps_credentials(source, target) is kept


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:8080\\@agence.example/f.mxf",  # requests connects to 127.0.0.1:8080
        "http://evil.example\\@agence.example/f.mxf",
        "http://agence.example:99999/f.mxf",
        "http://[::1/f.mxf",
    ],
)
def test_a_redirect_whose_server_is_not_certain_keeps_nothing(target: str) -> None:
    with pytest.raises(client_http.BadAddress):
        _keeps_credentials("http://agence.example/f.mxf", target)


def _cut_every(
    data: bytes, every: int, tag: Callable[[], str], *, multipart: bool = False
) -> tuple[Callable[[BaseHTTPRequestHandler], Answer], list[int]]:
    """A file behind a link that cuts every answer after ``every`` bytes of body; ``tag``
    gives each answer its ETag (a CDN's nodes); one Last-Modified. Returns the answer and
    the bytes sent (a list of one total)."""
    sent = [0]

    def answer(h: BaseHTTPRequestHandler) -> Answer:
        etag = tag()
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", h.headers.get("Range") or "")
        if m and h.headers.get("If-Range") not in (None, etag, LM):
            m = None
        headers = [("ETag", etag), ("Last-Modified", LM), ("Accept-Ranges", "bytes")]
        if m is None:
            status, body = 200, data
        else:
            start = int(m.group(1))
            end = min(int(m.group(2)) if m.group(2) else len(data) - 1, len(data) - 1)
            status, body = 206, data[start : end + 1]
            span = f"bytes {start}-{end}/{len(data)}"
            if multipart:
                body = (
                    b"--B\r\nContent-Type: application/octet-stream\r\n"
                    + f"Content-Range: {span}\r\n\r\n".encode()
                    + body
                    + b"\r\n--B--\r\n"
                )
                headers.append(("Content-Type", "multipart/byteranges; boundary=B"))
            else:
                headers.append(("Content-Range", span))
        sent[0] += min(every, len(body))
        if len(body) <= every:
            return status, headers, body
        h.close_connection = True  # the answer says its full length, then stops short
        h.send_response(status)
        for k, x in headers:
            h.send_header(k, x)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body[:every])
        h.wfile.flush()
        raise ConnectionAbortedError  # handle_error: quiet

    return answer, sent


def _runs_until_done(job: Job, spec: DownloadSpec, most: int) -> tuple[int, list[int]]:
    """Run the download again after each failure, as the queue does; how many runs it took,
    and at which runs its bytes were thrown away (``ctx.lost``)."""
    lost: list[int] = []
    for n in range(1, most + 1):
        ctx = dataclasses.replace(job.context(), lost=lambda n=n: lost.append(n))  # type: ignore[misc]
        try:
            run(spec, ctx)
            return n, lost
        except RetryableError:
            continue
    raise AssertionError(f"not done in {most} runs; thrown away at runs {lost}")


def test_a_cdn_whose_nodes_tag_the_file_their_own_way_resumes_on_last_modified(
    served: Callable[..., Server], job: Job
) -> None:
    # each connection reaches another node with its own ETag, one Last-Modified: every resume
    # after a cut got the whole file from another node, "The file changed on the server", and
    # it started over for ever (17x the file in two minutes, never done)
    data = random.Random(21).randbytes(8 * MB)
    turn = iter(range(10_000))
    answer, sent = _cut_every(data, 1 * MB, lambda: f'"node-{next(turn) % 3}"')
    server = served(answer)
    dest = job.tmp / "cdn.mxf"
    spec = DownloadSpec(f"{server.url}/cdn.mxf", dest, sha256=sha(data))  # (see below)
    runs, _lost = _runs_until_done(job, spec, 20)
    assert dest.read_bytes() == data
    # a tag not seen before may be a new file: it starts over until a tag comes back
    assert sum("changed" in note for note in job.notes) <= 3, job.notes
    assert sent[0] < 4 * len(data), (sent[0], runs)
    assert LM in {if_range for _p, _r, if_range, _a in server.seen[-3:]}


def test_a_multipart_server_on_a_link_that_cuts_backs_off_on_one_stream(
    served: Callable[..., Server], job: Job
) -> None:
    # a multipart answer to each range, cut every few MB: each resume asked for segments
    # again, started over from byte 0 and was cut, about once a second for ever (9x the file
    # in a minute). Now: one stream for good, and every run that only gets back to where the
    # last one stood is no progress for the queue (its back-off grows)
    data = random.Random(22).randbytes(8 * MB)
    answer, _sent = _cut_every(data, 3 * MB, lambda: '"v1"', multipart=True)
    server = served(answer)
    spec = DownloadSpec(f"{server.url}/mp.mxf", job.tmp / "mp.mxf")
    lost: list[int] = []
    for n in range(1, 4):
        ctx = dataclasses.replace(job.context(), lost=lambda n=n: lost.append(n))  # type: ignore[misc]
        with pytest.raises(RetryableError):
            run(spec, ctx)
        assert job.checkpoint.data.get("one_stream") is True, n
    assert lost and lost[-1] == 3  # the third run threw the bytes away too: no progress
    ranges = [r for _p, r, _i, _a in server.seen]
    assert sum(1 for r in ranges if r is not None and not r.startswith("bytes=0-")) <= 3, ranges


def test_a_range_never_answered_does_not_hold_a_download_whose_bytes_are_all_in(
    served: Callable[..., Server], tmp_path: Path
) -> None:
    # a request that got no answer's headers (its range doubled by the other streams, which
    # finished it) held the finished download until the stall timeout: 30 s for a file
    # whose every byte was in after 2 s
    data = random.Random(23).randbytes(8 * MB)
    plain = ranged(lambda: data, lambda: [("ETag", '"v1"')])
    release = threading.Event()
    hung: list[str] = []

    def answer(h: BaseHTTPRequestHandler) -> Answer:
        rng = h.headers.get("Range") or ""
        if not hung and rng.startswith("bytes=") and not rng.startswith("bytes=0-"):
            hung.append(rng)
            release.wait(60)  # no answer at all
        return plain(h)

    server = served(answer)
    job = Job(tmp=tmp_path, tuning=Tuning(stall_timeout=30, segment_threshold=2 * MB))
    dest = tmp_path / "hung.mxf"
    started = time.monotonic()
    try:
        result = run(DownloadSpec(f"{server.url}/hung.mxf", dest, sha256=sha(data)), job.context())
        took = time.monotonic() - started
    finally:
        release.set()
        job.sessions.close()
    assert_done(result, dest, data)
    assert hung  # one range was never answered
    assert took < 15, took  # not the 30 s stall timeout


@pytest.mark.parametrize("who", ["the store", "a proxy"])
def test_a_signed_link_that_expires_part_way_says_so_and_a_new_one_resumes(
    served: Callable[..., Server], job: Job, who: str
) -> None:
    # an S3 link refused (403) once it expired, after the run's first ranges came: "Sign in
    # again, or ask the agency whether your newsroom may download this item"
    data = random.Random(24).randbytes(8 * MB)
    plain = ranged(lambda: data, lambda: [("ETag", '"v1"'), ("Last-Modified", LM)])
    served_with = {"sig=old": 2}

    def answer(h: BaseHTTPRequestHandler) -> Answer:
        query = h.path.partition("?")[2]
        if query in served_with:
            if served_with[query] == 0:
                if who == "a proxy":  # its own refusal, which says so itself
                    return 403, [("X-Squid-Error", "ERR_ACCESS_DENIED 0")], b"denied"
                return 403, [("Content-Type", "application/xml")], b"<Error>AccessDenied</Error>"
            served_with[query] -= 1
        return plain(h)

    server = served(answer)
    dest = job.tmp / "signed.mxf"
    said = "link stopped working part-way" if who == "the store" else "refused to pass"
    with pytest.raises(PermanentError, match=said):
        run(DownloadSpec(f"{server.url}/signed.mxf?sig=old", dest, sha256=sha(data)), job.context())
    assert job.done_bytes() > 0
    result = run(
        DownloadSpec(f"{server.url}/signed.mxf?sig=new", dest, sha256=sha(data)), job.context()
    )
    assert_done(result, dest, data)
    assert server.seen[-1][1] is not None  # resumed with a range, not fetched whole again


def test_a_signed_link_that_expires_after_a_cut_says_so_too(
    served: Callable[..., Server], job: Job
) -> None:
    # the link served a run that the connection cut; when the next run came, the link had
    # expired: "Sign in again, or ask the agency…" (it knew the link had served bytes only
    # within one run)
    data = random.Random(25).randbytes(8 * MB)
    cut, _sent = _cut_every(data, 3 * MB, lambda: '"v1"')
    expired = {"now": False}

    def answer(h: BaseHTTPRequestHandler) -> Answer:
        if "sig=old" in h.path and expired["now"]:
            return 403, [("Content-Type", "application/xml")], b"<Error>AccessDenied</Error>"
        return cut(h)

    server = served(answer)
    dest = job.tmp / "signed.mxf"
    old = DownloadSpec(f"{server.url}/signed.mxf?sig=old", dest, sha256=sha(data), segments=1)
    with pytest.raises(RetryableError):
        run(old, job.context())
    assert job.done_bytes() > 0
    expired["now"] = True
    with pytest.raises(PermanentError, match="link stopped working part-way"):
        run(old, job.context())
    assert "sig=old" not in json.dumps(job.checkpoint.data)  # (a digest of it only)
    # a link that never served this file is not "stopped working": the server's refusal
    other = DownloadSpec(f"{server.url}/signed.mxf?sig=old&v=2", dest, sha256=sha(data))
    with pytest.raises(PermanentError) as refused:
        run(other, job.context())
    assert "part-way" not in str(refused.value)


@pytest.mark.parametrize("known", [True, False], ids=["sha256 known", "no sha256"])
def test_nodes_half_way_through_a_new_version_are_never_spliced(
    served: Callable[..., Server], job: Job, known: bool
) -> None:
    # a file replaced by one of the same size and date, while the CDN's stale nodes still
    # serve the old one: its tags come back, as another node's do; resumed on the date alone,
    # the first half was of one version and the rest of the other
    v1, v2 = random.Random(25).randbytes(3 * MB // 2), random.Random(26).randbytes(3 * MB // 2)
    versions = {'"A"': v1, '"B"': v2}
    nodes = iter(['"A"', '"B"', '"A"', *(['"B"'] * 50)])  # updated, stale, updated…
    every = MB // 2

    def answer(h: BaseHTTPRequestHandler) -> Answer:
        tag = next(nodes)
        data = versions[tag]
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", h.headers.get("Range") or "")
        if m and h.headers.get("If-Range") not in (None, tag, LM):
            m = None
        headers = [("ETag", tag), ("Last-Modified", LM), ("Accept-Ranges", "bytes")]
        if m is None:
            status, body = 200, data
        else:
            start = int(m.group(1))
            status, body = 206, data[start:]
            headers.append(("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}"))
        if len(body) <= every or status == 206:
            return status, headers, body
        h.close_connection = True  # the answer says its full length, then stops short
        h.send_response(status)
        for k, x in headers:
            h.send_header(k, x)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body[:every])
        h.wfile.flush()
        raise ConnectionAbortedError  # handle_error: quiet

    server = served(answer)
    dest = job.tmp / "f.bin"
    spec = DownloadSpec(f"{server.url}/f.bin", dest, sha256=sha(v2) if known else None, segments=1)
    _runs_until_done(job, spec, 12)
    got = dest.read_bytes()
    assert got in (v1, v2) and (got == v2 or not known), "spliced from two versions"
