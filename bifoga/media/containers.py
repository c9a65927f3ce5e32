"""Container parsers the `filetype` library lacks: they look inside a file to tell film from audio.

Each `inspect_*` function takes the file as bytes or as a `view` of a bifoga.media.source Source
(random access by index and slice, read on demand), and returns a `Finding`: an allowed MIME
type, or a refusal reason. Every walk is bounded by the data length and by a step budget, so
hostile or truncated input ends quickly and never raises. Through a view only what a verdict
needs is read: box and element headers, the movie box, the track list, the compound file's
directory, the zip's central directory and one of its members.

Runs in CPython (server, tests), Pyodide and MicroPython 1.27 (the browser's light worker): no
typing, dataclasses, re, uuid or zipfile; annotations only where MicroPython ignores them.
"""

from collections import namedtuple

from bifoga.media.inflate import MICROPYTHON, Damaged, crc32, inflate
from bifoga.media.refusals import ACTIVE_CONTENT as ACTIVE
from bifoga.media.refusals import AUDIO_NOT_ALLOWED as AUDIO
from bifoga.media.refusals import TYPE_NOT_ALLOWED as NOT_ALLOWED

# The prefixes that send a file here are the first-bytes stage's (re-exported for callers).
from bifoga.media.sniff_head import (  # noqa: F401
    ASF_MAGIC,
    EBML_MAGIC,
    OGG_MAGIC,
    OLE2_MAGIC,
    ZIP_MAGIC,
    looks_isobmff,
)

# No genuine file of 10 MB needs more element/box visits than this to reach its track list.
MAX_STEPS = 50_000


# What a container parser concluded: `mime` when allowed, else `reason`.
Finding = namedtuple("Finding", ("mime", "reason"))


def _allowed(mime: str) -> Finding:
    return Finding(mime, None)


def _refused(reason: str = NOT_ALLOWED) -> Finding:
    return Finding(None, reason)


class _Exhausted(Exception):
    """The step budget ran out: the input is hostile or absurd, so it is refused."""


class _Budget:
    def __init__(self, steps: int = MAX_STEPS) -> None:
        self.left = steps

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise _Exhausted


def bit_length(n: int) -> int:
    """int.bit_length, which MicroPython lacks."""
    length = 0
    while n:
        n >>= 1
        length += 1
    return length


def _startswith_any(data: bytes, prefixes: tuple) -> bool:
    # MicroPython's startswith takes no tuple.
    for prefix in prefixes:
        if data[: len(prefix)] == prefix:
            return True
    return False


# --------------------------------------------------------------------------- reading a Source

_BLOCK = 4096  # a view reads its source in blocks of this size
_MAX_BLOCKS = 64  # and keeps at most this many (256 KiB): directories hop around a file
_DIRECT = 65536  # reads this long bypass the blocks


class View:
    """A Source seen as a read-only bytes object: `len(view)`, `view[i]` and `view[a:b]`.

    Parsers written for bytes walk a file through it, reading only the blocks they touch.
    """

    def __init__(self, source) -> None:
        self.source = source
        self.size = source.size
        self._blocks = {}

    def __len__(self) -> int:
        return self.size

    def _block(self, index: int) -> bytes:
        block = self._blocks.get(index)
        if block is None:
            if len(self._blocks) >= _MAX_BLOCKS:
                self._blocks = {}
            block = self.source.read(index * _BLOCK, _BLOCK)
            self._blocks[index] = block
        return block

    def read(self, start: int, end: int) -> bytes:
        """The bytes [start, end), clipped to the source."""
        start = max(0, start)
        end = min(end, self.size)
        if start >= end:
            return b""
        if end - start >= _DIRECT:
            return self.source.read(start, end - start)
        first, last = start // _BLOCK, (end - 1) // _BLOCK
        if first == last:
            at = first * _BLOCK
            return self._block(first)[start - at : end - at]
        parts = []
        for index in range(first, last + 1):
            at = index * _BLOCK
            parts.append(self._block(index)[max(start, at) - at : min(end, at + _BLOCK) - at])
        return b"".join(parts)

    def __getitem__(self, key):
        if isinstance(key, int):
            if key < 0:
                key += self.size
            if not 0 <= key < self.size:
                raise IndexError("view index out of range")
            return self.read(key, key + 1)[0]
        if key.step is not None:
            raise ValueError("no step")
        start, stop = key.start, key.stop
        start = 0 if start is None else (start + self.size if start < 0 else start)
        stop = self.size if stop is None else (stop + self.size if stop < 0 else stop)
        return self.read(start, stop)


def view(source):
    """What the parsers read: the bytes themselves for an in-memory source, else a View."""
    data = getattr(source, "data", None)
    return data if isinstance(data, bytes) else View(source)


def _u16le(buf: bytes, o: int) -> int:
    return int.from_bytes(buf[o : o + 2], "little")


def _u32le(buf: bytes, o: int) -> int:
    return int.from_bytes(buf[o : o + 4], "little")


# --------------------------------------------------------------------------- ISO-BMFF (MP4/MOV)

