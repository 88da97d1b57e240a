"""The hub's JSON API v1 (everything but tus, which is the ``tus`` package)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from sqlalchemy import Table, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from . import audit, auth, changes, feed, signin
from .accesslog import note_account
from .db import HUB_ID_KEY
from .devicename import one_line
from .download_guard import ItemGuard, counter_value
from .errors import ApiError, unauthorized
from .feed import page_body, page_json, with_base
from .files import file_response, strong_etag
from .history_times import not_before_publication
from .hub import AgencyDep, Hub, HubDep, MemberDep, bearer, current_member, member_for
from .item_report import ItemReport, item_report
from .models import (
    MAX_BIGINT,
    HistoryEvent,
    Item,
    KeyValue,
    Member,
    Rendition,
    Token,
    utcnow,
)
from .schemas import (
    ChangePage,
    ClientInfo,
    CorrectIn,
    HistoryBatchIn,
    HistoryBatchOut,
    HistoryEventOut,
    HistoryPage,
    ItemOut,
    ItemPage,
    LinkOut,
    MemberOut,
    SessionIn,
    SessionOut,
    StatsOut,
    WithdrawIn,
)
from .stats import PeriodError, compute_stats
from .stats import period as stats_period
from .storage import StorageError

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1")
#: the contract's 403 of a call for agency staff only (its body: ``contract.Error``)
AGENCY_ONLY: dict[int | str, dict[str, Any]] = {403: {"description": "Agency staff only."}}


def member_out(m: Member) -> MemberOut:
    return feed.member_out(m.username, m.display_name, m.country, m.role)


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


# --- sign-in -------------------------------------------------------------------------------


@router.post(
    "/session",
    response_model=SessionOut,
    tags=["session"],
    responses={
        401: {"description": "The user name or password is wrong."},
        403: {"description": "The account is disabled (the password was right)."},
        413: {"description": "The body is larger than a sign-in needs."},
        429: {"description": "Too many failed sign-ins for this name or address (Retry-After)."},
    },
)
def sign_in(body: SessionIn, request: Request, hub: HubDep) -> SessionOut:
    """Sign in; the token goes in ``Authorization: Bearer`` on every other call. Failed
    sign-ins are limited per user name and per address (429 with ``Retry-After``)."""
    address = request.client.host if request.client else None
    attempt = signin.begin(hub.db, hub.settings, body.username, address)
    out: SessionOut | None = None
    with auth.check_turn(), hub.db.session() as s:
        try:
            member = auth.check_credentials(s, body.username, body.password)
        except auth.AccountDisabled:
            member = None
        else:
            if member is None:
                raise unauthorized("bad_credentials", "The user name or password is wrong.")
            raw, tok = auth.issue_token(s, member, body.device, hub.settings.token_ttl_s)
            out = SessionOut(
                token=raw,
                expires_at=tok.expires_at,
                member=member_out(member),
                hub_id=_hub_id(s),
            )
    signin.succeeded(hub.db, attempt)  # the password was right: no lock-out for it
    if out is None:
        raise ApiError(403, "account_disabled", "This account is disabled; ask the agency.")
    return out


def _hub_id(s: Session) -> str | None:
    """This hub's identity (``db.HUB_ID_KEY``), made once with its database."""
    row = s.get(KeyValue, HUB_ID_KEY)
    return row.value if row is not None else None


@router.delete("/session", status_code=204, tags=["session"])
def sign_out(request: Request, hub: HubDep, _member: MemberDep) -> Response:
    """Revoke the token this request carries."""
    digest = auth.token_hash(bearer(request))
    with hub.db.session() as s:
        tok = s.execute(select(Token).where(Token.token_hash == digest)).scalar_one()
        tok.revoked_at = utcnow()
    hub.tokens.forget(digest)
    return Response(status_code=204)


@router.get("/me", response_model=MemberOut, tags=["session"])
def whoami(member: MemberDep) -> MemberOut:
    return member_out(member)


@router.get("/client", response_model=ClientInfo, tags=["session"])
def client_info(hub: HubDep, _member: MemberDep) -> ClientInfo:
    """The desktop client version the agency currently distributes (update check)."""
    from alu_client import __version__

    return ClientInfo(current_version=hub.settings.client_version or __version__)


