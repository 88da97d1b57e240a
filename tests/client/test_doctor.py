"""`alu doctor`'s checks: against a real hub on loopback, and the pure pieces with given values."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from alu_client.core.credentials import KeyringSecrets, MemorySecrets
from alu_client.core.doctor import (
    FAIL_FREE,
    GIB,
    MIB,
    Check,
    clock_check,
    disk_check,
    library_check,
    network_failure,
    run_checks,
    writable_check,
)
from alu_client.core.paths import Paths, default_paths
from alu_client.core.profiles import Profile, Profiles, sign_in
from alu_client.core.store.db import Store
from tests.client.test_credentials import DictBackend, PlaintextKeyring
from tests.support.hostile import Authority
from tests.support.livehub import LiveHub
from tests.support.tlsproxy import TlsTunnelProxy

PASSWORD = "doctor-pw-1"
HUB_CHECKS = ("hub reachable", "TLS", "signed in", "clock")


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return default_paths({"ALU_CLIENT_HOME": str(tmp_path / "client")}).ensure()


@pytest.fixture
def store(paths: Paths) -> Iterator[Store]:
    s = Store(paths.db_path)
    yield s
    s.close()


@pytest.fixture
def secrets() -> KeyringSecrets:
    return KeyringSecrets(DictBackend())  # a system keyring, as a workstation has


@pytest.fixture
def signed_in(live_hub: LiveHub, store: Store, secrets: KeyringSecrets) -> Profile:
    live_hub.member("ktn", PASSWORD)
    return sign_in(Profiles(store), secrets, live_hub.url, "ktn", PASSWORD, allow_http=True)


def by_name(checks: list[Check]) -> dict[str, Check]:
    names = [c.name for c in checks]
    assert len(names) == len(set(names)), names
    return {c.name: c for c in checks}


def test_all_ok_against_a_live_hub(
    paths: Paths, signed_in: Profile, secrets: KeyringSecrets
) -> None:
    checks = by_name(run_checks(paths, signed_in, secrets, timeout=10))
    assert set(checks) == {
        *HUB_CHECKS,
        "sign-in storage",
        "disk space (downloads)",
        "disk space (data folder)",
        "data folder",
        "data folder on a local disk",
        "library",
    }
    for name in (
        "hub reachable",
        "signed in",
        "clock",
        "sign-in storage",
        "data folder",
        "data folder on a local disk",
        "library",
    ):
        assert checks[name].ok is True, checks[name]
    assert checks["signed in"].message == "Signed in as ktn."
    assert checks["library"].message == "The library database is intact."
    # The test hub is plain HTTP, allowed for this profile: a warning that says so.
    assert checks["TLS"].ok is None
    assert "unencrypted" in checks["TLS"].message
    for name in ("disk space (downloads)", "disk space (data folder)"):
        assert checks[name].ok is not False, checks[name]
    assert all(c.message.endswith(".") for c in checks.values())


def test_stopped_hub_is_unreachable(
    paths: Paths, signed_in: Profile, secrets: KeyringSecrets, live_hub: LiveHub
) -> None:
    live_hub.server.stop()
    checks = by_name(run_checks(paths, signed_in, secrets, timeout=5))
    reach = checks["hub reachable"]
    assert reach.ok is False
    port = live_hub.server.port
    assert f"Nothing answers at 127.0.0.1:{port}" in reach.message
    assert "may be down" in reach.message
    for name in ("TLS", "signed in", "clock"):
        assert checks[name].ok is None
        assert checks[name].message == "Not checked: the hub cannot be reached."
    assert checks["library"].ok is True  # the workstation's own checks still run


def test_revoked_token_says_sign_in_again(
    paths: Paths, signed_in: Profile, secrets: KeyringSecrets, live_hub: LiveHub
) -> None:
    token = secrets.get(signed_in.secret_key)
    assert token is not None
    r = requests.delete(
        live_hub.api("/session"), headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert r.status_code == 204  # revoked behind the workstation's back (another device, admin)
    checks = by_name(run_checks(paths, signed_in, secrets, timeout=10))
    assert checks["hub reachable"].ok is True
    assert checks["signed in"].ok is False
    assert checks["signed in"].message.endswith("sign in again.")


def test_bad_token_says_sign_in_again(
    paths: Paths, signed_in: Profile, secrets: KeyringSecrets
) -> None:
    secrets.set(signed_in.secret_key, "not-a-real-token")
    checks = by_name(run_checks(paths, signed_in, secrets, timeout=10))
    assert checks["signed in"].ok is False
    assert "sign in again" in checks["signed in"].message


def test_no_token_says_sign_in(paths: Paths, live_hub: LiveHub) -> None:
    profile = Profile("p", live_hub.url, "ktn", allow_http=True)
    checks = by_name(run_checks(paths, profile, MemorySecrets(), timeout=10))
    assert checks["hub reachable"].ok is True
    assert checks["signed in"].ok is False
    assert "Not signed in" in checks["signed in"].message
    assert checks["clock"].ok is True  # the hub's Date header came with the 401 as well
    assert checks["sign-in storage"].ok is None  # memory: not kept between runs
    assert "not kept between runs" in checks["sign-in storage"].message


def test_plain_http_not_allowed_fails_tls(paths: Paths, live_hub: LiveHub) -> None:
    profile = Profile("p", live_hub.url, "ktn", allow_http=False)
    checks = by_name(run_checks(paths, profile, MemorySecrets(), timeout=10))
    assert checks["hub reachable"].ok is True
    assert checks["TLS"].ok is False
    assert "plain HTTP" in checks["TLS"].message


def test_no_profile_yet(paths: Paths) -> None:
    checks = by_name(run_checks(paths, None, MemorySecrets(), timeout=1))
    assert checks["hub"].ok is False
    assert checks["hub"].message == "No hub profile yet; sign in to your hub first."
    assert checks["library"].ok is True
    assert "no library yet" in checks["library"].message


def test_keyring_kinds_are_reported(paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = by_name(run_checks(paths, None, KeyringSecrets(PlaintextKeyring()), timeout=1))
    assert plain["sign-in storage"].ok is None
    assert "plain text" in plain["sign-in storage"].message
    monkeypatch.delenv("ALU_SECRETS", raising=False)
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        # No store given: doctor opens the workstation's own, and there is none.
        none = by_name(run_checks(paths, None, None, timeout=1))
    finally:
        keyring.set_keyring(previous)
    assert none["sign-in storage"].ok is False
    assert "No keyring is available" in none["sign-in storage"].message


# --- TLS -----------------------------------------------------------------------------------------


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by itself, as a corporate CA or a misconfigured hub."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ALU test hub")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "hub.pem", folder / "hub.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_self_signed_certificate_is_refused_with_the_way_in(
    paths: Paths, tls_hub: tuple[str, Path], live_hub: LiveHub
) -> None:
    url, _cert = tls_hub
    profile = Profile("tls", url, "ktn")
    checks = by_name(run_checks(paths, profile, MemorySecrets(), timeout=10))
    assert checks["hub reachable"].ok is True
    assert checks["TLS"].ok is False
    assert "self-signed certificate" in checks["TLS"].message
    assert "CA bundle" in checks["TLS"].message


def test_an_https_proxys_certificate_refused_is_said_of_the_proxy(
    paths: Paths,
    tls_hub: tuple[str, Path],
    live_hub: LiveHub,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # the sign-in said "the network's proxy cannot be reached" (it was reached: its
    # certificate was refused), the doctor "the request failed (ProxyError)"
    from alu_client.core import proxy_login
    from alu_client.core.hub import Connection, HubClient, TlsError

    url, cert = tls_hub
    live_hub.member("ktn", PASSWORD)
    ca = Authority(tmp_path / "proxy-ca", name="Station Proxy CA")
    proxy = TlsTunnelProxy(*ca.issue(["127.0.0.1"], name="proxy"))
    login = proxy_login.ProxyLogin("ktn-desk", "pr0xy-s3cret")
    caplog.set_level("DEBUG")
    try:
        through = proxy_login.with_login(proxy.url, login)
        client = HubClient(Connection(url, ca_bundle=str(cert), proxy=through))
        with pytest.raises(TlsError) as refused:
            client.sign_in("ktn", PASSWORD, patience=0)
        assert refused.value.proxy == proxy.url
        assert str(refused.value) == (
            f"The security certificate of the network's proxy ({proxy.url}) could not be "
            f"verified, so the hub at {client.url} was not reached. If your network uses its "
            "own certificate authority, add it to the system's certificate store, or set a CA "
            "bundle in the hub's profile that holds it and the hub's authority."
        )
        secrets = MemorySecrets()
        profile = Profile("tls", url, "ktn", ca_bundle=str(cert), proxy=proxy.url)
        proxy_login.save(secrets, profile.secret_key, login, allow_plain=True)
        checks = by_name(run_checks(paths, profile, secrets, timeout=10))
        assert checks["TLS"].ok is False
        assert checks["TLS"].message.startswith(
            f"The certificate of the network's proxy ({proxy.url}) is refused (unable to get "
            "local issuer certificate). If the proxy has its own certificate authority, add it "
            "to the system's certificate store"
        ), checks["TLS"].message
        assert checks["hub reachable"].ok is None
        said = str(refused.value) + "".join(c.message for c in checks.values()) + caplog.text
        assert "ktn-desk" not in said and "pr0xy-s3cret" not in said
        assert proxy.tunnels == 0
        # as said: a bundle holding the proxy's authority and the hub's
        both = tmp_path / "both.pem"
        both.write_bytes(cert.read_bytes() + ca.bundle.read_bytes())
        client = HubClient(Connection(url, ca_bundle=str(both), proxy=through))
        assert client.sign_in("ktn", PASSWORD).member.username == "ktn"
        assert proxy.tunnels >= 1
    finally:
        proxy.close()


def test_custom_ca_bundle_makes_tls_valid(
    paths: Paths, tls_hub: tuple[str, Path], live_hub: LiveHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, cert = tls_hub
    # A bundle from the environment must not replace the profile's own (requests prefers it).
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", requests.certs.where())
    live_hub.login("ktn", PASSWORD)
    secrets = MemorySecrets()
    profile = Profile("tls", url, "ktn", ca_bundle=str(cert))
    secrets.set(profile.secret_key, live_hub.tokens["ktn"])
    checks = by_name(run_checks(paths, profile, secrets, timeout=10))
    for name in HUB_CHECKS:
        assert checks[name].ok is True, checks[name]
    assert checks["TLS"].message == "The hub's certificate is valid."
    assert checks["signed in"].message == "Signed in as ktn."


# --- the pure pieces -----------------------------------------------------------------------------


def test_clock_check_logic() -> None:
    hub_time = dt.datetime(2026, 10, 5, 12, 0, 0, tzinfo=dt.UTC)
    assert clock_check(hub_time + dt.timedelta(seconds=90), hub_time).ok is True
    assert clock_check(hub_time - dt.timedelta(seconds=119), hub_time).ok is True
    ahead = clock_check(hub_time + dt.timedelta(minutes=7, seconds=10), hub_time)
    assert ahead.ok is None
    assert ahead.message.startswith("The workstation clock is 7 min ahead of the hub's;")
    assert "history times are corrected but fix the clock" in ahead.message
    behind = clock_check(hub_time - dt.timedelta(hours=5), hub_time)
    assert "5 h behind" in behind.message
    days = clock_check(hub_time + dt.timedelta(days=3), hub_time)
    assert "3 days ahead" in days.message
    unknown = clock_check(hub_time, None)
    assert unknown.ok is None
    assert "not checked" in unknown.message


def test_clock_check_fails_past_the_hubs_limit() -> None:
    # a typed year (2150): the hub refuses every history batch (422 clock_off), nothing is
    # corrected, so doctor fails and says the date the clock shows
    hub_time = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
    typed = clock_check(dt.datetime(2150, 1, 1, 12, 0, tzinfo=dt.UTC), hub_time)
    assert typed.ok is False
    assert typed.message.startswith(
        "The workstation clock says 2150-01-01 12:00 UTC, 123 years ahead of the hub's: "
        "the hub refuses this workstation's history"
    )
    assert "corrected" not in typed.message
    # a clock that lost its battery (1970) is corrected: a warning, its offset in years
    battery = clock_check(dt.datetime(1970, 1, 2, tzinfo=dt.UTC), hub_time)
    assert battery.ok is None
    assert battery.message.startswith("The workstation clock is 57 years behind the hub's;")
    assert "2 years ahead" in clock_check(hub_time + dt.timedelta(days=800), hub_time).message


def test_disk_check_thresholds(tmp_path: Path) -> None:
    assert disk_check("d", tmp_path, free=20 * GIB).ok is True
    low = disk_check("d", tmp_path, free=2 * GIB)
    assert low.ok is None
    assert "2.0 GiB free" in low.message
    full = disk_check("d", tmp_path, free=FAIL_FREE - 1)
    assert full.ok is False
    assert "transfers will stop" in full.message
    assert "Free disk space" in full.message
    assert disk_check("d", tmp_path, free=300 * MIB).message.startswith("Only 300 MiB free")
    # A folder not made yet: the space of the disk it will be on.
    assert disk_check("d", tmp_path / "not" / "yet").ok is not False


def test_network_failure_sentences() -> None:
    dns = network_failure("hub.example.invalid", 443, socket.gaierror(-2, "Name unknown"), 10)
    assert "hub.example.invalid cannot be found (DNS)" in dns
    slow = network_failure("10.0.0.9", 443, TimeoutError("timed out"), 10)
    assert "did not answer within 10 s" in slow
    assert "firewall" in slow
    refused = network_failure("127.0.0.1", 1, ConnectionRefusedError(111, "refused"), 10)
    assert refused.startswith("Nothing answers at 127.0.0.1:1")
    proxy = network_failure(
        "proxy.lan", 3128, OSError(113, "No route to host"), 10, what="the proxy"
    )
    assert (
        proxy
        == "The proxy at proxy.lan:3128 cannot be reached (No route to host); check the network."
    )


def test_data_folder_not_writable(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    check = writable_check(blocker / "data")
    assert check.ok is False
    assert "cannot write in its data folder" in check.message
    assert writable_check(tmp_path / "fine").ok is True


def test_damaged_library_is_reported(tmp_path: Path) -> None:
    db = tmp_path / "library.sqlite3"
    Store(db).close()
    assert library_check(db).ok is True
    db.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4096)
    damaged = library_check(db)
    assert damaged.ok is False
    # its -wal and -shm go with it: a copy put back beside them was damaged by them
    assert "move library.sqlite3 aside together with library.sqlite3-wal and" in damaged.message
    assert "library.sqlite3.bak-vN" in damaged.message


def test_the_doctor_does_not_ask_for_a_sign_in_when_the_library_cannot_be_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With a library it cannot open, the doctor said "No hub profile yet; sign in to your hub
    first" above the real cause: the profile is there, in the library."""
    from alu_client import cli

    monkeypatch.setenv("ALU_CLIENT_HOME", str(tmp_path))
    db = tmp_path / "data" / "library.sqlite3"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"not a database at all" * 300)
    assert cli.main(["doctor", "--timeout", "1"]) == 1
    said = capsys.readouterr().out
    assert "No hub profile yet" not in said
    assert "warn  hub: Not checked: the hub's profile is kept in the library" in said
    assert "FAIL  library: The library" in said and "-wal" in said
    assert cli.main(["queue", "list"]) == 1  # every verb gives the same advice
    assert "together with library.sqlite3-wal" in capsys.readouterr().err


