"""Issue 6, crash soak: the real engine, killed with SIGKILL again and again, loses nothing.

A mixed queue against a live hub on 127.0.0.1 — segmented downloads (several Range streams)
and single-stream ones, parallel tus uploads (parts joined by concatenation) and single ones —
is worked by ``tests/support/soak_engine.py`` in a subprocess, through a throttling proxy. The
test kills it with SIGKILL and starts it again: 6 times in the short form (default suite), 20
times in the long form (``-m slow``). Kills fall at random moments (after a random share of the
bytes still to move has gone through the proxy) and at the dangerous ones, where the engine
kills itself (``ALU_SOAK_KILL``, listed in soak_engine's doc): mid-chunk, with the part file
fsynced but its checkpoint not saved, after the hub acknowledged a PATCH but before anything
was stored, with the part file renamed into place but the transfer's end not committed,
inside the commit that ends a transfer, after the hub accepted the history but before the
outbox knew. A point is only asked for when the engine is sure to reach it; otherwise the
kill is a random one.

At the end: every downloaded file byte-identical to its source, every upload published on the
hub exactly once (no second item, no second published upload), every transfer done exactly
once (one 'done' in its log, one library file per download, nothing left in the downloads
folder but the files), the history outbox complete (one ``*_completed`` event per transfer,
all sent, each once on the hub), no checkpoint (upload URLs are secrets) left behind, and
``PRAGMA integrity_check`` ok.

Bytes re-sent, range by range: for downloads, every block the engine writes into a part file
(``ALU_SOAK_WRITES``); for uploads, every PATCH body byte the hub reads (``_Ledger``, an ASGI
middleware in front of the hub's app). Bytes of a run that earlier runs had already moved are
"sent again after the kill" that ended the run before. They are printed per kill
(``pytest -s``) against the target — one chunk per kill and transfer: the downloads'
checkpoint interval, the uploads' chunk per stream — and bounded generously.

Reproduce a run: the seed is printed; ``ALU_SOAK_SEED=<seed>`` replays the same plan (the
moments still depend on timing). Engine logs: ``<tmp>/desk/logs/soak-engine.log``, its output
per run in ``<tmp>/runs/``.

One dangerous moment is not left to the soak's chance: the hub answered the final POST that
joins a parallel upload's parts, and the engine died before storing the answer;
``test_killed_after_the_hub_joined_the_parts`` kills it there and checks that the restarted
engine finds where the parts went and ends with the one published item.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from alu_client.core.credentials import open_secrets
from alu_client.core.paths import Paths, default_paths
from alu_client.core.profiles import Profiles, sign_in
from alu_client.core.services import Services
from alu_client.core.store import Store
from alu_client.core.transfers.upload import spec as upload_spec
from alu_client.core.uploads import UploadFields
from alu_hub.app import build_hub, create_app
from alu_hub.models import Item, Upload
from alu_hub.server import serve_in_thread
from alu_hub.settings import Settings
from tests.support import soak_engine
from tests.support.faultproxy import FaultProxy
from tests.support.livehub import LiveHub
from tests.support.soak_engine import MAX_DOWNLOADS, MAX_UPLOADS, MIB, TUNING
from tests.support.waiting import wait_until

KIB = 1024
PASSWORD = "pw-crash-soak"
ROOT = Path(__file__).resolve().parents[2]
#: the largest block either job moves at once (download reads, upload body blocks)
BLOCK = 256 * KIB
#: upload bytes of one stream that may still reach the hub after a kill (the proxy's buffer)
IN_FLIGHT = 2 * MIB

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Interval = tuple[int, int]


# --- what the hub sent and received, range by range -----------------------------------------


@dataclass
class _Span:
    run: int
    direction: str  # "down": rendition bytes the hub sent; "up": PATCH bytes it received
    key: str  # the rendition's path, or the upload's id
    start: int  # offset in the rendition's file, or in the upload
    length: int = 0


class _Ledger:
    """Every body byte of a rendition download or a PATCH at the hub, with its offset and the
    engine run it belongs to (``run`` is set by the test before each start)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.run = 0
        self.spans: list[_Span] = []
        self.totals = {"down": 0, "up": 0}

    def open(self, direction: str, key: str, start: int) -> _Span:
        with self.lock:
            span = _Span(self.run, direction, key, start)
            self.spans.append(span)
            return span

    def add(self, span: _Span, n: int) -> None:
        with self.lock:
            span.length += n
            self.totals[span.direction] += n

    def snapshot(self) -> list[_Span]:
        with self.lock:
            return [_Span(s.run, s.direction, s.key, s.start, s.length) for s in self.spans]


