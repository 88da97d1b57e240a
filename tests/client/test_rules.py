"""Auto-download rules: matching per field and words (French, Arabic), the first enabled rule
wins, each item evaluated once, old items only marked, crash idempotence, proxy first."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alu_client.cli import main as cli_main
from alu_client.core.credentials import MemorySecrets
from alu_client.core.hub import Item, Rendition
from alu_client.core.paths import Paths, default_paths
from alu_client.core.profiles import Profile, Profiles
from alu_client.core.rules import (
    Conditions,
    Match,
    Rule,
    RuleEngine,
    RuleError,
    RuleStore,
    fold,
    item_from_row,
    matches,
    split_values,
)
from alu_client.core.services import Services, writable_folder
from alu_client.core.store import Store
from alu_client.core.transfers.queue import TransferQueue

PROFILE = "agency"
NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
SHA = "ab" * 32


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "library.sqlite3")
    yield s
    s.close()


def make_item(**fields: Any) -> Item:
    base: dict[str, Any] = {
        "id": "it1",
        "seq": 1,
        "kind": "push",
        "title": "Floods in the north",
        "slug": "KENYA-FLOODS",
        "dateline": "NAIROBI, Kenya",
        "recorded_at": None,
        "published_at": NOW,
        "category": "environment",
        "region": "East Africa",
        "country": "KE",
        "language": "en",
        "priority": "routine",
        "restrictions": "",
        "script": "Heavy rain has flooded the north of the country.",
        "shotlist": "",
        "duration": 60.0,
        "source_member": "",
        "thumbnail_url": "",
    }
    base.update(fields)
    return Item(**base)


def rule(**conds: Any) -> Rule:
    return Rule(1, "r", True, 1.0, Conditions.of(**conds), "broadcast", "")


def put_item(
    store: Store,
    item_id: str,
    seq: int,
    *,
    published_at: dt.datetime = NOW,
    priority: int = 2,
    profile: str = PROFILE,
    renditions: tuple[str, ...] = ("broadcast", "proxy"),
    **fields: Any,
) -> None:
    rends = [
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
        for name in renditions
    ]
    row = {
        "title": "Item " + item_id,
        "slug": item_id.upper(),
        "language": "en",
        "category": "politics",
        **fields,
    }
    with store.write() as c:
        c.execute(
            "INSERT INTO items (profile, id, seq, kind, title, slug, published_at, category,"
            " language, country, priority, script, renditions, first_seen_at)"
            " VALUES (?, ?, ?, 'push', ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
            (
                profile,
                item_id,
                seq,
                row["title"],
                row["slug"],
                published_at.isoformat().replace("+00:00", "Z"),
                row["category"],
                row["language"],
                row.get("country", ""),
                priority,
                row.get("script", ""),
                json.dumps(rends),
            ),
        )


class Recorder:
    """The service's enqueue: a real (not started) queue, with what it was asked."""

    def __init__(self, store: Store, tmp: Path) -> None:
        self.queue = TransferQueue(store)
        self.tmp = tmp
        self.calls: list[tuple[str, str, str, Path | None, str]] = []

    def __call__(self, item: Item, rendition: str, dest_dir: Path | None, rule: Rule) -> int:
        self.calls.append((item.id, rendition, item.priority, dest_dir, rule.name))
        r = item.rendition(rendition)
        assert r is not None
        return self.queue.add_download(
            r.url,
            (dest_dir or self.tmp) / r.filename,
            sha256=r.sha256,
            size=r.size,
            priority=item.priority,
            item_id=item.id,
            rendition=rendition,
            extra={"profile": PROFILE, "rule": rule.name},
        )


@pytest.fixture
def recorder(store: Store, tmp_path: Path) -> Recorder:
    return Recorder(store, tmp_path)


def rules_done(store: Store) -> dict[str, int]:
    return {r["id"]: r["rules_done"] for r in store.query("SELECT id, rules_done FROM items")}


# --- matching -----------------------------------------------------------------------------------


