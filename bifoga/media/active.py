"""Active content in documents: scripts, launch actions and embedded programs (PDF, RTF).

A document that runs something when opened must not reach the clinician's workstation, even
when its type is allowed. The checks look for what a reader acts on, not for every possible
trick; docs/security.md lists what is covered. OLE (.doc/.xls) and ZIP packages (OOXML, ODF)
are checked where their directories are read, in bifoga.media.containers.

The checks read a bifoga.media.source Source chunk by chunk (`pdf_source_active`,
`rtf_source_active`). They run in CPython (server), Pyodide and MicroPython 1.27 (the
browser's light worker): plain bytes operations, no `re`. bifoga.media.active_patterns has the
same PDF check as regular expressions over the whole file, CPython only: the server's answer
for the few hostile files the chunked scan gives up on (`pdf_source_active` returns None).
"""

import sys

from bifoga.media.inflate import Damaged, inflate
from bifoga.media.source import BytesSource, Reader

MICROPYTHON = sys.implementation.name == "micropython"

# --------------------------------------------------------------------------- PDF names
#
# A script action is /S /JavaScript (its code under /JS), document scripts sit in a
# /JavaScript name tree, /Launch starts a program or opens a file. "JavaScript" and "Launch"
# are long enough to search the whole file for, stream bytes included, without false alarms;
# the two letters of /JS turn up by chance in 10 MB of compressed pictures, so /JS counts
# only outside stream bodies and inside object streams.
#
# A PDF name may spell any character as #xx (/J#61vaScript is /JavaScript to a reader, so it
# is to us), and a name ends at a delimiter (/JavaScriptX is another name). A spelling with no
# "#" is found by bytes.find; one with a "#" has it within 3 bytes per character after its
# slash, so the slashes just before each "#" are the only other places a name can start.

_DELIMITERS = frozenset(b" \t\n\r\x0b\x0c/<>[](){}%")  # and the end of the data
_HASH = 0x23

_ANYWHERE = (b"JavaScript", b"Launch")
_JS = b"JS"
_OBJSTM = b"ObjStm"
_ACTIVE = (b"JavaScript", b"Launch", b"JS")
_FLATE = (b"FlateDecode", b"Fl")
_UNDECODED = (b"ASCIIHexDecode", b"ASCII85Decode", b"LZWDecode", b"RunLengthDecode", b"AHx",
              b"A85", b"LZW", b"RL", b"CCITTFaxDecode", b"JBIG2Decode", b"DCTDecode",
              b"JPXDecode", b"Crypt")

_MAX_JS_HITS = 1000  # chance hits of /JS in stream bytes: a handful in 10 MB at most
_MAX_OBJECT_STREAMS = 10_000
_MAX_INFLATED = 16 * 1024 * 1024  # in all; a 10 MB letter's object streams are far smaller
# A "#" costs the scan two searches; random bytes have one in 256. Past this many (a file
# built of escapes) the chunked scan stops and the whole-file patterns answer.
_MAX_HASHES = 150_000

_CHUNK = 65536
_OVERLAP = 64  # more than the longest name a chunk's own region can start: 1 + 3 * 10 + 1


def _span(names: tuple) -> int:
    """How far before a "#" the slash of one of `names` can be."""
    return 3 * max(len(n) for n in names) + 2


def _name_end(buf: bytes, at: int, name: bytes, final: bool) -> int:
    """Where the name `name` spelled from buf[at] (just after its slash) ends, if a delimiter
    (or, when `final`, the end of the data) follows it; else -1."""
    n = len(buf)
    i = at
    for ch in name:
        if i < n and buf[i] == ch:
            i += 1
        elif (i + 3 <= n and buf[i] == _HASH and buf[i + 1] == 0x30 + (ch >> 4)
              and buf[i + 2] in _HEX_DIGITS[ch & 15]):
            i += 3
        else:
            return -1
    if i == n:
        return i if final else -1
    return i if buf[i] in _DELIMITERS else -1


_HEX_DIGITS = tuple(frozenset(b"%X%x" % (d, d)) for d in range(16))


class _GiveUp(Exception):
    """Too many escapes to scan here (see _MAX_HASHES)."""


class _Scan:
    def __init__(self) -> None:
        self.hashes = 0

    def candidates(self, buf: bytes, literals: tuple, span: int, own: int) -> list:
        """Slash offsets in buf[:own] where one of the names may start, in order."""
        found = set()
        for literal in literals:
            i = buf.find(literal)
            while 0 <= i < own:
                found.add(i)
                i = buf.find(literal, i + 1)
        limit = min(len(buf), own + span)
        h = buf.find(b"#", 0, limit)
        while h >= 0:
            self.hashes += 1
            if self.hashes > _MAX_HASHES:
                raise _GiveUp
            low = max(0, h - span)
            slash = buf.rfind(b"/", low, h)
            while slash >= 0:
                if slash < own:
                    found.add(slash)
                slash = buf.rfind(b"/", low, slash)
            h = buf.find(b"#", h + 1, limit)
        return sorted(found)

    def has_name(self, buf: bytes, names: tuple) -> bool:
        """Whether any of the names occurs in the whole of `buf`."""
        literals = tuple(b"/" + n for n in names)
        for at in self.candidates(buf, literals, _span(names), len(buf)):
            for name in names:
                if _name_end(buf, at + 1, name, True) >= 0:
                    return True
        return False


# "/J" finds both /JavaScript and /JS: every search over the file costs (MicroPython's find
# compares at each offset).
_SCAN_LITERALS = (b"/J", b"/Launch", b"/ObjStm")
_SCAN_SPAN = _span(_ANYWHERE + (_JS, _OBJSTM))


