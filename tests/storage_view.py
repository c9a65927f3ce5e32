"""What a test reads of either storage directly, behind the server's back.

`StorageView.of(settings)` gives the SQLite view (the database file and the data directory) or
the PostgreSQL one (the database at settings.database_url). "Bytes" are a partial upload's file
or its upload_chunks rows, an attachment's file or its attachment_chunks rows.
`invariants()` asserts that nothing is half-done, as tests.live_server.storage_invariants does
for SQLite: no attachment row without its intact bytes, no bytes without their row.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from pathlib import Path
from typing import Any

_STORED_NAME = re.compile(r"[A-Za-z0-9_-]{16,64}")


def check_announced(messages: list[Any], attachment_ids: set[str]) -> int:
    """Chat entries: every attachment message names an existing attachment, each attachment
    exactly once; a text message names none. Returns the number of attachment messages."""
    by_attachment: dict[str, int] = {}
    for m in messages:
        if m["kind"] == "attachment":
            assert m["attachment_id"] in attachment_ids, dict(m)
            by_attachment[m["attachment_id"]] = by_attachment.get(m["attachment_id"], 0) + 1
        else:
            assert m["kind"] == "text" and m["attachment_id"] is None, dict(m)
    assert sorted(by_attachment) == sorted(attachment_ids)
    assert set(by_attachment.values()) <= {1}, "an attachment announced twice"
    return sum(by_attachment.values())


def counts(attachments: list[Any], messages: list[Any], announced: int, uploads: list[Any],
           total: int) -> dict[str, int]:
    """What the invariant checks return: attachments, messages, attachment_messages, uploads,
    bytes."""
    return {
        "attachments": len(attachments),
        "messages": len(messages),
        "attachment_messages": announced,
        "uploads": len(uploads),
        "bytes": total,
    }


class StorageView:
    kind = "sqlite"

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    @staticmethod
    def of(settings: Any) -> StorageView:
        if settings.database_url:
            return PgView(settings.database_url)
        return StorageView(settings.data_dir)

    def rows(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        """Run one statement (`?` placeholders); its rows as dicts."""
        conn = sqlite3.connect(self.data_dir / "bifoga.sqlite3", timeout=10)
        conn.row_factory = sqlite3.Row
        try:
            with conn:
                return [dict(r) for r in conn.execute(sql, args).fetchall()]
        finally:
            conn.close()

    def count(self, table: str) -> int:
        return int(self.rows(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"])

    def upload_bytes(self, upload_id: str) -> bytes:
        """Every byte stored for the upload, counted by its offset or not."""
        return (self.data_dir / "uploads" / upload_id).read_bytes()

    def put_upload_bytes(self, upload_id: str, data: bytes) -> None:
        """Replace what is stored for the upload (as a crash mid-write may leave it)."""
        (self.data_dir / "uploads" / upload_id).write_bytes(data)

    def uploads_with_bytes(self) -> list[str]:
        return sorted(p.name for p in (self.data_dir / "uploads").iterdir())

    def attachments_with_bytes(self) -> list[str]:
        return sorted(p.name for p in (self.data_dir / "attachments").iterdir())

    def attachment_bytes(self, stored_name: str) -> bytes:
        return (self.data_dir / "attachments" / stored_name).read_bytes()

    def invariants(self) -> dict[str, int]:
        from tests.live_server import storage_invariants

        return storage_invariants(self.data_dir)


class PgView(StorageView):
    kind = "pg"

    def __init__(self, url: str) -> None:
        self.url = url

    def rows(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        import psycopg
        from psycopg.rows import dict_row

        with psycopg.connect(self.url, autocommit=True, row_factory=dict_row) as conn:
            cur = conn.execute(sql.replace("?", "%s"), args)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else []

    def upload_bytes(self, upload_id: str) -> bytes:
        rows = self.rows("SELECT data FROM upload_chunks WHERE upload_id = ? ORDER BY start",
                         upload_id)
        return b"".join(r["data"] for r in rows)

    def put_upload_bytes(self, upload_id: str, data: bytes) -> None:
        self.rows("DELETE FROM upload_chunks WHERE upload_id = ?", upload_id)
        self.rows("INSERT INTO upload_chunks VALUES (?, 0, ?)", upload_id, data)

    def uploads_with_bytes(self) -> list[str]:
        return [r["upload_id"] for r in self.rows(
            "SELECT DISTINCT upload_id FROM upload_chunks ORDER BY upload_id")]

    def attachments_with_bytes(self) -> list[str]:
        return [r["stored_name"] for r in self.rows(
            "SELECT DISTINCT stored_name FROM attachment_chunks ORDER BY stored_name")]

    def attachment_bytes(self, stored_name: str) -> bytes:
        rows = self.rows("SELECT seq, data FROM attachment_chunks WHERE stored_name = ? "
                         "ORDER BY seq", stored_name)
        assert [r["seq"] for r in rows] == list(range(len(rows))), "a chunk is missing"
        return b"".join(r["data"] for r in rows)

    def invariants(self) -> dict[str, int]:
        # A purged visit (links expired) keeps its rows without their bytes, on purpose.
        attachments = self.rows("SELECT * FROM attachments WHERE visit_id NOT IN "
                                "(SELECT visit_id FROM visit_purges)")
        messages = self.rows("SELECT * FROM messages")
        uploads = self.rows("SELECT * FROM uploads")
        total = 0
        for row in attachments:
            assert _STORED_NAME.fullmatch(row["stored_name"]), row["stored_name"]
            data = self.attachment_bytes(row["stored_name"])
            assert len(data) == row["size"], f"attachment {row['id']}: half a file"
            assert hashlib.sha256(data).hexdigest() == row["sha256"], \
                f"attachment {row['id']}: bytes changed"
            total += len(data)
        stored = {row["stored_name"] for row in attachments}
        with_bytes = set(self.attachments_with_bytes())
        assert with_bytes == stored, f"bytes without rows: {sorted(with_bytes - stored)}"

        ids = {a["id"] for a in self.rows("SELECT id FROM attachments")}  # purged ones too
        announced = check_announced(messages, ids)

        for row in uploads:
            assert 0 <= row["offset"] <= row["length"]
            counted = self.rows(
                "SELECT COALESCE(SUM(length(data)), 0) AS n FROM upload_chunks "
                "WHERE upload_id = ? AND start < ?", row["id"], row["offset"])[0]["n"]
            assert counted >= row["offset"], f"upload {row['id']}: counted bytes lost"
        orphans = set(self.uploads_with_bytes()) - {r["id"] for r in uploads}
        assert not orphans, f"upload bytes without rows: {sorted(orphans)}"
        return counts(attachments, messages, announced, uploads, total)
