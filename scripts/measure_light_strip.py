"""How long bifoga.media.metadata.strip_source takes under MicroPython (the light worker's
interpreter, run in node) on a 3 MB phone-like JPEG (and PNG, WebP and GIF files of noise of
about the same size), and how much of each file it reads.

    .venv/bin/python -m scripts.measure_light_strip

The Source's read() slices bytes already in memory and counts the reads, so the time is the
parser's alone (in the browser each read is a Blob.slice round trip on top).
"""

from __future__ import annotations

import io
import random
import time

import piexif
from PIL import Image, ImageCms

from bifoga.media import metadata
from bifoga.media.source import BytesSource
from tests.micropython_runner import repo_files, run_micropython

MODULES = ("source", "metadata", "meta_common", "meta_error", "exif", "jpeg_meta", "png_meta",
           "webp_meta", "gif_meta")
TARGET = 3_000_000

_PROGRAM = """
import sys, time
sys.path.append('/')
from bifoga.media.source import BytesSource
from bifoga.media.metadata import strip_source

class CountingSource(BytesSource):
    reads = 0
    bytes_read = 0
    def read(self, offset, length):
        got = self.data[offset:offset + length]
        self.reads += 1
        self.bytes_read += len(got)
        return got

for name in NAMES:
    data = open('/' + name, 'rb').read()
    for keep in (False, True):
        source = CountingSource(data)
        start = time.ticks_ms()
        result = strip_source(source, keep)
        ms = time.ticks_diff(time.ticks_ms(), start)
        print(name, len(data), keep, ms, source.reads, source.bytes_read, result.plan.size,
              len(result.plan.pieces), result.removed)
"""


def phone_jpeg() -> bytes:
    """About 3 MB: 4000x3000 noise over a gradient at quality 90, EXIF with GPS, an ICC profile."""
    rng = random.Random(3)
    w, h = 4000, 3000
    gradient = Image.linear_gradient("L").resize((w, h))
    noise = Image.frombytes("L", (w, h), rng.randbytes(w * h))
    exif = piexif.dump({
        "0th": {piexif.ImageIFD.Make: b"AcmePhone", piexif.ImageIFD.Orientation: 6},
        "Exif": {piexif.ExifIFD.DateTimeOriginal: b"2025:03:14 15:09:26"},
        "GPS": {piexif.GPSIFD.GPSLatitudeRef: b"N",
                piexif.GPSIFD.GPSLatitude: ((59, 1), (20, 1), (1, 1))},
    })
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    best = b""
    for strength in (0.1, 0.11, 0.12, 0.13, 0.14, 0.15, 0.16):
        picture = Image.merge("RGB", (gradient, Image.blend(gradient, noise, strength), gradient))
        buf = io.BytesIO()
        picture.save(buf, "JPEG", quality=90, exif=exif, icc_profile=icc)
        if len(best) < buf.tell() <= TARGET:
            best = buf.getvalue()
    return best


def noise_images() -> dict[str, bytes]:
    """PNG, WebP and GIF of noise, each about 3 MB, with metadata to drop."""
    rng = random.Random(4)
    out = {}
    rgb = Image.frombytes("RGB", (1000, 1000), rng.randbytes(3_000_000))
    buf = io.BytesIO()
    rgb.save(buf, "PNG", pnginfo=_png_text())
    out["noise.png"] = buf.getvalue()
    buf = io.BytesIO()
    Image.frombytes("RGB", (1900, 1900), rng.randbytes(1900 * 1900 * 3)).save(
        buf, "WEBP", quality=90, exif=piexif.dump({"0th": {piexif.ImageIFD.Orientation: 6}}))
    out["noise.webp"] = buf.getvalue()
    buf = io.BytesIO()
    Image.frombytes("P", (1800, 1800), rng.randbytes(1800 * 1800)).save(
        buf, "GIF", comment=b"taken at home")
    out["noise.gif"] = buf.getvalue()
    return out


def _png_text():
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "taken at home")
    return info


def main() -> None:
    images = {"photo.jpg": phone_jpeg(), **noise_images()}
    for name, data in images.items():
        start = time.perf_counter()
        metadata.strip_source(BytesSource(data))
        print("CPython strip_source %s (%d bytes): %.1f ms" % (
            name, len(data), (time.perf_counter() - start) * 1000))
    files = repo_files(*("bifoga.media." + n for n in MODULES))
    code = "NAMES = %r\n" % sorted(images) + _PROGRAM
    out = run_micropython(code, files, timeout=300,
                          binary_files={"/" + n: d for n, d in images.items()})
    print("MicroPython (file, size, keep_date, ms, reads, bytes read, plan size, pieces, removed):")
    print(out)


if __name__ == "__main__":
    main()
