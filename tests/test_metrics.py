"""Recorder figures (cumulative `Stats`) become counter increments once, per task."""

from __future__ import annotations

from prometheus_client import REGISTRY

from cloudrec.metrics import RecorderFigures
from cloudrec.recorder.spec import Failed, Finished, Started, Stats


def composed() -> float:
    return REGISTRY.get_sample_value("cloudrec_frames_composed_total") or 0.0


def pulled() -> float:
    return REGISTRY.get_sample_value("cloudrec_source_bytes_total") or 0.0


def stats(frames: int, flow: int = 0) -> Stats:
    return Stats(media_duration=frames / 30, flow_bytes=flow, frames_composed=frames)


def test_cumulative_reports_are_counted_once() -> None:
    figures, before, bytes_before = RecorderFigures(), composed(), pulled()
    figures.observe("a", Started(at=0.0))
    for frames in (10, 25, 25):
        figures.observe("a", stats(frames, flow=frames * 100))
    figures.observe("a", Finished(stats(30, flow=3000)))
    assert composed() - before == 30 and pulled() - bytes_before == 3000
    figures.observe("a", Finished(stats(30, flow=3000)))  # a repeated end: no longer followed
    assert composed() - before == 30


def test_a_finish_of_a_task_never_followed_is_not_counted() -> None:
    """Recovery after a restart reports the figures an earlier process counted already."""
    figures, before = RecorderFigures(), composed()
    figures.observe("recovered", Finished(stats(500)))
    assert composed() == before


def test_a_new_recorder_of_the_same_task_counts_from_zero() -> None:
    figures, before = RecorderFigures(), composed()
    figures.observe("b", stats(50))
    figures.observe("b", stats(5))  # figures went down: a successor took the task over
    figures.observe("b", stats(8))
    assert composed() - before == 58


def test_a_failed_task_is_forgotten() -> None:
    figures, before = RecorderFigures(), composed()
    figures.observe("c", stats(10))
    figures.observe("c", Failed("died"))
    figures.observe("c", Finished(stats(40)))
    assert composed() - before == 10
