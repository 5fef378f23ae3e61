"""Scenario 9: a recording outlives its processes: recorder crash -> the successor's first picture, and
`kill -9` of `cloudrec serve` with a new one 3 s later -> the gap in the file.

A real `cloudrec serve` records one stream that a publisher pushes into the test media server
(tests/support, as scenario 7), 320x180@15, one file per recorder (15-minute segments):
- crash: the task's recorder process is killed (SIGKILL) `KILLS` times, `BETWEEN_KILLS_S` apart;
  for each, from the kill to the first frame of the successor's file that shows the source (the
  successor's timeline starts where its gap ends: `gap.start + gap.duration`, its file's time 0);
- restart: `cloudrec serve` is killed (SIGKILL) `RESTARTS` times and started again 3 s later on the
  same data directory; the gap is the largest step between consecutive video frames of the file
  beyond one frame, and the task's `gaps` (none expected: the new server adopts the recorder).
"""

from __future__ import annotations

import os
import signal
import statistics
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import av

from benchmarks.server import Server
from benchmarks.start import COLOURS, FPS, H, W, _media, _publish, first_picture

KILLS = 10
BETWEEN_KILLS_S = 2.5  # the successor records this long before the next kill
RESTARTS = 3
RESTART_PAUSE_S = 3.0  # no server runs for this long
# A successor is enough to have under the default budget of 3; the crash scenario wants 10 in a row.
ENV = {"CLOUDREC_RESTART_BUDGET": "50", "CLOUDREC_LEASE_SCAN_S": "0.2"}


def recorder_pid(work_dir: Path, old: set[str]) -> tuple[int, str] | None:
    """The process writing a segment file of the task not in `old` (its recorder: a salvage opens
    only the files of the dead one), and that file's name."""
    prefix = str(work_dir.resolve()) + "/"
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{name}/fd"):
                target = os.readlink(f"/proc/{name}/fd/{fd}")
                if target.startswith(prefix) and target.endswith(".mp4") and target not in old:
                    return int(name), target
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return None


def _wait_pid(work_dir: Path, old: set[str], timeout_s: float = 20.0) -> int:
    """The recorder writing a new segment file (remembered in `old`)."""
    deadline = time.monotonic() + timeout_s
    while (found := recorder_pid(work_dir, old)) is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no recorder writes into {work_dir}")
        time.sleep(0.01)
    old.add(found[1])
    return found[0]


def stored_gaps(server: Server, record_id: str) -> list[dict[str, Any]]:
    """The task's gaps as the database keeps them (`tasks.succession`)."""
    from sqlalchemy import select

    from cloudrec.db.models import Task
    from cloudrec.db.session import make_engine, make_sessionmaker

    engine = make_engine(server.db_url)
    try:
        with make_sessionmaker(engine)() as s:
            return list(s.scalar(select(Task.gaps).where(Task.record_id == record_id)) or [])
    finally:
        engine.dispose()


def _start(server: Server, group: str, name: str) -> str:
    body = {"app_id": "bench", "group_id": group, "width": W, "height": H, "frame_rate": FPS, "auto": {}}
    init = server.call("POST", "/v1/record/init", {**body, "file_name": name, "file_duration": 15})
    record_id: str = init["record_id"]
    return record_id


def _finish(server: Server, record_id: str) -> tuple[dict[str, Any], list[Path]]:
    server.call("POST", "/v1/record/finish", {"app_id": "bench", "record_id": record_id})
    deadline = time.monotonic() + 60
    while server.status("bench", record_id) != 6:
        if time.monotonic() > deadline:
            raise RuntimeError(f"task {record_id} did not finish")
        time.sleep(0.05)
    query = urllib.parse.urlencode({"app_id": "bench", "record_id": record_id})
    task = server.call("GET", f"/v1/record/task/list?{query}")["record_list"][0]
    paths = []
    for item in server.call("GET", f"/v1/record/file/download/url?{query}")["data_list"]:
        path = server.data_dir / item["file_name"]
        with urllib.request.urlopen(item["url"], timeout=30) as response:
            path.write_bytes(response.read())
        paths.append(path)
    return task, paths


