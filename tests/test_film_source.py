"""Films read through a Source: what is read, the Plan sent, tracks other than video and sound
removed with their samples zeroed, the film-or-picture judgement shared with the sniffer, and
the same Plan under MicroPython as under CPython."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bifoga.media import containers, isobmff, metadata
from bifoga.media.film_meta import (
    chunk_offsets,
    chunk_ranges,
    lay_out,
    merged,
    overlap,
    sample_sizes,
    samples_per_chunk,
    subtract,
    timestamp_text,
)
from bifoga.media.metadata import MetadataError
from bifoga.media.source import BytesSource, Plan
from tests.fixtures_films import films  # noqa: F401
from tests.micropython_runner import (
    REPO,
    assert_fits_micropython,
    micropython_available,
    repo_files,
    run_micropython,
)
from tests.test_metadata_film import POSITION, box, ebml, full, simple_tag, u32
from tests.test_metadata_film import _check as check_film


class CountingSource(BytesSource):
    """A Source that counts the bytes asked of it (the browser's Blob.slice reads)."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, offset: int, length: int) -> bytes:
        got = super().read(offset, length)
        self.bytes_read += len(got)
        return got


class _Box:  # what the sample table functions take: a type and where its body lies
    def __init__(self, data: bytes) -> None:
        self.type, self.start, self.body, self.end = data[4:8], 0, 8, len(data)


def stbl_tables(sizes: list[int], offsets: list[int], runs: list[tuple[int, int]],
                constant: int = 0, size_box: bytes = b"stsz", offset_box: bytes = b"stco",
                bits: int = 8) -> bytes:
    """stsz/stz2, stsc and stco/co64 for the given samples and chunks."""
    if size_box == b"stsz":
        sizes_table = full(b"stsz", 0, u32(constant), u32(len(sizes)),
                           *(u32(s) for s in sizes if not constant))
    elif bits == 4:
        packed = bytes(((sizes[i] << 4) | (sizes[i + 1] if i + 1 < len(sizes) else 0))
                       for i in range(0, len(sizes), 2))
        sizes_table = full(b"stz2", 0, bytes([0, 0, 0, 4]), u32(len(sizes)), packed)
    else:
        sizes_table = full(b"stz2", 0, bytes([0, 0, 0, bits]), u32(len(sizes)),
                           *(s.to_bytes(bits // 8, "big") for s in sizes))
    width = 8 if offset_box == b"co64" else 4
    return (sizes_table
            + full(b"stsc", 0, u32(len(runs)), *(u32(f) + u32(n) + u32(1) for f, n in runs))
            + full(offset_box, 0, u32(len(offsets)), *(o.to_bytes(width, "big")
                                                       for o in offsets)))


def trak(handler: bytes, entry: bytes, tables: bytes, track_id: int = 1) -> bytes:
    stsd = full(b"stsd", 0, u32(1), box(entry, bytes(6), b"\x00\x01"))
    return box(b"trak", full(b"tkhd", 0, u32(5), u32(5), u32(track_id), bytes(72)),
               box(b"mdia", full(b"mdhd", 0, u32(5), u32(5), bytes(12)),
                   full(b"hdlr", 0, u32(0), handler, bytes(12), b"name\x00"),
                   box(b"minf", box(b"stbl", stsd, tables))))


FTYP = box(b"ftyp", b"isom", u32(0), b"isomavc1")
VIDEO = bytes(range(1, 256)) * 40  # "coded frames": no zero byte, so a zeroed one shows
GPMF = b"DEVC" + b"GPS5" * 50


def gopro_film(**table_args) -> tuple[bytes, list[tuple[int, int]]]:
    """ftyp, mdat (video, then four GPMF samples in two chunks, then video), moov (video and
    a GPMF track) and where the GPMF chunks lie."""
    head = len(FTYP) + 8
    meta_at = [head + len(VIDEO), head + 2 * len(VIDEO) + 2 * len(GPMF)]
    mdat = box(b"mdat", VIDEO, GPMF * 2, VIDEO, GPMF * 2)
    video_at = [head, head + len(VIDEO) + 2 * len(GPMF)]
    video = trak(b"vide", b"avc1", stbl_tables([len(VIDEO)] * 2, video_at, [(1, 1)]))
    meta = trak(b"meta", b"gpmd", stbl_tables([len(GPMF)] * 4, meta_at, [(1, 2)],
                                              **table_args), track_id=2)
    moov = box(b"moov", full(b"mvhd", 0, u32(5), u32(5), bytes(92)), video, meta)
    return FTYP + mdat + moov, [(a, a + 2 * len(GPMF)) for a in meta_at]


# ---------------------------------------------------------------------------------------------
# Sample tables


def test_sample_tables() -> None:
    sizes = [3, 15, 7, 1, 9]
    for size_box, bits in ((b"stsz", 0), (b"stz2", 4), (b"stz2", 8), (b"stz2", 16)):
        tables = stbl_tables(sizes, [0], [(1, 5)], size_box=size_box, bits=bits)
        first = tables[:int.from_bytes(tables[:4], "big")]  # the stsz/stz2 box
        assert sample_sizes(first, _Box(first)) == (0, 5, sizes), size_box
    constant = stbl_tables([], [], [], constant=12)
    assert sample_sizes(constant, _Box(constant[:20])) == (12, 0, [])
    co64 = full(b"co64", 0, u32(2), (2**33).to_bytes(8, "big"), (5).to_bytes(8, "big"))
    assert chunk_offsets(co64, _Box(co64)) == [2**33, 5]
    short = full(b"stco", 0, u32(1000), u32(7))  # claims more than it holds
    assert chunk_offsets(short, _Box(short)) == [7]
    stsc = full(b"stsc", 0, u32(2), u32(1) + u32(3) + u32(1), u32(4) + u32(1) + u32(1))
    assert samples_per_chunk(stsc, _Box(stsc), 6) == [3, 3, 3, 1, 1, 1]
    late = full(b"stsc", 0, u32(1), u32(2) + u32(5) + u32(1))  # no run for chunk 1
    assert samples_per_chunk(late, _Box(late), 3) == [0, 5, 5]


def test_chunk_ranges() -> None:
    # Chunks of 3, 2 and 1 samples, each its sizes' sum long; constant sizes too.
    assert chunk_ranges([100, 200, 300], [3, 2, 1], 0, 6, [1, 2, 3, 4, 5, 6], 1000) == [
        (100, 106), (200, 209), (300, 306)]
    assert chunk_ranges([100, 200], [2, 1], 10, 3, [], 1000) == [(100, 120), (200, 210)]
    # A sample-to-chunk table that does not add up to the samples is refused: a chunk given
    # more samples than it holds would claim the bytes after it (a removed track's, say).
    with pytest.raises(MetadataError, match="do not hold"):
        chunk_ranges([100, 200, 300], [3, 3, 1], 0, 6, [1, 2, 3, 4, 5, 6], 1000)
    with pytest.raises(MetadataError, match="do not hold"):
        chunk_ranges([100, 200], [2, 1], 10, 4, [], 1000)
    with pytest.raises(MetadataError, match="past the end"):
        chunk_ranges([990], [2], 10, 2, [], 1000)
    with pytest.raises(MetadataError):  # a huge claim does not run: it is refused
        chunk_ranges([0], [2**32 - 1], 2**32 - 1, 2**32 - 1, [], 10**7)
    assert merged([(5, 9), (0, 3), (3, 4), (8, 12), (20, 21)]) == [(0, 4), (5, 12), (20, 21)]


def test_lay_out_zeroes_ranges_wherever_they_fall() -> None:
    data = bytes(range(1, 101))
    plan = Plan()
    lay_out([(0, 40, None), (40, 60, b"x" * 20), (60, 100, None)],
            [(10, 20), (35, 45), (90, 100)], plan)
    assert plan.pieces == [("range", 0, 10), ("bytes", bytes(10)), ("range", 20, 35),
                           ("bytes", bytes(5)), ("bytes", bytes(5) + b"x" * 15),
                           ("range", 60, 90), ("bytes", bytes(10))]
    out = plan.materialise(BytesSource(data))
    assert len(out) == 100 and out[20:35] == data[20:35] and out[45:60] == b"x" * 15


def test_timestamps_without_datetime() -> None:
    from datetime import UTC, datetime, timedelta

    for seconds in (0, 1, 86399, 86400, 3_000_000_000, 2**36, 951_782_400):
        for epoch in (datetime(1904, 1, 1, tzinfo=UTC), datetime(2001, 1, 1, tzinfo=UTC)):
            days = (epoch - datetime(1970, 1, 1, tzinfo=UTC)).days
            expected = epoch + timedelta(seconds=seconds)
            assert timestamp_text(seconds, days) == expected.strftime("%Y-%m-%dT%H:%M:%S")
    assert timestamp_text(-1, 11323) == "2000-12-31T23:59:59"


# ---------------------------------------------------------------------------------------------
# Tracks other than video and sound


@pytest.mark.parametrize("table_args", [
    {}, {"constant": len(GPMF)}, {"size_box": b"stz2", "bits": 16},
    {"offset_box": b"co64"}])
def test_metadata_track_goes_with_its_samples(table_args: dict) -> None:
    data, gpmf_chunks = gopro_film(**table_args)
    source = CountingSource(data)
    stripped = metadata.strip_source(source)
    out = stripped.plan.materialise(source)
    assert stripped.removed == ["gps", "datetime"]
    assert out == metadata.strip(data).data and len(out) == len(data)
    assert b"GPS5" not in out and b"gpmd" not in out and out.count(VIDEO) == 2
    for start, end in gpmf_chunks:
        assert out[start:end] == bytes(end - start)
    # Only the samples are sent anew: the rest of mdat goes as ranges of the source.
    zeros = [p for p in stripped.plan.pieces if p[0] == "bytes" and not any(p[1])]
    assert [len(p[1]) for p in zeros] == [end - start for start, end in gpmf_chunks]
    # The video track is untouched but for its times; the other track is a 'free' box.
    moov = out[out.index(b"moov") - 4:]
    assert moov.count(b"trak") == 1 and b"avc1" in moov and b"free" in moov
    assert metadata.strip(out).data == out and metadata.strip(out).removed == []


def test_metadata_labelled_as_video_goes_too() -> None:
    data, gpmf_chunks = gopro_film()
    disguised = data.replace(b"meta", b"vide")  # the GPMF track's handler
    assert disguised != data
    out = metadata.strip(disguised).data
    assert b"GPS5" not in out and out.count(VIDEO) == 2
    unknown = disguised.replace(b"gpmd", b"gpmx")  # and its sample entry
    with pytest.raises(MetadataError, match="gpmx"):
        metadata.strip(unknown)


def test_text_track_is_named_by_its_samples() -> None:
    text = b"\x00\x12+60.6749+017.1413/"
    tables = stbl_tables([len(text)], [len(FTYP) + 8 + len(VIDEO)], [(1, 1)])
    video = trak(b"vide", b"avc1", stbl_tables([len(VIDEO)], [len(FTYP) + 8], [(1, 1)]))
    moov = box(b"moov", video, trak(b"sbtl", b"tx3g", tables, 2))
    data = FTYP + box(b"mdat", VIDEO, text) + moov
    result = metadata.strip(data)
    assert result.removed == ["gps", "datetime"] and b"+60.67" not in result.data
    chapters = trak(b"text", b"text", stbl_tables([6], [len(FTYP) + 8 + len(VIDEO)],
                                                  [(1, 1)]), 2)
    plain = metadata.strip(FTYP + box(b"mdat", VIDEO, b"\x00\x04Ch 1") + box(b"moov", video,
                                                                             chapters))
    assert plain.removed == ["datetime", "comment"]


def test_timecode_and_trackless_tracks_go_too() -> None:
    tmcd = trak(b"tmcd", b"tmcd", stbl_tables([4], [len(FTYP) + 8], [(1, 1)]), 2)
    bare = box(b"trak", full(b"tkhd", 0, bytes(80)))  # no media at all
    data = FTYP + box(b"mdat", b"\x01\x02\x03\x04", VIDEO) + box(b"moov", tmcd, bare)
    out = metadata.strip(data).data
    assert out[len(FTYP) + 8:len(FTYP) + 12] == bytes(4) and b"trak" not in out


def test_tracks_that_do_not_add_up_are_refused() -> None:
    data, _ = gopro_film()
    past_end = data.replace(u32(len(GPMF)) * 4, u32(len(GPMF)) * 3 + u32(10**6))
    fragmented = data.replace(b"mvhd", b"mvex", 1)  # (any 'mvex' box: a fragmented film)
    stsz = data.rindex(b"stsz") - 4
    unreadable = data[:stsz] + b"\x01" + data[stsz + 1:]  # the GPMF sizes past their stbl
    for bad, why in ((past_end, "past the end"), (fragmented, "fragmented"),
                     (unreadable, "bad b'stbl'")):
        with pytest.raises(MetadataError, match=why):
            metadata.strip(bad)
        with pytest.raises(MetadataError, match=why):
            metadata.strip_source(BytesSource(bad))
    # Video and sound alone in a fragmented film are scrubbed as before.
    video = trak(b"vide", b"avc1", stbl_tables([len(VIDEO)], [len(FTYP) + 8], [(1, 1)]))
    video_only = FTYP + box(b"mdat", VIDEO) + box(b"moov", box(b"mvex"), video,
                                                  box(b"udta", POSITION))
    assert metadata.strip(video_only).removed == ["gps", "datetime"]


def test_removed_samples_may_not_touch_video_samples() -> None:
    data, gpmf_chunks = gopro_film()
    first = gpmf_chunks[0][0]
    sharing = data.replace(u32(first), u32(first - 10))  # the GPMF chunk starts in a frame
    with pytest.raises(MetadataError, match="shares its samples"):
        metadata.strip(sharing)
    assert overlap([(0, 5), (10, 20)], [(5, 10), (19, 30)])
    assert not overlap([(0, 5), (10, 20)], [(5, 10), (20, 30)])


def test_only_video_and_sound_samples_are_sent() -> None:
    """Bytes in mdat (or padding) that no video or sound sample claims go as zeros: a track
    whose tables cannot be found cannot leave its samples behind."""
    video = trak(b"vide", b"avc1", stbl_tables([len(VIDEO)], [len(FTYP) + 8], [(1, 1)]))
    hidden = b"GPS5" * 10 + b"+60.6749+017.1413/"
    data = (FTYP + box(b"mdat", VIDEO, hidden) + box(b"free", b"GPSLatitude 60.67")
            + box(b"moov", video))
    stripped = metadata.strip_source(BytesSource(data))
    out = stripped.plan.materialise(BytesSource(data))
    assert stripped.removed == ["gps", "datetime", "other_exif"]  # (times in tkhd and mdhd)
    assert VIDEO in out and b"GPS" not in out and b"+60.67" not in out
    assert len(out) == len(data) and out.count(b"free") == 1
    # A fragmented film's samples are described per 'moof': its mdat goes as it is.
    fragment = (FTYP + box(b"moov", box(b"mvex"), video) + box(b"moof", box(b"mfhd"))
                + box(b"mdat", VIDEO, b"GPS5"))
    assert metadata.strip(fragment).data.endswith(box(b"mdat", VIDEO, b"GPS5"))
    gpmf = trak(b"meta", b"gpmd", stbl_tables([], [], []), 2)
    without_mvex = FTYP + box(b"moov", video, gpmf) + box(b"moof", box(b"mfhd")) + box(b"mdat")
    with pytest.raises(MetadataError, match="fragmented"):
        metadata.strip(without_mvex)
    assert subtract([(0, 10), (20, 30)], [(2, 4), (8, 22), (25, 26)]) == [
        (0, 2), (4, 8), (22, 25), (26, 30)]
    with pytest.raises(MetadataError, match="without its sample table"):
        metadata.strip(FTYP + box(b"mdat", VIDEO) + box(b"moov", trak(b"vide", b"avc1", b"")))


def test_big_boxes_are_refused_not_read() -> None:
    huge = FTYP + box(b"mdat", VIDEO) + box(b"moov", box(b"free", bytes(5 * 2**20)))
    source = CountingSource(huge)
    with pytest.raises(MetadataError, match="moov"):
        metadata.strip_source(source)
    assert source.bytes_read < 200_000


def test_strip_source_reads_headers_and_moov_only() -> None:
    frames = bytes(range(1, 256)) * 4000  # ~1 MB per "frame"
    offsets = [len(FTYP) + 8 + i * len(frames) for i in range(6)]
    video = trak(b"vide", b"avc1", stbl_tables([len(frames)] * 6, offsets, [(1, 1)]))
    moov = box(b"moov", full(b"mvhd", 0, u32(5), u32(5), bytes(92)), video,
               box(b"udta", POSITION))
    for data in (FTYP + box(b"mdat", frames * 6) + moov,):
        source = CountingSource(data)
        stripped = metadata.strip_source(source)
        assert stripped.removed == ["gps", "datetime"]
        # A chunk at the start (ftyp, mdat's header) and one at moov, once to tell the format
        # and once to plan: never the media data.
        assert source.bytes_read <= 4 * 65536
        assert stripped.plan.pieces[0] == ("range", 0, len(FTYP) + 8 + 6 * len(frames))
        assert stripped.plan.materialise(source) == metadata.strip(data).data


@pytest.mark.parametrize("unknown", [False, True])
def test_webm_clusters_are_ranges(unknown: bool) -> None:
    tags = ebml(0x1254C367, ebml(0x7373, simple_tag(b"LOCATION", b"+60.6749+017.1413/")))
    info = ebml(0x1549A966, ebml(0x4D80, b"Lavf60"), ebml(0x7BA9, b"Holiday"))
    header = ebml(0x1A45DFA3, ebml(0x4282, b"webm"))
    blocks = [ebml(0xA3, bytes(range(1, 256)) * 4000) for _ in range(4)]  # ~1 MB each
    cluster = ebml(0x1F43B675, ebml(0xE7, b"\x00"), *blocks, unknown=unknown)
    data = header + ebml(0x18538067, info, cluster, tags, unknown=unknown)
    source = CountingSource(data)
    stripped = metadata.strip_source(source)
    assert stripped.removed == ["gps", "comment", "other_exif"]
    assert source.bytes_read <= (7 if unknown else 3) * 65536  # a chunk per block header
    at = len(header) + 12 + len(info)
    assert ("range", at, at + len(cluster)) in stripped.plan.pieces
    assert stripped.plan.materialise(source) == metadata.strip(data).data


@pytest.mark.parametrize("keep", [False, True])
def test_strip_source_answers_as_strip_does(films: dict[str, bytes],  # noqa: F811
                                            keep: bool) -> None:
    for name, data in films.items():
        source = CountingSource(data)
        stripped = metadata.strip_source(source, keep)
        result = metadata.strip(data, keep)
        assert stripped.plan.materialise(source) == result.data, name
        assert stripped.removed == result.removed, name


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=0,
                                                                      max_value=255)),
                      min_size=1, max_size=6))
