"""The council's report says how final it is (the outside tester's report on a messy day,
``/tmp/review-report``): a download counts on the day it ended, but a workstation reports it
when it is next online and signed in, so a closed day or month can still grow. Every form of
the report (the page, the CSV, ``GET /api/v1/stats``, ``alu-hub stats``) says when it was
computed, how many of a closed period's downloads were reported after it ended, and which
members are disabled; and the README says how the figures are counted, as they are.

One November, read on 5 December (the hub's clock: ``alu_hub.models.clock_offset``):
- rts downloads item A on the 6th and B on the 7th, reported at once; D at 23:50 on the 30th,
  reported on 2 December (late for the 30th and for November); A again from its other
  workstation on the 30th, reported on 3 December (late, but A was reported in November:
  November's A is not late);
- sntv downloads C, ended at 00:02:18 on the 8th, reported through the API on the 11th at
  00:00:56 (late for the 8th, not for November), and is disabled on the 20th.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlalchemy import inspect, select, update
from sqlalchemy.orm import selectinload

from alu_hub import stats
from alu_hub.app import build_hub
from alu_hub.demo import _seed_history, ensure_member
from alu_hub.hub import Hub
from alu_hub.models import HistoryEvent, Item, Member, utcnow
from alu_hub.schemas import MemberStats, StatsOut
from alu_hub.web.routes import CSV_COLUMNS
from tests.support.livehub import LiveHub, hub_settings, start_hub

from .test_cli import hub_cli
from .test_cli_members import chore
from .test_stats_figures import hub_clock
from .test_stats_page import (
    LONG_AGO,
    add_members,
    cli_rows,
    insert_downloads,
    library,
    member_id,
    parse,
    web_session,
)

pytestmark = pytest.mark.timeout(180)

UTC = dt.UTC
#: When the figures are read: November is over, December goes on.
NOW = dt.datetime(2026, 12, 5, 12, tzinfo=UTC)
NOVEMBER = ("2026-11-01", "2026-11-30")
SNTV_ENDED = dt.datetime(2026, 11, 8, 0, 2, 18, tzinfo=UTC)
SNTV_REPORTED = dt.datetime(2026, 11, 11, 0, 0, 56, tzinfo=UTC)
SNTV_DISABLED = dt.datetime(2026, 11, 20, 10, tzinfo=UTC)
AGENCY = ("chief", "chief-pw-1")
#: The sentence said with every report.
STANDING = (
    "Workstations report their downloads when they are next online and signed in, so the "
    "figures of past days can still grow."
)


@dataclass
class Day:
    live: LiveHub
    items: dict[str, str]


@pytest.fixture
def messy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Day]:
    live = start_hub(tmp_path)
    try:
        hub = live.hub
        live.member("rts", country="SN")
        live.member("sntv", country="SD")
        live.member(AGENCY[0], AGENCY[1], role="agency")
        with hub.db.session() as s:
            s.execute(update(Member).values(created_at=LONG_AGO))
        items = dict(zip("ABCD", library(hub, 4), strict=True))
        rts = member_id(hub, "rts")

        def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
            return dt.datetime(2026, 11, day, hour, minute, tzinfo=UTC)

        insert_downloads(
            hub,
            [
                (rts, at(6, 10), 1000, items["A"]),
                (rts, at(7, 11), 1000, items["B"]),
                (rts, at(30, 23, 50), 1000, items["D"]),
                (rts, at(30, 22), 1000, items["A"]),
            ],
            received=[
                at(6, 10),
                at(7, 11),
                dt.datetime(2026, 12, 2, 9, tzinfo=UTC),
                dt.datetime(2026, 12, 3, 8, tzinfo=UTC),
            ],
        )
        # sntv's workstation could send its event only on the 11th: the real way in
        hub_clock(monkeypatch, SNTV_REPORTED)
        sntv = live.login("sntv")
        sent = sntv.post(
            live.api("/history"),
            json={
                "events": [
                    {
                        "id": "sntv-item-c",
                        "type": "download_completed",
                        "item_id": items["C"],
                        "rendition": "broadcast",
                        "bytes": 2000,
                        "started_at": (SNTV_ENDED - dt.timedelta(minutes=3)).isoformat(),
                        "ended_at": SNTV_ENDED.isoformat(),
                        "device": "sntv-1",
                    }
                ]
            },
            timeout=30,
        )
        assert sent.status_code == 200 and sent.json()["accepted"] == 1, sent.text
        with hub.db.session() as s:
            s.execute(
                update(Member)
                .where(Member.username == "sntv")
                .values(active=False, disabled_at=SNTV_DISABLED)
            )
        hub_clock(monkeypatch, NOW)
        yield Day(live, items)
    finally:
        live.server.stop()
        live.hub.db.dispose()


def figures(hub: Hub, first: str, last: str) -> StatsOut:
    start, end = stats.period(first, last, utcnow())
    with hub.db.session() as s:
        return stats.compute_stats(s, start, end)


def rows(out: StatsOut) -> dict[str, MemberStats]:
    return {r.username: r for r in out.members}


def near(when: dt.datetime, expected: dt.datetime) -> bool:
    """The hub's clock ran on a little from where the test set it (and a time said to the
    minute or the second is a little before it)."""
    return abs(when - expected) < dt.timedelta(minutes=2)


# --- the report's time, and what came after the period ended ----------------------------------


def test_every_event_keeps_when_it_reached_the_hub(messy: Day) -> None:
    """``received_at`` is the hub's clock when the batch arrived, kept for every event (a
    column no row can leave empty, on SQLite and PostgreSQL), beside ``occurred_at``, the time
    the download ended (which the figures count by)."""
    hub = messy.live.hub
    columns = {c["name"]: c for c in inspect(hub.db.engine).get_columns("history")}
    assert columns["received_at"]["nullable"] is False
    with hub.db.session() as s:
        ev = s.execute(
            select(HistoryEvent).where(HistoryEvent.event_id == "sntv-item-c")
        ).scalar_one()
        assert ev.occurred_at == SNTV_ENDED
        assert near(ev.received_at, SNTV_REPORTED)
        assert s.scalar(select(HistoryEvent).where(HistoryEvent.received_at.is_(None))) is None


def test_a_closed_period_says_how_many_downloads_were_reported_after_it_ended(
    messy: Day,
) -> None:
    hub = messy.live.hub
    # the 8th: sntv's one download came three days later
    day = figures(hub, "2026-11-08", "2026-11-08")
    assert (day.downloads, day.downloads_reported_late) == (1, 1)
    assert {u: (r.downloads, r.downloads_reported_late) for u, r in rows(day).items()} == {
        "rts": (0, 0),
        "sntv": (1, 1),
    }
    assert stats.late_note(day.downloads, day.downloads_reported_late) == (
        "This download was reported after the period ended."
    )
    # the 30th: D came on 2 December, A's repeat on the 3rd (it was the 30th's only A)
    last = rows(figures(hub, "2026-11-30", "2026-11-30"))["rts"]
    assert (last.downloads, last.downloads_reported_late) == (2, 2)
    # November: A was reported in November (its repeat's late report adds no download),
    # C on the 11th; only D came after the month ended
    month = figures(hub, *NOVEMBER)
    assert (month.downloads, month.downloads_reported_late) == (4, 1)
    assert {u: (r.downloads, r.downloads_reported_late) for u, r in rows(month).items()} == {
        "rts": (3, 1),
        "sntv": (1, 0),
    }
    assert stats.late_note(month.downloads, month.downloads_reported_late, "month") == (
        "1 of these 4 downloads was reported after the month ended."
    )
    assert near(month.as_of, NOW)
    # a period that goes on: nothing can be late yet (null, not 0)
    december = figures(hub, "2026-12-01", "2026-12-31")
    assert december.downloads_reported_late is None
    assert all(r.downloads_reported_late is None for r in december.members)
    assert stats.late_note(december.downloads, None) == ""


def test_the_api_says_as_of_and_late_reports(messy: Day) -> None:
    live = messy.live
    agency = live.login(*AGENCY)
    got = agency.get(
        live.api("/stats"), params={"from": NOVEMBER[0], "to": NOVEMBER[1]}, timeout=30
    )
    assert got.status_code == 200, got.text
    st = got.json()
    assert near(dt.datetime.fromisoformat(st["as_of"]), NOW)
    assert (st["downloads"], st["downloads_reported_late"]) == (4, 1)
    members = {r["username"]: r["downloads_reported_late"] for r in st["members"]}
    assert members == {"rts": 1, "sntv": 0}
    # the month in progress: null
    now = agency.get(live.api("/stats"), timeout=30).json()
    assert "downloads_reported_late" in now and now["downloads_reported_late"] is None
    # documented in the contract
    schema = requests.get(live.url + "/openapi.json", timeout=30).json()["components"]["schemas"]
    assert {"as_of", "downloads_reported_late"} <= set(schema["StatsOut"]["required"])
    assert "downloads_reported_late" in schema["MemberStats"]["required"]


def test_the_page_says_as_of_and_late_reports(messy: Day) -> None:
    live = messy.live
    web = web_session(live, *AGENCY)
    page = parse(web.get(live.url + "/stats", params={"month": "2026-11"}, timeout=30).text)
    as_of = re.fullmatch(r"Figures as of 5 December 2026, (\d\d):(\d\d) UTC\.", page.by_id["as-of"])
    assert as_of is not None, page.by_id["as-of"]
    assert near(NOW.replace(hour=int(as_of[1]), minute=int(as_of[2])), NOW)
    assert page.by_id["late"] == "1 of these 4 downloads was reported after the month ended."
    assert page.by_id["late-reports"] == STANDING

    # the month in progress: when, and why past days can grow; nothing can be late yet
    current = parse(web.get(live.url + "/stats", timeout=30).text)
    assert current.by_id["as-of"].startswith("Figures as of 5 December 2026, ")
    assert "late" not in current.by_id
    assert current.by_id["late-reports"] == STANDING


def test_the_csv_says_as_of_and_late_reports(messy: Day) -> None:
    live = messy.live
    web = web_session(live, *AGENCY)
    r = web.get(live.url + "/stats.csv", params={"month": "2026-11"}, timeout=30)
    assert r.status_code == 200
    text = r.content.decode("utf-8-sig")
    header = next(csv.reader(io.StringIO(text, newline="")))
    # the columns before stay where they were: the new ones are added at the end
    assert header[:13] == [
        "month",
        "period_start",
        "period_end",
        "username",
        "display_name",
        "country",
        "downloads",
        "bytes_downloaded",
        "uploads",
        "upload_days",
        "days_in_period",
        "pledge_days",
        "pledge_met",
    ]
    assert header[13:] == ["downloads_reported_late", "disabled_since", "as_of_utc"]
    assert tuple(header) == CSV_COLUMNS
    table = {row["username"]: row for row in csv.DictReader(io.StringIO(text, newline=""))}
    assert len(table) == 2  # one row per member, nothing else
    assert (table["rts"]["downloads"], table["rts"]["downloads_reported_late"]) == ("3", "1")
    assert (table["sntv"]["downloads"], table["sntv"]["downloads_reported_late"]) == ("1", "0")
    as_of = {row["as_of_utc"] for row in table.values()}
    assert len(as_of) == 1
    assert near(dt.datetime.fromisoformat(as_of.pop()).replace(tzinfo=UTC), NOW)

    current = web.get(live.url + "/stats.csv", timeout=30).content.decode("utf-8-sig")
    now_rows = list(csv.DictReader(io.StringIO(current, newline="")))
    # (sntv, disabled in November, is no member of December)
    assert [(row["username"], row["downloads_reported_late"]) for row in now_rows] == [("rts", "")]


def test_alu_hub_stats_says_as_of_and_late_reports(messy: Day) -> None:
    """The command runs on the machine's clock (after November, as the test's data is)."""
    data = str(messy.live.hub.settings.data_dir)
    before = dt.datetime.now(UTC).replace(second=0, microsecond=0)
    out = hub_cli("stats", "--data", data, "--from", NOVEMBER[0], "--to", NOVEMBER[1])
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    header = re.fullmatch(
        r"2026-11-01 to 2026-11-30: 0 pushes, 4 downloads, 0 uploads by 0 members "
        r"\(as of (\d{4}-\d\d-\d\d \d\d:\d\d) UTC\)",
        lines[0],
    )
    assert header is not None, lines[0]
    as_of = dt.datetime.strptime(header[1], "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    assert dt.timedelta(0) <= as_of - before < dt.timedelta(minutes=2)
    notes = " ".join(lines[len(cli_rows(out.stdout)) + 3 :])
    assert notes == f"1 of these 4 downloads was reported after the period ended. {STANDING}"

    st = json.loads(
        hub_cli(
            "stats", "--data", data, "--from", NOVEMBER[0], "--to", NOVEMBER[1], "--json"
        ).stdout
    )
    assert st["downloads_reported_late"] == 1 and "as_of" in st
    # a period that goes on: when, and the standing sentence only
    going_on = hub_cli("stats", "--data", data).stdout.splitlines()
    assert " (as of " in going_on[0]
    assert " ".join(going_on[going_on.index("", 2) + 1 :]) == STANDING


# --- a disabled member is marked as one --------------------------------------------------------


def test_every_form_of_the_report_marks_a_disabled_member(messy: Day) -> None:
    """sntv, disabled on 20 November, missed days: each form says it is disabled, and since
    when (it said nothing: only ``alu-hub member list`` did)."""
    live = messy.live
    web = web_session(live, *AGENCY)
    # the page: beside its name ("sntv sntv": its display name, then its user name)
    page = parse(web.get(live.url + "/stats", params={"month": "2026-11"}, timeout=30).text)
    assert page.rows["sntv"][0] == "sntv sntv disabled since 20 Nov 2026"
    assert page.rows["rts"][0] == "rts rts"
    # the CSV: a column, the date
    text = web.get(live.url + "/stats.csv", params={"month": "2026-11"}, timeout=30)
    table = {
        row["username"]: row["disabled_since"]
        for row in csv.DictReader(io.StringIO(text.content.decode("utf-8-sig"), newline=""))
    }
    assert table == {"rts": "", "sntv": "2026-11-20"}
    # the API: the time, null while enabled
    agency = live.login(*AGENCY)
    st = agency.get(
        live.api("/stats"), params={"from": NOVEMBER[0], "to": NOVEMBER[1]}, timeout=30
    ).json()
    members = {r["username"]: r["disabled_since"] for r in st["members"]}
    assert members["rts"] is None
    assert dt.datetime.fromisoformat(members["sntv"]) == SNTV_DISABLED
    # alu-hub stats: after its pledge
    data = str(live.hub.settings.data_dir)
    out = hub_cli("stats", "--data", data, "--from", NOVEMBER[0], "--to", NOVEMBER[1])
    lines = {line.split()[0]: line for line in cli_rows(out.stdout)}
    assert lines["sntv"].endswith(" 0/20  no      disabled since 2026-11-20"), lines["sntv"]
    assert lines["rts"].endswith(" 0/30  no"), lines["rts"]
    # enabled again: no mark (the hub keeps no earlier spans)
    assert chore(live, "enable", "sntv").returncode == 0
    page = parse(web.get(live.url + "/stats", params={"month": "2026-11"}, timeout=30).text)
    assert page.rows["sntv"][0] == "sntv sntv"


# --- the README says how downloads are counted, as they are ------------------------------------

README = Path(__file__).resolve().parents[2] / "README.md"


def statistics_section() -> str:
    """The README's "Statistics page" section, its lines joined."""
    text = README.read_text(encoding="utf-8")
    start = text.index("**Statistics page.**")
    return " ".join(text[start : text.index("![Statistics page]", start)].split())


