"""PNG: keep the chunks the picture needs (an allow-list), drop every other ancillary chunk.

Kept byte for byte, as ranges of the source: the image (IHDR, PLTE, IDAT, IEND), colour and
transparency (tRNS, gAMA, cHRM, sRGB, iCCP, sBIT, cICP, mDCV/cLLI), layout (pHYs, bKGD, hIST)
and animation (acTL, fcTL, fdAT). Written anew: a minimal eXIf with the orientation (and, when
asked, DateTimeOriginal). Everything else goes whatever it carries: text chunks (tEXt, zTXt,
iTXt, raw profiles included), eXIf, tIME, sPLT, unknown ancillary chunks and data after IEND.
An unknown critical chunk, a bad CRC or a chunk past the end is a MetadataError.

Part of :mod:`bifoga.media.metadata` (the public interface). Reads through a bifoga.media.source
Reader and answers a Plan; every chunk's CRC is checked block by block (binascii.crc32). Plain
Python, no Pillow; CPython, Pyodide and MicroPython (the browser's light worker) run it, so no
dataclasses, typing, re or f-strings.
"""

import binascii

from bifoga.media.exif import parse_exif
from bifoga.media.meta_common import _MAX_PARTS, MetadataError, _add_or_keep
from bifoga.media.source import Plan, Reader

_PNG_SIG = b"\x89PNG\r\n\x1a\n"
_PNG_KEEP = frozenset((
    b"IHDR", b"PLTE", b"IDAT", b"IEND",
    b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"bKGD", b"pHYs", b"hIST",
    b"cICP", b"mDCV", b"cLLI", b"mDCv", b"cLLi",
    b"acTL", b"fcTL", b"fdAT",
))  # fmt: skip
_TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")
_CRC_BLOCK = 1 << 19  # a chunk's data is read this much at a time for its CRC
_TEXT_KEYS = {
    b"xml:com.adobe.xmp": "xmp",
    b"raw profile type xmp": "xmp",
    b"raw profile type iptc": "iptc",
    b"raw profile type 8bim": "iptc",
    b"raw profile type exif": "other_exif",
    b"raw profile type app1": "other_exif",
    b"creation time": "datetime",
    b"date:create": "datetime",
    b"date:modify": "datetime",
    b"date:timestamp": "datetime",
}


def _chunk_crc(source, start, end):
    """The CRC-32 of the source's bytes [start, end), read in blocks."""
    crc = 0
    pos = start
    while pos < end:
        block = source.read(pos, min(_CRC_BLOCK, end - pos))
        if not block:
            break
        crc = binascii.crc32(block, crc)
        pos += len(block)
    return crc & 0xFFFFFFFF


def _is_chunk_type(ctype):
    for c in ctype:
        if not (65 <= c <= 90 or 97 <= c <= 122):
            return False
    return len(ctype) == 4


def _read_chunk(reader, source, pos):
    """(type, end) of the chunk at ``pos``, checked: it fits, its type is letters, its CRC.
    A chunk up to _CRC_BLOCK bytes is read at once (the reader reads that much ahead); a larger
    one is streamed for its CRC."""
    n = reader.size
    if pos + 12 > n:
        raise MetadataError("truncated PNG: no IEND chunk")
    head = reader.read(pos, 8)
    length = int.from_bytes(head[:4], "big")
    ctype = head[4:8]
    end = pos + 12 + length
    if length > 0x7FFFFFFF or end > n:
        raise MetadataError("truncated PNG: chunk at offset %d runs past the end" % pos)
    if not _is_chunk_type(ctype):
        raise MetadataError("corrupt PNG: bad chunk type at offset %d" % pos)
    if 12 + length <= _CRC_BLOCK:  # type and data, from what the reader holds
        crc = binascii.crc32(reader.read(pos + 4, 4 + length)) & 0xFFFFFFFF
    else:
        crc = _chunk_crc(source, pos + 4, end - 4)
    if crc != int.from_bytes(reader.read(end - 4, 4), "big"):
        raise MetadataError("corrupt PNG: bad CRC in %r chunk at offset %d" % (ctype, pos))
    return ctype, end


def _text_category(key):
    """The category of a text chunk by its keyword."""
    return _TEXT_KEYS.get(key.lower(), "comment")


def _dropped_chunk(reader, ctype, start, end, acc):
    """Note what a dropped chunk carried (body at [start, end) of the reader)."""
    if ctype == b"eXIf":
        tiff = reader.read(start, end - start)
        if tiff[:6] == b"Exif\x00\x00":
            tiff = tiff[6:]
        parse_exif(tiff).merge_into(acc)
    elif ctype in _TEXT_CHUNKS:
        key = reader.read(start, min(80, end - start)).split(b"\x00", 1)[0]
        acc.found.add(_text_category(key))
    elif ctype == b"tIME":
        acc.found.add("datetime")
    elif ctype[0] & 0x20:  # an ancillary chunk Bifoga does not keep
        acc.found.add("other_exif")
    else:
        raise MetadataError("unsupported critical PNG chunk %r" % ctype)


def strip_png(source, acc, keep_capture_date):
    """The Plan of a PNG with its metadata removed; what it carried goes into ``acc``."""
    reader = Reader(source, _CRC_BLOCK)  # reads ahead: most chunks come with their header
    n = source.size
    if reader.read(0, 8) != _PNG_SIG:
        raise MetadataError("not a PNG")
    out = [(0, 8)]  # ranges of the source, in order
    pos = 8
    first_image = None  # where a new eXIf goes: before the first fcTL/IDAT
    idat_seen = False
    for count in range(_MAX_PARTS):
        ctype, end = _read_chunk(reader, source, pos)
        if count == 0 and ctype != b"IHDR":
            raise MetadataError("corrupt PNG: first chunk is not IHDR")
        if ctype in _PNG_KEEP:
            if ctype in (b"IDAT", b"fcTL") and first_image is None:
                first_image = len(out)
            idat_seen = idat_seen or ctype == b"IDAT"
            if ctype == b"iCCP":
                acc.icc = True
            out.append((pos, end))
        else:
            _dropped_chunk(reader, ctype, pos + 8, end - 4, acc)
        pos = end
        if ctype == b"IEND":
            if pos < n:
                acc.found.add("other_exif")  # data after IEND
            break
    else:
        raise MetadataError("corrupt PNG: too many chunks")
    if not idat_seen:
        raise MetadataError("corrupt PNG: no IDAT chunk")
    new = acc.new_exif(keep_capture_date)
    plan = Plan()
    for i, (start, end) in enumerate(out):
        if i == first_image and new is not None:
            _add_or_keep(plan, reader, _png_chunk(b"eXIf", new))
        plan.keep(start, end)
    return plan


def _png_chunk(ctype, body):
    crc = binascii.crc32(ctype + body) & 0xFFFFFFFF
    return len(body).to_bytes(4, "big") + ctype + body + crc.to_bytes(4, "big")
