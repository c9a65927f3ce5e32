"""Browser and server plumbing: the server in a subprocess, the reference pages staged under
static/bench/, Chromium through Playwright, and one cold or warm run of one page."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import measures, profiling
from tests.live_server import ServerProcess

ROOT = Path(__file__).resolve().parents[1]
PAGES = Path(__file__).resolve().parent / "pages"
STAGE = ROOT / "static" / "bench"
UPPY_DIST = ROOT / "node_modules" / "uppy" / "dist"
UPPY_FILES = ("uppy.min.mjs", "uppy.min.css")
CHROMIUM = os.environ.get("BIFOGA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-domain-reliability",
    # performance.memory is bucketed and delayed without it.
    "--enable-precise-memory-info",
]
READY_TIMEOUT_MS = 60_000
# How often the bench asks the page whether a mark is set. The marks are taken in the page, so
# this only delays the bench's next step; Playwright's default (every animation frame) would
# put its own work on the page's main thread all along.
POLL_MS = 100
LATE_MARK_TIMEOUT_MS = 10_000
WORKER_TIMEOUT_MS = 120_000
FLOW_TIMEOUT_MS = 120_000


# --- server ------------------------------------------------------------------------------------
class Server(ServerProcess):
    """The real server on a free port with a throw-away data directory (as the tests use it)."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="bifoga-bench-"))
        super().__init__(self.tmp / "data")

    def stop(self, kill: bool = False) -> None:
        try:
            super().stop(kill)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


# --- the reference pages, served by the app's own static/ route --------------------------------
def stage_pages() -> None:
    """Copy bench/pages/* and Uppy's bundled dist files into static/bench/ (gitignored)."""
    missing = [name for name in UPPY_FILES if not (UPPY_DIST / name).is_file()]
    if missing:
        raise RuntimeError(f"{UPPY_DIST} lacks {missing}: run `make setup` (npm ci) first")
    unstage_pages()
    STAGE.mkdir(parents=True)
    for path in PAGES.iterdir():
        if path.is_file():
            shutil.copy2(path, STAGE / path.name)
    for name in UPPY_FILES:
        shutil.copy2(UPPY_DIST / name, STAGE / name)


def unstage_pages() -> None:
    shutil.rmtree(STAGE, ignore_errors=True)


# --- the three pages ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Kind:
    """How to load, pick a file in and upload from one page."""

    name: str
    url: Callable[[str, dict], str]
    usable_js: str  # an expression: the usable mark (performance.now()) or null
    worker_js: str | None  # Bifoga's worker-ready mark
    picker: str  # what the user clicks to open the file chooser (CSS, the first match)
    python_js: str | None = None  # Bifoga: Python has mounted the UI
    in_chat_js: str | None = None  # when an upload is done (Bifoga: the file is in the chat)


def _fragment(visit: dict) -> str:
    return visit["patient_url"].partition("#")[2]


def _bifoga_url(origin: str, visit: dict) -> str:
    return visit["patient_url"]


def _bare_url(origin: str, visit: dict) -> str:
    return origin + "/static/bench/bare.html#" + _fragment(visit)


def _uppy_url(origin: str, visit: dict) -> str:
    return origin + "/static/bench/uppy.html#" + _fragment(visit)


KINDS = {
    # Usable: index.html's native file input listens (its inline file keeper sets bifogaUsable); the
    # picker is that input, over the paperclip's face. Python up: main.py sets bifogaReady.
    # Worker ready: the light worker (MicroPython); Pyodide starts only for a file that needs it.
    "bifoga": Kind("bifoga", _bifoga_url, "window.bifogaUsable", "window.bifogaLightReady",
                   measures.BIFOGA_FILE_INPUT, python_js="window.bifogaReady",
                   in_chat_js="window.__bench.marks.dialogClosed"),
    "uppy": Kind("uppy", _uppy_url, "window.benchUsable", None,
                 ".uppy-Dashboard-browse", in_chat_js="window.benchMarks.uploadDone"),
    "bare": Kind("bare", _bare_url, "window.benchUsable", None, "#bare-input"),
}


def _visit_ids(visit: dict) -> tuple[str, str]:
    return visit["visit_id"], visit["patient_token"]


