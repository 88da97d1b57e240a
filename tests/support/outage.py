"""A real HTTP server on loopback that can be out of reach in the ways a server is: it drops
each request unanswered, or answers nothing at all, until it is brought up."""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def body_of(path: str) -> bytes:
    return hashlib.sha256(path.encode()).digest() * 512  # 16 KiB, its own for each path


class Server(ThreadingHTTPServer):
    """Serves ``body_of(path)`` for any path when ``mode`` is "up"; "drop": reads each request
    and closes the connection without a word (a server that accepts and drops, a firewall's
    reset); "silent": reads it and answers nothing, ever. Counts the requests it did not
    answer, by method; remembers the paths it served, in order."""

    daemon_threads = True

    def __init__(self, mode: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mode = mode
        self.unanswered: dict[str, int] = {}
        self.served: list[str] = []
        self.lock = threading.Lock()
        self.released = threading.Event()
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def count(self, method: str) -> int:
        with self.lock:
            return self.unanswered.get(method, 0)

    def up(self) -> None:
        self.mode = "up"
        self.released.set()

    def close(self) -> None:
        self.released.set()
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self, body: bool) -> None:
        mode = self.server.mode
        if mode != "up":
            with self.server.lock:
                self.server.unanswered[self.command] = (
                    self.server.unanswered.get(self.command, 0) + 1
                )
            if mode == "silent":
                self.server.released.wait(30)
            self.close_connection = True
            return
        data = body_of(self.path)
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            with self.server.lock:
                self.server.served.append(self.path)
            self.wfile.write(data)

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)
