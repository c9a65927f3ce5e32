"""Security: visit isolation on every endpoint, roles, tampered tokens, hostile file names,
oversize bodies, response headers, and slow (slow-loris) clients against the real server.

The isolation test walks the app's routing table, so an endpoint added later (server/filing.py
and friends) is covered without editing this file.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
import unicodedata
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from starlette.routing import Route

from server.middleware import CONTENT_SECURITY_POLICY
from server.names import MAX_NAME_CHARS, name_for_type, sanitize_display_name
from tests.conftest import VisitHandle, tus_metadata
from tests.live_server import (
    ROOT,
    ServerProcess,
    Visit,
    make_pdf,
    run_async,
    storage_invariants,
)

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_storages

PDF = make_pdf(3000, seed=3)
B_SECRETS = ("B-SECRET", "Bertil", "Berit")
TUS = {"Tus-Resumable": "1.0.0"}


def finalise(client: Any, visit: VisitHandle, location: str, role: str = "patient") -> Any:
    return client.post(visit.url("/attachments"), headers=visit.headers(role),
                       json={"upload_id": location.rsplit("/", 1)[1]})


def create_upload(client: Any, visit: VisitHandle, role: str = "patient",
                  length: int = 10) -> str:
    r = client.post(visit.url("/uploads"), headers={**visit.headers(role), **TUS,
                    "Upload-Length": str(length),
                    "Upload-Metadata": tus_metadata(filename="B-SECRET-OPEN.pdf")})
    assert r.status_code == 201, r.text
    return r.headers["location"].rsplit("/", 1)[1]


def visit_routes(app: Any) -> list[tuple[str, str]]:
    out = []
    for route in app.routes:
        if isinstance(route, Route) and "{visit_id}" in route.path:
            out += [(route.path, method) for method in sorted(route.methods or ())]
    return out


def request_for(path: str, method: str, ids: dict[str, str]) -> dict[str, Any]:
    """A request that would succeed on the caller's own visit, so only isolation refuses it."""
    headers = dict(TUS)
    kw: dict[str, Any] = {"headers": headers}
    if path.endswith("/uploads") and method == "POST":
        headers.update({"Upload-Length": "10",
                        "Upload-Metadata": tus_metadata(filename="a.pdf")})
    elif method == "PATCH":
        headers.update({"Upload-Offset": "0",
                        "Content-Type": "application/offset+octet-stream"})
        kw["content"] = b"%PDF-1.4\n!"
    elif path.endswith("/messages") and method == "POST":
        kw["json"] = {"text": "hej"}
    elif path.endswith("/attachments") and method == "POST":
        kw["json"] = {"upload_id": ids["upload_id"]}
    elif path.endswith("/mark"):
        kw["json"] = {"mark": "saved"}
    elif method in ("POST", "PUT"):
        kw["json"] = {}
    return kw


@pytest.fixture
def visits(server_client: Any, new_visit: Any, tus_upload: Any
           ) -> tuple[VisitHandle, VisitHandle, dict[str, str]]:
    """Visit A (the attacker's tokens) and visit B with data: a text, an attachment and an
    unfinished upload of each role."""
    a = new_visit()
    b = new_visit(patient_name="Bertil Hemlig", clinician_name="Dr Berit Dold")
    assert server_client.post(b.url("/messages"), headers=b.patient,
                              json={"text": "B-SECRET-TEXT"}).status_code == 201
    location = tus_upload(b, PDF, "B-SECRET-NAME.pdf", "application/pdf")
    attachment = finalise(server_client, b, location).json()["attachment"]
    ids = {"visit_id": b.id, "attachment_id": attachment["id"],
           "upload_id": create_upload(server_client, b),
           "clinician_upload_id": create_upload(server_client, b, "clinician")}
    return a, b, ids


def assert_no_b_data(resp: Any, ids: dict[str, str]) -> None:
    blob = resp.content.decode("utf-8", "replace") + " ".join(
        f"{k}: {v}" for k, v in resp.headers.items())
    for secret in (*B_SECRETS, ids["attachment_id"]):
        assert secret not in blob, (resp.request.method, resp.request.url, secret)
    assert PDF[:64] not in resp.content


