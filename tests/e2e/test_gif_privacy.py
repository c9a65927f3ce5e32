"""A GIF with a position in its XMP, sent through the app: the preview says XMP goes, and the
clinician receives it with no position that ExifTool reads, every frame as before."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageSequence
from playwright.sync_api import expect

from tests import hostile_images as hostile
from tests.e2e.test_send_flow import UPLOAD_TIMEOUT_MS, pick


def _frames(data: bytes) -> list[bytes]:
    im = Image.open(io.BytesIO(data))
    return [f.convert("RGBA").tobytes() for f in ImageSequence.Iterator(im)]


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool is missing")
def test_gif_with_gps_xmp_arrives_without_it(pair, tmp_path: Path):
    patient, clinician = pair
    P, C = patient.page, clinician.page
    gif = tmp_path / "animation.gif"
    data = hostile.gif_with_metadata(frames=3)
    gif.write_bytes(data)

    pick(P, str(gif))
    dialog = P.get_by_role("dialog", name="Förhandsgranska")
    expect(dialog.get_by_text("XMP-metadata (t.ex. redigeringshistorik)")).to_be_visible(
        timeout=UPLOAD_TIMEOUT_MS)
    dialog.get_by_role("button", name="Ladda upp").click()
    expect(dialog).to_be_hidden(timeout=UPLOAD_TIMEOUT_MS)

    with C.expect_download(timeout=UPLOAD_TIMEOUT_MS) as download:
        C.locator(".attachment-image-wrap").get_by_role(
            "button", name=re.compile("^Ladda ner")).click()
    received = Path(download.value.path()).read_bytes()
    assert b"XMP DataXMP" not in received and b"COMMENT-SECRET" not in received
    assert _frames(received) == _frames(data)
    proc = subprocess.run(["exiftool", "-j", "-ee", "-n", "-a", "-G1", download.value.path()],
                          capture_output=True, text=True, check=True, timeout=60)
    tags = json.loads(proc.stdout)[0]
    assert not [k for k in tags if "gps" in k.lower() or "latitude" in k.lower()]
