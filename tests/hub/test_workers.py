"""``alu-hub serve --workers N``: several serving processes on one port, under uvicorn's
supervisor — all of them answer, a worker that dies is replaced, a stop stops them all, and a
tus upload whose PATCHes land on different workers is published once."""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from alu_hub.server import free_port
from tests.support.livehub import hub_env
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(240)

ROOT = Path(__file__).resolve().parents[2]
HUB_CLI = (sys.executable, "-m", "alu_hub.cli")
PASSWORD = "pw-12345678"


def children(pid: int) -> set[int]:
    try:
        return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    except OSError:
        return set()


def serving_workers(pid: int) -> set[int]:
    """The supervisor's serving processes (its other child is multiprocessing's tracker)."""
    found = set()
    for child in children(pid):
        try:
            cmd = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"resource_tracker" not in cmd:
            found.add(child)
    return found


class Served:
    def __init__(self, data: Path, workers: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data.parent / "serve.log"
        env = hub_env(data)
        env["PYTHONUNBUFFERED"] = "1"
        added = subprocess.run(
            [*HUB_CLI, "member", "add", "ktn", "--data", str(data), "--country", "KE",
             "--password-stdin"],
            input=PASSWORD, text=True, capture_output=True, env=env, cwd=ROOT, timeout=120,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [*HUB_CLI, "serve", "--data", str(data), "--port", str(self.port),
                 "--workers", str(workers)],
                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
            )  # fmt: skip
        if workers > 1:  # (one is served by the process itself)
            wait_until(lambda: len(serving_workers(self.proc.pid)) == workers, timeout=90)
        wait_until(self.answers, timeout=90)

    def answers(self) -> bool:
        assert self.proc.poll() is None, self.log.read_text(errors="replace")[-3000:]
        try:
            return requests.get(f"{self.url}/openapi.json", timeout=5).ok
        except requests.ConnectionError:
            return False

    def token(self) -> str:
        r = requests.post(
            f"{self.url}/api/v1/session",
            json={"username": "ktn", "password": PASSWORD, "device": "pytest"},
            timeout=30,
        )
        r.raise_for_status()
        return str(r.json()["token"])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    s = Served(tmp_path / "hub", workers=2)
    yield s
    if s.proc.poll() is None:
        every = serving_workers(s.proc.pid)
        s.proc.send_signal(signal.SIGTERM)
        try:
            s.proc.wait(60)
        except subprocess.TimeoutExpired:
            s.proc.kill()
            s.proc.wait(30)
        wait_until(lambda: all(not Path(f"/proc/{p}").exists() for p in every), timeout=30)


def test_serving_processes_end_when_their_supervisor_is_killed(served: Served) -> None:
    """SIGKILL (the OOM killer, kill -9) gives the supervisor no chance to stop its workers:
    they must see it gone and stop themselves, not serve on unsupervised."""
    every = serving_workers(served.proc.pid)
    assert len(every) == 2
    served.proc.kill()
    served.proc.wait(30)
    wait_until(lambda: all(not _running(p) for p in every), timeout=30)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1]
    except (OSError, IndexError):
        return False
    return not state.startswith(("Z", "X"))  # a zombie has ended (init reaps it)


