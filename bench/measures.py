"""What is measured and how: the scripts that run in the page, and the network accounting.

Everything about time is measured in the page itself, on its own clock: performance.now(), whose
origin is the navigation start. The harness only reads the marks afterwards.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

# Selectors of the preview image on the three pages (Bifoga, the bare page, Uppy's Dashboard).
PREVIEW_IMAGES = "img.preview-image, img#bare-preview, img.uppy-Dashboard-Item-previewImg"
# Bifoga's native file input (index.html: over the paperclip's face, works at first paint).
BIFOGA_FILE_INPUT = "#attachment-input"
# Bifoga's "Ladda upp" button and its dialog.
BIFOGA_DIALOG = "#preview-dialog"
BIFOGA_UPLOAD_BUTTON = "#preview-dialog .dialog-actions button.primary"
# A preview item whose full check in the worker (metadata removal, active content) is done.
BIFOGA_VERIFIED_ITEM = 'li.preview-item[data-verified="true"]'
# "The file can be sent": Bifoga's "Ladda upp", or Uppy's upload button (there as soon as the
# file is added).
UPLOAD_BUTTONS = BIFOGA_UPLOAD_BUTTON + ", .uppy-StatusBar-actionBtn--upload"
LONG_TASK_MS = 50

# Registered with context.add_init_script, so it runs in every document before the page's own
# scripts: the long-task observer (buffered, so nothing before it is lost), a JS-heap sampler
# every 100 ms (not at once), and the marks of the file flow, all in performance.now() of the page:
#   mouseDown, mouseDownHandled   the first mousedown: its timeStamp, and when the page got to it
#   chooserClick  the click on a file input, as the page handles it (the chooser opens)
#   pick          the file input's change event
#   previewLoaded, previewDecoded, previewPainted   the preview <img>
#   checked       the upload button enabled after the pick (Bifoga: "Ladda upp"; Uppy: there)
#   verified      Bifoga: the first preview item marked data-verified="true" after the pick
#   uploadClick   a click on the upload button; dialogClosed: Bifoga's dialog closed after it
# With at_once_script() registered first, the page itself clicks the upload button as soon as
# it is enabled (no round trip through Playwright in the measured time).
INIT_SCRIPT = """
(() => {
  if (window.__bench) return;
  const now = () => performance.now();
  const b = (window.__bench = { longtasks: [], heap: [], marks: {}, file: null, errors: [] });
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) b.longtasks.push([e.startTime, e.duration]);
    }).observe({ type: "longtask", buffered: true });
  } catch (e) { b.errors.push("longtask observer: " + e); }
  const sampleHeap = () => {
    const m = performance.memory;
    if (m) b.heap.push([now(), m.usedJSHeapSize]);
  };
  // Not in the at-once runs, which report no heap: reading performance.memory costs the main
  // thread (the profiles show it).
  if (!window.__benchAutoUpload) {
    sampleHeap();
    setInterval(sampleHeap, 100);
  }

  // The pick: the file input's change event, seen first (capture phase on document).
  document.addEventListener("change", (e) => {
    const t = e.target;
    if (t && t.type === "file" && t.files && t.files.length) {
      b.marks.pick = now();
      b.file = t.files[0];
    }
  }, true);
  // The bench's click on the picker: when the browser made the mousedown (its timeStamp) and
  // when the page's main thread got to it (the difference is the input delay).
  document.addEventListener("mousedown", (e) => {
    if (b.marks.mouseDown !== undefined) return;
    b.marks.mouseDown = e.timeStamp;
    b.marks.mouseDownHandled = now();
  }, true);
  // The click that opens a file chooser (a file input's activation), as the page handles it:
  // between it and the pick, the chooser is answered and the change event waits its turn.
  document.addEventListener("click", (e) => {
    const t = e.target;
    if (t && t.type === "file" && b.marks.chooserClick === undefined) b.marks.chooserClick = now();
  }, true);
  // Bifoga: "Ladda upp" clicked, and the preview dialog closed (close does not bubble, but
  // capture listeners on document still see it).
  document.addEventListener("click", (e) => {
    const el = e.target && e.target.closest && e.target.closest(%(upload_buttons)s);
    if (el && !el.disabled && b.marks.uploadClick === undefined) b.marks.uploadClick = now();
  }, true);
  document.addEventListener("close", (e) => {
    if (e.target && e.target.matches && e.target.matches(%(dialog)s) &&
        b.marks.uploadClick !== undefined && b.marks.dialogClosed === undefined) {
      b.marks.dialogClosed = now();
    }
  }, true);

  // The preview is shown when the browser first paints it: Element Timing's renderTime for the
  // preview <img>, which the observer below tags with elementtiming before it can be painted.
  // Also kept: when it loaded (naturalWidth > 0) and when img.decode() resolved.
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if (e.identifier !== "bench-preview" || b.marks.previewPainted !== undefined) continue;
        b.marks.previewPainted = e.renderTime || e.loadTime;
      }
    }).observe({ type: "element", buffered: true });
  } catch (e) { b.errors.push("element timing observer: " + e); }
  const watched = new WeakSet();
  const watchImage = (img) => {
    if (b.marks.pick === undefined || watched.has(img)) return;
    img.setAttribute("elementtiming", "bench-preview");
    const loaded = () => {
      if (!(img.naturalWidth > 0) || b.marks.previewLoaded !== undefined) return;
      b.marks.previewLoaded = now();
      b.marks.previewWidth = img.naturalWidth;
      // decode() rejects when the page swaps the src meanwhile (Uppy does): then null.
      img.decode().then(
        () => { if (b.marks.previewDecoded === undefined) b.marks.previewDecoded = now(); },
        (err) => {
          b.errors.push("decode: " + err);
          if (b.marks.previewDecoded === undefined) b.marks.previewDecoded = null;
        });
    };
    if (!img.getAttribute("src")) return;  // the bare page's <img> waits for its src
    watched.add(img);
    if (img.complete && img.naturalWidth > 0) loaded();
    else img.addEventListener("load", loaded);
  };
  // Bifoga: the check is done when "Ladda upp" becomes enabled after the pick (Uppy: its
  // upload button is there).
  // With window.__benchAutoUpload, the button is clicked once it is enabled: in a task of its
  // own, so that the page finishes the update that enabled it first.
  let clickQueued = false;
  const autoUpload = () => {
    if (!window.__benchAutoUpload || clickQueued || b.marks.uploadClick !== undefined) return;
    clickQueued = true;
    setTimeout(() => {
      const button = document.querySelector(%(upload_buttons)s);
      if (button && !button.disabled) button.click();
      else clickQueued = false;  // disabled again meanwhile: the next change retries
    }, 0);
  };
  const checkButton = () => {
    if (b.marks.pick === undefined || b.marks.uploadClick !== undefined) return;
    if (b.marks.checked !== undefined && !window.__benchAutoUpload) return;
    const button = document.querySelector(%(upload_buttons)s);
    if (!button || button.disabled) return;
    if (b.marks.checked === undefined) b.marks.checked = now();
    autoUpload();
  };
  // Bifoga: the worker's full check of a file is done (metadata removed, active content
  // checked) when its preview item carries data-verified="true".
  const checkVerified = () => {
    if (b.marks.pick === undefined || b.marks.verified !== undefined) return;
    if (document.querySelector(%(verified)s)) b.marks.verified = now();
  };
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === "attributes") {
        if (r.attributeName === "src" && r.target.matches(%(images)s)) watchImage(r.target);
        if (r.attributeName === "disabled") checkButton();
        if (r.attributeName === "data-verified") checkVerified();
      } else {
        if (r.addedNodes.length) { checkButton(); checkVerified(); }
        for (const node of r.addedNodes) {
          if (node.nodeType !== 1) continue;
          if (node.matches(%(images)s)) watchImage(node);
          for (const img of node.querySelectorAll(%(images)s)) watchImage(img);
        }
      }
    }
  }).observe(document, { subtree: true, childList: true, attributes: true,
                         attributeFilter: ["src", "disabled", "data-verified"] });
})();
""" % {"images": repr(PREVIEW_IMAGES), "upload_buttons": repr(UPLOAD_BUTTONS),
       "dialog": repr(BIFOGA_DIALOG), "verified": repr(BIFOGA_VERIFIED_ITEM)}

# At once: the page says on the console the moment its usable mark is set, with where the
# picker's centre is, so the bench's mouse clicks there at once: no polling of the page and no
# actionability checks, which a busy main thread would answer late (the click then waits in the
# page's input queue, as a user's would). It notes whether the mousedown hit the picker, and
# presses its upload button itself as soon as it is enabled (INIT_SCRIPT).
USABLE_SIGNAL = "bench:usable"


def at_once_script(picker: str) -> str:
    return """
