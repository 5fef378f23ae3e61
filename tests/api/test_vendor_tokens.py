"""The vendor's developer tokens (FspToken 001) at GET /access/token: every variant its generators make is
accepted, in the header and the query form; every bad one is refused with 6050030028, never a 500."""

from __future__ import annotations

import base64
import secrets
import string
from typing import Any

import httpx
import pytest
from support.fsptoken import ABSENT, FspToken, decrypt

from api.harness import LiveServer, contract_json
from cloudrec.auth import CLOCK_SKEW_S

ALPHABET = string.ascii_letters + string.digits


def vendor_secret() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(16))


def now_ms(server: LiveServer) -> int:
    return int(server.clock.time() * 1000)


def exchange(
    server: LiveServer, dev_id: str, token: str, form: str = "header"
) -> tuple[httpx.Response, dict[str, Any]]:
    """GET /access/token with `token` in the header or the query form."""
    with server.http() as c:
        if form == "header":
            r = c.get("/access/token", headers={"Authorization": f"{dev_id}.{token}"})
        else:
            r = c.get("/access/token", params={"dev_id": dev_id, "token": token})
    assert r.status_code == 200, r.text
    return r, contract_json(r)


def refused(server: LiveServer, dev_id: str, token: str) -> str:
    """The message of the refusal, checked in both forms."""
    messages: set[str] = set()
    for form in ("header", "query"):
        _, reply = exchange(server, dev_id, token, form)
        assert reply["code"] == 6050030028, (form, reply)
        messages.add(str(reply["msg"]))
    assert len(messages) == 1
    return messages.pop()


# ---- accepted ------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["header", "query"])
@pytest.mark.parametrize(
    ("gid", "uid"),
    [("null", "null"), ("", ""), (ABSENT, ABSENT), ("class1", "teacher"), ("null", ABSENT)],
)
@pytest.mark.parametrize("with_expiry", [False, True])
def test_every_variant_of_the_generators_is_accepted(
    live_server: LiveServer, form: str, gid: object, uid: object, with_expiry: bool
) -> None:
    secret = vendor_secret()
    dev_id, _ = live_server.add_developer(secret)
    expiry = int(live_server.clock.time()) + 3600 if with_expiry else None
    token = FspToken(dev_id, secret, gid, uid, expiry).build(now_ms(live_server))
    _, reply = exchange(live_server, dev_id, token, form)
    assert reply["code"] == 0, reply
    assert reply["result"]["timeout"] == 7200  # the vendor's access_token lifetime, the default


def test_the_access_token_of_a_vendor_token_works_on_v1(live_server: LiveServer) -> None:
    secret = vendor_secret()
    dev_id, _ = live_server.add_developer(secret)
    app_id = live_server.add_app(dev_id)
    _, reply = exchange(live_server, dev_id, FspToken(dev_id, secret).build(now_ms(live_server)))
    access = reply["result"]["access_token"]
    with live_server.http() as c:
        r = c.get("/v1/record/task/list", params={"app_id": app_id}, headers={"Authorization": access})
    assert contract_json(r)["code"] == 0


@pytest.mark.parametrize("form", ["header", "query"])
def test_base64_with_line_breaks_every_76_characters(live_server: LiveServer, form: str) -> None:
    secret = vendor_secret()
    dev_id, _ = live_server.add_developer(secret)
    # long ids: the Base64 runs over 76 characters, so the generator breaks it into lines
    token = FspToken(dev_id, secret, "g" * 80, "u" * 40, line_breaks=True).build(now_ms(live_server))
    assert "\r\n" in token
    if form == "header":  # a header cannot carry a line break: clients send the lines joined
        token = token.replace("\r\n", "")
    _, reply = exchange(live_server, dev_id, token, form)
    assert reply["code"] == 0, reply


