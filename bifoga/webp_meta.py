"""WebP: drop EXIF/XMP/unknown chunks from the RIFF container, keep the bitstreams as they are.

Part of :mod:`bifoga.metadata` (the public interface): plain Python, no Pillow, runs in Pyodide.
"""

from __future__ import annotations

from bifoga.exif import parse_exif
from bifoga.meta_common import _MAX_PARTS, MetadataError, _Acc, _valid_icc

_VP8X_ICC, _VP8X_ALPHA, _VP8X_EXIF, _VP8X_XMP, _VP8X_ANIM = 0x20, 0x10, 0x08, 0x04, 0x02


def _webp(data: bytes, acc: _Acc, keep_capture_date: bool) -> list[bytes | memoryview]:
    n = len(data)
    mv = memoryview(data)
    if n < 20:
        raise MetadataError("truncated WebP")
    riff_size = int.from_bytes(data[4:8], "little")
    riff_end = 8 + riff_size
    if riff_size < 4 + 8:
        raise MetadataError("corrupt WebP: RIFF size too small")
    if riff_end > n:
        raise MetadataError("truncated WebP: RIFF size is larger than the file")
    if riff_end < n:
        acc.found.add("other_exif")  # data after the RIFF container
    chunks: list[tuple[bytes, int, int]] = []  # (fourcc, start, end incl. padding)
    pos = 12
    while pos < riff_end:
        if len(chunks) >= _MAX_PARTS:
            raise MetadataError("corrupt WebP: too many chunks")
        if pos + 8 > riff_end:
            raise MetadataError(f"truncated WebP: chunk header at offset {pos}")
        fourcc = bytes(data[pos : pos + 4])
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        body_end = pos + 8 + size
        if body_end > riff_end:
            raise MetadataError(f"truncated WebP: chunk at offset {pos} runs past the end")
        end = body_end + (size & 1)
        if end > riff_end:  # missing final pad byte: tolerated
            end = riff_end
        chunks.append((fourcc, pos, end))
        pos = end

    out: list[bytes | memoryview] = []
    first = chunks[0][0]
    vp8x: bytearray | None = None
    exif_slot: int | None = None
    if first in (b"VP8 ", b"VP8L"):
        if len(chunks) != 1:
            for fourcc, _, _ in chunks[1:]:
                if fourcc in (b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF"):
                    raise MetadataError("corrupt WebP: unexpected chunk after simple image")
                acc.found.add("other_exif")
        _webp_check_bitstream(first, data, chunks[0][1])
        out.append(_padded(mv[chunks[0][1] : chunks[0][2]]))
    elif first == b"VP8X":
        start, end = chunks[0][1], chunks[0][2]
        if end - start < 18 or int.from_bytes(data[start + 4 : start + 8], "little") < 10:
            raise MetadataError("corrupt WebP: short VP8X chunk")
        vp8x = bytearray(b"VP8X\x0a\x00\x00\x00" + data[start + 8 : start + 18])  # canonical
        animated = bool(vp8x[8] & _VP8X_ANIM)
        out.append(b"")  # placeholder for the rewritten VP8X
        stage = 0  # 0: ICCP allowed, 1: ANIM/ALPH/image, 2: after image (metadata)
        image_seen = False
        for fourcc, cstart, cend in chunks[1:]:
            csize = int.from_bytes(data[cstart + 4 : cstart + 8], "little")
            body = mv[cstart + 8 : cstart + 8 + csize]
            piece = _padded(mv[cstart:cend])
            if fourcc == b"ICCP":
                if stage != 0 or not _valid_icc(bytes(body)):
                    raise MetadataError("corrupt WebP: bad ICCP chunk")
                acc.icc = True
                stage = 1
                out.append(piece)
            elif fourcc == b"ANIM":
                if not animated or stage > 1 or len(body) != 6:
                    raise MetadataError("corrupt WebP: bad ANIM chunk")
                stage = 1
                out.append(piece)
            elif fourcc == b"ANMF":
                if not animated or stage > 1:
                    raise MetadataError("corrupt WebP: misplaced ANMF chunk")
                _webp_check_frame(bytes(body))
                stage, image_seen = 1, True
                out.append(piece)
            elif fourcc == b"ALPH":
                if animated or stage > 1 or image_seen:
                    raise MetadataError("corrupt WebP: misplaced ALPH chunk")
                stage = 1
                out.append(piece)
            elif fourcc in (b"VP8 ", b"VP8L"):
                if animated or image_seen or stage > 1:
                    raise MetadataError("corrupt WebP: duplicate image chunk")
                _webp_check_bitstream(fourcc, data, cstart)
                stage, image_seen = 2, True
                out.append(piece)
            elif fourcc == b"EXIF":
                stage = 2
                tiff = bytes(body)
                if tiff.startswith(b"Exif\x00\x00"):
                    tiff = tiff[6:]
                parse_exif(tiff).merge_into(acc)
                if exif_slot is None:
                    exif_slot = len(out)
            elif fourcc == b"XMP ":
                stage = 2
                acc.found.add("xmp")
            elif fourcc == b"VP8X":
                raise MetadataError("corrupt WebP: duplicate VP8X chunk")
            else:
                stage = max(stage, 1)
                acc.found.add("other_exif")  # unknown chunk: safe to drop
        if not image_seen:
            raise MetadataError("corrupt WebP: no image data")
    else:
        raise MetadataError(f"corrupt WebP: unexpected first chunk {first!r}")

    if vp8x is not None:
        new = acc.new_exif(keep_capture_date)
        vp8x[8] &= ~(_VP8X_EXIF | _VP8X_XMP) & 0xFF
        if new is not None:
            vp8x[8] |= _VP8X_EXIF
            chunk = b"EXIF" + len(new).to_bytes(4, "little") + new + b"\x00" * (len(new) & 1)
            out.insert(exif_slot if exif_slot is not None else len(out), chunk)
        out[0] = bytes(vp8x)
    size = 4 + sum(len(p) for p in out)
    out[:0] = [b"RIFF" + size.to_bytes(4, "little") + b"WEBP"]
    return out


def _padded(piece: memoryview) -> bytes | memoryview:
    """A chunk whose final pad byte was missing gets it back (chunks must start even)."""
    return bytes(piece) + b"\x00" if len(piece) & 1 else piece


def _webp_check_frame(body: bytes) -> None:
    """An ANMF payload: 16-byte frame header, then [ALPH] and one VP8/VP8L sub-chunk."""
    pos, n, kinds = 16, len(body), []
    while pos < n:
        if pos + 8 > n:
            raise MetadataError("corrupt WebP: bad ANMF chunk")
        fourcc = body[pos : pos + 4]
        size = int.from_bytes(body[pos + 4 : pos + 8], "little")
        if pos + 8 + size > n or fourcc not in (b"ALPH", b"VP8 ", b"VP8L"):
            raise MetadataError("corrupt WebP: bad ANMF chunk")
        if fourcc != b"ALPH":
            _webp_check_bitstream(fourcc, body, pos)
        kinds.append(fourcc)
        pos += 8 + size + (size & 1)
    if kinds not in ([b"VP8 "], [b"VP8L"], [b"ALPH", b"VP8 "], [b"ALPH", b"VP8L"]):
        raise MetadataError("corrupt WebP: bad ANMF chunk")


def _webp_check_bitstream(fourcc: bytes, data: bytes, start: int) -> None:
    size = int.from_bytes(data[start + 4 : start + 8], "little")
    body = data[start + 8 : start + 8 + min(size, 10)]
    if fourcc == b"VP8 ":
        if size < 10 or body[3:6] != b"\x9d\x01\x2a":
            raise MetadataError("corrupt WebP: bad VP8 bitstream header")
    elif size < 5 or body[0] != 0x2F:
        raise MetadataError("corrupt WebP: bad VP8L bitstream header")

