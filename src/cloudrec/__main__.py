"""`python -m cloudrec` runs the CLI."""

from cloudrec.cli import app

app()
