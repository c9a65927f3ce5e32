"""HEIC/HEIF metadata removal (bifoga.media.metadata): in-place scrubbing of the Exif and XMP items.

Synthetic files are built box by box here (fake HEVC bytes, piexif-made Exif), so the logic is
covered without any tool. When libheif's command-line tools (heif-enc, heif-convert: Debian
libheif-examples) and exiftool (libimage-exiftool-perl) are installed, real HEIC files are made
and checked with them as well (the same boxes around real HEVC data, decoded by libheif).
The assertions use the small independent parser below, deliberately not bifoga's own code.
"""

from __future__ import annotations

import io
import json
import shutil
import struct
import subprocess
import time
from dataclasses import dataclass

import piexif
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from bifoga.media import metadata
from bifoga.media.imaging import transpose_for
from bifoga.media.metadata import MetadataError
from tests import fixtures_images as fx
from tests.bounds import RUNAWAY_SECONDS

# ---------------------------------------------------------------------------------------------
# Building HEIF files


def box(btype: bytes, *parts: bytes) -> bytes:
    payload = b"".join(parts)
    return struct.pack(">I", 8 + len(payload)) + btype + payload


def full(btype: bytes, version: int, flags: int, *parts: bytes) -> bytes:
    return box(btype, bytes([version]) + flags.to_bytes(3, "big"), *parts)


def u16(v: int) -> bytes:
    return struct.pack(">H", v)


def u32(v: int) -> bytes:
    return struct.pack(">I", v)


FAKE_HVCC = b"\x01" + b"fake HEVC decoder configuration record"
FAKE_CODED = bytes((i * 37 + 11) & 255 for i in range(1500))  # stands in for the HEVC tiles
GPS_TIFF = fx.rich_exif(orientation=6, thumbnail=True)[6:]  # piexif: big-endian TIFF block
GPS_IFD = fx.gps_ifd_bytes(GPS_TIFF)
GPS_BLOBS = (GPS_IFD, fx.gps_rational_bytes())


def exif_item(tiff: bytes = GPS_TIFF, apple: bool = True) -> bytes:
    """An Exif item payload: the offset of the TIFF header, then (Apple) "Exif\\0\\0" and TIFF."""
    return u32(6) + b"Exif\x00\x00" + tiff if apple else u32(0) + tiff


EXIF = exif_item()


@dataclass
class Heif:
    data: bytes
    exif: list[tuple[int, int]]  # absolute byte ranges of the Exif item
    xmp: list[tuple[int, int]]  # ... of the XMP item
    image: list[tuple[int, int]]  # ... of the coded picture

    def payload(self, data: bytes, ranges: list[tuple[int, int]]) -> bytes:
        return b"".join(data[s:e] for s, e in ranges)