def test_empty_rule_matches_everything() -> None:
    assert matches(rule(), make_item())
    assert matches(rule(), make_item(title="", script="", category=""))


@pytest.mark.parametrize(
    ("conds", "yes", "no"),
    [
        ({"categories": ["Environment"]}, {"category": "environment"}, {"category": "sport"}),
        ({"regions": ["east africa"]}, {"region": "East  Africa"}, {"region": "West Africa"}),
        ({"countries": ["ke", "TZ"]}, {"country": "TZ"}, {"country": "SN"}),
        ({"languages": ["FR"]}, {"language": "fr"}, {"language": "en"}),
        ({"priorities": ["flash", "urgent"]}, {"priority": "urgent"}, {"priority": "routine"}),
    ],
)
def test_each_field_condition(
    conds: dict[str, Any], yes: dict[str, Any], no: dict[str, Any]
) -> None:
    r = rule(**conds)
    assert matches(r, make_item(**yes))
    assert not matches(r, make_item(**no))


def test_all_non_empty_conditions_must_hold() -> None:
    r = rule(countries=["KE"], languages=["fr"])
    assert matches(r, make_item(country="KE", language="fr"))
    assert not matches(r, make_item(country="KE", language="en"))
    assert not matches(r, make_item(country="SN", language="fr"))


def test_words_in_title_slug_or_script_any_case_and_accent_a_prefix_with_a_star() -> None:
    r = rule(words=["élection*", "coup d'État"])
    assert matches(r, make_item(title="ELECTION results announced"))
    assert matches(r, make_item(title="Elections postponed", script=""))
    assert matches(r, make_item(title="", script="Les résultats de l'Élection présidentielle"))
    assert matches(r, make_item(title="Tentative de COUP D'ETAT à la capitale"))
    assert matches(r, make_item(title="", slug="SENEGAL-ELECTION-RESULTS", script=""))
    assert not matches(r, make_item(title="Floods", slug="KENYA-FLOODS", script="rain"))
    assert not matches(r, make_item(title="A coup attempt", slug="", script="d'état"))
    # "rain*" at the start of a word: in "Rainfall", not in "training"; "rain" is whole
    assert matches(rule(words=["rain*"]), make_item(title="Rainfall", script="", slug=""))
    assert not matches(rule(words=["rain*"]), make_item(title="Army training", script="", slug=""))
    assert not matches(rule(words=["rain"]), make_item(title="Rainfall", script="", slug=""))
    assert matches(
        rule(words="drought, floods"), make_item(title="", slug="KENYA-FLOODS", script="")
    )


def test_arabic_words_with_and_without_diacritics_and_alef_forms() -> None:
    plain = "الانتخابات الرئاسية في مصر"
    vocalised = "الانْتِخَابَاتُ الرِّئَاسِيَّةُ فِي مِصْرَ"
    hamza_alef = "نتائج الإنتخابات"
    r = rule(words=["الانتخابات"])
    assert matches(r, make_item(title=plain, script=""))
    assert matches(r, make_item(title="", script=vocalised))
    assert matches(r, make_item(title=hamza_alef, script=""))
    # without the article, with diacritics in the rule, with و + article
    assert matches(rule(words=["انتخابات"]), make_item(title=plain, script=""))
    assert matches(rule(words=["انتخابات"]), make_item(title="", script="والإنتخابات"))
    assert not matches(rule(words=["خابات"]), make_item(title=plain, script=""))
    assert matches(rule(words=["الانْتِخَابَات"]), make_item(title=plain, script=""))
    assert matches(rule(words=["أمطار"]), make_item(title="امطار غزيرة", script=""))
    assert matches(rule(words=["مصر"]), make_item(title="", script="في مصـــر"))  # tatweel
    # a rule word written with the article (as an Arabic desk writes it) finds the word with a
    # proclitic and without the article too (it found only الانتخابات itself)
    for title in ("والانتخابات المقبلة في مالي", "استعدادات للانتخابات في تشاد",
                  "انتخابات الرئاسة في النيجر", "الانتخابات في السنغال", "فازوا بالانتخابات"):  # fmt: skip
        assert matches(r, make_item(title=title, script="")), title
        assert matches(rule(words=["انتخابات"]), make_item(title=title, script="")), title
    assert matches(rule(words=["للانتخابات الرئاسية"]), make_item(title="الانتخابات الرئاسية"))
    assert not matches(rule(words=["الانتخابات"]), make_item(title="نتائج الاستفتاء", script=""))
    assert not matches(r, make_item(title="فيضانات في الشمال", script=""))
    assert fold("آمنة") == fold("امنه")


