"""The rules' storage, checks and command line (review "rules", findings 1, 4, 5 and 12):
languages checked and normalised in the core, empty conditions refused, `alu rules edit` and
`alu rules move`, and the merge that writes a copy of the rules edited while another
program changed them (the Settings dialog's OK)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from alu_client.cli import main as cli_main
from alu_client.core.paths import default_paths
from alu_client.core.profiles import Profile, Profiles
from alu_client.core.rules import (
    Conditions,
    Rule,
    RuleError,
    RulesChanged,
    RuleStore,
    language_code,
    merge,
)
from alu_client.core.store import Store

PROFILE = "agency"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "alu.db")
    yield s
    s.close()


@pytest.fixture
def cli_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder with a profile (no token: `alu rules` needs none)."""
    home = tmp_path / "home"
    monkeypatch.setenv("ALU_CLIENT_HOME", str(home))
    s = Store(default_paths().ensure().db_path)
    Profiles(s).save(Profile(PROFILE, "https://hub.example", "ktn"))
    s.close()
    return home


def stored() -> list[Rule]:
    s = Store(default_paths().db_path)
    try:
        return RuleStore(s, PROFILE).all()
    finally:
        s.close()


def by_name() -> dict[str, Rule]:
    return {r.name: r for r in stored()}


def alu(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli_main(["rules", *args])
    out, err = capsys.readouterr()
    return code, out, err


def store_bad_language(rules: RuleStore, name: str, languages: str) -> Rule:
    """A rule as a version before the check stored it (`--language French` was kept as is)."""
    rule = rules.add(name, Conditions.of(words="vote"))
    with rules.store.write() as c:
        c.execute(
            "UPDATE rules SET conditions = ? WHERE id = ?",
            (f'{{"languages": {languages}}}', rule.id),
        )
    return rules.get(rule.id)


# --- languages (finding 4) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "code"),
    [("French", "fr"), ("français", "fr"), ("FRANCAIS", "fr"), ("الفرنسية", "fr"),
     ("fr", "fr"), ("English", "en"), ("anglais", "en"), ("الإنجليزية", "en"),
     ("Arabic", "ar"), ("arabe", "ar"), ("العربية", "ar"), ("AR", "ar")],
)  # fmt: skip
def test_a_language_is_read_by_its_code_or_its_english_french_or_arabic_name(
    typed: str, code: str
) -> None:
    assert language_code(typed) == code
    assert Conditions.of(languages=typed).languages == (code,)


@pytest.mark.parametrize("typed", ["xx", "German", "swahili", "en-GB"])
def test_another_language_is_refused_naming_the_accepted_ones(typed: str) -> None:
    with pytest.raises(RuleError) as e:
        Conditions.of(languages=typed)
    assert "en (English), fr (French) or ar (Arabic)" in str(e.value)
    assert "\n" not in str(e.value)


