"""The statistics page for agency staff (``/stats``, ``/stats.csv``) against real hubs on
loopback: sign-in by form and cookie, members refused, figures equal to the events made here
(and to ``GET /api/v1/stats``), the CSV, HTML escaping — and the page in headless Chromium.

The browser is Debian's ``chromium``, driven without any extra package: it is started with
``--remote-debugging-pipe`` and spoken to in the DevTools protocol over that pipe (JSON messages
ended by a NUL byte, on its file descriptors 3 and 4) — no port, no websocket, no driver. The
browser signs in through the form like a person, then the test reads the laid-out page (bar
counts, drawn sizes against the values, the stylesheet applied under the page's CSP, no console
error) and saves ``docs/screenshots/hub-stats.png``. Without chromium that test is skipped,
except under CI (``CI=true``), where it fails.
"""

from __future__ import annotations

import base64
import calendar
import contextlib
import csv
import datetime as dt
import io
import json
import os
import random
import select
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import insert, update
from sqlalchemy import select as sql_select

import alu_hub.web.routes
from alu_hub import stats
from alu_hub.app import build_hub
from alu_hub.auth import hash_password
from alu_hub.demo import ensure_member
from alu_hub.hub import Hub
from alu_hub.models import Counter, HistoryEvent, Item, Member, Rendition, utcnow
from alu_hub.publish import ItemFields, publish_file
from tests.support.livehub import hub_settings

from .conftest import LiveHub, start_hub

pytestmark = pytest.mark.timeout(180)

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "hub-stats.png"
EVIL = '<script>alert("x")</script> & <b>Co</b>'
FORMULA = '=HYPERLINK("x","click")'
AGENCY = ("chief", "chief-pw-1")


# --- reading the page ------------------------------------------------------------------------


