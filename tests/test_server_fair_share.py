"""Slow and greedy clients cannot starve others: slow PATCHes are cut (resumable), one role
holds a bounded share of the upload locks, a long poll's slot is freed when its client goes
away, and the open-upload cap and reservations count per role.

The ASGI tests drive the app directly, so that a body can trickle or a client can disconnect
exactly when the test says; the last ones run `python -m server` to check the same against
uvicorn's real sockets and the tus client."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from bifoga.transfer.tus_client import Upload
from tests.conftest import VisitHandle, tus_metadata
from tests.live_server import ServerProcess, ThrottledTusIO
from tests.storage_view import PgView

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_storages

Receive = Callable[[], Awaitable[dict[str, Any]]]
TUS = {"Tus-Resumable": "1.0.0"}
PATCH_HEADERS = {**TUS, "Content-Type": "application/offset+octet-stream"}
# Small settings, so that a cut comes within a second: at least 1000 bytes in each 0.3 s.
SLOW = {"upload_min_bytes_per_second": 1000, "upload_rate_window_seconds": 0.3}


def create(client: Any, visit: VisitHandle, length: int, role: str = "patient") -> Any:
    return client.post(visit.url("/uploads"), headers=visit.headers(
        role, **{"Tus-Resumable": "1.0.0", "Upload-Length": str(length),
                 "Upload-Metadata": tus_metadata(filename="notes.txt")}))


def upload_path(client: Any, visit: VisitHandle, length: int, role: str = "patient") -> str:
    r = create(client, visit, length, role)
    assert r.status_code == 201, r.text
    return str(r.headers["location"])


def head_offset(client: Any, visit: VisitHandle, path: str, role: str = "patient") -> int:
    r = client.head(path, headers=visit.headers(role, **TUS))
    assert r.status_code == 200, r.status_code
    return int(r.headers["upload-offset"])


async def asgi_call(app: Any, method: str, path: str, headers: dict[str, str],
                    receive: Receive, query: str = "") -> dict[str, Any]:
    """One request straight into the app: {"status", "headers", "body"}. Each ends within
    10 s, so that a server that never cuts fails the test instead of hanging."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(),
        "query_string": query.encode(), "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5000), "server": ("testserver", 80),
    }
    answer: dict[str, Any] = {"body": b""}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
            answer["headers"] = {k.decode(): v.decode() for k, v in message["headers"]}
        else:
            answer["body"] += message.get("body", b"")

    await asyncio.wait_for(app(scope, receive, send), 10)
    return answer


def trickle(pieces: list[bytes], every: float, then_wait: bool = True) -> Receive:
    """A body sent one piece every `every` seconds; afterwards it waits for ever (a stall)
    with then_wait, else it ends."""
    queue = list(pieces)

    async def receive() -> dict[str, Any]:
        if not queue:
            await asyncio.sleep(3600)
        await asyncio.sleep(every)
        piece = queue.pop(0)
        return {"type": "http.request", "body": piece, "more_body": bool(queue) or then_wait}

    return receive


def patch_headers(visit: VisitHandle, offset: int, role: str = "patient",
                  **extra: str) -> dict[str, str]:
    return visit.headers(role, **PATCH_HEADERS, **{"Upload-Offset": str(offset)}, **extra)


# --- slow PATCHes are cut, resumable ---------------------------------------------------------


def test_trickling_patch_is_cut_and_the_upload_resumes(make_server_client: Any,
                                                       storage_view: Any) -> None:
    """A byte every 50 ms is far below 1000 B/s: cut at the end of the first window, with the
    bytes that came kept and the lock free for the resuming PATCH."""
    client = make_server_client(**SLOW)
    visit = VisitHandle(client.post("/api/visits", json={}).json())
    path = upload_path(client, visit, 100)
    t0 = time.monotonic()
    answer = client.portal.call(asgi_call, client.app, "PATCH", path, patch_headers(visit, 0),
                                trickle([b"a"] * 100, 0.05))
    took = time.monotonic() - t0
    assert answer["status"] == 408, answer
    assert answer["body"].startswith(b'{"error":"upload_too_slow"')
    assert answer["headers"]["connection"] == "close"
    assert took < 2.0  # the window is 0.3 s
    reached = head_offset(client, visit, path)
    assert 1 <= reached < 100
    assert storage_view.upload_bytes(path.rsplit("/", 1)[1]) == b"a" * reached
    rest = client.patch(path, content=b"b" * (100 - reached), headers=patch_headers(visit,
                                                                                   reached))
    assert (rest.status_code, rest.headers["upload-offset"]) == (204, "100")


