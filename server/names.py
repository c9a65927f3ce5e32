"""Display names of uploaded files and the Content-Disposition header built from them.

The display name is only ever shown and offered as a download name; files on disk get generated
names. Still, it reaches other people's screens and file systems, so it is cleaned here.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

MAX_NAME_CHARS = 200
FALLBACK_NAME = "fil"
# An extension longer than this is not treated as one when truncating (keeps "a.<300 chars>" sane).
_MAX_EXT_CHARS = 16

# Bidi embeddings/overrides/isolates and marks: they can make "gpj.exe" read as "exe.jpg".
_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)}
_WS = re.compile(r"\s+")
# Letters NFKD does not decompose into ASCII, for the ASCII fallback name.
_LETTERS = str.maketrans({
    "Ø": "O", "ø": "o", "Æ": "AE", "æ": "ae", "Œ": "OE", "œ": "oe", "ß": "ss",
    "Ð": "D", "ð": "d", "Þ": "Th", "þ": "th", "Ł": "L", "ł": "l", "Đ": "D", "đ": "d",
})
_ASCII_UNSAFE = re.compile(r"[^A-Za-z0-9 ._()+,=-]")


def _drop(ch: str) -> bool:
    # Cc: NUL and other control characters; Cs: lone surrogates (not encodable as UTF-8);
    # Zl/Zp become whitespace below, so only drop what can't be shown.
    return ch in _BIDI or unicodedata.category(ch) in ("Cc", "Cs")


def _is_space(ch: str) -> bool:
    # Not str.isspace(): that also counts the C0 separators \x1c-\x1f, which are dropped.
    return ch in "\t\n\v\f\r\x85" or unicodedata.category(ch) in ("Zs", "Zl", "Zp")


def _spaces_for_breaks(text: str) -> str:
    # Tabs and line breaks become spaces (they are Cc too, so this runs before dropping).
    return "".join(" " if _is_space(ch) else ch for ch in text if _is_space(ch) or not _drop(ch))


def sanitize_display_name(raw: str) -> str:
    """Return a safe, non-empty, NFC display name of at most 200 characters."""
    name = unicodedata.normalize("NFC", raw)
    # A browser may send "C:\\fakepath\\x.pdf" or a relative path from a folder upload.
    parts = [p for p in re.split(r"[/\\]", name) if p.strip()]
    name = parts[-1] if parts else ""
    name = _spaces_for_breaks(name)
    name = _WS.sub(" ", name)
    # Leading dots make hidden files; trailing dots/spaces are dropped by Windows anyway.
    name = name.strip(" .")
    if len(name) > MAX_NAME_CHARS:
        name = _truncate_keeping_extension(name)
    name = unicodedata.normalize("NFC", name).strip(" .")
    return name or FALLBACK_NAME


def _truncate_keeping_extension(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    if dot and stem and 0 < len(ext) < _MAX_EXT_CHARS and " " not in ext:
        keep = MAX_NAME_CHARS - len(ext) - 1
        return stem[:keep].rstrip(" .") + "." + ext
    return name[:MAX_NAME_CHARS].rstrip(" .")


# The extensions a name may end with for each allowed (sniffed) type, the canonical one first.
# Compared case-insensitively ("IMG_0001.JPG" is a JPEG's name as it is).
TYPE_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "image/jpeg": (".jpg", ".jpeg", ".jpe", ".jfif"),
    "image/png": (".png",),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
    "image/heic": (".heic", ".heif"),
    "image/heif": (".heif", ".heic"),
    "video/mp4": (".mp4", ".m4v"),
    "video/webm": (".webm",),
    "video/quicktime": (".mov", ".qt"),
    "application/pdf": (".pdf",),
    "application/msword": (".doc",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (".docx",),
    "application/vnd.ms-excel": (".xls",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (".xlsx",),
    "application/vnd.ms-powerpoint": (".ppt",),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (".pptx",),
    "application/vnd.oasis.opendocument.text": (".odt",),
    "application/vnd.oasis.opendocument.spreadsheet": (".ods",),
    "application/vnd.oasis.opendocument.presentation": (".odp",),
    "application/rtf": (".rtf",),
    "text/plain": (".txt", ".text"),
}


def name_for_type(name: str, mime: str) -> str:
    """`name` (a display name), ending with an extension of the sniffed type `mime`.

    The name is what the other party's computer goes by when the file is opened, so a PDF
    called "rapport<U+202E>fdp.exe" (shown as "rapportexe.pdf"; the sanitiser leaves
    "rapportfdp.exe") must not be saved as an .exe. When the name's extension is not one of
    the type's, the canonical one is appended ("rapportfdp.exe.pdf"), the name shortened if
    needed to stay within 200 characters. Types without a known extension keep the name.
    """
    extensions = TYPE_EXTENSIONS.get(mime)
    if not extensions or name.lower().endswith(extensions):
        return name
    ext = extensions[0]
    return (name[: MAX_NAME_CHARS - len(ext)].rstrip(" .") or FALLBACK_NAME) + ext


def ascii_fallback(name: str) -> str:
    """A plain-ASCII stand-in for clients that ignore filename* (RFC 6266 section 4.3)."""
    decomposed = unicodedata.normalize("NFKD", name.translate(_LETTERS))
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    cleaned = _ASCII_UNSAFE.sub("_", ascii_only).strip(" .")
    stem, dot, ext = cleaned.rpartition(".")
    if not dot:
        stem, ext = cleaned, ""
    if not any(ch.isalnum() for ch in stem):
        # Nothing recognisable left (e.g. an all-Cyrillic name): keep at least the extension.
        stem = FALLBACK_NAME
    if not any(ch.isalnum() for ch in ext):
        ext = ""
    return f"{stem}.{ext}" if ext else stem


def content_disposition(name: str, disposition: str = "attachment") -> str:
    """`attachment; filename="ascii"; filename*=UTF-8''pct` as in RFC 6266 and RFC 5987."""
    if disposition not in ("attachment", "inline"):
        raise ValueError(disposition)
    encoded = quote(name, safe="")
    return f"{disposition}; filename=\"{ascii_fallback(name)}\"; filename*=UTF-8''{encoded}"


def clean_person_name(raw: str) -> str:
    """Participant names: one line, no control or bidi characters, NFC."""
    name = unicodedata.normalize("NFC", raw)
    name = _spaces_for_breaks(name)
    return _WS.sub(" ", name).strip()


def clean_message_text(raw: str) -> str:
    """Chat text keeps its line breaks and tabs; other control characters are dropped."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if ch in "\n\t" or not _drop(ch) or ch in _BIDI)
    return unicodedata.normalize("NFC", text).strip()
