"""The Library's player driven as a user would, on a real H.264 + AAC clip (1 s, 320x240,
25 fps) and the real FFmpeg backend of QtMultimedia, offscreen and without a sound device."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtMultimedia import QMediaDevices, QMediaPlayer, QVideoFrame
from PySide6.QtWidgets import (
    QApplication,
    QLineEdit,
    QListWidget,
    QMenu,
    QPlainTextEdit,
    QStyle,
    QStyleOptionSlider,
    QVBoxLayout,
    QWidget,
)

from alu_client.ui.delegates_items import clip_length
from alu_client.ui.i18n import install_translators
from alu_client.ui.widgets.player import (
    FALLBACK_FRAME_MS,
    SEEK_MIN_WIDTH,
    VOLUME_MIN_WIDTH,
    PlayerWidget,
    clock_text,
)

Status = QMediaPlayer.MediaStatus
State = QMediaPlayer.PlaybackState
UNPLAYABLE = "This file cannot be played here; it is still in the library."
MISSING = "This file is no longer on the disk; it may have been moved or deleted."
# open: loaded, then buffered once paused on its first frame
READY = (Status.LoadedMedia, Status.BufferedMedia)


@pytest.fixture
def player(qtbot: Any) -> Iterator[PlayerWidget]:
    w = PlayerWidget()
    qtbot.addWidget(w)
    w.resize(640, 420)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.clear()


def load(qtbot: Any, w: PlayerWidget, path: Path) -> None:
    with qtbot.waitSignal(
        w.media_status_changed, check_params_cb=lambda s: s == Status.LoadedMedia, timeout=10_000
    ):
        w.load(path)


def focus(qtbot: Any, w: PlayerWidget) -> None:
    w.activateWindow()
    w.setFocus()
    # on the stage, named, never on the picture's window container (no name, no keys)
    qtbot.waitUntil(lambda: w.stage.isActiveWindow() and QApplication.focusWidget() is w.stage)


def paused_at(qtbot: Any, w: PlayerWidget, ms: int) -> None:
    """Pause the clip and put it at ``ms`` by the seek slider's keys (as a user can)."""
    w.pause()
    qtbot.waitUntil(lambda: w.player.playbackState() == State.PausedState)
    w.seek_slider.setValue(ms)  # not a drag: the player seeks at once
    qtbot.waitUntil(lambda: abs(w.player.position() - ms) <= 1)


def test_clock_text(qapp: QApplication) -> None:
    assert clock_text(0) == "0:00"
    assert clock_text(999) == "0:00"
    assert clock_text(65_000) == "1:05"
    assert clock_text(725_000) == "12:05"
    assert clock_text(3_723_000) == "1:02:03"
    assert clock_text(-5) == "0:00"


def test_the_player_writes_lengths_as_the_library_does(qapp: QApplication) -> None:
    """The player said ٠٠:٠٣ (00:03) where the Library's detail and grid said ٠:٠٣ (0:03)
    for the same clip: one form for both, in the language's digits."""
    for seconds in (3, 65, 725, 3727):
        assert clock_text(seconds * 1000) == clip_length(seconds)
    install_translators(qapp, "ar")
    assert clock_text(3_000) == clip_length(3) == "٠:٠٣"
    assert clock_text(3_727_000) == clip_length(3727) == "١:٠٢:٠٧"


def test_load_reaches_loaded_media_with_duration(
    qtbot: Any, player: PlayerWidget, clip: Path
) -> None:
    assert not player.play_pause_action.isEnabled()  # nothing to play yet
    seen: list[QMediaPlayer.MediaStatus] = []
    player.media_status_changed.connect(seen.append)
    load(qtbot, player, clip)
    # loaded, then (paused on its first frame) buffered; nothing else
    after = seen[seen.index(Status.LoadedMedia) + 1 :]
    assert set(after) <= {Status.BufferingMedia, Status.BufferedMedia}
    assert abs(player.player.duration() - 1000) <= 50
    assert player.seek_slider.maximum() == player.player.duration()
    assert player.duration_label.text() == "0:01"
    assert player.position_label.text() == "0:00"
    assert player.play_pause_action.isEnabled()
    assert player.play_button.accessibleName() == "Play"
    assert player.seek_slider.accessibleName() == "Position in the clip"
    assert player.frame_ms == pytest.approx(40.0)  # the file's 25 fps
    assert player.path == clip


