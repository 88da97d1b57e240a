"""The user name and password a profile's proxy asks for (HTTP 407, Basic), kept in the secrets
store beside the profile's token, never in the library or a log.

A profile keeps its proxy's address (``Profile.proxy``); the login for it is a secret of its own
under ``key_for(profile.secret_key)``. Requests are sent through
``with_login(profile.proxy, login)``, an address that holds the login and lives in memory only
(requests answers the proxy's 407 with it). Messages and logs name a proxy through
``http.proxy_for``, which leaves the login out. Without a profile proxy, the system's proxy
setting applies, with its own login if it has one (``HTTPS_PROXY=http://user:password@…``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

from .credentials import Secrets, SecretsError
from .http import split_userinfo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProxyLogin:
    user: str
    password: str

    def __repr__(self) -> str:  # never the password, in a traceback or a log
        return f"ProxyLogin(user={self.user!r}, password=…)"


def key_for(profile_secret_key: str) -> str:
    """The secrets store's key of a profile's proxy login."""
    return f"proxy|{profile_secret_key}"


def load(secrets: Secrets, profile_secret_key: str) -> ProxyLogin | None:
    """The kept login, or None (none kept, or the store cannot be read: requests then go
    without one, and the proxy's 407 says what is missing)."""
    try:
        raw = secrets.get(key_for(profile_secret_key))
    except SecretsError as e:
        log.warning("the proxy login could not be read from %s: %s", secrets.name, e)
        return None
    if not raw:
        return None
    try:
        data = json.loads(raw)
        return ProxyLogin(str(data["user"]), str(data["password"]))
    except (ValueError, KeyError, TypeError):
        log.warning("the proxy login kept in %s is not readable; it is ignored", secrets.name)
        return None


def save(
    secrets: Secrets,
    profile_secret_key: str,
    login: ProxyLogin | None,
    *,
    allow_plain: bool = False,
) -> None:
    """Keep ``login`` for the profile, or forget the kept one (None, or no user name)."""
    key = key_for(profile_secret_key)
    if login is None or not login.user:
        secrets.delete(key)
        return
    value = json.dumps({"user": login.user, "password": login.password})
    secrets.set(key, value, allow_plain=allow_plain)


def with_login(proxy: str, login: ProxyLogin | None) -> str:
    """``proxy`` with the login in its address (percent-quoted), for requests' ``proxies``."""
    if not proxy or login is None or not login.user:
        return proxy
    parts = urlsplit(proxy)
    userinfo = f"{quote(login.user, safe='')}:{quote(login.password, safe='')}"
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{parts.netloc.rpartition('@')[2]}"))


def chosen(kept: ProxyLogin | None, user: str, password: str) -> ProxyLogin | None:
    """What a form's user name and password fields mean, given the kept login: no user name
    forgets it; the same user name with the password left empty keeps the kept password (a
    form never shows it); anything else is a new login."""
    user = user.strip()
    if not user:
        return None
    if not password and kept is not None and kept.user == user:
        return kept
    return ProxyLogin(user, password)


def split(proxy: str) -> tuple[str, ProxyLogin | None]:
    """``http://user:password@proxy:3128`` as the address alone and the login in it (as curl
    takes ``-x``), for the command line; an address without one is returned as it is."""
    address, pair = split_userinfo(proxy.strip())
    return address, ProxyLogin(*pair) if pair and pair[0] else None