def test_conditions_are_checked() -> None:
    with pytest.raises(RuleError, match="flash, urgent or routine"):
        Conditions.of(priorities=["breaking"])
    with pytest.raises(RuleError, match="two-letter"):
        Conditions.of(countries=["Kenya"])
    with pytest.raises(RuleError, match="Unknown rule condition"):
        Conditions.of(colour=["red"])


# --- the rules of a profile ----------------------------------------------------------------------


def test_rule_store_crud_order_and_unique_names(store: Store) -> None:
    rules = RuleStore(store, PROFILE)
    a = rules.add("Flashes", Conditions.of(priorities=["flash"]), destination="/tmp/flash")
    b = rules.add("French", Conditions.of(languages=["fr"]), action="proxy")
    c = rules.add("Kenya", Conditions.of(countries=["KE"]), action="proxy_then_broadcast")
    assert [r.name for r in rules.all()] == ["Flashes", "French", "Kenya"]
    assert rules.get(a.id).conditions.priorities == ("flash",)
    assert rules.get(a.id).dest_dir == Path("/tmp/flash")
    assert rules.by_name("French").action == "proxy"

    with pytest.raises(RuleError, match="already exists"):
        rules.add(" Flashes ", Conditions())
    with pytest.raises(RuleError, match="already exists"):
        rules.update(b.id, name="Kenya")
    with pytest.raises(RuleError, match="action"):
        rules.add("Other", action="delete")
    # the same name in another profile is another rule
    assert RuleStore(store, "other-hub").add("Flashes").name == "Flashes"

    assert [r.name for r in rules.reorder([c.id, a.id, b.id])] == ["Kenya", "Flashes", "French"]
    assert [r.name for r in rules.move(b.id, 0)] == ["French", "Kenya", "Flashes"]
    with pytest.raises(RuleError, match="every rule"):
        rules.reorder([a.id, b.id])

    assert not rules.disable(a.id).enabled
    assert rules.enable(a.id).enabled
    renamed = rules.update(a.id, name="All flashes", conditions=Conditions.of(words="séisme"))
    assert (renamed.name, renamed.conditions.words) == ("All flashes", ("séisme",))
    assert renamed.destination == "/tmp/flash"  # what was not given is kept
    rules.remove(c.id)
    assert [r.name for r in rules.all()] == ["French", "All flashes"]
    with pytest.raises(RuleError, match="no rule"):
        rules.get(c.id)


# --- the engine ----------------------------------------------------------------------------------


def test_first_enabled_matching_rule_wins_and_disabled_rules_are_ignored(
    store: Store, recorder: Recorder, tmp_path: Path
) -> None:
    rules = RuleStore(store, PROFILE)
    off = rules.add("Everything (off)", Conditions(), enabled=False)
    rules.add("French to desk", Conditions.of(languages=["fr"]), destination=tmp_path / "fr")
    rules.add("Politics", Conditions.of(categories=["politics"]), action="proxy")
    put_item(store, "a", 1, language="fr")
    put_item(store, "b", 2, language="en")
    put_item(store, "c", 3, language="en", category="sport")

    found = RuleEngine(store, PROFILE, recorder).evaluate_pending(now=NOW)

    assert [(m.item.id, m.rule.name, m.rendition) for m in found] == [
        ("a", "French to desk", "broadcast"),
        ("b", "Politics", "proxy"),
    ]
    assert recorder.calls[0][3] == tmp_path / "fr"
    assert all(m.transfer_id for m in found)
    assert rules_done(store) == {"a": 1, "b": 1, "c": 1}
    # the transfer names the rule, for the history
    t = recorder.queue.transfers.get(found[0].transfer_id or 0)
    assert t is not None and t.options["rule"] == "French to desk" and t.item_id == "a"
    assert off.name not in {m.rule.name for m in found}


