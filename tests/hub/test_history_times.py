"""A download never counts before its item was published (review memberday, finding 3): a
workstation clock up to two minutes off is not corrected (api.CLOCK_RIGHT_WITHIN: that gap is
the request's way here), so a push published at 00:00:30 and fetched at once by a slightly
slow workstation counted on the day before, when it did not exist yet."""

from __future__ import annotations

import datetime as dt
import uuid

import requests

from tests.support.livehub import LiveHub

from .test_stats_page import insert_items

UTC = dt.UTC


def event(kind: str, item: str, ended: dt.datetime) -> dict[str, object]:
    return {
        "id": str(uuid.uuid4()),
        "type": kind,
        "item_id": item,
        "rendition": "broadcast",
        "bytes": 1000,
        "started_at": (ended - dt.timedelta(seconds=10)).isoformat(),
        "ended_at": ended.isoformat(),
        "device": "ertu-1",
    }


def occurred(s: requests.Session, live: LiveHub) -> dict[str, dt.datetime]:
    page = s.get(live.api("/history"), timeout=10).json()["events"]
    return {e["id"]: dt.datetime.fromisoformat(e["occurred_at"]) for e in page}


def test_a_download_counts_no_earlier_than_its_items_publication(live_hub: LiveHub) -> None:
    now = dt.datetime.now(UTC).replace(microsecond=0)
    published = now - dt.timedelta(hours=1)
    item = insert_items(live_hub.hub, [("push", None, published)])[0]
    s = live_hub.login("ertu")
    # the workstation's clock is 20 s slow: within the tolerance, not corrected
    slow = dt.timedelta(seconds=20)
    before = event("download_completed", item, published - slow)
    failed = event("download_failed", item, published - slow)
    after = event("download_completed", item, published + dt.timedelta(minutes=5))
    other = event("upload_completed", item, published - slow)  # not a download: as sent
    unknown = event("download_completed", "f" * 32, published - slow)  # no such item here
    batch = [before, failed, after, other, unknown]
    r = s.post(
        live_hub.api("/history"),
        json={"events": batch, "sent_at": (now - slow).isoformat()},
        timeout=10,
    )
    assert r.status_code == 200 and r.json()["accepted"] == len(batch), r.text
    got = occurred(s, live_hub)
    assert got[str(before["id"])] == published
    assert got[str(failed["id"])] == published
    assert got[str(after["id"])] == published + dt.timedelta(minutes=5)
    assert got[str(other["id"])] == published - slow
    assert got[str(unknown["id"])] == published - slow
