"""Defence in depth at finalisation: no location left in images and films, and images decode.

The browser removes the metadata (bifoga.media.metadata.strip in the worker) and checks that the
picture shows before it uploads anything. The server does not trust that: an old app version,
another client or a bug must not put a patient's position into the chat. Everything here is
synchronous and CPU-bound; the caller runs it in a thread, a few at a time (memory).
"""

from __future__ import annotations

import io
import re

from bifoga.media.imaging import verify_decodes
from bifoga.media.metadata import MetadataError, find_location
from server.errors import ApiError, NotAllowedType

# The formats bifoga.media.metadata reads (and the browser strips losslessly).
METADATA_CHECKED = frozenset({"image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"})
# Pillow cannot decode HEIC/HEIF: libheif does, through pillow-heif (server.inspection.heic).
NOT_DECODED = frozenset({"image/heic", "image/heif"})


class MetadataNotRemoved(ApiError):
    # 422: the type is allowed and the file is well formed; what it carries is not acceptable.
    status, code = 422, "metadata_not_removed"
    message = ("The image still carries location data (GPS). Bifoga removes it before "
               "sending; update the app and try again.")


FILM_LOCATION_MESSAGE = ("The film still carries location data. Bifoga removes it before "
                         "sending; update the app and try again.")


class FilmNotChecked(NotAllowedType):
    message = "The film's structure could not be checked; it may be damaged."


# Scan bombs: a progressive JPEG may repeat a scan that covers every block with end-of-band
# runs in ~30-130 bytes; libjpeg only warns, and each repeat costs a pass over the whole
# picture (201 scans of 9456x9456: 3.7 s; 10 MiB holds ~81,000). Encoders write 1 (baseline)
# to about 10 (libjpeg's progression, colour) or a few more (mozjpeg, CMYK): 32 is generous.
MAX_JPEG_SCANS = 32
# A picture of more pixels, or of more pixels x scans, is checked in a lane of its own (see
# precheck): an ordinary photo, up to 24 MP with up to 10 scans, never waits behind one.
HEAVY_PIXELS = 24_000_000
HEAVY_DECODE_WEIGHT = HEAVY_PIXELS * 10
# What follows an 0xFF inside entropy-coded data: 00 (a stuffed FF), more FF (fill) and the
# restart markers D0-D7 are part of the scan; anything else is the next marker. (No "+" after
# the first FF: over a long run of FFs that would backtrack quadratically.)
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
# Segments (and fill bytes) walked at most: a real JPEG has a few dozen. 10 MB of empty APP
# segments would otherwise be 2.5 million steps in Python.
MAX_JPEG_STEPS = 2000
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})


class ImageDoesNotDecode(NotAllowedType):
    code = "image_does_not_decode"
    message = "The file looks like an image but cannot be shown; it may be damaged."


def carries_position(data: bytes) -> bool:
    """True if a JPEG/PNG/WebP/HEIC/HEIF still has a position (bifoga.media.metadata.find_location:
    a GPS IFD, GPS fields in XMP, in a PNG text chunk compressed or not, in a HEIF item).

    Raises ImageDoesNotDecode for a structurally broken file (which the browser refuses too)."""
    try:
        return find_location(data)
    except MetadataError:
        raise ImageDoesNotDecode() from None


def check_film(data: bytes) -> None:
    """Raise MetadataNotRemoved if an MP4/MOV/3GP/WebM film still carries a position ('udta'
    '\u00a9xyz' or 'loci', a QuickTime location key, XMP, Matroska location tags), or
    FilmNotChecked if its structure cannot be walked (the browser could not strip it either)."""
    try:
        found = find_location(data)
    except MetadataError:
        raise FilmNotChecked() from None
    if found:
        raise MetadataNotRemoved(FILM_LOCATION_MESSAGE)


