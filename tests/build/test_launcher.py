"""installer/launcher.py: the frozen app keeps reading its modules from the file it started with
when a new version is installed over it while it runs (``apt install`` of a new .deb,
``./install.sh`` of a new archive); started as ``alu`` it is the command line."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import zlib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the pin is for POSIX systems")


def load_launcher() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "alu_launcher", ROOT / "installer" / "launcher.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeReader:
    """As PyInstaller's ZlibArchiveReader: the table of contents read once, the file opened by
    its name for every entry read later."""

    def __init__(self, filename: Path) -> None:
        self._filename = str(filename)
        self._start_offset = 0
        data = filename.read_bytes()
        n = int(data[:4])
        self.toc = {"mod": (4, n)}

    def extract(self, name: str) -> bytes:
        offset, length = self.toc[name]
        with open(self._filename, "rb") as fp:
            fp.seek(self._start_offset + offset)
            return zlib.decompress(fp.read(length))


def archive(text: bytes, pad: bytes = b"") -> bytes:
    blob = zlib.compress(text)
    return b"%04d" % len(blob) + pad + blob


def replace(path: Path, data: bytes) -> None:
    """As dpkg and install.sh: the new file written beside, then renamed over the old."""
    new = path.with_name(path.name + ".new")
    new.write_bytes(data)
    os.replace(new, path)


def test_reader_reads_the_old_file_after_it_was_replaced(tmp_path: Path) -> None:
    exe = tmp_path / "alu-client"
    exe.write_bytes(archive(b"old module"))
    reader = FakeReader(exe)
    pinned = load_launcher().pin_archive(reader)
    assert pinned is not None and pinned != str(exe)
    assert reader._filename == pinned

    replace(exe, archive(b"a new module, longer and elsewhere", pad=b"xxxxxxxx"))
    assert reader.extract("mod") == b"old module"  # without the pin: zlib.error: Error -3
    exe.unlink()  # install.sh removes the old folder
    assert reader.extract("mod") == b"old module"  # without the pin: FileNotFoundError


def test_unpinned_reader_reads_the_new_file(tmp_path: Path) -> None:
    """What the user saw: the old table of contents over the new file."""
    exe = tmp_path / "alu-client"
    exe.write_bytes(archive(b"old module"))
    reader = FakeReader(exe)
    replace(exe, archive(b"a new module, longer and elsewhere", pad=b"xxxxxxxx"))
    with pytest.raises(zlib.error):
        reader.extract("mod")


def test_any_failure_leaves_the_reader_alone(tmp_path: Path) -> None:
    launcher = load_launcher()
    missing = FakeReader.__new__(FakeReader)
    missing._filename = str(tmp_path / "gone")
    assert launcher.pin_archive(missing) is None
    assert missing._filename == str(tmp_path / "gone")

    class NoName:
        def extract(self, name: str) -> bytes:
            return b""

    assert launcher.pin_archive(NoName()) is None
    assert launcher.pin_archive(None) is None
    assert launcher.frozen_archive_reader() is None  # not frozen here


def test_a_name_that_does_not_lead_back_leaves_the_reader_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No /proc mounted (a sandbox): nothing changed, the descriptor closed again."""
    exe = tmp_path / "alu-client"
    exe.write_bytes(archive(b"old module"))
    reader = FakeReader(exe)
    launcher = load_launcher()
    real_stat, closed = os.stat, []
    real_close = os.close

    def stat(path: Any, *args: Any, **kwargs: Any) -> Any:
        if str(path).startswith(("/proc/self/fd/", "/dev/fd/")):
            raise FileNotFoundError(path)
        return real_stat(path, *args, **kwargs)

    def close(fd: int) -> None:
        closed.append(fd)
        real_close(fd)

    monkeypatch.setattr(launcher.os, "stat", stat)
    monkeypatch.setattr(launcher.os, "close", close)
    assert launcher.pin_archive(reader) is None
    assert reader._filename == str(exe)
    assert len(closed) == 1


def test_shared_offset_platforms_read_under_a_lock(tmp_path: Path) -> None:
    """/dev/fd/N (macOS) shares the descriptor's position: extract goes through a lock."""
    if not Path("/dev/fd").is_dir():
        pytest.skip("no /dev/fd")
    exe = tmp_path / "alu-client"
    exe.write_bytes(archive(b"old module"))
    reader = FakeReader(exe)
    pinned = load_launcher().pin_archive(reader, platform="darwin")
    assert pinned is not None and pinned.startswith("/dev/fd/")
    assert "extract" in vars(reader)  # the locked wrapper on the instance
    replace(exe, archive(b"a new module, longer and elsewhere", pad=b"xxxxxxxx"))
    assert reader.extract("mod") == b"old module"


