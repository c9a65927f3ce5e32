"""Films made the way phones make them (ffmpeg, exiftool), shared by the film tests.

`films` is a session fixture: name -> bytes. Every film carries a position somewhere Bifoga
removes one from; most also carry device identity, software and dates.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ISO6709 = "+60.6749+017.1413+012.000/"
_SOURCES = ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=15", "-f", "lavfi", "-i",
            "sine=frequency=440:sample_rate=22050", "-t", "1"]
_H264_AAC = ["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac"]
_DEVICE = ["-metadata", "make=samsung", "-metadata", "model=SM-G991B",
           "-metadata", "creation_time=2024-05-01T10:34:56Z"]

# name: (ffmpeg arguments after the inputs, exiftool arguments or None)
FILMS: dict[str, tuple[list[str], list[str] | None]] = {
    # iPhone: moov/udta/meta with 'keys' (mdta) + 'ilst': location, make, model, software, date.
    "iphone.mov": ([*_H264_AAC, "-movflags", "use_metadata_tags",
                    "-metadata", f"com.apple.quicktime.location.ISO6709={ISO6709}",
                    "-metadata", "com.apple.quicktime.make=Apple",
                    "-metadata", "com.apple.quicktime.model=iPhone 15",
                    "-metadata", "com.apple.quicktime.software=17.1.1",
                    "-metadata", "com.apple.quicktime.creationdate=2024-05-01T12:34:56+0200",
                    "-metadata", "creation_time=2024-05-01T10:34:56Z"], None),
    # Android: 'udta' '\u00a9xyz', '\u00a9mak', '\u00a9mod' (exiftool) beside ffmpeg's 3GPP 'loci'.
    "android.mp4": ([*_H264_AAC, "-metadata", "location=+60.6749+017.1413/", *_DEVICE],
                    ["-UserData:GPSCoordinates=60.6749 N, 17.1413 E",
                     "-UserData:Make=samsung", "-UserData:Model=SM-G991B"]),
    # QuickTime 'udta' written by ffmpeg: '\u00a9xyz', '\u00a9mak', '\u00a9mod', '\u00a9swr'.
    "udta.mov": ([*_H264_AAC, "-f", "mov", "-metadata", "location=+60.6749+017.1413/",
                  *_DEVICE], None),
    # 3GPP 'loci' only.
    "loci.3gp": ([*_H264_AAC, "-f", "3gp", "-metadata", "location=+60.6749+017.1413/"], None),
    # Only XMP carries the position: 'uuid' XMP box in an MP4, 'XMP_' in a QuickTime 'udta'.
    "xmp.mp4": (_H264_AAC, ["-XMP-exif:GPSLatitude=60.6749", "-XMP-exif:GPSLongitude=17.1413",
                            "-XMP-tiff:Make=samsung"]),
    "xmp.mov": ([*_H264_AAC, "-f", "mov"], ["-XMP-exif:GPSLatitude=60.6749",
                                             "-XMP-exif:GPSLongitude=17.1413"]),
    # WebM tags (Matroska SimpleTags): location, device, a comment naming the device, a date.
    "tags.webm": (["-c:v", "libvpx", "-deadline", "realtime", "-c:a", "libopus",
                   "-metadata", "location=+60.6749+017.1413/", "-metadata",
                   "RECORDING_LOCATION=Gävle", "-metadata", "comment=Samsung SM-G991B",
                   "-metadata", "DATE_RECORDED=2024-05-01", *_DEVICE], None),
}
TOOLS = ("ffmpeg", "exiftool")


def run(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(args, check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def films(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    if not all(shutil.which(t) for t in TOOLS):
        pytest.skip("ffmpeg and exiftool are needed (make chromium installs them)")
    folder = tmp_path_factory.mktemp("films")
    made = {}
    for name, (args, exiftool) in FILMS.items():
        path = folder / name
        run("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *_SOURCES, *args,
            str(path))
        if exiftool:
            run("exiftool", "-q", "-overwrite_original", *exiftool, str(path))
        made[name] = path.read_bytes()
    return made


def exiftool_tags(*paths: Path) -> list[dict[str, object]]:
    """exiftool's tags of each file, every group and duplicate included."""
    return json.loads(run("exiftool", "-j", "-G1", "-a", *map(str, paths)).stdout)


def sample_md5(path: Path) -> str:
    """The MD5 of every audio and video packet, as ffmpeg copies them out of the container."""
    out = run("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-i", str(path),
              "-map", "0:v", "-map", "0:a", "-c", "copy", "-f", "md5", "-").stdout
    return out.decode().strip()
