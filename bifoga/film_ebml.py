"""WebM / Matroska films: tags naming a place, a device or a date removed in place.

Part of :mod:`bifoga.metadata` (the public interface): plain Python, no Pillow, runs in Pyodide.

Nothing moves (no SeekHead or Cues position changes; every block stays byte for byte): a removed
element is overwritten by an EBML Void element of the same size. What goes:
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

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta

from bifoga.film_meta import carries_position, category
from bifoga.meta_common import _MAX_PARTS, MetadataError, _Acc

_EBML, _SEGMENT, _CLUSTER = 0x1A45DFA3, 0x18538067, 0x1F43B675
_INFO, _TAGS, _TAG, _SIMPLE_TAG = 0x1549A966, 0x1254C367, 0x7373, 0x67C8
_TAG_NAME, _TAG_STRING, _ATTACHMENTS = 0x45A3, 0x4487, 0x1941A469
_DATE_UTC, _TITLE, _MUXING_APP, _WRITING_APP = 0x4461, 0x7BA9, 0x4D80, 0x5741
_CRC32, _VOID = 0xBF, 0xEC
# Elements of the Segment's level: one of them ends a Cluster of unknown size.
_LEVEL1 = frozenset({0x114D9B74, _INFO, 0x1654AE6B, _CLUSTER, 0x1C53BB6B, _TAGS, _ATTACHMENTS,
                     0x1043A770, _SEGMENT, _EBML})
_MATROSKA_EPOCH = datetime(2001, 1, 1, tzinfo=UTC)
_STATISTICS = frozenset({b"DURATION", b"BPS", b"NUMBER_OF_FRAMES", b"NUMBER_OF_BYTES",
                         b"_STATISTICS_TAGS"})


class _El:
    __slots__ = ("id", "start", "body", "end", "sized")

    def __init__(self, eid: int, start: int, body: int, end: int, sized: bool) -> None:
        self.id, self.start, self.body, self.end, self.sized = eid, start, body, end, sized


def _vint(data: bytes, pos: int, end: int, is_id: bool) -> tuple[int, int, bool]:
    """(value, length, all ones) of an EBML variable-length integer."""
    if pos >= end or data[pos] == 0:
        raise MetadataError(f"corrupt Matroska: bad number at offset {pos}")
    length = 9 - data[pos].bit_length()
    if (is_id and length > 4) or pos + length > end:
        raise MetadataError(f"corrupt Matroska: bad number at offset {pos}")
    raw = int.from_bytes(data[pos : pos + length], "big")
    if is_id:
        return raw, length, False
    value = raw & ((1 << (7 * length)) - 1)
    return value, length, value == (1 << (7 * length)) - 1


class _Ebml:
    def __init__(self, data: bytes, acc: _Acc, keep: bool) -> None:
        self.data, self.acc, self.keep = data, acc, keep
        self.out = bytearray(data)
        self.budget = _MAX_PARTS

    def element(self, pos: int, end: int) -> _El:
        self.budget -= 1
        if self.budget < 0:
            raise MetadataError("corrupt Matroska: too many elements")
        eid, id_len, _ = _vint(self.data, pos, end, True)
        size, size_len, unknown = _vint(self.data, pos + id_len, end, False)
        body = pos + id_len + size_len
        if unknown:
            return _El(eid, pos, body, end, False)
        if body + size > end:
            raise MetadataError(f"truncated Matroska: element at offset {pos} runs past the end")
        return _El(eid, pos, body, body + size, True)

    def children(self, parent: _El) -> list[_El]:
        kids, pos = [], parent.body
        while pos < parent.end:
            kid = self.element(pos, parent.end)
            if not kid.sized:
                raise MetadataError(f"unsupported Matroska: unknown size at offset {pos}")
            kids.append(kid)
            pos = kid.end
        return kids

    def run(self) -> None:
        n = len(self.data)
        header = self.element(0, n)
        if header.id != _EBML:
            raise MetadataError("corrupt Matroska: no EBML header")
        pos, segments = header.end, 0
        while pos < n:
            try:
                el = self.element(pos, n)
            except MetadataError:
                if not segments:
                    raise
                self.junk(pos)  # after the last Segment: no player reads it
                break
            if el.id == _SEGMENT:
                segments += 1
                self.segment(el)
            elif not el.sized:
                raise MetadataError(f"unsupported Matroska: unknown size at offset {pos}")
            pos = el.end
        if not segments:
            raise MetadataError("corrupt Matroska: no Segment")

    def segment(self, seg: _El) -> None:
        pos = seg.body
        while pos < seg.end:
            el = self.element(pos, seg.end)
            if el.id == _CLUSTER and not el.sized:  # live recordings (MediaRecorder)
                pos = self.skip_cluster(el.body, seg.end)
                continue
            if not el.sized:
                raise MetadataError(f"unsupported Matroska: unknown size at offset {pos}")
            if el.id == _INFO:
                self.info(el)
            elif el.id == _TAGS:
                self.tags(el)
            elif el.id == _ATTACHMENTS:
                self.void(el, "other_exif")
            pos = el.end

    def skip_cluster(self, pos: int, end: int) -> int:
        """Where a Cluster of unknown size ends: at the next element of the Segment's level."""
        while pos < end:
            el = self.element(pos, end)
            if el.id in _LEVEL1:
                return pos
            if not el.sized:
                raise MetadataError(f"unsupported Matroska: unknown size at offset {pos}")
            pos = el.end
        return end

    # --- what goes -----------------------------------------------------------------------

    def void(self, el: _El, cat: str | None) -> None:
        """Note what ``el`` carries (``cat``, a position in it) and overwrite it with a Void
        element of the same size."""
        if cat is not None:
            self.acc.found.add(cat)
            if cat != "gps" and carries_position(self.data[el.body : el.end]):
                self.acc.found.add("gps")
        total = el.end - el.start
        if total - 2 <= 126:
            head = bytes((_VOID, 0x80 | (total - 2)))
        else:
            head = bytes((_VOID, 0x01)) + (total - 9).to_bytes(7, "big")
        self.out[el.start : el.end] = head + bytes(total - len(head))

    def junk(self, pos: int) -> None:
        """Zero the bytes from ``pos`` to the end of the file, noting what they held."""
        rest = self.data[pos:]
        if any(rest):
            self.acc.found.add("gps" if carries_position(rest) else "other_exif")
            self.out[pos:] = bytes(len(rest))

    def kept_date(self, cat: str, value: str | None) -> bool:
        """Note a date; True if it stays (the user keeps the capture date)."""
        if cat != "datetime":
            return False
        if self.acc.capture_date is None:
            self.acc.capture_date = value or None
        if not self.keep:
            return False
        self.acc.found.add("datetime")
        return True

    def info(self, info: _El) -> None:
        for el in self.children(info):
            if el.id == _DATE_UTC and el.end > el.body:
                raw = self.data[el.body : min(el.end, el.body + 8)]  # a date is 8 bytes
                ns = int.from_bytes(raw, "big", signed=True)
                when = _MATROSKA_EPOCH + timedelta(microseconds=ns // 1000)
                if not self.kept_date("datetime", when.strftime("%Y-%m-%dT%H:%M:%S")):
                    self.void(el, "datetime")
            elif el.id == _TITLE and el.end > el.body:
                self.void(el, "comment")
            elif el.id in (_MUXING_APP, _WRITING_APP) and any(self.data[el.body : el.end]):
                self.acc.found.add("other_exif")
                self.out[el.body : el.end] = bytes(el.end - el.body)
        self.fix_crc(info)

    def tags(self, tags: _El) -> None:
        for tag in self.children(tags):
            if tag.id != _TAG:
                continue
            kids = self.children(tag)
            kept = False
            for simple in kids:
                if simple.id != _SIMPLE_TAG:
                    continue
                names: list[tuple[bytes, bytes]] = []
                self.simple_tag_names(simple, names, 0)
                cats = [(category(name), value) for name, value in names
                        if name not in _STATISTICS]
                if all(self.kept_date(c, v.decode("utf-8", "replace")) for c, v in cats):
                    kept = True
                    continue
                for cat, _ in cats:
                    self.acc.found.add(cat)
                self.void(simple, cats[0][0])
            if not kept:
                self.void(tag, None)  # what its SimpleTags carried is noted already
            else:
                self.fix_crc(tag)
        self.fix_crc(tags)

    def simple_tag_names(self, simple: _El, names: list[tuple[bytes, bytes]], depth: int) -> None:
        """(TagName, TagString) of a SimpleTag and of the SimpleTags nested in it."""
        name = value = b""
        for el in self.children(simple):
            if el.id == _TAG_NAME:
                name = bytes(self.data[el.body : el.end]).rstrip(b"\x00").upper()
            elif el.id == _TAG_STRING:
                value = bytes(self.data[el.body : el.end])
            elif el.id == _SIMPLE_TAG and depth < 16:
                self.simple_tag_names(el, names, depth + 1)
        names.append((name, value))

    def fix_crc(self, master: _El) -> None:
        """Matroska's CRC-32 element, if first in a master element, covers the rest of it."""
        kids = self.children(master)
        if kids and kids[0].id == _CRC32 and kids[0].end - kids[0].body == 4:
            crc = zlib.crc32(self.out[kids[0].end : master.end])
            self.out[kids[0].body : kids[0].end] = crc.to_bytes(4, "little")


def _ebml(data: bytes, acc: _Acc, keep_capture_date: bool) -> list[bytes | memoryview]:
    """The handler for bifoga.metadata: the film with its metadata removed, same length."""
    film = _Ebml(data, acc, keep_capture_date)
    film.run()
    return [bytes(film.out)]
