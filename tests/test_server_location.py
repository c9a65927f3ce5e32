"""The server never trusts the client: a position left anywhere Bifoga removes one is refused.

422 `metadata_not_removed` for HEIC/HEIF (Exif or XMP item), PNG (any text chunk, compressed or
not), WebP (EXIF or XMP chunk) and films (MP4/MOV/3GP 'udta', QuickTime keys, XMP; WebM tags);
the same files after bifoga.media.metadata.strip are stored (201). Uploads go through tus.
"""

from __future__ import annotations

import binascii
import shutil
import subprocess
import zlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bifoga.media.metadata import find_location, strip
from tests.conftest import VisitHandle
from tests.fixtures_films import FILMS, MADE, films  # noqa: F401
from tests.test_server_images import (
    GPS_EXIF,
    XMP_POSITION,
    assert_refused_and_gone,
    pillow_image,
    png_chunk,
)

FILM_MESSAGE = ("The film still carries location data. Bifoga removes it before sending; "
                "update the app and try again.")


def png_with(*chunks: bytes) -> bytes:
    png = pillow_image("PNG")
    return png[:-12] + b"".join(chunks) + png[-12:]  # before IEND


def raw_profile(exif: bytes) -> bytes:
    """ImageMagick's "Raw profile type exif": a name, the length, then hex lines."""
    hexed = binascii.hexlify(exif)  # piexif's EXIF starts with "Exif\0\0", as ImageMagick's
    lines = b"\n".join(hexed[i : i + 72] for i in range(0, len(hexed), 72))
    return b"\nexif\n%8d\n" % len(exif) + lines + b"\n"


PNGS = {
    "text-xmp": lambda: png_with(png_chunk(b"tEXt", b"XML:com.adobe.xmp\x00" + XMP_POSITION)),
    "ztxt-xmp": lambda: png_with(png_chunk(
        b"zTXt", b"XML:com.adobe.xmp\x00\x00" + zlib.compress(XMP_POSITION))),
    "itxt-xmp": lambda: png_with(png_chunk(
        b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + XMP_POSITION)),
    "itxt-compressed-xmp": lambda: png_with(png_chunk(
        b"iTXt", b"XML:com.adobe.xmp\x00\x01\x00\x00\x00" + zlib.compress(XMP_POSITION))),
    "ztxt-raw-exif": lambda: png_with(png_chunk(
        b"zTXt", b"Raw profile type exif\x00\x00" + zlib.compress(raw_profile(GPS_EXIF)))),
    "imagemagick-key": lambda: png_with(png_chunk(b"tEXt", b"exif:GPSLatitude\x0059/1, 20/1")),
    "ztxt-broken-zlib": lambda: png_with(png_chunk(b"zTXt", b"Comment\x00\x00not zlib")),
}
WEBPS = {
    "webp-exif": lambda: pillow_image("WEBP", exif=GPS_EXIF),
    "webp-xmp": lambda: pillow_image("WEBP", xmp=XMP_POSITION),
}


@pytest.mark.parametrize("name", [*PNGS, *WEBPS])
def test_png_and_webp(server_client: Any, server_settings: Any, visit: VisitHandle,
                      send_attachment: Any, name: str) -> None:
    data = {**PNGS, **WEBPS}[name]()
    ext = "webp" if name.startswith("webp") else "png"
    assert find_location(data)
    r = send_attachment(visit, data, f"bild.{ext}")
    assert_refused_and_gone(server_client, server_settings, visit, r, 422,
                            "metadata_not_removed")
    clean = strip(data).data
    assert not find_location(clean)
    assert send_attachment(visit, clean, f"bild.{ext}").status_code == 201


def test_png_text_without_position_is_accepted(visit: VisitHandle, send_attachment: Any) -> None:
    data = png_with(png_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"hello " * 100)),
                    png_chunk(b"tEXt", b"Software\x00Pillow"))
    assert not find_location(data)
    assert send_attachment(visit, data, "bild.png").status_code == 201


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ctype=st.sampled_from([b"tEXt", b"zTXt", b"iTXt"]), key=st.sampled_from(
    [b"XML:com.adobe.xmp", b"Raw profile type exif", b"Comment", b""]),
    body=st.one_of(st.binary(max_size=200), st.binary(max_size=200).map(zlib.compress)),
    flags=st.binary(min_size=0, max_size=3))
def test_fuzz_png_text(ctype: bytes, key: bytes, body: bytes, flags: bytes) -> None:
    """Any text chunk is read or taken to carry a position; nothing else is raised."""
    assert find_location(png_with(png_chunk(ctype, key + b"\x00" + flags + body))) in (True,
                                                                                     False)


