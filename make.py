#!/usr/bin/env python3
"""Developer entry point with nothing but Python 3.11 and pip: `python3 make.py serve|demo|test|lint`.

Creates `.venv`, installs cloudrec (and for tests its dev tools, Node.js from PyPI, the test media
server from npm and Debian's chromium for the console's browser tests), then runs the command.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
MEDIASERVER = ROOT / "tests" / "mediaserver"


def run(*cmd: str | Path, **kw: object) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kw)  # type: ignore[call-overload]


def ensure_venv(dev: bool) -> None:
    if not (BIN / "python").exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
        run(BIN / "python", "-m", "pip", "install", "-q", "--upgrade", "pip")
    stamp = VENV / (".installed-dev" if dev else ".installed")
    if not stamp.exists() or stamp.stat().st_mtime < (ROOT / "pyproject.toml").stat().st_mtime:
        run(BIN / "python", "-m", "pip", "install", "-q", "-e", ".[dev]" if dev else ".")
        stamp.touch()


def ensure_mediaserver() -> None:
    lock = MEDIASERVER / "package-lock.json"
    marker = MEDIASERVER / "node_modules" / ".package-lock.json"
    if not marker.exists() or marker.stat().st_mtime < lock.stat().st_mtime:
        env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        run(BIN / "npm", "ci", "--prefix", MEDIASERVER, "--no-audit", "--no-fund", env=env)


def ensure_chromium() -> None:
    """Debian's chromium for the console's browser tests (they skip, saying why, where it cannot be had)."""
    if Path("/usr/bin/chromium").exists():
        return
    if os.geteuid() != 0 or not Path("/usr/bin/apt-get").exists():
        print("chromium is missing and cannot be installed here (needs apt-get as root): browser tests skip")
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run("apt-get", "update", "-qq", env=env)
    run("apt-get", "install", "-y", "-qq", "chromium", env=env)


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "help"
    rest = argv[1:]
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    if cmd == "serve":
        ensure_venv(dev=False)
        os.execve(BIN / "cloudrec", [str(BIN / "cloudrec"), "serve", *rest], env)
    if cmd == "demo":  # a first recording against the running server (`cloudrec demo --help`)
        ensure_venv(dev=False)
        os.execve(BIN / "cloudrec", [str(BIN / "cloudrec"), "demo", *rest], env)
    if cmd == "lint":
        ensure_venv(dev=True)
        run(BIN / "ruff", "check", "src", "tests", "benchmarks", "make.py", env=env)
        run(BIN / "ruff", "format", "--check", "src", "tests", "benchmarks", "make.py", env=env)
        run(BIN / "mypy", env=env)
        return 0
    if cmd == "test":
        ensure_venv(dev=True)
        ensure_mediaserver()
        ensure_chromium()
        return subprocess.run([str(BIN / "pytest"), *rest], cwd=ROOT, env=env).returncode
    print(__doc__)
    return 0 if cmd == "help" else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
