"""The shaped-network pass: Bifoga on a phone's link, next to a bare page that uploads the same
bytes over the same link (the physical limit).

CPython only. Chromium reaches the app server only through `bench.shaping.ShapingProxy` (a
reverse proxy: the browser is pointed at the proxy's origin, so the page and its workers share
one link). Per network profile and run: Bifoga cold (a new browser context: empty cache), then
Bifoga warm (the same context, its HTTP cache kept, a new visit in a new tab), and the bare
page cold. The CPU is throttled 4 × (DevTools' Emulation.setCPUThrottlingRate). The photo is
picked the moment the paperclip works, and the upload button pressed the moment it is enabled
(measures.at_once_script); a run ends when the photo is in the chat (Bifoga: the preview dialog
closed after the round; bare: its tus PATCH answered).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

from bench import harness, measures
from bench.shaping import PROFILES, ShapingProxy

PHOTO_BYTES = 3_000_000  # a phone JPEG of 3.0 MB with GPS
THROTTLE = 4.0  # a mid-range phone
STATES = ("cold", "warm")
RUNS = 3
FLOW_TIMEOUT_MS = 420_000  # slow 4G, cold, a HEIC: Pyodide's download and the conversion
# What the pass can pick: the light path's phone JPEG (the targets), and a phone's HEIC, which
# takes the heavy path (Pyodide with Pillow and libheif-js converts it to JPEG).
MEDIA = {"photo": "a 3.0 MB 4000×3000 phone JPEG with EXIF GPS (the light path)",
         "heic": "a 12 MP (4000×3000) iPhone-like HEIC with EXIF GPS (the heavy path: converted "
                 "to JPEG in the Pyodide worker)",
         "big": "a 12,000,000-byte 4000×3000 phone JPEG with EXIF GPS, over the 10 MB limit (the "
                "heavy path: \"Minska storlek\" reduces it in the Pyodide worker)"}
# The server refuses a file over its limit, so the bare page cannot send the oversized photo.
BIFOGA_ONLY = frozenset({"big"})
BIG_BYTES = 12_000_000

# The oversized photo: "Minska storlek" pressed the moment it is shown and enabled, in a task of
# its own as the upload button is (measures.INIT_SCRIPT presses "Ladda upp" once it is enabled,
# after the reduction).
REDUCE_BUTTON = "li.preview-item button.reduce-button"
AUTO_REDUCE_SCRIPT = """
(() => {
  let queued = false;
  const press = () => {
    const b = window.__bench;
    if (!b || queued || b.marks.reduceClick !== undefined) return;
    const button = document.querySelector(%(button)s);
    if (!button || button.hidden || button.disabled) return;
    queued = true;
    setTimeout(() => {
      if (button.hidden || button.disabled) { queued = false; return; }
      b.marks.reduceClick = performance.now();
      button.click();
    }, 0);
  };
  new MutationObserver(press).observe(document, { subtree: true, childList: true,
    attributes: true, attributeFilter: ["hidden", "disabled"] });
})();
""" % {"button": repr(REDUCE_BUTTON)}
# Pyodide's files: its vendored runtime, and the worker's memory snapshot of it (built by
# scripts/bundle_app.py into static/build/).
PYODIDE_PREFIXES = ("/static/vendor/pyodide-", "/static/build/worker-snapshot")
KiB, MiB = 1024, 1024 * 1024

# The bare page, shaped: the moment a file is picked it is sent as the cold runs' bare fetch
# does (a tus creation POST, then ONE fetch() PATCH of the File), to the visit in the URL's
# fragment. Registered after measures.INIT_SCRIPT, whose change listener keeps the File first.
BARE_AUTO_UPLOAD_SCRIPT = """
(() => {
  const send = %(fetch)s;
  document.addEventListener("change", (e) => {
    const t = e.target;
    if (!t || t.type !== "file" || !t.files || !t.files.length) return;
    const marks = window.__bench.marks;
    if (marks.bareStart !== undefined) return;
    marks.bareStart = performance.now();
    const params = new URLSearchParams(location.hash.slice(1));
    send([params.get("visit"), params.get("token")]).then((r) => {
      if (r.error || r.status !== 204) marks.bareError = JSON.stringify(r);
      else marks.bareDone = performance.now();
    }, (err) => { marks.bareError = String(err); });
  }, true);
})();
""" % {"fetch": measures.BARE_FETCH_JS}

DONE_JS = {
    "bifoga": "window.__bench.marks.checked !== undefined"
              " && window.__bench.marks.dialogClosed !== undefined",
    "bare": "window.__bench.marks.bareDone !== undefined"
            " || window.__bench.marks.bareError !== undefined",
}


def _fragment(visit: dict) -> str:
    return visit["patient_url"].partition("#")[2]


def page_url(kind: str, origin: str, visit: dict) -> str:
    """The visit's page at the proxy's origin (the server's links name its own)."""
    if kind == "bare":
        return f"{origin}/static/bench/bare.html#{_fragment(visit)}"
    return f"{origin}/#{_fragment(visit)}"


def reset_peak_rss(pids: set[int]) -> None:
    """Reset the kernel's peak resident set (VmHWM) of `pids` to their current RSS, so that a
    renderer kept from an earlier run reports this run's peak."""
    for pid in pids:
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        except OSError:
            continue


def pyodide_files(by_path: dict[str, int] | None, not_modified: list[str] = ()) -> list[str]:
    """The Pyodide files downloaded (a 304's revalidation is not a download)."""
    return sorted(path for path in by_path or {}
                  if path.startswith(PYODIDE_PREFIXES) and path not in not_modified)


class ShapedBench:
    """One Chromium and one proxy in front of the server for the whole pass."""

    def __init__(self, bench: harness.Bench, server: harness.Server, proxy: ShapingProxy) -> None:
        self.bench = bench
        self.server = server
        self.proxy = proxy

    def context(self, kind: str, medium: str = "photo"):
        context = self.bench.browser.new_context()  # a new profile: empty HTTP cache, no storage
        context.add_init_script(measures.at_once_script(harness.KINDS[kind].picker))
        context.add_init_script(measures.INIT_SCRIPT)
        if kind == "bare":
            context.add_init_script(BARE_AUTO_UPLOAD_SCRIPT)
        elif medium == "big":
            context.add_init_script(AUTO_REDUCE_SCRIPT)
        return context

    def run(self, context, kind: str, photo: Path) -> dict:
        """One visit in a new tab of `context`: pick at usable, upload when enabled, until the
        photo is in the chat. Every earlier connection is closed first (a visit days later)."""
        # Every renderer's peak starts here: one kept from an earlier tab (Chromium's spare
        # renderer, which a new tab may take) reports this run's peak.
        reset_peak_rss(harness.renderer_pids())
        page = context.new_page()
        session = context.new_cdp_session(page)
        session.send("Emulation.setCPUThrottlingRate", {"rate": THROTTLE})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)[:300]))
        page.on("console", lambda m: errors.append(f"console {m.type}: {m.text[:300]}")
                if m.type == "error" else None)
        page.on("filechooser", lambda chooser: chooser.set_files(str(photo)))
        visit = self.server.new_visit()
        self.proxy.drop()
        self.proxy.reset()
        try:
            harness.click_picker_when_usable(page, harness.KINDS[kind],
                                             page_url(kind, self.proxy.origin, visit), errors)
            try:
                harness._wait_for(page, DONE_JS[kind], timeout=FLOW_TIMEOUT_MS)
            except Exception as exc:
                raise RuntimeError(f"{kind}: not in the chat: {harness._page_state(page)}") from exc
            data = page.evaluate(measures.COLLECT_JS)
            marks = data["marks"]
            if marks.get("bareError"):
                raise RuntimeError(f"bare upload failed: {marks['bareError']}")
            # The largest peak among the renderers alive now: the tab's (an earlier tab's
            # renderer has exited by now; the spare one is small).
            peaks = sorted(filter(None, (harness.peak_rss({pid})
                                         for pid in harness.renderer_pids())), reverse=True)
            link = self.proxy.snapshot()
        finally:
            page.close()
        before = link["down_before_upload_by_path"]
        return {
            "usable_ms": data["bifogaUsable"] if kind == "bifoga" else data["benchUsable"],
            "pick_ms": marks.get("pick"),
            "checked_ms": marks.get("checked"),
            "upload_click_ms": marks.get("uploadClick", marks.get("bareStart")),
            "reduce_click_ms": marks.get("reduceClick"),
            "in_chat_ms": marks.get("dialogClosed" if kind == "bifoga" else "bareDone"),
            "worker_ready_ms": data["bifogaWorkerReady"],
            "down_before_upload": link["down_before_upload"],
            "pyodide_before_upload": pyodide_files(before,
                                                   link["not_modified_before_upload"] or ()),
            "not_modified_before_upload": link["not_modified_before_upload"],
            "before_upload_files": dict(sorted((before or {}).items(), key=lambda i: -i[1])),
            "down_bytes": link["down_bytes"],
            "up_bytes": link["up_bytes"],
            # When the first upload byte reached the link, from just before the navigation.
            "first_upload_ms": (link["first_upload_s"] * 1000
                                if link["first_upload_s"] is not None else None),
            "requests": link["requests"],
            "renderer_peak_rss": peaks[0] if peaks else None,
            "renderer_peaks": peaks,  # every renderer's, largest first: the cross-check
            "page_errors": errors[:5],
        }


