"""End to end, with media made the way phones make them: an iPhone-style QuickTime film, an
Android-style MP4 and a GoPro-style MP4 with a GPMF track reach the clinician without position
or device (exiftool -ee), every video and sound sample unchanged. (An iPhone photo, a HEIC with
GPS, shown inline for the clinician as a JPEG: a core flow of tests/e2e/test_engines.py, in
every engine.)"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.e2e.test_send_flow import UPLOAD_TIMEOUT_MS, pick
from tests.fixtures_films import FILMS, exiftool_tags, films, sample_md5  # noqa: F401

# What exiftool must not show on the clinician's disk.
LEAKS = re.compile(r"GPS|Location|ISO6709|Make$|Model$|xyz", re.I)


def _leaks(tags: dict[str, object]) -> list[str]:
    return [name for name in tags if LEAKS.search(name.split(":")[-1])]


def _send_and_download(patient_page, clinician_page, source, card_selector: str) -> Path:
    pick(patient_page, source)
    dialog = patient_page.get_by_role("dialog", name="Förhandsgranska")
    upload = dialog.get_by_role("button", name="Ladda upp")
    expect(upload).to_be_enabled(timeout=UPLOAD_TIMEOUT_MS)
    upload.click()
    expect(dialog).to_be_hidden(timeout=UPLOAD_TIMEOUT_MS)
    with clinician_page.expect_download(timeout=UPLOAD_TIMEOUT_MS) as download:
        clinician_page.locator(card_selector).last.get_by_role(
            "button", name=re.compile("^Ladda ner")).click()
    return Path(download.value.path())


@pytest.mark.parametrize("name", ["iphone.mov", "android.mp4", "gopro.mp4"])
def test_film_arrives_without_position_or_device(pair, films, tmp_path: Path,  # noqa: F811
                                                 name: str):
    patient, clinician = pair
    original = tmp_path / name
    original.write_bytes(films[name])
    assert _leaks(exiftool_tags(original)[0])  # the phone's film does carry them

    pick(patient.page, str(original))
    dialog = patient.page.get_by_role("dialog", name="Förhandsgranska")
    # The preview says what goes, as it does for photos.
    expect(dialog.get_by_text("Platsinformation (GPS)")).to_be_visible(timeout=UPLOAD_TIMEOUT_MS)
    dialog.get_by_role("button", name="Ladda upp").click()
    expect(dialog).to_be_hidden(timeout=UPLOAD_TIMEOUT_MS)
    with clinician.page.expect_download(timeout=UPLOAD_TIMEOUT_MS) as download:
        clinician.page.locator(".attachment-video-wrap").last.get_by_role(
            "button", name=re.compile("^Ladda ner")).click()
    received = tmp_path / ("received-" + name)
    received.write_bytes(Path(download.value.path()).read_bytes())

    assert _leaks(exiftool_tags(received)[0]) == []
    assert sample_md5(received) == sample_md5(original)  # every sample byte-identical
    assert received.stat().st_size == original.stat().st_size  # overwritten in place


def _iphone_photo(folder: Path) -> Path:
    """A landscape HEIC as an iPhone writes it: position, make and model in its Exif item."""
    picture = Image.new("RGB", (640, 480))
    picture.paste((200, 40, 40), (0, 0, 320, 480))  # left half red, right half blue
    picture.paste((40, 40, 200), (320, 0, 640, 480))
    picture.save(folder / "in.png")
    heic = folder / "IMG_0042.HEIC"
    subprocess.run(["heif-enc", "-q", "80", "-o", str(heic), str(folder / "in.png")],
                   check=True, capture_output=True, timeout=120)
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-GPSLatitude=60.6749",
                    "-GPSLatitudeRef=N", "-GPSLongitude=17.1413", "-GPSLongitudeRef=E",
                    "-Make=Apple", "-Model=iPhone 15", "-DateTimeOriginal=2026:11:20 09:14:00",
                    str(heic)], check=True, capture_output=True, timeout=120)
    return heic
