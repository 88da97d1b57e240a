"""Load test of the hub: N simulated members at ALU rates, sped up, against a real hub.

    ./run python -m tools.loadtest [--members 31] [--minutes 3] [--speedup 100]
        [--database-url URL] [--items 100000] [--history-events 1000000] [--json OUT]

(``--help`` lists the other knobs.) What it does:

1. Makes a data folder (a temp one, deleted at the end, or ``--data DIR``, kept and reused:
   pre-fill once, run many times), two small generated clips, and the database (SQLite in the
   data folder, or ``--database-url``, the SQLAlchemy URL the hub takes, e.g. PostgreSQL). It
   adds the simulated members (``loadtest000``…) and tops the database up *to* ``--items``
   items (two renditions each, all pointing at one shared set of small files in storage) and
   ``--history-events`` history events, by bulk inserts through SQLAlchemy Core on the hub's
   own models, and reports the time taken and the database's size on disk.
2. Starts the hub in its own process (``python -m tools.loadtest _hub``: ``create_app`` and
   ``uvicorn_config`` as ``alu-hub serve`` runs them, log level info; the hub never shares the
   load generator's GIL) on 127.0.0.1. That process also publishes the agency's pushes
   through ``alu_hub.publish.publish_file`` (hash, probe, proxy, thumbnail, one transaction)
   when told to: one clip, different metadata each time.
3. Before the load (``--baseline N``): one member, one request at a time, N of each of the
   feed poll, the feed page, a history batch and the history pull: the service time and the
   hub's CPU time per request.
4. Runs N members (asyncio + aiohttp, one client session each, like the app's one
   ``requests.Session`` per hub) for ``--minutes``, every ALU rate and client timer multiplied
   by ``--speedup`` (a simulated day lasts 86400/speedup seconds):

   * the agency pushes 60 items a day (evenly spaced, the first at once);
   * every member holds ``GET /events`` open from its feed cursor (all opened before the
     measured period and its clock start: workstations are connected long before any given
     minute of a day; the cost of opening them all at once is the ``GET /events`` row), polls
     ``GET /items?after=`` every 60 client seconds (what the app does when a proxy blocks the
     stream; here it does both) and reads a full page of 100 older items every client hour
     (a workstation catching up after a night off: more often than in real life);
   * each new item that is not its own (from the stream or a poll): the proxy, then the
     broadcast file, each in two Range GETs (the second with If-Range, as a resume) verified
     against the item's sha256, paced to take the time a real file (300 MB, proxy 20 MB)
     takes on the member's link (4 to 40 Mbit/s across the members), sped up; then a
     ``download_completed`` history event;
   * one upload a day by tus (OPTIONS, POST, PATCH in 256 KiB chunks with Upload-Checksum,
     paced the same way, then HEAD as the app does until the hub says ``published``), then
     an ``upload_completed`` event;
   * the history outbox sent (``POST /history``) soon after each transfer and every 60 client
     seconds, each round followed by ``GET /history?after=`` (the member's other
     workstations), as the app's SyncService; once a simulated day a backlog of 200 events
     (a workstation that was offline).

   Member i of N starts each periodic task at i/N of its period. Timers that follow a round
   (poll, history) wait after it, as the app does; the others keep their schedule.
5. Reports per endpoint: count, p50/p95/p99/max latency (ms, from sending the request until
   the whole answer was read; failed requests are counted as errors, not timed), errors by
   kind (every unexpected status, malformed answer, exception, item missed by a member's event
   stream), and throughput (requests/s, MB/s of bodies both ways); also the CPU used by the
   hub and by the load generator (and its event-loop lag), the load average, and the database
   size. ``--json`` writes it all, ``--samples`` every latency with its time. Exit status 1
   when there was an error or a target was missed (p95: feed poll and page < 50 ms, history
   batch and backlog < 100 ms).

Nothing talks to any address but 127.0.0.1 (and the database URL given).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import math
import os
import queue
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent

DAY_S = 86400.0
PASSWORD = "loadtest-pw"  # noqa: S105 (a throw-away account on a throw-away hub)
USER_PREFIX = "loadtest"
#: one member per country of today's network (31), then round again
COUNTRIES: tuple[str, ...] = (
    "KE", "NG", "GH", "SN", "CI", "ZA", "ET", "TZ", "UG", "CM", "MA", "EG", "DZ", "TN", "RW", "ZM",
    "ZW", "MZ", "AO", "CD", "ML", "BF", "NE", "BJ", "TG", "GA", "MG", "MW", "NA", "BW", "SD",
)  # fmt: skip

# Report rows, in the order printed. "event" rows are not HTTP requests.
SIGN_IN = "POST /session"
POLL = "GET /items?after= (poll)"
PAGE = "GET /items?after= (page of 100)"
EVENTS = "GET /events (to first byte)"
DELIVERY = "event stream: publish → member"
RANGE = "GET …/renditions/{name} (Range)"
HISTORY = "POST /history (batch)"
BACKLOG = "POST /history (backlog)"
HISTORY_PULL = "GET /history?after="
TUS_OPTIONS = "OPTIONS /uploads/"
TUS_CREATE = "POST /uploads/"
TUS_PATCH = "PATCH /uploads/{id}"
TUS_HEAD = "HEAD /uploads/{id}"
UPLOAD_PUBLISHED = "upload: last byte → published"
PUSH = "agency push: publish_file"
ROWS: tuple[tuple[str, str], ...] = (
    (SIGN_IN, "request"),
    (POLL, "request"),
    (PAGE, "request"),
    (EVENTS, "request"),
    (DELIVERY, "event"),
    (RANGE, "request"),
    (HISTORY, "request"),
    (BACKLOG, "request"),
    (HISTORY_PULL, "request"),
    (TUS_OPTIONS, "request"),
    (TUS_CREATE, "request"),
    (TUS_PATCH, "request"),
    (TUS_HEAD, "request"),
    (UPLOAD_PUBLISHED, "event"),
    (PUSH, "event"),
)
#: p95 targets (ms) of issue 8
TARGETS: tuple[tuple[str, float], ...] = (
    (POLL, 50.0),
    (PAGE, 50.0),
    (HISTORY, 100.0),
    (BACKLOG, 100.0),
)

log = logging.getLogger("loadtest")


# --- options ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    members: int = 31
    minutes: float = 3.0
    speedup: float = 100.0
    database_url: str = ""
    items: int = 100_000
    history_events: int = 1_000_000
    json_out: Path | None = None
    data: Path | None = None
    keep: bool = False
    pushes_per_day: float = 60.0
    uploads_per_day: float = 1.0
    poll_seconds: float = 60.0
    history_seconds: float = 60.0
    page_minutes: float = 60.0
    backlog: int = 200
    chunk_kib: int = 256
    clip_seconds: float = 4.0
    real_broadcast_mb: float = 300.0
    real_proxy_mb: float = 20.0
    link_mbit: tuple[float, float] = (4.0, 40.0)
    samples: Path | None = None
    baseline: int = 50
    media_nice: int = 0
    hub_log_level: str = "info"
    hub_workers: int = 1
    grace: float = 90.0
    seed: int = 1

    def period(self, client_seconds: float) -> float:
        """A client-time period in wall seconds at this speed-up."""
        return client_seconds / self.speedup

    @property
    def day(self) -> float:
        return DAY_S / self.speedup


def _link_range(text: str) -> tuple[float, float]:
    low, _, high = text.partition("-")
    try:
        lo, hi = float(low), float(high or low)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a range like 4-40") from None
    if not 0 < lo <= hi:
        raise argparse.ArgumentTypeError(f"{text!r}: speeds must be positive, low to high")
    return lo, hi


def parse_args(argv: Sequence[str] | None) -> Options:
    p = argparse.ArgumentParser(
        prog="python -m tools.loadtest",
        description="Load-test a real hub with N simulated members at ALU rates, sped up.",
    )
    p.add_argument("--members", type=int, default=31, help="simulated members (31)")
    p.add_argument("--minutes", type=float, default=3.0, help="length of the load phase (3)")
    p.add_argument("--speedup", type=float, default=100.0, help="ALU rates times this (100)")
    p.add_argument("--database-url", default="", help="SQLAlchemy URL (default: SQLite)")
    p.add_argument("--items", type=int, default=100_000, help="pre-fill up to this many items")
    p.add_argument(
        "--history-events", type=int, default=1_000_000, help="pre-fill up to this many events"
    )
    p.add_argument("--json", dest="json_out", type=Path, help="write the report here as JSON")
    p.add_argument("--data", type=Path, help="data folder to use and keep (reused if present)")
    p.add_argument("--keep", action="store_true", help="keep the temp data folder")
    p.add_argument("--pushes-per-day", type=float, default=60.0)
    p.add_argument("--uploads-per-day", type=float, default=1.0, help="per member (1)")
    p.add_argument("--poll-seconds", type=float, default=60.0, help="feed poll, client time")
    p.add_argument("--history-seconds", type=float, default=60.0, help="history, client time")
    p.add_argument(
        "--page-minutes", type=float, default=60.0, help="a full catch-up page, client time (60)"
    )
    p.add_argument(
        "--baseline",
        type=int,
        default=50,
        help="requests of each kind one at a time before the load (50; 0: none)",
    )
    p.add_argument("--backlog", type=int, default=200, help="events in the daily backlog batch")
    p.add_argument("--chunk-kib", type=int, default=256, help="tus PATCH size (256)")
    p.add_argument(
        "--real-broadcast-mb",
        type=float,
        default=300.0,
        help="size a transfer of a broadcast file takes the time of (300)",
    )
    p.add_argument("--real-proxy-mb", type=float, default=20.0, help="… of a proxy (20)")
    p.add_argument(
        "--link-mbit",
        type=_link_range,
        default=(4.0, 40.0),
        help="members' link speeds, spread from the first to the last member (4-40)",
    )
    p.add_argument("--samples", type=Path, help="write every latency sample here (CSV)")
    p.add_argument(
        "--media-nice",
        type=int,
        default=0,
        choices=range(20),
        metavar="0-19",
        help="an experiment: the hub's publishing threads (proxy, thumbnail) at this nice value",
    )
    p.add_argument("--clip-seconds", type=float, default=4.0, help="length of the clips (4)")
    p.add_argument("--hub-log-level", default="info", help="uvicorn's (info, as alu-hub serve)")
    p.add_argument(
        "--hub-workers",
        type=int,
        default=1,
        help="serving processes (alu-hub serve --workers; the pushes are then published from "
        "another process, as by alu-hub publish)",
    )
    p.add_argument("--grace", type=float, default=90.0, help="seconds to finish in-flight work")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args(argv)
    if a.members < 1 or a.minutes <= 0 or a.speedup <= 0:
        p.error("--members, --minutes and --speedup must be positive")
    if not 1 <= a.backlog <= 1000 and a.backlog != 0:
        p.error("--backlog takes 0 (none) to 1000 events")
    return Options(**{f.name: getattr(a, f.name) for f in dataclasses.fields(Options)})


# --- measurements ----------------------------------------------------------------------------


@dataclass
class Series:
    kind: str
    times_ms: list[float] = field(default_factory=list)
    #: when each sample ended, seconds from the start of the load
    at_s: list[float] = field(default_factory=list)
    nbytes: int = 0
    errors: Counter[str] = field(default_factory=Counter)


class Recorder:
    def __init__(self) -> None:
        self.series: dict[str, Series] = {name: Series(kind) for name, kind in ROWS}
        #: errors of no endpoint (the load generator itself)
        self.other: Counter[str] = Counter()
        self.t0 = time.monotonic()

    def ok(self, name: str, ms: float, nbytes: int = 0) -> None:
        s = self.series[name]
        s.times_ms.append(ms)
        s.at_s.append(time.monotonic() - self.t0)
        s.nbytes += nbytes

    def write_samples(self, path: Path) -> None:
        """Every sample as CSV: endpoint, seconds from the start, milliseconds."""
        with open(path, "w", encoding="utf-8") as f:
            f.write("endpoint,at_s,ms\n")
            for name, s in self.series.items():
                for at, ms in zip(s.at_s, s.times_ms, strict=True):
                    f.write(f'"{name}",{at:.3f},{ms:.2f}\n')

    def error(self, name: str, kind: str) -> None:
        self.series[name].errors[kind[:160]] += 1
        log.debug("error: %s: %s", name, kind)

    @property
    def error_count(self) -> int:
        return sum(sum(s.errors.values()) for s in self.series.values()) + sum(self.other.values())


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of sorted values (nan when there are none)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


def cpu_seconds_of(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc (0 where there is none)."""
    try:
        fields_ = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields_[11]) + int(fields_[12])) / ticks


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and of its descendants alive now (the hub's serving workers,
    its media workers)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields_ = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields_[1])
    tree, todo = {pid}, [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parents.items() if pp == p and c not in tree]
        tree.update(kids)
        todo.extend(kids)
    return sum(cpu_seconds_of(p) for p in tree)