# --- HEIC ----------------------------------------------------------------------------------

needs_heif = pytest.mark.skipif(not all(shutil.which(t) for t in ("heif-enc", "exiftool")),
                                reason="heif-enc (libheif-examples) and exiftool are needed")


@pytest.fixture(scope="module")
def heics(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("heic")
    (folder / "in.png").write_bytes(pillow_image("PNG", (64, 48)))
    made = {}
    for name, tags in {
        "exif": ["-GPSLatitude=60.6749", "-GPSLatitudeRef=N", "-GPSLongitude=17.1413",
                 "-GPSLongitudeRef=E", "-Make=Apple", "-Model=iPhone 15"],
        "xmp": ["-XMP-exif:GPSLatitude=60.6749", "-XMP-exif:GPSLongitude=17.1413"],
    }.items():
        path = folder / f"{name}.heic"
        subprocess.run(["heif-enc", "-q", "50", "-o", str(path), str(folder / "in.png")],
                       check=True, capture_output=True, timeout=120)
        subprocess.run(["exiftool", "-q", "-overwrite_original", *tags, str(path)], check=True,
                       capture_output=True, timeout=120)
        made[name] = path.read_bytes()
    # libheif copies the EXIF of the JPEG it encodes (as a phone's own HEIC carries its EXIF).
    (folder / "gps.jpg").write_bytes(pillow_image("JPEG", exif=GPS_EXIF))
    subprocess.run(["heif-enc", "-q", "50", "-o", str(folder / "copied.heic"),
                    str(folder / "gps.jpg")], check=True, capture_output=True, timeout=120)
    made["copied-exif"] = (folder / "copied.heic").read_bytes()
    return made


@needs_heif
@pytest.mark.parametrize("name", ["exif", "xmp", "copied-exif"])
def test_heic_with_position(server_client: Any, server_settings: Any, visit: VisitHandle,
                            send_attachment: Any, heics: dict[str, bytes], name: str) -> None:
    data = heics[name]
    assert find_location(data)
    r = send_attachment(visit, data, "IMG_0001.HEIC")
    assert_refused_and_gone(server_client, server_settings, visit, r, 422,
                            "metadata_not_removed")
    clean = strip(data).data
    assert not find_location(clean)
    r = send_attachment(visit, clean, "IMG_0001.HEIC")
    assert r.status_code == 201, r.text
    assert r.json()["attachment"]["mime"] == "image/heic"


def test_heic_that_does_not_parse_is_searched_byte_by_byte() -> None:
    from tests.test_sniff import heif

    plain = heif(b"heic", b"mif1", b"heic")
    assert not find_location(plain)
    assert find_location(plain + GPS_EXIF[6:])  # a TIFF block with a GPS IFD
    assert find_location(plain + XMP_POSITION)


# --- films ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*FILMS, *MADE])
def test_film_with_position(server_client: Any, server_settings: Any, visit: VisitHandle,
                            send_attachment: Any, films: dict[str, bytes],  # noqa: F811
                            name: str) -> None:
    data = films[name]
    r = send_attachment(visit, data, name)
    assert r.json() == {"error": "metadata_not_removed", "message": FILM_MESSAGE}
    assert_refused_and_gone(server_client, server_settings, visit, r, 422,
                            "metadata_not_removed")
    for keep in (False, True):
        clean = strip(data, keep_capture_date=keep).data
        r = send_attachment(visit, clean, name)
        assert r.status_code == 201, r.text
        att = r.json()["attachment"]
        assert att["category"] == "video"
        assert server_client.get(att["url"], headers=visit.clinician).content == clean


def test_film_that_cannot_be_walked_is_refused(server_client: Any, server_settings: Any,
                                              visit: VisitHandle, send_attachment: Any,
                                              films: dict[str, bytes]) -> None:  # noqa: F811
    # The sniffer only needs the first track; a broken second one is for the metadata walk.
    data = strip(films["android.mp4"]).data
    moov = data.index(b"moov") - 4
    size = int.from_bytes(data[moov : moov + 4], "big")
    bad_trak = (16).to_bytes(4, "big") + b"trak" + (99).to_bytes(4, "big") + b"mdia"
    new_moov = (size + 16).to_bytes(4, "big") + data[moov + 4 : moov + size] + bad_trak
    broken = data[:moov] + new_moov + data[moov + size :]
    r = send_attachment(visit, broken, "film.mp4")
    assert_refused_and_gone(server_client, server_settings, visit, r, 415, "type_not_allowed")
