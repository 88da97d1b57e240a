"""``alu-client --self-test`` from source, as support staff and CI run it (a subprocess, its own
temporary folders), and checks that fail for real: a hub that does not answer, a hub without
the demo accounts, a stuck run, a missing catalogue or keyring backend, a file that is not a
video. The frozen build runs the same self-test in .ci/run (``./run build --self-test``)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from alu_client import selftest
from alu_client.selftest import CheckFailed, SelfTest, check_keyring, check_translations
from alu_client.selftest.desktop import check_desktop
from alu_client.ui.i18n import qt_tool, translations_dir

ROOT = Path(__file__).resolve().parents[2]
CHECKS = (
    "platform",
    "desktop",
    "translations",
    "keyring",
    "hub",
    "sign-in",
    "feed",
    "update check",
    "download",
    "playback",
    "upload",
    "window",
)
NEED_HUB = CHECKS[5:]


def desktop_path(tmp_path: Path) -> str:
    """The PATH, with an ``ldd`` that finds every library first when this machine lacks some
    the xcb or wayland plugin needs (a machine without a desktop: CI installs them, .ci/run);
    the desktop check itself is tested in test_selftest_desktop.py."""
    try:
        check_desktop()
    except CheckFailed:
        fake = tmp_path / "fake-ldd"
        fake.mkdir(exist_ok=True)
        (fake / "ldd").write_text("#!/bin/sh\n", encoding="utf-8")
        (fake / "ldd").chmod(0o755)
        return os.pathsep.join((str(fake), os.environ.get("PATH", "")))
    return os.environ.get("PATH", "")


def run_self_test(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m alu_client.app --self-test`` with HOME and the temp folder under tmp_path."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    full = {
        **os.environ,
        "PATH": desktop_path(tmp_path),
        "QT_QPA_PLATFORM": "offscreen",
        "TMPDIR": str(tmp_path),
        "TMP": str(tmp_path),  # Windows
        "TEMP": str(tmp_path),
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "PYTHONPATH": str(ROOT / "src"),
        "ALU_SELFTEST_TIMEOUT": "240",
        **env,
    }
    for name in ("ALU_CLIENT_HOME", "ALU_SECRETS", "ALU_DEMO_CLIP_SECONDS", "ALU_DEMO_CLIP_SIZE"):
        full.pop(name, None)
    if "ALU_SELFTEST_HUB" not in env:
        full.pop("ALU_SELFTEST_HUB", None)
    return subprocess.run(
        [sys.executable, "-m", "alu_client.app", "--self-test"],
        env=full,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def report_lines(done: subprocess.CompletedProcess[str]) -> dict[str, tuple[str, str]]:
    """{check: (status, figure)} from the report on stdout (one line per check)."""
    lines: dict[str, tuple[str, str]] = {}
    for line in done.stdout.splitlines():
        for name in CHECKS:
            m = re.match(rf"^(ok|warning|FAILED) +{re.escape(name)} +(\S.*)$", line)
            if m:
                assert name not in lines, f"{name} reported twice:\n{done.stdout}"
                lines[name] = (m.group(1), m.group(2))
    return lines


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_self_test_passes_from_source_and_touches_no_profile(tmp_path: Path) -> None:
    done = run_self_test(tmp_path)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr[-4000:]
    assert out.startswith("ALU Desk ") and "self-test (from source;" in out.splitlines()[0]
    lines = report_lines(done)
    assert list(lines) == list(CHECKS), out
    for name, (status, figure) in lines.items():
        # a workstation may lack a keyring (CI does): a warning, never a failure
        assert status == "ok" or (name == "keyring" and status == "warning"), f"{name}: {figure}"
    assert "Qt 6." in lines["platform"][1] and "svg" in lines["platform"][1]
    assert (
        lines["translations"][1].startswith("fr (") and "right to left" in lines["translations"][1]
    )
    assert re.search(r"on http://127\.0\.0\.1:\d+: 30 items made", lines["hub"][1])
    assert lines["sign-in"][1].startswith("demo (Demo Television)")
    assert "30 items pulled" in lines["feed"][1]
    assert "up to date" in lines["update check"][1]
    assert re.search(r"sha256 [0-9a-f]{12} verified", lines["download"][1])
    assert re.search(r"^\d+\.\d s played in \d+\.\d s, [1-9]\d* frames", lines["playback"][1])
    assert "via tus, published as item" in lines["upload"][1]
    assert "in the feed" in lines["upload"][1]
    assert re.search(r"4 panels, the feed shows 31 items", lines["window"][1])
    assert re.search(r"^self-test passed: 12 checks", out.splitlines()[-2], re.M), out
    # the report is kept for support; the run's own folders are gone; no profile was made
    report = selftest.report_paths(tmp_path)[0].read_text(encoding="utf-8")
    assert report.splitlines()[1:13] == out.splitlines()[1:13]
    assert not list(tmp_path.glob("alu-selftest-*"))
    assert not (tmp_path / "home" / ".local" / "share" / "alu-client").exists()
    assert not (tmp_path / "home" / "Videos").exists()


def test_a_hub_that_does_not_answer_fails_the_self_test(tmp_path: Path) -> None:
    done = run_self_test(tmp_path, ALU_SELFTEST_HUB=f"http://127.0.0.1:{closed_port()}")
    assert done.returncode == 1, done.stdout + done.stderr
    lines = report_lines(done)
    assert list(lines) == list(CHECKS)
    assert lines["hub"][0] == "FAILED" and "no hub answers" in lines["hub"][1]
    for name in NEED_HUB:
        assert lines[name][0] == "FAILED" and lines[name][1].startswith("not run: "), name
    for name in ("platform", "desktop", "translations"):
        assert lines[name][0] == "ok"
    assert "self-test FAILED: 8 of 12 checks failed" in done.stdout
    report, log_file = selftest.report_paths(tmp_path)
    assert log_file.parent == tmp_path and log_file.is_file()
    assert done.stdout.splitlines()[-1] == f"report saved to {report}; the log: {log_file}"


def test_a_hub_without_the_demo_accounts_fails_sign_in(tmp_path: Path, live_hub: Any) -> None:
    done = run_self_test(tmp_path, ALU_SELFTEST_HUB=live_hub.url)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = report_lines(done)
    assert lines["hub"][0] == "ok" and live_hub.url in lines["hub"][1]
    status, figure = lines["sign-in"]
    assert status == "FAILED" and figure.startswith(f"{live_hub.url}: ") and "password" in figure
    assert lines["feed"] == ("FAILED", "not run: sign-in failed")


def test_only_a_hub_on_this_machine_is_accepted(tmp_path: Path) -> None:
    done = run_self_test(tmp_path, ALU_SELFTEST_HUB="http://192.0.2.1:8750")
    assert done.returncode == 1
    status, figure = report_lines(done)["hub"]
    assert status == "FAILED" and "must be an http(s) address on this machine" in figure
    assert selftest.loopback_url("http://127.0.0.1:8750/") == "http://127.0.0.1:8750"
    with pytest.raises(CheckFailed):
        selftest.loopback_url("ftp://127.0.0.1/")


def test_a_run_that_hangs_is_ended_and_fails(tmp_path: Path) -> None:
    done = run_self_test(tmp_path, ALU_SELFTEST_TIMEOUT="0.5")
    assert done.returncode == 1, done.stdout + done.stderr
    assert re.search(r"^FAILED +\S.* +stuck: no end in 0\.5 s$", done.stdout, re.M), done.stdout
    assert "self-test FAILED: it did not finish in 0.5 s" in done.stdout
    report, log_file = selftest.report_paths(tmp_path)
    assert "did not finish" in report.read_text(encoding="utf-8")
    assert f"report saved to {report}; the log: {log_file}" in done.stdout


# --- where the report and the log go ------------------------------------------------------------


def test_report_and_log_are_per_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two accounts on one workstation share /tmp: each has its own report and log (a second
    account's self-test crashed on the first one's fixed names, PermissionError)."""
    monkeypatch.setattr(selftest.basics.getpass, "getuser", lambda: "support")
    first = selftest.report_paths(tmp_path)
    monkeypatch.setattr(selftest.basics.getpass, "getuser", lambda: "news desk/2")
    second = selftest.report_paths(tmp_path)
    assert first == (
        tmp_path / "alu-client-self-test-support.txt",
        tmp_path / "alu-client-self-test-support.log",
    )
    assert second == (
        tmp_path / "alu-client-self-test-news_desk_2.txt",
        tmp_path / "alu-client-self-test-news_desk_2.log",
    )
    monkeypatch.setattr(selftest.basics.getpass, "getuser", lambda: 1 / 0)
    assert selftest.report_paths(tmp_path)[0].name.startswith("alu-client-self-test-")


