"""The whole client engine (core.services) against a real hub: a rule that fires on a new push,
a hot-folder file written slowly that uploads exactly once, the library and history after."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from alu_client.core.credentials import MemorySecrets
from alu_client.core.library import Query
from alu_client.core.paths import Paths
from alu_client.core.profiles import Profiles, sign_in
from alu_client.core.rules import Conditions, RuleStore
from alu_client.core.services import Services
from alu_client.core.store import Store
from alu_hub.media import generate_clip
from tests.support.livehub import LiveHub
from tests.support.waiting import wait_until

PASSWORD = "pw-engine-e2e"


def make_paths(root: Path) -> Paths:
    return Paths(root / "data", root / "cache", root / "logs", root / "downloads").ensure()


@pytest.fixture
def desk(live_hub: LiveHub, tmp_path: Path) -> Iterator[Services]:
    live_hub.member("ktn", PASSWORD)
    services = live_hub.workstation(tmp_path / "desk", "ktn", PASSWORD)
    yield services
    services.stop()


def test_a_rule_fires_on_a_new_push(desk: Services, live_hub: LiveHub, clip: Path) -> None:
    before = live_hub.publish(clip, title="Old sports item", category="sport", priority="flash")
    RuleStore(desk.store, desk.require_profile().name).add(
        "flash politics", Conditions.of(priorities="flash", words="élection*")
    )
    queue = desk.start_engine(media=True)
    # The catch-up stores the older item; it does not match (sport), nothing is queued.
    wait_until(lambda: desk.library.get(before) is not None, timeout=20, what="catch-up")
    new = live_hub.publish(
        clip, title="ÉLECTIONS au Kenya : résultats", language="fr", priority="flash"
    )
    other = live_hub.publish(clip, title="Elections, routine", priority="routine")

    def downloaded() -> bool:
        li = desk.library.get(new)
        return li is not None and li.downloaded

    wait_until(downloaded, timeout=60, what="the rule's download in the library")
    li = desk.library.get(new)
    assert li is not None
    f = li.file("broadcast")
    assert f is not None and f.present
    assert hashlib.sha256(Path(f.path).read_bytes()).hexdigest() == f.sha256
    wait_until(lambda: desk.library.get(other) is not None, timeout=20, what="routine item")
    transfers = queue.transfers.all(None, "download")
    assert [(t.item_id, t.options.get("rule")) for t in transfers] == [(new, "flash politics")]
    # The history names the rule; the media worker probed the file and made its thumbnail.
    events = desk.history().list()
    done = [e for e in events if e.type == "download_completed"]
    assert [(e.item_id, e.detail.get("rule")) for e in done] == [(new, "flash politics")]

    def probed() -> bool:
        li = desk.library.get(new)
        g = li.file("broadcast") if li else None
        return g is not None and g.probe is not None and bool(g.thumbnail)

    wait_until(probed, timeout=30, what="probe and thumbnail")
    # Each item evaluated once: a restart of the rules queues nothing more.
    desk.evaluate_rules()
    assert len(queue.transfers.all(None, "download")) == 1


def test_a_hot_folder_file_written_slowly_uploads_exactly_once(
    desk: Services, live_hub: LiveHub, tmp_path: Path
) -> None:
    source = tmp_path / "footage.mp4"
    generate_clip(source, seconds=1.0, width=320, height=240, seed=21)
    data = source.read_bytes()
    folder = tmp_path / "hot"
    folder.mkdir()
    desk.start_engine()
    assert desk.hot_folders is not None
    desk.hot_folders.add_folder(folder, {"language": "en", "category": "news"}, settle_seconds=1.0)
    (folder / "Mombasa port strike.json").write_text('{"title": "Mombasa port strike"}')
    target = folder / "Mombasa port strike.mp4"
    step = len(data) // 6 + 1
    written = threading.Event()

    def write_slowly() -> None:
        with open(target, "wb") as f:
            for i in range(0, len(data), step):
                f.write(data[i : i + step])
                f.flush()
                written.wait(0.4)  # a camera card copying slowly
        written.set()

    writer = threading.Thread(target=write_slowly)
    writer.start()
    queue = desk.queue
    assert queue is not None
    while not written.is_set():  # nothing may be taken while the file grows
        assert queue.transfers.all(None, "upload") == []
        written.wait(0.1)
    writer.join()

    wait_until(lambda: (folder / "sent" / target.name).exists(), timeout=90, what="moved to sent")
    uploads = queue.transfers.all(None, "upload")
    assert len(uploads) == 1 and uploads[0].state == "done"
    item_id = uploads[0].result.get("item_id")
    assert item_id
    wait_until(lambda: desk.library.get(str(item_id)) is not None, timeout=30, what="in the feed")
    li = desk.library.get(str(item_id))
    assert li is not None and li.item.title == "Mombasa port strike"
    assert li.item.kind == "member_upload" and li.item.category == "news"
    found = desk.library.search(Query(text="mombasa"))
    assert [x.id for x in found.items] == [item_id]
    # A copy of the same footage dropped again is not uploaded twice.
    (folder / "again.mp4").write_bytes(data)
    wait_until(lambda: (folder / "sent" / "again.mp4").exists(), timeout=30, what="dup moved")
    assert len(queue.transfers.all(None, "upload")) == 1


def test_a_finished_download_reaches_the_hubs_history_at_once(
    desk: Services, live_hub: LiveHub, clip: Path
) -> None:
    """The event waited for the next history round (a minute): nothing asked for it sooner."""
    item = live_hub.publish(clip, title="Dakar port strike")
    queue = desk.start_engine(rules=False, hot_folders=False, media=False)
    sync = desk.sync
    assert sync is not None and sync.history_interval >= 60
    wait_until(lambda: sync.status.online, timeout=20, what="online")
    wait_until(lambda: desk.library.get(item) is not None, timeout=20, what="catch-up")
    tid = desk.download(item)
    queue.wait_for(tid, timeout=30)

    def sent() -> bool:
        events = [e for e in desk.history().list() if e.type == "download_completed"]
        return bool(events) and events[0].sent_at is not None

    wait_until(sent, timeout=15, what="the event sent to the hub")


def test_download_asked_again_resumes_a_paused_one_and_retries_a_failed_one(
    desk: Services, live_hub: LiveHub, clip: Path
) -> None:
    # the Feed's Download on an item whose download was paused did nothing and said nothing;
    # on one that had failed, it began a second transfer beside the failed one
    item = live_hub.publish(clip, title="Accra fuel prices")
    queue = desk.make_queue()  # (not started: states only)
    tid = desk.download(item, queue=queue)
    queue.pause(tid)
    assert queue.transfers.get(tid).state == "paused"  # type: ignore[union-attr]
    assert desk.download(item, queue=queue) == tid
    assert queue.transfers.get(tid).state == "queued"  # type: ignore[union-attr]
    queue.transfers.finish(tid, "failed", error="The link was refused.")
    assert desk.download(item, queue=queue) == tid
    assert queue.transfers.get(tid).state == "queued"  # type: ignore[union-attr]
    assert [t.id for t in queue.transfers.all(None, "download")] == [tid]
    # a failed one of a file the item no longer has: a new transfer for the new file
    queue.transfers.finish(tid, "failed", error="The file is no longer on the server.")
    queue.transfers.set_sha256(tid, "0" * 64)
    again = desk.download(item, queue=queue)
    assert again != tid and queue.transfers.get(tid).state == "failed"  # type: ignore[union-attr]


def test_queueing_a_download_reads_the_queue_by_its_item_not_whole(
    desk: Services, live_hub: LiveHub, clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # each download asked read and decoded the whole transfers table twice: 2,000 items
    # from the Feed took 95 s to queue, the last ones 17 times slower than the first
    from alu_client.core.store import transfers as transfers_module

    item = live_hub.publish(clip, title="Harare power cuts")
    queue = desk.make_queue()  # (not started: states only)
    for n in range(300):  # an outage's backlog
        queue.transfers.add("download", f"http://hub/{n}", f"/tmp/backlog/{n}.mp4")
    decoded: list[int] = []
    real = transfers_module.Transfer.from_row

    def counting(row: object) -> transfers_module.Transfer:
        decoded.append(1)
        return real(row)  # type: ignore[arg-type]

    monkeypatch.setattr(transfers_module.Transfer, "from_row", staticmethod(counting))
    tid = desk.download(item, queue=queue)
    assert len(decoded) < 20, len(decoded)  # was 600 and more
    assert desk.download(item, queue=queue) == tid  # asked twice: still found


def test_downloads_go_to_the_folder_chosen_in_settings(
    desk: Services, live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    # Settings → Download folder was stored and never read: files went to the default folder
    from alu_client.core.settings import AppSettings

    first = live_hub.publish(clip, title="Kigali marathon")
    second = live_hub.publish(clip, title="Lagos floods")
    chosen = tmp_path / "newsroom share" / "ALU"
    chosen.mkdir(parents=True)  # (Settings takes only a folder that is there)
    AppSettings(desk.store, desk.paths.downloads_dir).download_dir = chosen
    queue = desk.make_queue()  # (not started: where it would go)
    tid = desk.download(first, queue=queue)
    assert Path(queue.transfers.get(tid).destination).parent == chosen  # type: ignore[union-attr]
    # the share is away: nothing is made on the system disk in its place, nothing queued —
    # its mount point left empty too
    from alu_client.core.services import DownloadFolderGone

    for away in (tmp_path / "gone" / "ALU", chosen.parent / "unmounted"):
        AppSettings(desk.store, desk.paths.downloads_dir).download_dir = away
        with pytest.raises(DownloadFolderGone, match="plug it in, or choose another folder"):
            desk.download(second, queue=queue)
        assert not away.exists()
    assert [t.id for t in queue.transfers.all(None, "download")] == [tid]


def test_a_running_engine_takes_a_sign_in_made_by_another_process(
    desk: Services, live_hub: LiveHub, clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the password changed while `alu watch run` ran; the member signed in again with
    # `alu login`: the engine kept the revoked token (HTTP 401, "Sign in again") for good,
    # and what had failed for it stayed failed
    import subprocess
    import sys

    import requests

    from alu_client.core import services as services_module
    from alu_client.core.sync import ONLINE
    from alu_client.core.sync import feed as feed_module
    from tests.support.livehub import hub_env

    monkeypatch.setattr(services_module, "TOKEN_RECHECK_S", 0.5)
    monkeypatch.setattr(feed_module, "SIGNED_OUT_RECHECK_S", 1.0)
    item = live_hub.publish(clip, title="Harare council vote")
    queue = desk.start_engine(rules=False, hot_folders=False, media=False)
    sync = desk.sync
    assert sync is not None
    wait_until(lambda: sync.status.online, timeout=20, what="online")
    old = desk.client().auth_headers()
    data = live_hub.tmp / "hub"
    changed = subprocess.run(
        [sys.executable, "-m", "alu_hub.cli", "member", "password", "ktn", "--password-stdin",
         "--data", str(data)],
        input="pw-new-12345\n", capture_output=True, text=True, timeout=60,
        env=hub_env(data),
    )  # fmt: skip
    assert changed.returncode == 0, changed.stderr
    wait_until(
        lambda: requests.get(live_hub.api("/me"), headers=old, timeout=10).status_code == 401,
        timeout=15,
        what="the hub to refuse the old sign-in (its token cache)",
    )
    tid = desk.download(item)
    refused = wait_until(
        lambda: (t := queue.transfers.get(tid)) is not None and t.last_error and t,
        timeout=30,
        what="the download refused",
    )
    assert refused.state == "queued", refused  # it waits for a new sign-in
    # `alu login` in another process: a new token in the token store
    other = Store(desk.paths.db_path)
    try:
        sign_in(Profiles(other), desk.secrets, live_hub.url, "ktn", "pw-new-12345",
                allow_http=True)  # fmt: skip
    finally:
        other.close()
    wait_until(
        lambda: (t := queue.transfers.get(tid)) is not None and t.state == "done",
        timeout=30,
        what="the failed download tried again with the new sign-in, and done",
    )
    wait_until(lambda: sync.status.state == ONLINE, timeout=30, what="online")


def test_downloads_waiting_to_retry_go_as_soon_as_the_hub_is_back(
    live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    # an outage long enough for the back-off to reach minutes: when the hub answers again,
    # the app said "online" and the download sat waiting for its next try all the same
    from alu_client.core.sync import OFFLINE, ONLINE
    from alu_client.core.transfers.retry import Backoff, RetryPolicy
    from tests.support.faultproxy import FaultProxy

    live_hub.member("ktn", PASSWORD)
    item = live_hub.publish(clip, title="Lusaka power cuts")
    with FaultProxy(("127.0.0.1", live_hub.server.port)) as link:
        paths = make_paths(tmp_path / "desk")
        secrets = MemorySecrets()
        store = Store(paths.db_path)
        sign_in(Profiles(store), secrets, link.url, "ktn", PASSWORD, allow_http=True)
        store.close()
        desk = Services(paths, secrets)
        try:
            queue = desk.start_engine(
                rules=False,
                hot_folders=False,
                media=False,
                policy=RetryPolicy(Backoff(base=600.0, cap=600.0, jitter=0.0)),
            )
            sync = desk.sync
            assert sync is not None
            wait_until(lambda: desk.library.get(item) is not None, timeout=20, what="catch-up")
            link.refuse(True)
            wait_until(lambda: sync.status.state == OFFLINE, timeout=20, what="offline")
            tid = desk.download(item)
            wait_until(
                lambda: (
                    (t := queue.transfers.get(tid)) is not None
                    and t.attempts == 1
                    and t.state == "queued"
                    and (t.next_attempt_at or 0) > time.time() + 500
                ),
                timeout=30,
                what="the download failed and waits ten minutes for its next try",
            )
            link.refuse(False)
            wait_until(lambda: sync.status.state == ONLINE, timeout=30, what="online again")
            done = queue.wait_for(tid, timeout=30)
            assert done.state == "done", done
            assert done.attempts == 2
        finally:
            desk.stop()


def test_a_transfer_canceled_from_the_command_line_is_in_the_history(
    desk: Services, live_hub: LiveHub, clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `alu queue cancel` of a queued transfer ended it in a store without the history's hook:
    # the cancel was in no history, here or on the hub (the engine's own cancel was)
    from alu_client.cli import main

    item = live_hub.publish(clip, title="Dakar port strike")
    desk.store_items([desk.client().item(item)])
    tid = desk.download(item)  # queued: no engine runs here
    monkeypatch.setenv("ALU_CLIENT_HOME", str(desk.paths.data_dir.parent))
    monkeypatch.setenv("ALU_SECRETS", "memory")
    assert main(["queue", "cancel", str(tid)]) == 0
    events = [(e.type, e.item_id) for e in desk.history().list()]
    assert events == [("download_canceled", item)]
    assert desk.history().pending() == 1


def test_the_hub_back_hurries_waiting_transfers_now_and_once_more_later(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # an attempt under way during the outage fails only when its connect or stall timeout
    # runs out, just after the hub is back: it would then wait its whole back-off
    from alu_client.core import services as services_module
    from alu_client.core.sync import OFFLINE, ONLINE, SyncStatus

    monkeypatch.setattr(services_module, "HUB_BACK_AGAIN_S", 0.3)
    calls: list[float] = []

    class Queue:
        waits_for_sign_in = False  # (no transfer held for a refused sign-in)

        def retry_waiting(self, which: object) -> int:
            calls.append(time.monotonic())
            return 0

    stopping = threading.Event()
    listener = Services._hub_back(Queue(), "ktn", stopping)  # type: ignore[arg-type]
    listener(SyncStatus(OFFLINE, "down"))
    assert calls == []
    listener(SyncStatus(ONLINE))
    assert len(calls) == 1
    listener(SyncStatus(ONLINE))  # (no transition)
    wait_until(lambda: len(calls) == 2, timeout=5, what="the second hurry")
    time.sleep(0.5)
    assert len(calls) == 2
    listener(SyncStatus(OFFLINE, "down"))
    listener(SyncStatus(ONLINE))
    listener(SyncStatus(OFFLINE, "down again"))  # offline when the second one is due: not then
    time.sleep(0.6)
    assert len(calls) == 3
    listener(SyncStatus(ONLINE))
    stopping.set()  # the engine stopped (its store closed) before the second one is due
    time.sleep(0.6)
    assert len(calls) == 4