# --- renderer memory: the page's process, workers and WebAssembly memory included --------------
def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def renderer_pids() -> set[int]:
    """Chromium renderer processes started by this benchmark (descendants of this process)."""
    pids = set()
    for pid in _descendants(os.getpid()):
        try:
            if b"--type=renderer" in Path(f"/proc/{pid}/cmdline").read_bytes():
                pids.add(pid)
        except OSError:
            continue
    return pids


def peak_rss(pids: set[int]) -> int | None:
    """The largest VmHWM (peak resident set, kernel-tracked) among `pids`, in bytes."""
    peaks = []
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) * 1024)
        except OSError:
            continue
    return max(peaks, default=None)


# --- browser -----------------------------------------------------------------------------------
class Bench:
    """One Chromium for the whole benchmark; a new context for every cold run."""

    def __init__(self, server: Server, photo: Path) -> None:
        self.server = server
        self.photo = photo
        self._pw = None
        self.browser = None

    def __enter__(self) -> Bench:
        if not Path(CHROMIUM).exists():
            raise RuntimeError(f"Chromium not found at {CHROMIUM}: `make chromium` installs it")
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        self.browser = self._pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        return self

    def __exit__(self, *exc) -> None:
        if self.browser:
            self.browser.close()
        if self._pw:
            self._pw.stop()

    @property
    def version(self) -> str:
        return self.browser.version if self.browser else ""

    def _context(self, throttle: float = 1.0, at_once: Kind | None = None):
        context = self.browser.new_context()  # a new profile: empty HTTP cache, no storage
        if at_once:  # signals usable, presses its upload button the moment it is enabled
            context.add_init_script(measures.at_once_script(at_once.picker))
        context.add_init_script(measures.INIT_SCRIPT)
        net = measures.NetLog(context)
        page = context.new_page()
        if throttle > 1:  # a mid-range phone: DevTools' CPU throttling, kept across reloads
            session = context.new_cdp_session(page)
            session.send("Emulation.setCPUThrottlingRate", {"rate": throttle})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)[:300]))
        page.on("console", lambda m: errors.append(f"console {m.type}: {m.text[:300]}")
                if m.type == "error" else None)
        return context, net, page, errors

    def _wait_loaded(self, kind: Kind, page, net, errors: list[str]) -> None:
        try:
            _wait_for(page, f"({kind.usable_js}) != null", timeout=READY_TIMEOUT_MS)
            if kind.python_js:
                _wait_for(page, f"({kind.python_js}) != null", timeout=READY_TIMEOUT_MS)
            if kind.worker_js:
                _wait_for(page, f"({kind.worker_js}) != null", timeout=WORKER_TIMEOUT_MS)
        except Exception as exc:
            try:
                shown = page.evaluate("document.body ? document.body.innerText.slice(0, 300) : ''")
            except Exception:  # noqa: BLE001 - only for the message
                shown = "?"
            raise RuntimeError(f"{kind.name} did not get ready ({type(exc).__name__}); page "
                               f"shows {shown!r}; errors {errors[-5:]}") from exc
        net.settle(page)

    # --- one cold run: load with an empty cache, then pick the photo and upload it -------------
    def cold_run(self, kind: Kind, visit: dict) -> dict:
        before = renderer_pids()
        context, net, page, errors = self._context()
        try:
            page.goto(kind.url(self.server.origin, visit), wait_until="commit")
            self._wait_loaded(kind, page, net, errors)
            loaded_count, snapshots = net.count, self._resources(page)
            self._pick(kind, page)
            upload = self._upload(kind, page, visit)
            data = page.evaluate(measures.COLLECT_JS)
            rss = peak_rss(renderer_pids() - before)
            transfers = net.transfers(0, loaded_count, data["timeOrigin"])
            return {**load_metrics(kind, data, transfers, snapshots, self._workers(page)),
                    **flow_metrics(kind, data, upload), "renderer_peak_rss": rss,
                    "page_errors": errors[:5]}
        finally:
            context.close()

    @staticmethod
    def _in_workers(page, script: str) -> list[dict]:
        out = []
        for worker in page.workers:
            try:
                out.append(worker.evaluate(script))
            except Exception:  # noqa: BLE001, S112 - a worker that ended meanwhile
                continue
        return out

    @classmethod
    def _resources(cls, page) -> list[dict]:
        """Resource timing of the page and of every worker it runs (the cross-check)."""
        return [page.evaluate(measures.RESOURCES_JS), *cls._in_workers(page,
                                                                      measures.RESOURCES_JS)]

    @classmethod
    def _workers(cls, page) -> list[dict]:
        """Each worker's marks and resource timing (measures.WORKER_STEPS_JS)."""
        return cls._in_workers(page, measures.WORKER_STEPS_JS)

    # --- a file picked the moment the page is usable ---------------------------------------------
    def at_once_run(self, kind: Kind, visit: dict, path: Path, throttle: float,
                    trace: Path | None = None) -> dict:
        """Cold load; as soon as the usable mark is set, pick `path`; the page clicks its upload
        button the moment it is enabled (measures.at_once_script). Wait until the file is in
        the chat (Bifoga: the preview dialog closed after the round; Uppy: upload-success), its
        preview painted (a photo) and, in Bifoga, its full check done. All times from
        navigation. With `trace`, a Chromium trace of the whole run is written there."""
        context, net, page, errors = self._context(throttle, at_once=kind)
        photo = path.suffix.lower() in (".jpg", ".jpeg")
        tracing = False
        try:
            if trace:
                trace.parent.mkdir(parents=True, exist_ok=True)
                self.browser.start_tracing(path=str(trace), categories=profiling.TRACE_CATEGORIES)
                tracing = True
            # The chooser is intercepted from the start and answered as it opens; the page says
            # on the console when it is usable and where the picker is, and the mouse clicks
            # there: the pick lands as soon after the usable mark as the driver's round trips
            # and the page's main thread allow (the marks mouseDown, mouseDownHandled and pick
            # say when).
            page.on("filechooser", lambda chooser: chooser.set_files(str(path)))
            click_picker_when_usable(page, kind, kind.url(self.server.origin, visit), errors)
            marks = "window.__bench.marks"
            failed = "(window.benchMarks && window.benchMarks.uploadError !== undefined)"
            done = f"({marks}.checked !== undefined && ({kind.in_chat_js}) !== undefined)"
            try:
                _wait_for(page, f"{done} || {failed}", timeout=FLOW_TIMEOUT_MS)
            except Exception as exc:
                raise RuntimeError(f"{kind.name}: not in the chat: {_page_state(page)}") from exc
            if page.evaluate(failed):
                raise RuntimeError(f"{kind.name}: upload failed: {_page_state(page)}")
            # Marks that may come after the file is in the chat: Uppy sends a small file before
            # its thumbnail is painted. Bifoga's should all be there; a missing one is reported.
            later = ([f"{marks}.previewPainted !== undefined"] if photo else []) + (
                [f"{marks}.verified !== undefined"] if kind.name == "bifoga" else [])
            if later:
                try:
                    _wait_for(page, " && ".join(later), timeout=LATE_MARK_TIMEOUT_MS)
                except Exception:  # noqa: BLE001, S110 - reported as missing below
                    pass
            if tracing:  # the trace ends with the flow; what follows is the bench's own reading
                self.browser.stop_tracing()
                tracing = False
            for ready in (kind.python_js, kind.worker_js):  # the worker's steps are complete
                if ready:
                    _wait_for(page, f"({ready}) != null", timeout=WORKER_TIMEOUT_MS)
            data = page.evaluate(measures.COLLECT_JS)
            in_chat = page.evaluate(f"({kind.in_chat_js}) ?? null")
            transfers = net.transfers(0, None, data["timeOrigin"])
            load = load_metrics(kind, data, transfers, self._resources(page), self._workers(page))
            return at_once_metrics(kind, data, load, in_chat, photo, errors)
        finally:
            if tracing:
                self.browser.stop_tracing()
            context.close()

    def _pick(self, kind: Kind, page) -> None:
        with page.expect_file_chooser() as chooser:
            page.locator(kind.picker).first.click()
        chooser.value.set_files(str(self.photo))
        marks = "window.__bench.marks"
        ready = f"{marks}.previewDecoded !== undefined && {marks}.previewPainted !== undefined"
        if kind.name == "bifoga":  # and the worker's full check: the upload is the upload
            ready += f" && {marks}.checked !== undefined && {marks}.verified !== undefined"
        try:
            _wait_for(page, ready, timeout=FLOW_TIMEOUT_MS)
        except Exception as exc:
            raise RuntimeError(f"{kind.name}: no preview/check: {_page_state(page)}") from exc

    def _upload(self, kind: Kind, page, visit: dict) -> dict:
        if kind.name == "bifoga":
            page.locator(measures.BIFOGA_UPLOAD_BUTTON).click()
            try:
                _wait_for(page, "window.__bench.marks.dialogClosed !== undefined",
                                       timeout=FLOW_TIMEOUT_MS)
            except Exception as exc:
                raise RuntimeError(f"bifoga: upload did not finish: {_page_state(page)}") from exc
            # The worker's own split (the tus transfer, the server's checks at finalisation) and
            # its time for the photo (read, content check, metadata removal, decode), as the app
            # records them: performance measures (adapters/worker_client.py).
            return page.evaluate(measures.BIFOGA_WORKER_MEASURES_JS)
        if kind.name == "uppy":
            page.locator(".uppy-StatusBar-actionBtn--upload").click()
            _wait_for(page, "window.benchMarks.uploadDone !== undefined"
                                   " || window.benchMarks.uploadError !== undefined",
                                   timeout=FLOW_TIMEOUT_MS)
            return {}
        # The bare page: one fetch() of the same File to the same server (measures.BARE_FETCH_JS).
        result = page.evaluate(measures.BARE_FETCH_JS, list(_visit_ids(visit)))
        if result.get("error") or result.get("status") != 204:
            raise RuntimeError(f"bare fetch upload failed: {result}")
        return result

    # --- warm runs: the same context reloads (HTTP cache warm) ---------------------------------
    def warm_runs(self, kind: Kind, visit: dict, count: int, throttle: float = 1.0) -> list[dict]:
        context, net, page, errors = self._context(throttle)
        runs = []
        try:
            page.goto(kind.url(self.server.origin, visit), wait_until="commit")
            self._wait_loaded(kind, page, net, errors)  # the priming load, not measured
            for _ in range(count):
                first = net.count
                page.reload(wait_until="commit")
                try:
                    self._wait_loaded(kind, page, net, errors)
                except RuntimeError as exc:
                    runs.append({"error": str(exc)})
                    continue
                snapshots = self._resources(page)
                data = page.evaluate(measures.COLLECT_JS)
                transfers = net.transfers(first, None, data["timeOrigin"])
                runs.append({**load_metrics(kind, data, transfers, snapshots,
                                            self._workers(page)),
                             "page_errors": errors[:5]})
        finally:
            context.close()
        return runs