def own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def database_size(url: str) -> int | None:
    """Bytes the database takes: the SQLite file with its WAL, or pg_database_size."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if not u.database:
            return None
        base = Path(u.database)
        return sum(
            p.stat().st_size for p in (base, Path(f"{base}-wal"), Path(f"{base}-shm")) if p.exists()
        )
    if u.get_backend_name() == "postgresql":
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                return int(
                    conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
                )
        finally:
            engine.dispose()
    return None


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# --- data: clips, members, pre-fill ----------------------------------------------------------


@dataclass(frozen=True)
class Clips:
    push: Path
    upload: Path


def make_clips(folder: Path, seconds: float) -> Clips:
    from alu_hub.media import generate_clip

    folder.mkdir(parents=True, exist_ok=True)
    push, upload = folder / "push.mp4", folder / "upload.mp4"
    if not push.exists():
        generate_clip(push, seconds=seconds, width=640, height=360, seed=11)
    if not upload.exists():
        generate_clip(upload, seconds=seconds, width=640, height=360, seed=12, tone_hz=660.0)
    return Clips(push, upload)


def demo_content() -> list[dict[str, Any]]:
    import alu_hub

    path = Path(alu_hub.__file__).with_name("demo_content.json")
    items = json.loads(path.read_text(encoding="utf-8"))["items"]
    assert isinstance(items, list)
    return items


def hub_settings(data: Path, database_url: str) -> Any:
    from alu_hub.settings import Settings

    settings = Settings.from_env(data)
    if database_url:
        settings = dataclasses.replace(settings, database_url=database_url)
    return settings


def usernames(count: int) -> list[str]:
    return [f"{USER_PREFIX}{i:03d}" for i in range(count)]


def seed_members(db: Any, count: int) -> dict[str, int]:
    """The load-test members (created, or their password reset); username → id."""
    from sqlalchemy import insert, select, update

    from alu_hub.auth import hash_password
    from alu_hub.models import Member, utcnow

    names = usernames(count)
    pw = hash_password(PASSWORD)  # one hash for all: argon2 takes a while per call
    with db.session() as s:
        have = set(s.scalars(select(Member.username).where(Member.username.in_(names))))
        rows = [
            {
                "username": n,
                "display_name": f"Load-test broadcaster {i}",
                "country": COUNTRIES[i % len(COUNTRIES)],
                "role": "member",
                "password_hash": pw,
                "active": True,
                "created_at": utcnow(),
            }
            for i, n in enumerate(names)
            if n not in have
        ]
        if rows:
            s.execute(insert(Member), rows)
        if have:
            s.execute(
                update(Member)
                .where(Member.username.in_(have))
                .values(password_hash=pw, active=True)
            )
    with db.session() as s:
        return {
            r.username: r.id
            for r in s.execute(select(Member.username, Member.id).where(Member.username.in_(names)))
        }


@dataclass
class Prefill:
    items_before: int = 0
    items_added: int = 0
    items_seconds: float = 0.0
    events_before: int = 0
    events_added: int = 0
    events_seconds: float = 0.0
    checkpoint_seconds: float = 0.0
    db_bytes: int | None = None
    max_seq: int = 0
    max_history_seq: int = 0


@dataclass(frozen=True)
class TemplateFiles:
    """One set of small files every pre-filled item's renditions point at."""

    broadcast: tuple[str, int, str]  # storage key, size, sha256
    proxy: tuple[str, int, str]
    thumbnail_key: str
    duration: float
    width: int
    height: int
    proxy_width: int
    proxy_height: int


def template_files(hub: Any, clip: Path) -> TemplateFiles:
    from alu_hub.media import make_proxy, make_thumbnail, probe
    from alu_hub.publish import file_sha256

    work = hub.settings.data_dir / "work-loadtest"
    work.mkdir(parents=True, exist_ok=True)
    try:
        info = probe(clip)
        broadcast, proxy, thumb = work / "broadcast.mp4", work / "proxy.mp4", work / "thumb.jpg"
        shutil.copyfile(clip, broadcast)
        proxy_info = make_proxy(clip, proxy)
        make_thumbnail(proxy, thumb)
        b_sha, b_size = file_sha256(broadcast)
        p_sha, p_size = file_sha256(proxy)
        keys = ("loadtest/broadcast.mp4", "loadtest/proxy.mp4", "loadtest/thumbnail.jpg")
        for src, key in zip((broadcast, proxy, thumb), keys, strict=True):
            hub.storage.put_file(src, key)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return TemplateFiles(
        broadcast=(keys[0], b_size, b_sha),
        proxy=(keys[1], p_size, p_sha),
        thumbnail_key=keys[2],
        duration=round(info.duration, 3),
        width=info.width,
        height=info.height,
        proxy_width=proxy_info.width,
        proxy_height=proxy_info.height,
    )


