"""`alu library check` and the Library tab's check (``Library.check_files``) find a file again
in the current download folder when it was recorded under another one (the folder renamed on
disk and set anew in Settings), taking it back only when its size and sha256 match."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from alu_client.core.credentials import MemorySecrets
from alu_client.core.library import Library, upsert_items
from alu_client.core.paths import Paths
from alu_client.core.services import Services
from alu_client.core.settings import AppSettings
from alu_client.core.store import Store
from tests.client.test_library import PROFILE, make_item
from tests.client.test_library_files import put, states


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "data" / "library.sqlite3")
    upsert_items(s, PROFILE, [make_item(n) for n in range(1, 4)])
    yield s
    s.close()


def _paths(store: Store) -> list[str]:
    return [r[0] for r in store.query("SELECT path FROM library_files ORDER BY item_id")]


def test_files_of_a_renamed_download_folder_are_found_again_there(
    store: Store, tmp_path: Path
) -> None:
    old, new = tmp_path / "videos", tmp_path / "videos-new"
    put(store, old, 1, 1000)
    put(store, old / "sport", 2, 2000)  # (a rule's folder inside the download folder)
    os.rename(old, new)
    library = Library(store, PROFILE, download_folder=lambda: new)

    report = library.check_files()
    assert (report.restored, report.missing) == (2, [])
    assert _paths(store) == [
        str(new / "item1-broadcast.mp4"),
        str(new / "sport" / "item2-broadcast.mp4"),
    ]
    assert {s for s, _reason in states(library).values()} == {"present"}
    assert library.check_files().missing == []  # (and stays so)


def test_a_file_of_the_same_name_and_size_but_other_bytes_is_not_taken(
    store: Store, tmp_path: Path
) -> None:
    old, new = tmp_path / "videos", tmp_path / "videos-new"
    put(store, old, 1, 1000)
    new.mkdir()
    (new / "item1-broadcast.mp4").write_bytes(b"x" * 1000)
    (old / "item1-broadcast.mp4").unlink()
    library = Library(store, PROFILE, download_folder=lambda: new)

    report = library.check_files()
    assert report.restored == 0 and [m.path for m in report.missing] == [
        old / "item1-broadcast.mp4"
    ]
    assert _paths(store) == [str(old / "item1-broadcast.mp4")]


def test_services_look_in_the_download_folder_set_in_settings(tmp_path: Path) -> None:
    root = tmp_path / "desk"
    paths = Paths(root / "data", root / "cache", root / "logs", root / "downloads")
    services = Services(paths, MemorySecrets())
    upsert_items(services.store, PROFILE, [make_item(1)])
    old = tmp_path / "clips"
    put(services.store, old, 1, 500)
    os.rename(old, tmp_path / "clips 2026")
    AppSettings(services.store, paths.downloads_dir).download_dir = tmp_path / "clips 2026"
    services.library.profile = PROFILE

    assert services.library.check_files().restored == 1
    assert _paths(services.store) == [str(tmp_path / "clips 2026" / "item1-broadcast.mp4")]
