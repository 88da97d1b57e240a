"""When the rules run and by whose clock (rules review findings 2, 3 and 7, the brief's
numbering): "older than a day" is the hub's day, an item new when it arrived is kept while
its rule's folder is away (and said where the user sees it), and `alu sync` runs the rules."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from alu_client.core.credentials import MemorySecrets
from alu_client.core.hub import Connection, HubClient, Item
from alu_client.core.library import upsert_items
from alu_client.core.lockfile import EngineBusy, EngineLock
from alu_client.core.paths import Paths
from alu_client.core.profiles import Profile, Profiles
from alu_client.core.rules import Conditions, Match, Rule, RuleEngine, RuleStore, rule_problems
from alu_client.core.services import Services, writable_folder
from alu_client.core.store import Store
from alu_client.core.sync.state import SyncState
from alu_client.core.transfers.queue import TransferQueue

PROFILE = "ktn"
SHA = "ab" * 32
DAY = 86400.0


def make_item(item_id: str, seq: int, published_at: dt.datetime, **fields: Any) -> Item:
    renditions = [
        {
            "name": name,
            "url": f"https://hub.example/api/v1/items/{item_id}/renditions/{name}",
            "size": 1000,
            "sha256": SHA,
            "filename": f"{item_id}-{name}.mp4",
            "mime": "video/mp4",
            "width": 1920,
            "height": 1080,
        }
        for name in ("broadcast", "proxy")
    ]
    from alu_client.core.hub import parse_item

    data: dict[str, Any] = {
        "id": item_id,
        "seq": seq,
        "kind": "push",
        "title": f"Skew election {item_id}",
        "slug": item_id.upper(),
        "dateline": "",
        "published_at": published_at.isoformat(),
        "category": "politics",
        "region": "",
        "country": "KE",
        "language": "en",
        "priority": "routine",
        "restrictions": "",
        "script": "",
        "shotlist": "",
        "duration": 10.0,
        "renditions": renditions,
        **fields,
    }
    return parse_item(data)


class Recorder:
    def __init__(self, store: Store, tmp: Path, check_folder: bool = False) -> None:
        self.queue = TransferQueue(store)
        self.tmp = tmp
        self.check_folder = check_folder
        self.calls: list[str] = []

    def __call__(self, item: Item, rendition: str, dest_dir: Path | None, rule: Rule) -> int:
        if self.check_folder:
            writable_folder(dest_dir or self.tmp)
        self.calls.append(item.id)
        r = item.rendition(rendition)
        assert r is not None
        return self.queue.add_download(
            r.url,
            (dest_dir or self.tmp) / r.filename,
            sha256=r.sha256,
            size=r.size,
            item_id=item.id,
            rendition=rendition,
            extra={"profile": PROFILE, "rule": rule.name},
        )


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = Store(tmp_path / "library.sqlite3")
    yield s
    s.close()


def hub_now(offset: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(time.time() + offset, dt.UTC)


def two_items(store: Store, offset: float) -> None:
    """One item published 30 h ago and one 1 h ago, on the hub's clock."""
    now = hub_now(offset)
    upsert_items(
        store,
        PROFILE,
        [
            make_item("old", 1, now - dt.timedelta(hours=30)),
            make_item("new", 2, now - dt.timedelta(hours=1)),
        ],
    )


@pytest.mark.parametrize("offset", [365 * DAY, -2 * DAY, 0.0], ids=["behind", "ahead", "right"])
def test_older_than_a_day_is_the_hubs_day_whatever_the_workstations_clock(
    store: Store, tmp_path: Path, offset: float
) -> None:
    """A clock a year behind took the back catalogue; two days ahead, nothing. The feed
    keeps the hub's clock offset (its Date); the engine goes by it."""
    SyncState(store, PROFILE).set_clock_offset(offset)
    RuleStore(store, PROFILE).add("skew", Conditions.of(words="skew election"), action="proxy")
    two_items(store, offset)
    recorder = Recorder(store, tmp_path)
    RuleEngine(store, PROFILE, recorder).evaluate_pending()
    assert recorder.calls == ["new"]


def test_a_clock_behind_never_measured_goes_by_the_newest_item(
    store: Store, tmp_path: Path
) -> None:
    """No Date kept yet: the hub's time is at least that of the newest item it published."""
    RuleStore(store, PROFILE).add("skew", Conditions.of(words="skew election"))
    two_items(store, 365 * DAY)
    recorder = Recorder(store, tmp_path)
    RuleEngine(store, PROFILE, recorder).evaluate_pending()
    assert recorder.calls == ["new"]


def test_the_client_reads_the_hubs_clock_from_its_answers() -> None:
    client = HubClient(Connection("https://hub.example"))
    assert client.clock_offset is None
    resp = requests.Response()
    hub_time = dt.datetime.now(dt.UTC) + dt.timedelta(days=365)
    resp.headers["Date"] = hub_time.strftime("%a, %d %b %Y %H:%M:%S GMT")
    client._note_clock(resp)
    assert client.clock_offset is not None
    assert abs(client.clock_offset - 365 * DAY) < 5


