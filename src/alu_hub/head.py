"""HEAD answered wherever GET is (RFC 9110 §9.3.2: a general-purpose server MUST support both).

FastAPI routes a ``GET`` only to ``GET``: ``HEAD /api/v1/health`` or ``HEAD /api/v1/items`` was
answered 405, which monitoring probes (``curl -I``, load balancers' health checks) and link
checkers take as the hub being broken. This ASGI middleware sends a HEAD that no route takes as
such to the GET route of its path and passes on the status and headers of what GET answers —
``Content-Length`` included, as the RFC allows — without a byte of its body. Routes with a HEAD
of their own (renditions, thumbnails, tus uploads) are left to it. A streamed GET (the event
stream) is stopped as soon as its headers are out, so a HEAD never holds a stream open.
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.routing import Match, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    """See the module doc."""

    def __init__(self, app: ASGIApp, router: Router) -> None:
        self.app = app
        self.router = router

    def _only_get(self, scope: Scope) -> bool:
        """True when no route takes this HEAD and one takes the same request as a GET."""
        as_get = {**scope, "method": "GET"}
        found = False
        for route in self.router.routes:
            if route.matches(scope)[0] is Match.FULL:
                return False
            if not found and route.matches(as_get)[0] is Match.FULL:
                found = True
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD" or not self._only_get(scope):
            await self.app(scope, receive, send)
            return
        done = asyncio.Event()

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.start":
                await send(message)
            elif message["type"] == "http.response.body" and not done.is_set():
                done.set()
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        task = asyncio.ensure_future(self.app({**scope, "method": "GET"}, receive, headers_only))
        waiter = asyncio.ensure_future(done.wait())
        try:
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            if not task.done():
                task.cancel()  # a stream: its headers are out, its body is not wanted
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if not task.cancelled():
            task.result()  # the app's own error, as without this middleware
