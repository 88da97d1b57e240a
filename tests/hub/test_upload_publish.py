"""A member upload end to end: tuspy (`tusclient`) against the real hub, interrupted and
resumed, verified by sha256 and published as a `member_upload` item that others see."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import http.client
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import requests
from sqlalchemy import func, select
from tusclient import client as tus

from alu_hub.models import Item
from tests.support.waiting import wait_until

from .conftest import LiveHub, sha256_of


def wait_for_outcome(s: requests.Session, url: str, timeout: float = 60) -> dict[str, Any]:
    """Poll the upload's status until the hub has published it or failed it."""

    def outcome() -> dict[str, Any] | None:
        status: dict[str, Any] = s.get(url, timeout=10).json()
        return status if status["state"] in ("published", "failed") else None

    return wait_until(outcome, timeout, interval=0.1, what="the hub to publish or fail the upload")


def uploader_for(live_hub: LiveHub, user: str, path: Path, **kw: Any) -> Any:
    c = tus.TusClient(
        live_hub.api("/uploads/"), headers={"Authorization": f"Bearer {live_hub.tokens[user]}"}
    )
    return c.uploader(file_path=str(path), chunk_size=16 * 1024, **kw)


def test_a_recording_date_ahead_of_the_hubs_clock_is_refused_saying_the_hubs_time(
    monkeypatch: Any,
) -> None:
    # an upload sent by a workstation a year fast: "is not a date footage can be from" left the
    # member to guess that the computer's clock was wrong
    import alu_hub.models
    from alu_hub.publish import PublishError, parse_recorded_at

    now = dt.datetime.now(dt.UTC)
    monkeypatch.setattr(
        alu_hub.models, "clock_offset", dt.datetime(2026, 12, 7, 17, 40, tzinfo=dt.UTC) - now
    )
    assert parse_recorded_at("2026-12-09T10:00") == dt.datetime(2026, 12, 9, 10, tzinfo=dt.UTC)
    with pytest.raises(PublishError) as ahead:
        parse_recorded_at("2027-12-07T17:36")
    assert str(ahead.value) == (
        "recorded_at '2027-12-07T17:36' is in the future (hub time 2026-12-07 17:40 UTC); "
        "check the date, and the clock of the computer that sent it."
    )


def test_interrupted_upload_resumes_and_becomes_an_item(live_hub: LiveHub, clip: Path) -> None:
    ktn = live_hub.login("ktn")
    sha = hashlib.sha256(clip.read_bytes()).hexdigest()
    meta = {
        "filename": "Nairobi floods.mp4",
        "sha256": sha.upper(),  # hex in either case (the item's is the hub's own, lowercase)
        "title": "Flooded roads in Nairobi",
        "slug": "KENYA-FLOODS-ROADS",
        "dateline": "NAIROBI, Kenya",
        "language": "en",
        "category": "environment",
        "script": "Heavy rain flooded roads across the capital.",
    }
    first = uploader_for(live_hub, "ktn", clip, metadata=meta)
    first.upload_chunk()
    first.upload_chunk()  # two chunks, then the workstation goes away
    assert 0 < first.offset < clip.stat().st_size
    url = first.url

    resumed = uploader_for(live_hub, "ktn", clip, url=url)
    assert resumed.offset == first.offset  # asked the hub where it stood
    resumed.upload()

    status = wait_for_outcome(ktn, url)
    assert status["state"] == "published", status
    item_id = status["item_id"]
    head = ktn.head(url, headers={"Tus-Resumable": "1.0.0"}, timeout=10)
    assert (
        head.headers["Alu-Upload-State"] == "published" and head.headers["Alu-Item-Id"] == item_id
    )

    rts = live_hub.login("rts")
    feed = rts.get(live_hub.api("/items"), timeout=10).json()["items"]
    item = next(i for i in feed if i["id"] == item_id)
    assert item["kind"] == "member_upload" and item["title"] == "Flooded roads in Nairobi"
    assert item["source_member"]["username"] == "ktn" and item["country"] == "KE"
    broadcast = next(r for r in item["renditions"] if r["name"] == "broadcast")
    assert broadcast["sha256"] == sha and broadcast["filename"] == "Nairobi floods.mp4"
    got = rts.get(broadcast["url"], timeout=10)
    assert hashlib.sha256(got.content).hexdigest() == sha
    assert {r["name"] for r in item["renditions"]} == {"broadcast", "proxy"}


