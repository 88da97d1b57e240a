"""The one ``requests.Session`` flavour the client uses."""

from __future__ import annotations

import contextlib
import functools
import http.client
import os
import re
import ssl
import threading
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

import idna
import requests
import requests.adapters
import requests.utils
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions
import urllib3.poolmanager
import urllib3.util

if TYPE_CHECKING:
    from requests.sessions import _Settings


_TRUST_LOCK = threading.Lock()


def system_trust() -> ssl.SSLContext | None:
    """``_system_trust()``, made once: a download's first connections ask for it together, on
    their own threads, and each read the whole store again (20–50 ms each, in turn, for the
    GIL)."""
    with _TRUST_LOCK:
        return _system_trust()


@functools.cache
def _system_trust() -> ssl.SSLContext | None:
    """The TLS context that checks a server's certificate with the operating system's trust
    store — the Windows certificate store, the macOS Keychain, OpenSSL's store on Linux (its
    ``SSL_CERT_FILE``/``SSL_CERT_DIR``) — where IT puts a network's own authority (a TLS
    inspecting firewall's, a company CA), by Group Policy or MDM. requests alone trusts only
    certifi's bundle, shipped with the app: such a network could not be used although the
    browser could. Certifi's authorities are trusted beside the system's (a Linux without a
    store, an outdated one). One context for the process (``truststore``); None without it."""
    try:
        import truststore
    except ImportError:  # (a dependency: only a broken install lacks it)
        return None
    context = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(requests.utils.DEFAULT_CA_BUNDLE_PATH)
    return context


class TrustAdapter(requests.adapters.HTTPAdapter):
    """An adapter whose https:// connections trust the system's store (``system_trust``) when
    no CA bundle is given (``verify=True``). A bundle given — a profile's, ``REQUESTS_CA_BUNDLE``,
    ``SSL_CERT_FILE`` — is the only one trusted, as before."""

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: bool | str, cert: Any = None
    ) -> Any:  # (requests' typed dicts, which hold no ssl_context of ours)
        host, pool = super().build_connection_pool_key_attributes(request, verify, cert)
        context = system_trust() if verify is True and host.get("scheme") == "https" else None
        if context is not None:
            pool["ssl_context"] = context
        return host, pool

    def cert_verify(self, conn: Any, url: str, verify: bool | str, cert: Any) -> None:
        super().cert_verify(conn, url, verify, cert)  # type: ignore[no-untyped-call]
        if verify is not True or not url.lower().startswith("https:"):
            return  # (nothing to trust for http://: the store is not even read)
        context = system_trust()
        if context is not None and conn.conn_kw.get("ssl_context") is context:
            # requests names certifi's file for every request, which urllib3 then reads into
            # the context at every connection: it is in there already
            conn.ca_certs = None
            conn.ca_cert_dir = None

    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: bool | str | None,
        proxies: Mapping[str, str] | None = None,
        cert: Any = None,
    ) -> Any:
        """The TLS to an https:// proxy, for an https:// address's tunnel, trusts what the
        server's does (``system_trust``: the system's store and certifi's): urllib3 gives the
        pool's context only to a proxy that forwards, and ``cert_verify`` took certifi's file
        out, so the proxy's certificate was checked against OpenSSL's default store alone
        (empty on macOS: every such proxy refused). A CA bundle given, or no check, is left
        to requests, as for the server."""
        proxy = requests.utils.select_proxy(request.url or "", proxies)
        if (
            verify is not True
            or not proxy
            or not proxy.lower().startswith("https://")
            or not urllib3.util.parse_url(proxy).host
            or urlsplit(request.url or "").scheme.lower() != "https"
            or (context := system_trust()) is None
        ):
            return super().get_connection_with_tls_context(request, verify, proxies, cert)
        try:
            host, pool = self.build_connection_pool_key_attributes(request, verify, cert)
        except ValueError as e:
            raise requests.exceptions.InvalidURL(e, request=request) from e
        manager = self.proxy_manager_for(proxy)  # (one with a scheme: as requests has it)
        pool = {**pool, "_proxy_config": manager.proxy_config._replace(ssl_context=context)}
        return manager.connection_from_host(**host, pool_kwargs=pool)


