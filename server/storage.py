"""The one storage interface the handlers use, and its embedded implementation.

`Storage` is async: a handler awaits either implementation the same way.

* `SqliteStorage` (the default): server.store.Store, SQLite plus files under DATA_DIR, its
  blocking calls run in the thread pool. Behaviour is the Store's, unchanged.
* `server.pg_store.PgStorage` (when DATABASE_URL is set): everything in PostgreSQL, so any
  number of nodes can serve the same visits.

Besides rows, a storage owns the bytes (partial uploads, attachments), the per-upload writer
lock and, for PostgreSQL, the cross-node live events (see `start`).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, TypeVar

from starlette.concurrency import run_in_threadpool

from server.store import Attachment, NewVisit, Store, Upload, Visit

if TYPE_CHECKING:
    from server.config import Settings
    from server.live import VisitNotifier

T = TypeVar("T")
# Attachment bytes are handed out in pieces of this size (downloads, the ZIP).
READ_CHUNK = 1024 * 1024


class UploadBusy(Exception):
    """Another request (on this node or another) is writing this upload."""


class UploadWriter(Protocol):
    """Appends a tus PATCH body to a partial upload. Bytes past the upload's stored offset
    are not counted: the stored offset is the truth, `set_upload_offset` moves it."""

    async def write(self, data: bytes) -> None: ...

    async def sync(self) -> None:
        """Make the bytes written so far durable (before their offset is stored)."""

    async def finish(self, tail: bytes, keep: bool, start: int) -> int:
        """Write `tail` (or with keep=False roll back to `start`), make it durable, close;
        return the new offset."""

    async def abort(self) -> None:
        """Close without writing more (the stored offset still tells what counts)."""


class Storage(Protocol):
    # Where this node may put temp files of its own (the ZIP); None: the system's temp folder.
    scratch_dir: Path | None

    async def start(self, notifier: VisitNotifier | None = None) -> None:
        """Open connections; with a notifier, wake its long polls on other nodes' events."""

    async def stop(self) -> None: ...

    # visits
    async def create_visit(self, patient_name: str, clinician_name: str) -> NewVisit: ...
    async def count_visits(self) -> int: ...
    async def get_visit(self, visit_id: str) -> Visit | None: ...
    async def token_hash_exists(self, token_hash: str) -> bool: ...
    async def end_visit(self, visit_id: str) -> Visit | None: ...
    async def expired_visits(self, ended_before: str) -> list[str]: ...
    async def purge_visit_files(self, visit_id: str) -> int:
        """Delete the bytes of the visit's attachments and uploads, record the purge; returns
        how many files (attachments and uploads) lost their bytes."""

    # messages (every committed write also wakes the visit's long polls on all nodes)
    async def add_text_message(self, visit_id: str, role: str, text: str) -> int: ...
    async def messages_after(self, visit_id: str, after: int, limit: int
                             ) -> list[dict[str, Any]]: ...
    async def message(self, visit_id: str, message_id: int) -> dict[str, Any]: ...

    # uploads
    async def create_upload(self, visit_id: str, role: str, length: int, filename: str,
                            filetype: str, ttl: int, max_open: int | None = None,
                            max_visit_bytes: int | None = None) -> Upload:
        """Reserve an upload; TooManyOpenUploads / VisitQuotaExceeded (server.store), both
        checked in the insert's transaction so that concurrent creations cannot slip past."""
    async def count_open_uploads(self, visit_id: str) -> int: ...
    async def visit_bytes(self, visit_id: str) -> int: ...
    async def free_bytes(self) -> int | None:
        """Free bytes where this node writes data (the free-space floor), or None when the
        node writes none (PostgreSQL: its disk is the database's)."""
    async def get_upload(self, upload_id: str) -> Upload | None: ...
    async def set_upload_offset(self, upload_id: str, offset: int) -> None: ...
    async def delete_upload(self, upload_id: str) -> None: ...
    async def delete_expired_uploads(self, now: float | None = None) -> int: ...
    async def open_upload_writer(self, upload: Upload) -> UploadWriter: ...
    async def read_upload(self, upload: Upload) -> bytes: ...

    def lock_upload(self, upload_id: str) -> Any:
        """Async context manager: one writer per upload across all nodes (UploadBusy)."""

    # attachments
    async def finalise_upload(self, upload: Upload, data: bytes, mime: str, category: str,
                              display_name: str | None = None) -> int: ...
    async def finalised_message(self, visit_id: str, role: str, upload_id: str
                                ) -> int | None: ...
    async def get_attachment(self, visit_id: str, attachment_id: str) -> Attachment | None: ...

    def attachment_file(self, stored_name: str) -> Path | None:
        """A local file holding the bytes (served with sendfile and ranges), or None."""

    def attachment_chunks(self, stored_name: str, start: int = 0, end: int | None = None
                          ) -> AsyncIterator[bytes]:
        """The bytes from `start` to `end` (exclusive; None: to the end), in pieces."""

    # filing
    async def list_attachments(self, visit_id: str) -> list[dict[str, Any]]: ...
    async def set_mark(self, visit_id: str, attachment_id: str, mark: str | None
                       ) -> dict[str, Any] | None: ...


