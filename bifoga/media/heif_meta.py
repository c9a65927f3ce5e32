"""HEIF / HEIC metadata removal, in place (ISO/IEC 23008-12: items described by ISO-BMFF boxes
inside a top-level 'meta').

Part of :mod:`bifoga.media.metadata` (the public interface): plain Python, no Pillow. CPython
only (Pyodide in the heavy worker, the server), as bifoga.media.heif_boxes.
"""

from __future__ import annotations

import bisect

from bifoga.media.exif import _gps_blobs, build_exif, parse_exif
from bifoga.media.heif_boxes import (
    _Box,
    _Fields,
    _heif_boxes,
    _heif_iinf,
    _heif_iloc,
    _heif_properties,
    _heif_ranges,
    _Item,
    _merged,
    _overlaps,
)
from bifoga.media.meta_common import _MAX_PARTS, MetadataError, _Acc

# Nothing moves, so no offset anywhere (iloc, tile data in mdat) needs to change: every Exif item
# is overwritten in place by a minimal valid Exif payload of the same length, every XMP item by
# an empty XMP packet of the same length, other metadata items by zeros, metadata boxes become
# 'free' boxes of the same size, and data-box bytes that no picture item uses are zeroed. The
# coded picture data is copied byte for byte. HEIF readers take the orientation from the primary
# item's 'irot'/'imir' properties (kept), not from the Exif; the EXIF Orientation is written back
# all the same, for readers that use it, so no reader shows the picture turned differently.

#: Item types that are pictures (coded or derived from others): kept byte for byte.
_HEIF_IMAGE_ITEMS = frozenset(
    {
        b"hvc1", b"hev1", b"hvt1", b"lhv1", b"grid", b"iovl", b"iden", b"av01", b"avc1",
        b"jpeg", b"j2k1", b"vvc1", b"vvi1", b"evc1", b"unci", b"mski", b"tmap",
    }
)  # fmt: skip
#: Item types that only describe a picture: overwritten.
_HEIF_META_ITEMS = frozenset({b"Exif", b"mime", b"uri "})
#: 'meta' children that may occur once each; the others listed are kept; any other is freed.
_HEIF_META_SINGLE = frozenset(
    {b"hdlr", b"pitm", b"iinf", b"iloc", b"iprp", b"iref", b"idat", b"dinf"}
)
_HEIF_META_KEEP = frozenset({b"free", b"skip", b"grpl", b"ipro", b"ipmc", b"fiin"})
_XMP_UUID = bytes.fromhex("be7acfcb97a942e89c71999491e3afac")
_XMP_HEAD = (
    b"<?xpacket begin='' id='W5M0MpCehiHzreSzNTczkc9d'?><x:xmpmeta xmlns:x='adobe:ns:meta/'/>"
)
_XMP_TAIL = b"<?xpacket end='w'?>"


def _heif_free(data: bytes, out: bytearray, box: _Box, acc: _Acc) -> None:
    """Turn a metadata box into a 'free' box of the same size with a zeroed payload."""
    body = data[box.header : box.end]
    if box.type in (b"xml ", b"bxml") or (box.type == b"uuid" and body[:16] == _XMP_UUID):
        acc.found.add("xmp")
    else:
        acc.found.add("other_exif")
    if b"\xa9xyz" in body or b"location.ISO6709" in body:  # QuickTime-style position
        acc.found.add("gps")
    out[box.start + 4 : box.start + 8] = b"free"
    out[box.header : box.end] = bytes(box.end - box.header)


def _heif_moov(data: bytes, out: bytearray, moov: _Box, acc: _Acc, budget: list[int]) -> None:
    """An image sequence: free the movie's and tracks' metadata boxes; refuse timed metadata."""
    for box in _heif_boxes(data, moov.body, moov.end, "moov", budget):
        if box.type in (b"udta", b"meta", b"uuid"):
            _heif_free(data, out, box, acc)
        elif box.type == b"trak":
            for sub in _heif_boxes(data, box.body, box.end, "trak", budget):
                if sub.type in (b"udta", b"meta", b"uuid"):
                    _heif_free(data, out, sub, acc)
                elif sub.type == b"mdia":
                    for m in _heif_boxes(data, sub.body, sub.end, "mdia", budget):
                        handler = data[m.body + 8 : m.body + 12]
                        if m.type == b"hdlr" and handler not in (b"pict", b"vide", b"auxv"):
                            raise MetadataError(f"unsupported HEIF: a {handler!r} track")


