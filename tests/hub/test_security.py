"""The hub's defences (issue 6, "The hub") against real hubs on loopback: sign-in rate limiting
kept in the database, bounded request sizes, metadata checked before any byte is sent, a token
on every call, items that cannot change and are never half visible, and the start-up clean-up.

Isolation between members (history, uploads), token storage and expiry, and the tus locks are
covered in test_api.py and test_tus.py; this file adds what those do not.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import func, select

from alu_hub.app import build_hub
from alu_hub.demo import ensure_member
from alu_hub.models import SignInAttempt, Upload, utcnow
from alu_hub.publish import ItemFields, commit, prepare
from tests.support.livehub import database_bytes, hub_settings
from tests.support.waiting import wait_until

from .conftest import LiveHub, start_hub

pytestmark = pytest.mark.timeout(120)

TUS = {"Tus-Resumable": "1.0.0"}
OFFSET_STREAM = "application/offset+octet-stream"

StartHub = Callable[..., LiveHub]


@pytest.fixture
def hubs(tmp_path: Path) -> Iterator[StartHub]:
    """Start hubs with their own settings: ``hubs("a", **settings)``; the same folder twice is
    two replicas on one database (or a restart, once the first is stopped with ``stop``)."""
    started: list[LiveHub] = []

    def start(folder: str = "a", **settings: Any) -> LiveHub:
        h = start_hub(tmp_path / folder, **settings)
        started.append(h)
        return h

    yield start
    for h in reversed(started):
        stop(h)


def stop(h: LiveHub) -> None:
    h.server.stop()
    h.hub.db.dispose()


def sign_in(
    h: LiveHub, username: str, password: str, *, forwarded_for: str | None = None
) -> requests.Response:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return requests.post(
        h.api("/session"),
        json={"username": username, "password": password, "device": "pytest"},
        headers=headers,
        timeout=10,
    )


def codes(responses: list[requests.Response]) -> list[int]:
    return [r.status_code for r in responses]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def encode_meta(meta: dict[str, str]) -> str:
    return ",".join(f"{k} {b64(v)}" for k, v in meta.items())


def read_response(sock: socket.socket) -> tuple[int, dict[str, Any]]:
    """The status and JSON body of the answer on a raw socket (the hub closes after it)."""
    got = b""
    while True:
        try:
            more = sock.recv(65536)
        except ConnectionResetError:
            break
        except TimeoutError:
            raise AssertionError("no answer: the hub waits for the end of the request") from None
        if not more:
            break
        got += more
    head, _, body = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 "), got[:200]
    status = int(head.split()[1])
    return status, json.loads(body)


def send_without_end(h: LiveHub, head: str, piece: bytes, total: int) -> tuple[int, dict[str, Any]]:
    """Send ``head`` then ``piece`` after ``piece`` (``total`` bytes) and never the end of the
    request: a hub that read the whole request before answering would never answer."""
    sock = socket.create_connection(("127.0.0.1", h.server.port), timeout=20)
    try:
        sock.sendall(head.encode())
        sent = 0
        try:
            while sent < total:
                sock.sendall(piece)
                sent += len(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass  # it answered and closed while we were still sending
        return read_response(sock)
    finally:
        sock.close()


# --- sign-in rate limiting --------------------------------------------------------------------


def test_failed_sign_ins_are_limited_per_user_name_the_same_for_any_name(hubs: StartHub) -> None:
    h = hubs(signin_max_failures_per_user=3, signin_max_failures_per_address=100)
    h.member("ktn", "right-pw")
    h.member("rts", "rts-pw")
    ghost = "no-such-user-7f3a"
    for name in ("ktn", ghost):
        assert codes([sign_in(h, name, "wrong") for _ in range(3)]) == [401, 401, 401]
    blocked = {name: sign_in(h, name, "wrong") for name in ("ktn", ghost)}
    for r in blocked.values():
        assert r.status_code == 429
        assert r.json()["error"]["code"] == "too_many_sign_ins"
        assert 1 <= int(r.headers["Retry-After"]) <= h.hub.settings.signin_window_s
    # no enumeration: an existing user and a made-up one get the same answer
    assert blocked["ktn"].json() == blocked[ghost].json()
    # while blocked, even the right password is not looked at; the case of the name is no way out
    assert sign_in(h, "ktn", "right-pw").status_code == 429
    assert sign_in(h, "KTN", "right-pw").status_code == 429
    # the limit is per name: another member at the same address signs in
    assert sign_in(h, "rts", "rts-pw").status_code == 200
    # names are counted by digest: what was typed is not kept (it may be a password)
    db_bytes = database_bytes(h.hub)
    assert ghost.encode() not in db_bytes


def test_a_made_up_name_is_verified_against_a_hash_made_as_the_hub_started(
    hubs: StartHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (made once per process, no longer at import): a made-up name costs a real verification
    # (no enumeration by timing), and the first one no hash more (it would take twice as long)
    from argon2 import PasswordHasher

    from alu_hub import auth

    auth._dummy_hash.cache_clear()  # as in a process that has served nothing yet
    h = hubs("a")
    made: list[str] = []
    verified: list[str] = []
    real_hash, real_verify = PasswordHasher.hash, PasswordHasher.verify

    def record_hash(self: PasswordHasher, *args: Any, **kw: Any) -> str:
        made.append("hash")
        return real_hash(self, *args, **kw)

    def record_verify(self: PasswordHasher, stored: str, password: str) -> bool:
        verified.append(stored)
        return real_verify(self, stored, password)

    monkeypatch.setattr(PasswordHasher, "hash", record_hash)
    monkeypatch.setattr(PasswordHasher, "verify", record_verify)
    assert sign_in(h, "nobody-by-this-name", "a-guess").status_code == 401
    assert made == []
    assert len(verified) == 1 and verified[0].startswith("$argon2id$")
    assert not auth._hasher.check_needs_rehash(verified[0])  # the cost of a member's hash


def test_the_limit_lives_in_the_database_for_every_replica_and_ends_with_the_window(
    hubs: StartHub,
) -> None:
    limits = {"signin_max_failures_per_user": 2, "signin_max_failures_per_address": 100}
    a = hubs("shared", **limits)
    a.member("ktn", "right-pw")
    assert codes([sign_in(a, "ktn", "wrong") for _ in range(2)]) == [401, 401]
    assert sign_in(a, "someone-else", "wrong").status_code == 401
    b = hubs("shared", **limits)  # a second replica on the same database
    assert sign_in(b, "ktn", "right-pw").status_code == 429
    assert sign_in(a, "ktn", "right-pw").status_code == 429
    # the window passes: the attempts are made older than it
    window = dt.timedelta(seconds=a.hub.settings.signin_window_s + 1)
    with a.hub.db.session() as s:
        for row in s.scalars(select(SignInAttempt)):
            row.at = row.at - window
    assert sign_in(b, "ktn", "right-pw").status_code == 200
    # old attempts were pruned (someone-else's too), the success left nothing behind
    with a.hub.db.session() as s:
        assert s.scalar(select(func.count()).select_from(SignInAttempt)) == 0


def test_a_success_clears_the_user_name_not_the_address(hubs: StartHub) -> None:
    h = hubs(signin_max_failures_per_user=3, signin_max_failures_per_address=4)
    h.member("ktn", "right-pw")
    h.member("rts", "rts-pw")
    passwords = ["wrong", "wrong", "right-pw", "wrong", "wrong"]
    # without the reset the fifth would be the user name's fourth failure in the window: 429
    assert codes([sign_in(h, "ktn", pw) for pw in passwords]) == [401, 401, 200, 401, 401]
    # four failures from this address, whoever signs in next from it waits
    r = sign_in(h, "rts", "rts-pw")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1


def test_forwarded_addresses_count_only_from_trusted_proxies(hubs: StartHub) -> None:
    limits = {"signin_max_failures_per_user": 100, "signin_max_failures_per_address": 3}
    # the default: a proxy on loopback (nginx on the same machine) is trusted
    behind = hubs("behind", **limits)
    client = "198.51.100.7"
    for n in range(3):
        assert sign_in(behind, f"user{n}", "wrong", forwarded_for=client).status_code == 401
    assert sign_in(behind, "user9", "wrong", forwarded_for=client).status_code == 429
    assert sign_in(behind, "user9", "wrong", forwarded_for="198.51.100.8").status_code == 401
    # an address the client writes itself comes first: the proxy appends the real one
    spoofed = f"203.0.113.1, {client}"
    assert sign_in(behind, "user9", "wrong", forwarded_for=spoofed).status_code == 429
    # IPv6: one /64 is one subscriber
    for host in ("2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"):
        assert sign_in(behind, "user9", "wrong", forwarded_for=host).status_code == 401
    assert sign_in(behind, "user9", "wrong", forwarded_for="2001:db8:1:2::99").status_code == 429
    assert sign_in(behind, "user9", "wrong", forwarded_for="2001:db8:1:3::1").status_code == 401

    # no trusted proxy: X-Forwarded-For is the client's own words, and ignored
    direct = hubs("direct", trusted_proxies=(), **limits)
    for n in range(3):
        fake = f"198.51.100.{n}"
        assert sign_in(direct, f"user{n}", "wrong", forwarded_for=fake).status_code == 401
    assert sign_in(direct, "user9", "wrong", forwarded_for="198.51.100.200").status_code == 429


# --- request sizes ----------------------------------------------------------------------------


def _event(n: int, detail_chars: int = 0) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    return {
        "id": (f"e{n:07d}-" + uuid.uuid4().hex * 2)[:64],  # the longest id
        "type": "download_completed",
        "item_id": "x" * 32,
        "rendition": "broadcast",
        "bytes": 10**12,
        "started_at": (now - dt.timedelta(minutes=5)).isoformat(),
        "ended_at": now.isoformat(),
        "device": "d" * 200,
        "detail": {"note": "n" * detail_chars},
    }


def test_json_bodies_are_bounded_before_they_are_read(live_hub: LiveHub) -> None:
    settings = live_hub.hub.settings
    ktn = live_hub.login("ktn")
    limit = settings.max_signin_body_bytes
    # a declared length over the limit: refused at once
    big = json.dumps({"username": "ktn", "password": "x" * limit}).encode()
    r = requests.post(
        live_hub.api("/session"),
        data=big,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "body_too_large" and str(limit) in r.text
    # no length at all (chunked) and no end: answered while the client is still sending
    host = f"127.0.0.1:{live_hub.server.port}"
    head = (
        f"POST /api/v1/session HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b" " * 4096
    status, body = send_without_end(
        live_hub, head, b"%x\r\n" % len(chunk) + chunk + b"\r\n", 4 * limit
    )
    assert status == 413 and body["error"]["code"] == "body_too_large"

    # a history batch over its limit: refused whole, nothing stored
    batch = json.dumps({"events": [_event(0)]}) + " " * settings.max_history_batch_bytes
    r = ktn.post(
        live_hub.api("/history"),
        data=batch.encode(),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"
    assert ktn.get(live_hub.api("/history"), timeout=10).json()["events"] == []
    # the largest batch a client may send fits: 1000 events, each at its longest
    events = [_event(n, detail_chars=4080) for n in range(1000)]
    assert len(json.dumps(events[0]["detail"])) <= 4096
    r = ktn.post(live_hub.api("/history"), json={"events": events}, timeout=60)
    assert r.status_code == 200 and r.json() == {"accepted": 1000, "duplicates": 0}

    # any other call takes small bodies only
    r = ktn.post(
        live_hub.api("/items/x/renditions/proxy/link"),
        data=b" " * (settings.max_json_body_bytes + 1),
        timeout=10,
    )
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"


def test_endless_headers_are_refused_before_they_end(live_hub: LiveHub) -> None:
    ktn = live_hub.login("ktn")
    limit = live_hub.hub.settings.max_header_bytes
    host = f"127.0.0.1:{live_hub.server.port}"
    status, body = send_without_end(
        live_hub,
        f"GET /api/v1/items HTTP/1.1\r\nHost: {host}\r\nX-Endless: ",
        b"a" * 8192,
        2 * limit,
    )
    assert status == 431 and body["error"]["code"] == "headers_too_large"
    # many headers add up the same way
    many = {f"X-Pad-{n}": "b" * 1000 for n in range(limit // 1000 + 1)}
    r = ktn.get(live_hub.api("/items"), headers=many, timeout=10)
    assert r.status_code == 431 and str(limit) in r.json()["error"]["message"]
    # below the limit, a large header is fine
    r = ktn.get(live_hub.api("/items"), headers={"X-Pad": "c" * (limit // 2)}, timeout=10)
    assert r.status_code == 200


# --- metadata ---------------------------------------------------------------------------------

REFUSED_METADATA: list[tuple[dict[str, str], str]] = [
    ({"title": "t" * 501}, "title"),
    ({"title": " \x07 "}, "title"),
    ({"slug": "S" * 201}, "slug"),
    ({"dateline": "d" * 201}, "dateline"),
    ({"category": "c" * 65}, "category"),
    ({"region": "r" * 65}, "region"),
    ({"script": "s" * 20_001}, "script"),
    ({"shotlist": "s" * 20_001}, "shotlist"),
    ({"restrictions": "r" * 20_001}, "restrictions"),
    ({"language": "de"}, "language"),
    ({"priority": "breaking"}, "priority"),
    ({"country": "KEN"}, "country"),
    ({"recorded_at": "yesterday"}, "recorded_at"),
    ({"recorded_at": "2999-01-01"}, "recorded_at"),
    ({"recorded_at": "1850-06-01T10:00"}, "recorded_at"),
    ({"filename": "f" * 252 + ".mp4"}, "filename"),
]


def test_upload_metadata_is_checked_before_any_byte_is_sent(live_hub: LiveHub) -> None:
    ktn = live_hub.login("ktn")
    base = {"filename": "clip.mp4", "sha256": "a" * 64, "title": "Floods"}

    def create(meta: dict[str, str]) -> requests.Response:
        headers = {**TUS, "Upload-Length": "1000", "Upload-Metadata": encode_meta(meta)}
        return ktn.post(live_hub.api("/uploads/"), headers=headers, timeout=10)

    wrong: list[tuple[str, object, str]] = []
    for fields, name in REFUSED_METADATA:
        r = create({**base, **fields})
        if r.status_code != 400 or r.json()["error"]["code"] != "invalid_metadata":
            wrong.append((name, r.status_code, r.text[:200]))
        elif name not in r.json()["error"]["message"]:
            wrong.append((name, "message", r.json()["error"]["message"]))
    assert wrong == []

    # every field at its longest, the long texts in Arabic (two bytes a letter): accepted, so the
    # size limits leave room for whatever the client lets a user write
    longest = {
        **base,
        "filename": "f" * 251 + ".mp4",
        "title": "ع" * 500,
        "slug": "S" * 200,
        "dateline": "د" * 200,
        "category": "c" * 64,
        "region": "r" * 64,
        "script": "ن" * 20_000,
        "shotlist": "ص" * 20_000,
        "restrictions": "ق" * 20_000,
        "language": " AR ",
        "priority": "Flash",
        "country": "ke",
        "recorded_at": (utcnow() + dt.timedelta(hours=20)).date().isoformat(),
    }
    r = create(longest)
    assert r.status_code == 201, r.text
    # Upload-Metadata over its own limit: 413 before anything is decoded
    padding = "p" * (live_hub.hub.settings.max_metadata_bytes * 3 // 4 + 100)  # base64: 4/3
    r = create({**base, "padding": padding})
    assert r.status_code == 413 and r.json()["error"]["code"] == "metadata_too_large"
    with live_hub.hub.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Upload)) == 1


# --- tokens -----------------------------------------------------------------------------------


def api_calls(live_hub: LiveHub) -> set[tuple[str, str]]:
    """Every (method, path) of the API: the published contract (``/openapi.json``) and the
    routes it leaves out (the tus collection without its slash, POST carrying
    X-HTTP-Method-Override)."""
    spec = requests.get(f"{live_hub.url}/openapi.json", timeout=10).json()
    methods = {"get", "head", "post", "put", "patch", "delete", "options"}
    calls = {
        (m.upper(), path)
        for path, ops in spec["paths"].items()
        if path.startswith("/api/v1/")
        for m in ops
        if m in methods
    }
    hidden = {("POST", "/api/v1/uploads"), ("OPTIONS", "/api/v1/uploads")}
    return calls | hidden | {("POST", "/api/v1/uploads/{upload_id}")}


def test_no_call_but_sign_in_works_without_a_valid_token(live_hub: LiveHub) -> None:
    calls = api_calls(live_hub)
    for must in [
        ("PATCH", "/api/v1/uploads/{upload_id}"),
        ("DELETE", "/api/v1/uploads/{upload_id}"),
        ("POST", "/api/v1/items/{item_id}/renditions/{name}/link"),
        ("HEAD", "/api/v1/items/{item_id}/thumbnail"),
        ("GET", "/api/v1/stats/members"),
        ("GET", "/api/v1/events"),
    ]:
        assert must in calls
    for method, path in sorted(calls):
        if (method, path) == ("POST", "/api/v1/session"):
            continue
        url = live_hub.url + re.sub(r"\{[^}]+\}", "abc", path)
        for auth in ({}, {"Authorization": "Bearer not-a-token"}):
            r = requests.request(method, url, headers={**TUS, **auth}, timeout=10)
            assert r.status_code == 401, (method, path, auth, r.status_code)


# --- items: never half visible, never changed -------------------------------------------------


def _snapshot(s: requests.Session, live_hub: LiveHub, item_id: str) -> dict[str, Any]:
    item: dict[str, Any] = s.get(live_hub.api(f"/items/{item_id}"), timeout=10).json()
    files = {
        r["name"]: hashlib.sha256(s.get(r["url"], timeout=10).content).hexdigest()
        for r in item["renditions"]
    }
    thumb = hashlib.sha256(s.get(item["thumbnail_url"], timeout=10).content).hexdigest()
    return {"item": item, "files": files, "thumbnail": thumb}


def test_an_item_is_not_readable_before_it_is_published(live_hub: LiveHub, clip: Path) -> None:
    ktn = live_hub.login("ktn")
    rts = live_hub.login("rts")
    # an upload's address answers its state, never its bytes, and only to its owner
    data = clip.read_bytes()
    headers = {
        **TUS,
        "Upload-Length": str(len(data)),
        "Upload-Metadata": encode_meta({"filename": "c.mp4", "sha256": "b" * 64}),
        "Content-Type": OFFSET_STREAM,
    }
    r = ktn.post(live_hub.api("/uploads/"), data=data[:-100], headers=headers, timeout=10)
    assert r.status_code == 201
    url = r.headers["Location"]
    for ranged in ({}, {"Range": "bytes=0-"}):
        got = ktn.get(url, headers=ranged, timeout=10)
        assert got.status_code == 200 and got.headers["Content-Type"] == "application/json"
        assert got.json()["state"] == "receiving" and data[:64] not in got.content
    assert rts.get(url, timeout=10).status_code == 403

    # an item whose files are all in storage, not yet committed, is nowhere to be seen
    prepared = prepare(live_hub.hub, clip, ItemFields(title="Not yet"))
    item_id = prepared.row.id
    assert any((live_hub.tmp / "hub" / "storage" / "items" / item_id).iterdir())
    base = live_hub.api(f"/items/{item_id}")
    for path in ("", "/renditions/broadcast", "/renditions/proxy", "/thumbnail"):
        assert ktn.get(base + path, timeout=10).status_code == 404, path
    assert ktn.post(base + "/renditions/broadcast/link", timeout=10).status_code == 404
    assert ktn.get(live_hub.api("/items"), timeout=10).json()["items"] == []
    commit(live_hub.hub, prepared)
    seen = _snapshot(ktn, live_hub, item_id)
    assert seen["files"]["broadcast"] == hashlib.sha256(data).hexdigest()


def test_published_items_cannot_be_changed(live_hub: LiveHub, clip: Path) -> None:
    # no call writes to an item's files: GET and HEAD, POST for a download link, and the
    # agency's own correction and withdrawal of its texts (tests/hub/test_item_changes.py)
    writes = {(m, p) for m, p in api_calls(live_hub) if p.startswith("/api/v1/items")}
    writes -= {(m, p) for m, p in writes if m in ("GET", "HEAD")}
    assert writes == {
        ("POST", "/api/v1/items/{item_id}/renditions/{name}/link"),
        ("POST", "/api/v1/items/{item_id}/withdraw"),
        ("PATCH", "/api/v1/items/{item_id}"),
    }
    # a member's upload, published
    ktn = live_hub.login("ktn")
    data = clip.read_bytes()
    headers = {
        **TUS,
        "Upload-Length": str(len(data)),
        "Upload-Metadata": encode_meta(
            {"filename": "c.mp4", "sha256": hashlib.sha256(data).hexdigest(), "title": "Mine"}
        ),
        "Content-Type": OFFSET_STREAM,
    }
    r = ktn.post(live_hub.api("/uploads/"), data=data, headers=headers, timeout=10)
    assert r.status_code == 201
    url = r.headers["Location"]
    status = wait_until(
        lambda: (st := ktn.get(url, timeout=10).json())["state"] != "processing" and st,
        30,
        what="the upload to be published",
    )
    assert status["state"] == "published", status
    item_id = status["item_id"]
    before = _snapshot(ktn, live_hub, item_id)

    live_hub.member("chief", role="agency")
    agency = live_hub.login("chief")
    base = live_hub.api(f"/items/{item_id}")
    for who in (ktn, agency):
        for path in ("", "/renditions/broadcast", "/renditions/proxy", "/thumbnail"):
            for method in ("PUT", "PATCH", "DELETE", "POST"):
                r = who.request(method, base + path, data=b"new bytes", timeout=10)
                if (method, path) == ("PATCH", ""):  # a correction: agency staff, JSON (bytes: 415)
                    assert r.status_code == (403 if who is ktn else 415), r.status_code
                    continue
                assert r.status_code == 405, (method, path, r.status_code)
    # nor through the upload it came from: no more bytes, no cancelling
    patch = {**TUS, "Content-Type": OFFSET_STREAM}
    r = ktn.patch(url, data=b"more", headers={**patch, "Upload-Offset": str(len(data))}, timeout=10)
    assert r.status_code == 413
    r = ktn.patch(url, data=b"more", headers={**patch, "Upload-Offset": "0"}, timeout=10)
    assert r.status_code == 409
    assert ktn.delete(url, headers=TUS, timeout=10).status_code == 409
    assert _snapshot(ktn, live_hub, item_id) == before
    assert before["files"]["broadcast"] == hashlib.sha256(data).hexdigest()


CRASH_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from sqlalchemy import event
    from sqlalchemy.orm import Session
    from alu_hub.app import build_hub
    from alu_hub.models import Item
    from alu_hub.publish import complete_upload
    from alu_hub.settings import Settings

    data, upload_id, moment, database_url = sys.argv[1:5]
    hub = build_hub(Settings(data_dir=Path(data), database_url=database_url))

    @event.listens_for(Session, "after_flush")
    def _flushed(session, _context):
        if any(isinstance(o, Item) for o in session.new):
            session.info["publishing"] = True

    @event.listens_for(Session, "before_commit")
    def _before(session):
        session.flush()
        if session.info.get("publishing") and moment == "before_commit":
            os._exit(9)  # the item's rows are in the open transaction: the hub dies

    @event.listens_for(Session, "after_commit")
    def _after(session):
        if session.info.get("publishing"):
            os._exit(9)  # the item is committed: the hub dies before anything else

    complete_upload(hub, upload_id)
    """
)


