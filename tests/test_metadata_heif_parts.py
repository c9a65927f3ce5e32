"""Unit tests of the HEIF remover's steps (bifoga/media/heif_meta.py), one per box or stage, on
boxes built here; tests/test_metadata_heif.py tests the whole on complete files."""

from __future__ import annotations

import pytest

from bifoga.media.heif_boxes import _Box, _heif_boxes, _Item
from bifoga.media.heif_meta import (
    _XMP_HEAD,
    _heif_item_ranges,
    _heif_meta_children,
    _heif_new_payload,
    _heif_pitm,
    _heif_read_items,
    _heif_scrub_placed,
    _heif_top,
    _heif_xmp_payload,
    _heif_zero_unused,
)
from bifoga.media.meta_common import MetadataError, _Acc
from tests.test_metadata_heif import EXIF, GPS_TIFF, box, full, u16, u32

FTYP = box(b"ftyp", b"heic", u32(0), b"mif1heic")
REQUIRED = [
    full(b"hdlr", 0, 0, u32(0), b"pict", bytes(12), b"\x00"),
    full(b"pitm", 0, 0, u16(1)),
    full(b"iinf", 0, 0, u16(0)),
    full(b"iloc", 1, 0, bytes([0x44, 0x40]), u16(0)),
    box(b"iprp", box(b"ipco")),
]


def only_box(data: bytes) -> _Box:
    (found,) = _heif_boxes(data, 0, len(data), "the test", [100])
    return found


# --- top level


def test_top_finds_meta_moov_and_the_data_boxes() -> None:
    meta, mdat, free = full(b"meta", 0, 0), box(b"mdat", b"abc"), box(b"free", b"x")
    data = FTYP + meta + mdat + free
    found_meta, moov, holders = _heif_top(data, [100])
    assert (found_meta.type, found_meta.start, moov) == (b"meta", len(FTYP), None)
    assert [(b.type, b.start) for b in holders] == [
        (b"mdat", len(FTYP + meta)), (b"free", len(FTYP + meta + mdat))
    ]
    no_meta, moov, holders = _heif_top(FTYP + box(b"moov") + mdat, [100])
    assert (no_meta, moov.type, moov.start, moov.end) == (None, b"moov", len(FTYP), len(FTYP) + 8)
    assert [b.type for b in holders] == [b"mdat"]


@pytest.mark.parametrize("data, message", [
    (box(b"ftyp", bytes(1100)), "oversized ftyp"),
    (FTYP + full(b"meta", 0, 0) + full(b"meta", 0, 0), "more than one meta"),
    (FTYP + box(b"moov") + box(b"moov"), "more than one meta or moov"),
])  # fmt: skip
def test_top_refuses(data: bytes, message: str) -> None:
    with pytest.raises(MetadataError, match=message):
        _heif_top(data, [100])


# --- meta


def test_meta_children_keeps_the_structure_and_frees_metadata_boxes() -> None:
    xml = box(b"xml ", b"<x:xmpmeta/>")
    data = full(b"meta", 0, 0, *REQUIRED, xml, box(b"grpl"))
    out, acc = bytearray(data), _Acc("heif")
    children = _heif_meta_children(data, out, only_box(data), acc, [100])
    assert sorted(children) == sorted([b"hdlr", b"pitm", b"iinf", b"iloc", b"iprp"])
    at = data.index(xml)
    assert out[at + 4 : at + 8] == b"free" and not any(out[at + 8 : at + len(xml)])
    assert acc.found == {"xmp"}
    assert out[data.index(b"grpl") - 4 :] == data[data.index(b"grpl") - 4 :]  # kept


@pytest.mark.parametrize("children, message", [
    (REQUIRED + [REQUIRED[1]], "more than one b'pitm'"),
    (REQUIRED[:4], "no b'iprp'"),
])  # fmt: skip
def test_meta_children_refuses(children: list[bytes], message: str) -> None:
    data = full(b"meta", 0, 0, *children)
    with pytest.raises(MetadataError, match=message):
        _heif_meta_children(data, bytearray(data), only_box(data), _Acc("heif"), [100])


def test_meta_children_refuses_a_short_meta() -> None:
    data = box(b"meta", b"\x00\x00")
    with pytest.raises(MetadataError, match="short meta"):
        _heif_meta_children(data, bytearray(data), only_box(data), _Acc("heif"), [100])


# --- pitm


@pytest.mark.parametrize("pitm", [full(b"pitm", 0, 0, u16(7)), full(b"pitm", 1, 0, u32(7))])
def test_pitm_reads_both_versions(pitm: bytes) -> None:
    assert _heif_pitm(pitm, only_box(pitm), {7: _Item(b"hvc1")}) == 7


@pytest.mark.parametrize("items", [{}, {7: _Item(b"Exif")}])
def test_pitm_refuses_a_primary_item_that_is_no_picture(items: dict) -> None:
    pitm = full(b"pitm", 0, 0, u16(7))
    with pytest.raises(MetadataError, match="primary item is not a picture"):
        _heif_pitm(pitm, only_box(pitm), items)


# --- items and where they lie


