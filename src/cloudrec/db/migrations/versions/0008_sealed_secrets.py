"""sealed secrets: developer and callback secrets encrypted at rest (the key in the data dir)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from cloudrec.secretbox import SecretBox

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A sealed value is longer than its secret: room for a 128-character secret and more.
SEALED_LENGTH = 512
CLEAR_LENGTH = 128

developers = sa.table("developers", sa.column("dev_id", sa.String), sa.column("secret", sa.String))
apps = sa.table("apps", sa.column("app_id", sa.String), sa.column("callback_secret", sa.String))


def _box(needed: bool) -> SecretBox | None:
    box = op.get_context().config.attributes.get("secret_box")
    if box is None and needed:
        raise RuntimeError(
            "revision 0008 seals the stored secrets: run it through cloudrec (serve or db upgrade), "
            "which passes the secrets key of the data dir"
        )
    return box if isinstance(box, SecretBox) else None


def _resize(length: int) -> None:
    with op.batch_alter_table("developers", schema=None) as batch_op:
        batch_op.alter_column("secret", type_=sa.String(length), existing_nullable=False)
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.alter_column(
            "callback_secret", type_=sa.String(length), existing_nullable=False, existing_server_default=""
        )


def upgrade() -> None:
    bind = op.get_bind()
    devs = bind.execute(sa.select(developers.c.dev_id, developers.c.secret)).all()
    hooks = bind.execute(sa.select(apps.c.app_id, apps.c.callback_secret).where(apps.c.callback_secret != "")).all()
    clear_devs = [(d, s) for d, s in devs if not SecretBox.is_sealed(s)]
    clear_hooks = [(a, s) for a, s in hooks if not SecretBox.is_sealed(s)]
    box = _box(needed=bool(clear_devs or clear_hooks))  # before any change: SQLite's DDL is not undone
    _resize(SEALED_LENGTH)
    if box is None:
        return
    for dev_id, secret in clear_devs:
        bind.execute(
            developers.update()
            .where(developers.c.dev_id == dev_id)
            .values(secret=box.seal("developer", dev_id, secret))
        )
    for app_id, secret in clear_hooks:
        bind.execute(
            apps.update().where(apps.c.app_id == app_id).values(callback_secret=box.seal("callback", app_id, secret))
        )


def downgrade() -> None:
    bind = op.get_bind()
    devs = bind.execute(sa.select(developers.c.dev_id, developers.c.secret)).all()
    hooks = bind.execute(sa.select(apps.c.app_id, apps.c.callback_secret).where(apps.c.callback_secret != "")).all()
    box = _box(needed=bool(devs or hooks))  # before any change: SQLite's DDL is not undone
    if box is not None:
        for dev_id, secret in devs:
            bind.execute(
                developers.update()
                .where(developers.c.dev_id == dev_id)
                .values(secret=box.open("developer", dev_id, secret))
            )
        for app_id, secret in hooks:
            bind.execute(
                apps.update()
                .where(apps.c.app_id == app_id)
                .values(callback_secret=box.open("callback", app_id, secret))
            )
    _resize(CLEAR_LENGTH)
