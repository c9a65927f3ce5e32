"""bifoga.chat.worker_contract.send_held: both workers' upload() answer, on the in-memory tus
server (tests/tus_io.py) with a fake finalisation."""

from __future__ import annotations

import asyncio
import json

import pytest

from bifoga.chat.worker_contract import (
    Progress,
    Uploaded,
    UploadRequest,
    finalised,
    progress_reporters,
    retrying,
    send_held,
)
from bifoga.media import refusals
from bifoga.transfer.tus_client import Response, server_offset, wait_or_stall
from tests.live_server import run_async
from tests.micropython_runner import micropython_available, repo_files, run_micropython
from tests.tus_io import Hang, MemoryTusIO

REQUEST = UploadRequest(key="k1", name="Remiss.pdf", endpoint="/api/visits/v1/uploads",
                        finalise_url="/api/visits/v1/attachments", token="tok")


def _send(io: MemoryTusIO, answer: tuple[int, bytes] | Exception, refusal=None):
    calls: dict = {"reports": [], "released": [], "posted": [], "uploads": {}}

    async def post_json(url: str, token: str, payload: dict) -> tuple[int, bytes]:
        calls["posted"].append((url, token, payload))
        assert "k1" in calls["uploads"]  # cancel() can reach the running upload
        if isinstance(answer, Exception):
            raise answer
        return answer

    ticks = iter(range(0, 1000, 10))
    result = run_async(send_held(
        REQUEST, io, len(io.file_bytes), "application/pdf",
        lambda url: "https://care.example" + url, post_json, lambda: float(next(ticks)),
        calls["reports"].append, calls["uploads"], calls["released"].append,
        lambda: "blob:sent", refusal=refusal))
    return result, calls


class LateCheck:
    """A check that runs beside the transfer (the browser's decoding of a photo): it answers
    `reason` once `settle()` was called."""

    def __init__(self, reason: str | None) -> None:
        self.reason = reason
        self.done = asyncio.Event()
        self.asked = 0

    def settle(self) -> None:
        self.done.set()

    async def refusal(self) -> str | None:
        self.asked += 1
        await self.done.wait()
        return self.reason


def test_send_held_finalises_only_once_the_late_check_passed() -> None:
    check = LateCheck(None)
    io = MemoryTusIO(b"x" * 5000)
    result, calls = _send(io, (201, json.dumps({"id": "m1"}).encode()), refusal=_settling(check))
    assert result.ok and len(calls["posted"]) == 1 and check.done.is_set()
    assert "DELETE" not in [m for m, *_ in io.log]


def _settling(check: LateCheck):
    """check.refusal, with the check settling only after the transfer has ended."""
    async def refusal():
        if not check.done.is_set():
            asyncio.get_running_loop().call_later(0.01, check.settle)
        return await check.refusal()
    return refusal


def test_send_held_refused_by_the_late_check_after_the_transfer_terminates_the_upload() -> None:
    check = LateCheck(refusals.IMAGE_DOES_NOT_DECODE)
    io = MemoryTusIO(b"x" * 5000)
    result, calls = _send(io, (201, b"{}"), refusal=_settling(check))
    assert result == Uploaded(error=refusals.IMAGE_DOES_NOT_DECODE)
    assert calls["posted"] == [] and calls["released"] == ["k1"]
    assert [m for m, *_ in io.log].count("DELETE") == 1 and io.uploads == {}


def test_send_held_refused_by_the_late_check_stops_the_transfer_at_once() -> None:
    check = LateCheck(refusals.IMAGE_DOES_NOT_DECODE)
    io = MemoryTusIO(b"x" * 5000)
    io.script["PATCH"].append(Hang())  # the bytes are still going when the check refuses

    async def refusal_once_the_bytes_go():
        while "PATCH" not in [method for method, _ in io.times]:
            await asyncio.sleep(0)
        check.settle()
        return await check.refusal()

    result, calls = _send(io, (201, b"{}"), refusal=refusal_once_the_bytes_go)
    assert result == Uploaded(error=refusals.IMAGE_DOES_NOT_DECODE)
    assert calls["posted"] == [] and calls["released"] == ["k1"]
    assert "DELETE" in [m for m, *_ in io.log] and io.uploads == {}


