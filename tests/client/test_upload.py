"""The upload job against the real hub on loopback (and a bare tus server), with the fault proxy
in front for resets, stalls, throttling and canned answers. Bytes are checked where they land:
the hub's ``on_upload_complete`` is wrapped to hash the upload's file before it is published (or
refused: random bytes are no video)."""

from __future__ import annotations

import base64
import dataclasses
import errno
import hashlib
import itertools
import json
import logging
import math
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from fastapi import FastAPI, Request, Response
from sqlalchemy import select
from tusclient import client as tus_client
from tusclient.fingerprint.fingerprint import Fingerprint as TuspyFingerprint

from alu_client.cli.queue_verbs import transfer_command
from alu_client.core.store import Store
from alu_client.core.store.transfers import StoreCheckpoint, TransferStore
from alu_client.core.transfers import upload as upload_module
from alu_client.core.transfers.base import (
    Control,
    MemoryCheckpoint,
    PermanentError,
    RetryableError,
    SessionPool,
    Stopped,
    TransferContext,
    Tuning,
)
from alu_client.core.transfers.queue import TransferQueue
from alu_client.core.transfers.upload import (
    CHECKSUM_PREFERENCE,
    FILE_CHANGED,
    LOST_NOTE,
    Fingerprinter,
    StoreUrlStorage,
    UploadResult,
    UploadSpec,
    fastest_checksum,
    fingerprint,
    poll_outcome,
    run,
    sample_ranges,
    terminate,
)
from alu_client.core.transfers.upload import checksums as upload_checksums
from alu_client.core.transfers.upload import parallel as upload_parallel
from alu_client.core.transfers.upload import protocol as upload_protocol
from alu_client.core.transfers.upload import services as upload_services
from alu_client.core.transfers.upload import spec as upload_spec
from alu_client.core.transfers.upload.checksums import Crc32, region_digests
from alu_client.core.transfers.upload.streaming import _ChunkSize
from alu_hub.models import Upload
from alu_hub.server import RunningHub, serve_in_thread
from alu_hub.tus import routes as tus_routes
from tests.hub.conftest import LiveHub, start_hub
from tests.support.faultproxy import FaultProxy
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(120)

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
ROOT = Path(__file__).resolve().parents[2]


# --- helpers ----------------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(MIB):
            h.update(block)
    return h.hexdigest()


def random_file(path: Path, size: int) -> Path:
    path.write_bytes(os.urandom(size))
    return path


def meta_for(path: Path, **extra: str) -> dict[str, str]:
    return {"filename": path.name, "sha256": sha256_file(path), **extra}


