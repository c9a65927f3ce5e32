"""Films made the way phones make them (ffmpeg, exiftool), shared by the film tests.

`films` is a session fixture: name -> bytes. Every film of FILMS and MADE carries a position
somewhere Bifoga removes one from; most also carry device identity, software and dates. MADE
adds what ffmpeg cannot write: timed-metadata tracks (GoPro GPMF, camm, a text track), built
box by box around an ffmpeg film, and brands that name a picture format.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from collections.abc import Callable
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


# --- tracks a phone or an action camera adds beside video and sound --------------------------


def _box(btype: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return (8 + len(body)).to_bytes(4, "big") + btype + body


def _full(btype: bytes, *payload: bytes, flags: int = 0) -> bytes:
    return _box(btype, flags.to_bytes(4, "big"), *payload)


def top_boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    """(type, start, end) of each top-level box (32-bit sizes, as ffmpeg writes small films)."""
    out, pos = [], 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos:pos + 4], "big")
        out.append((data[pos + 4:pos + 8], pos, pos + size))
        pos += size
    return out


def _trak(track_id: int, handler: bytes, entry: bytes, sizes: list[int],
          offsets: list[int]) -> bytes:
    """A track of one sample per chunk, a second each (timescale 1000)."""
    n = len(sizes)
    u32 = struct.Struct(">I").pack
    tkhd = _full(b"tkhd", u32(0), u32(0), u32(track_id), u32(0), u32(1000 * n), bytes(8),
                 bytes(8), bytes.fromhex("00010000" + "00" * 12 + "00010000" + "00" * 12
                                         + "40000000"), bytes(8), flags=3)
    mdhd = _full(b"mdhd", u32(0), u32(0), u32(1000), u32(1000 * n), b"\x55\xc4\x00\x00")
    hdlr = _full(b"hdlr", u32(0), handler, bytes(12), b"CameraMetadata\x00")
    dinf = _box(b"dinf", _full(b"dref", u32(1), _full(b"url ", flags=1)))
    stbl = _box(b"stbl", _full(b"stsd", u32(1), _box(entry, bytes(6), b"\x00\x01")),
                _full(b"stts", u32(1), u32(n), u32(1000)),
                _full(b"stsc", u32(1), u32(1), u32(1), u32(1)),
                _full(b"stsz", u32(0), u32(n), *map(u32, sizes)),
                _full(b"stco", u32(n), *map(u32, offsets)))
    minf = _box(b"minf", _full(b"nmhd"), dinf, stbl)
    return _box(b"trak", tkhd, _box(b"mdia", mdhd, hdlr, minf))


def add_track(film: bytes, handler: bytes, entry: bytes, samples: list[bytes]) -> bytes:
    """`film` (ffmpeg's layout: ftyp, free, mdat, moov last) with one more track: its samples
    after the media data (the 'mdat' grown, so every other offset stays), its 'trak' in 'moov'."""
    boxes = top_boxes(film)
    (mtype, mstart, mend), (vtype, vstart, vend) = boxes[-2], boxes[-1]
    assert (mtype, vtype) == (b"mdat", b"moov") and vend == len(film)
    offsets, pos = [], mend
    for sample in samples:
        offsets.append(pos)
        pos += len(sample)
    extra = b"".join(samples)
    mdat = (mend - mstart + len(extra)).to_bytes(4, "big") + film[mstart + 4:mend] + extra
    trak = _trak(9, handler, entry, [len(s) for s in samples], offsets)
    moov = _box(b"moov", film[vstart + 8:vend], trak)
    return film[:mstart] + mdat + moov


def _klv(key: bytes, kind: bytes, size: int, values: bytes) -> bytes:
    """One GPMF key-length-value: key, type, structure size, repeat, data padded to 4 bytes."""
    repeat = len(values) // size if size else 0
    return key + kind + bytes([size]) + repeat.to_bytes(2, "big") + values + bytes(
        -len(values) % 4)


def gpmf_sample(second: int) -> bytes:
    """A GoPro GPMF payload: a device, a stream of GPS5 fixes (lat, lon, alt, 2D, 3D speed)
    with their scales, fix and time, as a HERO camera writes once a second."""
    fixes = b"".join(struct.pack(">5i", 606749000 + i * 10, 171413000 + i * 10, 12000, 1000,
                                 100) for i in range(18))
    stream = b"".join([
        _klv(b"STNM", b"c", 1, b"GPS (Lat., Long., Alt., 2D speed, 3D speed)"),
        _klv(b"GPSF", b"L", 4, struct.pack(">I", 3)),
        _klv(b"GPSU", b"U", 16, b"240501123456.%03d" % second),
        _klv(b"GPSP", b"S", 2, struct.pack(">H", 150)),
        _klv(b"UNIT", b"c", 3, b"degdegm  m/sm/s"),
        _klv(b"SCAL", b"l", 4, struct.pack(">5i", 10000000, 10000000, 1000, 1000, 100)),
        _klv(b"GPS5", b"l", 20, fixes),
    ])
    strm = _klv(b"STRM", b"\x00", 1, stream)
    device = _klv(b"DVID", b"L", 4, struct.pack(">I", 1)) + _klv(b"DVNM", b"c", 1, b"HERO12")
    return _klv(b"DEVC", b"\x00", 1, device + strm)


def camm_sample(i: int) -> bytes:
    """A Camera Motion Metadata packet of type 6 (GPS): time, fix, lat, lon, alt, accuracy."""
    return struct.pack("<HHdidddffffff", 0, 6, 1398000000.0 + i, 3, 60.6749, 17.1413, 12.0,
                       5.0, 5.0, 0.0, 0.0, 0.0, 0.0)


def text_sample(text: bytes) -> bytes:
    """A QuickTime/3GPP text sample: a 16-bit length, then the text."""
    return len(text).to_bytes(2, "big") + text


def with_brands(film: bytes, compatible: bytes) -> bytes:
    """`film` with its ftyp's second compatible brand replaced (the file's length kept)."""
    assert film[4:8] == b"ftyp" and len(compatible) == 4
    return film[:20] + compatible + film[24:]


# name: (the film it is made from, what is done to it)
MADE: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    # A GoPro: a GPMF track (handler 'meta', sample entry 'gpmd') of GPS5 fixes in mdat.
    "gopro.mp4": ("plain.mp4", lambda f: add_track(f, b"meta", b"gpmd",
                                                   [gpmf_sample(0), gpmf_sample(1)])),
    # An Android phone's Camera Motion Metadata track with GPS packets.
    "camm.mp4": ("plain.mp4", lambda f: add_track(f, b"camm", b"camm",
                                                  [camm_sample(0), camm_sample(1)])),
    # A dashcam's text track naming the position in each sample.
    "text.mov": ("plain.mov", lambda f: add_track(f, b"text", b"text", [
        text_sample(b"+60.6749+017.1413/ 42 km/h"), text_sample(b"+60.6750+017.1414/")])),
    # '©xyz' in a film whose ftyp lists 'avif' (and 'loci' beside 'mif1'): films still.
    "xyz_avif.mp4": ("android.mp4", lambda f: with_brands(f, b"avif")),
    "loci_mif1.mp4": ("loci.mp4", lambda f: with_brands(f, b"mif1")),
}
_BASES = {
    "plain.mp4": (_H264_AAC, None),
    "plain.mov": ([*_H264_AAC, "-f", "mov"], None),
    "loci.mp4": ([*_H264_AAC, "-metadata", "location=+60.6749+017.1413/"], None),
}


def run(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(args, check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def films(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    if not all(shutil.which(t) for t in TOOLS):
        pytest.skip("ffmpeg and exiftool are needed (make chromium installs them)")
    folder = tmp_path_factory.mktemp("films")
    made = {}
    for name, (args, exiftool) in (FILMS | _BASES).items():
        path = folder / name
        run("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *_SOURCES, *args,
            str(path))
        if exiftool:
            run("exiftool", "-q", "-overwrite_original", *exiftool, str(path))
        made[name] = path.read_bytes()
    for name, (base, make) in MADE.items():
        made[name] = make(made[base])
    return made


def exiftool_tags(*paths: Path) -> list[dict[str, object]]:
    """exiftool's tags of each file, every group and duplicate included."""
    return json.loads(run("exiftool", "-j", "-ee", "-G1", "-a", *map(str, paths)).stdout)


def sample_md5(path: Path) -> str:
    """The MD5 of every audio and video packet, as ffmpeg copies them out of the container."""
    out = run("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-i", str(path),
              "-map", "0:v", "-map", "0:a", "-c", "copy", "-f", "md5", "-").stdout
    return out.decode().strip()
