"""The core behind the upload form's guards: a draft per file of what was typed (the settings
table), the language of the last upload, and this workstation's uploads of the same bytes."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from alu_client.core.settings import AppSettings
from alu_client.core.store import Store
from alu_client.core.upload_drafts import KEPT_FOR, UploadDrafts
from alu_client.core.uploads import file_sha256
from tests.client.test_services_profiles import ANN_PW, BEN_PW, Desk, fields
from tests.support.livehub import LiveHub


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "library.sqlite3")
    yield s
    s.close()


def test_a_draft_comes_back_for_the_same_file_only(store: Store, tmp_path: Path) -> None:
    clip = tmp_path / "goma.mp4"
    drafts = UploadDrafts(store, "ktn")
    drafts.save(clip, (1000, 5), {"title": "Goma: thousands cross", "script": "Overnight…"})
    assert drafts.load(clip, (1000, 5)) == {
        "title": "Goma: thousands cross",
        "script": "Overnight…",
    }
    assert drafts.load(clip, (1001, 5)) is None  # other bytes at that path
    assert drafts.load(clip, (1000, 6)) is None
    assert drafts.load(tmp_path / "other.mp4", (1000, 5)) is None
    assert UploadDrafts(store, "ortb").load(clip, (1000, 5)) is None  # another member's
    drafts.save(clip, (1000, 5), {"title": "Goma"})  # saved again: the newest
    assert drafts.load(clip, (1000, 5)) == {"title": "Goma"}
    drafts.drop([clip])
    assert drafts.load(clip, (1000, 5)) is None


def test_old_and_damaged_drafts_go_and_other_settings_stay(store: Store, tmp_path: Path) -> None:
    drafts = UploadDrafts(store, "ktn")
    settings = AppSettings(store, tmp_path)
    settings.notify = False
    old, new = tmp_path / "old.mp4", tmp_path / "new.mp4"
    drafts.save(old, (1, 1), {"title": "Old"}, now=1_000_000.0)
    with store.write() as c:
        c.execute("INSERT INTO settings (key, value) VALUES ('upload_draft.bad', '{not json')")
    drafts.save(new, (2, 2), {"title": "New"}, now=1_000_000.0 + KEPT_FOR + 1)
    assert drafts.load(old, (1, 1)) is None
    assert drafts.load(new, (2, 2)) == {"title": "New"}
    keys = {r[0] for r in store.query("SELECT key FROM settings")}
    assert "upload_draft.bad" not in keys
    assert settings.notify is False


def test_the_language_of_the_last_upload(store: Store, tmp_path: Path) -> None:
    settings = AppSettings(store, tmp_path)
    assert settings.upload_language == ""
    settings.upload_language = "fr"
    assert settings.upload_language == "fr"
    with pytest.raises(ValueError, match="an item's language"):
        settings.upload_language = "de"
    settings.set("upload_language", "xx")  # (edited by hand)
    assert settings.upload_language == ""
    settings.set("upload_language", json.loads("3"))
    assert settings.upload_language == ""


def test_uploads_of_the_same_bytes_from_this_workstation(
    tmp_path: Path, live_hub: LiveHub, clip: Path, other_clip: Path
) -> None:
    """Sent or on its way, whatever the path, for this profile only; failed or canceled ones
    made no item."""
    live_hub.member("ann", ANN_PW)
    live_hub.member("ben", BEN_PW, country="NG")
    desk = Desk(tmp_path / "desk")
    try:
        desk.sign_in(live_hub, "ann", ANN_PW)
        desk.sign_in(live_hub, "ben", BEN_PW)
        ben = desk.services()  # (no engine: what is queued stays queued)
        copy = tmp_path / "copy_of_clip.mp4"
        shutil.copy(clip, copy)
        sha, other_sha = file_sha256(clip), file_sha256(other_clip)
        queued = ben.upload(clip, fields("Lagos market"))
        done = ben.upload(clip, fields("Lagos market, again"))
        failed = ben.upload(clip, fields("Lagos market, failed"))
        canceled = ben.upload(clip, fields("Lagos market, canceled"))
        with ben.store.write() as c:  # (how they ended is not the point here)
            for tid, state in ((done, "done"), (failed, "failed"), (canceled, "canceled")):
                c.execute(
                    "UPDATE transfers SET state = ?, finished_at = ? WHERE id = ?",
                    (state, time.time(), tid),
                )
        found = ben.uploads_of_content([sha.upper(), other_sha])
        assert list(found) == [sha]
        assert [t.id for t in found[sha]] == [done, queued]  # newest first
        assert ben.uploads_of_content([file_sha256(copy)]).keys() == {sha}
        desk.close()
        desk.sign_in(live_hub, "ann", ANN_PW)
        assert desk.services().uploads_of_content([sha]) == {}  # Ben's are his
    finally:
        desk.close()