def _chunk_size(source) -> int:
    # Bytes already in memory are scanned in one piece (the server); a picked file by chunks.
    return max(source.size, 1) if isinstance(source, BytesSource) else _CHUNK


def pdf_source_active(source):
    """True if the PDF has a JavaScript or Launch action: in its plain objects, or inside an
    object stream (FlateDecode or no filter is inflated and searched; any other filter counts
    as active: no producer writes one, and it cannot be checked; so do object streams
    inflating past 16 MiB in all). Encrypted object streams cannot be read and are not
    checked (docs/security.md).

    Returns None when this scan cannot decide: a file made of escapes (see _MAX_HASHES), or,
    in MicroPython, an object stream cut short whose part that inflated holds no action.
    """
    try:
        return _pdf_scan(source, Reader(source))
    except _GiveUp:
        return None


def _pdf_scan(source, reader):
    scan = _Scan()
    size = source.size
    step = _chunk_size(source)
    budget = [_MAX_INFLATED]
    js_hits = 0
    keywords = _StreamKeywords(source)
    objstm_from = 0  # object streams are looked for from here (past the last one's body)
    objstm_seen = 0
    objstm_done = False
    undecided = False
    start = 0
    while start < size:
        buf = source.read(start, step + _OVERLAP)
        if not buf:
            break
        final = start + len(buf) >= size  # the data's end is a name's end here
        own = len(buf) if final else step
        for at in scan.candidates(buf, _SCAN_LITERALS, _SCAN_SPAN, own):
            for name in _ANYWHERE:
                if _name_end(buf, at + 1, name, final) >= 0:
                    return True
            if _name_end(buf, at + 1, _JS, final) >= 0:
                js_hits += 1
                if js_hits > _MAX_JS_HITS or not keywords.in_stream_body(start + at):
                    return True
            end = _name_end(buf, at + 1, _OBJSTM, final)
            if end >= 0 and not objstm_done and start + at >= objstm_from:
                objstm_seen += 1
                found = _object_stream(scan, reader, start + end, budget)
                if found is True:
                    return True
                if found is None:
                    objstm_done = True  # no stream keyword follows: nothing more to inflate
                    continue
                objstm_from, cut = found
                undecided = undecided or cut
                if objstm_seen >= _MAX_OBJECT_STREAMS:
                    return True  # more object streams than any document has
        start += own
    return None if undecided else False


class _StreamKeywords:
    """Where the "stream" keywords are, found only as far as a /JS needs (one is rare)."""

    def __init__(self, source) -> None:
        self.source = source
        self.until = 0  # searched up to here
        self.last = None  # the last keyword starting before `until`

    def in_stream_body(self, pos: int) -> bool:
        """Whether the name at `pos` (a slash) lies in a stream's body: the nearest "stream"
        keyword before it opens a stream rather than ending one ("endstream")."""
        start = self.until
        while start < pos:
            end = min(pos, start + _CHUNK)
            # Five bytes more find a keyword starting before `end`; none can start at `pos`
            # or run past it, since a slash is there.
            at = self.source.read(start, end + 5 - start).rfind(b"stream")
            if at >= 0:
                self.last = start + at
            start = end
        self.until = max(self.until, pos)
        last = self.last
        if last is None:
            return False
        return self.source.read(max(0, last - 3), min(3, last)) != b"end"


def _object_stream(scan, reader, after_name: int, budget: list):
    """Judge the object stream whose /ObjStm name ends at `after_name`: True when active,
    None when no stream follows, else (where the next search starts, cut short)."""
    at = after_name
    while True:
        at = reader.find(b"stream", at)
        if at < 0:
            return None
        follow = reader.read(at + 6, 2)
        if follow[:1] == b"\n":
            body = at + 7
            break
        if follow == b"\r\n":
            body = at + 8
            break
        at += 1
    head = reader.read(after_name, at - after_name)
    end = reader.find(b"endstream", body)
    end = reader.size if end < 0 else end
    if scan.has_name(head, _UNDECODED):
        return True
    raw = reader.read(body, end - body)
    cut = False
    if scan.has_name(head, _FLATE):
        try:
            inside, cut = inflate(raw, budget[0] + 1)
        except Damaged:
            inside = b""  # damaged or encrypted: nothing readable to search
        budget[0] -= len(inside)
        if budget[0] < 0:
            return True
    else:
        inside = raw
    if scan.has_name(inside, _ACTIVE):
        return True
    # MicroPython's inflate may stop a piece short of CPython's on a cut stream.
    return end, cut and MICROPYTHON


# --------------------------------------------------------------------------- RTF

# Every control word starting with "obj" belongs to an embedded object: \object, \objdata
# (the object's bytes), \objemb, \objlink, \objocx, \objclass... Case-insensitive and with
# no look-behind on purpose: "\\objdata" (an escaped backslash and text) is refused too,
# which costs nothing, while a look-behind would let "\\\objdata" through.

def rtf_source_active(source) -> bool:
    """True if the RTF embeds an object (OLE objects are how RTF carries programs)."""
    size = source.size
    step = _chunk_size(source)
    start = 0
    while start < size:
        buf = source.read(start, step + 4).lower()  # ASCII only, as the pattern was
        at = buf.find(b"\\obj")
        while at >= 0:
            if at + 4 < len(buf) and 0x61 <= buf[at + 4] <= 0x7A:
                return True
            at = buf.find(b"\\obj", at + 1)
        start += step
    return False


def rtf_is_active(data: bytes) -> bool:
    return rtf_source_active(BytesSource(data))
