"""The still-image parsers' small functions, one by one (JPEG segments, PNG chunks, WebP chunks,
GIF blocks, EXIF dates and walks), each read through a bifoga.media.source Reader."""

from __future__ import annotations

import struct
import zlib

import pytest

from bifoga.media import exif, gif_meta, jpeg_meta, png_meta, webp_meta
from bifoga.media.meta_common import MetadataError, _Acc
from bifoga.media.source import BytesSource, Reader
from tests import fixtures_images as fx
from tests import hostile_images as hostile


def reader(data: bytes) -> Reader:
    return Reader(BytesSource(data))


# --------------------------------------------------------------------------------------- JPEG

DQT = bytes([0x00]) + bytes(range(64))
DHT = bytes([0x00]) + bytes([0, 1] + [0] * 14) + b"\x05"
SOF = bytes([8, 0, 16, 0, 16, 1, 1, 0x11, 0])
SOS = bytes([1, 1, 0x00, 0, 63, 0])


@pytest.mark.parametrize(("check", "good", "bad"), [
    (jpeg_meta._check_dqt, DQT, DQT[:-1]),
    (jpeg_meta._check_dqt, DQT, bytes([0x24]) + DQT[1:]),
    (jpeg_meta._check_dht, DHT, DHT + b"\x00"),
    (jpeg_meta._check_dht, DHT, bytes([0x20]) + DHT[1:]),
    (jpeg_meta._check_sos, SOS, SOS[:-1]),
    (jpeg_meta._check_sos, SOS, SOS[:4] + bytes([64, 0])),
    (jpeg_meta._check_dac, b"\x00\x10", b"\x10\x00"),
])
def test_table_checks(check, good, bad):
    check(good, 0)
    with pytest.raises(MetadataError):
        check(bad, 0)


def test_frame_header_check():
    jpeg_meta._check_sof(0xC0, SOF, 0)
    with pytest.raises(MetadataError):
        jpeg_meta._check_sof(0xC0, bytes([7]) + SOF[1:], 0)  # 7-bit baseline
    jpeg_meta._check_sof(0xC3, bytes([7]) + SOF[1:], 0)  # lossless allows it
    with pytest.raises(MetadataError):
        jpeg_meta._check_sof(0xC0, SOF[:7] + bytes([0x51]) + SOF[8:], 0)


def test_scan_end_skips_stuffing_and_restarts():
    coded = b"\x12\xff\x00\x34\xff\xd3\x56\xff\xff\x00\x78"
    data = coded + b"\xff\xff\xd9"
    assert jpeg_meta._scan_end(reader(data), 0) == len(coded)
    with pytest.raises(MetadataError):
        jpeg_meta._scan_end(reader(coded), 0)


@pytest.mark.parametrize("window", [2, 3, 8, 64])
def test_scan_end_across_windows(monkeypatch, window):
    monkeypatch.setattr(jpeg_meta, "_SCAN_WINDOW", window)
    coded = b"\x01" * 7 + b"\xff\x00" + b"\x02" * 6 + b"\xff\xff\xff\xd0" + b"\x03" * 9
    data = coded + b"\xff\xff\xc4"
    assert jpeg_meta._scan_end(Reader(BytesSource(data), 5), 0) == len(coded)
    with pytest.raises(MetadataError):
        jpeg_meta._scan_end(Reader(BytesSource(coded + b"\xff\xff"), 5), 0)


def test_only_coded_data():
    assert jpeg_meta._only_coded_data(b"\x01\xff\x00\x02\xff\xd7\x03")
    assert not jpeg_meta._only_coded_data(b"\x01\xff\x00\x02\xff\xd9")
    assert not jpeg_meta._only_coded_data(b"\x01\xff")  # the pair is cut by the block's end
    assert not jpeg_meta._only_coded_data(b"\xff\xff\x00")


