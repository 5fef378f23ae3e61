"""Cluster mode's recorder host: each recording a detached, named Ray actor on a recorder node, its
slot units reserved by a placement group first (admission), found by name from any API process."""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError
from ray.util.placement_group import PlacementGroup, placement_group, remove_placement_group
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloudrec.cluster import cost
from cloudrec.cluster.actor import group_name, kv_del, kv_keys, kv_put, parse_key, recording_key
from cloudrec.cluster.nodesink import NodeConfig
from cloudrec.cluster.settings import ClusterSettingsError
from cloudrec.cluster.spares import Spares, find_recorder
from cloudrec.config import Settings
from cloudrec.db.models import Task
from cloudrec.errors import CapacityError
from cloudrec.recorder.host import ProgressSink
from cloudrec.recorder.spec import (
    Command,
    Lost,
    Progress,
    SalvageJob,
    SetStreams,
    Snapshot,
    StreamInfo,
    TaskSpec,
)
from cloudrec.tasks.leases import LEASED

log = logging.getLogger(__name__)

# A command or snapshot request reaches a live actor in milliseconds; longer: its node is gone or stuck.
CALL_TIMEOUT_S = 2.0
SNAPSHOT_TIMEOUT_S = 4.0  # the recorder's own wait for a picture (3 s) and the call
# The watcher looks for ended or dead recorders this often.
WATCH_POLL_S = 0.25
# The Ray head answers a TCP connect at once when it runs.
HEAD_CONNECT_TIMEOUT_S = 5.0
# How long a successor's slot may take to be reserved (no client waits for its answer).
SUCCESSOR_PLACEMENT_WAIT_S = 5.0
# A placement group is reserved within milliseconds when a node has room: asked this often meanwhile.
PLACEMENT_POLL_S = 0.01


