"""End to end: the viewer, downloads, the end-of-visit reminder, and nothing left behind."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from pathlib import Path

from playwright.sync_api import expect

from bifoga.media.metadata import strip
from tests.e2e.test_send_flow import UPLOAD_TIMEOUT_MS, send_file

STORAGE_PROBE = """async () => {
  const out = {local: {}, session: {}, idb: [], caches: [], workers: 0};
  for (let i = 0; i < localStorage.length; i++) {
    const k = localStorage.key(i); out.local[k] = localStorage.getItem(k);
  }
  for (let i = 0; i < sessionStorage.length; i++) {
    const k = sessionStorage.key(i); out.session[k] = sessionStorage.getItem(k);
  }
  for (const db of (await indexedDB.databases())) {
    const dump = {name: db.name, stores: {}};
    const handle = await new Promise((ok, no) => {
      const r = indexedDB.open(db.name); r.onsuccess = () => ok(r.result); r.onerror = no;
    });
    for (const storeName of handle.objectStoreNames) {
      const values = await new Promise((ok, no) => {
        const r = handle.transaction(storeName).objectStore(storeName).getAll();
        r.onsuccess = () => ok(r.result); r.onerror = no;
      });
      dump.stores[storeName] = values.map((v) => {
        try { return JSON.stringify(v); } catch (e) { return String(v); }
      });
    }
    handle.close();
    out.idb.push(dump);
  }
  for (const name of (await caches.keys())) {
    const cache = await caches.open(name);
    out.caches.push({name, urls: (await cache.keys()).map((r) => r.url)});
  }
  out.workers = (await navigator.serviceWorker.getRegistrations()).length;
  return out;
}"""


def stripped_photo(fixtures_dir: Path) -> bytes:
    return strip((fixtures_dir / "photo_gps.jpg").read_bytes()).data


def test_viewer_zoom_pan_rotate_keys_save_and_step(pair, fixtures_dir, tmp_path):
    patient, clinician = pair
    P, C = patient.page, clinician.page
    C.context.grant_permissions(["clipboard-read", "clipboard-write"],
                                origin=C.url.split("#")[0].rsplit("/", 1)[0])
    send_file(P, str(fixtures_dir / "photo_gps.jpg"))
    png = io.BytesIO()
    from PIL import Image

    Image.new("RGB", (640, 480), (200, 40, 40)).save(png, "PNG")
    send_file(P, {"name": "rodnad.png", "mimeType": "image/png", "buffer": png.getvalue()})

    first = C.get_by_role("button", name="Förstora bild: photo_gps.jpg")
    expect(first).to_be_visible(timeout=UPLOAD_TIMEOUT_MS)
    expect(C.get_by_role("button", name="Förstora bild: rodnad.png")).to_be_visible(
        timeout=UPLOAD_TIMEOUT_MS)
    first.click()
    viewer = C.get_by_role("dialog", name="Bild: photo_gps.jpg")
    expect(viewer).to_be_visible()
    image = viewer.locator("#viewer-image")
    C.wait_for_function("document.querySelector('#viewer-image').naturalWidth > 0")
    # The full-resolution image, not a thumbnail.
    natural = C.evaluate("[document.querySelector('#viewer-image').naturalWidth,"
                         " document.querySelector('#viewer-image').naturalHeight]")
    assert max(natural) >= 1000
    expect(viewer).to_contain_text("Alex Patient")
    expect(viewer).to_contain_text("MB")

    def transform():
        return image.evaluate("el => el.style.transform")

    # Zoom by button, key and wheel; pan by arrow keys and drag; rotate; reset with 0.
    viewer.get_by_role("button", name="Zooma in").click()
    assert "scale(1.25" in transform()
    C.keyboard.press("+")
    assert "scale(1.5625" in transform()
    C.keyboard.press("ArrowRight")
    assert transform().startswith("translate(-60px")
    box = viewer.locator("#viewer-stage").bounding_box()
    C.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    C.mouse.down()
    C.mouse.move(box["x"] + box["width"] / 2 + 30, box["y"] + box["height"] / 2 + 20)
    C.mouse.up()
    assert transform().startswith("translate(-30px, 20px)")
    C.keyboard.press("-")
    C.mouse.wheel(0, -300)
    assert "scale(1.25" not in transform()
    viewer.get_by_role("button", name="Rotera 90°").click()
    assert "rotate(90deg)" in transform()
    C.keyboard.press("0")
    assert transform() == "translate(0px, 0px) rotate(0deg) scale(1)"
    C.keyboard.press("ArrowRight")  # not zoomed: the next image
    expect(C.get_by_role("dialog", name="Bild: rodnad.png")).to_contain_text("Bild 2 av 2")
    C.keyboard.press("ArrowLeft")
    expect(viewer).to_contain_text("Bild 1 av 2")

    # "Spara bild" gives the identical bytes that were sent (metadata removed on the way).
    with C.expect_download() as download:
        viewer.get_by_role("button", name="Spara bild").click()
    assert download.value.suggested_filename == "photo_gps.jpg"
    saved = Path(download.value.path()).read_bytes()
    assert hashlib.sha256(saved).digest() == hashlib.sha256(stripped_photo(fixtures_dir)).digest()

    # "Kopiera bild" puts a PNG on the clipboard and says so.
    viewer.get_by_role("button", name="Kopiera bild").click()
    expect(viewer.get_by_role("status").filter(has_text="kopierad")).to_be_visible()
    types = C.evaluate("""async () => {
        const items = await navigator.clipboard.read();
        return items.flatMap((i) => i.types);
    }""")
    assert "image/png" in types

    # Close by clicking outside; focus goes back to the magnifier that opened it.
    C.mouse.click(3, 3)
    expect(viewer).to_be_hidden()
    expect(first).to_be_focused()


def test_reminder_marks_end_and_nothing_left_behind(pair, live_server, visit, fixtures_dir):
    patient, clinician = pair
    P, C = patient.page, clinician.page
    # The patient has no "Avsluta besök"; the server refuses a patient's attempt.
    expect(P.get_by_role("button", name="Avsluta besök")).to_have_count(0)

    pdf = (fixtures_dir / "document.pdf").read_bytes()
    send_file(P, str(fixtures_dir / "photo_gps.jpg"))
    send_file(P, {"name": "Remiss åäö.pdf", "mimeType": "application/pdf", "buffer": pdf})
    expect(C.locator(".attachment")).to_have_count(2, timeout=UPLOAD_TIMEOUT_MS)
    send_file(C, {"name": "Egenvård.txt", "mimeType": "text/plain", "buffer": b"Vila.\n"})
    expect(P.locator(".attachment")).to_have_count(3, timeout=UPLOAD_TIMEOUT_MS)

    C.get_by_role("button", name="Avsluta besök").click()
    reminder = C.get_by_role("dialog", name="Spara bilagor")
    expect(reminder).to_be_visible()
    expect(reminder).to_contain_text("journalsystemet")
    expect(reminder).to_contain_text("Patientens hälsoinformation får inte finnas kvar")
    items = reminder.locator(".reminder-item")
    expect(items).to_have_count(3)
    expect(items.nth(0)).to_contain_text("Mottagen från Alex Patient")
    expect(items.nth(1)).to_contain_text("Remiss åäö.pdf")
    expect(items.nth(2)).to_contain_text("Skickad av Dr Sara Lind")

    # "Tillbaka" returns to the chat with the visit still open.
    reminder.get_by_role("button", name="Tillbaka").click()
    expect(reminder).to_be_hidden()
    expect(C.get_by_role("button", name="Avsluta besök")).to_be_visible()

    C.get_by_role("button", name="Avsluta besök").click()
    with C.expect_download() as download:
        items.nth(1).get_by_role("button", name=re.compile("^Ladda ner")).click()
    assert Path(download.value.path()).read_bytes() == pdf
    with C.expect_download() as download:
        reminder.get_by_role("button", name="Ladda ner alla").click()
    with zipfile.ZipFile(download.value.path()) as bundle:
        assert sorted(bundle.namelist()) == ["Egenvård.txt", "Remiss åäö.pdf", "photo_gps.jpg"]
        assert bundle.read("Remiss åäö.pdf") == pdf
    items.nth(0).get_by_label("Sparad i journalsystemet").check()
    items.nth(1).get_by_label("Inte relevant").check()
    # One unmarked: the reminder asks once more, but does not force.
    reminder.get_by_role("button", name="Avsluta besök").click()
    expect(reminder).to_contain_text("1 av 3 bilagor är inte markerade")
    reminder.get_by_role("button", name="Avsluta ändå").click()
    expect(reminder).to_be_hidden()

    # Both sides see the end; nothing more can be sent.
    for page in (C, P):
        expect(page.get_by_text("Besöket är avslutat", exact=False).first).to_be_visible()
        expect(page.get_by_role("button", name="Bifoga fil", exact=True)).to_be_disabled()
        expect(page.get_by_role("button", name="Skicka")).to_be_disabled()
    listing = live_server.api(f"/api/visits/{visit['visit_id']}/attachments",
                              visit["clinician_token"])
    assert [a["mark"] for a in listing["attachments"]] == ["saved", "not_relevant", None]
    assert listing["ended_at"]

    # The reminder can be shown again from the ended visit, to finish filing.
    C.get_by_role("button", name="Spara bilagor").click()
    expect(reminder).to_be_visible()
    items.nth(2).get_by_label("Inte relevant").check()
    expect(reminder).to_contain_text("Alla bilagor är markerade")
    reminder.get_by_role("button", name="Stäng").click()

    # In-memory copies are dropped: no inline image or film, no object URL left in the page.
    for page in (P, C):
        expect(page.locator("img.attachment-image")).to_have_count(0)
        assert page.evaluate("[...document.querySelectorAll('[src]')]"
                             ".filter(e => e.src.startsWith('blob:')).length") == 0

    # Nothing left behind in any browser storage of either participant.
    needles = ["photo_gps", "Remiss", "Egenvård", "%PDF", "JFIF", "Exif"]
    for page in (P, C):
        stores = page.evaluate(STORAGE_PROBE)
        dump = repr(stores)
        # The tab keeps only which visit it shows (so that a reload works once the token has
        # left the address bar), never a file's name or content.
        assert stores["local"] == {} and set(stores["session"]) <= {"bifoga-visit"}, dump
        assert all(v.startswith("visit=") for v in stores["session"].values()), dump
        assert stores["caches"] == [] and stores["workers"] == 0, dump
        for needle in needles:
            assert needle not in dump, (needle, dump[:500])


def test_visit_without_files_ends_after_a_simple_confirmation(pair):
    patient, clinician = pair
    C = clinician.page
    C.get_by_role("button", name="Avsluta besök").click()
    dialog = C.get_by_role("dialog", name="Avsluta besöket?")
    expect(dialog).to_be_visible()
    expect(C.get_by_role("dialog", name="Spara bilagor")).to_have_count(0)
    dialog.get_by_role("button", name="Avsluta besök").click()
    expect(dialog).to_be_hidden()
    expect(patient.page.get_by_text("Besöket är avslutat", exact=False).first).to_be_visible()
    expect(C.get_by_role("button", name="Spara bilagor")).to_be_hidden()


def test_viewer_pinch_zooms_on_a_touch_screen(live_server, visit, make_participant,
                                              fixtures_dir):
    patient = make_participant(visit["patient_url"], "patient")
    clinician = make_participant(visit["clinician_url"], "clinician",
                                 viewport={"width": 390, "height": 844}, has_touch=True,
                                 is_mobile=True)
    patient.open()
    clinician.open(wait_for_worker=False)
    send_file(patient.page, str(fixtures_dir / "photo_gps.jpg"))
    C = clinician.page
    magnifier = C.get_by_role("button", name="Förstora bild: photo_gps.jpg")
    expect(magnifier).to_be_visible(timeout=UPLOAD_TIMEOUT_MS)
    magnifier.tap()
    stage = C.locator("#viewer-stage")
    expect(stage).to_be_visible()
    box = stage.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    cdp = C.context.new_cdp_session(C)

    def touch(kind, spread):
        points = [] if kind == "touchEnd" else [
            {"x": cx - spread, "y": cy, "id": 1}, {"x": cx + spread, "y": cy, "id": 2}]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    touch("touchStart", 30)
    for spread in range(40, 130, 10):  # two fingers moving apart
        touch("touchMove", spread)
    touch("touchEnd", 0)
    scale = C.locator("#viewer-image").evaluate(
        "img => parseFloat(img.style.transform.match(/scale\\(([\\d.]+)\\)/)[1])")
    assert scale > 2.0, scale


def fetched_files(participant) -> list[str]:
    """The attachment files a page fetched (each such fetch became an object URL)."""
    return [u for u in participant.requests if re.search(r"/attachments/[^/.]+$", u)]


def test_reopened_ended_visit_keeps_its_filing_list(pair, make_participant, visit):
    """The clinician ends the visit, closes the tab and opens the visit link again: "Spara
    bilagor" is there, with the marks as saved, and no file is fetched into memory."""
    from tests.fixtures_images import rich_jpeg

    patient, clinician = pair
    P, C = patient.page, clinician.page
    send_file(P, {"name": "utslag.jpg", "mimeType": "image/jpeg", "buffer": rich_jpeg()})
    send_file(P, {"name": "Remiss.txt", "mimeType": "text/plain", "buffer": b"Remiss.\n"})
    expect(C.locator(".attachment")).to_have_count(2, timeout=UPLOAD_TIMEOUT_MS)
    expect(C.locator("img.attachment-image")).to_have_count(1)

    C.get_by_role("button", name="Avsluta besök").click()
    reminder = C.get_by_role("dialog", name="Spara bilagor")
    items = reminder.locator(".reminder-item")
    expect(items).to_have_count(2)
    items.nth(0).get_by_label("Sparad i journalsystemet").check()
    reminder.get_by_role("button", name="Avsluta besök").click()
    reminder.get_by_role("button", name="Avsluta ändå").click()
    expect(C.get_by_role("button", name="Spara bilagor")).to_be_visible()
    clinician.close()  # the tab, and the browser context with it

    again = make_participant(visit["clinician_url"], "clinician")
    again.open(wait_for_worker=False)
    page = again.page
    expect(page.get_by_text("Besöket är avslutat", exact=False).first).to_be_visible()
    expect(page.locator(".attachment")).to_have_count(2, timeout=UPLOAD_TIMEOUT_MS)
    saved = page.get_by_role("button", name="Spara bilagor")
    expect(saved).to_be_visible()
    # Ended: every file is a card; nothing was fetched into memory to show it.
    expect(page.locator("img.attachment-image")).to_have_count(0)
    assert fetched_files(again) == []

    saved.click()
    reminder = page.get_by_role("dialog", name="Spara bilagor")
    expect(reminder).to_be_visible()
    items = reminder.locator(".reminder-item")
    expect(items).to_have_count(2)
    expect(items.nth(0).get_by_label("Sparad i journalsystemet")).to_be_checked()
    expect(items.nth(1).get_by_label("Sparad i journalsystemet")).not_to_be_checked()
    expect(reminder.get_by_role("button", name="Avsluta besök")).to_be_hidden()
    items.nth(1).get_by_label("Inte relevant").check()
    expect(reminder).to_contain_text("Alla bilagor är markerade")
    reminder.get_by_role("button", name="Stäng").click()
    expect(reminder).to_be_hidden()
    expect(saved).to_be_focused()
    assert fetched_files(again) == []
    assert page.evaluate("[...document.querySelectorAll('[src]')]"
                         ".filter(e => e.src.startsWith('blob:')).length") == 0
    assert again.errors == []
