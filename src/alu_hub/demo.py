"""The demo hub: realistic items in English, French and Arabic with generated clips.

Seeded once into an empty data folder; the clips are made locally with PyAV, so the demo needs
no network. Accounts: member ``demo``/``demo``, agency ``agency``/``agency``, and three member
broadcasters whose shared uploads appear in the feed.
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

from sqlalchemy import func, select

from .auth import hash_password
from .hub import Hub
from .media import generate_clip
from .models import HistoryEvent, Item, Member, utcnow
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
    """Fill an empty hub with the demo items; returns how many were published (0 if not empty)."""
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
                        device=f"{username}-newsroom-1",
                    )
                )
