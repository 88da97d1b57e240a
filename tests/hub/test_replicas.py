"""Several ``alu-hub serve`` processes (replicas) behind nginx on 127.0.0.1, sharing one data
folder and one database (SQLite; PostgreSQL too when it is installed, see tests/conftest.py).

nginx (tests/support/nginx.py) sends requests round robin over the replicas and names the one
that served each request in its access log and in ``X-Alu-Upstream``; a request with
``X-Alu-Replica: <i>`` goes to replica ``i``, so a test can put a client's requests on the
replicas it chooses. Checked: a tus upload whose PATCHes land on both replicas is published
once with the right bytes; two writers on two replicas never interleave, and a client whose
link died mid-PATCH on one replica goes on through another at once (not after the lease's
30 s); server-sent events reach the clients of every replica (and resume on another one); a
replica starting up leaves the others' work in progress alone.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import itertools
import json
import math
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import select

from alu_client.core.transfers.base import (
    Control,
    MemoryCheckpoint,
    SessionPool,
    TransferContext,
)
from alu_client.core.transfers.upload import UploadSpec, poll_outcome, run
from alu_hub.app import build_hub
from alu_hub.demo import ensure_member
from alu_hub.hub import Hub
from alu_hub.media import generate_clip
from alu_hub.models import Item, Member, Upload, utcnow
from alu_hub.server import free_port
from alu_hub.settings import Settings
from alu_hub.tus import state as tus_state
from alu_hub.tus.locks import LOCK_WAIT_S
from tests.conftest import hub_db_mode
from tests.support import postgres
from tests.support.nginx import PIN_HEADER, Nginx, reverse_proxy
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(240)

ROOT = Path(__file__).resolve().parents[2]
REPLICAS = 2
KIB = 1024
MIB = 1024 * KIB
OFFSET_STREAM = "application/offset+octet-stream"
HUB_CLI = (sys.executable, "-m", "alu_hub.cli")
#: Generous: two busy cores, and each replica is a Python process importing the whole hub.
START_TIMEOUT_S = 90.0


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database" in metafunc.fixturenames:
        mode = hub_db_mode(metafunc.config)
        kinds = ["sqlite", "postgresql"] if mode == "both" else [mode]
        metafunc.parametrize("database", kinds, indirect=True, scope="module")


@pytest.fixture(scope="module")
def database(request: pytest.FixtureRequest) -> str:
    kind = str(request.param)
    if kind == "postgresql":
        try:
            postgres.shared_cluster()
        except postgres.PostgresUnavailable as e:
            if os.environ.get("CI") == "true" or hub_db_mode(request.config) == "postgresql":
                pytest.fail(f"{e} (PostgreSQL is required with CI=true or ALU_TEST_DATABASE)")
            pytest.skip(f"{e}; the replicas on PostgreSQL are skipped (with CI=true this fails)")
    return kind


# --- replicas -----------------------------------------------------------------------------------


@dataclass
class Replica:
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def serving(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"replica on {self.port} exited:\n{self.output()[-3000:]}")
        try:
            return requests.get(f"{self.url}/openapi.json", timeout=5).ok
        except requests.ConnectionError:
            return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)


def replica_env(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["ALU_HUB_DATABASE_URL"] = database_url
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("ALU_HUB_STORAGE", None)
    return env


def start_replica(data: Path, database_url: str, log: Path) -> Replica:
    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*HUB_CLI, "serve", "--data", str(data), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=replica_env(database_url),
            cwd=ROOT,
        )
    return Replica(port, proc, log)


@dataclass
class Cluster:
    data: Path
    database_url: str
    #: a hub object in this process on the same folder and database (rows, files)
    hub: Hub
    replicas: list[Replica]
    nginx: Nginx
    token: str
    tmp: Path
    extra: list[Replica] = field(default_factory=list)

    def api(self, path: str) -> str:
        return f"{self.nginx.url}/api/v1{path}"

    def headers(
        self, pin: int | None = None, extra: dict[str, str] | None = None
    ) -> dict[str, str]:
        h = {"Authorization": f"Bearer {self.token}", "Tus-Resumable": "1.0.0", **(extra or {})}
        if pin is not None:
            h[PIN_HEADER] = str(pin)
        return h

    def row(self, upload_id: str) -> Upload:
        with self.hub.db.session() as s:
            up = s.get(Upload, upload_id)
            assert up is not None
            s.expunge(up)
            return up

    def upload_file(self, upload_id: str) -> Path:
        return self.data / "uploads" / upload_id

    def replica_of(self, addr: str) -> int:
        return [r.addr for r in self.replicas].index(addr)

    def create_partial(self, length: int) -> tuple[str, str]:
        """A partial upload (never published by itself: its bytes stay where they are)."""
        r = requests.post(
            self.api("/uploads/"),
            headers=self.headers(None, {"Upload-Length": str(length), "Upload-Concat": "partial"}),
            timeout=30,
        )
        assert r.status_code == 201, r.text
        url = r.headers["Location"]
        assert url.startswith(self.nginx.url)
        return url, url.rsplit("/", 1)[-1]


@pytest.fixture(scope="module")
def cluster(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp(f"replicas-{database}")
    data = tmp / "hub"
    if database == "postgresql":
        url = postgres.shared_cluster().database_for(data.resolve())
    else:
        url = f"sqlite:///{data / 'hub.sqlite3'}"
    hub = build_hub(Settings(data_dir=data, database_url=url))
    ensure_member(hub, "ktn", "pw-1234", country="KE")
    replicas = [start_replica(data, url, tmp / f"replica-{i}.log") for i in range(REPLICAS)]
    try:
        for rep in replicas:
            wait_until(rep.serving, START_TIMEOUT_S, interval=0.1, what="a replica to serve")
        with reverse_proxy(tmp / "nginx", [r.port for r in replicas]) as nginx:
            r = requests.post(
                f"{nginx.url}/api/v1/session",
                json={"username": "ktn", "password": "pw-1234", "device": "pytest"},
                timeout=30,
            )
            assert r.status_code == 200, r.text
            c = Cluster(data, url, hub, replicas, nginx, r.json()["token"], tmp)
            yield c
            for rep in c.extra:
                rep.stop()
    finally:
        for thread in threading.enumerate():  # a publish of this process: let it end first
            if thread.name.startswith("upload-done:"):
                thread.join(60)
        for rep in replicas:
            rep.stop()
        hub.folder_lock.close()
        hub.db.dispose()


# --- helpers ------------------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


class RawPatch:
    """A PATCH written by hand through nginx, to leave it hanging mid-body (a link that died
    without a FIN: no more bytes, and the socket stays open)."""

    def __init__(self, c: Cluster, url: str, offset: int, length: int, pin: int) -> None:
        u = urlsplit(url)
        self.sock = socket.create_connection(("127.0.0.1", c.nginx.port), timeout=30)
        head = (
            f"PATCH {u.path} HTTP/1.1\r\nHost: {u.netloc}\r\n"
            f"Authorization: Bearer {c.token}\r\nTus-Resumable: 1.0.0\r\n"
            f"{PIN_HEADER}: {pin}\r\nUpload-Offset: {offset}\r\n"
            f"Content-Type: {OFFSET_STREAM}\r\nContent-Length: {length}\r\n\r\n"
        )
        self.sock.sendall(head.encode())

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_head(self) -> tuple[int, dict[str, str]]:
        got = b""
        while b"\r\n\r\n" not in got:
            more = self.sock.recv(65536)
            if not more:
                break
            got += more
        lines = got.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1]) if lines and lines[0] else 0
        headers = {}
        for line in lines[1:]:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        return status, headers

    def close(self) -> None:
        self.sock.close()


def transfer_context(token: str) -> TransferContext:
    return TransferContext(
        control=Control(),
        checkpoint=MemoryCheckpoint(),
        sessions=SessionPool(),
        headers={"Authorization": f"Bearer {token}"},
    )


def access_log(c: Cluster, since: int) -> list[list[str]]:
    """nginx's lines since line ``since``: method, uri, status, upstream, time, connection."""
    return [line.split() for line in c.nginx.log_lines()[since:]]