def _heif_exif_tiff(payload: bytes) -> tuple[bytes | None, bool]:
    """The TIFF block of an Exif item and whether "Exif\\0\\0" precedes it. The payload starts
    with the 4-byte offset of the TIFF header; some writers get it wrong, so the two usual
    layouts are tried as well."""
    body = payload[4:]
    offset = int.from_bytes(payload[:4], "big") if len(payload) >= 4 else len(body)
    for at in (offset, 6, 0):
        if at < len(body) and body[at : at + 4] in (b"II*\x00", b"MM\x00*"):
            return body[at:], body[:at].endswith(b"Exif\x00\x00")
    return None, body.startswith(b"Exif")


def _heif_exif_payload(
    length: int, exif_prefix: bool, orientation: int | None, date: str | None
) -> tuple[bytes, bool]:
    """A valid Exif item payload of exactly ``length`` bytes: offset field, ["Exif\\0\\0"], a
    minimal TIFF block (the Orientation and the DateTimeOriginal if given and if there is room),
    zero padding. Also returns whether the date was written."""
    wanted = [(orientation, date), (orientation, None), (None, None)]
    for o, d in dict.fromkeys(wanted):
        for prefix in (True, False) if exif_prefix else (False,):
            head = (6).to_bytes(4, "big") + b"Exif\x00\x00" if prefix else bytes(4)
            new = head + build_exif(o, d)
            if len(new) <= length:
                return new + bytes(length - len(new)), d is not None
    return bytes(length), False


def _heif_xmp_payload(length: int) -> bytes:
    pad = length - len(_XMP_HEAD) - len(_XMP_TAIL)
    return bytes(length) if pad < 0 else _XMP_HEAD + b" " * pad + _XMP_TAIL


def _heif_blank(payload: bytes) -> bool:
    """All zeros, or the empty XMP packet written by :func:`_heif_xmp_payload`."""
    if not any(payload):
        return True
    head, tail = len(_XMP_HEAD), len(_XMP_TAIL)
    return (
        payload.startswith(_XMP_HEAD)
        and payload.endswith(_XMP_TAIL)
        and not payload[head : len(payload) - tail].strip(b" ")
    )


def _heif(data: bytes, acc: _Acc, keep_capture_date: bool) -> list[bytes | memoryview]:
    n = len(data)
    budget = [_MAX_PARTS]
    out = bytearray(data)
    meta, moov, holders = _heif_top(data, budget)
    if moov is not None:
        _heif_moov(data, out, moov, acc, budget)
    if meta is None:
        if moov is None and any(b.end > b.body for b in holders):
            raise MetadataError("corrupt HEIF: no meta box")
        return _heif_checked(out, [])
    children = _heif_meta_children(data, out, meta, acc, budget)
    items = _heif_iinf(data, children[b"iinf"], budget)
    _heif_iloc(data, children[b"iloc"], items, budget)
    primary = _heif_pitm(data, children[b"pitm"], items)
    idat = children.get(b"idat")
    kept, scrub = _heif_item_ranges(items, n, idat)
    all_scrub = _heif_scrub_placed(holders, idat, kept, scrub)
    jobs, first_exif, gps_blobs = _heif_read_items(data, scrub, acc)
    acc.orientation = _heif_properties(data, out, children[b"iprp"], primary, acc, budget)
    date = acc.capture_date if keep_capture_date else None
    for item, ranges, length, kind, exif_prefix in jobs:
        new = _heif_new_payload(item, length, kind, exif_prefix, first_exif, date, acc)
        pos = 0
        for start, end in ranges:
            out[start:end] = new[pos : pos + end - start]
            pos += end - start
    if moov is None:  # no track refers to data: whatever no item uses is not needed
        _heif_zero_unused(data, out, holders, idat, _merged(kept + all_scrub), acc)
    return _heif_checked(out, gps_blobs)


def _heif_top(data: bytes, budget: list[int]) -> tuple[_Box | None, _Box | None, list[_Box]]:
    """The top-level boxes: the 'meta' and the 'moov' box (each at most once, or None) and the
    data boxes (all others but 'ftyp')."""
    top = _heif_boxes(data, 0, len(data), "the file", budget)
    if any(b.type == b"ftyp" and b.end - b.start > 1024 for b in top):
        raise MetadataError("corrupt HEIF: oversized ftyp box")
    metas = [b for b in top if b.type == b"meta"]
    moovs = [b for b in top if b.type == b"moov"]
    if len(metas) > 1 or len(moovs) > 1:
        raise MetadataError("corrupt HEIF: more than one meta or moov box")
    holders = [b for b in top if b.type not in (b"ftyp", b"meta", b"moov")]
    return (metas[0] if metas else None), (moovs[0] if moovs else None), holders


