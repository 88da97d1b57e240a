"""``alu-hub member edit|remove|sessions`` and ``signout --session``, and the country codes the
operator gives, against a hub that is serving meanwhile: a typo mended, a broadcaster that
took a new name, an account made by mistake removed, one lost workstation signed out while the
member's others go on, and a stats-page session told apart from a workstation's sign-in."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from alu_hub.models import HistoryEvent, Member, Token, Upload, utcnow
from tests.support.livehub import LiveHub, hub_env
from tests.support.waiting import wait_until

ISO = "takes a country's ISO 3166 two-letter code, e.g. KE, not"


@pytest.fixture(autouse=True)
def short_token_cache(live_hub: LiveHub) -> None:
    live_hub.hub.tokens.ttl_s = 1.0  # (ended sign-ins refused at once: test_cli_members)


def alu_hub(live_hub: LiveHub, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    data: Path = live_hub.tmp / "hub"
    return subprocess.run(
        [sys.executable, "-m", "alu_hub.cli", *args, "--data", str(data)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=hub_env(data),
    )


def refused(r: subprocess.CompletedProcess[str], words: str) -> None:
    """One line on stderr, exit 2, nothing on stdout, no traceback."""
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == ""
    assert r.stderr.splitlines() == [f"alu-hub: {words}"], r.stderr


def member(live_hub: LiveHub, name: str) -> Member:
    with live_hub.hub.db.session() as s:
        m = s.execute(select(Member).where(Member.username == name)).scalar_one_or_none()
        assert m is not None
        s.expunge(m)
        return m


def sign_in(live_hub: LiveHub, name: str, device: str, password: str = "pw-1234") -> str:
    r = requests.post(
        live_hub.api("/session"),
        json={"username": name, "password": password, "device": device},
        timeout=10,
    )
    r.raise_for_status()
    return str(r.json()["token"])


def me(live_hub: LiveHub, token: str) -> int:
    return requests.get(
        live_hub.api("/me"), headers={"Authorization": f"Bearer {token}"}, timeout=10
    ).status_code


def stats_page(live_hub: LiveHub, name: str, password: str = "pw-1234") -> requests.Session:
    s = requests.Session()
    r = s.post(
        f"{live_hub.url}/stats/login",
        data={"username": name, "password": password, "next": "/stats"},
        headers={"User-Agent": "Firefox/140"},
        allow_redirects=False,
        timeout=30,
    )
    assert r.status_code == 303, r.text
    return s


def test_member_edit_mends_the_display_name_and_the_country(live_hub: LiveHub) -> None:
    live_hub.member("ktn", country="KN")  # a typo: Saint Kitts and Nevis for Kenya
    r = alu_hub(live_hub, "member", "edit", "ktn", "--display-name", "Kenya TV", "--country", "ke")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Changed ktn: display name 'Kenya TV' (was 'ktn'), country KE (was KN).\n"
    m = member(live_hub, "ktn")
    assert (m.display_name, m.country) == ("Kenya TV", "KE")
    r = alu_hub(live_hub, "member", "edit", "ktn", "--display-name", "KTN News")  # a new name
    assert r.stdout == "Changed ktn: display name 'KTN News' (was 'Kenya TV').\n"
    r = alu_hub(live_hub, "member", "edit", "ktn", "--country", "KE")
    assert r.stdout == "Nothing to change: ktn has these already.\n"
    assert (member(live_hub, "ktn").display_name, member(live_hub, "ktn").country) == (
        "KTN News",
        "KE",
    )

    refused(
        alu_hub(live_hub, "member", "edit", "ktn"),
        "nothing to change: give --display-name and/or --country.",
    )
    refused(alu_hub(live_hub, "member", "edit", "ktn", "--country", "XX"), f"--country {ISO} 'XX'.")
    refused(
        alu_hub(live_hub, "member", "edit", "ktn", "--country", "Kenya"),
        f"--country {ISO} 'Kenya'.",
    )
    refused(
        alu_hub(live_hub, "member", "edit", "ktn", "--country", ""),
        "ktn is a member: it needs its country (--country and its two-letter code, e.g. KE).",
    )
    refused(
        alu_hub(live_hub, "member", "edit", "ktn", "--display-name", "KTN\nroot"),
        "the display name 'KTN\\nroot' holds a character a name cannot have ('\\n').",
    )
    refused(
        alu_hub(live_hub, "member", "edit", "ktn", "--display-name", "K" * 201),
        "the display name is 201 characters long; it can have at most 200.",
    )
    refused(
        alu_hub(live_hub, "member", "edit", "nobody", "--country", "KE"),
        "there is no member named 'nobody' (see alu-hub member list).",
    )
    assert member(live_hub, "ktn").display_name == "KTN News"
    # agency staff need no country: it can be taken away
    live_hub.member("chief", role="agency", country="KE")
    r = alu_hub(live_hub, "member", "edit", "chief", "--country", "")
    assert r.stdout == "Changed chief: country (none) (was KE).\n", r.stderr


def test_country_codes_are_iso_3166_and_old_rows_still_show(live_hub: LiveHub, clip: Path) -> None:
    """``--country XX`` was taken; a member stored with such a code before still loads."""
    r = alu_hub(
        live_hub, "member", "add", "nbs", "--country", "XX", "--password-stdin", stdin="pa55word\n"
    )
    refused(r, f"--country {ISO} 'XX'.")
    r = alu_hub(live_hub, "publish", str(clip), "--title", "Floods", "--country", "QQ")
    refused(r, f"--country {ISO} 'QQ'. Nothing was published.")
    r = alu_hub(live_hub, "publish", str(clip), "--title", "Floods", "--country", "ug")
    assert r.returncode == 0, r.stderr
    live_hub.member("old", country="XX")  # as a hub before the check stored it
    listed = alu_hub(live_hub, "member", "list")
    assert listed.returncode == 0, listed.stderr
    assert ["old", "member", "XX"] in [line.split()[:3] for line in listed.stdout.splitlines()]
    stats = alu_hub(live_hub, "stats")
    assert stats.returncode == 0, stats.stderr
    assert ["old", "XX"] in [line.split()[:2] for line in stats.stdout.splitlines()]


def test_member_remove_takes_only_an_account_that_did_nothing(live_hub: LiveHub) -> None:
    live_hub.member("typo")
    token = sign_in(live_hub, "typo", "newsroom-1")
    assert me(live_hub, token) == 200
    r = alu_hub(live_hub, "member", "remove", "typo")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Removed member typo; 1 workstation sign-in ended.\n"
    wait_until(lambda: me(live_hub, token) == 401, timeout=10)
    with live_hub.hub.db.session() as s:
        assert s.scalar(select(Member).where(Member.username == "typo")) is None
        assert list(s.scalars(select(Token))) == []
    # the name is free again
    r = alu_hub(
        live_hub, "member", "add", "typo", "--country", "KE", "--password-stdin", stdin="pa55w0rd\n"
    )
    assert r.returncode == 0, r.stderr

    live_hub.member("busy")
    busy = member(live_hub, "busy")
    with live_hub.hub.db.session() as s:
        for n in range(2):
            s.add(
                HistoryEvent(
                    event_id=f"ev-{uuid.uuid4().hex}", member_id=busy.id, type="download_completed",
                    occurred_at=utcnow(), device=f"newsroom-{n}",
                )
            )  # fmt: skip
        s.add(Upload(id="u" * 32, member_id=busy.id, state="receiving", expires_at=utcnow()))
    refused(
        alu_hub(live_hub, "member", "remove", "busy"),
        "busy has 1 upload, 2 history events on this hub: it cannot be removed (the feed and "
        "the statistics keep what it did). To stop it signing in: alu-hub member disable busy",
    )
    assert member(live_hub, "busy").active
    refused(
        alu_hub(live_hub, "member", "remove", "nobody"),
        "there is no member named 'nobody' (see alu-hub member list).",
    )


def test_sessions_are_listed_and_one_lost_workstation_signed_out(live_hub: LiveHub) -> None:
    live_hub.member("ktn")
    lost = sign_in(live_hub, "ktn", "newsroom-1")
    kept = sign_in(live_hub, "ktn", "newsroom-2")
    ktn = member(live_hub, "ktn")
    r = requests.post(
        live_hub.api("/history"),
        json={
            "events": [
                {"id": f"ev-{uuid.uuid4().hex}", "type": "download_completed",
                 "device": "newsroom-2"},
            ]
        },
        headers={"Authorization": f"Bearer {kept}"},
        timeout=10,
    )  # fmt: skip
    assert r.status_code == 200, r.text

    r = alu_hub(live_hub, "member", "sessions", "ktn", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["member"] == "ktn"
    rows = out["sessions"]
    assert [(x["kind"], x["device"]) for x in rows] == [
        ("workstation", "newsroom-1"),
        ("workstation", "newsroom-2"),
    ]
    assert rows[0]["last_used_at"] is None
    assert rows[1]["last_used_at"] is not None and rows[1]["last_used_at"].endswith("Z")
    assert all(x["created_at"] < x["expires_at"] for x in rows)
    table = alu_hub(live_hub, "member", "sessions", "ktn")
    assert table.returncode == 0, table.stderr
    head, *lines = table.stdout.splitlines()
    assert head.split() == ["id", "kind", "device", "created", "(UTC)", "last", "used", "expires"]
    assert [line.split()[:3] for line in lines] == [
        [str(rows[0]["id"]), "workstation", "newsroom-1"],
        [str(rows[1]["id"]), "workstation", "newsroom-2"],
    ]
    assert lines[0].split()[5] == "-"  # never used since

    r = alu_hub(live_hub, "member", "signout", "ktn", "--session", str(rows[0]["id"]))
    assert r.returncode == 0, r.stderr
    assert r.stdout == (
        f"Signed ktn out of sign-in {rows[0]['id']}; 1 workstation sign-in ended (they sign in "
        "again).\n"
    )
    wait_until(lambda: me(live_hub, lost) == 401, timeout=10)
    assert me(live_hub, kept) == 200
    refused(
        alu_hub(live_hub, "member", "signout", "ktn", "--session", str(rows[0]["id"])),
        f"ktn has no live sign-in {rows[0]['id']} (see alu-hub member sessions ktn).",
    )
    # another member's sign-in is not ktn's to end
    live_hub.member("nbs", country="UG")
    other = sign_in(live_hub, "nbs", "kampala-1")
    with live_hub.hub.db.session() as s:
        other_id = s.scalar(select(Token.id).where(Token.member_id != ktn.id))
    refused(
        alu_hub(live_hub, "member", "signout", "ktn", "--session", str(other_id)),
        f"ktn has no live sign-in {other_id} (see alu-hub member sessions ktn).",
    )
    assert me(live_hub, other) == 200
    for bad in ("abc", "²", "9" * 40):
        refused(
            alu_hub(live_hub, "member", "signout", "ktn", "--session", bad),
            f"--session takes a sign-in's id (see alu-hub member sessions ktn), not {bad!r}.",
        )


def test_a_stats_page_session_is_not_a_workstation_sign_in(live_hub: LiveHub) -> None:
    """``member disable agency2`` said "1 workstation sign-in ended" for its stats page."""
    live_hub.member("agency2", role="agency", country="")
    browser = stats_page(live_hub, "agency2")
    assert browser.get(f"{live_hub.url}/stats", timeout=30).status_code == 200
    desk = sign_in(live_hub, "agency2", "ops-desk")
    r = alu_hub(live_hub, "member", "sessions", "agency2", "--json")
    assert r.returncode == 0, r.stderr
    assert [(x["kind"], x["device"]) for x in json.loads(r.stdout)["sessions"]] == [
        ("stats page", "Firefox/140"),
        ("workstation", "ops-desk"),
    ]
    r = alu_hub(live_hub, "member", "disable", "agency2")
    assert r.returncode == 0, r.stderr
    assert r.stdout == (
        "Disabled agency2: it can no longer sign in; 1 workstation sign-in and 1 stats-page "
        "session ended. No enabled agency account is left: nobody can withdraw or correct an "
        "item through the API nor open the stats page until one is added (alu-hub member add "
        "NAME --role agency) or enabled.\n"
    )
    assert me(live_hub, desk) in (401, 403)
    r = alu_hub(live_hub, "member", "sessions", "agency2")
    assert r.stdout == "agency2 has no live sign-in.\n", r.stderr


def test_disabling_or_removing_the_last_agency_account_says_so(live_hub: LiveHub) -> None:
    live_hub.member("desk", role="agency", country="")
    live_hub.member("desk2", role="agency", country="")
    # another agency account is left: nothing more to say
    r = alu_hub(live_hub, "member", "remove", "desk2")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Removed agency desk2.\n"
    # the last one: the operator is told what nobody can do any more, and how to mend it
    r = alu_hub(live_hub, "member", "disable", "desk")
    assert r.returncode == 0, r.stderr
    assert r.stdout == (
        "Disabled desk: it can no longer sign in. No enabled agency account is left: nobody "
        "can withdraw or correct an item through the API nor open the stats page until one is "
        "added (alu-hub member add NAME --role agency) or enabled.\n"
    )
    # a member's account is not the agency's: nothing said
    live_hub.member("ktn")
    r = alu_hub(live_hub, "member", "disable", "ktn")
    assert r.stdout == "Disabled ktn: it can no longer sign in.\n"
