"""The History tab on a real workstation core signed in to a real hub on loopback: a download
and an upload show with the right words and sizes, the list pages in as the user scrolls, and
"Sync now" sends the history (or says calmly that the hub is out of reach)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, QObject, QPoint, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QApplication, QStyle

from alu_client.core.services import Services
from alu_client.core.store import Store
from alu_client.core.sync import HistoryEvent, HistorySync, record_event
from alu_client.core.transfers.queue import TransferQueue
from alu_client.core.uploads import UploadFields
from alu_client.ui import formats
from alu_client.ui.bridge import CoreBridge
from alu_client.ui.i18n import install_translators
from alu_client.ui.models import OBJECT_ROLE, SORT_ROLE, STATE_ROLE
from alu_client.ui.models import history as history_model
from alu_client.ui.models.history import (
    COL_DEVICE,
    COL_DURATION,
    COL_ITEM,
    COL_RULE,
    COL_SENT,
    COL_SIZE,
    COL_SPEED,
    COL_WHAT,
    COL_WHEN,
    PAGE_SIZE,
    HistoryModel,
)
from alu_client.ui.tasks import TaskRunner
from alu_client.ui.views import history as history_view
from alu_client.ui.views import select_row
from alu_client.ui.views.history import HistoryPanel
from tests.support.livehub import LiveHub

PASSWORD = "pw-history-gui"


@pytest.fixture
def desk(live_hub: LiveHub, tmp_path: Path) -> Iterator[Services]:
    """A workstation signed in to the live hub as member ``ktn``; the engine runs without the
    background sync, so what reaches the hub is what the user sends."""
    live_hub.member("ktn", PASSWORD, country="KE")
    root = tmp_path / "desk"
    services = live_hub.workstation(root, "ktn", PASSWORD)
    services.start_engine(sync=False, hot_folders=False, rules=False)
    yield services
    services.stop()


@pytest.fixture
def panel(qtbot: Any, qapp: QApplication, desk: Services) -> Iterator[HistoryPanel]:
    tasks = TaskRunner()
    bridge = CoreBridge(desk)
    p = HistoryPanel(desk, bridge, tasks)
    qtbot.addWidget(p)
    p.resize(1200, 400)
    p.show()
    qtbot.waitExposed(p)
    yield p
    bridge.detach()
    tasks.wait_for_done()
    p.sync_tasks.wait_for_done()


def engine(services: Services) -> TransferQueue:
    assert services.queue is not None
    return services.queue


def rows(panel: HistoryPanel) -> list[dict[int, str]]:
    """What the table shows, top to bottom, column by column."""
    proxy = panel.proxy
    return [
        {c: proxy.index(r, c).data() for c in range(proxy.columnCount())}
        for r in range(proxy.rowCount())
    ]


def test_a_download_and_an_upload_are_listed(
    qtbot: Any,
    qtmodeltester: Any,
    panel: HistoryPanel,
    desk: Services,
    live_hub: LiveHub,
    clip: Path,
    other_clip: Path,
    tmp_path: Path,
) -> None:
    qtbot.waitUntil(lambda: panel.status.text() == "Everything has been sent to the hub")
    assert rows(panel) == []
    item_id = live_hub.publish(clip, title="Floods in the north", slug="KENYA-FLOODS")
    desk.feed_sync().catch_up()
    down = engine(desk).wait_for(desk.download(item_id), timeout=60)
    assert down.state == "done", down.last_error
    # the download ended (its history event recorded): the panel refreshes by itself
    qtbot.waitUntil(lambda: len(rows(panel)) == 1, timeout=10_000)
    footage = tmp_path / "mombasa.mp4"
    shutil.copy(other_clip, footage)  # (the member's own: the agency's clip is refused)
    up = engine(desk).wait_for(desk.upload(footage, UploadFields(title="Port strike")), timeout=60)
    assert up.state == "done", up.last_error
    panel.refresh_action.trigger()  # Refresh (F5 in the app: the window's, see test_app_shell)
    qtbot.waitUntil(lambda: len(rows(panel)) == 2)

    shown = rows(panel)
    size = formats.size_text(clip.stat().st_size)
    upload, download = shown  # newest first
    assert (upload[COL_WHAT], upload[COL_ITEM], upload[COL_SIZE]) == (
        "Upload completed",
        "Port strike",
        formats.size_text(other_clip.stat().st_size),
    )
    assert (download[COL_WHAT], download[COL_ITEM], download[COL_SIZE]) == (
        "Download completed",
        "Floods in the north",
        size,
    )
    for row in shown:
        assert row[COL_DEVICE] == "This workstation"
        assert row[COL_SENT] == "Waiting to be sent"
        assert row[COL_RULE] == ""
        assert row[COL_SPEED].endswith("bit/s")
        assert row[COL_DURATION].endswith("s")
        assert row[COL_WHEN]
    assert panel.status.text() == "2 events waiting to be sent to the hub"
    assert panel.proxy.index(0, COL_WHAT).data(STATE_ROLE) == "upload_completed"
    assert panel.proxy.index(1, COL_WHAT).data(OBJECT_ROLE).item_id == item_id

    # Sync now sends both; the table says so without losing the selection
    panel.view.selectRow(1)
    with qtbot.waitSignal(panel.synced, timeout=20_000) as synced:
        qtbot.mouseClick(
            panel.toolbar.widgetForAction(panel.sync_action), Qt.MouseButton.LeftButton
        )
    assert synced.args[0] == "History synced: 2 sent, 0 new from other workstations."
    qtbot.waitUntil(lambda: [r[COL_SENT] for r in rows(panel)] == ["Sent", "Sent"])
    assert panel.status.text() == "Everything has been sent to the hub"
    assert panel.message.text() == synced.args[0]
    selected = panel.view.selectionModel().selectedRows()
    assert [i.data() for i in selected] == [download[COL_WHEN]]
    qtmodeltester.check(panel.model)
    qtmodeltester.check(panel.proxy)


def test_older_events_load_as_the_view_reaches_the_end(
    qtbot: Any, qtmodeltester: Any, panel: HistoryPanel, desk: Services
) -> None:
    profile = desk.require_profile().name
    total = PAGE_SIZE * 2 + 50
    start = time.time() - 10 * total
    with desk.store.write() as conn:
        for n in range(total):
            record_event(
                conn,
                profile,
                "download_failed" if n % 3 == 0 else "download_completed",
                item_id=f"item{n}",
                bytes=1_000 * (n + 1),
                ended_at=start + 10 * n,
                device="laptop",
                detail={"label": f"Item {n}", "seconds": 2.0, "avg_bps": 500.0 * (n + 1)},
            )
    panel.refresh()
    qtbot.waitUntil(lambda: panel.model.rowCount() == PAGE_SIZE)
    assert panel.model.has_more
    assert panel.proxy.index(0, COL_ITEM).data() == f"Item {total - 1}"  # newest first
    assert panel.proxy.index(0, COL_WHAT).data() == "Download completed"
    assert panel.proxy.index(2, COL_WHAT).data() == "Download failed"  # n = total - 3
    # scrolling to the end asks for the next page, until there is no more
    for expected in (PAGE_SIZE * 2, total):
        panel.view.scrollToBottom()
        qtbot.waitUntil(lambda n=expected: panel.model.rowCount() == n)
    assert not panel.model.has_more
    last = panel.proxy.rowCount() - 1
    assert panel.proxy.index(last, COL_ITEM).data() == "Item 0"
    assert panel.proxy.index(last, COL_SIZE).data() == formats.size_text(1_000)
    # a new event goes in at the top, the rows below stay as they were: Refresh reads as
    # many as were shown, so the oldest is left to the next page
    with desk.store.write() as conn:
        record_event(conn, profile, "upload_canceled", bytes=0, detail={"label": "Late one"})
    with qtbot.waitSignal(panel.refreshed):
        panel.refresh_action.trigger()
    assert panel.proxy.index(0, COL_WHAT).data() == "Upload canceled"
    assert panel.proxy.index(0, COL_SIZE).data() == ""
    assert panel.model.rowCount() == total
    assert panel.model.has_more
    panel.view.scrollToBottom()
    qtbot.waitUntil(lambda: panel.model.rowCount() == total + 1)
    assert panel.proxy.index(total, COL_ITEM).data() == "Item 0"
    assert not panel.model.has_more
    qtmodeltester.check(panel.model)


def test_refresh_leaves_f5_to_the_main_window(panel: HistoryPanel) -> None:
    """F5 is the window's Sync now, which refreshes this tab while it is shown: a second owner
    of the key here made Qt run neither ("Ambiguous shortcut overload")."""
    assert panel.refresh_action.shortcut().isEmpty()
    assert all(a.shortcut().isEmpty() for a in panel.actions())


def test_sync_now_while_the_hub_is_out_of_reach(
    qtbot: Any, qapp: QApplication, panel: HistoryPanel, desk: Services, live_hub: LiveHub
) -> None:
    with desk.store.write() as conn:
        record_event(
            conn, desk.require_profile().name, "upload_failed", detail={"label": "Dakar market"}
        )
    panel.refresh_action.trigger()
    qtbot.waitUntil(lambda: len(rows(panel)) == 1)
    live_hub.server.stop()
    with qtbot.waitSignal(panel.synced, timeout=30_000) as synced:
        panel.sync_action.trigger()
    assert synced.args[0] == (
        "The hub cannot be reached just now; the history will be sent when it can."
    )
    assert panel.sync_action.isEnabled()
    assert rows(panel)[0][COL_SENT] == "Waiting to be sent"
    assert rows(panel)[0][COL_WHAT] == "Upload failed"
    assert panel.status.text() == "1 event waiting to be sent to the hub"
    # one, in a language with plural forms of its own ("1 événements en attente", and the
    # English for one in Arabic, which has a dual too)
    install_translators(qapp, "fr")
    qtbot.waitUntil(lambda: panel.status.text() == "1 événement en attente d’envoi au hub")
    install_translators(qapp, "ar")
    qtbot.waitUntil(lambda: panel.status.text() == "حدث واحد بانتظار الإرسال إلى المركز")


def test_the_when_column_shows_the_whole_date_and_time_in_every_language(
    qtbot: Any, qapp: QApplication, panel: HistoryPanel, desk: Services
) -> None:
    profile = desk.require_profile().name
    with desk.store.write() as conn:
        for n, ended in enumerate(
            (
                dt.datetime(2026, 12, 28, 22, 58),
                dt.datetime(2026, 10, 5, 10, 8),
                dt.datetime(2026, 1, 1, 0, 0),
            )
        ):
            record_event(
                conn, profile, "download_completed", item_id=f"when{n}", bytes=1_000,
                ended_at=ended.timestamp(), detail={"label": f"Item {n}"},
            )  # fmt: skip
    panel.refresh()
    qtbot.waitUntil(lambda: panel.model.rowCount() == 3)
    margin = 2 * (panel.view.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin) + 1)
    for lang, refresh in (("fr", "&Actualiser"), ("ar", "&تحديث"), ("en", "&Refresh")):
        install_translators(qapp, lang)
        qtbot.waitUntil(lambda r=refresh: panel.refresh_action.text() == r)
        fm = panel.view.fontMetrics()
        width = panel.view.horizontalHeader().sectionSize(COL_WHEN)
        for r in range(panel.proxy.rowCount()):
            text = panel.proxy.index(r, COL_WHEN).data()
            # "05/12/2026 0…" hid the time
            assert fm.horizontalAdvance(text) + margin <= width, (lang, text)


def test_an_event_with_figures_no_transfer_has_is_shown_without_them(qapp: QApplication) -> None:
    # a hub's event (or one an older version kept) whose detail says 1e300 seconds, or a speed
    # of 400 digits: the History tab raised OverflowError on every paint of the row
    model = HistoryModel()
    event = HistoryEvent(
        id="e1", profile="p", type="download_completed", item_id="it1", rendition="broadcast",
        bytes=2**63 - 1, started_at=None, ended_at=1_790_000_000.0, device="desk-2",
        detail={"label": "Floods", "seconds": 1e300, "avg_bps": 10**400}, transfer_id=None,
        origin="hub", hub_seq=1, sent_at=None,
    )  # fmt: skip
    model.set_events([event], has_more=False)
    shown = {c: model.index(0, c).data() for c in range(model.columnCount())}
    assert (shown[COL_ITEM], shown[COL_DURATION], shown[COL_SPEED]) == ("Floods", "", "")
    assert shown[COL_SIZE] == formats.size_text(2**63 - 1)
    for c in range(model.columnCount()):
        model.index(0, c).data(Qt.ItemDataRole.ToolTipRole)
    assert model.index(0, COL_SPEED).data(SORT_ROLE) == 0.0
    assert model.index(0, COL_DURATION).data(SORT_ROLE) == 1e300  # sorts last, as it is


def test_an_event_kept_from_a_new_hub_at_the_address_says_so(qapp: QApplication) -> None:
    """The hub replaced by another one at its address: this workstation's events not sent yet
    were about the old hub's items and stay here (``forget_replaced_hub``); they were listed
    "Sent" though no hub ever had them."""
    model = HistoryModel()
    kept = HistoryEvent(
        id="e1", profile="p", type="download_completed", item_id="it1", rendition="broadcast",
        bytes=7, started_at=None, ended_at=1_790_000_000.0, device="desk-1",
        detail={"label": "Floods", "old_hub": "unsent"}, transfer_id=None, origin="here",
        hub_seq=None, sent_at=1_790_000_100.0,
    )  # fmt: skip
    sent = dataclasses.replace(kept, id="e2", detail={"label": "Fire", "old_hub": "sent"})
    model.set_events([kept, sent], has_more=False)
    assert model.index(0, COL_SENT).data() == "Not sent: another hub now"
    tip = model.index(0, COL_SENT).data(Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith("Recorded for the hub that was at this address before.")
    assert model.index(1, COL_SENT).data() == "Sent"  # (the old hub had it)
    assert "Not sent: another hub now" in model.vocabulary(COL_SENT)


# --- following a busy workstation: new events come in without a re-read or a reset -------------


class _Bridge(QObject):
    history_changed = Signal()


class _Desk:
    """What the panel asks of the services: the history of profile ``desk``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def history(self) -> HistorySync:
        return HistorySync(self.store, "desk", lambda: None)


