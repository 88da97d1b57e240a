"""The self-test's desktop check (alu_client/selftest/desktop.py): a workstation lacking the
xcb plugin's libraries passed the self-test (offscreen), then the app aborted on start."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from alu_client.selftest import CheckFailed
from alu_client.selftest.desktop import check_desktop, debian_package

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("sh") is None, reason="Linux only"
)


def fake_ldd(tmp_path: Path, body: str) -> str:
    ldd = tmp_path / "ldd"
    ldd.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    ldd.chmod(0o755)
    return str(ldd)


def platforms(tmp_path: Path, *names: str) -> Path:
    folder = tmp_path / "platforms"
    folder.mkdir()
    for name in names:
        (folder / name).write_bytes(b"\x7fELF")
    return folder


#: what ldd says of libqxcb.so on Debian 12 without libxcb-icccm4 and libxcb-keysyms1
XCB_MISSING = r"""case "$1" in */libqxcb.so) printf '%s\n' \
  '	libQt6XcbQpa.so.6 => /opt/x/libQt6XcbQpa.so.6 (0x1)' \
  '	libxcb-icccm.so.4 => not found' '	libxcb-keysyms.so.1 => not found' \
  '	libxcb-icccm.so.4 => not found' ;; esac"""


def test_missing_xcb_libraries_fail_with_their_packages(tmp_path: Path) -> None:
    folder = platforms(tmp_path, "libqxcb.so", "libqwayland.so", "libqoffscreen.so")
    with pytest.raises(CheckFailed) as failed:
        check_desktop(folder, fake_ldd(tmp_path, XCB_MISSING))
    assert str(failed.value) == (
        "the window cannot open on this desktop: not found libxcb-icccm.so.4 (xcb), "
        "libxcb-keysyms.so.1 (xcb); install them (Debian, Ubuntu): "
        "sudo apt install libxcb-icccm4 libxcb-keysyms1"
    )


def test_missing_wayland_libraries_fail_too(tmp_path: Path) -> None:
    folder = platforms(tmp_path, "libqxcb.so", "libqwayland.so")
    ldd = fake_ldd(tmp_path, "echo '	libwayland-client.so.0 => not found'")
    with pytest.raises(CheckFailed, match=r"libwayland-client\.so\.0 \(xcb and wayland\)"):
        check_desktop(folder, ldd)


def test_all_libraries_found_passes(tmp_path: Path) -> None:
    folder = platforms(tmp_path, "libqxcb.so", "libqwayland.so")
    ldd = fake_ldd(tmp_path, "echo '	libxcb.so.1 => /usr/lib/libxcb.so.1 (0x1)'")
    assert check_desktop(folder, ldd) == "xcb wayland platform plugins: all their libraries found"


def test_a_qt_without_the_xcb_plugin_is_not_checked(tmp_path: Path) -> None:
    folder = platforms(tmp_path, "libqoffscreen.so")
    outcome = check_desktop(folder, fake_ldd(tmp_path, XCB_MISSING))
    assert outcome == f"not checked: no xcb platform plugin in {folder}"


def test_a_frozen_build_finds_its_own_libraries_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bundle's folder is searched first, as the PyInstaller bootloader has it."""
    bundle = tmp_path / "_internal"
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)
    monkeypatch.setenv("LD_LIBRARY_PATH", "/elsewhere")
    folder = platforms(tmp_path, "libqxcb.so")
    ldd = fake_ldd(
        tmp_path,
        f'[ "$LD_LIBRARY_PATH" = "{bundle}:/elsewhere" ] || echo "	libQt6Gui.so.6 => not found"',
    )
    assert check_desktop(folder, ldd).endswith("all their libraries found")


@pytest.mark.parametrize(
    ("soname", "package"),
    [
        ("libxcb-icccm.so.4", "libxcb-icccm4"),
        ("libwayland-client.so.0", "libwayland-client0"),
        ("libxcb-render-util.so.0", "libxcb-render-util0"),
        ("libfoo2.so.1", "libfoo2-1"),
    ],
)
def test_debian_package_names(soname: str, package: str) -> None:
    assert debian_package(soname) == package
