"""Brute-force protection of `GET /access/token`: failed attempts counted per dev_id and per address."""

from __future__ import annotations

import logging
import math
import threading
from collections import deque

from cachetools import TTLCache

from cloudrec.clock import Clock
from cloudrec.errors import AuthenticationError

log = logging.getLogger(__name__)

# Keys remembered per kind: bounded, so that a flood of made-up dev_ids or addresses costs a few MB at
# most (an entry lives one window after its last failure).
MAX_KEYS = 65536


class AuthThrottle:
    """A dev_id or a client address with `max_failures` failed attempts in the last `window_s` seconds
    is refused (even a right token) until the oldest of them is `window_s` old. Attempts refused that way
    are not counted, so a client hammering on gets `max_failures` tries per window. Thread-safe."""

    def __init__(self, clock: Clock, max_failures: int, window_s: float) -> None:
        self.clock = clock
        self.max_failures = max_failures
        self.window_s = window_s
        self._lock = threading.Lock()
        self._failures: dict[str, TTLCache[str, deque[float]]] = {
            kind: TTLCache(MAX_KEYS, ttl=window_s, timer=clock.time) for kind in ("dev_id", "address")
        }

    def _keys(self, dev_id: str, address: str) -> list[tuple[str, str]]:
        keys = [("address", address)]
        return [("dev_id", dev_id[:64]), *keys] if dev_id else keys

    def check(self, dev_id: str, address: str) -> None:
        """AuthenticationError when the dev_id or the address is locked out now."""
        if self.max_failures <= 0:
            return
        now = self.clock.time()
        with self._lock:
            for kind, key in self._keys(dev_id, address):
                failures = self._failures[kind].get(key)
                if failures is not None and len(failures) >= self.max_failures:
                    wait = failures[0] + self.window_s - now
                    if wait > 0:
                        raise AuthenticationError(
                            f"authentication failed: too many failed attempts for this {kind}; "
                            f"try again in {math.ceil(wait)} s"
                        )

    def failed(self, dev_id: str, address: str) -> None:
        """Count a failed attempt of `dev_id` from `address`."""
        if self.max_failures <= 0:
            return
        now = self.clock.time()
        with self._lock:
            for kind, key in self._keys(dev_id, address):
                cache = self._failures[kind]
                failures = cache.get(key) or deque(maxlen=self.max_failures)
                failures.append(now)
                cache[key] = failures  # (re)inserted: kept one window after its last failure
                if len(failures) == self.max_failures and failures[0] > now - self.window_s:
                    log.warning(
                        "GET /access/token: %s %r locked out for up to %.0f s", kind, key, self.window_s
                    )
