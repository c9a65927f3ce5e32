"""The core flows in every engine patients use: Chromium, Firefox ESR and WebKitGTK, the last as
shipped and with SharedArrayBuffer (as Safari gives a cross-origin isolated page).

Each flow is written once against tests/engines/drivers.py. Each engine's browser stays open for
the session (one tab); every run is a new visit made through the server's API and a new page
load in that tab. `BIFOGA_ENGINES=firefox,webkit` (or `make test-engines ENGINE=firefox`) runs
only those engines; `-k firefox` selects too.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from bifoga.media.metadata import find_location
from tests.engines.drivers import ChromiumDriver, Driver, FirefoxDriver, PageError, WebKitDriver
from tests.live_server import ServerProcess, free_port

ENGINES = ("chromium", "firefox", "webkit", "webkit-sab")
SELECTED = [e.strip() for e in (os.environ.get("BIFOGA_ENGINES") or ",".join(ENGINES)).split(",")
            if e.strip()]
HURRIED_RUNS = 10
READY_S = 60
WORKER_S = 120
UPLOAD_S = 120  # a cold Pyodide worker in a loaded CI machine included

PICKER = "#attachment-input"
DIALOG = "#preview-dialog"
UPLOAD = "#preview-dialog .dialog-actions button.primary"
CANCEL = "#preview-dialog .dialog-actions button.secondary"
# The files PyScript needs to start the main thread, each of which index.html once preloaded.
WASM = "/static/vendor/micropython-1.27.0/micropython.wasm"
MJS = "/static/vendor/micropython-1.27.0/micropython.mjs"
START_UP_FILES = (WASM, "/pyscript.toml", "/static/build/app.tar")
# The runtime's modules that index.html's inline script modulepreloads and only the page
# imports (its toml chunk, preloaded too, is imported again by the worker, which shares no
# module map with the page).
MODULE_PRELOADS = ("/static/vendor/pyscript-0.7.31/core-C9KDLldu.js",
                   "/static/vendor/pyscript-0.7.31/error-D2315lOB.js",
                   MJS)

# What "Ladda ner" hands the browser, kept instead of saved: the app clicks a hidden
# <a download> with the attachment's blob: URL. The page's CSP (connect-src 'self') forbids a
# fetch of a blob: URL, so the Blob behind each object URL the app makes is kept to be read.
# Installed as soon as the shell is parsed, long before Python is up and makes any; returns
# whether Python was up already (then it came too late, and the test says so).
KEEP_BLOBS_AND_DOWNLOADS = """() => {
  if (!window.__engineBlobs) {
    const blobs = new Map();
    window.__engineBlobs = blobs;
    const create = URL.createObjectURL;
    URL.createObjectURL = function (object) {
      const url = create.call(URL, object);
      blobs.set(url, object);
      return url;
    };
    window.__engineDownloads = [];
    // What a failed wait shows (drivers.Driver.state_for_error): where clicks landed, when.
    window.__engineTrace = [];
    for (const type of ["pointerdown", "click"]) {
      document.addEventListener(type, (event) => {
        const t = event.target;
        const label = t.getAttribute && (t.getAttribute("aria-label") || t.id || t.className);
        window.__engineTrace.push(`${Math.round(performance.now())} ${type} ${t.tagName} ${label}`);
      }, true);
    }
    document.addEventListener("click", (event) => {
      const link = event.target;
      if (link instanceof HTMLAnchorElement && link.hasAttribute("download")) {
        event.preventDefault();
        window.__engineDownloads.push({href: link.href, name: link.getAttribute("download")});
      }
    }, true);
  }
  return document.body.hasAttribute("data-ready");
}"""

# The bytes of the Blob behind an object URL the app made, as base64.
BLOB_BASE64 = """async (url) => {
  const blob = window.__engineBlobs.get(url);
  if (!blob) throw new Error("no Blob kept for " + url);
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}"""

# The hurried patient's thumb: "Ladda upp" is clicked the moment it is enabled (in a task of its
# own, so that the update that enabled it finishes first), once.
CLICK_UPLOAD_WHEN_ENABLED = """(selector) => {
  let queued = false;
  const tryClick = () => {
    const button = document.querySelector(selector);
    if (queued || !button || button.disabled) return;
    queued = true;
    setTimeout(() => {
      const now = document.querySelector(selector);
      if (now && !now.disabled) { now.click(); window.__engineClicked = performance.now(); }
      else queued = false;
    }, 0);
  };
  new MutationObserver(tryClick).observe(document, {subtree: true, childList: true,
                                                    attributes: true});
  tryClick();
}"""


@pytest.fixture(scope="session", params=SELECTED)
def engine(request: pytest.FixtureRequest, live_server: ServerProcess) -> Iterator[Driver]:
    name = request.param
    if name == "chromium":
        driver: Driver = ChromiumDriver(request.getfixturevalue("browser"))
    elif name == "firefox":
        driver = FirefoxDriver(free_port())
    elif name in ("webkit", "webkit-sab"):
        driver = WebKitDriver(shared_array_buffer=name == "webkit-sab")
    else:
        raise ValueError(f"unknown engine {name!r}; known: {', '.join(ENGINES)}")
    yield driver
    driver.close()


@pytest.fixture(scope="session")
def iphone_photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.e2e.test_phone_media import _iphone_photo

    return _iphone_photo(tmp_path_factory.mktemp("heic"))


def open_visit(driver: Driver, url: str, worker: bool = True) -> None:
    driver.load(url)
    driver.wait("(s) => !!document.querySelector(s)", READY_S, PICKER, interval=0.01)
    assert not driver.call(KEEP_BLOBS_AND_DOWNLOADS), "Python was up before the test's hook"
    driver.wait("() => document.body && document.body.hasAttribute('data-ready')", READY_S)
    if worker:
        driver.wait("() => !!window.bifogaLightReady", WORKER_S)


def dialog_open(driver: Driver) -> bool:
    return bool(driver.call("(s) => !!document.querySelector(s)?.open", DIALOG))


def send(driver: Driver, server: ServerProcess, path: Path, expect_text: str | None = None
         ) -> None:
    """Pick `path` with the paperclip, wait until it may go (and is fully checked), send it.
    If it does not go, the failure shows what the server heard meanwhile."""
    log_start = server.log_path.stat().st_size
    try:
        _send(driver, path, expect_text)
    except PageError as exc:
        with open(server.log_path, "rb") as log:
            log.seek(log_start)
            heard = log.read()[-4000:].decode(errors="replace")
        raise PageError(f"{exc}\nthe server's log meanwhile:\n{heard}") from exc


def _send(driver: Driver, path: Path, expect_text: str | None) -> None:
    driver.set_files(PICKER, [path])
    driver.wait("(s) => document.querySelector(s)?.open", 20, DIALOG)
    driver.wait("(s) => { const b = document.querySelector(s); return b && !b.disabled; }",
                UPLOAD_S, UPLOAD)
    driver.wait("() => !!document.querySelector('li.preview-item[data-verified=\"true\"]')",
                UPLOAD_S)
    if expect_text:
        driver.wait("(s, t) => document.querySelector(s).innerText.includes(t)", 10,
                    DIALOG, expect_text)
    # As a patient does: the preview is seen (its picture in place, the dialog's layout
    # settled) before "Ladda upp" is pressed.
    driver.wait("(s) => [...document.querySelectorAll(s + ' img')].every((i) => i.complete)",
                UPLOAD_S, DIALOG)
    driver.click(UPLOAD)
    driver.wait("(s) => !document.querySelector(s).open", UPLOAD_S, DIALOG)


def attachments(server: ServerProcess, visit: dict) -> list[dict]:
    listing = server.api(f"/api/visits/{visit['visit_id']}/messages", visit["clinician_token"])
    return [m["attachment"] for m in listing["messages"] if m.get("attachment")]


def download(driver: Driver, name: str) -> tuple[str, bytes]:
    """Click "Ladda ner <name>" and return the name and bytes the browser was given."""
    before = driver.call("() => window.__engineDownloads.length")
    driver.click(f'button[aria-label="Ladda ner {name}"]')
    caught = driver.wait("(n) => window.__engineDownloads[n]", UPLOAD_S, before)
    return caught["name"], base64.b64decode(driver.call(BLOB_BASE64, caught["href"]))


def test_patient_sends_photo_pdf_and_heic_and_the_clinician_sees_and_downloads_them(
        engine: Driver, live_server: ServerProcess, fixtures_dir: Path, iphone_photo: Path,
        tmp_path: Path) -> None:
    visit = live_server.new_visit()
    photo, pdf = fixtures_dir / "photo_gps.jpg", fixtures_dir / "document.pdf"
    assert find_location(photo.read_bytes())

    open_visit(engine, visit["patient_url"])
    send(engine, live_server, photo, expect_text="Platsinformation (GPS)")
    send(engine, live_server, pdf)
    send(engine, live_server, iphone_photo, expect_text="omvandlad från iPhones format HEIC")
    # A sound is refused, with its reason, and nothing is sent.
    engine.set_files(PICKER, [fixtures_dir / "tone.mp3"])
    engine.wait("(s, t) => document.querySelector(s + ' [role=alert]')?.innerText.includes(t)",
                UPLOAD_S, DIALOG, "tone.mp3 är en ljudfil. Ljudfiler kan inte skickas.")
    assert engine.call("(s) => document.querySelector(s).disabled", UPLOAD)
    engine.click(CANCEL)
    engine.wait("(s) => !document.querySelector(s).open", 10, DIALOG)
    engine.wait("() => document.querySelectorAll('.messages img.attachment-image').length == 2"
                " && [...document.querySelectorAll('.messages img.attachment-image')]"
                ".every((img) => img.naturalWidth > 0)", UPLOAD_S)
    sent = attachments(live_server, visit)
    assert [a["name"] for a in sent] == ["photo_gps.jpg", "document.pdf", "IMG_0042.jpg"]

    # The patient's chat on a phone-wide screen, for a look.
    engine.set_viewport(390, 844)
    engine.wait("() => innerWidth === 390 && "
                "document.querySelector('.visit').getBoundingClientRect().width <= 390", 10)
    engine.call("() => { document.querySelector('.messages .message').scrollIntoView(); }")
    engine.call(AFTER_TWO_FRAMES)
    engine.screenshot(screenshot_path(tmp_path, engine.name))
    engine.set_viewport(1280, 900)

    # The clinician: the photos inline with their magnifiers, the viewer, "Ladda ner".
    open_visit(engine, visit["clinician_url"], worker=False)
    engine.wait("() => { const i = document.querySelectorAll('.messages img.attachment-image');"
                " return i.length == 2 && [...i].every((img) => img.naturalWidth > 0); }",
                UPLOAD_S)
    shown = engine.call("() => [...document.querySelectorAll('.messages img.attachment-image')]"
                        ".map((img) => [img.naturalWidth, img.naturalHeight])")
    assert shown == [[1200, 1600], [640, 480]]  # the phone photo upright, the HEIC as a JPEG
    engine.click('button[aria-label="Förstora bild: photo_gps.jpg"]')
    engine.wait("() => document.querySelector('#image-viewer').open && "
                "document.querySelector('#viewer-image').naturalWidth === 1200", UPLOAD_S)
    assert "photo_gps.jpg" in engine.call("() => document.querySelector('#viewer-title')"
                                          ".textContent")
    engine.click("#image-viewer .viewer-close")
    engine.wait("() => !document.querySelector('#image-viewer').open", 10)

    stored = {a["name"]: a for a in sent}
    auth = {"Authorization": f"Bearer {visit['clinician_token']}"}
    for name in ("photo_gps.jpg", "document.pdf", "IMG_0042.jpg"):
        saved_name, data = download(engine, name)
        assert saved_name == name
        on_server = httpx.get(live_server.base + stored[name]["url"], headers=auth, timeout=30)
        assert data == on_server.content, f"{engine.name}: {name} differs from the server's"
    assert download(engine, "document.pdf")[1] == pdf.read_bytes()

    # The photo arrived without its position (Bifoga's own check and exiftool's) or camera,
    # losslessly: the same pixels, still Orientation 6 (shown upright above).
    received = tmp_path / "received.jpg"
    received.write_bytes(download(engine, "photo_gps.jpg")[1])
    assert not find_location(received.read_bytes())
    assert leaks(received) == []
    original, sent_photo = Image.open(photo), Image.open(received)
    assert sent_photo.getexif().get(ORIENTATION) == 6
    assert sent_photo.tobytes() == original.tobytes()

    # The iPhone photo arrived as a JPEG, without position, camera or date, not turned.
    converted = tmp_path / "converted.jpg"
    converted.write_bytes(download(engine, "IMG_0042.jpg")[1])
    assert leaks(converted) == []
    picture = Image.open(converted)
    assert picture.format == "JPEG" and picture.size == (640, 480) and not picture.getexif()
    left, right = picture.getpixel((100, 240)), picture.getpixel((540, 240))
    assert left[0] > 150 > left[2] and right[2] > 150 > right[0]


# What exiftool must not find in a photo that was sent.
LEAK_TAGS = re.compile(r"GPS|Location|Make$|Model$|SerialNumber|DateTimeOriginal", re.I)
ORIENTATION = 0x0112


def leaks(path: Path) -> list[str]:
    tags = json.loads(subprocess.run(["exiftool", "-j", "-G1", "-a", str(path)], check=True,
                                     capture_output=True, text=True, timeout=60).stdout)[0]
    return [name for name in tags if LEAK_TAGS.search(name.split(":")[-1])]


AFTER_TWO_FRAMES = """() => new Promise((done) => requestAnimationFrame(
  () => requestAnimationFrame(() => done(true))))"""


def screenshot_path(tmp_path: Path, engine_name: str) -> Path:
    """Where the 390 px screenshot of the patient's chat goes (BIFOGA_SCREENSHOTS keeps it)."""
    folder = Path(os.environ.get("BIFOGA_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"patient-chat-390px-{engine_name}.png"


def requests_since(server: ServerProcess, offset: int) -> list[str]:
    """The paths of the GET requests the server logged after byte `offset` of its log."""
    with open(server.log_path, "rb") as log:
        log.seek(offset)
        text = log.read().decode(errors="replace")
    return re.findall(r'"GET ([^ ?"]+)[^"]* HTTP/[0-9.]+"', text)


def test_each_start_up_file_is_requested_once_per_page_load(
        engine: Driver, live_server: ServerProcess) -> None:
    """A cold load: the server under another name (localhost), whose files no engine has in
    its cache yet, so that each one is fetched, and none twice."""
    visit = live_server.new_visit()
    url = visit["patient_url"].replace("//127.0.0.1:", "//localhost:", 1)
    assert url != visit["patient_url"]
    engine.load("about:blank")
    offset = live_server.log_path.stat().st_size
    open_visit(engine, url, worker=False)
    time.sleep(0.5)  # the access log is written after the response
    paths = requests_since(live_server, offset)
    counts = {path: paths.count(path) for path in START_UP_FILES + MODULE_PRELOADS}
    expected = dict.fromkeys(START_UP_FILES + MODULE_PRELOADS, 1)
    if engine.name.startswith("webkit"):
        # The light worker (MicroPython in a worker) loads the same runtime. Chromium and
        # Firefox take it from the HTTP cache (it is served immutable); WebKitGTK's worker
        # requests micropython.mjs and .wasm again (200, not 304): about 200 KB brotli more on a
        # cold load, in WebKit only.
        expected[WASM] = expected[MJS] = 2
    assert counts == expected, (engine.name, counts)


@pytest.mark.timeout(900)
def test_the_hurried_patient_always_ends_in_the_chat(
        engine: Driver, live_server: ServerProcess, fixtures_dir: Path) -> None:
    """The photo is picked the moment the paperclip exists and "Ladda upp" clicked the moment
    it is enabled, again and again: every run ends with the photo in the chat."""
    photo = fixtures_dir / "photo_gps.jpg"
    failures, timings = [], []
    for run in range(HURRIED_RUNS):
        visit = live_server.new_visit()
        engine.load(visit["patient_url"])
        engine.wait("(s) => !!document.querySelector(s)", READY_S, PICKER, interval=0.005)
        engine.set_files(PICKER, [photo])
        engine.call(CLICK_UPLOAD_WHEN_ENABLED, UPLOAD)
        try:
            engine.wait("(s) => window.__engineClicked !== undefined && "
                        "!document.querySelector(s).open && "
                        "document.querySelector('.messages img.attachment-image')", WORKER_S,
                        DIALOG)
        except PageError as exc:
            failures.append(f"run {run}: {exc}")
            continue
        names = [a["name"] for a in attachments(live_server, visit)]
        if names != ["photo_gps.jpg"]:
            failures.append(f"run {run}: the visit holds {names}")
        timings.append(engine.call(UPLOAD_TIMINGS))
    print(f"\n{engine.name}: hurried runs, upload timings (ms): {timings}")
    assert failures == [], f"{engine.name}: {len(failures)} of {HURRIED_RUNS} stalled:\n" + \
        "\n".join(failures)


# From the end of the worker's check to the photo in the chat, and the worker's own measures
# of its upload (adapters/worker_client.py), for comparing engines.
UPLOAD_TIMINGS = """() => {
  const last = (name) => { const e = performance.getEntriesByName(name);
                           return e.length ? Math.round(e[e.length - 1].duration) : null; };
  return {transfer: last("bifoga:upload-transfer"), finalise: last("bifoga:upload-finalise"),
          processing: last("bifoga:worker-processing"),
          worker_ready: Math.round(window.bifogaLightReady || 0),
          clicked: Math.round(window.__engineClicked)};
}"""
