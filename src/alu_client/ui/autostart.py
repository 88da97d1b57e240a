"""Start at login: the entry each desktop reads when the user logs in.

- Linux (and other XDG desktops): ``$XDG_CONFIG_HOME/autostart/alu-client.desktop``
  (``~/.config`` when the variable is unset), as the XDG Autostart specification says;
- Windows: a value named ``ALU Desk`` under the user's
  ``HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run`` key;
- macOS: a LaunchAgent, ``~/Library/LaunchAgents/africa.alu.desk.plist`` (``RunAtLoad``).

No core import: this writes one small file (or one registry value) and nothing else. It
touches the disk: call it off the GUI thread. ``platform`` (a ``sys.platform`` value) and
``home`` are parameters so that every branch can be exercised anywhere.
"""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from PySide6.QtCore import QSettings

APP_NAME = "ALU Desk"
DESKTOP_FILE = "alu-client.desktop"
LAUNCH_AGENT_LABEL = "africa.alu.desk"
RUN_KEY = "HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Run"
# the environment that names another data folder: kept, so the app starts on the same one
KEPT_ENVIRONMENT = ("ALU_CLIENT_HOME",)
#: the app's options that say what a kept variable says (Windows' Run key has no environment;
#: ``cmd /c set … && start`` flashed a console window at every login)
OPTION_FOR = {"ALU_CLIENT_HOME": "--data"}


