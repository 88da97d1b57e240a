"""Small misbehaving servers on 127.0.0.1 (random ports) for the hostile-server tests.

- ``FakeHub``: answers the client's hub API (sign-in, items, rendition files, a minimal tus
  endpoint) from data the test sets — items with hostile names, rendition URLs elsewhere — and
  lets a test replace any path's answer with its own (``routes``). Every request is recorded
  with its headers (``seen``), so a test can tell where a token went.
- ``RawServer``: a TCP server that reads one request head and hands the socket to the test,
  for answers no HTTP framework would send (endless headers, lying lengths, endless bodies).
- ``Authority`` / ``serve_tls``: certificates made with ``cryptography`` (a CA, a self-signed
  one, expired ones, ones for another host) and an ASGI app served over TLS.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from alu_hub.server import free_port
from tests.support.waiting import wait_until

TOKEN = "fake-hub-token-7c1e3b9a5d"
MEMBER = {"username": "ktn", "display_name": "KTN", "country": "KE", "role": "member"}


# --- a fake hub -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """One request as a server saw it (header names in lower case)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""


def item_json(
    item_id: str,
    seq: int,
    data: bytes,
    url: str,
    *,
    filename: str = "",
    slug: str = "",
    title: str = "",
    thumbnail_url: str = "",
) -> dict[str, Any]:
    """An item as the hub's API sends it, with one broadcast rendition of ``data`` at ``url``."""
    return {
        "id": item_id,
        "seq": seq,
        "kind": "push",
        "title": title,
        "slug": slug,
        "dateline": "NAIROBI, Kenya",
        "recorded_at": None,
        "published_at": "2026-10-05T12:00:00Z",
        "category": "news",
        "region": "east-africa",
        "country": "KE",
        "language": "en",
        "priority": "routine",
        "restrictions": "",
        "script": "",
        "shotlist": "",
        "duration": 1.0,
        "source_member": None,
        "thumbnail_url": thumbnail_url,
        "renditions": [
            {
                "name": "broadcast",
                "url": url,
                "filename": filename,
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "mime": "video/mp4",
                "width": 320,
                "height": 240,
            }
        ],
    }


Route = Callable[["FakeHubHandler"], None]


