"""What libraries log never carries a secret: a signed link's query, a tus upload URL."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from alu_client.core.logsafe import LibraryScrub, quiet_libraries
from tests.client.test_cli import run_alu

SIGNATURE = "X-Amz-Signature=deadbeef0123456789SECRET&X-Amz-Credential=AKIASECRET"
BODY = os.urandom(256 * 1024)


class _ClosesKeptAlive(BaseHTTPRequestHandler):
    """Each connection answers one request, then closes the next one unanswered (a server's
    idle timer and the request crossing: RFC 9112 §9.3.1); the first goes to a signed link."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.answered = 0

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.answered:
            self.close_connection = True
            return
        self.answered += 1
        if self.path.startswith("/start"):
            self.send_response(302)
            self.send_header("Location", f"/obj/clip.mp4?{SIGNATURE}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _ClosesKeptAlive)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize("verbose", [[], ["-v"]])
def test_a_request_retried_by_urllib3_is_not_named_on_the_terminal(
    tmp_path: Path, server: str, verbose: list[str]
) -> None:
    # urllib3 retried the request on a fresh connection and said so in a WARNING naming the
    # request: "Retrying (…) after connection broken by …: /obj/clip.mp4?X-Amz-Signature=…"
    dest = tmp_path / "clip.mp4"
    r = run_alu(
        tmp_path / "home", *verbose, "fetch", f"{server}/start", str(dest),
        "--sha256", hashlib.sha256(BODY).hexdigest(),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert dest.read_bytes() == BODY
    said = r.stdout + r.stderr
    assert "SECRET" not in said and "clip.mp4?" not in said, said


def test_library_records_lose_paths_queries_and_credentials() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    quiet_libraries(handler)
    quiet_libraries(handler)  # once is enough
    assert sum(isinstance(f, LibraryScrub) for f in handler.filters) == 1
    logger = logging.getLogger("urllib3.connectionpool")
    ours = logging.getLogger("alu_client.core.transfers.queue")
    logger.addHandler(handler)
    ours.addHandler(handler)
    try:
        logger.error(
            "Retrying (%r) after connection broken by '%r': %s",
            "Retry(total=0)",
            "RemoteDisconnected()",
            "/files/3f9c1be0a7d44e1c9bd0d1ad5ea5e7aa",
        )
        logger.error(
            "Failed to parse headers (url=%s): %s", f"https://s3.example/b/k?{SIGNATURE}", "x"
        )
        logger.error("sent Authorization: Bearer abcdef0123456789")
        ours.error("transfer %d: %s", 7, "The server could not be reached; trying again.")
    finally:
        logger.removeHandler(handler)
        ours.removeHandler(handler)
    lines = out.getvalue().splitlines()
    assert "3f9c1be0" not in lines[0] and "Retrying" in lines[0], lines[0]
    assert "SECRET" not in lines[1] and "s3.example" in lines[1], lines[1]
    assert "abcdef0123456789" not in lines[2], lines[2]
    assert lines[3] == "transfer 7: The server could not be reached; trying again."
    assert logging.getLogger("urllib3").level == logging.ERROR
