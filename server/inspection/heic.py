"""HEIC/HEIF decoded on the server with libheif (pillow-heif), within explicit limits.

Runs under CPython only. libheif keeps its own security limits on (at most 32768 x 32768
pixels, bounded boxes and memory: a 60000 px 'ispe' is refused before any allocation); the
pixel cap of the settings applies as for JPEG/PNG/WebP. Only the primary picture is decoded:
thumbnails, depth and auxiliary pictures are not read.
"""

from __future__ import annotations

import io

import pillow_heif

pillow_heif.options.DISABLE_SECURITY_LIMITS = False
pillow_heif.options.THUMBNAILS = False
pillow_heif.options.DEPTH_IMAGES = False
pillow_heif.options.AUX_IMAGES = False
# Two cores serve every visit: one decoding thread per check (the lanes bound how many run).
pillow_heif.options.DECODE_THREADS = 1


class HeicRefused(ValueError):
    """The HEIC/HEIF cannot be decoded, or is larger than allowed; the text says why."""


def heic_size(data: bytes) -> tuple[int, int]:
    """The primary picture's size from the headers (no decoding)."""
    try:
        heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
        return heif.size
    except Exception as exc:  # libheif raises ValueError, RuntimeError, SyntaxError...
        raise HeicRefused(_why(exc)) from None


def decode_heic(data: bytes, max_pixels: int) -> tuple[int, int]:
    """Decode the primary picture; return its size. Raises HeicRefused."""
    width, height = heic_size(data)
    if width * height > max_pixels:
        raise HeicRefused(f"The image is too large to check: at most {max_pixels / 1e6:.3g} "
                          "megapixels.")
    try:
        heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
        primary = heif[heif.primary_index]
        decoded = primary.data  # decodes
        if len(decoded) < primary.stride * height:
            raise HeicRefused("The picture's data is shorter than its size.")
    except HeicRefused:
        raise
    except Exception as exc:
        raise HeicRefused(_why(exc)) from None
    return width, height


def _why(exc: Exception) -> str:
    text = str(exc)
    if "Security limit" in text or "exceeds the maximum" in text:
        return ("The HEIC picture declares a size or structure beyond the decoder's limits "
                "(at most 32768 x 32768 pixels).")
    return "The file looks like a HEIC picture but cannot be shown; it may be damaged."
