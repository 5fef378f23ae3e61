"""The operator's command line: serve, developers, apps (and their callbacks), tokens, database migrations."""

from __future__ import annotations

import logging
import os
import re
import secrets
import string
import sys
from enum import StrEnum
from typing import Annotated

import typer
from sqlalchemy import select

from cloudrec.auth import generate_token
from cloudrec.callbacks.apps import set_callback
from cloudrec.clock import SystemClock
from cloudrec.cluster.cli import node_app  # imports `ray` only when a node command runs
from cloudrec.cluster.settings import ClusterSettingsError
from cloudrec.config import Settings
from cloudrec.db.migrate import upgrade
from cloudrec.db.models import App, Developer
from cloudrec.db.session import make_engine, make_sessionmaker
from cloudrec.demo.command import demo
from cloudrec.egress import webhook_policy
from cloudrec.errors import CloudrecError
from cloudrec.vendortoken import KEY_BYTES, generate_vendor_token, secret_key

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
app.add_typer(node_app, name="node")


# A developer secret is never an argument (other users of the machine see arguments in `ps`): it comes
# from this environment variable or from standard input.
DEV_SECRET_ENV = "CLOUDREC_DEV_SECRET"
NO_SECRET_ON_ARGV = (
    f"a secret is never taken on the command line (other users see it in `ps`): set {DEV_SECRET_ENV} "
    "or pipe it in with --secret-stdin"
)
DEV_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
SECRET_PATTERN = re.compile(r"[\x21-\x7e]{16,128}")  # printable ASCII: it travels in env vars and files
VENDOR_SECRET_ALPHABET = string.ascii_letters + string.digits  # 16 of them: 95 bits


class TokenFormat(StrEnum):
    cloudrec = "cloudrec"
    vendor = "vendor"


def _settings() -> Settings:
    return Settings().prepare()


def _sessions(settings: Settings):  # type: ignore[no-untyped-def]
    upgrade(settings.db_url, secret_box=settings.secret_box)
    return make_sessionmaker(make_engine(settings.db_url))


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def _given_secret(from_stdin: bool) -> str | None:
    """The developer secret from standard input (first line) or from CLOUDREC_DEV_SECRET; None if none."""
    if from_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            raise _fail("--secret-stdin: standard input holds no secret")
        return value
    return os.environ.get(DEV_SECRET_ENV) or None


SecretStdin = Annotated[
    bool, typer.Option("--secret-stdin", help=f"read the secret from standard input (else {DEV_SECRET_ENV})")
]
SecretOnArgv = Annotated[
    str | None, typer.Option("--secret", hidden=True, help="refused: " + NO_SECRET_ON_ARGV)
]


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
    try:
        api = build_app(settings)
    except ClusterSettingsError as exc:
        raise _fail(str(exc), 2) from None
    # uvicorn's access log would print query strings (tokens, URL signatures): the API logs requests itself
    uvicorn.run(
        api, host=settings.host, port=settings.port, log_level=settings.log_level.lower(), access_log=False
    )


