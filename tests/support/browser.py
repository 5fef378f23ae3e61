"""Real Chromium for the console's tests: Debian's `chromium` driven by Playwright (no browser download).

`make.py test` and `.ci/run` install the `chromium` package when it is missing (apt-get, as root);
`chromium_or_skip()` skips only where that was impossible, saying why.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CLOUDREC_TEST_CHROMIUM", "/usr/bin/chromium")
# Nothing but the page under test: no GPU, no update or sync traffic, loopback only.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(
    os.environ.get("CLOUDREC_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts")
)


def chromium_or_skip() -> str:
    """The Chromium executable, or skip the test with the reason it is missing."""
    if Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    how = "make.py test installs it as root" if os.geteuid() != 0 else "apt-get install chromium failed"
    if shutil.which("apt-get") is None:
        how = "no apt-get on this system to install it"
    pytest.skip(f"{CHROMIUM} is missing ({how}): the console's browser tests need Debian's chromium")


def artifacts_dir(name: str) -> Path:
    """Where a test keeps its screenshots (ignored by git)."""
    path = ARTIFACTS / name
    path.mkdir(parents=True, exist_ok=True)
    return path
