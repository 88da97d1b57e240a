"""Misbehaving HTTP in front of a real hub, for the fault matrix (tests/reliability).

``HubFront`` is a small HTTP/1.1 reverse proxy on 127.0.0.1 that forwards every request to a
real hub and, on demand, breaks the rendition downloads the way real servers, CDNs and proxies
do, or shows the hub's clock a day off:

* ``ignore_range``: the ``Range`` (and ``If-Range``) of a rendition GET are dropped, so the hub
  answers ``200`` with the whole file (a server or cache without Range support).
* ``shift_range = (n, times)``: the next ``times`` ranged GETs ask the hub for ``n`` bytes
  further than the client asked, so the ``206`` carries the wrong ``Content-Range`` (and bytes).
* ``gzip_ranges = times``: the next ``times`` ``206`` answers are gzipped, with
  ``Content-Encoding: gzip`` and the compressed length (a proxy compressing on the fly).
* ``etag_changed``: the rendition's ETag becomes another one (same bytes: a re-deployed CDN
  node); an ``If-Range`` with the hub's old tag no longer matches (``200``, whole file).
* ``changed_body``: rendition GETs are answered here with these bytes and another ETag, Range
  and If-Range honoured (the remote file was replaced).
* ``date_offset``: the ``Date`` header of every answer is moved by this many seconds (with
  ``alu_hub.models.clock_offset``: a hub whose machine clock is off).

The ``Host`` header is passed on unchanged, so the URLs the hub writes (rendition links, tus
``Location``) point at whatever the client connected to (e.g. a ``FaultProxy`` in front of this
one). Every request is forwarded on a new connection to the hub; answers without a length
(server-sent events) are passed on chunk by chunk as they come.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import re
import socket
import threading
import time
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["HubFront", "RenditionRequest"]

#: a rendition file: GET/HEAD /api/v1/items/<id>/renditions/<name> (not .../link)
RENDITION = re.compile(r"^/api/v1/items/[^/?]+/renditions/[^/?]+(?:\?.*)?$")
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
CHANGED_ETAG = '"changed-remote-file"'
CHANGED_LAST_MODIFIED = formatdate(1_700_000_000, usegmt=True)


@dataclass(frozen=True)
class RenditionRequest:
    """A rendition request as the client sent it (before any rewriting)."""

    method: str
    path: str
    range: str | None
    if_range: str | None


class HubFront(ThreadingHTTPServer):
    """See the module doc. Settings may be changed from any thread at any time."""

    daemon_threads = True

    def __init__(self, hub_port: int) -> None:
        super().__init__(("127.0.0.1", 0), _FrontHandler)
        self.hub_port = hub_port
        self.lock = threading.Lock()
        self.ignore_range = False
        self.shift_range: tuple[int, int] = (0, 0)
        self.gzip_ranges = 0
        self.etag_changed = False
        self.changed_body: bytes | None = None
        self.date_offset = 0.0
        self.renditions: list[RenditionRequest] = []
        self._clients: set[socket.socket] = set()
        self._thread = threading.Thread(
            target=self.serve_forever, args=(0.05,), name="hub-front", daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        with self.lock:
            clients = list(self._clients)
        for sock in clients:  # kept-alive or streaming clients: end them too
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> HubFront:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients cut on purpose (the fault proxy in front) are not errors here

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.lock:
            self._clients.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.lock:
            self._clients.discard(request)
        super().shutdown_request(request)

    # --- what the settings do ---------------------------------------------------------------

    def take(self, name: str) -> int:
        """Use one of a counted fault (``gzip_ranges``, ``shift_range``); the amount, or 0."""
        with self.lock:
            if name == "gzip_ranges":
                if self.gzip_ranges > 0:
                    self.gzip_ranges -= 1
                    return 1
                return 0
            shift, times = self.shift_range
            if times > 0:
                self.shift_range = (shift, times - 1)
                return shift
            return 0

    def moved_date(self, value: str | None) -> str | None:
        if not self.date_offset:
            return value
        try:
            when = parsedate_to_datetime(value) if value else None
        except (TypeError, ValueError):
            when = None
        stamp = when.timestamp() if when is not None else time.time()
        return formatdate(stamp + self.date_offset, usegmt=True)


class _FrontHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HubFront
    timeout = 60  # a client that sends nothing for this long is dropped

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._forward()

    do_HEAD = do_POST = do_PATCH = do_PUT = do_DELETE = do_OPTIONS = do_GET

    # --- one request ------------------------------------------------------------------------

    def _forward(self) -> None:
        front = self.server
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP]
        rendition = self.command in ("GET", "HEAD") and RENDITION.match(self.path) is not None
        gzip_this = False
        if rendition:
            rng = self.headers.get("Range")
            if_range = self.headers.get("If-Range")
            with front.lock:
                front.renditions.append(RenditionRequest(self.command, self.path, rng, if_range))
            if front.changed_body is not None:
                self._serve_changed(front.changed_body, rng, if_range)
                return
            headers = self._rewrite_request(headers, rng, if_range)
            gzip_this = bool(rng) and self.command == "GET" and front.gzip_ranges > 0
        conn = http.client.HTTPConnection("127.0.0.1", front.hub_port, timeout=60)
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                conn.putheader(name, value)
            conn.putheader("Connection", "close")
            conn.endheaders(body or None)
            resp = conn.getresponse()
            self._answer(resp, rendition, gzip_this)
        except (OSError, http.client.HTTPException):
            self.close_connection = True
        finally:
            conn.close()

    def _rewrite_request(
        self, headers: list[tuple[str, str]], rng: str | None, if_range: str | None
    ) -> list[tuple[str, str]]:
        front = self.server
        drop: set[str] = set()
        if front.ignore_range:
            drop |= {"range", "if-range"}
        if front.etag_changed and if_range is not None:
            if if_range.endswith('-v2"'):
                headers = [
                    (k, if_range[: -len('-v2"')] + '"' if k.lower() == "if-range" else v)
                    for k, v in headers
                ]
            else:  # the hub's old tag: it no longer matches, the whole file comes
                drop |= {"range", "if-range"}
        if rng and "range" not in drop:
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng.strip())
            shift = front.take("shift_range") if m else 0
            if m and shift:
                moved = f"bytes={int(m.group(1)) + shift}-{m.group(2)}"
                headers = [(k, moved if k.lower() == "range" else v) for k, v in headers]
        return [(k, v) for k, v in headers if k.lower() not in drop]

    def _answer(self, resp: http.client.HTTPResponse, rendition: bool, gzip_this: bool) -> None:
        front = self.server
        out = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
        if rendition and front.etag_changed:
            out = [(k, v[:-1] + '-v2"' if k.lower() == "etag" else v) for k, v in out]
        date = next((v for k, v in out if k.lower() == "date"), None)
        out = [(k, v) for k, v in out if k.lower() != "date"]
        moved = front.moved_date(date)
        if moved is not None:
            out.append(("Date", moved))
        if gzip_this and resp.status == 206 and front.take("gzip_ranges"):
            data = gzip.compress(resp.read())
            out = [
                (k, v) for k, v in out if k.lower() not in ("content-length", "content-encoding")
            ]
            out += [("Content-Encoding", "gzip"), ("Content-Length", str(len(data)))]
            self._send_head(resp.status, resp.reason, out)
            self.wfile.write(data)
            return
        bodiless = self.command == "HEAD" or resp.status in (204, 304) or resp.status < 200
        has_length = any(k.lower() == "content-length" for k, _ in out)
        chunked = not has_length and not bodiless  # a stream (events): chunk by chunk
        if chunked:
            out.append(("Transfer-Encoding", "chunked"))
        self._send_head(resp.status, resp.reason, out)
        if bodiless:
            return
        while True:
            piece = resp.read1(64 * 1024)
            if chunked:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            elif piece:
                self.wfile.write(piece)
            if not piece:
                break
            self.wfile.flush()

    def _send_head(self, status: int, reason: str, headers: list[tuple[str, str]]) -> None:
        self.send_response_only(status, reason)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()

    def _serve_changed(self, data: bytes, rng: str | None, if_range: str | None) -> None:
        """The replaced remote file: Range honoured while If-Range (if any) matches."""
        start, end, status = 0, len(data), 200
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", (rng or "").strip())
        if m and if_range in (None, CHANGED_ETAG, CHANGED_LAST_MODIFIED):
            start = int(m.group(1))
            end = min(int(m.group(2)) + 1, len(data)) if m.group(2) else len(data)
            status = 206
        headers = [
            ("Content-Type", "video/mp4"),
            ("ETag", CHANGED_ETAG),
            ("Last-Modified", CHANGED_LAST_MODIFIED),
            ("Accept-Ranges", "bytes"),
            ("Content-Length", str(end - start)),
        ]
        if status == 206:
            headers.append(("Content-Range", f"bytes {start}-{end - 1}/{len(data)}"))
        moved = self.server.moved_date(formatdate(usegmt=True))
        if moved is not None:
            headers.append(("Date", moved))
        self._send_head(status, "Partial Content" if status == 206 else "OK", headers)
        if self.command == "GET":
            self.wfile.write(data[start:end])
