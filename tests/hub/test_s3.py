"""The hub on S3-compatible storage: moto's S3 server on 127.0.0.1 (tests/support/s3.py), the
hub publishing onto it, and the desktop client's download job fetching renditions through the
presigned URLs the hub redirects to.

Addresses: the hub talks to the store directly (``ALU_HUB_S3_ENDPOINT``); clients reach the
store through a fault proxy (``ALU_HUB_S3_PUBLIC_ENDPOINT``, so a download can be cut) and the
hub through another one (whose byte count shows the hub never sent a rendition's bytes).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import func, select
from tusclient import client as tus

from alu_client.core.transfers.base import PermanentError, RetryableError
from alu_client.core.transfers.download import DownloadSpec
from alu_hub.app import recover
from alu_hub.models import Item, KeyValue
from alu_hub.publish import ItemFields, PublishError, publish_file
from alu_hub.s3storage import S3Storage, parse_s3_url
from alu_hub.settings import Settings
from alu_hub.storage import LocalStorage, build_storage
from tests.client.test_download import Job, job  # noqa: F401 (the client's job fixture)
from tests.hub.conftest import LiveHub, sha256_of, start_hub
from tests.support.faultproxy import FaultProxy
from tests.support.s3 import S3Server, Seen, aws_env, unique_bucket
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(120)

MIB = 1024 * 1024
PREFIX = "hub/media"


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            mp.delenv(name, raising=False)
        for name, value in aws_env().items():
            mp.setenv(name, value)
        with S3Server() as server:
            yield server


@pytest.fixture(scope="module")
def big_clip(clip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real clip made 12 MiB larger by an MP4 ``free`` box: three 5 MiB parts on upload."""
    path = tmp_path_factory.mktemp("big") / "big.mp4"
    pad = os.urandom(12 * MIB)
    path.write_bytes(clip.read_bytes() + struct.pack(">I", 8 + len(pad)) + b"free" + pad)
    return path


@dataclass
class S3Hub:
    live: LiveHub
    s3: S3Server
    bucket: str
    s3_proxy: FaultProxy  # the store's address for clients
    hub_proxy: FaultProxy  # the hub's address for clients
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def url(self, path: str) -> str:
        return f"{self.hub_proxy.url}/api/v1{path}"

    def objects(self, under: str = "") -> dict[str, dict[str, Any]]:
        page = self.s3.client().list_objects_v2(Bucket=self.bucket, Prefix=f"{PREFIX}/{under}")
        return {o["Key"][len(PREFIX) + 1 :]: o for o in page.get("Contents", [])}

    def object_bytes(self, key: str) -> bytes:
        got = self.s3.client().get_object(Bucket=self.bucket, Key=f"{PREFIX}/{key}")
        data: bytes = got["Body"].read()
        return data

    def s3_requests(self, key: str) -> list[Seen]:
        return self.s3.requests_for(f"/{self.bucket}/{PREFIX}/{key}")


@contextmanager
def s3_hub(tmp_path: Path, s3: S3Server, **settings: Any) -> Iterator[S3Hub]:
    bucket = unique_bucket()
    s3.client().create_bucket(Bucket=bucket)
    host, port = s3.get_host_and_port()
    with FaultProxy((host, port)) as s3_proxy:
        live = start_hub(
            tmp_path,
            storage_url=f"s3://{bucket}/{PREFIX}",
            s3_endpoint=s3.endpoint,
            s3_public_endpoint=s3_proxy.url,
            s3_part_size=5 * MIB,
            **settings,
        )
        try:
            live.login("ktn")
            with FaultProxy(("127.0.0.1", live.server.port)) as hub_proxy:
                yield S3Hub(live, s3, bucket, s3_proxy, hub_proxy, live.tokens["ktn"])
        finally:
            live.server.stop()
            live.hub.db.dispose()


