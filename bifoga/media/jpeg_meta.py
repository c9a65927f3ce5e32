"""JPEG: keep what the picture needs (an allow-list), drop every other segment and any trailer.

Kept byte for byte, as ranges of the source: the frame and scan headers, the tables, the
entropy-coded data, and a valid ICC profile (APP2). Rebuilt: JFIF (APP0, without thumbnail),
Adobe (APP14, needed for CMYK/YCCK) and a minimal EXIF (APP1) with the orientation and, when
asked, DateTimeOriginal. Everything else goes whatever it carries: EXIF, XMP and extended XMP,
APP13 Photoshop/IPTC, MPF, comments, unknown APPn, and anything after the end of the image.

Part of :mod:`bifoga.media.metadata` (the public interface). Reads through a bifoga.media.source
Reader and answers a Plan. Plain Python, no Pillow; CPython, Pyodide and MicroPython (the browser's
light worker) run it, so no dataclasses, typing, re or f-strings.
"""

from bifoga.media.exif import parse_exif
from bifoga.media.meta_common import _MAX_PARTS, MetadataError, _Acc
from bifoga.media.source import Plan, Reader

_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - frozenset((0xC4, 0xC8, 0xCC))
_TABLE_MARKERS = frozenset((0xC4, 0xCC, 0xDD, 0xDC, 0xDB, 0xDA)) | _SOF_MARKERS
_EXIF_ID = b"Exif\x00"
_XMP_ID = b"http://ns.adobe.com/xap/1.0/\x00"
_XMP_EXTENSION_ID = b"http://ns.adobe.com/xmp/extension/\x00"
_ICC_ID = b"ICC_PROFILE\x00"
_READ_AHEAD = 1 << 19  # what the reader asks of the source at a time: headers and scan data
_SCAN_WINDOW = 1 << 16  # entropy-coded data is searched for its end this much at a time
# The first window of a scan is small and each next one twice as large, up to _SCAN_WINDOW: a
# file of thousands of tiny scans then costs what its bytes cost, not _SCAN_WINDOW per scan.
_FIRST_SCAN_WINDOW = 1 << 10


def _bad(what, pos):
    return MetadataError("corrupt JPEG: bad %s segment at offset %d" % (what, pos))


def _check_dqt(p, pos):
    i, n = 0, len(p)
    while i < n:
        pq, tq = p[i] >> 4, p[i] & 15
        if pq > 1 or tq > 3:
            raise _bad("DQT", pos)
        i += 1 + 64 * (pq + 1)
    if i != n or n == 0:
        raise _bad("DQT", pos)


def _check_dht(p, pos):
    i, n = 0, len(p)
    while i < n:
        if i + 17 > n or (p[i] >> 4) > 1 or (p[i] & 15) > 3:
            raise _bad("DHT", pos)
        total = sum(p[i + 1:i + 17])
        if total > 256:
            raise _bad("DHT", pos)
        i += 17 + total
    if i != n or n == 0:
        raise _bad("DHT", pos)


def _check_sof(marker, p, pos):
    n = len(p)
    lossless = marker in (0xC3, 0xC7, 0xCB, 0xCF)
    if n < 6 or not 1 <= p[5] <= 4 or n != 6 + 3 * p[5]:
        raise _bad("SOF", pos)
    if not (2 <= p[0] <= 16 if lossless else p[0] in (8, 12, 16)):
        raise _bad("SOF", pos)
    for i in range(6, n, 3):
        h, v = p[i + 1] >> 4, p[i + 1] & 15
        if not (1 <= h <= 4 and 1 <= v <= 4 and p[i + 2] <= 3):
            raise _bad("SOF", pos)


def _check_sos(p, pos):
    n = len(p)
    if n < 1 or not 1 <= p[0] <= 4 or n != 4 + 2 * p[0]:
        raise _bad("SOS", pos)
    for i in range(2, n - 3, 2):
        if (p[i] >> 4) > 3 or (p[i] & 15) > 3:
            raise _bad("SOS", pos)
    if p[-3] > 63 or p[-2] > 63 or (p[-1] >> 4) > 13 or (p[-1] & 15) > 13:
        raise _bad("SOS", pos)