class Session(requests.Session):
    """A session whose own CA bundle wins over the environment's, and that trusts the system's
    certificate store when it has none (``TrustAdapter``).

    requests lets ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` replace ``session.verify`` on
    every request that does not pass ``verify`` itself, so a hub profile's custom CA bundle
    (a corporate proxy's, a self-signed hub's) would be silently ignored on machines that set
    those variables. Proxies from the environment still apply (``trust_env`` stays on).

    And a redirect to an address that is not a valid one (``origin``) is not followed: the
    answer is given back as it is, for the caller to say so."""

    def __init__(self) -> None:
        super().__init__()
        self.mount("https://", TrustAdapter())
        self.mount("http://", TrustAdapter())

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
        elif settings["verify"] is True and self.trust_env:
            # SSL_CERT_FILE, which OpenSSL, curl and Python's own ssl read, where requests
            # reads only REQUESTS_CA_BUNDLE (a network's own CA for `alu fetch`/`tus-put`)
            cafile = os.environ.get("SSL_CERT_FILE", "")
            if cafile and os.path.isfile(cafile):
                settings["verify"] = cafile
        return settings

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        # requests reads where a redirect goes even when it is not to follow it (for
        # ``Response.next``): a Location it cannot read (a port that is no port, an IPv6
        # literal without its "]") failed the request itself with a ValueError
        target = super().get_redirect_target(resp)
        if target is None:
            return None
        try:
            valid = valid_address(urljoin(resp.url or "", target))
        except ValueError:
            valid = False
        return target if valid else None


def is_number(text: str) -> bool:
    """Whether a server's ``text`` is a decimal number ``int`` reads: ASCII digits only
    (``str.isdigit`` also takes "²", which ``int`` refuses, and header values are Latin-1)."""
    return text.isascii() and text.isdigit()


class BadAddress(ValueError):
    """An http(s) address that cannot be used: no host, a port that is no port, a broken
    IPv6 literal, or an authority that requests and ``urllib.parse`` would read as two
    different servers (a backslash, a space or a control character in it). The message never
    holds the address (it may be a secret: an upload URL, a signed link)."""

    def __init__(self, why: str = "not a valid address") -> None:
        super().__init__(why)


_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
#: the authority of an absolute URL as ``urllib.parse`` reads it: after "//", up to the first
#: "/", "?" or "#" (urllib3, and so requests, also end it at a backslash)
_AUTHORITY_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)")


def _odd(c: str) -> bool:
    """A character no authority holds: a backslash, a space, a control or format character."""
    return c == "\\" or c.isspace() or unicodedata.category(c) in ("Cc", "Cf", "Zs", "Zl", "Zp")


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of the server requests connects to for ``url``: what credentials
    are scoped to (RFC 6454). The host is in lower case (IDNA-encoded, an IPv6 literal without
    its brackets), the port the scheme's default when none is given.

    Raises ``BadAddress`` for anything but a plain http(s) address whose server
    ``urllib.parse`` and requests/urllib3 agree on: ``http://a:1\\@a:2/`` is port 2 to the
    first and port 1 to the second, which connects there — a check made on one reading would
    send the credentials to the other server. An address with a control character anywhere,
    or a backslash, space or format character in its authority, is refused outright."""
    if any(unicodedata.category(c) == "Cc" for c in url):
        raise BadAddress()
    found = _AUTHORITY_RE.match(url.lstrip())
    if found is None or any(_odd(c) for c in found[1]):
        raise BadAddress()
    try:
        parts = urlsplit(url)
        port = parts.port
        prepared = requests.PreparedRequest()
        prepared.prepare_url(url, None)
        sent = urllib3.util.parse_url(prepared.url or "")
    except (ValueError, UnicodeError, requests.RequestException, urllib3.exceptions.HTTPError):
        raise BadAddress() from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or not sent.host:
        raise BadAddress()
    host = parts.hostname  # (in lower case)
    if host.startswith("[") or ":" in host:  # an IPv6 literal; its zone is %-encoded here
        host = unquote(host)
    elif not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")  # as requests does
        except (idna.IDNAError, UnicodeError):
            raise BadAddress() from None
    said = (scheme, host, port or _DEFAULT_PORTS[scheme])
    seen = (
        (sent.scheme or "").lower(),
        sent.host.lower().removeprefix("[").removesuffix("]"),
        sent.port or _DEFAULT_PORTS[scheme],
    )
    if said != seen:
        raise BadAddress()
    return seen


def valid_address(url: str) -> bool:
    """Whether ``url`` is an http(s) address requests can be trusted with (see ``origin``)."""
    try:
        origin(url)
    except BadAddress:
        return False
    return True


def same_origin(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` are on one origin (a token for one is sent to the other);
    never when either is not a valid address (``origin``)."""
    try:
        return origin(a) == origin(b)
    except BadAddress:
        return False


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


