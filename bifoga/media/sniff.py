"""Decide from a file's content whether it may be sent in the care chat.

The verdict comes from the bytes, never from the browser's MIME type; the file name only
breaks ties the content cannot settle (legacy Office files whose directory is unreadable,
encrypted OOXML, plain text). The signatures in the first bytes are bifoga.media.sniff_head's,
which the main thread also runs alone for an answer before any worker is up.

`classify_source` reads a file through a bifoga.media.source Source, only the parts a verdict
needs: the first bytes, box and element headers, a film's movie box or track list, a zip's
central directory and one member, a compound file's directory; the whole file only for PDF,
RTF and text, chunk by chunk. `classify` is the same over bytes in memory.

Runs in CPython (server), Pyodide and MicroPython 1.27 (the browser's light worker): no
typing, dataclasses, re or __future__. In MicroPython `classify_source` may answer UNDECIDED
(see there); CPython always decides.
"""

import sys
from collections import namedtuple

from bifoga.media import active, containers, refusals, sniff_head
from bifoga.media.limits import category_of
from bifoga.media.source import BytesSource

MICROPYTHON = sys.implementation.name == "micropython"

AUDIO = refusals.AUDIO_NOT_ALLOWED
NOT_ALLOWED = refusals.TYPE_NOT_ALLOWED
EMPTY = refusals.EMPTY_FILE
ACTIVE = refusals.ACTIVE_CONTENT
# Not a refusal: this interpreter could not decide, the full check (Pyodide's or the
# server's `classify`) must. Only `classify_source` under MicroPython answers it.
UNDECIDED = "undecided"

# Outcome of `classify`: `mime`/`category` are set only when `ok`, `reason` only when not.
Verdict = namedtuple("Verdict", ("ok", "mime", "category", "reason"))


def _allow(mime: str) -> Verdict:
    category = category_of(mime)
    if category is None:  # a mapping bug must not let an unlisted type through
        return _refuse(NOT_ALLOWED)
    return Verdict(True, mime, category, None)


def _refuse(reason: str) -> Verdict:
    return Verdict(False, None, None, reason)


def _from_finding(finding) -> Verdict:
    if finding.mime is not None:
        return _allow(finding.mime)
    return _refuse(finding.reason if finding.reason in (AUDIO, ACTIVE) else NOT_ALLOWED)


def _extension(name: str) -> str:
    # Some browsers hand over a full path ("C:\fakepath\x.doc"); only the last part counts.
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[-1].lower() if "." in base else ""


# --------------------------------------------------------------------------- plain text

# Control bytes that do not occur in text files (tab, LF, VT, FF, CR, SUB, ESC are allowed).
# Random binary almost always has some, which keeps it from passing as cp1252 "text".
_BINARY_CONTROLS = tuple(bytes((b,)) for b in (
    list(range(0x00, 0x09)) + list(range(0x0E, 0x1A)) + list(range(0x1C, 0x20)) + [0x7F]))
# Bytes cp1252 leaves undefined: a file with one is not a Windows note either.
_CP1252_UNDEFINED = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")
_UTF8_BOM = b"\xef\xbb\xbf"
_TEXT_CHUNK = 65536

# WHATWG MIME sniffing treats text starting with these tags as HTML; <svg and <?xml may be SVG.
_MARKUP_TAGS = (
    "html", "head", "script", "iframe", "h1", "div", "font", "table", "a", "style", "title",
    "b", "body", "br", "p", "svg", "math", "object", "embed", "meta", "link", "img", "form",
    "base", "xml", "xsl",
)
_ANYWHERE_TAGS = ("<script", "<svg", "<html", "<iframe", "<object", "<embed", "<body")
_TAG_END = " \t\n\r\f>/"
_MARKUP_SCAN = 1024  # legacy browsers sniffed HTML in the first few hundred bytes
# What holds the first _MARKUP_SCAN characters in UTF-8: a BOM, four bytes a character, and
# the three of a sequence the end of the head may cut.
_TEXT_HEAD = len(_UTF8_BOM) + 4 * _MARKUP_SCAN + 3

# A text body saved under these names would be opened as active content by a browser or OS.
_ACTIVE_EXTENSIONS = frozenset(
    "htm html xhtml xht shtml mht mhtml svg svgz xml xsl xslt hta js mjs cjs vbs vbe wsf wsh "
    "bat cmd ps1 sh reg url desktop php".split()
)


