"""Where the sign-in token of each hub profile is kept, behind one small interface.

``Secrets`` is get / set / delete by a profile's key, plus what kind of store it is (as Vorta's
``keyring/abc.py``). The real one is the OS keyring through ``keyring`` (``KeyringSecrets``):
the Secret Service (GNOME Keyring, KWallet) on Linux, the Keychain on macOS, the Credential
Manager on Windows. Nothing secret is ever written to the library database or settings.

What the keyring package found decides what happens, never silently:

* no usable backend (keyring's ``fail`` or ``null`` backend) → ``NoKeyring``, whose message
  says what to install;
* only a plain-text backend (``keyrings.alt``'s ``PlaintextKeyring`` or anything keyring itself
  ranks below 1, "viable but not recommended") → the store works, says ``plain_text``, and
  refuses to *write* a token (``PlainTextNotAccepted``) until the user has accepted it
  (``allow_plain=True``, given once the UI or the CLI asked). Reading and deleting stay allowed:
  they expose nothing new, and sign-out must always be able to forget a token.

``ALU_SECRETS`` picks another store, for tests, CI and the demo (see ``open_secrets``):

* ``memory`` — ``MemorySecrets``, one in-process dict shared by the whole process; nothing is
  written anywhere, and a new process starts signed out;
* ``insecure-file`` — ``FileSecrets``, a JSON file readable only by the user (mode 0600) in the
  data folder, so ``alu login`` then ``alu whoami`` work across processes in tests. It is NOT
  secure (anyone who can read your files can use the token); the app says so (``plain_text``).
  Setting this variable is the consent; never use it on a workstation in service.

Tokens never reach a log line, an exception message or a repr.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import quote

from . import durable
from .paths import Paths

log = logging.getLogger(__name__)

SERVICE = "ALU Desk"
ENV = "ALU_SECRETS"
INSECURE_FILE_NAME = "secrets-NOT-SECURE.json"


class SecretsError(Exception):
    """The token store failed; ``str()`` is the user's sentence."""


class NoKeyring(SecretsError):
    """No keyring at all is available on this workstation."""


class KeyringFailed(SecretsError):
    """The keyring ``keyring`` (its name) failed with the error type ``error`` (its name
    only: its text can hold what was passed in)."""

    def __init__(self, message: str, keyring: str, error: str) -> None:
        super().__init__(message)
        self.keyring = keyring
        self.error = error


class PlainTextNotAccepted(SecretsError):
    """Only a plain-text store exists and the user has not accepted it (yet)."""


@runtime_checkable
class Secrets(Protocol):
    """A place for sign-in tokens, keyed by ``secret_key(profile, url, user)``."""

    @property
    def name(self) -> str:
        """What and where the store is, for people ("the Secret Service keyring")."""
        ...

    @property
    def is_system(self) -> bool:
        """An OS keyring that guards its secrets (encrypted, locked with the session)."""
        ...

    @property
    def plain_text(self) -> bool:
        """Tokens end up readable by anyone who can read the user's files."""
        ...

    @property
    def needs_consent(self) -> bool:
        """A write would be refused until the user accepts plain text (``allow_plain``)."""
        ...

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, token: str, *, allow_plain: bool = False) -> None: ...

    def delete(self, key: str) -> None:
        """Forget the token under ``key``; nothing happens when there is none."""
        ...


def secret_key(profile: str, url: str, username: str) -> str:
    """The keyring "username" of one profile's token: ``name:user@url``.

    Name and user are percent-quoted (so neither may contain the ``:`` or ``@`` that separate
    the parts), which makes the key unambiguous: two profiles never share a token, and the
    same account on two hubs neither. It stays readable in a keyring manager (Seahorse, …).
    """
    return f"{quote(profile, safe='')}:{quote(username, safe='')}@{url}"


def plain_warning(where: str) -> str:
    return (
        f"Only a plain-text store is available for your sign-in ({where}): anyone who can read "
        "your files could use it. Install a system keyring (on Linux GNOME Keyring or KWallet, "
        "unlocked with your session) and sign in again, or accept plain text to go on."
    )


