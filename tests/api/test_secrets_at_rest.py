"""Secrets at rest: developer and callback secrets sealed in the database (the key beside the signing key),
existing rows sealed by the migration, and the data dir and SQLite file private to their owner."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from api.harness import DatabaseFactory, LiveServer, ServerFactory, contract_json, start_server
from cloudrec.auth import generate_token
from cloudrec.config import SECRETS_KEY_FILE, SIGNING_KEY_FILE
from cloudrec.db.migrate import downgrade, upgrade
from cloudrec.db.session import normalise_url
from cloudrec.secretbox import PREFIX, SecretBox, new_key


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def sqlite_path(url: str) -> Path | None:
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def stored(url: str, sql: str, **params: str) -> str:
    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            return str(conn.execute(text(sql), params).scalar_one())
    finally:
        engine.dispose()


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask, which leaves new files readable by everyone."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_secrets_are_sealed_in_the_database(server_factory: ServerFactory) -> None:
    server = server_factory()
    tenant = server.tenant()  # its access_token came through GET /access/token: the sealed secret opened
    reply = tenant.call("/v1/app/callback", app_id=tenant.app_id, url="https://example.com/hook")
    callback_secret = reply["secret"]
    url = server.settings.db_url
    dev_row = stored(url, "SELECT secret FROM developers WHERE dev_id = :d", d=tenant.dev_id)
    app_row = stored(url, "SELECT callback_secret FROM apps WHERE app_id = :a", a=tenant.app_id)
    assert dev_row.startswith(PREFIX) and tenant.dev_secret not in dev_row
    assert app_row.startswith(PREFIX) and callback_secret not in app_row
    db_file = sqlite_path(url)
    if db_file is not None:  # not a byte of either secret anywhere in the database's files
        raw = b"".join(p.read_bytes() for p in db_file.parent.glob(db_file.name + "*"))
        assert tenant.dev_secret.encode() not in raw and callback_secret.encode() not in raw


def test_the_database_without_its_key_gives_nothing_away(
    server_factory: ServerFactory, databases: DatabaseFactory, tmp_path: Path
) -> None:
    """Another server on the same database, with a data dir (a key) of its own: no secret opens."""
    server = server_factory()
    dev_id, secret = server.add_developer()
    token = server.developer_token(dev_id, secret)
    with server.http() as c:
        assert contract_json(c.get("/access/token", headers={"Authorization": token}))["code"] == 0
    stranger = start_server(tmp_path / "stranger", server.settings.db_url)
    try:
        with stranger.http() as c:
            r = c.get("/access/token", headers={"Authorization": token})
        assert r.status_code == 200
        assert contract_json(r)["code"] == 6050030028
    finally:
        stranger.stop()


def test_the_migration_seals_existing_secrets(databases: DatabaseFactory, tmp_path: Path) -> None:
    url = databases.new_url()
    upgrade(url, "0007")  # the schema before secrets were sealed, with rows in the clear
    engine = create_engine(normalise_url(url))
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO developers VALUES ('olddev', 'old-secret-0123456789', '', 0)"))
        conn.execute(
            text(
                "INSERT INTO apps (app_id, dev_id, name, created_at, callback_url, callback_secret) "
                "VALUES ('oldapp', 'olddev', '', 0, 'https://example.com/', 'whsec_old')"
            )
        )
    engine.dispose()
    with pytest.raises(RuntimeError, match="secrets key"):
        upgrade(url)  # without the key nothing can be sealed: refused, nothing changed
    assert stored(url, "SELECT secret FROM developers") == "old-secret-0123456789"

    server = start_server(tmp_path / "data", url)
    try:
        box = server.settings.secret_box
        dev_row = stored(url, "SELECT secret FROM developers")
        app_row = stored(url, "SELECT callback_secret FROM apps")
        assert (
            dev_row.startswith(PREFIX) and box.open("developer", "olddev", dev_row) == "old-secret-0123456789"
        )
        assert app_row.startswith(PREFIX) and box.open("callback", "oldapp", app_row) == "whsec_old"
        token = generate_token("olddev", "old-secret-0123456789", now=server.clock.time())
        with server.http() as c:
            r = c.get("/access/token", headers={"Authorization": f"olddev.{token}"})
        assert contract_json(r)["code"] == 0  # the developer's existing secret still works
    finally:
        server.stop()
    downgrade(url, "0007", box)
    assert stored(url, "SELECT secret FROM developers") == "old-secret-0123456789"
    assert stored(url, "SELECT callback_secret FROM apps") == "whsec_old"


def test_a_sealed_value_opens_only_for_its_own_row() -> None:
    box = SecretBox(new_key())
    sealed = box.seal("developer", "dev1", "s3cret")
    assert box.open("developer", "dev1", sealed) == "s3cret"
    for kind, owner in (("developer", "dev2"), ("callback", "dev1")):
        with pytest.raises(ValueError, match="does not open"):
            box.open(kind, owner, sealed)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="does not open"):
        SecretBox(new_key()).open("developer", "dev1", sealed)
    with pytest.raises(ValueError, match="not sealed"):
        box.open("developer", "dev1", "s3cret")
    assert box.seal("callback", "a", "") == "" and box.open("callback", "a", "") == ""


def test_data_dir_keys_and_database_are_private(server_factory: ServerFactory, umask_022: None) -> None:
    server = server_factory()
    server.tenant()  # a write: SQLite has made its -wal and -shm files
    data_dir = server.settings.data_dir
    assert mode(data_dir) == 0o700
    assert mode(data_dir / SECRETS_KEY_FILE) == 0o600
    assert mode(data_dir / SIGNING_KEY_FILE) == 0o600
    _assert_private_database(server)


def test_an_existing_data_dir_and_database_are_made_private(
    databases: DatabaseFactory, tmp_path: Path, umask_022: None
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    url = databases.new_url()
    upgrade(url)  # made before: with the umask's 0644
    db_file = sqlite_path(url)
    if db_file is not None:
        db_file.chmod(0o644)
    server = start_server(data_dir, url)
    try:
        assert mode(data_dir) == 0o700
        _assert_private_database(server)
    finally:
        server.stop()


def _assert_private_database(server: LiveServer) -> None:
    db_file = sqlite_path(server.settings.db_url)
    if db_file is None:
        return  # PostgreSQL: no file of ours
    files = list(db_file.parent.glob(db_file.name + "*"))
    assert len(files) >= 1
    for path in files:
        assert mode(path) == 0o600, path
