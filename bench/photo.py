"""The benchmark's phone photos: 4000x3000 JPEGs of noise with EXIF GPS, one just under 9.5 MiB
(the upload) and one of 1.7 MB (picked the moment the paperclip works), and a PDF.

Noise compresses badly, like the fine detail of a real 12 MP phone photo. The noise strength is
searched so that Pillow's encoder at quality 92 lands just below the target, then comment (COM)
segments pad it to the exact size. Made once and cached under bench/results/.
"""

from __future__ import annotations

import io
from pathlib import Path

import piexif
from PIL import Image

WIDTH, HEIGHT = 4000, 3000
QUALITY = 92
TARGET_BYTES = 9_961_472  # 9.5 MiB ("MB" as the app counts its 10 MB limit), < 10,485,760
PHONE_BYTES = 1_782_579  # 1.7 MiB: a phone photo of a rash or a wound, picked at once
PDF_BYTES = 300 * 1024  # a referral letter
MAX_BYTES = 10 * 1024 * 1024
_COM_MAX = 65_533  # payload of one COM segment


def _exif() -> bytes:
    zeroth = {
        piexif.ImageIFD.Make: b"AcmePhone",
        piexif.ImageIFD.Model: b"AcmePhone X9 Pro",
        piexif.ImageIFD.Orientation: 1,
        piexif.ImageIFD.Software: b"bench",
    }
    exif = {
        piexif.ExifIFD.DateTimeOriginal: b"2025:03:14 15:09:26",
        piexif.ExifIFD.PixelXDimension: WIDTH,
        piexif.ExifIFD.PixelYDimension: HEIGHT,
    }
    gps = {
        piexif.GPSIFD.GPSLatitudeRef: b"N",
        piexif.GPSIFD.GPSLatitude: ((59, 1), (20, 1), (123457, 10000)),
        piexif.GPSIFD.GPSLongitudeRef: b"E",
        piexif.GPSIFD.GPSLongitude: ((18, 1), (4, 1), (765431, 10000)),
        piexif.GPSIFD.GPSAltitudeRef: 0,
        piexif.GPSIFD.GPSAltitude: (28, 1),
    }
    return piexif.dump({"0th": zeroth, "Exif": exif, "GPS": gps, "1st": {}, "thumbnail": None})


def _encode(sigma: float) -> bytes:
    # Gray gradients plus per-channel Gaussian noise of strength sigma.
    channels = []
    for i, band in enumerate("RGB"):
        noise = Image.effect_noise((WIDTH, HEIGHT), sigma)
        base = Image.linear_gradient("L").resize((WIDTH, HEIGHT))
        if i == 1:
            base = base.rotate(90)
        channels.append(Image.blend(base, noise, 0.75).convert("L"))
        del band
    buf = io.BytesIO()
    Image.merge("RGB", channels).save(buf, "JPEG", quality=QUALITY, exif=_exif())
    return buf.getvalue()


def _pad(jpeg: bytes, target: int) -> bytes:
    """Insert COM segments after the leading APPn segments (JFIF, EXIF) up to `target` bytes."""
    assert jpeg[:2] == b"\xff\xd8"
    app_end = 2
    while jpeg[app_end] == 0xFF and 0xE0 <= jpeg[app_end + 1] <= 0xEF:
        app_end += 2 + int.from_bytes(jpeg[app_end + 2:app_end + 4], "big")
    missing = target - len(jpeg)
    segments = []
    while missing > 0:
        payload = max(0, min(_COM_MAX, missing - 4))
        if missing - (payload + 4) in (1, 2, 3):  # never leave a remainder too small for a segment
            payload -= 4
        segments.append(b"\xff\xfe" + (payload + 2).to_bytes(2, "big") + b"\x00" * payload)
        missing -= payload + 4
    out = jpeg[:app_end] + b"".join(segments) + jpeg[app_end:]
    assert len(out) == target, (len(out), target)
    return out


def make_photo(path: Path, target: int = TARGET_BYTES) -> Path:
    """Write the photo to `path` unless a file of the right size is already there."""
    if path.exists() and path.stat().st_size == target:
        return path
    lo, hi = 0.0, 96.0
    best = None
    for _ in range(12):
        sigma = (lo + hi) / 2
        data = _encode(sigma)
        if len(data) <= target:
            best, lo = data, sigma
            if target - len(data) < 32 * 1024:
                break
        else:
            hi = sigma
    if best is None:
        raise RuntimeError("could not make a noise JPEG small enough")
    data = _pad(best, target)
    assert len(data) < MAX_BYTES or target > MAX_BYTES  # the oversized one is meant to be
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def make_pdf(path: Path, size: int = PDF_BYTES) -> Path:
    """A well-formed one-page PDF of exactly `size` bytes, cached like the photos."""
    from tests.live_server import make_pdf as pdf_of

    if not (path.exists() and path.stat().st_size == size):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pdf_of(size))
    return path


HEIC_QUALITY = 35  # heif-enc's -q: a 12 MP picture of this noise lands at about 2.3 MB
HEIC_SIGMA = 24.0  # the noise's strength, as in the JPEGs (fine detail of a phone photo)
HEIC_RANGE = (1_500_000, 3_000_000)  # an iPhone's 12 MP HEIC


def make_heic(path: Path) -> Path:
    """A 4000x3000 HEIC with EXIF GPS, as an iPhone saves a photo, made by libheif's heif-enc
    (Debian's libheif-examples, as the tests use) from a noise JPEG; cached like the photos."""
    import shutil
    import subprocess
    import tempfile

    if path.exists() and HEIC_RANGE[0] <= path.stat().st_size <= HEIC_RANGE[1]:
        return path
    if not shutil.which("heif-enc"):
        raise RuntimeError("heif-enc is missing: apt-get install libheif-examples")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "in.jpg"
        source.write_bytes(_encode(HEIC_SIGMA))  # heif-enc copies the JPEG's EXIF (GPS)
        subprocess.run(["heif-enc", "-q", str(HEIC_QUALITY), "-p", "preset=ultrafast",
                        "-o", str(path), str(source)], check=True, capture_output=True,
                       timeout=600)
    size = path.stat().st_size
    if not HEIC_RANGE[0] <= size <= HEIC_RANGE[1]:
        raise RuntimeError(f"the HEIC is {size:,} bytes, outside {HEIC_RANGE}")
    return path
