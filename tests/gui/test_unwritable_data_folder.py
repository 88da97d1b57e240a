"""A data folder the app cannot write in (read-only, its disk full) is said as such at start:
its single-instance lock file could not be made, and the app asked for 5 s after an instance
that was not there, then said "ALU Desk is already running on this data folder but does not
answer" — sending the newsroom looking for a frozen app."""

from __future__ import annotations

import errno
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox

from alu_client.ui.formats import isolated
from alu_client.ui.i18n import install_translators
from alu_client.ui.single_instance import NotAnswering, SingleInstance, instance_key

#: a folder where nothing can be made, even by root (CI runs as root: modes do not stop it)
UNWRITABLE = Path("/sys/kernel")


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or not UNWRITABLE.is_dir(), reason="Linux's sysfs"
)
def test_a_lock_that_cannot_be_made_is_the_folders_error_not_another_instance() -> None:
    single = SingleInstance(instance_key(UNWRITABLE), lock_dir=UNWRITABLE)
    try:
        with pytest.raises(OSError, match=r"instance\.lock") as raised:
            single.claim()
        assert not isinstance(raised.value, NotAnswering)
        assert raised.value.errno in (errno.EACCES, errno.EPERM, errno.EROFS)
        assert single.server is None  # nothing listens: no instance was started
    finally:
        single.release()


@pytest.mark.parametrize(
    ("code", "words"),
    [(errno.EROFS, "the disk is read-only"), (errno.ENOSPC, "is full. Free some space there")],
)
def test_the_app_says_the_folder_cannot_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, words: str
) -> None:
    from alu_client import app as app_module

    said: list[tuple[str, str]] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda _p, title, text: said.append((title, text)))
    monkeypatch.setenv("ALU_CLIENT_HOME", str(tmp_path / "home"))
    lock_error = OSError(code, "refused", str(tmp_path / "home" / "data" / "instance.lock"))

    def cannot_lock(_self: SingleInstance, message: str = "") -> bool:
        raise lock_error

    monkeypatch.setattr(SingleInstance, "claim", cannot_lock)
    qapp = QApplication.instance()
    assert isinstance(qapp, QApplication)
    try:
        assert app_module.main(["--language", "en"]) == 1
    finally:
        install_translators(qapp, "en")
    [(title, text)] = said
    assert title == "ALU Desk cannot write its folders"
    assert words in text and "does not answer" not in text
    assert isolated(str(tmp_path / "home")) in text or str(tmp_path / "home") in text


def test_a_data_folder_on_a_path_too_long_is_said_so(tmp_path: Path) -> None:
    # "The library … cannot be read now (unable to open database file). Check its disk": the
    # path was too long for SQLite (about 490 bytes), which no disk check would find
    import sqlite3

    from alu_client.core.store.problems import USABLE_PATH
    from alu_client.ui.signin import library_problem_text

    db = tmp_path / ("x" * (USABLE_PATH - len(str(tmp_path)))) / "library.sqlite3"
    text = library_problem_text(sqlite3.OperationalError("unable to open database file"), db)
    length = len(str(db).encode())
    assert text.startswith("The path of the data folder "), text
    assert f"is too long for the library's database ({length} bytes; about {USABLE_PATH}" in text
    short = library_problem_text(
        sqlite3.OperationalError("unable to open database file"), tmp_path / "library.sqlite3"
    )
    assert short.startswith("The library ")  # (the disk's words, as before)


def test_an_update_under_another_running_engine_is_said_in_words(tmp_path: Path) -> None:
    from alu_client.core.lockfile import FolderInUse
    from alu_client.ui.signin import library_problem_text

    qapp = QApplication.instance()
    assert isinstance(qapp, QApplication)
    try:
        install_translators(qapp, "fr")
        text = library_problem_text(FolderInUse("4242"), tmp_path / "library.sqlite3")
    finally:
        install_translators(qapp, "en")
    assert text.startswith("Un autre ALU Desk, ou alu watch run (processus 4242)"), text
    assert "rien n’a été changé" in text


def test_a_data_folder_too_deep_is_refused_before_anything_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # its dialog said "Nothing in it was changed" while the single-instance lock had made the
    # data folder (and its parents) just before
    import argparse

    from alu_client import app as app_module
    from alu_client.core.paths import default_paths
    from tests.client.test_long_data_folder import long_folder

    home = long_folder(tmp_path / "deep", 480)
    said: list[tuple[str, str]] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda _p, title, text: said.append((title, text)))
    qapp = QApplication.instance()
    assert isinstance(qapp, QApplication)
    paths = default_paths({"ALU_CLIENT_HOME": str(home)})
    desk = app_module.Desk(qapp, paths, argparse.Namespace(demo=False, language="en"))
    try:
        assert desk.start() == 1
    finally:
        desk.cleanup()
        desk.deleteLater()
    [(_title, text)] = said
    assert text.startswith("The path of the data folder ") and "is too long" in text, text
    assert list(tmp_path.iterdir()) == []


def test_an_empty_data_folder_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    # `alu-client --data ""` (a launcher's "$DIR" unset) opened the default data folder
    from alu_client.app import parse_args

    with pytest.raises(SystemExit) as ended:
        parse_args(["--data", ""])
    assert ended.value.code == 2
    assert "--data needs a folder (it was given empty)" in capsys.readouterr().err
