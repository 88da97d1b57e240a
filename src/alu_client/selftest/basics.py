"""The self-test's results, helpers and the checks that need no hub (see the package doc)."""

from __future__ import annotations

import getpass
import importlib
import logging
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

OK, WARNING, FAILED = "ok", "warning", "FAILED"
HUB_ENV = "ALU_SELFTEST_HUB"
TIMEOUT_ENV = "ALU_SELFTEST_TIMEOUT"
DEFAULT_TIMEOUT = 300.0
REPORT_STEM = "alu-client-self-test"
#: the demo seed unless ALU_DEMO_CLIP_SECONDS / ALU_DEMO_CLIP_SIZE say otherwise
SEED_SECONDS, SEED_SIZE = "2", "320x180"
#: how much of the downloaded clip is played
PLAY_MS = 1000
LOOPBACK = ("127.0.0.1", "localhost", "::1")
#: the keyring backends ALU Desk relies on, per OS: missing from a build is a packaging error
KEYRING_MODULES = {
    "linux": ("keyring.backends.SecretService", "keyring.backends.libsecret", "secretstorage"),
    "darwin": ("keyring.backends.macOS",),
    "win32": ("keyring.backends.Windows",),
}
#: strings that must come out translated (context, English source)
TRANSLATION_PROBES = (("PlayerWidget", "Play"), ("Demo", "ALU Desk demo"))
#: a count English says in the singular for one from its own catalogue (plural forms only)
PLURAL_PROBE = ("HistoryPanel", "%Ln events waiting to be sent to the hub")


def _user_tag() -> str:
    """This account's name as a file name part (the uid, or "user", when there is none)."""
    try:
        name = getpass.getuser()
    except Exception:  # no LOGNAME/USER and no passwd entry (a container)
        name = str(os.getuid()) if hasattr(os, "getuid") else "user"
    return re.sub(r"[^A-Za-z0-9._-]", "_", name).strip("._")[:64] or "user"