def _looks_like_markup(text: str) -> bool:
    # The Kelvin sign is the one character whose lower case is ASCII (CPython lowers it,
    # MicroPython lowers ASCII only).
    head = text[:_MARKUP_SCAN].lstrip("\ufeff \t\r\n\f").replace("\u212a", "k").lower()
    # "<!doctype", "<!--", "<?xml", "<?php" are markup on their own; tags need a tag end.
    if head.startswith("<!") or head.startswith("<?"):
        return True
    if head.startswith("<"):
        for tag in _MARKUP_TAGS:
            if head.startswith(tag, 1):
                after = head[1 + len(tag) : 2 + len(tag)]
                if after == "" or after in _TAG_END:
                    return True
    for tag in _ANYWHERE_TAGS:
        at = head.find(tag)
        while at != -1:
            after = head[at + len(tag) : at + len(tag) + 1]
            if after == "" or after in _TAG_END:
                return True
            at = head.find(tag, at + 1)
    return False


def _utf8_boundary(data: bytes, whole: bool) -> int:
    """How much of `data` ends on a character boundary: all of it when it is the whole file,
    else without a sequence the next chunk completes."""
    end = len(data)
    if whole:
        return end
    back = end - 1
    while back >= max(0, end - 4) and data[back] & 0xC0 == 0x80:
        back -= 1
    if back >= 0 and data[back] >= 0xC0:
        needed = 2 if data[back] < 0xE0 else 3 if data[back] < 0xF0 else 4
        if end - back < needed:
            return back
    return end


def _cp1252(data: bytes) -> bool:
    """Whether `data` is cp1252: none of the five bytes it leaves undefined."""
    for undefined in _CP1252_UNDEFINED:
        if undefined in data:
            return False
    return True


def _cp1252_before(source, end: int, step: int) -> bool:
    start = 0
    while start < end:
        chunk = source.read(start, min(step, end - start))
        if not chunk or not _cp1252(chunk):
            return False
        start += len(chunk)
    return True


def _plain_text(source, name: str) -> bool:
    """Text in UTF-8 or cp1252 with no control bytes, not markup, under a harmless name. Reads
    the whole file, chunk by chunk (the server's bytes at once)."""
    size = source.size
    step = size if isinstance(source, BytesSource) else _TEXT_CHUNK
    utf8 = cp1252 = True
    head = carry = b""
    start = 0
    while start < size:
        chunk = source.read(start, step)
        if not chunk:
            return False
        final = start + len(chunk) >= size
        if len(head) < _TEXT_HEAD:
            head += chunk[: _TEXT_HEAD - len(head)]
        for control in _BINARY_CONTROLS:
            if control in chunk:
                return False
        if utf8:
            piece = carry + chunk
            cut = _utf8_boundary(piece, final)
            utf8 = containers.utf8_valid(piece[:cut])
            carry = piece[cut:]
            if not utf8:  # cp1252 matters only now: the chunks before are read again
                cp1252 = _cp1252_before(source, start, step) and _cp1252(chunk)
        else:
            cp1252 = _cp1252(chunk)
        if not (utf8 or cp1252):
            return False
        start += len(chunk)
    body = head[3:] if head[:3] == _UTF8_BOM else head
    if utf8:
        # The first _MARKUP_SCAN characters, from a head cut on a character boundary.
        cut = _utf8_boundary(body, len(head) >= size)
        text = body[:cut].decode("utf-8")
    else:  # cp1252: one character a byte; only ASCII ones are looked at, and none lowers to one
        text = "".join([chr(b) for b in body[:_MARKUP_SCAN]])
    if _looks_like_markup(text):
        return False
    return _extension(name) not in _ACTIVE_EXTENSIONS


# --------------------------------------------------------------------------- legacy Office

_OLE_MIMES = {
    containers.OLE_WORD: "application/msword",
    containers.OLE_EXCEL: "application/vnd.ms-excel",
    containers.OLE_POWERPOINT: "application/vnd.ms-powerpoint",
}
_OLE_BY_EXTENSION = {
    "doc": "application/msword",
    "xls": "application/vnd.ms-excel",
    "ppt": "application/vnd.ms-powerpoint",
}
_ENCRYPTED_BY_EXTENSION = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}


