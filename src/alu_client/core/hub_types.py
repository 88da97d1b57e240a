"""What a hub sends, as typed and validated records, and the errors of talking to it.

A hub's answer is untrusted input: every field is checked here (type, range, length) and a
malformed answer raises ``BadResponse``; nothing half-read reaches the library. Re-exported by
``core.hub``, which is where callers import them from.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

PRIORITIES = ("flash", "urgent", "routine")

#: A hub sends a keep-alive comment on a quiet event stream this often (seconds): the default
#: of ``alu_hub.settings.Settings.sse_keepalive_s``, which takes it from here so that the two
#: ends keep to one pair of numbers.
EVENTS_KEEPALIVE_S = 15.0
#: An event stream that brings nothing (no item, no keep-alive) for this long is taken as cut
#: and the hub as not answering: two and a half keep-alive periods, so one keep-alive lost or
#: late by up to half a period on a lossy link does not end a stream that works, and a hub
#: gone silent (frozen, behind a dead link or a hung proxy) is said within ~40 s, not 90.
EVENTS_READ_TIMEOUT_S = 2.5 * EVENTS_KEEPALIVE_S

_Entry = TypeVar("_Entry")


class HubError(Exception):
    """A hub call failed; ``str()`` is the user's sentence."""

    #: worth trying again later by itself (network, hub busy); False: a person must act
    transient = False

    def __init__(self, message: str, *, status: int | None = None, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        #: the hub's error code (``{"error": {"code": …}}``), when it sent one
        self.code = code


class Unreachable(HubError):
    transient = True


class NoAnswer(Unreachable):
    """The hub (or the link to it) did not answer in time: a connect or read timeout, a
    connection dropped before any answer. Worth another try soon, unlike a refused one.
    ``sent``: the request may have reached the hub (a read timeout, a connection dropped
    after it was made), where a connect timeout says it cannot have."""

    def __init__(self, message: str = "", *, sent: bool = True) -> None:
        super().__init__(message)
        self.sent = sent


class ProxyRefused(Unreachable):
    """A proxy on the way refused the request itself (``status`` 407: it wants a user name and
    password); ``proxy`` is its address without credentials, "" if unknown."""

    def __init__(self, message: str, *, status: int | None, proxy: str) -> None:
        super().__init__(message, status=status)
        self.proxy = proxy


class TlsError(HubError):
    """A certificate refused: the hub's (``proxy`` None), or the https:// proxy's on the way
    to it (``proxy``: its address without credentials, "" if unknown)."""

    def __init__(self, message: str, *, proxy: str | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.proxy = proxy
        #: why, in OpenSSL's words ("self-signed certificate", "certificate has expired"), ""
        #: when not known
        self.reason = reason


class AuthError(HubError):
    """401: wrong user or password at sign-in, or a token that expired or was revoked."""


class Forbidden(HubError):
    pass


class NotFound(HubError):
    pass


class ServerError(HubError):
    transient = True

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class BadResponse(HubError):
    """The hub answered, but not with what the API promises (garbage, a proxy's page, …)."""

    transient = True


class NotTls(BadResponse):
    """An https:// hub address answered in plain HTTP (or not in TLS at all): its port is one
    for http://, or a network login page is in the way. No certificate is involved."""


class PlainHttpRefused(HubError):
    pass


# --- what the hub returns ----------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    username: str
    display_name: str
    country: str
    role: str

    def to_json(self) -> dict[str, str]:
        return {
            "username": self.username,
            "display_name": self.display_name,
            "country": self.country,
            "role": self.role,
        }


@dataclass(frozen=True)
class Rendition:
    name: str
    url: str
    filename: str
    size: int
    sha256: str
    mime: str
    width: int
    height: int


@dataclass(frozen=True)
class Item:
    id: str
    seq: int
    kind: str
    title: str
    slug: str
    dateline: str
    recorded_at: dt.datetime | None
    published_at: dt.datetime
    category: str
    region: str
    country: str
    language: str
    priority: str
    restrictions: str
    script: str
    shotlist: str
    duration: float
    #: the uploading member's user name ('' for the agency's pushes)
    source_member: str
    thumbnail_url: str
    renditions: tuple[Rendition, ...] = field(default=())
    #: the uploading member's name as people know it ("Kenya TV"; '' when the hub did not say)
    source_name: str = ""
    #: the uploading account's role: "member", or "agency" for the agency's own staff
    source_role: str = ""
    #: 1 at publish, one more at every correction or withdrawal (1 from a hub that does not say)
    revision: int = 1
    #: when the agency last corrected the item (None: never) and what it said it corrected
    corrected_at: dt.datetime | None = None
    correction_note: str = ""
    #: when the agency withdrew the item (None: it stands) and why: its files are no longer
    #: served, and it must not be used
    withdrawn_at: dt.datetime | None = None
    withdrawn_reason: str = ""

    @property
    def withdrawn(self) -> bool:
        return self.withdrawn_at is not None

    @property
    def corrected(self) -> bool:
        return self.corrected_at is not None

    def rendition(self, name: str) -> Rendition | None:
        return next((r for r in self.renditions if r.name == name), None)

    @property
    def from_member(self) -> bool:
        """A member's footage, not the agency's: an upload by a member account. The agency's
        pushes, and what its staff upload from an agency account, are the agency's."""
        return self.kind == "member_upload" and self.source_role != "agency"

    def sent_by(self, username: str) -> bool:
        """Uploaded by the member ``username`` (from any of its workstations)."""
        return bool(username) and self.kind == "member_upload" and self.source_member == username


@dataclass(frozen=True)
class Skipped:
    """An item of a feed page, or an event of a history page, that is malformed (``reason``
    says how), though its place is known: the sync goes on past it rather than stop there for
    ever."""

    seq: int
    id: str
    reason: str


@dataclass(frozen=True)
class ItemPage:
    items: list[Item]
    next: int
    more: bool
    #: on a page with no items, the newest seq of the hub's feed (None: the hub does not say)
    last: int | None = None
    #: the page's malformed items whose seq and id could be read (not in ``items``)
    skipped: tuple[Skipped, ...] = ()


@dataclass(frozen=True)
class ChangePage:
    """A page of the hub's changes (items corrected or withdrawn), each at its current state;
    ``next`` is the change number to ask after next time."""

    items: list[Item]
    next: int
    more: bool
    skipped: tuple[Skipped, ...] = ()
    #: on a page with no items, the hub's newest change number (None: the hub does not say)
    last: int | None = None


@dataclass(frozen=True)
class SignIn:
    token: str = field(repr=False)
    expires_at: dt.datetime
    member: Member
    #: the hub's identity, made once with its database ('' from a hub older than it)
    hub_id: str = ""


@dataclass(frozen=True)
class RemoteEvent:
    """A history event as the hub stored it (from any of the member's workstations)."""

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
    detail: dict[str, Any]


@dataclass(frozen=True)
class HistoryPage:
    events: list[RemoteEvent]
    next: int
    more: bool
    #: on a page with no events, the newest seq of the hub's history (None: not said)
    last: int | None = None
    #: the page's malformed events whose seq and id could be read (not in ``events``)
    skipped: tuple[Skipped, ...] = ()


# --- parsing (every field checked: a hub's answer is untrusted input) -----------------------------


#: the largest whole number the library can keep (SQLite's INTEGER is 64-bit signed)
MAX_INTEGER = 2**63 - 1
#: no clip is longer (ten days): a longer duration is a malformed item, not a long clip
MAX_DURATION_S = 10 * 24 * 3600.0
#: no picture is wider or taller (pixels)
MAX_DIMENSION = 100_000
#: the times of items and events are shown in the workstation's zone (up to 14 hours off
#: UTC): a time within a day of the calendar's ends could not be, and is malformed
_EARLIEST = dt.datetime.min.replace(tzinfo=dt.UTC) + dt.timedelta(days=1)
_LATEST = dt.datetime.max.replace(tzinfo=dt.UTC) - dt.timedelta(days=1)
#: UTF-16 halves on their own (JSON's "\ud800"): text no file, terminal or library can keep
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class _Reader:
    def __init__(self, data: Any, what: str) -> None:
        if not isinstance(data, dict):
            raise BadResponse(f"The hub sent a malformed {what}.")
        self.d = data
        self.what = what

    def _bad(self, key: str) -> BadResponse:
        return BadResponse(f"The hub sent a malformed {self.what} (field {key!r}).")

    def text(self, key: str, default: str | None = None, max_len: int = 1 << 20) -> str:
        v = self.d.get(key, default)
        if v is None and default is not None:
            v = default
        if not isinstance(v, str) or len(v) > max_len or _LONE_SURROGATE.search(v):
            raise self._bad(key)
        return v

    def integer(self, key: str) -> int:
        v = self.d.get(key)
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= MAX_INTEGER:
            raise self._bad(key)
        return v

    def optional_integer(self, key: str) -> int | None:
        return None if self.d.get(key) is None else self.integer(key)

    def number(self, key: str, limit: float) -> float:
        """A number from 0 to ``limit`` (JSON's 1e999 reads as infinity: refused too)."""
        v = self.d.get(key, 0)
        if not isinstance(v, int | float) or isinstance(v, bool):
            raise self._bad(key)
        try:
            value = float(v)  # (an integer of 400 digits does not fit: OverflowError)
        except OverflowError:
            raise self._bad(key) from None
        if not 0 <= value <= limit:  # (NaN compares false: refused)
            raise self._bad(key)
        return value

    def flag(self, key: str) -> bool:
        v = self.d.get(key)
        if not isinstance(v, bool):
            raise self._bad(key)
        return v

    def when(self, key: str, optional: bool = False, *, shown: bool = False) -> dt.datetime | None:
        """A time with its zone (UTC when it names none), as UTC. ``shown``: a time the
        workstation shows in its own zone, which must be one (not within a day of year 1 or
        year 9999's end)."""
        v = self.d.get(key)
        if v is None and optional:
            return None
        if not isinstance(v, str):
            raise self._bad(key)
        try:
            t = dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
            # 9999-12-31T23:59:59-14:00 is a valid text of a time after the calendar's end
            t = t.astimezone(dt.UTC) if t.tzinfo else t.replace(tzinfo=dt.UTC)
        except (ValueError, OverflowError):
            raise self._bad(key) from None
        if shown and not _EARLIEST <= t <= _LATEST:
            raise self._bad(key)
        return t

    def array(self, key: str) -> list[Any]:
        v = self.d.get(key)
        if not isinstance(v, list):
            raise self._bad(key)
        return v


def _storable(value: Any) -> bool:
    """Whether JSON ``value`` can be kept as JSON and shown: every string (a key or a value, at
    any depth) Unicode text, every number finite and within 64 bits (JSON's 1e999 reads as
    infinity, which ``json.dumps`` writes as ``Infinity``, no JSON). Iterative: JSON nests as
    deep as its parser allows."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if _LONE_SURROGATE.search(v):
                return False
        elif isinstance(v, bool) or v is None:
            continue
        elif isinstance(v, int):
            if not -MAX_INTEGER <= v <= MAX_INTEGER:
                return False
        elif isinstance(v, float):
            if not math.isfinite(v):
                return False
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        else:
            return False
    return True


def parse_member(data: Any) -> Member:
    r = _Reader(data, "member")
    return Member(
        r.text("username", max_len=64),
        r.text("display_name", ""),
        r.text("country", ""),
        r.text("role", "member"),
    )


def parse_rendition(data: Any) -> Rendition:
    r = _Reader(data, "rendition")
    sha = r.text("sha256", max_len=64).lower()
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise r._bad("sha256")
    return Rendition(
        name=r.text("name", max_len=32),
        url=r.text("url", max_len=4096),
        filename=r.text("filename", "", max_len=1024),
        size=r.integer("size"),
        sha256=sha,
        mime=r.text("mime", ""),
        width=int(r.number("width", MAX_DIMENSION)),
        height=int(r.number("height", MAX_DIMENSION)),
    )


def parse_item(data: Any) -> Item:
    r = _Reader(data, "item")
    priority = r.text("priority", "routine")
    if priority not in PRIORITIES:
        raise r._bad("priority")
    src = r.d.get("source_member")
    source = parse_member(src) if src is not None else None
    published = r.when("published_at", shown=True)
    assert published is not None
    return Item(
        id=r.text("id", max_len=32),
        seq=r.integer("seq"),
        kind=r.text("kind", "push", max_len=32),
        title=r.text("title", ""),
        slug=r.text("slug", ""),
        dateline=r.text("dateline", ""),
        recorded_at=r.when("recorded_at", optional=True, shown=True),
        published_at=published,
        category=r.text("category", ""),
        region=r.text("region", ""),
        country=r.text("country", ""),
        language=r.text("language", ""),
        priority=priority,
        restrictions=r.text("restrictions", ""),
        script=r.text("script", ""),
        shotlist=r.text("shotlist", ""),
        duration=r.number("duration", MAX_DURATION_S),
        source_member=source.username if source is not None else "",
        thumbnail_url=r.text("thumbnail_url", "", max_len=4096),
        renditions=tuple(parse_rendition(x) for x in r.array("renditions")),
        source_name=source.display_name if source is not None else "",
        source_role=source.role if source is not None else "",
        # (an older hub sends none of these: the item as published, standing)
        revision=max(1, r.integer("revision")) if r.d.get("revision") is not None else 1,
        corrected_at=r.when("corrected_at", optional=True, shown=True),
        correction_note=r.text("correction_note", ""),
        withdrawn_at=r.when("withdrawn_at", optional=True, shown=True),
        withdrawn_reason=r.text("withdrawn_reason", ""),
    )


def _entries(
    r: _Reader, parse: Callable[[Any], _Entry], what: str, id_len: int
) -> tuple[list[_Entry], tuple[Skipped, ...]]:
    """The ``items`` or ``events`` of a page. A malformed one whose ``seq`` and ``id`` can be
    read is left out and named in the second list; one that cannot be placed even so makes the
    whole page malformed (``BadResponse``): where the sync goes on after it would be a guess."""
    read: list[_Entry] = []
    skipped: list[Skipped] = []
    for x in r.array(f"{what}s"):
        try:
            read.append(parse(x))
        except BadResponse as e:
            try:
                place = _Reader(x, what)
                seq, entry_id = place.integer("seq"), place.text("id", max_len=id_len)
            except BadResponse:
                raise e from None
            skipped.append(Skipped(seq, entry_id, str(e)))
    return read, tuple(skipped)


def parse_item_page(data: Any) -> ItemPage:
    """A page of the feed; its malformed items that can be placed in ``skipped``."""
    r = _Reader(data, "feed page")
    items, skipped = _entries(r, parse_item, "item", 32)
    return ItemPage(
        items,
        next=r.integer("next"),
        more=r.flag("more"),
        last=r.optional_integer("last"),
        skipped=skipped,
    )


def parse_change_page(data: Any) -> ChangePage:
    """A page of the hub's changes; its malformed items that can be placed in ``skipped``."""
    r = _Reader(data, "changes page")
    items, skipped = _entries(r, parse_item, "item", 32)
    return ChangePage(
        items,
        next=r.integer("next"),
        more=r.flag("more"),
        skipped=skipped,
        last=r.optional_integer("last"),
    )


def parse_history_page(data: Any) -> HistoryPage:
    """A page of the member's history; its malformed events that can be placed in
    ``skipped``."""
    r = _Reader(data, "history page")
    events, skipped = _entries(r, parse_remote_event, "event", 64)
    return HistoryPage(
        events,
        next=r.integer("next"),
        more=r.flag("more"),
        last=r.optional_integer("last"),
        skipped=skipped,
    )


def parse_remote_event(data: Any) -> RemoteEvent:
    r = _Reader(data, "history event")
    detail = r.d.get("detail") or {}
    if not isinstance(detail, dict) or not _storable(detail):
        raise r._bad("detail")
    occurred = r.when("occurred_at", shown=True)
    assert occurred is not None
    item_id = None if r.d.get("item_id") is None else r.text("item_id", max_len=64)
    return RemoteEvent(
        seq=r.integer("seq"),
        id=r.text("id", max_len=64),
        type=r.text("type", max_len=32),
        item_id=item_id,
        rendition=r.text("rendition", ""),
        bytes=r.integer("bytes"),
        started_at=r.when("started_at", optional=True, shown=True),
        ended_at=r.when("ended_at", optional=True, shown=True),
        occurred_at=occurred,
        device=r.text("device", ""),
        detail=detail,
    )
