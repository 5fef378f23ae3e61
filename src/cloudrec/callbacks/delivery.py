"""The delivery worker: POSTs outbox events to their app's URL, signed, retried with backoff."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloudrec import __version__, metrics
from cloudrec.callbacks import outbox
from cloudrec.callbacks.signing import signature
from cloudrec.callbacks.transport import CheckedTransport
from cloudrec.db.models import App
from cloudrec.egress import EgressPolicy
from cloudrec.secretbox import SecretBox, SecretBoxError

log = logging.getLogger(__name__)

BATCH = 100


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: first_s, doubled per failure up to max_s; given up after give_up_s."""

    first_s: float = 5.0
    max_s: float = 600.0
    give_up_s: float = 86400.0

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failed attempt (1-based)."""
        return float(min(self.max_s, self.first_s * 2 ** min(attempts - 1, 60)))


def _host_of(url: str) -> str:
    """Only the scheme and host of a URL for logs: its path or query may carry credentials."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}"


class CallbackDelivery:
    """One background thread. Events of a task go out in order: while one waits for a retry, the later
    ones of the same task wait too. At least once: an event is deleted only after a 2xx answer."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        policy: RetryPolicy,
        box: SecretBox,
        timeout_s: float = 10.0,
        poll_s: float = 5.0,
        egress: EgressPolicy | None = None,
    ) -> None:
        self.sessions = sessions
        self.box = box  # opens the apps' sealed callback secrets
        self.policy = policy
        self.poll_s = poll_s
        self._client = httpx.Client(
            timeout=timeout_s,
            follow_redirects=False,
            headers={"User-Agent": f"cloudrec/{__version__}"},
            # every connection goes where the egress policy allows, on the address it checked
            transport=CheckedTransport(egress) if egress is not None else None,
        )
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="callback-delivery", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Something may be due now (an event was committed)."""
        self._wake.set()

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop the worker; what is not delivered yet stays in the outbox for the next start."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout_s)
        self._client.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            wait = self.poll_s
            try:
                wait = min(wait, self.deliver_due())
            except Exception:
                log.exception("callback delivery pass failed")
            if wait > 0:
                self._wake.wait(wait)

    def deliver_due(self) -> float:
        """Send every event that is due (in order per task); seconds until the next one is due."""
        now = time.time()
        with self.sessions() as s:
            rows = outbox.pending(s, BATCH)
            apps = {
                app_id: (url, secret)
                for app_id, url, secret in s.execute(
                    select(App.app_id, App.callback_url, App.callback_secret).where(
                        App.app_id.in_(sorted({r.app_id for r in rows}))
                    )
                )
            }
        blocked: set[str] = set()
        for row in rows:
            if self._stop.is_set():
                return 0.0
            if row.record_id in blocked:
                continue
            if row.next_attempt_at > now:
                blocked.add(row.record_id)
                continue
            url, secret = apps.get(row.app_id, ("", ""))
            if not url:
                with self.sessions.begin() as s:
                    outbox.given_up(s, row.id, row.attempts, "the app has no callback URL any more")
                log.info("event %s dropped: app %s has no callback URL any more", row.event_id, row.app_id)
                continue
            try:
                error = self._send(
                    row.event_id, row.type, row.body, url, self.box.open("callback", row.app_id, secret)
                )
            except SecretBoxError as exc:  # retried: the operator may restore the right key
                log.error("event %s not sent: %s", row.event_id, exc)
                error = str(exc)
            attempts = row.attempts + 1
            with self.sessions.begin() as s:
                if error is None:
                    outbox.delivered(s, row.id)
                    metrics.WEBHOOK_DELIVERIES.labels("delivered").inc()
                elif time.time() - row.created_at >= self.policy.give_up_s:
                    outbox.given_up(s, row.id, attempts, error)
                    metrics.WEBHOOK_DELIVERIES.labels("given_up").inc()
                    log.warning(
                        "event %s (%s of %s) given up after %d attempts: %s",
                        row.event_id,
                        row.type,
                        row.record_id,
                        attempts,
                        error,
                    )
                else:
                    metrics.WEBHOOK_DELIVERIES.labels("failed").inc()
                    blocked.add(row.record_id)
                    outbox.failed(s, row.id, attempts, time.time() + self.policy.delay(attempts), error)
        if len(rows) == BATCH:
            return 0.0  # more than one batch waits
        with self.sessions() as s:
            due = outbox.next_due(s)
        return self.poll_s if due is None else max(0.0, due - time.time())

    def _send(self, event_id: str, type_: str, body: str, url: str, secret: str) -> str | None:
        """POST one event; None when the receiver answered 2xx, else what went wrong."""
        data = body.encode("utf-8")
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Cloudrec-Event-Id": event_id,
            "X-Cloudrec-Event-Type": type_,
            "X-Cloudrec-Timestamp": timestamp,
            "X-Cloudrec-Signature": signature(secret, timestamp, data),
        }
        try:
            response = self._client.post(url, content=data, headers=headers)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.info("event %s to %s failed: %s", event_id, _host_of(url), type(exc).__name__)
            return error
        if 200 <= response.status_code < 300:
            log.debug("event %s delivered to %s", event_id, _host_of(url))
            return None
        log.info("event %s to %s answered HTTP %d", event_id, _host_of(url), response.status_code)
        return f"HTTP {response.status_code}"
