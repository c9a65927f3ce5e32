"""The light path end to end: a photo or a PDF picked the moment the paperclip works goes from
pick to the clinician through the light worker (MicroPython), with no request for any Pyodide
file; an iPhone photo still goes through the Pyodide worker, which starts only then. The
sender's chat shows its own photo from the copy it sent, never downloaded back."""

from __future__ import annotations

import io
import re
from pathlib import Path

from PIL import Image
from playwright.sync_api import expect

from tests.e2e.conftest import READY_TIMEOUT_MS
from tests.e2e.test_first_use import open_shell
from tests.e2e.test_phone_media import _iphone_photo, _leaks
from tests.fixtures_films import exiftool_tags
from tests.live_server import make_pdf

UPLOAD_TIMEOUT_MS = 90_000
# What only the Pyodide worker loads.
PYODIDE_FILES = re.compile(r"/pyodide-|/worker\.zip|/worker-snapshot|/worker_start\.py|"
                           r"/worker\.toml|/libheif-")


def pyodide_requests(participant) -> list[str]:
    return [url for url in participant.requests if PYODIDE_FILES.search(url)]


def pick_at_once(participant, files) -> None:
    """Pick while Python is still held back (the hurried patient), then let it go."""
    P = participant.page
    held = open_shell(participant)
    with P.expect_file_chooser() as chooser:
        P.get_by_role("button", name="Bifoga fil", exact=True).click()
    chooser.value.set_files(files)
    held.release()


def send(page) -> None:
    dialog = page.get_by_role("dialog", name="Förhandsgranska")
    upload = dialog.get_by_role("button", name="Ladda upp")
    expect(upload).to_be_enabled(timeout=READY_TIMEOUT_MS)
    upload.click()  # at once: before the light worker's check, it waits for it
    expect(dialog).to_be_hidden(timeout=UPLOAD_TIMEOUT_MS)


def download(page, selector: str) -> bytes:
    with page.expect_download(timeout=UPLOAD_TIMEOUT_MS) as got:
        page.locator(selector).last.get_by_role("button", name=re.compile("^Ladda ner")).click()
    return Path(got.value.path()).read_bytes()


def test_a_photo_picked_at_load_reaches_the_clinician_without_pyodide(
        visit, make_participant, fixtures_dir: Path):
    clinician = make_participant(visit["clinician_url"], "clinician")
    clinician.open()
    patient = make_participant(visit["patient_url"], "patient")
    P, C = patient.page, clinician.page
    photo = fixtures_dir / "photo_gps.jpg"
    assert Image.open(photo).getexif().get_ifd(0x8825)  # it carries a position
    pick_at_once(patient, str(photo))
    send(P)

    received = Image.open(io.BytesIO(download(C, ".attachment-image-wrap")))
    assert not received.getexif().get_ifd(0x8825)  # no GPS
    assert received.tobytes() == Image.open(photo).tobytes()  # the very pixels
    # The sender's chat shows its photo from the copy it sent: a blob URL, and no download of
    # the file from the server.
    P.wait_for_function("document.querySelector('img.attachment-image')?.naturalWidth > 0",
                        timeout=UPLOAD_TIMEOUT_MS)
    assert P.locator("img.attachment-image").get_attribute("src").startswith("blob:")
    assert not [u for u in patient.requests if re.search(r"/attachments/[^/?.]+$", u)], \
        patient.requests
    assert [u for u in clinician.requests if re.search(r"/attachments/[^/?.]+$", u)]
    assert pyodide_requests(patient) == []
    assert P.evaluate("window.bifogaWorkerReady") is None  # Pyodide never started
    assert patient.errors == []


def test_a_pdf_picked_at_load_goes_without_pyodide(visit, make_participant):
    clinician = make_participant(visit["clinician_url"], "clinician")
    clinician.open()
    patient = make_participant(visit["patient_url"], "patient")
    pdf = make_pdf(4000)
    pick_at_once(patient, {"name": "Remiss.pdf", "mimeType": "application/pdf", "buffer": pdf})
    send(patient.page)
    assert download(clinician.page, ".attachment-document") == pdf
    assert pyodide_requests(patient) == []
    assert patient.errors == []


def test_an_iphone_photo_still_goes_through_pyodide_started_only_then(
        visit, make_participant, tmp_path: Path):
    clinician = make_participant(visit["clinician_url"], "clinician")
    clinician.open()
    patient = make_participant(visit["patient_url"], "patient")
    P = patient.page
    patient.open()
    assert pyodide_requests(patient) == []  # nothing of Pyodide until a file needs it
    heic = _iphone_photo(tmp_path)
    with P.expect_file_chooser() as chooser:
        P.get_by_role("button", name="Bifoga fil", exact=True).click()
    chooser.value.set_files(str(heic))
    dialog = P.get_by_role("dialog", name="Förhandsgranska")
    expect(dialog.get_by_role("status").first).to_contain_text(
        "Förbereder bildbehandling", timeout=READY_TIMEOUT_MS)
    expect(dialog.get_by_text(re.compile("omvandlad från iPhones format HEIC"))).to_be_visible(
        timeout=UPLOAD_TIMEOUT_MS)
    send(P)
    assert pyodide_requests(patient)  # the heavy path ran
    saved = tmp_path / "saved.jpg"
    saved.write_bytes(download(clinician.page, ".attachment-image-wrap"))
    assert _leaks(exiftool_tags(saved)[0]) == []
    assert Image.open(saved).size == (640, 480)
    assert patient.errors == []


def damaged_png() -> bytes:
    """A PNG whose every chunk is well formed (lengths, CRCs) but whose pixel data is no zlib
    stream: the metadata walk lets it through, the browser cannot decode it."""
    import struct
    import zlib

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "PNG")
    png = out.getvalue()
    at = png.index(b"IDAT") - 4
    length = struct.unpack(">I", png[at:at + 4])[0]
    garbage = bytes((i * 37 + 11) % 256 for i in range(length))
    chunk = (struct.pack(">I", length) + b"IDAT" + garbage
             + struct.pack(">I", zlib.crc32(b"IDAT" + garbage)))
    return png[:at] + chunk + png[at + 12 + length:]


def test_a_damaged_photo_sent_at_once_is_refused_and_never_reaches_the_clinician(
        visit, make_participant, tmp_path: Path):
    """The browser's decoding runs beside the check and the upload: "Ladda upp" pressed at once
    may start the transfer, but nothing is finalised until the picture has decoded, so the
    patient reads why and the clinician gets nothing."""
    clinician = make_participant(visit["clinician_url"], "clinician")
    clinician.open()
    patient = make_participant(visit["patient_url"], "patient")
    P = patient.page
    damaged = tmp_path / "skadad.png"
    damaged.write_bytes(damaged_png())
    pick_at_once(patient, str(damaged))
    dialog = P.get_by_role("dialog", name="Förhandsgranska")
    upload = dialog.get_by_role("button", name="Ladda upp")
    expect(upload).to_be_enabled(timeout=READY_TIMEOUT_MS)
    upload.click()
    expect(dialog).to_contain_text("skadad.png ser ut som en bild men går inte att visa",
                                   timeout=UPLOAD_TIMEOUT_MS)
    finalised = [u for u in patient.requests if u.endswith("/attachments")]
    assert finalised == [], patient.requests
    expect(clinician.page.locator(".attachment-image-wrap, .attachment-document")).to_have_count(0)
    assert pyodide_requests(patient) == []
