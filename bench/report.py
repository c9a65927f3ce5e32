"""Medians, min and max over the runs; the targets; JSON and a Markdown table."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

KINDS = ("bifoga", "uppy", "bare")
TITLES = {"bifoga": "Bifoga", "uppy": "Uppy Dashboard + Tus", "bare": "bare input + img"}

# (key, label, unit): the cold rows, then the warm rows. Units: ms, bytes, count, ratio, Bps.
COLD_ROWS = [
    ("usable_ms", "Usable (paperclip works), cold", "ms"),
    ("worker_ready_ms", "Pyodide worker ready, cold", "ms"),
    ("bytes", "Bytes, cold load", "bytes"),
    ("requests", "Requests, cold load", "count"),
    ("bytes_before_usable", "Bytes before usable, cold", "bytes"),
    ("requests_before_usable", "Requests before usable, cold", "count"),
    ("longest_task_load_ms", "Longest main-thread task, load (to usable)", "ms"),
    ("longest_task_to_worker_ms", "Longest main-thread task, load (to worker ready)", "ms"),
    ("pick_to_preview_ms", "Pick → preview painted (Element Timing)", "ms"),
    ("pick_to_preview_loaded_ms", "Pick → preview loaded (naturalWidth > 0)", "ms"),
    ("pick_to_preview_decoded_ms", "Pick → preview img.decode() resolved", "ms"),
    ("pick_to_checked_ms", "Pick → check done (Ladda upp enabled)", "ms"),
    ("worker_processing_ms", "Photo processing in the worker (read, check, strip, decode)", "ms"),
    ("longest_task_preview_ms", "Longest main-thread task, preview", "ms"),
    ("longest_task_processing_ms", "Longest main-thread task, processing", "ms"),
    ("upload_ms", "Upload of the photo", "ms"),
    ("bare_create_patch_ms", "Bare fetch: tus creation POST + the PATCH", "ms"),
    ("upload_throughput", "Upload throughput", "Bps"),
    ("upload_vs_bare", "Upload throughput ÷ bare fetch (same run)", "ratio"),
    ("transfer_ms", "of which the tus transfer (create + PATCH)", "ms"),
    ("transfer_vs_bare", "Transfer alone ÷ bare fetch (same run)", "ratio"),
    ("finalise_ms", "of which the server's checks (finalisation)", "ms"),
    ("longest_task_upload_ms", "Longest main-thread task, upload", "ms"),
    ("peak_heap", "Peak JS heap, main thread (performance.memory)", "bytes"),
    ("renderer_peak_rss", "Peak renderer RSS (page + workers + wasm)", "bytes"),
]
WARM_ROWS = [
    ("usable_ms", "Usable, warm (reload)", "ms"),
    ("worker_ready_ms", "Pyodide worker ready, warm", "ms"),
    ("bytes", "Bytes, warm load", "bytes"),
    ("requests_from_server", "Requests answered by the server, warm (incl. 304)", "count"),
    ("longest_task_load_ms", "Longest main-thread task, warm load (to usable)", "ms"),
]
LONG_TASK_MS = 50


def stats(values: list) -> dict | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def failures(result: dict) -> list[str]:
    out = []
    for i, run in enumerate(result["cold"], 1):
        out += [f"cold {i} {kind}: {run[kind]['error']}" for kind in KINDS if "error" in run[kind]]
    for label in ("warm", "warm_throttled"):
        for kind, runs in result.get(label, {}).items():
            out += [f"{label} {i} {kind}: {r['error']}" for i, r in enumerate(runs, 1)
                    if "error" in r]
    for rate, kinds in result.get("at_once", {}).items():
        for kind, files in kinds.items():
            for what, runs in files.items():
                out += [f"at once {rate} {i} {kind} {what}: {r['error']}"
                        for i, r in enumerate(runs, 1) if "error" in r]
    return out


def add_derived(result: dict, photo_bytes: int) -> None:
    """Per-run values that need another page of the same run: the upload against bare fetch."""
    for run in result["cold"]:
        bare_ms = run["bare"].get("upload_ms")
        for kind in KINDS:
            ms = run[kind].get("upload_ms")
            run[kind]["upload_throughput"] = photo_bytes / (ms / 1000) if ms else None
            run[kind]["upload_vs_bare"] = bare_ms / ms if ms and bare_ms else None
            transfer = run[kind].get("transfer_ms")
            run[kind]["transfer_vs_bare"] = bare_ms / transfer if transfer and bare_ms else None


AT_ONCE_KEYS = ("usable_ms", "preview_ms", "checked_ms", "worker_ready_ms",
                 "bytes_before_usable", "longest_task_ms")


def _steps(runs: list[dict]) -> dict:
    from bench.measures import WORKER_STEPS

    steps = [r["worker_steps"] for r in runs if r.get("worker_steps")]
    return {key: stats([s.get(key) for s in steps]) for key, _ in WORKER_STEPS}


def summarise(result: dict) -> dict:
    summary = {"cold": {}, "warm": {}, "at_once": {}, "worker_steps": {}}
    for kind in KINDS:
        runs = [run[kind] for run in result["cold"]]
        summary["cold"][kind] = {key: stats([r.get(key) for r in runs]) for key, _, _ in COLD_ROWS}
        warm = result["warm"].get(kind, [])
        summary["warm"][kind] = {key: stats([r.get(key) for r in warm]) for key, _, _ in WARM_ROWS}
    # The issue's rows: per throttling rate, per page, per file picked at once; warm reloads.
    warm_by_rate = {"1x": result["warm"], "4x": result.get("warm_throttled", {})}
    for rate, kinds in result.get("at_once", {}).items():
        out = summary["at_once"][rate] = {}
        for kind, files in kinds.items():
            out[kind] = {what: {key: stats([r.get(key) for r in runs]) for key in AT_ONCE_KEYS}
                         for what, runs in files.items()}
            everything = [r for runs in files.values() for r in runs]
            out[kind]["all"] = {key: stats([r.get(key) for r in everything])
                                for key in AT_ONCE_KEYS}
            warm = warm_by_rate.get(rate, {}).get(kind, [])
            out[kind]["warm"] = {key: stats([r.get(key) for r in warm])
                                 for key in ("usable_ms", "worker_ready_ms")}
            if kind == "bifoga":
                summary["worker_steps"][rate] = {"cold": _steps(everything),
                                                 "warm": _steps(warm)}
    return summary


def _median(summary: dict, phase: str, kind: str, key: str):
    entry = summary[phase][kind].get(key)
    return entry["median"] if entry else None


def targets(summary: dict) -> list[dict]:
    """The issue's targets, judged on medians (long tasks: on the worst run). Not enforced."""
    med = lambda phase, kind, key: _median(summary, phase, kind, key)  # noqa: E731
    rows = []

    def row(name, value, goal, ok, note=""):
        rows.append({"target": name, "value": value, "goal": goal,
                     "pass": None if ok is None else bool(ok), "note": note})

    cold, uppy_cold = med("cold", "bifoga", "usable_ms"), med("cold", "uppy", "usable_ms")
    ratio = cold / uppy_cold if cold and uppy_cold else None
    row("Cold start (usable)", _fmt(cold, "ms"), "< 600 ms", cold is not None and cold < 600,
        f"{ratio:.2f} × Uppy's {_fmt(uppy_cold, 'ms')}" if ratio else "")
    warm = med("warm", "bifoga", "usable_ms")
    row("Warm start (usable)", _fmt(warm, "ms"), "< 300 ms",
        None if warm is None else warm < 300)
    before, uppy_bytes = med("cold", "bifoga", "bytes_before_usable"), med("cold", "uppy", "bytes")
    row("Bytes before usable", _fmt(before, "bytes"),
        f"< Uppy's cold bytes ({_fmt(uppy_bytes, 'bytes')})",
        before is not None and uppy_bytes is not None and before < uppy_bytes)
    for key, phase in (("longest_task_preview_ms", "preview"),
                       ("longest_task_processing_ms", "processing"),
                       ("longest_task_upload_ms", "upload")):
        worst = summary["cold"]["bifoga"].get(key)
        value = worst["max"] if worst else None
        row(f"No main-thread task > 50 ms during {phase}",
            "none" if value == 0 else _fmt(value, "ms") + " (worst run)",
            "no long task", None if value is None else value <= LONG_TASK_MS)
    preview, bare = med("cold", "bifoga", "pick_to_preview_ms"), med("cold", "bare",
                                                                     "pick_to_preview_ms")
    row("Pick → preview", _fmt(preview, "ms"), f"≤ 1.5 × bare ({_fmt(bare, 'ms')})",
        None if preview is None or bare is None else preview <= 1.5 * bare,
        f"{preview / bare:.2f} × bare" if preview and bare else "")
    up = med("cold", "bifoga", "upload_vs_bare")
    row("Upload throughput", _fmt(up, "ratio") + " × bare fetch", "≥ 0.8 × bare fetch",
        None if up is None else up >= 0.8)
    for line in issue_rows(summary):
        if line["goal"]:
            row(f"{line['measure']} ({line['pass']})", line["bifoga"], line["goal"], line["ok"],
                line["note"])
    return rows


