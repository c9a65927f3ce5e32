"""Pictures and films that hide a position (or a device serial) where hand-written walks miss
it, and plain controls of each format. Made with Pillow, pillow-heif, ffmpeg and by hand."""

from __future__ import annotations

import hashlib
import io
import shutil
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

import pillow_heif
from PIL import Image

from tests.hostile import Case

LOCATION = (422, "metadata_not_removed")
LAT, LON = (59, 20, 7), (18, 4, 12)
XMP_WRAP = (b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
            b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/'
            b'02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" %s/></rdf:RDF></x:xmpmeta>'
            b'<?xpacket end="w"?>')
XMP_GPS = XMP_WRAP % (b'xmlns:exif="http://ns.adobe.com/exif/1.0/" '
                      b'exif:GPSLatitude="59,20.12N" exif:GPSLongitude="18,4.2E"')
XMP_DJI = XMP_WRAP % (b'xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/" '
                      b'drone-dji:GpsLatitude="+59.335" drone-dji:GpsLongitude="+18.070"')
XMP_GPS_DEST = XMP_WRAP % (b'xmlns:exif="http://ns.adobe.com/exif/1.0/" '
                           b'exif:GPSDestLatitude="59,20.12N" exif:GPSDestLongitude="18,4.2E"')
XMP_PLAIN = XMP_WRAP % b'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="Bifoga"'


