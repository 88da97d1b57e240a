"""The hub's JSON API against a real server on loopback: sign-in, feed, files, SSE, history,
statistics and the isolation between members."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import uuid
from pathlib import Path

import pytest
import requests
from sqlalchemy import update

from alu_hub import api
from alu_hub.models import Member, Token
from tests.support.livehub import database_bytes
from tests.support.waiting import wait_until

from .conftest import LiveHub, start_hub


def test_sign_in_gives_token_and_member(live_hub: LiveHub) -> None:
    live_hub.member("ktn", "s3cret-pw", country="KE")
    r = requests.post(
        live_hub.api("/session"),
        json={"username": "ktn", "password": "s3cret-pw", "device": "newsroom-1"},
        timeout=10,
    )
    assert r.status_code == 200
    body = r.json()
    assert len(body["token"]) >= 40
    assert body["member"] == {
        "username": "ktn",
        "display_name": "ktn",
        "country": "KE",
        "role": "member",
    }
    me = requests.get(
        live_hub.api("/me"), headers={"Authorization": f"Bearer {body['token']}"}, timeout=10
    )
    assert me.status_code == 200 and me.json()["username"] == "ktn"


def test_the_sign_in_answer_names_the_hub_by_an_identity_made_once(
    live_hub: LiveHub, tmp_path: Path
) -> None:
    """A workstation told "same hub, new address" checks the hub's identity before it moves
    its queue there: the id stays the same across a restart (a new migrate) and differs
    between two hubs."""
    live_hub.member("ktn", "s3cret-pw")

    def hub_id(hub: LiveHub) -> str:
        r = requests.post(
            hub.api("/session"), json={"username": "ktn", "password": "s3cret-pw"}, timeout=10
        )
        assert r.status_code == 200
        return str(r.json()["hub_id"])

    first = hub_id(live_hub)
    assert len(first) == 32 and first == live_hub.hub.db.hub_id()
    live_hub.hub.db.migrate()  # (a restart runs it again: the id is kept)
    assert hub_id(live_hub) == first
    other = start_hub(tmp_path / "other")
    try:
        other.member("ktn", "s3cret-pw")
        assert hub_id(other) != first
    finally:
        other.server.stop()
        other.hub.db.dispose()


def test_wrong_user_and_wrong_password_answer_alike(live_hub: LiveHub) -> None:
    live_hub.member("ktn", "s3cret-pw")
    wrong_pw = requests.post(
        live_hub.api("/session"), json={"username": "ktn", "password": "nope"}, timeout=10
    )
    no_user = requests.post(
        live_hub.api("/session"), json={"username": "nobody", "password": "nope"}, timeout=10
    )
    assert wrong_pw.status_code == no_user.status_code == 401
    assert wrong_pw.json() == no_user.json()
    assert wrong_pw.json()["error"]["code"] == "bad_credentials"


def test_token_is_stored_hashed(live_hub: LiveHub) -> None:
    live_hub.login("ktn")
    raw = live_hub.tokens["ktn"]
    db_bytes = database_bytes(live_hub.hub)
    assert raw.encode() not in db_bytes
    assert hashlib.sha256(raw.encode()).hexdigest().encode() in db_bytes


def test_every_endpoint_needs_a_token(live_hub: LiveHub) -> None:
    for method, path in [
        ("GET", "/items"),
        ("GET", "/items/abc"),
        ("GET", "/items/abc/renditions/broadcast"),
        ("HEAD", "/items/abc/renditions/broadcast"),
        ("GET", "/items/abc/thumbnail"),
        ("GET", "/events"),
        ("GET", "/history"),
        ("POST", "/history"),
        ("GET", "/stats"),
        ("GET", "/me"),
        ("DELETE", "/session"),
        ("OPTIONS", "/uploads/"),
        ("POST", "/uploads/"),
    ]:
        r = requests.request(
            method, live_hub.api(path), headers={"Tus-Resumable": "1.0.0"}, timeout=10
        )
        assert r.status_code == 401, (method, path, r.status_code)
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        if method != "HEAD":
            assert r.json()["error"]["code"] == "no_token"


def test_bad_expired_and_revoked_tokens(live_hub: LiveHub) -> None:
    s = live_hub.login("ktn")
    bad = requests.get(
        live_hub.api("/items"), headers={"Authorization": "Bearer not-a-token"}, timeout=10
    )
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "bad_token"

    with live_hub.hub.db.session() as db:
        db.execute(
            update(Token).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        )
    live_hub.hub.tokens.clear()  # changed behind the hub's back: see the token-cache test
    expired = s.get(live_hub.api("/items"), timeout=10)
    assert expired.status_code == 401 and expired.json()["error"]["code"] == "expired_token"

    s2 = live_hub.login("ktn")
    assert s2.get(live_hub.api("/items"), timeout=10).status_code == 200
    assert s2.delete(live_hub.api("/session"), timeout=10).status_code == 204
    assert s2.get(live_hub.api("/items"), timeout=10).json()["error"]["code"] == "bad_token"


def test_malformed_json_and_invalid_fields(live_hub: LiveHub) -> None:
    r = requests.post(
        live_hub.api("/session"),
        data=b"{not json",
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "malformed_json"
    r = requests.post(live_hub.api("/session"), json={"username": "x"}, timeout=10)
    assert r.status_code == 422 and "password" in r.json()["error"]["message"]


def test_feed_pages_in_seq_order(live_hub: LiveHub, clip: Path) -> None:
    ids = [live_hub.publish(clip, title=f"Item {n}") for n in range(5)]
    s = live_hub.login("ktn")
    seen: list[str] = []
    after = 0
    while True:
        page = s.get(live_hub.api("/items"), params={"after": after, "limit": 2}, timeout=10).json()
        seen += [i["id"] for i in page["items"]]
        seqs = [i["seq"] for i in page["items"]]
        assert seqs == sorted(seqs) and all(q > after for q in seqs)
        after = page["next"]
        if not page["more"]:
            break
    assert seen == ids
    empty = s.get(live_hub.api("/items"), params={"after": after}, timeout=10).json()
    # an empty page says where the feed ends (a client past it follows a restored hub)
    assert empty == {"items": [], "next": after, "more": False, "last": after}
    past = s.get(live_hub.api("/items"), params={"after": after + 7}, timeout=10).json()
    assert past == {"items": [], "next": after + 7, "more": False, "last": after}


def test_item_has_all_fields_and_renditions(live_hub: LiveHub, clip: Path) -> None:
    item_id = live_hub.publish(
        clip,
        title="Inondations à Dakar",
        slug="SENEGAL-FLOODS",
        dateline="DAKAR, Sénégal",
        language="fr",
        priority="urgent",
        category="environment",
        region="West Africa",
        country="SN",
        restrictions="No access Senegal",
        script="Des pluies torrentielles…",
        shotlist="1. Vue générale",
    )
    s = live_hub.login("ktn")
    item = s.get(live_hub.api(f"/items/{item_id}"), timeout=10).json()
    assert item["kind"] == "push" and item["language"] == "fr" and item["priority"] == "urgent"
    assert item["title"] == "Inondations à Dakar" and item["dateline"] == "DAKAR, Sénégal"
    assert 0.8 < item["duration"] < 1.3
    names = {r["name"]: r for r in item["renditions"]}
    assert set(names) == {"broadcast", "proxy"}
    b = names["broadcast"]
    assert b["sha256"] == hashlib.sha256(clip.read_bytes()).hexdigest()
    assert b["size"] == clip.stat().st_size and (b["width"], b["height"]) == (320, 240)
    assert names["proxy"]["mime"] == "video/mp4" and names["proxy"]["height"] <= 360
    for r in item["renditions"]:
        got = s.get(r["url"], timeout=10)
        assert got.status_code == 200
        assert (
            hashlib.sha256(got.content).hexdigest() == r["sha256"] and len(got.content) == r["size"]
        )
    thumb = s.get(item["thumbnail_url"], timeout=10)
    assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"
    assert thumb.headers["Content-Type"] == "image/jpeg"


def test_unknown_item_and_rendition(live_hub: LiveHub, clip: Path) -> None:
    s = live_hub.login("ktn")
    r = s.get(live_hub.api("/items/doesnotexist"), timeout=10)
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_item"
    item_id = live_hub.publish(clip)
    r = s.get(live_hub.api(f"/items/{item_id}/renditions/master"), timeout=10)
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_rendition"


def test_rendition_range_if_range_and_416(live_hub: LiveHub, clip: Path) -> None:
    item_id = live_hub.publish(clip)
    s = live_hub.login("ktn")
    url = live_hub.api(f"/items/{item_id}/renditions/broadcast")
    data = clip.read_bytes()
    head = s.head(url, timeout=10)
    assert head.status_code == 200 and head.headers["Accept-Ranges"] == "bytes"
    assert int(head.headers["Content-Length"]) == len(data)
    etag = head.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")

    first = s.get(url, headers={"Range": "bytes=0-999"}, timeout=10)
    assert first.status_code == 206 and first.content == data[:1000]
    assert first.headers["Content-Range"] == f"bytes 0-999/{len(data)}"
    rest = s.get(url, headers={"Range": "bytes=1000-", "If-Range": etag}, timeout=10)
    assert rest.status_code == 206 and first.content + rest.content == data
    stale = s.get(url, headers={"Range": "bytes=1000-", "If-Range": '"stale"'}, timeout=10)
    assert stale.status_code == 200 and stale.content == data
    beyond = s.get(url, headers={"Range": f"bytes={len(data)}-"}, timeout=10)
    assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{len(data)}"


def test_signed_link_works_without_token_until_it_expires(live_hub: LiveHub, clip: Path) -> None:
    item_id = live_hub.publish(clip)
    s = live_hub.login("ktn")
    link = s.post(live_hub.api(f"/items/{item_id}/renditions/proxy/link"), timeout=10).json()
    got = requests.get(link["url"], timeout=10)
    assert got.status_code == 200 and got.content[4:8] == b"ftyp"
    tampered = link["url"].replace("renditions/proxy", "renditions/broadcast")
    assert requests.get(tampered, timeout=10).status_code == 401
    expired = link["url"].replace("exp=", "exp=1").split("&sig")[0] + "&sig=00"
    assert requests.get(expired, timeout=10).json()["error"]["code"] == "bad_link"


def test_events_stream_delivers_a_new_item(live_hub: LiveHub, clip: Path) -> None:
    s = live_hub.login("ktn")
    received: list[dict[str, object]] = []
    connected = threading.Event()
    done = threading.Event()

    def listen() -> None:
        with s.get(live_hub.api("/events"), stream=True, timeout=30) as r:
            assert r.headers["Content-Type"].startswith("text/event-stream")
            event: dict[str, str] = {}
            for line in r.iter_lines(decode_unicode=True):
                if line.startswith("retry:"):
                    connected.set()
                elif line.startswith(("id:", "event:", "data:")):
                    key, _, value = line.partition(":")
                    event[key] = value.strip()
                elif line == "" and "data" in event:
                    received.append(
                        {
                            "id": event["id"],
                            "event": event["event"],
                            "item": json.loads(event["data"]),
                        }
                    )
                    done.set()
                    return

    t = threading.Thread(target=listen, daemon=True)
    t.start()
    assert connected.wait(10)
    item_id = live_hub.publish(clip, title="Breaking")
    assert done.wait(10), "no SSE event within 10 s of publishing"
    assert received[0]["event"] == "item"
    item = received[0]["item"]
    assert isinstance(item, dict) and item["id"] == item_id and item["title"] == "Breaking"
    assert received[0]["id"] == str(item["seq"])
    t.join(5)


def test_events_resume_from_last_event_id(live_hub: LiveHub, clip: Path) -> None:
    first = live_hub.publish(clip, title="one")
    second = live_hub.publish(clip, title="two")
    s = live_hub.login("ktn")
    items = s.get(live_hub.api("/items"), timeout=10).json()["items"]
    seq_first = next(i["seq"] for i in items if i["id"] == first)
    with s.get(
        live_hub.api("/events"), headers={"Last-Event-ID": str(seq_first)}, stream=True, timeout=10
    ) as r:
        for line in r.iter_lines(decode_unicode=True):
            if line.startswith("data:"):
                assert json.loads(line[5:])["id"] == second
                break
        else:
            pytest.fail("the stream ended with no event after Last-Event-ID")


def test_a_stream_asked_for_while_the_hub_shuts_down_is_told_to_come_back(
    live_hub: LiveHub,
) -> None:
    """Between the streams' end and the server's, a new stream ended at once: clients take
    streams that end at once for a proxy cutting them and poll for minutes. A 503 says later."""
    s = live_hub.login("ktn")
    live_hub.hub.broker.close()  # what RunningHub.stop does first
    r = s.get(live_hub.api("/events"), stream=True, timeout=10)
    assert r.status_code == 503
    assert r.headers["Retry-After"] == "5"
    assert r.json()["error"]["code"] == "restarting"
    r.close()


class _Stream:
    """``GET /events`` read on a thread: the items it brought, and whether it has ended."""

    def __init__(self, live: LiveHub, s: requests.Session) -> None:
        self.items: list[str] = []
        self.connected = threading.Event()
        self.ended = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(live, s), daemon=True)
        self._thread.start()
        assert self.connected.wait(10), "the stream did not open"

    def _read(self, live: LiveHub, s: requests.Session) -> None:
        try:
            with s.get(live.api("/events"), stream=True, timeout=60) as r:
                for line in r.iter_lines(decode_unicode=True):
                    if line.startswith("retry:"):
                        self.connected.set()
                    elif line.startswith("data:"):
                        self.items.append(json.loads(line[5:])["title"])
        finally:
            self.ended.set()


def _end_sign_in(live: LiveHub, s: requests.Session, how: str) -> None:
    """End ktn's sign-in: itself, or as ``alu-hub member signout|disable`` does from another
    process (in the database, unseen by this process's token cache)."""
    if how == "sign-out":
        assert s.delete(live.api("/session"), timeout=10).status_code == 204
        return
    with live.hub.db.session() as db:
        if how == "member signout":
            db.execute(update(Token).values(revoked_at=dt.datetime.now(dt.UTC)))
        else:
            db.execute(update(Member).where(Member.username == "ktn").values(active=False))


@pytest.mark.parametrize("how", ["sign-out", "member signout", "member disable"])
def test_an_open_stream_sends_nothing_once_its_sign_in_has_ended(
    live_hub: LiveHub, clip: Path, how: str
) -> None:
    """A stream opened before the sign-in ended pushed every later item's text (title, script,
    shot list) to a stolen or disabled workstation for as long as the hub ran: an item
    published right after the end, before the token cache knows, does not go out, and the
    stream ends."""
    s = live_hub.login("ktn")
    stream = _Stream(live_hub, s)
    _end_sign_in(live_hub, s, how)
    live_hub.publish(clip, title="Embargoed")
    assert stream.ended.wait(10), "the stream went on after the sign-in ended"
    assert stream.items == []


@pytest.mark.parametrize("how", ["sign-out", "member signout", "member disable"])
def test_a_quiet_stream_ends_within_seconds_of_its_sign_in(live_hub: LiveHub, how: str) -> None:
    """With no item to send, a stream still ends soon after its sign-in did (a revocation by
    another process: within the token cache's time and a second), not at the next item."""
    # the cache's time shortened (5 s in the field, and each case waited it out)
    live_hub.hub.tokens.ttl_s = 1.0
    s = live_hub.login("ktn")
    stream = _Stream(live_hub, s)
    _end_sign_in(live_hub, s, how)
    assert stream.ended.wait(live_hub.hub.tokens.ttl_s + api.SIGN_IN_CHECK_S + 3)


def test_a_stream_goes_on_while_its_sign_in_holds(live_hub: LiveHub, clip: Path) -> None:
    """Another member's sign-out ends only that member's stream."""
    ktn = live_hub.login("ktn")
    rts = live_hub.login("rts")
    kept, ended = _Stream(live_hub, ktn), _Stream(live_hub, rts)
    _end_sign_in(live_hub, rts, "sign-out")
    assert ended.ended.wait(10)
    live_hub.publish(clip, title="Still here")
    wait_until(lambda: kept.items == ["Still here"], what="the item on the stream signed in")
    assert not kept.ended.is_set()


def _event(kind: str = "download_completed", **kw: object) -> dict[str, object]:
    now = dt.datetime.now(dt.UTC)
    base: dict[str, object] = {
        "id": str(uuid.uuid4()),
        "type": kind,
        "item_id": "x" * 32,
        "rendition": "broadcast",
        "bytes": 1000,
        "started_at": (now - dt.timedelta(seconds=30)).isoformat(),
        "ended_at": now.isoformat(),
        "device": "newsroom-1",
    }
    base.update(kw)
    return base


def test_history_is_idempotent_and_private(live_hub: LiveHub) -> None:
    ktn = live_hub.login("ktn")
    rts = live_hub.login("rts")
    events = [_event() for _ in range(3)]
    r1 = ktn.post(live_hub.api("/history"), json={"events": events}, timeout=10)
    assert r1.status_code == 200 and r1.json() == {"accepted": 3, "duplicates": 0}
    r2 = ktn.post(live_hub.api("/history"), json={"events": [*events, _event()]}, timeout=10)
    assert r2.json() == {"accepted": 1, "duplicates": 3}

    mine = ktn.get(live_hub.api("/history"), timeout=10).json()
    assert [e["id"] for e in mine["events"]] == [e["id"] for e in events] + [
        mine["events"][3]["id"]
    ]
    assert len(mine["events"]) == 4
    page = ktn.get(
        live_hub.api("/history"), params={"after": mine["events"][1]["seq"]}, timeout=10
    ).json()
    assert len(page["events"]) == 2
    assert rts.get(live_hub.api("/history"), timeout=10).json()["events"] == []
    # another member's event of the same id is its own: stored for it, ktn's untouched (a
    # duplicate across members let one member drop another's events and probe for its ids)
    theirs = {**events[0], "type": "upload_completed", "device": "rts-desk"}
    r3 = rts.post(live_hub.api("/history"), json={"events": [theirs]}, timeout=10)
    assert r3.json() == {"accepted": 1, "duplicates": 0}
    r4 = rts.post(live_hub.api("/history"), json={"events": [theirs]}, timeout=10)
    assert r4.json() == {"accepted": 0, "duplicates": 1}
    [stored] = rts.get(live_hub.api("/history"), timeout=10).json()["events"]
    assert (stored["id"], stored["type"], stored["device"]) == (
        events[0]["id"],
        "upload_completed",
        "rts-desk",
    )
    again = ktn.get(live_hub.api("/history"), timeout=10).json()["events"]
    assert again == mine["events"]


def test_history_gives_back_the_workstation_each_event_came_from(live_hub: LiveHub) -> None:
    """``POST /history`` stored each event's workstation id (hub migration 0010) and ``GET``
    left it out: a member's other workstation could not tell its own events from another's
    of the same host name. An event sent without one (an older client) reads null."""
    ktn = live_hub.login("ktn")
    sent = [_event(workstation="0f3a9c2e5b7d4e1f"), _event(), _event(workstation="desk_2-b")]
    r = ktn.post(live_hub.api("/history"), json={"events": sent}, timeout=10)
    assert r.json() == {"accepted": 3, "duplicates": 0}
    got = ktn.get(live_hub.api("/history"), timeout=10).json()["events"]
    assert [(e["id"], e["workstation"]) for e in got] == [
        (sent[0]["id"], "0f3a9c2e5b7d4e1f"),
        (sent[1]["id"], None),
        (sent[2]["id"], "desk_2-b"),
    ]
    # the contract says so: an optional string, null allowed
    spec = requests.get(live_hub.url + "/openapi.json", timeout=10).json()
    field = spec["components"]["schemas"]["HistoryEventOut"]["properties"]["workstation"]
    assert {"type": "string"} in field["anyOf"] and {"type": "null"} in field["anyOf"]


def test_history_rejects_bad_events(live_hub: LiveHub) -> None:
    s = live_hub.login("ktn")
    r = s.post(live_hub.api("/history"), json={"events": [_event(id="../../x")]}, timeout=10)
    assert r.status_code == 422
    r = s.post(live_hub.api("/history"), json={"events": [_event(bytes=-1)]}, timeout=10)
    assert r.status_code == 422
    r = s.post(
        live_hub.api("/history"), json={"events": [_event() for _ in range(1001)]}, timeout=10
    )
    assert r.status_code == 422


def test_history_corrects_workstation_clock(live_hub: LiveHub) -> None:
    s = live_hub.login("ktn")
    skewed_now = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)  # workstation a day ahead
    ev = _event(
        ended_at=skewed_now.isoformat(),
        started_at=(skewed_now - dt.timedelta(seconds=5)).isoformat(),
    )
    s.post(
        live_hub.api("/history"),
        json={"events": [ev], "sent_at": skewed_now.isoformat()},
        timeout=10,
    )
    stored = s.get(live_hub.api("/history"), timeout=10).json()["events"][0]
    occurred = dt.datetime.fromisoformat(stored["occurred_at"])
    assert abs((occurred - dt.datetime.now(dt.UTC)).total_seconds()) < 60


