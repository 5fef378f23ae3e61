"""compat fields of the vendor's clients: tasks.company_id (init, listed) and tasks.is_auto (task/list `auto`)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500  # task ids updated per statement when marking the automatic tasks of existing rows


def upgrade() -> None:
    # Plain ADD COLUMN (SQLite too): a batch would copy the table and re-create its indexes in another
    # order, and SQLite's planner would then pick other (equally covering) indexes for the task list.
    op.add_column("tasks", sa.Column("company_id", sa.String(200), nullable=False, server_default=""))
    op.add_column("tasks", sa.Column("is_auto", sa.Boolean(), nullable=False, server_default=sa.false()))
    # `auto` is a JSON column: its JSON null is no SQL NULL on every database, so the rows are read here.
    conn = op.get_bind()
    tasks = sa.table("tasks", sa.column("id", sa.Integer), sa.column("auto", sa.JSON), sa.column("is_auto"))
    ids = [row.id for row in conn.execute(sa.select(tasks.c.id, tasks.c.auto)) if row.auto is not None]
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        conn.execute(sa.update(tasks).where(tasks.c.id.in_(chunk)).values(is_auto=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("is_auto")
        batch_op.drop_column("company_id")
