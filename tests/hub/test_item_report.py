"""Who downloaded an item, and what was published (the outside review: the hub held the answer
in its history, but no report gave it): ``alu-hub items list``, ``alu-hub items show`` and
``GET /api/v1/stats/items/{id}``, from events the workstations post through the API.

The hub: a push published for real ("Floods in the north") and a member upload by ktn this
week, and a push of ten days ago. Its history, as the workstations reported it:
- ktn downloaded the push's broadcast file on its workstation ktn-edit-1, and its proxy on
  ktn-edit-2;
- rts's first try failed, its second completed (rts-1);
- ortb canceled once and failed once: it never had it;
- agency staff downloaded it too (not a member: not listed);
- sntv did nothing; gone, disabled, did nothing either (not listed among those to chase).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlalchemy import update

from alu_hub.models import Item, Member
from tests.support.livehub import LiveHub, start_hub

from .test_cli import hub_cli
from .test_stats_page import insert_items, member_id, web_session

pytestmark = pytest.mark.timeout(180)

UTC = dt.UTC
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")  # fmt: skip
AGENCY = ("chief", "chief-pw-1")


@dataclass
class Newsroom:
    live: LiveHub
    push: str
    upload: str
    old: str
    data: str
    reported: dict[str, dt.datetime]


def report(
    live: LiveHub, who: requests.Session, events: list[tuple[str, str, str, str]], item: str
) -> None:
    """The events (type, rendition, device, how long ago: minutes) as a workstation sends
    them: a batch to POST /api/v1/history with its clock's time."""
    now = dt.datetime.now(UTC)
    batch = []
    for kind, rendition, device, ago in events:
        ended = now - dt.timedelta(minutes=int(ago))
        batch.append(
            {
                "id": str(uuid.uuid4()),
                "type": kind,
                "item_id": item,
                "rendition": rendition,
                "bytes": 1000 if kind == "download_completed" else 10,
                "started_at": (ended - dt.timedelta(seconds=30)).isoformat(),
                "ended_at": ended.isoformat(),
                "device": device,
                "detail": {"label": "Floods in the north"},
            }
        )
    sent = who.post(
        live.api("/history"), json={"events": batch, "sent_at": now.isoformat()}, timeout=30
    )
    assert sent.status_code == 200 and sent.json()["accepted"] == len(batch), sent.text


@pytest.fixture(scope="module")
def newsroom(tmp_path_factory: pytest.TempPathFactory, clip: Path) -> Iterator[Newsroom]:
    tmp = tmp_path_factory.mktemp("newsroom")
    live = start_hub(tmp)
    try:
        hub = live.hub
        live.member("ktn", country="KE")
        live.member("ortb", country="BJ")
        live.member("rts", country="SN")
        live.member("sntv", country="SD")
        live.member("gone", country="GH")
        live.member(AGENCY[0], AGENCY[1], role="agency")
        with hub.db.session() as s:
            s.execute(
                update(Member)
                .where(Member.username == "ktn")
                .values(display_name="Kenya Television Network")
            )
            s.execute(
                update(Member)
                .where(Member.username == "gone")
                .values(active=False, disabled_at=dt.datetime.now(UTC))
            )
        now = dt.datetime.now(UTC)
        old = insert_items(hub, [("push", None, now - dt.timedelta(days=10))])[0]
        push = live.publish(clip, "Floods in the north", slug="KENYA-FLOODS", priority="urgent")
        with hub.db.session() as s:  # an hour ago: the downloads below came after it
            s.execute(
                update(Item).where(Item.id == push).values(published_at=now - dt.timedelta(hours=1))
            )
        upload = insert_items(hub, [("member_upload", member_id(hub, "ktn"), now)])[0]
        ktn, rts, ortb = live.login("ktn"), live.login("rts"), live.login("ortb")
        report(live, ktn, [("download_completed", "broadcast", "ktn-edit-1", "50")], push)
        report(live, ktn, [("download_completed", "proxy", "ktn-edit-2", "20")], push)
        report(
            live,
            rts,
            [
                ("download_failed", "broadcast", "rts-1", "45"),
                ("download_completed", "broadcast", "rts-1", "40"),
            ],
            push,
        )
        report(
            live,
            ortb,
            [
                ("download_canceled", "broadcast", "ortb-1", "30"),
                ("download_failed", "broadcast", "ortb-1", "10"),
            ],
            push,
        )
        report(live, live.login(*AGENCY), [("download_completed", "proxy", "desk", "5")], push)
        # an old item ktn downloaded: counted for that item only
        report(live, ktn, [("download_completed", "broadcast", "ktn-edit-1", "5")], old)
        yield Newsroom(
            live,
            push,
            upload,
            old,
            str(hub.settings.data_dir),
            {
                "ktn": now - dt.timedelta(minutes=50),
                "rts": now - dt.timedelta(minutes=40),
                "ortb": now - dt.timedelta(minutes=10),
            },
        )
    finally:
        live.server.stop()
        live.hub.db.dispose()


