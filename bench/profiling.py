"""`--profile`: where one at-once run's time goes, from a Chromium trace.

The harness records a trace of the whole browser (Playwright's browser.start_tracing: the
timeline categories and V8's sampling CPU profiler) from navigation until the file is in the
chat. This module reads it back and sums, for the page's main thread and each of its dedicated
workers, the self time of the trace's events by activity (script, compile, GC, style and layout,
paint, parsing) and the self time of the sampled functions (JavaScript and WebAssembly), within
[navigation, in the chat]. The long tasks of the main thread are listed with what fills them.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

# Playwright's default set without screenshots, at the profiler's ordinary (1 ms) sampling.
TRACE_CATEGORIES = [
    "-*", "toplevel", "devtools.timeline", "disabled-by-default-devtools.timeline",
    "disabled-by-default-devtools.timeline.frame", "v8.execute", "v8", "blink.user_timing",
    "disabled-by-default-v8.cpu_profiler", "disabled-by-default-devtools.timeline.stack",
]
LONG_TASK_MS = 50
TOP = 8
LONGEST_SHOWN = 6

# Trace event names -> activity (DevTools' own grouping, coarsened). Names not listed count as
# "script" when they are V8's, "other" otherwise.
ACTIVITIES = [
    ("gc", re.compile(r"GC|^V8\.GC|BlinkGC|Scavenge|MarkCompact", re.I)),
    ("compile", re.compile(r"compile|wasm|[Pp]arseOnBackground|v8\.parse|CacheScript|"
                           r"Deserialize|Streaming", re.I)),
    ("style & layout", re.compile(r"^(UpdateLayoutTree|Layout|RecalculateStyles|HitTest|"
                                  r"PrePaint|ScheduleStyleRecalculation|InvalidateLayout|"
                                  r"IntersectionObserverController::computeIntersections|"
                                  r"UpdateLayerTree)")),
    ("paint & images", re.compile(r"^(Paint|PaintImage|Decode|ImageDecode|Layerize|Commit|"
                                  r"CompositeLayers|UpdateLayer|Rasterize|Decode Image|"
                                  r"Decode LazyPixelRef|Draw)")),
    ("parse HTML/CSS", re.compile(r"^(ParseHTML|ParseAuthorStyleSheet|"
                                  r"ParseHTMLAndRunScripts)")),
    ("script", re.compile(r"^(v8\.|V8\.|EvaluateScript|FunctionCall|TimerFire|EventDispatch|"
                          r"FireAnimationFrame|RunMicrotasks|XHR|v8::|RunTask$|"
                          r"ThreadControllerImpl::RunTask$|CallbackHandler|MessagePort|"
                          r"PostMessage|HandlePostMessage|WorkerThread|"
                          r"WorkerGlobalScope|ModuleScript|FireIdleCallback)")),
]
TASK_NAMES = ("RunTask", "ThreadControllerImpl::RunTask")
IGNORED_FRAMES = {"(root)", "(idle)"}


def activity(name: str) -> str:
    for label, pattern in ACTIVITIES:
        if pattern.search(name):
            return "tasks (self)" if name in TASK_NAMES else label
    return "other"


# --- reading the trace ---------------------------------------------------------------------------
def load(path: Path) -> list[dict]:
    data = json.loads(path.read_text())
    return data["traceEvents"] if isinstance(data, dict) else data


def threads(events: list[dict]) -> dict[tuple[int, int], str]:
    """(pid, tid) -> thread name."""
    return {(e["pid"], e["tid"]): e["args"]["name"] for e in events
            if e.get("ph") == "M" and e.get("name") == "thread_name"}


def intervals(events: list[dict]) -> dict[tuple[int, int], list[tuple[float, float, str]]]:
    """Per thread, every timed event as (start µs, end µs, name): complete events, and begin/end
    pairs matched per thread and name."""
    out: dict[tuple[int, int], list] = defaultdict(list)
    open_: dict[tuple, list[float]] = defaultdict(list)
    for e in sorted((e for e in events if e.get("ph") in ("X", "B", "E")),
                    key=lambda e: e.get("ts", 0)):
        key = (e["pid"], e["tid"])
        if e["ph"] == "X":
            if e.get("dur") is not None:
                out[key].append((e["ts"], e["ts"] + e["dur"], e["name"]))
        elif e["ph"] == "B":
            open_[(*key, e["name"])].append(e["ts"])
        elif open_.get((*key, e["name"])):
            out[key].append((open_[(*key, e["name"])].pop(), e["ts"], e["name"]))
    return out


def self_times(spans: list[tuple[float, float, str]], start: float, end: float) -> dict[str, float]:
    """Self time (µs) by event name within [start, end]: each event's time minus its children's,
    the nesting found from the order (a child starts and ends inside its parent)."""
    totals: dict[str, float] = defaultdict(float)
    stack: list[list] = []  # [start, end, name, children's time within the window]

    def clip(a: float, b: float) -> float:
        return max(0.0, min(b, end) - max(a, start))

    def close(frame: list) -> None:
        totals[frame[2]] += max(0.0, clip(frame[0], frame[1]) - frame[3])

    for a, b, name in sorted(spans, key=lambda s: (s[0], -(s[1] - s[0]))):
        while stack and a >= stack[-1][1]:
            close(stack.pop())
        if stack:
            stack[-1][3] += clip(a, min(b, stack[-1][1]))
        stack.append([a, b, name, 0.0])
    while stack:
        close(stack.pop())
    return dict(totals)


def functions(events: list[dict], start: float, end: float) -> dict[tuple[int, int], dict]:
    """Per thread, the sampled self time (µs) of each function within [start, end], from V8's
    trace profiler (a "Profile" event, then "ProfileChunk"s with nodes and samples)."""
    profiles: dict[str, dict] = {}
    for e in events:
        if e.get("name") == "Profile":
            profiles[(e["pid"], e["id"])] = {
                "thread": (e["pid"], e["tid"]), "nodes": {}, "samples": [],
                "t": float(e["args"]["data"].get("startTime", e["ts"]))}
    for e in sorted((e for e in events if e.get("name") == "ProfileChunk"),
                    key=lambda e: e.get("ts", 0)):
        prof = profiles.get((e.get("pid"), e.get("id")))  # ids are per process
        if prof is None:
            continue
        data = e["args"]["data"]
        for node in data.get("cpuProfile", {}).get("nodes", []):
            prof["nodes"][node["id"]] = _frame_name(node["callFrame"])
        samples = data.get("cpuProfile", {}).get("samples", [])
        for node, delta in zip(samples, data.get("timeDeltas", []), strict=False):
            prof["t"] += delta
            prof["samples"].append((prof["t"], node))
    out: dict[tuple[int, int], dict] = defaultdict(lambda: defaultdict(float))
    for prof in profiles.values():
        samples = prof["samples"]
        for (t, node), (t_next, _) in zip(samples, samples[1:], strict=False):
            name = prof["nodes"].get(node, "?")
            if name in IGNORED_FRAMES or t < start or t > end:
                continue
            out[prof["thread"]][name] += t_next - t
    return out


def _frame_name(frame: dict) -> str:
    name = frame.get("functionName") or "(anonymous)"
    url = frame.get("url") or ""
    if not url or name.startswith("("):
        return name
    where = url.split("?")[0].rstrip("/").rsplit("/", 1)[-1] or url
    line = frame.get("lineNumber", -1)
    return f"{name} {where}" + (f":{line + 1}" if line is not None and line >= 0 else "")


# --- the summary ----------------------------------------------------------------------------------
def summarise(path: Path, marks: dict) -> dict:
    """Main thread and workers of the page's renderer, [navigation, in the chat].

    `marks`: the run's marks in ms from navigation (usable_ms, python_ms, pick_ms, checked_ms,
    verified_ms, in_chat_ms...), used for the window and quoted in the text."""
    events = load(path)
    names = threads(events)
    spans = intervals(events)
    # The page's renderer: the main thread that saw the last navigation to an http(s) URL
    # (about:blank's, and WebUI pages' of the browser itself, are not the page's).
    navigations = sorted((e["ts"], (e["pid"], e["tid"])) for e in events
                         if e.get("name") == "navigationStart"
                         and names.get((e["pid"], e["tid"])) == "CrRendererMain"
                         and (((e.get("args") or {}).get("data") or {}).get(
                             "documentLoaderURL") or "").startswith(("http://", "https://")))
    if not navigations:
        raise ValueError(f"{path}: no navigation of a renderer's main thread in the trace")
    start, main = navigations[-1]
    end = start + 1000 * float(marks.get("in_chat_ms") or marks.get("checked_ms") or 0)
    if end <= start:
        end = max(b for _a, b, _n in spans[main])
    workers = [key for key, name in names.items()
               if key[0] == main[0] and name.startswith("DedicatedWorker")]
    sampled = functions(events, start, end)
    out = {"trace": str(path), "window_ms": round((end - start) / 1000), "marks": marks,
           "threads": []}
    for key in [main, *workers]:
        selfs = self_times(spans.get(key, []), start, end)
        tasks = _outermost([(a, b) for a, b, name in spans.get(key, []) if name in TASK_NAMES])
        busy_ms = sum(max(0.0, min(b, end) - max(a, start)) for a, b in tasks) / 1000
        if key != main and busy_ms < 50:  # idle helper workers (PyScript starts some)
            continue
        by_activity: dict[str, float] = defaultdict(float)
        for name, us in selfs.items():
            by_activity[activity(name)] += us
        out["threads"].append({
            "thread": "main thread" if key == main else _worker_name(events, key, sampled),
            "busy_ms": round(busy_ms),
            "activities": _top(by_activity, len(by_activity)),
            "events": _top(selfs, TOP),
            "functions": _top(sampled.get(key, {}), TOP),
            "long_tasks": [] if key != main else _long_tasks(spans[main], tasks, start, end),
        })
    return out


def _outermost(tasks: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The top-level tasks (RunTask nests ThreadControllerImpl::RunTask and the reverse)."""
    out: list[tuple[float, float]] = []
    for a, b in sorted(tasks, key=lambda t: (t[0], -t[1])):
        if out and a < out[-1][1]:
            continue
        out.append((a, b))
    return out


