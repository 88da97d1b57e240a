"""Servers that do not answer: one probe stands for all the transfers queued to each.

While a server (an origin: ``scheme://host:port`` as requests connects to it) cannot be
reached — an attempt to it failed before any answer: a refused connection, a connect
timeout, a name that does not resolve, no route, a connection closed or reset before the
answer, no answer at all within the stall timeout — the transfers queued to it no longer
each try again on their own back-off: 200 queued downloads with the hub down made ~1,200
attempts in the first 30 s, each a refused connect or, through a black-holed route, a
connect timeout. One light request stands for them all: a HEAD of the origin's "/" through
the transfers' own session (its proxies, its CA bundle, its kept-alive connections), on a
back-off of its own (``PROBE_FIRST_S`` growing to ``PROBE_LONGEST_S``, jittered). Any HTTP
answer from the server counts — not a proxy's 502/503/504 given in its place — and the
transfers waiting for it go at once, in their order, within the caps (``TransferQueue``).
A stall or a cut in the middle of a body is not the server out of reach (it answered): the
transfer's own back-off handles it, and its next attempt finds out.
"""

from __future__ import annotations

import errno
import http.client
import logging
import os
import socket
import ssl
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3.exceptions

from .. import http as alu_http
from .retry import Backoff

log = logging.getLogger(__name__)

#: the first probe of a server that stopped answering comes after 1-2 s (jittered) ...
PROBE_FIRST_S = 2.0
#: ... each next one after about twice as long, up to 15-30 s: a server that answers again is
#: found within that (the transfers' own back-off had grown to 5 minutes)
PROBE_LONGEST_S = 30.0
#: "FIRST[,LONGEST]" in seconds: the probe's back-off for this process (tests, diagnostics)
PROBE_ENV = "ALU_ORIGIN_PROBE_S"

#: errno values of a connect that did not reach the server
_UNREACHED_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("ECONNREFUSED", "ENETUNREACH", "EHOSTUNREACH", "ENETDOWN", "EHOSTDOWN")
    if hasattr(errno, name)
)
#: what a proxy says in the server's place when it could not reach it
_PROXY_FAILED = frozenset({502, 503, 504})
#: the errors of a request: an ``OSError`` counts for the server only under one of these
_NETWORK_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError)


def probe_backoff(env: Mapping[str, str] | None = None) -> Backoff:
    """The probe's back-off: ``PROBE_FIRST_S`` to ``PROBE_LONGEST_S``, or as ``PROBE_ENV``
    says (a value that is not one is ignored, and said in the log)."""
    first, longest = PROBE_FIRST_S, PROBE_LONGEST_S
    raw = (os.environ if env is None else env).get(PROBE_ENV, "").strip()
    if raw:
        try:
            values = [float(v) for v in raw.split(",")]
            if not 1 <= len(values) <= 2:
                raise ValueError(raw)
            return Backoff(base=values[0], cap=values[-1] if len(values) == 2 else values[0])
        except ValueError:
            log.warning("%s=%r is not FIRST[,LONGEST] in seconds; ignored", PROBE_ENV, raw)
    return Backoff(base=first, cap=longest)


