"""Removing a rule whose downloads have not finished (review "rules", findings 11 and 13):
`alu rules remove NAME --cancel-downloads` cancels them, without it they are said to go on;
turning it off (`rules disable`, `rules edit --disable`) the same; `alu history` names the
rule, and one removed since as such."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from alu_client.cli import main as cli_main
from alu_client.core.credentials import MemorySecrets
from alu_client.core.hub import Item, Rendition
from alu_client.core.paths import default_paths
from alu_client.core.profiles import Profile, Profiles
from alu_client.core.rules import Conditions, Rule, RuleStore
from alu_client.core.rules.downloads import rule_downloads, unfinished_downloads
from alu_client.core.services import Services
from alu_client.core.store import Store

PROFILE = "ktn"
SHA = "ab" * 32


def make_item(item_id: str) -> Item:
    return Item(
        id=item_id,
        seq=1,
        kind="push",
        title=f"Item {item_id}",
        slug=item_id.upper(),
        dateline="",
        recorded_at=None,
        published_at=dt.datetime.now(dt.UTC),
        category="",
        region="",
        country="KE",
        language="en",
        priority="routine",
        restrictions="",
        script="",
        shotlist="",
        duration=1.0,
        source_member="",
        thumbnail_url="",
        renditions=(
            Rendition(
                "broadcast",
                f"https://hub.example/{item_id}",
                f"{item_id}.mp4",
                10,
                SHA,
                "video/mp4",
                0,
                0,
            ),
        ),
    )


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder with a profile (no token: the verbs used here need none)."""
    monkeypatch.setenv("ALU_CLIENT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ALU_SECRETS", "memory")
    store = Store(default_paths().ensure().db_path)
    Profiles(store).save(Profile(PROFILE, "https://hub.example", "ktn"))
    store.close()
    return tmp_path / "home"


def queue_by_rule(name: str, item_ids: list[str], tmp_path: Path) -> tuple[Rule, list[int]]:
    """A rule and the downloads it queued (as the engine has the service queue them)."""
    services = Services(default_paths(), MemorySecrets())
    try:
        rule = RuleStore(services.store, PROFILE).add(name, Conditions())
        items = [make_item(i) for i in item_ids]
        services.store_items(items)
        ids = [services._enqueue_rule(it, "broadcast", tmp_path / name, rule) for it in items]
        return rule, [i for i in ids if i is not None]
    finally:
        services.stop()


def states(ids: list[int]) -> list[str]:
    services = Services(default_paths(), MemorySecrets())
    try:
        transfers = services.transfer_store()
        return [t.state if (t := transfers.get(i)) else "gone" for i in ids]
    finally:
        services.stop()


