"""Still images crafted to hide a position where a keep-list remover or a hand-written walk
misses it, made here from nothing (no copies of anyone's files), plus GIFs with metadata.

Each generator returns bytes whose position ExifTool (``-ee``) reads; the device's remover must
send none of it.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zlib

from PIL import Image

from tests import fixtures_images as fx

GPS_XMP = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-'
    b'syntax-ns#"><rdf:Description rdf:about="" xmlns:exif="http://ns.adobe.com/exif/1.0/" '
    b'exif:GPSLatitude="59,20.123N" exif:GPSLongitude="18,4.765E"/></rdf:RDF></x:xmpmeta>'
    b'<?xpacket end="w"?>'
)
DJI_XMP = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-'
    b'syntax-ns#"><rdf:Description rdf:about="" xmlns:drone-dji="http://www.dji.com/drone-dji/'
    b'1.0/" drone-dji:GpsLatitude="59.335612" drone-dji:GpsLongitude="18.079234" '
    b'drone-dji:AbsoluteAltitude="+31.20"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)


def _u16(v: int) -> bytes:
    return struct.pack("<H", v)


def _u32(v: int) -> bytes:
    return struct.pack("<I", v)


def _rationals(*pairs: tuple[int, int]) -> bytes:
    return b"".join(_u32(a) + _u32(b) for a, b in pairs)


def gps_tiff(bad_first_entry: bool = False, dest_only: bool = False) -> bytes:
    """A little-endian TIFF: IFD0 (optionally first a DateTime whose value offset points far
    past the end, which stops a walk that gives up on the first bad value) and a GPS IFD with
    latitude and longitude (or, with ``dest_only``, only GPSDestLatitude/GPSDestLongitude)."""
    ifd0_entries = 2 if bad_first_entry else 1
    ifd0_at = 8
    gps_at = ifd0_at + 2 + 12 * ifd0_entries + 4
    lat_tag, lon_tag = (0x0014, 0x0016) if dest_only else (0x0002, 0x0004)
    ref_lat, ref_lon = (0x0013, 0x0015) if dest_only else (0x0001, 0x0003)
    gps_count = 4
    values_at = gps_at + 2 + 12 * gps_count + 4
    lat = _rationals((59, 1), (20, 1), (123457, 10000))
    lon = _rationals((18, 1), (4, 1), (765431, 10000))
    out = b"II*\x00" + _u32(ifd0_at) + _u16(ifd0_entries)
    if bad_first_entry:
        out += _u16(0x0132) + _u16(2) + _u32(20) + _u32(0x7FFFFFF0)  # DateTime
    out += _u16(0x8825) + _u16(4) + _u32(1) + _u32(gps_at) + _u32(0)
    out += _u16(gps_count)
    out += _u16(ref_lat) + _u16(2) + _u32(2) + b"N\x00\x00\x00"
    out += _u16(lat_tag) + _u16(5) + _u32(3) + _u32(values_at)
    out += _u16(ref_lon) + _u16(2) + _u32(2) + b"E\x00\x00\x00"
    out += _u16(lon_tag) + _u16(5) + _u32(3) + _u32(values_at + 24)
    out += _u32(0)
    assert len(out) == values_at
    return out + lat + lon


def _jpeg_base() -> bytes:
    buf = io.BytesIO()
    fx.picture((64, 48)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _after_soi(segments: bytes) -> bytes:
    data = _jpeg_base()
    return data[:2] + segments + data[2:]


def _png_base() -> bytes:
    buf = io.BytesIO()
    fx.picture((40, 30)).save(buf, "PNG")
    return buf.getvalue()


def _png_with(*chunks: bytes) -> bytes:
    data = _png_base()
    i = data.index(b"IDAT") - 4
    return data[:i] + b"".join(chunks) + data[i:]


def jpeg_gps_behind_bad_offset() -> bytes:
    return _after_soi(fx.segment(0xE1, b"Exif\x00\x00" + gps_tiff(bad_first_entry=True)))


def png_exif_gps_behind_bad_offset() -> bytes:
    return _png_with(fx.png_chunk(b"eXIf", gps_tiff(bad_first_entry=True)))


def _photoshop_resource(resource_id: int, body: bytes) -> bytes:
    pad = b"\x00" if len(body) & 1 else b""
    return b"8BIM" + struct.pack(">H", resource_id) + b"\x00\x00" + struct.pack(
        ">I", len(body)) + body + pad


def photoshop_irb() -> bytes:
    """Photoshop image resources: Exif (0x0422) with a GPS IFD and XMP (0x0424) with GPS."""
    return (_photoshop_resource(0x0422, gps_tiff())
            + _photoshop_resource(0x0424, GPS_XMP))


def jpeg_app13_photoshop() -> bytes:
    return _after_soi(fx.segment(0xED, b"Photoshop 3.0\x00" + photoshop_irb()))


def jpeg_extended_xmp_split() -> bytes:
    """Standard XMP naming an extended XMP whose GPS fields are split mid-word across two
    APP1 segments."""
    extended = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-'
        b'rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:exif="http://ns.adobe.com/exif/1.0'
        b'/" exif:GPSLatitude="59,20.123N" exif:GPSLongitude="18,4.765E"/></rdf:RDF></x:xmpmeta>'
    )
    guid = hashlib.md5(extended).hexdigest().upper().encode()  # noqa: S324 (the XMP spec's)
    main = (
        b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
        b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        b'rdf:about="" xmlns:xmpNote="http://ns.adobe.com/xmp/note/" xmpNote:HasExtendedXMP="'
        + guid + b'"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    )
    cut = extended.index(b"GPSLat") + 4  # "GPSL" | "atitude"
    ext_id = b"http://ns.adobe.com/xmp/extension/\x00"
    parts = [
        fx.segment(0xE1, ext_id + guid + struct.pack(">II", len(extended), offset) + piece)
        for offset, piece in ((0, extended[:cut]), (cut, extended[cut:]))
    ]
    return _after_soi(fx.segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + main) + b"".join(
        parts))


def jpeg_dji() -> bytes:
    """A drone's photo: drone-dji GPS fields in XMP and GPSDest* (only) in EXIF."""
    return _after_soi(
        fx.segment(0xE1, b"Exif\x00\x00" + gps_tiff(dest_only=True))
        + fx.segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + DJI_XMP))