def make_heif(
    *,
    exif: bytes | None = EXIF,
    xmp: bytes | None = fx.XMP,
    irot: int | None = 1,
    imir: int | None = None,
    split: bool = True,
    exif_in_idat: bool = False,
    hvcc: bytes = FAKE_HVCC,
    coded: bytes = FAKE_CODED,
    size: tuple[int, int] = (96, 64),
    mdat_extra: bytes = b"",
    brand: bytes = b"heic",
    brands: tuple[bytes, ...] | None = None,
    lead: bytes = b"",
    exif_type: bytes = b"Exif",
    exif_method: int | None = None,
    exif_length_delta: int = 0,
    meta_extra: bytes = b"",
    top_extra: bytes = b"",
    properties_extra: bytes = b"",
) -> Heif:
    """ftyp, meta{hdlr, pitm, iinf{hvc1, Exif, mime XMP}, iloc v1, iprp{ipco{hvcC, ispe, irot,
    imir}, ipma}, iref cdsc, [idat]}, [top_extra], mdat. With ``split`` the picture and the Exif
    have two extents each, interleaved in mdat: picture A, Exif 1, picture B, Exif 2, XMP. The
    Exif goes into idat (construction method 1) with ``exif_in_idat``."""
    brands = brands or (brand, b"mif1", brand, b"miaf")
    ftyp = lead + box(b"ftyp", brands[0], u32(0), *brands[1:])  # (lead: boxes before ftyp)
    half = len(coded) // 2
    cut = len(exif or b"") // 3
    segments = []  # the mdat payload
    if exif is None or exif_in_idat:
        segments.append(("image", coded))
    elif split:
        segments += [("image", coded[:half]), ("exif", exif[:cut]), ("image", coded[half:]),
                     ("exif", exif[cut:])]  # fmt: skip
    else:
        segments += [("image", coded), ("exif", exif)]
    if xmp is not None:
        segments.append(("xmp", xmp))
    segments.append(("extra", mdat_extra))

    def build(mdat_body: int, meta_start: int) -> tuple[bytes, dict[str, list]]:
        ranges: dict[str, list] = {"image": [], "exif": [], "xmp": [], "extra": []}
        pos = mdat_body
        for tag, part in segments:
            ranges[tag].append((pos, pos + len(part)))
            pos += len(part)
        infes = [full(b"infe", 2, 0, u16(1), u16(0), b"hvc1", b"\x00")]
        if exif is not None:
            infes.append(full(b"infe", 2, 1, u16(2), u16(0), exif_type, b"\x00"))
        if xmp is not None:
            infes.append(
                full(b"infe", 2, 1, u16(3), u16(0), b"mime", b"\x00application/rdf+xml\x00")
            )

        def entry(item_id: int, method: int, base: int, extents) -> bytes:
            ext = b"".join(u32(o) + u32(n) for o, n in extents)
            return u16(item_id) + u16(method) + u16(0) + u32(base) + u16(len(extents)) + ext

        base = ranges["image"][0][0]
        entries = [entry(1, 0, base, [(s - base, e - s) for s, e in ranges["image"]])]
        if exif is not None:
            if exif_in_idat:
                method, ext = 1, [(0, cut), (cut, len(exif) - cut)]
            else:
                method, ext = 0, [(s, e - s) for s, e in ranges["exif"]]
            ext[0] = (ext[0][0], ext[0][1] + exif_length_delta)
            entries.append(entry(2, method if exif_method is None else exif_method, 0, ext))
        if xmp is not None:
            entries.append(entry(3, 0, 0, [(s, e - s) for s, e in ranges["xmp"]]))
        props = [box(b"hvcC", hvcc), full(b"ispe", 0, 0, u32(size[0]), u32(size[1]))]
        assoc = [0x81, 0x02]
        for ptype, value in ((b"irot", irot), (b"imir", imir)):
            if value is not None:
                props.append(box(ptype, bytes([value])))
                assoc.append(0x80 | len(props))
        ipma = full(b"ipma", 0, 0, u32(1), u16(1), bytes([len(assoc)]), bytes(assoc))
        refs = [box(b"cdsc", u16(i), u16(1), u16(1)) for i in (2, 3) if len(infes) >= i]
        children = [
            full(b"hdlr", 0, 0, u32(0), b"pict", bytes(12), b"\x00"),
            full(b"pitm", 0, 0, u16(1)),
            full(b"iinf", 0, 0, u16(len(infes)), *infes),
            full(b"iloc", 1, 0, bytes([0x44, 0x40]), u16(len(entries)), *entries),
            box(b"iprp", box(b"ipco", *props, properties_extra), ipma),
            full(b"iref", 0, 0, *refs),
            meta_extra,
        ]
        if exif is not None and exif_in_idat:
            idat_body = meta_start + len(full(b"meta", 0, 0, *children)) + 8
            ranges["exif"] = [
                (idat_body, idat_body + cut),
                (idat_body + cut, idat_body + len(exif)),
            ]
            children.append(box(b"idat", exif))
        return full(b"meta", 0, 0, *children), ranges

    probe, _ = build(0, len(ftyp))
    meta, ranges = build(len(ftyp) + len(probe) + len(top_extra) + 8, len(ftyp))
    assert len(meta) == len(probe)
    mdat = box(b"mdat", *(part for _, part in segments))
    return Heif(ftyp + meta + top_extra + mdat, ranges["exif"], ranges["xmp"], ranges["image"])


# ---------------------------------------------------------------------------------------------
# An independent reader for the assertions (simple layouts only)


def boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    out, pos = [], start
    while pos < end:
        size, btype = struct.unpack_from(">I4s", data, pos)
        assert size >= 8
        out.append((btype, pos + 8, pos + size))
        pos += size
    return out


