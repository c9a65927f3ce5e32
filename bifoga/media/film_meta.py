"""Films (MP4, QuickTime MOV, 3GP): location, device identity, software, dates and every track
but video and sound removed, read through a Source and answered as a Plan.

Part of :mod:`bifoga.media.metadata` (the public interface). Pure and MicroPython-safe (no typing,
re, datetime or __future__): the browser's light worker (MicroPython), the Pyodide worker, the
server and the tests run it.

Only the boxes that can hold metadata are read ('moov', 'moof', top-level 'udta'/'meta'/'uuid',
at most 4 MiB each, else the film is refused); the media data ('mdat') is planned as ranges of
the source, never read. Nothing moves, so every sample offset ('stco'/'co64', 'tfhd'/'trun')
stays valid and every audio and video sample stays byte for byte: each removed box becomes a
'free' box of the same size with a zeroed payload, and the movie, track and media
creation/modification times ('mvhd', 'tkhd', 'mdhd') are zeroed in place unless the user keeps
the capture date.

What goes, wherever it sits (file, 'moov', 'trak', 'mdia', 'minf', 'moof', 'traf'):
- 'udta' user data: '©xyz' and 3GPP 'loci' (position), '©mak'/'©mod' (device), '©swr'/'©too'
  (software), titles, comments, and every other entry (none is needed to play the film);
- 'meta' boxes: the 'ilst' items, whether named by 'keys' (QuickTime 'mdta':
  com.apple.quicktime.location.ISO6709, ...make, ...model, ...software, Android's
  com.android.*) or by their own type (iTunes-style '©too', ...), and anything else in them;
- 'uuid' boxes (XMP, BE7ACFCB-97A9-42E8-9C71-999491E3AFAC, and vendors' blobs);
- every track whose handler is not 'vide' or 'soun': timed metadata (GoPro GPMF 'gpmd', 'camm',
  'mebx', 'mett'), text and subtitles, timecode ('tmcd': a time of day, no use to a clinician),
  hints. Its samples are zeroed where they lie (in 'mdat', found from 'stsz'/'stz2', 'stsc' and
  'stco'/'co64'), so no position survives in the media data, and its 'trak' becomes 'free', so
  no reader lists it. Removing beats disabling: the 'tkhd' enabled flag is advice that ffmpeg
  and exiftool ignore. A fragmented film ('mvex') with such a track is refused: its samples are
  described in each 'moof', which this does not follow. So is a track labelled video or sound
  whose sample entry is not a known codec (timed metadata could wear that label).
- every byte of 'mdat' and of top-level padding ('free', 'skip', 'wide') that no video or sound
  sample claims: only what is known to be video or sound is sent, so nothing a track left
  there outlives its 'trak' (except in a fragmented film, whose samples each 'moof' describes:
  its 'mdat' goes as it is).
Date entries ('©day', ...creationdate, 'yrrc') stay with ``keep_capture_date``, as do the times.

A film with picture items (a top-level 'meta' with 'iinf'/'iloc', whose data lies in 'mdat') is
refused. Every walk is bounded (a step budget). A film whose boxes do not add up (a box past
the end of the file or of 'moov'/'trak', a track's samples past the end of the file) is refused
with :class:`MetadataError`; a malformed metadata box is not a reason to refuse: it goes as a whole.
"""

from bifoga.media.isobmff import boxes as _iso_boxes
from bifoga.media.isobmff import bytes_reader, has_items
from bifoga.media.meta_error import MetadataError
from bifoga.media.source import Plan

