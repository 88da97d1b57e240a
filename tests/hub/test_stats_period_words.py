"""What the stats API says of a period written with a literal '+' (review memberday, finding
5): URL decoding turns the offset's '+' into a space, and the hub answered "'to' … is not a
date" — naming ``to`` though ``from`` was wrong the same way, and not saying why."""

from __future__ import annotations

import datetime as dt

import pytest

from alu_hub.stats import PeriodError, period
from tests.support.livehub import LiveHub

NOW = dt.datetime(2026, 12, 7, 12, tzinfo=dt.UTC)


def test_a_plus_lost_in_the_url_is_named_with_its_parameter(live_hub: LiveHub) -> None:
    s = live_hub.login("ktn")
    url = live_hub.api("/stats?from=2026-12-07T00:00:00+03:00&to=2026-12-08T00:00:00+03:00")
    r = s.get(url, timeout=10)
    assert r.status_code == 422
    assert r.json()["error"]["message"] == (
        "'from' '2026-12-07T00:00:00 03:00' has a space where its offset's '+' was: in a URL a "
        "'+' reads as a space; write it as %2B (for example from=2026-12-07T00:00:00%2B03:00)."
    )
    fine = s.get(url.replace("+", "%2B"), timeout=10)
    assert fine.status_code == 200 and fine.json()["from"] == "2026-12-06T21:00:00Z", fine.text


@pytest.mark.parametrize(
    ("from_", "to", "words"),
    [
        ("2026-12-07T00:00 03:00", None, "'from' '2026-12-07T00:00 03:00' has a space where"),
        ("2026-12-07", "2026-12-08T00:00:00.5 0300", "'to' '2026-12-08T00:00:00.5 0300' has a"),
        ("soon", "later", "'from' 'soon' is not a date (YYYY-MM-DD) or ISO time."),
        ("2026-12-07", "2026-12-08 03:00 x", "'to' '2026-12-08 03:00 x' is not a date"),
    ],
)
def test_the_first_wrong_parameter_is_named(from_: str, to: str | None, words: str) -> None:
    with pytest.raises(PeriodError) as e:
        period(from_, to, NOW)
    assert str(e.value).startswith(words), str(e.value)


def test_a_space_between_date_and_time_is_still_a_time() -> None:
    start, end = period("2026-12-07 03:00", "2026-12-08", NOW)
    assert (start, end) == (
        dt.datetime(2026, 12, 7, 3, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 9, tzinfo=dt.UTC),
    )