def _heif_meta_children(
    data: bytes, out: bytearray, meta: _Box, acc: _Acc, budget: list[int]
) -> dict[bytes, _Box]:
    """The 'meta' box's structural children by type (each once; the required ones present);
    metadata boxes among them ('xml ', 'bxml', 'uuid', unknown) are freed."""
    if meta.body + 4 > meta.end:
        raise MetadataError("corrupt HEIF: short meta box")
    children: dict[bytes, _Box] = {}
    for box in _heif_boxes(data, meta.body + 4, meta.end, "meta", budget):
        if box.type in _HEIF_META_SINGLE:
            if box.type in children:
                raise MetadataError(f"corrupt HEIF: more than one {box.type!r} box")
            children[box.type] = box
        elif box.type not in _HEIF_META_KEEP:
            _heif_free(data, out, box, acc)
    for need in (b"hdlr", b"pitm", b"iinf", b"iloc", b"iprp"):
        if need not in children:
            raise MetadataError(f"corrupt HEIF: no {need!r} box")
    return children


def _heif_pitm(data: bytes, pitm: _Box, items: dict[int, _Item]) -> int:
    """The primary item's id, from 'pitm'; it must be a picture."""
    f = _Fields(data, pitm)
    version, _ = f.full_box()
    primary = f.uint(2 if version == 0 else 4)
    if primary not in items or items[primary].type not in _HEIF_IMAGE_ITEMS:
        raise MetadataError("corrupt HEIF: the primary item is not a picture")
    return primary


def _heif_item_ranges(
    items: dict[int, _Item], n: int, idat: _Box | None
) -> tuple[list[tuple[int, int]], list[tuple[_Item, list[tuple[int, int]]]]]:
    """The byte ranges of the picture items (kept, never written) and each metadata item with
    its ranges (to scrub); any other item type is refused."""
    kept: list[tuple[int, int]] = []
    scrub: list[tuple[_Item, list[tuple[int, int]]]] = []
    for item_id, item in items.items():
        if item.type in _HEIF_IMAGE_ITEMS:
            kept += _heif_ranges(item_id, item, n, idat) or []
        elif item.type in _HEIF_META_ITEMS:
            ranges = _heif_ranges(item_id, item, n, idat)
            if ranges is None or item.ref_index != 0:
                raise MetadataError(f"unsupported HEIF: metadata item {item_id} stored elsewhere")
            scrub.append((item, ranges))
        else:
            raise MetadataError(f"unsupported HEIF: item type {item.type!r}")
    return kept, scrub


def _heif_scrub_placed(
    holders: list[_Box],
    idat: _Box | None,
    kept: list[tuple[int, int]],
    scrub: list[tuple[_Item, list[tuple[int, int]]]],
) -> list[tuple[int, int]]:
    """All metadata ranges, sorted, once they are known to lie where data lives (data boxes,
    idat), apart from each other and never over picture data."""
    spaces = sorted([(b.body, b.end) for b in holders] + ([(idat.body, idat.end)] if idat else []))
    space_starts = [s for s, _ in spaces]
    kept_merged = _merged(kept)
    kept_starts = [s for s, _ in kept_merged]
    all_scrub = sorted(r for _, ranges in scrub for r in ranges)
    for i, (start, end) in enumerate(all_scrub):
        j = bisect.bisect_right(space_starts, start) - 1
        if j < 0 or end > spaces[j][1]:
            raise MetadataError("corrupt HEIF: a metadata item lies outside the data boxes")
        if (i and all_scrub[i - 1][1] > start) or _overlaps(kept_merged, kept_starts, (start, end)):
            raise MetadataError("corrupt HEIF: a metadata item overlaps other item data")
    return all_scrub