def _raw_profile(kind: bytes, payload: bytes) -> bytes:
    """ImageMagick's "Raw profile type <kind>" text: name, length, hex in lines of 72."""
    hexed = payload.hex().encode()
    lines = b"\n".join(hexed[i:i + 72] for i in range(0, len(hexed), 72))
    return b"\n" + kind + b"\n" + str(len(payload)).rjust(8).encode() + b"\n" + lines + b"\n"


def png_raw_profiles() -> bytes:
    """Raw-profile text chunks: hex XMP (tEXt), hex 8BIM with Exif (zTXt), hex Exif (iTXt)."""
    return _png_with(
        fx.png_chunk(b"tEXt", b"Raw profile type xmp\x00" + _raw_profile(b"xmp", GPS_XMP)),
        fx.png_chunk(b"zTXt", b"Raw profile type 8bim\x00\x00" + zlib.compress(
            _raw_profile(b"8bim", photoshop_irb()))),
        fx.png_chunk(b"iTXt", b"Raw profile type exif\x00\x00\x00\x00\x00" + _raw_profile(
            b"exif", b"Exif\x00\x00" + gps_tiff())),
    )


def _riff(chunks: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(c + struct.pack("<I", len(b)) + b + b"\x00" * (len(b) & 1)
                    for c, b in chunks)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def webp_simple_with_metadata(lossless: bool = False) -> bytes:
    """A simple-format WebP (VP8 or VP8L alone) followed by EXIF (with GPS) and XMP chunks."""
    buf = io.BytesIO()
    fx.picture((48, 32)).save(buf, "WEBP", lossless=lossless, quality=80)
    image = fx.webp_chunks(buf.getvalue())
    assert [c for c, _ in image] in ([b"VP8 "], [b"VP8L"])
    return _riff([*image, (b"EXIF", gps_tiff()), (b"XMP ", GPS_XMP)])


def progressive_jpeg_with_restarts(size: tuple[int, int] = (300, 200)) -> bytes:
    """A progressive JPEG (several scans, tables between them) with restart markers, EXIF
    (GPS) and a comment: the scan walk's harder case."""
    buf = io.BytesIO()
    fx.picture(size).save(buf, "JPEG", progressive=True, restart_marker_rows=1,
                          exif=fx.rich_exif(), comment=fx.COMMENT)
    return buf.getvalue()


def _gif_frames(count: int = 2) -> bytes:
    frames = [fx.picture((30, 20)).rotate(90 * i).convert("P", palette=Image.Palette.ADAPTIVE)
              for i in range(count)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=count > 1, append_images=frames[1:], duration=120,
                   loop=3)
    return buf.getvalue()


def gif_blocks(data: bytes) -> tuple[int, list[tuple[int, int]]]:
    """(end of the screen descriptor and global table, [(start, end) of each block]) of a GIF,
    walked independently of bifoga's parser."""
    pos = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    header_end, blocks = pos, []
    while data[pos] != 0x3B:
        start = pos
        if data[pos] == 0x2C:
            packed = data[pos + 9]
            pos += 10 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0) + 1
        else:
            pos += 2
        while data[pos]:
            pos += 1 + data[pos]
        pos += 1
        blocks.append((start, pos))
    return header_end, blocks