def test_cut_patch_with_checksum_keeps_nothing(make_server_client: Any) -> None:
    client = make_server_client(**SLOW)
    visit = VisitHandle(client.post("/api/visits", json={}).json())
    path = upload_path(client, visit, 10)
    digest = base64.b64encode(hashlib.sha256(b"abcdefghij").digest()).decode()
    answer = client.portal.call(
        asgi_call, client.app, "PATCH", path,
        patch_headers(visit, 0, **{"Upload-Checksum": f"sha256 {digest}"}),
        trickle([b"abc"], 0.0))
    assert answer["status"] == 408
    assert head_offset(client, visit, path) == 0  # bytes that cannot be verified are not kept


def test_patch_held_past_its_maximum_time_is_cut(make_server_client: Any) -> None:
    """Fast enough, but holding the upload longer than upload_patch_max_seconds."""
    client = make_server_client(upload_min_bytes_per_second=0, upload_patch_max_seconds=0.4)
    visit = VisitHandle(client.post("/api/visits", json={}).json())
    path = upload_path(client, visit, 100_000)
    answer = client.portal.call(asgi_call, client.app, "PATCH", path, patch_headers(visit, 0),
                                trickle([b"x" * 1000] * 100, 0.02))
    assert answer["status"] == 408
    assert b"longer than one upload request may" in answer["body"]
    reached = head_offset(client, visit, path)
    assert reached % 1000 == 0 and 1000 <= reached < 100_000


def test_steady_patch_over_many_windows_is_neither_cut_nor_missing_bytes(
    make_server_client: Any, storage_view: Any
) -> None:
    """Pieces land across many window ends (the server judges while it waits for the next
    one): none is lost, and a sender above the minimum is never cut."""
    client = make_server_client(upload_min_bytes_per_second=1000,
                                upload_rate_window_seconds=0.05)
    visit = VisitHandle(client.post("/api/visits", json={}).json())
    pieces = [bytes([i]) * 500 for i in range(40)]  # 500 B every 30 ms: ~16 kB/s
    path = upload_path(client, visit, 500 * len(pieces))
    answer = client.portal.call(asgi_call, client.app, "PATCH", path, patch_headers(visit, 0),
                                trickle(pieces, 0.03, then_wait=False))
    assert (answer["status"], answer["headers"]["upload-offset"]) == (204, "20000")
    assert storage_view.upload_bytes(path.rsplit("/", 1)[1]) == b"".join(pieces)


# --- a bounded share of the upload locks per role --------------------------------------------


def test_trickling_uploads_of_one_visit_leave_the_pool_to_others(make_server_client: Any
                                                                 ) -> None:
    """A lock pool of 4 (on PostgreSQL a connection each), at most 1 per role: one visit's
    patient and clinician hold 2; every further PATCH of theirs is refused at once (429,
    retried by the client), while another visit's PATCH goes through. When the holders end,
    their places come back. (The default 20 s rate window never cuts the holders here: what
    is checked is the share.)"""
    client = make_server_client(max_upload_writers=4, max_upload_writers_per_role=1)
    greedy = VisitHandle(client.post("/api/visits", json={}).json())
    other = VisitHandle(client.post("/api/visits", json={}).json())
    paths = {role: [upload_path(client, greedy, 100, role) for _ in range(3)]
             for role in ("patient", "clinician")}
    innocent = upload_path(client, other, 5)

    async def scenario() -> dict[str, Any]:
        app = client.app
        release = asyncio.Event()

        def held_body() -> Receive:
            async def receive() -> dict[str, Any]:
                # A byte now, then nothing until the test lets go: a trickle that holds.
                if not getattr(receive, "sent", False):
                    receive.sent = True  # type: ignore[attr-defined]
                    return {"type": "http.request", "body": b"a", "more_body": True}
                await release.wait()
                return {"type": "http.disconnect"}
            return receive

        holders = [asyncio.ensure_future(asgi_call(
            app, "PATCH", paths[role][0], patch_headers(greedy, 0, role), held_body()))
            for role in ("patient", "clinician")]
        await asyncio.sleep(0.05)
        refused = [await asgi_call(app, "PATCH", paths[role][i], patch_headers(greedy, 0, role),
                                   trickle([b"b"], 0.0, then_wait=False))
                   for role in ("patient", "clinician") for i in (1, 2)]
        t0 = time.monotonic()
        passed = await asgi_call(app, "PATCH", innocent, patch_headers(other, 0),
                                 trickle([b"12345"], 0.0, then_wait=False))
        innocent_took = time.monotonic() - t0
        held_alive = not any(h.done() for h in holders)
        release.set()
        ended = await asyncio.gather(*holders)
        return {"refused": refused, "passed": passed, "innocent_took": innocent_took,
                "held_alive": held_alive, "ended": ended}

    result = client.portal.call(scenario)
    assert result["held_alive"]
    for answer in result["refused"]:
        assert answer["status"] == 429, answer
        assert answer["body"].startswith(b'{"error":"too_many_upload_writes"')
        assert answer["headers"]["retry-after"] == "1"
    assert result["passed"]["status"] == 204
    assert result["innocent_took"] < 1.0  # not a wait for a pool connection (5 s, then 423)
    assert [answer["status"] for answer in result["ended"]] == [204, 204]  # byte kept
    # Places are given back: each role's next PATCH is taken.
    for role in ("patient", "clinician"):
        r = client.patch(paths[role][1], content=b"b" * 100,
                         headers=patch_headers(greedy, 0, role))
        assert r.status_code == 204, r.text