def click_picker_when_usable(page, kind: Kind, url: str, errors: list[str]) -> None:
    """Navigate to `url` and click the page's picker the moment its usable mark is set (the
    context has measures.at_once_script; the file chooser is answered by the caller's
    handler)."""
    try:
        with page.expect_event("console", lambda m: m.text.startswith(
                measures.USABLE_SIGNAL), timeout=READY_TIMEOUT_MS) as signal:
            page.goto(url, wait_until="commit")
    except Exception as exc:
        raise RuntimeError(f"{kind.name} not usable: {errors[-5:]}") from exc
    where = signal.value.text.split()[1:]
    hit = False
    if len(where) == 2:  # mouse.click returns once the page has handled the mouseup
        page.mouse.click(float(where[0]), float(where[1]))
        hit = page.evaluate("window.__bench.marks.mouseDownHit === true")
    if not hit:  # the picker was not there yet, or moved: Playwright finds it
        page.locator(kind.picker).first.click(force=True)


def _wait_for(page, expression: str, timeout: float) -> None:
    page.wait_for_function(expression, polling=POLL_MS, timeout=timeout)


def _said(metrics: dict) -> str:
    if "error" in metrics:
        return "FAILED: " + metrics["error"][:300]
    return f"usable {metrics['usable_ms']:.0f} ms"


