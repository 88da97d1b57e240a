"""ItemsModel on a real store with generated items: lazy pages, live insertion at the top with
the selection kept, refresh merging in place, the roles the views paint with."""

from __future__ import annotations

import datetime as dt
import gc
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import QTableView

from alu_client.core.hub import Item, Rendition
from alu_client.core.library import Library, LibraryItem, Query, upsert_items
from alu_client.core.library.files import record_file
from alu_client.core.store import Store
from alu_client.core.store.transfers import TransferStore
from alu_client.ui import colors, delegates_items
from alu_client.ui.delegates_items import clip_length, relative_time
from alu_client.ui.models import OBJECT_ROLE, STATE_ROLE
from alu_client.ui.models import items as items_module
from alu_client.ui.models.items import (
    COL_DURATION,
    COL_LANGUAGE,
    COL_PRIORITY,
    COL_PUBLISHED,
    COL_STATE,
    COL_THUMB,
    COL_TITLE,
    ItemsModel,
)
from tests.gui.conftest import contrast

PROFILE = "desk"
BASE = dt.datetime(2026, 3, 1, 6, 0, tzinfo=dt.UTC)


def make_item(seq: int, **fields: Any) -> Item:
    item_id = fields.pop("id", f"it{seq:06d}")
    values: dict[str, Any] = {
        "id": item_id,
        "seq": seq,
        "kind": "push",
        "title": f"Item number {seq}",
        "slug": f"ITEM-{seq}",
        "dateline": "NAIROBI, Kenya",
        "recorded_at": None,
        "published_at": BASE + dt.timedelta(minutes=seq),
        "category": "politics",
        "region": "East Africa",
        "country": "KE",
        "language": "en",
        "priority": "routine",
        "restrictions": "",
        "script": "",
        "shotlist": "",
        "duration": 65.0,
        "source_member": "",
        "thumbnail_url": "",
        "renditions": (
            Rendition("broadcast", f"http://hub/{item_id}", f"{item_id}.mp4", 1000, "0" * 64,
                      "video/mp4", 1280, 720),
        ),
    }  # fmt: skip
    values.update(fields)
    return Item(**values)


@pytest.fixture
def library(tmp_path: Path) -> Iterator[Library]:
    store = Store(tmp_path / "library.sqlite3")
    upsert_items(
        store,
        PROFILE,
        [make_item(n, priority="flash" if n % 50 == 0 else "routine") for n in range(1, 501)],
    )
    yield Library(store, PROFILE)
    store.close()


@pytest.fixture
def model(qtbot: Any, library: Library) -> Iterator[ItemsModel]:
    m = ItemsModel(library, page_size=100)
    yield m
    m.tasks.wait_for_done()
    m.thumbnails.wait_for_done()


def settle(qtbot: Any, model: ItemsModel) -> None:
    """Wait until the model has no read under way nor asked for."""
    qtbot.waitUntil(lambda: not model._busy and not model._wanted)


def seqs(model: ItemsModel) -> list[int]:
    return [model.item_at(r).seq for r in range(model.rowCount())]


def test_only_a_page_is_loaded_until_fetch_more(qtbot: Any, model: ItemsModel) -> None:
    assert model.rowCount() == 0
    with qtbot.waitSignal(model.rows_loaded):
        model.set_query(Query())
    settle(qtbot, model)
    assert model.rowCount() == 100
    assert seqs(model) == list(range(500, 400, -1))  # newest first
    assert model.canFetchMore(model.index(-1, -1))
    with qtbot.waitSignal(model.rows_loaded):
        model.fetchMore(model.index(-1, -1))
    settle(qtbot, model)
    assert model.rowCount() == 200
    assert seqs(model)[100] == 400
    for _ in range(3):
        model.fetchMore(model.index(-1, -1))
        qtbot.waitUntil(lambda: not model._busy and not model._wanted)
    assert model.rowCount() == 500
    assert seqs(model) == list(range(500, 0, -1))
    assert not model.canFetchMore(model.index(-1, -1))


