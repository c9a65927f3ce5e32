"""JSON endpoints: config, visits, messages (with long polling), attachments."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from bifoga.media import refusals
from bifoga.media.limits import ACCEPT_ATTRIBUTE, ALLOWED_MIME_TYPES
from bifoga.media.sniff import classify
from server.common import (
    AppContext,
    authenticate,
    ctx_of,
    query_number,
    rate_limit,
    read_json_object,
    require_free_space,
    require_str,
)
from server.config import TUS_VERSION, Settings
from server.errors import (
    ActiveContent,
    ApiError,
    AudioNotAllowed,
    BadRequest,
    Conflict,
    EmptyFile,
    Forbidden,
    NotAllowedType,
    NotFound,
    RangeNotSatisfiable,
    TooLarge,
    VisitEnded,
)
from server.images import check_film, check_image, precheck
from server.inspection import inspect_upload
from server.names import (
    clean_message_text,
    clean_person_name,
    content_disposition,
    name_for_type,
)
from server.storage import Attachment, Visit, VisitClosed, VisitStorage

MAX_TEXT_CHARS = 4000
MAX_PERSON_NAME_CHARS = 100
DEFAULT_PATIENT_NAME = "Alex Patient"
DEFAULT_CLINICIAN_NAME = "Dr Sara Lind"
# Only these may be shown inline by the browser; SVG can carry script, documents never inline.
INLINE_CATEGORIES = ("image", "video")
# CSP for attachment bytes: if one is ever opened directly it gets no script and no origin.
ATTACHMENT_CSP = "default-src 'none'; img-src 'self'; media-src 'self'; sandbox"


@dataclass(frozen=True)
class VisitLinks:
    visit_id: str
    patient_url: str
    clinician_url: str
    patient_token: str
    clinician_token: str


async def create_visit_links(
    storage: VisitStorage, settings: Settings,
    patient_name: str = DEFAULT_PATIENT_NAME, clinician_name: str = DEFAULT_CLINICIAN_NAME,
) -> VisitLinks:
    new = await storage.create_visit(patient_name, clinician_name)
    base = f"{settings.public_origin}/#visit={new.visit.id}&token="
    return VisitLinks(new.visit.id, base + new.patient_token, base + new.clinician_token,
                      new.patient_token, new.clinician_token)


def visit_json(visit: Visit, role: str, demo: bool = False) -> dict[str, Any]:
    return {
        "visit_id": visit.id,
        # Demo mode's visits can be made by anyone: the app labels them as demo.
        "demo": demo,
        "role": role,
        "state": visit.state,
        "ended_at": visit.ended_at,
        "participants": {"patient": visit.patient_name, "clinician": visit.clinician_name},
    }


def message_json(visit: Visit, row: dict[str, Any]) -> dict[str, Any]:
    attachment = None
    if row["kind"] == "attachment" and row["a_id"]:
        attachment = {
            "id": row["a_id"],
            "name": row["a_name"],
            "size": row["a_size"],
            "mime": row["a_mime"],
            "category": row["a_category"],
            "url": f"/api/visits/{visit.id}/attachments/{row['a_id']}",
        }
    return {
        "id": row["id"],
        "sender_role": row["sender_role"],
        "sender_name": visit.name_of(row["sender_role"]),
        "sent_at": row["sent_at"],
        "kind": row["kind"],
        "text": row["text"],
        "attachment": attachment,
    }


async def get_config(request: Request) -> Response:
    # Never rate limited: the same constant answer for everyone, and without it the app
    # cannot start (one client behind a shared address must not lock others out).
    settings = ctx_of(request).settings
    return JSONResponse({
        "max_attachment_bytes": settings.max_attachment_bytes,
        "allowed_mime_types": list(ALLOWED_MIME_TYPES),
        "accept": ACCEPT_ATTRIBUTE,
        "upload_endpoint_template": "/api/visits/{visit_id}/uploads",
        "tus_version": TUS_VERSION,
    })


def _person_name(body: dict[str, Any], field: str, default: str) -> str:
    if field not in body:
        return default
    raw = body[field]
    # As openapi.yaml says: a string of at most 100 characters as sent (null is not a string).
    if not isinstance(raw, str) or len(raw) > MAX_PERSON_NAME_CHARS:
        raise BadRequest(f"{field} must be a string of at most {MAX_PERSON_NAME_CHARS} "
                         "characters.", code="invalid_field")
    return clean_person_name(raw) or default


async def create_visit(request: Request) -> Response:
    ctx = ctx_of(request)
    if not ctx.settings.demo:
        raise NotFound()  # visits come from the care system outside demo mode
    rate_limit(request)
    body = await read_json_object(request)
    patient = _person_name(body, "patient_name", DEFAULT_PATIENT_NAME)
    clinician = _person_name(body, "clinician_name", DEFAULT_CLINICIAN_NAME)
    links = await create_visit_links(ctx.storage, ctx.settings, patient, clinician)
    return JSONResponse({
        "visit_id": links.visit_id,
        "patient_url": links.patient_url,
        "clinician_url": links.clinician_url,
        "patient_token": links.patient_token,
        "clinician_token": links.clinician_token,
    }, status_code=201)


async def get_visit(request: Request) -> Response:
    visit, role = await authenticate(request, request.path_params["visit_id"])
    return JSONResponse(visit_json(visit, role, ctx_of(request).settings.demo))


async def end_visit(request: Request) -> Response:
    ctx = ctx_of(request)
    visit, role = await authenticate(request, request.path_params["visit_id"])
    if role != "clinician":
        raise Forbidden("Only the clinician can end the visit.")
    ended = await ctx.storage.end_visit(visit.id)
    assert ended is not None
    ctx.notifier.notify(visit.id)
    return JSONResponse(visit_json(ended, role, ctx.settings.demo))


async def list_messages(request: Request) -> Response:
    ctx = ctx_of(request)
    visit, role = await authenticate(request, request.path_params["visit_id"])
    # `after` is compared with SQLite's 64-bit ids; a larger `wait` is capped, not refused.
    after = query_number(request, "after", 0, maximum=2**63 - 1)
    wait = min(query_number(request, "wait", 0), ctx.settings.long_poll_max_seconds)
    if wait <= 0:
        return await _messages_now(ctx, visit, after)
    with ctx.long_poll_slot(visit.id, role):
        return await _messages_waiting(request, ctx, visit, after, wait)


async def _messages_now(ctx: AppContext, visit: Visit, after: int) -> Response:
    rows = await ctx.storage.messages_after(visit.id, after, ctx.settings.max_messages_per_page)
    return _messages_answer(visit, rows, after)


async def _client_gone(request: Request) -> None:
    """Return once the client has disconnected (the ASGI `http.disconnect` message; a GET's
    empty body comes first)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _messages_waiting(request: Request, ctx: AppContext, visit: Visit, after: int,
                            wait: float) -> Response:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    # Watched for the whole wait, so that a client that goes away (a closed or reloaded tab)
    # gives its long-poll slot back at once rather than when the wait would have ended.
    gone = asyncio.ensure_future(_client_gone(request))
    try:
        while True:
            with ctx.notifier.listen(visit.id) as woken:
                rows = await ctx.storage.messages_after(visit.id, after,
                                                        ctx.settings.max_messages_per_page)
                current = await ctx.storage.get_visit(visit.id)
                visit = current or visit
                remaining = deadline - loop.time()
                if rows or visit.state == "ended" or remaining <= 0 or ctx.notifier.closing:
                    break
                woke = asyncio.ensure_future(woken.wait())
                await asyncio.wait({woke, gone}, timeout=remaining,
                                   return_when=asyncio.FIRST_COMPLETED)
                woke.cancel()
                if gone.done():
                    raise ClientDisconnect()  # answered quietly (ClientDisconnectMiddleware)
    finally:
        gone.cancel()
        if gone.done() and not gone.cancelled():
            gone.exception()  # a receive that failed: the client is gone all the same
    return _messages_answer(visit, rows, after)