def _page_state(page) -> str:
    try:
        return json.dumps(page.evaluate("""() => ({
            marks: window.__bench && window.__bench.marks,
            errors: window.__bench && window.__bench.errors,
            alert: document.querySelector('#preview-dialog .preview-alert')?.textContent,
            status: document.querySelector('#preview-dialog .preview-status')?.textContent,
            uppy: window.benchMarks || null })"""))
    except Exception as exc:  # noqa: BLE001 - only for the error message
        return f"(page state unavailable: {exc})"


# --- turning marks into metrics ------------------------------------------------------------------
def load_metrics(kind: Kind, data: dict, transfers: list[measures.Transfer],
                 snapshots: list[dict], workers: list[dict] = ()) -> dict:
    usable = data["bifogaUsable"] if kind.name == "bifoga" else data["benchUsable"]
    python = data["bifogaReady"] if kind.name == "bifoga" else None
    worker = data["bifogaWorkerReady"] if kind.name == "bifoga" else None
    origin = data["timeOrigin"]
    ends = measures.finish_times(transfers, snapshots, origin)
    before = [t for t, end in zip(transfers, ends, strict=True) if end <= usable]
    longtasks = data["longtasks"]
    # Bifoga's Pyodide worker: the one that marked its start, or fetched the worker's modules.
    mine = [w for w in workers if "bifoga:worker-start" in w["marks"]
            or any(name == "worker.zip" for name, *_ in w["entries"])]
    steps = measures.worker_steps(mine[0], origin, worker) if mine else None
    return {
        "usable_ms": usable,
        "python_ready_ms": python,
        "worker_ready_ms": worker,
        "bytes": sum(t.bytes for t in transfers),
        "body_bytes": sum(t.body for t in transfers),
        "requests": len(transfers),
        "requests_from_server": sum(1 for t in transfers if t.bytes > 0),
        "bytes_before_usable": sum(t.bytes for t in before),
        "requests_before_usable": len(before),
        # Where the bytes before usable go: path -> bytes, largest first.
        "before_usable_files": dict(sorted(
            ((re.sub(r"visits/[^/]+", "visits/<id>", t.url.split("#")[0].split("/", 3)[-1]),
              t.bytes) for t in before), key=lambda item: -item[1])),
        "worker_steps": steps,
        "longest_task_load_ms": measures.longest_task(longtasks, 0.0, usable),
        "longest_task_to_python_ms": measures.longest_task(longtasks, 0.0, python),
        "longest_task_to_worker_ms": measures.longest_task(longtasks, 0.0, worker),
        "heap_at_usable": measures.peak(data["heap"], None, usable),
        "resource_timing": {
            "load": measures.resource_bytes(snapshots, origin, None),
            "before_usable": measures.resource_bytes(snapshots, origin, usable),
        },
    }