def test_checksum_mismatch_publishes_nothing(live_hub: LiveHub, clip: Path) -> None:
    ktn = live_hub.login("ktn")
    up = uploader_for(live_hub, "ktn", clip, metadata={"filename": "clip.mp4", "sha256": "0" * 64})
    up.upload()
    status = wait_for_outcome(ktn, up.url)
    assert status["state"] == "failed" and status["item_id"] is None
    assert "does not match its checksum" in status["error"]
    head = ktn.head(up.url, headers={"Tus-Resumable": "1.0.0"}, timeout=10)
    assert head.headers["Alu-Upload-State"] == "failed" and "checksum" in head.headers["Alu-Error"]
    assert ktn.get(live_hub.api("/items"), timeout=10).json()["items"] == []
    with live_hub.hub.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Item)) == 0
    assert not any((live_hub.tmp / "hub" / "storage").rglob("*.mp4"))


def test_a_file_that_is_not_video_fails_clearly(live_hub: LiveHub, tmp_path: Path) -> None:
    ktn = live_hub.login("ktn")
    doc = tmp_path / "notes.mp4"
    doc.write_bytes(b"meeting notes, not a video\n" * 1000)
    sha = hashlib.sha256(doc.read_bytes()).hexdigest()
    up = uploader_for(live_hub, "ktn", doc, metadata={"filename": "notes.mp4", "sha256": sha})
    up.upload()
    status = wait_for_outcome(ktn, up.url)
    assert status["state"] == "failed" and "not a video file" in status["error"]


def test_members_cannot_touch_each_others_uploads(live_hub: LiveHub, clip: Path) -> None:
    live_hub.login("ktn")
    rts = live_hub.login("rts")
    up = uploader_for(live_hub, "ktn", clip, metadata={"filename": "a.mp4", "sha256": "1" * 64})
    up.upload_chunk()
    tus_headers = {"Tus-Resumable": "1.0.0"}
    assert rts.head(up.url, headers=tus_headers, timeout=10).status_code == 403
    assert rts.get(up.url, timeout=10).status_code == 403
    patch = rts.patch(
        up.url,
        data=b"x",
        headers={
            **tus_headers,
            "Upload-Offset": str(up.offset),
            "Content-Type": "application/offset+octet-stream",
        },
        timeout=10,
    )
    assert patch.status_code == 403 and patch.json()["error"]["code"] == "not_your_upload"
    assert rts.delete(up.url, headers=tus_headers, timeout=10).status_code == 403


def _fail_storage_once(live_hub: LiveHub) -> list[str]:
    """The hub's storage refuses the next file (a bucket or a share away for a moment)."""
    storage = live_hub.hub.storage
    real = storage.put_file
    refused: list[str] = []

    def put_file(src: Path, key: str) -> None:
        if not refused:
            refused.append(key)
            raise OSError(5, "Input/output error (the storage is away)")
        real(src, key)

    storage.put_file = put_file  # type: ignore[method-assign]
    return refused


def _upload_left_for_later(live_hub: LiveHub, clip: Path) -> tuple[requests.Session, str]:
    ktn = live_hub.login("ktn")
    sha = hashlib.sha256(clip.read_bytes()).hexdigest()
    up = uploader_for(live_hub, "ktn", clip, metadata={"filename": "fire.mp4", "sha256": sha,
                                                          "title": "Harbour fire"})  # fmt: skip
    up.upload()

    def noted() -> dict[str, Any] | None:
        status: dict[str, Any] = ktn.get(up.url, timeout=10).json()
        return status if status["error"] else None

    status = wait_until(noted, 60, interval=0.1, what="the failed publish to be noted")
    # not failed for good: the member's bytes wait for the storage to come back
    assert status["state"] == "processing", status
    assert "tries again every few minutes" in status["error"]
    return ktn, str(up.url)