# --- 1. a tus upload over both replicas -----------------------------------------------------------


def test_upload_whose_patches_land_on_every_replica_is_published_once(
    cluster: Cluster, tmp_path: Path
) -> None:
    c = cluster
    path = tmp_path / "floods.mp4"
    generate_clip(path, seconds=4.0, width=320, height=240, seed=11)
    size, sha = path.stat().st_size, sha256_file(path)
    title = f"Floods in the north, through {REPLICAS} replicas ({c.database_url[:6]})"
    meta = {"filename": path.name, "sha256": sha, "title": title}
    chunk = 32 * KIB
    ctx = transfer_context(c.token)
    before = len(c.nginx.log_lines())
    try:
        result = run(UploadSpec(path, c.api("/uploads/"), meta, chunk_size=chunk), ctx)
        state, item_id, error = poll_outcome(result.url, ctx, 90, result.url)
    finally:
        ctx.sessions.close()
    assert (state, error) == ("published", "") and item_id
    assert (result.size, result.restarted) == (size, False)

    upload_id = result.url.rsplit("/", 1)[-1]
    lines = access_log(c, before)
    patches = [f for f in lines if f[0] == "PATCH" and f[1].endswith(upload_id)]
    assert len(patches) == math.ceil(size / chunk)
    assert {f[2] for f in patches} == {"204"}
    served = {c.replica_of(f[3]) for f in patches}
    assert served == set(range(REPLICAS)), patches  # round robin: each replica took PATCHes
    # consecutive PATCHes of the upload went to different replicas
    assert sum(a[3] != b[3] for a, b in itertools.pairwise(patches)) >= len(patches) // 2

    up = c.row(upload_id)
    assert (up.state, up.item_id, up.offset, up.lock_owner) == ("published", item_id, size, "")
    items = requests.get(c.api("/items"), headers=c.headers(), timeout=30).json()["items"]
    mine = [i for i in items if i["title"] == title]
    assert [i["id"] for i in mine] == [item_id]  # published once
    broadcast = next(r for r in mine[0]["renditions"] if r["name"] == "broadcast")
    assert (broadcast["sha256"], broadcast["size"]) == (sha, size)
    got = requests.get(
        c.api(f"/items/{item_id}/renditions/broadcast"), headers=c.headers(), timeout=60
    )
    assert got.status_code == 200 and hashlib.sha256(got.content).hexdigest() == sha