# --- long polls ------------------------------------------------------------------------------


def test_long_poll_slot_is_freed_when_its_client_disconnects(make_server_client: Any) -> None:
    client = make_server_client(max_long_polls_per_token=1, long_poll_max_seconds=30)
    visit = VisitHandle(client.post("/api/visits", json={}).json())
    path = visit.url("/messages")

    async def scenario() -> dict[str, Any]:
        app = client.app
        gone = asyncio.Event()

        async def tab() -> dict[str, Any]:
            async def receive() -> dict[str, Any]:
                if not getattr(receive, "asked", False):
                    receive.asked = True  # type: ignore[attr-defined]
                    return {"type": "http.request", "body": b"", "more_body": False}
                await gone.wait()
                return {"type": "http.disconnect"}
            return await asgi_call(app, "GET", path, visit.patient, receive, "wait=30")

        def never_disconnects() -> Receive:
            asked = False

            async def receive() -> dict[str, Any]:
                nonlocal asked
                if not asked:
                    asked = True
                    return {"type": "http.request", "body": b"", "more_body": False}
                await asyncio.sleep(3600)  # as a server does until the client goes away
                raise AssertionError("unreachable")
            return receive

        first = asyncio.ensure_future(tab())
        await asyncio.sleep(0.1)
        while_held = await asgi_call(app, "GET", path, visit.patient, never_disconnects(),
                                     "wait=30")
        t0 = time.monotonic()
        gone.set()
        await asyncio.wait_for(first, 5)
        freed_after = time.monotonic() - t0
        # The reconnecting tab's poll is taken and held (answered by the next message).
        again = asyncio.ensure_future(asgi_call(app, "GET", path, visit.patient,
                                                never_disconnects(), "wait=30"))
        await asyncio.sleep(0.1)
        held_again = not again.done()
        await asgi_call(app, "POST", path, {**visit.clinician,
                                            "content-type": "application/json"},
                        trickle([b'{"text": "hej"}'], 0.0, then_wait=False))
        return {"while_held": while_held, "freed_after": freed_after, "held_again": held_again,
                "again": await asyncio.wait_for(again, 5)}

    result = client.portal.call(scenario)
    assert result["while_held"]["status"] == 429
    assert result["freed_after"] < 1.0  # at once, not when the 30 s wait ends
    assert result["held_again"]
    assert result["again"]["status"] == 200
    assert b'"hej"' in result["again"]["body"]


# --- the open-upload cap and reservations are per role ---------------------------------------


def test_open_upload_cap_is_per_role(make_server_client: Any) -> None:
    """A patient who opens the maximum of empty uploads does not block the clinician."""
    client = make_server_client(max_open_uploads_per_role=3)
    visit = VisitHandle(client.post("/api/visits", json={}).json())
    assert [create(client, visit, 5).status_code for _ in range(3)] == [201] * 3
    r = create(client, visit, 5)
    assert (r.status_code, r.json()["error"]) == (429, "too_many_uploads")
    assert [create(client, visit, 5, "clinician").status_code for _ in range(3)] == [201] * 3
    r = create(client, visit, 5, "clinician")
    assert (r.status_code, r.json()["error"]) == (429, "too_many_uploads")


