"""What `import cloudrec.client` costs and shows: no server code, both clients with the same methods."""

from __future__ import annotations

import inspect
import subprocess
import sys

from api.harness import LiveServer

from cloudrec.client import AsyncClient, Client, generate_token
from cloudrec.client._endpoints import Endpoint, Endpoints


def test_the_client_imports_no_server_machinery() -> None:
    code = (
        "import sys, cloudrec.client\n"
        "heavy = ('fastapi', 'starlette', 'sqlalchemy', 'av', 'uvicorn')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out


def test_every_endpoint_is_a_method_of_both_clients_without_the_default_app() -> None:
    names = [name for name, value in vars(Endpoints).items() if isinstance(value, Endpoint)]
    assert len(names) == 18, names
    of_the_developer = {"app_list", "server_address"}  # no app: the developer's apps, the server
    sync = Client(access_token="t", app_id="a")
    for name in names:
        method = getattr(sync, name)
        params = inspect.signature(method).parameters
        assert "app" not in params and ("app_id" in params) != (name in of_the_developer), (name, params)
        assert method.__doc__ and method.__doc__.startswith("`"), name
        assert not inspect.iscoroutinefunction(method), name
        assert inspect.iscoroutinefunction(getattr(AsyncClient(access_token="t"), name)), name
    sync.close()


def test_the_token_generator_is_exported_and_its_tokens_are_accepted(live_server: LiveServer) -> None:
    dev_id, secret = live_server.add_developer()
    token = generate_token(dev_id, secret, 60, now=live_server.clock.time())
    with live_server.http() as http:
        reply = http.get("/access/token", headers={"Authorization": f"{dev_id}.{token}"}).json()
    assert reply["code"] == 0 and len(reply["result"]["access_token"]) == 32
