"""`alu fetch` and files that change or do not fit: a file replaced on the server by one of
another size between two attempts is fetched anew (the size an attempt learned from the server
is not the size the caller expects); a file too large for the disk's file system is one clear,
final error."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from tests.client.test_cli import run_alu
from tests.support.waiting import wait_until

KIB = 1024
V1 = os.urandom(2048 * KIB)


class _Replaced(BaseHTTPRequestHandler):
    """The first GET gets v1 (ETag "v1"), cut after 512 KiB; every later one v2 (ETag "v2"),
    a 206 only for a Range whose If-Range names v2 (RFC 9110 §13.1.5), else v2 whole."""

    protocol_version = "HTTP/1.1"
    v2 = b""
    gets = 0
    lock = threading.Lock()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        with self.lock:
            type(self).gets += 1
            first = self.gets == 1
        if first:
            self.send_response(200)
            self.send_header("ETag", '"v1"')
            self.send_header("Content-Length", str(len(V1)))
            self.end_headers()
            self.wfile.write(V1[: 512 * KIB])
            self.close_connection = True
            return
        body, status, extra = self.v2, 200, {}
        rng = self.headers.get("Range", "")
        if rng.startswith("bytes=") and self.headers.get("If-Range", '"v2"') == '"v2"':
            start_s, _, end_s = rng[6:].partition("-")
            start = int(start_s)
            end = min(int(end_s), len(body) - 1) if end_s else len(body) - 1
            status, body = 206, body[start : end + 1]
            extra = {"Content-Range": f"bytes {start}-{end}/{len(self.v2)}"}
        self.send_response(status)
        self.send_header("ETag", '"v2"')
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(params=[3072 * KIB, 1536 * KIB], ids=["bigger", "smaller"])
def server(request: pytest.FixtureRequest) -> Iterator[type[_Replaced]]:
    handler = type("Handler", (_Replaced,), {"v2": os.urandom(request.param), "gets": 0})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    handler.url = f"http://127.0.0.1:{httpd.server_address[1]}/clip.mp4"  # type: ignore[attr-defined]
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield handler
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize("segments", ["1", "4"])
def test_a_file_replaced_by_one_of_another_size_is_fetched_anew(
    tmp_path: Path, server: type[_Replaced], segments: str
) -> None:
    # bigger: "The server sent more data than the file's size", the part deleted, exit 1 on
    # every run; smaller: "offers a shorter file than expected", again and again, for ever
    dest = tmp_path / "clip.mp4"
    r = run_alu(
        tmp_path / "home",
        "fetch",
        server.url,
        str(dest),
        "--segments",
        segments,  # type: ignore[attr-defined]
    )
    assert r.returncode == 0, r.stderr
    assert dest.read_bytes() == server.v2
    assert server.gets >= 2
    assert "size checked" in r.stdout, r.stdout


class _Static(BaseHTTPRequestHandler):
    """One file, with ranges (a 206 for "bytes=a-b" or "bytes=a-")."""

    protocol_version = "HTTP/1.1"
    body = os.urandom(3 * 1024 * KIB)

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        body, status, extra = self.body, 200, {}
        rng = self.headers.get("Range", "")
        if rng.startswith("bytes="):
            start_s, _, end_s = rng[6:].partition("-")
            start = int(start_s)
            end = min(int(end_s), len(body) - 1) if end_s else len(body) - 1
            status, body = 206, body[start : end + 1]
            extra = {"Content-Range": f"bytes {start}-{end}/{len(self.body)}"}
        self.send_response(status)
        self.send_header("ETag", '"one"')
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


@pytest.mark.skipif(sys.platform == "win32", reason="a file size limit (RLIMIT_FSIZE)")
@pytest.mark.parametrize("segments", ["1", "4"])
def test_a_file_too_large_for_the_disk_is_said_once(tmp_path: Path, segments: str) -> None:
    # a 1 MiB file size limit stands for FAT32's 4 GB: EFBIG was "Something went wrong in ALU
    # Desk (OSError)" (the part file's pre-sizing), or "could not be written" for ever
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Static)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/clip.mp4"

    def small_files() -> None:
        import resource  # (here: POSIX only, and the module is imported on Windows too)

        resource.setrlimit(resource.RLIMIT_FSIZE, (KIB * KIB, KIB * KIB))

    try:
        r = subprocess.run(
            [sys.executable, "-m", "alu_client.cli", "fetch", url, str(tmp_path / "clip.mp4"),
             "--segments", segments],
            env={**os.environ, "ALU_CLIENT_HOME": str(tmp_path / "home")},
            capture_output=True, text=True, timeout=60, preexec_fn=small_files,
        )  # fmt: skip
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert r.returncode == 1, r.stderr
    assert "too large for the download folder's disk" in r.stderr, r.stderr
    assert "Something went wrong" not in r.stderr and "trying again" not in r.stderr, r.stderr
    assert not (tmp_path / "clip.mp4").exists()


class _Signed(_Static):
    """``?sig=old`` sends 1 MiB, then stalls (the run is interrupted); ``?sig=new`` serves."""

    ranges: ClassVar[list[str]] = []
    release = threading.Event()

    def do_GET(self) -> None:
        if "sig=old" not in self.path:
            self.ranges.append(self.headers.get("Range", ""))
            super().do_GET()
            return
        self.send_response(200)
        self.send_header("ETag", '"one"')
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body[: 1024 * KIB])
        self.wfile.flush()
        self.release.wait(30)


def test_a_signed_link_issued_again_resumes_the_same_download(tmp_path: Path) -> None:
    # a new signature is a new URL: the rerun was refused, "A file named clip.mp4.part is
    # already there and this download did not make it"
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Signed)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}/clip.mp4"
    dest, home = tmp_path / "clip.mp4", tmp_path / "home"
    part = tmp_path / "clip.mp4.part"
    try:
        first = subprocess.Popen(
            [sys.executable, "-m", "alu_client.cli", "fetch", f"{base}?sig=old", str(dest),
             "--segments", "1"],
            env={**os.environ, "ALU_CLIENT_HOME": str(home)},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        wait_until(lambda: part.exists() and part.stat().st_size >= 1024 * KIB, timeout=30)
        first.send_signal(signal.SIGINT)
        assert first.wait(timeout=30) == 130
        r = run_alu(home, "fetch", f"{base}?sig=new", str(dest), "--segments", "1")
    finally:
        _Signed.release.set()
        httpd.shutdown()
        httpd.server_close()
    assert r.returncode == 0, r.stderr
    assert dest.read_bytes() == _Signed.body
    assert _Signed.ranges and _Signed.ranges[0].startswith("bytes=1048576-"), _Signed.ranges


def _unsay(home: Path) -> None:
    """The downloads' ends as unsaid: the record a kill just before the result line leaves."""
    from alu_client.core.paths import default_paths
    from alu_client.core.store import Store

    store = Store(default_paths({"ALU_CLIENT_HOME": str(home)}).db_path)
    try:
        with store.write() as c:
            c.execute("UPDATE transfers SET options = json_remove(options, '$.reported')")
    finally:
        store.close()


