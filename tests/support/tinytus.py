"""A small tus 1.0 server (http.server, 127.0.0.1, a random port) whose answers a test bends
into the legal-but-unusual ones real servers give: OPTIONS refused, 403 for an upload it no
longer holds, a PATCH answered 204 that kept fewer bytes than it was sent (or none), a server
that keeps what arrived of a cut PATCH (tus: "SHOULD … store as much of the received data as
possible", as tusd and the tus Node.js server do). Every request is recorded (``seen``)."""

from __future__ import annotations

import contextlib
import select
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from alu_hub.server import free_port


@dataclass
class Bends:
    #: status of every OPTIONS answer (204: the extensions below)
    options_status: int = 204
    extensions: str = "creation,termination"
    #: HEAD of an upload not held (or forgotten): 404, 410 or 403 all are tus 1.0
    unknown_status: int = 404
    #: header fields of that answer (e.g. a passed ``Upload-Expires``: the upload expired)
    unknown_headers: dict[str, str] = field(default_factory=dict)
    #: a PATCH keeps at most this many bytes of its body (None: all), and says so in its 204
    keep_at_most: int | None = None
    #: a PATCH that kept less (``keep_at_most``) says it kept all (a server losing bytes)
    claims_all: bool = False
    #: every request but OPTIONS needs this Authorization header (None: none needed)
    auth: str | None = None
    #: Location names the upload on this host (the same server under another name)
    location_host: str | None = None
    #: the creation's Location, whatever it is (None: this server's address of the upload)
    location: str | None = None
    #: interim answers (102 Processing, 103 Early Hints) before every final one
    interim: bool = False
    #: answers to these methods never end: a chunked body of 6 bytes a second; for HEAD, whose
    #: answer has no body (RFC 9110 §9.3.2: no client reads one), a header field a second
    trickle: frozenset[str] = frozenset()
    #: … a piece this often (seconds): well within the client's read timeout, so that only the
    #: stall time (or a pause) can end the answer
    trickle_every: float = 1.0
    #: Upload-Offset sent twice (the same value) in every answer that has one
    offset_twice: bool = False
    #: this many more header fields in every answer (http.client reads at most 100)
    extra_headers: int = 0
    #: a kept-alive connection idle this long is closed as a request comes on it, unanswered
    #: (the server's idle timer and the request crossing on the way)
    idle_close_s: float | None = None
    #: an upload holding this many bytes or more is forgotten when the next request for it
    #: comes (one that expires sooner than the file can be sent)
    lose_at: int | None = None
    #: this many PATCHes are answered 423 Locked once their body is in (another writer holds
    #: the upload: a server restarted while its dead process's lease runs)
    locked_patches: int = 0
    #: every PATCH is answered this status once its body is in, keeping nothing (None: none)
    patch_status: int | None = None


@dataclass
class Upload:
    length: int
    data: bytearray = field(default_factory=bytearray)


