"""Prometheus metrics: process-wide counters bumped by small hooks, and gauges read at scrape time.

Counters and histograms live in prometheus-client's default registry (one server process, one set;
with the process and garbage-collector metrics the client adds). Recorder processes cannot bump them:
their figures arrive cumulatively in `Stats`, and `observe_progress` turns them into counter deltas per
task. Gauges that describe the present (active recordings, tasks by status, webhook backlog) are read
from the server's parts when Prometheus scrapes (`ServerCollector`). No label carries an id: routes are
templates, statuses and results are small fixed sets.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from cloudrec.recorder.spec import Failed, Finished, Progress, SegmentStored, Started, Stats

log = logging.getLogger(__name__)

# ---- counters and histograms (process-wide) ------------------------------------------------------

# No `*_created` series beside each counter and histogram: they double the series and Prometheus
# finds counter resets by itself.
disable_created_metrics()  # type: ignore[no-untyped-call]

HTTP_DURATION = Histogram(
    "cloudrec_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route template and HTTP status",
    ["method", "route", "status"],
)
FRAMES_COMPOSED = Counter("cloudrec_frames_composed", "Output pictures composed by the recorders")
FRAMES_SKIPPED = Counter(
    "cloudrec_frames_skipped", "Output ticks written without a picture because a recorder fell behind"
)
SOURCE_OPENS = Counter(
    "cloudrec_source_opens", "Stream URLs opened by the recorders (first opens and reopens)"
)
SOURCE_OPEN_FAILURES = Counter("cloudrec_source_open_failures", "Attempts to open a stream URL that failed")
SOURCE_RECONNECTS = Counter(
    "cloudrec_source_reconnects", "Pulled streams that broke or ended and were reconnected"
)
SOURCE_BYTES = Counter("cloudrec_source_bytes", "Bytes pulled from the sources (the `flow` of finish)")
RECORDINGS_STARTED = Counter("cloudrec_recordings_started", "Recordings that wrote their first frame")
RECORDINGS_ENDED = Counter(
    "cloudrec_recordings_ended", "Recordings whose recorder ended, by outcome", ["outcome"]
)
# A segment store is a rename on local disk (milliseconds) or an upload of up to a few GB to S3.
SEGMENT_STORE_DURATION = Histogram(
    "cloudrec_segment_store_duration_seconds",
    "Time to store one closed segment (local move or S3 upload with its check), by result",
    ["result"],
    buckets=(0.005, 0.025, 0.1, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0, 300.0),
)
SEGMENT_STORE_RETRIES = Counter(
    "cloudrec_segment_store_retries", "Failed segment stores, each tried again after a backoff"
)
WEBHOOK_DELIVERIES = Counter(
    "cloudrec_webhook_deliveries", "Webhook delivery attempts, by result", ["result"]
)

# Methods are client-chosen text: anything else shares one label value (no cardinality explosion).
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "<unmatched>"


def observe_http(method: str, route: str | None, status: int, seconds: float) -> None:
    """One answered request; `route` is the route template (`/download/{key:path}`), None if none matched."""
    HTTP_DURATION.labels(
        method if method in _METHODS else "other", route or UNMATCHED_ROUTE, str(status)
    ).observe(seconds)


# ---- recorder figures: cumulative Stats -> counter deltas ---------------------------------------


class _Figures(NamedTuple):
    """A recorder's cumulative figures, in the order of `_COUNTERS`."""

    composed: int = 0
    skipped: int = 0
    opens: int = 0
    open_failures: int = 0
    reconnects: int = 0
    flow_bytes: int = 0

    @staticmethod
    def of(stats: Stats) -> _Figures:
        return _Figures(
            stats.frames_composed,
            stats.skipped_frames,
            stats.source_opens,
            stats.source_open_failures,
            stats.source_reconnects,
            stats.flow_bytes,
        )


_COUNTERS = (
    FRAMES_COMPOSED,
    FRAMES_SKIPPED,
    SOURCE_OPENS,
    SOURCE_OPEN_FAILURES,
    SOURCE_RECONNECTS,
    SOURCE_BYTES,
)


