"""JPEG: drop APPn/COM segments and trailers, keep the coded data byte for byte.

Part of :mod:`bifoga.metadata` (the public interface): plain Python, no Pillow, runs in Pyodide.
"""

from __future__ import annotations

import re

from bifoga.exif import parse_exif
from bifoga.meta_common import _MAX_PARTS, MetadataError, _Acc, _valid_icc

_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_EXIF_ID = b"Exif\x00"
_XMP_IDS = (b"http://ns.adobe.com/xap/1.0/\x00", b"http://ns.adobe.com/xmp/extension/\x00")
_ICC_ID = b"ICC_PROFILE\x00"
_NOT_FF = re.compile(rb"[^\xff]")


def _jpeg_check_tables(marker: int, p: bytes, pos: int) -> None:
    """Structural check of the kept table/frame segments (their payload ``p``)."""

    def bad(what: str) -> MetadataError:
        return MetadataError(f"corrupt JPEG: bad {what} segment at offset {pos}")

    n = len(p)
    if marker == 0xDB:  # DQT
        i = 0
        while i < n:
            pq, tq = p[i] >> 4, p[i] & 15
            if pq > 1 or tq > 3:
                raise bad("DQT")
            i += 1 + 64 * (pq + 1)
        if i != n or n == 0:
            raise bad("DQT")
    elif marker == 0xC4:  # DHT
        i = 0
        while i < n:
            if i + 17 > n or (p[i] >> 4) > 1 or (p[i] & 15) > 3:
                raise bad("DHT")
            total = sum(p[i + 1 : i + 17])
            if total > 256:
                raise bad("DHT")
            i += 17 + total
        if i != n or n == 0:
            raise bad("DHT")
    elif marker in _SOF_MARKERS:
        lossless = marker in (0xC3, 0xC7, 0xCB, 0xCF)
        if n < 6 or not 1 <= p[5] <= 4 or n != 6 + 3 * p[5]:
            raise bad("SOF")
        if not (2 <= p[0] <= 16 if lossless else p[0] in (8, 12, 16)):
            raise bad("SOF")
        for i in range(6, n, 3):
            h, v = p[i + 1] >> 4, p[i + 1] & 15
            if not (1 <= h <= 4 and 1 <= v <= 4 and p[i + 2] <= 3):
                raise bad("SOF")
    elif marker == 0xDA:  # SOS
        if n < 1 or not 1 <= p[0] <= 4 or n != 4 + 2 * p[0]:
            raise bad("SOS")
        if any((p[i] >> 4) > 3 or (p[i] & 15) > 3 for i in range(2, n - 3, 2)):
            raise bad("SOS")
        if p[-3] > 63 or p[-2] > 63 or (p[-1] >> 4) > 13 or (p[-1] & 15) > 13:
            raise bad("SOS")
    elif marker in (0xDD, 0xDC):  # DRI, DNL
        if n != 2:
            raise bad("DRI/DNL")
    elif marker == 0xCC:  # DAC: up to 4 DC + 4 AC conditioning pairs
        if n == 0 or n % 2 or n > 16:
            raise bad("DAC")
        for i in range(0, n, 2):
            tc, tb, cs = p[i] >> 4, p[i] & 15, p[i + 1]
            bad_ac = tc == 1 and not 1 <= cs <= 63
            bad_dc = tc == 0 and (cs & 15) > (cs >> 4)
            if tc > 1 or tb > 3 or bad_ac or bad_dc:
                raise bad("DAC")


