"""The commands of the Transfers tab as actions: one set shared by the toolbar, the context
menu and the keyboard (Delete cancels, Ctrl+Up/Down change the priority). Pause all and resume
all carry no keys here: Ctrl+Shift+P and Ctrl+Shift+R are the main window's own Pause all /
Resume all, which work on every tab (this panel is hidden on the others).

Move up / down / to the top / to the bottom (Alt+Up, Alt+Down, Alt+Home, Alt+End) reorder rows
among those of their priority, as a drag does, for who cannot drag. They are the table's
alone (the panel's combo boxes keep Alt+Down, which opens them) and in its context menu, not
on the toolbar, whose arrows are the priority's."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QStyle, QWidget

from .. import formats


class TransferActions(QObject):
    """``TransferActions(panel)``: the actions (``pause``, ``resume``, ``retry``, ``cancel``,
    ``priority_up``, ``priority_down``, ``limit``, ``pause_all``, ``resume_all``, and the
    table's ``move_up``, ``move_down``, ``move_top``, ``move_bottom``), owned by ``panel``.
    Their texts are set by ``retranslate()``; the panel connects them."""

    def __init__(self, panel: QWidget) -> None:
        super().__init__(panel)
        icon = panel.style().standardIcon
        sp = QStyle.StandardPixmap

        def action(
            name: str,
            pixmap: QStyle.StandardPixmap,
            shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
            context: Qt.ShortcutContext = Qt.ShortcutContext.WidgetWithChildrenShortcut,
        ) -> QAction:
            a = QAction(icon(pixmap), "", panel)
            a.setObjectName(name)
            if shortcut is not None:
                a.setShortcut(QKeySequence(shortcut))
                a.setShortcutContext(context)
            return a

        self.pause = action(
            "pause",
            sp.SP_MediaPause,
        )
        self.resume = action(
            "resume",
            sp.SP_MediaPlay,
        )
        self.retry = action(
            "retry",
            sp.SP_BrowserReload,
        )
        self.cancel = action(
            "cancel",
            sp.SP_DialogCancelButton,
            QKeySequence.StandardKey.Delete,
        )
        self.priority_up = action("priority-up", sp.SP_ArrowUp, "Ctrl+Up")
        self.priority_down = action("priority-down", sp.SP_ArrowDown, "Ctrl+Down")
        self.limit = action("limit", sp.SP_DriveNetIcon)
        self.pause_all = action("pause-all", sp.SP_MediaStop)
        self.resume_all = action("resume-all", sp.SP_MediaSeekForward)
        table = Qt.ShortcutContext.WidgetShortcut  # the table's keys: see the module's words
        self.move_up = action("move-up", sp.SP_ArrowUp, "Alt+Up", table)
        self.move_down = action("move-down", sp.SP_ArrowDown, "Alt+Down", table)
        self.move_top = action("move-top", sp.SP_MediaSkipBackward, "Alt+Home", table)
        self.move_bottom = action("move-bottom", sp.SP_MediaSkipForward, "Alt+End", table)

    def groups(self) -> list[tuple[QAction, ...]]:
        """The toolbar's groups of actions."""
        return [
            (self.pause, self.resume, self.retry, self.cancel),
            (self.priority_up, self.priority_down, self.limit),
            (self.pause_all, self.resume_all),
        ]

    def menu_groups(self) -> list[tuple[QAction, ...]]:
        """The table's context menu: the toolbar's, with the moves after the priority."""
        groups = self.groups()
        return [*groups[:2], self.moves(), *groups[2:]]

    def moves(self) -> tuple[QAction, ...]:
        return (self.move_up, self.move_down, self.move_top, self.move_bottom)

    def retranslate(self) -> None:
        texts = {
            self.pause: (self.tr("Pause"), self.tr("Pause the selected transfers")),
            self.resume: (self.tr("Resume"), self.tr("Resume the selected transfers")),
            self.retry: (
                self.tr("Retry now"),
                self.tr("Try the selected transfers again now, without waiting"),
            ),
            self.cancel: (
                self.tr("Cancel"),
                self.tr("Cancel the selected transfers (asks first)"),
            ),
            self.priority_up: (
                self.tr("Raise priority"),
                self.tr("Routine to urgent, urgent to flash"),
            ),
            self.priority_down: (
                self.tr("Lower priority"),
                self.tr("Flash to urgent, urgent to routine"),
            ),
            self.limit: (
                self.tr("Limit speed…"),
                self.tr("A speed limit of their own for the selected transfers"),
            ),
            self.move_up: (
                self.tr("Move up"),
                self.tr("One place earlier among the transfers of the same priority"),
            ),
            self.move_down: (
                self.tr("Move down"),
                self.tr("One place later among the transfers of the same priority"),
            ),
            self.move_top: (
                self.tr("Move to the top"),
                self.tr("First of the transfers of the same priority"),
            ),
            self.move_bottom: (
                self.tr("Move to the bottom"),
                self.tr("Last of the transfers of the same priority"),
            ),
            self.pause_all: (self.tr("Pause all"), self.tr("Pause every transfer")),
            self.resume_all: (
                self.tr("Resume all"),
                self.tr("Resume every paused transfer"),
            ),
        }
        for act, (text, tip) in texts.items():
            act.setText(text)
            act.setToolTip(formats.with_keys(tip, act.shortcut()))
            act.setStatusTip(tip)
