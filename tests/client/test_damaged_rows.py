"""A row edited by hand or half-written in the library, outside the transfer queue: like a
damaged transfer, it fails alone. The record is read with stand-ins (or set aside) and named in
one warning that says what to do; the rest of the library, every verb and the app still work,
never with a traceback and never with argparse's usage-error code 2.

SQLite keeps any type in any column: ``UPDATE … SET priority = 'x'`` is all it takes."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from alu_client.core.credentials import FileSecrets
from alu_client.core.hub import Item
from alu_client.core.library import Library, Query, record_file, upsert_items
from alu_client.core.paths import Paths
from alu_client.core.profiles import Profile, Profiles
from alu_client.core.rules import RuleEngine
from alu_client.core.store import Store
from alu_client.core.store import rows as rows_module
from alu_client.core.sync.history import HistorySync, record_event
from alu_client.core.watch.folders import DEFAULT_SETTLE, WatchFile, WatchFolder
from tests.client.test_library import make_item

PROFILE = "ktn@hub"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _warn_again() -> Iterator[None]:
    """Each test sees its warnings (they are said once per record and process)."""
    rows_module._warned.clear()
    yield
    rows_module._warned.clear()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "library.sqlite3")
    yield s
    s.close()


def damage(store: Store, sql: str, *params: object) -> None:
    with store.write() as c:
        c.execute(sql, params)


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


# --- each table's reader ----------------------------------------------------------------------


def test_a_profile_whose_created_time_is_no_number_is_read_and_repaired_by_a_sign_in(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    profiles = Profiles(store)
    profiles.save(Profile(PROFILE, "https://hub.example.org", "ktn", created_at=100.0))
    damage(store, "UPDATE profiles SET created_at = 'abc', allow_http = 'yes'")
    profile = profiles.active()  # what every verb and the app's start do first
    assert profile is not None and profile.name == PROFILE
    assert profile.created_at == 0.0
    assert profile.allow_http is False  # 'yes' is no answer: the safe default, https
    assert warnings(caplog) == [
        f"profile {PROFILE}: its record in the library is damaged (cannot read allow_http, "
        "created_at); sign in to its hub again to write it anew."
    ]
    profiles.save(profile)  # what a sign-in does: the created time is a number again
    row = store.query_one("SELECT typeof(created_at) FROM profiles")
    assert row is not None and row[0] == "real"


def test_an_item_with_a_damaged_priority_or_time_is_listed_and_searched_with_the_others(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    upsert_items(store, PROFILE, [make_item(1), make_item(2, title="Élections au Kenya")])
    damage(store, "UPDATE items SET priority = 'x', published_at = 'garbage' WHERE seq = 1")
    damage(store, "UPDATE items SET recorded_at = 'later' WHERE seq = 2")
    library = Library(store, PROFILE)
    page = library.search(Query())
    assert sorted(li.seq for li in page.items) == [1, 2]
    bad = next(li for li in page.items if li.seq == 1)
    assert bad.damaged == "published_at, priority"
    assert bad.item.priority == "routine"
    first_seen = dt.datetime.fromtimestamp(bad.first_seen_at, dt.UTC)
    assert bad.item.published_at == first_seen  # when it came in: the closest time known
    assert [li.seq for li in library.search(Query(text="elections")).items] == [2]
    got = library.get("it000002")
    assert got is not None and got.damaged == "recorded_at" and got.item.recorded_at is None
    said = warnings(caplog)
    assert (
        "item it000001: its record in the library is damaged (cannot read published_at, "
        "priority); the rest of it is shown; downloading it reads it again from the hub."
    ) in said
    assert len(said) == 2  # once per record, however often the list is read again
    library.search(Query())
    assert len(warnings(caplog)) == 2


def test_an_item_kept_by_an_older_version_with_no_clip_length_is_listed_without_one(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # an older version took "duration": 1e999 (infinity) or 1e300 from a hub: the Feed raised
    # on every paint of the row and `alu feed --json` printed Infinity (no JSON)
    upsert_items(store, PROFILE, [make_item(1), make_item(2), make_item(3)])
    damage(store, "UPDATE items SET duration = ? WHERE seq = 1", float("inf"))
    damage(store, "UPDATE items SET duration = 1e300 WHERE seq = 2")
    page = Library(store, PROFILE).search(Query())
    read = {li.seq: (li.item.duration, li.damaged) for li in page.items}
    assert read == {1: (0.0, "duration"), 2: (0.0, "duration"), 3: (make_item(3).duration, "")}
    assert any("item it000001: its record in the library is damaged" in w for w in warnings(caplog))


def test_the_rules_pass_over_a_damaged_item_without_a_traceback(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # recent, so that a rule would take them; the damaged one is not tried on stand-ins
    now = dt.datetime.now(dt.UTC)
    upsert_items(store, PROFILE, [make_item(1, published_at=now), make_item(2, published_at=now)])
    damage(store, "UPDATE items SET priority = 'x' WHERE seq = 1")
    queued: list[str] = []

    def enqueue(item: Item, *_rest: object) -> int:
        queued.append(item.id)
        return len(queued)

    engine = RuleEngine(store, PROFILE, enqueue)
    engine.rules.add("everything")
    engine.evaluate_pending(now=now)
    assert queued == ["it000002"]
    row = store.query_one("SELECT rules_done FROM items WHERE seq = 1")
    assert row is not None and row[0] == 1  # tried once, as a row that raised always was
    assert not [r for r in caplog.records if r.exc_info]
    assert "rules skip item it000001: item it000001's record in the library is damaged" in (
        " ".join(warnings(caplog))
    )


def test_a_history_event_with_text_for_numbers_is_listed_and_not_sent(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    with store.write() as c:
        bad = record_event(c, PROFILE, "download", item_id="a", bytes=10, started_at=1.0)
        good = record_event(c, PROFILE, "download", item_id="b", bytes=20, started_at=2.0)
    damage(
        store,
        "UPDATE history SET bytes = 'lots', started_at = 'x', ended_at = 'y' WHERE id = ?",
        bad,
    )
    sent: list[list[dict[str, object]]] = []

    class Hub:
        def post_history(self, events: list[dict[str, object]], _now: object) -> None:
            sent.append(events)

    history = HistorySync(store, PROFILE, lambda: Hub())  # type: ignore[arg-type,return-value]
    events = {e.id: e for e in history.list()}
    assert (events[bad].bytes, events[bad].started_at, events[bad].ended_at) == (0, None, None)
    assert events[good].bytes == 20
    assert history.push() == 1
    assert [e["id"] for batch in sent for e in batch] == [good]  # no stand-in figures sent
    assert history.pending() == 0  # the damaged one no longer holds the outbox back
    refused = {e.id: e.refused for e in history.list()}
    assert refused == {
        bad: "its record in the library is damaged (cannot read bytes, started_at, ended_at)",
        good: "",
    }
    assert any(f"history event {bad}: its record" in w for w in warnings(caplog))


def test_a_hot_folder_with_a_damaged_setting_takes_its_default(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    damage(
        store,
        "INSERT INTO watch_folders (profile, path, defaults, settle_seconds, created_at)"
        " VALUES (?, ?, '{}', 'x', 0)",
        PROFILE,
        str(tmp_path / "hot"),
    )
    row = store.query_one("SELECT * FROM watch_folders")
    assert row is not None
    folder = WatchFolder.from_row(row)
    assert folder.settle_seconds == DEFAULT_SETTLE and folder.path == tmp_path / "hot"
    assert warnings(caplog) == [
        f"hot folder {tmp_path / 'hot'}: its record in the library is damaged (cannot read "
        "settle_seconds); its default settings are used until they are saved again (in "
        "Settings, or with alu watch remove and add)."
    ]
    damage(
        store,
        "INSERT INTO watch_files (folder_id, path, size, mtime_ns, state, at)"
        " VALUES (?, 'clip.mp4', 'big', 5, 'sent', 0)",
        folder.id,
    )
    record = store.query_one("SELECT * FROM watch_files")
    assert record is not None and WatchFile.from_row(record).size == -1


def _recorded(store: Store, tmp_path: Path, name: str, size: int = 5) -> Path:
    path = tmp_path / name
    path.write_bytes(b"x" * size)
    with store.write() as c:
        record_file(c, PROFILE, name, "broadcast", path, size, "ab" * 32)
    return path


def test_a_library_file_whose_size_is_no_number_is_checked_as_damaged_and_never_deleted(
    store: Store, tmp_path: Path
) -> None:
    bad, good = _recorded(store, tmp_path, "bad"), _recorded(store, tmp_path, "good")
    damage(store, "UPDATE library_files SET size = 'big' WHERE item_id = 'bad'")
    library = Library(store, PROFILE)
    report = library.check_files()
    assert report.checked == 2
    assert [(m.item_id, m.reason) for m in report.missing] == [
        ("bad", "its record in the library is damaged; download it again")
    ]
    # retention neither counts nor deletes a file it cannot check; the others it does
    freed = library.apply_retention(0, None, now=1e12)
    assert freed.removed == 1 and not good.exists() and bad.exists()


# --- the verbs, as a user runs them -----------------------------------------------------------


def make_home(root: Path) -> Path:
    """A data folder signed in (a token for an unreachable hub) with two items, a download,
    a history event and a hot folder."""
    paths = Paths(root / "data", root / "cache", root / "logs", root / "downloads").ensure()
    store = Store(paths.db_path)
    profile = Profiles(store).save(Profile(PROFILE, "http://127.0.0.1:9", "ktn", allow_http=True))
    FileSecrets(paths.data_dir / "secrets-NOT-SECURE.json").set(profile.secret_key, "t" * 40)
    items: list[Item] = [make_item(1, title="Élections au Kenya"), make_item(2)]
    upsert_items(store, PROFILE, items)
    clip = root / "clip.mp4"
    clip.write_bytes(b"x" * 5)
    with store.write() as c:
        record_file(c, PROFILE, "it000001", "broadcast", clip, 5, "ab" * 32)
        record_event(c, PROFILE, "download", item_id="it000001", bytes=5, ended_at=1.7e9)
        c.execute(
            "INSERT INTO watch_folders (profile, path, created_at) VALUES (?, ?, 0)",
            (PROFILE, str(root)),
        )
    store.close()
    return root


def alu(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ALU_CLIENT_HOME": str(home), "ALU_SECRETS": "insecure-file"}
    return subprocess.run(
        [sys.executable, "-m", "alu_client.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("sql", "verbs", "said"),
    [
        (
            "UPDATE profiles SET created_at = 'abc'",
            [["queue", "list"], ["feed", "--offline"], ["whoami"]],
            f"profile {PROFILE}: its record in the library is damaged (cannot read created_at",
        ),
        (
            "UPDATE items SET priority = 'x' WHERE seq = 1",
            [["feed", "--offline"], ["library", "search", "élections"]],
            "item it000001: its record in the library is damaged (cannot read priority",
        ),
        (
            "UPDATE items SET published_at = 'garbage' WHERE seq = 1",
            [["feed", "--offline"], ["library", "search", "élections"]],
            "item it000001: its record in the library is damaged (cannot read published_at",
        ),
        (
            "UPDATE history SET bytes = 'lots', started_at = 'x', ended_at = 'y'",
            [["history", "--offline"], ["history", "--offline", "--json"]],
            "its record in the library is damaged (cannot read bytes, started_at, ended_at",
        ),
        (
            "UPDATE watch_folders SET settle_seconds = 'x'",
            [["watch", "list"]],
            "its record in the library is damaged (cannot read settle_seconds",
        ),
        (
            "UPDATE library_files SET size = 'big'",
            [["library", "check"], ["library", "search", "élections"]],
            "library file it000001/broadcast: its record in the library is damaged (cannot read size",
        ),
    ],
)
def test_a_damaged_row_is_one_warning_and_every_verb_works(
    tmp_path: Path, sql: str, verbs: list[list[str]], said: str
) -> None:
    home = make_home(tmp_path / "home")
    store = Store(home / "data" / "library.sqlite3")
    damage(store, sql)
    store.close()
    for verb in verbs:
        r = alu(home, *verb)
        out = r.stdout + r.stderr
        assert "Traceback" not in out, (verb, out)
        assert r.returncode in (0, 1), (verb, out)  # 1: whoami, not reached; never 2
        assert r.returncode == 0 or verb == ["whoami"], (verb, out)
        assert said in r.stderr, (verb, out)
        if verb[:1] == ["feed"]:
            assert "it000002" in r.stdout or "Item number 2" in r.stdout  # the rest is shown


def test_the_app_starts_with_a_damaged_profile_and_item(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    store = Store(home / "data" / "library.sqlite3")
    damage(store, "UPDATE profiles SET created_at = 'abc'")
    damage(store, "UPDATE items SET priority = 'x' WHERE seq = 1")
    store.close()
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "ALU_CLIENT_HOME": str(home),
        "ALU_SECRETS": "insecure-file",
        "ALU_CLIENT_EXIT_AFTER": "6",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-m", "alu_client.app"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "window shown=True feed panel=True items=2" in done.stdout, out
    log = (home / "logs" / "alu-client.log").read_text(encoding="utf-8")
    assert "Traceback" not in out + log
    assert f"profile {PROFILE}: its record in the library is damaged (cannot read created_at" in log
    assert "item it000001: its record in the library is damaged (cannot read priority" in log


def test_a_download_of_a_damaged_item_reads_it_again_from_the_hub(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alu_client.core.credentials import MemorySecrets
    from alu_client.core.services import Services

    home = make_home(tmp_path / "home")
    store = Store(home / "data" / "library.sqlite3")
    damage(store, "UPDATE items SET priority = 'x', renditions = '{bad' WHERE seq = 2")
    store.close()
    paths = Paths(home / "data", home / "cache", home / "logs", home / "downloads")
    services = Services(paths, MemorySecrets())
    hub_copy = make_item(2, priority="urgent")
    asked: list[str] = []
    queued: list[Item] = []

    class Hub:
        def item(self, item_id: str) -> Item:
            asked.append(item_id)
            return hub_copy

    monkeypatch.setattr(services, "client", lambda *a, **kw: Hub())
    monkeypatch.setattr(services, "_enqueue_download", lambda item, *rest: queued.append(item) or 1)
    try:
        services.download("it000002")
        assert asked == ["it000002"] and queued == [hub_copy]  # not the stand-ins
        again = services.library.get("it000002")
        assert again is not None and again.damaged == "" and again.item.priority == "urgent"
        services.download("it000002")  # whole again: the library's copy is used
        assert asked == ["it000002"]
    finally:
        services.stop()


def test_history_events_an_older_version_kept_from_a_hub_are_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # an older version stored a hub's ended_at of 9999-12-31T23:59:59-14:00 (year 10000 in
    # UTC) or 0001-01-01T00:00:00+14:00 (year 0), and a detail of Infinity: every later `alu
    # history`, --offline too, ended "alu: year 10000 is out of range" (exit 2), and --json
    # printed Infinity, no JSON
    from alu_client import cli

    home = make_home(tmp_path / "home")
    store = Store(home / "data" / "library.sqlite3")
    with store.write() as c:
        for n, ended in enumerate((253402351199.0, -62135647200.0)):
            c.execute(
                "INSERT INTO history (id, profile, type, item_id, rendition, bytes, started_at,"
                " ended_at, device, detail, origin, hub_seq)"
                " VALUES (?, ?, 'download_completed', 'it000002', 'broadcast', 7, NULL, ?,"
                " 'desk-2', ?, 'hub', ?)",
                (f"odd-{n}", PROFILE, ended, '{"label": "Odd", "seconds": Infinity}', n + 1),
            )
    store.close()
    monkeypatch.setenv("ALU_CLIENT_HOME", str(home))
    monkeypatch.setenv("ALU_SECRETS", "insecure-file")
    assert cli.main(["history", "--offline"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 3
    assert sum(line.startswith("????-??-?? ??:??  download_completed") for line in listed) == 2
    assert any("it000001 (not sent yet)" in line for line in listed)  # this desk's own
    assert cli.main(["history", "--offline", "--json"]) == 0
    events = {e["id"]: e for e in json.loads(capsys.readouterr().out)}
    assert events["odd-0"]["detail"] == {"label": "Odd", "seconds": None}
    assert events["odd-0"]["ended_at"] == 253402351199.0


def test_library_check_says_each_missing_file_in_one_readable_line(tmp_path: Path) -> None:
    # it printed the record's repr: "missing: MissingFile(item_id='…', rendition='broadcast',
    # path=PosixPath('…'), reason='…')"
    home = make_home(tmp_path / "home")
    clip = tmp_path / "home" / "clip.mp4"
    clip.unlink()  # deleted by another workstation sharing the folder
    r = alu(home, "library", "check")
    assert r.returncode == 0, r.stderr
    [line, summary] = r.stdout.splitlines()
    assert line == (
        f'missing: "Élections au Kenya" (broadcast, item it000001): {clip}: the file is not '
        "there any more (moved or deleted outside ALU Desk). Put it back there, or download "
        "it again: alu get it000001"
    ), line
    assert "MissingFile" not in r.stdout and "PosixPath" not in r.stdout
    assert summary == "1 files checked, 1 missing, 0 found again."