def test_app_segments_kept_rebuilt_or_dropped():
    acc = _Acc("jpeg")
    jfif = b"JFIF\x00\x01\x02\x01\x00\x48\x00\x48\x02\x01" + bytes(6)  # with a 2x1 thumbnail
    rebuilt = jpeg_meta._jpeg_app(0xE0, reader(jfif), 0, len(jfif), acc)
    assert rebuilt == b"\xff\xe0\x00\x10" + jfif[:12] + b"\x00\x00" and acc.found == {"thumbnail"}
    adobe = b"Adobe\x00\x64\x00\x00\x00\x00\x01"
    assert jpeg_meta._jpeg_app(0xEE, reader(adobe), 0, 12, acc) == b"\xff\xee\x00\x0e" + adobe
    icc = b"ICC_PROFILE\x00\x01\x01" + b"x" * 10
    assert jpeg_meta._jpeg_app(0xE2, reader(icc), 0, len(icc), acc) is jpeg_meta._KEEP_ICC
    for marker, payload, category in [
        (0xE1, b"http://ns.adobe.com/xmp/extension/\x00" + b"0" * 40, "xmp"),
        (0xE2, b"MPF\x00" + bytes(20), "other_exif"),
        (0xFE, b"a comment", "comment"),
        (0xED, b"Photoshop 3.0\x00" + hostile.photoshop_irb(), "gps"),
    ]:
        acc = _Acc("jpeg")
        assert jpeg_meta._jpeg_app(marker, reader(payload), 0, len(payload), acc) is None
        assert category in acc.found


def test_photoshop_resources_are_reported():
    acc = _Acc("jpeg")
    jpeg_meta._photoshop(hostile.photoshop_irb(), acc)
    assert acc.found == {"iptc", "gps", "xmp"}
    acc = _Acc("jpeg")
    jpeg_meta._photoshop(b"8BIM\x04\x04\x00", acc)  # cut short: IPTC all the same
    assert acc.found == {"iptc"}


def test_icc_chunks_must_assemble_into_a_profile():
    profile = fx.srgb_icc()
    half = len(profile) // 2
    data = profile[:half] + profile[half:]
    chunks = [(0, 1, 2, 0, half), (1, 2, 2, half, len(profile))]
    out = [("range", 0, 1), ("range", 1, 2)]
    acc = _Acc("jpeg")
    jpeg_meta._jpeg_fix_icc(reader(data), chunks, out, acc)
    assert acc.icc and out == [("range", 0, 1), ("range", 1, 2)]
    acc = _Acc("jpeg")
    jpeg_meta._jpeg_fix_icc(reader(data), chunks[:1], out, acc)  # one of two chunks
    assert not acc.icc and "other_exif" in acc.found and out[0] == ("bytes", b"")


# ---------------------------------------------------------------------------------------- PNG


def test_png_chunk_crc_in_blocks(monkeypatch):
    monkeypatch.setattr(png_meta, "_CRC_BLOCK", 5)
    data = b"IDAT" + bytes(range(200))
    assert png_meta._chunk_crc(BytesSource(data), 0, len(data)) == zlib.crc32(data)


def test_png_read_chunk():
    chunk = fx.png_chunk(b"tEXt", b"Comment\x00hello")
    data = b"\x00" * 8 + chunk
    assert png_meta._read_chunk(reader(data), BytesSource(data), 8) == (b"tEXt", len(data))
    for broken in (data[:-1], data[:-1] + bytes((data[-1] ^ 1,)),
                   data[:12] + b"t3Xt" + data[16:]):
        with pytest.raises(MetadataError):
            png_meta._read_chunk(reader(broken), BytesSource(broken), 8)


@pytest.mark.parametrize(("key", "category"), [
    (b"XML:com.adobe.xmp", "xmp"), (b"Raw profile type 8bim", "iptc"),
    (b"Raw profile type exif", "other_exif"), (b"date:create", "datetime"),
    (b"Comment", "comment"), (b"Anything else", "comment"),
])
def test_png_text_category(key, category):
    assert png_meta._text_category(key) == category


def test_png_dropped_chunks():
    tiff = hostile.gps_tiff(bad_first_entry=True)
    for ctype, body, category in [(b"eXIf", tiff, "gps"), (b"tIME", bytes(7), "datetime"),
                                  (b"sPLT", b"name\x00\x08", "other_exif"),
                                  (b"zTXt", b"Raw profile type xmp\x00\x00", "xmp")]:
        acc = _Acc("png")
        png_meta._dropped_chunk(reader(body), ctype, 0, len(body), acc)
        assert category in acc.found
    with pytest.raises(MetadataError):  # an unknown critical chunk
        png_meta._dropped_chunk(reader(b""), b"ABCD", 0, 0, _Acc("png"))


