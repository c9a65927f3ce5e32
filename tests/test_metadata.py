"""Lossless metadata removal (bifoga.media.metadata) and the Pillow helpers
(bifoga.media.imaging)."""

from __future__ import annotations

import io
import os
import struct
import time
import zlib

import piexif
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from bifoga.media import imaging, metadata
from bifoga.media.metadata import MetadataError
from tests import fixtures_images as fx
from tests import hostile_images as hostile
from tests.bounds import RUNAWAY_SECONDS
from tests.media import media_path

PNG_SIG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def photo() -> bytes:
    return media_path("photo_gps.jpg").read_bytes()


@pytest.fixture(scope="module")
def photo_gps(photo) -> bytes:
    """The raw bytes of the fixture's GPS IFD, found by an independent parser."""
    return fx.gps_ifd_bytes(fx.exif_tiff_from_jpeg(photo))


def exif_of(data: bytes) -> Image.Exif:
    return Image.open(io.BytesIO(data)).getexif()


def assert_no_gps(out: bytes, *gps_blobs: bytes) -> None:
    for blob in gps_blobs:
        assert blob not in out
    exif = exif_of(out)
    assert 0x8825 not in exif
    assert not exif.get_ifd(0x8825)


# ---------------------------------------------------------------------------------------------
# JPEG: the real phone photo


def test_fixture_really_carries_gps(photo, photo_gps):
    exif = exif_of(photo)
    assert exif[0x0112] == 6 and exif[0x010F] == "Google"
    assert exif.get_ifd(0x8825)[2] == (59.0, 19.0, 48.0)
    assert photo_gps in photo and len(photo_gps) > 50
    report = metadata.inspect(photo)
    assert report.format == "jpeg"
    assert {"gps", "camera", "datetime"} <= set(report.found)
    assert report.orientation == 6
    assert report.capture_date == "2026-11-20T09:14:00"


def test_fixture_strip(photo, photo_gps):
    result = metadata.strip(photo)
    out = result.data
    assert result.lossless and result.orientation == 6
    assert result.removed == metadata.inspect(photo).found
    assert {"gps", "camera", "datetime"} <= set(result.removed)
    lat = struct.pack(">6I", 59, 1, 19, 1, 48, 1)
    assert lat in photo
    assert_no_gps(out, photo_gps, lat)
    for secret in (b"Google", b"Pixel 8", b"2026:11:20"):
        assert secret in photo and secret not in out
    exif = exif_of(out)
    assert dict(exif) == {0x0112: 6}
    assert fx.scan_data(out) == fx.scan_data(photo) == photo[photo.index(b"\xff\xda") :]
    assert fx.decoded(out) == fx.decoded(photo)
    assert metadata.inspect(out) == metadata.Report("jpeg", [], 6, None, False)


def test_fixture_keep_capture_date(photo, photo_gps):
    result = metadata.strip(photo, keep_capture_date=True)
    assert "datetime" not in result.removed and "gps" in result.removed
    exif = exif_of(result.data)
    assert exif[0x0112] == 6
    assert exif.get_ifd(0x8769) == {0x9003: "2026:11:20 09:14:00"}
    assert 0x0132 not in exif
    assert_no_gps(result.data, photo_gps)
    assert piexif.load(result.data)["GPS"] == {}
    assert fx.decoded(result.data) == fx.decoded(photo)


def test_strip_is_idempotent(photo):
    once = metadata.strip(photo, keep_capture_date=True)
    twice = metadata.strip(once.data, keep_capture_date=True)
    assert twice.data == once.data and twice.removed == []
    plain = metadata.strip(photo).data
    assert metadata.strip(plain).data == plain


# ---------------------------------------------------------------------------------------------
# JPEG made in the test: every kind of metadata


