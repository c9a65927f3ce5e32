"""The server's second look at a finalised upload, with the field's reference parsers.

bifoga.media.sniff (and bifoga.media.metadata.find_location) stay the fast first stage, on the
device and here; what this package decides is the verdict that counts:

- documents: PDF with qpdf through pikepdf (inspection.pdf); Office, RTF and OpenDocument with
  oletools and a real reading of the package (inspection.office); embedded and nested files go
  through these same checks again, at most MAX_NESTING deep;
- pictures and films: ExifTool with embedded streams for any position or device serial
  (inspection.location); HEIC/HEIF decoded with libheif within limits (inspection.heic).

Every parser failure is a refusal, never an acceptance, and every check has a deadline so
that no answer takes longer than about 10 s. Runs under CPython only.
"""

from __future__ import annotations

import atexit
import time

from bifoga.media.sniff import classify
from server.errors import ActiveContent, ApiError, DocumentUnreadable, TooManyRequests
from server.images import (
    FILM_LOCATION_MESSAGE,
    FilmNotChecked,
    ImageDoesNotDecode,
    MetadataNotRemoved,
)
from server.inspection import bounded, heic, location, office, pdf

# Embedded files inside embedded files: a .docm in a docx in a PDF is three deep.
MAX_NESTING = 3
# A document's walk stops (and the document is refused) after this long.
DOCUMENT_SECONDS = 6.0
OFFICE_MIMES = frozenset({
    "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint",
    "application/rtf", "text/rtf"})
OFFICE_PREFIXES = ("application/vnd.openxmlformats-officedocument.",
                   "application/vnd.oasis.opendocument.")
HEIF_MIMES = frozenset({"image/heic", "image/heif"})
SERIAL_MESSAGE = ("The {} still carries the camera's serial number. Bifoga removes it before "
                  "sending; update the app and try again.")


atexit.register(bounded.close)


def inspect_upload(data: bytes, mime: str, category: str, max_pixels: int) -> None:
    """Raise the API error that refuses `data` (already allowed by the first stage as `mime`
    of `category`), or return when the reference parsers find nothing against it."""
    if category == "document":
        check_document(data, mime)
    elif category == "image":
        check_location(data, film=False)
        if mime in HEIF_MIMES:
            check_heif_items(data)
            try:
                heic.decode_heic(data, max_pixels)
            except heic.HeicRefused as exc:
                raise ImageDoesNotDecode(str(exc)) from None
    elif category == "video":
        check_location(data, film=True)


def _busy() -> TooManyRequests:
    """A check that cannot start now (every checker busy): the client tries again soon."""
    return TooManyRequests("The server is busy checking other files; try again.",
                           headers={"Retry-After": "2"})


def check_document(data: bytes, mime: str) -> None:
    """inspect_document in a child process (inspection.bounded): killed past
    DOCUMENT_SECONDS + 1 s and refused as unreadable; its refusal raised here as the same
    API error."""
    try:
        value = bounded.check_in_child(data, mime, DOCUMENT_SECONDS + 1.0)
    except bounded.CheckBusy:
        raise _busy() from None
    except bounded.CheckTimedOut:
        raise DocumentUnreadable("The document could not be checked in time; it may be "
                                 "damaged. Print it as a PDF and send that instead.") from None
    except bounded.CheckCrashed:  # out of memory, or an error that is no refusal
        raise DocumentUnreadable() from None
    if value is not None:
        code, message = value
        raise (ActiveContent if code == ActiveContent.code else DocumentUnreadable)(message)


def _document_verdict(data: bytes, mime: str) -> tuple[str, str] | None:
    """In the child: None when the document passes, else (error code, message)."""
    try:
        inspect_document(data, mime, time.monotonic() + DOCUMENT_SECONDS, 0)
    except (ActiveContent, DocumentUnreadable) as exc:
        return exc.code, exc.message
    return None


def inspect_document(data: bytes, mime: str, deadline: float, depth: int) -> None:
    def nested(inner: bytes, name: str) -> None:
        inspect_nested(inner, name, deadline, depth + 1)

    def nested_ole(inner: bytes, name: str) -> None:
        if depth + 1 > MAX_NESTING:
            raise ActiveContent("The document nests embedded files too deeply to be checked.")
        _office(lambda: office.inspect_ole(inner, nested))

    if mime == "application/pdf":
        try:
            pdf.inspect_pdf(data, nested, deadline)
        except pdf.PdfActive as exc:
            raise ActiveContent(_active_message(str(exc))) from None
        except pdf.PdfUnreadable as exc:
            raise DocumentUnreadable(str(exc) or None) from None
    elif mime in OFFICE_MIMES or mime.startswith(OFFICE_PREFIXES):
        _office(lambda: office.inspect_office(data, nested, nested_ole, deadline))


def _office(check: object) -> None:
    try:
        check()  # type: ignore[operator]
    except office.OfficeActive as exc:
        raise ActiveContent(_active_message(str(exc))) from None
    except office.OfficeUnreadable as exc:
        raise DocumentUnreadable(str(exc) or None) from None


def inspect_nested(data: bytes, name: str, deadline: float, depth: int) -> None:
    """An embedded file: refused when the chat would refuse it on its own, checked again with
    these checks when it is a document."""
    if depth > MAX_NESTING:
        raise ActiveContent("The document nests embedded files too deeply to be checked.")
    if not data:
        return
    verdict = classify(data, name)
    if not verdict.ok or verdict.mime is None:
        raise ActiveContent(_active_message(f"an embedded file that cannot be sent ({name[:60]})"))
    if verdict.category == "document":
        inspect_document(data, verdict.mime, deadline, depth)


def _active_message(what: str) -> str:
    return (f"The document contains {what}. Save or print it as a plain PDF and send that "
            "instead.")


def check_heif_items(data: bytes) -> None:
    """Each Exif and XMP item of a HEIC/HEIF read by ExifTool on its own, inflated first when
    the item is stored compressed (ExifTool reads the file's items as stored)."""
    try:
        items = heic.metadata_items(data)
    except heic.HeicRefused as exc:
        raise ImageDoesNotDecode(str(exc)) from None
    for item in items:
        try:
            findings = location.pool().read(item)
        except location.ExifToolUnavailable:
            raise _busy() from None
        except location.ExifToolFailed:
            raise ImageDoesNotDecode("The picture could not be checked for location data; "
                                     "it may be damaged.") from None
        if findings.carries_position:
            raise MetadataNotRemoved()


def check_location(data: bytes, film: bool) -> None:
    """ExifTool's verdict on a picture or film: a position or a device serial anywhere is 422
    metadata_not_removed; a file ExifTool cannot read as media, or does not answer for in
    time, is refused as unchecked; all ExifTool processes busy is 429 (the client retries)."""
    unchecked: ApiError = (FilmNotChecked() if film else ImageDoesNotDecode(
        "The picture could not be checked for location data; it may be damaged."))
    try:
        findings = location.pool().read(data)
    except location.ExifToolUnavailable:
        raise _busy() from None
    except location.ExifToolFailed:
        raise unchecked from None
    if not findings.read_as_media:
        raise unchecked
    if findings.serial_only:
        raise MetadataNotRemoved(SERIAL_MESSAGE.format("film" if film else "image"))
    if findings.carries_position:
        raise MetadataNotRemoved(FILM_LOCATION_MESSAGE) if film else MetadataNotRemoved()
