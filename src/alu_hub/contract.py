"""The OpenAPI document (``/openapi.json``, "the contract") as the hub really answers.

FastAPI describes a 422 as its own ``{"detail": [{loc, msg, type}]}``, which the hub never sends
(``errors.install_handlers`` answers every error as ``{"error": {"code", "message"}}``), and
documents the other error statuses with no body at all: a client generated from the contract
could parse none of them. Here every error answer refers to the ``Error`` schema, the statuses
each call can answer are listed (401 wherever a token is needed, 404 wherever an id is given,
400/413/415 wherever a body is read, 503 everywhere, ``default`` for the rest), FastAPI's
validation schemas are gone, and the tus routes say their real statuses and headers
(``tus_contract``) instead of "200 application/json". The file routes say the media types of
their bytes, their 206/304/307/412/416 and the 410 of a withdrawn item (``_file_answers``);
the token is the ``bearer`` security scheme, on every operation but the sign-in, with the
signed link as the other way into the file routes (``SECURITY_SCHEMES``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

from .tus_contract import TUS_PREFIX, tus_operation

REF = "#/components/schemas/Error"
JSON_ERROR = {"application/json": {"schema": {"$ref": REF}}}
#: FastAPI's own validation-error schemas, which no answer of the hub has
FASTAPI_SCHEMAS = ("HTTPValidationError", "ValidationError")
#: the only call that needs no token (it is how one gets a token)
SIGN_IN = ("post", "/api/v1/session")
#: the schemes of ``components.securitySchemes``: the token, and the signed link that the file
#: routes take instead (``api._reader``)
BEARER, SIGNED_LINK = "bearer", "signedLink"
SECURITY_SCHEMES: dict[str, Any] = {
    BEARER: {
        "type": "http",
        "scheme": "bearer",
        "description": "The `token` that `POST /api/v1/session` gives, sent as "
        '`Authorization: Bearer <token>`; a 401 says `WWW-Authenticate: Bearer realm="alu-hub"`.',
    },
    SIGNED_LINK: {
        "type": "apiKey",
        "in": "query",
        "name": "sig",
        "description": "A signed link from `POST /api/v1/items/{item_id}/renditions/{name}/link`"
        " (its `m`, `exp` and `sig` query parameters, for one hour), for players that cannot "
        "send a header; the file routes take it instead of the token.",
    },
}
#: the routes that send a file's bytes (and take a signed link), by how their path ends, with
#: the media types of their bytes: a rendition's is its ``mime`` (``media.probe``): the proxy's
#: video/mp4, a broadcast file's its container's (video/quicktime, video/mxf…), a container
#: with no video type (GXF) application/gxf, one no type is known for application/octet-stream
FILES: dict[str, tuple[str, ...]] = {
    "/renditions/{name}": ("video/mp4", "video/*", "application/gxf", "application/octet-stream"),
    "/thumbnail": ("image/jpeg",),
}
#: the routes that answer 410 for a withdrawn item (its files, and a link to one)
WITHDRAWN = ("/renditions/{name}", "/thumbnail", "/renditions/{name}/link")
#: the server-sent events' route and its media type
EVENTS = ("/api/v1/events", "text/event-stream")


class ErrorDetail(BaseModel):
    code: str = Field(
        description="What went wrong, for programs: a stable word such as `invalid_request`, "
        "`malformed_json`, `bad_token`, `unknown_item`, `method_not_allowed`."
    )
    message: str = Field(description="What went wrong and what to do, in plain words for people.")


class Error(BaseModel):
    """Every error answer of the hub (any status from 400 up)."""

    error: ErrorDetail


def _header(description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "string"}}


RETRY_AFTER = {"Retry-After": _header("Seconds to wait before trying again.")}

#: error statuses by where they apply (``_common``), with what they mean
COMMON: dict[str, dict[str, Any]] = {
    "400": {
        "description": "The body is not JSON (`malformed_json`: not valid, not UTF-8, "
        "nested too deeply)."
    },
    "401": {
        "description": "No token, or one the hub does not know or that has ended "
        "(`no_token`, `bad_token`): sign in again. A download also takes a signed link "
        "(`bad_link`).",
        "headers": {"WWW-Authenticate": _header('`Bearer realm="alu-hub"`')},
    },
    "404": {"description": "There is nothing with this id (`unknown_item`, `not_found`)."},
    "410": {
        "description": 'The agency withdrew the item (`item_withdrawn`, "The agency withdrew '
        'this item: REASON"): its files are served no more, signed links included; a download '
        "under way is cut short, and resuming it gets this."
    },
    "413": {"description": "The body is larger than this call takes."},
    "415": {
        "description": "The body is not sent as `Content-Type: application/json` "
        "(`unsupported_media_type`)."
    },
    "422": {
        "description": "A parameter or a field of the body is not what this call takes "
        "(`invalid_request`; the message names it)."
    },
    "503": {
        "description": "The hub cannot reach its database just now (`database_unavailable`), "
        "or is shutting down: try again after `Retry-After`.",
        "headers": RETRY_AFTER,
    },
    "default": {
        "description": "Any other error, in the same shape: 507 `disk_full` (with "
        "`Retry-After`), 500 `internal_error`."
    },
}


def install_contract(app: FastAPI) -> None:
    """Make ``app.openapi()`` (what ``/openapi.json`` serves) the corrected document."""
    made: Callable[[], dict[str, Any]] = app.openapi
    done: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not done:
            done.update(corrected(made()))
        return done

    app.openapi = openapi  # type: ignore[method-assign]


def corrected(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` (FastAPI's) with the hub's error shape and the tus routes' real answers."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for name in FASTAPI_SCHEMAS:
        schemas.pop(name, None)
    error = Error.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error.pop("$defs"))
    schemas["Error"] = error
    spec["components"]["securitySchemes"] = SECURITY_SCHEMES
    for path, operations in spec.get("paths", {}).items():
        for method, op in operations.items():
            if path.startswith(TUS_PREFIX):
                tus_operation(method, op, JSON_ERROR)
            else:
                _file_answers(method, path, op)
                _json_operation(method, path, op)
            _security(method, path, op)
    return spec


def _security(method: str, path: str, op: dict[str, Any]) -> None:
    """The token on every operation but the sign-in (none: it is how one gets a token); the
    file routes take a signed link instead."""
    if (method, path) == SIGN_IN:
        op.pop("security", None)
        return
    op["security"] = [{BEARER: []}]
    if path.endswith(tuple(FILES)):
        op["security"].append({SIGNED_LINK: []})


def _binary(types: tuple[str, ...]) -> dict[str, Any]:
    return {t: {"schema": {"type": "string", "format": "binary"}} for t in types}


def _file_answers(method: str, path: str, op: dict[str, Any]) -> None:
    """A file route's real answers: its bytes in their media types (FastAPI said
    ``application/json``), a range, not modified, the store's redirect, 412 and 416."""
    if path == EVENTS[0]:
        op["responses"]["200"]["content"] = {EVENTS[1]: {"schema": {"type": "string"}}}
        return
    types = next((t for end, t in FILES.items() if path.endswith(end)), None)
    if types is None:
        return
    body = {} if method == "head" else {"content": _binary(types)}  # (a HEAD has no body)
    validators = {"ETag": _header("A strong entity tag."), "Accept-Ranges": _header("`bytes`")}
    op["responses"].update(
        {
            "200": {"description": "The whole file.", "headers": validators, **body},
            "206": {
                "description": "The byte range asked (one `Range`, `If-Range` honoured).",
                "headers": {**validators, "Content-Range": _header("`bytes FIRST-LAST/SIZE`")},
                **body,
            },
            "304": {"description": "Not modified (`If-None-Match`, `If-Modified-Since`)."},
            "307": {
                "description": "With S3 storage: the file is at the store's short-lived URL "
                "(`Location`); ask there, with the same `Range` (no token is needed there).",
                "headers": {"Location": _header("The store's URL for the file.")},
            },
            "412": {"description": "`If-Match` or `If-Unmodified-Since` does not hold."},
            "416": {
                "description": "The range is outside the file (`Content-Range: bytes */SIZE`).",
            },
        }
    )