def no_keyring_message() -> str:
    if sys.platform.startswith("linux") or "bsd" in sys.platform:
        fix = (
            "install and unlock a Secret Service keyring (GNOME Keyring — package "
            "gnome-keyring — or KWallet) in your desktop session, then sign in again"
        )
    elif sys.platform == "darwin":
        fix = "make sure your login Keychain is unlocked (Keychain Access), then sign in again"
    elif sys.platform == "win32":
        fix = "make sure Windows Credential Manager is running, then sign in again"
    else:
        fix = "install a keyring supported by the Python keyring package, then sign in again"
    return (
        f"No keyring is available to keep your sign-in safe: {fix}. If you accept that the "
        "token is kept in a plain-text file instead (readable by this user only: a station "
        "without a desktop session, run by `alu` alone), say so when the ALU Desk app asks, or "
        "sign in with `alu login … --accept-plain-secrets`."
    )


def accepted_plain_file(paths: Paths, *, accept: bool = False) -> FileSecrets | None:
    """Where there is no keyring at all: the plain-text file of tokens the user accepted in its
    place — now (``accept``: `alu login --accept-plain-secrets`, the app's question) or before
    (the file is there) — else None."""
    path = paths.data_dir / INSECURE_FILE_NAME
    if accept or path.exists():
        return FileSecrets(path, "accepted: no keyring here")
    return None


# --- the OS keyring ---------------------------------------------------------------------------


def backend_kind(backend: Any) -> str:
    """``"none"``, ``"plain"`` or ``"system"`` for a keyring backend object."""
    cls = type(backend)
    module, cls_name = cls.__module__, cls.__name__
    if module.startswith("keyring.backends.chainer"):
        # The chainer writes to its highest-priority backend first: that one decides.
        chained = list(getattr(backend, "backends", []) or [])
        return backend_kind(chained[0]) if chained else "none"
    if module in ("keyring.backends.fail", "keyring.backends.null"):
        return "none"
    if "plaintext" in cls_name.lower() or module.startswith("keyrings.alt.file"):
        # keyrings.alt.file also has EncryptedKeyring: a file under a password the user types
        # at every start, which ALU Desk cannot ask for; treat it as plain as well.
        return "plain"
    try:
        priority = float(backend.priority)
    except Exception:  # a backend whose environment vanished: keyring raises RuntimeError
        return "none"
    if priority <= 0:
        return "none"
    # keyring's own rule: below 1 is "suitable" but not recommended — the plain-text ones.
    return "plain" if priority < 1 else "system"


def backend_name(backend: Any) -> str:
    cls = type(backend)
    module = cls.__module__
    known = {
        "keyring.backends.SecretService": "the Secret Service keyring (GNOME Keyring, KWallet)",
        "keyring.backends.kwallet": "KWallet",
        "keyring.backends.macOS": "the macOS Keychain",
        "keyring.backends.Windows": "Windows Credential Manager",
        "keyring.backends.libsecret": "the Secret Service keyring (libsecret)",
    }
    if module in known:
        return known[module]
    if module.startswith("keyring.backends.chainer"):
        chained = list(getattr(backend, "backends", []) or [])
        return backend_name(chained[0]) if chained else "no keyring"
    path = getattr(backend, "file_path", None)
    if isinstance(path, str):
        return f"a plain-text file, {path}"
    return str(getattr(backend, "name", f"{module}.{cls.__name__}"))


class KeyringSecrets:
    """Tokens in the OS keyring, service ``ALU Desk``."""

    def __init__(self, backend: Any = None, *, allow_plain: bool = False) -> None:
        if backend is None:
            import keyring

            backend = keyring.get_keyring()
        self._backend = backend
        self.kind = backend_kind(backend)
        if self.kind == "none":
            raise NoKeyring(no_keyring_message())
        self.name = backend_name(backend)
        self.is_system = self.kind == "system"
        self.plain_text = self.kind == "plain"
        self.allow_plain = allow_plain
        log.info("sign-in tokens kept in %s", self.name)

    def __repr__(self) -> str:
        return f"KeyringSecrets({self.name!r}, kind={self.kind!r})"

    @property
    def needs_consent(self) -> bool:
        return self.plain_text and not self.allow_plain

    def get(self, key: str) -> str | None:
        token = self._call("read", self._backend.get_password, SERVICE, key)
        return token if isinstance(token, str) and token else None

    def set(self, key: str, token: str, *, allow_plain: bool = False) -> None:
        if self.plain_text and not (allow_plain or self.allow_plain):
            raise PlainTextNotAccepted(plain_warning(self.name))
        self._call("save", self._backend.set_password, SERVICE, key, token)

    def delete(self, key: str) -> None:
        from keyring.errors import PasswordDeleteError

        try:
            self._backend.delete_password(SERVICE, key)
        except PasswordDeleteError:
            pass  # there was none: already forgotten
        except Exception as e:
            raise self._error("remove", e) from None

    def _call(self, verb: str, fn: Any, *args: str) -> Any:
        try:
            return fn(*args)
        except Exception as e:
            raise self._error(verb, e) from None

    def _error(self, verb: str, e: Exception) -> SecretsError:
        # The exception's text can hold what was passed in; name only its type.
        from keyring.errors import KeyringLocked, NoKeyringError

        if isinstance(e, NoKeyringError):
            return NoKeyring(no_keyring_message())
        if isinstance(e, KeyringLocked):
            return SecretsError(f"{self.name} is locked; unlock it and try again.")
        return KeyringFailed(
            f"{self.name} could not {verb} the sign-in ({type(e).__name__}); unlock the "
            "keyring, or sign in again.",
            self.name,
            type(e).__name__,
        )


