"""Refusals that say what state the upload or the item is in: a published upload's DELETE
names its item, a re-upload of a withdrawn item's bytes names the withdrawal."""

from __future__ import annotations

from pathlib import Path

from alu_hub import changes
from alu_hub.models import Item

from .conftest import LiveHub, sha256_of
from .test_upload_publish import _create, uploader_for, wait_for_outcome


def test_cancelling_a_published_upload_names_its_item(live_hub: LiveHub, clip: Path) -> None:
    ktn = live_hub.login("ktn")
    meta = {"filename": "clip.mp4", "sha256": sha256_of(clip), "title": "Floods"}
    up = uploader_for(live_hub, "ktn", clip, metadata=meta)
    up.upload()
    status = wait_for_outcome(ktn, up.url)
    assert status["state"] == "published", status
    r = ktn.delete(up.url, headers={"Tus-Resumable": "1.0.0"}, timeout=10)
    assert r.status_code == 409 and r.json()["error"] == {
        "code": "upload_finished",
        "message": f"This upload was published as item {status['item_id']}; it can no longer"
        " be cancelled. If the item must not be used, ask the agency to withdraw it.",
    }


def test_a_withdrawn_items_bytes_sent_again_are_refused_naming_the_withdrawal(
    live_hub: LiveHub, clip: Path
) -> None:
    agency = live_hub.publish(clip, "Harare jazz festival")
    changes.withdraw(live_hub.hub, agency, "Embargo   broken\nby a partner")
    with live_hub.hub.db.session() as s:
        item = s.get(Item, agency)
        assert item is not None and item.withdrawn_at is not None
        published, withdrawn = item.published_at, item.withdrawn_at
    live_hub.login("ktn")
    r = _create(live_hub, "ktn", clip, {"filename": "c.mp4", "sha256": sha256_of(clip)})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["message"] == (
        "This file is already on the network: it is the agency's “Harare jazz festival”"
        f" (published {published:%Y-%m-%d}; withdrawn {withdrawn:%Y-%m-%d}: Embargo broken by a"
        " partner). It was not published again."
    )
