"""The storage contract (server.storage): the same cases on both backends, SqliteStorage (a
temporary data directory) and PgStorage (the session's throwaway PostgreSQL, tests/pg.py).

Each case talks to the storage directly, not through HTTP, one capability at a time: visits,
messages, uploads, attachments, filing marks. The HTTP tests marked `both_storages` cover the
handlers on top.
"""

from __future__ import annotations

import ast
import asyncio
import hashlib
import inspect
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from server.pg_storage import PgStorage
from server.sqlite_storage import SqliteStorage
from server.storage import (
    READ_CHUNK,
    AttachmentStorage,
    FilingStorage,
    MessageStorage,
    Storage,
    TooManyOpenUploads,
    Upload,
    UploadBusy,
    UploadStorage,
    VisitClosed,
    VisitQuotaExceeded,
    VisitStorage,
    hash_token,
)

SERVER = Path(__file__).resolve().parent.parent / "server"
CAPABILITIES = (VisitStorage, MessageStorage, UploadStorage, AttachmentStorage, FilingStorage)
BACKENDS = (SqliteStorage, PgStorage)
FAR_FUTURE = "9999-01-01T00:00:00.000Z"


@pytest.fixture(params=["sqlite", "pg"])
def run(request: pytest.FixtureRequest, tmp_path: Path
        ) -> Callable[[Callable[[Storage], Awaitable[Any]]], Any]:
    """run(case): a started storage of this backend, `await case(storage)`, stopped again.
    The storage is made inside the case's event loop (PgStorage's pools belong to one)."""
    if request.param == "pg":
        url = request.getfixturevalue("pg_database")

        def make() -> Storage:
            return PgStorage(url, pool_size=4, lock_pool_size=4)
    else:
        def make() -> Storage:
            return SqliteStorage(tmp_path / "data")

    def run_case(case: Callable[[Storage], Awaitable[Any]]) -> Any:
        async def started() -> Any:
            storage = make()
            await storage.start()
            try:
                return await case(storage)
            finally:
                await storage.stop()

        return asyncio.run(started())

    return run_case


async def _uploaded(storage: Storage, visit_id: str, data: bytes, role: str = "patient",
                    name: str = "a.pdf") -> Upload:
    """An upload holding all of `data`, its offset stored (as tus PATCH leaves it)."""
    upload = await storage.create_upload(visit_id, role, len(data), name, "", 3600)
    async with storage.lock_upload(upload.id):
        writer = await storage.open_upload_writer(upload)
        offset = await writer.finish(data, True, 0)
        await storage.set_upload_offset(upload.id, offset)
    found = await storage.get_upload(upload.id)
    assert found is not None
    return found


# the contract itself -----------------------------------------------------------------------
def _operations(capability: type) -> dict[str, Any]:
    return {name: value for name, value in vars(capability).items()
            if callable(value) and not name.startswith("_")}


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.__name__)
def test_every_backend_has_every_operation_of_every_capability(backend: type) -> None:
    for capability in (*CAPABILITIES, Storage):
        for name, declared in _operations(capability).items():
            implemented = getattr(backend, name, None)
            assert implemented is not None, f"{backend.__name__} lacks {name}"
            assert (inspect.iscoroutinefunction(implemented)
                    == inspect.iscoroutinefunction(declared)), f"{backend.__name__}.{name}"
            assert (list(inspect.signature(implemented).parameters)
                    == list(inspect.signature(declared).parameters)), f"{backend.__name__}.{name}"