def _jpeg(data: bytes, acc: _Acc, keep_capture_date: bool) -> list[bytes | memoryview]:
    n = len(data)
    mv = memoryview(data)
    if n < 4:
        raise MetadataError("truncated JPEG")
    out: list[bytes | memoryview] = [b"\xff\xd8"]
    exif_slot: int | None = None
    icc_parts: list[tuple[int, bytes | memoryview]] = []  # (index in out, payload)
    seen_sof = seen_dqt = seen_sos = False
    pos = 2
    for _ in range(_MAX_PARTS):
        if pos >= n:
            raise MetadataError(
                "truncated JPEG: no end-of-image marker" if seen_sos else "JPEG without SOS"
            )
        if data[pos] != 0xFF:
            raise MetadataError(f"corrupt JPEG: expected a marker at offset {pos}")
        fill_end = _NOT_FF.search(data, pos)  # skip fill bytes
        if fill_end is None:
            raise MetadataError("truncated JPEG")
        pos = fill_end.start()
        marker = data[pos]
        pos += 1
        if marker == 0xD9:  # EOI
            if not seen_sos:
                raise MetadataError("JPEG without SOS")
            out.append(b"\xff\xd9")
            if pos < n:
                acc.found.add("other_exif")  # trailer: motion-photo video, extra images, ...
            break
        if marker == 0xD8 or marker == 0x00:
            raise MetadataError(f"corrupt JPEG: unexpected marker 0x{marker:02X} at {pos - 1}")
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # RSTn / TEM: no length
            out.append(bytes((0xFF, marker)))
            continue
        if pos + 2 > n:
            raise MetadataError("truncated JPEG segment")
        length = (data[pos] << 8) | data[pos + 1]
        end = pos + length
        if length < 2 or end > n:
            raise MetadataError(f"truncated JPEG: segment at offset {pos - 2} runs past the end")
        payload = mv[pos + 2 : end]
        seg = mv[pos - 2 : end]
        pos = end

        if 0xE0 <= marker <= 0xEF or marker == 0xFE:
            if seen_sos:  # between scans decoders ignore them: all dropped, nothing taken over
                stray = _Acc("jpeg")
                _jpeg_app(marker, payload, stray)
                acc.found.update(stray.found or {"other_exif"})
                continue
            if marker == 0xE1 and bytes(payload[:5]) == _EXIF_ID and exif_slot is None:
                exif_slot = len(out)
            kept = _jpeg_app(marker, payload, acc)
            if kept is _KEEP_ICC:
                icc_parts.append((len(out), payload))
                out.append(seg)
            elif kept is not None:
                out.append(kept)
            continue
        if marker in _SOF_MARKERS:
            seen_sof = True
        elif marker == 0xDB:
            seen_dqt = True
        elif marker == 0xDA:
            if not (seen_sof and seen_dqt):
                raise MetadataError("corrupt JPEG: scan before frame header/quantization tables")
        elif marker not in (0xC4, 0xCC, 0xDD, 0xDC):
            raise MetadataError(f"unsupported JPEG marker 0x{marker:02X} at offset {pos - 2}")
        _jpeg_check_tables(marker, bytes(payload), pos - length - 2)
        out.append(seg)
        if marker == 0xDA:
            seen_sos = True
            # entropy-coded data: up to the next marker that is not RSTn or a stuffed 0xFF00
            p = pos
            while True:
                f = data.find(b"\xff", p)
                if f < 0:
                    raise MetadataError("truncated JPEG: no end-of-image marker")
                after = _NOT_FF.search(data, f)
                if after is None:
                    raise MetadataError("truncated JPEG: no end-of-image marker")
                q = after.start()
                nb = data[q]
                if nb == 0x00 or 0xD0 <= nb <= 0xD7:
                    p = q + 1
                    continue
                break
            out.append(mv[pos:f])
            pos = f
    else:
        raise MetadataError("corrupt JPEG: too many segments")

    _jpeg_fix_icc(icc_parts, out, acc)
    new = acc.new_exif(keep_capture_date)
    if new is not None:
        seg_payload = b"Exif\x00\x00" + new
        app1 = b"\xff\xe1" + (len(seg_payload) + 2).to_bytes(2, "big") + seg_payload
        out.insert(exif_slot if exif_slot is not None else 1, app1)
    return out


_KEEP_ICC = b"ICC"  # sentinel returned by _jpeg_app


def _jpeg_app(marker: int, p: memoryview, acc: _Acc) -> bytes | None:
    """Decide on an APPn/COM segment: return the segment to write (None: dropped), or
    _KEEP_ICC for an ICC chunk kept as it is (checked once all chunks are known)."""
    head = bytes(p[:40])
    if marker == 0xE0:
        if head.startswith(b"JFIF\x00") and len(p) >= 14:
            # rewritten canonically: version, units, densities; a thumbnail (if any) is dropped
            if p[12] or p[13] or len(p) > 14:
                acc.found.add("thumbnail" if p[12] and p[13] else "other_exif")
            body = b"JFIF\x00" + bytes(p[5:12]) + b"\x00\x00"
            return b"\xff\xe0" + (len(body) + 2).to_bytes(2, "big") + body
        acc.found.add("thumbnail" if head.startswith(b"JFXX\x00") else "other_exif")
    elif marker == 0xE1:
        if head.startswith(_EXIF_ID):
            parse_exif(bytes(p[6:])).merge_into(acc)
        elif head.startswith(_XMP_IDS):
            acc.found.add("xmp")
        else:
            acc.found.add("other_exif")
    elif marker == 0xE2 and head.startswith(_ICC_ID) and len(p) > 14:
        return _KEEP_ICC
    elif marker == 0xED:
        acc.found.add("iptc")
    elif marker == 0xEE and head.startswith(b"Adobe") and len(p) >= 12:
        body = bytes(p[:12])  # "Adobe", version, flags0, flags1, transform
        if len(p) > 12:
            acc.found.add("other_exif")
        return b"\xff\xee" + (len(body) + 2).to_bytes(2, "big") + body
    elif marker == 0xFE:
        acc.found.add("comment")
    else:
        acc.found.add("other_exif")  # MPF, FPXR, unknown APPn
    return None


def _jpeg_fix_icc(parts: list[tuple[int, memoryview]], out: list, acc: _Acc) -> None:
    """Keep the ICC profile only if its chunks assemble into a plausible profile."""
    if not parts:
        return
    chunks = sorted((p[12], p[13], bytes(p[14:])) for _, p in parts)
    count = chunks[0][1]
    ok = (
        count == len(chunks)
        and all(c[1] == count for c in chunks)
        and [c[0] for c in chunks] == list(range(1, count + 1))
        and _valid_icc(b"".join(c[2] for c in chunks))
    )
    if ok:
        acc.icc = True
        return
    acc.found.add("other_exif")
    for i, _ in parts:
        out[i] = b""

