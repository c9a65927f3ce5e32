"""The storage contract: what the handlers may ask of the storage, whichever backend holds it.

Five small capability interfaces, in the manner of tusd's DataStore, Locker and Terminater:
`VisitStorage`, `MessageStorage`, `UploadStorage`, `AttachmentStorage` and `FilingStorage`.
`Storage` is all five plus the lifecycle (`start`, `stop`): the object the app holds
(`AppContext.storage`). A handler that needs less names the narrower interface.

Two backends implement every interface, each in one class and module of its own:

* `server.sqlite_storage.SqliteStorage` (the default): SQLite plus files under DATA_DIR.
* `server.pg_storage.PgStorage` (when DATABASE_URL is set): everything in PostgreSQL, so any
  number of nodes can serve the same visits.

This module holds only the contract: the interfaces, the records they return, the errors they
raise. It imports neither backend, and both import it. Adding an operation means adding it
here and once to each backend; tests/test_storage_contract.py runs the same cases on both.

Besides rows, a storage owns the bytes (partial uploads, attachments), the per-upload writer
lock and, for PostgreSQL, the cross-node live events (see `Storage.start`).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from server.live import VisitNotifier

ROLES = ("patient", "clinician")
MARKS = ("saved", "not_relevant")
# Attachment bytes are handed out in pieces of this size (downloads, the ZIP).
READ_CHUNK = 1024 * 1024


# errors ------------------------------------------------------------------------------------
class VisitClosed(Exception):
    """The visit ended before the write could be committed."""


class TooManyOpenUploads(Exception):
    """The visit already has its maximum of unfinished uploads (checked in the insert's
    transaction, so concurrent creations cannot all slip past the cap)."""


class VisitQuotaExceeded(Exception):
    """The new upload would take the visit past its byte quota (see visit_bytes)."""


class UploadBusy(Exception):
    """Another request (on this node or another) is writing this upload."""


# records -----------------------------------------------------------------------------------
def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Visit:
    id: str
    patient_token_hash: str
    clinician_token_hash: str
    patient_name: str
    clinician_name: str
    created_at: str
    ended_at: str | None

    @property
    def state(self) -> str:
        return "ended" if self.ended_at else "open"

    def name_of(self, role: str) -> str:
        return self.patient_name if role == "patient" else self.clinician_name


@dataclass(frozen=True)
class Upload:
    id: str
    visit_id: str
    role: str
    length: int
    offset: int
    filename: str
    filetype: str
    created_at: float
    expires_at: float


@dataclass(frozen=True)
class Attachment:
    id: str
    visit_id: str
    display_name: str
    stored_name: str
    size: int
    mime: str
    category: str
    sha256: str
    sender_role: str
    created_at: str


@dataclass(frozen=True)
class NewVisit:
    visit: Visit
    patient_token: str
    clinician_token: str

    @classmethod
    def make(cls, patient_name: str, clinician_name: str) -> NewVisit:
        """A new visit with fresh tokens (only their hashes are stored), not yet saved."""
        patient_token, clinician_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        visit = Visit(
            id=secrets.token_urlsafe(12),
            patient_token_hash=hash_token(patient_token),
            clinician_token_hash=hash_token(clinician_token),
            patient_name=patient_name,
            clinician_name=clinician_name,
            created_at=now_iso(),
            ended_at=None,
        )
        return cls(visit, patient_token, clinician_token)


# interfaces --------------------------------------------------------------------------------
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


class VisitStorage(Protocol):
    async def create_visit(self, patient_name: str, clinician_name: str) -> NewVisit: ...
    async def count_visits(self) -> int: ...
    async def get_visit(self, visit_id: str) -> Visit | None: ...
    async def token_hash_exists(self, token_hash: str) -> bool: ...
    async def end_visit(self, visit_id: str) -> Visit | None: ...

    async def expired_visits(self, ended_before: str) -> list[str]:
        """Ids of visits that ended before `ended_before` (ISO, as now_iso writes it) and
        whose files have not been purged yet."""

    async def purge_visit_files(self, visit_id: str) -> int:
        """Delete the bytes of the visit's attachments and uploads, record the purge; returns
        how many files (attachments and uploads) lost their bytes. The chat's rows stay."""