class _LedgerMiddleware:
    """Pure ASGI: counts rendition response bodies and PATCH request bodies as they pass."""

    def __init__(self, app: ASGIApp, ledger: _Ledger) -> None:
        self.app = app
        self.ledger = ledger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if method == "GET" and "/renditions/" in path:
            await self._download(scope, receive, send, path, headers.get("range", ""))
        elif method == "PATCH" and path.startswith("/api/v1/uploads/"):
            offset = int(headers.get("upload-offset", "0") or 0)
            span = self.ledger.open("up", path.rsplit("/", 1)[-1], offset)

            async def counted_receive() -> Message:
                message = await receive()
                if message["type"] == "http.request":
                    self.ledger.add(span, len(message.get("body", b"")))
                return message

            await self.app(scope, counted_receive, send)
        else:
            await self.app(scope, receive, send)

    async def _download(
        self, scope: Scope, receive: Receive, send: Send, path: str, rng: str
    ) -> None:
        spans: list[_Span] = []

        async def counted_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (200, 206):
                start = 0
                if message["status"] == 206 and rng.startswith("bytes="):
                    start = int(rng[len("bytes=") :].split("-", 1)[0] or 0)
                spans.append(self.ledger.open("down", path, start))
            elif message["type"] == "http.response.body" and spans:
                self.ledger.add(spans[0], len(message.get("body", b"")))
            await send(message)

        await self.app(scope, receive, counted_send)


