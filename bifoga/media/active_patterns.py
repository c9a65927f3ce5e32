"""The PDF active-content check as regular expressions over the whole file (CPython only).

bifoga.media.active.pdf_source_active is the check everywhere; it reads chunk by chunk with plain
bytes operations. For a file built of thousands of #-escapes it gives up (None), and the server
answers with these patterns instead: one linear pass in C per name. The tests also hold the
chunked scan to them.

CPython and Pyodide only: MicroPython's re has no look-ahead.
"""

import re
import zlib

from bifoga.media.active import (
    _ACTIVE,
    _ANYWHERE,
    _FLATE,
    _JS,
    _MAX_INFLATED,
    _MAX_JS_HITS,
    _MAX_OBJECT_STREAMS,
    _OBJSTM,
    _UNDECODED,
)

_DELIMITER = rb"(?=[\s/<>\[\]()\{\}%]|$)"


def _spelled(text: str) -> bytes:
    """A pattern for `text` with any of its characters possibly #-escaped."""
    parts = []
    for ch in text:
        hi, lo = divmod(ord(ch), 16)
        parts.append(rb"(?:%s|#%X[%X%x])" % (re.escape(ch.encode()), hi, lo, lo))
    return b"".join(parts)


def _pattern(*names: bytes):
    return re.compile(
        b"/(?:" + b"|".join(_spelled(n.decode()) for n in names) + b")" + _DELIMITER)


_P_ANYWHERE = _pattern(*_ANYWHERE)
_P_JS = _pattern(_JS)
_P_ACTIVE = _pattern(*_ACTIVE)
_P_OBJSTM = _pattern(_OBJSTM)
_P_FLATE = _pattern(*_FLATE)
_P_UNDECODED = _pattern(*_UNDECODED)
_P_STREAM = re.compile(rb"stream\r?\n")


def _in_body(data: bytes, pos: int) -> bool:
    last = data.rfind(b"stream", 0, pos)
    return last >= 0 and data[max(0, last - 3) : last] != b"end"


def _objstm_active(data: bytes) -> bool:
    budget = _MAX_INFLATED
    pos, seen = 0, 0
    while seen < _MAX_OBJECT_STREAMS:
        m = _P_OBJSTM.search(data, pos)
        if m is None:
            return False
        seen += 1
        body = _P_STREAM.search(data, m.end())
        if body is None:
            return False
        head = data[m.end() : body.start()]
        end = data.find(b"endstream", body.end())
        end = len(data) if end < 0 else end
        pos = end
        if _P_UNDECODED.search(head):
            return True
        raw = data[body.end() : end]
        if _P_FLATE.search(head):
            try:
                inside = zlib.decompressobj().decompress(raw, budget + 1)
            except zlib.error:
                inside = b""
            budget -= len(inside)
            if budget < 0:
                return True
        else:
            inside = raw
        if _P_ACTIVE.search(inside):
            return True
    return True


def pdf_is_active(data: bytes) -> bool:
    """pdf_source_active's verdict as whole-file patterns (linear, in C): the server's
    answer where the chunked scan gives up."""
    if _P_ANYWHERE.search(data):
        return True
    for hits, m in enumerate(_P_JS.finditer(data)):
        if hits >= _MAX_JS_HITS or not _in_body(data, m.start()):
            return True
    return _objstm_active(data)