_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}
_HEIF_BRANDS = {b"mif1", b"msf1", b"mif2", b"miaf"}
_AVIF_BRANDS = {b"avif", b"avis"}
_MP4_BRANDS = {
    b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"iso7", b"iso8", b"iso9",
    b"mp41", b"mp42", b"avc1", b"M4V ", b"M4VH", b"M4VP", b"dash", b"mmp4", b"MSNV",
    b"msnv", b"XAVC",
}
_QT_BRAND = b"qt  "
_MAX_BRANDS = 64  # an ftyp box could claim megabytes of brands; a real one has a handful
_MAX_MOOV_READ = 8 << 20  # a larger movie box is walked through the view instead

# Box walk status flags.
_COMPLETE = 0
_TRUNCATED = 1


def _boxes(buf: bytes, start: int, end: int, budget: _Budget):
    """Yield (type, body_start, box_end, status) for boxes in buf[start:end].

    Stops after the first box that runs past `end` (yielded as _TRUNCATED) or is malformed.
    """
    o = start
    while end - o >= 8:
        budget.spend()
        size = int.from_bytes(buf[o : o + 4], "big")
        typ = buf[o + 4 : o + 8]
        header = 8
        if size == 1:  # 64-bit largesize follows the type
            if end - o < 16:
                yield typ, end, end, _TRUNCATED
                return
            size = int.from_bytes(buf[o + 8 : o + 16], "big")
            header = 16
        elif size == 0:  # box extends to the end of its parent
            size = end - o
        if size < header:  # would not advance: malformed
            return
        box_end = o + size
        if box_end > end:
            yield typ, o + header, end, _TRUNCATED
            return
        yield typ, o + header, box_end, _COMPLETE
        o = box_end


def _child(buf: bytes, start: int, end: int, typ: bytes, budget: _Budget):
    """Return (body_start, box_end) of the first complete child box `typ`, or None."""
    for t, body, box_end, status in _boxes(buf, start, end, budget):
        if t == typ and status == _COMPLETE:
            return body, box_end
    return None


def _hdlr_type(buf: bytes, parent, budget: _Budget) -> bytes | None:
    """Handler type of the hdlr box directly inside `parent`: b'vide', b'soun', b'pict', ..."""
    if parent is None:
        return None
    hdlr = _child(buf, parent[0], parent[1], b"hdlr", budget)
    # hdlr is a FullBox: version/flags (4), pre_defined or QuickTime component type (4), type (4).
    if hdlr is None or hdlr[1] - hdlr[0] < 12:
        return None
    return buf[hdlr[0] + 8 : hdlr[0] + 12]


def _meta_handler(buf: bytes, meta, budget: _Budget) -> bytes | None:
    body, end = meta
    # ISO meta is a FullBox (4 bytes version/flags first); Apple's QuickTime meta is not.
    if buf[body + 4 : body + 8] != b"hdlr":
        body += 4
    return _hdlr_type(buf, (body, end), budget)


def _sample_count(buf: bytes, mdia, budget: _Budget) -> int | None:
    """Number of samples in the track from stsz/stz2, or None when unknown."""
    minf = _child(buf, mdia[0], mdia[1], b"minf", budget)
    stbl = minf and _child(buf, minf[0], minf[1], b"stbl", budget)
    if not stbl:
        return None
    for name in (b"stsz", b"stz2"):
        box = _child(buf, stbl[0], stbl[1], name, budget)
        # Both keep sample_count at body+8 (after version/flags and size/field_size).
        if box and box[1] - box[0] >= 12:
            return int.from_bytes(buf[box[0] + 8 : box[0] + 12], "big")
    return None


def _image_mime(brands: list) -> str | None:
    """HEIF flavour from the brands; AVIF and unknown brands are not allowed."""
    major = brands[0] if brands else b""
    if major in _HEIC_BRANDS:
        return "image/heic"
    if major in _AVIF_BRANDS:
        return None
    if any(b in _HEIC_BRANDS for b in brands):
        return "image/heic"
    if any(b in _AVIF_BRANDS for b in brands):
        return None
    if any(b in _HEIF_BRANDS for b in brands):
        return "image/heif"
    return None


def _video_mime(brands: list) -> str | None:
    if not brands or brands[0] == _QT_BRAND:  # classic QuickTime files may lack ftyp
        return "video/quicktime"
    if any(b in _MP4_BRANDS for b in brands):
        return "video/mp4"
    if _QT_BRAND in brands:
        return "video/quicktime"
    # 3GP/3G2 (and unknown brands) are not on the list.
    return None


def inspect_isobmff(buf: bytes) -> Finding | None:
    """Judge an MP4/MOV/M4A/3GP/HEIF file by its track handlers, not its brands.

    Returns None when the data has neither ftyp nor moov (so it is not ISO-BMFF after all).
    """
    budget = _Budget()
    try:
        return _inspect_isobmff(buf, budget)
    except _Exhausted:
        return _refused()


