"""worker_heic.py in Chromium: libheif-js, self-hosted, decodes a HEIC made here with heif-enc,
in a Pyodide worker from the vendored runtime, and Pillow (the project's wheel) turns the pixels
into a JPEG. It also measures what docs/heic-decoder.md reports: bytes fetched for the decoder,
its load time, the decode time, Pillow's load time and the JPEG encode.

The page and worker are written into static/bench/ (gitignored) for the run. The photo is small by
default (heif-enc is slow on a busy machine); BIFOGA_HEIC_SIZE=4032x3024 gives the 12 MP figure,
and BIFOGA_HEIC_FILE=x.heic times a given HEIC instead (its pixels are then not compared).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from PIL import Image

from tests.e2e.conftest import REPO_ROOT

PAGE_DIR = REPO_ROOT / "static" / "bench" / "heic-test"
SIZE = tuple(int(v) for v in os.environ.get("BIFOGA_HEIC_SIZE", "1024x768").split("x"))
GIVEN = os.environ.get("BIFOGA_HEIC_FILE")

INDEX_HTML = """<!doctype html><meta charset="utf-8"><title>HEIC decoder</title>
<script type="module" src="run.js"></script>"""

RUN_JS = """
const worker = new Worker("heic-worker.js", {type: "module"});
worker.onmessage = (e) => { window.heicResult = e.data; };
worker.onerror = (e) => { window.heicResult = JSON.stringify({error: String(e.message)}); };
"""

WORKER_JS = """
import { loadPyodide } from "/static/vendor/pyodide-314.0.7/pyodide.mjs";
try {
  const pyodide = await loadPyodide({indexURL: "/static/vendor/pyodide-314.0.7/"});
  pyodide.FS.writeFile("/home/pyodide/worker_heic.py",
                       await (await fetch("worker_heic.py")).text());
  const heic = new Uint8Array(await (await fetch("photo.heic")).arrayBuffer());
  pyodide.globals.set("heic_bytes", heic);
  const out = await pyodide.runPythonAsync(`
import io, json, js, pyodide_js
import worker_heic
t = [js.performance.now()]
await worker_heic.load_libheif()
t.append(js.performance.now())
pixels, width, height = await worker_heic.decode_heic(heic_bytes.to_py())
t.append(js.performance.now())
await pyodide_js.loadPackage("pillow")
from PIL import Image
t.append(js.performance.now())
image = Image.frombuffer("RGBA", (width, height), pixels).convert("RGB")
jpeg = io.BytesIO()
image.save(jpeg, "JPEG", quality=85)
t.append(js.performance.now())
pixels2, _, _ = await worker_heic.decode_heic(heic_bytes.to_py())
t.append(js.performance.now())
samples = [list(image.getpixel((x * (width - 1) // 7, y * (height - 1) // 5)))
           for y in range(6) for x in range(8)]
resources = [{"name": e.name.split("/")[-1], "transfer": e.transferSize,
              "encoded": e.encodedBodySize, "decoded": e.decodedBodySize}
             for e in js.performance.getEntriesByType("resource")]
json.dumps({"width": width, "height": height, "rgba_bytes": len(pixels),
            "jpeg_bytes": jpeg.tell(), "same_twice": pixels == pixels2, "samples": samples,
            "libheif_load_ms": t[1] - t[0], "decode_ms": t[2] - t[1],
            "pillow_load_ms": t[3] - t[2], "jpeg_encode_ms": t[4] - t[3],
            "second_decode_ms": t[5] - t[4], "resources": resources})
`);
  postMessage(out);
} catch (e) {
  postMessage(JSON.stringify({error: String(e && e.stack || e)}));
}
"""


def _photo(width: int, height: int) -> Image.Image:
    """Smooth gradients (red across, blue down): easy to check after lossy coding."""
    red = Image.linear_gradient("L").rotate(90).resize((width, height))
    blue = Image.linear_gradient("L").resize((width, height))
    green = Image.new("L", (width, height), 90)
    return Image.merge("RGB", (red.transpose(Image.Transpose.FLIP_LEFT_RIGHT), green, blue))


@pytest.fixture
def heic_page(tmp_path):
    if not shutil.which("heif-enc"):
        pytest.fail("heif-enc missing: `make chromium` installs Debian's libheif-examples")
    PAGE_DIR.mkdir(parents=True, exist_ok=True)
    if GIVEN:
        photo = None
        shutil.copy2(GIVEN, PAGE_DIR / "photo.heic")
    else:
        photo = _photo(*SIZE)
        source = tmp_path / "photo.jpg"
        photo.save(source, quality=95)
        subprocess.run(["heif-enc", "-q", "70", "-o", str(PAGE_DIR / "photo.heic"), str(source)],
                       check=True, capture_output=True, timeout=900)
    (PAGE_DIR / "index.html").write_text(INDEX_HTML)
    (PAGE_DIR / "run.js").write_text(RUN_JS)
    (PAGE_DIR / "heic-worker.js").write_text(WORKER_JS)
    shutil.copy2(REPO_ROOT / "worker_heic.py", PAGE_DIR / "worker_heic.py")
    yield photo
    shutil.rmtree(PAGE_DIR, ignore_errors=True)


def test_libheif_js_decodes_a_heic_in_a_pyodide_worker(live_server, browser, heic_page):
    photo = heic_page
    context = browser.new_context()
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    page = context.new_page()
    try:
        page.goto(live_server.origin + "/static/bench/heic-test/index.html")
        page.wait_for_function("window.heicResult !== undefined", timeout=300_000)
        result = json.loads(page.evaluate("window.heicResult"))
    finally:
        context.close()
    assert "error" not in result, result.get("error")
    width, height = photo.size if photo else (result["width"], result["height"])
    assert (result["width"], result["height"]) == (width, height)
    assert result["rgba_bytes"] == width * height * 4
    assert result["same_twice"]
    for i, got in enumerate(result["samples"] if photo else []):
        x, y = (i % 8) * (width - 1) // 7, (i // 8) * (height - 1) // 5
        want = photo.getpixel((x, y))
        assert all(abs(a - b) <= 12 for a, b in zip(got, want, strict=True)), (x, y, got, want)
    heif = {r["name"]: r for r in result["resources"] if r["name"].startswith("libheif")}
    assert set(heif) == {"libheif.js", "libheif.wasm"}
    assert all(u.startswith(live_server.origin) for u in requests if "://" in u)
    report = {k: round(v) if isinstance(v, float) else v for k, v in result.items()
              if k.endswith(("_ms", "_bytes"))}
    report["libheif_fetched"] = {n: r["encoded"] for n, r in heif.items()}
    report["heic_bytes"] = (PAGE_DIR / "photo.heic").stat().st_size
    print("heic:", json.dumps(report))