#: where a user name and password a proxy refused were given, to be checked there
PROXY_CHECK_HINT = (
    "Check them where they were given (the profile's proxy, in the app's settings or with alu "
    "login --proxy, or the system's proxy setting such as HTTPS_PROXY), or ask the network's "
    "administrator."
)


def proxy_password_message(who: str, server: str, *, given: bool = False) -> str:
    """A 407: ``who`` (the proxy) wants a user name and password to reach ``server``; or, when
    some were ``given`` (the proxy's address held them), did not accept them."""
    if given:
        return (
            f"{who} did not accept the user name and password given for it (HTTP 407) to reach"
            f" {server}. " + PROXY_CHECK_HINT
        )
    return (
        f"{who} wants a user name and password (HTTP 407) to reach {server}. "
        + PROXY_CREDENTIALS_HINT
    )


def proxy_login_sent(resp: requests.Response) -> bool:
    """Whether the request ``resp`` answers went to its proxy with a user name and password
    (requests puts the proxy address's login in the proxy's connection pool, not the
    request)."""
    pool = getattr(resp.raw, "_pool", None)
    sent = {
        **(getattr(pool, "proxy_headers", None) or {}),
        **(getattr(resp.request, "headers", None) or {}),
    }
    return any(k.lower() == "proxy-authorization" for k in sent)


def proxy_login_given(session: requests.Session, url: str) -> bool:
    """Whether ``session`` sends requests for ``url`` through a proxy whose address holds a
    user name (and password): a tunnel's 407 comes as an error, without the answer."""
    chosen = _chosen_proxy(session, url)
    return (
        bool(chosen)
        and split_userinfo(chosen if "://" in chosen else f"http://{chosen}")[1] is not None
    )


#: HTTP 511: a captive portal (a hotel's, an office's guest network) wants a sign-in first;
#: retried as a proxy's 5xx is ("the server could not send the file just now" said nothing)
MSG_NETWORK_SIGN_IN = (
    "The network asks for a sign-in (HTTP 511): open any web page in a browser on this "
    "computer and sign in to the network; the transfer goes on after."
)