def at_once_metrics(kind: Kind, data: dict, load: dict, in_chat: float | None, photo: bool,
                    errors: list[str]) -> dict:
    """One at-once run: its marks from navigation, and the longest main-thread task while the
    page loads (to Python up; Uppy: to usable) and while the file goes from pick to chat."""
    m, longtasks = data["marks"], data["longtasks"]
    expected = {"checked_ms": m.get("checked"), "in_chat_ms": in_chat}
    if photo:
        expected["preview_ms"] = m.get("previewPainted")
    if kind.name == "bifoga":
        expected["verified_ms"] = m.get("verified")
    loaded = load["python_ready_ms"] if load["python_ready_ms"] is not None else load["usable_ms"]
    return {
        "usable_ms": load["usable_ms"],
        "python_ms": load["python_ready_ms"],
        "pick_ms": m.get("pick"),
        # The bench's click: when the browser made its mousedown, and how long the page's main
        # thread took to get to it (a busy main thread delays a user's click the same way).
        "mouse_down_ms": m.get("mouseDown"),
        "input_delay_ms": (m["mouseDownHandled"] - m["mouseDown"]
                           if m.get("mouseDown") is not None else None),
        "click_missed": m.get("mouseDownHit") is False,  # the second try's mousedown not timed
        "chooser_click_ms": m.get("chooserClick"),
        "preview_ms": None,
        "verified_ms": None,
        **expected,
        "upload_click_ms": m.get("uploadClick"),
        "worker_ready_ms": load["worker_ready_ms"],
        "bytes_before_usable": load["bytes_before_usable"],
        "requests_before_usable": load["requests_before_usable"],
        "before_usable_files": load["before_usable_files"],
        "worker_steps": load.get("worker_steps"),
        "longest_task_load_ms": measures.longest_task(longtasks, 0.0, loaded),
        "longest_task_flow_ms": measures.longest_task(longtasks, m.get("pick"), in_chat),
        # Marks that never came (the page did not do what the bench waits for).
        "missing": sorted(key for key, value in expected.items() if value is None),
        "page_errors": errors[:5],
    }


