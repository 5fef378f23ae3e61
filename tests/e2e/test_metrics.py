"""`/metrics` moves with a real recording: active recordings, frames composed, a dropped source's
reconnect, bytes pulled, the recording's end.

The server is a `cloudrec serve` process of its own: counters are process-wide, and the in-process
servers of other tests (whose recorders may still be ending) must not count into its figures."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from api.harness import DatabaseFactory
from support.metrics import Scrape, scrape
from support.serve import Account, Serve
from support.server import E2E_SETTINGS, PublishFn, finish, publish_stream


@pytest.fixture
def tenant(databases: DatabaseFactory, tmp_path: Path) -> Iterator[Account]:
    serve = Serve(tmp_path / "data", databases.new_url(), tmp_path / "serve.log", **E2E_SETTINGS)
    try:
        yield Account.create(serve)
    finally:
        serve.stop()


def wait_for(
    tenant: Account, what: str, predicate: Callable[[Scrape], bool], timeout: float = 20.0
) -> Scrape:
    deadline = time.monotonic() + timeout
    while True:
        metrics = scrape(tenant.serve.url)
        if predicate(metrics):
            return metrics
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_metrics_follow_a_recording_and_count_a_killed_source_as_a_reconnect(
    tenant: Account, publish: PublishFn
) -> None:
    pub, url = publish("cam", color=(0, 0, 255), tone_hz=440.0)
    pub.wait_live(url)
    publish_stream(tenant, "metrics", "u1", url, media_type=2)
    before = scrape(tenant.serve.url)
    assert before.value("cloudrec_recordings_active") == 0
    reply = tenant.call(
        "/v1/record/init", group_id="metrics", width=320, height=180, frame_rate=15, timeout=60, auto={}
    )
    assert reply["code"] == 0, reply
    record_id = reply["record_id"]

    def delta(m: Scrape, name: str, **labels: str) -> float:
        return m.value(name, **labels) - before.value(name, **labels)

    first = wait_for(  # Stats come once a second: a second of pictures at 15 fps, the source opened
        tenant,
        "frames composed",
        lambda m: (
            delta(m, "cloudrec_frames_composed_total") >= 15 and delta(m, "cloudrec_source_opens_total") >= 1
        ),
    )
    assert first.value("cloudrec_recordings_active") == 1
    assert delta(first, "cloudrec_recordings_started_total") == 1
    assert delta(first, "cloudrec_source_opens_total") >= 1
    assert delta(first, "cloudrec_source_bytes_total") > 0
    assert delta(first, "cloudrec_source_reconnects_total") == 0
    wait_for(  # pictures are composed from the start, whether media flows or not: both grow
        tenant,
        "frames composed and bytes pulled to grow",
        lambda m: (
            m.value("cloudrec_frames_composed_total") > first.value("cloudrec_frames_composed_total")
            and m.value("cloudrec_source_bytes_total") > first.value("cloudrec_source_bytes_total")
        ),
    )

    pub.stop(kill=True)  # the stream drops abruptly
    dropped = wait_for(
        tenant, "the dropped stream's reconnect", lambda m: delta(m, "cloudrec_source_reconnects_total") >= 1
    )
    pub.start()
    pub.wait_live(url)
    opens = dropped.value("cloudrec_source_opens_total")
    wait_for(tenant, "the source to open again", lambda m: m.value("cloudrec_source_opens_total") > opens)
    assert dropped.value("cloudrec_recordings_active") == 1  # the recording went on meanwhile

    finish(tenant, record_id)
    ended = wait_for(tenant, "the recorder to end", lambda m: m.value("cloudrec_recordings_active") == 0)
    assert delta(ended, "cloudrec_recordings_ended_total", outcome="finished") == 1
    assert delta(ended, "cloudrec_recordings_ended_total", outcome="failed") == 0
    assert ended.value("cloudrec_tasks", status="6") == 1
    # the final figures of Finished are counted once: the counters agree with the task's own figures
    row = tenant.row(record_id)
    assert delta(ended, "cloudrec_source_bytes_total") == row.flow_bytes
    composed = delta(ended, "cloudrec_frames_composed_total") + delta(ended, "cloudrec_frames_skipped_total")
    assert abs(composed - row.media_duration * 15) <= 1, (composed, row.media_duration)