def test_other_visits_token_gets_404_on_every_endpoint(server_client: Any, visits: Any) -> None:
    a, b, ids = visits
    routes = visit_routes(server_client.app)
    assert len(routes) >= 12  # config-free API surface: visit, messages, tus, attachments...
    tried = 0
    for role in ("patient", "clinician"):
        for path, method in routes:
            for upload_key in ("upload_id", "clinician_upload_id"):
                url = path.format(**{**ids, "upload_id": ids[upload_key]})
                kw = request_for(path, method, {**ids, "upload_id": ids[upload_key]})
                kw["headers"].update(a.headers(role))
                resp = server_client.request(method, url, **kw)
                tried += 1
                if method == "OPTIONS":  # tus discovery: no token, the same for every visit
                    assert resp.status_code == 204 and resp.content == b""
                    continue
                assert resp.status_code == 404, (role, method, url, resp.text)
                if method != "HEAD":
                    assert resp.json()["error"] in ("not_found", "upload_not_found")
                assert_no_b_data(resp, ids)
    # A's own visit id with B's upload and attachment ids: just as invisible.
    for role in ("patient", "clinician"):
        for path, method in routes:
            if "{upload_id}" not in path and "{attachment_id}" not in path and not (
                    path.endswith("/attachments") and method == "POST"):
                continue
            url = path.format(**{**ids, "visit_id": a.id})
            kw = request_for(path, method, ids)
            kw["headers"].update(a.headers(role))
            resp = server_client.request(method, url, **kw)
            tried += 1
            assert_no_b_data(resp, ids)
            if resp.status_code == 403:
                # A role check that comes first (a patient may never mark) is no oracle: an
                # id that exists nowhere gets the very same answer.
                fake = {k: "x" * len(v) for k, v in ids.items()}
                again = server_client.request(method, path.format(**{**fake, "visit_id": a.id}),
                                              **request_for(path, method, fake) | {
                                                  "headers": kw["headers"]})
                assert (again.status_code, again.content) == (403, resp.content)
                continue
            assert resp.status_code == 404, (role, method, url, resp.text)
    # B is untouched: still open, two messages, its uploads still there at offset 0.
    assert server_client.get(b.url(), headers=b.clinician).json()["state"] == "open"
    listing = server_client.get(b.url("/messages"), headers=b.patient).json()["messages"]
    assert [m["text"] for m in listing] == ["B-SECRET-TEXT", None]
    for key, role in (("upload_id", "patient"), ("clinician_upload_id", "clinician")):
        h = server_client.head(b.url(f"/uploads/{ids[key]}"), headers={**b.headers(role), **TUS})
        assert (h.status_code, h.headers["upload-offset"]) == (200, "0")
    assert server_client.get(b.url(f"/attachments/{ids['attachment_id']}"),
                             headers=b.patient).content == PDF
    assert tried > 50


def test_patient_cannot_do_clinician_only_actions(server_client: Any, visits: Any) -> None:
    _, b, ids = visits
    paths = {path for path, _ in visit_routes(server_client.app)}
    checks = [("POST", b.url("/end"), {"json": {}})]
    if "/api/visits/{visit_id}/attachments/{attachment_id}/mark" in paths:
        checks.append(("PUT", b.url(f"/attachments/{ids['attachment_id']}/mark"),
                       {"json": {"mark": "saved"}}))
    if "/api/visits/{visit_id}/attachments.zip" in paths:
        checks.append(("GET", b.url("/attachments.zip"), {}))
    for method, url, kw in checks:
        resp = server_client.request(method, url, headers=b.patient, **kw)
        assert (resp.status_code, resp.json()["error"]) == (403, "forbidden"), url
        assert_no_b_data(resp, ids)
    assert server_client.get(b.url(), headers=b.patient).json()["state"] == "open"
    # The clinician may; the patient's upload stays invisible to the clinician role.
    assert server_client.post(b.url("/end"), headers=b.clinician, json={}).status_code == 200
    h = server_client.head(b.url(f"/uploads/{ids['upload_id']}"), headers={**b.clinician, **TUS})
    assert h.status_code == 404


def _flip(token: str, i: int) -> str:
    ch = token[i]
    return token[:i] + ("B" if ch == "A" else "A") + token[i + 1:] if i != -1 else \
        token[:-1] + ("B" if ch == "A" else "A")