def flow_metrics(kind: Kind, data: dict, upload: dict) -> dict:
    marks, longtasks = data["marks"], data["longtasks"]
    pick = marks.get("pick")
    preview = marks.get("previewPainted")
    checked = marks.get("checked")
    if kind.name == "bifoga":
        up_start, up_end = marks.get("uploadClick"), marks.get("dialogClosed")
    elif kind.name == "uppy":
        uppy = data["uppy"] or {}
        if uppy.get("uploadError"):
            raise RuntimeError("uppy upload failed: " + uppy["uploadError"])
        up_start, up_end = uppy.get("uploadStart"), uppy.get("uploadDone")
    else:
        up_start = upload["start"] + upload["create_ms"]
        up_end = up_start + upload["patch_ms"]

    def span(a, b):
        return None if a is None or b is None else b - a

    return {
        "pick_to_preview_ms": span(pick, preview),
        "pick_to_preview_loaded_ms": span(pick, marks.get("previewLoaded")),
        "pick_to_preview_decoded_ms": span(pick, marks.get("previewDecoded")),
        "pick_to_checked_ms": span(pick, checked),
        "pick_to_verified_ms": span(pick, marks.get("verified")),
        "upload_ms": span(up_start, up_end),
        "bare_create_patch_ms": upload.get("total_ms"),
        "transfer_ms": upload.get("transfer_ms"),
        "worker_processing_ms": upload.get("worker_processing_ms"),
        "finalise_ms": upload.get("finalise_ms"),
        "longest_task_preview_ms": measures.longest_task(longtasks, pick, preview),
        "longest_task_processing_ms": measures.longest_task(longtasks, pick, checked),
        "longest_task_upload_ms": measures.longest_task(longtasks, up_start, up_end),
        "peak_heap": measures.peak(data["heap"]),
        "long_task_errors": data["errors"][:5],
    }


# --- the whole benchmark -------------------------------------------------------------------------
THROTTLES = (1.0, 4.0)  # unthrottled, and a mid-range phone
AT_ONCE_KINDS = ("bifoga", "uppy")
AT_ONCE_FILES = ("photo", "pdf")


def pass_name(rate: float) -> str:
    return f"{rate:g}x"


def run_at_once(bench: Bench, server: Server, count: int, files: dict[str, Path],
                log: Callable[[str], None]) -> dict:
    """A file picked the moment the page is usable, Bifoga and Uppy, each throttling rate."""
    out: dict = {}
    for rate in THROTTLES:
        runs = out[pass_name(rate)] = {k: {f: [] for f in AT_ONCE_FILES} for k in AT_ONCE_KINDS}
        for i in range(count):
            for name in AT_ONCE_KINDS[i % 2:] + AT_ONCE_KINDS[:i % 2]:  # alternate the order
                for what in AT_ONCE_FILES:
                    started = time.monotonic()
                    try:
                        result = bench.at_once_run(KINDS[name], server.new_visit(), files[what],
                                                   rate)
                        said = _said_at_once(result)
                    except Exception as exc:  # noqa: BLE001 - one failed run is reported
                        result, said = {"error": str(exc)[:1000]}, "FAILED: " + str(exc)[:300]
                    runs[name][what].append(result)
                    log(f"at once {pass_name(rate)} {i + 1}/{count} {name} {what}: {said} "
                        f"({time.monotonic() - started:.1f} s)")
    return out


