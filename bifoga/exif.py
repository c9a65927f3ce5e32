"""EXIF (TIFF structure) reading and writing, and the metadata categories tags fall into.

Part of :mod:`bifoga.metadata` (the public interface): plain Python, no Pillow, runs in Pyodide.
A broken EXIF block is never a reason to refuse an image: :func:`parse_exif` files it under
"other_exif" (it is dropped as a whole anyway).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bifoga.meta_common import _Acc

#: Category keys, in the order they are reported. User-visible labels live in the app catalogue.
CATEGORIES: tuple[str, ...] = (
    "gps",  # GPS IFD
    "camera",  # make, model, lens, serial numbers, owner name, unique image id
    "maker_notes",  # MakerNote (vendor blob, often with serials and more)
    "datetime",  # DateTime, DateTimeOriginal, DateTimeDigitized, offsets/subseconds, PNG tIME
    "xmp",  # XMP packets (JPEG APP1, PNG iTXt XML:com.adobe.xmp, WebP XMP chunk)
    "iptc",  # APP13 Photoshop/IPTC
    "comment",  # JPEG COM, PNG text chunks, EXIF UserComment/ImageDescription
    "thumbnail",  # EXIF IFD1 thumbnail, JFIF/JFXX thumbnails
    "other_exif",  # every other EXIF tag, unknown segments/chunks, data after the image end
)

_MAX_IFDS = 16  # IFD0 + chain + Exif/GPS/Interop: real files have <= 5

_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}

_TAG_ORIENTATION = 0x0112
_TAG_DATETIME = 0x0132
_TAG_EXIF_IFD = 0x8769
_TAG_GPS_IFD = 0x8825
_TAG_INTEROP_IFD = 0xA005
_TAG_DATETIME_ORIGINAL = 0x9003
_TAG_DATETIME_DIGITIZED = 0x9004

_TAG_CATEGORY = {
    # camera / device identity
    0x010F: "camera",  # Make
    0x0110: "camera",  # Model
    0xA420: "camera",  # ImageUniqueID
    0xA430: "camera",  # CameraOwnerName
    0xA431: "camera",  # BodySerialNumber
    0xA433: "camera",  # LensMake
    0xA434: "camera",  # LensModel
    0xA435: "camera",  # LensSerialNumber
    0xC614: "camera",  # UniqueCameraModel (DNG)
    0xC62F: "camera",  # CameraSerialNumber (DNG)
    # maker notes
    0x927C: "maker_notes",  # MakerNote
    0xC634: "maker_notes",  # DNGPrivateData
    # dates
    0x0132: "datetime",  # DateTime
    0x9003: "datetime",  # DateTimeOriginal
    0x9004: "datetime",  # DateTimeDigitized
    0x9010: "datetime",  # OffsetTime
    0x9011: "datetime",  # OffsetTimeOriginal
    0x9012: "datetime",  # OffsetTimeDigitized
    0x9290: "datetime",  # SubSecTime
    0x9291: "datetime",  # SubSecTimeOriginal
    0x9292: "datetime",  # SubSecTimeDigitized
    # text
    0x010E: "comment",  # ImageDescription
    0x9286: "comment",  # UserComment
    0x9C9B: "comment",  # XPTitle
    0x9C9C: "comment",  # XPComment
    0x9C9E: "comment",  # XPKeywords
    0x9C9F: "comment",  # XPSubject
    # embedded packets
    0x02BC: "xmp",  # XMLPacket
    0x83BB: "iptc",  # IPTC-NAA
}

_DATE_RE = re.compile(rb"(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")


class _CorruptExif(Exception):
    pass


@dataclass
class _ExifInfo:
    categories: set[str] = field(default_factory=set)
    orientation: int | None = None
    dates: dict[int, str] = field(default_factory=dict)

    @property
    def capture_date(self) -> str | None:
        for tag in (_TAG_DATETIME_ORIGINAL, _TAG_DATETIME_DIGITIZED, _TAG_DATETIME):
            if tag in self.dates:
                return self.dates[tag]
        return None

    def merge_into(self, acc: _Acc) -> None:
        acc.found.update(self.categories)
        if not acc.exif_seen:  # like decoders, only the first EXIF block counts
            acc.orientation = self.orientation
            acc.capture_date = self.capture_date
        acc.exif_seen = True


def _parse_date(raw: bytes) -> str | None:
    m = _DATE_RE.match(raw)
    if not m:
        return None
    y, mo, d, h, mi, s = (int(g) for g in m.groups())
    if not (1 <= y and 1 <= mo <= 12 and 1 <= d <= 31 and h <= 23 and mi <= 59 and s <= 60):
        return None
    return f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}"


def parse_exif(tiff: bytes) -> _ExifInfo:
    """Categorise a TIFF-structured EXIF block. Never raises: a corrupt block is "other_exif"."""
    info = _ExifInfo()
    try:
        _walk_tiff(tiff, info)
    except _CorruptExif:
        info.categories.add("other_exif")
    return info


def _walk_tiff(t: bytes, info: _ExifInfo) -> None:
    n = len(t)
    if n < 8:
        raise _CorruptExif("short")
    if t[:2] == b"II":
        bo = "<"
    elif t[:2] == b"MM":
        bo = ">"
    else:
        raise _CorruptExif("byte order")
    u16 = struct.Struct(bo + "H").unpack_from
    u32 = struct.Struct(bo + "I").unpack_from
    if u16(t, 2)[0] != 42:
        raise _CorruptExif("magic")
    visited: set[int] = set()

    def read_ifd(off: int) -> tuple[list[tuple[int, int, int, int]], int]:
        if off in visited or len(visited) >= _MAX_IFDS:
            raise _CorruptExif("IFD loop")
        visited.add(off)
        if off < 8 or off + 2 > n:
            raise _CorruptExif("IFD offset")
        count = u16(t, off)[0]
        end = off + 2 + 12 * count
        if end > n:
            raise _CorruptExif("IFD entries")
        entries = []
        for i in range(count):
            p = off + 2 + 12 * i
            tag, typ, cnt = struct.unpack_from(bo + "HHI", t, p)
            entries.append((tag, typ, cnt, p + 8))
        nxt = u32(t, end)[0] if end + 4 <= n else 0
        return entries, nxt

    def value(typ: int, cnt: int, pos: int) -> bytes:
        size = _TYPE_SIZES.get(typ)
        if size is None:
            raise _CorruptExif("type")
        total = size * cnt
        if total <= 4:
            return t[pos : pos + total]
        off = u32(t, pos)[0]
        if off + total > n:
            raise _CorruptExif("value offset")
        return t[off : off + total]

    def pointer(typ: int, cnt: int, pos: int) -> int:
        if cnt != 1 or typ not in (4, 13, 7):
            raise _CorruptExif("pointer")
        return u32(t, pos)[0]

    def note_date(tag: int, typ: int, cnt: int, pos: int) -> None:
        if typ == 2:
            d = _parse_date(value(typ, cnt, pos))
            if d:
                info.dates.setdefault(tag, d)

    # IFD0
    entries, ifd1 = read_ifd(u32(t, 4)[0])
    sub: list[tuple[str, int]] = []
    for tag, typ, cnt, pos in entries:
        if tag == _TAG_ORIENTATION:
            o = None
            if typ in (3, 4) and cnt >= 1:
                o = u16(t, pos)[0] if typ == 3 else u32(t, pos)[0]
            if o is not None and 1 <= o <= 8:
                info.orientation = o
            else:
                info.categories.add("other_exif")
        elif tag == _TAG_EXIF_IFD:
            sub.append(("exif", pointer(typ, cnt, pos)))
        elif tag == _TAG_GPS_IFD:
            info.categories.add("gps")
            sub.append(("gps", pointer(typ, cnt, pos)))
        else:
            info.categories.add(_TAG_CATEGORY.get(tag, "other_exif"))
            if tag == _TAG_DATETIME:
                note_date(tag, typ, cnt, pos)
    if ifd1:
        info.categories.add("thumbnail")
    while sub:
        kind, off = sub.pop(0)
        sub_entries, _ = read_ifd(off)
        for tag, typ, cnt, pos in sub_entries:
            if kind == "gps":
                info.categories.add("gps")
            elif kind == "interop":
                info.categories.add("other_exif")
            elif tag == _TAG_INTEROP_IFD:
                sub.append(("interop", pointer(typ, cnt, pos)))
            elif tag == _TAG_GPS_IFD:  # misplaced, still GPS
                info.categories.add("gps")
                sub.append(("gps", pointer(typ, cnt, pos)))
            else:
                info.categories.add(_TAG_CATEGORY.get(tag, "other_exif"))
                if tag in (_TAG_DATETIME_ORIGINAL, _TAG_DATETIME_DIGITIZED):
                    note_date(tag, typ, cnt, pos)
    if ifd1:
        read_ifd(ifd1)  # only to notice corruption; IFD1 is the thumbnail, dropped anyway


def build_exif(orientation: int | None, capture_date: str | None = None) -> bytes:
    """A minimal little-endian TIFF/EXIF block: IFD0 Orientation (if given) and, if
    ``capture_date`` (ISO "YYYY-MM-DDTHH:MM:SS") is given, an Exif IFD with DateTimeOriginal."""
    ifd0: list[tuple[int, int, int, bytes]] = []
    if orientation is not None:
        ifd0.append((_TAG_ORIENTATION, 3, 1, struct.pack("<HH", orientation, 0)))
    date_raw = b""
    if capture_date:
        date_raw = (
            capture_date.replace("-", ":", 2).replace("T", " ", 1).encode("ascii")[:19] + b"\x00"
        )
    ifd0_size = 2 + 12 * (len(ifd0) + (1 if date_raw else 0)) + 4
    exif_off = 8 + ifd0_size
    if date_raw:
        ifd0.append((_TAG_EXIF_IFD, 4, 1, struct.pack("<I", exif_off)))
    out = bytearray(b"II*\x00" + struct.pack("<I", 8))
    out += struct.pack("<H", len(ifd0))
    for tag, typ, cnt, val in ifd0:
        out += struct.pack("<HHI", tag, typ, cnt) + val
    out += b"\x00\x00\x00\x00"
    if date_raw:
        str_off = exif_off + 2 + 12 + 4
        out += struct.pack("<H", 1)
        out += struct.pack("<HHII", _TAG_DATETIME_ORIGINAL, 2, len(date_raw), str_off)
        out += b"\x00\x00\x00\x00"
        out += date_raw
    return bytes(out)


def _gps_blobs(tiff: bytes) -> list[bytes]:
    """Distinctive raw bytes of a TIFF block's GPS IFD: its entries and its longer values."""
    blobs = []
    try:
        bo = "<" if tiff[:2] == b"II" else ">"
        ifd0 = struct.unpack_from(bo + "I", tiff, 4)[0]
        for i in range(min(struct.unpack_from(bo + "H", tiff, ifd0)[0], 1000)):
            tag, _, _, gps = struct.unpack_from(bo + "HHII", tiff, ifd0 + 2 + 12 * i)
            if tag != _TAG_GPS_IFD:
                continue
            count = min(struct.unpack_from(bo + "H", tiff, gps)[0], 1000)
            blobs.append(tiff[gps : gps + 2 + 12 * count])
            for j in range(count):
                _, typ, cnt, off = struct.unpack_from(bo + "HHII", tiff, gps + 2 + 12 * j)
                size = _TYPE_SIZES.get(typ, 0) * cnt
                if size > 4:
                    blobs.append(tiff[off : off + min(size, 4096)])
            break
    except struct.error:
        pass
    # too short or too plain to be told apart from other data
    return [b for b in blobs if len(b) >= 14 and sum(1 for c in b if c) >= 4]
