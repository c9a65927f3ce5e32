"""When to try a finalisation (``POST /api/visits/{id}/attachments``) again.

Pure functions, no I/O: the Pyodide worker (worker.py) makes the requests and sleeps, and the
tests check the decisions in CPython. Finalisation is idempotent on the server (a repeat after
a lost answer gets 200 and the message already made), so a retry can never post a file twice.

Retried: no answer at all (connection error: ``status`` None), 408, 423 (``upload_busy``: the
first try is still running), 429 and every 5xx. The waits are 0.5, 1, 3, 5 s and then 5 s
again, each at least the server's ``Retry-After``, until the next try would start more than
``GIVE_UP_AFTER`` (30) seconds after the first one. Anything else (2xx, a 4xx refusal) is final.
"""

from __future__ import annotations

RETRY_DELAYS = (0.5, 1.0, 3.0, 5.0)
GIVE_UP_AFTER = 30.0
RETRY_STATUSES = (408, 423, 429)


def should_retry(
    status: int | None, attempt: int, elapsed: float, retry_after: float | None = None
) -> float | None:
    """Seconds to wait before trying again, or None to stop and keep this outcome.

    ``status``: the answer's HTTP status, None when the request got no answer.
    ``attempt``: how many tries failed before this one (0 after the first try).
    ``elapsed``: seconds since the first try started.
    ``retry_after``: the answer's ``Retry-After`` in seconds (see :func:`parse_retry_after`).
    """
    if status is not None and status not in RETRY_STATUSES and not 500 <= status <= 599:
        return None
    delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
    if retry_after is not None and retry_after > delay:
        delay = retry_after
    if elapsed + delay > GIVE_UP_AFTER:
        return None
    return delay


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds only (the date form, which this server never
    sends, counts as absent, as does a missing or malformed header)."""
    if value is None:
        return None
    value = str(value).strip()
    if not value.isdigit() or not value.isascii():
        return None
    return float(value)
