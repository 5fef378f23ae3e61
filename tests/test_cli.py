"""The operator CLI: developers (imported or made), apps, the TokenGenerator in both formats and migrations,
on a real SQLite database; secrets never from the command line; the README's steps against a real server."""

from __future__ import annotations

import re
import sqlite3
import string
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api.harness import LiveServer, contract_json, start_server
from typer.testing import CliRunner

from cloudrec.auth import verify_token
from cloudrec.cli import app
from cloudrec.config import Settings
from cloudrec.secretbox import PREFIX

VENDOR_SECRET = "Ab3dEf6hIj9lMn2p"  # 16 characters, as the vendor's secrets


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CLOUDREC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CLOUDREC_DATABASE_URL", raising=False)
    monkeypatch.delenv("CLOUDREC_DEV_SECRET", raising=False)
    return tmp_path / "data"


@pytest.fixture
def runner(data_dir: Path) -> CliRunner:
    return CliRunner()


def created(output: str, key: str) -> str:
    m = re.search(rf"^{key}=(\S+)$", output, re.M)
    assert m, output
    return m.group(1)


def stored_secret(data_dir: Path, dev_id: str) -> str:
    with sqlite3.connect(data_dir / "cloudrec.db") as db:
        row = db.execute("SELECT secret FROM developers WHERE dev_id = ?", (dev_id,)).fetchone()
    assert row is not None
    return str(row[0])


def opened_secret(data_dir: Path, dev_id: str) -> str:
    box = Settings(data_dir=data_dir).prepare().secret_box
    return box.open("developer", dev_id, stored_secret(data_dir, dev_id))


def test_developer_app_and_token(runner: CliRunner, data_dir: Path) -> None:
    r = runner.invoke(app, ["dev", "create", "--name", "school"])
    assert r.exit_code == 0, r.output
    dev_id, secret = created(r.output, "dev_id"), created(r.output, "dev_secret")
    assert stored_secret(data_dir, dev_id).startswith(PREFIX)  # sealed, never in the clear
    assert secret not in stored_secret(data_dir, dev_id) and opened_secret(data_dir, dev_id) == secret
    r = runner.invoke(app, ["app", "create", "--dev-id", dev_id, "--app-id", "myapp"])
    assert r.exit_code == 0, r.output
    assert created(r.output, "app_id") == "myapp"
    with sqlite3.connect(data_dir / "cloudrec.db") as db:
        assert db.execute("SELECT dev_id FROM apps WHERE app_id='myapp'").fetchone() == (dev_id,)
    r = runner.invoke(app, ["token", "--dev-id", dev_id, "--ttl", "60"], env={"CLOUDREC_DEV_SECRET": secret})
    assert r.exit_code == 0, r.output
    header = r.output.strip()
    assert header.startswith(dev_id + ".") and header.count(".") == 1 + dev_id.count(".")
    token = header[len(dev_id) + 1 :]
    assert verify_token(dev_id, token, secret, time.time())
    assert not verify_token(dev_id, token, "another secret", time.time())
    assert not verify_token(dev_id, token, secret, time.time() + 61)  # expired after its ttl
    r = runner.invoke(app, ["token", "--dev-id", dev_id, "--secret-stdin"], input=secret + "\n")
    assert r.exit_code == 0, r.output
    assert verify_token(dev_id, r.output.strip()[len(dev_id) + 1 :], secret, time.time())


def test_a_secret_on_the_command_line_is_refused(runner: CliRunner) -> None:
    for args in (
        ["token", "--dev-id", "d", "--secret", "hunter2hunter2hunter2"],
        ["dev", "create", "--secret", "x"],
    ):
        r = runner.invoke(app, args)
        assert r.exit_code == 2, r.output
        assert "CLOUDREC_DEV_SECRET" in r.output and "--secret-stdin" in r.output
        assert "hunter2" not in r.output
    r = runner.invoke(app, ["token", "--dev-id", "d"])  # and no secret at all
    assert r.exit_code == 2 and "CLOUDREC_DEV_SECRET" in r.output
    r = runner.invoke(app, ["token", "--dev-id", "d", "--secret-stdin"], input="")
    assert r.exit_code == 1 and "standard input" in r.output


def test_import_a_vendor_developer(runner: CliRunner, data_dir: Path) -> None:
    r = runner.invoke(
        app, ["dev", "create", "--dev-id", "925aa51ebf829d49"], env={"CLOUDREC_DEV_SECRET": VENDOR_SECRET}
    )
    assert r.exit_code == 0, r.output
    assert created(r.output, "dev_id") == "925aa51ebf829d49"
    assert "dev_secret=" not in r.output and VENDOR_SECRET not in r.output  # the operator has it already
    assert "imported from CLOUDREC_DEV_SECRET" in r.output  # (stderr) said, not silently reused
    assert opened_secret(data_dir, "925aa51ebf829d49") == VENDOR_SECRET
    r = runner.invoke(
        app, ["dev", "create", "--dev-id", "other", "--secret-stdin"], input=VENDOR_SECRET + "\n"
    )
    assert r.exit_code == 0 and opened_secret(data_dir, "other") == VENDOR_SECRET
    r = runner.invoke(app, ["dev", "create", "--dev-id", "other"])
    assert r.exit_code == 1 and "exists already" in r.output