def test_removing_a_rule_can_cancel_its_downloads_not_finished(
    home: Path, tmp_path: Path, capsys: Any
) -> None:
    """The rule's three downloads waiting for disk space all completed after it was removed,
    and there was no way to cancel them together."""
    rule, ids = queue_by_rule("smalldisk", ["a", "b", "c", "d"], tmp_path)
    other, theirs = queue_by_rule("everything", ["e"], tmp_path)
    services = Services(default_paths(), MemorySecrets())
    try:
        services.transfer_store().finish(ids[0], "done")  # fetched already: it stays
        assert unfinished_downloads(services.store, PROFILE, [rule, other]) == {
            rule.id: ids[1:],
            other.id: theirs,
        }
    finally:
        services.stop()
    capsys.readouterr()
    assert cli_main(["rules", "remove", "smalldisk", "--cancel-downloads"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[:2] for line in out.splitlines()] == [
        *(["canceled", str(tid)] for tid in ids[1:]),
        ["Removed", "rule"],  # (what was saved, as every rules verb says it)
    ]
    assert states(ids) == ["done", "canceled", "canceled", "canceled"]
    assert states(theirs) == ["queued"]  # another rule's: untouched
    store = Store(default_paths().db_path)
    try:
        assert [r.name for r in RuleStore(store, PROFILE).all()] == ["everything"]
    finally:
        store.close()


def test_removing_a_rule_without_the_option_says_its_downloads_go_on(
    home: Path, tmp_path: Path, capsys: Any
) -> None:
    _rule, ids = queue_by_rule("smalldisk", ["a", "b"], tmp_path)
    capsys.readouterr()
    assert cli_main(["rules", "remove", "smalldisk"]) == 0
    err = capsys.readouterr().err
    assert "2 download(s) it queued are not finished and go on" in err
    assert f"{ids[0]}, {ids[1]}" in err and "--cancel-downloads" in err
    assert states(ids) == ["queued", "queued"]
    assert cli_main(["rules", "add", "x", "--cancel-downloads"]) == 2


def test_turning_a_rule_off_can_cancel_its_downloads_not_finished(
    home: Path, tmp_path: Path, capsys: Any
) -> None:
    """A rule turned off because it took too much went on downloading what it had queued,
    unsaid, and `rules disable` had no way to cancel that."""
    rule, ids = queue_by_rule("smalldisk", ["a", "b", "c"], tmp_path)
    _other, theirs = queue_by_rule("everything", ["e"], tmp_path)
    capsys.readouterr()
    assert cli_main(["rules", "disable", "smalldisk", "--cancel-downloads"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[:2] for line in out.splitlines()] == [
        *(["canceled", str(tid)] for tid in ids),
        ["Turned", "off"],
    ]
    assert states(ids) == ["canceled", "canceled", "canceled"]
    assert states(theirs) == ["queued"]  # another rule's: untouched
    store = Store(default_paths().db_path)
    try:
        assert [(r.id, r.enabled) for r in RuleStore(store, PROFILE).all()] == [
            (rule.id, False),
            (_other.id, True),
        ]
    finally:
        store.close()


def test_turning_a_rule_off_without_the_option_says_its_downloads_go_on(
    home: Path, tmp_path: Path, capsys: Any
) -> None:
    _rule, ids = queue_by_rule("smalldisk", ["a", "b"], tmp_path)
    capsys.readouterr()
    assert cli_main(["rules", "disable", "smalldisk"]) == 0
    err = capsys.readouterr().err
    assert "rule 'smalldisk' is off; 2 download(s) it queued are not finished and go on" in err
    assert f"{ids[0]}, {ids[1]}" in err
    assert "`rules disable NAME --cancel-downloads` turns a rule off with its downloads" in err
    assert states(ids) == ["queued", "queued"]
    # turning it on again changes nothing of them, and takes no --cancel-downloads
    assert cli_main(["rules", "enable", "smalldisk"]) == 0
    assert capsys.readouterr().err == ""
    assert cli_main(["rules", "enable", "smalldisk", "--cancel-downloads"]) == 2
    assert cli_main(["rules", "edit", "smalldisk", "--enable", "--cancel-downloads"]) == 2
    assert states(ids) == ["queued", "queued"]
    # rules edit --disable turns it off as rules disable does
    capsys.readouterr()
    assert cli_main(["rules", "edit", "smalldisk", "--disable", "--cancel-downloads"]) == 0
    assert states(ids) == ["canceled", "canceled"]


def test_a_rule_renamed_still_finds_its_downloads(home: Path, tmp_path: Path) -> None:
    """Its downloads name it by id too: the name they keep is the one it had."""
    rule, ids = queue_by_rule("smalldisk", ["a"], tmp_path)
    store = Store(default_paths().db_path)
    try:
        renamed = RuleStore(store, PROFILE).update(rule.id, name="tiny disk")
        assert rule_downloads(store, PROFILE, renamed) == ids
    finally:
        store.close()


def test_the_history_listing_names_the_rule_and_one_removed(
    home: Path, tmp_path: Path, capsys: Any
) -> None:
    """The text listing had no rule (JSON and the app had)."""
    _rule, _ids = queue_by_rule("smalldisk", ["a", "b"], tmp_path)
    _other, theirs = queue_by_rule("everything", ["e"], tmp_path)
    assert cli_main(["queue", "cancel", str(theirs[0])]) == 0  # an event in the history
    capsys.readouterr()
    assert cli_main(["history", "--offline"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert "Item e  [rule everything]" in line
    assert cli_main(["rules", "remove", "smalldisk", "--cancel-downloads"]) == 0
    assert cli_main(["rules", "remove", "everything"]) == 0
    capsys.readouterr()
    assert cli_main(["history", "--offline"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert all("[rule " in line and ", removed]" in line for line in lines)
    assert sum("[rule smalldisk, removed]" in line for line in lines) == 2
