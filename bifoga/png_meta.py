"""PNG: drop ancillary metadata chunks, keep the image chunks byte for byte.

Part of :mod:`bifoga.metadata` (the public interface): plain Python, no Pillow, runs in Pyodide.
"""

from __future__ import annotations

import binascii
import re
import zlib

from bifoga.exif import parse_exif
from bifoga.meta_common import _MAX_PARTS, MetadataError, _Acc

_PNG_SIG = b"\x89PNG\r\n\x1a\n"
_PNG_KEEP = frozenset(
    {
        b"IHDR", b"PLTE", b"IDAT", b"IEND",
        b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"bKGD", b"pHYs", b"hIST", b"sPLT",
        b"cICP", b"mDCV", b"cLLI", b"mDCv", b"cLLi",
        b"acTL", b"fcTL", b"fdAT",
    }
)  # fmt: skip


def _png(data: bytes, acc: _Acc, keep_capture_date: bool) -> list[bytes | memoryview]:
    n = len(data)
    mv = memoryview(data)
    out: list[bytes | memoryview] = [_PNG_SIG]
    pos = 8
    first_idat: int | None = None  # where a new eXIf goes: before the first fcTL/IDAT
    first = True
    for _ in range(_MAX_PARTS):
        if pos + 12 > n:
            raise MetadataError("truncated PNG: no IEND chunk")
        length = int.from_bytes(data[pos : pos + 4], "big")
        ctype = bytes(data[pos + 4 : pos + 8])
        end = pos + 12 + length
        if length > 0x7FFFFFFF or end > n:
            raise MetadataError(f"truncated PNG: chunk at offset {pos} runs past the end")
        if not all(65 <= c <= 90 or 97 <= c <= 122 for c in ctype):
            raise MetadataError(f"corrupt PNG: bad chunk type at offset {pos}")
        crc = int.from_bytes(data[end - 4 : end], "big")
        if zlib.crc32(mv[pos + 4 : end - 4]) != crc:
            raise MetadataError(f"corrupt PNG: bad CRC in {ctype.decode()} chunk at offset {pos}")
        if first and ctype != b"IHDR":
            raise MetadataError("corrupt PNG: first chunk is not IHDR")
        first = False
        body = mv[pos + 8 : end - 4]
        chunk = mv[pos:end]
        pos = end
        if ctype in _PNG_KEEP:
            if ctype in (b"IDAT", b"fcTL") and first_idat is None:
                first_idat = len(out)
            if ctype == b"iCCP":
                acc.icc = True
            out.append(chunk)
            if ctype == b"IEND":
                if pos < n:
                    acc.found.add("other_exif")  # data after IEND
                break
        elif ctype == b"eXIf":
            tiff = bytes(body)
            if tiff.startswith(b"Exif\x00\x00"):
                tiff = tiff[6:]
            parse_exif(tiff).merge_into(acc)
        elif ctype in (b"tEXt", b"zTXt", b"iTXt"):
            key = bytes(body[:80]).split(b"\x00", 1)[0].lower()
            if key == b"xml:com.adobe.xmp" or key == b"raw profile type xmp":
                acc.found.add("xmp")
            elif key in (b"raw profile type iptc", b"raw profile type 8bim"):
                acc.found.add("iptc")
            elif key in (b"raw profile type exif", b"raw profile type app1"):
                acc.found.add("other_exif")
            elif key in (b"creation time", b"date:create", b"date:modify", b"date:timestamp"):
                acc.found.add("datetime")
            else:
                acc.found.add("comment")
        elif ctype == b"tIME":
            acc.found.add("datetime")
        elif ctype[0] & 0x20:  # unknown ancillary chunk: safe to drop
            acc.found.add("other_exif")
        else:
            raise MetadataError(f"unsupported critical PNG chunk {ctype!r}")
    else:
        raise MetadataError("corrupt PNG: too many chunks")
    if first_idat is None or not any(bytes(c[4:8]) == b"IDAT" for c in out[1:]):
        raise MetadataError("corrupt PNG: no IDAT chunk")
    new = acc.new_exif(keep_capture_date)
    if new is not None:
        out.insert(first_idat, _png_chunk(b"eXIf", new))
    return out


def _png_chunk(ctype: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(ctype + body)
    return len(body).to_bytes(4, "big") + ctype + body + crc.to_bytes(4, "big")



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