def test_play_advances_and_frames_arrive(qtbot: Any, player: PlayerWidget, clip: Path) -> None:
    frames: list[QVideoFrame] = []
    player.video_widget.videoSink().videoFrameChanged.connect(
        lambda f: frames.append(f) if f.isValid() else None
    )
    load(qtbot, player, clip)
    states: list[QMediaPlayer.PlaybackState] = []
    player.playback_state_changed.connect(states.append)
    qtbot.mouseClick(player.play_button, Qt.MouseButton.LeftButton)
    assert states[0] == State.PlayingState
    assert player.play_pause_action.text() == "Pause"
    qtbot.waitUntil(lambda: player.player.position() > 200, timeout=5000)
    qtbot.waitUntil(lambda: len(frames) >= 3, timeout=5000)
    assert frames[-1].width() == 320
    assert frames[-1].height() == 240
    qtbot.waitUntil(lambda: player.seek_slider.value() > 0)
    # played to the end: stopped, and the button offers to play again
    qtbot.waitUntil(lambda: player.player.mediaStatus() == Status.EndOfMedia, timeout=5000)
    assert player.player.playbackState() == State.StoppedState
    assert player.play_pause_action.text() == "Play"


def test_play_right_after_load_starts_once_open(
    qtbot: Any, player: PlayerWidget, clip: Path
) -> None:
    # as the Library does: load the selected file and play it at once
    with qtbot.waitSignal(
        player.playback_state_changed,
        check_params_cb=lambda s: s == State.PlayingState,
        timeout=10_000,
    ):
        player.load(clip)
        player.play()
    qtbot.waitUntil(lambda: player.player.position() > 100, timeout=5000)
    # asked to play, then changed one's mind before the file was open: it stays put
    player.load(clip)
    player.play()
    player.toggle()
    qtbot.waitUntil(lambda: player.player.mediaStatus() in READY, timeout=10_000)
    qtbot.waitSignal(player.playback_state_changed, timeout=300, raising=False).wait()
    assert player.player.playbackState() != State.PlayingState