def test_png_rebuilt_exif_goes_before_the_image_data():
    out = png_meta.strip_png(BytesSource(fx.rich_png()), _Acc("png"), False)
    data = out.materialise(BytesSource(fx.rich_png()))
    types = [t for t, _ in fx.png_chunks(data)]
    assert types.index(b"eXIf") < types.index(b"IDAT")
    assert not {b"tEXt", b"zTXt", b"iTXt", b"tIME", b"prVt"} & set(types)


# --------------------------------------------------------------------------------------- WebP


def test_webp_chunks_and_sizes():
    data = hostile.webp_simple_with_metadata()
    chunks, riff_end = webp_meta._webp_chunks(reader(data))
    assert [c for c, _, _ in chunks] == [b"VP8 ", b"EXIF", b"XMP "] and riff_end == len(data)
    with pytest.raises(MetadataError):
        webp_meta._webp_chunks(reader(data[:4] + struct.pack("<I", len(data)) + data[8:]))
    with pytest.raises(MetadataError):
        webp_meta._webp_chunks(reader(data[:-3]))


def test_webp_simple_format_drops_what_follows_the_image():
    data = hostile.webp_simple_with_metadata()
    chunks, _ = webp_meta._webp_chunks(reader(data))
    out, acc = [], _Acc("webp")
    webp_meta._simple(reader(data), chunks, acc, out)
    assert out == [("range", chunks[0][1], chunks[0][2])]
    assert acc.found == {"gps", "xmp"} and acc.orientation is None
    with pytest.raises(MetadataError):  # a second image after a simple one
        webp_meta._simple(reader(data), [chunks[0], chunks[0]], _Acc("webp"), [])


def test_webp_bitstream_and_icc_checks():
    data = hostile.webp_simple_with_metadata()
    webp_meta._webp_check_bitstream(reader(data), b"VP8 ", 12)
    with pytest.raises(MetadataError):
        webp_meta._webp_check_bitstream(reader(data), b"VP8L", 12)
    icc = fx.srgb_icc()
    chunk = b"ICCP" + struct.pack("<I", len(icc)) + icc
    assert webp_meta._valid_icc_chunk(reader(chunk), 0, len(icc))
    assert not webp_meta._valid_icc_chunk(reader(chunk), 0, len(icc) - 1)


def test_webp_frame_check():
    vp8l = b"VP8L" + struct.pack("<I", 5) + b"\x2f\x00\x00\x00\x00" + b"\x00"
    frame = bytes(16) + vp8l
    webp_meta._webp_check_frame(reader(frame), 0, len(frame))
    with pytest.raises(MetadataError):
        webp_meta._webp_check_frame(reader(bytes(16) + b"EXIF" + vp8l[4:]), 0, len(frame))
    with pytest.raises(MetadataError):
        webp_meta._webp_check_frame(reader(bytes(16)), 0, 16)  # no bitstream


# ---------------------------------------------------------------------------------------- GIF


def test_gif_color_table_size():
    assert gif_meta._color_table_size(0x00) == 0
    assert gif_meta._color_table_size(0x80) == 6
    assert gif_meta._color_table_size(0x87) == 768


def test_gif_sub_blocks():
    data = b"\x03abc\x01d\x00rest"
    assert gif_meta._sub_blocks_end(reader(data), 0) == 7
    with pytest.raises(MetadataError):
        gif_meta._sub_blocks_end(reader(data[:6]), 0)


def test_gif_image_block():
    image = b"\x2c" + bytes(8) + b"\x80" + bytes(6) + b"\x02\x02\x4c\x01\x00"
    assert gif_meta._image(reader(image), 0) == len(image)
    with pytest.raises(MetadataError):  # an LZW code size of 12
        gif_meta._image(reader(image[:16] + b"\x0c" + image[17:]), 0)


