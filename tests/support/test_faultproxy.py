"""The fault-injecting proxy, checked with `requests` and raw sockets against a real HTTP server."""

from __future__ import annotations

import hashlib
import os
import queue
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.faultproxy import FaultProxy
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[2]
BODY = random.Random(20240611).randbytes(2 * 1024 * 1024)
GET_BLOB = b"GET /blob HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
BROKEN = (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.hits: list[str] = []  # paths of requests that reached the server
        self.uploads: list[int] = []  # body bytes received per POST

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # resets from the proxy are what these tests are about

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    timeout = 30
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.hits.append(self.path)
        self._reply(BODY if self.path == "/blob" else self.path.encode())

    def do_POST(self) -> None:
        expected = int(self.headers.get("Content-Length", "0"))
        digest = hashlib.sha256()
        got = 0
        try:
            while got < expected:
                chunk = self.rfile.read(min(65536, expected - got))
                if not chunk:
                    break
                got += len(chunk)
                digest.update(chunk)
        finally:
            with self.server.lock:
                self.server.hits.append(self.path)
                self.server.uploads.append(got)
        if got < expected:
            self.close_connection = True
            return
        self._reply(f"{got} {digest.hexdigest()}".encode())


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, name="test-http-server", daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(5)


@pytest.fixture
def proxy(server: _Server) -> Iterator[FaultProxy]:
    with server.lock:
        server.hits.clear()
        server.uploads.clear()
    fp = FaultProxy(("127.0.0.1", server.port)).start()
    yield fp
    fp.stop()
    assert _proxy_threads() == []
    assert [e for e in fp.events if e.startswith("error")] == []


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.trust_env = False  # no proxy from the environment between us and 127.0.0.1
        yield s


def _proxy_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("faultproxy")]


def raw_exchange(
    port: int, request: bytes = GET_BLOB, half_close: bool = False
) -> tuple[bytes, str]:
    """Send request on a fresh socket, read to the end; how it ended: "eof" or "reset"."""
    received = bytearray()
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    except ConnectionResetError:
        # The proxy accepted and reset so fast that the kernel reported it to connect() itself.
        return b"", "reset"
    with sock:
        # The proxy may reset the connection before the request is even sent: that is a reset too.
        try:
            sock.sendall(request)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
            while chunk := sock.recv(65536):
                received += chunk
        except (ConnectionResetError, BrokenPipeError):
            return bytes(received), "reset"
    return bytes(received), "eof"


def read_stream(response: requests.Response, into: bytearray) -> None:
    for chunk in response.iter_content(65536):
        into += chunk


