"""The tus handlers and router: OPTIONS, POST (creation, creation-with-upload,
concatenation), HEAD, PATCH, DELETE and the JSON status GET. See the package doc."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from ..errors import ApiError
from ..hub import Hub, HubDep, MemberDep
from ..models import Member, Upload, utcnow
from ..publish import OnNetwork, PublishError, check_metadata, on_network
from .join import _start_assemble
from .locks import _hold
from .protocol import (
    CHECKSUM_ALGORITHMS,
    OFFSET_STREAM,
    PREFIX,
    TUS_EXTENSIONS,
    TUS_VERSION,
    _ascii_header,
    _bad,
    _chunk_too_large,
    _closing,
    _effective_method,
    _header_int,
    _is_offset_stream,
    _not_allowed,
    _offset_mismatch,
    _parse_checksum,
    _parse_concat,
    _require_file_meta,
    _too_large,
    encode_metadata,
    http_date,
    parse_metadata,
)
from .receive import _body_problem, _store_headers, _write_and_store
from .state import (
    _db_create,
    _db_create_final,
    _db_get,
    _db_owned,
    _db_terminate,
    _start_complete,
)

#: on a partial upload joined into a final one: where the final upload is (see _final_of)
FINAL_HEADER = "Alu-Final-Upload"

# --- handlers ---------------------------------------------------------------------------------


def _upload_url(request: Request, upload_id: str) -> str:
    return str(request.url_for("tus_upload", upload_id=upload_id))


def _options_response(hub: Hub) -> Response:
    return Response(
        status_code=204,
        headers={
            "Tus-Version": TUS_VERSION,
            "Tus-Max-Size": str(hub.settings.max_upload_size),
            "Tus-Extension": TUS_EXTENSIONS,
            "Tus-Checksum-Algorithm": ",".join(CHECKSUM_ALGORITHMS),
            # a HEAD of a partial upload names the final upload that took it: a client whose
            # final POST lost its answer finds it again (needed to join parts early safely);
            # and crc32 Upload-Checksums are 4 bytes big-endian (tus names no CRC encoding)
            "Alu-Tus-Features": "final-upload-of-part,crc32-big-endian",
        },
    )


async def _create(request: Request, hub: Hub, member: Member) -> Response:
    settings = hub.settings
    kind, part_ids = _parse_concat(
        request.headers.get("upload-concat"), lambda uid: _upload_url(request, uid)
    )
    length = _header_int(request, "upload-length")
    defer = request.headers.get("upload-defer-length")
    if defer is not None and defer.strip() != "1":
        raise _bad("bad_header", "Upload-Defer-Length can only be 1.")
    if kind == "final":
        if length is not None or defer is not None:
            raise _bad(
                "bad_header",
                "A final upload's length is the sum of its parts: send no Upload-Length.",
            )
    elif length is None and defer is None:
        raise _bad("bad_header", "Send Upload-Length, or Upload-Defer-Length: 1.")
    elif length is not None and defer is not None:
        raise _bad("bad_header", "Send either Upload-Length or Upload-Defer-Length, not both.")
    if length is not None and length > settings.max_upload_size:
        raise _too_large(settings.max_upload_size)
    meta_header = request.headers.get("upload-metadata", "").strip()
    meta = parse_metadata(meta_header, settings.max_metadata_bytes)
    if kind != "partial":
        meta = _require_file_meta(meta)
        try:  # the item's fields, before any byte is sent (a partial upload has none)
            check_metadata(meta)
        except PublishError as e:
            raise ApiError(400, "invalid_metadata", str(e)) from None
        # a file already on the network (the agency's, another member's): refused before any
        # byte is sent, by the sha256 the client declares (checked again at the last byte)
        refusal = await run_in_threadpool(_on_network, hub, meta.get("sha256", ""), member.id)
        if refusal is not None:
            raise ApiError(422, refusal.code, str(refusal))
    upload_id = secrets.token_urlsafe(24)

    if kind == "final":
        final = await run_in_threadpool(
            _db_create_final, hub, member.id, upload_id, part_ids, meta, meta_header
        )
        _start_assemble(hub, upload_id, part_ids)
        return Response(
            status_code=201,
            headers={
                "Location": _upload_url(request, upload_id),
                "Upload-Expires": http_date(final.expires_at),
            },
        )

    # creation-with-upload: a body of the offset stream type holds the first bytes
    content_length = _header_int(request, "content-length")
    has_body = _is_offset_stream(request) and (
        (content_length or 0) > 0 or "chunked" in request.headers.get("transfer-encoding", "")
    )
    checksum = None
    if has_body:
        checksum = _parse_checksum(request.headers.get("upload-checksum"))
        cap = settings.max_chunk_size
        if cap is not None and content_length is not None and content_length > cap:
            raise _chunk_too_large(cap)
        if length is not None and content_length is not None and content_length > length:
            raise _closing(
                ApiError(413, "beyond_upload_length", "The body is longer than Upload-Length.")
            )
    now = utcnow()
    complete_now = length == 0 and kind == ""
    up = Upload(
        id=upload_id,
        member_id=member.id,
        length=length,
        offset=0,
        meta=meta,
        meta_header=meta_header or None,
        concat=kind,
        parts={},
        state="processing" if complete_now else "receiving",
        error="",
        created_at=now,
        updated_at=now,
        received_at=now if complete_now else None,
        expires_at=now + dt.timedelta(seconds=settings.upload_expiry_s),
        lock_owner="",
    )
    await run_in_threadpool(_db_create, hub, up)
    headers = {"Location": _upload_url(request, upload_id)}
    if not complete_now:
        headers["Upload-Expires"] = http_date(up.expires_at)
    if complete_now:
        _start_complete(hub, upload_id)
    elif has_body:
        async with _hold(hub, upload_id) as hold:
            up = await hold.begin(member.id, lease=True)
            got, expires, complete = await _write_and_store(
                request, hub, hold, up, length, checksum
            )
        if complete:
            _start_complete(hub, upload_id)
        if got.outcome == "bad_checksum":  # tus checksum: 460; Location lets the client resume
            raise _first_chunk_damaged(headers["Location"], got.end, expires)
        # The upload exists whatever else happened to its first bytes: answer 201 with the
        # offset reached, and the client goes on from there with PATCH.
        headers["Upload-Offset"] = str(got.end)
        if expires is not None:
            headers["Upload-Expires"] = http_date(expires)
    return Response(status_code=201, headers=headers)


def _first_chunk_damaged(location: str, offset: int, expires: dt.datetime | None) -> ApiError:
    return ApiError(
        460,
        "checksum_mismatch",
        "The upload was created, but its first chunk does not match its Upload-Checksum and"
        f" was discarded: send it again with PATCH at offset {offset} to the upload's Location.",
        {**_store_headers(offset, expires), "Location": location},
    )


def _on_network(hub: Hub, sha256: str, member_id: int) -> OnNetwork | None:
    with hub.db.session() as s:
        return on_network(s, sha256, member_id)


def _upload_headers(request: Request, up: Upload) -> dict[str, str]:
    headers = {"Cache-Control": "no-store", "Alu-Upload-State": up.state}
    # tus concatenation: a final upload's HEAD SHOULD NOT carry Upload-Offset until its parts
    # are all joined (its value before is undefined for clients); then it equals the length
    if up.concat != "final" or (up.length is not None and up.offset >= up.length):
        headers["Upload-Offset"] = str(up.offset)
    if up.length is None:
        headers["Upload-Defer-Length"] = "1"
    else:
        headers["Upload-Length"] = str(up.length)
    if up.meta:  # as the client sent it (tus core); encoded again for uploads made before 0011
        headers["Upload-Metadata"] = up.meta_header or encode_metadata(up.meta)
    if up.state == "receiving":
        headers["Upload-Expires"] = http_date(up.expires_at)
    if up.concat == "partial":
        headers["Upload-Concat"] = "partial"
        final = (up.parts or {}).get("final")
        if final:
            headers[FINAL_HEADER] = _upload_url(request, str(final))
    elif up.concat == "final":
        ids = [str(pid) for pid in (up.parts or {}).get("ids", [])]
        paths = " ".join(request.url_for("tus_upload", upload_id=pid).path for pid in ids)
        headers["Upload-Concat"] = f"final;{paths}"
    if up.item_id:
        headers["Alu-Item-Id"] = _ascii_header(up.item_id)
    if up.error:
        headers["Alu-Error"] = _ascii_header(up.error)
    return headers


async def _head_of_receiving(hub: Hub, upload_id: str, member_id: int, up: Upload) -> Upload:
    """The upload as a HEAD tells it. Taking the lock makes a writer whose client went away
    (idle for IDLE_S) save and let go first; one still receiving bytes keeps on, and the HEAD
    answers the offset stored so far (it only moves after an fsync)."""
    try:
        async with _hold(hub, upload_id) as hold:
            return await hold.begin(member_id, lease=False)
    except ApiError as e:
        if e.status != 423:
            raise
        return up


def _final_of(hub: Hub, upload_id: str, member_id: int) -> str | None:
    """The final upload that took partial ``upload_id`` of ``member_id`` (None: none did; a
    part that expired or was cancelled went into none, even if one was waiting for it)."""
    with hub.db.engine.connect() as conn:
        up = _db_get(conn, upload_id)
    if up is None or up.member_id != member_id or up.concat != "partial":
        return None
    if up.state != "terminated":
        return None
    final = (up.parts or {}).get("final")
    return str(final) if final else None


async def _head(request: Request, hub: Hub, member: Member, upload_id: str) -> Response:
    try:
        up = await run_in_threadpool(_db_owned, hub, upload_id, member.id)
    except ApiError as e:
        # a part joined into a final upload is gone (410) but says where it went
        final = (
            await run_in_threadpool(_final_of, hub, upload_id, member.id)
            if e.status == 410
            else None
        )
        if final is not None:
            e.headers[FINAL_HEADER] = _upload_url(request, final)
        raise
    if up.state == "receiving" and up.concat != "final":
        up = await _head_of_receiving(hub, upload_id, member.id, up)
    headers = _upload_headers(request, up)
    if request.method.upper() == "HEAD":
        # the content a GET would send (RFC 9110 §8.6: a HEAD's Content-Length MUST NOT differ)
        status = _status(up)
        headers["Content-Type"] = status.headers["content-type"]
        headers["Content-Length"] = str(len(status.body))
    # else a POST with X-HTTP-Method-Override: HEAD: the HEAD's headers, but its answer is a
    # POST's, whose Content-Length frames a body: an empty one (Content-Length: 0). A HEAD's
    # length here announced bytes that never came: the connection broke, and the requests
    # pipelined after it were lost.
    return Response(status_code=200, headers=headers)


async def _patch(request: Request, hub: Hub, member: Member, upload_id: str) -> Response:
    settings = hub.settings
    if not _is_offset_stream(request):
        raise ApiError(
            415, "bad_content_type", f"A PATCH body must have Content-Type: {OFFSET_STREAM}."
        )
    client_offset = _header_int(request, "upload-offset")
    if client_offset is None:
        raise _bad("bad_header", "A PATCH needs Upload-Offset.")
    content_length = _header_int(request, "content-length")
    cap = settings.max_chunk_size  # None: a chunk may be the whole rest of the upload
    if cap is not None and content_length is not None and content_length > cap:
        raise _chunk_too_large(cap)
    checksum = _parse_checksum(request.headers.get("upload-checksum"))
    declared = _header_int(request, "upload-length")

    up = await run_in_threadpool(_db_owned, hub, upload_id, member.id)
    if up.concat == "final":
        raise ApiError(403, "final_upload", "A final upload is made from its parts: no PATCH.")
    if up.state != "receiving":
        return _patch_finished(up, client_offset, content_length)

    async with _hold(hub, upload_id) as hold:
        up = await hold.begin(member.id, lease=True)
        if not hold.leased:  # no longer receiving bytes
            return _patch_finished(up, client_offset, content_length)
        offset = up.offset
        if client_offset != offset:
            raise _offset_mismatch(offset)
        length = up.length
        if declared is not None:
            if length is None:
                if declared < offset:
                    raise _bad("bad_length", "Upload-Length is less than the bytes already sent.")
                if declared > settings.max_upload_size:
                    raise _closing(_too_large(settings.max_upload_size))
                length = declared
            elif declared != length:
                raise _bad("bad_length", "Upload-Length cannot change once it is known.")
        if (
            length is None
            and content_length is not None
            and offset + content_length > settings.max_upload_size
        ):
            # a deferred length has this bound too
            raise _closing(_too_large(settings.max_upload_size))
        if length is not None and content_length is not None and offset + content_length > length:
            raise _closing(
                ApiError(
                    413,
                    "beyond_upload_length",
                    f"The chunk goes beyond the upload's length ({length} bytes).",
                    {"Upload-Offset": str(offset)},
                )
            )
        got, expires, complete = await _write_and_store(request, hub, hold, up, length, checksum)
    if complete:
        _start_complete(hub, upload_id)
    problem = _body_problem(got, expires)
    if problem is not None:
        raise problem
    return Response(status_code=204, headers=_store_headers(got.end, expires))


def _patch_finished(up: Upload, client_offset: int, content_length: int | None) -> Response:
    """PATCH on an upload that has all its bytes: nothing more can be written."""
    if client_offset != up.offset:
        raise _offset_mismatch(up.offset)
    if content_length:
        raise _closing(
            ApiError(413, "beyond_upload_length", "This upload already has all its bytes.")
        )
    return Response(status_code=204, headers={"Upload-Offset": str(up.offset)})


async def _delete(hub: Hub, member: Member, upload_id: str) -> Response:
    up = await run_in_threadpool(_db_owned, hub, upload_id, member.id)
    if up.state not in ("receiving", "failed"):
        raise _not_cancellable(up)
    async with _hold(hub, upload_id, force=True):  # a writer here stops first, even a live one
        done = await run_in_threadpool(_db_terminate, hub, upload_id)
    if not done:
        raise ApiError(
            409, "upload_finished", "This upload changed meanwhile; it was not cancelled."
        )
    return Response(status_code=204)


def _not_cancellable(up: Upload) -> ApiError:
    if up.state == "published" and up.item_id:
        said = (
            f"This upload was published as item {up.item_id}; it can no longer be cancelled."
            " If the item must not be used, ask the agency to withdraw it."
        )
    else:
        said = (
            "This upload already has all its bytes and is being processed; it can no longer be "
            "cancelled."
        )
    return ApiError(409, "upload_finished", said)


def _status(up: Upload) -> JSONResponse:
    return JSONResponse(
        {
            "id": up.id,
            "state": up.state,
            "offset": up.offset,
            "length": up.length,
            "item_id": up.item_id,
            "error": up.error,
            "expires_at": up.expires_at.isoformat(),
        },
        headers={"Cache-Control": "no-store"},
    )


async def upload_collection(request: Request, hub: HubDep, member: MemberDep) -> Response:
    """``/api/v1/uploads/``: OPTIONS (capabilities) and POST (creation)."""
    method = _effective_method(request)
    if method == "OPTIONS":
        return _options_response(hub)
    if method == "POST":
        return await _create(request, hub, member)
    raise _not_allowed(method, "OPTIONS, POST")


async def upload_resource(
    request: Request, upload_id: str, hub: HubDep, member: MemberDep
) -> Response:
    """``/api/v1/uploads/{id}``: HEAD, PATCH, DELETE, GET (JSON status) and OPTIONS."""
    method = _effective_method(request)
    if method == "HEAD":
        return await _head(request, hub, member, upload_id)
    if method == "PATCH":
        return await _patch(request, hub, member, upload_id)
    if method == "DELETE":
        return await _delete(hub, member, upload_id)
    if method == "GET":
        return _status(await run_in_threadpool(_db_owned, hub, upload_id, member.id))
    if method == "OPTIONS":
        return _options_response(hub)
    raise _not_allowed(method, "GET, HEAD, PATCH, DELETE, OPTIONS, POST")


#: OPTIONS by the tus spec; GET is no tus request but our JSON status, read by plain clients.
_NO_TUS_VERSION_NEEDED = frozenset({"OPTIONS", "GET"})


class _TusRoute(APIRoute):
    """Adds ``Tus-Resumable`` to every response (errors too) and answers 412 to a tus request
    (any but OPTIONS and the JSON status GET) without ``Tus-Resumable: 1.0.0``, before
    authentication."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def tus_handler(request: Request) -> Response:
            try:
                if (
                    _effective_method(request) not in _NO_TUS_VERSION_NEEDED
                    and request.headers.get("tus-resumable", "").strip() != TUS_VERSION
                ):
                    raise ApiError(
                        412,
                        "tus_version",
                        f"This hub speaks tus {TUS_VERSION}: send Tus-Resumable: {TUS_VERSION}.",
                        {"Tus-Version": TUS_VERSION},
                    )
                response = await handler(request)
            except ApiError as e:
                e.headers = {**e.headers, "Tus-Resumable": TUS_VERSION}
                raise
            response.headers["Tus-Resumable"] = TUS_VERSION
            return response

        return tus_handler


def tus_router() -> APIRouter:
    """The tus endpoint, to mount with ``app.include_router(tus_router())``; the collection
    answers with and without the trailing slash (no redirect: it would lose a POST body)."""
    router = APIRouter(prefix=PREFIX, route_class=_TusRoute, tags=["uploads"])
    for path, in_schema in (("/", True), ("", False)):
        # the other methods too: their 405 then says what is allowed, with Tus-Resumable
        for method in ("POST", "OPTIONS", "GET", "HEAD", "PATCH", "DELETE", "PUT"):
            router.add_api_route(
                path,
                upload_collection,
                methods=[method],
                name=f"tus_collection_{method.lower()}{'' if in_schema else '_bare'}",
                include_in_schema=in_schema and method in ("POST", "OPTIONS"),
            )
    for method in ("GET", "HEAD", "PATCH", "DELETE", "OPTIONS", "POST", "PUT"):
        router.add_api_route(
            "/{upload_id}",
            upload_resource,
            methods=[method],
            name="tus_upload" if method == "GET" else f"tus_upload_{method.lower()}",
            # POST here only carries X-HTTP-Method-Override; PUT only gets its 405
            include_in_schema=method not in ("POST", "PUT"),
        )
    return router
