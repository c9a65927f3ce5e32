"""Cross-cutting HTTP behaviour: security headers, static whitelist, gzip, errors, rate limits."""

from __future__ import annotations

import asyncio
import json
import logging
import warnings
from pathlib import Path
from typing import Any

import pytest

from server.api import create_visit_links
from server.app import create_app
from server.middleware import CONTENT_SECURITY_POLICY, BodyReadTimeoutMiddleware
from tests.conftest import VisitHandle

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

SECURITY = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-embedder-policy": "require-corp",
    "cross-origin-resource-policy": "same-origin",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    """A fake repository root: the whitelisted app files plus things that must never leak."""
    root = tmp_path / "app"
    files = {
        "index.html": "<!doctype html><title>Bifoga</title>",
        "main.py": "print('main')\n",
        "worker.py": "print('worker')\n",
        "pyscript.toml": "name = 'bifoga'\n",
        "worker.toml": "packages = []\n",
        "components/composer.py": "x = 1\n",
        "components/README.md": "not served",
        "bifoga/media/sniff.py": "y = 2\n",
        "adapters/browser.py": "z = 3\n",
        "static/app.css": "body { color: black; }\n" * 200,
        "static/vendor/pyodide-1/pyodide.mjs": "export {};\n",
        "static/vendor/pyodide-1/pyodide.asm.wasm": "\0asm",
        "static/vendor/pyodide-1/python_stdlib.zip": "PK",
        "static/vendor/pyodide-1/pkg-1.0-py3-none-any.whl": "PK",
        "static/vendor/pyodide-1/pyodide-lock.json": "{}",
        "static/vendor/x.js": "1;",
        "static/.hidden": "secret",
        "server/app.py": "secret",
        "data/bifoga.sqlite3": "secret",
        ".git/config": "secret",
        ".venv/pyvenv.cfg": "secret",
        "requirements.txt": "secret",
        "openapi.yaml": "openapi: 3.1.0",
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture
def site(server_settings: Any, app_dir: Path) -> Any:
    with TestClient(create_app(server_settings, app_dir=app_dir)) as client:
        yield client


@pytest.mark.parametrize(
    ("path", "content_type", "cache"),
    [
        ("/", "text/html; charset=utf-8", "no-cache"),
        ("/index.html", "text/html; charset=utf-8", "no-cache"),
        ("/main.py", "text/plain; charset=utf-8", "no-cache"),
        ("/worker.py", "text/plain; charset=utf-8", "no-cache"),
        ("/pyscript.toml", "text/plain; charset=utf-8", "no-cache"),
        ("/worker.toml", "text/plain; charset=utf-8", "no-cache"),
        ("/components/composer.py", "text/plain; charset=utf-8", "no-cache"),
        ("/bifoga/media/sniff.py", "text/plain; charset=utf-8", "no-cache"),
        ("/adapters/browser.py", "text/plain; charset=utf-8", "no-cache"),
        ("/static/app.css", "text/css; charset=utf-8", "no-cache"),
        ("/static/vendor/pyodide-1/pyodide.mjs", "text/javascript; charset=utf-8",
         "public, max-age=31536000, immutable"),
        ("/static/vendor/x.js", "text/javascript; charset=utf-8",
         "public, max-age=31536000, immutable"),
        ("/static/vendor/pyodide-1/pyodide.asm.wasm", "application/wasm",
         "public, max-age=31536000, immutable"),
        ("/static/vendor/pyodide-1/python_stdlib.zip", "application/zip",
         "public, max-age=31536000, immutable"),
        ("/static/vendor/pyodide-1/pkg-1.0-py3-none-any.whl", "application/zip",
         "public, max-age=31536000, immutable"),
        ("/static/vendor/pyodide-1/pyodide-lock.json", "application/json",
         "public, max-age=31536000, immutable"),
    ],
)
def test_static_whitelist_served(site: Any, app_dir: Path, path: str, content_type: str,
                                 cache: str) -> None:
    r = site.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"] == content_type
    assert r.headers["cache-control"] == cache
    for name, value in SECURITY.items():
        assert r.headers[name] == value
    target = "index.html" if path == "/" else path.lstrip("/")
    assert r.content == (app_dir / target).read_bytes()


@pytest.mark.parametrize(
    "path",
    [
        "/server/app.py", "/.git/config", "/data/bifoga.sqlite3", "/.venv/pyvenv.cfg",
        "/requirements.txt", "/openapi.yaml", "/static/.hidden", "/components/README.md",
        "/components/../server/app.py", "/static/../server/app.py", "/static/%2e%2e/.git/config",
        "/static/vendor/../../server/app.py", "/static", "/static/", "/static/vendor",
        "/components/", "/bifoga/media/sniff.pyc", "/bifoga/../server/app.py",
        "/bifoga/media/x/sniff.py", "/static/nope.js", "/%2e%2e/server/app.py",
        "/static/..%5c..%5cserver/app.py", "/index.html/", "//etc/passwd", "/api",
        "/api/nope", "/static/app.css%00.js",
    ],
)
def test_static_never_serves_other_files(site: Any, path: str) -> None:
    r = site.get(path)
    assert r.status_code == 404
    assert r.json()["error"] == "not_found"
    assert b"secret" not in r.content


def test_real_repo_never_serves_secrets(server_client: Any) -> None:
    for path in ("/server/app.py", "/.git/config", "/data/bifoga.sqlite3", "/tests/conftest.py",
                 "/.venv/pyvenv.cfg", "/node_modules/pyodide/package.json", "/docs/api.md"):
        assert server_client.get(path).status_code == 404, path


def test_static_etag_revalidation(site: Any) -> None:
    first = site.get("/main.py")
    again = site.get("/main.py", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["cache-control"] == "no-cache"


def test_static_head_and_methods(site: Any) -> None:
    r = site.head("/index.html")
    assert r.status_code == 200 and r.content == b""
    r = site.post("/index.html")
    assert (r.status_code, r.json()["error"]) == (405, "method_not_allowed")
    assert site.delete("/nothing-here").status_code == 405


def test_gzip_static_but_never_api(site: Any) -> None:
    r = site.get("/static/app.css", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    assert r.text.startswith("body")
    v = VisitHandle(site.post("/api/visits", json={}).json())
    for i in range(20):
        site.post(v.url("/messages"), headers=v.patient, json={"text": "hej " * 100 + str(i)})
    r = site.get(v.url("/messages"), headers={**v.patient, "Accept-Encoding": "gzip"})
    assert len(r.content) > 5000 and "content-encoding" not in r.headers


@pytest.mark.parametrize("path", ["/api/config", "/api/nope", "/api/visits/x"])
def test_security_headers_on_api(server_client: Any, path: str) -> None:
    r = server_client.get(path)
    for name, value in SECURITY.items():
        assert r.headers[name] == value
    assert r.headers["cache-control"] == "no-store"


def test_csp_is_one_constant() -> None:
    assert "'unsafe-eval'" in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert "object-src 'none'" in CONTENT_SECURITY_POLICY


def test_unknown_api_route_and_method(server_client: Any) -> None:
    r = server_client.get("/api/nothing")
    assert r.status_code == 404 and r.json() == {"error": "not_found", "message": "Not found."}
    r = server_client.put("/api/config")
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"
    r = server_client.delete("/api/visits/x/messages")
    assert r.status_code == 405


def test_unexpected_error_is_json_500(server_settings: Any, monkeypatch: pytest.MonkeyPatch
                                      ) -> None:
    app = create_app(server_settings)

    def boom(*args: Any) -> Any:
        raise RuntimeError("secret internals /etc/passwd")

    with TestClient(app, raise_server_exceptions=False) as client:
        v = VisitHandle(client.post("/api/visits", json={}).json())
        monkeypatch.setattr(app.state.ctx.storage, "messages_after", boom)
        r = client.get(v.url("/messages"), headers=v.patient)
    assert r.status_code == 500
    assert r.json() == {"error": "internal_error", "message": "Something went wrong."}
    assert "secret" not in r.text and "Traceback" not in r.text


def test_rate_limit(make_server_client: Any) -> None:
    client = make_server_client(rate_limit_enabled=True, rate_limit_per_second=0.001,
                                rate_limit_burst=5)
    v = VisitHandle(client.post("/api/visits", json={}).json())  # 1 from the address bucket
    statuses = [client.post("/api/visits", json={}).status_code for _ in range(5)]
    assert statuses == [201, 201, 201, 201, 429]
    r = client.post("/api/visits", json={})
    assert r.json()["error"] == "rate_limited" and r.headers["retry-after"] == "1"
    # The config is never limited: without it the app cannot start.
    assert client.get("/api/config").status_code == 200
    # Each token has its own bucket.
    assert [client.get(v.url(), headers=v.patient).status_code for _ in range(6)] == \
        [200] * 5 + [429]
    assert client.get(v.url(), headers=v.clinician).status_code == 200
    # Guessing tokens draws from the address bucket, which is empty.
    assert client.get(v.url(), headers={"Authorization": "Bearer guess"}).status_code == 429


def test_rate_limit_disabled(make_server_client: Any) -> None:
    client = make_server_client(rate_limit_enabled=False, rate_limit_per_second=0.001,
                                rate_limit_burst=1)
    assert all(client.get("/api/config").status_code == 200 for _ in range(10))


def test_rate_limiter_refills_and_prunes() -> None:
    from server.live import RateLimiter

    limiter = RateLimiter(rate=2, burst=2)
    assert [limiter.allow("a", now=0) for _ in range(3)] == [True, True, False]
    assert limiter.allow("a", now=0.5)
    limiter.MAX_KEYS = 3  # type: ignore[misc]
    for i in range(10):
        limiter.allow(f"k{i}", now=100 + i * 10)
    assert len(limiter._buckets) <= 3


# --- clients that go away mid-body -----------------------------------------------------------


async def _call(app: Any, method: str, path: str, headers: dict[str, str],
                messages: list[dict[str, Any]], stall: bool = False) -> list[dict[str, Any]]:
    """Run one request through the ASGI app: `messages` are what receive() hands out, then
    it stalls for ever (stall=True) or reports the client gone. Returns what the app sent."""
    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1", "method": method, "scheme": "http", "path": path,
        "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
    }
    pending = list(messages)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop(0)
        if stall:
            await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def _status(sent: list[dict[str, Any]]) -> int | None:
    return next((m["status"] for m in sent if m["type"] == "http.response.start"), None)


def _disconnect_cases(app: Any, settings: Any) -> list[tuple[str, str, dict[str, str]]]:
    """Every route that reads a JSON body: (method, path, auth headers)."""
    links = asyncio.run(create_visit_links(app.state.ctx.storage, settings))
    auth = {"authorization": f"Bearer {links.patient_token}"}
    base = f"/api/visits/{links.visit_id}"
    return [("POST", "/api/visits", {}), ("POST", base + "/messages", auth),
            ("POST", base + "/attachments", auth),
            ("PUT", base + "/attachments/x/mark",
             {"authorization": f"Bearer {links.clinician_token}"})]


def test_abandoned_json_body_is_quiet(server_settings: Any,
                                      caplog: pytest.LogCaptureFixture) -> None:
    """A client that closes the connection halfway through its JSON body is no server error:
    no traceback, nothing at ERROR, no 500."""
    caplog.set_level(logging.DEBUG)
    app = create_app(server_settings)
    for method, path, auth in _disconnect_cases(app, server_settings):
        headers = {**auth, "content-type": "application/json", "content-length": "40"}
        half = [{"type": "http.request", "body": b'{"upload_id": "abc', "more_body": True}]
        sent = asyncio.run(_call(app, method, path, headers, half))
        assert _status(sent) == 400, (path, sent)
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        assert json.loads(body)["error"] == "client_disconnected"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert "Traceback" not in caplog.text


def test_stalled_json_body_is_408_without_error_log(server_settings: Any,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """What `python -m server` does with a body that stops coming (BodyReadTimeoutMiddleware):
    408 request_timeout, and still nothing at ERROR."""
    caplog.set_level(logging.DEBUG)
    app = create_app(server_settings)
    timed = BodyReadTimeoutMiddleware(app, 0.05)
    for method, path, auth in _disconnect_cases(app, server_settings):
        headers = {**auth, "content-type": "application/json", "content-length": "40"}
        half = [{"type": "http.request", "body": b'{"te', "more_body": True}]
        sent = asyncio.run(_call(timed, method, path, headers, half, stall=True))
        assert _status(sent) == 408, (path, sent)
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        assert json.loads(body)["error"] == "request_timeout"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert "Traceback" not in caplog.text


def test_other_errors_are_still_logged(server_settings: Any, caplog: pytest.LogCaptureFixture,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # Quiet disconnects must not swallow real failures.
    app = create_app(server_settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        v = VisitHandle(client.post("/api/visits", json={}).json())

        def boom(*args: Any) -> Any:
            raise RuntimeError("real bug")

        monkeypatch.setattr(app.state.ctx.storage, "add_text_message", boom)
        r = client.post(v.url("/messages"), headers=v.patient, json={"text": "hej"})
    assert r.status_code == 500
    assert any(r.levelno >= logging.ERROR and r.exc_info for r in caplog.records)
