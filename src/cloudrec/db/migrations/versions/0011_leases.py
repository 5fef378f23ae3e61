"""task leases: owner (host_id), epoch and expiry of a task's recorder; gaps, restarts, desired state seq

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 12:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE_STATUSES = (1, 2, 3, 4)  # a recorder runs the task (or ran it, before this revision)


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_epoch", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("lease_expires", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("media_base", sa.Float(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("flow_base", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("gaps", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("restarts", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("desired_seq", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("desired_at", sa.Float(), nullable=True))
        batch_op.create_index("ix_tasks_lease", ["status", "lease_expires"], unique=False)
    # Tasks an earlier version left active have no live recorder: an expired lease hands them over.
    tasks = sa.table("tasks", sa.column("status", sa.Integer), sa.column("lease_expires", sa.Float))
    op.execute(tasks.update().where(tasks.c.status.in_(ACTIVE_STATUSES)).values(lease_expires=0.0))


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_lease")
        for name in ("desired_at", "desired_seq", "restarts", "gaps", "flow_base", "media_base", "lease_expires", "lease_epoch"):
            batch_op.drop_column(name)
