"""The Ray actor that records one task on a recorder node: `run_recording` in its own worker process,
commands in through its methods, segments to the shared store (`SegmentStore`), progress to the shared
database (`NodeProgressSink`)."""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import shutil
import tempfile
import threading
import time
from dataclasses import replace
from typing import Any

import ray
from ray.experimental import internal_kv
from ray.util.placement_group import get_placement_group, remove_placement_group

from cloudrec import logsafe
from cloudrec.cluster.nodesink import NodeConfig, NodeProgressSink, segment_key
from cloudrec.egress import install_stream_policy
from cloudrec.recorder.snapshots import SnapshotCache
from cloudrec.recorder.spec import (
    Command,
    Failed,
    Finished,
    Progress,
    SegmentClosed,
    SegmentStored,
    Snapshot,
    TaskSpec,
)
from cloudrec.recorder.store import SegmentStore
from cloudrec.storage.spec import open_storage

log = logging.getLogger(__name__)

# After its end is stored, the actor lives this long so that whoever waits on it hears the end from
# it (not as a death), then it frees its slot (its placement group) and ends.
LINGER_S = 1.0
# Work files of a recording live under this directory of the node (one per record_id and epoch).
WORK_ROOT_ENV = "CLOUDREC_NODE_WORK_DIR"
# A fenced recorder stops with this exit status (its lease belongs to a successor).
FENCED_EXIT = 3
# At its end, a recorder checks this often whether its last segments are stored.
STORE_POLL_S = 0.2
# Ray's key-value store (in the GCS, shared by every process of the cluster), under this namespace:
# `rec-<record_id>-e<epoch>` → the name of the actor recording it; `spare-<node_id>` → a started actor
# waiting for a recording on that node.
KV_NAMESPACE = "cloudrec"


def recording_key(record_id: str, epoch: int) -> str:
    """The directory entry of a recording: any API process finds its actor from the task's row."""
    return f"rec-{record_id}-e{epoch}"


def group_name(record_id: str, epoch: int) -> str:
    """The name of the placement group that holds the recording's slot units on its node."""
    return f"slot-{record_id}-e{epoch}"


def parse_key(key: str) -> tuple[str, int] | None:
    """(record_id, epoch) of a key made by `recording_key`; None for any other key."""
    if not key.startswith("rec-") or "-e" not in key:
        return None
    record_id, _, epoch = key[4:].rpartition("-e")
    return (record_id, int(epoch)) if epoch.isdigit() else None


def kv_get(key: str) -> str | None:
    value = internal_kv._internal_kv_get(key, namespace=KV_NAMESPACE)
    return value.decode() if value else None


def kv_put(key: str, value: str, *, overwrite: bool = True) -> bool:
    """Store `value` under `key`; True when the key existed already (then, without `overwrite`, kept)."""
    return bool(internal_kv._internal_kv_put(key, value, overwrite=overwrite, namespace=KV_NAMESPACE))


def kv_del(key: str) -> bool:
    """Remove `key`; True for the one caller that removed it (the GCS serialises them)."""
    return bool(internal_kv._internal_kv_del(key, namespace=KV_NAMESPACE))


def kv_keys(prefix: str) -> list[str]:
    return [k.decode() for k in internal_kv._internal_kv_list(prefix, namespace=KV_NAMESPACE)]


