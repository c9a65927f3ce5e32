"""Lossless removal of identifying metadata from photos (JPEG, PNG, WebP, HEIC/HEIF) and films
(MP4, QuickTime MOV, 3GP, WebM/Matroska).

Plain Python 3.11+ with only the standard library: it runs in CPython (tests, reference server) and
in the browser's Pyodide worker. Pillow is deliberately not imported here; the Pillow-dependent
parts (decode checks, re-encoding) live in :mod:`bifoga.imaging`.

What is removed: GPS position, camera make/model and serial numbers, maker notes, dates (unless the
user chooses to keep the capture date), XMP, IPTC/Photoshop blocks, comments and text chunks, EXIF
thumbnails, every other EXIF tag, unknown application segments/chunks and anything appended after
the end of the image (for example the video of a "motion photo" or extra images of a multi-picture
file, whose own metadata could carry the position).

What is kept: everything needed to display the picture exactly as before: the compressed image data
byte for byte (so the decoded pixels are identical), the colour profile (ICC), the JFIF and Adobe
(APP14, needed for CMYK/YCCK) headers, PNG colour/transparency/animation chunks, and the EXIF
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
PNG CRC, nonsensical RIFF size, ...) is refused with :class:`MetadataError`. A broken EXIF block,
on the other hand, is not a reason to refuse the image: it is dropped as a whole anyway.

This module is the public interface (format detection and dispatch); the work is done in
:mod:`bifoga.exif` (TIFF/EXIF parsing and writing, categories), :mod:`bifoga.meta_common` (shared
types), :mod:`bifoga.jpeg_meta`, :mod:`bifoga.png_meta`, :mod:`bifoga.webp_meta`,
:mod:`bifoga.heif_boxes` (HEIF structure) and :mod:`bifoga.heif_meta` (HEIF scrubbing).
"""

from __future__ import annotations

import re
import struct

from bifoga.exif import CATEGORIES
from bifoga.film_ebml import _ebml, plan_ebml
from bifoga.film_meta import _iso, plan_iso
from bifoga.heif_meta import _heif, _tiff_gps_anywhere
from bifoga.isobmff import FIRST_BOXES, bytes_reader, iso_format
from bifoga.jpeg_meta import _jpeg
from bifoga.meta_common import MetadataError, Report, StripResult, _Acc
from bifoga.png_meta import _png, png_location
from bifoga.source import Plan, Reader
from bifoga.webp_meta import _webp

__all__ = [
    "CATEGORIES",
    "MetadataError",
    "Report",
    "StripResult",
    "detect_format",
    "find_location",
    "inspect",
    "strip",
    "strip_source",
]


# --------------------------------------------------------------------------------------------
# Format detection


def detect_format(data: bytes) -> str | None:
    """Name of the image or film format from its signature, or None."""
    head = bytes(data[:32])
    if head.startswith(b"\xff\xd8"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:2] == b"BM":
        return "bmp"
    if head[4:8] in FIRST_BOXES:
        return _isobmff_format(data)
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: the DocType sits in the first bytes
        return "webm" if b"webm" in bytes(data[:64]) else "mkv"
    return None


def _isobmff_format(data: bytes) -> str | None:
    """"heic", "heif", "avif" (pictures), "mp4", "mov", "3gp" (films) or None, judged as
    bifoga.containers judges them (bifoga.isobmff.judge: the major brand and the boxes present)."""
    return iso_format(bytes_reader(data), len(data))


# --------------------------------------------------------------------------------------------
# Public interface

_HANDLERS = {
    "jpeg": _jpeg, "png": _png, "webp": _webp, "heic": _heif, "heif": _heif,
    "mp4": _iso, "mov": _iso, "3gp": _iso, "webm": _ebml, "mkv": _ebml,
}  # fmt: skip
# A position in XMP (which is dropped whole, filed under "xmp").
_XMP_POSITION = re.compile(rb"GPS(?:Latitude|Longitude)\b")


def _run(data: bytes, keep_capture_date: bool) -> tuple[_Acc | None, list | None, str | None]:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("image data must be bytes")
    data = bytes(data)
    fmt = detect_format(data)
    handler = _HANDLERS.get(fmt or "")
    if handler is None:
        return None, None, fmt
    acc = _Acc(fmt)
    try:
        parts = handler(data, acc, keep_capture_date)
    except (IndexError, struct.error) as exc:  # defensive: never leak anything else
        raise MetadataError(f"corrupt {fmt.upper()}: {exc}") from exc
    return acc, parts, fmt


def inspect(data: bytes) -> Report:
    """Report which metadata categories ``data`` carries, its orientation and capture date.

    Raises MetadataError for a structurally broken JPEG/PNG/WebP/HEIF. Other formats are not
    looked into: ``format`` names them (or is None) and ``found`` is empty.
    """
    acc, _, fmt = _run(data, False)
    if acc is None:
        return Report(format=fmt)
    return acc.report()


