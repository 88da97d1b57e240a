"""A fault-injecting TCP proxy for tests and benchmarks.

It sits between a client and a real server on 127.0.0.1 and makes the link slow or broken
on demand: added one-way latency, a per-connection throttle, resets (RST), stalls,
truncated bodies (FIN), a damaged byte, refused connections, and canned HTTP answers (503,
423, 429…) given instead of forwarding a request.

    with FaultProxy(("127.0.0.1", hub_port)) as proxy:
        proxy.rate_bps = 200_000
        proxy.reset_after(100_000)            # the next download is cut after 100 kB
        proxy.inject_http_response(503, {"Retry-After": "2"}, match=lambda h: b"PATCH " in h)
        ...  # point the client at proxy.url
        proxy.wait_for_event("reset_after")

From a shell (prints the port, then runs until SIGINT/SIGTERM; events go to stderr):

    python -m tests.support.faultproxy --listen 127.0.0.1:0 --target 127.0.0.1:8750 \
        --delay-ms 150 --rate 250000

Design: one selector loop thread ("faultproxy-<port>") owns every socket. Each connection has
two pipes (up = client->server, down = server->client). Bytes read from a pipe's source are
queued with a due time (now + delay_s, never earlier than the previous piece, so order is
kept), then written when due, at most as fast as the pipe's token bucket allows. Faults are
cut into the stream at the exact byte offset when the bytes are read and fire when the
bytes before them have been written. Methods called from other threads hand work to the
loop and wait for it, so `reset_all()` has happened when it returns.

Semantics worth knowing:

* `*_after` faults are claimed, in arming order, by the first connection that forwards bytes
  in that direction after arming (an idle keep-alive connection counts when it is used
  again). Bytes are counted per connection and direction from the claim. A connection that
  closes before reaching the offset gives its claim back, so the fault stays armed. A
  connection holds at most one such fault per direction; `times=N` means N connections.
* `inject_http_response` looks at each request head on the client->server stream, also on
  keep-alive connections (bodies with Content-Length are skipped; after a chunked body, an
  Upgrade or CONNECT, the rest of that connection passes through unexamined). While an
  injection is armed, request heads are held until complete (at most 64 KiB), so a
  non-HTTP protocol should not be used with injections armed. Pipelined requests are not
  supported: an answer is injected without waiting for earlier responses on the connection.
* Injected answers, like truncations, end with a clean close: FIN to the client, then any
  request body the client still sends is read and dropped (so the client can read the
  answer instead of getting a reset), until the client closes or is idle for 2 s.
* `release_stalls()` resumes forwarding on stalled connections (from the byte where they
  stopped); `stop()` and `reset_all()` drop them.
* `connections` counts every accepted connection, refused ones included.
* Delay applies to data and to half-closes, not to connection setup. Each pipe buffers at
  most 1 MiB, so with a delay the throughput of one connection is at most 1 MiB per delay.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import re
import selectors
import signal
import socket
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from types import FrameType, TracebackType
from typing import Any

__all__ = ["FaultProxy", "main"]

_log = logging.getLogger(__name__)

_CHUNK = 64 * 1024
_MAX_BUFFER = 1024 * 1024  # per pipe: stop reading the source beyond this
_MAX_HEAD = 64 * 1024  # a request head longer than this is not HTTP for us: pass through
_BURST_S = 0.1  # token bucket depth, in seconds of the rate
_DRAIN_IDLE_S = 2.0  # after an injected answer or a truncation, read and drop this long
_COMMAND_TIMEOUT_S = 10.0
_MAX_SELECT_S = 1.0
_LINGER_RST = struct.pack("ii", 1, 0)
_REQUEST_START = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}(?: |\Z)")
_DIRECTIONS = ("up", "down")

_READ = selectors.EVENT_READ
_WRITE = selectors.EVENT_WRITE


@dataclass(slots=True)
class _Armed:
    """A counted byte fault waiting for connections to claim it."""

    seq: int
    kind: str  # "reset_after" | "stall_after" | "truncate_after" | "corrupt_after"
    nbytes: int
    times: int


@dataclass(slots=True)
class _Fault:
    """One connection's claim on an armed byte fault."""

    seq: int
    kind: str
    nbytes: int
    fired: bool = False


@dataclass(slots=True)
class _Injection:
    seq: int
    status: int
    response: bytes
    head_only: bytes  # the same answer without its body, for HEAD requests
    times: int
    match: Callable[[bytes], bool] | None


@dataclass(slots=True)
class _Item:
    """A piece of a pipe's stream: bytes to write, or an action once the bytes before it are out."""

    due: float
    data: bytes = b""
    counted: bool = True  # forwarded bytes count in bytes_up/bytes_down, injected ones do not
    action: str = ""  # "" | "eof" | "fire" | "finish"
    fault: _Fault | None = None