def test_model_tester(qtbot: Any, qtmodeltester: Any, model: ItemsModel) -> None:
    model.set_query(Query())
    qtbot.waitUntil(lambda: model.rowCount() == 100)
    qtmodeltester.check(model)
    settle(qtbot, model)
    # the tester asks for more pages (fetchMore) as it checks: rows stay newest first, unique
    qtmodeltester.check(model)
    assert seqs(model) == sorted(set(seqs(model)), reverse=True)
    assert model.rowCount() >= 100


def test_roles_and_texts(qtbot: Any, model: ItemsModel) -> None:
    model.set_query(Query())
    qtbot.waitUntil(lambda: model.rowCount() == 100)
    flash = model.index(0, COL_TITLE)  # seq 500: a flash item
    assert isinstance(flash.data(OBJECT_ROLE), LibraryItem)
    assert flash.data(OBJECT_ROLE).item.priority == "flash"
    font = flash.data(Qt.ItemDataRole.FontRole)
    assert isinstance(font, QFont) and font.bold()
    assert flash.data(Qt.ItemDataRole.ForegroundRole) == colors.FLASH  # on a light palette
    routine = model.index(1, COL_TITLE)
    assert routine.data(Qt.ItemDataRole.FontRole) is None
    assert routine.data() == "Item number 499"
    assert model.index(0, COL_PRIORITY).data() == "Flash"
    assert model.index(0, COL_LANGUAGE).data() == "English"
    assert model.index(0, COL_DURATION).data() == "1:05"
    assert model.index(0, COL_STATE).data() == "New"
    assert model.index(0, COL_STATE).data(STATE_ROLE) == "new"
    assert model.headerData(COL_PUBLISHED, Qt.Orientation.Horizontal) == "Published"
    now = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    assert relative_time(now - dt.timedelta(seconds=20), now) == "just now"
    assert relative_time(now - dt.timedelta(minutes=5, seconds=10), now) == "5 min ago"
    assert relative_time(now - dt.timedelta(hours=3), now) == "3 h ago"
    assert relative_time(now - dt.timedelta(days=2), now) == "2 d ago"
    assert clip_length(3727) == "1:02:07"


def test_flash_and_urgent_stay_readable_on_a_dark_palette(
    qtbot: Any, model: ItemsModel, library: Library, dark_palette: QPalette
) -> None:
    # fixed, the flash rows' red was 3.0:1 on a dark table and urgent's orange 3.3:1
    upsert_items(library.store, PROFILE, [make_item(501, priority="urgent")])
    model.set_query(Query())
    qtbot.waitUntil(lambda: model.rowCount() == 100)
    urgent, flash = model.index(0, COL_PRIORITY), model.index(1, COL_TITLE)
    assert (urgent.data(), flash.data(OBJECT_ROLE).item.priority) == ("Urgent", "flash")
    for index in (urgent, flash):
        color = index.data(Qt.ItemDataRole.ForegroundRole)
        for role in (QPalette.ColorRole.Base, QPalette.ColorRole.AlternateBase):
            assert contrast(color, dark_palette.color(role)) >= 4.5, color.name()
        assert color.red() > max(color.green(), color.blue())  # still a red, an orange


def test_a_cards_accessible_text_says_its_priority_and_state_in_words(
    qtbot: Any, model: ItemsModel, library: Library
) -> None:
    # a screen reader read a card as its title alone: not that it was flash, nor missing
    upsert_items(library.store, PROFILE, [make_item(501, priority="urgent")])
    model.set_query(Query())
    qtbot.waitUntil(lambda: model.rowCount() == 100)
    with library.store.write() as conn:
        record_file(conn, PROFILE, "it000499", "broadcast", "/media/it000499.mp4", 1000, "0" * 64)
    with qtbot.waitSignal(model.rows_loaded):
        model.refresh()
    settle(qtbot, model)

    def said(row: int) -> str:
        return str(model.index(row, COL_THUMB).data(Qt.ItemDataRole.AccessibleTextRole))

    assert said(0) == "Item number 501, Urgent, New"
    assert said(1) == "Item number 500, Flash, New"
    assert said(2) == "Item number 499"  # routine and here: nothing more than its title


