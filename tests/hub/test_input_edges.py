"""Inputs at the edges of what the hub can hold — numbers past a 64-bit column, dates past
Python's calendar, clocks centuries off, text that is not Unicode, names longer than their
column — are refused with a clear 4xx (the API's JSON error body, the page's own message, the
command's one-line error), never a 500 or a traceback; on SQLite and on PostgreSQL
(tests/hub/conftest.py runs this module on both)."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from alu_hub import cli
from alu_hub.app import build_hub
from alu_hub.db import Database
from alu_hub.hub import Hub
from alu_hub.models import MAX_BIGINT, AuditRecord, Member, Rendition
from tests.support.livehub import hub_database_url, hub_env, hub_settings

from .conftest import LiveHub, start_hub

TOO_BIG = MAX_BIGINT + 1  # 2**63


def refused(r: requests.Response, status: int = 422, code: str = "invalid_request") -> str:
    """The hub's JSON error body with ``status`` and ``code``; returns its message."""
    assert r.status_code == status, (r.status_code, r.text[:300])
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    error = r.json()["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    return str(error["message"])


@pytest.fixture
def ktn(live_hub: LiveHub) -> requests.Session:
    return live_hub.login("ktn")


# --- 1. numbers past a 64-bit column ---------------------------------------------------------


@pytest.mark.parametrize("path", ["/items", "/history", "/events"])
def test_a_cursor_past_64_bits_is_refused(
    live_hub: LiveHub, ktn: requests.Session, path: str
) -> None:
    for after in (TOO_BIG, 10**30):
        r = ktn.get(live_hub.api(path), params={"after": after}, timeout=10)
        assert "after" in refused(r)


@pytest.mark.parametrize("path", ["/items", "/history"])
def test_the_largest_cursor_still_answers(
    live_hub: LiveHub, ktn: requests.Session, path: str
) -> None:
    r = ktn.get(live_hub.api(path), params={"after": MAX_BIGINT}, timeout=10)
    assert r.status_code == 200 and r.json()["next"] == MAX_BIGINT and r.json()["more"] is False


@pytest.fixture
def quick_hub(tmp_path: Path) -> Iterator[LiveHub]:
    """A hub whose event stream sends a keep-alive every 0.2 s."""
    h = start_hub(tmp_path, sse_keepalive_s=0.2)
    yield h
    h.server.stop()
    h.hub.db.dispose()


# ``²`` (0xB2 in a header, read as Latin-1) passes str.isdigit() but not int()
@pytest.mark.parametrize("last_event_id", [str(TOO_BIG), "9" * 40, "\xb2", "1\xb9\xb2\xb3"])
def test_a_last_event_id_the_hub_never_sent_starts_from_now(
    quick_hub: LiveHub, last_event_id: str
) -> None:
    s = quick_hub.login("ktn")
    headers = {"Last-Event-ID": last_event_id.encode("latin-1")}
    with s.get(quick_hub.api("/events"), headers=headers, stream=True, timeout=10) as r:
        assert r.status_code == 200
        lines = r.iter_lines(decode_unicode=True)
        assert next(lines) == "retry: 5000"
        assert ": keep-alive" in [next(lines) for _ in range(3)]


# --- 2. dates past the calendar, periods of centuries ----------------------------------------


#: (query, words of the refusal)
REFUSED_PERIODS = [
    ({"from": "0001-01-01", "to": "9999-12-31"}, "calendar"),  # to's day ends in year 10000
    ({"from": "0001-01-01", "to": "9999-12-30"}, "at most 10 years"),
    ({"from": "0001-01-01"}, "at most 10 years"),
    ({"to": "9999-12-31"}, "calendar"),
    ({"to": "0001-01-01"}, "too early"),  # the 30 days before it
    ({"from": "9999-12-01", "to": "9999-12-31T23:59:59-14:00"}, "calendar"),
    ({"from": "0001-01-01T00:00:00+14:00", "to": "0001-01-31"}, "calendar"),
    ({"from": "2015-12-31", "to": "2025-12-31"}, "at most 10 years"),
    ({"from": "2026-01-02", "to": "2026-01-01"}, "before"),
    ({"from": "someday"}, "not a date"),
]
COUNTED_PERIODS = [
    {"from": "2016-01-01", "to": "2025-12-31"},  # ten years to the day
    {"from": "0001-01-01", "to": "0001-01-31"},
    {"from": "9999-12-01", "to": "9999-12-30"},
    {"to": "0001-01-31"},
]


def test_stats_periods_outside_the_calendar_or_too_long_are_refused(
    live_hub: LiveHub, ktn: requests.Session
) -> None:
    for params, words in REFUSED_PERIODS:
        r = ktn.get(live_hub.api("/stats"), params=params, timeout=30)
        assert words in refused(r), params


def test_stats_periods_at_the_edges_are_counted(live_hub: LiveHub, ktn: requests.Session) -> None:
    for params in COUNTED_PERIODS:
        r = ktn.get(live_hub.api("/stats"), params=params, timeout=30)
        assert r.status_code == 200, (params, r.text)
        assert r.json()["pushes"] == 0


AGENCY = ("chief", "chief-pw-1")


def web_sign_in(live: LiveHub, next_url: str = "/stats") -> requests.Response:
    return requests.post(
        f"{live.url}/stats/login",
        data={"username": AGENCY[0], "password": AGENCY[1], "next": next_url},
        allow_redirects=False,
        timeout=30,
    )


@pytest.fixture
def agency_page(live_hub: LiveHub) -> requests.Session:
    """A browser signed in to the statistics page as agency staff."""
    live_hub.member(*AGENCY, role="agency")
    r = web_sign_in(live_hub)
    assert r.status_code == 303, r.text
    s = requests.Session()
    s.cookies.update(r.cookies)
    return s


def test_the_stats_page_refuses_months_it_cannot_show(
    live_hub: LiveHub, agency_page: requests.Session
) -> None:
    for month in ("0001-01", "9999-12", "1969-12", "٢٠٢٦-٠١", "２０２６-０１"):
        for path in ("/stats", "/stats.csv"):
            r = agency_page.get(live_hub.url + path, params={"month": month}, timeout=30)
            assert r.status_code == 400, (path, month, r.status_code)
            assert r.headers["Content-Type"].startswith("text/html")
            assert "Choose a month" in r.text
    for path in ("/stats", "/stats.csv"):  # the first month it can show
        r = agency_page.get(live_hub.url + path, params={"month": "1970-01"}, timeout=30)
        assert r.status_code == 200, (path, r.text[:300])


NOT_ASCII_NEXT = "/stats?month=٢٠٢٦-٠١"


def test_a_sign_in_never_sends_the_browser_to_an_address_a_header_cannot_hold(
    live_hub: LiveHub, agency_page: requests.Session
) -> None:
    r = web_sign_in(live_hub, NOT_ASCII_NEXT)
    assert r.status_code == 303 and r.headers["Location"] == "/stats"
    r = agency_page.get(
        live_hub.url + "/stats/login",
        params={"next": NOT_ASCII_NEXT},
        allow_redirects=False,
        timeout=30,
    )
    assert r.status_code == 303 and r.headers["Location"] == "/stats"


# --- 3. workstation clocks centuries off, times past the calendar -----------------------------


def event(**kw: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "type": "download_completed", "bytes": 10, **kw}


def post_history(live: LiveHub, s: requests.Session, body: dict[str, Any]) -> requests.Response:
    """POST /history with ``body`` as JSON text written here: ``json.dumps`` escapes what is not
    ASCII, lone surrogates included, as JSON can."""
    return s.post(
        live.api("/history"),
        data=json.dumps(body),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )


def stored_events(live: LiveHub, s: requests.Session) -> list[dict[str, Any]]:
    r = s.get(live.api("/history"), timeout=30)
    assert r.status_code == 200, r.text[:300]
    return list(r.json()["events"])


def test_a_clock_centuries_off_is_refused_plainly(live_hub: LiveHub, ktn: requests.Session) -> None:
    for sent_at, says in [
        ("9999-12-31T23:59:59Z", "9999-12-31 23:59 UTC"),
        ("0001-01-01T00:00:00Z", "0001-01-01 00:00 UTC"),
        ("2200-01-01T00:00:00+14:00", "2199-12-31 10:00 UTC"),
    ]:
        body = {"sent_at": sent_at, "events": [event(started_at="2026-01-01T00:00:00Z")]}
        message = refused(post_history(live_hub, ktn, body), code="clock_off")
        assert message == (
            f"The workstation's clock is more than 100 years off (it says {says}); set it right "
            "and send again."
        )
    assert stored_events(live_hub, ktn) == []


def test_a_clock_that_lost_its_battery_is_still_corrected(
    live_hub: LiveHub, ktn: requests.Session
) -> None:
    """A workstation back at 1970 (56 years behind) is a clock, not a mistake: its events get
    the hub's times."""
    body = {
        "sent_at": "1970-01-01T00:10:00Z",
        "events": [event(started_at="1970-01-01T00:00:00Z", ended_at="1970-01-01T00:05:00")],
    }
    r = post_history(live_hub, ktn, body)
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    [stored] = stored_events(live_hub, ktn)
    now = dt.datetime.now(dt.UTC)
    ended = dt.datetime.fromisoformat(stored["ended_at"])
    assert abs(ended - (now - dt.timedelta(minutes=5))) < dt.timedelta(minutes=1)
    assert dt.datetime.fromisoformat(stored["occurred_at"]) == ended


def test_event_times_past_the_calendar_are_refused(
    live_hub: LiveHub, ktn: requests.Session
) -> None:
    fifty_years_behind = dt.datetime.now(dt.UTC) - dt.timedelta(days=50 * 365)
    for body, words in [
        # year 0 and year 10000 in UTC
        ({"events": [event(started_at="0001-01-01T00:00:00+14:00")]}, "started_at"),
        ({"events": [event(ended_at="9999-12-31T23:59:59-14:00")]}, "ended_at"),
        ({"sent_at": "0001-01-01T00:00:00+14:00", "events": []}, "sent_at"),
        # corrected by the clock's offset (+50 years): past 9999
        (
            {"sent_at": fifty_years_behind.isoformat(), "events": [event(ended_at="9990-01-01")]},
            "ended_at 9990-01-01T00:00:00+00:00, corrected",
        ),
    ]:
        message = refused(post_history(live_hub, ktn, body))
        assert words in message and "calendar" in message, message
    assert stored_events(live_hub, ktn) == []


def test_times_at_the_ends_of_the_calendar_and_without_a_zone_are_kept(
    live_hub: LiveHub, ktn: requests.Session
) -> None:
    body = {
        "sent_at": dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(),  # no zone: UTC
        "events": [
            event(started_at="0001-01-01T00:00:00Z", ended_at="9999-12-31T23:59:59Z"),
            event(started_at="2026-01-01T12:00:00", ended_at="2026-01-01T12:00:05"),
        ],
    }
    r = post_history(live_hub, ktn, body)
    assert r.status_code == 200 and r.json()["accepted"] == 2, r.text
    first, second = stored_events(live_hub, ktn)
    assert dt.datetime.fromisoformat(first["started_at"]).year == 1
    assert dt.datetime.fromisoformat(first["ended_at"]).year == 9999
    started = dt.datetime.fromisoformat(second["started_at"])
    assert abs(started - dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)) < dt.timedelta(minutes=1)


