"""The per-member figures are true: an upload counts on the day its bytes arrived (not the day
the hub finished publishing it), a member is judged only on the days it was one, downloads
count only for items that exist and never more bytes than the file, a period asked with an
offset counts its own days, and a period that has not begun judges nobody.

Each test is the outside report's repro (``/tmp/review-stats``), without libfaketime: the hub's
clock is ``alu_hub.models.clock_offset``."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

import alu_hub.models
from alu_hub import publish, stats
from alu_hub.app import build_hub
from alu_hub.hub import Hub
from alu_hub.models import Item, Member, Rendition, utcnow
from alu_hub.schemas import MemberStats, StatsOut
from alu_hub.web.figures import Month, Period, month_figures
from tests.support.livehub import LiveHub, hub_settings, start_hub

from .test_cli import hub_cli
from .test_cli_members import chore
from .test_stats_page import LONG_AGO, add_members, cli_rows, insert_items, member_id
from .test_upload_publish import _fail_storage_once, uploader_for, wait_for_outcome

pytestmark = pytest.mark.timeout(180)

DAY = dt.timedelta(days=1)


def figures(hub: Hub, start: dt.datetime, end: dt.datetime, now: dt.datetime) -> StatsOut:
    with hub.db.session() as s:
        return stats.compute_stats(s, start, end, now)


def rows(out: StatsOut) -> dict[str, MemberStats]:
    return {r.username: r for r in out.members}


def hub_clock(monkeypatch: pytest.MonkeyPatch, when: dt.datetime) -> None:
    """The hub's clock (``utcnow``) reads ``when`` now, and runs on from there."""
    offset = when - dt.datetime.now(dt.UTC)
    monkeypatch.setattr(alu_hub.models, "clock_offset", offset)


def joined_long_ago(hub: Hub, username: str) -> None:
    with hub.db.session() as s:
        s.execute(update(Member).where(Member.username == username).values(created_at=LONG_AGO))


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    """A hub without a server: the figures are read straight from ``compute_stats``."""
    h = build_hub(hub_settings(tmp_path / "hub"))
    yield h
    h.db.dispose()


# --- 1. an upload counts on the day its last byte arrived -------------------------------------


