"""Telling the user what the agency changed about items this workstation has.

The core says (``CoreBridge.item_notices``) which items it has — files in the Library, a
download under way or queued — the agency withdrew, or whose usage restrictions it corrected.
Notices arriving close together are gathered (``GATHER_MS``) and told at once: a tray balloon
(when the settings allow notifications; one for the withdrawals, one for the corrections,
saying how many when there are several) and the status bar. A withdrawal stays in the status
bar (``⚠ Withdrawn: …``, the reasons in its tooltip) and marks the Library tab until the user
has seen it: a click on it opens the Library, as does choosing the Library tab. A correction is
lower key: a message in the status bar until the next one.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel

from alu_client.core.item_notices import CORRECTED, WITHDRAWN, ItemNotice

from . import plain_text
from .a11y import announce
from .formats import isolated
from .statusbar import StatusBar
from .tray import Tray

# the first notice waits this long for others arriving with it (ms)
GATHER_MS = 1_500
# the items the status bar's tooltip names one by one
TIP_SHOWN = 10


class ItemNoticeBoard(QObject):
    """Signals: ``changed`` (the unseen withdrawals changed: the tab titles), and
    ``open_requested`` (the status bar's withdrawal was clicked: show the Library)."""

    changed = Signal()
    open_requested = Signal()

    def __init__(
        self,
        status: StatusBar,
        tray: Callable[[], Tray | None],  # (None: no balloons — no tray, or turned off)
        *,
        gather_ms: int = GATHER_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.status = status
        self._tray = tray
        self._pending: dict[str, ItemNotice] = {}
        # the withdrawals not seen yet, by item id (oldest first)
        self.unseen: dict[str, ItemNotice] = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(gather_ms)
        self._timer.timeout.connect(self._flush)
        self.label = QLabel(status)
        self.label.setObjectName("statusWithdrawn")
        self.label.setTextFormat(Qt.TextFormat.PlainText)  # (an item's title: as typed)
        self.label.setCursor(Qt.CursorShape.PointingHandCursor)
        self.label.installEventFilter(self)
        self.label.hide()
        status.addPermanentWidget(self.label)

    def add(self, notices: list[ItemNotice]) -> None:
        for n in notices:
            # a withdrawal outweighs a correction of the same item told with it
            if n.kind == WITHDRAWN or n.item.id not in self._pending:
                self._pending[n.item.id] = n
        if not self._timer.isActive():
            self._timer.start()

    def seen(self) -> None:
        """The user has seen the withdrawals (the Library shown)."""
        if self.unseen:
            self.unseen.clear()
            self._show()
            self.changed.emit()

    def _flush(self) -> None:
        notices = list(self._pending.values())
        self._pending.clear()
        withdrawn = [n for n in notices if n.kind == WITHDRAWN]
        corrected = [n for n in notices if n.kind == CORRECTED]
        tray = self._tray()
        if tray is not None:
            tray.notify_withdrawn(withdrawn)
            tray.notify_corrected(corrected)
        if corrected:
            if len(corrected) == 1:
                text = self.tr("Corrected by the agency: usage restrictions of “%1” changed.")
                text = text.replace("%1", corrected[0].item.title or corrected[0].item.id)
            else:
                text = self.tr(
                    "Corrected by the agency: usage restrictions of %Ln items changed.",
                    "",
                    len(corrected),
                )
            self.status.say(text)
        if withdrawn:
            for n in withdrawn:
                self.unseen.pop(n.item.id, None)
                self.unseen[n.item.id] = n
            self._show()
            self.changed.emit()
            # said to screen readers; drawn once, by the label (a message beside it stayed
            # after the label went, as if something were still unseen)
            announce(self.status, self.label.text(), assertive=True)

    def _show(self) -> None:
        unseen = list(self.unseen.values())
        self.label.setVisible(bool(unseen))
        if not unseen:
            return
        if len(unseen) == 1:
            text = self.tr("⚠ Withdrawn: “%1”").replace(
                "%1", unseen[0].item.title or unseen[0].item.id
            )
        else:
            text = self.tr("⚠ %Ln items withdrawn", "", len(unseen))
        lines = [self.tr("Withdrawn by the agency — do not use:")]
        lines += [
            self.tr("{title}: {reason}").format(
                title=isolated(n.item.title or n.item.id),
                reason=isolated(" ".join(n.item.withdrawn_reason.split())),
            )
            for n in unseen[:TIP_SHOWN]
        ]
        if len(unseen) > TIP_SHOWN:
            lines.append(self.tr("and %Ln more", "", len(unseen) - TIP_SHOWN))
        lines.append(self.tr("Click to open the Library."))
        self.label.setText(text)
        self.label.setToolTip(plain_text.shown_as_typed("\n".join(lines)))
        self.label.setAccessibleName(text)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.label and event.type() == QEvent.Type.MouseButtonRelease:
            self.open_requested.emit()
            self.seen()
            return True
        if watched is self.label and event.type() == QEvent.Type.LanguageChange:
            self._show()
        return super().eventFilter(watched, event)