def test_a_full_disk_is_not_called_a_damaged_library(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # a read-only open in WAL mode that cannot grow its -shm file says "disk I/O error": on a
    # full disk the doctor said "move that file aside and start again" (the queue and the
    # history not yet sent thrown away), and every alu verb "restore the file from a backup"
    import collections
    import sqlite3

    from alu_client import cli
    from alu_client.core.store import problems

    db = tmp_path / "data" / "library.sqlite3"
    db.parent.mkdir()
    Store(db).close()
    usage = collections.namedtuple("usage", "total used free")
    free = {"bytes": 0}
    monkeypatch.setattr(
        problems.shutil, "disk_usage", lambda _p: usage(10**9, 10**9, free["bytes"])
    )

    def io_error(*_a: object, **_k: object) -> sqlite3.Connection:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr("alu_client.core.doctor.sqlite3.connect", io_error)
    full = library_check(db)
    assert full.ok is False and "is full" in full.message and "aside" not in full.message
    free["bytes"] = 10**9  # room on the disk: an I/O error of another kind, still no "aside"
    other = library_check(db)
    assert other.ok is False and "aside" not in other.message and "disk I/O" in other.message
    monkeypatch.undo()

    monkeypatch.setenv("ALU_CLIENT_HOME", str(tmp_path))
    monkeypatch.setattr(problems.shutil, "disk_usage", lambda _p: usage(10**9, 10**9, 4096))
    monkeypatch.setattr(
        "alu_client.cli.queue_verbs.open_services",
        lambda **_k: (_ for _ in ()).throw(sqlite3.OperationalError("disk I/O error")),
    )
    assert cli.main(["queue", "list"]) == 1
    said = capsys.readouterr().err
    assert "is full" in said and "nothing is lost" in said and "backup" not in said
    assert problems.disk_full(OSError(28, "No space left on device"), tmp_path)
    assert problems.disk_full(sqlite3.OperationalError("database or disk is full"), tmp_path)


def test_sign_in_over_tls_uses_the_profile_ca_bundle_over_the_environment(
    paths: Paths, tls_hub: tuple[str, Path], live_hub: LiveHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HubClient and the transfer engine's sessions keep the profile's CA bundle even where
    REQUESTS_CA_BUNDLE points elsewhere (requests would let the environment win)."""
    from alu_client.core.hub import Connection, HubClient, TlsError
    from alu_client.core.transfers.base import SessionPool

    url, cert = tls_hub
    live_hub.member("ktn", PASSWORD)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", requests.certs.where())
    with pytest.raises(TlsError, match="CA bundle"):
        HubClient(Connection(url)).sign_in("ktn", PASSWORD)
    client = HubClient(Connection(url, ca_bundle=str(cert)))
    assert client.sign_in("ktn", PASSWORD).member.username == "ktn"
    pool = SessionPool(verify=str(cert))
    r = pool.get(url).get(client.api + "/me", headers=client.auth_headers(), timeout=10)
    assert r.status_code == 200 and r.json()["username"] == "ktn"
    pool.close()


def test_the_doctor_checks_the_download_folder_chosen_in_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """It said "ok … free for …/downloads", the default folder nobody used, for a chosen NAS
    folder that was full or not mounted."""
    from alu_client import cli
    from alu_client.core.settings import AppSettings

    monkeypatch.setenv("ALU_CLIENT_HOME", str(tmp_path / "home"))
    paths = default_paths({"ALU_CLIENT_HOME": str(tmp_path / "home")}).ensure()
    chosen = tmp_path / "nas" / "news"
    chosen.mkdir(parents=True)
    store = Store(paths.db_path)
    try:
        AppSettings(store, paths.downloads_dir).download_dir = chosen
    finally:
        store.close()

    def lines() -> list[str]:
        cli.main(["doctor", "--timeout", "0.5"])
        out = capsys.readouterr().out.splitlines()
        return [line for line in out if "disk space (downloads)" in line]

    [line] = lines()
    assert line.endswith(f"free for {chosen}.") and line.startswith("ok"), line
    chosen.rmdir()  # the share away: its mount point left empty, or gone
    chosen.parent.rmdir()
    [line] = lines()
    assert line.startswith("FAIL  disk space (downloads): The download folder"), line
    assert str(chosen) in line and "is not there" in line


def test_the_rules_folders_on_other_disks_are_checked_too(tmp_path: Path) -> None:
    from alu_client.core.doctor import download_checks

    default, chosen = tmp_path / "downloads", tmp_path / "chosen"
    chosen.mkdir()
    elsewhere = Path("/dev/shm") / f"alu-doctor-{os.getpid()}"  # another disk, when there
    other_disk = Path("/dev/shm").is_dir() and os.stat("/dev/shm").st_dev != tmp_path.stat().st_dev
    checks = download_checks(default, chosen, [chosen / "sport", elsewhere])
    # the first rule's folder is on the disk checked already (not made yet: made when used)
    assert [c.name for c in checks] == ["disk space (downloads)"] + (
        [f"disk space (a rule's folder {elsewhere})"] if other_disk else []
    )
    assert checks[0].ok is True and checks[0].message.endswith(f"free for {chosen}.")
    assert download_checks(default)[0].message.endswith(f"free for {default}.")  # not made yet


def test_the_doctor_fails_a_data_folder_on_a_network_share(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from alu_client import cli
    from alu_client.core import fstype

    monkeypatch.setenv("ALU_CLIENT_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(fstype, "network_fstype", lambda _p: "nfs4")
    assert cli.main(["doctor", "--timeout", "0.5"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  data folder on a local disk: The data folder" in out, out
    assert "is on a network share (nfs4)" in out
