"""The agency withdraws or corrects an item after it went out (``alu_hub.changes``): the feed and
the item give its current state, ``GET /items/changes`` lists it, its files are 410, event
streams wake, the counts leave it out; agency staff only, each refusal in plain words."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path

import requests
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text, update

from alu_hub.db import Database
from alu_hub.feed import load_items_json
from alu_hub.hub import Hub
from alu_hub.models import Base, Counter, Item, Member
from alu_hub.publish import ItemFields, publish_file
from alu_hub.stats import compute_stats
from tests.support.livehub import hub_database_url

from .conftest import LiveHub
from .test_stats_page import AGENCY, parse, web_session


def _agency(live: LiveHub) -> requests.Session:
    live.member("desk", role="agency")
    return live.login("desk")


def _error(r: requests.Response) -> tuple[int, str, str]:
    body = r.json()["error"]
    return r.status_code, body["code"], body["message"]


def test_a_withdrawn_item_stays_in_the_feed_and_its_files_are_gone(
    live_hub: LiveHub, clip: Path
) -> None:
    item_id = live_hub.publish(clip, title="Floods in Kisumu")
    member = live_hub.login("ktn")
    agency = _agency(live_hub)
    # a link handed out before the withdrawal, and the files served until then
    link = member.post(live_hub.api(f"/items/{item_id}/renditions/broadcast/link"), timeout=10)
    assert link.status_code == 200
    assert requests.get(link.json()["url"], timeout=10).status_code == 200

    r = agency.post(
        live_hub.api(f"/items/{item_id}/withdraw"),
        json={"reason": "Wrong footage\r\n(not Kisumu)"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["id"] == item_id and out["revision"] == 2
    assert out["withdrawn_reason"] == "Wrong footage  (not Kisumu)"
    withdrawn_at = dt.datetime.fromisoformat(out["withdrawn_at"])
    assert abs(withdrawn_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)

    feed = member.get(live_hub.api("/items?after=0"), timeout=10).json()["items"]
    assert [(i["id"], i["withdrawn_at"], i["revision"]) for i in feed] == [
        (item_id, out["withdrawn_at"], 2)
    ]
    assert member.get(live_hub.api(f"/items/{item_id}"), timeout=10).json() == out

    said = "The agency withdrew this item: Wrong footage  (not Kisumu)"
    for method, path in (
        ("GET", f"/items/{item_id}/renditions/broadcast"),
        ("GET", f"/items/{item_id}/renditions/proxy"),
        ("GET", f"/items/{item_id}/thumbnail"),
        ("POST", f"/items/{item_id}/renditions/broadcast/link"),
    ):
        got = member.request(method, live_hub.api(path), timeout=10)
        assert _error(got) == (410, "item_withdrawn", said), path
    head = member.head(live_hub.api(f"/items/{item_id}/renditions/broadcast"), timeout=10)
    assert head.status_code == 410
    assert _error(requests.get(link.json()["url"], timeout=10)) == (410, "item_withdrawn", said)

    again = agency.post(
        live_hub.api(f"/items/{item_id}/withdraw"), json={"reason": "again"}, timeout=10
    )
    assert _error(again)[:2] == (409, "already_withdrawn")
    fix = agency.patch(
        live_hub.api(f"/items/{item_id}"), json={"title": "x", "note": "n"}, timeout=10
    )
    assert _error(fix)[:2] == (409, "already_withdrawn")


def test_only_agency_staff_change_items_and_each_refusal_says_why(
    live_hub: LiveHub, clip: Path
) -> None:
    item_id = live_hub.publish(clip, title="Floods")
    member = live_hub.login("ktn")
    agency = _agency(live_hub)
    withdraw = live_hub.api(f"/items/{item_id}/withdraw")
    item = live_hub.api(f"/items/{item_id}")
    assert member.post(withdraw, json={"reason": "x"}, timeout=10).status_code == 403
    assert member.patch(item, json={"title": "x", "note": "y"}, timeout=10).status_code == 403
    assert _error(agency.post(withdraw, json={"reason": " \t"}, timeout=10))[:2] == (
        422,
        "invalid_request",
    )
    unknown = agency.post(live_hub.api("/items/nope/withdraw"), json={"reason": "x"}, timeout=10)
    assert _error(unknown)[:2] == (404, "unknown_item")
    for body, words in (
        ({"title": "New", "note": "  "}, "The note is blank"),
        ({"note": "fixed"}, "Nothing to correct"),
        ({"title": "Floods", "note": "fixed"}, "already says that"),
        ({"title": "\ufeff ", "note": "fixed"}, "An item needs a title"),
        ({"slug": "s" * 201, "note": "fixed"}, "The slug is too long (201 characters"),
        ({"priority": "breaking", "note": "fixed"}, "priority must be one of"),
    ):
        status, code, message = _error(agency.patch(item, json=body, timeout=10))
        assert (status, code) == (422, "invalid_request") and words in message, (body, message)
    # nothing of it was stored
    got = member.get(item, timeout=10).json()
    assert (got["revision"], got["title"], got["withdrawn_at"]) == (1, "Floods", None)
    assert member.get(live_hub.api("/items/changes"), timeout=10).json()["items"] == []


def test_a_correction_is_in_the_feed_and_the_changes_each_item_once(
    live_hub: LiveHub, clip: Path
) -> None:
    first = live_hub.publish(clip, title="Floods", restrictions="None")
    second = live_hub.publish(clip, title="Fire")
    member = live_hub.login("ktn")
    agency = _agency(live_hub)
    r = agency.patch(
        live_hub.api(f"/items/{first}"),
        json={"restrictions": "No access Kenya\r\nNo archive", "note": "Restrictions were wrong"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    fixed = r.json()
    assert fixed["restrictions"] == "No access Kenya\nNo archive"
    assert (fixed["revision"], fixed["correction_note"]) == (2, "Restrictions were wrong")
    assert fixed["corrected_at"] is not None and fixed["withdrawn_at"] is None
    assert fixed["title"] == "Floods" and fixed["seq"] == 1

    page = member.get(live_hub.api("/items/changes?after=0"), timeout=10).json()
    assert [i["id"] for i in page["items"]] == [first] and page["more"] is False
    assert page["items"][0] == fixed
    one = page["next"]
    assert member.get(live_hub.api("/items?after=0"), timeout=10).json()["items"][0] == fixed

    agency.post(live_hub.api(f"/items/{second}/withdraw"), json={"reason": "Legal"}, timeout=10)
    agency.patch(
        live_hub.api(f"/items/{first}"), json={"title": "Floods (2)", "note": "Title"}, timeout=10
    )
    # each item once, at its current state, in the order of its last change
    page = member.get(live_hub.api("/items/changes?after=0&limit=1"), timeout=10).json()
    assert [i["id"] for i in page["items"]] == [second] and page["more"] is True
    rest = member.get(live_hub.api(f"/items/changes?after={page['next']}"), timeout=10).json()
    assert [(i["id"], i["title"], i["revision"]) for i in rest["items"]] == [
        (first, "Floods (2)", 3)
    ]
    assert rest["more"] is False and rest["next"] > page["next"] > one
    end = member.get(live_hub.api(f"/items/changes?after={rest['next']}"), timeout=10).json()
    assert end == {"items": [], "next": rest["next"], "more": False, "last": rest["next"]}
    assert member.get(live_hub.api("/items/changes?limit=501"), timeout=10).status_code == 422
    assert requests.get(live_hub.api("/items/changes"), timeout=10).status_code == 401


def test_an_item_served_from_a_cache_is_never_stale_after_a_change(
    live_hub: LiveHub, clip: Path
) -> None:
    """An item from before feed JSON was stored (migration 0004) is kept in each serving
    process's cache: a change made by another process (``alu-hub items withdraw``, a replica)
    must not leave this one serving the old text."""
    item_id = live_hub.publish(clip, title="Old item")
    with live_hub.hub.db.session() as s:
        s.execute(update(Item).where(Item.id == item_id).values(feed_json=None))
    member = live_hub.login("ktn")
    before = member.get(live_hub.api("/items?after=0"), timeout=10).json()["items"][0]
    assert before["withdrawn_at"] is None
    assert live_hub.hub.feed_cache.get_many([item_id])  # this process keeps it now
    other = _other_process(live_hub)
    from alu_hub.changes import withdraw

    try:
        withdraw(other, item_id, "Embargo broken")
    finally:
        other.db.dispose()
    after = member.get(live_hub.api("/items?after=0"), timeout=10).json()["items"][0]
    assert (after["withdrawn_reason"], after["revision"]) == ("Embargo broken", 2)
    assert member.get(live_hub.api(f"/items/{item_id}"), timeout=10).json() == after


def _other_process(live: LiveHub) -> Hub:
    """The hub as another process sees it: its own services (cache, broker) on the same
    database and files."""
    from alu_hub.app import build_hub

    return build_hub(live.hub.settings, upgrade=False)


def test_a_change_made_elsewhere_wakes_an_open_event_stream(live_hub: LiveHub, clip: Path) -> None:
    item_id = live_hub.publish(clip, title="Floods")
    member = live_hub.login("ktn")
    events: list[tuple[str, str]] = []
    connected = threading.Event()
    got = threading.Event()

    def listen() -> None:
        with member.get(live_hub.api("/events"), stream=True, timeout=30) as r:
            kind = ""
            for line in r.iter_lines(decode_unicode=True):
                if line.startswith("retry:"):
                    connected.set()
                elif line.startswith("event:"):
                    kind = line.partition(":")[2].strip()
                elif line.startswith("data:"):
                    events.append((kind, line.partition(":")[2].strip()))
                    got.set()
                    return

    t = threading.Thread(target=listen, daemon=True)
    t.start()
    assert connected.wait(10)
    other = _other_process(live_hub)  # its notify reaches no stream of this one
    from alu_hub.changes import correct

    try:
        correct(other, item_id, {"title": "Floods in Kisumu"}, "Place in the title")
    finally:
        other.db.dispose()
    assert got.wait(10), "no event within 10 s of a change made by another process"
    change = member.get(live_hub.api("/items/changes"), timeout=10).json()["next"]
    assert events == [("change", json.dumps({"change": change}))]
    t.join(5)


def test_withdrawn_pushes_and_uploads_leave_the_counts_downloads_stay(
    live_hub: LiveHub, clip: Path, other_clip: Path
) -> None:
    push = live_hub.publish(clip, title="Push")
    kept = live_hub.publish(clip, title="Kept")
    live_hub.member("ktn")
    with live_hub.hub.db.session() as s:
        ktn = s.scalars(select(Member).where(Member.username == "ktn")).one()
        s.expunge(ktn)
    upload = publish_file(
        live_hub.hub,
        other_clip,
        ItemFields(title="Upload"),
        kind="member_upload",
        source_member=ktn,
    ).id
    member = live_hub.login("ktn")
    now = dt.datetime.now(dt.UTC)
    sent = member.post(
        live_hub.api("/history"),
        json={
            "events": [
                {
                    "id": f"dl-{n:08d}",
                    "type": "download_completed",
                    "item_id": item,
                    "rendition": "broadcast",
                    "ended_at": now.isoformat(),
                }
                for n, item in enumerate((push, kept))
            ]
        },
        timeout=10,
    )
    assert sent.status_code == 200, sent.text
    agency = _agency(live_hub)

    def figures() -> tuple[int, int, int]:
        body = agency.get(live_hub.api("/stats"), timeout=10).json()
        return body["pushes"], body["uploads"], body["downloads"]

    assert figures() == (2, 1, 2)
    for item in (push, upload):
        r = agency.post(live_hub.api(f"/items/{item}/withdraw"), json={"reason": "x"}, timeout=10)
        assert r.status_code == 200
    assert figures() == (1, 0, 2)
    day = dt.datetime.combine(now.date(), dt.time(), dt.UTC)
    with live_hub.hub.db.session() as s:
        out = compute_stats(s, day, day + dt.timedelta(days=1))
    assert (out.pushes, out.uploads, out.uploading_members) == (1, 0, 0)
    assert out.summary.startswith("1 push, 2 downloads, 0 uploads")
    # the page says so where its figures are explained
    live_hub.member(*AGENCY, role="agency")
    page = parse(web_session(live_hub).get(live_hub.url + "/stats", timeout=30).text)
    assert (page.by_id["pushes"], page.by_id["uploads"]) == ("1", "0")
    assert page.by_id["withdrawn"] == (
        "Items the agency withdrew are counted neither as pushes nor as uploads; downloads of "
        "them stay counted."
    )


def test_migration_0008_keeps_the_items_at_revision_one_and_goes_down_and_up(
    tmp_path: Path, hub_db: str
) -> None:
    db = Database(hub_database_url(tmp_path))
    cfg = db.alembic_config()
    try:
        command.downgrade(cfg, "base")
        command.upgrade(cfg, "0007")
        with db.session() as s:
            s.execute(
                text(
                    "INSERT INTO items (id, seq, kind, title, slug, dateline, published_at,"
                    " category, region, country, language, priority, restrictions, script,"
                    " shotlist, duration, thumbnail_key) VALUES ('i1', 1, 'push', 'Floods', '',"
                    " '', :p, '', '', 'KE', 'en', 'routine', '', '', '', 1.0, '')"
                ),
                {"p": dt.datetime(2026, 12, 1) if hub_db == "sqlite" else dt.datetime.now(dt.UTC)},
            )
        db.migrate()
        with db.session() as s:
            item = s.get(Item, "i1")
            assert item is not None
            assert (item.revision, item.corrected_at, item.correction_note) == (1, None, "")
            assert (item.withdrawn_at, item.withdrawn_reason, item.change_seq) == (None, "", None)
            assert s.get(Counter, "item_change_seq") is not None
            shown = json.loads(load_items_json(s, ["i1"])["i1"])
            assert (shown["revision"], shown["withdrawn_at"], shown["correction_note"]) == (
                1,
                None,
                "",
            )
        command.downgrade(cfg, "0007")
        with db.engine.connect() as conn:
            assert "revision" not in {c["name"] for c in inspect(conn).get_columns("items")}
        command.upgrade(cfg, "head")
        with db.session() as s:
            assert s.scalar(select(Item.title)) == "Floods"
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, Base.metadata) == []
    finally:
        db.dispose()


def test_a_correction_takes_texts_at_their_limits(live_hub: LiveHub, clip: Path) -> None:
    """A script, a shot list and restrictions of 20,000 Arabic characters each, as JSON
    escapes them (6 bytes a character): past the 64 KiB of other calls' bodies."""
    item_id = live_hub.publish(clip, title="Floods")
    agency = _agency(live_hub)
    text_ = "ع" * 20_000
    body = {"script": text_, "shotlist": text_, "restrictions": text_, "note": "Arabic texts"}
    r = agency.patch(
        live_hub.api(f"/items/{item_id}"),
        data=json.dumps(body),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert r.status_code == 200, r.text[:300]
    assert r.json()["script"] == text_


def test_a_correction_refuses_unknown_fields_and_corrects_the_item_s_details(
    live_hub: LiveHub, clip: Path
) -> None:
    item_id = live_hub.publish(clip, title="Floods", country="KE", category="News")
    agency = _agency(live_hub)
    item = live_hub.api(f"/items/{item_id}")
    status, code, message = _error(agency.patch(item, json={"genre": "x", "note": "n"}, timeout=10))
    assert (status, code) == (422, "invalid_request")
    assert message == "genre: this request has no such field (nothing was done)"
    for body, words in (
        ({"language": "de", "note": "n"}, "language must be one of en, fr, ar"),
        ({"country": "Kenya", "note": "n"}, "country must be a two-letter code"),
        ({"country": "XX", "note": "n"}, "ISO 3166 two-letter code, e.g. KE, not 'XX'"),
        ({"category": "c" * 65, "note": "n"}, "The category is too long (65 characters"),
        ({"recorded_at": "1850-01-01", "note": "n"}, "recorded_at '1850-01-01' is before 1900."),
        ({"title": "New", "language": "de", "note": "n"}, "language must be one of"),
    ):
        status, code, message = _error(agency.patch(item, json=body, timeout=10))
        assert (status, code) == (422, "invalid_request") and words in message, (body, message)
    assert agency.get(item, timeout=10).json()["revision"] == 1

    r = agency.patch(item, json={"language": "ar", "note": "Arabic commentary"}, timeout=10)
    assert r.status_code == 200, r.text
    assert (r.json()["language"], r.json()["revision"]) == ("ar", 2)
    r = agency.patch(
        item,
        json={
            "country": "ug",
            "category": "Weather",
            "region": "East Africa",
            "recorded_at": "2026-11-20T10:30+02:00",
            "note": "Uganda, the day before",
        },
        timeout=10,
    )
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["country"], got["category"], got["region"], got["revision"]) == (
        "UG",
        "Weather",
        "East Africa",
        3,
    )
    assert dt.datetime.fromisoformat(got["recorded_at"]) == dt.datetime(
        2026, 11, 20, 8, 30, tzinfo=dt.UTC
    )
    changes = agency.get(live_hub.api("/items/changes"), timeout=10).json()["items"]
    assert changes == [got]
    # a blank country, region or recorded date clears it
    r = agency.patch(
        item, json={"country": "", "recorded_at": "", "note": "Place and date unknown"}, timeout=10
    )
    assert r.status_code == 200, r.text
    assert (r.json()["country"], r.json()["recorded_at"]) == ("", None)
