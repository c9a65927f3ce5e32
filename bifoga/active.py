"""Active content in documents: scripts, launch actions and embedded programs (PDF, RTF).

A document that runs something when opened must not reach the clinician's workstation, even
when its type is allowed. The checks look for what a reader acts on, not for every possible
trick; docs/security.md lists what is covered. OLE (.doc/.xls) and ZIP packages (OOXML, ODF)
are checked where their directories are read, in bifoga.containers.

Runs in CPython (server) and Pyodide (the browser worker): standard library only.
"""

import re
import zlib

# --------------------------------------------------------------------------- PDF

# A script action is /S /JavaScript (its code under /JS), document scripts sit in a
# /JavaScript name tree, /Launch starts a program or opens a file. "JavaScript" and "Launch"
# are long enough to search the whole file for, stream bytes included, without false alarms;
# the two letters of /JS turn up by chance in 10 MB of compressed pictures, so /JS counts
# only outside stream bodies and inside object streams.
#
# Every search is one regular expression run over the bytes (linear, in C): a PDF name may
# spell any character as #xx (/J#61vaScript is /JavaScript to a reader, so it is to us), and
# a name ends at a delimiter (/JavaScriptX is another name).
_DELIMITER = rb"(?=[\s/<>\[\]()\{\}%]|$)"


def _spelled(text: str) -> bytes:
    """A pattern for `text` with any of its characters possibly #-escaped."""
    parts = []
    for ch in text:
        hi, lo = divmod(ord(ch), 16)
        parts.append(rb"(?:%s|#%X[%X%x])" % (re.escape(ch.encode()), hi, lo, lo))
    return b"".join(parts)


class _Names:
    """The PDF names /text..., each ending at a delimiter: one leading slash, then the
    alternatives (the engine tries them only where a slash is)."""

    def __init__(self, *texts: str) -> None:
        self.literals = [t.encode() for t in texts]
        self.pattern = re.compile(
            b"/(?:" + b"|".join(_spelled(t) for t in texts) + b")" + _DELIMITER)

    def possible(self, data: bytes) -> bool:
        """False when no spelling can occur: no "#" and none of the names as they are. Found
        by bytes.find, many times faster than the pattern over 10 MB of slashes."""
        return b"#" in data or any(literal in data for literal in self.literals)

    def search(self, data: bytes) -> bool:
        return self.possible(data) and self.pattern.search(data) is not None


_ANYWHERE = _Names("JavaScript", "Launch")
_JS = _Names("JS")
_ACTIVE = _Names("JavaScript", "Launch", "JS")
_OBJSTM = _Names("ObjStm")
_FLATE = _Names("FlateDecode", "Fl")
_UNDECODED = _Names("ASCIIHexDecode", "ASCII85Decode", "LZWDecode", "RunLengthDecode", "AHx",
                    "A85", "LZW", "RL", "CCITTFaxDecode", "JBIG2Decode", "DCTDecode",
                    "JPXDecode", "Crypt")
_STREAM = re.compile(rb"stream\r?\n")
_MAX_JS_HITS = 1000  # chance hits of /JS in stream bytes: a handful in 10 MB at most
_MAX_OBJECT_STREAMS = 10_000
_MAX_INFLATED = 16 * 1024 * 1024  # in all; a 10 MB letter's object streams are far smaller


class _TooMuch(Exception):
    pass


def _in_stream_body(data: bytes, pos: int) -> bool:
    """Whether `pos` lies in a stream's body: the nearest "stream" keyword before it opens a
    stream rather than ending one ("endstream")."""
    last = data.rfind(b"stream", 0, pos)
    return last >= 0 and data[max(0, last - 3) : last] != b"end"


def _inflate(raw: bytes, budget: list[int]) -> bytes:
    d = zlib.decompressobj()
    try:
        out = d.decompress(raw, budget[0] + 1)
    except zlib.error:
        return b""  # damaged or encrypted: nothing readable to search
    budget[0] -= len(out)
    if budget[0] < 0:
        raise _TooMuch
    return out


def _object_streams_active(data: bytes) -> bool:
    """Look inside every /Type /ObjStm stream: FlateDecode (or no filter) is inflated and
    searched; any other filter counts as active (no producer writes one: it cannot be
    checked); so do object streams inflating past _MAX_INFLATED (16 MiB) in all."""
    if not _OBJSTM.possible(data):
        return False
    budget = [_MAX_INFLATED]
    pos, seen = 0, 0
    while seen < _MAX_OBJECT_STREAMS:
        m = _OBJSTM.pattern.search(data, pos)
        if m is None:
            return False
        seen += 1
        body = _STREAM.search(data, m.end())
        if body is None:
            return False
        head = data[m.end() : body.start()]
        end = data.find(b"endstream", body.end())
        end = len(data) if end < 0 else end
        pos = end
        if _UNDECODED.search(head):
            return True
        raw = data[body.end() : end]
        try:
            inside = _inflate(raw, budget) if _FLATE.search(head) else raw
        except _TooMuch:
            return True
        if _ACTIVE.search(inside):
            return True
    return True  # more object streams than any document has


def pdf_is_active(data: bytes) -> bool:
    """True if the PDF has a JavaScript or Launch action: in its plain objects, or inside an
    object stream. Encrypted object streams cannot be read and are not checked
    (docs/security.md)."""
    if _ANYWHERE.search(data):
        return True
    if _JS.possible(data):
        for hits, m in enumerate(_JS.pattern.finditer(data)):
            if hits >= _MAX_JS_HITS or not _in_stream_body(data, m.start()):
                return True
    return _object_streams_active(data)


# --------------------------------------------------------------------------- RTF

# Every control word starting with "obj" belongs to an embedded object: \object, \objdata
# (the object's bytes), \objemb, \objlink, \objocx, \objclass... Case-insensitive and with
# no look-behind on purpose: "\\objdata" (an escaped backslash and text) is refused too,
# which costs nothing, while a look-behind would let "\\\objdata" through.
_RTF_OBJECT = re.compile(rb"\\obj[a-z]", re.IGNORECASE)


def rtf_is_active(data: bytes) -> bool:
    """True if the RTF embeds an object (OLE objects are how RTF carries programs)."""
    return _RTF_OBJECT.search(data) is not None
