"""`make bench`'s own logic: the first-pick table from known numbers, the trace summary from a known
trace, and (e2e) the marks and the profile of an at-once run against a stand-in page that
behaves as the spec of index.html + static/shell.js says. No timing is asserted."""

from __future__ import annotations

import asyncio
import functools
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench import harness, profiling, report, shaped, shaping
from tests.live_server import run_async


# --- the first-pick table -----------------------------------------------------------------------
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


# --- the shaped network: the proxy's link, and the pass's targets --------------------------------
def _timed(coro_fn) -> float:
    """Seconds `coro_fn()` took, in an event loop of its own."""
    async def timed() -> float:
        started = time.monotonic()
        await coro_fn()
        return time.monotonic() - started

    return run_async(timed())


# asyncio may wake a sleeper up to its clock's resolution early: lower bounds allow for it.
EARLY = 0.005


def test_token_bucket_spreads_bytes_over_its_rate_and_shares_it() -> None:
    rate, chunk, n = 4_000_000, 8192, 50  # 400 KiB in 8 KiB pieces at 4 MB/s: about 0.1 s

    async def send(bucket: shaping.TokenBucket) -> None:
        for _ in range(n):
            await bucket.take(chunk)

    async def one() -> None:
        await send(shaping.TokenBucket(rate, burst=chunk))

    async def two_sharing() -> None:
        bucket = shaping.TokenBucket(rate, burst=chunk)
        await asyncio.gather(send(bucket), send(bucket))

    assert _timed(one) >= (n * chunk - chunk) / rate - EARLY
    assert _timed(two_sharing) >= (2 * n * chunk - chunk) / rate - EARLY


def test_request_heads_find_upload_bodies() -> None:
    heads = shaping.RequestHeads()
    # A head split across chunks; a GET has no body.
    assert heads.feed(b"GET /static/vendor/pyodide-1/x.wasm HTTP/1.1\r\nHo") == ([], 0)
    assert heads.feed(b"st: a\r\n\r\n") == ([("GET", "/static/vendor/pyodide-1/x.wasm")], 0)
    # A JSON POST is not an upload; the tus PATCH after it in the same chunk is.
    json_post = (b"POST /api/m HTTP/1.1\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 2\r\n\r\n{}")
    patch = (b"PATCH /api/u/1 HTTP/1.1\r\nContent-Type: application/offset+octet-stream\r\n"
             b"Content-Length: 10\r\n\r\n0123")
    assert heads.feed(json_post + patch) == ([("POST", "/api/m"), ("PATCH", "/api/u/1")], 4)
    assert heads.feed(b"456789GET / HTTP/1.1\r\n\r\n") == ([("GET", "/")], 6)
    assert heads.path == "/"
    # A tus creation with upload: a POST body of the tus type.
    creation = (b"POST /api/u HTTP/1.1\r\ncontent-type: application/offset+octet-stream; x=1\r\n"
                b"content-length: 3\r\n\r\nabc")
    assert heads.feed(creation) == ([("POST", "/api/u")], 3)


class _Origin:
    """A tiny HTTP/1.1 server for the proxy's tests: GET /size/N answers N bytes, a path ending
    in /cached 304; any other request reads its body and answers 204."""

    async def __aenter__(self) -> _Origin:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                line, *fields = head.decode().split("\r\n")
                length = next((int(f.split(":")[1]) for f in fields
                               if f.lower().startswith("content-length:")), 0)
                await reader.readexactly(length)
                path = line.split()[1].split("?")[0]
                size = int(path.rsplit("/", 1)[1]) if "/size/" in path else 0
                status = ("200 OK" if size else "304 Not Modified" if path.endswith("/cached")
                          else "204 No Content")
                writer.write(f"HTTP/1.1 {status}\r\nContent-Length: {size}\r\n\r\n".encode()
                             + b"x" * size)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def _request(port: int, method: str, path: str, body: bytes = b"") -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    kind = "Content-Type: application/offset+octet-stream\r\n" if body else ""
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: x\r\n{kind}Content-Length: {len(body)}"
                 f"\r\n\r\n".encode() + body)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    data = await reader.readexactly(length)
    writer.close()
    return data


def _shaped(profile: shaping.Profile, test) -> tuple[float, dict]:
    """Run `test(proxy_port)` through a proxy with `profile`: its seconds, and the tally."""
    async def main() -> tuple[float, dict]:
        async with _Origin() as origin:
            proxy = shaping.ShapingProxy(origin.port, profile)
            await proxy.open()
            try:
                started = time.monotonic()
                await test(proxy.port)
                return time.monotonic() - started, proxy.tally.as_dict()
            finally:
                await proxy.close()

    return run_async(main())


def test_proxy_round_trip_costs_the_handshake_and_the_rtt() -> None:
    fast = 80e6  # 10 MB/s each way: the bytes take no time to speak of
    profile = shaping.Profile("test", fast, fast, rtt_s=0.1)

    async def small(port: int) -> None:
        assert await _request(port, "GET", "/size/10") == b"x" * 10

    seconds, tally = _shaped(profile, small)
    assert seconds >= 2 * profile.rtt_s - EARLY  # the handshake, then request and answer
    assert tally["requests"][0][1:] == ["GET", "/size/10"]


