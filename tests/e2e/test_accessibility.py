"""End to end: axe-core on every screen, keyboard alone, the dialog pattern, small
screens and large text, both languages complete, and the conveniences (drop, paste, several
files, the camera on phones)."""

from __future__ import annotations

import re
import string

import pytest
from playwright.sync_api import expect

from bifoga.chat.i18n import CATALOGUE
from tests.e2e.conftest import REPO_ROOT
from tests.e2e.test_send_flow import UPLOAD_TIMEOUT_MS, pick, send_file

AXE = REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
MAX_BYTES = 10 * 1024 * 1024

# Text that is the users' own data, not the UI's: names, messages, times, file types.
DATA_SELECTORS = (".message-text, .message-sender, time, .attachment-name, .preview-file-name, "
                  "[aria-hidden=true]")


def axe_violations(page) -> list[str]:
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})",
                           AXE_TAGS)
    return [f"{v['id']}: {v['help']} -> {[n['target'] for n in v['nodes']][:4]}"
            for v in result["violations"]]


def template_patterns(lang: str) -> list[re.Pattern[str]]:
    patterns = []
    for template in CATALOGUE[lang].values():
        parts = []
        for literal, field, _, _ in string.Formatter().parse(template):
            parts.append(re.escape(literal))
            if field:
                parts.append(".+?")
        patterns.append(re.compile("".join(parts), re.S))
    return patterns


def texts_not_in_catalogue(page, lang: str) -> list[str]:
    """Every visible UI text node that no catalogue string of `lang` accounts for."""
    texts = page.evaluate("""(skip) => {
      const out = [];
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      while (walker.nextNode()) {
        const node = walker.currentNode, el = node.parentElement;
        const value = node.textContent.trim();
        if (!value || !el || el.closest(skip) || el.closest('script,style')) continue;
        if (!el.checkVisibility()) continue;
        out.push(value);
      }
      return out;
    }""", DATA_SELECTORS)
    patterns = template_patterns(lang)
    return [t for t in texts if not any(p.fullmatch(t) for p in patterns)]


@pytest.fixture
def a11y_pair(live_server, visit, make_participant):
    patient = make_participant(visit["patient_url"], "patient")
    clinician = make_participant(visit["clinician_url"], "clinician")
    for who in (patient, clinician):
        who.context.add_init_script(path=str(AXE))
    patient.open()
    clinician.open()
    return patient, clinician


def check_screen(page, label: str, lang: str = "sv") -> None:
    violations = axe_violations(page)
    assert violations == [], f"{label}: {violations}"
    stray = texts_not_in_catalogue(page, lang)
    assert stray == [], f"{label}: text not from the catalogue: {stray}"


def test_every_screen_passes_axe_for_both_roles(a11y_pair, fixtures_dir):
    patient, clinician = a11y_pair
    P, C = patient.page, clinician.page
    check_screen(P, "patient, empty chat")
    check_screen(C, "clinician, empty chat")

    # The preview with each kind of file and each error.
    cases = [
        ("image", str(fixtures_dir / "photo_gps.jpg"), "Ladda upp"),
        ("film", str(fixtures_dir / "clip.mp4"), "Ladda upp"),
        ("document", str(fixtures_dir / "document.pdf"), "Ladda upp"),
        ("audio", {"name": "semester.jpg", "mimeType": "image/jpeg",
                   "buffer": (fixtures_dir / "tone.mp3").read_bytes()}, None),
        ("too large", {"name": "stor.pdf", "mimeType": "application/pdf",
                       "buffer": b"%PDF-1.4\n" + b"0" * MAX_BYTES}, None),
    ]
    dialog = P.get_by_role("dialog", name="Förhandsgranska")
    for label, file, _ in cases:
        pick(P, file)
        expect(dialog).to_be_visible()
        expect(dialog.locator(".preview-status:not(:empty), .preview-alert:not(:empty)")
               .filter(has_not_text="Kontrollerar")).to_have_count(1, timeout=UPLOAD_TIMEOUT_MS)
        check_screen(P, f"preview, {label}")
        dialog.get_by_role("button", name="Avbryt").click()
        expect(dialog).to_be_hidden()

    send_file(P, str(fixtures_dir / "photo_gps.jpg"))
    send_file(P, str(fixtures_dir / "document.pdf"))
    P.get_by_role("textbox", name="Skriv ett meddelande").fill("Här är bilden.")
    P.get_by_role("button", name="Skicka").click()
    expect(C.locator(".message")).to_have_count(3, timeout=UPLOAD_TIMEOUT_MS)
    C.wait_for_function("document.querySelector('img.attachment-image')?.naturalWidth > 0")
    check_screen(P, "patient, chat with files")
    check_screen(C, "clinician, chat with files")

    C.get_by_role("button", name="Förstora bild: photo_gps.jpg").click()
    expect(C.get_by_role("dialog", name="Bild: photo_gps.jpg")).to_be_visible()
    check_screen(C, "image viewer")
    C.keyboard.press("Escape")

    C.get_by_role("button", name="Avsluta besök").click()
    reminder = C.get_by_role("dialog", name="Spara bilagor")
    expect(reminder).to_be_visible()
    check_screen(C, "reminder")
    reminder.get_by_role("button", name="Avsluta besök").click()
    check_screen(C, "reminder, one more confirmation")
    reminder.get_by_role("button", name="Avsluta ändå").click()
    expect(reminder).to_be_hidden()
    for page, who in ((P, "patient"), (C, "clinician")):
        expect(page.get_by_text("Besöket är avslutat", exact=False).first).to_be_visible()
        check_screen(page, f"{who}, ended visit")