# --- 4. text that is not Unicode ----------------------------------------------------------------

NOT_UNICODE = "not valid Unicode"


def test_history_text_that_is_not_unicode_is_refused(
    live_hub: LiveHub, ktn: requests.Session
) -> None:
    for fields, where in [
        ({"detail": {"note": "\ud800"}}, "detail"),
        ({"detail": {"\udc80": 1}}, "detail"),
        ({"detail": {"a": [1, {"b": ["ok", "x\udfff"]}]}}, "detail"),
        ({"device": "newsroom \udc80"}, "device"),
        ({"item_id": "\ud800"}, "item_id"),
        ({"rendition": "\udbff"}, "rendition"),
    ]:
        message = refused(post_history(live_hub, ktn, {"events": [event(**fields)]}))
        assert f"events.0.{where}: " in message and NOT_UNICODE in message, message
    assert stored_events(live_hub, ktn) == []
    # a surrogate pair is a character: stored and served back as it came
    r = post_history(live_hub, ktn, {"events": [event(detail={"note": "\U0001f4f9 ok"})]})
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    assert stored_events(live_hub, ktn)[0]["detail"] == {"note": "\U0001f4f9 ok"}


def test_a_sign_in_with_text_that_is_not_unicode_is_refused(live_hub: LiveHub) -> None:
    live_hub.member("ktn")
    for field in ("username", "password", "device"):
        body = {"username": "ktn", "password": "pw-1234", "device": "pytest", field: "k\udc80"}
        r = requests.post(
            live_hub.api("/session"),
            data=json.dumps(body),
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        message = refused(r)
        assert message.startswith(f"{field}: ") and NOT_UNICODE in message, message


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def test_upload_metadata_that_is_not_utf8_is_refused(
    live_hub: LiveHub, ktn: requests.Session
) -> None:
    surrogate = "\ud800".encode("utf-8", "surrogatepass")  # CESU-8: not UTF-8
    for key, value in (("title", surrogate), ("filename", b"clip" + surrogate + b".mp4")):
        meta = {"filename": b"clip.mp4", "sha256": b"0" * 64, key: value}
        r = ktn.post(
            live_hub.api("/uploads/"),
            headers={
                "Tus-Resumable": "1.0.0",
                "Upload-Length": "100",
                "Upload-Metadata": ",".join(f"{k} {b64(v)}" for k, v in meta.items()),
            },
            timeout=30,
        )
        assert key in refused(r, 400, "bad_metadata")


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def hub_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Callable[..., Ran]]:
    """``alu-hub ARGS --data DATA`` run in this process (a process each costs seconds of
    imports) on the test's database, as ``__main__`` runs it: what ``main`` returns or exits
    with is the exit status; an exception is a traceback, and fails the test."""
    level = logging.getLogger("alu_hub").level
    built: list[Hub] = []
    make_hub = cli._hub

    def _hub(args: Any, **kw: Any) -> Hub:
        built.append(make_hub(args, **kw))
        return built[-1]

    monkeypatch.setattr(cli, "_hub", _hub)

    def run(data: Path, *args: str, stdin: str = "") -> Ran:
        for key, value in hub_env(data).items():
            if key == "ALU_HUB_DATABASE_URL":
                monkeypatch.setenv(key, value)
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        try:
            code = cli.main([*args, "--data", str(data)])
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
            if isinstance(e.code, str):
                print(e.code, file=sys.stderr)
        finally:
            logging.getLogger("alu_hub").setLevel(level)
        out = capsys.readouterr()
        return Ran(code, out.out, out.err)

    yield run
    for hub in built:
        hub.db.dispose()
        hub.folder_lock.close()


