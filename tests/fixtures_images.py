"""Images with known metadata, made in the test with Pillow + piexif (and chunks written by hand),
plus small independent parsers used by the assertions (deliberately not bifoga's own code)."""

from __future__ import annotations

import io
import struct
import zlib

import piexif
from PIL import Image, ImageCms

# Distinctive values: their bytes cannot occur by chance in the output.
LAT = ((59, 1), (20, 1), (123457, 10000))
LON = ((18, 1), (4, 1), (765431, 10000))
BODY_SERIAL = b"BODYSN-0042137"
LENS_SERIAL = b"LENSSN-7781100"
OWNER = b"Owner Name Nilsson"
MAKER_NOTE = b"MAKERNOTE-SECRET-BLOB-0123456789"
MAKE, MODEL = b"AcmePhone", b"AcmePhone X9 Pro"
DATE_ORIGINAL = b"2025:03:14 15:09:26"
XMP = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-'
    b'syntax-ns#"><rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" '
    b'exif:GPSLatitude="59,20.123N" xmpsecret="XMP-SECRET-42"/></rdf:RDF></x:xmpmeta>'
    b'<?xpacket end="w"?>'
)
IPTC = b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x15\x1c\x02\x78\x00\x11IPTC-SECRET-CAPTN"
COMMENT = b"COMMENT-SECRET-0815"
SECRETS = (BODY_SERIAL, LENS_SERIAL, OWNER, MAKER_NOTE, MAKE, MODEL, b"XMP-SECRET-42",
           b"IPTC-SECRET", COMMENT, b"TEXT-SECRET", b"ZTXT-SECRET")  # fmt: skip