def test_a_publish_an_outage_stopped_is_done_by_the_housekeeping(
    live_hub: LiveHub, clip: Path
) -> None:
    from sqlalchemy import update

    from alu_hub.app import housekeeping
    from alu_hub.models import Upload

    refused = _fail_storage_once(live_hub)
    ktn, url = _upload_left_for_later(live_hub, clip)
    assert refused
    with live_hub.hub.db.engine.begin() as conn:  # as if the housekeeping came 10 minutes on
        conn.execute(update(Upload).values(updated_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
    housekeeping(live_hub.hub)
    status = wait_for_outcome(ktn, url)
    assert status["state"] == "published" and status["error"] == "", status
    feed = ktn.get(live_hub.api("/items"), timeout=10).json()["items"]
    assert [i["title"] for i in feed] == ["Harbour fire"]


def test_an_upload_an_outage_failed_before_is_published_at_the_next_start(
    live_hub: LiveHub, clip: Path
) -> None:
    # what an earlier version did: marked failed for good, bytes kept in uploads/
    from sqlalchemy import update

    from alu_hub.models import Upload
    from alu_hub.publish import OLD_FAILURE
    from tests.support.livehub import start_hub

    _fail_storage_once(live_hub)
    _ktn, url = _upload_left_for_later(live_hub, clip)
    with live_hub.hub.db.engine.begin() as conn:
        conn.execute(update(Upload).values(state="failed", error=OLD_FAILURE))
    live_hub.server.stop()
    live_hub.hub.db.dispose()

    again = start_hub(live_hub.tmp)  # the same data folder: start-up publishes it
    try:
        ktn = again.login("ktn")
        status = wait_for_outcome(ktn, url.replace(live_hub.url, again.url))
        assert status["state"] == "published", status
    finally:
        again.server.stop()
        again.hub.db.dispose()


def test_the_same_upload_published_at_once_from_two_workstations_is_one_item(
    live_hub: LiveHub, clip: Path, monkeypatch: Any
) -> None:
    """Two workstations watching one shared hot folder finish the same clip's upload at the
    same moment: the second publish waits at the feed counter's row lock (``next_seq``) held by
    the first, then sees the first's item and is that item (``_same_recent_item``). Made to
    overlap: the first holds the lock until the second has asked for it."""
    import threading
    import time
    import uuid

    from alu_hub import publish
    from alu_hub.models import Upload, utcnow
    from tests.support.livehub import ensure_member

    hub = live_hub.hub
    member = ensure_member(hub, "ktn", "pw-1234", country="KE")
    sha = hashlib.sha256(clip.read_bytes()).hexdigest()
    meta = {"filename": "strike.mp4", "sha256": sha, "title": "Mombasa port strike"}
    ids = ["u" + uuid.uuid4().hex for _ in range(2)]
    now = utcnow()
    with hub.db.session() as s:
        for upload_id in ids:
            s.add(
                Upload(
                    id=upload_id, member_id=member.id, length=clip.stat().st_size,
                    offset=clip.stat().st_size, meta=dict(meta), concat="", parts={},
                    state="processing", error="", created_at=now, updated_at=now,
                    expires_at=now + dt.timedelta(days=7), lock_owner="",
                )
            )  # fmt: skip
    for upload_id in ids:
        (hub.settings.uploads_dir / upload_id).write_bytes(clip.read_bytes())

    first_holds, second_asks = threading.Event(), threading.Event()
    real_next_seq = hub.db.next_seq

    def next_seq(s: Any, name: str = "item_seq") -> int:
        if threading.current_thread().name == "second":
            assert first_holds.wait(30)
            second_asks.set()
            return real_next_seq(s, name)  # blocks until the first commits
        value = real_next_seq(s, name)
        first_holds.set()
        assert second_asks.wait(30)
        time.sleep(0.3)  # the second is at the lock now (it cannot be seen waiting there)
        return value

    monkeypatch.setattr(hub.db, "next_seq", next_seq)
    errors: list[BaseException] = []

    def run(upload_id: str) -> None:
        try:
            publish.complete_upload(hub, upload_id)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [
        threading.Thread(target=run, args=(upload_id,), name=name)
        for upload_id, name in zip(ids, ("first", "second"), strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert second_asks.is_set()  # they did overlap
    with hub.db.session() as s:
        items = s.scalars(select(Item).where(Item.kind == "member_upload")).all()
        uploads = [s.get(Upload, upload_id) for upload_id in ids]
        assert len(items) == 1
        assert [(u.state, u.item_id) for u in uploads if u is not None] == [
            ("published", items[0].id),
            ("published", items[0].id),
        ]


def _disable(live_hub: LiveHub, username: str) -> None:
    """``alu-hub member disable``: the member inactive, its sign-ins revoked."""
    from sqlalchemy import update

    from alu_hub.models import Member, Token

    with live_hub.hub.db.session() as s:
        member_id = s.scalar(select(Member.id).where(Member.username == username))
        s.execute(update(Member).where(Member.id == member_id).values(active=False))
        s.execute(
            update(Token)
            .where(Token.member_id == member_id)
            .values(revoked_at=dt.datetime.now(dt.UTC))
        )


def _upload_state(live_hub: LiveHub, url: str) -> tuple[str, str]:
    from alu_hub.models import Upload

    with live_hub.hub.db.session() as s:
        up = s.get(Upload, url.rstrip("/").rsplit("/", 1)[-1])
        assert up is not None
        return up.state, up.error


def _outcome(live_hub: LiveHub, url: str) -> tuple[str, str]:
    """The upload's end (read in the database: the member's token no longer reads it)."""
    return wait_until(
        lambda: (got := _upload_state(live_hub, url))[0] in ("published", "failed") and got,
        60,
        interval=0.1,
        what="the hub to publish or fail the upload",
    )


def _patch_across_a_disable(live_hub: LiveHub, url: str, offset: int, rest: bytes) -> int:
    """A PATCH of ``rest`` at ``offset`` that is under way when the agency disables ktn: its
    first half is sent, then the disable, then the rest. Its status."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.netloc, timeout=30)
    conn.putrequest("PATCH", parts.path)
    for name, value in {
        "Authorization": f"Bearer {live_hub.tokens['ktn']}",
        "Tus-Resumable": "1.0.0",
        "Upload-Offset": str(offset),
        "Content-Type": "application/offset+octet-stream",
        "Content-Length": str(len(rest)),
    }.items():
        conn.putheader(name, value)
    conn.endheaders()
    half = len(rest) // 2
    conn.send(rest[:half])
    wait_until(lambda: _lease_owner(live_hub, url) is not None, what="the PATCH to hold the upload")
    _disable(live_hub, "ktn")
    assert _me_status(live_hub) == 401
    conn.send(rest[half:])
    status = conn.getresponse().status
    conn.close()
    return status


def _lease_owner(live_hub: LiveHub, url: str) -> str | None:
    """The lease owner of the upload while a PATCH holds it (None: nobody writes it)."""
    from alu_hub.models import Upload

    with live_hub.hub.db.session() as s:
        up = s.get(Upload, url.rstrip("/").rsplit("/", 1)[-1])
        return up.lock_owner or None if up is not None else None


def _me_status(live_hub: LiveHub) -> int:
    headers = {"Authorization": f"Bearer {live_hub.tokens['ktn']}"}
    # (the disable came from "another process": past this one's token cache)
    live_hub.hub.tokens.forget(hashlib.sha256(live_hub.tokens["ktn"].encode()).hexdigest())
    return requests.get(live_hub.api("/me"), headers=headers, timeout=10).status_code


def _no_item(live_hub: LiveHub) -> None:
    with live_hub.hub.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Item)) == 0
    items = live_hub.hub.storage.local_path("items")
    assert items is None or not items.exists() or list(items.iterdir()) == []


def test_an_upload_whose_member_is_disabled_mid_patch_is_not_published(
    live_hub: LiveHub, clip: Path
) -> None:
    """tus-js-client, Uppy and tuspy send a file in one PATCH, for hours on a slow link: the
    PATCH under way at the disable may end, but the disabled member's upload no longer goes
    into every member's feed; it fails, saying why, and its bytes go."""
    live_hub.login("ktn")
    data = clip.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    up = uploader_for(live_hub, "ktn", clip, metadata={"filename": "a.mp4", "sha256": sha})
    up.upload_chunk()
    assert _patch_across_a_disable(live_hub, up.url, up.offset, data[up.offset :]) == 204
    assert _outcome(live_hub, up.url) == ("failed", "This account is disabled; ask the agency.")
    _no_item(live_hub)
    assert not (live_hub.hub.settings.uploads_dir / up.url.rsplit("/", 1)[-1]).exists()


def test_a_final_upload_whose_member_is_disabled_before_its_join_is_not_published(
    live_hub: LiveHub, clip: Path
) -> None:
    """The same for a file sent in parts: the join's last part ends after the disable."""
    ktn = live_hub.login("ktn")
    data = clip.read_bytes()
    half = len(data) // 2
    tus = {"Tus-Resumable": "1.0.0"}
    parts = []
    for piece in (data[:half], data[half:]):
        r = ktn.post(
            live_hub.api("/uploads/"),
            headers={**tus, "Upload-Length": str(len(piece)), "Upload-Concat": "partial"},
            timeout=10,
        )
        assert r.status_code == 201, r.text
        parts.append(r.headers["Location"])
    first = ktn.patch(
        parts[0],
        data=data[:half],
        headers={**tus, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
        timeout=10,
    )
    assert first.status_code == 204
    meta = ",".join(
        f"{k} {base64.b64encode(v.encode()).decode()}"
        for k, v in {"filename": "b.mp4", "sha256": hashlib.sha256(data).hexdigest()}.items()
    )
    final = ktn.post(
        live_hub.api("/uploads/"),
        headers={**tus, "Upload-Concat": "final;" + " ".join(parts), "Upload-Metadata": meta},
        timeout=10,
    )
    assert final.status_code == 201, final.text
    assert _patch_across_a_disable(live_hub, parts[1], 0, data[half:]) == 204
    state = _outcome(live_hub, final.headers["Location"])
    assert state == ("failed", "This account is disabled; ask the agency.")
    _no_item(live_hub)


def test_a_member_disabled_while_its_upload_is_prepared_gets_no_item(
    live_hub: LiveHub, clip: Path, monkeypatch: Any
) -> None:
    """The disable comes while the hub makes the proxy (minutes for a long clip): the check is
    in the transaction that would put the item in the feed, and the item's files go."""
    from alu_hub import publish

    real = publish.prepare

    def prepare_then_disable(*args: Any, **kw: Any) -> publish.Prepared:
        prepared = real(*args, **kw)
        _disable(live_hub, "ktn")
        return prepared

    monkeypatch.setattr(publish, "prepare", prepare_then_disable)
    live_hub.login("ktn")
    sha = hashlib.sha256(clip.read_bytes()).hexdigest()
    up = uploader_for(live_hub, "ktn", clip, metadata={"filename": "c.mp4", "sha256": sha})
    up.upload()
    assert _outcome(live_hub, up.url) == ("failed", "This account is disabled; ask the agency.")
    _no_item(live_hub)


# --- a file already on the network --------------------------------------------------------------


def _create(live_hub: LiveHub, user: str, path: Path, meta: dict[str, str]) -> requests.Response:
    """A bare tus creation of an upload of ``path`` (no byte sent)."""
    encoded = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in meta.items())
    return requests.post(
        live_hub.api("/uploads/"),
        headers={
            "Authorization": f"Bearer {live_hub.tokens[user]}",
            "Tus-Resumable": "1.0.0",
            "Upload-Length": str(path.stat().st_size),
            "Upload-Metadata": encoded,
        },
        timeout=10,
    )


def _items(live_hub: LiveHub) -> list[tuple[str, str, int | None]]:
    with live_hub.hub.db.session() as s:
        return [(i.kind, i.title, i.source_member_id) for i in s.scalars(select(Item))]


def _uploads(live_hub: LiveHub) -> int:
    from alu_hub.models import Upload

    with live_hub.hub.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Upload)) or 0)


def test_an_agency_clip_sent_back_by_a_member_is_refused_before_any_byte(
    live_hub: LiveHub, clip: Path
) -> None:
    """A hot folder on a share where another workstation saves its downloads took an agency
    clip for the member's new footage: the hub published it to every member as the member's
    upload, without its restrictions. The bytes are the agency item's (its broadcast file or
    its proxy): refused at the creation, by the sha256 the client declares (the hub requires
    it), before any byte is sent."""
    from alu_hub.publish import ON_NETWORK_AGENCY

    agency = live_hub.publish(clip, "Sudan: talks in Juba", restrictions="No access Sudan")
    live_hub.login("ktn")
    before = _items(live_hub)
    with live_hub.hub.db.session() as s:
        item = s.get(Item, agency)
        assert item is not None
        said = ON_NETWORK_AGENCY.format(
            title="Sudan: talks in Juba", date=item.published_at.strftime("%Y-%m-%d")
        )
        key = next(r.storage_key for r in item.renditions if r.name == "proxy")

    meta = {"filename": "029 (2).mp4", "sha256": sha256_of(clip), "title": "Power deal"}
    r = _create(live_hub, "ktn", clip, meta)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == {"code": "already_on_network", "message": said}
    # the agency item's proxy is its bytes too
    proxy = live_hub.tmp / "proxy.mp4"
    proxy.write_bytes((live_hub.hub.settings.data_dir / "storage" / key).read_bytes())
    r = _create(live_hub, "ktn", proxy, {"filename": "p.mp4", "sha256": sha256_of(proxy)})
    assert (r.status_code, r.json()["error"]["message"]) == (422, said)
    assert _uploads(live_hub) == 0  # nothing to send to
    assert _items(live_hub) == before


def test_an_agency_clip_published_while_a_member_sent_it_is_refused_at_the_last_byte(
    live_hub: LiveHub, clip: Path
) -> None:
    """The agency's item appears after the member's upload of the same bytes began (or the
    upload began before the hub checked at creation): the hub's own sha256 of what arrived
    refuses it, and nothing is published."""
    from alu_hub.publish import ON_NETWORK_AGENCY

    ktn = live_hub.login("ktn")
    meta = {"filename": "029 (2).mp4", "sha256": sha256_of(clip), "title": "Power deal"}
    up = uploader_for(live_hub, "ktn", clip, metadata=meta)
    up.upload_chunk()  # under way
    agency = live_hub.publish(clip, "Sudan: talks in Juba", restrictions="No access Sudan")
    before = _items(live_hub)
    up.upload()
    status = wait_for_outcome(ktn, up.url)
    with live_hub.hub.db.session() as s:
        item = s.get(Item, agency)
        assert item is not None
        said = ON_NETWORK_AGENCY.format(
            title="Sudan: talks in Juba", date=item.published_at.strftime("%Y-%m-%d")
        )
    assert (status["state"], status["error"], status["item_id"]) == ("failed", said, None)
    head = ktn.head(up.url, headers={"Tus-Resumable": "1.0.0"}, timeout=10)
    assert head.headers["Alu-Upload-State"] == "failed"
    assert unquote(head.headers["Alu-Error"]) == said
    assert _items(live_hub) == before  # nothing published
    assert not (live_hub.hub.settings.uploads_dir / up.url.rsplit("/", 1)[-1]).exists()


def test_the_agencys_staff_and_a_member_resending_its_own_clip_are_not_refused(
    live_hub: LiveHub, clip: Path, other_clip: Path
) -> None:
    """Two uploads that are not someone else's item: the agency's staff sending the agency's
    own push from an agency account (``alu put``, as the README says they may), and a member
    sending again its own clip the agency has pushed since. Both were refused."""
    live_hub.member("desk", role="agency")
    live_hub.login("desk")
    live_hub.publish(clip, "Juba talks")
    r = _create(live_hub, "desk", clip, {"filename": "c.mp4", "sha256": sha256_of(clip)})
    assert r.status_code == 201, r.text
    # the member's own clip, published by it, then pushed again by the agency
    ktn = live_hub.login("ktn")
    meta = {"filename": "o.mp4", "sha256": sha256_of(other_clip), "title": "Port strike"}
    up = uploader_for(live_hub, "ktn", other_clip, metadata=meta)
    up.upload()
    assert wait_for_outcome(ktn, up.url)["state"] == "published"
    live_hub.publish(other_clip, "Port strike (agency)")
    r = _create(live_hub, "ktn", other_clip, meta)
    assert r.status_code == 201, r.text


def test_another_members_upload_is_refused_and_a_new_file_is_published(
    live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    from alu_hub.media import generate_clip
    from alu_hub.publish import ON_NETWORK_MEMBER

    ktn = live_hub.login("ktn")
    live_hub.login("rts")
    with live_hub.hub.db.session() as s:
        from alu_hub.models import Member

        m = s.scalars(select(Member).where(Member.username == "ktn")).one()
        m.display_name = "KTN News"
    live_hub.publish(clip, "An agency item")  # another file of the agency's
    own = tmp_path / "own.mp4"
    generate_clip(own, seconds=1.0, width=320, height=240, seed=11)
    sha = sha256_of(own)
    # a file that is on the network nowhere: published as before
    up = uploader_for(live_hub, "ktn", own, metadata={"filename": "own.mp4", "sha256": sha})
    up.upload()
    status = wait_for_outcome(ktn, up.url)
    assert status["state"] == "published", status
    with live_hub.hub.db.session() as s:
        item = s.get(Item, status["item_id"])
        assert item is not None
        said = ON_NETWORK_MEMBER.format(
            title="own", member="KTN News", date=item.published_at.strftime("%Y-%m-%d")
        )

    r = _create(live_hub, "rts", own, {"filename": "x.mp4", "sha256": sha})
    assert (r.status_code, r.json()["error"]["message"]) == (422, said)
    assert [k for k, _t, _m in _items(live_hub)].count("member_upload") == 1

    # the member's own file again, with other details: a new item of its own, as before
    up = uploader_for(
        live_hub, "ktn", own, metadata={"filename": "own.mp4", "sha256": sha, "title": "Again"}
    )
    up.upload()
    assert wait_for_outcome(ktn, up.url)["state"] == "published"
    assert [k for k, _t, _m in _items(live_hub)].count("member_upload") == 2


def test_of_two_members_sending_one_new_file_at_once_the_second_is_refused(
    live_hub: LiveHub, clip: Path, monkeypatch: Any
) -> None:
    """Both passed the checks before the slow part (neither file was on the network yet): the
    check in the publishing transaction, where publishes are serialized, refuses the second."""
    import uuid

    from alu_hub import publish
    from alu_hub.models import Upload, utcnow
    from tests.support.livehub import ensure_member

    hub = live_hub.hub
    monkeypatch.setattr(publish, "_refuse_on_network", lambda _hub, _member: None)
    sha = sha256_of(clip)
    ids = []
    now = utcnow()
    for name in ("ktn", "rts"):
        member = ensure_member(hub, name, "pw-1234", country="KE")
        upload_id = "u" + uuid.uuid4().hex
        ids.append(upload_id)
        with hub.db.session() as s:
            s.add(
                Upload(
                    id=upload_id, member_id=member.id, length=clip.stat().st_size,
                    offset=clip.stat().st_size, meta={"filename": "a.mp4", "sha256": sha},
                    concat="", parts={}, state="processing", error="", created_at=now,
                    updated_at=now, expires_at=now + dt.timedelta(days=7), lock_owner="",
                )
            )  # fmt: skip
        (hub.settings.uploads_dir / upload_id).write_bytes(clip.read_bytes())
    for upload_id in ids:
        publish.complete_upload(hub, upload_id)
    with hub.db.session() as s:
        first, second = (s.get(Upload, upload_id) for upload_id in ids)
        assert first is not None and second is not None
        assert first.state == "published"
        assert second.state == "failed" and second.item_id is None
        assert second.error.startswith("This file is already on the network: it is “a”, sent by")
    assert [k for k, _t, _m in _items(live_hub)] == ["member_upload"]
