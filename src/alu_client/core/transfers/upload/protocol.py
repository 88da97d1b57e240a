"""The tus side of an upload: what one request's answer means (as internal outcomes), the
HTTP helpers, and ``poll_outcome`` (the hub's final word on a finished upload)."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Mapping
from urllib.parse import unquote, urljoin

import requests

from ...http import is_number, origin, proxy_answer, same_origin
from ...plain_text import one_line
from ..base import (
    MSG_NO_SIGN_IN_SENT,
    MSG_SIGN_IN_REFUSED,
    PermanentError,
    SignInRefused,
    Stopped,
    TransferContext,
    redact_url,
)
from ..retry import http_date, retry_after_of
from .spec import PART_FLOOR_MAX, TUS_VERSION, metadata_name_ok

# --- internal outcomes of one request ------------------------------------------------------------


class _Resume(Exception):
    """The request failed in a way a HEAD-resume may heal (network, stall, 5xx, 429, 409)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class _Lost(Exception):
    """The server no longer has the upload (404/410, expired, or not the upload we think);
    ``expired`` when the server said it expired (the note says so, not "lost")."""

    def __init__(self, expired: bool = False) -> None:
        super().__init__("expired" if expired else "lost")
        self.expired = expired


class _Locked(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__("locked")
        self.wait = wait


class _TooLarge(Exception):
    """413 on a PATCH: the chunk is larger than the server takes."""


class _BadChecksum(Exception):
    """460: the chunk arrived damaged and was discarded."""


class _Aborted(Exception):
    """Another part of this upload failed: this one stops too."""


class _FileChanged(Exception):
    """The source file changed (or shrank) while it was being uploaded."""


# --- HTTP helpers ---------------------------------------------------------------------------------

_ID_LIKE = re.compile(r"[A-Za-z0-9_-]{20,}|https?://\S+")


def _hub_words(r: requests.Response) -> str:
    """The server's own message, without anything that looks like an upload id or URL: the
    hub answers ``{"error": {"message"}}``, FastAPI servers such as tuspyserver
    ``{"detail": "…"}``, the tus Node.js server and tusd a line of plain text."""
    message = ""
    try:
        body = r.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        message = str(body["error"].get("message", ""))
    elif isinstance(body, dict) and isinstance(body.get("detail"), str):
        message = body["detail"]
    elif r.headers.get("Content-Type", "").startswith("text/plain"):
        message = r.text[:300]
    # one line without the controls a terminal would obey (ESC sequences, a CR and LF that
    # forge an "alu:" line): the words go to `alu tus-put`'s error and the transfer list
    message = _ID_LIKE.sub("…", one_line(message[:4096]))[:300]
    if message:
        return message
    # the reason phrase, as the body's words: a server's 5,000 bytes of it went out whole
    reason = "".join(c for c in str(r.reason or "") if c.isprintable())
    return f"HTTP {r.status_code} {_ID_LIKE.sub('…', ' '.join(reason.split()))[:100]}".strip()


def _retry_after(r: requests.Response) -> float | None:
    return retry_after_of(r)


#: an upload address (a creation's ``Location``) that cannot be used
BAD_LOCATION = "The hub gave an address for the upload that cannot be used; tell whoever runs it."
#: an endpoint that is not a valid http(s) address (``http.origin``)
BAD_ENDPOINT = "The upload address is not valid."


def upload_url(base: str, location: str) -> str | None:
    """``location`` (a ``Location`` header, maybe relative) resolved against ``base``, or None
    when it names no valid http(s) address (``ftp:``, ``mailto:``, a broken ``http://[::1``,
    a backslash in the host, which requests and the origin check read as two servers: see
    ``http.origin``)."""
    try:
        url = urljoin(base, location.strip())
        origin(url)
    except ValueError:  # (http.BadAddress too)
        return None
    return url


def _int_header(r: requests.Response, name: str) -> int | None:
    """A number header; one sent twice with the same value is that value (requests joins the
    two with a comma; RFC 9110 §8.6 allows it for Content-Length), different values none."""
    values = {v.strip() for v in r.headers.get(name, "").split(",")}
    raw = values.pop() if len(values) == 1 else ""
    return int(raw) if is_number(raw) else None


def _says_expired(r: requests.Response, kept: float | None = None) -> bool:
    """A 404/410 for an upload that expired: a passed ``Upload-Expires``, the answer's or
    ``kept``, the one an earlier answer gave for it (``expiry_of``: the tus Node.js server's
    410 for an expired upload says "The file for this url no longer exists", which it says too
    of one whose file went missing, and gives no Upload-Expires); or a 410 with one (the hub's,
    whose clock the answer's Date may not follow) or in words of expiry (tuspyserver's "Upload
    expired"; a HEAD's answer has no words)."""
    if _expired(r) or (kept is not None and kept <= time.time()):
        return True
    if r.status_code != 410:
        return False
    return "Upload-Expires" in r.headers or "expire" in _hub_words(r).lower()


def _expired(r: requests.Response) -> bool:
    """A passed Upload-Expires, measured on the server's clock (its Date) when it sends one."""
    expires = _http_date(r.headers.get("Upload-Expires"))
    if expires is None:
        return False
    now = _http_date(r.headers.get("Date"))
    return expires <= (time.time() if now is None else now)


def expiry_of(r: requests.Response) -> float | None:
    """The answer's Upload-Expires on this computer's clock (as far from now as it is from the
    answer's Date, when it has one: the server's clock may not be ours); None without one."""
    expires = _http_date(r.headers.get("Upload-Expires"))
    if expires is None:
        return None
    now = _http_date(r.headers.get("Date"))
    return expires if now is None else time.time() + (expires - now)


def _http_date(raw: str | None) -> float | None:
    """An HTTP-date as a timestamp; None when absent or unreadable (a year 99999999999999999999
    raised OverflowError, and a 503 to be retried for ever failed the upload for good). An
    asctime date is GMT: read in the workstation's zone, Nairobi's took a live upload for one
    expired three hours ago and sent it again from the first byte."""
    when = http_date(raw)
    return None if when is None else when.timestamp()


def _size_text(n: int) -> str:
    return f"{n / 1e9:.3g} GB" if n >= 1e9 else f"{n / 1e6:.3g} MB"


#: an Upload-Metadata header this large refused with 413 is the item's texts, not the file
#: (a title and a short script take a few KiB; a hub's limit is tens of KiB at least)
METADATA_SUSPECT_BYTES = 16 * 1024
MSG_METADATA_TOO_LARGE = (
    "The hub does not accept the item's texts: the script, shot list and restrictions are "
    "too long together. Shorten them and upload the file again."
)


#: the ALU hub's refusal of a member upload whose bytes are already on the network as another's
#: item (an agency clip a shared hot folder picked up): the error code of its 422 at creation
ON_NETWORK_CODE = "already_on_network"
#: … and its words, at creation or as the failed upload's ``Alu-Error`` (``alu_hub.publish``)
MSG_ON_NETWORK_AGENCY = (
    "This file is already on the network: it is the agency's “{title}” (published {date}). "
    "It was not published again."
)
MSG_ON_NETWORK_MEMBER = (
    "This file is already on the network: it is “{title}”, sent by {member} (published "
    "{date}). It was not published again."
)
#: the date, and the withdrawal the hub adds for an item withdrawn since ("; withdrawn
#: DATE: REASON"), which stays in the date's place, in the hub's words
_DATE = r"(?P<date>\d{4}-\d{2}-\d{2}(?:; withdrawn \d{4}-\d{2}-\d{2}(?:: .+)?)?)"
_ON_NETWORK = (
    re.compile(
        r"This file is already on the network: it is the agency's “(?P<title>.+)” "
        rf"\(published {_DATE}\)\. It was not published again\.",
        re.DOTALL,
    ),
    re.compile(
        r"This file is already on the network: it is “(?P<title>.+)”, sent by (?P<member>.+) "
        rf"\(published {_DATE}\)\. It was not published again\.",
        re.DOTALL,
    ),
)


def on_network(words: str) -> str | None:
    """This app's message for the hub's refusal of a file already on the network, made from
    the hub's ``words`` (their title and member in one line, without controls); None when the
    words are not that refusal. The hot folders keep the file as refused (an error, not tried
    again), ``alu put`` fails with it, the app shows it in the user's language."""
    for pattern, template in zip(
        _ON_NETWORK, (MSG_ON_NETWORK_AGENCY, MSG_ON_NETWORK_MEMBER), strict=True
    ):
        found = pattern.fullmatch(words.strip())
        if found is not None:
            details = {k: one_line(v)[:300] for k, v in found.groupdict().items()}
            return template.format(**details)
    return None


def _on_network_answer(r: requests.Response) -> str | None:
    """The hub's refusal of a file already on the network, as this app says it; else None."""
    try:
        body = r.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or error.get("code") != ON_NETWORK_CODE:
        return None
    message = error.get("message")
    return on_network(message) if isinstance(message, str) else None


def _too_large(size: int, limit: int | None) -> PermanentError:
    if limit is None:
        return PermanentError(f"The hub does not accept a file this large ({_size_text(size)}).")
    return PermanentError(
        f"The file is {_size_text(size)}, larger than the {_size_text(limit)} the hub accepts."
    )


def _raise_for(
    r: requests.Response, *, creating: bool = False, expires: float | None = None
) -> None:
    """Nothing for 2xx; else the exception that says what to do about the answer (``expires``:
    the upload's expiry as an earlier answer gave it, ``expiry_of``)."""
    code = r.status_code
    if 200 <= code < 300:
        return
    said = proxy_answer(r)
    if said is not None:
        if code >= 500:
            raise _Resume(said, _retry_after(r))
        raise PermanentError(said)
    if 400 <= code < 500 and (refusal := _on_network_answer(r)) is not None:
        raise PermanentError(refusal)  # for good: the same bytes are refused every time
    if code == 401:
        if r.request is not None and "Authorization" not in r.request.headers:
            # none sent: not given, or withheld because the server put the upload on another
            # host (credentials go only to the address they were given for)
            raise PermanentError(MSG_NO_SIGN_IN_SENT)
        raise SignInRefused(MSG_SIGN_IN_REFUSED)
    if code == 403:
        raise PermanentError(f"The hub refused the upload for this account: {_hub_words(r)}")
    if code in (404, 410):
        if creating:
            raise PermanentError(
                "The hub has no upload service at this address; check the hub's address."
            )
        raise _Lost(expired=_says_expired(r, expires))
    if code == 408:  # the server tired of a slow body (nginx's client_body_timeout)
        raise _Resume(
            "The hub stopped waiting for the upload's bytes (HTTP 408); the upload goes on "
            "from what it received.",
            _retry_after(r),
        )
    if code == 409:
        raise _Resume("The hub and this computer disagreed on how much had arrived.")
    if code == 423:
        raise _Locked(_retry_after(r) or 1.0)
    if code == 460:
        raise _BadChecksum()
    if code == 501:  # the server does not implement the method: it will not heal
        raise PermanentError(
            "The server at this address does not take uploads (HTTP 501); check the address."
        )
    if code == 507:  # Insufficient Storage: the ALU hub's full disk (it says when to come back)
        raise _Resume(
            "The hub's disk is full; the upload will go on once the agency has made room.",
            _retry_after(r),
        )
    if code == 429 or code >= 500:
        raise _Resume(
            f"The hub is busy or had a problem (HTTP {code}); the upload will go on later.",
            _retry_after(r),
        )
    if 300 <= code < 400:
        raise PermanentError(
            "The hub answered with a redirect, which an upload does not follow; check the hub's "
            "address."
        )
    raise PermanentError(f"The hub refused the upload: {_hub_words(r)}")


def _outcome(r: requests.Response) -> tuple[str, str | None, str]:
    state = r.headers.get("Alu-Upload-State", "")
    item = r.headers.get("Alu-Item-Id")
    return state, (unquote(item) if item else None), unquote(r.headers.get("Alu-Error", ""))


def _metadata_header(meta: Mapping[str, str]) -> str:
    """Upload-Metadata per the tus spec: ``key base64(utf-8 value)`` pairs, comma-separated."""
    pairs = []
    for key, value in meta.items():
        if not metadata_name_ok(key):
            raise PermanentError(f"The upload detail {key!r} has a name a hub cannot take.")
        encoded = base64.b64encode(value.encode("utf-8")).decode("ascii")
        pairs.append(f"{key} {encoded}" if value else key)
    return ",".join(pairs)


def _plan(
    size: int, streams: int, min_part: int, max_floor: int = PART_FLOOR_MAX
) -> list[tuple[int, int]]:
    """The parts of a parallel upload on ``streams`` connections: contiguous ranges, large
    first and shrinking towards the end (each ``1 / (2 × streams)`` of what is left, down to a
    floor of ``size / (16 × streams)`` kept between ``min_part`` and ``max_floor``).

    The connections take parts from a queue; when it runs dry, each finishes the part it has,
    and a connection that is slower than the others (on a lossy link one always is) would be
    left alone for the rest of a large part, filling a fraction of the link. Small last parts
    keep that tail short; large first ones keep the per-part round trips (a POST each) few.
    Measured on linkem (20 Mbit/s, 300 ms, 2 % loss, 100 MB, 4 streams): a floor of 1/16 gave
    0.78–0.81 of the link in 4 runs; 1/8 and 1/32 had runs with a 20 s tail (a starved stream
    holding a large part); 4 equal parts (before) 0.59–0.77. The floor's cap (``max_floor``):
    without it a 1 GiB file ended on 16 MiB parts, and the stream left alone with the rest of
    one (at a quarter of the link: a bbr sender's rate estimate grows slowly once the others
    stop) took 10 s at the end; the last parts of a file now take a few seconds at a quarter of
    a 20 Mbit/s link whatever the file's size."""
    if streams <= 1 or size < 2 * min_part:
        return [(0, size)]
    floor = max(min_part, min(max_floor, size // (16 * streams)))
    ranges = []
    start = 0
    while start < size:
        left = size - start
        n = max(floor, -(-left // (2 * streams)))
        if left - n < floor // 2:
            n = left  # no sliver at the end
        ranges.append((start, start + n))
        start += n
    return ranges


def _backoff(attempt: int) -> float:
    return float(min(4.0, 0.5 * 2 ** (attempt - 1)))


def tus_headers_for(url: str, endpoint: str, auth: dict[str, str]) -> dict[str, str]:
    """``Tus-Resumable`` and, when ``url`` is on ``endpoint``'s origin, the ``auth`` headers."""
    if same_origin(url, endpoint):
        return {"Tus-Resumable": TUS_VERSION, **auth}
    return {"Tus-Resumable": TUS_VERSION}


def still_held(
    session: requests.Session, url: str, endpoint: str, auth: dict[str, str]
) -> bool | None:
    """Whether the server still has the finished upload at ``url`` (one HEAD, with ``auth`` as
    ``tus_headers_for`` gives it): False for a 404 or 410 (deleted, expired, a server wiped),
    True for a 2xx, None when that could not be told (no answer, a proxy's, another status)."""
    try:
        r = session.head(
            url, headers=tus_headers_for(url, endpoint, auth), timeout=10, allow_redirects=False
        )
    except requests.RequestException:
        return None
    if proxy_answer(r) is not None:
        return None
    if r.status_code in (404, 410):
        return False
    return True if r.ok else None


def poll_outcome(
    url: str, ctx: TransferContext, timeout: float, endpoint: str
) -> tuple[str, str | None, str]:
    """HEAD ``url`` until the hub has published or failed the upload, or ``timeout`` seconds.

    Returns ``(state, item_id, error)`` from the hub's Alu-* headers (the last seen state if it
    is still processing; ``("", None, "")`` from a server that does not publish). Network errors
    are retried until the timeout; 401/403/404/410 raise ``PermanentError``."""
    deadline = time.monotonic() + timeout
    headers = tus_headers_for(url, endpoint, ctx.headers)
    tuning = ctx.tuning
    last: tuple[str, str | None, str] = ("", None, "")
    delay = 0.2
    while True:
        ctx.control.check()
        try:
            r = ctx.sessions.get(url, 0).head(
                url,
                headers=headers,
                timeout=(tuning.connect_timeout, min(tuning.stall_timeout, 10.0)),
                allow_redirects=False,
            )
        except requests.RequestException as e:
            ctx.log.debug("poll %s: %s", redact_url(url), type(e).__name__)
        else:
            if r.status_code in (404, 410):
                raise PermanentError("The hub no longer has this upload.")
            if r.status_code in (401, 403):
                _raise_for(r)
            if r.ok:
                if "Alu-Upload-State" not in r.headers:
                    return last
                last = _outcome(r)
                if last[0] in ("published", "failed"):
                    return last
        left = deadline - time.monotonic()
        if left <= 0:
            return last
        if ctx.control.wait(min(delay, left)):
            raise Stopped(ctx.control.reason)
        delay = min(delay * 1.5, 2.0)
