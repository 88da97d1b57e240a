"""HubClient: the client's one way to talk to a hub's API (not to rendition bytes or tus —
those go through the transfer engine, which gets its headers from here).

One ``requests.Session`` per hub: kept-alive connections, connect and read timeouts on every
call, TLS verified (a custom CA bundle for corporate proxies), proxies from the profile or the
system. Answers are parsed into typed, validated records: a hub that answers garbage raises
``BadResponse`` and nothing half-read reaches the library. Every failure is a ``HubError`` with a
sentence a newsroom user can act on. The token lives only in memory here (the keyring holds it
between runs) and never appears in a message, a log line or a repr.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import math
import re
import socket
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.client import RemoteDisconnected
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from urllib3 import exceptions as urllib3_errors

from .. import __version__
from . import http
from .hub_types import (
    EVENTS_KEEPALIVE_S,
    EVENTS_READ_TIMEOUT_S,
    PRIORITIES,
    AuthError,
    BadResponse,
    ChangePage,
    Forbidden,
    HistoryPage,
    HubError,
    Item,
    ItemPage,
    Member,
    NoAnswer,
    NotFound,
    NotTls,
    PlainHttpRefused,
    ProxyRefused,
    RemoteEvent,
    Rendition,
    ServerError,
    SignIn,
    Skipped,
    TlsError,
    Unreachable,
    _Reader,
    parse_change_page,
    parse_history_page,
    parse_item,
    parse_item_page,
    parse_member,
    parse_remote_event,
    parse_rendition,
)
from .plain_text import one_line
from .transfers.retry import http_date, retry_after_of

__all__ = [
    "API",
    "EVENTS_KEEPALIVE_S",
    "EVENTS_READ_TIMEOUT_S",
    "MAX_JSON",
    "PRIORITIES",
    "SIGN_IN_PATIENCE_S",
    "AuthError",
    "BadResponse",
    "ChangePage",
    "Connection",
    "EventStream",
    "Forbidden",
    "HistoryPage",
    "HubClient",
    "HubError",
    "Item",
    "ItemPage",
    "Member",
    "NoAnswer",
    "NotFound",
    "NotTls",
    "PlainHttpRefused",
    "ProxyRefused",
    "RemoteEvent",
    "Rendition",
    "ServerError",
    "SignIn",
    "Skipped",
    "TlsError",
    "Unreachable",
    "normalize_url",
    "origin",
    "parse_change_page",
    "parse_history_page",
    "parse_item",
    "parse_item_page",
    "parse_member",
    "parse_remote_event",
    "parse_rendition",
]

log = logging.getLogger(__name__)

API = "/api/v1"
#: a bearer token as it can go in the Authorization header (RFC 6750 §2.1's b64token: no
#: space, CR/LF or character beyond ASCII), and at most this long (the hub's are 43)
_TOKEN_RE = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
MAX_TOKEN = 512
#: a sign-in refused for longer than this (seconds) is said "try again later", not in minutes
LONGEST_WAIT_SAID = 24 * 3600
#: a sign-in the hub does not answer (a link's outage of some seconds, a connection dropped by
#: a NAT or a proxy) is tried again for this long in all (seconds) before it is given up: one
#: try met a 10 s outage and failed with no advice, where the next, seconds later, went through
SIGN_IN_PATIENCE_S = 30.0
#: … each try waiting at most this long for the hub's answer (a sign-in takes it a second)
SIGN_IN_TRY_READ_S = 10.0
#: … and this long between two tries, at most (1 s, then doubling)
SIGN_IN_PAUSE_S = 4.0
#: the largest JSON answer read from a hub (a feed page of 500 items is well under 4 MiB)
MAX_JSON = 32 * 1024 * 1024


# --- the client ----------------------------------------------------------------------------------


#: the longest hub identity kept (the hub's are 32 hex digits)
MAX_HUB_ID = 64


def normalize_url(url: str) -> str:
    """``hub.example.org`` → ``https://hub.example.org``; drops a trailing ``/api/v1`` and
    slashes, so profiles compare equal whatever the user typed. Invisible formatting marks
    (direction isolates, word joiners: what an address copied out of a message may carry) are
    dropped: the address looked right and was refused."""
    u = "".join(c for c in url if unicodedata.category(c) != "Cf").strip()
    if "://" not in u:
        u = "https://" + u
    try:
        parts = urlsplit(u)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(u)
        # a mistyped scheme ("htp:/host") read as a host "htp" with no port, or a space in
        # it: never an address that is only unreachable
        if parts.netloc.endswith(":") or any(c.isspace() for c in u):
            raise ValueError(u)
        path = parts.path.rstrip("/")
        if path.endswith(API):
            path = path[: -len(API)]
        normal = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
        # where the password and the token go: one server, whichever way the address is read
        http.origin(normal)
    except ValueError:  # (http.BadAddress too: a port that is no port, a backslash, …)
        raise HubError(
            f"{url!r} is not a hub address; it looks like https://hub.example.org"
        ) from None
    return normal


#: (scheme, host, port) of an address as requests connects to it; ``BadAddress`` (a
#: ValueError) for one it cannot be trusted with (see ``http.origin``)
origin = http.origin


@dataclass(frozen=True)
class Connection:
    """How to reach one hub: a profile's settings. ``proxy`` may carry the proxy's login
    (``proxy_login.with_login``, in memory only), so it is left out of the repr."""

    url: str
    ca_bundle: str = ""
    proxy: str = field(default="", repr=False)
    allow_http: bool = False
    device: str = ""
    connect_timeout: float = 10.0
    read_timeout: float = 30.0


class HubClient:
    def __init__(self, conn: Connection, token: str | None = None) -> None:
        self.conn = conn
        self.url = normalize_url(conn.url)
        if self.url.startswith("http://") and not conn.allow_http:
            raise PlainHttpRefused(
                f"{self.url} is plain HTTP: passwords and footage would cross the network "
                "unencrypted. Use the hub's https:// address, or allow plain HTTP for this hub "
                "in its profile if your administrator says so."
            )
        self.api = self.url + API
        self._token = token
        self.session = http.Session()
        self.session.headers["User-Agent"] = f"ALU-Desk/{__version__}"
        self.session.verify = conn.ca_bundle or True
        if conn.proxy:
            self.session.proxies = {"http": conn.proxy, "https": conn.proxy}
            self.session.trust_env = False
        self._lock = threading.Lock()
        #: the hub's clock minus this workstation's (seconds), from the ``Date`` of its last
        #: answer that had one (None: none yet): what "now" is on the hub, whatever the
        #: workstation's clock says (the auto-download rules' "older than a day")
        self.clock_offset: float | None = None

    def __repr__(self) -> str:
        return f"HubClient({self.url!r}, signed_in={self._token is not None})"

    # --- token ------------------------------------------------------------------------------

    @property
    def signed_in(self) -> bool:
        return self._token is not None

    def set_token(self, token: str | None) -> None:
        self._token = token

    def has_token(self, token: str) -> bool:
        """This client signs in with ``token`` (compared here: the token is not handed out)."""
        return self._token == token

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def headers_for(self, url: str) -> dict[str, str]:
        """Headers for a transfer of ``url``: the token only goes to the hub itself, never to
        a CDN, S3 or any other host a rendition URL may point at. An address that is not a
        valid one (``http.origin``) gets none: the transfer says so itself."""
        return self.auth_headers() if http.same_origin(url, self.url) else {}

    @property
    def uploads_url(self) -> str:
        return f"{self.api}/uploads/"

    def close(self) -> None:
        self.session.close()

    # --- calls ------------------------------------------------------------------------------

    def sign_in(
        self,
        username: str,
        password: str,
        *,
        patience: float | None = None,
        on_retry: Callable[[int], None] | None = None,
    ) -> SignIn:
        """Sign in. A hub that cannot have had the request (``NoAnswer`` with ``sent`` False:
        a connect timeout, the link down) is asked again, for ``patience`` seconds in all
        (``SIGN_IN_PATIENCE_S`` by default), ``on_retry(try)`` told before each new try; a
        refused password, a proxy's or TLS refusal, an address where nothing listens are said
        at once. A request that may have reached the hub and met no answer (a read timeout, a
        connection dropped after it was made) is sent again once at most: the hub counts each
        try against the account's sign-in limit before it checks the password, and a mistyped
        one counted three times locked the account after four typos (twice at most now). A
        try whose answer was lost may leave an unused session on the hub (it expires as any
        other)."""
        body = {"username": username, "password": password, "device": self.conn.device}
        deadline = time.monotonic() + (SIGN_IN_PATIENCE_S if patience is None else patience)
        tries = 0
        resent = False  # a request the hub may have counted was sent again
        while True:
            tries += 1
            left = max(1.0, deadline - time.monotonic())
            timeout = (
                min(self.conn.connect_timeout, left),
                min(self.conn.read_timeout, SIGN_IN_TRY_READ_S, left),
            )
            try:
                data = self._call("POST", "/session", json=body, auth=False, timeout=timeout)
                break
            except NoAnswer as e:
                pause = min(SIGN_IN_PAUSE_S, 2.0 ** (tries - 1))
                # another try when the hub cannot have counted this one (once when it may
                # have), and when it has a second to be answered in before the deadline
                if (e.sent and resent) or time.monotonic() + pause + 1.0 > deadline:
                    raise NoAnswer(
                        f"The hub at {self.url} did not answer in time. Check the "
                        "workstation's connection (or the proxy), then try again."
                    ) from None
                resent = resent or e.sent
                log.info("sign-in: %s; trying again in %.0f s", e, pause)
                if on_retry is not None:
                    on_retry(tries + 1)
                time.sleep(pause)
        r = _Reader(data, "sign-in answer")
        expires = r.when("expires_at")
        assert expires is not None
        token = r.text("token", max_len=MAX_TOKEN)
        if not _TOKEN_RE.fullmatch(token):
            # taken, every call failed after "Signed in": "cannot be reached (InvalidHeader)",
            # Python's "'latin-1' codec can't encode …", or "Not signed in" for an empty one
            raise r._bad("token")
        self._token = token
        hub_id = r.d.get("hub_id")  # (an older hub has none)
        return SignIn(
            token=token,
            expires_at=expires,
            member=parse_member(r.d.get("member")),
            hub_id=hub_id[:MAX_HUB_ID] if isinstance(hub_id, str) else "",
        )

    def sign_out(self) -> None:
        """Revoke the token on the hub (best effort: the caller forgets it whatever happens)."""
        try:
            if self._token:
                self._call("DELETE", "/session")
        finally:
            self._token = None

    def me(self) -> Member:
        return parse_member(self._call("GET", "/me"))

    def current_client_version(self) -> str:
        return _Reader(self._call("GET", "/client"), "client info").text("current_version")

    def items(self, after: int = 0, limit: int = 100) -> ItemPage:
        return parse_item_page(self._call("GET", "/items", params={"after": after, "limit": limit}))

    def item_changes(self, after: int = 0, limit: int = 100) -> ChangePage:
        """The items the agency corrected or withdrew after change number ``after``, each
        once at its current state (``NotFound`` from a hub older than withdrawals)."""
        data = self._call("GET", "/items/changes", params={"after": after, "limit": limit})
        return parse_change_page(data)

    def answers(self) -> None:
        """Whether the hub itself answers, at once: a page of at most one item, waited for no
        longer than one keep-alive period (``EVENTS_READ_TIMEOUT_S`` / 2.5). Asked when the
        event stream went silent: a hub that answers this is there, and what held its stream
        back is on the way (a proxy that buffers responses). Raises ``HubError`` otherwise."""
        wait = EVENTS_READ_TIMEOUT_S / 2.5
        timeout = (min(self.conn.connect_timeout, wait), wait)
        self._call("GET", "/items", params={"after": 0, "limit": 1}, timeout=timeout)

    def item(self, item_id: str) -> Item:
        return parse_item(self._call("GET", f"/items/{item_id}"))

    def post_history(self, events: list[dict[str, Any]], sent_at: dt.datetime) -> tuple[int, int]:
        """Send a batch; returns (accepted, duplicates). The hub stores each event id once."""
        body = {"events": events, "sent_at": sent_at.isoformat()}
        r = _Reader(self._call("POST", "/history", json=body), "history answer")
        return r.integer("accepted"), r.integer("duplicates")

    def history(self, after: int = 0, limit: int = 500) -> HistoryPage:
        data = self._call("GET", "/history", params={"after": after, "limit": limit})
        return parse_history_page(data)

    def events(self, after: int | None) -> EventStream:
        """Open the SSE stream of new items (``after`` a seq; None = from now)."""
        params = {"after": after} if after is not None else {}
        resp = self._send(
            "GET",
            "/events",
            params=params,
            stream=True,
            headers={"Accept": "text/event-stream"},
            # the hub sends a keep-alive every EVENTS_KEEPALIVE_S: a stream silent for
            # longer than a late or lost one explains is a hub that no longer answers
            timeout=(self.conn.connect_timeout, EVENTS_READ_TIMEOUT_S),
        )
        if resp.status_code != 200:
            try:
                self._raise_for(resp, auth=True)
            finally:
                resp.close()
        if not resp.headers.get("Content-Type", "").startswith("text/event-stream"):
            resp.close()
            raise BadResponse("The hub's live feed answered with something else than events.")
        return EventStream(resp, self.url)

    # --- plumbing ---------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        auth: bool = True,
        timeout: tuple[float, float] | None = None,
        headers: dict[str, str] | None = None,
        **kw: Any,
    ) -> requests.Response:
        h = dict(headers or {})
        if auth:
            if not self._token:
                raise AuthError("Not signed in to this hub; sign in first.")
            h.update(self.auth_headers())
        try:
            resp = self.session.request(
                method,
                self.api + path,
                headers=h,
                timeout=timeout or (self.conn.connect_timeout, self.conn.read_timeout),
                # An API call never redirects; following one could carry the token elsewhere.
                allow_redirects=False,
                **kw,
            )
            self._note_clock(resp)
            return resp
        except requests.exceptions.SSLError as e:
            if http.not_tls(e):
                # a port for plain http (the hub's address is http://), or a network login
                # page: no certificate is involved, and a CA bundle mends nothing
                raise NotTls(
                    f"The server at {self.url} did not answer in TLS (https): is its port one "
                    "for plain http, or is a network login page in the way? Check the hub "
                    "address."
                ) from None
            if not http.certificate_problem(e):
                # a handshake cut on the way (a flaky link, a middlebox): worth another try
                raise NoAnswer(
                    f"The secure connection to the hub at {self.url} failed; check the network "
                    "and the address.",
                    sent=False,
                ) from None
            reason = http.certificate_reason(e)
            raise TlsError(
                f"The hub's certificate at {self.url} could not be verified ({reason}). If "
                "your network uses its own certificate authority, set its CA bundle in the "
                "hub's profile.",
                reason=reason,
            ) from None
        except requests.exceptions.ProxyError as e:
            proxy = http.proxy_for(self.session, self.url)
            if http.proxy_certificate_problem(e):  # the proxy's own, not the hub's
                said = (
                    f"The security certificate of the network's proxy ({proxy}) could not be "
                    f"verified, so the hub at {self.url} was not reached. If your network uses "
                    "its own certificate authority, add it to the system's certificate store, "
                    "or set a CA bundle in the hub's profile that holds it and the hub's "
                    "authority."
                    if proxy
                    else "The security certificate of the network's proxy could not be "
                    f"verified, so the hub at {self.url} was not reached. If your network uses "
                    "its own certificate authority, add it to the system's certificate store, "
                    "or set a CA bundle in the hub's profile that holds it and the hub's "
                    "authority."
                )
                raise TlsError(said, proxy=proxy) from None
            status = http.tunnel_status(e)
            if status is None:
                raise Unreachable(
                    f"{http.proxy_named(proxy)} cannot be reached; check the proxy settings."
                ) from None
            who = http.proxy_named(proxy)
            said = (
                http.proxy_password_message(
                    who,
                    f"the hub at {self.url}",
                    given=http.proxy_login_given(self.session, self.url),
                )
                if status == 407
                else f"{who} refused the connection to {self.url} (HTTP {status}); check the "
                "proxy settings, or ask the network's administrator to let this computer reach "
                "the hub."
            )
            raise ProxyRefused(said, status=status, proxy=proxy) from None
        except requests.exceptions.Timeout as e:
            raise NoAnswer(
                f"The hub at {self.url} did not answer in time.",
                sent=not isinstance(e, requests.exceptions.ConnectTimeout),
            ) from None
        except requests.exceptions.ConnectionError as e:
            if _not_http(e):
                raise BadResponse(
                    f"The server at {self.url} answered with something that is not HTTP a hub "
                    "would send; check the hub address, or whether a proxy is in the way."
                ) from None
            # dropped on the way (a flaky link, a NAT forgetting it), not refused: NoAnswer,
            # worth another try at once (a sign-in does)
            kind = NoAnswer if _dropped(e) else Unreachable
            raise kind(
                f"The hub at {self.url} cannot be reached; check the network and the address."
            ) from None
        except requests.exceptions.RequestException as e:
            raise Unreachable(
                f"The hub at {self.url} cannot be reached ({type(e).__name__})."
            ) from None

    def _note_clock(self, resp: requests.Response) -> None:
        """Keep the hub's clock offset from an answer's ``Date`` (whole seconds: the half
        second it truncates is added back)."""
        when = http_date(str(resp.headers.get("Date", "")))
        if when is not None:
            self.clock_offset = when.timestamp() + 0.5 - time.time()

    def _call(self, method: str, path: str, *, auth: bool = True, **kw: Any) -> Any:
        resp = self._send(method, path, auth=auth, stream=True, **kw)
        try:
            if resp.status_code >= 300:
                self._raise_for(resp, auth=auth)
            if resp.status_code == 204:
                return None
            return _read_json(resp, self.url)
        finally:
            resp.close()

    def _raise_for(self, resp: requests.Response, *, auth: bool) -> None:
        status = resp.status_code
        code, hub_message = _hub_error(resp)
        said = None
        if not code:  # not the hub's own answer (the hub words all its errors in JSON)
            said = http.proxy_answer(
                resp,
                server=f"the hub at {self.url}",
                proxy=http.proxy_for(self.session, self.url),
                not_the_servers=True,
            )
        if said is not None:
            if status >= 500:
                raise ServerError(said, status=status, retry_after=_retry_after(resp))
            raise ProxyRefused(said, status=status, proxy=http.proxy_for(self.session, self.url))
        if 300 <= status < 400:
            raise BadResponse(
                f"The hub at {self.url} answered with a redirect to "
                f"{resp.headers.get('Location', 'elsewhere')}; check the hub address.",
                status=status,
            )
        if status == 401:
            if not auth:
                raise AuthError("The hub refused the user name or password.", status=status)
            raise AuthError("Your session with the hub has ended; sign in again.", status=status)
        if status == 403:
            raise Forbidden(
                hub_message or "The hub does not allow this account to do that.",
                status=status,
                code=code,
            )
        if status == 404:
            raise NotFound(hub_message or "The hub does not have that.", status=status)
        if status == 429 and not auth:
            wait = _retry_after(resp)
            # (a valid Retry-After of forty 9s said "try again in 1666…, 39 digits, minute(s)")
            when = (
                f"in {max(1, math.ceil(wait / 60))} minute(s)"
                if wait is not None and wait <= LONGEST_WAIT_SAID
                else "later"
            )
            raise HubError(
                f"Too many failed sign-ins for this user or this network; try again {when}.",
                status=status,
            )
        if status == 501:
            # "not implemented": a hub implements all it is asked; a web server that is none
            # (python's http.server to a POST) answers so every time
            raise BadResponse(
                f"The server at {self.url} does not take this request (HTTP 501), as a hub "
                "would; check the hub address.",
                status=status,
            )
        if (status == 429 or status >= 500) and not auth:
            # a sign-in is not tried again by itself (it said "trying again later", and the
            # command ended)
            raise ServerError(
                f"The hub at {self.url} is busy or failing (HTTP {status}); try again later.",
                status=status,
                retry_after=_retry_after(resp),
            )
        if status == 429 or status >= 500:
            raise ServerError(
                f"The hub at {self.url} is busy or failing (HTTP {status}); trying again later.",
                status=status,
                retry_after=_retry_after(resp),
            )
        message = hub_message or f"The hub refused the request (HTTP {status})."
        raise HubError(message, status=status, code=code)


class EventStream:
    """Server-sent events of new items. Iterate for items; ``close()`` from any thread ends
    the iteration (the read in progress fails and the iterator stops)."""

    def __init__(self, resp: requests.Response, url: str = "") -> None:
        self._resp = resp
        self.url = url
        self.last_id: int | None = None
        self.retry_ms: int | None = None
        self._closed = False
        #: called (on the reading thread) when the hub says items changed (an event named
        #: ``change``: an item corrected or withdrawn): the changes are read then
        self.on_change: Callable[[], None] | None = None

    def close(self) -> None:
        """End the stream, also from another thread. On Linux closing a socket does not wake a
        ``recv`` already blocked on it (that would wait for the next keep-alive, up to 15 s, or
        the read timeout), so the socket is shut down first, which does."""
        self._closed = True
        raw = getattr(self._resp, "raw", None)
        sock = getattr(getattr(raw, "_connection", None), "sock", None)
        if sock is None:  # urllib3 without the connection at hand: through http.client's file
            fp = getattr(getattr(raw, "_fp", None), "fp", None)
            sock = getattr(getattr(fp, "raw", None), "_sock", None)
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._resp.close()

    def __iter__(self) -> Iterator[Item]:
        event, last = "message", None
        data: list[str] = []
        size = 0  # of the event being read: its data lines may not grow without end either
        try:
            chunks = self._resp.iter_content(chunk_size=1024, decode_unicode=False)
            for raw in _sse_lines(chunks, MAX_JSON):
                line = raw.decode("utf-8", "replace")
                if not line:
                    if data and event == "item":
                        yield parse_item(_loads("\n".join(data)))
                        if last is not None and http.is_number(last):
                            self.last_id = int(last)
                    elif event == "change" and self.on_change is not None:
                        self.on_change()
                    event, data, size = "message", [], 0
                    continue
                if line.startswith(":"):
                    continue
                name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name == "event":
                    event = value
                elif name == "data":
                    size += len(raw) + 1
                    if size > MAX_JSON:
                        raise BadResponse("The hub's live feed sent an oversized event.")
                    data.append(value)
                elif name == "id":
                    last = value
                elif name == "retry" and http.is_number(value):
                    self.retry_ms = int(value)
        except (requests.exceptions.RequestException, AttributeError, ValueError, OSError) as e:
            if self._closed:
                return
            if _timed_out(e):
                # nothing for EVENTS_READ_TIMEOUT_S, keep-alives included: not a stream a
                # proxy ended, a hub (or a link) that stopped answering
                raise NoAnswer(
                    f"The hub at {self.url or 'this address'} stopped answering; reconnecting."
                ) from None
            raise Unreachable("The hub's live feed was cut off.") from None
        finally:
            self._resp.close()


_EOL = re.compile(rb"\r\n|\r|\n")


def _sse_lines(chunks: Iterable[bytes], limit: int) -> Iterator[bytes]:
    """The lines of an event stream (ended by CRLF, LF or CR), without their ends. A line
    longer than ``limit`` raises ``BadResponse`` as soon as that many bytes are buffered: a
    hub that never ends a line must not fill the memory (``iter_lines`` would keep it all)."""
    pending = bytearray()
    after_cr = False  # the last chunk ended with CR: a LF opening the next one belongs to it
    for chunk in chunks:
        if after_cr and chunk[:1] == b"\n":
            chunk = chunk[1:]
        after_cr = False
        start = 0
        for m in _EOL.finditer(chunk):
            pending += chunk[start : m.start()]
            if len(pending) > limit:
                break
            yield bytes(pending)
            pending.clear()
            start = m.end()
            after_cr = m.group() == b"\r" and start == len(chunk)
        else:
            pending += chunk[start:]
        if len(pending) > limit:
            raise BadResponse("The hub's live feed sent an oversized event.")
    if pending:
        yield bytes(pending)


def _not_http(error: BaseException) -> bool:
    """True when a connection error is the server's doing: an answer http.client cannot take
    (no status line, more than 100 headers, a header line over 256 KiB), not a connection lost
    before any answer came."""
    return http.not_http(error)


def _causes(error: BaseException) -> Iterator[BaseException]:
    """``error`` and what it wraps (requests and urllib3 carry the cause in their arguments)."""
    seen: set[int] = set()
    e: BaseException | None = error
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        yield e
        inner = [a for a in e.args if isinstance(a, BaseException)]
        e = inner[0] if inner else (e.__cause__ or e.__context__)


def _timed_out(error: BaseException) -> bool:
    """A read that waited its whole timeout (``requests`` words it as a ConnectionError
    while a body streams)."""
    return any(
        isinstance(e, TimeoutError | requests.exceptions.Timeout | urllib3_errors.TimeoutError)
        for e in _causes(error)
    )


def _dropped(error: BaseException) -> bool:
    """A connection reset or closed by the way before an answer, not one refused (nothing
    listens there) nor a name that does not resolve (a mistyped address)."""
    return any(
        isinstance(
            e, ConnectionResetError | ConnectionAbortedError | BrokenPipeError | RemoteDisconnected
        )
        for e in _causes(error)
    )


def _loads(text: str | bytes) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise BadResponse("The hub answered with something that is not ALU data.") from None


def _read_json(resp: requests.Response, url: str) -> Any:
    ctype = resp.headers.get("Content-Type", "")
    if "json" not in ctype:
        raise BadResponse(
            f"The hub at {url} answered with {ctype or 'no content type'}, not ALU data; "
            "a proxy or a wrong address may be in the way."
        )
    declared = resp.headers.get("Content-Length")
    if declared and http.is_number(declared) and int(declared) > MAX_JSON:
        raise BadResponse(f"The hub at {url} sent an answer too large to be ALU data.")
    body = bytearray()
    try:
        for chunk in resp.iter_content(64 * 1024):
            body += chunk
            if len(body) > MAX_JSON:
                raise BadResponse(f"The hub at {url} sent an answer too large to be ALU data.")
    except requests.exceptions.RequestException:
        raise Unreachable(f"The connection to the hub at {url} broke during an answer.") from None
    return _loads(bytes(body))


def _hub_error(resp: requests.Response) -> tuple[str, str]:
    """The hub's ``{"error": {"code": …, "message": …}}``, when it sent one (else empty). The
    message is the hub's own text, said to the user as the error: one line, without the
    controls a terminal would obey (an ESC sequence, a CR and LF forging an "alu:" line)."""
    if "json" not in resp.headers.get("Content-Type", ""):
        return "", ""
    try:
        raw = resp.raw.read(64 * 1024, decode_content=True)
        error = json.loads(raw)["error"]
        code, msg = error.get("code", ""), error["message"]
    except (ValueError, KeyError, TypeError, AttributeError, OSError, requests.RequestException):
        return "", ""
    words = one_line(msg)[:500] if isinstance(msg, str) else ""
    return (code[:64] if isinstance(code, str) else ""), words


def _retry_after(resp: requests.Response) -> float | None:
    """Seconds, or a date measured against the answer's Date (a proxy's 503 may send one)."""
    return retry_after_of(resp)
