"""POST /v1/record/file: delete files (mode 2) or files and records (mode 1); JSON and form bodies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from api.harness import LiveServer, Tenant, contract_json
from cloudrec.db.models import File, Task
from cloudrec.storage.local import LocalStorage

DELETE = "/v1/record/file"


def _stored_paths(live_server: LiveServer, record_id: str) -> list[Path]:
    storage = live_server.ctx.storage
    assert isinstance(storage, LocalStorage)
    with live_server.ctx.sessions() as s:
        task_id = s.scalar(select(Task.id).where(Task.record_id == record_id))
        keys = s.scalars(select(File.storage_key).where(File.task_id == task_id)).all()
    return [storage.path(k) for k in keys]


def _done_with_files(tenant: Tenant, live_server: LiveServer, count: int = 2) -> tuple[str, list[Path]]:
    record_id = tenant.finished()
    tenant.add_segments(record_id, count)
    paths = _stored_paths(live_server, record_id)
    assert len(paths) == count and all(p.is_file() for p in paths)
    return record_id, paths


def test_mode_2_deletes_files_and_keeps_the_record(tenant: Tenant, live_server: LiveServer) -> None:
    record_id, paths = _done_with_files(tenant, live_server)
    reply = tenant.call(DELETE, mode=2, record_list=[record_id])
    assert reply == {"code": 0, "msg": "ok"}
    assert not any(p.exists() for p in paths)
    task = tenant.task(record_id)
    assert task["status"] == 6 and task["file_size"] == 0
    assert tenant.get("/v1/record/file/download/url", record_id=record_id)["code"] == 6050030031
    assert tenant.call(DELETE, mode=2, record_list=[record_id]) == {"code": 0, "msg": "ok"}  # again: fine


def test_leftovers_of_a_failed_recorder_are_deleted(tenant: Tenant, live_server: LiveServer) -> None:
    record_id = tenant.seed_task(-1)
    work = live_server.settings.work_dir / record_id
    work.mkdir(parents=True)
    (work / "open_segment_0003.mp4").write_bytes(b"partial")
    assert tenant.call(DELETE, mode=2, record_list=[record_id])["code"] == 0
    assert not work.exists()


def test_copies_waiting_for_upload_are_deleted(tenant: Tenant, live_server: LiveServer) -> None:
    record_id = tenant.seed_task(-1)
    pending = live_server.settings.data_dir / "pending-upload.mp4"
    pending.write_bytes(b"segment")
    with live_server.ctx.sessions.begin() as s:
        task_id = s.scalar(select(Task.id).where(Task.record_id == record_id))
        assert task_id is not None
        s.add(
            File(
                task_id=task_id,
                index=1,
                name="x_0001.mp4",
                storage_key=f"{tenant.app_id}/{record_id}/x_0001.mp4",
                size=7,
                md5="0" * 32,
                duration=1.0,
                start_time=0.0,
                stored=False,
                local_path=str(pending),
            )
        )
    assert tenant.call(DELETE, mode=1, record_list=[record_id])["code"] == 0
    assert not pending.exists()


def test_mode_defaults_to_2(tenant: Tenant, live_server: LiveServer) -> None:
    record_id, paths = _done_with_files(tenant, live_server)
    assert tenant.call(DELETE, record_list=[record_id])["code"] == 0
    assert not any(p.exists() for p in paths)
    assert tenant.task(record_id)["status"] == 6


@pytest.mark.parametrize("mode", [1, "1"])
def test_mode_1_deletes_files_and_records(tenant: Tenant, live_server: LiveServer, mode: Any) -> None:
    record_id, paths = _done_with_files(tenant, live_server)
    failed = tenant.seed_task(-1)
    assert tenant.call(DELETE, mode=mode, record_list=[record_id, failed])["code"] == 0
    assert not any(p.exists() for p in paths)
    assert tenant.get("/v1/record/task/list")["total_num"] == 0
    assert tenant.get("/v1/record/file/download/url", record_id=record_id)["code"] == 6050030001


def test_unknown_and_repeated_ids_are_fine(tenant: Tenant, live_server: LiveServer) -> None:
    record_id, paths = _done_with_files(tenant, live_server)
    reply = tenant.call(DELETE, mode=1, record_list=["20200101000000_0000000000000000", record_id, record_id])
    assert reply == {"code": 0, "msg": "ok"}
    assert not any(p.exists() for p in paths)
    assert tenant.call(DELETE, mode=1, record_list=[])["code"] == 0


@pytest.mark.parametrize("status", [1, 2, 3, 4, 5])
def test_unfinished_task_blocks_the_whole_call(tenant: Tenant, live_server: LiveServer, status: int) -> None:
    done, paths = _done_with_files(tenant, live_server)
    busy = tenant.seed_task(status)
    reply = tenant.call(DELETE, mode=1, record_list=[done, busy])
    assert reply["code"] == 6050030003, reply
    assert busy in reply["msg"] and "record_list" in reply["msg"]
    # nothing was deleted
    assert all(p.is_file() for p in paths)
    assert tenant.get("/v1/record/task/list")["total_num"] == 2


def test_running_recording_is_never_touched(tenant: Tenant) -> None:
    record_id = tenant.start_manual()
    assert tenant.call(DELETE, mode=1, record_list=[record_id])["code"] == 6050030003
    assert tenant.task(record_id)["status"] == 2


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"mode": 0, "record_list": []}, "mode"),
        ({"mode": 4, "record_list": []}, "mode"),
        ({"mode": True, "record_list": []}, "mode"),
        ({"mode": "one", "record_list": []}, "mode"),
        ({}, "record_list"),
        ({"record_list": 5}, "record_list"),
        ({"record_list": [5]}, "record_list[0]"),
        ({"record_list": [""]}, "record_list[0]"),
        ({"record_list": ["x" * 65]}, "record_list[0]"),
        ({"record_list": {"a": 1}}, "record_list"),
        ({"record_list": ["r"] * 1001}, "record_list"),
    ],
)
def test_bad_fields(tenant: Tenant, fields: dict[str, Any], field: str) -> None:
    reply = tenant.call(DELETE, **fields)
    assert reply["code"] == 6050030003, reply
    assert field in reply["msg"]


def test_invalid_json(tenant: Tenant) -> None:
    body = '{"mode": 1, "app_id": "%s", "record_list": ["a",],}'
    assert tenant.post_raw(DELETE, body.replace("%s", tenant.app_id))["code"] == 6050030005


# ---- form bodies ----------------------------------------------------------------------------------


def _form(tenant: Tenant, **kwargs: Any) -> dict[str, Any]:
    r = tenant.client.post(DELETE, **kwargs)
    assert r.status_code == 200, r.text
    return contract_json(r)


def _urlencoded(tenant: Tenant, fields: list[tuple[str, str]]) -> dict[str, Any]:
    content = urlencode(fields)
    return _form(tenant, content=content, headers={"Content-Type": "application/x-www-form-urlencoded"})


def _two_done(tenant: Tenant, live_server: LiveServer) -> tuple[list[str], list[Path]]:
    a, paths_a = _done_with_files(tenant, live_server, 1)
    b, paths_b = _done_with_files(tenant, live_server, 1)
    return [a, b], paths_a + paths_b


def test_urlencoded_repeated_field(tenant: Tenant, live_server: LiveServer) -> None:
    ids, paths = _two_done(tenant, live_server)
    data = [("mode", "1"), ("app_id", tenant.app_id), ("record_list", ids[0]), ("record_list", ids[1])]
    assert _urlencoded(tenant, data) == {"code": 0, "msg": "ok"}
    assert not any(p.exists() for p in paths)
    assert tenant.get("/v1/record/task/list")["total_num"] == 0


def test_urlencoded_json_array(tenant: Tenant, live_server: LiveServer) -> None:
    ids, paths = _two_done(tenant, live_server)
    data = {"mode": "2", "app_id": tenant.app_id, "record_list": json.dumps(ids)}
    assert _form(tenant, data=data)["code"] == 0
    assert not any(p.exists() for p in paths)
    assert tenant.get("/v1/record/task/list")["total_num"] == 2


def test_urlencoded_single_id_and_php_style(tenant: Tenant, live_server: LiveServer) -> None:
    ids, paths = _two_done(tenant, live_server)
    assert _form(tenant, data={"mode": "1", "app_id": tenant.app_id, "record_list": ids[0]})["code"] == 0
    data = [("mode", "1"), ("app_id", tenant.app_id), ("record_list[]", ids[1])]
    assert _urlencoded(tenant, data)["code"] == 0
    assert not any(p.exists() for p in paths)


def test_multipart_repeated_field_and_json_array(tenant: Tenant, live_server: LiveServer) -> None:
    ids, paths = _two_done(tenant, live_server)
    # httpx sends multipart/form-data when files are given; a plain text part is a field
    files = [
        ("mode", (None, "1")),
        ("app_id", (None, tenant.app_id)),
        ("record_list", (None, ids[0])),
        ("record_list", (None, ids[1])),
    ]
    assert _form(tenant, files=files) == {"code": 0, "msg": "ok"}
    assert not any(p.exists() for p in paths)
    ids2, paths2 = _two_done(tenant, live_server)
    files = [("app_id", (None, tenant.app_id)), ("record_list", (None, json.dumps(ids2)))]
    assert _form(tenant, files=files)["code"] == 0
    assert not any(p.exists() for p in paths2)


def test_form_errors(tenant: Tenant) -> None:
    reply = _form(tenant, data={"mode": "7", "app_id": tenant.app_id, "record_list": "x"})
    assert reply["code"] == 6050030003 and "mode" in reply["msg"]
    reply = _form(tenant, data={"app_id": tenant.app_id, "record_list": "[not json"})
    assert reply["code"] == 6050030003 and "record_list" in reply["msg"]
    reply = _form(tenant, data={"app_id": tenant.app_id})
    assert reply["code"] == 6050030003 and "record_list" in reply["msg"]
    files = {"app_id": (None, tenant.app_id), "record_list": ("ids.txt", b"abc", "text/plain")}
    reply = _form(tenant, files=files)
    assert reply["code"] == 6050030003 and "record_list" in reply["msg"]
    for body in (b"garbage", b"--xyz\r\nbroken\r\n\r\n--xyz--\r\n"):
        reply = _form(tenant, content=body, headers={"Content-Type": "multipart/form-data; boundary=xyz"})
        assert reply["code"] == 6050030003 and "malformed form body" in reply["msg"]
    reply = _form(tenant, content=b"x", headers={"Content-Type": "multipart/form-data"})
    assert reply["code"] == 6050030003 and "boundary" in reply["msg"]
