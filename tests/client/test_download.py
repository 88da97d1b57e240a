"""The download job against real servers on 127.0.0.1: the hub, nginx, the fault proxy in front
of them, and tiny misbehaving servers written here (Range ignored, wrong Content-Range, changed
ETag, gzip, too much data, wrong bytes, redirects)."""

from __future__ import annotations

import gzip
import hashlib
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from alu_client.core.transfers import download as dl
from alu_client.core.transfers import jobs
from alu_client.core.transfers.base import (
    PHASE_VERIFYING,
    Control,
    DiskFullError,
    MemoryCheckpoint,
    PermanentError,
    RetryableError,
    SessionPool,
    Stopped,
    TransferContext,
    Tuning,
)
from alu_client.core.transfers.download import DownloadResult, DownloadSpec, run
from alu_client.core.transfers.download.verify import PLACED
from alu_hub.media import generate_clip
from alu_hub.server import free_port
from tests.hub.conftest import LiveHub, start_hub
from tests.support.faultproxy import FaultProxy
from tests.support.nginx import start_nginx
from tests.support.waiting import wait_until

MB = 1024 * 1024


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def wait_metered(pred: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Wait for ``pred`` on a condition variable woken by the job's meter."""
    deadline = time.monotonic() + timeout
    with _progress:
        while not pred():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}")
            _progress.wait(left)


_progress = threading.Condition()


# --- a job context as the queue would build it ----------------------------------------------------


@dataclass
class Job:
    """One transfer's context, kept across runs (a new Control per run, like the queue)."""

    tmp: Path
    tuning: Tuning
    headers: dict[str, str] = field(default_factory=dict)
    checkpoint: MemoryCheckpoint = field(default_factory=MemoryCheckpoint)
    sessions: SessionPool = field(default_factory=SessionPool)
    notes: list[str] = field(default_factory=list)
    progress: list[tuple[int, int | None]] = field(default_factory=list)
    metered: int = 0
    ctx: TransferContext | None = None

    def context(self) -> TransferContext:
        """A fresh context for one run (progress and meter counts are per run)."""
        self.progress.clear()
        self.metered = 0

        def meter(n: int) -> None:
            with _progress:
                self.metered += n
                _progress.notify_all()

        self.ctx = TransferContext(
            control=Control(),
            checkpoint=self.checkpoint,
            sessions=self.sessions,
            meter=meter,
            progress=lambda done, total: self.progress.append((done, total)),
            headers=dict(self.headers),
            tuning=self.tuning,
            note=self.notes.append,
        )
        return self.ctx

    def run(self, spec: DownloadSpec) -> DownloadResult:
        return run(spec, self.context())

    def done_bytes(self) -> int:
        return sum(d for _, _, d in self.checkpoint.data.get("segments", []))


@pytest.fixture
def job(tmp_path: Path) -> Iterator[Job]:
    j = Job(
        tmp=tmp_path,
        tuning=Tuning(
            connect_timeout=5,
            stall_timeout=5,
            read_size=64 * 1024,
            segment_threshold=2 * MB,
            max_segments=4,
            checkpoint_every=256 * 1024,
        ),
    )
    yield j
    j.sessions.close()


def part_of(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def assert_done(result: DownloadResult, dest: Path, data: bytes) -> None:
    assert result.path == dest and dest.read_bytes() == data
    assert result.size == len(data) and result.sha256 == sha(data)
    assert not part_of(dest).exists()


# --- the real hub -------------------------------------------------------------------------------


@dataclass
class HubFile:
    live: LiveHub
    path: str  # the rendition's path on the hub
    token: str
    data: bytes

    @property
    def url(self) -> str:
        return self.live.url + self.path

    @property
    def port(self) -> int:
        return self.live.server.port


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubFile]:
    tmp = tmp_path_factory.mktemp("hub")
    clip = tmp / "clip.mp4"
    generate_clip(clip, seconds=2.0, width=640, height=360, seed=11)
    live = start_hub(tmp)
    item_id = live.publish(clip)
    s = live.login("ktn")
    item = s.get(live.api(f"/items/{item_id}"), timeout=10).json()
    rend = next(r for r in item["renditions"] if r["name"] == "broadcast")
    data = clip.read_bytes()
    assert rend["sha256"] == sha(data)
    yield HubFile(live, urlsplit(rend["url"]).path, live.tokens["ktn"], data)
    live.server.stop()
    live.hub.db.dispose()


def test_hub_rendition_with_token(hub: HubFile, job: Job) -> None:
    dest = job.tmp / "sub" / "dir" / "clip.mp4"
    job.headers = {"Authorization": f"Bearer {hub.token}"}
    result = job.run(DownloadSpec(hub.url, dest, sha256=sha(hub.data), size=len(hub.data)))
    assert_done(result, dest, hub.data)
    assert result.bytes_fetched == len(hub.data) and not result.restarted
    assert job.metered == len(hub.data) and set(job.checkpoint.data) <= {PLACED}


def test_hub_without_token_is_refused(hub: HubFile, job: Job) -> None:
    dest = job.tmp / "clip.mp4"
    with pytest.raises(PermanentError, match=r"refused access \(HTTP 401\)") as e:
        job.run(DownloadSpec(hub.url, dest))
    assert "http" not in e.value.message.lower().replace("(http 401)", "")
    assert not dest.exists()


def test_existing_destination_is_never_overwritten(hub: HubFile, job: Job) -> None:
    dest = job.tmp / "clip.mp4"
    dest.write_bytes(b"mine")
    with pytest.raises(PermanentError, match="already there"):
        job.run(DownloadSpec(hub.url, dest))
    assert dest.read_bytes() == b"mine"


# --- nginx ------------------------------------------------------------------------------------------


@dataclass
class Nginx:
    port: int
    root: Path
    access_log: Path
    files: dict[str, bytes]

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def log_lines(self) -> list[str]:
        return self.access_log.read_text().splitlines() if self.access_log.exists() else []


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    base = tmp_path_factory.mktemp("nginx")
    root = base / "www"
    root.mkdir()
    rng = random.Random(5)
    files = {"big.bin": rng.randbytes(40 * MB), "small.bin": rng.randbytes(4 * MB)}
    for name, data in files.items():
        (root / name).write_bytes(data)
    # the access log: connection, status, Range asked, body bytes sent
    block = f"""    log_format conn '$connection $status "$http_range" $body_bytes_sent';
    sendfile on;
    server {{
        listen 127.0.0.1:{{port}};
        root {root};
        access_log {base}/access.log conn;
    }}"""

    def ready(port: int) -> bool:
        return requests.head(f"http://127.0.0.1:{port}/small.bin", timeout=1).ok

    server = start_nginx(base, block, ready)
    try:
        yield Nginx(server.port, root, server.access_log, files)
    finally:
        server.stop()