def add_event(
    hub: Hub, member: int, item: str, ended: dt.datetime, *, kind: str, size: int, device: str
) -> None:
    with hub.db.session() as s:
        s.add(
            HistoryEvent(
                event_id=uuid.uuid4().hex,
                member_id=member,
                type=kind,
                item_id=item,
                rendition="broadcast",
                bytes=size,
                started_at=ended - dt.timedelta(seconds=35),
                ended_at=ended,
                occurred_at=ended,
                received_at=ended,
                device=device,
            )
        )


def test_the_readme_says_how_downloads_are_counted_as_they_are(tmp_path: Path) -> None:
    """The rules the tester had to infer from the code (findings 2 and 3), each said in the
    README's Statistics section and checked here against the figures; and the sentence that
    was wrong ("the bytes are all those moved") is gone."""
    readme = statistics_section()
    assert "the bytes are all those moved" not in readme
    for rule in (
        "are the sizes of the files members received, each time a download completed",
        "a file fetched again because its part was damaged counts its size once",
        "a file found already verified in place (a shared download folder) counts its size",
        "**A download counts on the day it ended**",
        "A push counts on the day it was published.",
        "**Canceled and failed downloads are not counted**",
        "**Downloads are not additive across periods.**",
        "the days of a month do not add up to the month's downloads",
        "the same item on two workstations of one member is one download",
        "the same item on two workstations counts the size of both",
        "**A past day's download figures can still grow.**",
        "**A disabled member is marked as one**",
    ):
        assert rule in readme, rule

    hub = build_hub(hub_settings(tmp_path / "hub"))
    try:
        add_members(hub, [("rts", "RTS", "SN", "member")], None)
        rts = member_id(hub, "rts")
        first, second, third = library(hub, 3)
        day6 = dt.datetime(2026, 11, 6, tzinfo=UTC)
        # started at 23:59:38 on the 6th, ended at 00:00:13 on the 7th: the 7th's
        add_event(hub, rts, first, day6 + dt.timedelta(days=1, seconds=13),
                  kind="download_completed", size=1000, device="rts-a")  # fmt: skip
        # the same item on two workstations on the 6th: one download, both files' bytes
        for device in ("rts-a", "rts-b"):
            add_event(hub, rts, second, day6 + dt.timedelta(hours=9),
                      kind="download_completed", size=2000, device=device)  # fmt: skip
        # and again on the 8th: one on the 6th, one on the 8th, one for the three days
        add_event(hub, rts, second, day6 + dt.timedelta(days=2, hours=9),
                  kind="download_completed", size=2000, device="rts-a")  # fmt: skip
        # canceled and failed: nothing, not their bytes either
        for kind in ("download_canceled", "download_failed"):
            add_event(hub, rts, third, day6 + dt.timedelta(hours=10),
                      kind=kind, size=500, device="rts-a")  # fmt: skip

        def of(first_day: str, last_day: str) -> tuple[int, int]:
            r = rows(figures(hub, first_day, last_day))["rts"]
            return r.downloads, r.bytes_downloaded

        assert of("2026-11-06", "2026-11-06") == (1, 4000)
        assert of("2026-11-07", "2026-11-07") == (1, 1000)
        assert of("2026-11-08", "2026-11-08") == (1, 2000)
        assert of("2026-11-06", "2026-11-08") == (2, 7000)  # 3 days, 2 downloads; bytes add up
    finally:
        hub.db.dispose()


# --- the demo's downloads were reported when they ended ---------------------------------------


def test_the_demo_history_is_not_reported_late(tmp_path: Path) -> None:
    """``alu-hub demo``'s downloads (minutes after each item, over the last two days) are
    stored as reported when they ended: stored as reported when the demo was made, those of a
    day before it looked late on its page."""
    hub = build_hub(hub_settings(tmp_path / "hub"))
    try:
        library(hub, 3)
        members = {u: ensure_member(hub, u, None, country="KE") for u in ("ktn", "rts", "ortb")}
        with hub.db.session() as s:
            s.execute(update(Item).values(published_at=utcnow() - dt.timedelta(days=2)))
        with hub.db.session() as s:
            items = list(s.scalars(select(Item).options(selectinload(Item.renditions))))
            s.expunge_all()
        _seed_history(hub, items, members)
        with hub.db.session() as s:
            seeded = s.scalars(select(HistoryEvent)).all()
        assert seeded and all(e.received_at == e.occurred_at for e in seeded)
    finally:
        hub.db.dispose()