def gps_rational_bytes(byte_order: str = ">") -> bytes:
    """The latitude rationals as written in the TIFF block (piexif writes big-endian)."""
    return struct.pack(byte_order + "6I", *(v for pair in LAT for v in pair))


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def picture(size=(96, 64), mode="RGB") -> Image.Image:
    """A small picture with structure (so that orientation and pixel checks mean something)."""
    w, h = size
    im = Image.new("RGB", size)
    im.putdata(
        [((x * 255) // w, (y * 255) // h, ((x ^ y) * 7) & 255) for y in range(h) for x in range(w)]
    )
    return im.convert(mode)


def thumbnail_jpeg() -> bytes:
    buf = io.BytesIO()
    picture((16, 12)).save(buf, "JPEG", quality=50)
    return buf.getvalue()


def rich_exif(orientation: int | None = 6, thumbnail: bool = True) -> bytes:
    """piexif-built EXIF (with the "Exif\\0\\0" prefix): GPS, camera, serials, maker note, dates,
    user comment, and an IFD1 thumbnail."""
    zeroth = {
        piexif.ImageIFD.Make: MAKE,
        piexif.ImageIFD.Model: MODEL,
        piexif.ImageIFD.DateTime: b"2025:03:14 16:00:00",
        piexif.ImageIFD.Artist: b"Some Artist",
        piexif.ImageIFD.Software: b"AcmeOS 7",
        piexif.ImageIFD.XResolution: (72, 1),
        piexif.ImageIFD.YResolution: (72, 1),
    }
    if orientation is not None:
        zeroth[piexif.ImageIFD.Orientation] = orientation
    exif = {
        piexif.ExifIFD.DateTimeOriginal: DATE_ORIGINAL,
        piexif.ExifIFD.DateTimeDigitized: b"2025:03:14 15:09:27",
        piexif.ExifIFD.BodySerialNumber: BODY_SERIAL,
        piexif.ExifIFD.LensSerialNumber: LENS_SERIAL,
        piexif.ExifIFD.CameraOwnerName: OWNER,
        piexif.ExifIFD.LensMake: b"AcmeLens",
        piexif.ExifIFD.MakerNote: MAKER_NOTE,
        piexif.ExifIFD.UserComment: b"ASCII\x00\x00\x00user comment",
        piexif.ExifIFD.ImageUniqueID: b"UNIQUE-ID-9f8e7d",
    }
    gps = {
        piexif.GPSIFD.GPSVersionID: (2, 3, 0, 0),
        piexif.GPSIFD.GPSLatitudeRef: b"N",
        piexif.GPSIFD.GPSLatitude: LAT,
        piexif.GPSIFD.GPSLongitudeRef: b"E",
        piexif.GPSIFD.GPSLongitude: LON,
    }
    data = {"0th": zeroth, "Exif": exif, "GPS": gps, "1st": {}, "thumbnail": None}
    if thumbnail:
        data["1st"] = {piexif.ImageIFD.XResolution: (72, 1), piexif.ImageIFD.YResolution: (72, 1)}
        data["thumbnail"] = thumbnail_jpeg()
    return piexif.dump(data)


def segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + (len(payload) + 2).to_bytes(2, "big") + payload


def rich_jpeg(orientation: int | None = 6, trailer: bool = True) -> bytes:
    """JPEG with EXIF (GPS, serials, maker note, thumbnail), XMP, extended XMP, IPTC, COM, MPF,
    FPXR-like APP2, APP12, ICC and data after EOI."""
    buf = io.BytesIO()
    picture().save(buf, "JPEG", quality=92, exif=rich_exif(orientation), icc_profile=srgb_icc(),
                   comment=COMMENT)  # fmt: skip
    data = buf.getvalue()
    extra = (
        segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + XMP)
        + segment(0xE1, b"http://ns.adobe.com/xmp/extension/\x00" + b"0" * 32 + XMP)
        + segment(0xED, IPTC)
        + segment(0xE2, b"MPF\x00MM\x00*\x00\x00\x00\x08" + b"\x00" * 16)
        + segment(0xEC, b"Ducky\x00\x01\x00\x04\x00\x00\x00\x50")
    )
    i = 2  # insert before the first DQT (walk: the EXIF thumbnail has its own DQT)
    while data[i + 1] != 0xDB:
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    data = data[:i] + extra + data[i:]
    if trailer:
        data += b"TRAILER-SECRET motion photo video would be here" + gps_rational_bytes()
    return data


def jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, payload) of the segments before the first SOS (SOS included, payload empty)."""
    assert data[:2] == b"\xff\xd8"
    out, pos = [], 2
    while True:
        assert data[pos] == 0xFF
        marker = data[pos + 1]
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker == 0xDA:
            out.append((marker, b""))
            return out
        out.append((marker, data[pos + 4 : pos + 2 + length]))
        pos += 2 + length


def scan_data(data: bytes) -> bytes:
    """From the first SOS marker up to and including EOI."""
    start = data.index(b"\xff\xda", sum(len(p) + 4 for _, p in jpeg_segments(data)[:-1]))
    end = data.rindex(b"\xff\xd9") + 2
    return data[start:end]


def exif_tiff_from_jpeg(data: bytes) -> bytes | None:
    for marker, payload in jpeg_segments(data):
        if marker == 0xE1 and payload.startswith(b"Exif\x00"):
            return payload[6:]
    return None


def gps_ifd_bytes(tiff: bytes) -> bytes:
    """Raw bytes of the GPS IFD (entries + next pointer) of a TIFF block, parsed independently."""
    bo = "<" if tiff[:2] == b"II" else ">"
    off = struct.unpack_from(bo + "I", tiff, 4)[0]
    count = struct.unpack_from(bo + "H", tiff, off)[0]
    for i in range(count):
        tag, _typ, _cnt, val = struct.unpack_from(bo + "HHII", tiff, off + 2 + 12 * i)
        if tag == 0x8825:
            n = struct.unpack_from(bo + "H", tiff, val)[0]
            return tiff[val : val + 2 + 12 * n + 4]
    raise AssertionError("no GPS IFD")


# ---------------------------------------------------------------------------------------------
# PNG


def png_chunk(ctype: bytes, body: bytes) -> bytes:
    return (len(body).to_bytes(4, "big") + ctype + body
            + zlib.crc32(ctype + body).to_bytes(4, "big"))  # fmt: skip


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    out, pos = [], 8
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        out.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return out


def rich_png(orientation: int | None = 6, mode: str = "RGBA") -> bytes:
    """PNG with iCCP/pHYs/gAMA (kept) and eXIf, tEXt, iTXt (XMP), zTXt, tIME, a private chunk."""
    buf = io.BytesIO()
    picture(mode=mode).save(buf, "PNG", icc_profile=srgb_icc(), dpi=(300, 300))
    data = buf.getvalue()
    tiff = rich_exif(orientation, thumbnail=False)[6:]
    meta = (
        png_chunk(b"gAMA", (45455).to_bytes(4, "big"))
        + png_chunk(b"eXIf", tiff)
        + png_chunk(b"tEXt", b"Comment\x00TEXT-SECRET hello")
        + png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + XMP)
        + png_chunk(b"zTXt", b"Description\x00\x00" + zlib.compress(b"ZTXT-SECRET wound photo"))
        + png_chunk(b"tIME", bytes.fromhex("07e9030e0f091a"))
        + png_chunk(b"prVt", b"PRIVATE-CHUNK" + gps_rational_bytes())
    )
    i = data.index(b"IDAT") - 4
    return data[:i] + meta + data[i:]


# ---------------------------------------------------------------------------------------------
# WebP


def webp_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    out, pos = [], 12
    while pos < len(data):
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        out.append((data[pos : pos + 4], data[pos + 8 : pos + 8 + size]))
        pos += 8 + size + (size & 1)
    return out


def rich_webp(orientation: int | None = 6, lossless: bool = False, mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    picture(mode=mode).save(buf, "WEBP", lossless=lossless, quality=90,
                            exif=rich_exif(orientation, thumbnail=False), xmp=XMP,
                            icc_profile=srgb_icc())  # fmt: skip
    return buf.getvalue()


def decoded(data: bytes) -> tuple[str, tuple[int, int], bytes]:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im.mode, im.size, im.tobytes()