def test_tampered_tokens(server_client: Any, visits: Any, new_visit: Any) -> None:
    a, b, ids = visits
    token = b.body["patient_token"]
    other = new_visit()
    variants = {
        "first char flipped": f"Bearer {_flip(token, 0)}",
        "middle char flipped": f"Bearer {_flip(token, len(token) // 2)}",
        "last char flipped": f"Bearer {_flip(token, -1)}",
        "one char short": f"Bearer {token[:-1]}",
        "half": f"Bearer {token[: len(token) // 2]}",
        "one char more": f"Bearer {token}A",
        "swapped case": f"Bearer {token.swapcase()}",
        "space inside": f"Bearer {token[:10]} {token[10:]}",
        "Basic scheme": f"Basic {token}",
        "no scheme": token,
        "empty": "",
        "scheme only": "Bearer ",
        "300 chars": "Bearer " + "A" * 300,
        "the token's hash": "Bearer " + __import__("hashlib").sha256(token.encode()).hexdigest(),
        "other visit's patient": f"Bearer {other.body['patient_token']}",
        "other visit's clinician": f"Bearer {a.body['clinician_token']}",
    }
    urls = [("GET", b.url()), ("GET", b.url("/messages")), ("POST", b.url("/messages")),
            ("GET", b.url(f"/attachments/{ids['attachment_id']}")),
            ("HEAD", b.url(f"/uploads/{ids['upload_id']}"))]
    for label, header in variants.items():
        expected = 404 if label.startswith("other visit") else 401
        for method, url in urls:
            resp = server_client.request(method, url, headers={"Authorization": header, **TUS},
                                         json={"text": "x"} if method == "POST" else None)
            assert resp.status_code == expected, (label, method, url, resp.status_code)
            assert_no_b_data(resp, ids)
    # The scheme is case-insensitive (RFC 7235): not a tampering, a valid token.
    assert server_client.get(b.url(), headers={"Authorization": f"bearer {token}"}
                             ).status_code == 200
    assert len(server_client.get(b.url("/messages"), headers=b.patient).json()["messages"]) == 2


EVIL_NAMES = [
    "../../etc/passwd",
    "..\\..\\x",
    "C:\\Windows\\System32\\drivers\\etc\\hosts",
    "/etc/shadow",
    "a\x00b.pdf",
    "\x00",
    "\x01\x02\x1b[31mred\x7f\x9b.pdf",
    "rapport\u202efdp.exe",
    "\u2066x\u2069\u200f.pdf",
    "file\r\nX-Injected: 1.pdf",
    '"; filename="evil.exe',
    "%2e%2e%2fetc%2fpasswd",
    "<img src=x onerror=alert(1)>.pdf",
    "..",
    "  .hidden.pdf",
    "x" * 996 + ".pdf",
    "å" * 1000,
]


@pytest.mark.parametrize("raw", EVIL_NAMES, ids=range(len(EVIL_NAMES)))
def test_hostile_file_names(server_client: Any, server_settings: Any, storage_view: Any,
                            visit: VisitHandle, tus_upload: Any, raw: str) -> None:
    location = tus_upload(visit, PDF, raw, "application/pdf")
    r = finalise(server_client, visit, location)
    assert r.status_code == 201, r.text
    name = r.json()["attachment"]["name"]
    assert name == name_for_type(sanitize_display_name(raw), "application/pdf")
    assert 1 <= len(name) <= MAX_NAME_CHARS and name not in (".", "..")
    assert not any(ch in name for ch in "/\\\r\n\x00")
    assert not any(unicodedata.category(ch) in ("Cc", "Cf") and ch not in "\u200d" for ch in name)

    d = server_client.get(r.json()["attachment"]["url"], headers=visit.patient)
    assert d.status_code == 200 and d.content == PDF
    cd = d.headers["content-disposition"]
    assert cd.isascii() and "\r" not in cd and "\n" not in cd
    m = re.fullmatch(r'attachment; filename="([^"\\/]*)"; '
                     r"filename\*=UTF-8''([A-Za-z0-9%._~!#$&+^`|-]*)", cd)
    assert m, cd
    assert m.group(1) and unquote(m.group(2)) == name
    assert d.headers["content-type"] == "application/pdf"
    assert d.headers["x-content-type-options"] == "nosniff"
    assert d.headers["cache-control"] == "no-store"
    assert "sandbox" in d.headers["content-security-policy"]

    # Stored under a generated name, nothing anywhere else.
    stats = storage_view.invariants()
    assert stats["attachments"] == 1
    (stored,) = storage_view.attachments_with_bytes()
    assert re.fullmatch(r"[A-Za-z0-9_-]{20,64}", stored)
    if server_settings.database_url is not None:
        return
    data_dir: Path = server_settings.data_dir
    files = {p.relative_to(data_dir).as_posix() for p in data_dir.rglob("*") if p.is_file()}
    assert files <= {"bifoga.sqlite3", "bifoga.sqlite3-wal", "bifoga.sqlite3-shm",
                     f"attachments/{stored}"}, files
    assert not (data_dir.parent / "etc").exists() and not (data_dir / "etc").exists()