@pytest.mark.filterwarnings("ignore:Image appears to be a malformed MPO file")
def test_rich_jpeg():
    data = fx.rich_jpeg()
    tiff = fx.exif_tiff_from_jpeg(data)
    gps = fx.gps_ifd_bytes(tiff)
    lat = fx.gps_rational_bytes()
    # not vacuous: the input carries all of it
    loaded = piexif.load(data)
    assert loaded["GPS"][piexif.GPSIFD.GPSLatitude] == fx.LAT
    assert loaded["thumbnail"] and loaded["Exif"][piexif.ExifIFD.MakerNote] == fx.MAKER_NOTE
    for secret in fx.SECRETS[:8] + (fx.COMMENT, lat, gps, b"TRAILER-SECRET"):
        assert secret in data
    src = Image.open(io.BytesIO(data))
    assert src.info["icc_profile"] == fx.srgb_icc()

    report = metadata.inspect(data)
    assert report.found == list(metadata.CATEGORIES)
    assert report.orientation == 6 and report.icc
    assert report.capture_date == "2025-03-14T15:09:26"

    result = metadata.strip(data)
    out = result.data
    assert result.removed == list(metadata.CATEGORIES)
    for secret in fx.SECRETS + (lat, gps, b"TRAILER-SECRET", b"UNIQUE-ID", b"AcmeLens"):
        assert secret not in out, secret
    for marker_id in (b"http://ns.adobe.com", b"Photoshop 3.0", b"MPF\x00", b"Ducky"):
        assert marker_id not in out
    markers = [m for m, _ in fx.jpeg_segments(out)]
    assert 0xFE not in markers and 0xED not in markers and 0xEC not in markers
    assert markers.count(0xE1) == 1
    assert out.endswith(b"\xff\xd9")
    loaded = piexif.load(out)
    assert loaded["0th"] == {piexif.ImageIFD.Orientation: 6, piexif.ImageIFD.ExifTag: 26} or (
        loaded["0th"] == {piexif.ImageIFD.Orientation: 6}
    )
    assert loaded["Exif"] == {} and loaded["GPS"] == {} and loaded["1st"] == {}
    assert loaded["thumbnail"] is None
    dst = Image.open(io.BytesIO(out))
    assert dst.info["icc_profile"] == fx.srgb_icc()
    assert dst.getexif()[0x0112] == 6
    assert fx.decoded(out) == fx.decoded(data)
    assert fx.scan_data(out) == fx.scan_data(data[: data.rindex(b"\xff\xd9") + 2])


def test_rich_jpeg_keep_capture_date():
    data = fx.rich_jpeg()
    result = metadata.strip(data, keep_capture_date=True)
    loaded = piexif.load(result.data)
    assert loaded["Exif"] == {piexif.ExifIFD.DateTimeOriginal: fx.DATE_ORIGINAL}
    assert loaded["0th"][piexif.ImageIFD.Orientation] == 6
    assert loaded["GPS"] == {}
    assert "datetime" not in result.removed and "gps" in result.removed
    assert fx.gps_rational_bytes() not in result.data


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_survives(orientation):
    data = fx.rich_jpeg(orientation)
    result = metadata.strip(data)
    assert result.orientation == orientation
    exif = exif_of(result.data)
    if orientation == 1:
        assert fx.exif_tiff_from_jpeg(result.data) is None  # 1 is the default: nothing to keep
    else:
        assert dict(exif) == {0x0112: orientation}


def test_no_orientation_and_no_exif_left():
    result = metadata.strip(fx.rich_jpeg(orientation=None))
    assert result.orientation is None
    assert fx.exif_tiff_from_jpeg(result.data) is None


@pytest.mark.parametrize("byte_order", ["II", "MM"])
def test_both_exif_byte_orders(byte_order):
    if byte_order == "II":  # written by hand (piexif and Pillow write big-endian)
        tiff = b"II*\x00" + struct.pack("<IH", 8, 2)
        tiff += struct.pack("<HHI4s", 0x010F, 2, 4, b"Mkr\x00")
        tiff += struct.pack("<HHIHH", 0x0112, 3, 1, 8, 0) + bytes(4)
    else:
        tiff = piexif.dump({"0th": {274: 8, 271: b"Maker"}})[6:]
    assert tiff[:2] == byte_order.encode()
    buf = io.BytesIO()
    fx.picture().save(buf, "JPEG", exif=b"Exif\x00\x00" + tiff)
    report = metadata.inspect(buf.getvalue())
    assert report.orientation == 8 and report.found == ["camera"]


def test_plain_jpeg_is_unchanged():
    buf = io.BytesIO()
    fx.picture().save(buf, "JPEG", quality=80)
    data = buf.getvalue()
    result = metadata.strip(data)
    assert result.data == data and result.removed == [] and result.orientation is None