def picture(size: tuple[int, int] = (64, 48)) -> Image.Image:
    w, h = size
    im = Image.new("RGB", size)
    im.putdata([((x * 255) // w, (y * 255) // h, ((x ^ y) * 9) & 255)
                for y in range(h) for x in range(w)])
    return im


def encoded(fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    picture().save(out, fmt, **params)
    return out.getvalue()


# --------------------------------------------------------------------------- TIFF / Exif


def _entry(tag: int, kind: int, count: int, value: bytes) -> bytes:
    return struct.pack(">HHI", tag, kind, count) + value.ljust(4, b"\x00")


def gps_tiff(bad_offset_first: bool = False, serial_only: bool = False,
             dest_only: bool = False) -> bytes:
    """A big-endian TIFF block: IFD0 -> GPS IFD (latitude and longitude, or GPSDest* only),
    or an Exif IFD with a body serial only. With `bad_offset_first`, IFD0 starts with a Make
    entry whose value offset points far past the end (a walk that stops there sees no GPS)."""
    ifd0_entries = []
    if bad_offset_first:
        ifd0_entries.append(_entry(0x010F, 2, 200, struct.pack(">I", 0x7FFFFFF0)))
    pointer_tag = 0x8769 if serial_only else 0x8825
    n0 = len(ifd0_entries) + 1
    sub_offset = 8 + 2 + 12 * n0 + 4
    ifd0_entries.append(_entry(pointer_tag, 4, 1, struct.pack(">I", sub_offset)))
    ifd0 = struct.pack(">H", n0) + b"".join(ifd0_entries) + b"\x00\x00\x00\x00"
    if serial_only:
        serial = b"SN-4711-0042\x00"
        data_at = sub_offset + 2 + 12 + 4
        sub = struct.pack(">H", 1) + _entry(0xA431, 2, len(serial), struct.pack(">I", data_at))
        return b"MM\x00*\x00\x00\x00\x08" + ifd0 + sub + b"\x00\x00\x00\x00" + serial
    lat_tag, lon_tag = (0x0014, 0x0016) if dest_only else (0x0002, 0x0004)
    n = 5
    data_at = sub_offset + 2 + 12 * n + 4
    rationals = b"".join(struct.pack(">II", v, 1) for v in (*LAT, *LON))
    sub = struct.pack(">H", n) + b"".join([
        _entry(0x0000, 1, 4, b"\x02\x03\x00\x00"),
        _entry(lat_tag - 1, 2, 2, b"N\x00"),
        _entry(lat_tag, 5, 3, struct.pack(">I", data_at)),
        _entry(lon_tag - 1, 2, 2, b"E\x00"),
        _entry(lon_tag, 5, 3, struct.pack(">I", data_at + 24)),
    ]) + b"\x00\x00\x00\x00"
    return b"MM\x00*\x00\x00\x00\x08" + ifd0 + sub + rationals


# --------------------------------------------------------------------------- JPEG


def segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def jpeg_with(*segments: bytes) -> bytes:
    base = encoded("JPEG", quality=80)
    return base[:2] + b"".join(segments) + base[2:]


def photoshop_block(resource: int, payload: bytes) -> bytes:
    """An APP13 'Photoshop 3.0' segment holding one image resource."""
    body = b"8BIM" + struct.pack(">H", resource) + b"\x00\x00" + struct.pack(">I", len(payload))
    body += payload + b"\x00" * (len(payload) % 2)
    return segment(0xED, b"Photoshop 3.0\x00" + body)


def extended_xmp_segments(full: bytes) -> list[bytes]:
    """The main XMP naming the extension, then the extension in two APP1 segments cut in the
    middle of a word (as the XMP specification's extended XMP, GUID = MD5 of the whole)."""
    guid = hashlib.md5(full).hexdigest().upper().encode()
    main = XMP_WRAP % (b'xmlns:xmpNote="http://ns.adobe.com/xmp/note/" xmpNote:HasExtendedXMP="'
                       + guid + b'"')
    cut = full.index(b"GPSLatitude") + 4  # "GPSL|atitude"
    head = b"http://ns.adobe.com/xmp/extension/\x00" + guid
    return [segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + main),
            segment(0xE1, head + struct.pack(">II", len(full), 0) + full[:cut]),
            segment(0xE1, head + struct.pack(">II", len(full), cut) + full[cut:])]


# --------------------------------------------------------------------------- PNG, WebP, GIF


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(
        ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_with(*chunks: bytes) -> bytes:
    base = encoded("PNG")
    return base[:-12] + b"".join(chunks) + base[-12:]


def raw_profile(name: bytes, payload: bytes) -> bytes:
    """ImageMagick's "Raw profile type NAME": a newline, the name, the length, hex lines."""
    hexed = payload.hex().encode()
    lines = b"\n".join(hexed[i:i + 72] for i in range(0, len(hexed), 72))
    return b"\n%s\n%8d\n" % (name, len(payload)) + lines + b"\n"


def webp_simple_with(*chunks: tuple[bytes, bytes]) -> bytes:
    """A simple-format WebP (a VP8 chunk, no VP8X) followed by further chunks."""
    base = encoded("WEBP", quality=80)
    body = base[12:]
    for kind, payload in chunks:
        body += kind + struct.pack("<I", len(payload)) + payload + b"\x00" * (len(payload) % 2)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def gif_with_xmp(xmp: bytes) -> bytes:
    base = encoded("GIF")
    magic = bytes([1, *range(255, -1, -1), 0])  # the XMP trailer that keeps it sub-blocks
    ext = b"\x21\xff\x0bXMP DataXMP" + xmp + magic
    flags = base[10]
    at = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)  # after the colour table
    return base[:at] + ext + base[at:]


# --------------------------------------------------------------------------- HEIC


def heic_photo(exif: bytes | None = None, xmp: bytes | None = None) -> bytes:
    heif = pillow_heif.from_pillow(picture())
    out = io.BytesIO()
    kwargs: dict[str, object] = {"quality": 70}
    if exif is not None:
        kwargs["exif"] = exif
    if xmp is not None:
        kwargs["xmp"] = xmp
    heif.save(out, **kwargs)
    return out.getvalue()


def heic_with_ispe(width: int, height: int) -> bytes:
    data = bytearray(heic_photo())
    at = data.index(b"ispe")
    data[at + 8:at + 16] = struct.pack(">II", width, height)
    return bytes(data)


def heic_behind_free_boxes(count: int) -> bytes:
    return b"\x00\x00\x00\x08free" * count + heic_photo(exif=b"Exif\x00\x00" + gps_tiff())


# --------------------------------------------------------------------------- films


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _boxes(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[bytes, int, int]]:
    """(type, start, end) of the boxes in data[start:end] (32-bit sizes only: ffmpeg's)."""
    end = len(data) if end is None else end
    out = []
    while start + 8 <= end:
        size, kind = struct.unpack(">I4s", data[start:start + 8])
        out.append((kind, start, start + size))
        start += size
    return out


def ffmpeg_film(*args: str) -> bytes:
    if shutil.which("ffmpeg") is None:
        raise RuntimeError("ffmpeg is missing: `make test` installs Debian's ffmpeg")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "film.mp4"
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
                        "-f", "lavfi", "-i", "testsrc=size=160x120:rate=15", "-f", "lavfi",
                        "-i", "sine=frequency=440:sample_rate=22050", "-t", "1",
                        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
                        *args, str(path)], check=True, capture_output=True, timeout=120)
        return path.read_bytes()