def test_nginx_single_and_segmented_are_identical(nginx: Nginx, job: Job) -> None:
    data = nginx.files["big.bin"]
    job.tuning.segment_threshold = 8 * MB
    t0 = time.monotonic()
    single = job.run(
        DownloadSpec(nginx.url("big.bin"), job.tmp / "one.bin", size=len(data), segments=1)
    )
    t1 = time.monotonic()
    assert_done(single, job.tmp / "one.bin", data)
    before = len(nginx.log_lines())
    seg = job.run(DownloadSpec(nginx.url("big.bin"), job.tmp / "four.bin", sha256=sha(data)))
    t2 = time.monotonic()
    assert_done(seg, job.tmp / "four.bin", data)
    assert single.bytes_fetched == len(data)
    # without a known size the probe asks for bytes=0-: a little past segment 0 is read
    assert len(data) <= seg.bytes_fetched < len(data) + 2 * MB
    lines = nginx.log_lines()[before:]
    ranged = [line for line in lines if line.split()[1] == "206"]
    conns = {line.split()[0] for line in ranged}
    assert len(conns) >= 4, lines  # four streams, each its own connection
    sent = sum(int(line.split()[-1]) for line in lines)
    assert len(data) <= sent < 1.3 * len(data)  # nothing fetched twice but what steals drop
    print(
        f"\n40 MB: single {len(data) / (t1 - t0) / 1e6:.0f} MB/s, "
        f"segmented {len(data) / (t2 - t1) / 1e6:.0f} MB/s"
    )


def test_the_check_of_a_whole_download_is_said_before_the_file_appears(
    nginx: Nginx, job: Job
) -> None:
    """The bar is full and no byte moves while a big file's sha256 is checked: the job says
    so (the Transfers tab shows "Verifying", not "Transferring" at 0 bytes/s)."""
    data = nginx.files["small.bin"]
    dest = job.tmp / "checked.bin"
    seen: list[tuple[str, int, bool]] = []
    ctx = job.context()
    ctx.phase = lambda phase: seen.append((phase, job.metered, dest.exists()))
    result = run(DownloadSpec(nginx.url("small.bin"), dest, sha256=sha(data)), ctx)
    assert_done(result, dest, data)
    assert seen == [(PHASE_VERIFYING, len(data), False)]  # every byte in, not yet in place


def test_resume_skips_the_network_when_the_part_is_whole(nginx: Nginx, job: Job) -> None:
    data = nginx.files["small.bin"]
    dest = job.tmp / "s.bin"
    part_of(dest).write_bytes(data)
    etag = requests.head(nginx.url("small.bin"), timeout=5).headers["ETag"]
    job.checkpoint.data = {
        "v": 1,
        "etag": etag,
        "last_modified": None,
        "size": len(data),
        "segments": [[0, len(data), len(data)]],
    }
    result = job.run(DownloadSpec(nginx.url("small.bin"), dest, sha256=sha(data)))
    assert_done(result, dest, data)
    assert result.bytes_fetched == 0


# --- through the fault proxy ----------------------------------------------------------------------


@pytest.fixture
def hub_proxy(hub: HubFile) -> Iterator[FaultProxy]:
    with FaultProxy(("127.0.0.1", hub.port)) as proxy:
        yield proxy


def test_reset_then_resume(hub: HubFile, hub_proxy: FaultProxy, job: Job) -> None:
    job.headers = {"Authorization": f"Bearer {hub.token}"}
    spec = DownloadSpec(hub_proxy.url + hub.path, job.tmp / "c.mp4", sha256=sha(hub.data))
    hub_proxy.rate_bps = 2_000_000  # the client reads as bytes arrive, before the reset
    hub_proxy.reset_after(120_000)
    with pytest.raises(RetryableError, match="cut"):
        job.run(spec)
    hub_proxy.wait_for_event("reset_after")
    kept = job.done_bytes()
    assert 0 < kept < len(hub.data)
    assert part_of(spec.dest).read_bytes()[:kept] == hub.data[:kept]
    hub_proxy.rate_bps = None
    result = job.run(spec)
    assert_done(result, spec.dest, hub.data)
    assert result.bytes_fetched == len(hub.data) - kept and not result.restarted
    assert job.progress == [(kept, len(hub.data))]  # the queue's bar starts where it stood
    assert job.metered == len(hub.data) - kept


def test_stall_raises_within_stall_timeout(hub: HubFile, hub_proxy: FaultProxy, job: Job) -> None:
    job.headers = {"Authorization": f"Bearer {hub.token}"}
    job.tuning.stall_timeout = 1
    spec = DownloadSpec(hub_proxy.url + hub.path, job.tmp / "c.mp4", size=len(hub.data))
    hub_proxy.stall_after(100_000)
    t0 = time.monotonic()
    with pytest.raises(RetryableError, match="stalled") as e:
        job.run(spec)
    assert time.monotonic() - t0 < 1 + 1.5
    assert e.value.message == dl.MSG_STALLED
    hub_proxy.release_stalls()
    result = job.run(spec)
    assert_done(result, spec.dest, hub.data)
    assert result.bytes_fetched < len(hub.data)


def test_truncate_then_resume(hub: HubFile, hub_proxy: FaultProxy, job: Job) -> None:
    job.headers = {"Authorization": f"Bearer {hub.token}"}
    spec = DownloadSpec(hub_proxy.url + hub.path, job.tmp / "c.mp4", sha256=sha(hub.data))
    hub_proxy.truncate_after(150_000)
    with pytest.raises(RetryableError, match="closed the connection before the end"):
        job.run(spec)
    kept = job.done_bytes()
    assert 0 < kept < 150_000
    result = job.run(spec)
    assert_done(result, spec.dest, hub.data)
    assert result.bytes_fetched == len(hub.data) - kept