def test_adobe_app14_kept_for_cmyk():
    buf = io.BytesIO()
    fx.picture(mode="CMYK").save(buf, "JPEG", exif=fx.rich_exif(3))
    data = buf.getvalue()
    assert any(m == 0xEE for m, _ in fx.jpeg_segments(data))
    out = metadata.strip(data).data
    adobe = [p for m, p in fx.jpeg_segments(out) if m == 0xEE]
    assert adobe == [p for m, p in fx.jpeg_segments(data) if m == 0xEE]
    assert fx.decoded(out) == fx.decoded(data)
    assert exif_of(out)[0x0112] == 3


def test_jfif_thumbnail_dropped():
    buf = io.BytesIO()
    fx.picture().save(buf, "JPEG")
    data = buf.getvalue()
    thumb = bytes(3 * 2 * 2)
    app0 = fx.segment(0xE0, b"JFIF\x00\x01\x02\x01\x00H\x00H\x02\x02" + thumb)
    jfxx = fx.segment(0xE0, b"JFXX\x00\x10" + b"THUMB")
    data = b"\xff\xd8" + app0 + jfxx + data[20:]
    result = metadata.strip(data)
    assert result.removed == ["thumbnail"]
    assert result.data[2:20] == fx.segment(0xE0, b"JFIF\x00\x01\x02\x01\x00H\x00H\x00\x00")
    assert b"JFXX" not in result.data
    assert fx.decoded(result.data) == fx.decoded(data)


def test_progressive_jpeg_and_segments_between_scans():
    buf = io.BytesIO()
    fx.picture().save(buf, "JPEG", progressive=True, exif=fx.rich_exif(6))
    data = buf.getvalue()
    second_sos = data.index(b"\xff\xda", data.index(b"\xff\xda") + 2)
    comment = fx.segment(0xFE, fx.COMMENT) + fx.segment(0xE1, b"Exif\x00\x00" + b"junk")
    patched = data[:second_sos] + comment + data[second_sos:]
    out = metadata.strip(patched).data
    assert fx.COMMENT not in out and b"junk" not in out
    assert fx.decoded(out) == fx.decoded(data)
    assert fx.scan_data(out).count(b"\xff\xda") == fx.scan_data(data).count(b"\xff\xda") > 1


def test_corrupt_exif_is_dropped_not_refused():
    buf = io.BytesIO()
    fx.picture().save(buf, "JPEG")
    base = buf.getvalue()
    bad_blocks = [
        b"MM\x00*\x00\x00\xff\xf0",  # IFD0 past the end
        b"II*\x00\x08\x00\x00\x00\x01\x00\x69\x87\x04\x00\x01\x00\x00\x00\x08\x00\x00\x00",  # loop
        b"XX*\x00\x08\x00\x00\x00",
        b"II*\x00\x08\x00\x00\x00\xff\xff",  # entry count past the end
        b"",
    ]
    for tiff in bad_blocks:
        app1 = fx.segment(0xE1, b"Exif\x00\x00" + tiff)
        data = base[:20] + app1 + base[20:]
        result = metadata.strip(data)
        assert result.data == base
        assert result.removed == ["other_exif"]


def test_exif_loop_through_sub_ifds_terminates():
    # IFD0 -> Exif IFD -> Interop -> IFD0 ... and IFD0's next pointer to itself
    ifd = struct.pack("<H", 2) + struct.pack("<HHII", 0x0112, 3, 1, 6)
    ifd += struct.pack("<HHII", 0x8769, 4, 1, 8) + struct.pack("<I", 8)
    tiff = b"II*\x00" + struct.pack("<I", 8) + ifd
    report = metadata.inspect(_jpeg_with_app1(b"Exif\x00\x00" + tiff))
    assert report.orientation == 6 and "other_exif" in report.found


def _jpeg_with_app1(payload: bytes) -> bytes:
    buf = io.BytesIO()
    fx.picture((8, 8)).save(buf, "JPEG")
    base = buf.getvalue()
    return base[:20] + fx.segment(0xE1, payload) + base[20:]


# ---------------------------------------------------------------------------------------------
# JPEG: refused input