def _merge(intervals: list[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _overlap(a: int, b: int, union: list[Interval]) -> int:
    return sum(max(0, min(b, y) - max(a, x)) for x, y in union)


def _covered(union: list[Interval]) -> int:
    return sum(b - a for a, b in union)


def _resent_by_run(
    pieces: list[tuple[int, Any, int, int]], runs: int
) -> tuple[list[int], dict[Any, list[Interval]]]:
    """``pieces``: (run, key, start, length). Per run, the bytes that earlier runs had already
    moved for the same key; and each key's union of everything moved."""
    per_run = [0] * runs
    earlier: dict[Any, list[Interval]] = {}
    for run in range(runs):
        this: dict[Any, list[Interval]] = {}
        for r, key, start, length in pieces:
            if r != run or length <= 0:
                continue
            per_run[run] += _overlap(start, start + length, earlier.get(key, []))
            this.setdefault(key, []).append((start, start + length))
        for key, intervals in this.items():
            earlier[key] = _merge(earlier.get(key, []) + intervals)
    return per_run, earlier


def _reap(proc: subprocess.Popen[bytes]) -> None:
    """No engine outlives a failed check."""
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=30)


# --- the workload ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    #: download sizes: from TUNING.segment_threshold on, segmented (several streams)
    downloads: tuple[int, ...]
    #: (size, parallel streams) of each upload; more than 1: parts joined on the hub
    uploads: tuple[tuple[int, int], ...]
    #: the uploads' fixed chunk size
    chunk: int = 1 * MIB
    #: the proxy's throttle, per connection and direction (bytes/s)
    rate: int = 2 * MIB


SHORT = Workload(downloads=(7 * MIB, 32 * MIB), uploads=((5 * MIB, 1), (12 * MIB, 3)))
SHORT_PLAN = (
    "upload-block",  # mid-chunk of a PATCH
    "random",  # mid-chunk, wherever the bytes are
    "upload-complete-acked",
    "download-renamed",
    "transfer-committed",
    "transfer-commit",
)
#: in queue order: a small single-stream transfer runs beside a large one from the start, so
#: that transfers end all along the soak
LONG = Workload(
    downloads=(7 * MIB, 48 * MIB, 24 * MIB, 6 * MIB, 32 * MIB, 16 * MIB),
    uploads=((7 * MIB, 1), (32 * MIB, 3), (5 * MIB, 1), (16 * MIB, 2), (6 * MIB, 1)),
)
#: the moments that wait for a transfer's end are spread out, so that bytes still move for
#: most kills
LONG_PLAN = (
    "random",
    "download-write",
    "upload-block",
    "random",
    "download-checkpoint",
    "upload-acked",
    "random",
    "upload-complete-acked",
    "download-write",
    "upload-block",
    "random",
    "download-verified",
    "upload-created",
    "random",
    "download-renamed",
    "upload-acked",
    "random",
    "transfer-committed",
    "transfer-commit",
    "history-acked",
)


def padded_clip(clip: bytes, size: int, rng: random.Random, dest: Path) -> Path:
    """A real H.264 clip (the hub probes and transcodes what it publishes) grown to ``size``
    bytes with a top-level MP4 ``free`` box of random bytes, so every file is distinct."""
    pad = size - len(clip) - 8
    assert pad > 0
    dest.write_bytes(clip + struct.pack(">I", pad + 8) + b"free" + rng.randbytes(pad))
    return dest


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(MIB):
            h.update(block)
    return h.hexdigest()


@dataclass
class Planned:
    direction: str
    tid: int
    source: Path  # the file pushed by the agency (download) or on the workstation (upload)
    sha256: str
    size: int
    streams: int
    item_id: str = ""  # downloads: the pushed item


@dataclass
class KillRecord:
    run: int
    wanted: str
    point: str  # the kill point reached, or "random"
    nth: int
    moved: int  # bytes through the proxy in the run before the kill
    open_transfers: int


@dataclass
class QueueStatus:
    """Where the queue stands, read between runs (the engine being dead). Byte counts are lower
    bounds of what the engine still has to move: the sizes less the download bytes written at
    least once, less the upload bytes the hub has read at least once and ``IN_FLIGHT`` per
    stream (a killed run may still have those on their way to the hub)."""

    open: int
    download_left: int
    upload_left: int
    downloads_unrenamed: int  # open downloads whose file is not at its final name yet
    uploads_unfinished: int  # open uploads the hub is sure to want more bytes of
    single_uploads_unfinished: int  # of those, single-stream ones
    parallel_uploads_unfinished: int  # and parallel ones
    uploads_uncreated: int  # open uploads with an upload (or a part) still to create
    pending_events: int  # history events not yet accepted by the hub

    @property
    def bytes_left(self) -> int:
        return self.download_left + self.upload_left


@dataclass
class Soak:
    tmp: Path
    live: LiveHub
    ledger: _Ledger
    proxy: FaultProxy
    rng: random.Random
    seed: int
    workload: Workload
    paths: Paths
    env: dict[str, str]
    planned: list[Planned] = field(default_factory=list)
    kills: list[KillRecord] = field(default_factory=list)
    runs: int = 0
    local_events: set[str] = field(default_factory=set)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)  # by sha256

    @property
    def writes_log(self) -> Path:
        return self.tmp / "writes.log"

    # --- setting up -----------------------------------------------------------------------

    def enqueue(self, clip: bytes) -> None:
        """Publish the pushes, sign the desk in and queue everything (no engine runs yet)."""
        w = self.workload
        agency = self.tmp / "agency"
        agency.mkdir()
        items: list[tuple[str, Path, int]] = []
        for n, size in enumerate(w.downloads):
            src = padded_clip(clip, size, self.rng, agency / f"push-{n}.mp4")
            item_id = self.live.publish(src, title=f"Soak push {n}", slug=f"soak-push-{n}")
            items.append((item_id, src, size))
        station = self.tmp / "station"
        station.mkdir()
        uploads = [
            (padded_clip(clip, size, self.rng, station / f"footage-{n}.mp4"), size, parallel)
            for n, (size, parallel) in enumerate(w.uploads)
        ]
        self.live.member("soak", PASSWORD)
        secrets = open_secrets(self.paths, env=self.env)
        store = Store(self.paths.db_path)
        sign_in(Profiles(store), secrets, self.proxy.url, "soak", PASSWORD, allow_http=True)
        store.close()
        services = Services(self.paths, secrets)
        try:
            queue = services.make_queue()
            for item_id, src, size in items:
                tid = services.download(item_id, queue=queue)
                streams = TUNING.max_segments if size >= TUNING.segment_threshold else 1
                self.planned.append(
                    Planned("download", tid, src, sha256_file(src), size, streams, item_id)
                )
            for path, size, parallel in uploads:
                sha = sha256_file(path)
                fields = UploadFields(title=f"Soak upload {path.stem}", country="KE")
                extra = {"chunk_size": w.chunk, "parallel": parallel}
                tid = services.upload(path, fields, sha256=sha, queue=queue, extra=extra)
                self.planned.append(Planned("upload", tid, path, sha, size, parallel))
        finally:
            services.stop()

    # --- running ----------------------------------------------------------------------------

    def spawn(self, kill: str = "") -> subprocess.Popen[bytes]:
        self.ledger.run = self.runs
        env = {**os.environ, **self.env, "PYTHONPATH": str(ROOT)}
        env.pop(soak_engine.ENV_KILL, None)
        env[soak_engine.ENV_WRITES] = str(self.writes_log)
        env[soak_engine.ENV_RUN] = str(self.runs)
        if kill:
            env[soak_engine.ENV_KILL] = kill
        logs = self.tmp / "runs"
        logs.mkdir(exist_ok=True)
        with (
            open(logs / f"{self.runs}.out", "wb") as out,
            open(logs / f"{self.runs}.err", "wb") as err,
        ):
            return subprocess.Popen(
                [sys.executable, "-m", "tests.support.soak_engine"],
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=err,
            )

    def output(self, run: int) -> tuple[str, str]:
        logs = self.tmp / "runs"
        return (
            (logs / f"{run}.out").read_text(errors="replace"),
            (logs / f"{run}.err").read_text(errors="replace"),
        )

    def moved(self) -> int:
        """Bytes through the proxy: what reached the engine or the hub."""
        return self.proxy.bytes_down + self.proxy.bytes_up

    def kill_once(self, wanted: str) -> None:
        """One engine run, ended by SIGKILL: at the point ``wanted`` (the engine kills itself)
        when it is sure to be reached, else after a random share of the bytes left."""
        status = self.status()
        point, nth = self.choose(wanted, status)
        start = self.moved()
        proc = self.spawn(f"{point}:{nth}" if point != "random" else "")
        try:
            if point == "random":
                share = int(self.rng.uniform(0.02, 0.15) * status.bytes_left)
                threshold = start + max(256 * KIB, share)

                def reached() -> bool:
                    return proc.poll() is not None or self.moved() >= threshold

                wait_until(reached, timeout=180, interval=0.01, what=f"{threshold} bytes moved")
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
            code = proc.wait(timeout=180)
        finally:
            _reap(proc)
        out, err = self.output(self.runs)
        assert code == -signal.SIGKILL, (
            f"run {self.runs} ended with {code} before the kill ({wanted} → {point}:{nth}; "
            f"{status}):\n{out}\n{err}"
        )
        if point != "random":
            assert f"SIGKILL at {point} #{nth}" in err, err
        moved = self.moved() - start
        self.kills.append(KillRecord(self.runs, wanted, point, nth, moved, status.open))
        self.runs += 1

    def finish(self) -> str:
        proc = self.spawn()
        try:
            code = proc.wait(timeout=300)
        finally:
            _reap(proc)
        out, err = self.output(self.runs)
        assert code == 0, f"the last run ended with {code}:\n{out}\n{err}"
        assert "soak-engine: done" in out, out
        self.runs += 1
        return out

    # --- where the queue stands --------------------------------------------------------------

    def writes(self) -> list[tuple[int, tuple[int, int], int, int]]:
        """(run, (device, inode), offset, length) of every block a download wrote."""
        if not self.writes_log.exists():
            return []
        out = []
        for line in self.writes_log.read_text().splitlines():
            run, dev, ino, pos, length = (int(v) for v in line.split())
            out.append((run, (dev, ino), pos, length))
        return out

    def status(self) -> QueueStatus:
        written: dict[tuple[int, int], list[Interval]] = {}
        for _run, key, pos, length in self.writes():
            written.setdefault(key, []).append((pos, pos + length))
        received: dict[str, list[Interval]] = {}
        for s in self.ledger.snapshot():
            if s.direction == "up":
                received.setdefault(s.key, []).append((s.start, s.start + s.length))
        with sqlite3.connect(self.paths.db_path) as db:
            db.row_factory = sqlite3.Row
            rows = {
                r["id"]: r
                for r in db.execute(
                    "SELECT id, destination FROM transfers"
                    " WHERE state IN ('queued', 'active', 'paused')"
                )
            }
            checkpoints = {
                r["transfer_id"]: json.loads(r["data"])
                for r in db.execute("SELECT transfer_id, data FROM transfer_checkpoints")
            }
            pending = db.execute(
                "SELECT COUNT(*) FROM history WHERE origin = 'here' AND sent_at IS NULL"
            ).fetchone()[0]
        download_left = upload_left = unrenamed = unfinished = singles = parallels = 0
        uncreated = 0
        for p in self.planned:
            row = rows.get(p.tid)
            if row is None:
                continue
            if p.direction == "download":
                dest = Path(row["destination"])
                if dest.exists():
                    continue
                unrenamed += 1
                part = dest.with_name(dest.name + ".part")
                done = 0
                if part.exists():
                    st = part.stat()
                    done = _covered(_merge(written.get((st.st_dev, st.st_ino), [])))
                download_left += max(0, p.size - done)
            else:
                cp = checkpoints.get(p.tid, {})
                if cp.get("complete"):
                    continue
                parts: dict[str, str] = cp.get("parts") or {}
                url = cp.get("url") or ""
                ids = [u.rstrip("/").rsplit("/", 1)[-1] for u in [*parts.values(), url] if u]
                if not ids or (parts and not all(parts.values())):
                    uncreated += 1
                covered = sum(_covered(_merge(received.get(i, []))) for i in ids)
                left = p.size - covered - p.streams * IN_FLIGHT
                if left > 0:
                    unfinished += 1
                    singles += p.streams == 1
                    parallels += p.streams > 1
                    upload_left += left
        return QueueStatus(
            open=len(rows),
            download_left=download_left,
            upload_left=upload_left,
            downloads_unrenamed=unrenamed,
            uploads_unfinished=unfinished,
            single_uploads_unfinished=singles,
            parallel_uploads_unfinished=parallels,
            uploads_uncreated=uncreated,
            pending_events=int(pending),
        )

    def choose(self, wanted: str, st: QueueStatus) -> tuple[str, int]:
        """(point, n) for the kill wanted if the engine is sure to reach it; else a random
        moment, else the next end of a transfer, else the history sent at the end."""
        rng = self.rng

        def by_bytes(left: int, unit: int) -> int | None:
            most = int(left * 0.2) // unit
            return rng.randint(1, most) if most >= 1 else None

        nth: int | None = None
        if wanted == "download-write" and st.downloads_unrenamed:
            nth = by_bytes(st.download_left, BLOCK)
        elif wanted == "download-checkpoint" and st.downloads_unrenamed:
            nth = by_bytes(st.download_left, 2 * TUNING.checkpoint_every)
        elif wanted == "upload-block" and st.uploads_unfinished:
            nth = by_bytes(st.upload_left, BLOCK)
        elif wanted == "upload-acked" and st.uploads_unfinished:
            nth = by_bytes(st.upload_left, self.workload.chunk)
        elif wanted in ("download-verified", "download-renamed"):
            nth = 1 if st.downloads_unrenamed else None
        elif wanted == "upload-complete-acked":
            nth = 1 if st.single_uploads_unfinished else None
        elif wanted == "upload-joined":
            nth = 1 if st.parallel_uploads_unfinished else None
        elif wanted == "upload-created":
            nth = 1 if st.uploads_uncreated else None
        elif wanted in ("transfer-commit", "transfer-committed"):
            nth = 1 if st.open else None
        elif wanted == "history-acked":
            nth = 1 if st.open or st.pending_events else None
        if nth is not None:
            return wanted, nth
        if st.bytes_left >= MIB:
            return "random", 0
        if st.open:
            return "transfer-commit", 1
        assert st.pending_events, f"nothing left to kill ({wanted}): the workload is too small"
        return "history-acked", 1

    # --- the checks -------------------------------------------------------------------------

    def check(self, final_output: str) -> None:
        db = sqlite3.connect(self.paths.db_path)
        db.row_factory = sqlite3.Row
        try:
            self._check_store(db, final_output)
        finally:
            db.close()
        self._check_hub()

    def _check_store(self, db: sqlite3.Connection, final_output: str) -> None:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        rows = {r["id"]: r for r in db.execute("SELECT * FROM transfers")}
        # every transfer the test queued, no other, each done, and done once
        assert sorted(rows) == sorted(p.tid for p in self.planned)
        states = {tid: (r["state"], r["last_error"]) for tid, r in rows.items()}
        assert all(s == "done" for s, _ in states.values()), (states, final_output)
        dones = Counter(
            r[0] for r in db.execute("SELECT transfer_id FROM transfer_log WHERE kind = 'done'")
        )
        assert dones == Counter({p.tid: 1 for p in self.planned}), dones
        # upload URLs are secrets: nothing of a finished transfer stays in the checkpoints
        left = [r[0] for r in db.execute("SELECT transfer_id FROM transfer_checkpoints")]
        assert left == [], f"checkpoints left behind by done transfers {left}"
        # the history outbox: one completed event per transfer, all sent
        events = db.execute(
            "SELECT id, type, transfer_id, item_id, sent_at FROM history WHERE origin = 'here'"
        ).fetchall()
        assert Counter(e["transfer_id"] for e in events) == Counter(
            {p.tid: 1 for p in self.planned}
        ), [dict(e) for e in events]
        for e in events:
            t = rows[e["transfer_id"]]
            assert e["type"] == f"{t['direction']}_completed", dict(e)
            assert e["sent_at"] is not None, f"event {e['id']} still in the outbox"
        self.local_events = {e["id"] for e in events}
        # the files: each download's, verified, in the library once; nothing else left
        downloads_dir = self.paths.downloads_dir
        for p in self.planned:
            row = rows[p.tid]
            result = json.loads(row["result"])
            if p.direction == "download":
                dest = Path(row["destination"])
                assert dest.parent == downloads_dir
                assert sha256_file(dest) == p.sha256, f"{dest.name} is not its source"
                assert result.get("sha256") == p.sha256, result
                files = db.execute(
                    "SELECT path, sha256, size, state, transfer_id FROM library_files"
                    " WHERE item_id = ?",
                    (p.item_id,),
                ).fetchall()
                assert [tuple(f) for f in files] == [
                    (str(dest), p.sha256, p.size, "present", p.tid)
                ]
            else:
                assert result.get("state") == "published", result
                assert result.get("item_id"), result
                assert "url" not in result
        on_disk = sorted(f.name for f in downloads_dir.iterdir()) if downloads_dir.exists() else []
        expected = sorted(
            Path(rows[p.tid]["destination"]).name for p in self.planned if p.direction == "download"
        )
        assert on_disk == expected, "a part file or a second copy was left in the downloads"
        self.results = {p.sha256: json.loads(rows[p.tid]["result"]) for p in self.planned}

    def _check_hub(self) -> None:
        uploads = [p for p in self.planned if p.direction == "upload"]
        with self.live.hub.db.session() as s:
            published: Counter[str] = Counter()
            item_of: dict[str, str] = {}
            for item in s.execute(select(Item).where(Item.kind == "member_upload")).scalars():
                broadcast = next(r for r in item.renditions if r.name == "broadcast")
                published[broadcast.sha256] += 1
                item_of[broadcast.sha256] = item.id
            states = Counter(
                (str(u.meta.get("sha256", "")), u.state)
                for u in s.execute(select(Upload)).scalars()
                if u.concat != "partial"
            )
        assert published == Counter({p.sha256: 1 for p in uploads}), "published twice, or not"
        for p in uploads:
            assert states[(p.sha256, "published")] == 1, states
            assert self.results[p.sha256]["item_id"] == item_of[p.sha256]
        # the hub has each event of the outbox once (a batch sent twice is kept once)
        session = self.live.login("soak", PASSWORD)
        r = session.get(self.live.api("/history"), params={"after": 0, "limit": 1000}, timeout=30)
        r.raise_for_status()
        remote = Counter(e["id"] for e in r.json()["events"])
        assert remote == Counter(dict.fromkeys(self.local_events, 1)), remote

    # --- bytes re-sent ----------------------------------------------------------------------

    def resent(self) -> Resent:
        runs = self.runs
        # downloads: the blocks written into part files, by file (the inode outlives the
        # rename); a part file thrown away counts whole
        writes = self.writes()
        down_per_run, down_union = _resent_by_run(list(writes), runs)
        finals = set()
        with sqlite3.connect(self.paths.db_path) as db:
            for (dest,) in db.execute(
                "SELECT destination FROM transfers WHERE direction = 'download'"
            ):
                st = os.stat(dest)
                finals.add((st.st_dev, st.st_ino))
        down_written = sum(length for _r, _k, _p, length in writes)
        down_size = sum(p.size for p in self.planned if p.direction == "download")
        discarded = sum(_covered(u) for k, u in down_union.items() if k not in finals)
        # uploads: PATCH bytes the hub read, by place in the file (a part's offset is its
        # start in the joined file); bytes into an upload never used count whole
        place: dict[str, tuple[str, int]] = {}
        with self.live.hub.db.session() as s:
            for u in s.execute(select(Upload)).scalars().all():
                sha = str(u.meta.get("sha256", ""))
                if u.concat == "final":
                    ids = [str(i) for i in u.parts.get("ids", [])]
                    parts = s.execute(select(Upload.id, Upload.length).where(Upload.id.in_(ids)))
                    lengths = {row.id: row.length for row in parts}
                    pos = 0
                    for pid in ids:
                        place[pid] = (sha, pos)
                        pos += int(lengths.get(pid) or 0)
                elif u.concat == "" and u.state == "published":
                    place[u.id] = (sha, 0)
        pieces: list[tuple[int, Any, int, int]] = []
        unused = [0] * runs
        spans = self.ledger.snapshot()
        for sp in spans:
            if sp.direction != "up":
                continue
            if sp.key in place:
                sha, base = place[sp.key]
                pieces.append((sp.run, sha, base + sp.start, sp.length))
            else:
                unused[sp.run] += sp.length
        up_per_run, _ = _resent_by_run(pieces, runs)
        up_per_run = [a + b for a, b in zip(up_per_run, unused, strict=True)]
        up_received = sum(sp.length for sp in spans if sp.direction == "up")
        up_size = sum(p.size for p in self.planned if p.direction == "upload")
        hub_sent = sum(sp.length for sp in spans if sp.direction == "down")
        return Resent(
            down_per_run,
            up_per_run,
            down_written - down_size,
            up_received - up_size,
            discarded,
            sum(unused),
            hub_sent - down_size,
        )

    def report(self, label: str, started: float) -> Resent:
        r = self.resent()
        kills = len(self.kills)
        took = time.monotonic() - started
        print(
            f"\n=== crash soak ({label}): seed {self.seed}, {kills} kills, {self.runs} runs, {took:.0f} s"
        )
        for p in self.planned:
            kind = f"{p.streams} streams" if p.streams > 1 else "1 stream"
            print(f"  {p.direction:8} #{p.tid}: {p.size / MIB:5.1f} MiB, {kind}")
        print(
            "  target: at most one chunk per kill and transfer — downloads save their progress "
            f"every {TUNING.checkpoint_every // MIB} MiB, uploads send chunks of "
            f"{self.workload.chunk // MIB} MiB per stream"
        )
        print(
            "  kill  point                     open  moved before  sent again after: down      up"
        )
        for k in self.kills:
            nxt = k.run + 1
            down, up = r.down_per_run[nxt], r.up_per_run[nxt]
            point = k.point if k.point == "random" else f"{k.point} #{k.nth}"
            if k.point != k.wanted:
                point += f" (for {k.wanted})"
            print(
                f"  {k.run + 1:4}  {point:40} {k.open_transfers:2} {k.moved / KIB:9,.0f} KiB"
                f" {down / KIB:13,.0f} KiB {up / KIB:7,.0f} KiB"
            )
        again = sum(r.down_per_run) + sum(r.up_per_run)
        down_size = sum(p.size for p in self.planned if p.direction == "download")
        print(
            f"  downloads: {r.down_extra / KIB:,.0f} KiB written beyond the files' sizes "
            f"({r.discarded / KIB:,.0f} KiB into part files thrown away); the hub sent "
            f"{r.hub_down_extra / KIB:,.0f} KiB beyond them, the proxy passed on "
            f"{(self.proxy.bytes_down - down_size) / KIB:,.0f} KiB (HTTP heads included) — the "
            "rest sat in the proxy's and the sockets' buffers at the kills"
        )
        print(
            f"  uploads: the hub read {r.up_extra / KIB:,.0f} KiB beyond the files' sizes "
            f"({r.unused / KIB:,.0f} KiB into uploads never used)"
        )
        print(
            f"  sent again after a kill: {again / KIB:,.0f} KiB in all, "
            f"{again / max(kills, 1) / KIB:,.0f} KiB per kill on average"
        )
        return r


