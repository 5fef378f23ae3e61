"""The host's snapshot cache: asks the recorder again only when its request nears its end, serves a
picture at most a second old, waits for a fresh one otherwise."""

from __future__ import annotations

import threading
import time

from cloudrec.recorder.snapshots import ASK_AGAIN_S, INTEREST_S, MAX_AGE_S, WAIT_S, SnapshotCache
from cloudrec.recorder.spec import Command, RequestSnapshot, Snapshot


def test_asks_once_per_interest_window_and_serves_fresh_pictures_only() -> None:
    now = [1000.0]
    cache = SnapshotCache(wall=lambda: now[0])
    sent: list[Command] = []

    def send(cmd: Command) -> bool:
        sent.append(cmd)
        cache.put(Snapshot(jpeg=b"jpeg", at=now[0], width=160))  # the recorder answers at once
        return True

    first = cache.get(160, send)
    assert first is not None and first.jpeg == b"jpeg"
    assert sent == [RequestSnapshot(until=1000.0 + INTEREST_S, width=160)]
    now[0] += MAX_AGE_S / 2
    assert cache.get(160, send) is first  # fresh enough: no new request, no wait
    assert len(sent) == 1
    now[0] = 1000.0 + INTEREST_S - ASK_AGAIN_S + 0.01  # the request nears its end: asked again
    assert cache.get(160, send) is not None
    assert len(sent) == 2 and isinstance(sent[1], RequestSnapshot) and sent[1].until == now[0] + INTEREST_S


def test_waits_for_a_fresh_picture_and_gives_up_after_the_wait() -> None:
    cache = SnapshotCache()
    cache.put(Snapshot(jpeg=b"old", at=time.time() - 2 * MAX_AGE_S, width=0))
    timer = threading.Timer(0.2, lambda: cache.put(Snapshot(jpeg=b"new", at=time.time(), width=0)))
    timer.start()
    shot = cache.get(0, lambda cmd: True)
    assert shot is not None and shot.jpeg == b"new"  # the stale one was not served
    t0 = time.monotonic()
    assert cache.get(64, lambda cmd: True) is None  # nothing ever comes for this width
    assert WAIT_S - 0.1 <= time.monotonic() - t0 < WAIT_S + 1


def test_a_recorder_that_is_gone_gets_no_wait() -> None:
    cache = SnapshotCache()
    t0 = time.monotonic()
    assert cache.get(0, lambda cmd: False) is None
    assert time.monotonic() - t0 < 0.5


def test_a_recorder_without_picture_answers_none_without_the_wait() -> None:
    cache = SnapshotCache()

    def send(cmd: Command) -> bool:
        cache.put(Snapshot(jpeg=b"", at=time.time(), width=0))  # nothing composed yet
        return True

    t0 = time.monotonic()
    assert cache.get(0, send) is None
    assert time.monotonic() - t0 < 0.5
