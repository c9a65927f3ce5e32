"""Container parsers the `filetype` library lacks: they look inside a file to tell film from audio.

Each `inspect_*` function takes the whole file and returns a `Finding`: an allowed MIME type, or
a refusal reason. Every walk is bounded by the data length and by a step budget, so hostile or
truncated input ends quickly and never raises.
"""

import io
import re
import uuid
import zipfile
from typing import NamedTuple

from bifoga.refusals import ACTIVE_CONTENT as ACTIVE
from bifoga.refusals import AUDIO_NOT_ALLOWED as AUDIO
from bifoga.refusals import TYPE_NOT_ALLOWED as NOT_ALLOWED

# The prefixes that send a file here are the first-bytes stage's (re-exported for callers).
from bifoga.sniff_head import (  # noqa: F401
    ASF_MAGIC,
    EBML_MAGIC,
    OGG_MAGIC,
    OLE2_MAGIC,
    ZIP_MAGIC,
    looks_isobmff,
)

# No genuine file of 10 MB needs more element/box visits than this to reach its track list.
MAX_STEPS = 50_000


class Finding(NamedTuple):
    """What a container parser concluded: `mime` when allowed, else `reason`."""

    mime: str | None
    reason: str | None


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
    length = 9 - first.bit_length()
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
    doc_type = "matroska"  # the EBML default when DocType is absent
    for eid, body, end, status in _elements(buf, header[1], header[2], budget):
        if eid == _ID_DOCTYPE and status == _COMPLETE:
            doc_type = buf[body:end].rstrip(b"\x00").decode("ascii", "replace")
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
        return _allowed("video/webm") if doc_type == "webm" else _refused()
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
        if head.startswith(_OGG_VIDEO):
            kinds.add("video")
        elif head.startswith(_OGG_AUDIO):
            kinds.add("audio")
        o = body + sum(segments)
    if "video" in kinds:
        return _refused()
    if "audio" in kinds:
        return _refused(AUDIO)
    return _refused()


# --------------------------------------------------------------------------- ASF (WMA/WMV)

_ASF_AUDIO = uuid.UUID("F8699E40-5B4D-11CF-A8FD-00805F5C442B").bytes_le
_ASF_VIDEO = uuid.UUID("BC19EFC0-5B4D-11CF-A8FD-00805F5C442B").bytes_le
_ASF_JFIF = uuid.UUID("B61BE100-5B4E-11CF-A8FD-00805F5C442B").bytes_le
_ASF_DEGRADABLE_JPEG = uuid.UUID("35907DE0-E415-11CF-A917-00805F5C442B").bytes_le


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
    if len(buf) < 512 or not buf.startswith(OLE2_MAGIC):
        return None
    shift = _u16le(buf, 0x1E)
    if shift not in (9, 12):
        return None
    sector_size = 1 << shift
    per_sector = sector_size // 4

    def sector_offset(n: int) -> int:
        return (n + 1) * sector_size  # sector 0 follows the 512-byte header (padded)

    # DIFAT: the first 109 FAT sector numbers are in the header, the rest in a chain.
    difat = [_u32le(buf, 0x4C + 4 * i) for i in range(109)]
    sec = _u32le(buf, 0x44)
    for _ in range(min(_u32le(buf, 0x48), _MAX_DIFAT_SECTORS)):
        if sec >= _FREESECT_MIN or sector_offset(sec) + sector_size > len(buf):
            break
        budget.spend()
        o = sector_offset(sec)
        difat.extend(_u32le(buf, o + 4 * i) for i in range(per_sector - 1))
        sec = _u32le(buf, o + sector_size - 4)

    def next_sector(n: int) -> int:
        index, slot = divmod(n, per_sector)
        if index >= len(difat) or difat[index] >= _FREESECT_MIN:
            return _NOSTREAM
        o = sector_offset(difat[index]) + 4 * slot
        return _u32le(buf, o) if o + 4 <= len(buf) else _NOSTREAM

    entries = []
    seen = set()
    sec = _u32le(buf, 0x30)
    while sec < _FREESECT_MIN and sec not in seen and len(seen) < _MAX_DIR_SECTORS:
        budget.spend()
        seen.add(sec)
        o = sector_offset(sec)
        if o + sector_size > len(buf):
            break
        entries.extend(range(o, o + sector_size, 128))
        sec = next_sector(sec)
    if not entries or buf[entries[0] + 0x42] != 5:  # entry 0 must be the root storage
        return None

    def name_of(e: int) -> str:
        length = min(_u16le(buf, e + 0x40), 64)
        return buf[e : e + max(0, length - 2)].decode("utf-16-le", "replace")

    for e in entries:  # every storage (1) and stream (2), reachable from the root or not
        if buf[e + 0x42] in (1, 2) and name_of(e).lower() in _OLE_MACRO_NAMES:
            return OLE_MACROS

    # The root's children form a red-black tree through the left/right sibling ids.
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
            kind = _OLE_STREAMS.get(name_of(e))
            if kind:
                found.add(kind)
        stack.append(_u32le(buf, e + 0x44))
        stack.append(_u32le(buf, e + 0x48))
    return found.pop() if len(found) == 1 else OLE_OTHER


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
_EOCD = b"PK\x05\x06"
_CENTRAL_HEADER = b"PK\x01\x02"