@dataclass
class Resent:
    down_per_run: list[int]  # download bytes written again in each run
    up_per_run: list[int]  # upload bytes the hub read again in each run
    down_extra: int  # download bytes written beyond the files' sizes
    up_extra: int  # PATCH bytes the hub read beyond the files' sizes
    discarded: int  # of down_extra: into part files thrown away
    unused: int  # of up_extra: into uploads never used
    hub_down_extra: int  # rendition bytes the hub sent beyond the files' sizes


@pytest.fixture
def soak_hub(tmp_path: Path) -> Iterator[tuple[LiveHub, _Ledger, FaultProxy]]:
    """A real hub (made as tests.support.livehub makes it) with the ledger in front of its app,
    and a throttling proxy in front of that: every byte the engine moves goes through both."""
    ledger = _Ledger()
    settings = Settings(data_dir=tmp_path / "hub")
    hub = build_hub(settings)
    app = create_app(settings, hub)
    app.add_middleware(_LedgerMiddleware, ledger=ledger)
    server = serve_in_thread(app)
    live = LiveHub(hub=hub, server=server, tmp=tmp_path)
    try:
        with FaultProxy(("127.0.0.1", server.port)) as proxy:
            yield live, ledger, proxy
    finally:
        server.stop()
        hub.db.dispose()