class PageParser(HTMLParser):
    """What the tests read in a page: texts by element id, table rows by ``data-member``, the
    bars of each chart, the text of the whole page, and any <script> element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.by_id: dict[str, str] = {}
        self.rows: dict[str, list[str]] = {}
        self.bars: dict[str, list[dict[str, str]]] = {}
        self.scripts = 0
        self.text: list[str] = []
        self._open: list[tuple[str, str | None]] = []  # (tag, id) of elements with an id
        self._chart: str | None = None
        self._row: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "script":
            self.scripts += 1
        if "id" in a and tag not in ("svg", "input", "select", "table", "title"):
            self._open.append((tag, a["id"]))
            self.by_id[a["id"]] = ""
        if tag == "svg":
            self._chart = a.get("data-chart")
            self.bars.setdefault(self._chart or "", [])
        if tag == "rect" and "bar" in a.get("class", "").split() and self._chart:
            self.bars[self._chart].append(a)
        if tag == "tr" and "data-member" in a:
            self._row = a["data-member"]
            self.rows[self._row] = []
        if tag == "td" and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1][0] == tag:
            self._open.pop()
        if tag == "svg":
            self._chart = None
        if tag == "td" and self._row is not None and self._cell is not None:
            self.rows[self._row].append("".join(self._cell).strip())
            self._cell = None
        if tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        for _tag, ident in self._open:
            if ident:
                self.by_id[ident] += data
        if self._cell is not None:
            self._cell.append(data)


def parse(html_text: str) -> PageParser:
    p = PageParser()
    p.feed(html_text)
    p.close()
    return p


def number(text: str) -> int:
    return int(text.replace(",", "").strip())


def cli_rows(stdout: str) -> list[str]:
    """The member rows of ``alu-hub stats``: after its header and the columns' names, up to the
    blank line before its notes."""
    lines = stdout.splitlines()
    return lines[2 : lines.index("", 2)]


# --- data ------------------------------------------------------------------------------------


def month_start(d: dt.date) -> dt.datetime:
    return dt.datetime(d.year, d.month, 1, tzinfo=dt.UTC)


def previous_month(now: dt.datetime) -> dt.datetime:
    first = month_start(now.date())
    return month_start((first - dt.timedelta(days=1)).date())


def days_in(month: dt.datetime) -> int:
    return calendar.monthrange(month.year, month.month)[1]


def member_id(hub: Hub, username: str) -> int:
    with hub.db.session() as s:
        return int(s.execute(sql_select(Member.id).where(Member.username == username)).scalar_one())


#: When the tests' accounts joined, unless a test says: long before any period they read (a
#: member is in a period's figures only from the day it joined).
LONG_AGO = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
#: The size of the broadcast file of the items written straight to the database (the
#: statistics count a download's bytes up to the size of its file).
FILE_SIZE = 10**9


def add_members(
    hub: Hub,
    members: list[tuple[str, str, str, str]],
    password: str | None,
    *,
    joined: dt.datetime = LONG_AGO,
) -> None:
    """Accounts (username, display name, country, role) sharing one password hash: argon2 is
    slow on purpose, so it is computed once. No password: nobody can sign in as them."""
    hashed = hash_password(password) if password else "!"  # "!" is no argon2 hash
    with hub.db.session() as s:
        s.add_all(
            Member(
                username=u,
                display_name=n,
                country=c,
                role=r,
                password_hash=hashed,
                created_at=joined,
            )
            for u, n, c, r in members
        )


def insert_items(
    hub: Hub,
    rows: Sequence[tuple[str, int | None, dt.datetime]],
    *,
    received: Sequence[dt.datetime | None] = (),
) -> list[str]:
    """Items straight into the database, (kind, source member id, published_at) each, with seqs
    from the hub's counter and a broadcast rendition of FILE_SIZE bytes: many of them in a
    moment (statistics read only these columns); ``received``: their ``received_at``, in the
    same order. Their ids, in order."""
    if not rows:
        return []
    ids = [uuid.uuid4().hex for _ in rows]
    arrived = list(received) + [None] * (len(rows) - len(received))
    with hub.db.session() as s:
        first = int(
            s.execute(sql_select(Counter.value).where(Counter.name == "item_seq")).scalar_one()
        )
        s.connection().execute(  # Core: one executemany
            insert(Item),
            [
                {
                    "id": ids[n],
                    "seq": first + n + 1,
                    "kind": kind,
                    "title": f"{kind} {n}",
                    "source_member_id": source,
                    "published_at": when,
                    "received_at": arrived[n],
                }
                for n, (kind, source, when) in enumerate(rows)
            ],
        )
        s.connection().execute(
            insert(Rendition),
            [
                {
                    "item_id": item_id,
                    "name": "broadcast",
                    "storage_key": f"items/{item_id}/broadcast.mp4",
                    "size": FILE_SIZE,
                    "sha256": "0" * 64,
                }
                for item_id in ids
            ],
        )
        s.execute(update(Counter).where(Counter.name == "item_seq").values(value=first + len(rows)))
    return ids


def library(hub: Hub, n: int) -> list[str]:
    """``n`` items published long ago, for downloads to name (the statistics count downloads
    of items that exist)."""
    return insert_items(hub, [("push", None, LONG_AGO + dt.timedelta(days=1))] * n)


def insert_downloads(
    hub: Hub,
    rows: list[tuple[int, dt.datetime, int, str]],
    *,
    received: Sequence[dt.datetime] = (),
) -> None:
    """download_completed events (member id, when, bytes, item id) straight into the database,
    each reported when it ended, or at ``received`` (in the same order)."""
    arrived = list(received) + [when for _m, when, _b, _i in rows[len(received) :]]
    with hub.db.session() as s:
        s.connection().execute(
            insert(HistoryEvent),
            [
                {
                    "event_id": uuid.uuid4().hex,
                    "member_id": mid,
                    "type": "download_completed",
                    "item_id": item_id,
                    "rendition": "broadcast",
                    "bytes": nbytes,
                    "occurred_at": when,
                    "received_at": arrived[n],
                }
                for n, (mid, when, nbytes, item_id) in enumerate(rows)
            ],
        )


def history_event(
    when: dt.datetime, item_id: str, kind: str = "download_completed", size: int = 1000
) -> dict[str, object]:
    return {
        "id": str(uuid.uuid4()),
        "type": kind,
        "item_id": item_id,  # an item each: one item counts once (stats.compute_stats)
        "rendition": "broadcast",
        "bytes": size,
        "started_at": (when - dt.timedelta(seconds=30)).isoformat(),
        "ended_at": when.isoformat(),
        "device": "newsroom-1",
    }


@dataclass
class Seeded:
    """A hub with a month of known events in it, and what its page must say."""

    live: LiveHub
    month: dt.datetime  # the first of the last full month
    days: int
    expected: dict[str, dict[str, int]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, clip: Path) -> Iterator[Seeded]:
    """Last month: 2 pushes published for real (and one this month); ktn uploads on every day
    (one upload published for real, the others written to the items table), rts on two days
    (three uploads), the two others never; downloads sent as history through the API by the
    members themselves, plus an upload event and events in other months that must not count."""
    live = start_hub(tmp_path_factory.mktemp("stats-page"))
    try:
        now = utcnow()
        month = previous_month(now)
        days = days_in(month)
        add_members(live.hub, [(AGENCY[0], "Desk", "", "agency")], AGENCY[1])
        add_members(
            live.hub,
            [
                ("ktn", "Kenya Television Network", "KE", "member"),
                ("rts", "Radiodiffusion Télévision Sénégalaise", "SN", "member"),
                ("evil", EVIL, "ZZ", "member"),
                ("formula", FORMULA, "YY", "member"),
            ],
            "pw-1234",
        )
        ktn, rts = member_id(live.hub, "ktn"), member_id(live.hub, "rts")
        at = [month + dt.timedelta(days=d, hours=9) for d in range(days)]

        publish_file(live.hub, clip, ItemFields(title="push 1"), kind="push", published_at=at[2])
        publish_file(live.hub, clip, ItemFields(title="push 2"), kind="push", published_at=at[9])
        publish_file(live.hub, clip, ItemFields(title="this month"), kind="push")
        with live.hub.db.session() as s:
            ktn_member = s.get(Member, ktn)
            assert ktn_member is not None
            s.expunge(ktn_member)
        publish_file(
            live.hub,
            clip,
            ItemFields(title="ktn footage"),
            kind="member_upload",
            source_member=ktn_member,
            published_at=at[0],
        )
        insert_items(
            live.hub,
            [("member_upload", ktn, at[d] + dt.timedelta(hours=3)) for d in range(1, days)]
            + [
                ("member_upload", rts, at[4]),
                ("member_upload", rts, at[4] + dt.timedelta(hours=5)),
                ("member_upload", rts, at[20]),
                ("member_upload", rts, month - dt.timedelta(hours=1)),  # the month before
            ],
        )
        k = live.login("ktn")
        r = live.login("rts")
        books = iter(library(live.hub, 10))
        sent = k.post(
            live.api("/history"),
            json={
                "events": [history_event(at[d], next(books), size=1000) for d in (0, 5, 6, 27)]
                + [
                    history_event(
                        max(now - dt.timedelta(minutes=5), month_start(now.date())), next(books)
                    )
                ]
            },
            timeout=30,
        )
        assert sent.status_code == 200 and sent.json()["accepted"] == 5
        sent = r.post(
            live.api("/history"),
            json={
                "events": [
                    history_event(at[1], next(books), size=250),
                    history_event(
                        at[days - 1] + dt.timedelta(hours=14, minutes=59), next(books), size=250
                    ),
                    history_event(at[3], next(books), kind="upload_completed"),
                    history_event(month - dt.timedelta(seconds=1), next(books)),  # month before
                ]
            },
            timeout=30,
        )
        assert sent.status_code == 200 and sent.json()["accepted"] == 4
        # the agency account's own client uploads and downloads too: not member activity
        chief = member_id(live.hub, AGENCY[0])
        insert_items(live.hub, [("member_upload", chief, at[7])])
        insert_downloads(live.hub, [(chief, at[8], 5000, next(books))])
        expected = {
            "ktn": {"downloads": 4, "bytes": 4000, "uploads": days, "days": days, "met": 1},
            "rts": {"downloads": 2, "bytes": 500, "uploads": 3, "days": 2, "met": 0},
            "evil": {"downloads": 0, "bytes": 0, "uploads": 0, "days": 0, "met": 0},
            "formula": {"downloads": 0, "bytes": 0, "uploads": 0, "days": 0, "met": 0},
        }
        yield Seeded(live, month, days, expected)
    finally:
        live.server.stop()
        live.hub.db.dispose()


def web_session(
    live: LiveHub, username: str = AGENCY[0], password: str = AGENCY[1]
) -> requests.Session:
    """A browser-like session signed in through the page's form."""
    s = requests.Session()
    r = s.post(
        f"{live.url}/stats/login",
        data={"username": username, "password": password, "next": "/stats"},
        allow_redirects=False,
        timeout=30,
    )
    assert r.status_code == 303, r.text
    return s


