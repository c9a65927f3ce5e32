"""`python -m bench` (`make bench`): Bifoga against a bare page and Uppy, in Chromium.

Prints the medians, min and max as JSON and a Markdown table, and writes both to
bench/results/latest.json and latest.md. See bench/README.md for what is measured and how.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench import harness, report, shaped
from bench.photo import PHONE_BYTES, TARGET_BYTES, make_heic, make_pdf, make_photo
from bench.shaping import PROFILES as NETWORKS

RESULTS = Path(__file__).resolve().parent / "results"
PROFILES = Path(__file__).resolve().parent / "out"

NOTES = [
    "Times are performance.now() in the page (origin: navigation start); Bifoga's usable is "
    "window.bifogaUsable (index.html's native file input listens, its inline file keeper), "
    "Python up is window.bifogaReady (app.py has mounted the UI); the references' usable is "
    "their own mark (bare: script ran; Uppy: the Dashboard's file input exists).",
    "Bytes: Network.loadingFinished encodedDataLength (headers + body as received) of every "
    "request of the page AND its workers, as Playwright's CDP instrumentation reports them "
    "(it auto-attaches to dedicated workers); resource timing of the page and each worker is "
    "kept in latest.json as a cross-check. A cold load ends when the page is usable (and "
    "Bifoga's worker ready) and no request has finished for 0.5 s; long polls never finish and "
    "are not counted.",
    "Bytes before usable: requests whose last byte arrived before the usable mark, the "
    "worker's included.",
    "Long tasks: PerformanceObserver('longtask', buffered) registered before navigation; main "
    "thread only. Phases: load [0, usable], preview [pick, preview painted], processing [pick, "
    "'Ladda upp' enabled] (overlaps preview), upload [upload start, done].",
    "Pick → preview: from the file input's change event (capture listener on document) to the "
    "first paint of the preview <img> (Element Timing renderTime; the bench tags the image with "
    "elementtiming as it is inserted). Bifoga's and the bare page's <img> show the whole photo; "
    "Uppy's shows the thumbnail its ThumbnailGenerator makes on the main thread.",
    "Upload: Bifoga from the click on 'Ladda upp' until the dialog closes (tus creation, PATCH, "
    "finalisation, chat message); Uppy from its 'upload' to its 'upload-success' event; bare: "
    "ONE fetch() PATCH of the same File to the same server's tus endpoint after a creation "
    "POST (the server has no plain PUT sink), the PATCH alone timed.",
    "At once: a cold load; the moment the usable mark is set, the paperclip is "
    "clicked (the chooser intercepted from the start, no actionability waits) and a 1.7 MiB "
    "phone photo or a 300 KiB PDF chosen; the page presses its upload button the moment it is "
    "enabled. Times from navigation: the pick (change event), the preview painted (Uppy: its "
    "thumbnail), the file can be sent (Bifoga: 'Ladda upp' enabled after the first-bytes check; "
    "Uppy: its upload button), Bifoga's full check done (the preview item's "
    "data-verified=\"true\": metadata removed, active content checked), the file in the chat "
    "(Bifoga: the preview dialog closed after the round; Uppy: upload-success). 4x: "
    "Emulation.setCPUThrottlingRate 4 (the page's main thread). Worker ready warm: reloads, "
    "unthrottled and throttled.",
    "Peak JS heap: performance.memory.usedJSHeapSize every 100 ms (precise memory info on), "
    "main thread only: the Pyodide worker's heap and WebAssembly memory are not in it. Peak "
    "renderer RSS (VmHWM of the renderer process, which hosts the page and its workers) covers "
    "them, plus Chromium's own baseline (see the bare page).",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--cold", type=int, default=None, help="cold runs (default 5)")
    parser.add_argument("--warm", type=int, default=None, help="warm reloads (default 3)")
    parser.add_argument("--at-once", type=int, default=None,
                        help="runs per page, file and throttling rate with a file picked the "
                             "moment the page is usable (default 3)")
    parser.add_argument("--quick", action="store_true",
                        help="one run of each kind (a smoke test, not a result)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where latest.json/.md go")
    parser.add_argument("--profile", nargs="?", type=Path, const=PROFILES, default=None,
                        metavar="DIR",
                        help="also trace one at-once run of Bifoga (the photo) per throttling "
                             "rate: Chromium traces and a summary of where the main thread's and "
                             "the workers' time goes, into DIR (default bench/out/); not counted "
                             "in the numbers")
    parser.add_argument("--only", choices=("all", "classic", "shaped"), default="all",
                        help="classic: the cold, warm and at-once passes (loopback); shaped: "
                             "the shaped-network pass alone; all (default): both")
    parser.add_argument("--runs", type=int, default=None,
                        help="shaped pass: runs per page and network (default 3)")
    parser.add_argument("--networks", default=",".join(NETWORKS),
                        help="shaped pass: comma-separated, of " + ", ".join(NETWORKS)
                             + " (default all)")
    parser.add_argument("--states", default=",".join(shaped.STATES),
                        help="shaped pass: cold, or cold,warm (default; warm reuses the cold "
                             "run's cache)")
    parser.add_argument("--media", default="photo",
                        help="shaped pass: what is picked, comma-separated: photo (the light "
                             "path's phone JPEG, the targets), heic (a 12 MP iPhone-like HEIC: "
                             "the heavy path, converted), big (a 12 MB JPEG over the limit: the "
                             "heavy path, \"Minska storlek\" pressed); default photo")
    args = parser.parse_args(argv)
    cold = args.cold if args.cold is not None else (1 if args.quick else 5)
    warm = args.warm if args.warm is not None else (1 if args.quick else 3)
    at_once = args.at_once if args.at_once is not None else (1 if args.quick else 3)
    runs = args.runs if args.runs is not None else (1 if args.quick else shaped.RUNS)
    networks = [n.strip().lower() for n in args.networks.split(",") if n.strip()]
    states = [s.strip().lower() for s in args.states.split(",") if s.strip()]
    if cold < 0 or warm < 0 or at_once < 0 or runs < 0:
        parser.error("--cold, --warm, --at-once and --runs must be at least 0")
    if unknown := [n for n in networks if n not in NETWORKS]:
        parser.error(f"unknown network(s) {unknown}: choose from {list(NETWORKS)}")
    if "cold" not in states or not set(states) <= set(shaped.STATES):
        parser.error("--states is cold or cold,warm")
    try:
        media = shaped.parse_media(args.media)
    except ValueError as exc:
        parser.error(str(exc))

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if args.only in ("all", "classic"):
        classic(cold, warm, at_once, args.out, args.profile, log)
    if args.only in ("all", "shaped") and runs and networks:
        shaped_pass(networks, states, runs, media, args.out, log)
    return 0


def shaped_pass(networks: list[str], states: list[str], runs: int, media: list[str], out: Path,
                log: Callable[[str], None]) -> None:
    """The shaped-network pass: printed, and written to OUT/shaped.json and shaped.md."""
    started, load_before = time.monotonic(), os.getloadavg()
    makers = {"photo": lambda: make_photo(RESULTS / "photo-3.0MB.jpg", shaped.PHOTO_BYTES),
              "heic": lambda: make_heic(RESULTS / "photo-12MP.heic"),
              "big": lambda: make_photo(RESULTS / "photo-12.0MB.jpg", shaped.BIG_BYTES)}
    files = {medium: makers[medium]() for medium in media}
    for path in files.values():
        log(f"file: {path} ({path.stat().st_size:,} bytes)")
    result = shaped.run(files, networks, states, runs, log)
    light = result["media"].get("photo", {"networks": {}})
    summary = shaped.summarise(light)
    full = {
        "meta": {
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "browser": result["browser"], "runs": runs, "networks": networks,
            "states": states, "media": media, "photo_bytes": shaped.PHOTO_BYTES,
            "cpu_throttling": shaped.THROTTLE, "cpus": os.cpu_count(),
            "seconds": round(time.monotonic() - started, 1),
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            "failures": shaped.failures(result),
        },
        "summary": summary,
        "targets": shaped.targets(summary),
        "runs": light["networks"],
        # The heavy path's media: their time, next to the bare page; no targets.
        "heavy": {medium: {"file_bytes": files[medium].stat().st_size,
                           "summary": shaped.summarise(m), "runs": m["networks"]}
                  for medium, m in result["media"].items() if medium != "photo"},
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "shaped.json").write_text(json.dumps(full, indent=2, ensure_ascii=False) + "\n")
    text = shaped.markdown(full)
    (out / "shaped.md").write_text(text)
    print(text)
    log(f"written: {out / 'shaped.json'} and {out / 'shaped.md'} ({full['meta']['seconds']} s)")


def classic(cold: int, warm: int, at_once: int, out: Path, profile: Path | None,
            log: Callable[[str], None]) -> None:
    """The cold, warm and at-once passes on loopback: latest.json and latest.md."""
    started, load_before = time.monotonic(), os.getloadavg()
    files = {"upload": make_photo(RESULTS / "photo-9.5MiB.jpg"),
             "photo": make_photo(RESULTS / "photo-1.7MiB.jpg", PHONE_BYTES),
             "pdf": make_pdf(RESULTS / "referral-300KiB.pdf")}
    for path in files.values():
        log(f"file: {path} ({path.stat().st_size:,} bytes)")
    result = harness.run(cold, warm, at_once, files, log, profile)
    report.add_derived(result, TARGET_BYTES)
    summary = report.summarise(result)
    full = {
        "meta": {
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "browser": result["browser"], "cold_runs": cold, "warm_runs": warm,
            "at_once_runs": at_once, "phone_photo_bytes": PHONE_BYTES,
            "photo_bytes": TARGET_BYTES, "cpus": os.cpu_count(),
            "seconds": round(time.monotonic() - started, 1),
            # Other work on the machine skews every number: the load average tells.
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            "failures": report.failures(result),
            "notes": NOTES,
        },
        "summary": summary,
        "targets": report.targets(summary),
        "runs": {"cold": result["cold"], "warm": result["warm"],
                 "warm_throttled": result["warm_throttled"], "at_once": result["at_once"]},
        "profiles": result["profiles"],
    }
    from bench import finalise  # the server's finalisation: first stage vs reference parsers

    full["finalise"] = finalise.measure()
    json_path, md_path = report.write(full, out)
    printed = {k: v for k, v in full.items() if k != "runs"}
    print(json.dumps(printed, indent=2, ensure_ascii=False))
    print()
    print(report.markdown(full))
    print(finalise.summary(full["finalise"]))
    log(f"written: {json_path} and {md_path} ({full['meta']['seconds']} s)")


if __name__ == "__main__":
    sys.exit(main())