def crash(work: Path, kills: int, url: str) -> dict[str, list[float]]:
    """Seconds from each kill to the successor's first picture, and each gap's duration."""
    server = Server(work / "crash", ENV)
    try:
        server.login("bench")
        _publish(server, "g9", "a", url)
        record_id = _start(server, "g9", "crash")
        work_dir = server.data_dir / "work" / record_id
        files: set[str] = set()
        pid = _wait_pid(work_dir, files)
        time.sleep(BETWEEN_KILLS_S)
        killed: list[float] = []
        for _ in range(kills):
            killed.append(time.time())
            os.kill(pid, signal.SIGKILL)
            pid = _wait_pid(work_dir, files)
            time.sleep(BETWEEN_KILLS_S)
        _, paths = _finish(server, record_id)
    finally:
        server.stop()
    by_index = {int(p.stem.rsplit("_", 1)[1]): p for p in paths}
    gaps = stored_gaps(server, record_id)  # with Unix times and the index of the file after each
    if len(gaps) != kills:
        raise RuntimeError(f"{kills} kills, {len(gaps)} gaps: {gaps}")
    out: dict[str, list[float]] = {"picture": [], "gap": []}
    for gap, at in zip(gaps, killed, strict=True):
        t = first_picture(by_index[gap["index"]], W // 2, COLOURS[0])
        if t is None:
            raise RuntimeError(f"the successor's file {gap['index']} never shows the source")
        out["picture"].append(gap["start"] + gap["duration"] - at + t)
        out["gap"].append(gap["duration"])
    return out


def _largest_step(path: Path) -> tuple[float, float]:
    """The largest step between consecutive video frames (s) and the file's last frame time."""
    last, step = None, 0.0
    with av.open(str(path)) as c:
        for frame in c.decode(c.streams.video[0]):
            t = float(frame.time or 0.0)
            if last is not None:
                step = max(step, t - last)
            last = t
    return step, last or 0.0


def restart(work: Path, restarts: int, url: str) -> dict[str, float]:
    """kill -9 of the server, a new one RESTART_PAUSE_S later, `restarts` times: the gaps in the file."""
    server = Server(work / "restart", ENV)
    try:
        server.login("bench")
        _publish(server, "g9r", "a", url)
        record_id = _start(server, "g9r", "restart")
        started = time.time()
        _wait_pid(server.data_dir / "work" / record_id, set())
        time.sleep(BETWEEN_KILLS_S)
        for _ in range(restarts):
            server.proc.kill()
            server.proc.wait()
            server.log.close()
            time.sleep(RESTART_PAUSE_S)
            access = server.access
            server = Server(server.data_dir, ENV)
            server.access = access
            time.sleep(BETWEEN_KILLS_S + 1.0)  # adopted within ~2 s of the start
        wall = time.time() - started
        task, paths = _finish(server, record_id)
    finally:
        server.stop()
    steps = [_largest_step(p) for p in paths]
    return {
        "largest_step": max(s for s, _ in steps) - 1.0 / FPS,
        "gaps": float(len(task.get("gaps") or [])),
        "files": float(len(paths)),
        "media": sum(last for _, last in steps),
        "wall": wall,
    }


def measure(work: Path, kills: int = KILLS, restarts: int = RESTARTS) -> dict[str, Any]:
    """Both measurements against one published stream."""
    mediaserver, publisher = _media()
    with mediaserver.MediaServer() as nms:
        pub = publisher.Publisher(nms.rtmp_url("live", "s9"), size=(160, 120), fps=15, color=COLOURS[0])
        pub.start()
        url = nms.flv_url("live", "s9")
        try:
            pub.wait_live(url)
            return {"crash": crash(work, kills, url), "restart": restart(work, restarts, url)}
        finally:
            pub.stop(kill=True)


def p50_max(values: list[float]) -> str:
    return f"p50 {statistics.median(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"


if __name__ == "__main__":
    import sys
    import tempfile

    quick = "--quick" in sys.argv
    with tempfile.TemporaryDirectory() as tmp:
        figures = measure(Path(tmp), kills=2 if quick else KILLS, restarts=1 if quick else RESTARTS)
    print("crash -> first picture:", p50_max(figures["crash"]["picture"]), figures["crash"])
    print("restart:", figures["restart"])