# --- stores for tests, CI and the demo --------------------------------------------------------


class MemorySecrets:
    """An in-process dict: for tests and the demo. Nothing persists past the process."""

    name = "memory only (ALU_SECRETS=memory; sign in again at each start)"
    is_system = False
    plain_text = False
    needs_consent = False

    def __init__(self) -> None:
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MemorySecrets({len(self._tokens)} tokens)"

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._tokens.get(key)

    def set(self, key: str, token: str, *, allow_plain: bool = False) -> None:
        with self._lock:
            self._tokens[key] = token

    def delete(self, key: str) -> None:
        with self._lock:
            self._tokens.pop(key, None)

    def keys(self) -> list[str]:
        with self._lock:
            return sorted(self._tokens)


class FileSecrets:
    """Tokens in a JSON file of mode 0600 — NOT secure; with ``ALU_SECRETS=insecure-file``
    (tests across processes, the demo: choosing it through the variable is the consent), or
    where there is no keyring at all and the user accepted it (the app's question, `alu login
    --accept-plain-secrets`)."""

    is_system = False
    plain_text = True
    needs_consent = False

    def __init__(self, path: Path, why: str = "ALU_SECRETS=insecure-file") -> None:
        self.path = Path(path)
        self.name = f"a plain-text file, NOT secure ({why}): {self.path}"
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FileSecrets({str(self.path)!r})"

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._read().get(key)

    def set(self, key: str, token: str, *, allow_plain: bool = False) -> None:
        with self._lock:
            tokens = self._read()
            tokens[key] = token
            self._write(tokens)

    def delete(self, key: str) -> None:
        with self._lock:
            tokens = self._read()
            if tokens.pop(key, None) is not None:
                self._write(tokens)

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            raise SecretsError(
                f"The sign-in file {self.path} cannot be read; delete it and sign in again."
            ) from None
        if not isinstance(data, dict):
            return {}
        return {str(k): v for k, v in data.items() if isinstance(v, str)}

    def _write(self, tokens: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Created 0600 from the start (never world-readable, not even for a moment), then
        # renamed over the old file so a crash leaves either file whole.
        fd, tmp = tempfile.mkstemp(prefix=".secrets-", dir=self.path.parent)
        try:
            os.chmod(tmp, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(tokens, f)
                f.flush()
                durable.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


_MEMORY = MemorySecrets()


def open_secrets(
    paths: Paths | None = None,
    *,
    allow_plain: bool = False,
    env: Mapping[str, str] | None = None,
    backend: Any = None,
) -> Secrets:
    """The token store this process uses: ``ALU_SECRETS`` (``memory``, ``insecure-file``) or
    the OS keyring (unset, ``keyring`` or ``system``).

    Raises ``NoKeyring`` when there is no keyring; a plain-text keyring is returned with
    ``needs_consent`` set unless ``allow_plain`` (the user already accepted it).
    """
    env = os.environ if env is None else env
    choice = env.get(ENV, "").strip().lower()
    if choice == "memory":
        return _MEMORY
    if choice == "insecure-file":
        if paths is None:
            raise SecretsError("ALU_SECRETS=insecure-file needs the data folder.")
        log.warning("sign-in tokens kept in a plain-text file (ALU_SECRETS=insecure-file)")
        return FileSecrets(paths.data_dir / INSECURE_FILE_NAME)
    if choice in ("", "keyring", "system"):
        return KeyringSecrets(backend, allow_plain=allow_plain)
    raise SecretsError(
        f"{ENV}={choice!r} is not known; use 'memory' or 'insecure-file' for tests, or leave "
        "it unset to use the system keyring."
    )
