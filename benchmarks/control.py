"""Scenario 6: control-plane latency of set/layout and task/list under open-loop load, many tasks stored."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import functools
import itertools
import json
import logging
import math
import os
import random
import resource
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import numpy as np
from sqlalchemy import func, insert, make_url, select
from sqlalchemy.orm import Session

from benchmarks.media import ensure_sources, serving
from benchmarks.scenarios import Context, Row
from benchmarks.server import Server
from cloudrec.db.models import File, Task
from cloudrec.db.session import make_engine, normalise_url

log = logging.getLogger(__name__)

RATE = 200.0  # requests per second, both endpoints together
APPS = (("bench", 0.6), ("bench-b", 0.3), ("bench-c", 0.1))  # the developer's apps and their share of tasks
TASKS_PER_GROUP = 20  # on average: recurring rooms (classes, meetings) hold most of the history
HISTORY_S = 180 * 86400  # seeded tasks were created over the last 180 days
LIVE = 2  # live manual recordings that set/layout changes
CANVAS = (320, 180, 15)  # their canvas and frame rate: small, to keep their CPU low
EXPECTED_CODES = frozenset({0})
TIMEOUT_S = 10.0
# Requests in flight at once, each on its own keep-alive connection (a fleet of app servers); later ones
# wait their turn in the generator, which counts in their latency. Unbounded, the client's pool bookkeeping
# grows with the connections open and the generator itself falls behind its schedule.
IN_FLIGHT = 64
GIVE_UP_S = 30.0  # a request still waiting for a connection this long after its time is not sent (error)
LAYOUT = "/v1/record/set/layout"
LIST = "/v1/record/task/list"


# ---- seeding ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    """What `seed` wrote: counts, time taken, and each app's groups (most used first)."""

    tasks: int
    files: int
    seconds: float
    groups: dict[str, list[str]]
    weights: dict[str, list[float]]


def _zipf(n: int, s: float = 0.9) -> list[float]:
    return [1.0 / (k + 1) ** s for k in range(n)]


