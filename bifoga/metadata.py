"""Lossless removal of identifying metadata from photos (JPEG, PNG, WebP).

Plain Python 3.11+ with only the standard library: it runs in CPython (tests, reference server) and
in the browser's Pyodide worker. Pillow is deliberately not imported here; the Pillow-dependent
parts (decode checks, re-encoding) live in :mod:`bifoga.imaging`.

What is removed: GPS position, camera make/model and serial numbers, maker notes, dates (unless the
user chooses to keep the capture date), XMP, IPTC/Photoshop blocks, comments and text chunks, EXIF
thumbnails, every other EXIF tag, unknown application segments/chunks and anything appended after
the end of the image (for example the video of a "motion photo" or extra images of a multi-picture
file, whose own metadata could carry the position).

What is kept: everything needed to display the picture exactly as before: the compressed image data
byte for byte (so the decoded pixels are identical), the colour profile (ICC), the JFIF and Adobe
(APP14, needed for CMYK/YCCK) headers, PNG colour/transparency/animation chunks, and the EXIF
Orientation, which is written back in a freshly built minimal EXIF block (optionally with
DateTimeOriginal when ``keep_capture_date`` is set).

Other formats (GIF, HEIC, AVIF, TIFF, ...) are returned unchanged: removing HEIC/AVIF metadata
losslessly would need a rewrite of the ISO-BMFF item structure, and the fallback of re-encoding
needs a decoder we do not have in the browser, so the caller decides what to do with them
(HEIC is sent as-is).

Any structurally broken image (truncated segment, length past the end, missing SOS/EOI/IEND, bad
PNG CRC, nonsensical RIFF size, ...) is refused with :class:`MetadataError`. A broken EXIF block,
on the other hand, is not a reason to refuse the image: it is dropped as a whole anyway.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass, field

__all__ = [
    "CATEGORIES",
    "MetadataError",
    "Report",
    "StripResult",
    "detect_format",
    "inspect",
    "strip",
]

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
_MAX_PARTS = 100_000  # segments/chunks per file: real files have far fewer; bounds the time


class MetadataError(ValueError):
    """The data is not a well-formed image of the format it claims to be."""


@dataclass
class Report:
    """What an image carries.

    ``format``: "jpeg", "png", "webp" (handled), "gif", "heic", "heif", "avif", "tiff", "bmp"
    (recognised, not handled) or None (unknown). ``found``: category keys (see CATEGORIES).
    ``orientation``: EXIF Orientation 1..8 or None. ``capture_date``: ISO 8601 local time
    ("2024-05-01T12:34:56") from DateTimeOriginal (else DateTimeDigitized, else DateTime) or None.
    ``icc``: the image has a colour profile (kept, never removed).
    """

    format: str | None
    found: list[str] = field(default_factory=list)
    orientation: int | None = None
    capture_date: str | None = None
    icc: bool = False


@dataclass
class StripResult:
    """Result of :func:`strip`. ``lossless`` is True: the image data is copied unchanged."""

    data: bytes
    removed: list[str]
    orientation: int | None
    lossless: bool = True


# --------------------------------------------------------------------------------------------
# Format detection


def detect_format(data: bytes) -> str | None:
    """Name of the image format from its signature, or None."""
    head = bytes(data[:32])
    if head.startswith(b"\xff\xd8"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:2] == b"BM":
        return "bmp"
    if head[4:8] == b"ftyp":
        size = int.from_bytes(head[:4], "big")
        box = bytes(data[8 : max(16, min(size, 256))])
        brands = {box[i : i + 4] for i in range(0, len(box) - 3, 4)}
        if brands & {b"avif", b"avis"}:
            return "avif"
        if brands & {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis"}:
            return "heic"
        if brands & {b"mif1", b"msf1"}:
            return "heif"
    return None


# --------------------------------------------------------------------------------------------
# EXIF (TIFF structure) reading and writing

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


# --------------------------------------------------------------------------------------------
# Shared accumulation


@dataclass
class _Acc:
    fmt: str
    found: set[str] = field(default_factory=set)
    orientation: int | None = None
    capture_date: str | None = None
    exif_seen: bool = False
    icc: bool = False
    date_dropped: bool = False  # the capture date was to be kept but could not be written back

    def report(self) -> Report:
        return Report(
            format=self.fmt,
            found=[c for c in CATEGORIES if c in self.found],
            orientation=self.orientation,
            capture_date=self.capture_date,
            icc=self.icc,
        )

    def new_exif(self, keep_capture_date: bool) -> bytes | None:
        """The minimal EXIF to write back, or None when nothing needs to be kept."""
        orientation = self.orientation if self.orientation not in (None, 1) else None
        date = self.capture_date if keep_capture_date else None
        if orientation is None and date is None:
            return None
        return build_exif(orientation, date)

    def removed(self, keep_capture_date: bool) -> list[str]:
        keep = keep_capture_date and self.capture_date and not self.date_dropped
        kept = {"datetime"} if keep else set()
        return [c for c in CATEGORIES if c in self.found and c not in kept]


def _valid_icc(profile: bytes) -> bool:
    return (
        len(profile) >= 128
        and int.from_bytes(profile[:4], "big") == len(profile)
        and profile[36:40] == b"acsp"
    )


# --------------------------------------------------------------------------------------------
# JPEG

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


# --------------------------------------------------------------------------------------------
# PNG

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


# --------------------------------------------------------------------------------------------
# WebP

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


# --------------------------------------------------------------------------------------------
# Public interface

_HANDLERS = {"jpeg": _jpeg, "png": _png, "webp": _webp}


def _run(data: bytes, keep_capture_date: bool) -> tuple[_Acc | None, list | None, str | None]:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("image data must be bytes")
    data = bytes(data)
    fmt = detect_format(data)
    handler = _HANDLERS.get(fmt or "")
    if handler is None:
        return None, None, fmt
    acc = _Acc(fmt)
    try:
        parts = handler(data, acc, keep_capture_date)
    except (IndexError, struct.error) as exc:  # defensive: never leak anything else
        raise MetadataError(f"corrupt {fmt.upper()}: {exc}") from exc
    return acc, parts, fmt


def inspect(data: bytes) -> Report:
    """Report which metadata categories ``data`` carries, its orientation and capture date.

    Raises MetadataError for a structurally broken JPEG/PNG/WebP. Other formats are not looked
    into: ``format`` names them (or is None) and ``found`` is empty.
    """
    acc, _, fmt = _run(data, False)
    if acc is None:
        return Report(format=fmt)
    return acc.report()


def strip(data: bytes, keep_capture_date: bool = False) -> StripResult:
    """Remove metadata losslessly; keep what the picture needs to display (orientation, ICC).

    With ``keep_capture_date`` the capture date is written back as EXIF DateTimeOriginal.
    Formats other than JPEG/PNG/WebP (GIF, HEIC, ...) are returned unchanged with
    ``removed=[]``: HEIC/AVIF metadata removal would need a re-encode (or an ISO-BMFF rewrite)
    that we cannot do without a decoder, so the caller decides. Raises MetadataError for a
    structurally broken JPEG/PNG/WebP.
    """
    acc, parts, _ = _run(data, keep_capture_date)
    if acc is None or parts is None:
        return StripResult(data=bytes(data), removed=[], orientation=None, lossless=True)
    return StripResult(
        data=b"".join(parts),
        removed=acc.removed(keep_capture_date),
        orientation=acc.orientation,
        lossless=True,
    )