def make_soak(
    tmp_path: Path, soak_hub: tuple[LiveHub, _Ledger, FaultProxy], clip: Path, w: Workload
) -> Soak:
    live, ledger, proxy = soak_hub
    proxy.rate_bps = w.rate
    seed = int(os.environ.get("ALU_SOAK_SEED") or random.SystemRandom().randrange(2**32))
    env = {"ALU_CLIENT_HOME": str(tmp_path / "desk"), "ALU_SECRETS": "insecure-file"}
    paths = default_paths(env).ensure()
    soak = Soak(tmp_path, live, ledger, proxy, random.Random(seed), seed, w, paths, env)
    soak.enqueue(clip.read_bytes())
    return soak


def run_soak(
    tmp_path: Path,
    soak_hub: tuple[LiveHub, _Ledger, FaultProxy],
    clip: Path,
    w: Workload,
    plan: tuple[str, ...],
    label: str,
) -> tuple[Soak, Resent]:
    started = time.monotonic()
    soak = make_soak(tmp_path, soak_hub, clip, w)
    print(f"\ncrash soak ({label}): seed {soak.seed} (ALU_SOAK_SEED={soak.seed} replays the plan)")
    for wanted in plan:
        soak.kill_once(wanted)
    out = soak.finish()
    resent = soak.report(label, started)
    soak.check(out)
    return soak, resent