def run(files: dict[str, Path], networks: list[str], states: list[str], runs: int,
        log: Callable[[str], None]) -> dict:
    """The shaped pass, per medium picked (`files`: {"photo"|"heic": path}):
    {"media": {medium: {"networks": {network: {"bifoga_cold"|"bifoga_warm"|"bare": [run]}}}}}."""
    server = harness.Server()
    server.start()
    harness.stage_pages()
    proxy = ShapingProxy(server.port).start()
    out: dict = {"media": {}, "browser": ""}
    try:
        with harness.Bench(server, next(iter(files.values()))) as bench:
            out["browser"] = bench.version
            shaped = ShapedBench(bench, server, proxy)
            for medium, path in files.items():
                networks_out = out["media"][medium] = {"networks": {}}
                for key in networks:
                    profile = PROFILES[key]
                    proxy.set_profile(profile)
                    series = networks_out["networks"][key] = {
                        "bifoga_cold": [], "bifoga_warm": [], "bare": []}
                    for i in range(runs):
                        kinds = ("bifoga", "bare") if i % 2 == 0 else ("bare", "bifoga")
                        for kind in kinds:
                            if kind == "bare" and medium in BIFOGA_ONLY:
                                continue
                            _one(shaped, kind, medium, states, path, series,
                                 f"{medium} {profile.name} {i + 1}/{runs}", log)
    finally:
        proxy.stop()
        harness.unstage_pages()
        server.stop()
    return out