def proxy_answer(
    resp: requests.Response, *, server: str = "", proxy: str = "", not_the_servers: bool = False
) -> str | None:
    """When ``resp`` is an error that a proxy on the way made itself, not the server's answer,
    the sentence to show; else None. A 511 is a network's sign-in page; a proxy's own error
    is a 407 (only a proxy sends one), an answer carrying its marks (RFC 9209's
    ``Proxy-Status`` with an ``error``, squid's ``X-Squid-Error``), or, when the caller knows
    the answer is not the server's (``not_the_servers``: the hub words all its errors in
    JSON), any error below 500 on a request sent through a proxy. ``server`` names the server
    (default: the request URL's host), ``proxy`` the proxy the request went through (see
    ``proxy_for``), if known."""
    code = resp.status_code
    if code < 400:
        return None
    if code == 511:  # only a network's gate sends it (RFC 6585 §6), never the server
        return MSG_NETWORK_SIGN_IN
    marked = "X-Squid-Error" in resp.headers or "error=" in resp.headers.get("Proxy-Status", "")
    known = bool(proxy) and not_the_servers and code < 500 and code != 429
    if code != 407 and not marked and not known:
        return None
    server = server or urlsplit(resp.url or "").hostname or "the server"
    who = proxy_named(proxy)
    if code == 407:
        return proxy_password_message(who, server, given=proxy_login_sent(resp))
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
    chosen = _chosen_proxy(session, url)
    if not chosen:
        return ""
    parts = urlsplit(chosen if "://" in chosen else f"http://{chosen}")
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def _chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and what it was raised from (requests wraps urllib3's, which wraps ssl's)."""
    seen: set[int] = set()
    e: BaseException | None = error
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        yield e
        e = (
            e.__cause__
            or e.__context__
            or (e.args[0] if e.args and isinstance(e.args[0], BaseException) else None)
        )


def certificate_problem(error: BaseException) -> bool:
    """Whether ``error`` (from requests) is a refused certificate — not a TLS handshake cut by
    a flaky link, which is worth another try. A certificate does not fix itself: a person must
    (the date of the computer, a login page on the network, the profile's CA bundle)."""
    return any(
        isinstance(e, ssl.SSLCertVerificationError)
        or "CERTIFICATE_VERIFY_FAILED" in str(e)
        or "certificate verify failed" in str(e)
        for e in _chain(error)
    )


def certificate_reason(error: BaseException) -> str:
    """Why the certificate was refused, in OpenSSL's words ("certificate has expired",
    "Hostname mismatch, …", "self-signed certificate", "unable to get local issuer
    certificate"), or "not trusted"."""
    for e in _chain(error):
        said = getattr(e, "verify_message", None)
        if isinstance(e, ssl.SSLCertVerificationError) and said:
            return str(said).strip().rstrip(".")
        found = re.search(r"certificate verify failed: ([^(\]')]+)", str(e))
        if found:
            return found[1].strip().rstrip(".")
    return "not trusted"


def certificate_message(error: BaseException) -> str:
    """``CERTIFICATE_REFUSED`` with the reason ``error`` gives."""
    return CERTIFICATE_REFUSED.format(reason=certificate_reason(error))


def proxy_certificate_problem(error: BaseException) -> bool:
    """Whether ``error`` (from requests) is an https:// proxy's own certificate refused, in the
    TLS handshake with the proxy: urllib3 wraps a handshake that failed before the proxy was
    connected to in its ``ProxyError``, which requests raises as a ``ProxyError``. A
    certificate refused through the tunnel is the server's (requests' ``SSLError``), even when
    a proxy that inspects TLS made it: that one is said as the server's."""
    proxied = any(
        isinstance(e, requests.exceptions.ProxyError | urllib3.exceptions.ProxyError)
        for e in _chain(error)
    )
    return proxied and certificate_problem(error)


def proxy_certificate_message(error: BaseException, proxy: str) -> str:
    """The https:// proxy's certificate refused (``proxy_certificate_problem``): the proxy as
    ``proxy_for`` gives it (no user name or password), "" when not known."""
    reason = certificate_reason(error)
    if proxy:
        return PROXY_CERTIFICATE_REFUSED.format(proxy=proxy, reason=reason)
    return PROXY_CERTIFICATE_REFUSED_UNNAMED.format(reason=reason)


#: the SSL reasons of a server answering https:// with something else than TLS (plain HTTP)
_NOT_TLS = ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "HTTP_REQUEST", "UNKNOWN_PROTOCOL")


def not_tls(error: BaseException) -> bool:
    """Whether ``error`` is an https:// address answered in plain HTTP (or not in TLS at all):
    no retry mends that, an address does (or a network login page, once passed)."""
    for e in _chain(error):
        reason = getattr(e, "reason", None)
        if isinstance(e, ssl.SSLError) and isinstance(reason, str) and reason in _NOT_TLS:
            return True
        text = str(e)
        if any(r in text for r in _NOT_TLS) or "wrong version number" in text:
            return True
    return False


NOT_TLS_MESSAGE = (
    "The server did not answer in TLS (https) at this address: is its port one for plain "
    "http, or is a network login page in the way?"
)


def _chosen_proxy(session: requests.Session, url: str) -> str:
    """The proxy address (as given: with any login) ``session`` uses for ``url``; "": none."""
    proxies: dict[str, str] = {}
    if session.trust_env:
        proxies.update(requests.utils.get_environ_proxies(url))
    proxies.update({k: v for k, v in session.proxies.items() if v})
    return requests.utils.select_proxy(url, proxies) or ""


def tunnel_status(error: BaseException) -> int | None:
    """The status a proxy refused a tunnel (CONNECT) with: requests' ``ProxyError`` says it
    only in its text ("Tunnel connection failed: 407 Proxy Authentication Required"); None
    when the proxy gave none (out of reach)."""
    found = re.search(r"Tunnel connection failed: (\d{3})", str(error))
    return int(found[1]) if found else None


