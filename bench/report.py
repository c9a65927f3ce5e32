"""Medians, min and max over the runs; the targets; JSON and a Markdown table."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

KINDS = ("bifoga", "uppy", "bare")
TITLES = {"bifoga": "Bifoga", "uppy": "Uppy Dashboard + Tus", "bare": "bare input + img"}

# (key, label, unit): the cold rows, then the warm rows. Units: ms, bytes, count, ratio, Bps.
COLD_ROWS = [
    ("usable_ms", "Usable (paperclip works; Bifoga: its native input), cold", "ms"),
    ("python_ready_ms", "Python up (Bifoga's UI mounted), cold", "ms"),
    ("worker_ready_ms", "Light worker ready, cold", "ms"),
    ("bytes", "Bytes, cold load", "bytes"),
    ("requests", "Requests, cold load", "count"),
    ("bytes_before_usable", "Bytes before usable, cold", "bytes"),
    ("requests_before_usable", "Requests before usable, cold", "count"),
    ("longest_task_load_ms", "Longest main-thread task, load (to usable)", "ms"),
    ("longest_task_to_python_ms", "Longest main-thread task, load (to Python up)", "ms"),
    ("longest_task_to_worker_ms", "Longest main-thread task, load (to worker ready)", "ms"),
    ("pick_to_preview_ms", "Pick → preview painted (Element Timing)", "ms"),
    ("pick_to_preview_loaded_ms", "Pick → preview loaded (naturalWidth > 0)", "ms"),
    ("pick_to_preview_decoded_ms", "Pick → preview img.decode() resolved", "ms"),
    ("pick_to_checked_ms", "Pick → Ladda upp enabled (Bifoga: the first-bytes check)", "ms"),
    ("pick_to_verified_ms", "Pick → full check done (metadata removed, data-verified)", "ms"),
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
    ("python_ready_ms", "Python up, warm", "ms"),
    ("worker_ready_ms", "Light worker ready, warm", "ms"),
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


AT_ONCE_KEYS = ("usable_ms", "python_ms", "mouse_down_ms", "input_delay_ms", "chooser_click_ms",
                "pick_ms",
                "preview_ms", "checked_ms", "verified_ms",
                "in_chat_ms", "worker_ready_ms", "bytes_before_usable", "longest_task_load_ms",
                "longest_task_flow_ms")
WARM_KEYS = ("usable_ms", "python_ready_ms", "worker_ready_ms")


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
            out[kind]["warm"] = {key: stats([r.get(key) for r in warm]) for key in WARM_KEYS}
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

    uppy_cold = med("cold", "uppy", "usable_ms")
    for key, mark in (("usable_ms", "usable"), ("python_ready_ms", "Python up")):
        cold = med("cold", "bifoga", key)
        ratio = cold / uppy_cold if cold and uppy_cold else None
        row(f"Cold start ({mark})", _fmt(cold, "ms"), "< 600 ms",
            None if cold is None else cold < 600,
            f"{ratio:.2f} × Uppy's usable {_fmt(uppy_cold, 'ms')}" if ratio else "")
    for key, mark in (("usable_ms", "usable"), ("python_ready_ms", "Python up")):
        warm = med("warm", "bifoga", key)
        row(f"Warm start ({mark})", _fmt(warm, "ms"), "< 300 ms",
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
        if line["has_goal"]:
            row(f"{line['measure']} ({line['pass']})", line["bifoga"], line["goal"], line["ok"],
                line["note"])
    return rows


# --- a file picked the moment the paperclip works, side by side with Uppy -----------
def _at(summary: dict, rate: str, kind: str, what: str, key: str, stat: str = "median"):
    entry = summary["at_once"].get(rate, {}).get(kind, {}).get(what, {}).get(key)
    return entry[stat] if entry else None


def _cold(summary: dict, kind: str, key: str):
    entry = summary.get("cold", {}).get(kind, {}).get(key)
    return entry["median"] if entry else None


def issue_rows(summary: dict) -> list[dict]:
    """The first-pick table: per throttling rate, Bifoga next to Uppy in the same run, the ratio
    and the goal (on the ratio or on Bifoga's value). Times from navigation, medians; long tasks
    the worst run. Rows without a goal are shown so that no work hides behind an earlier mark."""
    rows = []

    def add(rate: str, measure: str, mine, theirs, versus: str, unit: str = "ms", *,
            max_ratio: float | None = None, limit: float | None = None, strict: bool = False,
            at_least: bool = False) -> None:
        """max_ratio: a goal on mine ÷ theirs (≤, or < when strict); limit: on mine itself (≤,
        < when strict, ≥ when at_least); neither: no goal, shown for what it tells."""
        ratio = mine / theirs if mine is not None and theirs else None
        op = ">=" if at_least else "<" if strict else "<="
        sign = {"<=": "≤", "<": "<", ">=": "≥"}[op]
        if max_ratio is not None:
            goal, value, bound = f"{sign} {max_ratio:g} × {versus}", ratio, max_ratio
        elif limit is not None:
            goal, value, bound = f"{sign} {_fmt(limit, unit)}", mine, limit
        else:
            goal, value, bound = "–", None, None
        ok = None if bound is None or value is None else {
            "<=": value <= bound, "<": value < bound, ">=": value >= bound}[op]
        rows.append({"measure": measure, "pass": rate, "bifoga": _fmt(mine, unit),
                     "uppy": _fmt(theirs, unit) + (f" ({versus})" if theirs is not None else ""),
                     "ratio": "–" if ratio is None else f"{ratio:.2f}", "goal": goal,
                     "has_goal": bound is not None, "ok": ok,
                     "note": "" if ratio is None else f"{ratio:.2f} × {versus}"})

    for rate in summary.get("at_once", {}):
        at = lambda kind, what, key, stat="median": _at(summary, rate, kind, what,  # noqa: B023, E731
                                                        key, stat)
        uppy_usable, thumb = at("uppy", "all", "usable_ms"), at("uppy", "photo", "preview_ms")
        uppy_pdf = at("uppy", "pdf", "checked_ms")
        add(rate, "Paperclip usable (native input listening)", at("bifoga", "all", "usable_ms"),
            uppy_usable, "Uppy's usable", max_ratio=1.0)
        add(rate, "Python up (UI mounted)", at("bifoga", "all", "python_ms"), uppy_usable,
            "Uppy's usable")
        # When the bench's click and chosen file land: the driver's round trips after usable,
        # and the wait for the page's main thread (the input delay).
        add(rate, "The bench's click (mousedown made)", at("bifoga", "all", "mouse_down_ms"),
            at("uppy", "all", "mouse_down_ms"), "Uppy's")
        add(rate, "of which input delay (mousedown → handled)",
            at("bifoga", "all", "input_delay_ms"), at("uppy", "all", "input_delay_ms"), "Uppy's")
        add(rate, "The chooser opens (the page handles the click)",
            at("bifoga", "all", "chooser_click_ms"), at("uppy", "all", "chooser_click_ms"),
            "Uppy's")
        add(rate, "The pick lands (file input's change event)", at("bifoga", "all", "pick_ms"),
            at("uppy", "all", "pick_ms"), "Uppy's")
        add(rate, "Bytes before usable", at("bifoga", "all", "bytes_before_usable"),
            at("uppy", "all", "bytes_before_usable"), "Uppy's", "bytes", max_ratio=1.0,
            strict=True)
        add(rate, "Picture shown, photo picked at once", at("bifoga", "photo", "preview_ms"),
            thumb, "Uppy's thumbnail", max_ratio=1.2)
        add(rate, '"Ladda upp" enabled, photo picked at once', at("bifoga", "photo", "checked_ms"),
            thumb, "Uppy's thumbnail", max_ratio=2.0)
        pdf = at("bifoga", "pdf", "checked_ms")
        add(rate, '"Ladda upp" enabled, PDF picked at once (strict reading)', pdf, uppy_pdf,
            "Uppy's upload button, PDF", max_ratio=1.0)
        add(rate, '"Ladda upp" enabled, PDF picked at once (other reading)', pdf, thumb,
            "Uppy's thumbnail, photo", max_ratio=1.0)
        add(rate, "Full check done (metadata removed), photo picked at once",
            at("bifoga", "photo", "verified_ms"), thumb, "Uppy's thumbnail")
        add(rate, "Full check done, PDF picked at once", at("bifoga", "pdf", "verified_ms"),
            uppy_pdf, "Uppy's upload button, PDF")
        for what, label in (("photo", "Photo"), ("pdf", "PDF")):
            add(rate, f"{label} picked at once → in the chat (upload pressed when enabled)",
                at("bifoga", what, "in_chat_ms"),
                at("uppy", what, "in_chat_ms"), "Uppy's upload done")
        add(rate, "Worker ready, cold (file picked at once)",
            at("bifoga", "all", "worker_ready_ms"), uppy_usable, "Uppy's usable", limit=3000)
        add(rate, "Worker ready, warm (reload)", at("bifoga", "warm", "worker_ready_ms"),
            at("uppy", "warm", "usable_ms"), "Uppy's warm usable", limit=1500)
        add(rate, "Keep: longest main-thread task, load (to Python up; Uppy: to usable)",
            at("bifoga", "all", "longest_task_load_ms", "max"),
            at("uppy", "all", "longest_task_load_ms", "max"), "Uppy's, worst run",
            limit=LONG_TASK_MS)
        add(rate, "Keep: longest main-thread task, pick → in the chat",
            at("bifoga", "all", "longest_task_flow_ms", "max"),
            at("uppy", "all", "longest_task_flow_ms", "max"), "Uppy's, worst run",
            limit=LONG_TASK_MS)
        for key, label in (("usable_ms", "paperclip usable"), ("python_ready_ms", "Python up")):
            add(rate, f"Keep: warm start, {label}", at("bifoga", "warm", key),
                at("uppy", "warm", "usable_ms"), "Uppy's warm usable", limit=300, strict=True)
        if rate == "1x":  # the cold runs' upload of the 9.5 MiB photo, unthrottled
            add(rate, "Keep: upload transfer ÷ bare fetch (cold runs, 9.5 MiB photo)",
                _cold(summary, "bifoga", "transfer_vs_bare"),
                _cold(summary, "uppy", "upload_vs_bare"), "Uppy's whole upload ÷ bare", "ratio",
                limit=0.8, at_least=True)
    return rows


def issue_table(rows: list[dict]) -> list[str]:
    lines = ["| measure | pass | Bifoga | Uppy | Bifoga ÷ Uppy | goal | result |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        result = "–" if not r["has_goal"] else {True: "pass", False: "FAIL", None: "n/a"}[r["ok"]]
        ratio = "–" if r["measure"].startswith("Keep: upload") else r["ratio"]
        lines.append(f"| {r['measure']} | {r['pass']} | {r['bifoga']} | {r['uppy']} | "
                     f"{ratio} | {r['goal']} | {result} |")
    return lines


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
        lines += ["", ISSUE_CAPTION, ""] + issue_table(rows)
    lines += _steps_table(summary) + _bytes_table(report)
    lines += ["", "| target | value | goal | result |", "| --- | --- | --- | --- |"]
    for t in report["targets"]:
        result = {True: "pass", False: "FAIL", None: "n/a"}[t["pass"]]
        value = t["value"] + (f" ({t['note']})" if t["note"] else "")
        lines.append(f"| {t['target']} | {value} | {t['goal']} | {result} |")
    profiles = [p["text"] for p in report.get("profiles", {}).values() if "text" in p]
    profiles += [f"Profile {rate} failed: {p['error']}"
                 for rate, p in report.get("profiles", {}).items() if "error" in p]
    if profiles:
        lines += ["", "## Profiles (one traced run per pass, not in the numbers)", ""] + profiles
    if meta.get("failures"):
        lines += ["", "Failed runs (left out of the numbers):"]
        lines += [f"- {failure}" for failure in meta["failures"]]
    lines += ["", "Notes:"] + [f"- {note}" for note in meta["notes"]]
    return "\n".join(lines) + "\n"


ISSUE_CAPTION = ("A file picked the moment the paperclip works: cold loads unless "
                 "noted, times from navigation, medians (long tasks: the worst run); 4x = CPU "
                 "throttled 4 × (DevTools); the page presses its upload button the moment it "
                 "is enabled. Rows with goal – have no target and are there so that no work "
                 "hides behind an earlier mark.")


def readme_section(report: dict) -> str:
    """The first-pick table as the README's Performance section shows it: the run, its load, the
    table, the worker's steps (bench/results/readme-first-pick.md)."""
    meta = report["meta"]
    rows = issue_rows(report["summary"])
    lines = [
        f"`make bench`, run of {meta['date'][:16].replace('T', ' ')} UTC: "
        f"{meta['at_once_runs']} cold loads per page, file and pass, {meta['warm_runs']} warm "
        f"reloads, {meta['cold_runs']} cold runs with the 9.5 MiB photo; load average "
        f"{meta['loadavg_before'][0]} before, {meta['loadavg_after'][0]} after, on "
        f"{meta['cpus']} cores; Chromium {meta['browser']}; {meta['seconds'] / 60:.0f} minutes.",
        "", ISSUE_CAPTION, ""] + issue_table(rows) + _steps_table(report["summary"])
    if meta.get("failures"):
        lines += ["", "Failed runs (left out of the numbers):"]
        lines += [f"- {failure}" for failure in meta["failures"]]
    return "\n".join(lines) + "\n"


def _steps_table(summary: dict) -> list[str]:
    """The worker's start step by step: when each step ended (ms from navigation)."""
    from bench.measures import WORKER_STEPS

    columns = [(rate, phase) for rate, phases in summary.get("worker_steps", {}).items()
               for phase in ("cold", "warm") if any(phases[phase].values())]
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
    if report["summary"].get("at_once"):
        (out_dir / "readme-first-pick.md").write_text(readme_section(report))
    return json_path, md_path
