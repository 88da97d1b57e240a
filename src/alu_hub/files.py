"""Serve stored files (renditions, thumbnails) so that slow, flaky links can resume them.

``file_response`` answers GET and HEAD by RFC 9110: validators (strong ``ETag`` from the content
hash, ``Last-Modified``), conditional requests (``If-Match``, ``If-None-Match``,
``If-Unmodified-Since``, ``If-Modified-Since``), one byte range (``Range`` guarded by
``If-Range``) and ``Content-Disposition`` for downloads.

Choices a reader might not expect:

* A Range with several ranges, or one we cannot parse, is ignored and the whole file is sent with
  200 (RFC 9110 allows ignoring Range). We never build ``multipart/byteranges``: the desktop client
  resumes with exactly one ``bytes=N-``.
* The bytes go out as stored, never with a ``Content-Encoding``: video does not compress, and a
  compressed body breaks byte offsets for resuming.
* The file is opened once, when the response is built (so a missing file raises
  ``FileNotFoundError`` in the endpoint, where the caller maps it), and read in 1 MiB pieces on a
  worker thread. The server's flow control makes each send wait while the client is behind, so
  memory stays at a chunk or two per download whatever the file size. The file is closed when the
  body is sent, when the client goes away, or at once when no body is needed (HEAD, 304, 412, 416).
* With ``keep_sending`` (a rendition: ``download_guard``), it is asked every ``CHECK_S`` while the
  body goes out; on False the connection is ended at once without the remaining bytes (the
  server's ``ABORT_EXTENSION``; elsewhere an error makes the server cut it): the client sees a
  short body, and the request it makes to resume gets the answer of the moment (410).
"""

from __future__ import annotations

import errno
import io
import math
import os
import re
import stat
import unicodedata
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Literal
from urllib.parse import quote

import anyio
import anyio.to_thread
from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from .errors import error_body

__all__ = [
    "CHUNK_SIZE",
    "IMMUTABLE",
    "content_disposition",
    "file_response",
    "strong_etag",
]

#: How much is read from disk (and handed to the server) at a time.
CHUNK_SIZE = 1 << 20
#: Renditions never change once published: their URL names their content.
IMMUTABLE = "private, max-age=31536000, immutable"

_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
# entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE ; etagc = %x21 / %x23-7E / obs-text
_ENTITY_TAG = re.compile(r'(W/)?"([\x21\x23-\x7e\x80-\xff]*)"')
_RANGE_SPEC = re.compile(r"([0-9]*)-([0-9]*)")
# Beyond any file size; keeps int() away from absurdly long digit strings.
_HUGE = 10**18
_ATTR_CHARS = "!#$&+-.^_`|~"  # RFC 5987 attr-char besides ALPHA / DIGIT

#: How often ``keep_sending`` is asked while a body is sent (seconds).
CHECK_S = 2.0
#: The scope extension of the hub's server (``server.BoundedHttpToolsProtocol``): its
#: ``"abort"`` ends the connection at once, dropping what is still buffered for the client.
ABORT_EXTENSION = "alu.abort_connection"

_Unsatisfiable = Literal["unsatisfiable"]
_UNSATISFIABLE: _Unsatisfiable = "unsatisfiable"