def tunnel_refusal(
    error: BaseException, proxy: str, server: str, *, given: bool = False
) -> tuple[str, bool] | None:
    """When ``error`` is a proxy's (requests' ``ProxyError``: its tunnel for an https://
    address refused, or the proxy out of reach), the sentence to show and whether it is final
    (a 407 or a refusal wants a person; a proxy down or its upstream failing may pass); else
    None. ``proxy`` as ``proxy_for`` gives it, ``server`` the host the tunnel was for,
    ``given``: whether the proxy was given a user name and password (``proxy_login_given``)."""
    if not isinstance(error, requests.exceptions.ProxyError):
        return None
    who = proxy_named(proxy)
    code = tunnel_status(error)
    if code is None:
        return f"{who} cannot be reached; check the proxy settings.", False
    if code == 407:
        return proxy_password_message(who, server, given=given), True
    if code >= 500:
        return f"{who} could not reach {server} (HTTP {code}); trying again later.", False
    return (
        f"{who} refused to pass the request to {server} (HTTP {code}); check the proxy "
        "settings, or ask the network's administrator to let this computer reach it."
    ), True


#: a refused certificate (``certificate_message`` puts the reason in)
CERTIFICATE_REFUSED = (
    "The server's security certificate was refused ({reason}). Is the computer's date right, "
    "or is a network login page in the way? A network with its own certificate authority "
    "needs its CA bundle: in the profile (the app's sign-in, alu login --ca-bundle), or in "
    "REQUESTS_CA_BUNDLE or SSL_CERT_FILE for alu fetch and alu tus-put."
)

#: an https:// proxy's certificate refused (``proxy_certificate_message``), the proxy known
PROXY_CERTIFICATE_REFUSED = (
    "The security certificate of the network's proxy ({proxy}) was refused ({reason}), so the "
    "server was not reached. Is the computer's date right? The proxy's certificate authority "
    "must be trusted: add it to the system's certificate store, or give a CA bundle that holds "
    "it and the server's authority (a bundle given is the only one trusted): in the profile "
    "(the app's sign-in, alu login --ca-bundle), or in REQUESTS_CA_BUNDLE or SSL_CERT_FILE for "
    "alu fetch and alu tus-put."
)
#: the same, the proxy not known
PROXY_CERTIFICATE_REFUSED_UNNAMED = (
    "The security certificate of the network's proxy was refused ({reason}), so the server "
    "was not reached. Is the computer's date right? The proxy's certificate authority must be "
    "trusted: add it to the system's certificate store, or give a CA bundle that holds it and "
    "the server's authority (a bundle given is the only one trusted): in the profile (the "
    "app's sign-in, alu login --ca-bundle), or in REQUESTS_CA_BUNDLE or SSL_CERT_FILE for alu "
    "fetch and alu tus-put."
)

HEADERS_TOO_LARGE_MESSAGE = (
    "The server's answer has more header lines than this app reads (over 100, or one over "
    "256 KiB), so it cannot be used; tell whoever runs the server."
)


def headers_too_large(error: BaseException) -> bool:
    """Whether ``error`` (a requests error, as raised) comes from http.client refusing an
    answer's header section: more than 100 fields, or a line over 256 KiB. It is not a
    network failure: the same server answers so every time."""
    return any(
        isinstance(e, http.client.LineTooLong)
        or (isinstance(e, http.client.HTTPException) and str(e).startswith("got more than"))
        for e in _everything_raised(error)
    )


NOT_HTTP_MESSAGE = (
    "The server answered with something that is not HTTP: check the address (is its port one "
    "for another service?)."
)


def not_http(error: BaseException) -> bool:
    """Whether ``error`` (a requests error, as raised) is an answer http.client cannot read
    as HTTP at all (no status line: a port for another service, a broken middlebox), not a
    connection lost before any answer came. The same address answers so every time."""
    for e in _everything_raised(error):
        if isinstance(e, http.client.HTTPException) and not isinstance(
            e, http.client.RemoteDisconnected | http.client.IncompleteRead
        ):
            return not _cut_status_line(e)
    return False


