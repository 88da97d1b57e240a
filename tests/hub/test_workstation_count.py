"""How many workstations of a member downloaded an item (review memberday, finding 8):
``items show`` counted distinct host names, so two cloned newsroom PCs named alike were one.
A workstation now sends the random id its data folder made once with each event, and the hub
counts by it; events of older clients (no id) are counted by name as before."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import requests

from alu_client.core.store import Store
from alu_client.core.sync import HistorySync, record_event
from alu_client.core.workstation import workstation_id
from alu_hub.item_report import item_report
from alu_hub.models import Item
from tests.client.test_sync_history import PW, client_for
from tests.support.livehub import LiveHub

from .test_cli_member_chores import alu_hub
from .test_stats_page import insert_items


def workstations(live: LiveHub, item: str) -> tuple[int, list[str], bool]:
    with live.hub.db.session() as s:
        item_row = s.get(Item, item)
        assert item_row is not None
        [d] = item_report(s, item_row).downloaded_by
    return d.workstations, d.devices, d.unnamed_device


def post(live: LiveHub, s: requests.Session, item: str, *sent: tuple[str, str | None]) -> None:
    now = dt.datetime.now(dt.UTC).isoformat()
    events = []
    for device, workstation in sent:
        e = {"id": str(uuid.uuid4()), "type": "download_completed", "item_id": item,
             "rendition": "broadcast", "bytes": 10, "ended_at": now, "device": device}  # fmt: skip
        if workstation is not None:
            e["workstation"] = workstation
        events.append(e)
    r = s.post(live.api("/history"), json={"events": events, "sent_at": now}, timeout=10)
    assert r.status_code == 200 and r.json()["accepted"] == len(events), r.text


def test_workstations_are_counted_by_their_id_and_by_name_for_older_clients(
    live_hub: LiveHub,
) -> None:
    items = insert_items(live_hub.hub, [("push", None, dt.datetime.now(dt.UTC))] * 4)
    ktn = live_hub.login("ktn")
    a, b = uuid.uuid4().hex, uuid.uuid4().hex
    post(live_hub, ktn, items[0], ("vm", a), ("vm", b), ("vm", a))  # two cloned PCs
    assert workstations(live_hub, items[0]) == (2, ["vm"], False)
    post(live_hub, ktn, items[1], ("vm", None), ("vm", None), ("desk", None))  # older clients
    assert workstations(live_hub, items[1]) == (2, ["desk", "vm"], False)
    # one workstation before and after its client sent its id: one
    post(live_hub, ktn, items[2], ("vm", None), ("vm", a), ("", None))
    assert workstations(live_hub, items[2]) == (1, ["vm"], True)
    post(live_hub, ktn, items[3], ("", a))  # an id without a name
    assert workstations(live_hub, items[3]) == (1, [], False)
    text = alu_hub(live_hub, "items", "show", items[0])
    assert text.returncode == 0, text.stderr
    row = next(line for line in text.stdout.splitlines() if line.lstrip().startswith("ktn "))
    assert row.endswith("2 (vm)"), row
    bad = {"id": str(uuid.uuid4()), "type": "download_completed", "workstation": "a b\n"}
    r = ktn.post(live_hub.api("/history"), json={"events": [bad]}, timeout=10)
    assert r.status_code == 422, r.text


def test_two_data_folders_on_machines_named_alike_are_two_workstations(
    live_hub: LiveHub, tmp_path: Path
) -> None:
    live_hub.member("ktn", PW)
    item = insert_items(live_hub.hub, [("push", None, dt.datetime.now(dt.UTC))])[0]
    ids = []
    for folder in ("ktn3", "ktn4"):
        store = Store(tmp_path / folder / "library.sqlite3")
        try:
            with store.write() as c:
                record_event(c, "main", "download_completed", item_id=item,
                             rendition="broadcast", bytes=10, ended_at=time_now(), device="vm")  # fmt: skip
            assert HistorySync(store, "main", client_for(live_hub.url, device="vm")).push() == 1
            ids.append(workstation_id(store))
        finally:
            store.close()
    assert ids[0] != ids[1]
    assert workstations(live_hub, item) == (2, ["vm"], False)


def time_now() -> float:
    return dt.datetime.now(dt.UTC).timestamp()
