"""GIF: keep the blocks the picture needs (an allow-list), drop every other one.

Kept byte for byte, as ranges of the source: the header and logical screen descriptor, the
colour tables, each image (descriptor, local colour table, LZW data) and each graphic control
extension. Rebuilt: the NETSCAPE2.0 (or ANIMEXTS1.0) loop extension, as its loop count alone.
Everything else goes whatever it carries: comments, XMP and every other application extension,
plain-text extensions, and data after the trailer. A block that runs past the end, an unknown
block or a file without an image is a MetadataError.

Part of :mod:`bifoga.media.metadata` (the public interface). Reads through a bifoga.media.source
Reader and answers a Plan. Plain Python, no Pillow; CPython, Pyodide and MicroPython (the browser's
light worker) run it, so no dataclasses, typing, re or f-strings.
"""

from bifoga.media.meta_common import _MAX_PARTS, MetadataError
from bifoga.media.source import Plan, Reader

_IMAGE, _EXTENSION, _TRAILER = 0x2C, 0x21, 0x3B
_GRAPHIC_CONTROL, _COMMENT, _PLAIN_TEXT, _APPLICATION = 0xF9, 0xFE, 0x01, 0xFF
_LOOP_APPS = (b"NETSCAPE2.0", b"ANIMEXTS1.0")
_XMP_APP = b"XMP DataXMP"
_READ_AHEAD = 1 << 19  # what the reader asks of the source at a time
_WALK_WINDOW = 1 << 16  # sub-blocks are walked this much at a time, from what the reader holds


def _color_table_size(packed):
    """Bytes of the colour table a descriptor's packed field announces (0 without one)."""
    return 3 << ((packed & 7) + 1) if packed & 0x80 else 0


def _need(reader, pos, length):
    """The bytes [pos, pos + length), or MetadataError when the file ends first."""
    got = reader.read(pos, length)
    if len(got) != length:
        raise MetadataError("truncated GIF at offset %d" % pos)
    return got


def _sub_blocks_end(reader, pos):
    """Where the data sub-blocks starting at ``pos`` end (after their zero terminator). Walked
    inside large reads: an image's data is thousands of sub-blocks of up to 255 bytes."""
    while True:
        buf = reader.read(pos, _WALK_WINDOW)
        if not buf:
            raise MetadataError("truncated GIF at offset %d" % pos)
        i, n = 0, len(buf)
        while i < n:
            size = buf[i]
            if size == 0:
                return pos + i + 1
            i += 1 + size
        pos += i


def _image(reader, pos):
    """End of the image block at ``pos`` (its 0x2C): descriptor, local table, LZW data."""
    descriptor = _need(reader, pos, 10)
    pos += 10 + _color_table_size(descriptor[9])
    code_size = _need(reader, pos, 1)[0]
    if not 1 <= code_size <= 11:
        raise MetadataError("corrupt GIF: bad LZW code size at offset %d" % pos)
    return _sub_blocks_end(reader, pos + 1)


def _graphic_control(reader, pos):
    """End of the graphic control extension at ``pos``: one 4-byte block and a terminator."""
    block = _need(reader, pos + 2, 6)
    if block[0] != 4 or block[5] != 0:
        raise MetadataError("corrupt GIF: bad graphic control extension at offset %d" % pos)
    return pos + 8


def _loop_count(reader, pos):
    """The loop count in the first sub-block of a NETSCAPE2.0 extension at ``pos``, or None."""
    block = reader.read(pos + 14, 4)
    if len(block) != 4 or block[0] != 3 or block[1] != 1:
        return None
    return block[2] | (block[3] << 8)


def _application(reader, pos, end, acc):
    """An application extension [pos, end): the rebuilt loop extension to keep (its loop
    count alone), or None."""
    ident = reader.read(pos + 3, 11) if reader.read(pos + 2, 1) == b"\x0b" else b""
    loops = _loop_count(reader, pos) if ident in _LOOP_APPS else None
    if loops is None:
        acc.found.add("xmp" if ident == _XMP_APP else "other_exif")
        return None
    if end - pos != 19:
        acc.found.add("other_exif")  # more sub-blocks than the loop count
    return b"\x21\xff\x0b" + ident + b"\x03\x01" + loops.to_bytes(2, "little") + b"\x00"


def _extension(reader, pos, acc, plan):
    """Handle the extension at ``pos`` (its 0x21); return where the next block starts."""
    label = _need(reader, pos + 1, 1)[0]
    if label == _GRAPHIC_CONTROL:
        end = _graphic_control(reader, pos)
        plan.keep(pos, end)
        return end
    end = _sub_blocks_end(reader, pos + 2)
    if label == _APPLICATION:
        kept = _application(reader, pos, end, acc)
        if kept is not None and kept == reader.read(pos, end - pos):
            plan.keep(pos, end)  # already as it would be rebuilt: sent as a slice
        elif kept is not None:
            plan.add(kept)
    elif label == _COMMENT:
        acc.found.add("comment")
    else:  # plain text and unknown extensions
        acc.found.add("other_exif")
    return end


def strip_gif(source, acc, keep_capture_date):
    """The Plan of a GIF with its metadata removed; what it carried goes into ``acc``.
    (A GIF has no capture date or orientation to keep.)"""
    reader = Reader(source, _READ_AHEAD)
    head = _need(reader, 0, 13)
    if head[:6] not in (b"GIF87a", b"GIF89a"):
        raise MetadataError("not a GIF")
    pos = 13 + _color_table_size(head[10])
    _need(reader, pos - 1, 1)
    plan = Plan()
    plan.keep(0, pos)
    images = 0
    for _ in range(_MAX_PARTS):
        if pos >= source.size:
            raise MetadataError("truncated GIF: no trailer")
        kind = reader.byte(pos)
        if kind == _TRAILER:
            break
        if kind == _IMAGE:
            end = _image(reader, pos)
            plan.keep(pos, end)
            images += 1
        elif kind == _EXTENSION:
            end = _extension(reader, pos, acc, plan)
        else:
            raise MetadataError("corrupt GIF: unknown block 0x%02X at offset %d" % (kind, pos))
        pos = end
    else:
        raise MetadataError("corrupt GIF: too many blocks")
    if images == 0:
        raise MetadataError("corrupt GIF: no image")
    plan.keep(pos, pos + 1)
    if pos + 1 < source.size:
        acc.found.add("other_exif")  # data after the trailer
    return plan