def test_truncated_fixture_refused_everywhere(photo):
    sos = photo.index(b"\xff\xda")
    # (shorter than its 2-byte signature it is not a JPEG any more, and is passed through)
    cuts = list(range(2, sos + 20)) + list(range(sos + 20, len(photo), len(photo) // 150))
    cuts += [len(photo) - 1, len(photo) - 2]
    for cut in cuts:
        with pytest.raises(MetadataError):
            metadata.strip(photo[:cut])


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xd8",
        b"\xff\xd8\xff\xd9",  # no SOS
        b"\xff\xd8\xff\xe0\x00\x10JFIF",  # segment runs past the end
        b"\xff\xd8\xff\xe0\x00\x01",  # length < 2
        b"\xff\xd8\x00\x00\x00\x00",  # not a marker
        b"\xff\xd8\xff\xd8\xff\xd9",
        b"\xff\xd8" + fx.segment(0xDB, b"\x00" + bytes(64)) + b"\xff\xda\x00\x08\x01\x01\x00\x00",
    ],
)
def test_broken_jpeg_refused(data):
    with pytest.raises(MetadataError):
        metadata.strip(data)
    with pytest.raises(MetadataError):
        metadata.inspect(data)


@pytest.mark.parametrize("marker", [0xDB, 0xC4, 0xCC, 0xC0, 0xC2, 0xDD, 0xDA, 0xC8, 0xF7, 0x02])
def test_metadata_disguised_as_kept_segment_refused(photo, marker):
    # the EXIF APP1 turned into a table/frame/scan segment: it would be copied with the GPS in it
    i = photo.index(b"\xff\xe1")
    with pytest.raises(MetadataError):
        metadata.strip(photo[:i] + bytes((0xFF, marker)) + photo[i + 2 :])


# ---------------------------------------------------------------------------------------------
# PNG


def test_rich_png():
    data = fx.rich_png()
    types = [t for t, _ in fx.png_chunks(data)]
    assert {b"eXIf", b"tEXt", b"iTXt", b"zTXt", b"tIME", b"iCCP", b"pHYs", b"prVt"} <= set(types)
    assert exif_of(data).get_ifd(0x8825)  # not vacuous: Pillow sees the GPS
    assert fx.gps_rational_bytes() in data
    report = metadata.inspect(data)
    assert report.format == "png" and report.orientation == 6 and report.icc
    assert report.found == ["gps", "camera", "maker_notes", "datetime", "xmp", "comment",
                            "other_exif"]  # fmt: skip
    result = metadata.strip(data)
    out = result.data
    out_types = [t for t, _ in fx.png_chunks(out)]
    for gone in (b"tEXt", b"iTXt", b"zTXt", b"tIME", b"prVt"):
        assert gone not in out_types
    for kept in (b"IHDR", b"iCCP", b"pHYs", b"gAMA", b"IDAT", b"IEND"):
        assert out_types.count(kept) == types.count(kept)
    assert out_types.index(b"eXIf") < out_types.index(b"IDAT")
    for secret in fx.SECRETS[:6] + (b"TEXT-SECRET", b"XMP-SECRET", fx.gps_rational_bytes()):
        assert secret not in out
    assert zlib.compress(b"ZTXT-SECRET wound photo") not in out
    exif = exif_of(out)
    assert dict(exif) == {0x0112: 6}
    assert fx.decoded(out) == fx.decoded(data)
    # kept chunks are byte-identical (same CRC)
    kept_in = [(t, b) for t, b in fx.png_chunks(data) if t in (b"IHDR", b"iCCP", b"IDAT")]
    assert kept_in == [(t, b) for t, b in fx.png_chunks(out) if t in (b"IHDR", b"iCCP", b"IDAT")]


def test_png_keep_capture_date_and_orientation_one():
    result = metadata.strip(fx.rich_png(orientation=1), keep_capture_date=True)
    exif = exif_of(result.data)
    assert 0x0112 not in exif
    assert exif.get_ifd(0x8769) == {0x9003: fx.DATE_ORIGINAL.decode()}
    plain = metadata.strip(fx.rich_png(orientation=1)).data
    assert b"eXIf" not in plain
    assert fx.decoded(plain) == fx.decoded(fx.rich_png(orientation=1))


