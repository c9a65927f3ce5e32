"""Filing: the attachment list with the clinician's marks, and all attachments as one ZIP.

At the end of a visit the clinician is reminded to save the attachments into the record
system. The marks ("saved", "not_relevant") are the clinician's own bookkeeping: the patient
gets the same list with every mark null. Marks can be set while the visit is open and after it
ended (filing interrupted halfway must be finishable).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from server.api import ATTACHMENT_CSP
from server.common import authenticate, ctx_of, read_json_object
from server.errors import BadRequest, Forbidden, NotFound
from server.names import FALLBACK_NAME, content_disposition
from server.storage import MARKS, AttachmentStorage, Visit

ZIP_CHUNK = 1024 * 1024
# Characters Windows refuses in file names (slashes never reach a display name; belt and braces).
_NOT_IN_FILE_NAMES = re.compile(r'[\\/:*?"<>|]')
_MAX_EXT_CHARS = 16


def attachment_entry(visit: Visit, row: dict[str, Any], role: str) -> dict[str, Any]:
    clinician = role == "clinician"
    return {
        "id": row["id"],
        "name": row["name"],
        "size": row["size"],
        "mime": row["mime"],
        "category": row["category"],
        "url": f"/api/visits/{visit.id}/attachments/{row['id']}",
        "sender_role": row["sender_role"],
        "sender_name": visit.name_of(row["sender_role"]),
        "sent_at": row["sent_at"],
        "mark": row["mark"] if clinician else None,
        "marked_at": row["marked_at"] if clinician else None,
    }


async def list_attachments(request: Request) -> Response:
    ctx = ctx_of(request)
    visit, role = await authenticate(request, request.path_params["visit_id"])
    rows = await ctx.storage.list_attachments(visit.id)
    return JSONResponse({
        "attachments": [attachment_entry(visit, r, role) for r in rows],
        "state": visit.state,
        "ended_at": visit.ended_at,
    })


async def set_mark(request: Request) -> Response:
    ctx = ctx_of(request)
    visit, role = await authenticate(request, request.path_params["visit_id"])
    if role != "clinician":
        raise Forbidden("Only the clinician files attachments.")
    body = await read_json_object(request)
    if "mark" not in body:
        raise BadRequest("Missing field: mark.", code="missing_field")
    mark = body["mark"]
    if mark is not None and mark not in MARKS:
        raise BadRequest('mark must be "saved", "not_relevant" or null.', code="invalid_field")
    row = await ctx.storage.set_mark(visit.id, request.path_params["attachment_id"], mark)
    if row is None:
        raise NotFound()
    return JSONResponse(attachment_entry(visit, row, role))


# --- ZIP -----------------------------------------------------------------------------------


def _split_extension(name: str) -> tuple[str, str]:
    stem, dot, ext = name.rpartition(".")
    if dot and stem and 0 < len(ext) <= _MAX_EXT_CHARS and " " not in ext:
        return stem, "." + ext
    return name, ""


def archive_names(names: list[str]) -> list[str]:
    """Entry names for the ZIP: the display names, unique ignoring case (Windows and macOS file
    systems do), a repeat getting " (2)", " (3)"... before its extension.

    Linear: each stem remembers the next number to try, so 8,000 files of one name do not
    probe " (2)" to " (7999)" again for every new one (that was quadratic)."""
    taken: set[str] = set()
    next_number: dict[str, int] = {}
    result = []
    for raw in names:
        name = _NOT_IN_FILE_NAMES.sub("_", raw).strip() or FALLBACK_NAME
        stem, ext = _split_extension(name)
        candidate = name
        if candidate.casefold() in taken:
            key = f"{stem}\0{ext}".casefold()
            n = next_number.get(key, 2)
            candidate = f"{stem} ({n}){ext}"
            while candidate.casefold() in taken:  # a name that already looked like a repeat
                n += 1
                candidate = f"{stem} ({n}){ext}"
            next_number[key] = n + 1
        taken.add(candidate.casefold())
        result.append(candidate)
    return result


def _zip_time(iso: str) -> tuple[int, int, int, int, int, int]:
    # ZIP stores local time without a zone: the server's local time, as `unzip -l` shows it.
    when = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone()
    return (max(when.year, 1980), when.month, when.day, when.hour, when.minute, when.second)


class _Sink:
    """A write-only, unseekable file for zipfile: keeps what is written until taken (or, for
    the dry run that measures the archive, only counts it). Unseekable, zipfile writes each
    entry's CRC in a data descriptor after its bytes, so nothing is ever rewritten."""

    def __init__(self, keep: bool) -> None:
        self.keep = keep
        self.position = 0
        self._buffer = bytearray()

    def write(self, data: bytes) -> int:
        self.position += len(data)
        if self.keep:
            self._buffer += data
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        out = bytes(self._buffer)
        self._buffer.clear()
        return out