def test_a_clip_length_no_clip_has_is_not_shown() -> None:
    # a hub's "duration": 1e300 (or 1e999, infinity) kept by an older version: every paint of
    # the row or card raised OverflowError (QLocale cannot write those hours)
    for seconds in (float("inf"), float("nan"), 1e300, -5.0, 1e7 + 1):
        assert clip_length(seconds) == "", seconds
    assert clip_length(1e7).endswith(":46:40")  # 2,777 hours: the longest shown


def test_new_items_go_on_top_and_the_selection_stays(
    qtbot: Any, model: ItemsModel, library: Library
) -> None:
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.show()
    model.set_query(Query())
    qtbot.waitUntil(lambda: model.rowCount() == 100)
    settle(qtbot, model)
    view.selectRow(3)
    chosen = model.item_at(3).id
    resets: list[int] = []
    model.modelReset.connect(lambda: resets.append(1))
    upsert_items(library.store, PROFILE, [make_item(501), make_item(502, priority="flash")])
    with qtbot.waitSignal(model.rows_loaded):
        model.add_newer()
    settle(qtbot, model)
    assert seqs(model)[:3] == [502, 501, 500]
    assert model.rowCount() == 102
    selected = view.selectionModel().selectedRows()
    assert [model.item_at(i.row()).id for i in selected] == [chosen]
    assert view.selectionModel().currentIndex().row() == 5
    assert resets == []


def test_refresh_merges_in_place(qtbot: Any, model: ItemsModel, library: Library) -> None:
    model.set_query(Query(unread=True))
    qtbot.waitUntil(lambda: model.rowCount() == 100)
    settle(qtbot, model)
    keep = model.item_at(10).id
    selection = QItemSelectionModel(model)
    flags = QItemSelectionModel.SelectionFlag
    selection.select(model.index(10, 0), flags.Select | flags.Rows)
    gone = [model.item_at(r).id for r in (0, 1, 2, 50)]
    library.mark_read(gone)
    upsert_items(library.store, PROFILE, [make_item(501)])
    with qtbot.waitSignal(model.rows_loaded):
        model.refresh()
    settle(qtbot, model)
    ids = [model.item_at(r).id for r in range(model.rowCount())]
    assert not set(gone) & set(ids)
    assert ids[0] == "it000501"
    assert model.rowCount() == 97
    assert [model.item_at(i.row()).id for i in selection.selectedRows()] == [keep]
    # read marks shown without a store read
    model.set_read([keep])
    assert model.index(model.row_of(keep) or 0, COL_STATE).data() == ""


def test_refresh_when_everything_is_loaded_finds_older_items(
    qtbot: Any, model: ItemsModel, library: Library
) -> None:
    """Every page loaded, an item older than every row newly matches (a download of
    yesterday's story in the Library): a refresh shows it, in its place, selection kept."""
    library.mark_read([make_item(n).id for n in range(451, 481)])
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.show()
    model.set_query(Query(unread=False))
    qtbot.waitUntil(lambda: model.rowCount() == 30)
    settle(qtbot, model)
    assert not model.canFetchMore(model.index(-1, -1))  # nothing more to page in
    view.selectRow(4)
    chosen = model.item_at(4).id
    resets: list[int] = []
    model.modelReset.connect(lambda: resets.append(1))
    library.mark_read(["it000007", "it000300"])  # older than every row
    with qtbot.waitSignal(model.rows_loaded):
        model.refresh()
    settle(qtbot, model)
    assert seqs(model) == [*range(480, 450, -1), 300, 7]
    assert [model.item_at(i.row()).id for i in view.selectionModel().selectedRows()] == [chosen]
    assert resets == []


def test_refresh_with_pages_left_reads_only_down_to_the_last_row(
    qtbot: Any, model: ItemsModel, library: Library
) -> None:
    """Older items that match now come with the next page, not with a refresh (which stays
    as cheap as the rows loaded)."""
    model.set_query(Query())
    qtbot.waitUntil(lambda: model.rowCount() == 100)
    settle(qtbot, model)
    upsert_items(library.store, PROFILE, [make_item(501)])
    with qtbot.waitSignal(model.rows_loaded):
        model.refresh()
    settle(qtbot, model)
    assert seqs(model) == list(range(501, 400, -1))
    model.fetchMore(model.index(-1, -1))
    settle(qtbot, model)
    assert seqs(model)[-1] == 301