def test_pyinstaller_reader_is_pinned(tmp_path: Path) -> None:
    """The real ZlibArchiveReader of the PyInstaller in the environment, on a real PYZ."""
    writers = pytest.importorskip("PyInstaller.archive.writers")
    archive_mod = pytest.importorskip("PyInstaller.loader.pyimod01_archive")

    def pyz(path: Path, text: str) -> None:
        src = tmp_path / "lazy_panel.py"
        src.write_text(text, encoding="utf-8")
        code = compile(text, str(src), "exec")
        writers.ZlibArchiveWriter(
            str(path), [("lazy_panel", str(src), "PYMODULE")], code_dict={"lazy_panel": code}
        )

    exe = tmp_path / "alu-client"
    pyz(exe, "WHO = 'old'\n")
    reader: Any = archive_mod.ZlibArchiveReader(str(exe), check_pymagic=True)
    assert load_launcher().pin_archive(reader) is not None

    pyz(tmp_path / "new.pyz", "# " + "a longer module " * 40 + "\nWHO = 'new'\nEXTRA = 1\n")
    os.replace(tmp_path / "new.pyz", exe)
    namespace: dict[str, Any] = {}
    exec(reader.extract("lazy_panel"), namespace)
    assert namespace["WHO"] == "old"


# --- one program, two commands: ``alu-client`` (the window) and ``alu`` (the verbs) -----------


@pytest.mark.parametrize(
    ("argv0", "entry"),
    [
        ("alu", "cli"),
        ("/usr/bin/alu", "cli"),
        ("/home/u/.local/bin/alu", "cli"),
        ("ALU.EXE", "cli"),
        ("/opt/alu-desk/alu-client", "app"),
        ("alu-client", "app"),
        ("/opt/alu/alu-client", "app"),  # a folder called alu is not the command's name
        ("", "app"),
    ],
)
def test_the_command_is_chosen_by_the_name_it_was_started_under(argv0: str, entry: str) -> None:
    assert load_launcher().entry_point(argv0) == entry


def run_as(tmp_path: Path, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The launcher started under NAME (as through the packages' link to the program)."""
    program = tmp_path / name
    shutil.copy(ROOT / "installer" / "launcher.py", program)
    env = {**os.environ, "ALU_CLIENT_HOME": str(tmp_path / "home"), "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(
        [sys.executable, str(program), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_started_as_alu_it_runs_the_command_line_verbs(tmp_path: Path) -> None:
    """An installed workstation had no ``alu`` command, though support asks for ``alu doctor``."""
    listed = run_as(tmp_path, "alu", "queue", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.strip() == "The queue is empty."
    helped = run_as(tmp_path, "alu", "--help")
    assert helped.returncode == 0 and helped.stdout.startswith("usage: alu ")
    assert "doctor" in helped.stdout


def test_started_as_alu_client_it_is_the_app(tmp_path: Path) -> None:
    helped = run_as(tmp_path, "alu-client", "--help")
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith("usage: alu-client ")
    assert "--self-test" in helped.stdout


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # the bootloader's: the bundle first, the user's own kept aside
        ({"LD_LIBRARY_PATH": "/opt/alu-desk/_internal:/opt/cuda/lib",
          "LD_LIBRARY_PATH_ORIG": "/opt/cuda/lib"}, {"LD_LIBRARY_PATH": "/opt/cuda/lib"}),
        # the user had none
        ({"LD_LIBRARY_PATH": "/opt/alu-desk/_internal"}, {}),
        # an older bootloader that kept no copy: only the bundle's folder taken out
        ({"LD_LIBRARY_PATH": "/opt/alu-desk/_internal/:/usr/local/lib"},
         {"LD_LIBRARY_PATH": "/usr/local/lib"}),
    ],
)  # fmt: skip
def test_programs_the_app_starts_get_the_users_library_path(
    before: dict[str, str], after: dict[str, str]
) -> None:
    # Open / Show in folder started xdg-open, gio, the file manager with the bundle's libraries
    # (those of the build machine) before the system's: broken on a newer distribution
    env = {"HOME": "/home/desk", **before}
    load_launcher().restore_library_path(env, "/opt/alu-desk/_internal", platform="linux")
    assert env == {"HOME": "/home/desk", **after}


def test_the_library_path_is_left_alone_elsewhere() -> None:
    launcher = load_launcher()
    env = {"LD_LIBRARY_PATH": "/x/_internal"}
    assert launcher.restore_library_path(env, "/x/_internal", platform="darwin") is None
    assert launcher.restore_library_path(env, None, platform="linux") is None  # not frozen
    assert env == {"LD_LIBRARY_PATH": "/x/_internal"}
