"""Downloads and uploads to https:// addresses through a proxy's tunnel (CONNECT), and TLS as
it goes wrong: a proxy refusing the tunnel or out of reach, a certificate refused (why, and how
to trust a network's own authority), an https:// address answered in plain HTTP."""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import os
import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI, Request, Response

from alu_client.core.http import NOT_TLS_MESSAGE
from alu_client.core.transfers.base import PermanentError, RetryableError, Tuning
from alu_client.core.transfers.download import DownloadSpec, run
from alu_client.core.transfers.retry import user_message
from alu_client.core.transfers.upload import UploadSpec
from alu_client.core.transfers.upload import run as upload
from alu_client.ui.engine_text import template_of
from alu_hub.files import file_response, strong_etag
from alu_hub.server import free_port
from tests.client.test_doctor import self_signed
from tests.client.test_download import Job
from tests.support.hostile import Authority, serve_tls
from tests.support.tlsproxy import TlsTunnelProxy

MB = 1_000_000


@pytest.fixture
def job(tmp_path: Path) -> Iterator[Job]:
    j = Job(
        tmp=tmp_path,
        tuning=Tuning(connect_timeout=5, stall_timeout=5, segment_threshold=2 * MB, max_segments=4),
    )
    yield j
    j.sessions.close()


class TunnelProxy(socketserver.ThreadingTCPServer):
    """An HTTP proxy for CONNECT only: it answers ``refuse`` (a status) to every tunnel, or
    opens it; ``first`` keeps the first line of every connection made to it."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, refuse: int | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Tunnel)
        self.refuse = refuse
        self.first: list[bytes] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Tunnel(socketserver.StreamRequestHandler):
    server: TunnelProxy

    def handle(self) -> None:
        line = self.rfile.readline(65536)
        self.server.first.append(line)
        if not line.startswith(b"CONNECT "):
            self.wfile.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            return
        while self.rfile.readline(65536) not in (b"\r\n", b"\n", b""):
            pass
        if self.server.refuse is not None:
            code = self.server.refuse
            extra = b'Proxy-Authenticate: Basic realm="x"\r\n' if code == 407 else b""
            self.wfile.write(b"HTTP/1.1 %d No\r\n%sContent-Length: 0\r\n\r\n" % (code, extra))
            return
        host, _, port = line.split()[1].decode().rpartition(":")
        upstream = socket.create_connection((host, int(port)))
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()

        def pump(src: socket.socket, dst: socket.socket) -> None:
            try:
                while data := src.recv(65536):
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for s in (src, dst):
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)

        back = threading.Thread(target=pump, args=(upstream, self.connection), daemon=True)
        back.start()
        pump(self.connection, upstream)
        back.join(10)
        upstream.close()


@pytest.fixture
def tls_file(tmp_path: Path) -> Iterator[tuple[str, Path, bytes]]:
    """A Range-capable file over HTTPS, its certificate (self-signed) and its bytes."""
    data = os.urandom(6 * MB)
    app = FastAPI()
    path = tmp_path / "served.mxf"
    path.write_bytes(data)
    etag = strong_etag(hashlib.sha256(data).hexdigest())

    @app.api_route("/f.mxf", methods=["GET", "HEAD"])
    def serve(request: Request) -> Response:
        return file_response(request, path, etag=etag, media_type="application/mxf")

    cert, key = self_signed(tmp_path)
    server = serve_tls(app, cert, key)
    yield f"{server.url}/f.mxf", cert, data
    server.stop()


@pytest.mark.parametrize(
    ("status", "words"),
    [(407, "wants a user name and password (HTTP 407)"), (403, "refused to pass the request")],
)
def test_a_tunnel_the_proxy_refuses_is_its_word_and_final(
    job: Job, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, status: int, words: str
) -> None:
    # "The server could not be reached; trying again" for ever, where a plain http:// address
    # through the same proxy said the proxy's 407 or 403 and stopped
    proxy = TunnelProxy(refuse=status)
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    try:
        with pytest.raises(PermanentError) as down:
            run(DownloadSpec("https://127.0.0.1:9/f.mxf", tmp_path / "f.mxf"), job.context())
        assert words in down.value.message and "The network's proxy" in down.value.message
        assert template_of(user_message(down.value)) is not None  # shown translated
        clip = tmp_path / "clip.mp4"
        clip.write_bytes(b"x" * 1000)
        with pytest.raises(PermanentError) as up:
            upload(UploadSpec(clip, "https://127.0.0.1:9/files/", {}), job.context())
        assert words in up.value.message and "The network's proxy" in up.value.message
        # the advice on proxy logins keeps its example whole (it was cut to "proxy:3128")
        if status == 407:
            assert "alu login --proxy http://user:password@proxy:3128" in down.value.message
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_a_proxy_out_of_reach_is_named(
    job: Job, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    port = free_port()  # nothing listens there
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with pytest.raises(RetryableError) as e:
        run(DownloadSpec("https://127.0.0.1:9/f.mxf", tmp_path / "f.mxf"), job.context())
    assert e.value.message == (
        f"The network's proxy (http://127.0.0.1:{port}) cannot be reached; check the proxy "
        "settings."
    )
    assert template_of(user_message(e.value)) is not None  # shown translated


def test_an_https_address_answered_in_plain_http_is_said_and_final(
    job: Job, tmp_path: Path
) -> None:
    # "The secure connection to the server failed; trying again", for ever
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"https://127.0.0.1:{server.server_address[1]}/f.mxf"
        with pytest.raises(PermanentError) as e:
            run(DownloadSpec(url, tmp_path / "f.mxf"), job.context())
        assert e.value.message == NOT_TLS_MESSAGE
        assert template_of(user_message(e.value)) is not None  # shown translated
    finally:
        server.shutdown()
        server.server_close()


def test_a_refused_certificate_says_why_and_ssl_cert_file_is_the_way_in(
    job: Job, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tls_file: tuple[str, Path, bytes]
) -> None:
    # one message for every refusal, naming a profile that `alu fetch` does not have;
    # SSL_CERT_FILE (what curl and OpenSSL read) was not read
    url, cert, data = tls_file
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    dest = tmp_path / "f.mxf"
    with pytest.raises(PermanentError) as e:
        run(DownloadSpec(url, dest), job.context())
    assert e.value.message.startswith(
        "The server's security certificate was refused (self-signed certificate)."
    ), e.value.message
    assert "REQUESTS_CA_BUNDLE or SSL_CERT_FILE for alu fetch" in e.value.message
    assert template_of(user_message(e.value)) is not None  # shown translated
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    job.sessions.close()  # new connections, which read the setting
    result = run(DownloadSpec(url, dest), job.context())
    assert dest.read_bytes() == data and result.size == len(data)


def test_streams_through_a_proxy_open_only_tunnels(
    job: Job, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tls_file: tuple[str, Path, bytes]
) -> None:
    # the streams opened early spoke TLS to the proxy itself (a ClientHello where a CONNECT
    # belongs): "error:invalid-request" in the proxy's log, for each extra stream
    url, cert, data = tls_file
    proxy = TunnelProxy()
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    try:
        dest = tmp_path / "f.mxf"
        run(DownloadSpec(url, dest, segments=4), job.context())
        assert dest.read_bytes() == data
        assert len(proxy.first) >= 2  # it did go in segments
        assert all(line.startswith(b"CONNECT 127.0.0.1:") for line in proxy.first), proxy.first
    finally:
        proxy.shutdown()
        proxy.server_close()


@pytest.fixture
def tls_proxy(tmp_path: Path) -> Iterator[tuple[TlsTunnelProxy, Authority]]:
    """An https:// proxy whose certificate is its own authority's (a company's TLS proxy)."""
    ca = Authority(tmp_path / "proxy-ca", name="Station Proxy CA")
    proxy = TlsTunnelProxy(*ca.issue(["127.0.0.1"], name="proxy"))
    yield proxy, ca
    proxy.close()


