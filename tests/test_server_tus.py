"""The tus 1.0.0 upload endpoints (server/tus.py)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import time
from typing import Any

import pytest

from server.tus import parse_metadata
from tests.conftest import VisitHandle, run_in_app, tus_metadata

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_storages

MAX = 10 * 1024 * 1024
PDF_HEAD = b"%PDF-1.4\n"


def create(client: Any, visit: VisitHandle, length: int | str, role: str = "patient",
           **headers: str) -> Any:
    base = {"Tus-Resumable": "1.0.0", "Upload-Length": str(length),
            "Upload-Metadata": tus_metadata(filename="Remiss åäö.pdf",
                                            filetype="application/pdf")}
    base.update({k.replace("_", "-"): v for k, v in headers.items()})
    return client.post(visit.url("/uploads"), headers={**visit.headers(role), **base})


def patch(client: Any, visit: VisitHandle, location: str, data: Any, offset: int,
          role: str = "patient", **headers: str) -> Any:
    base = {"Tus-Resumable": "1.0.0", "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream"}
    base.update({k.replace("_", "-"): v for k, v in headers.items()})
    return client.patch(location, content=data, headers={**visit.headers(role), **base})


def head(client: Any, visit: VisitHandle, location: str, role: str = "patient") -> Any:
    return client.head(location, headers={**visit.headers(role), "Tus-Resumable": "1.0.0"})


def upload_file(view: Any, location: str) -> bytes:
    return view.upload_bytes(location.rsplit("/", 1)[1])


def test_options(server_client: Any, visit: VisitHandle) -> None:
    r = server_client.options(visit.url("/uploads"))
    assert r.status_code == 204
    assert r.headers["tus-resumable"] == "1.0.0"
    assert r.headers["tus-version"] == "1.0.0"
    assert r.headers["tus-extension"] == "creation,termination,expiration,checksum"
    assert r.headers["tus-max-size"] == str(MAX)
    assert r.headers["tus-checksum-algorithm"] == "sha256"


def test_full_flow_in_two_chunks(server_client: Any, storage_view: Any,
                                 visit: VisitHandle) -> None:
    data = PDF_HEAD + os.urandom(5000)
    r = create(server_client, visit, len(data))
    assert r.status_code == 201
    assert r.headers["tus-resumable"] == "1.0.0"
    location = r.headers["location"]
    assert location.startswith(f"/api/visits/{visit.id}/uploads/")
    assert "Remiss" not in location
    expires = r.headers["upload-expires"]
    assert expires.endswith(" GMT")
    assert time.strptime(expires, "%a, %d %b %Y %H:%M:%S GMT")

    h = head(server_client, visit, location)
    assert h.status_code == 200
    assert (h.headers["upload-offset"], h.headers["upload-length"]) == ("0", str(len(data)))
    assert h.headers["cache-control"] == "no-store"
    assert h.headers["tus-resumable"] == "1.0.0"

    r = patch(server_client, visit, location, data[:3000], 0)
    assert r.status_code == 204 and r.headers["upload-offset"] == "3000"
    assert r.headers["tus-resumable"] == "1.0.0"
    assert head(server_client, visit, location).headers["upload-offset"] == "3000"
    r = patch(server_client, visit, location, data[3000:], 3000)
    assert r.status_code == 204 and r.headers["upload-offset"] == str(len(data))
    assert upload_file(storage_view, location) == data


def test_other_role_or_visit_cannot_touch_upload(server_client: Any, new_visit: Any) -> None:
    a, b = new_visit(), new_visit()
    location = create(server_client, a, 10).headers["location"]
    assert head(server_client, a, location, role="clinician").status_code == 404
    other = location.replace(a.id, b.id)
    assert head(server_client, b, other).status_code == 404
    assert head(server_client, a, location.replace(a.id, b.id)).status_code == 404
    assert head(server_client, a, location).status_code == 200


def test_requires_auth(server_client: Any, visit: VisitHandle) -> None:
    r = server_client.post(visit.url("/uploads"), headers={"Tus-Resumable": "1.0.0",
                                                           "Upload-Length": "5"})
    assert r.status_code == 401 and r.headers["tus-resumable"] == "1.0.0"
    location = create(server_client, visit, 5).headers["location"]
    assert server_client.head(location, headers={"Tus-Resumable": "1.0.0"}).status_code == 401
    assert server_client.delete(location, headers={"Tus-Resumable": "1.0.0"}).status_code == 401


# --- creation ------------------------------------------------------------------------------


def test_exact_limit_accepted_one_more_refused(server_client: Any, visit: VisitHandle) -> None:
    assert create(server_client, visit, 10_485_760).status_code == 201
    r = create(server_client, visit, 10_485_761)
    assert r.status_code == 413 and r.json()["error"] == "too_large"
    assert r.headers["tus-resumable"] == "1.0.0"


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"Upload_Length": "-1"}, 400, "bad_upload_length"),
        ({"Upload_Length": "abc"}, 400, "bad_upload_length"),
        ({"Upload_Length": "1.5"}, 400, "bad_upload_length"),
        ({"Upload_Length": "+5"}, 400, "bad_upload_length"),
        ({"Upload_Length": ""}, 400, "bad_upload_length"),
        ({"Upload_Length": "99999999999999999999999"}, 400, "bad_upload_length"),
        ({"Upload_Length": "0"}, 400, "empty_file"),
        ({"Upload_Length": "5", "Upload_Defer_Length": "1"}, 400, "bad_upload_length"),
        ({"Tus_Resumable": "0.2.2"}, 412, "unsupported_tus_version"),
        ({"Tus_Resumable": ""}, 412, "unsupported_tus_version"),
        ({"Upload_Metadata": ""}, 400, "missing_filename"),
        ({"Upload_Metadata": "filetype aW1hZ2UvanBlZw=="}, 400, "missing_filename"),
        ({"Upload_Metadata": "filename !!!"}, 400, "bad_upload_metadata"),
        ({"Upload_Metadata": "filename a b c"}, 400, "bad_upload_metadata"),
        ({"Upload_Metadata": "filename YQ"}, 400, "bad_upload_metadata"),  # no padding
        ({"Upload_Metadata": tus_metadata(filename="a.mp3", filetype="audio/mpeg")},
         415, "audio_not_allowed"),
        ({"Upload_Metadata": tus_metadata(filename="a.exe",
                                          filetype="application/x-msdownload")},
         415, "type_not_allowed"),
        ({"Upload_Metadata": tus_metadata(filename="a.svg", filetype="image/svg+xml")},
         415, "type_not_allowed"),
    ],
)
def test_creation_bad_headers(server_client: Any, visit: VisitHandle, headers: dict[str, str],
                              status: int, code: str) -> None:
    headers = dict(headers)
    length = headers.pop("Upload_Length", "5")
    r = create(server_client, visit, length, **headers)
    assert (r.status_code, r.json()["error"]) == (status, code)
    assert r.headers["tus-resumable"] == "1.0.0"
    if status == 412:
        assert r.headers["tus-version"] == "1.0.0"


def test_creation_without_length_header(server_client: Any, visit: VisitHandle) -> None:
    r = server_client.post(visit.url("/uploads"), headers={
        **visit.patient, "Tus-Resumable": "1.0.0",
        "Upload-Metadata": tus_metadata(filename="a.pdf")})
    assert (r.status_code, r.json()["error"]) == (400, "bad_upload_length")


@pytest.mark.parametrize("filetype", ["", "application/octet-stream", "image/jpg",
                                      "text/rtf", "IMAGE/JPEG", "video/mp4; codecs=avc1"])
def test_creation_lenient_declared_types(server_client: Any, visit: VisitHandle,
                                         filetype: str) -> None:
    meta = tus_metadata(filename="x", filetype=filetype) if filetype else tus_metadata(
        filename="x")
    assert create(server_client, visit, 5, Upload_Metadata=meta).status_code == 201


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", {}),
        ("filename YS5wZGY=", {"filename": "a.pdf"}),
        ("filename YS5wZGY=,is_confidential", {"filename": "a.pdf", "is_confidential": ""}),
        (" filename YS5wZGY= , filetype YXBwbGljYXRpb24vcGRm ",
         {"filename": "a.pdf", "filetype": "application/pdf"}),
        # tus allows any bytes in a value and tusd keeps a repeated key's last value.
        ("filename YQ==,filename Yg==", {"filename": "b"}),
        ("filename //79", {"filename": "\ufffd" * 3}),
    ],
)
def test_parse_metadata(raw: str, expected: dict[str, str]) -> None:
    assert parse_metadata(raw) == expected


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\bild.jpg", "bild.jpg"),
        ("..", "fil"),
        ("a\x00b.pdf", "ab.pdf"),
        ("a\x01\x1f\x7fb.pdf", "ab.pdf"),
        ("kvitto\u202efdp.exe", "kvittofdp.exe"),
        ("å" * 1000 + ".pdf", "å" * 196 + ".pdf"),
    ],
)
def test_creation_sanitises_filename(server_client: Any, server_settings: Any,
                                     visit: VisitHandle, name: str, stored: str) -> None:
    r = create(server_client, visit, 5, Upload_Metadata=tus_metadata(filename=name))
    assert r.status_code == 201
    upload_id = r.headers["location"].rsplit("/", 1)[1]
    storage = server_client.app.state.ctx.storage
    assert run_in_app(server_client, storage.get_upload, upload_id).filename == stored
    if server_settings.database_url is None:
        # The file on disk is named by the server, never by the user.
        assert [p.name for p in (server_settings.data_dir / "uploads").iterdir()] == [upload_id]


def test_open_upload_cap(make_server_client: Any) -> None:
    client = make_server_client(max_open_uploads_per_role=2)
    v = VisitHandle(client.post("/api/visits", json={}).json())
    assert create(client, v, 5).status_code == 201
    assert create(client, v, 5).status_code == 201
    r = create(client, v, 5)
    assert (r.status_code, r.json()["error"]) == (429, "too_many_uploads")


def test_creation_refused_after_visit_ended(server_client: Any, visit: VisitHandle) -> None:
    location = create(server_client, visit, 10).headers["location"]
    server_client.post(visit.url("/end"), headers=visit.clinician)
    r = create(server_client, visit, 5)
    assert (r.status_code, r.json()["error"]) == (409, "visit_ended")
    r = patch(server_client, visit, location, b"12345", 0)
    assert (r.status_code, r.json()["error"]) == (409, "visit_ended")


# --- PATCH ---------------------------------------------------------------------------------


@pytest.fixture
def location(server_client: Any, visit: VisitHandle) -> str:
    r = create(server_client, visit, 10)
    assert r.status_code == 201
    return r.headers["location"]


@pytest.mark.parametrize(
    ("offset", "headers", "body", "status", "code"),
    [
        (5, {}, b"abc", 409, "offset_mismatch"),
        (0, {"Content_Type": "application/octet-stream"}, b"abc", 415, "bad_content_type"),
        (0, {"Content_Type": ""}, b"abc", 415, "bad_content_type"),
        ("-1", {}, b"abc", 400, "bad_upload_offset"),
        ("x", {}, b"abc", 400, "bad_upload_offset"),
        (0, {"Tus_Resumable": "2.0.0"}, b"abc", 412, "unsupported_tus_version"),
        (0, {}, b"x" * 11, 413, "chunk_past_length"),
        (0, {"Upload_Checksum": "md5 abc"}, b"abc", 400, "bad_checksum_algorithm"),
        (0, {"Upload_Checksum": "sha256 abc"}, b"abc", 400, "bad_checksum"),
        # openapi.yaml's pattern: lower-case name, one space, 44 base64 characters
        (0, {"Upload_Checksum": "SHA256 " + base64.b64encode(b"x" * 32).decode()}, b"abc",
         400, "bad_checksum_algorithm"),
        (0, {"Upload_Checksum": "sha256  " + base64.b64encode(b"x" * 32).decode()}, b"abc",
         400, "bad_checksum"),
        (0, {"Upload_Checksum": "sha256 " + base64.b64encode(b"x" * 32).decode()}, b"abc",
         460, "checksum_mismatch"),
    ],
)
def test_patch_bad(server_client: Any, storage_view: Any, visit: VisitHandle,
                   location: str, offset: Any, headers: dict[str, str], body: bytes,
                   status: int, code: str) -> None:
    r = patch(server_client, visit, location, body, offset, **headers)
    assert (r.status_code, r.json()["error"]) == (status, code)
    assert r.headers["tus-resumable"] == "1.0.0"
    # Nothing of a refused chunk is kept.
    assert head(server_client, visit, location).headers["upload-offset"] == "0"
    assert upload_file(storage_view, location) == b""


def test_patch_offset_mismatch_reports_offset(server_client: Any, visit: VisitHandle,
                                              location: str) -> None:
    patch(server_client, visit, location, b"abcd", 0)
    r = patch(server_client, visit, location, b"efg", 0)
    assert r.status_code == 409 and r.headers["upload-offset"] == "4"


def test_patch_past_length_without_content_length(server_client: Any, storage_view: Any,
                                                  visit: VisitHandle, location: str) -> None:
    patch(server_client, visit, location, b"abcd", 0)

    def body() -> Any:  # streamed: no Content-Length, refused while reading
        yield b"12345"
        yield b"6789"

    r = patch(server_client, visit, location, body(), 4)
    assert (r.status_code, r.json()["error"]) == (413, "chunk_past_length")
    assert head(server_client, visit, location).headers["upload-offset"] == "4"
    assert upload_file(storage_view, location) == b"abcd"
    r = patch(server_client, visit, location, b"efghij", 4)
    assert r.status_code == 204 and r.headers["upload-offset"] == "10"


def test_patch_with_checksum(server_client: Any, storage_view: Any, visit: VisitHandle,
                             location: str) -> None:
    chunk = b"0123456789"
    digest = base64.b64encode(hashlib.sha256(chunk).digest()).decode()
    r = patch(server_client, visit, location, chunk, 0, Upload_Checksum=f"sha256 {digest}")
    assert r.status_code == 204 and r.headers["upload-offset"] == "10"
    assert upload_file(storage_view, location) == chunk


def test_empty_patch_is_noop(server_client: Any, visit: VisitHandle, location: str) -> None:
    r = patch(server_client, visit, location, b"", 0)
    assert r.status_code == 204 and r.headers["upload-offset"] == "0"


def test_patch_complete_upload_refused(server_client: Any, visit: VisitHandle,
                                       location: str) -> None:
    assert patch(server_client, visit, location, b"x" * 10, 0).status_code == 204
    r = patch(server_client, visit, location, b"y", 10)
    assert (r.status_code, r.json()["error"]) == (413, "chunk_past_length")


def test_patch_unknown_upload(server_client: Any, visit: VisitHandle) -> None:
    r = patch(server_client, visit, visit.url("/uploads/nope"), b"x", 0)
    assert (r.status_code, r.json()["error"]) == (404, "upload_not_found")


def test_busy_upload_is_locked(server_client: Any, visit: VisitHandle, location: str) -> None:
    ctx = server_client.app.state.ctx
    upload_id = location.rsplit("/", 1)[1]
    with server_client.portal.wrap_async_context_manager(ctx.upload_lock(upload_id, visit.id,
                                                                         "patient")):
        r = patch(server_client, visit, location, b"abc", 0)
    assert (r.status_code, r.json()["error"]) == (423, "upload_busy")
    assert patch(server_client, visit, location, b"abc", 0).status_code == 204


def test_method_override(server_client: Any, visit: VisitHandle, location: str) -> None:
    r = server_client.post(location, content=b"abc", headers={
        **visit.patient, "X-HTTP-Method-Override": "PATCH", "Tus-Resumable": "1.0.0",
        "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    assert r.status_code == 204 and r.headers["upload-offset"] == "3"
    r = server_client.post(location, headers={**visit.patient, "X-HTTP-Method-Override":
                                              "DELETE", "Tus-Resumable": "1.0.0"})
    assert r.status_code == 204
    assert head(server_client, visit, location).status_code == 404


def _asgi_patch(client: Any, visit: VisitHandle, location: str, messages: list[dict[str, Any]],
                **extra: str) -> list[dict[str, Any]]:
    """Drive the app directly so the client can 'drop' mid-body (http.disconnect)."""
    headers = {"authorization": visit.patient["Authorization"], "tus-resumable": "1.0.0",
               "upload-offset": "0", "content-type": "application/offset+octet-stream", **extra}
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "PATCH",
        "scheme": "http", "path": location, "raw_path": location.encode(), "query_string": b"",
        "root_path": "", "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5000), "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    client.portal.call(client.app, scope, receive, send)
    return sent


def test_dropped_connection_keeps_what_arrived(server_client: Any, storage_view: Any,
                                               visit: VisitHandle, location: str) -> None:
    _asgi_patch(server_client, visit, location, [
        {"type": "http.request", "body": b"abc", "more_body": True},
        {"type": "http.request", "body": b"def", "more_body": True},
        {"type": "http.disconnect"},
    ])
    assert head(server_client, visit, location).headers["upload-offset"] == "6"
    assert upload_file(storage_view, location) == b"abcdef"
    r = patch(server_client, visit, location, b"ghij", 6)
    assert r.status_code == 204 and r.headers["upload-offset"] == "10"
    assert upload_file(storage_view, location) == b"abcdefghij"


def test_dropped_connection_with_checksum_keeps_nothing(server_client: Any,
                                                        storage_view: Any,
                                                        visit: VisitHandle,
                                                        location: str) -> None:
    digest = base64.b64encode(hashlib.sha256(b"abcdefghij").digest()).decode()
    _asgi_patch(server_client, visit, location, [
        {"type": "http.request", "body": b"abc", "more_body": True},
        {"type": "http.disconnect"},
    ], **{"upload-checksum": f"sha256 {digest}"})
    assert head(server_client, visit, location).headers["upload-offset"] == "0"
    assert upload_file(storage_view, location) == b""


def test_head_shows_progress_of_a_running_patch(server_client: Any, visit: VisitHandle,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """HEAD does not wait for a PATCH in progress: it answers with the bytes already on disk
    (counted as they land, see server.tus._receive_chunk), so a client can show progress or
    find where a stalled request got to."""
    import server.tus

    monkeypatch.setattr(server.tus, "PERSIST_INTERVAL_SECONDS", 0)
    mib = 1024 * 1024
    data = PDF_HEAD + os.urandom(3 * mib - len(PDF_HEAD))
    location = create(server_client, visit, len(data)).headers["location"]
    app = server_client.app

    def scope(method: str, **extra: str) -> dict[str, Any]:
        headers = {"authorization": visit.patient["Authorization"], "tus-resumable": "1.0.0",
                   **extra}
        return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                "method": method, "scheme": "http", "path": location,
                "raw_path": location.encode(), "query_string": b"", "root_path": "",
                "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
                "client": ("127.0.0.1", 5000), "server": ("testserver", 80)}

    async def call(scope: dict[str, Any], receive: Any) -> dict[str, str]:
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        start = sent[0]
        return {"status": str(start["status"]),
                **{k.decode(): v.decode() for k, v in start["headers"]}}

    async def head_now() -> dict[str, str]:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}
        return await call(scope("HEAD"), receive)

    async def scenario() -> None:
        body: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        patching = asyncio.ensure_future(call(scope(
            "PATCH", **{"upload-offset": "0", "content-length": str(len(data)),
                        "content-type": "application/offset+octet-stream"}), body.get))
        for i in range(2):
            await body.put({"type": "http.request", "body": data[i * mib:(i + 1) * mib],
                            "more_body": True})
        deadline = time.monotonic() + 10
        while int((answer := await head_now())["upload-offset"]) < 2 * mib:
            assert time.monotonic() < deadline, answer
            await asyncio.sleep(0.01)
        assert answer["status"] == "200" and answer["upload-length"] == str(len(data))
        assert not patching.done()  # still waiting for the last third
        await body.put({"type": "http.request", "body": data[2 * mib:], "more_body": False})
        done = await patching
        assert (done["status"], done["upload-offset"]) == ("204", str(len(data)))

    server_client.portal.call(scenario)
    assert head(server_client, visit, location).headers["upload-offset"] == str(len(data))


def test_bytes_past_stored_offset_are_dropped(server_client: Any, storage_view: Any,
                                              visit: VisitHandle, location: str) -> None:
    # A crash after writing but before the offset was saved leaves extra bytes on disk.
    patch(server_client, visit, location, b"abc", 0)
    upload_id = location.rsplit("/", 1)[1]
    storage_view.put_upload_bytes(upload_id, b"abcXXXX")
    assert patch(server_client, visit, location, b"defghij", 3).status_code == 204
    assert storage_view.upload_bytes(upload_id) == b"abcdefghij"


# --- termination and expiration ------------------------------------------------------------


def test_delete(server_client: Any, storage_view: Any, visit: VisitHandle,
                location: str) -> None:
    r = server_client.delete(location, headers={**visit.patient, "Tus-Resumable": "1.0.0"})
    assert r.status_code == 204 and r.headers["tus-resumable"] == "1.0.0"
    assert storage_view.uploads_with_bytes() == [] and storage_view.count("uploads") == 0
    assert head(server_client, visit, location).status_code == 404
    r = server_client.delete(location, headers={**visit.patient, "Tus-Resumable": "1.0.0"})
    assert r.status_code == 404


def test_expired_upload_is_gone(make_server_client: Any, storage_view: Any) -> None:
    client = make_server_client(upload_expiry_seconds=0)
    v = VisitHandle(client.post("/api/visits", json={}).json())
    location = create(client, v, 5).headers["location"]
    assert head(client, v, location).status_code == 404
    assert storage_view.uploads_with_bytes() == [] and storage_view.count("uploads") == 0


def test_cleanup_pass(server_client: Any, server_settings: Any, storage_view: Any,
                      visit: VisitHandle, location: str) -> None:
    storage = server_client.app.state.ctx.storage
    patch(server_client, visit, location, b"abc", 0)
    sqlite = server_settings.database_url is None
    if sqlite:  # files left by a crash (PostgreSQL commits bytes with their rows)
        uploads = server_settings.data_dir / "uploads"
        (uploads / "orphan").write_bytes(b"left by a crash")
        (server_settings.data_dir / "attachments" / ".tmp-x").write_bytes(b"half")
    assert run_in_app(server_client, storage.delete_expired_uploads) == 0
    assert storage_view.uploads_with_bytes() == [location.rsplit("/", 1)[1]]
    assert storage_view.attachments_with_bytes() == []
    later = time.time() + 24 * 3600 + 1
    assert run_in_app(server_client, storage.delete_expired_uploads, later) == 1
    assert storage_view.uploads_with_bytes() == [] and storage_view.count("uploads") == 0


def test_cleanup_runs_at_startup_and_periodically(make_server_client: Any,
                                                  server_settings: Any,
                                                  storage_view: Any) -> None:
    client = make_server_client(upload_expiry_seconds=1, cleanup_interval_seconds=1)
    v = VisitHandle(client.post("/api/visits", json={}).json())
    patch(client, v, create(client, v, 5).headers["location"], b"ab", 0)
    assert storage_view.count("uploads") == 1 and len(storage_view.uploads_with_bytes()) == 1
    deadline = time.monotonic() + 5
    while storage_view.count("uploads") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert storage_view.count("uploads") == 0 and storage_view.uploads_with_bytes() == []
    if server_settings.database_url is None:
        # Startup sweep: an orphan file is removed when a new app starts on the same data dir.
        uploads = server_settings.data_dir / "uploads"
        (uploads / "orphan").write_bytes(b"x")
        make_server_client()
        assert list(uploads.iterdir()) == []