def test_proxy_shapes_down_and_up_on_one_shared_link() -> None:
    down, up, n = 2_000_000, 1_000_000, 100_000  # bytes/s: 16 and 8 Mbit/s; 100 kB each
    profile = shaping.Profile("test", down * 8, up * 8, rtt_s=0.01)

    async def two_downloads(port: int) -> None:
        got = await asyncio.gather(_request(port, "GET", f"/size/{n}"),
                                   _request(port, "GET", f"/size/{n}"))
        assert [len(g) for g in got] == [n, n]

    seconds, tally = _shaped(profile, two_downloads)
    assert seconds >= (2 * n - shaping.CHUNK) / down - EARLY  # the two share the down link
    assert tally["down_bytes"] >= 2 * n and tally["first_upload_s"] is None

    async def upload(port: int) -> None:
        await _request(port, "PATCH", "/api/u/1", b"y" * n)

    seconds, tally = _shaped(profile, upload)
    assert seconds >= (n - shaping.CHUNK) / up - EARLY
    assert tally["up_bytes"] >= n


def test_proxy_counts_what_went_down_before_the_first_upload_byte() -> None:
    profile = shaping.Profile("test", 80e6, 80e6, rtt_s=0.0)
    wasm = "/static/vendor/pyodide-1/pyodide.asm.wasm"

    async def load_then_upload(port: int) -> None:
        await _request(port, "GET", "/size/5000?v=1")
        await _request(port, "GET", wasm.replace("pyodide.asm.wasm", "size/7000"))
        await _request(port, "GET", wasm.replace("pyodide.asm.wasm", "cached"))
        await _request(port, "POST", "/api/u")  # the tus creation: no body
        await _request(port, "PATCH", "/api/u/1", b"y" * 3000)
        await _request(port, "GET", "/size/9000")  # after the upload: not counted

    _seconds, tally = _shaped(profile, load_then_upload)
    before = tally["down_before_upload_by_path"]
    assert set(before) == {"/size/5000", "/static/vendor/pyodide-1/size/7000",
                           "/static/vendor/pyodide-1/cached", "/api/u"}
    assert tally["not_modified_before_upload"] == ["/static/vendor/pyodide-1/cached"]
    assert before["/size/5000"] > 5000 and before["/static/vendor/pyodide-1/size/7000"] > 7000
    assert tally["down_before_upload"] == sum(before.values())
    assert tally["down_bytes"] > tally["down_before_upload"] + 9000
    assert shaped.pyodide_files(before, tally["not_modified_before_upload"]) == [
        "/static/vendor/pyodide-1/size/7000"]
    assert shaped.pyodide_files({"/static/build/worker-snapshot.bin": 1, "/": 2}) == [
        "/static/build/worker-snapshot.bin"]
    assert shaped.pyodide_files(before, [p for p in before if "pyodide" in p]) == []
    assert [r[1] for r in tally["requests"]] == ["GET", "GET", "GET", "POST", "PATCH", "GET"]


def _shaped_summary(cold_ms: float, down: int, pyodide: list[str], rss: int) -> dict:
    def series(in_chat: float, before: int, files: list[str], peak: int) -> dict:
        return {"in_chat_ms": in_chat, "usable_ms": 500.0, "checked_ms": 2000.0,
                "upload_click_ms": 2100.0, "first_upload_ms": 2200.0,
                "down_before_upload": before, "down_bytes": before,
                "renderer_peak_rss": peak, "n": 1, "pyodide_before_upload": files}

    return {"4g": {"bifoga_cold": series(cold_ms, down, pyodide, rss),
                   "bifoga_warm": series(17_000.0, 50_000, [], rss),
                   "bare": series(16_000.0, 1000, [], 360 * 1024 * 1024)}}


def test_shaped_targets_are_ratios_to_the_bare_page() -> None:
    MiB = 1024 * 1024
    good = shaped.targets(_shaped_summary(18_000.0, 500 * 1024, [], 440 * MiB))
    assert [t["pass"] for t in good] == [True, True, True], good
    assert good[0]["value"] == "1.12 × bare"
    assert good[1]["value"].startswith("500 KiB = 0.83 × 600 KiB; no Pyodide file")
    assert "bare + 80.0 MiB" in good[2]["value"]
    bad = shaped.targets(_shaped_summary(31_000.0, 500 * 1024,
                                         ["/static/vendor/pyodide-1/pyodide.asm.wasm"],
                                         550 * MiB))
    assert [t["pass"] for t in bad] == [False, False, False], bad
    missing = shaped.targets(_shaped_summary(None, None, [], None))  # type: ignore[arg-type]
    assert [t["pass"] for t in missing] == [None, None, None]
    report_ = {"meta": {"runs": 1, "photo_bytes": 3_000_000, "browser": "x",
                        "loadavg_before": [1.0], "loadavg_after": [1.0], "seconds": 60.0},
               "summary": _shaped_summary(31_000.0, 500 * 1024, [], 550 * MiB),
               "targets": bad, "runs": {}}
    text = shaped.markdown(report_)
    assert "| 4G: photo in the chat | 31.0 s | 17.0 s | 16.0 s | 1.94 | 1.06 |" in text
    assert "| 4G: peak renderer memory | 550.0 MiB | 550.0 MiB | 360.0 MiB | +190.0 MiB" in text


