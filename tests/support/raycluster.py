"""A local Ray cluster for tests: a head without recorder slots and recorder nodes, each a raylet of
its own with its own `cloudrec_slot` units (ray.cluster_utils), and cloudrec's health checks."""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Any

from cloudrec.cluster.cost import SLOT_RESOURCE
from cloudrec.cluster.node import HEALTH_CHECK_CONFIG

# Each raylet's object store: recordings pass nothing through it (Ray's minimum is 75 MiB).
OBJECT_STORE_BYTES = 80 * 1024 * 1024


class RayTestCluster:
    """`nodes`: node_id → the raylet's Node; `kill(node_id)` is a node's death (SIGKILL, no goodbye)."""

    def __init__(self, recorder_nodes: int, slots_per_node: int) -> None:
        from ray.cluster_utils import Cluster

        self.slots_per_node = slots_per_node
        self.cluster = Cluster(
            initialize_head=True,
            head_node_args={
                "num_cpus": 0,
                "include_dashboard": False,
                "object_store_memory": OBJECT_STORE_BYTES,
                "_system_config": HEALTH_CHECK_CONFIG,
            },
        )
        self.nodes: dict[str, Any] = {}
        for _ in range(recorder_nodes):
            self.add_node()

    @property
    def address(self) -> str:
        return str(self.cluster.address)

    def add_node(self, slots: int | None = None) -> str:
        node = self.cluster.add_node(
            num_cpus=0,
            resources={SLOT_RESOURCE: slots if slots is not None else self.slots_per_node},
            object_store_memory=OBJECT_STORE_BYTES,
        )
        self.cluster.wait_for_nodes()
        self.nodes[node.node_id] = node
        return str(node.node_id)

    def kill(self, node_id: str, worker_pids: list[int]) -> None:
        """SIGKILL the node's recorder workers and its raylet (and the node's other processes)."""
        for pid in worker_pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        node = self.nodes.pop(node_id)
        self.cluster.remove_node(node, allow_graceful=False)

    def shutdown(self) -> None:
        self.cluster.shutdown()  # type: ignore[no-untyped-call]