def test_oversize_json_bodies_are_413(server_client: Any, visits: Any) -> None:
    _, b, ids = visits
    limit = server_client.app.state.ctx.settings.max_json_bytes
    big = b'{"text": "' + b"a" * limit + b'"}'
    # (POST .../end reads no body: there is nothing to refuse.)
    targets = [("POST", "/api/visits"), ("POST", b.url("/messages")),
               ("POST", b.url("/attachments"))]
    if any(p.endswith("/mark") for p, _ in visit_routes(server_client.app)):
        targets.append(("PUT", b.url(f"/attachments/{ids['attachment_id']}/mark")))

    def streamed():  # no Content-Length: the limit must hold while reading
        for i in range(0, len(big), 4096):
            yield big[i:i + 4096]

    for method, url in targets:
        for body in (big, streamed()):
            resp = server_client.request(method, url, headers={
                **b.clinician, "Content-Type": "application/json"}, content=body)
            assert (resp.status_code, resp.json()["error"]) == (413, "body_too_large"), url
    # PATCH past Upload-Length, declared or streamed: refused whole, nothing stored.
    url = b.url(f"/uploads/{ids['upload_id']}")
    headers = {**b.patient, **TUS, "Upload-Offset": "0",
               "Content-Type": "application/offset+octet-stream"}
    for body in (b"x" * 11, (c for c in [b"x" * 6, b"x" * 5])):
        resp = server_client.patch(url, headers=headers, content=body)
        assert (resp.status_code, resp.json()["error"]) == (413, "chunk_past_length")
    assert server_client.head(url, headers={**b.patient, **TUS}).headers["upload-offset"] == "0"


# --------------------------------------------------------------------------------- headers


def _csp(policy: str) -> dict[str, list[str]]:
    out = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        out[name] = sources
    return out


def test_csp_allows_pyscript_and_nothing_from_other_origins() -> None:
    csp = _csp(CONTENT_SECURITY_POLICY)
    keywords = {"'self'", "'none'", "'wasm-unsafe-eval'", "'unsafe-eval'", "'unsafe-inline'"}
    for directive, sources in csp.items():
        for source in sources:
            # No host, no wildcard, no http:/https:/ws: scheme: only this origin, the
            # browser-local blob:/data: (images, media, PyScript's blob: workers) and the
            # shell's one inline script by its hash (tests/test_shell.py).
            assert (source in keywords or source in ("blob:", "data:")
                    or (directive == "script-src" and source.startswith("'sha256-"))), (
                directive, source)
    assert "'wasm-unsafe-eval'" in csp["script-src"] and "'self'" in csp["script-src"]
    assert csp["default-src"] == csp["connect-src"] == ["'self'"]
    assert csp["object-src"] == csp["base-uri"] == csp["frame-ancestors"] == ["'none'"]
    assert [d for d, s in csp.items() if "'unsafe-inline'" in s] == ["style-src"]
    assert "data:" not in csp["script-src"] + csp["worker-src"] + csp["connect-src"]
    # The page and the runtime configuration reference no other origin either.
    for name in ("index.html", "pyscript.toml", "worker.toml", "light.toml"):
        assert not re.search(r"(?i)(https?:|wss?:)?//[a-z0-9.-]+\.[a-z]{2,}",
                             (ROOT / name).read_text()), name


