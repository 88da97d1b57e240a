"""The tray icon: the app's state at a glance, quick pause, and notifications.

Only where the desktop has a system tray (``tray_available``); without one, closing the window
quits the app instead of hiding it. The menu offers Show, Pause all / Resume all and Quit; the
window decides what each does.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QLocale, QObject, Signal
from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from alu_client.core.download_notices import DownloadDone
from alu_client.core.hub import Item
from alu_client.core.item_notices import ItemNotice
from alu_client.core.transfers.queue import Progress

from . import engine_text, formats
from .notify_markup import NotificationFormat

# the items a balloon names one by one (then how many more)
SHOWN = 3
# the characters of an item's restrictions a balloon shows
_RESTRICTIONS_SHOWN = 120


def _short(text: str) -> str:
    """Restrictions on one line, the start of a long text."""
    line = " ".join(text.split())
    if len(line) > _RESTRICTIONS_SHOWN:
        line = line[: _RESTRICTIONS_SHOWN - 1].rstrip() + "…"
    return formats.isolated(line)


def tray_available() -> bool:
    """Whether the desktop shows tray icons (an offscreen or bare X session does not)."""
    return QSystemTrayIcon.isSystemTrayAvailable()


class Tray(QObject):
    """Signals: ``show_requested``, ``pause_all_requested``, ``resume_all_requested``,
    ``quit_requested``."""

    show_requested = Signal()
    pause_all_requested = Signal()
    resume_all_requested = Signal()
    quit_requested = Signal()

    def __init__(self, icon: QIcon, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.menu = QMenu()
        self.icon = QSystemTrayIcon(icon, self)
        self.show_action = QAction(self)
        self.pause_action = QAction(self)
        self.resume_action = QAction(self)
        self.quit_action = QAction(self)
        self.show_action.triggered.connect(self.show_requested)
        self.pause_action.triggered.connect(self.pause_all_requested)
        self.resume_action.triggered.connect(self.resume_all_requested)
        self.quit_action.triggered.connect(self.quit_requested)
        self.menu.addAction(self.show_action)
        self.menu.addSeparator()
        self.menu.addAction(self.pause_action)
        self.menu.addAction(self.resume_action)
        self.menu.addSeparator()
        self.menu.addAction(self.quit_action)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self.state_text = ""
        self.messages: list[tuple[str, str]] = []  # what was notified (the newest last)
        self.body_format = NotificationFormat(self)  # (asked of the desktop in the background)
        self.menu.installEventFilter(self)
        self.retranslate()

    def show(self) -> None:
        self.icon.show()

    def hide(self) -> None:
        self.icon.hide()

    def set_state(self, text: str) -> None:
        """The tooltip: ``ALU Desk — Online · 2 active``."""
        self.state_text = text
        self.icon.setToolTip(self.tr("ALU Desk — %1").replace("%1", text) if text else "ALU Desk")

    def notify(self, title: str, message: str, *, warning: bool = False) -> None:
        self.messages.append((title, message))
        del self.messages[:-20]
        kind = (
            QSystemTrayIcon.MessageIcon.Warning
            if warning
            else QSystemTrayIcon.MessageIcon.Information
        )
        # (the body as this desktop reads it: markup, plain or a label; the title is plain)
        self.icon.showMessage(title, self.body_format.body(message), kind, 8000)

    def notify_pushes(self, items: Sequence[Item]) -> None:
        """Flash and urgent pushes (three at most, then how many more)."""
        hot = [i for i in items if i.priority in ("flash", "urgent")]
        for item in hot[:3]:
            title = self.tr("FLASH: %1") if item.priority == "flash" else self.tr("Urgent: %1")
            self.notify(
                title.replace("%1", formats.isolated(item.title)), item.dateline or item.slug
            )
        if len(hot) > 3:
            more = self.tr("%1 more flash or urgent items in the feed.")
            self.notify(self.tr("Feed"), more.replace("%1", QLocale().toString(len(hot) - 3)))

    def notify_downloads(self, done: Sequence[DownloadDone]) -> None:
        """Items whose downloads finished, in one balloon: the item's name (with its rendition
        when it is not the broadcast file), the rule that fetched it, and its usage
        restrictions, flagged (a warning balloon) — a rule downloads restricted items too."""
        if not done:
            return
        lines: list[str] = []
        if len(done) == 1:
            title = self.tr("Download finished")
            lines.append(formats.with_rendition(done[0].title, done[0].rendition))
        else:
            title = self.tr("%Ln items downloaded", "", len(done))
            lines += [formats.with_rendition(d.title, d.rendition) for d in done[:SHOWN]]
            if len(done) > SHOWN:
                lines.append(self.tr("and %Ln more", "", len(done) - SHOWN))
        rules = list(dict.fromkeys(d.rule for d in done if d.rule))
        if len(rules) == 1:
            lines.append(self.tr("Rule: %1").replace("%1", formats.isolated(rules[0])))
        elif rules:
            lines.append(
                self.tr("Rules: %1").replace("%1", formats.joined(map(formats.isolated, rules)))
            )
        restricted = [d for d in done if d.restrictions]
        for d in restricted[:SHOWN]:
            if len(done) == 1:
                line = self.tr("Usage restrictions: %1").replace("%1", _short(d.restrictions))
            else:
                line = self.tr("Usage restrictions on {title}: {restrictions}").format(
                    title=formats.isolated(d.title), restrictions=_short(d.restrictions)
                )
            lines.append(line)
        if len(restricted) > SHOWN:
            lines.append(
                self.tr("%Ln more items with usage restrictions", "", len(restricted) - SHOWN)
            )
        self.notify(title, "\n".join(lines), warning=bool(restricted))

    def notify_withdrawn(self, notices: Sequence[ItemNotice]) -> None:
        """Items this workstation has that the agency withdrew, in one warning balloon: the
        item and the agency's reason (one), or how many and which (several)."""
        if not notices:
            return
        if len(notices) == 1:
            n = notices[0]
            title = self.tr("Withdrawn by the agency: %1").replace(
                "%1", formats.isolated(n.item.title or n.item.id)
            )
            lines = [_short(n.item.withdrawn_reason)] if n.item.withdrawn_reason.strip() else []
            if n.canceled:
                lines.append(self.tr("Its download was canceled."))
            lines.append(self.tr("Do not use it; its files are marked in the Library."))
        else:
            title = self.tr("%Ln items withdrawn by the agency", "", len(notices))
            lines = [
                self.tr("{title}: {reason}").format(
                    title=formats.isolated(n.item.title or n.item.id),
                    reason=_short(n.item.withdrawn_reason),
                )
                for n in notices[:SHOWN]
            ]
            if len(notices) > SHOWN:
                lines.append(self.tr("and %Ln more", "", len(notices) - SHOWN))
            lines.append(self.tr("Do not use them; they are marked in the Library."))
        self.notify(title, "\n".join(lines), warning=True)

    def notify_corrected(self, notices: Sequence[ItemNotice]) -> None:
        """Items this workstation has whose usage restrictions the agency corrected, in one
        balloon (not a warning: the item is still usable, under its new restrictions)."""
        if not notices:
            return
        if len(notices) == 1:
            n = notices[0]
            title = self.tr("Corrected by the agency: %1").replace(
                "%1", formats.isolated(n.item.title or n.item.id)
            )
            restrictions = n.item.restrictions.strip()
            lines = [
                self.tr("Usage restrictions now: %1").replace("%1", _short(restrictions))
                if restrictions
                else self.tr("Usage restrictions lifted.")
            ]
        else:
            title = self.tr("Usage restrictions of %Ln items corrected", "", len(notices))
            lines = [formats.isolated(n.item.title or n.item.id) for n in notices[:SHOWN]]
            if len(notices) > SHOWN:
                lines.append(self.tr("and %Ln more", "", len(notices) - SHOWN))
        self.notify(title, "\n".join(lines))

    def notify_transfer(self, p: Progress) -> None:
        """A transfer finished or failed (a finished download is told by
        ``notify_downloads``, one balloon per item or group of items)."""
        upload = p.direction == "upload"
        if p.state == "done":
            title = self.tr("Upload finished") if upload else self.tr("Download finished")
            self.notify(title, p.label)
        else:
            title = self.tr("Upload failed") if upload else self.tr("Download failed")
            self.notify(
                title,
                self.tr("{name}: {problem}").format(
                    name=formats.isolated(p.label), problem=engine_text.shown(p.last_error)
                )
                if p.last_error
                else p.label,
                warning=True,
            )

    def retranslate(self) -> None:
        self.show_action.setText(self.tr("Show ALU Desk"))
        self.pause_action.setText(self.tr("Pause all transfers"))
        self.resume_action.setText(self.tr("Resume all transfers"))
        self.quit_action.setText(self.tr("Quit"))
        self.set_state(self.state_text)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # The menu is a widget: it hears of language changes, the tray icon does not.
        if watched is self.menu and event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        return False

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self.show_requested.emit()

    def dispose(self) -> None:
        self.icon.hide()
        self.menu.deleteLater()
