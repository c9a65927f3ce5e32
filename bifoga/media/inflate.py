"""Inflating deflate data and its checksum: the one place CPython and MicroPython differ in how.

CPython (server, tests) and Pyodide use zlib; MicroPython 1.27 (the browser's light worker)
its `deflate` module and binascii.crc32. Callers see one behaviour, except where noted.
"""

import sys

MICROPYTHON = sys.implementation.name == "micropython"

if MICROPYTHON:
    import binascii
    import io

    import deflate
else:
    import zlib

_PIECE = 16384  # MicroPython inflates in pieces of this size


class Damaged(Exception):
    """The data is not a deflate stream, or fails its checksum."""


def inflate(raw: bytes, max_out: int, raw_deflate: bool = False) -> tuple:
    """Inflate `raw` (zlib format, or bare deflate with `raw_deflate`) to at most `max_out`
    bytes: (output, cut). `cut` is True when `raw` ended before the stream did; then the
    output holds what was inflated so far, in MicroPython possibly without its last piece.
    Raises Damaged for data that is not deflate (or a zlib checksum that does not match),
    unless the output reached `max_out` before that point.
    """
    if max_out <= 0:
        return b"", False
    if not MICROPYTHON:
        decompressor = zlib.decompressobj(-15 if raw_deflate else 15)
        try:
            out = decompressor.decompress(raw, max_out)
        except zlib.error:
            raise Damaged from None
        return out, not decompressor.eof and len(out) < max_out
    stream = deflate.DeflateIO(io.BytesIO(raw), deflate.RAW if raw_deflate else deflate.ZLIB,
                               15 if raw_deflate else 0)
    pieces = []
    total = 0
    cut = False
    while total < max_out:
        try:
            piece = stream.read(min(_PIECE, max_out - total))
        except EOFError:
            cut = True
            break
        except OSError:
            raise Damaged from None
        if not piece:
            break
        pieces.append(piece)
        total += len(piece)
    return b"".join(pieces), cut


def crc32(data: bytes) -> int:
    """The CRC-32 a zip member records."""
    return binascii.crc32(data) if MICROPYTHON else zlib.crc32(data)
