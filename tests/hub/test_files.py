"""file_response over a real uvicorn server on loopback, checked with requests."""

from __future__ import annotations

import hashlib
import json
import math
import os
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import unquote

import pytest
import requests
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from alu_hub.errors import error_body
from alu_hub.files import CHUNK_SIZE, IMMUTABLE, content_disposition, file_response, strong_etag
from alu_hub.server import serve_in_thread
from tests.support.waiting import wait_until

SIZE = 3 * 1024 * 1024 + 12_345  # not a multiple of the chunk size
MTIME = 1_700_000_000.75  # a fraction of a second: Last-Modified is whole seconds
BIG = 2 * 1024 * 1024 * 1024  # sparse: no disk used
AHEAD_LIMIT = 64 * 1024 * 1024
NAMED = 'Réunion "clip".mp4'
GIVEN_DATE = datetime(2024, 5, 1, 12, 30, 15, 999_999, tzinfo=UTC)
TIMEOUT = 30

# A file the response forgot to close shows up as a ResourceWarning when it is collected.
pytestmark = pytest.mark.filterwarnings("error::ResourceWarning")


def http_date(ts: float) -> str:
    return format_datetime(datetime.fromtimestamp(math.floor(ts), UTC), usegmt=True)


LAST_MODIFIED = http_date(MTIME)


@dataclass
class Site:
    url: str
    data: bytes
    etag: str
    data_path: Path
    big_path: Path
    shrinking_path: Path

    def get(self, path: str = "/f", **headers: str) -> requests.Response:
        return requests.get(self.url + path, headers=headers, timeout=TIMEOUT)

    def head(self, path: str = "/f", **headers: str) -> requests.Response:
        return requests.head(self.url + path, headers=headers, timeout=TIMEOUT)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("files")
    data = os.urandom(SIZE)
    data_path = root / "clip.mp4"
    data_path.write_bytes(data)
    os.utime(data_path, (MTIME, MTIME))
    empty_path = root / "empty.mp4"
    empty_path.write_bytes(b"")
    big_path = root / "big.mp4"
    with open(big_path, "wb") as f:
        f.truncate(BIG)
    etag = strong_etag(hashlib.sha256(data).hexdigest())

    app = FastAPI()

    @app.api_route("/f", methods=["GET", "HEAD"])
    def whole(request: Request) -> Response:
        return file_response(
            request, data_path, etag=etag, media_type="video/mp4", filename="clip.mp4"
        )

    @app.api_route("/named", methods=["GET", "HEAD"])
    def named(request: Request) -> Response:
        return file_response(request, data_path, etag=etag, media_type="video/mp4", filename=NAMED)

    @app.api_route("/empty", methods=["GET", "HEAD"])
    def empty(request: Request) -> Response:
        return file_response(
            request, empty_path, etag=strong_etag("e3" * 32), media_type="video/mp4"
        )

    @app.api_route("/dated", methods=["GET", "HEAD"])
    async def dated(request: Request) -> Response:  # async route: file_response on the loop
        return file_response(
            request,
            data_path,
            etag=etag,
            media_type="image/jpeg",
            last_modified=GIVEN_DATE,
            cache_control="no-cache",
        )

    @app.api_route("/big", methods=["GET", "HEAD"])
    def big(request: Request) -> Response:
        return file_response(request, big_path, etag=strong_etag("b1" * 32), media_type="video/mp4")

    shrinking_path = root / "shrinking.mp4"

    @app.get("/shrinking")
    def shrinking(request: Request) -> Response:
        return file_response(
            request, shrinking_path, etag=strong_etag("5" * 64), media_type="video/mp4"
        )

    @app.get("/missing")
    def missing(request: Request) -> Response:
        try:
            return file_response(request, root / "gone.mp4", etag=etag, media_type="video/mp4")
        except FileNotFoundError:
            return JSONResponse(error_body("not_found", "No such file."), 404)

    hub = serve_in_thread(app)
    try:
        yield Site(hub.url, data, etag, data_path, big_path, shrinking_path)
    finally:
        hub.stop()


