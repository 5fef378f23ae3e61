"""Engine and session factory: SQLite in WAL mode by default, PostgreSQL (psycopg 3) by URL."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PoolSize:
    """The connection pool of an engine: `size` kept open, `overflow` more opened while needed."""

    size: int
    overflow: int

    @property
    def connections(self) -> int:
        """The most connections handed out at once."""
        return self.size + self.overflow


SQLITE_POOL = PoolSize(5, 10)
POSTGRES_POOL = PoolSize(10, 20)
# Connections the server's own threads may hold besides requests: the progress sink and the callback
# delivery worker, one each, and one spare (start-up work, tools and tests using the same engine).
BACKGROUND_CONNECTIONS = 3


def normalise_url(url: str) -> str:
    """Let operators write `postgresql://`; we drive it with psycopg 3."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


# The SQLite file holds the (sealed) secrets and every task: its owner only. SQLite gives its -wal and
# -shm files the mode of the database file.
PRIVATE_FILE_MODE = 0o600


def private_sqlite_file(url: str) -> None:
    """Create the SQLite database file of `url` readable by its owner only (before SQLite creates it with
    the umask's mode), and make an existing one of ours so; nothing for other databases."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    path = Path(parsed.database)
    if str(path).startswith("file:"):
        return  # a URI filename: the operator's own arrangement
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, PRIVATE_FILE_MODE)
    os.close(fd)
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            st = file.stat()
        except FileNotFoundError:
            continue
        if st.st_mode & 0o077 and st.st_uid == os.getuid():
            log.warning("%s was open to other users (mode %o): made private (600)", file, st.st_mode & 0o777)
            file.chmod(PRIVATE_FILE_MODE)


def pool_size(url: str) -> PoolSize:
    return SQLITE_POOL if normalise_url(url).startswith("sqlite") else POSTGRES_POOL


def request_slots(url: str) -> int:
    """How many API requests may use the database at once: each holds one connection from its first
    query to its end, and the server's own threads need theirs too (see `api.deps.get_session`)."""
    return max(1, pool_size(url).connections - BACKGROUND_CONNECTIONS)


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    pool = pool_size(url)
    if url.startswith("sqlite"):
        private_sqlite_file(url)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool.size,
            max_overflow=pool.overflow,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=pool.size, max_overflow=pool.overflow)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
