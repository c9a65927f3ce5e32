"""Load against one real server process: 20 PDF uploads in parallel (1-2 MB each, 10 per
role) while both sides send 100 chat messages each and long-poll like the app does.

Every byte and every message must arrive exactly once, in order per sender. Rate limiting stays
at the product default (20 requests/s, burst 100, per token): the clients honour 429 +
Retry-After, as the tus client and the app do, and the test counts how often that happened.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx
import pytest

from bifoga.transfer.tus_client import Upload
from tests.live_server import (
    ServerProcess,
    ThrottledTusIO,
    Visit,
    make_pdf,
    run_async,
    sha256,
    storage_invariants,
)

pytestmark = pytest.mark.timeout(180)
ROLES = ("patient", "clinician")
UPLOADS_PER_ROLE = 10
MESSAGES_PER_ROLE = 100


class Client:
    """One role's httpx client that retries 429 after its Retry-After and counts them."""

    def __init__(self, visit: Visit, role: str, stats: Counter[str]) -> None:
        self.visit, self.role, self.stats = visit, role, stats
        self.http = httpx.AsyncClient(base_url=visit.base, headers=visit.auth_of(role),
                                      timeout=60, limits=httpx.Limits(max_connections=40))

    async def request(self, method: str, url: str, **kw) -> httpx.Response:
        while True:
            resp = await self.http.request(method, url, **kw)
            if resp.status_code != 429:
                return resp
            self.stats["429"] += 1
            await asyncio.sleep(float(resp.headers.get("retry-after", "1")))


async def send_messages(c: Client, sent: list[str]) -> None:
    """One after the other, as a person types: the order of one sender is defined."""
    for i in range(MESSAGES_PER_ROLE):
        text = f"{c.role} {i:03d}"
        resp = await c.request("POST", f"/api/visits/{c.visit.id}/messages", json={"text": text})
        assert resp.status_code == 201, resp.text
        sent.append(text)


async def send_file(c: Client, data: bytes, name: str, stats: Counter[str]) -> dict:
    io = ThrottledTusIO(data, c.http)
    states: list[str] = []
    up = Upload(io, f"{c.visit.base}/api/visits/{c.visit.id}/uploads", len(data),
                {"filename": name, "filetype": "application/pdf"}, on_state=states.append)
    url = await up.start()
    if "reconnecting" in states:
        stats["tus retries"] += 1
    resp = await c.request("POST", f"/api/visits/{c.visit.id}/attachments",
                           json={"upload_id": url.rsplit("/", 1)[1]})
    assert resp.status_code == 201, resp.text
    return resp.json()


async def follow(c: Client, expected: int, seen: list[dict]) -> None:
    """Long-poll like the app: after=<cursor>&wait=25 until every message was seen."""
    cursor = 0
    while len(seen) < expected:
        resp = await c.request("GET", f"/api/visits/{c.visit.id}/messages",
                               params={"after": cursor, "wait": 25})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        seen += body["messages"]
        cursor = body["cursor"]
        c.stats["long polls"] += 1


def test_parallel_uploads_and_chat_from_both_sides(tmp_path):
    files = {
        role: [(f"{role}-{i:02d}.pdf", make_pdf(1_000_000 + 100_000 * i + (role == "clinician"),
                                                seed=100 * (role == "clinician") + i))
               for i in range(UPLOADS_PER_ROLE)]
        for role in ROLES
    }
    total = len(ROLES) * (UPLOADS_PER_ROLE + MESSAGES_PER_ROLE)
    stats: Counter[str] = Counter()
    sent: dict[str, list[str]] = {role: [] for role in ROLES}
    seen: dict[str, list[dict]] = {role: [] for role in ROLES}

    with ServerProcess(tmp_path / "data") as srv:  # default rate limits
        visit = Visit(srv.base)

        async def scenario() -> float:
            clients = {role: Client(visit, role, stats) for role in ROLES}
            t0 = time.perf_counter()
            try:
                await asyncio.gather(
                    *(follow(clients[r], total, seen[r]) for r in ROLES),
                    *(send_messages(clients[r], sent[r]) for r in ROLES),
                    *(send_file(clients[r], data, name, stats)
                      for r in ROLES for name, data in files[r]),
                )
                elapsed = time.perf_counter() - t0
                # Every file, downloaded by the other side, is byte-identical.
                by_name = {m["attachment"]["name"]: m for m in seen["clinician"]
                           if m["kind"] == "attachment"}
                for role in ROLES:
                    other = clients["clinician" if role == "patient" else "patient"]
                    for name, data in files[role]:
                        resp = await other.request("GET", by_name[name]["attachment"]["url"])
                        assert resp.status_code == 200
                        assert sha256(resp.content) == sha256(data), name
            finally:
                for c in clients.values():
                    await c.http.aclose()
            return elapsed

        elapsed = run_async(scenario())

        for role in ROLES:
            got = seen[role]
            ids = [m["id"] for m in got]
            assert ids == sorted(set(ids)), "a message seen twice or out of order"
            assert len(got) == total
            # Per sender: the texts exactly once each, in the order they were sent.
            for sender in ROLES:
                texts = [m["text"] for m in got if m["sender_role"] == sender
                         and m["kind"] == "text"]
                assert texts == sent[sender] == [f"{sender} {i:03d}"
                                                 for i in range(MESSAGES_PER_ROLE)]
                names = sorted(m["attachment"]["name"] for m in got
                               if m["sender_role"] == sender and m["kind"] == "attachment")
                assert names == sorted(name for name, _ in files[sender])
        # The listing API (no long poll) agrees with what the long polls delivered.
        assert [m["id"] for m in visit.messages()] == [m["id"] for m in seen["patient"]]
        counts = storage_invariants(srv.data_dir)
        assert (counts["attachments"], counts["messages"], counts["uploads"]) == (
            len(ROLES) * UPLOADS_PER_ROLE, total, 0)
        uploaded = sum(len(d) for r in ROLES for _, d in files[r])
        assert counts["bytes"] == uploaded
    print(f"\nload: {len(ROLES) * UPLOADS_PER_ROLE} uploads ({uploaded / 1e6:.1f} MB) + "
          f"{len(ROLES) * MESSAGES_PER_ROLE} messages in {elapsed:.1f} s; "
          f"{dict(stats)}")


def test_rate_limit_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default stays on (20/s, burst 100); operators can change it without code."""
    from server.config import Settings

    for name in ("BIFOGA_RATE_LIMIT_PER_SECOND", "BIFOGA_RATE_LIMIT_BURST"):
        monkeypatch.delenv(name, raising=False)
    s = Settings.from_env()
    assert (s.rate_limit_enabled, s.rate_limit_per_second, s.rate_limit_burst) == (True, 20, 100)
    monkeypatch.setenv("BIFOGA_RATE_LIMIT_PER_SECOND", "50")
    monkeypatch.setenv("BIFOGA_RATE_LIMIT_BURST", "400")
    s = Settings.from_env()
    assert (s.rate_limit_per_second, s.rate_limit_burst) == (50, 400)
    monkeypatch.setenv("BIFOGA_RATE_LIMIT_PER_SECOND", "0")  # off
    from server.live import RateLimiter

    limiter = RateLimiter(Settings.from_env().rate_limit_per_second, 1)
    assert all(limiter.allow("k") for _ in range(10))