class TinyTus(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, bends: Bends | None = None) -> None:
        super().__init__(("127.0.0.1", free_port()), _Handler)
        self.bends = bends or Bends()
        self.uploads: dict[str, Upload] = {}
        self.lock = threading.Lock()
        self.seen: list[tuple[str, str, int]] = []  # method, path, status
        self.patch_bytes = 0  # of PATCH bodies received, whatever became of them
        self.patch_lengths: list[int] = []  # each PATCH's Content-Length, in order
        self.metadata: list[str] = []  # each creation's Upload-Metadata, as sent
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/files/"

    def methods(self) -> list[str]:
        return [m for m, _p, _s in self.seen]

    def forget_all(self) -> None:
        """The server's clean-up ran: every upload is gone."""
        with self.lock:
            self.uploads.clear()

    def only_upload(self) -> bytes:
        with self.lock:
            (up,) = self.uploads.values()
            return bytes(up.data)

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def __enter__(self) -> TinyTus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that cut a PATCH is what these tests are about


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: TinyTus

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.server.seen.append((self.command, self.path, status))
        if self.server.bends.interim:
            self.wfile.write(b"HTTP/1.1 102 Processing\r\n\r\n")
            self.wfile.write(b"HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n")
        self.send_response(status)
        self.send_header("Tus-Resumable", "1.0.0")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
            if k == "Upload-Offset" and self.server.bends.offset_twice:
                self.send_header(k, v)
        for i in range(self.server.bends.extra_headers):
            self.send_header(f"X-Trace-{i}", "x")
        if self.command in self.server.bends.trickle:
            if self.command == "HEAD":  # no body: the header section itself never ends
                self.wfile.write(b"".join(self._headers_buffer))  # type: ignore[attr-defined]
                self._headers_buffer = []  # type: ignore[attr-defined]
                piece = b"X-Wait: x\r\n"
            else:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                piece = b"6\r\ndata:\n\r\n"
            self.close_connection = True
            with contextlib.suppress(OSError):
                every = self.server.bends.trickle_every
                for _ in range(round(600 / every)):  # ten minutes, or until the client goes
                    self.wfile.write(piece)
                    self.wfile.flush()
                    time.sleep(every)
            return
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _upload(self) -> tuple[str, Upload | None]:
        uid = self.path.rstrip("/").rsplit("/", 1)[-1]
        lose_at = self.server.bends.lose_at
        with self.server.lock:
            up = self.server.uploads.get(uid)
            if up is not None and lose_at is not None and len(up.data) >= lose_at:
                del self.server.uploads[uid]
                up = None
        return uid, up

    def handle_one_request(self) -> None:
        idle = self.server.bends.idle_close_s
        last = getattr(self, "_answered_at", None)
        if idle is not None and last is not None:
            ready, _w, _x = select.select([self.connection], [], [], idle)
            if ready:  # a request came before the idle time: served
                super().handle_one_request()
                self._answered_at = time.monotonic()
                return
            # idle: the server closes it, and the request on its way meets the close
            ready, _w, _x = select.select([self.connection], [], [], 30)
            if ready:
                self.server.seen.append(("closed-unanswered", "", 0))
            self.close_connection = True
            return
        super().handle_one_request()
        self._answered_at = time.monotonic()

    def do_OPTIONS(self) -> None:
        bends = self.server.bends
        if bends.options_status >= 300:
            self._send(bends.options_status)
            return
        self._send(
            bends.options_status, {"Tus-Version": "1.0.0", "Tus-Extension": bends.extensions}
        )

    def _refused(self) -> bool:
        auth = self.server.bends.auth
        if auth is None or self.headers.get("Authorization") == auth:
            return False
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        self._send(401)
        return True

    def do_POST(self) -> None:
        if self._refused():
            return
        uid = uuid.uuid4().hex
        with self.server.lock:
            self.server.metadata.append(self.headers.get("Upload-Metadata", ""))
            self.server.uploads[uid] = Upload(int(self.headers["Upload-Length"]))
        host = self.server.bends.location_host
        where = f"http://{host}:{self.server.server_address[1]}" if host else ""
        self._send(201, {"Location": self.server.bends.location or f"{where}/files/{uid}"})

    def do_HEAD(self) -> None:
        if self._refused():
            return
        _uid, up = self._upload()
        if up is None:
            self._send(self.server.bends.unknown_status, self.server.bends.unknown_headers)
            return
        self._send(200, {"Upload-Offset": str(len(up.data)), "Upload-Length": str(up.length)})

    def do_PATCH(self) -> None:
        if self._refused():
            return
        _uid, up = self._upload()
        n = int(self.headers.get("Content-Length") or 0)
        body = bytearray()
        while len(body) < n:
            try:
                piece = self.rfile.read(min(65536, n - len(body)))
            except OSError:
                piece = b""
            if not piece:
                break
            body += piece
        if up is None:
            self._send(404)
            return
        offset = int(self.headers.get("Upload-Offset", "-1"))
        with self.server.lock:
            self.server.patch_bytes += len(body)
            self.server.patch_lengths.append(n)
            if self.server.bends.patch_status is not None:
                self._send(self.server.bends.patch_status)
                return
            if self.server.bends.locked_patches > 0:
                self.server.bends.locked_patches -= 1
                self._send(423, {"Retry-After": "0"})
                return
            if offset != len(up.data):
                self._send(409)
                return
            if len(body) < n:  # cut on the way: kept, as a tus server should
                up.data += body
                self.server.seen.append(("PATCH-cut", self.path, 0))
                self.close_connection = True
                return
            keep = self.server.bends.keep_at_most
            up.data += body if keep is None else body[:keep]
            said = offset + n if self.server.bends.claims_all else len(up.data)
            self._send(204, {"Upload-Offset": str(said)})

    def do_DELETE(self) -> None:
        if self._refused():
            return
        uid, up = self._upload()
        with self.server.lock:
            self.server.uploads.pop(uid, None)
        self._send(204 if up is not None else 404)