def test_security_and_cache_headers_everywhere(server_client: Any, visits: Any) -> None:
    _, b, ids = visits
    tus = {**b.patient, **TUS}
    api_responses = [
        server_client.get("/api/config"),
        server_client.get(b.url(), headers=b.patient),
        server_client.get(b.url("/messages"), headers=b.patient),
        server_client.get(b.url(), headers={"Authorization": "Bearer nope"}),  # 401
        server_client.get(b.url("/nothing"), headers=b.patient),  # 404
        server_client.options(b.url("/uploads")),
        server_client.post(b.url("/uploads"), headers={**tus, "Upload-Length": "5",
                           "Upload-Metadata": tus_metadata(filename="x.pdf")}),
        server_client.head(b.url(f"/uploads/{ids['upload_id']}"), headers=tus),
        server_client.patch(b.url(f"/uploads/{ids['upload_id']}"), content=b"%PDF-", headers={
            **tus, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}),
        server_client.get(b.url(f"/attachments/{ids['attachment_id']}"), headers=b.patient),
    ]
    for r in api_responses:
        where = (r.request.method, r.request.url.path, r.status_code)
        assert r.status_code < 500, where
        assert r.headers["cache-control"] == "no-store", where
        assert r.headers["x-content-type-options"] == "nosniff", where
        assert r.headers["referrer-policy"] == "no-referrer", where
        assert "content-security-policy" in r.headers, where
    # The real vendored runtime is cached for good (its directory name carries the version).
    vendor = ROOT / "static" / "vendor"
    runtime = sorted(p for p in vendor.rglob("*") if p.is_file() and p.suffix in (".mjs", ".js",
                                                                                 ".wasm"))
    if not runtime:
        pytest.skip("static/vendor/ not populated (make setup)")
    for path in runtime[:3]:
        r = server_client.get("/" + path.relative_to(ROOT).as_posix())
        assert r.status_code == 200
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert r.headers["x-content-type-options"] == "nosniff"


# ------------------------------------------------------------------- slow clients (real server)

HEAD_TIMEOUT = BODY_TIMEOUT = 2
CLOSE_BOUND = HEAD_TIMEOUT + 2.0  # closed within this many seconds of the stall


@pytest.fixture(scope="module")
def guarded_server(tmp_path_factory: pytest.TempPathFactory):
    srv = ServerProcess(tmp_path_factory.mktemp("slow") / "data",
                        BIFOGA_REQUEST_HEAD_TIMEOUT=str(HEAD_TIMEOUT),
                        BIFOGA_BODY_READ_TIMEOUT=str(BODY_TIMEOUT))
    srv.start()
    yield srv
    srv.stop()


async def _read_until_closed(reader: asyncio.StreamReader) -> bytes:
    data = b""
    try:
        while chunk := await reader.read(65536):
            data += chunk
    except (ConnectionError, OSError):
        pass
    return data


