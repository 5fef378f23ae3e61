"""The egress policy (issue 16 #3, #4): stream and webhook URLs refused when stored, and connections
refused at connect time on the resolved address (loopback listeners that must receive nothing)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update

from api.harness import LIVE_SERVER_SETTINGS, LiveServer, ServerFactory, Tenant
from api.test_callbacks import FAST_RETRIES, Receiver, outbox_rows, wait_for
from cloudrec.db.models import App
from cloudrec.egress import EgressPolicy, EgressRefused, check_connect, parse_networks
from cloudrec.recorder.spec import Started

PUBLISH = "/v1/group/stream/publish"
CALLBACK = "/v1/app/callback"


class Listener:
    """A TCP listener on a loopback port that counts the connections it accepts (and closes them)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port: int = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture(scope="module")
def strict_server(server_factory: ServerFactory) -> LiveServer:
    """A server with the default webhook policy (the shared one allows loopback receivers)."""
    return server_factory(max_recordings=4, min_free_disk_mb=1, **FAST_RETRIES)


@pytest.fixture
def listeners() -> Iterator[list[Listener]]:
    made = [Listener(), Listener()]
    yield made
    for listener in made:
        listener.close()


def _publish(tenant: Tenant, url: str, **fields: Any) -> dict[str, Any]:
    body = {"group_id": "g", "user_id": "u", "media_type": 2, "media_id": "0", "url": url, **fields}
    return tenant.call(PUBLISH, **body)


def _refused(reply: dict[str, Any]) -> str:
    assert reply["code"] == 6050030003, reply
    assert "url" in reply["msg"], reply
    msg: str = reply["msg"]
    return msg


# ---- stream URLs, when published -----------------------------------------------------------------


def test_stream_url_to_the_servers_own_port_is_refused(tenant: Tenant, live_server: LiveServer) -> None:
    port = live_server.settings.port
    for host in ("127.0.0.1", "localhost", "2130706433", "127.1", "0x7f.0.0.1", "[::ffff:127.0.0.1]"):
        msg = _refused(_publish(tenant, f"http://{host}:{port}/v1/record/init"))
        assert "own API" in msg, msg
    # the same host on another port is a media server: allowed (the quick start pulls from 127.0.0.1)
    assert _publish(tenant, f"http://127.0.0.1:{port + 1}/live/a.flv")["code"] == 0
    assert _publish(tenant, "rtmp://127.0.0.1/live/a")["code"] == 0
    assert _publish(tenant, "rtmp://10.1.2.3/live/a", media_id="1")["code"] == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/x.flv",
        "http://[::ffff:169.254.169.254]/",
        "http://2852039166/",  # 169.254.169.254 as one number
        "http://0.0.0.0:1935/",
        "http://[::]/x",
        "http://224.0.0.1/x",
        "http://[fd00:ec2::254]/latest/meta-data/",  # AWS metadata over IPv6: not link-local
        "http://100.100.100.200/latest/meta-data/",  # Alibaba Cloud's metadata service
    ],
)
def test_link_local_and_unspecified_stream_urls_are_refused(tenant: Tenant, url: str) -> None:
    _refused(_publish(tenant, url))
    assert tenant.get("/v1/group/stream/list", group_id="g")["total_num"] == 0


def test_operator_lists_for_streams(server_factory: ServerFactory) -> None:
    server = server_factory(
        **LIVE_SERVER_SETTINGS,
        egress_stream_deny_networks="10.0.0.0/8,fd00::/8",
        egress_stream_deny_hosts=".corp.internal",
        egress_stream_deny_ports="22,6379",
        egress_stream_allow_networks='["169.254.10.0/24"]',
    )
    tenant = server.tenant()
    assert "den" in _refused(_publish(tenant, "rtmp://10.9.8.7/live/a"))
    assert "den" in _refused(_publish(tenant, "rtmp://[fd00::5]/live/a"))
    assert "den" in _refused(_publish(tenant, "rtmp://db.corp.internal/live/a"))
    assert "denied" in _refused(_publish(tenant, "rtmp://127.0.0.1:6379/live/a"))
    assert _publish(tenant, "rtmp://169.254.10.7/live/a")["code"] == 0  # the operator's exception
    _refused(_publish(tenant, "rtmp://169.254.169.254/live/a"))  # the rest of link-local stays refused
    assert _publish(tenant, "rtmp://192.168.1.2/live/a", media_id="2")["code"] == 0


def test_a_bad_network_setting_fails_at_start(server_factory: ServerFactory) -> None:
    with pytest.raises(ValueError, match="not a network"):
        server_factory(egress_stream_deny_networks="10.0.0.0/33")


