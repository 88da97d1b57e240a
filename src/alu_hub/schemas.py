"""Request and response bodies: the contract published at /openapi.json."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from .devicename import DEVICE_LIMIT, stored


class SessionIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    device: str = Field(default="", max_length=200)


class MemberOut(BaseModel):
    username: str
    display_name: str
    country: str
    role: Literal["agency", "member"]


class SessionOut(BaseModel):
    token: str
    expires_at: dt.datetime
    member: MemberOut
    #: this hub's identity, made once with its database: a workstation told that the hub
    #: moved to a new address checks that the hub there is the same one
    hub_id: str | None = None


class RenditionOut(BaseModel):
    name: Literal["broadcast", "proxy"]
    url: str
    filename: str
    size: int
    sha256: str
    mime: str
    width: int
    height: int


class ItemOut(BaseModel):
    id: str
    seq: int
    kind: Literal["push", "member_upload"]
    title: str
    slug: str
    dateline: str
    recorded_at: dt.datetime | None
    published_at: dt.datetime
    category: str
    region: str
    country: str
    language: str
    priority: Literal["flash", "urgent", "routine"]
    restrictions: str
    script: str
    shotlist: str
    duration: float
    source_member: MemberOut | None
    thumbnail_url: str
    renditions: list[RenditionOut]
    #: 1 when published, one more at each correction or withdrawal (absent from hubs before
    #: them, and from items never changed that were published before them: 1)
    revision: int = 1
    #: when the agency last corrected the item (UTC); None when never
    corrected_at: dt.datetime | None = None
    #: what the agency corrected, in its words ("" when never corrected)
    correction_note: str = ""
    #: when the agency withdrew the item: do not use it; its files are no longer served (410)
    withdrawn_at: dt.datetime | None = None
    #: why ("" when not withdrawn)
    withdrawn_reason: str = ""


class ItemPage(BaseModel):
    items: list[ItemOut]
    #: pass as ``after`` for the next page; equals ``after`` when nothing new
    next: int
    more: bool
    #: on a page with no items, the seq of the newest item in the feed: a client whose
    #: ``after`` is past it holds numbers this hub no longer has (restored from a backup)
    last: int | None = None


class ChangePage(BaseModel):
    """Items corrected or withdrawn, each once at its current state, in change order."""

    items: list[ItemOut]
    #: pass as ``after`` for the next page; equals ``after`` when nothing new
    next: int
    more: bool
    #: on a page with no items, the hub's newest change number: a client whose ``after`` is
    #: past it holds numbers this hub no longer has (restored from a backup)
    last: int | None = None


#: bounds of a request's texts; the hub's own limits (``publish``) say more precisely
_TEXT_MAX = 100_000


class WithdrawIn(BaseModel):
    #: why the item is withdrawn, shown to every member (required: not blank)
    reason: str = Field(max_length=_TEXT_MAX)


class CorrectIn(BaseModel):
    """The fields to correct (those given), and what was corrected (``note``, required)."""

    title: str | None = Field(default=None, max_length=_TEXT_MAX)
    slug: str | None = Field(default=None, max_length=_TEXT_MAX)
    dateline: str | None = Field(default=None, max_length=_TEXT_MAX)
    restrictions: str | None = Field(default=None, max_length=_TEXT_MAX)
    script: str | None = Field(default=None, max_length=_TEXT_MAX)
    shotlist: str | None = Field(default=None, max_length=_TEXT_MAX)
    priority: str | None = Field(default=None, max_length=_TEXT_MAX)
    language: str | None = Field(default=None, max_length=_TEXT_MAX)
    #: ISO 3166 two-letter code; "" clears it (as for category, region and recorded_at)
    country: str | None = Field(default=None, max_length=_TEXT_MAX)
    category: str | None = Field(default=None, max_length=_TEXT_MAX)
    region: str | None = Field(default=None, max_length=_TEXT_MAX)
    #: when the footage was shot: ISO 8601 date or date-time (UTC without a zone)
    recorded_at: str | None = Field(default=None, max_length=_TEXT_MAX)
    note: str = Field(max_length=_TEXT_MAX)

    #: a field the hub does not know (or cannot correct) is refused, not ignored
    model_config = ConfigDict(extra="forbid")


class LinkOut(BaseModel):
    url: str
    expires_at: dt.datetime


EVENT_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,63}$"


def _utc(when: dt.datetime) -> dt.datetime:
    """A time from a workstation as aware UTC; one without a zone is UTC, as everywhere in the
    hub (the database takes aware times only)."""
    if when.tzinfo is None:
        return when.replace(tzinfo=dt.UTC)
    try:
        return when.astimezone(dt.UTC)
    except OverflowError:  # 0001-01-01T00:00+14:00 is in year 0 in UTC
        raise ValueError(
            "this time is outside the calendar the hub can store (years 1 to 9999, UTC)"
        ) from None


#: A time as UTC (see ``_utc``).
UTCTime = Annotated[dt.datetime, AfterValidator(_utc)]


def not_unicode(value: Any) -> bool:
    """Whether JSON ``value`` holds a string (a key or a value, at any depth) that is not
    Unicode text: a lone surrogate such as ``"\\ud800"``, which JSON can carry and UTF-8 (the
    database, every response) cannot. Iterative: JSON nests as deep as its parser allows."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False


