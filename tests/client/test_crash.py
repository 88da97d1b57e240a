"""kill -9 mid-transfer: `alu fetch` and `alu tus-put` are killed with SIGKILL, started again,
and finish with identical bytes, re-sending no more than one chunk."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from alu_hub.server import RunningHub
from tests.hub.test_tus import make_env
from tests.support.faultproxy import FaultProxy
from tests.support.waiting import wait_until

MIB = 1024 * 1024
SIZE = 24 * MIB
RATE = 3 * MIB  # bytes/s through the proxy: the transfer lasts ~8 s, long enough to kill it


def alu(home: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "ALU_CLIENT_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-m", "alu_client.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_when(
    proc: subprocess.Popen[str], reached: Callable[[], bool], timeout: float = 60
) -> None:
    def ready() -> bool:
        assert proc.poll() is None, f"alu ended before it could be killed: {proc.communicate()}"
        return reached()

    wait_until(ready, timeout, what="the transfer to progress")
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)


def test_fetch_killed_and_restarted_finishes_identical(
    tmp_path: Path, payload: Path, file_server: RunningHub
) -> None:
    sha = hashlib.sha256(payload.read_bytes()).hexdigest()
    home, dest = tmp_path / "home", tmp_path / "out" / "clip.mxf"
    with FaultProxy(("127.0.0.1", file_server.port)) as proxy:
        proxy.rate_bps = RATE
        url = f"{proxy.url}/files/source.mxf"
        # one stream, so "re-sent" is measured against a single resume point
        first = alu(home, "fetch", url, str(dest), "--sha256", sha, "--segments", "1")
        kill_when(first, lambda: proxy.bytes_down > SIZE * 0.4)
        proxy.rate_bps = None  # the rest at loopback speed: what the kill cost is measured
        assert not dest.exists()  # never at its final name unverified
        part = dest.with_name(dest.name + ".part")
        assert part.exists() and 0 < part.stat().st_size < SIZE
        assert part.read_bytes() == payload.read_bytes()[: part.stat().st_size]

        before = proxy.bytes_down
        second = alu(home, "fetch", url, str(dest), "--sha256", sha, "--segments", "1")
        out, err = second.communicate(timeout=120)
        assert second.returncode == 0, err
        assert "sha256 verified" in out
    assert dest.read_bytes() == payload.read_bytes()
    assert not part.exists()
    resent = proxy.bytes_down - SIZE
    print(f"\nfetch: {resent} bytes fetched twice after kill -9")
    # HTTP headers are counted too; at most what was in flight when the process died
    assert resent <= 4 * MIB, f"{resent} bytes fetched twice"
    assert proxy.bytes_down - before < SIZE  # the second run resumed, it did not start over


def test_tus_put_killed_and_restarted_finishes_identical(tmp_path: Path, payload: Path) -> None:
    (tmp_path / "hub").mkdir()
    env, close = make_env(tmp_path / "hub", max_upload_size=64 * MIB, max_chunk_size=64 * MIB)
    home = tmp_path / "home"
    chunk = 2 * MIB
    try:
        with FaultProxy(("127.0.0.1", env.server.port)) as proxy:
            proxy.rate_bps = RATE
            endpoint = f"{proxy.url}/api/v1/uploads/"
            args = [
                "tus-put",
                endpoint,
                str(payload),
                "--chunk-size",
                "2M",
                "--parallel",
                "1",
                "--header",
                f"Authorization: Bearer {env.token}",
            ]
            first = alu(home, *args)
            kill_when(first, lambda: proxy.bytes_up > SIZE * 0.4)
            proxy.rate_bps = None  # the rest at loopback speed: what the kill cost is measured
            second = alu(home, *args)
            out, err = second.communicate(timeout=120)
            assert second.returncode == 0, err
            url = out.strip().splitlines()[-1]
            assert url.startswith(endpoint.rstrip("/"))
            env.wait_completed(url.rstrip("/").rsplit("/", 1)[-1])
            resent = proxy.bytes_up - SIZE
            print(f"\ntus-put: {resent} bytes sent twice after kill -9 (chunk {chunk})")
        assert env.path(url).read_bytes() == payload.read_bytes()
        assert resent <= chunk + 256 * 1024, f"{resent} bytes sent twice (chunk {chunk})"
    finally:
        close()


def test_fetch_killed_on_a_slow_link_loses_seconds_not_megabytes(
    tmp_path: Path, payload: Path, file_server: RunningHub
) -> None:
    # progress was saved every 4 MiB only: on a slow link (here 600 kB/s) a kill lost up to
    # minutes, and one in the first 4 MiB kept nothing to resume from (every rerun began at 0)
    sha = hashlib.sha256(payload.read_bytes()).hexdigest()
    home, dest = tmp_path / "home", tmp_path / "out" / "clip.mxf"
    with FaultProxy(("127.0.0.1", file_server.port)) as proxy:
        proxy.rate_bps = 600_000
        url = f"{proxy.url}/files/source.mxf"
        first = alu(home, "fetch", url, str(dest), "--sha256", sha, "--segments", "1")
        kill_when(first, lambda: proxy.bytes_down > 3 * MIB)  # ~5 s in, under 4 MiB
        proxy.rate_bps = None
        second = alu(home, "fetch", url, str(dest), "--sha256", sha, "--segments", "1")
        _out, err = second.communicate(timeout=120)
        assert second.returncode == 0, err
        again = proxy.bytes_down - SIZE  # fetched twice (headers included)
    assert dest.read_bytes() == payload.read_bytes()
    # saved every 2 s: at most ~2 s of the link (1.2 MB) and what was in flight is fetched again
    print(f"\nfetch at 600 kB/s: {again} bytes fetched twice after kill -9")
    assert again <= 2 * MIB, f"{again} bytes fetched twice"
