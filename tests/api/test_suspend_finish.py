"""POST /v1/record/suspend, resume and finish: the state machine, the figures, idempotence."""

from __future__ import annotations

import pytest

from api.harness import LIVE_SERVER_SETTINGS, LiveServer, ServerFactory, Tenant
from cloudrec.recorder.spec import Finish, Resume, Suspend

SUSPEND, RESUME, FINISH = "/v1/record/suspend", "/v1/record/resume", "/v1/record/finish"
UNKNOWN = "20200101000000_0000000000000000"


# ---- suspend / resume -----------------------------------------------------------------------------


def test_suspend_and_resume(tenant: Tenant, live_server: LiveServer) -> None:
    record_id = tenant.start_manual()
    assert tenant.call(SUSPEND, record_id=record_id) == {"code": 0, "msg": "OK", "record_id": record_id}
    task = tenant.task(record_id)
    assert task["status"] == 2 and task["paused"] is True
    assert tenant.call(RESUME, record_id=record_id) == {"code": 0, "msg": "OK", "record_id": record_id}
    assert tenant.task(record_id)["paused"] is False
    sent = live_server.host.commands_of(record_id)
    assert [type(c) for c in sent[-2:]] == [Suspend, Resume]  # each with its request's time


def test_automatic_task_can_be_suspended(tenant: Tenant) -> None:
    record_id = tenant.init(auto={})
    assert tenant.call(SUSPEND, record_id=record_id)["code"] == 0
    assert tenant.call(RESUME, record_id=record_id)["code"] == 0


def test_suspend_when_not_recording(tenant: Tenant) -> None:
    waiting = tenant.init()  # status 1: no layout yet
    assert tenant.call(SUSPEND, record_id=waiting)["code"] == 6050030039
    recording = tenant.start_manual()
    assert tenant.call(SUSPEND, record_id=recording)["code"] == 0
    assert tenant.call(SUSPEND, record_id=recording)["code"] == 6050030039  # suspended already
    assert tenant.call(FINISH, record_id=recording)["code"] == 0
    assert tenant.call(SUSPEND, record_id=recording)["code"] == 6050030039  # finished


def test_resume_when_not_suspended(tenant: Tenant) -> None:
    record_id = tenant.start_manual()
    reply = tenant.call(RESUME, record_id=record_id)
    assert reply["code"] == 6050030003 and "not suspended" in reply["msg"]
    assert tenant.call(RESUME, record_id=tenant.init())["code"] == 6050030003


@pytest.mark.parametrize("path", [SUSPEND, RESUME, FINISH])
def test_unknown_task(tenant: Tenant, path: str) -> None:
    assert tenant.call(path, record_id=UNKNOWN)["code"] == 6050030001


@pytest.mark.parametrize("path", [SUSPEND, RESUME, FINISH])
@pytest.mark.parametrize(
    ("fields", "field"),
    [({}, "record_id"), ({"record_id": ""}, "record_id"), ({"record_id": 5}, "record_id")],
)
def test_bad_record_id(tenant: Tenant, path: str, fields: dict[str, object], field: str) -> None:
    reply = tenant.call(path, **fields)
    assert reply["code"] == 6050030003 and field in reply["msg"]


# ---- finish -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def no_wait_server(server_factory: ServerFactory) -> LiveServer:
    """A server whose finish answers at once with what the database knows (finish_wait_s=0)."""
    return server_factory(**LIVE_SERVER_SETTINGS, finish_wait_s=0)


def test_finish_waits_for_the_recorders_final_figures(tenant: Tenant, live_server: LiveServer) -> None:
    record_id = tenant.start_manual()
    live_server.clock.advance(90)
    # a periodic report from before the finish; the recorder's final report (nothing pulled) replaces it
    tenant.set_row(record_id, media_duration=79.4, flow_bytes=5 * 1024 * 1024 + 1000)
    reply = tenant.call(FINISH, record_id=record_id)
    assert reply == {
        "code": 0,
        "msg": "OK",
        "record_id": record_id,
        "media_duration": 0,
        "record_duration": 90,
        "flow": 0,
        "gaps": [],  # cloudrec: nothing was lost
    }
    assert tenant.task(record_id)["status"] == 6  # the reply came once the recorder had finished
    assert any(isinstance(c, Finish) for c in live_server.host.commands_of(record_id))


def test_finish_answers_figures_from_the_database(no_wait_server: LiveServer) -> None:
    tenant = no_wait_server.tenant()
    record_id = tenant.start_manual()
    no_wait_server.clock.advance(90)
    tenant.set_row(record_id, media_duration=79.4, flow_bytes=5 * 1024 * 1024 + 1000)
    reply = tenant.call(FINISH, record_id=record_id)
    assert reply == {
        "code": 0,
        "msg": "OK",
        "record_id": record_id,
        "media_duration": 79,
        "record_duration": 90,
        "flow": 5 * 1024,
        "gaps": [],
    }
    task = tenant.task(record_id)
    assert task["status"] >= 3 and task["stop_time"] is not None
    assert any(isinstance(c, Finish) for c in no_wait_server.host.commands_of(record_id))


