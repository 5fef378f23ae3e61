"""A throwaway PostgreSQL server for tests that need one and are given none (initdb on a free port)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from types import TracebackType

from .mediaserver import free_port

OS_USER = "postgres"  # initdb refuses to run as root: the server runs as this user then


def pg_bin() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return os.path.dirname(found[-1]) if found else None


class PostgresServer:
    """`with PostgresServer() as pg: pg.url` — a database `cloudrec_test` of user `cloudrec`."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = ""
        self.bin = pg_bin() or ""

    @property
    def url(self) -> str:
        return f"postgresql://cloudrec@127.0.0.1:{self.port}/cloudrec_test"

    def _as_owner(self, *cmd: str) -> None:
        prefix = ["runuser", "-u", OS_USER, "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *cmd], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def __enter__(self) -> PostgresServer:
        if not self.bin:
            raise RuntimeError("no PostgreSQL server installed (apt-get install postgresql)")
        self.dir = tempfile.mkdtemp(prefix="cloudrec-test-pg-")
        if os.geteuid() == 0:
            shutil.chown(self.dir, OS_USER)
        self._as_owner(f"{self.bin}/initdb", "-D", self.dir, "-A", "trust", "-U", "cloudrec")
        opts = f"-p {self.port} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_owner(
            f"{self.bin}/pg_ctl", "-D", self.dir, "-l", f"{self.dir}/log", "-w", "-o", opts, "start"
        )
        subprocess.run(
            [
                f"{self.bin}/createdb",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "cloudrec",
                "cloudrec_test",
            ],
            check=True,
        )
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._as_owner(f"{self.bin}/pg_ctl", "-D", self.dir, "-m", "immediate", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)
