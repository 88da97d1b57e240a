"""The tus 1.0.0 upload endpoint, against a real uvicorn on loopback, with requests and tuspy."""

from __future__ import annotations

import base64
import datetime as dt
import errno
import functools
import hashlib
import http.client
import json
import os
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import requests
from fastapi import FastAPI
from sqlalchemy import update
from tusclient import client as tus_client

from alu_hub.auth import hash_password, issue_token
from alu_hub.db import Database
from alu_hub.errors import install_handlers
from alu_hub.hub import Hub
from alu_hub.models import Member, Upload, utcnow
from alu_hub.server import RunningHub, serve_in_thread
from alu_hub.storage import LocalStorage
from alu_hub.tus import expire_uploads, parse_metadata, republish_uploads, tus_router
from alu_hub.tus import join as tus_join
from alu_hub.tus import locks as tus_locks
from alu_hub.tus import protocol as tus_protocol
from alu_hub.tus import routes as tus_routes
from alu_hub.tus import state as tus_state
from alu_hub.tus.state import PUBLISH_STALE_S
from tests.support.livehub import hub_database_url, hub_settings
from tests.support.nginx import reverse_proxy
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(60)

MIB = 1024 * 1024
GIB = 1024 * MIB
MAX_UPLOAD = 64 * MIB
MAX_CHUNK = 8 * MIB
OFFSET_STREAM = "application/offset+octet-stream"


@dataclass
class Env:
    hub: Hub
    server: RunningHub
    tmp: Path
    token: str
    other_token: str
    completed: list[str] = field(default_factory=list)
    completed_cv: threading.Condition = field(default_factory=threading.Condition)

    @property
    def base(self) -> str:
        return f"{self.server.url}/api/v1/uploads/"

    def headers(self, token: str | None = None, **extra: str) -> dict[str, str]:
        h = {"Tus-Resumable": "1.0.0", "Authorization": f"Bearer {token or self.token}"}
        h.update({k.replace("_", "-"): v for k, v in extra.items()})
        return h

    def path(self, url: str) -> Path:
        return self.hub.settings.uploads_dir / upload_id(url)

    def row(self, url: str) -> Upload:
        with self.hub.db.session() as s:
            up = s.get(Upload, upload_id(url))
            assert up is not None
            s.expunge(up)
            return up

    def wait_completed(self, uid: str, timeout: float = 10.0) -> None:
        with self.completed_cv:
            assert self.completed_cv.wait_for(lambda: uid in self.completed, timeout), (
                f"on_upload_complete was not called for {uid}: {self.completed}"
            )

    def create(self, data: bytes | None = None, *, token: str | None = None, **extra: str) -> str:
        meta = {"filename": "clip.mp4", "sha256": hashlib.sha256(data or b"").hexdigest()}
        hdrs = {"Upload-Metadata": encode_meta(meta)}
        if data is not None:
            hdrs["Upload-Length"] = str(len(data))
        hdrs.update({k.replace("_", "-"): v for k, v in extra.items()})
        r = requests.post(self.base, headers={**self.headers(token), **hdrs}, timeout=10)
        assert r.status_code == 201, r.text
        return r.headers["Location"]

    def patch(
        self, url: str, offset: int, body: bytes, *, token: str | None = None, **extra: str
    ) -> requests.Response:
        hdrs = self.headers(token, Upload_Offset=str(offset), Content_Type=OFFSET_STREAM)
        hdrs.update({k.replace("_", "-"): v for k, v in extra.items()})
        return requests.patch(url, data=body, headers=hdrs, timeout=30)

    def head(self, url: str, token: str | None = None) -> requests.Response:
        return requests.head(url, headers=self.headers(token), timeout=10)


def upload_id(url: str) -> str:
    return urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def encode_meta(meta: dict[str, str]) -> str:
    return ",".join(f"{k} {b64(v)}" for k, v in meta.items())


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return -1


@functools.cache
def password_hash() -> str:
    return hash_password("x")  # argon2 is slow on purpose: once for the whole file


def make_env(tmp_path: Path, **settings: Any) -> tuple[Env, Callable[[], None]]:
    db = Database(hub_database_url(tmp_path))
    db.migrate()
    hub = Hub(
        settings=hub_settings(tmp_path, **settings),
        db=db,
        storage=LocalStorage(tmp_path / "storage"),
    )
    with db.session() as s:
        alice = Member(username="alice", password_hash=password_hash(), country="KE")
        bob = Member(username="bob", password_hash=password_hash(), country="NG")
        s.add_all([alice, bob])
        s.flush()
        token, _ = issue_token(s, alice, "test", 3600)
        other, _ = issue_token(s, bob, "test", 3600)
    app = FastAPI()
    app.state.hub = hub
    install_handlers(app)
    app.include_router(tus_router())
    server = serve_in_thread(app)
    env = Env(hub=hub, server=server, tmp=tmp_path, token=token, other_token=other)

    def on_complete(uid: str) -> None:
        with env.completed_cv:
            env.completed.append(uid)
            env.completed_cv.notify_all()

    hub.on_upload_complete = on_complete

    def close() -> None:
        server.stop()
        db.dispose()

    return env, close


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e, close = make_env(tmp_path, max_upload_size=MAX_UPLOAD, max_chunk_size=MAX_CHUNK)
    yield e
    close()


class RawPatch:
    """A PATCH written by hand on a socket, to cut it mid-body or leave it hanging."""

    def __init__(self, env: Env, url: str, offset: int, content_length: int) -> None:
        u = urlsplit(url)
        assert u.hostname is not None and u.port is not None
        self.sock = socket.create_connection((u.hostname, u.port), timeout=10)
        head = (
            f"PATCH {u.path} HTTP/1.1\r\nHost: {u.netloc}\r\n"
            f"Authorization: Bearer {env.token}\r\nTus-Resumable: 1.0.0\r\n"
            f"Upload-Offset: {offset}\r\nContent-Type: {OFFSET_STREAM}\r\n"
            f"Content-Length: {content_length}\r\n\r\n"
        )
        self.sock.sendall(head.encode())

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_head(self) -> str:
        got = b""
        while b"\r\n\r\n" not in got:
            more = self.sock.recv(4096)
            if not more:
                break
            got += more
        return got.decode("latin-1")

    def close(self) -> None:
        self.sock.close()


# --- discovery, versions, auth ----------------------------------------------------------------


def test_options_advertises_tus(env: Env) -> None:
    for url in (env.base, env.base.rstrip("/")):
        r = requests.options(url, headers={"Authorization": f"Bearer {env.token}"}, timeout=10)
        assert r.status_code == 204
        assert r.headers["Tus-Resumable"] == "1.0.0"
        assert r.headers["Tus-Version"] == "1.0.0"
        assert r.headers["Tus-Max-Size"] == str(MAX_UPLOAD)
        assert set(r.headers["Tus-Extension"].split(",")) == {
            "creation",
            "creation-with-upload",
            "creation-defer-length",
            "termination",
            "expiration",
            "checksum",
            "concatenation",
            "concatenation-unfinished",
        }
        assert r.headers["Tus-Checksum-Algorithm"] == "sha1,sha256,md5,crc32"
        features = r.headers["Alu-Tus-Features"].split(",")
        assert set(features) == {"final-upload-of-part", "crc32-big-endian"}


def test_without_tus_resumable_412(env: Env) -> None:
    auth = {"Authorization": f"Bearer {env.token}"}
    r = requests.post(env.base, headers={**auth, "Upload-Length": "10"}, timeout=10)
    assert r.status_code == 412
    assert r.headers["Tus-Version"] == "1.0.0"
    assert r.headers["Tus-Resumable"] == "1.0.0"
    assert r.json()["error"]["code"] == "tus_version"
    r = requests.post(env.base, headers={**auth, "Tus-Resumable": "0.2.2"}, timeout=10)
    assert r.status_code == 412
    url = env.create(b"x" * 10)
    r = requests.head(url, headers=auth, timeout=10)
    assert r.status_code == 412
    r = requests.patch(
        url, data=b"x", headers={**auth, "Upload-Offset": "0", "Content-Type": OFFSET_STREAM}
    )
    assert r.status_code == 412
    assert env.row(url).offset == 0
    assert requests.delete(url, headers=auth, timeout=10).status_code == 412
    # OPTIONS (tus) and the JSON status GET (not a tus request) do not need it
    assert requests.options(url, headers=auth, timeout=10).status_code == 204
    r = requests.get(url, headers=auth, timeout=10)
    assert r.status_code == 200 and r.json()["state"] == "receiving"
    assert r.headers["Tus-Resumable"] == "1.0.0"


