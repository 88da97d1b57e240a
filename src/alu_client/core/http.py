"""The one ``requests.Session`` flavour the client uses."""

from __future__ import annotations

import http.client
import ssl
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote, urlsplit, urlunsplit

import requests
import requests.adapters
import urllib3.connection
import urllib3.connectionpool
import urllib3.poolmanager

if TYPE_CHECKING:
    from requests.sessions import _Settings


class Session(requests.Session):
    """A session whose own CA bundle wins over the environment's.

    requests lets ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` replace ``session.verify`` on
    every request that does not pass ``verify`` itself, so a hub profile's custom CA bundle
    (a corporate proxy's, a self-signed hub's) would be silently ignored on machines that set
    those variables. Proxies from the environment still apply (``trust_env`` stays on)."""

    def merge_environment_settings(
        self,
        url: str | bytes | None,
        proxies: Any,
        stream: Any,
        verify: Any,
        cert: Any,
    ) -> _Settings:
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if verify is None and self.verify is not True:
            settings["verify"] = self.verify
        return settings


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of ``url``: what credentials are scoped to (RFC 6454)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def same_origin(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` are on one origin (a token for one is sent to the other)."""
    return origin(a) == origin(b)


#: where a proxy's user name and password go: the profile's proxy login (in the keyring, see
#: ``proxy_login``), or the system's setting, which requests reads
PROXY_CREDENTIALS_HINT = (
    "Give them with the profile's proxy (in the app's settings, or alu login --proxy "
    "http://user:password@proxy:3128; kept in the keyring) or in the system's proxy setting, or "
    "ask the network's administrator to let this computer through without one."
)


def split_userinfo(url: str) -> tuple[str, tuple[str, str] | None]:
    """``url`` without a ``user:password@`` and the (unquoted) user name and password that were
    in it, or ``(url, None)`` when it holds none."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    return urlunsplit(parts._replace(netloc=host)), (unquote(user), unquote(password))


def proxy_named(proxy: str) -> str:
    """ "The network's proxy", with its address when known."""
    return f"The network's proxy ({proxy})" if proxy else "The network's proxy"


def proxy_password_message(who: str, server: str) -> str:
    """A 407: ``who`` (the proxy) wants a user name and password to reach ``server``."""
    return (
        f"{who} wants a user name and password (HTTP 407) to reach {server}. "
        + PROXY_CREDENTIALS_HINT
    )


def proxy_answer(
    resp: requests.Response, *, server: str = "", proxy: str = "", not_the_servers: bool = False
) -> str | None:
    """When ``resp`` is an error that a proxy on the way made itself, not the server's answer,
    the sentence to show; else None. A proxy's own error is a 407 (only a proxy sends one), an
    answer carrying its marks (RFC 9209's ``Proxy-Status`` with an ``error``, squid's
    ``X-Squid-Error``), or, when the caller knows the answer is not the server's
    (``not_the_servers``: the hub words all its errors in JSON), any error below 500 on a
    request sent through a proxy. ``server`` names the server (default: the request URL's
    host), ``proxy`` the proxy the request went through (see ``proxy_for``), if known."""
    code = resp.status_code
    if code < 400:
        return None
    marked = "X-Squid-Error" in resp.headers or "error=" in resp.headers.get("Proxy-Status", "")
    known = bool(proxy) and not_the_servers and code < 500 and code != 429
    if code != 407 and not marked and not known:
        return None
    server = server or urlsplit(resp.url or "").hostname or "the server"
    who = proxy_named(proxy)
    if code == 407:
        return proxy_password_message(who, server)
    if code >= 500:
        return f"{who} could not reach {server} (HTTP {code}); trying again later."
    return (
        f"{who} refused to pass the request to {server} (HTTP {code}); check the proxy "
        "settings, or ask the network's administrator to let this computer reach it."
    )


def proxy_for(session: requests.Session, url: str) -> str:
    """The proxy ``session`` sends requests for ``url`` through (its own proxies, else the
    system's unless ``url``'s host is in ``no_proxy``), as ``scheme://host:port`` without any
    user name or password; "" when it goes direct."""
    proxies: dict[str, str] = {}
    if session.trust_env:
        proxies.update(requests.utils.get_environ_proxies(url))
    proxies.update({k: v for k, v in session.proxies.items() if v})
    chosen = requests.utils.select_proxy(url, proxies)
    if not chosen:
        return ""
    parts = urlsplit(chosen if "://" in chosen else f"http://{chosen}")
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def certificate_problem(error: BaseException) -> bool:
    """Whether ``error`` (from requests) is a refused certificate — not a TLS handshake cut by
    a flaky link, which is worth another try. A certificate does not fix itself: a person must
    (the date of the computer, a login page on the network, the profile's CA bundle)."""
    seen: set[int] = set()
    e: BaseException | None = error
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, ssl.SSLCertVerificationError):
            return True
        if "CERTIFICATE_VERIFY_FAILED" in str(e) or "certificate verify failed" in str(e):
            return True
        e = (
            e.__cause__
            or e.__context__
            or (e.args[0] if e.args and isinstance(e.args[0], BaseException) else None)
        )
    return False


CERTIFICATE_MESSAGE = (
    "The server's security certificate was refused (is the computer's date right, or is a "
    "network login page in the way? A network with its own certificate authority needs its "
    "CA bundle in the hub's profile)."
)


# --- interim answers ---------------------------------------------------------------------------

_MAX_INTERIM: Final = 20  # interim answers skipped before one request's final answer
_MAX_INTERIM_LINES: Final = 100
_MAX_LINE: Final = 65536


class _FinalResponse(http.client.HTTPResponse):
    """An answer that skips interim ones (1xx but 101: 102 Processing, 103 Early Hints) as
    http.client skips ``100 Continue``. RFC 9110 §15.2: a client must be able to parse one or
    more 1xx answers before the final one; http.client takes a 103 for the final answer, and
    the real one is left unread on the connection."""

    def _read_status(self) -> tuple[str, int, str]:
        for _ in range(_MAX_INTERIM):
            version, status, reason = super()._read_status()  # type: ignore[misc]
            if not 102 <= status < 200:  # 100: begin() skips it; 101: another protocol
                return version, status, reason
            for _line in range(_MAX_INTERIM_LINES):  # its header fields: not for us
                line = self.fp.readline(_MAX_LINE + 1)
                if len(line) > _MAX_LINE:
                    raise http.client.LineTooLong("interim header line")
                if line in (b"\r\n", b"\n", b""):
                    break
            else:
                raise http.client.HTTPException("too many interim header lines")
        raise http.client.HTTPException("too many interim answers")


class _HTTPConnection(urllib3.connection.HTTPConnection):
    response_class = _FinalResponse


class _HTTPSConnection(urllib3.connection.HTTPSConnection):
    response_class = _FinalResponse


class _HTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS: Final = {"http": _HTTPPool, "https": _HTTPSPool}


class TransferAdapter(requests.adapters.HTTPAdapter):
    """The transfers' adapter: its connections skip interim answers (see ``_FinalResponse``),
    directly and through an HTTP proxy."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if type(manager) is urllib3.poolmanager.ProxyManager:  # (not SOCKS: pools of its own)
            manager.pool_classes_by_scheme = _POOLS
        return manager