def test_apng_chunks_kept():
    frames = [fx.picture(), fx.picture().transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    buf = io.BytesIO()
    frames[0].save(buf, "PNG", save_all=True, append_images=frames[1:], duration=100)
    data = buf.getvalue()
    i = data.index(b"IDAT") - 4
    data = data[:i] + fx.png_chunk(b"tEXt", b"Comment\x00TEXT-SECRET") + data[i:]
    out = metadata.strip(data).data
    assert out == metadata.strip(out).data
    # with an orientation to keep: the new eXIf goes before the first frame control chunk
    tiff = fx.rich_exif(6, thumbnail=False)[6:]
    with_exif = data[:33] + fx.png_chunk(b"eXIf", tiff) + data[33:]
    types = [t for t, _ in fx.png_chunks(metadata.strip(with_exif).data)]
    assert types.index(b"acTL") < types.index(b"eXIf") < types.index(b"fcTL")
    assert [t for t, _ in fx.png_chunks(out)] == [t for t, _ in fx.png_chunks(data) if t != b"tEXt"]
    for n in range(2):
        a, b = Image.open(io.BytesIO(data)), Image.open(io.BytesIO(out))
        a.seek(n), b.seek(n)
        assert a.tobytes() == b.tobytes()


def test_png_crc_flip_refused():
    data = fx.rich_png()
    pos = 8
    for _ctype, body in fx.png_chunks(data):
        for where in (pos + 4, pos + 8, pos + 8 + len(body) - 1, pos + 8 + len(body) + 3):
            if where < pos + 8 or len(body):
                broken = bytearray(data)
                broken[where] ^= 0x20 if where < pos + 8 else 0x01
                with pytest.raises(MetadataError):
                    metadata.strip(bytes(broken))
        pos += 12 + len(body)


def test_png_truncated_refused():
    data = fx.rich_png()
    for cut in range(len(PNG_SIG), len(data), 7):
        with pytest.raises(MetadataError):
            metadata.strip(data[:cut])


@pytest.mark.parametrize(
    "chunks",
    [
        [(b"IHDR", bytes(13)), (b"IEND", b"")],  # no IDAT
        [(b"IDAT", b"x"), (b"IEND", b"")],  # first chunk not IHDR
        [(b"IHDR", bytes(13)), (b"CgBI", b"x"), (b"IDAT", b"x"), (b"IEND", b"")],  # critical
        [(b"IHDR", bytes(13)), (b"I1AT", b"x"), (b"IEND", b"")],  # bad type
    ],
)
def test_broken_png_refused(chunks):
    with pytest.raises(MetadataError):
        metadata.strip(PNG_SIG + b"".join(fx.png_chunk(t, b) for t, b in chunks))


def test_png_huge_length_refused():
    with pytest.raises(MetadataError):
        metadata.strip(PNG_SIG + b"\xff\xff\xff\xf0IHDR" + bytes(30))


# ---------------------------------------------------------------------------------------------
# WebP


@pytest.mark.parametrize(("lossless", "mode"), [(False, "RGB"), (True, "RGB"), (False, "RGBA")])
def test_rich_webp(lossless, mode):
    data = fx.rich_webp(lossless=lossless, mode=mode)
    types = [t for t, _ in fx.webp_chunks(data)]
    assert {b"VP8X", b"ICCP", b"EXIF", b"XMP "} <= set(types)
    assert exif_of(data).get_ifd(0x8825)  # not vacuous
    assert fx.gps_rational_bytes() in data and b"XMP-SECRET" in data
    result = metadata.strip(data)
    out = result.data
    assert result.removed == ["gps", "camera", "maker_notes", "datetime", "xmp", "comment",
                              "other_exif"]  # fmt: skip
    assert int.from_bytes(out[4:8], "little") == len(out) - 8
    out_chunks = fx.webp_chunks(out)
    assert [t for t, _ in out_chunks] == [t for t in types if t != b"XMP "]
    flags = out_chunks[0][1][0]
    assert flags & 0x08 and not flags & 0x04 and flags & 0x20
    for secret in fx.SECRETS[:6] + (b"XMP-SECRET", fx.gps_rational_bytes()):
        assert secret not in out
    assert dict(exif_of(out)) == {0x0112: 6}
    assert fx.decoded(out) == fx.decoded(data)


def test_webp_without_orientation_clears_exif_flag():
    data = fx.rich_webp(orientation=None)
    out = metadata.strip(data).data
    chunks = fx.webp_chunks(out)
    assert [t for t, _ in chunks] == [b"VP8X", b"ICCP", b"VP8 "]
    assert chunks[0][1][0] & 0x0C == 0
    assert fx.decoded(out) == fx.decoded(data)
    dated = metadata.strip(data, keep_capture_date=True).data
    assert exif_of(dated).get_ifd(0x8769) == {0x9003: fx.DATE_ORIGINAL.decode()}


def test_simple_webp_unchanged_and_odd_chunk_padding():
    buf = io.BytesIO()
    fx.picture().save(buf, "WEBP", quality=70)
    data = buf.getvalue()
    assert data[12:16] in (b"VP8 ", b"VP8L")
    assert metadata.strip(data).data == data
    # an odd-sized XMP chunk (padded) in an extended file
    src = fx.rich_webp(orientation=6)
    xmp = b"XMP " + (5).to_bytes(4, "little") + b"abcde\x00"
    body = src[12:] + xmp
    odd = b"RIFF" + (len(body) + 4).to_bytes(4, "little") + b"WEBP" + body
    out = metadata.strip(odd).data
    assert b"abcde" not in out and len(out) % 2 == 0
    assert fx.decoded(out) == fx.decoded(src)


def test_animated_webp():
    frames = [fx.picture(), fx.picture().transpose(Image.Transpose.FLIP_TOP_BOTTOM)]
    buf = io.BytesIO()
    frames[0].save(buf, "WEBP", save_all=True, append_images=frames[1:], duration=100,
                   exif=fx.rich_exif(6, thumbnail=False), xmp=fx.XMP)  # fmt: skip
    data = buf.getvalue()
    assert fx.gps_rational_bytes() in data
    out = metadata.strip(data).data
    assert fx.gps_rational_bytes() not in out and b"XMP-SECRET" not in out
    assert b"ANIM" in out and out.count(b"ANMF") == data.count(b"ANMF")
    for n in range(2):
        a, b = Image.open(io.BytesIO(data)), Image.open(io.BytesIO(out))
        a.seek(n), b.seek(n)
        assert a.tobytes() == b.tobytes()


def test_webp_refused():
    data = fx.rich_webp()
    for cut in range(12, len(data), 11):
        with pytest.raises(MetadataError):
            metadata.strip(data[:cut])
    with pytest.raises(MetadataError):  # RIFF size larger than the file
        metadata.strip(data[:4] + (len(data) + 100).to_bytes(4, "little") + data[8:])
    with pytest.raises(MetadataError):  # RIFF size nonsense
        metadata.strip(data[:4] + (2).to_bytes(4, "little") + data[8:])
    i = data.index(b"EXIF")
    with pytest.raises(MetadataError):  # the EXIF chunk disguised as a second bitstream
        metadata.strip(data[:i] + b"VP8 " + data[i + 4 :])
    # data after the RIFF container is dropped
    out = metadata.strip(data + b"TRAILER-SECRET").data
    assert b"TRAILER-SECRET" not in out


# ---------------------------------------------------------------------------------------------
# Other formats


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (b"II*\x00" + bytes(20), "tiff"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(8), "heic"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + bytes(8), "avif"),
        (b"%PDF-1.7\n", None),
        (b"", None),
    ],
)
def test_other_formats_pass_through(data, fmt):
    assert metadata.inspect(data) == metadata.Report(fmt)
    result = metadata.strip(data)
    assert result == metadata.StripResult(data, [], None, True)


