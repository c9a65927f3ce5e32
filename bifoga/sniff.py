"""Decide from a file's content whether it may be sent in the care chat.

Runs in CPython (server, tests) and in Pyodide (browser worker). The verdict comes from the
bytes, never from the browser's MIME type; the file name only breaks ties the content cannot
settle (legacy Office files whose directory is unreadable, encrypted OOXML, plain text).
"""

import re
from typing import Literal, NamedTuple

import filetype
from filetype.types import audio as ft_audio

from bifoga import active, containers, refusals
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


# --------------------------------------------------------------------------- audio signatures

# filetype's own audio matchers with signatures strong enough to trust as they are. MP3/AAC
# (too loose: "ID3" text, any FF F2), M4A (brand only) and Ogg (Theora) are judged below.
_FILETYPE_AUDIO = (
    ft_audio.Midi(), ft_audio.Flac(), ft_audio.Wav(), ft_audio.Amr(), ft_audio.Aiff(),
)

# (offset, magic) pairs filetype 1.2.0 does not know.
_AUDIO_MAGICS = (
    (0, b"#!AMR-WB\n"),
    (0, b"#!SILK_V3"),
    (0, b"caff\x00\x01"),  # Apple Core Audio Format
    (0, b".snd"),  # Sun/NeXT AU
    (0, b"MAC "),  # Monkey's Audio
    (0, b"wvpk"),  # WavPack
    (0, b"MPCK"),  # Musepack SV8
    (0, b"MP+"),  # Musepack SV7
    (0, b"TTA1"),
    (0, b"DSD "),  # Sony DSF
    (0, b"Creative Voice File\x1a"),
    (0, b"\x7f\xfe\x80\x01"),  # DTS
    (0, b"APETAGEX"),
)
_RIFF_AUDIO_FORMS = (b"WAVE", b"RMID", b"QLCM")  # RIFF form types that hold only sound
_FORM_AUDIO_TYPES = (b"AIFF", b"AIFC", b"DSD ")  # IFF/FRM8 form types that hold only sound

_MPEG_BITRATES = {  # kbit/s by (version is MPEG-1, layer); index 0 = free format
    (True, 3): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 1): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 3): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 1): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MPEG_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mpeg_frame_length(buf: bytes, o: int) -> int | None:
    """Length of the MPEG audio frame whose header is at `o`, or None if it is not one."""
    if len(buf) - o < 4 or buf[o] != 0xFF or buf[o + 1] & 0xE0 != 0xE0:
        return None
    version = (buf[o + 1] >> 3) & 3  # 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5, 1 reserved
    layer = (buf[o + 1] >> 1) & 3  # 3 = Layer I, 2 = II, 1 = III, 0 reserved
    bitrate_index = buf[o + 2] >> 4
    rate_index = (buf[o + 2] >> 2) & 3
    if version == 1 or layer == 0 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    mpeg1 = version == 3
    bitrate = _MPEG_BITRATES[(mpeg1, layer)][bitrate_index] * 1000
    rate = _MPEG_RATES[version][rate_index]
    padding = (buf[o + 2] >> 1) & 1
    if layer == 3:
        return (12 * bitrate // rate + padding) * 4
    if layer == 1 and not mpeg1:
        return 72 * bitrate // rate + padding
    return 144 * bitrate // rate + padding


def _is_mpeg_audio(buf: bytes) -> bool:
    length = _mpeg_frame_length(buf, 0)
    if length is None:
        return False
    # One valid header could be chance (a UTF-16 BOM is one); a second one right after the
    # first frame is not.
    return _mpeg_frame_length(buf, length) is not None


def _is_adts(buf: bytes) -> bool:
    # AAC ADTS: 12-bit sync, layer bits 00, a valid sampling index, a frame length >= 7.
    if len(buf) < 7 or buf[0] != 0xFF or buf[1] & 0xF6 != 0xF0:
        return False
    if (buf[2] >> 2) & 0x0F > 12:
        return False
    frame = ((buf[3] & 0x03) << 11) | (buf[4] << 3) | (buf[5] >> 5)
    return frame >= 7


def _is_id3(buf: bytes) -> bool:
    # "ID3", version 2..4, revision, flags, then a 28-bit syncsafe size (high bits clear).
    return (
        len(buf) >= 10
        and buf.startswith(b"ID3")
        and 2 <= buf[3] <= 4
        and buf[4] != 0xFF
        and all(b < 0x80 for b in buf[6:10])
    )


def _is_audio(buf: bytes) -> bool:
    if _is_id3(buf) or _is_mpeg_audio(buf) or _is_adts(buf):
        return True
    if buf[:4] in (b"RIFF", b"RF64", b"BW64") and buf[8:12] in _RIFF_AUDIO_FORMS:
        return True
    if buf[:4] == b"FORM" and buf[8:12] in _FORM_AUDIO_TYPES:
        return True
    if buf[:4] == b"FRM8" and buf[12:16] == b"DSD ":  # Philips DSDIFF
        return True
    if any(buf.startswith(magic, offset) for offset, magic in _AUDIO_MAGICS):
        return True
    return filetype.match(buf[:8192], _FILETYPE_AUDIO) is not None


# --------------------------------------------------------------------------- allowed signatures

def _verified_mime(mime: str | None, buf: bytes) -> str | None:
    """Confirm a filetype guess for an allowed type with the full magic number."""
    if mime == "image/jpeg" and buf.startswith(b"\xff\xd8\xff"):
        return mime
    if mime in ("image/png", "image/apng") and buf.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"  # an animated PNG is still a PNG
    if mime == "image/gif" and buf[:6] in (b"GIF87a", b"GIF89a"):
        return mime
    if mime == "image/webp":
        return mime  # filetype already checks RIFF....WEBPVP
    if mime == "application/pdf" and buf.lstrip(b"\xef\xbb\xbf").startswith(b"%PDF-"):
        return mime
    if mime == "application/rtf" and buf.startswith(b"{\\rtf"):
        return mime
    return None


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


def _classify(buf: bytes, name: str) -> Verdict:
    if containers.looks_isobmff(buf):
        finding = containers.inspect_isobmff(buf)
        if finding is not None:
            return _from_finding(finding)
    if buf.startswith(containers.EBML_MAGIC):
        return _from_finding(containers.inspect_ebml(buf))
    if buf.startswith(containers.OGG_MAGIC):
        return _from_finding(containers.inspect_ogg(buf))
    if buf.startswith(containers.ASF_MAGIC):
        return _from_finding(containers.inspect_asf(buf))
    if buf.startswith(containers.OLE2_MAGIC):
        return _ole2(buf, name)
    if buf.startswith(containers.ZIP_MAGIC):
        return _from_finding(containers.inspect_zip(buf))
    if _is_audio(buf):
        return _refuse(AUDIO)

    kind = filetype.guess(buf)
    mime = _verified_mime(kind.mime if kind else None, buf)
    if mime == "application/pdf" and active.pdf_is_active(buf):
        return _refuse(ACTIVE)
    if mime == "application/rtf" and active.rtf_is_active(buf):
        return _refuse(ACTIVE)
    if mime is not None:
        return _allow(mime)
    # filetype's weakest matchers fire on text ("BM" is BMP, "MZ" is EXE, "βρ" is Brotli);
    # a genuine binary of those kinds has control bytes and fails the text test anyway.
    if _plain_text(buf, name):
        return _allow("text/plain")
    return _refuse(NOT_ALLOWED)

