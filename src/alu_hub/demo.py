"""The demo hub: realistic items in English, French and Arabic with generated clips.

Seeded once into an empty data folder; the clips are made locally with PyAV, so the demo needs
no network. Accounts: member ``demo``/``demo``, agency ``agency``/``agency``, and three member
broadcasters whose shared uploads appear in the feed.

Those passwords are public, so the demo works only on a hub it made itself (``DEMO_MARK`` in its
database): pointed at a real hub's folder or database (``alu-hub demo --data /srv/alu-hub``) it
added them there for good, an agency account whose statistics pages anyone could read.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import tempfile
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, func, inspect, select

from .auth import hash_password
from .cli import SETUP_FILE
from .hub import Hub
from .media import generate_clip
from .models import HistoryEvent, Item, KeyValue, Member, utcnow
from .publish import ItemFields, Prepared, commit, prepare

DEMO_USER = ("demo", "demo")
AGENCY_USER = ("agency", "agency")
#: (username, display name, country) of member broadcasters in the demo
MEMBERS = [
    ("demo", "Demo Television", "GH"),
    ("ktn", "Kenya Television Network", "KE"),
    ("rts", "Radiodiffusion Télévision Sénégalaise", "SN"),
    ("ortb", "Office de Radiodiffusion et Télévision du Bénin", "BJ"),
]


#: The row (``hub_kv``) the demo writes into a database it is about to seed: the hubs it made.
DEMO_MARK = "demo_hub"


class NotADemoHub(Exception):
    """The hub in the folder or database is not one the demo made: the demo writes nothing."""


def _password_is(stored: str, password: str) -> bool:
    try:
        return PasswordHasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _made_by_an_older_demo(accounts: dict[str, str]) -> bool:
    """A demo hub seeded before ``DEMO_MARK`` existed (the app's, kept between versions): only
    the demo's accounts, ``demo`` and ``agency`` with the demo's own passwords."""
    names = {username for username, _, _ in MEMBERS} | {AGENCY_USER[0]}
    return (
        set(accounts) <= names
        and all(user in accounts for user, _ in (DEMO_USER, AGENCY_USER))
        and all(_password_is(accounts[user], pw) for user, pw in (DEMO_USER, AGENCY_USER))
    )


def _counted(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def demo_refusal(conn: Connection | None, data_dir: Path) -> str | None:
    """Why the demo must not seed the hub of the database ``conn`` (None: there is none yet)
    and the folder ``data_dir``, or None: a hub the demo made, or none yet (no tables, or
    nothing in them, in a folder no ``serve`` made). Only reads."""
    tables = set(inspect(conn).get_table_names()) if conn is not None else set()
    if conn is not None and "hub_kv" in tables:
        mark = conn.execute(select(KeyValue.value).where(KeyValue.key == DEMO_MARK)).scalar()
        if mark is not None:
            return None
    if (data_dir / SETUP_FILE).is_file():  # (written by serve and member add, never the demo)
        return "`alu-hub serve` or `alu-hub member add` made it"
    if conn is None or "members" not in tables:
        return None
    accounts = {
        r.username: r.password_hash
        for r in conn.execute(select(Member.username, Member.password_hash))
    }
    items = int(conn.execute(select(func.count()).select_from(Item)).scalar() or 0)
    if (not accounts and not items) or _made_by_an_older_demo(accounts):
        return None
    return (
        f"its database holds {_counted(len(accounts), 'account')} and "
        f"{_counted(items, 'item')} the demo did not make"
    )


def claim_for_demo(hub: Hub) -> None:
    """Mark the hub as the demo's before anything is added to it; raises ``NotADemoHub``
    (nothing written) when it is another hub (``demo_refusal``)."""
    with hub.db.session() as s:
        if s.get(KeyValue, DEMO_MARK) is not None:
            return
        why = demo_refusal(s.connection(), hub.settings.data_dir)
        if why is not None:
            raise NotADemoHub(why)
        s.add(KeyValue(key=DEMO_MARK, value=utcnow().isoformat()))


def demo_content() -> list[dict[str, Any]]:
    text = resources.files("alu_hub").joinpath("demo_content.json").read_text(encoding="utf-8")
    items = json.loads(text)["items"]
    assert isinstance(items, list)
    return items


def ensure_member(
    hub: Hub,
    username: str,
    password: str | None,
    *,
    country: str,
    role: str = "member",
    display_name: str = "",
) -> Member:
    with hub.db.session() as s:
        member = s.execute(select(Member).where(Member.username == username)).scalar_one_or_none()
        if member is None:
            member = Member(
                username=username,
                display_name=display_name or username,
                country=country,
                role=role,
                password_hash=hash_password(password or secrets.token_urlsafe(24)),
            )
            s.add(member)
            s.flush()
        s.expunge(member)
        return member


def seed_demo(
    hub: Hub,
    *,
    clip_seconds: float = 4.0,
    clip_size: tuple[int, int] = (1280, 720),
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Fill an empty hub with the demo items; returns how many were published (0 if not empty).
    Raises ``NotADemoHub``, having written nothing, on a hub the demo did not make."""
    claim_for_demo(hub)
    members = {}
    for username, name, country in MEMBERS:
        password = DEMO_USER[1] if username == DEMO_USER[0] else None
        members[username] = ensure_member(
            hub, username, password, country=country, display_name=name
        )
    ensure_member(
        hub,
        AGENCY_USER[0],
        AGENCY_USER[1],
        country="",
        role="agency",
        display_name="ALU agency desk",
    )
    with hub.db.session() as s:
        if (s.scalar(select(func.count()).select_from(Item)) or 0) > 0:
            return 0
    content = sorted(
        demo_content(), key=lambda c: -int(c["minutes_ago"])
    )  # oldest first: seq order
    now = utcnow()
    with tempfile.TemporaryDirectory(prefix="alu-demo-") as tmp:

        def make(n: int) -> Prepared:
            c = content[n]
            clip = Path(tmp) / f"{n:03d}.mp4"
            generate_clip(
                clip,
                seconds=clip_seconds,
                width=clip_size[0],
                height=clip_size[1],
                seed=n + 1,
                tone_hz=float(c["tone_hz"]),
            )
            fields = ItemFields(
                title=c["title"],
                slug=c["slug"],
                dateline=c["dateline"],
                recorded_at=now - dt.timedelta(minutes=int(c["minutes_ago"]) + 120),
                category=c["category"],
                region=c["region"],
                country=c["country"],
                language=c["language"],
                priority=c["priority"],
                restrictions=c["restrictions"],
                script=c["script"],
                shotlist=c["shotlist"],
            )
            source = members.get(c.get("member") or "") if c["kind"] == "member_upload" else None
            return prepare(hub, clip, fields, kind=c["kind"], source_member=source, move=True)

        # Clips and proxies are made two at a time (the encoders leave the GIL); items enter
        # the feed in order, so that seq follows the publish times.
        published: list[Item] = []
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="demo-clip") as pool:
            futures = [pool.submit(make, n) for n in range(len(content))]
            try:
                for n, c in enumerate(content):
                    if progress:
                        progress(n, len(content))
                    when = now - dt.timedelta(minutes=int(c["minutes_ago"]))
                    published.append(commit(hub, futures[n].result(), published_at=when))
            finally:
                for f in futures:
                    f.cancel()
    if progress:
        progress(len(content), len(content))
    _seed_history(hub, published, members)
    return len(published)


def _seed_history(hub: Hub, items: list[Item], members: dict[str, Member]) -> None:
    """A few downloads by the other broadcasters, so the statistics have something to show."""
    with hub.db.session() as s:
        for i, item in enumerate(items):
            for j, username in enumerate(("ktn", "rts", "ortb")):
                if (i + j) % 3:
                    continue
                when = item.published_at + dt.timedelta(minutes=7 + j)
                size = next(r.size for r in item.renditions if r.name == "broadcast")
                s.add(
                    HistoryEvent(
                        event_id=str(uuid.uuid4()),
                        member_id=members[username].id,
                        type="download_completed",
                        item_id=item.id,
                        rendition="broadcast",
                        bytes=size,
                        started_at=when - dt.timedelta(seconds=30),
                        ended_at=when,
                        occurred_at=when,
                        received_at=when,  # reported at once (not late: see stats.py)
                        device=f"{username}-newsroom-1",
                    )
                )
