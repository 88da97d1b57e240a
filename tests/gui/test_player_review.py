"""The Library's player after an outside review of offline clip review: it pauses when it goes
out of sight, shows the first frame of a file just selected, says which rendition it plays,
leaves no stale message behind, and follows the selected item's files as they are found gone
or put back on disk. Real clips and the real FFmpeg backend, offscreen, no sound device."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtMultimedia import QMediaPlayer, QVideoFrame
from PySide6.QtWidgets import QLabel, QTabWidget

from alu_client.core.library import record_file, upsert_items
from alu_client.core.services import Services
from alu_client.ui.formats import isolated
from alu_client.ui.views.library import LibraryPanel
from alu_client.ui.widgets.player import PlayerWidget
from alu_hub.media.generate import generate_clip
from tests.client.test_library import make_item, rendition
from tests.gui import test_library_panel as library_tests

# a signed-in core on a live hub, its bridge and runner, the Library tab on them
desk, bridge, tasks, library = (
    library_tests.desk,
    library_tests.bridge,
    library_tests.tasks,
    library_tests.library,
)
select, shown_ids = library_tests.select, library_tests.shown_ids

Status = QMediaPlayer.MediaStatus
State = QMediaPlayer.PlaybackState
UNPLAYABLE = "This file cannot be played here; it is still in the library."
MISSING = "This file is no longer on the disk; it may have been moved or deleted."
READY = (Status.LoadedMedia, Status.BufferedMedia)


# --- the player alone -----------------------------------------------------------------------


@pytest.fixture
def tabs(qtbot: Any) -> Iterator[tuple[QTabWidget, PlayerWidget]]:
    """A window with tabs, the player on the first (as the Library's is)."""
    top = QTabWidget()
    qtbot.addWidget(top)
    player = PlayerWidget()
    top.addTab(player, "Library")
    top.addTab(QLabel("the feed"), "Feed")
    top.resize(640, 420)
    top.show()
    qtbot.waitExposed(top)
    yield top, player
    player.clear()


def load(qtbot: Any, w: PlayerWidget, path: Path, **kw: Any) -> None:
    with qtbot.waitSignal(
        w.media_status_changed, check_params_cb=lambda s: s == Status.LoadedMedia, timeout=10_000
    ):
        w.load(path, **kw)


def playing(qtbot: Any, w: PlayerWidget) -> None:
    w.play()
    qtbot.waitUntil(lambda: w.player.playbackState() == State.PlayingState, timeout=10_000)


def test_the_clip_pauses_when_the_player_goes_out_of_sight(
    qtbot: Any, tabs: tuple[QTabWidget, PlayerWidget], clip: Path
) -> None:
    """It went on playing, sound and all, behind another tab, in a window minimised, or closed
    to the tray ("ALU Desk is still running"), with nothing on screen to stop it."""
    top, player = tabs
    load(qtbot, player, clip)
    playing(qtbot, player)
    top.setCurrentIndex(1)  # another tab
    assert player.player.playbackState() == State.PausedState
    top.setCurrentIndex(0)
    assert player.player.playbackState() == State.PausedState  # the user plays again
    playing(qtbot, player)
    top.showMinimized()
    qtbot.waitUntil(lambda: player.player.playbackState() == State.PausedState)
    top.showNormal()
    qtbot.waitExposed(top)
    playing(qtbot, player)
    top.hide()  # what closing the main window to the tray does
    assert player.player.playbackState() == State.PausedState


def test_full_screen_keeps_playing_and_pauses_when_minimised(
    qtbot: Any, tabs: tuple[QTabWidget, PlayerWidget], clip: Path
) -> None:
    """Going full screen hides and shows the picture's window: that is not out of sight. The
    full-screen window minimised is."""
    _top, player = tabs
    load(qtbot, player, clip)
    playing(qtbot, player)
    player.set_full_screen(True)
    assert player.player.playbackState() == State.PlayingState
    player.set_full_screen(False)
    assert player.player.playbackState() == State.PlayingState
    player.set_full_screen(True)
    player.stage.showMinimized()
    qtbot.waitUntil(lambda: player.player.playbackState() == State.PausedState)
    player.set_full_screen(False)


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clip long enough to be still playing when the test looks (``clip`` lasts 1 s)."""
    path = tmp_path_factory.mktemp("long") / "long.mp4"
    generate_clip(path, seconds=15.0, width=320, height=240, seed=3)
    return path


@pytest.mark.parametrize("away", ["another tab", "minimised", "closed to the tray"])
def test_leaving_full_screen_into_a_player_out_of_sight_pauses(
    qtbot: Any, tabs: tuple[QTabWidget, PlayerWidget], long_clip: Path, away: str
) -> None:
    """In full screen the user went back to the main window and chose another tab (or the main
    window was minimised or closed to the tray), then pressed Escape: the picture went back
    into a player no one sees, and the clip played on there, sound and all."""
    top, player = tabs
    load(qtbot, player, long_clip)
    playing(qtbot, player)
    player.set_full_screen(True)
    if away == "another tab":
        top.setCurrentIndex(1)
    elif away == "minimised":
        top.showMinimized()
        qtbot.waitUntil(top.isMinimized)
    else:
        top.hide()
    # the full-screen window is still seen: it plays on
    assert player.player.playbackState() == State.PlayingState
    player.set_full_screen(False)
    assert player.player.playbackState() == State.PausedState
    assert not player.is_full_screen()
    # back in sight, the user plays again; leaving full screen in sight keeps playing
    if away == "another tab":
        top.setCurrentIndex(0)
    else:
        top.showNormal()
        qtbot.waitExposed(top)
    playing(qtbot, player)
    player.set_full_screen(True)
    player.set_full_screen(False)
    assert player.player.playbackState() == State.PlayingState


def test_a_file_loaded_shows_its_first_frame_paused_and_silent(
    qtbot: Any, tabs: tuple[QTabWidget, PlayerWidget], clip: Path
) -> None:
    """Selecting an item loaded it stopped: no frame reached the picture until Play."""
    _top, player = tabs
    frames: list[QVideoFrame] = []
    player.video_widget.videoSink().videoFrameChanged.connect(
        lambda f: frames.append(f) if f.isValid() else None
    )
    states: list[QMediaPlayer.PlaybackState] = []
    player.playback_state_changed.connect(states.append)
    load(qtbot, player, clip)
    qtbot.waitUntil(lambda: len(frames) >= 1, timeout=5000)
    assert frames[0].width() == 320 and frames[0].height() == 240
    assert frames[0].startTime() == 0
    assert player.player.playbackState() == State.PausedState
    assert State.PlayingState not in states  # not a moment of sound
    assert player.player.position() == 0
    assert player.play_pause_action.text() == "Play"
    # Play goes on from there
    playing(qtbot, player)
    qtbot.waitUntil(lambda: player.player.position() > 100, timeout=5000)
    # a file opened at a position shows that frame
    frames.clear()
    load(qtbot, player, clip, position=600)
    qtbot.waitUntil(lambda: bool(frames) and frames[-1].startTime() >= 560_000, timeout=5000)
    assert player.player.playbackState() == State.PausedState
    assert abs(player.player.position() - 600) <= 40


def test_clear_leaves_no_message_of_the_file_closed(
    qtbot: Any, tabs: tuple[QTabWidget, PlayerWidget], tmp_path: Path
) -> None:
    """After a file that could not be played, selecting a missing item (or deleting the file)
    left "This file cannot be played here; it is still in the library." on screen."""
    _top, player = tabs
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00garbage" * 4000)
    with qtbot.waitSignal(player.error_occurred, timeout=10_000) as said:
        player.load(bad)
    assert said.args == [UNPLAYABLE]
    assert player.screen_stack.currentWidget() is player.message_label
    player.clear()
    assert player.screen_stack.currentWidget() is player.video_widget
    assert player.message_label.text() == ""
    assert player.rendition_label.isHidden()
    assert not player.play_pause_action.isEnabled()
    # so too after a file gone
    with qtbot.waitSignal(player.error_occurred, timeout=10_000) as said:
        player.load(tmp_path / "gone.mp4")
    assert said.args == [MISSING]
    player.clear()
    assert player.screen_stack.currentWidget() is player.video_widget
    assert player.message_label.text() == ""


def test_the_bar_says_which_rendition_plays(
    qtbot: Any, tabs: tuple[QTabWidget, PlayerWidget], clip: Path
) -> None:
    """The detail could describe the broadcast file while the player played the proxy, and
    nothing said which one played."""
    _top, player = tabs
    label = player.rendition_label
    assert label.isHidden()  # nothing loaded
    load(qtbot, player, clip, rendition="proxy")
    assert label.isVisible() and label.text() == "Proxy"
    assert label.toolTip() == f"Playing the proxy file {isolated(clip.name)}"
    assert player.rendition == "proxy"
    load(qtbot, player, clip, rendition="broadcast")
    assert label.text() == "Broadcast"
    assert label.toolTip() == f"Playing the broadcast file {isolated(clip.name)}"
    assert label.accessibleName() == label.toolTip()
    # the bar stays left to right: the label sits between the length and the mute button
    assert player.duration_label.x() < label.x() < player.mute_button.x()
    player.clear()
    assert label.isHidden() and player.rendition == ""


# --- the Library driving it -----------------------------------------------------------------


def put_file(services: Services, folder: Path, item_id: str, name: str, source: Path) -> Path:
    """Copy ``source`` into ``folder`` as rendition ``name`` of ``item_id`` and record it, as a
    download's end does."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{item_id}.{name}.mp4"
    shutil.copyfile(source, path)
    data = path.read_bytes()
    with services.library.store.write() as conn:
        record_file(
            conn, services.library.profile, item_id, name, path, len(data),
            hashlib.sha256(data).hexdigest(), mtime_ns=path.stat().st_mtime_ns,
        )  # fmt: skip
    return path


@pytest.fixture
def two_files(
    qtbot: Any, library: LibraryPanel, desk: Services, clip: Path, other_clip: Path, tmp_path: Path
) -> tuple[str, Path, Path]:
    """One item in the Library with its broadcast file (``clip``) and its proxy
    (``other_clip``)."""
    item = make_item(1, renditions=(rendition("it000001"), rendition("it000001", "proxy")))
    upsert_items(desk.library.store, desk.library.profile, [item])
    folder = tmp_path / "downloads"
    broadcast = put_file(desk, folder, item.id, "broadcast", clip)
    proxy = put_file(desk, folder, item.id, "proxy", other_clip)
    library.apply_filters()
    qtbot.waitUntil(lambda: shown_ids(library) == [item.id], timeout=10_000)
    return item.id, broadcast, proxy


def on(qtbot: Any, panel: LibraryPanel, path: Path | None) -> PlayerWidget:
    """Wait until the player has ``path`` loaded and open (or nothing: ``None``)."""
    player = panel.player
    assert isinstance(player, PlayerWidget)
    if path is None:
        qtbot.waitUntil(lambda: player.path is None and panel.loaded_path is None, timeout=10_000)
    else:
        qtbot.waitUntil(
            lambda: player.path == path and player.player.mediaStatus() in READY, timeout=10_000
        )
    return player


def look_again(qtbot: Any, panel: LibraryPanel) -> None:
    """Another tab, then the Library again: its rows' files are looked at on disk."""
    panel.hide()
    panel.show()
    qtbot.waitExposed(panel)


def test_the_player_follows_the_broadcast_file_gone_and_back(
    qtbot: Any, library: LibraryPanel, two_files: tuple[str, Path, Path], tmp_path: Path
) -> None:
    """The broadcast file deleted by hand: the player stayed on its error ("no longer on the
    disk", Play greyed out) while the detail moved to the proxy; put back, the detail described
    it while the player kept the proxy. The player follows now, and says which file it has."""
    item_id, broadcast, proxy = two_files
    select(qtbot, library, 0)
    player = on(qtbot, library, broadcast)
    assert player.rendition_label.text() == "Broadcast"
    aside = tmp_path / "aside.mp4"
    broadcast.rename(aside)  # keeps its time: put back, it is the file verified
    look_again(qtbot, library)
    player = on(qtbot, library, proxy)
    assert player.rendition_label.text() == "Proxy"
    assert player.play_pause_action.isEnabled()
    assert player.screen_stack.currentWidget() is player.video_widget
    # paused in the proxy when the broadcast file comes back: the same frame, in that file
    playing(qtbot, player)
    player.pause()
    qtbot.waitUntil(lambda: player.player.playbackState() == State.PausedState)
    player.seek_slider.setValue(500)
    qtbot.waitUntil(lambda: abs(player.player.position() - 500) <= 1)
    aside.rename(broadcast)
    library._check_files([item_id])  # as selecting it, or showing the tab, does
    player = on(qtbot, library, broadcast)
    assert player.rendition_label.text() == "Broadcast"
    qtbot.waitUntil(lambda: player.player.playbackState() == State.PausedState)
    assert abs(player.player.position() - 500) <= 40
    assert library.detail.item is not None
    assert broadcast.name in library.detail.values["file"].text()


def test_a_preview_plays_the_proxy_and_says_so(
    qtbot: Any, library: LibraryPanel, two_files: tuple[str, Path, Path]
) -> None:
    """The Feed's preview plays the proxy while the detail describes the broadcast file: the
    player says "Proxy", and a look at the files on disk does not move it to the broadcast."""
    item_id, broadcast, proxy = two_files
    library.show_item(item_id)
    player = on(qtbot, library, proxy)
    qtbot.waitUntil(lambda: player.player.playbackState() == State.PlayingState, timeout=10_000)
    assert player.rendition_label.text() == "Proxy"
    assert player.rendition_label.toolTip() == f"Playing the proxy file {isolated(proxy.name)}"
    with qtbot.waitSignal(library.model.rows_loaded, timeout=10_000):
        library.model.refresh_items([item_id])  # as a look at its files on disk ends
    assert library.loaded_path == proxy
    # Enter plays the item itself: the broadcast file
    library.play_current()
    player = on(qtbot, library, broadcast)
    assert player.rendition_label.text() == "Broadcast"


def test_a_missing_file_put_back_is_loaded_for_the_selected_item(
    qtbot: Any, library: LibraryPanel, two_files: tuple[str, Path, Path], tmp_path: Path
) -> None:
    """The download folder moved away and back while the item was selected: the item was shown
    present again, but the player stayed empty, Play greyed out, until it was selected again."""
    _item_id, broadcast, _proxy = two_files
    select(qtbot, library, 0)
    on(qtbot, library, broadcast)
    folder, aside = broadcast.parent, tmp_path / "moved-away"
    folder.rename(aside)
    look_again(qtbot, library)
    player = on(qtbot, library, None)
    assert player.screen_stack.currentWidget() is player.video_widget
    assert not player.play_pause_action.isEnabled()
    aside.rename(folder)
    look_again(qtbot, library)
    player = on(qtbot, library, broadcast)
    assert player.play_pause_action.isEnabled()
    assert player.rendition_label.text() == "Broadcast"


def test_a_missing_item_selected_after_an_unplayable_one_says_nothing_stale(
    qtbot: Any, library: LibraryPanel, desk: Services, clip: Path, tmp_path: Path
) -> None:
    """Item 2's file could not be played; item 1's file is gone. Selecting item 1 kept "This
    file cannot be played here; it is still in the library." in the picture area."""
    items = [make_item(1), make_item(2)]
    upsert_items(desk.library.store, desk.library.profile, items)
    folder = tmp_path / "downloads"
    gone = put_file(desk, folder, "it000001", "broadcast", clip)
    bad = tmp_path / "garbage.bin"
    bad.write_bytes(b"\x00garbage" * 4000)
    put_file(desk, folder, "it000002", "broadcast", bad)
    gone.unlink()
    library.apply_filters()
    qtbot.waitUntil(lambda: len(shown_ids(library)) == 2, timeout=10_000)
    player = library.player
    assert isinstance(player, PlayerWidget)
    with qtbot.waitSignal(player.error_occurred, timeout=10_000) as said:
        select(qtbot, library, shown_ids(library).index("it000002"))
    assert said.args == [UNPLAYABLE]
    select(qtbot, library, shown_ids(library).index("it000001"))
    player = on(qtbot, library, None)  # found missing on disk
    assert player.screen_stack.currentWidget() is player.video_widget
    assert player.message_label.text() == ""
    assert player.rendition_label.isHidden()


def test_deleting_the_local_file_leaves_no_message_behind(
    qtbot: Any, library: LibraryPanel, desk: Services, tmp_path: Path
) -> None:
    """Delete local file of an item whose file could not be played: the item left the tab, and
    the picture area still said "… it is still in the library"."""
    upsert_items(desk.library.store, desk.library.profile, [make_item(1)])
    bad = tmp_path / "garbage.bin"
    bad.write_bytes(b"\x00garbage" * 4000)
    put_file(desk, tmp_path / "downloads", "it000001", "broadcast", bad)
    library.apply_filters()
    qtbot.waitUntil(lambda: shown_ids(library) == ["it000001"], timeout=10_000)
    player = library.player
    assert isinstance(player, PlayerWidget)
    with qtbot.waitSignal(player.error_occurred, timeout=10_000):
        select(qtbot, library, 0)
    li = library.selected_items()[0]
    library._delete([(li.id, f.rendition, f.path) for f in li.files if f.present])
    qtbot.waitUntil(lambda: shown_ids(library) == [], timeout=10_000)
    assert player.screen_stack.currentWidget() is player.video_widget
    assert player.message_label.text() == ""
