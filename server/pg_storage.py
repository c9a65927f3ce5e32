"""PgStorage: the storage contract (server.storage) in PostgreSQL. Every piece of a node's
state is in one database, so nodes are stateless.

* Rows: the same tables as SqliteStorage (schema by Alembic, server/migrations/).
* Bytes: `bytea` rows of at most CHUNK_BYTES, stored out of line uncompressed. Attachments in
  attachment_chunks (written in the finalising transaction, so there is never a row without
  its bytes nor bytes without their row); partial uploads in upload_chunks keyed by their start
  offset, each PATCH buffer committed as it arrives; the upload's stored offset says which of
  them count (the same rule as SqliteStorage's file).
* Live events: every committing write of a visit runs pg_notify('bifoga_visit', visit id) in
  its transaction; each node LISTENs on one connection of its own and wakes its long polls.
* Per-upload writer locks: session advisory locks, held on a connection of a separate pool
  for the length of the request. A node that dies drops its connections, and PostgreSQL
  releases its locks at once: another node can resume the upload straight away.
* Message order: ids come from one sequence, and a message is inserted while holding its
  visit's row lock, so within a visit ids commit in increasing order and a reader's cursor
  (`after`) never skips a message that commits later with a smaller id.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from starlette.concurrency import run_in_threadpool

from server import migrate
from server.live import VisitNotifier
from server.storage import (
    MARKS,
    Attachment,
    NewVisit,
    TooManyOpenUploads,
    Upload,
    UploadBusy,
    Visit,
    VisitClosed,
    VisitQuotaExceeded,
    now_iso,
)

log = logging.getLogger("bifoga.pg")
CHUNK_BYTES = 1024 * 1024
CHANNEL = "bifoga_visit"
# Upload writes (PATCH, finalisation, DELETE) each hold a connection of the lock pool (its size
# is settings.max_upload_writers). More wait up to LOCK_WAIT_SECONDS, then get 423 and retry.
LOCK_WAIT_SECONDS = 5.0

_ATTACHMENT_ROWS = (
    "SELECT a.id, a.display_name AS name, a.stored_name, a.size, a.mime, a.category, "
    "m.sender_role, m.sent_at, k.mark, k.marked_at FROM messages m "
    "JOIN attachments a ON a.id = m.attachment_id "
    "LEFT JOIN attachment_marks k ON k.attachment_id = a.id "
    "WHERE m.visit_id = %s "
)
_MESSAGE_ROWS = (
    "SELECT m.id, m.sender_role, m.sent_at, m.kind, m.text, a.id AS a_id, "
    "a.display_name AS a_name, a.size AS a_size, a.mime AS a_mime, "
    "a.category AS a_category FROM messages m "
    "LEFT JOIN attachments a ON a.id = m.attachment_id "
    "WHERE m.visit_id = %s AND m.id > %s ORDER BY m.id LIMIT %s"
)


def lock_key(upload_id: str) -> int:
    """The advisory lock key (a signed 64-bit integer) of an upload."""
    return int.from_bytes(hashlib.sha256(upload_id.encode()).digest()[:8], "big", signed=True)


Conn = psycopg.AsyncConnection[dict[str, Any]]


class PgUploadWriter:
    """Appends to upload_chunks; see server.storage.UploadWriter."""

    def __init__(self, storage: PgStorage, upload_id: str, position: int) -> None:
        self.storage, self.upload_id, self.position = storage, upload_id, position

    async def write(self, data: bytes) -> None:
        for i in range(0, len(data), CHUNK_BYTES):
            piece = data[i:i + CHUNK_BYTES]
            async with self.storage.pool.connection() as conn:
                await conn.execute(
                    "INSERT INTO upload_chunks (upload_id, start, data) VALUES (%s, %s, %s)",
                    (self.upload_id, self.position, piece))
            self.position += len(piece)

    async def sync(self) -> None:
        pass  # each write committed (and PostgreSQL flushed its WAL) before it returned

    async def finish(self, tail: bytes, keep: bool, start: int) -> int:
        if keep:
            await self.write(tail)
            return self.position
        async with self.storage.pool.connection() as conn:
            await _cut(conn, self.upload_id, start)
        return start

    async def abort(self) -> None:
        pass


async def _cut(conn: Conn, upload_id: str, offset: int) -> None:
    """Drop an upload's bytes past `offset` (from a request whose offset was never stored)."""
    async with conn.transaction():
        await conn.execute("DELETE FROM upload_chunks WHERE upload_id = %s AND start >= %s",
                           (upload_id, offset))
        await conn.execute(
            "UPDATE upload_chunks SET data = substring(data FROM 1 FOR (%s - start)::int) "
            "WHERE upload_id = %s AND start < %s AND start + length(data) > %s",
            (offset, upload_id, offset, offset))


