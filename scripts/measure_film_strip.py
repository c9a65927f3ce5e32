"""Measure the film remover's strip_source under MicroPython (the light worker's interpreter)
in node: time and bytes read for a ~10 MB GoPro-style film (H.264 + AAC + a GPMF track).

    .venv/bin/python -m scripts.measure_film_strip [--mb 10] [--seconds 10]

The film is made with ffmpeg; MicroPython reads it through a Source over a file in its own
file system (seek + read, as the browser reads a File through Blob.slice). Prints the time of
iso_format then plan_iso on one Reader, as bifoga.media.metadata.strip_source runs them (best of 3),
the bytes read and the pieces of the Plan, beside CPython's.
"""

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bifoga.media.film_meta import plan_iso
from bifoga.media.source import BytesSource, Reader
from tests.fixtures_films import add_track, gpmf_sample
from tests.micropython_runner import MICROPYTHON_MJS, repo_files

_MODULES = ("source", "meta_error", "isobmff", "film_meta")

_NODE = """\
import {{ loadMicroPython }} from {mjs};
import {{ readFileSync }} from "node:fs";
const lines = [];
const mp = await loadMicroPython({{ stdout: (l) => lines.push(l), stderr: (l) => lines.push(l),
                                   heapsize: 64 * 1024 * 1024 }});
mp.FS.mkdir("/bifoga");
mp.FS.mkdir("/bifoga/media");
for (const [path, text] of Object.entries({modules})) mp.FS.writeFile(path, text);
mp.FS.writeFile("/film.mp4", readFileSync({film}));
try {{ mp.runPython({code}); }} catch (e) {{ lines.push(String(e)); }}
process.stdout.write(lines.join("\\n") + "\\n");
"""

_CODE = """
import time
from bifoga.media.source import Reader
from bifoga.media.film_meta import plan_iso
from bifoga.media.isobmff import iso_format

class FileSource:
    def __init__(self, f, size):
        self.f, self.size, self.bytes_read, self.reads = f, size, 0, 0
    def read(self, offset, length):
        self.f.seek(offset)
        got = self.f.read(min(length, max(0, self.size - offset)))
        self.bytes_read += len(got)
        self.reads += 1
        return got

f = open("/film.mp4", "rb")
f.seek(0, 2)
size = f.tell()
best = None
for _ in range(3):
    source = FileSource(f, size)
    start = time.ticks_ms()
    reader = Reader(source)
    assert iso_format(reader.read, size) == "mp4"  # what strip_source asks first
    plan, found, date = plan_iso(reader, False)
    took = time.ticks_diff(time.ticks_ms(), start)
    best = took if best is None else min(best, took)
print(size, best, source.bytes_read, source.reads, len(plan.pieces), plan.size, sorted(found))
"""


def make_film(folder: Path, megabytes: int, seconds: int) -> Path:
    plain = folder / "plain.mp4"
    kbits = megabytes * 7800 // seconds  # of video a second, for about `megabytes`
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
                    "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-f", "lavfi", "-i",
                    "sine=frequency=440:sample_rate=48000", "-t", str(seconds), "-c:v",
                    "libx264", "-preset", "ultrafast", "-b:v", "%dk" % kbits,
                    "-c:a", "aac", str(plain)], check=True)
    film = folder / "gopro.mp4"
    film.write_bytes(add_track(plain.read_bytes(), b"meta", b"gpmd",
                               [gpmf_sample(i) for i in range(seconds)]))
    return film


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=10, help="about how large a film")
    parser.add_argument("--seconds", type=int, default=10, help="how long (more samples)")
    args = parser.parse_args()
    node = shutil.which("node")
    assert node and MICROPYTHON_MJS.is_file(), "node and the npm MicroPython build are needed"
    with tempfile.TemporaryDirectory() as tmp:
        film = make_film(Path(tmp), args.mb, args.seconds)
        data = film.read_bytes()
        modules = repo_files(*("bifoga.media." + m for m in _MODULES))
        runner = Path(tmp) / "run.mjs"
        runner.write_text(_NODE.format(mjs=json.dumps(MICROPYTHON_MJS.as_uri()),
                                       modules=json.dumps(modules), film=json.dumps(str(film)),
                                       code=json.dumps(_CODE)))
        out = subprocess.run([node, str(runner)], capture_output=True, text=True, check=True,
                             timeout=600).stdout.strip()
    print("MicroPython (node): size, ms (best of 3), bytes read, reads, pieces, plan size, found")
    print(" ", out)
    best = None
    for _ in range(3):
        start = time.perf_counter()
        plan, found, _ = plan_iso(Reader(BytesSource(data)), False)
        took = time.perf_counter() - start
        best = took if best is None else min(best, took)
    print("CPython: %.1f ms, %d pieces, found %s" % (best * 1000, len(plan.pieces), sorted(found)))


if __name__ == "__main__":
    main()