class RecorderFigures:
    """The last figures seen per running task, so that each report adds only what is new.

    A task is followed from its recorder's first `Started` or `Stats` in this process: a `Finished`
    without either comes from recovery after a restart (figures of an earlier process, not counted
    again). A figure that went down means a new recorder took the task over: it counts from zero."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, _Figures] = {}

    def observe(self, record_id: str, event: Progress | object) -> None:
        if isinstance(event, Started):
            RECORDINGS_STARTED.inc()
            with self._lock:
                self._last.setdefault(record_id, _Figures())
        elif isinstance(event, Stats):
            self._add(record_id, event, follow=True)
        elif isinstance(event, Finished):
            self._add(record_id, event.stats, follow=False)
            RECORDINGS_ENDED.labels("timed_out" if event.timed_out else "finished").inc()
        elif isinstance(event, Failed):
            with self._lock:
                self._last.pop(record_id, None)
            RECORDINGS_ENDED.labels("failed").inc()

    def _add(self, record_id: str, stats: Stats, follow: bool) -> None:
        new = _Figures.of(stats)
        with self._lock:
            old = self._last.pop(record_id, None)
            if follow:
                self._last[record_id] = new
        if old is None and not follow:
            return
        if old is None or any(n < o for n, o in zip(new, old, strict=True)):
            old = _Figures()  # first report, or a new recorder took over: from zero
        for counter, n, o in zip(_COUNTERS, new, old, strict=True):
            if n > o:
                counter.inc(n - o)


recorder_figures = RecorderFigures()


def observe_progress(record_id: str, event: Progress | object) -> None:
    """The progress sink's hook: every event a recorder reported, in order."""
    recorder_figures.observe(record_id, event)
    if isinstance(event, SegmentStored):  # the recorder stored it: its tries count here
        SEGMENT_STORE_DURATION.labels("ok").observe(event.store_seconds)
        for seconds in event.failure_seconds:
            SEGMENT_STORE_DURATION.labels("error").observe(seconds)
        SEGMENT_STORE_RETRIES.inc(len(event.failure_seconds))


# ---- gauges read at scrape time ---------------------------------------------------------------


@dataclass(frozen=True)
class Readings:
    """How to read the server's present state; each callable may raise (that family is left out)."""

    active_recordings: Callable[[], int]
    capacity: Callable[[], int]
    free_slots: Callable[[], int]
    tasks_by_status: Callable[[], dict[int, int]]
    webhook_events: Callable[[], dict[str, int]]  # "pending" / "given_up" -> count
    uploads_pending: Callable[[], int]


class ServerCollector(Collector):
    """Gauges of one server (its recorder host, database and uploader), read when scraped."""

    def __init__(self, readings: Readings) -> None:
        self.readings = readings

    def collect(self) -> Iterator[Metric]:
        r = self.readings
        yield from _gauge(
            "cloudrec_recordings_active", "Recordings whose recorder runs now", r.active_recordings
        )
        yield from _gauge("cloudrec_recorder_capacity", "Recordings this host may run at once", r.capacity)
        yield from _gauge(
            "cloudrec_recorder_free_slots", "Recordings this host can still start", r.free_slots
        )
        yield from _gauge(
            "cloudrec_segment_uploads_pending", "Closed segments waiting to be stored", r.uploads_pending
        )
        yield from _labelled(
            "cloudrec_tasks",
            "Tasks in the database by status (1 init … 6 done, -1 error)",
            "status",
            lambda: {str(k): v for k, v in r.tasks_by_status().items()},
        )
        yield from _labelled(
            "cloudrec_webhook_events",
            "Webhook events in the outbox: pending (the backlog) or given up",
            "state",
            r.webhook_events,
        )


def _gauge(name: str, doc: str, read: Callable[[], int]) -> Iterable[Metric]:
    try:
        value = read()
    except Exception:
        log.warning("metric %s could not be read", name, exc_info=True)
        return []
    return [GaugeMetricFamily(name, doc, value=value)]


def _labelled(name: str, doc: str, label: str, read: Callable[[], dict[str, int]]) -> Iterable[Metric]:
    try:
        values = read()
    except Exception:
        log.warning("metric %s could not be read", name, exc_info=True)
        return []
    family = GaugeMetricFamily(name, doc, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], value)
    return [family]


def server_registry(readings: Readings) -> CollectorRegistry:
    """A registry of one server's gauges (kept apart: tests run several servers in one process)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServerCollector(readings))
    return registry


def exposition(server: CollectorRegistry) -> bytes:
    """The text exposition format of the process-wide metrics and of one server's gauges."""
    return generate_latest(REGISTRY) + generate_latest(server)