def test_send_held_answers_the_message_and_keeps_the_copy() -> None:
    io = MemoryTusIO(b"x" * 5000)
    result, calls = _send(io, (201, json.dumps({"id": "m1"}).encode()))
    assert result == Uploaded(ok=True, message={"id": "m1"}, local_url="blob:sent",
                              transfer_ms=10.0, finalise_ms=10.0)
    (url, token, payload), = calls["posted"]
    assert url == "https://care.example/api/visits/v1/attachments" and token == "tok"
    assert payload["upload_id"] in {u.rstrip("/").split("/")[-1] for u in io.uploads}
    assert calls["released"] == [] and calls["uploads"] == {}
    assert Progress(key="k1", sent=5000, total=5000) in calls["reports"]
    # No state the page does not show: each report holds the worker until the page took it.
    assert not any(p.state for p in calls["reports"])


def test_only_reconnecting_and_its_end_are_reported() -> None:
    reports: list[Progress] = []
    progress, state = progress_reporters("k1", reports.append)
    for value in ("uploading", "reconnecting", "reconnecting", "uploading", "failed",
                  "uploading", "done"):
        state(value)
    progress(10, 20)
    assert reports == [Progress(key="k1", state="reconnecting"),
                       Progress(key="k1", state="uploading"),
                       Progress(key="k1", sent=10, total=20)]


def test_send_held_refused_finalisation_releases_the_copy() -> None:
    body = json.dumps({"error": "visit_ended", "message": "Besöket är slut"}).encode()
    result, calls = _send(MemoryTusIO(b"x" * 100), (410, body))
    assert result == Uploaded(status=410, error="visit_ended", detail="Besöket är slut")
    assert calls["released"] == ["k1"] and calls["uploads"] == {}


def test_send_held_network_failure_and_tus_refusal() -> None:
    result, calls = _send(MemoryTusIO(b"x" * 100), ConnectionError("offline"))
    assert result == Uploaded(error="network", detail="offline")
    assert calls["released"] == ["k1"]
    io = MemoryTusIO(b"x" * 100)
    io.script["POST"].append(Response(413, {}, b""))
    result, calls = _send(io, (201, b"{}"))
    assert (result.error, result.status, calls["posted"]) == ("too_large", 413, [])
    assert calls["released"] == ["k1"]


def test_finalised_without_a_json_body() -> None:
    assert finalised(502, b"<html>", lambda: "never", 1.0, 2.0) == Uploaded(status=502)


@pytest.mark.skipif(not micropython_available(), reason="npm ci has not run")
def test_send_held_runs_under_micropython() -> None:
    files = repo_files("bifoga.transfer.retry", "bifoga.transfer.tus_client",
                       "bifoga.chat.worker_contract")
    code = """
import sys
sys.path.insert(0, '/')
import asyncio
from bifoga.transfer.tus_client import Response, server_offset, wait_or_stall
from bifoga.chat.worker_contract import UploadRequest, retrying, send_held

class IO:
    async def control(self, method, url, headers, body=b''):
        if method == 'POST':
            return Response(201, {'location': '/files/u1'})
        return Response(200, {'upload-offset': '0', 'upload-length': '3'})
    async def send(self, url, headers, start, end, on_progress):
        on_progress(end - start)
        return Response(204, {'upload-offset': str(end)})
    async def sleep(self, seconds):
        pass
    def now(self):
        return 0.0

async def post_json(url, token, payload):
    print(url, token, payload['upload_id'])
    return 201, b'{"id": "m1"}'

async def main():
    request = UploadRequest(key='k', name='a.pdf', endpoint='/files', finalise_url='/fin',
                            token='t')
    reports, released, uploads = [], [], {}
    answer = await send_held(request, IO(), 3, 'application/pdf', lambda u: 'http://h' + u,
                             post_json, lambda: 5.0, reports.append, uploads, released.append,
                             lambda: 'blob:x')
    print(answer.ok, answer.message, answer.local_url, answer.transfer_ms, released, uploads)
    print([p.state or p.sent for p in reports])
    answers = [(503, None, b'', None), (201, None, b'ok', None)]
    async def attempt():
        return answers.pop(0)
    print(await retrying(attempt, lambda: 0.0, asyncio.sleep))

await main()
"""
    assert run_micropython(code, files, top_level_await=True).splitlines() == [
        "http://h/fin t u1",
        "True {'id': 'm1'} blob:x 0.0 [] {}",
        "[0, 3]",
        "(201, b'ok')",
    ]