def _sub_blocks(data: bytes) -> bytes:
    return b"".join(bytes((len(data[i:i + 255]),)) + data[i:i + 255]
                    for i in range(0, len(data), 255)) + b"\x00"


def gif_extension(label: int, body: bytes, app: bytes | None = None) -> bytes:
    head = b"\x21" + bytes((label,))
    if app is not None:
        head += b"\x0b" + app
    return head + _sub_blocks(body)


def gif_xmp_block(xmp: bytes = GPS_XMP) -> bytes:
    """The XMP application extension as Adobe writes it: raw packet and a 258-byte magic
    trailer that makes the sub-block walk land on a terminator."""
    magic = b"\x01" + bytes(range(255, -1, -1)) + b"\x00"
    return b"\x21\xff\x0bXMP DataXMP" + xmp + magic


def gif_with_metadata(frames: int = 2, tail: bytes = b"") -> bytes:
    """An animated GIF (loop extension, graphic controls) with XMP (GPS), a comment, a
    plain-text extension, an unknown application extension, an ICC application extension, and
    ``tail`` after the trailer."""
    data = _gif_frames(frames)
    header_end, blocks = gif_blocks(data)
    first = blocks[0][0]
    extra = (
        gif_xmp_block()
        + gif_extension(0xFE, b"COMMENT-SECRET-0815 taken at home")
        + gif_extension(0xFF, b"\x01secret app data", app=b"ACMEAPP1.0\x00")
        + gif_extension(0x01, bytes(12) + b"PLAINTEXT-SECRET")
    )
    return data[:first] + extra + data[first:] + tail


HOSTILE = {
    "jpeg_gps_behind_bad_offset.jpg": jpeg_gps_behind_bad_offset,
    "png_exif_gps_behind_bad_offset.png": png_exif_gps_behind_bad_offset,
    "jpeg_app13_photoshop.jpg": jpeg_app13_photoshop,
    "jpeg_extended_xmp_split.jpg": jpeg_extended_xmp_split,
    "jpeg_dji.jpg": jpeg_dji,
    "png_raw_profiles.png": png_raw_profiles,
    "webp_simple_vp8_with_metadata.webp": webp_simple_with_metadata,
    "webp_simple_vp8l_with_metadata.webp": lambda: webp_simple_with_metadata(lossless=True),
    "gif_xmp.gif": gif_with_metadata,
}