def _top(totals: dict[str, float], n: int) -> list[tuple[str, float]]:
    ranked = sorted(totals.items(), key=lambda item: -item[1])
    return [(name, round(us / 1000, 1)) for name, us in ranked[:n] if us >= 500]


def _worker_name(events: list[dict], key: tuple[int, int], sampled: dict) -> str:
    """Pyodide's worker by its functions; another by its first script (or the thread id): the
    workers' scripts are often blob: URLs."""
    if any("pyodide" in name for name in sampled.get(key, {})):
        return "Pyodide worker"
    for e in events:
        if (e.get("pid"), e.get("tid")) == key and e.get("name") == "EvaluateScript":
            url = (e.get("args", {}).get("data") or {}).get("url") or ""
            if url:
                return "worker " + url.split("?")[0].rsplit("/", 1)[-1]
    return f"worker (thread {key[1]})"


def _long_tasks(spans: list, tasks: list[tuple[float, float]], start: float,
                end: float) -> list[dict]:
    """Every task over 50 ms in the window, in order, with its three largest self times."""
    out = []
    for a, b in sorted(tasks):
        if b - a < LONG_TASK_MS * 1000 or b < start or a > end:
            continue
        # The task's own events included: their self time is what no finer event explains.
        inside = [s for s in spans if s[0] >= a and s[1] <= b]
        out.append({"start_ms": round((a - start) / 1000), "ms": round((b - a) / 1000),
                    "events": _top(self_times(inside, a, b), 3)})
    return out


