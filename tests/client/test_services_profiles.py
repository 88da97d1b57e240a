"""Two sign-ins on one workstation (two members of one hub, or two hubs) share its data folder
and its queue: against real hubs, each profile's transfers go with its own sign-in, wait for it
while another is signed in, and a new sign-in takes up what the hub had refused."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from alu_client.core.credentials import MemorySecrets
from alu_client.core.paths import Paths
from alu_client.core.profiles import Profiles, sign_in, sign_out
from alu_client.core.services import Services
from alu_client.core.store import Store
from alu_client.core.uploads import UploadFields, file_sha256
from tests.support.livehub import LiveHub, start_hub
from tests.support.waiting import wait_until

ANN_PW, BEN_PW = "pw-ann-12345", "pw-ben-12345"


def make_paths(root: Path) -> Paths:
    return Paths(root / "data", root / "cache", root / "logs", root / "downloads").ensure()


class Desk:
    """One workstation's data folder and token store; ``as_(url, user)`` signs in there (the
    profile becomes the active one, as the app's sign-in and `alu login` do) and gives
    Services for it."""

    def __init__(self, root: Path) -> None:
        self.paths = make_paths(root)
        self.secrets = MemorySecrets()
        self.open: list[Services] = []

    def sign_in(self, hub: LiveHub, user: str, password: str) -> str:
        store = Store(self.paths.db_path)
        try:
            return sign_in(
                Profiles(store), self.secrets, hub.url, user, password, allow_http=True
            ).name
        finally:
            store.close()

    def services(self) -> Services:
        s = Services(self.paths, self.secrets)
        self.open.append(s)
        return s

    def close(self) -> None:
        for s in self.open:
            s.stop()
        self.open.clear()


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    d = Desk(tmp_path / "desk")
    yield d
    d.close()


@pytest.fixture
def second_hub(tmp_path: Path) -> Iterator[LiveHub]:
    h = start_hub(tmp_path / "second")
    yield h
    h.server.stop()
    h.hub.db.dispose()
    shutil.rmtree(tmp_path / "second" / "hub", ignore_errors=True)


def publisher(hub: LiveHub, title: str) -> str:
    """The user name the hub says published the item called ``title``."""
    session = hub.login("ann", ANN_PW)
    items = session.get(hub.api("/items?after=0&limit=100"), timeout=10).json()["items"]
    found = [i for i in items if i.get("title") == title]
    assert len(found) == 1, [i.get("title") for i in items]
    return str((found[0].get("source_member") or {}).get("username"))


def fields(title: str) -> UploadFields:
    return UploadFields(title=title, language="en", country="NG")


def test_another_members_queued_upload_waits_for_his_sign_in_and_goes_as_his(
    desk: Desk, live_hub: LiveHub, clip: Path, other_clip: Path
) -> None:
    # Ben queued his clip; Ann signed in on the same workstation: the engine sent it with her
    # sign-in, and the hub published Ben's clip as Ann's item
    live_hub.member("ann", ANN_PW)
    live_hub.member("ben", BEN_PW, country="NG")
    desk.sign_in(live_hub, "ann", ANN_PW)
    desk.sign_in(live_hub, "ben", BEN_PW)
    bens_clip = desk.services().upload(other_clip, fields("Ben's clip from Lagos"))
    desk.close()
    desk.sign_in(live_hub, "ann", ANN_PW)  # Ann's turn
    item = live_hub.publish(clip, title="Accra fuel prices")
    ann = desk.services()
    queue = ann.start_engine(sync=False, rules=False, hot_folders=False, media=False)
    anns = ann.download(item)
    assert queue.wait_for(anns, timeout=30).state == "done"  # her engine is at work
    time.sleep(0.5)  # (a few passes of its scheduler more)
    waiting = queue.transfers.get(bens_clip)
    assert waiting is not None and (waiting.state, waiting.last_error) == ("queued", "")
    assert [t.id for t in queue.mine()] == [anns]  # what her Transfers tab shows
    desk.close()
    desk.sign_in(live_hub, "ben", BEN_PW)  # Ben signs in again (the app, `alu login`)
    ben = desk.services()
    queue = ben.start_engine(sync=False, rules=False, hot_folders=False, media=False)
    assert queue.wait_for(bens_clip, timeout=60).state == "done"
    assert publisher(live_hub, "Ben's clip from Lagos") == "ben"


def test_a_profile_of_another_hub_waits_queued_and_goes_on_when_signed_in_again(
    desk: Desk, live_hub: LiveHub, second_hub: LiveHub, clip: Path, other_clip: Path
) -> None:
    # its transfers ran without a sign-in (the active profile's goes to its own hub only),
    # failed for good ("Sign in again") and stayed failed once signed in again
    for hub in (live_hub, second_hub):
        hub.member("ktn", ANN_PW)
    there = second_hub.publish(clip, title="Harare council vote")
    desk.sign_in(live_hub, "ktn", ANN_PW)
    desk.sign_in(second_hub, "ktn", ANN_PW)
    b = desk.services()
    download = b.download(there, "proxy")
    upload = b.upload(other_clip, fields("For the second hub"))
    desk.close()
    desk.sign_in(live_hub, "ktn", ANN_PW)
    a = desk.services()
    queue = a.start_engine(sync=False, rules=False, hot_folders=False, media=False)
    here = a.download(live_hub.publish(clip, title="Nairobi floods"))
    assert queue.wait_for(here, timeout=30).state == "done"
    time.sleep(0.5)
    for tid in (download, upload):
        t = queue.transfers.get(tid)
        assert t is not None and (t.state, t.last_error) == ("queued", ""), t
    desk.close()
    desk.sign_in(second_hub, "ktn", ANN_PW)
    b = desk.services()
    queue = b.start_engine(sync=False, rules=False, hot_folders=False, media=False)
    for tid in (download, upload):
        assert queue.wait_for(tid, timeout=60).state == "done"
    known = b.library.get(there)
    assert known is not None and known.downloaded
    assert publisher(second_hub, "For the second hub") == "ktn"


def test_the_same_item_asked_by_two_members_is_a_transfer_each(
    desk: Desk, live_hub: LiveHub, clip: Path
) -> None:
    # Ben got Ann's transfer back ("asked twice: the same transfer"): the file went to her
    # library and history, never to his
    live_hub.member("ann", ANN_PW)
    live_hub.member("ben", BEN_PW)
    item = live_hub.publish(clip, title="Elections in Accra")
    desk.sign_in(live_hub, "ann", ANN_PW)
    ann = desk.services()
    anns = ann.download(item)
    assert ann.download(item) == anns  # asked twice by her: the same one
    anns_upload = ann.upload(clip, fields("Ann's clip"))
    desk.close()
    desk.sign_in(live_hub, "ben", BEN_PW)
    ben = desk.services()
    bens = ben.download(item)
    assert bens != anns
    # nor is her upload of the same file his to resume, or to cancel as superseded
    sha = file_sha256(clip)
    assert ben.open_upload(clip, sha) is None
    assert ben.superseded_uploads(clip, "0" * 64) == []
    queue = ben.start_engine(sync=False, rules=False, hot_folders=False, media=False)
    assert queue.wait_for(bens, timeout=30).state == "done"
    known = ben.library.get(item)
    assert known is not None and known.downloaded
    assert [e.type for e in ben.history().list()] == ["download_completed"]
    assert {t.id: t.state for t in queue.transfers.all()} == {
        anns: "queued",
        anns_upload: "queued",
        bens: "done",
    }


def test_transfers_the_hub_refused_the_sign_in_for_go_on_after_a_new_sign_in(
    desk: Desk, live_hub: LiveHub, clip: Path, other_clip: Path
) -> None:
    # signed out while they ran (the app's Sign out revoked the token before its engine
    # stopped): "The hub did not accept this sign-in; sign in again, then retry." — and after
    # signing in again as the same member they stayed failed
    live_hub.member("ann", ANN_PW)
    live_hub.member("ben", BEN_PW)
    item = live_hub.publish(clip, title="Lusaka markets")
    gone = live_hub.publish(clip, title="Taken down")
    ben_name = desk.sign_in(live_hub, "ben", BEN_PW)
    name = desk.sign_in(live_hub, "ann", ANN_PW)
    ann = desk.services()
    ann.client()  # the engine holds the sign-in it started with
    other = ann.download(gone)
    queue = ann.make_queue()
    queue.transfers.finish(other, "failed", error="The file is no longer on the server.")
    bens = queue.add_download(
        "http://127.0.0.1:9/x", desk.paths.downloads_dir / "x.mp4", extra={"profile": ben_name}
    )
    queue.transfers.finish(bens, "failed", error="The hub did not accept this sign-in; sign in "
                           "again, then retry.")  # fmt: skip
    upload = ann.upload(other_clip, fields("Our floods"))
    download = ann.download(item)
    assert sign_out(ann.profiles, desk.secrets, name)  # revoked on the hub
    queue = ann.start_engine(sync=False, rules=False, hot_folders=False, media=False)
    # refused, they wait for a new sign-in (queued), not failed (tests/client/test_sign_in_hold)
    refused = wait_until(
        lambda: (
            rows
            if all(rows := [queue.transfers.get(tid) for tid in (upload, download)])
            and all(t and t.last_error for t in rows)
            else None
        ),
        timeout=30,
        what="both refused",
    )
    assert [t.state for t in refused if t] == ["queued", "queued"], refused
    assert {t.last_error for t in refused if t} == {
        "The hub did not accept this sign-in; sign in again, then retry."
    }
    desk.close()
    desk.sign_in(live_hub, "ann", ANN_PW)  # the same member again
    ann = desk.services()
    queue = ann.start_engine(sync=False, rules=False, hot_folders=False, media=False)
    for tid in (upload, download):
        assert queue.wait_for(tid, timeout=60).state == "done"
    assert publisher(live_hub, "Our floods") == "ann"
    # what failed for another reason, and another member's, are left as they were
    assert queue.wait_for(other, timeout=1).state == "failed"
    assert queue.wait_for(bens, timeout=1).state == "failed"