@pytest.fixture(scope="module")
def agency(seeded: Seeded) -> requests.Session:
    """One agency session for the tests that only read (a sign-in costs an argon2 check)."""
    return web_session(seeded.live)


# --- sign-in, cookie, refusals ---------------------------------------------------------------


def test_no_cookie_goes_to_the_sign_in_form(seeded: Seeded) -> None:
    url = seeded.live.url
    for path, query in [
        ("/stats", ""),
        ("/stats", "?month=2026-01"),
        ("/stats.csv", "?month=2026-01"),
    ]:
        r = requests.get(url + path + query, allow_redirects=False, timeout=30)
        assert r.status_code == 303
        assert r.headers["Location"] == "/stats/login?" + requests.compat.urlencode(
            {"next": path + query}
        )
    # a cookie that is no token is the same as none, and is cleared
    r = requests.get(
        url + "/stats", cookies={"alu_hub_stats": "forged"}, allow_redirects=False, timeout=10
    )
    assert r.status_code == 303 and r.headers["Location"].startswith("/stats/login")
    assert 'alu_hub_stats=""' in r.headers["Set-Cookie"]
    icon = requests.get(url + "/stats/favicon.svg", timeout=30)  # the one public address
    assert icon.status_code == 200 and icon.headers["Content-Type"] == "image/svg+xml"
    form = requests.get(url + "/stats/login?next=/stats.csv%3Fmonth%3D2026-01", timeout=30)
    assert form.status_code == 200 and form.headers["Content-Type"].startswith("text/html")
    page = parse(form.text)
    assert page.scripts == 0
    assert 'name="next" value="/stats.csv?month=2026-01"' in form.text
    # anywhere else is not a place to go after signing in
    evil = requests.get(url + "/stats/login?next=https://example.org/", timeout=30)
    assert 'name="next" value="/stats"' in evil.text


def test_a_disabled_account_is_told_so_with_its_right_password(seeded: Seeded) -> None:
    live = seeded.live
    ensure_member(live.hub, "agency-left", "pw-left-1234", country="KE", role="agency")
    with live.hub.db.session() as s:
        s.execute(update(Member).where(Member.username == "agency-left").values(active=False))

    def post(password: str) -> requests.Response:
        return requests.post(
            live.url + "/stats/login",
            data={"username": "agency-left", "password": password, "next": "/stats"},
            allow_redirects=False,
            timeout=30,
        )

    right = post("pw-left-1234")
    assert right.status_code == 403 and "Set-Cookie" not in right.headers
    assert "This account is disabled; ask the agency." in right.text
    wrong = post("nope")
    assert wrong.status_code == 401 and "disabled" not in wrong.text


def test_sign_in_sets_a_strict_http_only_cookie(seeded: Seeded) -> None:
    url = seeded.live.url
    wrong = requests.post(
        url + "/stats/login",
        data={"username": AGENCY[0], "password": "nope", "next": "/stats"},
        allow_redirects=False,
        timeout=30,
    )
    assert wrong.status_code == 401 and "Set-Cookie" not in wrong.headers
    assert "The user name or password is wrong." in wrong.text

    r = requests.post(
        url + "/stats/login",
        data={"username": AGENCY[0], "password": AGENCY[1], "next": "/stats.csv?month=2026-01"},
        allow_redirects=False,
        timeout=30,
    )
    assert r.status_code == 303 and r.headers["Location"] == "/stats.csv?month=2026-01"
    attrs = [a.strip().lower() for a in r.headers["Set-Cookie"].split(";")]
    assert attrs[0].startswith("alu_hub_stats=") and len(attrs[0]) > 40
    assert {"httponly", "samesite=strict", "path=/"} <= set(attrs)
    assert "secure" not in attrs  # plain http on loopback
    # the cookie holds a hub token: the API takes it as a bearer token
    token = r.cookies["alu_hub_stats"]
    me = requests.get(
        seeded.live.api("/me"), headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert me.json()["username"] == AGENCY[0]

    # behind a TLS proxy (X-Forwarded-Proto from loopback, which the hub trusts): Secure
    https = requests.post(
        url + "/stats/login",
        data={"username": AGENCY[0], "password": AGENCY[1]},
        headers={"X-Forwarded-Proto": "https"},
        allow_redirects=False,
        timeout=30,
    )
    assert "secure" in [a.strip().lower() for a in https.headers["Set-Cookie"].split(";")]

    # a form posted from another site signs nobody in
    cross = requests.post(
        url + "/stats/login",
        data={"username": AGENCY[0], "password": AGENCY[1]},
        headers={"Sec-Fetch-Site": "cross-site"},
        allow_redirects=False,
        timeout=30,
    )
    assert cross.status_code == 403 and "Set-Cookie" not in cross.headers


def test_a_wrong_password_is_a_401_with_a_challenge_and_the_form(seeded: Seeded) -> None:
    """RFC 9110 §15.5.2: a 401 MUST carry ``WWW-Authenticate``; the form's had none. The page
    signs in by form and cookie, so its challenge names them (not ``Basic``, for which a
    browser would put its own password dialog over the page) and the body stays the form."""
    wrong = requests.post(
        seeded.live.url + "/stats/login",
        data={"username": AGENCY[0], "password": "nope", "next": "/stats"},
        allow_redirects=False,
        timeout=30,
    )
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"] == (
        'Cookie realm="alu-hub stats", form-action="/stats/login", cookie-name="alu_hub_stats"'
    )
    assert wrong.headers["Content-Type"] == "text/html; charset=utf-8"
    page = parse(wrong.text)
    assert page.scripts == 0 and 'action="/stats/login"' in wrong.text
    assert "The user name or password is wrong." in wrong.text


