"""A tus 1.0.0 server: core, creation, termination, expiration and checksum (sha256).

Spec: https://tus.io/protocols/resumable-upload. Partial uploads live in the storage (a file in
data_dir/uploads/<id>, or rows in PostgreSQL); the stored offset is the truth, and bytes past it
are cut off before each PATCH (server.storage.UploadWriter).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import math
import re
import time
from email.utils import formatdate

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Message

from bifoga.media.limits import ALLOWED_MIME_TYPES
from server.common import AppContext, authenticate, ctx_of, require_free_space
from server.config import TUS_VERSION, Settings
from server.errors import (
    ApiError,
    AudioNotAllowed,
    BadRequest,
    ChecksumMismatch,
    Conflict,
    EmptyFile,
    NotAllowedType,
    NotFound,
    PreconditionFailed,
    TooLarge,
    TooManyRequests,
    UploadTooSlow,
    VisitEnded,
    VisitQuotaExceeded,
)
from server.names import sanitize_display_name
from server.storage import TooManyOpenUploads, Upload, Visit
from server.storage import VisitQuotaExceeded as QuotaReached

TUS_EXTENSIONS = "creation,termination,expiration,checksum"
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
# Buffer this much of a PATCH body before one write() in the thread pool.
WRITE_BUFFER_BYTES = 1024 * 1024
# During a long PATCH, sync and count the written bytes at most this often (see _receive_chunk).
PERSIST_INTERVAL_SECONDS = 0.5
_DIGITS = re.compile(r"[0-9]{1,19}")
_SHA256_B64 = re.compile(r"[A-Za-z0-9+/]{43}=")
_META_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
# Declared types a browser uses when it does not know: the sniffer decides later.
_UNKNOWN_TYPES = ("", "application/octet-stream")
# Names some systems give allowed types; the bytes are sniffed at finalisation anyway.
_TYPE_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/heic-sequence": "image/heic",
    "image/heif-sequence": "image/heif",
    "text/rtf": "application/rtf",
    "application/x-rtf": "application/rtf",
}


def http_date(ts: float) -> str:
    return formatdate(ts, usegmt=True)


def _parse_length(raw: str | None, name: str) -> int:
    if raw is None or not _DIGITS.fullmatch(raw.strip()):
        raise BadRequest(f"{name} must be a non-negative integer.",
                         code=f"bad_{name.lower().replace('-', '_')}")
    return int(raw.strip())


def parse_metadata(raw: str) -> dict[str, str]:
    """`key b64value,key2 b64value2` (a value may be absent) into a dict of strings.

    As openapi.yaml's pattern for Upload-Metadata: spaces and tabs around a pair are allowed,
    a repeated key keeps its last value (as tusd does), and a value that is not UTF-8 is read
    with replacement characters (tus allows any bytes; the name is cleaned for display anyway).
    """
    result: dict[str, str] = {}
    if not raw.strip(" \t"):
        return result
    for pair in raw.split(","):
        parts = pair.strip(" \t").split(" ")
        if len(parts) > 2 or not _META_KEY.fullmatch(parts[0]):
            raise BadRequest("Upload-Metadata is malformed.", code="bad_upload_metadata")
        value = ""
        if len(parts) == 2:
            try:
                value = base64.b64decode(parts[1], validate=True).decode("utf-8", "replace")
            # ValueError too: b64decode refuses a str with non-ASCII characters that way.
            except (binascii.Error, ValueError):
                raise BadRequest("Upload-Metadata values must be base64.",
                                 code="bad_upload_metadata") from None
        result[parts[0]] = value
    return result


def check_declared_type(filetype: str) -> None:
    """Refuse early what the browser already calls audio or a type we never accept."""
    if filetype.startswith("audio/"):
        raise AudioNotAllowed()
    filetype = _TYPE_ALIASES.get(filetype, filetype)
    if filetype not in _UNKNOWN_TYPES and filetype not in ALLOWED_MIME_TYPES:
        raise NotAllowedType()


def _require_tus(request: Request) -> None:
    if request.headers.get("tus-resumable", "").strip() != TUS_VERSION:
        raise PreconditionFailed(headers={"Tus-Version": TUS_VERSION})


async def _load(ctx: AppContext, visit: Visit, role: str, upload_id: str) -> Upload:
    upload = await ctx.storage.get_upload(upload_id)
    # Another role's or visit's upload is as invisible as a missing one.
    if upload is None or upload.visit_id != visit.id or upload.role != role:
        raise NotFound("No such upload.", code="upload_not_found")
    if upload.expires_at <= time.time():
        await ctx.storage.delete_upload(upload.id)
        raise NotFound("The upload has expired.", code="upload_not_found")
    return upload


async def uploads_collection(request: Request) -> Response:
    ctx = ctx_of(request)
    settings = ctx.settings
    if request.method == "OPTIONS":
        # Discovery only, the same for every visit id: no token needed and nothing revealed.
        return Response(status_code=204, headers={
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": TUS_EXTENSIONS,
            "Tus-Max-Size": str(settings.max_attachment_bytes),
            "Tus-Checksum-Algorithm": "sha256",
        })
    visit, role = await authenticate(request, request.path_params["visit_id"])
    _require_tus(request)
    if "upload-defer-length" in request.headers:
        raise BadRequest("Upload-Defer-Length is not supported.", code="bad_upload_length")
    length = _parse_length(request.headers.get("upload-length"), "Upload-Length")
    if length > settings.max_attachment_bytes:
        raise TooLarge(f"Files may be at most {settings.max_attachment_bytes} bytes.")
    if length == 0:
        raise EmptyFile()
    meta = parse_metadata(request.headers.get("upload-metadata", ""))
    if "filename" not in meta:
        raise BadRequest("Upload-Metadata must carry a filename.", code="missing_filename")
    filetype = meta.get("filetype", "").split(";")[0].strip().lower()
    check_declared_type(filetype)
    if visit.state == "ended":
        raise VisitEnded()
    await require_free_space(ctx, length)
    try:
        # The cap and the quota are checked in the insert's transaction (atomic).
        upload = await ctx.storage.create_upload(
            visit.id, role, length, sanitize_display_name(meta["filename"]), filetype,
            settings.upload_expiry_seconds, settings.max_open_uploads_per_role,
            settings.max_visit_bytes)
    except TooManyOpenUploads:
        raise TooManyRequests("Too many unfinished uploads from this link.",
                              code="too_many_uploads") from None
    except QuotaReached:
        raise VisitQuotaExceeded() from None
    return Response(status_code=201, headers={
        "Location": f"/api/visits/{visit.id}/uploads/{upload.id}",
        "Upload-Expires": http_date(upload.expires_at),
        "Upload-Offset": "0",
    })


async def upload_resource(request: Request) -> Response:
    ctx = ctx_of(request)
    visit, role = await authenticate(request, request.path_params["visit_id"])
    _require_tus(request)
    upload_id = request.path_params["upload_id"]
    if request.method == "HEAD":
        upload = await _load(ctx, visit, role, upload_id)
        return Response(status_code=200, headers={
            "Upload-Offset": str(upload.offset),
            "Upload-Length": str(upload.length),
            "Upload-Expires": http_date(upload.expires_at),
            "Cache-Control": "no-store",
        })
    if request.method == "DELETE":
        async with ctx.upload_lock(upload_id, visit.id, role):
            upload = await _load(ctx, visit, role, upload_id)
            await ctx.storage.delete_upload(upload.id)
        return Response(status_code=204)
    return await _patch(request, ctx, visit, role, upload_id)


def _parse_checksum(raw: str | None) -> bytes | None:
    # openapi.yaml's pattern: `sha256`, one space, the base64 of 32 bytes.
    if raw is None:
        return None
    algorithm, _, value = raw.partition(" ")
    if algorithm != "sha256":
        raise BadRequest("Only sha256 checksums are supported.", code="bad_checksum_algorithm")
    if not _SHA256_B64.fullmatch(value):
        raise BadRequest("Upload-Checksum is not a base64 sha256 digest.", code="bad_checksum")
    return base64.b64decode(value)


async def _patch(
    request: Request, ctx: AppContext, visit: Visit, role: str, upload_id: str
) -> Response:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != OFFSET_CONTENT_TYPE:
        raise NotAllowedType(f"Content-Type must be {OFFSET_CONTENT_TYPE}.",
                             code="bad_content_type")
    offset = _parse_length(request.headers.get("upload-offset"), "Upload-Offset")
    expected_digest = _parse_checksum(request.headers.get("upload-checksum"))
    async with ctx.upload_lock(upload_id, visit.id, role):
        upload = await _load(ctx, visit, role, upload_id)
        if visit.state == "ended":
            raise VisitEnded()
        if offset != upload.offset:
            raise Conflict("Upload-Offset does not match the stored offset.",
                           code="offset_mismatch", headers={"Upload-Offset": str(upload.offset)})
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and offset + int(declared) > upload.length:
            raise TooLarge("The chunk would pass Upload-Length.", code="chunk_past_length")
        await require_free_space(ctx, upload.length - offset)
        new_offset, error = await _receive_chunk(request, ctx, upload, expected_digest)
        if new_offset != upload.offset:
            await ctx.storage.set_upload_offset(upload.id, new_offset)
        if error is not None:
            raise error
    return Response(status_code=204, headers={
        "Upload-Offset": str(new_offset),
        "Upload-Expires": http_date(upload.expires_at),
    })


class _Pace:
    """Whether a PATCH body still comes fast enough: at least upload_min_bytes_per_second over
    each window of upload_rate_window_seconds, and within upload_patch_max_seconds of its
    start (settings; 0 turns either off). Times are the event loop's clock."""

    def __init__(self, settings: Settings, now: float) -> None:
        rate, window = settings.upload_min_bytes_per_second, settings.upload_rate_window_seconds
        self.window = window if rate > 0 and window > 0 else math.inf
        self.window_needs = rate * window
        self.window_end = now + self.window
        self.window_bytes = 0
        limit = settings.upload_patch_max_seconds
        self.hold_until = now + limit if limit > 0 else math.inf

    def timeout(self, now: float) -> float | None:
        """How long to wait for the next piece of body before judging again (None: for ever)."""
        deadline = min(self.window_end, self.hold_until)
        return None if deadline == math.inf else max(0.0, deadline - now)

    def verdict(self, received: int, now: float) -> str | None:
        """Count `received` more bytes; why the PATCH must be cut now, or None."""
        if now >= self.hold_until:
            return "This request took longer than one upload request may"
        self.window_bytes += received
        if now >= self.window_end:
            if self.window_bytes < self.window_needs:
                return "The upload came slower than the server's minimum rate"
            self.window_end, self.window_bytes = now + self.window, 0
        return None


