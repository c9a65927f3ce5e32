"""HEIC/HEIF decoded on the server with libheif (pillow-heif), within explicit limits.

Runs under CPython only. libheif keeps its own security limits on (at most 32768 x 32768
pixels, bounded boxes and memory: a 60000 px 'ispe' is refused before any allocation); the
pixel cap of the settings applies as for JPEG/PNG/WebP. Only the primary picture is decoded:
thumbnails, depth and auxiliary pictures are not read.
"""

from __future__ import annotations

import io
import zlib

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


# A metadata item is inflated to at most this much (a compressed bomb is refused).
MAX_METADATA_BYTES = 4 * 1024 * 1024


def metadata_items(data: bytes) -> list[bytes]:
    """The Exif and XMP items of every top-level picture, as libheif hands them over, and
    inflated when an item is stored compressed ('deflate' content encoding): ExifTool does
    not inflate those itself. Raises HeicRefused when the file cannot be opened."""
    try:
        heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
        blobs: list[bytes] = []
        for picture in heif:
            info = picture.info
            for key in ("exif", "xmp"):
                if info.get(key):
                    blobs.append(bytes(info[key]))
            for item in info.get("metadata") or []:
                if item.get("data"):
                    blobs.append(bytes(item["data"]))
    except Exception as exc:
        raise HeicRefused(_why(exc)) from None
    return [_inflated(b) for b in blobs]


def _inflated(blob: bytes) -> bytes:
    for wbits in (zlib.MAX_WBITS, -zlib.MAX_WBITS, zlib.MAX_WBITS | 16):
        inflater = zlib.decompressobj(wbits)
        try:
            out = inflater.decompress(blob, MAX_METADATA_BYTES + 1)
        except zlib.error:
            continue
        if len(out) > MAX_METADATA_BYTES:
            raise HeicRefused("A metadata item of the HEIC picture inflates past "
                              f"{MAX_METADATA_BYTES // (1024 * 1024)} MiB.")
        if inflater.eof:
            return out
    return blob
