"""The project's own Pillow wasm wheel (wheels/, built by scripts/build_pillow_wasm.sh with a newer
Emscripten than Pyodide's) loads in the Bifoga worker, from the app's own origin, and works.

Emscripten 6.0.5 against Pyodide's 5.0.3 carries no promise of compatibility, so this runs every
time. The worker is started as the app starts it on a file that needs it (app.WORKERS), and its
exports are called the way the app calls them, through PyScript's `workers` in the page's
MicroPython. A PPM proves it is Pillow that did the work: the browser's own
decoder (the fallback) cannot read one.
"""

from __future__ import annotations

import io
import json
import time
from urllib.parse import urlparse

from PIL import Image

PYODIDE_DIR = "/static/vendor/pyodide-314.0.7/"

# Runs in the page's MicroPython (PyScript runs every mpy script in the one interpreter).
START_WORKER = """
import asyncio

import js
from pyscript import create_named_worker

from app import WORKERS
from bifoga.chat.model import HEAVY


async def _start():
    script, name, config, kind = WORKERS[HEAVY][:4]
    await create_named_worker(script, name, config, type=kind)
    js.window.heavyStarted = True


asyncio.create_task(_start())
"""

CALL_WORKER = """
import asyncio
import json

import js
from pyscript import workers


async def _call():
    worker = await workers["bifoga-worker"]
    results = []
    for item in js.window.pillowInputs:
        started = js.performance.now()
        try:
            out = json.loads(str(await worker.reduce(item.file, item.key, item.maxBytes)))
        except Exception as exc:
            out = {"ok": False, "detail": "raised: " + str(exc)[-300:]}
        results.append({"ms": js.performance.now() - started, "result": out})
    js.window.pillowResults = json.dumps(results)


asyncio.create_task(_call())
"""

RUN = """([inputs, code]) => {
  window.pillowResults = undefined;
  window.pillowInputs = inputs.map(([name, type, b64, maxBytes], i) => {
    const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
    return {file: new File([bytes], name, {type}), key: "pillow-e2e-" + i, maxBytes};
  });
  const script = document.createElement("script");
  script.type = "mpy";
  script.textContent = code;
  document.body.append(script);
}"""


def _photo(width: int, height: int) -> bytes:
    """A camera-sized JPEG with detail enough to be large: gradients and a noise layer."""
    base = Image.linear_gradient("L").resize((width, height))
    noise = Image.effect_noise((width, height), 60)
    rgb = Image.merge("RGB", (base, noise, base.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=95)
    return out.getvalue()


def _ppm(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.effect_noise((width, height), 40).convert("RGB").save(out, "PPM")
    return out.getvalue()


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


def test_the_pillow_wheel_loads_lazily_in_the_worker_from_the_apps_origin(live_server, visit,
                                                                          make_participant):
    patient = make_participant(visit["patient_url"], "patient")
    patient.open()
    assert not [u for u in patient.requests if "/pyodide-" in u]  # not before a file needs it
    patient.page.evaluate(RUN, [[], START_WORKER])
    patient.page.wait_for_function("window.heavyStarted", timeout=120_000)
    time.sleep(1.5)  # the worker is ready and idle: Pillow must still not have been fetched
    wheels = [u for u in patient.requests if u.endswith(".whl") and "pillow" in u]
    assert wheels == [], "Pillow was fetched on the start-up path"

    photo = _photo(4032, 3024)
    assert len(photo) > 2_000_000
    tiny = _b64(_ppm(64, 48))
    inputs = [
        # The first call pays for Pillow's load; the same tiny call again shows what is left.
        ("tiny.ppm", "image/x-portable-pixmap", tiny, 600_000),
        ("tiny.ppm", "image/x-portable-pixmap", tiny, 600_000),
        ("photo.jpg", "image/jpeg", _b64(photo), 900_000),
        ("scan.ppm", "image/x-portable-pixmap", _b64(_ppm(2600, 1800)), 600_000),
    ]
    patient.page.evaluate(RUN, [inputs, CALL_WORKER])
    patient.page.wait_for_function("window.pillowResults !== undefined", timeout=120_000)
    runs = json.loads(patient.page.evaluate("window.pillowResults"))
    tiny_first, tiny_second, jpeg, ppm = (r["result"] for r in runs)

    # Only Pillow reads a PPM: the browser's decoder (the fallback) cannot.
    for tiny_result in (tiny_first, tiny_second):
        assert tiny_result["ok"] and (tiny_result["width"], tiny_result["height"]) == (64, 48)
    assert ppm["ok"], ppm
    assert ppm["mime"] == "image/jpeg" and ppm["size"] <= 600_000
    assert abs(ppm["width"] / ppm["height"] - 2600 / 1800) < 0.01
    # A 12 MP photo: decoded, scaled to fit (longest side >= 2048 px), encoded under the limit.
    assert jpeg["ok"], jpeg
    assert jpeg["size"] <= 900_000
    assert max(jpeg["width"], jpeg["height"]) >= 2048
    assert abs(jpeg["width"] / jpeg["height"] - 4032 / 3024) < 0.01

    origin = urlparse(patient.url)
    pillow = [u for u in patient.requests if "pillow" in u and u.endswith(".whl")]
    assert len(pillow) == 1, pillow
    fetched = urlparse(pillow[0])
    assert (fetched.scheme, fetched.netloc) == (origin.scheme, origin.netloc)
    assert fetched.path == PYODIDE_DIR + "pillow-12.2.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl"
    assert all(urlparse(u).netloc == origin.netloc for u in patient.requests if "://" in u
               and not u.startswith(("blob:", "data:")))
    # Pillow's load (fetch, wasm compile, import) is what the first call costs over the second.
    ms = [round(r["ms"]) for r in runs]
    print(f"pillow: load about {ms[0] - ms[1]} ms (tiny reduce {ms[0]} then {ms[1]} ms);"
          f" 12 MP JPEG reduce {ms[2]} ms; 2600x1800 PPM reduce {ms[3]} ms")
    assert patient.errors == []