def parse_media(text: str) -> list[str]:
    """`--media`: comma-separated names of MEDIA, in order, each once."""
    media = list(dict.fromkeys(m.strip().lower() for m in text.split(",") if m.strip()))
    if not media or not set(media) <= set(MEDIA):
        raise ValueError(f"--media: choose from {', '.join(MEDIA)}")
    return media


def _one(shaped: ShapedBench, kind: str, medium: str, states: list[str], photo: Path,
         series: dict, label: str, log: Callable[[str], None]) -> None:
    context = shaped.context(kind, medium)
    try:
        wanted = [("bare", "cold")] if kind == "bare" else [("bifoga_" + s, s) for s in STATES
                                                             if s in states]
        for name, state in wanted:
            started = time.monotonic()
            try:
                result = shaped.run(context, kind, photo)
                said = _said(result)
            except Exception as exc:  # noqa: BLE001 - one failed run is reported, not fatal
                result, said = {"error": str(exc)[:1000]}, "FAILED: " + str(exc)[:300]
            series[name].append(result)
            log(f"shaped {label} {kind} {state}: {said} ({time.monotonic() - started:.1f} s)")
            if "error" in result:
                break  # a warm run needs the cold one's cache
    finally:
        context.close()


def _said(result: dict) -> str:
    parts = [f"{label} {result[key]:.0f} ms" for key, label in (
        ("usable_ms", "usable"), ("checked_ms", "enabled"), ("in_chat_ms", "in the chat"))
        if result.get(key) is not None]
    if result.get("down_before_upload") is not None:
        parts.append(f"{result['down_before_upload'] / KiB:.0f} KiB down before the first "
                     "upload byte" + (" (Pyodide among them)"
                                      if result["pyodide_before_upload"] else ""))
    if result.get("renderer_peak_rss"):
        parts.append(f"renderer peak {result['renderer_peak_rss'] / MiB:.0f} MiB")
    return ", ".join(parts)


# --- summary, targets, table -----------------------------------------------------------------
SERIES = ("bifoga_cold", "bifoga_warm", "bare")
KEYS = ("in_chat_ms", "usable_ms", "checked_ms", "upload_click_ms", "reduce_click_ms",
        "first_upload_ms",
        "down_before_upload",
        "down_bytes", "renderer_peak_rss")


def _median(runs: list[dict], key: str):
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def summarise(result: dict) -> dict:
    out = {}
    for key, series in result["networks"].items():
        out[key] = {name: {k: _median(runs, k) for k in KEYS} | {
            "n": sum(1 for r in runs if "error" not in r),
            "pyodide_before_upload": sorted({f for r in runs
                                             for f in r.get("pyodide_before_upload", [])})}
            for name, runs in series.items()}
    return out