def _check_reachable(address: str) -> None:
    """Fail at once, saying so, when nothing listens at the head's HOST:PORT."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto", or a form Ray resolves itself
    try:
        socket.create_connection((host, int(port)), timeout=HEAD_CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise ClusterSettingsError(
            f"cluster mode cannot reach the Ray head at {address} (CLOUDREC_RAY_ADDRESS): {exc}"
        ) from exc


def _reserved(group: PlacementGroup, timeout_s: float) -> bool:
    """Whether the group's units are reserved within `timeout_s` (Ray's own wait takes whole seconds)."""
    deadline = time.monotonic() + timeout_s
    while not group.wait(timeout_seconds=0):
        if time.monotonic() >= deadline:
            return False
        time.sleep(PLACEMENT_POLL_S)
    return True


class RayRecorderHost:
    """Runs recordings as Ray actors (RecorderHost). A start reserves the recording's cost in
    `cloudrec_slot` units on one node (a placement group, STRICT_PACK), waiting at most
    `ray_placement_wait_s`, else `CapacityError`; then creates the actor in it. The actor writes its own
    progress; this host watches the actors it started and reports a death as `Lost`, which moves the
    task's lease to a successor (the database decides; Ray only tells sooner than the lease expiry)."""

    def __init__(self, settings: Settings, sink: ProgressSink, sessions: sessionmaker[Session]) -> None:
        self.settings = settings
        self.sink = sink
        self.sessions = sessions
        self.node_config = NodeConfig.of(settings)
        if not ray.is_initialized():
            address = settings.ray_address or "auto"  # never a Ray of its own: the cluster's head
            _check_reachable(address)  # Ray's own connect retries for minutes
            try:
                ray.init(
                    address=address,
                    namespace=settings.ray_namespace,
                    logging_level=logging.WARNING,
                    log_to_driver=False,
                )
            except (ConnectionError, RuntimeError) as exc:
                raise ClusterSettingsError(
                    f"cluster mode cannot reach the Ray head at {address} (CLOUDREC_RAY_ADDRESS): {exc}"
                ) from exc
        self._lock = threading.Lock()
        self._watched: dict[ray.ObjectRef[str], tuple[str, int]] = {}  # wait() → (record_id, epoch)
        self._abandoned: set[tuple[str, int]] = set()
        self._closing = False
        self.spares = Spares(self.settings.ray_namespace)
        self._watcher = threading.Thread(target=self._watch, name="ray-recorders", daemon=True)
        self._watcher.start()

    # ---- RecorderHost -------------------------------------------------------------------------

    def start(self, spec: TaskSpec) -> None:
        if self._closing:
            raise CapacityError("recorder host is shutting down")
        units = cost.units(spec)
        started = time.monotonic()
        group = placement_group(
            [{cost.SLOT_RESOURCE: float(units)}],
            strategy="STRICT_PACK",
            name=group_name(spec.record_id, spec.epoch),
            lifetime="detached",
        )
        # A successor may wait longer: the units of its predecessor's group (Ray moves a dead node's
        # groups to live nodes until they are removed) come back to the nodes in a moment.
        wait_s = self.settings.ray_placement_wait_s if spec.epoch <= 1 else SUCCESSOR_PLACEMENT_WAIT_S
        if not _reserved(group, wait_s):
            remove_placement_group(group)  # Ray would keep it pending for ever
            raise CapacityError(
                f"no recorder capacity left: no node has {units} {cost.SLOT_RESOURCE} units free "
                f"for a {spec.width}x{spec.height}@{spec.frame_rate} recording"
            )
        node_id = str(ray.util.placement_group_table(group)["bundles_to_node_id"][0])
        name, actor = self.spares.take(node_id)
        kv_put(recording_key(spec.record_id, spec.epoch), name)
        ref = actor.record.remote(spec, self.node_config)
        with self._lock:
            self._watched[ref] = (spec.record_id, spec.epoch)
        log.info(
            "recording %s (epoch %d, %d units) placed on node %s (%s actor) in %.0f ms",
            spec.record_id,
            spec.epoch,
            units,
            node_id[:12],
            "a spare" if self.spares.last_was_spare else "a new",
            (time.monotonic() - started) * 1e3,
        )

    def _current(self, record_id: str) -> Any | None:
        """The actor of the task's current lease epoch (from the database), or None."""
        with self.sessions() as s:
            epoch = s.scalar(select(Task.lease_epoch).where(Task.record_id == record_id))
        return None if epoch is None else find_recorder(record_id, epoch)

    def command(self, record_id: str, cmd: Command) -> bool:
        actor = self._current(record_id)
        if actor is None:
            return False
        try:
            return bool(ray.get(actor.command.remote(cmd), timeout=CALL_TIMEOUT_S))
        except (RayActorError, GetTimeoutError):
            return False

    def group_changed(self, app_id: str, group_id: str, streams: tuple[StreamInfo, ...]) -> None:
        with self.sessions() as s:
            ids = s.scalars(
                select(Task.record_id).where(
                    Task.app_id == app_id,
                    Task.group_id == group_id,
                    Task.status.in_([int(st) for st in LEASED]),
                )
            ).all()
        for record_id in ids:
            self.command(record_id, SetStreams(streams))

    def snapshot(self, record_id: str, width: int) -> Snapshot | None:
        actor = self._current(record_id)
        if actor is None:
            return None
        try:
            shot: Snapshot | None = ray.get(actor.snapshot.remote(width), timeout=SNAPSHOT_TIMEOUT_S)
        except (RayActorError, GetTimeoutError):
            return None
        return shot

    def running(self) -> set[str]:
        """Every recording with an actor in the cluster's directory (whichever API process started it)."""
        return {parsed[0] for key in kv_keys("rec-") if (parsed := parse_key(key)) is not None}

    def free_slots(self) -> int:
        return int(ray.available_resources().get(cost.SLOT_RESOURCE, 0))  # type: ignore[no-untyped-call]

    def adopt(self, spec: TaskSpec) -> bool:
        return False  # an actor renews its own lease: a stale one has no recorder left to adopt

    def abandon(self, record_id: str, epoch: int) -> None:
        with self._lock:
            self._abandoned.add((record_id, epoch))
        actor = find_recorder(record_id, epoch)
        if actor is not None:
            ray.kill(actor)
        self._forget(record_id, epoch)

    def _forget(self, record_id: str, epoch: int) -> None:
        """Out of the directory, and its slot units freed (Ray would reserve them again elsewhere)."""
        kv_del(recording_key(record_id, epoch))
        try:
            group: PlacementGroup = ray.util.get_placement_group(group_name(record_id, epoch))
        except ValueError:
            return
        remove_placement_group(group)

    def salvage(self, job: SalvageJob) -> list[Progress]:
        return []  # a dead node's open segment is on that node: it is the gap

    def close(self) -> None:
        """Stop watching; the recordings go on in the cluster (any API process reaches them)."""
        self._closing = True
        self.spares.close()
        self._watcher.join(timeout=5)

    def detach(self) -> None:
        self.close()

    # ---- watching -----------------------------------------------------------------------------

    def _watch(self) -> None:
        while not self._closing:
            with self._lock:
                refs = list(self._watched)
            if not refs:
                time.sleep(WATCH_POLL_S)
                continue
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=WATCH_POLL_S)
            for ref in ready:
                with self._lock:
                    record_id, epoch = self._watched.pop(ref)
                    abandoned = (record_id, epoch) in self._abandoned
                    self._abandoned.discard((record_id, epoch))
                try:
                    ray.get(ref)
                except RayActorError as exc:
                    if abandoned:
                        continue
                    self._forget(record_id, epoch)
                    reason = "recorder actor died" + (" with its node" if "node" in str(exc).lower() else "")
                    log.error("%s: %s (epoch %d)", reason, record_id, epoch)
                    self.sink.handle(record_id, Lost(reason), epoch)