def items(data: bytes) -> dict[int, tuple[bytes, list[tuple[int, int]]]]:
    """item ID -> (item type, absolute byte ranges) for iloc v0/v1 and infe v2."""
    (meta,) = [(s, e) for t, s, e in boxes(data, 0, len(data)) if t == b"meta"]
    children = {t: (s, e) for t, s, e in boxes(data, meta[0] + 4, meta[1])}
    s, e = children[b"iinf"]
    types = {}
    for _, p, _ in boxes(data, s + 4 + (2 if data[s] == 0 else 4), e):
        item_id, _prot, itype = struct.unpack_from(">HH4s", data, p + 4)
        types[item_id] = itype
    s, _ = children[b"iloc"]
    version = data[s]
    off_size, len_size = data[s + 4] >> 4, data[s + 4] & 15
    base_size, index_size = data[s + 5] >> 4, data[s + 5] & 15 if version else 0
    pos = s + 8
    (count,) = struct.unpack_from(">H", data, s + 6)

    def read(size: int) -> int:
        nonlocal pos
        pos += size
        return int.from_bytes(data[pos - size : pos], "big")

    out = {}
    for _ in range(count):
        item_id = read(2)
        method = read(2) & 15 if version else 0
        read(2)
        base = read(base_size)
        ranges = []
        for _ in range(read(2)):
            read(index_size)
            off, length = read(off_size), read(len_size)
            lo = children[b"idat"][0] + 8 if method == 1 else 0
            ranges.append((lo + base + off, lo + base + off + length))
        out[item_id] = (types[item_id], ranges)
    return out


def item_payload(data: bytes, item_type: bytes) -> bytes:
    (ranges,) = [r for t, r in items(data).values() if t == item_type]
    return b"".join(data[s:e] for s, e in ranges)


def tiff_of(payload: bytes) -> bytes:
    offset = int.from_bytes(payload[:4], "big")
    return payload[4 + offset :]


def outside(data: bytes, ranges: list[tuple[int, int]]) -> bytes:
    """The bytes of ``data`` outside ``ranges``, with a marker where a range was cut out."""
    parts, pos = [], 0
    for s, e in sorted(ranges):
        parts += [data[pos:s], b"<cut>"]
        pos = e
    return b"".join(parts) + data[pos:]


def assert_no_gps(out: bytes) -> None:
    for blob in GPS_BLOBS:
        assert blob not in out
    for secret in (fx.BODY_SERIAL, fx.LENS_SERIAL, fx.OWNER, fx.MAKER_NOTE, fx.MAKE, fx.MODEL,
                   b"XMP-SECRET-42", b"59,20.123N"):  # fmt: skip
        assert secret not in out


# ---------------------------------------------------------------------------------------------
# Synthetic files


def test_synthetic_file_reads_back():
    h = make_heif()
    found = items(h.data)
    assert found[1] == (b"hvc1", h.image) and found[2] == (b"Exif", h.exif)
    assert found[3] == (b"mime", h.xmp)
    assert h.payload(h.data, h.image) == FAKE_CODED
    assert h.payload(h.data, h.exif) == exif_item()
    assert GPS_IFD in h.data and fx.BODY_SERIAL in h.data


def test_inspect():
    report = metadata.inspect(make_heif().data)
    assert report.format == "heic"
    assert report.found == ["gps", "camera", "maker_notes", "datetime", "xmp", "comment",
                            "thumbnail", "other_exif"]  # fmt: skip
    assert report.capture_date == "2025-03-14T15:09:26"
    assert report.orientation == 8  # irot 1: 90 degrees anti-clockwise (not the Exif's 6)
    assert not report.icc
    mif1 = make_heif(brand=b"mif1")
    assert metadata.inspect(mif1.data).format == "heif"


