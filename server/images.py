"""Defence in depth for images at finalisation: no location left in them, and they decode.

The browser removes the metadata (bifoga.metadata.strip in the worker) and checks that the
picture shows before it uploads anything. The server does not trust that: an old app version,
another client or a bug must not put a patient's position into the chat. Everything here is
synchronous and CPU-bound; the caller runs it in a thread, a few at a time (memory).
"""

from __future__ import annotations

import io
import re

from bifoga.imaging import verify_decodes
from bifoga.metadata import MetadataError, inspect
from server.errors import ApiError, NotAllowedType

# The formats bifoga.metadata reads (and the browser strips losslessly).
METADATA_CHECKED = frozenset({"image/jpeg", "image/png", "image/webp"})
# Pillow cannot decode HEIC/HEIF without a plugin; they travel as file cards, not shown inline.
NOT_DECODED = frozenset({"image/heic", "image/heif"})
# bifoga.metadata files XMP under "xmp", also when it holds exif:GPSLatitude/GPSLongitude. The
# browser drops every XMP packet, so a position in one is as much a failure as a GPS IFD.
_XMP_POSITION = re.compile(rb"GPS(?:Latitude|Longitude)\b")


class MetadataNotRemoved(ApiError):
    # 422: the type is allowed and the file is well formed; what it carries is not acceptable.
    status, code = 422, "metadata_not_removed"
    message = ("The image still carries location data (GPS). Bifoga removes it before "
               "sending; update the app and try again.")


class ImageDoesNotDecode(NotAllowedType):
    code = "image_does_not_decode"
    message = "The file looks like an image but cannot be shown; it may be damaged."


def carries_position(data: bytes) -> bool:
    """True if a JPEG/PNG/WebP still has a GPS IFD (or a position in XMP).

    Raises ImageDoesNotDecode for a structurally broken file (which the browser refuses too)."""
    try:
        found = inspect(data).found
    except MetadataError:
        raise ImageDoesNotDecode() from None
    return "gps" in found or ("xmp" in found and _XMP_POSITION.search(data) is not None)


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