def _messages_answer(visit: Visit, rows: list[dict[str, Any]], after: int) -> Response:
    return JSONResponse({
        "messages": [message_json(visit, r) for r in rows],
        "cursor": rows[-1]["id"] if rows else after,
        "state": visit.state,
    })


async def post_message(request: Request) -> Response:
    ctx = ctx_of(request)
    visit, role = await authenticate(request, request.path_params["visit_id"])
    body = await read_json_object(request)
    raw = require_str(body, "text")
    # The limit counts the characters as sent (openapi.yaml's maxLength); something must be
    # left to show once control characters and surrounding whitespace are gone.
    text = clean_message_text(raw)
    if len(raw) > MAX_TEXT_CHARS or not text:
        raise BadRequest(f"text must be 1 to {MAX_TEXT_CHARS} characters.", code="invalid_field")
    if visit.state == "ended":
        raise VisitEnded()
    try:
        message_id = await ctx.storage.add_text_message(visit.id, role, text)
    except VisitClosed:  # ended while this request was on its way
        raise VisitEnded() from None
    ctx.notifier.notify(visit.id)
    row = await ctx.storage.message(visit.id, message_id)
    return JSONResponse(message_json(visit, row), status_code=201)


_REFUSALS: dict[str | None, type[ApiError]] = {
    refusals.AUDIO_NOT_ALLOWED: AudioNotAllowed, refusals.EMPTY_FILE: EmptyFile,
    refusals.ACTIVE_CONTENT: ActiveContent}