_ZEROS = bytes(ZIP_CHUNK)


def _entries(rows: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], zipfile.ZipInfo]]:
    """Every attachment's entry: stored (not compressed: photos, films and office files are
    compressed already), under its unique archive name."""
    for row, name in zip(rows, archive_names([r["name"] for r in rows]), strict=True):
        info = zipfile.ZipInfo(name, date_time=_zip_time(row["sent_at"]))
        info.compress_type = zipfile.ZIP_STORED
        info.external_attr = 0o100644 << 16  # a regular file, rw-r--r--
        info.file_size = row["size"]
        yield row, info


def zip_size(rows: list[dict[str, Any]]) -> int:
    """The exact length of the archive stream_zip makes (for Content-Length): the same
    entries written with zeros of the same sizes give the same layout (only CRCs differ)."""
    sink = _Sink(keep=False)
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as zf:  # type: ignore[arg-type]
        for row, info in _entries(rows):
            with zf.open(info, "w") as dst:
                for start in range(0, row["size"], ZIP_CHUNK):
                    dst.write(_ZEROS[: min(ZIP_CHUNK, row["size"] - start)])
    return sink.position


async def stream_zip(storage: AttachmentStorage, rows: list[dict[str, Any]]
                     ) -> AsyncIterator[bytes]:
    """The archive, made while it is sent, in pieces of about ZIP_CHUNK: no temporary copy of
    the visit on disk (a visit is up to max_visit_bytes, and each download used to write all
    of it again). The bytes come from the storage (files, or PostgreSQL)."""
    sink = _Sink(keep=True)
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as zf:  # type: ignore[arg-type]
        for row, info in _entries(rows):
            with zf.open(info, "w") as dst:
                async for chunk in storage.attachment_chunks(row["stored_name"]):
                    await run_in_threadpool(dst.write, chunk)  # its CRC off the event loop
                    if piece := sink.take():
                        yield piece
            if piece := sink.take():
                yield piece
    if piece := sink.take():
        yield piece


async def download_zip(request: Request) -> Response:
    ctx = ctx_of(request)
    visit, role = await authenticate(request, request.path_params["visit_id"])
    if role != "clinician":
        raise Forbidden("Only the clinician can download all attachments at once.")
    rows = await ctx.storage.list_attachments(visit.id)
    size = await run_in_threadpool(zip_size, rows)
    filename = f"bilagor-{visit.created_at[:10]}.zip"
    return StreamingResponse(stream_zip(ctx.storage, rows), media_type="application/zip", headers={
        "Content-Length": str(size),
        "Content-Disposition": content_disposition(filename),
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": ATTACHMENT_CSP,
    })


routes = [
    Route("/api/visits/{visit_id}/attachments", list_attachments, methods=["GET"]),
    Route("/api/visits/{visit_id}/attachments.zip", download_zip, methods=["GET"]),
    Route("/api/visits/{visit_id}/attachments/{attachment_id}/mark", set_mark, methods=["PUT"]),
]