@pytest.mark.parametrize("apple", [True, False])
@pytest.mark.parametrize(
    "kind", ["split", "single", "idat"]
)  # two extents interleaved with picture data, one extent, in idat (construction method 1)
def test_strip(apple, kind):
    h = make_heif(exif=exif_item(apple=apple), split=kind != "single", exif_in_idat=kind == "idat")
    data = h.data
    assert GPS_IFD in data
    result = metadata.strip(data)
    out = result.data
    assert len(out) == len(data)
    assert result.lossless and result.orientation == 8
    assert result.removed == ["gps", "camera", "maker_notes", "datetime", "xmp", "comment",
                              "thumbnail", "other_exif"]  # fmt: skip
    assert_no_gps(out)
    # only the Exif and XMP extents changed; the picture data is byte for byte the same
    assert outside(out, h.exif + h.xmp) == outside(data, h.exif + h.xmp)
    assert h.payload(out, h.image) == FAKE_CODED
    assert items(out) == items(data)
    # the new Exif: valid, only the EXIF Orientation (for readers that go by it rather than by
    # irot) in it, same convention ("Exif\0\0" or not) as before
    new_exif = h.payload(out, h.exif)
    assert len(new_exif) == len(exif_item(apple=apple))
    assert new_exif.startswith(u32(6) + b"Exif\x00\x00" if apple else u32(0) + b"II*\x00")
    loaded = piexif.load(tiff_of(new_exif))
    assert loaded["0th"] == {piexif.ImageIFD.Orientation: 6}
    assert not any(loaded[ifd] for ifd in ("Exif", "GPS", "Interop", "1st"))
    assert loaded["thumbnail"] is None
    # the XMP: an empty packet of the same length
    new_xmp = h.payload(out, h.xmp)
    assert len(new_xmp) == len(fx.XMP) and new_xmp.startswith(b"<?xpacket begin=")
    assert new_xmp.endswith(b"<?xpacket end='w'?>") and b"rdf:" not in new_xmp
    # nothing left to remove, and stripping again changes nothing
    assert metadata.inspect(out).found == []
    again = metadata.strip(out)
    assert again.data == out and again.removed == []


def test_keep_capture_date():
    h = make_heif()
    result = metadata.strip(h.data, keep_capture_date=True)
    assert "datetime" not in result.removed and "gps" in result.removed
    assert_no_gps(result.data)
    loaded = piexif.load(tiff_of(h.payload(result.data, h.exif)))
    assert loaded["Exif"] == {piexif.ExifIFD.DateTimeOriginal: fx.DATE_ORIGINAL}
    assert set(loaded["0th"]) <= {piexif.ImageIFD.ExifTag, piexif.ImageIFD.Orientation}
    assert loaded["0th"][piexif.ImageIFD.Orientation] == 6
    assert not loaded["GPS"] and not loaded["1st"]
    report = metadata.inspect(result.data)
    assert report.found == ["datetime"] and report.capture_date == "2025-03-14T15:09:26"


def test_keep_capture_date_without_room():
    """An Exif item too short for the date as bifoga writes it (4 + 64 bytes): the date goes
    too, and the result says so."""
    # 60 bytes: piexif leaves out the Exif IFD's next-IFD field
    dated = piexif.dump({"Exif": {piexif.ExifIFD.DateTimeOriginal: fx.DATE_ORIGINAL}})[6:]
    h = make_heif(exif=exif_item(dated, apple=False))
    assert len(h.payload(h.data, h.exif)) == 64
    assert metadata.inspect(h.data).found == ["datetime", "xmp"]
    result = metadata.strip(h.data, keep_capture_date=True)
    assert result.removed == ["datetime", "xmp"]
    assert piexif.load(tiff_of(h.payload(result.data, h.exif)))["Exif"] == {}


@pytest.mark.parametrize(
    ("irot", "imir", "orientation"),
    [
        (None, None, None),
        (0, None, 1),
        (1, None, 8),
        (2, None, 3),
        (3, None, 6),
        (None, 0, 4),  # ISO/IEC 23008-12:2022: axis 0 exchanges top and bottom
        (None, 1, 2),
        (1, 1, 7),
        (3, 1, 5),
        (1, 0, 5),
        (2, 0, 2),
    ],
)
def test_orientation_from_irot_imir(irot, imir, orientation):
    data = make_heif(irot=irot, imir=imir).data
    assert metadata.inspect(data).orientation == orientation
    assert metadata.strip(data).orientation == orientation


