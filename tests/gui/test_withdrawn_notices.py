"""The user is told when the agency withdraws an item this workstation has (its files in the
Library, or its download under way or queued): a tray balloon with the title and the reason
(when notifications are on), a word in the status bar and on the Library tab until seen; a
withdrawal of an item never taken is only marked on its row. A correction of the usage
restrictions of an item it has is told too (an ordinary balloon). Several at once: one balloon
saying how many. A download canceled by a withdrawal says why in the History."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QIcon

from alu_client.core.hub import Item
from alu_client.core.item_notices import CORRECTED, WITHDRAWN, ItemNotice
from alu_client.core.services import Services
from alu_client.core.sync import HistoryEvent
from alu_client.core.transfers.base import withdrawn_message
from alu_client.ui import main_window as main_window_module
from alu_client.ui.formats import isolated
from alu_client.ui.item_notices import ItemNoticeBoard
from alu_client.ui.main_window import TAB_FEED, TAB_LIBRARY, MainWindow
from alu_client.ui.models.history import COL_WHAT, HistoryModel
from alu_client.ui.statusbar import StatusBar
from alu_client.ui.tray import Tray
from tests.client.test_withdrawn import REASON, make_item, withdrawn
from tests.gui.test_app_shell import SimplePanels, build_window, signed_in_services
from tests.support.livehub import LiveHub
from tests.support.waiting import wait_until

CORRECTED_AT = dt.datetime(2026, 3, 1, 8, 15, tzinfo=dt.UTC)


def _withdraw(services: Services, item_id: str, reason: str = REASON) -> Item:
    known = services.library.get(item_id)
    assert known is not None
    return withdrawn(known.item, reason)


def _change(services: Services, items: list[Item]) -> None:
    """What the sync does with a page of the changes feed (on its thread)."""
    assert services.update_items(items) == items
    services._items_changed(items)


def _withdrawals(window: MainWindow) -> list[tuple[str, str]]:
    assert window.tray is not None
    return [m for m in window.tray.messages if "withdrawn" in m[0].lower()]


def test_a_withdrawal_of_what_the_workstation_has_is_told_and_stays_until_seen(
    qtbot: Any, live_hub: LiveHub, clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(main_window_module, "tray_available", lambda: True)
    ids = [live_hub.publish(clip, f"Floods in Kisumu {n}") for n in range(5)]
    here, untaken, waiting, also_here, restricted = ids
    services = signed_in_services(live_hub, tmp_path / "desk")
    assert services.feed_sync().catch_up() == 5
    # a download waiting (paused before the engine runs)
    paused = services.download(waiting, "broadcast")
    q = services.make_queue()
    q.pause(paused)
    q.sessions.close()
    queue = services.start_engine(media=False)
    window = build_window(qtbot, services, SimplePanels())
    try:
        assert window.tray is not None
        for item_id in (here, also_here, restricted):
            services.download(item_id, "broadcast")
        qtbot.waitUntil(
            lambda: all(services.library.files(i) for i in (here, also_here, restricted)),
            timeout=30_000,
        )
        t = queue.transfers.get(paused)
        assert t is not None and t.state == "paused"
        window.tabs.setCurrentIndex(TAB_FEED)
        before = len(window.tray.messages)

        # one item here, one never taken, withdrawn together: one balloon, for the first
        _change(services, [_withdraw(services, here), _withdraw(services, untaken)])
        qtbot.waitUntil(lambda: len(_withdrawals(window)) == 1, timeout=10_000)
        title, body = _withdrawals(window)[0]
        assert title == f"Withdrawn by the agency: {isolated('Floods in Kisumu 0')}"
        assert REASON in body
        assert "Floods in Kisumu 1" not in title + body
        label = window.item_notices.label
        assert label.isVisibleTo(window)
        assert label.text() == "⚠ Withdrawn: “Floods in Kisumu 0”"
        assert REASON in label.toolTip()
        assert "⚠" in window.tabs.tabText(TAB_LIBRARY)

        # several at once (a download waiting among them, canceled) and a correction of the
        # restrictions of an item here: one balloon saying how many, one for the correction
        old = services.library.get(restricted)
        assert old is not None
        fixed = dataclasses.replace(
            old.item,
            revision=old.item.revision + 1,
            corrected_at=CORRECTED_AT,
            correction_note="Restrictions corrected",
            restrictions="No use in Kenya",
        )
        _change(
            services,
            [_withdraw(services, waiting), _withdraw(services, also_here, "Embargo broken"), fixed],
        )
        qtbot.waitUntil(lambda: len(_withdrawals(window)) == 2, timeout=10_000)
        title, body = _withdrawals(window)[1]
        assert title == "2 items withdrawn by the agency"
        assert "Embargo broken" in body and REASON in body
        corrected = [m for m in window.tray.messages[before:] if m[0].startswith("Corrected")]
        assert corrected == [
            (
                f"Corrected by the agency: {isolated('Floods in Kisumu 4')}",
                f"Usage restrictions now: {isolated('No use in Kenya')}",
            )
        ]
        t = queue.transfers.get(paused)
        assert t is not None and t.state == "canceled"
        # the History says why (the reason, recorded with the event, in its tooltip)
        events = [e for e in services.history().list() if e.transfer_id == paused]
        assert len(events) == 1
        assert HistoryModel().what(events[0]) == "Download canceled: withdrawn by the agency"
        assert label.text() == "⚠ 3 items withdrawn"
        assert window.tabs.tabText(TAB_LIBRARY) == "Library (⚠ 3 withdrawn)"
        # said once, by the label: no message beside it that would stay once it is seen
        assert "withdrawn" not in window.statusBar().currentMessage().lower()

        # seen: a click opens the Library; the marks go
        qtbot.mouseClick(label, Qt.MouseButton.LeftButton, pos=QPoint(2, 2))
        assert window.tabs.currentIndex() == TAB_LIBRARY
        assert not label.isVisibleTo(window)
        assert window.tabs.tabText(TAB_LIBRARY) == "Library"
    finally:
        window.shutdown()


def test_a_withdrawal_of_an_item_never_taken_tells_nothing(
    qtbot: Any, live_hub: LiveHub, clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(main_window_module, "tray_available", lambda: True)
    item_id = live_hub.publish(clip, "Floods in Kisumu")
    services = signed_in_services(live_hub, tmp_path / "desk")
    services.start_engine(media=False)
    told: list[list[ItemNotice]] = []
    services.events.item_notices.append(told.append)
    window = build_window(qtbot, services, SimplePanels())
    try:
        qtbot.waitUntil(lambda: services.library.get(item_id) is not None, timeout=20_000)
        _change(services, [_withdraw(services, item_id)])
        wait_until(lambda: services.library.get(item_id).item.withdrawn)  # type: ignore[union-attr]
        assert told == []
        qtbot.wait(window.item_notices._timer.interval() + 200)  # (what would gather, told)
        assert _withdrawals(window) == []
        assert not window.item_notices.label.isVisibleTo(window)
    finally:
        window.shutdown()


def _notice(n: int, kind: str = WITHDRAWN, **fields: Any) -> ItemNotice:
    item = make_item(n, **fields)
    return ItemNotice(withdrawn(item) if kind == WITHDRAWN else item, kind, canceled=1)


def test_balloons_follow_the_notification_setting(qtbot: Any) -> None:
    status = StatusBar()
    qtbot.addWidget(status)
    tray = Tray(QIcon())
    notify = [False]
    board = ItemNoticeBoard(status, lambda: tray if notify[0] else None, gather_ms=10)
    try:
        board.add([_notice(1)])
        qtbot.waitUntil(lambda: bool(board.unseen))
        assert tray.messages == []  # notifications off: no balloon, the status bar says it
        assert board.label.text() == "⚠ Withdrawn: “Item number 1”"
        notify[0] = True
        board.add([_notice(2)])
        qtbot.waitUntil(lambda: bool(tray.messages))
        title, body = tray.messages[-1]
        assert title == f"Withdrawn by the agency: {isolated('Item number 2')}"
        assert body.splitlines() == [
            isolated(REASON),
            "Its download was canceled.",
            "Do not use it; its files are marked in the Library.",
        ]
        assert board.label.text() == "⚠ 2 items withdrawn"
        board.add([_notice(3, CORRECTED, restrictions="")])
        qtbot.waitUntil(lambda: len(tray.messages) == 2)
        assert tray.messages[-1][1] == "Usage restrictions lifted."
    finally:
        tray.dispose()


def test_a_download_canceled_by_a_withdrawal_says_so_in_the_history(qtbot: Any) -> None:
    model = HistoryModel()

    def event(error: str | None) -> HistoryEvent:
        detail = {"label": "Floods in Kisumu", "error": error}
        return HistoryEvent(
            id="e1", profile="p", type="download_canceled", item_id="it1", rendition="broadcast",
            bytes=0, started_at=None, ended_at=1_790_000_000.0, device="desk-1", detail=detail,
            transfer_id=1, origin="here", hub_seq=None, sent_at=None,
        )  # fmt: skip

    assert model.what(event(withdrawn_message(REASON))) == (
        "Download canceled: withdrawn by the agency"
    )
    assert model.what(event(None)) == "Download canceled"
    assert model.what(event("Canceled by the user")) == "Download canceled"
    assert "Download canceled: withdrawn by the agency" in model.vocabulary(COL_WHAT)


class _RealTransfers(SimplePanels):
    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services

    def transfers(self, parent: Any) -> Any:
        from alu_client.ui.views.transfers import TransfersPanel

        assert self.services.queue is not None
        return TransfersPanel(self.services.queue, parent)


def test_a_correction_of_the_restrictions_shows_on_the_items_transfers(
    qtbot: Any, live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    # its row kept saying the restrictions it was queued with ("⚠" and the tooltip)
    from alu_client.ui.models.transfers import COL_NAME

    item_id = live_hub.publish(clip, "Floods in Kisumu", restrictions="No access Kenya")
    services = signed_in_services(live_hub, tmp_path / "desk")
    assert services.feed_sync().catch_up() == 1
    waiting = services.download(item_id, "broadcast")
    q = services.make_queue()
    q.pause(waiting)
    q.sessions.close()
    services.start_engine(media=False)
    window = build_window(qtbot, services, _RealTransfers(services))
    try:
        model = window.transfers.model
        qtbot.waitUntil(lambda: model.row_for(waiting) is not None, timeout=10_000)

        def tip() -> str:
            return str(
                model.data(
                    model.index(model.row_of(waiting), COL_NAME), Qt.ItemDataRole.ToolTipRole
                )
            )

        assert "No access Kenya" in tip()
        old = services.library.get(item_id)
        assert old is not None
        fixed = dataclasses.replace(
            old.item,
            revision=old.item.revision + 1,
            corrected_at=CORRECTED_AT,
            restrictions="No use in Kenya or Uganda",
        )
        _change(services, [fixed])
        qtbot.waitUntil(lambda: "No use in Kenya or Uganda" in tip(), timeout=10_000)
    finally:
        window.shutdown()
