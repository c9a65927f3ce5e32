"""WebM / Matroska films: tags naming a place, a device or a date removed in place, read through
a Source and answered as a Plan.

Part of :mod:`bifoga.media.metadata` (the public interface). Pure and MicroPython-safe (no typing,
re, zlib, datetime or __future__): the browser's light worker (MicroPython), the Pyodide worker, the
server and the tests run it.

Only the element headers of the Segment's level are read, and the bodies of Info, Tags and
Attachments (at most 4 MiB each, else the film is refused); Clusters are planned as ranges of the
source (a Cluster of unknown size, as MediaRecorder writes, is walked block header by block
header to find its end). Nothing moves (no SeekHead or Cues position changes; every block stays
byte for byte): a removed element is overwritten by an EBML Void element of the same size.
What goes:
- in Tags: every SimpleTag but the muxer's statistics (DURATION, BPS, NUMBER_OF_FRAMES,
  NUMBER_OF_BYTES, _STATISTICS_TAGS): LOCATION, RECORDING_LOCATION, COMMENT, ENCODER, MAKE,
  MODEL, DATE_RECORDED (kept with ``keep_capture_date``), ...; a Tag left with none goes whole;
- in Info: DateUTC (kept with ``keep_capture_date``) and Title; MuxingApp and WritingApp, which
  Matroska requires, are blanked (their text zeroed: an empty string);
- Attachments (pictures, which can carry their own metadata).
A CRC-32 element of a changed master element is recomputed.

The walk is bounded by a step budget; a file whose header or Segment does not add up is refused
with :class:`MetadataError`.
"""

from binascii import crc32

from bifoga.media.film_meta import carries_position, category, lay_out, timestamp_text, zeroed_tail
from bifoga.media.isobmff import bytes_reader
from bifoga.media.meta_error import MetadataError
from bifoga.media.source import Plan

_MAX_ELEMENTS = 100000  # elements per file: real files have far fewer; bounds the time
_MAX_READ = 4 * 1024 * 1024  # the largest element read into memory
_EBML, _SEGMENT, _CLUSTER = 0x1A45DFA3, 0x18538067, 0x1F43B675
_INFO, _TAGS, _TAG, _SIMPLE_TAG = 0x1549A966, 0x1254C367, 0x7373, 0x67C8
_TAG_NAME, _TAG_STRING, _ATTACHMENTS = 0x45A3, 0x4487, 0x1941A469
_DATE_UTC, _TITLE, _MUXING_APP, _WRITING_APP = 0x4461, 0x7BA9, 0x4D80, 0x5741
_CRC32, _VOID = 0xBF, 0xEC
# Elements of the Segment's level: one of them ends a Cluster of unknown size.
_LEVEL1 = frozenset((0x114D9B74, _INFO, 0x1654AE6B, _CLUSTER, 0x1C53BB6B, _TAGS, _ATTACHMENTS,
                     0x1043A770, _SEGMENT, _EBML))
_DAYS_2001 = 11323  # 2001-01-01 (the Matroska epoch) in days from 1970-01-01
_STATISTICS = frozenset((b"DURATION", b"BPS", b"NUMBER_OF_FRAMES", b"NUMBER_OF_BYTES",
                         b"_STATISTICS_TAGS"))


class _El:
    __slots__ = ("id", "start", "body", "end", "sized")

    def __init__(self, eid, start, body, end, sized):
        self.id, self.start, self.body, self.end, self.sized = eid, start, body, end, sized


def _vint(data, pos, end, is_id, where):
    """(value, length, all ones) of an EBML variable-length integer at data[pos]; `where` is
    its offset in the file, for the message."""
    if pos >= end or data[pos] == 0:
        raise MetadataError("corrupt Matroska: bad number at offset %d" % where)
    length = 9 - len(bin(data[pos])) + 2  # 8 - the bits after the leading one
    if (is_id and length > 4) or pos + length > end:
        raise MetadataError("corrupt Matroska: bad number at offset %d" % where)
    raw = int.from_bytes(data[pos:pos + length], "big")
    if is_id:
        return raw, length, False
    value = raw & ((1 << (7 * length)) - 1)
    return value, length, value == (1 << (7 * length)) - 1


