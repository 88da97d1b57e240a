"""A download recorded, a probe made, a file deleted: the Feed and the Library read only the items
concerned again (each such news re-read every loaded row in both tabs and merged them all on the
GUI thread), and what the user has in hand stays: the selection, the current item, the player's
file, the scroll position. The core's news travels as it does in the app: a core thread calls
``CoreEvents.library_changed`` with the item id, ``CoreBridge`` coalesces and carries the ids."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QAbstractItemView

from alu_client.core import media
from alu_client.core.library import Library, record_file, upsert_items
from alu_client.core.services import CoreEvents
from alu_client.core.store import Store
from alu_client.ui.bridge import CoreBridge
from alu_client.ui.models import STATE_ROLE
from alu_client.ui.models.items import COL_STATE, COL_TITLE, ItemsModel
from alu_client.ui.tasks import TaskRunner
from alu_client.ui.views import select_row
from alu_client.ui.views.feed import FeedPanel
from alu_client.ui.views.library import LibraryPanel
from tests.gui.test_feed_model import PROFILE, decoded, make_item


class _Desk:
    """What the two tabs and the bridge ask of the services."""

    def __init__(self, store: Store) -> None:
        self.library = Library(store, PROFILE)
        self.events = CoreEvents()
        self.sync = None

    def fetch_hub_thumbnail(self, item_id: str) -> Path:
        raise OSError("no hub here")


def _id(seq: int) -> str:
    return f"it{seq:06d}"


class _Tabs:
    def __init__(self, desk: _Desk, feed: FeedPanel, library: LibraryPanel, media: Path) -> None:
        self.desk, self.feed, self.library, self.media = desk, feed, library, media
        self.loads = {"feed": 0, "library": 0}
        feed.model.rows_loaded.connect(lambda: self._loaded("feed"))
        library.model.rows_loaded.connect(lambda: self._loaded("library"))

    def _loaded(self, tab: str) -> None:
        self.loads[tab] += 1

    def download(self, seq: int, clip: Path) -> str:
        """A download ends: its file recorded (in the store), then the core's news."""
        item_id = _id(seq)
        path = self.media / f"{item_id}.mp4"
        shutil.copyfile(clip, path)
        with self.desk.library.store.write() as conn:
            record_file(conn, PROFILE, item_id, "broadcast", path, path.stat().st_size, "ab" * 32)
        return item_id

    def news(self, qtbot: Any, item_id: str) -> None:
        """The core tells (from its own thread); wait until both tabs read and applied it."""
        before = dict(self.loads)
        events = self.desk.events
        teller = threading.Thread(target=lambda: events.emit(events.library_changed, item_id))
        teller.start()
        teller.join()
        qtbot.waitUntil(lambda: all(self.loads[t] > before[t] for t in before), timeout=10_000)
        for model in (self.feed.model, self.library.model):
            qtbot.waitUntil(lambda m=model: not m._busy and not m._wanted)


@pytest.fixture
def tabs(qtbot: Any, tmp_path: Path, clip: Path) -> Iterator[_Tabs]:
    """400 items, every third downloaded (133: the Library reads 100 of them); both tabs shown."""
    store = Store(tmp_path / "library.sqlite3")
    upsert_items(store, PROFILE, [make_item(n) for n in range(1, 401)])
    folder = tmp_path / "media"
    folder.mkdir()
    desk = _Desk(store)
    bridge = CoreBridge(desk)  # type: ignore[arg-type]
    tasks = TaskRunner()
    feed = FeedPanel(desk, bridge, tasks)  # type: ignore[arg-type]
    library = LibraryPanel(desk, bridge, tasks)  # type: ignore[arg-type]
    t = _Tabs(desk, feed, library, folder)
    for seq in range(3, 401, 3):
        t.download(seq, clip)
    for panel in (feed, library):
        qtbot.addWidget(panel)
        panel.resize(1200, 600)
        panel.show()
        qtbot.waitExposed(panel)
        panel.apply_filters()  # (the files were recorded after the panels read)
    qtbot.waitUntil(lambda: feed.model.rowCount() == 100 and library.model.rowCount() == 100)
    for model in (feed.model, library.model):
        qtbot.waitUntil(lambda m=model: not m._busy and not m._wanted)
    yield t
    bridge.detach()
    for panel in (feed, library):
        panel.model.tasks.wait_for_done()
        panel.model.thumbnails.wait_for_done()
    tasks.wait_for_done()
    store.close()


def ids(model: ItemsModel) -> list[str]:
    return [model.item_at(r).id for r in range(model.rowCount())]


def selected(panel: FeedPanel | LibraryPanel) -> list[str]:
    return [li.id for li in panel.selected_items()]


