"""The one ``requests.Session`` flavour the client uses."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests

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