def test_pause_holds_the_position(qtbot: Any, player: PlayerWidget, clip: Path) -> None:
    load(qtbot, player, clip)
    player.play()
    qtbot.waitUntil(lambda: player.player.position() > 100, timeout=5000)
    with qtbot.waitSignal(player.playback_state_changed, timeout=5000) as blocker:
        qtbot.mouseClick(player.play_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [State.PausedState]
    held = player.player.position()
    assert 0 < held < 1000
    # still there once the event loop has turned a while
    qtbot.waitSignal(player.video_widget.videoSink().videoFrameChanged, timeout=300, raising=False)
    assert player.player.position() == held
    assert player.player.playbackState() == State.PausedState


def test_seek_by_clicking_and_dragging_the_slider(
    qtbot: Any, player: PlayerWidget, clip: Path
) -> None:
    load(qtbot, player, clip)
    player.pause()
    qtbot.waitUntil(lambda: player.player.playbackState() == State.PausedState)
    slider = player.seek_slider
    # a click three quarters along the bar jumps there (not by a page)
    click_at = QPoint(round(slider.width() * 0.75), slider.height() // 2)
    qtbot.mouseClick(slider, Qt.MouseButton.LeftButton, pos=click_at)
    qtbot.waitUntil(lambda: 600 <= player.player.position() <= 900)
    assert player.position_label.text() == "0:00"  # 0.6-0.9 s
    # a drag: nothing moves until the handle is let go
    slider.setSliderDown(True)
    slider.setSliderPosition(250)
    assert 600 <= player.player.position() <= 900
    slider.setSliderDown(False)  # emits sliderReleased, as the mouse does
    qtbot.waitUntil(lambda: abs(player.player.position() - 250) <= 1)
    assert slider.value() == 250


def test_frame_step_while_paused(qtbot: Any, player: PlayerWidget, clip: Path) -> None:
    load(qtbot, player, clip)
    paused_at(qtbot, player, 400)
    qtbot.mouseClick(player.step_forward_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: abs(player.player.position() - 440) <= 1)
    focus(qtbot, player)
    qtbot.keyClick(player.focusWidget(), Qt.Key.Key_Period)
    qtbot.waitUntil(lambda: abs(player.player.position() - 480) <= 1)
    qtbot.keyClick(player.focusWidget(), Qt.Key.Key_Comma)
    qtbot.keyClick(player.focusWidget(), Qt.Key.Key_Comma)
    qtbot.waitUntil(lambda: abs(player.player.position() - 400) <= 1)
    assert player.player.playbackState() == State.PausedState


def test_frame_step_pauses_a_playing_clip(qtbot: Any, player: PlayerWidget, clip: Path) -> None:
    load(qtbot, player, clip)
    player.play()
    qtbot.waitUntil(lambda: player.player.position() > 100, timeout=5000)
    qtbot.mouseClick(player.step_back_button, Qt.MouseButton.LeftButton)
    assert player.player.playbackState() == State.PausedState
    qtbot.waitUntil(lambda: player.player.position() < 1000)


def test_frame_step_uses_the_given_rate(qtbot: Any, player: PlayerWidget, clip: Path) -> None:
    player.load(clip, fps=50.0)
    assert player.frame_ms == pytest.approx(20.0)
    qtbot.waitUntil(lambda: player.player.mediaStatus() in READY, timeout=10_000)
    paused_at(qtbot, player, 500)
    player.step(1)
    qtbot.waitUntil(lambda: abs(player.player.position() - 520) <= 1)
    assert FALLBACK_FRAME_MS == 40.0


def test_volume_and_mute(qtbot: Any, player: PlayerWidget, clip: Path) -> None:
    load(qtbot, player, clip)
    out = player.audio_output
    assert player.volume_slider.value() == 100
    assert not out.isMuted()
    # attached only while a sound device exists (none in CI): the picture plays alone
    no_device = QMediaDevices.defaultAudioOutput().isNull()
    assert (player.player.audioOutput() is None) == no_device
    qtbot.mouseClick(player.mute_button, Qt.MouseButton.LeftButton)
    assert out.isMuted()
    assert player.mute_action.isChecked()
    qtbot.mouseClick(player.mute_button, Qt.MouseButton.LeftButton)
    assert not out.isMuted()
    # the slider is cubic: half-way along is much quieter than half the gain
    player.volume_slider.setFocus()
    qtbot.keyClick(player.volume_slider, Qt.Key.Key_End)
    assert out.volume() == pytest.approx(1.0)
    player.volume_slider.setValue(50)
    assert 0.05 < out.volume() < 0.5
    qtbot.keyClick(player.volume_slider, Qt.Key.Key_Home)
    assert out.volume() == pytest.approx(0.0)
    # muted, then the volume raised: sound comes back
    qtbot.mouseClick(player.mute_button, Qt.MouseButton.LeftButton)
    player.volume_slider.setValue(30)
    assert not out.isMuted()
    # set from elsewhere (the output itself): the controls follow
    out.setMuted(True)
    assert player.mute_action.isChecked()
    out.setVolume(1.0)
    assert player.volume_slider.value() == 100


def test_a_narrow_player_keeps_a_usable_seek_bar(qtbot: Any, player: PlayerWidget) -> None:
    """On a 1366x768 laptop at 200 % the player was 283 px wide: the seek bar was squeezed to
    its handle (15 px) while the volume slider kept its width. The volume gives way first; the
    seek bar keeps a width to seek with the mouse, and takes the room a wide player has."""
    seek, volume = player.seek_slider, player.volume_slider
    player.resize(player.minimumSizeHint().width(), 420)  # as narrow as the player goes
    qtbot.waitUntil(lambda: player.width() == player.minimumSizeHint().width())
    assert seek.width() >= SEEK_MIN_WIDTH
    assert VOLUME_MIN_WIDTH <= volume.width() < volume.sizeHint().width()
    player.resize(player.minimumSizeHint().width() + 30, 420)  # a little more: the volume's
    qtbot.waitUntil(lambda: volume.width() > VOLUME_MIN_WIDTH)
    assert seek.width() == SEEK_MIN_WIDTH or volume.width() == volume.sizeHint().width()
    player.resize(900, 420)
    qtbot.waitUntil(lambda: seek.width() > 3 * volume.width())


def test_full_screen_and_escape(qtbot: Any, player: PlayerWidget, clip: Path) -> None:
    load(qtbot, player, clip)
    changes: list[bool] = []
    player.full_screen_changed.connect(changes.append)
    qtbot.mouseClick(player.full_screen_button, Qt.MouseButton.LeftButton)
    stage = player.stage
    qtbot.waitUntil(lambda: stage.isWindow() and stage.isFullScreen())
    assert player.is_full_screen()
    assert player.full_screen_button.isVisible()  # the controls come along
    assert player.seek_slider.isVisible()
    assert stage.isAncestorOf(player.video_widget)
    qtbot.waitUntil(stage.isActiveWindow)  # its own window, in front, with the keys
    qtbot.keyClick(stage, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not stage.isWindow() and stage.isVisible())
    assert not player.is_full_screen()
    assert not player.full_screen_action.isChecked()
    assert changes == [True, False]
    # F toggles both ways while the player has the focus; closing the window brings it back
    focus(qtbot, player)
    qtbot.keyClick(player.focusWidget(), Qt.Key.Key_F)
    # the full-screen window has the focus on its stage (never on the picture's unnamed part)
    qtbot.waitUntil(lambda: stage.isFullScreen() and QApplication.focusWidget() is stage)
    qtbot.keyClick(stage, Qt.Key.Key_F)
    qtbot.waitUntil(lambda: not stage.isWindow())
    player.set_full_screen(True)
    stage.close()
    qtbot.waitUntil(lambda: not stage.isWindow() and stage.isVisible())
    assert changes == [True, False, True, False, True, False]


def test_space_toggles_play_and_pause(qtbot: Any, player: PlayerWidget, clip: Path) -> None:
    load(qtbot, player, clip)
    focus(qtbot, player)
    with qtbot.waitSignal(
        player.playback_state_changed, check_params_cb=lambda s: s == State.PlayingState
    ):
        qtbot.keyClick(player.focusWidget(), Qt.Key.Key_Space)
    with qtbot.waitSignal(
        player.playback_state_changed, check_params_cb=lambda s: s == State.PausedState
    ):
        qtbot.keyClick(player.focusWidget(), Qt.Key.Key_Space)
    # M mutes and unmutes (the mute button had no key of its own)
    qtbot.keyClick(player.focusWidget(), Qt.Key.Key_M)
    assert player.audio_output.isMuted() and player.mute_action.isChecked()
    qtbot.keyClick(player.focusWidget(), Qt.Key.Key_M)
    assert not player.audio_output.isMuted()
    assert player.player.playbackState() == State.PausedState


def test_space_and_enter_press_the_focused_button(
    qtbot: Any, player: PlayerWidget, clip: Path
) -> None:
    """Space on a focused button of the bar played or paused the clip (the player's Space is a
    shortcut over the whole player) and Enter did nothing: a keyboard or screen-reader user on
    "Mute" could not mute, and "Next frame" played the clip. They press the button now."""
    load(qtbot, player, clip)
    focus(qtbot, player)

    def on(button: QWidget) -> QWidget:
        button.setFocus()
        qtbot.waitUntil(button.hasFocus)
        return button

    qtbot.keyClick(on(player.mute_button), Qt.Key.Key_Space)
    assert player.audio_output.isMuted()
    qtbot.keyClick(player.mute_button, Qt.Key.Key_Return)
    assert not player.audio_output.isMuted()
    qtbot.keyClick(player.mute_button, Qt.Key.Key_Enter, Qt.KeyboardModifier.KeypadModifier)
    assert player.audio_output.isMuted()
    qtbot.keyClick(on(player.step_forward_button), Qt.Key.Key_Space)  # one frame, paused
    qtbot.waitUntil(lambda: abs(player.player.position() - FALLBACK_FRAME_MS) <= 1)
    assert player.player.playbackState() == State.PausedState
    qtbot.keyClick(on(player.full_screen_button), Qt.Key.Key_Space)
    qtbot.waitUntil(player.is_full_screen)
    assert player.player.playbackState() == State.PausedState
    player.set_full_screen(False)
    with qtbot.waitSignal(
        player.playback_state_changed, check_params_cb=lambda s: s == State.PlayingState
    ):
        qtbot.keyClick(on(player.play_button), Qt.Key.Key_Return)
    # elsewhere in the player (the seek bar) Space still plays and pauses
    with qtbot.waitSignal(
        player.playback_state_changed, check_params_cb=lambda s: s == State.PausedState
    ):
        qtbot.keyClick(on(player.seek_slider), Qt.Key.Key_Space)


def test_keys_act_from_a_scope_beside_the_player(qtbot: Any, clip: Path) -> None:
    """``add_key_scope``: the keys work from a list of clips beside the player (as in the
    Library), and a text field in that scope still types them."""
    page = QWidget()
    qtbot.addWidget(page)
    scope = QWidget(page)  # the list and a search box, beside the player (not holding it)
    search = QLineEdit(scope)
    clips = QListWidget(scope)
    clips.addItems(["KENYA-FLOODS", "SENEGAL-ELECTIONS"])
    inner = QVBoxLayout(scope)
    inner.addWidget(search)
    inner.addWidget(clips)
    w = PlayerWidget(page)
    outer = QVBoxLayout(page)
    outer.addWidget(scope)
    outer.addWidget(w)
    page.resize(640, 640)
    page.show()
    qtbot.waitExposed(page)
    w.add_key_scope(scope)
    load(qtbot, w, clip)
    page.activateWindow()
    clips.setFocus()
    qtbot.waitUntil(lambda: page.isActiveWindow() and clips.hasFocus())
    with qtbot.waitSignal(
        w.playback_state_changed, check_params_cb=lambda s: s == State.PlayingState
    ):
        qtbot.keyClick(clips, Qt.Key.Key_Space)
    with qtbot.waitSignal(
        w.playback_state_changed, check_params_cb=lambda s: s == State.PausedState
    ):
        qtbot.keyClick(clips, Qt.Key.Key_Comma)  # a frame step pauses
    # M and F from the scope's text (the list's letters are its type-ahead search's)
    notes = QPlainTextEdit(scope)
    notes.setReadOnly(True)
    inner.addWidget(notes)
    notes.setFocus()
    qtbot.waitUntil(notes.hasFocus)
    qtbot.keyClick(notes, Qt.Key.Key_M)
    assert w.audio_output.isMuted()
    qtbot.keyClick(notes, Qt.Key.Key_F)
    qtbot.waitUntil(w.is_full_screen)
    w.set_full_screen(False)
    # the player's own keys are not ambiguous with the scope's
    focus(qtbot, w)
    with qtbot.waitSignal(
        w.playback_state_changed, check_params_cb=lambda s: s == State.PlayingState
    ):
        qtbot.keyClick(w.focusWidget(), Qt.Key.Key_Space)
    w.pause()
    qtbot.waitUntil(lambda: w.player.playbackState() == State.PausedState)
    search.setFocus()
    qtbot.waitUntil(search.hasFocus)
    qtbot.keyClicks(search, "a b, f.m")
    assert search.text() == "a b, f.m"
    assert w.audio_output.isMuted()
    assert w.player.playbackState() == State.PausedState
    assert not w.is_full_screen()
    w.clear()


def list_beside_player(qtbot: Any, clip: Path) -> tuple[QWidget, QListWidget, PlayerWidget]:
    """A window with a list of titles in a key scope beside a player with ``clip`` loaded; the
    list has the focus."""
    page = QWidget()
    qtbot.addWidget(page)
    scope = QWidget(page)
    clips = QListWidget(scope)
    clips.addItems(
        [
            "Floods in the north",
            "Floods in Mombasa, 6 a.m. update",
            "Somalia votes",
            "Mogadishu market reopens",
        ]
    )
    QVBoxLayout(scope).addWidget(clips)
    w = PlayerWidget(page)
    outer = QVBoxLayout(page)
    outer.addWidget(scope)
    outer.addWidget(w)
    page.resize(640, 640)
    page.show()
    qtbot.waitExposed(page)
    w.add_key_scope(scope)
    load(qtbot, w, clip)
    clips.setCurrentRow(2)
    page.activateWindow()
    clips.setFocus()
    qtbot.waitUntil(lambda: page.isActiveWindow() and clips.hasFocus())
    return page, clips, w


def test_a_list_in_a_key_scope_keeps_its_type_ahead_search(qtbot: Any, clip: Path) -> None:
    """A title typed in a list beside the player finds it: the player's keys took its letters
    (each "m" of "Somalia" muted, "Floods" went full screen) and, mid-title, its Space, comma
    and full stop; the search lost each of them."""
    _page, clips, w = list_beside_player(qtbot, clip)
    qtbot.keyClicks(clips, "Floods in Mombasa, 6 a.m. u")
    assert clips.currentRow() == 1
    assert not w.audio_output.isMuted()
    assert not w.is_full_screen()
    assert w.player.playbackState() != State.PlayingState
    assert w.player.position() == 0  # no frame stepped
    w.clear()


def test_m_and_f_act_from_a_list_in_a_key_scope_while_no_title_is_typed(
    qtbot: Any, clip: Path
) -> None:
    """A user reviewing clips picks one in the list (the Library's grid) and presses M or F:
    the list took them for its type-ahead search, and only a Tab into the player made them
    mute or go full screen. They are the player's while no title is being typed in the list
    (Qt's keyboardInputInterval, as for Space); a title typed keeps its "m" and "f", and a
    capital M or F starts a search for a title beginning with it."""
    _page, clips, w = list_beside_player(qtbot, clip)
    qtbot.keyClick(clips, Qt.Key.Key_M)
    assert w.audio_output.isMuted()
    qtbot.keyClick(clips, Qt.Key.Key_M)  # again at once: M did not start a search
    assert not w.audio_output.isMuted()
    assert clips.currentRow() == 2
    # a title being typed keeps its letters: "somalia", "floods"
    clips.setCurrentRow(0)
    qtbot.keyClicks(clips, "somalia")
    assert clips.currentRow() == 2
    assert not w.audio_output.isMuted() and not w.is_full_screen()
    # once the search is over (Qt starts a new one after this pause), M is the player's again
    qtbot.wait(QApplication.keyboardInputInterval() + 100)
    qtbot.keyClick(clips, Qt.Key.Key_M)
    assert w.audio_output.isMuted()
    assert clips.currentRow() == 2
    # a capital M (Shift) starts a search for a title beginning with it
    qtbot.wait(QApplication.keyboardInputInterval() + 100)
    qtbot.keyClicks(clips, "Mog")
    assert clips.currentRow() == 3
    assert w.audio_output.isMuted()  # not toggled by the M
    qtbot.wait(QApplication.keyboardInputInterval() + 100)
    qtbot.keyClicks(clips, "Floods in M")
    assert clips.currentRow() == 1
    assert not w.is_full_screen()
    qtbot.wait(QApplication.keyboardInputInterval() + 100)
    qtbot.keyClick(clips, Qt.Key.Key_F)
    qtbot.waitUntil(w.is_full_screen)
    w.clear()


def test_leaving_full_screen_gives_the_focus_back_and_the_picture_never_has_it(
    qtbot: Any, clip: Path
) -> None:
    """F pressed in the list (the Library's grid), then Escape: the focus was left on the
    picture's window container, a part no screen reader names, where the list's keys did
    nothing. In full screen the stage has it, named; back, the list has it again."""
    page, clips, w = list_beside_player(qtbot, clip)
    qtbot.keyClick(clips, Qt.Key.Key_F)
    qtbot.waitUntil(lambda: w.stage.isFullScreen() and QApplication.focusWidget() is w.stage)
    assert w.stage.accessibleName() == "Player"
    qtbot.keyClick(w.stage, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not w.stage.isWindow() and w.video_widget.isVisible())
    qtbot.waitUntil(lambda: page.isActiveWindow() and clips.hasFocus())
    # the picture's own part, given the focus (as its window is activated), hands it on
    container = w.video_widget.findChildren(QWidget)[0]
    container.setFocus(Qt.FocusReason.ActiveWindowFocusReason)
    assert QApplication.focusWidget() is w.stage
    w.clear()


def test_play_pause_action_in_a_menu(qtbot: Any, player: PlayerWidget, clip: Path) -> None:
    menu = QMenu()
    menu.addAction(player.play_pause_action)
    load(qtbot, player, clip)
    with qtbot.waitSignal(player.playback_state_changed):
        player.play_pause_action.trigger()
    assert player.player.playbackState() == State.PlayingState
    assert player.play_pause_action.text() == "Pause"
    with qtbot.waitSignal(player.playback_state_changed):
        player.play_pause_action.trigger()
    assert player.player.playbackState() == State.PausedState


def test_corrupt_file_says_so_and_plays_nothing(
    qtbot: Any, player: PlayerWidget, tmp_path: Path
) -> None:
    bad = tmp_path / "KENYA-FLOODS.mp4"
    bad.write_bytes(random.Random(5).randbytes(50_000))
    with qtbot.waitSignal(player.error_occurred, timeout=10_000) as blocker:
        player.load(bad)
    assert blocker.args == [UNPLAYABLE]
    assert player.message_label.isVisible()
    assert player.message_label.text() == UNPLAYABLE
    assert not player.play_pause_action.isEnabled()
    player.toggle()  # nothing to play: no crash, no change
    qtbot.mouseClick(player.step_forward_button, Qt.MouseButton.LeftButton)
    assert player.player.playbackState() == State.StoppedState


def test_text_taken_for_media_is_not_playable(
    qtbot: Any, player: PlayerWidget, tmp_path: Path
) -> None:
    # FFmpeg opens lyrics or subtitles as media with nothing to see or hear
    notes = tmp_path / "DAKAR-MARKET.mp4"
    notes.write_bytes(b"[00:01.00]Traders open early\n[00:02.00]Prices rise\n")
    statuses: list[QMediaPlayer.MediaStatus] = []
    player.media_status_changed.connect(statuses.append)
    with qtbot.waitSignal(player.error_occurred, timeout=10_000) as blocker:
        player.load(notes)
    assert blocker.args == [UNPLAYABLE]
    assert Status.LoadedMedia not in statuses
    assert statuses[-1] == Status.InvalidMedia
    assert not player.play_pause_action.isEnabled()
    player.play()
    assert player.player.playbackState() == State.StoppedState


def test_missing_file_says_so(qtbot: Any, player: PlayerWidget, tmp_path: Path) -> None:
    with qtbot.waitSignal(player.error_occurred, timeout=10_000) as blocker:
        player.load(tmp_path / "gone.mp4")
    assert blocker.args == [MISSING]
    assert player.message_label.text() == MISSING


def test_a_good_file_after_a_bad_one_plays(
    qtbot: Any, player: PlayerWidget, clip: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with qtbot.waitSignal(player.error_occurred, timeout=10_000):
        player.load(empty)
    load(qtbot, player, clip)
    assert player.video_widget.isVisible()
    assert not player.message_label.isVisible()
    player.play()
    qtbot.waitUntil(lambda: player.player.position() > 100, timeout=5000)


def test_clear_lets_go_of_the_file(qtbot: Any, player: PlayerWidget, clip: Path) -> None:
    load(qtbot, player, clip)
    player.set_full_screen(True)
    with qtbot.waitSignal(
        player.media_status_changed, check_params_cb=lambda s: s == Status.NoMedia
    ):
        player.clear()
    assert player.path is None
    assert not player.is_full_screen()
    assert not player.play_pause_action.isEnabled()
    assert player.duration_label.text() == "0:00"


def test_labels_follow_the_language(qtbot: Any, qapp: QApplication, player: PlayerWidget) -> None:
    install_translators(qapp, "fr")
    qtbot.waitUntil(lambda: player.play_pause_action.text() == "Lire")
    assert player.full_screen_action.text() == "Plein écran"
    assert player.play_button.accessibleName() == "Lire"
    install_translators(qapp, "ar")
    qtbot.waitUntil(lambda: player.play_pause_action.text() == "تشغيل")
    assert player.isRightToLeft()


@pytest.mark.parametrize("built_in", ["ar", "en"])
def test_the_control_bar_stays_left_to_right_in_arabic(
    qtbot: Any, qapp: QApplication, built_in: str
) -> None:
    """In Arabic the seek bar was mirrored (the clip's start at the right) while the
    frame-step arrows kept their left-to-right meaning: "next frame" (▶▶) pointed at the
    start. Media controls stay left to right, as players do in right-to-left languages."""
    install_translators(qapp, built_in)
    w = PlayerWidget()
    qtbot.addWidget(w)
    w.resize(640, 420)
    w.show()
    qtbot.waitExposed(w)
    install_translators(qapp, "ar")  # built in Arabic, or switched to it while running
    qtbot.waitUntil(lambda: w.play_pause_action.text() == "تشغيل")
    assert w.isRightToLeft() and w.message_label.isRightToLeft()  # the rest is Arabic

    def x(widget: QWidget) -> int:
        return widget.mapTo(w, QPoint(0, 0)).x()

    order = [w.play_button, w.step_back_button, w.step_forward_button, w.position_label,
             w.seek_slider, w.duration_label, w.mute_button, w.volume_slider,
             w.full_screen_button]  # fmt: skip
    assert [x(b) for b in order] == sorted(x(b) for b in order)
    slider = w.seek_slider
    slider.setRange(0, 1000)
    slider.setValue(100)
    opt = QStyleOptionSlider()
    slider.initStyleOption(opt)
    handle = slider.style().subControlRect(
        QStyle.ComplexControl.CC_Slider, opt, QStyle.SubControl.SC_SliderHandle, slider
    )
    assert handle.center().x() < slider.width() / 4  # 10% of the clip: near the left end
    w.clear()


def test_frame_step_after_the_end_stays_at_the_end(
    qtbot: Any, player: PlayerWidget, clip: Path
) -> None:
    """A clip played to its end, then ',' (the frame before the last) went to 00:00: pausing
    a stopped player rewinds it, and the step read the position after that."""
    load(qtbot, player, clip)
    duration = player.player.duration()
    player.player.setPosition(duration - 200)
    player.play()
    qtbot.waitUntil(lambda: player.player.mediaStatus() == Status.EndOfMedia, timeout=10_000)
    player.step(-1)
    qtbot.waitUntil(lambda: abs(player.player.position() - (duration - 40)) <= 1, timeout=5000)
    assert player.player.playbackState() == State.PausedState
