"""The web console in real Chromium against a real server and a real recording (publishers → NMS)."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from api.harness import ServerFactory, Tenant
from numpy.typing import NDArray
from PIL import Image
from playwright.sync_api import Browser, Page, Request, expect, sync_playwright
from support.browser import CHROMIUM_ARGS, artifacts_dir, chromium_or_skip
from support.decode import RGB, close, pixel, video_frames
from support.server import PublishFn, download, publish_stream

from e2e.test_manual_layout import BLUE, RED, record_manual, tile

W, H = 320, 180
STAGE_W = 800  # the stage's CSS width at this viewport: canvas pixels × 2.5
SCALE = STAGE_W / W


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = chromium_or_skip()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 1400})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("dialog", lambda dialog: dialog.accept())
    try:
        yield pg
    finally:
        pg.screenshot(path=str(artifacts_dir("console") / f"{request.node.name}-last.png"), full_page=True)
        context.close()
    assert errors == [], errors  # no script error on any page of the console


def sign_in(page: Page, tenant: Tenant) -> list[Request]:
    """Sign in through the form; every request the page made from then on (to check the secret's path)."""
    sent: list[Request] = []
    page.on("request", lambda req: sent.append(req))
    page.goto(f"{tenant.server.base_url}/console")
    page.fill("#dev-id", tenant.dev_id)
    page.fill("#dev-secret", tenant.dev_secret)
    page.click("#sign-in")
    expect(page.locator("#view-tasks")).to_be_visible()
    return sent


def stage_picture(page: Page) -> NDArray[np.uint8]:
    """The live snapshot as the page shows it (a screenshot of the <img>)."""
    png = page.locator("#snapshot").screenshot()
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.uint8)