def error_code(r: requests.Response) -> str:
    assert r.headers["content-type"] == "application/json"
    body = json.loads(r.content)
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    code = body["error"]["code"]
    assert isinstance(code, str)
    return code


# --- validators ---------------------------------------------------------------------------------


def test_strong_etag_is_the_quoted_hash_prefix() -> None:
    digest = hashlib.sha256(b"rendition").hexdigest()
    assert strong_etag(digest) == f'"{digest[:32]}"'
    assert strong_etag(digest.upper()) == f'"{digest[:32]}"'
    for bad in ("", "abc", "g" * 64, digest + "0", '"' + digest[:62] + '"'):
        with pytest.raises(ValueError, match="SHA-256"):
            strong_etag(bad)


def _request(method: str = "GET") -> Request:
    return Request(
        {"type": "http", "method": method, "headers": [], "path": "/", "query_string": b""}
    )


def test_missing_file_or_directory_raises_file_not_found(tmp_path: Path, site: Site) -> None:
    with pytest.raises(FileNotFoundError):
        file_response(_request(), tmp_path / "nope.mp4", etag=site.etag, media_type="video/mp4")
    with pytest.raises(FileNotFoundError):
        file_response(_request(), tmp_path, etag=site.etag, media_type="video/mp4")
    r = site.get("/missing")
    assert r.status_code == 404
    assert error_code(r) == "not_found"


def test_an_etag_that_is_not_an_entity_tag_is_refused(site: Site) -> None:
    with pytest.raises(ValueError, match="entity tag"):
        file_response(_request(), site.data_path, etag="abc", media_type="video/mp4")


# --- whole file ---------------------------------------------------------------------------------


def test_get_without_range_sends_the_whole_file_with_its_headers(site: Site) -> None:
    r = site.get()
    assert r.status_code == 200
    assert r.content == site.data
    h = r.headers
    assert h["content-length"] == str(SIZE)
    assert h["accept-ranges"] == "bytes"
    assert h["etag"] == site.etag
    assert h["last-modified"] == LAST_MODIFIED
    assert h["content-type"] == "video/mp4"
    assert h["cache-control"] == IMMUTABLE
    assert h["content-disposition"] == (
        "attachment; filename=\"clip.mp4\"; filename*=UTF-8''clip.mp4"
    )
    assert "content-range" not in h
    assert "content-encoding" not in h
    assert "transfer-encoding" not in h


def test_given_last_modified_and_cache_control_are_used(site: Site) -> None:
    r = site.get("/dated")
    assert r.status_code == 200
    assert r.headers["last-modified"] == "Wed, 01 May 2024 12:30:15 GMT"
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["content-type"] == "image/jpeg"
    assert "content-disposition" not in r.headers
    assert r.content == site.data
    # If-Range compares with the given date, not the file's mtime
    r = site.get("/dated", Range="bytes=0-9", **{"If-Range": "Wed, 01 May 2024 12:30:15 GMT"})
    assert r.status_code == 206
    assert r.content == site.data[:10]
    r = site.get("/dated", Range="bytes=0-9", **{"If-Range": LAST_MODIFIED})
    assert r.status_code == 200


def test_empty_file(site: Site) -> None:
    r = site.get("/empty")
    assert r.status_code == 200
    assert r.content == b""
    assert r.headers["content-length"] == "0"
    h = site.head("/empty")
    assert h.status_code == 200
    assert h.headers["content-length"] == "0"
    for spec in ("bytes=0-", "bytes=0-0", "bytes=-5"):
        r = site.get("/empty", Range=spec)
        assert r.status_code == 416, spec
        assert r.headers["content-range"] == "bytes */0"
        assert error_code(r) == "range_not_satisfiable"