def test_plus_arriving_as_a_space_in_the_query_string(live_server: LiveServer) -> None:
    secret = vendor_secret()
    dev_id, _ = live_server.add_developer(secret)
    for _ in range(500):
        token = FspToken(dev_id, secret, "class1", "u1").build(now_ms(live_server))
        if "+" in token:
            break
    assert "+" in token
    # the token pasted into the URL unescaped, as some clients do: the server reads each `+` as a space
    with live_server.http() as c:
        r = c.get(f"/access/token?dev_id={dev_id}&token={token}")
    assert contract_json(r)["code"] == 0, r.text


def test_base64_without_its_padding(live_server: LiveServer) -> None:
    secret = vendor_secret()
    dev_id, _ = live_server.add_developer(secret)
    for length in range(1, 64):  # the padding follows the length: some group id needs it
        token = FspToken(dev_id, secret, "g" * length, "u").build(now_ms(live_server))
        if token.endswith("="):
            break
    assert token.endswith("=")
    _, reply = exchange(live_server, dev_id, token.rstrip("="))
    assert reply["code"] == 0, reply


def test_ts_edges(live_server: LiveServer) -> None:
    """`ts` at most the token lifetime old, and at most the clock skew in the future."""
    secret = vendor_secret()
    dev_id, _ = live_server.add_developer(secret)
    lifetime_ms = live_server.settings.token_ttl_s * 1000
    now = now_ms(live_server)
    make = FspToken(dev_id, secret).build
    assert exchange(live_server, dev_id, make(now - lifetime_ms + 1000))[1]["code"] == 0
    assert exchange(live_server, dev_id, make(now + CLOCK_SKEW_S * 1000 - 1000))[1]["code"] == 0
    assert "expired" in refused(live_server, dev_id, make(now - lifetime_ms - 1000))
    assert "future" in refused(live_server, dev_id, make(now + CLOCK_SKEW_S * 1000 + 1000))


def test_a_passed_expiry_is_refused(live_server: LiveServer) -> None:
    secret = vendor_secret()
    dev_id, _ = live_server.add_developer(secret)
    now = int(live_server.clock.time())
    token = FspToken(dev_id, secret, expire_s=now - 1).build(now_ms(live_server))
    assert "expired" in refused(live_server, dev_id, token)


@pytest.mark.parametrize("expiry", [10**30, "far"])
def test_an_expiry_beyond_the_cap_is_refused(live_server: LiveServer, expiry: object) -> None:
    secret = vendor_secret()
    dev_id, _ = live_server.add_developer(secret)
    cap = live_server.settings.token_max_ttl_s
    now = int(live_server.clock.time())
    et = now + cap + CLOCK_SKEW_S + 10 if expiry == "far" else int(str(expiry))
    token = FspToken(dev_id, secret, expire_s=et).build(now_ms(live_server))
    assert "limit" in refused(live_server, dev_id, token)
    within = FspToken(dev_id, secret, expire_s=now + cap).build(now_ms(live_server))
    assert exchange(live_server, dev_id, within)[1]["code"] == 0


# ---- refused -------------------------------------------------------------------------------------


def test_wrong_key_is_refused(live_server: LiveServer) -> None:
    dev_id, _ = live_server.add_developer(vendor_secret())
    token = FspToken(dev_id, vendor_secret()).build(now_ms(live_server))
    assert refused(live_server, dev_id, token) == "authentication failed: bad dev_id or token"


def test_wrong_aid_is_refused(live_server: LiveServer) -> None:
    secret = vendor_secret()
    dev_a, _ = live_server.add_developer(secret)
    dev_b, _ = live_server.add_developer(secret)  # the same secret: only `aid` tells them apart
    token_b = FspToken(dev_b, secret).build(now_ms(live_server))
    assert "bad dev_id or token" in refused(live_server, dev_a, token_b)
    assert exchange(live_server, dev_b, token_b)[1]["code"] == 0


def test_a_developer_without_a_16_character_secret_has_no_vendor_tokens(live_server: LiveServer) -> None:
    dev_id, secret = live_server.add_developer()  # cloudrec's 48 hex digits
    token = FspToken(dev_id, secret[:16]).build(now_ms(live_server))
    assert "bad dev_id or token" in refused(live_server, dev_id, token)


