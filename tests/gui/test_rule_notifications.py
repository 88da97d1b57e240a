"""What a rule's downloads look like in the app (review "rules", findings 9 and 10): one
notification per item, once its last file is in, items finishing together in one balloon;
the proxy row named as such and showing the item's priority, not the queue's step ahead;
restricted items flagged."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QMessageBox, QPushButton

from alu_client.core.credentials import MemorySecrets
from alu_client.core.download_notices import DownloadDone, download_done
from alu_client.core.hub import Item, Rendition
from alu_client.core.paths import Paths
from alu_client.core.profiles import Profile, Profiles
from alu_client.core.rules import Conditions, Rule, bump
from alu_client.core.services import Services
from alu_client.core.store import Store
from alu_client.ui.download_notices import DownloadNotices
from alu_client.ui.models.transfers import COL_NAME, COL_PRIORITY, TransfersModel
from alu_client.ui.tray import Tray

PROFILE = "ktn"
SHA = "ab" * 32
ALL_NEWS = Rule(7, "all-news", True, 1.0, Conditions(), "proxy_then_broadcast", "")


def make_item(item_id: str, title: str, **fields: Any) -> Item:
    renditions = tuple(
        Rendition(
            r, f"https://hub.example/{item_id}/{r}", f"{item_id}.{r}.mp4", 1000, SHA, "", 0, 0
        )
        for r in ("broadcast", "proxy")
    )
    base: dict[str, Any] = {
        "id": item_id,
        "seq": 1,
        "kind": "push",
        "title": title,
        "slug": item_id.upper(),
        "dateline": "NAIROBI",
        "recorded_at": None,
        "published_at": dt.datetime.now(dt.UTC),
        "category": "news",
        "region": "East Africa",
        "country": "KE",
        "language": "en",
        "priority": "routine",
        "restrictions": "",
        "script": "",
        "shotlist": "",
        "duration": 60.0,
        "source_member": "",
        "thumbnail_url": "",
        "renditions": renditions,
    }
    base.update(fields)
    return Item(**base)


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    paths = Paths(tmp_path / "d", tmp_path / "c", tmp_path / "l", tmp_path / "dl").ensure()
    store = Store(paths.db_path)
    Profiles(store).save(Profile(PROFILE, "https://hub.example", "ktn"))
    store.close()
    s = Services(paths, MemorySecrets())
    yield s
    s.stop()


def queue_as_the_rule_does(services: Services, tmp_path: Path, item: Item) -> tuple[int, int]:
    """The proxy (one step ahead of the item) then the broadcast file, as ``RuleEngine._fire``
    hands them to the service."""
    services.store_items([item])
    proxy = services._enqueue_rule(
        dataclasses.replace(item, priority=bump(item.priority)), "proxy", tmp_path / "n", ALL_NEWS
    )
    broadcast = services._enqueue_rule(item, "broadcast", tmp_path / "n", ALL_NEWS)
    assert proxy is not None and broadcast is not None
    return proxy, broadcast


def finish(services: Services, tid: int) -> None:
    services.transfer_store().finish(tid, "done")


def test_an_item_is_told_once_when_its_last_file_is_in(
    qtbot: Any, services: Services, tmp_path: Path
) -> None:
    """Each file raised a balloon: two identical "Download finished" per item."""
    proxy, broadcast = queue_as_the_rule_does(
        services, tmp_path, make_item("i1", "Floods in the north", priority="urgent")
    )
    notices = DownloadNotices(gather_ms=10, gap_ms=10)
    shown: list[list[DownloadDone]] = []
    notices.ready.connect(shown.append)
    finish(services, proxy)
    said = download_done(services.store, proxy)
    assert said is not None and said.more_to_come  # the broadcast file is still to come
    notices.add(said)
    qtbot.wait(50)
    assert shown == []
    finish(services, broadcast)
    notices.add(download_done(services.store, broadcast))
    # both files done at the same moment, each sees the other in: told once all the same
    notices.add(download_done(services.store, proxy))
    qtbot.waitUntil(lambda: bool(shown), timeout=2000)
    qtbot.wait(50)
    assert len(shown) == 1
    (done,) = shown[0]
    assert (done.key, done.title, done.rule) == ("i1", "Floods in the north", "all-news")
    tray = Tray(QIcon())
    try:
        tray.notify_downloads(shown[0])
        assert tray.messages == [
            ("Download finished", "Floods in the north\nRule: \u2068all-news\u2069")
        ]
    finally:
        tray.dispose()


def test_items_finishing_together_make_one_balloon(
    qtbot: Any, services: Services, tmp_path: Path
) -> None:
    """A backlog of 5 items: one balloon naming three and how many more, and the rule."""
    notices = DownloadNotices(gather_ms=30, gap_ms=300)
    shown: list[list[DownloadDone]] = []
    notices.ready.connect(shown.append)
    for n in range(5):
        proxy, broadcast = queue_as_the_rule_does(
            services, tmp_path, make_item(f"b{n}", f"Burst item {n}", seq=n + 1)
        )
        for tid in (proxy, broadcast):
            finish(services, tid)
            notices.add(download_done(services.store, tid))
    qtbot.waitUntil(lambda: bool(shown), timeout=2000)
    assert [d.key for d in shown[0]] == ["b0", "b1", "b2", "b3", "b4"]
    # another item in the minute after: it waits for the gap, and comes alone
    proxy, broadcast = queue_as_the_rule_does(
        services, tmp_path, make_item("late", "Late item", seq=9)
    )
    finish(services, proxy)
    finish(services, broadcast)
    notices.add(download_done(services.store, broadcast))
    qtbot.wait(100)
    assert len(shown) == 1
    qtbot.waitUntil(lambda: len(shown) == 2, timeout=2000)
    assert [d.key for d in shown[1]] == ["late"]
    tray = Tray(QIcon())
    try:
        tray.notify_downloads(shown[0])
        title, message = tray.messages[-1]
        assert title == "5 items downloaded"
        assert message.split("\n") == [
            "Burst item 0",
            "Burst item 1",
            "Burst item 2",
            "and 2 more",
            "Rule: \u2068all-news\u2069",
        ]
    finally:
        tray.dispose()


def test_a_restricted_item_is_flagged_in_its_notification_and_transfers_row(
    qtbot: Any, services: Services, tmp_path: Path
) -> None:
    """Finding 9: "No access Kenya" was downloaded to the Kenyan member with nothing saying so;
    the tray said only "Download finished"."""
    item = make_item("r1", "Election rally", restrictions="No access Kenya")
    proxy, broadcast = queue_as_the_rule_does(services, tmp_path, item)
    finish(services, proxy)
    finish(services, broadcast)
    done = download_done(services.store, broadcast)
    assert done is not None and done.restrictions == "No access Kenya"
    tray = Tray(QIcon())
    try:
        tray.notify_downloads([done])
        title, message = tray.messages[-1]
        assert title == "Download finished"
        assert "Usage restrictions: \u2068No access Kenya\u2069" in message.split("\n")
    finally:
        tray.dispose()
    model = TransfersModel()
    model.set_transfers(services.transfer_store().all())
    row = model.row_of(broadcast)
    assert model.index(row, COL_NAME).data().startswith("⚠ ")
    assert "No access Kenya" in model.index(row, COL_NAME).data(3)  # the tooltip


def test_the_proxy_row_is_named_as_such_and_shows_the_items_priority(
    services: Services, tmp_path: Path
) -> None:
    """Both rows read "Floods in the north"; the urgent item's proxy showed "Flash"."""
    proxy, broadcast = queue_as_the_rule_does(
        services, tmp_path, make_item("i1", "Floods in the north", priority="urgent")
    )
    transfers = services.transfer_store()
    p = transfers.get(proxy)
    assert p is not None and p.priority == 0  # the queue still runs it first
    model = TransfersModel()
    model.set_transfers(transfers.all())

    def shown(tid: int, col: int) -> str:
        return str(model.index(model.row_of(tid), col).data())

    assert shown(proxy, COL_NAME) == "Floods in the north (proxy)"
    assert shown(broadcast, COL_NAME) == "Floods in the north"
    assert shown(proxy, COL_PRIORITY) == shown(broadcast, COL_PRIORITY) == "Urgent"
    row = model.row_for(proxy)
    assert row is not None and row.queue_priority_name == "flash"
    # a priority the user sets is shown as it is
    transfers.set_priority(proxy, 2)
    model.set_transfers(transfers.all())
    assert shown(proxy, COL_PRIORITY) == "Routine"