def _ole2(buf: bytes, name: str) -> Verdict:
    kind = containers.inspect_ole2(buf)
    if kind == containers.OLE_MACROS:
        return _refuse(ACTIVE)
    if kind in _OLE_MIMES:
        return _allow(_OLE_MIMES[kind])  # the content says which program: the name is moot
    ext = _extension(name)
    if kind == containers.OLE_ENCRYPTED and ext in _ENCRYPTED_BY_EXTENSION:
        # The package is encrypted, so only the name can say which OOXML type is inside.
        return _allow(_ENCRYPTED_BY_EXTENSION[ext])
    if kind is None and ext in _OLE_BY_EXTENSION:
        # Unreadable directory: the content cannot tell, so the name breaks the tie.
        return _allow(_OLE_BY_EXTENSION[ext])
    return _refuse(NOT_ALLOWED)  # MSI installers, Outlook messages, ... or no hint at all


# --------------------------------------------------------------------------- entry point

def classify(data, name: str = "") -> Verdict:
    """Classify a whole file in memory by its content. Never raises; never UNDECIDED.

    In Pyodide pass bytes (e.g. `uint8array.to_bytes()`), not a JsProxy.
    """
    buf = bytes(data)
    if not buf:
        return _refuse(EMPTY)
    try:
        return _classify(buf, name)
    except Exception:  # a parser bug must neither crash an upload nor let a file through
        return _refuse(NOT_ALLOWED)


def classify_source(source, name: str = "") -> Verdict:
    """:func:`classify` over a bifoga.media.source Source (the browser's light worker reads the
    picked file through one), reading only what the verdict needs. Never raises.

    The same verdicts as :func:`classify` on the same bytes, except that under MicroPython it
    answers Verdict(False, None, None, UNDECIDED) where only the full check can tell: a PDF
    made of thousands of #-escapes, or one whose object stream is cut short and inflates to no
    action so far, and any failure to read the source. The caller hands such a file on.
    """
    if source.size < 1:
        return _refuse(EMPTY)
    try:
        return _classify_source(source, name)
    except Exception:  # as in classify; under MicroPython the full check decides instead
        return _refuse(UNDECIDED if MICROPYTHON else NOT_ALLOWED)


# The container parser for each of sniff_head.CONTAINER_MAGICS (ISO-BMFF has no fixed magic).
_PARSERS = {
    sniff_head.EBML_MAGIC: lambda buf, name: _from_finding(containers.inspect_ebml(buf)),
    sniff_head.OGG_MAGIC: lambda buf, name: _from_finding(containers.inspect_ogg(buf)),
    sniff_head.ASF_MAGIC: lambda buf, name: _from_finding(containers.inspect_asf(buf)),
    sniff_head.OLE2_MAGIC: _ole2,
    sniff_head.ZIP_MAGIC: lambda buf, name: _from_finding(containers.inspect_zip(buf)),
}


def _classify(buf: bytes, name: str) -> Verdict:
    return _classify_source(BytesSource(buf), name)


def _pdf_active(source) -> bool:
    found = active.pdf_source_active(source)
    if found is None:
        if MICROPYTHON:
            raise _Undecided
        # CPython: the whole-file patterns decide what the chunked scan gave up on.
        from bifoga.media import active_patterns

        found = active_patterns.pdf_is_active(source.read(0, source.size))
    return found


class _Undecided(Exception):
    pass


def _classify_source(source, name: str) -> Verdict:
    # The first-bytes stage (bifoga.media.sniff_head, also run alone on the main thread) in its
    # order, each step completed by what needs more of the file.
    head = source.read(0, sniff_head.HEAD_BYTES)
    buf = containers.view(source)
    if sniff_head.looks_isobmff(head):
        finding = containers.inspect_isobmff(buf)
        if finding is not None:
            return _from_finding(finding)
    magic = sniff_head.container_magic(head)
    if magic is not None:
        return _PARSERS[magic](buf, name)
    if sniff_head.is_audio(head):
        return _refuse(AUDIO)

    mime = sniff_head.allowed_mime(head)
    try:
        if mime == sniff_head.PDF and _pdf_active(source):
            return _refuse(ACTIVE)
    except _Undecided:
        return _refuse(UNDECIDED)
    if mime == sniff_head.RTF and active.rtf_source_active(source):
        return _refuse(ACTIVE)
    if mime is not None:
        return _allow(mime)
    # Text may start like a weak signature of another type ("BM" is BMP, "MZ" is EXE, "ID3"
    # is a tag): such a binary has control bytes and fails the text test anyway.
    if _plain_text(source, name):
        return _allow("text/plain")
    return _refuse(NOT_ALLOWED)
