"""Whether a file still carries a position where Bifoga removes one: the server's check and
the tests' (:func:`bifoga.media.metadata.find_location` hands over to :func:`find_location` here).

CPython only (the server and the tests; Pyodide could run it too): it searches with regular
expressions and inflates PNG text, which the browser's MicroPython light worker does not need.
"""

from __future__ import annotations

import binascii
import re
import struct
import zlib

from bifoga.media.exif import parse_exif
from bifoga.media.heif_meta import _heif, _tiff_gps_anywhere
from bifoga.media.meta_common import _MAX_PARTS, MetadataError, _Acc
from bifoga.media.metadata import _run, detect_format

# A position in XMP (which is dropped whole, filed under "xmp").
_XMP_POSITION = re.compile(rb"GPS(?:Latitude|Longitude)\b")


def find_location(data: bytes) -> bool:
    """True if ``data`` still carries a position where Bifoga removes one: a GPS IFD in any
    EXIF; GPSLatitude/GPSLongitude in XMP; a PNG text chunk, compressed or not; a HEIC/HEIF Exif
    or XMP item; a film's 'udta' '\u00a9xyz'/'loci', 'keys' location entries, XMP 'uuid' boxes,
    Matroska location tags; XMP in a GIF.

    Raises MetadataError for a structurally broken JPEG/PNG/WebP/GIF or film (a HEIF that
    cannot be parsed is searched byte by byte instead). Other formats: False.
    """
    fmt = detect_format(data)
    if fmt in ("heic", "heif"):
        return _heif_location(bytes(data))
    acc, fmt = _run(data, False)
    if acc is None:
        return False
    if "gps" in acc.found:
        return True
    if fmt == "png":
        return png_location(bytes(data))
    return (fmt in ("jpeg", "webp", "gif") and "xmp" in acc.found
            and bool(_XMP_POSITION.search(data)))


_HEIF_POSITION = re.compile(rb"GPS(?:Latitude|Longitude)\b|\xa9xyz|location\.ISO6709")


def _heif_location(data: bytes) -> bool:
    """True if a HEIC/HEIF carries a position: a GPS IFD in an Exif item (or in any TIFF
    structure in the file), GPS fields in XMP, a QuickTime-style position in an image
    sequence's 'moov'. Never raises: a file that does not parse is searched byte by byte, and
    one too odd to search is taken to carry one."""
    acc = _Acc("heif")
    try:
        _heif(data, acc, False)
        if "gps" in acc.found:
            return True
        return _HEIF_POSITION.search(data) is not None
    except (MetadataError, IndexError, struct.error):  # as _run: a structure that does not parse
        pass
    try:
        return _tiff_gps_anywhere(data) or _HEIF_POSITION.search(data) is not None
    except MetadataError:
        return True


# A position in a text chunk: XMP's exif:GPSLatitude, ImageMagick's "exif:GPSLatitude" keys, ...
_GPS_TEXT = re.compile(rb"GPS(?:Latitude|Longitude)\b")
_MAX_TEXT = 16 * 1024 * 1024  # decompressed text per file: more is not a genuine photo's


def png_location(data: bytes) -> bool:
    """True if a text chunk (tEXt, zTXt, iTXt; compressed or not) names a position: XMP GPS
    fields, or an EXIF with a GPS IFD in a "Raw profile type exif/APP1" (hex) text. A text that
    cannot be read (bad zlib, more than 16 MB) is taken to carry one. The chunks themselves
    must already have been checked by :func:`_png`."""
    pos, n, budget = 8, len(data), [_MAX_TEXT]
    for _ in range(_MAX_PARTS):
        if pos + 12 > n:
            return False
        length = int.from_bytes(data[pos : pos + 4], "big")
        ctype, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if ctype == b"IEND":
            return False
        if ctype not in (b"tEXt", b"zTXt", b"iTXt"):
            continue
        key, _, rest = body.partition(b"\x00")
        text: bytes | None = rest
        if ctype == b"zTXt":
            text = _inflate(rest[1:], budget)
        elif ctype == b"iTXt" and rest[:1] == b"\x01":
            text = _inflate(rest[2:].split(b"\x00", 2)[-1], budget)
        elif ctype == b"iTXt":
            text = rest[2:].split(b"\x00", 2)[-1]
        if text is None or _GPS_TEXT.search(key + b"\x00" + text):
            return True
        if key.lower() in (b"raw profile type exif", b"raw profile type app1"):
            hexdump = b"".join(text.split()[2:])  # "exif", the length, then hex digits
            try:
                tiff = binascii.unhexlify(hexdump[: len(hexdump) & ~1])
            except ValueError:
                return True
            tiff = tiff[6:] if tiff.startswith(b"Exif\x00\x00") else tiff
            if "gps" in parse_exif(tiff).categories:
                return True
    return True


def _inflate(compressed: bytes, budget: list[int]) -> bytes | None:
    """zlib data inflated within the budget, or None (corrupt, or too large)."""
    inflater = zlib.decompressobj()
    try:
        text = inflater.decompress(compressed, budget[0] + 1)
    except zlib.error:
        return None
    budget[0] -= len(text)
    return None if budget[0] < 0 else text
