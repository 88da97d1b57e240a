"""`alu library search`'s words after its options, a `--` among them."""

from __future__ import annotations

import argparse

import pytest

import alu_client.cli as cli


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--downloaded", "avocado"], ["avocado"]),
        # "unrecognized arguments: -- electricity": a word beginning with '-' could not be
        # searched together with --downloaded
        (["--downloaded", "--", "electricity"], ["electricity"]),
        (["--downloaded", "--", "-x", "y"], ["-x", "y"]),
        (["nile", "--downloaded", "--", "-x"], ["nile", "-x"]),
        (["--", "-x"], ["-x"]),
    ],
)
def test_search_takes_the_words_after_its_options_and_a_double_dash(
    monkeypatch: pytest.MonkeyPatch, args: list[str], words: list[str]
) -> None:
    seen: list[argparse.Namespace] = []
    monkeypatch.setattr(cli, "_run", lambda a: seen.append(a) or 0)
    assert cli.main(["library", "search", *args]) == 0
    [given] = seen
    assert given.text == words


def test_an_unknown_option_before_the_double_dash_is_still_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "_run", lambda a: pytest.fail(f"ran with {a}"))
    assert cli.main(["library", "search", "--downloaded", "--bogus", "--", "x"]) == 2
    assert capsys.readouterr().err == (
        "alu: unrecognized arguments: --bogus -- x; see alu library --help\n"
    )
