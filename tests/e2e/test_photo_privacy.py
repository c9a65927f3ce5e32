"""End to end: "Behåll fotodatum" keeps only the date, and a too large photo can be reduced
to fit. (A phone photo losing its location and device identity, upright and lossless, is a core
flow of tests/e2e/test_engines.py, in every engine.)"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

from PIL import Image
from playwright.sync_api import expect

from tests.e2e.test_send_flow import UPLOAD_TIMEOUT_MS, pick

GPS_IFD = 0x8825
MAX_BYTES = 10 * 1024 * 1024


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
