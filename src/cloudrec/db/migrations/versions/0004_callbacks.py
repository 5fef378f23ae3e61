"""callbacks: per-app webhook URL and secret, and the outbox of events to deliver

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("callback_url", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("callback_secret", sa.String(128), nullable=False, server_default=""))
    op.create_table(
        "callback_outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column(
            "app_id", sa.String(64), sa.ForeignKey("apps.app_id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("next_attempt_at", sa.Float(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=False, server_default=""),
    )
    op.create_index("ix_outbox_state_id", "callback_outbox", ["state", "id"])
    op.create_index("ix_callback_outbox_app_id", "callback_outbox", ["app_id"])


def downgrade() -> None:
    op.drop_index("ix_callback_outbox_app_id", table_name="callback_outbox")
    op.drop_index("ix_outbox_state_id", table_name="callback_outbox")
    op.drop_table("callback_outbox")
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.drop_column("callback_secret")
        batch_op.drop_column("callback_url")