def test_unreferenced_data_and_metadata_boxes_are_removed():
    """Bytes in mdat that no item uses, an XMP 'uuid' box, an 'xml ' box in meta, descriptive
    properties: all gone, nothing moved."""
    secret = b"UNREFERENCED" + GPS_IFD + fx.gps_rational_bytes()
    xmp_uuid = box(b"uuid", bytes.fromhex("be7acfcb97a942e89c71999491e3afac"), fx.XMP)
    h = make_heif(
        mdat_extra=secret,
        top_extra=xmp_uuid + box(b"mpvd", b"motion photo video" + GPS_IFD),
        meta_extra=box(b"xml ", b"<x>XML-SECRET</x>"),
        properties_extra=full(b"udes", 0, 0, b"sv\x00UDES-SECRET\x00\x00\x00")
        + full(b"crtt", 1, 0, struct.pack(">Q", 3_800_000_000)),
    )
    assert metadata.inspect(h.data).found == ["gps", "camera", "maker_notes", "datetime", "xmp",
                                              "comment", "thumbnail", "other_exif"]  # fmt: skip
    out = metadata.strip(h.data).data
    assert len(out) == len(h.data)
    assert_no_gps(out)
    for gone in (b"UNREFERENCED", b"XML-SECRET", b"UDES-SECRET", b"motion photo", b"uuid"):
        assert gone not in out
    assert struct.pack(">Q", 3_800_000_000) not in out
    assert out.count(b"free") == 3 and h.payload(out, h.image) == FAKE_CODED
    assert items(out) == items(h.data)


def test_icc_is_reported_and_kept():
    icc = fx.srgb_icc()
    h = make_heif(properties_extra=box(b"colr", b"prof", icc))
    assert metadata.inspect(h.data).icc
    assert icc in metadata.strip(h.data).data


def test_exif_orientation_1_or_none_is_not_written_back():
    for orientation in (None, 1):
        tiff = fx.rich_exif(orientation=orientation, thumbnail=False)[6:]
        h = make_heif(exif=exif_item(tiff))
        loaded = piexif.load(tiff_of(h.payload(metadata.strip(h.data).data, h.exif)))
        assert not loaded["0th"]


@pytest.mark.parametrize(
    "brands",
    [
        (b"heic", b"mif1", b"heic"),
        (b"mif1", b"mif1", b"heic"),
        (b"mif1", b"mif1", b"miaf"),
        (b"hevm", b"hevm", b"miaf"),  # brands not in the colleague's first list
        (b"mif2", b"mif2"),
        (b"heis", b"msf1"),
        (b"avif", b"mif1", b"heic"),
        (b"mif1", b"avif", b"heic"),
    ],
)
@pytest.mark.parametrize("lead", [b"", box(b"free", b"padding")])  # ftyp need not come first
def test_whatever_the_sniffer_lets_through_is_scrubbed(brands, lead):
    """bifoga.media.sniff passes HEIF as image/heic or image/heif by the same brand rules: any such
    file must be recognised here (an unrecognised file would travel unchanged)."""
    from bifoga.media import containers, sniff

    data = make_heif(brands=brands, lead=lead).data
    verdict = sniff.classify(data, "IMG_0001.HEIC")
    assert verdict.mime == containers.inspect_isobmff(data).mime
    expected = {"image/heic": "heic", "image/heif": "heif", None: "avif"}[verdict.mime]
    assert metadata.detect_format(data) == expected
    if expected != "avif":
        result = metadata.strip(data)
        assert "gps" in result.removed and len(result.data) == len(data)
        assert_no_gps(result.data)


def test_file_without_metadata_is_unchanged():
    h = make_heif(exif=None, xmp=None)
    result = metadata.strip(h.data)
    assert result.data == h.data and result.removed == [] and result.orientation == 8


def test_refused():
    data = make_heif().data
    bad = [
        make_heif(exif_length_delta=10_000).data,  # Exif extent past the end of the file
        make_heif(exif_length_delta=3).data,  # Exif overlaps the picture data
        make_heif(exif_length_delta=3, split=False).data,  # Exif overlaps the XMP
        make_heif(exif_type=b"Exig").data,  # unknown item type
        make_heif(exif_method=2).data,  # Exif built from another item
        make_heif(exif_in_idat=True, exif_method=0).data,  # Exif "in the file" at idat offsets
        data.replace(b"meta", b"mexa", 1),  # no meta box, but data
        data.replace(b"pitm", b"pitx", 1),  # no primary item
        data.replace(b"iloc", b"ilox", 1),
        data.replace(b"\x00\x03\x00\x00mime", b"\x00\x01\x00\x00mime", 1),  # ID twice
        b"\x00\x00\x00\x10" + data[4:],  # ftyp shorter than its brands
    ]
    for corrupt in bad:
        with pytest.raises(MetadataError):
            metadata.inspect(corrupt)
        with pytest.raises(MetadataError):
            metadata.strip(corrupt)