def one_line_refusal(r: Ran, words: str, status: int = 2) -> None:
    assert r.returncode == status, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.startswith("alu-hub: ") and r.stderr.count("\n") == 1, r.stderr
    assert words in r.stderr, r.stderr


def test_the_stats_command_refuses_such_periods_in_one_line(
    tmp_path: Path, hub_cli: Callable[..., Ran]
) -> None:
    for params, words in REFUSED_PERIODS:
        args = [a for k, v in params.items() for a in (f"--{k}", v)]
        one_line_refusal(hub_cli(tmp_path / "hub", "stats", *args), words)


def test_publish_refuses_text_that_is_not_utf8_in_one_line(
    tmp_path: Path, hub_cli: Callable[..., Ran]
) -> None:
    """A command line or a file in another encoding: Python reads bytes that are not UTF-8 as
    lone surrogates (\\udc80-\\udcff), which the database cannot store."""
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"not looked at: the fields are checked first")
    latin1 = os.fsdecode(b"Caf\xe9 fire")  # "Caf\udce9 fire"
    for fields in (
        ["--title", latin1],
        ["--title", "Fire", "--dateline", latin1],
        ["--title", "Fire", "--restrictions", latin1],
    ):
        r = hub_cli(tmp_path / "hub", "publish", str(video), *fields)
        # (input the hub cannot take: 2, as for a text over its limit)
        one_line_refusal(r, f"The {fields[-2][2:]} is not text the hub can store", status=2)
    script = tmp_path / "script.txt"
    script.write_bytes("Café".encode("latin-1"))
    r = hub_cli(
        tmp_path / "hub", "publish", str(video), "--title", "Fire", "--script-file", str(script)
    )
    one_line_refusal(r, f"--script-file {script} is not UTF-8 text", status=2)


