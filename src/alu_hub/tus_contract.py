"""The tus routes in the OpenAPI document: their real statuses and headers.

FastAPI documented every tus operation as "200 application/json" with an empty schema, while
they answer 201/204 with tus headers and 409/412/415/460… (the tus 1.0 protocol). Each is
marked a tus protocol route here, linked to the spec, with the answers it really gives; the
routes themselves are ``tus/routes.py``'s (left as they are). Used by ``contract``.
"""

from __future__ import annotations

from typing import Any

TUS_PREFIX = "/api/v1/uploads"
TUS_SPEC = "https://tus.io/protocols/resumable-upload"


def _h(description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "string"}}


TUS_RESUMABLE = {"Tus-Resumable": _h("`1.0.0`, on every answer.")}
OFFSET = {"Upload-Offset": _h("The bytes the hub has stored.")}
EXPIRES = {"Upload-Expires": _h("When the upload is deleted if no byte comes (RFC 9110 date).")}
OPTIONS_HEADERS = {
    "Tus-Version": _h("`1.0.0`"),
    "Tus-Extension": _h("The tus extensions this hub implements."),
    "Tus-Max-Size": _h("The largest upload, in bytes."),
    "Tus-Checksum-Algorithm": _h("`sha1,sha256,md5,crc32`"),
}
STATE_HEADERS = {
    "Upload-Length": _h("The upload's length, once known."),
    "Upload-Defer-Length": _h("`1` while the length is not known."),
    "Upload-Metadata": _h("The metadata the upload was created with."),
    "Upload-Concat": _h("`partial`, or `final;` and its parts."),
    "Alu-Upload-State": _h("`receiving`, `processing`, `published` or `failed`."),
    "Alu-Item-Id": _h("The item it was published as."),
    "Alu-Error": _h("Why it failed, or why publishing waits, for people."),
    "Alu-Final-Upload": _h("For a part joined into a final upload: that upload's URL."),
    "Cache-Control": _h("`no-store`"),
}
UPLOAD_STATUS = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "state": {"type": "string", "enum": ["receiving", "processing", "published", "failed"]},
        "offset": {"type": "integer"},
        "length": {"type": ["integer", "null"]},
        "item_id": {"type": ["string", "null"]},
        "error": {"type": ["string", "null"]},
        "expires_at": {"type": "string", "format": "date-time"},
    },
    "required": ["id", "state", "offset", "length", "item_id", "error", "expires_at"],
}

#: the error statuses, by what they mean in tus
ERRORS = {
    "400": "A tus header or the metadata is not what the hub takes (the message names it).",
    "401": "No token, or one the hub does not know: sign in again (`WWW-Authenticate`).",
    "403": "Another member's upload (`not_your_upload`), or a PATCH to a final upload.",
    "404": "There is no such upload.",
    "409": "`Upload-Offset` is not the offset stored (the answer's `Upload-Offset` is), "
    "or the upload has all its bytes (`upload_finished`).",
    "410": "The upload was cancelled, expired (with its `Upload-Expires`) or joined into a "
    "final upload (`Alu-Final-Upload`).",
    "412": "No `Tus-Resumable: 1.0.0` (the answer's `Tus-Version` says which the hub speaks).",
    "413": "Larger than `Tus-Max-Size`, the upload's length, the metadata limit or the "
    "largest chunk (`Connection: close`).",
    "415": "A PATCH body not sent as `Content-Type: application/offset+octet-stream`.",
    "422": "The file is already on the network (`already_on_network`, the item named).",
    "423": "Another request is writing this upload: try again after `Retry-After`.",
    "460": "`Upload-Checksum` does not match the chunk: nothing of it was kept; send it again.",
    "503": "The database cannot be reached just now: try again after `Retry-After`.",
    "default": "Any other error (507 `disk_full` with `Retry-After`, 500 `internal_error`).",
}

#: (method, collection?) → the success status, its description and headers, and error statuses
OPERATIONS: dict[tuple[str, bool], tuple[str, str, dict[str, Any], list[str]]] = {
    ("post", True): (
        "201",
        "Created (creation, creation-with-upload, concatenation): `Location` is the upload's URL.",
        {"Location": _h("The upload's URL."), **OFFSET, **EXPIRES},
        ["400", "401", "412", "413", "415", "422", "503"],
    ),
    ("options", True): ("204", "What this tus server offers.", OPTIONS_HEADERS, ["401", "503"]),
    ("options", False): ("204", "What this tus server offers.", OPTIONS_HEADERS, ["401", "503"]),
    ("head", False): (
        "200",
        "Where the upload stands (no body).",
        {**OFFSET, **EXPIRES, **STATE_HEADERS},
        ["401", "403", "404", "410", "412", "503"],
    ),
    ("get", False): (
        "200",
        "Where the upload stands, as JSON (the same as the `HEAD` headers).",
        {},
        ["401", "403", "404", "410", "503"],
    ),
    ("patch", False): (
        "204",
        "The chunk is stored.",
        {**OFFSET, **EXPIRES},
        ["400", "401", "403", "404", "409", "410", "412", "413", "415", "423", "460", "503"],
    ),
    ("delete", False): (
        "204",
        "The upload is cancelled (termination).",
        {},
        ["401", "403", "404", "409", "410", "412", "503"],
    ),
}


def tus_operation(method: str, op: dict[str, Any], json_error: dict[str, Any]) -> None:
    """Describe the tus operation ``op`` (``method`` on the collection or an upload) as it
    answers; ``json_error``: the content of an error answer with a body."""
    collection = "upload_id" not in str(op.get("parameters", ""))
    ok, said, headers, errors = OPERATIONS[method, collection]
    success: dict[str, Any] = {"description": said, "headers": {**headers, **TUS_RESUMABLE}}
    if (method, ok) == ("get", "200"):
        success["content"] = {"application/json": {"schema": UPLOAD_STATUS}}
    responses: dict[str, Any] = {ok: success}
    for status in [*errors, "default"]:
        answer: dict[str, Any] = {"description": ERRORS[status], "headers": TUS_RESUMABLE}
        if method != "head":  # (a HEAD's answer has no body)
            answer["content"] = json_error
        responses[status] = answer
    op["responses"] = responses
    op["description"] = (
        f"A tus 1.0 protocol route ({TUS_SPEC}): statuses and headers are the tus spec's; "
        "errors with a body have the hub's `Error` shape.\n\n" + op.get("description", "")
    )
    op["externalDocs"] = {"description": "tus 1.0", "url": TUS_SPEC}
