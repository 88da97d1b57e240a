"""Uploads to tuspyserver (tests/support/tus_py.py), a tus 1.0 server for FastAPI we did not
write. Unlike the tus Node.js server it lists concatenation (its own implementation: partial
uploads, then a final one made complete at creation), it lists no checksum, it answers OPTIONS
only at ``/files/`` (405 at the ``/files`` it creates uploads at), and it holds a file lock for
the whole of a PATCH. Each test ends with the server's file byte-identical to ours, or with the
clear error that is right."""

from __future__ import annotations

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

from alu_client.core.transfers.base import PermanentError, RetryableError, Stopped
from alu_client.core.transfers.upload import UploadSpec, run, terminate
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
from tests.support.tus_py import TusPy, start_tus_py
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(120)

KIB = 1024
MIB = 1024 * KIB
TUS = {"Tus-Resumable": "1.0.0"}


@pytest.fixture
def tus_py(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[TusPy]:
    # options for the server, when a test names some (indirect parametrization)
    with start_tus_py(tmp_path / "tus-py", **getattr(request, "param", {})) as server:
        yield server


@pytest.fixture
def proxy(tus_py: TusPy) -> Iterator[FaultProxy]:
    with FaultProxy(("127.0.0.1", tus_py.port)) as p:
        yield p


def through(proxy: FaultProxy) -> str:
    return f"{proxy.url}/files"


def answers(url: str) -> bool:
    """Whether the server answers a HEAD within a second."""
    try:
        return requests.head(url, headers=TUS, timeout=1).ok
    except requests.RequestException:
        return False


def finals(server: TusPy) -> list[str]:
    return [uid for uid in server.uploads() if server.info(uid)["is_final"]]


def test_parts_are_joined_by_its_concatenation_and_metadata_kept(
    tus_py: TusPy, proxy: FaultProxy, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    # its extensions are found at /files/ although OPTIONS /files is 405 there
    heads = watch(proxy)
    path = random_file(tmp_path / "مقابلة الوزير.mp4", 9 * MIB + 5)
    meta = meta_for(path, slug="ALU-0412 مقابلة", lang="ar")

    result = run(UploadSpec(path, through(proxy), meta, chunk_size=MIB, parallel=3), new_ctx().ctx)

    info = tus_py.info(result.url)
    assert info["is_final"] and len(info["partial_uploads"]) >= 3  # joined by the server
    assert info["size"] == 9 * MIB + 5
    assert sha256_file(tus_py.data(result.url)) == sha256_file(path)
    # UTF-8 keys and values arrive as they were sent, with the media type added
    assert info["metadata"] == {**meta, "filetype": "video/mp4"}
    head = requests.head(result.url, headers=TUS, timeout=10)
    assert head.headers["Upload-Offset"] == head.headers["Upload-Length"] == str(9 * MIB + 5)
    creations = [h for h in heads if h.startswith(b"POST ")]
    assert sum(header_of(h, b"upload-concat") == b"partial" for h in creations) >= 3
    assert not any(header_of(h, b"upload-checksum") for h in heads if is_patch(h))  # unlisted


@pytest.mark.parametrize("status", [423, 460])
def test_a_423_or_460_to_the_joining_post_is_waited_out(
    tus_py: TusPy, proxy: FaultProxy, new_ctx: Callable[..., Ctx], tmp_path: Path, status: int
) -> None:
    # the POST that joins the parts (at the end: this server names no final upload of a
    # part) answered "locked" or "checksum mismatch": that was taken for a bug in the app
    # ("Something went wrong…"), which the queue tries only 3 times
    path = random_file(tmp_path / "j.mxf", 6 * MIB + 3)
    proxy.inject_http_response(status, {"Retry-After": "1"}, match=lambda h: b"final;" in h.lower())
    result = run(UploadSpec(path, through(proxy), meta_for(path), chunk_size=MIB, parallel=2),
                 new_ctx().ctx)  # fmt: skip
    assert proxy.wait_for_event(f"inject {status}")
    assert tus_py.info(result.url)["is_final"]
    assert sha256_file(tus_py.data(result.url)) == sha256_file(path)


def test_without_parts_one_stream_ends_identical(
    tus_py: TusPy, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    path = random_file(tmp_path / "one.mxf", 5 * MIB + 1)
    result = run(
        UploadSpec(path, tus_py.endpoint, meta_for(path), chunk_size=2 * MIB, parallel=1),
        new_ctx().ctx,
    )
    assert tus_py.uploads() == [result.url.rsplit("/", 1)[-1]]
    assert not tus_py.info(result.url)["is_final"]
    assert sha256_file(tus_py.data(result.url)) == sha256_file(path)


def test_a_reset_mid_chunk_of_a_part_resumes_at_the_servers_offset(
    tus_py: TusPy, proxy: FaultProxy, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    size, chunk = 12 * MIB, MIB
    path = random_file(tmp_path / "a.bin", size)
    proxy.reset_after(MIB + 300 * KIB, "up")  # on the first connection, in its second chunk

    result, last, _ = run_until_done(
        UploadSpec(path, through(proxy), meta_for(path), chunk_size=chunk, parallel=3), new_ctx()
    )

    assert proxy.wait_for_event("reset_after")
    assert sha256_file(tus_py.data(result.url)) == sha256_file(path)
    assert len(finals(tus_py)) == 1  # one upload in the end, not one per attempt
    # what the server kept of the cut chunk is not sent again: at most that chunk's rest
    assert size < last.metered <= size + chunk


def test_a_reset_in_a_part_made_ahead_asks_the_server_where_it_stands(
    tus_py: TusPy, proxy: FaultProxy, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    # the cut falls in the first connection's second part, which the creating connection made
    # ahead of it: this server keeps what arrived of the cut chunk, so the part goes on at
    # the offset a HEAD gives (it was sent again at the old offset: 409 three times, and the
    # whole run given up to the queue's back-off)
    size, chunk = 12 * MIB, MIB
    path = random_file(tmp_path / "ahead.bin", size)
    heads = watch(proxy)
    proxy.reset_after(4 * MIB + 300 * KIB, "up")

    result, last, failures = run_until_done(
        UploadSpec(path, through(proxy), meta_for(path), chunk_size=chunk, parallel=2), new_ctx()
    )

    assert proxy.wait_for_event("reset_after")
    assert sha256_file(tus_py.data(result.url)) == sha256_file(path)
    assert failures == 0  # healed within the run
    assert size < last.metered <= size + chunk
    assert any(h.startswith(b"HEAD ") for h in heads)


# tuspyserver's lock wait (30 s unless set) shortened: the same wait, without half a minute of it
@pytest.mark.parametrize("tus_py", [{"lock_timeout": 5}], ids=["lock 5 s"], indirect=True)
def test_a_stalled_chunk_waits_out_the_servers_lock_then_resumes(
    tus_py: TusPy, proxy: FaultProxy, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    # the body stops mid-chunk; the client cuts its connection after 1 s without progress, but
    # the server's side of it stays open (the link is down) and tuspyserver holds the upload's
    # file lock for as long as that PATCH lasts: no PATCH can go on until it ends
    size, chunk = 24 * MIB, 16 * MIB
    path = random_file(tmp_path / "b.bin", size)
    proxy.stall_after(5 * MIB, "up")
    spec = UploadSpec(path, through(proxy), meta_for(path), chunk_size=chunk, parallel=1)
    c = new_ctx(stall_timeout=1.0)
    t0 = time.monotonic()

    with pytest.raises(RetryableError):  # for the queue to try again later, not a failure
        run(spec, c.ctx)

    assert proxy.wait_for_event("stall_after")
    [uid] = tus_py.uploads()
    assert tus_py.info(uid)["offset"] < size
    proxy.release_stalls()  # the stuck request ends at last, as when the server's TCP gives up

    # tuspyserver waits for a file lock on its event loop, up to its lock timeout (30 s
    # unless set; 5 s here): until the PATCH that came after the stall gives up, it answers
    # nothing at all. The queue backs off meanwhile;
    # here the next attempt waits for the server to answer again.
    wait_until(lambda: answers(f"{tus_py.endpoint}/{uid}"), 60, what="tuspyserver to answer")
    result, c, _ = run_until_done(spec, c.again())
    assert time.monotonic() - t0 < 90

    assert sha256_file(tus_py.data(result.url)) == sha256_file(path)
    assert tus_py.uploads() == [uid]  # the same upload, resumed
    assert c.metered <= size + 2 * chunk  # the cut chunk and the one refused meanwhile


def test_cancel_terminates_every_part_on_the_server(
    tus_py: TusPy, proxy: FaultProxy, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    proxy.rate_bps = 1_000_000
    path = random_file(tmp_path / "d.bin", 6 * MIB)
    c = new_ctx()
    moving = threading.Event()
    c.on_meter = lambda total: moving.set() if total >= 1_500_000 else None
    spec = UploadSpec(path, through(proxy), meta_for(path), chunk_size=256 * KIB, parallel=3)
    thread, errors = start_upload(spec, c)
    assert moving.wait(30)
    assert len(tus_py.uploads()) >= 3  # the parts

    c.control.stop("cancel")
    thread.join(10)
    assert terminate(spec, c.again().ctx)  # as the queue does once it recorded the cancel

    assert len(errors) == 1 and isinstance(errors[0], Stopped) and errors[0].reason == "cancel"
    assert tus_py.uploads() == []  # the termination extension: the server dropped them all
    assert c.checkpoint.data == {}


def test_a_file_over_the_servers_maximum_is_refused_in_plain_words(
    tmp_path: Path, new_ctx: Callable[..., Ctx]
) -> None:
    with start_tus_py(tmp_path / "store", max_size=2 * MIB) as server:
        path = random_file(tmp_path / "f.bin", 3 * MIB)
        with pytest.raises(PermanentError, match=r"larger than the 2\.1 MB"):
            run(UploadSpec(path, server.endpoint, meta_for(path)), new_ctx().ctx)
        assert server.uploads() == []


def test_tus_put_in_parts_killed_and_run_again_resumes_its_parts(
    tus_py: TusPy, proxy: FaultProxy, tmp_path: Path
) -> None:
    size, chunk, parts = 24 * MIB, 2 * MIB, 4
    path = random_file(tmp_path / "g.bin", size)
    proxy.rate_bps = 4 * MIB
    env = {**os.environ, "ALU_CLIENT_HOME": str(tmp_path / "home")}
    args = [sys.executable, "-m", "alu_client.cli", "tus-put", through(proxy), str(path)]
    args += ["--chunk-size", "2M", "--parallel", str(parts), "--metadata", f"filename={path.name}"]

    first = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_until(lambda: proxy.bytes_up > size * 0.4, 60, what="the upload to progress")
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=10)
    before = set(tus_py.uploads())
    assert before and not finals(tus_py)  # parts under way, none joined yet

    proxy.rate_bps = None
    second = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)

    assert second.returncode == 0, second.stderr
    url = second.stdout.strip().splitlines()[-1]
    [final] = finals(tus_py)
    assert url.endswith(f"/files/{final}")
    assert set(tus_py.info(final)["partial_uploads"]) >= before  # the same parts, resumed
    assert sha256_file(tus_py.data(url)) == sha256_file(path)
    resent = proxy.bytes_up - size
    assert resent <= parts * chunk + MIB, f"{resent} bytes sent twice (chunk {chunk})"


def test_one_stream_reset_mid_chunk_resumes_at_the_servers_offset(
    tus_py: TusPy, proxy: FaultProxy, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    # a HEAD on a whole (not partial) upload is refused (400) by tuspyserver unless the
    # upload's metadata has "filetype" or "type" as tus-js-client sends; the job adds it
    size, chunk = 8 * MIB, 2 * MIB
    path = random_file(tmp_path / "a.mxf", size)
    proxy.reset_after(3 * MIB + 100 * KIB, "up")  # in the second chunk's body

    result, last, _ = run_until_done(
        UploadSpec(path, through(proxy), meta_for(path), chunk_size=chunk, parallel=1), new_ctx()
    )

    assert proxy.wait_for_event("reset_after")
    assert sha256_file(tus_py.data(result.url)) == sha256_file(path)
    assert len(tus_py.uploads()) == 1  # resumed, not started again
    assert size < last.metered <= size + chunk
