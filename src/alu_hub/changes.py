"""Correcting and withdrawing published items (the agency's, or a member's upload it takes down).

An item keeps its id and its place in the feed (``seq``); its texts may be corrected, and it may
be withdrawn, once and for good: then its files are no longer served (410 ``item_withdrawn``,
signed links already handed out too) and the statistics no longer count it as a push or an
upload. Each change, in one transaction: moves the item's ``revision``, takes the next change
number (the ``item_change_seq`` counter) into ``change_seq``, and writes the item's feed JSON
again (``items.feed_json``), so that the feed, ``GET /items/{id}`` and ``GET /items/changes``
give its current state in every process (a per-process cache holds only items that have no
``feed_json``, and a changed item always has one). The change numbers are taken holding the
feed's counter row too, as publishing does, so they commit in order (on SQLite, one writer at
a time does the same): a workstation's changes cursor never passes a number that can still
appear. Streams of every process wake on a change (``events.feed_counter`` reads both counters).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields

from sqlalchemy import func, select
from sqlalchemy.orm import Session, undefer

from . import audit
from .countries import country_problem
from .feed import load_items_json
from .hub import Hub
from .models import Counter, Item, utcnow
from .publish import (
    ItemFields,
    PublishError,
    _feed_json,
    check_metadata,
    clean_text,
    parse_recorded_at,
)

log = logging.getLogger(__name__)

#: The fields a correction may change (the item's files, kind, source, publication and times
#: never change; ``recorded_at`` is when the footage was shot, as the agency says it).
CORRECTABLE = (
    "title",
    "slug",
    "dateline",
    "restrictions",
    "script",
    "shotlist",
    "priority",
    "language",
    "country",
    "category",
    "region",
    "recorded_at",
)
#: Longest reason of a withdrawal and note of a correction (characters).
REASON_LIMIT = 2000
NOTE_LIMIT = 2000
CHANGE_COUNTER = "item_change_seq"
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class ChangeError(Exception):
    """Why an item was not changed: an HTTP status, a code for programs, words for people."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def withdrawn_message(reason: str) -> str:
    """What a request for a withdrawn item's files is told (410 ``item_withdrawn``)."""
    return f"The agency withdrew this item: {reason}"


@dataclass
class Changed:
    """An item as a change left it (committed, detached), and the fields that changed."""

    item: Item
    fields: list[str]


def _text(value: str, what: str, limit: int) -> str:
    """A reason or a note as stored: one line, cleaned as item texts are; refused blank, too
    long or not text."""
    if _SURROGATE.search(value):
        raise ChangeError(
            422,
            "invalid_request",
            f"The {what} holds bytes that are not UTF-8 text; nothing was changed.",
        )
    text = clean_text(value, len(value) + 1)
    if not text:
        raise ChangeError(422, "invalid_request", f"The {what} is blank: {_BLANK[what]}")
    if len(text) > limit:
        raise ChangeError(
            422,
            "invalid_request",
            f"The {what} is too long ({len(text)} characters; at most {limit}); nothing was "
            "changed.",
        )
    return text


_BLANK = {
    "reason": "say why the item is withdrawn (every member sees it); nothing was changed.",
    "note": "say what was corrected (every member sees it); nothing was changed.",
}


def find_item(s: Session, ref: str) -> str | None:
    """The id of the item ``ref`` names: its id, or its seq (digits); None when none."""
    ref = ref.strip()
    if ref.isascii() and ref.isdigit() and len(ref) <= 18:
        found = s.scalar(select(Item.id).where(Item.seq == int(ref)))
        if found is not None:
            return found
    if len(ref) <= 32 and s.get(Item, ref) is not None:
        return ref
    return None


def _take_change_number(hub: Hub, s: Session) -> int:
    """The next change number, holding the feed's and the changes' counter rows until ``s``
    commits: changes and publishes take turns, and change numbers commit in order."""
    if s.get_bind().dialect.name != "sqlite":  # (SQLite: the update below takes the one lock)
        s.execute(select(Counter.value).where(Counter.name == "item_seq").with_for_update())
    return hub.db.next_seq(s, CHANGE_COUNTER)


def _locked_item(hub: Hub, s: Session, item_id: str) -> tuple[Item, int]:
    change = _take_change_number(hub, s)
    item = s.get(Item, item_id, populate_existing=True) if len(item_id) <= 32 else None
    if item is None:
        raise ChangeError(404, "unknown_item", "There is no item with this id.")
    if item.withdrawn_at is not None:
        raise ChangeError(
            409,
            "already_withdrawn",
            f"Item {item.seq} was withdrawn on {item.withdrawn_at:%Y-%m-%d %H:%M} UTC "
            f"({item.withdrawn_reason}); a withdrawn item cannot be changed.",
        )
    return item, change


def _finish(hub: Hub, s: Session, item: Item, change: int) -> None:
    item.revision = (item.revision or 1) + 1
    item.change_seq = change
    s.flush()
    item.feed_json = _feed_json(s, item)


