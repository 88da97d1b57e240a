"""Passwords, bearer tokens and signed download links.

Passwords: argon2id. Tokens: 256 random bits given to the client once; only their sha256 is
stored, with an expiry, so a copy of the database signs nobody in. Signed links: an HMAC over
path, member and expiry, for tools that cannot send a header (a media player).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import hmac
import os
import secrets
import threading
import time
from collections.abc import Iterator

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import devicename
from .lru import Lru
from .models import Member, Token, utcnow

_hasher = PasswordHasher()

#: At most this many Argon2 sign-in checks at once in one hub process; the others wait their
#: turn before they take a database connection. Each check takes the hasher's memory_cost
#: (64 MiB) and runs on one of the server's 40 worker threads: 31 members signing in at once
#: peaked a hub at 1.4 GB, 60 wrong passwords (no account needed) at 1.8 GB. More at once
#: does not make them faster than the cores can (each is 4 lanes already).
CHECKS_AT_ONCE = max(2, min(4, (os.cpu_count() or 2) // 2))
_check_turns = threading.BoundedSemaphore(CHECKS_AT_ONCE)


@contextlib.contextmanager
def check_turn() -> Iterator[None]:
    """A turn to check a password (``check_credentials``): taken before the sign-in opens its
    database session, so that the ones waiting hold no connection of the pool."""
    with _check_turns:
        yield


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so both failures cost the same time.
    Made once, at the first need, not at import: every ``alu-hub`` command (``member list``,
    ``stats``, ``publish``…) paid the ~0.15 s of an Argon2 hash for it, and none signs anyone
    in. A serving hub makes it as it starts (``prepare_sign_in``), so that its first sign-in
    of a name that does not exist takes no longer than the others."""
    return _hasher.hash(secrets.token_urlsafe(16))


def prepare_sign_in() -> None:
    """Makes what ``check_credentials`` needs now (before the first sign-in, not during it)."""
    _dummy_hash()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


class AccountDisabled(Exception):
    """The user name and password are right, but the agency disabled the account."""


def check_credentials(s: Session, username: str, password: str) -> Member | None:
    """The member if the username and password match an active member; else None, in about the
    same time whichever part was wrong (no user enumeration by timing or by answer). Raises
    ``AccountDisabled`` when they match a disabled member: told its password was wrong, a
    member tried others until the sign-in limit locked it out (said only to who knows the
    password). Callers hold a ``check_turn()``."""
    member = s.execute(select(Member).where(Member.username == username)).scalar_one_or_none()
    stored = member.password_hash if member is not None else _dummy_hash()
    ok: bool
    try:
        ok = _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or member is None:
        return None
    if not member.active:
        raise AccountDisabled()
    if _hasher.check_needs_rehash(member.password_hash):
        member.password_hash = _hasher.hash(password)
    return member


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def issue_token(s: Session, member: Member, device: str, ttl_s: int) -> tuple[str, Token]:
    raw = secrets.token_urlsafe(32)
    tok = Token(
        member_id=member.id,
        token_hash=token_hash(raw),
        device=devicename.stored(device),
        expires_at=utcnow() + dt.timedelta(seconds=ttl_s),
    )
    s.add(tok)
    s.flush()
    return raw, tok


class TokenProblem(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def token_for(s: Session, raw: str) -> Token:
    """The live token row for a bearer token, or TokenProblem saying why not."""
    return token_by_hash(s, token_hash(raw))


def token_by_hash(s: Session, digest: str) -> Token:
    """``token_for`` by the token's ``token_hash``."""
    tok = s.execute(select(Token).where(Token.token_hash == digest)).scalar_one_or_none()
    if tok is None or tok.revoked_at is not None:
        raise TokenProblem("bad_token", "The sign-in token is not valid; sign in again.")
    if tok.expires_at <= utcnow():
        raise TokenProblem("expired_token", "The sign-in has expired; sign in again.")
    if not tok.member.active:
        raise TokenProblem("bad_token", "This account is disabled; ask the agency.")
    return tok


def _link_mac(key: bytes, path: str, member_id: int, expires: int) -> str:
    msg = f"{path}\n{member_id}\n{expires}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()[:40]


def sign_link(key: bytes, path: str, member_id: int, ttl_s: int) -> str:
    """Query string that lets anyone holding it GET ``path`` until it expires."""
    expires = int(utcnow().timestamp()) + ttl_s
    return f"m={member_id}&exp={expires}&sig={_link_mac(key, path, member_id, expires)}"


def check_link(key: bytes, path: str, member: str, expires: str, sig: str) -> int | None:
    """The member id a valid, unexpired link was signed for; else None."""
    try:
        member_id, exp = int(member), int(expires)
    except ValueError:
        return None
    if exp < int(utcnow().timestamp()):
        return None
    if not hmac.compare_digest(_link_mac(key, path, member_id, exp), sig):
        return None
    return member_id


#: How long a process trusts a token it has checked before it reads the token's row again.
#: A sign-out in this process takes effect at once; a revocation by another process (a replica,
#: a chore on the database) within this time. Every authenticated request used to read two rows
#: and hop to a worker thread for them; under load that was a fifth of the hub's time.
TOKEN_CACHE_S = 5.0
TOKEN_CACHE_SIZE = 4096


class TokenCache(Lru[str, tuple[Member, float]]):
    """``token_hash`` → the member it signs in (a detached, fully loaded row, only read), for
    ``TOKEN_CACHE_S`` and never past the token's expiry."""

    def __init__(self, ttl_s: float = TOKEN_CACHE_S, size: int = TOKEN_CACHE_SIZE) -> None:
        super().__init__(size)
        self.ttl_s = ttl_s
        #: moves at every ``forget``: a row read before a sign-out is not put in after it
        self.epoch = 0

    def member(self, digest: str) -> Member | None:
        with self.lock:
            entry = self.get(digest)
            if entry is None:
                return None
            if entry[1] <= time.monotonic():
                self.pop(digest)
                return None
            return entry[0]

    def keep(self, digest: str, member: Member, expires_at: dt.datetime, epoch: int) -> None:
        """Keep what the token's row said when it was read; ``epoch`` is this cache's
        ``epoch`` from before the read (a token forgotten since is not put back)."""
        if self.ttl_s <= 0:
            return
        left = (expires_at - utcnow()).total_seconds()
        until = time.monotonic() + min(self.ttl_s, left)
        with self.lock:
            if epoch == self.epoch:
                self.put(digest, (member, until))

    def forget(self, digest: str) -> None:
        with self.lock:
            self.epoch += 1
            self.pop(digest)