def test_shaped_media_choice_and_the_heavy_table() -> None:
    assert shaped.parse_media("photo") == ["photo"]
    assert shaped.parse_media(" HEIC, photo,heic ") == ["heic", "photo"]
    for wrong in ("", "photo,gif", ","):
        with pytest.raises(ValueError):
            shaped.parse_media(wrong)
    MiB = 1024 * 1024
    pyodide = ["/static/build/worker-snapshot.bin"]
    summary = _shaped_summary(48_000.0, 6 * MiB, pyodide, 600 * MiB)
    text = shaped.markdown({
        "meta": {"runs": 1, "photo_bytes": 3_000_000, "browser": "x", "loadavg_before": [5.0],
                 "loadavg_after": [6.0], "seconds": 60.0},
        "summary": {}, "targets": [], "runs": {},
        "heavy": {"heic": {"file_bytes": 2_308_327, "summary": summary, "runs": {}}}})
    assert "### HEIC: the heavy path (Pyodide)" in text and "2,308,327 bytes" in text
    assert "| 4G: HEIC in the chat | 48.0 s | 17.0 s | 16.0 s | 3.00 | 1.06 |" in text
    assert "| 4G: a Pyodide file among them | yes | no | no | – | – |" in text
    assert "| 4G: usable (paperclip works) | 0.5 s | 0.5 s | 0.5 s | +0.0 s | +0.0 s |" in text
    assert shaped._signed(-100.0, "ms") == "−0.1 s"
    summary["4g"]["bifoga_warm"]["n"] = 0  # no run: nothing to say
    text = shaped.markdown({"meta": {"runs": 1, "browser": "x", "loadavg_before": [5.0],
                                     "photo_bytes": 3_000_000,
                                     "loadavg_after": [6.0], "seconds": 60.0},
                            "summary": {}, "targets": [], "runs": {},
                            "heavy": {"big": {"file_bytes": 12_000_000, "summary": summary}}})
    assert "| 4G: a Pyodide file among them | yes | – | no | – | – |" in text
    assert "the bare page cannot send it" in text
    result = {"media": {"heic": {"networks": {"4g": {"bifoga_cold": [{"error": "timeout"}],
                                                     "bifoga_warm": [], "bare": [{}]}}}}}
    assert shaped.failures(result) == ["heic 4G bifoga_cold 1: timeout"]


def test_shaped_pages_load_from_the_proxy() -> None:
    visit = {"patient_url": "http://127.0.0.1:8000/#visit=v1&token=t1"}
    assert shaped.page_url("bifoga", "http://127.0.0.1:9", visit) == (
        "http://127.0.0.1:9/#visit=v1&token=t1")
    assert shaped.page_url("bare", "http://127.0.0.1:9", visit) == (
        "http://127.0.0.1:9/static/bench/bare.html#visit=v1&token=t1")


@pytest.mark.e2e
def test_shaped_bare_page_uploads_through_the_proxy(files: dict[str, Path]) -> None:
    """The shaped pass's plumbing against the real server, on a fast link: the bare page at the
    proxy's origin sends the picked photo by itself, and the proxy sees it go up."""
    photo = files["photo"]
    server = harness.Server()
    server.start()
    harness.stage_pages()
    proxy = shaping.ShapingProxy(server.port, shaping.Profile("fast", 400e6, 400e6, 0.002))
    proxy.start()
    try:
        with harness.Bench(server, photo) as bench:
            runner = shaped.ShapedBench(bench, server, proxy)
            context = runner.context("bare")
            try:
                result = runner.run(context, "bare", photo)
            finally:
                context.close()
    finally:
        proxy.stop()
        harness.unstage_pages()
        server.stop()
    assert result["usable_ms"] <= result["pick_ms"] <= result["upload_click_ms"]
    assert result["upload_click_ms"] <= result["in_chat_ms"]
    # The page came through the proxy, the upload went up through it after the creation POST.
    assert "/static/bench/bare.html" in result["before_upload_files"], result
    assert result["pyodide_before_upload"] == [] and result["down_before_upload"] > 0
    (_t, post, created), (_t2, patch, sent) = result["requests"][-2:]
    assert (post, patch) == ("POST", "PATCH") and sent.startswith(created + "/"), result
    assert result["up_bytes"] >= photo.stat().st_size
    assert result["renderer_peak_rss"] > 0
