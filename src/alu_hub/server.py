"""Run the hub's ASGI app with uvicorn: in the foreground (``alu-hub serve``) or on a thread with
a free loopback port (tests, the client's embedded demo hub)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import multiprocessing
import os
import re
import signal
import socket
import threading
import time
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from alu_client.core.http import redact_query

from .accesslog import AccountFilter, log_config
from .errors import error_body
from .events import BROKER_STATE, FeedBroker
from .files import ABORT_EXTENSION
from .settings import LOOPBACK, Settings


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


#: a tus upload's address: its id is a secret (with a token of the member, it appends to the
#: upload or deletes it), kept to its first 8 characters as the hub's own log lines keep it
_UPLOAD_ID = re.compile(r"(/api/v1/uploads/[^/?#\s]{8})[^/?#\s]+")


def redact_target(target: str) -> str:
    """An access line's request target without its secrets: query values (``redact_query``)
    and all but the start of an upload's id."""
    if "?" in target:
        target = redact_query(target)
    return _UPLOAD_ID.sub(r"\1…", target)


class RedactSecrets(logging.Filter):
    """Takes secrets out of uvicorn's access log lines (``redact_target`` on their
    arguments)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                redact_target(a) if isinstance(a, str) and a.startswith("/") else a
                for a in record.args
            )
        return True


_REDACT_SECRETS = RedactSecrets()
_ACCOUNT = AccountFilter()


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the request line and headers bounded: past
    ``max_head`` bytes the hub answers 431 (JSON) and closes, without reading on. Without it one
    endless header is gathered in memory for as long as the client sends it (the parser calls
    back only once a header is complete). Counted on the bytes received before the blank line
    that ends the head; a second pipelined request in the same read is counted from the next
    read on, so the bound holds within one read (256 KiB).

    It also ends the app's event streams as soon as the server begins to stop (``shutdown``),
    and lets a response end its connection at once (``files.ABORT_EXTENSION``: a rendition whose
    item was withdrawn while it was being sent)."""

    max_head: int = 256 * 1024

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        _no_delay(transport)
        # Here, not in a logging config: every process serving a hub uses this protocol
        # (``alu-hub serve`` and its workers, the demo, the client's embedded hub), and a
        # logging config set later (uvicorn's, in each worker) keeps a logger's filters.
        self.access_logger.addFilter(_REDACT_SECRETS)  # once: addFilter skips one it has
        self.access_logger.addFilter(_ACCOUNT)  # (the user name for ``accesslog``'s lines)
        super().connection_made(transport)
        self._in_head = True
        self._head_bytes = 0
        self._tail = b""

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope["extensions"] = {ABORT_EXTENSION: {"abort": self._abort}}

    def _abort(self) -> None:
        """End the connection now, dropping what is buffered for the client."""
        self.transport.abort()

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._head_bytes, self._tail = True, 0, b""

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            end = _head_end(self._tail, data)
            self._head_bytes += len(data) if end < 0 else end
            if self._head_bytes > self.max_head:
                self._refuse_head()
                return
            self._tail = (self._tail + data[-3:])[-3:]
        super().data_received(data)

    def shutdown(self) -> None:
        """The server has begun to stop (SIGTERM or SIGINT, a worker whose supervisor has gone,
        ``RunningHub.stop``) and asks each connection to end: the event streams end now. They
        used to end in the lifespan's shutdown, which uvicorn runs only after the open
        connections have closed: every stop waited out the graceful timeout (5 s), then
        cancelled each member's stream with a traceback in the log."""
        broker = self.app_state.get(BROKER_STATE)
        if isinstance(broker, FeedBroker) and not broker.closing:
            broker.close()
        super().shutdown()

    def _refuse_head(self) -> None:
        body = json.dumps(
            error_body(
                "headers_too_large",
                f"The request's headers are larger than this hub accepts ({self.max_head} "
                "bytes); nothing was done.",
            )
        ).encode()
        head = (
            "HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        )
        self._in_head = False
        self.transport.write(head.encode("ascii") + body)
        self.transport.close()


def _no_delay(transport: asyncio.BaseTransport) -> None:
    """Send small writes at once (TCP_NODELAY). asyncio sets it only on sockets whose ``proto``
    says TCP; a listening socket handed to a worker process (``serve --workers``) comes back
    with ``proto`` 0, so its connections kept Nagle's algorithm, and every answer written in
    two parts (head, body) waited for the client's delayed ACK: 40 ms a request, measured."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _head_end(tail: bytes, data: bytes) -> int:
    """How many bytes of ``data`` belong to the head when ``data`` holds its end (the blank line),
    given the last bytes before it; -1 when the head goes on."""
    end = (tail + data[:3]).find(b"\r\n\r\n")
    if end >= 0:
        return end + 4 - len(tail)
    end = data.find(b"\r\n\r\n")
    return -1 if end < 0 else end + 4


def _bounded_protocol(max_head: int) -> type[BoundedHttpToolsProtocol]:
    return type("BoundedHttpToolsProtocol", (BoundedHttpToolsProtocol,), {"max_head": max_head})


def uvicorn_config(
    app: FastAPI, host: str, port: int, *, log_level: str = "warning"
) -> uvicorn.Config:
    """The server for a hub app: its limits and its trusted proxies come from the hub's
    settings (defaults for an app without a hub)."""
    hub = getattr(app.state, "hub", None)
    settings: Settings | None = getattr(hub, "settings", None)
    trusted = list(settings.trusted_proxies if settings is not None else LOOPBACK)
    max_head = settings.max_header_bytes if settings is not None else 256 * 1024
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        log_config=log_config(),
        http=_bounded_protocol(max_head),
        # Clients on 300 ms links keep connections between chunks; do not cut them too soon.
        timeout_keep_alive=75,
        # X-Forwarded-For/-Proto are believed from the trusted proxies only (Settings); uvicorn
        # takes the client as the last address in X-Forwarded-For that is not a trusted proxy.
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )


def app_from_env() -> FastAPI:
    """The app of one serving process of ``alu-hub serve --workers N``, built in that process
    from the ``ALU_HUB_*`` environment its parent set (``serve_workers``)."""
    from .app import create_app

    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    logging.getLogger("botocore").setLevel(logging.WARNING)  # (as cli.main: credentials found)
    _stop_with_supervisor()
    return create_app(Settings.from_env())


def stop_by_sigterm_as_an_exit() -> None:
    """A SIGTERM that uvicorn raises again after its graceful stop (it does, so that the
    process ends "by the signal") ends this process as a normal exit, status 0, instead of
    the signal's default action: that one runs none of Python's exit handlers, and
    multiprocessing's among them release the media pool's semaphores (its resource tracker
    said "There appear to be 5 leaked semaphore objects to clean up at shutdown" at every stop
    of a hub that had published a member's upload). Before uvicorn serves (start-up), a
    SIGTERM ends the process the same way. Main thread only, as signal handlers are."""

    def stop(_signum: int, _frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)


def _stop_with_supervisor() -> None:
    """A serving process stops when its supervisor is gone (killed by SIGKILL, the OOM killer):
    left running, it would go on answering on the shared socket, unsupervised, with its media
    workers, and a hub started again would share the port with it."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()  # the parent's sentinel: returns when it has ended
        logging.getLogger(__name__).warning("the supervisor has gone; this process stops")
        # uvicorn's graceful stop, lifespan shutdown (raise_signal, not os.kill: on Windows
        # that would be TerminateProcess)
        signal.raise_signal(signal.SIGTERM)

    threading.Thread(target=watch, name="supervisor-watch", daemon=True).start()


def serve_workers(
    settings: Settings, host: str, port: int, workers: int, *, log_level: str = "info"
) -> None:
    """Serve with ``workers`` processes on one listening socket (uvicorn's supervisor: it
    restarts a worker that dies). One Python process is one GIL: past about one core of
    request handling, latency grows with every request queued behind the others; processes
    share the load as replicas do (same database and data folder — everything the hub shares
    between requests lives there, see ``hub.DataFolderLock`` and the tus leases).

    The schema is brought up to date here, once, before the workers start together."""
    from .app import open_database

    open_database(settings, upgrade=True).dispose()
    os.environ["ALU_HUB_DATA"] = str(settings.data_dir)
    os.environ["ALU_HUB_DATABASE_URL"] = settings.database_url
    trusted = list(settings.trusted_proxies)
    uvicorn.run(
        "alu_hub.server:app_from_env",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level=log_level,
        log_config=log_config(),
        # the default head bound (settings.max_header_bytes has no variable of its own)
        http="alu_hub.server:BoundedHttpToolsProtocol",
        timeout_keep_alive=75,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
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
        # (the event streams end as the server begins to stop: BoundedHttpToolsProtocol)
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
