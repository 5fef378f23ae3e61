"""per-stream files: the stream of a record_mode 1 file (user, media, start offset on the task's timeline)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 12:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_id", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("media_type", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("media_id", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("start_offset", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("files", schema=None) as batch_op:
        for name in ("start_offset", "media_id", "media_type", "user_id"):
            batch_op.drop_column(name)