def _inspect_isobmff(buf: bytes, budget: _Budget) -> Finding | None:
    brands: list = []
    has_ftyp = False
    moov = meta = None
    mdat_truncated = False
    for typ, body, end, status in _boxes(buf, 0, len(buf), budget):
        if typ == b"ftyp" and status == _COMPLETE and not has_ftyp:
            has_ftyp = True
            brands.append(buf[body : body + 4])
            # minor_version (4) sits between major and compatible brands.
            stop = min(end, body + 8 + 4 * _MAX_BRANDS)
            brands.extend(buf[i : i + 4] for i in range(body + 8, stop - 3, 4))
        elif typ == b"moov" and status == _COMPLETE and moov is None:
            moov = (body, end)
        elif typ == b"meta" and status == _COMPLETE and meta is None:
            meta = (body, end)
        elif typ == b"mdat" and status == _TRUNCATED:
            mdat_truncated = True
    if not has_ftyp and moov is None:
        return None
    if mdat_truncated:
        # The media data is cut short: the receiver would get a broken file.
        return _refused()

    if moov is not None:
        # The movie box is read whole (a film's is a few hundred KiB) and walked in memory.
        if isinstance(buf, View) and moov[1] - moov[0] <= _MAX_MOOV_READ:
            buf, moov = buf[moov[0] : moov[1]], (0, moov[1] - moov[0])
        return _judge_tracks(buf, moov, brands, budget)

    # No movie box: only a HEIF still image (top-level meta with a 'pict' handler) remains.
    if meta is not None and _meta_handler(buf, meta, budget) == b"pict":
        mime = _image_mime(brands)
        return _allowed(mime) if mime else _refused()
    return _refused()  # truncated (moov lost) or not a media file


def _judge_tracks(buf: bytes, moov, brands: list, budget: _Budget) -> Finding:
    fragmented = _child(buf, moov[0], moov[1], b"mvex", budget) is not None
    video_counts: list = []
    has_sound = has_pict = False
    for typ, body, end, status in _boxes(buf, moov[0], moov[1], budget):
        if typ != b"trak" or status != _COMPLETE:
            continue
        mdia = _child(buf, body, end, b"mdia", budget)
        handler = _hdlr_type(buf, mdia, budget)
        if handler == b"vide":
            video_counts.append(None if fragmented else _sample_count(buf, mdia, budget))
        elif handler == b"soun":
            has_sound = True
        elif handler in (b"pict", b"auxv"):
            has_pict = True

    # A lone one-frame video track beside sound is cover art (ffmpeg's attached_pic), so the
    # file is still audio. Fragmented files keep their counts in moof, hence the exclusion.
    cover_art_only = bool(video_counts) and all(n == 1 for n in video_counts)
    if video_counts and not (has_sound and cover_art_only):
        mime = _video_mime(brands)
        return _allowed(mime) if mime else _refused()
    if has_sound:
        return _refused(AUDIO)
    if has_pict:  # HEIF image sequence
        mime = _image_mime(brands)
        return _allowed(mime) if mime else _refused()
    return _refused()


# --------------------------------------------------------------------------- EBML (WebM/Matroska)

_ID_EBML = 0x1A45DFA3
_ID_DOCTYPE = 0x4282
_ID_SEGMENT = 0x18538067
_ID_SEEKHEAD = 0x114D9B74
_ID_SEEK = 0x4DBB
_ID_SEEK_ID = 0x53AB
_ID_SEEK_POSITION = 0x53AC
_ID_TRACKS = 0x1654AE6B
_ID_TRACK_ENTRY = 0xAE
_ID_TRACK_TYPE = 0x83
_ID_CLUSTER = 0x1F43B675

_TRACK_VIDEO = 1
_TRACK_AUDIO = 2

_UNSIZED = 2  # element status beside _COMPLETE/_TRUNCATED: size unknown (live streams)


def _vint(buf: bytes, o: int, end: int, is_id: bool):
    """Read an EBML variable-length integer: (value, length, all_ones) or None."""
    if o >= end:
        return None
    first = buf[o]
    if first == 0:
        return None  # more than 8 length bytes: invalid
    length = 9 - bit_length(first)
    if (is_id and length > 4) or o + length > end:
        return None
    if is_id:  # IDs keep their length marker bits
        return int.from_bytes(buf[o : o + length], "big"), length, False
    value = first & ((1 << (8 - length)) - 1)
    for b in buf[o + 1 : o + length]:
        value = (value << 8) | b
    return value, length, value == (1 << (7 * length)) - 1


def _elements(buf: bytes, start: int, end: int, budget: _Budget):
    """Yield (id, body_start, element_end, status) for EBML elements in buf[start:end]."""
    o = start
    while o < end:
        budget.spend()
        read_id = _vint(buf, o, end, True)
        if read_id is None:
            return
        eid, id_len, _ = read_id
        read_size = _vint(buf, o + id_len, end, False)
        if read_size is None:
            yield eid, end, end, _TRUNCATED
            return
        size, size_len, unknown = read_size
        body = o + id_len + size_len
        if unknown:
            # An unknown size can only be closed by a parent-level element; we cannot skip
            # past it, so it is the last element of this walk.
            yield eid, body, end, _UNSIZED
            return
        if body + size > end:
            yield eid, body, end, _TRUNCATED
            return
        yield eid, body, body + size, _COMPLETE
        o = body + size


def _uint(buf: bytes, body: int, end: int) -> int:
    return int.from_bytes(buf[body : min(end, body + 8)], "big")


def _track_types(buf: bytes, body: int, end: int, budget: _Budget) -> list:
    types = []
    for eid, ebody, eend, status in _elements(buf, body, end, budget):
        if eid != _ID_TRACK_ENTRY or status != _COMPLETE:
            continue
        for cid, cbody, cend, cstatus in _elements(buf, ebody, eend, budget):
            if cid == _ID_TRACK_TYPE and cstatus == _COMPLETE:
                types.append(_uint(buf, cbody, cend))
                break
    return types