def _chunks(total: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, total, size):
        yield start, min(size, total - start)


def prefill(hub: Any, opts: Options, members: dict[str, int], clip: Path) -> Prefill:
    """Bring the database up to ``opts.items`` items and ``opts.history_events`` events."""
    from sqlalchemy import func, insert, select, update

    from alu_hub.models import Counter as SeqCounter
    from alu_hub.models import HistoryEvent, Item, Rendition, utcnow

    out = Prefill()
    rng = random.Random(opts.seed)  # noqa: S311 (test data, not secrets)
    engine = hub.db.engine
    content = demo_content()
    member_ids = list(members.values())
    with engine.connect() as conn:
        out.items_before = int(conn.execute(select(func.count()).select_from(Item)).scalar_one())
        out.events_before = int(
            conn.execute(select(func.count()).select_from(HistoryEvent)).scalar_one()
        )
        seq0 = int(
            conn.execute(select(SeqCounter.value).where(SeqCounter.name == "item_seq")).scalar_one()
        )
    now = utcnow()
    spacing = dt.timedelta(seconds=DAY_S / 60)  # the agency's pace, back in time
    item_ids: list[str] = []

    add_items = max(0, opts.items - out.items_before)
    if add_items:
        files = template_files(hub, clip)
        began = time.monotonic()
        first = now - dt.timedelta(hours=1) - spacing * add_items
        for start, n in _chunks(add_items, 5000):
            items: list[dict[str, Any]] = []
            rends: list[dict[str, Any]] = []
            for k in range(start, start + n):
                c = content[k % len(content)]
                seq = seq0 + k + 1
                item_id = uuid.uuid4().hex
                item_ids.append(item_id)
                published = first + spacing * k
                upload = c.get("kind") == "member_upload"
                stem = f"{c['slug'].lower()}-{seq}"
                items.append(
                    {
                        "id": item_id,
                        "seq": seq,
                        "kind": "member_upload" if upload else "push",
                        "title": f"{c['title']} ({seq})",
                        "slug": c["slug"],
                        "dateline": c["dateline"],
                        "recorded_at": published - dt.timedelta(hours=3),
                        "published_at": published,
                        "category": c["category"],
                        "region": c["region"],
                        "country": c["country"],
                        "language": c["language"],
                        "priority": c["priority"],
                        "restrictions": c["restrictions"],
                        "script": c["script"],
                        "shotlist": c["shotlist"],
                        "duration": files.duration,
                        "source_member_id": member_ids[k % len(member_ids)] if upload else None,
                        "thumbnail_key": files.thumbnail_key,
                    }
                )
                for name, (key, size, sha), w, h in (
                    ("broadcast", files.broadcast, files.width, files.height),
                    ("proxy", files.proxy, files.proxy_width, files.proxy_height),
                ):
                    suffix = ".mp4" if name == "broadcast" else ".proxy.mp4"
                    rends.append(
                        {
                            "item_id": item_id,
                            "name": name,
                            "storage_key": key,
                            "filename": stem + suffix,
                            "size": size,
                            "sha256": sha,
                            "mime": "video/mp4",
                            "width": w,
                            "height": h,
                        }
                    )
            with engine.begin() as conn:
                conn.execute(insert(Item), items)
                conn.execute(insert(Rendition), rends)
                _fill_feed_json(conn, [i["id"] for i in items])
                conn.execute(
                    update(SeqCounter)
                    .where(SeqCounter.name == "item_seq")
                    .values(value=seq0 + start + n)
                )
            _progress("items", start + n, add_items, began)
        out.items_added = add_items
        out.items_seconds = time.monotonic() - began

    with engine.connect() as conn:  # items of an older pre-fill, made before feed_json
        older = list(conn.scalars(select(Item.id).where(Item.feed_json.is_(None))))
    if older:
        began = time.monotonic()
        for start, n in _chunks(len(older), 2000):
            with engine.begin() as conn:
                _fill_feed_json(conn, older[start : start + n])
            _progress("feed JSON of older items", start + n, len(older), began)

    add_events = max(0, opts.history_events - out.events_before)
    if add_events:
        if not item_ids:
            with engine.connect() as conn:
                item_ids = list(conn.scalars(select(Item.id).limit(100_000)))
        began = time.monotonic()
        span = spacing * max(opts.items, 1)
        oldest = now - span
        types: tuple[str, ...] = ("download_completed",) * 17 + (
            "upload_completed",
            "upload_completed",
        )
        types += ("download_failed",)
        for start, n in _chunks(add_events, 20_000):
            rows: list[dict[str, Any]] = []
            for _ in range(n):
                ended = oldest + span * rng.random()
                seconds = rng.uniform(5.0, 900.0)
                size = rng.randint(20_000_000, 900_000_000)
                kind = rng.choice(types)
                rendition = "broadcast" if rng.random() < 0.7 else "proxy"
                rows.append(
                    {
                        "event_id": str(uuid.uuid4()),
                        "member_id": rng.choice(member_ids),
                        "type": kind,
                        "item_id": rng.choice(item_ids) if item_ids else None,
                        "rendition": rendition,
                        "bytes": size,
                        "started_at": ended - dt.timedelta(seconds=seconds),
                        "ended_at": ended,
                        "occurred_at": ended,
                        "received_at": ended + dt.timedelta(seconds=rng.uniform(1, 120)),
                        "device": f"ws{rng.randint(1, 4)}",
                        "detail": {
                            "label": "Prefilled transfer",
                            "file": f"item-{rng.randint(1, 99999)}.mp4",
                            "seconds": round(seconds, 3),
                            "avg_bps": round(size / seconds, 1),
                            "rendition": rendition,
                            "attempts": 1,
                        },
                    }
                )
            with engine.begin() as conn:
                conn.execute(insert(HistoryEvent), rows)
            _progress("history events", start + n, add_events, began)
        out.events_added = add_events
        out.events_seconds = time.monotonic() - began

    if engine.dialect.name == "sqlite":
        began = time.monotonic()
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        out.checkpoint_seconds = time.monotonic() - began
    with engine.connect() as conn:
        out.max_seq = int(conn.execute(select(func.coalesce(func.max(Item.seq), 0))).scalar_one())
        out.max_history_seq = int(
            conn.execute(select(func.coalesce(func.max(HistoryEvent.seq), 0))).scalar_one()
        )
    return out


def _fill_feed_json(conn: Any, ids: list[str]) -> None:
    """``items.feed_json`` of the items ``ids``, as publishing makes it (``feed.item_json``)."""
    from sqlalchemy import bindparam, update
    from sqlalchemy.orm import Session

    from alu_hub.feed import load_items_json
    from alu_hub.models import Item

    with Session(bind=conn) as s:
        texts = load_items_json(s, ids)
    if texts:
        conn.execute(
            update(Item).where(Item.id == bindparam("b_id")).values(feed_json=bindparam("b_json")),
            [{"b_id": k, "b_json": v.decode()} for k, v in texts.items()],
        )


def _progress(what: str, done: int, total: int, began: float) -> None:
    if done == total or done % 100_000 < 20_000:
        rate = done / max(1e-9, time.monotonic() - began)
        print(f"pre-fill: {what} {done:,}/{total:,} ({rate:,.0f}/s)", file=sys.stderr, flush=True)


# --- the hub process -------------------------------------------------------------------------


def hub_process_main(argv: Sequence[str]) -> int:
    """``python -m tools.loadtest _hub``: the hub as ``alu-hub serve`` runs it, plus the
    agency's publisher. Control on stdin (``push N``; ``stop`` or end of input ends it),
    answers on stdout (``ready``, ``published N SEQ ID MS``, ``publish-error N TEXT``)."""
    import uvicorn

    from alu_hub.app import create_app
    from alu_hub.server import uvicorn_config

    p = argparse.ArgumentParser(prog="python -m tools.loadtest _hub")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--database-url", default="")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--clip", type=Path, required=True)
    p.add_argument("--log-level", default="info")
    p.add_argument("--media-nice", type=int, default=0)
    p.add_argument("--workers", type=int, default=1)
    a = p.parse_args(argv)
    # As alu-hub's main() for `serve`.
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alu_hub").setLevel(logging.INFO)
    settings = hub_settings(a.data, a.database_url)
    if a.workers > 1:
        return _hub_workers_main(a, settings)
    app = create_app(settings)
    hub = app.state.hub

    def lower_priority() -> None:
        """This thread, and the encoder threads it starts, at the nice value asked for."""
        if a.media_nice:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), a.media_nice)

    complete = hub.on_upload_complete

    def on_upload_complete(upload_id: str) -> None:
        lower_priority()
        complete(upload_id)

    hub.on_upload_complete = on_upload_complete
    server = uvicorn.Server(uvicorn_config(app, "127.0.0.1", a.port, log_level=a.log_level))
    out_lock = threading.Lock()

    def say(line: str) -> None:
        with out_lock:
            sys.stdout.write(line.replace("\n", " ") + "\n")
            sys.stdout.flush()

    jobs: queue.Queue[int | None] = queue.Queue()

    def publisher() -> None:
        lower_priority()
        _publisher(hub, a.clip, jobs, say)

    def control() -> None:
        for line in sys.stdin:
            word, _, arg = line.strip().partition(" ")
            if word == "push" and arg.isdigit():
                jobs.put(int(arg))
            elif word == "stop":
                break
        jobs.put(None)
        hub.broker.close()  # end the event streams, or uvicorn waits for them
        server.should_exit = True

    def announce() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.02)
        if server.started:
            say("ready")

    for target in (publisher, control, announce):
        threading.Thread(target=target, name=f"loadtest-{target.__name__}", daemon=True).start()
    server.run()
    return 0