def test_no_token_401(env: Env) -> None:
    url = env.create(b"y" * 10)
    tus = {"Tus-Resumable": "1.0.0"}
    for method, target in [("OPTIONS", env.base), ("POST", env.base), ("HEAD", url), ("GET", url)]:
        r = requests.request(method, target, headers={**tus, "Upload-Length": "3"}, timeout=10)
        assert r.status_code == 401, method
        assert r.headers["Tus-Resumable"] == "1.0.0"
        if method != "HEAD":
            assert r.json()["error"]["code"] == "no_token"
    r = requests.head(url, headers={**tus, "Authorization": "Bearer nope"}, timeout=10)
    assert r.status_code == 401


def test_other_member_gets_403(env: Env) -> None:
    data = b"z" * 100
    url = env.create(data)
    other = env.other_token
    r = env.head(url, token=other)
    assert r.status_code == 403
    assert r.headers["Tus-Resumable"] == "1.0.0"
    r = env.patch(url, 0, data, token=other)
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "not_your_upload"
    r = requests.delete(url, headers=env.headers(other), timeout=10)
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "not_your_upload"
    r = requests.get(url, headers=env.headers(other), timeout=10)
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "not_your_upload"
    # nothing happened to it
    assert env.row(url).offset == 0 and env.row(url).state == "receiving"
    assert env.head(url).status_code == 200
    r = requests.head(env.base + "doesNotExist", headers=env.headers(), timeout=10)
    assert r.status_code == 404


# --- uploads with tus clients -----------------------------------------------------------------


def test_tuspy_uploads_a_file(env: Env, tmp_path: Path) -> None:
    data = os.urandom(5 * 1000 * 1000)
    src = tmp_path / "source.mp4"
    src.write_bytes(data)
    client = tus_client.TusClient(env.base, headers={"Authorization": f"Bearer {env.token}"})
    uploader = client.uploader(
        file_path=str(src),
        chunk_size=1 * MIB,
        metadata={"filename": "source.mp4", "sha256": hashlib.sha256(data).hexdigest()},
    )
    uploader.upload()
    url = uploader.url
    assert url.startswith(env.server.url + "/api/v1/uploads/")
    uid = upload_id(url)
    assert env.path(url).read_bytes() == data
    env.wait_completed(uid)
    assert env.completed == [uid]
    up = env.row(url)
    assert (up.offset, up.length, up.state) == (len(data), len(data), "processing")
    assert up.meta == {"filename": "source.mp4", "sha256": hashlib.sha256(data).hexdigest()}
    assert up.lock_owner == ""
    r = env.head(url)
    assert r.headers["Alu-Upload-State"] == "processing"
    assert "Upload-Expires" not in r.headers


def test_tuspy_resumes_an_interrupted_upload(env: Env, tmp_path: Path) -> None:
    data = os.urandom(3 * MIB + 12345)
    src = tmp_path / "source.mxf"
    src.write_bytes(data)
    meta = {"filename": "source.mxf", "sha256": hashlib.sha256(data).hexdigest()}
    headers = {"Authorization": f"Bearer {env.token}"}
    first = tus_client.TusClient(env.base, headers=headers).uploader(
        file_path=str(src), chunk_size=MIB, metadata=meta
    )
    first.upload_chunk()
    first.upload_chunk()
    assert first.offset == 2 * MIB
    url = first.url
    assert env.head(url).headers["Upload-Offset"] == str(2 * MIB)
    # a new process, later: same URL, asks the hub for the offset and goes on
    second = tus_client.TusClient(env.base, headers=headers).uploader(
        file_path=str(src), chunk_size=MIB, url=url
    )
    assert second.offset == 2 * MIB
    second.upload()
    assert env.path(url).read_bytes() == data
    env.wait_completed(upload_id(url))
    assert env.completed == [upload_id(url)]


def test_tuspy_checksums_are_verified(env: Env, tmp_path: Path) -> None:
    data = os.urandom(2 * MIB + 7)
    src = tmp_path / "c.mp4"
    src.write_bytes(data)
    uploader = tus_client.TusClient(
        env.base, headers={"Authorization": f"Bearer {env.token}"}
    ).uploader(
        file_path=str(src),
        chunk_size=MIB,
        metadata={"filename": "c.mp4", "sha256": hashlib.sha256(data).hexdigest()},
        upload_checksum=True,
    )
    uploader.upload()
    assert env.path(uploader.url).read_bytes() == data