def _refusal(reason: str | None) -> ApiError:
    """The sniffer's verdict as the API error of the same name (bifoga.media.refusals)."""
    return _REFUSALS.get(reason, NotAllowedType)()


async def _image_checks(data: bytes, mime: str, max_pixels: int) -> None:
    """Pillow's decode and the reference parsers' look at a picture, side by side: the decode
    holds no GIL and ExifTool runs in its own process, so the sender waits for the longer of
    the two, not their sum. The decode's refusal is the one said when both refuse."""
    outcomes = await asyncio.gather(
        run_in_threadpool(check_image, data, mime, max_pixels),
        run_in_threadpool(inspect_upload, data, mime, "image", max_pixels),
        return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


async def finalise_attachment(request: Request) -> Response:
    """201 with the new attachment message; 200 with the same message when this visit's role
    finalises an upload it already finalised (the answer to the first call was lost)."""
    ctx = ctx_of(request)
    visit, role = await authenticate(request, request.path_params["visit_id"])
    upload_id = require_str(await read_json_object(request), "upload_id")
    async with ctx.upload_lock(upload_id, visit.id, role):
        upload = await ctx.storage.get_upload(upload_id)
        if upload is None or upload.visit_id != visit.id or upload.role != role:
            done = await ctx.storage.finalised_message(visit.id, role, upload_id)
            if done is None:
                raise NotFound("No such upload.", code="upload_not_found")
            row = await ctx.storage.message(visit.id, done)
            return JSONResponse(message_json(visit, row), status_code=200)
        if visit.state == "ended":
            raise VisitEnded()
        if upload.offset < upload.length:
            raise Conflict("The upload is not complete yet.", code="upload_incomplete")
        # Before the copy is written (the upload is kept: the same call succeeds later).
        await require_free_space(ctx, upload.length)
        data = await ctx.storage.read_upload(upload)
        try:
            if len(data) > ctx.settings.max_attachment_bytes:
                raise TooLarge()
            verdict = await run_in_threadpool(classify, data, upload.filename)
            if not verdict.ok or not verdict.mime or verdict.category not in (
                "image", "video", "document"
            ):
                raise _refusal(verdict.reason)
            if verdict.category == "image":
                # Scan bombs and pixel bombs are refused from their headers, before any wait.
                heavy = await run_in_threadpool(precheck, data, verdict.mime,
                                                ctx.settings.max_image_pixels)
                lane = ctx.heavy_image_checks if heavy else ctx.image_checks
                async with lane:
                    await _image_checks(data, verdict.mime, ctx.settings.max_image_pixels)
            elif verdict.category == "video":
                await run_in_threadpool(check_film, data)
            if verdict.category != "image":  # the reference parsers' second look
                await run_in_threadpool(inspect_upload, data, verdict.mime, verdict.category,
                                        ctx.settings.max_image_pixels)
        except ApiError as exc:
            # A refused file is not kept, not even as a partial upload; one whose check was
            # busy (429) is kept for the client's retry.
            if exc.status != 429:
                await ctx.storage.delete_upload(upload.id)
            raise
        try:
            # The stored name ends with an extension of the sniffed type, so the chat, the
            # filing list, the ZIP and the download all offer the file under a name that
            # opens it as what it is.
            message_id = await ctx.storage.finalise_upload(
                upload, data, verdict.mime, verdict.category,
                name_for_type(upload.filename, verdict.mime))
        except VisitClosed:  # ended while the file was being checked
            raise VisitEnded() from None
    ctx.notifier.notify(visit.id)
    row = await ctx.storage.message(visit.id, message_id)
    return JSONResponse(message_json(visit, row), status_code=201)


async def download_attachment(request: Request) -> Response:
    ctx = ctx_of(request)
    visit, _ = await authenticate(request, request.path_params["visit_id"])
    att = await ctx.storage.get_attachment(visit.id, request.path_params["attachment_id"])
    if att is None:
        raise NotFound()
    disposition = request.query_params.get("disposition", "attachment")
    if disposition not in ("attachment", "inline"):
        raise BadRequest("disposition must be attachment or inline.", code="bad_query")
    if att.category not in INLINE_CATEGORIES or att.mime == "image/svg+xml":
        disposition = "attachment"
    headers = {
        "Content-Disposition": content_disposition(att.display_name, disposition),
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": ATTACHMENT_CSP,
    }
    path = ctx.storage.attachment_file(att.stored_name)
    if path is not None:  # a local file: sendfile and Range requests (films seek)
        return FileResponse(path, media_type=att.mime, headers=headers)
    return _stored_bytes_response(ctx, att, headers, request.headers.get("range"))


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end exclusive) of a single `bytes=` range, None for the whole file (no header,
    several ranges or one we do not read); raises RangeNotSatisfiable past the end."""
    unit, _, spec = (header or "").partition("=")
    first, dash, last = (part.strip() for part in spec.partition("-"))
    if (unit.strip().lower() != "bytes" or "," in spec or not dash or not (first or last)
            or not all(p.isdigit() for p in (first, last) if p)):
        return None
    unsatisfiable = RangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
    if not first:  # the last N bytes
        if int(last) == 0:
            raise unsatisfiable
        return max(0, size - int(last)), size
    start = int(first)
    if last and int(last) < start:
        return None  # not a valid range: ignored, as RFC 9110 says
    if start >= size:
        raise unsatisfiable
    return start, min(size, int(last) + 1) if last else size


def _stored_bytes_response(ctx: AppContext, att: Attachment, headers: dict[str, str],
                           range_header: str | None) -> Response:
    """The attachment's bytes from the storage (no local file), with single ranges."""
    span = byte_range(range_header, att.size)
    start, end = span or (0, att.size)
    headers = {**headers, "Accept-Ranges": "bytes", "Content-Length": str(end - start)}
    if span is not None:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{att.size}"
    return StreamingResponse(ctx.storage.attachment_chunks(att.stored_name, start, end),
                             status_code=206 if span else 200, media_type=att.mime,
                             headers=headers)


routes = [
    Route("/api/config", get_config, methods=["GET"]),
    Route("/api/visits", create_visit, methods=["POST"]),
    Route("/api/visits/{visit_id}", get_visit, methods=["GET"]),
    Route("/api/visits/{visit_id}/end", end_visit, methods=["POST"]),
    Route("/api/visits/{visit_id}/messages", list_messages, methods=["GET"]),
    Route("/api/visits/{visit_id}/messages", post_message, methods=["POST"]),
    Route("/api/visits/{visit_id}/attachments", finalise_attachment, methods=["POST"]),
    Route("/api/visits/{visit_id}/attachments/{attachment_id}", download_attachment,
          methods=["GET"]),
]
