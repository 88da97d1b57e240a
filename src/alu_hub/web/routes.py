"""The routes of the statistics page: sign-in by form and cookie, the page, the CSV export."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import re
import secrets
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from .. import auth, signin
from ..accesslog import note_account
from ..errors import ApiError
from ..hub import Hub, HubDep
from ..members import STATS_PAGE_DEVICE
from ..models import Member, utcnow
from ..schemas import StatsOut
from . import pages
from .figures import Month, Period, council_figures, month_figures, selector_months
from .markup import Html

router = APIRouter(include_in_schema=False)

#: The cookie holding the hub token of a signed-in page (a token like the app's, from auth.py).
COOKIE = "alu_hub_stats"
#: A page's sign-in lasts a working day at most (the hub's token lifetime if shorter).
WEB_SESSION_S = 12 * 3600
#: A sign-in form is a few hundred bytes.
MAX_FORM_BYTES = 16 * 1024
#: Where a sign-in may send the browser next (nothing else: no open redirect). ASCII digits
#: only: the address goes into a Location header, which holds Latin-1 at most.
_NEXT = re.compile(r"/stats(?:\.csv)?(?:\?month=[0-9]{4}-[0-9]{2})?")

#: The challenge of the page's 401 (a wrong password on the form). RFC 9110 §15.5.2: a 401 MUST
#: carry ``WWW-Authenticate``. The page signs in by form and cookie, which no registered scheme
#: describes, and the API's ``Bearer`` would be untrue (the page reads no Authorization header).
#: §11.1 lets a challenge name any scheme token, and the auth-param syntax of §11.2 carries the
#: form's address and the cookie's name (as the "Cookie" scheme of draft-broyer-http-cookie-auth
#: does). Browsers prompt only for the schemes they know (Basic, Digest, Negotiate…), so this
#: one leaves the 401's HTML page, with its form and message, shown as it is.
CHALLENGE = f'Cookie realm="alu-hub stats", form-action="/stats/login", cookie-name="{COOKIE}"'

MEMBER_REFUSED = (
    "This account belongs to a member broadcaster. The statistics page is for agency staff; "
    "sign in with an agency account."
)


def _headers(nonce: str | None) -> dict[str, str]:
    style = f"'nonce-{nonce}'" if nonce else "'none'"
    return {
        # No script at all; the one inline stylesheet by nonce; forms post here only.
        "Content-Security-Policy": (
            f"default-src 'none'; style-src {style}; img-src 'self'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


def _page(render: Callable[[str], Html], status: int = 200) -> Response:
    """``render(nonce)`` → an HTML response under the page's Content-Security-Policy."""
    nonce = secrets.token_urlsafe(18)
    body = render(nonce)
    return Response(
        body.encode("utf-8"),
        status_code=status,
        media_type="text/html; charset=utf-8",
        headers=_headers(nonce),
    )


