"""tus answers that say what the hub did: a damaged first chunk (460, with the upload's
Location), a chunked body past the upload's end (413, none of it kept), a writer still
sending left alone by a HEAD."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from alu_hub.tus import locks as tus_locks
from alu_hub.tus import protocol as tus_protocol
from tests.support.waiting import wait_until

from .test_tus import OFFSET_STREAM, Env, RawPatch, b64, encode_meta, file_size, make_env

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def tus_env(tmp_path: Path) -> Iterator[Env]:
    e, close = make_env(tmp_path)
    yield e
    close()


def sha1_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha1(data).digest()).decode()


def test_a_damaged_first_chunk_of_a_creation_with_upload_is_460_with_its_location(
    tus_env: Env,
) -> None:
    data = bytes(range(256)) * 20  # 5,120 bytes
    meta = encode_meta({"filename": "c.mp4", "sha256": hashlib.sha256(data).hexdigest()})
    r = requests.post(
        tus_env.base,
        data=data[:100],
        headers=tus_env.headers(
            Upload_Length=str(len(data)), Upload_Metadata=meta, Content_Type=OFFSET_STREAM,
            Upload_Checksum=f"sha1 {sha1_b64(b'no')}",
        ),
        timeout=10,
    )  # fmt: skip
    assert r.status_code == 460, r.text
    assert r.json()["error"]["code"] == "checksum_mismatch"
    assert "send it again with PATCH at offset 0" in r.json()["error"]["message"]
    url = r.headers["Location"]
    assert r.headers["Upload-Offset"] == "0" and "Upload-Expires" in r.headers
    assert file_size(tus_env.path(url)) == 0 and tus_env.row(url).offset == 0
    # the client resumes at the Location it was given
    again = tus_env.patch(url, 0, data[:100], Upload_Checksum=f"sha1 {sha1_b64(data[:100])}")
    assert again.status_code == 204 and again.headers["Upload-Offset"] == "100"


def test_a_chunked_patch_past_the_upload_length_keeps_nothing_and_says_so(
    tus_env: Env,
) -> None:
    data = b"a" * 5000
    url = tus_env.create(data)
    hdrs = tus_env.headers(Upload_Offset="0", Content_Type=OFFSET_STREAM)
    r = requests.patch(url, data=iter([data[:3000]]), headers=hdrs, timeout=10)
    assert r.status_code == 204 and r.headers["Upload-Offset"] == "3000"
    # the rest of the file and 500 bytes it grew by since the upload was created
    hdrs["Upload-Offset"] = "3000"
    r = requests.patch(url, data=iter([data[3000:], b"b" * 500]), headers=hdrs, timeout=10)
    assert r.status_code == 413 and r.headers["Upload-Offset"] == "3000"
    message = r.json()["error"]["message"]
    assert "none of it was kept" in message and "from offset 3000" in message
    row = tus_env.row(url)
    assert (row.offset, row.state) == (3000, "receiving")
    assert file_size(tus_env.path(url)) == 3000
    assert tus_env.head(url).headers["Upload-Offset"] == "3000"
    # what the answer said to do works
    r = tus_env.patch(url, 3000, data[3000:])
    assert r.status_code == 204 and r.headers["Upload-Offset"] == "5000"
    tus_env.wait_completed(url.rstrip("/").rsplit("/", 1)[-1])


def test_a_head_or_a_second_patch_leaves_a_writer_that_is_still_sending_alone(
    tus_env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a writer whose client went away (silent for IDLE_S) is asked to stop; a HEAD
    (a monitoring script) used to stop a healthy upload with 423 too."""
    monkeypatch.setattr(tus_locks, "LOCK_WAIT_S", 1.0)  # (3 s in the field)
    monkeypatch.setattr(tus_locks, "IDLE_S", 0.5)  # (2 s)
    piece, pieces = 20_000, 150
    data = os.urandom(piece * pieces)
    url = tus_env.create(data)
    raw = RawPatch(tus_env, url, 0, len(data))
    finished = threading.Event()

    def send_steadily() -> None:  # a piece every 30 ms: never idle for long
        for i in range(pieces):
            raw.send(data[i * piece : (i + 1) * piece])
            if finished.wait(0.03):
                return

    sender = threading.Thread(target=send_steadily)
    sender.start()
    try:
        wait_until(lambda: tus_env.row(url).lock_owner, what="the writer to take the upload")
        head = tus_env.head(url)
        assert head.status_code == 200
        assert 0 <= int(head.headers["Upload-Offset"]) < len(data)
        second = tus_env.patch(url, 0, data)
        assert second.status_code == 423 and second.headers["Retry-After"] == "1"
        assert sender.is_alive()  # the first writer went on sending all along
        sender.join(30)
        assert raw.read_head().startswith("HTTP/1.1 204")
    finally:
        finished.set()
        sender.join(30)
        raw.close()
    assert tus_env.path(url).read_bytes() == data
    tus_env.wait_completed(url.rstrip("/").rsplit("/", 1)[-1])


