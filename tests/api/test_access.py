"""GET /access/token and the access_token of /v1 calls: every refusal has its code."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from api.harness import LiveServer, ServerFactory, contract_json
from cloudrec.api.security import Grant, Verified
from cloudrec.auth import CLOCK_SKEW_S, generate_token, hash_access_token
from cloudrec.clock import ManualClock
from cloudrec.db.models import AccessToken
from cloudrec.errors import TokenTimeout

# ---- GET /access/token --------------------------------------------------------------------------


def test_header_form_gives_an_access_token(live_server: LiveServer) -> None:
    dev_id, secret = live_server.add_developer()
    with live_server.http() as c:
        r = c.get("/access/token", headers={"Authorization": live_server.developer_token(dev_id, secret)})
    assert r.status_code == 200
    reply = contract_json(r)
    assert reply["code"] == 0 and reply["msg"] == "OK"
    assert re.fullmatch(r"[0-9a-f]{32}", reply["result"]["access_token"])
    assert reply["result"]["timeout"] == live_server.settings.access_token_ttl_s == 7200  # the vendor's


def test_query_form_gives_an_access_token(live_server: LiveServer) -> None:
    dev_id, secret = live_server.add_developer()
    token = generate_token(dev_id, secret, now=live_server.clock.time())
    with live_server.http() as c:
        reply = contract_json(c.get("/access/token", params={"dev_id": dev_id, "token": token}))
    assert reply["code"] == 0
    assert re.fullmatch(r"[0-9a-f]{32}", reply["result"]["access_token"])


def test_only_a_hash_of_the_access_token_is_stored(live_server: LiveServer) -> None:
    dev_id, secret = live_server.add_developer()
    token = live_server.access_token(dev_id, secret)
    with live_server.ctx.sessions() as s:
        stored = s.scalars(select(AccessToken.token_hash).where(AccessToken.dev_id == dev_id)).all()
    assert stored == [hash_access_token(token)]
    assert token not in stored


def _refused(
    live_server: LiveServer, headers: dict[str, str] | None = None, params: dict[str, str] | None = None
) -> dict[str, Any]:
    with live_server.http() as c:
        r = c.get("/access/token", headers=headers, params=params)
    assert r.status_code == 200
    return contract_json(r)


def test_forged_token_is_refused(live_server: LiveServer) -> None:
    dev_id, _ = live_server.add_developer()
    forged = generate_token(dev_id, "not-the-secret", now=live_server.clock.time())
    reply = _refused(live_server, headers={"Authorization": f"{dev_id}.{forged}"})
    assert reply["code"] == 6050030028


def test_token_of_another_developer_is_refused(live_server: LiveServer) -> None:
    dev_a, _ = live_server.add_developer()
    dev_b, secret_b = live_server.add_developer()
    token_b = generate_token(dev_b, secret_b, now=live_server.clock.time())
    assert _refused(live_server, headers={"Authorization": f"{dev_a}.{token_b}"})["code"] == 6050030028
    assert _refused(live_server, params={"dev_id": dev_a, "token": token_b})["code"] == 6050030028


def test_tampered_token_is_refused(live_server: LiveServer) -> None:
    dev_id, secret = live_server.add_developer()
    expiry, nonce, sig = generate_token(dev_id, secret, now=live_server.clock.time()).split("-")
    longer = f"{int(expiry) + 86400}-{nonce}-{sig}"  # a later expiry under the old signature
    assert _refused(live_server, headers={"Authorization": f"{dev_id}.{longer}"})["code"] == 6050030028


@pytest.mark.parametrize("value", ["nodot", "dev.", ".token", "garbage.garbage", "a.b.c"])
def test_malformed_authorization_is_refused(live_server: LiveServer, value: str) -> None:
    assert _refused(live_server, headers={"Authorization": value})["code"] == 6050030028


def test_unknown_developer_is_refused(live_server: LiveServer) -> None:
    token = generate_token("nobody", "secret", now=live_server.clock.time())
    assert _refused(live_server, params={"dev_id": "nobody", "token": token})["code"] == 6050030028
    assert _refused(live_server, params={"dev_id": "x\x00y", "token": token})["code"] == 6050030028


@pytest.mark.parametrize(
    ("params", "field"), [({}, "dev_id"), ({"token": "t"}, "dev_id"), ({"dev_id": "d"}, "token")]
)
def test_missing_credentials_are_a_parameter_error(
    live_server: LiveServer, params: dict[str, str], field: str
) -> None:
    reply = _refused(live_server, params=params)
    assert reply["code"] == 6050030003
    assert field in str(reply["msg"])


def test_expired_developer_token_is_refused(server_factory: ServerFactory) -> None:
    server = server_factory()
    dev_id, secret = server.add_developer()
    header = {"Authorization": server.developer_token(dev_id, secret, ttl_s=60)}
    with server.http() as c:
        server.clock.advance(59)
        assert contract_json(c.get("/access/token", headers=header))["code"] == 0  # still valid
        server.clock.advance(2)
        reply = contract_json(c.get("/access/token", headers=header))
    assert reply["code"] == 6050030028
    assert "expired" in reply["msg"]


@pytest.mark.parametrize(
    "token",
    ["9" * 4301 + "-aa-bb", "9" * 13 + "-aa-" + "b" * 64, "1-" + "a" * 65 + "-" + "b" * 64, "x" * 5000],
)
def test_huge_numbers_in_a_token_are_refused_not_a_500(live_server: LiveServer, token: str) -> None:
    """Every numeric and length field of a token is bounded before it is parsed."""
    dev_id, _ = live_server.add_developer()
    assert _refused(live_server, headers={"Authorization": f"{dev_id}.{token}"})["code"] == 6050030028
    assert _refused(live_server, params={"dev_id": dev_id, "token": token})["code"] == 6050030028
    assert _refused(live_server, params={"dev_id": "d" * 65, "token": "t"})["code"] == 6050030028


def test_a_token_lifetime_beyond_the_cap_is_refused(server_factory: ServerFactory) -> None:
    server = server_factory(token_max_ttl_s=3600)
    dev_id, secret = server.add_developer()
    with server.http() as c:
        ok = c.get("/access/token", headers={"Authorization": server.developer_token(dev_id, secret, 3600)})
        assert contract_json(ok)["code"] == 0
        for ttl in (3600 + CLOCK_SKEW_S + 10, 10**30):
            r = c.get("/access/token", headers={"Authorization": server.developer_token(dev_id, secret, ttl)})
            reply = contract_json(r)
            assert reply["code"] == 6050030028, (ttl, reply)
    assert (
        "limit"
        in _refused(
            server,
            headers={"Authorization": server.developer_token(dev_id, secret, 3600 + CLOCK_SKEW_S + 10)},
        )["msg"]
    )


# ---- brute-force protection -----------------------------------------------------------------------


def _client_from(server: LiveServer, address: str) -> httpx.Client:
    """A client connecting from another loopback address (127.0.0.0/8 is all loopback)."""
    return httpx.Client(
        base_url=server.base_url, timeout=30, transport=httpx.HTTPTransport(local_address=address)
    )


def _attempt(server: LiveServer, address: str, authorization: str) -> dict[str, Any]:
    with _client_from(server, address) as c:
        return contract_json(c.get("/access/token", headers={"Authorization": authorization}))


def test_an_address_with_too_many_failures_is_locked_out(server_factory: ServerFactory) -> None:
    server = server_factory(auth_max_failures=3, auth_failure_window_s=60)
    dev_id, secret = server.add_developer()
    for i in range(3):  # guesses at other developers
        bad = f"nobody{i}.{generate_token(f'nobody{i}', 'guess', now=server.clock.time())}"
        assert _attempt(server, "127.0.0.2", bad)["code"] == 6050030028
    locked = _attempt(server, "127.0.0.2", server.developer_token(dev_id, secret))  # even a right token
    assert locked["code"] == 6050030028 and "too many failed attempts for this address" in locked["msg"]
    assert "try again in 60 s" in locked["msg"]
    with _client_from(server, "127.0.0.2") as c:  # the query form and malformed credentials alike
        r = c.get("/access/token", params={"dev_id": dev_id, "token": "x"})
        assert "too many" in contract_json(r)["msg"]
    assert _attempt(server, "127.0.0.3", server.developer_token(dev_id, secret))["code"] == 0
    server.clock.advance(59)
    assert "try again in 1 s" in _attempt(server, "127.0.0.2", server.developer_token(dev_id, secret))["msg"]
    server.clock.advance(1)
    assert _attempt(server, "127.0.0.2", server.developer_token(dev_id, secret))["code"] == 0


def test_a_dev_id_with_too_many_failures_is_locked_out(server_factory: ServerFactory) -> None:
    server = server_factory(auth_max_failures=3, auth_failure_window_s=60)
    target, _ = server.add_developer()
    other, other_secret = server.add_developer()
    forged = f"{target}.{generate_token(target, 'guess', now=server.clock.time())}"
    for address in ("127.0.0.4", "127.0.0.5", "127.0.0.6"):  # one guess from each address
        assert "bad dev_id" in _attempt(server, address, forged)["msg"]
    locked = _attempt(server, "127.0.0.7", forged)
    assert "too many failed attempts for this dev_id" in locked["msg"]
    assert _attempt(server, "127.0.0.7", server.developer_token(other, other_secret))["code"] == 0
    server.clock.advance(60)
    assert "bad dev_id" in _attempt(server, "127.0.0.7", forged)["msg"]


def test_many_bad_attempts_are_all_refused_quickly(server_factory: ServerFactory) -> None:
    """The issue's flood: 500 bad tokens; after the first few, every one is refused by the lockout."""
    server = server_factory()  # the defaults: 10 failures a minute
    dev_id, _ = server.add_developer()
    forged = f"{dev_id}.{generate_token(dev_id, 'guess', now=server.clock.time())}"
    codes, messages = set(), []
    with _client_from(server, "127.0.0.8") as c:
        for _ in range(500):
            reply = contract_json(c.get("/access/token", headers={"Authorization": forged}))
            codes.add(reply["code"])
            messages.append(reply["msg"])
    assert codes == {6050030028}
    assert sum("too many" in m for m in messages) == 490