def strong_etag(sha256_hex: str) -> str:
    """The ETag of an immutable file: its SHA-256 (first 128 bits), quoted, strong."""
    if not _SHA256_HEX.fullmatch(sha256_hex):
        raise ValueError(f"not a SHA-256 hex digest: {sha256_hex!r}")
    return f'"{sha256_hex[:32].lower()}"'


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """``attachment; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded>``.

    The fallback keeps what ASCII can say (accents are dropped: ``Réunion`` → ``Reunion``) and
    turns anything else, quotes, backslashes, slashes and control characters into ``_``.
    """
    decomposed = unicodedata.normalize("NFKD", filename)
    fallback = "".join(
        c if " " <= c <= "~" and c not in '"\\/' else "_"
        for c in decomposed
        if not unicodedata.combining(c)
    )
    fallback = fallback.strip() or "download"
    encoded = quote(filename, safe=_ATTR_CHARS, encoding="utf-8")
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def file_response(
    request: Request,
    path: Path,
    *,
    etag: str,
    media_type: str,
    filename: str | None = None,
    last_modified: datetime | None = None,
    cache_control: str = IMMUTABLE,
    keep_sending: Callable[[], Awaitable[bool]] | None = None,
) -> Response:
    """Answer a GET or HEAD for the file at ``path`` (see the module docstring).

    ``etag`` is the full header value (``strong_etag(...)``). ``last_modified`` defaults to the
    file's mtime; a naive datetime is taken as UTC. Raises ``FileNotFoundError`` when ``path`` is
    not an existing regular file.
    """
    own_tag = _ENTITY_TAG.fullmatch(etag)
    if own_tag is None:
        raise ValueError(f"not an entity tag: {etag!r}")
    own_weak, own_opaque = own_tag.group(1) is not None, own_tag.group(2)

    opened = _open_regular_file(path)
    file: io.FileIO | None = opened  # closed on the way out unless the response takes it
    try:
        st = os.fstat(opened.fileno())
        size = st.st_size
        modified = _whole_seconds_utc(last_modified, st.st_mtime)
        modified_ts = int(modified.timestamp())
        validators = {
            "etag": etag,
            "last-modified": format_datetime(modified, usegmt=True),
            "cache-control": cache_control,
        }
        headers = request.headers
        is_head = request.method.upper() == "HEAD"

        # RFC 9110 §13.2.2: If-Match, else If-Unmodified-Since; If-None-Match, else
        # If-Modified-Since; then If-Range decides whether Range applies.
        if_match = _joined(headers.getlist("if-match"))
        if if_match is not None:
            if not _matches_if_match(if_match, own_weak, own_opaque):
                return _precondition_failed()
        else:
            since = _http_date_seconds(headers.get("if-unmodified-since"))
            if since is not None and modified_ts > since:
                return _precondition_failed()

        none_match = _none_match(_joined(headers.getlist("if-none-match")), own_opaque)
        if none_match is not None:
            if none_match:
                return Response(status_code=304, headers=validators)
        else:
            since = _http_date_seconds(headers.get("if-modified-since"))
            if since is not None and modified_ts <= since:
                return Response(status_code=304, headers=validators)

        byte_range: tuple[int, int] | _Unsatisfiable | None = None
        range_headers = headers.getlist("range")
        if range_headers and _if_range_holds(
            headers.getlist("if-range"), own_weak, own_opaque, modified_ts
        ):
            byte_range = _parse_range(",".join(range_headers), size)
        if byte_range == _UNSATISFIABLE:
            return _range_not_satisfiable(size)

        raw = [
            (b"content-type", media_type.encode("latin-1")),
            (b"accept-ranges", b"bytes"),
            *((k.encode("latin-1"), v.encode("latin-1")) for k, v in validators.items()),
        ]
        if filename is not None:
            raw.append((b"content-disposition", content_disposition(filename).encode("latin-1")))
        if byte_range is None:
            status, start, length = 200, 0, size
        else:
            start, end = byte_range
            status, length = 206, end - start + 1
            raw.append((b"content-range", f"bytes {start}-{end}/{size}".encode("latin-1")))
        raw.append((b"content-length", str(length).encode("latin-1")))

        if is_head or length == 0:
            return _FileBodyResponse(status, raw, None, start, 0)
        body = _FileBodyResponse(status, raw, opened, start, length, keep_sending)
        file = None  # the response owns it now and closes it
        return body
    finally:
        if file is not None:
            file.close()