def test_not_bytes():
    with pytest.raises(TypeError):
        metadata.strip("not bytes")  # type: ignore[arg-type]  # noqa: B005


# ---------------------------------------------------------------------------------------------
# Property tests: arbitrary and mutated input


def _check_arbitrary(data: bytes, gps_blobs: tuple[bytes, ...] = ()) -> None:
    start = time.perf_counter()
    try:
        result = metadata.strip(data)
        metadata.inspect(data)
    except MetadataError:
        return
    assert isinstance(result.data, bytes)
    for blob in gps_blobs:
        if blob in data and metadata.detect_format(data) in ("jpeg", "png", "webp", "gif"):
            assert blob not in result.data
    assert time.perf_counter() - start < RUNAWAY_SECONDS


@settings(max_examples=300, deadline=1000)
@given(
    st.sampled_from([b"", b"\xff\xd8", b"\xff\xd8\xff\xe1", PNG_SIG, b"RIFF\x40\x00\x00\x00WEBP",
                     b"GIF89a\x02\x00\x02\x00\x80\x00\x00"]),
    st.binary(max_size=400),
)
def test_arbitrary_bytes(prefix, tail):
    _check_arbitrary(prefix + tail)


_RICH = {"jpeg": fx.rich_jpeg(trailer=False), "png": fx.rich_png(), "webp": fx.rich_webp(),
         "gif": hostile.gif_with_metadata()}