def test_a_fetch_that_ended_before_it_could_say_so_ends_when_run_again(tmp_path: Path) -> None:
    # killed after the end was recorded and before it printed it, the rerun said "exists
    # already; nothing was downloaded" (exit 1) for ever: a script's `until alu fetch` never
    # ended. A rerun finds the recorded download's own file and ends as it would have.
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Static)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/clip.mp4?sig=1"
    dest, home = tmp_path / "clip.mp4", tmp_path / "home"
    try:
        first = run_alu(home, "fetch", url, str(dest))
        assert first.returncode == 0, first.stderr
        # its end said: a rerun does not pass the file off as fetched now (a daily script got
        # exit 0 for yesterday's file, the server never asked)
        said = run_alu(home, "fetch", url, str(dest))
        assert said.returncode == 1 and "exists already" in said.stderr, said.stderr
        _unsay(home)  # as a kill between the end's record and its line leaves it
        again = run_alu(home, "fetch", url.replace("sig=1", "sig=2"), str(dest))
        assert again.returncode == 0, again.stderr
        assert again.stdout == first.stdout
        dest.write_bytes(b"someone else's")  # not the recorded file: still refused
        other = run_alu(home, "fetch", url, str(dest))
        assert other.returncode == 1 and "exists already" in other.stderr, other.stderr
    finally:
        httpd.shutdown()
        httpd.server_close()
