"""The Ray actor that records one task on a recorder node: `run_recording` in its own worker process,
commands in through its methods, progress out to the shared database and store (`NodeProgressSink`)."""

from __future__ import annotations

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
from ray.util.placement_group import get_current_placement_group, remove_placement_group

from cloudrec import logsafe
from cloudrec.cluster.nodesink import NodeConfig, NodeProgressSink
from cloudrec.egress import install_stream_policy
from cloudrec.recorder.snapshots import SnapshotCache
from cloudrec.recorder.spec import Command, Failed, Finished, Progress, Snapshot, TaskSpec

log = logging.getLogger(__name__)

# After its end is stored, the actor lives this long so that whoever waits on it hears the end from
# it (not as a death), then it removes its placement group, which frees its slot and ends the actor.
LINGER_S = 1.0
# Work files of a recording live under this directory of the node (one per record_id and epoch).
WORK_ROOT_ENV = "CLOUDREC_NODE_WORK_DIR"
# A fenced recorder stops with this exit status (its lease belongs to a successor).
FENCED_EXIT = 3


def actor_name(record_id: str, epoch: int) -> str:
    """The actor's name in the cloudrec namespace: any API process finds it from the task's row."""
    return f"rec-{record_id}-e{epoch}"


def group_name(record_id: str, epoch: int) -> str:
    """The name of the placement group that holds the recording's slot units on its node."""
    return f"slot-{record_id}-e{epoch}"


def parse_name(name: str) -> tuple[str, int] | None:
    """(record_id, epoch) of an actor name made by `actor_name`; None for any other name."""
    if not name.startswith("rec-") or "-e" not in name:
        return None
    record_id, _, epoch = name[4:].rpartition("-e")
    return (record_id, int(epoch)) if epoch.isdigit() else None


class Recorder:
    """One recording (wrapped by `ray.remote` in `RecorderActor`); a threaded actor: `wait` blocks
    while commands and snapshots are served."""

    def __init__(self, spec: TaskSpec, config: NodeConfig) -> None:
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
        self.started = time.time()
        self._commands: queue.Queue[Command] = queue.Queue()
        self._snapshots = SnapshotCache()
        self._done = threading.Event()
        self._outcome = "running"
        self.sink = NodeProgressSink(config, spec.record_id, spec.app_id, spec.epoch)
        self.sink.on_fenced = self._fenced
        install_stream_policy(spec.egress)
        self._thread = threading.Thread(target=self._run, name="recording", daemon=True)
        self._thread.start()

    # ---- what the API processes call -----------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """Who runs the recording: the worker's pid, its node, its epoch, since when."""
        return {
            "pid": os.getpid(),
            "node_id": ray.get_runtime_context().get_node_id(),
            "epoch": self.spec.epoch,
            "record_id": self.spec.record_id,
            "app_id": self.spec.app_id,
            "group_id": self.spec.group_id,
            "started": self.started,
            "outcome": self._outcome,
        }

    def command(self, cmd: Command) -> bool:
        if self._done.is_set():
            return False
        self._commands.put(cmd)
        return True

    def snapshot(self, width: int) -> Snapshot | None:
        return self._snapshots.get(width, self.command)

    def wait(self) -> str:
        """Returns once the recording ended and its end is stored: "finished" or "failed"."""
        self._done.wait()
        return self._outcome

    # ---- inside -------------------------------------------------------------------------------

    def _recv(self, timeout_s: float) -> Command | None:
        try:
            return self._commands.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def _emit(self, event: Progress) -> None:
        if isinstance(event, Snapshot):
            self._snapshots.put(event)
            return
        if isinstance(event, Finished):
            self._outcome = "finished"
        elif isinstance(event, Failed):
            self._outcome = "failed"
        self.sink.handle(self.spec.record_id, event, self.spec.epoch)

    def _run(self) -> None:
        from cloudrec.media.pipeline import run_recording  # the engine's one door (pulls in `av`)

        try:
            run_recording(self.spec, self._recv, self._emit)
        except Exception as exc:
            log.exception("recording failed")
            self._emit(Failed(f"recorder error: {type(exc).__name__}: {exc}"))
        self.sink.drain()
        self.sink.stop_heartbeat()
        self.sink.close()
        shutil.rmtree(self.spec.work_dir, ignore_errors=True)
        self._done.set()
        time.sleep(LINGER_S)
        group = get_current_placement_group()
        if group is not None:
            remove_placement_group(group)  # frees the slot and ends this actor

    def _fenced(self, record_id: str, epoch: int) -> None:
        """The lease went to a successor: nothing more of this recorder counts; it goes away at once."""
        log.warning("recorder of %s (epoch %d) lost its lease: stopping", record_id, epoch)
        shutil.rmtree(self.spec.work_dir, ignore_errors=True)
        os._exit(FENCED_EXIT)


# One worker process per recording, its CPU reserved through its placement group's slot units (the
# actor itself asks for nothing more); never restarted by Ray: the database lease decides successors.
RecorderActor = ray.remote(num_cpus=0, max_restarts=0, max_concurrency=8)(Recorder)  # type: ignore[call-overload]