def open_storage(settings: Settings) -> Storage:
    """PostgreSQL when settings.database_url is set, else SQLite plus files in data_dir."""
    if settings.database_url:
        from server.pg_store import PgStorage  # psycopg only where it is used

        return PgStorage(settings.database_url, pool_size=settings.db_pool_size,
                         lock_pool_size=settings.max_upload_writers)
    return SqliteStorage(Store(settings.data_dir))


async def _t(fn: Callable[..., T], *args: Any) -> T:
    return await run_in_threadpool(fn, *args)


class _FileWriter:
    """A partial upload file, truncated to the stored offset on open (bytes past it are from a
    request whose offset was never stored)."""

    def __init__(self, f: BinaryIO) -> None:
        self.f = f

    @classmethod
    def open_at(cls, path: Path, offset: int) -> _FileWriter:
        f = open(path, "r+b")  # closed by finish() or abort()
        f.truncate(offset)
        f.seek(offset)
        return cls(f)

    async def write(self, data: bytes) -> None:
        await _t(self.f.write, data)

    def _sync(self) -> None:
        self.f.flush()
        os.fsync(self.f.fileno())

    async def sync(self) -> None:
        await _t(self._sync)

    def _finish(self, tail: bytes, keep: bool, start: int) -> int:
        try:
            if keep:
                self.f.write(tail)
            else:
                self.f.truncate(start)
            self._sync()
            return self.f.tell() if keep else start
        finally:
            self.f.close()

    async def finish(self, tail: bytes, keep: bool, start: int) -> int:
        return await _t(self._finish, tail, keep, start)

    async def abort(self) -> None:
        self.f.close()


