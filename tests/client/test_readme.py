"""The README's "With the Python client" session runs as written against a real server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from api.harness import ServerFactory

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_session() -> str:
    text = README.read_text()
    section = text.split("### With the Python client", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "no python block after the heading"
    return match.group(1)


def test_the_readme_client_session_runs(
    server_factory: ServerFactory, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = server_factory(min_free_disk_mb=1)
    dev_id, secret = server.add_developer()
    server.add_app(dev_id, "myapp")
    monkeypatch.setenv("dev_id", dev_id)
    monkeypatch.setenv("dev_secret", secret)
    code = readme_session()
    assert "http://127.0.0.1:28000" in code
    exec(compile(code.replace("http://127.0.0.1:28000", server.base_url), "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "6050030001 record_id '20200101000000_0000000000000000': no such task" in out, out
    assert "media_duration=" in out and ", 2)]" in out, out  # the task was listed recording (status 2)
