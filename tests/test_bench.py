"""`make bench`'s own logic: issue 12's table from known numbers, the trace summary from a known
trace, and (e2e) the marks and the profile of an at-once run against a stand-in page that
behaves as the spec of index.html + static/shell.js says. No timing is asserted."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench import harness, profiling, report


# --- issue 12's table ---------------------------------------------------------------------------
def _run(**marks: float) -> dict:
    base = {"usable_ms": 100.0, "python_ms": 600.0, "pick_ms": 150.0, "worker_ready_ms": 2500.0,
            "bytes_before_usable": 10_000, "longest_task_load_ms": 0.0,
            "longest_task_flow_ms": 0.0}
    return {**base, **marks}


def _result() -> dict:
    """Two passes; Bifoga and Uppy, a photo and a PDF each; warm reloads; one cold run each."""
    def at_once(scale: float) -> dict:
        return {
            "bifoga": {
                "photo": [_run(preview_ms=900 * scale, checked_ms=950 * scale,
                               verified_ms=2800 * scale, in_chat_ms=3000 * scale)],
                "pdf": [_run(checked_ms=700 * scale, verified_ms=2700 * scale,
                             in_chat_ms=2900 * scale, longest_task_load_ms=120.0)],
            },
            "uppy": {
                "photo": [_run(usable_ms=200.0, python_ms=None, worker_ready_ms=None,
                               bytes_before_usable=20_000, preview_ms=800 * scale,
                               checked_ms=300 * scale, in_chat_ms=350 * scale)],
                "pdf": [_run(usable_ms=200.0, python_ms=None, worker_ready_ms=None,
                             bytes_before_usable=20_000, checked_ms=300 * scale,
                             in_chat_ms=340 * scale)],
            },
        }

    warm = {"bifoga": [{"usable_ms": 40.0, "python_ready_ms": 250.0,
                        "worker_ready_ms": 1400.0}],
            "uppy": [{"usable_ms": 60.0}], "bare": []}
    cold = {"bifoga": {"transfer_vs_bare": 0.9, "usable_ms": 100.0},
            "uppy": {"upload_vs_bare": 0.7, "usable_ms": 200.0}, "bare": {"usable_ms": 50.0}}
    return {"cold": [cold], "warm": warm, "warm_throttled": {"bifoga": warm["bifoga"],
                                                              "uppy": warm["uppy"]},
            "at_once": {"1x": at_once(1.0), "4x": at_once(4.0)}}


def _rows() -> dict[tuple[str, str], dict]:
    summary = report.summarise(_result())
    return {(r["pass"], r["measure"]): r for r in report.issue_rows(summary)}


def test_issue_rows_compare_with_uppy_in_the_same_pass() -> None:
    rows = _rows()
    usable = rows[("1x", "Paperclip usable (native input listening)")]
    assert (usable["bifoga"], usable["ratio"], usable["goal"], usable["ok"]) == (
        "100 ms", "0.50", "≤ 1 × Uppy's usable", True)
    shown = rows[("4x", "Picture shown, photo picked at once")]
    assert shown["ratio"] == "1.12" and shown["ok"] is True  # 3600 ÷ 3200
    photo = rows[("1x", '"Ladda upp" enabled, photo picked at once')]
    assert photo["ratio"] == "1.19" and photo["goal"] == "≤ 2 × Uppy's thumbnail" and photo["ok"]
    # The PDF: both readings, each saying what it compares with.
    strict = rows[("1x", '"Ladda upp" enabled, PDF picked at once (strict reading)')]
    assert (strict["ratio"], strict["ok"]) == ("2.33", False)
    assert "upload button" in strict["goal"]
    other = rows[("1x", '"Ladda upp" enabled, PDF picked at once (other reading)')]
    assert (other["ratio"], other["ok"]) == ("0.88", True)
    assert "thumbnail" in other["goal"]
    assert rows[("1x", "Bytes before usable")]["goal"] == "< 1 × Uppy's"


def test_work_after_the_button_is_shown_without_a_goal() -> None:
    rows = _rows()
    for measure in ("Python up (UI mounted)",
                    "Full check done (metadata removed), photo picked at once",
                    "Full check done, PDF picked at once",
                    "Photo picked at once → in the chat (upload pressed when enabled)",
                    "PDF picked at once → in the chat (upload pressed when enabled)"):
        row = rows[("1x", measure)]
        assert row["goal"] == "–" and not row["has_goal"] and row["bifoga"] != "–", measure
    assert rows[("1x", "Full check done, PDF picked at once")]["bifoga"] == "2700 ms"


def test_keep_rows() -> None:
    rows = _rows()
    load = rows[("1x", "Keep: longest main-thread task, load (to Python up; Uppy: to usable)")]
    assert (load["bifoga"], load["ok"]) == ("120 ms", False)  # the worst run counts
    assert rows[("1x", "Keep: longest main-thread task, pick → in the chat")]["ok"] is True
    assert rows[("1x", "Keep: warm start, paperclip usable")]["ok"] is True
    assert rows[("1x", "Keep: warm start, Python up")]["ok"] is True
    transfer = rows[("1x", "Keep: upload transfer ÷ bare fetch (cold runs, 9.5 MiB photo)")]
    assert (transfer["bifoga"], transfer["goal"], transfer["ok"]) == ("0.90", "≥ 0.80", True)
    assert ("4x", "Keep: upload transfer ÷ bare fetch (cold runs, 9.5 MiB photo)") not in rows
    assert rows[("4x", "Worker ready, warm (reload)")]["ok"] is True


def test_missing_numbers_are_not_a_pass() -> None:
    result = _result()
    for runs in result["at_once"]["1x"]["bifoga"].values():
        for run in runs:
            run["verified_ms"] = run["checked_ms"] = None
    rows = {(r["pass"], r["measure"]): r for r in report.issue_rows(report.summarise(result))}
    row = rows[("1x", '"Ladda upp" enabled, photo picked at once')]
    assert (row["bifoga"], row["ok"]) == ("–", None)
    lines = report.issue_table([row])
    assert lines[-1].endswith("| n/a |")


def test_readme_section_and_markdown() -> None:
    result = _result()
    report.add_derived(result, 1000)
    summary = report.summarise(result)
    full = {"meta": {"date": "2026-12-02T11:00:00+00:00", "browser": "1", "cold_runs": 1,
                     "warm_runs": 1, "at_once_runs": 1, "photo_bytes": 1000, "cpus": 2,
                     "seconds": 600.0, "loadavg_before": [1.0], "loadavg_after": [2.0],
                     "failures": [], "notes": []},
            "summary": summary, "targets": report.targets(summary), "runs": {},
            "profiles": {"1x": {"text": "### Profile 1x\n"}, "4x": {"error": "boom"}}}
    section = report.readme_section(full)
    assert section.startswith("`make bench`, run of 2026-12-02 11:00 UTC")
    assert section.count("\n| ") == 2 + len(report.issue_rows(summary))
    text = report.markdown(full)
    assert "### Profile 1x" in text and "Profile 4x failed: boom" in text
    assert "Cold start (Python up)" in text


# --- the trace summary -------------------------------------------------------------------------
def _trace(path: Path) -> Path:
    """A renderer (pid 1) with a main thread and a worker, and an idle other renderer."""
    ms = 1000  # trace times are µs
    nav = 5_000 * ms
    meta = [{"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "args": {"name": name}}
            for pid, tid, name in ((1, 1, "CrRendererMain"), (1, 7, "DedicatedWorker thread"),
                                   (2, 2, "CrRendererMain"))]
    events = meta + [
        {"ph": "R", "name": "navigationStart", "pid": 1, "tid": 1, "ts": nav - 900 * ms,
         "args": {"data": {"documentLoaderURL": ""}}},
        {"ph": "R", "name": "navigationStart", "pid": 1, "tid": 1, "ts": nav,
         "args": {"data": {"documentLoaderURL": "http://127.0.0.1:1/#visit=v"}}},
        {"ph": "R", "name": "navigationStart", "pid": 2, "tid": 2, "ts": nav + 9 * ms,
         "args": {"data": {"documentLoaderURL": ""}}},  # a WebUI page of the browser
        # a 120 ms task on the main thread: 100 ms of script, of which 30 ms compiling
        {"ph": "X", "name": "RunTask", "pid": 1, "tid": 1, "ts": nav + 10 * ms, "dur": 120 * ms},
        {"ph": "X", "name": "ThreadControllerImpl::RunTask", "pid": 1, "tid": 1,
         "ts": nav + 10 * ms, "dur": 120 * ms},
        {"ph": "X", "name": "FunctionCall", "pid": 1, "tid": 1, "ts": nav + 15 * ms,
         "dur": 100 * ms},
        {"ph": "B", "name": "v8.compile", "pid": 1, "tid": 1, "ts": nav + 20 * ms},
        {"ph": "E", "name": "v8.compile", "pid": 1, "tid": 1, "ts": nav + 50 * ms},
        # a task outside the window (after the file was in the chat)
        {"ph": "X", "name": "RunTask", "pid": 1, "tid": 1, "ts": nav + 5000 * ms,
         "dur": 80 * ms},
        # the worker: 400 ms of GC-free script
        {"ph": "X", "name": "EvaluateScript", "pid": 1, "tid": 7, "ts": nav + 200 * ms,
         "dur": 1, "args": {"data": {"url": "http://x/static/vendor/core.js?x=1"}}},
        {"ph": "X", "name": "RunTask", "pid": 1, "tid": 7, "ts": nav + 300 * ms,
         "dur": 400 * ms},
        {"ph": "X", "name": "v8.run", "pid": 1, "tid": 7, "ts": nav + 300 * ms,
         "dur": 400 * ms},
        # the worker's samples: 3 ms in a wasm function, 1 ms idle
        {"ph": "P", "name": "Profile", "pid": 1, "tid": 7, "id": "0x1", "ts": nav,
         "args": {"data": {"startTime": nav + 300 * ms}}},
        {"ph": "P", "name": "ProfileChunk", "pid": 1, "tid": 99, "id": "0x1", "ts": nav,
         "args": {"data": {"cpuProfile": {
             "nodes": [{"id": 1, "callFrame": {"functionName": "(root)"}},
                       {"id": 2, "parent": 1, "callFrame": {
                           "functionName": "strip_exif", "url": "wasm://wasm/abc",
                           "lineNumber": 0}},
                       {"id": 3, "parent": 1, "callFrame": {"functionName": "(idle)"}}],
             "samples": [2, 2, 2, 3, 2]}, "timeDeltas": [0, 1000, 1000, 1000, 1000]}}},
        # another process's profile with the same id: not mixed in
        {"ph": "P", "name": "Profile", "pid": 2, "tid": 2, "id": "0x1", "ts": nav,
         "args": {"data": {"startTime": nav}}},
    ]
    path.write_text(json.dumps({"traceEvents": events}))
    return path


def test_trace_summary(tmp_path: Path) -> None:
    summary = profiling.summarise(_trace(tmp_path / "t.json"),
                                  {"usable_ms": 5.0, "pick_ms": 8.0, "in_chat_ms": 1000.0})
    main, worker = summary["threads"]
    assert main["thread"] == "main thread" and main["busy_ms"] == 120
    assert dict(main["events"]) == {"FunctionCall": 70.0, "v8.compile": 30.0,
                                    "ThreadControllerImpl::RunTask": 20.0}
    assert dict(main["activities"])["compile"] == 30.0
    assert main["long_tasks"] == [{"start_ms": 10, "ms": 120, "events": [
        ("FunctionCall", 70.0), ("v8.compile", 30.0), ("ThreadControllerImpl::RunTask", 20.0)]}]
    assert worker["thread"] == "worker core.js" and worker["busy_ms"] == 400
    assert worker["functions"] == [("strip_exif abc:1", 3.0)]
    text = profiling.text(summary, "Profile")
    assert "1 tasks over 50 ms, 120 ms in all; the longest:" in text
    assert "at 10 ms, 120 ms: FunctionCall 70" in text
    assert "usable 5 ms, pick 8 ms, in the chat 1000 ms" in text


def test_self_times_clip_to_the_window() -> None:
    spans = [(0.0, 100.0, "outer"), (10.0, 30.0, "inner"), (90.0, 120.0, "next")]
    assert profiling.self_times(spans, 20.0, 95.0) == {"outer": 60.0, "inner": 10.0,
                                                        "next": 5.0}


# --- e2e: the marks of an at-once run, against a page that follows the spec ----------------------
# index.html's native input over the paperclip, static/shell.js's queue and bifogaUsable, Python
# up later (bifogaReady), "Ladda upp" enabled after the first-bytes check, data-verified after
# the worker's check, the dialog closed after the upload round.
STAND_IN = """<!doctype html>
<html><body>
<label class="paperclip">📎<input type="file" id="attachment-input" multiple
  aria-label="Bifoga fil"></label>