class PgStorage:
    """Any number of nodes' storage: rows, bytes, locks and live events in one database."""

    scratch_dir = None  # a stateless node keeps nothing of its own: temp files go to TMPDIR

    def __init__(self, url: str, pool_size: int = 10, lock_pool_size: int = 40) -> None:
        self.url = url
        kwargs: dict[str, Any] = {"autocommit": True, "row_factory": dict_row}
        self.pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            url, min_size=min(2, pool_size), max_size=pool_size, kwargs=kwargs, open=False)
        self.lock_pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            url, min_size=0, max_size=lock_pool_size, kwargs=kwargs, open=False,
            timeout=LOCK_WAIT_SECONDS)
        self._listener: asyncio.Task[None] | None = None

    # lifecycle ----------------------------------------------------------------------------
    async def start(self, notifier: VisitNotifier | None = None) -> None:
        await run_in_threadpool(migrate.ensure_schema, self.url)
        await self.pool.open(wait=True)
        await self.lock_pool.open()
        if notifier is not None:
            listening = asyncio.Event()
            self._listener = asyncio.create_task(self._listen(notifier, listening))
            await asyncio.wait_for(listening.wait(), 30)

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        await self.lock_pool.close()
        await self.pool.close()

    async def _listen(self, notifier: VisitNotifier, listening: asyncio.Event) -> None:
        """Forward every node's visit events to this node's long polls, reconnecting after a
        lost connection (and then waking every poll: it may have missed an event)."""
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    if listening.is_set():
                        notifier.notify_all()
                    listening.set()
                    async for event in conn.notifies():
                        notifier.notify(event.payload)
            except psycopg.Error:
                log.exception("LISTEN connection lost; reconnecting")
                await asyncio.sleep(1)

    async def _one(self, sql: str, args: tuple[Any, ...]) -> dict[str, Any] | None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(sql, args)
            return await cur.fetchone()

    @staticmethod
    async def _notify(conn: Conn, visit_id: str) -> None:
        # Delivered to every node's LISTEN when (and only if) the transaction commits.
        await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, visit_id))

    # visits -------------------------------------------------------------------------------
    async def create_visit(self, patient_name: str, clinician_name: str) -> NewVisit:
        new = NewVisit.make(patient_name, clinician_name)
        visit = new.visit
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO visits VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (visit.id, visit.patient_token_hash, visit.clinician_token_hash,
                 visit.patient_name, visit.clinician_name, visit.created_at, None))
        return new

    async def count_visits(self) -> int:
        row = await self._one("SELECT COUNT(*) AS n FROM visits", ())
        return int(row["n"]) if row else 0

    async def get_visit(self, visit_id: str) -> Visit | None:
        row = await self._one("SELECT * FROM visits WHERE id = %s", (visit_id,))
        return Visit(**row) if row else None

    async def token_hash_exists(self, token_hash: str) -> bool:
        row = await self._one(
            "SELECT 1 FROM visits WHERE patient_token_hash = %s OR clinician_token_hash = %s",
            (token_hash, token_hash))
        return row is not None

    async def end_visit(self, visit_id: str) -> Visit | None:
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute(
                "UPDATE visits SET ended_at = %s WHERE id = %s AND ended_at IS NULL",
                (now_iso(), visit_id))
            await self._notify(conn, visit_id)
        return await self.get_visit(visit_id)

    # link expiry ---------------------------------------------------------------------------
    async def expired_visits(self, ended_before: str) -> list[str]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT id FROM visits WHERE ended_at IS NOT NULL AND ended_at < %s "
                "AND id NOT IN (SELECT visit_id FROM visit_purges)", (ended_before,))
            return [r["id"] for r in await cur.fetchall()]

    async def purge_visit_files(self, visit_id: str) -> int:
        """Delete the bytes of the visit's attachments and its unfinished uploads, and record
        the purge, in one transaction; the chat's rows stay. Returns how many attachments and
        uploads lost their bytes."""
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "DELETE FROM attachment_chunks WHERE stored_name IN "
                "(SELECT stored_name FROM attachments WHERE visit_id = %s) "
                "RETURNING stored_name", (visit_id,))
            files = len({r["stored_name"] for r in await cur.fetchall()})
            cur = await conn.execute("DELETE FROM uploads WHERE visit_id = %s", (visit_id,))
            files += cur.rowcount
            await conn.execute(
                "INSERT INTO visit_purges VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                (visit_id, now_iso(), files))
        return files

    # messages -----------------------------------------------------------------------------
    async def add_text_message(self, visit_id: str, role: str, text: str) -> int:
        # One statement, so its own short transaction: the visit's row lock is held only
        # while PostgreSQL runs it and commits, not across round trips to this node.
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "WITH v AS (SELECT id FROM visits WHERE id = %(v)s AND ended_at IS NULL "
                "FOR NO KEY UPDATE), "
                "m AS (INSERT INTO messages (visit_id, sender_role, sent_at, kind, text) "
                "SELECT id, %(role)s, %(now)s, 'text', %(text)s FROM v RETURNING id) "
                "SELECT m.id, pg_notify(%(ch)s, %(v)s) FROM m",
                {"v": visit_id, "role": role, "now": now_iso(), "text": text, "ch": CHANNEL})
            row = await cur.fetchone()
        if row is None:
            raise VisitClosed(visit_id)
        return int(row["id"])

    async def messages_after(self, visit_id: str, after: int, limit: int
                             ) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(_MESSAGE_ROWS, (visit_id, after, limit))
            return await cur.fetchall()

    async def message(self, visit_id: str, message_id: int) -> dict[str, Any]:
        rows = await self.messages_after(visit_id, message_id - 1, 1)
        return rows[0]

    # uploads ------------------------------------------------------------------------------
    async def create_upload(self, visit_id: str, role: str, length: int, filename: str,
                            filetype: str, ttl: int, max_open: int | None = None,
                            max_visit_bytes: int | None = None) -> Upload:
        now = time.time()
        up = Upload(secrets.token_urlsafe(16), visit_id, role, length, 0, filename, filetype,
                    now, now + ttl)
        async with self.pool.connection() as conn, conn.transaction():
            # The visit's row lock makes the cap and the quota hold under concurrent creations
            # on any node (SqliteStorage gets the same from BEGIN IMMEDIATE).
            await conn.execute("SELECT 1 FROM visits WHERE id = %s FOR NO KEY UPDATE",
                               (visit_id,))
            # Both count the role's own open uploads only (see UploadStorage.create_upload).
            if (max_open is not None
                    and await self._open_uploads(conn, visit_id, now, role) >= max_open):
                raise TooManyOpenUploads(visit_id)
            if (max_visit_bytes is not None and await self._visit_bytes(conn, visit_id, now, role)
                    + length > max_visit_bytes):
                raise VisitQuotaExceeded(visit_id)
            await conn.execute(
                "INSERT INTO uploads VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (up.id, visit_id, role, length, 0, filename, filetype, now, up.expires_at))
        return up

    @staticmethod
    async def _open_uploads(conn: Conn, visit_id: str, now: float,
                            role: str | None = None) -> int:
        cur = await conn.execute(
            "SELECT COUNT(*) AS n FROM uploads WHERE visit_id = %(v)s AND expires_at > %(now)s "
            "AND (%(role)s::text IS NULL OR role = %(role)s)",
            {"v": visit_id, "now": now, "role": role})
        row = await cur.fetchone()
        return int(row["n"]) if row else 0

    @staticmethod
    async def _visit_bytes(conn: Conn, visit_id: str, now: float,
                           role: str | None = None) -> int:
        cur = await conn.execute(
            "SELECT (SELECT COALESCE(SUM(size), 0) FROM attachments WHERE visit_id = %(v)s) + "
            "(SELECT COALESCE(SUM(length), 0) FROM uploads WHERE visit_id = %(v)s "
            "AND expires_at > %(now)s AND (%(role)s::text IS NULL OR role = %(role)s)) AS n",
            {"v": visit_id, "now": now, "role": role})
        row = await cur.fetchone()
        return int(row["n"]) if row else 0

    async def count_open_uploads(self, visit_id: str) -> int:
        async with self.pool.connection() as conn:
            return await self._open_uploads(conn, visit_id, time.time())

    async def visit_bytes(self, visit_id: str) -> int:
        """The visit's attachments' sizes plus its unfinished uploads' declared lengths."""
        async with self.pool.connection() as conn:
            return await self._visit_bytes(conn, visit_id, time.time())

    async def free_bytes(self) -> None:
        return None  # nothing is written here; the database's disk is its operator's to watch

    async def get_upload(self, upload_id: str) -> Upload | None:
        row = await self._one("SELECT * FROM uploads WHERE id = %s", (upload_id,))
        return Upload(**row) if row else None

    async def set_upload_offset(self, upload_id: str, offset: int) -> None:
        async with self.pool.connection() as conn:
            await conn.execute('UPDATE uploads SET "offset" = %s WHERE id = %s',
                               (offset, upload_id))

    async def delete_upload(self, upload_id: str) -> None:
        async with self.pool.connection() as conn:
            await conn.execute("DELETE FROM uploads WHERE id = %s", (upload_id,))

    async def delete_expired_uploads(self, now: float | None = None) -> int:
        """Drop expired uploads with their bytes. Nothing else can be left half-done: bytes
        and rows commit together."""
        now = time.time() if now is None else now
        async with self.pool.connection() as conn:
            cur = await conn.execute("DELETE FROM uploads WHERE expires_at <= %s", (now,))
            return cur.rowcount

    async def open_upload_writer(self, upload: Upload) -> PgUploadWriter:
        async with self.pool.connection() as conn:
            await _cut(conn, upload.id, upload.offset)
        return PgUploadWriter(self, upload.id, upload.offset)

    async def read_upload(self, upload: Upload) -> bytes:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT start, data FROM upload_chunks WHERE upload_id = %s AND start < %s "
                "ORDER BY start", (upload.id, upload.offset), binary=True)
            parts = []
            expected = 0
            for row in await cur.fetchall():
                if row["start"] != expected:  # never: the offset counts only written bytes
                    raise RuntimeError(f"upload {upload.id}: bytes missing at {expected}")
                parts.append(row["data"])
                expected += len(row["data"])
        return b"".join(parts)[:upload.offset]

    @asynccontextmanager
    async def lock_upload(self, upload_id: str) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            try:
                conn = await stack.enter_async_context(self.lock_pool.connection())
            except PoolTimeout:  # this node is writing as many uploads as it may
                raise UploadBusy(upload_id) from None
            cur = await conn.execute("SELECT pg_try_advisory_lock(%s) AS got",
                                     (lock_key(upload_id),))
            row = await cur.fetchone()
            if not row or not row["got"]:
                raise UploadBusy(upload_id)
            try:
                yield
            finally:
                await conn.execute("SELECT pg_advisory_unlock(%s)", (lock_key(upload_id),))

    # attachments --------------------------------------------------------------------------
    async def finalise_upload(self, upload: Upload, data: bytes, mime: str, category: str,
                              display_name: str | None = None) -> int:
        """Store `data` as an attachment and post its message in one transaction."""
        stored_name = secrets.token_urlsafe(24)
        att_id = secrets.token_urlsafe(16)
        now = now_iso()
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO attachments VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (att_id, upload.visit_id, display_name or upload.filename, stored_name,
                 len(data), mime, category, hashlib.sha256(data).hexdigest(), upload.role,
                 now))
            async with conn.cursor() as cur:
                await cur.executemany(
                    "INSERT INTO attachment_chunks (stored_name, seq, data) VALUES (%s, %s, %s)",
                    [(stored_name, n, data[i:i + CHUNK_BYTES])
                     for n, i in enumerate(range(0, len(data), CHUNK_BYTES))])
            # The chat's part in one statement, last: the visit's row lock (message order,
            # and nothing lands after the end) is held from here to the commit only.
            cur2 = await conn.execute(
                "WITH v AS (SELECT id FROM visits WHERE id = %(v)s AND ended_at IS NULL "
                "FOR NO KEY UPDATE), "
                "m AS (INSERT INTO messages (visit_id, sender_role, sent_at, kind, attachment_id)"
                " SELECT id, %(role)s, %(now)s, 'attachment', %(att)s FROM v RETURNING id), "
                "u AS (INSERT INTO attachment_uploads SELECT %(up)s, %(att)s FROM m), "
                "d AS (DELETE FROM uploads WHERE id = %(up)s AND EXISTS (SELECT 1 FROM m)) "
                "SELECT m.id, pg_notify(%(ch)s, %(v)s) FROM m",
                {"v": upload.visit_id, "role": upload.role, "now": now, "att": att_id,
                 "up": upload.id, "ch": CHANNEL})
            row = await cur2.fetchone()
            if row is None:
                raise VisitClosed(upload.visit_id)  # rolls the attachment and its bytes back
        return int(row["id"])

    async def finalised_message(self, visit_id: str, role: str, upload_id: str) -> int | None:
        row = await self._one(
            "SELECT m.id FROM attachment_uploads u "
            "JOIN attachments a ON a.id = u.attachment_id "
            "JOIN messages m ON m.attachment_id = a.id "
            "WHERE u.upload_id = %s AND a.visit_id = %s AND a.sender_role = %s",
            (upload_id, visit_id, role))
        return int(row["id"]) if row else None

    async def get_attachment(self, visit_id: str, attachment_id: str) -> Attachment | None:
        row = await self._one("SELECT * FROM attachments WHERE id = %s AND visit_id = %s",
                              (attachment_id, visit_id))
        return Attachment(**row) if row else None

    def attachment_file(self, stored_name: str) -> None:
        return None  # the bytes are in the database

    async def attachment_chunks(self, stored_name: str, start: int = 0, end: int | None = None
                                ) -> AsyncIterator[bytes]:
        # Every chunk but the last holds CHUNK_BYTES, so a byte range maps to chunk numbers.
        # One row per query: a committed attachment never changes, and a slow download does
        # not hold a connection between pieces.
        seq, skip = divmod(start, CHUNK_BYTES)
        left = None if end is None else end - start
        while left is None or left > 0:
            async with self.pool.connection() as conn:
                cur = await conn.execute(
                    "SELECT data FROM attachment_chunks WHERE stored_name = %s AND seq = %s",
                    (stored_name, seq), binary=True)
                row = await cur.fetchone()
            if row is None:
                return
            piece = row["data"][skip:] if left is None else row["data"][skip:skip + left]
            if left is not None:
                left -= len(piece)
            yield piece
            seq, skip = seq + 1, 0

    # filing -------------------------------------------------------------------------------
    async def list_attachments(self, visit_id: str) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(_ATTACHMENT_ROWS + "ORDER BY m.id", (visit_id,))
            return await cur.fetchall()

    async def set_mark(self, visit_id: str, attachment_id: str, mark: str | None
                       ) -> dict[str, Any] | None:
        if mark is not None and mark not in MARKS:
            raise ValueError(mark)
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "SELECT 1 FROM attachments WHERE id = %s AND visit_id = %s",
                (attachment_id, visit_id))
            if await cur.fetchone() is None:
                return None
            if mark is None:
                await conn.execute("DELETE FROM attachment_marks WHERE attachment_id = %s",
                                   (attachment_id,))
            else:
                await conn.execute(
                    "INSERT INTO attachment_marks VALUES (%s, %s, %s) "
                    "ON CONFLICT (attachment_id) DO UPDATE SET mark = excluded.mark, "
                    "marked_at = excluded.marked_at "
                    "WHERE attachment_marks.mark != excluded.mark",
                    (attachment_id, mark, now_iso()))
            cur = await conn.execute(_ATTACHMENT_ROWS + "AND a.id = %s",
                                     (visit_id, attachment_id))
            return await cur.fetchone()
