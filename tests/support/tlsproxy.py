"""An https:// proxy on loopback: TLS to the proxy itself (its own certificate), then tunnels
(CONNECT) to the address asked, as a company's TLS proxy does."""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
from pathlib import Path


class TlsTunnelProxy:
    """Serves TLS with ``cert``/``key`` on 127.0.0.1, opens each CONNECT's tunnel; counts the
    tunnels it opened."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.tunnels = 0
        self.url = f"https://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def close(self) -> None:
        self.listener.close()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:  # (closed)
                return
            threading.Thread(target=self._tunnel, args=(conn,), daemon=True).start()

    def _tunnel(self, raw: socket.socket) -> None:
        with contextlib.ExitStack() as stack:
            stack.enter_context(raw)
            try:
                conn = stack.enter_context(self.context.wrap_socket(raw, server_side=True))
                head = b""
                while b"\r\n\r\n" not in head:
                    data = conn.recv(4096)
                    if not data:
                        return
                    head += data
                host, _, port = head.split()[1].decode().rpartition(":")
                up = stack.enter_context(socket.create_connection((host, int(port)), timeout=10))
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                self.tunnels += 1
                ends: list[socket.socket] = [conn, up]
                while True:
                    ready = [conn] if conn.pending() else select.select(ends, [], [], 10)[0]
                    if not ready:
                        return
                    for end in ready:
                        data = end.recv(65536)
                        if not data:
                            return
                        (up if end is conn else conn).sendall(data)
            except (OSError, ValueError, IndexError):  # a client that refused our certificate
                return