# --- removing a rule with downloads not finished (finding 11) ------------------------------------


def test_removing_a_rule_asks_and_its_downloads_are_canceled_at_ok(
    qtbot: Any, services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its queued downloads ran on after it was removed, with no way to cancel them together."""
    from alu_client.core.rules import RuleStore
    from alu_client.core.settings import AppSettings
    from alu_client.ui.views import settings_apply
    from alu_client.ui.views.settings_rules import RulesPage

    monkeypatch.setattr(settings_apply.autostart, "set_enabled", lambda *a, **k: None)
    rule = RuleStore(services.store, PROFILE).add("smalldisk", Conditions(), action="proxy")
    RuleStore(services.store, PROFILE).add("quiet", Conditions())
    services.store_items([make_item("a", "A"), make_item("b", "B", seq=2)])
    ids = [services._enqueue_rule(make_item(i, i), "broadcast", tmp_path, rule) for i in "ab"]
    settings = AppSettings(services.store, services.paths.downloads_dir)
    loaded = settings_apply.load(services, settings, None)
    assert loaded.rule_downloads == {rule.id: ids}
    page = RulesPage()
    qtbot.addWidget(page)
    page.load(loaded)
    # a rule with none goes at once
    page.view.selectRow(1)
    page.remove_rule()
    assert page.question is None and [r.name for r in page.model.rules()] == ["smalldisk"]
    page.view.selectRow(0)
    page.remove_rule()
    box = page.question
    assert box is not None
    assert "has 2 downloads that have not finished" in box.text()
    button = box.findChild(QPushButton, "rule-remove-cancel-downloads")
    assert button is not None and button.text() == "Cancel its 2 downloads"
    button.click()
    qtbot.waitUntil(lambda: page.question is None)
    assert page.model.rules() == []
    v = loaded.values
    assert page.collect(v)
    assert [r.id for r in v.cancel_downloads_of] == [rule.id]
    settings_apply.apply(services, settings, None, v)
    transfers = services.transfer_store()
    assert [t.state for i in ids if (t := transfers.get(i))] == ["canceled", "canceled"]
    assert RuleStore(services.store, PROFILE).all() == []


def asked_to_remove_a_rule_with_a_download(
    qtbot: Any, services: Services, tmp_path: Path
) -> tuple[Any, Any, QMessageBox]:
    """Settings' rules page, a rule with one download not finished, its removal asked: the
    page, the loaded values and the question."""
    from alu_client.core.rules import RuleStore
    from alu_client.core.settings import AppSettings
    from alu_client.ui.views import settings_apply
    from alu_client.ui.views.settings_rules import RulesPage

    rule = RuleStore(services.store, PROFILE).add("smalldisk", Conditions())
    services.store_items([make_item("a", "A")])
    services._enqueue_rule(make_item("a", "A"), "broadcast", tmp_path, rule)
    loaded = settings_apply.load(
        services, AppSettings(services.store, services.paths.downloads_dir), None
    )
    page = RulesPage()
    qtbot.addWidget(page)
    page.load(loaded)
    page.show()
    page.view.selectRow(0)
    page.remove_rule()
    box = page.question
    assert box is not None
    qtbot.waitUntil(box.isVisible)
    return page, loaded.values, box


def test_let_them_finish_leaves_the_downloads(
    qtbot: Any, services: Services, tmp_path: Path
) -> None:
    page, v, box = asked_to_remove_a_rule_with_a_download(qtbot, services, tmp_path)
    button = box.findChild(QPushButton, "rule-remove-keep-downloads")
    assert button is not None and button.text() == "Let them finish"
    button.click()
    qtbot.waitUntil(lambda: page.question is None)
    page.collect(v)
    assert page.model.rules() == [] and v.cancel_downloads_of == []


def test_escape_on_the_question_keeps_the_rule(
    qtbot: Any, services: Services, tmp_path: Path
) -> None:
    # review: the question asks what becomes of the downloads; Escape (or closing it) took
    # "Let them finish" and removed the rule all the same
    from PySide6.QtCore import Qt

    page, v, box = asked_to_remove_a_rule_with_a_download(qtbot, services, tmp_path)
    qtbot.keyClick(box, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: page.question is None)
    page.collect(v)
    assert [r.name for r in page.model.rules()] == ["smalldisk"] and v.cancel_downloads_of == []


# --- turning a rule off with downloads not finished: asked as removing it is ------------------


def rules_page_with_downloads(
    qtbot: Any, services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, Any, Any, Rule, list[int]]:
    """Settings' rules page shown: "smalldisk" (first) with two downloads not finished, "quiet"
    with none; the page, the loaded values, the settings, smalldisk and its downloads."""
    from alu_client.core.rules import RuleStore
    from alu_client.core.settings import AppSettings
    from alu_client.ui.views import settings_apply
    from alu_client.ui.views.settings_rules import RulesPage

    monkeypatch.setattr(settings_apply.autostart, "set_enabled", lambda *a, **k: None)
    rule = RuleStore(services.store, PROFILE).add("smalldisk", Conditions(), action="proxy")
    RuleStore(services.store, PROFILE).add("quiet", Conditions())
    services.store_items([make_item("a", "A"), make_item("b", "B", seq=2)])
    ids = [services._enqueue_rule(make_item(i, i), "broadcast", tmp_path, rule) for i in "ab"]
    settings = AppSettings(services.store, services.paths.downloads_dir)
    loaded = settings_apply.load(services, settings, None)
    page = RulesPage()
    qtbot.addWidget(page)
    page.load(loaded)
    page.show()
    return page, loaded.values, settings, rule, [i for i in ids if i is not None]


def asked(qtbot: Any, page: Any) -> QMessageBox:
    box = page.question
    assert box is not None
    qtbot.waitUntil(box.isVisible)
    return box  # type: ignore[no-any-return]


def test_turning_a_rule_off_asks_and_its_downloads_are_canceled_at_ok(
    qtbot: Any, services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rule turned off because it took too much went on downloading what it had queued,
    with no way to cancel that together (removing it asked; turning it off did not)."""
    from alu_client.core.rules import RuleStore
    from alu_client.ui.views import settings_apply

    page, v, settings, rule, ids = rules_page_with_downloads(qtbot, services, tmp_path, monkeypatch)
    # a rule with none is turned off at once
    page.view.selectRow(1)
    page.toggle_button.click()
    assert page.question is None and not page.model.rule_at(1).enabled
    page.view.selectRow(0)
    assert page.toggle_button.text() == "Turn &off"
    page.toggle_button.click()
    box = asked(qtbot, page)
    assert box.windowTitle() == "Turn off rule"
    assert "has 2 downloads that have not finished" in box.text()
    assert "Turning it off does not stop them" in box.text()
    assert box.informativeText() == "Cancel leaves the rule on."
    assert page.model.rule_at(0).enabled  # (nothing changes before the answer)
    button = box.findChild(QPushButton, "rule-off-cancel-downloads")
    assert button is not None and button.text() == "Cancel its 2 downloads"
    button.click()
    qtbot.waitUntil(lambda: page.question is None)
    assert [r.enabled for r in page.model.rules()] == [False, False]
    assert page.collect(v)
    assert [r.id for r in v.cancel_downloads_of] == [rule.id]
    settings_apply.apply(services, settings, None, v)
    transfers = services.transfer_store()
    assert [t.state for i in ids if (t := transfers.get(i))] == ["canceled", "canceled"]
    # the rule stays, off
    assert [(r.name, r.enabled) for r in RuleStore(services.store, PROFILE).all()] == [
        ("smalldisk", False),
        ("quiet", False),
    ]


@pytest.mark.parametrize("answer", ["keep", "escape"])
def test_turning_off_let_them_finish_or_escape(
    answer: str,
    qtbot: Any,
    services: Services,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ "Let them finish" turns the rule off and leaves its downloads; Escape (the question's
    Cancel) leaves the rule on."""
    from PySide6.QtCore import Qt

    page, v, _settings, _rule, _ids = rules_page_with_downloads(
        qtbot, services, tmp_path, monkeypatch
    )
    page.view.selectRow(0)
    page.toggle_rule()
    box = asked(qtbot, page)
    if answer == "keep":
        button = box.findChild(QPushButton, "rule-off-keep-downloads")
        assert button is not None and button.text() == "Let them finish"
        button.click()
    else:
        qtbot.keyClick(box, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: page.question is None)
    page.collect(v)
    assert page.model.rule_at(0).enabled is (answer == "escape")
    assert v.cancel_downloads_of == []


def test_turned_on_again_before_ok_its_downloads_go_on(
    qtbot: Any, services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Turning a rule on asks nothing and changes nothing of its earlier downloads: turned off
    with "Cancel its downloads" then on again before OK, none is canceled."""
    from alu_client.ui.views import settings_apply

    page, v, settings, _rule, ids = rules_page_with_downloads(
        qtbot, services, tmp_path, monkeypatch
    )
    page.view.selectRow(0)
    page.toggle_rule()
    button = asked(qtbot, page).findChild(QPushButton, "rule-off-cancel-downloads")
    assert button is not None
    button.click()
    qtbot.waitUntil(lambda: page.question is None)
    assert page.toggle_button.text() == "Turn o&n"
    page.toggle_button.click()
    assert page.question is None and page.model.rule_at(0).enabled
    page.collect(v)
    assert v.cancel_downloads_of == []
    settings_apply.apply(services, settings, None, v)
    transfers = services.transfer_store()
    assert [t.state for i in ids if (t := transfers.get(i))] == ["queued", "queued"]


def test_unticking_rule_on_in_the_edit_form_asks_too(
    qtbot: Any, services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The form's "Rule on" turns the rule off as the button does; the question's Cancel
    keeps the form's other changes, with the rule on."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QDialogButtonBox

    page, v, _settings, rule, _ids = rules_page_with_downloads(
        qtbot, services, tmp_path, monkeypatch
    )

    def edit() -> None:
        page.view.selectRow(0)
        page.edit_rule()
        dialog = page.dialog
        assert dialog is not None
        dialog.name.setText("tiny disk")
        dialog.enabled.setChecked(False)
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()

    edit()
    box = asked(qtbot, page)
    assert box.objectName() == "rule-off-question" and "tiny disk" in box.text()
    qtbot.keyClick(box, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: page.question is None)
    first = page.model.rule_at(0)
    assert (first.name, first.enabled) == ("tiny disk", True)
    edit()
    button = asked(qtbot, page).findChild(QPushButton, "rule-off-cancel-downloads")
    assert button is not None
    button.click()
    qtbot.waitUntil(lambda: page.question is None)
    first = page.model.rule_at(0)
    assert (first.name, first.enabled) == ("tiny disk", False)
    page.collect(v)
    assert [r.id for r in v.cancel_downloads_of] == [rule.id]


# --- history (findings 10, 11) ---------------------------------------------------------------------


def test_history_names_the_proxy_and_a_removed_rule(qapp: Any) -> None:
    """History listed "Burst item 0" twice, and named a rule that no longer existed."""
    from alu_client.core.sync import HistoryEvent
    from alu_client.ui.models.history import COL_ITEM, COL_RULE, HistoryModel

    def event(n: int, rendition: str, rule: str, origin: str = "here") -> HistoryEvent:
        return HistoryEvent(f"e{n}", PROFILE, "download_completed", "i1", rendition, 10,
                            0.0, 100.0 - n, "vm", {"label": "Burst item 0", "rule": rule},
                            n, origin, None, None)  # fmt: skip

    model = HistoryModel()
    model.set_events(
        [event(1, "proxy", "all-news"), event(2, "broadcast", "smalldisk"),
         event(3, "broadcast", "smalldisk", origin="hub")],
        has_more=False,
    )  # fmt: skip

    def shown(row: int, col: int) -> str:
        return str(model.index(row, col).data())

    assert [shown(r, COL_ITEM) for r in range(2)] == ["Burst item 0 (proxy)", "Burst item 0"]
    assert shown(1, COL_RULE) == "smalldisk"  # the rules not known yet: as it is
    model.set_rules(frozenset({"all-news"}))
    assert [shown(r, COL_RULE) for r in range(3)] == [
        "all-news",
        "smalldisk (rule removed)",
        "smalldisk",  # another workstation's rule: not known here
    ]
