"""The token store: OS keyring detection (none / plain / system), the test stores, and keys.

No system keyring exists in CI (keyring's ``fail`` backend is what ``get_keyring()`` returns
there), so keyring backends are stand-ins with keyring's backend interface. They are plain
classes on purpose: subclasses of ``keyring.backend.KeyringBackend`` register themselves as
candidates for the whole process.
"""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import keyring
import keyring.backends.chainer
import keyring.backends.fail
import keyring.backends.null
import pytest
from keyring.errors import KeyringLocked, PasswordDeleteError

from alu_client.core.credentials import (
    INSECURE_FILE_NAME,
    SERVICE,
    FileSecrets,
    KeyringSecrets,
    MemorySecrets,
    NoKeyring,
    PlainTextNotAccepted,
    Secrets,
    SecretsError,
    backend_kind,
    open_secrets,
    secret_key,
)
from alu_client.core.paths import default_paths

TOKEN = "tok-7f3a9c-secret-value"


class DictBackend:
    """A keyring backend in memory with the given priority (keyring's interface)."""

    priority: float = 5.0

    def __init__(self) -> None:
        self.stored: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.stored.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.stored[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.stored.pop((service, username), None) is None:
            raise PasswordDeleteError("Password not found")


class PlaintextKeyring(DictBackend):
    """Named as keyrings.alt's plain-text file backend, ranked as keyring ranks it."""

    priority = 0.5
    file_path = "/home/user/.local/share/python_keyring/keyring_pass.cfg"


class LowPriorityBackend(DictBackend):
    """A backend keyring itself ranks "viable but not recommended" (below 1)."""

    priority = 0.4


class LockedBackend(DictBackend):
    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked(f"locked while reading {username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked(f"locked while writing {password}")


# --- keys ------------------------------------------------------------------------------------


def test_keys_never_collide_between_profiles_hubs_and_users() -> None:
    a, b = "https://hub-a.example.org", "https://hub-b.example.org"
    keys = {
        secret_key("newsroom", a, "ktn"),
        secret_key("newsroom", b, "ktn"),
        secret_key("newsroom", a, "ntv"),
        secret_key("backup", a, "ktn"),
        # separators inside names cannot fake another profile's key
        secret_key("a:b", a, "c"),
        secret_key("a", a, "b:c"),
        secret_key("x@y", a, "z"),
        secret_key("x", a, "y@z"),
    }
    assert len(keys) == 8
    assert secret_key("newsroom", a, "ktn") == "newsroom:ktn@https://hub-a.example.org"


# --- the OS keyring ----------------------------------------------------------------------------


def test_keyring_of_this_machine_is_classified() -> None:
    # CI has no keyring at all: keyring answers with its fail backend, which means NoKeyring.
    current = keyring.get_keyring()
    kind = backend_kind(current)
    assert kind in ("none", "plain", "system")
    if isinstance(current, keyring.backends.fail.Keyring):
        assert kind == "none"
        with pytest.raises(NoKeyring):
            KeyringSecrets()


@pytest.mark.parametrize(
    "backend",
    [
        keyring.backends.fail.Keyring(),
        keyring.backends.null.Keyring(),
        keyring.backends.chainer.ChainerBackend(),
    ],
    ids=["fail", "null", "empty-chainer"],
)
def test_no_keyring_is_a_clear_error(backend: object) -> None:
    with pytest.raises(NoKeyring) as e:
        KeyringSecrets(backend)
    message = str(e.value)
    assert "No keyring is available" in message
    # the installed app cannot use pip (it does not see the system's packages): its own choice
    assert "keyrings.alt" not in message and "pip install" not in message
    assert "ALU Desk app asks" in message and "alu login … --accept-plain-secrets" in message
    if sys.platform.startswith("linux"):
        assert "GNOME Keyring" in message
        assert "KWallet" in message


def test_open_secrets_without_any_keyring_raises_no_keyring(tmp_path: Path) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        with pytest.raises(NoKeyring, match="No keyring is available"):
            open_secrets(default_paths({"ALU_CLIENT_HOME": str(tmp_path)}), env={})
    finally:
        keyring.set_keyring(previous)


def test_system_keyring_keeps_tokens_under_the_profile_key() -> None:
    backend = DictBackend()
    secrets = KeyringSecrets(backend)
    assert isinstance(secrets, Secrets)
    assert secrets.is_system
    assert not secrets.plain_text
    assert not secrets.needs_consent
    key = secret_key("newsroom", "https://hub.example.org", "ktn")
    assert secrets.get(key) is None
    secrets.set(key, TOKEN)
    assert backend.stored == {(SERVICE, key): TOKEN}
    assert secrets.get(key) == TOKEN
    secrets.delete(key)
    assert secrets.get(key) is None
    secrets.delete(key)  # forgetting twice is harmless
    assert backend.stored == {}


@pytest.mark.parametrize("backend_type", [PlaintextKeyring, LowPriorityBackend])
def test_plain_text_keyring_is_refused_until_accepted(backend_type: type[DictBackend]) -> None:
    backend = backend_type()
    secrets = KeyringSecrets(backend)
    assert not secrets.is_system
    assert secrets.plain_text
    assert secrets.needs_consent
    with pytest.raises(PlainTextNotAccepted, match="plain-text") as e:
        secrets.set("k", TOKEN)
    assert TOKEN not in str(e.value)
    assert backend.stored == {}  # refused means nothing was written
    secrets.set("k", TOKEN, allow_plain=True)
    assert secrets.get("k") == TOKEN
    secrets.delete("k")  # forgetting never needs consent
    assert backend.stored == {}


def test_plain_text_keyring_accepted_once_for_the_store() -> None:
    backend = PlaintextKeyring()
    secrets = KeyringSecrets(backend, allow_plain=True)
    assert not secrets.needs_consent
    secrets.set("k", TOKEN)
    assert backend.stored == {(SERVICE, "k"): TOKEN}
    assert "keyring_pass.cfg" in secrets.name


def test_keyring_errors_are_sentences_without_the_token(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = KeyringSecrets(LockedBackend())
    with pytest.raises(SecretsError, match="locked") as e:
        secrets.set("profile-key", TOKEN)
    assert TOKEN not in str(e.value)
    with pytest.raises(SecretsError, match="unlock"):
        secrets.get("profile-key")
    assert TOKEN not in caplog.text


# --- stores for tests, CI and the demo -------------------------------------------------------


def test_memory_secrets_round_trip_and_hide_values() -> None:
    secrets = MemorySecrets()
    assert isinstance(secrets, Secrets)
    assert not secrets.is_system
    assert not secrets.needs_consent
    secrets.set("a", TOKEN)
    secrets.set("b", "other")
    assert secrets.get("a") == TOKEN
    assert secrets.keys() == ["a", "b"]
    secrets.delete("a")
    secrets.delete("a")
    assert secrets.get("a") is None
    assert TOKEN not in repr(secrets)


def test_file_secrets_are_private_and_survive_the_process(tmp_path: Path) -> None:
    path = tmp_path / "data" / INSECURE_FILE_NAME
    program = (
        "import sys; from pathlib import Path;"
        "from alu_client.core.credentials import FileSecrets;"
        "FileSecrets(Path(sys.argv[1])).set('newsroom', sys.argv[2])"
    )
    subprocess.run([sys.executable, "-c", program, str(path), TOKEN], check=True, timeout=60)
    secrets = FileSecrets(path)
    assert secrets.get("newsroom") == TOKEN  # written by another process
    assert secrets.plain_text
    assert not secrets.is_system
    assert "NOT secure" in secrets.name
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    secrets.set("second", "t2")
    secrets.delete("newsroom")
    assert FileSecrets(path).get("newsroom") is None
    assert FileSecrets(path).get("second") == "t2"
    assert TOKEN not in repr(secrets)
    assert [p.name for p in path.parent.iterdir()] == [INSECURE_FILE_NAME]  # no temp left


def test_file_secrets_damaged_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / INSECURE_FILE_NAME
    path.write_text("{not json")
    with pytest.raises(SecretsError, match="delete it and sign in again"):
        FileSecrets(path).get("k")


def test_alu_secrets_variable_picks_the_store(tmp_path: Path) -> None:
    paths = default_paths({"ALU_CLIENT_HOME": str(tmp_path)})
    memory = open_secrets(paths, env={"ALU_SECRETS": "memory"})
    assert isinstance(memory, MemorySecrets)
    assert open_secrets(paths, env={"ALU_SECRETS": "memory"}) is memory  # one per process
    insecure = open_secrets(paths, env={"ALU_SECRETS": "insecure-file"})
    assert isinstance(insecure, FileSecrets)
    assert insecure.path == paths.data_dir / INSECURE_FILE_NAME
    system = open_secrets(paths, env={"ALU_SECRETS": "keyring"}, backend=DictBackend())
    assert isinstance(system, KeyringSecrets)
    assert system.is_system
    with pytest.raises(SecretsError, match="not known"):
        open_secrets(paths, env={"ALU_SECRETS": "bogus"})
