"""The Library's player: a downloaded clip reviewed offline.

A ``QMediaPlayer`` (the FFmpeg backend, the one PySide6 ships) draws into a ``QVideoWidget``;
sound goes to the system's default output and follows it when a device comes or goes. With
no sound device at all (a headless CI, a workstation without a sound card) the picture still
plays. Nothing here raises on a bad file: the player says in plain words what happened
(``error_occurred``) and shows it in place of the picture; the item stays in the library.

Full screen takes the picture *and* the control bar (the "stage") to the whole screen, so the
controls stay reachable; F toggles it, Escape leaves. Keys act while the focus is in the
player, or in the widgets given to ``add_key_scope`` (the Library's views and detail): Space
plays or pauses, comma and full stop step one frame back or forward, M mutes. A button of the
control bar that has the focus takes Space and Enter itself, as any button: they press it. A
list or grid in a key scope keeps these keys for its type-ahead search while a title is being
typed there, and a capital M or F (Shift) always: it starts a search for a title.

A file just loaded shows its first frame, paused and silent (the picture area stayed blank
until Play). The control bar says which rendition it plays ("Broadcast", "Proxy"; the file's
name in its tooltip): the detail beside it may describe another file of the item. The clip
pauses when the picture goes out of sight (another tab, the window minimised or closed to the
tray), as media players in tabbed apps do: a clip went on playing, sound and all, from a window
nobody could see; Play starts it again.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TypeGuard, cast

import shiboken6
from PySide6.QtCore import (
    QElapsedTimer,
    QEvent,
    QObject,
    QSignalBlocker,
    Qt,
    QUrl,
    Signal,
    Slot,
)
from PySide6.QtGui import (
    QAction,
    QFocusEvent,
    QGuiApplication,
    QHideEvent,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QShortcut,
)
from PySide6.QtMultimedia import QAudioOutput, QMediaDevices, QMediaMetaData, QMediaPlayer, QtAudio
from PySide6.QtMultimediaWidgets import QVideoWidget
from PySide6.QtQml import QQmlComponent, QQmlEngine
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QStackedLayout,
    QStyle,
    QStyleOptionSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .. import formats, plain_text

log = logging.getLogger(__name__)

# One frame when the file does not tell its rate: 25 fps, the rate of most news pictures.
FALLBACK_FRAME_MS = 40.0
# In a narrow player (a 1366x768 laptop at 150 % or 200 %) the seek bar keeps this width and
# the volume slider gives way first: the seek bar was squeezed to its handle (15 px) while the
# volume kept its own, and seeking with the mouse was impossible. Logical pixels.
SEEK_MIN_WIDTH = 120
VOLUME_MIN_WIDTH = 40
# The picture's own minimum: the size of a thumbnail in the Library's list. It was 160x90, and
# the Library (the picture over the detail) then made the main window 30 px taller than a
# 1366x768 laptop at 200 % (683x384 logical pixels); the splitter gives the picture more as
# soon as the window has it, and F shows it full screen.
PICTURE_MIN_WIDTH, PICTURE_MIN_HEIGHT = 80, 45

_Status = QMediaPlayer.MediaStatus
_State = QMediaPlayer.PlaybackState
_SP = QStyle.StandardPixmap
_NOT_READY = (_Status.NoMedia, _Status.LoadingMedia, _Status.InvalidMedia)
# the volume slider is cubic (as loud as it looks, as PulseAudio's); the output gain is linear
_CUBIC, _LINEAR = QtAudio.VolumeScale.CubicVolumeScale, QtAudio.VolumeScale.LinearVolumeScale


def clock_text(ms: int) -> str:
    """A position or a length as a clock: ``1:05``, ``1:02:03`` past an hour (locale digits),
    as the Library writes a clip's length (it said ``00:03`` beside the detail's ``0:03``)."""
    return formats.clock_text(max(0, ms) // 1000)


def native_audio_output(parent: QObject) -> QAudioOutput:
    """An audio output made by Qt itself, not by Python.

    PySide6 (6.12) makes a ``QAudioOutput()`` built in Python a subclass whose virtual methods
    take the GIL. The FFmpeg backend's audio thread calls one as it tears down, while the GUI
    thread waits for that thread inside ``stop()`` or ``setSource()`` holding the GIL: the app
    hangs, one stop in a few dozen. QML builds the plain C++ class, which has no such hook.
    Falls back to a Python-made output when QML's multimedia types are missing.
    """
    engine = QQmlEngine()
    component = QQmlComponent(engine)
    component.setData(b"import QtMultimedia\nAudioOutput {}", QUrl())
    made = component.create()
    if isinstance(made, QAudioOutput):
        QQmlEngine.setObjectOwnership(made, QQmlEngine.ObjectOwnership.CppOwnership)
        made.setParent(parent)
        return made
    log.warning("QML multimedia types missing (%s): stopping may hang", component.errorString())
    return QAudioOutput(parent)


class SeekSlider(QSlider):
    """A slider that jumps to where it is clicked (not by a page), then drags from there."""

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.maximum() > self.minimum():
            opt = QStyleOptionSlider()
            self.initStyleOption(opt)
            style = self.style()
            cc = QStyle.ComplexControl.CC_Slider
            handle = style.subControlRect(cc, opt, QStyle.SubControl.SC_SliderHandle, self)
            point = event.position().toPoint()
            if not handle.contains(point):
                groove = style.subControlRect(cc, opt, QStyle.SubControl.SC_SliderGroove, self)
                span = max(1, groove.width() - handle.width())
                x = point.x() - groove.x() - handle.width() // 2
                lo, hi = self.minimum(), self.maximum()
                self.setSliderPosition(
                    QStyle.sliderValueFromPosition(lo, hi, x, span, opt.upsideDown)
                )
        super().mousePressEvent(event)


_PRESS_KEYS = (Qt.Key.Key_Space, Qt.Key.Key_Return, Qt.Key.Key_Enter)


def _presses(event: QKeyEvent) -> bool:
    """Space, Return or Enter (the keypad's too) without a modifier: the keys of a button."""
    mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
    return event.key() in _PRESS_KEYS and mods == Qt.KeyboardModifier.NoModifier


class ControlButton(QToolButton):
    """A button of the control bar that Space and Enter press while it has the focus.

    The player's Space (play or pause) is a shortcut over the whole stage, and a shortcut
    comes before the focused widget's keys: Space on Mute, Next frame or Full screen played
    the clip instead. The button claims Space (and Enter, which a QToolButton ignores) before
    shortcuts are looked up; elsewhere in the player Space still plays or pauses."""

    def event(self, event: QEvent) -> bool:
        override = event.type() == QEvent.Type.ShortcutOverride
        if override and isinstance(event, QKeyEvent) and _presses(event):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if _presses(event) and event.key() != Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self.click()
            event.accept()
            return
        super().keyPressEvent(event)


# the keys the player takes from a key scope (see ``add_key_scope``)
_SCOPE_KEYS = (Qt.Key.Key_Space, Qt.Key.Key_Comma, Qt.Key.Key_Period, Qt.Key.Key_F, Qt.Key.Key_M)
_COMMAND_MODIFIERS = (
    Qt.KeyboardModifier.ControlModifier
    | Qt.KeyboardModifier.AltModifier
    | Qt.KeyboardModifier.MetaModifier
)


def _typed(event: QKeyEvent) -> str:
    """The character a key types into an item view's type-ahead search ('' for none): what
    ``QAbstractItemView.keyPressEvent`` hands to ``keyboardSearch``."""
    text = event.text()
    if event.modifiers() & _COMMAND_MODIFIERS or not text.isprintable():
        return ""
    return text


class _TypeAhead(QObject):
    """Leaves an item view in a key scope its type-ahead search ("Somalia" typed in the
    Library's grid finds the story).

    The player's keys are shortcuts, and a shortcut comes before the focused widget's keys:
    each "m" of "Somalia" muted the player and the search lost it; "Floods" went full screen.
    A letter or digit typed in a view is for the search, but for the player's own keys: m, f,
    Space, comma and full stop are the player's unless a title is being typed, i.e. the view's
    last character came within ``QApplication.keyboardInputInterval()`` (Qt's own rule for
    going on with a search rather than starting a new one). So M mutes and F goes full screen
    from the Library's grid (a user reviewing clips there had to Tab into the player first),
    the "m" of "Somalia" still searches, and a capital M or F (Shift) starts a search for a
    title beginning with it. Watches the scope: the ``ShortcutOverride`` of a key in a view
    goes up to it when the view does not claim it."""

    def __init__(self, scope: QWidget) -> None:
        super().__init__(scope)
        self._view: QAbstractItemView | None = None  # the view the last character went to
        self._since = QElapsedTimer()
        scope.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent):
            view = QApplication.focusWidget()
            if isinstance(view, QAbstractItemView) and self._for_search(view, event):
                self._view = view
                self._since.start()
                if event.key() in _SCOPE_KEYS:
                    event.accept()  # the view gets the key press; the shortcut does not run
                    return True
        return super().eventFilter(watched, event)

    def _for_search(self, view: QAbstractItemView, event: QKeyEvent) -> bool:
        """Whether ``view``'s type-ahead search takes the key of ``event``."""
        text = _typed(event)
        if not text:
            return False
        if event.key() not in _SCOPE_KEYS or text.isupper():
            return True
        return (
            view is self._view
            and self._since.isValid()
            and self._since.elapsed() <= QApplication.keyboardInputInterval()
        )


