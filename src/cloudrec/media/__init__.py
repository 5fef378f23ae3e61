"""Media engine: pull, decode, compose, mix, encode and segment a recording (the only user of `av`)."""

from cloudrec.media.clock import Clock, MonotonicClock
from cloudrec.media.pipeline import run_recording

__all__ = ["Clock", "MonotonicClock", "run_recording"]
