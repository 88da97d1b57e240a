"""Who sent an item (review "upload", finding 3): the Feed's Sent by column and detail pane say
the agency, the member by its name, or "You" for the member's own uploads; those are stored
read by the feed sync (no "New", not counted unread, no tray notice), and no auto-download rule
fetches them back — from this workstation or another of the member's. Libraries kept before
learn the same at their update.

On a real hub on loopback: pushes are the agency's, another member's footage is published as
its upload, and the member's own clip goes up through the real upload path."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from alu_client.core.hub import Item, Rendition
from alu_client.core.library.text import normalize
from alu_client.core.rules import RuleStore
from alu_client.core.services import Services
from alu_client.core.store import Store
from alu_client.core.store.schema import MIGRATIONS
from alu_client.core.uploads import UploadFields
from alu_client.ui import formats
from alu_client.ui import main_window as main_window_module
from alu_client.ui.bridge import CoreBridge
from alu_client.ui.delegates_items import sender_name, sent_by
from alu_client.ui.models import STATE_ROLE
from alu_client.ui.models.items import COL_SENDER, COL_STATE, COL_TITLE
from alu_client.ui.tasks import TaskRunner
from alu_client.ui.views.feed import FeedPanel
from alu_hub.demo import ensure_member
from alu_hub.media import generate_clip
from alu_hub.publish import ItemFields, publish_file
from tests.gui.test_app_shell import SimplePanels, build_window
from tests.support.livehub import LiveHub
from tests.support.waiting import wait_until

PASSWORD = "pw-feed-sender"


def _clip(folder: Path, name: str, seed: int) -> Path:
    """A short real clip of its own bytes (the hub refuses bytes already on the network)."""
    path = folder / name
    generate_clip(path, seconds=1.0, width=320, height=240, seed=seed)
    return path


@pytest.fixture
def network(live_hub: LiveHub, tmp_path: Path, clip: Path) -> dict[str, str]:
    """Member ``ktn`` ("Kenya TV", the workstation's) and ``ortb`` ("ORTB Bénin"), an agency
    push and an upload of ORTB's, oldest first."""
    ensure_member(live_hub.hub, "ktn", PASSWORD, country="KE", display_name="Kenya TV")
    ortb = ensure_member(live_hub.hub, "ortb", None, country="BJ", display_name="ORTB Bénin")
    push = live_hub.publish(clip, title="Floods in the north", language="en")
    theirs = publish_file(
        live_hub.hub,
        _clip(tmp_path, "cotonou.mp4", 21),
        ItemFields(title="Cotonou port strike", language="fr", country="BJ"),
        kind="member_upload",
        source_member=ortb,
    )
    return {"push": push, "theirs": theirs.id}


@pytest.fixture
def desk(live_hub: LiveHub, tmp_path: Path, network: dict[str, str]) -> Iterator[Services]:
    services = live_hub.workstation(tmp_path / "desk", "ktn", PASSWORD)
    yield services
    services.stop()


def _own_upload(desk: Services, tmp_path: Path, title: str, seed: int) -> None:
    """Send a clip of the member's from this workstation, to its end (published)."""
    footage = _clip(tmp_path, f"own-{seed}.mp4", seed)
    assert desk.queue is not None
    done = desk.queue.wait_for(desk.upload(footage, UploadFields(title=title)), timeout=60)
    assert done.state == "done", done.last_error


def _row(panel: FeedPanel, title: str) -> int:
    rows = [r for r in range(panel.model.rowCount()) if panel.model.item_at(r).title == title]
    assert len(rows) == 1, title
    return rows[0]


def test_the_feed_says_who_sent_each_item_and_the_members_own_upload_is_not_news(
    qtbot: Any, desk: Services, network: dict[str, str], tmp_path: Path
) -> None:
    desk.start_engine(sync=True, rules=False, hot_folders=False, media=False)
    bridge = CoreBridge(desk)
    tasks = TaskRunner()
    feed = FeedPanel(desk, bridge, tasks, read_delay_ms=60_000)  # (nothing read by a look)
    qtbot.addWidget(feed)
    feed.resize(1270, 700)
    feed.show()
    qtbot.waitExposed(feed)
    try:
        qtbot.waitUntil(lambda: feed.model.rowCount() == 2, timeout=20_000)
        qtbot.waitUntil(lambda: feed.unread == 2)

        _own_upload(desk, tmp_path, "Nairobi floods, day two", seed=31)
        qtbot.waitUntil(lambda: feed.model.rowCount() == 3, timeout=20_000)
        mine = desk.library.get(feed.model.item_at(_row(feed, "Nairobi floods, day two")).id)
        assert mine is not None and mine.item.kind == "member_upload"
        # stored read as it arrived: not "New", not in the unread count (2 was 3)
        assert mine.read
        assert desk.library.unread_count() == 2
        qtbot.waitUntil(lambda: feed.unread_label.text() == "2 unread")
        assert feed.unread == 2
        own = _row(feed, "Nairobi floods, day two")
        assert feed.model.index(own, COL_STATE).data(STATE_ROLE) == "seen"
        assert feed.model.index(own, COL_STATE).data() == ""

        # the Sent by column: the agency, the member by its name, you
        assert feed.model.headerData(COL_SENDER, Qt.Orientation.Horizontal) == "Sent by"
        sender = {
            title: feed.model.index(_row(feed, title), COL_SENDER)
            for title in ("Nairobi floods, day two", "Cotonou port strike", "Floods in the north")
        }
        assert {t: i.data() for t, i in sender.items()} == {
            "Nairobi floods, day two": "You",
            "Cotonou port strike": "ORTB Bénin",
            "Floods in the north": "Agency",
        }
        # read whole to a screen reader and in the tooltip (a long name is cut in the cell)
        role = Qt.ItemDataRole.AccessibleTextRole
        you = f"You ({formats.isolated('Kenya TV')})"
        assert sender["Nairobi floods, day two"].data(role) == you
        assert sender["Cotonou port strike"].data(role) == formats.isolated("ORTB Bénin")
        assert sender["Floods in the north"].data(role) == "The agency"
        tip = Qt.ItemDataRole.ToolTipRole
        assert sender["Nairobi floods, day two"].data(tip) == f"Sent by: {you}"
        assert sender["Floods in the north"].data(tip) == "Sent by: The agency"
        # the window at its default size: the column costs no sideways scrolling
        assert feed.view.horizontalScrollBar().maximum() == 0

        # the detail pane's "Sent by:" line
        label, value = feed.detail.labels["sender"], feed.detail.values["sender"]
        for title, said in (
            ("Nairobi floods, day two", you),
            ("Cotonou port strike", formats.isolated("ORTB Bénin")),
            ("Floods in the north", "The agency"),
        ):
            row = _row(feed, title)
            index = feed.model.index(row, COL_TITLE)
            qtbot.mouseClick(
                feed.view.viewport(),
                Qt.MouseButton.LeftButton,
                pos=feed.view.visualRect(index).center(),
            )
            qtbot.waitUntil(lambda t=title: feed.detail.title.text() == t)
            assert label.text() == "Sent by:" and label.isVisible()
            assert value.text() == said and value.isVisible()
    finally:
        bridge.detach()
        feed.model.tasks.wait_for_done()
        tasks.wait_for_done()


def test_no_rule_downloads_the_members_own_upload_back(
    desk: Services, live_hub: LiveHub, network: dict[str, str], tmp_path: Path
) -> None:
    """A rule that takes everything fetched the member's own upload when it came from another
    of its workstations (only this data folder's uploads were known); the agency's push and
    the other member's footage it still fetches."""
    ktn = ensure_member(live_hub.hub, "ktn", PASSWORD, country="KE")
    elsewhere = publish_file(  # sent from the member's other workstation
        live_hub.hub,
        _clip(tmp_path, "laptop.mp4", 41),
        ItemFields(title="Mombasa port, from the laptop", language="en"),
        kind="member_upload",
        source_member=ktn,
    )
    RuleStore(desk.store, desk.require_profile().name).add("everything")
    queue = desk.start_engine(sync=False, rules=True, hot_folders=False, media=False)
    desk.feed_sync().catch_up()  # (its new items go through the rules)
    wait_until(lambda: desk.library.get(elsewhere.id) is not None, timeout=20, what="the catch-up")
    got = {t.item_id for t in queue.transfers.all(None, "download")}
    assert got == {network["push"], network["theirs"]}
    mine = desk.library.get(elsewhere.id)
    assert mine is not None and mine.read and mine.rules_done


def test_the_tray_does_not_announce_the_members_own_flash_upload(
    qtbot: Any,
    live_hub: LiveHub,
    network: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(main_window_module, "tray_available", lambda: True)
    desk = live_hub.workstation(tmp_path / "desk", "ktn", PASSWORD)
    desk.start_engine(sync=False, rules=False, hot_folders=False, media=False)
    window = build_window(qtbot, desk, SimplePanels())  # (its shutdown stops the core)
    try:
        assert window.tray is not None
        qtbot.waitUntil(lambda: window.notify)
        window.tray.messages.clear()
        stamp = dt.datetime(2026, 12, 6, 21, 43, tzinfo=dt.UTC)
        own = _item("mine", "Nairobi floods", "member_upload", "ktn", "Kenya TV", stamp)
        theirs = _item("theirs", "Cotonou strike", "member_upload", "ortb", "ORTB Bénin", stamp)
        window._on_items_added([own, theirs])
        assert [title for title, _ in window.tray.messages] == [
            f"FLASH: {formats.isolated('Cotonou strike')}"
        ]
    finally:
        window.shutdown()


def _item(
    item_id: str, title: str, kind: str, username: str, name: str, published: dt.datetime
) -> Item:
    return Item(
        id=item_id, seq=1, kind=kind, title=title, slug="", dateline="", recorded_at=None,
        published_at=published, category="", region="", country="", language="en",
        priority="flash", restrictions="", script="", shotlist="", duration=1.0,
        source_member=username, thumbnail_url="",
        renditions=(Rendition("broadcast", "u", "f.mp4", 1, "0" * 64, "video/mp4", 1, 1),),
        source_name=name, source_role="member",
    )  # fmt: skip


def test_a_library_kept_before_marks_the_members_own_uploads_read_at_its_update(
    tmp_path: Path,
) -> None:
    """Migration 14 on a library at schema 13: the member's own uploads stored unread are
    read; another member's, and the items of another profile of the workstation (whose
    member did not send them), stay unread; the new columns are empty until the hub sends
    the items again."""
    db = tmp_path / "library.sqlite3"
    conn = sqlite3.connect(db)
    conn.create_function("alu_search_text", 1, lambda value: normalize(str(value)))
    for script in MIGRATIONS[:13]:
        conn.executescript(script)
    for name, username in (("ktn@hub", "ktn"), ("ortb@hub", "ortb")):
        conn.execute(
            "INSERT INTO profiles (name, url, username, created_at)"
            " VALUES (?, 'http://hub', ?, 1.0)",
            (name, username),
        )
    for n, (profile, kind, source) in enumerate(
        [
            ("ktn@hub", "member_upload", "ktn"),  # its own: read
            ("ktn@hub", "member_upload", "ortb"),
            ("ktn@hub", "push", ""),
            ("ortb@hub", "member_upload", "ktn"),  # ktn's, in ORTB's profile
        ]
    ):
        conn.execute(
            "INSERT INTO items (profile, id, seq, kind, published_at, source_member,"
            " first_seen_at) VALUES (?, ?, ?, ?, '2026-12-06T21:43:00.000000+00:00', ?, 5.0)",
            (profile, f"it{n}", n + 1, kind, source),
        )
    conn.execute("PRAGMA user_version = 13")
    conn.commit()
    conn.close()

    store = Store(db)
    try:
        rows = store.query(
            "SELECT profile, id, read_at, source_name, source_role FROM items ORDER BY id"
        )
        assert [tuple(r) for r in rows] == [
            ("ktn@hub", "it0", 5.0, "", ""),
            ("ktn@hub", "it1", None, "", ""),
            ("ktn@hub", "it2", None, "", ""),
            ("ortb@hub", "it3", None, "", ""),
        ]
    finally:
        store.close()


def test_an_unnamed_member_and_a_name_from_before_are_still_said() -> None:
    """Items stored before the name was kept show the user name; an upload by an agency
    account is the agency's."""
    stamp = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)
    old = _item("a", "Old", "member_upload", "ortb", "", stamp)
    assert (sender_name(old, "ktn"), sent_by(old, "ktn")) == ("ortb", formats.isolated("ortb"))
    staff = dataclasses.replace(
        _item("b", "Staff", "member_upload", "desk1", "ALU", stamp), source_role="agency"
    )
    assert (sender_name(staff, "ktn"), sent_by(staff, "ktn")) == ("Agency", "The agency")
    unnamed = _item("c", "Unnamed", "member_upload", "", "", stamp)
    assert (sender_name(unnamed, "ktn"), sent_by(unnamed, "ktn")) == ("Member", "A member")
    # the member's own, kept before its name was: its user name in the brackets
    own = _item("d", "Own", "member_upload", "ktn", "", stamp)
    assert (sender_name(own, "ktn"), sent_by(own, "ktn")) == (
        "You",
        f"You ({formats.isolated('ktn')})",
    )
    # no profile known (nobody's "You"): the user name
    assert sender_name(own, "") == "ktn"
