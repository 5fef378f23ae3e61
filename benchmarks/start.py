"""Scenario 7: how soon a recording shows what is published, against a live media server.

A real `cloudrec serve` records streams that publishers push into the test media server
(node-media-server, with its cached GOP, as production media servers have). Measured on the files:
- start request -> first picture: the file time of the first frame whose tile shows its source (file
  time 0 is the request that starts the timeline: init of an automatic task, the first set/layout of a
  manual one), over `STARTS` starts of each kind, the first right after the server started;
- publish -> first picture: a stream published into a running automatic recording, from the publish
  request to the first frame showing it, over `JOINS` joins.
"""

from __future__ import annotations

import importlib
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import av
import numpy as np

from benchmarks.server import Server

TESTS = Path(__file__).resolve().parent.parent / "tests"
W, H, FPS = 320, 180, 15
PLACEHOLDER = 0x28  # the grey of a tile without a picture
COLOURS = ((220, 30, 30), (30, 30, 220))
RECORD_SECONDS = 1.5
STARTS = 20
JOINS = 10


def _media() -> Any:
    """The test media server and publisher (tests/support), installed by `python3 make.py test`."""
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    return importlib.import_module("support.mediaserver"), importlib.import_module("support.publisher")


def first_picture(path: Path, x: int, colour: tuple[int, int, int]) -> float | None:
    """File time of the first frame whose pixel at (x, H/2) shows `colour`."""
    with av.open(str(path)) as c:
        for frame in c.decode(c.streams.video[0]):
            rgb = frame.to_ndarray(format="rgb24")[H // 2 - 2 : H // 2 + 3, x - 2 : x + 3].reshape(-1, 3)
            mean = rgb.mean(axis=0)
            if np.abs(mean - np.array(colour)).max() < 40:
                return float(frame.time or 0.0)
    return None


def _record(server: Server, body: dict[str, Any], layout: dict[str, Any] | None) -> tuple[Path, float]:
    """One short recording; its file and the Unix time of the request that started its timeline."""
    init = server.call("POST", "/v1/record/init", {"app_id": "bench", **body})
    record_id = init["record_id"]
    started = time.time()
    if layout is not None:
        server.call("POST", "/v1/record/set/layout", {"app_id": "bench", "record_id": record_id, **layout})
    time.sleep(RECORD_SECONDS)
    server.call("POST", "/v1/record/finish", {"app_id": "bench", "record_id": record_id})
    return _download(server, record_id), started


def _download(server: Server, record_id: str) -> Path:
    deadline = time.monotonic() + 30
    while server.status("bench", record_id) != 6:
        if time.monotonic() > deadline:
            raise RuntimeError(f"task {record_id} did not finish")
        time.sleep(0.05)
    query = urllib.parse.urlencode({"app_id": "bench", "record_id": record_id})
    item = server.call("GET", f"/v1/record/file/download/url?{query}")["data_list"][0]
    path = server.data_dir / f"{record_id}.mp4"
    with urllib.request.urlopen(item["url"], timeout=30) as response:
        path.write_bytes(response.read())
    return path


def _publish(server: Server, group: str, user: str, url: str) -> None:
    for media_type in (2, 1):
        server.call(
            "POST",
            "/v1/group/stream/publish",
            {"app_id": "bench", "group_id": group, "user_id": user, "media_type": media_type, "media_id": "0",
             "url": url},
        )  # fmt: skip


def measure(work: Path, starts: int = STARTS, joins: int = JOINS) -> dict[str, list[float]]:
    """File times (s) of the first picture after each start, per kind, and after each join."""
    mediaserver, publisher = _media()
    out: dict[str, list[float]] = {"auto": [], "manual": [], "join": []}
    with mediaserver.MediaServer() as nms:
        pubs = []
        urls = []
        for i, colour in enumerate(COLOURS):
            pub = publisher.Publisher(nms.rtmp_url("live", f"s7-{i}"), size=(160, 120), fps=15, color=colour)
            pub.start()
            pubs.append(pub)
            urls.append(nms.flv_url("live", f"s7-{i}"))
        try:
            for pub, url in zip(pubs, urls, strict=True):
                pub.wait_live(url)
            for kind in ("auto", "manual"):
                server = Server(work / f"s7-{kind}")  # the first start of each kind follows a server start
                try:
                    server.login("bench")
                    _publish(server, "g", "a", urls[0])
                    tile = {"user_id": "a", "media_type": 2, "media_id": "0", "x": 0, "y": 0, "w": W, "h": H}
                    for _ in range(starts):
                        body = {"group_id": "g", "width": W, "height": H, "frame_rate": FPS}
                        if kind == "auto":
                            path, _ = _record(server, {**body, "auto": {}}, None)
                        else:
                            path, _ = _record(server, body, {"video_list": [tile], "audio_list": []})
                        t = first_picture(path, W // 2, COLOURS[0])
                        out[kind].append(t if t is not None else RECORD_SECONDS)
                    if kind == "auto":
                        for n in range(joins):
                            out["join"].append(_join(server, urls, f"j{n}"))
                finally:
                    server.stop()
        finally:
            for pub in pubs:
                pub.stop(kill=True)
    return out


def _join(server: Server, urls: list[str], group: str) -> float:
    """Publish a second stream into a running automatic recording: publish request -> its picture."""
    _publish(server, group, "a", urls[0])
    init = server.call(
        "POST",
        "/v1/record/init",
        {"app_id": "bench", "group_id": group, "width": W, "height": H, "frame_rate": FPS, "auto": {}},
    )
    started = time.time()
    time.sleep(0.8)
    published = time.time()
    _publish(server, group, "b", urls[1])
    time.sleep(RECORD_SECONDS)
    server.call("POST", "/v1/record/finish", {"app_id": "bench", "record_id": init["record_id"]})
    path = _download(server, init["record_id"])
    t = first_picture(path, 3 * W // 4, COLOURS[1])  # the 2x1 grid's right tile
    return (t if t is not None else published - started + RECORD_SECONDS) - (published - started)


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    ms = [statistics.median(ordered) * 1000, p99 * 1000, ordered[-1] * 1000]
    return "p50 {:.0f} ms, p99 {:.0f} ms, max {:.0f} ms".format(*ms)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        figures = measure(Path(tmp), starts=3, joins=2)
    for name, values in figures.items():
        print(name, summary(values), [round(v, 3) for v in values])