def _publisher(
    hub: Any, clip: Path, jobs: queue.Queue[int | None], say: Callable[[str], None]
) -> None:
    """Publish the agency's pushes asked for on ``jobs`` (one clip, new metadata each time)."""
    from alu_hub.publish import ItemFields, publish_file

    content = demo_content()
    while (n := jobs.get()) is not None:
        c = content[n % len(content)]
        fields_ = ItemFields(
            title=f"{c['title']} (push {n})",
            slug=c["slug"],
            dateline=c["dateline"],
            category=c["category"],
            region=c["region"],
            country=c["country"],
            language=c["language"],
            priority=c["priority"],
            restrictions=c["restrictions"],
            script=c["script"],
            shotlist=c["shotlist"],
        )
        began = time.perf_counter()
        try:
            item = publish_file(hub, clip, fields_, kind="push", filename=f"push-{n}.mp4")
        except Exception as e:
            say(f"publish-error {n} {type(e).__name__}: {e}")
            continue
        ms = (time.perf_counter() - began) * 1000
        say(f"published {n} {item.seq} {item.id} {ms:.1f}")


def _hub_workers_main(a: argparse.Namespace, settings: Any) -> int:
    """``_hub --workers N``: ``alu-hub serve --workers N`` (uvicorn's supervisor in the main
    thread, N serving processes), and the agency's publisher in this process as ``alu-hub
    publish`` would be: a process of its own on the same data folder and database."""
    import signal
    import urllib.request

    from alu_hub.app import build_hub
    from alu_hub.server import serve_workers

    out_lock = threading.Lock()

    def say(line: str) -> None:
        with out_lock:
            sys.stdout.write(line.replace("\n", " ") + "\n")
            sys.stdout.flush()

    hub = build_hub(settings)
    hub.folder_lock.share()
    jobs: queue.Queue[int | None] = queue.Queue()

    def control() -> None:
        for line in sys.stdin:
            word, _, arg = line.strip().partition(" ")
            if word == "push" and arg.isdigit():
                jobs.put(int(arg))
            elif word == "stop":
                break
        jobs.put(None)
        os.kill(os.getpid(), signal.SIGTERM)  # the supervisor stops its workers

    def announce() -> None:
        url = f"http://127.0.0.1:{a.port}/openapi.json"
        for _ in range(600):
            try:
                with urllib.request.urlopen(url, timeout=5):
                    say("ready")
                    return
            except OSError:
                time.sleep(0.1)

    threading.Thread(target=_publisher, args=(hub, a.clip, jobs, say), daemon=True).start()
    for target in (control, announce):
        threading.Thread(target=target, name=f"loadtest-{target.__name__}", daemon=True).start()
    serve_workers(settings, "127.0.0.1", a.port, a.workers, log_level=a.log_level)
    hub.media.close()
    return 0


class HubProcess:
    """The hub's process seen from the load generator."""

    def __init__(
        self, proc: asyncio.subprocess.Process, rec: Recorder, log_file: IO[bytes]
    ) -> None:
        self.proc = proc
        self.rec = rec
        self.log_file = log_file
        self.ready = asyncio.Event()
        #: item id → monotonic time of publishing (seen from here)
        self.published: dict[str, float] = {}
        self.pushes_asked = 0
        self.pushes_answered = 0
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(
        cls, opts: Options, data: Path, port: int, clip: Path, rec: Recorder, log_file: IO[bytes]
    ) -> HubProcess:
        args = [sys.executable, "-m", "tools.loadtest", "_hub", "--data", str(data)]
        args += ["--port", str(port), "--clip", str(clip), "--log-level", opts.hub_log_level]
        args += ["--media-nice", str(opts.media_nice), "--workers", str(opts.hub_workers)]
        if opts.database_url:
            args += ["--database-url", opts.database_url]
        proc = await asyncio.create_subprocess_exec(
            *args,
            cwd=str(ROOT),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log_file,
        )
        return cls(proc, rec, log_file)

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            words = line.decode("utf-8", "replace").strip().split(" ", 4)
            if words[0] == "ready":
                self.ready.set()
            elif words[0] == "published" and len(words) == 5:
                self.pushes_answered += 1
                self.published[words[3]] = time.monotonic()
                self.rec.ok(PUSH, float(words[4]))
            elif words[0] == "publish-error":
                self.pushes_answered += 1
                self.rec.error(PUSH, " ".join(words[2:]))
            else:  # uvicorn's access log goes to stdout, as with alu-hub serve
                self.log_file.write(line)

    async def wait_ready(self, timeout: float) -> None:
        waiter = asyncio.create_task(self.ready.wait())
        ended = asyncio.create_task(self.proc.wait())
        await asyncio.wait({waiter, ended}, timeout=timeout, return_when="FIRST_COMPLETED")
        waiter.cancel()
        ended.cancel()
        if not self.ready.is_set():
            raise RuntimeError("the hub did not start (see hub.log in the data folder)")

    def _send(self, line: str) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.write(line.encode() + b"\n")

    def push(self) -> None:
        self._send(f"push {self.pushes_asked}")
        self.pushes_asked += 1

    async def wait_pushes(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.pushes_answered < self.pushes_asked and time.monotonic() < deadline:
            await asyncio.sleep(0.1)

    async def stop(self) -> int:
        self._send("stop")
        with contextlib.suppress(Exception):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 20)
        except TimeoutError:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        # Its output ends when the last process holding it does (media workers end with
        # their parent): read to the end, or asyncio finds the pipe open after the loop closed.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._reader), 15)
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        return self.proc.returncode or 0


# --- simulated members -----------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: Any
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class BadAnswer(Exception):
    """The hub answered 2xx with something a client would not take."""


@dataclass
class Run:
    """What every member shares: options, the hub, the clock, the recorder."""

    opts: Options
    base: str
    rec: Recorder
    hub: HubProcess
    upload_file: bytes
    upload_sha256: str
    start_seq: int
    start_history_seq: int
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    t0: float = 0.0
    #: item id → monotonic time published, for items of member uploads
    uploaded: dict[str, float] = field(default_factory=dict)

    @property
    def api(self) -> str:
        return f"{self.base}/api/v1"

    async def sleep_until(self, when: float) -> bool:
        """Sleep until monotonic ``when``; True when the run stopped meanwhile."""
        delay = when - time.monotonic()
        if self.stop.is_set():
            return True
        if delay <= 0:
            return False
        try:
            await asyncio.wait_for(self.stop.wait(), delay)
            return True
        except TimeoutError:
            return False


def _iso(when: dt.datetime) -> str:
    return when.isoformat()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _tus_metadata(meta: dict[str, str]) -> str:
    return ",".join(
        f"{k} {base64.b64encode(v.encode('utf-8')).decode('ascii')}" for k, v in meta.items()
    )