def near(text: str, when: dt.datetime) -> bool:
    return abs(dt.datetime.fromisoformat(text) - when) < dt.timedelta(minutes=2)


# --- items show and the API ---------------------------------------------------------------------


def test_items_show_says_who_downloaded_the_item(newsroom: Newsroom) -> None:
    out = hub_cli("items", "show", newsroom.push, "--data", newsroom.data, "--json")
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert (r["id"], r["title"], r["slug"], r["kind"], r["sender"], r["priority"]) == (
        newsroom.push,
        "Floods in the north",
        "KENYA-FLOODS",
        "push",
        "agency",
        "urgent",
    )
    assert sorted(x["name"] for x in r["renditions"]) == ["broadcast", "proxy"]
    assert all(x["size"] > 0 for x in r["renditions"])
    # who downloaded it, first first: members only (not the agency's own desk)
    got = [
        (d["username"], d["renditions"], d["devices"], d["unnamed_device"])
        for d in r["downloaded_by"]
    ]
    assert got == [
        ("ktn", ["broadcast", "proxy"], ["ktn-edit-1", "ktn-edit-2"], False),
        ("rts", ["broadcast"], ["rts-1"], False),
    ]
    ktn, rts = r["downloaded_by"]
    assert ktn["display_name"] == "Kenya Television Network" and ktn["country"] == "KE"
    assert near(ktn["first_download_at"], newsroom.reported["ktn"])
    assert near(rts["first_download_at"], newsroom.reported["rts"])
    # tried and never had it: ortb (rts's failure is followed by its download)
    assert [
        (a["username"], a["last_outcome"], a["canceled"], a["failed"]) for a in r["not_completed"]
    ] == [("ortb", "failed", 1, 1)]
    assert near(r["not_completed"][0]["last_at"], newsroom.reported["ortb"])
    # to chase: the enabled members with nothing (not the disabled one, not agency staff)
    assert [m["username"] for m in r["not_downloaded"]] == ["sntv"]

    # by seq, as text
    seq = str(r["seq"])
    text = hub_cli("items", "show", seq, "--data", newsroom.data)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0] == f"Item {newsroom.push} (seq {seq}): Floods in the north"
    assert "Downloaded by 2 members (as of " in text.stdout
    row = next(line for line in lines if line.lstrip().startswith("ktn "))
    assert "broadcast, proxy" in row and row.endswith("2 (ktn-edit-1, ktn-edit-2)"), row
    assert "Kenya Television Network (ktn)" in text.stdout
    assert "Tried, never completed: 1 member:" in text.stdout
    assert any(line.startswith("  ortb: last failed ") for line in lines)
    assert "Not downloaded: 1 enabled member:" in text.stdout
    assert any(line.split()[:2] == ["sntv", "SD"] for line in lines)


def test_items_show_refuses_an_unknown_item_in_one_line(newsroom: Newsroom) -> None:
    for key in ("999999", "nosuchitem"):
        out = hub_cli("items", "show", key, "--data", newsroom.data)
        assert out.returncode == 2
        assert out.stdout == ""
        assert out.stderr.count("\n") == 1 and "There is no item" in out.stderr, out.stderr


