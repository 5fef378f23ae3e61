"""Scenario 10: a command given to API server B reaches the recorder that server A runs (one PostgreSQL).

Two `cloudrec serve` processes on one PostgreSQL database (`CLOUDREC_BENCH_DATABASE_URL`, an empty
database), their own data directories and the same keys. A's recorder records a task (no stream: the
placeholder, 160x90@5); suspend and resume alternate through B `COMMANDS` times, `PAUSE_S` apart. The
latency is from the moment B was asked to the log line in which A's recorder reports the command
(`command Suspend`, millisecond timestamps of the same clock).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import time
from pathlib import Path

from benchmarks.server import Server

COMMANDS = 20
# Between commands: more than a relay takes (the scan's 1 s at most), so that each is measured alone
# (the relay carries the desired state: a suspend and a resume within one scan reach it as one).
PAUSE_S = 1.5
LINE = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO \[rec (\S+)\] \S+: command (Suspend|Resume)$"
)


def _recorder_lines(log: Path, record_id: str) -> list[tuple[float, str]]:
    """(Unix time, command) of each command A's recorder of `record_id` logged (local time: the server's)."""
    out = []
    for line in log.read_text(errors="replace").splitlines():
        m = LINE.match(line)
        if m and m.group(2) == record_id:
            at = dt.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            out.append((at, m.group(3)))
    return out


def measure(work: Path, db_url: str, commands: int = COMMANDS) -> list[float]:
    """Seconds from asking B to A's recorder carrying the command out, per command."""
    env = {
        "CLOUDREC_DATABASE_URL": db_url,
        "CLOUDREC_SECRETS_KEY": secrets.token_hex(32),
        "CLOUDREC_SIGNING_KEY": secrets.token_hex(32),
        "CLOUDREC_LOG_LEVEL": "INFO",
        "TZ": "UTC",
    }
    a = Server(work / "a", env)
    b = Server(work / "b", env)
    try:
        a.login("bench")
        b.access = a.access
        init = a.call(
            "POST",
            "/v1/record/init",
            {"app_id": "bench", "group_id": "relay", "width": 160, "height": 90, "frame_rate": 5,
             "timeout": 1440, "auto": {}},
        )  # fmt: skip
        record_id = init["record_id"]
        deadline = time.monotonic() + 20
        while a.status("bench", record_id) != 2:
            if time.monotonic() > deadline:
                raise RuntimeError("the task did not start recording")
            time.sleep(0.05)
        time.sleep(1.0)
        asked: list[tuple[float, str]] = []
        for n in range(commands):
            what = "suspend" if n % 2 == 0 else "resume"
            asked.append((time.time(), what.capitalize()))
            b.call("POST", f"/v1/record/{what}", {"app_id": "bench", "record_id": record_id})
            time.sleep(PAUSE_S)
        time.sleep(2.0)
        a.call("POST", "/v1/record/finish", {"app_id": "bench", "record_id": record_id})
    finally:
        b.stop()
        a.stop()
    done = _recorder_lines(work / "a" / "serve.log", record_id)
    if len(done) < len(asked):
        raise RuntimeError(f"{len(asked)} commands asked of B, {len(done)} reached A's recorder")
    return [at - t0 for (t0, _), (at, _) in zip(asked, done, strict=False)]


if __name__ == "__main__":
    import statistics
    import tempfile

    url = os.environ["CLOUDREC_BENCH_DATABASE_URL"]
    with tempfile.TemporaryDirectory() as tmp:
        values = measure(Path(tmp), url)
    print(f"p50 {statistics.median(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms", values)
