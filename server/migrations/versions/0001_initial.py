"""The schema of server/sqlite_storage.py (visits, messages, attachments, uploads, filing
marks), plus the bytes a stateless node keeps in the database: attachment_chunks and
upload_chunks.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TEXT, REAL = sa.Text(), sa.Float(precision=53)


def upgrade() -> None:
    op.create_table(
        "visits",
        sa.Column("id", TEXT, primary_key=True),
        sa.Column("patient_token_hash", TEXT, nullable=False, unique=True),
        sa.Column("clinician_token_hash", TEXT, nullable=False, unique=True),
        sa.Column("patient_name", TEXT, nullable=False),
        sa.Column("clinician_name", TEXT, nullable=False),
        sa.Column("created_at", TEXT, nullable=False),
        sa.Column("ended_at", TEXT),
    )
    op.create_table(
        "attachments",
        sa.Column("id", TEXT, primary_key=True),
        sa.Column("visit_id", TEXT, sa.ForeignKey("visits.id"), nullable=False),
        sa.Column("display_name", TEXT, nullable=False),
        sa.Column("stored_name", TEXT, nullable=False, unique=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mime", TEXT, nullable=False),
        sa.Column("category", TEXT, nullable=False),
        sa.Column("sha256", TEXT, nullable=False),
        sa.Column("sender_role", TEXT, nullable=False),
        sa.Column("created_at", TEXT, nullable=False),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.BigInteger, sa.Identity(always=False), primary_key=True),
        sa.Column("visit_id", TEXT, sa.ForeignKey("visits.id"), nullable=False),
        sa.Column("sender_role", TEXT, nullable=False),
        sa.Column("sent_at", TEXT, nullable=False),
        sa.Column("kind", TEXT, nullable=False),
        sa.Column("text", TEXT),
        sa.Column("attachment_id", TEXT, sa.ForeignKey("attachments.id")),
    )
    op.create_index("messages_visit", "messages", ["visit_id", "id"])
    op.create_table(
        "uploads",
        sa.Column("id", TEXT, primary_key=True),
        sa.Column("visit_id", TEXT, sa.ForeignKey("visits.id"), nullable=False),
        sa.Column("role", TEXT, nullable=False),
        sa.Column("length", sa.BigInteger, nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("filename", TEXT, nullable=False),
        sa.Column("filetype", TEXT, nullable=False),
        sa.Column("created_at", REAL, nullable=False),
        sa.Column("expires_at", REAL, nullable=False),
    )
    op.create_index("uploads_visit", "uploads", ["visit_id"])
    op.create_table(
        "attachment_marks",
        sa.Column("attachment_id", TEXT, sa.ForeignKey("attachments.id"), primary_key=True),
        sa.Column("mark", TEXT, sa.CheckConstraint("mark IN ('saved', 'not_relevant')"),
                  nullable=False),
        sa.Column("marked_at", TEXT, nullable=False),
    )
    op.create_table(
        "attachment_uploads",
        sa.Column("upload_id", TEXT, primary_key=True),
        sa.Column("attachment_id", TEXT, sa.ForeignKey("attachments.id"), nullable=False,
                  unique=True),
    )
    # The bytes. Keyed by the attachment's stored_name (what the handlers name a file by) and
    # by (upload, start offset); deleting the owner row deletes its bytes.
    op.create_table(
        "attachment_chunks",
        sa.Column("stored_name", TEXT,
                  sa.ForeignKey("attachments.stored_name", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "upload_chunks",
        sa.Column("upload_id", TEXT, sa.ForeignKey("uploads.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("start", sa.BigInteger, primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Photos, films and PDFs are compressed already: store them out of line as they are
        # instead of letting TOAST try (and fail) to compress every megabyte again.
        for table in ("attachment_chunks", "upload_chunks"):
            op.execute(f"ALTER TABLE {table} ALTER COLUMN data SET STORAGE EXTERNAL")


def downgrade() -> None:
    for table in ("upload_chunks", "attachment_chunks", "attachment_uploads",
                  "attachment_marks", "uploads", "messages", "attachments", "visits"):
        op.drop_table(table)
