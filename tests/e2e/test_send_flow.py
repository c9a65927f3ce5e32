"""End to end: a patient and a clinician chat and send each other files (instruction 2.1)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from playwright.sync_api import expect

from tests.fixtures_films import sample_md5
from tests.live_server import make_pdf

MAX_BYTES = 10 * 1024 * 1024
UPLOAD_TIMEOUT_MS = 60_000


def pick(page, files, button_name="Bifoga fil"):
    """Click the paperclip and choose files in the system picker."""
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name=button_name, exact=True).click()
    chooser.value.set_files(files)


def send_file(page, files, dialog_name="Förhandsgranska", upload_name="Ladda upp"):
    pick(page, files)
    dialog = page.get_by_role("dialog", name=dialog_name)
    expect(dialog).to_be_visible()
    upload = dialog.get_by_role("button", name=upload_name)
    expect(upload).to_be_enabled(timeout=UPLOAD_TIMEOUT_MS)
    upload.click()
    expect(dialog).to_be_hidden(timeout=UPLOAD_TIMEOUT_MS)


def only_local(requests: list[str], origin: str) -> list[str]:
    """Requests that left the app's origin (blob: and data: URLs stay in the browser)."""
    return [u for u in requests
            if not (u.startswith(origin + "/") or u.startswith(("blob:", "data:")))]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_chat_and_files_travel_live_both_ways(pair, live_server, fixtures_dir: Path, tmp_path):
    patient, clinician = pair
    P, C = patient.page, clinician.page

    # Text, live, without reloading.
    P.get_by_role("textbox", name="Skriv ett meddelande").fill("Hej! Jag har fått ett utslag.")
    P.get_by_role("button", name="Skicka").click()
    expect(C.locator(".message-text")).to_have_text(["Hej! Jag har fått ett utslag."])
    expect(C.locator(".message .message-sender").first).to_have_text("Alex Patient")

    # The paperclip: accessible name exactly "Bifoga fil", and its accept list has no audio.
    accept = P.locator("#attachment-input").get_attribute("accept")
    assert "image/jpeg" in accept and "application/pdf" in accept and "video/mp4" in accept
    assert "audio" not in accept and ".mp3" not in accept

    # An image, a PDF with å/ä/ö in its name, and a film.
    pdf_name = "Remiss åäö.pdf"
    pdf_bytes = (fixtures_dir / "document.pdf").read_bytes()
    send_file(P, str(fixtures_dir / "photo_gps.jpg"))
    send_file(P, {"name": pdf_name, "mimeType": "application/pdf", "buffer": pdf_bytes})
    send_file(P, str(fixtures_dir / "clip.mp4"))
    expect(P.get_by_role("status").filter(has_text="skickad")).to_have_count(1)

    # The clinician sees them arrive live: a real <img> with a magnifier, a file card, a video.
    image = C.locator("img.attachment-image")
    expect(image).to_have_count(1, timeout=UPLOAD_TIMEOUT_MS)
    expect(image).to_have_attribute("src", re.compile(r"^blob:"))
    C.wait_for_function("document.querySelector('img.attachment-image').naturalWidth > 0")
    magnifier = C.get_by_role("button", name="Förstora bild: photo_gps.jpg")
    expect(magnifier).to_be_visible()
    # The magnifier sits in the image's lower right corner.
    img_box, mag_box = image.bounding_box(), magnifier.bounding_box()
    assert mag_box["x"] + mag_box["width"] > img_box["x"] + img_box["width"] * 0.75
    assert mag_box["y"] + mag_box["height"] > img_box["y"] + img_box["height"] * 0.75

    card = C.locator(".attachment-document")
    expect(card).to_contain_text(pdf_name)
    expect(card).to_contain_text("PDF")
    video = C.locator("video.attachment-video")
    expect(video).to_have_attribute("src", re.compile(r"^blob:"))
    C.wait_for_function("document.querySelector('video.attachment-video').readyState >= 1")
    film = C.locator(".attachment-video-wrap")
    expect(film.get_by_role("button", name=re.compile("^Ladda ner"))).to_be_visible()

    # The film downloads under its name: every sample byte-identical, the same length (the
    # encoder's name it carried was overwritten in place, as any device or place would be).
    with C.expect_download() as download:
        film.get_by_role("button", name=re.compile("^Ladda ner")).click()
    assert download.value.suggested_filename == "clip.mp4"
    received = Path(download.value.path())
    assert sample_md5(received) == sample_md5(fixtures_dir / "clip.mp4")
    assert received.stat().st_size == (fixtures_dir / "clip.mp4").stat().st_size

    # The document downloads under its original name, byte-identical.
    with C.expect_download() as download:
        card.get_by_role("button", name=re.compile("^Ladda ner")).click()
    assert download.value.suggested_filename == pdf_name
    assert sha256(Path(download.value.path()).read_bytes()) == sha256(pdf_bytes)

    # The magnifier enlarges the image in a dialog that Esc closes, focus back on the magnifier.
    magnifier.click()
    viewer = C.get_by_role("dialog", name="Bild: photo_gps.jpg")
    expect(viewer).to_be_visible()
    C.wait_for_function("document.querySelector('#viewer-image').naturalWidth > 0")
    C.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    expect(magnifier).to_be_focused()

    # And the other way: the clinician sends a document to the patient.
    note = {"name": "Egenvård.txt", "mimeType": "text/plain",
            "buffer": "Smörj in huden två gånger om dagen.\n".encode()}
    send_file(C, note)
    received = P.locator(".attachment-document").filter(has_text="Egenvård.txt")
    expect(received).to_be_visible(timeout=UPLOAD_TIMEOUT_MS)
    with P.expect_download() as download:
        received.get_by_role("button", name=re.compile("^Ladda ner")).click()
    assert download.value.suggested_filename == "Egenvård.txt"
    assert Path(download.value.path()).read_bytes() == note["buffer"]

    # Both see everything, oldest first.
    for page in (P, C):
        expect(page.locator(".messages > li")).to_have_count(5)

    for who in (patient, clinician):
        assert only_local(who.requests, live_server.origin) == []
        assert who.errors == []


