"""EXIF (TIFF structure) reading and writing, and the metadata categories tags fall into.

Part of :mod:`bifoga.media.metadata` (the public interface). Plain Python, no Pillow; CPython,
Pyodide and MicroPython (the browser's light worker) run it, so no dataclasses, typing or re. A
broken EXIF block is never a reason to refuse an image: :func:`parse_exif` files it under
"other_exif" (it is dropped as a whole anyway), and an entry whose value is out of bounds does not
stop the walk, so that a later GPS pointer is still seen.
"""

import struct

#: Category keys, in the order they are reported. User-visible labels live in the app catalogue.
CATEGORIES = (
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

class _CorruptExif(Exception):
    pass


class _ExifInfo:
    """What one EXIF block carries: categories, orientation, dates by tag."""

    def __init__(self):
        self.categories = set()
        self.orientation = None
        self.dates = {}

    @property
    def capture_date(self):
        for tag in (_TAG_DATETIME_ORIGINAL, _TAG_DATETIME_DIGITIZED, _TAG_DATETIME):
            if tag in self.dates:
                return self.dates[tag]
        return None

    def merge_into(self, acc):
        acc.found.update(self.categories)
        if not acc.exif_seen:  # like decoders, only the first EXIF block counts
            acc.orientation = self.orientation
            acc.capture_date = self.capture_date
        acc.exif_seen = True


def _digits(raw, start, count):
    """The number written in raw[start:start + count] (ASCII digits only), or None."""
    field = raw[start:start + count]
    if len(field) != count:
        return None
    number = 0
    for c in field:
        if not 48 <= c <= 57:
            return None
        number = number * 10 + c - 48
    return number


def _parse_date(raw):
    """ "YYYY:MM:DD HH:MM:SS" (or with - and T) as ISO 8601, or None."""
    if len(raw) < 19 or raw[4] not in (58, 45) or raw[7] not in (58, 45) or raw[10] not in (32, 84):
        return None
    if raw[13] != 58 or raw[16] != 58:  # ":"
        return None
    parts = [_digits(raw, at, size) for at, size in
             ((0, 4), (5, 2), (8, 2), (11, 2), (14, 2), (17, 2))]
    if None in parts:
        return None
    y, mo, d, h, mi, s = parts
    if not (1 <= y and 1 <= mo <= 12 and 1 <= d <= 31 and h <= 23 and mi <= 59 and s <= 60):
        return None
    return "%04d-%02d-%02dT%02d:%02d:%02d" % (y, mo, d, h, mi, s)


def parse_exif(tiff):
    """Categorise a TIFF-structured EXIF block. Never raises: a corrupt block is "other_exif"."""
    info = _ExifInfo()
    try:
        _Tiff(bytes(tiff), info).walk()
    except _CorruptExif:
        info.categories.add("other_exif")
    return info


class _Tiff:
    """A walk over the IFDs of one TIFF block, filling an _ExifInfo."""

    def __init__(self, t, info):
        self.t = t
        self.n = len(t)
        self.info = info
        self.visited = set()
        if self.n < 8:
            raise _CorruptExif("short")
        if t[:2] == b"II":
            self.order = "little"
        elif t[:2] == b"MM":
            self.order = "big"
        else:
            raise _CorruptExif("byte order")
        if self.uint(2, 2) != 42:
            raise _CorruptExif("magic")

    def uint(self, pos, size):
        if pos < 0 or pos + size > self.n:
            raise _CorruptExif("past the end")
        return int.from_bytes(self.t[pos:pos + size], self.order)

    def read_ifd(self, off):
        """The entries (tag, type, count, position of the value field) and the next IFD."""
        if off in self.visited or len(self.visited) >= _MAX_IFDS:
            raise _CorruptExif("IFD loop")
        self.visited.add(off)
        if off < 8 or off + 2 > self.n:
            raise _CorruptExif("IFD offset")
        count = self.uint(off, 2)
        end = off + 2 + 12 * count
        if end > self.n:  # the entries that fit are still looked at
            self.info.categories.add("other_exif")
            count = (self.n - off - 2) // 12
            end = off + 2 + 12 * count
        entries = []
        for i in range(count):
            p = off + 2 + 12 * i
            entries.append((self.uint(p, 2), self.uint(p + 2, 2), self.uint(p + 4, 4), p + 8))
        nxt = self.uint(end, 4) if end + 4 <= self.n else 0
        return entries, nxt

    def value(self, typ, cnt, pos):
        size = _TYPE_SIZES.get(typ)
        if size is None:
            raise _CorruptExif("type")
        total = size * cnt
        if total <= 4:
            return self.t[pos:pos + total]
        off = self.uint(pos, 4)
        if off + total > self.n:
            raise _CorruptExif("value offset")
        return self.t[off:off + total]

    def pointer(self, typ, cnt, pos):
        if cnt != 1 or typ not in (4, 13, 7):
            raise _CorruptExif("pointer")
        return self.uint(pos, 4)

    def note_date(self, tag, typ, cnt, pos):
        if typ == 2:
            d = _parse_date(self.value(typ, cnt, pos))
            if d and tag not in self.info.dates:
                self.info.dates[tag] = d

    def walk(self):
        info = self.info
        entries, ifd1 = self.read_ifd(self.uint(4, 4))
        sub = []
        for entry in entries:
            self.guarded(self.ifd0_entry, entry, sub)
        if ifd1:
            info.categories.add("thumbnail")
        while sub:
            kind, off = sub.pop(0)
            self.guarded(self.sub_ifd, kind, off, sub)
        if ifd1:
            self.read_ifd(ifd1)  # only to notice corruption; IFD1 is the thumbnail, dropped

    def guarded(self, step, *args):
        """Run one step of the walk; a corrupt entry or IFD is noted and the walk goes on."""
        try:
            step(*args)
        except _CorruptExif:
            self.info.categories.add("other_exif")

    def ifd0_entry(self, entry, sub):
        tag, typ, cnt, pos = entry
        info = self.info
        if tag == _TAG_ORIENTATION:
            self.orientation(typ, cnt, pos)
        elif tag == _TAG_EXIF_IFD:
            sub.append(("exif", self.pointer(typ, cnt, pos)))
        elif tag == _TAG_GPS_IFD:
            info.categories.add("gps")
            sub.append(("gps", self.pointer(typ, cnt, pos)))
        else:
            info.categories.add(_TAG_CATEGORY.get(tag, "other_exif"))
            if tag == _TAG_DATETIME:
                self.note_date(tag, typ, cnt, pos)

    def orientation(self, typ, cnt, pos):
        o = None
        if typ in (3, 4) and cnt >= 1:
            o = self.uint(pos, 2) if typ == 3 else self.uint(pos, 4)
        if o is not None and 1 <= o <= 8:
            self.info.orientation = o
        else:
            self.info.categories.add("other_exif")

    def sub_ifd(self, kind, off, sub):
        entries, _ = self.read_ifd(off)
        for entry in entries:
            self.guarded(self.sub_entry, kind, entry, sub)

    def sub_entry(self, kind, entry, sub):
        info = self.info
        tag, typ, cnt, pos = entry
        if kind == "gps":
            info.categories.add("gps")
        elif kind == "interop":
            info.categories.add("other_exif")
        elif tag == _TAG_INTEROP_IFD:
            sub.append(("interop", self.pointer(typ, cnt, pos)))
        elif tag == _TAG_GPS_IFD:  # misplaced, still GPS
            info.categories.add("gps")
            sub.append(("gps", self.pointer(typ, cnt, pos)))
        else:
            info.categories.add(_TAG_CATEGORY.get(tag, "other_exif"))
            if tag in (_TAG_DATETIME_ORIGINAL, _TAG_DATETIME_DIGITIZED):
                self.note_date(tag, typ, cnt, pos)


def build_exif(orientation, capture_date=None):
    """A minimal little-endian TIFF/EXIF block: IFD0 Orientation (if given) and, if
    ``capture_date`` (ISO "YYYY-MM-DDTHH:MM:SS") is given, an Exif IFD with DateTimeOriginal."""
    ifd0 = []
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


def _gps_blobs(tiff):
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
