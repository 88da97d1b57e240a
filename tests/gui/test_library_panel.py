"""The Library tab on a real core and a real hub: a download made from the Feed appears with its
thumbnail and probe once the media worker has made them; grid and list; show in folder; copy
to a folder (never over a file); delete the local file (asked first, the record kept); the
Feed's preview selects the item here."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QObject, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QTableView,
    QTabWidget,
    QTextEdit,
    QWidget,
)

from alu_client.core.services import Services
from alu_client.ui import formats
from alu_client.ui.bridge import CoreBridge
from alu_client.ui.formats import isolated
from alu_client.ui.models import STATE_ROLE
from alu_client.ui.models.items import COL_STATE, COL_THUMB, COL_TITLE
from alu_client.ui.tasks import TaskRunner
from alu_client.ui.views.feed import FeedPanel
from alu_client.ui.views.library import (
    CopyCanceled,
    CopyOutcome,
    LibraryPanel,
    copy_files,
)
from tests.gui import test_feed_panel as feed_tests
from tests.gui.conftest import press_shortcut
from tests.support.livehub import LiveHub

# the Feed tests' fixtures (a signed-in core, the pushes, the bridge, the runner, the Feed tab)
desk, pushes, bridge, tasks, feed = (
    feed_tests.desk,
    feed_tests.pushes,
    feed_tests.bridge,
    feed_tests.tasks,
    feed_tests.feed,
)
click_row = feed_tests.click_row


@pytest.fixture
def library(
    qtbot: Any, desk: Services, bridge: CoreBridge, tasks: TaskRunner
) -> Iterator[LibraryPanel]:
    panel = LibraryPanel(desk, bridge, tasks)
    qtbot.addWidget(panel)
    panel.resize(1200, 700)
    panel.show()
    qtbot.waitExposed(panel)
    yield panel
    panel.model.tasks.wait_for_done()
    panel.model.thumbnails.wait_for_done()


def shown_ids(panel: LibraryPanel) -> list[str]:
    return [panel.model.item_at(r).id for r in range(panel.model.rowCount())]


def download_from_feed(qtbot: Any, feed: FeedPanel, item_id: str) -> None:
    rows = [feed.model.item_at(r).id for r in range(feed.model.rowCount())]
    click_row(qtbot, feed, rows.index(item_id))
    qtbot.mouseClick(feed.toolbar.widgetForAction(feed.download_action), Qt.MouseButton.LeftButton)


def thumbnail(panel: LibraryPanel, row: int) -> Any:
    return panel.model.index(row, COL_THUMB).data(Qt.ItemDataRole.DecorationRole)


def wait_thumbnail(qtbot: Any, panel: LibraryPanel, row: int = 0) -> None:
    qtbot.waitUntil(
        lambda: isinstance(p := thumbnail(panel, row), QPixmap) and not p.isNull(), timeout=30_000
    )


def select(qtbot: Any, panel: LibraryPanel, row: int) -> None:
    view = panel.current_view
    column = COL_THUMB if view is panel.grid else COL_TITLE
    rect = view.visualRect(panel.model.index(row, column))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: [li.id for li in panel.selected_items()] == [shown_ids(panel)[row]])


def test_download_appears_with_thumbnail_then_delete_keeps_the_record(
    qtbot: Any, qtmodeltester: Any, feed: FeedPanel, library: LibraryPanel, desk: Services,
    pushes: dict[str, str],
) -> None:  # fmt: skip
    assert shown_ids(library) == []
    download_from_feed(qtbot, feed, pushes["fr"])
    qtbot.waitUntil(lambda: shown_ids(library) == [pushes["fr"]], timeout=30_000)
    wait_thumbnail(qtbot, library)
    qtmodeltester.check(library.model)
    # the grid paints the card; the list mode shows the same rows and keeps the selection
    library.grid.viewport().grab()
    select(qtbot, library, 0)
    assert library.detail.title.text() == "ÉLECTIONS au Sénégal : résultats"
    qtbot.waitUntil(lambda: "h264" in library.detail.values["file"].text(), timeout=30_000)
    assert "Video:" in library.detail.values["file"].text()
    assert library.show_folder_action.isEnabled() and library.delete_action.isEnabled()
    # the player is part of the app (a machine without QtMultimedia's libraries gets none: the
    # README's test command installs them, so here it must load)
    assert library.player is not None and library.loaded_path is not None
    library.list_action.trigger()
    assert library.views.currentWidget() is library.table
    assert [li.id for li in library.selected_items()] == [pushes["fr"]]
    library.table.viewport().grab()
    library.grid_action.trigger()

    li = desk.library.get(pushes["fr"])
    assert li is not None
    f = li.file("broadcast")
    assert f is not None and f.present and f.path.exists()
    # Delete (the key) asks first; "Keep" keeps
    library.current_view.setFocus()
    qtbot.keyClick(library.current_view, Qt.Key.Key_Delete)
    box = confirm_box(qtbot, library)
    assert "ÉLECTIONS au Sénégal" in box.text()
    qtbot.mouseClick(box.findChild(QPushButton, "confirm-delete-no"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not box.isVisible())
    assert f.path.exists()
    library.delete_action.trigger()
    box = confirm_box(qtbot, library)
    qtbot.mouseClick(box.findChild(QPushButton, "confirm-delete-yes"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: shown_ids(library) == [], timeout=10_000)
    assert not f.path.exists()
    kept = desk.library.get(pushes["fr"])
    assert kept is not None
    assert kept.file("broadcast").state == "removed"  # type: ignore[union-attr]
    assert kept.item.title == "ÉLECTIONS au Sénégal : résultats"
    assert library.message.isHidden()


def confirm_box(qtbot: Any, panel: LibraryPanel) -> QMessageBox:
    qtbot.waitUntil(lambda: (b := panel.findChild(QMessageBox, "confirm-delete")) and b.isVisible())
    box = panel.findChild(QMessageBox, "confirm-delete")
    assert isinstance(box, QMessageBox)
    return box


class UrlCatcher(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url)


def test_copy_to_never_overwrites_and_show_in_folder(
    qtbot: Any, feed: FeedPanel, library: LibraryPanel, desk: Services, pushes: dict[str, str],
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from alu_client.ui import reveal

    # no file manager to select the file in (as without a session bus): the folder opened
    monkeypatch.setattr(reveal, "show_items_dbus", lambda _path, _parent: False)
    download_from_feed(qtbot, feed, pushes["en"])
    qtbot.waitUntil(lambda: shown_ids(library) == [pushes["en"]], timeout=30_000)
    select(qtbot, library, 0)
    li = library.selected_items()[0]
    source = li.file("broadcast")
    assert source is not None
    share = tmp_path / "newsroom-share"
    share.mkdir()
    taken = share / source.path.name
    taken.write_bytes(b"somebody else's file")

    library.copy_action.trigger()
    qtbot.waitUntil(
        lambda: (d := library.findChild(QFileDialog, "copy-to-dialog")) and d.isVisible()
    )
    dialog = library.findChild(QFileDialog, "copy-to-dialog")
    assert isinstance(dialog, QFileDialog)
    dialog.setDirectory(str(share))
    with qtbot.waitSignal(library.copied, timeout=20_000) as copied:
        dialog.accept()
    made = copied.args[0]
    assert len(made) == 1 and made[0].parent == share and made[0] != taken
    assert made[0].read_bytes() == source.path.read_bytes()
    assert taken.read_bytes() == b"somebody else's file"
    assert library.copy_progress.isHidden()
    # the panel says it is done (the bar alone just vanished)
    assert library.message.isVisible()
    assert library.message.text() == f"Copied 1 file to {isolated(share)}"

    catcher = UrlCatcher()
    QDesktopServices.setUrlHandler("file", catcher, "open")  # type: ignore[arg-type]
    try:
        library.show_folder_action.trigger()  # (the folder looked at off the GUI thread)
        qtbot.waitUntil(lambda: bool(catcher.urls), timeout=10_000)
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert [Path(u.toLocalFile()) for u in catcher.urls] == [source.path.parent]


def test_preview_from_the_feed_selects_the_item(
    qtbot: Any, feed: FeedPanel, library: LibraryPanel, desk: Services, pushes: dict[str, str]
) -> None:
    feed.preview_requested.connect(library.show_item)
    download_from_feed(qtbot, feed, pushes["ar"])
    qtbot.waitUntil(lambda: shown_ids(library) == [pushes["ar"]], timeout=30_000)
    library.selection.clearSelection()
    qtbot.waitUntil(feed.preview_action.isEnabled, timeout=10_000)
    # the search box had the focus in the Library: the preview moves it to the item shown, so
    # that Space pauses (and types no space in the search)
    search = library.filters.search
    library.activateWindow()
    search.setFocus()
    qtbot.waitUntil(lambda: library.isActiveWindow() and search.hasFocus())
    feed.preview_action.trigger()
    assert [li.id for li in library.selected_items()] == [pushes["ar"]]
    assert library.detail.item is not None and library.detail.item.id == pushes["ar"]
    qtbot.waitUntil(library.current_view.hasFocus)
    player = library.player
    assert player is not None
    assert library.loaded_path is not None and library.loaded_path.exists()
    from PySide6.QtMultimedia import QMediaPlayer

    playing = QMediaPlayer.PlaybackState.PlayingState
    qtbot.waitUntil(lambda: player.player.playbackState() == playing, timeout=10_000)
    with qtbot.waitSignal(player.playback_state_changed, timeout=10_000):
        qtbot.keyClick(library.current_view, Qt.Key.Key_Space)
    assert player.player.playbackState() != playing
    assert search.text() == ""
    # an item not among the rows (filtered out) is shown all the same
    library.filters.set_value(library.filters.language, "en")
    qtbot.waitUntil(lambda: shown_ids(library) == [])
    library.show_item(pushes["ar"])
    qtbot.waitUntil(lambda: library.detail.item is not None)
    assert library.detail.item is not None and library.detail.item.id == pushes["ar"]


def test_a_download_older_than_every_row_appears(
    qtbot: Any, feed: FeedPanel, library: LibraryPanel, pushes: dict[str, str]
) -> None:
    """The Library lists the newest download; the user then downloads an older story from the
    Feed: it shows too, below, with no filter change or restart."""
    download_from_feed(qtbot, feed, pushes["ar"])
    qtbot.waitUntil(lambda: shown_ids(library) == [pushes["ar"]], timeout=30_000)
    select(qtbot, library, 0)
    download_from_feed(qtbot, feed, pushes["en"])
    qtbot.waitUntil(lambda: shown_ids(library) == [pushes["ar"], pushes["en"]], timeout=30_000)
    assert [li.id for li in library.selected_items()] == [pushes["ar"]]


def test_a_copy_says_what_it_copied_and_what_it_could_not(
    qtbot: Any, feed: FeedPanel, library: LibraryPanel, desk: Services, pushes: dict[str, str],
    tmp_path: Path, announced: list[tuple[str, str]],
) -> None:  # fmt: skip
    for key in ("en", "fr"):
        download_from_feed(qtbot, feed, pushes[key])
    qtbot.waitUntil(lambda: len(shown_ids(library)) == 2, timeout=30_000)
    library.current_view.selectAll()
    qtbot.waitUntil(lambda: len(library.selected_items()) == 2)
    share = tmp_path / "share"
    share.mkdir()
    with qtbot.waitSignal(library.copied, timeout=20_000) as copied:
        library.copy_selected_to(share)
    assert len(copied.args[0]) == 2
    assert library.message.text() == f"Copied 2 files to {isolated(share)}"
    assert announced[-1] == (library.message.text(), "Polite")  # said, not only drawn
    # one of the two files has gone from the disk meanwhile: the other is still copied, and
    # the panel says which one was not and why
    gone = desk.library.get(pushes["fr"])
    assert gone is not None
    gone_file = gone.file("broadcast")
    assert gone_file is not None
    gone_file.path.unlink()
    again = tmp_path / "again"
    again.mkdir()
    with qtbot.waitSignal(library.copied, timeout=20_000) as copied:
        library.copy_selected_to(again)
    assert [p.parent for p in copied.args[0]] == [again]
    assert library.message.isVisible()
    assert library.message.text() == (
        f"Copied 1 of 2 files to {isolated(again)}; not copied: {isolated(gone_file.path.name)} "
        "(No such file or directory)"
    )
    # nothing copied at all: said as a failure
    with qtbot.waitSignal(library.command_failed, timeout=20_000) as failed:
        library.copy_selected_to(tmp_path / "no-such-folder")
    assert failed.args[0].startswith(f"Could not copy to {isolated(tmp_path / 'no-such-folder')}: ")
    assert announced[-1] == (failed.args[0], "Assertive")
    # stopped by the user after the first file: said, with what is in the folder
    library._say_stopped(CopyOutcome(made=[again / "x.mp4"]), again, 3)
    assert library.message.text() == f"Copy stopped: 1 of 3 files copied to {isolated(again)}"
    library._say_stopped(CopyOutcome(), again, 3)
    assert library.message.text() == f"Copy stopped: nothing was copied to {isolated(again)}"


def test_a_copy_stopped_part_way_keeps_the_whole_files_and_says_which(tmp_path: Path) -> None:
    first, second = tmp_path / "a.mp4", tmp_path / "b.mp4"
    first.write_bytes(b"a" * 1000)
    second.write_bytes(b"b" * (3 << 20))
    out = tmp_path / "out"
    out.mkdir()
    cancel = threading.Event()
    # the first progress report comes after the first file's only chunk: stop there
    with pytest.raises(CopyCanceled) as stopped:
        copy_files([first, second], out, lambda _done, _total: cancel.set(), cancel)
    assert stopped.value.outcome.made == [out / "a.mp4"]
    assert sorted(p.name for p in out.iterdir()) == ["a.mp4"]  # b's half copy is removed
    assert (out / "a.mp4").read_bytes() == first.read_bytes()


def test_player_keys_work_from_the_grid_the_list_and_the_detail(
    qtbot: Any, feed: FeedPanel, library: LibraryPanel, pushes: dict[str, str]
) -> None:
    from PySide6.QtMultimedia import QMediaPlayer

    state = QMediaPlayer.PlaybackState
    download_from_feed(qtbot, feed, pushes["en"])
    qtbot.waitUntil(lambda: shown_ids(library) == [pushes["en"]], timeout=30_000)
    player = library.player
    assert player is not None
    library.activateWindow()
    select(qtbot, library, 0)  # a click on the thumbnail: the grid has the focus, not the player
    qtbot.waitUntil(
        # open: loaded, then buffered once paused on its first frame
        lambda: (
            player.player.mediaStatus()
            in (QMediaPlayer.MediaStatus.LoadedMedia, QMediaPlayer.MediaStatus.BufferedMedia)
        ),
        timeout=10_000,
    )

    def press(widget: Any, key: Qt.Key, expect: QMediaPlayer.PlaybackState) -> None:
        widget.setFocus()
        qtbot.waitUntil(lambda: library.isActiveWindow() and widget.hasFocus())
        with qtbot.waitSignal(
            player.playback_state_changed, check_params_cb=lambda s: s == expect, timeout=10_000
        ):
            qtbot.keyClick(widget, key)

    # M mutes, F: full screen, from the grid where the item was just picked (they went to its
    # type-ahead search: only a Tab into the player made them work)
    qtbot.waitUntil(lambda: library.isActiveWindow() and library.grid.hasFocus())
    qtbot.keyClick(library.grid, Qt.Key.Key_M)
    assert player.audio_output.isMuted()
    qtbot.keyClick(library.grid, Qt.Key.Key_M)
    assert not player.audio_output.isMuted()
    press(library.grid, Qt.Key.Key_Space, state.PlayingState)
    press(library.grid, Qt.Key.Key_Space, state.PausedState)
    press(library.grid, Qt.Key.Key_Return, state.PlayingState)  # as a double-click: play it
    press(library.grid, Qt.Key.Key_Space, state.PausedState)
    qtbot.keyClick(library.grid, Qt.Key.Key_F)
    qtbot.waitUntil(player.is_full_screen)
    player.set_full_screen(False)
    library.list_action.trigger()
    press(library.table, Qt.Key.Key_Space, state.PlayingState)
    press(library.table, Qt.Key.Key_Period, state.PausedState)  # a frame step pauses
    at = player.player.position()
    qtbot.keyClick(library.table, Qt.Key.Key_Period)
    qtbot.waitUntil(lambda: player.player.position() > at)
    script = library.detail.findChild(QTextEdit, "detail-script")
    assert script is not None and script.isReadOnly()
    press(script, Qt.Key.Key_Space, state.PlayingState)
    press(script, Qt.Key.Key_Space, state.PausedState)
    # M mutes, F: full screen (Escape leaves), from the detail too
    qtbot.keyClick(script, Qt.Key.Key_M)
    assert player.audio_output.isMuted()
    qtbot.keyClick(script, Qt.Key.Key_F)
    qtbot.waitUntil(player.is_full_screen)
    player.set_full_screen(False)
    # the search box keeps Space (and F, M, comma, full stop) for typing
    search = library.filters.search
    search.setFocus()
    qtbot.waitUntil(lambda: library.isActiveWindow() and search.hasFocus())
    qtbot.keyClicks(search, "f, .x my")
    assert search.text() == "f, .x my"
    assert player.player.playbackState() != state.PlayingState
    assert not player.is_full_screen()
    assert player.audio_output.isMuted()  # as M left it in the detail


def test_a_title_typed_in_the_grid_or_the_list_finds_the_item(
    qtbot: Any,
    live_hub: LiveHub,
    clip: Path,
    desk: Services,
    feed: FeedPanel,
    library: LibraryPanel,
    pushes: dict[str, str],
) -> None:
    """Type-ahead search: the grid found nothing (its one column had no text), and the
    player's keys took the letters and punctuation of a title ("m" muted, "F" went full
    screen, a space played)."""
    from PySide6.QtMultimedia import QMediaPlayer

    # a title with an "m", a comma and full stops
    mombasa = live_hub.publish(
        clip, title="Mombasa port, 6 a.m. reopening", language="en", slug="KENYA-PORT"
    )
    assert desk.sync is not None
    desk.sync.sync_now()
    qtbot.waitUntil(lambda: feed.model.rowCount() == 4, timeout=20_000)
    download_from_feed(qtbot, feed, mombasa)
    download_from_feed(qtbot, feed, pushes["en"])
    both = sorted([mombasa, pushes["en"]])
    qtbot.waitUntil(lambda: sorted(shown_ids(library)) == both, timeout=30_000)
    player = library.player
    assert player is not None
    library.activateWindow()
    select(qtbot, library, shown_ids(library).index(pushes["en"]))  # the grid has the focus
    qtbot.waitUntil(
        # open: loaded, then buffered once paused on its first frame
        lambda: (
            player.player.mediaStatus()
            in (QMediaPlayer.MediaStatus.LoadedMedia, QMediaPlayer.MediaStatus.BufferedMedia)
        ),
        timeout=10_000,
    )
    qtbot.waitUntil(lambda: library.isActiveWindow() and library.grid.hasFocus())
    qtbot.keyClicks(library.grid, "Mombasa port, 6 a.m. r")
    assert [li.id for li in library.selected_items()] == [mombasa]
    library.list_action.trigger()
    library.table.setFocus()
    qtbot.waitUntil(library.table.hasFocus)
    qtbot.keyClicks(library.table, "Floods in")
    assert [li.id for li in library.selected_items()] == [pushes["en"]]
    assert not player.audio_output.isMuted()
    assert not player.is_full_screen()
    assert player.player.playbackState() != QMediaPlayer.PlaybackState.PlayingState
    assert library.filters.search.text() == ""


def test_every_library_command_is_in_the_context_menu_and_has_keys(
    qtbot: Any, library: LibraryPanel
) -> None:
    # Grid/List, Show in folder and Copy to… were toolbar buttons only, which take no focus
    commands = (library.grid_action, library.list_action, library.show_folder_action,
                library.copy_action, library.delete_action)  # fmt: skip
    for view in (library.grid, library.table):
        assert view.contextMenuPolicy() == Qt.ContextMenuPolicy.ActionsContextMenu
        assert set(commands) <= set(view.actions())
    keys = [a.shortcut().toString() for a in commands]
    assert all(keys) and len(set(keys)) == len(keys)
    assert all(a.toolTip().endswith(f"({formats.keys_text(a.shortcut())})") for a in commands)
    library.detail.setFocus()
    qtbot.waitUntil(library.detail.hasFocus)
    press_shortcut(qtbot, library.detail, Qt.Key.Key_L, shift=True)
    qtbot.waitUntil(lambda: library.current_view is library.table)
    press_shortcut(qtbot, library.detail, Qt.Key.Key_G, shift=True)
    qtbot.waitUntil(lambda: library.current_view is library.grid)


def test_a_file_deleted_by_hand_is_shown_missing_and_can_be_downloaded_again(
    qtbot: Any, feed: FeedPanel, library: LibraryPanel, desk: Services, pushes: dict[str, str],
) -> None:  # fmt: skip
    download_from_feed(qtbot, feed, pushes["en"])
    qtbot.waitUntil(lambda: shown_ids(library) == [pushes["en"]], timeout=30_000)
    qtbot.waitUntil(lambda: feed_state(feed, pushes["en"]) == "downloaded", timeout=30_000)
    gone = desk.library.get(pushes["en"]).file("broadcast")  # type: ignore[union-attr]
    assert gone is not None and gone.present
    gone.path.unlink()
    library.list_action.trigger()

    # selected in the Library: it is looked at on disk, and stays in sight, missing
    select(qtbot, library, 0)
    state = library.model.index(0, COL_STATE)
    qtbot.waitUntil(lambda: state.data(STATE_ROLE) == "missing", timeout=10_000)
    assert shown_ids(library) == [pushes["en"]]
    assert state.data() == "Missing"
    # the card tells a screen reader what its badge shows (it read the title alone)
    card = library.model.index(0, COL_THUMB)
    assert card.data(Qt.ItemDataRole.AccessibleTextRole) == "Floods in the north, Missing"
    assert "file missing" in library.detail.values["renditions"].text()
    assert "on this workstation" not in library.detail.values["renditions"].text()
    # no codec, length or size of a file gone: its name, and why
    assert "file missing: the file is not there any more" in library.detail.values["file"].text()
    qtbot.waitUntil(library.download_action.isEnabled)
    assert library.show_folder_action.isEnabled()  # (its folder is there)
    assert not library.copy_action.isEnabled()
    assert not library.delete_action.isEnabled()
    assert library.loaded_path is None
    # the Feed says so too, without the item being selected there
    qtbot.waitUntil(lambda: feed_state(feed, pushes["en"]) == "missing", timeout=10_000)

    # Download again (Ctrl+D, as in the Feed) fetches it back
    library.current_view.setFocus()
    qtbot.keyClick(library.current_view, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: state.data(STATE_ROLE) == "downloaded", timeout=30_000)
    again = desk.library.get(pushes["en"]).file("broadcast")  # type: ignore[union-attr]
    assert again is not None and again.present and again.path.exists()
    qtbot.waitUntil(library.delete_action.isEnabled)
    assert not library.download_action.isEnabled()
    assert library.message.isHidden()

    # deleted while the tab is not shown: showing it looks at the rows' files
    library.selection.clearSelection()
    library.hide()
    again.path.unlink()
    library.show()
    qtbot.waitUntil(lambda: state.data(STATE_ROLE) == "missing", timeout=10_000)


def feed_state(feed: FeedPanel, item_id: str) -> str:
    row = feed.model.row_of(item_id)
    return "" if row is None else str(feed.model.index(row, COL_STATE).data(STATE_ROLE))


def test_a_file_that_could_not_be_examined_says_why(qtbot: Any, tmp_path: Path) -> None:
    """The media worker stored why a file could not be examined ("… is incomplete: was the
    copy cut short?"), and the detail said "not examined yet" for ever."""
    from alu_client.core.library import LibraryItem
    from alu_client.core.library.files import LibraryFile
    from alu_client.ui.views.item_detail import ItemDetail
    from tests.client.test_library import make_item

    def item_with(probe_error: str) -> LibraryItem:
        f = LibraryFile(
            id=1, profile="main", item_id="it000001", rendition="broadcast",
            path=tmp_path / "cut.mp4", size=10, sha256="ab" * 32, verified_at=0.0,
            state="present", reason="", checked_at=None, transfer_id=None, probe=None,
            probe_error=probe_error, thumbnail="",
        )  # fmt: skip
        return LibraryItem(make_item(1), 1, 0.0, None, True, files=(f,))

    detail = ItemDetail(show_file=True)
    qtbot.addWidget(detail)
    reason = "cut.mp4 is incomplete: it stops before the end of its video (was the copy cut short?)"
    detail.set_item(item_with(reason))
    said = detail.values["file"].text()
    assert "not examined yet" not in said
    assert "could not be examined" in said and reason in said and "Download again" in said
    detail.set_item(item_with(""))
    assert "not examined yet" in detail.values["file"].text()  # the worker has not been yet


def test_a_file_left_in_place_is_said_in_the_users_language(
    qtbot: Any, qapp: QApplication, library: LibraryPanel, desk: Services, tmp_path: Path
) -> None:
    """Delete local file of an item whose file an editor re-saved since it was verified: the
    French Library said "Certains fichiers n’ont pas été supprimés : <the core's English>"."""
    from alu_client.core.library import upsert_items
    from alu_client.ui.formats import count_text
    from alu_client.ui.i18n import install_translators
    from tests.client.test_library import make_item
    from tests.client.test_library_files import put

    upsert_items(desk.library.store, desk.library.profile, [make_item(1)])
    path = put(desk.library.store, tmp_path / "videos", 1, 1234, profile=desk.library.profile)
    path.write_bytes(b"x" * 1300)
    install_translators(qapp, "fr")
    with qtbot.waitSignal(library.command_failed, timeout=10_000) as failed:
        library._delete([("it000001", "broadcast", path)])
    assert failed.args[0] == (
        "Certains fichiers n’ont pas été supprimés : item1-broadcast.mp4 a été laissé en "
        f"place : sa taille est passée de {count_text(1234)} à {count_text(1300)} octets depuis "
        "son téléchargement ; ce n’est donc plus le fichier vérifié par ALU Desk."
    )
    assert path.exists()


def test_counts_of_files_copied_read_right_for_one(
    qtbot: Any, qapp: QApplication, library: LibraryPanel, tmp_path: Path
) -> None:
    """ "1 fichiers sur 3 copiés": no plural forms, French and Arabic said one as many."""
    from alu_client.ui.i18n import install_translators

    where = isolated(tmp_path)
    one, two = CopyOutcome(made=[tmp_path / "a.mp4"]), CopyOutcome(made=[tmp_path / "a.mp4"] * 2)
    library._say_stopped(one, tmp_path, 3)
    assert library.message.text() == f"Copy stopped: 1 of 3 files copied to {where}"
    install_translators(qapp, "fr")
    library._say_stopped(one, tmp_path, 3)
    assert library.message.text() == f"Copie arrêtée : 1 fichier sur 3 copié dans {where}"
    library._say_stopped(two, tmp_path, 3)
    assert library.message.text() == f"Copie arrêtée : 2 fichiers sur 3 copiés dans {where}"
    install_translators(qapp, "ar")
    library._say_stopped(one, tmp_path, 3)
    assert library.message.text() == f"توقف النسخ: تم نسخ ملف واحد من أصل ٣ إلى {where}"
    library._say_stopped(two, tmp_path, 3)
    assert library.message.text() == f"توقف النسخ: تم نسخ ملفين من أصل ٣ إلى {where}"


def test_an_items_texts_are_shown_as_typed_never_as_markup(qtbot: Any) -> None:
    """A member's upload titled "<b>Floods</b> <a href='…'>…</a>" (any member's texts reach
    every member's Feed and Library) was drawn by the detail's labels as bold text and a link:
    Qt reads a label's text as rich text when it looks like markup. Shown as typed now."""
    from alu_client.core.library import LibraryItem
    from alu_client.ui.views.item_detail import ItemDetail
    from tests.client.test_library import make_item

    markup = {
        "title": "<b>Floods</b> in <a href='http://example.invalid/'>Mombasa</a>",
        "slug": "<i>FLOODS</i>",
        "dateline": "<u>MOMBASA</u>, Kenya",
        "restrictions": "<font color=red>No access Kenya</font>",
        "source_member": "<h1>KTN</h1>",
    }
    detail = ItemDetail()
    qtbot.addWidget(detail)
    detail.set_item(LibraryItem(make_item(1, **markup), 1, 0.0, None, True))
    shown = [w for w in detail.findChildren(QLabel) if any(v in w.text() for v in markup.values())]
    assert len(shown) >= 4, [w.text() for w in detail.findChildren(QLabel)]
    assert [w.text() for w in shown if w.textFormat() != Qt.TextFormat.PlainText] == []


def tab_stops(start: QWidget) -> list[QWidget]:
    """The widgets Tab reaches, in order, once round the chain from ``start``."""
    stops, w = [], start.nextInFocusChain()
    while w is not start:
        policy = w.focusPolicy()
        if policy & Qt.FocusPolicy.TabFocus == Qt.FocusPolicy.TabFocus and w.isVisible():
            stops.append(w)
        w = w.nextInFocusChain()
    return stops


def test_each_keyboard_stop_of_the_library_and_the_feed_has_a_name(
    qtbot: Any, feed: FeedPanel, library: LibraryPanel
) -> None:
    # the detail panes' scroll areas and the player's stage were read as "scroll area", or as
    # nothing
    for panel in (feed, library):
        stops = tab_stops(panel)
        assert panel.detail.findChild(QScrollArea) in stops and len(stops) > 5
        unnamed = [w for w in stops if panel.isAncestorOf(w) and not w.accessibleName()]
        assert unnamed == [], [(type(w).__name__, w.objectName()) for w in unnamed]
    assert library.detail.findChild(QScrollArea).accessibleName() == "Item details"
    assert library.player is not None and library.player.stage.accessibleName() == "Player"


def test_the_library_tab_puts_the_focus_on_its_grid(
    qtbot: Any, desk: Services, bridge: CoreBridge, tasks: TaskRunner
) -> None:
    # Ctrl+3 from a table of another tab left the focus on the first stop of the Library (the
    # picture's unnamed part): the grid's keys did nothing until many Tabs
    tabs = QTabWidget()
    qtbot.addWidget(tabs)
    other = QTableView()
    tabs.addTab(other, "Feed")
    library = LibraryPanel(desk, bridge, tasks)
    tabs.addTab(library, "Library")
    tabs.resize(1200, 700)
    tabs.show()
    qtbot.waitExposed(tabs)
    tabs.activateWindow()
    other.setFocus()
    qtbot.waitUntil(other.hasFocus)
    tabs.setCurrentWidget(library)
    qtbot.waitUntil(library.grid.hasFocus)
    # back to it later, the focus is where the user left it
    search = library.filters.search
    search.setFocus()
    qtbot.waitUntil(search.hasFocus)
    tabs.setCurrentWidget(other)
    other.setFocus()
    qtbot.waitUntil(other.hasFocus)
    tabs.setCurrentWidget(library)
    qtbot.waitUntil(search.hasFocus)
    library.model.tasks.wait_for_done()
    library.model.thumbnails.wait_for_done()


def test_after_a_delete_the_next_item_is_current_and_selected(
    qtbot: Any, feed: FeedPanel, library: LibraryPanel, pushes: dict[str, str]
) -> None:
    # the selection was cleared and the focus frame left on a row: the next Delete did nothing
    for key in ("fr", "en"):
        download_from_feed(qtbot, feed, pushes[key])
    qtbot.waitUntil(lambda: len(shown_ids(library)) == 2, timeout=30_000)
    library.window().activateWindow()
    qtbot.waitUntil(library.isActiveWindow)
    library.grid.setFocus(Qt.FocusReason.ShortcutFocusReason)  # Ctrl+3
    qtbot.waitUntil(library.grid.hasFocus)
    first, second = shown_ids(library)
    assert [li.id for li in library.selected_items()] == [first]
    qtbot.keyClick(library.grid, Qt.Key.Key_Delete)
    box = confirm_box(qtbot, library)
    qtbot.mouseClick(box.findChild(QPushButton, "confirm-delete-yes"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: shown_ids(library) == [second], timeout=10_000)
    assert [li.id for li in library.selected_items()] == [second]
    assert library.grid.currentIndex().row() == 0
    assert library.delete_action.isEnabled()


def test_a_command_with_nothing_selected_says_to_select_an_item(
    qtbot: Any, library: LibraryPanel
) -> None:
    # Ctrl+Shift+O, Ctrl+D, Delete with no item selected did nothing, and nothing said why
    library.resize(1000, 600)
    library.show()
    qtbot.waitExposed(library)
    library.activateWindow()
    qtbot.waitUntil(library.isActiveWindow)
    assert library.selected_items() == [] and not library.show_folder_action.isEnabled()
    search = library.filters.search
    search.setFocus()
    qtbot.waitUntil(search.hasFocus)
    qtbot.keyClick(
        search,
        Qt.Key.Key_O,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    qtbot.waitUntil(library.message.isVisible)
    assert library.message.text() == "Select an item first."
    library.message.hide()
    library.views.currentWidget().setFocus()
    qtbot.waitUntil(library.views.currentWidget().hasFocus)
    qtbot.keyClick(library.views.currentWidget(), Qt.Key.Key_Delete)
    qtbot.waitUntil(library.message.isVisible)
    assert library.message.text() == "Select an item first."
