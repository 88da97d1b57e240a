"""The main window's bars: its commands (menus, toolbar, shortcuts) and its status bar.

``ShellActions`` holds the window-wide commands and puts them in the menu bar and toolbar.

``TransferActivity`` listens to the queue's progress batches (on the queue's thread), brings
them to the GUI thread and keeps one small record per transfer: from it come the speeds per
direction, the counts of active and queued transfers, and ``transfer_ended`` when a transfer
finishes or fails (the tray's notifications). ``StatusBar`` shows the connection (online,
offline with the reason as a tooltip, signed out), the hub, the speeds and counts, and whether
a bandwidth limit is on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal, Slot
from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QMenuBar, QStatusBar, QStyle, QToolBar, QWidget

from alu_client.core.rules import RuleProblem
from alu_client.core.sync import OFFLINE, ONLINE, SIGNED_OUT, SyncStatus
from alu_client.core.transfers.base import PHASE_LIBRARY
from alu_client.core.transfers.queue import Progress, TransferQueue

from . import engine_text, plain_text
from .a11y import announce
from .formats import count_text, joined, speed_text, with_keys
from .widgets.label import ElidingLabel
from .widgets.toolbar import Toolbar

_ENDED = ("done", "failed")
# how long the app's own status-bar messages stay (``StatusBar.say``): long enough to read
# a line twice, short enough that the connection state comes back
MESSAGE_MS = 15_000


@dataclass(frozen=True)
class Activity:
    """What the queue is doing now."""

    speed_down: float = 0.0
    speed_up: float = 0.0
    active: int = 0
    queued: int = 0
    # why transfers wait on the library (the data folder's disk full: ``PHASE_LIBRARY``), or ""
    problem: str = ""


@dataclass(frozen=True)
class _Known:
    direction: str
    state: str
    speed: float
    problem: str = ""


class TransferActivity(QObject):
    """Signals: ``changed(Activity)``; ``transfer_ended(Progress)`` when one finishes or fails
    while the app watches (not for those that ended before it started)."""

    changed = Signal(object)
    transfer_ended = Signal(object)
    _posted = Signal(list)

    def __init__(self, queue: TransferQueue | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.queue: TransferQueue | None = None
        self._known: dict[int, _Known] = {}
        self.activity = Activity()
        self._posted.connect(self._apply, Qt.ConnectionType.QueuedConnection)
        if queue is not None:
            self.attach(queue)

    def attach(self, queue: TransferQueue) -> None:
        self.detach()
        self.queue = queue
        queue.add_listener(self._post)

    def detach(self) -> None:
        if self.queue is not None:
            self.queue.remove_listener(self._post)
            self.queue = None

    def _post(self, batch: list[Progress]) -> None:  # the queue's progress thread
        self._posted.emit(list(batch))

    def seed(self, snapshot: Sequence[Progress]) -> None:
        """Start from the queue's snapshot (read off the GUI thread): no notifications for
        what had ended before."""
        for p in snapshot:
            self._known.setdefault(p.id, _Known(p.direction, p.state, p.speed))
        self._recount()

    @Slot(list)
    def _apply(self, batch: list[Progress]) -> None:
        self.apply(batch)

    def apply(self, batch: Sequence[Progress]) -> None:
        for p in batch:
            before = self._known.get(p.id)
            problem = p.last_error if p.phase == PHASE_LIBRARY else ""
            self._known[p.id] = _Known(p.direction, p.state, p.speed, problem)
            if p.state in _ENDED and (before is None or before.state != p.state):
                self.transfer_ended.emit(p)
        self._recount()

    def _recount(self) -> None:
        down = up = 0.0
        active = queued = 0
        problem = ""
        for k in self._known.values():
            problem = problem or k.problem
            if k.state == "active":
                active += 1
                if k.direction == "download":
                    down += k.speed
                else:
                    up += k.speed
            elif k.state == "queued":
                queued += 1
        activity = Activity(down, up, active, queued, problem)
        if activity != self.activity:
            self.activity = activity
            self.changed.emit(activity)


class StatusBar(QStatusBar):
    """Connection · hub · speeds and counts · limit. A click on "Signed out" asks for the
    sign-in (``sign_in_requested``)."""

    sign_in_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._permanent: list[QWidget] = []  # (before any is added: ``addPermanentWidget``)
        # the last of the app's own messages, whole (``say``)
        self.said = ""
        self.messageChanged.connect(self._message_changed)
        self.setObjectName("mainStatusBar")
        self.connection = QLabel(self)
        self.connection.setObjectName("statusConnection")
        self.connection.installEventFilter(self)
        # these two give way in a narrow window or at a large font, cut with "…", whole in
        # their tooltips: their whole texts made the window's minimum width (1355 px at 24 pt)
        self.hub = ElidingLabel(self)
        self.hub.setObjectName("statusHub")
        self.activity_label = ElidingLabel(self)
        self.activity_label.setObjectName("statusActivity")
        self.limit = QLabel(self)
        self.limit.setObjectName("statusLimit")
        # the auto-download rules whose items wait for their folder (hidden when none)
        self.rules_label = QLabel(self)
        self.rules_label.setObjectName("statusRules")
        self.rules_label.hide()
        self.rule_problems: list[RuleProblem] = []
        for label in (self.connection, self.hub, self.activity_label, self.limit, self.rules_label):
            label.setTextFormat(Qt.TextFormat.PlainText)  # (the hub's name, a rule's: as typed)
        self.addWidget(self.connection)
        self.addWidget(self.hub, 1)
        self.addPermanentWidget(self.rules_label)
        self.addPermanentWidget(self.activity_label)
        self.addPermanentWidget(self.limit)
        self.status: SyncStatus | None = None
        self.hub_name = ""
        self.activity = Activity()
        self.limited = False
        self.limits: tuple[float | None, float | None] = (None, None)
        self.scheduled = False
        self.by_rule = False
        self.told_went_back = False  # (``hub_went_back``: once)
        self._retranslate()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            watched is self.connection
            and event.type() == QEvent.Type.MouseButtonRelease
            and self.state == SIGNED_OUT
        ):
            self.sign_in_requested.emit()
            return True
        return super().eventFilter(watched, event)

    def hub_went_back(self, _kind: str = "") -> None:
        """The hub no longer has what this workstation saw of it (the feed's or the history's
        cursor): said once, not only in the log."""
        if self.told_went_back:
            return
        self.told_went_back = True
        self.say(
            self.tr(
                "The hub no longer has what this workstation last saw of it (restored from a "
                "backup, or another hub at this address?): its feed and history are read "
                "again, and this workstation's recent history is sent to it again."
            ),
            assertive=True,
        )

    # --- inputs -------------------------------------------------------------------------------

    def set_rule_problems(self, problems: list[RuleProblem]) -> None:
        """The rules whose folder cannot be written, and how many items wait: shown until
        it can (it was only in the log)."""
        self.rule_problems = list(problems)
        self._show_rules()

    def set_sync_status(self, status: SyncStatus | None) -> None:
        self.status = status
        self._show_connection()

    def set_hub(self, name: str) -> None:
        self.hub_name = name
        self._show_hub()

    def set_activity(self, activity: Activity) -> None:
        problem_changed = activity.problem != self.activity.problem
        self.activity = activity
        self._show_activity()
        if problem_changed:
            self._show_connection()

    def set_limits(
        self,
        down: float | None,
        up: float | None,
        scheduled: bool = False,
        *,
        by_rule: bool = False,
    ) -> None:
        """The limits in force now (bytes/s, None: unlimited); ``scheduled`` when a weekly
        schedule is set (it may limit at other hours even when nothing limits now), ``by_rule``
        when one of its periods sets these limits."""
        self.limits, self.scheduled, self.by_rule = (down, up), scheduled, by_rule
        self.limited = bool(down or up)
        self._show_limit()

    @property
    def state(self) -> str:
        """``online``, ``offline``, ``signed_out`` or ``connecting`` (nothing heard yet)."""
        return self.status.state if self.status is not None else "connecting"

    def say(self, text: str, timeout: int | None = None, *, assertive: bool = False) -> None:
        """Show one of the app's own messages ("Checking the hub…", an update, a command's
        failure) for ``timeout`` ms (``MESSAGE_MS``) and have screen readers say it: it was
        only ever drawn.
        Only these: the bar also shows the status tips of the actions under the mouse or the
        menu's keyboard cursor, which a screen reader has just read off the item itself
        (announcing every ``messageChanged`` said each one twice).

        A message hides the bar's left side (Qt's: the hub's name and "● Online"), so none
        stays there for good (a correction's notice did, the connection out of sight); one
        longer than the room left of the permanent widgets ends with "…" (it ran into the
        speed counters, cut mid-word); screen readers get it whole."""
        shown = self._fitted(text)
        self.showMessage(shown, MESSAGE_MS if timeout is None else timeout)
        self.said = text  # (whole: in the tooltip while it is cut)
        self.setToolTip(plain_text.shown_as_typed(text) if shown != text else "")
        announce(self, text, assertive=assertive)

    @Slot(str)
    def _message_changed(self, message: str) -> None:
        if message != self._fitted(self.said):
            self.setToolTip("")  # (gone, or an action's status tip over it)

    def _fitted(self, text: str) -> str:
        right = sum(w.sizeHint().width() for w in self._permanent if w.isVisible())
        room = self.width() - right - 8 * self.fontMetrics().averageCharWidth()
        if room <= 0:
            return text  # (not laid out yet)
        return self.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, room)

    def addPermanentWidget(self, widget: QWidget, stretch: int | None = 0) -> None:
        self._permanent.append(widget)
        super().addPermanentWidget(widget, stretch or 0)

    # --- painting -----------------------------------------------------------------------------

    def _show_connection(self) -> None:
        status = self.status
        if status is None:
            text, tip = self.tr("Connecting…"), ""
        elif status.state == ONLINE and status.catching_up is not None:
            # (a year's feed is minutes of pages: "● Online" alone looked finished)
            progress = self.tr("Catching up with the feed: %1 items so far…")
            progress = progress.replace("%1", count_text(status.catching_up))
            text = joined([self.tr("● Online"), progress])
            tip = self.tr("Connected to the hub; the feed's new items are being downloaded.")
        elif status.state == ONLINE:
            text, tip = self.tr("● Online"), self.tr("Connected to the hub; the feed is live.")
        elif status.state == OFFLINE:
            text = self.tr("○ Offline")
            # the core words its reasons in English: shown in the user's language
            reason = engine_text.shown(status.reason)
            tip = reason or self.tr("The hub cannot be reached; the app will catch up.")
        else:
            text = self.tr("○ Signed out")
            reason = engine_text.shown(status.reason)
            tip = reason or self.tr("The hub no longer accepts this sign-in.")
            click = self.tr("Click to sign in (File › Sign in…).")
            tip = f"{tip}\n{click}"
        if self.activity.problem:
            # the hub may answer, but what comes cannot be kept: "● Online" alone hid it
            text = joined([text, self.tr("⚠ Library cannot be saved")])
            tip = f"{engine_text.shown(self.activity.problem)}\n{tip}"
        self.connection.setText(text)
        self.connection.setToolTip(plain_text.shown_as_typed(tip))
        signed_out = status is not None and status.state == SIGNED_OUT
        cursor = Qt.CursorShape.PointingHandCursor if signed_out else Qt.CursorShape.ArrowCursor
        self.connection.setCursor(cursor)
        self.connection.setAccessibleName(self.tr("Connection: %1").replace("%1", text))

    def _show_hub(self) -> None:
        self.hub.setText(self.hub_name)
        self.hub.setAccessibleName(self.tr("Hub: %1").replace("%1", self.hub_name))

    def _show_activity(self) -> None:
        a = self.activity
        down = speed_text(a.speed_down) or count_text(0)
        up = speed_text(a.speed_up) or count_text(0)
        speeds = self.tr("↓ %1  ↑ %2").replace("%1", down).replace("%2", up)
        counts = self.tr("%1 active, %2 queued")
        counts = counts.replace("%1", count_text(a.active)).replace("%2", count_text(a.queued))
        text = joined([speeds, counts])
        self.activity_label.setText(text)
        self.activity_label.setAccessibleName(text)

    def _show_limit(self) -> None:
        text = self.tr("Limit on") if self.limited else self.tr("No limit")
        self.limit.setText(text)
        if self.limited:
            tip = (
                self.tr("Limit set by the weekly schedule: ↓ %1  ↑ %2 (Settings).")
                if self.by_rule
                else self.tr("Bandwidth limit: ↓ %1  ↑ %2 (Settings or Transfers tab).")
            )
            for n, bps in enumerate(self.limits, start=1):
                tip = tip.replace(f"%{n}", speed_text(bps) if bps else self.tr("unlimited"))
        elif self.scheduled:
            tip = self.tr("No limit at this hour; the weekly schedule sets one at other hours.")
        else:
            tip = self.tr("Transfers use all the bandwidth they can.")
        self.limit.setToolTip(tip)
        self.limit.setAccessibleName(text)

    def _show_rules(self) -> None:
        problems = self.rule_problems
        self.rules_label.setVisible(bool(problems))
        if not problems:
            return
        waiting = sum(p.waiting for p in problems)
        if len(problems) == 1:
            text = self.tr("⚠ Rule “%1”: %Ln items waiting", "", waiting).replace(
                "%1", problems[0].rule
            )
        else:
            text = self.tr("⚠ Rules: %Ln items waiting", "", waiting)
        lines = [
            self.tr("Rule “%1”: %2; %Ln items waiting, downloaded once the folder can be "
                    "written.", "", p.waiting)
            .replace("%1", p.rule)
            .replace("%2", engine_text.shown(p.error))
            for p in problems
        ]  # fmt: skip
        self.rules_label.setText(text)
        self.rules_label.setToolTip(plain_text.shown_as_typed("\n".join(lines)))
        self.rules_label.setAccessibleName(text)

    def _retranslate(self) -> None:
        self._show_rules()
        self._show_connection()
        self._show_hub()
        self._show_activity()
        self._show_limit()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self._retranslate()
        super().changeEvent(event)


class ShellActions(QObject):
    """The main window's commands, in its menus, toolbar and shortcuts."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self._window = window
        sp = QStyle.StandardPixmap

        def make(
            name: str, icon: QStyle.StandardPixmap | None = None, keys: str = "", theme: str = ""
        ) -> QAction:
            a = QAction(window)
            a.setObjectName(f"action-{name}")
            if icon is not None:
                a.setIcon(QIcon.fromTheme(theme, window.style().standardIcon(icon)))
            if keys:
                a.setShortcut(QKeySequence(keys))
            window.addAction(a)  # shortcuts work with the menu bar hidden too
            return a

        self.add_files = make("add-files", sp.SP_FileDialogNewFolder, "Ctrl+O", "document-open")
        self.settings = make(
            "settings", sp.SP_FileDialogDetailedView, "Ctrl+,", "preferences-system"
        )
        # The window owns these keys, so they work on every tab; the panels' own buttons for
        # the same commands (Transfers' pause all / resume all, History's refresh) carry none,
        # or Qt would find two owners and run neither. F5 also re-reads the History tab when
        # it is the one shown (MainWindow.sync_now).
        self.pause_all = make("pause-all", sp.SP_MediaPause, "Ctrl+Shift+P")
        self.resume_all = make("resume-all", sp.SP_MediaPlay, "Ctrl+Shift+R")
        self.sync_now = make("sync-now", sp.SP_BrowserReload, "F5")
        # (enabled while signed out: the sign-in dialog again, the transfers left running)
        self.sign_in = make("sign-in", sp.SP_DialogOkButton)
        self.sign_in.setEnabled(False)
        self.sign_out = make("sign-out", sp.SP_DialogCloseButton)
        self.quit = make("quit", None, "Ctrl+Q")
        self.about = make("about", sp.SP_MessageBoxInformation)
        self.check_updates = make("check-updates")
        self.tab_actions = [make(f"tab-{n + 1}", None, f"Ctrl+{n + 1}") for n in range(4)]
        self.menus: dict[str, Any] = {}
        self.toolbar: QToolBar | None = None

    def build_menus(self, bar: QMenuBar) -> None:
        for key, actions in (
            ("file", [self.add_files, None, self.sign_in, self.sign_out, None, self.quit]),
            ("transfers", [self.pause_all, self.resume_all, None, self.sync_now]),
            ("view", self.tab_actions),
            ("tools", [self.settings]),
            ("help", [self.check_updates, None, self.about]),
        ):
            menu = bar.addMenu("")
            menu.setObjectName(f"menu-{key}")
            for a in actions:
                menu.addSeparator() if a is None else menu.addAction(a)
            self.menus[key] = menu

    def build_toolbar(self, parent: QWidget) -> QToolBar:
        bar = Toolbar(parent)
        bar.setObjectName("mainToolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for a in (self.add_files, None, self.pause_all, self.resume_all, self.sync_now, None):
            bar.addSeparator() if a is None else bar.addAction(a)
        bar.addAction(self.settings)
        self.toolbar = bar
        return bar

    def retranslate(self) -> None:
        for action, text, tip in (
            (self.add_files, self.tr("&Add files…"), self.tr("Choose video files to upload")),
            (self.settings, self.tr("&Settings…"), self.tr("Folders, limits, rules, language")),
            (self.pause_all, self.tr("&Pause all"), self.tr("Pause every transfer")),
            (self.resume_all, self.tr("&Resume all"), self.tr("Resume every paused transfer")),
            (self.sync_now, self.tr("S&ync now"), self.tr("Ask the hub for new items now")),
            (
                self.sign_in,
                self.tr("Sign &in…"),
                self.tr("Sign in to the hub again; the transfers under way go on"),
            ),
            (self.sign_out, self.tr("Sign &out…"), self.tr("Sign out of the hub")),
            (self.quit, self.tr("&Quit"), self.tr("Stop the transfers and quit")),
            (self.about, self.tr("&About ALU Desk"), ""),
            (self.check_updates, self.tr("Check for &updates"), self.tr("Ask the hub")),
        ):
            action.setText(text)
            tip = tip or text.replace("&", "")
            action.setToolTip(with_keys(tip, action.shortcut()))
        for a, text in zip(
            self.tab_actions,
            (self.tr("&Feed"), self.tr("&Transfers"), self.tr("&Library"), self.tr("&History")),
            strict=True,
        ):
            a.setText(text)
        for key, text in (
            ("file", self.tr("&File")),
            ("transfers", self.tr("&Transfers")),
            ("view", self.tr("&View")),
            ("tools", self.tr("T&ools")),
            ("help", self.tr("&Help")),
        ):
            if key in self.menus:
                self.menus[key].setTitle(text)
        if self.toolbar is not None:
            self.toolbar.setWindowTitle(self.tr("Main toolbar"))


def newer_version(current: str, mine: str) -> bool:
    """Whether the hub's ``current`` client version is newer than ``mine`` (1.10 > 1.9)."""

    def key(v: str) -> tuple[int, ...]:
        parts = []
        for piece in v.strip().lstrip("vV").split("."):
            digits = "".join(ch for ch in piece if ch.isdigit())
            if not digits:
                break
            parts.append(int(digits))
        return tuple(parts)

    return bool(current) and key(current) > key(mine)
