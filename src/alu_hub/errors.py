"""One shape for every error the API returns: ``{"error": {"code", "message"}}`` with the right
status. ``code`` is for programs, ``message`` is plain words for people.

Outages are not bugs: a database that cannot be reached answers 503 and a full disk 507, both
with ``Retry-After`` (clients back off and resume), and each is logged as one line at most
every ``OUTAGE_LOG_S`` per kind, not as a traceback per request (a database that is down
fails every request: tracebacks by the hundred buried the one line that said why)."""

from __future__ import annotations

import errno
import logging
import sqlite3
import threading
import time
from typing import Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from .allow import allowed_methods, not_allowed_message
from .bodies import UNREADABLE_BODY, not_a_json_object, unreadable_json
from .schemas import NOT_UNICODE

log = logging.getLogger(__name__)

#: Seconds a client is asked to wait when the database cannot be reached.
DATABASE_RETRY_S = 10
#: Seconds a client is asked to wait when the disk is full (someone has to make room).
DISK_RETRY_S = 60
#: The same kind of outage is logged at most once in this many seconds.
OUTAGE_LOG_S = 30.0
#: OSError numbers that mean "no room": the disk is full, or the hub's quota is used up.
FULL_DISK_ERRNOS = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
#: PostgreSQL's disk_full (SQLSTATE class 53: insufficient resources).
_PG_DISK_FULL = "53100"

Outage = Literal["database", "disk_full"]


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


def unauthorized(code: str, message: str) -> ApiError:
    return ApiError(401, code, message, {"WWW-Authenticate": 'Bearer realm="alu-hub"'})


def disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk (or the quota) is full: an OSError, or the database's own
    "database or disk is full"."""
    if isinstance(exc, OSError):
        return exc.errno in FULL_DISK_ERRNOS
    if isinstance(exc, DBAPIError):
        orig = exc.orig
        return (
            getattr(orig, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
            or getattr(orig, "sqlstate", None) == _PG_DISK_FULL
        )
    return False


def outage_of(exc: BaseException) -> Outage | None:
    """The outage ``exc`` is a sign of, or None for anything else (a bug: a 500)."""
    if disk_full(exc):
        return "disk_full"
    if isinstance(exc, PoolTimeout | OperationalError | InterfaceError):
        return "database"  # refused, dropped, a pool with no free connection, locked, …
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return "database"
    return None


def _cause(exc: BaseException) -> str:
    """The error in one short line. For a database error, the driver's words only: SQLAlchemy's
    own text adds the statement and its parameters, which may hold what is never logged."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(orig, OSError) and orig.strerror:
        words = orig.strerror  # without the file name: upload ids are not for the log
    else:
        words = str(orig).strip().splitlines()[0] if str(orig).strip() else ""
    return f"{type(orig).__name__}: {words[:300]}" if words else type(orig).__name__


class _OutageLog:
    """One log line per kind of outage at most every ``OUTAGE_LOG_S``, saying how many more
    requests it failed since the last line."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._quiet: dict[str, int] = {}

    def report(self, kind: Outage, exc: BaseException) -> None:
        now = time.monotonic()
        with self._lock:
            last = self._last.get(kind)
            if last is not None and now - last < OUTAGE_LOG_S:
                self._quiet[kind] = self._quiet.get(kind, 0) + 1
                return
            self._last[kind] = now
            quiet = self._quiet.pop(kind, 0)
        what = "the database cannot be reached" if kind == "database" else "the disk is full"
        more = f" ({quiet} more failed requests since the last report)" if quiet else ""
        log.error("%s: %s%s", what, _cause(exc), more)

    def reset(self) -> None:
        with self._lock:
            self._last.clear()
            self._quiet.clear()


outages = _OutageLog()


def outage_error(kind: Outage, message: str | None = None) -> ApiError:
    """The answer to an outage: 503 or 507 with Retry-After, in the usual JSON shape."""
    if kind == "database":
        return ApiError(
            503,
            "database_unavailable",
            message or "The hub cannot reach its database just now; try again shortly.",
            {"Retry-After": str(DATABASE_RETRY_S)},
        )
    return ApiError(
        507,
        "disk_full",
        message or "The hub's disk is full; nothing was changed. Try again later.",
        {"Retry-After": str(DISK_RETRY_S)},
    )


def method_not_allowed(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """405 with every method of the resource in ``Allow`` (``allow.allowed_methods``), not
    only the one route Starlette happened to try, and the same in words."""
    allowed = allowed_methods(getattr(request.app.state, "allow_routes", ()), request.scope)
    headers = {**(exc.headers or {})}
    if allowed:
        headers["Allow"] = ", ".join(allowed)
    message = not_allowed_message(request.method, allowed)
    return JSONResponse(error_body("method_not_allowed", message), 405, headers=headers)


def install_handlers(app: FastAPI) -> None:
    async def api_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return JSONResponse(error_body(exc.code, exc.message), exc.status, headers=exc.headers)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return JSONResponse(
                error_body("malformed_json", "The request body is not valid JSON."), 400
            )
        refused = not_a_json_object(request, errors)
        if refused is not None:
            return refused
        parts = []
        for e in errors[:5]:
            where = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body", "query"))
            msg = str(e.get("msg", "invalid"))
            if e.get("type") == "string_unicode":  # pydantic: "unable to parse raw data as …"
                msg = NOT_UNICODE
            msg = msg.removeprefix("Value error, ")  # a validator's own words
            if e.get("type") == "extra_forbidden":  # (pydantic: "Extra inputs are not permitted")
                msg = "this request has no such field (nothing was done)"
            parts.append(f"{where}: {msg}" if where else msg)
        return JSONResponse(error_body("invalid_request", "; ".join(parts)), 422)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 405:
            return method_not_allowed(request, exc)
        if exc.status_code == 400 and exc.detail == UNREADABLE_BODY:
            return unreadable_json(exc)
        code = {404: "not_found"}.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else "Request failed."
        if exc.status_code == 404 and message == "Not Found":
            message = "There is nothing at this address."
        return JSONResponse(error_body(code, message), exc.status_code, headers=exc.headers)

    async def outage(_request: Request, exc: Exception) -> JSONResponse:
        kind = outage_of(exc)
        if kind is None:
            raise exc  # not an outage: a bug, for the 500 below (with its traceback)
        outages.report(kind, exc)
        return await api_error(_request, outage_error(kind))

    async def internal_error(_request: Request, _exc: Exception) -> JSONResponse:
        # starlette logs the traceback after this answer (a bug: it is wanted)
        return JSONResponse(
            error_body(
                "internal_error", "The hub had a problem with this request; tell the agency."
            ),
            500,
        )

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(DBAPIError, outage)
    app.add_exception_handler(PoolTimeout, outage)
    app.add_exception_handler(OSError, outage)
    app.add_exception_handler(Exception, internal_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
