"""A signed link the server redirects to (S3, a CDN) that refuses is worth another try: every
attempt starts at the server again and gets a fresh link. The server itself refusing is final."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from alu_client.core.transfers.base import PermanentError, RetryableError, Tuning
from alu_client.core.transfers.download import DownloadSpec
from tests.client.test_download import Job


class _Answer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    status = 403
    location = ""

    def do_GET(self) -> None:
        self.send_response(self.status)
        if self.location:
            self.send_header("Location", self.location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve(status: int, location: str = "") -> ThreadingHTTPServer:
    handler = type("H", (_Answer,), {"status": status, "location": location})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def job(tmp_path: Path) -> Iterator[Job]:
    j = Job(tmp=tmp_path, tuning=Tuning(connect_timeout=5, stall_timeout=5))
    yield j
    j.sessions.close()


@pytest.fixture
def storage() -> Iterator[str]:
    s = _serve(403)  # "Request has expired"
    yield f"http://127.0.0.1:{s.server_address[1]}/bucket/key?X-Amz-Signature=old"
    s.shutdown()
    s.server_close()


def test_an_expired_link_on_another_origin_is_retried(
    storage: str, job: Job, tmp_path: Path
) -> None:
    hub = _serve(307, storage)
    try:
        url = f"http://127.0.0.1:{hub.server_address[1]}/api/v1/items/x/renditions/broadcast"
        with pytest.raises(RetryableError, match="refused its link"):
            job.run(DownloadSpec(url, tmp_path / "a.mp4"))
    finally:
        hub.shutdown()
        hub.server_close()


def test_the_server_itself_refusing_is_final(storage: str, job: Job, tmp_path: Path) -> None:
    with pytest.raises(PermanentError, match="refused access"):
        job.run(DownloadSpec(storage, tmp_path / "b.mp4"))