def test_item_ranges_sorts_pictures_from_metadata() -> None:
    picture = _Item(b"hvc1", base=100, extents=[(0, 10), (20, 5)])
    derived = _Item(b"grid", method=2)
    exif = _Item(b"Exif", extents=[(50, 8)])
    kept, scrub = _heif_item_ranges({1: picture, 2: derived, 3: exif}, 1000, None)
    assert kept == [(100, 110), (120, 125)]
    assert scrub == [(exif, [(50, 58)])]


@pytest.mark.parametrize("item, message", [
    (_Item(b"Exif", method=2), "metadata item 1 stored elsewhere"),
    (_Item(b"Exif", ref_index=1, extents=[(0, 4)]), "metadata item 1 stored elsewhere"),
    (_Item(b"mp4a"), "item type b'mp4a'"),
])  # fmt: skip
def test_item_ranges_refuses(item: _Item, message: str) -> None:
    with pytest.raises(MetadataError, match=message):
        _heif_item_ranges({1: item}, 1000, None)


def test_scrub_placed_checks_where_metadata_lies() -> None:
    mdat = _Box(b"mdat", 100, 104, 108, 200)
    exif = _Item(b"Exif")
    assert _heif_scrub_placed([mdat], None, [(108, 150)], [(exif, [(170, 180), (150, 160)])]) == [
        (150, 160), (170, 180)
    ]
    with pytest.raises(MetadataError, match="outside the data boxes"):
        _heif_scrub_placed([mdat], None, [], [(exif, [(190, 210)])])
    with pytest.raises(MetadataError, match="overlaps other item data"):
        _heif_scrub_placed([mdat], None, [(108, 150)], [(exif, [(140, 160)])])
    with pytest.raises(MetadataError, match="overlaps other item data"):
        _heif_scrub_placed([mdat], None, [], [(exif, [(110, 130)]), (exif, [(120, 140)])])
    idat = _Box(b"idat", 20, 24, 28, 60)
    assert _heif_scrub_placed([mdat], idat, [], [(exif, [(30, 40)])]) == [(30, 40)]


# --- reading and rewriting the metadata items


def test_read_items_reads_exif_xmp_and_other_items() -> None:
    xmp = b"<x:xmpmeta>secret</x:xmpmeta>"
    data = EXIF + xmp + b"uri!"
    exif_item = _Item(b"Exif")
    xmp_item = _Item(b"mime", content_type=b"application/rdf+xml")
    uri_item = _Item(b"uri ")
    a, b = len(EXIF), len(EXIF) + len(xmp)
    acc = _Acc("heif")
    jobs, first_exif, gps_blobs = _heif_read_items(
        data, [(exif_item, [(0, 10), (10, a)]), (xmp_item, [(a, b)]), (uri_item, [(b, b + 4)])], acc
    )
    assert [(j[2], j[3], j[4]) for j in jobs] == [
        (len(EXIF), "exif", True), (len(xmp), "xmp", False), (4, "zero", False)
    ]
    assert first_exif == (exif_item, 6)
    assert gps_blobs and all(blob in GPS_TIFF for blob in gps_blobs)
    assert {"gps", "xmp", "other_exif"} <= acc.found


def test_read_items_takes_a_blank_xmp_item_as_no_metadata() -> None:
    blank = _heif_xmp_payload(300)
    assert blank.startswith(_XMP_HEAD) and len(blank) == 300
    item = _Item(b"mime", content_type=b"application/rdf+xml")
    acc = _Acc("heif")
    jobs, first_exif, gps_blobs = _heif_read_items(blank, [(item, [(0, 300)])], acc)
    assert (jobs[0][3], first_exif, gps_blobs, acc.found) == ("xmp", None, [], set())


def test_new_payload_writes_orientation_and_date_only_into_the_first_exif() -> None:
    first, other = _Item(b"Exif"), _Item(b"Exif")
    acc = _Acc("heif")
    new = _heif_new_payload(first, 200, "exif", True, (first, 6), "2024:05:01 10:00:00", acc)
    assert len(new) == 200 and new[4:10] == b"Exif\x00\x00" and b"2024:05:01" in new
    again = _heif_new_payload(other, 200, "exif", False, (first, 6), "2024:05:01 10:00:00", acc)
    assert len(again) == 200 and b"2024" not in again and not acc.date_dropped
    _heif_new_payload(first, 40, "exif", False, (first, 1), "2024:05:01 10:00:00", acc)
    assert acc.date_dropped  # no room for the date
    assert _heif_new_payload(other, 5, "zero", False, None, None, acc) == bytes(5)
    assert _heif_new_payload(other, 300, "xmp", False, None, None, acc) == _heif_xmp_payload(300)


def test_zero_unused_zeroes_gaps_and_frees_unused_boxes() -> None:
    mdat, uuid = box(b"mdat", b"P" * 10 + b"junk" + b"Q" * 6), box(b"uuid", b"u" * 20)
    data = mdat + uuid
    holders = _heif_boxes(data, 0, len(data), "the test", [100])
    out, acc = bytearray(data), _Acc("heif")
    _heif_zero_unused(data, out, holders, None, [(8, 18), (22, 28)], acc)
    assert bytes(out[:len(mdat)]) == mdat[:18] + bytes(4) + mdat[22:]
    assert out[len(mdat) + 4 : len(mdat) + 8] == b"free" and not any(out[len(mdat) + 8 :])
    assert "other_exif" in acc.found