# --- issue 12: a file picked the moment the paperclip works, side by side with Uppy -----------
def _at(summary: dict, rate: str, kind: str, what: str, key: str):
    entry = summary["at_once"].get(rate, {}).get(kind, {}).get(what, {}).get(key)
    return entry["median"] if entry else None


def issue_rows(summary: dict) -> list[dict]:
    """Bifoga and Uppy in the same run, each as a ratio to Uppy, per throttling rate.

    (measure, Bifoga's value, Uppy's value it is compared with, the goal on the ratio or on
    the value). All times from navigation; medians."""
    rows = []
    for rate in summary.get("at_once", {}):
        at = lambda kind, what, key: _at(summary, rate, kind, what, key)  # noqa: B023, E731
        uppy_thumb = at("uppy", "photo", "preview_ms")
        specs = [
            ("Paperclip usable", at("bifoga", "all", "usable_ms"),
             at("uppy", "all", "usable_ms"), "Uppy's usable", 1.0, None),
            ("Picture shown, photo picked at once", at("bifoga", "photo", "preview_ms"),
             uppy_thumb, "Uppy's thumbnail", 1.2, None),
            ('"Ladda upp" enabled, photo picked at once', at("bifoga", "photo", "checked_ms"),
             uppy_thumb, "Uppy's thumbnail", 2.0, None),
            ('"Ladda upp" enabled, PDF picked at once', at("bifoga", "pdf", "checked_ms"),
             at("uppy", "pdf", "checked_ms"), "Uppy's upload button", 1.0, None),
            ("Worker ready, cold (file picked at once)", at("bifoga", "all", "worker_ready_ms"),
             at("uppy", "all", "usable_ms"), "Uppy's usable", None, 3000),
            ("Worker ready, warm (reload)", at("bifoga", "warm", "worker_ready_ms"),
             at("uppy", "warm", "usable_ms"), "Uppy's warm usable", None, 1500),
            ("Bytes before usable", at("bifoga", "all", "bytes_before_usable"),
             at("uppy", "all", "bytes_before_usable"), "Uppy's", 1.0, None),
        ]
        for measure, mine, theirs, versus, max_ratio, max_ms in specs:
            unit = "bytes" if measure.startswith("Bytes") else "ms"
            ratio = mine / theirs if mine is not None and theirs else None
            if max_ratio is not None:
                goal, ok = f"≤ {max_ratio:g} × {versus}", None if ratio is None else (
                    ratio < max_ratio if unit == "bytes" else ratio <= max_ratio)
                goal = goal.replace("≤", "<") if unit == "bytes" else goal
            else:
                goal, ok = f"≤ {_fmt(max_ms, 'ms')}", None if mine is None else mine <= max_ms
            rows.append({"measure": measure, "pass": rate, "bifoga": _fmt(mine, unit),
                         "uppy": _fmt(theirs, unit) + f" ({versus})",
                         "ratio": "–" if ratio is None else f"{ratio:.2f}", "goal": goal,
                         "ok": ok, "note": "" if ratio is None else f"{ratio:.2f} × {versus}"})
    return rows


