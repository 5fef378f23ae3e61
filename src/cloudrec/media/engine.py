"""How a recording engine (composite or per-stream) is driven to its end: one door, one ending."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from cloudrec.recorder.spec import Command, Failed, Finished, Progress, Stats

log = logging.getLogger(__name__)


class Engine(Protocol):
    def run(self, commands: Callable[[float], Command | None]) -> bool:
        """Record until finished; whether it ended by the timeout rule."""
        ...

    def close(self) -> None:
        """Close the open files (emitting what closes) and let go of the sources; again is harmless."""
        ...

    def stats(self) -> Stats: ...


def drive(
    engine: Engine,
    record_id: str,
    commands: Callable[[float], Command | None],
    emit: Callable[[Progress], None],
) -> None:
    """Run `engine` to its end: `Finished` with its figures, or `Failed` after closing what it wrote."""
    try:
        timed_out = engine.run(commands)
        engine.close()
    except Exception as exc:
        log.exception("recording %s failed", record_id)
        try:
            engine.close()
        except Exception:
            log.exception("recording %s: closing the output failed too", record_id)
        emit(Failed(reason=f"{type(exc).__name__}: {exc}"))
        return
    emit(Finished(stats=engine.stats(), timed_out=timed_out))
    log.info("recording %s finished (timed out: %s)", record_id, timed_out)