def test_a_long_arabic_script_upload_resumes_through_the_documented_nginx(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind nginx set up as docs/operations.md §4 says (tests/support/nginx.py copies it), a
    HEAD answers the whole Upload-Metadata: here about 15 KB for a 6,000-character Arabic
    script. With nginx's default proxy_buffer_size (4 KiB) that HEAD got 502 ("upstream sent
    too big header"), so no tus client could ever resume such an upload."""
    data = os.urandom(3 * MIB)
    src = tmp_path / "long.mp4"
    src.write_bytes(data)
    script = ("قال الوزير إن المحادثات ستستأنف الأسبوع المقبل في العاصمة. " * 200)[:6000]
    meta = {
        "filename": "long.mp4",
        "sha256": hashlib.sha256(data).hexdigest(),
        "title": "محادثات",
        "language": "ar",
        "script": script,
    }
    assert len(encode_meta(meta)) > 12_000
    port = urlsplit(env.server.url).port
    assert port is not None
    headers = {"Authorization": f"Bearer {env.token}"}
    with reverse_proxy(tmp_path / "nginx", [port]) as nginx:
        base = nginx.url + "/api/v1/uploads/"
        first = tus_client.TusClient(base, headers=headers).uploader(
            file_path=str(src), chunk_size=MIB, metadata=meta
        )
        first.upload_chunk()  # then the link drops
        url = first.url
        assert url.startswith(nginx.url)
        r = requests.head(url, headers=env.headers(), timeout=10)
        assert r.status_code == 200, (r.status_code, nginx.error_log()[-300:])
        assert r.headers["Upload-Offset"] == str(MIB)
        assert parse_metadata(r.headers["Upload-Metadata"])["script"] == script
        # a new run resumes by HEAD, as every tus client does (ours, tuspy, tus-js-client)
        second = tus_client.TusClient(base, headers=headers).uploader(
            file_path=str(src), chunk_size=MIB, url=url
        )
        assert second.offset == MIB
        second.upload()
        # the longest texts the client allows (three of 20,000 Arabic characters) fit too (a
        # header line of 145 KB: more than http.client reads by default)
        monkeypatch.setattr(http.client, "_MAXLINE", 1 << 20)
        long_text = (script * 4)[:20_000]
        longest = {**meta, **dict.fromkeys(("script", "shotlist", "restrictions"), long_text)}
        big = requests.post(
            base,
            headers=env.headers(Upload_Length="10", Upload_Metadata=encode_meta(longest)),
            timeout=10,
        )
        assert big.status_code == 201, big.text
        r = requests.head(big.headers["Location"], headers=env.headers(), timeout=10)
        assert r.status_code == 200 and len(r.headers["Upload-Metadata"]) > 140_000
        assert "too big header" not in nginx.error_log()
    assert env.path(url).read_bytes() == data
    env.wait_completed(upload_id(url))


# --- PATCH ------------------------------------------------------------------------------------


def test_patch_cut_mid_body_keeps_received_bytes(env: Env) -> None:
    data = os.urandom(6 * MIB)
    url = env.create(data)
    raw = RawPatch(env, url, 0, len(data))
    sent = 3 * MIB
    try:
        raw.send(data[:sent])
        # the hub writes in ~1 MiB pieces: a second one means at least 2 MiB arrived
        wait_until(lambda: file_size(env.path(url)) >= 2 * MIB, what="the hub to write 2 MiB")
    finally:
        raw.close()  # the link drops: the rest never comes
    r = wait_until(
        lambda: (h := env.head(url)).status_code == 200 and env.row(url).lock_owner == "" and h,
        what="the cut PATCH to be stored",
    )
    kept = int(r.headers["Upload-Offset"])
    assert 2 * MIB <= kept <= sent
    assert env.path(url).read_bytes()[:kept] == data[:kept]
    assert env.row(url).offset == kept
    r = env.patch(url, kept, data[kept:])
    assert r.status_code == 204, r.text
    assert r.headers["Upload-Offset"] == str(len(data))
    assert env.path(url).read_bytes() == data
    env.wait_completed(upload_id(url))


def test_wrong_offset_409(env: Env) -> None:
    data = os.urandom(4000)
    url = env.create(data)
    assert env.patch(url, 0, data[:1000]).status_code == 204
    r = env.patch(url, 0, data[:1000])
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "offset_mismatch"
    assert r.headers["Upload-Offset"] == "1000"
    r = env.patch(url, 2000, data[2000:])
    assert r.status_code == 409
    assert env.path(url).read_bytes() == data[:1000]
    r = env.patch(url, 1000, data[1000:])
    assert r.status_code == 204
    assert env.path(url).read_bytes() == data


def test_415_wrong_content_type(env: Env) -> None:
    url = env.create(b"a" * 10)
    r = requests.patch(
        url,
        data=b"a" * 10,
        headers=env.headers(Upload_Offset="0", Content_Type="application/octet-stream"),
        timeout=10,
    )
    assert r.status_code == 415
    assert r.json()["error"]["code"] == "bad_content_type"
    assert env.row(url).offset == 0


def test_413_upload_and_chunk_limits(env: Env) -> None:
    r = requests.post(
        env.base,
        headers=env.headers(
            Upload_Length=str(MAX_UPLOAD + 1),
            Upload_Metadata=encode_meta({"filename": "big.mxf", "sha256": "0" * 64}),
        ),
        timeout=10,
    )
    assert r.status_code == 413
    err = r.json()["error"]
    assert err["code"] == "upload_too_large"
    assert "64 MiB (67108864 bytes)" in err["message"]

    data = os.urandom(MAX_CHUNK + 1)
    url = env.create(data)
    r = env.patch(url, 0, data)
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "chunk_too_large"
    assert r.headers["Connection"] == "close"  # the rest of the body is not read
    assert env.row(url).offset == 0
    # beyond Upload-Length: refused, nothing written
    small = env.create(b"s" * 10)
    r = env.patch(small, 0, b"s" * 11)
    assert r.status_code == 413
    assert file_size(env.path(small)) == 0
    assert env.patch(url, 0, data[:MAX_CHUNK]).status_code == 204
    assert env.patch(url, MAX_CHUNK, data[MAX_CHUNK:]).status_code == 204
    assert env.path(url).read_bytes() == data


def test_a_tus_client_sending_the_whole_file_in_one_patch_is_not_refused(tmp_path: Path) -> None:
    """By default a chunk has no cap but the upload's length: tus-js-client, Uppy and tuspy send
    the whole file in one PATCH (their default chunk size) and give up on a 413. The hub used to
    refuse any PATCH over 1 GiB before reading it (413 chunk_too_large), so their uploads of
    larger files failed for good."""
    e, close = make_env(tmp_path, max_upload_size=64 * GIB)
    try:
        data = os.urandom(12 * MIB)
        src = tmp_path / "whole.mp4"
        src.write_bytes(data)
        uploader = tus_client.TusClient(
            e.base, headers={"Authorization": f"Bearer {e.token}"}
        ).uploader(
            file_path=str(src),
            metadata={"filename": "whole.mp4", "sha256": hashlib.sha256(data).hexdigest()},
        )  # tuspy's default chunk size: the whole file
        uploader.upload_chunk()  # one PATCH
        assert uploader.offset == len(data)
        e.wait_completed(upload_id(uploader.url))
        assert e.path(uploader.url).read_bytes() == data
        # a PATCH of the whole of a 1.5 GiB file (more than the old cap) is taken too: its
        # first MiBs are stored as they arrive, and kept when the link drops
        length = 3 * GIB // 2
        url = e.create(None, Upload_Length=str(length))
        raw = RawPatch(e, url, 0, length)
        try:
            raw.send(os.urandom(3 * MIB))
            wait_until(lambda: file_size(e.path(url)) >= 2 * MIB, what="the hub to write 2 MiB")
        finally:
            raw.close()
        wait_until(lambda: e.row(url).lock_owner == "", what="the cut PATCH to be stored")
        assert 2 * MIB <= int(e.head(url).headers["Upload-Offset"]) <= 3 * MIB
    finally:
        close()


def test_a_body_refused_for_its_size_closes_the_connection(env: Env) -> None:
    """A 413 answered before the body is read closes the connection (Connection: close): kept
    alive, the hub read and threw away all of the body (200 MiB in 0.1 s on loopback; hours over
    a slow link for a client that sends it all before it reads the answer)."""
    url = env.create(b"x" * 10)
    raw = RawPatch(env, url, 0, 6 * MIB)  # beyond the upload's length (and under the cap)
    try:
        raw.sock.settimeout(5)
        raw.send(b"x" * MIB)
        head = raw.read_head()
        assert head.startswith("HTTP/1.1 413"), head
        assert "connection: close" in head.lower()
        # the hub closed its end: no more is read, however much the client still has to send
        closed = False
        try:
            for _ in range(1000):
                if not raw.sock.recv(65536):
                    closed = True
                    break
        except ConnectionResetError:
            closed = True
        except TimeoutError:  # still open, waiting for (and throwing away) the rest
            closed = False
        assert closed
    finally:
        raw.close()
    assert file_size(env.path(url)) == 0 and env.row(url).offset == 0


def test_checksum_mismatch_460_and_sha1_accepted(env: Env) -> None:
    data = os.urandom(300_000)
    url = env.create(data)
    assert env.patch(url, 0, data[:100_000]).status_code == 204
    chunk = data[100_000:200_000]
    wrong = base64.b64encode(hashlib.sha1(b"other").digest()).decode()
    r = env.patch(url, 100_000, chunk, Upload_Checksum=f"sha1 {wrong}")
    assert r.status_code == 460
    assert r.json()["error"]["code"] == "checksum_mismatch"
    assert env.head(url).headers["Upload-Offset"] == "100000"
    assert file_size(env.path(url)) == 100_000
    good = base64.b64encode(hashlib.sha1(chunk).digest()).decode()
    r = env.patch(url, 100_000, chunk, Upload_Checksum=f"sha1 {good}")
    assert r.status_code == 204
    assert r.headers["Upload-Offset"] == "200000"
    rest = data[200_000:]
    sha512 = base64.b64encode(hashlib.sha512(rest).digest()).decode()
    r = env.patch(url, 200_000, rest, Upload_Checksum=f"sha512 {sha512}")
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "checksum_unsupported"
    md5 = base64.b64encode(hashlib.md5(rest).digest()).decode()
    assert env.patch(url, 200_000, rest, Upload_Checksum=f"md5 {md5}").status_code == 204
    assert env.path(url).read_bytes() == data


def test_crc32_is_isals_and_gives_zlibs_values() -> None:
    """The hub checks crc32 Upload-Checksums with ISA-L's CRC (a dependency: 3-5x zlib's
    speed), which must give zlib's values."""
    isal_zlib = pytest.importorskip("isal.isal_zlib")
    assert tus_protocol._crc32 is isal_zlib.crc32
    data = os.urandom(1 << 20)
    for n in (0, 1, 7, 64, 4095, 65_537, 1 << 20):
        crc = tus_protocol.new_digest("crc32")
        crc.update(memoryview(data)[3 : 3 + n])
        crc.update(data[:n])
        assert crc.digest() == zlib.crc32(data[:n], zlib.crc32(data[3 : 3 + n])).to_bytes(4, "big")


def test_crc32_checksums(env: Env) -> None:
    data = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(9375))
    url = env.create(data)

    def crc32(chunk: bytes) -> str:
        return base64.b64encode(zlib.crc32(chunk).to_bytes(4, "big")).decode()

    first = data[:100_000]
    damaged = bytes([first[0] ^ 1]) + first[1:]
    r = env.patch(url, 0, damaged, Upload_Checksum=f"crc32 {crc32(first)}")
    assert r.status_code == 460
    assert r.json()["error"]["code"] == "checksum_mismatch"
    assert file_size(env.path(url)) == 0
    # little-endian is not the encoding: the same value's bytes reversed do not match
    reversed_le = base64.b64encode(zlib.crc32(first).to_bytes(4, "little")).decode()
    assert reversed_le != crc32(first)
    r = env.patch(url, 0, first, Upload_Checksum=f"crc32 {reversed_le}")
    assert r.status_code == 460
    r = env.patch(url, 0, first, Upload_Checksum=f"CRC32 {crc32(first)}")
    assert (r.status_code, r.headers["Upload-Offset"]) == (204, "100000")
    r = env.patch(url, 100_000, data[100_000:], Upload_Checksum="crc32 AAAA")  # 3 bytes
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "bad_checksum"
    r = env.patch(url, 100_000, data[100_000:], Upload_Checksum=f"crc32 {crc32(data[100_000:])}")
    assert r.status_code == 204
    assert env.path(url).read_bytes() == data


