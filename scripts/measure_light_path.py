"""Pick → in the chat for a 3 MB phone JPEG with GPS, picked the moment the paperclip works and
sent the moment "Ladda upp" is enabled; the bytes downloaded before the first upload byte; the
light worker's start. Chromium, unshaped, a cold cache each run (a new context).

    .venv/bin/python scripts/measure_light_path.py [--root DIR] [--runs 3]

--root: a checkout to measure (its server and static files), for a before/after comparison;
its static/build must be made. Prints one JSON line per run and the medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHOTO_BYTES = 3_000_000

# Every resource the page and its workers fetched, on one clock (timeOrigin + responseEnd).
ENTRIES = """() => performance.getEntriesByType('resource').map((e) => ({
    name: e.name, end: performance.timeOrigin + e.responseEnd,
    start: performance.timeOrigin + e.startTime, bytes: e.transferSize,
    method: e.initiatorType}))"""
MARKS = """() => performance.getEntriesByType('mark').map((m) => [m.name,
    performance.timeOrigin + m.startTime])"""


def run_once(browser, server, photo: Path) -> dict:
    visit = server.new_visit()
    context = browser.new_context()
    patches: list[float] = []
    context.on("request", lambda r: patches.append(time.time() * 1000)
               if r.method == "PATCH" else None)
    page = context.new_page()
    base, _, fragment = visit["patient_url"].partition("#")
    page.goto(base + "#" + fragment, wait_until="commit")
    page.wait_for_function("window.bifogaUsable !== undefined", timeout=60_000)
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Bifoga fil", exact=True).click()
    chooser.value.set_files(str(photo))
    picked = page.evaluate("performance.timeOrigin + performance.now()")
    upload = page.get_by_role("dialog", name="Förhandsgranska").get_by_role(
        "button", name="Ladda upp")
    upload.click(timeout=180_000)  # waits until it is enabled
    page.wait_for_selector(".messages li[data-sender-role='patient'] .attachment",
                           timeout=300_000)
    in_chat = page.evaluate("performance.timeOrigin + performance.now()")
    entries = page.evaluate(ENTRIES)
    marks = dict(page.evaluate(MARKS))
    for worker in page.workers:
        try:
            entries += worker.evaluate(ENTRIES)
            marks.update(dict(worker.evaluate(MARKS)))
        except Exception:  # noqa: BLE001 - a worker that has gone
            pass
    patch_starts = [e["start"] for e in entries if e["method"] == "xmlhttprequest"
                    and "/files/" in e["name"]] or patches
    first_upload = min(patch_starts) if patch_starts else in_chat
    before = sum(e["bytes"] for e in entries if e["end"] <= first_upload)
    light_ready = page.evaluate("window.bifogaLightReady ?? null")
    usable = page.evaluate("window.bifogaReady ?? null")
    pyodide = [e["name"] for e in entries if "/pyodide-" in e["name"]]
    context.close()
    return {
        "pick_to_chat_ms": round(in_chat - picked),
        "bytes_before_first_upload_byte": before,
        "pyodide_files": len(pyodide),
        "light_ready_after_ui_ms": (round(light_ready - usable)
                                    if light_ready and usable else None),
        "light_worker_start_ms": (round(marks["bifoga:light-ready"]
                                        - marks["bifoga:light-start"])
                                  if "bifoga:light-ready" in marks else None),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(args.root))
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from playwright.sync_api import sync_playwright

    from bench.photo import make_photo
    from tests.live_server import ServerProcess

    ServerProcess.__init__.__globals__["ROOT"] = args.root  # serve that checkout
    with tempfile.TemporaryDirectory() as tmp:
        photo = make_photo(Path(tmp) / "photo.jpg", PHOTO_BYTES)
        server = ServerProcess(Path(tmp) / "data")
        server.start()
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                runs = [run_once(browser, server, photo) for _ in range(args.runs)]
                browser.close()
        finally:
            server.stop()
    for run in runs:
        print(json.dumps(run))
    print("median", json.dumps({k: statistics.median(r[k] for r in runs)
                                for k in runs[0] if runs[0][k] is not None}))


if __name__ == "__main__":
    main()