def test_ftyp_swallowing_the_file_is_refused():
    data = make_heif().data
    for size in (0, len(data)):  # size 0: "up to the end of the file"
        with pytest.raises(MetadataError):
            metadata.strip(size.to_bytes(4, "big") + data[4:])


def make_sequence(handler: bytes = b"pict", mdat: bytes = FAKE_CODED) -> bytes:
    """A HEIF image sequence (msf1): moov{mvhd, udta{\xa9xyz}, trak{tkhd, udta, mdia{hdlr}}}."""
    position = box(b"\xa9xyz", u16(18) + u16(0) + b"+59.3356+018.0679/")
    trak = box(
        b"trak",
        full(b"tkhd", 0, 3, bytes(80)),
        box(b"udta", box(b"name", b"TRACK-SECRET")),
        box(b"mdia", full(b"hdlr", 0, 0, u32(0), handler, bytes(12), b"\x00")),
    )
    moov = box(b"moov", full(b"mvhd", 0, 0, bytes(96)), box(b"udta", position), trak)
    return box(b"ftyp", b"msf1", u32(0), b"msf1hevc") + moov + box(b"mdat", mdat)


def test_image_sequence():
    data = make_sequence()
    assert metadata.detect_format(data) == "heic"
    result = metadata.strip(data)
    out = result.data
    assert len(out) == len(data) and result.removed == ["gps", "other_exif"]
    assert b"+59.3356" not in out and b"TRACK-SECRET" not in out and out.count(b"free") == 2
    assert out.endswith(box(b"mdat", FAKE_CODED))
    with pytest.raises(MetadataError):  # a timed metadata track
        metadata.strip(make_sequence(handler=b"meta"))
    with pytest.raises(MetadataError, match="GPS"):  # Exif in the media data
        metadata.strip(make_sequence(mdat=FAKE_CODED + GPS_TIFF))


def test_truncated():
    data = make_heif().data
    ftyp_end = int.from_bytes(data[:4], "big")
    for cut in range(12, len(data), 7):  # from the major brand on: recognised as HEIC
        if cut == ftyp_end:
            continue
        with pytest.raises(MetadataError):
            metadata.strip(data[:cut])
    # only the ftyp box: nothing to look at
    assert metadata.strip(data[:ftyp_end]).data == data[:ftyp_end]


def test_gps_hidden_in_picture_data_is_refused():
    """If the position cannot be taken out (here: the same Exif bytes are also part of the
    picture data), the file is refused rather than passed on."""
    coded = FAKE_CODED + exif_item()
    with pytest.raises(MetadataError, match="GPS"):
        metadata.strip(make_heif(coded=coded).data)


def test_large_file_is_fast():
    coded = bytes(range(256)) * 40_000  # 10 MB of "tiles"
    h = make_heif(coded=coded)
    start = time.perf_counter()
    out = metadata.strip(h.data).data
    assert time.perf_counter() - start < RUNAWAY_SECONDS
    assert_no_gps(out)
    assert h.payload(out, h.image) == coded


def test_pathological_boxes_are_bounded():
    ftyp = box(b"ftyp", b"heic", u32(0), b"mif1heic")
    cases = [
        ftyp + box(b"free", b"") * 200_000,
        ftyp + full(b"meta", 0, 0, box(b"free", b"") * 200_000),
    ]
    for data in cases:
        start = time.perf_counter()
        with pytest.raises(MetadataError):
            metadata.strip(data)
        assert time.perf_counter() - start < RUNAWAY_SECONDS


# ---------------------------------------------------------------------------------------------
# Property tests: mutated synthetic files