def test_a_dead_worker_is_replaced_and_a_stop_stops_them_all(served: Served) -> None:
    first = serving_workers(served.proc.pid)
    assert len(first) == 2
    victim = min(first)
    os.kill(victim, signal.SIGKILL)
    wait_until(
        lambda: (
            len(serving_workers(served.proc.pid)) == 2
            and victim not in serving_workers(served.proc.pid)
        ),
        timeout=60,
    )
    wait_until(served.answers, timeout=60)
    token = served.token()
    for _ in range(10):  # new connections each time: the kernel spreads them over the workers
        r = requests.get(
            f"{served.url}/api/v1/items", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        assert r.status_code == 200 and r.json()["items"] == []
    every = serving_workers(served.proc.pid)
    served.proc.send_signal(signal.SIGTERM)
    assert served.proc.wait(60) == 0
    wait_until(lambda: all(not Path(f"/proc/{p}").exists() for p in every), timeout=30)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_stop_ends_the_event_streams_at_once(tmp_path: Path, workers: int) -> None:
    """Every member's app holds an event stream open. uvicorn waits for open connections
    before the app's shutdown, which was what ended the streams: every stop took the whole
    graceful timeout (5 s), then cancelled each stream with a traceback in the log."""
    served = Served(tmp_path / "hub", workers)
    auth = {"Authorization": f"Bearer {served.token()}"}
    streams: list[tuple[requests.Response, Iterator[bytes]]] = []
    try:
        for _ in range(3):
            r = requests.get(f"{served.url}/api/v1/events", headers=auth, stream=True, timeout=30)
            assert r.status_code == 200
            # (the lines kept: a line iterator dropped closes the connection)
            lines = r.iter_lines()
            assert next(lines) == b"retry: 5000"  # in the hub's stream loop now
            streams.append((r, lines))
        started = time.monotonic()
        served.proc.send_signal(signal.SIGTERM)
        code = served.proc.wait(30)
        took = time.monotonic() - started
        for _r, lines in streams:  # each ended as a stream ends, not cut off
            assert list(lines) in ([], [b""])
    finally:
        for r, _lines in streams:
            r.close()
        if served.proc.poll() is None:
            served.proc.kill()
            served.proc.wait(30)
    log = served.log.read_text(errors="replace")
    assert code in (0, -signal.SIGTERM), log[-3000:]
    assert "Traceback" not in log and "graceful shutdown exceeded" not in log, log[-3000:]
    assert took < 3.0, f"the stop took {took:.1f} s"


def test_a_tus_upload_over_many_connections_is_published_once(served: Served, clip: Path) -> None:
    token = served.token()
    data = clip.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    h = {"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"}
    meta = ",".join(
        f"{k} {base64.b64encode(v.encode()).decode()}"
        for k, v in {"filename": "clip.mp4", "title": "Over workers", "sha256": sha}.items()
    )
    r = requests.post(
        f"{served.url}/api/v1/uploads/",
        headers={**h, "Upload-Length": str(len(data)), "Upload-Metadata": meta},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    url = r.headers["Location"]
    chunk = max(1, len(data) // 8)
    offset = 0
    while offset < len(data):  # a new connection per PATCH: any worker may take each one
        body = data[offset : offset + chunk]
        p = requests.patch(
            url,
            data=body,
            headers={
                **h,
                "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream",
                "Connection": "close",
            },
            timeout=60,
        )
        assert p.status_code == 204, p.text
        offset = int(p.headers["Upload-Offset"])

    def published() -> bool:
        head = requests.head(url, headers=h, timeout=30)
        return head.headers.get("Alu-Upload-State") == "published"

    wait_until(published, timeout=120)
    items = requests.get(
        f"{served.url}/api/v1/items", headers={"Authorization": f"Bearer {token}"}, timeout=30
    ).json()["items"]
    assert [i["title"] for i in items] == ["Over workers"]
    assert items[0]["renditions"][0]["sha256"] == sha


def test_connections_of_a_handed_over_socket_send_at_once() -> None:
    """A listening socket rebuilt from its descriptor (as in a worker process) has ``proto`` 0,
    so asyncio leaves Nagle's algorithm on for its connections; the protocol turns it off."""
    import socket

    from alu_hub.server import _no_delay

    listener = socket.create_server(("127.0.0.1", 0))
    handed = socket.fromfd(listener.fileno(), socket.AF_INET, socket.SOCK_STREAM)
    client = socket.create_connection(listener.getsockname())
    conn, _ = handed.accept()
    try:
        assert conn.proto == 0  # what asyncio looks at before it sets TCP_NODELAY
        assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0

        class Transport:
            def get_extra_info(self, name: str) -> object:
                return conn if name == "socket" else None

        _no_delay(Transport())  # type: ignore[arg-type]
        assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        for s in (conn, client, handed, listener):
            s.close()