_MAX_BOXES = 100000  # boxes per film: real films have far fewer; bounds the time
_MAX_READ = 4 * 1024 * 1024  # the largest box read into memory ('moov' of a 10 MB film: ~100 KB)
_SCAN = 256 * 1024  # sample bytes of a removed track looked into, to name what it carried
_XMP_UUID = bytes.fromhex("be7acfcb97a942e89c71999491e3afac")
# Top-level boxes read and scrubbed; every other top-level box is kept as a range.
_SCRUBBED = frozenset((b"moov", b"moof", b"udta", b"meta", b"uuid"))
# Boxes that hold other boxes on the way to metadata; media data and sample tables are skipped.
_DESCEND = frozenset((b"moov", b"trak", b"mdia", b"minf", b"moof", b"traf"))
_TIMED = frozenset((b"mvhd", b"tkhd", b"mdhd"))
_PADDING = frozenset((b"free", b"skip", b"wide"))
# Top-level boxes whose bytes are sent only where a video or sound sample lies in them.
_CARRIERS = frozenset((b"mdat", b"free", b"skip", b"wide"))
_KEPT_TRACKS = frozenset((b"vide", b"soun"))
# Sample entries of timed metadata made to carry a position (GoPro, Google, Apple, ISO).
_POSITION_ENTRIES = frozenset((b"gpmd", b"camm", b"mebx", b"mett", b"metx"))
# Timed metadata and text, whatever their track's handler says.
_NOT_MEDIA_ENTRIES = _POSITION_ENTRIES | frozenset((b"text", b"tx3g", b"wvtt", b"stpp", b"c608",
                                                    b"tmcd", b"rtp ", b"urim"))
# The coded video and sound a film keeps (sample entry types): phones write avc1/hvc1/hev1 and
# mp4a/samr/sawb; the rest are what cameras and editors write. A 'vide' or 'soun' track of any
# other kind is refused: it could be timed metadata under a media label.
_MEDIA_ENTRIES = frozenset((
    b"avc1", b"avc3", b"hvc1", b"hev1", b"dvh1", b"dvhe", b"dva1", b"dvav", b"mp4v", b"vp08",
    b"vp09", b"av01", b"s263", b"h263", b"H263", b"jpeg", b"mjpa", b"mjpb", b"mjp2", b"apch",
    b"apcn", b"apcs", b"apco", b"ap4h", b"ap4x", b"dvc ", b"dvcp", b"dvpp", b"dv5n", b"dv5p",
    b"raw ", b"2vuy", b"yuv2", b"v210", b"encv", b"avc2", b"avc4", b"hev2", b"dav1", b"png ",
    b"SVQ3", b"ima4", b".mp2", b"MAC3", b"MAC6", b"QDM2", b"QDMC", b"Qclp", b"agsm",
    b"mp4a", b"samr", b"sawb", b"sevc", b"sqcp", b"ac-3", b"ec-3", b"ac-4", b"Opus", b"fLaC",
    b"alac", b"sowt", b"twos", b"lpcm", b"ipcm", b"fpcm", b"in24", b"in32", b"fl32", b"fl64",
    b"ulaw", b"alaw", b".mp3", b"mha1", b"mhm1", b"dtsc", b"dtsh", b"dtsl", b"enca"))
_TEXT_HANDLERS = frozenset((b"text", b"sbtl", b"subt", b"clcp"))
_DAYS_1904 = -24107  # 1904-01-01 (the QuickTime epoch) in days from 1970-01-01


def category(name):
    """The category (bifoga.media.exif.CATEGORIES) of a metadata entry, from its box type, its
    QuickTime key or its Matroska tag name."""
    low = name.lower()
    if low in (b"\xa9xyz", b"loci") or _has_any(low, (b"location", b"gps", b"iso6709")):
        return "gps"
    if low in (b"\xa9day", b"yrrc") or b"date" in low or b"creation_time" in low:
        return "datetime"
    if low in (b"\xa9mak", b"\xa9mod", b"manu", b"modl", b"smta") or _has_any(
        low, (b"make", b"model", b"manufacturer", b"camera", b"lens", b"serial", b"device")
    ):
        return "camera"
    if low in (b"xmp_", b"xml ") or b"xmp" in low:
        return "xmp"
    if low in (b"\xa9cmt", b"\xa9des", b"\xa9nam", b"\xa9aut", b"\xa9inf", b"titl", b"dscp",
               b"auth", b"perf", b"kywd", b"desc", b"cmt") or _has_any(
        low, (b"comment", b"description", b"title", b"author", b"keyword", b"artist",
              b"copyright")
    ):
        return "comment"
    return "other_exif"  # software ('©swr', '©too', encoder), identifiers, anything else


