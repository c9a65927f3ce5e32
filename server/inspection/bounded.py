"""Run a document check in a child process with a hard time and memory limit.

qpdf's cross-reference repair and oletools' walks run in C and Python that cannot be
interrupted from outside: a hostile 10 MB PDF of 400,000 objects without a cross-reference
table kept a thread busy for about 40 s. So the check runs in a child process: a helper
(a `python -c` of `helper_main`, single-threaded, at nice 10, started once, with the parsers already
imported) forks one child per check, gives it an address-space limit, kills it when no answer
comes in time, and answers. A fork of a ready interpreter costs milliseconds, not a start.
At most `HELPERS` checks run at once (the caller answers 429 past that); a helper that stops
answering is killed and started again. The server runs under CPython on Linux.
"""

from __future__ import annotations

import os
import pickle
import queue
import resource
import select
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

HELPERS = 2
WAIT_SECONDS = 2.0
# Address space of a child: qpdf and oletools need far less for a 10 MB document; a bomb that
# needs more fails inside the child (a refusal), not in the server.
CHILD_MEMORY_BYTES = 1536 * 1024 * 1024
_HEADER = struct.Struct(">Q")


class CheckTimedOut(RuntimeError):
    """No answer within the time allowed; the child was killed."""


class CheckBusy(RuntimeError):
    """Every helper is taken."""


class CheckCrashed(RuntimeError):
    """The child died without an answer (out of memory, a crash in a parser)."""


# --------------------------------------------------------------------------- both sides


def _write(stream: Any, value: Any) -> None:
    raw = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(raw)) + raw)
    stream.flush()


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    import time

    out = bytearray()
    while len(out) < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise CheckTimedOut()
        chunk = os.read(fd, min(1 << 20, n - len(out)))
        if not chunk:
            raise CheckCrashed()
        out += chunk
    return bytes(out)


def _read(fd: int, deadline: float | None) -> Any:
    (size,) = _HEADER.unpack(_read_exact(fd, _HEADER.size, deadline))
    return pickle.loads(_read_exact(fd, size, deadline))


# --------------------------------------------------------------------------- the helper


def _run_child(seconds: float, data: bytes, mime: str) -> Any:
    """Fork, check in the child, wait at most `seconds`: ("ok", verdict), ("raised", text),
    ("timeout", None) or ("crashed", None)."""
    import time

    receive, send = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(receive)
        try:
            resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY_BYTES, CHILD_MEMORY_BYTES))
            from server.inspection import _document_verdict

            try:
                answer: Any = ("ok", _document_verdict(data, mime))
            except BaseException as exc:  # noqa: BLE001 - reported, the parent refuses
                answer = ("raised", f"{type(exc).__name__}: {exc}")
            with os.fdopen(send, "wb") as out:
                _write(out, answer)
        finally:
            os._exit(0)
    os.close(send)
    try:
        return _read(receive, time.monotonic() + seconds)
    except CheckTimedOut:
        return ("timeout", None)
    except CheckCrashed:
        return ("crashed", None)
    finally:
        os.close(receive)
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)


def helper_main() -> None:
    """The helper's loop: a request (seconds, data, mime) in, an answer out, until EOF."""
    import server.inspection  # noqa: F401 - imported once, inherited by every child

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            seconds, data, mime = _read(stdin.fileno(), None)
        except CheckCrashed:
            return  # the server closed the pipe
        _write(stdout, _run_child(seconds, data, mime))


# --------------------------------------------------------------------------- the server's side


# The helper and its children run at a lower priority (nice 10) than the server: parsing a
# hostile document, or the helper's imports at start, must not starve the server's event loop
# on a machine of two cores. Lowered before the parsers are imported.
_HELPER_MAIN = ("import os; os.nice(10); from server.inspection.bounded import helper_main; "
                "helper_main()")


class _Helper:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _HELPER_MAIN], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, cwd=os.path.dirname(os.path.dirname(os.path.dirname(
                os.path.abspath(__file__)))))

    def ask(self, seconds: float, data: bytes, mime: str) -> Any:
        import time

        assert self.process.stdin is not None and self.process.stdout is not None
        _write(self.process.stdin, (seconds, data, mime))
        # The helper answers within `seconds` (it kills its child then); a helper's start
        # (its imports, the first time) and the transfer get a few seconds more.
        return _read(self.process.stdout.fileno(), time.monotonic() + seconds + 5)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(5)


_idle: queue.LifoQueue[_Helper | None] = queue.LifoQueue()
for _ in range(HELPERS):
    _idle.put(None)
_all: list[_Helper] = []
_all_lock = threading.Lock()


@contextmanager
def _helper() -> Iterator[_Helper]:
    try:
        helper = _idle.get(timeout=WAIT_SECONDS)
    except queue.Empty:
        raise CheckBusy() from None
    try:
        if helper is None or helper.process.poll() is not None:
            helper = _Helper()
            with _all_lock:
                _all.append(helper)
        yield helper
    except BaseException:
        if helper is not None:
            helper.kill()  # out of step or hung: the next check starts a fresh one
        helper = None
        raise
    finally:
        _idle.put(helper)


def check_in_child(data: bytes, mime: str, seconds: float) -> Any:
    """server.inspection._document_verdict(data, mime) in a child: its verdict, or raises
    CheckTimedOut, CheckCrashed or CheckBusy."""
    with _helper() as helper:
        try:
            kind, value = helper.ask(seconds, data, mime)
        except (OSError, EOFError, pickle.UnpicklingError):
            raise CheckCrashed() from None
    if kind == "timeout":
        raise CheckTimedOut()
    if kind != "ok":
        raise CheckCrashed(str(value))
    return value


def close() -> None:
    with _all_lock:
        helpers = list(_all)
        _all.clear()
    for helper in helpers:
        if helper.process.poll() is None:
            helper.kill()



def warm() -> None:
    """Start the helpers now (their imports take a second or more), so that the first
    document's check does not wait for them."""
    started = []
    for _ in range(HELPERS):
        try:
            started.append(_idle.get_nowait())
        except queue.Empty:
            break
    try:
        for i, helper in enumerate(started):
            if helper is None:
                helper = _Helper()
                with _all_lock:
                    _all.append(helper)
                started[i] = helper
            assert helper.process.stdin is not None
    finally:
        for helper in started:
            _idle.put(helper)