def test_publish_takes_a_file_whose_name_is_not_utf8(
    tmp_path: Path, clip: Path, hub_cli: Callable[..., Ran]
) -> None:
    video = tmp_path / os.fsdecode(b"caf\xe9-fire.mp4")
    shutil.copyfile(clip, video)
    build_hub(hub_settings(tmp_path / "hub")).db.dispose()  # publish needs a hub to publish in
    r = hub_cli(tmp_path / "hub", "publish", str(video), "--title", "Fire")
    assert r.returncode == 0, r.stderr
    db = Database(hub_database_url(tmp_path / "hub"))
    try:
        with db.session() as s:
            names = set(s.scalars(select(Rendition.filename)))
            (detail,) = s.scalars(select(AuditRecord.detail))
    finally:
        db.dispose()
    assert names == {"caf\ufffd-fire.mp4", "caf\ufffd-fire.proxy.mp4"}
    # its audit record names it so too (the database refused the record, and the publish)
    assert json.loads(detail)["file"] == "caf\ufffd-fire.mp4"


# --- 5. member names longer than their column ------------------------------------------------


def members(data: Path) -> list[tuple[str, str, str]]:
    db = Database(hub_database_url(data))
    try:
        with db.session() as s:
            return [
                (m.username, m.display_name, m.country)
                for m in s.scalars(select(Member).order_by(Member.username))
            ]
    finally:
        db.dispose()


