"""Decide from a file's content whether it may be sent in the care chat.

Runs in CPython (server, tests) and in Pyodide (browser worker). The verdict comes from the
bytes, never from the browser's MIME type; the file name only breaks ties the content cannot
settle (legacy Office files whose directory is unreadable, encrypted OOXML, plain text).
The signatures in the first bytes are bifoga.sniff_head's, which the main thread also runs
alone (under MicroPython) for an answer before the worker is up.
"""

import re
from typing import Literal, NamedTuple

from bifoga import active, containers, refusals, sniff_head
from bifoga.limits import category_of

Category = Literal["image", "video", "document"]
Reason = Literal["audio_not_allowed", "type_not_allowed", "empty_file", "active_content"]

AUDIO: Reason = refusals.AUDIO_NOT_ALLOWED
NOT_ALLOWED: Reason = refusals.TYPE_NOT_ALLOWED
EMPTY: Reason = refusals.EMPTY_FILE
ACTIVE: Reason = refusals.ACTIVE_CONTENT


class Verdict(NamedTuple):
    """Outcome of `classify`: `mime`/`category` are set only when `ok`, `reason` only when not."""

    ok: bool
    mime: str | None
    category: Category | None
    reason: Reason | None


def _allow(mime: str) -> Verdict:
    category = category_of(mime)
    if category is None:  # a mapping bug must not let an unlisted type through
        return _refuse(NOT_ALLOWED)
    return Verdict(True, mime, category, None)


def _refuse(reason: Reason) -> Verdict:
    return Verdict(False, None, None, reason)


def _from_finding(finding: containers.Finding) -> Verdict:
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
_BINARY_CONTROLS = re.compile(rb"[\x00-\x08\x0e-\x19\x1c-\x1f\x7f]")

# WHATWG MIME sniffing treats text starting with these tags as HTML; <svg and <?xml may be SVG.
_MARKUP_TAGS = (
    "html", "head", "script", "iframe", "h1", "div", "font", "table", "a", "style", "title",
    "b", "body", "br", "p", "svg", "math", "object", "embed", "meta", "link", "img", "form",
    "base", "xml", "xsl",
)
_ANYWHERE_TAGS = ("<script", "<svg", "<html", "<iframe", "<object", "<embed", "<body")
_TAG_END = " \t\n\r\f>/"
_MARKUP_SCAN = 1024  # legacy browsers sniffed HTML in the first few hundred bytes

# A text body saved under these names would be opened as active content by a browser or OS.
_ACTIVE_EXTENSIONS = frozenset(
    "htm html xhtml xht shtml mht mhtml svg svgz xml xsl xslt hta js mjs cjs vbs vbe wsf wsh "
    "bat cmd ps1 sh reg url desktop php".split()
)


def _looks_like_markup(text: str) -> bool:
    head = text[:_MARKUP_SCAN].lstrip("\ufeff \t\r\n\f").lower()
    # "<!doctype", "<!--", "<?xml", "<?php" are markup on their own; tags need a tag end.
    if head.startswith(("<!", "<?")):
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


def _plain_text(buf: bytes, name: str) -> bool:
    if _BINARY_CONTROLS.search(buf):
        return False
    body = buf[3:] if buf.startswith(b"\xef\xbb\xbf") else buf
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = body.decode("cp1252")  # Windows notes; undefined bytes make this fail
        except UnicodeDecodeError:
            return False
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

def classify(data: bytes | bytearray | memoryview, name: str = "") -> Verdict:
    """Classify a whole file by its content. Never raises on any bytes.

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
    """:func:`classify` over a bifoga.source Source (the browser's light worker reads the
    picked file through one). Same verdicts as :func:`classify` on the same bytes.

    For now it reads the whole source; the container checks replace that with reads of the
    parts they need.
    """
    return classify(source.read(0, source.size), name)


# The container parser for each of sniff_head.CONTAINER_MAGICS (ISO-BMFF has no fixed magic).
_PARSERS = {
    sniff_head.EBML_MAGIC: lambda buf, name: _from_finding(containers.inspect_ebml(buf)),
    sniff_head.OGG_MAGIC: lambda buf, name: _from_finding(containers.inspect_ogg(buf)),
    sniff_head.ASF_MAGIC: lambda buf, name: _from_finding(containers.inspect_asf(buf)),
    sniff_head.OLE2_MAGIC: _ole2,
    sniff_head.ZIP_MAGIC: lambda buf, name: _from_finding(containers.inspect_zip(buf)),
}


def _classify(buf: bytes, name: str) -> Verdict:
    # The first-bytes stage (bifoga.sniff_head, also run alone on the main thread) in its
    # order, each step completed by what needs the whole file.
    if sniff_head.looks_isobmff(buf):
        finding = containers.inspect_isobmff(buf)
        if finding is not None:
            return _from_finding(finding)
    magic = sniff_head.container_magic(buf)
    if magic is not None:
        return _PARSERS[magic](buf, name)
    if sniff_head.is_audio(buf):
        return _refuse(AUDIO)

    mime = sniff_head.allowed_mime(buf)
    if mime == sniff_head.PDF and active.pdf_is_active(buf):
        return _refuse(ACTIVE)
    if mime == sniff_head.RTF and active.rtf_is_active(buf):
        return _refuse(ACTIVE)
    if mime is not None:
        return _allow(mime)
    # Text may start like a weak signature of another type ("BM" is BMP, "MZ" is EXE, "ID3"
    # is a tag): such a binary has control bytes and fails the text test anyway.
    if _plain_text(buf, name):
        return _allow("text/plain")
    return _refuse(NOT_ALLOWED)