def test_the_api_gives_agency_staff_the_same_figures_and_refuses_members(
    newsroom: Newsroom,
) -> None:
    live = newsroom.live
    agency = live.login(*AGENCY)
    r = agency.get(live.api(f"/stats/items/{newsroom.push}"), timeout=30)
    assert r.status_code == 200, r.text
    cli = json.loads(
        hub_cli("items", "show", newsroom.push, "--data", newsroom.data, "--json").stdout
    )
    got = r.json()
    assert got.pop("as_of") and cli.pop("as_of")
    assert got == cli
    member = live.login("ktn").get(live.api(f"/stats/items/{newsroom.push}"), timeout=30)
    assert member.status_code == 403 and member.json()["error"]["code"] == "agency_only", (
        member.text
    )
    missing = agency.get(live.api("/stats/items/nosuchitem"), timeout=30)
    assert missing.status_code == 404
    assert "/api/v1/stats/items/{item_id}" in agency.get(live.url + "/openapi.json").json()["paths"]


# --- items list ---------------------------------------------------------------------------------


def test_items_list_lists_the_weeks_items_newest_first(newsroom: Newsroom) -> None:
    out = hub_cli("items", "list", "--data", newsroom.data, "--json")
    assert out.returncode == 0, out.stderr
    listed = json.loads(out.stdout)
    # the last 7 days: not the item of ten days ago
    got = [(i["id"], i["kind"], i["sender"], i["downloaded_by"]) for i in listed["items"]]
    assert got == [
        (newsroom.upload, "member_upload", "ktn", 0),
        (newsroom.push, "push", "agency", 2),
    ]
    assert listed["total"] == 2
    assert listed["items"][0]["seq"] > listed["items"][1]["seq"]

    text = hub_cli("items", "list", "--data", newsroom.data).stdout.splitlines()
    assert text[0].startswith("Items published from ") and text[0].endswith(", newest first:")
    assert text[1].split()[:3] == ["seq", "id", "published"]
    push_row = next(line for line in text if newsroom.push in line)
    cells = push_row.split()
    assert cells[4:8] == ["push", "agency", "urgent", "2"], push_row
    assert push_row.endswith("Floods in the north")

    # a longer period: the old one too, with its download
    days = hub_cli(
        "items", "list", "--data", newsroom.data, "--from",
        (dt.datetime.now(UTC) - dt.timedelta(days=12)).date().isoformat(), "--json",
    )  # fmt: skip
    assert [i["downloaded_by"] for i in json.loads(days.stdout)["items"]] == [0, 2, 1]


def test_items_list_filters_and_limits(newsroom: Newsroom) -> None:
    def ids(*args: str) -> list[str]:
        out = hub_cli("items", "list", "--data", newsroom.data, "--json", *args)
        assert out.returncode == 0, out.stderr
        return [i["id"] for i in json.loads(out.stdout)["items"]]

    assert ids("--kind", "push") == [newsroom.push]
    assert ids("--kind", "member_upload") == [newsroom.upload]
    assert ids("--member", "ktn") == [newsroom.upload]
    assert ids("--member", "rts") == []
    assert ids("--limit", "1") == [newsroom.upload]
    cut = hub_cli("items", "list", "--data", newsroom.data, "--limit", "1")
    assert cut.stdout.splitlines()[-1] == (
        "… and 1 older item in the period: narrow the period or raise --limit."
    )
    # nothing: one line
    none = hub_cli("items", "list", "--data", newsroom.data, "--member", "rts")
    assert none.returncode == 0
    assert none.stdout.count("\n") == 1 and none.stdout.startswith("No member uploads by rts ")


def test_items_list_refuses_as_stats_does(newsroom: Newsroom) -> None:
    for args in (
        ("--from", "2026-13-01"),
        ("--from", "2026-12-05", "--to", "2026-12-01"),
        ("--from", "2001-01-01", "--to", "2026-01-01"),
    ):
        mine = hub_cli("items", "list", "--data", newsroom.data, *args)
        theirs = hub_cli("stats", "--data", newsroom.data, *args)
        assert mine.returncode == theirs.returncode == 2
        assert mine.stderr == theirs.stderr and mine.stderr.count("\n") == 1, mine.stderr
    unknown = hub_cli("items", "list", "--data", newsroom.data, "--member", "nobody")
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert unknown.stderr == (
        "alu-hub: There is no member 'nobody': `alu-hub member list` shows them.\n"
    )
    zero = hub_cli("items", "list", "--data", newsroom.data, "--limit", "0")
    assert zero.returncode == 2 and "--limit" in zero.stderr


