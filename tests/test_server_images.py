"""Images at finalisation: no location left in them (422), and they decode (415)."""

from __future__ import annotations

import hashlib
import io
import sqlite3
import struct
import zlib
from pathlib import Path
from typing import Any

import piexif
import pytest
from PIL import Image

from bifoga.media.metadata import inspect
from bifoga.media.sniff import classify
from tests.conftest import VisitHandle
from tests.test_sniff import heif

GPS_MESSAGE = ("The image still carries location data (GPS). Bifoga removes it before sending; "
               "update the app and try again.")
GPS_EXIF = piexif.dump({"GPS": {piexif.GPSIFD.GPSLatitudeRef: b"N",
                                piexif.GPSIFD.GPSLatitude: ((59, 1), (20, 1), (1234, 100))}})
CAMERA_EXIF = piexif.dump({"0th": {piexif.ImageIFD.Make: b"AcmePhone",
                                   piexif.ImageIFD.Model: b"X9"}})
XMP_POSITION = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/'
                b'02/22-rdf-syntax-ns#"><rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/"'
                b' exif:GPSLatitude="59,20.123N" exif:GPSLongitude="18,4.765E"/></rdf:RDF>'
                b"</x:xmpmeta>")


def pillow_image(fmt: str, size: tuple[int, int] = (64, 48), **params: Any) -> bytes:
    im = Image.new("RGB", size)
    im.putdata([(x * 4, y * 5, (x ^ y) & 255) for y in range(size[1]) for x in range(size[0])])
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def png_chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def png_with_idat(png: bytes, idat: bytes) -> bytes:
    """`png` with its image data replaced (CRCs valid, so only a decoder notices)."""
    out, pos = [png[:8]], 8
    while pos < len(png):
        (n,) = struct.unpack(">I", png[pos:pos + 4])
        ctype, body = png[pos + 4:pos + 8], png[pos + 8:pos + 8 + n]
        pos += 12 + n
        if ctype == b"IDAT":
            body = idat
        out.append(png_chunk(ctype, body))
    return b"".join(out)


def jpeg_with_xmp(jpeg: bytes, xmp: bytes) -> bytes:
    segment = b"http://ns.adobe.com/xap/1.0/\x00" + xmp
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(segment) + 2) + segment + jpeg[2:]


def stored_files(settings: Any) -> tuple[list[str], list[str]]:
    data = settings.data_dir
    return (sorted(p.name for p in (data / "uploads").iterdir()),
            sorted(p.name for p in (data / "attachments").iterdir()))


def assert_refused_and_gone(client: Any, settings: Any, visit: VisitHandle, response: Any,
                            status: int, code: str) -> None:
    assert (response.status_code, response.json()["error"]) == (status, code), response.text
    assert stored_files(settings) == ([], [])
    assert client.get(visit.url("/messages"), headers=visit.patient).json()["messages"] == []
    assert client.get(visit.url("/attachments"), headers=visit.clinician).json()[
        "attachments"] == []


# --- GPS -----------------------------------------------------------------------------------


def test_photo_with_gps_refused_and_nothing_stored(server_client: Any, server_settings: Any,
                                                   visit: VisitHandle, tus_upload: Any,
                                                   fixtures_dir: Path) -> None:
    data = (fixtures_dir / "photo_gps.jpg").read_bytes()
    assert "gps" in inspect(data).found
    location = tus_upload(visit, data, "IMG_0001.JPG", "image/jpeg", chunk=1024 * 1024)
    r = server_client.post(visit.url("/attachments"), headers=visit.patient,
                           json={"upload_id": location.rsplit("/", 1)[1]})
    assert r.json() == {"error": "metadata_not_removed", "message": GPS_MESSAGE}
    assert_refused_and_gone(server_client, server_settings, visit, r, 422,
                            "metadata_not_removed")
    # The upload itself is deleted, not kept for another try.
    assert server_client.head(location, headers=visit.headers(
        Tus_Resumable="1.0.0")).status_code == 404


def test_stripped_photo_accepted_byte_identical(server_client: Any, server_settings: Any,
                                                visit: VisitHandle, send_attachment: Any,
                                                stripped_photo: bytes) -> None:
    assert inspect(stripped_photo).found == []
    r = send_attachment(visit, stripped_photo, "IMG_0001.JPG", "image/jpeg")
    assert r.status_code == 201, r.text
    att = r.json()["attachment"]
    assert (att["mime"], att["category"], att["size"]) == ("image/jpeg", "image",
                                                           len(stripped_photo))
    assert server_client.get(att["url"], headers=visit.clinician).content == stripped_photo
    db = sqlite3.connect(server_settings.data_dir / "bifoga.sqlite3")
    assert db.execute("SELECT sha256 FROM attachments").fetchone() == (
        hashlib.sha256(stripped_photo).hexdigest(),)


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: pillow_image("JPEG", exif=GPS_EXIF), "exif.jpg"),
        (lambda: pillow_image("PNG", exif=GPS_EXIF), "exif.png"),
        (lambda: pillow_image("WEBP", exif=GPS_EXIF), "exif.webp"),
        (lambda: jpeg_with_xmp(pillow_image("JPEG"), XMP_POSITION), "xmp.jpg"),
    ],
    ids=["jpeg-exif", "png-exif", "webp-exif", "jpeg-xmp"],
)
def test_position_refused_in_every_stripped_format(server_client: Any, server_settings: Any,
                                                   visit: VisitHandle, send_attachment: Any,
                                                   make: Any, name: str) -> None:
    r = send_attachment(visit, make(), name)
    assert_refused_and_gone(server_client, server_settings, visit, r, 422,
                            "metadata_not_removed")