# ---- stream URLs, when the recorder connects -----------------------------------------------------


def test_recorder_does_not_connect_where_the_policy_forbids(
    server_factory: ServerFactory, listeners: list[Listener], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A URL that passed when it was published but is forbidden when the recorder connects (the name
    resolves elsewhere now, or the operator tightened the policy): the recorder never connects."""
    allowed, forbidden = listeners
    server = server_factory(**LIVE_SERVER_SETTINGS)
    tenant = server.tenant()
    assert _publish(tenant, f"http://127.0.0.1:{allowed.port}/live/a.flv", user_id="a")["code"] == 0
    assert _publish(tenant, f"http://localhost:{forbidden.port}/live/b.flv", user_id="b")["code"] == 0
    monkeypatch.setattr(server.settings, "egress_stream_deny_ports", [forbidden.port])
    record_id = tenant.init(group_id="g", auto={})
    assert server.host.spec_of(record_id).egress is not None
    deadline = time.monotonic() + 20
    while allowed.accepted < 2 and time.monotonic() < deadline:  # it reconnects: several attempts
        time.sleep(0.05)
    assert allowed.accepted >= 2, "the recorder never pulled the allowed stream"
    assert forbidden.accepted == 0
    server.finish_recordings()


def test_connect_check_resolves_names() -> None:
    policy = EgressPolicy("stream", deny_networks=parse_networks(["127.0.0.0/8", "::1"]))
    with pytest.raises(EgressRefused, match="denies"):
        check_connect("http://localhost:8080/x", policy)  # resolved now: loopback
    check_connect("/tmp/file.flv", policy)  # a local file has nothing to connect to


# ---- webhook URLs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost/hook",
        "http://0.0.0.0/hook",
        "http://127.1/hook",
        "http://[::1]/hook",
        "http://10.0.0.5/hook",
        "http://192.168.0.1:8080/hook",
        "http://100.64.0.1/hook",
        "http://[fd12::1]/hook",
        "http://2130706433/hook",
    ],
)
def test_webhook_urls_reach_public_addresses_only(strict_server: LiveServer, url: str) -> None:
    server = strict_server
    tenant = server.tenant()
    _refused(tenant.call(CALLBACK, url=url))
    assert _app(server, tenant.app_id).callback_url == ""


def test_public_webhook_url_is_accepted(strict_server: LiveServer) -> None:
    tenant = strict_server.tenant()
    # stored only: no event of this app is ever made, so nothing leaves this machine
    assert tenant.call(CALLBACK, url="https://93.184.215.14/hook")["code"] == 0


def test_webhook_to_the_servers_own_api_is_refused_even_when_loopback_is_allowed(
    tenant: Tenant, live_server: LiveServer
) -> None:
    msg = _refused(tenant.call(CALLBACK, url=f"{live_server.base_url}/v1/record/init"))
    assert "own API" in msg, msg


def test_webhook_allow_list(server_factory: ServerFactory) -> None:
    server = server_factory(**FAST_RETRIES, egress_webhook_allow_hosts="hooks.internal")
    tenant = server.tenant()
    assert tenant.call(CALLBACK, url="http://hooks.internal:8080/x")["code"] == 0
    _refused(tenant.call(CALLBACK, url="http://10.0.0.5/x"))


def test_webhook_receiver_on_loopback_receives_nothing(strict_server: LiveServer) -> None:
    """The URL got in without the API's check (the CLI, an older version, a name that resolved to a
    public address then): the delivery checks again on connect and never reaches the receiver."""
    receiver = Receiver()
    receiver.start()
    try:
        server = strict_server
        tenant = server.tenant()
        with server.ctx.sessions.begin() as s:
            s.execute(
                update(App)
                .where(App.app_id == tenant.app_id)
                .values(
                    callback_url=receiver.url,
                    callback_secret=server.settings.secret_box.seal("callback", tenant.app_id, "s" * 32),
                )
            )
        record_id = tenant.seed_task(2, start_time=None, group_id="room")
        server.host.sink.handle(record_id, Started(server.clock.time()))
        server.host.sink.drain()
        wait_for(lambda: any(r.attempts >= 2 for r in outbox_rows(server, tenant.app_id)), msg="two attempts")
        rows = outbox_rows(server, tenant.app_id)
        assert all("egress policy" in r.last_error for r in rows), [r.last_error for r in rows]
        assert receiver.all() == []
    finally:
        receiver.stop()


def _app(server: LiveServer, app_id: str) -> App:
    with server.ctx.sessions() as s:
        app = s.get(App, app_id)
        assert app is not None
        return app