def _can_focus(widget: QWidget | None) -> TypeGuard[QWidget]:
    return (
        widget is not None
        and shiboken6.isValid(widget)
        and widget.isVisible()
        and widget.isEnabled()
    )


class PlayerWidget(QWidget):
    """``PlayerWidget(parent=None)``: ``load(path, fps=None, rendition="", position=0)``,
    ``play()``, ``pause()``,
    ``stop()``, ``toggle()``, ``step(frames)``, ``set_full_screen(on)``, ``clear()`` (lets go
    of the file: call it before deleting or moving the file), ``add_key_scope(widget)`` (the
    keys act from there too).

    ``play_pause_action`` can go in the main window's menu with a shortcut of its own (not
    Space: the player keeps Space for itself while it has the focus). ``player``,
    ``audio_output`` and ``video_widget`` are the QtMultimedia objects underneath.

    Signals: ``media_status_changed(QMediaPlayer.MediaStatus)``,
    ``playback_state_changed(QMediaPlayer.PlaybackState)``, ``error_occurred(str)`` with a
    message for people, ``full_screen_changed(bool)``.
    """

    media_status_changed = Signal(QMediaPlayer.MediaStatus)
    playback_state_changed = Signal(QMediaPlayer.PlaybackState)
    error_occurred = Signal(str)
    full_screen_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("player")
        self._path: Path | None = None
        self._fps: float | None = None
        self._rendition = ""
        # _play_when_loaded: play() came while the file was still opening; _first_frame: the
        # file just loaded is to show its first frame (paused) once open, _opening: it is being
        # opened (the file it replaces, stopped, said "loaded" first); _switching: the stage is
        # going to or from full screen (it is hidden and shown again meanwhile)
        self._failed = self._full_screen = self._play_when_loaded = False
        self._first_frame = self._opening = self._switching = False
        self._start_at = 0  # where the file just loaded opens (ms)
        # the focus when full screen was entered; the last widget outside the stage to have it
        self._focus_before: QWidget | None = None
        self._focus_back: QWidget | None = None

        self.player = QMediaPlayer(self)
        self.audio_output = native_audio_output(self)
        self._devices = QMediaDevices(self)
        self._devices.audioOutputsChanged.connect(self._follow_default_output)

        self._build()
        self._connect()
        cast(QApplication, QApplication.instance()).focusChanged.connect(self._focus_moved)
        self._follow_default_output()
        self._set_media_controls(False)

    # ---- building -------------------------------------------------------------------------

    def _build(self) -> None:
        self.stage = QWidget(self)
        self.stage.setObjectName("player-stage")
        self.stage.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.stage.installEventFilter(self)
        self.setFocusProxy(self.stage)

        self.video_widget = QVideoWidget(self.stage)
        self.video_widget.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.video_widget.setMinimumSize(PICTURE_MIN_WIDTH, PICTURE_MIN_HEIGHT)
        self.player.setVideoOutput(self.video_widget)
        # the picture's window container takes the focus when its window is activated (as it
        # comes back from full screen, as the tab it is on is shown): a part no screen reader
        # names, which no key acts on; the stage, named, takes it instead
        for part in self.video_widget.findChildren(QWidget):
            part.setFocusProxy(self.stage)
        self.message_label = QLabel(self.stage)
        self.message_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message_label.setWordWrap(True)
        self.screen_stack = QStackedLayout()
        self.screen_stack.addWidget(self.video_widget)
        self.screen_stack.addWidget(self.message_label)

        def control(
            icon: QStyle.StandardPixmap, checkable: bool = False
        ) -> tuple[QAction, QToolButton]:
            action = QAction(self.style().standardIcon(icon), "", self)
            action.setCheckable(checkable)
            b = ControlButton(self.stage)
            b.setDefaultAction(action)
            b.setAutoRaise(True)
            action.changed.connect(lambda: b.setAccessibleName(action.text()))  # text, language
            return action, b

        self.play_pause_action, self.play_button = control(_SP.SP_MediaPlay)
        self.play_pause_action.setObjectName("play-pause")
        self.step_back_action, self.step_back_button = control(_SP.SP_MediaSeekBackward)
        self.step_forward_action, self.step_forward_button = control(_SP.SP_MediaSeekForward)
        self.mute_action, self.mute_button = control(_SP.SP_MediaVolume, checkable=True)
        self.full_screen_action, self.full_screen_button = control(
            _SP.SP_TitleBarMaxButton, checkable=True
        )

        self.seek_slider = SeekSlider(Qt.Orientation.Horizontal, self.stage)
        self.seek_slider.setObjectName("seek")
        self.seek_slider.setRange(0, 0)
        self.seek_slider.setSingleStep(1000)
        self.seek_slider.setPageStep(5000)
        self.seek_slider.setMinimumWidth(SEEK_MIN_WIDTH)
        self.position_label = QLabel(clock_text(0), self.stage)
        self.duration_label = QLabel(clock_text(0), self.stage)
        for label in (self.position_label, self.duration_label):
            label.setTextFormat(Qt.TextFormat.PlainText)
        self.volume_slider = QSlider(Qt.Orientation.Horizontal, self.stage)
        self.volume_slider.setObjectName("volume")
        self.volume_slider.setRange(0, 100)
        self.volume_slider.setMinimumWidth(VOLUME_MIN_WIDTH)
        self.volume_slider.setMaximumWidth(110)
        self._show_volume()
        # which file plays: "Broadcast" or "Proxy" (the detail may describe the other one)
        self.rendition_label = QLabel(self.stage)
        self.rendition_label.setObjectName("player-rendition")
        self.rendition_label.setTextFormat(Qt.TextFormat.PlainText)
        self.rendition_label.hide()

        # The control bar left to right in every language, as media players are (the seek
        # bar was mirrored in Arabic, its start at the right, while the frame-step arrows
        # kept pointing the left-to-right way); its tooltips are still translated.
        self.controls = QWidget(self.stage)
        self.controls.setObjectName("player-controls")
        self.controls.setLayoutDirection(Qt.LayoutDirection.LeftToRight)
        bar = QHBoxLayout(self.controls)
        bar.setContentsMargins(4, 2, 4, 2)
        for w in (self.play_button, self.step_back_button, self.step_forward_button):
            bar.addWidget(w)
        bar.addWidget(self.position_label)
        bar.addWidget(self.seek_slider, 1)
        bar.addWidget(self.duration_label)
        bar.addWidget(self.rendition_label)
        bar.addWidget(self.mute_button)
        bar.addWidget(self.volume_slider)
        bar.addWidget(self.full_screen_button)

        inner = QVBoxLayout(self.stage)
        inner.setContentsMargins(0, 0, 0, 0)
        inner.setSpacing(0)
        inner.addLayout(self.screen_stack, 1)
        inner.addWidget(self.controls)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.stage)

        # keys while the focus is anywhere in the stage (in full screen too: it is a window then)
        self.add_key_scope(self.stage)
        self._escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), self.stage)
        self._escape.setContext(Qt.ShortcutContext.WindowShortcut)  # on only when a window
        self._escape.activated.connect(lambda: self.set_full_screen(False))
        self._escape.setEnabled(False)

    def add_key_scope(self, scope: QWidget) -> None:
        """Let the player's keys (Space plays or pauses, F full screen, comma and full stop step
        a frame, M mutes) act while the focus is anywhere in ``scope`` too, say the list of
        clips beside the player. ``scope`` must not hold the player (its own keys would be
        ambiguous there); a text field inside it keeps these keys for typing (Qt lets it
        override shortcuts), and a list or grid keeps them for its type-ahead search while a
        title is being typed, and capital M and F always (``_TypeAhead``)."""
        _TypeAhead(scope)
        for seq, slot in (
            (Qt.Key.Key_Space, self.toggle),
            (Qt.Key.Key_Comma, self.step_back_action.trigger),
            (Qt.Key.Key_Period, self.step_forward_action.trigger),
            (Qt.Key.Key_F, self.full_screen_action.trigger),
            (Qt.Key.Key_M, self.mute_action.trigger),  # the mute button had no key of its own
        ):
            s = QShortcut(QKeySequence(seq), scope)
            s.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            s.activated.connect(slot)

    def _connect(self) -> None:
        p = self.player
        p.mediaStatusChanged.connect(self._on_status)
        p.playbackStateChanged.connect(self._on_state)
        p.durationChanged.connect(self._on_duration)
        p.positionChanged.connect(self._on_position)
        p.errorOccurred.connect(self._on_error)
        self.play_pause_action.triggered.connect(self.toggle)
        self.step_back_action.triggered.connect(lambda: self.step(-1))
        self.step_forward_action.triggered.connect(lambda: self.step(1))
        self.mute_action.toggled.connect(self.audio_output.setMuted)
        self.full_screen_action.toggled.connect(self.set_full_screen)
        self.audio_output.mutedChanged.connect(self._show_volume)
        self.audio_output.volumeChanged.connect(self._show_volume)
        self.volume_slider.valueChanged.connect(self._volume_moved)
        self.seek_slider.valueChanged.connect(self._seek_moved)
        self.seek_slider.sliderReleased.connect(self._seek_released)

    # ---- commands -------------------------------------------------------------------------

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def frame_ms(self) -> float:
        """One frame in milliseconds: the given rate, else the file's, else 40 ms (25 fps)."""
        fps = self._fps
        if not fps:
            rate = self.player.metaData().value(QMediaMetaData.Key.VideoFrameRate)
            fps = float(rate) if isinstance(rate, int | float) else None
        return 1000.0 / fps if fps and fps > 0 else FALLBACK_FRAME_MS

    @property
    def rendition(self) -> str:
        """The rendition of the file loaded, as ``load`` was told ("" for none)."""
        return self._rendition

    def is_full_screen(self) -> bool:
        return self._full_screen

    def is_playing(self) -> bool:
        """Playing, or to play as soon as the file just loaded is open."""
        return self.player.playbackState() == _State.PlayingState or self._play_when_loaded

    def load(
        self, path: Path, fps: float | None = None, rendition: str = "", position: int = 0
    ) -> None:
        """Open ``path`` paused on its frame at ``position`` ms, its start by default (``fps``:
        the probe's rate, for frame steps; ``rendition``: "broadcast", "proxy", shown in the
        bar). Problems come later, through ``error_occurred``."""
        self._path = Path(path)
        self._fps = fps
        self._rendition = rendition
        self._failed = self._play_when_loaded = False
        self._first_frame, self._opening, self._start_at = True, False, max(0, position)
        self._show_screen()
        self._reset_bar()
        self._show_rendition()
        url = QUrl.fromLocalFile(str(self._path))
        if self.player.source() == url:  # the same again (say, restored on disk): open anew
            self.player.setSource(QUrl())
        self.player.setSource(url)

    def clear(self) -> None:
        """Close the file (and leave full screen): nothing loaded, nothing said (a message about
        the file closed stayed in the picture area: "cannot be played here" for the next item,
        or for a file the user had just deleted)."""
        self.set_full_screen(False)
        self.stop()
        self._first_frame = False
        self.player.setSource(QUrl())
        self._path = None
        self._rendition = ""
        self._failed = False
        self._show_screen()
        self._reset_bar()
        self._show_rendition()

    def _show_screen(self) -> None:
        """The picture in the picture area, no message."""
        self.message_label.clear()
        self.screen_stack.setCurrentWidget(self.video_widget)

    def _reset_bar(self) -> None:
        self._set_media_controls(False)
        self._on_duration(0)
        self._on_position(0)

    def play(self) -> None:
        """Play; right after ``load()``, as soon as the file is open."""
        if self._playable():
            self.player.play()
        else:
            loading = self.player.mediaStatus() == _Status.LoadingMedia
            self._play_when_loaded = loading and not self._failed

    def pause(self) -> None:
        self._play_when_loaded = False
        if self._playable():
            self.player.pause()

    def stop(self) -> None:
        self._play_when_loaded = False
        self.player.stop()

    @Slot()
    def toggle(self) -> None:
        if self.player.playbackState() == _State.PlayingState or self._play_when_loaded:
            self.pause()
        else:
            self.play()

    def step(self, frames: int) -> None:
        """Pause, then move ``frames`` frames (negative: back)."""
        if not self._playable():
            return
        # read before pausing: a clip played to its end is stopped, and pausing a stopped
        # player rewinds it to 0 (the frame before the last became the first one)
        position = self.player.position()
        if self.player.mediaStatus() == _Status.EndOfMedia:
            position = max(position, self.player.duration())
        if self.player.playbackState() != _State.PausedState:
            self.player.pause()
        target = round(position + frames * self.frame_ms)
        self.player.setPosition(max(0, min(self.player.duration(), target)))

    @Slot(bool)
    def set_full_screen(self, on: bool) -> None:
        if on == self._full_screen:
            return
        self._full_screen = on
        stage = self.stage
        self._switching = True  # the stage is hidden and shown again: not out of sight
        try:
            if on:
                self._focus_before = self._focus_outside_stage()
                stage.setWindowFlag(Qt.WindowType.Window, True)
                stage.showFullScreen()
                stage.activateWindow()
            else:
                stage.setWindowState(Qt.WindowState.WindowNoState)
                stage.setWindowFlag(Qt.WindowType.Window, False)
                stage.show()
        finally:
            self._switching = False
        self._focus_after_switch(on)
        self._escape.setEnabled(on)
        self.full_screen_action.setChecked(on)
        self._retranslate()
        # back home in a player out of sight meanwhile (another tab chosen, the main window
        # minimised or closed to the tray while the full-screen window was seen): the hide was
        # let pass then, so pause now
        if not on and (not self.isVisible() or self.window().isMinimized()):
            self.pause()
        self.full_screen_changed.emit(on)

    def _focus_outside_stage(self) -> QWidget | None:
        focus = QApplication.focusWidget()
        return None if focus is None or self.stage.isAncestorOf(focus) else focus

    def _focus_after_switch(self, on: bool) -> None:
        """Full screen: the stage has the focus (its keys, Escape). Back: the widget that had
        it before (the grid where F was pressed), else the stage."""
        back, self._focus_before = self._focus_before, None
        if on or not _can_focus(back):
            self.stage.setFocus()
            return
        if not back.window().isMinimized():
            back.window().activateWindow()
        back.setFocus(Qt.FocusReason.OtherFocusReason)
        self._focus_back = back

    @Slot(QWidget, QWidget)
    def _focus_moved(self, _old: QWidget | None, new: QWidget | None) -> None:
        if new is not None and new is not self.stage and not self.stage.isAncestorOf(new):
            self._focus_back = new

    # ---- following the player -------------------------------------------------------------

    def _playable(self) -> bool:
        return not self._failed and self.player.mediaStatus() not in _NOT_READY

    def _set_media_controls(self, on: bool) -> None:
        for a in (self.play_pause_action, self.step_back_action, self.step_forward_action):
            a.setEnabled(on)
        self.seek_slider.setEnabled(on)

    @Slot(QMediaPlayer.MediaStatus)
    def _on_status(self, status: QMediaPlayer.MediaStatus) -> None:
        first_frame = False
        if status == _Status.LoadedMedia and not (self.player.hasVideo() or self.player.hasAudio()):
            # FFmpeg opens some text (subtitles) as media with nothing to see or hear
            self._fail(unplayable=True)
            status = _Status.InvalidMedia
        elif status == _Status.LoadedMedia and not self._failed:
            self._set_media_controls(True)
            if self._first_frame and self._opening:  # just opened (not stopped: loaded too)
                self._first_frame = self._opening = False
                if self._start_at:
                    self.player.setPosition(self._start_at)
                first_frame = not self._play_when_loaded
            if self._play_when_loaded:
                self._play_when_loaded = False
                self.player.play()
        elif status in (_Status.NoMedia, _Status.InvalidMedia):
            self._set_media_controls(False)
        elif status == _Status.LoadingMedia:
            self._opening = self._first_frame
        self.media_status_changed.emit(status)
        p = self.player
        if first_frame and p.playbackState() == _State.StoppedState and self._playable():
            # paused, its frame is decoded and drawn (stopped, the picture area stayed blank
            # until Play), and nothing is heard; after the signal (which may have played it
            # already, or closed it), so that "loaded" is told before "buffered"
            p.pause()

    @Slot(QMediaPlayer.PlaybackState)
    def _on_state(self, state: QMediaPlayer.PlaybackState) -> None:
        self._show_state(state)
        self.playback_state_changed.emit(state)

    def _show_state(self, state: QMediaPlayer.PlaybackState) -> None:
        playing = state == _State.PlayingState
        pp = self.play_pause_action
        pp.setIcon(self.style().standardIcon(_SP.SP_MediaPause if playing else _SP.SP_MediaPlay))
        pp.setText(self.tr("Pause") if playing else self.tr("Play"))
        pp.setToolTip(self.tr("Pause (Space)") if playing else self.tr("Play (Space)"))

    @Slot(int)
    def _on_duration(self, ms: int) -> None:
        with QSignalBlocker(self.seek_slider):  # the slider follows: not a seek by the user
            self.seek_slider.setRange(0, max(0, ms))
        self.duration_label.setText(clock_text(ms))

    @Slot(int)
    def _on_position(self, ms: int) -> None:
        if not self.seek_slider.isSliderDown():
            with QSignalBlocker(self.seek_slider):
                self.seek_slider.setValue(ms)
            self.position_label.setText(clock_text(ms))

    @Slot(int)
    def _seek_moved(self, value: int) -> None:
        self.position_label.setText(clock_text(value))
        if not self.seek_slider.isSliderDown():  # a click, a key: seek now; a drag: on release
            self.player.setPosition(value)

    @Slot()
    def _seek_released(self) -> None:
        self.player.setPosition(self.seek_slider.value())

    @Slot(QMediaPlayer.Error, str)
    def _on_error(self, error: QMediaPlayer.Error, detail: str) -> None:
        if error != QMediaPlayer.Error.NoError:
            log.info("cannot play %s: %s (%s)", self._path, detail, error.name)
            self._fail(unplayable=False)

    def _fail(self, *, unplayable: bool) -> None:
        if self._failed:
            return
        self._failed = True
        self._first_frame = False
        self._set_media_controls(False)
        # the disk is asked once, after a failure, only to choose the words
        if not unplayable and self._path is not None and not self._path.exists():
            message = self.tr(
                "This file is no longer on the disk; it may have been moved or deleted."
            )
        else:
            message = self.tr("This file cannot be played here; it is still in the library.")
        self.message_label.setText(message)
        self.screen_stack.setCurrentWidget(self.message_label)
        self.error_occurred.emit(message)

    # ---- sound ----------------------------------------------------------------------------

    @Slot()
    def _follow_default_output(self) -> None:
        device = QMediaDevices.defaultAudioOutput()
        # no device: no output attached, the picture plays alone until a device comes
        if device.isNull():
            self.player.setAudioOutput(None)  # type: ignore[arg-type]
        else:
            self.audio_output.setDevice(device)
            self.player.setAudioOutput(self.audio_output)
        self._retranslate()

    @Slot(int)
    def _volume_moved(self, value: int) -> None:
        self.audio_output.setVolume(QtAudio.convertVolume(value / 100, _CUBIC, _LINEAR))
        if value > 0 and self.audio_output.isMuted():
            self.audio_output.setMuted(False)

    @Slot()
    def _show_volume(self) -> None:
        muted = self.audio_output.isMuted()
        volume = QtAudio.convertVolume(self.audio_output.volume(), _LINEAR, _CUBIC)
        with QSignalBlocker(self.volume_slider), QSignalBlocker(self.mute_action):
            self.volume_slider.setValue(round(volume * 100))
            self.mute_action.setChecked(muted)
        icon = _SP.SP_MediaVolumeMuted if muted else _SP.SP_MediaVolume
        self.mute_action.setIcon(self.style().standardIcon(icon))

    # ---- Qt events ------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.stage and event.type() == QEvent.Type.FocusIn:
            self._focus_came(event)
        # closing the full-screen window (window manager, Alt+F4) brings the stage back home
        if watched is self.stage and event.type() == QEvent.Type.Close and self._full_screen:
            event.ignore()
            self.set_full_screen(False)
            return True
        # the full-screen window minimised or hidden: its picture is out of sight
        if (
            watched is self.stage
            and event.type() == QEvent.Type.Hide
            and self._full_screen
            and not self._switching
        ):
            self.pause()
        return super().eventFilter(watched, event)

    def _focus_came(self, event: QEvent) -> None:
        """The picture's own window activated (by the platform as it is shown: the tab shown,
        back from full screen) hands the focus to the stage, through its container; it goes
        back to where it was in the stage's window (a user's click or Tab is left alone)."""
        back = self._focus_back
        by_picture = QGuiApplication.focusWindow() not in (None, self.stage.window().windowHandle())
        activated = isinstance(event, QFocusEvent) and (
            event.reason() == Qt.FocusReason.ActiveWindowFocusReason
        )
        if by_picture and activated and _can_focus(back) and back.window() is self.stage.window():
            back.setFocus(Qt.FocusReason.ActiveWindowFocusReason)

    def hideEvent(self, event: QHideEvent) -> None:
        """Out of sight (another tab, the window minimised or closed to the tray): pause; the
        user plays again. In full screen the stage is a window of its own, still seen; leaving
        full screen into a player out of sight pauses then (``set_full_screen``)."""
        if not self._full_screen:
            self.pause()
        super().hideEvent(event)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self._retranslate()
        super().changeEvent(event)

    def _show_rendition(self) -> None:
        """Say which rendition is loaded: "Broadcast", "Proxy" (another name as it is)."""
        label, r = self.rendition_label, self._rendition
        if self._path is None or not r:
            label.hide()
            label.clear()
            label.setToolTip("")
            return
        name = formats.isolated(self._path.name)
        if r == "broadcast":
            text = self.tr("Broadcast")
            #: the tooltip of the player's "Broadcast" label: the file it plays
            tip = self.tr("Playing the broadcast file {name}").format(name=name)
        elif r == "proxy":
            text = self.tr("Proxy")
            #: the tooltip of the player's "Proxy" label: the small preview file it plays
            tip = self.tr("Playing the proxy file {name}").format(name=name)
        else:
            text = r
            tip = self.tr("Playing the file {name}").format(name=name)
        label.setText(text)
        label.setToolTip(plain_text.shown_as_typed(tip))  # (a file name: as typed)
        label.setAccessibleName(tip)
        label.show()

    def _retranslate(self) -> None:
        self._show_state(self.player.playbackState())
        self._show_rendition()
        self.step_back_action.setText(self.tr("Previous frame"))
        self.step_back_action.setToolTip(self.tr("Previous frame (,)"))
        self.step_forward_action.setText(self.tr("Next frame"))
        self.step_forward_action.setToolTip(self.tr("Next frame (.)"))
        self.mute_action.setText(self.tr("Mute"))
        self.mute_action.setToolTip(self.tr("Sound on or off (M)"))
        fs = self.full_screen_action
        fs.setText(self.tr("Full screen"))
        fs.setToolTip(
            self.tr("Leave full screen (Esc)") if self._full_screen else self.tr("Full screen (F)")
        )
        self.seek_slider.setAccessibleName(self.tr("Position in the clip"))
        self.position_label.setAccessibleName(self.tr("Time played"))
        self.duration_label.setAccessibleName(self.tr("Length of the clip"))
        self.volume_slider.setAccessibleName(self.tr("Volume"))
        no_device = self.player.audioOutput() is None
        self.volume_slider.setToolTip(
            self.tr("Volume (no sound device found)") if no_device else self.tr("Volume")
        )
        self.video_widget.setAccessibleName(self.tr("Picture"))
        self.stage.setWindowTitle(self.tr("Player"))
        self.stage.setAccessibleName(self.tr("Player"))


__all__ = [
    "FALLBACK_FRAME_MS",
    "PICTURE_MIN_HEIGHT",
    "PICTURE_MIN_WIDTH",
    "SEEK_MIN_WIDTH",
    "VOLUME_MIN_WIDTH",
    "PlayerWidget",
    "SeekSlider",
    "clock_text",
]
