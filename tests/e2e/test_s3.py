"""S3-compatible storage end to end: uploads as segments close, an outage and a restart lose nothing."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api.harness import DatabaseFactory, start_server
from support.decode import media_duration
from support.s3server import MotoServer, TcpProxy
from support.server import E2E_SETTINGS, PublishFn, download, publish_stream

from e2e.test_succession import kill_and_wait_successor

BUCKET = "recordings"


@pytest.fixture
def s3() -> Iterator[tuple[MotoServer, TcpProxy]]:
    with MotoServer() as moto:
        moto.client().create_bucket(Bucket=BUCKET)
        proxy = TcpProxy(moto.port)
        proxy.up()
        try:
            yield moto, proxy
        finally:
            proxy.down()


def s3_settings(proxy: TcpProxy) -> dict[str, Any]:
    return {
        **E2E_SETTINGS,
        "storage": "s3",
        "s3_endpoint_url": proxy.endpoint,
        "s3_region": "us-east-1",
        "s3_bucket": BUCKET,
        "s3_prefix": "cloudrec",
        "s3_access_key_id": "k",
        "s3_secret_access_key": "s",
        "s3_path_style": True,
        "shutdown_upload_wait_s": 0.5,
    }


def bucket_md5s(moto: MotoServer) -> dict[str, str]:
    client = moto.client()
    out = {}
    for obj in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        body = client.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read()
        out[obj["Key"]] = hashlib.md5(body).hexdigest()
    return out


def test_outage_and_restart_lose_no_segment(
    s3: tuple[MotoServer, TcpProxy], publish: PublishFn, databases: DatabaseFactory, tmp_path: Path
) -> None:
    moto, proxy = s3
    pub, url = publish("s3src", color=(0, 255, 0), tone_hz=440.0)
    pub.wait_live(url)
    data, db_url = tmp_path / "data", databases.new_url()
    first = start_server(data, db_url, real_time=True, **s3_settings(proxy))
    try:
        tenant = first.tenant()
        publish_stream(tenant, "s3g", "u1", url, media_type=2)
        publish_stream(tenant, "s3g", "u1", url, media_type=1)
        reply = tenant.call(
            "/v1/record/init",
            group_id="s3g",
            width=320,
            height=180,
            frame_rate=15,
            file_duration=15,
            file_name="cls",
            auto={},
        )
        assert reply["code"] == 0, reply
        record_id = reply["record_id"]
        time.sleep(3.8)  # the first 3 s segment is uploaded while the store is up
        proxy.down()  # the store goes away: the next segments cannot be uploaded
        time.sleep(3.5)
        assert tenant.call("/v1/record/finish", record_id=record_id)["code"] == 0
        assert tenant.wait_status(record_id, 5, timeout=20)["status"] == 5  # finished, waiting for the store
        assert tenant.get("/v1/record/file/download/url", record_id=record_id)["code"] == 6050030031
    finally:
        first.stop()  # the server stops while the store is still down; the local copies stay
    assert list((data / "work" / record_id).glob("cls_*.mp4"))
    proxy.up()
    second = start_server(data, db_url, real_time=True, **s3_settings(proxy))
    try:
        tenant = second.tenant_of(tenant.dev_id, tenant.dev_secret, tenant.app_id)
        tenant.wait_status(record_id, 6, timeout=30)
        files = download(tenant, record_id, tmp_path / "out")  # presigned URLs, md5 checked
        names = [p.name for p, _ in files]
        assert names == [f"cls_{i:04d}.mp4" for i in range(1, len(names) + 1)]
        assert len(names) >= 3
        assert sum(media_duration(p) for p, _ in files) > 5.5
        in_bucket = bucket_md5s(moto)
        for path, item in files:
            assert in_bucket[f"cloudrec/{tenant.app_id}/{record_id}/{path.name}"] == item["md5"]
            # its poster too, also those of the segments closed during the outage (stored after the restart)
            assert f"cloudrec/{tenant.app_id}/{record_id}/{path.stem}.jpg" in in_bucket
            poster = httpx.get(json.loads(item["extent"])["poster"])
            assert poster.status_code == 200 and poster.content[:3] == b"\xff\xd8\xff"  # a JPEG
            assert poster.headers["content-type"] == "image/jpeg"
        # Range works on the presigned URL
        url0 = tenant.get("/v1/record/file/download/url", record_id=record_id)["data_list"][0]["url"]
        r = httpx.get(url0, headers={"Range": "bytes=0-99"})
        assert r.status_code == 206 and len(r.content) == 100
        # nothing is left behind locally once the store has everything
        assert not list((data / "work" / record_id).glob("cls_*.*"))
        # the delete API deletes from the store too
        reply = tenant.call("/v1/record/file", mode=1, record_list=[record_id])
        assert reply["code"] == 0, reply
        assert not [k for k in bucket_md5s(moto) if record_id in k]
    finally:
        second.stop()


def test_a_recorder_killed_while_the_store_is_down_loses_no_segment(
    s3: tuple[MotoServer, TcpProxy], publish: PublishFn, databases: DatabaseFactory, tmp_path: Path
) -> None:
    """Recorders store their own segments: one killed with closed segments unstored (the store is
    down) is replaced at once; its successor stores them once the store is back."""
    moto, proxy = s3
    pub, url = publish("s3kill", color=(0, 255, 0), tone_hz=440.0)
    pub.wait_live(url)
    server = start_server(tmp_path / "data", databases.new_url(), real_time=True, **s3_settings(proxy))
    try:
        tenant = server.tenant()
        publish_stream(tenant, "s3k", "u1", url, media_type=2)
        publish_stream(tenant, "s3k", "u1", url, media_type=1)
        proxy.down()
        reply = tenant.call(
            "/v1/record/init", group_id="s3k", width=160, height=90, frame_rate=15, file_duration=15,
            file_name="kd", auto={},
        )  # fmt: skip
        assert reply["code"] == 0, reply
        record_id = reply["record_id"]
        time.sleep(4.0)  # a 3 s segment closed, not stored; a second open
        took = kill_and_wait_successor(server, record_id)
        assert took < 4.0, took  # the salvage gave the store 1.5 s, not more
        print(f"successor after {took:.2f} s with the store down")  # shown with -s
        assert tenant.task(record_id)["status"] == 2
        time.sleep(1.0)
        proxy.up()
        assert tenant.call("/v1/record/finish", record_id=record_id)["code"] == 0
        task = tenant.wait_status(record_id, 6, timeout=40)
        assert len(task["gaps"]) == 1
        files = download(tenant, record_id, tmp_path / "out")  # presigned URLs, md5 checked
        names = [p.name for p, _ in files]
        # 1 closed unstored, the dead one's open file (if it held media yet), the successor's
        assert names == [f"kd_{i:04d}.mp4" for i in range(1, len(names) + 1)] and len(names) >= 2
        assert all(media_duration(p) > 0.5 for p, _ in files)
        in_bucket = bucket_md5s(moto)
        for path, item in files:
            assert in_bucket[f"cloudrec/{tenant.app_id}/{record_id}/{path.name}"] == item["md5"]
        assert not list((tmp_path / "data" / "work" / record_id).glob("kd_*.mp4"))
    finally:
        server.stop()