def _check(data: bytes) -> None:
    start = time.perf_counter()
    try:
        result = metadata.strip(data)
        metadata.inspect(data)
        kept = metadata.strip(data, keep_capture_date=True)
    except MetadataError:
        return
    assert time.perf_counter() - start < RUNAWAY_SECONDS
    for out in (result.data, kept.data):
        assert isinstance(out, bytes)
        if metadata.detect_format(data) in ("heic", "heif"):
            assert len(out) == len(data)
            for blob in GPS_BLOBS:
                assert blob not in out


_SAMPLES = [
    make_heif().data,
    make_heif(split=False, irot=None, imir=1).data,
    make_heif(exif_in_idat=True).data,
    make_heif(exif=exif_item(apple=False), mdat_extra=b"tail" + fx.gps_rational_bytes()).data,
]
_META_END = max(int.from_bytes(d[:4], "big") + int.from_bytes(d[28:32], "big") for d in _SAMPLES)


@settings(max_examples=400, deadline=1000, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(range(len(_SAMPLES))),
    st.lists(
        st.tuples(st.integers(0, _META_END), st.integers(0, 255)), min_size=1, max_size=4
    ),  # mostly in the box structure, where it matters
    st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=2),
    st.one_of(st.none(), st.floats(0, 1)),
)
def test_mutated_heif(sample, meta_edits, edits, cut):
    data = bytearray(_SAMPLES[sample])
    for where, value in meta_edits:
        data[min(where, len(data) - 1)] = value
    for where, value in edits:
        data[int(where * len(data))] = value
    if cut is not None:
        data = data[: int(cut * len(data))]
    _check(bytes(data))


@settings(max_examples=200, deadline=1000)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_after_ftyp(tail):
    _check(box(b"ftyp", b"heic", u32(0), b"mif1heic") + tail)
    _check(box(b"ftyp", b"heic", u32(0), b"mif1heic") + full(b"meta", 0, 0, tail))


# ---------------------------------------------------------------------------------------------
# Real HEIC files (libheif's heif-enc / heif-convert, exiftool)

TOOLS = ("heif-enc", "heif-convert", "exiftool")
needs_tools = pytest.mark.skipif(
    not all(shutil.which(t) for t in TOOLS),
    reason="heif-enc/heif-convert (libheif-examples) and exiftool are not installed",
)


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def heic_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("heic")


@pytest.fixture(scope="module")
def plain_heic(heic_dir) -> bytes:
    """The test picture encoded by libheif, no metadata."""
    fx.picture().save(heic_dir / "in.png")
    _run("heif-enc", "-q", "90", "-o", str(heic_dir / "plain.heic"), str(heic_dir / "in.png"))
    return (heic_dir / "plain.heic").read_bytes()


@pytest.fixture(scope="module", params=["exiftool", "libheif"])
def real_heic(request, heic_dir) -> tuple[str, bytes]:
    """A HEIC made by libheif, with GPS, serials, camera, date and XMP, either added by exiftool
    (which appends Exif and XMP items to mdat) or copied by libheif itself from a JPEG's EXIF
    (Orientation 6 in the Exif, no irot; with a thumbnail item)."""
    path = heic_dir / f"real_{request.param}.heic"
    if request.param == "exiftool":
        fx.picture().save(heic_dir / "in.png")
        _run("heif-enc", "-q", "90", "-o", str(path), str(heic_dir / "in.png"))
        _run("exiftool", "-q", "-overwrite_original",
             "-GPSLatitude=59.335589", "-GPSLatitudeRef=N", "-GPSLongitude=18.067889",
             "-GPSLongitudeRef=E", "-GPSAltitude=42", "-Make=AcmePhone",
             "-Model=AcmePhone X9 Pro", "-SerialNumber=BODYSN-0042137",
             "-LensSerialNumber=LENSSN-7781100", "-DateTimeOriginal=2025:03:14 15:09:26",
             "-XMP-dc:Creator=XMP-SECRET-42", str(path))  # fmt: skip
    else:
        (heic_dir / "in.jpg").write_bytes(fx.rich_jpeg(trailer=False))
        _run("heif-enc", "-q", "90", "-t", "32", "-o", str(path), str(heic_dir / "in.jpg"))
    return request.param, path.read_bytes()


def exiftool_tags(path) -> dict:
    out = subprocess.run(["exiftool", "-j", "-a", "-G1", "-n", str(path)], check=True,
                         capture_output=True, timeout=60).stdout  # fmt: skip
    return json.loads(out)[0]