def _seek_to_tracks(buf: bytes, body: int, end: int, budget: _Budget) -> int | None:
    """Offset (relative to the Segment body) of Tracks according to a SeekHead."""
    for eid, sbody, send, status in _elements(buf, body, end, budget):
        if eid != _ID_SEEK or status != _COMPLETE:
            continue
        target = position = None
        for cid, cbody, cend, cstatus in _elements(buf, sbody, send, budget):
            if cstatus != _COMPLETE:
                continue
            if cid == _ID_SEEK_ID:
                target = int.from_bytes(buf[cbody:cend], "big")
            elif cid == _ID_SEEK_POSITION:
                position = _uint(buf, cbody, cend)
        if target == _ID_TRACKS and position is not None:
            return position
    return None


def inspect_ebml(buf: bytes) -> Finding:
    """Judge a WebM/Matroska file by its TrackType values; only WebM films are allowed."""
    budget = _Budget()
    try:
        return _inspect_ebml(buf, budget)
    except _Exhausted:
        return _refused()


def _inspect_ebml(buf: bytes, budget: _Budget) -> Finding:
    top = _elements(buf, 0, len(buf), budget)
    header = next(top, None)
    if header is None or header[0] != _ID_EBML or header[3] != _COMPLETE:
        return _refused()
    doc_type = b"matroska"  # the EBML default when DocType is absent
    for eid, body, end, status in _elements(buf, header[1], header[2], budget):
        if eid == _ID_DOCTYPE and status == _COMPLETE:
            doc_type = buf[body:end].rstrip(b"\x00")
    segment = None
    for eid, body, end, status in top:
        if eid == _ID_SEGMENT:
            segment = (body, end, status)
            break
    if segment is None or segment[2] == _TRUNCATED:
        return _refused()  # no segment, or a sized one cut short

    seg_body, seg_end, _ = segment
    types = None
    tracks_at = None
    for eid, body, end, status in _elements(buf, seg_body, seg_end, budget):
        if eid == _ID_TRACKS:
            if status == _COMPLETE:
                types = _track_types(buf, body, end, budget)
            break
        if eid == _ID_SEEKHEAD and status == _COMPLETE and tracks_at is None:
            tracks_at = _seek_to_tracks(buf, body, end, budget)
        if eid == _ID_CLUSTER or status != _COMPLETE:
            break  # media data begins (or the walk cannot go on): Tracks was not before it
    if types is None and tracks_at is not None:
        # Matroska may store Tracks after the clusters; the SeekHead says where.
        for eid, body, end, status in _elements(buf, seg_body + tracks_at, seg_end, budget):
            if eid == _ID_TRACKS and status == _COMPLETE:
                types = _track_types(buf, body, end, budget)
            break
    if types is None:
        return _refused()  # truncated before the track list

    if _TRACK_VIDEO in types:
        # Only the WebM flavour of Matroska is on the list; .mkv films are refused.
        return _allowed("video/webm") if doc_type == b"webm" else _refused()
    if _TRACK_AUDIO in types:
        return _refused(AUDIO)
    return _refused()


# --------------------------------------------------------------------------- Ogg

_OGG_AUDIO = (
    b"\x01vorbis", b"OpusHead", b"Speex   ", b"\x7fFLAC", b"CELT    ", b"PCM     ",
    b"\x01audio\x00\x00\x00",
)
_OGG_VIDEO = (
    b"\x80theora", b"BBCD\x00", b"\x80daala", b"\x01video\x00\x00\x00", b"OVP80",
)
_MAX_OGG_STREAMS = 64


def inspect_ogg(buf: bytes) -> Finding:
    """Every Ogg file is refused; the reason is "audio" unless a video stream is present."""
    o = 0
    kinds = set()
    # Beginning-of-stream pages all come first; their first packet names the codec.
    for _ in range(_MAX_OGG_STREAMS):
        if buf[o : o + 4] != OGG_MAGIC or len(buf) - o < 27:
            break
        header_type = buf[o + 5]
        segments = buf[o + 27 : o + 27 + buf[o + 26]]
        if not header_type & 0x02:
            break
        body = o + 27 + len(segments)
        head = buf[body : body + 16]
        if _startswith_any(head, _OGG_VIDEO):
            kinds.add("video")
        elif _startswith_any(head, _OGG_AUDIO):
            kinds.add("audio")
        o = body + sum(segments)
    if "video" in kinds:
        return _refused()
    if "audio" in kinds:
        return _refused(AUDIO)
    return _refused()


# --------------------------------------------------------------------------- ASF (WMA/WMV)

