"""Apply Alembic migrations programmatically (`cloudrec db upgrade`, and on every `serve`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from cloudrec.db.session import normalise_url, private_sqlite_file
from cloudrec.secretbox import SecretBox

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head", secret_box: SecretBox | None = None) -> None:
    """Migrate to `revision`. `secret_box` seals the secrets of existing rows (revision 0008); without it,
    that revision refuses a database that holds any."""
    private_sqlite_file(url)
    cfg = alembic_config(url)
    cfg.attributes["secret_box"] = secret_box
    command.upgrade(cfg, revision)


def downgrade(url: str, revision: str, secret_box: SecretBox | None = None) -> None:
    """Migrate back to `revision` (0007 and before keep the secrets in the clear: `secret_box` opens them)."""
    cfg = alembic_config(url)
    cfg.attributes["secret_box"] = secret_box
    command.downgrade(cfg, revision)