def text(summary: dict, title: str) -> str:
    """The summary as Markdown, to quote in the README."""
    marks = summary["marks"]
    said = ", ".join(f"{label} {marks[key]:.0f} ms" for key, label in (
        ("usable_ms", "usable"), ("python_ms", "Python up"), ("pick_ms", "pick"),
        ("preview_ms", "picture shown"), ("checked_ms", '"Ladda upp" enabled'),
        ("verified_ms", "full check done"), ("in_chat_ms", "in the chat"),
        ("worker_ready_ms", "worker ready")) if marks.get(key) is not None)
    trace = Path(summary["trace"])
    if trace.is_absolute() and trace.is_relative_to(Path.cwd()):
        trace = trace.relative_to(Path.cwd())
    lines = [f"### {title}", "", f"Trace: `{trace}` (open it in Chromium's DevTools, "
             "Performance panel, or ui.perfetto.dev). Marks from navigation (this run, traced, "
             f"so slower than the measured ones): {said}. Window: navigation + "
             f"{summary['window_ms']} ms; self times in ms.", ""]
    for thread in summary["threads"]:
        lines.append(f"- **{thread['thread']}**: busy {thread['busy_ms']} ms; by activity: "
                     + _pairs(thread["activities"]))
        if thread["events"]:
            lines.append("  - top trace events: " + _pairs(thread["events"]))
        if thread["functions"]:
            lines.append("  - top functions (sampled): " + _pairs(thread["functions"]))
        tasks = thread["long_tasks"]
        if tasks:
            lines.append(f"  - {len(tasks)} tasks over {LONG_TASK_MS} ms, "
                         f"{sum(t['ms'] for t in tasks)} ms in all; the longest:")
        for task in sorted(tasks, key=lambda t: -t["ms"])[:LONGEST_SHOWN]:
            lines.append(f"    - at {task['start_ms']} ms, {task['ms']} ms: "
                         + _pairs(task["events"]))
    return "\n".join(lines) + "\n"


def _pairs(items: list[tuple[str, float]]) -> str:
    return ", ".join(f"{name} {ms:g}" for name, ms in items) or "–"
