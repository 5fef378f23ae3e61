"""task page indexes end with id: PostgreSQL pages in index order, deep pages' ids from the index alone

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 01:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# name -> columns before this revision (SQLite appended the rowid by itself; PostgreSQL sorted by id)
PAGE_INDEXES = {
    "ix_tasks_app_created": ["app_id", "created_at"],
    "ix_tasks_app_group_created": ["app_id", "group_id", "created_at"],
    "ix_tasks_app_status_created": ["app_id", "status", "created_at"],
}


def _recreate(with_id: bool) -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        for name, columns in PAGE_INDEXES.items():
            batch_op.drop_index(name)
            batch_op.create_index(name, [*columns, "id"] if with_id else columns, unique=False)


def upgrade() -> None:
    _recreate(with_id=True)


def downgrade() -> None:
    _recreate(with_id=False)