def upload_id(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def is_patch(head: bytes) -> bool:
    return head.startswith(b"PATCH ")


def is_head(head: bytes) -> bool:
    return head.startswith(b"HEAD ")


def watch(proxy: FaultProxy) -> list[bytes]:
    """Every request head the proxy forwards from now on (an injection that never matches)."""
    heads: list[bytes] = []

    def record(head: bytes) -> bool:
        heads.append(head)
        return False

    proxy.inject_http_response(599, match=record)
    return heads


def header_of(head: bytes, name: bytes) -> bytes | None:
    for line in head.split(b"\r\n")[1:]:
        key, sep, value = line.partition(b":")
        if sep and key.strip().lower() == name:
            return value.strip()
    return None


@dataclass
class Ctx:
    """A TransferContext for one run, counting metered bytes; ``again()`` is the next run with
    the same checkpoint (as the queue does after a RetryableError or a pause)."""

    token: str
    checkpoint: MemoryCheckpoint = field(default_factory=MemoryCheckpoint)
    tuning: dict[str, Any] = field(default_factory=dict)
    pools: list[SessionPool] = field(default_factory=list)
    metered: int = 0
    notes: list[str] = field(default_factory=list)
    on_meter: Callable[[int], None] | None = None
    #: the progress as the queue keeps it (the meter's bytes, set by ``progress``, taken back
    #: by ``rewind``) and the most it ever said
    done: int = 0
    most: int = 0

    def __post_init__(self) -> None:
        self.control = Control()
        self.sessions = SessionPool()
        self.pools.append(self.sessions)
        self._lock = threading.Lock()
        self.ctx = TransferContext(
            control=self.control,
            checkpoint=self.checkpoint,
            sessions=self.sessions,
            meter=self._meter,
            headers={"Authorization": f"Bearer {self.token}"},
            tuning=Tuning(**self.tuning),
            note=self.notes.append,
            progress=self._progress,
            rewind=self._rewind,
        )

    def _progress(self, done: int, _total: int | None) -> None:
        with self._lock:
            self.done = done
            self.most = max(self.most, done)

    def _rewind(self, n: int) -> None:
        with self._lock:
            self.done = max(0, self.done - n)

    def _meter(self, n: int) -> None:
        with self._lock:
            self.metered += n
            self.done += n
            self.most = max(self.most, self.done)
            total = self.metered
        if self.on_meter is not None:
            self.on_meter(total)

    def stop_after(self, nbytes: int, reason: str = "pause") -> None:
        def maybe(total: int) -> None:
            if total >= nbytes:
                self.control.stop(reason)

        self.on_meter = maybe

    def again(self) -> Ctx:
        nxt = Ctx(self.token, self.checkpoint, self.tuning, self.pools)
        nxt.metered = self.metered
        nxt.done, nxt.most = self.done, self.most
        return nxt


class Completed:
    """Wraps the hub's completion hook: hashes each completed upload's bytes, then lets the
    hub publish (or refuse) it as usual."""

    def __init__(self, live: LiveHub) -> None:
        self.live = live
        self.original = live.hub.on_upload_complete
        self.sums: dict[str, str] = {}
        self.cv = threading.Condition()

    def __call__(self, uid: str) -> None:
        digest = sha256_file(self.live.hub.settings.uploads_dir / uid)
        with self.cv:
            self.sums[uid] = digest
            self.cv.notify_all()
        self.original(uid)

    def sha256(self, url: str, timeout: float = 30.0) -> str:
        uid = upload_id(url)
        with self.cv:
            assert self.cv.wait_for(lambda: uid in self.sums, timeout), "upload never completed"
            return self.sums[uid]


def run_until_done(spec: UploadSpec, c: Ctx, attempts: int = 4) -> tuple[UploadResult, Ctx, int]:
    """Runs as the queue would: after a RetryableError, again with the same checkpoint.
    Returns the result, the last run's Ctx (its ``metered`` is the total) and the failures."""
    failures = 0
    for _ in range(attempts):
        try:
            return run(spec, c.ctx), c, failures
        except RetryableError:
            failures += 1
            c = c.again()
    raise AssertionError(f"no success in {attempts} runs")


def tus_head(url: str, token: str) -> requests.Response:
    return requests.head(
        url, headers={"Tus-Resumable": "1.0.0", "Authorization": f"Bearer {token}"}, timeout=10
    )


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    tmp = tmp_path_factory.mktemp("upload-hub")
    live = start_hub(tmp)
    live.login("ktn")
    yield live
    for thread in threading.enumerate():  # publishing in flight: let it finish first
        if thread.name.startswith(("upload-done:", "upload-concat:")):
            thread.join(30)
    live.server.stop()
    live.hub.db.dispose()
    shutil.rmtree(tmp / "hub", ignore_errors=True)


@pytest.fixture
def token(hub: LiveHub) -> str:
    return hub.tokens["ktn"]


@pytest.fixture
def done(hub: LiveHub) -> Iterator[Completed]:
    completed = Completed(hub)
    hub.hub.on_upload_complete = completed
    yield completed
    hub.hub.on_upload_complete = completed.original


@pytest.fixture
def proxy(hub: LiveHub) -> Iterator[FaultProxy]:
    with FaultProxy(("127.0.0.1", hub.server.port)) as p:
        yield p


@pytest.fixture
def new_ctx(token: str) -> Iterator[Callable[..., Ctx]]:
    pools: list[SessionPool] = []

    def make(**tuning: Any) -> Ctx:
        return Ctx(token, tuning=tuning, pools=pools)

    yield make
    for pool in pools:
        pool.close()


def endpoint(proxy: FaultProxy) -> str:
    return f"{proxy.url}/api/v1/uploads/"


# --- 1, 2: whole uploads ----------------------------------------------------------------------


def test_uploads_in_256k_chunks_on_one_connection(
    hub: LiveHub,
    done: Completed,
    proxy: FaultProxy,
    new_ctx: Callable[..., Ctx],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    heads = watch(proxy)
    path = random_file(tmp_path / "rushes.mxf", 6 * MIB + 12345)
    size = path.stat().st_size
    c = new_ctx()
    meta = meta_for(path)

    result = run(UploadSpec(path, endpoint(proxy), meta, chunk_size=256 * KIB), c.ctx)

    assert (result.size, result.bytes_sent, result.restarted) == (size, size, False)
    assert done.sha256(result.url) == sha256_file(path)
    assert c.metered == size  # progress moved block by block, each byte once
    patches = [h for h in heads if is_patch(h)]
    assert len(patches) == math.ceil(size / (256 * KIB))
    assert [header_of(h, b"content-length") for h in patches[:-1]] == [b"262144"] * (
        len(patches) - 1
    )
    # the hub lists sha1, sha256, md5 and crc32: the fastest of them on this CPU is used
    fastest = fastest_checksum(["sha1", "sha256", "md5", "crc32"], CHECKSUM_PREFERENCE)
    assert fastest is not None
    prefix = fastest.encode() + b" "
    assert all((header_of(h, b"upload-checksum") or b"").startswith(prefix) for h in patches)
    assert not any(header_of(h, b"transfer-encoding") for h in heads)
    assert proxy.connections == 1  # OPTIONS, POST, every PATCH and the HEAD: one connection
    saved = c.checkpoint.data
    assert saved["url"] == result.url and saved["complete"] is True
    assert (saved["size"], saved["mtime_ns"]) == (size, path.stat().st_mtime_ns)
    assert saved["fingerprint"] == fingerprint(path, meta["sha256"])
    # random bytes are no video: the hub refuses to publish them, and says so
    state, item_id, error = poll_outcome(result.url, c.ctx, 30, result.url)
    assert state == "failed" and item_id is None and error
    # the upload URL (a secret) and the token never reach our logs
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("alu_client"))
    assert "upload rushes.mxf" in ours
    assert upload_id(result.url) not in ours and c.token not in ours


def test_publish_end_to_end(
    hub: LiveHub,
    new_ctx: Callable[..., Ctx],
    clip: Path,
) -> None:
    sha = sha256_file(clip)
    meta = {"filename": "Nairobi floods.mp4", "sha256": sha, "title": "Flooded roads in Nairobi"}
    c = new_ctx()

    result = run(UploadSpec(clip, hub.api("/uploads/"), meta), c.ctx)
    assert result.state in ("processing", "published")  # the hub publishes asynchronously
    state, item_id, error = poll_outcome(result.url, c.ctx, 60, result.url)

    assert (state, error) == ("published", "") and item_id
    rts = hub.login("rts")
    feed = rts.get(hub.api("/items"), timeout=10).json()["items"]
    item = next(i for i in feed if i["id"] == item_id)
    assert item["kind"] == "member_upload" and item["title"] == "Flooded roads in Nairobi"
    broadcast = next(r for r in item["renditions"] if r["name"] == "broadcast")
    assert broadcast["sha256"] == sha


def test_adaptive_chunks_grow_on_a_fast_link(
    done: Completed, proxy: FaultProxy, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    heads = watch(proxy)
    path = random_file(tmp_path / "grow.bin", 8 * MIB)
    c = new_ctx(upload_chunk_size=MIB)

    result = run(UploadSpec(path, endpoint(proxy), meta_for(path)), c.ctx)

    lengths = [int(header_of(h, b"content-length") or 0) for h in heads if is_patch(h)]
    assert lengths == [MIB, 2 * MIB, 4 * MIB, MIB]  # doubling (loopback is fast), then the rest
    assert done.sha256(result.url) == sha256_file(path)


def test_a_new_upload_starts_with_a_small_chunk_and_grows_on_a_slow_link(
    done: Completed, proxy: FaultProxy, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    # nothing known of the link yet (a new workstation): the first chunk was 16 MiB, 35 s at
    # 4 Mbit/s, and a drop in it lost all that was sent of it (checksums: the hub drops it)
    heads = watch(proxy)
    proxy.rate_bps = 2_000_000
    path = random_file(tmp_path / "first.bin", 14 * MIB)
    c = new_ctx()  # the default tuning

    result = run(UploadSpec(path, endpoint(proxy), meta_for(path)), c.ctx)

    lengths = [int(header_of(h, b"content-length") or 0) for h in heads if is_patch(h)]
    assert lengths[0] == 2 * MIB, lengths
    assert lengths[1] > lengths[0] and sum(lengths) == 14 * MIB, lengths
    assert done.sha256(result.url) == sha256_file(path)


def test_a_drop_early_in_a_new_upload_costs_little_of_it(
    done: Completed, proxy: FaultProxy, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    # a drop 1.5 MiB into a new upload: the chunk it cut is sent again whole (its checksum
    # unmet, the hub dropped it), and that chunk was the whole file up to 16 MiB; now it is
    # the first, small one
    proxy.rate_bps = 2_000_000
    path = random_file(tmp_path / "dropped.bin", 8 * MIB)
    size = path.stat().st_size
    proxy.reset_after(3 * MIB // 2, "up")

    result, last, _ = run_until_done(UploadSpec(path, endpoint(proxy), meta_for(path)), new_ctx())

    assert proxy.wait_for_event("reset_after")
    assert done.sha256(result.url) == sha256_file(path)
    assert last.metered - size <= 2 * MIB, last.metered - size  # at most the first chunk again


def test_chunks_grow_to_256_mib_on_a_fast_link_and_stay_near_8_s_on_a_slower_one() -> None:
    """Each chunk's end waits for the server to store it and answer: on loopback a 1 GiB upload
    with chunks of at most 64 MiB (18 of them) took ~14 % longer than with 256 MiB ones (8)."""
    fast = _ChunkSize(16 * MIB, 256 * KIB, adaptive=True)
    sizes = []
    for _ in range(7):
        sizes.append(fast.size // MIB)
        fast.after(fast.size, fast.size / 1e9)  # 1 GB/s
    assert sizes == [16, 32, 64, 128, 256, 256, 256]
    assert fast.candidates() == {128 * MIB, 256 * MIB}  # the next chunk's digest ahead
    slow = _ChunkSize(16 * MIB, 256 * KIB, adaptive=True)
    for _ in range(10):
        slow.after(slow.size, slow.size / 20e6)  # 20 MB/s: 8 s of it is 160 MB
    assert slow.size == 128 * MIB


# --- 3, 4: resets and stalls ------------------------------------------------------------------


def test_reset_mid_chunk_resumes_at_the_hubs_offset(
    done: Completed, proxy: FaultProxy, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    path = random_file(tmp_path / "a.bin", 6 * MIB)
    size, chunk = path.stat().st_size, 1 * MIB
    proxy.reset_after(2 * MIB + 300 * KIB, "up")  # in the third chunk's body

    result, last, _ = run_until_done(
        UploadSpec(path, endpoint(proxy), meta_for(path), chunk_size=chunk), new_ctx()
    )

    assert proxy.wait_for_event("reset_after")
    assert done.sha256(result.url) == sha256_file(path)
    assert size < last.metered <= size + chunk  # the cut chunk again, nothing more


def test_a_chunk_cut_on_a_slow_link_sizes_the_next_one_to_the_link(
    done: Completed, proxy: FaultProxy, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    # a cut halved the chunk: 16, 8, then 4 MiB, 134, 67 and 34 s at 1 Mbit/s, most of them
    # cut whole on a link that drops every minute; now what the cut chunk carried decides
    heads = watch(proxy)
    proxy.rate_bps = 250_000
    path = random_file(tmp_path / "slow.bin", 12 * MIB)
    proxy.reset_after(3_500_000, "up")  # ~14 s into the first (16 MiB) chunk's body

    def fast_again() -> None:  # the rest at loopback speed: only the sizes matter here
        proxy.wait_for_event("reset_after", timeout=60)
        proxy.rate_bps = None

    threading.Thread(target=fast_again, daemon=True).start()
    big_first = new_ctx(upload_first_chunk=16 * MIB)  # (as a first chunk used to be)
    result, _last, _ = run_until_done(UploadSpec(path, endpoint(proxy), meta_for(path)), big_first)
    assert done.sha256(result.url) == sha256_file(path)
    lengths = [int(header_of(h, b"content-length") or 0) for h in heads if is_patch(h)]
    # what the cut chunk carried, socket buffers included (~0.5 MB/s), in ~8 s: 2 or 4 MiB,
    # not 8 MiB (the half of 16)
    assert lengths[0] == 12 * MIB and lengths[1] <= 4 * MIB, lengths


@pytest.mark.parametrize("parallel", [1, 3])
def test_progress_never_counts_what_a_cut_lost(
    parallel: int, done: Completed, proxy: FaultProxy, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    # a link that drops again and again: each cut PATCH's tail, counted as it left, never
    # reached the hub and is sent again; the progress must not count it twice (it reached
    # 100 % long before the end) — one stream, and parts on three
    path = random_file(tmp_path / "cut.bin", 6 * MIB)
    size = path.stat().st_size
    for at in (700 * KIB, 900 * KIB, 1100 * KIB):
        proxy.reset_after(at, "up")
    spec = UploadSpec(path, endpoint(proxy), meta_for(path), chunk_size=1 * MIB, parallel=parallel)

    result, last, _ = run_until_done(spec, new_ctx(), attempts=6)

    assert done.sha256(result.url) == sha256_file(path)
    assert last.metered > size  # bytes were sent again (else this shows nothing)
    assert last.most <= size, f"the progress said {last.most} of {size} bytes"
    assert last.done == size


def test_parts_resumed_after_a_kill_count_what_the_server_confirmed(
    done: Completed, proxy: FaultProxy, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    # a kill -9 mid-chunk leaves the saved progress counting bytes the hub never confirmed;
    # one stream's HEAD sets it right, parts' did not: 27.3 MB of a 24 MB file after two
    # kills with --parallel 4
    path = random_file(tmp_path / "parts.bin", 6 * MIB)
    size = path.stat().st_size
    spec = UploadSpec(path, endpoint(proxy), meta_for(path), chunk_size=256 * KIB, parallel=3)
    proxy.rate_bps = 1_000_000
    first = new_ctx()
    first.stop_after(3 * MIB)
    with pytest.raises(Stopped):
        run(spec, first.ctx)
    proxy.rate_bps = None
    again = first.again()
    again.done += 2 * MIB  # what the killed run counted and the hub never got (no rewind)
    result = run(spec, again.ctx)
    assert done.sha256(result.url) == sha256_file(path)
    assert again.most <= size, f"the progress said {again.most} of {size} bytes"
    # (what a part's HEAD shows beyond its last confirmed chunk, kept by the hub of a PATCH
    # the stop cut, is not counted: under, never over; the queue sets the whole size at the end)
    assert size - 2 * 256 * KIB * 3 <= again.done <= size


def test_parts_resumed_from_an_older_versions_checkpoint_keep_their_progress(
    done: Completed,
    proxy: FaultProxy,
    new_ctx: Callable[..., Ctx],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a checkpoint that kept no part's confirmed bytes (an upload begun before they were):
    # its progress was set to 0 at the resume (38 % at the end of a 6 MiB upload)
    from alu_client.core.transfers.upload.storage import StoreUrlStorage

    path = random_file(tmp_path / "parts.bin", 6 * MIB)
    size = path.stat().st_size
    spec = UploadSpec(path, endpoint(proxy), meta_for(path), chunk_size=256 * KIB, parallel=3)
    proxy.rate_bps = 1_000_000
    first = new_ctx()
    first.stop_after(4 * MIB)
    with monkeypatch.context() as m:  # as the older version: nothing of the parts kept
        m.setattr(StoreUrlStorage, "set_part_done", lambda *_a, **_k: None)
        with pytest.raises(Stopped):
            run(spec, first.ctx)
    proxy.rate_bps = None
    assert "done" not in first.checkpoint.data and first.done > 2 * MIB
    again = first.again()
    result = run(spec, again.ctx)
    assert done.sha256(result.url) == sha256_file(path)
    assert size - 2 * 256 * KIB * 3 <= again.done <= size


def test_parts_resumed_that_the_server_lost_meanwhile_are_not_counted_twice(
    done: Completed, proxy: FaultProxy, new_ctx: Callable[..., Ctx], token: str, tmp_path: Path
) -> None:
    # the resume counts each part's confirmed bytes; a part the hub then answers 404 for (it
    # expired, was cleaned up while the engine was down) is sent again: its count went back
    # only from the offset this run had seen, 0 (6.55 of 6.29 MB)
    path = random_file(tmp_path / "parts.bin", 6 * MIB)
    size = path.stat().st_size
    spec = UploadSpec(path, endpoint(proxy), meta_for(path), chunk_size=256 * KIB, parallel=3)
    proxy.rate_bps = 1_000_000
    first = new_ctx()
    first.stop_after(2 * MIB)  # (each stream part-way through its first part)
    with pytest.raises(Stopped):
        run(spec, first.ctx)
    proxy.rate_bps = None
    cp = first.checkpoint.data
    auth = {"Tus-Resumable": "1.0.0", "Authorization": f"Bearer {token}"}
    lost = 0
    for k, n in cp["done"].items():  # the hub drops every part begun (not a complete one)
        status = requests.delete(cp["parts"][k], headers=auth, timeout=10).status_code
        assert status in (204, 409), status
        lost += n if status == 204 else 0
    assert lost > 2 * 256 * KIB  # (else it shows nothing: more than a cut chunk's under-count)
    again = first.again()
    result = run(spec, again.ctx)
    assert done.sha256(result.url) == sha256_file(path)
    assert again.most <= size, f"the progress said {again.most} of {size} bytes"
    assert again.done >= size - 2 * 256 * KIB * 3  # (taken back once, not twice)


@pytest.mark.parametrize("direction", ["up", "down"])
def test_stall_is_cut_and_resumed(
    direction: str,
    done: Completed,
    proxy: FaultProxy,
    new_ctx: Callable[..., Ctx],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="alu_client")
    # up: the body stops flowing mid-chunk while the client is still sending (the chunk is
    # larger than the loopback socket buffers: the send blocks, and the watchdog cuts it);
    # down: the answer to the third chunk never comes back (the read timeout)
    size, chunk = (20 * MIB, 16 * MIB) if direction == "up" else (4 * MIB, MIB)
    path = random_file(tmp_path / "b.bin", size)
    c = new_ctx(stall_timeout=1.0)
    if direction == "up":
        proxy.stall_after(MIB, "up")
    else:
        armed: list[bool] = []

        def arm(total: int) -> None:
            if total > 2 * MIB + 100 * KIB and not armed:
                armed.append(True)
                proxy.stall_after(0, "down")  # the next bytes back: this PATCH's answer

        c.on_meter = arm
    t0 = time.monotonic()

    result, last, _ = run_until_done(
        UploadSpec(path, endpoint(proxy), meta_for(path), chunk_size=chunk), c
    )

    assert proxy.wait_for_event("stall_after")
    assert time.monotonic() - t0 < 10
    assert "The link stalled." in caplog.text
    assert done.sha256(result.url) == sha256_file(path)
    assert last.metered <= size + chunk


# --- 5: canned answers --------------------------------------------------------------------------


def test_423_waits_and_goes_on(
    done: Completed, proxy: FaultProxy, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    path = random_file(tmp_path / "c.bin", 3 * MIB)
    proxy.inject_http_response(423, {"Retry-After": "1"}, match=is_patch)
    t0 = time.monotonic()

    result = run(UploadSpec(path, endpoint(proxy), meta_for(path), chunk_size=MIB), new_ctx().ctx)

    assert proxy.wait_for_event("inject 423")
    assert time.monotonic() - t0 >= 1.0  # waited as asked
    assert done.sha256(result.url) == sha256_file(path)


def test_460_sends_the_chunk_again(
    done: Completed, proxy: FaultProxy, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    heads = watch(proxy)
    path = random_file(tmp_path / "sum.bin", 3 * MIB)
    proxy.inject_http_response(460, times=2, match=is_patch)

    result = run(UploadSpec(path, endpoint(proxy), meta_for(path), chunk_size=MIB), new_ctx().ctx)

    offsets = [header_of(h, b"upload-offset") for h in heads if is_patch(h)]
    assert offsets == [b"0", b"0", b"0", b"1048576", b"2097152"]  # the first chunk, 3 times
    assert done.sha256(result.url) == sha256_file(path)


@pytest.mark.parametrize("algorithm", ["crc32", "sha1", "sha256", "md5"])
def test_a_chunk_damaged_on_the_way_is_refused_and_sent_again(
    done: Completed,
    proxy: FaultProxy,
    new_ctx: Callable[..., Ctx],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    algorithm: str,
) -> None:
    monkeypatch.setattr(upload_module, "CHECKSUM_PREFERENCE", (algorithm,))
    heads = watch(proxy)
    path = random_file(tmp_path / "damaged.bin", 3 * MIB)
    # one byte of the second chunk's body inverted (the heads before it are a few kB)
    proxy.corrupt_after(MIB + MIB // 2, direction="up")
    spec = UploadSpec(path, endpoint(proxy), meta_for(path), chunk_size=MIB, parallel=1)

    result = run(spec, new_ctx().ctx)

    assert proxy.wait_for_event("corrupt_after")
    patches = [h for h in heads if is_patch(h)]
    prefix = algorithm.encode() + b" "
    assert all((header_of(h, b"upload-checksum") or b"").startswith(prefix) for h in patches)
    offsets = [header_of(h, b"upload-offset") for h in patches]
    assert offsets == [b"0", b"1048576", b"1048576", b"2097152"]  # the hub refused it: 460
    assert done.sha256(result.url) == sha256_file(path)


def test_crc32_only_where_the_server_says_its_byte_order(
    done: Completed,
    proxy: FaultProxy,
    new_ctx: Callable[..., Ctx],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(upload_module, "CHECKSUM_PREFERENCE", ("crc32",))
    path = random_file(tmp_path / "other.bin", 2 * MIB)
    # the ALU hub says how it reads a crc32 (Alu-Tus-Features: crc32-big-endian): used
    heads = watch(proxy)
    run(UploadSpec(path, endpoint(proxy), meta_for(path), chunk_size=MIB), new_ctx().ctx)
    sums = [header_of(h, b"upload-checksum") or b"" for h in heads if is_patch(h)]
    assert [v[:6] for v in sums] == [b"crc32 "] * 2
    # another tus server listing crc32 without saying so: a digest whose bytes tus defines
    tus_only = {
        "Tus-Resumable": "1.0.0",
        "Tus-Version": "1.0.0",
        "Tus-Extension": "creation,termination,checksum",
        "Tus-Checksum-Algorithm": "crc32,sha1",
    }
    proxy.inject_http_response(204, tus_only, match=lambda h: h.startswith(b"OPTIONS "))
    monkeypatch.setattr(upload_module, "CHECKSUM_PREFERENCE", ("crc32", "sha1"))
    heads = watch(proxy)
    result = run(UploadSpec(path, endpoint(proxy), meta_for(path), chunk_size=MIB), new_ctx().ctx)
    sums = [header_of(h, b"upload-checksum") or b"" for h in heads if is_patch(h)]
    assert [v[:5] for v in sums] == [b"sha1 "] * 2
    assert done.sha256(result.url) == sha256_file(path)


def test_crc32_is_zlibs_in_big_endian_and_copies_mid_stream(tmp_path: Path) -> None:
    crc = Crc32()
    crc.update(b"1234")
    half = crc.copy()
    crc.update(b"56789")
    assert crc.digest() == bytes.fromhex("cbf43926")  # CRC-32 of "123456789"
    half.update(b"5")
    assert half.digest() == zlib.crc32(b"12345").to_bytes(4, "big")
    path = random_file(tmp_path / "r.bin", 300_000)
    data = path.read_bytes()
    got = region_digests(path, "crc32", 1000, [0, 5, 200_000], lambda: None)
    assert got == {
        n: base64.b64encode(zlib.crc32(data[1000 : 1000 + n]).to_bytes(4, "big")).decode()
        for n in (0, 5, 200_000)
    }


def test_crc32_is_isals_and_gives_zlibs_values() -> None:
    """The chunk CRCs come from ISA-L (a dependency: 3-5x zlib's speed on this VM, a quarter
    of the CPU a checksummed 1 GiB upload spent on them), which must give zlib's values."""
    isal_zlib = pytest.importorskip("isal.isal_zlib")
    assert upload_checksums._crc32 is isal_zlib.crc32
    data = os.urandom(1 << 20)
    for n in (0, 1, 7, 64, 4095, 65_537, 1 << 20):
        view = memoryview(data)[3 : 3 + n]
        for start in (0, 0xDEADBEEF):
            crc = Crc32(start)
            crc.update(view)
            assert crc.digest() == zlib.crc32(view, start).to_bytes(4, "big")


def test_503_retry_after_is_honoured(
    done: Completed, proxy: FaultProxy, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    path = random_file(tmp_path / "d.bin", 2 * MIB)
    spec = UploadSpec(path, endpoint(proxy), meta_for(path), chunk_size=MIB)
    # a short Retry-After is waited for in the run
    proxy.inject_http_response(503, {"Retry-After": "1"}, match=is_patch)
    t0 = time.monotonic()
    result = run(spec, new_ctx().ctx)
    assert time.monotonic() - t0 >= 1.0
    assert done.sha256(result.url) == sha256_file(path)

    # a long one goes to the queue at once, and the next run goes on from the checkpoint
    other = random_file(tmp_path / "e.bin", 2 * MIB)
    spec = UploadSpec(other, endpoint(proxy), meta_for(other), chunk_size=MIB)
    proxy.inject_http_response(503, {"Retry-After": "120"}, match=is_patch)
    c = new_ctx()
    t0 = time.monotonic()
    with pytest.raises(RetryableError) as caught:
        run(spec, c.ctx)
    assert caught.value.retry_after == 120 and time.monotonic() - t0 < 5
    result = run(spec, c.again().ctx)
    assert done.sha256(result.url) == sha256_file(other)

    # the in-run budget: three quick resumes, then RetryableError with the server's Retry-After
    third = random_file(tmp_path / "f.bin", 2 * MIB)
    spec = UploadSpec(third, endpoint(proxy), meta_for(third), chunk_size=MIB)
    proxy.inject_http_response(503, {"Retry-After": "0"}, times=4, match=is_patch)
    c = new_ctx()
    with pytest.raises(RetryableError) as caught:
        run(spec, c.ctx)
    assert caught.value.retry_after == 0
    result = run(spec, c.again().ctx)
    assert done.sha256(result.url) == sha256_file(third)


def test_413_halves_the_chunk(
    done: Completed, proxy: FaultProxy, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    heads = watch(proxy)
    path = random_file(tmp_path / "g.bin", 5 * MIB)
    proxy.inject_http_response(413, match=is_patch)

    result = run(
        UploadSpec(path, endpoint(proxy), meta_for(path), chunk_size=2 * MIB), new_ctx().ctx
    )

    lengths = [int(header_of(h, b"content-length") or 0) for h in heads if is_patch(h)]
    assert lengths[0] == 2 * MIB  # refused
    assert lengths[1:] == [MIB] * 5  # halved, and it stays there
    assert done.sha256(result.url) == sha256_file(path)


def test_413_for_long_texts_blames_the_texts_not_the_file(
    proxy: FaultProxy, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    """The hub refuses an Upload-Metadata over its limit with 413 (a script and a shot list
    of emoji): the user heard "does not accept a file this large (0.0393 MB)" for a 39 kB
    file, and a retry could not help."""
    path = random_file(tmp_path / "emoji.bin", 40 * KIB)
    meta = meta_for(path, script="\U0001f30a" * 40_000)  # 213 KiB of base64
    with pytest.raises(PermanentError) as refused:
        run(UploadSpec(path, endpoint(proxy), meta), new_ctx().ctx)
    assert str(refused.value) == upload_protocol.MSG_METADATA_TOO_LARGE


def test_404_on_resume_starts_a_new_upload(
    done: Completed, proxy: FaultProxy, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    path = random_file(tmp_path / "h.bin", 3 * MIB)
    size = path.stat().st_size
    spec = UploadSpec(path, endpoint(proxy), meta_for(path), chunk_size=512 * KIB)
    first = new_ctx()
    first.stop_after(MIB)
    with pytest.raises(Stopped):
        run(spec, first.ctx)
    old_url = first.checkpoint.data["url"]

    proxy.inject_http_response(404, match=is_head)
    second = first.again()
    result = run(spec, second.ctx)

    assert proxy.wait_for_event("inject 404")
    assert result.restarted and result.url != old_url
    assert second.notes == [LOST_NOTE]
    assert result.bytes_sent == size  # from offset 0 again
    assert done.sha256(result.url) == sha256_file(path)
    # the hub still held the old one (the 404 was not its own): told to drop it, not left
    # there until it expires
    assert tus_head(old_url, second.token).status_code in (404, 410)


# --- 6: servers with and without the extensions ------------------------------------------------


def plain_tus_app(root: Path, seen: list[tuple[str, dict[str, str]]]) -> FastAPI:
    """tus 1.0 core + creation and nothing else: no OPTIONS (405), relative Locations."""
    app = FastAPI()
    uploads: dict[str, list[int]] = {}  # id -> [length, offset]

    def tus(status: int, **headers: str) -> Response:
        return Response(status_code=status, headers={"Tus-Resumable": "1.0.0", **headers})

    @app.post("/files/")
    async def create(request: Request) -> Response:
        seen.append(("POST", dict(request.headers)))
        uid = secrets.token_hex(8)
        (root / uid).write_bytes(b"")
        uploads[uid] = [int(request.headers["upload-length"]), 0]
        return tus(201, Location=f"/files/{uid}")

    @app.head("/files/{uid}")
    async def head(uid: str) -> Response:
        if uid not in uploads:
            return tus(404)
        length, offset = uploads[uid]
        return tus(200, **{"Upload-Offset": str(offset), "Upload-Length": str(length)})

    @app.patch("/files/{uid}")
    async def patch(uid: str, request: Request) -> Response:
        seen.append(("PATCH", dict(request.headers)))
        offset = uploads[uid][1]
        if int(request.headers["upload-offset"]) != offset:
            return tus(409)
        if "content-length" not in request.headers:
            return tus(411)
        with open(root / uid, "r+b") as f:
            f.seek(offset)
            async for block in request.stream():
                f.write(block)
                offset += len(block)
        uploads[uid][1] = offset
        return tus(204, **{"Upload-Offset": str(offset)})

    return app


def test_plain_tus_server_gets_one_stream(new_ctx: Callable[..., Ctx], tmp_path: Path) -> None:
    root = tmp_path / "plain"
    root.mkdir()
    seen: list[tuple[str, dict[str, str]]] = []
    server: RunningHub = serve_in_thread(plain_tus_app(root, seen))
    try:
        path = random_file(tmp_path / "i.bin", 3 * MIB + 7)
        result = run(
            UploadSpec(path, f"{server.url}/files/", meta_for(path), chunk_size=MIB, parallel=3),
            new_ctx().ctx,
        )
    finally:
        server.stop()

    assert result.url.startswith(f"{server.url}/files/")  # the relative Location, resolved
    assert (result.state, result.item_id, result.error) == ("", None, "")
    assert sha256_file(root / upload_id(result.url)) == sha256_file(path)
    assert [m for m, _ in seen] == ["POST"] + ["PATCH"] * 4  # one upload, no parts
    assert not any("upload-checksum" in h or "upload-concat" in h for _, h in seen)


def test_parallel_parts_are_concatenated(
    hub: LiveHub,
    done: Completed,
    proxy: FaultProxy,
    new_ctx: Callable[..., Ctx],
    tmp_path: Path,
) -> None:
    heads = watch(proxy)
    path = random_file(tmp_path / "j.bin", 6 * MIB + 1001)
    size = path.stat().st_size
    spec = UploadSpec(path, endpoint(proxy), meta_for(path), chunk_size=512 * KIB, parallel=3)
    first = new_ctx()
    first.stop_after(3 * MIB)  # a pause half way: the plan and the parts are in the checkpoint
    with pytest.raises(Stopped):
        run(spec, first.ctx)
    plan = first.checkpoint.data["parts"]
    made = {rng for rng, url in plan.items() if url}
    assert len(plan) == 6 and len(made) >= 3  # 1 MiB parts; each stream had taken one or more

    second = first.again()
    result = run(spec, second.ctx)

    posts = [h for h in heads if h.startswith(b"POST ")]
    concat = [header_of(h, b"upload-concat") for h in posts]
    assert concat == [b"partial"] * len(plan) + [concat[-1]]  # each part made once; the final
    assert concat[-1] is not None and concat[-1].startswith(b"final;")
    assert len(concat[-1].split()) == len(plan)
    assert result.bytes_sent < size  # the second run went on where the parts stood
    assert done.sha256(result.url) == sha256_file(path)
    saved = second.checkpoint.data
    assert saved["url"] == result.url and saved["complete"] and "parts" not in saved


def concat_of(head: bytes) -> bytes:
    return header_of(head, b"upload-concat") or b""


def test_the_hub_joins_the_parts_while_they_upload(
    hub: LiveHub,
    done: Completed,
    proxy: FaultProxy,
    new_ctx: Callable[..., Ctx],
    tmp_path: Path,
) -> None:
    # concatenation-unfinished: the final upload is asked for once every part exists, so the
    # hub joins each part as it completes instead of copying the whole file after the last byte
    heads = watch(proxy)
    proxy.rate_bps = 3 * MIB  # per connection: the parts take a second or two
    path = random_file(tmp_path / "early.bin", 8 * MIB + 77)
    c = new_ctx()

    result = run(
        UploadSpec(path, endpoint(proxy), meta_for(path), chunk_size=256 * KIB, parallel=2),
        c.ctx,
    )

    finals = [i for i, h in enumerate(heads) if concat_of(h).startswith(b"final;")]
    patches = [i for i, h in enumerate(heads) if is_patch(h)]
    assert len(finals) == 1
    assert finals[0] < patches[-1]  # asked for while parts were still being sent
    assert done.sha256(result.url) == sha256_file(path)
    assert c.checkpoint.data["complete"] and "final" not in c.checkpoint.data


@pytest.fixture
def quick_judge(monkeypatch: pytest.MonkeyPatch) -> None:
    """Streams judged on chunks of a fraction of a second (the real floor is seconds)."""
    monkeypatch.setattr(upload_services, "JUDGE_MIN_S", 0.05)


@pytest.mark.usefixtures("quick_judge")
def test_a_starved_connection_is_renewed_at_a_chunks_end(
    hub: LiveHub,
    done: Completed,
    proxy: FaultProxy,
    new_ctx: Callable[..., Ctx],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # one of the streams' TCP connections gets a tenth of its sibling's rate (as a bbr flow
    # can on a lossy link): after its chunk it is given a new connection, which goes at the
    # sibling's rate, and the file arrives whole
    caplog.set_level(logging.INFO, logger="alu_client")
    proxy.rate_bps = 2 * MIB
    proxy.throttle_connection(1, 150 * KIB)  # stream 0's: the first one opened
    path = random_file(tmp_path / "starved.bin", 6 * MIB + 5)

    result = run(
        UploadSpec(path, endpoint(proxy), meta_for(path), chunk_size=256 * KIB, parallel=2),
        new_ctx().ctx,
    )

    renewed = [r.getMessage() for r in caplog.records if "new connection" in r.getMessage()]
    assert renewed and all("stream 0 " in m for m in renewed), renewed
    assert len(renewed) == 1  # at most once per RENEW_EVERY_S
    assert proxy.connections >= 4  # two streams, the creator, the renewed stream
    assert done.sha256(result.url) == sha256_file(path)


@pytest.mark.usefixtures("quick_judge")
def test_connections_going_at_like_rates_are_kept(
    hub: LiveHub,
    done: Completed,
    proxy: FaultProxy,
    new_ctx: Callable[..., Ctx],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="alu_client")
    proxy.rate_bps = 1 * MIB
    path = random_file(tmp_path / "even.bin", 4 * MIB + 5)

    result = run(
        UploadSpec(path, endpoint(proxy), meta_for(path), chunk_size=256 * KIB, parallel=2),
        new_ctx().ctx,
    )

    assert not [r for r in caplog.records if "new connection" in r.getMessage()]
    assert proxy.connections == 3  # the two streams and the creator, kept alive throughout
    assert done.sha256(result.url) == sha256_file(path)


class Recording(MemoryCheckpoint):
    """A checkpoint that keeps every state it was saved in."""

    def __init__(self) -> None:
        super().__init__()
        self.history: list[dict[str, Any]] = []

    def save(self, data: dict[str, Any]) -> None:
        super().save(data)
        self.history.append(self.load())


def test_killed_after_the_early_join_the_next_run_sends_nothing_again(
    hub: LiveHub,
    done: Completed,
    proxy: FaultProxy,
    new_ctx: Callable[..., Ctx],
    tmp_path: Path,
    token: str,
) -> None:
    heads = watch(proxy)
    proxy.rate_bps = 3 * MIB
    path = random_file(tmp_path / "k.bin", 6 * MIB + 9)
    spec = UploadSpec(path, endpoint(proxy), meta_for(path), chunk_size=256 * KIB, parallel=2)
    recording = Recording()
    first = Ctx(token, recording)
    joined = run(spec, first.ctx)
    done.sha256(joined.url)  # the hub joined the parts (and terminated them) meanwhile

    def published_or_refused() -> bool:  # random bytes: the hub's publishing refuses them
        with hub.hub.db.session() as s:
            state = s.execute(
                select(Upload.state).where(Upload.id == upload_id(joined.url))
            ).scalar()
        return state in ("published", "failed")

    wait_until(published_or_refused, timeout=30)
    # the engine was killed after the last byte, before it stored that the upload is complete:
    # the last state saved with the early final upload's URL and every part
    before = [
        h for h in recording.history if h.get("final") and not h.get("complete") and h["parts"]
    ][-1]
    assert before["final"] == joined.url and all(before["parts"].values())
    posts = sum(1 for h in heads if h.startswith(b"POST "))

    second = Ctx(token, MemoryCheckpoint(before))
    result = run(spec, second.ctx)

    # every part answers 410 naming that final upload: nothing is sent or created again
    assert result.url == joined.url
    assert second.metered == 0 and not result.restarted
    assert sum(1 for h in heads if h.startswith(b"POST ")) == posts
    assert second.checkpoint.data["complete"]
    assert list(done.sums) == [upload_id(joined.url)]


def test_an_early_final_upload_the_run_forgot_is_found_at_the_end(
    hub: LiveHub,
    done: Completed,
    proxy: FaultProxy,
    new_ctx: Callable[..., Ctx],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the early POST's answer is lost and the run forgets it (as when a part is made again
    # meanwhile): the hub joins the parts into it all the same, and the final POST at the end
    # is refused (400: the parts are taken); the run finds that final upload and uses it
    real = upload_parallel._PartsJob._final_early

    def forgetful(self: upload_parallel._PartsJob, parts: Any, stream: int) -> None:
        real(self, parts, stream)
        self.storage.set_early_final(None)

    monkeypatch.setattr(upload_parallel._PartsJob, "_final_early", forgetful)
    heads = watch(proxy)
    path = random_file(tmp_path / "forgot.bin", 4 * MIB + 1)
    spec = UploadSpec(path, endpoint(proxy), meta_for(path), chunk_size=256 * KIB, parallel=2)

    result = run(spec, new_ctx().ctx)

    assert len([h for h in heads if concat_of(h).startswith(b"final;")]) == 2
    assert done.sha256(result.url) == sha256_file(path)
    assert list(done.sums) == [upload_id(result.url)]  # one file published, not two


def test_parts_are_joined_at_the_end_by_a_server_that_wants_them_complete(
    hub: LiveHub,
    done: Completed,
    proxy: FaultProxy,
    new_ctx: Callable[..., Ctx],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tus_routes, "TUS_EXTENSIONS", "creation,termination,checksum,concatenation")
    heads = watch(proxy)
    proxy.rate_bps = 3 * MIB
    path = random_file(tmp_path / "late.bin", 4 * MIB + 3)

    result = run(
        UploadSpec(path, endpoint(proxy), meta_for(path), chunk_size=256 * KIB, parallel=2),
        new_ctx().ctx,
    )

    finals = [i for i, h in enumerate(heads) if concat_of(h).startswith(b"final;")]
    patches = [i for i, h in enumerate(heads) if is_patch(h)]
    assert len(finals) == 1 and finals[0] > patches[-1]
    assert done.sha256(result.url) == sha256_file(path)


def test_a_part_the_hub_lost_after_an_early_join_is_joined_at_the_end(
    hub: LiveHub,
    done: Completed,
    proxy: FaultProxy,
    new_ctx: Callable[..., Ctx],
    tmp_path: Path,
) -> None:
    heads = watch(proxy)
    proxy.rate_bps = MIB  # per connection: the parts take seconds, also on a busy machine
    path = random_file(tmp_path / "lost.bin", 12 * MIB + 5)
    c = new_ctx()
    results: list[UploadResult] = []
    spec = UploadSpec(path, endpoint(proxy), meta_for(path), chunk_size=256 * KIB, parallel=2)

    def finals() -> set[str]:  # the hub serves the whole module: earlier tests' too
        with hub.hub.db.session() as s:
            return set(s.execute(select(Upload.id).where(Upload.concat == "final")).scalars())

    before = finals()
    worker = threading.Thread(target=lambda: results.append(run(spec, c.ctx)))
    worker.start()
    wait_until(lambda: finals() - before, timeout=20)
    (early,) = finals() - before
    # the hub loses a part of it still being sent (as expire_uploads does: state and bytes)
    with hub.hub.db.session() as s:
        part = (
            s.execute(
                select(Upload).where(
                    Upload.parts["final"].as_string() == early,
                    Upload.state == "receiving",
                    Upload.offset < Upload.length,
                )
            )
            .scalars()
            .first()
        )
        assert part is not None, "every part was complete already: send more bytes"
        part.state = "expired"
        lost = part.id
    (hub.hub.settings.uploads_dir / lost).unlink()
    worker.join(60)

    assert results, "the upload did not finish"
    result = results[0]
    posts = [h for h in heads if concat_of(h).startswith(b"final;")]
    assert len(posts) == 2  # the early join, dropped; then the parts as they are, joined
    assert result.restarted
    assert upload_id(result.url) != early
    assert done.sha256(result.url) == sha256_file(path)
    with hub.hub.db.session() as s:
        state = s.execute(select(Upload.state).where(Upload.id == early)).scalar()
    assert state in ("terminated", "failed")  # the early one did not publish


def test_parts_are_taken_from_a_queue_by_the_streams(
    hub: LiveHub,
    done: Completed,
    proxy: FaultProxy,
    new_ctx: Callable[..., Ctx],
    tmp_path: Path,
) -> None:
    heads = watch(proxy)
    path = random_file(tmp_path / "queue.bin", 24 * MIB + 5)
    c = new_ctx(upload_chunk_size=MIB)

    result = run(UploadSpec(path, endpoint(proxy), meta_for(path), parallel=2), c.ctx)

    partial = [h for h in heads if header_of(h, b"upload-concat") == b"partial"]
    lengths = [int(header_of(h, b"upload-length") or 0) for h in partial]
    assert len(lengths) > 2  # more parts than streams...
    # ...on two connections, each taking the next part, and one creating the parts ahead
    assert proxy.connections == 3
    assert sum(lengths) == path.stat().st_size
    assert lengths[0] > lengths[-2]  # large parts first, small ones at the end
    assert lengths[-1] <= lengths[0] // 2
    assert done.sha256(result.url) == sha256_file(path)


@pytest.mark.parametrize("size", [3 * MIB, 100 * 10**6, GIB, 10 * GIB + 7])
def test_parts_shrink_to_a_few_mib_whatever_the_file_size(size: int) -> None:
    ranges = upload_protocol._plan(size, 4, upload_spec.MIN_PART)

    assert ranges[0][0] == 0 and ranges[-1][1] == size
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))  # contiguous
    lengths = [e - s for s, e in ranges]
    assert all(n >= min(upload_spec.MIN_PART, size) // 2 for n in lengths)
    assert lengths == sorted(lengths[:-1], reverse=True) + lengths[-1:]  # shrinking
    # the parts left when the queue runs dry are small, so the slowest stream's tail is short
    # (a 1 GiB file used to end on 16 MiB parts: 10 s at a quarter of a 20 Mbit/s link)
    assert max(lengths[-4:]) <= 6 * MIB
    assert len(ranges) <= 64  # and few enough that the per-part round trips stay rare


def auto_spec(proxy: FaultProxy, path: Path) -> UploadSpec:
    """``parallel`` left to the job (None), as the queue and ``alu tus-put`` leave it."""
    return UploadSpec(path, endpoint(proxy), meta_for(path), chunk_size=512 * KIB)


def partial_posts(heads: list[bytes]) -> int:
    return sum(1 for h in heads if header_of(h, b"upload-concat") == b"partial")


@pytest.fixture
def small_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files of 4 MiB count as large enough for parts, so the choice is quick to test."""
    monkeypatch.setattr(upload_parallel, "PARALLEL_THRESHOLD", 4 * MIB)


@pytest.mark.usefixtures("small_threshold")
def test_auto_is_one_stream_on_a_short_path(
    done: Completed, proxy: FaultProxy, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    # the hub on loopback: parts would only add its join, so a large file goes on one stream
    heads = watch(proxy)
    path = random_file(tmp_path / "near.bin", 8 * MIB + 3)
    c = new_ctx()

    result = run(auto_spec(proxy, path), c.ctx)

    assert partial_posts(heads) == 0
    assert proxy.connections == 1
    assert done.sha256(result.url) == sha256_file(path)


@pytest.mark.usefixtures("small_threshold")
def test_auto_is_parallel_parts_on_a_long_path(
    done: Completed, proxy: FaultProxy, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    proxy.delay_s = 0.030  # each way: a 60 ms round trip, over the 20 ms limit
    heads = watch(proxy)
    path = random_file(tmp_path / "far.bin", 8 * MIB + 3)
    c = new_ctx(max_parallel_uploads=3)

    result = run(auto_spec(proxy, path), c.ctx)

    assert partial_posts(heads) >= 3
    assert proxy.connections >= 3  # the streams and the one creating parts ahead
    assert done.sha256(result.url) == sha256_file(path)


@pytest.mark.usefixtures("small_threshold")
def test_auto_limit_is_a_tuning(
    done: Completed, proxy: FaultProxy, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    # the same loopback path counts as long with a limit below any round trip
    heads = watch(proxy)
    path = random_file(tmp_path / "tuned.bin", 8 * MIB + 3)
    c = new_ctx(parallel_upload_min_rtt=0.0)

    result = run(auto_spec(proxy, path), c.ctx)

    assert partial_posts(heads) > 1
    assert done.sha256(result.url) == sha256_file(path)


@pytest.mark.usefixtures("small_threshold")
def test_a_resumed_upload_keeps_its_parts_whatever_the_path(
    done: Completed, proxy: FaultProxy, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    path = random_file(tmp_path / "moved.bin", 8 * MIB + 3)
    proxy.delay_s = 0.030
    first = new_ctx(max_parallel_uploads=2)
    first.stop_after(2 * MIB)  # paused on the long path: parts planned and begun
    with pytest.raises(Stopped):
        run(auto_spec(proxy, path), first.ctx)
    plan = first.checkpoint.data["parts"]
    assert len(plan) > 1

    proxy.delay_s = 0.0  # resumed on a short path (another network): the plan stands
    heads = watch(proxy)
    result = run(auto_spec(proxy, path), first.again().ctx)

    finals = [header_of(h, b"upload-concat") for h in heads if h.startswith(b"POST ")]
    assert finals[-1] is not None and finals[-1].startswith(b"final;")
    assert len(finals[-1].split()) == len(plan)
    assert result.bytes_sent < path.stat().st_size
    assert done.sha256(result.url) == sha256_file(path)


@pytest.mark.usefixtures("small_threshold")
@pytest.mark.parametrize("status", [500, 522, 404])
def test_a_resumed_upload_keeps_its_parts_when_options_fails_once(
    done: Completed, proxy: FaultProxy, new_ctx: Callable[..., Ctx], tmp_path: Path, status: int
) -> None:
    # an OPTIONS answered 500 (or a CDN's 522, a proxy's 404) was taken for "plain tus": the
    # parts already sent were DELETEd and the whole file sent again on one stream
    path = random_file(tmp_path / "parts.bin", 8 * MIB + 3)
    proxy.delay_s = 0.030
    first = new_ctx(max_parallel_uploads=2)
    first.stop_after(3 * MIB)
    with pytest.raises(Stopped):
        run(auto_spec(proxy, path), first.ctx)
    assert len(first.checkpoint.data["parts"]) > 1

    heads = watch(proxy)
    proxy.inject_http_response(status, match=lambda h: h.startswith(b"OPTIONS "))
    again = first.again()
    if status == 404:
        result = run(auto_spec(proxy, path), again.ctx)
    else:
        with pytest.raises(RetryableError):  # the queue backs off, then runs it again
            run(auto_spec(proxy, path), again.ctx)
        result = run(auto_spec(proxy, path), again.again().ctx)

    assert not any(h.startswith(b"DELETE ") for h in heads), heads
    assert result.bytes_sent < path.stat().st_size  # what the parts held was not sent again
    assert done.sha256(result.url) == sha256_file(path)


# --- 7: pause and cancel ------------------------------------------------------------------------


def start_upload(spec: UploadSpec, c: Ctx) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def go() -> None:
        try:
            run(spec, c.ctx)
        except BaseException as e:
            errors.append(e)

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    return thread, errors


def test_a_run_stopped_in_its_first_chunk_makes_the_next_one_fit_the_link(
    hub: LiveHub,
    done: Completed,
    proxy: FaultProxy,
    new_ctx: Callable[..., Ctx],
    tmp_path: Path,
) -> None:
    # each run began with a 16 MiB chunk, dropped whole by the hub when cut (checksums): on a
    # 1 MB/s link, runs stopped after a few seconds each kept nothing, and every rerun sent
    # from byte 0 again with the same 16 MiB chunk
    from alu_client.core.transfers.upload.job import _Job

    proxy.rate_bps = 1_000_000
    path = random_file(tmp_path / "r.bin", 20 * MIB)
    spec = UploadSpec(path, endpoint(proxy), meta_for(path))  # adaptive, from 16 MiB
    c = new_ctx(upload_first_chunk=16 * MIB)  # (as a first chunk used to be)
    moving = threading.Event()
    c.on_meter = lambda total: moving.set() if total >= 3_000_000 else None
    thread, errors = start_upload(spec, c)
    assert moving.wait(20)
    time.sleep(4)  # a run of a few seconds, stopped (Ctrl-C, a kill) in its first chunk
    c.control.stop("pause")
    thread.join(10)
    assert len(errors) == 1 and isinstance(errors[0], Stopped)
    url = c.checkpoint.data["url"]
    assert int(tus_head(url, c.token).headers["Upload-Offset"]) == 0  # the 16 MiB chunk: cut
    # what the link carried, as the client saw it (loopback's socket buffers make it more)
    assert 500_000 < c.checkpoint.data["rate"] < 4_000_000, c.checkpoint.data

    # the next run starts with what the link carries in ~TARGET_CHUNK_S (8 s), not 16 MiB:
    # at 1 MB/s, 4 MiB (the largest size of the sizer's steps under 8 MB)
    c.checkpoint.data["rate"] = 1_000_000
    again = c.again()
    job = _Job(spec, again.ctx, checksum_preference=("crc32",))
    try:
        assert job._sizer().size == 4 * MIB
    finally:
        job.close()
    proxy.rate_bps = None
    result = run(spec, again.ctx)
    assert done.sha256(result.url) == sha256_file(path)


def test_a_new_upload_starts_with_chunks_of_what_the_link_to_its_server_carried(
    hub: LiveHub,
    done: Completed,
    proxy: FaultProxy,
    new_ctx: Callable[..., Ctx],
    tmp_path: Path,
) -> None:
    # what a run measured sized that upload's own reruns only: each new upload began with a
    # 16 MiB chunk (134 s on a 1 Mbit/s uplink, dropped whole when cut with checksums), so a
    # member's uploads of the day each met the same slow start
    from alu_client.core.transfers.upload.job import _Job

    kept: dict[str, float] = {}
    proxy.rate_bps = 1_000_000
    first = random_file(tmp_path / "monday.bin", 4 * MIB)
    c = new_ctx(upload_chunk_size=2 * MIB)
    c.ctx = dataclasses.replace(c.ctx, remember_link_rate=kept.__setitem__)
    run(UploadSpec(first, endpoint(proxy), meta_for(first)), c.ctx)
    server = proxy.url.rstrip("/")  # (its origin: http://127.0.0.1:PORT)
    assert list(kept) == [server]
    assert 500_000 < kept[server] < 4_000_000, kept  # (loopback's socket buffers add some)

    kept[server] = 1_000_000
    second = random_file(tmp_path / "tuesday.bin", 4 * MIB)
    fresh = new_ctx()  # a new upload: nothing of its own measured, 2 MiB by default
    fresh.ctx = dataclasses.replace(fresh.ctx, link_rate=kept.get)
    job = _Job(
        UploadSpec(second, endpoint(proxy), meta_for(second)),
        fresh.ctx,
        checksum_preference=("crc32",),
    )
    try:
        # at 1 MB/s, 4 MiB: the largest of the sizer's steps the link carries in ~8 s
        assert job._sizer().size == 4 * MIB
        # on four streams each has a quarter of the link: 1 MiB each (each began with 4 MiB,
        # four times the 8 s aimed at); what a stream of four carries is a quarter of the link
        job.sharing = 4
        assert job._sizer().size == 1 * MIB

        def unreadable(_server: str) -> float | None:
            raise OSError("disk I/O error")  # the library cannot be read: the default size

        fresh.ctx.link_rate = unreadable
        assert job._sizer().size == 2 * MIB  # (nothing known: tuning.upload_first_chunk)
        fresh.ctx.remember_link_rate = kept.__setitem__
        mine, *others = [job.new_flight() for _ in range(4)]
        for f in others:
            f.begin()  # three other streams sending: the link is four times what one carried
        job.link_measured(200_000, mine)
        assert kept[server] == 800_000
        for f in others:
            f.end()  # alone at the end, it carried the whole link (not a quarter of it)
        job.link_measured(700_000, mine)
        assert kept[server] == 700_000
        # under a limit, what the limit lets through: a first chunk sized to the link alone
        # took 25 s under 400 kB/s, and a kill lost it whole (four kills, the hub still at 0)
        job.sharing = 1
        unlimited = job._sizer().size  # (this upload's own last measure, 700 kB/s)
        fresh.ctx.limit = lambda: 100_000.0
        assert job._sizer().size == 512 * KIB  # 8 s of 100 kB/s, in the sizer's steps
        fresh.ctx.limit = lambda: 50_000_000.0  # a limit above the link changes nothing
        assert job._sizer().size == unlimited == 4 * MIB
    finally:
        job.close()


def test_pause_mid_chunk_then_resume_then_cancel(
    hub: LiveHub,
    done: Completed,
    proxy: FaultProxy,
    new_ctx: Callable[..., Ctx],
    tmp_path: Path,
) -> None:
    proxy.rate_bps = 200_000
    path = random_file(tmp_path / "k.bin", 3 * MIB)
    size = path.stat().st_size
    spec = UploadSpec(path, endpoint(proxy), meta_for(path), chunk_size=256 * KIB)
    c = new_ctx()
    moving = threading.Event()
    c.on_meter = lambda total: moving.set() if total >= 600_000 else None
    thread, errors = start_upload(spec, c)
    assert moving.wait(20)

    t0 = time.monotonic()
    c.control.stop("pause")
    thread.join(5)
    assert time.monotonic() - t0 < 1.0
    assert len(errors) == 1 and isinstance(errors[0], Stopped) and errors[0].reason == "pause"

    proxy.rate_bps = None
    resumed = c.again()
    result = run(spec, resumed.ctx)
    assert result.bytes_sent <= size - 512 * KIB  # two chunks had arrived before the pause
    assert done.sha256(result.url) == sha256_file(path)

    # cancel: the hub is told to drop the upload
    proxy.rate_bps = 200_000
    other = random_file(tmp_path / "l.bin", 3 * MIB)
    c = new_ctx()
    c.on_meter = lambda total: moving.set() if total >= 600_000 else None
    moving.clear()
    other_spec = UploadSpec(other, endpoint(proxy), meta_for(other), chunk_size=256 * KIB)
    thread, errors = start_upload(other_spec, c)
    assert moving.wait(20)
    url = c.checkpoint.data["url"]
    c.control.stop("cancel")
    thread.join(10)
    assert len(errors) == 1 and isinstance(errors[0], Stopped) and errors[0].reason == "cancel"
    # the DELETE: the queue's, once it recorded the cancel (the job keeps the URLs for it)
    assert terminate(other_spec, c.again().ctx)
    assert tus_head(url, c.token).status_code in (404, 410)
    assert c.checkpoint.data == {}


@pytest.mark.parametrize(("parallel", "where"), [(1, "app"), (2, "app"), (2, "cli")])
def test_a_paused_upload_canceled_is_deleted_on_the_hub(
    hub: LiveHub, token: str, proxy: FaultProxy, tmp_path: Path, parallel: int, where: str
) -> None:
    # cancel of an upload that is not running (paused: the usual way in the app) must still
    # tell the hub to drop it, and forget its URLs (secrets) — it used to do neither. From the
    # CLI (`alu queue cancel`, another process, no engine there) the next engine does it.
    proxy.rate_bps = 300_000
    path = random_file(tmp_path / "p.bin", 4 * MIB)
    store = Store(tmp_path / "queue.db")
    queue = TransferQueue(store, headers_for=lambda _t: {"Authorization": f"Bearer {token}"})
    tid = queue.add_upload(
        path, endpoint(proxy), meta_for(path), chunk_size=256 * KIB, parallel=parallel
    )
    queue.start()
    try:
        wait_until(lambda: queue.snapshot()[0].bytes_done > 600_000, timeout=30, what="bytes")
        queue.pause(tid)
        assert queue.wait_for(tid, 10, states=("paused",)).state == "paused"
        urls = StoreUrlStorage(StoreCheckpoint(queue.transfers, tid)).urls()
        # one upload, or the final one and its parts
        assert len(urls) == 1 if parallel == 1 else len(urls) > 2
        assert all(tus_head(u, token).status_code == 200 for u in urls)

        if where == "app":
            queue.cancel(tid)
        else:
            queue.stop()
            transfer_command(TransferStore(store), tid, "cancel")  # what `alu queue cancel` does
            queue = TransferQueue(
                store, headers_for=lambda _t: {"Authorization": f"Bearer {token}"}
            ).start()
        assert queue.transfers.get(tid).state == "canceled"  # type: ignore[union-attr]
        wait_until(
            lambda: all(tus_head(u, token).status_code in (404, 410) for u in urls),
            timeout=20,
            what="the hub dropping the canceled upload",
        )
        wait_until(lambda: queue.transfers.load_checkpoint(tid) == {}, timeout=10, what="forgot")
    finally:
        queue.stop()
        store.close()


# --- 8: fingerprint and a changed source --------------------------------------------------------


def test_fingerprint_does_not_collide_where_tuspys_does(tmp_path: Path) -> None:
    header = os.urandom(64 * KIB)
    a = tmp_path / "a.mp4"
    b = tmp_path / "b.mp4"
    a.write_bytes(header + b"A" * 5000)
    b.write_bytes(header + b"B" * 5000)
    with open(a, "rb") as fa, open(b, "rb") as fb:
        assert TuspyFingerprint().get_fingerprint(fa) == TuspyFingerprint().get_fingerprint(fb)
    assert fingerprint(a) != fingerprint(b)
    # the same bytes elsewhere are another upload too; tuspy's interface gives the same key
    c = tmp_path / "c.mp4"
    shutil.copy2(a, c)
    assert fingerprint(a) != fingerprint(c)
    with open(a, "rb") as fa:
        assert Fingerprinter().get_fingerprint(fa) == fingerprint(a)


def test_fingerprint_samples_a_large_file_and_keys_the_callers_sha256(tmp_path: Path) -> None:
    size = 256 * MIB
    path = tmp_path / "big.mxf"
    with open(path, "wb") as f:
        f.truncate(size)
    regions = sample_ranges(size)
    assert regions[0][0] == 0 and regions[-1][1] == size  # head and tail
    assert sum(e - s for s, e in regions) <= 4 * MIB  # not the whole file
    assert sample_ranges(3 * MIB) == [(0, 3 * MIB)]  # small files: all of it
    sha = "ab" * 32
    assert fingerprint(path, sha).startswith(f"sha256:{sha} ")
    assert fingerprint(path, "not a sha256") == fingerprint(path)
    keys = {fingerprint(path)}
    st = path.stat()
    for where in (regions[0][0], regions[len(regions) // 2][0] + 7, size - 1):
        with open(path, "r+b") as f:
            f.seek(where)
            f.write(b"x")
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # the old mtime put back
        keys.add(fingerprint(path))
    assert len(keys) == 4  # each edit in a sampled region gives another key


def test_checksums_are_computed_while_the_previous_chunk_is_sent(
    done: Completed,
    proxy: FaultProxy,
    new_ctx: Callable[..., Ctx],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inline: list[tuple[int, int]] = []
    real = upload_services.region_digests

    def counted(path: Any, algorithm: str, pos: int, lengths: Any, check: Any) -> dict[int, str]:
        inline.append((pos, *lengths))
        return real(path, algorithm, pos, lengths, check)

    monkeypatch.setattr(upload_services, "region_digests", counted)
    heads = watch(proxy)
    path = random_file(tmp_path / "ahead.bin", 8 * MIB)
    c = new_ctx(upload_chunk_size=MIB)

    result = run(UploadSpec(path, endpoint(proxy), meta_for(path)), c.ctx)

    patches = [h for h in heads if is_patch(h)]
    assert [int(header_of(h, b"content-length") or 0) for h in patches] == [
        MIB,
        2 * MIB,
        4 * MIB,
        MIB,
    ]
    assert all(header_of(h, b"upload-checksum") for h in patches)  # the hub checked each one
    assert inline == [(0, MIB)]  # only the first chunk's digest held the send back
    assert done.sha256(result.url) == sha256_file(path)
    wait_until(
        lambda: not any(t.name == "alu-upload-digest" for t in threading.enumerate()),
        what="the digest threads to end",
    )


def test_the_fastest_listed_checksum_is_used() -> None:
    assert fastest_checksum(["sha256"], CHECKSUM_PREFERENCE) == "sha256"
    assert fastest_checksum([" MD5", "crc64nvme"], CHECKSUM_PREFERENCE) == "md5"
    assert fastest_checksum(["CRC32"], CHECKSUM_PREFERENCE) == "crc32"
    assert fastest_checksum(["crc64nvme", "sha512"], CHECKSUM_PREFERENCE) is None  # none we use
    assert fastest_checksum(["sha1", "md5"], ()) is None  # checksums off
    listed = ["sha1", "sha256", "md5", "crc32"]
    assert fastest_checksum(listed, CHECKSUM_PREFERENCE) in CHECKSUM_PREFERENCE


@pytest.mark.parametrize("how", ["appended", "rewritten with the same size and mtime"])
def test_source_changed_between_runs(
    how: str,
    token: str,
    proxy: FaultProxy,
    new_ctx: Callable[..., Ctx],
    tmp_path: Path,
) -> None:
    path = random_file(tmp_path / "m.bin", 3 * MIB)
    spec = UploadSpec(path, endpoint(proxy), meta_for(path), chunk_size=512 * KIB)
    first = new_ctx()
    first.stop_after(MIB)
    with pytest.raises(Stopped):
        run(spec, first.ctx)
    old_url = first.checkpoint.data["url"]
    assert tus_head(old_url, token).status_code == 200

    st = path.stat()
    if how == "appended":
        with open(path, "ab") as f:
            f.write(b"more")
    else:
        with open(path, "r+b") as f:
            f.seek(2 * MIB)
            f.write(b"edited")
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert (path.stat().st_size, path.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)

    for _ in range(2):  # and it stays refused
        with pytest.raises(PermanentError) as caught:
            run(spec, first.again().ctx)
        assert caught.value.message == FILE_CHANGED
    assert tus_head(old_url, token).status_code == 410  # the old upload was DELETEd


@pytest.mark.parametrize("parallel", [1, 2])
def test_a_touched_file_goes_on_from_the_servers_offset(
    parallel: int,
    proxy: FaultProxy,
    done: Completed,
    new_ctx: Callable[..., Ctx],
    tmp_path: Path,
) -> None:
    # a backup tool, an indexer or `touch` gives the file a new time, its bytes stay: the
    # upload started over from the first byte (hours on a member's link); the whole file is
    # now read against the sha256 it is sent with, and the upload goes on
    path = random_file(tmp_path / "t.bin", 8 * MIB)
    spec = UploadSpec(
        path, endpoint(proxy), meta_for(path), chunk_size=256 * KIB, parallel=parallel
    )
    first = new_ctx()
    first.stop_after(2 * MIB)
    with pytest.raises(Stopped):
        run(spec, first.ctx)
    key = "parts" if parallel > 1 else "url"
    assert key in first.checkpoint.data
    held = json.dumps(first.checkpoint.data[key])
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # between runs

    second = first.again()
    touched: list[bool] = []

    def touch_mid_run(total: int) -> None:  # and again while it runs
        if total >= 4 * MIB and not touched:
            touched.append(True)
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 9_000_000_000))

    second.on_meter = touch_mid_run
    with pytest.raises(RetryableError) as caught:
        run(spec, second.ctx)
    assert caught.value.message == upload_spec.MSG_TOUCHED
    assert json.dumps(second.checkpoint.data[key]) == held  # the same uploads all along
    result = run(spec, second.again().ctx)
    # and only what the server did not hold was sent again
    assert result.bytes_sent < path.stat().st_size - 2 * MIB  # the server held > 2 MiB
    assert done.sha256(result.url) == sha256_file(path)


def test_a_touched_file_with_other_bytes_is_refused(
    proxy: FaultProxy, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    path = random_file(tmp_path / "v.bin", 2 * MIB)
    spec = UploadSpec(path, endpoint(proxy), meta_for(path), chunk_size=512 * KIB)
    first = new_ctx()
    first.stop_after(MIB)
    with pytest.raises(Stopped):
        run(spec, first.ctx)
    with open(path, "r+b") as f:  # same size, a new time, other bytes
        f.seek(100)
        f.write(b"edited")
    with pytest.raises(PermanentError) as caught:
        run(spec, first.again().ctx)
    assert caught.value.message == FILE_CHANGED


def test_permanent_errors_in_plain_words(
    proxy: FaultProxy, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    path = random_file(tmp_path / "n.bin", 100_000)
    spec = UploadSpec(path, endpoint(proxy), meta_for(path))
    # larger than Tus-Max-Size
    proxy.inject_http_response(
        204,
        {"Tus-Version": "1.0.0", "Tus-Extension": "creation", "Tus-Max-Size": "1000"},
        match=lambda h: h.startswith(b"OPTIONS "),
    )
    with pytest.raises(PermanentError, match=r"larger than the 0\.001 MB the hub accepts"):
        run(spec, new_ctx().ctx)
    # a token the hub no longer accepts
    c = new_ctx()
    c.ctx.headers["Authorization"] = "Bearer expired"
    with pytest.raises(PermanentError, match="sign in again"):
        run(spec, c.ctx)
    # the server's own words, as FastAPI servers (tuspyserver) and tusd or the tus Node.js
    # server (plain text) put them
    for content_type, body in (
        ("application/json", b'{"detail": "Upload-Metadata must name a project"}'),
        ("text/plain; charset=utf-8", b"Upload-Metadata must name\n a project\n"),
    ):
        proxy.inject_http_response(
            400, {"Content-Type": content_type}, body, match=lambda h: h.startswith(b"POST ")
        )
        with pytest.raises(PermanentError) as refused:
            run(spec, new_ctx().ctx)
        assert (
            refused.value.message
            == "The hub refused the upload: Upload-Metadata must name a project"
        )
    # a web server without uploads (Python's http.server answers POST with 501)
    proxy.inject_http_response(501, match=lambda h: h.startswith(b"POST "))
    with pytest.raises(PermanentError, match=r"does not take uploads \(HTTP 501\)"):
        run(spec, new_ctx().ctx)
    # the source file is gone
    path.unlink()
    with pytest.raises(PermanentError, match="no longer there"):
        run(spec, new_ctx().ctx)


# --- 9: memory ----------------------------------------------------------------------------------

_HUB_SCRIPT = """
import json, sys
from pathlib import Path
from tests.hub.conftest import start_hub
live = start_hub(Path(sys.argv[1]))
live.hub.on_upload_complete = lambda _id: None  # keep the bytes; no publishing
live.login("bench")
print(json.dumps({"url": live.url, "token": live.tokens["bench"],
                  "uploads": str(live.hub.settings.uploads_dir)}), flush=True)
sys.stdin.read()
live.server.stop()
"""


@dataclass
class HubProcess:
    url: str
    token: str
    uploads: Path


@pytest.fixture
def hub_process(tmp_path: Path) -> Iterator[HubProcess]:
    """A hub in another process, so that tracemalloc and timings see the client alone."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HUB_SCRIPT, str(tmp_path / "hub")],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        yield HubProcess(info["url"], info["token"], Path(info["uploads"]))
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_memory_stays_flat_with_64_mib_chunks(hub_process: HubProcess, tmp_path: Path) -> None:
    path = tmp_path / "sparse.mxf"
    with open(path, "wb") as f:
        f.truncate(200 * 1000 * 1000)
    meta = meta_for(path)
    c = Ctx(hub_process.token)
    spec = UploadSpec(path, f"{hub_process.url}/api/v1/uploads/", meta, chunk_size=64 * MIB)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        result = run(spec, c.ctx)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        c.sessions.close()

    print(f"\nheap peak during a 200 MB upload in 64 MiB chunks: +{(peak - before) / 1e6:.2f} MB")
    assert peak - before < 8 * 1000 * 1000, f"heap grew by {(peak - before) / 1e6:.1f} MB"
    assert result.bytes_sent == result.size == 200 * 1000 * 1000
    # hash it once the hub says the upload is whole (no longer receiving; a file this large
    # would go in parallel parts on a long path, which the hub joins after the final POST)
    auth = {"Authorization": f"Bearer {hub_process.token}", "Tus-Resumable": "1.0.0"}
    wait_until(
        lambda: (
            requests.head(result.url, headers=auth, timeout=10).headers.get("Alu-Upload-State")
            not in (None, "receiving")
        ),
        timeout=60,
        what="the hub to join the parts",
    )
    landed = hub_process.uploads / upload_id(result.url)
    assert sha256_file(landed) == meta["sha256"]


# --- benchmark (./run bench -k upload_throughput) -----------------------------------------------


@pytest.mark.bench
def test_upload_throughput_vs_tuspy(
    hub_process: HubProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    size = int(os.environ.get("ALU_BENCH_UPLOAD_MIB", "1024")) * MIB
    path = tmp_path / "big.bin"
    with open(path, "wb") as f:
        for _ in range(size // (16 * MIB)):
            f.write(os.urandom(16 * MIB))
    meta = meta_for(path)
    endpoint_url = f"{hub_process.url}/api/v1/uploads/"
    figures: list[tuple[str, float]] = []

    def timed(name: str, fn: Callable[[], str]) -> None:
        t0 = time.perf_counter()
        url = fn()
        elapsed = time.perf_counter() - t0
        figures.append((name, size / elapsed / 1e6))
        print(f"\n{name}: {size / elapsed / 1e6:.0f} MB/s ({elapsed:.1f} s)")
        if "parts" not in name:  # a final upload is assembled after the answer
            assert (hub_process.uploads / upload_id(url)).stat().st_size == size

    def tuspy() -> str:
        client = tus_client.TusClient(
            endpoint_url, headers={"Authorization": f"Bearer {hub_process.token}"}
        )
        uploader = client.uploader(file_path=str(path), chunk_size=8 * MIB, metadata=meta)
        uploader.upload()
        return str(uploader.url)

    def ours(parallel: int | None) -> Callable[[], str]:
        def go() -> str:
            c = Ctx(hub_process.token)
            try:
                return run(UploadSpec(path, endpoint_url, meta, parallel=parallel), c.ctx).url
            finally:
                c.sessions.close()

        return go

    t0 = time.perf_counter()
    fingerprint(path)
    print(f"\nfingerprint() alone (sha256 of the whole file): {time.perf_counter() - t0:.1f} s")
    timed("tuspy 1.1.0, 8 MiB chunks", tuspy)
    checksum = fastest_checksum(["sha1", "sha256", "md5", "crc32"], CHECKSUM_PREFERENCE)
    timed(f"upload.run, one stream (adaptive chunks, {checksum} checksums)", ours(1))
    timed(f"upload.run, default (parts on a long path; {checksum} checksums)", ours(None))
    # the transport alone: the same hub, no Upload-Checksum (as if the hub did not offer it)
    monkeypatch.setattr(upload_module, "CHECKSUM_PREFERENCE", ())
    timed("upload.run, one stream, no checksums", ours(1))
    timed("upload.run, default (parts on a long path), no checksums", ours(None))


def test_a_file_whose_folder_is_away_waits_for_it(
    proxy: FaultProxy, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    # a network share reconnecting took the file's folder away for a moment: the upload
    # failed for good ("no longer there (moved or deleted)") and stayed so once it was back
    folder = tmp_path / "share"
    folder.mkdir()
    path = random_file(folder / "clip.bin", 2 * MIB)
    spec = UploadSpec(path, endpoint(proxy), meta_for(path), chunk_size=512 * KIB)
    first = new_ctx()
    first.stop_after(MIB)
    with pytest.raises(Stopped):
        run(spec, first.ctx)
    folder.rename(tmp_path / "share.off")
    with pytest.raises(RetryableError) as caught:
        run(spec, first.again().ctx)
    assert "cannot be reached now" in caught.value.message
    (tmp_path / "share.off").rename(folder)
    path.unlink()  # the folder is back, the file is not: moved or deleted, for good
    with pytest.raises(PermanentError) as gone:
        run(spec, first.again().ctx)
    assert "no longer there" in gone.value.message


def _windows_error(cls: type[OSError], err: int, text: str, winerror: int, path: Path) -> OSError:
    """An OSError as CPython raises it on Windows: errno from PC/errmap.h, ``winerror`` kept
    (on Linux the constructor ignores a fourth argument for it: set by hand)."""
    e = cls(err, text, str(path))
    e.winerror = winerror  # type: ignore[misc]
    return e


def test_a_source_open_in_another_program_on_windows_waits_for_it(
    proxy: FaultProxy,
    new_ctx: Callable[..., Ctx],
    done: Completed,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Windows: a clip an exporter or a copy still holds open without sharing it gives a
    # sharing violation (WinError 32), which CPython raises as PermissionError (EACCES): the
    # upload failed for good, "cannot be read (permission denied)"
    path = random_file(tmp_path / "clip.bin", MIB)
    spec = UploadSpec(path, endpoint(proxy), meta_for(path), chunk_size=512 * KIB)
    held = {"open": True}
    real_open = open

    def windows_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if held["open"] and Path(file) == path:
            raise _windows_error(
                PermissionError,
                errno.EACCES,
                "The process cannot access the file because it is being used by another process",
                32,
                path,
            )
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(upload_services, "open", windows_open, raising=False)
    first = new_ctx()
    with pytest.raises(RetryableError) as caught:
        run(spec, first.ctx)
    assert caught.value.message == upload_spec.MSG_SOURCE_IN_USE.format(name="clip.bin")
    held["open"] = False  # the exporter closed it
    result = run(spec, first.again().ctx)
    assert done.sha256(result.url) == sha256_file(path)
    # a real refusal (no winerror: POSIX, or Windows' plain access denied) is still for good
    monkeypatch.setattr(
        upload_services,
        "open",
        lambda *a, **k: (_ for _ in ()).throw(PermissionError(errno.EACCES, "Permission denied")),
        raising=False,
    )
    with pytest.raises(PermanentError, match=r"cannot be read \(permission denied\)"):
        run(spec, new_ctx().ctx)