@dev_app.command("create")
def dev_create(
    name: Annotated[str, typer.Option(help="a label for the developer")] = "",
    dev_id: Annotated[
        str | None,
        typer.Option("--dev-id", help="the dev_id (e.g. the vendor's AppID); default a random one"),
    ] = None,
    vendor_secret: Annotated[
        bool,
        typer.Option(
            "--vendor-secret", help=f"make a {KEY_BYTES}-character secret (works with vendor tokens)"
        ),
    ] = False,
    secret_stdin: SecretStdin = False,
    secret: SecretOnArgv = None,
) -> None:
    """Create a developer; prints dev_id, and dev_secret when it was made here (shown only this once).

    To import a developer with its secret (from the vendor: 16 characters), give the secret in
    CLOUDREC_DEV_SECRET or on standard input (--secret-stdin), never as an argument."""
    if secret is not None:
        raise _fail(NO_SECRET_ON_ARGV, 2)
    given = _given_secret(secret_stdin)
    if given is not None and vendor_secret:
        raise _fail("--vendor-secret makes a secret: it cannot be combined with a given one", 2)
    if dev_id is not None and not DEV_ID_PATTERN.fullmatch(dev_id):
        raise _fail("--dev-id must be 1 to 64 characters of A-Z a-z 0-9 . _ -", 2)
    if given is not None and not SECRET_PATTERN.fullmatch(given):
        raise _fail("the secret must be 16 to 128 printable ASCII characters without spaces", 2)
    if given is not None and secret_key(given) is None:
        typer.echo(f"note: only a {KEY_BYTES}-character secret can make vendor tokens", err=True)
    new_id = dev_id or secrets.token_hex(8)
    if given is not None:
        dev_secret = given
    elif vendor_secret:
        dev_secret = "".join(secrets.choice(VENDOR_SECRET_ALPHABET) for _ in range(KEY_BYTES))
    else:
        dev_secret = secrets.token_hex(24)
    settings = _settings()
    sealed = settings.secret_box.seal("developer", new_id, dev_secret)
    with _sessions(settings).begin() as s:
        if s.get(Developer, new_id) is not None:
            raise _fail(f"developer {new_id!r} exists already")
        s.add(Developer(dev_id=new_id, secret=sealed, name=name, created_at=SystemClock().time()))
    typer.echo(f"dev_id={new_id}")
    if given is None:
        typer.echo(f"dev_secret={dev_secret}")
    else:  # said, so that a CLOUDREC_DEV_SECRET left set in the shell is not reused unnoticed
        source = "standard input" if secret_stdin else DEV_SECRET_ENV
        typer.echo(f"dev_secret imported from {source} (not shown)", err=True)


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
            setting = set_callback(
                s, settings.secret_box, app_id, url, rotate_secret, webhook_policy(settings)
            )
    except CloudrecError as exc:
        typer.echo(exc.msg, err=True)
        raise typer.Exit(1) from None
    typer.echo(f"callback_url={setting.url}")
    if setting.secret is not None:
        typer.echo(f"callback_secret={setting.secret}")


@app.command()
def token(
    dev_id: Annotated[str, typer.Option("--dev-id")],
    ttl: Annotated[
        int | None, typer.Option(min=1, help="seconds until the token expires (default CLOUDREC_TOKEN_TTL_S)")
    ] = None,
    format_: Annotated[
        TokenFormat,
        typer.Option("--format", help="cloudrec's HMAC token, or the vendor's (needs a 16-character secret)"),
    ] = TokenFormat.cloudrec,
    group_id: Annotated[str | None, typer.Option("--group-id", help="vendor format: its gid")] = None,
    user_id: Annotated[str | None, typer.Option("--user-id", help="vendor format: its uid")] = None,
    secret_stdin: SecretStdin = False,
    secret: SecretOnArgv = None,
) -> None:
    """The TokenGenerator: prints the Authorization header value for GET /access/token.

    The developer's secret comes from CLOUDREC_DEV_SECRET or standard input (--secret-stdin)."""
    if secret is not None:
        raise _fail(NO_SECRET_ON_ARGV, 2)
    dev_secret = _given_secret(secret_stdin)
    if dev_secret is None:
        raise _fail(f"no secret: set {DEV_SECRET_ENV} or pipe it in with --secret-stdin", 2)
    lifetime = ttl if ttl is not None else Settings().token_ttl_s
    if format_ is TokenFormat.vendor:
        if secret_key(dev_secret) is None:
            raise _fail(f"a vendor token needs a {KEY_BYTES}-character secret")
        made = generate_vendor_token(dev_id, dev_secret, lifetime, group_id=group_id, user_id=user_id)
    else:
        made = generate_token(dev_id, dev_secret, lifetime)
    typer.echo(f"{dev_id}.{made}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations to the configured database."""
    settings = _settings()
    upgrade(settings.db_url, secret_box=settings.secret_box)
    typer.echo("database is at the latest revision")
