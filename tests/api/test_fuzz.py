"""Schema-driven fuzzing (schemathesis on /openapi.json): never a 5xx, always the contract's JSON."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from api.harness import LiveServer, ServerFactory

# One request per example: about 40 s on 2 cores.
EXAMPLES = 800


@pytest.fixture(scope="module")
def fuzz_server(server_factory: ServerFactory) -> LiveServer:
    # Its own database and a small recorder capacity: fuzzed inits can't starve the other tests.
    return server_factory(max_recordings=2, min_free_disk_mb=1)


def contract_json_body(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every answer but a served file is `{"code": int, "msg": str, ...}`; never an internal failure."""
    if case.method.upper() == "HEAD" or (
        response.status_code in (200, 206) and case.path == "/download/{key}"
    ):
        return None
    data = response.json()
    assert isinstance(data, dict), f"not a JSON object: {response.text[:200]!r}"
    code = data.get("code")
    assert isinstance(code, int) and not isinstance(code, bool), f"no integer code: {data}"
    assert isinstance(data.get("msg"), str), f"no msg: {data}"
    assert code != 6050030000, f"internal failure: {data}"
    if code != 0:
        assert set(data) == {"code", "msg"}, f"an error reply with more than code and msg: {data}"
    return None


def _own(case: Any, app_id: str, record_id: str) -> None:
    """Point the case at the tenant's real app and task, so that it gets into the logic behind them."""
    for container in (case.body, case.query):
        if isinstance(container, dict):
            if isinstance(container.get("app_id"), str):
                container["app_id"] = app_id
            if isinstance(container.get("record_id"), str):
                container["record_id"] = record_id
            if isinstance(container.get("record_list"), list):
                container["record_list"] = [record_id, *container["record_list"][:2]]


def test_no_request_breaks_the_contract(fuzz_server: LiveServer) -> None:
    tenant = fuzz_server.tenant()
    # something to find: a done task with a file, a recording manual task, a recording automatic one
    done = tenant.finished()
    tenant.add_segments(done, 1)
    record_ids = [done, tenant.start_manual(), tenant.init(auto={})]
    schema = schemathesis.openapi.from_url(f"{fuzz_server.base_url}/openapi.json")
    cases = st.one_of(
        schema.as_strategy(GenerationMode.POSITIVE), schema.as_strategy(GenerationMode.NEGATIVE)
    )
    checks = [not_a_server_error, response_schema_conformance, content_type_conformance, contract_json_body]
    seen: set[tuple[str, str, int]] = set()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(
        case=cases,
        own_app=st.booleans(),
        record_id=st.sampled_from(record_ids),
        authenticated=st.sampled_from([True, True, True, False]),
    )
    def fuzz(case: Any, own_app: bool, record_id: str, authenticated: bool) -> None:
        if own_app:
            _own(case, tenant.app_id, record_id)
        headers = {"Authorization": tenant.access_token} if authenticated else {}
        response = case.call(base_url=fuzz_server.base_url, headers=headers, timeout=30)
        case.validate_response(response, checks=checks, headers=headers)
        seen.add((case.method, case.path, response.json().get("code", -1) if response.content else -1))

    fuzz()
    # the run reached the logic behind authorisation, not only the refusals
    reached = {code for _, _, code in seen}
    assert 0 in reached and 6050030003 in reached, reached
    assert {path for _, path, _ in seen} >= {"/v1/record/init", "/v1/record/file", "/v1/group/stream/publish"}