def strip(data: bytes, keep_capture_date: bool = False) -> StripResult:
    """Remove metadata losslessly; keep what the picture needs to display (orientation, ICC).

    With ``keep_capture_date`` the capture date is written back as EXIF DateTimeOriginal.
    HEIC/HEIF are scrubbed in place (same length, every offset unchanged). Other formats (GIF,
    AVIF, ...) are returned unchanged with ``removed=[]``; the caller decides. Raises
    MetadataError for a structurally broken JPEG/PNG/WebP/HEIF or a HEIF it cannot scrub.
    """
    acc, parts, _ = _run(data, keep_capture_date)
    if acc is None or parts is None:
        return StripResult(data=bytes(data), removed=[], orientation=None, lossless=True)
    return StripResult(
        data=b"".join(parts),
        removed=acc.removed(keep_capture_date),
        orientation=acc.orientation,
        lossless=True,
    )


class StripPlan:
    """Result of :func:`strip_source`: what to send (a bifoga.source.Plan over the source),
    which categories go, and the orientation kept."""

    def __init__(self, plan, removed, orientation):
        self.plan = plan
        self.removed = removed
        self.orientation = orientation


# Films are planned through the source (ranges of it plus the rewritten boxes).
_SOURCE_PLANNERS = {"mp4": plan_iso, "mov": plan_iso, "3gp": plan_iso, "webm": plan_ebml,
                    "mkv": plan_ebml}


def source_format(reader: Reader) -> str | None:
    """:func:`detect_format` of the file a bifoga.source Reader reads (box headers only)."""
    head = reader.read(0, 64)
    if head[4:8] in FIRST_BOXES:
        return iso_format(reader.read, reader.size)
    return detect_format(head)


def strip_source(source, keep_capture_date: bool = False) -> StripPlan:
    """:func:`strip` over a bifoga.source Source, answering a Plan instead of bytes, so that
    the browser's light worker reads only what it needs and sends slices of the picked file.
    Same removals, same refusals (MetadataError) as :func:`strip`.

    Films read only their box headers and metadata boxes, and plan their media data as ranges
    of the source. Other formats, for now, read the whole source and plan the stripped bytes
    as one piece.
    """
    reader = Reader(source)
    fmt = source_format(reader)
    planner = _SOURCE_PLANNERS.get(fmt or "")
    if planner is not None:
        acc = _Acc(fmt)
        try:
            plan, found, acc.capture_date = planner(reader, keep_capture_date)
        except (IndexError, struct.error) as exc:  # as _run: never leak anything else
            raise MetadataError(f"corrupt {fmt.upper()}: {exc}") from exc
        acc.found.update(found)
        return StripPlan(plan, acc.removed(keep_capture_date), None)
    data = source.read(0, source.size)
    result = strip(data, keep_capture_date)
    plan = Plan()
    if result.data == data:
        plan.keep(0, source.size)
    else:
        plan.add(result.data)
    return StripPlan(plan, result.removed, result.orientation)


def find_location(data: bytes) -> bool:
    """True if ``data`` still carries a position where Bifoga removes one: a GPS IFD in any
    EXIF; GPSLatitude/GPSLongitude in XMP; a PNG text chunk, compressed or not; a HEIC/HEIF Exif
    or XMP item; a film's 'udta' '\u00a9xyz'/'loci', 'keys' location entries, XMP 'uuid' boxes,
    Matroska location tags. Shared by the server's check and the tests.

    Raises MetadataError for a structurally broken JPEG/PNG/WebP or film (a HEIF that cannot
    be parsed is searched byte by byte instead). Other formats: False.
    """
    fmt = detect_format(data)
    if fmt in ("heic", "heif"):
        return _heif_location(bytes(data))
    acc, _, fmt = _run(data, False)
    if acc is None:
        return False
    if "gps" in acc.found:
        return True
    if fmt == "png":
        return png_location(bytes(data))
    return fmt in ("jpeg", "webp") and "xmp" in acc.found and bool(_XMP_POSITION.search(data))


_HEIF_POSITION = re.compile(rb"GPS(?:Latitude|Longitude)\b|\xa9xyz|location\.ISO6709")


def _heif_location(data: bytes) -> bool:
    """True if a HEIC/HEIF carries a position: a GPS IFD in an Exif item (or in any TIFF
    structure in the file), GPS fields in XMP, a QuickTime-style position in an image
    sequence's 'moov'. Never raises: a file that does not parse is searched byte by byte, and
    one too odd to search is taken to carry a position."""
    acc = _Acc("heif")
    try:
        _heif(data, acc, False)
        if "gps" in acc.found:
            return True
        return _HEIF_POSITION.search(data) is not None
    except (MetadataError, IndexError, struct.error):  # as _run: a structure that does not parse
        pass
    try:
        return _tiff_gps_anywhere(data) or _HEIF_POSITION.search(data) is not None
    except MetadataError:
        return True
