"""Lossless removal of identifying metadata from photos (JPEG, PNG, WebP, HEIC/HEIF).

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

HEIC/HEIF (iPhone photos) are scrubbed in place, so that no offset in the file changes: each Exif
item is overwritten by a minimal valid Exif payload of the same length (the EXIF Orientation, as
some readers use it, and optionally DateTimeOriginal), each XMP item by an empty XMP packet, other
metadata items by zeros; metadata boxes ('udta', 'uuid' XMP, ...) become 'free' boxes, data bytes
that no picture item uses and descriptive item properties ('udes', 'crtt', 'mdft') are zeroed.
The coded picture data, the item structure and the orientation properties ('irot'/'imir', what
HEIF readers go by) stay as they are. A HEIF this cannot vouch for (an unknown item type,
metadata stored by reference, an item extent past the end or overlapping picture data, a GPS
block left anywhere, ...) is refused with :class:`MetadataError`.

Other formats (GIF, AVIF, TIFF, ...) are returned unchanged; the caller decides what to do with
them.

Any structurally broken image (truncated segment, length past the end, missing SOS/EOI/IEND, bad
PNG CRC, nonsensical RIFF size, ...) is refused with :class:`MetadataError`. A broken EXIF block,
on the other hand, is not a reason to refuse the image: it is dropped as a whole anyway.
"""

from __future__ import annotations