def test_each_item_is_evaluated_once(store: Store, recorder: Recorder) -> None:
    RuleStore(store, PROFILE).add("All", Conditions())
    engine = RuleEngine(store, PROFILE, recorder)
    put_item(store, "a", 1)
    put_item(store, "b", 2)
    assert [m.item.id for m in engine.evaluate_pending(now=NOW)] == ["a", "b"]
    assert engine.evaluate_pending(now=NOW) == []
    assert len(recorder.calls) == 2
    # a new item later is evaluated, the old ones are not again
    put_item(store, "c", 3)
    assert [m.item.id for m in engine.evaluate_pending(now=NOW)] == ["c"]
    assert [c[0] for c in recorder.calls] == ["a", "b", "c"]


def test_items_are_evaluated_in_seq_order_and_only_for_the_profile(
    store: Store, recorder: Recorder
) -> None:
    RuleStore(store, PROFILE).add("All", Conditions())
    put_item(store, "late", 9)
    put_item(store, "early", 2)
    put_item(store, "elsewhere", 1, profile="other-hub")
    found = RuleEngine(store, PROFILE, recorder).evaluate_pending(now=NOW)
    assert [m.item.id for m in found] == ["early", "late"]
    assert rules_done(store)["elsewhere"] == 0


def test_old_items_are_marked_without_action(store: Store, recorder: Recorder) -> None:
    RuleStore(store, PROFILE).add("All", Conditions())
    put_item(store, "last-week", 1, published_at=NOW - dt.timedelta(days=7))
    put_item(store, "yesterday", 2, published_at=NOW - dt.timedelta(hours=25))
    put_item(store, "this-morning", 3, published_at=NOW - dt.timedelta(hours=3))
    found = RuleEngine(store, PROFILE, recorder).evaluate_pending(now=NOW, max_age_hours=24)
    assert [m.item.id for m in found] == ["this-morning"]
    assert [c[0] for c in recorder.calls] == ["this-morning"]
    assert rules_done(store) == {"last-week": 1, "yesterday": 1, "this-morning": 1}


def test_items_matching_no_rule_are_marked_too(store: Store, recorder: Recorder) -> None:
    RuleStore(store, PROFILE).add("Flash only", Conditions.of(priorities=["flash"]))
    put_item(store, "routine", 1, priority=2)
    put_item(store, "flash", 2, priority=0)
    found = RuleEngine(store, PROFILE, recorder).evaluate_pending(now=NOW)
    assert [m.item.id for m in found] == ["flash"]
    assert rules_done(store) == {"routine": 1, "flash": 1}


def test_crash_between_enqueue_and_mark_does_not_enqueue_twice(
    store: Store, recorder: Recorder
) -> None:
    RuleStore(store, PROFILE).add("All", Conditions())
    put_item(store, "a", 1)
    put_item(store, "b", 2)
    engine = RuleEngine(store, PROFILE, recorder)
    first = engine.evaluate_pending(now=NOW)
    assert len(first) == 2
    # the process died after queueing and before marking: the items look new again
    with store.write() as c:
        c.execute("UPDATE items SET rules_done = 0")
    again = RuleEngine(store, PROFILE, recorder).evaluate_pending(now=NOW)

    assert [(m.item.id, m.already, m.transfer_id) for m in again] == [
        ("a", True, None),
        ("b", True, None),
    ]
    assert len(recorder.calls) == 2
    assert len(recorder.queue.transfers.all()) == 2
    assert rules_done(store) == {"a": 1, "b": 1}


