"""Disk hardening: an atomic open-upload cap, a per-visit byte quota, a free-space floor and a
ZIP that is streamed."""

from __future__ import annotations

import asyncio
import io
import zipfile
from dataclasses import replace
from typing import Any

import httpx
import pytest

from server.app import create_app
from tests.conftest import VisitHandle, run_in_app, tus_metadata

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py), but the free-space
# floor: a stateless node writes nothing to its own disk.
pytestmark = pytest.mark.both_storages
MiB = 1024 * 1024
TUS = {"Tus-Resumable": "1.0.0"}


def create(client: Any, visit: VisitHandle, length: int) -> Any:
    return client.post(visit.url("/uploads"), headers=visit.headers(
        **TUS, Upload_Length=str(length), Upload_Metadata=tus_metadata(filename="a.pdf")))


def test_open_upload_cap_holds_under_concurrent_creations(server_settings: Any,
                                                           storage_view: Any) -> None:
    """90 creations at once: exactly the cap gets 201 (was: all 90, check-then-act)."""
    app = create_app(server_settings)
    storage = app.state.ctx.storage

    async def scenario() -> list[int]:
        await storage.start()  # ASGITransport runs no lifespan
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                visit = VisitHandle((await c.post("/api/visits", json={})).json())
                answers = await asyncio.gather(*(c.post(visit.url("/uploads"),
                                                        headers=visit.headers(
                    **TUS, Upload_Length=str(10 * MiB),
                    Upload_Metadata=tus_metadata(filename="a.pdf"))) for _ in range(90)))
        finally:
            await storage.stop()
        return sorted(r.status_code for r in answers)

    codes = asyncio.run(scenario())
    assert codes.count(201) == server_settings.max_open_uploads_per_role
    assert set(codes) == {201, 429}
    assert storage_view.count("uploads") == server_settings.max_open_uploads_per_role
    if server_settings.database_url is None:
        uploads = list((server_settings.data_dir / "uploads").iterdir())
        assert len(uploads) == server_settings.max_open_uploads_per_role  # refused: no file


def test_visit_quota_counts_open_uploads_and_attachments(
    make_server_client: Any, send_attachment: Any
) -> None:
    client = make_server_client(max_visit_bytes=3000)
    visit = VisitHandle(client.post("/api/visits", json={}).json())
    other = VisitHandle(client.post("/api/visits", json={}).json())
    assert send_attachment(visit, b"Notes\n" * 200, "a.txt", client=client).status_code == 201
    assert create(client, visit, 1000).status_code == 201  # 1200 + 1000 open
    r = create(client, visit, 801)  # 1200 + 1000 + 801 > 3000
    assert (r.status_code, r.json()["error"]) == (413, "visit_quota_exceeded")
    assert create(client, visit, 800).status_code == 201  # exactly 3000 is allowed
    assert run_in_app(client, client.app.state.ctx.storage.visit_bytes, visit.id) == 3000
    # Another visit has its own quota.
    assert create(client, other, 3000).status_code == 201


@pytest.mark.sqlite_only
def test_free_space_floor_refuses_new_uploads_and_patches(
    make_server_client: Any, server_settings: Any
) -> None:
    client = make_server_client()
    visit = VisitHandle(client.post("/api/visits", json={}).json())
    location = create(client, visit, 100).headers["location"]
    # A floor above what any disk has: everything that would write is refused, nothing written.
    client.app.state.ctx.settings = replace(server_settings, min_free_bytes=1 << 60)
    r = create(client, visit, 100)
    assert (r.status_code, r.json()["error"]) == (507, "insufficient_storage")
    r = client.patch(location, content=b"x" * 100, headers=visit.headers(
        **TUS, Upload_Offset="0", Content_Type="application/offset+octet-stream"))
    assert (r.status_code, r.json()["error"]) == (507, "insufficient_storage")
    assert (server_settings.data_dir / "uploads" / location.rsplit("/", 1)[1]).read_bytes() == b""


@pytest.mark.sqlite_only
def test_finalise_refused_below_free_space_floor(
    make_server_client: Any, server_settings: Any, tus_upload: Any
) -> None:
    client = make_server_client()
    visit = VisitHandle(client.post("/api/visits", json={}).json())
    location = tus_upload(visit, b"Notes\n" * 10, "a.txt", client=client)
    client.app.state.ctx.settings = replace(server_settings, min_free_bytes=1 << 60)
    r = client.post(visit.url("/attachments"), headers=visit.patient,
                    json={"upload_id": location.rsplit("/", 1)[1]})
    assert (r.status_code, r.json()["error"]) == (507, "insufficient_storage")
    # The upload stays: when space is back, the same finalisation succeeds.
    client.app.state.ctx.settings = server_settings
    r = client.post(visit.url("/attachments"), headers=visit.patient,
                    json={"upload_id": location.rsplit("/", 1)[1]})
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("attachments", [0, 3])
def test_zip_is_streamed_without_a_temporary_copy(
    server_client: Any, server_settings: Any, visit: VisitHandle, send_attachment: Any,
    attachments: int, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tempfile

    def no_temp_files(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the ZIP must not be copied to a temporary file")

    monkeypatch.setattr(tempfile, "TemporaryFile", no_temp_files)
    bodies = [f"Notes {i}\n".encode() * (100 + i) for i in range(attachments)]
    for i, body in enumerate(bodies):
        assert send_attachment(visit, body, f"n{i}.txt").status_code == 201
    r = server_client.get(visit.url("/attachments.zip"), headers=visit.clinician)
    assert r.status_code == 200
    assert int(r.headers["content-length"]) == len(r.content)
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        assert zf.testzip() is None
        assert [zf.read(n) for n in zf.namelist()] == bodies