class _FileBodyResponse(Response):
    """Sends prepared headers, then ``length`` bytes of ``file`` from ``start`` (if any)."""

    def __init__(
        self,
        status_code: int,
        raw_headers: list[tuple[bytes, bytes]],
        file: io.FileIO | None,
        start: int,
        length: int,
        keep_sending: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        # Response.__init__ would render a body and add its own Content-Length: not wanted here.
        self.status_code = status_code
        self.raw_headers = raw_headers
        self.background = None
        self._file = file
        self._start = start
        self._length = length
        self._keep_sending = keep_sending

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
            if self._file is None or self._length == 0:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            elif not await self._stream_until_disconnect(self._file, scope, receive, send):
                return  # the client went away, or was sent away: nothing more to send, nor to run
        finally:
            if self._file is not None:
                self._file.close()
        if self.background is not None:
            await self.background()

    async def _stream_until_disconnect(
        self, file: io.FileIO, scope: Scope, receive: Receive, send: Send
    ) -> bool:
        """Send the body; False when the client disconnected first, or ``keep_sending`` said
        to stop (then the connection is ended)."""
        finished = stopped = False
        try:
            async with anyio.create_task_group() as tg:

                async def watch_disconnect() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    tg.cancel_scope.cancel()

                async def watch_keep_sending(keep_sending: Callable[[], Awaitable[bool]]) -> None:
                    nonlocal stopped
                    while True:
                        await anyio.sleep(CHECK_S)
                        if not await keep_sending():
                            stopped = True
                            tg.cancel_scope.cancel()
                            return

                tg.start_soon(watch_disconnect)
                if self._keep_sending is not None:
                    tg.start_soon(watch_keep_sending, self._keep_sending)
                await self._send_body(file, send)
                finished = True
                tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:  # one failure: raise it as itself
            if len(group.exceptions) != 1:
                raise
            raise group.exceptions[0] from None
        if stopped and not finished:
            await _end_connection(scope, receive)
        return finished

    async def _send_body(self, file: io.FileIO, send: Send) -> None:
        file.seek(self._start)
        remaining = self._length
        while remaining > 0:
            chunk = await anyio.to_thread.run_sync(file.read, min(CHUNK_SIZE, remaining))
            if not chunk:
                # Sent headers promised more: fail so the server cuts the connection, and the
                # client sees a short body rather than a silently wrong one.
                raise OSError(errno.EIO, f"file ended {remaining} bytes early", file.name)
            remaining -= len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": remaining > 0})


async def _end_connection(scope: Scope, receive: Receive) -> None:
    """End the connection of a response whose body will not be sent in full: at once through
    the server's ``ABORT_EXTENSION`` (then wait for the server to see it, so it neither sends
    nor logs anything more), else by an error the server answers by cutting it."""
    abort = scope.get("extensions", {}).get(ABORT_EXTENSION, {}).get("abort")
    if abort is None:
        raise ConnectionAbortedError(errno.ECONNABORTED, "the response was stopped")
    abort()
    with anyio.move_on_after(5):
        while (await receive())["type"] != "http.disconnect":
            pass


def _open_regular_file(path: Path) -> io.FileIO:
    try:
        file = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by the response
    except IsADirectoryError:
        raise FileNotFoundError(errno.ENOENT, "not a regular file", str(path)) from None
    if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
        file.close()
        raise FileNotFoundError(errno.ENOENT, "not a regular file", str(path))
    return file


def _whole_seconds_utc(given: datetime | None, mtime: float) -> datetime:
    if given is None:
        return datetime.fromtimestamp(math.floor(mtime), UTC)
    if given.tzinfo is None:
        given = given.replace(tzinfo=UTC)
    return given.astimezone(UTC).replace(microsecond=0)


def _joined(values: list[str]) -> str | None:
    """A list-valued field sent as several header lines is one comma-separated list."""
    return ", ".join(values) if values else None


def _entity_tags(value: str) -> list[tuple[bool, str]] | None:
    """``1#entity-tag`` as (weak, opaque) pairs; None when the field is not well formed."""
    tags: list[tuple[bool, str]] = []
    pos = 0
    while True:
        while pos < len(value) and value[pos] in ", \t":
            pos += 1
        if pos == len(value):
            return tags or None
        m = _ENTITY_TAG.match(value, pos)
        if m is None:
            return None
        tags.append((m.group(1) is not None, m.group(2)))
        pos = m.end()
        if pos < len(value) and value[pos] not in ", \t":
            return None


def _matches_if_match(value: str, own_weak: bool, own_opaque: str) -> bool:
    """If-Match uses the strong comparison; a malformed field matches nothing."""
    if value.strip() == "*":
        return True
    tags = _entity_tags(value) or []
    return not own_weak and any(not weak and opaque == own_opaque for weak, opaque in tags)


def _none_match(value: str | None, own_opaque: str) -> bool | None:
    """Whether If-None-Match names the file (weak comparison); None when absent or malformed."""
    if value is None:
        return None
    if value.strip() == "*":
        return True
    tags = _entity_tags(value)
    return None if tags is None else any(opaque == own_opaque for _, opaque in tags)


def _http_date_seconds(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # asctime dates and "-0000" carry no zone: HTTP dates are GMT
        when = when.replace(tzinfo=UTC)
    return math.floor(when.timestamp())


def _if_range_holds(values: list[str], own_weak: bool, own_opaque: str, modified_ts: int) -> bool:
    """True when Range may be honoured: no If-Range, or one that validates the current file."""
    if not values:
        return True
    if len(values) != 1:
        return False
    value = values[0].strip()
    if value.startswith(('"', "W/")):
        tag = _ENTITY_TAG.fullmatch(value)
        # strong comparison: a weak tag on either side never matches
        return (
            tag is not None and tag.group(1) is None and not own_weak and tag.group(2) == own_opaque
        )
    return _http_date_seconds(value) == modified_ts


def _digits(text: str) -> int:
    text = text.lstrip("0") or "0"
    return int(text) if len(text) <= 18 else _HUGE


def _parse_range(value: str, size: int) -> tuple[int, int] | _Unsatisfiable | None:
    """One inclusive byte range clamped to the file, unsatisfiable, or None to ignore Range."""
    unit, sep, range_set = value.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    specs = [s.strip() for s in range_set.split(",")]
    specs = [s for s in specs if s]
    if len(specs) != 1:
        return None  # several ranges (or none): the whole file, with 200
    m = _RANGE_SPEC.fullmatch(specs[0])
    if m is None:
        return None
    first, last = m.groups()
    if first:
        start = _digits(first)
        end = _digits(last) if last else size - 1
        if last and end < start:
            return None  # "5-2" is not a valid range-spec
        if start >= size:
            return _UNSATISFIABLE
        return start, min(end, size - 1)
    if not last:
        return None  # a lone "-"
    suffix = _digits(last)
    if suffix == 0 or size == 0:
        return _UNSATISFIABLE
    return max(0, size - suffix), size - 1


def _range_not_satisfiable(size: int) -> Response:
    if size == 0:
        message = "The file is empty, so no byte range of it can be sent. Ask without Range."
    else:
        message = (
            f"The requested range is outside the file, which is {size} bytes long. "
            f"Ask for a range that starts before byte {size}."
        )
    return JSONResponse(
        error_body("range_not_satisfiable", message),
        416,
        headers={
            "Content-Range": f"bytes */{size}",
            "Accept-Ranges": "bytes",
            "Cache-Control": "no-store",
        },
    )


def _precondition_failed() -> Response:
    return JSONResponse(
        error_body(
            "precondition_failed",
            "The file is not the version this request was made for. Fetch it again from the start.",
        ),
        412,
        headers={"Cache-Control": "no-store"},
    )
