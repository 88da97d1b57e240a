"""`alu history`, `alu feed` and `alu library search` print their times with the zone, or in
UTC with --utc: a local time with no zone could not be matched with the agency's report,
which counts whole UTC days."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from pathlib import Path

import pytest

from alu_client.cli.times import minute
from tests.client.test_cli_hub import PASSWORD, alu, login, ok
from tests.support.livehub import LiveHub

NAIROBI = {"TZ": "Africa/Nairobi"}


def test_history_and_feed_times_say_their_zone_or_are_utc(
    live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    live_hub.member("ktn", PASSWORD)
    home = tmp_path / "desk"
    login(home, live_hub)
    item_id = live_hub.publish(clip, title="Long documentary: the Nile")
    ok(alu(home, "get", item_id))
    event = json.loads(ok(alu(home, "history", "--offline", "--json")))[0]
    ended = dt.datetime.fromtimestamp(event["ended_at"], dt.UTC)
    item = json.loads(ok(alu(home, "feed", "--offline", "--json")))[0]
    published = dt.datetime.fromisoformat(item["published_at"])

    def first_time(out: str) -> str:
        found = re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d (?:[+-]\d\d:\d\d|UTC)", out)
        assert found, out
        return found.group(0)

    eat = dt.timezone(dt.timedelta(hours=3))
    for verb, at in (("history", ended), ("feed", published)):
        local = ok(alu(home, verb, "--offline", env=NAIROBI))
        assert first_time(local) == at.astimezone(eat).strftime("%Y-%m-%d %H:%M +03:00")
        utc = ok(alu(home, verb, "--offline", "--utc", env=NAIROBI))
        assert first_time(utc) == at.strftime("%Y-%m-%d %H:%M UTC")
    found = ok(alu(home, "library", "search", "nile", "--utc", env=NAIROBI))
    assert first_time(found) == published.strftime("%Y-%m-%d %H:%M UTC")
    # the words after an option: "unrecognized arguments: nile" (exit 2)
    assert ok(alu(home, "library", "search", "--utc", "--downloaded", "nile", env=NAIROBI)) == found
    # machine-readable output is as it was (epoch seconds, ISO times with their offset)
    assert json.loads(ok(alu(home, "history", "--offline", "--json", "--utc")))[0] == event


@pytest.mark.parametrize(
    ("utc", "expected"),
    [(False, "2026-12-07 01:30 +03:00"), (True, "2026-12-06 22:30 UTC")],
)
def test_a_nairobi_night_is_the_day_before_in_utc(
    monkeypatch: pytest.MonkeyPatch, utc: bool, expected: str
) -> None:
    if not hasattr(time, "tzset"):
        pytest.skip("no TZ to set on this system")
    monkeypatch.setenv("TZ", "Africa/Nairobi")
    time.tzset()
    try:
        at = dt.datetime(2026, 12, 6, 22, 30, tzinfo=dt.UTC)
        assert minute(at, utc) == expected
        assert minute(at.timestamp(), utc) == expected
        assert minute(1e20, utc) == "????-??-?? ??:??"  # no date says it
    finally:
        monkeypatch.undo()
        time.tzset()