def targets(summary: dict) -> list[dict]:
    """The targets, as ratios on medians; pass None when a number is missing."""
    rows = []
    for key, s in summary.items():
        name = PROFILES[key].name
        cold, bare = s["bifoga_cold"], s["bare"]
        chat, limit = cold["in_chat_ms"], bare["in_chat_ms"]
        ratio = chat / limit if chat is not None and limit else None
        rows.append({"target": f"{name}, cold: photo in the chat", "value": _ratio(ratio)
                     + " × bare", "goal": "≤ 1.15 × bare",
                     "pass": None if ratio is None else ratio <= 1.15})
        down = cold["down_before_upload"]
        pyodide = cold["pyodide_before_upload"]
        rows.append({"target": f"{name}, cold: downloaded before the first upload byte",
                     "value": (_fmt(down, "bytes") + f" = {down / (600 * KiB):.2f} × 600 KiB"
                               if down is not None else "–")
                     + ("; Pyodide: " + ", ".join(pyodide) if pyodide else "; no Pyodide file"),
                     "goal": "≤ 600 KiB, no Pyodide file",
                     "pass": None if down is None else down <= 600 * KiB and not pyodide})
        mem, mem_bare = cold["renderer_peak_rss"], bare["renderer_peak_rss"]
        rows.append({"target": f"{name}, cold: peak renderer memory",
                     "value": (f"{_fmt(mem, 'bytes')} = bare + {_fmt(mem - mem_bare, 'bytes')}"
                               f" ({(mem - mem_bare) / (100 * MiB):.2f} × 100 MiB)"
                               if mem is not None and mem_bare is not None else "–"),
                     "goal": "≤ bare + 100 MiB",
                     "pass": None if mem is None or mem_bare is None
                     else mem - mem_bare <= 100 * MiB})
    return rows


def _ratio(value) -> str:
    return "–" if value is None else f"{value:.2f}"


def _signed(value, unit: str) -> str:
    """A difference to the bare page, with its sign."""
    return ("−" if value < 0 else "+") + _fmt(abs(value), unit)


