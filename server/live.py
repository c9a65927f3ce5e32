"""In-memory helpers: long-poll wake-ups and the rate limiter."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class VisitNotifier:
    """Wakes long polls of a visit when it gets a message or changes state.

    Waiters remember their own event loop and are woken with call_soon_threadsafe, so a
    notification may come from any thread (a thread pool, a test) or another loop.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
        # Set when the server shuts down: held long polls answer at once, so a graceful
        # shutdown does not wait up to long_poll_max_seconds for them.
        self.closing = False

    @contextmanager
    def listen(self, visit_id: str) -> Iterator[asyncio.Event]:
        # Subscribe *before* checking the database so a message posted between the check and
        # the wait still wakes us.
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.setdefault(visit_id, set()).add(entry)
        try:
            yield entry[1]
        finally:
            with self._lock:
                waiters = self._waiters.get(visit_id)
                if waiters is not None:
                    waiters.discard(entry)
                    if not waiters:
                        del self._waiters[visit_id]

    def close(self) -> None:
        """Wake every long poll for good (safe from a signal handler or another thread)."""
        self.closing = True
        self.notify_all()

    def notify_all(self) -> None:
        """Wake every long poll once (each re-reads the database)."""
        with self._lock:
            waiters = [w for ws in self._waiters.values() for w in ws]
        self._wake(waiters)

    def notify(self, visit_id: str) -> None:
        with self._lock:
            waiters = list(self._waiters.get(visit_id, ()))
        self._wake(waiters)

    @staticmethod
    def _wake(waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]]) -> None:
        for loop, event in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that loop is closed; its waiter is gone with it
                pass


class RateLimiter:
    """Token buckets keyed by caller; refills `rate` per second up to `burst`."""

    MAX_KEYS = 10_000

    def __init__(self, rate: float, burst: int, enabled: bool = True) -> None:
        self.rate, self.burst, self.enabled = rate, burst, enabled
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, now: float | None = None) -> bool:
        if not self.enabled or self.rate <= 0:
            return True
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            if len(self._buckets) >= self.MAX_KEYS and key not in self._buckets:
                self._prune(now)
            self._buckets[key] = (tokens, now)
            return allowed

    def _prune(self, now: float) -> None:
        # A bucket that has refilled completely carries no information: forget it.
        full_after = self.burst / self.rate
        for key, (_, last) in list(self._buckets.items()):
            if now - last >= full_after:
                del self._buckets[key]
        if len(self._buckets) >= self.MAX_KEYS:  # still flooded: start over rather than grow
            self._buckets.clear()