# --- single ranges ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "first", "last"),
    [
        ("bytes=0-0", 0, 0),
        ("bytes=100-199", 100, 199),
        ("bytes=1000-", 1000, SIZE - 1),
        ("bytes=-500", SIZE - 500, SIZE - 1),
        (f"bytes=-{SIZE + 10}", 0, SIZE - 1),  # suffix longer than the file: all of it
        (f"bytes={SIZE - 10}-{SIZE + 1000}", SIZE - 10, SIZE - 1),  # end clamped
        (f"bytes={SIZE - 1}-{SIZE - 1}", SIZE - 1, SIZE - 1),
        ("bytes=5-99999999999999999999999999999", 5, SIZE - 1),  # absurd end clamped too
        ("BYTES=5-9", 5, 9),  # the unit is case-insensitive
        ("bytes= 5-9 ", 5, 9),
        ("bytes=0-9,", 0, 9),  # empty list elements do not count
        (f"bytes={CHUNK_SIZE - 1}-{2 * CHUNK_SIZE}", CHUNK_SIZE - 1, 2 * CHUNK_SIZE),
    ],
)
def test_single_range_gives_206_with_exact_bytes(
    site: Site, spec: str, first: int, last: int
) -> None:
    r = site.get(Range=spec)
    assert r.status_code == 206
    assert r.headers["content-range"] == f"bytes {first}-{last}/{SIZE}"
    assert r.headers["content-length"] == str(last - first + 1)
    assert r.content == site.data[first : last + 1]
    assert r.headers["etag"] == site.etag
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["content-type"] == "video/mp4"
    assert r.headers["last-modified"] == LAST_MODIFIED


@pytest.mark.parametrize(
    "spec",
    [f"bytes={SIZE}-", f"bytes={SIZE}-{SIZE + 5}", "bytes=-0", "bytes=99999999999999999999999-"],
)
def test_unsatisfiable_range_gives_416(site: Site, spec: str) -> None:
    r = site.get(Range=spec)
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{SIZE}"
    assert error_code(r) == "range_not_satisfiable"
    assert "content-encoding" not in r.headers


@pytest.mark.parametrize(
    "spec",
    [
        "bytes=0-1,5-6",  # several ranges: we do not do multipart/byteranges
        "bytes=0-1, 3-4, 9-",
        f"bytes=0-1,{SIZE}-",
        "bytes=5-2",  # last before first
        "bytes=abc",
        "bytes=",
        "bytes=-",
        "bytes=1-2-3",
        "bytes=+1-5",
        "bytes 0-5",
        "0-5",
        "items=0-5",  # another unit
        "",
    ],
)
def test_multiple_or_invalid_ranges_are_ignored(site: Site, spec: str) -> None:
    r = site.get(Range=spec)
    assert r.status_code == 200
    assert "content-range" not in r.headers
    assert r.headers["content-length"] == str(SIZE)
    assert r.content == site.data


# --- If-Range -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("if_range", "honoured"),
    [
        (None, True),
        ("current etag", True),
        ('"0123456789abcdef0123456789abcdef"', False),  # stale: the file changed
        ("weak etag", False),  # W/ never matches (strong comparison)
        (LAST_MODIFIED, True),
        (http_date(MTIME - 3600), False),  # older date
        (http_date(MTIME + 1), False),  # only the exact date counts
        ("not a date", False),
    ],
)
def test_if_range(site: Site, if_range: str | None, honoured: bool) -> None:
    headers = {"Range": "bytes=1000-1999"}
    if if_range is not None:
        headers["If-Range"] = {"current etag": site.etag, "weak etag": "W/" + site.etag}.get(
            if_range, if_range
        )
    r = site.get(**headers)
    if honoured:
        assert r.status_code == 206
        assert r.headers["content-range"] == f"bytes 1000-1999/{SIZE}"
        assert r.content == site.data[1000:2000]
    else:
        assert r.status_code == 200
        assert "content-range" not in r.headers
        assert r.content == site.data