def test_gif_graphic_control():
    block = b"\x21\xf9\x04\x04\x0c\x00\x00\x00"
    assert gif_meta._graphic_control(reader(block), 0) == 8
    with pytest.raises(MetadataError):
        gif_meta._graphic_control(reader(b"\x21\xf9\x05" + block[3:] + b"\x00"), 0)


def test_gif_application_extensions():
    loop = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x05\x00\x00"
    acc = _Acc("gif")
    assert gif_meta._loop_count(reader(loop), 0) == 5
    assert gif_meta._application(reader(loop), 0, len(loop), acc) == loop and not acc.found
    xmp = hostile.gif_xmp_block()
    end = gif_meta._sub_blocks_end(reader(xmp), 14)
    assert end == len(xmp)
    assert gif_meta._application(reader(xmp), 0, end, acc) is None and acc.found == {"xmp"}
    other = hostile.gif_extension(0xFF, b"data", app=b"ICCRGBG1012")
    assert gif_meta._application(reader(other), 0, len(other), acc) is None
    assert acc.found == {"xmp", "other_exif"}


def test_gif_without_trailer_or_image_is_refused():
    data = hostile._gif_frames(1)
    header_end, _ = hostile.gif_blocks(data)
    for broken in (data[:-1], data[:header_end] + b"\x3b", b"GIF89a" + bytes(3)):
        with pytest.raises(MetadataError):
            gif_meta.strip_gif(BytesSource(broken), _Acc("gif"), False)


# --------------------------------------------------------------------------------------- EXIF


@pytest.mark.parametrize(("raw", "iso"), [
    (b"2025:03:14 15:09:26", "2025-03-14T15:09:26"),
    (b"2025-03-14T15:09:26\x00", "2025-03-14T15:09:26"),
    (b"2025:13:14 15:09:26", None),
    (b"2025:03:14 15:09", None),
    (b"20a5:03:14 15:09:26", None),
    (b"    :  :     :  :  ", None),
])
def test_exif_dates(raw, iso):
    assert exif._parse_date(raw) == iso


def test_exif_walk_notes_a_bad_entry_and_goes_on():
    info = exif.parse_exif(hostile.gps_tiff(bad_first_entry=True))
    assert info.categories == {"gps", "datetime", "other_exif"}
    cut = hostile.gps_tiff()
    info = exif.parse_exif(cut[:30])  # the GPS IFD is cut off: its pointer still says GPS
    assert "gps" in info.categories and "other_exif" in info.categories
    assert exif.parse_exif(b"XX*\x00").categories == {"other_exif"}


def test_exif_round_trip():
    info = exif.parse_exif(exif.build_exif(6, "2024-05-01T12:34:56"))
    assert info.orientation == 6 and info.capture_date == "2024-05-01T12:34:56"
    assert info.categories == {"datetime"}


def test_add_or_keep_slices_what_the_source_already_has():
    from bifoga.media.meta_common import _add_or_keep
    from bifoga.media.source import Plan

    data = b"HEADbodyTAIL"
    plan = Plan()
    _add_or_keep(plan, reader(data), b"HEAD")  # at the start
    plan.keep(4, 8)
    _add_or_keep(plan, reader(data), b"TAIL")  # where the last range ends
    assert plan.pieces == [("range", 0, 12)]
    _add_or_keep(plan, reader(data), b"MORE")  # past the end: written anew
    _add_or_keep(plan, reader(data), b"HEAD")  # after bytes: written anew
    assert plan.pieces[1:] == [("bytes", b"MORE"), ("bytes", b"HEAD")]


@pytest.mark.parametrize("window", [3, 64, 1 << 16])
def test_progressive_jpeg_with_restarts_in_any_window(monkeypatch, window):
    from bifoga.media import metadata

    data = hostile.progressive_jpeg_with_restarts()
    expected = metadata.strip(data).data
    monkeypatch.setattr(jpeg_meta, "_SCAN_WINDOW", window)
    out = jpeg_meta.strip_jpeg(BytesSource(data), _Acc("jpeg"), False).materialise(
        BytesSource(data))
    assert out == expected and b"COMMENT-SECRET" not in out
    assert fx.decoded(out) == fx.decoded(data)