def test_history_leaves_a_right_clocks_times_alone(live_hub: LiveHub) -> None:
    # the gap between sent_at and the hub's clock is also the request's way here: with clocks
    # that agree, an event ended at 23:59:59 on a month's last day was moved into the next
    # month by a batch that took a few seconds to arrive
    s = live_hub.login("ktn")
    ended = dt.datetime(2026, 11, 30, 23, 59, 59, tzinfo=dt.UTC)
    ev = _event(
        ended_at=ended.isoformat(), started_at=(ended - dt.timedelta(seconds=5)).isoformat()
    )
    sent = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30)  # 30 s on the way
    r = s.post(
        live_hub.api("/history"), json={"events": [ev], "sent_at": sent.isoformat()}, timeout=10
    )
    assert r.status_code == 200
    [stored] = [
        e
        for e in s.get(live_hub.api("/history"), timeout=10).json()["events"]
        if e["id"] == ev["id"]
    ]
    assert dt.datetime.fromisoformat(stored["occurred_at"]) == ended


def test_stats_match_the_events_sent(live_hub: LiveHub, clip: Path) -> None:
    pushes = [live_hub.publish(clip, title=f"push {n}") for n in range(3)]
    ktn = live_hub.login("ktn")
    rts = live_hub.login("rts")
    agency = live_hub.login("chief")
    with live_hub.hub.db.session() as db:
        from sqlalchemy import select

        from alu_hub.models import Member

        db.execute(update(Member).where(Member.username == "chief").values(role="agency"))
        ktn_member = db.execute(select(Member).where(Member.username == "ktn")).scalar_one()
        db.expunge(ktn_member)
    from alu_hub.publish import ItemFields, publish_file

    footage = publish_file(
        live_hub.hub,
        clip,
        ItemFields(title="ktn footage"),
        kind="member_upload",
        source_member=ktn_member,
    )
    # four items; the last again as its proxy and once more: an item counts once (a preview,
    # the broadcast file, the same again after a deletion by hand counted 3), its bytes all
    items = [*pushes, footage.id]
    ktn.post(
        live_hub.api("/history"),
        json={
            "events": [_event(bytes=100, item_id=i) for i in items]
            + [_event(bytes=10, item_id=items[-1], rendition="proxy")]
            + [_event(bytes=100, item_id=items[-1])]
        },
        timeout=10,
    )
    rts.post(
        live_hub.api("/history"),
        json={"events": [_event(bytes=50, item_id=pushes[0]), _event("upload_completed")]},
        timeout=10,
    )

    today = dt.datetime.now(dt.UTC).date().isoformat()
    st = agency.get(live_hub.api("/stats"), params={"from": today, "to": today}, timeout=10).json()
    assert (st["pushes"], st["downloads"], st["uploads"], st["uploading_members"]) == (3, 5, 1, 1)
    assert st["summary"] == "3 pushes, 5 downloads, 1 upload by 1 member"
    rows = {r["username"]: r for r in st["members"]}
    assert rows["ktn"]["downloads"] == 4 and rows["ktn"]["bytes_downloaded"] == 510
    assert rows["ktn"]["uploads"] == 1 and rows["ktn"]["meets_pledge"] is True
    assert rows["rts"]["downloads"] == 1 and rows["rts"]["meets_pledge"] is False
    # a member sees the totals and only its own row
    own = rts.get(live_hub.api("/stats"), params={"from": today, "to": today}, timeout=10).json()
    assert own["downloads"] == 5 and [r["username"] for r in own["members"]] == ["rts"]
    # another period is empty
    old = agency.get(
        live_hub.api("/stats"), params={"from": "2020-01-01", "to": "2020-01-31"}, timeout=10
    ).json()
    assert (old["pushes"], old["downloads"], old["uploads"]) == (0, 0, 0)
    bad = agency.get(live_hub.api("/stats"), params={"from": "yesterday"}, timeout=10)
    assert bad.status_code == 422