class Member:
    def __init__(self, run: Run, index: int, username: str) -> None:
        import aiohttp

        self.run = run
        self.rec = run.rec
        self.index = index
        self.username = username
        self.device = f"{username}-ws1"
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=8),
            timeout=aiohttp.ClientTimeout(total=60, sock_connect=10),
            trust_env=False,  # no proxy from the environment: 127.0.0.1 only
        )
        self.token = ""
        self.feed_seq = run.start_seq
        self.history_seq = run.start_history_seq
        self.outbox: list[dict[str, Any]] = []
        self.seen: set[str] = set()
        self.streamed: set[str] = set()
        self.downloads: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.history_wake = asyncio.Event()
        #: set when the event stream first answered
        self.connected = asyncio.Event()
        self.rng = random.Random(run.opts.seed * 1000 + index)  # noqa: S311
        self.uploads_done = 0
        lo, hi = run.opts.link_mbit
        #: this member's link (Mbit/s): transfers take the time real files would take on it
        self.link_mbit = lo + (hi - lo) * index / max(1, run.opts.members - 1)

    def transfer_seconds(self, real_mb: float) -> float:
        """Wall seconds a transfer of ``real_mb`` takes on this member's link, sped up."""
        return real_mb * 8 / self.link_mbit / self.run.opts.speedup

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def phase(self, period: float) -> float:
        """When this member first does something it does every ``period``."""
        return self.run.t0 + period * self.index / self.run.opts.members

    async def close(self) -> None:
        await self.session.close()

    # --- one call ------------------------------------------------------------------------------

    async def call(
        self,
        name: str,
        method: str,
        url: str,
        *,
        expect: tuple[int, ...] = (200,),
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        data: bytes | None = None,
        auth: bool = True,
    ) -> Answer | None:
        """One request, timed until the whole answer was read; None (and an error counted)
        unless its status is one of ``expect``."""
        h = dict(self.auth if auth else {})
        h.update(headers or {})
        body = data
        if json_body is not None:
            body = json.dumps(json_body).encode()
            h["Content-Type"] = "application/json"
        began = time.perf_counter()
        try:
            async with self.session.request(
                method, url, headers=h, params=params, data=body, allow_redirects=False
            ) as resp:
                content = await resp.read()
                status, resp_headers = resp.status, resp.headers
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self.rec.error(name, f"{type(e).__name__}: {e}"[:120])
            return None
        ms = (time.perf_counter() - began) * 1000
        if status not in expect:
            self.rec.error(name, f"HTTP {status} {_error_code(content)}".strip())
            return None
        self.rec.ok(name, ms, len(content) + len(body or b""))
        return Answer(status, resp_headers, content)

    # --- sign-in -------------------------------------------------------------------------------

    async def sign_in(self) -> bool:
        a = await self.call(
            SIGN_IN,
            "POST",
            f"{self.run.api}/session",
            json_body={"username": self.username, "password": PASSWORD, "device": self.device},
            auth=False,
        )
        if a is None:
            return False
        self.token = str(a.json()["token"])
        return True

    # --- the feed ------------------------------------------------------------------------------

    def take(self, item: dict[str, Any], *, streamed: bool = False) -> None:
        seq = int(item["seq"])
        item_id = str(item["id"])
        self.feed_seq = max(self.feed_seq, seq)
        if streamed:
            self.streamed.add(item_id)
        if item_id in self.seen:
            return
        self.seen.add(item_id)
        source = item.get("source_member") or {}
        if source.get("username") != self.username and not self.run.stop.is_set():
            self.downloads.put_nowait(item)

    async def events_loop(self) -> None:
        """Hold the event stream from the feed cursor; reconnect when it ends."""
        import aiohttp

        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=60)
        while not self.run.stop.is_set():
            began = time.perf_counter()
            first = True
            try:
                async with self.session.get(
                    f"{self.run.api}/events",
                    params={"after": self.feed_seq},
                    headers={**self.auth, "Accept": "text/event-stream"},
                    timeout=timeout,
                ) as resp:
                    if resp.status != 200:
                        self.rec.error(EVENTS, f"HTTP {resp.status}")
                        await self.run.sleep_until(time.monotonic() + 1)
                        continue
                    event, last_id = "message", ""
                    data: list[str] = []
                    while line_b := await resp.content.readline():
                        if first:
                            self.rec.ok(EVENTS, (time.perf_counter() - began) * 1000)
                            self.connected.set()
                            first = False
                        line = line_b.decode("utf-8").rstrip("\r\n")
                        if not line:
                            if event == "item" and data:
                                self._streamed_item("\n".join(data), last_id)
                            event, data = "message", []
                            continue
                        if line.startswith(":"):
                            continue
                        key, _, value = line.partition(":")
                        value = value[1:] if value.startswith(" ") else value
                        if key == "event":
                            event = value
                        elif key == "data":
                            data.append(value)
                        elif key == "id":
                            last_id = value
                if not self.run.stop.is_set():
                    self.rec.error(EVENTS, "the hub ended the stream")
            except asyncio.CancelledError:
                raise
            except Exception as e:
                if self.run.stop.is_set():
                    return
                self.rec.error(EVENTS, f"{type(e).__name__}: {e}"[:120])
                await self.run.sleep_until(time.monotonic() + 1)

    def _streamed_item(self, data: str, last_id: str) -> None:
        try:
            item = json.loads(data)
            published = dt.datetime.fromisoformat(item["published_at"])
            if last_id != str(item["seq"]):
                raise BadAnswer(f"event id {last_id!r} is not the item's seq {item['seq']}")
        except (ValueError, KeyError, TypeError, BadAnswer) as e:
            self.rec.error(DELIVERY, f"bad event: {type(e).__name__}: {e}"[:120])
            return
        if str(item["id"]) not in self.streamed:
            self.rec.ok(DELIVERY, (_now() - published).total_seconds() * 1000, len(data))
        self.take(item, streamed=True)

    async def poll_loop(self) -> None:
        """Catch up by cursor, then wait the poll interval (after the round, as the app)."""
        period = self.run.opts.period(self.run.opts.poll_seconds)
        when = self.phase(period)
        while not await self.run.sleep_until(when):
            await self.catch_up()
            when = time.monotonic() + period

    async def catch_up(self) -> None:
        for _ in range(50):
            after = self.feed_seq
            a = await self.call(
                POLL, "GET", f"{self.run.api}/items", params={"after": after, "limit": 100}
            )
            if a is None:
                return
            try:
                page = a.json()
                items = page["items"]
                more = bool(page["more"])
                if any(int(item["seq"]) <= after for item in items):
                    raise BadAnswer(f"an item at or before the cursor {after}")
                for item in items:
                    self.take(item)
            except (ValueError, KeyError, TypeError, BadAnswer) as e:
                self.rec.error(POLL, f"bad page: {type(e).__name__}: {e}"[:120])
                return
            if not more or not items:
                return

    async def page_loop(self) -> None:
        """A full page of 100 items from somewhere in the catalogue (a workstation that was
        away, the feed panel scrolled back), on a fixed schedule."""
        period = self.run.opts.period(self.run.opts.page_minutes * 60)
        when = self.phase(period)
        top = max(0, self.run.start_seq - 100)
        while not await self.run.sleep_until(when):
            after = self.rng.randint(0, top)
            a = await self.call(
                PAGE, "GET", f"{self.run.api}/items", params={"after": after, "limit": 100}
            )
            if a is not None:
                try:
                    items = a.json()["items"]
                    want = min(100, max(0, self.run.start_seq - after))
                    if len(items) < want or any(int(i["seq"]) <= after for i in items):
                        raise BadAnswer(f"{len(items)} items after {after}, expected {want}")
                except (ValueError, KeyError, TypeError, BadAnswer) as e:
                    self.rec.error(PAGE, f"bad page: {type(e).__name__}: {e}"[:120])
            when += period

    # --- downloads -----------------------------------------------------------------------------

    async def download_loop(self) -> None:
        """One download at a time, proxy then broadcast, until the run stops."""
        while not self.run.stop.is_set():
            try:
                item = await asyncio.wait_for(self.downloads.get(), 0.2)
            except TimeoutError:
                continue
            renditions = {r["name"]: r for r in item.get("renditions", [])}
            for name in ("proxy", "broadcast"):
                if name in renditions and not self.run.stop.is_set():
                    await self.download(item, renditions[name])

    async def download(self, item: dict[str, Any], rend: dict[str, Any]) -> None:
        """Two Range GETs (the second with If-Range, as a resume), verified by sha256, taking
        the time a real file of that kind would take on this member's link."""
        started = _now()
        opts = self.run.opts
        real_mb = opts.real_broadcast_mb if rend["name"] == "broadcast" else opts.real_proxy_mb
        pause = self.transfer_seconds(real_mb) / 2
        size = int(rend["size"])
        url = str(rend["url"])
        if not url.startswith(self.run.base + "/"):
            self.rec.error(RANGE, "a rendition URL off the hub")
            return
        half = max(1, size // 2)
        first = await self.call(
            RANGE, "GET", url, expect=(206,), headers={"Range": f"bytes=0-{half - 1}"}
        )
        if first is None:
            return
        etag = first.headers.get("ETag", "")
        want = f"bytes 0-{half - 1}/{size}"
        if first.headers.get("Content-Range") != want or len(first.body) != half:
            self.rec.error(RANGE, "wrong Content-Range or length")
            return
        body = first.body
        await asyncio.sleep(pause)
        if half < size:
            rest = await self.call(
                RANGE,
                "GET",
                url,
                expect=(206,),
                headers={"Range": f"bytes={half}-", "If-Range": etag},
            )
            if rest is None:
                return
            body += rest.body
        if hashlib.sha256(body).hexdigest() != rend["sha256"]:
            self.rec.error(RANGE, "sha256 mismatch")
            return
        await asyncio.sleep(pause)
        ended = _now()
        seconds = max(1e-3, (ended - started).total_seconds())
        real = int(real_mb * 1e6)
        self.record(
            "download_completed",
            item_id=str(item["id"]),
            rendition=str(rend["name"]),
            nbytes=real,
            started=started,
            ended=ended,
            detail={
                "label": str(item["title"])[:500],
                "file": str(rend["filename"]),
                "seconds": round(seconds, 3),
                "avg_bps": round(real / seconds, 1),
                "rendition": str(rend["name"]),
                "attempts": 1,
            },
        )

    # --- uploads -------------------------------------------------------------------------------

    async def upload_loop(self) -> None:
        opts = self.run.opts
        if opts.uploads_per_day <= 0:
            return
        period = opts.day / opts.uploads_per_day
        when = self.phase(period)
        while not await self.run.sleep_until(when):
            await self.upload()
            when += period

    async def upload(self) -> None:
        run, opts = self.run, self.run.opts
        started = _now()
        tus = {"Tus-Resumable": "1.0.0"}
        a = await self.call(TUS_OPTIONS, "OPTIONS", f"{run.api}/uploads/", expect=(204, 200))
        if a is None:
            return
        if "sha1" not in a.headers.get("Tus-Checksum-Algorithm", ""):
            self.rec.error(TUS_OPTIONS, "no sha1 in Tus-Checksum-Algorithm")
        data = run.upload_file
        self.uploads_done += 1
        n = self.uploads_done
        meta = {
            "filename": f"{self.username}-upload-{n}.mp4",
            "sha256": run.upload_sha256,
            "title": f"Load test upload {n} from {self.username}",
            "slug": f"LOADTEST-{self.username.upper()}-{n}",
            "dateline": "NAIROBI, Kenya",
            "language": ("en", "fr", "ar")[n % 3],
            "country": COUNTRIES[self.index % len(COUNTRIES)],
            "category": "news",
            "priority": "routine",
            "script": "Generated footage for the hub's load test. " * 8,
        }
        a = await self.call(
            TUS_CREATE,
            "POST",
            f"{run.api}/uploads/",
            expect=(201,),
            headers={
                **tus,
                "Upload-Length": str(len(data)),
                "Upload-Metadata": _tus_metadata(meta),
            },
        )
        if a is None:
            return
        location = a.headers.get("Location", "")
        url = location if location.startswith("http") else run.base + location
        if not url.startswith(run.base + "/"):
            self.rec.error(TUS_CREATE, "no Location on the hub")
            return
        chunk = opts.chunk_kib * 1024
        pause = self.transfer_seconds(opts.real_broadcast_mb) / math.ceil(len(data) / chunk)
        offset = 0
        while offset < len(data):
            await asyncio.sleep(pause)
            part = data[offset : offset + chunk]
            digest = base64.b64encode(hashlib.sha1(part).digest()).decode()  # noqa: S324
            a = await self.call(
                TUS_PATCH,
                "PATCH",
                url,
                expect=(204,),
                headers={
                    **tus,
                    "Upload-Offset": str(offset),
                    "Content-Type": "application/offset+octet-stream",
                    "Upload-Checksum": f"sha1 {digest}",
                },
                data=part,
            )
            if a is None:
                return
            new = int(a.headers.get("Upload-Offset", "-1"))
            if new != offset + len(part):
                self.rec.error(
                    TUS_PATCH, f"offset {new} after a chunk ending at {offset + len(part)}"
                )
                return
            offset = new
        last_byte = time.perf_counter()
        delay = 0.2
        deadline = time.monotonic() + 120
        while True:  # as the app's poll_outcome: 0.2 s, ×1.5, at most 2 s
            a = await self.call(TUS_HEAD, "HEAD", url, headers=tus)
            if a is None:
                return
            state = a.headers.get("Alu-Upload-State", "")
            if state == "published":
                item_id = a.headers.get("Alu-Item-Id", "")
                self.rec.ok(UPLOAD_PUBLISHED, (time.perf_counter() - last_byte) * 1000)
                run.uploaded[item_id] = time.monotonic()
                break
            if state == "failed" or state not in ("receiving", "processing"):
                self.rec.error(
                    UPLOAD_PUBLISHED, f"state {state!r}: {a.headers.get('Alu-Error', '')}"
                )
                return
            if time.monotonic() > deadline:
                self.rec.error(UPLOAD_PUBLISHED, "not published within 120 s")
                return
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 2.0)
        ended = _now()
        self.record(
            "upload_completed",
            item_id=item_id,
            rendition="broadcast",
            nbytes=int(opts.real_broadcast_mb * 1e6),
            started=started,
            ended=ended,
            detail={
                "label": meta["title"],
                "file": meta["filename"],
                "seconds": round((ended - started).total_seconds(), 3),
            },
        )

    # --- history -------------------------------------------------------------------------------

    def record(
        self,
        type_: str,
        *,
        item_id: str,
        rendition: str,
        nbytes: int,
        started: dt.datetime,
        ended: dt.datetime,
        detail: dict[str, Any],
    ) -> None:
        self.outbox.append(
            {
                "id": str(uuid.uuid4()),
                "type": type_,
                "item_id": item_id[:32] or None,
                "rendition": rendition,
                "bytes": nbytes,
                "started_at": _iso(started),
                "ended_at": _iso(ended),
                "device": self.device,
                "detail": detail,
            }
        )
        self.history_wake.set()  # push_soon

    async def history_loop(self) -> None:
        """Send the outbox and pull the member's events: soon after a transfer, and every
        interval after the last round (as the app's SyncService)."""
        period = self.run.opts.period(self.run.opts.history_seconds)
        when = self.phase(period)
        while not await self._wait_history(when):
            self.history_wake.clear()
            await self.push_history()
            await self.pull_history()
            when = time.monotonic() + period
        await self.push_history()  # what the last transfers left in the outbox

    async def _wait_history(self, when: float) -> bool:
        if self.run.stop.is_set():
            return True
        stop = asyncio.create_task(self.run.stop.wait())
        wake = asyncio.create_task(self.history_wake.wait())
        try:
            await asyncio.wait(
                {stop, wake},
                timeout=max(0.0, when - time.monotonic()),
                return_when="FIRST_COMPLETED",
            )
        finally:
            stop.cancel()
            wake.cancel()
        return self.run.stop.is_set()

    async def push_history(self) -> None:
        while self.outbox:
            batch, self.outbox = self.outbox[:500], self.outbox[500:]
            await self.send_events(HISTORY, batch)

    async def send_events(self, name: str, events: list[dict[str, Any]]) -> None:
        a = await self.call(
            name,
            "POST",
            f"{self.run.api}/history",
            json_body={"events": events, "sent_at": _iso(_now())},
        )
        if a is None:
            return
        try:
            got = a.json()
            if got["accepted"] != len(events) or got["duplicates"] != 0:
                raise BadAnswer(f"{got['accepted']} accepted of {len(events)} new events")
        except (ValueError, KeyError, TypeError, BadAnswer) as e:
            self.rec.error(name, f"bad answer: {type(e).__name__}: {e}"[:120])

    async def pull_history(self) -> None:
        for _ in range(20):
            a = await self.call(
                HISTORY_PULL,
                "GET",
                f"{self.run.api}/history",
                params={"after": self.history_seq, "limit": 500},
            )
            if a is None:
                return
            try:
                page = a.json()
                events = page["events"]
                if any(int(e["seq"]) <= self.history_seq for e in events):
                    raise BadAnswer("an event from before the cursor")
                self.history_seq = max([self.history_seq, *(int(e["seq"]) for e in events)])
            except (ValueError, KeyError, TypeError, BadAnswer) as e:
                self.rec.error(HISTORY_PULL, f"bad page: {type(e).__name__}: {e}"[:120])
                return
            if not page["more"]:
                return

    async def backlog_loop(self) -> None:
        """Once a simulated day: a batch of events from a workstation that was offline."""
        opts = self.run.opts
        if opts.backlog <= 0:
            return
        when = self.phase(opts.day)
        while not await self.run.sleep_until(when):
            now = _now()
            events = []
            for k in range(opts.backlog):
                ended = now - dt.timedelta(minutes=10 * (opts.backlog - k))
                events.append(
                    {
                        "id": str(uuid.uuid4()),
                        "type": "download_completed",
                        "item_id": uuid.uuid4().hex,
                        "rendition": "broadcast",
                        "bytes": 250_000_000,
                        "started_at": _iso(ended - dt.timedelta(seconds=300)),
                        "ended_at": _iso(ended),
                        "device": f"{self.username}-ws2",
                        "detail": {"label": "Offline workstation", "seconds": 300.0},
                    }
                )
            await self.send_events(BACKLOG, events)
            when += opts.day


