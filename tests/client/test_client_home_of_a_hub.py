"""ALU_CLIENT_HOME (or the app's --data) set to an ALU hub's data folder by mistake is refused
with words, before anything is written there: it was taken for a new, empty profile — the hub's
folder filled with data/, cache/ and logs/, and the user shown an empty queue and library."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from alu_client import app as app_module
from alu_client.cli import main
from alu_client.core.paths import default_paths
from tests.support.livehub import start_hub

HUB_SAID = "is an ALU hub's data folder"


@pytest.fixture
def hub_folder(tmp_path: Path) -> Path:
    """The data folder of a real hub that ran and stopped (its hub.sqlite3, its storage)."""
    hub = start_hub(tmp_path)
    hub.server.stop()
    hub.hub.db.dispose()
    folder = tmp_path / "hub"
    assert (folder / "hub.sqlite3").is_file()
    return folder


@pytest.mark.parametrize("verb", [["queue", "list"], ["whoami"], ["library", "search"]])
def test_the_cli_refuses_a_hubs_data_folder_and_writes_nothing_there(
    hub_folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    verb: list[str],
) -> None:
    monkeypatch.setenv("ALU_CLIENT_HOME", str(hub_folder))
    monkeypatch.setenv("ALU_SECRETS", "memory")
    before = sorted(p.name for p in hub_folder.iterdir())
    assert main(verb) == 1
    said = capsys.readouterr().err
    assert f"The data folder {hub_folder} {HUB_SAID}" in said
    assert "ALU_CLIENT_HOME=DIR" in said and "Nothing was written in it" in said
    assert sorted(p.name for p in hub_folder.iterdir()) == before  # no data/, cache/, logs/


def test_the_transfer_verbs_refuse_it_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # a hub run on PostgreSQL keeps only its setup file and storage in its folder
    folder = tmp_path / "pg-hub"
    (folder / "storage").mkdir(parents=True)
    (folder / "hub-setup.json").write_text("{}")
    monkeypatch.setenv("ALU_CLIENT_HOME", str(folder))
    assert main(["fetch", "http://127.0.0.1:9/x", str(tmp_path / "x")]) == 1
    assert HUB_SAID in capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir()) == ["hub-setup.json", "storage"]


def test_a_workstation_library_made_there_before_goes_on_working(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # (a folder that holds both: a member's own choice, made by an earlier version — not
    # taken away from them now)
    folder = tmp_path / "both"
    monkeypatch.setenv("ALU_CLIENT_HOME", str(folder))
    monkeypatch.setenv("ALU_SECRETS", "memory")
    assert main(["queue", "list"]) == 0
    capsys.readouterr()
    sqlite3.connect(folder / "hub.sqlite3").close()
    assert main(["queue", "list"]) == 0
    assert "The queue is empty." in capsys.readouterr().out
    assert default_paths().ensure().data_dir == folder / "data"


def test_the_app_says_it_in_a_dialog_and_writes_nothing(
    hub_folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shown: list[tuple[str, str]] = []

    def critical(_parent: Any, title: str, text: str) -> None:
        shown.append((title, text))

    monkeypatch.setattr(app_module.QMessageBox, "critical", critical)

    def started(*_a: Any, **_k: Any) -> None:  # (it would wait for a sign-in for ever)
        pytest.fail("the app started on a hub's data folder")

    monkeypatch.setattr(app_module, "Desk", started)
    # (the app's garbage-collection guard would stay on this process's QApplication, with
    # Python's collector off, for every test after this one)
    monkeypatch.setattr("alu_client.ui.gc_guard.install_gc_guard", lambda app: None)
    monkeypatch.setenv("ALU_CLIENT_HOME", str(hub_folder))  # (main sets it from --data)
    before = sorted(p.name for p in hub_folder.iterdir())
    assert app_module.main(["--data", str(hub_folder), "--language", "en"]) == 1
    assert len(shown) == 1 and HUB_SAID in shown[0][1] and "--data DIR" in shown[0][1]
    assert HUB_SAID in capsys.readouterr().err
    assert sorted(p.name for p in hub_folder.iterdir()) == before