class MessageStorage(Protocol):
    """Every committed write also wakes the visit's long polls on all nodes."""

    async def add_text_message(self, visit_id: str, role: str, text: str) -> int:
        """The new message's id; VisitClosed when the visit has ended."""

    async def messages_after(self, visit_id: str, after: int, limit: int
                             ) -> list[dict[str, Any]]: ...
    async def message(self, visit_id: str, message_id: int) -> dict[str, Any]: ...


class UploadStorage(Protocol):
    """Partial uploads (tus): their rows, their bytes and one writer at a time."""

    async def create_upload(self, visit_id: str, role: str, length: int, filename: str,
                            filetype: str, ttl: int, max_open: int | None = None,
                            max_visit_bytes: int | None = None) -> Upload:
        """Reserve an upload of `length` bytes.

        TooManyOpenUploads when `role` already has `max_open` unfinished uploads in the visit;
        VisitQuotaExceeded when the visit's attachments plus the declared lengths of `role`'s
        open uploads plus `length` would pass `max_visit_bytes` (None: no limit). Both count
        the role's own open uploads only, so that one side's reservations never block the
        other's, and both are checked in the insert's transaction, so that concurrent
        creations cannot slip past."""

    async def count_open_uploads(self, visit_id: str) -> int: ...

    async def visit_bytes(self, visit_id: str) -> int:
        """What the visit holds against its quota: the sizes of its attachments plus the
        declared lengths of its unfinished (unexpired) uploads."""

    async def free_bytes(self) -> int | None:
        """Free bytes where this node writes data (the free-space floor), or None when the
        node writes none (PostgreSQL: its disk is the database's)."""

    async def get_upload(self, upload_id: str) -> Upload | None: ...
    async def set_upload_offset(self, upload_id: str, offset: int) -> None: ...
    async def delete_upload(self, upload_id: str) -> None: ...

    async def delete_expired_uploads(self, now: float | None = None) -> int:
        """Drop expired uploads with their bytes, and whatever a crash left half-done;
        returns how many uploads expired."""

    async def open_upload_writer(self, upload: Upload) -> UploadWriter: ...
    async def read_upload(self, upload: Upload) -> bytes: ...

    def lock_upload(self, upload_id: str) -> Any:
        """Async context manager: one writer per upload across all nodes (UploadBusy)."""


class AttachmentStorage(Protocol):
    """Finished uploads: an attachment and its message, and the attachment's bytes."""

    async def finalise_upload(self, upload: Upload, data: bytes, mime: str, category: str,
                              display_name: str | None = None) -> int:
        """Store `data` as an attachment named `display_name` (default: the upload's filename)
        and post its message, atomically; returns the message id. VisitClosed when the visit
        has ended."""

    async def finalised_message(self, visit_id: str, role: str, upload_id: str
                                ) -> int | None:
        """The id of the message an earlier finalisation of `upload_id` by this visit's `role`
        made, or None (never finalised, or by another visit or role)."""

    async def get_attachment(self, visit_id: str, attachment_id: str) -> Attachment | None: ...

    def attachment_file(self, stored_name: str) -> Path | None:
        """A local file holding the bytes (served with sendfile and ranges), or None."""

    def attachment_chunks(self, stored_name: str, start: int = 0, end: int | None = None
                          ) -> AsyncIterator[bytes]:
        """The bytes from `start` to `end` (exclusive; None: to the end), in pieces."""


class FilingStorage(Protocol):
    """The clinician's filing marks (saved into the record system, or not relevant)."""

    async def list_attachments(self, visit_id: str) -> list[dict[str, Any]]:
        """Every attachment of the visit in chat order, with its mark (None when unmarked)."""

    async def set_mark(self, visit_id: str, attachment_id: str, mark: str | None
                       ) -> dict[str, Any] | None:
        """Set (or with None clear) the filing mark; None if the visit has no such attachment.
        Setting the mark it already has keeps its marked_at (PUT is idempotent)."""


class Storage(VisitStorage, MessageStorage, UploadStorage, AttachmentStorage, FilingStorage,
              Protocol):
    # Where this node may put temp files of its own (the ZIP); None: the system's temp folder.
    scratch_dir: Path | None

    async def start(self, notifier: VisitNotifier | None = None) -> None:
        """Open connections; with a notifier, wake its long polls on other nodes' events."""

    async def stop(self) -> None: ...
