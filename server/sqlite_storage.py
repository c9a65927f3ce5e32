"""SqliteStorage: the storage contract (server.storage) in SQLite plus files under DATA_DIR.

The default backend, for one node. One connection guarded by a lock: SQLite serialises
writers anyway, the app's load is tiny, and a single connection keeps transactions obvious.
Each operation is written once, as a blocking method; `in_thread` makes it the async method
of the contract by running it in the thread pool. Locks on uploads are per process.
"""

from __future__ import annotations

import functools
import hashlib
import os
import secrets
import shutil
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Concatenate, ParamSpec, TypeVar

from starlette.concurrency import run_in_threadpool

from server.storage import (
    MARKS,
    READ_CHUNK,
    Attachment,
    NewVisit,
    TooManyOpenUploads,
    Upload,
    UploadBusy,
    UploadWriter,
    Visit,
    VisitClosed,
    VisitQuotaExceeded,
    now_iso,
)

if TYPE_CHECKING:
    from server.live import VisitNotifier

S = TypeVar("S")
P = ParamSpec("P")
T = TypeVar("T")


def in_thread(method: Callable[Concatenate[S, P], T]
              ) -> Callable[Concatenate[S, P], Coroutine[Any, Any, T]]:
    """The async form of a blocking method: awaiting it runs the method in the thread pool,
    off the event loop."""

    @functools.wraps(method)
    async def run(self: S, *args: P.args, **kwargs: P.kwargs) -> T:
        return await run_in_threadpool(method, self, *args, **kwargs)

    return run


SCHEMA = """
CREATE TABLE IF NOT EXISTS visits (
    id TEXT PRIMARY KEY,
    patient_token_hash TEXT NOT NULL UNIQUE,
    clinician_token_hash TEXT NOT NULL UNIQUE,
    patient_name TEXT NOT NULL,
    clinician_name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    ended_at TEXT
);
CREATE TABLE IF NOT EXISTS attachments (
    id TEXT PRIMARY KEY,
    visit_id TEXT NOT NULL REFERENCES visits(id),
    display_name TEXT NOT NULL,
    stored_name TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    mime TEXT NOT NULL,
    category TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    sender_role TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    visit_id TEXT NOT NULL REFERENCES visits(id),
    sender_role TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    kind TEXT NOT NULL,
    text TEXT,
    attachment_id TEXT REFERENCES attachments(id)
);
CREATE INDEX IF NOT EXISTS messages_visit ON messages(visit_id, id);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    visit_id TEXT NOT NULL REFERENCES visits(id),
    role TEXT NOT NULL,
    length INTEGER NOT NULL,
    "offset" INTEGER NOT NULL DEFAULT 0,
    filename TEXT NOT NULL,
    filetype TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS uploads_visit ON uploads(visit_id);
-- Filing marks (the clinician saved an attachment into the record system, or found it not
-- relevant). A table of its own, so databases made before marks existed just gain it here.
CREATE TABLE IF NOT EXISTS attachment_marks (
    attachment_id TEXT PRIMARY KEY REFERENCES attachments(id),
    mark TEXT NOT NULL CHECK (mark IN ('saved', 'not_relevant')),
    marked_at TEXT NOT NULL
);
-- Which upload each attachment came from, so that a finalisation repeated after its answer was
-- lost (a crash after the commit, a dropped connection) finds the message it already made.
-- Its own table for the same reason as the marks: older databases just gain it.
CREATE TABLE IF NOT EXISTS attachment_uploads (
    upload_id TEXT PRIMARY KEY,
    attachment_id TEXT NOT NULL UNIQUE REFERENCES attachments(id)
);
-- Visits whose links expired and whose files were deleted (see purge_visit_files). Its own
-- table, like the marks: older databases just gain it.
CREATE TABLE IF NOT EXISTS visit_purges (
    visit_id TEXT PRIMARY KEY REFERENCES visits(id),
    purged_at TEXT NOT NULL,
    files INTEGER NOT NULL
);
"""

# One attachment in chat order, with its message and filing mark (see list_attachments).
_ATTACHMENT_ROWS = (
    "SELECT a.id, a.display_name AS name, a.stored_name, a.size, a.mime, a.category, "
    "m.sender_role, m.sent_at, k.mark, k.marked_at FROM messages m "
    "JOIN attachments a ON a.id = m.attachment_id "
    "LEFT JOIN attachment_marks k ON k.attachment_id = a.id "
    "WHERE m.visit_id = ? "
)


