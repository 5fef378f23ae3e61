"""task list indexes: a group's, a status's and a start time's tasks without scanning the app's tasks

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tasks_app_group_created", ["app_id", "group_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_tasks_app_status_created", ["app_id", "status", "created_at"], unique=False)
        batch_op.create_index("ix_tasks_app_started", ["app_id", "start_time"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_app_started")
        batch_op.drop_index("ix_tasks_app_status_created")
        batch_op.drop_index("ix_tasks_app_group_created")
