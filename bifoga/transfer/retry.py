"""The one retry policy of an upload: when to try again, for the tus transfer
(bifoga.transfer.tus_client) and for the finalisation (``POST /api/visits/{id}/attachments``,
worker.py).

Pure functions, no I/O: the workers (Pyodide and the light MicroPython one) make the requests
and sleep, and the tests check the decisions in CPython and MicroPython.
Finalisation is idempotent on the server (a repeat after a lost answer
gets 200 and the message already made), so a retry can never post a file twice.

Retried: no answer at all (a connection error), 408, 423 (``upload_busy``: the first try is
still running), 429 and every 5xx. The waits are 0.5, 1, 3 and 5 s, then every 10 s, each at
least the server's ``Retry-After``; the last wait is shortened so that the last try starts
exactly ``GIVE_UP_AFTER`` (120) seconds after the first failure, and then it gives up. Anything
else (2xx, a 4xx refusal) is final.
"""

RETRY_DELAYS = (0.5, 1.0, 3.0, 5.0)
RETRY_EVERY = 10.0
GIVE_UP_AFTER = 120.0
RETRY_STATUSES = (408, 423, 429)
# A PATCH with no upload progress for this long counts as dropped (a half-open connection).
STALL_SECONDS = 30.0


def is_transient(status):
    """An answer worth trying again after a wait."""
    return status in RETRY_STATUSES or 500 <= status <= 599


def next_delay(attempt, elapsed, retry_after=None, delays=RETRY_DELAYS, every=RETRY_EVERY,
               give_up_after=GIVE_UP_AFTER):
    """Seconds to wait before the next try, or None to give up.

    ``attempt``: how many tries failed before this one (0 after the first failure).
    ``elapsed``: seconds since the first failure.
    ``retry_after``: the answer's ``Retry-After`` in seconds (see :func:`parse_retry_after`).
    """
    remaining = give_up_after - elapsed
    if remaining <= 0:
        return None
    delay = delays[attempt] if attempt < len(delays) else every
    if retry_after is not None and retry_after > delay:
        delay = retry_after
    return min(delay, remaining)


def should_retry(status, attempt, elapsed, retry_after=None):
    """For one request's outcome (``status`` None: no answer came): the wait before trying
    again, or None to stop and keep this outcome."""
    if status is not None and not is_transient(status):
        return None
    return next_delay(attempt, elapsed, retry_after)


def parse_retry_after(value):
    """``Retry-After`` as seconds: delta-seconds only (the date form, which this server never
    sends, counts as absent, as does a missing or malformed header)."""
    if value is None:
        return None
    value = str(value).strip()
    if not value or not all(c in "0123456789" for c in value):
        return None
    return float(value)


def is_stalled(idle, all_handed_over, server_offset, offset_seen):
    """After `idle` seconds without upload progress, whether the PATCH counts as dropped (the
    tus client then resumes from the server's offset). When XHR says every byte was handed
    over, the OS may still be sending them on a slow uplink: the server's offset (HEAD;
    None without an answer) decides, and one still growing past `offset_seen` is no stall."""
    if idle <= STALL_SECONDS:
        return False
    return not (all_handed_over and server_offset is not None and server_offset > offset_seen)