def fsync_dir(path: Path) -> None:
    # Makes a rename/creation inside `path` durable (POSIX); a no-op where dirs can't be opened.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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
        await run_in_threadpool(self.f.write, data)

    def _sync(self) -> None:
        self.f.flush()
        os.fsync(self.f.fileno())

    sync = in_thread(_sync)

    @in_thread
    def finish(self, tail: bytes, keep: bool, start: int) -> int:
        try:
            if keep:
                self.f.write(tail)
            else:
                self.f.truncate(start)
            self._sync()
            return self.f.tell() if keep else start
        finally:
            self.f.close()

    async def abort(self) -> None:
        self.f.close()


class SqliteStorage:
    """One node's storage: rows in DATA_DIR/bifoga.sqlite3, bytes in files beside it."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.scratch_dir: Path | None = data_dir
        self.attachments_dir = data_dir / "attachments"
        self.uploads_dir = data_dir / "uploads"
        for d in (data_dir, self.attachments_dir, self.uploads_dir):
            d.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        # Files being written before their row exists (upload ids, stored names): the orphan
        # sweep leaves them alone. Changed and read under _lock.
        self._in_flight: set[str] = set()
        # Uploads being written by a request of this process (lock_upload).
        self._busy: set[str] = set()
        self._busy_lock = threading.Lock()
        self._conn = sqlite3.connect(
            data_dir / "bifoga.sqlite3", check_same_thread=False, isolation_level=None
        )
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a message the server answered 201 for must survive a power cut.
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute("PRAGMA busy_timeout=5000")
        self._conn.executescript(SCHEMA)

    async def start(self, notifier: VisitNotifier | None = None) -> None:
        pass  # one node: the handlers wake its long polls directly

    async def stop(self) -> None:
        pass  # the SQLite connection lives as long as the app (tests reopen it)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _one(self, sql: str, args: tuple[Any, ...]) -> sqlite3.Row | None:
        with self._lock:
            return self._conn.execute(sql, args).fetchone()

    # visits -------------------------------------------------------------------------------
    @in_thread
    def create_visit(self, patient_name: str, clinician_name: str) -> NewVisit:
        new = NewVisit.make(patient_name, clinician_name)
        visit = new.visit
        with self._tx() as c:
            c.execute(
                "INSERT INTO visits VALUES (?, ?, ?, ?, ?, ?, ?)",
                (visit.id, visit.patient_token_hash, visit.clinician_token_hash,
                 visit.patient_name, visit.clinician_name, visit.created_at, None),
            )
        return new

    @in_thread
    def count_visits(self) -> int:
        row = self._one("SELECT COUNT(*) FROM visits", ())
        return int(row[0]) if row else 0

    def _get_visit(self, visit_id: str) -> Visit | None:
        row = self._one("SELECT * FROM visits WHERE id = ?", (visit_id,))
        return Visit(**dict(row)) if row else None

    get_visit = in_thread(_get_visit)

    @in_thread
    def token_hash_exists(self, token_hash: str) -> bool:
        row = self._one(
            "SELECT 1 FROM visits WHERE patient_token_hash = ? OR clinician_token_hash = ?",
            (token_hash, token_hash),
        )
        return row is not None

    @staticmethod
    def _require_open(c: sqlite3.Connection, visit_id: str) -> None:
        # Checked inside the write transaction: a message can never land after the end, even
        # when the visit ends while the request is being handled.
        row = c.execute("SELECT ended_at FROM visits WHERE id = ?", (visit_id,)).fetchone()
        if row is None or row[0] is not None:
            raise VisitClosed(visit_id)

    @in_thread
    def end_visit(self, visit_id: str) -> Visit | None:
        with self._tx() as c:
            c.execute(
                "UPDATE visits SET ended_at = ? WHERE id = ? AND ended_at IS NULL",
                (now_iso(), visit_id),
            )
        return self._get_visit(visit_id)

    # link expiry ---------------------------------------------------------------------------
    @in_thread
    def expired_visits(self, ended_before: str) -> list[str]:
        """Ids of visits that ended before `ended_before` (ISO, as now_iso writes it) and whose
        files have not been purged yet."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id FROM visits WHERE ended_at IS NOT NULL AND ended_at < ? "
                "AND id NOT IN (SELECT visit_id FROM visit_purges)", (ended_before,)).fetchall()
        return [r[0] for r in rows]

    @in_thread
    def purge_visit_files(self, visit_id: str) -> int:
        """Delete every file of the visit (attachments and unfinished uploads) and record the
        purge; returns how many files were deleted. The rows of messages and attachments stay
        (the chat's history), their bytes are gone. Files go first: a crash halfway leaves the
        visit unpurged, and the next sweep finishes the job."""
        with self._lock:
            stored = [r[0] for r in self._conn.execute(
                "SELECT stored_name FROM attachments WHERE visit_id = ?", (visit_id,))]
            uploads = [r[0] for r in self._conn.execute(
                "SELECT id FROM uploads WHERE visit_id = ?", (visit_id,))]
        deleted = 0
        for path in [*map(self.attachment_path, stored), *map(self.upload_path, uploads)]:
            if path.exists():
                path.unlink(missing_ok=True)
                deleted += 1
        with self._tx() as c:
            c.execute("DELETE FROM uploads WHERE visit_id = ?", (visit_id,))
            c.execute("INSERT OR IGNORE INTO visit_purges VALUES (?, ?, ?)",
                      (visit_id, now_iso(), deleted))
        return deleted

    # messages -----------------------------------------------------------------------------
    @in_thread
    def add_text_message(self, visit_id: str, role: str, text: str) -> int:
        with self._tx() as c:
            self._require_open(c, visit_id)
            cur = c.execute(
                "INSERT INTO messages (visit_id, sender_role, sent_at, kind, text) "
                "VALUES (?, ?, ?, 'text', ?)",
                (visit_id, role, now_iso(), text),
            )
            return int(cur.lastrowid or 0)

    def _messages_after(self, visit_id: str, after: int, limit: int) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT m.id, m.sender_role, m.sent_at, m.kind, m.text, a.id AS a_id, "
                "a.display_name AS a_name, a.size AS a_size, a.mime AS a_mime, "
                "a.category AS a_category FROM messages m "
                "LEFT JOIN attachments a ON a.id = m.attachment_id "
                "WHERE m.visit_id = ? AND m.id > ? ORDER BY m.id LIMIT ?",
                (visit_id, after, limit),
            ).fetchall()
        return [dict(r) for r in rows]

    messages_after = in_thread(_messages_after)

    @in_thread
    def message(self, visit_id: str, message_id: int) -> dict[str, Any]:
        rows = self._messages_after(visit_id, message_id - 1, 1)
        return rows[0]

    # uploads ------------------------------------------------------------------------------
    def upload_path(self, upload_id: str) -> Path:
        return self.uploads_dir / upload_id

    @in_thread
    def create_upload(
        self, visit_id: str, role: str, length: int, filename: str, filetype: str, ttl: int,
        max_open: int | None = None, max_visit_bytes: int | None = None,
    ) -> Upload:
        """Reserve an upload of `length` bytes.

        Raises TooManyOpenUploads when `role` already has `max_open` unfinished uploads in the
        visit, and VisitQuotaExceeded when the visit's attachments plus the declared lengths of
        `role`'s open uploads plus `length` would pass `max_visit_bytes` (None: no limit). Both
        count the role's own open uploads only, so that one side's reservations never block
        the other's. Both are checked inside the insert's write transaction, so they hold under
        concurrent creations (BEGIN IMMEDIATE serialises writers)."""
        now = time.time()
        up = Upload(secrets.token_urlsafe(16), visit_id, role, length, 0, filename, filetype,
                    now, now + ttl)
        # The empty file exists before the row, so a row never points at a missing file.
        with self._file_in_flight(up.id):
            with open(self.upload_path(up.id), "xb") as f:
                os.fsync(f.fileno())
            try:
                with self._tx() as c:
                    if (max_open is not None
                            and self._open_uploads(c, visit_id, now, role) >= max_open):
                        raise TooManyOpenUploads(visit_id)
                    if (max_visit_bytes is not None and self._visit_bytes(c, visit_id, now, role)
                            + length > max_visit_bytes):
                        raise VisitQuotaExceeded(visit_id)
                    c.execute(
                        "INSERT INTO uploads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (up.id, visit_id, role, length, 0, filename, filetype, now,
                         up.expires_at),
                    )
            except BaseException:
                self.upload_path(up.id).unlink(missing_ok=True)
                raise
        return up

    @staticmethod
    def _open_uploads(c: sqlite3.Connection, visit_id: str, now: float,
                      role: str | None = None) -> int:
        """The visit's unexpired uploads (only `role`'s when given)."""
        row = c.execute(
            "SELECT COUNT(*) FROM uploads WHERE visit_id = ? AND expires_at > ? "
            "AND (? IS NULL OR role = ?)", (visit_id, now, role, role)).fetchone()
        return int(row[0]) if row else 0

    @staticmethod
    def _visit_bytes(c: sqlite3.Connection, visit_id: str, now: float,
                     role: str | None = None) -> int:
        """The visit's attachments plus its open uploads' declared lengths (only `role`'s
        uploads when given)."""
        row = c.execute(
            "SELECT (SELECT COALESCE(SUM(size), 0) FROM attachments WHERE visit_id = ?) + "
            "(SELECT COALESCE(SUM(length), 0) FROM uploads WHERE visit_id = ? AND expires_at > ? "
            "AND (? IS NULL OR role = ?))",
            (visit_id, visit_id, now, role, role)).fetchone()
        return int(row[0]) if row else 0

    @in_thread
    def visit_bytes(self, visit_id: str) -> int:
        """What the visit holds against its quota: the sizes of its attachments plus the
        declared lengths of its unfinished (unexpired) uploads."""
        with self._lock:
            return self._visit_bytes(self._conn, visit_id, time.time())

    @contextmanager
    def _file_in_flight(self, name: str) -> Iterator[None]:
        with self._lock:
            self._in_flight.add(name)
        try:
            yield
        finally:
            with self._lock:
                self._in_flight.discard(name)

    @in_thread
    def count_open_uploads(self, visit_id: str) -> int:
        with self._lock:
            return self._open_uploads(self._conn, visit_id, time.time())

    @in_thread
    def get_upload(self, upload_id: str) -> Upload | None:
        row = self._one("SELECT * FROM uploads WHERE id = ?", (upload_id,))
        return Upload(**dict(row)) if row else None

    @in_thread
    def set_upload_offset(self, upload_id: str, offset: int) -> None:
        with self._tx() as c:
            c.execute('UPDATE uploads SET "offset" = ? WHERE id = ?', (offset, upload_id))

    def _delete_upload(self, upload_id: str) -> None:
        with self._tx() as c:
            c.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))
        self.upload_path(upload_id).unlink(missing_ok=True)

    delete_upload = in_thread(_delete_upload)

    @in_thread
    def delete_expired_uploads(self, now: float | None = None) -> int:
        """Drop expired uploads, and files without a row (left by a crash): partial uploads,
        temp files of a finalisation, attachments whose transaction never committed."""
        now = time.time() if now is None else now
        with self._lock:
            expired = [r[0] for r in self._conn.execute(
                "SELECT id FROM uploads WHERE expires_at <= ?", (now,))]
            for upload_id in expired:
                self._delete_upload(upload_id)
            known = {r[0] for r in self._conn.execute("SELECT id FROM uploads")}
            known_stored = {r[0] for r in self._conn.execute("SELECT stored_name FROM attachments")}
            # Still under the lock: a file being written is in _in_flight until its row exists.
            for p in self.uploads_dir.iterdir():
                if p.name not in known and p.name not in self._in_flight:
                    p.unlink(missing_ok=True)
            for p in self.attachments_dir.iterdir():
                name = p.name.removeprefix(".tmp-")
                if name in self._in_flight:
                    continue
                if p.name.startswith(".tmp-") or name not in known_stored:
                    p.unlink(missing_ok=True)
        return len(expired)

    @in_thread
    def free_bytes(self) -> int | None:
        return int(shutil.disk_usage(self.data_dir).free)

    @in_thread
    def open_upload_writer(self, upload: Upload) -> UploadWriter:
        return _FileWriter.open_at(self.upload_path(upload.id), upload.offset)

    @in_thread
    def read_upload(self, upload: Upload) -> bytes:
        return self.upload_path(upload.id).read_bytes()

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

    # attachments --------------------------------------------------------------------------
    def attachment_path(self, stored_name: str) -> Path:
        return self.attachments_dir / stored_name

    @in_thread
    def finalise_upload(
        self, upload: Upload, data: bytes, mime: str, category: str,
        display_name: str | None = None,
    ) -> int:
        """Store `data` as an attachment and post its message, atomically. Returns message id.

        `display_name` (default: the upload's filename) is the name stored for the attachment.

        The bytes are written under a temp name, fsynced and renamed into place before the DB
        rows exist, so a row never points at a missing or half-written file. A crash before the
        commit leaves a file without a row, which the next sweep (at startup) deletes.
        """
        stored_name = secrets.token_urlsafe(24)
        with self._file_in_flight(stored_name):
            return self._finalise(upload, data, mime, category, stored_name,
                                  display_name or upload.filename)

    def _finalise(
        self, upload: Upload, data: bytes, mime: str, category: str, stored_name: str,
        display_name: str,
    ) -> int:
        final = self.attachment_path(stored_name)
        tmp = self.attachments_dir / f".tmp-{stored_name}"
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
        fsync_dir(self.attachments_dir)
        att_id = secrets.token_urlsafe(16)
        now = now_iso()
        try:
            with self._tx() as c:
                self._require_open(c, upload.visit_id)
                c.execute(
                    "INSERT INTO attachments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (att_id, upload.visit_id, display_name, stored_name, len(data), mime,
                     category, hashlib.sha256(data).hexdigest(), upload.role, now),
                )
                cur = c.execute(
                    "INSERT INTO messages (visit_id, sender_role, sent_at, kind, attachment_id) "
                    "VALUES (?, ?, ?, 'attachment', ?)",
                    (upload.visit_id, upload.role, now, att_id),
                )
                c.execute("INSERT INTO attachment_uploads VALUES (?, ?)", (upload.id, att_id))
                c.execute("DELETE FROM uploads WHERE id = ?", (upload.id,))
                message_id = int(cur.lastrowid or 0)
        except BaseException:
            final.unlink(missing_ok=True)
            raise
        self.upload_path(upload.id).unlink(missing_ok=True)
        return message_id

    @in_thread
    def finalised_message(self, visit_id: str, role: str, upload_id: str) -> int | None:
        """The id of the message an earlier finalisation of `upload_id` by this visit's `role`
        made, or None (never finalised, or by another visit or role)."""
        row = self._one(
            "SELECT m.id FROM attachment_uploads u "
            "JOIN attachments a ON a.id = u.attachment_id "
            "JOIN messages m ON m.attachment_id = a.id "
            "WHERE u.upload_id = ? AND a.visit_id = ? AND a.sender_role = ?",
            (upload_id, visit_id, role),
        )
        return int(row[0]) if row else None

    @in_thread
    def get_attachment(self, visit_id: str, attachment_id: str) -> Attachment | None:
        row = self._one(
            "SELECT * FROM attachments WHERE id = ? AND visit_id = ?", (attachment_id, visit_id)
        )
        return Attachment(**dict(row)) if row else None

    def attachment_file(self, stored_name: str) -> Path | None:
        return self.attachment_path(stored_name)

    async def attachment_chunks(self, stored_name: str, start: int = 0, end: int | None = None
                                ) -> AsyncIterator[bytes]:
        f = await run_in_threadpool(open, self.attachment_path(stored_name), "rb")
        try:
            f.seek(start)
            left = None if end is None else end - start
            while left is None or left > 0:
                chunk = await run_in_threadpool(
                    f.read, READ_CHUNK if left is None else min(READ_CHUNK, left))
                if not chunk:
                    return
                if left is not None:
                    left -= len(chunk)
                yield chunk
        finally:
            f.close()

    # filing -------------------------------------------------------------------------------
    @in_thread
    def list_attachments(self, visit_id: str) -> list[dict[str, Any]]:
        """Every attachment of the visit in chat order, with its mark (None when unmarked)."""
        with self._lock:
            rows = self._conn.execute(_ATTACHMENT_ROWS + "ORDER BY m.id", (visit_id,)).fetchall()
        return [dict(r) for r in rows]

    @in_thread
    def set_mark(self, visit_id: str, attachment_id: str, mark: str | None
                 ) -> dict[str, Any] | None:
        """Set (or with None clear) the filing mark; None if the visit has no such attachment.

        Setting the mark it already has keeps its marked_at (PUT is idempotent)."""
        if mark is not None and mark not in MARKS:
            raise ValueError(mark)
        with self._tx() as c:
            found = c.execute("SELECT 1 FROM attachments WHERE id = ? AND visit_id = ?",
                              (attachment_id, visit_id)).fetchone()
            if found is None:
                return None
            if mark is None:
                c.execute("DELETE FROM attachment_marks WHERE attachment_id = ?",
                          (attachment_id,))
            else:
                c.execute(
                    "INSERT INTO attachment_marks VALUES (?, ?, ?) ON CONFLICT(attachment_id) "
                    "DO UPDATE SET mark = excluded.mark, marked_at = excluded.marked_at "
                    "WHERE mark != excluded.mark",
                    (attachment_id, mark, now_iso()),
                )
            row = c.execute(_ATTACHMENT_ROWS + "AND a.id = ?", (visit_id, attachment_id)
                            ).fetchone()
        return dict(row) if row else None