def _encrypted(secret: str, plaintext: bytes) -> str:
    """A token of any plaintext (already padded), encrypted as the generators do."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    enc = Cipher(algorithms.AES(secret.encode()), modes.CBC(bytes(range(16)))).encryptor()
    return "001" + base64.b64encode(enc.update(plaintext) + enc.finalize()).decode()


def _padded(text: str) -> bytes:
    raw = text.encode()
    return raw + b" " * (-len(raw) % 16)


def test_garbage_and_truncated_tokens_are_refused(live_server: LiveServer) -> None:
    secret = vendor_secret()
    dev_id, _ = live_server.add_developer(secret)
    good = FspToken(dev_id, secret, "class1", "u1").build(now_ms(live_server))
    raw = base64.b64decode(good[3:])
    bad = [
        "001",
        "001!!!!",
        "001" + "A" * 5,  # not whole Base64
        "001" + base64.b64encode(b"x" * 15).decode(),  # not whole AES blocks
        "001" + base64.b64encode(secrets.token_bytes(64)).decode(),  # random blocks
        good[:-8],  # truncated: its Base64 cut
        "001" + base64.b64encode(raw[:-16]).decode(),  # truncated: a block short, the JSON cut
        "002" + good[3:],  # another version
        good[3:],  # no version
        _encrypted(secret, _padded("not json at all")),
        _encrypted(secret, _padded('["aid","' + dev_id + '"]')),
        _encrypted(secret, _padded('{"aid":1,"ts":' + str(now_ms(live_server)) + "}")),
        _encrypted(secret, _padded('{"aid":"' + dev_id + '"}')),  # no ts
        _encrypted(secret, _padded('{"aid":"' + dev_id + '","ts":"soon"}')),
        _encrypted(secret, _padded('{"aid":"' + dev_id + '","ts":true}')),
        _encrypted(secret, _padded('{"aid":"' + dev_id + '","ts":1.5e12}')),
        _encrypted(secret, _padded('{"aid":"' + dev_id + '","gid":7,"ts":' + str(now_ms(live_server)) + "}")),
        _encrypted(
            secret, _padded('{"aid":"' + dev_id + '","et":"x","ts":' + str(now_ms(live_server)) + "}")
        ),
        _encrypted(secret, _padded("[" * 3000)),  # deep nesting
        _encrypted(secret, b"\xff" * 32),  # not UTF-8
    ]
    for token in bad:
        assert "bad dev_id or token" in refused(live_server, dev_id, token), token
    assert exchange(live_server, dev_id, good)[1]["code"] == 0


def test_huge_numbers_and_lengths_are_refused_not_a_500(live_server: LiveServer) -> None:
    secret = vendor_secret()
    dev_id, _ = live_server.add_developer(secret)
    now = str(now_ms(live_server))
    cases = [
        _padded('{"aid":"' + dev_id + '","ts":' + "9" * 3000 + "}"),  # parsed, in the future
        _padded('{"aid":"' + dev_id + '","et":' + "9" * 3000 + ',"ts":' + now + "}"),  # beyond the cap
        _padded('{"aid":"' + dev_id + '","et":"' + "9" * 30 + '","ts":' + now + "}"),  # a quoted epoch
        _padded('{"aid":"' + dev_id + '","ts":' + "9" * 5000 + "}"),  # a token over the length bound
    ]
    for plaintext in cases:
        refused(live_server, dev_id, _encrypted(secret, plaintext))


def test_the_test_generator_follows_the_published_format() -> None:
    """The independent generator's plaintext, read back: the JSON of the description, space-padded."""
    token = FspToken("app1", "0123456789abcdef", "null", ABSENT, 1700000000).build(1699999999123)
    plain = decrypt(token, "0123456789abcdef")
    assert len(plain) % 16 == 0
    text = plain.decode().rstrip(" ")
    assert text.startswith('{"aid":"app1","gid":"null","et":1700000000,"ts":1699999999123,"r":')
    assert text.endswith("}")