class FakeHub(ThreadingHTTPServer):
    """A hub API on 127.0.0.1 that says what the test wants it to say."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, payload: bytes = b"") -> None:
        super().__init__(("127.0.0.1", 0), FakeHubHandler)
        self.payload = payload
        self.token = TOKEN
        self.items: dict[str, dict[str, Any]] = {}
        #: path (without the query) → a function that answers instead of the fake hub
        self.routes: dict[str, Route] = {}
        self.seen: list[Seen] = []
        #: tus uploads received: id → (announced length, bytes)
        self.uploads: dict[str, tuple[int, bytearray]] = {}
        #: where tus creation says an upload lives ("" = here); ``id`` is appended
        self.upload_location = ""
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def add_item(self, item_id: str, **names: str) -> dict[str, Any]:
        """An item whose broadcast file is ``payload`` served here (``names``: filename, slug,
        title, thumbnail_url; ``url`` to point the rendition elsewhere)."""
        url = names.pop("url", "") or f"{self.url}/files/{item_id}"
        item = item_json(item_id, len(self.items) + 1, self.payload, url, **names)
        self.items[item_id] = item
        return item

    def requests_to(self, prefix: str) -> list[Seen]:
        return [s for s in self.seen if s.path.startswith(prefix)]

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up on purpose is not an error here

    def record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)


class FakeHubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeHub

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- helpers for routes ---------------------------------------------------------------------

    def send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        given = {k.lower() for k in (headers or {})}
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if "content-length" not in given:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def send_json(self, data: Any, status: int = 200) -> None:
        self.send(status, json.dumps(data).encode(), {"Content-Type": "application/json"})

    def redirect(self, location: str, status: int = 302) -> None:
        self.send(status, b"", {"Location": location})

    @property
    def path_only(self) -> str:
        return urlsplit(self.path).path

    # -- dispatch -------------------------------------------------------------------------------

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.body = body
        self.server.record(
            Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        )
        route = self.server.routes.get(self.path_only)
        if route is not None:
            route(self)
            return
        self._default()

    do_GET = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _handle

    def _authorized(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {self.server.token}":
            return True
        self.send_json({"error": {"code": "unauthorized", "message": "Sign in first."}}, 401)
        return False

    def _default(self) -> None:
        srv, path, method = self.server, self.path_only, self.command
        if path == "/api/v1/session" and method == "POST":
            self.send_json({"token": srv.token, "expires_at": "2099-01-01T00:00:00Z",
                            "member": MEMBER})  # fmt: skip
            return
        if not self._authorized():
            return
        if path == "/api/v1/session" and method == "DELETE":
            self.send(204)
        elif path == "/api/v1/me":
            self.send_json(MEMBER)
        elif path == "/api/v1/items":
            items = sorted(srv.items.values(), key=lambda i: int(i["seq"]))
            last = items[-1]["seq"] if items else 0
            self.send_json({"items": items, "next": last, "more": False})
        elif path.startswith("/api/v1/items/"):
            item = srv.items.get(path.rsplit("/", 1)[-1])
            if item is None:
                self.send_json({"error": {"code": "not_found", "message": "No such item."}}, 404)
            else:
                self.send_json(item)
        elif path.startswith("/files/"):
            self._file(srv.payload)
        elif path.startswith("/api/v1/uploads"):
            self._tus()
        else:
            self.send_json({"error": {"code": "not_found", "message": "No such thing."}}, 404)

    def _file(self, data: bytes) -> None:
        """The bytes, with a strong ETag and single ``bytes=N-M`` ranges."""
        etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if_range = self.headers.get("If-Range")
        headers = {"ETag": etag, "Accept-Ranges": "bytes", "Content-Type": "video/mp4"}
        if m and if_range in (None, etag) and int(m.group(1)) < len(data):
            start = int(m.group(1))
            end = min(int(m.group(2)) + 1, len(data)) if m.group(2) else len(data)
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{len(data)}"
            self.send(206, data[start:end], headers)
        else:
            self.send(200, data, headers)

    def _tus(self) -> None:
        """Just enough tus 1.0 (core + creation) for an upload to run."""
        srv, method = self.server, self.command
        base = {"Tus-Resumable": "1.0.0"}
        if method == "OPTIONS":
            self.send(204, b"", {**base, "Tus-Version": "1.0.0", "Tus-Extension": "creation"})
        elif method == "POST":
            upload_id = hashlib.sha256(f"{len(srv.uploads)}{self.path}".encode()).hexdigest()[:24]
            srv.uploads[upload_id] = (int(self.headers.get("Upload-Length") or 0), bytearray())
            location = srv.upload_location or f"{srv.url}/api/v1/uploads/"
            self.send(201, b"", {**base, "Location": location + upload_id})
        else:
            upload_id = self.path_only.rstrip("/").rsplit("/", 1)[-1]
            length, data = srv.uploads.setdefault(upload_id, (0, bytearray()))
            if method == "PATCH":
                data += self.body
            headers = {**base, "Upload-Offset": str(len(data)), "Upload-Length": str(length)}
            self.send(204 if method == "PATCH" else 200, b"", headers)


# --- a raw TCP server ----------------------------------------------------------------------------


class RawConn:
    """One accepted connection: the request head that came in, a counted ``send`` and
    ``next_head`` for a client that keeps the connection for another request."""

    def __init__(self, server: RawServer, sock: socket.socket, head: bytes, rest: bytes) -> None:
        self.server = server
        self.sock = sock
        self.head = head
        self.sent_here = 0
        self._rest = rest

    def send(self, data: bytes) -> bool:
        """Send it all; False once the peer went away (nothing more can be sent)."""
        try:
            self.sock.sendall(data)
        except OSError:
            return False
        self.sent_here += len(data)
        with self.server.lock:
            self.server.sent += len(data)
        return True

    def next_head(self) -> bytes:
        """The next request's head on this connection; b"" when the client closed it."""
        head, self._rest = _read_head(self.sock, self._rest)
        if head:
            with self.server.lock:
                self.server.heads.append(head)
        return head