def _json_operation(method: str, path: str, op: dict[str, Any]) -> None:
    responses: dict[str, Any] = op["responses"]
    for status in _common(method, path, op):
        if status not in responses or status == "422":  # (FastAPI's 422 says its own shape)
            said = responses.get(status, {}).get("description", "")
            responses[status] = {**COMMON[status]}
            if said and said != "Validation Error":
                responses[status]["description"] = said
    if "401" in responses:  # (the sign-in's own 401 too: RFC 9110 §15.5.2)
        responses["401"].setdefault("headers", COMMON["401"]["headers"])
    for status, answer in responses.items():
        if status == "default" or status[0] in "45":
            if method == "head":  # (a HEAD's answer has no body)
                answer.pop("content", None)
            else:
                answer["content"] = JSON_ERROR


def _common(method: str, path: str, op: dict[str, Any]) -> list[str]:
    """The statuses of ``COMMON`` this operation can answer."""
    statuses = ["503", "default"]
    if (method, path) != SIGN_IN:
        statuses.append("401")
    if "{" in path:
        statuses.append("404")
    if path.endswith(WITHDRAWN):
        statuses.append("410")
    if "requestBody" in op:
        statuses += ["400", "413", "415"]
    if "requestBody" in op or op.get("parameters"):
        statuses.append("422")
    return statuses