# --- alu-hub stats --csv ------------------------------------------------------------------------


def rows_of(body: bytes) -> list[list[str]]:
    import csv
    import io

    assert body.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def test_stats_csv_is_the_monthly_csv_for_any_period(newsroom: Newsroom, tmp_path: Path) -> None:
    live = newsroom.live
    today = dt.datetime.now(UTC).date()
    month = f"{today:%Y-%m}"
    web = web_session(live, *AGENCY)
    page = web.get(live.url + "/stats.csv", params={"month": month}, timeout=30)
    assert page.status_code == 200, page.text
    written = tmp_path / "month.csv"
    out = hub_cli(
        "stats", "--data", newsroom.data, "--csv", "--output", str(written),
        "--from", f"{month}-01", "--to", today.isoformat(),
    )  # fmt: skip
    assert out.returncode == 0 and out.stdout == "", out.stderr
    theirs, mine = rows_of(page.content), rows_of(written.read_bytes())
    assert b"\r\n" in written.read_bytes()
    # the same rows, but for when each was computed (the last column)
    assert [r[:-1] for r in mine] == [r[:-1] for r in theirs]
    assert mine[0][-1] == "as_of_utc"
    assert {r[3] for r in mine[1:]} >= {"ktn", "ortb", "rts", "sntv"}
    assert {r[0] for r in mine[1:]} == {month}

    # nine days, to stdout: no month, its first and last days
    first = today - dt.timedelta(days=8)
    week = hub_cli(
        "stats", "--data", newsroom.data, "--csv", "--from", first.isoformat(),
        "--to", today.isoformat(),
    )  # fmt: skip
    assert week.returncode == 0, week.stderr
    rows = rows_of(week.stdout.encode())
    table = {r[3]: r for r in rows[1:]}
    assert table["ktn"][:3] == ["", first.isoformat(), today.isoformat()]
    assert table["ktn"][6] == "2" and table["rts"][6] == "1" and table["ortb"][6] == "0"
    assert table["ktn"][10] == "9"  # days_in_period


def test_month_is_the_stats_pages_period(newsroom: Newsroom) -> None:
    # the agency's report is monthly: --from/--to by hand, or a month column left empty
    today = dt.datetime.now(UTC).date()
    month = f"{today:%Y-%m}"
    by_days = hub_cli(
        "stats", "--data", newsroom.data, "--csv", "--from", f"{month}-01",
        "--to", today.isoformat(),
    )  # fmt: skip
    by_month = hub_cli("stats", "--data", newsroom.data, "--csv", "--month", month)
    assert by_month.returncode == 0, by_month.stderr
    mine = rows_of(by_month.stdout.encode())
    assert [r[:-1] for r in mine] == [r[:-1] for r in rows_of(by_days.stdout.encode())]
    assert {r[0] for r in mine[1:]} == {month}
    text = hub_cli("stats", "--data", newsroom.data, "--month", month)
    assert text.returncode == 0 and text.stdout.startswith(f"{month}-01 "), text.stdout
    # items list takes it too; audit as well (same options)
    listed = hub_cli("items", "list", "--data", newsroom.data, "--month", month, "--json")
    assert listed.returncode == 0, listed.stderr
    assert newsroom.push in {i["id"] for i in json.loads(listed.stdout)["items"]}
    assert hub_cli("audit", "--data", newsroom.data, "--month", month).returncode == 0

    later = f"{today.year + 1}-{today.month:02d}"
    for args, said in (
        (("--month", "2026-13"), "alu-hub: --month: '2026-13' is not a month (YYYY-MM).\n"),
        (("--month", later), f"alu-hub: --month: {MONTHS[today.month - 1]} {today.year + 1} "
                              "has not begun yet.\n"),
        (("--month", month, "--from", f"{month}-01"),
         "alu-hub: --month is a whole period: give it without --from and --to.\n"),
    ):  # fmt: skip
        for verb in (("stats",), ("items", "list")):
            out = hub_cli(*verb, "--data", newsroom.data, *args)
            assert (out.returncode, out.stdout, out.stderr) == (2, "", said), (verb, args)