def colour_at(picture: NDArray[np.uint8], x: int, y: int) -> RGB:
    """The colour at canvas point (x, y) of a picture of any width."""
    s = picture.shape[1] / W
    return pixel(picture, int(x * s), int(y * s), radius=3)


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_console_signs_in_follows_a_recording_edits_its_layout_and_plays_its_file(
    page: Page, tenant: Tenant, publish: PublishFn, tmp_path: Path
) -> None:
    shots = artifacts_dir("console")
    for user, colour in (("red", RED), ("blue", BLUE)):
        pub, url = publish(user, color=colour, tone_hz=440.0)
        publish_stream(tenant, "web", user, url, media_type=2)
        publish_stream(tenant, "web", user, url, media_type=1)
        pub.wait_live(url)

    sent = sign_in(page, tenant)
    expect(page.locator("#who")).to_have_text(tenant.dev_id)
    expect(page.locator("#app-select")).to_have_value(tenant.app_id)

    # a task made through the API appears in the list, and its status changes there live
    record_id = record_manual(tenant, "web", file_duration=15)  # 3 s segments
    row = page.locator(f'tr[data-record-id="{record_id}"]')
    expect(row.locator(".status")).to_have_text("init", timeout=5000)
    layout = [tile("red", 0, 0, 160, 90), tile("blue", 160, 90, 160, 90)]
    audio = [{"user_id": "red", "media_id": "0", "media_type": 1}]
    reply = tenant.call("/v1/record/set/layout", record_id=record_id, video_list=layout, audio_list=audio)
    assert reply["code"] == 0, reply
    expect(row.locator(".status")).to_have_text("recording", timeout=5000)
    page.screenshot(path=str(shots / "tasks.png"), full_page=True)

    # the task's page: the snapshot shows each source's colour in its tile, outlined and labelled
    row.locator("a").click()
    expect(page.locator("#t-status")).to_have_text("recording")
    expect(page.locator("#tile-layer .tile")).to_have_count(2, timeout=10000)

    def shows_first_layout() -> bool:
        picture = stage_picture(page)
        return close(colour_at(picture, 80, 45), RED) and close(colour_at(picture, 240, 135), BLUE)

    wait_for(shows_first_layout, 10, "the snapshot never showed red top-left and blue bottom-right")
    streams = page.locator("#stream-table tbody tr")
    expect(streams).to_have_count(4)  # the group's published streams: camera and audio of each user
    expect(streams.first.locator("td").first).to_have_text("red")
    labels = page.locator("#tile-layer .tile")
    expect(labels.nth(0)).to_have_text("red")
    expect(labels.nth(1)).to_have_text("blue")
    box = labels.nth(1).bounding_box()
    stage = page.locator("#stage").bounding_box()
    assert box is not None and stage is not None
    assert stage["width"] == pytest.approx(STAGE_W, abs=1)
    assert box["x"] - stage["x"] == pytest.approx(160 * SCALE, abs=1.5)  # blue's outline: (160, 90)
    assert box["y"] - stage["y"] == pytest.approx(90 * SCALE, abs=1.5)
    page.screenshot(path=str(shots / "task-live.png"), full_page=True)

    # drag the red tile down by 90 canvas pixels, apply: the next snapshots and the file follow
    page.click("#edit-toggle")
    red = page.locator('#edit-layer .edit-tile[data-user="red"]')
    rb = red.bounding_box()
    assert rb is not None
    x0, y0 = rb["x"] + rb["width"] / 2, rb["y"] + rb["height"] / 2
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0, y0 + 90 * SCALE, steps=8)
    page.mouse.up()
    expect(page.locator("#layout-table tbody tr").nth(0).locator(".tile-y")).to_have_value("90")
    page.locator("#layout-table tbody tr").nth(1).locator(".tile-crop").select_option("3")  # fit
    page.screenshot(path=str(shots / "task-editing.png"), full_page=True)
    page.click("#apply-layout")
    applied_at = time.monotonic()
    expect(page.locator("#apply-layout")).to_be_disabled()
    info = tenant.get("/v1/record/task/info", record_id=record_id)["task"]
    assert [(v["user_id"], v["x"], v["y"], v["crop_mode"]) for v in info["video_list"]] == [
        ("red", 0, 90, 1),
        ("blue", 160, 90, 3),
    ]
    assert info["audio_list"] == audio  # the editor keeps the audio selection

    def shows_dragged_layout() -> bool:
        picture = stage_picture(page)
        return close(colour_at(picture, 80, 135), RED) and not close(colour_at(picture, 80, 45), RED)

    wait_for(shows_dragged_layout, 5, "the snapshot never showed the red tile moved down")
    assert time.monotonic() - applied_at < 5
    page.click("#edit-toggle")
    page.screenshot(path=str(shots / "task-after-drag.png"), full_page=True)

    # a caption typed in the page is drawn on the canvas (top right, empty since the drag)
    page.click("#add-caption")
    caption = page.locator("#caption-table tbody tr").last
    caption.locator("[name=content]").fill("课堂 Hello")
    caption.locator("[name=color]").fill("#00ff00")
    caption.locator("[name=x]").fill("170")
    caption.locator("[name=size]").fill("28")
    page.click("#apply-captions")
    wanted = [{"content": "课堂 Hello", "color": "#00FF00", "x": 170, "y": 10, "size": 28}]
    wait_for(
        lambda: tenant.get("/v1/record/task/info", record_id=record_id)["task"]["subtitle_list"] == wanted,
        5,
        "the captions were not applied",
    )

    def green_in_top_right() -> int:
        region = stage_picture(page)[: int(60 * SCALE), int(165 * SCALE) :]
        return int(((region[..., 1] > 180) & (region[..., 0] < 100) & (region[..., 2] < 100)).sum())

    wait_for(lambda: green_in_top_right() > 200, 5, "the caption never showed in the snapshot")

    # suspend and resume from the page; the status follows
    page.click("#suspend")
    expect(page.locator("#t-status")).to_have_text("recording (suspended)")
    assert tenant.task(record_id)["paused"] is True
    expect(page.locator("#resume")).to_be_enabled()
    page.click("#resume")
    expect(page.locator("#t-status")).to_have_text("recording")
    assert tenant.task(record_id)["paused"] is False
    time.sleep(3.5)  # a whole segment of the new layout

    # finish from the page; it turns done live and lists the files with poster, size, md5, duration
    page.click("#finish")
    expect(page.locator("#t-status")).to_have_text("done", timeout=30000)
    cards = page.locator("#file-list .file")
    expect(cards.first).to_be_visible(timeout=10000)
    files = download(tenant, record_id, tmp_path / "out")
    expect(cards).to_have_count(len(files))
    for i, (_, item) in enumerate(files):
        card = cards.nth(i)
        extent = json.loads(item["extent"])
        expect(card.locator("dd.md5")).to_have_text(item["md5"])
        expect(card.locator("dd.duration")).to_contain_text(f"{extent['duration']:.3f}")
        expect(card.locator("img.poster")).to_have_js_property("complete", True)
        assert card.locator("img.poster").evaluate("img => img.naturalWidth") == W
    page.screenshot(path=str(shots / "task-files.png"), full_page=True)

    # the recorded file shows the first layout, then the dragged one
    frames = [f for path, _ in files for f in video_frames(path)]
    first = [f for t, f in frames if close(pixel(f, 80, 45), RED) and close(pixel(f, 240, 135), BLUE)]
    dragged = [f for t, f in frames if close(pixel(f, 80, 135), RED) and pixel(f, 80, 45)[0] < 60]
    assert len(first) > 10 and len(dragged) > 30, (len(first), len(dragged), len(frames))
    last = frames[-1][1]
    assert close(pixel(last, 80, 135), RED), pixel(last, 80, 135)

    # the last file plays in the page: the video element's time advances
    video = cards.last.locator("video")
    state = "v => [v.currentTime, v.readyState, v.networkState, v.error && v.error.message]"
    wait_for(lambda: video.evaluate("v => v.readyState") >= 1, 15, "no metadata")  # HAVE_METADATA
    video.evaluate("v => { v.muted = true; return v.play(); }")
    advanced = "v => v.currentTime > Math.min(0.5, v.duration / 2)"  # the last file may be short
    wait_for(lambda: video.evaluate(advanced), 15, f"not played: {video.evaluate(state)}")
    assert video.evaluate("v => v.videoWidth") == W
    page.screenshot(path=str(shots / "task-playing.png"), full_page=True)

    # the secret never left the browser: no request carried it, in its URL, headers or body
    assert sent, "no request seen"
    for req in sent:
        blob = req.url + json.dumps(req.headers) + (req.post_data or "")
        assert tenant.dev_secret not in blob, req.url
    assert (
        page.evaluate("() => JSON.stringify(sessionStorage) + JSON.stringify(localStorage)").find(
            tenant.dev_secret
        )
        == -1
    )