def test_a_byte_damaged_on_the_way_is_never_kept(
    hub: HubFile, hub_proxy: FaultProxy, job: Job
) -> None:
    job.headers = {"Authorization": f"Bearer {hub.token}"}
    spec = DownloadSpec(hub_proxy.url + hub.path, job.tmp / "c.mp4", sha256=sha(hub.data))
    # one byte damaged that TCP's checksum missed: only the sha256 can tell
    hub_proxy.corrupt_after(100_000, direction="down")
    with pytest.raises(RetryableError) as e:
        job.run(spec)
    assert e.value.message == dl.MSG_DAMAGED
    hub_proxy.wait_for_event("corrupt_after")
    assert not spec.dest.exists() and not part_of(spec.dest).exists()
    result = job.run(spec)
    assert_done(result, spec.dest, hub.data)
    assert result.restarted  # fetched whole again: which byte was damaged is unknown


def test_injected_503_carries_retry_after(hub: HubFile, hub_proxy: FaultProxy, job: Job) -> None:
    job.headers = {"Authorization": f"Bearer {hub.token}"}
    hub_proxy.inject_http_response(503, {"Retry-After": "7"}, b"busy")
    with pytest.raises(RetryableError, match=r"HTTP 503") as e:
        job.run(DownloadSpec(hub_proxy.url + hub.path, job.tmp / "c.mp4"))
    assert e.value.retry_after == 7


def test_retry_after_as_a_date(hub: HubFile, hub_proxy: FaultProxy, job: Job) -> None:
    job.headers = {"Authorization": f"Bearer {hub.token}"}
    hub_proxy.inject_http_response(429, {"Retry-After": formatdate(time.time() + 60, usegmt=True)})
    with pytest.raises(RetryableError, match=r"HTTP 429") as e:
        job.run(DownloadSpec(hub_proxy.url + hub.path, job.tmp / "c.mp4"))
    assert e.value.retry_after is not None and 55 < e.value.retry_after <= 60


def test_retry_after_as_a_date_is_measured_on_the_servers_clock(
    hub: HubFile, hub_proxy: FaultProxy, job: Job
) -> None:
    # a workstation clock an hour behind the server's: "come back in 60 s" as a date waited
    # an hour (and a clock ahead came straight back); the answer's own Date is the measure
    job.headers = {"Authorization": f"Bearer {hub.token}"}
    server_now = time.time() + 3600
    hub_proxy.inject_http_response(
        503,
        {
            "Retry-After": formatdate(server_now + 60, usegmt=True),
            "Date": formatdate(server_now, usegmt=True),
        },
    )
    with pytest.raises(RetryableError, match=r"HTTP 503") as e:
        job.run(DownloadSpec(hub_proxy.url + hub.path, job.tmp / "c.mp4"))
    assert e.value.retry_after == 60


def test_injected_404_is_permanent(hub: HubFile, hub_proxy: FaultProxy, job: Job) -> None:
    job.headers = {"Authorization": f"Bearer {hub.token}"}
    hub_proxy.inject_http_response(404, {}, b"nope")
    with pytest.raises(PermanentError, match="no file at this address"):
        job.run(DownloadSpec(hub_proxy.url + hub.path, job.tmp / "c.mp4"))
    # refused before a byte came: no empty part file left in the folder (no retry uses it)
    assert list(job.tmp.iterdir()) == []


def test_refused_connection_is_retryable(job: Job) -> None:
    url = f"http://127.0.0.1:{free_port()}/nothing-listens-here?sig=secret"
    with pytest.raises(RetryableError) as e:
        job.run(DownloadSpec(url, job.tmp / "x.bin"))
    assert e.value.message == dl.MSG_UNREACHABLE and "secret" not in str(e.value)


# --- misbehaving servers --------------------------------------------------------------------------