def _heif_read_items(
    data: bytes, scrub: list[tuple[_Item, list[tuple[int, int]]]], acc: _Acc
) -> tuple[list[tuple], tuple[_Item, int | None] | None, list[bytes]]:
    """Reads what the metadata items hold into acc. Returns a job per item (item, ranges,
    length, kind: "exif", "xmp" or "zero", whether "Exif\\0\\0" precedes its TIFF), the first
    Exif item read with its orientation (its date and orientation count), and the raw GPS IFDs
    found."""
    jobs = []
    first_exif: tuple[_Item, int | None] | None = None
    gps_blobs: list[bytes] = []
    for item, ranges in scrub:
        payload = b"".join(data[s:e] for s, e in ranges)
        exif_prefix = False
        if item.type == b"Exif":
            tiff, exif_prefix = _heif_exif_tiff(payload)
            if tiff is not None:
                info = parse_exif(tiff)
                if not acc.exif_seen:
                    first_exif = (item, info.orientation)
                info.merge_into(acc)
                gps_blobs += _gps_blobs(tiff)
            elif any(payload):
                acc.found.add("other_exif")
            kind = "exif"
        elif item.type == b"mime" and b"xml" in item.content_type.lower() and not item.encoding:
            kind = "xmp"
            if not _heif_blank(payload):
                acc.found.add("xmp")
        else:
            kind = "zero"
            if any(payload):
                acc.found.add("xmp" if b"xml" in item.content_type.lower() else "other_exif")
        jobs.append((item, ranges, len(payload), kind, exif_prefix))
    return jobs, first_exif, gps_blobs


def _heif_new_payload(
    item: _Item,
    length: int,
    kind: str,
    exif_prefix: bool,
    first_exif: tuple[_Item, int | None] | None,
    date: str | None,
    acc: _Acc,
) -> bytes:
    """What a metadata item's ``length`` bytes become (see :func:`_heif_read_items`)."""
    if kind == "exif":
        # The EXIF Orientation goes back in: HEIF readers go by 'irot'/'imir' and ignore it,
        # others use it; either way the picture stands as before.
        first = first_exif is not None and item is first_exif[0]
        exif_orientation = first_exif[1] if first_exif is not None else None
        orientation = exif_orientation if first and exif_orientation != 1 else None
        wanted = date if first else None
        new, written = _heif_exif_payload(length, exif_prefix, orientation, wanted)
        if wanted and not written:
            acc.date_dropped = True
        return new
    if kind == "xmp":
        return _heif_xmp_payload(length)
    return bytes(length)


def _heif_zero_unused(
    data: bytes,
    out: bytearray,
    holders: list[_Box],
    idat: _Box | None,
    used: list[tuple[int, int]],
    acc: _Acc,
) -> None:
    """Zero the data-box and idat bytes outside the ``used`` ranges (merged, sorted); a data
    box no item uses that is not 'mdat', 'free' or 'skip' is freed as a whole."""
    used_starts = [s for s, _ in used]
    areas = [(b.body, b.end, b) for b in holders]
    if idat is not None:
        areas.append((idat.body, idat.end, None))
    for start, end, box in sorted(areas, key=lambda a: a[0]):
        i = max(bisect.bisect_right(used_starts, start) - 1, 0)
        inside = []
        while i < len(used) and used[i][0] < end:
            if used[i][1] > start:
                inside.append(used[i])
            i += 1
        if box is not None and box.type not in (b"mdat", b"free", b"skip") and not inside:
            _heif_free(data, out, box, acc)  # 'uuid' XMP, a motion photo's video, ...
            continue
        pos = start
        for s, e in inside:
            _heif_zero_gap(data, out, pos, min(s, end), acc)
            pos = max(pos, e)
        _heif_zero_gap(data, out, pos, end, acc)


def _heif_checked(out: bytearray, gps_blobs: list[bytes]) -> list[bytes | memoryview]:
    """Last line of defence: no position may survive anywhere, not even as picture data or in
    data that tracks use: neither the raw GPS IFDs found in the Exif items, nor any other
    TIFF/Exif structure with a GPS IFD (random picture data practically never has one)."""
    if any(blob in out for blob in gps_blobs) or _tiff_gps_anywhere(out):
        raise MetadataError("unsupported HEIF: the GPS position could not be removed")
    return [bytes(out)]


def _tiff_gps_anywhere(out: bytes | bytearray) -> bool:
    """True if any TIFF/Exif structure in the bytes has a GPS IFD."""
    for signature in (b"II*\x00", b"MM\x00*"):
        pos = out.find(signature)
        for _ in range(64):
            if pos < 0:
                break
            if "gps" in parse_exif(bytes(out[pos : pos + 0x100000])).categories:
                return True
            pos = out.find(signature, pos + 1)
        else:
            raise MetadataError("unsupported HEIF: too many TIFF headers in the data")
    return False


def _heif_zero_gap(data: bytes, out: bytearray, start: int, end: int, acc: _Acc) -> None:
    if end > start and any(data[start:end]):
        acc.found.add("other_exif")
        out[start:end] = bytes(end - start)