<dialog id="preview-dialog"><ul></ul>
  <div class="dialog-actions"><button class="primary" disabled>Ladda upp</button></div></dialog>
<script>
  const queue = [];
  let up = false;
  const input = document.getElementById("attachment-input");
  input.addEventListener("change", () => { queue.push(...input.files); if (up) drain(); });
  window.bifogaUsable = performance.now();
  performance.mark("bifoga:usable");
  // Python comes up late enough that the pick waits in the queue.
  setTimeout(() => { up = true; window.bifogaReady = performance.now(); drain(); }, 3000);
  setTimeout(() => { window.bifogaLightReady = performance.now(); }, 3100);
  function drain() { while (queue.length) show(queue.shift()); }
  function show(file) {
    const dialog = document.getElementById("preview-dialog");
    const button = dialog.querySelector("button.primary");
    const li = document.createElement("li");
    li.className = "preview-item";
    if (file.type.startsWith("image/")) {
      const img = document.createElement("img");
      img.className = "preview-image";
      img.src = URL.createObjectURL(file);
      li.append(img);
    }
    dialog.querySelector("ul").append(li);
    dialog.show();
    setTimeout(() => { button.disabled = false; }, 20);
    setTimeout(() => { li.dataset.verified = "true"; }, 200);
    button.onclick = () => {
      button.disabled = true;
      const closeWhenVerified = () => li.dataset.verified
        ? setTimeout(() => dialog.close(), 20) : setTimeout(closeWhenVerified, 10);
      closeWhenVerified();
    };
  }