# The GPMF track's 'trak' renamed, and the sound track's sample-to-chunk table stretched over
# the GPMF samples: the table no longer adds up, and the film is refused.
@example(edits=[(4021, 0), (290059266139, 1)])
def test_fuzz_real_gopro_moov(films: dict[str, bytes],  # noqa: F811
                              edits: list[tuple[int, int]]) -> None:
    """A real GoPro-style film with its movie box mutated: refused, or stripped alike through
    a Source and in memory, with no position and no GPMF sample left."""
    data = bytearray(films["gopro.mp4"])
    moov = data.rindex(b"moov") - 4
    for pos, value in edits:
        data[moov + pos % (len(data) - moov)] = value
    check_film(bytes(data))
    try:
        out = metadata.strip(bytes(data)).data
    except MetadataError:
        return
    assert b"GPS5" not in out and b"HERO12" not in out


# ---------------------------------------------------------------------------------------------
# Film or picture: the same judgement here and in the sniffer


def test_judge() -> None:
    judge = isobmff.judge
    assert judge([b"isom", b"avif"], [b"vide", b"soun"], False) == "mp4"
    assert judge([b"isom", b"mif1"], [b"vide"], False) == "mp4"
    assert judge([b"avif", b"isom"], [b"vide"], False) == "mp4"  # no picture in it
    assert judge([b"qt  "], [b"soun"], False) == "mov"
    assert judge([], [b"vide"], False) == "mov"
    assert judge([b"3gp4", b"mif1"], [b"vide"], False) == "3gp"
    assert judge([b"heic", b"mif1"], [], True) == "heic"
    assert judge([b"mif1", b"heic"], [], True) == "heic"
    assert judge([b"mif1"], [], True) == "heif"
    assert judge([b"avif", b"mif1"], [], True) == "avif"
    assert judge([b"isom", b"heic"], [], True) == "heic"  # the items make it a picture
    assert judge([b"heic"], [b"vide"], True) == "heic"  # major brand and items: a picture
    assert judge([b"isom", b"heic"], [b"vide"], True) == "mp4"  # a film with a cover item
    assert judge([b"msf1", b"hevc"], [b"pict"], False) == "heic"  # an image sequence
    assert judge([b"msf1"], [b"meta"], False) == "heif"  # the HEIF remover refuses it
    assert judge([b"isom"], [b"meta"], False) == "mp4"


