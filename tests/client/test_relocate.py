"""``relocate.follow_move``: the stored paths under a moved data folder's root follow it in the
core, which the CLI and the app both open (``Services``); paths elsewhere stay."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import pytest

from alu_client.core.credentials import MemorySecrets
from alu_client.core.paths import Paths
from alu_client.core.services import Services
from alu_client.core.settings import AppSettings
from alu_client.core.store import Store
from alu_client.core.workstation import workstation_id


def _paths(root: Path) -> Paths:
    return Paths(root / "data", root / "cache", root / "logs", root / "downloads")


def _open(root: Path) -> Services:
    return Services(_paths(root), MemorySecrets())


def _upload(store: Store, source: Path) -> None:
    with store.write() as c:
        c.execute(
            "INSERT INTO transfers (direction, position, source, destination, created_at)"
            " VALUES ('upload', 1, ?, 'http://hub/files/1', ?)",
            (str(source), time.time()),
        )


def test_paths_under_the_old_root_follow_and_paths_elsewhere_stay(tmp_path: Path) -> None:
    old, new, elsewhere = tmp_path / "a" / "desk", tmp_path / "b" / "desk", tmp_path / "videos"
    s = _open(old)
    settings = AppSettings(s.store, s.paths.downloads_dir)
    settings.download_dir = old / "my clips"
    _upload(s.store, old / "exports" / "clip.mp4")
    _upload(s.store, elsewhere / "clip.mp4")
    with s.store.write() as c:
        c.execute(
            "INSERT INTO rules (profile, name, position, destination, created_at)"
            " VALUES ('p', 'inside', 1, ?, 0), ('p', 'outside', 2, ?, 0)",
            (str(old / "rules" / "sport"), str(elsewhere)),
        )
        # a hot folder inside, and a file it sent (not to be sent again from the new place)
        c.execute(
            "INSERT INTO watch_folders (id, profile, path, created_at) VALUES (1, 'p', ?, 0)",
            (str(old / "hot"),),
        )
        c.execute(
            "INSERT INTO watch_files (folder_id, path, size, mtime_ns, state, at)"
            " VALUES (1, ?, 1, 1, 'sent', 0)",
            (str(old / "hot" / "clip.mp4"),),
        )
    ws = workstation_id(s.store)
    s.store.close()
    new.parent.mkdir()
    os.rename(old, new)

    s = _open(new)
    assert s.relocated is not None and not s.relocated.copied
    sent = s.store.query_one("SELECT path FROM watch_files")
    assert sent is not None and sent[0] == str(new / "hot" / "clip.mp4")
    assert AppSettings(s.store, s.paths.downloads_dir).download_dir == new / "my clips"
    sources = [r[0] for r in s.store.query("SELECT source FROM transfers ORDER BY id")]
    assert sources == [str(new / "exports" / "clip.mp4"), str(elsewhere / "clip.mp4")]
    rules = [r[0] for r in s.store.query("SELECT destination FROM rules ORDER BY position")]
    assert rules == [str(new / "rules" / "sport"), str(elsewhere)]
    assert workstation_id(s.store) == ws
    s.store.close()
    assert _open(new).relocated is None  # (said once)


def test_a_download_folder_elsewhere_is_left_alone(tmp_path: Path) -> None:
    old, new = tmp_path / "a" / "desk", tmp_path / "b" / "desk"
    # a sibling whose name begins as the root's does is not under it
    elsewhere = tmp_path / "a" / "desk videos"
    s = _open(old)
    AppSettings(s.store, s.paths.downloads_dir).download_dir = elsewhere
    s.store.close()
    new.parent.mkdir()
    os.rename(old, new)
    s = _open(new)
    assert s.relocated is not None
    assert AppSettings(s.store, s.paths.downloads_dir).download_dir == elsewhere


def test_the_app_log_says_a_copy_and_its_new_workstation_id(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import shutil

    old, copy = tmp_path / "a" / "desk", tmp_path / "b" / "desk"
    s = _open(old)
    ws = workstation_id(s.store)
    s.store.close()
    shutil.copytree(old, copy)
    with caplog.at_level(logging.INFO, logger="alu_client.core.relocate"):
        c = _open(copy)
    assert c.relocated is not None and c.relocated.copied
    new_ws = workstation_id(c.store)
    assert new_ws != ws
    assert f"copy of {old}" in caplog.text and new_ws[:8] in caplog.text


def test_folders_moved_apart_are_not_taken_for_a_move(tmp_path: Path) -> None:
    """The root changed because one of the folders was set elsewhere, the data folder stayed:
    nothing is rewritten."""
    root = tmp_path / "home"
    s = Services(_paths(root), MemorySecrets())
    AppSettings(s.store, s.paths.downloads_dir).download_dir = root / "downloads" / "x"
    s.store.close()
    apart = Paths(root / "data", root / "cache", root / "logs", tmp_path / "videos")
    s = Services(apart, MemorySecrets())
    assert s.relocated is None
    raw = s.store.query_one("SELECT value FROM settings WHERE key = 'app.download_dir'")
    assert json.loads(raw[0]) == str(root / "downloads" / "x")