def _manual_layout(rng: random.Random, users: int) -> dict[str, Any]:
    w, h = (640, 360) if users <= 4 else (480, 270)
    return {
        "video": [
            {
                "user_id": f"u{k}",
                "media_id": "0",
                "media_type": 2,
                "x": (k % 3) * w,
                "y": (k // 3) * h,
                "w": w,
                "h": h,
                "crop_mode": rng.choice((1, 2, 3)),
            }
            for k in range(users)
        ],
        "audio": [{"user_id": f"u{k}", "media_id": "0", "media_type": 1} for k in range(users)],
    }


_AUTO = {"type": 1, "user_id": None, "media_type": 2, "media_count": 9, "crop_mode": 2, "caption": False}
_ERRORS = (
    "the server stopped while this task was recording; files are kept",
    "no stream of the group could be pulled for 600 s",
    "recorder process ended unexpectedly (exit code -9); files are kept",
)


def _task_rows(
    rng: random.Random, count: int, now: float, groups: dict[str, list[str]], weights: dict[str, list[float]]
) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]:
    """`count` tasks as the service leaves them (oldest first) and the segment files of each."""
    apps = [a for a, _ in APPS]
    app_cum = list(itertools.accumulate(share for _, share in APPS))
    group_cum = {a: list(itertools.accumulate(weights[a])) for a in apps}
    created = sorted(now - 600 - rng.random() * HISTORY_S for _ in range(count))
    tasks: list[dict[str, Any]] = []
    files: list[list[dict[str, Any]]] = []
    for t0 in created:
        app = apps[bisect.bisect(app_cum, rng.random() * app_cum[-1])]
        cum = group_cum[app]
        group = groups[app][min(len(cum) - 1, bisect.bisect(cum, rng.random() * cum[-1]))]
        stamp = datetime.fromtimestamp(t0, UTC).strftime("%Y%m%d%H%M%S")
        record_id = f"{stamp}_{rng.getrandbits(64):016x}"
        auto = rng.random() < 0.7
        mp3 = rng.random() < 0.08
        users = rng.randint(1, 9 if auto else 6)
        width, height = rng.choice(((1280, 720), (1920, 1080), (640, 360)))
        start = t0 + (rng.uniform(0.1, 1.0) if auto else rng.uniform(1.0, 60.0))
        media = min(4 * 3600.0, max(30.0, rng.lognormvariate(math.log(1800), 0.8)))
        paused = media * rng.random() * 0.1 if rng.random() < 0.1 else 0.0
        stop = start + media + paused
        failed = rng.random() < 0.025
        deleted = not failed and t0 < now - 90 * 86400 and rng.random() < 0.4
        file_name = rng.choice((group, record_id, f"{group}-{stamp[:8]}"))
        segments: list[dict[str, Any]] = []
        if not deleted and not (failed and rng.random() < 0.5):
            rate_bps = 128_000 if mp3 else rng.uniform(0.6e6, 2.5e6)
            for index in range(1, math.ceil(media / 3600) + 1):
                seconds = min(3600.0, media - (index - 1) * 3600)
                name = f"{file_name}_{index:04d}.{'mp3' if mp3 else 'mp4'}"
                segments.append(
                    {
                        "index": index,
                        "name": name,
                        "storage_key": f"{app}/{record_id}/{name}",
                        "size": int(seconds * rate_bps / 8),
                        "md5": f"{rng.getrandbits(128):032x}",
                        "duration": round(seconds, 3),
                        "start_time": start + (index - 1) * 3600,
                        "stored": True,
                        "local_path": "",
                    }
                )
        tasks.append(
            {
                "record_id": record_id,
                "app_id": app,
                "group_id": group,
                "seq": "",
                "file_name": file_name,
                "file_type": 1 if mp3 else 0,
                "file_duration": 60,
                "width": width,
                "height": height,
                "record_mode": 0,
                "frame_rate": rng.choice((15, 25, 30)),
                "timeout": 600,
                "auto": dict(_AUTO) if auto else None,
                "layout": None if auto else _manual_layout(rng, users),
                "captions": None,
                "status": -1 if failed else 6,
                "paused": False,
                "error": rng.choice(_ERRORS) if failed else "",
                "host_id": "",
                "created_at": t0,
                "start_time": start,
                "stop_time": stop,
                "done_time": stop + rng.uniform(0.2, 2.0),
                "media_duration": media,
                "record_duration": media + paused,
                "flow_bytes": int(media * users * 1.2e6 / 8),
                "file_size": sum(s["size"] for s in segments),
                "files_deleted": deleted,
                "finish_media_duration": round(media),
                "finish_record_duration": round(media + paused),
                "finish_flow_kb": int(media * users * 1.2e6 / 8) // 1024,
            }
        )
        files.append(segments)
    return tasks, files


def seed(db_url: str, count: int, now: float, rng: random.Random) -> Seeded:
    """Bulk-insert `count` ended tasks (and their files) through cloudrec's models into the database."""
    t0 = time.monotonic()
    groups: dict[str, list[str]] = {}
    weights: dict[str, list[float]] = {}
    for app, share in APPS:
        n = max(10, round(count * share / TASKS_PER_GROUP))
        groups[app] = [f"room-{k:05d}" for k in range(n)]
        weights[app] = _zipf(n)
    tasks, files = _task_rows(rng, count, now, groups, weights)
    engine = make_engine(db_url)
    written = 0
    try:
        with Session(engine) as session:
            batch = 5000
            for lo in range(0, len(tasks), batch):
                ids = session.scalars(
                    insert(Task).returning(Task.id, sort_by_parameter_order=True), tasks[lo : lo + batch]
                ).all()
                rows = [
                    {"task_id": task_id, **f}
                    for task_id, segs in zip(ids, files[lo : lo + batch], strict=True)
                    for f in segs
                ]
                if rows:
                    session.execute(insert(File), rows)
                written += len(rows)
            session.commit()
            stored = session.scalar(select(func.count()).select_from(Task)) or 0
        if engine.dialect.name == "postgresql":
            # what autovacuum would have done by now in a database that grew over 180 days: planner
            # statistics, and the visibility map that lets counts read indexes alone
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE tasks, files")
    finally:
        engine.dispose()
    seconds = time.monotonic() - t0
    log.info("seeded %d tasks (%d in the table), %d files in %.1f s", count, stored, written, seconds)
    return Seeded(count, written, seconds, groups, weights)