def _has_any(value, words):
    for word in words:
        if word in value:
            return True
    return False


def _digits(value, start, count):
    """True if value[start:start + count] are `count` ASCII digits."""
    if start < 0 or start + count > len(value):
        return False
    for i in range(start, start + count):
        if not 48 <= value[i] <= 57:
            return False
    return True


def _decimals(value, pos):
    """Where a run of one or more digits from `pos` ends, or -1 when there is none."""
    end = pos
    while end < len(value) and 48 <= value[end] <= 57:
        end += 1
    return end if end > pos else -1


def _iso6709_at(value, dot):
    """True if the '.' at `dot` is the latitude's in ISO 6709 as phones write it:
    [+-]DD.D+[+-]DDD.D+ (the decimals tell it from a phone number such as +46-702)."""
    if dot < 3 or value[dot - 3] not in (43, 45) or not _digits(value, dot - 2, 2):
        return False
    sign = _decimals(value, dot + 1)
    if sign < 0 or sign >= len(value) or value[sign] not in (43, 45):
        return False
    if not _digits(value, sign + 1, 3) or sign + 4 >= len(value) or value[sign + 4] != 46:
        return False
    return _decimals(value, sign + 5) > 0


def _word_at(value, pos, word):
    """True if `word` sits at `pos` and no letter, digit or '_' follows it."""
    after = pos + len(word)
    if after >= len(value):
        return True
    c = value[after]
    return not (48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122 or c == 95)


def carries_position(value):
    """True if `value` holds a position: XMP's exif:GPSLatitude/GPSLongitude, or ISO 6709."""
    value = bytes(value)
    for word in (b"GPSLatitude", b"GPSLongitude"):
        pos = value.find(word)
        while pos >= 0:
            if _word_at(value, pos, word):
                return True
            pos = value.find(word, pos + 1)
    dot = value.find(b".")
    while dot >= 0:
        if _iso6709_at(value, dot):
            return True
        dot = value.find(b".", dot + 1)
    return False


def _date_in(value):
    """The first YYYY-MM-DD[THH:MM[:SS]] in `value`, as text, or None."""
    dash = value.find(b"-")
    while dash >= 0:
        start = dash - 4
        if (_digits(value, start, 4) and _digits(value, dash + 1, 2)
                and value[dash + 3:dash + 4] == b"-" and _digits(value, dash + 4, 2)):
            end = dash + 6
            if value[end:end + 1] == b"T" and _digits(value, end + 1, 2) and \
                    value[end + 3:end + 4] == b":" and _digits(value, end + 4, 2):
                end += 6
                if value[end:end + 1] == b":" and _digits(value, end + 1, 2):
                    end += 3
            return value[start:end].decode()
        dash = value.find(b"-", dash + 1)
    return None


def _printable(value):
    """The text of a QuickTime/iTunes value, without its binary header (at most 40 chars);
    the bytes are read as Latin-1, as its printable characters."""
    chars = [chr(c) for c in value if 32 <= c < 127 or (161 <= c <= 255 and c != 173)]
    return "".join(chars).strip()[-40:]


