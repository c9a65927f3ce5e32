"""The real media the tests send, made here the way phones and programs make them.

The project stands alone: a fresh clone has nothing beside it, so nothing is read from outside the
repository. `media_dir()` makes each file once per test process, into a temporary folder:

- photo_gps.jpg: a 1600×1200 phone photo (Pillow, quality 95: about 1.7 MB, as a phone writes)
  whose big-endian EXIF carries what a Pixel 8 writes: Make "Google", Model "Pixel 8",
  Orientation 6 (rotated 90° clockwise), DateTimeOriginal 2026:11:20 09:14:00 and a GPS position
  of 59° 19' 48" N, 18° 3' 36" E.
- clip.mp4: a 2 s H.264 film with an AAC sound track (ffmpeg, moov after the media, as ffmpeg
  writes it by default).
- tone.mp3: a 2 s MP3 with an ID3v2 tag (ffmpeg + LAME): audio, must be refused.
- document.pdf: a one-page PDF of 20,000 bytes (tests/live_server.make_pdf).

ffmpeg comes from Debian (`make test` installs it); Pillow and piexif from requirements-dev.txt.
"""

from __future__ import annotations

import atexit
import io
import random
import shutil
import subprocess
import tempfile
from pathlib import Path

import piexif
from PIL import Image

from tests.live_server import make_pdf

NAMES = ("photo_gps.jpg", "clip.mp4", "document.pdf", "tone.mp3")

PHOTO_SIZE = (1600, 1200)
PHOTO_MAKE, PHOTO_MODEL = "Google", "Pixel 8"
PHOTO_TAKEN = "2026:11:20 09:14:00"
PHOTO_LAT = ((59, 1), (19, 1), (48, 1))
PHOTO_LON = ((18, 1), (3, 1), (36, 1))

_made: Path | None = None


def media_dir() -> Path:
    """The folder with every file of NAMES, made on first use and removed when the process ends."""
    global _made
    if _made is None:
        folder = Path(tempfile.mkdtemp(prefix="bifoga-media-"))
        atexit.register(shutil.rmtree, folder, True)
        (folder / "photo_gps.jpg").write_bytes(phone_photo())
        (folder / "document.pdf").write_bytes(make_pdf(20_000, seed=20))
        _ffmpeg(folder / "clip.mp4", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=15",
                "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", "2",
                "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "veryfast",
                "-c:a", "aac", "-ac", "1", "-b:a", "64k", "-shortest")
        _ffmpeg(folder / "tone.mp3", "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
                "-c:a", "libmp3lame", "-b:a", "64k")
        _made = folder
    return _made


def media_path(name: str) -> Path:
    return media_dir() / name


def _ffmpeg(out: Path, *args: str) -> None:
    if shutil.which("ffmpeg") is None:
        raise RuntimeError("ffmpeg is missing: `make test` installs Debian's ffmpeg")
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args, str(out)],
                   check=True, stdin=subprocess.DEVNULL)


def phone_photo() -> bytes:
    """A photo with structure and sensor-like noise, so that it compresses like a real one."""
    w, h = PHOTO_SIZE
    rng = random.Random(20261120)
    gradient = Image.linear_gradient("L").resize((w, h))
    noise = Image.frombytes("L", (w, h), rng.randbytes(w * h))
    picture = Image.merge("RGB", (
        gradient,
        Image.blend(noise, gradient.transpose(Image.Transpose.ROTATE_90).resize((w, h)), 0.6),
        noise,
    ))
    exif = piexif.dump({
        "0th": {
            piexif.ImageIFD.Make: PHOTO_MAKE.encode(),
            piexif.ImageIFD.Model: PHOTO_MODEL.encode(),
            piexif.ImageIFD.Orientation: 6,
            piexif.ImageIFD.XResolution: (1, 1),
            piexif.ImageIFD.YResolution: (1, 1),
            piexif.ImageIFD.ResolutionUnit: 1,
            piexif.ImageIFD.YCbCrPositioning: 1,
        },
        "Exif": {
            piexif.ExifIFD.ExifVersion: b"0232",
            piexif.ExifIFD.DateTimeOriginal: PHOTO_TAKEN.encode(),
            piexif.ExifIFD.ComponentsConfiguration: b"\x01\x02\x03\x00",
            piexif.ExifIFD.FlashpixVersion: b"0100",
            piexif.ExifIFD.ColorSpace: 65535,
        },
        "GPS": {
            piexif.GPSIFD.GPSVersionID: (2, 3, 0, 0),
            piexif.GPSIFD.GPSLatitudeRef: b"N",
            piexif.GPSIFD.GPSLatitude: PHOTO_LAT,
            piexif.GPSIFD.GPSLongitudeRef: b"E",
            piexif.GPSIFD.GPSLongitude: PHOTO_LON,
        },
    })
    buf = io.BytesIO()
    picture.save(buf, "JPEG", quality=95, exif=exif)
    return buf.getvalue()