def test_failed_if_range_wins_over_an_unsatisfiable_range(site: Site) -> None:
    r = site.get(Range=f"bytes={SIZE + 5}-", **{"If-Range": '"stale"'})
    assert r.status_code == 200
    assert r.content == site.data


def test_if_range_without_range_is_ignored(site: Site) -> None:
    r = site.get(**{"If-Range": site.etag})
    assert r.status_code == 200
    assert r.content == site.data


# --- other conditional requests -----------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["current", "*", "weak", '"other", current', '"a","b" ,current'],
)
def test_if_none_match_gives_304(site: Site, value: str) -> None:
    header = value.replace("current", site.etag).replace("weak", "W/" + site.etag)
    for r in (site.get(**{"If-None-Match": header}), site.head(**{"If-None-Match": header})):
        assert r.status_code == 304
        assert r.content == b""
        assert r.headers["etag"] == site.etag
        assert r.headers["cache-control"] == IMMUTABLE
        assert "content-range" not in r.headers


def test_if_none_match_other_tag_sends_the_file(site: Site) -> None:
    r = site.get(**{"If-None-Match": '"0123456789abcdef0123456789abcdef"'})
    assert r.status_code == 200
    assert r.content == site.data
    # If-None-Match present: If-Modified-Since must not be looked at
    r = site.get(**{"If-None-Match": '"other"', "If-Modified-Since": LAST_MODIFIED})
    assert r.status_code == 200


def test_if_modified_since(site: Site) -> None:
    r = site.get(**{"If-Modified-Since": LAST_MODIFIED})
    assert r.status_code == 304
    assert r.content == b""
    r = site.get(**{"If-Modified-Since": http_date(MTIME - 60)})
    assert r.status_code == 200
    assert r.content == site.data


@pytest.mark.parametrize("value", ['"0123456789abcdef0123456789abcdef"', "weak", "garbage"])
def test_if_match_mismatch_gives_412(site: Site, value: str) -> None:
    header = "W/" + site.etag if value == "weak" else value  # If-Match compares strongly
    r = site.get(Range="bytes=0-9", **{"If-Match": header})
    assert r.status_code == 412
    assert error_code(r) == "precondition_failed"
    assert "content-range" not in r.headers


@pytest.mark.parametrize("value", ["*", "current", '"other", current'])
def test_if_match_matching_serves_the_range(site: Site, value: str) -> None:
    r = site.get(Range="bytes=0-9", **{"If-Match": value.replace("current", site.etag)})
    assert r.status_code == 206
    assert r.content == site.data[:10]


def test_if_unmodified_since(site: Site) -> None:
    r = site.get(**{"If-Unmodified-Since": http_date(MTIME - 60)})
    assert r.status_code == 412
    assert error_code(r) == "precondition_failed"
    r = site.get(**{"If-Unmodified-Since": LAST_MODIFIED})
    assert r.status_code == 200
    assert r.content == site.data


# --- HEAD ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Range": "bytes=10-20"},
        {"Range": "bytes=-100", "If-Range": "current"},
        {"Range": f"bytes={SIZE}-"},
        {"Range": "bytes=0-1,4-5"},
        {"If-Match": '"nope"'},
    ],
)
def test_head_has_the_same_status_and_headers_as_get(site: Site, headers: dict[str, str]) -> None:
    headers = {k: v.replace("current", site.etag) for k, v in headers.items()}
    g = site.get(**headers)
    h = site.head(**headers)
    assert h.status_code == g.status_code
    assert h.content == b""
    got = {k.lower(): v for k, v in g.headers.items() if k.lower() != "date"}
    head = {k.lower(): v for k, v in h.headers.items() if k.lower() != "date"}
    assert head == got
    assert int(head["content-length"]) == len(g.content)