CONFLICTING_LENGTHS_MESSAGE = (
    "The server sent an answer that is not valid HTTP: two different lengths (Content-Length)"
    " for one answer. It is not tried again; tell whoever runs the server."
)


def conflicting_lengths(error: BaseException) -> bool:
    """Whether ``error`` (a requests error, as raised) is urllib3 refusing an answer with two
    different Content-Length values: an unrecoverable framing error (RFC 9112 §6.3), a sign of
    request smuggling, not a network failure."""
    return any(
        isinstance(e, urllib3.exceptions.InvalidHeader)
        and str(e).startswith("Content-Length contained multiple unmatching values")
        for e in _everything_raised(error)
    )


def _everything_raised(error: BaseException) -> Iterator[BaseException]:
    """``error`` and every exception it carries — in its arguments, as its cause or context,
    as urllib3's ``MaxRetryError.reason`` — each once, depth first (``_chain`` follows one
    line only)."""
    seen: set[int] = set()
    todo: list[object] = [error]
    while todo:
        e = todo.pop()
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo.extend([*e.args, e.__cause__, e.__context__])
        todo.append(getattr(e, "reason", None))  # urllib3's MaxRetryError


def _cut_status_line(error: http.client.HTTPException) -> bool:
    """A status line that began as HTTP's and was cut (the link dropped inside it, "HTTP/1.1
    2"): http.client says it "bad" as it says a port for another service; a retry mends it."""
    if not isinstance(error, http.client.BadStatusLine):
        return False
    line = str(error.args[0] if error.args else "").strip()
    return bool(line) and (line.startswith("HTTP/") or "HTTP/".startswith(line))


# --- interim answers ---------------------------------------------------------------------------

_MAX_INTERIM: Final = 20  # interim answers skipped before one request's final answer
_MAX_INTERIM_LINES: Final = 100
_MAX_LINE: Final = 256 * 1024

# A header line may be this long (http.client reads 64 KiB, process-wide): a tus server answers
# a HEAD with the upload's whole Upload-Metadata, and an item's texts (script, shot list,
# restrictions: 20,000 characters each, Arabic ~2.7 bytes a character in base64) make a line
# of up to ~160 KB — with 64 KiB the upload could be sent but never resumed, its HEAD "too
# large". Still bounded: a server sending endless lines is refused as before.
if http.client._MAXLINE < _MAX_LINE:  # type: ignore[attr-defined]
    http.client._MAXLINE = _MAX_LINE  # type: ignore[attr-defined]


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


_sending = threading.local()


@contextlib.contextmanager
def on_connection(hook: Callable[[urllib3.connection.HTTPConnection], None]) -> Iterator[None]:
    """Call ``hook`` with the connection each request of this thread goes out on (through a
    ``TransferAdapter``), so that another thread can shut its socket down: a pause or a stall
    then ends a request blocked in a read at once. Neither requests nor urllib3 offer
    another way to reach the socket of a request in flight."""
    _sending.hook = hook
    try:
        yield
    finally:
        _sending.hook = None


def _announce(conn: urllib3.connection.HTTPConnection) -> None:
    hook = getattr(_sending, "hook", None)
    if hook is not None:
        hook(conn)


class _HTTPConnection(urllib3.connection.HTTPConnection):
    response_class = _FinalResponse

    def request(self, *args: Any, **kwargs: Any) -> None:
        _announce(self)
        super().request(*args, **kwargs)


class _HTTPSConnection(urllib3.connection.HTTPSConnection):
    response_class = _FinalResponse

    def request(self, *args: Any, **kwargs: Any) -> None:
        _announce(self)
        super().request(*args, **kwargs)


class _HTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS: Final = {"http": _HTTPPool, "https": _HTTPSPool}

#: the methods a request of which may go again by itself (RFC 9110 §9.2.2: idempotent, and
#: the only ones the transfers send without a body)
_IDEMPOTENT: Final = frozenset({"GET", "HEAD", "OPTIONS"})
_UNANSWERED: Final = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


def _unanswered(error: Exception) -> bool:
    """Whether ``error`` is a connection closed before its answer came (``RemoteDisconnected``
    is a ConnectionResetError): the server had closed a kept-alive connection as idle while
    the request was on its way."""
    return isinstance(error, urllib3.exceptions.ProtocolError) and any(
        isinstance(arg, _UNANSWERED) for arg in error.args
    )