def assert_resent_bounded(soak: Soak, r: Resent) -> None:
    """Generous bounds. A kill costs each download that was running what it wrote since its
    last checkpoint (a checkpoint interval, a little more while a save is under way), and each
    upload stream its chunk under way (with checksums the hub drops a cut chunk whole); never
    a whole file again."""
    per_kill_down = MAX_DOWNLOADS * 3 * TUNING.checkpoint_every
    per_kill_up = MAX_UPLOADS * TUNING.max_parallel_uploads * 2 * soak.workload.chunk
    for k in soak.kills:
        nxt = k.run + 1
        assert r.down_per_run[nxt] <= per_kill_down, (k, r)
        assert r.up_per_run[nxt] <= per_kill_up, (k, r)
    kills = len(soak.kills)
    assert r.down_extra <= kills * per_kill_down, r
    assert r.up_extra <= kills * per_kill_up, r
    assert r.discarded == 0, "a part file was thrown away: a download started over"


def test_crash_soak_short(
    tmp_path: Path, soak_hub: tuple[LiveHub, _Ledger, FaultProxy], clip: Path
) -> None:
    soak, resent = run_soak(tmp_path, soak_hub, clip, SHORT, SHORT_PLAN, "short")
    assert len(soak.kills) == len(SHORT_PLAN)
    assert_resent_bounded(soak, resent)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_crash_soak_long(
    tmp_path: Path, soak_hub: tuple[LiveHub, _Ledger, FaultProxy], clip: Path
) -> None:
    soak, resent = run_soak(tmp_path, soak_hub, clip, LONG, LONG_PLAN, "long")
    assert len(soak.kills) == len(LONG_PLAN) == 20
    assert_resent_bounded(soak, resent)