def test_state_follows_the_downloads_as_transfers_show_them(
    qtbot: Any, model: ItemsModel, library: Library
) -> None:
    """Queued (or under way), paused and failed downloads each say so, as the Transfers tab
    does; canceled ones are forgotten; one under way wins over an older failed one."""
    transfers = TransferStore(library.store)

    def download(seq: int, state: str) -> None:
        tid = transfers.add("download", "http://hub/x", f"/tmp/{seq}.mp4", item_id=f"it{seq:06d}")
        if state != "queued":
            transfers.set_state(tid, state, only_from=("queued",))

    download(500, "queued")
    download(499, "paused")
    download(498, "failed")
    download(497, "canceled")
    download(496, "failed")
    download(496, "queued")
    model.set_query(Query())
    qtbot.waitUntil(lambda: model.rowCount() == 100)
    settle(qtbot, model)
    states = [model.index(r, COL_STATE).data(STATE_ROLE) for r in range(6)]
    assert states == ["queued", "paused", "failed", "new", "queued", "new"]
    texts = [model.index(r, COL_STATE).data() for r in range(3)]
    assert texts == ["Queued", "Paused", "Failed"]


def load_everything(qtbot: Any, model: ItemsModel) -> None:
    model.set_query(Query())
    settle(qtbot, model)
    while model.canFetchMore(QModelIndex()):
        model.fetchMore(QModelIndex())
        settle(qtbot, model)


def changes(signal: Any) -> list[tuple[int, int, int, int, list[int]]]:
    """Record ``dataChanged`` as (first row, last row, first column, last column, roles)."""
    seen: list[tuple[int, int, int, int, list[int]]] = []
    signal.connect(
        lambda a, b, roles=(): seen.append(
            (a.row(), b.row(), a.column(), b.column(), [int(r) for r in roles])
        )
    )
    return seen


