"""Scenario 11: cluster mode on a local Ray cluster (a head and two recorder nodes on this machine).

- placement: init request → its recorder actor records (its first figures in the database), over
  `PLACEMENTS` recordings started one after another (each finished before the next);
- failover: `kill -9` of the node running a recording (its raylet and its recorder worker) → the
  recording goes on on the other node (the successor's first figures), over `KILLS` kills, a fresh
  node joining after each;
- memory: the resident memory of a recorder worker while it records (Ray's share included), of an
  idle spare, and of the Ray processes of a node and of the head.

Real everything: PostgreSQL (initdb, or CLOUDREC_CLUSTER_TEST_DATABASE_URL), moto's S3 server, the test
media server with a publisher (tests/support, installed by `python3 make.py test`), the server in this
process (tests/api/harness.start_server, the production wiring).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.scenarios import Context, Row

TESTS = Path(__file__).resolve().parent.parent / "tests"
W, H, FPS = 160, 90, 15  # 2 units
SLOTS_PER_NODE = 4
KILLS_QUICK, KILLS = 2, 10
PLACEMENTS_QUICK, PLACEMENTS = 3, 10
RECORD_S = 1.0  # each placement's recording lasts this long before its finish


def _support(name: str) -> Any:
    for path in (TESTS, TESTS.parent):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    return importlib.import_module(name)


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _pids_named(*words: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if all(w in cmd for w in words):
                pids.append(int(entry.name))
    return pids


def _info(actor: Any) -> dict[str, Any]:
    """What a recorder actor says of itself (pid, node)."""
    import ray

    assert actor is not None, "no recorder actor"
    info: dict[str, Any] = ray.get(actor.info.remote(), timeout=10)
    return info


def _wait(cond: Any, timeout_s: float, what: str) -> float:
    started = time.monotonic()
    while not cond():
        if time.monotonic() - started > timeout_s:
            raise RuntimeError(f"{what}: not within {timeout_s:g} s")
        time.sleep(0.02)
    return time.monotonic() - started


def scenario_11(ctx: Context) -> list[Row]:
    import ray

    harness = _support("api.harness")
    pg_mod, raycluster, s3server = (_support(f"support.{m}") for m in ("postgres", "raycluster", "s3server"))
    mediaserver, publisher = _support("support.mediaserver"), _support("support.publisher")
    conftest = _support("cluster.conftest")
    from cloudrec.cluster.spares import find_recorder

    kills = KILLS_QUICK if ctx.quick else KILLS
    placements = PLACEMENTS_QUICK if ctx.quick else PLACEMENTS
    with contextlib.ExitStack() as stack:
        db_url = (
            os.environ.get("CLOUDREC_CLUSTER_TEST_DATABASE_URL")
            or stack.enter_context(pg_mod.PostgresServer()).url
        )
        moto = stack.enter_context(s3server.MotoServer())
        moto.client().create_bucket(Bucket=conftest.BUCKET)
        nms = stack.enter_context(mediaserver.MediaServer())
        pub = publisher.Publisher(nms.rtmp_url("live", "bench9"), size=(160, 90), fps=15)
        pub.start()
        stack.callback(pub.stop, kill=True)
        url = nms.flv_url("live", "bench9")
        pub.wait_live(url)
        started = time.monotonic()
        cluster = raycluster.RayTestCluster(recorder_nodes=2, slots_per_node=SLOTS_PER_NODE)
        stack.callback(cluster.shutdown)
        stack.callback(ray.shutdown)
        cluster_up = time.monotonic() - started
        dbs = harness.DatabaseFactory(db_url, ctx.work("s11-db"))
        stack.callback(dbs.drop_all)
        server = harness.start_server(
            ctx.work("s11-api"), dbs.new_url(), real_time=True, **conftest.cluster_settings(cluster, moto)
        )
        stack.callback(server.stop)
        spares_s = _wait(
            lambda: (
                len(cluster.nodes) == 2
                and all(_support("cloudrec.cluster.actor").kv_get(f"spare-{n}") for n in cluster.nodes)
            ),
            120,
            "spares",
        )
        tenant = server.tenant()
        for group in ("p", "k"):
            for media_type in (2, 1):
                tenant.call(
                    "/v1/group/stream/publish",
                    group_id=group,
                    user_id="u1",
                    media_type=media_type,
                    media_id="0",
                    url=url,
                )
        body = {"width": W, "height": H, "frame_rate": FPS, "file_duration": 15, "auto": {}}

        def recording(record_id: str, epoch: int) -> bool:
            row = tenant.row(record_id)
            return bool(row.lease_epoch == epoch and row.media_duration > row.media_base + 0.05)

        place_s, reply_s, rss_rec = [], [], []
        for _ in range(placements):
            asked = time.monotonic()
            reply = tenant.call("/v1/record/init", group_id="p", **body)
            reply_s.append(time.monotonic() - asked)
            rid = reply["record_id"]
            place_s.append(_wait(lambda rid=rid: recording(rid, 1), 30, "placement") + reply_s[-1])
            info = _info(find_recorder(rid, 1))
            time.sleep(RECORD_S)
            rss_rec.append(_rss_mib(info["pid"]))
            tenant.call("/v1/record/finish", record_id=rid)
            tenant.wait_status(rid, 6, timeout=30)
        failover_s = []
        for _ in range(kills):
            rid = tenant.call("/v1/record/init", group_id="k", **body)["record_id"]
            _wait(lambda rid=rid: recording(rid, 1), 30, "start")
            info = _info(find_recorder(rid, 1))
            time.sleep(1.0)
            cluster.kill(info["node_id"], [info["pid"]])
            failover_s.append(_wait(lambda rid=rid: recording(rid, 2), 30, "failover"))
            cluster.add_node()
            tenant.call("/v1/record/finish", record_id=rid)
            tenant.wait_status(rid, 6, timeout=30)
            _wait(
                lambda: all(_support("cloudrec.cluster.actor").kv_get(f"spare-{n}") for n in cluster.nodes),
                120,
                "spares",
            )
        spare_name = _support("cloudrec.cluster.actor").kv_get(f"spare-{next(iter(cluster.nodes))}")
        spare_rss = _rss_mib(_info(ray.get_actor(spare_name))["pid"])
        raylets = [_rss_mib(p) for p in _pids_named("raylet", "--node_manager_port")]
        gcs = [_rss_mib(p) for p in _pids_named("gcs_server")]
    ctx.notes.append(
        f"scenario 11: cluster of a head and 2 recorder nodes ({SLOTS_PER_NODE} units each) up in "
        f"{cluster_up:.1f} s, each node's spare recorder ready {spares_s:.1f} s after the server started; "
        f"{W}x{H}@{FPS} auto recordings of one published stream, 3 s segments, PostgreSQL, moto S3"
    )
    label = "11: cluster (Ray, 2 nodes)"
    p50 = statistics.median
    return [
        Row(
            label,
            "cloudrec ray",
            "veryfast",
            p50(place_s),
            "s (init -> recording, p50)",
            note=(
                f"max {max(place_s):.2f} s over {len(place_s)}; init replied in p50 "
                f"{p50(reply_s) * 1e3:.0f} ms, max {max(reply_s) * 1e3:.0f} ms"
            ),
        ),
        Row(
            label,
            "cloudrec ray",
            "veryfast",
            p50(failover_s),
            "s (node kill -> recording, p50)",
            note=(
                f"max {max(failover_s):.2f} s over {len(failover_s)} kill -9 of the raylet and the "
                "recorder worker"
            ),
        ),
        Row(
            label,
            "cloudrec ray",
            "veryfast",
            p50(rss_rec),
            "MiB RSS per recording",
            note=(
                f"the recorder worker while it records; an idle spare {spare_rss:.0f} MiB (one per node); "
                f"a raylet {p50(raylets) if raylets else 0:.0f} MiB, "
                f"the head's GCS {max(gcs) if gcs else 0:.0f} MiB"
            ),
        ),
    ]