def gpmf_gps_payload() -> bytes:
    """One GPMF sample: DEVC > STRM > (SCAL, GPS5 with two fixes), as a GoPro writes it."""
    def klv(key: bytes, kind: bytes, size: int, values: bytes) -> bytes:
        repeat = len(values) // size
        return key + kind + bytes([size]) + struct.pack(">H", repeat) + values + b"\x00" * (
            -len(values) % 4)

    def nest(key: bytes, inner: bytes) -> bytes:
        return key + b"\x00\x01" + struct.pack(">H", len(inner)) + inner

    scal = klv(b"SCAL", b"l", 4, struct.pack(">5i", 10_000_000, 10_000_000, 1000, 1000, 100))
    fixes = struct.pack(">5i", 593_350_000, 180_700_000, 25_000, 1_000, 100) * 2
    strm = nest(b"STRM", klv(b"STNM", b"c", 1, b"GPS (Lat., Long., Alt., 2D, 3D)")
                + scal + klv(b"GPSF", b"L", 4, struct.pack(">I", 3))
                + klv(b"GPS5", b"l", 20, fixes))
    return nest(b"DEVC", klv(b"DVNM", b"c", 1, b"Camera") + strm)


def _gpmd_trak(track_id: int, chunk_offset: int, size: int) -> bytes:
    tkhd = _box(b"tkhd", struct.pack(">I", 3) + b"\x00" * 8 + struct.pack(">I", track_id)
                + b"\x00" * 4 + struct.pack(">I", 1000) + b"\x00" * 8 + b"\x00" * 8
                + struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
                + b"\x00" * 8)
    mdhd = _box(b"mdhd", b"\x00" * 12 + struct.pack(">II", 1000, 1000) + b"\x55\xc4\x00\x00")
    hdlr = _box(b"hdlr", b"\x00" * 8 + b"meta" + b"\x00" * 12 + b"GoPro MET\x00")
    gpmd = _box(b"gpmd", b"\x00" * 6 + struct.pack(">H", 1) + b"\x00" * 4)
    stbl = _box(b"stbl", b"".join([
        _box(b"stsd", struct.pack(">II", 0, 1) + gpmd),
        _box(b"stts", struct.pack(">IIII", 0, 1, 1, 1000)),
        _box(b"stsc", struct.pack(">IIIII", 0, 1, 1, 1, 1)),
        _box(b"stsz", struct.pack(">IIII", 0, 0, 1, size)),
        _box(b"stco", struct.pack(">III", 0, 1, chunk_offset)),
    ]))
    dinf = _box(b"dinf", _box(b"dref", struct.pack(">II", 0, 1) + _box(b"url ",
                                                                        struct.pack(">I", 1))))
    minf = _box(b"minf", _box(b"nmhd", b"\x00" * 4) + dinf + stbl)
    return _box(b"trak", tkhd + _box(b"mdia", mdhd + hdlr + minf))


def film_with_gpmf_track() -> bytes:
    """A plain ffmpeg MP4 (mdat before moov) with a GoPro GPMF metadata track added: its one
    sample, GPS fixes, in a second mdat after the moov."""
    film = ffmpeg_film()
    boxes = {kind: (s, e) for kind, s, e in _boxes(film)}
    moov_start, moov_end = boxes[b"moov"]
    if moov_end != len(film):
        raise ValueError("expected the moov last")
    payload = gpmf_gps_payload()
    moov_body = film[moov_start + 8:moov_end]
    trak_len = len(_gpmd_trak(9, 0, len(payload)))
    mdat_payload_at = moov_start + 8 + len(moov_body) + trak_len + 8
    moov = _box(b"moov", moov_body + _gpmd_trak(9, mdat_payload_at, len(payload)))
    return film[:moov_start] + moov + _box(b"mdat", payload)


