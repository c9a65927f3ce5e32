"""A picked file as the checks read it (a Source) and what is sent of it (a Plan).

The checks and the metadata remover read a file through a Source: `size` and
`read(offset, length)`, never the whole file at once, so that the browser's light worker
(MicroPython) reads only the parts it needs, through Blob.slice. What leaves the device is a
Plan: ranges of the source, kept byte for byte, and the few bytes that were rewritten. In the
browser a Plan becomes a Blob of slices (no copy in Python); in CPython `materialise` joins it.

Pure and MicroPython-safe (no typing, dataclasses, re or __future__): the browser's light
worker, the Pyodide worker, the server and the tests all run it.
"""

CHUNK = 65536  # what a Reader asks of its source at a time


class BytesSource:
    """A Source over bytes already in memory (CPython, the Pyodide worker, the tests)."""

    def __init__(self, data):
        self.data = bytes(data)
        self.size = len(self.data)

    def read(self, offset, length):
        """Up to `length` bytes from `offset` (fewer only at the end)."""
        if offset < 0 or length < 0:
            raise ValueError("negative offset or length")
        return self.data[offset:offset + length]


class Reader:
    """Buffered random access over a Source for parsers that step through small fields: one
    chunk is kept, so walking headers costs one read per CHUNK bytes walked."""

    def __init__(self, source, chunk=CHUNK):
        self.source = source
        self.size = source.size
        self.chunk = chunk
        self._start = 0
        self._buf = b""

    def read(self, offset, length):
        """Exactly the bytes at [offset, offset + length), cut short only at the end."""
        end = min(offset + length, self.size)
        if offset >= end:
            return b""
        if offset >= self._start and end <= self._start + len(self._buf):
            return self._buf[offset - self._start:end - self._start]
        if end - offset >= self.chunk:
            return self.source.read(offset, end - offset)
        self._start = offset
        self._buf = self.source.read(offset, self.chunk)
        return self._buf[:end - offset]

    def byte(self, offset):
        got = self.read(offset, 1)
        if not got:
            raise IndexError("read past the end")
        return got[0]

    def find(self, needle, start, end=None):
        """The first offset of `needle` in [start, end), or -1; reads chunk by chunk."""
        end = self.size if end is None else min(end, self.size)
        overlap = len(needle) - 1
        step = max(self.chunk, 2 * len(needle))
        pos = start
        while pos < end:
            block = self.source.read(pos, min(step, end - pos))
            if not block:
                return -1
            found = block.find(needle)
            if found >= 0 and pos + found + len(needle) <= end:
                return pos + found
            if pos + len(block) >= end:
                return -1
            pos += max(1, len(block) - overlap)
        return -1


class Plan:
    """What is sent, in order: ("range", start, end) of the source, or ("bytes", data)."""

    def __init__(self):
        self.pieces = []

    def keep(self, start, end):
        """The source's bytes [start, end), unchanged; joins onto a range that ends there."""
        if end <= start:
            return
        last = self.pieces[-1] if self.pieces else None
        if last is not None and last[0] == "range" and last[2] == start:
            self.pieces[-1] = ("range", last[1], end)
        else:
            self.pieces.append(("range", start, end))

    def add(self, data):
        """Bytes written anew (a rebuilt header, a minimal EXIF, zeros over a removed field)."""
        if data:
            self.pieces.append(("bytes", bytes(data)))

    @property
    def size(self):
        return sum(p[2] - p[1] if p[0] == "range" else len(p[1]) for p in self.pieces)

    def unchanged(self, source):
        """True when the plan is the whole source as it is."""
        return self.pieces == [("range", 0, source.size)] or (source.size == 0
                                                               and not self.pieces)

    def materialise(self, source):
        """The bytes the plan describes (CPython and tests; the browser builds a Blob)."""
        out = []
        for piece in self.pieces:
            if piece[0] == "range":
                out.append(source.read(piece[1], piece[2] - piece[1]))
            else:
                out.append(piece[1])
        return b"".join(out)


def whole(source):
    """A plan that sends the source unchanged."""
    plan = Plan()
    plan.keep(0, source.size)
    return plan
