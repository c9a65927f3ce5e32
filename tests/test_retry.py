"""bifoga.transfer.retry, the one retry policy of an upload (the tus transfer's schedule is checked
in tests/test_tus_client.py); and worker._post_json, the finalisation, using it (with the browser
modules stubbed, so it runs in CPython)."""

from __future__ import annotations

import asyncio
import email.message
import importlib.util
import io
import sys
import types
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bifoga.transfer.retry import (
    GIVE_UP_AFTER,
    RETRY_DELAYS,
    RETRY_EVERY,
    parse_retry_after,
    should_retry,
)

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("status", [None, 408, 423, 429, 500, 502, 503, 504, 599])
def test_transient_outcomes_are_retried(status: int | None) -> None:
    assert should_retry(status, 0, 0.0) == 0.5


@pytest.mark.parametrize("status", [200, 201, 204, 301, 400, 401, 403, 404, 409, 413, 415,
                                    422, 460, 600])
def test_final_outcomes_are_not(status: int) -> None:
    assert should_retry(status, 0, 0.0) is None


def test_backoff_schedule() -> None:
    assert RETRY_DELAYS == (0.5, 1.0, 3.0, 5.0) and RETRY_EVERY == 10.0
    assert [should_retry(503, attempt, 0.0) for attempt in range(7)] == [
        0.5, 1.0, 3.0, 5.0, 10.0, 10.0, 10.0]


def test_gives_up_after_120_seconds() -> None:
    """A server that never answers well: tries at 0, 0.5, 1.5, 4.5, 9.5, 19.5 ... 119.5 and
    a last one at exactly 120 s, as the tus transfer does."""
    elapsed, attempt, waits = 0.0, 0, []
    while (delay := should_retry(None, attempt, elapsed)) is not None:
        waits.append(delay)
        elapsed += delay
        attempt += 1
    assert waits == [0.5, 1.0, 3.0, 5.0] + [10.0] * 11 + [0.5]
    assert elapsed == GIVE_UP_AFTER == 120.0
    assert should_retry(503, 3, 115.0) == 5.0
    assert should_retry(503, 3, 116.0) == 4.0  # the last wait is cut to the deadline
    assert should_retry(503, 3, 120.0) is None


def test_retry_after_lengthens_a_wait_never_shortens() -> None:
    assert should_retry(429, 0, 0.0, retry_after=2.0) == 2.0
    assert should_retry(503, 3, 0.0, retry_after=1.0) == 5.0
    assert should_retry(429, 0, 0.0, retry_after=0.0) == 0.5
    assert should_retry(429, 0, 10.0, retry_after=25.0) == 25.0
    # Never past the deadline.
    assert should_retry(429, 0, 100.0, retry_after=25.0) == 20.0
    # Retry-After does not make a final answer transient.
    assert should_retry(404, 0, 0.0, retry_after=1.0) is None


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [(None, None), ("", None), ("3", 3.0), (" 10 ", 10.0), ("0", 0.0), ("1.5", None),
     ("-1", None), ("soon", None), ("Wed, 21 Oct 2015 07:28:00 GMT", None), ("\u0663", None)],
)
def test_parse_retry_after(raw: str | None, seconds: float | None) -> None:
    assert parse_retry_after(raw) == seconds