def test_failed_or_canceled_transfer_does_not_count_as_existing(
    store: Store, recorder: Recorder
) -> None:
    RuleStore(store, PROFILE).add("All", Conditions())
    put_item(store, "a", 1)
    first = RuleEngine(store, PROFILE, recorder).evaluate_pending(now=NOW)
    recorder.queue.transfers.finish(first[0].transfer_id or 0, "canceled")
    with store.write() as c:
        c.execute("UPDATE items SET rules_done = 0")
    again = RuleEngine(store, PROFILE, recorder).evaluate_pending(now=NOW)
    assert [(m.already, bool(m.transfer_id)) for m in again] == [(False, True)]
    assert len(recorder.calls) == 2


def test_proxy_then_broadcast_queues_the_proxy_first_one_priority_higher(
    store: Store, recorder: Recorder
) -> None:
    RuleStore(store, PROFILE).add("Preview first", Conditions(), action="proxy_then_broadcast")
    put_item(store, "routine", 1, priority=2)
    put_item(store, "flash", 2, priority=0)
    found = RuleEngine(store, PROFILE, recorder).evaluate_pending(now=NOW)

    assert [(m.item.id, m.rendition) for m in found] == [
        ("routine", "proxy"),
        ("routine", "broadcast"),
        ("flash", "proxy"),
        ("flash", "broadcast"),
    ]
    assert [(c[0], c[1], c[2]) for c in recorder.calls] == [
        ("routine", "proxy", "urgent"),
        ("routine", "broadcast", "routine"),
        ("flash", "proxy", "flash"),
        ("flash", "broadcast", "flash"),
    ]
    transfers = {(t.item_id, t.rendition): t for t in recorder.queue.transfers.all()}
    assert transfers[("routine", "proxy")].priority == 1
    assert transfers[("routine", "broadcast")].priority == 2
    assert transfers[("routine", "proxy")].id < transfers[("routine", "broadcast")].id


def test_missing_rendition_and_failing_enqueue_are_reported_not_fatal(store: Store) -> None:
    RuleStore(store, PROFILE).add("Proxy", Conditions(), action="proxy")
    put_item(store, "no-proxy", 1, renditions=("broadcast",))
    put_item(store, "boom", 2)
    put_item(store, "fine", 3)
    calls: list[str] = []

    def enqueue(item: Item, rendition: str, dest: Path | None, rule: Rule) -> int | None:
        calls.append(item.id)
        if item.id == "boom":
            raise OSError("disk full")
        return 7

    found = RuleEngine(store, PROFILE, enqueue).evaluate_pending(now=NOW)
    assert [(m.item.id, m.transfer_id, m.error) for m in found] == [
        ("no-proxy", None, "no such rendition"),
        ("boom", None, "disk full"),
        ("fine", 7, ""),
    ]
    assert calls == ["boom", "fine"]
    # the item that could not be queued is left for the next evaluation, the others are done
    assert rules_done(store) == {"no-proxy": 1, "boom": 0, "fine": 1}
    found = RuleEngine(store, PROFILE, enqueue).evaluate_pending(now=NOW)
    assert [(m.item.id, m.error, m.retry) for m in found] == [("boom", "disk full", True)]


