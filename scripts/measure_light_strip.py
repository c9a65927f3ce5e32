"""How long bifoga.metadata.strip_source takes under MicroPython (the light worker's
interpreter, run in node) on a 3 MB phone-like JPEG, and how much of the file it reads.

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

from bifoga import metadata
from bifoga.source import BytesSource
from tests.micropython_runner import REPO, run_micropython

MODULES = ("__init__.py", "source.py", "metadata.py", "meta_common.py", "exif.py",
           "jpeg_meta.py", "png_meta.py", "webp_meta.py", "gif_meta.py")
TARGET = 3_000_000

_PROGRAM = """
import sys, time
sys.path.append('/')
from bifoga.source import BytesSource
from bifoga.metadata import strip_source

class CountingSource(BytesSource):
    reads = 0
    bytes_read = 0
    def read(self, offset, length):
        got = self.data[offset:offset + length]
        self.reads += 1
        self.bytes_read += len(got)
        return got

data = open('/photo.jpg', 'rb').read()
for keep in (False, True):
    source = CountingSource(data)
    start = time.ticks_ms()
    result = strip_source(source, keep)
    ms = time.ticks_diff(time.ticks_ms(), start)
    print(keep, ms, source.reads, source.bytes_read, result.plan.size, len(result.plan.pieces),
          result.removed)
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


def main() -> None:
    data = phone_jpeg()
    print("photo: %d bytes" % len(data))
    start = time.perf_counter()
    metadata.strip_source(BytesSource(data))
    print("CPython strip_source: %.1f ms" % ((time.perf_counter() - start) * 1000))
    files = {"/bifoga/" + n: (REPO / "bifoga" / n).read_text(encoding="utf-8") for n in MODULES}
    out = run_micropython(_PROGRAM, files, timeout=300, binary_files={"/photo.jpg": data})
    print("MicroPython (keep_date, ms, reads, bytes read, plan size, pieces, removed):")
    print(out)


if __name__ == "__main__":
    main()
