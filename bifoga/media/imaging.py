"""Pillow-dependent image helpers: decode checks and lossy re-encoding to fit a size limit.

Pillow is imported lazily inside the functions, so importing this module never fails where
Pillow is absent (the browser may run without it); check :func:`pillow_available` first.
The lossless metadata removal itself lives in :mod:`bifoga.media.metadata` (no Pillow).

CPython only (the server, the tests, and Pyodide in the heavy worker): Pillow and dataclasses;
the light worker's MicroPython never imports it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from bifoga.media.metadata import MetadataError

__all__ = ["ReduceResult", "pillow_available", "reduce_to_fit", "reduction_plan", "verify_decodes"]

_QUALITIES = (90, 85, 80, 75, 70, 65, 60)
_SCALE_STEP = 0.85
_SMALLEST_LONG_SIDE = 64  # below this we give up rather than send a useless picture


@dataclass
class ReduceResult:
    """A re-encoded JPEG without any metadata, already upright."""

    data: bytes
    width: int
    height: int
    mime: str = "image/jpeg"


def pillow_available() -> bool:
    """True when Pillow can be imported here."""
    try:
        import PIL.Image  # noqa: F401
    except ImportError:
        return False
    return True


def _open(data: bytes, reduced: bool = False):
    """Open and fully decode ``data``: (image, its full size); any failure is a MetadataError.

    With ``reduced``, a JPEG decodes at 1/8 scale: every Huffman-coded block is still read (so a
    truncated or corrupt file still fails), only the inverse DCT and colour work is skipped,
    about ten times faster for a phone photo.
    """
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - Pillow is present in CPython
        raise RuntimeError("Pillow is not available") from exc
    try:
        im = Image.open(io.BytesIO(bytes(data)))
        size = im.size  # before draft() scales it
        if reduced and im.format == "JPEG":
            im.draft(im.mode, (max(1, size[0] // 8), max(1, size[1] // 8)))
        im.load()
    except Image.DecompressionBombError as exc:
        raise MetadataError("image is too large to decode") from exc
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, struct.error...
        raise MetadataError("does not decode") from exc
    return im, size


def _orientation(im) -> int:
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # a broken EXIF block must not stop us
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def verify_decodes(data: bytes) -> tuple[int, int]:
    """Decode ``data`` completely; return (width, height) as displayed, i.e. after applying the
    EXIF orientation. Raises MetadataError("does not decode") when it cannot be decoded."""
    im, (width, height) = _open(data, reduced=True)
    if _orientation(im) in (5, 6, 7, 8):
        width, height = height, width
    return width, height


def _upright(im, orientation: int | None):
    """Apply the orientation to the pixels so that the output needs no orientation tag."""
    from PIL import ImageOps

    if orientation is None:
        return ImageOps.exif_transpose(im)
    method = transpose_for(orientation)
    return im.transpose(method) if method is not None else im


def transpose_for(orientation: int):
    """The Image.Transpose that sets a picture of this EXIF orientation upright (as
    ImageOps.exif_transpose does), None for 1 or an unknown value."""
    from PIL import Image

    return {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_270,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_90,
    }.get(orientation)


_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_RGB_MODES = frozenset({"RGB", "RGBA", "RGBa", "RGBX", "P", "PA"})


def _to_jpeg_mode(im):
    """RGB or L pixels for the JPEG encoder; transparency is flattened onto white."""
    from PIL import Image

    mode = im.mode
    if mode in ("RGB", "L"):
        return im
    gray = mode in _GRAY_MODES
    if mode in ("RGBA", "RGBa", "LA", "La", "PA") or (mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat.convert("L") if gray else flat
    if mode.startswith("I") or mode == "F":  # 16-bit (or wider) gray
        wide = im.convert("I") if mode != "F" else im
        high = wide.getextrema()[1]
        scale = 1 / 257 if high > 255 else 1
        return wide.point(lambda v: v * scale).convert("L")
    return im.convert("L" if gray else "RGB")


def _same_space(a: str, b: str) -> bool:
    return (a in _GRAY_MODES and b in _GRAY_MODES) or (a in _RGB_MODES and b in _RGB_MODES)


def _steps(long_side: int, min_long_side: int):
    """Long sides to try: the original, then x0.85 steps down to ``min_long_side`` (which is tried
    exactly), then further x0.85 steps below it (only reached when still too big)."""
    yield long_side
    side = long_side
    floor_tried = long_side <= min_long_side
    while True:
        nxt = int(side * _SCALE_STEP)
        if not floor_tried and nxt < min_long_side:
            nxt = min_long_side
            floor_tried = True
        if nxt < _SMALLEST_LONG_SIDE:
            return
        side = nxt
        yield side


def _encode(frame, quality: int, icc: bytes | None) -> bytes:
    buf = io.BytesIO()
    params = {"quality": quality, "optimize": True}
    if icc:
        params["icc_profile"] = icc
    frame.save(buf, "JPEG", **params)  # no exif=: nothing but pixels (and ICC) is written
    return buf.getvalue()


def _best_quality(frame, max_bytes: int, icc: bytes | None) -> bytes | None:
    """The encoding at the highest quality in _QUALITIES that fits, or None.
    Size grows with quality, so: the best, then the worst, then a binary search between."""
    best = _encode(frame, _QUALITIES[0], icc)
    if len(best) <= max_bytes:
        return best
    worst = _encode(frame, _QUALITIES[-1], icc)
    if len(worst) > max_bytes:
        return None
    fits, lo, hi = worst, 0, len(_QUALITIES) - 1  # _QUALITIES[lo] too big, [hi] fits
    while hi - lo > 1:
        mid = (lo + hi) // 2
        candidate = _encode(frame, _QUALITIES[mid], icc)
        if len(candidate) <= max_bytes:
            fits, hi = candidate, mid
        else:
            lo = mid
    return fits


def reduce_to_fit(
    data: bytes, max_bytes: int, min_long_side: int = 2048, orientation: int | None = None
) -> ReduceResult:
    """Re-encode ``data`` as a JPEG of at most ``max_bytes``, without any metadata.

    The EXIF orientation (or ``orientation`` when given, e.g. taken from the original before the
    metadata was removed) is applied to the pixels, so the output needs no orientation tag. The
    ICC profile is kept when the pixels stay in its colour space. Tries quality 90 down to 60 at
    the original size, then scales down by x0.85 steps while the long side stays
    >= ``min_long_side``, and only goes below it if still too big. Raises MetadataError if the
    input does not decode or cannot be made small enough.
    """
    if max_bytes <= 0:
        raise ValueError("max_bytes must be positive")
    from PIL import Image

    src, _ = _open(data)
    icc = src.info.get("icc_profile")
    im = _upright(src, orientation)
    im = _to_jpeg_mode(im)
    if not _same_space(src.mode, im.mode):
        icc = None  # e.g. CMYK: its profile does not describe the converted pixels
    width, height = im.size
    long_side = max(width, height)
    for side in _steps(long_side, min_long_side):
        if side == long_side:
            frame = im
        else:
            scale = side / long_side
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            frame = im.resize(size, Image.Resampling.LANCZOS)
        found = _best_quality(frame, max_bytes, icc)
        if found is not None:
            return ReduceResult(found, frame.width, frame.height)
    raise MetadataError(f"cannot reduce the image below {max_bytes} bytes")


BROWSER_QUALITIES = (0.9, 0.75, 0.6)


def reduction_plan(width: int, height: int, min_long_side: int = 2048):
    """(scale, quality) pairs to try, best first, for an encoder without Pillow (the browser's
    OffscreenCanvas in the worker): the same long sides as reduce_to_fit, three qualities each."""
    long_side = max(width, height, 1)
    for side in _steps(long_side, min_long_side):
        for quality in BROWSER_QUALITIES:
            yield side / long_side, quality


HEIC_JPEG_QUALITY = 90  # a phone's own JPEG quality: no visible loss, about a third of the bytes


def jpeg_from_rgba(pixels: bytes, width: int, height: int,
                   capture_date: str | None = None) -> bytes:
    """A decoded photo (upright RGBA, as libheif gives an iPhone's HEIC) as a JPEG that every
    browser shows. Nothing but the pixels is written, and with `capture_date`
    ("2026-11-20T09:14:00", bifoga.media.metadata's form) one EXIF DateTimeOriginal: the date the
    user chose to keep with "Behåll fotodatum"."""
    from PIL import Image

    frame = Image.frombytes("RGBA", (width, height), bytes(pixels)).convert("RGB")
    buf = io.BytesIO()
    params: dict = {"quality": HEIC_JPEG_QUALITY, "optimize": True}
    if capture_date:
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0x9003] = capture_date.replace("-", ":").replace("T", " ")[:19]
        params["exif"] = exif.tobytes()
    frame.save(buf, "JPEG", **params)
    return buf.getvalue()