def _check_dac(p, pos):
    """Up to 4 DC + 4 AC conditioning pairs."""
    n = len(p)
    if n == 0 or n % 2 or n > 16:
        raise _bad("DAC", pos)
    for i in range(0, n, 2):
        tc, tb, cs = p[i] >> 4, p[i] & 15, p[i + 1]
        bad_ac = tc == 1 and not 1 <= cs <= 63
        bad_dc = tc == 0 and (cs & 15) > (cs >> 4)
        if tc > 1 or tb > 3 or bad_ac or bad_dc:
            raise _bad("DAC", pos)


def _jpeg_check_tables(marker, p, pos):
    """Structural check of a kept table/frame segment (its payload ``p``)."""
    if marker == 0xDB:
        _check_dqt(p, pos)
    elif marker == 0xC4:
        _check_dht(p, pos)
    elif marker in _SOF_MARKERS:
        _check_sof(marker, p, pos)
    elif marker == 0xDA:
        _check_sos(p, pos)
    elif marker in (0xDD, 0xDC):  # DRI, DNL
        if len(p) != 2:
            raise _bad("DRI/DNL", pos)
    elif marker == 0xCC:
        _check_dac(p, pos)


_RST_MARKERS = tuple(bytes((0xFF, rst)) for rst in range(0xD0, 0xD8))


def _only_coded_data(block):
    """True when no marker but RSTn starts in ``block``: its every 0xFF is a stuffed 0xFF00 or
    an RSTn. Counted with bytes.count, far faster in MicroPython than a loop over each 0xFF.
    False means: look closer."""
    others = block.count(b"\xff") - block.count(b"\xff\x00")
    for rst in _RST_MARKERS:
        if others <= 0:
            break
        others -= block.count(rst)
    return others == 0


def _scan_end(reader, pos):
    """Where the entropy-coded data from ``pos`` ends: the first 0xFF (of a run of them) that
    starts a marker other than RSTn or a stuffed 0xFF00. Looked at a window at a time, from
    what the reader holds (it reads _READ_AHEAD at once)."""
    p = pos
    run_start = None  # where a run of 0xFF that the window's end cut began
    window = _FIRST_SCAN_WINDOW
    while True:
        block = reader.read(p, window)
        window = min(2 * window, _SCAN_WINDOW)
        if not block:
            raise MetadataError("truncated JPEG: no end-of-image marker")
        if run_start is None and _only_coded_data(block):
            p += len(block)
            continue
        i, n = 0, len(block)
        while True:
            f = block.find(b"\xff", i)
            if f < 0:
                p += n
                break
            j = f + 1
            while j < n and block[j] == 0xFF:
                j += 1
            start = run_start if run_start is not None and f == 0 else p + f
            run_start = None
            if j == n:  # the run of 0xFF reaches the window's end: look on from its last 0xFF
                if p + n >= reader.size:
                    raise MetadataError("truncated JPEG: no end-of-image marker")
                run_start = start
                p += max(j - 1, 1)
                break
            following = block[j]
            if following == 0x00 or 0xD0 <= following <= 0xD7:
                i = j + 1
                continue
            return start


