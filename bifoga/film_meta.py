"""Films (MP4, QuickTime MOV, 3GP): location, device identity, software and dates removed in place.

Part of :mod:`bifoga.metadata` (the public interface): plain Python, no Pillow, runs in Pyodide.

Nothing moves, so every sample offset ('stco'/'co64', 'tfhd'/'trun') stays valid and every audio
and video sample stays byte for byte: each removed box becomes a 'free' box of the same size with
a zeroed payload, and the movie, track and media creation/modification times ('mvhd', 'tkhd',
'mdhd') are zeroed in place unless the user keeps the capture date.

What goes, wherever it sits (file, 'moov', 'trak', 'mdia', 'minf', 'moof', 'traf'):
- 'udta' user data: '©xyz' and 3GPP 'loci' (position), '©mak'/'©mod' (device), '©swr'/'©too'
  (software), titles, comments, and every other entry (none is needed to play the film);
- 'meta' boxes: the 'ilst' items, whether named by 'keys' (QuickTime 'mdta':
  com.apple.quicktime.location.ISO6709, ...make, ...model, ...software, Android's
  com.android.*) or by their own type (iTunes-style '©too', ...), and anything else in them;
- 'uuid' boxes (XMP, BE7ACFCB-97A9-42E8-9C71-999491E3AFAC, and vendors' blobs).
Date entries ('©day', ...creationdate, 'yrrc') stay with ``keep_capture_date``, as do the times.

Every walk is bounded (a step budget). A film whose boxes do not add up (a box past the end of
the file or of 'moov'/'trak') is refused with :class:`MetadataError`; a malformed metadata box
is not a reason to refuse: it goes as a whole.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from bifoga.meta_common import _MAX_PARTS, MetadataError, _Acc

_XMP_UUID = bytes.fromhex("be7acfcb97a942e89c71999491e3afac")
# Boxes that hold other boxes on the way to metadata; media data and sample tables are skipped.
_DESCEND = frozenset({b"moov", b"trak", b"mdia", b"minf", b"moof", b"traf"})
_TIMED = frozenset({b"mvhd", b"tkhd", b"mdhd"})
_METADATA = frozenset({b"udta", b"meta", b"uuid"})
_PADDING = frozenset({b"free", b"skip", b"wide"})

# A position in a value: XMP's exif:GPSLatitude/GPSLongitude, or ISO 6709 as phones write it
# ("+60.6749+017.1413+012.000/"; the decimals tell it from a phone number such as +46-702).
_POSITION = re.compile(rb"GPS(?:Latitude|Longitude)\b|[+-]\d{2}\.\d+[+-]\d{3}\.\d+")

_DATE = re.compile(rb"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2})?)?")


def category(name: bytes) -> str:
    """The category (bifoga.exif.CATEGORIES) of a metadata entry, from its box type, its
    QuickTime key or its Matroska tag name."""
    low = name.lower()
    if low in (b"\xa9xyz", b"loci") or any(w in low for w in (b"location", b"gps", b"iso6709")):
        return "gps"
    if low in (b"\xa9day", b"yrrc") or b"date" in low or b"creation_time" in low:
        return "datetime"
    if low in (b"\xa9mak", b"\xa9mod", b"manu", b"modl", b"smta") or any(
        w in low for w in (b"make", b"model", b"manufacturer", b"camera", b"lens", b"serial",
                           b"device")
    ):
        return "camera"
    if low in (b"xmp_", b"xml ") or b"xmp" in low:
        return "xmp"
    if low in (b"\xa9cmt", b"\xa9des", b"\xa9nam", b"\xa9aut", b"\xa9inf", b"titl", b"dscp",
               b"auth", b"perf", b"kywd", b"desc", b"cmt") or any(
        w in low for w in (b"comment", b"description", b"title", b"author", b"keyword",
                           b"artist", b"copyright")
    ):
        return "comment"
    return "other_exif"  # software ('©swr', '©too', encoder), identifiers, anything else


def carries_position(value: bytes) -> bool:
    return _POSITION.search(value) is not None


def _printable(value: bytes) -> str:
    """The text of a QuickTime/iTunes value, without its binary header (at most 40 chars)."""
    return "".join(c for c in value.decode("latin-1") if c.isprintable()).strip()[-40:]


class _Box:
    __slots__ = ("type", "start", "body", "end")

    def __init__(self, btype: bytes, start: int, body: int, end: int) -> None:
        self.type, self.start, self.body, self.end = btype, start, body, end


def _boxes(data: bytes, start: int, end: int, budget: list[int]) -> list[_Box] | None:
    """The boxes in data[start:end], or None if they do not add up. Trailing zeros (a QuickTime
    'udta' list may end with a 32-bit 0) are tolerated."""
    boxes, stop = _boxes_until(data, start, end, budget)
    return boxes if stop == end or not any(data[stop:end]) else None


def _boxes_until(data: bytes, start: int, end: int, budget: list[int]) -> tuple[list[_Box], int]:
    """The boxes from ``start`` on as far as they add up, and where that is."""
    boxes: list[_Box] = []
    pos = start
    while pos + 8 <= end:
        budget[0] -= 1
        if budget[0] < 0:
            raise MetadataError("corrupt film: too many boxes")
        size = int.from_bytes(data[pos : pos + 4], "big")
        btype = bytes(data[pos + 4 : pos + 8])
        body = pos + 8
        if size == 1:
            if pos + 16 > end:
                break
            size, body = int.from_bytes(data[pos + 8 : pos + 16], "big"), pos + 16
        elif size == 0:
            if btype == b"\x00\x00\x00\x00":  # a terminator, not a box up to the end
                break
            size = end - pos
        if size < body - pos or pos + size > end:
            break
        boxes.append(_Box(btype, pos, body, pos + size))
        pos += size
    return boxes, pos


class _Film:
    """One pass over a film: what it carries (``acc.found``) and the scrubbed copy (``out``)."""

    def __init__(self, data: bytes, acc: _Acc, keep: bool) -> None:
        self.data, self.acc, self.keep = data, acc, keep
        self.out = bytearray(data)
        self.budget = [_MAX_PARTS]
        # The capture date: a date entry's (local time, as phones write it), else the movie's.
        self.tag_date: str | None = None
        self.movie_date: str | None = None

    def run(self) -> None:
        n = len(self.data)
        top, stop = _boxes_until(self.data, 0, n, self.budget)
        if not any(b.type in (b"moov", b"moof") for b in top):
            raise MetadataError("corrupt film: no movie box")
        if stop < n and any(self.data[stop:]):
            # Bytes after the last whole box: no player reads them, but they could hold anything.
            if self.data[stop + 4 : stop + 8] in (b"moov", b"mdat", b"moof"):
                raise MetadataError(f"truncated film: box at offset {stop} runs past the end")
            self.acc.found.add("gps" if carries_position(self.data[stop:]) else "other_exif")
            self.out[stop:] = bytes(n - stop)
        self.level(top)
        self.acc.capture_date = self.tag_date or self.movie_date

    def level(self, boxes: list[_Box], depth: int = 0) -> None:
        for box in boxes:
            if box.type in _DESCEND:
                inner = _boxes(self.data, box.body, box.end, self.budget)
                if inner is None:
                    raise MetadataError(f"corrupt film: bad {box.type!r} box at {box.start}")
                if depth > 8:  # moov/trak/mdia/minf or moof/traf: a real film nests 4 deep
                    raise MetadataError("corrupt film: boxes nested too deep")
                self.level(inner, depth + 1)
            elif box.type in _TIMED:
                self.times(box)
            elif box.type == b"udta":
                self.udta(box)
            elif box.type == b"meta":
                self.meta(box)
            elif box.type == b"uuid":
                self.remove(box, self.uuid_category(box))

    # --- what goes -----------------------------------------------------------------------

    def free(self, box: _Box) -> None:
        """Make ``box`` a 'free' box of the same size with a zeroed payload."""
        self.out[box.start + 4 : box.start + 8] = b"free"
        self.out[box.body : box.end] = bytes(box.end - box.body)

    def remove(self, box: _Box, cat: str) -> None:
        """Note what ``box`` carries, then free it."""
        self.acc.found.add(cat)
        if cat != "gps" and carries_position(self.data[box.body : box.end]):
            self.acc.found.add("gps")
        self.free(box)

    def remove_unparsed(self, box: _Box) -> None:
        """A metadata box whose contents do not add up: it goes whole, named by what it holds."""
        payload = bytes(self.data[box.body : box.end])
        hints = (b"\xa9xyz", b"loci", b"location", b"\xa9mak", b"\xa9mod", b"make", b"model",
                 b"\xa9day", b"date", b"xmp")
        self.acc.found.update({category(h) for h in hints if h in payload} or {"other_exif"})
        self.remove(box, "other_exif")

    def uuid_category(self, box: _Box) -> str:
        return "xmp" if self.data[box.body : box.body + 16] == _XMP_UUID else "other_exif"

    def kept_date(self, cat: str, value: bytes) -> bool:
        """Note a date entry; True if it stays (the user keeps the capture date)."""
        if cat != "datetime":
            return False
        if self.tag_date is None:
            m = _DATE.search(value)
            self.tag_date = m.group().decode() if m else _printable(value) or None
        if not self.keep:
            return False
        self.acc.found.add("datetime")
        return True

    # --- boxes ---------------------------------------------------------------------------

    def times(self, box: _Box) -> None:
        """Zero the creation and modification times of 'mvhd'/'tkhd'/'mdhd' (unless kept)."""
        width = 8 if self.data[box.body : box.body + 1] == b"\x01" else 4
        start, stop = box.body + 4, box.body + 4 + 2 * width
        if stop > box.end or not any(self.data[start:stop]):
            return
        self.acc.found.add("datetime")
        secs = int.from_bytes(self.data[start : start + width], "big") or int.from_bytes(
            self.data[start + width : stop], "big")  # the creation time, else the modification
        if box.type == b"mvhd" and secs and self.movie_date is None:
            when = datetime(1904, 1, 1, tzinfo=UTC) + timedelta(seconds=min(secs, 2**36))
            self.movie_date = when.strftime("%Y-%m-%dT%H:%M:%S")
        if not self.keep:
            self.out[start:stop] = bytes(stop - start)

    def udta(self, udta: _Box) -> None:
        children = _boxes(self.data, udta.body, udta.end, self.budget)
        if children is None:
            return self.remove_unparsed(udta)
        kept = False
        for child in children:
            if child.type in _PADDING:
                continue
            if child.type == b"meta":
                kept = self.meta(child) or kept
            elif child.type == b"uuid":
                self.remove(child, self.uuid_category(child))
            else:
                cat = category(child.type)
                if self.kept_date(cat, self.data[child.body : child.end]):
                    kept = True
                else:
                    self.remove(child, cat)
        if not kept and children:
            self.free(udta)

    def meta(self, meta: _Box) -> bool:
        """Scrub a 'meta' box; True if a (date) item was kept in it."""
        # ISO 'meta' is a full box (4 bytes of version and flags); QuickTime's is not.
        first = meta.body if self.data[meta.body + 4 : meta.body + 8] == b"hdlr" else meta.body + 4
        children = _boxes(self.data, first, meta.end, self.budget) if first <= meta.end else None
        if children is None:
            self.remove_unparsed(meta)
            return False
        keys: list[bytes] = []
        for child in children:
            if child.type == b"keys":
                keys = self.key_names(child)
        kept = False
        for child in children:
            if child.type in (b"hdlr", b"keys") or child.type in _PADDING:
                continue
            if child.type != b"ilst":
                self.remove(child, "xmp" if child.type in (b"xml ", b"bxml", b"XMP_")
                            else "other_exif")
                continue
            items = _boxes(self.data, child.body, child.end, self.budget)
            if items is None:
                self.remove_unparsed(child)
                continue
            for item in items:
                if item.type in _PADDING:
                    continue
                index = int.from_bytes(item.type, "big")
                name = keys[index - 1] if keys and 0 < index <= len(keys) else item.type
                cat = category(name)
                if self.kept_date(cat, self.data[item.body : item.end]):
                    kept = True
                else:
                    self.remove(item, cat)
        if not kept:
            self.free(meta)
        return kept

    def key_names(self, keys: _Box) -> list[bytes]:
        """The names of a QuickTime 'keys' box (version, flags, count, then size/namespace/name)."""
        names, pos = [], keys.body + 8
        while pos + 8 <= keys.end and len(names) < 10_000:
            size = int.from_bytes(self.data[pos : pos + 4], "big")
            if size < 8 or pos + size > keys.end:
                break
            names.append(bytes(self.data[pos + 8 : pos + size]))
            pos += size
        self.budget[0] -= len(names)
        return names


def _iso(data: bytes, acc: _Acc, keep_capture_date: bool) -> list[bytes | memoryview]:
    """The handler for bifoga.metadata: the film with its metadata removed, same length."""
    film = _Film(data, acc, keep_capture_date)
    film.run()
    return [bytes(film.out)]
