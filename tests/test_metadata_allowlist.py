"""The device's remover keeps only what it knows: crafted still images (a position hidden where a
keep-list or a hand-written walk misses it) leave it with no position that ExifTool or
bifoga.media.metadata.find_location reads; GIFs are stripped; the plan reads and sends slices."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageSequence

from bifoga.media import metadata
from bifoga.media.metadata import MetadataError
from bifoga.media.source import BytesSource
from tests import fixtures_images as fx
from tests import hostile_images as hostile
from tests.media import media_path

needs_exiftool = pytest.mark.skipif(shutil.which("exiftool") is None,
                                    reason="exiftool is missing (libimage-exiftool-perl)")
_POSITION_WORDS = ("gps", "latitude", "longitude", "position")


def exiftool_positions(paths: list[Path]) -> dict[str, list[str]]:
    """Per file name, the tags naming a position that ExifTool reads (embedded data too)."""
    proc = subprocess.run(
        ["exiftool", "-j", "-ee", "-n", "-a", "-u", "-G1", *map(str, paths)],
        capture_output=True, text=True, check=False, timeout=120,
    )
    records = json.loads(proc.stdout)
    return {Path(r["SourceFile"]).name: [k for k in r if any(w in k.lower()
                                                             for w in _POSITION_WORDS)]
            for r in records}


def frames(data: bytes) -> list[tuple[str, tuple[int, int], bytes]]:
    im = Image.open(io.BytesIO(data))
    return [(f.mode, f.size, f.convert("RGBA").tobytes()) for f in ImageSequence.Iterator(im)]


# ---------------------------------------------------------------------------------------------
# Crafted files: whatever a dropped block carries goes with it


@needs_exiftool
def test_crafted_positions_do_not_get_through(tmp_path):
    paths = []
    for name, make in hostile.HOSTILE.items():
        data = make()
        out = metadata.strip(data).data
        (tmp_path / name).write_bytes(data)
        (tmp_path / ("stripped_" + name)).write_bytes(out)
        paths += [tmp_path / name, tmp_path / ("stripped_" + name)]
        assert not metadata.find_location(out), name
        assert frames(out) == frames(data), name
        assert metadata.strip(out).data == out and metadata.inspect(out).found == [], name
    seen = exiftool_positions(paths)
    for name in hostile.HOSTILE:
        assert seen[name], name + ": the generator's position is not readable"
        assert seen["stripped_" + name] == [], name


@pytest.mark.parametrize("name", sorted(hostile.HOSTILE))
def test_what_went_is_reported(name):
    data = hostile.HOSTILE[name]()
    result = metadata.strip(data)
    assert result.removed == metadata.inspect(data).found
    expected = {
        "jpeg_gps_behind_bad_offset.jpg": {"gps"},
        "png_exif_gps_behind_bad_offset.png": {"gps"},
        "jpeg_app13_photoshop.jpg": {"iptc", "gps", "xmp"},
        "jpeg_extended_xmp_split.jpg": {"xmp"},
        "jpeg_dji.jpg": {"gps", "xmp"},
        "png_raw_profiles.png": {"xmp", "iptc", "other_exif"},
        "webp_simple_vp8_with_metadata.webp": {"gps", "xmp"},
        "webp_simple_vp8l_with_metadata.webp": {"gps", "xmp"},
        "gif_xmp.gif": {"xmp", "comment", "other_exif"},
    }[name]
    assert expected <= set(result.removed)


def test_exif_walk_goes_on_past_a_bad_entry():
    info = metadata_exif_info(hostile.gps_tiff(bad_first_entry=True))
    assert {"gps", "datetime", "other_exif"} <= info.categories


def metadata_exif_info(tiff: bytes):
    from bifoga.media.exif import parse_exif

    return parse_exif(tiff)


# ---------------------------------------------------------------------------------------------
# GIF


def test_gif_keeps_frames_timing_and_loop_and_drops_the_rest():
    data = hostile.gif_with_metadata(frames=3, tail=b"TRAILING-SECRET")
    result = metadata.strip(data)
    out = result.data
    assert result.removed == ["xmp", "comment", "other_exif"]
    assert result.orientation is None
    for secret in (b"XMP DataXMP", b"COMMENT-SECRET", b"ACMEAPP", b"PLAINTEXT", b"TRAILING"):
        assert secret in data and secret not in out
    assert frames(out) == frames(data)
    before, after = Image.open(io.BytesIO(data)), Image.open(io.BytesIO(out))
    assert after.info.get("loop") == before.info.get("loop") == 3
    assert after.info.get("duration") == before.info.get("duration") == 120
    assert out.endswith(b"\x3b")
    assert metadata.inspect(out) == metadata.Report("gif")
    assert metadata.strip(out).data == out


def test_a_plain_gif_goes_unchanged_and_is_one_range():
    data = hostile._gif_frames(1)
    plan = metadata.strip_source(BytesSource(data)).plan
    assert plan.pieces == [("range", 0, len(data))]
    assert metadata.strip(data).data == data


def test_a_loop_extension_with_extra_data_is_rebuilt():
    data = hostile._gif_frames(2)
    i = data.index(b"NETSCAPE2.0")
    assert data[i + 11:i + 13] == b"\x03\x01" and data[i + 15] == 0
    padded = data[:i + 15] + b"\x05HIDE!" + data[i + 15:]  # a sub-block after the loop count
    result = metadata.strip(padded)
    assert result.data == data and result.removed == ["other_exif"]


@pytest.mark.parametrize("cut", [6, 12, 20, 40, -30, -2])
def test_a_truncated_gif_is_refused(cut):
    data = hostile.gif_with_metadata()
    with pytest.raises(MetadataError):
        metadata.strip(data[:cut])


def test_broken_gifs_are_refused():
    data = hostile._gif_frames(1)
    header_end, blocks = hostile.gif_blocks(data)
    with pytest.raises(MetadataError):  # an unknown block
        metadata.strip(data[:header_end] + b"\x99" + data[header_end:])
    with pytest.raises(MetadataError):  # no image at all
        metadata.strip(data[:header_end] + b"\x3b")
    image = blocks[-1][0]
    lzw = data[image + 10 + (3 << ((data[image + 9] & 7) + 1) if data[image + 9] & 0x80 else 0)]
    assert 2 <= lzw <= 8
    with pytest.raises(MetadataError):  # a graphic control extension of the wrong size
        metadata.strip(data[:header_end] + b"\x21\xf9\x05" + bytes(6) + data[header_end:])


# ---------------------------------------------------------------------------------------------
# The plan: slices of the source for what is kept, bytes only for what is rebuilt


class CountingSource(BytesSource):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.reads = 0
        self.bytes_read = 0

    def read(self, offset: int, length: int) -> bytes:
        got = super().read(offset, length)
        self.reads += 1
        self.bytes_read += len(got)
        return got


def test_a_phone_jpeg_is_planned_as_ranges_with_a_small_rebuilt_exif():
    photo = media_path("photo_gps.jpg").read_bytes()
    source = CountingSource(photo)
    result = metadata.strip_source(source)
    pieces = result.plan.pieces
    rebuilt = sum(len(p[1]) for p in pieces if p[0] == "bytes")
    assert rebuilt < 100 and len(pieces) <= 4
    scan = photo.index(b"\xff\xda")
    assert any(p[0] == "range" and p[1] <= scan and p[2] == len(photo) for p in pieces)
    assert result.plan.materialise(source) == metadata.strip(photo).data
    assert source.reads < 20


@pytest.mark.parametrize("make", [fx.rich_jpeg, fx.rich_png, fx.rich_webp,
                                  lambda: fx.rich_webp(lossless=True, mode="RGBA"),
                                  hostile.gif_with_metadata])
def test_plan_is_the_stripped_bytes(make):
    data = make()
    for keep in (False, True):
        planned = metadata.strip_source(BytesSource(data), keep)
        stripped = metadata.strip(data, keep)
        assert planned.plan.materialise(BytesSource(data)) == stripped.data
        assert (planned.removed, planned.orientation) == (stripped.removed, stripped.orientation)
        kept = [p for p in planned.plan.pieces if p[0] == "range"]
        assert sum(p[2] - p[1] for p in kept) > planned.plan.size // 2  # mostly slices


def test_png_crc_is_checked_in_every_chunk_read_in_blocks():
    data = fx.rich_png()
    i = data.index(b"IDAT") + 10
    with pytest.raises(MetadataError, match="CRC"):
        metadata.strip(data[:i] + bytes((data[i] ^ 1,)) + data[i + 1:])


def test_the_heavy_worker_strips_gifs_too():
    import ast

    tree = ast.parse((Path(__file__).resolve().parent.parent / "worker.py").read_text())
    strippable = next(ast.literal_eval(node.value) for node in ast.walk(tree)
                      if isinstance(node, ast.Assign)
                      and any(getattr(t, "id", None) == "STRIPPABLE" for t in node.targets))
    assert {"image/jpeg", "image/png", "image/webp", "image/gif"} <= set(strippable)


def test_inspect_source_reads_through_a_source():
    data = hostile.gif_with_metadata()
    assert metadata.inspect_source(BytesSource(data)) == metadata.inspect(data)
    assert metadata.inspect_source(BytesSource(data)).found == ["xmp", "comment", "other_exif"]
    assert metadata.inspect_source(BytesSource(b"%PDF-1.7")) == metadata.Report(None)


@pytest.mark.parametrize("keep", [False, True])
@pytest.mark.parametrize("make", [lambda: media_path("photo_gps.jpg").read_bytes(),
                                  fx.rich_jpeg, fx.rich_png, fx.rich_webp,
                                  lambda: fx.rich_webp(lossless=True, mode="RGBA"),
                                  hostile.gif_with_metadata])
def test_a_file_stripped_before_is_sent_as_it_is(make, keep):
    once = metadata.strip(make(), keep).data
    source = BytesSource(once)
    assert metadata.strip_source(source, keep).plan.unchanged(source)


_CRAFTED = {name: make() for name, make in hostile.HOSTILE.items()}


@settings(max_examples=200, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(_CRAFTED)),
    st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=4),
)
def test_mutated_crafted_files_never_keep_a_position(name, edits):
    """Whatever a mutation does to a crafted file, the remover refuses it or sends a file that
    is well formed, stripped again to itself, and carries no position. (A mutated signature
    makes a file no format the remover knows: the sniffer refuses those before.)"""
    data = bytearray(_CRAFTED[name])
    for where, value in edits:
        data[int(where * len(data))] = value
    if metadata.detect_format(bytes(data)) not in metadata.LIGHT_FORMATS:
        return
    try:
        out = metadata.strip(bytes(data)).data
    except MetadataError:
        return
    assert not metadata.find_location(out)
    assert metadata.strip(out).data == out
    for marker in (b"GPSLatitude", b"GpsLatitude", b"8BIM", b"XMP DataXMP"):
        assert marker not in out