import bisect
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

    ``format``: "jpeg", "png", "webp", "heic", "heif" (handled), "gif", "avif", "tiff", "bmp"
    (recognised, not handled) or None (unknown). ``found``: category keys (see CATEGORIES).
    ``orientation``: EXIF Orientation 1..8 or None (for HEIF: the EXIF equivalent of the
    primary item's 'irot'/'imir' properties, None without them). ``capture_date``: ISO 8601
    local time ("2024-05-01T12:34:56") from DateTimeOriginal (else DateTimeDigitized, else
    DateTime) or None.
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
    if head[4:8] in _ISO_FIRST_BOXES:
        return _isobmff_format(data)
    return None


# As bifoga.containers judges ISO-BMFF files: the ftyp box need not come first, the major brand
# decides, then any compatible brand. (Kept in step so that whatever the sniffer lets through as
# image/heic or image/heif is scrubbed here, never passed through unrecognised.)
_ISO_FIRST_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot")
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
_HEIF_BRANDS = frozenset({b"mif1", b"msf1", b"mif2", b"miaf"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})


def _isobmff_format(data: bytes) -> str | None:
    pos, n = 0, len(data)
    for _ in range(1000):  # top-level boxes before the ftyp box
        if pos + 8 > n:
            return None
        size = int.from_bytes(data[pos : pos + 4], "big")
        header = 8
        if size == 1 and pos + 16 <= n:
            size, header = int.from_bytes(data[pos + 8 : pos + 16], "big"), 16
        elif size == 0:
            size = n - pos
        if size < header:
            return None
        if data[pos + 4 : pos + 8] == b"ftyp":
            body = bytes(data[pos + header : min(pos + size, pos + header + 8 + 4 * 64)])
            brands = [body[:4]] + [body[i : i + 4] for i in range(8, len(body) - 3, 4)]
            for wanted in ([brands[0]], brands):
                if any(b in _HEIC_BRANDS for b in wanted):
                    return "heic"
                if any(b in _AVIF_BRANDS for b in wanted):
                    return "avif"
            return "heif" if any(b in _HEIF_BRANDS for b in brands) else None
        pos += size
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
# HEIF / HEIC (ISO/IEC 23008-12: items described by ISO-BMFF boxes inside a top-level 'meta')
#
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
    top = _heif_boxes(data, 0, n, "the file", budget)
    if any(b.type == b"ftyp" and b.end - b.start > 1024 for b in top):
        raise MetadataError("corrupt HEIF: oversized ftyp box")
    metas = [b for b in top if b.type == b"meta"]
    moovs = [b for b in top if b.type == b"moov"]
    if len(metas) > 1 or len(moovs) > 1:
        raise MetadataError("corrupt HEIF: more than one meta or moov box")
    holders = [b for b in top if b.type not in (b"ftyp", b"meta", b"moov")]  # data boxes
    for moov in moovs:
        _heif_moov(data, out, moov, acc, budget)
    if not metas:
        if not moovs and any(b.end > b.body for b in holders):
            raise MetadataError("corrupt HEIF: no meta box")
        return _heif_checked(out, [])
    meta = metas[0]
    if meta.body + 4 > meta.end:
        raise MetadataError("corrupt HEIF: short meta box")
    children: dict[bytes, _Box] = {}
    for box in _heif_boxes(data, meta.body + 4, meta.end, "meta", budget):
        if box.type in _HEIF_META_SINGLE:
            if box.type in children:
                raise MetadataError(f"corrupt HEIF: more than one {box.type!r} box")
            children[box.type] = box
        elif box.type not in _HEIF_META_KEEP:
            _heif_free(data, out, box, acc)  # 'xml ', 'bxml', 'uuid', unknown
    for need in (b"hdlr", b"pitm", b"iinf", b"iloc", b"iprp"):
        if need not in children:
            raise MetadataError(f"corrupt HEIF: no {need!r} box")
    items = _heif_iinf(data, children[b"iinf"], budget)
    _heif_iloc(data, children[b"iloc"], items, budget)
    f = _Fields(data, children[b"pitm"])
    version, _ = f.full_box()
    primary = f.uint(2 if version == 0 else 4)
    if primary not in items or items[primary].type not in _HEIF_IMAGE_ITEMS:
        raise MetadataError("corrupt HEIF: the primary item is not a picture")
    idat = children.get(b"idat")

    kept: list[tuple[int, int]] = []  # picture data: never written
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

    # Metadata may only be written where data lives (data boxes, idat), never over picture data.
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

    jobs = []
    date_item: _Item | None = None  # the first Exif item: its date and orientation count
    exif_orientation: int | None = None
    gps_blobs: list[bytes] = []
    for item, ranges in scrub:
        payload = b"".join(data[s:e] for s, e in ranges)
        exif_prefix = False
        if item.type == b"Exif":
            tiff, exif_prefix = _heif_exif_tiff(payload)
            if tiff is not None:
                info = parse_exif(tiff)
                if not acc.exif_seen:
                    date_item, exif_orientation = item, info.orientation
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
    acc.orientation = _heif_properties(data, out, children[b"iprp"], primary, acc, budget)

    date = acc.capture_date if keep_capture_date else None
    for item, ranges, length, kind, exif_prefix in jobs:
        if kind == "exif":
            # The EXIF Orientation goes back in: HEIF readers go by 'irot'/'imir' and ignore it,
            # others use it; either way the picture stands as before.
            first = item is date_item
            orientation = exif_orientation if first and exif_orientation != 1 else None
            wanted = date if first else None
            new, written = _heif_exif_payload(length, exif_prefix, orientation, wanted)
            if wanted and not written:
                acc.date_dropped = True
        elif kind == "xmp":
            new = _heif_xmp_payload(length)
        else:
            new = bytes(length)
        pos = 0
        for start, end in ranges:
            out[start:end] = new[pos : pos + end - start]
            pos += end - start

    if not moovs:  # no track refers to data: whatever no item uses is not needed
        used = _merged(kept + all_scrub)
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
    return _heif_checked(out, gps_blobs)


def _heif_checked(out: bytearray, gps_blobs: list[bytes]) -> list[bytes | memoryview]:
    """Last line of defence: no position may survive anywhere, not even as picture data or in
    data that tracks use: neither the raw GPS IFDs found in the Exif items, nor any other
    TIFF/Exif structure with a GPS IFD (random picture data practically never has one)."""
    if any(blob in out for blob in gps_blobs):
        raise MetadataError("unsupported HEIF: the GPS position could not be removed")
    for signature in (b"II*\x00", b"MM\x00*"):
        pos = out.find(signature)
        for _ in range(64):
            if pos < 0:
                break
            if "gps" in parse_exif(bytes(out[pos : pos + 0x100000])).categories:
                raise MetadataError("unsupported HEIF: the GPS position could not be removed")
            pos = out.find(signature, pos + 1)
        else:
            raise MetadataError("unsupported HEIF: too many TIFF headers in the data")
    return [bytes(out)]


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


def _heif_zero_gap(data: bytes, out: bytearray, start: int, end: int, acc: _Acc) -> None:
    if end > start and any(data[start:end]):
        acc.found.add("other_exif")
        out[start:end] = bytes(end - start)


# --------------------------------------------------------------------------------------------
# Public interface

_HANDLERS = {"jpeg": _jpeg, "png": _png, "webp": _webp, "heic": _heif, "heif": _heif}


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

    Raises MetadataError for a structurally broken JPEG/PNG/WebP/HEIF. Other formats are not
    looked into: ``format`` names them (or is None) and ``found`` is empty.
    """
    acc, _, fmt = _run(data, False)
    if acc is None:
        return Report(format=fmt)
    return acc.report()


def strip(data: bytes, keep_capture_date: bool = False) -> StripResult:
    """Remove metadata losslessly; keep what the picture needs to display (orientation, ICC).

    With ``keep_capture_date`` the capture date is written back as EXIF DateTimeOriginal.
    HEIC/HEIF are scrubbed in place (same length, every offset unchanged). Other formats (GIF,
    AVIF, ...) are returned unchanged with ``removed=[]``; the caller decides. Raises
    MetadataError for a structurally broken JPEG/PNG/WebP/HEIF or a HEIF it cannot scrub.
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
