"""End to end: a large upload survives a server crash (kill -9) and restart.

The patient picks a 9.5 MB PDF in the UI and uploads it; the test kills the server in the
middle of the body and starts it again on the same port and data directory. The preview
dialog must say "Återansluter…" meanwhile, the upload must resume from the server's offset and
finish, and the clinician must see the file arrive, byte-identical, exactly once.

Loopback is too fast for a kill to land mid-body, so the patient's context is throttled with
Chromium's DevTools network emulation (Network.emulateNetworkConditions, uploadThroughput):
it applies to the page's dedicated workers too, where the tus upload runs (light_worker.py for
a PDF). The throttle is lifted once the server is back, so the rest goes at full speed.

This test has its own server (function scope): the session server of the other e2e tests is
never killed.
"""

from __future__ import annotations

import hashlib
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import READY_TIMEOUT_MS, WORKER_TIMEOUT_MS
from tests.e2e.test_send_flow import pick
from tests.live_server import ServerProcess, make_pdf, storage_invariants

UPLOAD_BYTES_PER_SECOND = 1_500_000
UNTHROTTLED = {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}


@pytest.fixture
def own_server(tmp_path):
    server = ServerProcess(tmp_path / "data")
    server.start()
    yield server
    server.stop(kill=True)


def open_both(*participants) -> None:
    """Load the pages side by side (the Python runtime's start-up is the slow part)."""
    for who in participants:
        base, _, fragment = who.url.partition("#")
        who.page.goto(base + "#" + fragment)
    for who in participants:
        who.page.wait_for_selector("body[data-ready]", timeout=READY_TIMEOUT_MS)
        who.page.wait_for_function("window.bifogaLightReady", timeout=WORKER_TIMEOUT_MS)


def test_large_upload_survives_server_restart(own_server, make_participant):
    visit = own_server.new_visit()
    patient = make_participant(visit["patient_url"], "patient")
    clinician = make_participant(visit["clinician_url"], "clinician")
    open_both(patient, clinician)
    P, C = patient.page, clinician.page
    patch_offsets: list[int] = []
    patient.context.on("request", lambda r: patch_offsets.append(
        int(r.headers["upload-offset"])) if r.method == "PATCH" else None)

    cdp = patient.context.new_cdp_session(P)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions",
             {**UNTHROTTLED, "uploadThroughput": UPLOAD_BYTES_PER_SECOND})
    data = make_pdf(9_500_000, seed=42)
    name = "Journalkopia 2024.pdf"
    pick(P, {"name": name, "mimeType": "application/pdf", "buffer": data})
    dialog = P.get_by_role("dialog", name="Förhandsgranska")
    upload = dialog.get_by_role("button", name="Ladda upp")
    expect(upload).to_be_enabled(timeout=60_000)
    upload.click()

    # Mid-body: kill -9, and the dialog says it is reconnecting.
    progress = dialog.locator("progress.upload-progress")
    expect(progress).to_have_count(1)
    P.wait_for_function("document.querySelector('progress.upload-progress').value >= 25",
                        timeout=30_000)
    own_server.stop(kill=True)
    status = dialog.locator(".preview-status")
    expect(status).to_have_text("Återansluter…", timeout=15_000)
    crashed = storage_invariants(own_server.data_dir)  # the crash left nothing half-done
    assert (crashed["uploads"], crashed["messages"]) == (1, 0)
    expect(dialog).to_be_visible()

    own_server.start()
    cdp.send("Network.emulateNetworkConditions", UNTHROTTLED)
    expect(dialog).to_be_hidden(timeout=60_000)

    # The clinician sees it arrive live.
    card = C.locator(".attachment-document").filter(has_text=name)
    expect(card).to_be_visible(timeout=30_000)
    expect(C.locator(".messages > li")).to_have_count(1)
    expect(P.locator(".messages > li")).to_have_count(1)

    # Resumed from the offset the server had counted, not started over.
    assert patch_offsets[0] == 0 and len(patch_offsets) >= 2, patch_offsets
    assert 0 < patch_offsets[-1] < len(data), patch_offsets
    # Exactly one attachment message, byte-identical.
    listing = own_server.api(f"/api/visits/{visit['visit_id']}/messages",
                             visit["clinician_token"])["messages"]
    assert [(m["kind"], m["attachment"]["name"], m["attachment"]["size"]) for m in listing] == [
        ("attachment", name, len(data))]
    auth = {"Authorization": f"Bearer {visit['clinician_token']}"}
    request = urllib.request.Request(own_server.origin + listing[0]["attachment"]["url"],
                                     headers=auth)
    with urllib.request.urlopen(request, timeout=30) as resp:
        stored = resp.read()
    assert hashlib.sha256(stored).hexdigest() == hashlib.sha256(data).hexdigest()
    done = storage_invariants(own_server.data_dir)
    assert (done["attachments"], done["messages"], done["uploads"]) == (1, 1, 0)
    assert patient.errors == [] and clinician.errors == []
    print(f"\nPATCH offsets: {patch_offsets}")
