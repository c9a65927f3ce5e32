"""End of visit and filing: the attachment list, the clinician's marks, the ZIP of everything."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import anyio.from_thread
import pytest

from server.filing import archive_names
from tests.conftest import VisitHandle, tus_metadata

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_storages

ENTRY_FIELDS = {"id", "name", "size", "mime", "category", "url", "sender_role", "sender_name",
                "sent_at", "mark", "marked_at"}


def mark(client: Any, visit: VisitHandle, attachment_id: str, value: Any,
         role: str = "clinician") -> Any:
    return client.put(visit.url(f"/attachments/{attachment_id}/mark"),
                      headers=visit.headers(role), json={"mark": value})


def listing(client: Any, visit: VisitHandle, role: str = "clinician") -> dict[str, Any]:
    r = client.get(visit.url("/attachments"), headers=visit.headers(role))
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def pdf(fixtures_dir: Path) -> bytes:
    return (fixtures_dir / "document.pdf").read_bytes()


@pytest.fixture
def sent(server_client: Any, visit: VisitHandle, send_attachment: Any, pdf: bytes,
         stripped_photo: bytes, fixtures_dir: Path) -> list[dict[str, Any]]:
    """Three attachments with a text message between them; returns the attachment messages."""
    messages = [send_attachment(visit, pdf, "Remiss åäö.pdf").json()]
    server_client.post(visit.url("/messages"), headers=visit.clinician, json={"text": "Tack"})
    messages.append(send_attachment(visit, stripped_photo, "utslag.jpg", role="clinician").json())
    messages.append(send_attachment(visit, (fixtures_dir / "clip.mp4").read_bytes(),
                                    "film.mp4").json())
    return messages


# --- listing -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["clinician", "patient"])
def test_listing_order_and_fields(server_client: Any, visit: VisitHandle,
                                  sent: list[dict[str, Any]], role: str) -> None:
    body = listing(server_client, visit, role)
    assert set(body) == {"attachments", "state", "ended_at"}
    assert (body["state"], body["ended_at"]) == ("open", None)
    entries = body["attachments"]
    assert [e["name"] for e in entries] == ["Remiss åäö.pdf", "utslag.jpg", "film.mp4"]
    for entry, message in zip(entries, sent, strict=True):
        assert set(entry) == ENTRY_FIELDS
        assert entry == {**message["attachment"], "sender_role": message["sender_role"],
                         "sender_name": message["sender_name"], "sent_at": message["sent_at"],
                         "mark": None, "marked_at": None}
    assert [e["sender_name"] for e in entries] == ["Alex Patient", "Dr Sara Lind",
                                                   "Alex Patient"]
    assert [e["category"] for e in entries] == ["document", "image", "video"]


def test_listing_is_per_visit_and_needs_a_token(server_client: Any, new_visit: Any,
                                                send_attachment: Any, pdf: bytes) -> None:
    a, b = new_visit(), new_visit()
    send_attachment(a, pdf, "a.pdf")
    assert listing(server_client, b)["attachments"] == []
    assert server_client.get(a.url("/attachments")).status_code == 401
    assert server_client.get(a.url("/attachments"), headers=b.clinician).status_code == 404


# --- marks ---------------------------------------------------------------------------------


def test_marks_set_change_clear(server_client: Any, visit: VisitHandle,
                                sent: list[dict[str, Any]]) -> None:
    first, second = sent[0]["attachment"]["id"], sent[1]["attachment"]["id"]
    r = mark(server_client, visit, first, "saved")
    assert r.status_code == 200, r.text
    entry = r.json()
    assert set(entry) == ENTRY_FIELDS and entry["id"] == first
    assert entry["mark"] == "saved" and entry["marked_at"].endswith("Z")
    saved_at = entry["marked_at"]
    assert mark(server_client, visit, second, "not_relevant").json()["mark"] == "not_relevant"

    entries = listing(server_client, visit)["attachments"]
    assert [(e["mark"], e["marked_at"] is not None) for e in entries] == [
        ("saved", True), ("not_relevant", True), (None, False)]
    # Filing is the clinician's business: the patient sees no marks.
    assert [(e["mark"], e["marked_at"]) for e in listing(server_client, visit, "patient")[
        "attachments"]] == [(None, None)] * 3

    # The same mark again keeps its time (idempotent); another mark replaces it; null clears.
    assert mark(server_client, visit, first, "saved").json()["marked_at"] == saved_at
    changed = mark(server_client, visit, first, "not_relevant").json()
    assert changed["mark"] == "not_relevant" and changed["marked_at"] >= saved_at
    cleared = mark(server_client, visit, first, None).json()
    assert (cleared["mark"], cleared["marked_at"]) == (None, None)
    assert listing(server_client, visit)["attachments"][0]["mark"] is None


@pytest.mark.parametrize(
    ("request_kwargs", "code"),
    [
        ({"json": {}}, "missing_field"),
        ({"json": {"mrk": "saved"}}, "missing_field"),
        ({"json": {"mark": "Saved"}}, "invalid_field"),
        ({"json": {"mark": "SAVED"}}, "invalid_field"),
        ({"json": {"mark": "deleted"}}, "invalid_field"),
        ({"json": {"mark": ""}}, "invalid_field"),
        ({"json": {"mark": " saved"}}, "invalid_field"),
        ({"json": {"mark": 1}}, "invalid_field"),
        ({"json": {"mark": True}}, "invalid_field"),
        ({"json": {"mark": ["saved"]}}, "invalid_field"),
        ({"json": {"mark": {"saved": True}}}, "invalid_field"),
        ({"json": ["saved"]}, "bad_json"),
        ({"content": b"{mark: saved}"}, "bad_json"),
    ],
)
def test_invalid_mark_bodies(server_client: Any, visit: VisitHandle,
                             sent: list[dict[str, Any]], request_kwargs: dict[str, Any],
                             code: str) -> None:
    attachment_id = sent[0]["attachment"]["id"]
    r = server_client.put(visit.url(f"/attachments/{attachment_id}/mark"),
                          headers=visit.clinician, **request_kwargs)
    assert (r.status_code, r.json()["error"]) == (400, code)
    assert listing(server_client, visit)["attachments"][0]["mark"] is None


@pytest.mark.parametrize("value", ["saved", "not_relevant", None])
def test_patient_may_not_mark(server_client: Any, visit: VisitHandle,
                              sent: list[dict[str, Any]], value: str | None) -> None:
    r = mark(server_client, visit, sent[0]["attachment"]["id"], value, role="patient")
    assert (r.status_code, r.json()["error"]) == (403, "forbidden")


def test_mark_another_visits_attachment_is_404(server_client: Any, new_visit: Any,
                                               send_attachment: Any, pdf: bytes) -> None:
    a, b = new_visit(), new_visit()
    a_id = send_attachment(a, pdf, "a.pdf").json()["attachment"]["id"]
    # b's clinician, through b's path: a's attachment does not exist there.
    r = mark(server_client, b, a_id, "saved")
    assert (r.status_code, r.json()["error"]) == (404, "not_found")
    # b's clinician token on a's path: another visit's token is 404 too.
    r = server_client.put(a.url(f"/attachments/{a_id}/mark"), headers=b.clinician,
                          json={"mark": "saved"})
    assert r.status_code == 404
    assert mark(server_client, a, "nope", "saved").status_code == 404
    assert listing(server_client, a)["attachments"][0]["mark"] is None


def test_marks_survive_a_restart(make_server_client: Any, send_attachment: Any,
                                 pdf: bytes) -> None:
    first = make_server_client()
    v = VisitHandle(first.post("/api/visits", json={}).json())
    att_id = send_attachment(v, pdf, "a.pdf", client=first).json()["attachment"]["id"]
    marked = mark(first, v, att_id, "saved").json()
    again = make_server_client()  # same data directory, schema created again (IF NOT EXISTS)
    assert listing(again, v)["attachments"] == [marked]


# --- end of visit --------------------------------------------------------------------------


def test_end_records_time_and_filing_continues(server_client: Any, visit: VisitHandle,
                                               sent: list[dict[str, Any]],
                                               stripped_photo: bytes) -> None:
    first = sent[0]["attachment"]["id"]
    assert mark(server_client, visit, first, "saved").status_code == 200
    ended = server_client.post(visit.url("/end"), headers=visit.clinician).json()
    assert ended["state"] == "ended" and ended["ended_at"].endswith("Z")
    for role in ("patient", "clinician"):
        assert server_client.get(visit.url(), headers=visit.headers(role)).json()[
            "ended_at"] == ended["ended_at"]
        body = listing(server_client, visit, role)
        assert (body["state"], body["ended_at"]) == ("ended", ended["ended_at"])
        assert len(body["attachments"]) == 3

    # Filing interrupted at the end of the visit can be finished afterwards.
    for att, value in zip(sent, ["not_relevant", "saved", "saved"], strict=True):
        r = mark(server_client, visit, att["attachment"]["id"], value)
        assert (r.status_code, r.json()["mark"]) == (200, value)
    assert mark(server_client, visit, first, None).status_code == 200
    assert mark(server_client, visit, sent[0]["attachment"]["id"], "x").status_code == 400

    # Downloads stay available to both roles.
    for role in ("patient", "clinician"):
        d = server_client.get(sent[1]["attachment"]["url"], headers=visit.headers(role))
        assert d.status_code == 200 and d.content == stripped_photo
    assert server_client.get(visit.url("/attachments.zip"),
                             headers=visit.clinician).status_code == 200


def _post_message(client: Any, visit: VisitHandle, location: str) -> Any:
    return client.post(visit.url("/messages"), headers=visit.patient, json={"text": "hej"})


def _create_upload(client: Any, visit: VisitHandle, location: str) -> Any:
    return client.post(visit.url("/uploads"), headers=visit.headers(
        Tus_Resumable="1.0.0", Upload_Length="5", Upload_Metadata=tus_metadata(filename="a.pdf")))


def _patch_upload(client: Any, visit: VisitHandle, location: str) -> Any:
    return client.patch(location, content=b"%PDF-", headers=visit.headers(
        Tus_Resumable="1.0.0", Upload_Offset="0",
        Content_Type="application/offset+octet-stream"))


def _finalise(client: Any, visit: VisitHandle, location: str) -> Any:
    return client.post(visit.url("/attachments"), headers=visit.patient,
                       json={"upload_id": location.rsplit("/", 1)[1]})


@pytest.mark.parametrize("action", [_post_message, _create_upload, _patch_upload, _finalise],
                         ids=["message", "upload", "patch", "finalise"])
def test_sending_refused_after_end(server_client: Any, visit: VisitHandle, tus_upload: Any,
                                   action: Any) -> None:
    data = b"%PDF-1.4\n" + b"0" * 100
    location = tus_upload(visit, data, "a.pdf")
    if action is _patch_upload:  # an upload that still has bytes to go
        location = _create_upload(server_client, visit, "").headers["location"]
    server_client.post(visit.url("/end"), headers=visit.clinician)
    r = action(server_client, visit, location)
    assert (r.status_code, r.json()["error"]) == (409, "visit_ended")
    assert server_client.get(visit.url("/messages"), headers=visit.patient).json()[
        "messages"] == []


def test_visit_ending_during_finalisation(server_client: Any, storage_view: Any,
                                          visit: VisitHandle, tus_upload: Any,
                                          stripped_photo: bytes,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # The end arrives while the image is being checked: nothing may land after it.
    import server.api

    def end_meanwhile(*args: Any) -> None:  # runs in a worker thread of the app's loop
        anyio.from_thread.run(server_client.app.state.ctx.storage.end_visit, visit.id)

    monkeypatch.setattr(server.api, "check_image", end_meanwhile)
    location = tus_upload(visit, stripped_photo, "a.jpg")
    r = _finalise(server_client, visit, location)
    assert (r.status_code, r.json()["error"]) == (409, "visit_ended")
    assert listing(server_client, visit)["attachments"] == []
    assert storage_view.attachments_with_bytes() == []


# --- ZIP -----------------------------------------------------------------------------------


def test_zip_contents_names_and_headers(server_client: Any, server_settings: Any,
                                        storage_view: Any,
                                        visit: VisitHandle, send_attachment: Any, pdf: bytes,
                                        stripped_photo: bytes, fixtures_dir: Path) -> None:
    clip = (fixtures_dir / "clip.mp4").read_bytes()
    note = "Smörj in huden två gånger om dagen.\n".encode()
    files = [
        ("Remiss åäö.pdf", pdf, "patient"),
        ("Remiss åäö.pdf", pdf + b"\n%second", "clinician"),
        ("remiss ÅÄÖ.PDF", pdf + b"\n%third", "patient"),  # same name ignoring case
        ("utslag.jpg", stripped_photo, "patient"),
        ("Bild: knä?.txt", note, "clinician"),
        ("film", clip, "patient"),  # stored as film.mp4 (the sniffed type's extension)
        ("film", clip, "patient"),
    ]
    for name, data, role in files:
        assert send_attachment(visit, data, name, role=role).status_code == 201
    r = server_client.get(visit.url("/attachments.zip"), headers=visit.clinician)
    assert r.status_code == 200, r.text

    (row,) = storage_view.rows("SELECT created_at FROM visits WHERE id = ?", visit.id)
    created_at = row["created_at"]
    zip_name = f"bilagor-{created_at[:10]}.zip"
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"] == (
        f"attachment; filename=\"{zip_name}\"; filename*=UTF-8''{zip_name}")
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in r.headers["content-security-policy"]
    assert int(r.headers["content-length"]) == len(r.content)
    assert "content-encoding" not in r.headers

    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        assert zf.testzip() is None
        assert zf.namelist() == ["Remiss åäö.pdf", "Remiss åäö (2).pdf", "remiss ÅÄÖ (3).PDF",
                                 "utslag.jpg", "Bild_ knä_.txt", "film.mp4", "film (2).mp4"]
        for info, (_, data, _) in zip(zf.infolist(), files, strict=True):
            assert info.compress_type == zipfile.ZIP_STORED
            assert info.file_size == info.compress_size == len(data)
            assert zf.read(info) == data
        # Non-ASCII names are flagged as UTF-8, so every unzip shows å, ä, ö.
        assert zf.getinfo("Remiss åäö.pdf").flag_bits & 0x800
    # The archive was built in an anonymous temp file: nothing is left beside the data.
    if server_settings.database_url is None:
        leftovers = [p.name for p in server_settings.data_dir.iterdir()
                     if p.name not in ("attachments", "uploads") and "sqlite3" not in p.name]
        assert leftovers == []


def test_zip_empty_visit(server_client: Any, visit: VisitHandle) -> None:
    r = server_client.get(visit.url("/attachments.zip"), headers=visit.clinician)
    assert r.status_code == 200
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        assert zf.namelist() == []


def test_zip_only_this_visit(server_client: Any, new_visit: Any, send_attachment: Any,
                             pdf: bytes) -> None:
    a, b = new_visit(), new_visit()
    send_attachment(a, pdf, "a.pdf")
    send_attachment(b, pdf + b"\n%b", "b.pdf")
    r = server_client.get(a.url("/attachments.zip"), headers=a.clinician)
    assert zipfile.ZipFile(io.BytesIO(r.content)).namelist() == ["a.pdf"]
    assert server_client.get(a.url("/attachments.zip"), headers=b.clinician).status_code == 404
    assert server_client.get(a.url("/attachments.zip")).status_code == 401


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("GET", "/attachments.zip"), ("PUT", "/attachments/{id}/mark")],
)
def test_patient_forbidden(server_client: Any, visit: VisitHandle, sent: list[dict[str, Any]],
                           method: str, suffix: str) -> None:
    url = visit.url(suffix.format(id=sent[0]["attachment"]["id"]))
    r = server_client.request(method, url, headers=visit.patient, json={"mark": "saved"})
    assert (r.status_code, r.json()["error"]) == (403, "forbidden")


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["a.pdf", "a.pdf", "a.pdf"], ["a.pdf", "a (2).pdf", "a (3).pdf"]),
        (["a.pdf", "a (2).pdf", "a.pdf"], ["a.pdf", "a (2).pdf", "a (3).pdf"]),
        (["Å.jpg", "å.JPG"], ["Å.jpg", "å (2).JPG"]),
        (["fil", "fil"], ["fil", "fil (2)"]),
        (["arkiv.tar.gz", "arkiv.tar.gz"], ["arkiv.tar.gz", "arkiv.tar (2).gz"]),
        (["a:b.txt", "a_b.txt"], ["a_b.txt", "a_b (2).txt"]),
        (['<>:"|?*.txt'], ["_______.txt"]),
        (["x. y", "x. y"], ["x. y", "x. y (2)"]),
    ],
)
def test_archive_names(names: list[str], expected: list[str]) -> None:
    assert archive_names(names) == expected


def test_archive_names_skip_names_that_look_like_repeats() -> None:
    assert archive_names(["a.pdf", "a (2).pdf", "a.pdf", "A.PDF", "a (3).pdf"]) == [
        "a.pdf", "a (2).pdf", "a (3).pdf", "A (4).PDF", "a (3) (2).pdf"]


def test_archive_names_are_linear() -> None:
    """8,000 attachments of one name (quadratic naming took 8.6 s; a 100-fold margin)."""
    import time

    t0 = time.perf_counter()
    names = archive_names(["foto.jpg"] * 8000)
    assert time.perf_counter() - t0 < 3.0
    assert names[-1] == "foto (8000).jpg" and len(set(names)) == 8000