def test_a_member_gets_403_with_a_plain_message(seeded: Seeded) -> None:
    url = seeded.live.url
    r = requests.post(
        url + "/stats/login",
        data={"username": "ktn", "password": "pw-1234"},
        allow_redirects=False,
        timeout=30,
    )
    assert r.status_code == 403 and "Set-Cookie" not in r.headers
    assert "for agency staff" in r.text and r.headers["Content-Type"].startswith("text/html")
    # a member's own hub token in the cookie does not open the page or the CSV either
    token = seeded.live.tokens["ktn"]
    for path in ("/stats", "/stats.csv"):
        page = requests.get(
            url + path, cookies={"alu_hub_stats": token}, allow_redirects=False, timeout=10
        )
        assert page.status_code == 403 and "for agency staff" in page.text
        assert "Kenya" not in page.text


def test_sign_out_ends_the_token(seeded: Seeded) -> None:
    s = web_session(seeded.live)
    token = s.cookies["alu_hub_stats"]
    assert s.get(seeded.live.url + "/stats", allow_redirects=False, timeout=30).status_code == 200
    # signed in, the form sends the browser on
    form = s.get(seeded.live.url + "/stats/login?next=/stats", allow_redirects=False, timeout=30)
    assert form.status_code == 303 and form.headers["Location"] == "/stats"
    out = s.post(seeded.live.url + "/stats/logout", allow_redirects=False, timeout=30)
    assert out.status_code == 303 and out.headers["Location"] == "/stats/login"
    assert "alu_hub_stats" not in s.cookies
    again = requests.get(
        seeded.live.url + "/stats",
        cookies={"alu_hub_stats": token},
        allow_redirects=False,
        timeout=30,
    )
    assert again.status_code == 303
    me = requests.get(
        seeded.live.api("/me"), headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert me.status_code == 401


def test_the_form_shares_the_api_sign_in_limit(tmp_path: Path) -> None:
    live = start_hub(tmp_path, signin_max_failures_per_user=2)
    try:
        ensure_member(live.hub, "desk", "right-pw", country="", role="agency")
        for _ in range(2):
            bad = requests.post(
                live.api("/session"), json={"username": "desk", "password": "no"}, timeout=20
            )
            assert bad.status_code == 401
        r = requests.post(
            live.url + "/stats/login",
            data={"username": "desk", "password": "right-pw"},
            allow_redirects=False,
            timeout=30,
        )
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
        assert "Set-Cookie" not in r.headers
    finally:
        live.server.stop()
        live.hub.db.dispose()


# --- figures ---------------------------------------------------------------------------------


def test_page_figures_match_the_events(seeded: Seeded, agency: requests.Session) -> None:
    s = agency
    month = f"{seeded.month:%Y-%m}"
    r = s.get(seeded.live.url + "/stats", params={"month": month}, timeout=30)
    assert r.status_code == 200
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp  # no script may run
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Cache-Control"] == "no-store"
    page = parse(r.text)
    assert page.scripts == 0
    ex = seeded.expected
    totals = {k: number(page.by_id[k]) for k in ("pushes", "downloads", "uploads")}
    assert totals == {"pushes": 2, "downloads": 6, "uploads": seeded.days + 3}
    assert number(page.by_id["uploading-members"]) == 2
    assert number(page.by_id["meeting-pledge"]) == 1
    for username, e in ex.items():
        cells = page.rows[username]
        assert number(cells[2]) == e["downloads"], (username, cells)
        assert number(cells[4]) == e["uploads"], (username, cells)
        assert cells[5] == f"{e['days']}/{seeded.days}", (username, cells)
        assert cells[6] == ("met" if e["met"] else "not met"), (username, cells)

    # the charts: 12 months × 3 series; the chosen month is the last group
    monthly = page.bars["chart-monthly"]
    assert len(monthly) == 36
    last = {b["data-series"]: int(b["data-value"]) for b in monthly[-3:]}
    assert last == {"pushes": 2, "downloads": 6, "uploads": seeded.days + 3}
    before = {b["data-series"]: int(b["data-value"]) for b in monthly[-6:-3]}
    assert before == {"pushes": 0, "downloads": 1, "uploads": 1}
    members = page.bars["chart-members"]
    assert [int(b["data-value"]) for b in members[-2:]] == [2, 1]
    pledge = {b["data-value"] for b in page.bars["chart-pledge"]}
    assert pledge == {str(seeded.days), "2", "0"}
    assert len(page.bars["chart-pledge"]) == len(ex) and len(
        page.bars["chart-activity"]
    ) == 2 * len(ex)

    # the same as the JSON API for the same dates
    last_day = seeded.month + dt.timedelta(days=seeded.days - 1)
    api = s.get(
        seeded.live.api("/stats"),
        params={"from": f"{seeded.month:%Y-%m-%d}", "to": f"{last_day:%Y-%m-%d}"},
        headers={"Authorization": f"Bearer {s.cookies['alu_hub_stats']}"},
        timeout=30,
    ).json()
    assert (api["pushes"], api["downloads"], api["uploads"]) == tuple(totals.values())
    for row in api["members"]:
        assert number(page.rows[row["username"]][2]) == row["downloads"]
        assert page.rows[row["username"]][5] == f"{row['upload_days']}/{seeded.days}"

    # this month: the push and the download made now, over the days so far
    now = utcnow()
    current = parse(s.get(seeded.live.url + "/stats", timeout=30).text)
    assert number(current.by_id["pushes"]) == 1 and number(current.by_id["downloads"]) == 1
    assert "month to date" in current.by_id["period"]
    assert current.rows["ktn"][5] == f"0/{now.day}"


def test_agency_staff_activity_is_not_member_activity(
    seeded: Seeded, agency: requests.Session
) -> None:
    """The agency account uploaded and downloaded in the month (``seeded``): the totals, the
    uploading members, the CSV and ``alu-hub stats`` count members only, as the rows do."""
    month = f"{seeded.month:%Y-%m}"
    members, uploads = len(seeded.expected), seeded.days + 3
    r = agency.get(seeded.live.url + "/stats", params={"month": month}, timeout=30)
    page = parse(r.text)
    assert number(page.by_id["uploads"]) == uploads
    assert number(page.by_id["downloads"]) == 6
    assert number(page.by_id["uploading-members"]) == 2
    assert f"uploading members of {members}</span>" in r.text
    assert AGENCY[0] not in page.rows

    csv_text = agency.get(seeded.live.url + "/stats.csv", params={"month": month}, timeout=30)
    rows = list(csv.DictReader(io.StringIO(csv_text.content.decode("utf-8-sig"), newline="")))
    assert sorted(row["username"] for row in rows) == sorted(seeded.expected)

    from tests.hub.test_cli import hub_cli

    data = str(seeded.live.hub.settings.data_dir)
    last_day = seeded.month + dt.timedelta(days=seeded.days - 1)
    period = ["--from", f"{seeded.month:%Y-%m-%d}", "--to", f"{last_day:%Y-%m-%d}"]
    out = hub_cli("stats", "--data", data, *period, "--json")
    assert out.returncode == 0, out.stderr
    st = json.loads(out.stdout)
    assert [m["username"] for m in st["members"]] == sorted(seeded.expected)
    assert st["downloads"] == sum(m["downloads"] for m in st["members"]) == 6
    assert st["uploads"] == sum(m["uploads"] for m in st["members"]) == uploads
    assert st["uploading_members"] == sum(1 for m in st["members"] if m["uploads"]) == 2
    human = hub_cli("stats", "--data", data, *period)
    assert f"2 pushes, 6 downloads, {uploads} uploads by 2 members" in human.stdout


def test_the_default_period_is_whole_utc_days_up_to_today() -> None:
    now = dt.datetime(2026, 11, 5, 3, 40, 51, tzinfo=dt.UTC)
    # the 30 days up to today included, from midnight, as the page's days are
    assert stats.period(None, None, now) == (
        dt.datetime(2026, 10, 7, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 6, tzinfo=dt.UTC),
    )
    start, _ = stats.period(None, "2026-11-05T03:40:51Z", now)
    assert start == dt.datetime(2026, 10, 6, tzinfo=dt.UTC)


def test_alu_hub_stats_shows_the_days_asked_and_counts_the_pledge_to_date(
    tmp_path: Path,
) -> None:
    """``--to`` in the future: the header gives the last day as asked (not the midnight after
    it), and the pledge counts the days up to today, as the page's month to date does: a member
    who uploaded on every day so far meets it."""
    from tests.hub.test_cli import hub_cli

    data = tmp_path / "hub"
    hub = build_hub(hub_settings(data))
    try:
        add_members(hub, [("ktn", "KTN", "KE", "member"), ("rts", "RTS", "SN", "member")], None)
        ktn, rts = member_id(hub, "ktn"), member_id(hub, "rts")
        now = utcnow()
        today = now.date()
        noon = dt.datetime.combine(today, dt.time(12), dt.UTC)
        insert_items(
            hub,
            [
                ("member_upload", ktn, noon - dt.timedelta(days=2)),
                ("member_upload", ktn, noon - dt.timedelta(days=1)),
                ("member_upload", ktn, now),
                ("member_upload", rts, now),
            ],
        )
    finally:
        hub.db.dispose()
    first, last = today - dt.timedelta(days=2), today + dt.timedelta(days=10)
    period = ["--from", first.isoformat(), "--to", last.isoformat()]
    out = hub_cli("stats", "--data", str(data), *period)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith(f"{first} to {last} (to date: the pledge counts 3 days): ")
    pledge = {line.split()[0]: line.split()[-1] for line in cli_rows(out.stdout)}
    assert pledge == {"ktn": "yes", "rts": "no"}
    st = json.loads(hub_cli("stats", "--data", str(data), *period, "--json").stdout)
    assert {m["username"]: m["meets_pledge"] for m in st["members"]} == {"ktn": True, "rts": False}

    # a period that is over: its last day, no note
    past = hub_cli("stats", "--data", str(data), "--from", "2026-10-01", "--to", "2026-10-31")
    assert past.stdout.startswith("2026-10-01 to 2026-10-31: 0 pushes"), past.stdout


def test_bad_months_are_refused_plainly(seeded: Seeded, agency: requests.Session) -> None:
    s = agency
    future = utcnow().date().replace(day=1) + dt.timedelta(days=40)
    for month in ("2026-13", "someday", "1900-01", f"{future:%Y-%m}"):
        for path in ("/stats", "/stats.csv"):
            r = s.get(seeded.live.url + path, params={"month": month}, timeout=30)
            assert r.status_code == 400, (path, month)
            assert r.headers["Content-Type"].startswith("text/html")
            assert "Choose a month" in r.text


def test_csv_export(seeded: Seeded, agency: requests.Session) -> None:
    s = agency
    month = f"{seeded.month:%Y-%m}"
    r = s.get(seeded.live.url + "/stats.csv", params={"month": month}, timeout=30)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert r.headers["Content-Disposition"] == f'attachment; filename="alu-stats-{month}.csv"'
    assert r.content.startswith(b"\xef\xbb\xbf")  # the BOM spreadsheets need for UTF-8
    assert b"\r\n" in r.content
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"), newline="")))
    by_user = {row["username"]: row for row in rows}
    assert sorted(by_user) == sorted(seeded.expected)
    last_day = seeded.month + dt.timedelta(days=seeded.days - 1)
    for username, e in seeded.expected.items():
        row = by_user[username]
        assert row["month"] == month
        assert (row["period_start"], row["period_end"]) == (
            f"{seeded.month:%Y-%m-%d}",
            f"{last_day:%Y-%m-%d}",
        )
        assert int(row["downloads"]) == e["downloads"]
        assert int(row["bytes_downloaded"]) == e["bytes"]
        assert int(row["uploads"]) == e["uploads"]
        assert int(row["upload_days"]) == e["days"]
        assert int(row["days_in_period"]) == seeded.days
        assert row["pledge_met"] == ("yes" if e["met"] else "no")
    assert by_user["rts"]["display_name"] == "Radiodiffusion Télévision Sénégalaise"
    assert by_user["evil"]["display_name"] == EVIL  # CSV is not HTML: the name as it is
    # a name a spreadsheet would run as a formula is kept as text
    assert by_user["formula"]["display_name"] == "'" + FORMULA


def test_names_from_the_database_are_shown_as_text(
    seeded: Seeded, agency: requests.Session
) -> None:
    s = agency
    r = s.get(seeded.live.url + "/stats", params={"month": f"{seeded.month:%Y-%m}"}, timeout=30)
    assert "<script>" not in r.text and "<b>Co</b>" not in r.text
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;Co&lt;/b&gt;"
    # in the table, in the charts' names and in their tooltips
    assert r.text.count(escaped) >= 4
    page = parse(r.text)
    assert page.scripts == 0
    assert page.rows["evil"][0].startswith(EVIL)  # read back as the text it is
    # what a person types into the form comes back escaped too
    typed = requests.post(
        seeded.live.url + "/stats/login",
        data={"username": '"><script>alert(1)</script>', "password": "x"},
        timeout=30,
    )
    assert typed.status_code == 401 and "<script>" not in typed.text
    assert 'value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in typed.text


# --- the page in a real browser --------------------------------------------------------------


@pytest.fixture
def chromium() -> str:
    """The browser's path; asked first, so that a skip costs no set-up."""
    return find_chromium()


def find_chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        reason = (
            "Debian's chromium is not installed (apt-get install -y --no-install-recommends "
            "chromium): the statistics page is not checked in a browser"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


#: Starts the browser with the two pipe ends as its file descriptors 3 and 4 (what
#: --remote-debugging-pipe reads and writes), without a preexec_fn (unsafe beside threads).
LAUNCH = (
    "import os, sys\n"
    "r, w = int(sys.argv[1]), int(sys.argv[2])\n"
    "os.dup2(r, 3); os.dup2(w, 4); os.close(r); os.close(w)\n"
    "os.execvp(sys.argv[3], sys.argv[3:])\n"
)


class CdpError(AssertionError):
    pass


class Chromium:
    """Headless chromium spoken to in the DevTools protocol over --remote-debugging-pipe."""

    def __init__(self, binary: str, profile: Path, log: Path) -> None:
        import fcntl  # (here: the module is imported on Windows too, which has none)

        def high(fd: int) -> int:  # away from 3 and 4, which the launcher sets
            moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
            os.close(fd)
            return moved

        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()
        to_browser_r, from_browser_w = high(to_browser_r), high(from_browser_w)
        args = [
            "--headless=new",
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-features=Translate,OptimizationHints,MediaRouter",
            # nothing but loopback: any other host name fails to resolve, and anything that
            # is not loopback would go to a proxy that is not there (loopback never does)
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
            "--proxy-server=http://127.0.0.1:9",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--window-size=1280,900",
            "--lang=en-US",
            "about:blank",
        ]
        if os.geteuid() == 0:
            args.insert(0, "--no-sandbox")  # chromium refuses to run as root otherwise
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, str(to_browser_r), str(from_browser_w), binary, *args],
            pass_fds=(to_browser_r, from_browser_w),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._out = to_browser_w
        self._in = from_browser_r
        self._buf = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.session = ""

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CdpError("chromium did not answer in time")
            ready, _, _ = select.select([self._in], [], [], left)
            if ready:
                chunk = os.read(self._in, 1 << 20)
                if not chunk:
                    raise CdpError(f"chromium exited (code {self.proc.poll()})")
                self._buf += chunk
        message, _, self._buf = self._buf.partition(b"\0")
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def call(self, method: str, timeout: float = 60, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        ident = self._next_id
        msg: dict[str, Any] = {"id": ident, "method": method, "params": params}
        if self.session and not method.startswith(("Target.", "Browser.")):
            msg["sessionId"] = self.session
        os.write(self._out, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            m = self._read(deadline)
            if m.get("id") == ident:
                if "error" in m:
                    raise CdpError(f"{method}: {m['error']}")
                result: dict[str, Any] = m["result"]
                return result
            if "method" in m:
                self.events.append(m)

    def wait_event(self, method: str, since: int, timeout: float = 60) -> dict[str, Any]:
        """The first ``method`` event after the first ``since`` events seen."""
        deadline = time.monotonic() + timeout
        while True:
            for e in self.events[since:]:
                if e["method"] == method:
                    return e
            m = self._read(deadline)
            if "method" in m:
                self.events.append(m)

    def evaluate(self, expression: str) -> Any:
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in r:
            raise CdpError(f"{expression[:60]}…: {r['exceptionDetails']}")
        return r["result"].get("value")

    def load(self, action: str, **params: Any) -> None:
        """Run ``action`` (Page.navigate, or a Runtime.evaluate that submits a form) and wait
        for the page it leads to to have loaded."""
        since = len(self.events)
        self.call(action, **params)
        self.wait_event("Page.loadEventFired", since)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.call("Browser.close", timeout=30)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(20)
        os.close(self._out)
        os.close(self._in)
        self._log.close()


#: Member broadcasters of the screenshot: (username, name, country, chance of an upload on a
#: given day, downloads a day).
DEMO_MEMBERS = [
    ("demo", "Demo Television", "GH", 0.93, 14),
    ("ktn", "Kenya Television Network", "KE", 1.0, 31),
    ("nbc", "Namibian Broadcasting Corporation", "NA", 0.7, 9),
    ("ntv", "NTV Uganda", "UG", 0.85, 17),
    ("ortb", "Office de Radiodiffusion et Télévision du Bénin", "BJ", 0.55, 8),
    ("rti", "Radiodiffusion Télévision Ivoirienne", "CI", 1.0, 22),
    ("rts", "Radiodiffusion Télévision Sénégalaise", "SN", 0.97, 19),
    ("tbc", "Tanzania Broadcasting Corporation", "TZ", 0.8, 12),
    ("tvm", "Televisão de Moçambique", "MZ", 0.6, 7),
    ("znbc", "Zambia National Broadcasting Corporation", "ZM", 1.0, 15),
]
#: The month of the screenshot (fixed, so that the picture changes only when the page does).
DEMO_MONTH = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
#: When the page of the screenshot is computed ("as of"; fixed for the same reason).
DEMO_NOW = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)


def seed_demo_year(hub: Hub) -> None:
    """Twelve months to DEMO_MONTH of realistic figures, the same every time."""
    rng = random.Random(2026)
    add_members(hub, [("agency", "ALU agency desk", "", "agency")], "agency")
    add_members(hub, [(u, n, c, "member") for u, n, c, _p, _d in DEMO_MEMBERS], None)
    ids = {u: member_id(hub, u) for u, *_ in DEMO_MEMBERS}
    first = month_start((DEMO_MONTH - dt.timedelta(days=334)).date())  # eleven months before
    items: list[tuple[str, int | None, dt.datetime]] = []
    downloads: list[tuple[int, dt.datetime, int, int]] = []  # the last: which item
    day = first
    while day < DEMO_MONTH + dt.timedelta(days=days_in(DEMO_MONTH)):
        growth = 0.75 + 0.25 * (day - first).days / 365  # the exchange grows over the year
        for _ in range(rng.randint(52, 66)):
            items.append(("push", None, day + dt.timedelta(seconds=rng.randrange(86400))))
        for username, _n, _c, p, per_day in DEMO_MEMBERS:
            if rng.random() < p:
                for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
                    when = day + dt.timedelta(seconds=rng.randrange(86400))
                    items.append(("member_upload", ids[username], when))
            for _ in range(int(rng.randint(per_day // 2, per_day) * growth)):
                when = day + dt.timedelta(seconds=rng.randrange(86400))
                # one of the items so far (the rng's draws as before: the same figures)
                item = len(downloads) * 7919 % len(items)
                downloads.append((ids[username], when, rng.randint(40, 900) * 1_000_000, item))
        day += dt.timedelta(days=1)
    order = sorted(range(len(items)), key=lambda n: items[n][2])  # seq follows publish times
    item_ids = insert_items(hub, [items[n] for n in order])
    id_of = {n: item_ids[k] for k, n in enumerate(order)}
    # the downloads of the month's last evening were reported the next morning
    evening = DEMO_MONTH + dt.timedelta(days=days_in(DEMO_MONTH)) - dt.timedelta(hours=3)
    insert_downloads(
        hub,
        [(m, when, b, id_of[n]) for m, when, b, n in downloads],
        received=[
            when + dt.timedelta(hours=10) if when >= evening else when
            for _m, when, _b, _n in downloads
        ],
    )


BROWSER_CHECKS = """(() => {
  const charts = {};
  for (const svg of document.querySelectorAll('svg[data-chart]')) {
    charts[svg.dataset.chart] = [...svg.querySelectorAll('rect.bar')].map(r => {
      const b = r.getBoundingClientRect();
      return {series: r.dataset.series, value: +r.dataset.value, w: b.width, h: b.height,
              fill: getComputedStyle(r).fill};
    });
  }
  const tiles = {};
  for (const id of ['pushes', 'downloads', 'uploads', 'uploading-members', 'meeting-pledge'])
    tiles[id] = document.getElementById(id).textContent;
  const header = document.querySelector('header');
  return {path: location.pathname + location.search, title: document.title,
          cookie: document.cookie, charts, tiles,
          asOf: document.getElementById('as-of').textContent,
          late: document.getElementById('late').textContent,
          headerBackground: getComputedStyle(header).backgroundColor,
          scripts: document.scripts.length, width: document.documentElement.clientWidth};
})()"""


@pytest.fixture
def demo_hub(chromium: str, tmp_path: Path) -> Iterator[LiveHub]:
    live = start_hub(tmp_path)
    try:
        seed_demo_year(live.hub)
        yield live
    finally:
        live.server.stop()
        live.hub.db.dispose()


def test_the_page_in_headless_chromium(
    chromium: str, demo_hub: LiveHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    month = f"{DEMO_MONTH:%Y-%m}"
    # the page's clock (the hub runs in this process): its "as of" the same in every picture
    monkeypatch.setattr(alu_hub.web.routes, "utcnow", lambda: DEMO_NOW)
    # What the page must show: the hub's own figures for October 2026 (its JSON API).
    api = demo_hub.login("agency", "agency")
    expected = api.get(
        demo_hub.api("/stats"), params={"from": "2026-10-01", "to": "2026-10-31"}, timeout=60
    ).json()
    meeting = sum(1 for r in expected["members"] if r["meets_pledge"])
    assert 0 < meeting < len(DEMO_MEMBERS)  # the picture shows both kinds

    browser = Chromium(chromium, tmp_path / "profile", tmp_path / "chromium.log")
    try:
        target = browser.call("Target.createTarget", url="about:blank")["targetId"]
        browser.session = browser.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.call(f"{domain}.enable")
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            width=1280,
            height=900,
            deviceScaleFactor=1,
            mobile=False,
        )
        # Not signed in: the page sends the browser to the form, which keeps where it was going.
        browser.load("Page.navigate", url=f"{demo_hub.url}/stats?month={month}")
        assert browser.evaluate("location.pathname + location.search") == (
            f"/stats/login?next=%2Fstats%3Fmonth%3D{month}"
        )
        # Sign in as a person would: type into the form and press the button.
        browser.load(
            "Runtime.evaluate",
            expression=(
                "document.getElementById('username').value = 'agency';"
                "document.getElementById('password').value = 'agency';"
                "document.querySelector('button[type=submit]').click();"
            ),
        )
        seen = browser.evaluate(BROWSER_CHECKS)
        log = [
            e["params"].get("entry") or e["params"]
            for e in browser.events
            if e["method"] in ("Log.entryAdded", "Runtime.exceptionThrown")
            or (e["method"] == "Runtime.consoleAPICalled" and e["params"]["type"] == "error")
        ]
        cookies = browser.call("Network.getCookies", urls=[demo_hub.url])["cookies"]
        shot = browser.call("Page.captureScreenshot", format="png")["data"]
    finally:
        browser.close()

    assert seen["path"] == f"/stats?month={month}", seen["path"]
    assert seen["title"].startswith("October 2026")
    assert seen["scripts"] == 0
    # the session cookie is there, but no script can read it
    assert seen["cookie"] == ""
    [cookie] = [c for c in cookies if c["name"] == "alu_hub_stats"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and not cookie["secure"]
    # nothing refused by the Content-Security-Policy (Chrome logs each refusal), no error at all
    assert log == [], log
    # the stylesheet (allowed by its nonce) applied: the header's colour, the bars' colours
    assert seen["headerBackground"] == "rgb(18, 48, 79)"
    assert seen["width"] == 1280

    # when the figures were computed, and how many came after the month ended
    assert seen["asOf"] == "Figures as of 2 November 2026, 09:30 UTC."
    late = expected["downloads_reported_late"]
    assert 0 < late < expected["downloads"]
    assert seen["late"] == (
        f"{late:,} of these {expected['downloads']:,} downloads were reported after the month "
        "ended."
    )

    tiles = {k: number(v) for k, v in seen["tiles"].items()}
    assert tiles == {
        "pushes": expected["pushes"],
        "downloads": expected["downloads"],
        "uploads": expected["uploads"],
        "uploading-members": expected["uploading_members"],
        "meeting-pledge": meeting,
    }

    charts = seen["charts"]
    n = len(DEMO_MEMBERS)
    assert {k: len(v) for k, v in charts.items()} == {
        "chart-monthly": 36,
        "chart-members": 24,
        "chart-pledge": n,
        "chart-activity": 2 * n,
    }
    monthly = charts["chart-monthly"]
    assert [b["series"] for b in monthly[:3]] == ["pushes", "downloads", "uploads"]
    assert {b["series"]: b["value"] for b in monthly[-3:]} == {
        "pushes": expected["pushes"],
        "downloads": expected["downloads"],
        "uploads": expected["uploads"],
    }
    fills = {b["series"]: b["fill"] for b in monthly}
    assert fills == {
        "pushes": "rgb(31, 95, 168)",
        "downloads": "rgb(42, 157, 143)",
        "uploads": "rgb(224, 122, 31)",
    }
    # drawn to scale: in every chart, each bar's length is its value times the same factor
    for name, bars in charts.items():
        size = "h" if name in ("chart-monthly", "chart-members") else "w"
        top = max(bars, key=lambda b: b["value"])
        assert top["value"] > 0 and top[size] > 20, name
        scale = top[size] / top["value"]
        for b in bars:
            assert abs(b[size] - b["value"] * scale) < 1.0, (name, b, scale)
    # the pledge: full-length bars for the members who met it, in the "met" colour
    pledge = charts["chart-pledge"]
    full = max(b["w"] for b in pledge)
    for b, row in zip(pledge, expected["members"], strict=True):
        assert b["value"] == row["upload_days"]
        assert (abs(b["w"] - full) < 0.5) == row["meets_pledge"]
        assert b["fill"] == ("rgb(46, 139, 87)" if row["meets_pledge"] else "rgb(200, 85, 61)")

    png = base64.b64decode(shot)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (1280, 900)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    if not SCREENSHOT.exists() or SCREENSHOT.read_bytes() != png:
        SCREENSHOT.write_bytes(png)