# --- worker._post_json over stubbed browser modules ---------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.ms = 0.0

    def now(self) -> float:
        return self.ms

    def mark(self, name: str) -> None:
        pass


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """worker.py imported with stand-ins for js, pyodide, pyodide_http and pyscript."""
    clock = FakeClock()
    js = types.ModuleType("js")
    js.performance = clock  # type: ignore[attr-defined]
    ffi = types.ModuleType("pyodide.ffi")
    ffi.JsException = type("JsException", (Exception,), {})  # type: ignore[attr-defined]
    ffi.create_proxy = ffi.to_js = lambda x, *a, **k: x  # type: ignore[attr-defined]
    pyodide = types.ModuleType("pyodide")
    pyodide.ffi = ffi  # type: ignore[attr-defined]
    pyodide_http = types.ModuleType("pyodide_http")
    pyodide_http.patch_all = lambda: None  # type: ignore[attr-defined]
    pyscript = types.ModuleType("pyscript")
    pyscript.sync = types.SimpleNamespace()  # type: ignore[attr-defined]
    for name, module in {"js": js, "pyodide": pyodide, "pyodide.ffi": ffi,
                         "pyodide_http": pyodide_http, "pyscript": pyscript}.items():
        monkeypatch.setitem(sys.modules, name, module)

    spec = importlib.util.spec_from_file_location("bifoga_worker_under_test", REPO / "worker.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module._import_network()  # the upload's imports, as the first upload makes them
    module.clock = clock
    yield module


class Answer:
    def __init__(self, status: int, body: bytes) -> None:
        self.status, self.body = status, body

    def __enter__(self) -> Answer:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def read(self) -> bytes:
        return self.body


def http_error(status: int, body: bytes, retry_after: str | None = None) -> Exception:
    headers = email.message.Message()
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    return urllib.error.HTTPError("http://x/", status, "error", headers, io.BytesIO(body))


def run_post(worker: Any, monkeypatch: pytest.MonkeyPatch, outcomes: list[Any],
             request_ms: float = 100.0) -> tuple[Any, list[float], list[Any]]:
    """_post_json against a scripted server: each try takes `request_ms` of the fake clock
    and gives the next outcome (an Answer, or an exception to raise)."""
    waits: list[float] = []
    requests: list[Any] = []

    def urlopen(request: urllib.request.Request) -> Answer:
        requests.append(request)
        worker.clock.ms += request_ms
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        worker.clock.ms += seconds * 1000

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    monkeypatch.setattr(worker, "asyncio", types.SimpleNamespace(sleep=sleep))
    try:
        result: Any = asyncio.run(worker._post_json("http://x/api/visits/v/attachments",
                                                    "tok", {"upload_id": "u"}))
    except ConnectionError as exc:
        result = exc
    return result, waits, requests


def test_worker_retries_until_the_answer(worker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    result, waits, requests = run_post(worker, monkeypatch, [
        OSError("network down"),
        http_error(503, b'{"error": "internal_error"}', retry_after="2"),
        http_error(423, b'{"error": "upload_busy"}'),
        Answer(200, b'{"id": 7}'),
    ])
    assert result == (200, b'{"id": 7}')
    assert waits == [0.5, 2.0, 3.0]
    assert len(requests) == 4
    for request in requests:  # the same request every time
        assert request.get_method() == "POST" and request.data == b'{"upload_id": "u"}'
        assert request.get_header("Authorization") == "Bearer tok"
        assert request.get_header("Content-type") == "application/json"


def test_worker_does_not_retry_a_refusal(worker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    body = b'{"error": "upload_not_found"}'
    assert run_post(worker, monkeypatch, [http_error(404, body)])[:2] == ((404, body), [])
    assert run_post(worker, monkeypatch, [Answer(201, b"{}")])[:2] == ((201, b"{}"), [])


def test_worker_gives_up_after_120_seconds(worker: Any,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    result, waits, requests = run_post(worker, monkeypatch, [OSError("down")] * 40)
    assert isinstance(result, ConnectionError)
    assert waits[:6] == [0.5, 1.0, 3.0, 5.0, 10.0, 10.0]
    # With 100 ms per try the last try starts at exactly 120 s.
    assert sum(waits) + 0.1 * (len(requests) - 1) == pytest.approx(120.0)
    result, waits, _ = run_post(worker, monkeypatch,
                                [http_error(502, b"bad gateway") for _ in range(40)])
    assert result == (502, b"bad gateway")
    assert sum(waits) <= 120


def test_a_stall_is_declared_only_when_the_server_offset_stops_growing():
    """A slow uplink: XHR says every byte was handed over long before they are through. The
    server's offset (HEAD) still growing is no stall; standing still, or no answer, is."""
    from bifoga.transfer.retry import STALL_SECONDS, is_stalled

    assert not is_stalled(STALL_SECONDS, True, None, -1)  # not idle long enough
    assert is_stalled(STALL_SECONDS + 1, False, None, -1)  # bytes not handed over: dropped
    assert not is_stalled(STALL_SECONDS + 1, True, 5_000_000, -1)  # first HEAD: it grows
    assert not is_stalled(STALL_SECONDS + 1, True, 7_000_000, 5_000_000)  # still growing
    assert is_stalled(STALL_SECONDS + 1, True, 7_000_000, 7_000_000)  # standing still
    assert is_stalled(STALL_SECONDS + 1, True, None, 5_000_000)  # no answer