def _ours_to_write(path: Path) -> bool:
    """The file can be (created and) written by this account, is no link and is its own."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except OSError:
        return False
    try:
        return not hasattr(os, "getuid") or os.fstat(fd).st_uid == os.getuid()
    finally:
        os.close(fd)


def report_paths(folder: Path | None = None) -> tuple[Path, Path]:
    """Where a run keeps its report and log: ``alu-client-self-test-USER.txt`` and ``.log`` in the
    temp folder, one pair per account (``/tmp`` is shared: a second account that ran the
    self-test could not write the first one's files). When this account cannot write them
    (a file of that name left by someone else), a new private folder in the temp folder."""
    folder = Path(tempfile.gettempdir()) if folder is None else folder
    stem = f"{REPORT_STEM}-{_user_tag()}"
    report, log_file = folder / f"{stem}.txt", folder / f"{stem}.log"
    if _ours_to_write(report) and _ours_to_write(log_file):
        return report, log_file
    private = Path(tempfile.mkdtemp(prefix=f"{stem}-", dir=folder))
    return private / f"{REPORT_STEM}.txt", private / f"{REPORT_STEM}.log"


class CheckFailed(Exception):
    """A check did not pass; ``str()`` is the figure for the report."""


@dataclass(frozen=True)
class Warn:
    """A check that passed with a reservation (returned, not raised)."""

    text: str


@dataclass(frozen=True)
class Result:
    name: str
    status: str
    figure: str

    def line(self) -> str:
        return f"{self.status:<8} {self.name:<13} {self.figure}"


Outcome = str | Warn


# --- helpers ----------------------------------------------------------------------------------


def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    """Run the Qt event loop until ``predicate()`` holds or ``timeout`` seconds pass."""
    from PySide6.QtCore import QEventLoop, QTimer

    if predicate():
        return True
    deadline = time.monotonic() + timeout
    loop = QEventLoop()
    timer = QTimer()
    timer.setInterval(20)

    def tick() -> None:
        if predicate() or time.monotonic() > deadline:
            loop.quit()

    timer.timeout.connect(tick)
    timer.start()
    loop.exec()
    timer.stop()
    return predicate()


def human_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"  # not reached


def seed_size(env: dict[str, str] | None = None) -> Any:
    """The demo seed for the self-test: small clips unless the environment says otherwise."""
    from alu_client.ui.demo import SeedSize

    env = dict(os.environ) if env is None else env
    return SeedSize.from_env(
        {
            "ALU_DEMO_CLIP_SECONDS": env.get("ALU_DEMO_CLIP_SECONDS") or SEED_SECONDS,
            "ALU_DEMO_CLIP_SIZE": env.get("ALU_DEMO_CLIP_SIZE") or SEED_SIZE,
        }
    )


def loopback_url(url: str) -> str:
    """``url`` if it names a hub on this machine; CheckFailed otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or (parts.hostname or "") not in LOOPBACK:
        raise CheckFailed(f"{HUB_ENV} must be an http(s) address on this machine, not {url!r}")
    return url.strip().rstrip("/")


# --- checks that need no hub ------------------------------------------------------------------


def check_platform() -> Outcome:
    from PySide6 import __version__ as pyside_version
    from PySide6.QtCore import qVersion
    from PySide6.QtGui import QGuiApplication, QImageReader

    from alu_client.ui.composition import app_icon

    formats = {bytes(f.data()).decode() for f in QImageReader.supportedImageFormats()}
    missing = [f for f in ("jpeg", "png", "svg") if f not in formats]
    if missing:
        raise CheckFailed(f"image formats missing: {', '.join(missing)}")
    icon = app_icon()
    if icon.isNull() or icon.pixmap(64, 64).isNull():
        raise CheckFailed("the app's icon is missing (resources/icons)")
    return (
        f"Qt {qVersion()} (PySide6 {pyside_version}) on {QGuiApplication.platformName()}; "
        "image formats jpeg png svg; icon"
    )


def check_translations(folder: Path | None = None, qt_folder: str | None = None) -> Outcome:
    """Our catalogues and Qt's own for each translated language, English's plural forms;
    Arabic turns the layout."""
    from PySide6.QtCore import QCoreApplication, QLibraryInfo, Qt, QTranslator
    from PySide6.QtGui import QGuiApplication

    from alu_client.ui.i18n import (
        CATALOG,
        PLURALS_ONLY,
        TRANSLATED,
        install_translators,
        translations_dir,
    )

    folder = folder or translations_dir()
    qt_folder = qt_folder or QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    figures = []
    for code in TRANSLATED:
        ours = QTranslator()
        if not ours.load(f"{CATALOG}_{code}", str(folder)):
            raise CheckFailed(f"{CATALOG}_{code}.qm is missing or damaged in {folder}")
        for context, source in TRANSLATION_PROBES:
            text = ours.translate(context, source)
            if not text or text == source:
                raise CheckFailed(f"{CATALOG}_{code}.qm does not translate {source!r}")
        qt = QTranslator()
        if not qt.load(f"qtbase_{code}", qt_folder):
            raise CheckFailed(f"Qt's own translation qtbase_{code}.qm is missing from {qt_folder}")
        size = (folder / f"{CATALOG}_{code}.qm").stat().st_size
        figures.append(f"{code} ({human_size(size)})")
    for code in PLURALS_ONLY:
        ours = QTranslator()
        context, source = PLURAL_PROBE
        if not ours.load(f"{CATALOG}_{code}", str(folder)):
            raise CheckFailed(f"{CATALOG}_{code}.qm is missing or damaged in {folder}")
        if not ours.translate(context, source, None, 1):
            raise CheckFailed(f"{CATALOG}_{code}.qm has no plural forms for {source!r}")
    app = QCoreApplication.instance()
    rtl = ""
    if isinstance(app, QGuiApplication):
        try:
            install_translators(app, "ar")
            if app.layoutDirection() != Qt.LayoutDirection.RightToLeft:
                raise CheckFailed("Arabic did not turn the layout right to left")
            rtl = "; Arabic right to left"
        finally:
            install_translators(app, "en")
    return f"{', '.join(figures)} and Qt's own{rtl}"


def check_keyring(timeout: float = 15.0) -> Outcome:
    """The keyring backends this OS needs are in the build (FAILED if not); which keyring
    this session offers (warning when only plain text, or none)."""
    from importlib import metadata

    from alu_client.core.credentials import backend_kind, backend_name

    platform_key = "win32" if sys.platform == "win32" else sys.platform
    platform_key = "linux" if platform_key.startswith("linux") else platform_key
    for module in KEYRING_MODULES.get(platform_key, ()):
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise CheckFailed(f"{module} is missing from this build ({e})") from None
    plugins = {ep.name for ep in metadata.entry_points(group="keyring.backends")}
    if not plugins:
        raise CheckFailed("keyring's backend list (its package metadata) is missing")

    found: dict[str, Any] = {}

    def probe() -> None:
        try:
            import keyring

            backend = keyring.get_keyring()
            found["kind"], found["name"] = backend_kind(backend), backend_name(backend)
        except Exception as e:  # a backend whose service vanished, D-Bus errors…
            found["error"] = e

    thread = threading.Thread(target=probe, name="selftest-keyring", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        return Warn(f"the keyring did not answer in {timeout:.0f} s")
    if "error" in found:
        return Warn(f"no usable keyring ({type(found['error']).__name__})")
    kind, name = found["kind"], found["name"]
    if kind == "system":
        return f"{name}"
    if kind == "plain":
        return Warn(f"only plain text here ({name}); the app asks before using it")
    return Warn("no keyring in this session; the app asks before keeping a sign-in in a file")


# --- the run ----------------------------------------------------------------------------------