def with_compatible_brand(film: bytes, brand: bytes) -> bytes:
    """The same film with `brand` added to its ftyp's compatible brands."""
    size, kind = struct.unpack(">I4s", film[:8])
    assert kind == b"ftyp"
    ftyp = _box(b"ftyp", film[8:size] + brand)
    out = ftyp + film[size:]
    shift = len(ftyp) - size
    # chunk offsets move with the longer ftyp
    return _shift_chunk_offsets(out, shift)


def _shift_chunk_offsets(data: bytes, shift: int) -> bytes:
    out = bytearray(data)
    for path in ([b"moov"],):
        del path
    stack = [(0, len(out))]
    containers = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}
    while stack:
        start, end = stack.pop()
        for kind, s, e in _boxes(bytes(out), start, end):
            if kind in containers:
                stack.append((s + 8, e))
            elif kind == b"stco":
                count = struct.unpack(">I", out[s + 12:s + 16])[0]
                for i in range(count):
                    at = s + 16 + 4 * i
                    out[at:at + 4] = struct.pack(">I", struct.unpack(">I", out[at:at + 4])[0]
                                                 + shift)
    return bytes(out)


# --------------------------------------------------------------------------- the cases


def media_cases() -> dict[str, Case]:
    from bifoga.media.metadata import strip
    from tests.media import phone_photo

    exif_bad = b"Exif\x00\x00" + gps_tiff(bad_offset_first=True)
    plain_film = ffmpeg_film()
    xyz_film = ffmpeg_film("-metadata", "location=+59.3350+018.0700/")
    loci_film = ffmpeg_film("-f", "3gp", "-metadata", "location=+59.3350+018.0700/")
    return {
        # controls
        "jpeg phone photo after the device's remover": Case(
            strip(phone_photo()).data, "IMG_0001.jpg", 201, "image/jpeg"),
        "jpeg with plain XMP": Case(jpeg_with(segment(
            0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + XMP_PLAIN)), "a.jpg", 201, "image/jpeg"),
        "png plain": Case(encoded("PNG"), "a.png", 201, "image/png"),
        "webp plain": Case(encoded("WEBP", quality=80), "a.webp", 201, "image/webp"),
        "gif plain": Case(encoded("GIF"), "a.gif", 201, "image/gif"),
        "gif with plain XMP": Case(gif_with_xmp(XMP_PLAIN), "a.gif", 201, "image/gif"),
        "heic plain": Case(heic_photo(), "IMG_0002.heic", 201, "image/heic"),
        "mp4 plain": Case(plain_film, "film.mp4", 201, "video/mp4"),
        # JPEG
        "jpeg GPS behind an IFD0 entry with a bad offset": Case(
            jpeg_with(segment(0xE1, exif_bad)), "a.jpg", *LOCATION),
        "jpeg APP13 Photoshop block carrying Exif": Case(jpeg_with(photoshop_block(
            0x0422, gps_tiff())), "a.jpg", *LOCATION),
        "jpeg APP13 Photoshop block carrying XMP": Case(jpeg_with(photoshop_block(
            0x0424, XMP_GPS)), "a.jpg", *LOCATION),
        "jpeg extended XMP split mid-word": Case(
            jpeg_with(*extended_xmp_segments(XMP_GPS)), "a.jpg", *LOCATION),
        "jpeg DJI drone-dji:GpsLatitude": Case(jpeg_with(segment(
            0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + XMP_DJI)), "a.jpg", *LOCATION),
        "jpeg GPSDest* in the GPS IFD only": Case(jpeg_with(segment(
            0xE1, b"Exif\x00\x00" + gps_tiff(dest_only=True))), "a.jpg", *LOCATION),
        "jpeg GPSDest* in XMP only": Case(jpeg_with(segment(
            0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + XMP_GPS_DEST)), "a.jpg", *LOCATION),
        "jpeg camera body serial only": Case(jpeg_with(segment(
            0xE1, b"Exif\x00\x00" + gps_tiff(serial_only=True))), "a.jpg", *LOCATION),
        # PNG
        "png eXIf GPS behind a bad offset": Case(png_with(png_chunk(
            b"eXIf", gps_tiff(bad_offset_first=True))), "a.png", *LOCATION),
        "png raw profile: hex XMP": Case(png_with(png_chunk(
            b"zTXt", b"Raw profile type xmp\x00\x00" + zlib.compress(raw_profile(
                b"xmp", XMP_GPS)))), "a.png", *LOCATION),
        "png raw profile: 8BIM with Exif": Case(png_with(png_chunk(
            b"tEXt", b"Raw profile type 8bim\x00" + raw_profile(
                b"8bim", photoshop_block(0x0422, gps_tiff())[18:]))), "a.png", *LOCATION),
        # WebP, GIF
        "webp simple format followed by an EXIF chunk": Case(webp_simple_with(
            (b"EXIF", gps_tiff())), "a.webp", *LOCATION),
        "webp simple format followed by an XMP chunk": Case(webp_simple_with(
            (b"XMP ", XMP_GPS)), "a.webp", *LOCATION),
        "gif XMP with a position": Case(gif_with_xmp(XMP_GPS), "a.gif", *LOCATION),
        # HEIC
        "heic Exif GPS behind a bad offset": Case(heic_photo(exif=exif_bad), "a.heic",
                                                   *LOCATION),
        "heic XMP with a position": Case(heic_photo(xmp=XMP_GPS), "a.heic", *LOCATION),
        "heic deflate-compressed XMP item": Case(heic_item_rewritten(
            heic_photo(xmp=XMP_GPS), b"mime", deflate=True), "a.heic", *LOCATION),
        "heic Exif item split over two extents": Case(heic_item_rewritten(
            heic_photo(exif=b"Exif\x00\x00" + gps_tiff()), b"Exif", split=True), "a.heic",
            *LOCATION),
        "heic 1,001 free boxes before ftyp": Case(heic_behind_free_boxes(1001), "a.heic", 415,
                                                  "type_not_allowed|image_does_not_decode"),
        "heic 60000 px ispe": Case(heic_with_ispe(60000, 60000), "a.heic", 415,
                                   "image_does_not_decode"),
        # films
        "mp4 GoPro GPMF GPS track": Case(film_with_gpmf_track(), "GX010001.mp4", *LOCATION),
        "mp4 \u00a9xyz under an avif compatible brand": Case(
            with_compatible_brand(xyz_film, b"avif"), "film.mp4", *LOCATION),
        "3gp loci under a mif1 compatible brand": Case(
            with_compatible_brand(loci_film, b"mif1"), "film.3gp", *LOCATION),
    }