#: What a 422 says of a string that is not Unicode text (errors.py says it of every field).
NOT_UNICODE = (
    "holds text that is not valid Unicode (a lone surrogate such as \\ud800); send UTF-8 text"
)


class HistoryEventIn(BaseModel):
    id: str = Field(
        pattern=EVENT_ID, description="made by the client (a UUID); sent twice, stored once"
    )
    type: str = Field(pattern=r"^[a-z][a-z_]{2,31}$", examples=["download_completed"])
    item_id: str | None = Field(default=None, max_length=32)
    rendition: str = Field(default="", max_length=32)
    bytes: int = Field(default=0, ge=0, le=1 << 50)
    started_at: UTCTime | None = None
    ended_at: UTCTime | None = None
    #: stored cleaned (devicename): the name is printed in the agency's reports
    device: Annotated[str, AfterValidator(stored)] = Field(default="", max_length=DEVICE_LIMIT)
    #: the random id the workstation's data folder made once: workstations are counted by it
    #: (two named alike are two); none from older clients, counted by ``device``
    workstation: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    detail: dict[str, Any] = Field(default_factory=dict, max_length=32)

    @field_validator("detail")
    @classmethod
    def _detail_is_text(cls, detail: dict[str, Any]) -> dict[str, Any]:
        if not_unicode(detail):
            raise ValueError(NOT_UNICODE)
        return detail


class HistoryBatchIn(BaseModel):
    events: list[HistoryEventIn] = Field(max_length=1000)
    #: the workstation's clock when it sent the batch; the hub corrects event times by the offset
    sent_at: UTCTime | None = None


class HistoryBatchOut(BaseModel):
    accepted: int
    duplicates: int


class HistoryEventOut(BaseModel):
    seq: int
    id: str
    type: str
    item_id: str | None
    rendition: str
    bytes: int
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    occurred_at: dt.datetime
    device: str
    #: the workstation id the event was sent with (``HistoryEventIn.workstation``); None for
    #: events of clients older than it
    workstation: str | None = Field(
        default=None,
        description="The random id of the workstation (its data folder) that sent the event; "
        "null for events from clients that sent none.",
    )
    detail: dict[str, Any]


class HistoryPage(BaseModel):
    events: list[HistoryEventOut]
    next: int
    more: bool
    #: on a page with no events, the newest seq of the member's history: a client whose
    #: ``after`` is past it holds numbers this hub no longer has
    last: int | None = None


class MemberStats(BaseModel):
    username: str
    display_name: str
    country: str
    downloads: int
    bytes_downloaded: int
    uploads: int
    #: days with an upload, of the ``pledge_days``
    upload_days: int
    #: the days of the period its pledge is judged on: those up to today on which it was a
    #: member (from the day it joined to the day it was disabled)
    pledge_days: int
    #: uploaded on each of its ``pledge_days`` (the pledge: one upload a day); None when there
    #: is no day to judge (a period not begun, or one it was no member in)
    meets_pledge: bool | None
    #: of its ``downloads``, those the hub heard of only after the period ended (each event of
    #: the item in the period arrived at or after its end: a workstation that was offline,
    #: signed out or disabled): the figure grew by these after the period was over. None while
    #: the period has not ended.
    downloads_reported_late: int | None
    #: when the account was disabled, if it is disabled now (``alu-hub member disable``); None
    #: while it is enabled. The hub keeps only the last time.
    disabled_since: dt.datetime | None


class StatsOut(BaseModel):
    from_: dt.datetime = Field(alias="from")
    to: dt.datetime
    pushes: int
    downloads: int
    uploads: int
    uploading_members: int
    #: the period's days up to today included (0 before it begins): the most a member's
    #: ``pledge_days`` can be
    pledge_days: int
    #: of ``downloads``, those reported after the period ended (the sum of the members'); None
    #: while the period has not ended. Workstations report downloads when they are next online
    #: and signed in, so a period's figures can still grow after it ended.
    downloads_reported_late: int | None
    #: when the figures were computed (the hub's clock, UTC)
    as_of: dt.datetime
    members: list[MemberStats]
    summary: str

    model_config = {"populate_by_name": True}


class ClientInfo(BaseModel):
    current_version: str
