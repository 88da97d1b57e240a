"""What `alu` and a download pay before the first byte: a command that fetches a file does not
load FFmpeg, tuspy's uploader or aiohttp, and an http:// address does not read the system's
certificate store (each of a download's first connections read it again, 20–50 ms each,
before it was built once for the process).

The time itself is measured by the benchmark (`./run bench -k loopback_download`); these
tests keep what it found from coming back."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from alu_client.core import http

#: modules a download never uses, and what importing each cost at the CLI's start
_NOT_FOR_A_DOWNLOAD = {
    "av": "PyAV loads FFmpeg (~50 ms); only media probes and thumbnails use it",
    "aiohttp": "tuspy's uploader imports it (~100 ms); only an upload uses it",
    "tusclient.client": "tuspy's client; only an upload uses it",
}


def test_the_cli_starts_without_what_only_uploads_and_media_use() -> None:
    script = (
        "import json, sys\n"
        "import alu_client.cli\n"
        f"print(json.dumps([m for m in {sorted(_NOT_FOR_A_DOWNLOAD)!r} if m in sys.modules]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    loaded = json.loads(out.stdout)
    assert loaded == [], {m: _NOT_FOR_A_DOWNLOAD[m] for m in loaded}


def test_an_upload_still_finds_its_job() -> None:
    """The job is imported when an upload runs: the name it is imported under must exist."""
    from alu_client.core.transfers.upload import job

    assert job._Job.__name__ == "_Job"


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def plain_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_an_http_address_does_not_read_the_certificate_store(
    plain_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def read_store() -> None:
        raise AssertionError("the certificate store was read for an http:// address")

    monkeypatch.setattr(http, "_system_trust", read_store)
    with http.Session() as session:
        assert session.get(plain_server, timeout=10).content == b"ok"


def test_the_certificate_store_is_read_once_when_connections_ask_together(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads: list[str] = []
    inside = threading.Event()

    def read_store() -> None:
        reads.append(threading.current_thread().name)
        inside.set()
        # held open a moment: a second connection asking now must wait for this read, not
        # make its own
        threading.Event().wait(0.2)

    cached = http.functools.cache(read_store)
    monkeypatch.setattr(http, "_system_trust", cached)
    threads = [threading.Thread(target=http.system_trust, name=f"connect-{i}") for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert inside.is_set()
    assert len(reads) == 1, reads