def test_cli_add_language_by_name_is_stored_as_the_code(
    cli_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--language French` was stored as "french": the rule never fired."""
    assert alu(capsys, "add", "fr-news", "--language", "French, العربية")[0] == 0
    assert by_name()["fr-news"].conditions.languages == ("fr", "ar")
    code, out, err = alu(capsys, "add", "de-news", "--language", "German")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "en (English), fr (French) or ar (Arabic)" in err
    assert "de-news" not in by_name()


def test_a_language_stored_by_name_is_read_as_its_code_and_an_unknown_one_is_kept(
    store: Store,
) -> None:
    rules = RuleStore(store, PROFILE)
    french = store_bad_language(rules, "fr-news", '["french"]')
    assert french.conditions.languages == ("fr",)
    assert french.conditions.unknown_languages == ()
    odd = store_bad_language(rules, "odd", '["xx", "fr"]')
    # not dropped: a rule asking for a language no item has must not become "any language"
    assert odd.conditions.languages == ("xx", "fr")
    assert odd.conditions.unknown_languages == ("xx",)
    assert not odd.conditions.empty
    # it can still be turned off, renamed and moved; its conditions are refused when given
    assert not rules.disable(odd.id).enabled
    assert rules.update(odd.id, name="odd one").name == "odd one"
    with pytest.raises(RuleError, match="not 'xx'"):
        rules.update(odd.id, conditions=odd.conditions)


# --- empty conditions, and what add says (finding 5 of the file; 6 in the brief) ---------------


@pytest.mark.parametrize(
    "option", [["--words", ""], ["--words", " , "], ["--category", ""], ["--language", ","]]
)
def test_cli_refuses_a_condition_given_empty(
    cli_home: Path, capsys: pytest.CaptureFixture[str], option: list[str]
) -> None:
    """`--words ""` (a script's empty variable) saved a rule that took every new item."""
    code, out, err = alu(capsys, "add", "kenya", *option)
    assert code == 2 and out == ""
    assert f"{option[0]} is empty" in err
    assert stored() == []


def test_cli_add_without_conditions_needs_all(
    cli_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = alu(capsys, "add", "kenya")
    assert code == 2 and "every new item" in err and "--all" in err
    assert stored() == []
    code, out, _ = alu(capsys, "add", "everything", "--all", "--do", "proxy")
    assert code == 0
    assert out == "Added rule 1. on  everything: every new item → proxy → downloads\n"
    assert by_name()["everything"].conditions.empty
    code, _, err = alu(capsys, "add", "both", "--all", "--words", "vote")
    assert code == 2 and "--all" in err


def test_cli_add_says_what_was_saved(
    cli_home: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`rules add` printed nothing: a rule saved wrong went unnoticed."""
    alu(capsys, "add", "first", "--priority", "flash")
    code, out, _ = alu(
        capsys, "add", "kenya", "--country", "ke", "--words", "élection, vote",
        "--dest", str(tmp_path / "kenya"),
    )  # fmt: skip
    assert code == 0
    assert out == (
        f'Added rule 2. on  kenya: countries KE; words "élection", "vote" → broadcast → '
        f"{tmp_path / 'kenya'}\n"
    )


# --- alu rules edit / move (finding 12) -------------------------------------------------------


def add_three(capsys: pytest.CaptureFixture[str]) -> None:
    for name, words in (("a", "alpha"), ("b", "beta"), ("c", "gamma")):
        assert alu(capsys, "add", name, "--words", words)[0] == 0


def test_cli_edit_changes_what_is_given_and_keeps_the_place(
    cli_home: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    add_three(capsys)
    assert alu(capsys, "edit", "b", "--language", "fr")[0] == 0
    b = by_name()["b"]
    assert (b.conditions.words, b.conditions.languages) == (("beta",), ("fr",))
    code, out, _ = alu(
        capsys, "edit", "b", "--words", "vote, scrutin", "--any", "language", "--do", "proxy",
        "--dest", str(tmp_path / "b"), "--disable", "--rename", "votes",
    )  # fmt: skip
    assert code == 0
    assert out == f'Changed rule 2. off votes: words "vote", "scrutin" → proxy → {tmp_path / "b"}\n'
    assert [r.name for r in stored()] == ["a", "votes", "c"]  # not moved to the end
    votes = by_name()["votes"]
    assert votes.conditions == Conditions.of(words="vote, scrutin")
    assert (votes.action, votes.destination, votes.enabled) == ("proxy", str(tmp_path / "b"), False)
    # by #ID too; --dest "" is the download folder again
    assert alu(capsys, "edit", f"#{votes.id}", "--enable", "--dest", "")[0] == 0
    assert (by_name()["votes"].enabled, by_name()["votes"].destination) == (True, "")
    # --dest '' alone, as the help says (it was "nothing to change")
    assert alu(capsys, "edit", "c", "--dest", str(tmp_path / "c"))[0] == 0
    assert alu(capsys, "edit", "c", "--dest", "")[0] == 0
    assert by_name()["c"].destination == ""


def test_cli_edit_refuses_what_would_be_a_surprise(
    cli_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_three(capsys)
    for args, said in (
        (["edit", "a"], "nothing to change"),
        (["edit", "a", "--words", ""], "--words is empty"),
        (["edit", "a", "--any", "words"], "every new item"),  # its only condition
        (["edit", "a", "--language", "German"], "en (English)"),
        (["edit", "a", "--any", "words", "--words", "x"], "give one of them"),
        (["edit", "zz", "--words", "x"], "no rule named 'zz'"),
        (["edit", "a", "--rename", "b"], "already exists"),
    ):
        code, _, err = alu(capsys, *args)
        assert code == 2 and said in err, (args, err)
    assert by_name()["a"].conditions == Conditions.of(words="alpha")
    assert alu(capsys, "edit", "a", "--all")[0] == 0
    assert by_name()["a"].conditions.empty


def test_cli_edit_of_a_rule_with_an_unknown_language(
    cli_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s = Store(default_paths().db_path)
    store_bad_language(RuleStore(s, PROFILE), "odd", '["xx"]')
    s.close()
    code, out, _ = alu(capsys, "list")
    assert "language xx is not en, fr or ar" in out
    # a change to its folder keeps the language (no catch-all) and says so again
    code, out, _ = alu(capsys, "edit", "odd", "--do", "proxy")
    assert code == 0 and "language xx is not en, fr or ar" in out
    assert by_name()["odd"].conditions.languages == ("xx",)
    # changing its words asks for the language to be fixed
    code, _, err = alu(capsys, "edit", "odd", "--words", "x")
    assert code == 2 and "not 'xx'" in err
    assert alu(capsys, "edit", "odd", "--language", "French")[0] == 0
    assert by_name()["odd"].conditions.languages == ("fr",)


def test_cli_move(cli_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_three(capsys)
    code, out, _ = alu(capsys, "move", "c", "--to", "1")
    assert code == 0 and out.startswith("Moved rule 1. on  c:")
    assert [r.name for r in stored()] == ["c", "a", "b"]
    alu(capsys, "move", "c", "--down")
    assert [r.name for r in stored()] == ["a", "c", "b"]
    alu(capsys, "move", "b", "--up")
    assert [r.name for r in stored()] == ["a", "b", "c"]
    alu(capsys, "move", "a", "--to", "99")
    assert [r.name for r in stored()] == ["b", "c", "a"]
    alu(capsys, "move", "b", "--up")  # already first
    assert [r.name for r in stored()] == ["b", "c", "a"]
    for args in (["move", "a"], ["move", "a", "--up", "--down"], ["move", "a", "--to", "0"]):
        assert alu(capsys, *args)[0] == 2
    code, out, _ = alu(capsys, "list")
    assert [line.split()[2].rstrip(":") for line in out.splitlines()] == ["b", "c", "a"]


# --- the merge behind the Settings dialog's OK (finding 1) -------------------------------------


def make(store: Store, *names: str) -> tuple[RuleStore, list[Rule]]:
    rules = RuleStore(store, PROFILE)
    for n in names:
        rules.add(n, Conditions.of(words=n))
    return rules, rules.all()


def test_save_edits_keeps_what_another_program_did(store: Store) -> None:
    rules, base = make(store, "a", "b", "c")
    a, b, c = base
    # the user: a off, c removed, b moved first, a new rule n added
    new = Rule(-1, "n", True, 0, Conditions.of(words="n"), "proxy", "")
    mine = [b, dataclasses.replace(a, enabled=False), new]
    # meanwhile another program: a's words changed, x added, b disabled
    rules.update(a.id, conditions=Conditions.of(words="alpha"))
    rules.add("x", Conditions.of(words="x"))
    rules.disable(b.id)
    after = rules.save_edits(base, mine)
    assert [(r.name, r.enabled, r.conditions.words) for r in after] == [
        ("b", False, ("b",)),
        ("a", False, ("alpha",)),
        ("x", True, ("x",)),
        ("n", True, ("n",)),
    ]
    assert rules.by_name("n").action == "proxy"
    assert c.id not in {r.id for r in after}


def test_save_edits_with_nothing_changed_changes_nothing(store: Store) -> None:
    rules, base = make(store, "a", "b")
    rules.move(base[1].id, 0)
    rules.remove(base[0].id)
    rules.add("x")
    before = rules.all()
    assert rules.save_edits(base, base) == before


def test_names_swapped_on_the_page_are_written(store: Store) -> None:
    rules, base = make(store, "a", "b")
    a, b = base
    mine = [dataclasses.replace(a, name="b"), dataclasses.replace(b, name="a")]
    after = rules.save_edits(base, mine)
    assert [(r.id, r.name) for r in after] == [(a.id, "b"), (b.id, "a")]


@pytest.mark.parametrize("reason", ["removed", "changed", "name_taken"])
def test_a_clash_writes_nothing_and_gives_the_rules_to_show_again(
    store: Store, reason: str
) -> None:
    rules, base = make(store, "a", "b")
    a, b = base
    mine = [dataclasses.replace(a, destination="/srv/mine"), dataclasses.replace(b, enabled=False)]
    if reason == "removed":
        rules.remove(a.id)
    elif reason == "changed":
        rules.update(a.id, destination="/srv/theirs")
    else:
        rules.add("n")
        mine.append(Rule(-1, "n", True, 0, Conditions.of(words="n"), "broadcast", ""))
    now = rules.all()
    with pytest.raises(RulesChanged) as e:
        rules.save_edits(base, mine)
    assert rules.all() == now  # nothing written, b still on
    assert [c.reason for c in e.value.merged.conflicts] == [reason]
    assert e.value.current == now
    shown = {r.name: r for r in e.value.merged.rules}
    assert shown["b"].enabled is False  # the user's change that does not clash is kept
    if reason == "removed":
        assert "a" not in shown
    elif reason == "changed":
        assert shown["a"].destination == "/srv/theirs"
    # pressing OK again over what is shown writes it (the clashing rule renamed first)
    again = [dataclasses.replace(r, name="n2") if r.id < 0 else r for r in e.value.merged.rules]
    after = rules.save_edits(e.value.current, again)
    assert not {r.name: r for r in after}["b"].enabled


def test_merge_keeps_a_rule_added_elsewhere_in_its_place_when_the_user_reorders() -> None:
    def r(i: int) -> Rule:
        return Rule(i, f"r{i}", True, i, Conditions(), "broadcast", "")

    base = [r(1), r(2), r(3)]
    theirs = [r(1), r(9), r(2), r(3)]
    merged = merge(base, [r(3), r(2), r(1)], theirs)
    assert [x.id for x in merged.rules] == [3, 9, 2, 1]
    assert merged.conflicts == []