def test_a_download_recorded_reads_only_that_item_and_keeps_what_the_user_has_in_hand(
    qtbot: Any, tabs: _Tabs, clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed, library = tabs.feed, tabs.library
    select_row(feed.view, 5)
    qtbot.waitUntil(lambda: selected(feed) == [_id(395)])
    feed.view.scrollTo(feed.model.index(40, COL_TITLE), QAbstractItemView.ScrollHint.PositionAtTop)
    scroll = feed.view.verticalScrollBar().value()
    top = feed.view.indexAt(QPoint(1, 1)).row()
    select_row(library.current_view, 2)  # 393
    qtbot.waitUntil(lambda: library.loaded_path is not None or library.player is None)
    playing = library.loaded_path
    assert selected(library) == [_id(393)]
    resets: list[int] = []
    for model in (feed.model, library.model):
        model.modelReset.connect(lambda: resets.append(1))
    read = decoded(monkeypatch)

    item_id = tabs.download(350, clip)  # on neither tab's screen
    tabs.news(qtbot, item_id)
    assert read == [item_id, item_id]  # once for each tab: every loaded row was read again
    row = feed.model.row_of(item_id)
    assert row == 50
    assert feed.model.index(row, COL_STATE).data(STATE_ROLE) == "downloaded"
    assert feed.model.index(row, COL_STATE).data() == "Downloaded"
    assert selected(feed) == [_id(395)] and feed.current_item() is not None
    assert feed.view.selectionModel().currentIndex().row() == 5
    assert feed.detail.item is not None and feed.detail.item.id == _id(395)
    assert feed.view.verticalScrollBar().value() == scroll
    assert feed.view.indexAt(QPoint(1, 1)).row() == top
    # the Library: a row in its place (between 351 and 348), the rest as it was
    shown = ids(library.model)
    assert shown.index(item_id) == shown.index(_id(351)) + 1 == shown.index(_id(348)) - 1
    assert len(shown) == 101
    assert selected(library) == [_id(393)]
    assert library.detail.item is not None and library.detail.item.id == _id(393)
    assert library.loaded_path == playing
    assert resets == []


def test_a_probe_made_and_a_file_deleted_update_only_their_rows(
    qtbot: Any, tabs: _Tabs, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed, library = tabs.feed, tabs.library
    select_row(library.current_view, 0)  # 399
    qtbot.waitUntil(lambda: library.loaded_path is not None or library.player is None)
    playing = library.loaded_path
    read = decoded(monkeypatch)

    # the media worker probed the selected item's file: the detail says what it holds
    path = library.model.item_at(0).files[0].path
    probe = json.dumps(media.probe(path).to_json())
    with tabs.desk.library.store.write() as conn:
        conn.execute("UPDATE library_files SET probe = ? WHERE item_id = ?", (probe, _id(399)))
    tabs.news(qtbot, _id(399))
    assert read == [_id(399), _id(399)]
    assert "h264" in library.detail.values["file"].text()
    assert selected(library) == [_id(399)] and library.loaded_path == playing

    # a file deleted (from the other workstation's share, a CLI): its row leaves the Library
    read.clear()
    tabs.desk.library.remove_file(_id(396), "broadcast")
    tabs.news(qtbot, _id(396))
    assert read == [_id(396)]  # (the Feed's: it no longer matches the Library's query)
    assert _id(396) not in ids(library.model) and library.model.rowCount() == 99
    assert feed.model.index(feed.model.row_of(_id(396)) or 0, COL_STATE).data(STATE_ROLE) == "new"
    assert selected(library) == [_id(399)] and library.loaded_path == playing


def test_the_bridge_carries_the_ids_of_the_items_changed(qtbot: Any, tmp_path: Path) -> None:
    """Coalesced as before (one signal per 300 ms at most), now with what changed; news of
    unknown items ('' from the core, or no ids from the UI) is None: read everything."""
    store = Store(tmp_path / "bridge.sqlite3")
    desk = _Desk(store)
    bridge = CoreBridge(desk)  # type: ignore[arg-type]
    told: list[Any] = []
    plain: list[bool] = []
    bridge.library_items_changed.connect(told.append)
    bridge.library_changed.connect(lambda: plain.append(True))
    events = desk.events

    def core_says(*item_ids: str) -> None:
        for item_id in item_ids:
            t = threading.Thread(target=lambda i=item_id: events.emit(events.library_changed, i))
            t.start()
            t.join()

    try:
        core_says("a", "b", "a")
        qtbot.waitUntil(lambda: len(told) == 1)
        core_says("c", "")
        qtbot.waitUntil(lambda: len(told) == 2)
        bridge.notify_library_changed(["d"])
        bridge.notify_library_changed(iter(["e"]))
        qtbot.waitUntil(lambda: len(told) == 3)
        bridge.notify_library_changed()
        qtbot.waitUntil(lambda: len(told) == 4)
        assert told == [frozenset({"a", "b"}), None, frozenset({"d", "e"}), None]
        assert len(plain) == 4  # (History listens to this one)
    finally:
        bridge.detach()
        store.close()