# ---- the access_token of /v1 calls ----------------------------------------------------------------


def test_missing_access_token_is_not_logged_in(live_server: LiveServer) -> None:
    tenant = live_server.tenant()
    with live_server.http() as c:
        for r in (
            c.post("/v1/record/init", json={"app_id": tenant.app_id, "group_id": "g"}),
            c.get("/v1/record/task/list", params={"app_id": tenant.app_id}),
            c.post("/v1/record/init", json={"app_id": tenant.app_id}, headers={"Authorization": ""}),
        ):
            assert r.status_code == 200
            assert contract_json(r)["code"] == 6050030006


def test_unknown_access_token_fails_authorisation(live_server: LiveServer) -> None:
    tenant = live_server.tenant()
    with live_server.http() as c:
        r = c.get(
            "/v1/record/task/list", params={"app_id": tenant.app_id}, headers={"Authorization": "0" * 32}
        )
    assert contract_json(r)["code"] == 6050030007


def test_auth_is_checked_before_the_body(live_server: LiveServer) -> None:
    with live_server.http() as c:
        r = c.post("/v1/record/init", content=b"{not json", headers={"Authorization": "f" * 32})
    assert contract_json(r)["code"] == 6050030007


def test_bearer_prefix_is_accepted(live_server: LiveServer) -> None:
    tenant = live_server.tenant()
    with live_server.http() as c:
        r = c.get(
            "/v1/record/task/list",
            params={"app_id": tenant.app_id},
            headers={"Authorization": f"Bearer {tenant.access_token}"},
        )
    assert contract_json(r)["code"] == 0