def test_checksum_chunk_cut_mid_body_is_discarded(env: Env) -> None:
    data = os.urandom(4 * MIB)
    url = env.create(data)
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
    u = urlsplit(url)
    assert u.port is not None
    sock = socket.create_connection(("127.0.0.1", u.port), timeout=10)
    try:
        sock.sendall(
            (
                f"PATCH {u.path} HTTP/1.1\r\nHost: {u.netloc}\r\n"
                f"Authorization: Bearer {env.token}\r\nTus-Resumable: 1.0.0\r\n"
                f"Upload-Offset: 0\r\nContent-Type: {OFFSET_STREAM}\r\n"
                f"Upload-Checksum: sha256 {digest}\r\nContent-Length: {len(data)}\r\n\r\n"
            ).encode()
            + data[: 3 * MIB]
        )
        wait_until(lambda: file_size(env.path(url)) >= 2 * MIB, what="the hub to write")
    finally:
        sock.close()
    wait_until(lambda: env.row(url).lock_owner == "", what="the PATCH to end")
    assert env.head(url).headers["Upload-Offset"] == "0"
    assert file_size(env.path(url)) == 0


def test_crash_lost_bytes_the_file_wins(env: Env) -> None:
    data = os.urandom(3 * MIB)
    url = env.create(data)
    assert env.patch(url, 0, data[: 2 * MIB]).status_code == 204
    os.truncate(env.path(url), MIB)  # the disk lost what the database says arrived
    assert env.head(url).headers["Upload-Offset"] == str(MIB)
    assert env.row(url).offset == MIB
    r = env.patch(url, 2 * MIB, data[2 * MIB :])
    assert r.status_code == 409
    assert r.headers["Upload-Offset"] == str(MIB)
    assert env.patch(url, MIB, data[MIB:]).status_code == 204
    assert env.path(url).read_bytes() == data


def test_method_override(env: Env) -> None:
    data = os.urandom(1000)
    url = env.create(data)
    hdrs = env.headers(
        Upload_Offset="0", Content_Type=OFFSET_STREAM, X_HTTP_Method_Override="PATCH"
    )
    r = requests.post(url, data=data, headers=hdrs, timeout=10)
    assert r.status_code == 204
    assert r.headers["Upload-Offset"] == "1000"
    assert env.path(url).read_bytes() == data
    other = env.create(b"q" * 10)
    r = requests.post(other, headers=env.headers(X_HTTP_Method_Override="DELETE"), timeout=10)
    assert r.status_code == 204
    assert env.row(other).state == "terminated"


def read_response(sock: socket.socket, buf: bytearray) -> tuple[str, dict[str, str], bytes]:
    """One response read from ``sock`` (``buf`` keeps what came after it): its status line,
    headers (lower-case names) and the body its Content-Length frames."""
    while b"\r\n\r\n" not in buf:
        more = sock.recv(65536)
        assert more, f"the connection closed before a whole response head: {bytes(buf)!r}"
        buf += more
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines)}
    size = int(headers["content-length"])
    buf[:] = rest
    while len(buf) < size:
        more = sock.recv(65536)
        assert more, f"the connection closed {size - len(buf)} bytes short of the body"
        buf += more
    body = bytes(buf[:size])
    del buf[:size]
    return status, headers, body


def test_a_head_sent_as_post_gets_a_well_framed_answer(env: Env) -> None:
    """POST + X-HTTP-Method-Override: HEAD is a HEAD (tus: MUST be interpreted), but its answer
    is a POST's: it announced the JSON status's Content-Length and sent no body, so the
    connection broke (RuntimeError in the log) and a request pipelined after it was lost."""
    url = env.create(b"abc")
    assert env.patch(url, 0, b"ab").status_code == 204
    u = urlsplit(url)
    assert u.port is not None
    auth = f"Authorization: Bearer {env.token}\r\nHost: {u.netloc}\r\n"
    with socket.create_connection(("127.0.0.1", u.port), timeout=10) as sock:
        sock.sendall(
            (
                f"POST {u.path} HTTP/1.1\r\n{auth}Tus-Resumable: 1.0.0\r\n"
                "X-HTTP-Method-Override: HEAD\r\nContent-Length: 0\r\n\r\n"
                f"GET {u.path} HTTP/1.1\r\n{auth}\r\n"
            ).encode()
        )
        buf = bytearray()
        status, headers, body = read_response(sock, buf)
        assert status.startswith("HTTP/1.1 200")
        assert (headers["content-length"], body) == ("0", b"")
        assert headers["upload-offset"] == "2" and headers["upload-length"] == "3"
        assert parse_metadata(headers["upload-metadata"])["filename"] == "clip.mp4"
        status, headers, body = read_response(sock, buf)  # the pipelined GET
        assert status.startswith("HTTP/1.1 200")
        assert json.loads(body)["offset"] == 2
        assert buf == b""
    # a real HEAD still says the length of what a GET would send (RFC 9110 §8.6)
    h = env.head(url)
    assert int(h.headers["Content-Length"]) == len(
        requests.get(url, headers=env.headers(), timeout=10).content
    )


# --- creation ---------------------------------------------------------------------------------


def test_metadata_is_required_and_checked(env: Env) -> None:
    def post(meta: str) -> requests.Response:
        return requests.post(
            env.base, headers=env.headers(Upload_Length="10", Upload_Metadata=meta), timeout=10
        )

    r = post(f"filename {b64('a.mp4')}")
    assert r.status_code == 400
    assert "sha256" in r.json()["error"]["message"]
    assert post(f"filename {b64('a.mp4')},sha256 {b64('abc')}").status_code == 400
    r = post(f"sha256 {b64('a' * 64)}")
    assert r.status_code == 400
    assert "filename" in r.json()["error"]["message"]
    assert post(f"filename !!!notbase64,sha256 {b64('a' * 64)}").status_code == 400
    dup = f"filename {b64('a')},filename {b64('b')},sha256 {b64('a' * 64)}"
    assert post(dup).status_code == 400
    r = post(f"filename {b64('a.mp4')},sha256 {b64('AB' * 32)},empty")
    assert r.status_code == 201
    up = env.row(r.headers["Location"])
    assert up.meta == {"filename": "a.mp4", "sha256": "AB" * 32, "empty": ""}  # as sent
    head = env.head(r.headers["Location"])
    assert parse_metadata(head.headers["Upload-Metadata"]) == up.meta
    assert requests.post(env.base, headers=env.headers(), timeout=10).status_code == 400


def test_head_gives_the_metadata_back_as_the_client_sent_it(env: Env) -> None:
    """tus core: a HEAD's Upload-Metadata is the value "as specified by the Client during the
    creation". Unpadded base64 (which tus allows), the client's own key order and a key with
    no value came back decoded and encoded again: other bytes than those sent."""
    data = b"twelve bytes"
    digest = hashlib.sha256(data).hexdigest()
    sent = (
        f"title {b64('Floods')},  filename {b64('a.mp4').rstrip('=')}"
        f",empty,sha256 {b64(digest).rstrip('=')}"
    )
    assert sent != encode_meta(parse_metadata(sent))  # unpadded: not what encoding gives
    r = requests.post(
        env.base,
        headers=env.headers(Upload_Length=str(len(data)), Upload_Metadata=sent),
        timeout=10,
    )
    assert r.status_code == 201, r.text
    url = r.headers["Location"]
    assert env.head(url).headers["Upload-Metadata"] == sent
    assert env.row(url).meta == {
        "title": "Floods",
        "filename": "a.mp4",
        "empty": "",
        "sha256": digest,
    }


def test_filename_is_only_metadata(env: Env) -> None:
    data = b"not a password file"
    evil = "../../etc/passwd"
    meta = {"filename": evil, "sha256": hashlib.sha256(data).hexdigest()}
    r = requests.post(
        env.base,
        headers=env.headers(Upload_Length=str(len(data)), Upload_Metadata=encode_meta(meta)),
        timeout=10,
    )
    assert r.status_code == 201
    url = r.headers["Location"]
    uid = upload_id(url)
    assert env.patch(url, 0, data).status_code == 204
    assert env.row(url).meta["filename"] == evil
    assert parse_metadata(env.head(url).headers["Upload-Metadata"])["filename"] == evil
    stored = env.hub.settings.uploads_dir / uid
    assert stored.read_bytes() == data
    assert sorted(p.name for p in env.hub.settings.uploads_dir.iterdir()) == [uid]
    assert not (env.tmp / "etc").exists()


