"""A newsroom day in the window, as issue 5 checks it: the real core signed in to a real hub on
loopback, the real panels, a user who clicks. The feed shows the pushes; one is downloaded from
the Feed tab, moves through Transfers, appears in the Library and plays; a file dropped on the
window goes through the form and is published into the Feed; a transfer is paused and resumed
from the Transfers tab; Arabic lays the window out right to left."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QPixmap
from PySide6.QtMultimedia import QMediaPlayer
from PySide6.QtWidgets import QApplication

from alu_client.core.library import Query
from alu_client.core.services import Services
from alu_client.ui.main_window import MainWindow
from alu_client.ui.models.items import COL_THUMB
from alu_client.ui.views.upload import UploadDialog
from alu_hub.media import generate_clip
from tests.gui.test_app_shell import build_window, signed_in_services
from tests.support.livehub import LiveHub


@pytest.fixture
def desk(qtbot: Any, live_hub: LiveHub, tmp_path: Path) -> Iterator[tuple[MainWindow, Services]]:
    services = signed_in_services(live_hub, tmp_path / "desk")
    services.start_engine()
    window = build_window(qtbot, services, None)
    yield window, services
    window.shutdown()


def feed_ids(window: MainWindow) -> list[str]:
    model = window.feed.model  # type: ignore[attr-defined]
    return [model.item_at(r).id for r in range(model.rowCount())]


def select_in_feed(qtbot: Any, window: MainWindow, item_id: str) -> None:
    window.tabs.setCurrentWidget(window.feed)
    assert window.feed.select_item(item_id)  # type: ignore[attr-defined]


def test_a_newsroom_day_in_the_window(
    qtbot: Any, desk: tuple[MainWindow, Services], live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    window, services = desk
    first = live_hub.publish(clip, title="Floods in Mombasa", language="en", priority="urgent")
    second = live_hub.publish(clip, title="Élections au Sénégal", language="fr", priority="flash")

    # The feed shows the pushes, newest first.
    qtbot.waitUntil(lambda: feed_ids(window)[:2] == [second, first], timeout=30_000)

    # Items not downloaded yet show the hub's thumbnail (fetched off the GUI thread).
    model = window.feed.model  # type: ignore[attr-defined]

    def thumbnail_shown() -> bool:
        row = feed_ids(window).index(first)
        picture = model.index(row, COL_THUMB).data(Qt.ItemDataRole.DecorationRole)
        return isinstance(picture, QPixmap) and not picture.isNull()

    qtbot.waitUntil(thumbnail_shown, timeout=20_000)

    # Download the flash item from the Feed tab.
    select_in_feed(qtbot, window, second)
    window.feed.download_action.trigger()  # type: ignore[attr-defined]
    transfers = window.transfers.model  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: transfers.rowCount() == 1, timeout=20_000)
    qtbot.waitUntil(
        lambda: (
            services.library.get(second) is not None and services.library.get(second).downloaded
        ),  # type: ignore[union-attr]
        timeout=60_000,
    )

    # It appears in the Library, and the player loads and plays it.
    library = window.library
    window.tabs.setCurrentWidget(library)
    qtbot.waitUntil(lambda: library.model.rowCount() == 1, timeout=20_000)  # type: ignore[attr-defined]
    library.show_item(second)  # type: ignore[attr-defined]
    player = library.player  # type: ignore[attr-defined]
    assert player is not None
    loaded = (QMediaPlayer.MediaStatus.LoadedMedia, QMediaPlayer.MediaStatus.BufferedMedia,
              QMediaPlayer.MediaStatus.EndOfMedia)  # fmt: skip
    qtbot.waitUntil(lambda: player.player.mediaStatus() in loaded, timeout=20_000)
    player.play()
    qtbot.waitUntil(
        lambda: (
            player.player.position() > 0
            or player.player.mediaStatus() == QMediaPlayer.MediaStatus.EndOfMedia
        ),
        timeout=20_000,
    )

    # A file dropped on the window: the form, then the upload, then the item in the Feed.
    own = tmp_path / "Nairobi_traffic.mp4"
    generate_clip(own, seconds=1.0, width=320, height=240, seed=33)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(own))])
    pos = QPointF(window.width() / 2, window.height() / 2)
    action = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(pos.toPoint(), action, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)  # fmt: skip
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(pos, action, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, drop)

    def dialog() -> UploadDialog | None:
        found = [w for w in QApplication.topLevelWidgets() if isinstance(w, UploadDialog)]
        return found[0] if found else None

    qtbot.waitUntil(lambda: dialog() is not None and dialog().model.rowCount() == 1, timeout=20_000)  # type: ignore[union-attr]
    form = dialog()
    assert form is not None
    qtbot.waitUntil(lambda: form.form.title.text() != "", timeout=20_000)
    assert "Nairobi" in form.form.title.text()
    form.form.title.selectAll()
    qtbot.keyClicks(form.form.title, "Nairobi traffic jam")
    form.form.country.setText("KE")
    with qtbot.waitSignal(form.uploads_queued, timeout=60_000):
        qtbot.mouseClick(form.upload_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: any(
            li.item.title == "Nairobi traffic jam" and li.item.kind == "member_upload"
            for li in services.library.search(Query(text="nairobi traffic")).items
        ),
        timeout=90_000,
    )
    qtbot.waitUntil(
        lambda: any(
            window.feed.model.item_at(r).title == "Nairobi traffic jam"  # type: ignore[attr-defined]
            for r in range(window.feed.model.rowCount())  # type: ignore[attr-defined]
        ),
        timeout=30_000,
    )

    # Pause and resume a transfer from the Transfers tab (a slow one: the limit holds it back).
    queue = services.queue
    assert queue is not None
    queue.set_limits(20_000, None)
    select_in_feed(qtbot, window, first)
    window.feed.download_action.trigger()  # type: ignore[attr-defined]
    qtbot.waitUntil(
        lambda: any(t.item_id == first and t.state == "active" for t in queue.transfers.all(None)),
        timeout=30_000,
    )
    tid = next(t.id for t in queue.transfers.all(None) if t.item_id == first)
    panel = window.transfers
    window.tabs.setCurrentWidget(panel)
    qtbot.waitUntil(lambda: panel.current_index_for(tid).isValid(), timeout=10_000)  # type: ignore[attr-defined]
    panel.view.setCurrentIndex(panel.current_index_for(tid))  # type: ignore[attr-defined]
    panel.pause_action.trigger()  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: queue.transfers.get(tid).state == "paused", timeout=10_000)  # type: ignore[union-attr]
    queue.set_limits(None, None)
    panel.view.setCurrentIndex(panel.current_index_for(tid))  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: panel.resume_action.isEnabled(), timeout=10_000)  # type: ignore[attr-defined]
    panel.resume_action.trigger()  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: queue.transfers.get(tid).state == "done", timeout=60_000)  # type: ignore[union-attr]

    # Arabic: right to left, live.
    window.apply_language("ar")
    qtbot.waitUntil(lambda: QApplication.layoutDirection() == Qt.LayoutDirection.RightToLeft)
    assert window.isRightToLeft()
    window.apply_language("en")
    qtbot.waitUntil(lambda: QApplication.layoutDirection() == Qt.LayoutDirection.LeftToRight)
