"""finish figures: what the first finish reply answered, kept for later finish calls

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 18:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("finish_media_duration", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("finish_record_duration", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("finish_flow_kb", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("finish_flow_kb")
        batch_op.drop_column("finish_record_duration")
        batch_op.drop_column("finish_media_duration")
