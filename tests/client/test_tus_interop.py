"""Uploads to a tus 1.0 server we did not write: the official tus Node.js server
(tests/support/tus_node.py), which lists neither checksum nor concatenation, closes idle
connections after 5 s, takes over an upload's lock from an earlier request, answers 410 for an
expired upload and refuses a file over its maximum size at creation. Each test ends with the
server's file byte-identical to ours, or with the clear error that is right."""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from alu_client.core.transfers.base import MemoryCheckpoint, PermanentError, Stopped
from alu_client.core.transfers.upload import EXPIRED_NOTE, UploadSpec, run, terminate
from tests.client.test_upload import (
    Ctx,
    header_of,
    is_patch,
    meta_for,
    random_file,
    run_until_done,
    sha256_file,
    start_upload,
    watch,
)
from tests.support.faultproxy import FaultProxy
from tests.support.tus_node import TusNode, start_tus_node
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(120)

KIB = 1024
MIB = 1024 * KIB


@pytest.fixture
def tus_node(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[TusNode]:
    # options for the server, when a test names some (indirect parametrization)
    with start_tus_node(tmp_path / "tus-node", **getattr(request, "param", {})) as server:
        yield server


@pytest.fixture
def proxy(tus_node: TusNode) -> Iterator[FaultProxy]:
    with FaultProxy(("127.0.0.1", tus_node.port)) as p:
        yield p


def through(proxy: FaultProxy) -> str:
    return f"{proxy.url}/files"


def test_one_stream_without_checksum_or_parts_and_metadata_kept(
    tmp_path: Path, new_ctx: Callable[..., Ctx]
) -> None:
    # relative Location headers, as some deployments behind proxies send them
    with (
        start_tus_node(tmp_path / "store", relativeLocation=True) as server,
        FaultProxy(("127.0.0.1", server.port)) as proxy,
    ):
        heads = watch(proxy)
        path = random_file(tmp_path / "مقابلة الوزير.mp4", 5 * MIB + 3)
        meta = meta_for(path, slug="ALU-0412 مقابلة", lang="ar")
        result = run(
            UploadSpec(path, through(proxy), meta, chunk_size=MIB, parallel=4), new_ctx().ctx
        )

        assert result.url.startswith(f"{proxy.url}/files/")  # the relative Location, resolved
        assert server.uploads() == [result.url.rsplit("/", 1)[-1]]  # one upload, no parts
        assert sha256_file(server.data(result.url)) == sha256_file(path)
        head = requests.head(result.url, headers={"Tus-Resumable": "1.0.0"}, timeout=10)
        assert head.headers["Upload-Offset"] == head.headers["Upload-Length"] == str(5 * MIB + 3)
        # UTF-8 keys and values arrive as they were sent, with the media type added
        assert server.info(result.url)["metadata"] == {**meta, "filetype": "video/mp4"}
        patches = [h for h in heads if is_patch(h)]
        assert len(patches) == 6
        assert not any(header_of(h, b"upload-checksum") for h in patches)  # none listed
        assert not any(header_of(h, b"upload-concat") for h in heads)


def test_a_reset_mid_chunk_resumes_at_the_servers_offset(
    tus_node: TusNode, proxy: FaultProxy, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    path = random_file(tmp_path / "a.bin", 8 * MIB)
    size, chunk = path.stat().st_size, 2 * MIB
    proxy.reset_after(3 * MIB + 100 * KIB, "up")  # in the second chunk's body

    result, last, _ = run_until_done(
        UploadSpec(path, through(proxy), meta_for(path), chunk_size=chunk), new_ctx()
    )

    assert proxy.wait_for_event("reset_after")
    assert sha256_file(tus_node.data(result.url)) == sha256_file(path)
    assert len(tus_node.uploads()) == 1  # resumed, not started again
    # what the server kept of the cut chunk is not sent again: at most that chunk's rest
    assert size < last.metered <= size + chunk


def test_a_stalled_chunk_is_cut_and_the_server_gives_up_its_lock(
    tus_node: TusNode, proxy: FaultProxy, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    # the body stops mid-chunk; the client cuts the connection after 1 s without progress,
    # asks the offset and goes on while the server may still hold the first PATCH's lock
    path = random_file(tmp_path / "b.bin", 24 * MIB)
    proxy.stall_after(5 * MIB, "up")
    c = new_ctx(stall_timeout=1.0)
    t0 = time.monotonic()

    result, last, _ = run_until_done(
        UploadSpec(path, through(proxy), meta_for(path), chunk_size=16 * MIB), c
    )

    assert proxy.wait_for_event("stall_after")
    assert time.monotonic() - t0 < 30
    assert sha256_file(tus_node.data(result.url)) == sha256_file(path)
    assert len(tus_node.uploads()) == 1
    assert last.metered <= 24 * MIB + 16 * MIB  # at most the cut chunk again


# Node.js closes a kept-alive connection idle for 5 s unless told otherwise: 1 s here
@pytest.mark.parametrize(
    "tus_node", [{"keepAliveTimeoutMs": 1000}], ids=["idle 1 s"], indirect=True
)
def test_a_connection_the_server_closed_while_idle_is_not_an_error(
    tus_node: TusNode,
    proxy: FaultProxy,
    new_ctx: Callable[..., Ctx],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # the server closes a kept-alive connection after 1 s idle (5 s by default); the next upload on the same
    # sessions must notice and open another, not fail (and resume) its first request
    caplog.set_level(logging.INFO, logger="alu_client")
    first, second = (random_file(tmp_path / f"{n}.bin", MIB + n) for n in (1, 2))
    c = new_ctx()
    run(UploadSpec(first, through(proxy), meta_for(first)), c.ctx)
    assert proxy.live_connections >= 1 and proxy.server_closes == 0  # kept alive in the pool
    wait_until(lambda: proxy.server_closes >= 1, 15, what="the server to close it")
    caplog.clear()

    later = dataclasses.replace(c.ctx, checkpoint=MemoryCheckpoint())  # the same sessions
    result = run(UploadSpec(second, through(proxy), meta_for(second)), later)

    assert sha256_file(tus_node.data(result.url)) == sha256_file(second)
    assert "Resuming" not in caplog.text and "dropped" not in caplog.text, caplog.text


def test_cancel_terminates_the_upload_on_the_server(
    tus_node: TusNode, proxy: FaultProxy, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    proxy.rate_bps = 500_000
    path = random_file(tmp_path / "d.bin", 3 * MIB)
    c = new_ctx()
    moving = threading.Event()
    c.on_meter = lambda total: moving.set() if total >= 600_000 else None
    spec = UploadSpec(path, through(proxy), meta_for(path), chunk_size=256 * KIB)
    thread, errors = start_upload(spec, c)
    assert moving.wait(20)
    url = c.checkpoint.data["url"]
    assert len(tus_node.uploads()) == 1

    c.control.stop("cancel")
    thread.join(10)
    assert len(errors) == 1 and isinstance(errors[0], Stopped) and errors[0].reason == "cancel"
    assert c.checkpoint.data["url"] == url  # kept for the DELETE, which the queue asks next
    assert terminate(spec, c.again().ctx)
    head = requests.head(url, headers={"Tus-Resumable": "1.0.0"}, timeout=10)
    assert head.status_code in (404, 410)
    assert tus_node.uploads() == []  # the termination extension: the server dropped it
    assert c.checkpoint.data == {}


def test_an_expired_upload_is_made_again_and_the_history_says_so(
    tmp_path: Path, new_ctx: Callable[..., Ctx]
) -> None:
    with start_tus_node(tmp_path / "store", expirationMs=2000) as server:
        path = random_file(tmp_path / "e.bin", 3 * MIB)
        spec = UploadSpec(path, server.endpoint, meta_for(path), chunk_size=512 * KIB)
        first = new_ctx()
        first.stop_after(MIB)
        with pytest.raises(Stopped):
            run(spec, first.ctx)
        old_url = first.checkpoint.data["url"]
        # past its Upload-Expires, the server's own word: gone (a 410 that says neither
        # "expired" nor when: "The file for this url no longer exists", no Upload-Expires)
        wait_until(
            lambda: (
                requests.head(old_url, headers={"Tus-Resumable": "1.0.0"}, timeout=10).status_code
                == 410
            ),
            15,
            interval=0.2,
            what="the upload to expire",
        )

        again = first.again()
        result = run(spec, again.ctx)

        assert result.url != old_url
        # said "lost": the expiry its creation's answer gave (kept in the checkpoint) had passed
        assert again.notes.count(EXPIRED_NOTE) == 1, again.notes
        assert sha256_file(server.data(result.url)) == sha256_file(path)


def test_a_file_over_the_servers_maximum_is_refused_in_plain_words(
    tmp_path: Path, new_ctx: Callable[..., Ctx]
) -> None:
    with start_tus_node(tmp_path / "store", maxSize=2 * MIB) as server:
        path = random_file(tmp_path / "f.bin", 3 * MIB)
        with pytest.raises(PermanentError, match=r"larger than the 2\.1 MB"):
            run(UploadSpec(path, server.endpoint, meta_for(path)), new_ctx().ctx)
        assert server.uploads() == []


def test_tus_put_killed_and_run_again_resumes_the_same_upload(
    tus_node: TusNode, proxy: FaultProxy, tmp_path: Path
) -> None:
    size, chunk = 24 * MIB, 2 * MIB
    path = random_file(tmp_path / "g.bin", size)
    proxy.rate_bps = 3 * MIB
    env = {**os.environ, "ALU_CLIENT_HOME": str(tmp_path / "home")}
    args = [sys.executable, "-m", "alu_client.cli", "tus-put", through(proxy), str(path)]
    args += ["--chunk-size", "2M", "--metadata", f"filename={path.name}"]

    first = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_until(lambda: proxy.bytes_up > size * 0.4, 60, what="the upload to progress")
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=10)
    [uid] = tus_node.uploads()

    proxy.rate_bps = None
    second = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)

    assert second.returncode == 0, second.stderr
    url = second.stdout.strip().splitlines()[-1]
    assert url.endswith(f"/files/{uid}")  # the same upload, resumed
    assert sha256_file(tus_node.data(url)) == sha256_file(path)
    resent = proxy.bytes_up - size
    assert resent <= chunk + 256 * KIB, f"{resent} bytes sent twice (chunk {chunk})"