def test_english_screens_are_complete(live_server, visit, make_participant, fixtures_dir):
    patient = make_participant(visit["patient_url"], "patient")
    patient.context.add_init_script(path=str(AXE))
    patient.open(query="?lang=en")
    P = patient.page
    check_screen(P, "English chat", "en")
    pick(P, str(fixtures_dir / "photo_gps.jpg"), button_name="Attach file")
    dialog = P.get_by_role("dialog", name="Preview")
    expect(dialog.get_by_text("Location (GPS)")).to_be_visible(timeout=UPLOAD_TIMEOUT_MS)
    check_screen(P, "English preview", "en")


def tab_to(page, name: str, limit: int = 40) -> None:
    """Press Tab until the focused element's accessible name starts with `name`."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate("""() => {
          const el = document.activeElement;
          return el ? (el.getAttribute('aria-label') || el.labels?.[0]?.textContent
                       || el.textContent || '').trim() : '';
        }""")
        if focused.startswith(name):
            return
    raise AssertionError(f"Tab never reached {name!r}")


def test_the_whole_flow_works_by_keyboard_alone(live_server, visit, make_participant,
                                               fixtures_dir):
    patient = make_participant(visit["patient_url"], "patient")
    clinician = make_participant(visit["clinician_url"], "clinician")
    patient.open()
    clinician.open()
    P, C = patient.page, clinician.page

    # Attach, preview, upload: the patient sends a photo and a PDF without a mouse.
    for file in (fixtures_dir / "photo_gps.jpg", fixtures_dir / "document.pdf"):
        P.locator("body").focus()
        with P.expect_file_chooser() as chooser:
            tab_to(P, "Bifoga fil")
            P.keyboard.press("Enter")
        chooser.value.set_files(str(file))
        dialog = P.get_by_role("dialog", name="Förhandsgranska")
        upload = dialog.get_by_role("button", name="Ladda upp")
        expect(upload).to_be_focused(timeout=UPLOAD_TIMEOUT_MS)  # focus moves to the next step
        P.keyboard.press("Enter")
        expect(dialog).to_be_hidden(timeout=UPLOAD_TIMEOUT_MS)
        expect(P.get_by_role("button", name="Bifoga fil", exact=True)).to_be_focused()

    # Open the viewer, zoom, close; focus comes back to the magnifier.
    expect(C.locator(".attachment")).to_have_count(2, timeout=UPLOAD_TIMEOUT_MS)
    C.locator("body").focus()
    tab_to(C, "Förstora bild: photo_gps.jpg")
    C.keyboard.press("Enter")
    viewer = C.get_by_role("dialog", name="Bild: photo_gps.jpg")
    expect(viewer).to_be_visible()
    C.keyboard.press("+")
    assert "scale(1.25)" in viewer.locator("#viewer-image").evaluate("e => e.style.transform")
    C.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    expect(C.get_by_role("button", name="Förstora bild: photo_gps.jpg")).to_be_focused()

    # Download the PDF.
    tab_to(C, "Ladda ner document.pdf")
    with C.expect_download() as download:
        C.keyboard.press("Enter")
    assert download.value.suggested_filename == "document.pdf"

    # End the visit with the reminder: mark both, then end.
    C.locator("body").focus()
    tab_to(C, "Avsluta besök")
    C.keyboard.press("Enter")
    reminder = C.get_by_role("dialog", name="Spara bilagor")
    expect(reminder).to_be_visible()
    for _ in range(2):
        tab_to(C, "Sparad i journalsystemet")
        C.keyboard.press("Space")
    expect(reminder).to_contain_text("Alla bilagor är markerade")
    tab_to(C, "Avsluta besök")
    C.keyboard.press("Enter")
    expect(reminder).to_be_hidden()
    expect(C.get_by_text("Besöket är avslutat", exact=False).first).to_be_visible()


def test_dialogs_follow_the_modal_pattern(live_server, visit, make_participant, fixtures_dir):
    patient = make_participant(visit["patient_url"], "patient")
    patient.open()
    P = patient.page
    opener = P.get_by_role("button", name="Bifoga fil", exact=True)
    pick(P, str(fixtures_dir / "document.pdf"))
    dialog = P.locator("#preview-dialog")
    expect(dialog).to_have_attribute("aria-modal", "true")
    expect(P.get_by_role("dialog", name="Förhandsgranska")).to_be_visible()
    expect(dialog.get_by_role("button", name="Ladda upp")).to_be_enabled(
        timeout=UPLOAD_TIMEOUT_MS)
    for _ in range(12):  # Tab stays inside, both ways
        P.keyboard.press("Tab")
        assert P.evaluate("document.querySelector('#preview-dialog')"
                          ".contains(document.activeElement)")
    for _ in range(5):
        P.keyboard.press("Shift+Tab")
        assert P.evaluate("document.querySelector('#preview-dialog')"
                          ".contains(document.activeElement)")
    P.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()


@pytest.mark.parametrize("text_size", ["100%", "200%"])
def test_layout_at_320_px_and_large_text(live_server, visit, make_participant, text_size,
                                         fixtures_dir):
    patient = make_participant(visit["patient_url"], "patient",
                               viewport={"width": 320, "height": 640})
    patient.open(wait_for_worker=False)
    P = patient.page
    P.evaluate("size => { document.documentElement.style.fontSize = size; }", text_size)
    P.wait_for_timeout(100)
    assert P.evaluate("document.documentElement.scrollWidth") <= 320
    for name in ("Bifoga fil", "Skicka"):  # reachable; vertical scrolling is allowed
        button = P.get_by_role("button", name=name, exact=True)
        button.scroll_into_view_if_needed()
        expect(button).to_be_in_viewport()
    pick(P, str(fixtures_dir / "document.pdf"))
    dialog = P.get_by_role("dialog", name="Förhandsgranska")
    expect(dialog.get_by_role("button", name="Ladda upp")).to_be_enabled(
        timeout=UPLOAD_TIMEOUT_MS)
    box = dialog.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 320


def test_reduced_motion_is_respected(live_server, visit, make_participant):
    patient = make_participant(visit["patient_url"], "patient", reduced_motion="reduce")
    patient.open(wait_for_worker=False)
    durations = patient.page.evaluate("""() => [...document.querySelectorAll('*')].map(
        e => getComputedStyle(e).transitionDuration + getComputedStyle(e).animationName)""")
    assert all(d in ("0snone",) for d in durations), set(durations)


def test_drop_paste_and_several_files(live_server, visit, make_participant, fixtures_dir):
    patient = make_participant(visit["patient_url"], "patient")
    clinician = make_participant(visit["clinician_url"], "clinician")
    patient.open()
    clinician.open()
    P = patient.page
    pdf = list((fixtures_dir / "document.pdf").read_bytes())
    # Drag a file over the chat: the drop zone shows; drop it: the preview opens.
    P.evaluate("""(bytes) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(bytes)], 'remiss.pdf', {type: 'application/pdf'}));
      window.__drop = dt;
      document.querySelector('#visit').dispatchEvent(
        new DragEvent('dragenter', {dataTransfer: dt, bubbles: true, cancelable: true}));
    }""", pdf)
    expect(P.get_by_text("Släpp filerna här")).to_be_visible()
    P.evaluate("""() => document.querySelector('#visit').dispatchEvent(
        new DragEvent('drop', {dataTransfer: window.__drop, bubbles: true, cancelable: true}))""")
    dialog = P.get_by_role("dialog", name="Förhandsgranska")
    expect(dialog).to_contain_text("remiss.pdf")
    expect(P.get_by_text("Släpp filerna här")).to_be_hidden()
    dialog.get_by_role("button", name="Avbryt").click()

    # Paste a screenshot (Ctrl+V): the preview opens with the image.
    P.evaluate("""async () => {
      const canvas = new OffscreenCanvas(200, 120);
      const ctx = canvas.getContext('2d'); ctx.fillStyle = '#c33'; ctx.fillRect(0, 0, 200, 120);
      const blob = await canvas.convertToBlob({type: 'image/png'});
      const dt = new DataTransfer();
      dt.items.add(new File([blob], 'skarmbild.png', {type: 'image/png'}));
      document.dispatchEvent(new ClipboardEvent('paste', {clipboardData: dt, bubbles: true}));
    }""")
    expect(dialog).to_contain_text("skarmbild.png")
    expect(dialog.locator("img.preview-image")).to_be_visible()
    dialog.get_by_role("button", name="Avbryt").click()

    # Several files at once: each with its own check; only the acceptable ones are sent.
    pick(P, [str(fixtures_dir / "document.pdf"), str(fixtures_dir / "clip.mp4"),
             str(fixtures_dir / "tone.mp3")])
    items = dialog.locator(".preview-item")
    expect(items).to_have_count(3)
    expect(items.nth(2).get_by_role("alert")).to_contain_text("tone.mp3 är en ljudfil",
                                                               timeout=UPLOAD_TIMEOUT_MS)
    expect(dialog.get_by_role("button", name="Ladda upp")).to_be_enabled(
        timeout=UPLOAD_TIMEOUT_MS)
    dialog.get_by_role("button", name="Ladda upp").click()
    expect(items.nth(0)).to_contain_text("skickad", timeout=UPLOAD_TIMEOUT_MS)
    expect(items.nth(1)).to_contain_text("skickad", timeout=UPLOAD_TIMEOUT_MS)
    expect(clinician.page.locator(".attachment")).to_have_count(2, timeout=UPLOAD_TIMEOUT_MS)
    # The refused one stays in view with its reason; the dialog now only closes.
    expect(items.nth(2).get_by_role("alert")).to_contain_text("ljudfil")
    expect(dialog.get_by_role("button", name="Ladda upp")).to_be_disabled()
    dialog.get_by_role("button", name="Stäng").click()
    expect(dialog).to_be_hidden()


def test_phone_offers_the_camera_and_sends_by_touch(live_server, visit, make_participant,
                                                    fixtures_dir):
    patient = make_participant(visit["patient_url"], "patient",
                               viewport={"width": 390, "height": 844}, has_touch=True,
                               is_mobile=True)
    patient.open()
    P = patient.page
    camera = P.get_by_role("button", name="Ta foto")
    expect(camera).to_be_visible()
    assert P.locator("#camera-input").get_attribute("capture") == "environment"
    with P.expect_file_chooser() as chooser:
        camera.tap()
    chooser.value.set_files(str(fixtures_dir / "photo_gps.jpg"))
    dialog = P.get_by_role("dialog", name="Förhandsgranska")
    upload = dialog.get_by_role("button", name="Ladda upp")
    expect(upload).to_be_enabled(timeout=UPLOAD_TIMEOUT_MS)
    upload.tap()
    expect(dialog).to_be_hidden(timeout=UPLOAD_TIMEOUT_MS)
    expect(P.locator("img.attachment-image")).to_have_count(1)
    assert P.evaluate("document.documentElement.scrollWidth") <= 390


def test_contrast_of_the_palette():
    """Text >= 4.5:1 and controls/progress >= 3:1 against their backgrounds."""
    css = (REPO_ROOT / "index.html").read_text()  # the app's styles are inline there
    colours = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-f]{6})", css))

    def luminance(hex_colour: str) -> float:
        channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    def ratio(a: str, b: str) -> float:
        la, lb = sorted((luminance(colours[a]), luminance(colours[b])), reverse=True)
        return (la + 0.05) / (lb + 0.05)

    for fg, bg in [("ink", "paper"), ("muted", "paper"), ("muted", "canvas"), ("ink", "mine"),
                   ("accent", "paper"), ("accent-ink", "accent"), ("danger", "paper"),
                   ("ok", "paper"), ("muted", "mine")]:
        assert ratio(fg, bg) >= 4.5, (fg, bg, ratio(fg, bg))
    for fg, bg in [("line", "paper"), ("accent", "canvas")]:
        assert ratio(fg, bg) >= 3.0, (fg, bg, ratio(fg, bg))