class _StaleRetry(urllib3.util.Retry):
    """Once, at once and on another connection: an idempotent request whose connection was
    closed before its answer (RFC 9112 §9.3.1: a server may close an idle kept-alive
    connection at any time, and a request sent meanwhile meets the close; the client may
    retry it, as curl and Go do). It was a failed attempt with the queue's back-off. Any
    other error is raised as without retries (a read timeout stays one)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs = {
            "total": 1,
            "connect": 0,
            "read": 1,
            "redirect": 0,
            "status": 0,
            "other": 0,
            "allowed_methods": _IDEMPOTENT,
            "raise_on_status": False,
            "respect_retry_after_header": False,
            **kwargs,
        }
        super().__init__(**kwargs)

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> _StaleRetry:
        if error is not None and self._is_read_error(error) and not _unanswered(error):
            raise error.with_traceback(_stacktrace)
        return super().increment(method, url, response, error, _pool, _stacktrace)


class TransferAdapter(TrustAdapter):
    """The transfers' adapter (trusting the system's store, see ``TrustAdapter``): its
    connections skip interim answers (see ``_FinalResponse``),
    directly and through an HTTP proxy, and an idempotent request that meets a kept-alive
    connection closed by the server goes again once on a new one (``_StaleRetry``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**{"max_retries": _StaleRetry(), **kwargs})

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if type(manager) is urllib3.poolmanager.ProxyManager:  # (not SOCKS: pools of its own)
            manager.pool_classes_by_scheme = _POOLS
        return manager


def connection_failure(
    error: BaseException, session: requests.Session | None, url: str
) -> tuple[str, bool] | None:
    """What a transfer says when a request to ``url`` on ``session`` raised ``error`` for a
    reason a retry does not mend by itself, and whether it is final: a refused certificate (the
    server's, or an https:// proxy's own), an
    https:// address answered in plain HTTP, an answer whose header section this app cannot
    read, that has two different lengths, or that is no HTTP at all (a port for another
    service), a proxy's refusal or a proxy out of reach (not final: it may come back); else
    None (a link that dropped: worth another try, in the caller's words)."""
    if proxy_certificate_problem(error):  # the proxy's, not the server's
        proxy = proxy_for(session, url) if session is not None else ""
        return proxy_certificate_message(error, proxy), True
    if certificate_problem(error):
        return certificate_message(error), True
    if not_tls(error):
        return NOT_TLS_MESSAGE, True
    if headers_too_large(error):
        return HEADERS_TOO_LARGE_MESSAGE, True
    if conflicting_lengths(error):
        return CONFLICTING_LENGTHS_MESSAGE, True
    if not_http(error):
        # final, as a 4xx is: a wrong port or another service does not heal by waiting, and
        # "could not be reached; trying again" for ever named nothing to check
        return NOT_HTTP_MESSAGE, True
    proxy = proxy_for(session, url) if session is not None else ""
    given = session is not None and proxy_login_given(session, url)
    return tunnel_refusal(error, proxy, urlsplit(url).hostname or "the server", given=given)


#: Query parameters whose values are secrets: a signed link's signature, tokens, and the
#: presigned credentials of S3 and Google Cloud Storage. Nothing secret is ever logged (the
#: hub's access log writes each request's query whole), nor kept once a download has ended.
SECRET_QUERY_NAMES = frozenset(
    {
        "sig",
        "signature",
        "token",
        "access_token",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
        "x-goog-signature",
        "x-goog-credential",
    }
)
REDACTED = "REDACTED"


def redact_query(target: str) -> str:
    """A URL or request target with the values of ``SECRET_QUERY_NAMES`` in its query replaced,
    the rest as it was. Names are compared decoded: ``%73ig`` is ``sig``."""
    path, mark, query = target.partition("?")
    if not mark:
        return target
    query, hash_mark, fragment = query.partition("#")
    parts = []
    for part in query.split("&"):
        name, eq, _value = part.partition("=")
        if eq and unquote(name.replace("+", " ")).strip().lower() in SECRET_QUERY_NAMES:
            part = f"{name}={REDACTED}"
        parts.append(part)
    return f"{path}?{'&'.join(parts)}{hash_mark}{fragment}"