def test_a_report_name_this_account_cannot_own_goes_to_a_private_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file of that name left by someone else, or a link planted there: a new private folder."""
    monkeypatch.setattr(selftest.basics.getpass, "getuser", lambda: "desk")
    planted = tmp_path / "alu-client-self-test-desk.txt"
    target = tmp_path / "elsewhere"
    planted.symlink_to(target)
    report, log_file = selftest.report_paths(tmp_path)
    assert report.parent == log_file.parent != tmp_path
    assert report.parent.parent == tmp_path and report.parent.name.startswith(
        "alu-client-self-test-desk-"
    )
    assert report.name == "alu-client-self-test.txt" and log_file.name == "alu-client-self-test.log"
    if os.name == "posix":
        assert report.parent.stat().st_mode & 0o077 == 0
    assert not target.exists()
    if hasattr(os, "getuid") and os.getuid() == 0:  # root writes anyone's file: owner checked
        planted.unlink()
        planted.write_text("someone else's", encoding="utf-8")
        os.chown(planted, 65534, 65534)
        assert selftest.report_paths(tmp_path)[0].parent != tmp_path


# --- the checks called directly with broken inputs ----------------------------------------------


def test_missing_catalogues_fail_the_translations_check(qapp: Any, tmp_path: Path) -> None:
    with pytest.raises(CheckFailed, match=r"alu_fr\.qm is missing"):
        check_translations(tmp_path)
    # a damaged catalogue, then one that translates nothing
    (tmp_path / "alu_fr.qm").write_bytes(b"not a catalogue")
    with pytest.raises(CheckFailed, match=r"alu_fr\.qm is missing or damaged"):
        check_translations(tmp_path)
    ts = tmp_path / "alu_fr.ts"
    ts.write_text(
        '<?xml version="1.0" encoding="utf-8"?><!DOCTYPE TS><TS version="2.1" language="fr">'
        "<context><name>Other</name><message><source>Yes</source>"
        "<translation>Oui</translation></message></context></TS>",
        encoding="utf-8",
    )
    subprocess.run(
        [str(qt_tool("lrelease")), "-silent", str(ts), "-qm", str(tmp_path / "alu_fr.qm")],
        check=True,
    )
    with pytest.raises(CheckFailed, match=r"alu_fr\.qm does not translate 'Play'"):
        check_translations(tmp_path)
    # Qt's own catalogues missing
    with pytest.raises(CheckFailed, match=r"qtbase_fr\.qm is missing"):
        check_translations(qt_folder=str(tmp_path / "nothing"))
    assert "right to left" in str(check_translations())
    # English's plural forms ("1 event", not "1 events") are a catalogue of their own
    for code in ("fr", "ar"):
        shutil.copy(translations_dir() / f"alu_{code}.qm", tmp_path / f"alu_{code}.qm")
    with pytest.raises(CheckFailed, match=r"alu_en\.qm is missing"):
        check_translations(tmp_path)


def test_a_keyring_backend_missing_from_the_build_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    platform_key = "linux" if sys.platform.startswith("linux") else sys.platform
    monkeypatch.setitem(
        selftest.KEYRING_MODULES, platform_key, ("keyring.backends.not_in_this_build",)
    )
    with pytest.raises(CheckFailed, match="not_in_this_build is missing from this build"):
        check_keyring()


def test_a_file_that_is_not_a_video_fails_playback(qapp: Any, tmp_path: Path) -> None:
    bad = tmp_path / "not a video.mp4"
    bad.write_bytes(b"this is text, not H.264\n" * 200)
    test = SelfTest(tmp_path / "root", None)
    test.downloaded = bad
    with pytest.raises(CheckFailed, match="the player"):
        test.check_playback()
    # through the runner: one FAILED line, and what needs it is not run
    test.check("playback", test.check_playback)
    test.check("after", lambda: "never", needs=("playback",))
    assert [r.line().split()[0] for r in test.results] == ["FAILED", "FAILED"]
    assert test.results[0].figure.startswith("the player")
    assert test.results[1].figure == "not run: playback failed"