def heif_decode(path, heic_dir) -> Image.Image:
    png = heic_dir / (path.stem + ".png")
    _run("heif-convert", str(path), str(png))
    im = Image.open(io.BytesIO(png.read_bytes()))
    im.load()
    return im.convert("RGB")


@needs_tools
def test_real_heic(real_heic, heic_dir):
    writer, data = real_heic
    original = heic_dir / f"original_{writer}.heic"
    original.write_bytes(data)
    before = exiftool_tags(original)
    assert before["GPS:GPSLatitude"] == pytest.approx(59.336, abs=1e-2)
    assert before["ExifIFD:SerialNumber"] == "BODYSN-0042137"
    report = metadata.inspect(data)
    assert report.format == "heic" and report.orientation is None  # no irot/imir
    assert {"gps", "camera", "datetime"} <= set(report.found)
    assert report.capture_date == "2025-03-14T15:09:26"
    found = items(data)
    assert {b"hvc1", b"Exif", b"mime"} <= {t for t, _ in found.values()}
    tiff = tiff_of(item_payload(data, b"Exif"))
    gps = fx.gps_ifd_bytes(tiff)
    assert gps in data
    pixels = heif_decode(original, heic_dir).tobytes()
    for keep in (False, True):
        result = metadata.strip(data, keep_capture_date=keep)
        out = result.data
        assert len(out) == len(data) and result.lossless and "gps" in result.removed
        assert gps not in out and b"BODYSN" not in out and b"AcmePhone" not in out
        assert b"XMP-SECRET" not in out
        meta_ranges = [r for t, rs in found.values() if t in (b"Exif", b"mime") for r in rs]
        assert outside(out, meta_ranges) == outside(data, meta_ranges)
        path = heic_dir / f"clean_{writer}_{keep}.heic"
        path.write_bytes(out)
        tags = exiftool_tags(path)
        assert not [k for k in tags if k.startswith("GPS:") or "Serial" in k]
        assert "IFD0:Make" not in tags and "XMP-dc:Creator" not in tags
        assert not [k for k in tags if "Warning" in k or "Error" in k]
        assert tags.get("ExifIFD:DateTimeOriginal") == ("2025:03:14 15:09:26" if keep else None)
        assert tags.get("IFD0:Orientation") == before.get("IFD0:Orientation")
        assert heif_decode(path, heic_dir).tobytes() == pixels  # libheif: the same pixels


@needs_tools
@pytest.mark.parametrize(("irot", "imir"), [(1, None), (3, None), (None, 0), (None, 1), (1, 1)])
def test_orientation_matches_libheif(plain_heic, heic_dir, irot, imir):
    """The same real HEVC data in a synthetic file with irot/imir: libheif's decoding (which
    applies them) equals the plain decoding turned by Pillow as the reported EXIF orientation
    says."""
    real_heic = plain_heic
    found = items(real_heic)
    (image,) = [r for t, r in found.values() if t == b"hvc1"]
    coded = b"".join(real_heic[s:e] for s, e in image)
    (meta,) = [(s, e) for t, s, e in boxes(real_heic, 0, len(real_heic)) if t == b"meta"]
    iprp = [(s, e) for t, s, e in boxes(real_heic, meta[0] + 4, meta[1]) if t == b"iprp"][0]
    ipco = [(s, e) for t, s, e in boxes(real_heic, *iprp) if t == b"ipco"][0]
    hvcc = [real_heic[s:e] for t, s, e in boxes(real_heic, *ipco) if t == b"hvcC"][0]

    def decode(irot, imir) -> tuple[Image.Image, int | None]:
        h = make_heif(hvcc=hvcc, coded=coded, irot=irot, imir=imir, split=False)
        path = heic_dir / f"turned_{irot}_{imir}.heic"
        path.write_bytes(metadata.strip(h.data).data)
        return heif_decode(path, heic_dir), metadata.inspect(h.data).orientation

    plain, none = decode(None, None)
    assert none is None and plain.size == (96, 64)
    turned, orientation = decode(irot, imir)
    method = transpose_for(orientation)
    assert turned.tobytes() == plain.transpose(method).tobytes()
