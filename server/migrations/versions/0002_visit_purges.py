"""visit_purges: visits whose links expired and whose attachment bytes were deleted (server/
sqlite_storage.py has the same table; see purge_visit_files).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "visit_purges",
        sa.Column("visit_id", sa.Text, sa.ForeignKey("visits.id"), primary_key=True),
        sa.Column("purged_at", sa.Text, nullable=False),
        sa.Column("files", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("visit_purges")