def test_openapi_is_served(live_hub: LiveHub) -> None:
    spec = requests.get(f"{live_hub.url}/openapi.json", timeout=10).json()
    for path in (
        "/api/v1/session",
        "/api/v1/items",
        "/api/v1/items/{item_id}",
        "/api/v1/events",
        "/api/v1/history",
        "/api/v1/stats",
    ):
        assert path in spec["paths"], path


def test_head_answers_wherever_get_does(live_hub: LiveHub, clip: Path) -> None:
    """RFC 9110: HEAD is GET without the body. Health checks and link checkers send it to JSON
    routes (405 before); the headers are GET's, no body byte follows on the kept-alive
    connection, and an event stream's HEAD does not stay open."""
    import http.client
    from urllib.parse import urlsplit

    item_id = live_hub.publish(clip)
    live_hub.login("ktn")
    auth = {"Authorization": f"Bearer {live_hub.tokens['ktn']}"}
    base = urlsplit(live_hub.api("/me"))
    conn = http.client.HTTPConnection(base.hostname or "", base.port, timeout=10)

    def target(path: str) -> str:
        url = urlsplit(live_hub.api(path))
        return url.path + (f"?{url.query}" if url.query else "")

    try:
        for path in ("/me", "/items?limit=5", f"/items/{item_id}", "/history"):
            conn.request("HEAD", target(path), headers=auth)
            head = conn.getresponse()
            assert head.status == 200, (path, head.status, head.read())
            assert head.read() == b""
            # the same connection: a stray body byte would break the next answer
            conn.request("GET", target(path), headers=auth)
            get = conn.getresponse()
            body = get.read()
            assert get.status == 200 and body.startswith(b"{"), (path, body[:80])
            assert head.getheader("Content-Type") == get.getheader("Content-Type")
            assert head.getheader("Content-Length") == str(len(body))
        conn.request("HEAD", target("/events"), headers=auth)
        stream = conn.getresponse()
        assert stream.status == 200 and stream.read() == b""
        assert (stream.getheader("Content-Type") or "").startswith("text/event-stream")
        conn.request("HEAD", target("/me"))  # and without the token: GET's 401
        anonymous = conn.getresponse()
        assert anonymous.status == 401 and anonymous.read() == b""
        # a path whose only route is POST still says which methods it takes
        conn.request("HEAD", target("/session"))
        refused = conn.getresponse()
        refused.read()
        assert refused.status == 405 and "POST" in (refused.getheader("Allow") or "")
    finally:
        conn.close()