def test_location_is_absolute_and_follows_forwarded_proto(env: Env) -> None:
    meta = encode_meta({"filename": "x", "sha256": "0" * 64})
    r = requests.post(
        env.base.rstrip("/"),
        headers=env.headers(Upload_Length="5", Upload_Metadata=meta, X_Forwarded_Proto="https"),
        timeout=10,
    )
    assert r.status_code == 201
    loc = r.headers["Location"]
    assert loc.startswith("https://127.0.0.1:")
    assert upload_id(loc).replace("-", "").replace("_", "").isalnum()
    assert len(upload_id(loc)) >= 32
    expires = dt.datetime.strptime(r.headers["Upload-Expires"], "%a, %d %b %Y %H:%M:%S GMT")
    expected = utcnow().replace(tzinfo=None) + dt.timedelta(
        seconds=env.hub.settings.upload_expiry_s
    )
    assert abs((expires - expected).total_seconds()) < 60


def test_creation_with_upload(env: Env) -> None:
    data = os.urandom(200_000)
    meta = encode_meta({"filename": "a.mp4", "sha256": hashlib.sha256(data).hexdigest()})
    r = requests.post(
        env.base,
        data=data[:150_000],
        headers=env.headers(
            Upload_Length=str(len(data)), Upload_Metadata=meta, Content_Type=OFFSET_STREAM
        ),
        timeout=10,
    )
    assert r.status_code == 201
    assert r.headers["Upload-Offset"] == "150000"
    url = r.headers["Location"]
    assert env.path(url).read_bytes() == data[:150_000]
    assert env.patch(url, 150_000, data[150_000:]).status_code == 204
    env.wait_completed(upload_id(url))
    # all at once
    r = requests.post(
        env.base,
        data=data,
        headers=env.headers(
            Upload_Length=str(len(data)), Upload_Metadata=meta, Content_Type=OFFSET_STREAM
        ),
        timeout=10,
    )
    assert r.status_code == 201 and r.headers["Upload-Offset"] == str(len(data))
    env.wait_completed(upload_id(r.headers["Location"]))
    assert env.path(r.headers["Location"]).read_bytes() == data


def test_deferred_length(env: Env) -> None:
    data = os.urandom(300_000)
    url = env.create(None, Upload_Defer_Length="1")
    h = env.head(url)
    assert h.headers["Upload-Defer-Length"] == "1"
    assert "Upload-Length" not in h.headers
    assert env.patch(url, 0, data[:100_000]).status_code == 204
    r = env.patch(url, 100_000, data[100_000:], Upload_Length=str(len(data)))
    assert r.status_code == 204
    assert r.headers["Upload-Offset"] == str(len(data))
    h = env.head(url)
    assert h.headers["Upload-Length"] == str(len(data))
    env.wait_completed(upload_id(url))
    assert env.path(url).read_bytes() == data
    # both, or neither
    both = env.headers(Upload_Length="5", Upload_Defer_Length="1")
    assert requests.post(env.base, headers=both, timeout=10).status_code == 400


def test_a_deferred_length_sent_with_a_chunk_that_fails_its_checksum_is_not_kept(
    env: Env,
) -> None:
    """tus checksum: on 460 "the upload and its offset MUST NOT be updated"; the Upload-Length
    that came with the discarded chunk was stored all the same, and the retry with the right
    length was refused (400 bad_length)."""
    data = os.urandom(999)
    url = env.create(None, Upload_Defer_Length="1")
    wrong = base64.b64encode(hashlib.sha1(b"other").digest()).decode()
    r = env.patch(url, 0, data[:100], Upload_Length="1000", Upload_Checksum=f"sha1 {wrong}")
    assert r.status_code == 460
    h = env.head(url)
    assert (h.headers["Upload-Offset"], h.headers.get("Upload-Defer-Length")) == ("0", "1")
    assert "Upload-Length" not in h.headers
    assert env.row(url).length is None
    good = base64.b64encode(hashlib.sha1(data[:100]).digest()).decode()
    r = env.patch(url, 0, data[:100], Upload_Length="999", Upload_Checksum=f"sha1 {good}")
    assert (r.status_code, r.headers["Upload-Offset"]) == (204, "100"), r.text
    assert env.head(url).headers["Upload-Length"] == "999"
    # an empty chunk at the declared end with a wrong checksum completes nothing either
    assert env.patch(url, 100, data[100:998]).status_code == 204
    other = env.create(None, Upload_Defer_Length="1")
    r = env.patch(other, 0, b"", Upload_Length="0", Upload_Checksum=f"sha1 {wrong}")
    assert r.status_code == 460
    assert (env.row(other).length, env.row(other).state) == (None, "receiving")
    assert env.patch(url, 998, data[998:]).status_code == 204
    env.wait_completed(upload_id(url))
    assert env.path(url).read_bytes() == data


# --- termination, status, expiry --------------------------------------------------------------


def test_termination_then_410(env: Env) -> None:
    data = os.urandom(5000)
    url = env.create(data)
    assert env.patch(url, 0, data[:2000]).status_code == 204
    r = requests.delete(url, headers=env.headers(), timeout=10)
    assert r.status_code == 204
    assert r.headers["Tus-Resumable"] == "1.0.0"
    assert not env.path(url).exists()
    assert env.row(url).state == "terminated"
    assert env.head(url).status_code == 410
    r = env.patch(url, 2000, data[2000:])
    assert r.status_code == 410
    assert r.json()["error"]["code"] == "upload_terminated"
    assert requests.get(url, headers=env.headers(), timeout=10).status_code == 410
    assert requests.delete(url, headers=env.headers(), timeout=10).status_code == 410


def test_a_finished_upload_is_not_cancelled_by_delete(env: Env) -> None:
    """Deliberately not tus termination's 204: an upload with all its bytes is (becoming) a
    published item, not taken back by cancelling the upload (README, tus package doc)."""
    data = os.urandom(1000)
    url = env.create(data)
    assert env.patch(url, 0, data).status_code == 204
    env.wait_completed(upload_id(url))
    r = requests.delete(url, headers=env.headers(), timeout=10)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "upload_finished"
    assert env.row(url).state == "processing"
    assert env.path(url).read_bytes() == data


def test_get_status_and_alu_headers(env: Env) -> None:
    data = os.urandom(1000)
    url = env.create(data)
    r = requests.get(url, headers=env.headers(), timeout=10)
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == upload_id(url)
    assert (body["state"], body["offset"], body["length"]) == ("receiving", 0, 1000)
    assert body["item_id"] is None and body["error"] == ""
    assert dt.datetime.fromisoformat(body["expires_at"]) > utcnow()
    assert env.patch(url, 0, data).status_code == 204
    env.wait_completed(upload_id(url))
    with env.hub.db.session() as s:
        up = s.get(Upload, upload_id(url))
        assert up is not None
        up.state, up.item_id, up.error = "failed", "item123", "Le fichier est illisible\n(codec ✗)"
    h = env.head(url)
    assert h.headers["Alu-Upload-State"] == "failed"
    assert h.headers["Alu-Item-Id"] == "item123"
    assert h.headers["Alu-Error"].isascii()
    assert unquote(h.headers["Alu-Error"]) == "Le fichier est illisible\n(codec ✗)"
    g = requests.get(url, headers=env.headers(), timeout=10)
    assert (g.json()["state"], g.json()["item_id"]) == ("failed", "item123")
    # a HEAD says what a GET would send (RFC 9110 §8.6: its Content-Length MUST NOT differ)
    h = env.head(url)
    assert h.headers["Content-Length"] == str(len(g.content)) != "0"
    assert h.headers["Content-Type"] == g.headers["Content-Type"]


