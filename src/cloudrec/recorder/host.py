"""The seam between the control plane and whatever runs recordings.

The API stores the desired state in the database first, then tells a `RecorderHost`. The host runs
each task somewhere (an OS process on this machine, or a node of a cluster) and reports back through
a `ProgressSink`, which stores status, stats, segments and failures in the database. Recorders store
their own closed segments (`TaskSpec.storage`, `recorder.store`) and report the objects stored: the
control plane never reads a recorder's disk, so a host may run recorders on other machines.

```
api ──start/command/group_changed──► RecorderHost ──► recorder (one process per task)
 ▲                                        │
 └──────────── database ◄── ProgressSink ◄┘ (Started, Stats, SegmentClosed,
                                                     SegmentStored, Finished, Failed, Lost)
```

Every report carries the lease epoch of the recorder that made it: the sink applies it only while that
epoch is the task's current one, so a recorder presumed dead cannot write over its successor.
"""

from __future__ import annotations

from typing import Protocol

from cloudrec.recorder.spec import Command, Progress, SalvageJob, Snapshot, StreamInfo, TaskSpec


class ProgressSink(Protocol):
    """Receives every progress event of every task a host runs (called from the host's threads)."""

    def handle(self, record_id: str, event: Progress, epoch: int | None = None) -> None:
        """Apply `event` of the recorder holding lease `epoch` (None: the control plane's own)."""
        ...


class RecorderHost(Protocol):
    """Runs recordings. Implementations: `LocalRecorderHost` (one OS process per task).

    What every host reports to its sink (tests/tasks/test_service_contract.py checks the control
    plane's side against `MemoryHost`): its recorders store their segments themselves into
    `spec.storage` (`recorder.store.SegmentStore`) first storing `spec.pending`; per segment a
    `SegmentClosed` when it closes (optional) and a `SegmentStored` once the store confirmed it, with
    no local path; `Finished` / `Failed` at the end, the stores of the last segments may follow; a
    recorder that died: the reports of `salvage` (with its epoch), then `Lost`."""

    def start(self, spec: TaskSpec) -> None:
        """Start recording `spec`; raise `CapacityError` (6050030009) when no capacity is left."""
        ...

    def command(self, record_id: str, cmd: Command) -> bool:
        """Deliver a command to a running task; False when the task does not run here."""
        ...

    def group_changed(self, app_id: str, group_id: str, streams: tuple[StreamInfo, ...]) -> None:
        """The published streams of a group changed: tell the group's running tasks (full list)."""
        ...

    def snapshot(self, record_id: str, width: int) -> Snapshot | None:
        """The task's composite now (at most 1 s old; `width` 0: the canvas's), asking its recorder
        for pictures while someone watches; None when the task does not run here or has no picture."""
        ...

    def running(self) -> set[str]:
        """record_ids of the tasks running on this host."""
        ...

    def free_slots(self) -> int: ...

    def adopt(self, spec: TaskSpec) -> bool:
        """Take over the recorder of `spec` (same epoch) that outlived its server and waits for a new
        one; False when none answers."""
        ...

    def abandon(self, record_id: str, epoch: int) -> None:
        """The task's lease went to a successor: stop its recorder of `epoch` here, if one runs, without
        any further report (returns once it is gone)."""
        ...

    def salvage(self, job: SalvageJob) -> list[Progress]:
        """Store, on the recorder side, what a dead recorder left: the segments it closed but whose
        store it never confirmed, and those it wrote but never reported (its open one). The reports
        for the sink: `SegmentStored` per object stored, `SegmentClosed` per file left unstored."""
        ...

    def close(self) -> None:
        """Stop accepting work; finish running tasks gracefully."""
        ...

    def detach(self) -> None:
        """Stop accepting work; let go of running recorders without stopping them (they record on and
        wait for the next server to adopt them)."""
        ...