HOUR = 3600.0
T0 = 1_790_000_000.0


def _here(store: Store, n: int, ended_at: float) -> str:
    """A download that ended here (in the outbox)."""
    with store.write() as conn:
        return record_event(
            conn, "desk", "download_completed", item_id=f"here{n}", bytes=1_000,
            ended_at=ended_at, device="desk-1", detail={"label": f"Here {n}"},
        )  # fmt: skip


def _pulled(store: Store, n: int, ended_at: float) -> str:
    """An event of another workstation, as the history sync stores it."""
    with store.write() as conn:
        conn.execute(
            "INSERT INTO history (id, profile, type, item_id, bytes, ended_at, device, detail,"
            " origin, hub_seq) VALUES (?, 'desk', 'download_completed', ?, 1000, ?, 'laptop-2',"
            " ?, 'hub', ?)",
            (f"hub-{n}", f"hub{n}", ended_at, json.dumps({"label": f"Hub {n}"}), n),
        )
    return f"hub-{n}"


@pytest.fixture
def busy(qtbot: Any, qapp: QApplication, tmp_path: Path) -> Iterator[tuple[HistoryPanel, Store]]:
    """The History tab over a store of 50 events, an hour apart, the newest at T0."""
    store = Store(tmp_path / "busy.sqlite3")
    for n in range(50):
        _here(store, n, T0 - (49 - n) * HOUR)
    bridge = _Bridge()
    tasks = TaskRunner()
    p = HistoryPanel(_Desk(store), bridge, tasks)  # type: ignore[arg-type]
    qtbot.addWidget(p)
    p.resize(1000, 300)
    p.show()
    qtbot.waitExposed(p)
    qtbot.waitUntil(lambda: p.model.rowCount() == 50)
    yield p, store
    tasks.wait_for_done()
    p.sync_tasks.wait_for_done()
    store.close()