# Stream type GUIDs as stored (little-endian fields): F8699E40-5B4D-11CF-A8FD-00805F5C442B is
# audio, BC19EFC0-5B4D-11CF-A8FD-00805F5C442B video, B61BE100-5B4E-11CF-A8FD-00805F5C442B JFIF,
# 35907DE0-E415-11CF-A917-00805F5C442B degradable JPEG.
_ASF_AUDIO = b'@\x9ei\xf8M[\xcf\x11\xa8\xfd\x00\x80_\\D+'
_ASF_VIDEO = b'\xc0\xef\x19\xbcM[\xcf\x11\xa8\xfd\x00\x80_\\D+'
_ASF_JFIF = b'\x00\xe1\x1b\xb6N[\xcf\x11\xa8\xfd\x00\x80_\\D+'
_ASF_DEGRADABLE_JPEG = b'\xe0}\x905\x15\xe4\xcf\x11\xa9\x17\x00\x80_\\D+'


def inspect_asf(buf: bytes) -> Finding:
    """WMA (audio streams only) is audio; WMV and the rest are not allowed."""
    size = int.from_bytes(buf[16:24], "little")
    header = buf[: max(30, min(size, len(buf)))]
    # Stream type GUIDs only occur in stream properties objects, so a plain search of the
    # header object is exact enough and also covers the header extension.
    if _ASF_VIDEO in header or _ASF_JFIF in header or _ASF_DEGRADABLE_JPEG in header:
        return _refused()
    if _ASF_AUDIO in header:
        return _refused(AUDIO)
    return _refused()


# --------------------------------------------------------------------------- OLE2 (.doc/.xls/.ppt)

_FREESECT_MIN = 0xFFFFFFFA  # values from here up are markers, not sector numbers
_NOSTREAM = 0xFFFFFFFF
_MAX_DIFAT_SECTORS = 1_000
_MAX_DIR_SECTORS = 10_000

OLE_WORD = "word"
OLE_EXCEL = "excel"
OLE_POWERPOINT = "powerpoint"
OLE_ENCRYPTED = "encrypted_ooxml"
OLE_OTHER = "other"
OLE_MACROS = "macros"

_OLE_STREAMS = {
    "WordDocument": OLE_WORD,
    "Workbook": OLE_EXCEL,
    "Book": OLE_EXCEL,  # Excel 5/95
    "PowerPoint Document": OLE_POWERPOINT,
    "EncryptedPackage": OLE_ENCRYPTED,  # password-protected docx/xlsx/pptx
}
# Where Office keeps VBA macros in a compound file: the Macros storage (Word), the
# _VBA_PROJECT_CUR storage (Excel), each holding a VBA storage with a _VBA_PROJECT stream.
# Searched in the whole directory, at any depth. (PowerPoint 97-2003 keeps its VBA inside
# the "PowerPoint Document" stream, which is not read here: see docs/security.md.)
_OLE_MACRO_NAMES = frozenset({"macros", "_vba_project_cur", "vba", "_vba_project"})


def _ascii_utf16le(raw: bytes) -> str:
    """A UTF-16LE name with every code unit outside ASCII (and an odd last byte) as U+FFFD:
    the names looked for are ASCII, and MicroPython has no UTF-16 codec."""
    chars = []
    for i in range(0, len(raw) - 1, 2):
        unit = raw[i] | (raw[i + 1] << 8)
        chars.append(chr(unit) if unit < 0x80 else "\ufffd")
    if len(raw) % 2:
        chars.append("\ufffd")
    return "".join(chars)


def inspect_ole2(buf: bytes) -> str | None:
    """Which application made this compound file, from the root storage's stream names.

    Returns OLE_MACROS when any storage or stream of the directory is where VBA macros live,
    else OLE_WORD/OLE_EXCEL/OLE_POWERPOINT/OLE_ENCRYPTED, OLE_OTHER for a readable compound
    file of another kind (MSI, MSG, ...), or None when the directory cannot be read.
    """
    try:
        return _inspect_ole2(buf, _Budget())
    except _Exhausted:
        return None


def _inspect_ole2(buf: bytes, budget: _Budget) -> str | None:
    sector_size = _ole2_sector_size(buf)
    if sector_size is None:
        return None
    difat = _ole2_difat(buf, sector_size, budget)
    entries = _ole2_directory(buf, difat, sector_size, budget)
    if not entries or buf[entries[0] + 0x42] != 5:  # entry 0 must be the root storage
        return None
    if _ole2_has_macros(buf, entries):
        return OLE_MACROS
    found = _ole2_root_streams(buf, entries, budget)
    return found.pop() if len(found) == 1 else OLE_OTHER


def _ole2_sector_size(buf: bytes) -> int | None:
    """The sector size the header gives (512 or 4096), None when this is no compound file."""
    if len(buf) < 512 or buf[: len(OLE2_MAGIC)] != OLE2_MAGIC:
        return None
    shift = _u16le(buf, 0x1E)
    return 1 << shift if shift in (9, 12) else None


def _ole2_sector_offset(n: int, sector_size: int) -> int:
    return (n + 1) * sector_size  # sector 0 follows the 512-byte header (padded)


def _ole2_difat(buf: bytes, sector_size: int, budget: _Budget) -> list:
    """The FAT's sector numbers: the first 109 are in the header, the rest in a chain of DIFAT
    sectors (each ending with the next one's number), followed as far as the file goes."""
    difat = [_u32le(buf, 0x4C + 4 * i) for i in range(109)]
    per_sector = sector_size // 4
    sec = _u32le(buf, 0x44)
    for _ in range(min(_u32le(buf, 0x48), _MAX_DIFAT_SECTORS)):
        o = _ole2_sector_offset(sec, sector_size)
        if sec >= _FREESECT_MIN or o + sector_size > len(buf):
            break
        budget.spend()
        difat.extend(_u32le(buf, o + 4 * i) for i in range(per_sector - 1))
        sec = _u32le(buf, o + sector_size - 4)
    return difat