def _read_head(sock: socket.socket, buffered: bytes) -> tuple[bytes, bytes]:
    data = buffered
    while b"\r\n\r\n" not in data:
        if len(data) > 65536:
            return b"", b""
        try:
            more = sock.recv(4096)
        except OSError:
            return b"", b""
        if not more:
            return b"", b""
        data += more
    head, _, rest = data.partition(b"\r\n\r\n")
    return head + b"\r\n\r\n", rest


class RawServer:
    """Accepts connections on 127.0.0.1, reads one request head (at most 64 KiB) and calls
    ``handler(conn)``; the connection is closed when the handler returns. ``sent`` counts the
    bytes the handlers managed to send, ``heads`` the request heads received."""

    def __init__(self, handler: Callable[[RawConn], None]) -> None:
        self.handler = handler
        self.lock = threading.Lock()
        self.sent = 0
        self.heads: list[bytes] = []
        self.errors: list[BaseException] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._thread = threading.Thread(target=self._accept, daemon=True, name="raw-server")
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            self._threads.append(t)
            t.start()

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(30)
        try:
            head, rest = _read_head(sock, b"")
            if not head:
                return
            with self.lock:
                self.heads.append(head)
            self.handler(RawConn(self, sock, head, rest))
        except OSError:
            pass
        except BaseException as e:  # a broken handler must show in the test, not vanish
            self.errors.append(e)
        finally:
            sock.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()
        for t in self._threads:
            t.join(5)


# --- certificates and TLS ------------------------------------------------------------------------


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _san(hosts: list[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for h in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            names.append(x509.DNSName(h))
    return x509.SubjectAlternativeName(names)


@dataclass
class Authority:
    """A certificate authority of the test's own (a private hub's, or a corporate proxy's)."""

    folder: Path
    name: str = "ALU test CA"
    key: ec.EllipticCurvePrivateKey = field(init=False)
    cert: x509.Certificate = field(init=False)

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.name)])
        now = dt.datetime.now(dt.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_key_usage(ca=True), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )

    @property
    def bundle(self) -> Path:
        """The CA's certificate as a PEM bundle (what a user sets as the profile's CA bundle)."""
        path = self.folder / f"{self.name.replace(' ', '-')}.pem"
        if not path.exists():
            path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        return path

    def issue(
        self,
        hosts: list[str],
        *,
        name: str = "hub",
        valid_from: dt.timedelta = dt.timedelta(days=-1),
        valid_for: dt.timedelta = dt.timedelta(days=2),
    ) -> tuple[Path, Path]:
        """A server certificate for ``hosts`` (valid from now + ``valid_from``); (cert, key)."""
        key = ec.generate_private_key(ec.SECP256R1())
        start = dt.datetime.now(dt.UTC) + valid_from
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + valid_for)
            .add_extension(_san(hosts), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(ca=False), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        cert_path, key_path = self.folder / f"{name}.pem", self.folder / f"{name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(_key_pem(key))
        return cert_path, key_path


def self_signed(folder: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A certificate for ``host`` signed by itself: a misconfigured hub, or an attacker's."""
    ca = Authority(folder / "self-signed", name=host)
    key_path = folder / "self-signed.key"
    cert_path = folder / "self-signed.pem"
    cert = (
        x509.CertificateBuilder()
        .subject_name(ca.cert.subject)
        .issuer_name(ca.cert.subject)
        .public_key(ca.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
        .not_valid_after(dt.datetime.now(dt.UTC) + dt.timedelta(days=2))
        .add_extension(_san([host]), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(_key_pem(ca.key))
    return cert_path, key_path


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


@dataclass
class TlsServer:
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        # at once, not gracefully: a client's kept-alive connection (through a proxy's
        # tunnel, which stays open) held each test's teardown for the whole 10 s
        self.server.should_exit = True
        self.server.force_exit = True
        self.thread.join(10)


def serve_tls(app: Any, cert: Path, key: Path) -> TlsServer:
    """``app`` (ASGI) over HTTPS on 127.0.0.1 with this certificate."""
    port = free_port("127.0.0.1")
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        ssl_certfile=str(cert),
        ssl_keyfile=str(key),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True, name=f"tls:{port}")
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive(), timeout=20, what="TLS server")
    assert server.started, "the TLS server did not start"
    return TlsServer(f"https://127.0.0.1:{port}", server, thread)