def test_head_sends_no_body_on_the_wire(site: Site) -> None:
    # requests would not notice stray bytes after a HEAD; a second request on the same
    # connection would. Read the raw socket instead.
    host, port = site.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as s:
        s.sendall(b"HEAD /f HTTP/1.1\r\nHost: x\r\nRange: bytes=0-99\r\n\r\n")
        s.sendall(b"HEAD /f HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        received = b""
        while chunk := s.recv(65536):
            received += chunk
    parts = received.split(b"\r\n\r\n")
    assert parts[0].startswith(b"HTTP/1.1 206")
    assert parts[1].startswith(b"HTTP/1.1 200")  # no body bytes in between
    assert parts[2] == b""
    assert b"content-length: 100" in parts[0].lower()
    assert f"content-length: {SIZE}".encode() in parts[1].lower()


# --- names, encodings, resuming -----------------------------------------------------------------


def test_content_disposition_for_a_non_ascii_name_with_quotes(site: Site) -> None:
    r = site.get("/named", Range="bytes=0-0")
    assert r.status_code == 206
    value = r.headers["content-disposition"]
    assert value == (
        "attachment; filename=\"Reunion _clip_.mp4\"; filename*=UTF-8''R%C3%A9union%20%22clip%22.mp4"
    )
    assert unquote(value.split("UTF-8''", 1)[1]) == NAMED


@pytest.mark.parametrize(
    ("name", "fallback"),
    [
        ("a\r\nb.mp4", "a__b.mp4"),  # no header injection
        ("ملف.mp4", "___.mp4"),
        ("../x\\y.mp4", ".._x_y.mp4"),
        ("ﬁlm.mp4", "film.mp4"),
        ("", "download"),
    ],
)
def test_content_disposition_fallback(name: str, fallback: str) -> None:
    value = content_disposition(name)
    assert value.startswith(f"attachment; filename=\"{fallback}\"; filename*=UTF-8''")
    value.encode("ascii")  # the whole header is ASCII
    assert unquote(value.split("UTF-8''", 1)[1]) == name
    assert "\r" not in value and "\n" not in value


@pytest.mark.parametrize("spec", [None, "bytes=1234-"])
def test_no_content_encoding_even_when_gzip_is_accepted(site: Site, spec: str | None) -> None:
    headers = {"Accept-Encoding": "gzip, deflate, br"}
    if spec:
        headers["Range"] = spec
    with requests.get(site.url + "/f", headers=headers, stream=True, timeout=TIMEOUT) as r:
        assert r.status_code == (206 if spec else 200)
        assert "content-encoding" not in r.headers
        raw = r.raw.read(decode_content=False)
    assert raw == site.data[1234 if spec else 0 :]


def test_resume_after_a_dropped_download(site: Site) -> None:
    first = bytearray()
    with requests.get(site.url + "/f", stream=True, timeout=TIMEOUT) as r:
        assert r.status_code == 200
        etag = r.headers["etag"]
        for chunk in r.iter_content(64 * 1024):
            first += chunk
            if len(first) >= 1_000_000:
                break  # the link drops mid-body
    assert 1_000_000 <= len(first) < SIZE
    r = site.get(Range=f"bytes={len(first)}-", **{"If-Range": etag})
    assert r.status_code == 206
    assert r.headers["content-range"] == f"bytes {len(first)}-{SIZE - 1}/{SIZE}"
    assert bytes(first) + r.content == site.data


# --- streaming: bounded reading ahead, one open file, closed on disconnect --------------------------


def _open_fds(path: Path) -> dict[int, int]:
    """fd -> file position, for this process's descriptors open on ``path``."""
    target = str(path.resolve())
    found = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}") != target:
                continue
            info = Path(f"/proc/self/fdinfo/{name}").read_text()
        except OSError:
            continue  # closed meanwhile
        pos = next(int(line.split()[1]) for line in info.splitlines() if line.startswith("pos:"))
        found[int(name)] = pos
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/fd")
def test_stalled_client_is_not_read_ahead_and_disconnect_closes_the_file(site: Site) -> None:
    assert _open_fds(site.big_path) == {}
    host, port = site.url.removeprefix("http://").split(":")
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    s.settimeout(TIMEOUT)
    try:
        s.connect((host, int(port)))
        s.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 200")
        wait_until(lambda: len(_open_fds(site.big_path)) == 1, 20, what="the file to be open")
        # The client reads nothing more: the server must stop reading soon after.
        last, stable_since = -1, time.monotonic()
        while time.monotonic() - stable_since < 0.5:
            fds = _open_fds(site.big_path)
            assert len(fds) == 1  # one open file for the response
            (pos,) = fds.values()
            if pos != last:
                last, stable_since = pos, time.monotonic()
            time.sleep(0.01)  # sampling: this checks that nothing happens for 0.5 s
        assert CHUNK_SIZE <= last <= AHEAD_LIMIT, f"read {last} bytes ahead of the client"
    finally:
        s.close()
    # The client is gone: the file must be closed without reading on to its end.
    peak = last

    def closed() -> bool:
        nonlocal peak
        fds = _open_fds(site.big_path)
        peak = max(peak, *fds.values(), 0)
        return not fds

    wait_until(closed, 20, what="the file to be closed after disconnect")
    assert peak <= AHEAD_LIMIT, f"read on to byte {peak} after the client left"
    # and the server is still fine
    r = site.get("/big", Range="bytes=-10")
    assert r.status_code == 206
    assert r.content == b"\0" * 10


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/fd")
def test_files_are_closed_after_every_kind_of_response(site: Site) -> None:
    for headers, status in (
        ({}, 200),
        ({"Range": "bytes=5-"}, 206),
        ({"Range": f"bytes={SIZE}-"}, 416),
        ({"If-None-Match": "*"}, 304),
        ({"If-Match": '"x"'}, 412),
    ):
        # each kind of answer was really given (a server answering every one with an error
        # would open no file, and close none)
        assert site.get(**headers).status_code == status, headers
        assert site.head(**headers).status_code == status, headers
    wait_until(lambda: _open_fds(site.data_path) == {}, 20, what="every file to be closed")