def _signed(raw):
    """A big-endian two's complement integer."""
    value = int.from_bytes(raw, "big")
    return value - (1 << (8 * len(raw))) if raw and raw[0] & 0x80 else value


def _text(value):
    """UTF-8 text, each byte of a broken sequence read as U+FFFD (MicroPython's decode has no
    errors="replace")."""
    try:
        return value.decode("utf-8")
    except (UnicodeError, ValueError):
        return "".join(chr(c) if c < 128 else "\ufffd" for c in value)


class _Ebml:
    """One pass over a Matroska file: what it carries (``found``, ``capture_date``) and, for the
    element being scrubbed, its bytes (``data``) and scrubbed copy (``out``), at offset 0."""

    def __init__(self, reader, keep):
        self.reader, self.keep = reader, keep
        self.found = set()
        self.capture_date = None
        self.budget = _MAX_ELEMENTS
        self.read = reader.read
        self.base = 0  # where offset 0 of `read` is in the file
        self.data = self.out = b""

    def element(self, pos, end):
        self.budget -= 1
        if self.budget < 0:
            raise MetadataError("corrupt Matroska: too many elements")
        head = self.read(pos, min(12, end - pos))
        eid, id_len, _ = _vint(head, 0, len(head), True, self.base + pos)
        size, size_len, unknown = _vint(head, id_len, len(head), False, self.base + pos)
        body = pos + id_len + size_len
        if unknown:
            return _El(eid, pos, body, end, False)
        if body + size > end:
            raise MetadataError("truncated Matroska: element at offset %d runs past the end"
                                % (self.base + pos))
        return _El(eid, pos, body, body + size, True)

    def children(self, parent):
        kids, pos = [], parent.body
        while pos < parent.end:
            kid = self.element(pos, parent.end)
            if not kid.sized:
                raise MetadataError("unsupported Matroska: unknown size at offset %d"
                                    % (self.base + pos))
            kids.append(kid)
            pos = kid.end
        return kids

    def run(self):
        """The pieces of the file: (start, end, new bytes or None to keep the source's)."""
        n = self.reader.size
        header = self.element(0, n)
        if header.id != _EBML:
            raise MetadataError("corrupt Matroska: no EBML header")
        pieces = [(0, header.end, None)]
        pos, segments = header.end, 0
        while pos < n:
            try:
                el = self.element(pos, n)
            except MetadataError:
                if not segments:
                    raise
                pieces.append((pos, n, zeroed_tail(self.reader, pos, self.found)))
                return pieces
            if el.id == _SEGMENT:
                segments += 1
                self.segment(el, pieces)
            elif not el.sized:
                raise MetadataError("unsupported Matroska: unknown size at offset %d" % pos)
            else:
                pieces.append((el.start, el.end, None))
            pos = el.end
        if not segments:
            raise MetadataError("corrupt Matroska: no Segment")
        return pieces

    def segment(self, seg, pieces):
        pieces.append((seg.start, seg.body, None))
        pos = seg.body
        while pos < seg.end:
            el = self.element(pos, seg.end)
            if el.id == _CLUSTER and not el.sized:  # live recordings (MediaRecorder)
                end = self.skip_cluster(el.body, seg.end)
                pieces.append((pos, end, None))
                pos = end
                continue
            if not el.sized:
                raise MetadataError("unsupported Matroska: unknown size at offset %d" % pos)
            scrub = {_INFO: self.info, _TAGS: self.tags, _ATTACHMENTS: self.attachments}
            method = scrub.get(el.id)
            pieces.append((el.start, el.end, self.scrub(el, method) if method else None))
            pos = el.end

    def skip_cluster(self, pos, end):
        """Where a Cluster of unknown size ends: at the next element of the Segment's level."""
        while pos < end:
            el = self.element(pos, end)
            if el.id in _LEVEL1:
                return pos
            if not el.sized:
                raise MetadataError("unsupported Matroska: unknown size at offset %d" % pos)
            pos = el.end
        return end

    def scrub(self, el, method):
        """The element `el` scrubbed by `method`, or None when nothing in it changed."""
        if el.end - el.start > _MAX_READ:
            raise MetadataError("unsupported Matroska: an element of %d bytes at offset %d"
                                % (el.end - el.start, el.start))
        self.data = self.reader.read(el.start, el.end - el.start)
        self.out = bytearray(self.data)
        self.read, self.base = bytes_reader(self.data), el.start
        try:
            method(_El(el.id, 0, el.body - el.start, el.end - el.start, True))
        finally:
            self.read, self.base = self.reader.read, 0
        return None if self.out == self.data else bytes(self.out)

    # --- what goes -----------------------------------------------------------------------

    def void(self, el, cat):
        """Note what ``el`` carries (``cat``, a position in it) and overwrite it with a Void
        element of the same size."""
        if cat is not None:
            self.found.add(cat)
            if cat != "gps" and carries_position(self.data[el.body:el.end]):
                self.found.add("gps")
        total = el.end - el.start
        if total - 2 <= 126:
            head = bytes((_VOID, 0x80 | (total - 2)))
        else:
            head = bytes((_VOID, 0x01)) + (total - 9).to_bytes(7, "big")
        self.out[el.start:el.end] = head + bytes(total - len(head))

    def kept_date(self, cat, value):
        """Note a date; True if it stays (the user keeps the capture date)."""
        if cat != "datetime":
            return False
        if self.capture_date is None:
            self.capture_date = value or None
        if not self.keep:
            return False
        self.found.add("datetime")
        return True

    def attachments(self, el):
        self.void(el, "other_exif")

    def info(self, info):
        for el in self.children(info):
            if el.id == _DATE_UTC and el.end > el.body:
                ns = _signed(self.data[el.body:min(el.end, el.body + 8)])  # a date is 8 bytes
                when = timestamp_text(ns // 1000000000, _DAYS_2001)
                if not self.kept_date("datetime", when):
                    self.void(el, "datetime")
            elif el.id == _TITLE and el.end > el.body:
                self.void(el, "comment")
            elif el.id in (_MUXING_APP, _WRITING_APP) and any(self.data[el.body:el.end]):
                self.found.add("other_exif")
                self.out[el.body:el.end] = bytes(el.end - el.body)
        self.fix_crc(info)

    def tags(self, tags):
        for tag in self.children(tags):
            if tag.id != _TAG:
                continue
            if self.tag(tag):
                self.fix_crc(tag)
            else:
                self.void(tag, None)  # what its SimpleTags carried is noted already
        self.fix_crc(tags)

    def tag(self, tag):
        """Void a Tag's SimpleTags but a kept date's; True if one was kept."""
        kept = False
        for simple in self.children(tag):
            if simple.id != _SIMPLE_TAG:
                continue
            names = []
            self.simple_tag_names(simple, names, 0)
            cats = [(category(name), value) for name, value in names
                    if name not in _STATISTICS]
            if all(self.kept_date(c, _text(v)) for c, v in cats):
                kept = True
                continue
            for cat, _ in cats:
                self.found.add(cat)
            self.void(simple, cats[0][0])
        return kept

    def simple_tag_names(self, simple, names, depth):
        """(TagName, TagString) of a SimpleTag and of the SimpleTags nested in it."""
        name = value = b""
        for el in self.children(simple):
            if el.id == _TAG_NAME:
                name = bytes(self.data[el.body:el.end]).rstrip(b"\x00").upper()
            elif el.id == _TAG_STRING:
                value = bytes(self.data[el.body:el.end])
            elif el.id == _SIMPLE_TAG and depth < 16:
                self.simple_tag_names(el, names, depth + 1)
        names.append((name, value))

    def fix_crc(self, master):
        """Matroska's CRC-32 element, if first in a master element, covers the rest of it."""
        kids = self.children(master)
        if kids and kids[0].id == _CRC32 and kids[0].end - kids[0].body == 4:
            crc = crc32(bytes(self.out[kids[0].end:master.end]))
            self.out[kids[0].body:kids[0].end] = crc.to_bytes(4, "little")


def plan_ebml(reader, keep_capture_date):
    """The Matroska file `reader` reads with its metadata removed, same length: (a
    bifoga.media.source.Plan over reader.source, the categories found, the capture date or None)."""
    film = _Ebml(reader, keep_capture_date)
    plan = Plan()
    lay_out(film.run(), [], plan)
    return plan, film.found, film.capture_date

