"""End to end with a real hub: the agency withdraws an item a workstation is downloading and
has in its library — the download ends with the agency's reason within seconds (the hub's event
stream wakes the sync), the library says it is withdrawn; a second workstation that reads the
item for the first time after the withdrawal never downloads it (its rules and `Download`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from alu_client.core.rules import Conditions, RuleStore
from alu_client.core.withdrawn import WithdrawnItem
from tests.client import test_cli_hub as cli
from tests.support.livehub import LiveHub
from tests.support.waiting import wait_until

REASON = "Wrong footage: the clip shows another town"


def test_the_agency_withdraws_an_item_being_downloaded(
    live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    live_hub.member("ktn")
    live_hub.member("ntv")
    live_hub.member("desk-chief", role="agency")
    agency = live_hub.login("desk-chief")
    item_id = live_hub.publish(clip, "Floods in Kisumu", restrictions="No access Kenya")

    first = live_hub.workstation(tmp_path / "ws1", "ktn", "pw-1234")
    second = live_hub.workstation(tmp_path / "ws2", "ntv", "pw-1234")
    try:
        # the first workstation has the item in its library and is downloading it, slowly
        size = clip.stat().st_size
        queue = first.start_engine(
            rules=False, hot_folders=False, media=False, limit_down=max(1024.0, size / 30)
        )
        wait_until(lambda: first.library.get(item_id) is not None, timeout=20, what="feed synced")
        tid = first.download(item_id, "broadcast")
        wait_until(
            lambda: (t := queue.transfers.get(tid)) is not None and t.bytes_done > 0,
            timeout=20,
            what="download under way",
        )
        r = agency.post(live_hub.api(f"/items/{item_id}/withdraw"), json={"reason": REASON})
        assert r.status_code == 200, r.text
        assert r.json()["withdrawn_reason"] == REASON

        # the download ends with the reason, canceled, never tried again
        wait_until(
            lambda: (t := queue.transfers.get(tid)) is not None and t.state == "canceled",
            timeout=20,
            what="download canceled",
        )
        t = queue.transfers.get(tid)
        assert t is not None
        assert t.last_error == f"The agency withdrew this item: {REASON}"
        assert t.bytes_done < size
        dest = Path(t.destination)
        assert not dest.exists()
        li = first.library.get(item_id)
        assert li is not None and li.item.withdrawn and li.item.withdrawn_reason == REASON
        assert li.item.revision == 2
        # asked again: refused here, and the hub refuses its file anyway
        with pytest.raises(WithdrawnItem):
            first.download(item_id, "proxy")

        # a second workstation, whose rule takes everything, reads the item only now
        profile = second.require_profile().name
        RuleStore(second.store, profile).add("Everything", Conditions())
        second_queue = second.start_engine(rules=True, hot_folders=False, media=False)
        wait_until(lambda: second.library.get(item_id) is not None, timeout=20, what="read")
        seen = second.library.get(item_id)
        assert seen is not None and seen.item.withdrawn and seen.item.withdrawn_reason == REASON
        second.evaluate_rules()
        wait_until(
            lambda: (
                second.store.query_one("SELECT rules_done FROM items WHERE id = ?", (item_id,))[0]
                == 1
            ),
            timeout=10,
            what="rules evaluated",
        )
        assert second_queue.transfers.all(direction="download") == []
        with pytest.raises(WithdrawnItem):
            second.download(item_id, "broadcast")
        assert second_queue.transfers.all(direction="download") == []
    finally:
        first.stop()
        second.stop()


def test_alu_feed_says_it_and_alu_get_refuses(
    live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    live_hub.member("ktn", cli.PASSWORD)
    live_hub.member("desk-chief", role="agency")
    agency = live_hub.login("desk-chief")
    gone = live_hub.publish(clip, "Floods in Kisumu")
    fixed = live_hub.publish(clip, "Market fire", dateline="NAIROBI")
    home = tmp_path / "home"
    cli.login(home, live_hub)
    assert {i["id"]: i["withdrawn_at"] for i in cli.feed(home)} == {gone: None, fixed: None}
    r = agency.post(live_hub.api(f"/items/{gone}/withdraw"), json={"reason": REASON})
    assert r.status_code == 200, r.text
    note = "Dateline corrected: KISUMU"
    r = agency.patch(live_hub.api(f"/items/{fixed}"), json={"dateline": "KISUMU", "note": note})
    assert r.status_code == 200, r.text
    listed = {i["id"]: i for i in cli.feed(home)}  # (synced first: the changes read)
    assert listed[gone]["withdrawn_reason"] == REASON and listed[gone]["withdrawn_at"]
    assert listed[gone]["revision"] == 2
    assert listed[fixed]["correction_note"] == note and listed[fixed]["corrected_at"]
    assert listed[fixed]["dateline"] == "KISUMU" and listed[fixed]["withdrawn_at"] is None
    text = cli.ok(cli.alu(home, "feed", "--offline"))
    assert "WITHDRAWN by the agency" in text and f"do not use: {REASON}" in text
    assert f": {note}" in text and "Corrected " in text
    r = cli.alu(home, "get", gone)
    assert r.returncode == 1 and r.stdout == ""
    assert "withdrawn by the agency" in r.stderr and REASON in r.stderr
    assert len([line for line in r.stderr.splitlines() if "withdrawn" in line]) == 1
