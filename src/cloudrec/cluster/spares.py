"""Spare recorder actors, one started ahead of need on each recorder node (Ray, Python and the media
engine loaded: 2-3 s of a loaded node's time), so that a recording placed there starts at once."""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from cloudrec.cluster import cost
from cloudrec.cluster.actor import RecorderActor, kv_del, kv_get, kv_put, recording_key

log = logging.getLogger(__name__)

# How often every node's spare is checked (made again when taken, or gone with a dead node).
CHECK_S = 1.0
# A new actor's process start and imports on a loaded node; longer: the node is in trouble.
READY_TIMEOUT_S = 20.0
# A node that took no spare (draining: Ray places nothing new there) is asked again after this long.
REFUSED_BACKOFF_S = 30.0


def spare_key(node_id: str) -> str:
    return f"spare-{node_id}"


def find_recorder(record_id: str, epoch: int) -> Any | None:
    """The actor recording `record_id` under lease `epoch`, from the cluster's directory; None if none."""
    name = kv_get(recording_key(record_id, epoch))
    if name is None:
        return None
    try:
        return ray.get_actor(name)
    except ValueError:
        return None


def end_spare(node_id: str) -> None:
    """End the spare recorder of `node_id` (a node that stops: Ray's own drain waits for idle nodes)."""
    name = kv_get(spare_key(node_id))
    if name is not None and kv_del(spare_key(node_id)):
        with contextlib.suppress(ValueError):
            ray.kill(ray.get_actor(name))


class Spares:
    """Keeps one spare recorder actor per live recorder node (its name in the directory under
    `spare-<node_id>`; API processes share them, the GCS lets exactly one take each)."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.last_was_spare = False
        self._refused: dict[str, float] = {}  # node_id → when to try again (monotonic)
        self._wake = threading.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._keep, name="ray-spares", daemon=True)
        self._thread.start()

    def take(self, node_id: str) -> tuple[str, Any]:
        """An actor on `node_id` for a new recording: the node's spare, else a new one (slower start)."""
        self._wake.set()  # the node gets a new spare
        name = kv_get(spare_key(node_id))
        if name is not None and kv_del(spare_key(node_id)):  # only one caller removes the key
            try:
                self.last_was_spare = True
                return name, ray.get_actor(name)
            except ValueError:
                pass  # it died (its node, or killed)
        self.last_was_spare = False
        return self._new(node_id)

    def _new(self, node_id: str) -> tuple[str, Any]:
        name = f"recorder-{secrets.token_hex(8)}"
        actor = RecorderActor.options(
            name=name,
            namespace=self.namespace,
            lifetime="detached",
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
        ).remote()
        return name, actor

    def close(self) -> None:
        self._closing = True
        self._wake.set()
        self._thread.join(timeout=5)

    def _keep(self) -> None:
        while not self._closing:
            try:
                for node in ray.nodes():  # type: ignore[no-untyped-call]
                    if self._closing:
                        return
                    if node.get("Alive") and node.get("Resources", {}).get(cost.SLOT_RESOURCE):
                        self._ensure(str(node["NodeID"]))
            except Exception:
                log.exception("spare recorders could not be checked")
            self._wake.wait(CHECK_S)
            self._wake.clear()

    def _ensure(self, node_id: str) -> None:
        name = kv_get(spare_key(node_id))
        if name is not None:
            try:
                ray.get_actor(name)
                return
            except ValueError:
                kv_del(spare_key(node_id))  # gone with its node, or killed
        if self._refused.get(node_id, 0.0) > time.monotonic():
            return
        name, actor = self._new(node_id)
        try:
            ray.get(actor.info.remote(), timeout=READY_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - unschedulable (a draining node), dead, or too slow
            ray.kill(actor)
            self._refused[node_id] = time.monotonic() + REFUSED_BACKOFF_S
            log.info("no spare recorder on node %s (%s)", node_id[:12], type(exc).__name__)
            return
        if kv_put(spare_key(node_id), name, overwrite=False):
            ray.kill(actor)  # another API process made the node's spare first
        else:
            log.info("spare recorder %s ready on node %s", name, node_id[:12])