def test_refusals_happen_before_upload_and_store_nothing(pair, live_server, visit, fixtures_dir):
    patient, _ = pair
    P = patient.page
    too_big = b"%PDF-1.4\n" + b"0" * (MAX_BYTES + 1 - 9)
    assert len(too_big) == MAX_BYTES + 1

    pick(P, {"name": "röntgen.pdf", "mimeType": "application/pdf", "buffer": too_big})
    dialog = P.get_by_role("dialog", name="Förhandsgranska")
    alert = dialog.get_by_role("alert")
    expect(alert).to_contain_text("röntgen.pdf")
    expect(alert).to_contain_text("större än 10 MB")
    expect(dialog.get_by_role("button", name="Ladda upp")).to_be_disabled()
    dialog.get_by_role("button", name="Avbryt").click()
    expect(dialog).to_be_hidden()

    # A song renamed to .jpg: the content decides.
    pick(P, {"name": "semester.jpg", "mimeType": "image/jpeg",
             "buffer": (fixtures_dir / "tone.mp3").read_bytes()})
    expect(alert).to_have_text("semester.jpg är en ljudfil. Ljudfiler kan inte skickas.",
                               timeout=UPLOAD_TIMEOUT_MS)
    expect(dialog.get_by_role("button", name="Ladda upp")).to_be_disabled()
    P.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    # Nothing was sent: no upload request at all, no message, no file on the server.
    assert not [u for u in patient.requests if "/uploads" in u or "/attachments" in u]
    listing = live_server.api(f"/api/visits/{visit['visit_id']}/messages",
                              visit["patient_token"])
    assert listing["messages"] == []


def test_a_file_of_exactly_ten_megabytes_is_accepted(pair, visit, live_server):
    patient, clinician = pair
    exact = make_pdf(MAX_BYTES)  # a real PDF: the server reads documents with qpdf
    send_file(patient.page, {"name": "exakt.pdf", "mimeType": "application/pdf", "buffer": exact})
    expect(clinician.page.locator(".attachment-document")).to_contain_text(
        "exakt.pdf", timeout=UPLOAD_TIMEOUT_MS)
    listing = live_server.api(f"/api/visits/{visit['visit_id']}/messages",
                              visit["clinician_token"])
    assert listing["messages"][0]["attachment"]["size"] == MAX_BYTES


def test_english_ui(live_server, visit, make_participant, fixtures_dir):
    patient = make_participant(visit["patient_url"], "patient")
    patient.open(query="?lang=en")
    P = patient.page
    assert P.evaluate("document.documentElement.lang") == "en"
    expect(P.get_by_role("button", name="Attach file", exact=True)).to_be_visible()
    expect(P.get_by_text("Audio files cannot be sent.")).to_be_visible()
    pick(P, str(fixtures_dir / "document.pdf"), button_name="Attach file")
    dialog = P.get_by_role("dialog", name="Preview")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_visible()
    expect(dialog.get_by_role("button", name="Upload")).to_be_enabled(timeout=UPLOAD_TIMEOUT_MS)