class _HeadIO:
    """Answers HEAD with `answer` (a Response, or an exception to raise); records the headers."""

    def __init__(self, answer: Response | Exception) -> None:
        self.answer, self.asked = answer, []

    async def control(self, method: str, url: str, headers: dict, body: bytes = b"") -> Response:
        self.asked.append((method, url, headers))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.mark.parametrize("answer, offset", [
    (Response(200, {"upload-offset": "1234"}), 1234),
    (Response(404, {}), None),
    (Response(200, {}), None),
    (Response(200, {"upload-offset": "many"}), None),
    (ConnectionError("offline"), None),
    (OSError("network: reset"), None),
])  # fmt: skip
def test_server_offset_asks_head_with_only_the_needed_headers(answer, offset) -> None:
    io = _HeadIO(answer)
    headers = {"Authorization": "Bearer t", "Tus-Resumable": "1.0.0", "Upload-Offset": "0",
               "Content-Type": "application/offset+octet-stream"}
    assert run_async(server_offset(io, "https://h/u/1", headers)) == offset
    assert io.asked == [("HEAD", "https://h/u/1",
                         {"Authorization": "Bearer t", "Tus-Resumable": "1.0.0"})]


def _retrying(answers: list, clock: list[float]):
    """retrying() over scripted answers; the clock advances by each wait, which takes no time."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += seconds

    async def attempt():
        return answers.pop(0)

    return run_async(retrying(attempt, lambda: clock[0], sleep)), waits


def test_retrying_waits_out_busy_answers() -> None:
    answers = [(503, "2", b"", None), (None, None, b"", ConnectionError("x")),
               (201, None, b"{}", None)]
    assert _retrying(answers, [0.0]) == ((201, b"{}"), [2.0, 1.0])


def test_retrying_takes_a_refusal_at_once() -> None:
    assert _retrying([(410, None, b"gone", None)], [0.0]) == ((410, b"gone"), [])


def test_retrying_gives_up_with_the_last_failure() -> None:
    answers = [(None, None, b"", ConnectionError(str(i))) for i in range(40)]
    with pytest.raises(ConnectionError) as failed:
        _retrying(answers, [0.0])
    assert int(str(failed.value)) > 4  # the schedule ran to its end (bifoga.transfer.retry: 120 s)


class _StallIO(_HeadIO):
    """A clock that each wait moves on by `step` seconds; HEAD answers the offsets in turn."""

    def __init__(self, offsets: list[int | None], step: float = 10.0) -> None:
        super().__init__(Response(200, {}))
        self.t, self.step, self.offsets = 0.0, step, offsets

    def now(self) -> float:
        return self.t

    async def control(self, method: str, url: str, headers: dict, body: bytes = b"") -> Response:
        await super().control(method, url, headers, body)
        offset = self.offsets.pop(0)
        return Response(200, {} if offset is None else {"upload-offset": str(offset)})

    async def wait(self) -> None:
        self.t += self.step


def _watch(io: _StallIO, seen: dict, done_after: float = 1e9) -> tuple[bool, float]:
    stalled = run_async(wait_or_stall(io, "https://h/u/1", {"Tus-Resumable": "1.0.0"}, 100,
                                      seen, lambda: io.t >= done_after, io.wait))
    return stalled, io.t


def test_wait_or_stall_ends_with_the_request() -> None:
    io = _StallIO([])
    assert _watch(io, {"loaded": 0, "at": 0.0}, done_after=20.0) == (False, 20.0)
    assert io.asked == []


def test_wait_or_stall_gives_up_on_a_request_with_no_progress() -> None:
    io = _StallIO([])
    assert _watch(io, {"loaded": 50, "at": 0.0}) == (True, 40.0)  # past STALL_SECONDS (30)
    assert io.asked == []


def test_wait_or_stall_waits_while_the_server_offset_grows() -> None:
    io = _StallIO([10, 60, 60])
    assert _watch(io, {"loaded": 100, "at": 0.0}) == (True, 120.0)
    assert len(io.asked) == 3  # 10 > -1 and 60 > 10 still flow; 60 again is a stall