async def _receive_chunk(
    request: Request, ctx: AppContext, upload: Upload, expected_digest: bytes | None
) -> tuple[int, ApiError | None]:
    """Stream the body into the file. Returns the offset to persist and an error to answer."""
    # Bytes past the stored offset are from a request that never got its offset persisted:
    # the writer starts at the stored offset.
    f = await ctx.storage.open_upload_writer(upload)
    position = persisted = upload.offset
    persisted_at = time.monotonic()
    buffer = bytearray()
    hasher = hashlib.sha256()
    error: ApiError | None = None
    keep = True
    loop = asyncio.get_running_loop()
    pace = _Pace(ctx.settings, loop.time())
    # The ASGI messages are read directly (not through request.stream()) so that waiting for
    # one can time out without cancelling it: a message that lands as the wait ends is not
    # lost, and once the PATCH is cut the pending read is simply dropped.
    receiving: asyncio.Future[Message] | None = None
    try:
        while True:
            if receiving is None:
                receiving = asyncio.ensure_future(request.receive())
            done, _ = await asyncio.wait({receiving}, timeout=pace.timeout(loop.time()))
            if not done:
                why = pace.verdict(0, loop.time())
                if why is None:
                    continue
                # Too slow: cut, which frees the lock; what arrived is kept (as for a
                # dropped connection) and the client resumes from it.
                error, keep = UploadTooSlow(why), expected_digest is None
                break
            message, receiving = done.pop().result(), None
            if message["type"] != "http.request":
                # The client went away: keep what arrived so it can resume from it, unless it
                # cannot be verified.
                keep = expected_digest is None
                break
            chunk: bytes = message.get("body", b"")
            if position + len(buffer) + len(chunk) > upload.length:
                # Refuse the whole request at once: no byte past Upload-Length is accepted.
                error = TooLarge("The chunk would pass Upload-Length.", code="chunk_past_length")
                keep = False
                break
            buffer += chunk
            hasher.update(chunk)
            if len(buffer) >= WRITE_BUFFER_BYTES:
                await f.write(bytes(buffer))
                position += len(buffer)
                buffer.clear()
                if (expected_digest is None
                        and time.monotonic() - persisted_at >= PERSIST_INTERVAL_SECONDS):
                    # Count the bytes as they land, on disk first: a crash (kill -9, power
                    # cut) in the middle of a long PATCH then costs the client about half
                    # a second of upload on resume, not the whole request.
                    await f.sync()
                    await ctx.storage.set_upload_offset(upload.id, position)
                    persisted, persisted_at = position, time.monotonic()
            if not message.get("more_body", False):
                break
            why = pace.verdict(len(chunk), loop.time())
            if why is not None:
                error, keep = UploadTooSlow(why), expected_digest is None
                break
    except BaseException:
        await f.abort()  # the stored offset counts only synced bytes; the next PATCH cuts to it
        raise
    finally:
        if receiving is not None:
            receiving.cancel()
    if keep and error is None and expected_digest is not None and (
            hasher.digest() != expected_digest):
        keep, error = False, ChecksumMismatch()
    if not keep and persisted != upload.offset:
        # Refused whole: uncount the bytes counted midway before they are cut off again.
        await ctx.storage.set_upload_offset(upload.id, upload.offset)
    new_offset = await f.finish(bytes(buffer), keep, upload.offset)
    return new_offset, error


routes = [
    Route("/api/visits/{visit_id}/uploads", uploads_collection, methods=["OPTIONS", "POST"]),
    Route("/api/visits/{visit_id}/uploads/{upload_id}", upload_resource,
          methods=["HEAD", "PATCH", "DELETE"]),
]
