"""The demo's developer and app, made (or found again) in the server's database, as `cloudrec dev create`
and `cloudrec app create` make them."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from cloudrec.clock import SystemClock
from cloudrec.config import Settings
from cloudrec.db.models import App, Developer
from cloudrec.db.session import make_engine, make_sessionmaker
from cloudrec.demo.client import SAME_DATABASE, DemoError
from cloudrec.secretbox import SecretBoxError

DEMO_DEV_ID = "demo"
DEMO_APP_ID = "demo"
DEMO_LABEL = "cloudrec demo"


@dataclass(frozen=True)
class DemoTenant:
    dev_id: str
    dev_secret: str  # signs the demo's developer token; never printed
    app_id: str
    created: bool  # made now (False: found from an earlier demo)


def _sqlite_file(settings: Settings) -> Path | None:
    """The SQLite file of the settings' database, or None for another database (PostgreSQL)."""
    if settings.database_url:
        return None
    return (settings.data_dir / "cloudrec.db").resolve()


def where(settings: Settings) -> str:
    """The database, for people: the SQLite file, or the database URL without its password."""
    path = _sqlite_file(settings)
    if path is not None:
        return str(path)
    return make_url(settings.database_url).render_as_string(hide_password=True)


def demo_tenant(settings: Settings) -> DemoTenant:
    """The developer `demo` and its app `demo`: found, or made now. The server must have made the schema
    (it migrates on start): the demo never creates a database of its own, which the server would not see."""
    path = _sqlite_file(settings)
    if path is not None and not path.exists():
        raise DemoError(f"no cloudrec database at {path}", "start the server first, or " + SAME_DATABASE)
    settings.prepare()  # the server's keys: the demo developer's secret is stored sealed, as the CLI does
    box = settings.secret_box
    engine = make_engine(settings.db_url)
    try:
        if not inspect(engine).has_table(Developer.__tablename__):
            raise DemoError(f"the database {where(settings)} has no cloudrec tables", SAME_DATABASE)
        with make_sessionmaker(engine).begin() as s:
            created = False
            dev = s.get(Developer, DEMO_DEV_ID)
            if dev is None:
                secret = secrets.token_hex(24)
                dev = Developer(
                    dev_id=DEMO_DEV_ID,
                    secret=box.seal("developer", DEMO_DEV_ID, secret),
                    name=DEMO_LABEL,
                    created_at=SystemClock().time(),
                )
                s.add(dev)
                created = True
            else:
                try:
                    secret = box.open("developer", DEMO_DEV_ID, dev.secret)
                except SecretBoxError:
                    raise DemoError(
                        "the demo developer's secret cannot be read with this data dir's key",
                        SAME_DATABASE,
                    ) from None
            app = s.get(App, DEMO_APP_ID)
            if app is None:
                s.add(
                    App(
                        app_id=DEMO_APP_ID,
                        dev_id=DEMO_DEV_ID,
                        name=DEMO_LABEL,
                        created_at=SystemClock().time(),
                    )
                )
                created = True
            elif app.dev_id != DEMO_DEV_ID:
                raise DemoError(
                    f"the app id {DEMO_APP_ID!r} belongs to developer {app.dev_id!r}, not to the demo",
                    "the demo needs that app id: run it against another data dir (--data-dir)",
                )
            return DemoTenant(DEMO_DEV_ID, secret, DEMO_APP_ID, created)
    except SQLAlchemyError as exc:
        # the driver's message, not SQLAlchemy's: that one quotes the statement's parameters (the secret)
        reason = getattr(exc, "orig", None) or exc.__class__.__name__
        raise DemoError(f"cannot use the database {where(settings)}: {reason}", SAME_DATABASE) from None
    finally:
        engine.dispose()