def _ids(panel: HistoryPanel) -> list[str]:
    proxy = panel.proxy
    return [proxy.index(r, 0).data(OBJECT_ROLE).id for r in range(proxy.rowCount())]


def _selected(panel: HistoryPanel) -> list[str]:
    return [i.data(OBJECT_ROLE).id for i in panel.view.selectionModel().selectedRows()]


def _history_changed(qtbot: Any, panel: HistoryPanel) -> None:
    with qtbot.waitSignal(panel.refreshed, timeout=10_000):
        panel.bridge.history_changed.emit()  # type: ignore[attr-defined]


def test_new_events_keep_the_selection_and_are_not_a_reset(
    qtbot: Any, qtmodeltester: Any, busy: tuple[HistoryPanel, Store]
) -> None:
    panel, store = busy
    qtmodeltester.check(panel.model)
    select_row(panel.view, 5)
    chosen = _selected(panel)
    assert len(chosen) == 1
    resets: list[bool] = []
    panel.model.modelReset.connect(lambda: resets.append(True))
    panel.proxy.modelReset.connect(lambda: resets.append(True))
    # a download ends here (the newest), and the sync brought another workstation's event
    # that ended ten and a half hours before the newest (often: the hub's events are older)
    newest = _here(store, 50, T0 + 60)
    older = _pulled(store, 1, T0 - 10.5 * HOUR)
    _history_changed(qtbot, panel)
    assert panel.model.rowCount() == 52
    ids = _ids(panel)
    assert ids[0] == newest
    assert ids[12] == older  # between the events of 10 and 11 hours before the newest
    assert resets == []
    assert _selected(panel) == chosen
    assert panel.proxy.index(12, COL_DEVICE).data() == "laptop-2"
    # the same again, one by one: still the same row selected
    for n in range(2, 6):
        _pulled(store, n, T0 - (n + 0.5) * HOUR)
        _history_changed(qtbot, panel)
    assert panel.model.rowCount() == 56
    assert resets == []
    assert _selected(panel) == chosen
    assert _ids(panel) == [e.id for e in HistorySync(store, "desk", lambda: None).list(100)]