def _film(brands: list[bytes], *moov: bytes) -> bytes:
    video = trak(b"vide", b"avc1", stbl_tables([len(VIDEO)], [len(brands) * 4 + 16], [(1, 1)]))
    ftyp = box(b"ftyp", brands[0], u32(0), *brands[1:])
    return ftyp + box(b"mdat", VIDEO) + box(b"moov", video, *moov)


@pytest.mark.parametrize("brands", [[b"isom", b"avif"], [b"isom", b"mif1"], [b"avif", b"isom"],
                                    [b"mp42", b"heic", b"mif1"]])
def test_films_with_picture_brands_are_films_to_both(brands: list[bytes]) -> None:
    loci = box(b"loci", bytes(4), b"\x15\xc7", b"\x00" * 3, u32(60 << 16), u32(17 << 16),
               bytes(4), b"earth\x00\x00")
    data = _film(brands, box(b"udta", POSITION, loci))
    assert metadata.detect_format(data) == "mp4"
    assert containers.inspect_isobmff(data).mime == "video/mp4"
    assert metadata.find_location(data)
    out = metadata.strip(data)
    assert out.removed[0] == "gps" and not metadata.find_location(out.data)
    assert b"+60.67" not in out.data and b"loci" not in out.data


def test_film_with_picture_items_is_refused() -> None:
    items = full(b"meta", 0, full(b"hdlr", 0, u32(0), b"pict", bytes(13)),
                 full(b"iinf", 0, b"\x00\x00"), full(b"iloc", 1, bytes(4)))
    data = _film([b"isom", b"heic"], box(b"udta", POSITION)) + items
    assert metadata.detect_format(data) == "mp4"
    with pytest.raises(MetadataError, match="items"):
        metadata.strip(data)
    assert metadata.detect_format(_film([b"heic", b"isom"]) + items) == "heic"