def test_stats_csv_refuses_json_in_one_line(newsroom: Newsroom) -> None:
    out = hub_cli("stats", "--data", newsroom.data, "--csv", "--json")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr == "alu-hub: --csv and --json cannot be used together: choose one.\n"
    out = hub_cli("stats", "--data", newsroom.data, "--output", "x.csv")
    assert out.returncode == 2 and out.stderr.count("\n") == 1


def test_a_member_upload_names_its_sender_and_does_not_chase_it(newsroom: Newsroom) -> None:
    out = hub_cli("items", "show", newsroom.upload, "--data", newsroom.data, "--json")
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert (r["kind"], r["sender"], r["sender_display_name"]) == (
        "member_upload",
        "ktn",
        "Kenya Television Network",
    )
    assert r["downloaded_by"] == [] and r["not_completed"] == []
    # ktn has the footage: not among those that have not downloaded it
    assert [m["username"] for m in r["not_downloaded"]] == ["ortb", "rts", "sntv"]
    text = hub_cli("items", "show", newsroom.upload, "--data", newsroom.data).stdout
    assert "sent by Kenya Television Network (ktn)" in text
    assert "Downloaded by 0 members" in text and "Not downloaded: 3 enabled members:" in text


def test_items_show_says_when_the_footage_was_shot(capsys: pytest.CaptureFixture[str]) -> None:
    """The operator compares when it was shot with when it went out (an upload's recorded
    time after its publication is a zone mistaken); not said when nobody said it."""
    from alu_hub.cli_reports import print_report
    from alu_hub.item_report import ItemReport

    fields = {
        "seq": 7, "id": "a" * 32, "title": "Floods", "slug": "", "kind": "member_upload",
        "sender": "ktn", "sender_display_name": "", "priority": "routine",
        "published_at": dt.datetime(2026, 12, 7, 17, 22, tzinfo=UTC), "renditions": [],
        "downloaded_by": [], "not_completed": [], "not_downloaded": [],
        "as_of": dt.datetime(2026, 12, 7, 18, 0, tzinfo=UTC),
    }  # fmt: skip
    shot = dt.datetime(2026, 12, 7, 20, 30, tzinfo=dt.timezone(dt.timedelta(hours=3)))
    print_report(ItemReport(**fields, recorded_at=shot))
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:3] == ["  kind:      member_upload, sent by ktn, priority routine",
                          "  recorded:  2026-12-07 17:30 UTC"]  # fmt: skip
    assert lines[3] == "  published: 2026-12-07 17:22 UTC"
    print_report(ItemReport(**fields))
    assert "recorded:" not in capsys.readouterr().out


def test_a_long_member_name_does_not_run_into_its_country(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # "a-very-long-member-name-hereNG": names up to 64 characters are allowed
    from alu_hub.cli_reports import print_report
    from alu_hub.item_report import ItemReport, MemberRef

    long = "a-very-long-member-name-here"
    print_report(
        ItemReport(
            seq=7, id="a" * 32, title="Floods", slug="", kind="push", sender="agency",
            sender_display_name="", priority="routine",
            published_at=dt.datetime(2026, 12, 7, 17, 22, tzinfo=UTC), renditions=[],
            downloaded_by=[], not_completed=[],
            not_downloaded=[MemberRef(username=long, display_name="Long TV", country="NG"),
                            MemberRef(username="ktn", display_name="KTN", country="KE")],
            as_of=dt.datetime(2026, 12, 7, 18, 0, tzinfo=UTC),
        )
    )  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    wide = len(long) + 1
    assert f"  {long:<{wide}}NG  Long TV" in lines
    assert f"  {'ktn':<{wide}}KE  KTN" in lines