@pytest.mark.parametrize(
    ("size", "said"),
    [
        (64 * 1024**3, "64 GiB"),
        (500_000_000, "476.8 MiB"),
        (104_857_600, "100 MiB"),
        (100_000, "97.7 KiB"),
        (500, "500 bytes"),
        (3000 * 1024**3, "3,000 GiB"),
    ],
)
def test_sizes_are_said_in_the_unit_they_are_in(size: int, said: str) -> None:
    assert tus_protocol._size_text(size) == said


def test_size_limits_in_413s_are_said_in_bytes_and_a_unit_people_read(tmp_path: Path) -> None:
    e, close = make_env(tmp_path, max_upload_size=100_000, max_chunk_size=50_000)
    try:
        r = requests.post(e.base, headers=e.headers(Upload_Length="100001"), timeout=10)
        assert r.status_code == 413 and r.json()["error"]["message"] == (
            "The upload is larger than this hub accepts: the limit is 97.7 KiB (100000 bytes)."
        )
        url = e.create(b"x" * 60_000)
        r = e.patch(url, 0, b"x" * 50_001)
        assert r.status_code == 413 and r.json()["error"]["message"] == (
            "A chunk may be at most 50000 bytes (48.8 KiB); send smaller chunks."
        )
    finally:
        close()


def _metadata_of_length(n: int) -> str:
    """A valid Upload-Metadata header of exactly ``n`` bytes, in the form the hub echoes."""
    core = f"filename {b64('c.mp4')},sha256 {b64('0' * 64)},notes "
    room = n - len(core) - 2  # what is left for the notes' base64 and ",<key>"
    encoded = base64.b64encode(b"s" * (room * 3 // 4 - 3)).decode()
    return core + encoded + "," + "p" * (n - len(core) - len(encoded) - 1)


_STOCK_HEAD = """
import http.client, sys
from urllib.parse import urlsplit
u = urlsplit(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
c.request("HEAD", u.path, headers={"Tus-Resumable": "1.0.0", "Authorization": sys.argv[2]})
try:
    r = c.getresponse()
    print(r.status, len(r.getheader("Upload-Metadata")))
except http.client.HTTPException as e:
    print(type(e).__name__)
"""


def test_python_clients_resume_the_metadata_size_docs_operations_says(tus_env: Env) -> None:
    """docs/operations.md: tuspy (Python's http.client, 64 KiB a header line, unless raised as
    ALU Desk does) reads a HEAD back with 65,517 bytes of Upload-Metadata, not one more."""
    said = []
    for n in (65_517, 65_518):
        meta = _metadata_of_length(n)
        assert len(meta) == n
        url = tus_env.create(b"x" * 10, Upload_Metadata=meta)
        stock = subprocess.run(
            [sys.executable, "-c", _STOCK_HEAD, url, f"Bearer {tus_env.token}"],
            capture_output=True, text=True, timeout=30, env={"PATH": os.environ["PATH"]},
        )  # fmt: skip
        said.append(stock.stdout.strip())
    assert said == ["200 65517", "LineTooLong"]
