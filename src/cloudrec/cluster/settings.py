"""What cluster mode needs of the settings (checked at start, without importing Ray)."""

from __future__ import annotations

from cloudrec.config import Settings


class ClusterSettingsError(RuntimeError):
    """The settings cannot run cluster mode (the message says why, to the operator)."""


def cluster_settings_problems(settings: Settings) -> list[str]:
    """Why cluster mode cannot run with `settings` (empty: it can): every process must share state."""
    problems = []
    if settings.storage != "s3":
        problems.append(
            "CLOUDREC_STORAGE must be s3: recorder nodes store segments themselves and every API process "
            "serves them, so local files cannot work"
        )
    if not settings.db_url.startswith("postgres"):
        problems.append(
            "CLOUDREC_DATABASE_URL must be a PostgreSQL URL: the API processes and the recorder nodes share "
            "one database (SQLite is one machine's file)"
        )
    return problems