(() => {
  window.__benchAutoUpload = true;
  const picker = %(picker)s;
  for (const name of ["bifogaUsable", "benchUsable"]) {
    let value;
    Object.defineProperty(window, name, { configurable: true, get: () => value, set: (v) => {
      value = v;
      const el = document.querySelector(picker);
      const box = el && el.getBoundingClientRect();
      console.debug(box && box.width > 0
        ? `%(signal)s ${box.x + box.width / 2} ${box.y + box.height / 2}` : "%(signal)s");
    } });
  }
  document.addEventListener("mousedown", (e) => {
    const marks = window.__bench && window.__bench.marks;
    if (marks && marks.mouseDownHit === undefined) {
      marks.mouseDownHit = !!(e.target && e.target.closest && e.target.closest(picker));
    }
  }, true);
})();
""" % {"picker": json.dumps(picker), "signal": USABLE_SIGNAL}

# Everything the page recorded, read once at the end of a run.
COLLECT_JS = """() => {
  const b = window.__bench || {};
  return {
    timeOrigin: performance.timeOrigin,
    now: performance.now(),
    marks: b.marks || {},
    longtasks: b.longtasks || [],
    heap: b.heap || [],
    errors: b.errors || [],
    bifogaUsable: window.bifogaUsable ?? null,
    bifogaReady: window.bifogaReady ?? null,
    bifogaWorkerReady: window.bifogaLightReady ?? null,
    benchUsable: window.benchUsable ?? null,
    uppy: window.benchMarks || null,
  };
}"""

# The resource-timing view of the same loads, as a cross-check of the CDP byte counts: run in the
# page and in each of its workers. transferSize is the encoded body + about 300 bytes of headers,
# 0 when served from the cache; responseEnd is in the caller's own performance.now().
RESOURCES_JS = """() => ({
  timeOrigin: performance.timeOrigin,
  now: performance.now(),
  entries: performance.getEntriesByType("navigation").concat(
    performance.getEntriesByType("resource")).map(
      (e) => [e.name, e.transferSize, e.encodedBodySize, e.responseEnd, e.startTime]),
})"""

# The worker's own view of its start, run in each worker: its marks (worker.py sets
# bifoga:worker-start, -imported, -ready) and resource timing, on the worker's clock.
WORKER_STEPS_JS = """() => ({
  timeOrigin: performance.timeOrigin,
  marks: Object.fromEntries(performance.getEntriesByType("mark").map((m) => [m.name, m.startTime])),
  entries: performance.getEntriesByType("resource").map(
    (e) => [e.name.split("?")[0].split("/").pop(), e.startTime, e.responseEnd]),
})"""

# (key, label): the steps of the worker's start, in the order they happen.
WORKER_STEPS = [
    ("created", "worker created (PyScript's worker script runs)"),
    ("runtime_fetched", "Pyodide's wasm, stdlib and memory snapshot downloaded"),
    ("interpreter_ready", "interpreter started (compile, snapshot restored, lock's wheels)"),
    ("files_fetched", "worker's modules fetched (static/build/worker.zip)"),
    ("python_start", "worker.py starts (files unpacked)"),
    ("imported", "worker.py's imports done"),
    ("ready", "ready (main thread told)"),
]


def worker_steps(snapshot: dict, time_origin: float, ready: float | None) -> dict:
    """When each step of the worker's start ended, in the page's performance.now()."""
    shift = snapshot["timeOrigin"] - time_origin
    ends = {name: end + shift for name, _start, end in snapshot["entries"]}
    starts = {name: start + shift for name, start, _end in snapshot["entries"]}
    marks = {name: t + shift for name, t in snapshot["marks"].items()}
    runtime = [ends[n] for n in ("pyodide.asm.wasm", "python_stdlib.zip", "snapshot.bin")
               if n in ends]
    return {
        "created": shift,
        "runtime_fetched": max(runtime) if runtime else None,
        # PyScript fetches the [files] as soon as loadPyodide has returned.
        "interpreter_ready": starts.get("worker.zip"),
        "files_fetched": ends.get("worker.zip"),
        "python_start": marks.get("bifoga:worker-start"),
        "imported": marks.get("bifoga:worker-imported"),
        "ready": ready,
    }


# The practical limit of an upload: the same File, to the same server, in one bare fetch().
# The server has no plain PUT sink, so the bytes go through its real tus endpoint: a creation
# POST, then ONE fetch PATCH whose body is the picked File. Both are timed; the PATCH alone is
# "the bare fetch of the same bytes".
BARE_FETCH_JS = """async ([visit, token]) => {
  const file = window.__bench.file;
  const base = location.origin + "/api/visits/" + encodeURIComponent(visit) + "/uploads";
  const auth = { "Authorization": "Bearer " + token, "Tus-Resumable": "1.0.0" };
  const t0 = performance.now();
  const created = await fetch(base, { method: "POST", headers: { ...auth,
    "Upload-Length": String(file.size),
    "Upload-Metadata": "filename " + btoa("bare.jpg") + ",filetype " + btoa("image/jpeg") } });
  if (created.status !== 201) return { error: "creation answered " + created.status };
  const url = new URL(created.headers.get("Location"), location.origin).href;
  const t1 = performance.now();
  const patched = await fetch(url, { method: "PATCH", body: file, headers: { ...auth,
    "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0" } });
  const t2 = performance.now();
  return { status: patched.status, offset: Number(patched.headers.get("Upload-Offset")),
           bytes: file.size, start: t0, create_ms: t1 - t0, patch_ms: t2 - t1,
           total_ms: t2 - t0 };
}"""


# --- network ------------------------------------------------------------------------------------
@dataclass
class Transfer:
    url: str
    bytes: int  # encodedDataLength of Network.loadingFinished: headers + body as received
    body: int  # the body part of it (compressed as sent)
    status: int
    start: float  # epoch ms, from the request's wallTime
    end: float  # epoch ms when the last byte arrived


class NetLog:
    """Every finished request of a browser context, pages AND workers.

    Playwright auto-attaches to dedicated workers over CDP (Target.setAutoAttach, flatten) and
    enables Network there, so its `requestfinished` events cover the Pyodide worker's requests,
    which a CDP session of the page alone does not see. request.sizes() is
    Network.loadingFinished.encodedDataLength (split into headers and body); request.timing gives
    the request's wall-clock start and when its last byte arrived.
    """

    def __init__(self, context) -> None:
        self._finished: list = []
        self._last = time.monotonic()
        context.on("requestfinished", self._on_finished)

    def _on_finished(self, request) -> None:
        self._finished.append(request)
        self._last = time.monotonic()

    @property
    def count(self) -> int:
        return len(self._finished)

    def settle(self, page, quiet_ms: int = 500, max_ms: int = 5000) -> None:
        """Wait until no request has finished for quiet_ms (long polls never finish)."""
        deadline = time.monotonic() + max_ms / 1000
        self._last = time.monotonic()
        while time.monotonic() < deadline:
            page.wait_for_timeout(100)
            if time.monotonic() - self._last >= quiet_ms / 1000:
                return

    def transfers(self, first: int = 0, last: int | None = None,
                  since_epoch_ms: float = 0.0) -> list[Transfer]:
        """Network transfers among finished requests [first:last] that started after the
        navigation (blob:/data: URLs are not network and are left out)."""
        out = []
        for request in self._finished[first:last]:
            if not request.url.startswith(("http://", "https://")):
                continue
            timing = request.timing
            start = float(timing["startTime"])
            if start < since_epoch_ms - 5:
                continue
            sizes = request.sizes()
            headers, body = sizes["responseHeadersSize"], sizes["responseBodySize"]
            response = request.response()
            end = start + (timing["responseEnd"] if timing["responseEnd"] >= 0 else 0)
            out.append(Transfer(request.url, max(0, headers + body), max(0, body),
                                response.status if response else 0, start, end))
        return out


# --- phases ------------------------------------------------------------------------------------
def longest_task(longtasks: list, start: float | None, end: float | None) -> float | None:
    """The longest main-thread long task (> 50 ms) overlapping [start, end], 0 when none."""
    if start is None or end is None:
        return None
    overlapping = [d for s, d in longtasks if s < end and s + d > start]
    return max(overlapping, default=0.0)


def resource_bytes(snapshots: list[dict], time_origin: float, until: float | None) -> dict:
    """Sum resource timing over the page and its workers, entries ending by `until` (page ms)."""
    total = count = 0
    for snap in snapshots:
        shift = snap["timeOrigin"] - time_origin  # the worker's clock started later
        for name, transfer, _body, end, _start in snap["entries"]:
            if not name.startswith(("http://", "https://")):
                continue
            if until is not None and end + shift > until:
                continue
            total += transfer
            count += 1
    return {"bytes": total, "requests": count}


def finish_times(transfers: list[Transfer], snapshots: list[dict],
                 time_origin: float) -> list[float]:
    """When each transfer finished, in the page's performance.now().

    CDP's loadingFinished reaches the browser process some milliseconds after the renderer got
    the last byte (up to ~40 ms on a loaded machine), and its wall clock is not the page's. So a
    transfer takes the responseEnd of its resource-timing entry (page or worker, shifted to the
    page's clock), matched by URL and order; without one, the CDP time.
    """
    timed: dict[str, list[tuple[float, float]]] = {}
    for snap in snapshots:
        shift = snap["timeOrigin"] - time_origin
        for name, _transfer, _body, end, start in snap["entries"]:
            timed.setdefault(name.split("#")[0], []).append((start + shift, end + shift))
    by_url: dict[str, list[int]] = {}
    for i, t in enumerate(transfers):
        by_url.setdefault(t.url.split("#")[0], []).append(i)
    ends = [t.end - time_origin for t in transfers]
    for url, indexes in by_url.items():
        entries = sorted(timed.get(url, []))
        if len(entries) == len(indexes):  # same count: pair them in the order they started
            for i, (_start, end) in zip(sorted(indexes, key=lambda i: transfers[i].start),
                                        entries, strict=True):
                ends[i] = end
    return ends


def peak(samples: list, start: float | None = None, end: float | None = None) -> int | None:
    values = [v for t, v in samples
              if (start is None or t >= start) and (end is None or t <= end)]
    return max(values, default=None)

# Where Bifoga's worker spent its time on the last photo and upload: the app records these as
# performance measures on the page's timeline (adapters/worker_client.py).
BIFOGA_WORKER_MEASURES_JS = """() => {
  const last = (name) => {
    const entries = performance.getEntriesByName(name, "measure");
    return entries.length ? Math.round(entries[entries.length - 1].duration * 10) / 10 : null;
  };
  return {transfer_ms: last("bifoga:upload-transfer"), finalise_ms: last("bifoga:upload-finalise"),
          worker_processing_ms: last("bifoga:worker-processing")};
}"""