def test_a_file_that_shrinks_mid_download_cuts_the_connection(site: Site) -> None:
    size = 256 * 1024 * 1024
    with open(site.shrinking_path, "wb") as f:
        f.truncate(size)
    received: list[int] = []
    with requests.get(site.url + "/shrinking", stream=True, timeout=TIMEOUT) as r:
        assert r.headers["content-length"] == str(size)
        os.truncate(site.shrinking_path, CHUNK_SIZE)  # e.g. someone rewrote it in place

        def drain() -> None:
            received.extend(len(chunk) for chunk in r.iter_content(1 << 20))

        with pytest.raises(requests.exceptions.ChunkedEncodingError):  # urllib3 IncompleteRead
            drain()
    # the client is told the body is short instead of getting a silently different file
    assert sum(received) < size


# --- throughput ---------------------------------------------------------------------------------


@pytest.mark.bench
def test_loopback_throughput(tmp_path: Path) -> None:
    path = tmp_path / "bench.mp4"
    size = 512 * 1024 * 1024
    with open(path, "wb") as f:
        f.truncate(size)
    app = FastAPI()

    @app.get("/b")
    def bench(request: Request) -> Response:
        return file_response(request, path, etag=strong_etag("0" * 64), media_type="video/mp4")

    hub = serve_in_thread(app)
    try:
        started = time.perf_counter()
        got = 0
        with requests.get(hub.url + "/b", stream=True, timeout=TIMEOUT) as r:
            assert r.status_code == 200
            for chunk in r.iter_content(1 << 20):
                got += len(chunk)
        elapsed = time.perf_counter() - started
    finally:
        hub.stop()
    assert got == size
    print(f"\n{size / elapsed / 1e6:.0f} MB/s ({size >> 20} MiB in {elapsed:.2f} s)")