# --------------------------------------------------------------------------- HEIF item surgery


def _full_box_children(data: bytes, box_start: int, box_end: int) -> list[tuple[bytes, int, int]]:
    return _boxes(data, box_start + 12, box_end)  # after size, type, version and flags


def _parse_iloc(body: bytes) -> tuple[int, tuple[int, int, int, int], list[dict[str, object]]]:
    version = body[0]
    offset_size, length_size = body[4] >> 4, body[4] & 15
    base_size, index_size = body[5] >> 4, (body[5] & 15) if version in (1, 2) else 0
    at = 6
    if version < 2:
        count = struct.unpack(">H", body[at:at + 2])[0]
        at += 2
    else:
        count = struct.unpack(">I", body[at:at + 4])[0]
        at += 4

    def number(size: int) -> int:
        nonlocal at
        value = int.from_bytes(body[at:at + size], "big") if size else 0
        at += size
        return value

    items = []
    for _ in range(count):
        item_id = number(2 if version < 2 else 4)
        method = number(2) & 15 if version in (1, 2) else 0
        ref = number(2)
        base = number(base_size)
        extents = []
        for _ in range(number(2)):
            number(index_size)
            extents.append((number(offset_size), number(length_size)))
        items.append({"id": item_id, "method": method, "ref": ref, "base": base,
                      "extents": extents})
    return version, (offset_size, length_size, base_size, index_size), items


