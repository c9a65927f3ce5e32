"""Part 3 end to end: a phone photo loses its location and device identity before it leaves the
patient's browser, keeps its orientation, and a too large photo can be reduced to fit."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

from PIL import Image
from playwright.sync_api import expect

from tests.e2e.test_send_flow import UPLOAD_TIMEOUT_MS, pick

GPS_IFD = 0x8825
ORIENTATION = 0x0112
MAX_BYTES = 10 * 1024 * 1024


def test_photo_with_gps_arrives_without_it_and_upright(pair, fixtures_dir: Path):
    patient, clinician = pair
    P, C = patient.page, clinician.page
    photo = fixtures_dir / "photo_gps.jpg"
    original = Image.open(photo)
    assert original.getexif().get(ORIENTATION) == 6 and original.getexif().get_ifd(GPS_IFD)
    raw_w, raw_h = original.size  # stored landscape; Orientation 6 shows it portrait

    pick(P, str(photo))
    dialog = P.get_by_role("dialog", name="Förhandsgranska")
    # The preview says what goes, in plain words, before anything is sent.
    expect(dialog.get_by_text("Platsinformation (GPS)")).to_be_visible(timeout=UPLOAD_TIMEOUT_MS)
    expect(dialog.get_by_text("Kameramodell och serienummer")).to_be_visible()
    expect(dialog.get_by_label("Behåll fotodatum")).not_to_be_checked()
    dialog.get_by_role("button", name="Ladda upp").click()
    expect(dialog).to_be_hidden(timeout=UPLOAD_TIMEOUT_MS)

    # The clinician downloads it: no GPS, no camera identity, still Orientation 6.
    with C.expect_download(timeout=UPLOAD_TIMEOUT_MS) as download:
        C.locator(".attachment-image-wrap").get_by_role(
            "button", name=re.compile("^Ladda ner")).click()
    received = Image.open(download.value.path())
    exif = received.getexif()
    assert not exif.get_ifd(GPS_IFD) and GPS_IFD not in exif
    assert 0x010F not in exif and 0x0110 not in exif  # make, model
    assert exif.get(ORIENTATION) == 6
    assert received.size == (raw_w, raw_h)
    assert received.tobytes() == original.tobytes()  # lossless: the pixels are the same

    # It stands upright in both chats and in the viewer: taller than wide, as photographed.
    for page in (P, C):
        page.wait_for_function("document.querySelector('img.attachment-image')?.naturalWidth > 0")
        shown = page.locator("img.attachment-image").evaluate(
            "img => [img.naturalWidth, img.naturalHeight, img.clientWidth, img.clientHeight]")
        assert shown[:2] == [raw_h, raw_w], shown
        assert shown[3] > shown[2], shown
    C.get_by_role("button", name="Förstora bild: photo_gps.jpg").click()
    C.wait_for_function("document.querySelector('#viewer-image').naturalWidth > 0")
    viewer = C.locator("#viewer-image").evaluate(
        "img => [img.naturalWidth, img.naturalHeight, img.clientWidth, img.clientHeight]")
    assert viewer[:2] == [raw_h, raw_w] and viewer[3] > viewer[2], viewer


def test_keep_photo_date_keeps_only_the_date(pair, fixtures_dir: Path):
    patient, clinician = pair
    P, C = patient.page, clinician.page
    import piexif

    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), (90, 140, 60)).save(buffer, "JPEG", quality=90)
    exif = piexif.dump({
        "0th": {piexif.ImageIFD.Make: b"Phone", piexif.ImageIFD.Orientation: 1},
        "Exif": {piexif.ExifIFD.DateTimeOriginal: b"2026:11:20 08:15:00",
                 piexif.ExifIFD.BodySerialNumber: b"SN-123456"},
        "GPS": {piexif.GPSIFD.GPSLatitudeRef: b"N",
                piexif.GPSIFD.GPSLatitude: ((60, 1), (40, 1), (1234, 100))},
    })
    dated = io.BytesIO()
    Image.open(buffer).save(dated, "JPEG", quality=90, exif=exif)
    pick(P, {"name": "sar.jpg", "mimeType": "image/jpeg", "buffer": dated.getvalue()})
    dialog = P.get_by_role("dialog", name="Förhandsgranska")
    keep = dialog.get_by_label("Behåll fotodatum")
    expect(keep).to_be_visible(timeout=UPLOAD_TIMEOUT_MS)
    keep.check()
    expect(dialog.get_by_text("Datum och tid då bilden togs")).to_be_hidden()
    upload = dialog.get_by_role("button", name="Ladda upp")
    expect(upload).to_be_enabled(timeout=UPLOAD_TIMEOUT_MS)
    upload.click()
    expect(dialog).to_be_hidden(timeout=UPLOAD_TIMEOUT_MS)
    with C.expect_download(timeout=UPLOAD_TIMEOUT_MS) as download:
        C.locator(".attachment-image-wrap").get_by_role(
            "button", name=re.compile("^Ladda ner")).click()
    sent = piexif.load(Path(download.value.path()).read_bytes())
    assert sent["Exif"].get(piexif.ExifIFD.DateTimeOriginal) == b"2026:11:20 08:15:00"
    assert not sent["GPS"] and piexif.ExifIFD.BodySerialNumber not in sent["Exif"]
    assert piexif.ImageIFD.Make not in sent["0th"]


def test_too_large_photo_can_be_reduced_to_fit(pair, tmp_path):
    patient, clinician = pair
    P, C = patient.page, clinician.page
    noise = Image.frombytes("RGB", (4000, 3000), os.urandom(4000 * 3000 * 3))
    big = tmp_path / "stor.jpg"
    noise.save(big, "JPEG", quality=97)
    assert big.stat().st_size > MAX_BYTES

    pick(P, str(big))
    dialog = P.get_by_role("dialog", name="Förhandsgranska")
    expect(dialog.get_by_role("alert")).to_contain_text("större än 10 MB",
                                                        timeout=UPLOAD_TIMEOUT_MS)
    reduce = dialog.get_by_role("button", name="Minska storlek")
    expect(reduce).to_be_visible()
    reduce.click()
    expect(dialog).to_contain_text("Ny storlek", timeout=UPLOAD_TIMEOUT_MS)
    upload = dialog.get_by_role("button", name="Ladda upp")
    expect(upload).to_be_enabled()
    upload.click()
    expect(dialog).to_be_hidden(timeout=UPLOAD_TIMEOUT_MS)
    with C.expect_download(timeout=UPLOAD_TIMEOUT_MS) as download:
        C.locator(".attachment-image-wrap").get_by_role(
            "button", name=re.compile("^Ladda ner")).click()
    assert download.value.suggested_filename == "stor.jpg"
    data = Path(download.value.path()).read_bytes()
    assert len(data) <= MAX_BYTES
    reduced = Image.open(io.BytesIO(data))
    assert max(reduced.size) >= 2048
    assert not reduced.getexif().get_ifd(GPS_IFD)
