"""What `cloudrec demo` says when something is wrong, and that it undoes what it started (in-process: the
same command, without a Python start-up each)."""

from __future__ import annotations

import contextlib
import hashlib
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api.harness import DatabaseFactory, LiveServer
from typer.testing import CliRunner, Result

from cloudrec.cli import app as cli
from cloudrec.db.migrate import upgrade
from cloudrec.demo.client import Client, DemoError
from cloudrec.demo.sources import SourceServer
from e2e.demo_helpers import (
    SOURCE_URL,
    demo_server,
    demo_tenant,
    group_streams,
    port_closed,
)


@pytest.fixture
def server(databases: DatabaseFactory, tmp_path: Path) -> Iterator[LiveServer]:
    with demo_server(databases, tmp_path) as live:
        yield live


def failure(server_url: str, data_dir: Path, database_url: str | None = None) -> Result:
    """`cloudrec demo` that must fail with a reason and what to do."""
    env = {"CLOUDREC_DATABASE_URL": database_url}  # None: unset, the data dir's SQLite file
    args = ["demo", "--url", server_url, "--data-dir", str(data_dir), "--out", str(data_dir / "out")]
    r = CliRunner().invoke(cli, args, env=env)
    assert r.exit_code == 1, r.output
    assert re.search(r"^error: .+\nwhat to do: .+", r.stderr, re.M), r.stderr
    return r


def test_without_a_server_it_says_how_to_start_one(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once closed
    err = failure(f"http://127.0.0.1:{port}", tmp_path).stderr
    assert f"no server at http://127.0.0.1:{port}" in err
    assert "python3 make.py serve" in err


def test_a_url_that_is_not_cloudrec_is_named(tmp_path: Path) -> None:
    with SourceServer() as other:  # a real HTTP server that is not cloudrec
        err = failure(f"http://127.0.0.1:{other.port}", tmp_path).stderr
    assert "not a cloudrec reply" in err and "HTTP 404" in err


def test_a_server_that_hangs_up_is_named(tmp_path: Path) -> None:
    with socket.socket() as listener:  # accepts, then closes every connection without a word
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        def hang_up() -> None:
            with contextlib.suppress(OSError):
                while True:
                    listener.accept()[0].close()

        threading.Thread(target=hang_up, daemon=True).start()
        err = failure(f"http://127.0.0.1:{port}", tmp_path).stderr
    assert f"GET /access/token on http://127.0.0.1:{port} failed" in err
    assert "check that the server is running" in err


def test_a_data_dir_without_the_servers_database_is_named(server: LiveServer, tmp_path: Path) -> None:
    empty = tmp_path / "elsewhere"  # no database at all there
    err = failure(server.base_url, empty).stderr
    assert f"no cloudrec database at {(empty / 'cloudrec.db').resolve()}" in err
    assert "--data-dir" in err
    (empty / "cloudrec.db").parent.mkdir()
    (empty / "cloudrec.db").touch()  # a database, with no tables
    err = failure(server.base_url, empty).stderr
    assert "has no cloudrec tables" in err and "--data-dir" in err
    (empty / "cloudrec.db").write_bytes(b"not a database" * 100)
    err = failure(server.base_url, empty).stderr
    assert "cannot use the database" in err and "file is not a database" in err
    other = tmp_path / "other"  # a database, but not the server's: the server does not know the demo
    other.mkdir()
    upgrade(f"sqlite:///{other / 'cloudrec.db'}")
    err = failure(server.base_url, other).stderr
    assert "6050030028" in err and "uses another database" in err and "--data-dir" in err


def test_an_app_id_taken_by_another_developer_is_named(server: LiveServer) -> None:
    dev_id, _ = server.add_developer()
    server.add_app(dev_id, "demo")
    err = failure(server.base_url, server.settings.data_dir, server.settings.database_url).stderr
    assert f"the app id 'demo' belongs to developer {dev_id!r}" in err


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"max_recordings": 0}, ["6050030009", "CLOUDREC_MAX_RECORDINGS"]),
        ({"allowed_url_schemes": ["rtmp"]}, ["6050030003", "CLOUDREC_ALLOWED_URL_SCHEMES"]),
        ({"min_free_disk_mb": 10**12}, ["6050030008", "CLOUDREC_MIN_FREE_DISK_MB"]),
    ],
    ids=["no recorder free", "http sources refused", "disk full"],
)
def test_a_refusal_of_the_server_says_what_to_change_and_undoes_the_demo(
    databases: DatabaseFactory, tmp_path: Path, settings: dict[str, Any], expected: list[str]
) -> None:
    with demo_server(databases, tmp_path, **settings) as live:
        r = failure(live.base_url, live.settings.data_dir, live.settings.database_url)
        assert all(e in r.stderr for e in expected), r.stderr
        assert "created dev_id=demo app_id=demo" in r.stdout
        port, group = SOURCE_URL.search(r.stdout), re.search(r"into group (\S+)", r.stdout)
        assert port and group, r.stdout
        assert port_closed(int(port[1]))
        assert group_streams(demo_tenant(live), group[1]) == 0  # what it published is unpublished
        if "max_recordings" in settings:  # a second run finds the developer and app of the first,
            r = failure(live.base_url, live.settings.data_dir, live.settings.database_url)
            assert "reused dev_id=demo app_id=demo" in r.stdout  # and signs in with the stored secret
            assert expected[0] in r.stderr


def test_a_sources_port_in_use_is_named() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = CliRunner().invoke(cli, ["demo", "--serve-sources", "--sources-port", str(port)])
    assert r.exit_code == 1, r.output
    assert f"cannot listen on 127.0.0.1:{port}" in r.stderr and "--sources-port" in r.stderr


def test_a_download_that_fails_or_differs_from_its_md5_is_refused(tmp_path: Path) -> None:
    client = Client("http://127.0.0.1:1", "demo")
    with SourceServer() as http:  # a real HTTP server: 404 for an unknown path, a listing at /
        with pytest.raises(DemoError, match="answered HTTP 404"):
            client.download(f"http://127.0.0.1:{http.port}/nope", tmp_path / "a.mp4", "0" * 32)
        with pytest.raises(DemoError, match=r"a\.mp4: md5 [0-9a-f]{32}, the API said 0{32}"):
            client.download(f"http://127.0.0.1:{http.port}/", tmp_path / "a.mp4", "0" * 32)
        listing = httpx.get(f"http://127.0.0.1:{http.port}/").content
        size = client.download(
            f"http://127.0.0.1:{http.port}/", tmp_path / "a.mp4", hashlib.md5(listing).hexdigest()
        )
    assert size == len(listing) and (tmp_path / "a.mp4").read_bytes() == listing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4"]  # no partial file left behind


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--url", "127.0.0.1:28000"], "--url"),
        (["--phase-s", "0.1"], "--phase-s"),
        (["--pause-s", "61"], "--pause-s"),
    ],
)
def test_a_bad_option_is_refused_naming_it(args: list[str], named: str) -> None:
    r = CliRunner().invoke(cli, ["demo", *args])
    assert r.exit_code == 2, r.output
    assert named in r.stderr and "Invalid value" in r.stderr, r.stderr
