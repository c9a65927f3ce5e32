"""Finalising tus uploads into attachments, and downloading them."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import VisitHandle

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_storages

MAX = 10 * 1024 * 1024


def finalise(client: Any, visit: VisitHandle, location: str, role: str = "patient") -> Any:
    return client.post(visit.url("/attachments"), headers=visit.headers(role),
                       json={"upload_id": location.rsplit("/", 1)[1]})


def stored_files(view: Any) -> tuple[list[str], list[str]]:
    """Which uploads and which attachments have bytes stored (files, or chunk rows)."""
    return view.uploads_with_bytes(), view.attachments_with_bytes()


def test_pdf_flow_byte_identical(server_client: Any, storage_view: Any, visit: VisitHandle,
                                 tus_upload: Any, fixtures_dir: Path) -> None:
    data = (fixtures_dir / "document.pdf").read_bytes()
    # Two PATCH requests, the second one a different size.
    location = tus_upload(visit, data, "Remiss åäö.pdf", "application/pdf",
                          chunk=len(data) // 2 + 100)
    r = finalise(server_client, visit, location)
    assert r.status_code == 201, r.text
    message = r.json()
    att = message["attachment"]
    assert message["kind"] == "attachment" and message["text"] is None
    assert message["sender_role"] == "patient" and message["sender_name"] == "Alex Patient"
    assert att["name"] == "Remiss åäö.pdf"
    assert (att["size"], att["mime"], att["category"]) == (len(data), "application/pdf",
                                                           "document")
    assert att["url"] == f"/api/visits/{visit.id}/attachments/{att['id']}"
    assert len(att["id"]) >= 22

    # The other party sees it in the message list, and can download it.
    listed = server_client.get(visit.url("/messages"), headers=visit.clinician).json()
    assert listed["messages"] == [message]
    d = server_client.get(att["url"], headers=visit.clinician)
    assert d.status_code == 200
    assert d.content == data
    assert d.headers["content-type"] == "application/pdf"
    assert d.headers["content-disposition"] == (
        "attachment; filename=\"Remiss aao.pdf\"; "
        "filename*=UTF-8''Remiss%20%C3%A5%C3%A4%C3%B6.pdf")
    assert d.headers["x-content-type-options"] == "nosniff"
    assert d.headers["cache-control"] == "no-store"
    assert "content-encoding" not in d.headers
    assert "sandbox" in d.headers["content-security-policy"]
    # Documents are never inline.
    inline = server_client.get(att["url"] + "?disposition=inline", headers=visit.patient)
    assert inline.headers["content-disposition"].startswith("attachment;")

    # The upload is gone; one stored file with a generated name and the recorded hash.
    uploads, attachments = stored_files(storage_view)
    assert uploads == [] and len(attachments) == 1
    assert "Remiss" not in attachments[0] and ".pdf" not in attachments[0]
    assert storage_view.rows("SELECT sha256, stored_name FROM attachments") == [
        {"sha256": hashlib.sha256(data).hexdigest(), "stored_name": attachments[0]}]
    assert storage_view.attachment_bytes(attachments[0]) == data
    assert storage_view.count("uploads") == 0


@pytest.mark.parametrize(
    ("fixture", "name", "category", "mime"),
    [("photo_gps.jpg", "IMG_0001.JPG", "image", "image/jpeg"),
     ("clip.mp4", "film.mp4", "video", "video/mp4")],
)
def test_media_inline(server_client: Any, visit: VisitHandle, tus_upload: Any,
                      fixtures_dir: Path, stripped_photo: bytes, fixture: str, name: str,
                      category: str, mime: str) -> None:
    # The photo as the browser sends it: the original still carries GPS and is refused
    # (tests/test_server_images.py).
    data = stripped_photo if fixture == "photo_gps.jpg" else (fixtures_dir / fixture).read_bytes()
    location = tus_upload(visit, data, name, mime, role="clinician", chunk=1024 * 1024)
    r = finalise(server_client, visit, location, role="clinician")
    assert r.status_code == 201, r.text
    att = r.json()["attachment"]
    assert (att["category"], att["mime"]) == (category, mime)
    d = server_client.get(att["url"] + "?disposition=inline", headers=visit.patient)
    assert d.content == data
    assert d.headers["content-disposition"].startswith(f'inline; filename="{name}"')
    assert server_client.get(att["url"], headers=visit.patient).headers[
        "content-disposition"].startswith("attachment;")
    # Range requests (video seeking) work on the stored file.
    part = server_client.get(att["url"], headers={**visit.patient, "Range": "bytes=0-9"})
    assert part.status_code == 206 and part.content == data[:10]


def test_renamed_mp3_refused_and_nothing_stored(server_client: Any, storage_view: Any,
                                                visit: VisitHandle, tus_upload: Any,
                                                fixtures_dir: Path) -> None:
    data = (fixtures_dir / "tone.mp3").read_bytes()
    location = tus_upload(visit, data, "semester.jpg", "image/jpeg", chunk=5000)
    r = finalise(server_client, visit, location)
    assert r.status_code == 415
    assert r.json()["error"] == "audio_not_allowed"
    assert stored_files(storage_view) == ([], [])
    assert server_client.get(visit.url("/messages"), headers=visit.patient).json()[
        "messages"] == []
    # The refused upload is deleted, not left for a retry.
    assert finalise(server_client, visit, location).status_code == 404


@pytest.mark.parametrize(
    ("data", "name", "code"),
    [
        (b"MZ" + b"\x00" * 200, "kvitto.pdf", "type_not_allowed"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
         "bild.jpg", "type_not_allowed"),
        (b"PK\x03\x04" + b"\x00" * 100, "arkiv.zip", "type_not_allowed"),
    ],
)
def test_not_allowed_types(server_client: Any, storage_view: Any, visit: VisitHandle,
                           tus_upload: Any, data: bytes, name: str, code: str) -> None:
    r = finalise(server_client, visit, tus_upload(visit, data, name))
    assert (r.status_code, r.json()["error"]) == (415, code)
    assert stored_files(storage_view) == ([], [])


def test_exact_max_size_accepted(server_client: Any, visit: VisitHandle, tus_upload: Any,
                                 fixtures_dir: Path) -> None:
    pdf = (fixtures_dir / "document.pdf").read_bytes()
    data = pdf + b"\n%" + b"0" * (MAX - len(pdf) - 2)
    assert len(data) == 10_485_760
    location = tus_upload(visit, data, "stor.pdf", "application/pdf", chunk=4 * 1024 * 1024)
    r = finalise(server_client, visit, location)
    assert r.status_code == 201, r.text
    assert r.json()["attachment"]["size"] == 10_485_760
    d = server_client.get(r.json()["attachment"]["url"], headers=visit.patient)
    assert d.content == data


def test_too_large_on_disk_refused(make_server_client: Any, storage_view: Any,
                                   fixtures_dir: Path, tus_upload: Any) -> None:
    # If the limit was lowered after an upload was created, finalisation still enforces it.
    pdf = (fixtures_dir / "document.pdf").read_bytes()
    first = make_server_client()
    v = VisitHandle(first.post("/api/visits", json={}).json())
    location = tus_upload(v, pdf, "a.pdf", client=first)
    second = make_server_client(max_attachment_bytes=len(pdf) - 1)
    r = finalise(second, v, location)
    assert (r.status_code, r.json()["error"]) == (413, "too_large")
    assert stored_files(storage_view) == ([], [])


def test_incomplete_upload(server_client: Any, visit: VisitHandle) -> None:
    from tests.test_server_tus import create, patch

    location = create(server_client, visit, 100).headers["location"]
    patch(server_client, visit, location, b"%PDF-" + b"x" * 20, 0)
    r = finalise(server_client, visit, location)
    assert (r.status_code, r.json()["error"]) == (409, "upload_incomplete")
    assert server_client.head(location, headers={**visit.patient, "Tus-Resumable": "1.0.0"}
                              ).headers["upload-offset"] == "25"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [({}, 400, "missing_field"), ({"upload_id": 3}, 400, "invalid_field"),
     ({"upload_id": "nope"}, 404, "upload_not_found")],
)
def test_finalise_bad_bodies(server_client: Any, visit: VisitHandle, body: Any, status: int,
                             code: str) -> None:
    r = server_client.post(visit.url("/attachments"), headers=visit.patient, json=body)
    assert (r.status_code, r.json()["error"]) == (status, code)


def test_finalise_other_role_or_visit(server_client: Any, new_visit: Any, tus_upload: Any,
                                      fixtures_dir: Path) -> None:
    a, b = new_visit(), new_visit()
    location = tus_upload(a, (fixtures_dir / "document.pdf").read_bytes(), "a.pdf")
    assert finalise(server_client, a, location, role="clinician").status_code == 404
    assert finalise(server_client, b, location).status_code == 404
    assert finalise(server_client, a, location).status_code == 201


def test_finalise_after_visit_ended(server_client: Any, visit: VisitHandle, tus_upload: Any,
                                    fixtures_dir: Path) -> None:
    location = tus_upload(visit, (fixtures_dir / "document.pdf").read_bytes(), "a.pdf")
    server_client.post(visit.url("/end"), headers=visit.clinician)
    r = finalise(server_client, visit, location)
    assert (r.status_code, r.json()["error"]) == (409, "visit_ended")


def test_download_auth_and_isolation(server_client: Any, new_visit: Any, tus_upload: Any,
                                     fixtures_dir: Path) -> None:
    a, b = new_visit(), new_visit()
    location = tus_upload(a, (fixtures_dir / "document.pdf").read_bytes(), "a.pdf")
    url = finalise(server_client, a, location).json()["attachment"]["url"]
    assert server_client.get(url).status_code == 401
    assert server_client.get(url, headers=b.patient).status_code == 404
    # The attachment id is not usable through another visit's path either.
    assert server_client.get(url.replace(a.id, b.id), headers=b.patient).status_code == 404
    assert server_client.get(a.url("/attachments/nope"), headers=a.patient).status_code == 404
    r = server_client.get(url + "?disposition=evil", headers=a.patient)
    assert (r.status_code, r.json()["error"]) == (400, "bad_query")


def test_attachment_message_wakes_long_poll(server_client: Any, visit: VisitHandle,
                                            tus_upload: Any, fixtures_dir: Path) -> None:
    import threading
    import time

    data = (fixtures_dir / "document.pdf").read_bytes()

    def send_later() -> None:
        time.sleep(0.3)
        finalise(server_client, visit, tus_upload(visit, data, "a.pdf"))

    thread = threading.Thread(target=send_later)
    thread.start()
    r = server_client.get(visit.url("/messages?wait=5"), headers=visit.clinician)
    thread.join()
    assert [m["kind"] for m in r.json()["messages"]] == ["attachment"]


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("bytes=0-9", (0, 10)), ("bytes=5-", (5, 10)), ("bytes=-3", (7, 10)),
     ("bytes=0-99", (0, 10)), ("bytes=a-b", None), ("bytes=0-1,3-4", None), ("items=0-1", None),
     ("bytes=9-2", None), ("bytes=-", None), ("bytes=10-", 416), ("bytes=-0", 416)],
)
def test_byte_range(header: str | None, expected: Any) -> None:
    """The single ranges a node serves from PostgreSQL (a SQLite node's files go through
    Starlette's FileResponse): others are ignored (200, whole file), past the end is 416."""
    from server.api import byte_range
    from server.errors import RangeNotSatisfiable

    if expected == 416:
        with pytest.raises(RangeNotSatisfiable) as refused:
            byte_range(header, 10)
        assert refused.value.headers == {"Content-Range": "bytes */10"}
    else:
        assert byte_range(header, 10) == expected