def test_expire_uploads(env: Env) -> None:
    data = os.urandom(10_000)
    old = env.create(data)
    assert env.patch(old, 0, data[:4000]).status_code == 204
    done = env.create(b"d" * 10)
    assert env.patch(done, 0, b"d" * 10).status_code == 204
    env.wait_completed(upload_id(done))
    gone = env.create(b"g" * 10)
    assert requests.delete(gone, headers=env.headers(), timeout=10).status_code == 204
    env.path(gone).write_bytes(b"left behind")  # a delete that could not remove the file
    assert expire_uploads(env.hub) == 0
    assert env.path(old).exists() and env.path(gone).exists() is False
    env.path(gone).write_bytes(b"left behind")
    later = utcnow() + dt.timedelta(seconds=env.hub.settings.upload_expiry_s + 60)
    assert expire_uploads(env.hub, now=later) == 1
    assert not env.path(old).exists()
    assert not env.path(gone).exists()
    assert env.row(old).state == "expired"
    assert env.row(done).state == "processing"  # finished uploads never expire
    r = env.head(old)
    assert r.status_code == 410
    assert env.patch(old, 4000, data[4000:]).status_code == 410


# --- concatenation ----------------------------------------------------------------------------


def test_concatenation_of_three_partials(env: Env) -> None:
    pieces = [os.urandom(n) for n in (MIB + 3, 500_000, 77)]
    whole = b"".join(pieces)
    parts = []
    for piece in pieces:
        r = requests.post(
            env.base,
            headers=env.headers(Upload_Length=str(len(piece)), Upload_Concat="partial"),
            timeout=10,
        )
        assert r.status_code == 201, r.text
        parts.append(r.headers["Location"])
        assert env.head(parts[-1]).headers["Upload-Concat"] == "partial"
    # parts may be uploaded in any order; the middle one is not finished yet
    assert env.patch(parts[2], 0, pieces[2]).status_code == 204
    assert env.patch(parts[0], 0, pieces[0]).status_code == 204
    assert env.patch(parts[1], 0, pieces[1][:1000]).status_code == 204
    meta = encode_meta({"filename": "joined.mp4", "sha256": hashlib.sha256(whole).hexdigest()})
    meta = meta.replace("=", "")  # unpadded base64, which tus allows: given back as sent
    concat = "final;" + " ".join([urlsplit(parts[0]).path, parts[1], parts[2]])
    r = requests.post(
        env.base,
        headers=env.headers(Upload_Concat=concat, Upload_Metadata=meta, Upload_Length="5"),
        timeout=10,
    )
    assert r.status_code == 400
    r = requests.post(env.base, headers=env.headers(Upload_Concat=concat), timeout=10)
    assert r.status_code == 400  # metadata is required on the final upload
    # concatenation-unfinished: the final upload may come before its parts are complete...
    r = requests.post(
        env.base, headers=env.headers(Upload_Concat=concat, Upload_Metadata=meta), timeout=10
    )
    assert r.status_code == 201, r.text
    final = r.headers["Location"]
    uid = upload_id(final)
    h = env.head(final)
    assert h.headers["Alu-Upload-State"] == "receiving"
    assert h.headers["Upload-Metadata"] == meta
    assert h.headers["Upload-Length"] == str(len(whole))
    # tus: no Upload-Offset on a final upload before its join is done (a client would take it
    # for an offset to PATCH at)
    assert "Upload-Offset" not in h.headers
    # ...its parts are its own from then on...
    r = requests.post(
        env.base, headers=env.headers(Upload_Concat=concat, Upload_Metadata=meta), timeout=10
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "bad_concat"  # taken by the join, or being joined
    assert env.head(parts[1]).headers["Alu-Final-Upload"] == final
    # ...and it is joined once the last of them is complete
    assert env.completed == []
    assert env.patch(parts[1], 1000, pieces[1][1000:]).status_code == 204
    env.wait_completed(uid)
    assert env.path(final).read_bytes() == whole
    h = env.head(final)
    assert h.headers["Upload-Offset"] == h.headers["Upload-Length"] == str(len(whole))
    assert h.headers["Upload-Concat"] == "final;" + " ".join(urlsplit(p).path for p in parts)
    r = env.patch(final, len(whole), b"x")
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "final_upload"
    for part in parts:
        h = env.head(part)
        assert h.status_code == 410
        # a client that lost the answer to its final POST learns where its parts went
        assert h.headers["Alu-Final-Upload"] == final
        assert not env.path(part).exists()
    # the parts are used up: a second final with them is refused
    r = requests.post(
        env.base, headers=env.headers(Upload_Concat=concat, Upload_Metadata=meta), timeout=10
    )
    assert r.status_code == 400
    assert env.completed == [uid]


def new_part(env: Env, data: bytes, sent: int) -> str:
    r = requests.post(
        env.base,
        headers=env.headers(Upload_Length=str(len(data)), Upload_Concat="partial"),
        timeout=10,
    )
    assert r.status_code == 201, r.text
    url = r.headers["Location"]
    if sent:
        assert env.patch(url, 0, data[:sent]).status_code == 204
    return url


def post_final(env: Env, parts: list[str], data: bytes) -> requests.Response:
    meta = encode_meta({"filename": "j.mp4", "sha256": hashlib.sha256(data).hexdigest()})
    return requests.post(
        env.base,
        headers=env.headers(Upload_Concat="final;" + " ".join(parts), Upload_Metadata=meta),
        timeout=10,
    )


def test_a_part_cancelled_before_the_join_fails_the_final_upload(env: Env) -> None:
    a, b = os.urandom(5000), os.urandom(7000)
    parts = [new_part(env, a, len(a)), new_part(env, b, 100)]
    r = post_final(env, parts, a + b)
    final = r.headers["Location"]
    assert requests.delete(parts[1], headers=env.headers(), timeout=10).status_code == 204
    wait_until(lambda: env.row(final).state == "failed", timeout=10)
    assert "send the file again" in env.head(final).headers["Alu-Error"]
    # the cancelled part went into no final upload: its HEAD does not send a client there
    h = env.head(parts[1])
    assert h.status_code == 410 and "Alu-Final-Upload" not in h.headers
    assert not env.path(final).exists()  # what the join had copied is gone
    # the part that was complete is free again: it can go into another final upload
    assert "Alu-Final-Upload" not in env.head(parts[0]).headers
    c = os.urandom(10)
    again = post_final(env, [parts[0], new_part(env, c, len(c))], a + c)
    assert again.status_code == 201, again.text
    env.wait_completed(upload_id(again.headers["Location"]))
    assert env.path(again.headers["Location"]).read_bytes() == a + c
    assert env.completed == [upload_id(again.headers["Location"])]


def test_a_final_upload_cancelled_while_waiting_gives_its_parts_back(env: Env) -> None:
    a, b = os.urandom(3000), os.urandom(4000)
    parts = [new_part(env, a, len(a)), new_part(env, b, 10)]
    final = post_final(env, parts, a + b).headers["Location"]
    assert requests.delete(final, headers=env.headers(), timeout=10).status_code == 204
    wait_until(lambda: "Alu-Final-Upload" not in env.head(parts[1]).headers, timeout=10)
    assert env.patch(parts[1], 10, b[10:]).status_code == 204
    again = post_final(env, parts, a + b)
    assert again.status_code == 201, again.text
    env.wait_completed(upload_id(again.headers["Location"]))
    assert env.path(again.headers["Location"]).read_bytes() == a + b
    assert env.row(final).state == "terminated"


def test_a_claim_left_by_a_final_upload_that_ended_does_not_hold(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a hub killed between ending a final upload and giving its parts back leaves them marked
    a = os.urandom(2000)
    part = new_part(env, a, len(a))
    with monkeypatch.context() as m:
        m.setattr(tus_routes, "_start_assemble", lambda *_args: None)  # no join under way
        first = post_final(env, [part], a).headers["Location"]
    with env.hub.db.session() as s:
        s.execute(
            update(Upload)
            .where(Upload.id == upload_id(first))
            .values(state="terminated", updated_at=utcnow())
        )
    assert env.head(part).headers["Alu-Final-Upload"] == first  # still marked
    again = post_final(env, [part], a)
    assert again.status_code == 201, again.text
    env.wait_completed(upload_id(again.headers["Location"]))
    assert env.path(again.headers["Location"]).read_bytes() == a


def test_a_part_without_a_length_cannot_be_joined_yet(env: Env) -> None:
    r = requests.post(
        env.base,
        headers=env.headers(Upload_Defer_Length="1", Upload_Concat="partial"),
        timeout=10,
    )
    assert r.status_code == 201, r.text
    r = post_final(env, [r.headers["Location"]], b"")
    assert r.status_code == 400
    assert "no length yet" in r.json()["error"]["message"]


def test_a_join_stopped_by_a_crash_is_taken_up_again(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    pieces = [os.urandom(n) for n in (MIB + 11, 300_000)]
    whole = b"".join(pieces)
    parts = []
    for piece in pieces:
        r = requests.post(
            env.base,
            headers=env.headers(Upload_Length=str(len(piece)), Upload_Concat="partial"),
            timeout=10,
        )
        parts.append(r.headers["Location"])
        assert env.patch(parts[-1], 0, piece).status_code == 204
    # the process dies right after committing the final upload: nobody joins the parts, and
    # a join it had begun left a half-written file behind
    monkeypatch.setattr(tus_routes, "_start_assemble", lambda *_args: None)
    meta = encode_meta({"filename": "j.mp4", "sha256": hashlib.sha256(whole).hexdigest()})
    r = requests.post(
        env.base,
        headers=env.headers(Upload_Concat="final;" + " ".join(parts), Upload_Metadata=meta),
        timeout=10,
    )
    assert r.status_code == 201, r.text
    final = r.headers["Location"]
    env.path(final).write_bytes(b"half a join" * 1000)
    assert env.head(final).headers["Alu-Upload-State"] == "receiving"

    # another live process leaves a join that may be under way (its heartbeat is recent)...
    assert republish_uploads(env.hub, alone=False) == []
    # ...and takes it up once the heartbeat has stopped
    with env.hub.db.session() as s:
        s.execute(
            update(Upload)
            .where(Upload.id == upload_id(final))
            .values(updated_at=utcnow() - dt.timedelta(seconds=PUBLISH_STALE_S + 1))
        )
    assert republish_uploads(env.hub, alone=False) == [upload_id(final)]
    env.wait_completed(upload_id(final))
    assert env.path(final).read_bytes() == whole
    assert env.row(final).state == "processing"
    for part in parts:
        assert env.head(part).headers["Alu-Final-Upload"] == final
        assert not env.path(part).exists()


def test_a_hub_starting_alone_joins_every_final_upload_left_receiving(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    piece = os.urandom(70_000)
    r = requests.post(
        env.base,
        headers=env.headers(Upload_Length=str(len(piece)), Upload_Concat="partial"),
        timeout=10,
    )
    part = r.headers["Location"]
    assert env.patch(part, 0, piece).status_code == 204
    monkeypatch.setattr(tus_routes, "_start_assemble", lambda *_args: None)
    meta = encode_meta({"filename": "j.mp4", "sha256": hashlib.sha256(piece).hexdigest()})
    r = requests.post(
        env.base,
        headers=env.headers(Upload_Concat=f"final;{part}", Upload_Metadata=meta),
        timeout=10,
    )
    final = r.headers["Location"]
    # start-up with no other process on the data folder: no need to wait for a heartbeat
    assert republish_uploads(env.hub, alone=True) == [upload_id(final)]
    env.wait_completed(upload_id(final))
    assert env.path(final).read_bytes() == piece


@pytest.mark.parametrize("kernel", ["copies", "absent", "refuses", "stops_midway"])
def test_a_part_is_copied_whole_by_the_kernel_or_by_hand(
    kernel: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(3 * MIB + 5)
    (tmp_path / "part").write_bytes(data)
    real = getattr(os, "copy_file_range", None)
    if kernel == "copies" and real is None:
        pytest.skip("os.copy_file_range is Linux-only")  # the other cases cover the loop
    calls = []

    def refusing(src: int, dst: int, count: int) -> int:
        calls.append(count)
        if kernel == "stops_midway" and len(calls) == 1 and real is not None:
            return real(src, dst, min(count, MIB))  # some bytes, then a refusal
        raise OSError(errno.EXDEV, "cross-device")

    if kernel == "absent":
        monkeypatch.delattr(os, "copy_file_range", raising=False)
    elif kernel in ("refuses", "stops_midway"):
        monkeypatch.setattr(os, "copy_file_range", refusing, raising=False)
    with open(tmp_path / "part", "rb") as src, open(tmp_path / "joined", "wb") as out:
        out.write(b"head")  # what earlier parts left in the writer's buffer
        assert tus_join._copy_part(src, out, len(data) - 5) == len(data) - 5
        # a part whose file is shorter than its length: the copy says so
        src.seek(0)
        assert tus_join._copy_part(src, out, len(data) + 1) == len(data)
    assert (tmp_path / "joined").read_bytes() == b"head" + data[:-5] + data
    assert calls or kernel in ("copies", "absent")


def test_concatenation_parts_must_be_yours_and_partial(env: Env) -> None:
    r = requests.post(
        env.base,
        headers=env.headers(env.other_token, Upload_Length="3", Upload_Concat="partial"),
        timeout=10,
    )
    theirs = r.headers["Location"]
    assert env.patch(theirs, 0, b"abc", token=env.other_token).status_code == 204
    plain = env.create(b"abc")
    assert env.patch(plain, 0, b"abc").status_code == 204
    meta = encode_meta({"filename": "j.mp4", "sha256": "0" * 64})
    for ref in (theirs, plain, env.base + "nosuchupload"):
        r = requests.post(
            env.base,
            headers=env.headers(Upload_Concat=f"final;{ref}", Upload_Metadata=meta),
            timeout=10,
        )
        assert r.status_code == 400, ref
        assert r.json()["error"]["code"] == "bad_concat"


def test_concatenation_names_uploads_of_this_hub_separated_by_spaces(env: Env) -> None:
    """A list separated by commas read as its last upload alone (a final of part B only,
    accepted 201); another server's URL read as its last path segment."""
    parts = []
    for data in (b"A" * 10, b"B" * 20):
        r = requests.post(
            env.base, headers=env.headers(Upload_Length=str(len(data)), Upload_Concat="partial"),
            timeout=10,
        )  # fmt: skip
        parts.append(r.headers["Location"])
        assert env.patch(parts[-1], 0, data).status_code == 204
    meta = encode_meta(
        {"filename": "j.mp4", "sha256": hashlib.sha256(b"A" * 10 + b"B" * 20).hexdigest()}
    )
    a, b = parts
    for concat in (
        f"final;{a},{b}",
        f"final;https://other-server.example/api/v1/uploads/{upload_id(b)}",
        f"final;{a}?x=1",
        "final;",
    ):
        r = requests.post(
            env.base, headers=env.headers(Upload_Concat=concat, Upload_Metadata=meta), timeout=10
        )
        assert r.status_code == 400, concat
        assert r.json()["error"]["code"] == "bad_concat"
    assert env.row(a).state == env.row(b).state == "receiving"  # neither taken
    # the forms a client has from Location: the URL, or its path
    r = requests.post(
        env.base,
        headers=env.headers(Upload_Concat=f"final;{a} {urlsplit(b).path}", Upload_Metadata=meta),
        timeout=10,
    )
    assert r.status_code == 201, r.text


def test_a_deferred_length_upload_cannot_grow_past_the_largest_upload(tmp_path: Path) -> None:
    e, close = make_env(tmp_path, max_upload_size=1000, max_chunk_size=500)
    try:
        url = e.create(Upload_Defer_Length="1")
        assert e.patch(url, 0, b"x" * 500).status_code == 204
        assert e.patch(url, 500, b"x" * 500).status_code == 204
        r = e.patch(url, 1000, b"x" * 500)  # it went on to 3000 bytes and more, all 204
        assert r.status_code == 413
        assert file_size(e.path(url)) == 1000
        # a chunked body (no Content-Length) is bounded too
        r = requests.patch(
            url,
            data=iter([b"y" * 100]),
            headers=e.headers(Upload_Offset="1000", Content_Type=OFFSET_STREAM),
            timeout=10,
        )
        assert r.status_code == 413
        assert file_size(e.path(url)) == 1000
    finally:
        close()


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_safe_method_with_an_override_changes_nothing(env: Env, method: str) -> None:
    url = env.create(b"abc")
    r = requests.request(
        method, url, headers=env.headers(X_HTTP_Method_Override="DELETE"), timeout=10
    )
    assert r.status_code == 200  # a GET or HEAD, as it is (RFC 9110 §9.2.1: safe)
    assert env.row(url).state == "receiving"


def test_numbers_of_many_digits_are_refused_for_what_they_are(env: Env) -> None:
    r = requests.post(
        env.base, headers=env.headers(Upload_Length="1" + "0" * 19, Upload_Metadata=encode_meta({"filename": "b.mp4", "sha256": "0" * 64})),
        timeout=10,
    )  # fmt: skip
    assert r.status_code == 413  # too large, not malformed
    url = env.create(b"abc")
    assert env.patch(url, 0, b"").status_code == 204
    r = requests.patch(
        url, data=b"a",
        headers=env.headers(Upload_Offset="1" + "0" * 25, Content_Type=OFFSET_STREAM), timeout=10,
    )  # fmt: skip
    assert r.status_code == 409 and r.headers["Upload-Offset"] == "0"
    assert env.patch(url, 0, b"abc", Upload_Offset="0" * 30).status_code == 204


def test_a_405_says_which_methods_are_allowed(env: Env) -> None:
    url = env.create(b"abc")
    for method, where, allow in (
        ("PUT", url, "GET, HEAD, PATCH, DELETE, OPTIONS, POST"),
        ("POST", url, "GET, HEAD, PATCH, DELETE, OPTIONS, POST"),
        ("PATCH", env.base, "OPTIONS, POST"),
        ("DELETE", env.base, "OPTIONS, POST"),
    ):
        r = requests.request(method, where, headers=env.headers(), timeout=10)
        assert r.status_code == 405, (method, where)
        assert r.headers.get("Allow") == allow and r.headers.get("Tus-Resumable") == "1.0.0"


def test_a_finished_part_waiting_for_an_earlier_one_does_not_expire(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """concatenation-unfinished: part 2 done, part 1 still coming slowly. Part 2's expiry was
    set once, when the final upload took it: it expired, and the final upload failed."""
    monkeypatch.setattr(tus_state, "PUBLISH_HEARTBEAT_S", 0.2)
    e, close = make_env(tmp_path, upload_expiry_s=2)
    try:
        one, two = b"A" * 8, b"B" * 4
        parts = []
        for data in (one, two):
            r = requests.post(
                e.base, headers=e.headers(Upload_Length=str(len(data)), Upload_Concat="partial"),
                timeout=10,
            )  # fmt: skip
            parts.append(r.headers["Location"])
        assert e.patch(parts[1], 0, two).status_code == 204
        meta = encode_meta({"filename": "w.mp4", "sha256": hashlib.sha256(one + two).hexdigest()})
        r = requests.post(
            e.base,
            headers=e.headers(Upload_Concat=f"final;{parts[0]} {parts[1]}", Upload_Metadata=meta),
            timeout=10,
        )
        assert r.status_code == 201
        final = r.headers["Location"]
        for i in range(len(one)):  # part 1, a byte every 0.5 s: 4 s, twice the expiry time
            time.sleep(0.5)
            assert e.patch(parts[0], i, one[i : i + 1]).status_code == 204
            assert expire_uploads(e.hub) == 0
        e.wait_completed(upload_id(final))
        assert e.path(final).read_bytes() == one + two
    finally:
        close()


# --- locking ----------------------------------------------------------------------------------


def test_concurrent_patches_never_interleave(env: Env) -> None:
    data = os.urandom(MAX_CHUNK)
    url = env.create(data)
    start = threading.Barrier(2)
    results: list[int | str] = []

    def send() -> None:
        start.wait()
        try:
            results.append(env.patch(url, 0, data).status_code)
        except requests.RequestException as e:
            results.append(type(e).__name__)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    # one of them wins; the other gets 409 (it came late) or 423 (it was asked to let go,
    # keeping what it had written, or it could not get the lock)
    assert len(results) == 2 and results.count(204) <= 1, results
    assert any(r in (409, 423) for r in results), results
    wait_until(lambda: env.row(url).lock_owner == "", what="the writers to finish")
    offset = int(env.head(url).headers["Upload-Offset"])
    assert env.path(url).read_bytes()[:offset] == data[:offset]
    if offset < len(data):
        assert env.patch(url, offset, data[offset:]).status_code == 204
    assert env.path(url).read_bytes() == data
    env.wait_completed(upload_id(url))
    assert env.completed == [upload_id(url)]


def test_stale_lock_released_by_next_head(env: Env) -> None:
    data = os.urandom(4 * MIB)
    url = env.create(data)
    raw = RawPatch(env, url, 0, len(data))
    try:
        raw.send(data[: MIB + MIB // 2])
        wait_until(lambda: file_size(env.path(url)) >= MIB, what="the hub to write 1 MiB")
        assert env.row(url).lock_owner != ""  # the writer holds the lease
        # The link went dead without a FIN: the hub's writer waits for bytes that never come.
        t0 = time.monotonic()
        r = env.head(url)
        assert r.status_code == 200
        assert time.monotonic() - t0 < 3.0
        kept = int(r.headers["Upload-Offset"])
        assert MIB <= kept <= MIB + MIB // 2
        assert env.row(url).offset == kept and env.row(url).lock_owner == ""
        assert env.path(url).read_bytes() == data[:kept]
        # the old writer saved, let go and answered (to nobody, on a real dead link)
        assert raw.read_head().startswith("HTTP/1.1 423")
    finally:
        raw.close()
    assert env.patch(url, kept, data[kept:]).status_code == 204
    assert env.path(url).read_bytes() == data
    env.wait_completed(upload_id(url))


def test_database_lease_of_another_process_is_respected(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tus_locks, "LOCK_WAIT_S", 1.0)  # (3 s in the field, waited out twice)
    data = os.urandom(3000)
    url = env.create(data)
    assert env.patch(url, 0, data[:1000]).status_code == 204
    # another hub process sharing the database is writing to this upload
    with env.hub.db.session() as s:
        up = s.get(Upload, upload_id(url))
        assert up is not None
        up.lock_owner = "other-process"
        up.lock_expires_at = utcnow() + dt.timedelta(seconds=30)
    t0 = time.monotonic()
    r = env.patch(url, 1000, data[1000:])
    assert r.status_code == 423
    assert r.json()["error"]["code"] == "upload_locked"
    assert r.headers["Retry-After"] == "1"
    assert 0.9 < time.monotonic() - t0 < 8.0  # it waited for the lease, then gave up
    assert env.head(url).headers["Upload-Offset"] == "1000"  # HEAD does not need the lease
    later = utcnow() + dt.timedelta(seconds=env.hub.settings.upload_expiry_s + 60)
    with env.hub.db.session() as s:
        up = s.get(Upload, upload_id(url))
        assert up is not None
        up.lock_expires_at = later + dt.timedelta(seconds=30)
    assert expire_uploads(env.hub, now=later) == 0  # a live writer is never expired under it
    # that process died: once its lease has run out the upload is free again
    with env.hub.db.session() as s:
        up = s.get(Upload, upload_id(url))
        assert up is not None
        up.lock_expires_at = utcnow() - dt.timedelta(seconds=1)
    assert env.patch(url, 1000, data[1000:]).status_code == 204
    assert env.path(url).read_bytes() == data
    assert env.row(url).lock_owner == ""


# --- speed (on demand: pytest -m bench) -------------------------------------------------------


@pytest.mark.bench
def test_patch_throughput(tmp_path: Path) -> None:
    # Deselected by `./run tests` (-m "not bench"); `./run bench` runs it.
    e, close = make_env(tmp_path)
    try:
        size, chunk = 256 * MIB, 8 * MIB
        data = os.urandom(size)
        url = e.create(data)
        view = memoryview(data)
        with requests.Session() as session:
            t0 = time.perf_counter()
            for off in range(0, size, chunk):
                r = session.patch(
                    url,
                    data=view[off : off + chunk],
                    headers=e.headers(Upload_Offset=str(off), Content_Type=OFFSET_STREAM),
                )
                assert r.status_code == 204
            elapsed = time.perf_counter() - t0
        print(f"\nPATCH throughput: {size / elapsed / 1e6:.0f} MB/s ({elapsed:.2f} s)")
        assert e.path(url).stat().st_size == size
    finally:
        close()


def test_the_time_an_uploads_last_byte_arrived_is_kept(env: Env) -> None:
    """The statistics count a member upload on the day its last byte arrived, not on the day
    the hub finished publishing it (its proxy made after midnight, or a republish after a
    restart): tus keeps that time as the upload becomes ``processing``."""
    from alu_hub.db import as_utc

    data = os.urandom(1000)
    url = env.create(data)
    assert env.patch(url, 0, data[:600]).status_code == 204
    assert env.row(url).received_at is None
    before = utcnow()
    assert env.patch(url, 600, data[600:]).status_code == 204
    up = env.row(url)
    assert up.state == "processing" and up.received_at is not None
    assert before <= as_utc(up.received_at) <= utcnow()
    empty = env.create(b"")  # nothing to send: all of it arrived with its creation
    assert env.row(empty).received_at is not None