def test_console_filters_pages_switches_language_renews_its_token_and_deletes(
    page: Page, server_factory: ServerFactory
) -> None:
    server = server_factory(access_token_ttl_s=30)  # its clock moves only when the test says so
    tenant = server.tenant()
    seeded = [tenant.seed_task(6, group_id="archive") for _ in range(21)]
    failed = tenant.seed_task(-1, group_id="other")
    sent = sign_in(page, tenant)
    rows = page.locator("#task-table tbody tr")
    expect(rows).to_have_count(20)  # a page
    expect(page.locator("#page-info")).to_contain_text("1 of 2 (22 tasks)")
    page.click("#next")
    expect(rows).to_have_count(2)
    page.select_option("#f-status", "-1")
    page.click("#filter-form button[type=submit]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-record-id", failed)
    page.select_option("#f-status", "")
    page.fill("#f-group", "archive")
    page.click("#filter-form button[type=submit]")
    expect(page.locator("#page-info")).to_contain_text("(21 tasks)")
    page.fill("#f-from", "2999-01-01T00:00:00")
    page.click("#filter-form button[type=submit]")
    expect(page.locator("#page-info")).to_contain_text("(0 tasks)")

    page.click("#lang")
    expect(page.locator("h2 [data-i18n=tasks]")).to_have_text("任务")
    expect(page.locator("#sign-out")).to_have_text("退出")
    page.screenshot(path=str(artifacts_dir("console") / "tasks-zh.png"), full_page=True)
    page.click("#lang")
    expect(page.locator("#sign-out")).to_have_text("Sign out")

    # the access_token times out: the page signs a new developer token with the key it kept and goes on
    def token_requests() -> int:
        return sum(1 for r in sent if "/access/token" in r.url)

    assert token_requests() == 1
    with page.expect_response("**/access/token", timeout=10000) as renewal:
        server.clock.advance(31)
    assert renewal.value.json()["code"] == 0
    assert token_requests() == 2
    page.click("#filter-form button[type=submit]")
    expect(page.locator("#page-info")).to_contain_text("(0 tasks)")
    expect(page.locator("#error")).to_be_hidden()
    tenant = server.tenant_of(tenant.dev_id, tenant.dev_secret, tenant.app_id)  # ours timed out too

    # a reload keeps the tab's session (the renewed access_token); a done task without files: delete
    # its record from its page
    page.goto(f"{tenant.server.base_url}/console/#task?app={tenant.app_id}&id={seeded[0]}")
    page.reload()
    expect(page.locator("#t-status")).to_have_text("done")
    expect(page.locator("#files")).to_be_visible()
    page.click("#delete-task")
    expect(page.locator("#view-tasks")).to_be_visible()
    assert tenant.get("/v1/record/task/list", record_id=seeded[0])["total_num"] == 0

    page.click("#sign-out")
    expect(page.locator("#view-login")).to_be_visible()
    assert page.evaluate("() => sessionStorage.length") == 0