def _write_iloc(version: int, sizes: tuple[int, int, int, int],
                items: list[dict[str, object]]) -> bytes:
    offset_size, length_size, base_size, index_size = sizes
    offset_size = length_size = 4
    out = bytearray([version, 0, 0, 0, (offset_size << 4) | length_size,
                     (base_size << 4) | index_size])
    out += struct.pack(">H" if version < 2 else ">I", len(items))
    for item in items:
        out += struct.pack(">H" if version < 2 else ">I", item["id"])
        if version in (1, 2):
            out += struct.pack(">H", item["method"])
        out += struct.pack(">H", item["ref"])
        out += int(item["base"]).to_bytes(base_size, "big") if base_size else b""
        extents = item["extents"]
        assert isinstance(extents, list)
        out += struct.pack(">H", len(extents))
        for offset, length in extents:
            out += (b"\x00" * index_size) + struct.pack(">II", offset, length)
    return _box(b"iloc", bytes(out))


def heic_item_rewritten(heic: bytes, item_type: bytes, *, deflate: bool = False,
                        split: bool = False) -> bytes:
    """The HEIC with the item of `item_type` (b"Exif" or b"mime") moved to a new mdat at the
    end: its data deflated (and 'deflate' written as the item's content encoding), or split
    over two extents. Every other item's offsets follow the larger meta box."""
    top = {kind: (s, e) for kind, s, e in _boxes(heic)}
    meta_start, meta_end = top[b"meta"]
    children = _full_box_children(heic, meta_start, meta_end)
    iinf = next((s, e) for k, s, e in children if k == b"iinf")
    iloc = next((s, e) for k, s, e in children if k == b"iloc")
    version, sizes, items = _parse_iloc(heic[iloc[0] + 8:iloc[1]])
    # the target item: its infe
    iinf_version = heic[iinf[0] + 8]
    entries_at = iinf[0] + 12 + (2 if iinf_version == 0 else 4)
    new_entries, target = b"", None
    for kind, s, e in _boxes(heic, entries_at, iinf[1]):
        body = heic[s + 8:e]
        item_id = struct.unpack(">H", body[4:6])[0]
        if body[8:12] == item_type and target is None:
            target = item_id
            if deflate:
                body = body + b"deflate\x00"
        new_entries += _box(kind, body)
    assert target is not None, "no such item"
    new_iinf = _box(b"iinf", heic[iinf[0] + 8:entries_at] + new_entries)
    item = next(i for i in items if i["id"] == target)
    extents = item["extents"]
    assert isinstance(extents, list)
    data = b"".join(heic[off + int(item["base"]):off + int(item["base"]) + n]
                    for off, n in extents)
    if deflate:
        data = zlib.compress(data)
    # sizes before the final offsets are known: lay out with placeholders, then fix
    placeholder = [dict(i) for i in items]
    for i in placeholder:
        if i["id"] == target:
            i["extents"] = [(0, len(data))] if not split else [(0, 10), (0, len(data) - 10)]
            i["base"] = 0
    new_iloc = _write_iloc(version, sizes, placeholder)
    pieces = []
    for kind, s, e in children:
        pieces.append(new_iinf if kind == b"iinf" else new_iloc if kind == b"iloc"
                      else heic[s:e])
    meta = _box(b"meta", heic[meta_start + 8:meta_start + 12] + b"".join(pieces))
    delta = len(meta) - (meta_end - meta_start)
    rest = heic[meta_end:]
    appended_at = len(heic[:meta_start]) + len(meta) + len(rest) + 8
    for i in placeholder:
        if i["id"] == target:
            if split:  # the second half first in the file, then the first: two real extents
                tail = data[10:]
                i["extents"] = [(appended_at + len(tail), 10), (appended_at, len(tail))]
                data = tail + data[:10]
            else:
                i["extents"] = [(appended_at, len(data))]
        elif i["method"] == 0:
            i["extents"] = [(off + delta, n) for off, n in i["extents"]]  # type: ignore[union-attr]
    new_iloc = _write_iloc(version, sizes, placeholder)
    pieces = [new_iinf if kind == b"iinf" else new_iloc if kind == b"iloc" else heic[s:e]
              for kind, s, e in children]
    meta = _box(b"meta", heic[meta_start + 8:meta_start + 12] + b"".join(pieces))
    assert len(meta) - (meta_end - meta_start) == delta
    return heic[:meta_start] + meta + rest + _box(b"mdat", data)