def _civil(days):
    """(year, month, day) of a day counted from 1970-01-01 (the proleptic Gregorian calendar)."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (1 if month <= 2 else 0), month, doy - (153 * mp + 2) // 5 + 1


def timestamp_text(seconds, epoch_days):
    """"YYYY-MM-DDTHH:MM:SS" of `seconds` after an epoch `epoch_days` days from 1970-01-01."""
    days, rest = divmod(seconds, 86400)
    year, month, day = _civil(days + epoch_days)
    return "%04d-%02d-%02dT%02d:%02d:%02d" % (year, month, day, rest // 3600, rest // 60 % 60,
                                              rest % 60)


class _Box:
    __slots__ = ("type", "start", "body", "end")

    def __init__(self, btype, start, body, end):
        self.type, self.start, self.body, self.end = btype, start, body, end


def _boxes(data, start, end, budget):
    """The boxes in data[start:end], or None if they do not add up. Trailing zeros (a QuickTime
    'udta' list may end with a 32-bit 0) are tolerated."""
    found, stop = _iso_boxes(bytes_reader(data), start, end, budget)
    if stop != end and any(data[stop:end]):
        return None
    return [_Box(b[0], b[1], b[2], b[3]) for b in found]


def _first(found, btype):
    for box in found or ():
        if box.type == btype:
            return box
    return None


def _u32(data, pos):
    return int.from_bytes(data[pos:pos + 4], "big")


def zeroed_tail(reader, stop, found):
    """Zeros for the bytes from `stop` to the end of the file (after the last whole box or
    element: no player reads them, but they could hold anything), noting in `found` what they
    held; None when they are zeros already. Reads them chunk by chunk."""
    size = reader.size
    dirty = position = False
    for pos in range(stop, size, 65536):
        block = reader.read(pos, min(65536, size - pos))
        dirty = dirty or any(block)
        # A position across two blocks is caught with the last bytes of the one before.
        before = reader.read(pos - 64, 64) if pos - 64 >= stop else b""
        if carries_position(before + block):
            position = True
            break
    if not dirty:
        return None
    found.add("gps" if position else "other_exif")
    return bytes(size - stop)


# --- a track's samples -------------------------------------------------------------------------


def chunk_offsets(data, box):
    """The chunk offsets of a 'stco' (32-bit) or 'co64' (64-bit) box, as many as it holds."""
    width = 8 if box.type == b"co64" else 4
    count = min(_u32(data, box.body + 4), max(0, box.end - box.body - 8) // width)
    first = box.body + 8
    return [int.from_bytes(data[p:p + width], "big")
            for p in range(first, first + count * width, width)]


def samples_per_chunk(data, stsc, chunks):
    """How many samples each of `chunks` chunks holds, from a 'stsc' box's runs
    (first chunk, samples per chunk, sample description)."""
    count = min(_u32(data, stsc.body + 4), max(0, stsc.end - stsc.body - 8) // 12)
    runs = [(_u32(data, p), _u32(data, p + 4))
            for p in range(stsc.body + 8, stsc.body + 8 + 12 * count, 12)]
    out = []
    run = -1
    for chunk in range(1, chunks + 1):
        while run + 1 < len(runs) and runs[run + 1][0] <= chunk:
            run += 1
        out.append(runs[run][1] if run >= 0 else 0)
    return out


def sample_sizes(data, box):
    """(constant size, sample count, sizes) of a 'stsz' or 'stz2' box: with a constant size,
    `sizes` is empty; else it holds every size the box has room for."""
    count = _u32(data, box.body + 8)
    first = box.body + 12
    if box.type == b"stsz":
        constant = _u32(data, box.body + 4)
        if constant:
            return constant, count, []
        count = min(count, max(0, box.end - first) // 4)
        return 0, count, [_u32(data, p) for p in range(first, first + 4 * count, 4)]
    bits = data[box.body + 7] if box.body + 8 <= box.end else 0  # stz2: 4, 8 or 16
    if bits == 4:
        count = min(count, 2 * max(0, box.end - first))
        return 0, count, [(data[first + i // 2] >> (0 if i % 2 else 4)) & 15
                          for i in range(count)]
    if bits not in (8, 16):
        return 0, 0, []
    width = bits // 8
    count = min(count, max(0, box.end - first) // width)
    return 0, count, [int.from_bytes(data[p:p + width], "big")
                      for p in range(first, first + width * count, width)]


def chunk_ranges(offsets, per_chunk, constant, count, sizes, file_size):
    """The byte ranges [start, end) of a track's chunks in the file (a chunk's samples are
    contiguous). Raises MetadataError when one runs past the end of the file, or when the
    chunks do not hold exactly the track's samples: a sample-to-chunk table that gives a chunk
    more samples than it has would make it claim the bytes after it (another track's)."""
    if sum(per_chunk[:len(offsets)]) != count:
        raise MetadataError("corrupt film: a track's chunks do not hold its %d samples" % count)
    ranges = []
    sample = 0
    for i in range(min(len(offsets), len(per_chunk))):
        offset = offsets[i]
        n = min(per_chunk[i], count - sample)
        if n <= 0:
            break
        length = constant * n if constant else sum(sizes[sample:sample + n])
        sample += n
        if length == 0:
            continue
        if offset + length > file_size:
            raise MetadataError("corrupt film: a track's samples run past the end at %d"
                                % offset)
        ranges.append((offset, offset + length))
    return ranges


def merged(ranges):
    """`ranges` sorted, with overlapping or touching ones joined."""
    out = []
    for start, end in sorted(ranges):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def overlap(first, second):
    """True if a range of `first` meets one of `second` (both sorted and disjoint)."""
    i = j = 0
    while i < len(first) and j < len(second):
        if first[i][1] <= second[j][0]:
            i += 1
        elif second[j][1] <= first[i][0]:
            j += 1
        else:
            return True
    return False


def subtract(ranges, minus):
    """The parts of `ranges` outside `minus` (both sorted and disjoint)."""
    out = []
    j = 0
    for start, end in ranges:
        pos = start
        while j < len(minus) and minus[j][1] <= pos:
            j += 1
        k = j
        while k < len(minus) and minus[k][0] < end:
            if minus[k][0] > pos:
                out.append((pos, minus[k][0]))
            pos = max(pos, minus[k][1])
            k += 1
        if pos < end:
            out.append((pos, end))
    return out


def lay_out(segments, zeros, plan):
    """Add `segments` (start, end, new bytes or None to keep the source's) to `plan`, in order,
    with the ranges `zeros` (sorted, disjoint) zeroed wherever they fall."""
    for start, end, data in segments:
        cuts = [(max(s, start), min(e, end)) for s, e in zeros if s < end and e > start]
        if data is not None:
            if cuts:
                data = bytearray(data)
                for s, e in cuts:
                    data[s - start:e - start] = bytes(e - s)
            plan.add(data)
            continue
        pos = start
        for s, e in cuts:
            plan.keep(pos, s)
            plan.add(bytes(e - s))
            pos = e
        plan.keep(pos, end)


# --- the walk ----------------------------------------------------------------------------------


class _Film:
    """One pass over a film: what it carries (``found``, ``capture_date``), the scrubbed copy of
    the box being read (``out``) and the byte ranges of removed tracks' samples (``zeros``)."""

    def __init__(self, reader, keep):
        self.reader, self.keep = reader, keep
        self.found = set()
        self.zeros = []
        self.budget = [_MAX_BOXES]
        self.fragmented = False
        self.dropped = False  # a track was removed
        self.kept = []  # (the bytes it lies in, the 'trak') of each video and sound track
        self.data = self.out = b""
        # The capture date: a date entry's (local time, as phones write it), else the movie's.
        self.tag_date = None
        self.movie_date = None

    def scrub(self, btype, start, end):
        """The top-level box at [start, end) scrubbed, or None when nothing in it changed."""
        if end - start > _MAX_READ:
            raise MetadataError("unsupported film: a %r box of %d bytes" % (btype, end - start))
        self.data = self.reader.read(start, end - start)
        self.out = bytearray(self.data)
        head = _iso_boxes(bytes_reader(self.data), 0, len(self.data), [1])[0]
        if head:
            self.level([_Box(head[0][0], 0, head[0][2], head[0][3])])
        return None if self.out == self.data else bytes(self.out)

    def tail(self, stop):
        """Zeros for the bytes after the last whole box, or None when they are zeros already."""
        if self.reader.read(stop + 4, 4) in (b"moov", b"mdat", b"moof"):
            raise MetadataError("truncated film: box at offset %d runs past the end" % stop)
        return zeroed_tail(self.reader, stop, self.found)

    def level(self, found, depth=0):
        for box in found:
            if box.type in _DESCEND:
                inner = _boxes(self.data, box.body, box.end, self.budget)
                if inner is None:
                    raise MetadataError("corrupt film: bad %r box at %d" % (box.type, box.start))
                if depth > 8:  # moov/trak/mdia/minf or moof/traf: a real film nests 4 deep
                    raise MetadataError("corrupt film: boxes nested too deep")
                if box.type == b"moov":
                    self.fragmented = self.fragmented or _first(inner, b"mvex") is not None
                if box.type == b"trak" and not self.media_track(box):
                    self.drop_track(box)
                    continue
                if box.type == b"trak":
                    self.kept.append((self.data, box))
                self.level(inner, depth + 1)
            elif box.type in _TIMED:
                self.times(box)
            elif box.type == b"udta":
                self.udta(box)
            elif box.type == b"meta":
                self.meta(box)
            elif box.type == b"uuid":
                self.remove(box, self.uuid_category(box))

    # --- tracks other than video and sound -----------------------------------------------

    def inner(self, box):
        """The boxes in `box`; a film whose track boxes do not add up is refused (a sample
        table that cannot be read cannot have its samples zeroed)."""
        found = _boxes(self.data, box.body, box.end, self.budget)
        if found is None:
            raise MetadataError("corrupt film: bad %r box at %d" % (box.type, box.start))
        return found

    def child(self, box, btype):
        return _first(self.inner(box), btype) if box else None

    def track_handler(self, trak):
        hdlr = self.child(self.child(trak, b"mdia"), b"hdlr")
        if hdlr is None or hdlr.end - hdlr.body < 12:
            return None
        return bytes(self.data[hdlr.body + 8:hdlr.body + 12])

    def media_track(self, trak):
        """True for a video or sound track, False for any other (a GPMF track labelled 'vide'
        is still GPMF); refuses a track labelled video or sound whose samples are of a kind
        not known."""
        if self.track_handler(trak) not in _KEPT_TRACKS:
            return False
        stbl = self.child(self.child(self.child(trak, b"mdia"), b"minf"), b"stbl")
        entry = self.sample_entry(stbl)
        if entry in _NOT_MEDIA_ENTRIES:
            return False
        if entry not in _MEDIA_ENTRIES:
            raise MetadataError("unsupported film: a video or sound track of samples %r"
                                % (entry,))
        return True

    def sample_entry(self, stbl):
        """The type of a track's first sample entry ('avc1', 'mp4a', 'gpmd', ...) or b""."""
        stsd = self.child(stbl, b"stsd")
        return bytes(self.data[stsd.body + 12:stsd.body + 16]) if stsd else b""

    def drop_track(self, trak):
        """Zero a track's samples wherever they lie and make its 'trak' a 'free' box."""
        if self.fragmented:
            raise MetadataError("unsupported film: a fragmented film with a track that is "
                                "neither video nor sound")
        self.dropped = True
        stbl = self.child(self.child(self.child(trak, b"mdia"), b"minf"), b"stbl")
        ranges = (self.sample_ranges(stbl) if stbl else None) or []
        self.zeros.extend(ranges)
        self.remove(trak, self.track_category(trak, stbl, ranges))

    def kept_ranges(self):
        """The byte ranges of every video and sound sample, merged."""
        ranges = []
        for data, trak in self.kept:
            self.data = data
            stbl = self.child(self.child(self.child(trak, b"mdia"), b"minf"), b"stbl")
            found = self.sample_ranges(stbl) if stbl else None
            if found is None:
                raise MetadataError("corrupt film: a video or sound track without its sample "
                                    "table")
            ranges.extend(found)
        return merged(ranges)

    def unknown_bytes(self, ranges):
        """Note what `ranges` (bytes no track claims) hold, from their first _SCAN bytes."""
        left = _SCAN
        for start, end in ranges:
            block = self.reader.read(start, min(end - start, left))
            if any(block):
                self.found.add("other_exif")
            if carries_position(block):
                self.found.add("gps")
            left -= len(block)
            if left <= 0:
                self.found.add("other_exif")
                return

    def sample_ranges(self, stbl):
        tables = self.inner(stbl)
        sizes = _first(tables, b"stsz") or _first(tables, b"stz2")
        stsc = _first(tables, b"stsc")
        offsets = _first(tables, b"stco") or _first(tables, b"co64")
        if sizes is None or stsc is None or offsets is None:
            return None
        chunks = chunk_offsets(self.data, offsets)
        constant, count, table = sample_sizes(self.data, sizes)
        per_chunk = samples_per_chunk(self.data, stsc, len(chunks))
        return chunk_ranges(chunks, per_chunk, constant, count, table, self.reader.size)

    def track_category(self, trak, stbl, ranges):
        """What a removed track is listed as: its sample entry or its samples (the first
        _SCAN bytes) naming a position, else text, else other metadata."""
        if self.sample_entry(stbl) in _POSITION_ENTRIES:
            return "gps"
        left = _SCAN
        for start, end in ranges:
            sample = self.reader.read(start, min(end - start, left))
            if carries_position(sample) or b"GPS" in sample:
                return "gps"
            left -= len(sample)
            if left <= 0:
                break
        return "comment" if self.track_handler(trak) in _TEXT_HANDLERS else "other_exif"

    # --- what goes -----------------------------------------------------------------------

    def free(self, box):
        """Make ``box`` a 'free' box of the same size with a zeroed payload."""
        self.out[box.start + 4:box.start + 8] = b"free"
        self.out[box.body:box.end] = bytes(box.end - box.body)

    def remove(self, box, cat):
        """Note what ``box`` carries, then free it."""
        self.found.add(cat)
        if cat != "gps" and carries_position(self.data[box.body:box.end]):
            self.found.add("gps")
        self.free(box)

    def remove_unparsed(self, box):
        """A metadata box whose contents do not add up: it goes whole, named by what it holds."""
        payload = bytes(self.data[box.body:box.end])
        hints = (b"\xa9xyz", b"loci", b"location", b"\xa9mak", b"\xa9mod", b"make", b"model",
                 b"\xa9day", b"date", b"xmp")
        named = set(category(h) for h in hints if h in payload)
        self.found.update(named or {"other_exif"})
        self.remove(box, "other_exif")

    def uuid_category(self, box):
        return "xmp" if self.data[box.body:box.body + 16] == _XMP_UUID else "other_exif"

    def kept_date(self, cat, value):
        """Note a date entry; True if it stays (the user keeps the capture date)."""
        if cat != "datetime":
            return False
        if self.tag_date is None:
            self.tag_date = _date_in(value) or _printable(value) or None
        if not self.keep:
            return False
        self.found.add("datetime")
        return True

    # --- boxes ---------------------------------------------------------------------------

    def times(self, box):
        """Zero the creation and modification times of 'mvhd'/'tkhd'/'mdhd' (unless kept)."""
        width = 8 if self.data[box.body:box.body + 1] == b"\x01" else 4
        start, stop = box.body + 4, box.body + 4 + 2 * width
        if stop > box.end or not any(self.data[start:stop]):
            return
        self.found.add("datetime")
        secs = int.from_bytes(self.data[start:start + width], "big") or int.from_bytes(
            self.data[start + width:stop], "big")  # the creation time, else the modification
        if box.type == b"mvhd" and secs and self.movie_date is None:
            self.movie_date = timestamp_text(min(secs, 2 ** 36), _DAYS_1904)
        if not self.keep:
            self.out[start:stop] = bytes(stop - start)

    def udta(self, udta):
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
                if self.kept_date(cat, self.data[child.body:child.end]):
                    kept = True
                else:
                    self.remove(child, cat)
        if not kept and children:
            self.free(udta)

    def meta(self, meta):
        """Scrub a 'meta' box; True if a (date) item was kept in it."""
        # ISO 'meta' is a full box (4 bytes of version and flags); QuickTime's is not.
        first = meta.body if self.data[meta.body + 4:meta.body + 8] == b"hdlr" else meta.body + 4
        children = _boxes(self.data, first, meta.end, self.budget) if first <= meta.end else None
        if children is None:
            self.remove_unparsed(meta)
            return False
        keys = []
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
            kept = self.ilst(child, keys) or kept
        if not kept:
            self.free(meta)
        return kept

    def ilst(self, ilst, keys):
        """Scrub the items of an 'ilst' box; True if a (date) item was kept."""
        items = _boxes(self.data, ilst.body, ilst.end, self.budget)
        if items is None:
            self.remove_unparsed(ilst)
            return False
        kept = False
        for item in items:
            if item.type in _PADDING:
                continue
            index = int.from_bytes(item.type, "big")
            name = keys[index - 1] if keys and 0 < index <= len(keys) else item.type
            cat = category(name)
            if self.kept_date(cat, self.data[item.body:item.end]):
                kept = True
            else:
                self.remove(item, cat)
        return kept

    def key_names(self, keys):
        """The names of a QuickTime 'keys' box (version, flags, count, then size/namespace/name)."""
        names, pos = [], keys.body + 8
        while pos + 8 <= keys.end and len(names) < 10000:
            size = _u32(self.data, pos)
            if size < 8 or pos + size > keys.end:
                break
            names.append(bytes(self.data[pos + 8:pos + size]))
            pos += size
        self.budget[0] -= len(names)
        return names


def _unclaimed(film, top, zeros):
    """`zeros` (the removed tracks' samples) and every byte of the media data and padding boxes
    that no video or sound sample claims: only what is known to be video or sound is sent.
    Refuses a film whose removed samples touch kept ones (those stay byte for byte)."""
    kept = film.kept_ranges()
    if overlap(kept, zeros):
        raise MetadataError("unsupported film: a track that is neither video nor sound shares "
                            "its samples with one that is")
    gaps = []
    for btype, _, body, end in top:
        if btype in _CARRIERS:
            gaps.extend(subtract([(body, end)], kept))
    film.unknown_bytes(subtract(gaps, zeros))
    return merged(zeros + gaps)


def _inside_media_data(top, zeros):
    """Refuses a film where a removed track's samples (`zeros`) are not all within the body of
    a top-level media data or padding box: a sample table pointing at a box's header, or at
    'moov', would have the zeroing break the film's structure."""
    bodies = [(body, end) for btype, _, body, end in top if btype in _CARRIERS]
    for start, end in zeros:
        if not any(body <= start and end <= stop for body, stop in bodies):
            raise MetadataError("corrupt film: a track's samples at %d lie outside its media "
                                "data" % start)


def plan_iso(reader, keep_capture_date):
    """The film `reader` reads with its metadata and other tracks removed, same length:
    (a bifoga.media.source.Plan over reader.source, the categories found, the capture date or None).
    Reads the top-level box headers and the boxes in _SCRUBBED only."""
    film = _Film(reader, keep_capture_date)
    size = reader.size
    top, stop = _iso_boxes(reader.read, 0, size, film.budget)
    if not any(b[0] in (b"moov", b"moof") for b in top):
        raise MetadataError("corrupt film: no movie box")
    for box in top:
        if box[0] == b"meta" and has_items(reader.read, box, film.budget):
            # Items (a cover picture, its Exif) keep their data in 'mdat', where freeing their
            # 'meta' would leave it: a film does not need them, and none is made so.
            raise MetadataError("unsupported film: picture items beside the movie")
    segments = []
    for btype, start, _, end in top:
        segments.append((start, end, film.scrub(btype, start, end) if btype in _SCRUBBED
                         else None))
    if stop < size:
        segments.append((stop, size, film.tail(stop)))
    zeros = merged(film.zeros)
    _inside_media_data(top, zeros)
    if any(b[0] == b"moof" for b in top):  # a fragmented film, even without its 'mvex'
        if film.dropped:
            raise MetadataError("unsupported film: a fragmented film with a track that is "
                                "neither video nor sound")
    elif not film.fragmented:
        zeros = _unclaimed(film, top, zeros)
    plan = Plan()
    lay_out(segments, zeros, plan)
    return plan, film.found, film.tag_date or film.movie_date