def test_a_thumbnail_that_arrives_repaints_its_row_without_looking_at_the_others(
    qtbot: Any, model: ItemsModel, library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a long catch-up (21,000 rows) each thumbnail that arrived scanned every row and
    sorted its files (thumbnail_path), up to 150 ms each: the window froze for 38 s. Now it
    reads no row at all, even just after new items came on top (as they do all along a
    catch-up, between the thumbnails)."""
    with_thumbnail = [make_item(n, thumbnail_url=f"http://hub/t{n}.jpg") for n in (7, 300)]
    upsert_items(library.store, PROFILE, with_thumbnail)
    load_everything(qtbot, model)
    upsert_items(library.store, PROFILE, [make_item(n) for n in (501, 502)])
    with qtbot.waitSignal(model.rows_loaded):
        model.add_newer()
    settle(qtbot, model)
    assert model.rowCount() == 502
    looked: list[str] = []
    real_path, real_id = delegates_items.thumbnail_path, LibraryItem.id

    def counting(li: LibraryItem) -> str:
        looked.append(li.id)
        return real_path(li)

    def counted_id(li: LibraryItem) -> str:
        looked.append("id")
        return real_id.fget(li)  # type: ignore[attr-defined, no-any-return]

    proxy = QSortFilterProxyModel()  # a sorting proxy above hears of the same row
    proxy.setSourceModel(model)
    proxy.sort(COL_TITLE, Qt.SortOrder.AscendingOrder)
    seen, seen_above = changes(model.dataChanged), changes(proxy.dataChanged)
    decoration = [int(Qt.ItemDataRole.DecorationRole)]
    monkeypatch.setattr(items_module, "thumbnail_path", counting)
    monkeypatch.setattr(LibraryItem, "id", property(counted_id))

    model.thumbnails.loaded.emit("hub:it000300")
    assert looked == []
    assert seen == [(202, 202, COL_THUMB, COL_THUMB, decoration)]
    assert model.item_at(202).item.id == "it000300"
    above = proxy.mapFromSource(model.index(202, COL_THUMB)).row()
    assert seen_above == [(above, above, COL_THUMB, COL_THUMB, decoration)]

    model.thumbnails.loaded.emit("hub:it000001")  # no row shows it
    model.thumbnails.loaded.emit("/elsewhere/thumb.jpg")
    assert looked == [] and len(seen) == 1


def test_a_settled_hub_thumbnail_repaints_its_row_to_be_asked_for_again(
    qtbot: Any, model: ItemsModel, library: Library
) -> None:
    # a hub thumbnail is fetched for a row that stays in sight: the cache's ``settled`` has the
    # row painted again (in sight, it asks again); a row that flashed by is painted no more
    upsert_items(library.store, PROFILE, [make_item(n, thumbnail_url=f"http://hub/t{n}.jpg") for n in (7, 300)])  # fmt: skip
    load_everything(qtbot, model)
    seen = changes(model.dataChanged)
    row = model.row_of("it000300")
    assert row is not None
    model.thumbnails.settled.emit("hub:it000300")
    assert seen == [(row, row, COL_THUMB, COL_THUMB, [int(Qt.ItemDataRole.DecorationRole)])]


def test_a_thumbnail_follows_its_row_through_inserts_refreshes_and_downloads(
    qtbot: Any, model: ItemsModel, library: Library
) -> None:
    """The rows a thumbnail repaints are kept as rows come on top, go, and change: a download
    brings the file's own thumbnail in place of the hub's."""
    upsert_items(library.store, PROFILE, [make_item(450, thumbnail_url="http://hub/t.jpg")])
    model.set_query(Query())
    settle(qtbot, model)
    seen = changes(model.dataChanged)
    decoration = [int(Qt.ItemDataRole.DecorationRole)]

    def repainted(path: str) -> list[int]:
        seen.clear()
        model.thumbnails.loaded.emit(path)
        assert all(c[2:] == (COL_THUMB, COL_THUMB, decoration) for c in seen)
        return [r for first, last, *_ in seen for r in range(first, last + 1)]

    assert repainted("hub:it000450") == [50]
    upsert_items(library.store, PROFILE, [make_item(n) for n in (501, 502, 503)])
    with qtbot.waitSignal(model.rows_loaded):
        model.add_newer()
    settle(qtbot, model)
    assert repainted("hub:it000450") == [53]
    model.fetchMore(QModelIndex())  # rows at the end
    settle(qtbot, model)
    assert model.rowCount() == 203
    assert all(model.row_of(model.item_at(r).id) == r for r in range(model.rowCount()))

    with library.store.write() as conn:  # downloaded, and the media worker made a thumbnail
        record_file(conn, PROFILE, "it000450", "broadcast", "/media/it000450.mp4", 1000, "0" * 64)
        conn.execute(
            "UPDATE library_files SET thumbnail = '/thumbs/it000450.jpg' WHERE item_id = ?",
            ("it000450",),
        )
    library.mark_read(["it000501"])
    with qtbot.waitSignal(model.rows_loaded):
        model.refresh()
    settle(qtbot, model)
    assert model.item_at(53).id == "it000450"
    assert repainted("/thumbs/it000450.jpg") == [53]
    assert repainted("hub:it000450") == []
    assert all(model.row_of(model.item_at(r).id) == r for r in range(model.rowCount()))

    model.set_query(Query(unread=True))  # it000501 is read: not a row any more
    settle(qtbot, model)
    assert model.row_of("it000450") == 52
    assert repainted("/thumbs/it000450.jpg") == [52]


def test_another_members_download_of_an_item_is_not_this_ones(
    qtbot: Any, model: ItemsModel, library: Library
) -> None:
    """Two members on one workstation: Ben's Feed said "Queued" of an item Ann's download
    was fetching (into her library, not his); his own, and one of no profile, say so."""
    transfers = TransferStore(library.store)
    for seq, extra in ((500, {"profile": "another"}), (499, {"profile": PROFILE}), (498, {})):
        transfers.add(
            "download", "http://hub/x", f"/tmp/{seq}.mp4", item_id=f"it{seq:06d}", options=extra
        )
    model.set_query(Query())
    qtbot.waitUntil(lambda: model.rowCount() == 100)
    settle(qtbot, model)
    states = [model.index(r, COL_STATE).data(STATE_ROLE) for r in range(3)]
    assert states == ["new", "queued", "queued"]


# --- a few items changed: only they are read again ----------------------------------------------


def decoded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids of the items read from the store from now on (every read decodes each row)."""
    from alu_client.core.library import search as search_module

    seen: list[str] = []
    real = search_module.item_from_row

    def counting(row: Any, files: Any) -> LibraryItem:
        seen.append(row["id"])
        return real(row, files)

    monkeypatch.setattr(search_module, "item_from_row", counting)
    return seen


def download(library: Library, *seqs: int) -> list[str]:
    """Record a broadcast file for each (as the end of a download does)."""
    with library.store.write() as conn:
        for seq in seqs:
            item_id = f"it{seq:06d}"
            record_file(conn, PROFILE, item_id, "broadcast", f"/m/{item_id}.mp4", 1000, "0" * 64)
    return [f"it{seq:06d}" for seq in seqs]


def refreshed_items(qtbot: Any, model: ItemsModel, item_ids: Any) -> None:
    with qtbot.waitSignal(model.rows_loaded):
        model.refresh_items(item_ids)
    settle(qtbot, model)


def test_a_download_recorded_reads_only_that_item_and_repaints_only_its_row(
    qtbot: Any, model: ItemsModel, library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every download recorded, probe or thumbnail made re-read every loaded row and merged
    them all on the GUI thread (77 ms with 21,000 rows, many times a minute)."""
    load_everything(qtbot, model)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.show()
    view.selectRow(7)
    chosen = model.item_at(7).id
    resets: list[int] = []
    model.modelReset.connect(lambda: resets.append(1))
    seen = changes(model.dataChanged)
    read = decoded(monkeypatch)

    item_id = download(library, 480)[0]
    refreshed_items(qtbot, model, {item_id})
    assert read == [item_id]
    row = model.row_of(item_id)
    assert row == 20
    assert model.index(row, COL_STATE).data(STATE_ROLE) == "downloaded"
    assert model.index(row, COL_STATE).data() == "Downloaded"
    assert seen == [(20, 20, 0, model.columnCount() - 1, [])]
    assert [model.item_at(i.row()).id for i in view.selectionModel().selectedRows()] == [chosen]
    assert view.selectionModel().currentIndex().row() == 7
    assert resets == [] and model.rowCount() == 500
    # an item not shown and not matching, and one unchanged: nothing read but them, no signal
    seen.clear()
    read.clear()
    refreshed_items(qtbot, model, ["it000481", "no-such-item"])
    assert read == ["it000481"]
    assert seen == []


def test_changed_items_come_go_and_take_their_place_without_a_reset(
    qtbot: Any, qtmodeltester: Any, model: ItemsModel, library: Library,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The Library's case: downloads make items match (a row in its place), deletions make
    them stop (the row goes); one below the rows read comes with its page; one above them
    comes with every newer item (none skipped)."""
    download(library, *range(500, 0, -5))  # 100 downloaded: 500, 495, … 5
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.show()
    model.set_query(Query(downloaded=True))
    settle(qtbot, model)
    assert model.rowCount() == 100 and not model.canFetchMore(QModelIndex())
    model.page_size = 20
    model.set_query(Query(downloaded=True))  # 20 rows read: 500 … 405, pages left
    settle(qtbot, model)
    assert seqs(model) == list(range(500, 404, -5))
    view.selectRow(3)
    chosen = model.item_at(3).id  # 485
    resets: list[int] = []
    model.modelReset.connect(lambda: resets.append(1))
    read = decoded(monkeypatch)

    download(library, 477, 451, 407, 300)  # three among the rows, one below the last row read
    with library.store.write() as conn:  # 490 and the last row deleted (records "removed")
        conn.execute(
            "UPDATE library_files SET state = 'removed' WHERE item_id IN (?, ?)",
            ("it000490", "it000405"),
        )
    asked = ["it000477", "it000451", "it000407", "it000300", "it000490", "it000405"]
    refreshed_items(qtbot, model, asked)
    assert sorted(read) == sorted(["it000477", "it000451", "it000407", "it000300"])
    expected = [s for s in range(500, 404, -5) if s not in (490, 405)] + [477, 451, 407]
    assert seqs(model) == sorted(expected, reverse=True)
    assert [model.item_at(i.row()).id for i in view.selectionModel().selectedRows()] == [chosen]
    assert resets == []
    assert model._row_of is not None  # kept as rows came and went, not built again
    assert all(model.row_of(model.item_at(r).id) == r for r in range(model.rowCount()))
    # the item below comes with its page, once
    while model.canFetchMore(QModelIndex()):
        model.fetchMore(QModelIndex())
        settle(qtbot, model)
    assert seqs(model).count(300) == 1 and seqs(model).count(407) == 1
    assert 490 not in seqs(model) and 405 not in seqs(model)
    assert seqs(model) == sorted(set(seqs(model)), reverse=True)

    # new items arrive (not shown yet); the newest is downloaded at once by a rule: it comes,
    # and so do those between it and the rows (downloaded a moment before, news not yet here)
    upsert_items(library.store, PROFILE, [make_item(n) for n in (501, 502, 503, 504)])
    download(library, 501, 503)
    read.clear()
    refreshed_items(qtbot, model, ["it000503"])
    assert seqs(model)[:3] == [503, 501, 500]
    assert [model.item_at(i.row()).id for i in view.selectionModel().selectedRows()] == [chosen]
    assert resets == []
    qtmodeltester.check(model)


def test_downloads_queued_for_other_items_repaint_their_state(
    qtbot: Any, model: ItemsModel, library: Library
) -> None:
    """The downloads under way are read with the changed items: a row whose download was
    queued, paused or failed meanwhile says so (its State cell, not every row)."""
    model.set_query(Query())
    settle(qtbot, model)
    transfers = TransferStore(library.store)
    tid = transfers.add("download", "http://hub/x", "/tmp/x.mp4", item_id="it000497")
    seen = changes(model.dataChanged)
    refreshed_items(qtbot, model, download(library, 499))
    assert sorted(seen) == [
        (1, 1, 0, model.columnCount() - 1, []),
        (3, 3, COL_STATE, COL_STATE, []),
    ]
    assert model.index(3, COL_STATE).data(STATE_ROLE) == "queued"
    transfers.set_state(tid, "failed", only_from=("queued",))
    seen.clear()
    refreshed_items(qtbot, model, ["it000499"])
    assert seen == [(3, 3, COL_STATE, COL_STATE, [])]
    assert model.index(3, COL_STATE).data() == "Failed"


def test_many_items_changed_are_one_full_read(
    qtbot: Any, model: ItemsModel, library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A check of many files, a bulk change: beyond ``_FEW_CHANGED`` items (or when not known
    which) the loaded rows are read again together; a refresh asked meanwhile covers them."""
    model.set_query(Query())
    settle(qtbot, model)
    asked: list[str] = []
    real = items_module._down_to
    monkeypatch.setattr(items_module, "_down_to", lambda *a: asked.append("refresh") or real(*a))
    many = [f"it{n:06d}" for n in range(1, items_module._FEW_CHANGED + 2)]
    refreshed_items(qtbot, model, many)
    assert asked == ["refresh"]
    refreshed_items(qtbot, model, None)
    assert asked == ["refresh"] * 2
    read = decoded(monkeypatch)
    model.fetchMore(QModelIndex())  # busy reading a page: the two wait, and are one
    model.refresh_items(["it000500"])
    model.refresh()
    settle(qtbot, model)
    assert asked == ["refresh"] * 3 and read.count("it000500") == 1


def test_a_model_dropped_while_it_reads_is_freed_at_once_not_left_to_the_collector(
    qtbot: Any, library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its read's callbacks waited in its own runner and held it: a cycle, left to the garbage
    # collector, which ran on the thread reading 21,000 items and destroyed its timer there.
    go = threading.Event()
    real_page = items_module._page

    def slow_page(*args: Any) -> Any:
        go.wait(10)
        return real_page(*args)

    monkeypatch.setattr(items_module, "_page", slow_page)
    gc.collect()
    was = gc.isenabled()  # (off: the suite's guard collects on the GUI thread's timer)
    gc.disable()
    try:
        m = ItemsModel(library, page_size=100)
        runner = m.tasks
        m.set_query(Query())
        assert runner.pending == 1
        gone = weakref.ref(m)
        del m, runner
        assert gone() is None
    finally:
        go.set()
        if was:
            gc.enable()