def _ole2_next_sector(buf: bytes, difat: list, sector_size: int, n: int) -> int:
    """The sector after n in its chain, from the FAT; _NOSTREAM where the FAT cannot say."""
    index, slot = divmod(n, sector_size // 4)
    if index >= len(difat) or difat[index] >= _FREESECT_MIN:
        return _NOSTREAM
    o = _ole2_sector_offset(difat[index], sector_size) + 4 * slot
    return _u32le(buf, o) if o + 4 <= len(buf) else _NOSTREAM


def _ole2_directory(buf: bytes, difat: list, sector_size: int, budget: _Budget) -> list:
    """The offsets of the directory's 128-byte entries, along the directory's sector chain
    (stopping at a loop or the file's end)."""
    entries = []
    seen = set()
    sec = _u32le(buf, 0x30)
    while sec < _FREESECT_MIN and sec not in seen and len(seen) < _MAX_DIR_SECTORS:
        budget.spend()
        seen.add(sec)
        o = _ole2_sector_offset(sec, sector_size)
        if o + sector_size > len(buf):
            break
        entries.extend(range(o, o + sector_size, 128))
        sec = _ole2_next_sector(buf, difat, sector_size, sec)
    return entries


def _ole2_name(buf: bytes, e: int) -> str:
    """A directory entry's name (its length field counts bytes, the final NUL included)."""
    length = min(_u16le(buf, e + 0x40), 64)
    return _ascii_utf16le(buf[e : e + max(0, length - 2)])


def _ole2_has_macros(buf: bytes, entries: list) -> bool:
    """Whether any storage (1) or stream (2), reachable from the root or not, is named where
    VBA macros live."""
    for e in entries:
        if buf[e + 0x42] in (1, 2) and _ole2_name(buf, e).lower() in _OLE_MACRO_NAMES:
            return True
    return False


def _ole2_root_streams(buf: bytes, entries: list, budget: _Budget) -> set:
    """The kinds (_OLE_STREAMS) of the root storage's streams. The root's children form a
    red-black tree through the left/right sibling ids."""
    found = set()
    stack = [_u32le(buf, entries[0] + 0x4C)]
    visited = set()
    while stack:
        budget.spend()
        sid = stack.pop()
        if sid >= len(entries) or sid in visited:
            continue
        visited.add(sid)
        e = entries[sid]
        if buf[e + 0x42] == 2:  # a stream
            kind = _OLE_STREAMS.get(_ole2_name(buf, e))
            if kind:
                found.add(kind)
        stack.append(_u32le(buf, e + 0x44))
        stack.append(_u32le(buf, e + 0x48))
    return found


# --------------------------------------------------------------------------- ZIP (OOXML/ODF)

_OOXML_MAIN = (
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "word/",
    ),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xl/",
    ),
    (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "ppt/",
    ),
)
_ODF_MIMES = (
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
)
_MAX_CONTENT_TYPES = 1 << 20  # read at most this much of [Content_Types].xml (zip bombs)
_MAX_ZIP_ENTRIES = 10_000  # office files have hundreds of parts at most
_MAX_MEMBER_READ = 1 << 20  # compressed bytes read of a member
_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_EOCD64 = b"PK\x06\x06"
_CENTRAL_HEADER = b"PK\x01\x02"
_LOCAL_HEADER = b"PK\x03\x04"
_EOCD_SEARCH = 65536 + 22  # the record and the longest comment
_UTF8_NAME = 0x800
_MAX_EXTRACT_VERSION = 63  # what zipfile reads; a higher version it refuses
# Flags that make a member unreadable here: encrypted (1), compressed patch (0x20), strong
# encryption (0x40).
_UNREADABLE_FLAGS = 0x1 | 0x20 | 0x40
_STORED = 0
_DEFLATED = 8


class _BadZip(Exception):
    """The archive is damaged or of a kind no office program writes: refused."""


def _u64le(buf: bytes, o: int) -> int:
    return int.from_bytes(buf[o : o + 8], "little")


def utf8_valid(data: bytes) -> bool:
    """Whether `data` is UTF-8 as CPython's strict codec sees it, in CPython and MicroPython."""
    try:
        text = data.decode("utf-8")
    except Exception:  # UnicodeDecodeError; MicroPython raises UnicodeError
        return False
    if not MICROPYTHON or len(text) == len(data):  # CPython's codec is strict; ASCII is UTF-8
        return True
    # MicroPython checks only the shape of each sequence (and refuses leads from 0xF8):
    # overlong forms, surrogates and code points past U+10FFFF pass it. Each is a lead byte
    # that never occurs, or one whose next byte is out of range; a well-formed sequence
    # guarantees that byte exists. Every test is one search (C), not a loop over bytes.
    for lead in (0xC0, 0xC1, 0xF5, 0xF6, 0xF7):
        if bytes((lead,)) in data:
            return False
    for lead, low, high in ((0xE0, 0xA0, 0xBF), (0xED, 0x80, 0x9F), (0xF0, 0x90, 0xBF),
                            (0xF4, 0x80, 0x8F)):
        needle = bytes((lead,))
        at = data.find(needle)
        while at >= 0:
            if not low <= data[at + 1] <= high:
                return False
            at = data.find(needle, at + 1)
    return True