class SqliteStorage:
    """server.store.Store behind the async interface; locks are per process (one node)."""

    def __init__(self, store: Store) -> None:
        self.sync = store
        self.scratch_dir: Path | None = store.data_dir
        self._busy: set[str] = set()
        self._busy_lock = threading.Lock()

    async def start(self, notifier: VisitNotifier | None = None) -> None:
        pass  # one node: the handlers wake its long polls directly

    async def stop(self) -> None:
        pass  # the SQLite connection lives as long as the app (tests reopen it)

    async def create_visit(self, patient_name: str, clinician_name: str) -> NewVisit:
        return await _t(self.sync.create_visit, patient_name, clinician_name)

    async def count_visits(self) -> int:
        return await _t(self.sync.count_visits)

    async def get_visit(self, visit_id: str) -> Visit | None:
        return await _t(self.sync.get_visit, visit_id)

    async def token_hash_exists(self, token_hash: str) -> bool:
        return await _t(self.sync.token_hash_exists, token_hash)

    async def end_visit(self, visit_id: str) -> Visit | None:
        return await _t(self.sync.end_visit, visit_id)

    async def expired_visits(self, ended_before: str) -> list[str]:
        return await _t(self.sync.expired_visits, ended_before)

    async def purge_visit_files(self, visit_id: str) -> int:
        return await _t(self.sync.purge_visit_files, visit_id)

    async def add_text_message(self, visit_id: str, role: str, text: str) -> int:
        return await _t(self.sync.add_text_message, visit_id, role, text)

    async def messages_after(self, visit_id: str, after: int, limit: int
                             ) -> list[dict[str, Any]]:
        return await _t(self.sync.messages_after, visit_id, after, limit)

    async def message(self, visit_id: str, message_id: int) -> dict[str, Any]:
        return await _t(self.sync.message, visit_id, message_id)

    async def create_upload(self, visit_id: str, role: str, length: int, filename: str,
                            filetype: str, ttl: int, max_open: int | None = None,
                            max_visit_bytes: int | None = None) -> Upload:
        return await _t(self.sync.create_upload, visit_id, role, length, filename, filetype,
                        ttl, max_open, max_visit_bytes)

    async def visit_bytes(self, visit_id: str) -> int:
        return await _t(self.sync.visit_bytes, visit_id)

    async def free_bytes(self) -> int | None:
        usage = await _t(shutil.disk_usage, self.sync.data_dir)
        return int(usage.free)

    async def count_open_uploads(self, visit_id: str) -> int:
        return await _t(self.sync.count_open_uploads, visit_id)

    async def get_upload(self, upload_id: str) -> Upload | None:
        return await _t(self.sync.get_upload, upload_id)

    async def set_upload_offset(self, upload_id: str, offset: int) -> None:
        await _t(self.sync.set_upload_offset, upload_id, offset)

    async def delete_upload(self, upload_id: str) -> None:
        await _t(self.sync.delete_upload, upload_id)

    async def delete_expired_uploads(self, now: float | None = None) -> int:
        return await _t(self.sync.delete_expired_uploads, now)

    async def open_upload_writer(self, upload: Upload) -> UploadWriter:
        return await _t(_FileWriter.open_at, self.sync.upload_path(upload.id), upload.offset)

    async def read_upload(self, upload: Upload) -> bytes:
        return await _t(self.sync.upload_path(upload.id).read_bytes)

    @asynccontextmanager
    async def lock_upload(self, upload_id: str) -> AsyncIterator[None]:
        with self._busy_lock:
            if upload_id in self._busy:
                raise UploadBusy(upload_id)
            self._busy.add(upload_id)
        try:
            yield
        finally:
            with self._busy_lock:
                self._busy.discard(upload_id)

    async def finalise_upload(self, upload: Upload, data: bytes, mime: str, category: str,
                              display_name: str | None = None) -> int:
        return await _t(self.sync.finalise_upload, upload, data, mime, category, display_name)

    async def finalised_message(self, visit_id: str, role: str, upload_id: str) -> int | None:
        return await _t(self.sync.finalised_message, visit_id, role, upload_id)

    async def get_attachment(self, visit_id: str, attachment_id: str) -> Attachment | None:
        return await _t(self.sync.get_attachment, visit_id, attachment_id)

    def attachment_file(self, stored_name: str) -> Path | None:
        return self.sync.attachment_path(stored_name)

    async def attachment_chunks(self, stored_name: str, start: int = 0, end: int | None = None
                                ) -> AsyncIterator[bytes]:
        f = await _t(open, self.sync.attachment_path(stored_name), "rb")
        try:
            f.seek(start)
            left = None if end is None else end - start
            while left is None or left > 0:
                chunk = await _t(f.read, READ_CHUNK if left is None else min(READ_CHUNK, left))
                if not chunk:
                    return
                if left is not None:
                    left -= len(chunk)
                yield chunk
        finally:
            f.close()

    async def list_attachments(self, visit_id: str) -> list[dict[str, Any]]:
        return await _t(self.sync.list_attachments, visit_id)

    async def set_mark(self, visit_id: str, attachment_id: str, mark: str | None
                       ) -> dict[str, Any] | None:
        return await _t(self.sync.set_mark, visit_id, attachment_id, mark)
