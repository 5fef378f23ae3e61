"""The client's access_tokens (made, renewed in time, renewed on 606000001) and its exceptions."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from api.harness import LiveServer, ServerFactory, Tenant
from sqlalchemy import func, select

from client.conftest import client_of
from cloudrec.client import (
    AccessTokenTimeout,
    ApiError,
    AuthenticationFailed,
    AuthorizationFailed,
    Client,
    CloudrecClientError,
    FileReadError,
    LoadLimit,
    NotLoggedIn,
    ParamError,
    ProtocolError,
    TaskNotFound,
    TransportError,
    errors,
)
from cloudrec.db.models import AccessToken

TTL_S = 60  # the access_token lifetime of the renewal tests' server


def tokens_of(server: LiveServer, dev_id: str) -> int:
    with server.ctx.sessions() as s:
        return s.scalar(select(func.count()).where(AccessToken.dev_id == dev_id)) or 0


class PathLog:
    """The paths a client's requests went to, in order (an httpx response hook)."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def __call__(self, response: httpx.Response) -> None:
        self.paths.append(response.request.url.path)


@pytest.fixture(scope="module")
def short_tokens(server_factory: ServerFactory) -> LiveServer:
    return server_factory(access_token_ttl_s=TTL_S, min_free_disk_mb=1)


def logged_client(tenant: Tenant, clock: Any) -> tuple[Client, PathLog]:
    log = PathLog()
    http = httpx.Client(base_url=tenant.server.base_url, timeout=30, event_hooks={"response": [log]})
    return client_of(tenant, clock=clock, http=http), log


def test_an_expired_access_token_is_renewed_and_the_call_sent_again(short_tokens: LiveServer) -> None:
    tenant = short_tokens.tenant()
    frozen = short_tokens.clock.time()  # the client's clock stands still: only the server sees the expiry
    client, log = logged_client(tenant, lambda: frozen)
    assert client.task_list().total_num == 0
    assert log.paths == ["/access/token", "/v1/record/task/list"]
    before = tokens_of(short_tokens, tenant.dev_id)
    short_tokens.clock.advance(TTL_S + 1)
    assert client.task_list().total_num == 0
    # refused with 606000001, renewed, sent again
    assert log.paths[2:] == ["/v1/record/task/list", "/access/token", "/v1/record/task/list"]
    assert tokens_of(short_tokens, tenant.dev_id) == before + 1


def test_an_access_token_is_renewed_before_it_expires(short_tokens: LiveServer) -> None:
    tenant = short_tokens.tenant()
    client, log = logged_client(tenant, short_tokens.clock.time)
    client.task_list()
    short_tokens.clock.advance(TTL_S * 0.95)  # inside the renewal margin, not yet expired
    client.task_list()
    assert log.paths == ["/access/token", "/v1/record/task/list", "/access/token", "/v1/record/task/list"]
    result = client.renew()
    assert result.timeout == TTL_S and len(result.access_token) == 32
    assert log.paths[-1] == "/access/token"


def test_a_given_access_token_is_not_renewed_and_its_timeout_raised(short_tokens: LiveServer) -> None:
    tenant = short_tokens.tenant()
    with Client(short_tokens.base_url, access_token=tenant.access_token, app_id=tenant.app_id) as client:
        assert client.task_list().total_num == 0
        short_tokens.clock.advance(TTL_S + 1)
        with pytest.raises(AccessTokenTimeout) as timeout:
            client.task_list()
        assert timeout.value.code == 606000001 and timeout.value.msg == "access_token timeout"
        with pytest.raises(ValueError, match="dev_id"):
            client.renew()


def test_bad_credentials_raise_authentication_failed(live_server: LiveServer, tenant: Tenant) -> None:
    with client_of(tenant, dev_secret="not-the-secret") as client, pytest.raises(AuthenticationFailed) as bad:
        client.task_list()
    assert bad.value.code == 6050030028
    with Client(live_server.base_url, access_token="0" * 32, app_id=tenant.app_id) as client:
        with pytest.raises(AuthorizationFailed) as unknown:
            client.task_list()
        assert unknown.value.code == 6050030007 and "unknown access_token" in unknown.value.msg
    with (
        Client(live_server.base_url, access_token="", app_id=tenant.app_id) as client,
        pytest.raises(NotLoggedIn),
    ):
        client.task_list()
    with pytest.raises(ValueError, match="dev_secret"):
        Client(live_server.base_url, dev_id=tenant.dev_id)
    with pytest.raises(ValueError, match="access_token"):
        Client(live_server.base_url)


