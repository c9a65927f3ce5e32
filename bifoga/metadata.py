"""Lossless removal of identifying metadata from photos (JPEG, PNG, WebP, GIF, HEIC/HEIF) and
films (MP4, QuickTime MOV, 3GP, WebM/Matroska).

Plain Python with only the standard library. CPython (tests, reference server), the browser's
Pyodide worker and its MicroPython light worker run it: this module and the still-image parsers
it imports at once (JPEG, PNG, WebP, GIF, EXIF) avoid what MicroPython lacks (typing,
dataclasses, re, f-strings); the HEIF and film parsers are imported only when such a file comes
(they run on CPython/Pyodide). Pillow is deliberately not imported here; the Pillow-dependent
parts (decode checks, re-encoding) live in :mod:`bifoga.imaging`.

The still images are read through a bifoga.source Source and answered with a Plan
(:func:`strip_source`): ranges of the source for everything kept byte for byte, bytes only for
what is rebuilt, so the light worker reads headers and small segments and sends slices of the
picked file. Each keeps only what it knows (an allow-list); every other block goes, whatever
it carries.

What is removed: GPS position, camera make/model and serial numbers, maker notes, dates (unless the
user chooses to keep the capture date), XMP, IPTC/Photoshop blocks, comments and text chunks, EXIF
thumbnails, every other EXIF tag, unknown application segments/chunks and anything appended after
the end of the image (for example the video of a "motion photo" or extra images of a multi-picture
file, whose own metadata could carry the position).

What is kept: everything needed to display the picture exactly as before: the compressed image data
byte for byte (so the decoded pixels are identical), the colour profile (ICC), the JFIF and Adobe
(APP14, needed for CMYK/YCCK) headers, PNG colour/transparency/animation chunks, WebP
VP8X/ICCP/ANIM/ANMF/ALPH, GIF colour tables, graphic control and loop extensions, and the EXIF
Orientation, which is written back in a freshly built minimal EXIF block (optionally with
DateTimeOriginal when ``keep_capture_date`` is set).

HEIC/HEIF (iPhone photos) are scrubbed in place, so that no offset in the file changes: each Exif
item is overwritten by a minimal valid Exif payload of the same length (the EXIF Orientation, as
some readers use it, and optionally DateTimeOriginal), each XMP item by an empty XMP packet, other
metadata items by zeros; metadata boxes ('udta', 'uuid' XMP, ...) become 'free' boxes, data bytes
that no picture item uses and descriptive item properties ('udes', 'crtt', 'mdft') are zeroed.
The coded picture data, the item structure and the orientation properties ('irot'/'imir', what
HEIF readers go by) stay as they are. A HEIF this cannot vouch for (an unknown item type,
metadata stored by reference, an item extent past the end or overlapping picture data, a GPS
block left anywhere, ...) is refused with :class:`MetadataError`.

Films are scrubbed in place too (:mod:`bifoga.film_meta`, :mod:`bifoga.film_ebml`): position,
device identity, software and (unless kept) dates go; every audio and video sample stays byte for
byte. :func:`find_location` tells whether a file still carries a position (the server's check).

Other formats (GIF, AVIF, TIFF, ...) are returned unchanged; the caller decides what to do with
them.

Any structurally broken image (truncated segment, length past the end, missing SOS/EOI/IEND, bad
PNG CRC, nonsensical RIFF size, GIF block past the end, ...) is refused with
:class:`MetadataError`. A broken EXIF block, on the other hand, is not a reason to refuse the
image: it is dropped as a whole anyway.

This module is the public interface (format detection and dispatch); the work is done in
:mod:`bifoga.exif` (TIFF/EXIF parsing and writing, categories), :mod:`bifoga.meta_common`
(shared types), :mod:`bifoga.jpeg_meta`, :mod:`bifoga.png_meta`, :mod:`bifoga.webp_meta`,
:mod:`bifoga.gif_meta`, :mod:`bifoga.heif_boxes` (HEIF structure), :mod:`bifoga.heif_meta`
(HEIF scrubbing), :mod:`bifoga.film_meta` and :mod:`bifoga.film_ebml`.
"""

import struct

