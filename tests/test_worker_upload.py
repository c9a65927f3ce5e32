"""bifoga.worker_contract.send_held: both workers' upload() answer, on the in-memory tus
server (tests/tus_io.py) with a fake finalisation."""

from __future__ import annotations

import json

import pytest

from bifoga.tus_client import Response
from bifoga.worker_contract import Progress, Uploaded, UploadRequest, finalised, send_held
from tests.live_server import run_async
from tests.micropython_runner import REPO, micropython_available, run_micropython
from tests.tus_io import MemoryTusIO

REQUEST = UploadRequest(key="k1", name="Remiss.pdf", endpoint="/api/visits/v1/uploads",
                        finalise_url="/api/visits/v1/attachments", token="tok")


def _send(io: MemoryTusIO, answer: tuple[int, bytes] | Exception):
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
        lambda: "blob:sent"))
    return result, calls


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
    assert any(p.state for p in calls["reports"])


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
    files = {"/bifoga/" + n + ".py": (REPO / "bifoga" / (n + ".py")).read_text()
             for n in ("__init__", "retry", "tus_client", "worker_contract")}
    code = """
import sys
sys.path.insert(0, '/')
import asyncio
from bifoga.tus_client import Response
from bifoga.worker_contract import UploadRequest, send_held

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

await main()
"""
    assert run_micropython(code, files, top_level_await=True).splitlines() == [
        "http://h/fin t u1",
        "True {'id': 'm1'} blob:x 0.0 [] {}",
        "['uploading', 0, 3, 'done']",
    ]
