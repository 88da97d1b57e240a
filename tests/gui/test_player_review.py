"""The Library's player after an outside review of offline clip review: it pauses when it goes
out of sight, shows the first frame of a file just selected, says which rendition it plays,
and leaves no stale message behind. Real clips and the real FFmpeg backend, offscreen, no
sound device."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtMultimedia import QMediaPlayer, QVideoFrame
from PySide6.QtWidgets import QLabel, QTabWidget

from alu_client.ui.formats import isolated
from alu_client.ui.widgets.player import PlayerWidget

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