class _Pipe:
    """One direction of one connection."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.items: deque[_Item] = deque()
        self.offset = 0  # bytes of items[0].data already written
        self.buffered = 0
        self.last_due = 0.0
        self.src_eof = False
        self.done = False  # the half-close has been passed on
        self.reading = True
        self.want_write = False  # the destination's send buffer is full
        self.fault: _Fault | None = None
        self.fault_left = 0
        self.cut = False  # a fault's byte offset has been reached on the reading side
        self.stalled = False
        self.held = bytearray()  # bytes read past a stall point
        self.tokens = 0.0
        self.rate_seen: float | None = None
        self.last_refill = 0.0
        self.wake: float | None = None


class _RequestParser:
    """Finds request heads in a client->server HTTP/1.x stream."""

    HEAD, BODY, PASS = range(3)

    def __init__(self) -> None:
        self.state = self.HEAD
        self.buf = bytearray()
        self.sent = 0  # bytes of buf already handed on (when heads are not held)
        self.body_left = 0

    def feed(self, data: bytes, hold: bool) -> list[tuple[bool, bytes, int]]:
        """Split data into (is_head, bytes, already_forwarded) pieces, in stream order.

        A head is returned whole once complete; `already_forwarded` bytes at its start were
        handed on before (because heads were not being held then).
        """
        out: list[tuple[bool, bytes, int]] = []
        while data:
            if self.state == self.PASS:
                out.append((False, data, 0))
                break
            if self.state == self.BODY:
                n = min(self.body_left, len(data))
                out.append((False, data[:n], 0))
                self.body_left -= n
                data = data[n:]
                if not self.body_left:
                    self.state = self.HEAD
                continue
            searched_to = max(0, len(self.buf) - 3)
            self.buf += data
            data = b""
            end = self.buf.find(b"\r\n\r\n", searched_to)
            if not self._plausible() or (end < 0 and len(self.buf) > _MAX_HEAD):
                out.append((False, bytes(self.buf[self.sent :]), 0))
                self.buf.clear()
                self.sent = 0
                self.state = self.PASS
                break
            if end < 0:
                if not hold and self.sent < len(self.buf):
                    out.append((False, bytes(self.buf[self.sent :]), 0))
                    self.sent = len(self.buf)
                break
            end += 4
            head = bytes(self.buf[:end])
            data = bytes(self.buf[end:])
            out.append((True, head, self.sent))
            self.buf.clear()
            self.sent = 0
            self._after_head(head)
        return out

    def _plausible(self) -> bool:
        start = bytes(self.buf[:40]).lstrip(b"\r\n")
        if not start and len(self.buf) < 40:
            return True
        return _REQUEST_START.match(start) is not None

    def _after_head(self, head: bytes) -> None:
        lines = head.lstrip(b"\r\n").split(b"\r\n")
        method = lines[0].split(b" ", 1)[0].upper()
        length = 0
        passthrough = method == b"CONNECT"
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                continue
            name = name.strip().lower()
            value = value.strip()
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    passthrough = True
            elif (name == b"transfer-encoding" and value.lower() != b"identity") or (
                name == b"upgrade"
            ):
                passthrough = True
        if passthrough or length < 0:
            self.state = self.PASS
        elif length > 0:
            self.state = self.BODY
            self.body_left = length
        else:
            self.state = self.HEAD


class _Conn:
    def __init__(self, cid: int, client: socket.socket, server: socket.socket) -> None:
        self.id = cid
        self.client: socket.socket | None = client
        self.server: socket.socket | None = server
        self.connected = False
        self.up = _Pipe("up")
        self.down = _Pipe("down")
        self.parser = _RequestParser()
        self.mode = "open"  # "open" | "finishing" (answer queued) | "draining" (FIN sent)
        self.drain_deadline = 0.0
        self.wake: float | None = None
        self.dead = False

    def is_closed(self) -> bool:
        return self.dead

    def src(self, pipe: _Pipe) -> socket.socket | None:
        return self.client if pipe is self.up else self.server

    def dst(self, pipe: _Pipe) -> socket.socket | None:
        return self.server if pipe is self.up else self.client


def _close_socket(sock: socket.socket | None, rst: bool) -> None:
    if sock is None:
        return
    with contextlib.suppress(OSError):
        if rst:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
    with contextlib.suppress(OSError):
        sock.close()


def _build_response(
    status: int, headers: dict[str, str] | None, body: bytes
) -> tuple[bytes, bytes]:
    if not 100 <= status <= 999:
        raise ValueError(f"bad HTTP status {status}")
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    fields: list[str] = []
    has_length = False
    for name, value in (headers or {}).items():
        if not name or any(c in name for c in ":\r\n ") or any(c in value for c in "\r\n"):
            raise ValueError(f"bad header {name!r}: {value!r}")
        if name.lower() == "connection":
            continue  # the answer always closes the connection
        has_length = has_length or name.lower() == "content-length"
        fields.append(f"{name}: {value}")
    if not has_length:
        fields.append(f"Content-Length: {len(body)}")
    fields.append("Connection: close")
    head = "\r\n".join([f"HTTP/1.1 {status} {reason}", *fields]) + "\r\n\r\n"
    head_bytes = head.encode("latin-1")
    return head_bytes + body, head_bytes


class FaultProxy:
    """A TCP proxy to `target` that injects latency, throttling and faults on demand.

    All public methods and properties are thread-safe. Settings (`delay_s`, `rate_bps`)
    apply to live and new connections; faults are armed by methods and consumed in arming
    order. `events` logs every fault that fired; `on_event`, if given, is called with each
    event as it is logged (usually on the proxy's thread: keep it short, do not block).
    """

    def __init__(
        self,
        target: tuple[str, int],
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self.target = target
        self.host = host
        self.port = port
        self._on_event = on_event
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._state = "new"  # "new" | "running" | "stopping" | "stopped"
        self._delay_s = 0.0
        self._rate_bps: float | None = None
        self._conn_rates: dict[int, float] = {}
        self._refusing = False
        self._seq = 0
        self._armed: dict[str, list[_Armed]] = {d: [] for d in _DIRECTIONS}
        self._injections: list[_Injection] = []
        self._events: list[str] = []
        self._commands: deque[tuple[Callable[[], None], threading.Event]] = deque()
        self._connections = 0
        self._bytes_up = 0
        self._bytes_down = 0
        self._server_closes = 0
        # Owned by the loop thread:
        self._conns: dict[int, _Conn] = {}
        self._interest: dict[socket.socket, int] = {}
        self._sel: selectors.BaseSelector | None = None
        self._listener: socket.socket | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._family = socket.AF_INET
        self._target_addr: Any = target

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> FaultProxy:
        with self._lock:
            if self._state != "new":
                raise RuntimeError("a FaultProxy can be started once")
            self._state = "running"
        try:
            info = socket.getaddrinfo(self.target[0], self.target[1], type=socket.SOCK_STREAM)
            self._family, self._target_addr = info[0][0], info[0][4]
            self._listener = socket.create_server((self.host, self.port), backlog=128)
            self._listener.setblocking(False)
            self.port = int(self._listener.getsockname()[1])
            self._wake_r, self._wake_w = socket.socketpair()
            self._wake_r.setblocking(False)
            self._wake_w.setblocking(False)
            self._sel = selectors.DefaultSelector()
            self._sel.register(self._listener, _READ, None)
            self._sel.register(self._wake_r, _READ, None)
            self._thread = threading.Thread(
                target=self._run, name=f"faultproxy-{self.port}", daemon=True
            )
            self._thread.start()
        except BaseException:
            self._close_loop_resources()
            with self._lock:
                self._state = "stopped"
            raise
        return self

    def stop(self) -> None:
        """Drop every connection (RST), close the listener and join the loop thread."""
        with self._lock:
            if self._state == "new":
                self._state = "stopped"
            if self._state == "stopped":
                return
            self._state = "stopping"
        self._wakeup()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(_COMMAND_TIMEOUT_S)
            if thread.is_alive():
                raise RuntimeError(f"{thread.name} did not stop")

    def __enter__(self) -> FaultProxy:
        with self._lock:
            new = self._state == "new"
        return self.start() if new else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- observation -------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def connections(self) -> int:
        """Connections accepted so far (refused ones included)."""
        return self._connections

    @property
    def live_connections(self) -> int:
        return len(self._conns)

    @property
    def server_closes(self) -> int:
        """Connections the server has ended (its FIN), passed on to the client so far."""
        return self._server_closes

    @property
    def bytes_up(self) -> int:
        """Bytes forwarded client->server, all connections."""
        return self._bytes_up

    @property
    def bytes_down(self) -> int:
        """Bytes forwarded server->client, all connections (injected answers not counted)."""
        return self._bytes_down

    @property
    def events(self) -> list[str]:
        """A copy of the log of faults that fired, oldest first."""
        with self._lock:
            return list(self._events)

    def wait_for_event(self, substring: str, timeout: float = 5.0) -> str:
        """Return the first event containing `substring`, waiting up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self._events:
                    if substring in event:
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"no event containing {substring!r} within {timeout} s: {self._events}"
                    )
                self._cond.wait(remaining)

    # -- persistent settings -----------------------------------------------------------

    @property
    def delay_s(self) -> float:
        """One-way latency added to each forwarded piece, both directions."""
        return self._delay_s

    @delay_s.setter
    def delay_s(self, value: float) -> None:
        if not value >= 0:
            raise ValueError(f"delay_s must be >= 0, not {value}")
        with self._lock:
            self._delay_s = float(value)
        self._wakeup()

    @property
    def rate_bps(self) -> float | None:
        """Throttle in bytes per second, per direction and connection; None = unlimited."""
        return self._rate_bps

    @rate_bps.setter
    def rate_bps(self, value: float | None) -> None:
        if value is not None and not value > 0:
            raise ValueError(f"rate_bps must be > 0 or None, not {value}")
        with self._lock:
            self._rate_bps = None if value is None else float(value)
        self._wakeup()

    def throttle_connection(self, cid: int, rate_bps: float) -> None:
        """Throttle only connection number ``cid`` (1 for the first one accepted, and so on;
        it need not exist yet) to ``rate_bps`` in each direction, whatever ``rate_bps`` says:
        one slow connection among fast ones."""
        if not rate_bps > 0:
            raise ValueError(f"rate_bps must be > 0, not {rate_bps}")
        with self._lock:
            self._conn_rates[cid] = float(rate_bps)
        self._wakeup()

    # -- faults ------------------------------------------------------------------------

    def reset_after(self, nbytes: int, direction: str = "down", times: int = 1) -> None:
        """After forwarding nbytes in `direction` on the next `times` connections, RST both sides."""
        self._arm("reset_after", nbytes, direction, times)

    def stall_after(self, nbytes: int, direction: str = "down", times: int = 1) -> None:
        """Stop forwarding after nbytes, keeping the sockets open, until release_stalls()/stop()."""
        self._arm("stall_after", nbytes, direction, times)

    def truncate_after(self, nbytes: int, times: int = 1) -> None:
        """Forward nbytes server->client, then close cleanly (FIN): a short body."""
        self._arm("truncate_after", nbytes, "down", times)

    def corrupt_after(self, nbytes: int, direction: str = "down", times: int = 1) -> None:
        """Forward nbytes in `direction`, then the next byte inverted (XOR 0xFF), then the rest
        unchanged: damage on the way that TCP's checksum missed."""
        self._arm("corrupt_after", nbytes, direction, times)

    def release_stalls(self) -> None:
        """Resume forwarding on every stalled connection."""

        def release() -> None:
            for conn in list(self._conns.values()):
                for pipe in (conn.up, conn.down):
                    fault = pipe.fault
                    if fault is None or fault.kind != "stall_after" or not pipe.cut:
                        continue
                    pipe.items = deque(i for i in pipe.items if i.fault is not fault)
                    fault.fired = True
                    pipe.fault = None
                    pipe.cut = pipe.stalled = False
                    pipe.reading = True
                    held = bytes(pipe.held)
                    pipe.held.clear()
                    self._event(f"release_stall {pipe.name} conn {conn.id}")
                    if held:
                        self._admit(conn, pipe, held)
                self._service(conn)

        self._call(release)

    def inject_http_response(
        self,
        status: int,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        times: int = 1,
        match: Callable[[bytes], bool] | None = None,
    ) -> None:
        """Answer the next `times` requests whose head satisfies `match` with this response.

        The request is not forwarded; the answer gets `Content-Length` (unless given) and
        `Connection: close`, and the connection is closed after it. `match` gets the request
        head, from the request line to the blank line included.
        """
        if times < 1:
            raise ValueError(f"times must be >= 1, not {times}")
        response, head_only = _build_response(status, headers, body)
        with self._lock:
            self._seq += 1
            self._injections.append(
                _Injection(self._seq, status, response, head_only, times, match)
            )

    def clear_faults(self) -> None:
        """Disarm every fault and injection not yet claimed by a connection."""
        with self._lock:
            for queue in self._armed.values():
                queue.clear()
            self._injections.clear()

    def refuse(self, on: bool = True) -> None:
        """Outage: while on, new connections are accepted and reset at once; live ones are reset."""
        with self._lock:
            self._refusing = on
        if not on:
            self._event("refuse off")
            return

        def refuse_live() -> None:
            count = self._abort_all()
            self._event(f"refuse on: reset {count} live connections")

        if not self._call(refuse_live):
            self._event("refuse on: reset 0 live connections")

    def reset_all(self) -> None:
        """Drop every live connection now (RST to both sides)."""

        def reset() -> None:
            count = self._abort_all()
            self._event(f"reset_all: {count} connections")

        self._call(reset)

    # -- plumbing shared with callers --------------------------------------------------

    def _arm(self, kind: str, nbytes: int, direction: str, times: int) -> None:
        if direction not in _DIRECTIONS:
            raise ValueError(f"direction must be 'up' or 'down', not {direction!r}")
        if nbytes < 0:
            raise ValueError(f"nbytes must be >= 0, not {nbytes}")
        if times < 1:
            raise ValueError(f"times must be >= 1, not {times}")
        with self._lock:
            self._seq += 1
            self._armed[direction].append(_Armed(self._seq, kind, nbytes, times))

    def _event(self, text: str) -> None:
        with self._cond:
            self._events.append(text)
            self._cond.notify_all()
        _log.info("faultproxy %s: %s", self.port, text)
        if self._on_event is not None:
            try:
                self._on_event(text)
            except Exception:
                _log.exception("faultproxy on_event callback failed")

    def _wakeup(self) -> None:
        sock = self._wake_w
        if sock is None:
            return
        with contextlib.suppress(OSError):  # full: a wake-up is pending anyway; closed: stopped
            sock.send(b"\0")

    def _call(self, fn: Callable[[], None]) -> bool:
        """Run fn on the loop thread and wait for it; False if the proxy is not running."""
        done = threading.Event()
        with self._lock:
            if self._state != "running":
                return False
            self._commands.append((fn, done))
        if threading.current_thread() is self._thread:
            return True  # runs at the end of this loop iteration
        self._wakeup()
        if not done.wait(_COMMAND_TIMEOUT_S):
            raise RuntimeError("faultproxy loop did not answer")
        return True

    # -- the loop ----------------------------------------------------------------------

    def _run(self) -> None:
        sel = self._sel
        assert sel is not None
        try:
            while self._state == "running":
                timeout = self._next_timeout(time.monotonic())
                for key, mask in sel.select(timeout):
                    if key.fileobj is self._listener:
                        self._accept()
                    elif key.fileobj is self._wake_r:
                        self._drain_wakeups()
                    else:
                        conn: _Conn = key.data
                        sock = key.fileobj
                        assert isinstance(sock, socket.socket)
                        self._guarded(conn, partial(self._on_ready, conn, sock, mask))
                self._run_commands()
                now = time.monotonic()
                for conn in list(self._conns.values()):
                    if conn.wake is not None and conn.wake <= now:
                        self._guarded(conn, partial(self._service, conn))
        except Exception as exc:
            _log.exception("faultproxy loop failed")
            self._event(f"error loop: {exc!r}")
        finally:
            self._abort_all()
            self._close_loop_resources()
            with self._lock:
                self._state = "stopped"
                pending = list(self._commands)
                self._commands.clear()
            for _, done in pending:
                done.set()

    def _guarded(self, conn: _Conn, fn: Callable[[], None]) -> None:
        if conn.is_closed():
            return
        try:
            fn()
        except Exception as exc:
            _log.exception("faultproxy connection %s failed", conn.id)
            self._event(f"error conn {conn.id}: {exc!r}")
            self._drop(conn, rst=True)

    def _next_timeout(self, now: float) -> float:
        if self._commands:
            return 0.0
        wakes = [c.wake for c in self._conns.values() if c.wake is not None]
        if not wakes:
            return _MAX_SELECT_S
        return min(_MAX_SELECT_S, max(0.0, min(wakes) - now))

    def _drain_wakeups(self) -> None:
        assert self._wake_r is not None
        try:
            while self._wake_r.recv(4096):
                pass
        except OSError:
            pass

    def _run_commands(self) -> None:
        while True:
            with self._lock:
                if not self._commands:
                    return
                fn, done = self._commands.popleft()
            try:
                fn()
            except Exception as exc:
                _log.exception("faultproxy command failed")
                self._event(f"error command: {exc!r}")
            finally:
                done.set()

    def _close_loop_resources(self) -> None:
        if self._sel is not None:
            self._sel.close()
        for sock in (self._listener, self._wake_r, self._wake_w):
            _close_socket(sock, rst=False)
        self._interest.clear()

    def _accept(self) -> None:
        assert self._listener is not None
        for _ in range(64):
            try:
                client, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self._event(f"error accept: {exc!r}")
                return
            self._connections += 1
            cid = self._connections
            if self._refusing:
                self._event(f"refuse conn {cid}")  # logged first: the client may look at once
                _close_socket(client, rst=True)
                continue
            server: socket.socket | None = None
            try:
                client.setblocking(False)
                client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                server = socket.socket(self._family, socket.SOCK_STREAM)
                server.setblocking(False)
                server.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                err = server.connect_ex(self._target_addr)
            except OSError as exc:
                err = exc.errno or errno.EIO
            if err not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY):
                self._event(f"connect_failed conn {cid}: {errno.errorcode.get(err, err)}")
                _close_socket(server, rst=False)
                _close_socket(client, rst=True)
                continue
            assert server is not None
            conn = _Conn(cid, client, server)
            conn.connected = err == 0
            self._conns[cid] = conn
            self._guarded(conn, partial(self._service, conn))

    def _on_ready(self, conn: _Conn, sock: socket.socket, mask: int) -> None:
        if sock is conn.server and not conn.connected:
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                failure = f"connect_failed conn {conn.id}: {errno.errorcode.get(err, err)}"
                self._drop(conn, rst=True, event=failure)
                return
            conn.connected = True
        else:
            if mask & _READ:
                self._read(conn, conn.up if sock is conn.client else conn.down)
                if conn.is_closed():
                    return
            if mask & _WRITE:
                (conn.down if sock is conn.client else conn.up).want_write = False
        self._service(conn)

    # -- per connection ----------------------------------------------------------------

    def _read(self, conn: _Conn, pipe: _Pipe) -> None:
        src = conn.src(pipe)
        if src is None:
            return
        try:
            data = src.recv(_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(conn, rst=True)
            return
        if pipe is conn.up and conn.mode != "open":  # read and drop what the client sends
            if data:
                conn.drain_deadline = time.monotonic() + _DRAIN_IDLE_S
                return
            pipe.src_eof = True
            if conn.mode == "draining":
                self._drop(conn, rst=False)
            return
        if not data:
            pipe.src_eof = True
            if pipe is conn.down:
                self._server_closes += 1
            self._enqueue(pipe, _Item(0.0, action="eof"))
        elif pipe is conn.up:
            self._ingest_up(conn, data)
        else:
            self._admit(conn, pipe, data)

    def _ingest_up(self, conn: _Conn, data: bytes) -> None:
        with self._lock:
            hold = bool(self._injections)
        for is_head, chunk, sent in conn.parser.feed(data, hold):
            if conn.mode != "open":
                return
            if is_head and sent == 0 and hold and not conn.down.src_eof:
                injection = self._take_injection(chunk)
                if injection is not None:
                    self._inject(conn, injection, chunk)
                    return
            payload = chunk[sent:] if is_head else chunk
            if payload:
                self._admit(conn, conn.up, payload)

    def _take_injection(self, head: bytes) -> _Injection | None:
        with self._lock:
            candidates = list(self._injections)
        head = head.lstrip(b"\r\n")
        for injection in candidates:
            if injection.match is not None:
                try:
                    matched = bool(injection.match(head))
                except Exception as exc:
                    self._event(f"error match: {exc!r}")
                    matched = False
                if not matched:
                    continue
            with self._lock:
                if injection.times > 0 and injection in self._injections:
                    injection.times -= 1
                    if injection.times == 0:
                        self._injections.remove(injection)
                    return injection
        return None

    def _inject(self, conn: _Conn, injection: _Injection, head: bytes) -> None:
        request_line = head.lstrip(b"\r\n").split(b"\r\n", 1)[0]
        answer = injection.head_only if request_line.startswith(b"HEAD ") else injection.response
        self._event(f"inject {injection.status} conn {conn.id}: {request_line.decode('latin-1')}")
        conn.mode = "finishing"
        conn.down.reading = False
        self._enqueue(conn.down, _Item(0.0, data=answer, counted=False))
        self._enqueue(conn.down, _Item(0.0, action="finish"))

    def _claim(self, direction: str) -> _Fault | None:
        with self._lock:
            queue = self._armed[direction]
            if not queue:
                return None
            armed = queue[0]
            armed.times -= 1
            if armed.times == 0:
                queue.pop(0)
            return _Fault(armed.seq, armed.kind, armed.nbytes)

    def _give_back(self, pipe: _Pipe) -> None:
        fault = pipe.fault
        pipe.fault = None
        if fault is None or fault.fired:
            return
        with self._lock:
            queue = self._armed[pipe.name]
            for armed in queue:
                if armed.seq == fault.seq:
                    armed.times += 1
                    return
            queue.append(_Armed(fault.seq, fault.kind, fault.nbytes, 1))
            queue.sort(key=lambda a: a.seq)

    def _admit(self, conn: _Conn, pipe: _Pipe, data: bytes) -> None:
        """Queue bytes read from pipe's source, cutting in the pipe's byte fault if due."""
        if pipe.cut:
            if pipe.fault is not None and pipe.fault.kind == "stall_after":
                pipe.held += data
            return
        if pipe.fault is None:
            pipe.fault = self._claim(pipe.name)
            if pipe.fault is not None:
                pipe.fault_left = pipe.fault.nbytes
        fault = pipe.fault
        if fault is None or fault.fired:  # a damaged byte has passed: the rest goes on as is
            self._enqueue(pipe, _Item(0.0, data=data))
            return
        if fault.kind == "corrupt_after":
            if len(data) <= pipe.fault_left:
                pipe.fault_left -= len(data)
                self._enqueue(pipe, _Item(0.0, data=data))
                return
            damaged = bytearray(data)
            damaged[pipe.fault_left] ^= 0xFF
            pipe.fault_left = 0
            fault.fired = True
            self._enqueue(pipe, _Item(0.0, data=bytes(damaged)))
            self._event(f"corrupt_after {fault.nbytes} {pipe.name} conn {conn.id}")
            return
        if len(data) < pipe.fault_left:
            pipe.fault_left -= len(data)
            self._enqueue(pipe, _Item(0.0, data=data))
            return
        n = pipe.fault_left
        pipe.fault_left = 0
        if n:
            self._enqueue(pipe, _Item(0.0, data=data[:n]))
        pipe.cut = True
        pipe.reading = False
        if fault.kind == "stall_after":
            pipe.held += data[n:]
        self._enqueue(pipe, _Item(0.0, action="fire", fault=fault))

    def _enqueue(self, pipe: _Pipe, item: _Item) -> None:
        item.due = max(time.monotonic() + self._delay_s, pipe.last_due)
        pipe.last_due = item.due
        pipe.items.append(item)
        pipe.buffered += len(item.data)

    def _service(self, conn: _Conn) -> None:
        """Write what is due, run due actions, then update the selector and the wake time."""
        if conn.is_closed():
            return
        now = time.monotonic()
        for pipe in (conn.up, conn.down):
            self._flush(conn, pipe, now)
            if conn.is_closed():
                return
        if conn.up.done and conn.down.done:
            self._drop(conn, rst=False)
            return
        if conn.mode == "draining" and now >= conn.drain_deadline:
            self._drop(conn, rst=False)
            return
        self._update_interest(conn)
        wakes = [w for w in (conn.up.wake, conn.down.wake) if w is not None]
        if conn.mode == "draining":
            wakes.append(conn.drain_deadline)
        conn.wake = min(wakes) if wakes else None

    def _flush(self, conn: _Conn, pipe: _Pipe, now: float) -> None:
        pipe.wake = None
        if pipe is conn.up and not conn.connected:
            return
        while pipe.items and not conn.is_closed():
            if pipe.stalled or pipe.want_write:
                return
            item = pipe.items[0]
            if item.due > now:
                pipe.wake = item.due
                return
            if pipe.offset < len(item.data):
                dst = conn.dst(pipe)
                if dst is None:  # the server side is gone (after an answer or a truncation)
                    pipe.items.clear()
                    pipe.buffered = pipe.offset = 0
                    return
                remaining = len(item.data) - pipe.offset
                allow = remaining
                rate = self._conn_rates.get(conn.id, self._rate_bps)
                if rate is None:
                    pipe.rate_seen = None
                else:
                    burst = self._refill(pipe, rate, now)
                    need = min(remaining, max(1.0, min(burst, rate / 50)))
                    if pipe.tokens < need:
                        pipe.wake = now + (need - pipe.tokens) / rate
                        return
                    allow = min(remaining, int(pipe.tokens))
                try:
                    sent = dst.send(memoryview(item.data)[pipe.offset : pipe.offset + allow])
                except (BlockingIOError, InterruptedError):
                    pipe.want_write = True
                    return
                except OSError:
                    self._drop(conn, rst=True)
                    return
                pipe.offset += sent
                if rate is not None:
                    pipe.tokens -= sent
                if item.counted:
                    if pipe is conn.up:
                        self._bytes_up += sent
                    else:
                        self._bytes_down += sent
                if sent < allow:
                    pipe.want_write = True
                    return
                if pipe.offset < len(item.data):
                    continue  # throttled: wait for tokens
            pipe.items.popleft()
            pipe.buffered -= len(item.data)
            pipe.offset = 0
            if item.action:
                self._act(conn, pipe, item)

    @staticmethod
    def _refill(pipe: _Pipe, rate: float, now: float) -> float:
        burst = max(rate * _BURST_S, 1.0)
        if pipe.rate_seen != rate:
            pipe.tokens = burst if pipe.rate_seen is None else min(pipe.tokens, burst)
            pipe.rate_seen = rate
        else:
            pipe.tokens = min(burst, pipe.tokens + (now - pipe.last_refill) * rate)
        pipe.last_refill = now
        return burst

    def _act(self, conn: _Conn, pipe: _Pipe, item: _Item) -> None:
        if item.action == "eof":
            dst = conn.dst(pipe)
            if dst is not None:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    self._drop(conn, rst=True)
                    return
            pipe.done = True
        elif item.action == "finish":
            self._finish(conn)
        elif item.action == "fire":
            fault = item.fault
            assert fault is not None
            fault.fired = True
            text = f"{fault.kind} {fault.nbytes} {pipe.name} conn {conn.id}"
            if fault.kind == "reset_after":
                self._drop(conn, rst=True, event=text)
                return
            self._event(text)
            if fault.kind == "truncate_after":
                self._finish(conn)
            else:
                pipe.stalled = True

    def _finish(self, conn: _Conn) -> None:
        """Close cleanly towards the client (FIN), drop the server side, drain the client."""
        if conn.server is not None:
            self._set_interest(conn.server, 0, conn)
            _close_socket(conn.server, rst=False)
            conn.server = None
        conn.up.items.clear()
        conn.up.buffered = conn.up.offset = 0
        conn.mode = "draining"
        conn.drain_deadline = time.monotonic() + _DRAIN_IDLE_S
        if conn.client is not None:
            try:
                conn.client.shutdown(socket.SHUT_WR)
            except OSError:
                self._drop(conn, rst=True)
                return
        conn.down.done = True
        if conn.up.src_eof:
            self._drop(conn, rst=False)

    def _update_interest(self, conn: _Conn) -> None:
        if conn.client is not None:
            mask = 0
            up = conn.up
            if conn.mode != "open":
                reading = not up.src_eof
            else:
                reading = up.reading and not up.src_eof and up.buffered < _MAX_BUFFER
            if reading:
                mask |= _READ
            if conn.down.want_write:
                mask |= _WRITE
            self._set_interest(conn.client, mask, conn)
        if conn.server is not None:
            down = conn.down
            if not conn.connected:
                mask = _WRITE
            else:
                mask = 0
                if down.reading and not down.src_eof and down.buffered < _MAX_BUFFER:
                    mask |= _READ
                if conn.up.want_write:
                    mask |= _WRITE
            self._set_interest(conn.server, mask, conn)

    def _set_interest(self, sock: socket.socket, mask: int, conn: _Conn) -> None:
        sel = self._sel
        assert sel is not None
        old = self._interest.get(sock, 0)
        if mask == old:
            return
        if not old:
            sel.register(sock, mask, conn)
        elif not mask:
            sel.unregister(sock)
        else:
            sel.modify(sock, mask, conn)
        if mask:
            self._interest[sock] = mask
        else:
            del self._interest[sock]

    def _drop(self, conn: _Conn, rst: bool, event: str | None = None) -> None:
        """Forget a connection, log `event`, then close both sides (RST if asked).

        The event is logged after the bookkeeping and before the sockets close, so whoever
        sees the connection end also sees the event and the new live_connections.
        """
        if conn.is_closed():
            return
        conn.dead = True
        self._conns.pop(conn.id, None)
        conn.wake = None
        for pipe in (conn.up, conn.down):
            self._give_back(pipe)
            pipe.items.clear()
            pipe.held.clear()
        if event is not None:
            self._event(event)
        for sock in (conn.client, conn.server):
            if sock is not None:
                self._set_interest(sock, 0, conn)
                _close_socket(sock, rst)
        conn.client = conn.server = None

    def _abort_all(self) -> int:
        conns = list(self._conns.values())
        for conn in conns:
            self._drop(conn, rst=True)
        return len(conns)


# -- command line --------------------------------------------------------------------------


def _address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected 'Name: value', got {text!r}")
    return name.strip(), value.strip()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.faultproxy",
        description="Fault-injecting TCP proxy. Prints the port it listens on, then runs "
        "until SIGINT/SIGTERM; faults that fire are logged to stderr.",
    )
    parser.add_argument("--listen", type=_address, default=("127.0.0.1", 0), metavar="HOST:PORT")
    parser.add_argument("--target", type=_address, required=True, metavar="HOST:PORT")
    parser.add_argument("--delay-ms", type=float, default=0.0, metavar="N")
    parser.add_argument("--rate", type=float, default=None, metavar="BYTES_PER_S")
    parser.add_argument("--reset-after", type=int, metavar="N")
    parser.add_argument("--stall-after", type=int, metavar="N")
    parser.add_argument("--truncate-after", type=int, metavar="N")
    parser.add_argument(
        "--direction", choices=_DIRECTIONS, default="down", help="for --reset/--stall-after"
    )
    parser.add_argument("--times", type=int, default=1, help="for every fault armed here")
    parser.add_argument("--inject", type=int, metavar="STATUS", help="answer requests with this")
    parser.add_argument(
        "--inject-header", type=_header, action="append", default=[], metavar="'NAME: VALUE'"
    )
    parser.add_argument("--inject-body", default="", metavar="TEXT")
    parser.add_argument(
        "--inject-match", metavar="TEXT", help="only requests whose head contains TEXT"
    )
    parser.add_argument("--refuse", action="store_true", help="start in an outage")
    parser.add_argument("--quiet", action="store_true", help="do not log events")
    args = parser.parse_args(argv)

    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def log(event: str) -> None:
        print(event, file=sys.stderr, flush=True)

    proxy = FaultProxy(
        args.target, args.listen[0], args.listen[1], on_event=None if args.quiet else log
    )
    with proxy:
        proxy.delay_s = args.delay_ms / 1000
        proxy.rate_bps = args.rate
        if args.reset_after is not None:
            proxy.reset_after(args.reset_after, args.direction, args.times)
        if args.stall_after is not None:
            proxy.stall_after(args.stall_after, args.direction, args.times)
        if args.truncate_after is not None:
            proxy.truncate_after(args.truncate_after, args.times)
        if args.inject is not None:
            needle: bytes = args.inject_match.encode() if args.inject_match else b""
            proxy.inject_http_response(
                args.inject,
                dict(args.inject_header),
                args.inject_body.encode(),
                args.times,
                (lambda head: needle in head) if needle else None,
            )
        if args.refuse:
            proxy.refuse()
        print(proxy.port, flush=True)
        while not stopping.wait(1.0):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