class _JpegWalk:
    """One walk over a JPEG's segments, building the output as pieces: ("range", start, end)
    of the source or ("bytes", data); the minimal EXIF is placed once the walk is done."""

    def __init__(self, source, acc):
        self.source = source
        self.reader = Reader(source, _READ_AHEAD)
        self.n = source.size
        self.acc = acc
        self.out = [("range", 0, 2)]
        self.exif_slot = None
        self.exif_range = None  # the first EXIF segment, (start, end)
        self.icc = []  # (index in out, sequence number, count, body start, body end)
        self.seen_sof = self.seen_dqt = self.seen_sos = False

    def walk(self):
        r, n = self.reader, self.n
        if n < 4 or r.read(0, 2) != b"\xff\xd8":
            raise MetadataError("truncated JPEG")
        pos = 2
        for _ in range(_MAX_PARTS):
            if pos >= n:
                raise MetadataError("truncated JPEG: no end-of-image marker" if self.seen_sos
                                    else "JPEG without SOS")
            if r.byte(pos) != 0xFF:
                raise MetadataError("corrupt JPEG: expected a marker at offset %d" % pos)
            while pos < n and r.byte(pos) == 0xFF:  # fill bytes
                pos += 1
            if pos >= n:
                raise MetadataError("truncated JPEG")
            marker = r.byte(pos)
            pos += 1
            if marker == 0xD9:
                self.end_of_image(pos)
                return
            pos = self.segment(marker, pos)
        raise MetadataError("corrupt JPEG: too many segments")

    def end_of_image(self, pos):
        if not self.seen_sos:
            raise MetadataError("JPEG without SOS")
        self.out.append(("range", pos - 2, pos))
        if pos < self.n:
            self.acc.found.add("other_exif")  # trailer: motion-photo video, extra images, ...

    def segment(self, marker, pos):
        """Handle the segment whose marker byte is at pos - 1; return where the next starts."""
        if marker == 0xD8 or marker == 0x00:
            raise MetadataError("corrupt JPEG: unexpected marker 0x%02X at %d" % (marker, pos - 1))
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # RSTn / TEM: no length
            self.out.append(("range", pos - 2, pos))
            return pos
        if pos + 2 > self.n:
            raise MetadataError("truncated JPEG segment")
        head = self.reader.read(pos, 2)
        length = (head[0] << 8) | head[1]
        end = pos + length
        if length < 2 or end > self.n:
            raise MetadataError(
                "truncated JPEG: segment at offset %d runs past the end" % (pos - 2))
        if 0xE0 <= marker <= 0xEF or marker == 0xFE:
            self.application(marker, pos + 2, end)
            return end
        return self.table(marker, pos, end)

    def application(self, marker, start, end):
        if self.seen_sos:  # between scans decoders ignore them: all dropped, nothing taken over
            stray = _Acc("jpeg")
            _jpeg_app(marker, self.reader, start, end, stray)
            self.acc.found.update(stray.found or ("other_exif",))
            return
        if (marker == 0xE1 and self.exif_slot is None
                and self.reader.read(start, 5) == _EXIF_ID):
            self.exif_slot = len(self.out)
            self.exif_range = (start - 4, end)
        kept = _jpeg_app(marker, self.reader, start, end, self.acc)
        if kept is _KEEP_ICC:
            self.icc.append((len(self.out),) + _icc_chunk(self.reader, start, end))
            self.out.append(("range", start - 4, end))
        elif kept is not None:
            self.out.append(self.as_range_if_same(kept, start - 4, end))

    def as_range_if_same(self, rebuilt, start, end):
        """A rebuilt segment as a slice of the source when the source has it so already (a
        file stripped before is then sent as it is)."""
        if len(rebuilt) == end - start and self.reader.read(start, end - start) == rebuilt:
            return ("range", start, end)
        return ("bytes", rebuilt)

    def table(self, marker, pos, end):
        if marker in _SOF_MARKERS:
            self.seen_sof = True
        elif marker == 0xDB:
            self.seen_dqt = True
        elif marker == 0xDA:
            if not (self.seen_sof and self.seen_dqt):
                raise MetadataError("corrupt JPEG: scan before frame header/quantization tables")
        elif marker not in _TABLE_MARKERS:
            raise MetadataError("unsupported JPEG marker 0x%02X at offset %d" % (marker, pos - 2))
        _jpeg_check_tables(marker, self.reader.read(pos + 2, end - pos - 2), pos - 2)
        self.out.append(("range", pos - 2, end))
        if marker != 0xDA:
            return end
        self.seen_sos = True
        scan_end = _scan_end(self.reader, end)
        self.out.append(("range", end, scan_end))
        return scan_end

    def plan(self, keep_capture_date):
        _jpeg_fix_icc(self.reader, self.icc, self.out, self.acc)
        new = self.acc.new_exif(keep_capture_date)
        if new is not None:
            payload = b"Exif\x00\x00" + new
            app1 = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
            if self.exif_slot is None:
                self.out.insert(1, ("bytes", app1))
            else:
                self.out.insert(self.exif_slot, self.as_range_if_same(app1, *self.exif_range))
        plan = Plan()
        for piece in self.out:
            if piece[0] == "range":
                plan.keep(piece[1], piece[2])
            else:
                plan.add(piece[1])
        return plan


def strip_jpeg(source, acc, keep_capture_date):
    """The Plan of a JPEG with its metadata removed; what it carried goes into ``acc``."""
    walk = _JpegWalk(source, acc)
    walk.walk()
    return walk.plan(keep_capture_date)


_KEEP_ICC = b"ICC"  # sentinel returned by _jpeg_app


