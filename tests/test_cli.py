"""The operator CLI: developers, apps, the TokenGenerator and migrations, on a real SQLite database."""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cloudrec.auth import verify_token
from cloudrec.cli import app


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("CLOUDREC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CLOUDREC_DATABASE_URL", raising=False)
    return CliRunner()


def created(output: str, key: str) -> str:
    m = re.search(rf"^{key}=(\S+)$", output, re.M)
    assert m, output
    return m.group(1)


def test_developer_app_and_token(runner: CliRunner, tmp_path: Path) -> None:
    r = runner.invoke(app, ["dev", "create", "--name", "school"])
    assert r.exit_code == 0, r.output
    dev_id, secret = created(r.output, "dev_id"), created(r.output, "dev_secret")
    r = runner.invoke(app, ["app", "create", "--dev-id", dev_id, "--app-id", "myapp"])
    assert r.exit_code == 0, r.output
    assert created(r.output, "app_id") == "myapp"
    with sqlite3.connect(tmp_path / "data" / "cloudrec.db") as db:
        assert db.execute("SELECT dev_id FROM apps WHERE app_id='myapp'").fetchone() == (dev_id,)
    r = runner.invoke(app, ["token", "--dev-id", dev_id, "--secret", secret, "--ttl", "60"])
    assert r.exit_code == 0, r.output
    header = r.output.strip()
    assert header.startswith(dev_id + ".") and header.count(".") == 1 + dev_id.count(".")
    token = header[len(dev_id) + 1 :]
    assert verify_token(dev_id, token, secret, time.time())
    assert not verify_token(dev_id, token, "another secret", time.time())
    assert not verify_token(dev_id, token, secret, time.time() + 61)  # expired after its ttl


def test_app_of_an_unknown_developer_or_a_taken_id_is_refused(runner: CliRunner) -> None:
    r = runner.invoke(app, ["app", "create", "--dev-id", "nobody"])
    assert r.exit_code == 1
    assert "no developer" in r.output
    dev_id = created(runner.invoke(app, ["dev", "create"]).output, "dev_id")
    assert runner.invoke(app, ["app", "create", "--dev-id", dev_id, "--app-id", "a1"]).exit_code == 0
    r = runner.invoke(app, ["app", "create", "--dev-id", dev_id, "--app-id", "a1"])
    assert r.exit_code == 1
    assert "exists already" in r.output


def test_db_upgrade_creates_the_schema(runner: CliRunner, tmp_path: Path) -> None:
    r = runner.invoke(app, ["db", "upgrade"])
    assert r.exit_code == 0, r.output
    with sqlite3.connect(tmp_path / "data" / "cloudrec.db") as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        version = db.execute("SELECT version_num FROM alembic_version").fetchone()
    assert {"developers", "apps", "access_tokens", "tasks", "files", "group_streams"} <= tables
    assert version is not None
