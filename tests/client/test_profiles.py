"""Hub profiles, sign-in and sign-out against real hubs on loopback."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from alu_client.core.credentials import (
    KeyringSecrets,
    MemorySecrets,
    PlainTextNotAccepted,
    SecretsError,
)
from alu_client.core.hub import AuthError, HubError, PlainHttpRefused
from alu_client.core.profiles import (
    ACTIVE_KEY,
    NotSignedIn,
    Profile,
    ProfileNotFound,
    Profiles,
    client_for,
    default_device_name,
    default_profile_name,
    proxy_problem,
    sign_in,
    sign_out,
)
from alu_client.core.store.db import Store
from alu_hub.models import Token
from tests.client.test_credentials import LockedBackend, PlaintextKeyring
from tests.support.livehub import LiveHub, start_hub

PASSWORD = "kenya-pw-2026"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "client" / "library.sqlite3")
    yield s
    s.close()


@pytest.fixture
def profiles(store: Store) -> Profiles:
    return Profiles(store)


@pytest.fixture
def secrets() -> MemorySecrets:
    return MemorySecrets()


@pytest.fixture
def member(live_hub: LiveHub) -> LiveHub:
    live_hub.member("ktn", PASSWORD)
    return live_hub


def tokens_on_hub(h: LiveHub) -> int:
    with h.hub.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Token)) or 0)


def me_status(h: LiveHub, token: str) -> int:
    r = requests.get(h.api("/me"), headers={"Authorization": f"Bearer {token}"}, timeout=10)
    return r.status_code


def db_bytes(store: Store) -> bytes:
    assert store.path is not None
    files = [store.path, *store.path.parent.glob(store.path.name + "-*")]
    return b"".join(p.read_bytes() for p in files if p.exists())


# --- the profiles table --------------------------------------------------------------------------


def test_profiles_save_list_active_and_remove(profiles: Profiles) -> None:
    assert profiles.list() == []
    assert profiles.active() is None
    a = profiles.save(Profile("a", "https://hub-a.example.org", "ktn", created_at=1.0))
    b = profiles.save(Profile("b", "https://hub-b.example.org", "ktn", created_at=2.0))
    assert [p.name for p in profiles.list()] == ["a", "b"]
    assert profiles.active() == a  # the first saved becomes active
    profiles.set_active("b")
    assert profiles.active() == b
    updated = profiles.save(Profile("b", b.url, "ktn", proxy="http://proxy:3128", created_at=9.0))
    assert updated.proxy == "http://proxy:3128"
    assert updated.created_at == 2.0  # an update keeps when it was made
    assert profiles.get("b") == updated
    profiles.remove("b")
    assert profiles.active() == a  # the active one went: the oldest left takes over
    profiles.remove("a")
    assert profiles.active() is None
    assert profiles.store.query_one("SELECT 1 FROM settings WHERE key = ?", (ACTIVE_KEY,)) is None
    with pytest.raises(ProfileNotFound, match="no hub profile named 'zz'"):
        profiles.set_active("zz")


def test_profile_connection_and_names() -> None:
    p = Profile(
        "p", "https://hub.example.org", "ktn", device="desk-1", ca_bundle="/ca.pem", allow_http=True
    )
    conn = p.connection(connect_timeout=3.0)
    assert (conn.url, conn.device, conn.ca_bundle, conn.allow_http) == (
        "https://hub.example.org",
        "desk-1",
        "/ca.pem",
        True,
    )
    assert conn.connect_timeout == 3.0
    assert default_profile_name("https://hub.example.org", "ktn") == "ktn@hub.example.org"
    assert default_profile_name("http://127.0.0.1:8750", "ktn") == "ktn@127.0.0.1:8750"
    assert default_device_name()
    assert p.display_name == "ktn"


# --- signing in ----------------------------------------------------------------------------------


def test_sign_in_keeps_the_token_in_secrets_and_nothing_secret_in_the_library(
    member: LiveHub, profiles: Profiles, secrets: MemorySecrets, store: Store
) -> None:
    profile = sign_in(
        profiles, secrets, member.url + "/api/v1/", "ktn", PASSWORD, allow_http=True, device="d1"
    )
    assert profile.url == member.url  # normalised
    assert profile.name == default_profile_name(member.url, "ktn")
    assert profile.member["username"] == "ktn"
    assert profile.member["country"] == "KE"
    assert profiles.active() == profile
    token = secrets.get(profile.secret_key)
    assert token
    assert secrets.keys() == [profile.secret_key]
    client = client_for(profile, secrets)
    assert client.me().username == "ktn"
    client.close()
    # Nothing secret in the library: the file bytes (WAL included) and the settings.
    raw = db_bytes(store)
    assert b"ktn" in raw  # the profile is there, so the search is meaningful
    assert token.encode() not in raw
    assert PASSWORD.encode() not in raw
    for row in store.query("SELECT key, value FROM settings"):
        assert token not in row["value"]
        assert PASSWORD not in row["value"]
    assert token not in repr(profile)


def test_wrong_password_is_a_clear_error_and_keeps_nothing(
    member: LiveHub, profiles: Profiles, secrets: MemorySecrets
) -> None:
    with pytest.raises(AuthError, match="refused the user name or password"):
        sign_in(profiles, secrets, member.url, "ktn", "wrong", allow_http=True)
    assert profiles.list() == []
    assert secrets.keys() == []
    assert profiles.active() is None


def test_too_many_wrong_passwords_say_so_and_when_to_try_again(
    member: LiveHub, profiles: Profiles, secrets: MemorySecrets
) -> None:
    limit = member.hub.settings.signin_max_failures_per_user
    for _ in range(limit):
        with pytest.raises(AuthError):
            sign_in(profiles, secrets, member.url, "ktn", "wrong", allow_http=True)
    # the hub now refuses even the right password for a while (429 with Retry-After)
    with pytest.raises(HubError, match=r"Too many failed sign-ins.*try again in \d+ minute") as e:
        sign_in(profiles, secrets, member.url, "ktn", PASSWORD, allow_http=True)
    assert e.value.status == 429
    assert profiles.list() == []


def test_plain_http_needs_the_users_permission(
    member: LiveHub, profiles: Profiles, secrets: MemorySecrets
) -> None:
    with pytest.raises(PlainHttpRefused, match="plain HTTP"):
        sign_in(profiles, secrets, member.url, "ktn", PASSWORD)
    assert profiles.list() == []
    assert tokens_on_hub(member) == 0


def test_bad_address_is_a_clear_error(profiles: Profiles, secrets: MemorySecrets) -> None:
    with pytest.raises(HubError, match="not a hub address"):
        sign_in(profiles, secrets, "ftp://hub.example.org", "ktn", PASSWORD)
    assert profiles.list() == []


@pytest.mark.parametrize(
    ("proxy", "said"),
    [
        ("http://desk:s3cret@proxy.newsroom.local:3128", "cannot be kept in a profile"),
        ("socks5://proxy.newsroom.local:1080", "not a proxy address"),
        ("proxy.newsroom.local:3128", "not a proxy address"),
        ("http://proxy.newsroom.local:port", "not a proxy address"),
    ],
)
def test_a_proxy_address_that_cannot_work_is_refused_before_the_hub_is_asked(
    member: LiveHub, profiles: Profiles, secrets: MemorySecrets, proxy: str, said: str
) -> None:
    with pytest.raises(HubError, match=said) as refused:
        sign_in(profiles, secrets, member.url, "ktn", PASSWORD, proxy=proxy, allow_http=True)
    assert "s3cret" not in str(refused.value)
    assert profiles.list() == []
    assert tokens_on_hub(member) == 0
    assert proxy_problem("") == proxy_problem("https://proxy.newsroom.local") == ""


def test_plain_text_keyring_is_refused_before_the_hub_is_asked(
    member: LiveHub, profiles: Profiles
) -> None:
    backend = PlaintextKeyring()
    secrets = KeyringSecrets(backend)
    with pytest.raises(PlainTextNotAccepted, match="plain-text"):
        sign_in(profiles, secrets, member.url, "ktn", PASSWORD, allow_http=True)
    assert backend.stored == {}
    assert profiles.list() == []
    assert tokens_on_hub(member) == 0  # no session was opened that could not be kept
    profile = sign_in(
        profiles, secrets, member.url, "ktn", PASSWORD, allow_http=True, allow_plain_secrets=True
    )
    assert list(backend.stored.values()) == [secrets.get(profile.secret_key)]


def test_a_token_that_cannot_be_kept_is_revoked_on_the_hub(
    member: LiveHub, profiles: Profiles
) -> None:
    class SetFails(LockedBackend):
        def get_password(self, service: str, username: str) -> str | None:
            return None

    with pytest.raises(SecretsError, match="locked"):
        sign_in(profiles, KeyringSecrets(SetFails()), member.url, "ktn", PASSWORD, allow_http=True)
    assert profiles.list() == []
    with member.hub.db.session() as s:
        tokens = list(s.scalars(select(Token)))
    assert len(tokens) == 1
    assert tokens[0].revoked_at is not None  # the session the hub opened was closed again


def live_tokens(h: LiveHub) -> int:
    with h.hub.db.session() as s:
        live = select(func.count()).select_from(Token).where(Token.revoked_at.is_(None))
        return int(s.scalar(live) or 0)


def test_a_token_no_keyring_can_keep_is_revoked_on_the_hub(
    member: LiveHub, profiles: Profiles
) -> None:
    """`alu login` on a workstation with no keyring failed "No keyring is available…" but left
    the hub's new 30-day session live (review): the CLI's stand-in store fails every call, its
    delete too, and that failure skipped the sign-out that came after it."""
    from alu_client.cli.common import CliError, _SecretsUnavailable

    unavailable = _SecretsUnavailable("No keyring is available to keep your sign-in safe.")
    for _ in range(3):
        with pytest.raises(CliError, match="No keyring is available"):
            sign_in(profiles, unavailable, member.url, "ktn", PASSWORD, allow_http=True)
    assert profiles.list() == []
    assert tokens_on_hub(member) == 3  # the hub gave a token each time …
    assert live_tokens(member) == 0  # … and each was ended again


def test_a_token_a_full_disk_cannot_keep_is_revoked_and_the_kept_one_works(
    member: LiveHub, profiles: Profiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Signing in again with the insecure file on a full disk: the new token cannot be
    written, nor can the file be rewritten to forget it. That second failure hid the first and
    the hub's new session stayed live; it is ended now, and the token kept before still works."""
    import errno

    from alu_client.core import durable
    from alu_client.core.credentials import FileSecrets

    secrets = FileSecrets(tmp_path / "secrets-NOT-SECURE.json")
    first = sign_in(profiles, secrets, member.url, "ktn", PASSWORD, allow_http=True)
    kept = secrets.get(first.secret_key)
    assert kept is not None

    def full_disk(_fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(durable, "fsync", full_disk)
    with pytest.raises(OSError, match="No space left"):
        sign_in(profiles, secrets, member.url, "ktn", PASSWORD, allow_http=True)
    assert tokens_on_hub(member) == 2
    assert live_tokens(member) == 1
    assert secrets.get(first.secret_key) == kept
    assert me_status(member, kept) == 200


def test_signing_in_again_that_fails_keeps_the_sign_in_kept_before(
    member: LiveHub, profiles: Profiles, secrets: MemorySecrets, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new token was written over the kept one, then the profile could not be saved (a
    full disk): the cleanup forgot the token, and the session kept before stayed live on the
    hub with no workstation holding it. It is put back; the new session is ended."""
    first = sign_in(profiles, secrets, member.url, "ktn", PASSWORD, allow_http=True)
    kept = secrets.get(first.secret_key)
    assert kept is not None

    def full_disk(*_: object) -> Profile:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Profiles, "save", full_disk)
    with pytest.raises(sqlite3.OperationalError):
        sign_in(profiles, secrets, member.url, "ktn", PASSWORD, allow_http=True)
    assert secrets.keys() == [first.secret_key]
    assert secrets.get(first.secret_key) == kept
    assert me_status(member, kept) == 200
    assert tokens_on_hub(member) == 2
    assert live_tokens(member) == 1


def test_signing_in_again_replaces_and_revokes_the_old_token(
    member: LiveHub, profiles: Profiles, secrets: MemorySecrets
) -> None:
    first = sign_in(profiles, secrets, member.url, "ktn", PASSWORD, allow_http=True)
    old = secrets.get(first.secret_key)
    assert old is not None
    again = sign_in(profiles, secrets, member.url, "ktn", PASSWORD, allow_http=True)
    new = secrets.get(again.secret_key)
    assert again.name == first.name
    assert again.created_at == first.created_at
    assert len(profiles.list()) == 1
    assert new is not None
    assert new != old
    assert me_status(member, old) == 401
    assert me_status(member, new) == 200


def test_two_profiles_for_two_hubs(
    member: LiveHub, profiles: Profiles, secrets: MemorySecrets, tmp_path: Path
) -> None:
    second = start_hub(tmp_path / "second")
    try:
        second.member("ktn", "other-password")
        a = sign_in(profiles, secrets, member.url, "ktn", PASSWORD, allow_http=True)
        b = sign_in(
            profiles, secrets, second.url, "ktn", "other-password", allow_http=True, name="backup"
        )
        assert [p.name for p in profiles.list()] == [a.name, "backup"]
        assert profiles.active() == b  # the last sign-in is the one in use
        assert a.secret_key != b.secret_key
        assert secrets.get(a.secret_key) != secrets.get(b.secret_key)
        for p, h in ((a, member), (b, second)):
            client = client_for(p, secrets)
            assert client.url == h.url
            assert client.me().username == "ktn"
            client.close()
        assert sign_out(profiles, secrets, "backup") is True
        client = client_for(a, secrets)  # the other hub's session is untouched
        assert client.me().username == "ktn"
        client.close()
        with pytest.raises(NotSignedIn):
            client_for(b, secrets)
    finally:
        second.server.stop()
        second.hub.db.dispose()
        shutil.rmtree(second.tmp / "hub", ignore_errors=True)


# --- signing out ---------------------------------------------------------------------------------


def test_sign_out_revokes_on_the_hub_and_forgets_the_token(
    member: LiveHub, profiles: Profiles, secrets: MemorySecrets
) -> None:
    profile = sign_in(profiles, secrets, member.url, "ktn", PASSWORD, allow_http=True)
    token = secrets.get(profile.secret_key)
    assert token is not None
    assert me_status(member, token) == 200
    assert sign_out(profiles, secrets, profile.name) is True
    assert me_status(member, token) == 401
    assert secrets.get(profile.secret_key) is None
    assert profiles.get(profile.name) == profile  # the library's profile stays
    with pytest.raises(NotSignedIn, match="sign in again"):
        client_for(profile, secrets)
    assert sign_out(profiles, secrets, profile.name) is None  # nothing left to revoke
    with pytest.raises(ProfileNotFound):
        sign_out(profiles, secrets, "nobody")


def test_sign_out_offline_still_forgets_the_token(
    member: LiveHub, profiles: Profiles, secrets: MemorySecrets
) -> None:
    profile = sign_in(profiles, secrets, member.url, "ktn", PASSWORD, allow_http=True)
    member.server.stop()
    assert sign_out(profiles, secrets, profile.name) is False  # the hub could not be told
    assert secrets.get(profile.secret_key) is None
    assert secrets.keys() == []


def test_a_moved_hubs_addresses_follow_in_the_library_and_queue(tmp_path: Path) -> None:
    # what the hub at its old address gave (the files of its items, a queued download, an
    # upload's URLs on the hub) follows the profile to the new address; what is elsewhere (a
    # store the hub sends downloads to), another profile's, and local paths stay
    from alu_client.core.profiles import move_hub_urls
    from alu_client.core.store.transfers import TransferStore

    old, new = "http://10.0.0.5:8750", "https://hub.example.org/alu"
    store = Store(tmp_path / "library.sqlite3")
    try:
        renditions = [
            {"kind": "broadcast", "url": f"{old}/api/v1/items/i1/renditions/broadcast"},
            {"kind": "proxy", "url": "https://s3.example.net/b/i1/proxy.mp4?sig=x"},
        ]
        with store.write() as c:
            for profile in ("ktn", "other"):
                c.execute(
                    "INSERT INTO items (profile, id, seq, kind, published_at, first_seen_at,"
                    " thumbnail_url, renditions) VALUES (?, 'i1', 1, 'agency', '2026-12-05', 0,"
                    " ?, ?)",
                    (profile, f"{old}/api/v1/items/i1/thumbnail", json.dumps(renditions)),
                )
        transfers = TransferStore(store)
        down = transfers.add(
            "download", f"{old}/api/v1/items/i1/renditions/broadcast", str(tmp_path / "a.mp4"),
            options={"profile": "ktn"},
        )  # fmt: skip
        up = transfers.add(
            "upload", str(tmp_path / "clip.mp4"), f"{old}/api/v1/uploads/",
            options={"profile": "ktn"},
        )  # fmt: skip
        transfers.save_checkpoint(
            up, {"url": f"{old}/api/v1/uploads/u1", "parts": {"0-5": f"{old}/api/v1/uploads/p1"}}
        )
        theirs = transfers.add(
            "upload", str(tmp_path / "clip.mp4"), f"{old}/api/v1/uploads/",
            options={"profile": "other"},
        )  # fmt: skip

        assert move_hub_urls(store, "ktn", old, new) == 4

        rows = {r["profile"]: r for r in store.query("SELECT * FROM items")}
        assert rows["ktn"]["thumbnail_url"] == f"{new}/api/v1/items/i1/thumbnail"
        assert [r["url"] for r in json.loads(rows["ktn"]["renditions"])] == [
            f"{new}/api/v1/items/i1/renditions/broadcast",
            "https://s3.example.net/b/i1/proxy.mp4?sig=x",
        ]
        assert rows["other"]["thumbnail_url"] == f"{old}/api/v1/items/i1/thumbnail"
        t_down, t_up, t_theirs = (transfers.get(t) for t in (down, up, theirs))
        assert t_down is not None and t_up is not None and t_theirs is not None
        assert t_down.source == f"{new}/api/v1/items/i1/renditions/broadcast"
        assert t_down.destination == str(tmp_path / "a.mp4")
        assert (t_up.source, t_up.destination) == (
            str(tmp_path / "clip.mp4"),
            f"{new}/api/v1/uploads/",
        )
        assert transfers.load_checkpoint(up) == {
            "url": f"{new}/api/v1/uploads/u1",
            "parts": {"0-5": f"{new}/api/v1/uploads/p1"},
        }
        assert t_theirs.destination == f"{old}/api/v1/uploads/"
        assert move_hub_urls(store, "ktn", old, new) == 0  # nothing left to move
    finally:
        store.close()


@pytest.mark.parametrize(
    ("old", "new", "value", "moved"),
    [
        # the address as typed (host case, a default port) against the hub's own (as requests
        # sends it): the same origin
        ("https://Hub.Example.org:443", "https://new.example.org", "https://hub.example.org/api/v1/x",
         "https://new.example.org/api/v1/x"),
        ("http://LOCALHOST:80/alu", "http://10.0.0.9:8750", "http://localhost/alu/api/v1/x?a=1",
         "http://10.0.0.9:8750/api/v1/x?a=1"),
        # not under the old address: left
        ("https://hub.example.org", "https://new.example.org",
         "https://hub.example.org.evil.net/api/v1/x", None),
        ("https://h.example.org/alu", "https://new.example.org", "https://h.example.org/alu2/x",
         None),
        ("https://hub.example.org", "https://new.example.org", "http://hub.example.org/api/v1/x",
         None),
        # a new address under the old one: moved once, never twice
        ("https://h.example.org", "https://h.example.org/alu", "https://h.example.org/api/v1/x",
         "https://h.example.org/alu/api/v1/x"),
    ],
)  # fmt: skip
def test_a_moved_hubs_addresses_are_matched_as_requests_sends_them(
    tmp_path: Path, old: str, new: str, value: str, moved: str | None
) -> None:
    from alu_client.core.profiles import move_hub_urls
    from alu_client.core.store.transfers import TransferStore

    store = Store(tmp_path / "library.sqlite3")
    try:
        transfers = TransferStore(store)
        tid = transfers.add("download", value, str(tmp_path / "a.mp4"), options={"profile": "p"})
        assert move_hub_urls(store, "p", old, new) == (0 if moved is None else 1)
        t = transfers.get(tid)
        assert t is not None and t.source == (moved or value)
        assert move_hub_urls(store, "p", old, new) == 0  # again: nothing more
        t = transfers.get(tid)
        assert t is not None and t.source == (moved or value)
    finally:
        store.close()


def test_a_move_that_failed_is_made_by_the_next_sign_in(
    profiles: Profiles, secrets: MemorySecrets, member: LiveHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the profile said the new address before its stored addresses were moved: a move that
    # failed (a full disk) was never made again, as the next sign-in saw no move to make
    from alu_client.core import profiles as profiles_module
    from alu_client.core.store.transfers import TransferStore

    p = sign_in(profiles, secrets, member.url, "ktn", PASSWORD, allow_http=True)
    old_source = f"{member.url}/api/v1/items/i1/renditions/broadcast"
    tid = TransferStore(profiles.store).add(
        "download", old_source, "/tmp/a.mp4", options={"profile": p.name}
    )
    moved_url = member.url.replace("127.0.0.1", "localhost")
    real = profiles_module.move_hub_urls

    def full_disk(*_: object) -> int:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(profiles_module, "move_hub_urls", full_disk)
    with pytest.raises(sqlite3.OperationalError):
        sign_in(profiles, secrets, moved_url, "ktn", PASSWORD, name=p.name, allow_http=True)
    assert profiles.require(p.name).url == member.url  # nothing half-done
    monkeypatch.setattr(profiles_module, "move_hub_urls", real)
    sign_in(profiles, secrets, moved_url, "ktn", PASSWORD, name=p.name, allow_http=True)
    assert profiles.require(p.name).url == moved_url
    t = TransferStore(profiles.store).get(tid)
    assert t is not None and t.source == old_source.replace("127.0.0.1", "localhost")


def test_a_profile_is_not_signed_into_as_an_account_differing_in_case(
    profiles: Profiles, secrets: MemorySecrets, member: LiveHub
) -> None:
    from alu_client.core.profiles import ProfileOfAnotherAccount

    member.member("KTN", PASSWORD)  # another account: the hub's names are exact
    p = sign_in(profiles, secrets, member.url, "ktn", PASSWORD, allow_http=True)
    with pytest.raises(ProfileOfAnotherAccount):
        sign_in(profiles, secrets, member.url, "KTN", PASSWORD, name=p.name, allow_http=True)
    assert profiles.require(p.name).username == "ktn"


def test_a_hub_that_says_no_identity_forgets_the_one_kept(profiles: Profiles) -> None:
    """Signed in to a hub without an identity (an older one, or one moved back to an older
    version): the identity kept of the profile's earlier hub goes. Kept, that hub's real move
    once it was upgraded (an identity of its own) was refused as "another hub" (review of
    diff35)."""
    profiles.set_hub_id("ktn@hub", "a" * 32)
    assert profiles.hub_id("ktn@hub") == "a" * 32
    profiles.set_hub_id("ktn@hub", "")
    assert profiles.hub_id("ktn@hub") == ""
