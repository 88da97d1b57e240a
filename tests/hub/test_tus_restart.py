"""tus uploads across a real hub restart: an ``alu-hub serve`` process killed (``kill -9``: a
crash, or an upgrade that stopped it hard) while a client's PATCH was coming in, and started
again on the same data folder and database. Runs on SQLite and PostgreSQL (conftest.py).

The killed process's lease on the upload (``lock_owner``, ``lock_expires_at`` + 30 s) must not
hold up the client's resumed PATCH (it waited ``LOCK_WAIT_S``, then got 423, while its chunk was
on the way: tester's finding 6); a lease of a hub still running must.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from alu_hub.app import build_hub
from alu_hub.demo import ensure_member
from alu_hub.hub import Hub
from alu_hub.models import Upload
from alu_hub.server import free_port
from alu_hub.tus.locks import LOCK_WAIT_S
from tests.support.livehub import hub_env, hub_settings
from tests.support.waiting import end_process, wait_until

pytestmark = pytest.mark.timeout(240)

ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024
OFFSET_STREAM = "application/offset+octet-stream"
HUB_CLI = (sys.executable, "-m", "alu_hub.cli")
#: Generous: two busy cores, and the hub is a Python process importing the whole hub.
START_TIMEOUT_S = 90.0


@dataclass
class Served:
    """One ``alu-hub serve`` process on the test's data folder."""

    proc: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serving(self) -> bool:
        assert self.proc.poll() is None, "the hub exited"
        try:
            return requests.get(f"{self.url}/openapi.json", timeout=5).ok
        except requests.ConnectionError:
            return False


@dataclass
class Folder:
    data: Path
    hub: Hub  # this process's view of the same database (rows)
    log: Path
    running: list[Served]

    def serve(self) -> Served:
        port = free_port()
        with open(self.log, "ab") as out:
            proc = subprocess.Popen(
                [*HUB_CLI, "serve", "--data", str(self.data), "--port", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=hub_env(self.data),
                cwd=ROOT,
            )
        served = Served(proc, port)
        self.running.append(served)
        wait_until(served.serving, START_TIMEOUT_S, interval=0.1, what="the hub to serve")
        return served

    def lease(self, upload_id: str) -> str:
        with self.hub.db.session() as s:
            up = s.get(Upload, upload_id)
            assert up is not None
            return up.lock_owner

    def bytes_on_disk(self, upload_id: str) -> int:
        path = self.data / "uploads" / upload_id
        return path.stat().st_size if path.exists() else 0


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Folder]:
    data = tmp_path / "hub"
    hub = build_hub(hub_settings(data))
    ensure_member(hub, "ktn", "pw-1234", country="KE")
    f = Folder(data, hub, tmp_path / "hub.log", [])
    try:
        yield f
    finally:
        for served in f.running:
            end_process(served.proc)
        hub.db.dispose()