def _imported(module: str) -> set[str]:
    tree = ast.parse((SERVER / f"{module}.py").read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_the_contract_imports_no_backend_and_the_backends_not_each_other() -> None:
    assert not _imported("storage") & {"server.sqlite_storage", "server.pg_storage"}
    assert "server.pg_storage" not in _imported("sqlite_storage")
    assert "server.sqlite_storage" not in _imported("pg_storage")


# visits ------------------------------------------------------------------------------------
def test_visits(run: Any) -> None:
    async def case(storage: Storage) -> None:
        new = await storage.create_visit("Pat", "Dr")
        assert await storage.get_visit(new.visit.id) == new.visit
        assert new.visit.state == "open" and new.visit.name_of("clinician") == "Dr"
        assert await storage.count_visits() == 1
        assert await storage.token_hash_exists(hash_token(new.patient_token))
        assert await storage.token_hash_exists(hash_token(new.clinician_token))
        assert not await storage.token_hash_exists(hash_token("guessed"))
        assert await storage.get_visit("no-such-visit") is None

        ended = await storage.end_visit(new.visit.id)
        assert ended is not None and ended.state == "ended"
        again = await storage.end_visit(new.visit.id)
        assert again is not None and again.ended_at == ended.ended_at  # the first end stands
        assert await storage.end_visit("no-such-visit") is None

    run(case)


def test_purge_deletes_the_bytes_of_an_expired_visit_and_keeps_the_chat(run: Any) -> None:
    async def case(storage: Storage) -> None:
        visit = (await storage.create_visit("Pat", "Dr")).visit
        kept = (await storage.create_visit("Pat", "Dr")).visit
        upload = await _uploaded(storage, visit.id, b"%PDF-1.4 sent")
        await storage.finalise_upload(upload, b"%PDF-1.4 sent", "application/pdf", "document")
        await _uploaded(storage, visit.id, b"unfinished")
        assert await storage.expired_visits(FAR_FUTURE) == []  # still open
        await storage.end_visit(visit.id)
        assert await storage.expired_visits(FAR_FUTURE) == [visit.id]
        assert await storage.expired_visits("2000-01-01T00:00:00.000Z") == []

        assert await storage.purge_visit_files(visit.id) == 2  # one attachment, one upload
        assert await storage.expired_visits(FAR_FUTURE) == []
        assert len(await storage.list_attachments(visit.id)) == 1
        assert len(await storage.messages_after(visit.id, 0, 10)) == 1
        assert await storage.count_open_uploads(visit.id) == 0
        assert await storage.get_visit(kept.id) == kept

    run(case)


# messages ----------------------------------------------------------------------------------
def test_messages_in_order_and_none_after_the_end(run: Any) -> None:
    async def case(storage: Storage) -> None:
        visit = (await storage.create_visit("Pat", "Dr")).visit
        first = await storage.add_text_message(visit.id, "patient", "Hej")
        second = await storage.add_text_message(visit.id, "clinician", "Hej själv")
        assert first < second
        rows = await storage.messages_after(visit.id, 0, 10)
        assert [(r["id"], r["sender_role"], r["kind"], r["text"], r["a_id"]) for r in rows] == [
            (first, "patient", "text", "Hej", None),
            (second, "clinician", "text", "Hej själv", None)]
        assert [r["id"] for r in await storage.messages_after(visit.id, 0, 1)] == [first]
        assert [r["id"] for r in await storage.messages_after(visit.id, first, 10)] == [second]
        assert (await storage.message(visit.id, second))["text"] == "Hej själv"

        other = (await storage.create_visit("Pat", "Dr")).visit
        assert await storage.messages_after(other.id, 0, 10) == []

        await storage.end_visit(visit.id)
        with pytest.raises(VisitClosed):
            await storage.add_text_message(visit.id, "patient", "too late")
        with pytest.raises(VisitClosed):
            await storage.add_text_message("no-such-visit", "patient", "nobody")

    run(case)


# uploads -----------------------------------------------------------------------------------
def test_upload_bytes_count_up_to_the_stored_offset(run: Any) -> None:
    async def case(storage: Storage) -> None:
        visit = (await storage.create_visit("Pat", "Dr")).visit
        upload = await storage.create_upload(visit.id, "patient", 10, "a.txt", "text/plain",
                                             3600)
        assert await storage.get_upload(upload.id) == upload and upload.offset == 0
        writer = await storage.open_upload_writer(upload)
        await writer.write(b"hello")
        await writer.sync()
        assert await writer.finish(b"wor", True, 0) == 8
        await storage.set_upload_offset(upload.id, 8)

        # A request that wrote bytes but never stored their offset: they do not count.
        stored = await storage.get_upload(upload.id)
        assert stored is not None and stored.offset == 8
        writer = await storage.open_upload_writer(stored)
        await writer.write(b"XY")
        await writer.abort()

        # A write rolled back (keep=False) ends where it started.
        writer = await storage.open_upload_writer(stored)
        await writer.write(b"zz")
        assert await writer.finish(b"", False, 8) == 8
        writer = await storage.open_upload_writer(stored)
        assert await writer.finish(b"ld", True, 8) == 10
        await storage.set_upload_offset(upload.id, 10)
        done = await storage.get_upload(upload.id)
        assert done is not None and await storage.read_upload(done) == b"helloworld"

        await storage.delete_upload(upload.id)
        assert await storage.get_upload(upload.id) is None

    run(case)


def test_upload_cap_and_quota_count_each_role_apart(run: Any) -> None:
    async def case(storage: Storage) -> None:
        visit = (await storage.create_visit("Pat", "Dr")).visit
        limits = {"max_open": 2, "max_visit_bytes": 1000}
        for _ in range(2):
            await storage.create_upload(visit.id, "patient", 100, "a.pdf", "", 3600, **limits)
        with pytest.raises(TooManyOpenUploads):
            await storage.create_upload(visit.id, "patient", 100, "a.pdf", "", 3600, **limits)
        # The other side's reservations never block this one.
        await storage.create_upload(visit.id, "clinician", 800, "b.pdf", "", 3600, **limits)
        with pytest.raises(VisitQuotaExceeded):
            await storage.create_upload(visit.id, "clinician", 201, "b.pdf", "", 3600,
                                        **limits)
        assert await storage.count_open_uploads(visit.id) == 3
        assert await storage.visit_bytes(visit.id) == 1000
        free = await storage.free_bytes()
        assert free is None or free > 0

        expired = await storage.create_upload(visit.id, "clinician", 5, "c.pdf", "", -1)
        assert await storage.delete_expired_uploads() == 1
        assert await storage.get_upload(expired.id) is None
        assert await storage.delete_expired_uploads(now=1e12) == 3
        assert await storage.count_open_uploads(visit.id) == 0

    run(case)


def test_one_writer_per_upload(run: Any) -> None:
    async def case(storage: Storage) -> None:
        visit = (await storage.create_visit("Pat", "Dr")).visit
        upload = await storage.create_upload(visit.id, "patient", 10, "a.pdf", "", 3600)
        other = await storage.create_upload(visit.id, "patient", 10, "b.pdf", "", 3600)
        async with storage.lock_upload(upload.id):
            with pytest.raises(UploadBusy):
                async with storage.lock_upload(upload.id):
                    pass
            async with storage.lock_upload(other.id):
                pass
        async with storage.lock_upload(upload.id):  # released
            pass

    run(case)


# attachments -------------------------------------------------------------------------------
def test_finalised_attachment_and_its_bytes(run: Any) -> None:
    data = os.urandom(2 * READ_CHUNK + 12345)

    async def case(storage: Storage) -> None:
        visit = (await storage.create_visit("Pat", "Dr")).visit
        upload = await _uploaded(storage, visit.id, data, name="upload.bin")
        message_id = await storage.finalise_upload(upload, data, "application/pdf", "document",
                                                   display_name="remiss.pdf")
        row = await storage.message(visit.id, message_id)
        assert (row["kind"], row["sender_role"], row["a_name"], row["a_size"], row["a_mime"],
                row["a_category"]) == ("attachment", "patient", "remiss.pdf", len(data),
                                       "application/pdf", "document")
        assert await storage.get_upload(upload.id) is None
        assert await storage.finalised_message(visit.id, "patient", upload.id) == message_id
        assert await storage.finalised_message(visit.id, "clinician", upload.id) is None
        assert await storage.finalised_message(visit.id, "patient", "never") is None

        attachment = await storage.get_attachment(visit.id, row["a_id"])
        assert attachment is not None
        assert (attachment.size, attachment.sha256, attachment.display_name) == (
            len(data), hashlib.sha256(data).hexdigest(), "remiss.pdf")
        other = (await storage.create_visit("Pat", "Dr")).visit
        assert await storage.get_attachment(other.id, row["a_id"]) is None

        name = attachment.stored_name
        assert b"".join([c async for c in storage.attachment_chunks(name)]) == data
        for start, end in [(0, 1), (READ_CHUNK - 5, READ_CHUNK + 5), (7, None),
                           (len(data) - 3, len(data))]:
            got = b"".join([c async for c in storage.attachment_chunks(name, start, end)])
            assert got == data[start:end], (start, end)
        path = storage.attachment_file(name)
        assert path is None or path.read_bytes() == data

        unnamed = await _uploaded(storage, visit.id, b"%PDF-1.4", name="kallad.pdf")
        unnamed_id = await storage.finalise_upload(unnamed, b"%PDF-1.4", "application/pdf",
                                                   "document")
        assert (await storage.message(visit.id, unnamed_id))["a_name"] == "kallad.pdf"

        late = await _uploaded(storage, visit.id, b"%PDF-1.4 late")
        await storage.end_visit(visit.id)
        with pytest.raises(VisitClosed):
            await storage.finalise_upload(late, b"%PDF-1.4 late", "application/pdf",
                                          "document")
        assert len(await storage.list_attachments(visit.id)) == 2  # nothing half-done

    run(case)


# filing marks ------------------------------------------------------------------------------
def test_filing_marks(run: Any) -> None:
    async def case(storage: Storage) -> None:
        visit = (await storage.create_visit("Pat", "Dr")).visit
        other = (await storage.create_visit("Pat", "Dr")).visit
        ids = []
        for name in ("a.pdf", "b.pdf"):
            upload = await _uploaded(storage, visit.id, b"%PDF-1.4", name=name)
            message_id = await storage.finalise_upload(upload, b"%PDF-1.4",
                                                       "application/pdf", "document")
            ids.append((await storage.message(visit.id, message_id))["a_id"])
        listed = await storage.list_attachments(visit.id)
        assert [(r["id"], r["name"], r["mark"], r["marked_at"]) for r in listed] == [
            (ids[0], "a.pdf", None, None), (ids[1], "b.pdf", None, None)]

        saved = await storage.set_mark(visit.id, ids[0], "saved")
        assert saved is not None and saved["mark"] == "saved" and saved["marked_at"]
        again = await storage.set_mark(visit.id, ids[0], "saved")
        assert again is not None and again["marked_at"] == saved["marked_at"]  # idempotent
        changed = await storage.set_mark(visit.id, ids[0], "not_relevant")
        assert changed is not None and changed["mark"] == "not_relevant"
        cleared = await storage.set_mark(visit.id, ids[0], None)
        assert cleared is not None and (cleared["mark"], cleared["marked_at"]) == (None, None)

        assert await storage.set_mark(visit.id, "no-such-attachment", "saved") is None
        assert await storage.set_mark(other.id, ids[1], "saved") is None
        with pytest.raises(ValueError):
            await storage.set_mark(visit.id, ids[1], "deleted")
        assert [r["mark"] for r in await storage.list_attachments(visit.id)] == [None, None]

    run(case)