def _fmt(value, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "ms":
        return f"{value / 1000:.1f} s"
    if value >= MiB:
        return f"{value / MiB:.1f} MiB"
    return f"{value / KiB:.0f} KiB"


def markdown(report: dict) -> str:
    meta, summary = report["meta"], report["summary"]
    lines = [
        "## Shaped network (a phone's link through a proxy, CPU 4 ×)", "",
        f"{meta['runs']} run(s) per page and network, medians; photo {meta['photo_bytes']:,} "
        f"bytes (4000×3000 JPEG, EXIF GPS) picked the moment the paperclip works, the upload "
        f"pressed the moment it is enabled; Chromium {meta['browser']}; load average "
        f"{meta['loadavg_before'][0]} before, {meta['loadavg_after'][0]} after; "
        f"{meta['seconds']:.0f} s.", "",
    ] + TABLE_HEAD
    for key, s in summary.items():
        _network_rows(lines, PROFILES[key].name, s, "photo")
    lines += ["", "| target | value | goal | result |", "| --- | --- | --- | --- |"]
    for t in report["targets"]:
        result = {True: "pass", False: "FAIL", None: "n/a"}[t["pass"]]
        lines.append(f"| {t['target']} | {t['value']} | {t['goal']} | {result} |")
    for medium, heavy in report.get("heavy", {}).items():
        lines += [""] + heavy_markdown(medium, heavy, meta)
    first = _first_cold(report)
    if first:
        lines += ["", "What Bifoga's first cold run downloaded before its first upload byte "
                  "(headers included):", "", "| path | bytes |", "| --- | --- |"]
        lines += [f"| {path} | {_fmt(size, 'bytes')} |" for path, size in first.items()]
    if meta.get("failures"):
        lines += ["", "Failed runs (left out of the numbers):"]
        lines += [f"- {failure}" for failure in meta["failures"]]
    lines += ["", "Notes:"] + [f"- {note}" for note in NOTES]
    return "\n".join(lines) + "\n"


TABLE_HEAD = ["| | Bifoga cold | Bifoga warm (cache kept) | bare page | cold ÷ bare"
              " | warm ÷ bare |", "| --- | --- | --- | --- | --- | --- |"]


def heavy_markdown(medium: str, heavy: dict, meta: dict) -> list[str]:
    """A heavy-path medium's table (no targets: it works, and its time is said)."""
    bare = ("the server refuses it over its limit, so the bare page cannot send it"
            if medium in BIFOGA_ONLY else "the bare page sends the same bytes")
    what = {"heic": "HEIC", "big": "oversized photo"}.get(medium, medium)
    lines = [f"### {what}: the heavy path (Pyodide), CPU 4 ×", "",
             f"{MEDIA[medium]}; {heavy['file_bytes']:,} bytes, picked the moment the paperclip "
             f"works, \"Ladda upp\" pressed the moment it is enabled; {bare}; "
             f"{meta['runs']} run(s), medians.", ""] + TABLE_HEAD
    for key, s in heavy["summary"].items():
        _network_rows(lines, PROFILES[key].name, s, what)
    return lines


def _network_rows(lines: list[str], name: str, s: dict, what: str) -> None:
    cold, warm, bare = (s[n] for n in SERIES)

    def row(label: str, field: str, unit: str, *, ratio: bool = True) -> None:
        values = [cold[field], warm[field], bare[field]]
        cells = [_fmt(v, unit) for v in values]
        ratios = ["–", "–"]
        if ratio and values[2]:
            ratios = [_ratio(v / values[2]) if v is not None else "–" for v in values[:2]]
        elif not ratio and values[2] is not None:  # memory: the difference to bare
            ratios = [_signed(v - values[2], unit) if v is not None else "–"
                      for v in values[:2]]
        lines.append(f"| {label} | " + " | ".join(cells + ratios) + " |")

    row(f"{name}: {what} in the chat", "in_chat_ms", "ms")
    row(f"{name}: usable (paperclip works)", "usable_ms", "ms", ratio=False)
    if any(x.get("reduce_click_ms") is not None for x in (cold, warm)):
        row(f"{name}: \"Minska storlek\" pressed (shown)", "reduce_click_ms", "ms", ratio=False)
    row(f"{name}: upload pressed (enabled)", "upload_click_ms", "ms", ratio=False)
    row(f"{name}: first upload byte on the link", "first_upload_ms", "ms", ratio=False)
    row(f"{name}: downloaded before the first upload byte", "down_before_upload", "bytes",
        ratio=False)
    pyodide = ["–" if not x["n"] else "yes" if x["pyodide_before_upload"] else "no"
               for x in (cold, warm, bare)]
    lines.append(f"| {name}: a Pyodide file among them | " + " | ".join(pyodide) + " | – | – |")
    row(f"{name}: downloaded in all", "down_bytes", "bytes", ratio=False)
    row(f"{name}: peak renderer memory", "renderer_peak_rss", "bytes", ratio=False)


def _first_cold(report: dict) -> dict | None:
    for series in report.get("runs", {}).values():
        for run_ in series.get("bifoga_cold", []):
            if run_.get("before_upload_files"):
                return run_["before_upload_files"]
    return None


def failures(result: dict) -> list[str]:
    return [f"{medium} {PROFILES[key].name} {name} {i}: {r['error'][:300]}"
            for medium, m in result["media"].items()
            for key, series in m["networks"].items() for name, runs in series.items()
            for i, r in enumerate(runs, 1) if "error" in r]


NOTES = [
    "The link: bench/shaping.py, a reverse proxy on 127.0.0.1 between Chromium and the server "
    "(the browser loads the proxy's origin, so the page and its workers share it): one token "
    "bucket down and one up shared by every connection, RTT/2 of delay each way, one RTT per "
    "new connection. 4G: 9 Mbit/s down, 1.5 up, 60 ms; slow 4G: 1.6 down, 0.75 up, 150 ms.",
    "Photo in the chat: ms from navigation. Bifoga: its preview dialog closed after the round "
    "(tus creation, PATCH, finalisation, chat message). Bare page: a tus creation POST and one "
    "fetch() PATCH of the same File, started from its change event, answered.",
    "Downloaded before the first upload byte: bytes the proxy delivered to the browser (headers "
    "included) before the first byte of an upload body (a PATCH, or a POST of type "
    "application/offset+octet-stream or multipart/form-data) reached it from the browser; "
    "per request path, and whether a Pyodide file was downloaded among them (a path under "
    "/static/vendor/pyodide-*, or the worker's Pyodide memory snapshot "
    "/static/build/worker-snapshot.bin; answered with its body, not a 304 revalidation).",
    "Warm: the same browser context as the cold run (its HTTP cache kept), a new visit in a new "
    "tab, every earlier connection closed.",
    "Peak renderer memory: VmHWM (kernel-tracked peak RSS) from /proc of Chromium's renderer "
    "processes, every one's reset through /proc/PID/clear_refs before the run's tab opens; the "
    "largest among those alive at the end (the page's, which hosts its workers and their "
    "WebAssembly memory; Chromium's spare renderer is small).",
    "CPU 4 ×: DevTools' Emulation.setCPUThrottlingRate over Playwright's CDP session (the "
    "page's main thread).",
]
