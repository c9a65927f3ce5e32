"""Finalisation (POST .../attachments): idempotent repeats, and the stored display name that
carries the extension of the sniffed type."""

from __future__ import annotations

import io
import sqlite3
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pytest

from server.app import create_app
from tests.conftest import VisitHandle

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_storages

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


def finalise(client: Any, visit: VisitHandle, location: str, role: str = "patient") -> Any:
    return client.post(visit.url("/attachments"), headers=visit.headers(role),
                       json={"upload_id": location.rsplit("/", 1)[1]})


def attachment_messages(client: Any, visit: VisitHandle) -> list[dict[str, Any]]:
    messages = client.get(visit.url("/messages"), headers=visit.clinician).json()["messages"]
    return [m for m in messages if m["kind"] == "attachment"]


@pytest.fixture
def pdf(fixtures_dir: Path) -> bytes:
    return (fixtures_dir / "document.pdf").read_bytes()


# --- idempotent finalisation ---------------------------------------------------------------


def test_repeat_answers_200_with_the_same_message(server_client: Any, storage_view: Any,
                                                   visit: VisitHandle, tus_upload: Any,
                                                   pdf: bytes) -> None:
    location = tus_upload(visit, pdf, "Remiss.pdf")
    first = finalise(server_client, visit, location)
    assert first.status_code == 201, first.text
    for _ in range(2):
        again = finalise(server_client, visit, location)
        assert again.status_code == 200, again.text
        assert again.json() == first.json()
    # Still one attachment, one message, one file.
    assert attachment_messages(server_client, visit) == [first.json()]
    assert storage_view.count("attachments") == 1
    assert len(storage_view.attachments_with_bytes()) == 1


def test_repeat_by_another_role_or_visit_is_404(server_client: Any, new_visit: Any,
                                                tus_upload: Any, pdf: bytes) -> None:
    a, b = new_visit(), new_visit()
    location = tus_upload(a, pdf, "a.pdf")
    assert finalise(server_client, a, location).status_code == 201
    for visit, role in ((a, "clinician"), (b, "patient"), (b, "clinician")):
        r = finalise(server_client, visit, location, role=role)
        assert (r.status_code, r.json()["error"]) == (404, "upload_not_found"), (visit, role)
    # The clinician's own upload, finalised by the clinician, is the clinician's alone.
    location = tus_upload(a, pdf, "b.pdf", role="clinician")
    assert finalise(server_client, a, location, role="clinician").status_code == 201
    assert finalise(server_client, a, location, role="clinician").status_code == 200
    assert finalise(server_client, a, location).status_code == 404


