"""``alu-hub items withdraw|correct`` and ``alu-hub publish`` of a file already pushed, as the
agency's operator meets them: what was done in one line, every refusal in one line with
nothing changed."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from alu_hub.models import Member
from alu_hub.publish import ItemFields, publish_file
from tests.support.livehub import hub_env

from .conftest import LiveHub

pytestmark = pytest.mark.timeout(180)


def hub_cli(live: LiveHub, *args: str) -> subprocess.CompletedProcess[str]:
    data = live.hub.settings.data_dir
    return subprocess.run(
        [sys.executable, "-m", "alu_hub.cli", *args, "--data", str(data)],
        capture_output=True,
        text=True,
        timeout=120,
        env=hub_env(data),
    )


def one_line(r: subprocess.CompletedProcess[str]) -> str:
    """The command's only line on stderr (no traceback, no library noise)."""
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


def test_the_operator_corrects_then_withdraws_an_item(live_hub: LiveHub, clip: Path) -> None:
    item_id = live_hub.publish(clip, title="Floods", restrictions="None")
    member = live_hub.login("ktn")
    restrictions = live_hub.tmp / "restrictions.txt"
    restrictions.write_text("\ufeffNo access Kenya\nNo archive\n", encoding="utf-8")
    r = hub_cli(
        live_hub, "items", "correct", "1", "--title", "Floods in Kisumu",
        "--restrictions-file", str(restrictions), "--note", "Place and restrictions",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout == (
        f"Corrected item 1 ({item_id}) “Floods in Kisumu”, revision 2: title, restrictions.\n"
    )
    got = member.get(live_hub.api(f"/items/{item_id}"), timeout=10).json()
    assert (got["title"], got["restrictions"], got["correction_note"]) == (
        "Floods in Kisumu",
        "No access Kenya\nNo archive",
        "Place and restrictions",
    )

    r = hub_cli(live_hub, "items", "withdraw", item_id, "--reason", "Embargo broken")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"Withdrew item 1 ({item_id}) “Floods in Kisumu”: ")
    got = member.get(live_hub.api(f"/items/{item_id}"), timeout=10).json()
    assert (got["withdrawn_reason"], got["revision"]) == ("Embargo broken", 3)
    files = member.get(live_hub.api(f"/items/{item_id}/renditions/broadcast"), timeout=10)
    assert files.status_code == 410

    # the operator's reports say it too
    listed = hub_cli(live_hub, "items", "list")
    assert listed.returncode == 0, listed.stderr
    assert "  [WITHDRAWN] Floods" in listed.stdout
    shown = hub_cli(live_hub, "items", "show", "1")
    assert shown.returncode == 0, shown.stderr
    assert "  corrected: " in shown.stdout and shown.stdout.count("Place and restrictions") == 1
    assert " UTC: Embargo broken\n" in shown.stdout.split("  WITHDRAWN: ", 1)[1]


def test_each_refusal_of_the_item_commands_is_one_line_and_changes_nothing(
    live_hub: LiveHub, clip: Path
) -> None:
    live_hub.publish(clip, title="Floods")
    gone = live_hub.publish(clip, title="Fire")
    assert hub_cli(live_hub, "items", "withdraw", gone, "--reason", "Legal").returncode == 0
    for args, status, line in (
        (
            ("items", "withdraw", "99", "--reason", "x"),
            2,
            "alu-hub: There is no item '99': give the item's id or its number in the feed "
            "(seq); nothing was changed.",
        ),
        (
            ("items", "withdraw", "1", "--reason", "  "),
            2,
            "alu-hub: The reason is blank: say why the item is withdrawn (--reason TEXT; every "
            "member sees it). Nothing was changed.",
        ),
        (
            ("items", "correct", "1", "--title", "New", "--note", ""),
            2,
            "alu-hub: The note is blank: say what was corrected (--note TEXT; every member sees "
            "it). Nothing was changed.",
        ),
        (
            ("items", "correct", "1", "--note", "fixed"),
            2,
            "alu-hub: Nothing to correct: give at least one of --title, --slug, --dateline, "
            "--restrictions, --restrictions-file, --script-file, --shotlist-file, --priority, "
            "--language, --country, --category, --region, --recorded-at.",
        ),
        (
            ("items", "correct", "1", "--title", " Floods ", "--note", "fixed"),
            2,
            "alu-hub: Nothing to correct: item 1 already says that.",
        ),
        (
            ("items", "correct", "1", "--script-file", "/nonexistent/script.txt", "--note", "n"),
            2,
            "alu-hub: --script-file /nonexistent/script.txt cannot be read (there is no such "
            "file): check the path. Nothing was changed.",
        ),
    ):
        r = hub_cli(live_hub, *args)
        assert (r.returncode, one_line(r)) == (status, line), args
    for args in (
        ("items", "withdraw", "2", "--reason", "again"),
        ("items", "correct", gone, "--title", "x", "--note", "n"),
    ):
        r = hub_cli(live_hub, *args)
        assert r.returncode == 1
        assert one_line(r).startswith("alu-hub: Item 2 was withdrawn on "), r.stderr
        assert one_line(r).endswith(" UTC (Legal); a withdrawn item cannot be changed.")
    member = live_hub.login("ktn")
    assert member.get(live_hub.api("/items/changes"), timeout=10).json()["next"] == 1