def test_a_finished_download_reads_only_what_is_new(
    qtbot: Any, busy: tuple[HistoryPanel, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    """60 downloads a day for months: each one re-read up to 5,000 events (and compared them
    all on the GUI thread)."""
    panel, store = busy
    listed: list[int] = []
    real_list = HistorySync.list

    def counting(self: HistorySync, limit: int = 100, before: str | None = None) -> Any:
        listed.append(limit)
        return real_list(self, limit, before)

    monkeypatch.setattr(HistorySync, "list", counting)
    for n in range(50, 53):
        _here(store, n, T0 + n)
        _history_changed(qtbot, panel)
    assert listed == []
    assert [panel.proxy.index(r, COL_ITEM).data() for r in range(3)] == [
        "Here 52",
        "Here 51",
        "Here 50",
    ]
    # Refresh reads the list again (and keeps the selection)
    select_row(panel.view, 1)
    with qtbot.waitSignal(panel.refreshed):
        panel.refresh_action.trigger()
    assert listed == [PAGE_SIZE]
    assert [i.data() for i in panel.view.selectionModel().selectedRows(COL_ITEM)] == ["Here 51"]


def test_sent_events_are_updated_and_a_hub_taking_them_back_is_seen(
    qtbot: Any, busy: tuple[HistoryPanel, Store]
) -> None:
    panel, store = busy
    assert panel.status.text() == "50 events waiting to be sent to the hub"
    with store.write() as conn:  # what a push does: the hub has them
        conn.execute("UPDATE history SET sent_at = ? WHERE item_id != 'here49'", (T0,))
    _history_changed(qtbot, panel)
    assert panel.status.text() == "1 event waiting to be sent to the hub"
    sent = [panel.proxy.index(r, COL_SENT).data() for r in range(panel.proxy.rowCount())]
    assert sent == ["Waiting to be sent"] + ["Sent"] * 49
    # a hub restored from a backup: sent events go back to the outbox (not a new event)
    with store.write() as conn:
        conn.execute("UPDATE history SET sent_at = NULL WHERE item_id IN ('here0', 'here1')")
    _history_changed(qtbot, panel)  # (this read sees the outbox grew, and reads all again)
    qtbot.waitUntil(lambda: panel.status.text() == "3 events waiting to be sent to the hub")
    qtbot.waitUntil(
        lambda: (
            [panel.proxy.index(r, COL_SENT).data() for r in (47, 48, 49)]
            == ["Sent", "Waiting to be sent", "Waiting to be sent"]
        )
    )


def test_rows_in_sight_stay_in_sight_as_new_events_come(
    qtbot: Any, busy: tuple[HistoryPanel, Store]
) -> None:
    panel, store = busy
    panel.view.scrollTo(panel.proxy.index(30, 0), QAbstractItemView.ScrollHint.PositionAtTop)
    top = panel.view.indexAt(QPoint(0, 0)).data(OBJECT_ROLE).id
    for n in range(50, 53):
        _here(store, n, T0 + n)
        _history_changed(qtbot, panel)
    assert panel.model.rowCount() == 53
    assert panel.view.indexAt(QPoint(0, 0)).data(OBJECT_ROLE).id == top
    # at the top of the list, the new event shows
    panel.view.scrollToTop()
    _here(store, 53, T0 + 53)
    _history_changed(qtbot, panel)
    assert panel.proxy.index(0, COL_ITEM).data() == "Here 53"
    assert panel.view.verticalScrollBar().value() == 0


def _event(n: int, ended_at: float | None) -> HistoryEvent:
    return HistoryEvent(
        id=f"e{n}", profile="p", type="download_completed", item_id=None, rendition="",
        bytes=0, started_at=None, ended_at=ended_at, device="", detail={}, transfer_id=None,
        origin="hub", hub_seq=n, sent_at=None,
    )  # fmt: skip


def test_the_model_puts_each_new_event_in_its_place(qapp: QApplication, qtmodeltester: Any) -> None:
    model = HistoryModel()
    qtmodeltester.check(model)
    model.set_events([_event(n, 100.0 - 10 * n) for n in range(5)], has_more=True)  # 100 … 60
    resets: list[bool] = []
    model.modelReset.connect(lambda: resets.append(True))
    # in the order stored: one between, one tying with 80 (stored later: before it), the
    # newest, one older than the last row while more rows are to load (its page brings it)
    added = model.add_events(
        [_event(10, 75.0), _event(11, 80.0), _event(12, 200.0), _event(13, 1.0)]
    )
    assert added == 3
    assert [e.id for e in model.events()] == ["e12", "e0", "e1", "e11", "e2", "e10", "e3", "e4"]
    assert model.add_events([_event(10, 75.0)]) == 0  # known
    # a full refresh with a new event anywhere inserts it too
    listed = [*model.events()[:6], _event(14, 65.0), *model.events()[6:]]
    model.set_events(listed, has_more=True)
    assert [e.id for e in model.events()] == [e.id for e in listed]
    assert resets == []
    # a row gone from the start of the list: removed, not a reset
    model.set_events(listed[1:], has_more=False)
    assert [e.id for e in model.events()] == [e.id for e in listed[1:]]
    assert resets == []
    assert not model.has_more
    # the known rows in another order: read again from scratch
    model.set_events(listed[2:0:-1], has_more=False)
    assert [e.id for e in model.events()] == ["e1", "e0"]
    assert resets == [True]


def test_a_full_refresh_leaves_exactly_the_rows_read(
    qapp: QApplication, qtmodeltester: Any
) -> None:
    """Events stored within the rows shown push the oldest ones past the end of the read: they
    were kept below the new ones (a gap: the events between them and the read never showed)."""
    model = HistoryModel()
    qtmodeltester.check(model)
    model.set_events([_event(n, 100.0 - 10 * n) for n in range(6)], has_more=False)  # 100 … 50
    resets: list[bool] = []
    model.modelReset.connect(lambda: resets.append(True))
    # the newest 6 of 9 now (three events stored between): 50 and 60 fall past the read
    listed = sorted(
        [*model.events(), _event(10, 95.0), _event(11, 75.0), _event(12, 40.0)],
        key=lambda e: -(e.ended_at or 0.0),
    )[:6]
    model.set_events(listed, has_more=True)
    assert [e.id for e in model.events()] == ["e0", "e10", "e1", "e2", "e11", "e3"]
    assert model.has_more  # 60, 50 and 40 come with the next page
    assert resets == []
    # a page read after a row that is no longer the last is left out (the view asks again)
    model.append_events([_event(5, 50.0)], has_more=False, after="e5")
    assert [e.id for e in model.events()][-1] == "e3"
    assert model.has_more and model.canFetchMore(QModelIndex())
    model.append_events([_event(4, 60.0), _event(5, 50.0)], has_more=True, after="e3")
    assert [e.id for e in model.events()][-2:] == ["e4", "e5"]


# --- a full re-read (F5, a first sync, a restored hub) against the history itself -------------


def _settle(qtbot: Any, panel: HistoryPanel) -> None:
    """Until every read started (and the reads they start in turn) is shown."""
    qtbot.waitUntil(lambda: panel.tasks.pending == 0, timeout=20_000)


def _matches(panel: HistoryPanel, store: Store) -> None:
    """The model is the start of the history, and all of it unless more are to load."""
    rows = panel.model.events()
    truth = HistorySync(store, "desk", lambda: None).list(limit=len(rows) + 1)
    assert [e.id for e in rows] == [e.id for e in truth[: len(rows)]]
    assert [e.pending for e in rows] == [e.pending for e in truth[: len(rows)]]
    assert panel.model.has_more or len(rows) == len(truth), (len(rows), len(truth))


def _load_all(qtbot: Any, panel: HistoryPanel) -> None:
    while panel.model.canFetchMore(QModelIndex()):
        panel.model.fetchMore(QModelIndex())
        _settle(qtbot, panel)


@pytest.fixture
def desk_store(tmp_path: Path) -> Iterator[Store]:
    store = Store(tmp_path / "desk.sqlite3")
    yield store
    store.close()


def _history_panel(qtbot: Any, store: Store) -> HistoryPanel:
    panel = HistoryPanel(_Desk(store), _Bridge(), TaskRunner())  # type: ignore[arg-type]
    qtbot.addWidget(panel)
    panel.resize(900, 400)
    panel.show()
    qtbot.waitExposed(panel)
    _settle(qtbot, panel)
    return panel


def test_refresh_after_older_events_came_shows_them_all(qtbot: Any, desk_store: Store) -> None:
    """250 events here over 20 days, both pages loaded; the sync stores 30 of a laptop back
    online over the same days; F5: 4 of them never showed (not by the minute's read, not by
    scrolling), and the list said there was nothing more."""
    store = desk_store
    for n in range(250):
        _here(store, n, T0 - 20 * 24 * HOUR + n * 6912)
    panel = _history_panel(qtbot, store)
    _load_all(qtbot, panel)
    assert panel.model.rowCount() == 250
    select_row(panel.view, 3)
    chosen = _selected(panel)
    for n in range(30):
        _pulled(store, n + 1, T0 - 20 * 24 * HOUR + n * 16 * HOUR + 100)
    panel.refresh()
    _settle(qtbot, panel)
    _matches(panel, store)
    assert _selected(panel) == chosen
    panel.read_new()
    _settle(qtbot, panel)
    _load_all(qtbot, panel)
    _matches(panel, store)
    assert panel.model.rowCount() == 280


def test_a_first_sync_of_thousands_of_events_lists_them_all(qtbot: Any, desk_store: Store) -> None:
    """150 events here, then a pull of 1,500 from other workstations over the same days (more
    than a read of what is new takes: the newest are read again): 1,323 never showed."""
    store = desk_store
    for n in range(150):
        _here(store, n, T0 - 12 * 24 * HOUR + n * 2 * HOUR)
    panel = _history_panel(qtbot, store)
    assert panel.model.rowCount() == 150
    assert not panel.model.has_more
    with store.write() as conn:
        conn.executemany(
            "INSERT INTO history (id, profile, type, item_id, bytes, ended_at, device, detail,"
            " origin, hub_seq) VALUES (?, 'desk', 'download_completed', ?, 1000, ?,"
            " 'laptop-2', '{}', 'hub', ?)",
            [(f"hub-{n}", f"hub{n}", T0 - 12 * 24 * HOUR + n * 690, n) for n in range(1500)],
        )
    panel.read_new()
    _settle(qtbot, panel)
    _matches(panel, store)
    _load_all(qtbot, panel)
    _matches(panel, store)
    assert panel.model.rowCount() == 1650


@pytest.mark.parametrize("seed", range(1, 7))
def test_the_list_follows_the_history_whatever_comes(
    qtbot: Any, desk_store: Store, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seeded: events recorded here and pulled from other workstations (most older than the
    newest, some older than every row loaded), the outbox sent and taken back (a restored
    hub), reads of what is new, full refreshes and pages loaded, in any order: after each
    the list is the start of the history, and all of it unless more are to load. (Small
    pages and limits, so each path is taken often: a page, too many new events at once, a
    refresh past its limit, a change too large to insert row by row.)"""
    monkeypatch.setattr(history_view, "PAGE_SIZE", 20)
    monkeypatch.setattr(history_view, "_MAX_NEW", 40)
    monkeypatch.setattr(history_view, "_MAX_REFRESH", 150)
    monkeypatch.setattr(history_model, "_MAX_RUNS", 8)
    rnd = random.Random(seed)
    store = desk_store
    panel = _history_panel(qtbot, store)
    here = pulled = 0
    for _ in range(40):
        what = rnd.random()
        if what < 0.35:
            with store.write() as conn:
                for _ in range(rnd.randint(1, 30)):
                    here += 1
                    record_event(
                        conn, "desk", "download_completed", bytes=1,
                        ended_at=T0 + here * 10 + rnd.random(), device="desk-1",
                    )  # fmt: skip
        elif what < 0.7:
            with store.write() as conn:
                for _ in range(rnd.choice([rnd.randint(1, 10), rnd.randint(1, 80)])):
                    pulled += 1
                    conn.execute(
                        "INSERT INTO history (id, profile, type, item_id, bytes, ended_at,"
                        " device, detail, origin, hub_seq) VALUES (?, 'desk',"
                        " 'download_completed', NULL, 1, ?, 'laptop-2', '{}', 'hub', ?)",
                        (f"hub-{pulled}", T0 - rnd.random() * 72 * HOUR, pulled),
                    )
        elif what < 0.8:
            with store.write() as conn:
                conn.execute("UPDATE history SET sent_at = ? WHERE sent_at IS NULL", (T0,))
        elif what < 0.85:
            with store.write() as conn:
                conn.execute("UPDATE history SET sent_at = NULL WHERE origin = 'here'")
        act = rnd.random()
        if act < 0.5:
            panel.read_new()
        elif act < 0.75:
            panel.refresh()
        else:
            panel.model.fetchMore(QModelIndex())
        _settle(qtbot, panel)
        panel.read_new()  # the minute's read
        _settle(qtbot, panel)
        _matches(panel, store)
    _load_all(qtbot, panel)
    _matches(panel, store)
