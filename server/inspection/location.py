"""Where a picture or film may hide a position, read by ExifTool, the field's reference reader.

ExifTool (Debian's libimage-exiftool-perl) reads every image and film format Bifoga accepts,
including what a hand-written walk misses: embedded streams (`-ee`: GoPro GPMF tracks, camm,
timed text), XMP in any namespace (DJI's drone-dji:GpsLatitude), Photoshop APP13 blocks, PNG
raw profiles, HEIF items compressed or split over extents, broken IFD chains. It runs with
`-stay_open` (PyExifTool starts it), so a check costs a few milliseconds of Perl, not a start.

Bounded: at most `workers` processes, each used by one check at a time; a check waits at most
`wait_seconds` for one (then the caller answers 429 and the client retries) and ExifTool gets
`answer_seconds` to answer; a process that does not answer is killed and restarted on the next
use. Runs under CPython only (the server and the tests).
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import random
import select
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import exiftool

# Tag names (case-insensitive wildcards, as ExifTool reads them) that mean a position or a
# device's identity. Only these are printed: a film's GPMF track has thousands of other samples.
LOCATION_TAGS = ("*gps*", "*location*", "*coordinates*", "*serial*")
# -ee: embedded streams (timed metadata tracks, GPMF, camm); -a: duplicates (another copy in
# another block counts); -u: unknown tags; -G1: the block each came from; -n: numbers as read.
COMMON_ARGS = ("-j", "-G1", "-a", "-u", "-n", "-ee", "-api", "LargeFileSupport=1")
# Tags that are about a position but hold none (ExifTool reports them for every MP4 or JPEG).
NOT_A_POSITION = frozenset({"ExifTool:Warning"})


class ExifToolUnavailable(RuntimeError):
    """No ExifTool process could be had in time (all busy), or the binary is missing."""


class ExifToolFailed(RuntimeError):
    """ExifTool did not answer in time, died, or could not read the file."""


@dataclass(frozen=True)
class Findings:
    """What ExifTool found: `tags` are the position or serial tags ("Group:Tag" -> value)."""

    tags: dict[str, Any]
    error: str | None
    mime: str | None

    @property
    def carries_position(self) -> bool:
        return bool(self.tags)

    @property
    def serial_only(self) -> bool:
        return bool(self.tags) and all("serial" in k.lower() for k in self.tags)

    @property
    def read_as_media(self) -> bool:
        """ExifTool read the file as an image or a film, without an error."""
        return self.error is None and (self.mime or "").startswith(("image/", "video/", "audio/"))


class _Process(exiftool.ExifTool):
    """One `exiftool -stay_open` process. PyExifTool starts and stops it; a command is sent and
    read here with a deadline (PyExifTool's own read waits for ever and spins on a dead pipe)."""

    def execute_within(self, seconds: float, *params: str) -> str:
        if not self.running:
            raise ExifToolFailed("not running")
        tag = random.randint(100_000, 999_999)
        ready, done = f"{{ready{tag}}}".encode(), f"{{stderr{tag}}}".encode()
        command = "\n".join([*params, "-echo4", f"{{stderr{tag}}}", f"-execute{tag}", ""])
        process = self._process
        assert process is not None and process.stdin and process.stdout and process.stderr
        try:
            process.stdin.write(command.encode())
            process.stdin.flush()
        except OSError as exc:
            raise ExifToolFailed(f"write: {exc}") from None
        deadline = time.monotonic() + seconds
        fds = {process.stdout.fileno(): bytearray(), process.stderr.fileno(): bytearray()}
        ends = {process.stdout.fileno(): ready, process.stderr.fileno(): done}
        pending = set(fds)
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ExifToolFailed(f"no answer within {seconds} s")
            readable, _, _ = select.select(list(pending), [], [], left)
            for fd in readable:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise ExifToolFailed("ExifTool exited")
                fds[fd] += chunk
                if fds[fd].rstrip().endswith(ends[fd]):
                    pending.discard(fd)
        out = bytes(fds[process.stdout.fileno()]).rstrip()[: -len(ready)]
        return out.decode("utf-8", "replace")

    def _parse_ver(self) -> str:
        # PyExifTool asks for the version at start with its own unbounded read.
        return self.execute_within(10, "-ver").strip()

    def kill(self) -> None:
        process = self._process
        if process is not None:
            process.kill()
            process.wait(timeout=5)
        self._flag_running_false()
        self._process = None


class ExifToolPool:
    """At most `workers` ExifTool processes, each used by one check at a time."""

    def __init__(self, workers: int = 2, wait_seconds: float = 4.0,
                 answer_seconds: float = 5.0, executable: str | None = None) -> None:
        self.workers = workers
        self.wait_seconds = wait_seconds
        self.answer_seconds = answer_seconds
        self.executable = executable or shutil.which("exiftool") or "exiftool"
        self._idle: queue.LifoQueue[_Process | None] = queue.LifoQueue()
        for _ in range(workers):
            self._idle.put(None)  # a slot; its process starts on first use
        self._all: list[_Process] = []
        self._all_lock = threading.Lock()
        self._dir = Path(tempfile.mkdtemp(prefix="bifoga-exiftool-"))
        self._launcher = ThreadPoolExecutor(1, thread_name_prefix="exiftool-start")

    @contextmanager
    def _process(self) -> Iterator[_Process]:
        try:
            slot = self._idle.get(timeout=self.wait_seconds)
        except queue.Empty:
            raise ExifToolUnavailable("every ExifTool process is busy") from None
        process = slot
        try:
            if process is None or not process.running:
                if not os.path.exists(self.executable) and shutil.which(self.executable) is None:
                    raise RuntimeError("exiftool is not installed (`make` installs Debian's "
                                       "libimage-exiftool-perl)")
                # Started from a thread that lives as long as the server: PyExifTool asks
                # Linux to end ExifTool when the thread that started it ends (PDEATHSIG), and
                # the checks run in short-lived worker threads.
                process = self._launcher.submit(self._start).result(timeout=30)
            yield process
        except ExifToolFailed:
            if process is not None:
                process.kill()  # hung or dead: the next check starts a fresh one
            process = None
            raise
        finally:
            self._idle.put(process)

    def warm(self) -> None:
        """Start one process now, in the background: the first picture's check then does not
        wait for ExifTool's start (a second of Perl on a loaded machine)."""
        def start() -> None:
            try:
                process = self._idle.get_nowait()
            except queue.Empty:
                return
            try:
                if (process is None or not process.running) and shutil.which(self.executable):
                    process = self._start()
            except Exception:  # noqa: BLE001 - the first check starts it again, and says why
                process = None
            finally:
                self._idle.put(process)

        self._launcher.submit(start)

    def _start(self) -> _Process:
        """A running process, known to close(); on the launcher thread only."""
        process = _Process(executable=self.executable, common_args=[])
        process.run()
        with self._all_lock:
            self._all.append(process)
        return process

    def read(self, data: bytes) -> Findings:
        """Every position or serial tag ExifTool finds in `data` (any image or film)."""
        fd, name = tempfile.mkstemp(dir=self._dir)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            with self._process() as process:
                out = process.execute_within(
                    self.answer_seconds, *COMMON_ARGS, "-Error", "-MIMEType",
                    *(f"-{tag}" for tag in LOCATION_TAGS), name)
        finally:
            os.unlink(name)
        try:
            rows = json.loads(out) if out.strip() else [{}]
        except ValueError:
            raise ExifToolFailed("ExifTool's answer is not JSON") from None
        row = rows[0] if rows and isinstance(rows[0], dict) else {}
        error = row.pop("ExifTool:Error", None)
        mime = row.pop("File:MIMEType", None)
        row.pop("SourceFile", None)
        tags = {k: v for k, v in row.items() if k not in NOT_A_POSITION and v not in ("", None)}
        return Findings(tags, str(error) if error is not None else None,
                        str(mime) if mime is not None else None)

    def close(self) -> None:
        with self._all_lock:
            processes, self._all = self._all, []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PyExifTool warns about processes already gone
            for process in processes:
                try:
                    process.terminate(timeout=2)
                except Exception:  # hung: kill it
                    process.kill()
        self._launcher.shutdown(wait=False)
        shutil.rmtree(self._dir, ignore_errors=True)


_pool: ExifToolPool | None = None
_pool_lock = threading.Lock()


def pool() -> ExifToolPool:
    """The server process's pool (made on first use, closed when the process exits)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ExifToolPool()
            atexit.register(_pool.close)
        return _pool
