"""When a failed transfer is tried again, and what the user is told about it.

The jobs raise :class:`~alu_client.core.transfers.base.TransferError` subclasses that already
say whether a retry can help; :class:`RetryPolicy` turns those (and anything that escaped
unclassified) into a :class:`Decision` for the queue, with a delay from :class:`Backoff`.
"""

from __future__ import annotations

import errno
import math
import random
import re
import socket
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final

import requests
import urllib3.exceptions

from alu_client.core.transfers.base import (
    DiskFullError,
    Stopped,
    TransferError,
)

__all__ = [
    "Backoff",
    "Decision",
    "RetryPolicy",
    "http_date",
    "in_server_words",
    "parse_retry_after",
    "retry_after_of",
    "scrub",
    "user_message",
]

#: the longest a server's Retry-After is obeyed (a bogus "come back next year" must not
#: park a transfer for good)
MAX_RETRY_AFTER = 3600.0
#: how often a transfer paused for a full disk looks again for space
DISK_RECHECK_S = 30.0


# --- backoff ----------------------------------------------------------------------------------


@dataclass
class Backoff:
    """Exponential backoff with jitter: ``base * factor**(attempt-1)``, at most ``cap``.

    Jitter is "equal jitter" generalised by ``jitter`` (a fraction): the delay is drawn
    uniformly from ``[d * (1 - jitter), d]`` where ``d`` is the exponential value. With the
    default 0.5 half the delay is guaranteed, so the wait still grows about ×2 per attempt and
    reaches ``cap`` (5 min), while clients that failed together (a hub restart) spread out
    instead of returning in lock-step. ``jitter=1`` is AWS-style "full jitter"; 0 is none.
    (Decorrelated jitter was not used: it needs the previous delay, and the queue persists only
    the attempt count.)

    A server's ``retry_after`` is a floor: the delay is never shorter, even beyond ``cap``,
    up to ``max_retry_after`` (1 h)."""

    base: float = 1.0
    cap: float = 300.0
    factor: float = 2.0
    jitter: float = 0.5
    rng: random.Random = field(default_factory=random.Random)  # timing, not secrets
    max_retry_after: float = MAX_RETRY_AFTER

    def __post_init__(self) -> None:
        if not (0 < self.base <= self.cap) or not math.isfinite(self.cap):
            raise ValueError("Backoff needs 0 < base <= cap (both finite)")
        if not self.factor >= 1:
            raise ValueError("Backoff factor must be >= 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("Backoff jitter is a fraction between 0 and 1")
        if not self.max_retry_after >= 0:
            raise ValueError("max_retry_after must be >= 0")

    def nominal(self, attempt: int) -> float:
        """The delay before jitter for ``attempt`` (1, 2, 3, …)."""
        exponent = max(1, attempt) - 1
        try:
            raw = self.base * self.factor**exponent
        except OverflowError:
            return self.cap
        return min(self.cap, raw)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before ``attempt`` + 1, after ``attempt`` failures."""
        nominal = self.nominal(attempt)
        value = nominal * (1.0 - self.jitter * self.rng.random())
        if retry_after is not None and retry_after > 0:  # NaN compares False: ignored
            value = max(value, min(float(retry_after), self.max_retry_after))
        return value


# --- decisions --------------------------------------------------------------------------------

QUEUED = "queued"
FAILED = "failed"
PAUSED = "paused"
CANCELLED = "cancelled"


@dataclass(frozen=True)
class Decision:
    """What the queue does with a transfer after a failed attempt.

    ``state`` is ``"queued"`` (try again after ``delay``), ``"failed"`` (give up; the user may
    retry by hand) or ``"paused"`` (disk full: look again for space after ``delay``). A
    ``Stopped`` passed in by mistake gives ``"paused"`` or ``"cancelled"`` with retry False."""

    retry: bool
    delay: float
    state: str


#: errno values of an OSError that are the network's fault, so a retry can help
NETWORK_ERRNOS = frozenset(
    getattr(errno, name)
    for name in (
        "ECONNRESET",
        "ECONNABORTED",
        "ECONNREFUSED",
        "ETIMEDOUT",
        "EPIPE",
        "ENETDOWN",
        "ENETUNREACH",
        "ENETRESET",
        "EHOSTDOWN",
        "EHOSTUNREACH",
        "ENOTCONN",
        "ESHUTDOWN",
    )
    if hasattr(errno, name)
)
#: errno values that mean the disk (or the user's quota) is full
DISK_FULL_ERRNOS = frozenset(
    getattr(errno, name) for name in ("ENOSPC", "EDQUOT") if hasattr(errno, name)
)
#: HTTP statuses that heal with time (a requests.HTTPError that escaped a job)
RETRYABLE_STATUSES = frozenset({408, 423, 425, 429, 500, 502, 503, 504, 507})

_NETWORK_TYPES: tuple[type[BaseException], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.TimeoutError,
    ConnectionError,  # the built-in: reset, refused, aborted, broken pipe
    TimeoutError,
    socket.gaierror,  # name lookup failed: the network (or its DNS) is down
)


def _is_network(error: BaseException) -> bool:
    if isinstance(error, requests.exceptions.SSLError):
        return False  # a certificate problem needs a person, not a retry forever
    if isinstance(error, _NETWORK_TYPES):
        return True
    return isinstance(error, OSError) and error.errno in NETWORK_ERRNOS


#: SQLite's "database or disk is full" (the data folder's disk: the store cannot be written)
_SQLITE_FULL = 13


#: a transfer stopped because the library (on the data folder's disk) could not be written
MSG_DATA_DISK_FULL: Final = (
    "The disk that holds ALU Desk's data folder is full; the transfer goes on when there is "
    "space there again."
)


def _is_disk_full(error: BaseException) -> bool:
    return (
        isinstance(error, DiskFullError)
        or (isinstance(error, OSError) and error.errno in DISK_FULL_ERRNOS)
        or (
            isinstance(error, sqlite3.Error)
            and getattr(error, "sqlite_errorcode", None) == _SQLITE_FULL
        )
    )


class RetryPolicy:
    """Turns the error of a failed attempt into a :class:`Decision`.

    - ``DiskFullError`` (or an OSError ENOSPC/EDQUOT) → ``paused``; look again after
      ``disk_recheck_s`` (or the error's ``retry_after`` if longer).
    - ``PermanentError`` → ``failed`` at once (401/403, item gone, source deleted).
    - ``RetryableError`` and network errors that escaped unwrapped (requests connection errors
      and timeouts, ECONNRESET …) → ``queued``, forever, with backoff; ``retry_after`` honoured.
    - a ``requests.HTTPError`` → by status: 408/423/425/429/5xx queued, other 4xx failed.
    - anything else is a bug: ``queued`` with backoff until ``attempts`` reaches
      ``max_permanent_attempts``, then ``failed``. TLS certificate errors count here too.

    ``attempts`` is how many attempts have failed so far, this one included (1 after the
    first failure)."""

    def __init__(
        self,
        backoff: Backoff | None = None,
        max_permanent_attempts: int = 3,
        *,
        disk_recheck_s: float = DISK_RECHECK_S,
    ) -> None:
        if max_permanent_attempts < 1:
            raise ValueError("max_permanent_attempts must be at least 1")
        self.backoff = backoff if backoff is not None else Backoff()
        self.max_permanent_attempts = max_permanent_attempts
        self.disk_recheck_s = disk_recheck_s

    @property
    def longest_wait(self) -> float:
        """The longest delay a decision can give: the back-off's cap, a server's Retry-After
        as far as it is obeyed, a full disk's recheck (a stored retry time further away than
        this is a clock that was set back: ``TransferQueue`` waits this long at most)."""
        return max(self.backoff.cap, self.backoff.max_retry_after, self.disk_recheck_s)

    def decide(self, error: BaseException, attempts: int) -> Decision:
        attempts = max(1, attempts)
        if isinstance(error, Stopped):
            state = CANCELLED if error.reason == "cancel" else PAUSED
            return Decision(retry=False, delay=0.0, state=state)
        if _is_disk_full(error):
            wait = self.disk_recheck_s
            retry_after = getattr(error, "retry_after", None)
            if isinstance(retry_after, int | float) and retry_after > wait:
                wait = min(float(retry_after), self.backoff.max_retry_after)
            return Decision(retry=True, delay=wait, state=PAUSED)
        if isinstance(error, TransferError):
            if not error.retryable:  # PermanentError and any subclass saying so
                return Decision(retry=False, delay=0.0, state=FAILED)
            return self._again(attempts, error.retry_after)
        if isinstance(error, requests.HTTPError) and error.response is not None:
            status = error.response.status_code
            if status in RETRYABLE_STATUSES or status >= 500:
                return self._again(attempts, retry_after_of(error.response))
            if 400 <= status < 500:
                return Decision(retry=False, delay=0.0, state=FAILED)
        if _is_network(error):
            return self._again(attempts, None)
        if not isinstance(error, Exception):  # KeyboardInterrupt, SystemExit: never retried
            return Decision(retry=False, delay=0.0, state=FAILED)
        # A bug (or something not foreseen): a few tries, in case it was a passing state.
        if attempts >= self.max_permanent_attempts:
            return Decision(retry=False, delay=0.0, state=FAILED)
        return self._again(attempts, None)

    def _again(self, attempts: int, retry_after: float | None) -> Decision:
        return Decision(retry=True, delay=self.backoff.delay(attempts, retry_after), state=QUEUED)


# --- Retry-After ------------------------------------------------------------------------------

_SECONDS_RE = re.compile(r"^[0-9]+(?:\.[0-9]+)?$")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (RFC 9110 §10.2.3): delay-seconds or an
    HTTP-date. None when absent or unreadable; a date in the past gives 0, never less.
    A naive ``now`` (or date) is taken as UTC; without ``now``, the workstation's clock."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if _SECONDS_RE.match(text):
        seconds = float(text)
        return seconds if math.isfinite(seconds) else None
    when = http_date(text)
    if when is None:
        return None
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def retry_after_of(resp: requests.Response) -> float | None:
    """An answer's ``Retry-After`` in seconds. A date is measured against the answer's own
    ``Date`` (the server's clock) when it has one: a workstation clock an hour behind waited
    the hour for a "come back in 2 s", one ahead came straight back."""
    return parse_retry_after(
        resp.headers.get("Retry-After"), now=http_date(resp.headers.get("Date"))
    )


def http_date(raw: str | None) -> datetime | None:
    """An HTTP-date in any of RFC 9110's three forms (IMF-fixdate, RFC 850, asctime) as an
    aware UTC time; None when absent or unreadable. A date without a zone (asctime, or
    ``-0000``) is GMT, as the RFC says — not the workstation's zone."""
    if not raw:
        return None
    try:
        when = parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


# --- words for the user -----------------------------------------------------------------------

_URL_RE = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://([^\s/?#'\"<>]*)[^\s'\"<>]*")
_CREDENTIAL_RES = (
    re.compile(r"(?i)\b(?:authorization\s*[:=]\s*)?bearer\s+[^\s,;)'\"]+"),
    # "Token abc123…", "Basic dXNlcjpw…" (but not "Token expired": a credential has a digit
    # or punctuation, and some length)
    re.compile(
        r"(?i)\b(?:authorization\s*[:=]\s*)?(?:basic|token|digest)\s+"
        r"(?=[A-Za-z0-9._~+/=-]*[0-9._~+/=-])[A-Za-z0-9._~+/=-]{8,}"
    ),
    re.compile(r"(?i)\bauthorization\s*[:=]\s*[^\s,;)'\"]+"),
)
#: "?key=value…" left over outside a URL
_QUERY_RE = re.compile(r"\?[\w.~%-]+=[^\s'\"<>]*")
_SECRET_PARAM_RE = re.compile(
    r"(?i)\b((?:access_|refresh_|api_?|auth_?|id_)?(?:token|key|secret|password|passwd|sig"
    r"|signature|session|credential)s?)\s*[=:]\s*[^\s&,;'\"]+"
)
_BEARER_WORD_RE = re.compile(r"(?i)\bbearer\b")


def scrub(text: str) -> str:
    """Take out of a message what must not reach the screen: URLs (only the host is kept),
    query strings, auth headers and ``token=…``-like values. The app's own advice on proxy
    logins stays whole: its example address was cut to "proxy:3128", the wrong syntax."""
    from ..http import PROXY_CREDENTIALS_HINT as hint

    text = hint.join(_scrub(part) for part in text.split(hint))
    return re.sub(r"\s{2,}", " ", text).strip()


def _scrub(text: str) -> str:
    def host_only(match: re.Match[str]) -> str:
        netloc = match.group(1).rpartition("@")[2]  # never user:password@
        return netloc or "the server"

    text = _URL_RE.sub(host_only, text)
    for pattern in _CREDENTIAL_RES:
        text = pattern.sub("[credentials hidden]", text)
    text = _BEARER_WORD_RE.sub("[credentials hidden]", text)
    text = _QUERY_RE.sub("", text)
    return _SECRET_PARAM_RE.sub(lambda m: f"{m.group(1)}=[hidden]", text)


#: The engine's words for the ALU hub, said of any other server (``alu tus-put`` to tusd,
#: ``alu fetch`` from a CDN): the user must not look for a hub that is not there, nor tell an
#: agency that has nothing to do with the server (``alu fetch --sha256`` of a file that is not
#: the one expected: the checksum given may be the wrong one).
_ANY_SERVER_WORDS = (
    (  # upload.protocol's 403: no account is involved at a server that is no hub (a static
        # web server's 403 to a POST is no tus server at all)
        re.compile(r"\bThe hub refused the upload for this account: "),
        "The server refused the upload (is the address one for tus uploads? Check it and the "
        "credentials given): ",
    ),
    (re.compile(r"\bonce the agency has made room\b"), "once the server has room again"),
    (  # download.protocol.MSG_NOT_THE_FILE
        re.compile(r"\bNothing was kept; tell the agency\."),
        "Nothing was kept; check the checksum you gave, or tell whoever runs the server.",
    ),
    (  # base.MSG_ACCESS_REFUSED
        re.compile(
            r"\bSign in again, or ask the agency whether your newsroom may download this item\."
        ),
        "Check the credentials given, or ask whoever runs the server.",
    ),
    (re.compile(r"\bTell the agency\."), "Tell whoever runs the server."),  # MSG_COMPRESSED_AGAIN
    (re.compile(r"\bThe hub\b"), "The server"),
    (re.compile(r"\bthe hub\b"), "the server"),
)


def in_server_words(message: str) -> str:
    """``message`` said of a server that is not an ALU hub ("The hub's disk is full" →
    "The server's disk is full")."""
    for pattern, words in _ANY_SERVER_WORDS:
        message = pattern.sub(words, message)
    return message


def user_message(error: BaseException, *, will_retry: bool = True) -> str:
    """Plain words about ``error`` for the transfer list; never a URL, query or token.

    ``will_retry`` picks the ending for errors ALU Desk did not foresee ("… will be tried
    again" or "… has stopped")."""
    if isinstance(error, Stopped):
        return "Cancelled." if error.reason == "cancel" else "Paused."
    if isinstance(error, TransferError):
        message = scrub(error.message)
        if message:
            return message
    ending = (
        "the transfer will be tried again."
        if will_retry
        else "the transfer has stopped; you can try it again from the list."
    )
    if _is_disk_full(error):
        if isinstance(error, sqlite3.Error):
            # the library's (its checkpoints): the download folder's disk may have room, and
            # "The disk is full." left the user looking at that one
            return MSG_DATA_DISK_FULL
        return "The disk is full. The transfer resumes when there is space again."
    if isinstance(error, requests.exceptions.SSLError):
        return (
            "The hub's security certificate could not be checked (is the computer's date "
            f"right, or is a network login page in the way?); {ending}"
        )
    if isinstance(error, requests.Timeout | TimeoutError | urllib3.exceptions.TimeoutError):
        return f"The hub did not answer in time; {ending}"
    if _is_network(error):
        return f"The connection to the hub was lost; {ending}"
    if isinstance(error, requests.HTTPError) and error.response is not None:
        return f"The hub answered with an error ({error.response.status_code}); {ending}"
    kind = scrub(type(error).__name__) or "unknown error"
    return f"Something went wrong in ALU Desk ({kind}); {ending}"