def launch_command() -> list[str]:
    """How this copy of the app is started: the frozen executable, the ``alu-client`` script
    beside this Python, or the module run by this Python."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    script = Path(sys.executable).with_name("alu-client")
    if os.name == "nt":
        script = script.with_suffix(".exe")
    if script.is_file():
        return [str(script)]
    found = shutil.which("alu-client")
    if found:
        return [found]
    return [sys.executable, "-m", "alu_client.app"]


class NotInstalled(ValueError):
    """macOS: this copy runs from its disk image (``/Volumes/…``) or from a copy Gatekeeper
    translocated (``…/AppTranslocation/…``, a downloaded app not moved yet): both paths are
    gone after the image is ejected or at the next start, and a login entry naming them would
    silently start nothing. The app must be moved to Applications first."""


def transient_location(program: str) -> bool:
    """Whether ``program`` is where macOS runs an app that is not installed: a mounted disk
    image (a volume under ``/Volumes`` mounted read-only, as disk images are; an app installed
    on a second disk, writable, is not refused), or an App Translocation copy."""
    if "/AppTranslocation/" in program:
        return True
    parts = program.split("/")
    if len(parts) < 3 or parts[1] != "Volumes" or not parts[2]:
        return False
    try:
        flags = os.statvfs("/Volumes/" + parts[2]).f_flag
    except OSError:  # (cannot tell: the safe side is to ask for the app to be moved)
        return True
    return bool(flags & os.ST_RDONLY)


def check_installed(command: Sequence[str] | None = None, platform: str | None = None) -> None:
    """Raise ``NotInstalled`` when a login entry for ``command`` (default: this copy) would
    name a program that goes away (macOS only)."""
    if _platform(platform) != "macos":
        return
    args = list(command or launch_command())
    if args and transient_location(args[0]):
        raise NotInstalled(args[0])


def launch_environment() -> dict[str, str]:
    """The variables the login entry must set for the app to find the same data folder."""
    return {k: os.environ[k] for k in KEPT_ENVIRONMENT if os.environ.get(k)}


def _platform(platform: str | None) -> str:
    name = platform or sys.platform
    if name.startswith("win"):
        return "windows"
    if name == "darwin":
        return "macos"
    return "xdg"


def entry_path(platform: str | None = None, home: Path | None = None) -> Path | None:
    """The file that starts the app at login (None on Windows: a registry value)."""
    kind = _platform(platform)
    base = home or Path.home()
    if kind == "windows":
        return None
    if kind == "macos":
        return base / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT_LABEL}.plist"
    config = os.environ.get("XDG_CONFIG_HOME", "")
    # The spec says a relative value is invalid and is to be ignored.
    root = Path(config) if config and Path(config).is_absolute() else base / ".config"
    return root / "autostart" / DESKTOP_FILE


def is_enabled(platform: str | None = None, home: Path | None = None) -> bool:
    """Whether a login entry starts the app. On macOS, not when its program is gone (launchd
    would fail at every login): one written from a disk image, or for a copy since deleted."""
    kind = _platform(platform)
    if kind == "windows":
        return _run_key().contains(APP_NAME)
    path = entry_path(platform, home)
    if path is None or not path.is_file():
        return False
    if kind == "macos":
        try:
            program = plistlib.loads(path.read_bytes())["ProgramArguments"][0]
        except (OSError, ValueError, LookupError, TypeError, plistlib.InvalidFileException):
            return False
        return isinstance(program, str) and Path(program).exists()
    return True


def enable(
    command: Sequence[str] | None = None,
    *,
    environment: Mapping[str, str] | None = None,
    platform: str | None = None,
    home: Path | None = None,
) -> Path | None:
    """Write (or rewrite) the login entry; returns its file (None on Windows). Raises
    ``NotInstalled`` (nothing written) for a macOS copy that is not installed."""
    args = list(command or launch_command())
    env = dict(launch_environment() if environment is None else environment)
    kind = _platform(platform)
    check_installed(args, platform)
    if kind == "windows":
        settings = _run_key()
        # The Run key has no environment of its own: the app's options say it instead (a
        # windowed app, no console), else cmd sets it for the app.
        for name, option in OPTION_FOR.items():
            if name in env:
                args += [option, env.pop(name)]
        line = subprocess.list2cmdline(args)
        if env:
            sets = " && ".join(f'set "{k}={v}"' for k, v in env.items())
            line = f'cmd /c "{sets} && start "" {line}"'
        settings.setValue(APP_NAME, line)
        settings.sync()
        return None
    path = entry_path(platform, home)
    assert path is not None
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "macos":
        agent: dict[str, object] = {
            "Label": LAUNCH_AGENT_LABEL,
            "ProgramArguments": args,
            "RunAtLoad": True,
            "ProcessType": "Interactive",
        }
        if env:
            agent["EnvironmentVariables"] = env
        data = plistlib.dumps(agent)
    else:
        exec_line = " ".join(_desktop_quote(a) for a in args)
        if env:
            pairs = " ".join(_desktop_quote(f"{k}={v}") for k, v in env.items())
            exec_line = f"env {pairs} {exec_line}"
        # TryExec: a desktop skips the entry once the program is gone (the app uninstalled
        # while "Start at login" was on), instead of failing to start it at every login.
        try_exec = f"TryExec={_desktop_string(args[0])}\n" if Path(args[0]).is_absolute() else ""
        data = (
            "[Desktop Entry]\n"
            "Type=Application\n"
            f"Name={APP_NAME}\n"
            "Comment=News video transfers with the Africa Link Union\n"
            f"{try_exec}"
            f"Exec={exec_line}\n"
            "Icon=alu-client\n"
            "Terminal=false\n"
            "X-GNOME-Autostart-enabled=true\n"
        ).encode()
    _write_atomically(path, data)
    return path


def disable(platform: str | None = None, home: Path | None = None) -> None:
    """Remove the login entry (nothing to do when there is none)."""
    if _platform(platform) == "windows":
        settings = _run_key()
        settings.remove(APP_NAME)
        settings.sync()
        return
    path = entry_path(platform, home)
    if path is not None:
        path.unlink(missing_ok=True)


def set_enabled(
    on: bool,
    command: Sequence[str] | None = None,
    *,
    platform: str | None = None,
    home: Path | None = None,
) -> None:
    """``enable`` or ``disable``."""
    if on:
        enable(command, platform=platform, home=home)
    else:
        disable(platform=platform, home=home)


def _run_key() -> QSettings:
    return QSettings(RUN_KEY, QSettings.Format.NativeFormat)


def _desktop_string(value: str) -> str:
    """A Desktop Entry string value: backslash, newline, tab and return escaped."""
    for c, escaped in (("\\", "\\\\"), ("\n", "\\n"), ("\t", "\\t"), ("\r", "\\r")):
        value = value.replace(c, escaped)
    return value


def _desktop_quote(arg: str) -> str:
    """One argument of an ``Exec`` line, quoted as the Desktop Entry spec asks (its escapes
    for a quoted argument, then those of a string value: a backslash is written as four)."""
    if arg and not any(c in arg for c in " \t\n\"'\\><~|&;$*?#()`"):
        return arg.replace("%", "%%")
    escaped = arg
    for c in ("\\", '"', "`", "$"):
        escaped = escaped.replace(c, "\\" + c)
    return _desktop_string('"' + escaped.replace("%", "%%") + '"')


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
