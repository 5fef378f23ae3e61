"""The recorder's side of its control connection: a recorder whose server died waits to be adopted."""

from __future__ import annotations

import logging
import os
import threading
import time
from multiprocessing.connection import Connection, Listener

from cloudrec.recorder.spec import (
    Command,
    Failed,
    Finish,
    Finished,
    Hello,
    Progress,
    Report,
    SegmentClosed,
    SegmentStored,
    Started,
    Stats,
    TaskSpec,
)

log = logging.getLogger(__name__)


class Control:
    """Commands in, reports out, over the connection of the server that runs this recorder. When that
    connection breaks (the server died or restarts), recording goes on: the recorder listens on
    `spec.control_address` for `spec.orphan_wait_seconds`; a server that connects (knowing the key)
    gets a `Hello`, then every report it may have missed (start, closed and stored segments, latest
    figures, the end) and from then on the live ones. Nobody within the wait: the recording finishes."""

    def __init__(self, spec: TaskSpec, conn: Connection) -> None:
        self.spec = spec
        self._conn: Connection | None = conn
        self._lock = threading.Lock()
        self._adopted = threading.Condition(self._lock)
        self._started: Started | None = None
        self._segments: list[SegmentClosed | SegmentStored] = []  # in the order they happened
        self._stats: Stats | None = None
        self._end: Finished | Failed | None = None
        self._orphan_until: float | None = None
        self._listening = False

    # ---- what the recording loop calls ------------------------------------------------------------

    def recv(self, timeout_s: float) -> Command | None:
        """The next command within `timeout_s` (None: none); Finish when no server adopted us in time."""
        with self._lock:
            conn = self._conn
            if conn is None:
                if self._orphan_until is None or time.monotonic() >= self._orphan_until:
                    log.warning("no server adopted this recorder: finishing")
                    return Finish()
                self._adopted.wait(timeout_s)
                return None
        try:
            if conn.poll(timeout_s):
                cmd: Command = conn.recv()
                return cmd
        except (EOFError, OSError):
            self._lost(conn)
        return None

    def send(self, event: Progress) -> None:
        with self._lock:
            self._remember(event)
            conn = self._conn
            if conn is None:
                return  # kept for the server that adopts this recorder
            try:
                conn.send(Report(self.spec.epoch, event))
                return
            except (BrokenPipeError, OSError):
                pass
        self._lost(conn)

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    # ---- losing and finding a server ---------------------------------------------------------------

    def _remember(self, event: Progress) -> None:
        if isinstance(event, Started):
            self._started = event
        elif isinstance(event, (SegmentClosed, SegmentStored)):
            self._segments.append(event)
        elif isinstance(event, Stats):
            self._stats = event
        elif isinstance(event, (Finished, Failed)):
            self._end = event

    def _lost(self, conn: Connection) -> None:
        with self._lock:
            if self._conn is not conn:
                return
            self._conn = None
            conn.close()
            wait = self.spec.orphan_wait_seconds if self.spec.control_address else 0.0
            self._orphan_until = time.monotonic() + wait
            if wait <= 0 or self._listening:
                log.warning("control connection lost")
                return
            self._listening = True
        log.warning("control connection lost: recording on, waiting %.0f s for a server", wait)
        threading.Thread(target=self._listen, name="adoption", daemon=True).start()

    def _listen(self) -> None:
        try:
            listener = Listener(self.spec.control_address, family="AF_UNIX", authkey=self.spec.control_key)
        except OSError:
            log.exception("cannot listen for a new server on the control socket")
            return
        while True:
            try:
                conn = listener.accept()
            except Exception as exc:  # noqa: BLE001 - a client without the key, or one gone at once
                log.warning("a connection to the control socket was refused: %s", exc)
                continue
            try:
                self._adopt(conn)
            except (BrokenPipeError, OSError):
                conn.close()

    def _adopt(self, conn: Connection) -> None:
        with self._lock:
            if self._conn is not None:
                conn.close()  # adopted already
                return
            conn.send(Hello(os.getpid(), self.spec.epoch))
            backlog: list[Progress] = [e for e in (self._started,) if e is not None]
            backlog += self._segments
            backlog += [e for e in (self._stats, self._end) if e is not None]
            for event in backlog:
                conn.send(Report(self.spec.epoch, event))
            self._conn = conn
            self._orphan_until = None
            self._adopted.notify_all()
        log.warning("adopted by a new server")