def test_an_https_proxys_certificate_refused_names_the_proxy_not_the_server(
    job: Job,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    tls_file: tuple[str, Path, bytes],
    tls_proxy: tuple[TlsTunnelProxy, Authority],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # "The server's security certificate was refused": the server, whose certificate was never
    # seen, was blamed, and the advice was for its authority
    url, cert, data = tls_file
    proxy, proxy_ca = tls_proxy
    port = proxy.url.rpartition(":")[2]
    monkeypatch.setenv("HTTPS_PROXY", f"https://ktn-desk:s3cr%40t@127.0.0.1:{port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))  # the server's trusted, not the proxy's
    caplog.set_level("DEBUG")
    dest = tmp_path / "f.mxf"
    with pytest.raises(PermanentError) as down:
        run(DownloadSpec(url, dest), job.context())
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"x" * 1000)
    with pytest.raises(PermanentError) as up:
        upload(UploadSpec(clip, url.replace("/f.mxf", "/files/"), {}), job.context())
    for said in (down.value.message, up.value.message):
        assert said.startswith(
            f"The security certificate of the network's proxy (https://127.0.0.1:{port}) was "
            "refused (unable to get local issuer certificate), so the server was not reached."
        ), said
        assert "add it to the system's certificate store" in said
        assert "server's security certificate" not in said
        assert template_of(said) is not None  # shown translated
    for secret in ("ktn-desk", "s3cr"):  # the proxy's login: never said, never logged
        assert secret not in down.value.message + up.value.message + caplog.text
    assert proxy.tunnels == 0
    # as the message says: a bundle holding the proxy's authority and the server's
    both = tmp_path / "both.pem"
    both.write_bytes(cert.read_bytes() + proxy_ca.bundle.read_bytes())
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(both))
    job.sessions.close()
    run(DownloadSpec(url, dest), job.context())
    assert dest.read_bytes() == data and proxy.tunnels >= 1


def test_a_servers_certificate_refused_through_an_https_proxy_is_still_the_servers(
    job: Job,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    tls_file: tuple[str, Path, bytes],
    tls_proxy: tuple[TlsTunnelProxy, Authority],
) -> None:
    # the proxy trusted, its tunnel open: the certificate refused is the server's
    url, _cert, _data = tls_file
    proxy, proxy_ca = tls_proxy
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(proxy_ca.bundle))
    with pytest.raises(PermanentError) as down:
        run(DownloadSpec(url, tmp_path / "f.mxf"), job.context())
    assert down.value.message.startswith(
        "The server's security certificate was refused (self-signed certificate)."
    ), down.value.message
    assert proxy.tunnels == 1
