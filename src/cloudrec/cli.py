"""The operator's command line: serve, developers, apps (and their callbacks), tokens, database migrations."""

from __future__ import annotations

import logging
import secrets
from typing import Annotated

import typer
from sqlalchemy import select

from cloudrec.auth import generate_token
from cloudrec.callbacks.apps import set_callback
from cloudrec.clock import SystemClock
from cloudrec.config import Settings
from cloudrec.db.migrate import upgrade
from cloudrec.db.models import App, Developer
from cloudrec.db.session import make_engine, make_sessionmaker
from cloudrec.demo.command import demo
from cloudrec.errors import CloudrecError

app = typer.Typer(
    help="cloudrec: a self-hosted cloud recording server (HST cloud recording API).", no_args_is_help=True
)
dev_app = typer.Typer(help="Developers (owners of apps).", no_args_is_help=True)
app_app = typer.Typer(help="Apps of a developer.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(dev_app, name="dev")
app.add_typer(app_app, name="app")
app.add_typer(db_app, name="db")
app.command()(demo)


def _settings() -> Settings:
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings


def _sessions(settings: Settings):  # type: ignore[no-untyped-def]
    upgrade(settings.db_url)
    return make_sessionmaker(make_engine(settings.db_url))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="listen address (CLOUDREC_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="listen port (CLOUDREC_PORT, default 28000)")] = None,
) -> None:
    """Run the API server and the recorders (migrations are applied first)."""
    import uvicorn

    from cloudrec.server import build_app

    overrides: dict[str, object] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    settings = Settings(**overrides)  # type: ignore[arg-type]
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    api = build_app(settings)
    # uvicorn's access log would print query strings (tokens, URL signatures): the API logs requests itself
    uvicorn.run(
        api, host=settings.host, port=settings.port, log_level=settings.log_level.lower(), access_log=False
    )


@dev_app.command("create")
def dev_create(name: Annotated[str, typer.Option(help="a label for the developer")] = "") -> None:
    """Create a developer; prints dev_id and dev_secret (the secret is shown only this once)."""
    settings = _settings()
    dev_id = secrets.token_hex(8)
    secret = secrets.token_hex(24)
    with _sessions(settings).begin() as s:
        s.add(Developer(dev_id=dev_id, secret=secret, name=name, created_at=SystemClock().time()))
    typer.echo(f"dev_id={dev_id}")
    typer.echo(f"dev_secret={secret}")


@app_app.command("create")
def app_create(
    dev_id: Annotated[str, typer.Option("--dev-id", help="the owning developer")],
    app_id: Annotated[str | None, typer.Option("--app-id", help="the app id; default a random one")] = None,
    name: Annotated[str, typer.Option(help="a label for the app")] = "",
) -> None:
    """Create an app of a developer; prints app_id."""
    settings = _settings()
    new_id = app_id or secrets.token_hex(8)
    with _sessions(settings).begin() as s:
        if s.get(Developer, dev_id) is None:
            typer.echo(f"no developer {dev_id!r}", err=True)
            raise typer.Exit(1)
        if s.scalar(select(App.app_id).where(App.app_id == new_id)) is not None:
            typer.echo(f"app {new_id!r} exists already", err=True)
            raise typer.Exit(1)
        s.add(App(app_id=new_id, dev_id=dev_id, name=name, created_at=SystemClock().time()))
    typer.echo(f"app_id={new_id}")


@app_app.command("callback")
def app_callback(
    app_id: Annotated[str, typer.Option("--app-id", help="the app")],
    url: Annotated[str, typer.Option("--url", help="http(s) URL receiving the events; '' turns them off")],
    rotate_secret: Annotated[
        bool, typer.Option("--rotate-secret", help="make a new callback secret")
    ] = False,
) -> None:
    """Set an app's webhook URL; prints the callback secret when it is made (shown only this once)."""
    settings = _settings()
    try:
        with _sessions(settings).begin() as s:
            setting = set_callback(s, app_id, url, rotate_secret)
    except CloudrecError as exc:
        typer.echo(exc.msg, err=True)
        raise typer.Exit(1) from None
    typer.echo(f"callback_url={setting.url}")
    if setting.secret is not None:
        typer.echo(f"callback_secret={setting.secret}")


@app.command()
def token(
    dev_id: Annotated[str, typer.Option("--dev-id")],
    secret: Annotated[str, typer.Option("--secret", help="the developer's dev_secret")],
    ttl: Annotated[int, typer.Option(help="seconds until the token expires")] = 86400,
) -> None:
    """The TokenGenerator: prints the Authorization header value for GET /access/token."""
    typer.echo(f"{dev_id}.{generate_token(dev_id, secret, ttl)}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations to the configured database."""
    settings = _settings()
    upgrade(settings.db_url)
    typer.echo("database is at the latest revision")
