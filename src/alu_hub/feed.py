"""Feed pages as JSON, made once per item.

Items change seldom (the members they name never), and every workstation of every member reads
the same items, page after page. So the JSON of an item is made in the transaction that
publishes it and again in each one that corrects or withdraws it (``items.feed_json``, through
the same ``ItemOut`` model the API documents: ``changes``), with its URLs relative to the hub; a
page is one indexed query for those texts, joined, with the request's base URL put in front of
the URLs. Items published before that column existed are read with SQLAlchemy Core (loading a
page of 100 through the ORM cost ~10 ms, Core ~2 ms), rendered, and kept in a bounded
per-process cache; only those: a change stores the item's JSON, so a changed item is never read
from a cache another process filled before the change. The answer is byte for byte what
``ItemPage`` would produce.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .lru import Lru
from .models import Item, Member, Rendition
from .schemas import ItemOut, MemberOut

#: Items whose JSON is kept (per process), the most recently used first out of the door last.
#: An item's JSON is ~1–4 KB (its script dominates): a few MB at the default size.
CACHE_ITEMS = 2000


class ItemJsonCache(Lru[str, bytes]):
    """Item id → the item's JSON (URLs relative). For items without ``feed_json`` (published
    before migration 0004)."""

    def __init__(self, size: int = CACHE_ITEMS) -> None:
        super().__init__(size)

    def get_many(self, ids: Iterable[str]) -> dict[str, bytes]:
        with self.lock:
            return {i: data for i in ids if (data := self.get(i)) is not None}

    def put_many(self, texts: dict[str, bytes]) -> None:
        with self.lock:
            for item_id, data in texts.items():
                self.put(item_id, data)


_ITEM_COLUMNS = [c for c in Item.__table__.columns if c.name != "feed_json"]
_MEMBER_COLUMNS = [
    Member.username.label("m_username"),
    Member.display_name.label("m_display_name"),
    Member.country.label("m_country"),
    Member.role.label("m_role"),
]
#: The URLs of an item are stored relative to the hub: these start them in its JSON (inside a
#: JSON string a quote is escaped, so these bytes can only be the start of those two fields).
_RELATIVE_URLS = (b'"thumbnail_url":"/api/v1/items/', b'"url":"/api/v1/items/')


def _utc(when: dt.datetime | None) -> dt.datetime | None:
    """In UTC, as the database gives times back (a member's recorded_at may carry its zone)."""
    return when.astimezone(dt.UTC) if when is not None else None


def item_json(fields: Any, source: MemberOut | None, renditions: Sequence[Any]) -> str:
    """The item as the feed serves it, URLs relative to the hub. ``fields`` has the item's
    columns as attributes (an ``Item`` or a Core row), ``renditions`` those of its renditions
    in order."""
    prefix = f"/api/v1/items/{fields.id}"
    return ItemOut.model_validate(
        {
            "id": fields.id,
            "seq": fields.seq,
            "kind": fields.kind,
            "title": fields.title,
            "slug": fields.slug,
            "dateline": fields.dateline,
            "recorded_at": _utc(fields.recorded_at),
            "published_at": _utc(fields.published_at),
            "category": fields.category,
            "region": fields.region,
            "country": fields.country,
            "language": fields.language,
            "priority": fields.priority,
            "restrictions": fields.restrictions,
            "script": fields.script,
            "shotlist": fields.shotlist,
            "duration": fields.duration,
            "source_member": source,
            "thumbnail_url": f"{prefix}/thumbnail",
            # (an item being published has no column defaults yet: revision 1, no change)
            "revision": fields.revision or 1,
            "corrected_at": _utc(fields.corrected_at),
            "correction_note": fields.correction_note or "",
            "withdrawn_at": _utc(fields.withdrawn_at),
            "withdrawn_reason": fields.withdrawn_reason or "",
            "renditions": [
                {
                    "name": x.name,
                    "url": f"{prefix}/renditions/{x.name}",
                    "filename": x.filename,
                    "size": x.size,
                    "sha256": x.sha256,
                    "mime": x.mime,
                    "width": x.width,
                    "height": x.height,
                }
                for x in renditions
            ],
        }
    ).model_dump_json()


def member_out(username: str, display_name: str, country: str, role: str) -> MemberOut:
    return MemberOut(
        username=username,
        display_name=display_name,
        country=country,
        role="agency" if role == "agency" else "member",
    )


def load_items_json(s: Session, ids: Sequence[str]) -> dict[str, bytes]:
    """The JSON of the items ``ids`` (those that exist), read with two Core queries."""
    if not ids:
        return {}
    rows = s.execute(
        select(*_ITEM_COLUMNS, *_MEMBER_COLUMNS)
        .select_from(Item.__table__.outerjoin(Member, Item.source_member_id == Member.id))
        .where(Item.id.in_(ids))
    ).all()
    renditions: dict[str, list[Any]] = {}
    for x in s.execute(
        select(
            Rendition.item_id,
            Rendition.name,
            Rendition.filename,
            Rendition.size,
            Rendition.sha256,
            Rendition.mime,
            Rendition.width,
            Rendition.height,
        )
        .where(Rendition.item_id.in_(ids))
        .order_by(Rendition.id)
    ):
        renditions.setdefault(x.item_id, []).append(x)
    out: dict[str, bytes] = {}
    for r in rows:
        source = (
            member_out(r.m_username, r.m_display_name, r.m_country, r.m_role)
            if r.source_member_id is not None and r.m_username is not None
            else None
        )
        out[r.id] = item_json(r, source, renditions.get(r.id, [])).encode()
    return out


def page_json(
    s: Session, cache: ItemJsonCache, after: int, limit: int
) -> tuple[list[tuple[int, bytes]], bool]:
    """Items with seq > ``after`` in seq order, at most ``limit``, as (seq, JSON with relative
    URLs: ``with_base``); and whether more follow."""
    heads = s.execute(
        select(Item.seq, Item.id, Item.feed_json)
        .where(Item.seq > after)
        .order_by(Item.seq)
        .limit(limit + 1)
    ).all()
    more = len(heads) > limit
    heads = heads[:limit]
    texts = {h.id: h.feed_json.encode() for h in heads if h.feed_json is not None}
    older = [h.id for h in heads if h.feed_json is None]
    if older:
        texts.update(cache.get_many(older))
        missing = [i for i in older if i not in texts]
        if missing:
            made = load_items_json(s, missing)
            cache.put_many(made)
            texts.update(made)
    return [(h.seq, texts[h.id]) for h in heads if h.id in texts], more


def item_by_id(s: Session, cache: ItemJsonCache, item_id: str) -> bytes | None:
    """One item's JSON (URLs relative: ``with_base``), or None when there is no such item."""
    stored = s.execute(select(Item.feed_json).where(Item.id == item_id)).first()
    if stored is None:
        return None
    if stored.feed_json is not None:
        return str(stored.feed_json).encode()
    found = cache.get_many([item_id]) or load_items_json(s, [item_id])
    cache.put_many(found)
    return found.get(item_id)


def with_base(text: bytes, base: str) -> bytes:
    """JSON of items with the hub's base URL in front of their URLs."""
    # escaped as JSON string content (the base comes from the request's Host header)
    escaped = json.dumps(base, ensure_ascii=False)[1:-1]
    for start in _RELATIVE_URLS:
        text = text.replace(start, start.replace(b'"/api/', f'"{escaped}/api/'.encode()))
    return text


def newest_seq(s: Session) -> int:
    """The seq of the newest item in the feed (0 when there is none)."""
    return int(s.scalar(select(func.coalesce(func.max(Item.seq), 0))) or 0)


def page_body(
    items: list[tuple[int, bytes]], after: int, more: bool, base: str, last: int | None = None
) -> bytes:
    """An ``ItemPage`` as JSON, from the items' JSON texts (``last``: the newest seq, given on
    a page with no items)."""
    nxt = items[-1][0] if items else after
    tail = b',"last":null' if last is None else b',"last":%d' % last  # as ``ItemPage`` says it
    body = b"".join(
        (
            b'{"items":[',
            b",".join(text for _, text in items),
            b'],"next":%d,"more":%s%s}' % (nxt, b"true" if more else b"false", tail),
        )
    )
    return with_base(body, base)
