"""The Pyodide worker's start: from the worker's own memory snapshot (made by `make` from the
same files as worker.zip), with the worker's pure modules already imported."""

from __future__ import annotations

WORKER_MARKS = "() => performance.getEntriesByType('mark').map((m) => m.name)"


def test_the_worker_starts_from_its_snapshot_with_its_modules_imported(live_server, visit,
                                                                       make_participant):
    patient = make_participant(visit["patient_url"], "patient")
    warnings: list[str] = []
    patient.context.on("console", lambda m: warnings.append(m.text)
                       if m.type in ("warning", "error") else None)
    patient.open()
    marks = [mark for worker in patient.page.workers for mark in worker.evaluate(WORKER_MARKS)]
    assert "bifoga:worker-ready" in marks
    # The snapshot's modules were the files unpacked (scripts/worker_snapshot.py): not imported
    # anew. Fails after a source change without `make setup` (the worker then still works).
    assert "bifoga:worker-snapshot-modules" in marks, warnings
    assert any(url.endswith("/static/build/worker-snapshot.bin") for url in patient.requests)
    assert not any("snapshot" in text for text in warnings), warnings
    assert patient.errors == []


def test_without_its_snapshot_the_worker_starts_from_pyodides_own(live_server, visit,
                                                                 make_participant):
    """bifoga-boot.mjs falls back to static/vendor/pyodide-*/snapshot.bin, and worker.py then
    imports its modules from the files as before."""
    patient = make_participant(visit["patient_url"], "patient")
    patient.context.route("**/static/build/worker-snapshot.bin",
                          lambda route: route.fulfill(status=404, body="gone"))
    patient.open()
    marks = [mark for worker in patient.page.workers for mark in worker.evaluate(WORKER_MARKS)]
    assert "bifoga:worker-ready" in marks
    assert "bifoga:worker-snapshot-modules" not in marks
    assert any(url.endswith("/snapshot.bin") and "/static/vendor/" in url
               for url in patient.requests)
    assert patient.errors == []
