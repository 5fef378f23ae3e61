"""Automatic layouts end to end: grid and main+subs follow who publishes, priority and media_count."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from api.harness import Tenant
from support.decode import close, pixel, video_frames
from support.server import PublishFn, download, publish_stream, unpublish_stream

from cloudrec.layout import equal_grid, main_and_subs

W, H = 320, 180
PALETTE = [
    (255, 0, 0),
    (0, 255, 0),
    (0, 0, 255),
    (255, 255, 0),
    (255, 0, 255),
    (0, 255, 255),
    (255, 255, 255),
]


def centres(rects: list[Any]) -> list[tuple[int, int]]:
    return [(r.x + r.w // 2, r.y + r.h // 2) for r in rects]


def matches(
    frame: np.ndarray[Any, Any], expected: list[tuple[tuple[int, int], tuple[int, int, int]]]
) -> bool:
    return all(close(pixel(frame, x, y), colour, tol=50) for (x, y), colour in expected)


def first_match(frames: list[tuple[float, Any]], expected: list[Any], after: float) -> float | None:
    for t, frame in frames:
        if t >= after and matches(frame, expected):
            return t
    return None


def start_auto(tenant: Tenant, group: str, **auto: Any) -> str:
    reply = tenant.call(
        "/v1/record/init", group_id=group, width=W, height=H, frame_rate=15, timeout=60, auto=auto
    )
    assert reply["code"] == 0, reply
    record_id: str = reply["record_id"]
    assert tenant.task(record_id)["status"] == 2
    return record_id


def finish(tenant: Tenant, record_id: str, dest: Path) -> list[tuple[float, Any]]:
    assert tenant.call("/v1/record/finish", record_id=record_id)["code"] == 0
    tenant.wait_status(record_id, 6, timeout=30)
    frames: list[tuple[float, Any]] = []
    offset = 0.0
    for path, _ in download(tenant, record_id, dest):
        seg = video_frames(path)
        frames += [(offset + t, f) for t, f in seg]
        offset += seg[-1][0] + 1 / 15 if seg else 0.0
    return frames


def test_grid_reflows_with_1_2_4_7_publishers_and_a_leaver(
    tenant: Tenant, publish: PublishFn, tmp_path: Path
) -> None:
    urls: list[str] = []
    pubs = []
    for i in range(7):
        pub, url = publish(f"p{i}", color=PALETTE[i], tone_hz=None)
        pubs.append(pub)
        urls.append(url)
    for pub, url in zip(pubs, urls, strict=True):
        pub.wait_live(url)

    record_id = start_auto(tenant, "grid")
    states: list[list[Any]] = []

    def publish_users(users: range) -> None:
        for i in users:
            publish_stream(tenant, "grid", f"user{i}", urls[i], media_type=2)

    def expect(users: list[int]) -> None:
        rects = equal_grid(len(users), W, H)
        states.append([(c, PALETTE[u]) for c, u in zip(centres(rects), users, strict=True)])

    for users in (range(0, 1), range(1, 2), range(2, 4), range(4, 7)):
        publish_users(users)
        expect(list(range(users.stop)))
        time.sleep(1.5)
    unpublish_stream(tenant, "grid", "user1", media_type=2)  # a leaver: the others move up
    expect([0, 2, 3, 4, 5, 6])
    time.sleep(1.5)
    publish_stream(
        tenant, "grid", "user1", urls[1], media_type=2
    )  # joins again: back in its join-order place
    expect(list(range(7)))
    time.sleep(1.5)

    frames = finish(tenant, record_id, tmp_path / "out")
    t = 0.0
    for n, expected in enumerate(states):
        found = first_match(frames, expected, after=t)
        assert found is not None, f"layout state {n} never seen after {t:.2f} s"
        t = found


def test_screen_share_wins_and_media_count_caps(tenant: Tenant, publish: PublishFn, tmp_path: Path) -> None:
    cam, cam_url = publish("cam", color=(255, 0, 0), tone_hz=None)
    screen, screen_url = publish("screen", color=(0, 0, 255), tone_hz=None)
    other, other_url = publish("other", color=(0, 255, 0), tone_hz=None)
    third, third_url = publish("third", color=(255, 255, 0), tone_hz=None)
    for pub, url in ((cam, cam_url), (screen, screen_url), (other, other_url), (third, third_url)):
        pub.wait_live(url)
    publish_stream(tenant, "prio", "teacher", cam_url, media_type=2)
    publish_stream(tenant, "prio", "teacher", screen_url, media_type=0)
    publish_stream(tenant, "prio", "pupil", other_url, media_type=2)
    publish_stream(tenant, "prio", "pupil2", third_url, media_type=3)
    record_id = start_auto(tenant, "prio", media_count=2)
    time.sleep(2.5)
    frames = finish(tenant, record_id, tmp_path / "out")
    # two tiles only (media_count=2): teacher's screen share (blue), not the camera, then the pupil
    rects = equal_grid(2, W, H)
    expected = [(c, colour) for c, colour in zip(centres(rects), [(0, 0, 255), (0, 255, 0)], strict=True)]
    late = [f for t, f in frames if t > frames[-1][0] - 1.0]
    assert late and all(matches(f, expected) for f in late), [pixel(late[-1], x, y) for (x, y), _ in expected]


def test_main_and_subs_puts_the_chosen_user_large(tenant: Tenant, publish: PublishFn, tmp_path: Path) -> None:
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]
    for i, colour in enumerate(colours):
        pub, url = publish(f"m{i}", color=colour, tone_hz=None)
        pub.wait_live(url)
        publish_stream(tenant, "ms", f"m{i}", url, media_type=2)
    record_id = start_auto(tenant, "ms", type=2, user_id="m2")
    time.sleep(2.5)
    frames = finish(tenant, record_id, tmp_path / "out")
    rects = main_and_subs(4, W, H)
    order = [2, 0, 1, 3]  # the main user first, then the others in join order
    expected = [(c, colours[u]) for c, u in zip(centres(rects), order, strict=True)]
    late = [f for t, f in frames if t > frames[-1][0] - 1.0]
    assert late and all(matches(f, expected) for f in late), [pixel(late[-1], x, y) for (x, y), _ in expected]