def test_answer_lost_after_the_commit(server_client: Any, visit: VisitHandle, tus_upload: Any,
                                      pdf: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """The case this exists for: the message was committed, then the answer never came."""
    storage = server_client.app.state.ctx.storage
    real_message = storage.message
    calls = []

    def crash_once(*args: Any) -> Any:
        calls.append(args)
        if len(calls) == 1:
            raise ConnectionResetError("the answer is lost")
        return real_message(*args)

    monkeypatch.setattr(storage, "message", crash_once)
    location = tus_upload(visit, pdf, "a.pdf")
    with pytest.raises(ConnectionResetError):
        finalise(server_client, visit, location)
    r = finalise(server_client, visit, location)
    assert r.status_code == 200, r.text
    assert r.json()["attachment"]["name"] == "a.pdf"
    assert attachment_messages(server_client, visit) == [r.json()]


def test_repeat_after_the_visit_ended(server_client: Any, visit: VisitHandle, tus_upload: Any,
                                      pdf: bytes) -> None:
    # The file was sent before the end: a repeat reports that, it does not refuse it.
    location = tus_upload(visit, pdf, "a.pdf")
    first = finalise(server_client, visit, location)
    server_client.post(visit.url("/end"), headers=visit.clinician)
    again = finalise(server_client, visit, location)
    assert (again.status_code, again.json()) == (200, first.json())


def test_repeat_across_a_restart(server_settings: Any, tus_upload: Any, pdf: bytes) -> None:
    with TestClient(create_app(server_settings)) as before:
        visit = VisitHandle(before.post("/api/visits", json={}).json())
        location = tus_upload(visit, pdf, "a.pdf", client=before)
        first = finalise(before, visit, location)
        assert first.status_code == 201
    with TestClient(create_app(server_settings)) as after:
        again = finalise(after, visit, location)
        assert (again.status_code, again.json()) == (200, first.json())
        assert attachment_messages(after, visit) == [first.json()]
        other = finalise(after, visit, location, role="clinician")
        assert other.status_code == 404


@pytest.mark.sqlite_only  # an older SQLite file; PostgreSQL's schema comes from Alembic
def test_database_from_before_the_upload_table(server_settings: Any, tus_upload: Any,
                                               pdf: bytes) -> None:
    """An older database gains the table at start; its earlier attachments are untouched (a
    repeat of one of those is 404, as it was), new ones are found again."""
    with TestClient(create_app(server_settings)) as before:
        visit = VisitHandle(before.post("/api/visits", json={}).json())
        old = tus_upload(visit, pdf, "old.pdf", client=before)
        assert finalise(before, visit, old).status_code == 201
        pending = tus_upload(visit, pdf, "new.pdf", client=before)
    with sqlite3.connect(server_settings.data_dir / "bifoga.sqlite3") as db:
        db.execute("DROP TABLE attachment_uploads")
    with TestClient(create_app(server_settings)) as after:
        assert finalise(after, visit, old).status_code == 404
        assert finalise(after, visit, pending).status_code == 201
        assert finalise(after, visit, pending).status_code == 200
        listed = after.get(visit.url("/attachments"), headers=visit.clinician).json()
        assert [a["name"] for a in listed["attachments"]] == ["old.pdf", "new.pdf"]


def test_concurrent_repeat_is_busy_then_200(server_client: Any, visit: VisitHandle,
                                            tus_upload: Any, pdf: bytes) -> None:
    location = tus_upload(visit, pdf, "a.pdf")
    upload_id = location.rsplit("/", 1)[1]
    lock = server_client.app.state.ctx.upload_lock(upload_id, visit.id, "patient")
    with server_client.portal.wrap_async_context_manager(lock):  # the first try, still running
        r = finalise(server_client, visit, location)
        assert (r.status_code, r.json()["error"]) == (423, "upload_busy")
    assert finalise(server_client, visit, location).status_code == 201
    assert finalise(server_client, visit, location).status_code == 200


def test_refused_file_is_not_found_again(server_client: Any, visit: VisitHandle,
                                         tus_upload: Any) -> None:
    location = tus_upload(visit, b"MZ" + b"\x00" * 200, "kvitto.pdf")
    assert finalise(server_client, visit, location).status_code == 415
    r = finalise(server_client, visit, location)
    assert (r.status_code, r.json()["error"]) == (404, "upload_not_found")


# --- the stored name ends with an extension of the sniffed type ---------------------------


@pytest.mark.parametrize(
    ("sent_name", "stored_name"),
    [
        ("rapport\u202efdp.exe", "rapportfdp.exe.pdf"),
        ("Remiss", "Remiss.pdf"),
        ("REMISS.PDF", "REMISS.PDF"),
        ("Remiss.docx", "Remiss.docx.pdf"),
    ],
)
def test_stored_name_matches_the_type_everywhere(server_client: Any, visit: VisitHandle,
                                                 send_attachment: Any, pdf: bytes,
                                                 sent_name: str, stored_name: str) -> None:
    r = send_attachment(visit, pdf, sent_name)
    assert r.status_code == 201, r.text
    att = r.json()["attachment"]
    assert (att["name"], att["mime"]) == (stored_name, "application/pdf")
    # The chat, the filing list (the reminder), the download and the ZIP agree.
    assert attachment_messages(server_client, visit)[0]["attachment"]["name"] == stored_name
    listed = server_client.get(visit.url("/attachments"), headers=visit.clinician).json()
    assert [a["name"] for a in listed["attachments"]] == [stored_name]
    download = server_client.get(att["url"], headers=visit.clinician)
    assert download.headers["content-disposition"].endswith(
        "''" + stored_name.replace(" ", "%20"))
    assert ".exe\"" not in download.headers["content-disposition"]
    archive = server_client.get(visit.url("/attachments.zip"), headers=visit.clinician)
    assert zipfile.ZipFile(io.BytesIO(archive.content)).namelist() == [stored_name]


@pytest.mark.parametrize(
    ("sent_name", "stored_name"),
    [("IMG_0001.JPG", "IMG_0001.JPG"), ("IMG_0001.jpeg", "IMG_0001.jpeg"),
     ("bild.png", "bild.png.jpg"), ("bild", "bild.jpg")],
)
def test_stored_name_of_a_photo(visit: VisitHandle, send_attachment: Any,
                                stripped_photo: bytes, sent_name: str, stored_name: str) -> None:
    r = send_attachment(visit, stripped_photo, sent_name)
    assert r.status_code == 201, r.text
    assert r.json()["attachment"]["name"] == stored_name


def test_stored_name_of_a_film(visit: VisitHandle, send_attachment: Any,
                               fixtures_dir: Path) -> None:
    r = send_attachment(visit, (fixtures_dir / "clip.mp4").read_bytes(), "film.MOV")
    assert r.status_code == 201, r.text
    assert (r.json()["attachment"]["mime"], r.json()["attachment"]["name"]) == (
        "video/mp4", "film.MOV.mp4")