def member_add(hub_cli: Callable[..., Ran], data: Path, *args: str) -> Ran:
    return hub_cli(data, "member", "add", *args, "--password-stdin", stdin="pa55word\n")


def test_member_add_refuses_what_the_members_table_cannot_hold(
    tmp_path: Path, hub_cli: Callable[..., Ran]
) -> None:
    data = tmp_path / "hub"
    assert member_add(hub_cli, data, "first", "--country", "KE").returncode == 0
    for args, words in [
        (["k" * 65, "--country", "KE"], "the name is 65 characters long; it can have at most 64"),
        (["k" * 300, "--country", "KE"], "the name is 300 characters long"),
        (["ktn", "--display-name", "K" * 201, "--country", "KE"], "at most 200"),
        (["", "--country", "KE"], "the name is empty"),
        (["   ", "--country", "KE"], "the name is empty"),
        ([" ktn", "--country", "KE"], "begins or ends with a space"),
        (["ktn\nroot", "--country", "KE"], "a character a name cannot have"),
        (["ktn\x00", "--country", "KE"], "a character a name cannot have"),
        (["ktn\u202e", "--country", "KE"], "a character a name cannot have"),
        (["ktn", "--display-name", "KTN\tTV", "--country", "KE"], "display name"),
        ([os.fsdecode(b"t\xe9l\xe9"), "--country", "KE"], "bytes that are not UTF-8"),
        (["ktn", "--country", "KEN"], "two-letter code, e.g. KE, not 'KEN'."),
        (["ktn", "--country", "ßa"], "two-letter code"),  # "SSA" once upper-cased
        (["ktn", "--country", "ÄÖ"], "two-letter code"),
        # no --country: said to be missing (it was told "--country takes a two-letter code")
        (["ktn"], "a member needs its country: add --country and its two-letter code, e.g. KE."),
        (["chief", "--role", "agency", "--country", "KENYA"], "two-letter code"),
    ]:
        one_line_refusal(member_add(hub_cli, data, *args), words)
    assert [m[0] for m in members(data)] == ["first"]


def test_member_add_takes_names_as_long_as_their_columns(
    tmp_path: Path, hub_cli: Callable[..., Ran]
) -> None:
    data = tmp_path / "hub"
    # (a new name is plain ASCII: cli._NEW_NAME; the display name takes any letters)
    name, display = "k" * 64, "Télévision " + "x" * 189
    r = member_add(hub_cli, data, name, "--display-name", display, "--country", "sn")
    assert r.returncode == 0, r.stderr
    r = member_add(hub_cli, data, "chief", "--role", "agency")  # staff need no country
    assert r.returncode == 0, r.stderr
    assert members(data) == [("chief", "chief", ""), (name, display, "SN")]


def test_the_member_add_command_exits_2_without_a_traceback(tmp_path: Path) -> None:
    """As an operator runs it, in its own process, on either engine."""
    data = tmp_path / "hub"
    command = ["member", "add", "k" * 65, "--country", "KE", "--password-stdin"]
    r = subprocess.run(
        [sys.executable, "-m", "alu_hub.cli", *command, "--data", str(data)],
        input="pa55word\n",
        capture_output=True,
        text=True,
        timeout=120,
        env=hub_env(data),
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr == "alu-hub: the name is 65 characters long; it can have at most 64.\n"
