"""Run the hub's ASGI app with uvicorn: in the foreground (``alu-hub serve``) or on a thread with
a free loopback port (tests, the client's embedded demo hub)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def uvicorn_config(
    app: FastAPI, host: str, port: int, *, log_level: str = "warning"
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        http="httptools",
        # Clients on 300 ms links keep connections between chunks; do not cut them too soon.
        timeout_keep_alive=75,
        # Behind nginx/a load balancer, trust X-Forwarded-* from loopback only (uvicorn default).
        proxy_headers=True,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )


@dataclass
class RunningHub:
    """A hub serving on a thread; ``stop()`` shuts it down cleanly."""

    app: FastAPI
    server: uvicorn.Server
    thread: threading.Thread
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        # End the event streams first: uvicorn waits for open connections before it stops.
        broker = getattr(getattr(self.app.state, "hub", None), "broker", None)
        if broker is not None:
            broker.close()
        self.server.should_exit = True
        self.thread.join(timeout)
        if self.thread.is_alive():  # connections that would not close: force it
            self.server.force_exit = True
            self.thread.join(timeout)


def serve_in_thread(
    app: FastAPI, host: str = "127.0.0.1", port: int = 0, *, startup_timeout: float = 20.0
) -> RunningHub:
    port = port or free_port(host)
    server = uvicorn.Server(uvicorn_config(app, host, port))
    thread = threading.Thread(target=server.run, name=f"hub:{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"the hub could not start on {host}:{port}")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the hub did not start on {host}:{port} in {startup_timeout:.0f} s")
        time.sleep(0.02)
    return RunningHub(app, server, thread, host, port)