def test_an_upload_that_arrives_before_midnight_counts_on_that_day(
    live_hub: LiveHub, clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ktn uploaded on each of three days; the third day's upload reaches the hub at 23:55 and
    its proxy is done at 00:05 the next day. It counts on the day it arrived: three days of
    three, the pledge met (it counted on the next day: "2 of 3, not met")."""
    today = dt.datetime.now(dt.UTC).date()
    day = dt.datetime.combine(today, dt.time(), dt.UTC)  # the third day
    ktn = live_hub.login("ktn")
    joined_long_ago(live_hub.hub, "ktn")
    ktn_id = member_id(live_hub.hub, "ktn")
    noon = dt.timedelta(hours=12)
    insert_items(live_hub.hub, [("member_upload", ktn_id, day - d * DAY + noon) for d in (1, 2)])

    hub_clock(monkeypatch, day + dt.timedelta(hours=23, minutes=55))
    real_prepare = publish.prepare

    def slow_prepare(*args: Any, **kw: Any) -> publish.Prepared:
        prepared = real_prepare(*args, **kw)
        # the proxy of a real broadcast file takes minutes: midnight passes meanwhile
        later = alu_hub.models.clock_offset + dt.timedelta(minutes=10)
        monkeypatch.setattr(alu_hub.models, "clock_offset", later)
        return prepared

    monkeypatch.setattr(publish, "prepare", slow_prepare)
    sha = hashlib.sha256(clip.read_bytes()).hexdigest()
    up = uploader_for(live_hub, "ktn", clip, metadata={"filename": "a.mp4", "sha256": sha,
                                                          "title": "Evening news"})  # fmt: skip
    up.upload()
    assert wait_for_outcome(ktn, up.url)["state"] == "published"
    with live_hub.hub.db.session() as s:
        item = s.scalars(select(Item).where(Item.title == "Evening news")).one()
        assert item.published_at >= day + DAY  # published after midnight, as in the report

    now = utcnow()
    three = rows(figures(live_hub.hub, day - 2 * DAY, day + DAY, now))["ktn"]
    assert (three.uploads, three.upload_days, three.meets_pledge) == (3, 3, True)
    assert three.pledge_days == 3
    assert rows(figures(live_hub.hub, day + DAY, day + 2 * DAY, now))["ktn"].uploads == 0
    assert item.received_at is not None and day <= item.received_at < day + DAY


def test_an_upload_published_after_a_restart_counts_on_the_day_it_arrived(
    live_hub: LiveHub, clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upload arrives at 23:57; publishing it fails (the storage away), and the hub that
    starts again at 07:00 the next day publishes it. It counts on the day it arrived."""
    today = dt.datetime.now(dt.UTC).date()
    day = dt.datetime.combine(today, dt.time(), dt.UTC)
    ktn = live_hub.login("ktn")
    joined_long_ago(live_hub.hub, "ktn")
    hub_clock(monkeypatch, day + dt.timedelta(hours=23, minutes=57))
    _fail_storage_once(live_hub)
    sha = hashlib.sha256(clip.read_bytes()).hexdigest()
    up = uploader_for(live_hub, "ktn", clip, metadata={"filename": "b.mp4", "sha256": sha,
                                                          "title": "Late bulletin"})  # fmt: skip
    up.upload()
    url = str(up.url)
    wait_for_outcome_or_retry(ktn, url)
    live_hub.server.stop()
    live_hub.hub.db.dispose()

    hub_clock(monkeypatch, day + DAY + dt.timedelta(hours=7))
    again = start_hub(live_hub.tmp)  # the same data folder: start-up publishes it
    try:
        assert wait_for_outcome(ktn, url.replace(live_hub.url, again.url))["state"] == "published"
        now = utcnow()
        arrived = rows(figures(again.hub, day, day + DAY, now))["ktn"]
        assert (arrived.uploads, arrived.upload_days, arrived.meets_pledge) == (1, 1, True)
        assert rows(figures(again.hub, day + DAY, day + 2 * DAY, now))["ktn"].uploads == 0
    finally:
        again.server.stop()
        again.hub.db.dispose()


def wait_for_outcome_or_retry(ktn: Any, url: str) -> None:
    """Until the hub has noted that publishing failed and will be tried again."""
    from tests.support.waiting import wait_until

    wait_until(
        lambda: ktn.get(url, timeout=10).json()["error"] or None,
        60,
        interval=0.1,
        what="the failed publish to be noted",
    )
    assert ktn.get(url, timeout=10).json()["state"] == "processing"


# --- 2. a member is judged on the days it was one ---------------------------------------------


def test_members_are_in_the_periods_they_were_members_in(hub: Hub) -> None:
    """A 5-day period (the 1st to the 5th of November), read on the 10th: ``old`` was there
    throughout, ``late`` joined on the 3rd, ``new`` after the period; then ``gone`` is disabled
    on the 2nd, and ``left`` before the period."""
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    end, now = start + 5 * DAY, start + 9 * DAY + dt.timedelta(hours=8)
    add_members(hub, [("old", "Old", "KE", "member"), ("gone", "Gone", "GH", "member"),
                      ("left", "Left", "NG", "member")], None)  # fmt: skip
    add_members(hub, [("late", "Late", "SN", "member")], None,
                joined=start + 2 * DAY + dt.timedelta(hours=16))  # fmt: skip
    add_members(hub, [("new", "New", "BJ", "member")], None, joined=start + 9 * DAY)
    ids = {u: member_id(hub, u) for u in ("old", "late", "gone")}
    noon = [start + d * DAY + dt.timedelta(hours=12) for d in range(5)]
    insert_items(
        hub,
        [("member_upload", ids["old"], noon[d]) for d in range(5)]
        + [("member_upload", ids["late"], noon[d]) for d in (2, 3, 4)]
        + [("member_upload", ids["gone"], noon[0])],
    )

    def judged(out: StatsOut) -> dict[str, tuple[int, int, bool | None]]:
        return {u: (r.uploads, r.upload_days, r.meets_pledge) for u, r in rows(out).items()}

    assert judged(figures(hub, start, end, now)) == {
        "gone": (1, 1, False),
        "late": (3, 3, True),  # from the day it joined: met (it was "3/5, not met")
        "left": (0, 0, False),
        "old": (5, 5, True),
    }  # "new" joined after the period: not one of its members (it was "0/5, not met")

    # a closed month's page and CSV: "of N members" is that month's ("new" joined in it); a
    # member added later does not change it (it was listed in every month before, "not met")
    month, december = Month(2026, 11), dt.datetime(2026, 12, 5, 22, tzinfo=dt.UTC)
    with hub.db.session() as s:
        before = month_figures(s, Period.of(month, december))
    add_members(hub, [("newer", "Newer", "CI", "member")], None, joined=december)
    with hub.db.session() as s:
        after = month_figures(s, Period.of(month, december))
    assert [r.username for r in after.stats.members] == ["gone", "late", "left", "new", "old"]
    assert (before.members, before.judged) == (after.members, after.judged) == (5, 5)
    assert rows(after.stats)["new"].pledge_days == 21  # the 10th to the 30th

    with hub.db.session() as s:
        for name, when in (("gone", start + DAY + dt.timedelta(hours=10)),
                           ("left", start - dt.timedelta(hours=1))):  # fmt: skip
            s.execute(
                update(Member).where(Member.username == name).values(active=False, disabled_at=when)
            )
    out = figures(hub, start, end, now)
    assert judged(out) == {
        "gone": (1, 1, False),  # judged on the 1st and the 2nd, the day it was disabled
        "late": (3, 3, True),
        "old": (5, 5, True),
    }  # "left" was no member in the period
    assert {u: r.pledge_days for u, r in rows(out).items()} == {"gone": 2, "late": 3, "old": 5}
    assert (out.uploads, out.uploading_members) == (9, 3)


def test_a_disabled_member_is_not_judged_after_it_was_disabled(live_hub: LiveHub) -> None:
    """``alu-hub member disable`` keeps when: the member is no longer in the periods after it
    (it stayed listed, "not met", in every later month); enabled again, it is back."""
    live_hub.member("ktn", "pw-12345678")
    joined_long_ago(live_hub.hub, "ktn")
    assert chore(live_hub, "disable", "ktn").returncode == 0
    today = dt.datetime.combine(utcnow().date(), dt.time(), dt.UTC)
    later = today + 3 * DAY
    assert figures(live_hub.hub, later, later + DAY, later + DAY).members == []
    # this week: judged on the days up to the one it was disabled
    week = rows(figures(live_hub.hub, today - 6 * DAY, today + DAY, today + 5 * DAY))["ktn"]
    assert (week.pledge_days, week.meets_pledge) == (7, False)
    with live_hub.hub.db.session() as s:
        disabled_at = s.scalars(select(Member.disabled_at).where(Member.username == "ktn")).one()
    assert disabled_at is not None and abs(disabled_at - utcnow()) < dt.timedelta(minutes=5)
    assert chore(live_hub, "enable", "ktn").returncode == 0
    assert [r.username for r in figures(live_hub.hub, later, later + DAY, later).members] == ["ktn"]


# --- 3. downloads of items that exist, bytes at most the file ---------------------------------


def test_bogus_download_events_add_nothing(live_hub: LiveHub, clip: Path) -> None:
    """One batch from a member's token: 50 downloads of items that do not exist, 1 GB each,
    and downloads of a real item claiming more bytes than its files. All are accepted (an
    outbox must not stick); the figures count one download, and the files' sizes."""
    item_id = live_hub.publish(clip, title="Real item")
    with live_hub.hub.db.session() as s:
        of_item = select(Rendition.name, Rendition.size).where(Rendition.item_id == item_id)
        sizes = {r.name: r.size for r in s.execute(of_item)}
    xss = live_hub.login("xss")
    joined_long_ago(live_hub.hub, "xss")

    def event(item_id: str, nbytes: int, rendition: str = "broadcast") -> dict[str, Any]:
        return {"id": str(uuid.uuid4()), "type": "download_completed", "item_id": item_id,
                "rendition": rendition, "bytes": nbytes}  # fmt: skip

    batch = [event(f"no-such-item-{n}", 10**9) for n in range(50)] + [
        event(item_id, 10**12),  # the broadcast file: at most its size
        event(item_id, 10**12, "proxy"),  # the proxy: at most its size
        event(item_id, 10**12, "no-such-rendition"),  # at most the largest file
        event(item_id, 100),  # less than the file: as said
    ]
    sent = xss.post(live_hub.api("/history"), json={"events": batch}, timeout=30)
    assert sent.status_code == 200 and sent.json()["accepted"] == 54

    today = dt.datetime.now(dt.UTC).date().isoformat()
    agency = live_hub.login("chief")
    with live_hub.hub.db.session() as s:
        s.execute(update(Member).where(Member.username == "chief").values(role="agency"))
    st = agency.get(live_hub.api("/stats"), params={"from": today, "to": today}, timeout=10)
    row = next(r for r in st.json()["members"] if r["username"] == "xss")
    largest = max(sizes.values())
    assert (row["downloads"], st.json()["downloads"]) == (1, 1)  # it said 51
    assert row["bytes_downloaded"] == sizes["broadcast"] + sizes["proxy"] + largest + 100


# --- 4. a period asked with an offset counts its own days -------------------------------------


def test_a_period_in_nairobi_time_counts_nairobi_days(hub: Hub) -> None:
    """kbc uploads at 01:00 and 13:00 on 2 December in Nairobi (UTC+3): 1 December 22:00 UTC
    and 2 December 10:00 UTC, and nothing on the 3rd. Nairobi's 2nd and 3rd: one day of two,
    not met (it was two UTC dates: "2 days, met")."""
    add_members(hub, [("kbc", "KBC", "KE", "member")], None)
    kbc = member_id(hub, "kbc")
    insert_items(
        hub,
        [
            ("member_upload", kbc, dt.datetime(2026, 12, 1, 22, tzinfo=dt.UTC)),
            ("member_upload", kbc, dt.datetime(2026, 12, 2, 10, tzinfo=dt.UTC)),
        ],
    )
    now = dt.datetime(2026, 12, 5, 22, tzinfo=dt.UTC)
    asked = ("2026-12-02T00:00+03:00", "2026-12-04T00:00+03:00")
    start, end = stats.period(*asked, now)
    r = rows(figures(hub, start, end, now))["kbc"]
    assert (r.uploads, r.upload_days, r.meets_pledge) == (2, 1, False)
    assert r.pledge_days == 2

    out = hub_cli(
        "stats", "--data", str(hub.settings.data_dir), "--from", asked[0], "--to", asked[1]
    )
    assert out.returncode == 0, out.stderr
    # the period as asked (it said "2026-12-01 to 2026-12-03", its UTC dates)
    assert out.stdout.startswith("2026-12-02 to 2026-12-03 (UTC+03:00): "), out.stdout
    assert out.stdout.splitlines()[2].split()[-2:] == ["1/2", "no"]


#: Cairo's Wednesday 29 and Thursday 30 October 2025: Egypt's daylight saving time ended at the
#: end of the 30th (+03:00 before, +02:00 after), so the two days are 49 hours
CAIRO_29_30 = ("2025-10-29T00:00+03:00", "2025-10-31T00:00+02:00")
CAIRO = dt.timezone(dt.timedelta(hours=3)), dt.timezone(dt.timedelta(hours=2))


def cairo_uploads(hub: Hub) -> None:
    """ertu uploads late on each day, in the offset then in force (on the 30th, in the hour
    the clocks gave back); nile on the 29th only."""
    add_members(hub, [("ertu", "ERTU", "EG", "member"), ("nile", "Nile TV", "EG", "member")], None)
    ertu, nile = member_id(hub, "ertu"), member_id(hub, "nile")
    insert_items(
        hub,
        [
            ("member_upload", ertu, dt.datetime(2025, 10, 29, 23, 30, tzinfo=CAIRO[0])),
            ("member_upload", ertu, dt.datetime(2025, 10, 30, 23, 30, tzinfo=CAIRO[1])),
            ("member_upload", nile, dt.datetime(2025, 10, 29, 12, tzinfo=CAIRO[0])),
        ],
    )


def test_a_period_across_a_change_of_daylight_saving_time_counts_its_local_days(
    hub: Hub,
) -> None:
    """The 49 hours were 3 "days" of 24 hours, the last one 1 hour: a member that uploaded on
    both days was judged 1/3 (its upload on the 30th fell in the third), and the header read
    "2025-10-29 00:00 to 2025-10-31 01:00 (UTC+03:00)"."""
    cairo_uploads(hub)
    now = dt.datetime(2025, 11, 5, tzinfo=dt.UTC)
    start, end = stats.period(*CAIRO_29_30, now)
    out = figures(hub, start, end, now)
    assert {u: (r.upload_days, r.pledge_days, r.meets_pledge) for u, r in rows(out).items()} == {
        "ertu": (2, 2, True),
        "nile": (1, 2, False),
    }
    assert out.pledge_days == stats.period_days(start, end) == 2
    # the figures give the period in UTC, as for any other
    assert (out.from_, out.to) == (
        dt.datetime(2025, 10, 28, 21, tzinfo=dt.UTC),
        dt.datetime(2025, 10, 30, 22, tzinfo=dt.UTC),
    )

    data = str(hub.settings.data_dir)
    human = hub_cli("stats", "--data", data, "--from", CAIRO_29_30[0], "--to", CAIRO_29_30[1])
    assert human.returncode == 0, human.stderr
    header = "2025-10-29 to 2025-10-30 (UTC+03:00, then UTC+02:00): "
    assert human.stdout.startswith(header), human.stdout
    pledges = {line.split()[0]: line.split()[-2:] for line in cli_rows(human.stdout)}
    assert pledges == {"ertu": ["2/2", "yes"], "nile": ["1/2", "no"]}
    as_json = hub_cli(
        "stats", "--data", data, "--from", CAIRO_29_30[0], "--to", CAIRO_29_30[1], "--json"
    )
    # the same figures (computed a moment later: "as_of" differs)
    said, computed = json.loads(as_json.stdout), json.loads(out.model_dump_json(by_alias=True))
    assert said.pop("as_of") >= computed.pop("as_of")
    assert said == computed


def test_the_api_counts_a_period_across_a_change_of_offset_as_the_command_does(
    live_hub: LiveHub,
) -> None:
    cairo_uploads(live_hub.hub)
    agency = live_hub.login("chief")
    with live_hub.hub.db.session() as s:
        s.execute(update(Member).where(Member.username == "chief").values(role="agency"))
    params = {"from": CAIRO_29_30[0], "to": CAIRO_29_30[1]}
    st = agency.get(live_hub.api("/stats"), params=params, timeout=10).json()
    assert (st["from"], st["to"], st["pledge_days"]) == (
        "2025-10-28T21:00:00Z",
        "2025-10-30T22:00:00Z",
        2,
    )
    judged = {r["username"]: (r["upload_days"], r["pledge_days"]) for r in st["members"]}
    assert judged == {"ertu": (2, 2), "nile": (1, 2)}


@pytest.mark.parametrize(
    ("asked", "days", "said"),
    [
        # one offset: 24-hour steps from the start, as before
        (("2026-12-02T00:00+03:00", "2026-12-04T00:00+03:00"), [0, 24, 48],
         "2026-12-02 to 2026-12-03 (UTC+03:00)"),
        (("2026-12-02", "2026-12-03"), [0, 24, 48], "2026-12-02 to 2026-12-03"),
        (("2026-12-02T06:00Z", "2026-12-03T12:00Z"), [0, 24, 30],
         "2026-12-02 06:00 to 2026-12-03 12:00"),
        # the end of daylight saving time (Cairo): the last day is 25 hours
        (CAIRO_29_30, [0, 24, 49], "2025-10-29 to 2025-10-30 (UTC+03:00, then UTC+02:00)"),
        # its start (Cairo, 25 April 2025 at midnight): the last day is 23 hours
        (("2025-04-24T00:00+02:00", "2025-04-26T00:00+03:00"), [0, 24, 47],
         "2025-04-24 to 2025-04-25 (UTC+02:00, then UTC+03:00)"),
        # times, not midnights: the local days between them
        (("2025-10-29T06:00+03:00", "2025-10-31T06:00+02:00"), [0, 24, 49],
         "2025-10-29 06:00 (UTC+03:00) to 2025-10-31 06:00 (UTC+02:00)"),
        # less than the hour given back: one day, however short
        (("2025-10-31T00:30+03:00", "2025-10-31T00:00+02:00"), [0, 0.5],
         "2025-10-31 00:30 (UTC+03:00) to 2025-10-31 00:00 (UTC+02:00)"),
        # no day that would begin after the end (24.5 local hours, 23.5 real ones)
        (("2025-04-24T00:00+02:00", "2025-04-25T00:30+03:00"), [0, 23.5],
         "2025-04-24 00:00 (UTC+02:00) to 2025-04-25 00:30 (UTC+03:00)"),
        # a date is a UTC day: a start in Cairo's offset, the last day to the UTC midnight
        (("2025-10-29T00:00+03:00", "2025-10-30"), [0, 24, 51],
         "2025-10-29 to 2025-10-30 (UTC+03:00, then UTC)"),
    ],
)  # fmt: skip
def test_the_days_of_a_period_and_how_it_is_said(
    asked: tuple[str, str], days: list[float], said: str
) -> None:
    """``days``: the hours from the start at which each day begins, and the end's."""
    start, end = stats.period(*asked, dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
    bounds = [start + dt.timedelta(hours=h) for h in days]
    assert stats.period_days(start, end) == len(days) - 1
    assert end == bounds[-1]
    for n, (first, after) in enumerate(itertools.pairwise(bounds)):
        last = after - dt.timedelta(microseconds=1)
        assert (stats.day_of(first, start, end), stats.day_of(last, start, end)) == (n, n)
    assert stats.day_of(start - dt.timedelta(microseconds=1), start, end) == -1
    assert stats.pledge_days(start, end, end) == len(days) - 1  # over: every day judged
    assert stats.describe_period(start, end) == said


# --- 5. a period that has not begun ------------------------------------------------------------


def test_a_period_not_begun_judges_nobody(hub: Hub) -> None:
    """It counted its pledge over 1 day, and every member "not met"."""
    add_members(hub, [("ertu", "ERTU", "EG", "member")], None)
    now = utcnow()
    start = dt.datetime.combine(now.date(), dt.time(), dt.UTC) + 30 * DAY
    out = figures(hub, start, start + 31 * DAY, now)
    assert [(r.username, r.meets_pledge) for r in out.members] == [("ertu", None)]
    assert out.pledge_days == 0 and out.members[0].pledge_days == 0
    first, last = start.date(), (start + 30 * DAY).date()
    data = str(hub.settings.data_dir)
    human = hub_cli("stats", "--data", data, "--from", str(first), "--to", str(last))
    assert human.stdout.startswith(f"{first} to {last} (not begun: the pledge is not judged): ")
    assert human.stdout.splitlines()[2].split()[-2:] == ["0/0", "-"]
    st = json.loads(
        hub_cli("stats", "--data", data, "--from", str(first), "--to", str(last), "--json").stdout
    )
    assert st["members"][0]["meets_pledge"] is None and st["pledge_days"] == 0
