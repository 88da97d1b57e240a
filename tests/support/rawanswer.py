"""A loopback port that answers every request with the same raw bytes, whatever they are: an
answer no HTTP server library would send (two Content-Length values, another protocol's
banner)."""

from __future__ import annotations

import contextlib
import socket
import threading


class RawAnswer:
    """Reads a request on each connection, sends ``answer`` and closes."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            # (a thread each: a connection opened ahead of its request must not hold the rest)
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):  # (a client gone first: nothing to say)
            if conn.recv(65536):
                conn.sendall(self.answer)

    def close(self) -> None:
        self.sock.close()