class FileServer(ThreadingHTTPServer):
    """Serves one file with Range/If-Range, and misbehaves on request."""

    daemon_threads = True

    def __init__(self, data: bytes) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.data = data
        self.etag: str | None = '"v1"'
        self.last_modified = formatdate(1_700_000_000, usegmt=True)
        self.ignore_range = False
        self.start_shift = 0  # added to the Content-Range start (and the bytes sent)
        self.gzip = "never"  # "never" | "range" | "always" | "br" (labelled br, not coded)
        self.overlong = 0  # a close-delimited body this many bytes longer than the file
        self.cut_after: int | None = None  # send this many body bytes, then close
        self.redirect: str | None = None  # answer 302 to this location…
        self.redirects_left = 1_000_000  # …this many times
        self.requests: list[dict[str, str]] = []
        self.hold_at: int | None = None  # a request for a range starting here waits…
        self.holds = 1  # …(this many of them)…
        self.hold_headers = False  # …(before its headers, if set)…
        self.connections = 0
        self.peers: list[str] = []  # client ports, in the order the connections came
        self.held = threading.Event()  # …(set once it does) after its headers…
        self.held_count = 0
        self.release = threading.Event()  # …until this is set
        self.thread = threading.Thread(target=self.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/file.bin"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that drop a connection on purpose (stops, steals) are not errors here

    def process_request(self, request: Any, client_address: Any) -> None:
        self.connections += 1
        self.peers.append(str(client_address[1]))
        super().process_request(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FileServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        srv = self.server
        srv.requests.append(
            {
                "path": self.path,
                "peer": str(self.client_address[1]),  # one per connection
                **{k.lower(): v for k, v in self.headers.items()},
            }
        )
        if srv.redirect is not None and srv.redirects_left > 0:
            srv.redirects_left -= 1
            self.send_response(302)
            self.send_header("Location", srv.redirect)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if (
            srv.hold_headers
            and srv.hold_at == 0
            and self.headers.get("Range", "").startswith("bytes=0-")
        ):
            srv.hold_at = None
            srv.held_count += 1
            srv.held.set()
            srv.release.wait(30)
        data = srv.data
        start, end, status = 0, len(data), 200
        rng = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        if rng and not srv.ignore_range and if_range in (None, srv.etag, srv.last_modified):
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng)
            assert m, rng
            start = int(m.group(1))
            end = min(int(m.group(2)) + 1, len(data)) if m.group(2) else len(data)
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
            start += srv.start_shift
        body = data[start:end]
        self.send_response(status)
        if srv.etag is not None:
            self.send_header("ETag", srv.etag)
        self.send_header("Last-Modified", srv.last_modified)
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
        if srv.gzip == "always" or (srv.gzip == "range" and status == 206):
            body = gzip.compress(body)
            self.send_header("Content-Encoding", "gzip")
        elif srv.gzip == "br":
            self.send_header("Content-Encoding", "br")
        if srv.overlong:
            body += b"\0" * srv.overlong
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if srv.hold_at is not None and status == 206 and start == srv.hold_at:
            srv.holds -= 1
            if srv.holds <= 0:
                srv.hold_at = None
            self.wfile.flush()
            srv.held_count += 1
            srv.held.set()
            srv.release.wait(30)
        if srv.cut_after is not None:
            body = body[: srv.cut_after]
            srv.cut_after = None
            self.close_connection = True
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[FileServer]:
    srv = FileServer(os.urandom(3 * MB))
    yield srv
    srv.stop()


def cut_first_run(job: Job, server: FileServer, spec: DownloadSpec, at: int = 1 * MB) -> int:
    """A first run that the server cuts at ``at`` bytes; returns the bytes the checkpoint kept."""
    server.cut_after = at
    with pytest.raises(RetryableError, match="closed the connection before the end"):
        job.run(spec)
    kept = job.done_bytes()
    assert 0 < kept <= at
    return kept


@pytest.mark.parametrize("size", [0, None])
def test_empty_file(job: Job, size: int | None) -> None:
    srv = FileServer(b"")
    try:
        # size None: the Range probe gets 416 and the file is asked for whole
        spec = DownloadSpec(srv.url, job.tmp / "empty.bin", sha256=sha(b""), size=size)
        result = job.run(spec)
        assert_done(result, spec.dest, b"")
        assert result.bytes_fetched == 0
    finally:
        srv.stop()


def test_range_ignored_restarts_from_zero(server: FileServer, job: Job) -> None:
    spec = DownloadSpec(server.url, job.tmp / "f.bin", sha256=sha(server.data), segments=1)
    cut_first_run(job, server, spec)
    server.ignore_range = True
    result = job.run(spec)
    assert_done(result, spec.dest, server.data)
    assert result.restarted and result.bytes_fetched == len(server.data)
    assert job.notes == [dl.MSG_NO_RESUME]
    assert job.progress[0][0] > 0 and job.progress[-1] == (0, len(server.data))
    assert server.requests[-1]["range"].startswith("bytes=")  # it did ask to resume


@pytest.mark.parametrize("etag", [None, 'W/"weak"'])
def test_resume_on_last_modified_without_a_strong_etag(
    server: FileServer, job: Job, etag: str | None
) -> None:
    server.etag = etag
    spec = DownloadSpec(server.url, job.tmp / "f.bin", sha256=sha(server.data))
    kept = cut_first_run(job, server, spec, at=700_000)  # inside the 1 MiB probe
    assert job.checkpoint.data["etag"] is None  # no strong ETag: one stream, not segments
    result = job.run(spec)
    assert_done(result, spec.dest, server.data)
    assert result.bytes_fetched == len(server.data) - kept and not result.restarted
    assert server.requests[-1]["if-range"] == server.last_modified


def test_wrong_content_range_start_is_refused_then_resume_works(
    server: FileServer, job: Job
) -> None:
    spec = DownloadSpec(server.url, job.tmp / "f.bin", sha256=sha(server.data), segments=1)
    kept = cut_first_run(job, server, spec)
    before = part_of(spec.dest).read_bytes()
    server.start_shift = 1000
    with pytest.raises(RetryableError, match="wrong part"):
        job.run(spec)
    assert part_of(spec.dest).read_bytes()[:kept] == before[:kept] == server.data[:kept]
    assert job.done_bytes() == kept
    server.start_shift = 0
    result = job.run(spec)
    assert_done(result, spec.dest, server.data)
    assert result.bytes_fetched == len(server.data) - kept and not result.restarted


def test_changed_etag_restarts_with_a_note(server: FileServer, job: Job) -> None:
    spec = DownloadSpec(server.url, job.tmp / "f.bin", segments=1)
    cut_first_run(job, server, spec)
    server.data = os.urandom(len(server.data) + 5000)
    server.etag = '"v2"'
    result = job.run(spec)
    assert_done(result, spec.dest, server.data)
    assert result.restarted and job.notes == [dl.MSG_CHANGED]
    assert server.requests[-1]["if-range"] == '"v1"'


def test_changed_etag_restarts_a_segmented_download(server: FileServer, job: Job) -> None:
    spec = DownloadSpec(server.url, job.tmp / "f.bin")
    job.tuning.endgame = 0  # no second stream on the cut range: the first run must fail
    server.cut_after = 300_000  # one of the streams is cut
    with pytest.raises(RetryableError):
        job.run(spec)
    assert len(job.checkpoint.data["segments"]) >= 2
    server.data = os.urandom(len(server.data))
    server.etag = '"v2"'
    result = job.run(spec)
    assert_done(result, spec.dest, server.data)
    assert result.restarted and dl.MSG_CHANGED in job.notes


def test_gzip_on_a_range_starts_over_without_range(server: FileServer, job: Job) -> None:
    spec = DownloadSpec(server.url, job.tmp / "f.bin", sha256=sha(server.data), segments=1)
    cut_first_run(job, server, spec)
    server.gzip = "range"
    result = job.run(spec)
    assert_done(result, spec.dest, server.data)
    assert result.restarted
    assert "range" in server.requests[-2] and "range" not in server.requests[-1]
    assert all(r["accept-encoding"] == "identity" for r in server.requests)


def test_gzip_on_the_fly_is_decoded_and_the_file_verified(server: FileServer, job: Job) -> None:
    """A server compressing every answer whatever we ask (each range compressed afresh: no
    range of it can be trusted): the file is asked for whole and decoded, its sha256 is the
    file's."""
    server.gzip = "always"
    spec = DownloadSpec(server.url, job.tmp / "f.bin", sha256=sha(server.data))
    result = job.run(spec)
    assert_done(result, spec.dest, server.data)
    assert result.size == len(server.data)
    assert "range" in server.requests[0] and "range" not in server.requests[-1]
    assert all(r["accept-encoding"] == "identity" for r in server.requests)
    assert [p.name for p in spec.dest.parent.iterdir()] == [spec.dest.name]


def test_a_coding_we_cannot_read_is_retried_once_then_permanent(
    server: FileServer, job: Job
) -> None:
    server.gzip = "br"
    spec = DownloadSpec(server.url, job.tmp / "f.bin", segments=1)
    with pytest.raises(RetryableError) as e:
        job.run(spec)
    assert e.value.message == dl.MSG_COMPRESSED
    with pytest.raises(PermanentError, match="compressed"):
        job.run(spec)
    assert not spec.dest.exists()


def test_body_longer_than_the_file_is_permanent(server: FileServer, job: Job) -> None:
    server.overlong = 100_000  # no Content-Length: the body runs past the file's size
    spec = DownloadSpec(server.url, job.tmp / "f.bin", size=len(server.data), segments=1)
    with pytest.raises(PermanentError) as e:
        job.run(spec)
    assert e.value.message == dl.MSG_TOO_LONG
    assert not spec.dest.exists() and not part_of(spec.dest).exists()
    assert set(job.checkpoint.data) <= {PLACED}


def test_announced_size_larger_than_expected_is_permanent(server: FileServer, job: Job) -> None:
    spec = DownloadSpec(server.url, job.tmp / "f.bin", size=len(server.data) - 1)
    with pytest.raises(PermanentError) as e:
        job.run(spec)
    assert e.value.message == dl.MSG_TOO_LONG
    assert not part_of(spec.dest).exists()


def test_wrong_bytes_are_never_kept(server: FileServer, job: Job) -> None:
    spec = DownloadSpec(server.url, job.tmp / "f.bin", sha256=sha(b"another file"))
    with pytest.raises(RetryableError) as e:
        job.run(spec)
    assert e.value.message == dl.MSG_DAMAGED
    assert not spec.dest.exists() and not part_of(spec.dest).exists()
    assert "segments" not in job.checkpoint.data
    # the same wrong bytes again: not damage on the way, so no more fetching them for ever
    with pytest.raises(PermanentError) as again:
        job.run(spec)
    assert again.value.message == dl.MSG_NOT_THE_FILE
    assert not spec.dest.exists() and not part_of(spec.dest).exists()
    # the next run (the right checksum, as after the agency fixed its item) fetches it all
    # again and says the transfer had to start over
    result = job.run(DownloadSpec(server.url, spec.dest, sha256=sha(server.data)))
    assert_done(result, spec.dest, server.data)
    assert result.restarted and result.bytes_fetched >= len(server.data)
    assert set(job.checkpoint.data) <= {PLACED}


def test_redirect_to_another_host_drops_credentials(server: FileServer, job: Job) -> None:
    target = FileServer(server.data)
    try:
        port = target.server_address[1]
        server.redirect = f"http://localhost:{port}/file.bin"
        job.headers = {"Authorization": "Bearer secret", "X-Alu-Member": "ktn"}
        spec = DownloadSpec(server.url, job.tmp / "f.bin", sha256=sha(server.data), segments=1)
        result = job.run(spec)
        assert_done(result, spec.dest, server.data)
        assert server.requests[0]["authorization"] == "Bearer secret"
        assert target.requests and all(
            "authorization" not in r and "x-alu-member" not in r for r in target.requests
        )
    finally:
        target.stop()


def test_redirect_on_the_same_host_keeps_credentials(server: FileServer, job: Job) -> None:
    server.redirect = "/moved/file.bin"  # relative: same scheme, host and port
    server.redirects_left = 1
    job.headers = {"Authorization": "Bearer secret"}
    spec = DownloadSpec(server.url, job.tmp / "f.bin", sha256=sha(server.data), segments=1)
    result = job.run(spec)
    assert_done(result, spec.dest, server.data)
    assert [r["path"] for r in server.requests] == ["/file.bin", "/moved/file.bin"]
    assert all(r["authorization"] == "Bearer secret" for r in server.requests)


def test_disk_full_is_reported(
    server: FileServer, job: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0
    real = dl._write_at

    def full_after_a_few(fd: int, data: bytes, pos: int, lock: threading.Lock) -> None:
        nonlocal calls
        calls += 1
        if calls > 3:
            raise OSError(28, "No space left on device")
        real(fd, data, pos, lock)

    monkeypatch.setattr(dl, "_write_at", full_after_a_few)
    spec = DownloadSpec(server.url, job.tmp / "f.bin", segments=1)
    with pytest.raises(DiskFullError) as e:
        job.run(spec)
    assert e.value.message == dl.MSG_DISK_FULL
    kept = job.done_bytes()
    assert kept > 0
    monkeypatch.undo()
    result = job.run(spec)
    assert_done(result, spec.dest, server.data)
    assert result.bytes_fetched == len(server.data) - kept


# --- pause ------------------------------------------------------------------------------------------


@pytest.fixture
def nginx_proxy(nginx: Nginx) -> Iterator[FaultProxy]:
    with FaultProxy(("127.0.0.1", nginx.port)) as proxy:
        yield proxy


@pytest.mark.parametrize("segments", [1, 4])
def test_pause_mid_download_then_resume(
    nginx: Nginx, nginx_proxy: FaultProxy, job: Job, segments: int
) -> None:
    data = nginx.files["small.bin"]
    spec = DownloadSpec(
        nginx_proxy.url + "/small.bin", job.tmp / "s.bin", sha256=sha(data), segments=segments
    )
    nginx_proxy.rate_bps = 200_000
    job.tuning.endgame = 0  # no doubled ranges: the second run fetches exactly what is missing
    ctx = job.context()
    outcome: list[BaseException | DownloadResult] = []

    def target() -> None:
        try:
            outcome.append(run(spec, ctx))
        except BaseException as e:
            outcome.append(e)

    worker = threading.Thread(target=target)
    worker.start()
    wait_metered(lambda: job.metered >= 300_000, what="300 kB through the proxy")
    if segments > 1:
        assert nginx_proxy.live_connections >= 2
    t0 = time.monotonic()
    ctx.control.stop("pause")
    worker.join(5)
    stopped_in = time.monotonic() - t0
    print(f"stopped in {stopped_in * 1000:.0f} ms ({segments} streams)")
    assert not worker.is_alive()
    assert isinstance(outcome[0], Stopped) and outcome[0].reason == "pause"
    assert stopped_in < 1.0
    kept = job.done_bytes()
    assert 0 < kept < len(data)
    nginx_proxy.rate_bps = None
    result = job.run(spec)
    assert_done(result, spec.dest, data)
    assert result.bytes_fetched == len(data) - kept


def test_pause_while_waiting_for_the_answer(
    nginx: Nginx, nginx_proxy: FaultProxy, job: Job
) -> None:
    """No answer yet, so no socket of ours to shut: the job still returns within a second."""
    nginx_proxy.stall_after(0, direction="up")  # the request never reaches nginx
    ctx = job.context()
    outcome: list[BaseException | DownloadResult] = []
    worker = threading.Thread(
        target=lambda: outcome.append(
            _catch(
                lambda: run(DownloadSpec(nginx_proxy.url + "/small.bin", job.tmp / "s.bin"), ctx)
            )
        )
    )
    worker.start()
    nginx_proxy.wait_for_event("stall_after")  # the request is held in the proxy
    t0 = time.monotonic()
    ctx.control.stop("pause")
    worker.join(5)
    assert not worker.is_alive() and time.monotonic() - t0 < 1.0
    assert isinstance(outcome[0], Stopped)
    assert not (job.tmp / "s.bin").exists()


def _catch(fn: Callable[[], DownloadResult]) -> BaseException | DownloadResult:
    try:
        return fn()
    except BaseException as e:
        return e


def test_stop_before_start(nginx: Nginx, job: Job) -> None:
    ctx = job.context()
    ctx.control.stop("cancel")
    with pytest.raises(Stopped):
        run(DownloadSpec(nginx.url("small.bin"), job.tmp / "s.bin"), ctx)


# --- checkpoint durability --------------------------------------------------------------------------


def test_checkpoint_never_claims_more_than_the_part_holds(
    nginx: Nginx, nginx_proxy: FaultProxy, job: Job
) -> None:
    data = nginx.files["small.bin"]
    spec = DownloadSpec(nginx_proxy.url + "/small.bin", job.tmp / "s.bin", sha256=sha(data))
    nginx_proxy.rate_bps = 2_000_000
    job.tuning.endgame = 0  # no second stream on the cut range: the first run must fail
    nginx_proxy.reset_after(400_000)  # one of the four streams dies
    with pytest.raises(RetryableError, match="cut"):
        job.run(spec)
    nginx_proxy.wait_for_event("reset_after")
    assert nginx_proxy.connections >= 4
    ck = job.checkpoint.data
    part = part_of(spec.dest).read_bytes()
    assert ck["size"] == len(data) and ck["etag"]
    assert ck["segments"][0][0] == 0 and ck["segments"][-1][1] == len(data)
    missing = 0
    for start, end, done in ck["segments"]:
        assert 0 <= done <= end - start and start + done <= len(part)
        assert part[start : start + done] == data[start : start + done]
        missing += end - start - done
    assert 0 < missing < len(data)
    nginx_proxy.rate_bps = None
    result = job.run(spec)
    assert_done(result, spec.dest, data)
    assert result.bytes_fetched == missing


# --- segments: pieces in file order, stealing down to min_split, hashing the front ------------------


def _ranges(server: FileServer) -> list[tuple[int, int]]:
    out = []
    for r in server.requests:
        m = re.fullmatch(r"bytes=(\d+)-(\d+)", r.get("range", ""))
        if m:
            out.append((int(m.group(1)), int(m.group(2)) + 1))
    return out


def test_steals_split_down_to_min_split_not_checkpoint_every(server: FileServer, job: Job) -> None:
    """A stream stuck at the start of the last range: the others take it over in halves down to
    ``min_split`` (far below ``checkpoint_every``), and the file is whole."""
    data = server.data  # 3 MiB: three 1 MiB pieces for four streams
    job.tuning.segment_piece = 1 * MB
    job.tuning.checkpoint_every = 8 * MB  # the old threshold (2 x this) would forbid any split
    job.tuning.min_split = 128 * 1024
    server.hold_at = 2 * MB
    spec = DownloadSpec(server.url, job.tmp / "f.bin", sha256=sha(data), size=len(data))
    outcome: list[BaseException | DownloadResult] = []
    worker = threading.Thread(target=lambda: outcome.append(_catch(lambda: job.run(spec))))
    worker.start()
    try:
        assert server.held.wait(10)
        # the three other streams finish their pieces and split the held one between them
        wait_until(
            lambda: sum(1 for a, _ in _ranges(server) if a > 2 * MB) >= 3,
            timeout=10,
            what="three steals from the held range",
        )
    finally:
        server.release.set()
        worker.join(30)
    result = outcome[0]
    assert isinstance(result, DownloadResult), result
    assert_done(result, spec.dest, data)
    stolen = [(a, b) for a, b in _ranges(server) if a > 2 * MB]
    assert min(b - a for a, b in stolen) < 512 * 1024  # split twice and more
    assert result.bytes_fetched < len(data) + 2 * MB  # the held answer's rest is dropped
    assert set(job.checkpoint.data) <= {PLACED}


def test_pieces_are_fetched_in_file_order(nginx: Nginx, job: Job) -> None:
    data = nginx.files["big.bin"]  # 40 MiB in 4 MiB pieces for 4 streams
    job.tuning.segment_piece = 4 * MB
    before = len(nginx.log_lines())
    result = job.run(DownloadSpec(nginx.url("big.bin"), job.tmp / "b.bin", size=len(data)))
    assert_done(result, job.tmp / "b.bin", data)
    starts = [
        int(m.group(1))
        for line in nginx.log_lines()[before:]
        if (m := re.search(r'"bytes=(\d+)-', line))
    ]
    pieces = sorted(set(starts) & {i * 4 * MB for i in range(10)})
    assert pieces == [i * 4 * MB for i in range(10)]  # every piece its own request


def test_the_front_is_hashed_while_the_rest_downloads(
    server: FileServer, job: Job, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """While the last piece is held by the server, the hasher reads the two finished pieces
    before it; at the end only the last one is hashed."""
    from alu_client.core.transfers.download import fronthash

    data = server.data
    job.tuning.segment_piece = 1 * MB
    job.tuning.max_segments = 2
    job.tuning.endgame = 0  # the held piece stays held (no second stream fetches it)
    server.hold_at = 2 * MB
    hashed: list[int] = []
    real_read = fronthash._read_at

    def read_at(fd: int, n: int, pos: int, io_lock: threading.Lock) -> bytes:
        got = real_read(fd, n, pos, io_lock)
        hashed.append(pos + len(got))
        return got

    monkeypatch.setattr(fronthash, "_read_at", read_at)
    caplog.set_level("DEBUG", logger="alu_client.transfers")
    spec = DownloadSpec(server.url, job.tmp / "f.bin", sha256=sha(data), size=len(data))
    outcome: list[BaseException | DownloadResult] = []
    worker = threading.Thread(target=lambda: outcome.append(_catch(lambda: job.run(spec))))
    worker.start()
    try:
        assert server.held.wait(10)
        wait_until(lambda: max(hashed, default=0) >= 2 * MB, timeout=10, what="the front hashed")
        assert max(hashed) == 2 * MB  # never past what is written
    finally:
        server.release.set()
        worker.join(30)
    result = outcome[0]
    assert isinstance(result, DownloadResult), result
    assert_done(result, spec.dest, data)
    m = re.search(rf"(\d+) of {len(data)} bytes hashed while downloading", caplog.text)
    assert m and int(m.group(1)) >= 2 * MB  # the end hashed at most the last piece


def test_resumed_segments_hash_again_from_byte_zero(server: FileServer, job: Job) -> None:
    """The running hash is not saved: a resumed segmented download hashes the part from 0 and
    still ends with the right sha256."""
    data = server.data
    job.tuning.segment_piece = 1 * MB
    spec = DownloadSpec(server.url, job.tmp / "f.bin", sha256=sha(data), size=len(data))
    job.tuning.endgame = 0  # no second stream on the cut range: the first run must fail
    server.cut_after = 512 * 1024  # one stream is cut; the others finish their pieces
    with pytest.raises(RetryableError, match="closed the connection before the end"):
        job.run(spec)
    kept = job.done_bytes()
    assert 0 < kept < len(data)
    result = job.run(spec)
    assert_done(result, spec.dest, data)
    assert len(data) - kept <= result.bytes_fetched < len(data) - kept + 1 * MB


# --- the end game: a second stream on the last range; kept-alive connections --------------------------


def _run_in_thread(job: Job, spec: DownloadSpec) -> tuple[threading.Thread, list[Any]]:
    outcome: list[BaseException | DownloadResult] = []
    worker = threading.Thread(target=lambda: outcome.append(_catch(lambda: job.run(spec))))
    worker.start()
    return worker, outcome


def test_end_game_fetches_a_stalled_range_again_on_another_stream(
    server: FileServer, job: Job
) -> None:
    """The last piece's answer stalls after its headers. Once the other stream has nothing left
    to take or split, it asks for the same range on its own connection; the download completes
    while the stalled answer is still held (long before the stall timeout), the stalled stream
    is dropped, and every byte is written and counted once."""
    data = server.data  # 3 MiB: three 1 MiB pieces for two streams
    job.tuning.segment_piece = 1 * MB
    job.tuning.max_segments = 2
    job.tuning.min_split = 4 * MB  # no steals: only the end game can help
    job.tuning.stall_timeout = 60  # the stall alone would hold the download for a minute
    server.hold_at = 2 * MB
    writes: list[tuple[int, int]] = []
    real_write = dl._write_at

    def write_at(fd: int, chunk: bytes, pos: int, lock: threading.Lock) -> None:
        writes.append((pos, len(chunk)))
        real_write(fd, chunk, pos, lock)

    spec = DownloadSpec(server.url, job.tmp / "f.bin", sha256=sha(data), size=len(data))
    original, dl._write_at = dl._write_at, write_at
    try:
        worker, outcome = _run_in_thread(job, spec)
        wait_until(lambda: bool(outcome), timeout=20, what="the download done, stall held")
        assert not server.release.is_set()
    finally:
        server.release.set()
        dl._write_at = original
        worker.join(30)
    result = outcome[0]
    assert isinstance(result, DownloadResult), result
    assert_done(result, spec.dest, data)
    assert [a for a, _ in _ranges(server)].count(2 * MB) == 2  # the same range, twice
    assert job.metered == len(data)  # counted once
    assert sorted(writes) == _tiling(writes, len(data))  # written once, no overlap
    assert set(job.checkpoint.data) <= {PLACED}


def _tiling(writes: list[tuple[int, int]], size: int) -> list[tuple[int, int]]:
    """``writes`` sorted, after checking that they cover [0, size) exactly once."""
    pos = 0
    for start, n in sorted(writes):
        assert start == pos, f"write at {start}, expected {pos}"
        pos += n
    assert pos == size
    return sorted(writes)


def test_end_game_two_answers_with_the_same_bytes_write_each_byte_once(
    server: FileServer, job: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both answers for the last range are held, then released together: the two streams race
    over the same bytes; the written front only grows, whichever brings a byte first writes it,
    the file is right, the meter and the checkpoint count each byte once."""
    data = server.data
    job.tuning.segment_piece = 1 * MB
    job.tuning.max_segments = 2
    job.tuning.min_split = 4 * MB
    job.tuning.read_size = 64 * 1024
    server.hold_at, server.holds = 2 * MB, 2
    writes: list[tuple[int, int]] = []
    real_write = dl._write_at

    def write_at(fd: int, chunk: bytes, pos: int, lock: threading.Lock) -> None:
        writes.append((pos, len(chunk)))
        real_write(fd, chunk, pos, lock)

    monkeypatch.setattr(dl, "_write_at", write_at)
    spec = DownloadSpec(server.url, job.tmp / "f.bin", sha256=sha(data), size=len(data))
    worker, outcome = _run_in_thread(job, spec)
    try:
        wait_until(lambda: server.held_count == 2, timeout=10, what="both answers held")
    finally:
        server.release.set()
        worker.join(30)
    result = outcome[0]
    assert isinstance(result, DownloadResult), result
    assert_done(result, spec.dest, data)
    assert job.metered == len(data)
    _tiling(writes, len(data))
    assert len(data) <= result.bytes_fetched <= len(data) + 1 * MB
    assert set(job.checkpoint.data) <= {PLACED}


def test_end_game_checkpoint_of_a_doubled_range_is_an_unbroken_prefix(
    server: FileServer, job: Job
) -> None:
    """A pause while two streams are on the last range: the checkpoint claims only the
    unbroken front of it, the part file holds those bytes, and the next run completes."""
    data = server.data
    job.tuning.segment_piece = 1 * MB
    job.tuning.max_segments = 2
    job.tuning.min_split = 4 * MB
    job.tuning.stall_timeout = 60
    server.hold_at, server.holds = 2 * MB, 2
    spec = DownloadSpec(server.url, job.tmp / "f.bin", sha256=sha(data), size=len(data))
    ctx = job.context()
    outcome: list[BaseException | DownloadResult] = []
    worker = threading.Thread(target=lambda: outcome.append(_catch(lambda: run(spec, ctx))))
    worker.start()
    try:
        wait_until(lambda: server.held_count == 2, timeout=10, what="both answers held")
        ctx.control.stop("pause")
        worker.join(5)
        assert not worker.is_alive()
    finally:
        server.release.set()
        worker.join(30)
    assert isinstance(outcome[0], Stopped)
    ck = job.checkpoint.data
    part = part_of(spec.dest).read_bytes()
    for start, _end, done in ck["segments"]:
        assert part[start : start + done] == data[start : start + done]
    assert job.done_bytes() == 2 * MB  # the last range: nothing of it claimed
    result = job.run(spec)
    assert_done(result, spec.dest, data)
    assert 1 * MB <= result.bytes_fetched <= 2 * MB  # at most a double of the missing range


def test_a_stream_keeps_its_connection_from_piece_to_piece(server: FileServer, job: Job) -> None:
    """A stream that read a piece's answer to its end asks for the next piece on the same
    kept-alive connection (its TCP window stays open): three pieces, two streams, two
    connections."""
    data = server.data
    job.tuning.segment_piece = 1 * MB
    job.tuning.max_segments = 2
    job.tuning.min_split = 4 * MB
    job.tuning.endgame = 0
    spec = DownloadSpec(server.url, job.tmp / "f.bin", sha256=sha(data), size=len(data))
    result = job.run(spec)
    assert_done(result, spec.dest, data)
    ranged = [r for r in server.requests if r.get("range")]
    assert len(ranged) == 3
    assert len({r["peer"] for r in ranged}) == 2


def test_the_other_streams_connect_while_the_first_answer_is_on_its_way(
    server: FileServer, job: Job
) -> None:
    """The first request (the probe) waits for its answer; meanwhile the other three streams
    have opened their connections, and their requests later go over those (none is opened
    after the answer came)."""
    data = server.data
    job.tuning.endgame = 0
    server.hold_at, server.hold_headers = 0, True
    spec = DownloadSpec(server.url, job.tmp / "f.bin", sha256=sha(data))
    worker, outcome = _run_in_thread(job, spec)
    try:
        assert server.held.wait(10)
        wait_until(lambda: server.connections >= 4, timeout=10, what="four connections")
        opened_early = set(server.peers)
    finally:
        server.release.set()
        worker.join(30)
    result = outcome[0]
    assert isinstance(result, DownloadResult), result
    assert_done(result, spec.dest, data)
    # the streams with work sent their requests over the connections they opened while the
    # first answer was on its way (a loaded machine may add a reconnect after a stall:
    # allowed). How many had work is the machine's: under load two streams once took every
    # piece before the other two were scheduled, and those two sent nothing
    ranged = {r["peer"] for r in server.requests if r.get("range")}
    assert len(ranged & opened_early) >= 2, (ranged, opened_early)
    assert len(ranged - opened_early) <= 1, (ranged, opened_early)


@dataclass
class QueuedRow:
    """The fields of a transfer row ``jobs.download_job`` reads (a dataclass, as ``Transfer``
    is: the job moves its destination with ``dataclasses.replace``), changed by the tests."""

    id: int
    destination: str
    attempts: int
    sha256: str | None
    size: int | None
    source: str
    options: dict[str, Any] = field(default_factory=dict)
    item_id: str | None = None


def queued_download(server: FileServer, dest: Path) -> Any:
    """A transfer row as the queue hands it to ``jobs.download_job`` (the fields it reads)."""
    return QueuedRow(
        id=1,
        destination=str(dest),
        attempts=1,
        sha256=sha(server.data),
        size=len(server.data),
        source=server.url,
    )


def test_the_result_gives_the_files_own_time_once_in_place(server: FileServer, job: Job) -> None:
    """The library keeps it to tell this file from one written at its name later (another
    workstation's download into a shared folder): read from the file renamed into place, the
    file system's time, not this machine's clock."""
    dest = job.tmp / "f.bin"
    transfer = queued_download(server, dest)
    result = jobs.download_job(transfer, job.context())
    assert dest.read_bytes() == server.data
    assert result["mtime_ns"] == dest.stat().st_mtime_ns


def test_a_file_of_the_same_bytes_put_there_by_another_is_not_taken_for_our_own(
    server: FileServer, job: Job
) -> None:
    """A run died after renaming its file into place; the file went (deleted, cleaned) and
    another workstation sharing the folder downloaded the same item to the same name. The
    next run must not take that file for the one it placed: the checkpoint knows that one by
    its device, inode and time. The other's file is the item's, checked: kept as found in the
    folder, as when this download waited for it (it failed "already there" before)."""
    dest = job.tmp / "f.bin"
    transfer = queued_download(server, dest)
    jobs.download_job(transfer, job.context())
    # (the queue did not record the end: the checkpoint still names the file placed)
    assert PLACED in job.checkpoint.data
    ours = dest.stat()
    dest.unlink()
    other = job.tmp / "other.bin"
    other.write_bytes(server.data)  # the other workstation's download, renamed into place
    os.utime(other, ns=(ours.st_atime_ns, ours.st_mtime_ns + 5_000_000_000))
    other_ino = other.stat().st_ino
    other.rename(dest)
    transfer.attempts = 2
    asked = len(server.requests)
    result = jobs.download_job(transfer, job.context())
    assert result["found_in_folder"] is True and result["bytes_fetched"] == 0
    assert result["path"] == str(dest) and len(server.requests) == asked
    assert dest.stat().st_ino == other_ino and dest.read_bytes() == server.data
