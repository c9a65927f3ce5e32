"""WebP: keep the chunks the picture needs (an allow-list), drop every other one.

Kept byte for byte, as ranges of the source: the bitstreams (VP8, VP8L), alpha (ALPH), the
colour profile (ICCP) and animation (ANIM, ANMF). Rebuilt: the RIFF header (its size) and the
extended header VP8X (its EXIF/XMP flags), plus a minimal EXIF chunk with the orientation (and,
when asked, DateTimeOriginal) in the extended format. Everything else goes whatever it carries:
EXIF, XMP and unknown chunks, also after a simple-format (VP8/VP8L) image, and data after the
RIFF container.

Part of :mod:`bifoga.media.metadata` (the public interface). Reads through a bifoga.media.source
Reader and answers a Plan. Plain Python, no Pillow; CPython, Pyodide and MicroPython (the browser's
light worker) run it, so no dataclasses, typing, re or f-strings.
"""

from bifoga.media.exif import parse_exif
from bifoga.media.meta_common import _MAX_PARTS, MetadataError, _Acc, _add_or_keep
from bifoga.media.source import Plan, Reader

_VP8X_ICC, _VP8X_ALPHA, _VP8X_EXIF, _VP8X_XMP, _VP8X_ANIM = 0x20, 0x10, 0x08, 0x04, 0x02
_IMAGE_CHUNKS = (b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF")


def _webp_chunks(reader):
    """The RIFF container's chunks as (fourcc, start, end incl. padding), and its end."""
    n = reader.size
    if n < 20:
        raise MetadataError("truncated WebP")
    riff_size = int.from_bytes(reader.read(4, 4), "little")
    riff_end = 8 + riff_size
    if riff_size < 4 + 8:
        raise MetadataError("corrupt WebP: RIFF size too small")
    if riff_end > n:
        raise MetadataError("truncated WebP: RIFF size is larger than the file")
    chunks = []
    pos = 12
    while pos < riff_end:
        if len(chunks) >= _MAX_PARTS:
            raise MetadataError("corrupt WebP: too many chunks")
        if pos + 8 > riff_end:
            raise MetadataError("truncated WebP: chunk header at offset %d" % pos)
        head = reader.read(pos, 8)
        size = int.from_bytes(head[4:8], "little")
        body_end = pos + 8 + size
        if body_end > riff_end:
            raise MetadataError("truncated WebP: chunk at offset %d runs past the end" % pos)
        end = min(body_end + (size & 1), riff_end)  # a missing final pad byte is tolerated
        chunks.append((head[:4], pos, end))
        pos = end
    return chunks, riff_end


def _dropped_chunk(reader, fourcc, start, end, acc):
    """Note what a dropped chunk carried."""
    size = int.from_bytes(reader.read(start + 4, 4), "little")
    if fourcc == b"EXIF":
        tiff = reader.read(start + 8, size)
        if tiff[:6] == b"Exif\x00\x00":
            tiff = tiff[6:]
        parse_exif(tiff).merge_into(acc)
    elif fourcc == b"XMP ":
        acc.found.add("xmp")
    else:
        acc.found.add("other_exif")  # unknown chunk


class _Extended:
    """The chunks after VP8X, in the order the container format allows: ICCP, then ANIM and
    frames (or ALPH and one bitstream), then metadata."""

    def __init__(self, reader, acc, animated):
        self.reader = reader
        self.acc = acc
        self.animated = animated
        self.stage = 0  # 0: ICCP allowed, 1: ANIM/ALPH/image, 2: after the image (metadata)
        self.image_seen = False
        self.exif_slot = None

    def chunk(self, fourcc, start, end, out):
        """Check one chunk; append it to ``out`` when kept."""
        size = int.from_bytes(self.reader.read(start + 4, 4), "little")
        if fourcc == b"ICCP":
            if self.stage != 0 or not _valid_icc_chunk(self.reader, start, size):
                raise MetadataError("corrupt WebP: bad ICCP chunk")
            self.acc.icc = True
            self.stage = 1
        elif fourcc == b"ANIM":
            if not self.animated or self.stage > 1 or size != 6:
                raise MetadataError("corrupt WebP: bad ANIM chunk")
            self.stage = 1
        elif fourcc == b"ANMF":
            if not self.animated or self.stage > 1:
                raise MetadataError("corrupt WebP: misplaced ANMF chunk")
            _webp_check_frame(self.reader, start + 8, size)
            self.stage, self.image_seen = 1, True
        elif fourcc == b"ALPH":
            if self.animated or self.stage > 1 or self.image_seen:
                raise MetadataError("corrupt WebP: misplaced ALPH chunk")
            self.stage = 1
        elif fourcc in (b"VP8 ", b"VP8L"):
            if self.animated or self.image_seen or self.stage > 1:
                raise MetadataError("corrupt WebP: duplicate image chunk")
            _webp_check_bitstream(self.reader, fourcc, start)
            self.stage, self.image_seen = 2, True
        elif fourcc == b"VP8X":
            raise MetadataError("corrupt WebP: duplicate VP8X chunk")
        else:
            self.dropped(fourcc, start, end, out)
            return
        out.append(("range", start, end))

    def dropped(self, fourcc, start, end, out):
        if fourcc in (b"EXIF", b"XMP "):
            self.stage = 2
            if fourcc == b"EXIF" and self.exif_slot is None:
                self.exif_slot = len(out)
        else:
            self.stage = max(self.stage, 1)
        _dropped_chunk(self.reader, fourcc, start, end, self.acc)


def _simple(reader, chunks, acc, out):
    """A simple-format file: one VP8/VP8L chunk; whatever follows it goes."""
    first, start, end = chunks[0]
    for fourcc, cstart, cend in chunks[1:]:
        if fourcc in _IMAGE_CHUNKS:
            raise MetadataError("corrupt WebP: unexpected chunk after simple image")
        # no orientation is taken over: the simple format has no place to write it back
        stray = _Acc("webp")
        _dropped_chunk(reader, fourcc, cstart, cend, stray)
        acc.found.update(stray.found)
    _webp_check_bitstream(reader, first, start)
    out.append(("range", start, end))


def _extended(reader, chunks, acc, keep_capture_date, out):
    """An extended-format file (VP8X first): its chunks, then the rebuilt VP8X and EXIF."""
    start, end = chunks[0][1], chunks[0][2]
    if end - start < 18 or int.from_bytes(reader.read(start + 4, 4), "little") < 10:
        raise MetadataError("corrupt WebP: short VP8X chunk")
    vp8x = bytearray(b"VP8X\x0a\x00\x00\x00" + reader.read(start + 8, 10))  # canonical
    walk = _Extended(reader, acc, bool(vp8x[8] & _VP8X_ANIM))
    out.append(("bytes", b""))  # the rewritten VP8X goes here
    for fourcc, cstart, cend in chunks[1:]:
        walk.chunk(fourcc, cstart, cend, out)
    if not walk.image_seen:
        raise MetadataError("corrupt WebP: no image data")
    new = acc.new_exif(keep_capture_date)
    vp8x[8] &= ~(_VP8X_EXIF | _VP8X_XMP) & 0xFF
    if new is not None:
        vp8x[8] |= _VP8X_EXIF
        chunk = b"EXIF" + len(new).to_bytes(4, "little") + new + b"\x00" * (len(new) & 1)
        out.insert(walk.exif_slot if walk.exif_slot is not None else len(out), ("bytes", chunk))
    out[0] = ("bytes", bytes(vp8x))


def strip_webp(source, acc, keep_capture_date):
    """The Plan of a WebP with its metadata removed; what it carried goes into ``acc``."""
    reader = Reader(source)
    chunks, riff_end = _webp_chunks(reader)
    if riff_end < source.size:
        acc.found.add("other_exif")  # data after the RIFF container
    out = []
    first = chunks[0][0] if chunks else b""
    if first in (b"VP8 ", b"VP8L"):
        _simple(reader, chunks, acc, out)
    elif first == b"VP8X":
        _extended(reader, chunks, acc, keep_capture_date, out)
    else:
        raise MetadataError("corrupt WebP: unexpected first chunk %r" % first)
    size = 4
    for piece in out:
        if piece[0] == "range":
            size += piece[2] - piece[1] + ((piece[2] - piece[1]) & 1)
        else:
            size += len(piece[1])
    plan = Plan()
    _add_or_keep(plan, reader, b"RIFF" + size.to_bytes(4, "little") + b"WEBP")
    for piece in out:
        if piece[0] == "bytes":
            _add_or_keep(plan, reader, piece[1])
            continue
        plan.keep(piece[1], piece[2])
        if (piece[2] - piece[1]) & 1:  # a missing final pad byte is put back
            plan.add(b"\x00")
    return plan


def _valid_icc_chunk(reader, start, size):
    """As meta_common._valid_icc, reading only the profile's header."""
    head = reader.read(start + 8, min(size, 128))
    return size >= 128 and int.from_bytes(head[:4], "big") == size and head[36:40] == b"acsp"


def _webp_check_frame(reader, start, size):
    """An ANMF payload at [start, start + size): 16-byte frame header, then [ALPH] and one
    VP8/VP8L sub-chunk."""
    pos, end, kinds = start + 16, start + size, []
    while pos < end:
        if pos + 8 > end:
            raise MetadataError("corrupt WebP: bad ANMF chunk")
        head = reader.read(pos, 8)
        fourcc = head[:4]
        sub = int.from_bytes(head[4:8], "little")
        if pos + 8 + sub > end or fourcc not in (b"ALPH", b"VP8 ", b"VP8L"):
            raise MetadataError("corrupt WebP: bad ANMF chunk")
        if fourcc != b"ALPH":
            _webp_check_bitstream(reader, fourcc, pos)
        kinds.append(fourcc)
        pos += 8 + sub + (sub & 1)
    if kinds not in ([b"VP8 "], [b"VP8L"], [b"ALPH", b"VP8 "], [b"ALPH", b"VP8L"]):
        raise MetadataError("corrupt WebP: bad ANMF chunk")


def _webp_check_bitstream(reader, fourcc, start):
    size = int.from_bytes(reader.read(start + 4, 4), "little")
    body = reader.read(start + 8, min(size, 10))
    if fourcc == b"VP8 ":
        if size < 10 or body[3:6] != b"\x9d\x01\x2a":
            raise MetadataError("corrupt WebP: bad VP8 bitstream header")
    elif size < 5 or not body or body[0] != 0x2F:
        raise MetadataError("corrupt WebP: bad VP8L bitstream header")