def _database(url: str) -> str:
    """The server's database in words (never its credentials)."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() == "sqlite":
        return "SQLite (WAL) in a fresh data dir"
    where = f"{parsed.host}:{parsed.port}/{parsed.database}"
    return f"{parsed.get_backend_name()} at {where} (CLOUDREC_DATABASE_URL)"


# ---- live recordings ----------------------------------------------------------------------------


def _layouts(users: tuple[str, str]) -> list[dict[str, Any]]:
    """Two valid manual layouts of the small canvas: side by side, and full + picture-in-picture."""
    w, h, _ = CANVAS
    a, b = users
    audio = [{"user_id": u, "media_id": "0", "media_type": 1} for u in users]

    def tile(user: str, x: int, y: int, tw: int, th: int, crop_mode: int) -> dict[str, Any]:
        return {
            "user_id": user,
            "media_id": "0",
            "media_type": 2,
            "x": x,
            "y": y,
            "w": tw,
            "h": th,
            "crop_mode": crop_mode,
        }

    side = [tile(a, 0, 0, w // 2, h, 2), tile(b, w // 2, 0, w // 2, h, 2)]
    pip = [tile(a, 0, 0, w, h, 2), tile(b, w - 96, h - 54, 88, 50, 3)]
    return [{"audio_list": audio, "video_list": side}, {"audio_list": audio, "video_list": pip}]


@dataclass(frozen=True)
class Live:
    app_id: str
    record_id: str
    layouts: list[dict[str, Any]]


def start_live(server: Server, app_id: str, urls: list[str], n: int) -> Live:
    """A manual recording of group live-`n`: two users (camera + audio) published, first layout set."""
    group = f"live-{n}"
    users = (f"alice{n}", f"bob{n}")
    for user, url in zip(users, urls, strict=True):
        for media_type in (2, 1):
            stream = {"user_id": user, "media_type": media_type, "media_id": "0", "url": url}
            server.call("POST", "/v1/group/stream/publish", {"app_id": app_id, "group_id": group, **stream})
    w, h, fps = CANVAS
    init = server.call(
        "POST",
        "/v1/record/init",
        {"app_id": app_id, "group_id": group, "file_name": group, "width": w, "height": h, "frame_rate": fps},
    )
    live = Live(app_id, init["record_id"], _layouts(users))
    server.call("POST", LAYOUT, {"app_id": app_id, "record_id": live.record_id, **live.layouts[0]})
    return live


# ---- the load -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    endpoint: str  # LAYOUT or LIST
    kind: str  # what the request asks, for the breakdown
    params: dict[str, str | int] = field(default_factory=dict)  # query (task/list)
    body: dict[str, Any] | None = None  # JSON (set/layout)

    @functools.cached_property
    def payload(self) -> bytes:
        """The JSON body, encoded (once, before the clock starts)."""
        return json.dumps(self.body).encode()


@dataclass(frozen=True)
class Result:
    request: Request
    due: float  # s after the first request that this one was scheduled
    latency: float  # s from the scheduled send time to the whole reply read
    lag: float  # s the generator started it after its scheduled time (it fell behind its schedule)
    wait: float  # s it then waited for one of the IN_FLIGHT connections
    http: int  # 0: no HTTP reply (timeout, connection error)
    code: int | None
    detail: str


def plan(n: int, lives: list[Live], seeded: Seeded, now: float, rng: random.Random) -> list[Request]:
    """`n` requests, alternately set/layout (over the live tasks and their layouts) and task/list."""
    app = APPS[0][0]
    pages = max(1, round(seeded.tasks * APPS[0][1]) // 50)
    cum = list(itertools.accumulate(seeded.weights[app]))
    out: list[Request] = []
    # Each call changes its task's layout (every task starts in its layout 0).
    layouts = itertools.cycle([(live, live.layouts[k]) for k in (1, 0) for live in lives])
    for i in range(n):
        if i % 2 == 0:
            live, layout = next(layouts)
            body = {"app_id": live.app_id, "record_id": live.record_id, "seq": f"b{i}", **layout}
            out.append(Request(LAYOUT, "set/layout", body=body))
            continue
        pick = rng.random()
        params: dict[str, str | int]
        if pick < 0.3:
            kind, params = "first page", {"app_id": app}
        elif pick < 0.6:
            group = seeded.groups[app][bisect.bisect(cum, rng.random() * cum[-1])]
            kind, params = "group", {"app_id": app, "group_id": group}
        elif pick < 0.8:
            kind, params = "deep page", {"app_id": app, "page": rng.randint(pages // 5, pages)}
        else:
            since = datetime.fromtimestamp(now - 86400, UTC).strftime("%Y-%m-%d %H:%M:%S")
            kind, params = "status 6, last day", {"app_id": app, "status": 6, "start_time": since}
        out.append(Request(LIST, kind, params=params))
    return out


async def _one(
    session: aiohttp.ClientSession,
    slots: asyncio.Semaphore,
    req: Request,
    start: float,
    due: float,
) -> Result:
    loop = asyncio.get_running_loop()
    lag = loop.time() - due
    http, code, detail = 0, None, ""
    async with slots:
        wait = loop.time() - due - lag
        if loop.time() - due > GIVE_UP_S:  # the server is stuck: don't let the run last for ever
            detail = f"not sent: still queued in the generator after {GIVE_UP_S:.0f} s"
            return Result(req, due - start, loop.time() - due, lag, wait, 0, None, detail)
        try:
            if req.body is not None:
                call = session.post(req.endpoint, data=req.payload)
            else:
                call = session.get(req.endpoint, params=req.params)
            async with call as reply:
                http = reply.status
                payload = json.loads(await reply.read())
            code = int(payload.get("code", -1))
            if code != 0:
                detail = str(payload.get("msg", ""))[:200]
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            detail = f"{type(exc).__name__}: {exc}"[:200]
    return Result(req, due - start, loop.time() - due, lag, wait, http, code, detail)


async def _drive(base: str, access: str, requests: list[Request], rate: float) -> list[Result]:
    """Open loop: request i is sent at start + i / rate, whether earlier ones were answered or not."""
    # Idle connections are dropped before the server's keep-alive timeout (uvicorn: 5 s) can close one
    # under a request just sent on it.
    connector = aiohttp.TCPConnector(limit=IN_FLIGHT, keepalive_timeout=2.0)
    slots = asyncio.Semaphore(IN_FLIGHT)
    headers = {"Authorization": access, "Content-Type": "application/json"}
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
    async with aiohttp.ClientSession(base, headers=headers, timeout=timeout, connector=connector) as session:
        # the bodies are encoded before the clock starts: the generator shares the CPUs with the server
        encoded = sum(len(req.payload) for req in requests if req.body is not None)
        log.debug("%d bytes of request bodies encoded", encoded)
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.05
        pending = []
        for i, req in enumerate(requests):
            due = start + i / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            pending.append(asyncio.create_task(_one(session, slots, req, start, due)))
        return list(await asyncio.gather(*pending))


def drive(base: str, access: str, requests: list[Request], rate: float) -> tuple[list[Result], float]:
    """The results, and the CPU seconds the benchmark process (the generator) spent meanwhile."""
    quiet = [logging.getLogger(name) for name in ("aiohttp",)]
    levels = [q.level for q in quiet]
    for q in quiet:
        q.setLevel(logging.WARNING)  # a log line per request would load the shared CPUs
    before = resource.getrusage(resource.RUSAGE_SELF)
    try:
        results = asyncio.run(_drive(base, access, requests, rate))
    finally:
        for q, level in zip(quiet, levels, strict=True):
            q.setLevel(level)
    after = resource.getrusage(resource.RUSAGE_SELF)
    return results, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


# ---- the report ---------------------------------------------------------------------------------


def _ms(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values) * 1000, q)) if values else float("nan")


def _errors(results: list[Result]) -> str:
    bad = [r for r in results if r.http != 200 or r.code not in EXPECTED_CODES]
    if not bad:
        return "errors 0"
    kinds: dict[str, int] = {}
    for r in bad:
        key = f"HTTP {r.http} code {r.code} {r.detail[:80]}"
        kinds[key] = kinds.get(key, 0) + 1
    worst = sorted(kinds.items(), key=lambda kv: -kv[1])[:3]
    return f"errors {len(bad)} ({'; '.join(f'{n}x {k}' for k, n in worst)})"


def _row(label: str, endpoint: str, results: list[Result], seconds: float, extra: str) -> Row:
    mine = [r for r in results if r.request.endpoint == endpoint]
    lat = [r.latency for r in mine]
    name = "set/layout" if endpoint == LAYOUT else "task/list"
    note = (
        f"{name}: p50 {_ms(lat, 50):.1f} ms, p99 {_ms(lat, 99):.1f} ms, max {max(lat) * 1000:.0f} ms; "
        f"n={len(mine)} at {len(mine) / seconds:.0f} req/s; {_errors(mine)}{extra}"
    )
    return Row(label, "cloudrec serve", "-", _ms(lat, 99), "ms p99", note=note)


def _breakdown(results: list[Result]) -> str:
    kinds: dict[str, list[float]] = {}
    for r in results:
        if r.request.endpoint == LIST:
            kinds.setdefault(r.request.kind, []).append(r.latency)
    return "; ".join(
        f"{k} p50/p99 {_ms(v, 50):.1f}/{_ms(v, 99):.1f} ms (n={len(v)})" for k, v in kinds.items()
    )


@dataclass(frozen=True)
class Phase:
    rate: float
    results: list[Result]
    wall: float  # s the phase took
    server_cpu: float  # CPU s of the server process meanwhile
    generator_cpu: float  # CPU s of the benchmark process meanwhile

    @property
    def span(self) -> float:
        """s from the first scheduled send to the last reply."""
        return max(r.due + r.latency for r in self.results)


def run_phase(server: Server, requests: list[Request], rate: float) -> Phase:
    cpu0, t0 = server.cpu_seconds(), time.monotonic()
    results, generator_cpu = drive(server.base, server.access, requests, rate)
    return Phase(rate, results, time.monotonic() - t0, server.cpu_seconds() - cpu0, generator_cpu)


def _note(phase: Phase, seconds: float) -> str:
    n = len(phase.results)
    lag, wait = max(r.lag for r in phase.results), _ms([r.wait for r in phase.results], 99)
    return (
        f"scenario 6 at {phase.rate:.0f} req/s for {seconds:.0f} s: {n} requests answered in "
        f"{phase.span:.1f} s ({n / phase.span:.0f} req/s achieved); requests started at most "
        f"{lag * 1000:.0f} ms late, p99 wait for a connection {wait:.0f} ms; server CPU "
        f"{phase.server_cpu:.1f} s in {phase.wall:.1f} s ({phase.server_cpu / n * 1000:.1f} ms per request), "
        f"generator CPU {phase.generator_cpu:.1f} s"
    )


def _status(server: Server, live: Live) -> int | str:
    """The live task's status after the load, or why there is none."""
    try:
        return server.status(live.app_id, live.record_id)
    except (OSError, RuntimeError) as exc:
        return f"no answer ({type(exc).__name__})"