def sign_in(served: Served) -> dict[str, str]:
    r = requests.post(
        f"{served.url}/api/v1/session",
        json={"username": "ktn", "password": "pw-1234", "device": "pytest"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}", "Tus-Resumable": "1.0.0"}


def create_part(served: Served, headers: dict[str, str], length: int) -> str:
    """A partial upload: published by nobody, its bytes stay where they are."""
    r = requests.post(
        f"{served.url}/api/v1/uploads/",
        headers={**headers, "Upload-Length": str(length), "Upload-Concat": "partial"},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    return str(r.headers["Location"]).rsplit("/", 1)[-1]


def hanging_patch(
    served: Served, headers: dict[str, str], upload_id: str, data: bytes, length: int
) -> socket.socket:
    """A PATCH of ``length`` bytes at offset 0 of which only ``data`` is sent: left open."""
    u = urlsplit(served.url)
    sock = socket.create_connection((u.hostname, u.port), timeout=30)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    sock.sendall(
        (
            f"PATCH /api/v1/uploads/{upload_id} HTTP/1.1\r\nHost: {u.netloc}\r\n{head}"
            f"Upload-Offset: 0\r\nContent-Type: {OFFSET_STREAM}\r\nContent-Length: {length}\r\n\r\n"
        ).encode()
        + data
    )
    return sock


def test_a_resumed_patch_does_not_wait_for_the_lease_of_a_killed_hub(folder: Folder) -> None:
    length = 4 * MIB
    data = os.urandom(length)
    first = folder.serve()
    headers = sign_in(first)
    upload_id = create_part(first, headers, length)
    sock = hanging_patch(first, headers, upload_id, data[: MIB + MIB // 2], length)
    try:
        wait_until(
            lambda: folder.bytes_on_disk(upload_id) >= MIB and folder.lease(upload_id),
            30,
            what="the hub to write the PATCH's bytes under its lease",
        )
        first.proc.kill()  # kill -9, mid-PATCH: its lease stays in the database
        first.proc.wait(30)
        assert folder.lease(upload_id)
    finally:
        sock.close()
    again = folder.serve()
    url = f"{again.url}/api/v1/uploads/{upload_id}"
    t0 = time.monotonic()
    head = requests.head(url, headers=headers, timeout=30)
    assert head.status_code == 200
    offset = int(head.headers["Upload-Offset"])  # 0: the killed hub stored nothing
    r = requests.patch(
        url,
        data=data[offset:],
        headers={**headers, "Upload-Offset": str(offset), "Content-Type": OFFSET_STREAM},
        timeout=60,
    )
    resumed = time.monotonic() - t0
    assert r.status_code == 204, r.text  # not 423 after waiting for the dead lease
    assert resumed < LOCK_WAIT_S
    assert r.headers["Upload-Offset"] == str(length)
    assert (folder.data / "uploads" / upload_id).read_bytes() == data
    assert folder.lease(upload_id) == ""


def writing(folder: Folder, upload_id: str, at_least: int) -> str:
    """Wait until a hub has written ``at_least`` bytes of the upload under its lease: its owner."""
    owner: str = wait_until(
        lambda: folder.bytes_on_disk(upload_id) >= at_least and folder.lease(upload_id),
        30,
        what="the hub to write the PATCH's bytes under its lease",
    )
    return owner


def test_a_replica_goes_on_at_once_with_an_upload_a_killed_one_was_writing(
    folder: Folder,
) -> None:
    length = 4 * MIB
    data = os.urandom(length)
    killed, other = folder.serve(), folder.serve()
    headers = sign_in(killed)
    upload_id = create_part(killed, headers, length)
    sock = hanging_patch(killed, headers, upload_id, data[: MIB + MIB // 2], length)
    try:
        writing(folder, upload_id, MIB)
        killed.proc.kill()  # kill -9, mid-PATCH; the other replica runs on
        killed.proc.wait(30)
    finally:
        sock.close()
    url = f"{other.url}/api/v1/uploads/{upload_id}"
    t0 = time.monotonic()
    head = requests.head(url, headers=headers, timeout=30)
    offset = int(head.headers["Upload-Offset"])
    r = requests.patch(
        url,
        data=data[offset:],
        headers={**headers, "Upload-Offset": str(offset), "Content-Type": OFFSET_STREAM},
        timeout=60,
    )
    resumed = time.monotonic() - t0
    assert r.status_code == 204, r.text  # not 423 after waiting for the dead lease
    assert resumed < LOCK_WAIT_S
    assert (folder.data / "uploads" / upload_id).read_bytes() == data
    assert folder.lease(upload_id) == ""


def test_a_hub_starting_beside_others_drops_only_the_leases_of_ended_ones(
    folder: Folder,
) -> None:
    length = 4 * MIB
    data = os.urandom(length)
    killed, live = folder.serve(), folder.serve()
    headers = sign_in(live)
    dead_id, live_id = create_part(live, headers, length), create_part(live, headers, length)
    dead_sock = hanging_patch(killed, headers, dead_id, data[:MIB], length)
    sock = hanging_patch(live, headers, live_id, data[:MIB], length)
    try:
        dead_owner = writing(folder, dead_id, MIB // 2)
        owner = writing(folder, live_id, MIB // 2)
        killed.proc.kill()
        killed.proc.wait(30)
        dead_sock.close()
        runs = folder.data / "runs"
        assert {p.name for p in runs.iterdir()} == {dead_owner[:16], owner[:16]}
        folder.serve()  # a replica starting while the live one's PATCH is coming in
        assert folder.lease(dead_id) == ""
        assert dead_owner[:16] not in {p.name for p in runs.iterdir()}
        assert folder.lease(live_id) == owner
        # the live writer still holds its upload: the rest of its body goes in whole
        sock.sendall(data[MIB:])
        status = sock.recv(65536).split(b"\r\n", 1)[0]
        assert status == b"HTTP/1.1 204 No Content", status
    finally:
        dead_sock.close()
        sock.close()
    assert (folder.data / "uploads" / live_id).read_bytes() == data
    assert folder.lease(live_id) == ""