@pytest.mark.timeout(60)
def test_slow_loris_connections_are_closed_and_others_served(guarded_server: ServerProcess
                                                             ) -> None:
    srv = guarded_server
    visit = Visit(srv.base)
    upload_len = 100_000
    created = httpx.post(visit.endpoint, headers={
        **visit.auth, **TUS, "Upload-Length": str(upload_len),
        "Upload-Metadata": "filename " + base64.b64encode(b"slow.pdf").decode()})
    upload_path = created.headers["location"]
    body = make_pdf(upload_len, seed=9)
    auth = visit.auth["Authorization"]

    async def scenario() -> dict[str, Any]:
        results: dict[str, Any] = {}
        closed_at: list[float] = []  # when each slow connection was closed by the server

        async def bad(label: str, head: bytes, payload: bytes = b"", trickle: bytes = b""
                      ) -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            t0 = time.monotonic()
            writer.write(head + payload)
            await writer.drain()
            stalled_at = time.monotonic()

            async def keep_trickling() -> None:
                try:
                    while trickle:
                        await asyncio.sleep(0.4)
                        writer.write(trickle)
                        await writer.drain()
                except (ConnectionError, OSError):
                    pass

            trickler = asyncio.ensure_future(keep_trickling())
            answer = await asyncio.wait_for(_read_until_closed(reader), 15)
            trickler.cancel()
            writer.close()
            results[label] = (answer, time.monotonic() - (t0 if trickle else stalled_at))
            closed_at.append(time.monotonic())

        async def good() -> None:
            await asyncio.sleep(1.0)  # while the bad ones are stalling
            async with httpx.AsyncClient(base_url=srv.base, headers=visit.auth,
                                         timeout=10) as client:
                t0 = time.monotonic()
                for _ in range(5):
                    assert (await client.get("/api/config")).status_code == 200
                results["good requests"] = time.monotonic() - t0
                results["good done at"] = time.monotonic()
                # A long poll longer than both timeouts is not cut.
                t0 = time.monotonic()
                poll = await client.get(f"/api/visits/{visit.id}/messages",
                                        params={"wait": HEAD_TIMEOUT + 2})  # whole seconds
                results["long poll"] = (poll.status_code, time.monotonic() - t0)

        async def steady_slow_upload() -> None:
            """Slow but never stalled for a whole timeout: not cut."""
            other = httpx.post(visit.endpoint, headers={
                **visit.auth, **TUS, "Upload-Length": "500",
                "Upload-Metadata": "filename " + base64.b64encode(b"steady.pdf").decode()})

            async def pieces():
                for i in range(5):
                    yield make_pdf(500, seed=5)[i * 100:(i + 1) * 100]
                    await asyncio.sleep(BODY_TIMEOUT * 0.4)

            async with httpx.AsyncClient(timeout=20) as client:
                r = await client.patch(srv.base + other.headers["location"], content=pieces(),
                                       headers={**visit.auth, **TUS, "Upload-Offset": "0",
                                                "Content-Length": "500",
                                                "Content-Type": "application/offset+octet-stream"})
            results["steady upload"] = (r.status_code, r.headers.get("upload-offset"))

        json_head = (f"POST /api/visits/{visit.id}/messages HTTP/1.1\r\nHost: x\r\n"
                     f"Authorization: {auth}\r\nContent-Type: application/json\r\n"
                     "Content-Length: 100\r\n\r\n").encode()
        patch_head = (f"PATCH {upload_path} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n"
                      "Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
                      "Content-Type: application/offset+octet-stream\r\n"
                      f"Content-Length: {upload_len}\r\n\r\n").encode()
        huge_head = (f"PATCH {upload_path} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n"
                     "Tus-Resumable: 1.0.0\r\nUpload-Offset: 30000\r\n"
                     "Content-Type: application/offset+octet-stream\r\n"
                     "Content-Length: 10485761\r\n\r\n").encode()
        await asyncio.gather(
            bad("idle", b""),
            bad("partial head", b"GET /api/config HTTP/1.1\r\nHost: x\r\n"),
            bad("trickled head", b"GET /api/config HTTP/1.1\r\n", trickle=b"X-Slow: 1\r\n"),
            bad("partial JSON body", json_head, b'{"text": "never fin'),
            bad("partial PATCH body", patch_head, body[:30_000]),
            *(bad(f"crowd {i}", b"GET / HTTP/1.1\r\nHo") for i in range(40)),
            good(),
            steady_slow_upload(),
        )
        # A declared body past Upload-Length is refused before a byte of it is read (the
        # stalled PATCH above left the offset at 30000).
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(huge_head)
        await writer.drain()
        results["huge PATCH"] = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        writer.close()
        results["first slow one closed at"] = min(closed_at)
        return results

    results = run_async(scenario())
    for label in ("idle", "partial head", "trickled head", *(f"crowd {i}" for i in range(40))):
        answer, took = results[label]
        assert answer == b"" and took <= CLOSE_BOUND, (label, answer, took)
    for label in ("partial JSON body", "partial PATCH body"):
        answer, took = results[label]
        assert answer.startswith(b"HTTP/1.1 408 "), (label, answer)
        assert b'"error":"request_timeout"' in answer.replace(b" ", b"")
        assert b"connection: close" in answer.lower() and b"no-store" in answer
        assert took <= CLOSE_BOUND, (label, took)
    # Served while every slow connection was still open, not after they were dropped.
    assert results["good done at"] < results["first slow one closed at"]
    assert results["good requests"] < 1.0
    assert results["long poll"][0] == 200 and results["long poll"][1] >= HEAD_TIMEOUT + 1
    assert results["steady upload"] == (204, "500")
    assert results["huge PATCH"].startswith(b"HTTP/1.1 413 ")

    # The stalled JSON body posted nothing; the stalled PATCH kept its bytes and let go of
    # the upload: the client resumes from the stored offset and finishes.
    assert visit.messages() == []
    head = httpx.head(srv.base + upload_path, headers={**visit.auth, **TUS})
    assert head.headers["upload-offset"] == "30000"
    rest = httpx.patch(srv.base + upload_path, content=body[30_000:], headers={
        **visit.auth, **TUS, "Upload-Offset": "30000",
        "Content-Type": "application/offset+octet-stream"})
    assert rest.status_code == 204 and rest.headers["upload-offset"] == str(upload_len)
    storage_invariants(srv.data_dir)
