"""What was published, and who downloaded an item (``alu-hub items list`` / ``items show``,
``GET /api/v1/stats/items/{id}``).

Read from the feed (the items and their renditions) and from the history the workstations send
(``HistoryEvent``): ``download_completed``, ``download_canceled`` and ``download_failed``, each
with the member, the rendition it names, the workstation's name (``device``: the name the
workstation signed in with, its host name by default) and the clock-corrected ``occurred_at``.
The history holds no event for a download that is started, so "tried" is a member whose
downloads of the item were all canceled or failed. A download served by a CDN, or one still
waiting in a workstation's outbox (offline, signed out), is not known to the hub yet.

As in the statistics (``stats``), members are member accounts (role ``member``): agency staff's
own downloads are not listed; a rendition an event names that the item does not have is not
shown, though the download counts. A member upload's sender is not among the members that have
not downloaded it: it has the footage.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field
from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from . import changes
from .devicename import one_line
from .models import HistoryEvent, Item, Member, utcnow
from .stats import DOWNLOAD_EVENT

#: The events of a download that did not complete.
NOT_COMPLETED = {"download_canceled": "canceled", "download_failed": "failed"}
#: The name given as the sender of a push.
AGENCY = "agency"


class RenditionInfo(BaseModel):
    name: str
    size: int
    filename: str
    mime: str
    width: int
    height: int


class ItemSummary(BaseModel):
    seq: int
    id: str
    published_at: dt.datetime
    kind: str
    #: ``agency`` for a push, the member's user name for a member upload
    sender: str
    priority: str
    title: str
    #: how many members completed a download of it (any rendition, any time)
    downloaded_by: int
    #: when the agency withdrew it (None: not withdrawn)
    withdrawn_at: dt.datetime | None = None
    #: how many times it was corrected or withdrawn (1: as published)
    revision: int = 1


class ItemListOut(BaseModel):
    from_: dt.datetime = Field(alias="from")
    to: dt.datetime
    #: the items in the period (and of the sender and kind asked), whether listed or not
    total: int
    #: the newest ``limit`` of them, newest first
    items: list[ItemSummary]
    as_of: dt.datetime

    model_config = {"populate_by_name": True}


class MemberRef(BaseModel):
    username: str
    display_name: str
    country: str
    #: when it was disabled; None while it is enabled
    disabled_since: dt.datetime | None = None


class MemberDownload(MemberRef):
    #: when its first completed download of the item ended (the hub's clock), and its last
    first_download_at: dt.datetime
    last_download_at: dt.datetime
    #: the item's renditions it completed (an event naming none of them: an empty list)
    renditions: list[str]
    #: the distinct workstation names its completed downloads came from
    devices: list[str]
    #: how many workstations: by the id each data folder makes once where the workstation sent
    #: it (two named alike are two), by name for older clients' events
    workstations: int = 0
    #: some of its completed downloads came with neither a workstation id nor a name (an older
    #: workstation): there may be more workstations than ``workstations``
    unnamed_device: bool


class MemberAttempt(MemberRef):
    """A member whose downloads of the item all ended canceled or failed."""

    #: how the last one ended (``canceled`` or ``failed``), and when
    last_outcome: str
    last_at: dt.datetime
    canceled: int
    failed: int


class ItemReport(BaseModel):
    seq: int
    id: str
    title: str
    slug: str
    kind: str
    sender: str
    sender_display_name: str
    priority: str
    published_at: dt.datetime
    #: when the footage was shot, as the uploader or the agency said (None: not said)
    recorded_at: dt.datetime | None = None
    revision: int = 1
    corrected_at: dt.datetime | None = None
    correction_note: str = ""
    withdrawn_at: dt.datetime | None = None
    withdrawn_reason: str = ""
    renditions: list[RenditionInfo]
    #: the members that completed a download of it, first first
    downloaded_by: list[MemberDownload]
    #: the members that tried and never completed one, last tried first
    not_completed: list[MemberAttempt]
    #: the enabled members with no download of it known to the hub, by user name (a member
    #: upload's sender is not one)
    not_downloaded: list[MemberRef]
    as_of: dt.datetime


def sender(item: Item) -> str:
    if item.kind != "member_upload":
        return AGENCY
    return item.source_member.username if item.source_member else ""


def find_item(s: Session, key: str) -> Item | None:
    """The item ``key`` names (its id, or its seq), else None: as ``items withdraw`` finds it."""
    found = changes.find_item(s, key)
    return s.get(Item, found) if found is not None else None


def _downloaded_by(s: Session, item_ids: list[str]) -> dict[str, int]:
    if not item_ids:
        return {}
    rows = s.execute(
        select(HistoryEvent.item_id, func.count(distinct(HistoryEvent.member_id)))
        .join(Member, Member.id == HistoryEvent.member_id)
        .where(
            HistoryEvent.item_id.in_(item_ids),
            HistoryEvent.type == DOWNLOAD_EVENT,
            Member.role == "member",
        )
        .group_by(HistoryEvent.item_id)
    )
    return {str(item_id): int(n) for item_id, n in rows}


def list_items(
    s: Session,
    start: dt.datetime,
    end: dt.datetime,
    *,
    sender_id: int | None = None,
    kind: str | None = None,
    limit: int = 100,
    now: dt.datetime | None = None,
) -> ItemListOut:
    """The items published in ``[start, end)`` (of ``sender_id``, a member; of ``kind``), the
    newest ``limit`` of them, newest first."""
    where = [
        Item.published_at >= start.astimezone(dt.UTC),
        Item.published_at < end.astimezone(dt.UTC),
    ]
    if sender_id is not None:
        where += [Item.source_member_id == sender_id, Item.kind == "member_upload"]
    if kind is not None:
        where.append(Item.kind == kind)
    total = int(s.scalar(select(func.count()).select_from(Item).where(*where)) or 0)
    items = list(s.scalars(select(Item).where(*where).order_by(Item.seq.desc()).limit(limit)))
    counts = _downloaded_by(s, [i.id for i in items])
    return ItemListOut.model_validate(
        {
            "from": start,
            "to": end,
            "total": total,
            "as_of": now or utcnow(),
            "items": [
                ItemSummary(
                    seq=i.seq,
                    id=i.id,
                    published_at=i.published_at,
                    kind=i.kind,
                    sender=sender(i),
                    priority=i.priority,
                    title=i.title,
                    downloaded_by=counts.get(i.id, 0),
                    withdrawn_at=i.withdrawn_at,
                    revision=i.revision,
                )
                for i in items
            ],
        }
    )


def _ref(m: Member) -> dict[str, object]:
    return {
        "username": m.username,
        "display_name": m.display_name,
        "country": m.country,
        "disabled_since": None if m.active else m.disabled_at,
    }


def _workstations(events: list[tuple[str, str | None]]) -> int:
    """How many workstations the (name, id) of a member's events came from: the distinct ids,
    and the names of events without one (older clients) that no id'd event bears — the same
    workstation before and after its client learnt to send its id is one."""
    ids = {w for _d, w in events if w}
    named = {d for d, w in events if w}
    return len(ids) + len({d for d, w in events if not w and d and d not in named})


def item_report(s: Session, item: Item, now: dt.datetime | None = None) -> ItemReport:
    """``item``, and which members downloaded it, tried to, and did not (``ItemReport``)."""
    names = {r.name for r in item.renditions}
    done: dict[int, list[tuple[dt.datetime, str, str, str | None]]] = {}
    tried: dict[int, list[tuple[dt.datetime, str]]] = {}
    for member_id, kind, rendition, device, workstation, when in s.execute(
        select(
            HistoryEvent.member_id,
            HistoryEvent.type,
            HistoryEvent.rendition,
            HistoryEvent.device,
            HistoryEvent.workstation,
            HistoryEvent.occurred_at,
        )
        .join(Member, Member.id == HistoryEvent.member_id)
        .where(
            HistoryEvent.item_id == item.id,
            HistoryEvent.type.in_([DOWNLOAD_EVENT, *NOT_COMPLETED]),
            Member.role == "member",
        )
    ):
        if kind == DOWNLOAD_EVENT:
            done.setdefault(member_id, []).append((when, rendition, device, workstation))
        else:
            tried.setdefault(member_id, []).append((when, NOT_COMPLETED[kind]))
    members = {
        m.id: m
        for m in s.scalars(select(Member).where(Member.role == "member").order_by(Member.username))
    }
    downloaded = []
    for member_id, events in done.items():
        times = [when for when, _r, _d, _w in events]
        downloaded.append(
            MemberDownload.model_validate(
                {
                    **_ref(members[member_id]),
                    "first_download_at": min(times),
                    "last_download_at": max(times),
                    "renditions": sorted({r for _t, r, _d, _w in events if r in names}),
                    "devices": sorted({one_line(d) for _t, _r, d, _w in events if d}),
                    "workstations": _workstations([(d, w) for _t, _r, d, w in events]),
                    "unnamed_device": any(not (d or w) for _t, _r, d, w in events),
                }
            )
        )
    downloaded.sort(key=lambda d: (d.first_download_at, d.username))
    attempts = []
    for member_id, outcomes in tried.items():
        if member_id in done:
            continue
        last_at, last_outcome = max(outcomes)
        attempts.append(
            MemberAttempt.model_validate(
                {
                    **_ref(members[member_id]),
                    "last_outcome": last_outcome,
                    "last_at": last_at,
                    "canceled": sum(1 for _w, o in outcomes if o == "canceled"),
                    "failed": sum(1 for _w, o in outcomes if o == "failed"),
                }
            )
        )
    attempts.sort(key=lambda a: (-a.last_at.timestamp(), a.username))
    source = item.source_member if item.kind == "member_upload" else None
    return ItemReport(
        seq=item.seq,
        id=item.id,
        title=item.title,
        slug=item.slug,
        kind=item.kind,
        sender=sender(item),
        sender_display_name=source.display_name if source else "",
        priority=item.priority,
        published_at=item.published_at,
        recorded_at=item.recorded_at,
        revision=item.revision,
        corrected_at=item.corrected_at,
        correction_note=item.correction_note,
        withdrawn_at=item.withdrawn_at,
        withdrawn_reason=item.withdrawn_reason,
        renditions=[
            RenditionInfo(
                name=r.name,
                size=r.size,
                filename=r.filename,
                mime=r.mime,
                width=r.width,
                height=r.height,
            )
            for r in item.renditions
        ],
        downloaded_by=downloaded,
        not_completed=attempts,
        not_downloaded=[
            MemberRef.model_validate(_ref(m))
            for member_id, m in members.items()
            if m.active
            and member_id not in done
            and member_id not in tried
            and member_id != item.source_member_id  # (its sender has it)
        ],
        as_of=now or utcnow(),
    )