</script>
</body></html>
"""


@pytest.fixture
def stand_in(tmp_path: Path) -> Iterator[SimpleNamespace]:
    (tmp_path / "app.html").write_text(STAND_IN)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield SimpleNamespace(origin=origin, new_visit=lambda: {
            "patient_url": origin + "/app.html#visit=v&token=t"})
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    from PIL import Image

    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (64, 48), (200, 100, 50)).save(photo, quality=90)
    pdf = tmp_path / "referral.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
    return {"photo": photo, "pdf": pdf}


@pytest.mark.e2e
def test_at_once_marks_and_profile(stand_in: SimpleNamespace, files: dict[str, Path],
                                   tmp_path: Path) -> None:
    with harness.Bench(stand_in, files["photo"]) as bench:
        kind = harness.KINDS["bifoga"]
        photo = bench.at_once_run(kind, stand_in.new_visit(), files["photo"], 1.0)
        pdf = bench.at_once_run(kind, stand_in.new_visit(), files["pdf"], 4.0)
        logged: list[str] = []
        profiles = harness.run_profiles(bench, stand_in, files["photo"], tmp_path / "out",
                                        logged.append)
    assert photo["missing"] == [] and pdf["missing"] == [], (photo, pdf)
    # What follows from what (no timing): the click after usable, the pick after the click,
    # "Ladda upp" enabled once Python is up and the file picked, clicked by the page after
    # that, the dialog closed after the click and the worker's check.
    for run in (photo, pdf):
        assert (run["usable_ms"] <= run["mouse_down_ms"] <= run["chooser_click_ms"]
                <= run["pick_ms"] <= run["checked_ms"])
        assert run["python_ms"] <= run["checked_ms"] <= run["upload_click_ms"]
        assert max(run["upload_click_ms"], run["verified_ms"]) <= run["in_chat_ms"]
    # The mouse clicked where the page said the picker was.
    assert not photo["click_missed"] and photo["input_delay_ms"] >= 0
    assert photo["preview_ms"] is not None and pdf["preview_ms"] is None
    assert photo["bytes_before_usable"] > 0 and photo["worker_ready_ms"] is not None
    assert photo["longest_task_flow_ms"] is not None
    assert set(profiles) == {"1x", "4x"}, profiles
    for name, profile in profiles.items():
        assert "error" not in profile, profile
        assert profile["summary"]["threads"][0]["thread"] == "main thread"
        assert (tmp_path / "out" / f"trace-bifoga-photo-{name}.json").stat().st_size > 0
        assert (tmp_path / "out" / f"profile-{name}.md").read_text() == profile["text"]