def _fd_links() -> dict[str, str]:
    links = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            links[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
    return links


def _proxy_sockets(proxy_port: int, target_port: int) -> list[str]:
    """This process's TCP sockets that belong to the proxy (its side of either leg)."""
    inodes = {
        link[len("socket:[") : -1] for link in _fd_links().values() if link.startswith("socket:[")
    }
    found = []
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if fields[9] in inodes and (local_port == proxy_port or remote_port == target_port):
                found.append(line.strip())
    return found


# -- pass-through ------------------------------------------------------------------------


def test_pass_through_forwards_identical_bytes_and_counts_them(
    proxy: FaultProxy, session: requests.Session
) -> None:
    data, how = raw_exchange(proxy.port)
    assert how == "eof"
    assert data.startswith(b"HTTP/1.0 200") or data.startswith(b"HTTP/1.1 200")
    assert data.endswith(BODY)
    wait_until(lambda: proxy.bytes_down == len(data), 5, what="bytes_down to match")
    assert proxy.bytes_up == len(GET_BLOB)
    wait_until(lambda: proxy.server_closes == 1, 5, what="the server's close to be counted")

    # the client's FIN is passed on, the server answers and closes: still every byte
    half, how = raw_exchange(proxy.port, GET_BLOB, half_close=True)
    assert how == "eof"
    assert half == data
    wait_until(lambda: proxy.bytes_down == 2 * len(data), 5, what="bytes_down to match")
    assert proxy.bytes_up == 2 * len(GET_BLOB)

    r1 = session.get(f"{proxy.url}/blob", timeout=10)
    r2 = session.get(f"{proxy.url}/small", timeout=10)
    assert r1.status_code == 200
    assert r1.content == BODY
    assert r2.content == b"/small"
    assert proxy.bytes_down > 2 * len(data) + len(BODY)
    assert proxy.connections == 3  # the session kept its connection alive through the proxy
    assert proxy.server_closes == 2  # the two raw exchanges; the session's is still open
    assert proxy.events == []


# -- byte faults -------------------------------------------------------------------------


def test_reset_after_breaks_the_download_and_the_next_request_works(
    proxy: FaultProxy, session: requests.Session
) -> None:
    proxy.reset_after(100_000)
    response = session.get(f"{proxy.url}/blob", stream=True, timeout=10)
    assert response.status_code == 200
    got = bytearray()
    with pytest.raises(BROKEN):
        read_stream(response, got)
    assert len(got) < 100_000
    assert BODY.startswith(got)
    assert proxy.events == ["reset_after 100000 down conn 1"]

    again = session.get(f"{proxy.url}/blob", timeout=10)
    assert again.content == BODY
    assert proxy.connections == 2


def test_reset_after_up_cuts_an_upload(
    proxy: FaultProxy, session: requests.Session, server: _Server
) -> None:
    payload = os.urandom(500_000)
    proxy.reset_after(100_000, direction="up")
    with pytest.raises(requests.exceptions.ConnectionError):
        session.post(f"{proxy.url}/upload", data=payload, timeout=10)
    assert proxy.wait_for_event("reset_after") == "reset_after 100000 up conn 1"
    assert proxy.bytes_up == 100_000  # exactly: the fault fires after nbytes were forwarded
    wait_until(lambda: len(server.uploads) == 1, 5, what="the server to see the cut upload")
    assert server.uploads[0] < 100_000

    ok = session.post(f"{proxy.url}/upload", data=payload, timeout=10)
    assert ok.text == f"{len(payload)} {hashlib.sha256(payload).hexdigest()}"


def test_stall_after_makes_reads_time_out_until_stop(
    proxy: FaultProxy, session: requests.Session
) -> None:
    proxy.stall_after(100_000)
    response = session.get(f"{proxy.url}/blob", stream=True, timeout=(5, 1))
    assert proxy.wait_for_event("stall_after") == "stall_after 100000 down conn 1"
    got = bytearray()
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ConnectionError, match="timed out"):
        read_stream(response, got)
    assert time.monotonic() - started >= 0.9
    assert 0 < len(got) < 100_000
    assert proxy.live_connections == 1  # stalled, not closed

    proxy.stop()
    assert proxy.live_connections == 0
    assert _proxy_threads() == []


def test_release_stalls_resumes_forwarding(proxy: FaultProxy, server: _Server) -> None:
    results: queue.Queue[bytes | BaseException] = queue.Queue()

    def download() -> None:
        try:
            with requests.Session() as s:
                s.trust_env = False
                results.put(s.get(f"{proxy.url}/blob", timeout=10).content)
        except BaseException as exc:
            results.put(exc)

    proxy.stall_after(300_000)
    client = threading.Thread(target=download, name="test-download")
    client.start()
    proxy.wait_for_event("stall_after 300000 down conn 1")
    assert results.empty()  # the client cannot have its 2 MB: 300 kB went through
    assert proxy.bytes_down == 300_000

    proxy.release_stalls()
    assert results.get(timeout=10) == BODY
    client.join(5)
    assert "release_stall down conn 1" in proxy.events
    assert server.hits == ["/blob"]


def test_truncate_after_gives_a_short_body_with_the_full_content_length(
    proxy: FaultProxy, session: requests.Session
) -> None:
    proxy.truncate_after(100_000)
    response = session.get(f"{proxy.url}/blob", stream=True, timeout=10)
    assert response.headers["Content-Length"] == str(len(BODY))
    got = bytearray()
    # urllib3 2 enforces Content-Length: a clean close before it is an IncompleteRead.
    with pytest.raises(requests.exceptions.ChunkedEncodingError, match="IncompleteRead"):
        read_stream(response, got)
    assert 0 < len(got) < 100_000
    assert BODY.startswith(got)
    assert proxy.events == ["truncate_after 100000 down conn 1"]