class LostTrack(AssertionError):
    """A parallel upload the hub published, failed on the workstation."""


JOINED = Workload(downloads=(), uploads=((6 * MIB, 2),))


def test_killed_after_the_hub_joined_the_parts(
    tmp_path: Path, soak_hub: tuple[LiveHub, _Ledger, FaultProxy], clip: Path
) -> None:
    """Killed after the hub answered the final POST that joins the parts, before the
    checkpoint stored the final upload's URL: on restart a HEAD of a part tells where the
    parts went (``Alu-Final-Upload``) and the upload ends as the one published item."""
    soak = make_soak(tmp_path, soak_hub, clip, JOINED)
    soak.kill_once("upload-joined")
    assert soak.kills[0].point == "upload-joined"
    out = soak.finish()
    (p,) = soak.planned
    with sqlite3.connect(soak.paths.db_path) as db:
        state, error = db.execute(
            "SELECT state, last_error FROM transfers WHERE id = ?", (p.tid,)
        ).fetchone()
    with soak.live.hub.db.session() as s:
        published = s.execute(select(Item).where(Item.kind == "member_upload")).scalars().all()
    if state == "failed" and error == upload_spec.LOST_TRACK and len(published) == 1:
        raise LostTrack(f"the hub published the upload; the workstation says: {error}")
    soak.check(out)
