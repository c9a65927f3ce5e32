"""Defence in depth at finalisation: no location left in images and films, and images decode.

The browser removes the metadata (bifoga.metadata.strip in the worker) and checks that the
picture shows before it uploads anything. The server does not trust that: an old app version,
another client or a bug must not put a patient's position into the chat. Everything here is
synchronous and CPU-bound; the caller runs it in a thread, a few at a time (memory).
"""

from __future__ import annotations

import io

from bifoga.imaging import verify_decodes
from bifoga.metadata import MetadataError, find_location
from server.errors import ApiError, NotAllowedType

# The formats bifoga.metadata reads (and the browser strips losslessly).
METADATA_CHECKED = frozenset({"image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"})
# Pillow cannot decode HEIC/HEIF without a plugin; they travel as file cards, not shown inline.
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


class ImageDoesNotDecode(NotAllowedType):
    code = "image_does_not_decode"
    message = "The file looks like an image but cannot be shown; it may be damaged."


def carries_position(data: bytes) -> bool:
    """True if a JPEG/PNG/WebP/HEIC/HEIF still has a position (bifoga.metadata.find_location:
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


def check_image(data: bytes, mime: str, max_pixels: int) -> None:
    """Raise MetadataNotRemoved or ImageDoesNotDecode, or return if the image may be stored."""
    if mime in METADATA_CHECKED and carries_position(data):
        raise MetadataNotRemoved()
    if mime in NOT_DECODED:
        return
    check_pixel_count(data, max_pixels)
    try:
        verify_decodes(data)
    except MetadataError:
        raise ImageDoesNotDecode() from None