def test_corrupt_after_inverts_one_byte_and_passes_the_rest(proxy: FaultProxy) -> None:
    payload = random.Random(7).randbytes(300_000)
    head = (
        f"POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: {len(payload)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    proxy.corrupt_after(len(head) + 100_000, direction="up")
    proxy.corrupt_after(200_000, direction="down")

    answer, how = raw_exchange(proxy.port, head + payload)
    damaged = bytearray(payload)
    damaged[100_000] ^= 0xFF
    assert how == "eof"
    assert answer.endswith(f"{len(payload)} {hashlib.sha256(damaged).hexdigest()}".encode())

    data, how = raw_exchange(proxy.port)
    start = len(data) - len(BODY)  # where the body begins after the response head
    damaged = bytearray(BODY)
    damaged[200_000 - start] ^= 0xFF
    assert how == "eof"
    assert data[start:] == damaged
    assert proxy.events == [
        f"corrupt_after {len(head) + 100_000} up conn 1",
        "corrupt_after 200000 down conn 2",
    ]
    # fired once each: the next exchange is intact
    again, _ = raw_exchange(proxy.port)
    assert again.endswith(BODY)


def test_byte_faults_fire_in_arming_order_and_by_times(proxy: FaultProxy) -> None:
    proxy.truncate_after(1000)
    proxy.reset_after(2000, times=2)
    first, second, third, fourth = (raw_exchange(proxy.port) for _ in range(4))

    assert first[1] == "eof"  # truncation: a clean FIN after exactly 1000 bytes
    assert len(first[0]) == 1000
    assert second[1] == "reset"
    assert third[1] == "reset"
    assert len(second[0]) <= 2000
    assert len(third[0]) <= 2000
    assert fourth[1] == "eof"
    assert fourth[0].endswith(BODY)
    assert proxy.events == [
        "truncate_after 1000 down conn 1",
        "reset_after 2000 down conn 2",
        "reset_after 2000 down conn 3",
    ]
    wait_until(
        lambda: proxy.bytes_down == 1000 + 2000 + 2000 + len(fourth[0]), 5, what="byte counts"
    )


def test_a_fault_not_reached_stays_armed(proxy: FaultProxy, session: requests.Session) -> None:
    proxy.reset_after(100_000)
    small, how = raw_exchange(proxy.port, GET_BLOB.replace(b"/blob", b"/small"))
    assert how == "eof"  # this connection claimed the fault but closed short of it
    assert small.endswith(b"\r\n\r\n/small")
    response = session.get(f"{proxy.url}/blob", stream=True, timeout=10)
    with pytest.raises(BROKEN):
        read_stream(response, bytearray())
    assert proxy.events == ["reset_after 100000 down conn 2"]


# -- injected answers --------------------------------------------------------------------


def test_inject_503_is_seen_once_then_the_real_answer(
    proxy: FaultProxy, session: requests.Session, server: _Server
) -> None:
    proxy.inject_http_response(503, {"Retry-After": "7"}, b"busy")
    first = session.get(f"{proxy.url}/small", timeout=10)
    assert first.status_code == 503
    assert first.headers["Retry-After"] == "7"
    assert first.headers["Connection"] == "close"
    assert first.content == b"busy"

    second = session.get(f"{proxy.url}/small", timeout=10)
    assert second.status_code == 200
    assert second.content == b"/small"
    assert server.hits == ["/small"]  # the injected request never reached the server
    assert proxy.events == ["inject 503 conn 1: GET /small HTTP/1.1"]

    proxy.inject_http_response(429, times=2)
    codes = [session.get(f"{proxy.url}/small", timeout=10).status_code for _ in range(3)]
    assert codes == [429, 429, 200]


def test_inject_match_checks_every_request_on_a_keep_alive_connection(
    proxy: FaultProxy, session: requests.Session, server: _Server
) -> None:
    proxy.inject_http_response(
        423, {"X-Why": "locked"}, match=lambda head: head.startswith(b"GET /other ")
    )
    # A body that looks like the matching request: only skipping it by Content-Length
    # keeps it from being taken for a request head.
    tricky = (b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n" * 10_000)[:300_000]
    upload = session.post(f"{proxy.url}/upload", data=tricky, timeout=10)
    assert upload.text == f"{len(tricky)} {hashlib.sha256(tricky).hexdigest()}"
    assert session.get(f"{proxy.url}/a", timeout=10).content == b"/a"

    locked = session.get(f"{proxy.url}/other", timeout=10)
    assert locked.status_code == 423
    assert locked.headers["X-Why"] == "locked"
    assert proxy.connections == 1  # all three requests shared one connection

    assert session.get(f"{proxy.url}/a", timeout=10).content == b"/a"
    assert session.get(f"{proxy.url}/other", timeout=10).status_code == 200  # used up
    assert proxy.connections == 2
    assert server.hits == ["/upload", "/a", "/a", "/other"]
    assert proxy.events == ["inject 423 conn 1: GET /other HTTP/1.1"]


def test_inject_answers_an_upload_without_forwarding_its_body(
    proxy: FaultProxy, session: requests.Session, server: _Server
) -> None:
    payload = os.urandom(1_000_000)
    proxy.inject_http_response(503, {"Retry-After": "1"}, match=lambda h: h.startswith(b"POST"))
    refused = session.post(f"{proxy.url}/upload", data=payload, timeout=10)
    assert refused.status_code == 503  # answered, not reset, although the body kept coming
    assert refused.headers["Retry-After"] == "1"
    assert server.uploads == []
    assert proxy.bytes_up == 0

    ok = session.post(f"{proxy.url}/upload", data=payload, timeout=10)
    assert ok.text == f"{len(payload)} {hashlib.sha256(payload).hexdigest()}"
    assert server.uploads == [len(payload)]


def test_injected_answer_is_a_complete_http_response(proxy: FaultProxy) -> None:
    proxy.inject_http_response(503, {"Retry-After": "7", "Connection": "keep-alive"}, b"busy")
    proxy.inject_http_response(599, body=b"odd")
    head = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nContent-Length: 4\r\n"
    head += b"Connection: close\r\n\r\n"
    assert raw_exchange(proxy.port, GET_BLOB.replace(b"GET", b"HEAD")) == (head, "eof")
    answer = b"HTTP/1.1 599 Unknown\r\nContent-Length: 3\r\nConnection: close\r\n\r\nodd"
    assert raw_exchange(proxy.port) == (answer, "eof")
    assert raw_exchange(proxy.port)[0].endswith(BODY)


def test_request_parser_finds_heads_across_reads_and_skips_bodies() -> None:
    from tests.support.faultproxy import _RequestParser

    parser = _RequestParser()
    # held: nothing comes out until the head is complete, then all of it at once
    assert parser.feed(b"\r\nPOST /u HTTP/1.1\r\nContent-Len", hold=True) == []
    head = b"\r\nPOST /u HTTP/1.1\r\nContent-Length: 5\r\n\r\n"
    assert parser.feed(b"gth: 5\r\n\r\nab", hold=True) == [(True, head, 0), (False, b"ab", 0)]
    second = b"GET / HTTP/1.1\r\n\r\n"
    assert parser.feed(b"cde" + second[:9], hold=False) == [
        (False, b"cde", 0),
        (False, second[:9], 0),
    ]
    # not held: already forwarded bytes are reported with the completed head
    assert parser.feed(second[9:], hold=False) == [(True, second, 9)]
    chunked = b"PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert parser.feed(chunked + second, hold=True) == [(True, chunked, 0), (False, second, 0)]

    other = _RequestParser()  # not HTTP: passes straight through
    assert other.feed(b"\x16\x03\x01\x02\x00", hold=True) == [(False, b"\x16\x03\x01\x02\x00", 0)]
    assert other.feed(second, hold=True) == [(False, second, 0)]


# -- throttle and delay ------------------------------------------------------------------


@pytest.mark.slow
def test_throttle_2mb_at_500kbps_takes_about_4_seconds(
    proxy: FaultProxy, session: requests.Session
) -> None:
    proxy.rate_bps = 500_000
    started = time.monotonic()
    response = session.get(f"{proxy.url}/blob", timeout=30)
    elapsed = time.monotonic() - started
    assert response.content == BODY
    assert 3.2 <= elapsed <= 5.5, elapsed


def test_throttle_applies_upstream_and_changes_live(
    proxy: FaultProxy, session: requests.Session
) -> None:
    payload = os.urandom(200_000)
    proxy.rate_bps = 200_000
    started = time.monotonic()
    upload = session.post(f"{proxy.url}/upload", data=payload, timeout=10)
    elapsed = time.monotonic() - started
    assert upload.text.startswith("200000 ")
    assert 0.75 <= elapsed <= 1.6, elapsed  # 200 kB at 200 kB/s, less the 20 kB burst

    proxy.rate_bps = 100_000
    response = session.get(f"{proxy.url}/blob", stream=True, timeout=10)
    got = bytearray()
    started = time.monotonic()
    chunks = response.iter_content(16384)
    while len(got) < 60_000:
        got += next(chunks)
    assert time.monotonic() - started >= 0.35  # throttled: 60 kB at 100 kB/s
    proxy.rate_bps = None  # the live connection speeds up at once
    started = time.monotonic()
    for chunk in chunks:
        got += chunk
    assert time.monotonic() - started < 1.5  # the rest, ~2 MB, would take 20 s throttled
    assert bytes(got) == BODY


def test_delay_adds_latency_each_way_without_blocking_other_connections(
    proxy: FaultProxy, server: _Server
) -> None:
    proxy.delay_s = 0.2
    barrier = threading.Barrier(4)
    durations: queue.Queue[float | BaseException] = queue.Queue()

    def fetch() -> None:
        try:
            with requests.Session() as s:
                s.trust_env = False
                barrier.wait(5)
                started = time.monotonic()
                assert s.get(f"{proxy.url}/small", timeout=10).content == b"/small"
                durations.put(time.monotonic() - started)
        except BaseException as exc:
            durations.put(exc)

    started = time.monotonic()
    workers = [threading.Thread(target=fetch, name=f"test-fetch-{i}") for i in range(4)]
    for worker in workers:
        worker.start()
    results = [durations.get(timeout=10) for _ in workers]
    total = time.monotonic() - started
    for worker in workers:
        worker.join(5)
    assert all(isinstance(d, float) and d >= 0.4 for d in results), results  # up + down
    assert total < 1.2, total  # one after the other would be 1.6 s or more
    assert server.hits == ["/small"] * 4


def test_delay_keeps_byte_order_when_changed_mid_stream(
    proxy: FaultProxy, session: requests.Session
) -> None:
    proxy.delay_s = 0.3
    response = session.get(f"{proxy.url}/blob", stream=True, timeout=10)
    chunks = response.iter_content(65536)
    got = bytearray(next(chunks))
    proxy.delay_s = 0.0  # newer pieces must not overtake the ones still queued at 0.3 s
    for chunk in chunks:
        got += chunk
    assert bytes(got) == BODY


# -- outages -----------------------------------------------------------------------------


def test_refuse_fails_requests_fast_and_refuse_false_restores(
    proxy: FaultProxy, session: requests.Session
) -> None:
    assert session.get(f"{proxy.url}/small", timeout=10).status_code == 200
    assert proxy.live_connections == 1

    proxy.refuse()
    assert proxy.live_connections == 0
    assert proxy.events == ["refuse on: reset 1 live connections"]
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ConnectionError):
        session.get(f"{proxy.url}/small", timeout=5)
    with requests.Session() as fresh:
        fresh.trust_env = False
        with pytest.raises(requests.exceptions.ConnectionError):
            fresh.get(f"{proxy.url}/small", timeout=5)
    assert time.monotonic() - started < 1.0
    assert any(e.startswith("refuse conn") for e in proxy.events)

    proxy.refuse(False)
    assert session.get(f"{proxy.url}/small", timeout=10).content == b"/small"


def test_an_unreachable_target_resets_the_client() -> None:
    # the port stays bound, not listening, for the whole test (connections to it are refused):
    # closed at once, it was once handed to the proxy itself, which then connected to itself
    # ~10,000 times until the process ran out of files (EMFILE)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
        with FaultProxy(("127.0.0.1", closed_port)) as proxy:
            data, how = raw_exchange(proxy.port)
            assert (data, how) == (b"", "reset")
            assert proxy.wait_for_event("connect_failed") == "connect_failed conn 1: ECONNREFUSED"
            assert proxy.live_connections == 0


def test_reset_all_drops_live_connections(proxy: FaultProxy, session: requests.Session) -> None:
    proxy.stall_after(50_000)
    response = session.get(f"{proxy.url}/blob", stream=True, timeout=(5, 5))
    proxy.wait_for_event("stall_after 50000 down conn 1")
    assert proxy.live_connections == 1

    proxy.reset_all()
    assert proxy.live_connections == 0
    assert proxy.events[-1] == "reset_all: 1 connections"
    with pytest.raises(BROKEN):
        read_stream(response, bytearray())
    assert session.get(f"{proxy.url}/blob", timeout=10).content == BODY


# -- lifecycle ---------------------------------------------------------------------------


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")
def test_stop_leaves_no_threads_or_sockets(server: _Server) -> None:
    before = _fd_links()
    with FaultProxy(("127.0.0.1", server.port)):
        opened = {fd: link for fd, link in _fd_links().items() if before.get(fd) != link}
    assert len(opened) >= 4  # the listener, the selector, the wake-up socket pair
    after = _fd_links()
    assert [link for fd, link in opened.items() if after.get(fd) == link] == []

    proxy = FaultProxy(("127.0.0.1", server.port)).start()
    assert _proxy_threads() == [f"faultproxy-{proxy.port}"]
    with requests.Session() as idle, requests.Session() as stalled:
        idle.trust_env = stalled.trust_env = False
        assert idle.get(f"{proxy.url}/small", timeout=10).status_code == 200
        proxy.stall_after(10_000)
        response = stalled.get(f"{proxy.url}/blob", stream=True, timeout=10)
        proxy.wait_for_event("stall_after")
        assert proxy.live_connections == 2
        # the listener, and both legs of the idle and the stalled connection
        assert len(_proxy_sockets(proxy.port, server.port)) == 5

        proxy.stop()
        assert _proxy_threads() == []
        assert _proxy_sockets(proxy.port, server.port) == []
        proxy.stop()  # idempotent
        response.close()
    with pytest.raises(RuntimeError):
        proxy.start()


def test_bad_arguments_are_rejected(server: _Server) -> None:
    proxy = FaultProxy(("127.0.0.1", server.port))
    with pytest.raises(ValueError, match="direction"):
        proxy.reset_after(10, direction="sideways")
    with pytest.raises(ValueError, match="nbytes"):
        proxy.stall_after(-1)
    with pytest.raises(ValueError, match="times"):
        proxy.truncate_after(10, times=0)
    with pytest.raises(ValueError, match="header"):
        proxy.inject_http_response(503, {"Retry-After": "1\r\nX: y"})
    with pytest.raises(ValueError, match="delay_s"):
        proxy.delay_s = -0.1
    with pytest.raises(ValueError, match="rate_bps"):
        proxy.rate_bps = 0
    proxy.stop()  # never started: nothing to do


def test_command_line_prints_the_port_and_proxies(server: _Server) -> None:
    command = [
        sys.executable,
        "-m",
        "tests.support.faultproxy",
        "--listen",
        "127.0.0.1:0",
        "--target",
        f"127.0.0.1:{server.port}",
        "--delay-ms",
        "20",
        "--inject",
        "503",
        "--inject-header",
        "Retry-After: 3",
        "--inject-match",
        "/cli-fail",
    ]
    proc = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        lines: queue.Queue[str] = queue.Queue()
        assert proc.stdout is not None
        reader = threading.Thread(
            target=lambda: lines.put(proc.stdout.readline() if proc.stdout else "")
        )
        reader.start()
        port = int(lines.get(timeout=20))
        reader.join(5)
        with requests.Session() as s:
            s.trust_env = False
            failed = s.get(f"http://127.0.0.1:{port}/cli-fail", timeout=10)
            ok = s.get(f"http://127.0.0.1:{port}/small", timeout=10)
        assert failed.status_code == 503
        assert failed.headers["Retry-After"] == "3"
        assert ok.content == b"/small"
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
    assert "inject 503 conn 1: GET /cli-fail HTTP/1.1" in stderr
