"""Hub profiles (which hub, as whom, how to reach it) and signing in and out.

A ``Profile`` is the non-secret part of a sign-in, kept in the library's ``profiles`` table; its
token lives in a ``Secrets`` store under ``profile.secret_key``. A workstation may keep several
profiles (two hubs, or two accounts); one is active (settings key ``active_profile``).

``sign_in`` talks to the hub, puts the token in the secrets store and the profile in the
library, in that order, and undoes the hub session if the token cannot be kept. ``sign_out``
revokes the token on the hub when it can and forgets it locally whatever happens; the profile row
stays, so the library, history and rules that belong to it stay too. ``client_for`` gives a
``HubClient`` with the token loaded, or ``NotSignedIn``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import sqlite3
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from . import hub
from . import proxy_login as proxy_logins
from .credentials import PlainTextNotAccepted, Secrets, SecretsError, plain_warning, secret_key
from .store.db import Store
from .store.rows import RowReader, warn_damaged
from .store.transfers import TransferStore
from .sync.history import OLD_HUB
from .sync.state import SyncState
from .transfers.base import HUB_REPLACED_DOWNLOAD, HUB_REPLACED_UPLOAD

log = logging.getLogger(__name__)

ACTIVE_KEY = "active_profile"
#: what a proxy address may start with: requests speaks HTTP to both (SOCKS would need PySocks,
#: which ALU Desk does not ship)
PROXY_SCHEMES = ("http", "https")
PROXY_MESSAGES = {
    "address": "“{text}” is not a proxy address; write it like http://proxy.newsroom.local:3128.",
    "password": (
        "A proxy address with a user name or password cannot be kept in a profile (it is no "
        "place for a secret). Give the address alone, and the user name and password in "
        "their own fields (kept in the system's keyring)."
    ),
}


def proxy_problem(address: str) -> str:
    """Why ``address`` cannot be a profile's proxy: "password" (a user name or password in it,
    which the profile would keep in the open), "address" (not ``http(s)://host[:port]``), or
    "" (it can, or it is empty: no proxy but the system's). Keys of ``PROXY_MESSAGES``."""
    text = address.strip()
    if not text:
        return ""
    try:
        parts = urlsplit(text)
        _ = parts.port  # a port that is no number raises
    except ValueError:
        return "address"
    if "@" in parts.netloc:
        return "password"
    if parts.scheme.lower() not in PROXY_SCHEMES or not parts.hostname:
        return "address"
    return ""


class ProfileOfAnotherAccount(ValueError):
    """``sign_in(name=…)`` as another account than the profile's: its history not yet sent
    would be counted for the new one (the hub credits events to whoever sends them)."""

    def __init__(self, name: str, owner: str, username: str) -> None:
        super().__init__(
            f"Profile {name} is the account {owner}'s: its downloads and uploads not yet "
            f"reported would be counted for {username}. Sign in as {username} without --name, "
            "or with a new name."
        )


class ProfileNotFound(KeyError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"There is no hub profile named {self.name!r}; sign in to create it."


#: the settings key (+ the profile's name) of the identity of the hub a profile signed in to
HUB_ID_KEY = "hub_id:"


#: the transfer option of a download ended because its hub was replaced (not tried again
#: with the failed ones when a new sign-in comes: ``Services._failed_hub_transfers``)
HUB_REPLACED_OPTION = "hub_replaced"


@dataclass(frozen=True)
class ReplacedHub:
    """What ``forget_replaced_hub`` did to a profile's state bound to the hub before."""

    #: downloads not done yet, ended (failed, with ``HUB_REPLACED_DOWNLOAD``)
    downloads: int = 0
    #: uploads not done yet, to start again from the beginning on the new hub
    uploads: int = 0
    #: this workstation's history events never sent, kept here and not sent to the new hub
    events: int = 0


class NotSignedIn(hub.AuthError):
    """The profile exists but no token is kept for it (signed out, or never signed in here)."""


@dataclass(frozen=True)
class Profile:
    name: str
    url: str
    username: str
    device: str = ""
    ca_bundle: str = ""
    proxy: str = ""
    allow_http: bool = False
    member: dict[str, Any] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)

    @property
    def secret_key(self) -> str:
        return secret_key(self.name, self.url, self.username)

    @property
    def display_name(self) -> str:
        name = self.member.get("display_name")
        return name if isinstance(name, str) and name else self.username

    def connection(
        self,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        login: proxy_logins.ProxyLogin | None = None,
    ) -> hub.Connection:
        """How to reach the hub; ``login`` is the proxy's user name and password (see
        ``proxy_login``), which goes into the connection's proxy address in memory only."""
        return hub.Connection(
            url=self.url,
            ca_bundle=self.ca_bundle,
            proxy=proxy_logins.with_login(self.proxy, login),
            allow_http=self.allow_http,
            device=self.device,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )


def default_device_name() -> str:
    """How the hub lists this workstation among the member's sessions: its host name."""
    try:
        name = socket.gethostname().strip()
    except OSError:
        name = ""
    return (name or "workstation")[:64]


def default_profile_name(url: str, username: str) -> str:
    """``ktn@hub.alu.africa`` (with ``:port`` when it is not the scheme's default)."""
    parts = urlsplit(url)
    host = parts.hostname or url
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    if parts.port and parts.port != default_port:
        host = f"{host}:{parts.port}"
    return f"{username}@{host}"


class Profiles:
    """The ``profiles`` table and the active profile, over the shared store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def list(self) -> list[Profile]:
        rows = self.store.query("SELECT * FROM profiles ORDER BY created_at, name")
        return [_from_row(r) for r in rows]

    def get(self, name: str) -> Profile | None:
        row = self.store.query_one("SELECT * FROM profiles WHERE name = ?", (name,))
        return _from_row(row) if row is not None else None

    def require(self, name: str) -> Profile:
        profile = self.get(name)
        if profile is None:
            raise ProfileNotFound(name)
        return profile

    def find(self, url: str, username: str) -> Profile | None:
        """The profile for this account on this hub, if there is one."""
        url = hub.normalize_url(url)
        return next((p for p in self.list() if p.url == url and p.username == username), None)

    def save(self, profile: Profile) -> Profile:
        """Insert or update by name; the first profile saved becomes the active one."""
        with self.store.write() as conn:
            conn.execute(
                "INSERT INTO profiles (name, url, username, device, ca_bundle, proxy, allow_http,"
                " member, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(name) DO UPDATE SET url = excluded.url,"
                " username = excluded.username, device = excluded.device,"
                " ca_bundle = excluded.ca_bundle, proxy = excluded.proxy,"
                " allow_http = excluded.allow_http, member = excluded.member,"
                # a created time that is no number (a damaged row) is written anew
                " created_at = CASE WHEN typeof(created_at) IN ('integer', 'real')"
                " THEN created_at ELSE excluded.created_at END",
                (
                    profile.name,
                    profile.url,
                    profile.username,
                    profile.device,
                    profile.ca_bundle,
                    profile.proxy,
                    int(profile.allow_http),
                    json.dumps(profile.member, sort_keys=True),
                    profile.created_at,
                ),
            )
            active = conn.execute("SELECT value FROM settings WHERE key = ?", (ACTIVE_KEY,))
            row = active.fetchone()
            current = row[0] if row is not None else None
            exists = (
                current is not None
                and conn.execute("SELECT 1 FROM profiles WHERE name = ?", (current,)).fetchone()
                is not None
            )
            if not exists:
                _set_setting(conn, ACTIVE_KEY, profile.name)
        saved = self.get(profile.name)
        assert saved is not None
        return saved

    def hub_id(self, name: str) -> str:
        """The identity of the hub profile ``name`` signed in to ('' when not known: never
        signed in since this was kept, or a hub older than its identity)."""
        row = self.store.query_one("SELECT value FROM settings WHERE key = ?", (HUB_ID_KEY + name,))
        return row[0] if row is not None and isinstance(row[0], str) else ""

    def set_hub_id(self, name: str, hub_id: str) -> None:
        """Keep the identity of the hub profile ``name`` signed in to; '' (a hub that says
        none) forgets the one kept: that hub, upgraded later, gets an identity of its own,
        and a real move of it was refused as "another hub" for the one kept before."""
        with self.store.write() as conn:
            if hub_id:
                _set_setting(conn, HUB_ID_KEY + name, hub_id)
            else:
                conn.execute("DELETE FROM settings WHERE key = ?", (HUB_ID_KEY + name,))

    def remove(self, name: str) -> None:
        """Delete the profile row (its token is the caller's: ``sign_out`` first). When it was
        the active one, the oldest remaining profile becomes active."""
        with self.store.write() as conn:
            conn.execute("DELETE FROM profiles WHERE name = ?", (name,))
            conn.execute("DELETE FROM settings WHERE key = ?", (HUB_ID_KEY + name,))
            row = conn.execute("SELECT value FROM settings WHERE key = ?", (ACTIVE_KEY,)).fetchone()
            if row is not None and row[0] == name:
                nxt = conn.execute(
                    "SELECT name FROM profiles ORDER BY created_at, name LIMIT 1"
                ).fetchone()
                if nxt is None:
                    conn.execute("DELETE FROM settings WHERE key = ?", (ACTIVE_KEY,))
                else:
                    _set_setting(conn, ACTIVE_KEY, nxt[0])

    def active(self) -> Profile | None:
        row = self.store.query_one("SELECT value FROM settings WHERE key = ?", (ACTIVE_KEY,))
        if row is not None:
            profile = self.get(row[0])
            if profile is not None:
                return profile
        profiles = self.list()  # the setting was lost or points nowhere: the oldest one
        return profiles[0] if profiles else None

    def set_active(self, name: str) -> Profile:
        profile = self.require(name)
        with self.store.write() as conn:
            _set_setting(conn, ACTIVE_KEY, name)
        return profile


def _set_setting(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?)"
        " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def _from_row(row: Any) -> Profile:
    """The row as a Profile; a value edited or damaged in the file is replaced by a stand-in
    and logged (the created time by 0: the oldest), so the app, and every verb, still start."""
    r = RowReader(row)
    profile = Profile(
        name=r.text("name"),
        url=r.text("url"),
        username=r.text("username"),
        device=r.text("device"),
        ca_bundle=r.text("ca_bundle"),
        proxy=r.text("proxy"),
        allow_http=r.flag("allow_http"),
        member=r.json_object("member"),
        created_at=r.real("created_at", 0.0),
    )
    warn_damaged(
        "profile",
        profile.name,
        r.damaged,
        "sign in to its hub again to write it anew.",
    )
    return profile


# --- signing in and out ---------------------------------------------------------------------


def sign_in(
    profiles: Profiles,
    secrets: Secrets,
    url: str,
    username: str,
    password: str,
    *,
    name: str | None = None,
    ca_bundle: str = "",
    proxy: str = "",
    allow_http: bool = False,
    allow_plain_secrets: bool = False,
    device: str | None = None,
    proxy_login: proxy_logins.ProxyLogin | Literal["keep"] | None = "keep",
    moving: Callable[[], AbstractContextManager[object]] | None = None,
    on_retry: Callable[[int], None] | None = None,
    on_other_hub: Callable[[Profile], None] | None = None,
    on_replaced_hub: Callable[[Profile, ReplacedHub], None] | None = None,
) -> Profile:
    """Sign in to a hub and keep the session: the token in ``secrets``, the rest as a profile
    (created, or updated when ``name`` — by default the one for this account on this hub —
    exists), which becomes the active one. ``proxy_login`` is the user name and password for
    ``proxy``, kept beside the token: "keep" uses and keeps the one kept for the profile, if
    any; None forgets it; a login with the kept user name and no password keeps the kept
    password (a form never shows it), see ``proxy_login.chosen``. ``moving``: when the profile
    moves to a new address, a context the move runs in, entered once the hub has taken the
    password (the app stops its engine and takes the data folder's lock there). ``on_retry``:
    told (with the try's number) when the hub did not answer and is asked again
    (``HubClient.sign_in``: for ``hub.SIGN_IN_PATIENCE_S`` in all). A move (``name``, a
    profile at another address) to a hub whose identity is not the one the profile signed in
    to is not made: the hub there is another one, signed in to as a profile of its own (the
    one for this account there, or a new one), and ``on_other_hub`` is told of the profile
    left as it was (its queue waits for its own hub). A hub, or a profile, with no identity
    known moves as the user said. A profile signing in again at its own address to a hub
    whose identity is not the one it signed in to is bound to the hub there now (the agency
    rebuilt its hub with a new database, or put another one there): ``forget_replaced_hub``
    runs, in ``moving`` too (the engine must not write back what it changes), and
    ``on_replaced_hub`` is told what it did. ``HubError``
    (``AuthError`` for a wrong password), ``PlainTextNotAccepted`` or ``SecretsError``
    otherwise; nothing is kept then: a session the hub opened is ended again, and the
    profile's sign-in kept before, if any, stays as it was."""
    if secrets.needs_consent and not allow_plain_secrets:
        # Asked before the hub is contacted: no session is opened that could not be kept.
        raise PlainTextNotAccepted(plain_warning(secrets.name))
    problem = proxy_problem(proxy)
    if problem:
        raise hub.HubError(PROXY_MESSAGES[problem].format(text=proxy.strip()))
    url = hub.normalize_url(url)
    existing = profiles.get(name) if name else profiles.find(url, username)
    if existing is not None and existing.username != username.strip():  # (hub names: exact)
        raise ProfileOfAnotherAccount(existing.name, existing.username, username.strip())
    # Read before the hub is asked: a locked keyring fails here, with no session opened yet.
    previous = secrets.get(existing.secret_key) if existing else None
    kept = proxy_logins.load(secrets, existing.secret_key) if existing else None
    if not proxy.strip():
        login = None  # a login goes with the profile's proxy, not the system's
    elif proxy_login == "keep":
        login = kept
    elif proxy_login is None:
        login = None
    else:
        login = proxy_logins.chosen(kept, proxy_login.user, proxy_login.password)
    conn = hub.Connection(
        url=url,
        ca_bundle=ca_bundle,
        proxy=proxy_logins.with_login(proxy, login),
        allow_http=allow_http,
        device=device or (existing.device if existing else "") or default_device_name(),
    )
    client = hub.HubClient(conn)
    done: ReplacedHub | None = None
    try:
        answer = client.sign_in(username, password, on_retry=on_retry)
        stored: str | None = None  # the key the new token was written under
        try:
            member = answer.member
            if existing is not None and existing.url != url and name == existing.name:
                known = profiles.hub_id(existing.name)
                if known and answer.hub_id and known != answer.hub_id:
                    log.warning(
                        "the hub at %s is not the hub of profile %s (its identity differs): "
                        "signed in to it as another hub; the profile stays at %s",
                        url,
                        existing.name,
                        existing.url,
                    )
                    if on_other_hub is not None:
                        on_other_hub(existing)
                    name = None
                    existing = profiles.find(url, username)
                    # (none, as a rule: the dialog asks only when there is no profile there)
                    previous = secrets.get(existing.secret_key) if existing else None
                    kept = proxy_logins.load(secrets, existing.secret_key) if existing else None
            replaced = False
            if existing is not None and existing.url == url:
                known = profiles.hub_id(existing.name)
                replaced = bool(known and answer.hub_id and known != answer.hub_id)
                if replaced:
                    log.warning(
                        "the hub at %s is another hub than profile %s signed in to (its identity "
                        "differs): its state bound to the hub before is made the new hub's",
                        url,
                        existing.name,
                    )
            profile = Profile(
                name=name or (existing.name if existing else default_profile_name(url, username)),
                url=url,
                username=member.username or username,
                device=conn.device,
                ca_bundle=ca_bundle,
                proxy=proxy,
                allow_http=allow_http,
                member=member.to_json(),
                created_at=existing.created_at if existing else time.time(),
            )
            stored = profile.secret_key  # (from here on the store may hold it)
            secrets.set(profile.secret_key, answer.token, allow_plain=allow_plain_secrets)
            proxy_logins.save(secrets, profile.secret_key, login, allow_plain=allow_plain_secrets)
            move = existing is not None and existing.url != url
            # (another hub at the address: the engine must not write back what changes too)
            guard = moving() if moving is not None and (move or replaced) else None
            with guard if guard is not None else contextlib.nullcontext():
                if existing is not None and move:
                    # before the profile says the new address: a move that fails (a full
                    # disk) is made again by the next sign-in (it changes nothing twice)
                    moved = move_hub_urls(profiles.store, existing.name, existing.url, url)
                    log.info("profile %s moved to %s: %d stored addresses follow",
                             existing.name, url, moved)  # fmt: skip
                saved = profiles.save(profile)
                done = forget_replaced_hub(profiles.store, saved.name) if replaced else None
                # (after it: one that fails keeps the old identity, and the next sign-in
                # does it again)
                profiles.set_hub_id(saved.name, answer.hub_id)
                profiles.set_active(saved.name)
        except BaseException:
            # Keep nothing half-done. The session the hub just opened is ended first: a store
            # that fails again below (no keyring at all, a full disk) must not leave a live
            # token on the hub that no workstation holds. Then the store is put back.
            _quietly_sign_out(client)
            if stored is not None and existing is not None and stored == existing.secret_key:
                # the sign-in this workstation had before stays (it was not revoked): it is
                # put back, not forgotten while still live on the hub
                _put_back(secrets, stored, previous, kept, allow_plain=allow_plain_secrets)
            elif stored is not None:
                _forget(secrets, stored)
                _forget(secrets, proxy_logins.key_for(stored))
            raise
    finally:
        client.close()
    if existing is not None:
        if existing.secret_key != saved.secret_key:
            _forget(secrets, existing.secret_key)
            _forget(secrets, proxy_logins.key_for(existing.secret_key))
        if previous and previous != answer.token:
            # The session this workstation had before: revoke it rather than let it linger.
            _revoke(existing, previous, kept)
    log.info("signed in to %s as %s (profile %s)", url, saved.username, saved.name)
    if done is not None and on_replaced_hub is not None:
        on_replaced_hub(saved, done)
    return saved


def forget_replaced_hub(store: Store, name: str) -> ReplacedHub:
    """The hub at profile ``name``'s address is another one now (its identity differs: the
    agency rebuilt it with a new database): what the profile kept of the hub before is made
    the new hub's, in one transaction. The sync cursors go back to the start (the new hub's
    feed and history are read whole: its numbers are its own); the downloads not done yet
    end failed, saying why (their items were the old hub's: an id of it is nothing, or
    another item, on the new one); the uploads not done yet start again from the beginning
    (the partial upload, at an address of the old hub, is gone), on the new hub; this
    workstation's history events are kept here and never sent to the new hub (``OLD_HUB``:
    those not sent are said so in the History tab). The library — its items, files and
    history — stays as it is: nothing is deleted."""
    downloads = uploads = 0
    transfers = TransferStore(store)
    now = time.time()
    with store.write() as c:
        SyncState(store, name).reset(c)
        for tid, direction, options in c.execute(
            "SELECT id, direction, options FROM transfers"
            " WHERE state IN ('queued', 'active', 'paused', 'failed')"
        ).fetchall():
            try:
                opts = json.loads(options)
            except ValueError:
                continue  # (a damaged row never runs)
            if not isinstance(opts, dict) or opts.get("profile") != name:
                continue
            if direction == "download":
                opts[HUB_REPLACED_OPTION] = True
                c.execute(
                    "UPDATE transfers SET state = 'failed', last_error = ?, options = ?,"
                    " next_attempt_at = NULL, pause_reason = '', request = '',"
                    " finished_at = ? WHERE id = ?",
                    (HUB_REPLACED_DOWNLOAD, json.dumps(opts), now, tid),
                )
                transfers._log(c, tid, "failed", HUB_REPLACED_DOWNLOAD)
                downloads += 1
            else:
                # the upload's address at the old hub goes with its checkpoint: the job
                # creates a new upload at the hub's (same) uploads address
                c.execute("UPDATE transfers SET bytes_done = 0 WHERE id = ?", (tid,))
                transfers._drop_checkpoint(c, tid)
                transfers._log(c, tid, "note", HUB_REPLACED_UPLOAD)
                uploads += 1
        key = f"$.{OLD_HUB}"
        events = c.execute(
            "SELECT count(*) FROM history WHERE profile = ? AND origin = 'here'"
            " AND sent_at IS NULL AND json_valid(detail) AND json_extract(detail, ?) IS NULL",
            (name, key),
        ).fetchone()[0]
        # (a damaged detail is left: such an event is never sent)
        c.execute(
            "UPDATE history SET detail = json_set(detail, ?,"
            " CASE WHEN sent_at IS NULL THEN 'unsent' ELSE 'sent' END),"
            " sent_at = COALESCE(sent_at, ?)"
            " WHERE profile = ? AND origin = 'here' AND json_valid(detail)"
            " AND json_extract(detail, ?) IS NULL",
            (key, now, name, key),
        )
    log.info(
        "profile %s: another hub at its address: %d download(s) ended, %d upload(s) to start "
        "again, %d history event(s) kept here",
        name,
        downloads,
        uploads,
        events,
    )
    return ReplacedHub(downloads=downloads, uploads=uploads, events=int(events))


def move_hub_urls(store: Store, name: str, old: str, new: str) -> int:
    """The hub of profile ``name`` moved from ``old`` to ``new`` (normalized addresses): the
    addresses it gave that the library keeps — its items' files and thumbnails, the profile's
    transfers and their checkpoints (an upload's URLs on the hub) — are rewritten to the new one,
    in one transaction. Without it the queue kept going to the old address (never reached, or
    sent no sign-in to it: credentials go to the profile's address only), and an upload whose
    outcome was not heard yet was sent and published a second time. Addresses elsewhere (a
    store the hub redirects to) are left as they are. Returns how many values changed."""

    old_origin, old_path = hub.origin(old), urlsplit(old).path.rstrip("/")
    new_origin, new_path = hub.origin(new), urlsplit(new).path.rstrip("/")

    def under(value: str, origin: tuple[str, str, int | None], path: str) -> str | None:
        """What follows the hub's address in ``value`` (a URL under it), else None. Origins
        compare as requests sends them (host case, default ports), paths by whole segments."""
        if not value.startswith(("http://", "https://")):
            return None
        try:
            parts = urlsplit(value)
            if hub.origin(value) != origin or not parts.path.startswith(path + "/"):
                return None
        except ValueError:  # (a port that is not one)
            return None
        rest = parts.path[len(path) :]
        return (
            rest
            + (f"?{parts.query}" if parts.query else "")
            + (f"#{parts.fragment}" if parts.fragment else "")
        )

    def rebase(value: Any) -> Any:
        if isinstance(value, str):
            if under(value, new_origin, new_path) is not None:
                return value  # moved already (a new address under the old one: not twice)
            rest = under(value, old_origin, old_path)
            return value if rest is None else new.rstrip("/") + rest
        if isinstance(value, list):
            return [rebase(v) for v in value]
        if isinstance(value, dict):
            return {k: rebase(v) for k, v in value.items()}
        return value

    def rebase_json(text: str) -> str:
        try:
            data = json.loads(text)
        except ValueError:
            return text  # a damaged row stays as it is (it says so where it is read)
        moved = rebase(data)
        return text if moved == data else json.dumps(moved)

    changed = 0
    with store.write() as conn:
        for pk, thumb, renditions in conn.execute(
            "SELECT pk, thumbnail_url, renditions FROM items WHERE profile = ?", (name,)
        ).fetchall():
            row = (rebase(thumb), rebase_json(renditions))
            if row != (thumb, renditions):
                conn.execute(
                    "UPDATE items SET thumbnail_url = ?, renditions = ? WHERE pk = ?", (*row, pk)
                )
                changed += 1
        for tid, source, destination, options in conn.execute(
            "SELECT id, source, destination, options FROM transfers"
        ).fetchall():
            try:
                profile = json.loads(options).get("profile")
            except (ValueError, AttributeError):
                continue
            if profile != name:
                continue
            row = (rebase(source), rebase(destination))
            if row != (source, destination):
                conn.execute(
                    "UPDATE transfers SET source = ?, destination = ? WHERE id = ?", (*row, tid)
                )
                changed += 1
            for (data,) in conn.execute(
                "SELECT data FROM transfer_checkpoints WHERE transfer_id = ?", (tid,)
            ).fetchall():
                moved = rebase_json(data)
                if moved != data:
                    conn.execute(
                        "UPDATE transfer_checkpoints SET data = ? WHERE transfer_id = ?",
                        (moved, tid),
                    )
                    changed += 1
    return changed


def sign_out(profiles: Profiles, secrets: Secrets, name: str) -> bool | None:
    """Sign out of the profile's hub. The token is forgotten locally in every case (offline
    too: kept for a later try, it would stay live on the hub for whoever uses this account
    next); True when the hub confirmed it will not accept that token any more (or it already
    did not), False when the hub could not be told, None when no sign-in was kept here. The
    profile row stays."""
    profile = profiles.require(name)
    try:
        token = secrets.get(profile.secret_key)
        login = proxy_logins.load(secrets, profile.secret_key)
        return _revoke(profile, token, login) if token else None
    finally:
        secrets.delete(profile.secret_key)
        log.info("signed out of %s (profile %s)", profile.url, profile.name)


def client_for(
    profile: Profile, secrets: Secrets, *, connect_timeout: float = 10.0, read_timeout: float = 30.0
) -> hub.HubClient:
    """A ``HubClient`` for the profile, signed in with its kept token."""
    token = secrets.get(profile.secret_key)
    if not token:
        raise NotSignedIn(
            f"Not signed in to {profile.url} as {profile.username} on this workstation; "
            "sign in again."
        )
    conn = profile.connection(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        login=proxy_logins.load(secrets, profile.secret_key),
    )
    return hub.HubClient(conn, token)


def _revoke(profile: Profile, token: str, login: proxy_logins.ProxyLogin | None) -> bool:
    try:
        conn = profile.connection(connect_timeout=5.0, read_timeout=10.0, login=login)
        client = hub.HubClient(conn, token)
    except hub.HubError:
        return False
    try:
        client.sign_out()
        return True
    except hub.AuthError:
        return True  # already expired or revoked: the hub will not take it either way
    except hub.HubError as e:
        log.info("sign-out not confirmed by %s: %s", profile.url, e)
        return False
    finally:
        client.close()


def _quietly_sign_out(client: hub.HubClient) -> None:
    """End the session ``client`` holds, during a failed sign-in's cleanup: whatever fails is
    logged (by its type only) and does not hide the error the sign-in failed with."""
    try:
        client.sign_out()
    except hub.AuthError:
        pass  # revoked or expired already
    except hub.HubError as e:
        log.warning("a sign-in that could not be kept was not ended on %s: %s", client.url, e)
    except Exception as e:
        log.warning("a sign-in that could not be kept was not ended on %s (%s)", client.url,
                    type(e).__name__)  # fmt: skip


def _put_back(
    secrets: Secrets,
    key: str,
    token: str | None,
    login: proxy_logins.ProxyLogin | None,
    *,
    allow_plain: bool,
) -> None:
    """Put a profile's kept sign-in (``token``, None: none) and proxy login back as they were
    before a sign-in that failed; a store that fails is logged, not raised."""
    if not token:
        _forget(secrets, key)
    else:
        try:
            secrets.set(key, token, allow_plain=allow_plain)
        except Exception as e:
            log.warning("could not put the sign-in kept before back in %s (%s)", secrets.name,
                        type(e).__name__)  # fmt: skip
    try:
        proxy_logins.save(secrets, key, login, allow_plain=allow_plain)
    except Exception as e:
        log.warning("could not put the proxy login kept before back in %s (%s)", secrets.name,
                    type(e).__name__)  # fmt: skip


def _forget(secrets: Secrets, key: str) -> None:
    """Remove the token under ``key``; a store that fails is logged, not raised: a cleanup
    goes on (the CLI's stand-in for a missing keyring fails every call, a full disk the
    insecure file's rewrite)."""
    try:
        secrets.delete(key)
    except SecretsError as e:
        log.warning("could not remove an old sign-in from %s: %s", secrets.name, e)
    except Exception as e:
        log.warning("could not remove an old sign-in from %s (%s)", secrets.name,
                    type(e).__name__)  # fmt: skip