def test_one_roles_reservations_do_not_use_up_the_others_quota(make_server_client: Any,
                                                               send_attachment: Any) -> None:
    client = make_server_client(max_visit_bytes=3000)
    visit = VisitHandle(client.post("/api/visits", json={}).json())
    assert create(client, visit, 3000).status_code == 201  # the patient reserves it all
    r = create(client, visit, 1)
    assert (r.status_code, r.json()["error"]) == (413, "visit_quota_exceeded")
    assert create(client, visit, 1000, "clinician").status_code == 201
    # Attachments count for both sides: the quota still bounds what the visit keeps.
    sent = send_attachment(visit, b"Notes\n" * 200, "a.txt", role="clinician", client=client)
    assert sent.status_code == 201, sent.text
    r = create(client, visit, 1801, "clinician")  # 1200 kept + 1000 open + 1801 > 3000
    assert (r.status_code, r.json()["error"]) == (413, "visit_quota_exceeded")
    assert create(client, visit, 800, "clinician").status_code == 201


# --- against the real server -----------------------------------------------------------------


@pytest.fixture(scope="module")
def live(pg_cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One `python -m server` on a PostgreSQL database of its own (the storage of the
    reported trouble), with a 1 s rate window of 4000 B/s. These tests take no `storage_kind`:
    they check uvicorn's sockets and the tus client, which are the same on either storage (the
    ASGI tests above run on both)."""
    pg_cluster.sql("DROP DATABASE IF EXISTS fair_share_live")
    pg_cluster.sql("CREATE DATABASE fair_share_live")
    env = {"DATABASE_URL": str(pg_cluster.url("fair_share_live")),
           "BIFOGA_RATE_LIMIT_PER_SECOND": "0", "BIFOGA_UPLOAD_MIN_BYTES_PER_SECOND": "4000",
           "BIFOGA_UPLOAD_RATE_WINDOW": "1"}
    with ServerProcess(tmp_path_factory.mktemp("fair-share-live"), **env) as server:
        yield server


def test_tus_client_resumes_after_a_slow_patch_is_cut(live: Any) -> None:
    """The first PATCH trickles at 1000 B/s, is cut after about a second (408, or a closed
    connection while the client still sends), and the client resumes from the server's
    offset at full speed; the stored bytes are the file."""
    visit = VisitHandle(live.new_visit())
    data = bytes(range(256)) * 120  # 30 kB

    class SlowThenFast(ThrottledTusIO):
        async def send(self, *args: Any, **kwargs: Any) -> Any:
            self.bytes_per_second = 1000 if not self.patch_starts else None
            return await super().send(*args, **kwargs)

    async def run() -> tuple[str, list[int]]:
        async with httpx.AsyncClient(timeout=10) as http:
            io = SlowThenFast(data, http, piece=250)
            upload = Upload(io, f"{live.base}/api/visits/{visit.id}/uploads", len(data),
                            metadata={"filename": "notes.txt"}, headers=visit.patient)
            url = await upload.start()
            return url, io.patch_starts

    t0 = time.monotonic()
    url, starts = asyncio.run(run())
    assert time.monotonic() - t0 < 8
    assert len(starts) >= 2 and starts[0] == 0
    assert 0 < starts[1] < len(data)  # resumed from the offset the cut PATCH reached
    view = PgView(live.env["DATABASE_URL"])
    assert view.upload_bytes(url.rsplit("/", 1)[1]) == data


def test_closed_long_poll_connections_give_their_slots_back(live: Any) -> None:
    """Four held polls (the per-token maximum) on real sockets; a fifth is refused. Once
    their connections close, a poll is taken at once, not 25 s later."""
    visit = VisitHandle(live.new_visit())
    request = (f"GET {visit.url('/messages')}?wait=25 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               f"Authorization: {visit.patient['Authorization']}\r\n\r\n").encode()
    sockets = [socket.create_connection(("127.0.0.1", live.port)) for _ in range(4)]
    try:
        for s in sockets:
            s.sendall(request)
        url = live.base + visit.url("/messages")
        deadline = time.monotonic() + 5
        while True:  # until the server holds all four
            refused = httpx.get(url, params={"wait": 1}, headers=visit.patient, timeout=10)
            if refused.status_code == 429 or time.monotonic() > deadline:
                break
        assert refused.json()["error"] == "too_many_long_polls"
    finally:
        for s in sockets:
            s.close()
    t0 = time.monotonic()
    while (r := httpx.get(url, params={"wait": 1}, headers=visit.patient, timeout=10)
           ).status_code == 429:
        assert time.monotonic() - t0 < 3, "the slots stayed taken after the clients left"
        time.sleep(0.05)
    assert r.status_code == 200