def test_expired_access_token_times_out(server_factory: ServerFactory) -> None:
    server = server_factory(access_token_ttl_s=600)
    tenant = server.tenant()
    server.clock.advance(599)
    assert tenant.get("/v1/record/task/list")["code"] == 0
    server.clock.advance(1)
    reply = tenant.get("/v1/record/task/list")
    assert reply == {"code": 606000001, "msg": "access_token timeout"}
    # a new access_token works again
    fresh = server.access_token(tenant.dev_id, tenant.dev_secret)
    with server.http() as c:
        r = c.get("/v1/record/task/list", params={"app_id": tenant.app_id}, headers={"Authorization": fresh})
    assert contract_json(r)["code"] == 0


# ---- what the server remembers of tokens and apps ------------------------------------------------


def test_an_app_created_after_a_refusal_is_accepted(live_server: LiveServer) -> None:
    """A refused app_id is not remembered: once the operator creates it, it is accepted."""
    tenant = live_server.tenant()
    later = "app-later-" + tenant.dev_id[-6:]
    assert tenant.get("/v1/record/task/list", app_id=later)["code"] == 6050030007
    live_server.add_app(tenant.dev_id, later)
    assert tenant.get("/v1/record/task/list", app_id=later)["code"] == 0


def test_an_app_known_to_the_server_is_still_refused_to_others(live_server: LiveServer) -> None:
    owner, other = live_server.tenant(), live_server.tenant()
    assert owner.get("/v1/record/task/list")["code"] == 0  # the server now knows who owns the app
    refused = other.call("/v1/record/init", app_id=owner.app_id, group_id="g")
    assert refused["code"] == 6050030007 and owner.app_id in refused["msg"]
    assert other.get("/v1/record/task/list", app_id=owner.app_id)["code"] == 6050030007
    assert owner.get("/v1/record/task/list")["code"] == 0


def test_a_remembered_token_is_refused_once_expired() -> None:
    clock = ManualClock(1000.0)
    verified = Verified(clock)
    verified.grants["h"] = Grant("dev", 1010.0)
    assert verified.developer(verified.grants["h"]) == "dev"
    clock.advance(10)
    assert "h" not in verified.grants  # dropped at its expiry: the next use asks the database
    with pytest.raises(TokenTimeout):
        verified.developer(Grant("dev", 1010.0))
    verified.grants["old"] = Grant("dev", 900.0)  # expired already: not kept at all
    assert "old" not in verified.grants