# --- formatting -----------------------------------------------------------------------------------
def _fmt(value, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "ms":
        return f"{value / 1000:.2f} s" if value >= 10_000 else f"{value:.0f} ms"
    if unit == "bytes":
        if value >= 1024 * 1024:
            return f"{value / 1024 / 1024:.2f} MiB"
        return f"{value / 1024:.1f} KiB"
    if unit == "Bps":
        return f"{value / 1024 / 1024:.0f} MiB/s"
    if unit == "ratio":
        return f"{value:.2f}"
    return f"{value:.0f}"


def _cell(entry: dict | None, unit: str) -> str:
    if entry is None:
        return "–"
    if entry["n"] == 1 or entry["min"] == entry["max"]:
        return _fmt(entry["median"], unit)
    return f"{_fmt(entry['median'], unit)} ({_fmt(entry['min'], unit)}–{_fmt(entry['max'], unit)})"


def markdown(report: dict) -> str:
    meta, summary = report["meta"], report["summary"]
    head = "| measure | " + " | ".join(TITLES[k] for k in KINDS) + " |"
    rule = "| --- |" + " --- |" * len(KINDS)
    lines = [
        "# Bifoga benchmark",
        "",
        f"{meta['cold_runs']} cold runs (new context, empty cache), {meta['warm_runs']} warm "
        f"runs (reload in the same context); Chromium {meta['browser']}; photo "
        f"{meta['photo_bytes']:,} bytes (4000×3000 JPEG, EXIF GPS); load average "
        f"{meta['loadavg_before'][0]} before, {meta['loadavg_after'][0]} after (2 cores is "
        f"idle below 2). Median (min–max).",
        "",
        head, rule,
    ]
    for phase, rows in (("cold", COLD_ROWS), ("warm", WARM_ROWS)):
        for key, label, unit in rows:
            cells = [_cell(summary[phase][k].get(key), unit) for k in KINDS]
            if all(c == "–" for c in cells):
                continue
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    rows = issue_rows(summary)
    if rows:
        lines += ["", "A file picked the moment the paperclip works (issue 12): cold loads unless "
                  "noted, times from navigation, medians; 4x = CPU throttled 4 × (DevTools).", "",
                  "| measure | pass | Bifoga | Uppy | Bifoga ÷ Uppy | goal | result |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for r in rows:
            result = {True: "pass", False: "FAIL", None: "n/a"}[r["ok"]]
            lines.append(f"| {r['measure']} | {r['pass']} | {r['bifoga']} | {r['uppy']} | "
                         f"{r['ratio']} | {r['goal']} | {result} |")
    lines += _steps_table(summary) + _bytes_table(report)
    lines += ["", "| target | value | goal | result |", "| --- | --- | --- | --- |"]
    for t in report["targets"]:
        result = {True: "pass", False: "FAIL", None: "n/a"}[t["pass"]]
        value = t["value"] + (f" ({t['note']})" if t["note"] else "")
        lines.append(f"| {t['target']} | {value} | {t['goal']} | {result} |")
    if meta.get("failures"):
        lines += ["", "Failed runs (left out of the numbers):"]
        lines += [f"- {failure}" for failure in meta["failures"]]
    lines += ["", "Notes:"] + [f"- {note}" for note in meta["notes"]]
    return "\n".join(lines) + "\n"


def _steps_table(summary: dict) -> list[str]:
    """The worker's start step by step: when each step ended (ms from navigation)."""
    from bench.measures import WORKER_STEPS

    columns = [(rate, phase) for rate in summary.get("worker_steps", {})
               for phase in ("cold", "warm")]
    if not columns:
        return []
    lines = ["", "The Pyodide worker's start, step by step (median ms from navigation when the "
             "step ended; cold: the loads above with a file picked at once):", "",
             "| step | " + " | ".join(f"{phase} {rate}" for rate, phase in columns) + " |",
             "| --- |" + " --- |" * len(columns)]
    for key, label in WORKER_STEPS:
        cells = []
        for rate, phase in columns:
            entry = summary["worker_steps"][rate][phase].get(key)
            cells.append(_fmt(entry["median"], "ms") if entry else "–")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def _bytes_table(report: dict) -> list[str]:
    """Where Bifoga's bytes before usable go, in its first unthrottled photo run."""
    runs = report.get("runs", {}).get("at_once", {}).get("1x", {}).get("bifoga", {}).get("photo")
    files = next((r["before_usable_files"] for r in runs or [] if "before_usable_files" in r),
                 None)
    if not files:
        return []
    lines = ["", "Bifoga's bytes before usable, by file (one run; headers included):", "",
             "| file | bytes |", "| --- | --- |"]
    lines += [f"| {path or '/'} | {_fmt(size, 'bytes')} |" for path, size in files.items()]
    return lines


def write(report: dict, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "latest.json", out_dir / "latest.md"
    json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    md_path.write_text(markdown(report))
    return json_path, md_path
