"""Windows sized to the screen they open on.

A size chosen for a roomy desktop (the main window's 1280x820, Settings' 760x560) was larger
than a 1366x768 newsroom laptop, and much larger at 150 % or 200 % display scaling (the screen
is then 911x512 or 683x384 logical pixels): the status bar, or a dialog's OK and Upload
buttons, were below the screen's edge, where a window manager that does not shrink windows
(Windows) leaves them out of reach. ``fit_to_screen`` keeps the wished size where there is
room and takes what the screen has where there is not; a window whose content cannot shrink
that far must scroll it (Settings' pages and the upload form do).
"""

from __future__ import annotations

from PySide6.QtCore import QMargins, QSize
from PySide6.QtWidgets import QWidget

# The window frame (title bar, borders) before the window is shown and the frame is known:
# about what Windows 10/11, GNOME and KDE draw at 100 %, in logical pixels.
FRAME_ALLOWANCE = QMargins(8, 40, 8, 8)


def room_on_screen(widget: QWidget) -> QSize:
    """The largest size of ``widget``'s window that fits its screen: the screen's available
    geometry (without the taskbar or the dock) less the window's frame. The screen is the
    parent window's for a dialog, the primary one before a window has any."""
    available = widget.screen().availableGeometry().size()
    return available.shrunkBy(_frame(widget))


def fit_to_screen(widget: QWidget, width: int, height: int) -> None:
    """Resize the window ``widget`` to ``width`` x ``height``, or less where its screen has
    not the room (see ``room_on_screen``). Call before showing it: Qt then keeps the window,
    centred on its parent or placed by the window manager, within the screen."""
    widget.resize(QSize(width, height).boundedTo(room_on_screen(widget)))


def _frame(widget: QWidget) -> QMargins:
    handle = widget.windowHandle()
    if handle is not None and handle.isVisible():
        margins = handle.frameMargins()
        if not margins.isNull():
            return margins
    return FRAME_ALLOWANCE


__all__ = ["FRAME_ALLOWANCE", "fit_to_screen", "room_on_screen"]