# --- the feed ------------------------------------------------------------------------------


@router.get("/items", response_model=ItemPage, tags=["feed"])
async def list_items(
    request: Request,
    after: Annotated[int, Query(ge=0, le=MAX_BIGINT)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    """The feed in publish order: items with ``seq`` greater than ``after``."""
    hub: Hub = request.app.state.hub
    base = base_url(request)

    def answer() -> bytes:  # one trip to the thread pool for the token and the page
        member_for(request, hub)
        with hub.db.session() as s:
            items, more = page_json(s, hub.feed_cache, after, limit)
            # nothing new: say where the feed ends, so a member whose cursor is past it (a
            # hub restored from a backup numbers its next items again) reads from there
            last = None if items else feed.newest_seq(s)
        return page_body(items, after, more, base, last)

    return Response(await run_in_threadpool(answer), media_type="application/json")


def _item(s: Session, item_id: str) -> Item:
    item = s.get(Item, item_id) if len(item_id) <= 32 else None
    if item is None:
        raise ApiError(404, "unknown_item", "There is no item with this id.")
    return item


def _not_withdrawn(item: Item) -> None:
    """A withdrawn item's files are served no more (links already handed out included)."""
    if item.withdrawn_at is not None:
        raise ApiError(410, "item_withdrawn", changes.withdrawn_message(item.withdrawn_reason))


# (before /items/{item_id}, which would take "changes" for an id)
@router.get("/items/changes", response_model=ChangePage, tags=["feed"])
async def list_changes(
    request: Request,
    after: Annotated[int, Query(ge=0, le=MAX_BIGINT)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    """Items corrected or withdrawn after change number ``after``, in change order, each once
    at its current state; ``next`` is the ``after`` of the next call. Start from 0."""
    hub: Hub = request.app.state.hub
    base = base_url(request)

    def answer() -> bytes:
        member_for(request, hub)
        with hub.db.session() as s:
            items, more = changes.page(s, after, limit)
            last = None if items else changes.newest_change(s)
        return page_body(items, after, more, base, last)

    return Response(await run_in_threadpool(answer), media_type="application/json")


def _change(do: Callable[[], changes.Changed], request: Request) -> Response:
    try:
        done = do()
    except changes.ChangeError as e:
        raise ApiError(e.status, e.code, e.message) from None
    text = done.item.feed_json
    assert text is not None
    return Response(with_base(text.encode(), base_url(request)), media_type="application/json")


@router.post(
    "/items/{item_id}/withdraw",
    response_model=ItemOut,
    tags=["changes"],
    responses={
        403: {"description": "Agency staff only."},
        409: {"description": "The item is withdrawn already (``already_withdrawn``)."},
        422: {"description": "The reason is blank or too long."},
    },
)
def withdraw_item(
    item_id: str, body: WithdrawIn, request: Request, hub: HubDep, agency: AgencyDep
) -> Response:
    """Withdraw the item for good (agency staff): it stays in the feed with ``withdrawn_at``
    and the reason, its files are answered 410 ``item_withdrawn``, and it leaves the counts."""
    actor = audit.api_actor(agency)
    return _change(lambda: changes.withdraw(hub, item_id, body.reason, actor), request)


@router.patch(
    "/items/{item_id}",
    response_model=ItemOut,
    tags=["changes"],
    responses={
        403: {"description": "Agency staff only."},
        409: {"description": "The item is withdrawn (``already_withdrawn``)."},
        422: {"description": "No note, nothing to correct, or a field the hub cannot take."},
    },
)
def correct_item(
    item_id: str, body: CorrectIn, request: Request, hub: HubDep, agency: AgencyDep
) -> Response:
    """Correct the fields given (agency staff), with ``note`` saying what was corrected."""
    given = body.model_dump(exclude={"note"})
    actor = audit.api_actor(agency)
    return _change(lambda: changes.correct(hub, item_id, given, body.note, actor), request)


@router.get("/items/{item_id}", response_model=ItemOut, tags=["feed"])
def get_item(item_id: str, request: Request, hub: HubDep, _member: MemberDep) -> Response:
    """One item, as the feed gives it."""
    with hub.db.session() as s:
        text = feed.item_by_id(s, hub.feed_cache, item_id) if len(item_id) <= 32 else None
    if text is None:
        raise ApiError(404, "unknown_item", "There is no item with this id.")
    return Response(with_base(text, base_url(request)), media_type="application/json")


def _reader(request: Request, hub: Hub, m: str | None, exp: str | None, sig: str | None) -> None:
    """Files accept the bearer token or a signed link (for players that cannot send headers)."""
    if m is not None or exp is not None or sig is not None:
        member_id = auth.check_link(hub.link_key(), request.url.path, m or "", exp or "", sig or "")
        if member_id is None:
            raise unauthorized(
                "bad_link", "This download link is not valid or has expired; ask for a new one."
            )
        # the access log names the member the link was made for, as for a token (a player's
        # Range requests are one indexed row each; the bytes cost far more)
        with hub.db.session() as s:
            name = s.scalar(select(Member.username).where(Member.id == member_id))
        if name is not None:
            note_account(request.scope, name)
        return
    member_for(request, hub)


def _serve(
    request: Request,
    hub: Hub,
    key: str,
    etag_sha: str,
    mime: str,
    filename: str | None,
    keep_sending: Callable[[], Awaitable[bool]] | None = None,
) -> Response:
    """The file from local storage (Range, ETag, …), or, when the store is remote (S3), a 307
    to a short-lived URL of the store: the bytes never pass through the hub, and the client's
    own headers (Range, If-Range against the store's ETag) go to the store with the request it
    repeats there. The token does not: clients drop credentials on a redirect to another origin.
    ``keep_sending``: ``files.file_response`` (a redirect cannot be taken back)."""
    try:
        url = hub.storage.download_url(
            key, head=request.method.upper() == "HEAD", filename=filename, mime=mime
        )
    except StorageError:
        log.exception("signing a download URL failed")
        raise ApiError(
            503,
            "storage",
            "The file store cannot be reached just now; try again shortly.",
            headers={"Retry-After": "30"},
        ) from None
    if url is not None:
        # no-store: a cached redirect would outlive the URL it names
        return Response(status_code=307, headers={"Location": url, "Cache-Control": "no-store"})
    path = hub.storage.local_path(key)
    if path is None:
        raise ApiError(500, "storage", "The file store is not reachable.")
    try:
        return file_response(
            request,
            path,
            etag=strong_etag(etag_sha),
            media_type=mime,
            filename=filename,
            keep_sending=keep_sending,
        )
    except FileNotFoundError:
        raise ApiError(
            404, "file_missing", "The hub has lost this file; tell the agency."
        ) from None


@router.head("/items/{item_id}/renditions/{name}", tags=["files"], operation_id="head_rendition")
@router.get("/items/{item_id}/renditions/{name}", tags=["files"])
def get_rendition(
    item_id: str,
    name: str,
    request: Request,
    hub: HubDep,
    m: str | None = None,
    exp: str | None = None,
    sig: str | None = None,
) -> Response:
    """The rendition's bytes, with single Range requests, If-Range and a strong ETag; or,
    with S3 storage, a 307 to a short-lived URL of the store that does the same."""
    _reader(request, hub, m, exp, sig)
    with hub.db.session() as s:  # one indexed row (Core: the ORM's item and list cost more)
        rend = (
            s.execute(
                select(
                    Rendition.storage_key,
                    Rendition.sha256,
                    Rendition.mime,
                    Rendition.filename,
                    Item.withdrawn_at,
                    Item.withdrawn_reason,
                    counter_value(),  # (read with the item: not withdrawn as of this change)
                )
                .join(Item, Item.id == Rendition.item_id)
                .where(Rendition.item_id == item_id, Rendition.name == name)
            ).one_or_none()
            if len(item_id) <= 32
            else None
        )
        if rend is None:
            _item(s, item_id)  # 404 unknown_item, or:
            raise ApiError(404, "unknown_rendition", f"This item has no {name!r} rendition.")
    if rend.withdrawn_at is not None:
        raise ApiError(410, "item_withdrawn", changes.withdrawn_message(rend.withdrawn_reason))
    # sending stops soon after the item is withdrawn, by whichever process (``download_guard``)
    guard = ItemGuard(hub.changes_watch, item_id, rend[-1])
    return _serve(
        request, hub, rend.storage_key, rend.sha256, rend.mime, rend.filename, guard.still_served
    )


@router.head("/items/{item_id}/thumbnail", tags=["files"], operation_id="head_thumbnail")
@router.get("/items/{item_id}/thumbnail", tags=["files"])
def get_thumbnail(
    item_id: str,
    request: Request,
    hub: HubDep,
    m: str | None = None,
    exp: str | None = None,
    sig: str | None = None,
) -> Response:
    _reader(request, hub, m, exp, sig)
    with hub.db.session() as s:
        item = _item(s, item_id)
        _not_withdrawn(item)
        key = item.thumbnail_key
    # The thumbnail's file never changes (a correction changes texts only): its key names it.
    return _serve(request, hub, key, auth.token_hash(key), "image/jpeg", None)


@router.post("/items/{item_id}/renditions/{name}/link", response_model=LinkOut, tags=["files"])
def rendition_link(
    item_id: str, name: str, request: Request, hub: HubDep, member: MemberDep
) -> LinkOut:
    """A short-lived URL for the rendition that needs no header (media players, other tools)."""
    with hub.db.session() as s:
        item = _item(s, item_id)
        _not_withdrawn(item)
        if not any(r.name == name for r in item.renditions):
            raise ApiError(404, "unknown_rendition", f"This item has no {name!r} rendition.")
    path = f"/api/v1/items/{item_id}/renditions/{name}"
    ttl = hub.settings.signed_url_ttl_s
    query = auth.sign_link(hub.link_key(), path, member.id, ttl)
    return LinkOut(
        url=f"{base_url(request)}{path}?{query}", expires_at=utcnow() + dt.timedelta(seconds=ttl)
    )


# --- live events ---------------------------------------------------------------------------


@router.get(
    "/events",
    tags=["feed"],
    response_class=StreamingResponse,
    responses={503: {"description": "The hub is shutting down (Retry-After)."}},
)
async def events(
    request: Request,
    after: Annotated[int | None, Query(ge=0, le=MAX_BIGINT)] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Server-sent events: ``event: item`` with the item as data and its seq as id, for every
    item published after ``after`` (or ``Last-Event-ID`` on reconnect; default: from now);
    ``event: change`` with ``{"change": N}`` (no id) when items were corrected or withdrawn
    since the stream opened: read ``GET /items/changes``."""
    hub: Hub = request.app.state.hub
    await current_member(request, hub)
    if hub.broker.closing:
        # shutting down: a stream opened now would end at once, and clients count streams
        # that end at once as a proxy cutting them (and poll for minutes); a 503 says "later"
        raise ApiError(
            503,
            "restarting",
            "The hub is restarting; try again shortly.",
            headers={"Retry-After": "5"},
        )
    cursor = after
    if cursor is None and last_event_id:
        cursor = _event_id(last_event_id)
    if cursor is None:
        cursor = await run_in_threadpool(_max_seq, hub)
    base = base_url(request)
    digest = auth.token_hash(bearer(request))

    changed = await run_in_threadpool(_change_counter, hub)

    async def stream(cursor: int, changed: int) -> AsyncIterator[str]:
        yield "retry: 5000\n\n"
        while not hub.broker.closing:
            seen = hub.broker.generation  # before reading: a wake-up while reading counts
            try:
                rows, more, change = await run_in_threadpool(
                    _page_out, hub, cursor, base, digest, changed
                )
            except SignInEnded:
                return
            for seq, data in rows:
                cursor = seq
                yield f"id: {seq}\nevent: item\ndata: {data}\n\n"
            if change != changed:
                # an item corrected or withdrawn: the workstation reads /items/changes (no id:
                # Last-Event-ID stays the feed's seq)
                changed = change
                yield f'event: change\ndata: {{"change": {change}}}\n\n'
            if more:
                continue
            if await request.is_disconnected():
                return
            quiet = await _wait_signed_in(request, hub, seen)
            if quiet is None:
                return
            if quiet:
                yield ": keep-alive\n\n"

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(
        stream(cursor, changed), media_type="text/event-stream", headers=headers
    )


#: How often a quiet event stream looks whether its sign-in still holds (through the token
#: cache: it reads the token's row once per ``auth.TOKEN_CACHE_S``). A sign-out in this process
#: ends the stream within this time, a revocation elsewhere (``alu-hub member disable|signout``,
#: a replica) within this and the cache's time.
SIGN_IN_CHECK_S = 1.0


class SignInEnded(Exception):
    """The token of an event stream was revoked or expired, or its member disabled."""


async def _signed_in(request: Request, hub: Hub) -> bool:
    """Whether the request's sign-in still holds. A database that cannot be asked just now
    keeps a quiet stream open (a stream sends no item without asking it: ``_page_out``)."""
    try:
        await current_member(request, hub)
    except ApiError as e:
        if e.status == 401:
            return False
        raise
    except Exception:
        log.debug("an event stream could not check its sign-in; it asks again", exc_info=True)
    return True


async def _wait_signed_in(request: Request, hub: Hub, seen: int) -> bool | None:
    """Wait for the feed to move (since ``seen``, a ``broker.generation``), at most the
    keep-alive interval, checking the sign-in every ``SIGN_IN_CHECK_S`` meanwhile: an open
    stream outlived the sign-out, the revocation or the disabling of its member, and went on
    pushing every new item's text to a stolen workstation for as long as the hub ran. None
    when the sign-in ended, False when woken, True when a keep-alive is due."""
    until = time.monotonic() + hub.settings.sse_keepalive_s
    while True:
        if not await _signed_in(request, hub):
            return None
        left = until - time.monotonic()
        if left <= 0:
            return True
        if await hub.broker.wait(min(left, SIGN_IN_CHECK_S), since=seen):
            return False


def _event_id(value: str) -> int | None:
    """A ``Last-Event-ID`` as a seq; None (start from now, as without one) for anything this
    hub cannot have sent: not ASCII digits (``isdigit`` takes ``²`` too), or past any seq."""
    value = value.strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 19:
        return None
    seq = int(value)
    return seq if seq <= MAX_BIGINT else None


def _max_seq(hub: Hub) -> int:
    with hub.db.session() as s:
        return feed.newest_seq(s)


def _change_counter(hub: Hub) -> int:
    with hub.db.session() as s:
        return changes.change_counter(s)


def _page_out(
    hub: Hub, after: int, base: str, digest: str, changed: int
) -> tuple[list[tuple[int, str]], bool, int]:
    """The stream's next items after ``after``, and the changes' counter (``changed``: as the
    stream saw it last). Before anything goes out, the token (``digest``) is read from the
    database, not the cache: nothing reaches a sign-in ended a moment ago by another process;
    raises ``SignInEnded`` then."""
    with hub.db.session() as s:
        items, more = page_json(s, hub.feed_cache, after, 100)
        change = changes.change_counter(s)
        if items or change != changed:
            try:
                auth.token_by_hash(s, digest)
            except auth.TokenProblem:
                raise SignInEnded() from None
    return [(seq, with_base(text, base).decode()) for seq, text in items], more, change


# --- history -------------------------------------------------------------------------------


def _insert_ignore(s: Session, rows: list[dict[str, Any]]) -> int:
    """Insert history rows, skipping events the member already stored (its ``event_id``s:
    another member's ids are no concern of its); returns how many were new. (On the table, not
    through the ORM's bulk insert: a backlog of 200 events cost twice the time that way.)"""
    if not rows:
        return 0
    table: Table = HistoryEvent.__table__  # type: ignore[assignment]
    conn = s.connection()
    dialect = conn.dialect.name
    key = ["member_id", "event_id"]
    stmt: Any
    if dialect == "postgresql":
        stmt = postgresql.insert(table).on_conflict_do_nothing(index_elements=key)
    elif dialect == "sqlite":
        stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=key)
    else:  # pragma: no cover - other engines: check first, then insert (rows: one member's)
        have = set(
            conn.scalars(
                select(table.c.event_id).where(
                    table.c.member_id == rows[0]["member_id"],
                    table.c.event_id.in_([r["event_id"] for r in rows]),
                )
            )
        )
        rows = [r for r in rows if r["event_id"] not in have]
        stmt = insert(table)
    result = conn.execute(stmt.returning(table.c.seq), rows) if rows else None
    return len(result.all()) if result is not None else 0


def _take_history_turn(s: Session, member_id: int) -> None:
    """Hold the member's row (``FOR NO KEY UPDATE``) until ``s`` commits, before its events
    are numbered: a workstation's cursor (``GET /history?after=``) must never pass a number
    that can still appear. On PostgreSQL ``seq`` comes from a sequence when the row is
    inserted but is seen at commit, so two batches of one member committing out of order let
    a pull between the commits see N+1 and not N, and lose N for good. Taking turns per member
    makes each batch number and commit after the one before (the sequence only grows), and the
    cursors are per member, so other members' batches go on meanwhile. SQLite has one writer
    at a time: its numbers already commit in order."""
    if s.get_bind().dialect.name == "sqlite":
        return
    s.execute(select(Member.id).where(Member.id == member_id).with_for_update(key_share=True))


#: A workstation clock further off than this is refused rather than corrected: not a clock
#: that drifted or lost its battery (those say 1970 or 2000, and are corrected), but a wrong
#: date typed in, and times shifted by centuries would leave the calendar.
MAX_CLOCK_SKEW_YEARS = 100
MAX_CLOCK_SKEW = dt.timedelta(days=36525)
#: a batch's ``sent_at`` this close to the hub's clock is a clock that is right: the gap is the
#: request's way here (seconds on a member's link, more with retries), not an error to correct
#: (an event ended at 23:59:59 on the month's last day was moved into the next month)
CLOCK_RIGHT_WITHIN = dt.timedelta(minutes=2)


def _corrected(
    event_id: str, name: str, when: dt.datetime | None, skew: dt.timedelta
) -> dt.datetime | None:
    """An event's time (aware UTC: schemas.UTCTime) shifted by the clock's offset."""
    if when is None:
        return None
    try:
        return when + skew
    except OverflowError:
        raise ApiError(
            422,
            "invalid_request",
            f"Event {event_id}: {name} {when.isoformat()}, corrected by the workstation clock's "
            "offset, is outside the calendar the hub can store.",
        ) from None


@router.post("/history", response_model=HistoryBatchOut, tags=["history"])
def post_history(body: HistoryBatchIn, hub: HubDep, member: MemberDep) -> HistoryBatchOut:
    """Store a batch of the member's events; ids already stored are ignored (safe to resend).
    Event times are corrected by how far ``sent_at`` is from the hub's clock when that is more
    than two minutes (less is the request's transit); a download's time is never before its
    item's publication nor after the hub's now. A clock more than 100 years off is refused
    (422 ``clock_off``)."""
    now = utcnow()
    # Workstation clocks are wrong: shift event times by how far the sender's clock was off.
    sent = body.sent_at
    skew = (now - sent) if sent is not None else dt.timedelta(0)
    if abs(skew) <= CLOCK_RIGHT_WITHIN:
        skew = dt.timedelta(0)
    if sent is not None and abs(skew) > MAX_CLOCK_SKEW:
        raise ApiError(
            422,
            "clock_off",
            f"The workstation's clock is more than {MAX_CLOCK_SKEW_YEARS} years off (it says "
            f"{sent.isoformat(sep=' ', timespec='minutes')[:16]} UTC); set it right and send "
            "again.",
        )
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for e in body.events:
        if e.id in seen:
            continue
        seen.add(e.id)
        started = _corrected(e.id, "started_at", e.started_at, skew)
        ended = _corrected(e.id, "ended_at", e.ended_at, skew)
        when = ended or started
        occurred = min(now, when) if when is not None else now
        rows.append(
            {
                "event_id": e.id,
                "member_id": member.id,
                "type": e.type,
                "item_id": e.item_id,
                "rendition": e.rendition,
                "bytes": e.bytes,
                "started_at": started,
                "ended_at": ended,
                "occurred_at": occurred,
                "received_at": now,
                "device": e.device,
                "workstation": e.workstation,
                "detail": e.detail,
            }
        )
    for row in rows:  # the JSON detail is bounded too: it is stored and served back
        if len(json.dumps(row["detail"])) > 4096:
            raise ApiError(
                413, "detail_too_large", f"Event {row['event_id']}: detail is over 4 KiB."
            )
    with hub.db.session() as s:
        _take_history_turn(s, member.id)
        not_before_publication(s, rows)
        accepted = _insert_ignore(s, rows)
    return HistoryBatchOut(accepted=accepted, duplicates=len(body.events) - accepted)


@router.get("/history", response_model=HistoryPage, tags=["history"])
def get_history(
    hub: HubDep,
    member: MemberDep,
    after: Annotated[int, Query(ge=0, le=MAX_BIGINT)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> HistoryPage:
    """The signed-in member's own events (from all its workstations), in the order stored."""
    table: Table = HistoryEvent.__table__  # type: ignore[assignment]
    with hub.db.session() as s:  # rows, not ORM objects: a page of 500 is read often
        rows = s.execute(
            select(table)
            .where(table.c.member_id == member.id, table.c.seq > after)
            .order_by(table.c.seq)
            .limit(limit + 1)
        ).all()
        # nothing new: where the member's history ends, as the feed's page says (a hub
        # restored from a backup ends before the cursors of its members' workstations)
        last = (
            None
            if rows
            else int(
                s.scalar(select(func.max(table.c.seq)).where(table.c.member_id == member.id)) or 0
            )
        )
    more = len(rows) > limit
    rows = rows[:limit]
    return HistoryPage(
        events=[
            HistoryEventOut(
                seq=r.seq,
                id=r.event_id,
                type=r.type,
                item_id=r.item_id,
                rendition=r.rendition,
                bytes=r.bytes,
                started_at=r.started_at,
                ended_at=r.ended_at,
                occurred_at=r.occurred_at,
                device=one_line(r.device),  # rows stored before names were cleaned
                workstation=r.workstation,
                detail=r.detail,
            )
            for r in rows
        ],
        next=rows[-1].seq if rows else after,
        more=more,
        last=last,
    )


# --- statistics ----------------------------------------------------------------------------


@router.get("/stats", response_model=StatsOut, response_model_by_alias=True, tags=["stats"])
def stats(
    hub: HubDep,
    member: MemberDep,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: Annotated[str | None, Query()] = None,
) -> StatsOut:
    """Pushes, downloads, uploads and uploading members between ``from`` and ``to`` (dates are
    whole days, UTC; ISO times with an offset count that zone's days, and local days when
    ``from`` and ``to`` are in different offsets; default the last 30 days;
    at most ten years). Each member row's pledge is judged on its ``pledge_days`` (the days up
    to today it was a member; ``meets_pledge`` null when none). Members see the totals and
    their own row; agency staff see every member."""
    try:
        start, end = stats_period(from_, to, utcnow())
    except PeriodError as e:
        raise ApiError(422, "invalid_request", str(e)) from None
    with hub.db.session() as s:
        out = compute_stats(s, start, end)
    if member.role != "agency":
        out.members = [r for r in out.members if r.username == member.username]
    return out


@router.get("/stats/members", response_model=list[MemberOut], tags=["stats"], responses=AGENCY_ONLY)
def list_members(hub: HubDep, _agency: AgencyDep) -> list[MemberOut]:
    with hub.db.session() as s:
        return [member_out(m) for m in s.scalars(select(Member).order_by(Member.username))]


@router.get(
    "/stats/items/{item_id}", response_model=ItemReport, tags=["stats"], responses=AGENCY_ONLY
)
def item_downloads(item_id: str, hub: HubDep, _agency: AgencyDep) -> ItemReport:
    """An item (seq, title, kind, sender, renditions) and who downloaded it, from the history
    the workstations report: each member with a completed download (its first and last, the
    item's renditions it completed, the names of its workstations), the members whose
    downloads were all canceled or failed, and the enabled members with none known. Agency
    staff only (403 ``agency_only`` for a member)."""
    with hub.db.session() as s:
        item = s.get(Item, item_id)
        if item is None:
            raise ApiError(404, "unknown_item", "There is no item with this id.")
        return item_report(s, item)