def scenario_6(ctx: Context) -> list[Row]:
    """Latency of set/layout and task/list at 200 req/s (open loop), 100k ended tasks in the database.

    The full run first measures at half that rate, for the latency of a server that keeps up."""
    count = 2_000 if ctx.quick else 100_000
    seconds = 3.0 if ctx.quick else 15.0
    rates = [RATE] if ctx.quick else [RATE / 2, RATE]
    warmup = 0.5 if ctx.quick else 2.0
    rng = random.Random(6)
    paths = ensure_sources(ctx.cache, 2, ctx.source_seconds)
    phases: list[Phase] = []
    with serving(ctx.cache) as streams:
        server = Server(ctx.work("s6-server"))
        try:
            server.login(APPS[0][0])
            for app, _ in APPS[1:]:
                server.add_app(app)
            now = time.time()
            seeded = seed(server.db_url, count, now, rng)
            lives = [
                start_live(
                    server, APPS[0][0], [streams.url(p, 600 + 10 * n + i) for i, p in enumerate(paths)], n
                )
                for n in range(LIVE)
            ]
            time.sleep(1.0)  # the recorders are up and pulling
            for live in lives:
                status = server.status(live.app_id, live.record_id)
                if status != 2:
                    raise RuntimeError(f"live task {live.record_id} is in status {status}, not recording")
            drive(server.base, server.access, plan(int(warmup * rates[0]), lives, seeded, now, rng), rates[0])
            for rate in rates:
                phases.append(run_phase(server, plan(int(seconds * rate), lives, seeded, now, rng), rate))
                log.info("scenario 6: %.0f req/s done, %s", rate, _note(phases[-1], seconds))
            still = [_status(server, live) for live in lives]
            for live in lives:
                with contextlib.suppress(OSError, RuntimeError):  # a stuck server is stopped anyway
                    server.call(
                        "POST", "/v1/record/finish", {"app_id": live.app_id, "record_id": live.record_id}
                    )
        finally:
            server.stop()
    extra = f"; load generator on the same {os.cpu_count()}-core machine"
    rows = []
    for phase in phases:
        label = f"6: control plane ({count // 1000}k tasks, {phase.rate:.0f} req/s)"
        live_note = f"; {LIVE} live recordings, status after {still}"
        rows.append(_row(label, LAYOUT, phase.results, seconds, live_note + extra))
        rows.append(_row(label, LIST, phase.results, seconds, f"; {_breakdown(phase.results)}{extra}"))
    ctx.notes.append(
        f"scenario 6: open loop (each request sent on schedule whatever the replies) after {warmup:.1f} s "
        f"of warm-up; latency from the scheduled send to the whole reply, queueing included; generator: "
        f"aiohttp in the benchmark process, at most {IN_FLIGHT} requests in flight on keep-alive "
        f"connections (later ones wait their turn, counted in their latency); half POST set/layout "
        f"alternating two layouts over {LIVE} live manual recordings ({CANVAS[0]}x{CANVAS[1]}@{CANVAS[2]}, "
        f"2 users each), half GET task/list (30 % first page, 30 % a group by popularity, 20 % a page in "
        f"the last 80 %, 20 % status 6 started in the last day) of the app with {APPS[0][1]:.0%} of the tasks"
    )
    ctx.notes += [_note(phase, seconds) for phase in phases]
    ctx.notes.append(
        f"scenario 6: {_database(server.db_url)}; seeded {seeded.tasks} ended tasks (97.5 % status 6, "
        f"2.5 % -1, 180 days) with {seeded.files} stored files over {len(APPS)} apps and "
        f"{sum(len(g) for g in seeded.groups.values())} groups (Zipf), by bulk INSERT through cloudrec's "
        f"SQLAlchemy models into the running server's database in {seeded.seconds:.1f} s"
    )
    return rows
