"""End to end: the paperclip works at first paint, before Python is up, and nothing
picked, dropped or pasted meanwhile is lost (index.html's shell and its inline file keeper).

Python is held back by holding PyScript's core.js in the network; the shell (HTML, CSS and
its inline script) is all the page has until the test lets it go.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from tests.e2e.conftest import READY_TIMEOUT_MS, WORKER_TIMEOUT_MS
from tests.live_server import make_pdf

CORE_JS = "**/pyscript-*/core.js"
UPLOAD_TIMEOUT_MS = 60_000


class HeldPython:
    """Holds every request for PyScript's core until release()."""

    def __init__(self, page) -> None:
        self.page = page
        self.held: list = []
        page.route(CORE_JS, self._hold)

    def _hold(self, route) -> None:
        self.held.append(route)

    def release(self) -> None:
        held, self.held = self.held, []
        for route in held:
            route.continue_()
        self.page.unroute(CORE_JS, self._hold)


def open_shell(participant, query: str = "") -> HeldPython:
    """Open the visit with Python held back; return once the shell is usable."""
    held = HeldPython(participant.page)
    base, _, fragment = participant.url.partition("#")
    participant.page.goto(base + query + "#" + fragment, wait_until="commit")
    participant.page.wait_for_function("window.bifogaUsable !== undefined",
                                       timeout=READY_TIMEOUT_MS)
    assert participant.page.locator("body[data-ready]").count() == 0  # Python is not up
    return held


def dispatch_files(page, event: str, files: list[tuple[str, str, bytes]]) -> None:
    """A drop or a paste of `files` (name, type, bytes) on the page, as the browser sends it."""
    page.evaluate("""([event, files]) => {
        const data = new DataTransfer();
        for (const [name, type, bytes] of files) {
            data.items.add(new File([new Uint8Array(bytes)], name, { type }));
        }
        const target = document.querySelector(".chat");
        const init = { bubbles: true, cancelable: true };
        if (event === "drop") {
            target.dispatchEvent(new DragEvent("dragover", { ...init, dataTransfer: data }));
            target.dispatchEvent(new DragEvent("drop", { ...init, dataTransfer: data }));
        } else {
            document.dispatchEvent(new ClipboardEvent("paste", { ...init, clipboardData: data }));
        }
    }""", [event, [[name, mime, list(data)] for name, mime, data in files]])


def test_files_picked_dropped_and_pasted_before_python_are_all_previewed_and_sent(
        visit, make_participant, fixtures_dir: Path):
    patient = make_participant(visit["patient_url"], "patient")
    P = patient.page
    held = open_shell(patient)

    # The paperclip is a real control at first paint: the system picker opens.
    paperclip = P.get_by_role("button", name="Bifoga fil", exact=True)
    expect(paperclip).to_be_enabled()
    with P.expect_file_chooser() as chooser:
        paperclip.click()
    chooser.value.set_files(str(fixtures_dir / "photo_gps.jpg"))
    expect(P.locator("#picker-queued")).to_have_text("Filen är vald och visas strax…")
    # A drop and a paste meanwhile: kept too, and the page is not replaced by the file.
    dispatch_files(P, "drop", [("Remiss.pdf", "application/pdf", make_pdf(3000))])
    dispatch_files(P, "paste", [("skärmbild.png", "image/png", png_bytes())])
    assert P.url.startswith(visit["patient_url"].partition("#")[0])

    held.release()
    dialog = P.get_by_role("dialog", name="Förhandsgranska")
    expect(dialog).to_be_visible(timeout=READY_TIMEOUT_MS)
    items = dialog.locator(".preview-item")
    expect(items).to_have_count(3)
    expect(dialog).to_contain_text("photo_gps.jpg")
    expect(dialog).to_contain_text("Remiss.pdf")
    expect(dialog).to_contain_text("skärmbild.png")
    expect(P.locator("#picker-queued")).to_have_text("")
    upload = dialog.get_by_role("button", name="Ladda upp")
    expect(upload).to_be_enabled(timeout=WORKER_TIMEOUT_MS)
    upload.click()
    expect(dialog).to_be_hidden(timeout=UPLOAD_TIMEOUT_MS)
    chat = P.locator(".chat")
    for name in ("photo_gps.jpg", "Remiss.pdf", "skärmbild.png"):
        expect(chat.get_by_text(name, exact=False).first).to_be_attached()