def _name_text(raw: bytes, flags: int) -> str:
    """A member name as zipfile lists it, for matching ASCII patterns: UTF-8 when flagged (an
    invalid one is refused, as zipfile refuses it), else each byte as one character."""
    if flags & _UTF8_NAME:
        if not utf8_valid(raw):
            raise _BadZip
        text = raw.decode("utf-8")
    else:  # code page 437 to zipfile: only its ASCII part is ever matched, so bytes as chars
        text = raw.decode("utf-8") if _ascii(raw) else "".join([chr(b) for b in raw])
    cut = text.find("\x00")  # zipfile lists a name up to its first NUL
    return text if cut < 0 else text[:cut]


def _end_record(buf):
    """(central directory start, its size, concat) as zipfile finds them, or _BadZip."""
    size = len(buf)
    tail_at = max(0, size - _EOCD_SEARCH)
    last = buf[max(0, size - 22) : size]
    if len(last) == 22 and last[:4] == _EOCD and last[20:22] == b"\x00\x00":
        at = size - 22
    else:
        found = buf[tail_at:size].rfind(_EOCD)
        if found < 0 or tail_at + found + 22 > size:
            raise _BadZip
        at = tail_at + found
    record = buf[at : at + 22]
    claimed, cd_size, cd_offset = _u16le(record, 10), _u32le(record, 12), _u32le(record, 16)
    # The 32-bit record's escape values: a ZIP64 archive, which no office document of 10 MB is.
    if claimed == 0xFFFF or cd_size == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF:
        raise _BadZip
    concat = at - cd_size - cd_offset
    locator = buf[at - 20 : at] if at >= 20 else b""
    if locator[:4] == _EOCD64_LOCATOR:
        if _u32le(locator, 4) != 0 or _u32le(locator, 16) > 1:
            raise _BadZip  # spans disks
        if at < 76:
            raise _BadZip
        record64 = buf[at - 76 : at - 20]
        if record64[:4] == _EOCD64:
            cd_size, cd_offset = _u64le(record64, 40), _u64le(record64, 48)
            concat = at - cd_size - cd_offset - 76
    start = cd_offset + concat
    if start < 0:
        raise _BadZip
    return start, cd_size, concat


class _Member:
    def __init__(self, raw_name, flags, method, crc, compressed, size, offset):
        self.raw_name = raw_name
        self.flags = flags
        self.method = method
        self.crc = crc
        self.compressed = compressed
        self.size = size
        self.offset = offset


def _zip64_extra(extra: bytes, member: _Member) -> None:
    """The extra fields as zipfile checks them: each must fit; ZIP64 sizes replace escapes."""
    o = 0
    while len(extra) - o >= 4:
        kind, length = _u16le(extra, o), _u16le(extra, o + 2)
        if o + 4 + length > len(extra):
            raise _BadZip
        if kind == 1:
            data = extra[o + 4 : o + 4 + length]
            if member.size == 0xFFFFFFFF:
                if len(data) < 8:
                    raise _BadZip
                member.size, data = _u64le(data, 0), data[8:]
            if member.compressed == 0xFFFFFFFF:
                if len(data) < 8:
                    raise _BadZip
                member.compressed, data = _u64le(data, 0), data[8:]
            if member.offset == 0xFFFFFFFF:
                if len(data) < 8:
                    raise _BadZip
                member.offset = _u64le(data, 0)
        o += 4 + length


def _central_directory(buf):
    """[(listed name, member)] in the directory's order, read as zipfile reads it; _BadZip for
    what zipfile refuses and for more than _MAX_ZIP_ENTRIES entries."""
    start, cd_size, concat = _end_record(buf)
    directory = buf[start : start + cd_size]
    members = []
    o = 0
    while o < cd_size:
        if len(members) >= _MAX_ZIP_ENTRIES:
            raise _BadZip  # hostile: more parts than any office document
        if o + 46 > len(directory) or directory[o : o + 4] != _CENTRAL_HEADER:
            raise _BadZip
        name_len = _u16le(directory, o + 28)
        extra_len = _u16le(directory, o + 30)
        comment_len = _u16le(directory, o + 32)
        if directory[o + 6] > _MAX_EXTRACT_VERSION:
            raise _BadZip
        flags = _u16le(directory, o + 8)
        raw_name = directory[o + 46 : o + 46 + name_len]
        member = _Member(raw_name, flags, _u16le(directory, o + 10), _u32le(directory, o + 16),
                         _u32le(directory, o + 20), _u32le(directory, o + 24),
                         _u32le(directory, o + 42))
        extra_at = o + 46 + name_len
        _zip64_extra(directory[extra_at : extra_at + extra_len], member)
        member.offset += concat
        members.append((_name_text(raw_name, flags), member))
        o += 46 + name_len + extra_len + comment_len
    return members


