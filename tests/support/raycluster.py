"""A local Ray cluster for tests: a head without recorder slots and recorder nodes, each a raylet of
its own with its own `cloudrec_slot` units (ray.cluster_utils), and cloudrec's health checks."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from typing import Any

from cloudrec.cluster.cost import SLOT_RESOURCE
from cloudrec.cluster.node import GCS_RECONNECT_TIMEOUT_S, HEALTH_CHECK_CONFIG

# Each raylet's object store: recordings pass nothing through it (Ray's minimum is 75 MiB).
OBJECT_STORE_BYTES = 80 * 1024 * 1024
NODE_START_TIMEOUT_S = 60.0


class RayTestCluster:
    """`nodes`: node_id → the raylet's Node; `kill(node_id)` is a node's death (SIGKILL, no goodbye)."""

    def __init__(self, recorder_nodes: int, slots_per_node: int, redis_address: str = "") -> None:
        from ray.cluster_utils import Cluster

        self.slots_per_node = slots_per_node
        head: dict[str, Any] = {
            "num_cpus": 0,
            "include_dashboard": False,
            "object_store_memory": OBJECT_STORE_BYTES,
            "_system_config": {
                **HEALTH_CHECK_CONFIG,
                "gcs_rpc_server_reconnect_timeout_s": GCS_RECONNECT_TIMEOUT_S,
            },
        }
        if redis_address:  # the GCS keeps its state there: a head restart finds the cluster again
            head["external_addresses"] = [redis_address]
        self.cluster = Cluster(initialize_head=True, head_node_args=head)
        self.nodes: dict[str, Any] = {}
        for _ in range(recorder_nodes):
            self.add_node()

    @property
    def address(self) -> str:
        return str(self.cluster.address)

    def add_node(self, slots: int | None = None) -> str:
        node = self.cluster.add_node(
            wait=False,
            num_cpus=0,
            resources={SLOT_RESOURCE: slots if slots is not None else self.slots_per_node},
            object_store_memory=OBJECT_STORE_BYTES,
        )
        # its own wait, not the Cluster's (that counts the nodes it started: a drained one has gone)
        deadline = time.monotonic() + NODE_START_TIMEOUT_S
        while not self._alive(node.node_id):
            if time.monotonic() > deadline:
                raise RuntimeError(f"node {node.node_id} did not join within {NODE_START_TIMEOUT_S} s")
            time.sleep(0.1)
        self.nodes[node.node_id] = node
        return str(node.node_id)

    def _alive(self, node_id: str) -> bool:
        table = self.cluster.global_state.node_table()  # type: ignore[no-untyped-call]
        return any(n["NodeID"] == node_id and n["Alive"] for n in table)

    def retire(self, node_id: str) -> None:
        """A node that takes no more work (drained): no longer one of `nodes` (it stops at shutdown)."""
        self.nodes.pop(node_id)

    def kill(self, node_id: str, worker_pids: list[int]) -> None:
        """SIGKILL the node's recorder workers and its raylet (and the node's other processes)."""
        for pid in worker_pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        node = self.nodes.pop(node_id)
        self.cluster.remove_node(node, allow_graceful=False)

    def restart_head(self, down_s: float) -> None:
        """Kill the head's GCS (SIGKILL), leave it down `down_s` seconds, start it again."""
        head = self.cluster.head_node
        assert head is not None
        head.kill_gcs_server()
        time.sleep(down_s)
        head.start_gcs_server()

    def shutdown(self) -> None:
        self.cluster.shutdown()  # type: ignore[no-untyped-call]