def test_the_keyboard_opens_the_paperclip_before_python_and_english_shows_english(
        visit, make_participant, fixtures_dir: Path):
    patient = make_participant(visit["patient_url"], "patient")
    P = patient.page
    held = open_shell(patient, "?lang=en")
    expect(P.locator("#picker-limits")).to_contain_text("Audio files cannot be sent")
    P.keyboard.press("Tab")
    paperclip = P.get_by_role("button", name="Attach file", exact=True)
    expect(paperclip).to_be_focused()
    # Space on the focused native input opens the chooser. Headless Chromium now and then
    # drops the chooser event of a key pressed while the page starts; a second press (the
    # keyboard again, as a user would) must then open it.
    for attempt in (1, 2):
        try:
            with P.expect_file_chooser(timeout=10_000) as chooser:
                P.keyboard.press("Space")
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
            expect(paperclip).to_be_focused()
    chooser.value.set_files({"name": "note.pdf", "mimeType": "application/pdf",
                             "buffer": make_pdf(2000)})
    expect(P.locator("#picker-queued")).to_have_text("The file is chosen and shows in a moment…")

    held.release()
    dialog = P.get_by_role("dialog", name="Preview")
    expect(dialog).to_be_visible(timeout=READY_TIMEOUT_MS)
    expect(dialog).to_contain_text("note.pdf")
    # From its first bytes, before the worker has looked at the whole file.
    expect(dialog.get_by_role("button", name="Upload")).to_be_enabled(timeout=WORKER_TIMEOUT_MS)
    expect(dialog.locator(".preview-item")).to_have_attribute("data-verified", "true",
                                                              timeout=WORKER_TIMEOUT_MS)


def test_audio_picked_at_once_is_refused_from_its_first_bytes(visit, make_participant):
    patient = make_participant(visit["patient_url"], "patient")
    P = patient.page
    held = open_shell(patient)
    song = b"ID3\x04\x00\x00\x00\x00\x01\x00" + bytes(200)
    with P.expect_file_chooser() as chooser:
        P.get_by_role("button", name="Bifoga fil", exact=True).click()
    chooser.value.set_files({"name": "bild.jpg", "mimeType": "image/jpeg", "buffer": song})
    held.release()
    dialog = P.get_by_role("dialog", name="Förhandsgranska")
    expect(dialog.get_by_role("alert")).to_contain_text("ljudfil", timeout=READY_TIMEOUT_MS)
    expect(dialog.get_by_role("button", name="Ladda upp")).to_be_disabled()
    expect(dialog.locator("img")).to_have_count(0)


def png_bytes() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 40, 40)).save(out, "PNG")
    return out.getvalue()


def test_ladda_upp_pressed_before_the_worker_waits_and_sends_the_photo_without_its_location(
        visit, make_participant, fixtures_dir: Path):
    """Ready from its first bytes, sent at once: the photo still goes only once the light worker
    has removed its metadata, and the patient is told why it waits."""
    import io
    import re

    from PIL import Image

    clinician = make_participant(visit["clinician_url"], "clinician")
    clinician.open(wait_for_worker=False)
    patient = make_participant(visit["patient_url"], "patient")
    P, C = patient.page, clinician.page
    # The patient's light worker is held back: its modules (light.tar.gz) wait in the network.
    held: list = []
    P.route("**/light.tar.gz", lambda route: held.append((route, route.fetch())))
    patient.open(wait_for_worker=False)
    photo = fixtures_dir / "photo_gps.jpg"
    with P.expect_file_chooser() as chooser:
        P.get_by_role("button", name="Bifoga fil", exact=True).click()
    chooser.value.set_files(str(photo))
    dialog = P.get_by_role("dialog", name="Förhandsgranska")
    upload = dialog.get_by_role("button", name="Ladda upp")
    expect(upload).to_be_enabled(timeout=READY_TIMEOUT_MS)
    expect(dialog).to_contain_text("Letar efter dold information som plats och kamera")
    upload.click()
    expect(dialog.get_by_role("status").first).to_have_text(
        "Tar bort dold information som plats från photo_gps.jpg innan den skickas…")
    for _ in range(WORKER_TIMEOUT_MS // 250):  # until the worker asks for its modules
        if held:
            break
        P.wait_for_timeout(250)
    assert held and P.evaluate("window.bifogaLightReady") is None
    expect(dialog.get_by_role("status").first).to_contain_text("innan den skickas")
    for route, response in held:
        route.fulfill(response=response)
    expect(dialog).to_be_hidden(timeout=WORKER_TIMEOUT_MS)

    with C.expect_download(timeout=UPLOAD_TIMEOUT_MS) as download:
        C.locator(".attachment-image-wrap").get_by_role(
            "button", name=re.compile("^Ladda ner")).click()
    received = Image.open(io.BytesIO(Path(download.value.path()).read_bytes()))
    assert not received.getexif().get_ifd(0x8825)  # no GPS
    assert received.tobytes() == Image.open(photo).tobytes()
    assert not [u for u in patient.requests if "/pyodide-" in u]  # the light path only