# ---------------------------------------------------------------------------------------------
# MicroPython

_MODULES = ("source", "meta_error", "isobmff", "film_meta", "film_ebml")
_PLAN_CODE = """
import binascii
from bifoga.media.source import BytesSource, Reader
from bifoga.media.film_meta import plan_iso
from bifoga.media.film_ebml import plan_ebml
for name, hexed in FILMS:
    planner = plan_ebml if name.endswith(".webm") else plan_iso
    for keep in (False, True):
        plan, found, date = planner(Reader(BytesSource(binascii.unhexlify(hexed))), keep)
        pieces = [[p[0], p[1], p[2]] if p[0] == "range" else [p[0], binascii.hexlify(p[1])
                  .decode()] for p in plan.pieces]
        print(repr([name, keep, pieces, sorted(found), date]))
"""


def _plans(films: dict[str, bytes]) -> list[str]:  # noqa: F811
    """What _PLAN_CODE prints, run here in CPython."""
    from bifoga.media.film_ebml import plan_ebml
    from bifoga.media.film_meta import plan_iso
    from bifoga.media.source import Reader

    lines = []
    for name, data in films.items():
        planner = plan_ebml if name.endswith(".webm") else plan_iso
        for keep in (False, True):
            plan, found, date = planner(Reader(BytesSource(data)), keep)
            pieces = [list(p) if p[0] == "range" else [p[0], p[1].hex()] for p in plan.pieces]
            lines.append(repr([name, keep, pieces, sorted(found), date]))
    return lines


def test_film_modules_fit_micropython() -> None:
    for module in _MODULES:
        imported = assert_fits_micropython(REPO / "bifoga" / "media" / (module + ".py"))
        assert imported <= {"binascii"} | {"bifoga.media." + m for m in _MODULES}, module


@pytest.mark.skipif(not micropython_available(), reason="node or MicroPython missing")
def test_micropython_plans_films_as_cpython_does(films: dict[str, bytes]) -> None:  # noqa: F811
    chosen = {name: films[name] for name in ("gopro.mp4", "iphone.mov", "tags.webm")}
    chosen["gopro_stz2.mp4"] = gopro_film(size_box=b"stz2", bits=16, offset_box=b"co64")[0]
    files = repo_files(*("bifoga.media." + m for m in _MODULES))
    code = "FILMS = %s\n%s" % (json.dumps([[n, d.hex()] for n, d in chosen.items()]),
                               _PLAN_CODE)
    got = run_micropython(code, files, timeout=120).strip().splitlines()
    assert got == _plans(chosen)
    assert any("'bytes', '0000" in line for line in got)  # the GPMF samples, zeroed
