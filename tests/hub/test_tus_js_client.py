"""The hub's tus endpoint and a client we did not write: tus-js-client, the client of Uppy and
most web uploaders, run from Node.js (tests/support/tus-node/upload.mjs). One stream, parallel
uploads (its concatenation: parts, then a final upload), a connection reset mid-chunk (its
retries: HEAD, then PATCH from the hub's offset), and the client killed with SIGKILL and run
again (it finds the upload it stored and resumes it). Each ends with the hub holding the
file byte-identical and completing it once."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from alu_hub.models import Upload
from tests.hub.test_tus import Env, make_env, upload_id
from tests.support.faultproxy import FaultProxy
from tests.support.tus_node import HERE, ensure_installed
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(120)

MIB = 1024 * 1024


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e, close = make_env(tmp_path, max_upload_size=64 * MIB, max_chunk_size=8 * MIB)
    yield e
    close()


def source(tmp_path: Path, size: int) -> tuple[Path, dict[str, str]]:
    data = os.urandom(size)
    path = tmp_path / "نشرة الأخبار.mp4"
    path.write_bytes(data)
    return path, {"filename": path.name, "sha256": hashlib.sha256(data).hexdigest()}


def upload(env: Env, endpoint: str, path: Path, meta: dict[str, str], **options: Any) -> list[str]:
    """Runs upload.mjs to the end; its output lines."""
    argv = js_argv(env, endpoint, path, meta, **options)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-2000:])
    return done.stdout.splitlines()


def js_argv(env: Env, endpoint: str, path: Path, meta: dict[str, str], **options: Any) -> list[str]:
    opts = {
        "endpoint": endpoint,
        "file": str(path),
        "headers": {"Authorization": f"Bearer {env.token}"},
        "metadata": meta,
        "store": str(path.with_name("tus-js-urls.json")),
        **options,
    }
    return [ensure_installed(), str(HERE / "upload.mjs"), json.dumps(opts)]


def url_of(lines: list[str]) -> str:
    [url] = [line.removeprefix("URL ") for line in lines if line.startswith("URL ")]
    return url


def completed_once(env: Env, url: str, path: Path) -> None:
    env.wait_completed(upload_id(url))  # a final upload: the hub may still be joining its parts
    assert env.completed == [upload_id(url)]  # the final upload only: no part on its own
    assert env.path(url).read_bytes() == path.read_bytes()


def test_one_stream(env: Env, tmp_path: Path) -> None:
    path, meta = source(tmp_path, 5 * MIB + 7)
    url = url_of(upload(env, env.base, path, meta, chunkSize=MIB))
    assert url.startswith(env.base)
    completed_once(env, url, path)
    assert env.row(url).meta == meta  # UTF-8 metadata as the client encoded it


def test_parallel_uploads_are_joined(env: Env, tmp_path: Path) -> None:
    path, meta = source(tmp_path, 6 * MIB + 5)
    url = url_of(upload(env, env.base, path, meta, chunkSize=MIB, parallelUploads=3))
    completed_once(env, url, path)
    assert env.row(url).meta == meta  # on the final upload, where tus-js-client puts it


def test_a_reset_mid_chunk_is_retried_from_the_hubs_offset(env: Env, tmp_path: Path) -> None:
    path, meta = source(tmp_path, 6 * MIB)
    with FaultProxy(("127.0.0.1", env.server.port)) as proxy:
        proxy.reset_after(2 * MIB + 300 * 1024, "up")  # in the third chunk's body
        url = url_of(upload(env, f"{proxy.url}/api/v1/uploads/", path, meta, chunkSize=MIB))
        assert proxy.wait_for_event("reset_after")
        assert proxy.bytes_up <= 6 * MIB + 2 * MIB  # resumed, not started over
    completed_once(env, url, path)


def test_killed_and_run_again_it_resumes_the_same_upload(env: Env, tmp_path: Path) -> None:
    size = 16 * MIB
    path, meta = source(tmp_path, size)
    with FaultProxy(("127.0.0.1", env.server.port)) as proxy:
        proxy.rate_bps = 3 * MIB
        endpoint = f"{proxy.url}/api/v1/uploads/"
        first = subprocess.Popen(
            js_argv(env, endpoint, path, meta, chunkSize=MIB),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_until(lambda: proxy.bytes_up > size * 0.4, 60, what="the upload to progress")
        finally:
            first.send_signal(signal.SIGKILL)
            first.communicate(timeout=10)
        proxy.rate_bps = None
        lines = upload(env, endpoint, path, meta, chunkSize=MIB)
        resent = proxy.bytes_up - size
    url = url_of(lines)
    with env.hub.db.session() as session:
        ids = session.execute(select(Upload.id)).scalars().all()
    assert ids == [upload_id(url)]  # one upload: the first one, resumed
    completed_once(env, url, path)
    assert resent <= MIB + 256 * 1024, f"{resent} bytes sent twice"
