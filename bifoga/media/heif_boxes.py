"""HEIF / HEIC structure: ISO-BMFF boxes, the items ('iinf', 'iloc') and their properties.

Read by :mod:`bifoga.media.heif_meta`, which scrubs the metadata in place. Part of
:mod:`bifoga.media.metadata` (the public interface): plain Python, no Pillow. CPython only
(Pyodide in the heavy worker, the server): it uses dataclasses, which MicroPython lacks, and the
light worker hands HEIF files to the heavy one.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from bifoga.media.meta_common import MetadataError, _Acc

# Display transforms as 2x2 matrices (y axis up) and the EXIF Orientation they correspond to.
_CCW90, _FLIP_LR, _FLIP_TB, _IDENTITY = (0, -1, 1, 0), (-1, 0, 0, 1), (1, 0, 0, -1), (1, 0, 0, 1)
_ORIENTATION_OF = {
    _IDENTITY: 1, _FLIP_LR: 2, (-1, 0, 0, -1): 3, _FLIP_TB: 4,
    (0, -1, -1, 0): 5, (0, 1, -1, 0): 6, (0, 1, 1, 0): 7, _CCW90: 8,
}  # fmt: skip


@dataclass
class _Box:
    type: bytes
    start: int  # the size field
    header: int  # after size, type and largesize (where a 'uuid' box's user type starts)
    body: int  # the payload
    end: int


@dataclass
class _Item:
    type: bytes
    content_type: bytes = b""
    encoding: bytes = b""
    method: int = 0  # construction method: 0 file offset, 1 idat offset, 2 item offset
    ref_index: int = 0  # data_reference_index: 0 is this file
    base: int = 0
    extents: list[tuple[int, int]] = field(default_factory=list)
    located: bool = False


class _Fields:
    """Big-endian fields of one box's payload; reading past its end is a MetadataError."""

    def __init__(self, data: bytes, box: _Box) -> None:
        self.data, self.pos, self.end, self.box = data, box.body, box.end, box

    def uint(self, size: int) -> int:
        if self.pos + size > self.end:
            raise MetadataError(
                f"corrupt HEIF: truncated {self.box.type!r} box at offset {self.box.start}"
            )
        value = int.from_bytes(self.data[self.pos : self.pos + size], "big")
        self.pos += size
        return value

    def full_box(self) -> tuple[int, int]:
        return self.uint(1), self.uint(3)

    def cstr(self) -> bytes:
        """A NUL-terminated string (a missing NUL at the end of the box is tolerated)."""
        nul = self.data.find(b"\x00", self.pos, self.end)
        stop = self.end if nul < 0 else nul
        value = self.data[self.pos : stop]
        self.pos = min(stop + 1, self.end)
        return value


def _heif_boxes(data: bytes, start: int, end: int, where: str, budget: list[int]) -> list[_Box]:
    boxes = []
    pos = start
    while pos < end:
        budget[0] -= 1
        if budget[0] < 0:
            raise MetadataError("corrupt HEIF: too many boxes")
        if pos + 8 > end:
            raise MetadataError(f"truncated HEIF: box header at offset {pos} in {where}")
        size = int.from_bytes(data[pos : pos + 4], "big")
        btype = data[pos + 4 : pos + 8]
        header = pos + 8
        if size == 1:
            if pos + 16 > end:
                raise MetadataError(f"truncated HEIF: box header at offset {pos} in {where}")
            size = int.from_bytes(data[pos + 8 : pos + 16], "big")
            header = pos + 16
        elif size == 0:  # up to the end of the enclosing box or file
            size = end - pos
        body = header + 16 if btype == b"uuid" else header
        if pos + size > end:
            raise MetadataError(
                f"truncated HEIF: {btype!r} box at offset {pos} runs past the end of {where}"
            )
        if body > pos + size:
            raise MetadataError(f"corrupt HEIF: bad size of the {btype!r} box at offset {pos}")
        boxes.append(_Box(btype, pos, header, body, pos + size))
        pos += size
    return boxes


def _heif_iinf(data: bytes, iinf: _Box, budget: list[int]) -> dict[int, _Item]:
    f = _Fields(data, iinf)
    version, _ = f.full_box()
    f.uint(2 if version == 0 else 4)  # entry count: the infe boxes themselves are what counts
    items: dict[int, _Item] = {}
    for infe in _heif_boxes(data, f.pos, iinf.end, "iinf", budget):
        if infe.type != b"infe":
            continue
        g = _Fields(data, infe)
        v, _ = g.full_box()
        if v < 2:  # no item type: a (MIME-typed) metadata item
            item_id = g.uint(2)
            g.uint(2)  # protection index
            g.cstr()  # name
            item = _Item(b"mime", g.cstr(), g.cstr())
        elif v <= 3:
            item_id = g.uint(2 if v == 2 else 4)
            g.uint(2)  # protection index
            item = _Item(data[g.pos : g.pos + 4])
            g.uint(4)
            g.cstr()  # name
            if item.type == b"mime":
                item.content_type, item.encoding = g.cstr(), g.cstr()
        else:
            raise MetadataError(f"unsupported HEIF: infe box version {v}")
        if item_id in items:
            raise MetadataError(f"corrupt HEIF: item {item_id} is declared twice")
        items[item_id] = item
    return items