def _reloaded(hub: Hub, item_id: str) -> Item:
    hub.broker.notify()
    with hub.db.session() as s:
        item = s.get(Item, item_id, options=[undefer(Item.feed_json)])
        assert item is not None
        s.expunge(item)
        return item


def withdraw(hub: Hub, item_id: str, reason: str, actor: audit.Actor | None = None) -> Changed:
    """Withdraw the item for good, saying why (``reason``, shown to every member); recorded in
    the audit trail as done by ``actor``, in the same transaction."""
    reason = _text(reason, "reason", REASON_LIMIT)
    with hub.db.session() as s:
        item, change = _locked_item(hub, s, item_id)
        item.withdrawn_at = utcnow()
        item.withdrawn_reason = reason
        _finish(hub, s, item, change)
        if actor is not None:
            audit.record(s, actor, "item_withdraw", item.id, {"seq": item.seq, "reason": reason})
    log.info("withdrew item %s (change %d): %s", item_id, change, reason)
    return Changed(_reloaded(hub, item_id), ["withdrawn"])


def correct(
    hub: Hub,
    item_id: str,
    given: Mapping[str, str | None],
    note: str,
    actor: audit.Actor | None = None,
) -> Changed:
    """Correct the item's fields ``given`` (those not None), saying what (``note``); recorded
    in the audit trail as done by ``actor``, in the same transaction. The texts
    are taken as a publish takes them (cleaned; over their limit or a blank title refused);
    fields given that already say that are no change, and a correction of nothing is refused.
    The country is an ISO 3166 code (as ``publish --country``); a blank country, category,
    region or ``recorded_at`` clears it."""
    # line ends as a text file read by ``alu-hub publish`` has them (a Windows form's CRLF)
    values = {
        k: v.replace("\r\n", "\n").replace("\r", "\n")
        for k, v in given.items()
        if v is not None and k in CORRECTABLE
    }
    if not values:
        raise ChangeError(
            422,
            "invalid_request",
            f"Nothing to correct: give at least one of {', '.join(CORRECTABLE)}.",
        )
    note = _text(note, "note", NOTE_LIMIT)
    try:
        check_metadata(values)
        recorded = values.get("recorded_at")
        recorded_at = parse_recorded_at(recorded) if recorded and recorded.strip() else None
    except PublishError as e:
        raise ChangeError(422, "invalid_request", f"{e} Nothing was corrected.") from None
    country = values.get("country", "").strip()
    if country and (problem := country_problem(country, "country")) is not None:
        raise ChangeError(422, "invalid_request", f"{problem} Nothing was corrected.")
    with hub.db.session() as s:
        item, change = _locked_item(hub, s, item_id)
        current = ItemFields(
            **{f.name: getattr(item, f.name) for f in fields(ItemFields)},
        )
        for name, value in values.items():
            setattr(current, name, recorded_at if name == "recorded_at" else value)
        try:
            current.validated()
        except PublishError as e:
            raise ChangeError(422, "invalid_request", f"{e} Nothing was corrected.") from None
        changed = [
            k for k in CORRECTABLE if k in values and getattr(current, k) != getattr(item, k)
        ]
        if not changed:
            raise ChangeError(
                422,
                "invalid_request",
                f"Nothing to correct: item {item.seq} already says that.",
            )
        for name in changed:
            setattr(item, name, getattr(current, name))
        item.corrected_at = utcnow()
        item.correction_note = note
        _finish(hub, s, item, change)
        if actor is not None:
            audit.record(
                s,
                actor,
                "item_correct",
                item.id,
                {"seq": item.seq, "fields": changed, "note": note, "revision": item.revision},
            )
    log.info("corrected item %s (change %d): %s", item_id, change, ", ".join(changed))
    return Changed(_reloaded(hub, item_id), changed)


def page(s: Session, after: int, limit: int) -> tuple[list[tuple[int, bytes]], bool]:
    """Items whose last change is numbered after ``after``, in change order, at most ``limit``,
    as (change number, JSON with relative URLs); and whether more follow."""
    heads = s.execute(
        select(Item.change_seq, Item.id, Item.feed_json)
        .where(Item.change_seq > after)
        .order_by(Item.change_seq)
        .limit(limit + 1)
    ).all()
    more = len(heads) > limit
    heads = heads[:limit]
    texts = {h.id: h.feed_json.encode() for h in heads if h.feed_json is not None}
    missing = [h.id for h in heads if h.feed_json is None]
    if missing:  # (never: a change writes it; an item edited by hand in the database)
        texts.update(load_items_json(s, missing))
    return [(int(h.change_seq), texts[h.id]) for h in heads if h.id in texts], more


def newest_change(s: Session) -> int:
    """The number of the newest change of an item (0 when none)."""
    return int(s.scalar(select(func.coalesce(func.max(Item.change_seq), 0))) or 0)


def change_counter(s: Session) -> int:
    """The changes' counter as committed (it moves in each changing transaction)."""
    return int(s.scalar(select(Counter.value).where(Counter.name == CHANGE_COUNTER)) or 0)