# vbaProject.bin (macros, wherever it sits) and ActiveX control parts (word/activeX/...).
_OOXML_ACTIVE = re.compile(r"(^|/)vbaproject\.bin$|(^|/)activex/", re.IGNORECASE)


def _odf_scripts(names: list[str]) -> bool:
    """An OpenDocument package with macros: Basic modules (Basic/<library>/<module>.xml) or
    other script languages (Scripts/<language>/...). A plain document has neither folder."""
    return any(n.startswith(("Basic/", "Scripts/")) and not n.endswith("/") for n in names)


def _read_member(zf: zipfile.ZipFile, name: str, limit: int) -> bytes:
    with zf.open(name) as member:
        return member.read(limit)


def _zip_entry_count(buf: bytes, limit: int = _MAX_ZIP_ENTRIES) -> int | None:
    """How many entries zipfile would walk: the central directory's headers, counted one by
    one from where the end-of-central-directory record puts the directory (as zipfile finds
    it) up to that record. The record's own entry count is not trusted: a file claiming one
    entry made zipfile walk 200,000. Returns None for no record or ZIP64 (no office document
    of 10 MB needs it), and stops counting past `limit`."""
    at = buf.rfind(_EOCD, max(0, len(buf) - 65_557))
    if at < 0 or len(buf) - at < 22:
        return None
    claimed, cd_size = _u16le(buf, at + 10), _u32le(buf, at + 12)
    if claimed == 0xFFFF or cd_size == 0xFFFFFFFF or _u32le(buf, at + 16) == 0xFFFFFFFF:
        return None
    o, count = at - cd_size, 0
    if o < 0:
        return None
    while o < at:  # zipfile reads headers until it has consumed cd_size bytes
        if buf[o : o + 4] != _CENTRAL_HEADER or o + 46 > at:
            break  # zipfile stops (BadZipFile) here too
        count += 1
        if count > limit:
            break
        o += 46 + _u16le(buf, o + 28) + _u16le(buf, o + 30) + _u16le(buf, o + 32)
    return count


def inspect_zip(buf: bytes) -> Finding:
    """OOXML (docx/xlsx/pptx) and OpenDocument (odt/ods/odp) pass; other zips do not."""
    count = _zip_entry_count(buf)
    # zipfile parses every central directory entry in Python: cap hostile archives first.
    if count is None or count > _MAX_ZIP_ENTRIES:
        return _refused()
    try:
        with zipfile.ZipFile(io.BytesIO(buf)) as zf:
            names = zf.namelist()
            if "mimetype" in names:
                mime = _read_member(zf, "mimetype", 128).strip().decode("ascii", "replace")
                if mime not in _ODF_MIMES:
                    return _refused()
                return _refused(ACTIVE) if _odf_scripts(names) else _allowed(mime)
            if "[Content_Types].xml" not in names:
                return _refused()
            # Macros (docm/xlsm/pptm, or a vbaProject smuggled into a docx) and ActiveX
            # controls are refused as active content.
            if any(_OOXML_ACTIVE.search(n) for n in names):
                return _refused(ACTIVE)
            types = _read_member(zf, "[Content_Types].xml", _MAX_CONTENT_TYPES)
    except Exception:  # zipfile raises many kinds of errors on damaged data; all mean "refuse"
        return _refused()
    text = types.decode("utf-8", "replace").lower()
    matches = [
        (mime, folder) for main, mime, folder in _OOXML_MAIN if main in text
    ]
    if len(matches) != 1:
        return _refused()  # templates, slideshows, macro-enabled or ambiguous packages
    mime, folder = matches[0]
    if not any(n.startswith(folder) for n in names):
        return _refused()
    return _allowed(mime)
