"""Lossless removal of identifying metadata from photos (JPEG, PNG, WebP, GIF, HEIC/HEIF) and
films (MP4, QuickTime MOV, 3GP, WebM/Matroska).

Plain Python with only the standard library. CPython (tests, reference server), the browser's
Pyodide worker and its MicroPython light worker run it: this module and the still-image parsers
it imports at once (JPEG, PNG, WebP, GIF, EXIF) avoid what MicroPython lacks (typing,
dataclasses, re, f-strings); the HEIF and film parsers are imported only when such a file comes
(they run on CPython/Pyodide). Pillow is deliberately not imported here; the Pillow-dependent
parts (decode checks, re-encoding) live in :mod:`bifoga.media.imaging`.

The still images are read through a bifoga.media.source Source and answered with a Plan
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

Films are scrubbed in place too (:mod:`bifoga.media.film_meta`, :mod:`bifoga.media.film_ebml`):
position, device identity, software and (unless kept) dates go; every audio and video sample stays
byte for byte. :func:`find_location` tells whether a file still carries a position (the server's
check).

Other formats (GIF, AVIF, TIFF, ...) are returned unchanged; the caller decides what to do with
them.

Any structurally broken image (truncated segment, length past the end, missing SOS/EOI/IEND, bad
PNG CRC, nonsensical RIFF size, GIF block past the end, ...) is refused with
:class:`MetadataError`. A broken EXIF block, on the other hand, is not a reason to refuse the
image: it is dropped as a whole anyway.

This module is the public interface (format detection and dispatch); the work is done in
:mod:`bifoga.media.exif` (TIFF/EXIF parsing and writing, categories),
:mod:`bifoga.media.meta_common` (shared types), :mod:`bifoga.media.jpeg_meta`,
:mod:`bifoga.media.png_meta`, :mod:`bifoga.media.webp_meta`, :mod:`bifoga.media.gif_meta`,
:mod:`bifoga.media.heif_boxes` (HEIF structure), :mod:`bifoga.media.heif_meta` (HEIF scrubbing),
:mod:`bifoga.media.film_meta` and :mod:`bifoga.media.film_ebml`.
"""

import struct

from bifoga.media.exif import CATEGORIES
from bifoga.media.isobmff import FIRST_BOXES, iso_format
from bifoga.media.meta_common import MetadataError, Report, StripResult, _Acc
from bifoga.media.source import BytesSource, Plan, Reader

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
    file, or at least its first boxes) or a bifoga.media.source Source."""
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
    if head[4:8] in FIRST_BOXES:  # the major brand and the boxes present decide
        return iso_format(reader.read, reader.size)
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: the DocType sits in the first bytes
        return "webm" if reader.read(0, 64).find(b"webm") >= 0 else "mkv"
    return None


# --------------------------------------------------------------------------------------------
# Dispatch: each handler is (source, acc, keep_capture_date) -> Plan


def _whole_file(handler):
    """A handler over bytes (HEIF) as a handler over a Source: it reads the whole file
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
LIGHT_FORMATS = frozenset(("jpeg", "png", "webp", "gif", "mp4", "mov", "3gp", "webm", "mkv"))


def _handler(fmt):
    """The handler for a format, or None. The HEIF and film parsers are imported here, when
    such a file comes, so that importing this module does not pull them in."""
    if fmt == "jpeg":
        from bifoga.media.jpeg_meta import strip_jpeg
        return strip_jpeg
    if fmt == "png":
        from bifoga.media.png_meta import strip_png
        return strip_png
    if fmt == "webp":
        from bifoga.media.webp_meta import strip_webp
        return strip_webp
    if fmt == "gif":
        from bifoga.media.gif_meta import strip_gif
        return strip_gif
    if fmt in ("heic", "heif"):
        from bifoga.media.heif_meta import _heif
        return _whole_file(_heif)
    if fmt in ("mp4", "mov", "3gp"):
        from bifoga.media.film_meta import plan_iso
        return _film(plan_iso)
    if fmt in ("webm", "mkv"):
        from bifoga.media.film_ebml import plan_ebml
        return _film(plan_ebml)
    return None


def _film(planner):
    """A film planner ((Reader, keep_capture_date) -> (plan, found, capture date)) as a
    handler: it reads box headers and metadata boxes only, and plans the media as ranges."""

    def run(source, acc, keep_capture_date):
        plan, found, acc.capture_date = planner(Reader(source), keep_capture_date)
        acc.found.update(found)
        return plan

    return run


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
    """:func:`inspect` over a bifoga.media.source Source (the light worker's preview)."""
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
    """Result of :func:`strip_source`: what to send (a bifoga.media.source.Plan over the source),
    which categories go, and the orientation kept."""

    def __init__(self, plan, removed, orientation):
        self.plan = plan
        self.removed = removed
        self.orientation = orientation


def strip_source(source, keep_capture_date=False):
    """:func:`strip` over a bifoga.media.source Source, answering a Plan instead of bytes, so that
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
    and the tests'; CPython only: see :func:`bifoga.media.meta_location.find_location`)."""
    from bifoga.media.meta_location import find_location as search

    return search(data)