def test_other_metadata_is_not_refused(visit: VisitHandle, send_attachment: Any) -> None:
    # Only a position is refused; camera make/model alone (the browser removes it too) passes.
    data = pillow_image("JPEG", exif=CAMERA_EXIF)
    assert inspect(data).found == ["camera"]
    assert send_attachment(visit, data, "kamera.jpg").status_code == 201


# --- decoding ------------------------------------------------------------------------------


def test_truncated_jpeg_refused(server_client: Any, server_settings: Any, visit: VisitHandle,
                                send_attachment: Any, stripped_photo: bytes) -> None:
    truncated = stripped_photo[: len(stripped_photo) // 2]
    verdict = classify(truncated, "IMG_0001.JPG")
    assert (verdict.ok, verdict.mime, verdict.category) == (True, "image/jpeg", "image")
    r = send_attachment(visit, truncated, "IMG_0001.JPG", "image/jpeg")
    assert_refused_and_gone(server_client, server_settings, visit, r, 415,
                            "image_does_not_decode")
    assert "cannot be shown" in r.json()["message"]


@pytest.mark.parametrize(
    ("make", "name"),
    [
        # Well-formed chunks with valid CRCs, but the pixel data is missing: only a decoder sees it.
        (lambda: png_with_idat(pillow_image("PNG"), zlib.compress(b"\x00" * 10)), "a.png"),
        (lambda: png_with_idat(pillow_image("PNG"), b"not zlib at all"), "b.png"),
        (lambda: pillow_image("GIF")[:-10], "c.gif"),
        (lambda: pillow_image("WEBP")[:-30], "d.webp"),
        (lambda: b"\xff\xd8\xff\xe0" + b"\x00" * 300, "e.jpg"),
    ],
    ids=["png-short-idat", "png-bad-zlib", "gif-truncated", "webp-truncated", "jpeg-header-only"],
)
def test_images_that_do_not_decode(server_client: Any, server_settings: Any,
                                   visit: VisitHandle, send_attachment: Any, make: Any,
                                   name: str) -> None:
    data = make()
    assert classify(data, name).category == "image"
    r = send_attachment(visit, data, name)
    assert_refused_and_gone(server_client, server_settings, visit, r, 415,
                            "image_does_not_decode")


@pytest.mark.parametrize(
    ("fmt", "params", "mime"),
    [("PNG", {}, "image/png"), ("GIF", {}, "image/gif"), ("WEBP", {"lossless": True},
                                                          "image/webp")],
)
def test_pillow_images_accepted(server_client: Any, visit: VisitHandle, send_attachment: Any,
                                fmt: str, params: dict[str, Any], mime: str) -> None:
    data = pillow_image(fmt, **params)
    r = send_attachment(visit, data, f"bild.{fmt.lower()}", role="clinician")
    assert r.status_code == 201, r.text
    att = r.json()["attachment"]
    assert (att["mime"], att["category"]) == (mime, "image")
    assert server_client.get(att["url"], headers=visit.patient).content == data


def test_heic_is_decoded(visit: VisitHandle, send_attachment: Any) -> None:
    # libheif (pillow-heif) decodes HEIC on the server, as Pillow does JPEG, PNG and WebP: a
    # real picture is stored, a container without a picture that decodes is refused.
    from tests.hostile.media import heic_photo

    r = send_attachment(visit, heic_photo(), "IMG_0002.HEIC")
    assert r.status_code == 201, r.text
    assert r.json()["attachment"]["mime"] == "image/heic"
    r = send_attachment(visit, heif(b"heic", b"mif1", b"heic"), "IMG_0003.HEIC")
    assert (r.status_code, r.json()["error"]) == (415, "image_does_not_decode"), r.text


# --- bounded work --------------------------------------------------------------------------


def test_pixel_limit(make_server_client: Any, send_attachment: Any) -> None:
    client = make_server_client(max_image_pixels=64 * 48)
    v = VisitHandle(client.post("/api/visits", json={}).json())
    assert send_attachment(v, pillow_image("PNG", (64, 48)), "ok.png",
                           client=client).status_code == 201
    r = send_attachment(v, pillow_image("PNG", (64, 49)), "big.png", client=client)
    assert (r.status_code, r.json()["error"]) == (415, "image_does_not_decode")
    assert "too large to check" in r.json()["message"]


def test_decompression_bomb_refused_before_decoding(server_client: Any, server_settings: Any,
                                                    visit: VisitHandle, send_attachment: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # 20000 x 20000 pixels claimed by a few hundred bytes (over twice Pillow's own limit).
    bomb = (b"\x89PNG\r\n\x1a\n"
            + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0))
            + png_chunk(b"IDAT", zlib.compress(b"\x00" * 20001)) + png_chunk(b"IEND", b""))
    import server.images

    def must_not_decode(data: bytes) -> Any:
        raise AssertionError("decoded a bomb")

    monkeypatch.setattr(server.images, "verify_decodes", must_not_decode)
    r = send_attachment(visit, bomb, "bomb.png")
    assert_refused_and_gone(server_client, server_settings, visit, r, 415,
                            "image_does_not_decode")
    assert "too large to check" in r.json()["message"]


def test_documents_and_films_are_not_image_checked(visit: VisitHandle, send_attachment: Any,
                                                   fixtures_dir: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import server.api

    def must_not_run(*args: Any) -> None:
        raise AssertionError("image check on a non-image")

    monkeypatch.setattr(server.api, "check_image", must_not_run)
    for name in ("document.pdf", "clip.mp4"):
        assert send_attachment(visit, (fixtures_dir / name).read_bytes(), name).status_code == 201
