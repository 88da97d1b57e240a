"""Request sizes, bounded before anything is read whole into memory.

Bodies (this ASGI middleware): every request outside tus has its body read here, up to the limit
of its call (``Settings.max_signin_body_bytes`` for ``POST /session``,
``max_history_batch_bytes`` for ``POST /history``, ``max_json_body_bytes`` for any other), and
then handed to the app. A ``Content-Length`` over the limit is answered 413 at once, before a
byte of the body is read (and before ``100 Continue``); a body without one (chunked) is answered
413 as soon as it passes the limit, while the client is still sending — the connection is then
closed, the rest is never read. tus bodies are not touched here: they are streamed to disk in
bounded writes and limited by the upload's length (and ``max_chunk_size``, if set; see ``tus``).

Headers are bounded by the server (``server.BoundedHttpToolsProtocol``): an ASGI app only sees
them once they are all in memory. ``Upload-Metadata`` has its own limit (``tus.protocol``).
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_body
from .settings import Settings
from .tus.protocol import PREFIX as TUS_PREFIX


def too_large_response(code: str, message: str, status: int = 413) -> list[Message]:
    """The ASGI messages of a JSON error that closes the connection."""
    body = json.dumps(error_body(code, message)).encode()
    return [
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        },
        {"type": "http.response.body", "body": body},
    ]


#: A correction (``PATCH /api/v1/items/{id}``) may carry a script, a shot list and restrictions
#: at their limit (20,000 characters each): in JSON's ``\uXXXX`` escapes, 6 bytes a character.
CORRECTION_BODY_BYTES = 512 * 1024


class BodyLimits:
    """See the module doc."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    def limit_for(self, method: str, path: str) -> int | None:
        """The largest body accepted, or None where bodies are streamed (tus)."""
        if path == TUS_PREFIX or path.startswith(TUS_PREFIX + "/"):
            return None
        if method == "POST" and path.rstrip("/") == "/api/v1/session":
            return self.settings.max_signin_body_bytes
        if method == "POST" and path.rstrip("/") == "/api/v1/history":
            return self.settings.max_history_batch_bytes
        if method == "PATCH" and path.startswith("/api/v1/items/"):
            return CORRECTION_BODY_BYTES
        return self.settings.max_json_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await self._refuse(send, limit)
            return
        chunks: list[bytes] = []
        size = 0
        first: Message | None = None
        while True:
            message = await receive()
            if message["type"] != "http.request":  # gone before the body was complete
                first = message
                break
            body: bytes = message.get("body", b"")
            size += len(body)
            if size > limit:
                await self._refuse(send, limit)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                first = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                assert first is not None
                return first
            return await receive()  # e.g. http.disconnect, for streams that watch for it

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(send: Send, limit: int) -> None:
        for message in too_large_response(
            "body_too_large",
            f"The request body is larger than this call accepts ({limit} bytes); nothing was done.",
        ):
            await send(message)