def _jpeg_app(marker, reader, start, end, acc):
    """Decide on an APPn/COM segment (payload at [start, end) of the reader): the segment to
    write (None: dropped), or _KEEP_ICC for an ICC chunk kept as it is (checked once all
    chunks are known)."""
    size = end - start
    head = reader.read(start, min(size, 40))
    if marker == 0xE0:
        return _jfif(head, size, acc)
    if marker == 0xE1:
        if head[:5] == _EXIF_ID:
            parse_exif(reader.read(start + 6, size - 6)).merge_into(acc)
        elif head[:len(_XMP_ID)] == _XMP_ID or head[:len(_XMP_EXTENSION_ID)] == _XMP_EXTENSION_ID:
            acc.found.add("xmp")
        else:
            acc.found.add("other_exif")
    elif marker == 0xE2 and head[:len(_ICC_ID)] == _ICC_ID and size > 14:
        return _KEEP_ICC
    elif marker == 0xED:
        _photoshop(reader.read(start, size), acc)
    elif marker == 0xEE and head[:5] == b"Adobe" and size >= 12:
        body = head[:12]  # "Adobe", version, flags0, flags1, transform
        if size > 12:
            acc.found.add("other_exif")
        return b"\xff\xee" + (len(body) + 2).to_bytes(2, "big") + body
    elif marker == 0xFE:
        acc.found.add("comment")
    else:
        acc.found.add("other_exif")  # MPF, FPXR, unknown APPn
    return None


_PHOTOSHOP_EXIF, _PHOTOSHOP_XMP = 0x0422, 0x0424


def _photoshop(payload, acc):
    """APP13 (dropped whole): what its Photoshop image resources carry, for the report. IPTC
    always; an Exif resource's categories (a GPS IFD among them) and XMP when present."""
    acc.found.add("iptc")
    pos = payload.find(b"8BIM")
    for _ in range(_MAX_PARTS):
        if pos < 0 or pos + 12 > len(payload) or payload[pos:pos + 4] != b"8BIM":
            return
        resource = int.from_bytes(payload[pos + 4:pos + 6], "big")
        name_size = payload[pos + 6] + 1
        name_size += name_size & 1
        at = pos + 6 + name_size
        size = int.from_bytes(payload[at:at + 4], "big")
        body = payload[at + 4:at + 4 + size]
        if resource == _PHOTOSHOP_EXIF:
            acc.found.update(parse_exif(body).categories)
        elif resource == _PHOTOSHOP_XMP:
            acc.found.add("xmp")
        pos = at + 4 + size + (size & 1)


def _jfif(head, size, acc):
    """APP0: JFIF rewritten canonically (version, units, densities; no thumbnail); any other
    APP0 (JFXX thumbnails, ...) dropped."""
    if head[:5] == b"JFIF\x00" and size >= 14:
        if head[12] or head[13] or size > 14:
            acc.found.add("thumbnail" if head[12] and head[13] else "other_exif")
        body = b"JFIF\x00" + head[5:12] + b"\x00\x00"
        return b"\xff\xe0" + (len(body) + 2).to_bytes(2, "big") + body
    acc.found.add("thumbnail" if head[:5] == b"JFXX\x00" else "other_exif")
    return None


def _icc_chunk(reader, start, end):
    """(sequence number, count, body start, body end) of an APP2 ICC_PROFILE segment."""
    numbers = reader.read(start + 12, 2)
    return numbers[0], numbers[1], start + 14, end


def _jpeg_fix_icc(reader, parts, out, acc):
    """Keep the ICC profile only if its chunks assemble into a plausible profile; else the
    chunks go too. Only the profile's header is read: its size and signature."""
    if not parts:
        return
    chunks = sorted(p[1:] for p in parts)
    count = chunks[0][1]
    total = sum(c[3] - c[2] for c in chunks)
    ok = (
        count == len(chunks)
        and all(c[1] == count for c in chunks)
        and [c[0] for c in chunks] == list(range(1, count + 1))
        and _valid_icc_header(_icc_head(reader, chunks), total)
    )
    if ok:
        acc.icc = True
        return
    acc.found.add("other_exif")
    for part in parts:
        out[part[0]] = ("bytes", b"")


def _icc_head(reader, chunks):
    """The first 128 bytes of the profile the chunks assemble into."""
    head = b""
    for c in chunks:
        if len(head) >= 128:
            break
        head += reader.read(c[2], min(c[3] - c[2], 128 - len(head)))
    return head


def _valid_icc_header(head, total):
    """As meta_common._valid_icc, for a profile of ``total`` bytes whose first are ``head``."""
    return total >= 128 and int.from_bytes(head[:4], "big") == total and head[36:40] == b"acsp"
