"""What is measured and how: the scripts that run in the page, and the network accounting.

Everything about time is measured in the page itself, on its own clock: performance.now(), whose
origin is the navigation start. The harness only reads the marks afterwards.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

# Selectors of the preview image on the three pages (Bifoga, the bare page, Uppy's Dashboard).
PREVIEW_IMAGES = "img.preview-image, img#bare-preview, img.uppy-Dashboard-Item-previewImg"
# Bifoga's "Ladda upp" button and its dialog.
BIFOGA_DIALOG = "#preview-dialog"
BIFOGA_UPLOAD_BUTTON = "#preview-dialog .dialog-actions button.primary"
LONG_TASK_MS = 50

# Registered with context.add_init_script, so it runs in every document before the page's own
# scripts: the long-task observer (buffered, so nothing before it is lost), a JS-heap sampler
# every 100 ms, and the marks of the file flow, all in performance.now() of the page.
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
  sampleHeap();
  setInterval(sampleHeap, 100);

  // The pick: the file input's change event, seen first (capture phase on document).
  document.addEventListener("change", (e) => {
    const t = e.target;
    if (t && t.type === "file" && t.files && t.files.length) {
      b.marks.pick = now();
      b.file = t.files[0];
    }
  }, true);
  // Bifoga: "Ladda upp" clicked, and the preview dialog closed (close does not bubble, but
  // capture listeners on document still see it).
  document.addEventListener("click", (e) => {
    const el = e.target && e.target.closest && e.target.closest(%(upload_button)s);
    if (el && !el.disabled && b.marks.uploadClick === undefined) b.marks.uploadClick = now();
  }, true);
  document.addEventListener("close", (e) => {
    if (e.target && e.target.matches && e.target.matches(%(dialog)s) &&
        b.marks.uploadClick !== undefined && b.marks.dialogClosed === undefined) {
      b.marks.dialogClosed = now();
    }
  }, true);

  // The preview: the image has loaded (naturalWidth > 0), then decoded (img.decode()).
  const watched = new WeakSet();
  const watchImage = (img) => {
    if (b.marks.pick === undefined || watched.has(img)) return;
    const loaded = () => {
      if (!(img.naturalWidth > 0) || b.marks.previewLoaded !== undefined) return;
      b.marks.previewLoaded = now();
      b.marks.previewWidth = img.naturalWidth;
      img.decode().then(
        () => { if (b.marks.previewDecoded === undefined) b.marks.previewDecoded = now(); },
        (err) => { b.errors.push("decode: " + err); });
    };
    if (!img.getAttribute("src")) return;  // the bare page's <img> waits for its src
    watched.add(img);
    if (img.complete && img.naturalWidth > 0) loaded();
    else img.addEventListener("load", loaded);
  };
  // Bifoga: the check is done when "Ladda upp" becomes enabled after the pick.
  const checkButton = () => {
    if (b.marks.pick === undefined || b.marks.checked !== undefined) return;
    const button = document.querySelector(%(upload_button)s);
    if (button && !button.disabled) b.marks.checked = now();
  };
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === "attributes") {
        if (r.attributeName === "src" && r.target.matches(%(images)s)) watchImage(r.target);
        if (r.attributeName === "disabled") checkButton();
      } else {
        for (const node of r.addedNodes) {
          if (node.nodeType !== 1) continue;
          if (node.matches(%(images)s)) watchImage(node);
          for (const img of node.querySelectorAll(%(images)s)) watchImage(img);
        }
      }
    }
  }).observe(document, { subtree: true, childList: true, attributes: true,
                         attributeFilter: ["src", "disabled"] });
})();
""" % {"images": repr(PREVIEW_IMAGES), "upload_button": repr(BIFOGA_UPLOAD_BUTTON),
       "dialog": repr(BIFOGA_DIALOG)}

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
    bifogaReady: window.bifogaReady ?? null,
    bifogaWorkerReady: window.bifogaWorkerReady ?? null,
    benchUsable: window.benchUsable ?? null,
    uppy: window.benchMarks || null,
  };
}"""

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


def peak(samples: list, start: float | None = None, end: float | None = None) -> int | None:
    values = [v for t, v in samples
              if (start is None or t >= start) and (end is None or t <= end)]
    return max(values, default=None)
