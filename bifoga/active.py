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
_ANYWHERE = frozenset({b"JavaScript", b"Launch"})
_OUTSIDE_STREAMS = frozenset({b"JS"})
# A PDF name: a slash and regular characters; "#xx" is a hex escape (/J#61vaScript is
# /JavaScript to a reader, so it is to us).
_PDF_NAME = re.compile(rb"/([^\s/<>\[\]()\{\}%]+)")
_PDF_HEX = re.compile(rb"#([0-9A-Fa-f]{2})")
_STREAM = re.compile(rb"stream\r?\n")
_UNDECODED_FILTERS = frozenset({b"ASCIIHexDecode", b"ASCII85Decode", b"LZWDecode",
                                b"RunLengthDecode", b"AHx", b"A85", b"LZW", b"RL"})
# Object streams (PDF 1.5) hold dictionaries compressed, out of sight of a byte search.
_MAX_STREAMS = 100_000
_MAX_INFLATED = 32 * 1024 * 1024  # in all; a 10 MB letter's object streams are far smaller


class _TooMuch(Exception):
    pass


def _pdf_names(data: bytes) -> set[bytes]:
    names = set()
    for m in _PDF_NAME.finditer(data):
        name = m.group(1)
        if b"#" in name:
            name = _PDF_HEX.sub(lambda h: bytes([int(h.group(1), 16)]), name)
        names.add(name)
    return names


def _split_streams(data: bytes) -> tuple[list[bytes], list[tuple[bytes, bytes]]]:
    """The bytes outside stream bodies, and each stream as (its dictionary, its body)."""
    outside, streams, pos = [], [], 0
    while len(streams) < _MAX_STREAMS:
        m = _STREAM.search(data, pos)
        if m is None:
            break
        outside.append(data[pos : m.start()])
        head = data[max(pos, m.start() - 1024) : m.start()]
        at = head.rfind(b"obj")
        end = data.find(b"endstream", m.end())
        end = len(data) if end < 0 else end
        streams.append((head[at + 3 :] if at >= 0 else head, data[m.end() : end]))
        pos = end + len(b"endstream")
    outside.append(data[pos:])
    return outside, streams


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


def pdf_is_active(data: bytes) -> bool:
    """True if the PDF has a JavaScript or Launch action: in its plain objects, or inside a
    FlateDecode-compressed (or unfiltered) object stream. An object stream in a filter not
    decoded here (no producer writes one) counts as active: it cannot be checked. Encrypted
    object streams cannot be read and are not checked (docs/security.md)."""
    if _pdf_names(data) & _ANYWHERE:
        return True
    outside, streams = _split_streams(data)
    if any(_pdf_names(part) & _OUTSIDE_STREAMS for part in outside):
        return True
    budget = [_MAX_INFLATED]
    active = _ANYWHERE | _OUTSIDE_STREAMS
    try:
        for head, body in streams:
            names = _pdf_names(head)
            if b"ObjStm" not in names:
                continue
            if names & _UNDECODED_FILTERS:
                return True
            inside = _inflate(body, budget) if b"FlateDecode" in names or b"Fl" in names else body
            if _pdf_names(inside) & active:
                return True
    except _TooMuch:
        return True  # object streams inflating past 32 MB: not a letter, and not checkable
    return False


# --------------------------------------------------------------------------- RTF

# Every control word starting with "obj" belongs to an embedded object: \object, \objdata
# (the object's bytes), \objemb, \objlink, \objocx, \objclass... Case-insensitive and with
# no look-behind on purpose: "\\objdata" (an escaped backslash and text) is refused too,
# which costs nothing, while a look-behind would let "\\\objdata" through.
_RTF_OBJECT = re.compile(rb"\\obj[a-z]", re.IGNORECASE)


def rtf_is_active(data: bytes) -> bool:
    """True if the RTF embeds an object (OLE objects are how RTF carries programs)."""
    return _RTF_OBJECT.search(data) is not None
