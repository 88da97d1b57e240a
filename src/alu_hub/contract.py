"""The OpenAPI document (``/openapi.json``, "the contract") as the hub really answers.

FastAPI describes a 422 as its own ``{"detail": [{loc, msg, type}]}``, which the hub never sends
(``errors.install_handlers`` answers every error as ``{"error": {"code", "message"}}``), and
documents the other error statuses with no body at all: a client generated from the contract
could parse none of them. Here every error answer refers to the ``Error`` schema, the statuses
each call can answer are listed (401 wherever a token is needed, 404 wherever an id is given,
400/413/415 wherever a body is read, 503 everywhere, ``default`` for the rest), FastAPI's
validation schemas are gone, and the tus routes say their real statuses and headers
(``tus_contract``) instead of "200 application/json".
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
    for path, operations in spec.get("paths", {}).items():
        for method, op in operations.items():
            if path.startswith(TUS_PREFIX):
                tus_operation(method, op, JSON_ERROR)
            else:
                _json_operation(method, path, op)
    return spec


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
    if "requestBody" in op:
        statuses += ["400", "413", "415"]
    if "requestBody" in op or op.get("parameters"):
        statuses.append("422")
    return statuses