def test_second_finish_answers_the_same_figures(no_wait_server: LiveServer) -> None:
    tenant = no_wait_server.tenant()
    record_id = tenant.start_manual()
    no_wait_server.clock.advance(30)
    tenant.set_row(record_id, media_duration=12.0, flow_bytes=4096)
    first = tenant.call(FINISH, record_id=record_id)
    tenant.wait_status(record_id, 6)
    # the recorder reported its final figures since; the answer stays what it was
    tenant.set_row(record_id, media_duration=31.0, flow_bytes=999_999)
    no_wait_server.clock.advance(100)
    second = tenant.call(FINISH, record_id=record_id)
    assert second == first
    assert (first["media_duration"], first["record_duration"], first["flow"]) == (12, 30, 4)
    assert len([c for c in no_wait_server.host.commands_of(record_id) if isinstance(c, Finish)]) == 1
    no_wait_server.finish_recordings()


def test_finish_reaches_done_through_the_real_recorder(tenant: Tenant) -> None:
    record_id = tenant.start_manual()
    assert tenant.call(FINISH, record_id=record_id)["code"] == 0
    task = tenant.wait_status(record_id, 6)
    assert task["stop_time"] is not None


def test_finish_a_waiting_manual_task(tenant: Tenant) -> None:
    record_id = tenant.init()
    reply = tenant.call(FINISH, record_id=record_id)
    assert reply["code"] == 0 and reply["record_duration"] == 0 and reply["media_duration"] == 0
    assert tenant.wait_status(record_id, 6, -1)["start_time"] is None


def test_finish_a_suspended_task(tenant: Tenant) -> None:
    record_id = tenant.start_manual()
    tenant.call(SUSPEND, record_id=record_id)
    assert tenant.call(FINISH, record_id=record_id)["code"] == 0
    assert tenant.task(record_id)["paused"] is False


def test_finish_a_task_no_recorder_runs(tenant: Tenant, live_server: LiveServer) -> None:
    """A task left recording by another server run: finish ends it instead of leaving it queued."""
    record_id = tenant.seed_task(2, media_duration=8.0)
    assert record_id not in live_server.host.running()
    reply = tenant.call(FINISH, record_id=record_id)
    assert reply["code"] == 0 and reply["media_duration"] == 8
    assert tenant.task(record_id)["status"] == -1
    assert "no recorder" in tenant.row(record_id).error
    assert tenant.call(FINISH, record_id=record_id) == reply


def test_finish_after_the_recorder_ended_by_itself(tenant: Tenant, live_server: LiveServer) -> None:
    """The timeout rule ended the task (status 6 already): finish answers the figures, sends nothing."""
    record_id = tenant.start_manual()
    live_server.clock.advance(20)
    tenant.set_row(record_id, status=6, stop_time=live_server.clock.time(), media_duration=20.0)
    reply = tenant.call(FINISH, record_id=record_id)
    assert (reply["code"], reply["media_duration"], reply["record_duration"]) == (0, 20, 20)
    assert not any(isinstance(c, Finish) for c in live_server.host.commands_of(record_id))
    assert tenant.task(record_id)["status"] == 6


@pytest.mark.parametrize("path", [SUSPEND, RESUME, FINISH])
def test_original_examples_with_trailing_commas_are_invalid_json(tenant: Tenant, path: str) -> None:
    record_id = tenant.start_manual()
    body = f'{{\n"record_id":"{record_id}",\n"app_id":"{tenant.app_id}",\n}}'
    assert tenant.post_raw(path, body)["code"] == 6050030005
    # the contract's valid form of the same example
    expected = {SUSPEND: 0, RESUME: 6050030003, FINISH: 0}[path]  # (resuming a task that is not suspended)
    assert tenant.post_raw(path, body.replace(",\n}", "\n}"))["code"] == expected


def test_commands_for_a_task_no_recorder_runs_are_stored(tenant: Tenant, live_server: LiveServer) -> None:
    """The recorder ended meanwhile: the desired state is stored, the reply is OK, nothing breaks."""
    record_id = tenant.seed_task(1)
    assert tenant.call("/v1/record/set/layout", record_id=record_id)["code"] == 0
    assert tenant.call(SUSPEND, record_id=record_id)["code"] == 0
    assert tenant.task(record_id)["paused"] is True
    assert tenant.call(RESUME, record_id=record_id)["code"] == 0
    delivered = [ok for rid, _, ok in live_server.host.commands if rid == record_id]
    assert delivered == [False, False, False]
    assert tenant.task(record_id)["status"] == 2