def test_the_operator_corrects_language_country_category_region_and_recorded_date(
    live_hub: LiveHub, clip: Path
) -> None:
    item_id = live_hub.publish(clip, title="Floods", country="KE", category="News")
    member = live_hub.login("ktn")
    r = hub_cli(
        live_hub, "items", "correct", "1", "--language", "ar", "--country", "ug",
        "--category", "Weather", "--region", "East Africa", "--recorded-at", "2026-11-20T08:30",
        "--note", "Uganda, not Kenya",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout == (
        f"Corrected item 1 ({item_id}) “Floods”, revision 2: language, country, category, "
        "region, recorded_at.\n"
    )
    got = member.get(live_hub.api(f"/items/{item_id}"), timeout=10).json()
    assert (got["language"], got["country"], got["category"], got["region"]) == (
        "ar",
        "UG",
        "Weather",
        "East Africa",
    )
    assert dt.datetime.fromisoformat(got["recorded_at"]) == dt.datetime(
        2026, 11, 20, 8, 30, tzinfo=dt.UTC
    )
    for args, line in (
        (
            ("--country", "XX"),
            "alu-hub: country takes a country's ISO 3166 two-letter code, e.g. KE, not 'XX'. "
            "Nothing was corrected.",
        ),
        (
            ("--recorded-at", "yesterday"),
            "alu-hub: recorded_at 'yesterday' is not a date (use 2026-11-22 or "
            "2026-11-22T14:30). Nothing was corrected.",
        ),
    ):
        r = hub_cli(live_hub, "items", "correct", "1", *args, "--note", "n")
        assert (r.returncode, one_line(r)) == (2, line), args
    assert member.get(live_hub.api(f"/items/{item_id}"), timeout=10).json()["revision"] == 2


def test_withdrawing_a_member_s_upload_says_it_leaves_their_pledge(
    live_hub: LiveHub, clip: Path
) -> None:
    live_hub.member("ktn")
    with live_hub.hub.db.session() as s:
        ktn = s.scalars(select(Member).where(Member.username == "ktn")).one()
        s.expunge(ktn)
    upload = publish_file(
        live_hub.hub, clip, ItemFields(title="Upload"), kind="member_upload", source_member=ktn
    )
    day = (upload.received_at or upload.published_at).date()
    r = hub_cli(live_hub, "items", "withdraw", upload.id, "--reason", "Wrong footage")
    assert r.returncode == 0, r.stderr
    assert r.stdout.endswith(
        "its files are no longer served. It no longer counts as ktn's upload (their pledge "
        f"for {day:%Y-%m-%d} may change).\n"
    )
    push = live_hub.publish(clip, title="Push")
    r = hub_cli(live_hub, "items", "withdraw", push, "--reason", "Wrong footage")
    assert r.returncode == 0, r.stderr
    assert r.stdout.endswith("its files are no longer served.\n")


def test_publishing_a_file_already_pushed_is_refused_unless_forced(
    live_hub: LiveHub, clip: Path
) -> None:
    first = hub_cli(live_hub, "publish", str(clip), "--title", "Floods")
    assert first.returncode == 0, first.stderr
    again = hub_cli(live_hub, "publish", str(clip), "--title", "Floods again")
    assert again.returncode == 1
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    assert one_line(again) == (
        f'alu-hub: {clip} is already item 1 "Floods" (published {date}); nothing was '
        "published. Use --force to publish it again."
    )
    forced = hub_cli(live_hub, "publish", str(clip), "--title", "Floods again", "--force")
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout.startswith("Published ") and "(seq 2)" in forced.stdout
    # both withdrawn: the file is no live item, and may be published again
    for seq in ("1", "2"):
        assert hub_cli(live_hub, "items", "withdraw", seq, "--reason", "dup").returncode == 0
    third = hub_cli(live_hub, "publish", str(clip), "--title", "Floods, right this time")
    assert third.returncode == 0, third.stderr
    assert "(seq 3)" in third.stdout
