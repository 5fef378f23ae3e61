"""Recorder nodes for operators: `ray start` with cloudrec's resources and health checks, the nodes'
capacity and recordings, and draining a node."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from cloudrec.cluster import cost

# GCS health checks of the raylets: a node that misses 3 checks of 0.5 s (each answered within 1 s)
# is dead, about 2 s after it stopped answering (Ray's defaults: 3 s x 5, i.e. 15 s or more). Its
# actors die with it, and their recordings' leases move to successors at once.
HEALTH_CHECK_CONFIG: dict[str, int] = {
    "health_check_initial_delay_ms": 1000,
    "health_check_period_ms": 500,
    "health_check_timeout_ms": 1000,
    "health_check_failure_threshold": 3,
}
# A raylet keeps running this long while its GCS (the head) is away, then exits with its workers:
# long enough for a head restart (GCS fault tolerance on Redis), short enough to free a lost node.
GCS_RECONNECT_TIMEOUT_S = 120
GCS_RECONNECT_ENV = "RAY_gcs_rpc_server_reconnect_timeout_s"
# With it, the head keeps the cluster's state in Redis (GCS fault tolerance): a restarted head finds
# its nodes, actors and placement groups again.
REDIS_ADDRESS_ENV = "RAY_REDIS_ADDRESS"
DEFAULT_HEAD_PORT = 6379
# The drain reason given to Ray: no new work is placed on a draining node.
DRAIN_REASON = "DRAIN_NODE_REASON_PREEMPTION"


def start_command(
    *,
    head: bool,
    address: str = "",
    port: int = DEFAULT_HEAD_PORT,
    capacity: int | None = None,
    cores: int | None = None,
    node_manager_port: int = 0,
    block: bool = True,
    extra: Sequence[str] = (),
) -> list[str]:
    """The `ray start` command line of a head (no recordings unless `capacity`) or a recorder node
    (`capacity` units, default from its cores: `cost.default_capacity`)."""
    cmd = ["ray", "start", "--num-cpus", "0"]
    if head:
        cmd += ["--head", "--port", str(port), "--include-dashboard", "false"]
        cmd += ["--system-config", json.dumps(HEALTH_CHECK_CONFIG)]
        units = capacity or 0
    else:
        cmd += ["--address", address]
        units = capacity if capacity is not None else cost.default_capacity(cores or os.cpu_count() or 1)
    if units > 0:
        cmd += ["--resources", json.dumps({cost.SLOT_RESOURCE: units})]
    if node_manager_port:  # how `cloudrec node start` finds its own node again (to drain it)
        cmd += ["--node-manager-port", str(node_manager_port)]
    if block:
        cmd.append("--block")
    return [*cmd, *extra]


def start_env(redis_address: str = "") -> dict[str, str]:
    """The environment of `ray start`: how long raylets wait for a restarting head, and Redis for its
    state (GCS fault tolerance) when given."""
    env = {**os.environ, GCS_RECONNECT_ENV: str(GCS_RECONNECT_TIMEOUT_S)}
    if redis_address:
        env[REDIS_ADDRESS_ENV] = redis_address
    return env


@dataclass
class NodeState:
    """One node of the cluster as `cloudrec node status` shows it."""

    node_id: str
    address: str
    alive: bool
    capacity: float  # cloudrec_slot units
    free: float
    recordings: list[str] = field(default_factory=list)  # record_ids (with their epoch)

    @property
    def used(self) -> float:
        return self.capacity - self.free


def cluster_state() -> list[NodeState]:
    """Every node with slot units (or recordings), from the GCS (needs `ray.init` first)."""
    import ray
    from ray._private import state as ray_state

    free = ray_state.available_resources_per_node()  # type: ignore[no-untyped-call]
    nodes: dict[str, NodeState] = {}
    for node in ray.nodes():  # type: ignore[no-untyped-call]
        node_id = str(node["NodeID"])
        nodes[node_id] = NodeState(
            node_id=node_id,
            address=f"{node.get('NodeManagerAddress', '')}:{node.get('NodeManagerPort', '')}",
            alive=bool(node.get("Alive")),
            capacity=float(node.get("Resources", {}).get(cost.SLOT_RESOURCE, 0.0)),
            free=float(free.get(node_id, {}).get(cost.SLOT_RESOURCE, 0.0)) if node.get("Alive") else 0.0,
        )
    for group in ray.util.placement_group_table().values():
        name = str(group.get("name", ""))
        if group.get("state") != "CREATED" or not name.startswith("slot-"):
            continue
        for node_id in group.get("bundles_to_node_id", {}).values():
            if node_id in nodes:
                nodes[node_id].recordings.append(name.removeprefix("slot-"))
    return [n for n in nodes.values() if n.capacity > 0 or n.recordings]


def node_of_port(node_manager_port: int) -> str | None:
    """The id of the live node whose raylet listens on `node_manager_port` (on this machine)."""
    import ray

    for node in ray.nodes():  # type: ignore[no-untyped-call]
        if node.get("Alive") and node.get("NodeManagerPort") == node_manager_port:
            return str(node["NodeID"])
    return None


def drain(node_id: str, gcs_address: str, reason: str = "cloudrec node drain") -> None:
    """Ask Ray to place nothing new on `node_id` (its running recordings go on)."""
    import ray
    from ray.core.generated import autoscaler_pb2

    client = ray._raylet.GcsClient(address=gcs_address)  # type: ignore[attr-defined]
    reason_code = autoscaler_pb2.DrainNodeReason.Value(DRAIN_REASON)  # type: ignore[attr-defined]
    accepted, why = client.drain_node(node_id, reason_code, reason, 0)
    if not accepted:
        raise RuntimeError(f"Ray refused to drain node {node_id}: {why}")


def move_recordings(node_id: str, namespace: str) -> list[str]:
    """End the recorder actors of `node_id` (their recordings go on elsewhere, from their next segment,
    the gap reported, as after a node's death); the names of those ended."""
    import ray

    from cloudrec.cluster.actor import parse_key
    from cloudrec.cluster.spares import find_recorder

    ended = []
    for recording in next((n.recordings for n in cluster_state() if n.node_id == node_id), []):
        parsed = parse_key(f"rec-{recording}")
        actor = find_recorder(*parsed) if parsed else None
        if actor is not None:
            ray.kill(actor)
            ended.append(recording)
    return ended


def wait_empty(node_id: str, timeout_s: float, poll_s: float = 1.0) -> bool:
    """Wait until `node_id` runs no recording (True), or `timeout_s` passed (False)."""
    deadline = time.monotonic() + timeout_s
    while True:
        state = next((n for n in cluster_state() if n.node_id == node_id), None)
        if state is None or not state.recordings:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll_s)