@settings(max_examples=300, deadline=1000, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(_RICH)),
    st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=4),
    st.one_of(st.none(), st.floats(0, 1)),
)
def test_mutated_images(kind, edits, cut):
    data = bytearray(_RICH[kind])
    for where, value in edits:
        data[int(where * len(data))] = value
    if cut is not None:
        data = data[: int(cut * len(data))]
    _check_arbitrary(bytes(data), (fx.gps_rational_bytes(), b"GPSLatitude"))


@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.integers(0, 1200), st.integers(0, 255)), min_size=1, max_size=4),
    st.booleans(),
)
def test_mutated_fixture(photo, photo_gps, edits, anywhere):
    data = bytearray(photo)
    for where, value in edits:
        pos = where if not anywhere else where * (len(data) // 1201)
        data[pos] = value
    _check_arbitrary(bytes(data), (photo_gps, struct.pack(">6I", 59, 1, 19, 1, 48, 1)))


# ---------------------------------------------------------------------------------------------
# bifoga.media.imaging (Pillow)


def test_pillow_available():
    assert imaging.pillow_available()


def test_verify_decodes(photo):
    assert imaging.verify_decodes(photo) == (1200, 1600)  # Orientation 6: displayed portrait
    assert imaging.verify_decodes(metadata.strip(photo).data) == (1200, 1600)
    assert imaging.verify_decodes(fx.rich_png(orientation=1)) == (96, 64)
    for bad in (photo[: len(photo) // 2], photo[:2000], b"", b"garbage" * 10, fx.rich_png()[:300]):
        with pytest.raises(MetadataError, match="does not decode"):
            imaging.verify_decodes(bad)


@pytest.fixture(scope="module")
def big_noisy_jpeg() -> bytes:
    """4000x3000 noise (incompressible), a red block at the stored top-left, Orientation 6, GPS."""
    im = Image.frombytes("RGB", (4000, 3000), os.urandom(4000 * 3000 * 3))
    im.paste((255, 0, 0), (0, 0, 600, 600))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=100, exif=fx.rich_exif(6, thumbnail=False))
    data = buf.getvalue()
    assert len(data) > 10_000_000
    return data


def _assert_upright_clean(result: imaging.ReduceResult, max_bytes: int) -> Image.Image:
    assert len(result.data) <= max_bytes and result.mime == "image/jpeg"
    im = Image.open(io.BytesIO(result.data))
    assert im.format == "JPEG" and im.size == (result.width, result.height)
    assert not im.getexif() and "exif" not in im.info and "xmp" not in im.info
    assert fx.gps_rational_bytes() not in result.data
    # Orientation 6 applied: portrait, and the stored top-left block is now at the top right
    assert result.height > result.width
    w = result.width
    r, g, b = im.convert("RGB").getpixel((w - 1 - w // 20, result.height // 60))
    assert r > 200 and g < 60 and b < 60
    return im


def test_reduce_to_fit_keeps_resolution(big_noisy_jpeg):
    max_bytes = 3_000_000
    result = imaging.reduce_to_fit(big_noisy_jpeg, max_bytes)
    _assert_upright_clean(result, max_bytes)
    assert max(result.width, result.height) >= 2048


def test_reduce_to_fit_goes_below_min_only_when_needed(big_noisy_jpeg):
    max_bytes = 400_000
    result = imaging.reduce_to_fit(big_noisy_jpeg, max_bytes)
    _assert_upright_clean(result, max_bytes)
    assert max(result.width, result.height) < 2048


def test_reduce_to_fit_small_and_given_orientation(photo):
    stripped = metadata.strip(photo)
    app1 = stripped.data.index(b"\xff\xe1")
    app1_end = app1 + 2 + int.from_bytes(stripped.data[app1 + 2 : app1 + 4], "big")
    bare = stripped.data[:app1] + stripped.data[app1_end:]  # no EXIF at all
    assert imaging.verify_decodes(bare) == (1600, 1200)
    result = imaging.reduce_to_fit(photo, 10_000_000)
    again = imaging.reduce_to_fit(photo, 10_000_000, orientation=stripped.orientation)
    assert (result.width, result.height) == (again.width, again.height) == (1200, 1600)
    assert not Image.open(io.BytesIO(result.data)).getexif()
    assert imaging.reduce_to_fit(bare, 10_000_000, orientation=6).width == 1200
    with pytest.raises(MetadataError):
        imaging.reduce_to_fit(photo, 100)
    with pytest.raises(MetadataError, match="does not decode"):
        imaging.reduce_to_fit(photo[:5000], 10_000_000)


def test_reduce_to_fit_flattens_transparency():
    result = imaging.reduce_to_fit(fx.rich_png(orientation=1, mode="RGBA"), 1_000_000)
    im = Image.open(io.BytesIO(result.data))
    assert im.mode == "RGB" and im.size == (96, 64)
    assert im.info.get("icc_profile") == fx.srgb_icc()


def test_strip_of_a_large_jpeg_ends_and_keeps_the_scan(big_noisy_jpeg):
    start = time.perf_counter()
    result = metadata.strip(big_noisy_jpeg)
    elapsed = time.perf_counter() - start
    assert fx.gps_rational_bytes() not in result.data
    assert fx.scan_data(result.data) == fx.scan_data(big_noisy_jpeg)
    assert elapsed < RUNAWAY_SECONDS


# ---------------------------------------------------------------------------------------------
# Robustness details


def test_pathological_inputs_are_bounded():
    ihdr = fx.png_chunk(b"IHDR", bytes(13))
    cases = [
        b"\xff\xd8" + b"\xff" * 3_000_000,  # endless fill bytes
        b"\xff\xd8" + b"\xff\xfe\x00\x02" * 500_000,  # endless empty comments
        PNG_SIG + ihdr + fx.png_chunk(b"tEXt", b"") * 200_000,
        b"RIFF" + (4 + 8 * 300_000).to_bytes(4, "little") + b"WEBP" + b"abcd" + bytes(4) * 300_000,
    ]
    for data in cases:
        start = time.perf_counter()
        with pytest.raises(MetadataError):
            metadata.strip(data)
        assert time.perf_counter() - start < RUNAWAY_SECONDS


def test_jpeg_fill_bytes_and_bad_icc():
    buf = io.BytesIO()
    fx.picture().save(buf, "JPEG")
    data = buf.getvalue()
    i = data.index(b"\xff\xdb")
    bad_icc = fx.segment(0xE2, b"ICC_PROFILE\x00\x01\x01" + b"not a profile" * 20)
    patched = data[:i] + bad_icc + b"\xff\xff\xff" + data[i:]
    result = metadata.strip(patched)
    assert result.removed == ["other_exif"] and b"not a profile" not in result.data
    assert fx.decoded(result.data) == fx.decoded(data)
    assert not metadata.inspect(result.data).icc


def test_webp_missing_final_pad_is_repaired():
    data = fx.rich_webp(orientation=6)
    body = data[12:] + b"XMP " + (3).to_bytes(4, "little") + b"abc"  # no pad byte at the end
    odd = b"RIFF" + (len(body) + 4).to_bytes(4, "little") + b"WEBP" + body
    out = metadata.strip(odd).data
    assert len(out) % 2 == 0 and int.from_bytes(out[4:8], "little") == len(out) - 8
    assert fx.decoded(out) == fx.decoded(data)


def test_metadata_module_does_not_need_pillow():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['PIL'] = None\n"
        "import bifoga.media.metadata, bifoga.media.imaging\n"
        "assert not bifoga.media.imaging.pillow_available()\n"
        "r = bifoga.media.metadata.strip(open(sys.argv[1], 'rb').read())\n"
        "assert r.orientation == 6 and 'gps' in r.removed\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    photo = str(media_path("photo_gps.jpg"))
    subprocess.run([sys.executable, "-c", code, photo], cwd=root, check=True)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_transpose_for_agrees_with_pillows_exif_transpose(orientation):
    from PIL import ImageOps

    im = Image.new("RGB", (3, 2))
    im.putdata([(i * 40, 0, 0) for i in range(6)])
    tagged = im.copy()
    tagged.getexif()[0x0112] = orientation
    method = imaging.transpose_for(orientation)
    got = im if method is None else im.transpose(method)
    assert got.tobytes() == ImageOps.exif_transpose(tagged).tobytes()
    assert got.size == ((3, 2) if orientation < 5 else (2, 3))