def _heif_iloc(data: bytes, iloc: _Box, items: dict[int, _Item], budget: list[int]) -> None:
    f = _Fields(data, iloc)
    version, _ = f.full_box()
    if version > 2:
        raise MetadataError(f"unsupported HEIF: iloc box version {version}")
    sizes = f.uint(1)
    offset_size, length_size = sizes >> 4, sizes & 15
    sizes = f.uint(1)
    base_size, index_size = sizes >> 4, (sizes & 15 if version else 0)
    if any(s not in (0, 4, 8) for s in (offset_size, length_size, base_size, index_size)):
        raise MetadataError("corrupt HEIF: bad field size in the iloc box")
    for _ in range(f.uint(2 if version < 2 else 4)):
        item_id = f.uint(2 if version < 2 else 4)
        method = f.uint(2) & 15 if version else 0
        ref_index, base, count = f.uint(2), f.uint(base_size), f.uint(2)
        if count > 1 and not (offset_size or length_size or index_size):
            raise MetadataError("corrupt HEIF: item extents without offsets or lengths")
        budget[0] -= 1 + count
        if budget[0] < 0:
            raise MetadataError("corrupt HEIF: too many item extents")
        extents = []
        for _ in range(count):
            f.uint(index_size)
            extents.append((f.uint(offset_size), f.uint(length_size)))
        item = items.get(item_id)
        if item is None:
            raise MetadataError(f"corrupt HEIF: location of the undeclared item {item_id}")
        if item.located:
            raise MetadataError(f"corrupt HEIF: item {item_id} is located twice")
        item.method, item.ref_index, item.base, item.extents = method, ref_index, base, extents
        item.located = True


def _heif_ranges(
    item_id: int, item: _Item, n: int, idat: _Box | None
) -> list[tuple[int, int]] | None:
    """Absolute byte ranges of an item's data; None when it is built from another item."""
    if item.method == 0:
        lo, hi, where = 0, n, "the file"
    elif item.method == 1:
        if idat is None:
            raise MetadataError(f"corrupt HEIF: item {item_id} is in a missing idat box")
        lo, hi, where = idat.body, idat.end, "the idat box"
    elif item.method == 2:
        return None
    else:
        raise MetadataError(f"unsupported HEIF: construction method {item.method}")
    ranges = []
    for offset, length in item.extents:
        start = lo + item.base + offset
        end = hi if length == 0 else start + length  # length 0: the rest
        if start > hi or end > hi:
            raise MetadataError(f"truncated HEIF: item {item_id} runs past the end of {where}")
        if end > start:
            ranges.append((start, end))
    return ranges


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _overlaps(merged: list[tuple[int, int]], starts: list[int], r: tuple[int, int]) -> bool:
    i = bisect.bisect_right(starts, r[0]) - 1
    if i >= 0 and merged[i][1] > r[0]:
        return True
    return i + 1 < len(merged) and merged[i + 1][0] < r[1]


def _heif_properties(
    data: bytes, out: bytearray, iprp: _Box, primary: int, acc: _Acc, budget: list[int]
) -> int | None:
    """Scrub descriptive properties; return the primary item's orientation (EXIF-like 1..8)."""
    ipco, ipmas = None, []
    for box in _heif_boxes(data, iprp.body, iprp.end, "iprp", budget):
        if box.type == b"ipco":
            if ipco is not None:
                raise MetadataError("corrupt HEIF: more than one ipco box")
            ipco = box
        elif box.type == b"ipma":
            ipmas.append(box)
    if ipco is None:
        raise MetadataError("corrupt HEIF: no ipco box")
    props = _heif_boxes(data, ipco.body, ipco.end, "ipco", budget)
    for p in props:
        if p.type == b"colr" and data[p.body : p.body + 4] in (b"prof", b"rICC"):
            acc.icc = True
        elif p.type in (b"udes", b"crtt", b"mdft") and p.end > p.body + 4:
            # user description (name, description, tags) / creation and modification times:
            # all-zero payloads are valid (empty strings, time 0)
            if any(data[p.body + 4 : p.end]):
                acc.found.add("comment" if p.type == b"udes" else "datetime")
            out[p.body + 4 : p.end] = bytes(p.end - p.body - 4)
    associated: list[_Box] | None = None
    for ipma in ipmas:
        f = _Fields(data, ipma)
        version, flags = f.full_box()
        for _ in range(f.uint(4)):
            budget[0] -= 1
            if budget[0] < 0:
                raise MetadataError("corrupt HEIF: too many property associations")
            item_id = f.uint(2 if version < 1 else 4)
            count = f.uint(1)
            if flags & 1:
                indices = [f.uint(2) & 0x7FFF for _ in range(count)]
            else:
                indices = [f.uint(1) & 0x7F for _ in range(count)]
            if item_id == primary and associated is None:
                associated = [props[i - 1] for i in indices if 0 < i <= len(props)]
    transform = None
    for p in associated or ():
        if p.end <= p.body or p.type not in (b"irot", b"imir"):
            continue
        transform = transform or _IDENTITY
        if p.type == b"irot":  # angle * 90 degrees anti-clockwise
            for _ in range(data[p.body] & 3):
                transform = _matmul(_CCW90, transform)
        else:  # ISO/IEC 23008-12:2022: axis 0 exchanges top and bottom, 1 left and right
            transform = _matmul(_FLIP_LR if data[p.body] & 1 else _FLIP_TB, transform)
    return None if transform is None else _ORIENTATION_OF[transform]


def _matmul(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, int, int, int]:
    return (
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
    )

