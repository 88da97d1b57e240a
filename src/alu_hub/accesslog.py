"""The access log of ``alu-hub serve``: each request's line with its UTC time and the user name
of the account it was signed in as (a signed download link: the member it was made for; "-"
when neither), e.g.

    2026-12-07T06:31:35Z INFO:     127.0.0.1:43404 ktn "GET /api/v1/me HTTP/1.1" 200 OK

uvicorn writes the line (``uvicorn.access``) as the answer starts, from within the request's
own task; the request learns its account later, in the sign-in check (``hub.member_for``, the
stats page's cookie) on the event loop or a worker thread. So the outermost part of the app
(``AccessAccount``) gives the request a holder, in the scope and in a context variable of its
task, the sign-in check writes the name into the one, and the log filter (``AccountFilter``)
reads it from the other. Never a token: the name of the account only. (Secrets in query strings
are taken out of the line by ``server.RedactSecrets``.)
"""

from __future__ import annotations

import contextvars
import copy
import logging
import time
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import AccessFormatter

#: The scope key of a request's ``_Account`` holder.
SCOPE_KEY = "alu_hub.account"

#: What the access line shows for a request that was not signed in.
NOBODY = "-"

FORMAT = (
    '%(asctime)s %(levelprefix)s %(client_addr)s %(account)s "%(request_line)s" %(status_code)s'
)
DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class _Account:
    """The user name a request was signed in as, once the sign-in check has found it."""

    __slots__ = ("name",)

    def __init__(self) -> None:
        self.name = ""


_current: contextvars.ContextVar[_Account | None] = contextvars.ContextVar(
    "alu_hub_access_account", default=None
)


class AccessAccount:
    """Pure ASGI middleware, the app's outermost: a holder for the request's account."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            holder = _Account()
            scope[SCOPE_KEY] = holder
            # not reset afterwards: each request runs in a task of its own (its context goes
            # with it), and an answer sent by an outer part (a 500) still finds it
            _current.set(holder)
        await self.app(scope, receive, send)


def note_account(scope: Scope, username: str) -> None:
    """The request of ``scope`` is signed in as ``username`` (any thread)."""
    holder = scope.get(SCOPE_KEY)
    if isinstance(holder, _Account):
        holder.name = username


class AccountFilter(logging.Filter):
    """Puts the request's account on uvicorn's access records (``record.account``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        holder = _current.get()
        record.account = (holder.name if holder is not None else "") or NOBODY
        return True


class UtcAccessFormatter(AccessFormatter):
    """uvicorn's access line, with the time in UTC (``DATE_FORMAT``) and the account."""

    def converter(self, secs: float | None) -> time.struct_time:  # (logging's name)
        return time.gmtime(secs)

    def formatMessage(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "account"):
            record.account = NOBODY
        return super().formatMessage(record)


def log_config() -> dict[str, Any]:
    """uvicorn's logging set-up with the access lines as ``FORMAT`` says."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["access"] = {
        "()": f"{__name__}.UtcAccessFormatter",
        "fmt": FORMAT,
        "datefmt": DATE_FORMAT,
    }
    return config