from bifoga.exif import CATEGORIES
from bifoga.meta_common import MetadataError, Report, StripResult, _Acc
from bifoga.source import BytesSource, Plan, Reader

__all__ = [
    "CATEGORIES",
    "LIGHT_FORMATS",
    "MetadataError",
    "Report",
    "StripResult",
    "detect_format",
    "find_location",
    "inspect",
    "inspect_source",
    "strip",
    "strip_source",
]


# --------------------------------------------------------------------------------------------
# Format detection


def detect_format(data):
    """Name of the image or film format from its signature, or None. ``data``: bytes (the
    file, or at least its first boxes) or a bifoga.source Source."""
    reader = Reader(data) if hasattr(data, "read") else Reader(BytesSource(data[:1 << 16]))
    head = reader.read(0, 32)
    if head[:2] == b"\xff\xd8":
        return "jpeg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:2] == b"BM":
        return "bmp"
    if head[4:8] in _ISO_FIRST_BOXES:
        return _isobmff_format(reader if hasattr(data, "read") else Reader(BytesSource(data)))
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: the DocType sits in the first bytes
        return "webm" if reader.read(0, 64).find(b"webm") >= 0 else "mkv"
    return None


# As bifoga.containers judges ISO-BMFF files: the ftyp box need not come first, the major brand
# decides, then any compatible brand. (Kept in step so that whatever the sniffer lets through as
# image/heic or image/heif is scrubbed here, never passed through unrecognised.)
_ISO_FIRST_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot")
_HEIC_BRANDS = frozenset((b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"))
_HEIF_BRANDS = frozenset((b"mif1", b"msf1", b"mif2", b"miaf"))
_AVIF_BRANDS = frozenset((b"avif", b"avis"))


def _isobmff_format(reader):
    """"heic", "heif", "avif" (pictures), "mp4", "mov", "3gp" (films) or None."""
    pos, n = 0, reader.size
    movie = False
    for _ in range(1000):  # top-level boxes before the ftyp box
        if pos + 8 > n:
            return "mov" if movie else None  # classic QuickTime has no ftyp
        head = reader.read(pos, 16)
        size = int.from_bytes(head[:4], "big")
        header = 8
        if size == 1 and pos + 16 <= n:
            size, header = int.from_bytes(head[8:16], "big"), 16
        elif size == 0:
            size = n - pos
        if size < header:
            return "mov" if movie else None
        kind = head[4:8]
        movie = movie or kind == b"moov"
        if kind == b"ftyp":
            return _ftyp_format(reader.read(pos + header, min(size - header, 8 + 4 * 64)))
        pos += size
    return "mov" if movie else None


def _ftyp_format(body):
    brands = [body[:4]] + [body[i:i + 4] for i in range(8, len(body) - 3, 4)]
    for wanted in ([brands[0]], brands):
        if any(b in _HEIC_BRANDS for b in wanted):
            return "heic"
        if any(b in _AVIF_BRANDS for b in wanted):
            return "avif"
    if any(b in _HEIF_BRANDS for b in brands):
        return "heif"
    return "mov" if brands[0] == b"qt  " else "3gp" if brands[0][:2] == b"3g" else "mp4"


# --------------------------------------------------------------------------------------------
# Dispatch: each handler is (source, acc, keep_capture_date) -> Plan


def _whole_file(handler):
    """A handler over bytes (HEIF, films) as a handler over a Source: it reads the whole file
    and plans the result as one piece. CPython and Pyodide only."""

    def run(source, acc, keep_capture_date):
        data = source.read(0, source.size)
        plan = Plan()
        parts = handler(data, acc, keep_capture_date)
        out = b"".join(parts)
        if out == data:
            plan.keep(0, source.size)
        else:
            plan.add(out)
        return plan

    return run


# The formats whose parsers read through a Source and run under MicroPython (the browser's light
# worker); the others need CPython or Pyodide.
LIGHT_FORMATS = frozenset(("jpeg", "png", "webp", "gif"))


def _handler(fmt):
    """The handler for a format, or None. The HEIF and film parsers are imported here, when
    such a file comes, so that importing this module does not pull them in."""
    if fmt == "jpeg":
        from bifoga.jpeg_meta import strip_jpeg
        return strip_jpeg
    if fmt == "png":
        from bifoga.png_meta import strip_png
        return strip_png
    if fmt == "webp":
        from bifoga.webp_meta import strip_webp
        return strip_webp
    if fmt == "gif":
        from bifoga.gif_meta import strip_gif
        return strip_gif
    if fmt in ("heic", "heif"):
        from bifoga.heif_meta import _heif
        return _whole_file(_heif)
    if fmt in ("mp4", "mov", "3gp"):
        from bifoga.film_meta import _iso
        return _whole_file(_iso)
    if fmt in ("webm", "mkv"):
        from bifoga.film_ebml import _ebml
        return _whole_file(_ebml)
    return None


# What a parser may raise on input it did not foresee: never leaked as anything else.
_CORRUPT = (IndexError, ValueError, getattr(struct, "error", ValueError))


def _run_source(source, keep_capture_date):
    """(acc, plan, format): acc and plan are None for a format not handled."""
    fmt = detect_format(source)
    handler = _handler(fmt or "")
    if handler is None:
        return None, None, fmt
    acc = _Acc(fmt)
    try:
        plan = handler(source, acc, keep_capture_date)
    except MetadataError:
        raise
    except _CORRUPT as exc:
        raise MetadataError("corrupt %s: %s" % (fmt.upper(), exc)) from exc
    return acc, plan, fmt


def _source_of(data):
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("image data must be bytes")
    return BytesSource(data)


def _run(data, keep_capture_date):
    """(acc, format) for bytes: acc is None for a format not handled."""
    acc, _, fmt = _run_source(_source_of(data), keep_capture_date)
    return acc, fmt


# --------------------------------------------------------------------------------------------
# Public interface


def inspect(data):
    """Report which metadata categories ``data`` carries, its orientation and capture date.

    Raises MetadataError for a structurally broken JPEG/PNG/WebP/GIF/HEIF. Other formats are not
    looked into: ``format`` names them (or is None) and ``found`` is empty.
    """
    return inspect_source(_source_of(data))


def inspect_source(source):
    """:func:`inspect` over a bifoga.source Source (the light worker's preview)."""
    acc, _, fmt = _run_source(source, False)
    if acc is None:
        return Report(format=fmt)
    return acc.report()


def strip(data, keep_capture_date=False):
    """Remove metadata losslessly; keep what the picture needs to display (orientation, ICC).

    :func:`strip_source` over the bytes, its plan joined. With ``keep_capture_date`` the capture
    date is written back as EXIF DateTimeOriginal. HEIC/HEIF are scrubbed in place (same
    length, every offset unchanged). Other formats (AVIF, ...) are returned unchanged with
    ``removed=[]``; the caller decides. Raises MetadataError for a structurally broken
    JPEG/PNG/WebP/GIF/HEIF or a HEIF it cannot scrub.
    """
    source = _source_of(data)
    result = strip_source(source, keep_capture_date)
    return StripResult(
        data=result.plan.materialise(source),
        removed=result.removed,
        orientation=result.orientation,
        lossless=True,
    )


class StripPlan:
    """Result of :func:`strip_source`: what to send (a bifoga.source.Plan over the source),
    which categories go, and the orientation kept."""

    def __init__(self, plan, removed, orientation):
        self.plan = plan
        self.removed = removed
        self.orientation = orientation


def strip_source(source, keep_capture_date=False):
    """:func:`strip` over a bifoga.source Source, answering a Plan instead of bytes, so that
    the browser's light worker reads only what it needs and sends slices of the picked file.
    A format not handled is planned whole, with nothing removed."""
    acc, plan, _ = _run_source(source, keep_capture_date)
    if acc is None:
        whole = Plan()
        whole.keep(0, source.size)
        return StripPlan(whole, [], None)
    return StripPlan(plan, acc.removed(keep_capture_date), acc.orientation)


def find_location(data):
    """True if ``data`` still carries a position where Bifoga removes one (the server's check
    and the tests'; CPython only: see :func:`bifoga.meta_location.find_location`)."""
    from bifoga.meta_location import find_location as search

    return search(data)
