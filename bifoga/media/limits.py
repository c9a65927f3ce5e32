"""Upload limits shared by the server, the Pyodide worker and the MicroPython main thread.

This module must stay importable under MicroPython 1.27: no typing imports, no dataclasses,
no f-strings with `=`; annotations are fine (MicroPython ignores them).
"""

from bifoga.media.refusals import EMPTY_FILE, TOO_LARGE

DEFAULT_MAX_BYTES = 10 * 1024 * 1024  # 10,485,760 bytes; the limit itself is allowed

IMAGE_MIME_TYPES = (
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "image/heic",
    "image/heif",
)

VIDEO_MIME_TYPES = (
    "video/mp4",
    "video/webm",
    "video/quicktime",
)

DOCUMENT_MIME_TYPES = (
    "application/pdf",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
    "application/rtf",
    "text/plain",
)

ALLOWED_MIME_TYPES: tuple[str, ...] = IMAGE_MIME_TYPES + VIDEO_MIME_TYPES + DOCUMENT_MIME_TYPES

# Extensions help file pickers whose OS does not know every MIME type (HEIC on Windows,
# ODF on macOS). No audio extension may ever appear here.
ALLOWED_EXTENSIONS = (
    ".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic", ".heif",
    ".mp4", ".webm", ".mov",
    ".pdf", ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx",
    ".odt", ".ods", ".odp", ".rtf", ".txt",
)

ACCEPT_ATTRIBUTE: str = ",".join(ALLOWED_MIME_TYPES + ALLOWED_EXTENSIONS)


def category_of(mime: str) -> str | None:
    """Return "image", "video" or "document" for an allowed MIME type, else None."""
    if mime in IMAGE_MIME_TYPES:
        return "image"
    if mime in VIDEO_MIME_TYPES:
        return "video"
    if mime in DOCUMENT_MIME_TYPES:
        return "document"
    return None


def check_size(size: int, max_bytes: int = DEFAULT_MAX_BYTES) -> str | None:
    """Return None if `size` bytes may be sent, else EMPTY_FILE or TOO_LARGE."""
    # Zero (or a nonsensical negative size) means there is nothing to send.
    if size < 1:
        return EMPTY_FILE
    # Inclusive limit: exactly max_bytes is fine, one byte more is not.
    if size > max_bytes:
        return TOO_LARGE
    return None
