"""A workstation's name (``device``) as the hub stores and shows it (review memberday, finding
2): a name holding escape sequences, a U+202E direction override and a line feed — a host name,
or what a modified client sends — cleared the agency's terminal and forged a row of
``alu-hub items show``. The hub stores it cleaned (sign-in, history) and cleans, where it shows
one, the rows stored before it did."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator

import pytest
import requests
from sqlalchemy import update

from alu_hub.models import HistoryEvent, Token
from tests.support.livehub import LiveHub, start_hub

from .test_cli_member_chores import alu_hub, member, sign_in
from .test_stats_page import insert_items

pytestmark = pytest.mark.timeout(180)

EVIL = "\x1b[2J\x1b[31mFAKE\x1b[0m\u202eevil\nrti     CI  2026"
CLEAN = "?[2J?[31mFAKE?[0m?evil?rti     CI  2026"


def steers(text: str) -> bool:
    """Whether ``text`` holds a character that would steer a terminal."""
    return any(not (c.isprintable() or c == "\n") for c in text)


@pytest.fixture
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    live = start_hub(tmp_path_factory.mktemp("devices"))
    try:
        live.member("rti", country="CI")
        live.member("chief", role="agency")
        yield live
    finally:
        live.server.stop()
        live.hub.db.dispose()


def post_download(live: LiveHub, token: str, item: str, device: str) -> None:
    now = dt.datetime.now(dt.UTC).isoformat()
    event = {
        "id": str(uuid.uuid4()),
        "type": "download_completed",
        "item_id": item,
        "rendition": "broadcast",
        "bytes": 1000,
        "ended_at": now,
        "device": device,
    }
    r = requests.post(
        live.api("/history"),
        json={"events": [event], "sent_at": now},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text


def shows_clean(live: LiveHub, item: str, token: str) -> None:
    """items show (text and JSON), the API's item report and history, member sessions: the
    name on one line, cleaned."""
    text = alu_hub(live, "items", "show", item)
    assert text.returncode == 0, text.stderr
    assert not steers(text.stdout), repr(text.stdout)
    row = next(line for line in text.stdout.splitlines() if line.lstrip().startswith("rti "))
    assert row.endswith(f"1 ({CLEAN})"), row
    as_json = json.loads(alu_hub(live, "items", "show", item, "--json").stdout)
    assert as_json["downloaded_by"][0]["devices"] == [CLEAN]
    agency = sign_in(live, "chief", "desk")
    report = requests.get(
        live.api(f"/stats/items/{item}"), headers={"Authorization": f"Bearer {agency}"}, timeout=10
    )
    assert report.json()["downloaded_by"][0]["devices"] == [CLEAN]
    history = requests.get(
        live.api("/history"), headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert [e["device"] for e in history.json()["events"]] == [CLEAN]
    sessions = json.loads(alu_hub(live, "member", "sessions", "rti", "--json").stdout)
    assert [(x["device"], x["last_used_at"] is not None) for x in sessions["sessions"]] == [
        (CLEAN, True)
    ]


def test_a_device_name_is_stored_cleaned_and_shown_on_one_line(hub: LiveHub) -> None:
    item = insert_items(hub.hub, [("push", None, dt.datetime.now(dt.UTC))])[0]
    token = sign_in(hub, "rti", EVIL)
    post_download(hub, token, item, EVIL)
    with hub.hub.db.session() as s:
        assert s.query(Token.device).filter(Token.member_id == member(hub, "rti").id).all() == [
            (CLEAN,)
        ]
        assert s.query(HistoryEvent.device).all() == [(CLEAN,)]
    shows_clean(hub, item, token)


def test_names_stored_before_they_were_cleaned_are_cleaned_when_shown(hub: LiveHub) -> None:
    item = insert_items(hub.hub, [("push", None, dt.datetime.now(dt.UTC))])[0]
    token = sign_in(hub, "rti", "x")
    post_download(hub, token, item, "x")
    with hub.hub.db.session() as s:  # as an older hub stored them
        s.execute(update(Token).values(device=EVIL))
        s.execute(update(HistoryEvent).values(device=EVIL))
    shows_clean(hub, item, token)
    # the old sign-in's events sent since are found under the name it now stores
    post_download(hub, token, item, EVIL)
    with hub.hub.db.session() as s:
        s.execute(
            update(HistoryEvent)
            .where(HistoryEvent.device == EVIL)
            .values(received_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
        )
    sessions = json.loads(alu_hub(hub, "member", "sessions", "rti", "--json").stdout)
    assert sessions["sessions"][0]["last_used_at"] is not None
