"""The Pyodide worker's start: only on the first file that needs it (an iPhone photo here),
from the worker's own memory snapshot (made by `make` from the same files as worker.zip), with
the worker's pure modules already imported. The light worker (MicroPython) starts once the page
is usable."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from tests.e2e.conftest import WORKER_TIMEOUT_MS
from tests.e2e.test_phone_media import _iphone_photo

WORKER_MARKS = "() => performance.getEntriesByType('mark').map((m) => m.name)"


def start_heavy_worker(patient, folder: Path) -> None:
    """Open the page, see that nothing of Pyodide came, then pick a HEIC: it starts."""
    patient.open()
    assert not [u for u in patient.requests if "/pyodide-" in u or "worker.zip" in u]
    assert patient.page.evaluate("window.bifogaWorkerReady") is None
    marks = [mark for worker in patient.page.workers for mark in worker.evaluate(WORKER_MARKS)]
    assert "bifoga:light-ready" in marks
    with patient.page.expect_file_chooser() as chooser:
        patient.page.get_by_role("button", name="Bifoga fil", exact=True).click()
    chooser.value.set_files(str(_iphone_photo(folder)))
    patient.page.wait_for_function("window.bifogaWorkerReady", timeout=WORKER_TIMEOUT_MS)
    dialog = patient.page.get_by_role("dialog", name="Förhandsgranska")
    expect(dialog.locator(".preview-item")).to_have_attribute("data-verified", "true",
                                                              timeout=WORKER_TIMEOUT_MS)


def test_the_worker_starts_from_its_snapshot_with_its_modules_imported(
        live_server, visit, make_participant, tmp_path: Path):
    patient = make_participant(visit["patient_url"], "patient")
    warnings: list[str] = []
    patient.context.on("console", lambda m: warnings.append(m.text)
                       if m.type in ("warning", "error") else None)
    start_heavy_worker(patient, tmp_path)
    marks = [mark for worker in patient.page.workers for mark in worker.evaluate(WORKER_MARKS)]
    assert "bifoga:worker-ready" in marks
    # The snapshot's modules were the files unpacked (scripts/worker_snapshot.py): not imported
    # anew. Fails after a source change without `make setup` (the worker then still works).
    assert "bifoga:worker-snapshot-modules" in marks, warnings
    assert any(url.endswith("/static/build/worker-snapshot.bin") for url in patient.requests)
    assert not any("snapshot" in text for text in warnings), warnings
    assert patient.errors == []


def test_without_its_snapshot_the_worker_starts_from_pyodides_own(
        live_server, visit, make_participant, tmp_path: Path):
    """bifoga-boot.mjs falls back to static/vendor/pyodide-*/snapshot.bin, and worker.py then
    imports its modules from the files as before."""
    patient = make_participant(visit["patient_url"], "patient")
    patient.context.route("**/static/build/worker-snapshot.bin",
                          lambda route: route.fulfill(status=404, body="gone"))
    start_heavy_worker(patient, tmp_path)
    marks = [mark for worker in patient.page.workers for mark in worker.evaluate(WORKER_MARKS)]
    assert "bifoga:worker-ready" in marks
    assert "bifoga:worker-snapshot-modules" not in marks
    assert any(url.endswith("/snapshot.bin") and "/static/vendor/" in url
               for url in patient.requests)
    assert patient.errors == []