def test_a_rule_whose_folder_cannot_be_written_keeps_its_item_for_later(
    store: Store, recorder: Recorder, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A rule's folder under a plain file (a share not mounted, refusing writes): one plain
    line naming the rule, the folder and the cause; the item is queued once the folder can be
    written, and the other rules go on meanwhile."""
    in_the_way = tmp_path / "nas"
    in_the_way.write_text("a file where the share should be")
    rules = RuleStore(store, PROFILE)
    rules.add("health", Conditions.of(categories=["health"]), destination=in_the_way / "health")
    rules.add("sport", Conditions.of(categories=["sport"]), destination=tmp_path / "sport")
    put_item(store, "cholera", 1, category="health", title="Cholera")
    put_item(store, "match", 2, category="sport")

    def enqueue(item: Item, rendition: str, dest: Path | None, rule: Rule) -> int:
        writable_folder(dest or tmp_path)
        return recorder(item, rendition, dest, rule)

    engine = RuleEngine(store, PROFILE, enqueue)
    with caplog.at_level("DEBUG", logger="alu_client.core.rules"):
        found = engine.evaluate_pending(now=NOW)
    assert [(m.item.id, m.transfer_id is not None) for m in found] == [
        ("cholera", False),
        ("match", True),
    ]
    said = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(said) == 1 and said[0].exc_info is None
    line = said[0].getMessage()
    assert "\n" not in line and "'health'" in line and str(in_the_way / "health") in line
    assert "Not a directory" in line and "'Cholera'" in line
    assert rules_done(store) == {"cholera": 0, "match": 1}
    # still broken: nothing queued, still waiting
    assert [m.transfer_id for m in engine.evaluate_pending(now=NOW)] == [None]
    # fixed: queued at the next evaluation, into the rule's folder
    in_the_way.unlink()
    (in_the_way / "health").mkdir(parents=True)
    found = engine.evaluate_pending(now=NOW)
    assert [(m.item.id, m.transfer_id is not None, m.error) for m in found] == [
        ("cholera", True, "")
    ]
    assert rules_done(store) == {"cholera": 1, "match": 1}
    assert recorder.calls[-1][3] == in_the_way / "health"


def test_writable_folder_makes_the_folder_and_says_why_not(tmp_path: Path) -> None:
    writable_folder(tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b").is_dir() and not list((tmp_path / "a" / "b").iterdir())
    (tmp_path / "f").write_text("x")
    with pytest.raises(OSError, match=r"the folder .*f/g cannot be written \(Not a directory\)"):
        writable_folder(tmp_path / "f" / "g")


def test_item_from_row_reads_the_stored_item(store: Store) -> None:
    put_item(store, "a", 4, priority=1, language="ar", title="عنوان", country="EG")
    row = store.query_one("SELECT * FROM items WHERE id = 'a'")
    assert row is not None
    item = item_from_row(row)
    assert (item.id, item.seq, item.priority, item.language, item.title, item.country) == (
        "a",
        4,
        "urgent",
        "ar",
        "عنوان",
        "EG",
    )
    assert item.published_at == NOW
    proxy = item.rendition("proxy")
    assert proxy is not None and proxy.sha256 == SHA and proxy.filename == "a-proxy.mp4"
    assert isinstance(Match(item, rule(), "proxy", 1), Match)


# --- the command line ---------------------------------------------------------------------------


@pytest.fixture
def cli_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder with a profile (no token: `alu rules` needs none)."""
    home = tmp_path / "home"
    monkeypatch.setenv("ALU_CLIENT_HOME", str(home))
    store = Store(default_paths().ensure().db_path)
    Profiles(store).save(Profile(PROFILE, "https://hub.example", "ktn"))
    store.close()
    return home


def cli_rules() -> list[Rule]:
    store = Store(default_paths().db_path)
    try:
        return RuleStore(store, PROFILE).all()
    finally:
        store.close()


def test_cli_rules_add_reads_commas_as_the_apps_form_does(cli_home: Path) -> None:
    """`--words "coup, putsch"` was one phrase "coup, putsch" (the form makes two words): the
    rule never fired. Categories and regions the same."""
    args = ["rules", "add", "coup", "--words", "coup, putsch", "--words", "mutiny"]
    args += ["--category", "politics, world", "--region", "West Africa,Sahel", "--country", "ML"]
    assert cli_main(args) == 0
    (stored,) = cli_rules()
    assert stored.conditions == Conditions.of(
        words="coup, putsch, mutiny",
        categories="politics, world",
        regions="West Africa,Sahel",
        countries="ML",
    )
    assert stored.conditions.words == ("coup", "putsch", "mutiny")
    assert stored.conditions.regions == ("West Africa", "Sahel")
    assert matches(stored, make_item(title="Putsch attempt", category="world", region="Sahel",
                                     country="ML", script=""))  # fmt: skip
    assert (
        split_values("coup, putsch,, ") == split_values(["coup", " putsch "]) == ["coup", "putsch"]
    )


def test_cli_rules_add_keeps_a_relative_dest_absolute(
    cli_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--dest "Culture desk"` was kept relative: the files landed wherever the engine ran."""
    (tmp_path / "where-added").mkdir()
    monkeypatch.chdir(tmp_path / "where-added")
    assert cli_main(["rules", "add", "culture", "--all", "--dest", "Culture desk"]) == 0
    assert cli_main(["rules", "add", "home", "--all", "--dest", "~/news"]) == 0
    monkeypatch.chdir(tmp_path)
    by_name = {r.name: r for r in cli_rules()}
    assert by_name["culture"].destination == str(tmp_path / "where-added" / "Culture desk")
    assert by_name["culture"].dest_dir == tmp_path / "where-added" / "Culture desk"
    assert by_name["home"].destination == str(Path("~/news").expanduser())


# --- what a rule's download is called --------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        # the hub's own names: its proxy's says proxy already (was "c27.proxy (proxy).mp4")
        (("c27.mp4", "c27.proxy.mp4"), "c27.proxy.mp4"),
        (("c27.mp4", "c27_PROXY.mp4"), "c27_PROXY.mp4"),
        # a hub naming both files alike: the proxy must not take the broadcast's name
        (("c27.mp4", "c27.mp4"), "c27 (proxy).mp4"),
        (("c27.mp4", "proxyclip.mp4"), "proxyclip (proxy).mp4"),
    ],
)
def test_a_rules_proxy_says_proxy_once(
    tmp_path: Path, names: tuple[str, str], expected: str
) -> None:
    paths = Paths(tmp_path / "d", tmp_path / "c", tmp_path / "l", tmp_path / "dl").ensure()
    store = Store(paths.db_path)
    Profiles(store).save(Profile(PROFILE, "https://hub.example", "ktn"))
    store.close()
    services = Services(paths, MemorySecrets())
    try:
        renditions = tuple(
            Rendition(r, f"https://hub.example/{r}", n, 1000, SHA, "video/mp4", 0, 0)
            for r, n in zip(("broadcast", "proxy"), names, strict=True)
        )
        item = make_item(renditions=renditions)
        desk = Rule(1, "desk", True, 1.0, Conditions(), "proxy_then_broadcast", "")
        tid = services._enqueue_rule(item, "proxy", tmp_path / "desk", desk)
        assert tid is not None
        t = services.transfer_store().get(tid)
        assert t is not None and Path(t.destination) == tmp_path / "desk" / expected
    finally:
        services.stop()


def test_a_file_uploaded_from_here_is_not_downloaded_back_by_a_rule(
    store: Store, recorder: Recorder, tmp_path: Path
) -> None:
    # a hot folder sent a clip; the member's own item came back in the feed and a rule that
    # matched it downloaded it again (every multi-GB upload straight back down a slow link)
    RuleStore(store, PROFILE).add("All", Conditions())
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"footage")
    up = recorder.queue.add_upload(clip, "https://hub.example/api/v1/uploads/", {"sha256": SHA})
    put_item(store, "mine", 1)  # its broadcast file has the upload's sha256
    engine = RuleEngine(store, PROFILE, recorder)
    recorder.queue.transfers.finish(up, "failed", error="The hub was away.")
    assert [m.item.id for m in engine.evaluate_pending(now=NOW)] == ["mine"]  # not sent here
    with store.write() as c:
        c.execute("UPDATE items SET rules_done = 0")
    recorder.queue.transfers.set_state(up, "queued", only_from=("failed",))
    recorder.queue.transfers.finish(up, "done")
    recorder.calls.clear()
    assert engine.evaluate_pending(now=NOW) == []
    assert recorder.calls == []
    assert rules_done(store) == {"mine": 1}