@pytest.mark.parametrize(
    ("args", "secret", "message"),
    [
        (["--dev-id", "a b"], None, "--dev-id"),
        (["--dev-id", "x" * 65], None, "--dev-id"),
        (["--dev-id", "ok"], "short", "16 to 128"),
        (["--dev-id", "ok"], "sixteen chars  !", "16 to 128"),  # spaces
        (["--dev-id", "ok"], "é" * 16, "16 to 128"),
        (["--dev-id", "ok", "--vendor-secret"], VENDOR_SECRET, "--vendor-secret"),
    ],
)
def test_bad_imports_are_refused(
    runner: CliRunner, args: list[str], secret: str | None, message: str
) -> None:
    env = {"CLOUDREC_DEV_SECRET": secret} if secret else {}
    r = runner.invoke(app, ["dev", "create", *args], env=env)
    assert r.exit_code == 2, r.output
    assert message in r.output


def test_a_vendor_secret_is_made_on_request(runner: CliRunner, data_dir: Path) -> None:
    r = runner.invoke(app, ["dev", "create", "--vendor-secret"])
    assert r.exit_code == 0, r.output
    secret = created(r.output, "dev_secret")
    assert len(secret) == 16 and set(secret) <= set(string.ascii_letters + string.digits)
    assert opened_secret(data_dir, created(r.output, "dev_id")) == secret


def test_a_vendor_token_needs_a_16_character_secret(runner: CliRunner) -> None:
    r = runner.invoke(
        app, ["token", "--dev-id", "d", "--format", "vendor"], env={"CLOUDREC_DEV_SECRET": "a" * 48}
    )
    assert r.exit_code == 1 and "16-character" in r.output


def test_app_of_an_unknown_developer_or_a_taken_id_is_refused(runner: CliRunner) -> None:
    r = runner.invoke(app, ["app", "create", "--dev-id", "nobody"])
    assert r.exit_code == 1
    assert "no developer" in r.output
    dev_id = created(runner.invoke(app, ["dev", "create"]).output, "dev_id")
    assert runner.invoke(app, ["app", "create", "--dev-id", dev_id, "--app-id", "a1"]).exit_code == 0
    r = runner.invoke(app, ["app", "create", "--dev-id", dev_id, "--app-id", "a1"])
    assert r.exit_code == 1
    assert "exists already" in r.output


def test_db_upgrade_creates_the_schema(runner: CliRunner, data_dir: Path) -> None:
    r = runner.invoke(app, ["db", "upgrade"])
    assert r.exit_code == 0, r.output
    with sqlite3.connect(data_dir / "cloudrec.db") as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        version = db.execute("SELECT version_num FROM alembic_version").fetchone()
    assert {"developers", "apps", "access_tokens", "tasks", "files", "group_streams"} <= tables
    assert version is not None


# ---- the README's "Try it with curl", steps 1 and 2, against a real server -------------------------


@pytest.fixture
def server_on(data_dir: Path) -> Iterator[LiveServer]:
    """A real server on the CLI's data dir and database (as `python3 make.py serve` runs it)."""
    server = start_server(data_dir, "", real_time=True)
    yield server
    server.stop()


def test_readme_steps_with_both_token_formats(runner: CliRunner, server_on: LiveServer) -> None:
    r = runner.invoke(app, ["dev", "create", "--vendor-secret"])
    assert r.exit_code == 0, r.output
    dev_id, secret = created(r.output, "dev_id"), created(r.output, "dev_secret")
    assert runner.invoke(app, ["app", "create", "--dev-id", dev_id, "--app-id", "myapp"]).exit_code == 0
    for fmt in ("cloudrec", "vendor"):
        r = runner.invoke(
            app, ["token", "--dev-id", dev_id, "--format", fmt], env={"CLOUDREC_DEV_SECRET": secret}
        )
        assert r.exit_code == 0, r.output
        auth = r.output.strip()
        with httpx.Client(base_url=server_on.base_url, timeout=30) as c:
            reply = contract_json(c.get("/access/token", headers={"Authorization": auth}))
            assert reply["code"] == 0, (fmt, reply)
            access = reply["result"]["access_token"]
            listed = c.get(
                "/v1/record/task/list", params={"app_id": "myapp"}, headers={"Authorization": access}
            )
            assert contract_json(listed)["code"] == 0
    # an imported vendor developer: its own token generator's tokens work too
    r = runner.invoke(
        app, ["dev", "create", "--dev-id", "vendorapp"], env={"CLOUDREC_DEV_SECRET": VENDOR_SECRET}
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        app,
        ["token", "--dev-id", "vendorapp", "--format", "vendor", "--group-id", "g1", "--user-id", "u1"],
        env={"CLOUDREC_DEV_SECRET": VENDOR_SECRET},
    )
    with httpx.Client(base_url=server_on.base_url, timeout=30) as c:
        assert contract_json(c.get("/access/token", headers={"Authorization": r.output.strip()}))["code"] == 0