def _said_at_once(result: dict) -> str:
    said = ", ".join(f"{label} {result[key]:.0f}" for key, label in (
        ("usable_ms", "usable"), ("python_ms", "Python up"), ("preview_ms", "shown"),
        ("checked_ms", "checked"), ("verified_ms", "verified"), ("in_chat_ms", "in the chat"))
        if result.get(key) is not None) + " ms"
    return said + (f"; MISSING {result['missing']}" if result.get("missing") else "")


def run_profiles(bench: Bench, server: Server, photo: Path, out_dir: Path,
                 log: Callable[[str], None]) -> dict:
    """One traced at-once run of Bifoga (the photo) per throttling rate: the trace and where its
    time went (bench.profiling). Not counted in the numbers: tracing slows the page."""
    out = {}
    for rate in THROTTLES:
        name = pass_name(rate)
        trace = out_dir / f"trace-bifoga-photo-{name}.json"
        try:
            result = bench.at_once_run(KINDS["bifoga"], server.new_visit(), photo, rate,
                                       trace=trace)
            summary = profiling.summarise(trace, result)
            text = profiling.text(summary, f"Profile: Bifoga, a photo picked at once, {name}")
            (out_dir / f"profile-{name}.md").write_text(text)
            out[name] = {"summary": summary, "text": text}
            log(text)
        except Exception as exc:  # noqa: BLE001 - a failed profile is reported, not fatal
            out[name] = {"error": str(exc)[:1000]}
            log(f"profile {name}: FAILED: {str(exc)[:300]}")
    return out


def run(cold: int, warm: int, at_once: int, files: dict[str, Path],
        log: Callable[[str], None], profile_dir: Path | None = None) -> dict:
    server = Server()
    server.start()
    stage_pages()
    try:
        with Bench(server, files["upload"]) as bench:
            cold_runs, warm_runs = [], {name: [] for name in KINDS}
            for i in range(cold):
                visit = server.new_visit()  # fresh tokens: no rate limit or open-upload cap
                run_ = {}
                names = list(KINDS)
                names = names[i % len(names):] + names[:i % len(names)]  # rotate the order
                for name in names:
                    kind = KINDS[name]
                    started = time.monotonic()
                    try:
                        run_[name] = bench.cold_run(kind, visit)
                    except Exception as exc:  # noqa: BLE001 - one failed run is reported, not fatal
                        run_[name] = {"error": str(exc)[:1000]}
                    log(f"cold {i + 1}/{cold} {name}: {_said(run_[name])} "
                        f"({time.monotonic() - started:.1f} s)")
                cold_runs.append(run_)
            if warm:
                for name, kind in KINDS.items():
                    try:
                        warm_runs[name] = bench.warm_runs(kind, server.new_visit(), warm)
                    except Exception as exc:  # noqa: BLE001 - the priming load failed
                        warm_runs[name] = [{"error": str(exc)[:1000]}]
                    log(f"warm {name}: " + ", ".join(_said(r) for r in warm_runs[name]))
            # The same reloads on a throttled CPU (Bifoga and Uppy only).
            warm_throttled = {name: [] for name in AT_ONCE_KINDS}
            if warm:
                for name in AT_ONCE_KINDS:
                    try:
                        warm_throttled[name] = bench.warm_runs(KINDS[name], server.new_visit(),
                                                               warm, THROTTLES[-1])
                    except Exception as exc:  # noqa: BLE001 - the priming load failed
                        warm_throttled[name] = [{"error": str(exc)[:1000]}]
                    log(f"warm {pass_name(THROTTLES[-1])} {name}: "
                        + ", ".join(_said(r) for r in warm_throttled[name]))
            at_once_runs = run_at_once(bench, server, at_once, files, log) if at_once else {}
            profiles = (run_profiles(bench, server, files["photo"], profile_dir, log)
                        if profile_dir else {})
            return {"browser": bench.version, "cold": cold_runs, "warm": warm_runs,
                    "warm_throttled": warm_throttled, "at_once": at_once_runs,
                    "profiles": profiles}
    finally:
        unstage_pages()
        server.stop()
