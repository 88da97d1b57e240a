"""The answers to a JSON body the hub cannot take as such, in the API's error shape.

FastAPI answers a body that is not UTF-8 or nested too deeply for Python's JSON parser with a
bare ``HTTPException(400, "There was an error parsing the body")``, which came out as
``http_error`` while a truncated body is ``malformed_json``; and a body that is JSON but not an
object (an array), or not sent as JSON at all (``text/plain``, no Content-Type), with pydantic's
"Input should be a valid dictionary or object to extract fields from". Here each says what is
wrong and what to send.

A body sent as ``text/plain`` (or with no Content-Type) is refused with 415, not read as JSON:
``text/plain`` is one of the types a browser sends across sites without asking the server first
(a CORS "simple request"), so reading it would let any web page post sign-ins and other calls
in a visitor's name; FastAPI refuses it for that reason too (its strict Content-Type).
"""

from __future__ import annotations

import email.message
from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

#: FastAPI's words for a body its JSON parser could not read (not a JSONDecodeError)
UNREADABLE_BODY = "There was an error parsing the body"
SEND_JSON = "send the body as a JSON object with Content-Type: application/json"
#: pydantic's error types for a value that is not an object where a model was wanted
NOT_AN_OBJECT = frozenset({"model_attributes_type", "model_type", "dict_type"})


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"code": code, "message": message}}
    return JSONResponse(body, status, headers=headers)


def unreadable_json(exc: HTTPException) -> JSONResponse:
    """400 ``malformed_json`` for a body FastAPI could not parse, saying why."""
    cause = exc.__cause__
    if isinstance(cause, UnicodeError):
        why = "The request body is not UTF-8 text: send JSON encoded as UTF-8."
    elif isinstance(cause, RecursionError):
        why = "The request body's JSON is nested too deeply to be read; send a flatter object."
    else:
        why = "The request body is not valid JSON."
    return _error(400, "malformed_json", why)


def is_json(content_type: str | None) -> bool:
    """Whether ``content_type`` is JSON as FastAPI reads it (``application/json`` or ``+json``)."""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def not_a_json_object(request: Request, errors: Sequence[Any]) -> JSONResponse | None:
    """The answer to a body that is not a JSON object (415 when it was not sent as JSON at
    all, 422 for JSON that is an array, a string…, or no body), or None for other errors."""
    whole = [e for e in errors if tuple(e.get("loc", ())) == ("body",)]
    if not whole:
        return None
    if whole[0].get("type") == "missing":
        return _error(422, "invalid_request", f"The request has no body: {SEND_JSON}.")
    if whole[0].get("type") not in NOT_AN_OBJECT:
        return None
    content_type = request.headers.get("content-type")
    if is_json(content_type):
        return _error(422, "invalid_request", f"The body is JSON but not an object: {SEND_JSON}.")
    sent = f"Content-Type: {content_type[:60]}" if content_type else "no Content-Type"
    accept = "Accept-Patch" if request.method == "PATCH" else "Accept-Post"
    return _error(
        415,
        "unsupported_media_type",
        f"The body was sent with {sent}, not as JSON: {SEND_JSON}.",
        {accept: "application/json"},
    )