# --- 2. writers on different replicas -------------------------------------------------------------


def test_two_writers_on_two_replicas_never_interleave(cluster: Cluster) -> None:
    c = cluster
    length = 4 * MIB
    first, second = os.urandom(length), os.urandom(length)
    url, upload_id = c.create_partial(length)
    raw = RawPatch(c, url, 0, length, pin=0)
    try:
        raw.send(first[: MIB + MIB // 2])
        wait_until(
            lambda: file_size(c.upload_file(upload_id)) >= MIB,
            30,
            what="replica 0 to write the first writer's bytes",
        )
        # while replica 0 still reads the first body, a second writer comes through replica 1
        t0 = time.monotonic()
        r = requests.patch(
            url,
            data=second,
            headers=c.headers(1, {"Upload-Offset": "0", "Content-Type": OFFSET_STREAM}),
            timeout=60,
        )
        waited = time.monotonic() - t0
        assert c.replica_of(r.headers["X-Alu-Upstream"]) == 1
        # replica 0's writer was asked to let go: it stored what it had and answered 423, so
        # the second writer, at offset 0, was told the offset moved (instead of a 423 of its
        # own after LOCK_WAIT_S, waiting for the lease)
        assert r.status_code == 409, r.text
        assert waited < LOCK_WAIT_S
        kept = int(r.headers["Upload-Offset"])
        assert MIB <= kept <= MIB + MIB // 2
        status, headers = raw.read_head()
        assert status == 423 and headers["upload-offset"] == str(kept)
        assert c.replica_of(headers["x-alu-upstream"]) == 0
    finally:
        raw.close()
    head = requests.head(url, headers=c.headers(1), timeout=30)
    assert head.headers["Upload-Offset"] == str(kept)
    r = requests.patch(
        url,
        data=second[kept:],
        headers=c.headers(1, {"Upload-Offset": str(kept), "Content-Type": OFFSET_STREAM}),
        timeout=60,
    )
    assert r.status_code == 204 and r.headers["Upload-Offset"] == str(length)
    # the bytes are the first writer's up to where it stopped, then the second one's
    assert c.upload_file(upload_id).read_bytes() == first[:kept] + second[kept:]
    up = c.row(upload_id)
    assert (up.offset, up.lock_owner) == (length, "")


def test_a_dropped_patch_resumes_through_another_replica_at_once(
    cluster: Cluster, record_property: Any
) -> None:
    c = cluster
    length = 4 * MIB
    data = os.urandom(length)
    url, upload_id = c.create_partial(length)
    raw = RawPatch(c, url, 0, length, pin=0)
    try:
        raw.send(data[: MIB + MIB // 2])
        wait_until(
            lambda: file_size(c.upload_file(upload_id)) >= MIB and c.row(upload_id).lock_owner,
            30,
            what="replica 0 to write and hold the lease",
        )
        # The link dies without a FIN: replica 0 waits for bytes that never come, holding the
        # lease (30 s). The client comes back through replica 1.
        t0 = time.monotonic()
        head = requests.head(url, headers=c.headers(1), timeout=30)
        assert head.status_code == 200 and c.replica_of(head.headers["X-Alu-Upstream"]) == 1
        kept = int(head.headers["Upload-Offset"])
        assert MIB <= kept <= MIB + MIB // 2  # what replica 0 had written, stored on request
        r = requests.patch(
            url,
            data=data[kept:],
            headers=c.headers(1, {"Upload-Offset": str(kept), "Content-Type": OFFSET_STREAM}),
            timeout=60,
        )
        resumed = time.monotonic() - t0
        assert r.status_code == 204, r.text
        assert c.replica_of(r.headers["X-Alu-Upstream"]) == 1
        record_property("resume_through_other_replica_s", round(resumed, 2))
        print(f"resumed through another replica in {resumed:.2f} s")
        assert resumed < 5.0  # not the lease's 30 s
        status, _ = raw.read_head()  # the old writer saved, let go and answered (to nobody)
        assert status == 423
    finally:
        raw.close()
    assert c.upload_file(upload_id).read_bytes() == data
    assert c.row(upload_id).lock_owner == ""


# --- 3. server-sent events ----------------------------------------------------------------------


class EventReader:
    """An SSE stream through nginx, read on a thread from a plain socket (so that ``close``
    ends it at once): (received at, id, item) per event."""

    def __init__(self, c: Cluster, pin: int, last_event_id: str | None = None) -> None:
        self.sock = socket.create_connection(("127.0.0.1", c.nginx.port), timeout=60)
        resume = f"Last-Event-ID: {last_event_id}\r\n" if last_event_id is not None else ""
        self.sock.sendall(
            (
                f"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1:{c.nginx.port}\r\n"
                f"Authorization: Bearer {c.token}\r\n{PIN_HEADER}: {pin}\r\n"
                f"Accept: text/event-stream\r\n{resume}\r\n"
            ).encode()
        )
        self.file = self.sock.makefile("rb")
        status = self.file.readline().split()
        assert status[1] == b"200", status
        headers: dict[str, str] = {}
        while (line := self.file.readline().strip()) != b"":
            key, _, value = line.decode("latin-1").partition(":")
            headers[key.strip().lower()] = value.strip()
        assert headers.get("transfer-encoding") == "chunked", headers
        self.upstream = c.replica_of(headers["x-alu-upstream"])
        self.events: queue.Queue[tuple[float, int, dict[str, Any]]] = queue.Queue()
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _body(self) -> Iterator[bytes]:
        """The chunked body, chunk by chunk, until the end or the socket closes."""
        while size_line := self.file.readline():
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                return
            yield self.file.read(size)
            self.file.readline()

    def _read(self) -> None:
        text = ""
        try:
            for chunk in self._body():
                text += chunk.decode()
                while "\n\n" in text:
                    block, text = text.split("\n\n", 1)
                    fields = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line)
                    if block.startswith("retry:"):
                        self.started.set()
                    if "data" in fields:
                        item = json.loads(fields["data"])
                        self.events.put((time.monotonic(), int(fields["id"]), item))
        except (OSError, ValueError):
            return  # closed by the test

    def next(self, timeout: float) -> tuple[float, int, dict[str, Any]]:
        return self.events.get(timeout=timeout)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(10)
        self.file.close()


def test_events_reach_the_clients_of_every_replica(cluster: Cluster, clip: Path) -> None:
    c = cluster
    reader = EventReader(c, pin=0)
    try:
        assert reader.upstream == 0
        assert reader.started.wait(30), "the event stream did not start"
        # another process publishes on the shared data: no replica hears of it in-process
        done = subprocess.run(
            [
                *HUB_CLI,
                "publish",
                str(clip),
                "--data",
                str(c.data),
                "--title",
                "Pushed by the desk",
            ],
            capture_output=True,
            text=True,
            env=replica_env(c.database_url),
            cwd=ROOT,
            timeout=120,
        )
        published_at = time.monotonic()
        assert done.returncode == 0, done.stderr[-2000:]
        found = re.search(r"Published (\w+) \(seq (\d+)\)", done.stdout)
        assert found, done.stdout
        item_id, seq = found.group(1), int(found.group(2))
        received, event_id, item = reader.next(30)
        assert (event_id, item["id"], item["title"]) == (seq, item_id, "Pushed by the desk")
        # within about a second (the keep-alive interval, which would also bring it, is 15 s)
        assert received - published_at < 5.0
    finally:
        reader.close()

    # a client that lost its stream resumes through the other replica from its last event
    again = EventReader(c, pin=1, last_event_id=str(seq - 1))
    try:
        assert again.upstream == 1
        _, event_id, item = again.next(30)
        assert (event_id, item["id"]) == (seq, item_id)
    finally:
        again.close()


# --- 4. a replica starting up -------------------------------------------------------------------


def _processing_upload(c: Cluster, clip: Path, title: str, age_s: float) -> str:
    """An upload with all its bytes, in ``processing``, last touched ``age_s`` ago."""
    with c.hub.db.session() as s:
        member = s.execute(select(Member).where(Member.username == "ktn")).scalar_one()
        member_id = member.id
    upload_id = "r" + os.urandom(12).hex()
    now = utcnow()
    then = now - dt.timedelta(seconds=age_s)
    size = clip.stat().st_size
    (c.data / "uploads" / upload_id).write_bytes(clip.read_bytes())
    with c.hub.db.session() as s:
        s.add(
            Upload(
                id=upload_id,
                member_id=member_id,
                length=size,
                offset=size,
                meta={"filename": "c.mp4", "sha256": sha256_file(clip), "title": title},
                concat="",
                parts={},
                state="processing",
                error="",
                created_at=then,
                updated_at=then,
                expires_at=now + dt.timedelta(days=7),
                lock_owner="",
            )
        )
    return upload_id


def _items_titled(c: Cluster, title: str) -> list[dict[str, Any]]:
    items = requests.get(c.api("/items"), headers=c.headers(), timeout=30).json()["items"]
    return [i for i in items if i["title"] == title]


def test_a_replica_starting_leaves_the_work_of_others_alone(
    cluster: Cluster, other_clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (its own footage: the cluster's earlier tests published ``clip`` as the agency's, and a
    # member's upload of those bytes is refused as already on the network)
    clip = other_clip
    c = cluster
    hub = c.hub  # this process publishes an upload, as a replica would
    hub.folder_lock.share()
    stamp = os.urandom(3).hex()
    live_title, stale_title = f"Being published {stamp}", f"Left by a crash {stamp}"
    # Both were last touched 10 minutes ago; this process starts publishing "live" (its
    # heartbeat, sped up here, then keeps it fresh) and nobody publishes "stale" (its
    # publisher died).
    monkeypatch.setattr(tus_state, "PUBLISH_HEARTBEAT_S", 0.2)
    live = _processing_upload(c, clip, live_title, age_s=600)
    stale = _processing_upload(c, clip, stale_title, age_s=600)

    # the publish of "live" stops between storing the item's first files and its commit
    inside, go = threading.Event(), threading.Event()
    put_file = hub.storage.put_file

    def paused_put_file(src: Path, key: str) -> None:
        if key.endswith("thumbnail.jpg"):
            inside.set()
            assert go.wait(120), "the test never let the publish go on"
        put_file(src, key)

    monkeypatch.setattr(hub.storage, "put_file", paused_put_file)
    tus_state._start_complete(hub, live)
    assert inside.wait(60), "the publish did not reach its last file"
    work = sorted(p.name for p in (c.data / "work").iterdir())
    assert f"upload-{live}" in work and len(work) == 2  # staging, and the item's scratch
    with hub.db.session() as s:
        known = set(s.scalars(select(Item.id)))
    items_dir = c.data / "storage" / "items"
    uncommitted = [d for d in items_dir.iterdir() if d.name not in known]
    assert len(uncommitted) == 1  # the files of the item being published, not yet in the feed
    stored = sorted(p.name for p in uncommitted[0].iterdir())
    assert stored == ["broadcast.mp4", "proxy.mp4"]
    wait_until(
        lambda: c.row(live).updated_at > utcnow() - dt.timedelta(seconds=30),
        30,
        what="the publishing heartbeat",
    )

    # a third replica starts on the same folder and database
    third = start_replica(c.data, c.database_url, c.tmp / "replica-third.log")
    c.extra.append(third)
    wait_until(third.serving, START_TIMEOUT_S, interval=0.1, what="the third replica to serve")
    # its start-up is over (it serves only after): the work in progress is all there
    # (the third replica may be publishing the stale upload meanwhile: more entries)
    assert set(work) <= {p.name for p in (c.data / "work").iterdir()}
    assert sorted(p.name for p in uncommitted[0].iterdir()) == stored
    assert c.row(live).state == "processing"
    # ... and it took up the upload nobody was publishing, and that one only
    wait_until(lambda: c.row(stale).state == "published", 90, what="the stale upload published")
    log = third.output()
    assert f"publishing upload {stale[:8]} again" in log
    assert live[:8] not in log

    go.set()
    for thread in threading.enumerate():
        if thread.name == f"upload-done:{live}":
            thread.join(90)
    up = c.row(live)
    assert (up.state, up.error) == ("published", "")
    assert up.item_id == uncommitted[0].name  # the publish that was under way, not another
    for title, upload_id in ((live_title, live), (stale_title, stale)):
        mine = _items_titled(c, title)
        assert [i["id"] for i in mine] == [c.row(upload_id).item_id]  # each published once
        broadcast = next(r for r in mine[0]["renditions"] if r["name"] == "broadcast")
        assert broadcast["sha256"] == sha256_file(clip)
        for name in ("broadcast", "proxy"):
            r = requests.get(
                c.api(f"/items/{mine[0]['id']}/renditions/{name}"), headers=c.headers(), timeout=60
            )
            assert r.status_code == 200 and r.content
    assert not (c.data / "work" / f"upload-{live}").exists()
