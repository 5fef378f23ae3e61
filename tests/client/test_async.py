"""`cloudrec.client.AsyncClient`: the same endpoints as coroutines, against the real server."""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter

import httpx
import pytest
from api.harness import ServerFactory, Tenant

from cloudrec.client import (
    AsyncClient,
    AutoRequest,
    CannotSuspend,
    MediaType,
    ParamError,
    SubtitleItem,
    TaskNotFound,
    VideoItem,
)


def async_client(tenant: Tenant) -> AsyncClient:
    server = tenant.server
    return AsyncClient(
        server.base_url,
        dev_id=tenant.dev_id,
        dev_secret=tenant.dev_secret,
        app_id=tenant.app_id,
        clock=server.clock.time,
    )


async def wait_status(client: AsyncClient, record_id: str, status: int) -> None:
    for _ in range(600):
        (task,) = (await client.task_list(record_id=record_id)).record_list
        if task.status == status:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{record_id} never reached status {status}")


def test_the_contract_flow_with_the_async_client(tenant: Tenant) -> None:
    async def flow() -> None:
        async with async_client(tenant) as client:
            record_id = (await client.init("async-room", file_name="async", seq="a")).record_id
            tile = VideoItem(user_id="alice", media_id="0", media_type=2, w=640, h=360)
            assert (await client.set_layout(record_id, video_list=[tile])).record_id == record_id
            stored = tenant.row(record_id).layout
            assert stored is not None and stored["video"][0]["w"] == 640
            await client.set_subtitle(record_id, [SubtitleItem(content="hi", color="#FFFFFF", x=0, y=0)])
            await client.suspend(record_id)
            with pytest.raises(CannotSuspend):
                await client.suspend(record_id)
            await client.resume(record_id)
            assert (await client.finish(record_id)).record_id == record_id
            await wait_status(client, record_id, 6)
            contents = tenant.add_segments(record_id, 1)  # after the recorder's own file
            *_, item = (await client.download_urls(record_id)).data_list
            assert item.md5 == hashlib.md5(contents[0]).hexdigest()
            assert await client.fetch(item.url) == contents[0]
            await client.delete_files([record_id], mode=1)
            assert (await client.task_list(record_id=record_id)).total_num == 0
            with pytest.raises(TaskNotFound):
                await client.finish(record_id)

            auto_id = (await client.init("async-auto", auto=AutoRequest(media_count=2))).record_id
            spec = tenant.server.host.spec_of(auto_id)
            assert spec.auto is not None and spec.auto.media_count == 2
            await client.finish(auto_id)

            url = "rtmp://127.0.0.1/live/a"
            await client.publish_stream("async-room", "alice", MediaType.CAMERA, "0", url)
            streams = (await client.stream_list("async-room")).stream_list
            assert [(s.user_id, s.url) for s in streams] == [("alice", url)]
            await client.unpublish_stream("async-room", "alice", MediaType.CAMERA, "0")
            assert (await client.stream_list("async-room")).total_num == 0

            assert (await client.set_callback("https://example.invalid/h")).secret
            with pytest.raises(ParamError, match="url"):
                await client.set_callback("not a url")

    asyncio.run(flow())


def test_concurrent_calls_share_one_renewal(server_factory: ServerFactory) -> None:
    server = server_factory(access_token_ttl_s=60, min_free_disk_mb=1)
    tenant = server.tenant()
    paths: Counter[str] = Counter()

    async def note(response: httpx.Response) -> None:
        paths[response.request.url.path] += 1

    async def run() -> None:
        http = httpx.AsyncClient(base_url=server.base_url, timeout=30, event_hooks={"response": [note]})
        frozen = server.clock.time()
        async with (
            http,
            AsyncClient(
                dev_id=tenant.dev_id,
                dev_secret=tenant.dev_secret,
                app_id=tenant.app_id,
                clock=lambda: frozen,
                http=http,
            ) as client,
        ):
            await client.task_list()
            server.clock.advance(61)  # every token of the client has expired now
            replies = await asyncio.gather(*(client.task_list() for _ in range(5)))
            assert all(r.total_num == 0 for r in replies)

    asyncio.run(run())
    assert paths["/access/token"] == 2, paths  # the first token, and one renewal for all five calls
    assert paths["/v1/record/task/list"] == 1 + 5 + 5  # each refused once, then sent again