class Recorder:
    """One recording (wrapped by `ray.remote` in `RecorderActor`), a threaded actor. Started ahead of
    need as a node's spare (Ray, Python and the media engine loaded), then given its task by `record`,
    which blocks until the recording's end is stored while commands and snapshots are served."""

    def __init__(self) -> None:
        from cloudrec.media import pipeline  # loaded now, not when a recording waits for it

        self._run_recording = pipeline.run_recording
        self.created = time.time()
        self._taken = threading.Lock()
        self._commands: queue.Queue[Command] = queue.Queue()
        self._snapshots = SnapshotCache()
        self._done = threading.Event()
        self._outcome = "waiting"
        self.spec: TaskSpec | None = None
        self.sink: NodeProgressSink | None = None
        self.store: SegmentStore | None = None

    # ---- what the API processes call -----------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """Who runs the recording: the worker's pid, its node, its epoch, since when."""
        spec = self.spec
        return {
            "pid": os.getpid(),
            "node_id": ray.get_runtime_context().get_node_id(),
            "epoch": spec.epoch if spec else None,
            "record_id": spec.record_id if spec else None,
            "created": self.created,
            "outcome": self._outcome,
        }

    def record(self, spec: TaskSpec, config: NodeConfig) -> str:
        """Record `spec` (once: a second call answers "taken"); returns once the end is stored:
        "finished" or "failed"."""
        if not self._taken.acquire(blocking=False):
            return "taken"
        logsafe.install()
        logging.basicConfig(
            level=config.log_level.upper(),
            format=f"%(asctime)s %(levelname)s [rec {spec.record_id} e{spec.epoch}] %(name)s: %(message)s",
            force=True,
        )
        root = os.environ.get(WORK_ROOT_ENV) or os.path.join(tempfile.gettempdir(), "cloudrec-node-work")
        work = os.path.join(root, f"{spec.record_id}-e{spec.epoch}")
        os.makedirs(work, exist_ok=True)
        # the node's own work directory; no adoption (the database lease and Ray find the recorder)
        self.spec = replace(spec, work_dir=work, orphan_wait_seconds=0.0, control_address="", control_key=b"")
        self._outcome = "running"
        install_stream_policy(spec.egress)
        if spec.storage is None:  # the host always gives one (the cluster's shared store)
            raise ValueError("a cluster recording needs TaskSpec.storage")
        self.sink = NodeProgressSink(config, open_storage(spec.storage), spec.record_id, spec.epoch)
        self.sink.on_fenced = self._fenced
        # `spec.pending` is not stored here: its files lie on the machine of a recorder that died (in
        # cluster mode none are reported before they are stored)
        self.store = SegmentStore(
            spec.storage,
            spec.app_id,
            spec.record_id,
            self._stored,
            key=lambda name: segment_key(spec.app_id, spec.record_id, spec.epoch, name),
        )
        thread = threading.Thread(
            target=self._run, args=(self.spec, self.sink), name="recording", daemon=True
        )
        thread.start()
        self._done.wait()
        threading.Thread(target=self._leave, args=(self.spec,), name="leave", daemon=True).start()
        return self._outcome

    def command(self, cmd: Command) -> bool:
        if self.spec is None or self._done.is_set():
            return False
        self._commands.put(cmd)
        return True

    def snapshot(self, width: int) -> Snapshot | None:
        return self._snapshots.get(width, self.command)

    # ---- inside -------------------------------------------------------------------------------

    def _recv(self, timeout_s: float) -> Command | None:
        try:
            return self._commands.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def _emit(self, event: Progress) -> None:
        spec, sink, store = self.spec, self.sink, self.store
        assert spec is not None and sink is not None and store is not None
        if isinstance(event, Snapshot):
            self._snapshots.put(event)
            return
        if isinstance(event, SegmentClosed):  # reported once stored: its row never names a node's file
            store.submit(event.segment)
            return
        if isinstance(event, (Finished, Failed)):
            self._outcome = "finished" if isinstance(event, Finished) else "failed"
            # the end is told once every segment is stored (status 6 means downloadable); the lease is
            # renewed meanwhile by the heartbeat
            while not store.wait(STORE_POLL_S):
                pass
        sink.handle(spec.record_id, event, spec.epoch)

    def _stored(self, event: SegmentStored) -> None:
        spec, sink = self.spec, self.sink
        assert spec is not None and sink is not None
        sink.handle(spec.record_id, event, spec.epoch)

    def _run(self, spec: TaskSpec, sink: NodeProgressSink) -> None:
        try:
            self._run_recording(spec, self._recv, self._emit)
        except Exception as exc:
            log.exception("recording failed")
            self._emit(Failed(f"recorder error: {type(exc).__name__}: {exc}"))
        if self.store is not None:
            self.store.close()
        sink.drain()
        sink.stop_heartbeat()
        sink.close()
        shutil.rmtree(spec.work_dir, ignore_errors=True)
        self._done.set()

    def _leave(self, spec: TaskSpec) -> None:
        """After the end was answered: out of the directory, the slot freed, the actor ended."""
        time.sleep(LINGER_S)
        kv_del(recording_key(spec.record_id, spec.epoch))
        with contextlib.suppress(ValueError):  # removed already (by an API process that saw the end)
            remove_placement_group(get_placement_group(group_name(spec.record_id, spec.epoch)))
        ray.kill(ray.get_runtime_context().current_actor)

    def _fenced(self, record_id: str, epoch: int) -> None:
        """The lease went to a successor: nothing more of this recorder counts; it goes away at once."""
        log.warning("recorder of %s (epoch %d) lost its lease: stopping", record_id, epoch)
        if self.spec is not None:
            shutil.rmtree(self.spec.work_dir, ignore_errors=True)
        os._exit(FENCED_EXIT)


# One worker process per recording; its CPU is reserved by its placement group's slot units (the actor
# itself asks for nothing, so a spare waits anywhere); never restarted by Ray: the database lease
# decides successors.
RecorderActor = ray.remote(num_cpus=0, max_restarts=0, max_concurrency=8)(Recorder)  # type: ignore[call-overload]
