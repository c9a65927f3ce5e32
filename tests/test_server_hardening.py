"""Server hardening: trusted proxies, unauthenticated limits, long-poll caps, link
expiry, demo mode on a public address."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from dataclasses import replace
from typing import Any

import httpx
import pytest

from server.__main__ import demo_refusal, is_loopback, uvicorn_config
from server.app import create_app
from server.config import Settings
from server.live import VisitNotifier
from tests.conftest import VisitHandle, run_in_app

# --- 4. trusted proxy, config never limited, failed attempts per visit -----------------------


async def _client_seen(config: Any, peer: str, forwarded: str) -> str:
    """What the app sees as the client when `peer` connects with X-Forwarded-For."""
    config.load()
    seen: list[str] = []
    scope = {"type": "http", "method": "GET", "path": "/", "raw_path": b"/", "query_string": b"",
             "headers": [(b"x-forwarded-for", forwarded.encode())], "client": (peer, 5000),
             "server": ("127.0.0.1", 8000), "scheme": "http", "http_version": "1.1",
             "asgi": {"version": "3.0"}}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["client"][0])

    # The probe replaces the app inside uvicorn's middleware chain.
    config.loaded_app.app = app
    await config.loaded_app(scope, None, None)
    return seen[0]


@pytest.mark.parametrize(("allow", "peer", "expected"), [
    ("10.0.0.7", "10.0.0.7", "203.0.113.9"),  # the proxy: its header is believed
    ("10.0.0.7", "198.51.100.1", "198.51.100.1"),  # anyone else: the socket's peer
    ("", "127.0.0.1", "127.0.0.1"),  # unset: nobody is trusted, not even loopback
])
def test_forwarded_headers_only_from_trusted_proxies(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, allow: str, peer: str, expected: str
) -> None:
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", allow)

    async def probe(scope: Any, receive: Any, send: Any) -> None:
        pass

    settings = Settings(data_dir=tmp_path, body_read_timeout_seconds=0)
    config = uvicorn_config(settings, probe, "127.0.0.1", 8000)
    if not allow:
        assert config.proxy_headers is False
        return
    assert asyncio.run(_client_seen(config, peer, "203.0.113.9")) == expected


def test_config_is_never_rate_limited(make_server_client: Any) -> None:
    """Bad tokens from one address (a NAT, a proxy) must not keep the next user's app from
    starting: GET /api/config answered 429 after 110 of them."""
    client = make_server_client(rate_limit_enabled=True, rate_limit_burst=10,
                                rate_limit_per_second=0.01)
    for _ in range(30):
        client.get("/api/visits/x/messages", headers={"Authorization": "Bearer nope"})
    for _ in range(30):
        assert client.get("/api/config").status_code == 200


def test_failed_token_attempts_are_limited_per_visit(make_server_client: Any) -> None:
    client = make_server_client(rate_limit_enabled=True, rate_limit_per_second=1000.0,
                                rate_limit_burst=10_000, failed_auth_per_visit_burst=5,
                                failed_auth_per_visit_per_second=0.01)
    visit = VisitHandle(client.post("/api/visits", json={}).json())
    other = VisitHandle(client.post("/api/visits", json={}).json())
    codes = []
    for i in range(8):
        # Each guess as if from another address: the per-address bucket does not help.
        r = client.get(visit.url(), headers={"Authorization": f"Bearer guess{i}",
                                             "X-Forwarded-For": f"198.51.100.{i}"})
        codes.append(r.status_code)
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}
    # The visit's own users, and other visits, are not locked out.
    assert client.get(visit.url(), headers=visit.patient).status_code == 200
    assert client.get(other.url(), headers={"Authorization": "Bearer x"}).status_code == 401


# --- 5. long polls -------------------------------------------------------------------------


def test_long_polls_are_capped_per_token(server_settings: Any) -> None:
    app = create_app(replace(server_settings, max_long_polls_per_token=4,
                             long_poll_max_seconds=30))

    async def scenario() -> tuple[list[int], float, int, int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=30) as c:
            visit = VisitHandle((await c.post("/api/visits", json={})).json())
            held = [asyncio.ensure_future(c.get(visit.url("/messages"), params={"wait": 30},
                                                headers=visit.patient)) for _ in range(4)]
            await asyncio.sleep(0.5)
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            fifth = await c.get(visit.url("/messages"), params={"wait": 30},
                                headers=visit.patient)
            refused_after = loop.time() - t0
            # The other role has its own slots; a poll without waiting needs none.
            other = asyncio.ensure_future(c.get(visit.url("/messages"), params={"wait": 30},
                                                headers=visit.clinician))
            now = await c.get(visit.url("/messages"), headers=visit.patient)
            await c.post(visit.url("/messages"), headers=visit.clinician, json={"text": "hej"})
            answers = await asyncio.gather(*held, other)
            return ([fifth.status_code, fifth.json()["error"] == "too_many_long_polls"]
                    + [a.status_code for a in answers], refused_after, now.status_code,
                    len(answers))

    codes, refused_after, now, n = asyncio.run(scenario())
    assert codes == [429, True] + [200] * n
    assert refused_after < 5  # at once, not after the 30 s wait
    assert now == 200


def test_notify_wakes_only_that_visits_waiters() -> None:
    notifier = VisitNotifier()

    async def scenario() -> tuple[bool, bool]:
        with notifier.listen("a") as a, notifier.listen("b") as b:
            notifier.notify("a")
            await asyncio.sleep(0.05)
            return a.is_set(), b.is_set()

    assert asyncio.run(scenario()) == (True, False)


# --- 7. link expiry ------------------------------------------------------------------------


def _end_days_ago(settings: Any, visit_id: str, days: int) -> None:
    with sqlite3.connect(settings.data_dir / "bifoga.sqlite3") as db:
        db.execute("UPDATE visits SET ended_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?) "
                   "WHERE id = ?", (f"-{days} days", visit_id))


def test_links_expire_after_the_ttl_and_files_are_deleted(
    server_client: Any, server_settings: Any, visit: VisitHandle, send_attachment: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from server.common import purge_expired_visits

    sent = send_attachment(visit, b"Notes\n" * 50, "a.txt")
    assert sent.status_code == 201
    att_url = sent.json()["attachment"]["url"]
    server_client.post(visit.url("/end"), headers=visit.clinician)
    ttl = server_settings.link_ttl_days
    # Ended, but within the TTL: the clinician can still file.
    _end_days_ago(server_settings, visit.id, int(ttl) - 1)
    assert server_client.get(att_url, headers=visit.clinician).status_code == 200
    ctx = server_client.app.state.ctx
    assert run_in_app(server_client, purge_expired_visits, ctx) == 0
    _end_days_ago(server_settings, visit.id, int(ttl) + 1)
    for role in ("patient", "clinician"):
        for url in (visit.url(), visit.url("/messages"), att_url, visit.url("/attachments")):
            r = server_client.get(url, headers=visit.headers(role))
            assert (r.status_code, r.json()["error"]) == (410, "link_expired"), url
            assert "expired" in r.json()["message"]
    with caplog.at_level(logging.WARNING, logger="bifoga.server"):
        assert run_in_app(server_client, purge_expired_visits, ctx) == 1
    assert list((server_settings.data_dir / "attachments").iterdir()) == []
    assert f"visit {visit.id}: links expired" in caplog.text
    assert run_in_app(server_client, purge_expired_visits, ctx) == 0  # once


def test_open_visits_and_ttl_zero_never_expire(
    make_server_client: Any, server_settings: Any
) -> None:
    client = make_server_client(link_ttl_days=0)
    visit = VisitHandle(client.post("/api/visits", json={}).json())
    client.post(visit.url("/end"), headers=visit.clinician)
    _end_days_ago(server_settings, visit.id, 10_000)
    assert client.get(visit.url(), headers=visit.patient).status_code == 200


# --- 8. demo mode --------------------------------------------------------------------------


@pytest.mark.parametrize(("host", "public", "refused"), [
    ("127.0.0.1", False, False), ("localhost", False, False), ("::1", False, False),
    ("0.0.0.0", False, True), ("192.168.1.5", False, True), ("example.org", False, True),
    ("0.0.0.0", True, False),
])
def test_demo_mode_refuses_a_public_host(tmp_path: Any, host: str, public: bool,
                                         refused: bool) -> None:
    settings = Settings(data_dir=tmp_path, demo=True, demo_public=public)
    message = demo_refusal(settings, host)
    assert (message is not None) == refused
    if message:
        assert "BIFOGA_DEMO_PUBLIC=1" in message and host in message
    assert demo_refusal(replace(settings, demo=False), host) is None
    assert is_loopback(host) == (host in ("127.0.0.1", "localhost", "::1"))


def test_demo_refusal_stops_python_m_server(tmp_path: Any) -> None:
    import os
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    env = {**os.environ, "HOST": "0.0.0.0", "PORT": "1", "BIFOGA_DEMO": "1",
           "DATA_DIR": str(tmp_path / "data")}
    env.pop("BIFOGA_DEMO_PUBLIC", None)
    done = subprocess.run([sys.executable, "-m", "server"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "BIFOGA_DEMO_PUBLIC=1" in done.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was made


def test_visit_json_says_demo(make_server_client: Any) -> None:
    client = make_server_client()
    visit = VisitHandle(client.post("/api/visits", json={}).json())
    assert client.get(visit.url(), headers=visit.patient).json()["demo"] is True
    ctx = client.app.state.ctx
    ctx.settings = replace(ctx.settings, demo=False)
    assert client.get(visit.url(), headers=visit.patient).json()["demo"] is False