def _error_code(content: bytes) -> str:
    try:
        return str(json.loads(content)["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return ""


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    seconds: float
    hub_cpu_s: float
    generator_cpu_s: float
    loadavg_start: tuple[float, float, float]
    loadavg_end: tuple[float, float, float]
    loadavg_max_1m: float
    loop_lag_p99_ms: float
    loop_lag_max_ms: float
    pushes: int
    uploads: int
    stragglers: int
    baseline: dict[str, dict[str, Any]] = field(default_factory=dict)


async def run_load(
    opts: Options, hub_data: Path, hub_log: Path, clips: Clips, pre: Prefill, rec: Recorder
) -> Outcome:
    from alu_hub.server import free_port

    port = free_port()
    upload_file = clips.upload.read_bytes()
    with open(hub_log, "ab") as log_file:
        hub = await HubProcess.start(opts, hub_data, port, clips.push, rec, log_file)
        members: list[Member] = []
        try:
            await hub.wait_ready(120)
            run = Run(
                opts=opts,
                base=f"http://127.0.0.1:{port}",
                rec=rec,
                hub=hub,
                upload_file=upload_file,
                upload_sha256=hashlib.sha256(upload_file).hexdigest(),
                start_seq=pre.max_seq,
                start_history_seq=pre.max_history_seq,
            )
            members = [Member(run, i, n) for i, n in enumerate(usernames(opts.members))]
            gate = asyncio.Semaphore(2)  # sign-ins: argon2 is meant to be slow

            async def sign_in(m: Member) -> bool:
                async with gate:
                    return await m.sign_in()

            if not all(await asyncio.gather(*(sign_in(m) for m in members))):
                raise RuntimeError("a simulated member could not sign in")
            base = await baseline(run, members[0], hub) if opts.baseline > 0 else {}
            outcome = await _drive(run, members, hub)
            outcome.baseline = base
            return outcome
        finally:
            for m in members:
                await m.close()
            code = await hub.stop()
            if code not in (0, -15):
                print(f"loadtest: the hub exited with {code}", file=sys.stderr)


BASELINE_ROWS = (POLL, PAGE, HISTORY, HISTORY_PULL)


async def baseline(run: Run, m: Member, hub: HubProcess) -> dict[str, dict[str, Any]]:
    """The service time: one member, one request at a time, before the load starts, with the
    hub's CPU time per request."""
    rec = Recorder()
    own, m.rec = m.rec, rec
    top = max(0, run.start_seq - 100)

    async def one(name: str) -> None:
        if name == POLL:
            await m.call(POLL, "GET", f"{run.api}/items", params={"after": m.feed_seq})
        elif name == PAGE:
            after = m.rng.randint(0, top)
            await m.call(PAGE, "GET", f"{run.api}/items", params={"after": after, "limit": 100})
        elif name == HISTORY:
            now = _now()
            m.record(
                "download_completed",
                item_id=uuid.uuid4().hex,
                rendition="proxy",
                nbytes=20_000_000,
                started=now - dt.timedelta(seconds=30),
                ended=now,
                detail={"label": "Baseline", "seconds": 30.0},
            )
            await m.push_history()
        else:
            await m.pull_history()

    out: dict[str, dict[str, Any]] = {}
    try:
        for name in BASELINE_ROWS:
            for _ in range(3):  # warm-up, not counted
                await one(name)
            rec.series[name] = Series("request")
            cpu0 = tree_cpu_seconds(hub.proc.pid)
            for _ in range(run.opts.baseline):
                await one(name)
            cpu_ms = (tree_cpu_seconds(hub.proc.pid) - cpu0) / run.opts.baseline * 1000
            times = sorted(rec.series[name].times_ms)
            out[name] = {
                "count": len(times),
                "p50_ms": _ms(percentile(times, 50)),
                "p95_ms": _ms(percentile(times, 95)),
                "hub_cpu_ms_per_request": round(cpu_ms, 2),
            }
    finally:
        m.rec = own
        m.history_wake.clear()
    for name, series in rec.series.items():
        for kind, n in series.errors.items():
            run.rec.other[f"baseline: {name}: {kind}"] += n
    return out


async def _drive(run: Run, members: list[Member], hub: HubProcess) -> Outcome:
    opts = run.opts
    lags: list[float] = []
    load_max = [os.getloadavg()[0]]

    async def watch_loop() -> None:
        tick = 0
        while not run.stop.is_set():
            began = time.monotonic()
            await asyncio.sleep(0.1)
            lags.append((time.monotonic() - began - 0.1) * 1000)
            tick += 1
            if tick % 50 == 0:
                load_max.append(os.getloadavg()[0])

    async def push_loop() -> None:
        if opts.pushes_per_day <= 0:
            return
        period = opts.day / opts.pushes_per_day
        when = run.t0
        while not await run.sleep_until(when):
            hub.push()
            when += period

    # The members' workstations are connected before the measured period starts, as those of
    # a network are long before any given minute of its day: the herd of all of them opening
    # their streams in the same instant (a hub restart) is not an ALU rate. Its cost is the
    # GET /events row; the periodic work (and its clock) starts once every stream is open.
    run.rec.t0 = time.monotonic()
    streams = [asyncio.create_task(m.events_loop()) for m in members]
    try:
        await asyncio.wait_for(asyncio.gather(*(m.connected.wait() for m in members)), 120)
    except TimeoutError:  # the run goes on, and says so
        late = sum(not m.connected.is_set() for m in members)
        run.rec.other[f"{late} event stream(s) not open 120 s after the start"] += late
    run.t0 = run.rec.t0 = time.monotonic()
    loadavg_start = os.getloadavg()
    hub_cpu0, own_cpu0 = tree_cpu_seconds(hub.proc.pid), own_cpu_seconds()
    work: list[asyncio.Task[None]] = [asyncio.create_task(push_loop())]
    watcher = asyncio.create_task(watch_loop())
    loops: list[Callable[[Member], Awaitable[None]]] = [
        Member.poll_loop,
        Member.page_loop,
        Member.download_loop,
        Member.upload_loop,
        Member.history_loop,
        Member.backlog_loop,
    ]
    for m in members:
        work += [asyncio.create_task(loop(m)) for loop in loops]  # type: ignore[arg-type]
    deadline = run.t0 + opts.minutes * 60
    await asyncio.sleep(max(0.0, deadline - time.monotonic()))
    run.stop.set()
    seconds = time.monotonic() - run.t0
    hub_cpu = tree_cpu_seconds(hub.proc.pid) - hub_cpu0
    own_cpu = own_cpu_seconds() - own_cpu0
    loadavg_end = os.getloadavg()
    # In-flight work ends (downloads under way, uploads waiting for "published", the last
    # history batches); nothing new starts.
    _, pending = await asyncio.wait(work, timeout=opts.grace)
    await hub.wait_pushes(30)
    await asyncio.sleep(0.5)  # the last items' events on their way
    for task in [*pending, *streams, watcher]:
        task.cancel()
    await asyncio.gather(*pending, *streams, watcher, return_exceptions=True)
    for task in work:
        if task.done() and not task.cancelled() and (exc := task.exception()) is not None:
            run.rec.other[f"a simulated member's task crashed: {exc!r}"[:160]] += 1
    if pending:
        run.rec.other[f"work still running {opts.grace:.0f} s after the end"] += len(pending)
    # Every item published before the end (but the last second) reached every member's stream.
    cutoff = run.t0 + seconds - 1.0
    published = {i: t for i, t in [*hub.published.items(), *run.uploaded.items()] if t < cutoff}
    for m in members:
        for item_id in published:
            if item_id not in m.streamed:
                run.rec.error(DELIVERY, "an item published during the run never came by the stream")
    lags.sort()
    return Outcome(
        seconds=seconds,
        hub_cpu_s=hub_cpu,
        generator_cpu_s=own_cpu,
        loadavg_start=loadavg_start,
        loadavg_end=loadavg_end,
        loadavg_max_1m=max(load_max),
        loop_lag_p99_ms=percentile(lags, 99),
        loop_lag_max_ms=lags[-1] if lags else math.nan,
        pushes=len(hub.published),
        uploads=len(run.uploaded),
        stragglers=len(pending),
    )


# --- the report ------------------------------------------------------------------------------


def _ms(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 1)


def build_report(
    opts: Options,
    pre: Prefill,
    out: Outcome,
    rec: Recorder,
    *,
    db_end: int | None,
    storage_bytes: int,
    rows_end: tuple[int, int],
    setup_seconds: float,
) -> dict[str, Any]:
    endpoints: list[dict[str, Any]] = []
    total_requests = total_bytes = 0
    for name, s in rec.series.items():
        times = sorted(s.times_ms)
        count = len(times)
        if s.kind == "request":
            total_requests += count
            total_bytes += s.nbytes
        endpoints.append(
            {
                "endpoint": name,
                "kind": s.kind,
                "count": count,
                "p50_ms": _ms(percentile(times, 50)),
                "p95_ms": _ms(percentile(times, 95)),
                "p99_ms": _ms(percentile(times, 99)),
                "max_ms": _ms(times[-1]) if times else None,
                "errors": sum(s.errors.values()),
                "errors_by_kind": dict(s.errors),
                "per_s": round(count / out.seconds, 2),
                "mb_per_s": round(s.nbytes / out.seconds / 1e6, 3) if s.kind == "request" else None,
            }
        )
    by_name = {e["endpoint"]: e for e in endpoints}
    targets: list[dict[str, Any]] = []
    for name, limit in TARGETS:
        p95 = by_name[name]["p95_ms"]
        targets.append(
            {
                "endpoint": name,
                "p95_ms": p95,
                "target_ms": limit,
                "met": p95 is not None and p95 < limit,
            }
        )
    errors = rec.error_count
    return {
        "options": {
            k: (str(v) if isinstance(v, Path) else v)
            for k, v in dataclasses.asdict(opts).items()
            if k != "database_url"
        }
        | {"database": _redacted(opts.database_url) or "sqlite (data folder)"},
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg_start": [round(x, 2) for x in out.loadavg_start],
            "loadavg_end": [round(x, 2) for x in out.loadavg_end],
            "loadavg_max_1m": round(out.loadavg_max_1m, 2),
            "hub_cpu_percent": round(100 * out.hub_cpu_s / out.seconds, 1),
            "generator_cpu_percent": round(100 * out.generator_cpu_s / out.seconds, 1),
            "generator_loop_lag_p99_ms": _ms(out.loop_lag_p99_ms),
            "generator_loop_lag_max_ms": _ms(out.loop_lag_max_ms),
        },
        "prefill": dataclasses.asdict(pre),
        "database": {
            "bytes_after_prefill": pre.db_bytes,
            "bytes_at_end": db_end,
            "items_at_end": rows_end[0],
            "history_events_at_end": rows_end[1],
            "storage_bytes": storage_bytes,
        },
        "run": {
            "seconds": round(out.seconds, 1),
            "setup_seconds": round(setup_seconds, 1),
            "pushes": out.pushes,
            "uploads_published": out.uploads,
            "requests": total_requests,
            "requests_per_s": round(total_requests / out.seconds, 1),
            "mb_per_s": round(total_bytes / out.seconds / 1e6, 3),
        },
        "endpoints": endpoints,
        "baseline": out.baseline,
        "other_errors": dict(rec.other),
        "errors": errors,
        "targets": targets,
        "targets_met": all(t["met"] for t in targets),
        "ok": errors == 0 and all(t["met"] for t in targets),
    }


def _redacted(url: str) -> str:
    if not url:
        return ""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def _mb(n: int | None) -> str:
    return "—" if n is None else f"{n / 1e6:,.0f} MB"


def format_report(r: dict[str, Any]) -> str:
    o, m, run, db, pre = r["options"], r["machine"], r["run"], r["database"], r["prefill"]
    lines = [
        f"ALU hub load test: {o['members']} members, {run['seconds']:.0f} s at "
        f"{o['speedup']:g}x ({o['database']})",
        f"database: {db['items_at_end']:,} items, {db['history_events_at_end']:,} history "
        f"events; {_mb(db['bytes_after_prefill'])} after pre-fill, {_mb(db['bytes_at_end'])} at "
        f"the end; storage {_mb(db['storage_bytes'])}",
        f"pre-fill: {pre['items_added']:,} items in {pre['items_seconds']:.0f} s, "
        f"{pre['events_added']:,} events in {pre['events_seconds']:.0f} s",
        f"load average {m['loadavg_start'][0]:.2f} at the start, {m['loadavg_end'][0]:.2f} at "
        f"the end (max {m['loadavg_max_1m']:.2f}) on {m['cpus']} CPUs; hub (all its processes) "
        f"{m['hub_cpu_percent']:.0f}% CPU, load generator {m['generator_cpu_percent']:.0f}% "
        f"(event-loop lag p99 {_num(m['generator_loop_lag_p99_ms'])} ms)",
        "",
        f"{'endpoint':<36}{'count':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"{'errors':>8}{'per s':>8}{'MB/s':>8}",
    ]
    for e in r["endpoints"]:
        mark = "" if e["kind"] == "request" else " *"
        lines.append(
            f"{(e['endpoint'] + mark):<36}{e['count']:>7}{_num(e['p50_ms']):>9}"
            f"{_num(e['p95_ms']):>9}{_num(e['p99_ms']):>9}{_num(e['max_ms']):>9}"
            f"{e['errors']:>8}{e['per_s']:>8.1f}{_num(e['mb_per_s'], 2):>8}"
        )
    lines.append(
        f"{'all requests':<36}{run['requests']:>7}{'':>36}{r['errors']:>8}"
        f"{run['requests_per_s']:>8.1f}{run['mb_per_s']:>8.2f}"
    )
    lines.append("* not a request: time from publishing (or the upload's last byte) to the event")
    if r["baseline"]:
        n = r["options"]["baseline"]
        lines += [
            "",
            f"before the load, one member, one request at a time ({n} each):",
            f"{'endpoint':<36}{'p50 ms':>9}{'p95 ms':>9}{'hub CPU ms/request':>20}",
        ]
        for name, b in r["baseline"].items():
            lines.append(
                f"{name:<36}{_num(b['p50_ms']):>9}{_num(b['p95_ms']):>9}"
                f"{_num(b['hub_cpu_ms_per_request'], 2):>20}"
            )
    problems = [
        (f"{e['endpoint']}: {kind}", n)
        for e in r["endpoints"]
        for kind, n in e["errors_by_kind"].items()
    ] + list(r["other_errors"].items())
    if problems:
        lines += ["", "errors:"] + [f"  {n:>6} × {kind}" for kind, n in problems]
    lines.append("")
    for t in r["targets"]:
        verdict = "met" if t["met"] else "MISSED"
        lines.append(
            f"target: {t['endpoint']} p95 {_num(t['p95_ms'])} ms < {t['target_ms']:.0f} ms: "
            f"{verdict}"
        )
    lines.append(f"errors: {r['errors']} (target 0)")
    return "\n".join(lines)


def count_rows(url: str) -> tuple[int, int]:
    from sqlalchemy import func, select

    from alu_hub.db import make_engine
    from alu_hub.models import HistoryEvent, Item

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            items = int(conn.execute(select(func.count()).select_from(Item)).scalar_one())
            events = int(conn.execute(select(func.count()).select_from(HistoryEvent)).scalar_one())
    finally:
        engine.dispose()
    return items, events


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["_hub"]:
        return hub_process_main(args[1:])
    opts = parse_args(args)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    top = opts.data or Path(tempfile.mkdtemp(prefix="alu-loadtest-"))
    top.mkdir(parents=True, exist_ok=True)
    keep = opts.keep or opts.data is not None
    try:
        return _main(opts, top.resolve())
    finally:
        if keep:
            print(f"data folder kept: {top}", file=sys.stderr)
        else:
            shutil.rmtree(top, ignore_errors=True)


def _main(opts: Options, top: Path) -> int:
    from alu_hub.app import build_hub

    began = time.monotonic()
    print("loadtest: making the clips and the database…", file=sys.stderr, flush=True)
    clips = make_clips(top / "clips", opts.clip_seconds)
    settings = hub_settings(top / "hub", opts.database_url)
    hub = build_hub(settings)
    try:
        members = seed_members(hub.db, opts.members)
        pre = prefill(hub, opts, members, clips.push)
    finally:
        hub.db.dispose()
    pre.db_bytes = database_size(settings.db_url)
    setup = time.monotonic() - began
    print(
        f"loadtest: {pre.max_seq:,} items, history up to seq {pre.max_history_seq:,}, "
        f"{_mb(pre.db_bytes)}; {opts.members} members for {opts.minutes:g} min at "
        f"{opts.speedup:g}x…",
        file=sys.stderr,
        flush=True,
    )
    rec = Recorder()
    outcome = asyncio.run(run_load(opts, settings.data_dir, top / "hub.log", clips, pre, rec))
    report = build_report(
        opts,
        pre,
        outcome,
        rec,
        db_end=database_size(settings.db_url),
        storage_bytes=folder_size(settings.storage_dir),
        rows_end=count_rows(settings.db_url),
        setup_seconds=setup,
    )
    print(format_report(report))
    if opts.samples is not None:
        rec.write_samples(opts.samples)
    if opts.json_out is not None:
        opts.json_out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