def test_contract_errors_carry_code_and_message(
    live_server: LiveServer, client: Client, tenant: Tenant
) -> None:
    with pytest.raises(TaskNotFound) as missing:
        client.finish("20200101000000_0000000000000000")
    assert missing.value.code == 6050030001 and "20200101000000_0000000000000000" in missing.value.msg
    assert missing.value.status_code == 200 and missing.value.reply["code"] == 6050030001
    with pytest.raises(ParamError) as param:
        client.init("room", width=5000)
    assert param.value.code == 6050030003 and "width" in param.value.msg
    record_id = client.init("room").record_id
    with pytest.raises(FileReadError):
        client.download_urls(record_id)
    stranger = live_server.tenant()
    with pytest.raises(AuthorizationFailed) as foreign:
        client.task_list(app_id=stranger.app_id)
    assert foreign.value.code == 6050030007
    with pytest.raises(ParamError, match="is not finished yet; nothing was deleted"):
        client.delete_files([record_id])
    assert isinstance(param.value, ApiError) and isinstance(param.value, CloudrecClientError)


def test_load_limit_when_no_recorder_slot_is_left(server_factory: ServerFactory) -> None:
    server = server_factory(max_recordings=0, min_free_disk_mb=1)
    with client_of(server.tenant()) as client, pytest.raises(LoadLimit) as full:
        client.init("room")
    assert full.value.code == 6050030009


class _NotTheServer(BaseHTTPRequestHandler):
    """A proxy's error page; on /v1/record/task/list a contract reply of the wrong shape."""

    def do_GET(self) -> None:
        if self.path.startswith("/v1/record/task/list"):
            status, kind, body = 200, "application/json", b'{"code":0,"msg":"OK","total_num":"many"}'
        else:
            status, kind, body = 502, "text/html", b"<html>bad gateway</html>"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def proxy_error_page() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _NotTheServer)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_reply_that_is_not_the_contracts_json_raises_protocol_error(proxy_error_page: str) -> None:
    with Client(proxy_error_page, dev_id="dev", dev_secret="secret", app_id="app") as client:
        with pytest.raises(ProtocolError) as bad:
            client.task_list()  # its access_token exchange gets the error page
        assert bad.value.response.status_code == 502 and "502" in str(bad.value)
        with pytest.raises(ProtocolError) as page:
            client.fetch(f"{proxy_error_page}/download/x")
        assert page.value.response.status_code == 502
    shape = Client(proxy_error_page, access_token="t", app_id="app")
    with shape, pytest.raises(ProtocolError, match="total_num") as wrong:
        shape.task_list()
    assert wrong.value.response.status_code == 200


def test_a_tampered_or_deleted_file_link_raises_its_contract_error(client: Client, tenant: Tenant) -> None:
    record_id = tenant.finished()
    tenant.add_segments(record_id, 1)
    (item,) = client.download_urls(record_id).data_list
    with pytest.raises(AuthorizationFailed) as tampered:
        client.fetch(item.url[:-4] + "0000")
    assert tampered.value.status_code == 403 and tampered.value.msg == "invalid download link"
    client.delete_files([record_id])
    with pytest.raises(FileReadError) as gone:
        client.fetch(item.url)
    assert gone.value.status_code == 404 and gone.value.code == 6050030031


def test_an_unreachable_server_raises_transport_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once the socket is closed
    client = Client(f"http://127.0.0.1:{port}", access_token="x", app_id="app")
    with client, pytest.raises(TransportError) as down:
        client.task_list()
    assert isinstance(down.value.__cause__, httpx.ConnectError)


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (6050030001, errors.TaskNotFound),
        (605030001, errors.TaskNotFound),  # profile hst: the 9-digit family
        (605030039, errors.CannotSuspend),
        (605030040, errors.ParamError),
        (606000000, errors.AuthenticationFailed),
        (606000001, errors.AccessTokenTimeout),
        (6050030010, errors.LoadLimit),
        (6050030012, errors.ApiError),  # no class of its own
        (123, errors.ApiError),
    ],
)
def test_every_code_has_its_class(code: int, cls: type[ApiError]) -> None:
    error = errors.api_error(code, "m")
    assert type(error) is cls and error.code == code and error.msg == "m"


def test_the_secret_never_shows_in_a_repr(tenant: Tenant) -> None:
    with client_of(tenant) as client:
        assert tenant.dev_secret not in repr(client) and tenant.dev_secret not in repr(
            client._auth.credentials
        )
