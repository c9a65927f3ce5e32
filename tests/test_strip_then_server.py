"""Property: the device's remover (bifoga.media.metadata.strip) followed by the server's checks
never lets a position through. Real phone media (tests/fixtures_images.py, tests/fixtures_films.py,
tests/media.py, and the hidden-position corpus of tests/hostile/media.py) are mutated: bytes
flipped, blocks that hide a position inserted, tails cut. For each mutant either the remover refuses
it, or the server refuses what the remover made of it, or ExifTool (all tags, embedded streams, a
separate run from the server's) reads no position in what would be stored."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bifoga.media.metadata import MetadataError, strip
from bifoga.media.sniff import classify
from server.errors import ApiError
from server.images import check_film, check_image
from server.inspection import inspect_upload
from tests.fixtures_films import films  # noqa: F401
from tests.fixtures_images import rich_jpeg, rich_png, rich_webp
from tests.hostile import media as hostile
from tests.media import phone_photo

MAX_PIXELS = 89_478_485
# Blocks that hide a position, inserted into a mutant (JPEG segments and PNG/WebP chunks).
JPEG_BLOCKS = [
    hostile.photoshop_block(0x0422, hostile.gps_tiff()),
    hostile.photoshop_block(0x0424, hostile.XMP_GPS),
    hostile.segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + hostile.XMP_DJI),
    hostile.segment(0xE1, b"Exif\x00\x00" + hostile.gps_tiff(bad_offset_first=True)),
    *hostile.extended_xmp_segments(hostile.XMP_GPS),
]
PNG_BLOCKS = [
    hostile.png_chunk(b"eXIf", hostile.gps_tiff(bad_offset_first=True)),
    hostile.png_chunk(b"tEXt", b"Raw profile type xmp\x00" + hostile.raw_profile(
        b"xmp", hostile.XMP_GPS)),
    hostile.png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + hostile.XMP_DJI),
]
WEBP_BLOCKS = [b"EXIF" + len(t).to_bytes(4, "little") + t + b"\x00" * (len(t) % 2)
               for t in (hostile.gps_tiff(), hostile.XMP_GPS)]


def _images() -> dict[str, bytes]:
    return {
        "rich.jpg": rich_jpeg(), "phone.jpg": phone_photo(), "rich.png": rich_png(),
        "rich.webp": rich_webp(),
        "app13.jpg": hostile.jpeg_with(JPEG_BLOCKS[0]),
        "dji.jpg": hostile.jpeg_with(JPEG_BLOCKS[2]),
        "raw-profile.png": hostile.png_with(PNG_BLOCKS[1]),
        "simple.webp": hostile.webp_simple_with((b"EXIF", hostile.gps_tiff())),
        "xmp.gif": hostile.gif_with_xmp(hostile.XMP_GPS),
        "xmp.heic": hostile.heic_photo(xmp=hostile.XMP_GPS),
        "exif.heic": hostile.heic_photo(exif=b"Exif\x00\x00" + hostile.gps_tiff()),
    }


_bases: dict[str, bytes] = {}


@pytest.fixture(scope="module")
def bases(films: dict[str, bytes]) -> dict[str, bytes]:  # noqa: F811
    if not _bases:
        _bases.update(_images())
        _bases.update({name: films[name] for name in ("android.mp4", "iphone.mov",
                                                      "xmp.mp4")})
        _bases["gopro.mp4"] = hostile.film_with_gpmf_track()
    return _bases


BASE_NAMES = ["rich.jpg", "phone.jpg", "rich.png", "rich.webp", "app13.jpg", "dji.jpg",
              "raw-profile.png", "simple.webp", "xmp.gif", "xmp.heic", "exif.heic",
              "android.mp4", "iphone.mov", "xmp.mp4", "gopro.mp4"]

mutation = st.one_of(
    st.tuples(st.just("flip"), st.floats(0, 1), st.integers(1, 255)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.integers(0, 16)),
    st.tuples(st.just("cut"), st.floats(0.5, 1), st.just(0)),
)


def _boundaries(data: bytes, name: str) -> list[int]:
    """Where a block may go: JPEG segment starts before the scan, PNG chunk starts after
    IHDR, the end of a WebP (a chunk appended)."""
    if name.endswith(".jpg"):
        out, i = [2], 2
        while i + 4 <= len(data) and data[i] == 0xFF and data[i + 1] not in (0xDA, 0xD9):
            i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
            out.append(i)
        return out
    if name.endswith(".png"):
        out, i = [], 8
        while i + 8 <= len(data):
            i += 12 + int.from_bytes(data[i:i + 4], "big")
            out.append(i)
        return out[:-1] or [33]
    return [len(data)]


def mutate(data: bytes, name: str, steps: list[tuple[str, float, int]]) -> bytes:
    out = bytearray(data)
    for kind, where, value in steps:
        if kind == "flip" and out:
            out[int(where * (len(out) - 1))] ^= value
        elif kind == "cut":
            del out[max(16, int(where * len(out))):]
        elif kind == "insert":
            blocks = (JPEG_BLOCKS if name.endswith(".jpg") else PNG_BLOCKS
                      if name.endswith(".png") else WEBP_BLOCKS if name.endswith(".webp")
                      else [])
            if not blocks:
                continue
            spots = _boundaries(bytes(out), name)
            at = spots[int(where * (len(spots) - 1))]
            block = blocks[value % len(blocks)]
            out[at:at] = block
            if name.endswith(".webp"):  # keep the RIFF size right
                out[4:8] = (len(out) - 8).to_bytes(4, "little")
    return bytes(out)


def server_refuses(data: bytes, name: str) -> bool:
    """The finalisation's checks in order (server.api.finalise_attachment): the sniffer, the
    first-stage image or film check, the reference parsers."""
    verdict = classify(data, name)
    if not verdict.ok or verdict.category not in ("image", "video"):
        return True
    try:
        if verdict.category == "image":
            check_image(data, verdict.mime, MAX_PIXELS)
        else:
            check_film(data)
        inspect_upload(data, verdict.mime, verdict.category, MAX_PIXELS)
    except ApiError:
        return True
    return False


def exiftool_positions(data: bytes) -> dict[str, Any]:
    """Every tag ExifTool reads whose name speaks of a position, in a run of its own."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "f"
        path.write_bytes(data)
        out = subprocess.run(["exiftool", "-j", "-G3:1", "-a", "-u", "-ee", "-n", str(path)],
                             capture_output=True, timeout=60).stdout
    rows = json.loads(out or b"[{}]")
    return {k: v for k, v in rows[0].items()
            if any(w in k.lower() for w in ("gps", "location", "coordinates"))}


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(BASE_NAMES), steps=st.lists(mutation, min_size=1, max_size=3))
def test_no_position_gets_through(bases: dict[str, bytes], name: str,
                                  steps: list[tuple[str, float, int]]) -> None:
    mutant = mutate(bases[name], name, steps)
    try:
        sent = strip(mutant).data
    except MetadataError:
        return  # the device refuses it: nothing is sent
    if server_refuses(sent, name):
        return
    assert exiftool_positions(sent) == {}, (name, steps)


def test_the_bases_carry_a_position(bases: dict[str, bytes]) -> None:
    """Every base really hides a position before the remover (else the property is empty)."""
    for name in BASE_NAMES:
        assert exiftool_positions(bases[name]), name