@pytest.mark.parametrize("moment", ["before_commit", "after_commit"])
def test_a_crash_mid_publish_leaves_nothing_half_visible(
    hubs: StartHub, tmp_path: Path, clip: Path, moment: str
) -> None:
    data_dir = tmp_path / "a" / "hub"
    settings = hub_settings(data_dir)
    hub = build_hub(settings)
    member = ensure_member(hub, "ktn", "pw-1234", country="KE")
    upload_id = "u" + uuid.uuid4().hex
    sha = hashlib.sha256(clip.read_bytes()).hexdigest()
    now = utcnow()
    with hub.db.session() as s:  # an upload that has all its bytes and is being published
        s.add(
            Upload(
                id=upload_id,
                member_id=member.id,
                length=clip.stat().st_size,
                offset=clip.stat().st_size,
                meta={"filename": "c.mp4", "sha256": sha, "title": "Crash"},
                concat="",
                parts={},
                state="processing",
                error="",
                created_at=now,
                updated_at=now,
                expires_at=now + dt.timedelta(days=7),
                lock_owner="",
            )
        )
    shutil.copyfile(clip, hub.settings.uploads_dir / upload_id)
    hub.db.dispose()

    crashed = subprocess.run(
        [
            sys.executable,
            "-c",
            CRASH_SCRIPT,
            str(data_dir),
            upload_id,
            moment,
            settings.database_url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert crashed.returncode == 9, crashed.stderr[-2000:]
    assert len(list((data_dir / "storage" / "items").iterdir())) == 1  # files were stored

    h = hubs("a")  # the hub starts again on the same folder
    ktn = h.login("ktn")

    def outcome() -> Upload | None:
        with h.hub.db.session() as s:
            up = s.get(Upload, upload_id)
            assert up is not None
            s.expunge(up)
            return up if up.state != "processing" else None

    up = wait_until(outcome, 30, what="the upload to be published after the restart")
    assert up is not None
    assert up.state == "published", up.error
    items = ktn.get(h.api("/items"), timeout=10).json()["items"]
    assert [i["id"] for i in items] == [up.item_id]  # one item, not two
    seen = _snapshot(ktn, h, items[0]["id"])
    assert seen["files"]["broadcast"] == sha
    stored = {p.name for p in (data_dir / "storage" / "items").iterdir()}
    if moment == "after_commit":
        assert stored == {up.item_id}
    else:
        # the half publish's files are newer than every item the database knew at this start:
        # they could be another database's (a serve on the wrong one), so they stay, unseen,
        # until a start after a newer item (tests/hub/test_cli.py: ..._never_published)
        assert up.item_id in stored and len(stored) == 2
    wait_until(
        lambda: not (data_dir / "uploads" / upload_id).exists(),
        10,
        what="the upload's bytes to be dropped once its item has them",
    )


def test_start_up_expires_abandoned_uploads(hubs: StartHub) -> None:
    h = hubs("a")
    ktn = h.login("ktn")

    def create() -> str:
        headers = {
            **TUS,
            "Upload-Length": "1000",
            "Upload-Metadata": encode_meta({"filename": "c.mp4", "sha256": "c" * 64}),
            "Content-Type": OFFSET_STREAM,
        }
        r = ktn.post(h.api("/uploads/"), data=b"x" * 400, headers=headers, timeout=10)
        assert r.status_code == 201 and r.headers["Upload-Offset"] == "400"
        return str(r.headers["Location"])

    abandoned, recent = create(), create()
    ids = {url: urlsplit(url).path.rsplit("/", 1)[-1] for url in (abandoned, recent)}
    with h.hub.db.session() as s:
        up = s.get(Upload, ids[abandoned])
        assert up is not None
        up.expires_at = utcnow() - dt.timedelta(minutes=1)
    stop(h)
    uploads = h.tmp / "hub" / "uploads"
    assert (uploads / ids[abandoned]).exists()

    again = hubs("a")  # start-up, not the ten-minute housekeeping, cleans it
    with again.hub.db.session() as s:
        states = {url: s.get(Upload, uid).state for url, uid in ids.items()}  # type: ignore[union-attr]
    assert states == {abandoned: "expired", recent: "receiving"}
    assert not (uploads / ids[abandoned]).exists()
    assert (uploads / ids[recent]).stat().st_size == 400
    ktn = again.login("ktn")
    abandoned_url = abandoned.replace(h.url, again.url)
    recent_url = recent.replace(h.url, again.url)
    assert ktn.head(abandoned_url, headers=TUS, timeout=10).status_code == 410
    r = ktn.head(recent_url, headers=TUS, timeout=10)
    assert r.status_code == 200 and r.headers["Upload-Offset"] == "400"