def origin_of(url: str) -> str | None:
    """``scheme://host:port`` of the server requests connects to for ``url`` (the default
    port written out, the host in lower case); None for an address that is not a valid one
    (its transfer is never held: it fails by itself)."""
    try:
        scheme, host, port = alu_http.origin(url)
    except alu_http.BadAddress:
        return None
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def probe_url(url: str) -> str:
    """The origin's "/" as ``url`` writes it (so that the probe goes through the transfers'
    own session, ``SessionPool`` keys them by the address's text), without a user name."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], "/", "", ""))


@dataclass
class Down:
    """A server that did not answer: when its next probe is due (on ``queue.steady()``)."""

    due: float
    #: probes made that got no answer
    probes: int = 0
    probing: bool = False


def _causes(error: BaseException) -> Iterator[tuple[BaseException, bool]]:
    """``error`` and what it came from, nearest first: what it was raised from or while
    handling (a job's message raised ``from None`` still has its context), a wrapper's first
    argument (requests wraps urllib3's errors), a urllib3 ``MaxRetryError``'s reason. Each with
    whether it came from a request: it is, or is a cause of, an error of requests or urllib3
    (an ``OSError`` outside one is a file's: a download folder or an upload's source on a
    share that went away says "host is down" too, and the server is not the matter)."""
    seen: set[int] = set()
    todo: list[tuple[BaseException, bool]] = [(error, False)]
    while todo:
        e, under = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        under = under or isinstance(e, _NETWORK_ERRORS)
        yield e, under
        for nxt in (e.__cause__, e.__context__, getattr(e, "reason", None), *e.args[:2]):
            if isinstance(nxt, BaseException):
                todo.append((nxt, under))


def _verdict(e: BaseException, requested: bool) -> bool | None:
    """True: ``e`` is a failure to reach the server; False: the server was reached (or it is
    no network matter); None: ``e`` alone does not tell. ``requested``: ``e`` came from a
    request (``_causes``); a bare ``OSError`` that did not is a file's, never the server's."""
    if isinstance(e, ssl.SSLError | urllib3.exceptions.SSLError | requests.exceptions.SSLError):
        return False  # it answered, in TLS; a certificate wants a person, not a probe
    if isinstance(e, requests.exceptions.ReadTimeout):
        # a request that got no answer at all in the stall timeout: a server that accepts
        # connections and answers nothing (hung, or a middlebox that swallows them) holds
        # each attempt that long, as a black-holed route does with its connect
        return True
    if isinstance(
        e,
        urllib3.exceptions.ReadTimeoutError
        | requests.exceptions.ChunkedEncodingError
        | http.client.IncompleteRead,
    ):
        return False  # a stall or a cut in the middle of an answer: it was reached
    if isinstance(e, urllib3.exceptions.ProtocolError):
        # "Connection aborted.": closed or reset before any answer (a server that accepts and
        # drops, a firewall's reset); "Connection broken: …": in the middle of one
        return bool(e.args) and str(e.args[0]).startswith("Connection aborted")
    if isinstance(
        e,
        requests.exceptions.ConnectTimeout
        | requests.exceptions.ProxyError
        | urllib3.exceptions.ConnectTimeoutError
        | urllib3.exceptions.NewConnectionError  # (NameResolutionError too)
        | urllib3.exceptions.ProxyError,
    ):
        return True
    if not requested:
        return None
    if isinstance(e, socket.gaierror | ConnectionRefusedError):
        return True
    if isinstance(e, OSError) and e.errno in _UNREACHED_ERRNOS:
        return True
    return None


def out_of_reach(error: BaseException, origin: str) -> bool:
    """Whether ``error``, a failed attempt's, says that ``origin`` could not be reached: a
    request to it (not to another server it sent the transfer to) failed before any
    answer."""
    if alu_http.certificate_problem(error) or alu_http.not_tls(error):
        return False  # (an https:// proxy's too, which requests calls a ProxyError)
    verdict: bool | None = None
    url = ""
    for e, requested in _causes(error):
        if not url and isinstance(e, requests.RequestException):
            request = getattr(e, "request", None)
            url = str(getattr(request, "url", "") or "")
        if verdict is None:
            verdict = _verdict(e, requested)
    if not verdict:
        return False
    return not url or origin_of(url) == origin


def answers(session: requests.Session, url: str, connect_timeout: float, timeout: float) -> bool:
    """Whether the server of ``url`` answers a HEAD of ``url`` on ``session``: any HTTP answer
    but a proxy's 502/503/504 (a plain http:// request through a proxy; an https:// one's
    tunnel refused raises a ``ProxyError``); a certificate refused, or no TLS there — the
    server's or an https:// proxy's — counts as an answer (the transfers then say what is
    wrong, which no wait mends)."""
    try:
        r = session.head(url, timeout=(connect_timeout, timeout), allow_redirects=False)
    except requests.RequestException as e:
        # (an https:// proxy's certificate refused is a ProxyError: it wants a person too)
        return alu_http.certificate_problem(e) or alu_http.not_tls(e)
    except (OSError, ValueError):
        return False
    r.close()
    if r.status_code in _PROXY_FAILED and urlsplit(url).scheme.lower() == "http":
        return not alu_http.proxy_for(session, url)
    return True