def check_pixel_count(data: bytes, max_pixels: int) -> None:
    """Refuse before decoding a picture whose header promises more than `max_pixels` pixels.

    A 10 MB PNG of one colour can claim gigapixels; Pillow's own guard only raises at twice
    Image.MAX_IMAGE_PIXELS and merely warns below that."""
    from PIL import Image

    too_large = ImageDoesNotDecode(
        f"The image is too large to check: at most {max_pixels / 1e6:.3g} megapixels.")
    try:
        with Image.open(io.BytesIO(data)) as im:  # reads the header only
            width, height = im.size
    except Image.DecompressionBombError:
        raise too_large from None
    except Exception:  # Pillow raises OSError, SyntaxError, ValueError, struct.error...
        raise ImageDoesNotDecode() from None
    if width * height > max_pixels:
        raise too_large


def jpeg_scan_count(data: bytes, stop_after: int = MAX_JPEG_SCANS + 1) -> int:
    """How many SOS segments (scans) the first picture of a JPEG has, counted without
    decoding: segment lengths are skipped, entropy-coded data is searched in C (a regular
    expression). Stops at EOI (what follows, e.g. MPF previews, is another picture) or
    after `stop_after` scans; more than MAX_JPEG_STEPS segments count as `stop_after`."""
    scans, i, n, steps = 0, 2, len(data), 0
    while i + 4 <= n and scans < stop_after:
        steps += 1
        if steps > MAX_JPEG_STEPS:
            return stop_after
        if data[i] != 0xFF:
            break  # not a marker where one must be: the decoder will refuse the file
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte before a marker
            i += 1
            continue
        if marker == 0xD9:
            break
        if marker in _STANDALONE:
            i += 2
            continue
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
        if marker == 0xDA:
            scans += 1
            found = _NEXT_MARKER.search(data, i)
            if found is None:
                break
            i = found.start()
    return scans


def check_scan_count(data: bytes, mime: str) -> int:
    """Refuse a JPEG with more scans than any encoder writes (a scan bomb); return its scan
    count (1 for other types). Cheap: run it before waiting for a decode slot."""
    if mime != "image/jpeg":
        return 1
    scans = jpeg_scan_count(data)
    if scans > MAX_JPEG_SCANS:
        raise ImageDoesNotDecode(
            f"The picture has more than {MAX_JPEG_SCANS} scans (or more segments than any "
            "camera writes).")
    return max(scans, 1)


def precheck(data: bytes, mime: str, max_pixels: int) -> bool:
    """Refuse what must not be decoded at all (a scan bomb, too many pixels), from the headers
    only; return True when decoding it is heavy (over HEAVY_PIXELS, or over
    HEAVY_DECODE_WEIGHT in pixels x scans), so the caller checks it in the heavy lane."""
    if mime in NOT_DECODED:
        from server.inspection.heic import HeicRefused, heic_size

        try:
            width, height = heic_size(data)
        except HeicRefused as exc:
            raise ImageDoesNotDecode(str(exc)) from None
        if width * height > max_pixels:
            raise ImageDoesNotDecode(f"The image is too large to check: at most "
                                     f"{max_pixels / 1e6:.3g} megapixels.")
        return width * height > HEAVY_PIXELS
    scans = check_scan_count(data, mime)
    from PIL import Image

    check_pixel_count(data, max_pixels)
    with Image.open(io.BytesIO(data)) as im:
        width, height = im.size
    pixels = width * height
    return pixels > HEAVY_PIXELS or pixels * scans > HEAVY_DECODE_WEIGHT


def check_image(data: bytes, mime: str, max_pixels: int) -> None:
    """Raise MetadataNotRemoved or ImageDoesNotDecode, or return if the image may be stored."""
    if mime in METADATA_CHECKED and carries_position(data):
        raise MetadataNotRemoved()
    if mime in NOT_DECODED:
        return
    check_scan_count(data, mime)
    check_pixel_count(data, max_pixels)
    try:
        verify_decodes(data)
    except MetadataError:
        raise ImageDoesNotDecode() from None
