"""ISO base media files (MP4, QuickTime, 3GP, HEIF, AVIF): box headers, and whether a file is a
film or a picture.

The sniffer (bifoga.media.containers) and the metadata remover (bifoga.media.metadata) must take the
same file for the same thing, or a film could pass as a picture and keep its position. Both ask
:func:`judge`: the major brand and the boxes actually present decide, never a compatible brand
alone. A film is a movie ('moov') with a video or sound track; a picture is a top-level 'meta'
with items ('iinf'/'iloc'), or an image sequence (only 'pict'/'auxv' tracks).

Pure and MicroPython-safe (no typing, re or __future__): the browser's light worker, the Pyodide
worker, the server and the tests run it.
"""

from bifoga.media.meta_error import MetadataError

HEIC_BRANDS = frozenset((b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"))
HEIF_BRANDS = frozenset((b"mif1", b"msf1", b"mif2", b"miaf"))
AVIF_BRANDS = frozenset((b"avif", b"avis"))
PICTURE_BRANDS = HEIC_BRANDS | HEIF_BRANDS | AVIF_BRANDS
# What may stand first in an ISO file (the ftyp box need not come first).
FIRST_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot")
MAX_BRANDS = 64  # an ftyp box could claim megabytes of brands; a real one has a handful
_MAX_BOXES = 100000  # boxes walked to judge a file: bounds the time


def bytes_reader(data):
    """A read(offset, length) over bytes in memory, for :func:`boxes`."""
    return lambda offset, length: data[offset:offset + length]


def boxes(read, start, end, budget):
    """The boxes from `start` on, as far as they add up within `end`: a list of
    (type, start, body, end), and where the walk stopped (`end` when they all add up).
    `read(offset, length)` gives the bytes; `budget` is a one-item list, spent one per box."""
    found = []
    pos = start
    while pos + 8 <= end:
        budget[0] -= 1
        if budget[0] < 0:
            raise MetadataError("corrupt film: too many boxes")
        head = read(pos, 16)
        size = int.from_bytes(head[0:4], "big")
        btype = bytes(head[4:8])
        body = pos + 8
        if size == 1:
            if pos + 16 > end or len(head) < 16:
                break
            size, body = int.from_bytes(head[8:16], "big"), pos + 16
        elif size == 0:
            if btype == b"\x00\x00\x00\x00":  # a terminator, not a box up to the end
                break
            size = end - pos
        if size < body - pos or pos + size > end:
            break
        found.append((btype, pos, body, pos + size))
        pos += size
    return found, pos


def child(read, parent_body, parent_end, btype, budget):
    """(type, start, body, end) of the first `btype` box in a parent's body, or None."""
    for box in boxes(read, parent_body, parent_end, budget)[0]:
        if box[0] == btype:
            return box
    return None


def handler_type(read, mdia, budget):
    """The handler ('vide', 'soun', 'meta', 'text', ...) of a 'mdia' box, or None."""
    hdlr = child(read, mdia[2], mdia[3], b"hdlr", budget)
    if hdlr is None or hdlr[3] - hdlr[2] < 12:
        return None
    return bytes(read(hdlr[2] + 8, 4))


def track_handlers(read, moov, budget):
    """The handler of each 'trak' in a 'moov' box (None where it has none)."""
    found = []
    for box in boxes(read, moov[2], moov[3], budget)[0]:
        if box[0] == b"trak":
            mdia = child(read, box[2], box[3], b"mdia", budget)
            found.append(handler_type(read, mdia, budget) if mdia else None)
    return found


def has_items(read, meta, budget):
    """True if a top-level 'meta' box lists items ('iinf' or 'iloc'): a HEIF picture."""
    # ISO 'meta' is a full box (version and flags first); QuickTime's is not.
    first = meta[2] if read(meta[2] + 4, 4) == b"hdlr" else meta[2] + 4
    return any(b[0] in (b"iinf", b"iloc") for b in boxes(read, first, meta[3], budget)[0])


def brands_of(read, ftyp):
    """The major brand, then the compatible ones (at most MAX_BRANDS), of an 'ftyp' box."""
    body = read(ftyp[2], min(ftyp[3] - ftyp[2], 8 + 4 * MAX_BRANDS))
    found = [bytes(body[0:4])] if len(body) >= 4 else []
    found.extend(bytes(body[i:i + 4]) for i in range(8, len(body) - 3, 4))
    return found


def judge(brands, handlers, items):
    """"heic", "heif", "avif" (pictures), "mp4", "mov", "3gp" (films) from the brands (major
    first; may be empty), the handlers of the movie's tracks and whether a top-level 'meta'
    lists items. The boxes present decide film or picture; the major brand decides when both
    are there (an image sequence with a thumbnail item, a film with a cover item)."""
    major = brands[0] if brands else b""
    film = b"vide" in handlers or b"soun" in handlers
    sequence = any(h in (b"pict", b"auxv") for h in handlers)
    if items and (film and major in PICTURE_BRANDS or not film):
        return _picture_kind(brands)
    if film:
        return _film_kind(major)
    if sequence or major in PICTURE_BRANDS:
        return _picture_kind(brands)
    return _film_kind(major)  # no video or sound: the film remover finds nothing to keep


def _picture_kind(brands):
    major = brands[0] if brands else b""
    for wanted in ((major,), brands):
        if any(b in HEIC_BRANDS for b in wanted):
            return "heic"
        if any(b in AVIF_BRANDS for b in wanted):
            return "avif"
    return "heif"


def _film_kind(major):
    if major in (b"", b"qt  "):  # classic QuickTime has no ftyp
        return "mov"
    return "3gp" if major[:2] == b"3g" else "mp4"


def iso_format(read, size):
    """:func:`judge` of the file `read` gives (top-level boxes, the movie's track handlers, a
    top-level 'meta'), or None when it has neither 'ftyp' nor 'moov'. Reads box headers only;
    raises MetadataError past a budget of boxes no real file comes near."""
    budget = [_MAX_BOXES]
    brands = None
    handlers = []
    items = movie = False
    top, stop = boxes(read, 0, size, budget)
    if stop + 8 <= size and read(stop + 4, 4) == b"ftyp":  # cut short: its brands still tell
        top.append((b"ftyp", stop, stop + 8, size))
    for box in top:
        if box[0] == b"ftyp" and brands is None:
            brands = brands_of(read, box)
        elif box[0] == b"moov" and not movie:
            movie = True
            handlers = track_handlers(read, box, budget)
        elif box[0] == b"meta" and not items:
            items = has_items(read, box, budget)
    if brands is None and not movie:
        return None
    return judge(brands or [], handlers, items)