def _zip_entry_count(buf, limit: int = _MAX_ZIP_ENTRIES):
    """How many entries the central directory has (walked, not the end record's claim), or
    None when it cannot be read; stops counting past `limit`."""
    try:
        start, cd_size, _ = _end_record(buf)
    except _BadZip:
        return None
    directory = buf[start : start + cd_size]
    o, count = 0, 0
    while o + 46 <= len(directory) and directory[o : o + 4] == _CENTRAL_HEADER:
        count += 1
        if count > limit:
            break
        o += 46 + _u16le(directory, o + 28) + _u16le(directory, o + 30) + _u16le(directory, o + 32)
    return count


def _read_member(buf, member: _Member, limit: int) -> bytes:
    """Up to `limit` bytes of a member, as zipfile's `open(name).read(limit)` gives them: the
    local header must match, only stored and deflated members are read, and a member read to
    its end must match its CRC."""
    if member.flags & _UNREADABLE_FLAGS or member.method not in (_STORED, _DEFLATED):
        raise _BadZip
    header = buf[member.offset : member.offset + 30]
    if len(header) < 30 or header[:4] != _LOCAL_HEADER:
        raise _BadZip
    name_len, extra_len = _u16le(header, 26), _u16le(header, 28)
    local_name = buf[member.offset + 30 : member.offset + 30 + name_len]
    if local_name != member.raw_name or (
            (_u16le(header, 6) ^ member.flags) & _UTF8_NAME and not _ascii(local_name)):
        raise _BadZip  # zipfile compares the names as text; only ASCII reads alike both ways
    data_at = member.offset + 30 + name_len + extra_len
    raw = buf[data_at : data_at + member.compressed]
    if member.method == _STORED:
        out = raw[: min(member.size, limit + 1)]
        if len(out) < min(member.compressed, member.size, limit + 1):
            raise _BadZip  # the file ends inside the member
    else:
        out, cut = inflate(raw, min(member.size, limit + 1), raw_deflate=True)
        if cut and len(out) <= limit:
            raise _BadZip  # the stream is cut short (zipfile's CRC check fails on it)
    if len(out) > limit:
        return out[:limit]  # not read to its end: zipfile checks no CRC then
    if crc32(out) != member.crc:
        raise _BadZip
    return out


def _ascii(raw: bytes) -> bool:
    return utf8_valid(raw) and len(raw.decode("utf-8")) == len(raw)


# Unicode letters that Python's case-insensitive matching takes for ASCII ones (simple case
# mappings): the active-content names are matched as zipfile lists them, so these count too.
_CASE_ALIASES = {"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"}


def _folded(name: str) -> str:
    if _ascii(name.encode()):
        return name.lower()
    return "".join([_CASE_ALIASES.get(ch, ch) for ch in name]).lower()


def _ooxml_active(name: str) -> bool:
    """vbaProject.bin (macros, wherever it sits) or an ActiveX control part (word/activeX/...)."""
    folded = _folded(name)
    if folded.endswith("\n"):  # a pattern's "$" also matches before a final newline
        folded = folded[:-1]
    return (folded == "vbaproject.bin" or folded.endswith("/vbaproject.bin")
            or folded.startswith("activex/") or "/activex/" in folded)


def _odf_scripts(names: list) -> bool:
    """An OpenDocument package with macros: Basic modules (Basic/<library>/<module>.xml) or
    other script languages (Scripts/<language>/...). A plain document has neither folder."""
    for n in names:
        if (n.startswith("Basic/") or n.startswith("Scripts/")) and not n.endswith("/"):
            return True
    return False


def inspect_zip(buf) -> Finding:
    """OOXML (docx/xlsx/pptx) and OpenDocument (odt/ods/odp) pass; other zips do not.

    Reads the end record and central directory from the tail, then `mimetype` or
    `[Content_Types].xml` only.
    """
    try:
        members = _central_directory(buf)
        names = [name for name, _ in members]
        by_name = {}
        for name, member in members:
            by_name[name] = member  # the last of a repeated name, as zipfile opens it
        if "mimetype" in by_name:
            mime = _read_member(buf, by_name["mimetype"], 128).strip(b" \t\n\r\x0b\x0c")
            if mime not in _ODF_MIME_BYTES:
                return _refused()
            return _refused(ACTIVE) if _odf_scripts(names) else _allowed(mime.decode())
        if "[Content_Types].xml" not in by_name:
            return _refused()
        # Macros (docm/xlsm/pptm, or a vbaProject smuggled into a docx) and ActiveX
        # controls are refused as active content.
        for name in names:
            if _ooxml_active(name):
                return _refused(ACTIVE)
        types = _read_member(buf, by_name["[Content_Types].xml"], _MAX_CONTENT_TYPES)
    except (_BadZip, Damaged):
        return _refused()
    # ASCII lower case: the content types looked for are ASCII, and an invalid UTF-8 sequence
    # (which zipfile's reader replaced) never holds an ASCII byte.
    text = types.lower()
    matches = [(mime, folder) for main, mime, folder in _OOXML_MAIN if main.encode() in text]
    if len(matches) != 1:
        return _refused()  # templates, slideshows, macro-enabled or ambiguous packages
    mime, folder = matches[0]
    for name in names:
        if name.startswith(folder):
            return _allowed(mime)
    return _refused()


_ODF_MIME_BYTES = tuple(mime.encode() for mime in _ODF_MIMES)