def assert_token_never_reached_s3(h: S3Hub) -> None:
    """No request that reached the store carried a hub token, in a header or in the URL."""
    seen = h.s3.seen
    assert seen, "nothing reached the store"
    for token in h.live.tokens.values():
        for r in seen:
            assert not any(token in v for v in r.headers.values()), (r.method, r.path)
            assert not any(token in v for vs in r.query.values() for v in vs), r.path
            assert not r.headers.get("authorization", "").lower().startswith("bearer"), r.path


def test_settings_choose_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in aws_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ALU_HUB_STORAGE", "s3://alu-test/agency/hub")
    monkeypatch.setenv("ALU_HUB_S3_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("ALU_HUB_S3_PUBLIC_ENDPOINT", "http://127.0.0.1:10")
    monkeypatch.setenv("ALU_HUB_S3_REGION", "eu-west-3")
    monkeypatch.setenv("ALU_HUB_S3_URL_TTL", "120")
    monkeypatch.setenv("ALU_HUB_S3_PART_SIZE", str(8 * MIB))
    monkeypatch.setenv("ALU_HUB_S3_ORPHAN_GRACE", "60")
    settings = Settings.from_env(tmp_path)
    storage = build_storage(settings)
    assert isinstance(storage, S3Storage)
    assert (storage.bucket, storage.prefix, storage.region) == (
        "alu-test",
        "agency/hub",
        "eu-west-3",
    )
    assert (storage.url_ttl_s, storage.part_size, storage.orphan_grace_s) == (120, 8 * MIB, 60)
    # presigning is local: URLs name the public address, with a lifetime, and no token
    url = storage.download_url("items/abc/proxy.mp4", filename="Réunion.mp4", mime="video/mp4")
    assert url is not None and url.startswith("http://127.0.0.1:10/alu-test/agency/hub/items/abc/")
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["120"] and "X-Amz-Signature" in query
    assert "filename*=UTF-8''R%C3%A9union.mp4" in query["response-content-disposition"][0]
    assert storage.local_path("items/abc/proxy.mp4") is None
    with pytest.raises(ValueError, match="storage key"):
        storage.object_key("items/../secret")

    assert isinstance(build_storage(Settings(data_dir=tmp_path)), LocalStorage)
    assert parse_s3_url("s3://alu-test") == ("alu-test", "")
    for bad in ("s3://Alu_Test/x", "https://alu-test/x", "s3://alu-test/a/../b", "s3:///x"):
        with pytest.raises(ValueError, match=r"S3|s3://"):
            parse_s3_url(bad)
    with pytest.raises(ValueError, match="ALU_HUB_STORAGE"):
        build_storage(Settings(data_dir=tmp_path, storage_url="/srv/alu-storage"))


def test_push_goes_to_s3_and_the_client_downloads_through_presigned_urls(
    tmp_path: Path,
    s3: S3Server,
    big_clip: Path,
    job: Job,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with s3_hub(tmp_path, s3) as h:
        hub = h.live.hub

        # nothing half-visible: every object is stored before the item exists
        def items() -> int:
            with hub.db.session() as s:
                return int(s.scalar(select(func.count()).select_from(Item)) or 0)

        stored: list[str] = []
        real_put, real_copy = hub.storage.put_file, hub.storage.copy_file

        def spy(real: Any) -> Any:
            def store(src: Path, key: str) -> None:
                assert items() == 0, f"the item was visible before {key} was stored"
                real(src, key)
                stored.append(key)

            return store

        monkeypatch.setattr(hub.storage, "put_file", spy(real_put))
        monkeypatch.setattr(hub.storage, "copy_file", spy(real_copy))
        item_id = h.live.publish(big_clip, title="Floods in the north")
        assert items() == 1 and len(stored) == 3
        assert big_clip.is_file()  # a push copies: the agency's file stays

        objects = h.objects(f"items/{item_id}/")
        assert set(objects) == {
            f"items/{item_id}/broadcast.mp4",
            f"items/{item_id}/proxy.mp4",
            f"items/{item_id}/thumbnail.jpg",
        }
        assert objects[f"items/{item_id}/broadcast.mp4"]["ETag"].endswith('-3"')  # multipart
        assert not (h.live.tmp / "hub" / "storage" / "items").exists()  # nothing stored locally
        item = requests.get(h.url(f"/items/{item_id}"), headers=h.auth, timeout=10).json()
        broadcast = next(r for r in item["renditions"] if r["name"] == "broadcast")
        data = big_clip.read_bytes()
        assert broadcast["sha256"] == sha256_of(big_clip) == hashlib.sha256(data).hexdigest()
        assert h.object_bytes(f"items/{item_id}/broadcast.mp4") == data
        assert broadcast["url"].startswith(h.hub_proxy.url)

        # the hub answers with a redirect, never with the bytes; no token, no redirect
        r = requests.get(broadcast["url"], headers=h.auth, allow_redirects=False, timeout=10)
        assert r.status_code == 307 and r.content == b""
        assert r.headers["Cache-Control"] == "no-store"
        assert r.headers["Location"].startswith(f"{h.s3_proxy.url}/{h.bucket}/{PREFIX}/items/")
        anon = requests.get(broadcast["url"], allow_redirects=False, timeout=10)
        assert anon.status_code == 401 and "Location" not in anon.headers
        head = requests.head(broadcast["url"], headers=h.auth, allow_redirects=False, timeout=10)
        assert head.status_code == 307
        at_s3 = requests.head(head.headers["Location"], timeout=10)
        assert at_s3.status_code == 200 and int(at_s3.headers["Content-Length"]) == len(data)
        assert [s.method for s in h.s3_requests(f"items/{item_id}/broadcast.mp4")][-1] == "HEAD"

        # the client's download job: cut at the store, then resumed with Range + If-Range
        hub_bytes_before = h.hub_proxy.bytes_down
        job.headers = dict(h.auth)
        spec = DownloadSpec(
            broadcast["url"], job.tmp / "one.mp4", sha256=broadcast["sha256"], segments=1
        )
        h.s3_proxy.rate_bps = 4_000_000  # the client reads as bytes arrive, before the reset
        h.s3_proxy.reset_after(3 * MIB)
        with pytest.raises(RetryableError, match="cut"):
            job.run(spec)
        h.s3_proxy.wait_for_event("reset_after")
        kept = job.done_bytes()
        assert 0 < kept < len(data)
        s3_etag = objects[f"items/{item_id}/broadcast.mp4"]["ETag"]
        assert job.checkpoint.data["etag"] == s3_etag  # the store's tag, not the hub's
        h.s3_proxy.rate_bps = None
        result = job.run(spec)
        assert result.sha256 == broadcast["sha256"] and spec.dest.read_bytes() == data
        assert result.bytes_fetched == len(data) - kept and not result.restarted
        resumed = h.s3_requests(f"items/{item_id}/broadcast.mp4")[-1]
        assert resumed.method == "GET" and resumed.presigned and resumed.status == 206
        assert resumed.headers["range"] == f"bytes={kept}-"
        assert resumed.headers["if-range"] == s3_etag

        # and several streams, each piece asking the hub for a URL
        seg = job.run(
            DownloadSpec(broadcast["url"], job.tmp / "four.mp4", sha256=broadcast["sha256"])
        )
        # (the end game may fetch a tail twice: bytes_fetched counts every byte received)
        assert seg.sha256 == broadcast["sha256"] and seg.bytes_fetched >= len(data)
        ranged = [
            s
            for s in h.s3_requests(f"items/{item_id}/broadcast.mp4")
            if s.method == "GET" and s.status == 206
        ]
        assert len(ranged) >= 3

        # the bytes came from the store; the hub sent redirects only
        fetched = (len(data) - kept) + kept + seg.bytes_fetched
        served = sum(
            s.sent for s in h.s3_requests(f"items/{item_id}/broadcast.mp4") if s.method == "GET"
        )
        assert served >= fetched
        assert h.hub_proxy.bytes_down - hub_bytes_before < 64 * 1024

        # the thumbnail too, with requests following the redirect (it drops the token)
        thumb = requests.get(item["thumbnail_url"], headers=h.auth, timeout=10)
        assert thumb.status_code == 200 and thumb.headers["Content-Type"] == "image/jpeg"
        assert thumb.history[0].status_code == 307
        assert thumb.content == h.object_bytes(f"items/{item_id}/thumbnail.jpg")
        assert_token_never_reached_s3(h)


def test_member_upload_via_tus_ends_as_an_item_in_the_bucket(
    tmp_path: Path, s3: S3Server, clip: Path
) -> None:
    with s3_hub(tmp_path, s3) as h:
        sha = sha256_of(clip)
        meta = {"filename": "Nairobi floods.mp4", "sha256": sha, "title": "Flooded roads"}
        uploader = tus.TusClient(h.url("/uploads/"), headers=h.auth).uploader(
            file_path=str(clip), chunk_size=32 * 1024, metadata=meta
        )
        uploader.upload()

        def outcome() -> dict[str, Any] | None:
            status: dict[str, Any] = requests.get(uploader.url, headers=h.auth, timeout=10).json()
            return status if status["state"] in ("published", "failed") else None

        status = wait_until(outcome, 60, interval=0.1, what="the upload to be published")
        assert status["state"] == "published", status
        item_id = status["item_id"]
        objects = h.objects(f"items/{item_id}/")
        assert set(objects) == {
            f"items/{item_id}/broadcast.mp4",
            f"items/{item_id}/proxy.mp4",
            f"items/{item_id}/thumbnail.jpg",
        }
        assert hashlib.sha256(h.object_bytes(f"items/{item_id}/broadcast.mp4")).hexdigest() == sha
        # the upload's bytes on the hub's volume are gone once the item has them
        uploads = h.live.hub.settings.uploads_dir
        wait_until(lambda: not any(uploads.iterdir()), 10, what="the upload's bytes to go")
        assert not (h.live.tmp / "hub" / "storage" / "items").exists()

        # another member downloads it through the store
        rts = h.live.login("rts")
        item = rts.get(h.url(f"/items/{item_id}"), timeout=10).json()
        broadcast = next(r for r in item["renditions"] if r["name"] == "broadcast")
        assert broadcast["sha256"] == sha and broadcast["filename"] == "Nairobi floods.mp4"
        got = rts.get(broadcast["url"], timeout=10)
        assert got.history[0].status_code == 307 and got.url.startswith(h.s3_proxy.url)
        assert hashlib.sha256(got.content).hexdigest() == sha
        assert "Nairobi%20floods.mp4" in got.headers["Content-Disposition"]
        assert got.headers["Content-Type"] == "video/mp4"
        assert_token_never_reached_s3(h)


def test_an_expired_url_is_refused_and_the_retry_asks_the_hub_again(
    tmp_path: Path,
    s3: S3Server,
    big_clip: Path,
    job: Job,  # noqa: F811
) -> None:
    # URLs live 3 s: a fresh one has 2 s at least (X-Amz-Date is in whole seconds)
    with s3_hub(tmp_path, s3, s3_url_ttl_s=3) as h:
        item_id = h.live.publish(big_clip)
        key = f"items/{item_id}/broadcast.mp4"
        url = h.url(f"/items/{item_id}/renditions/broadcast")
        data = big_clip.read_bytes()
        job.headers = dict(h.auth)
        spec = DownloadSpec(url, job.tmp / "c.mp4", sha256=sha256_of(big_clip), segments=1)
        h.s3_proxy.rate_bps = 4_000_000
        h.s3_proxy.reset_after(2 * MIB)
        with pytest.raises(RetryableError, match="cut"):
            job.run(spec)
        h.s3_proxy.rate_bps = None
        kept = job.done_bytes()
        assert 0 < kept < len(data)
        used = h.s3_requests(key)[-1]
        assert used.presigned and used.status == 200
        old = h.s3.url_of(used, h.s3_proxy.url)

        # the link the first run used expires: the store refuses it
        refused = wait_until(
            lambda: (r := requests.get(old, timeout=10)).status_code == 403 and r.content,
            15,
            interval=0.2,
            what="the presigned URL to expire",
        )
        assert b"<Code>AccessDenied</Code>" in refused and b"Request has expired" in refused

        # the retry goes through the hub, gets a fresh URL and resumes from where it stood
        asked_hub = h.hub_proxy.bytes_up
        result = job.run(spec)
        assert result.sha256 == sha256_of(big_clip) and spec.dest.read_bytes() == data
        assert result.bytes_fetched == len(data) - kept and not result.restarted
        assert h.hub_proxy.bytes_up > asked_hub  # it asked the hub again
        resumed = h.s3_requests(key)[-1]
        assert resumed.status == 206 and resumed.headers["range"] == f"bytes={kept}-"
        assert resumed.query["X-Amz-Signature"] != used.query["X-Amz-Signature"]
        # a client holding on to the old URL would fail for good (403 is final for the job);
        # the job never does: every request, a retry's too, starts at the hub's URL
        # (with no token: the queue gives the hub's token to the hub's origin only)
        job.headers = {}
        with pytest.raises(PermanentError, match="refused access"):
            job.run(DownloadSpec(old, job.tmp / "other.mp4"))
        assert_token_never_reached_s3(h)


def test_start_up_recovery_lists_the_bucket(
    tmp_path: Path, s3: S3Server, clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alu_hub import app as app_module

    monkeypatch.setattr(app_module, "KNOWN_MARGIN", dt.timedelta(0))
    with s3_hub(tmp_path, s3, s3_orphan_grace_s=0) as h:
        hub = h.live.hub
        now = dt.datetime.now(dt.UTC)  # (S3 times are whole seconds: the times are set apart)
        with hub.db.session() as s:  # the database is an hour old
            made = s.get(KeyValue, "created_at")
            assert made is not None
            made.value = (now - dt.timedelta(hours=1)).isoformat()
        kept = publish_file(
            hub, clip, ItemFields(title="Kept"), published_at=now - dt.timedelta(minutes=1)
        ).id

        # a publish that fails at its commit leaves no object behind
        def boom(*_: Any) -> None:
            raise PublishError("refused in the transaction")

        with pytest.raises(PublishError):
            publish_file(hub, clip, ItemFields(title="Never"), also=boom)
        assert {k.split("/")[1] for k in h.objects("items/")} == {kept}

        # a crash between storing and committing leaves objects no item names
        orphan = "f" * 32
        client = h.s3.client()
        for name in ("broadcast.mp4", "thumbnail.jpg"):
            client.put_object(
                Bucket=h.bucket, Key=f"{PREFIX}/items/{orphan}/{name}", Body=b"half a publish"
            )
        assert isinstance(hub.storage, S3Storage)
        hub.storage.orphan_grace_s = 3600  # young objects may be another replica's publish
        recover(hub)
        assert {k.split("/")[1] for k in h.objects("items/")} == {kept, orphan}
        hub.storage.orphan_grace_s = 0
        recover(hub)  # newer than every item: maybe another database's (a restored backup's)
        assert {k.split("/")[1] for k in h.objects("items/")} == {kept, orphan}
        later = publish_file(
            hub, clip, ItemFields(title="Later"), published_at=now + dt.timedelta(minutes=1)
        ).id
        recover(hub)  # older than an item published since: a crash's, it goes
        assert {k.split("/")[1] for k in h.objects("items/")} == {kept, later}
        r = requests.get(h.url(f"/items/{kept}/renditions/proxy"), headers=h.auth, timeout=10)
        assert r.status_code == 200 and r.history[0].status_code == 307