def test_the_feed_keeps_the_clock_offset_and_says_a_large_one(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    from alu_client.core.hub import ItemPage
    from alu_client.core.sync import FeedSync

    class Client:
        clock_offset = -2 * DAY

        def items(self, after: int = 0, limit: int = 100) -> ItemPage:
            return ItemPage([], after, False, last=after)

    state = SyncState(store, PROFILE)
    sync = FeedSync(lambda: Client(), state, lambda items: items)  # type: ignore[arg-type,return-value]
    with caplog.at_level("WARNING"):
        sync.catch_up()
        sync.catch_up()
    assert state.clock_offset == -2 * DAY
    said = [r.getMessage() for r in caplog.records if "clock" in r.getMessage()]
    assert len(said) == 1 and "48.0 hours ahead of the hub's" in said[0]


def test_items_held_for_a_folder_away_are_kept_past_a_day_and_said(
    store: Store, tmp_path: Path
) -> None:
    """The share came back 26 h later: the held item was marked done, never downloaded,
    and nothing said so anywhere but the log."""
    share = tmp_path / "share"
    share.write_text("not mounted: a file in the way")
    rules = RuleStore(store, PROFILE)
    newsshare = rules.add("newsshare", Conditions(), destination=share / "news")
    upsert_items(store, PROFILE, [make_item("story", 1, hub_now(0) - dt.timedelta(minutes=5))])
    recorder = Recorder(store, tmp_path, check_folder=True)
    engine = RuleEngine(store, PROFILE, recorder)
    assert [m.retry for m in engine.evaluate_pending()] == [True]
    [problem] = rule_problems(store, PROFILE)
    assert (problem.rule_id, problem.rule, problem.waiting) == (newsshare.id, "newsshare", 1)
    assert str(share / "news") in problem.error and "Not a directory" in problem.error
    assert problem.first == "Skew election story"
    # a day and two hours later, the share is back
    share.unlink()
    (share / "news").mkdir(parents=True)
    later = hub_now(26 * 3600)
    found = engine.evaluate_pending(now=later)
    assert [(m.item.id, m.transfer_id is not None) for m in found] == [("story", True)]
    assert recorder.calls == ["story"]
    assert rule_problems(store, PROFILE) == []


def test_a_held_item_whose_rule_is_removed_is_let_go(store: Store, tmp_path: Path) -> None:
    share = tmp_path / "share"
    share.write_text("in the way")
    rules = RuleStore(store, PROFILE)
    gone = rules.add("gone", Conditions(), destination=share / "news")
    upsert_items(store, PROFILE, [make_item("story", 1, hub_now(0))])
    engine = RuleEngine(store, PROFILE, Recorder(store, tmp_path, check_folder=True))
    engine.evaluate_pending()
    assert [p.rule for p in rule_problems(store, PROFILE)] == ["gone"]
    rules.remove(gone.id)
    assert engine.evaluate_pending() == []
    assert rule_problems(store, PROFILE) == []
    row = store.query_one("SELECT rules_done FROM items WHERE id = 'story'")
    assert row is not None and row[0] == 1


@pytest.fixture
def services(tmp_path: Path) -> Any:
    paths = Paths(tmp_path / "d", tmp_path / "c", tmp_path / "l", tmp_path / "dl").ensure()
    store = Store(paths.db_path)
    Profiles(store).save(Profile(PROFILE, "https://hub.example", "ktn"))
    store.close()
    s = Services(paths, MemorySecrets())
    yield s
    s.stop()


def test_sync_without_an_engine_queues_what_the_rules_match(
    services: Services, tmp_path: Path
) -> None:
    """`alu sync` brought new items and ran no rule (its engine was never built): an engine
    started more than a day later never downloaded them."""
    RuleStore(services.store, PROFILE).add("skew", Conditions.of(words="skew election"))
    services.store_items([make_item("new", 1, hub_now(0) - dt.timedelta(hours=1))])
    found = services.evaluate_rules_now()
    assert [m.item.id for m in found] == ["new"]
    queued = services.transfer_store().all(("queued",))
    assert [(t.item_id, t.options.get("rule")) for t in queued] == [("new", "skew")]
    # the next engine does not queue it again
    assert services.evaluate_rules_now() == []


def test_sync_beside_a_running_engine_leaves_the_rules_to_it(services: Services) -> None:
    RuleStore(services.store, PROFILE).add("all", Conditions())
    services.store_items([make_item("new", 1, hub_now(0))])
    running = EngineLock(services.paths.engine_lock).acquire()
    try:
        with pytest.raises(EngineBusy) as busy:
            services.evaluate_rules_now()
        assert not busy.value.one_shot  # an engine: it evaluates them itself
    finally:
        running.release()
    row = services.store.query_one("SELECT rules_done FROM items WHERE id = 'new'")
    assert row is not None and row[0] == 0  # left for that engine's evaluation


def test_sync_beside_another_sync_or_a_one_shot_command_is_told_apart_from_an_engine(
    services: Services,
) -> None:
    # review: a second `alu sync` (or one beside `alu get`) said "the engine running applies
    # them"; nothing did. The lock an evaluation holds says it is a one-shot running no
    # transfer, as `alu get`'s says its own
    from alu_client.core.lockfile import holder

    RuleStore(services.store, PROFILE).add("all", Conditions())
    services.store_items([make_item("new", 1, hub_now(0))])
    seen: list[object] = []
    original = services.evaluate_rules

    def look() -> list[Match]:
        seen.append(holder(services.paths.engine_lock))
        other = Services(services.paths, MemorySecrets())  # another `alu sync`
        try:
            with pytest.raises(EngineBusy) as busy:
                other.evaluate_rules_now()
        finally:
            other.stop()
        seen.append(busy.value.one_shot)
        return original()

    services.evaluate_rules = look  # type: ignore[method-assign]
    services.evaluate_rules_now()
    [who, one_shot] = seen
    assert who is not None and who.only == frozenset() and one_shot is True


def test_an_item_stored_by_sync_is_new_when_the_engine_comes_a_day_later(
    store: Store, tmp_path: Path
) -> None:
    """Items `alu sync` stored while new (an engine running elsewhere on the data folder left
    them) are not dropped because the engine came more than a day after."""
    RuleStore(store, PROFILE).add("all", Conditions())
    upsert_items(store, PROFILE, [make_item("new", 1, hub_now(0) - dt.timedelta(hours=1))])
    recorder = Recorder(store, tmp_path)
    RuleEngine(store, PROFILE, recorder).evaluate_pending(now=hub_now(30 * 3600))
    assert recorder.calls == ["new"]


def test_rules_list_names_a_rule_whose_items_wait(
    services: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    share = tmp_path / "share"
    share.write_text("in the way")
    RuleStore(services.store, PROFILE).add("newsshare", Conditions(), destination=share / "n")
    services.store_items([make_item("story", 1, hub_now(0))])
    services.evaluate_rules_now()
    [problem] = services.rule_problems()
    assert problem.waiting == 1
    state = json.loads(SyncState(services.store, PROFILE).get("rule_problems") or "[]")
    assert state[0]["rule"] == "newsshare"


def test_alu_sync_says_the_rules_wait_when_a_one_shot_command_holds_the_folder(
    services: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    from alu_client.cli.item_verbs import _apply_rules

    RuleStore(services.store, PROFILE).add("all", Conditions())
    services.store_items([make_item("new", 1, hub_now(0))])
    fetching = EngineLock(services.paths.engine_lock).acquire(frozenset({7}))  # `alu get`
    try:
        _apply_rules(services)
    finally:
        fetching.release()
    said = capsys.readouterr()
    assert "not applied now: another alu command" in said.err
    assert "engine running" not in said.out + said.err
    engine = EngineLock(services.paths.engine_lock).acquire()  # the app, `alu watch run`
    try:
        _apply_rules(services)
    finally:
        engine.release()
    assert "applied by the engine running on this data folder" in capsys.readouterr().out


def test_the_upgrade_does_not_queue_the_old_items_syncs_stored_without_rules(
    tmp_path: Path,
) -> None:
    """Review: before migration 16 `alu sync` stored items and evaluated none. The day is now
    measured from when an item arrived, so the first engine of this version queued every item
    of days of syncing (ten of ten in the reviewer's library). Migration 17 marks those
    published more than a day ago evaluated, as the engine before would have skipped them."""
    path = tmp_path / "library.sqlite3"
    store = Store(path)
    RuleStore(store, PROFILE).add("all", Conditions())
    days_ago = [make_item(f"old{n}", n, hub_now(-n * DAY - 3600)) for n in range(1, 4)]
    recent = make_item("recent", 9, hub_now(-3600))
    upsert_items(store, PROFILE, [*days_ago, recent])
    with store.write() as conn:  # stored as each arrived, by a sync that ran no rule
        for item in days_ago:
            conn.execute(
                "UPDATE items SET first_seen_at = ? WHERE id = ?",
                (item.published_at.timestamp() + 60, item.id),
            )
        conn.execute("PRAGMA user_version = 16")
    store.close()
    store = Store(path)  # the new version's first start: migration 17
    try:
        recorder = Recorder(store, tmp_path)
        RuleEngine(store, PROFILE, recorder).evaluate_pending()
        assert recorder.calls == ["recent"]
    finally:
        store.close()


def test_one_item_dated_a_year_ahead_does_not_make_every_other_item_old(
    store: Store, tmp_path: Path
) -> None:
    """Review: with no Date heard yet, the hub's time was the newest item's; one item dated a
    year ahead by mistake made the rest a year old, and no rule took any of them."""
    RuleStore(store, PROFILE).add("skew", Conditions.of(words="skew election"))
    now = hub_now(0)
    upsert_items(
        store,
        PROFILE,
        [
            make_item("typo", 1, now + dt.timedelta(days=365)),
            make_item("a", 2, now - dt.timedelta(hours=1)),
            make_item("b", 3, now - dt.timedelta(hours=2)),
            make_item("old", 4, now - dt.timedelta(hours=30)),
        ],
    )
    recorder = Recorder(store, tmp_path)
    RuleEngine(store, PROFILE, recorder).evaluate_pending()
    assert sorted(recorder.calls) == ["a", "b", "typo"]
