"""The `cloudrec demo` command: options, Ctrl-C, and what a failure says (the work is in `demo.run`)."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

DEFAULT_OUT = Path("cloudrec-demo")
SERVE_SOURCES_PORT = 28001  # next to the server's 28000: the README's curl session names it
INTERRUPTED_EXIT = 130  # what shells report for a command ended by Ctrl-C (128 + SIGINT)


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up like Ctrl-C


def demo(
    url: Annotated[
        str | None, typer.Option(help="the server; default http://127.0.0.1:<CLOUDREC_PORT or 28000>")
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir", help="the server's data dir, where the demo developer is made (CLOUDREC_DATA_DIR)"
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="where the downloaded files go")] = DEFAULT_OUT,
    frame: Annotated[
        Path | None, typer.Option(help="also save a picture of the recording (PNG) there")
    ] = None,
    phase_s: Annotated[float, typer.Option(min=0.5, max=60, help="seconds of each recorded part")] = 3.0,
    pause_s: Annotated[float, typer.Option(min=0.5, max=60, help="seconds suspended")] = 2.0,
    serve_sources: Annotated[
        bool, typer.Option("--serve-sources", help="only serve the live test sources, until Ctrl-C")
    ] = False,
    sources_port: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=65535,
            help=f"port of the sources (default: any free one; {SERVE_SOURCES_PORT} with --serve-sources)",
        ),
    ] = None,
) -> None:
    """Your first recording: live test sources, an automatic grid that changes, a pause, the file.

    Needs a running server on this machine (`python3 make.py serve`). Makes (or reuses) the developer
    `demo` and its app `demo` in the server's database, serves four generated live streams on
    127.0.0.1, records them, downloads the file and prints where it is.
    """
    # Ctrl-C and SIGTERM clean up, also where the shell started the demo with SIGINT ignored (`&` in a
    # script); the caller's handlers come back after (the command also runs inside other programs)
    installed = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: _interrupt}
    previous = {sig: signal.signal(sig, handler) for sig, handler in installed.items()}
    try:
        _demo(url, data_dir, out, frame, phase_s, pause_s, serve_sources, sources_port)
    finally:
        for sig, handler in previous.items():
            if handler is not None:
                signal.signal(sig, handler)


def _demo(
    url: str | None,
    data_dir: Path | None,
    out: Path,
    frame: Path | None,
    phase_s: float,
    pause_s: float,
    serve_sources: bool,
    sources_port: int | None,
) -> None:
    from cloudrec.config import Settings
    from cloudrec.demo.client import DemoError

    overrides: dict[str, object] = {} if data_dir is None else {"data_dir": data_dir}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    try:
        if serve_sources:
            _serve_sources(SERVE_SOURCES_PORT if sources_port is None else sources_port)
            return
        from cloudrec.demo.run import Demo, DemoOptions

        url = url or f"http://127.0.0.1:{settings.port}"
        if not url.startswith(("http://", "https://")):
            raise typer.BadParameter(
                f"{url!r} is not an http(s) URL such as http://127.0.0.1:28000", param_hint="--url"
            )
        options = DemoOptions(
            url=url,
            settings=settings,
            out_dir=out,
            frame=frame,
            phase_s=phase_s,
            pause_s=pause_s,
            sources_port=sources_port or 0,
        )
        run = Demo(options, typer.echo)
        try:
            run.run()
        except KeyboardInterrupt:
            undone = run.cleanup()
            typer.echo(f"interrupted: {', '.join(undone) or 'nothing had started'}", err=True)
            raise typer.Exit(INTERRUPTED_EXIT) from None
        finally:
            run.cleanup()
    except DemoError as exc:
        typer.echo(f"error: {exc.what}", err=True)
        if exc.todo:
            typer.echo(f"what to do: {exc.todo}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:  # a second Ctrl-C, during the cleanup
        typer.echo("interrupted", err=True)
        raise typer.Exit(INTERRUPTED_EXIT) from None


def _serve_sources(port: int) -> None:
    import time

    from cloudrec.demo.run import start_sources
    from cloudrec.demo.sources import DEMO_SOURCES

    server = start_sources(port)
    try:
        typer.echo("Live test sources (video and audio in each; publish a URL once per media):")
        for spec in DEMO_SOURCES:
            typer.echo(f"  {spec.name:6} {server.url(spec.name)}  ({spec.tone_hz:.0f} Hz)")
        typer.echo("Serving until Ctrl-C (or SIGTERM).")
        sys.stdout.flush()
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        typer.echo("sources stopped")
    finally:
        server.close()
