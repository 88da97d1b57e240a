"""Sign-in rate limiting, kept in the database so that every replica counts the same attempts.

Each sign-in is first written down as an attempt under two keys — the user name and the client's
address — and committed, then the attempts of the window that came before it are counted. Over
a limit, the hub answers 429 with ``Retry-After`` before it looks at the password, the same way
for a user that exists and one that does not (no enumeration), and the blocked attempt is not
counted (a user waiting for the lock to end is not kept out by retrying). Otherwise the
password is checked: a failure leaves the attempt counted; a success clears the user name's
attempts (not the address's: one good account must not reset the count of a guesser trying
others from the same place). Counting after committing means that attempts racing on several
replicas see each other, so a burst of parallel guesses does not get past the limit.

Keys are sha256 digests: user names are case-folded first (``KTN`` is ``ktn``), IPv4 addresses
are taken whole and IPv6 addresses by their /64 (one subscriber's share). The client's address
is the peer's, or the one a trusted proxy forwarded (``Settings.trusted_proxies``, applied by
the server before the app sees the request). Attempts older than the window are deleted when
the next one is written, and at start-up.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import math
import unicodedata
from dataclasses import dataclass

from sqlalchemy import delete, select

from .db import Database
from .errors import ApiError
from .models import SignInAttempt, utcnow
from .settings import Settings


def user_key(username: str) -> str:
    folded = unicodedata.normalize("NFKC", username).strip().casefold()
    return hashlib.sha256(f"user\n{folded}".encode()).hexdigest()


def address_key(host: str) -> str:
    """The key of a client address: IPv4 whole, IPv6 by its /64; anything else as it is."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        text = host
    else:
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            text = str(ip.ipv4_mapped)
        elif isinstance(ip, ipaddress.IPv6Address):
            text = str(ipaddress.IPv6Network((ip, 64), strict=False))
        else:
            text = str(ip)
    return hashlib.sha256(f"addr\n{text}".encode()).hexdigest()


@dataclass(frozen=True)
class Attempt:
    """A sign-in under way: the rows that count it, and the user name's key."""

    ids: tuple[int, ...]
    user_key: str


def too_many(retry_after: int) -> ApiError:
    return ApiError(
        429,
        "too_many_sign_ins",
        "Too many sign-ins for this account or from this place, failed or at the same moment. "
        "Wait a few minutes "
        "(Retry-After says how long), then try again with the right password.",
        {"Retry-After": str(retry_after)},
    )


def begin(
    db: Database,
    settings: Settings,
    username: str,
    address: str | None,
    now: dt.datetime | None = None,
) -> Attempt:
    """Count this sign-in; 429 (ApiError) when the user name or the address is over its limit."""
    now = now or utcnow()
    window = dt.timedelta(seconds=settings.signin_window_s)
    since = now - window
    ukey = user_key(username)
    limits: list[tuple[str, int]] = []
    if settings.signin_max_failures_per_user > 0:
        limits.append((ukey, settings.signin_max_failures_per_user))
    if address and settings.signin_max_failures_per_address > 0:
        limits.append((address_key(address), settings.signin_max_failures_per_address))
    if not limits:
        return Attempt((), ukey)
    with db.session() as s:
        s.execute(delete(SignInAttempt).where(SignInAttempt.at < since))
        rows = [SignInAttempt(key=key, at=now) for key, _ in limits]
        s.add_all(rows)
        s.flush()
        ids = tuple(row.id for row in rows)
    # committed: from here on, attempts on other replicas count this one
    blocked = False
    wait = dt.timedelta(0)
    with db.session() as s:
        for (key, limit), own in zip(limits, ids, strict=True):
            before = list(
                s.scalars(
                    select(SignInAttempt.at)
                    .where(SignInAttempt.key == key, SignInAttempt.at >= since)
                    .where(SignInAttempt.id < own)
                    .order_by(SignInAttempt.at)
                )
            )
            if len(before) >= limit:
                # free again once enough of the oldest have left the window
                blocked = True
                wait = max(wait, before[len(before) - limit] + window - now)
        if blocked:
            s.execute(delete(SignInAttempt).where(SignInAttempt.id.in_(ids)))
    if blocked:
        raise too_many(max(1, math.ceil(wait.total_seconds())))
    return Attempt(ids, ukey)


def succeeded(db: Database, attempt: Attempt) -> None:
    """The password was right: the user name starts afresh; this attempt no longer counts."""
    with db.session() as s:
        s.execute(
            delete(SignInAttempt).where(
                (SignInAttempt.key == attempt.user_key) | SignInAttempt.id.in_(attempt.ids)
            )
        )


def prune(db: Database, settings: Settings, now: dt.datetime | None = None) -> int:
    """Delete attempts older than the window; returns how many."""
    since = (now or utcnow()) - dt.timedelta(seconds=settings.signin_window_s)
    with db.session() as s:
        result = s.execute(delete(SignInAttempt).where(SignInAttempt.at < since))
        return int(getattr(result, "rowcount", 0) or 0)