def _set_cookie(r: Response, request: Request, value: str, max_age: int) -> None:
    """HttpOnly, SameSite=Strict, and Secure when the page is served over https (directly or
    through a trusted proxy's X-Forwarded-Proto); Path=/ so that /stats.csv gets it too."""
    r.set_cookie(
        COOKIE,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _clear_cookie(r: Response, request: Request) -> None:
    _set_cookie(r, request, "", 0)


def _next_url(value: str | None) -> str:
    return value if value and _NEXT.fullmatch(value) else "/stats"


def _here(request: Request) -> str:
    month = request.query_params.get("month")
    return _next_url(request.url.path + (f"?month={month}" if month else ""))


def _to_sign_in(request: Request) -> Response:
    query = urllib.parse.urlencode({"next": _here(request)})
    r = Response(status_code=303, headers={"Location": f"/stats/login?{query}", **_headers(None)})
    if COOKIE in request.cookies:  # expired or revoked: forget it
        _clear_cookie(r, request)
    return r


def _signed_in(hub: Hub, request: Request) -> Member | None:
    """The member whose live hub token is in the cookie, or None."""
    raw = request.cookies.get(COOKIE, "")
    if not raw or len(raw) > 200:
        return None
    with hub.db.session() as s:
        try:
            tok = auth.token_for(s, raw)
        except auth.TokenProblem:
            return None
        member = tok.member
        s.expunge(member)
    note_account(request.scope, member.username)
    return member


def _refuse_member() -> Response:
    return _page(
        lambda nonce: pages.message(
            nonce,
            "Agency staff only",
            MEMBER_REFUSED,
            link=("/stats/login", "Sign in with another account"),
        ),
        403,
    )


def _cross_site(request: Request) -> bool:
    """A form posted from another site (browsers say so in Sec-Fetch-Site): refused, so that
    nobody can sign a browser in or out from elsewhere. The cookie is SameSite=Strict too."""
    return request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none")


def _bad_request(text: str, status: int = 400) -> Response:
    return _page(
        lambda nonce: pages.message(
            nonce, "Not possible", text, link=("/stats", "Back to the statistics")
        ),
        status,
    )


# --- sign-in ---------------------------------------------------------------------------------


@router.get("/stats/login")
def sign_in_form(
    request: Request,
    hub: HubDep,
    next_: Annotated[str | None, Query(alias="next", max_length=100)] = None,
) -> Response:
    member = _signed_in(hub, request)
    if member is not None and member.role == "agency":
        return Response(status_code=303, headers={"Location": _next_url(next_)})
    return _page(lambda nonce: pages.sign_in(nonce, next_url=_next_url(next_)))


@dataclass(frozen=True)
class _SignIn:
    outcome: str  # "ok" | "wrong" | "member" | "too_many" | "disabled"
    token: str = ""
    ttl_s: int = 0
    retry_after: str = ""


def _check(hub: Hub, username: str, password: str, address: str | None, device: str) -> _SignIn:
    """The hub's own sign-in, as ``POST /api/v1/session`` does it: the same rate limit on failed
    attempts (``signin``), the same password check and tokens (``auth``) — but for agency staff
    only: a member's right password gets no token here."""
    try:
        attempt = signin.begin(hub.db, hub.settings, username, address)
    except ApiError as e:
        if e.status != 429:
            raise
        return _SignIn("too_many", retry_after=e.headers.get("Retry-After", ""))
    with auth.check_turn(), hub.db.session() as s:
        try:
            member = auth.check_credentials(s, username, password)
        except auth.AccountDisabled:
            result = _SignIn("disabled")  # (the password was right: no lock-out for it)
        else:
            if member is None:
                return _SignIn("wrong")
            if member.role != "agency":
                result = _SignIn("member")
            else:
                ttl = min(WEB_SESSION_S, hub.settings.token_ttl_s)
                raw, _tok = auth.issue_token(s, member, device, ttl)
                result = _SignIn("ok", raw, ttl)
    signin.succeeded(hub.db, attempt)
    return result


async def _form(request: Request) -> dict[str, str] | None:
    """The urlencoded form, or None when it is larger than a sign-in form."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    try:
        fields = urllib.parse.parse_qs(body.decode("utf-8", "replace"), max_num_fields=20)
    except ValueError:  # more fields than a sign-in has
        return None
    return {k: v[0] for k, v in fields.items()}


@router.post("/stats/login")
async def sign_in(request: Request, hub: HubDep) -> Response:
    if _cross_site(request):
        return _bad_request("A sign-in from another site is refused.", 403)
    form = await _form(request)
    if form is None:
        return _bad_request("The form is too large.", 413)
    username = form.get("username", "").strip()[:200]
    password = form.get("password", "")[:1024]
    next_url = _next_url(form.get("next"))
    agent = request.headers.get("user-agent", "")[:120]
    address = request.client.host if request.client else None
    result = await run_in_threadpool(
        _check, hub, username, password, address, STATS_PAGE_DEVICE + agent
    )
    if result.outcome == "member":
        return _refuse_member()
    if result.outcome == "too_many":
        r = _bad_request(
            "Too many sign-ins for this account or from this place, failed or at the same "
            "moment. Wait a few minutes, "
            "then try again with the right password.",
            429,
        )
        if result.retry_after:
            r.headers["Retry-After"] = result.retry_after
        return r
    if result.outcome != "ok":
        return _refused_sign_in(result.outcome == "disabled", next_url, username)
    r = Response(status_code=303, headers={"Location": next_url, **_headers(None)})
    _set_cookie(r, request, result.token, result.ttl_s)
    return r


def _refused_sign_in(disabled: bool, next_url: str, username: str) -> Response:
    """The form again, saying why: 403 for a disabled account (the password was right), else
    401 with the page's challenge (``CHALLENGE``)."""
    r = _page(
        lambda nonce: pages.sign_in(
            nonce,
            next_url=next_url,
            username=username,
            error="This account is disabled; ask the agency."
            if disabled
            else "The user name or password is wrong.",
        ),
        403 if disabled else 401,
    )
    if not disabled:
        r.headers["WWW-Authenticate"] = CHALLENGE
    return r


@router.post("/stats/logout")
def sign_out(request: Request, hub: HubDep) -> Response:
    if _cross_site(request):
        return _bad_request("A sign-out from another site is refused.", 403)
    raw = request.cookies.get(COOKIE, "")
    if raw and len(raw) <= 200:
        with hub.db.session() as s, contextlib.suppress(auth.TokenProblem):
            auth.token_for(s, raw).revoked_at = utcnow()
        hub.tokens.forget(auth.token_hash(raw))
    r = Response(status_code=303, headers={"Location": "/stats/login", **_headers(None)})
    _clear_cookie(r, request)
    return r


@router.get("/stats/favicon.svg")
def favicon() -> Response:
    headers = _headers(None)
    headers["Cache-Control"] = "public, max-age=86400"
    return Response(pages.FAVICON, media_type="image/svg+xml", headers=headers)


# --- the page and the export -----------------------------------------------------------------

MonthQuery = Annotated[str | None, Query(max_length=20)]


def _month(value: str | None) -> Month | str:
    """The asked month (default: this one), or why it cannot be shown."""
    now = utcnow()
    try:
        month = Month.parse(value) if value else Month.of(now)
        Period.of(month, now)
    except ValueError as e:
        return f"{e}. Choose a month up to {Month.of(now).label}, as YYYY-MM."
    return month


@router.get("/stats")
def stats_page(request: Request, hub: HubDep, month: MonthQuery = None) -> Response:
    member = _signed_in(hub, request)
    if member is None:
        return _to_sign_in(request)
    if member.role != "agency":
        return _refuse_member()
    chosen = _month(month)
    if isinstance(chosen, str):
        return _bad_request(chosen)
    now = utcnow()
    with hub.db.session() as s:
        figures = council_figures(s, chosen, now)
    who = member.display_name or member.username
    return _page(
        lambda nonce: pages.stats(
            nonce,
            figures,
            months=selector_months(now, chosen),
            current=Month.of(now),
            who=who,
        )
    )


CSV_COLUMNS = (
    "month",
    "period_start",
    "period_end",
    "username",
    "display_name",
    "country",
    "downloads",
    "bytes_downloaded",
    "uploads",
    "upload_days",
    "days_in_period",
    "pledge_days",
    "pledge_met",
    # added at the end, so that a sheet reading the columns above by position still does:
    # of ``downloads``, those reported after the month ended (empty for the month in
    # progress); the day the member was disabled (empty while enabled); and when the figures
    # were computed, on every row (each row says how final it is, wherever it is pasted; the
    # file name would be lost with a rename, and a line above the header would break readers)
    "downloads_reported_late",
    "disabled_since",
    "as_of_utc",
)


def _cell(text: str) -> str:
    """Text a spreadsheet would take for a formula (``=``, ``+``, ``-``, ``@``, tab, CR) is
    prefixed with an apostrophe: member names come from the database."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def stats_csv_text(period: Period, st: StatsOut) -> str:
    last_day = (period.end - dt.timedelta(days=1)).date()
    return figures_csv_text(
        st,
        month=str(period.month),
        first=period.start.date().isoformat(),
        last=last_day.isoformat(),
        days=period.days,
    )


def figures_csv_text(st: StatsOut, *, month: str, first: str, last: str, days: int) -> str:
    """The CSV of ``st`` (``CSV_COLUMNS``): ``month``, ``first`` and ``last`` (the columns
    ``month``, ``period_start``, ``period_end``) and ``days`` (``days_in_period``) on every
    row; ``/stats.csv`` and ``alu-hub stats --csv`` write it (``csv_bytes``)."""
    out = io.StringIO()
    w = csv.writer(out)  # RFC 4180: quoted as needed, CRLF line ends
    w.writerow(CSV_COLUMNS)
    as_of = f"{st.as_of.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S}"  # a spreadsheet reads it as a time
    for r in st.members:
        w.writerow(
            (
                month,
                first,
                last,
                _cell(r.username),
                _cell(r.display_name),
                _cell(r.country),
                r.downloads,
                r.bytes_downloaded,
                r.uploads,
                r.upload_days,
                days,
                r.pledge_days,
                "not judged" if r.meets_pledge is None else "yes" if r.meets_pledge else "no",
                "" if r.downloads_reported_late is None else r.downloads_reported_late,
                f"{r.disabled_since:%Y-%m-%d}" if r.disabled_since else "",
                as_of,
            )
        )
    return out.getvalue()


@router.get("/stats.csv")
def stats_csv(request: Request, hub: HubDep, month: MonthQuery = None) -> Response:
    member = _signed_in(hub, request)
    if member is None:
        return _to_sign_in(request)
    if member.role != "agency":
        return _refuse_member()
    chosen = _month(month)
    if isinstance(chosen, str):
        return _bad_request(chosen)
    now = utcnow()
    period = Period.of(chosen, now)
    with hub.db.session() as s:
        st = month_figures(s, period, now).stats
    headers = _headers(None)
    headers["Content-Disposition"] = f'attachment; filename="alu-stats-{chosen}.csv"'
    body = csv_bytes(stats_csv_text(period, st))
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)


def csv_bytes(text: str) -> bytes:
    """The CSV's bytes: UTF-8 after a byte order mark, so that spreadsheets read the names as
    UTF-8 (Excel needs it)."""
    return ("\ufeff" + text).encode("utf-8")
