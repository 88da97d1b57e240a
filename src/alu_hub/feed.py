"""Feed pages as JSON, made once per item.

Items never change once published (nor do the members they name), and every workstation of
every member reads the same items, page after page: the JSON of an item is made once per
base URL and kept in a bounded cache, and a page is the page's seqs read from the database
(one indexed query) joined with those texts. Items not in the cache are read with SQLAlchemy
Core (no ORM objects: loading a page of 100 through the ORM cost ~10 ms, Core ~2 ms) and
serialised through the same ``ItemOut`` model the API documents, so the answer is byte for
byte what ``ItemPage`` would produce.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Item, Member, Rendition
from .schemas import ItemOut, MemberOut

#: Items whose JSON is kept (per process), the most recently used first out of the door last.
#: An item's JSON is ~1–4 KB (its script dominates): a few MB at the default size.
CACHE_ITEMS = 2000


class ItemJsonCache:
    """(base URL, item id) → the item's JSON, least recently used dropped first."""

    def __init__(self, size: int = CACHE_ITEMS) -> None:
        self.size = size
        self._data: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get_many(self, base: str, ids: Iterable[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        with self._lock:
            for item_id in ids:
                data = self._data.get((base, item_id))
                if data is not None:
                    self._data.move_to_end((base, item_id))
                    found[item_id] = data
        return found

    def put_many(self, base: str, texts: dict[str, bytes]) -> None:
        if self.size <= 0:
            return
        with self._lock:
            for item_id, data in texts.items():
                self._data[(base, item_id)] = data
                self._data.move_to_end((base, item_id))
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


_ITEM_COLUMNS = list(Item.__table__.columns)
_MEMBER_COLUMNS = [
    Member.username.label("m_username"),
    Member.display_name.label("m_display_name"),
    Member.country.label("m_country"),
    Member.role.label("m_role"),
]


def _render(rows: Sequence[Any], renditions: dict[str, list[Any]], base: str) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for r in rows:
        prefix = f"{base}/api/v1/items/{r.id}"
        source = (
            MemberOut(
                username=r.m_username,
                display_name=r.m_display_name,
                country=r.m_country,
                role="agency" if r.m_role == "agency" else "member",
            )
            if r.source_member_id is not None and r.m_username is not None
            else None
        )
        item = ItemOut.model_validate(
            {
                "id": r.id,
                "seq": r.seq,
                "kind": r.kind,
                "title": r.title,
                "slug": r.slug,
                "dateline": r.dateline,
                "recorded_at": r.recorded_at,
                "published_at": r.published_at,
                "category": r.category,
                "region": r.region,
                "country": r.country,
                "language": r.language,
                "priority": r.priority,
                "restrictions": r.restrictions,
                "script": r.script,
                "shotlist": r.shotlist,
                "duration": r.duration,
                "source_member": source,
                "thumbnail_url": f"{prefix}/thumbnail",
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
                    for x in renditions.get(r.id, [])
                ],
            }
        )
        out[r.id] = item.model_dump_json().encode()
    return out


def load_items_json(s: Session, ids: Sequence[str], base: str) -> dict[str, bytes]:
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
    return _render(rows, renditions, base)


def page_json(
    s: Session, cache: ItemJsonCache, after: int, limit: int, base: str
) -> tuple[list[tuple[int, bytes]], bool]:
    """Items with seq > ``after`` in seq order, at most ``limit``, as (seq, JSON); and whether
    more follow."""
    heads = s.execute(
        select(Item.seq, Item.id).where(Item.seq > after).order_by(Item.seq).limit(limit + 1)
    ).all()
    more = len(heads) > limit
    heads = heads[:limit]
    ids = [h.id for h in heads]
    texts = cache.get_many(base, ids)
    missing = [i for i in ids if i not in texts]
    if missing:
        made = load_items_json(s, missing, base)
        cache.put_many(base, made)
        texts.update(made)
    return [(h.seq, texts[h.id]) for h in heads if h.id in texts], more


def page_body(items: list[tuple[int, bytes]], after: int, more: bool) -> bytes:
    """An ``ItemPage`` as JSON, from the items' JSON texts."""
    nxt = items[-1][0] if items else after
    return b"".join(
        (
            b'{"items":[',
            b",".join(text for _, text in items),
            b'],"next":%d,"more":%s}' % (nxt, b"true" if more else b"false"),
        )
    )
