"""A small tus 1.0.0 upload client (core + creation + termination) that does no I/O itself.

The same module runs under CPython (tests, against the reference server), in the Pyodide worker
and in the light MicroPython worker in the browser. It therefore imports nothing platform
specific (no ``js``, no DOM, no threads, no httpx) and nothing MicroPython lacks (no typing,
dataclasses, urllib or f-strings). Every request goes through a :class:`TusIO` adapter that
the caller passes in (in the browser: XHR/fetch with ``Blob.slice``; in the tests:
``tests/tus_io.py`` over httpx).

Behaviour (see also docs/api.md):

* Every request carries ``Tus-Resumable: 1.0.0`` and the caller's headers (``Authorization``).
  A relative ``Location`` is resolved against the endpoint with :func:`urllib.parse.urljoin`.
* ``chunk_size=None`` sends the whole rest of the file in one PATCH (fewest requests, like
  tus-js-client's default); with ``chunk_size`` set, PATCHes are at most that many bytes.
* Progress: ``on_progress(n, size)`` reports ``n`` = the largest value of "offset at the start of
  the current PATCH + bytes the adapter says it sent", or the server's acknowledged offset,
  seen so far. It never goes backwards: after a resume from a lower server offset the reported
  value stays put until the re-sent bytes pass it. ``size`` is always reported at the end.
* Transient failures -- ``OSError``/``ConnectionError`` from the adapter, status 408, 423, 429,
  460, 5xx, and 409 (offset mismatch) on PATCH, unless the JSON body names a permanent
  condition (``too_many_uploads``, ``visit_ended``, ``insufficient_storage`` (507: the server's
  disk is full; waiting seconds will not help), ``link_expired``) -- switch the state to
  ``"reconnecting"`` and start (or continue) a *failure streak*: waits of ``retry_delays`` (0.5,
  1, 3, 5 s) and then every ``retry_every`` (10 s), the one retry policy of bifoga.transfer.retry;
  before each retry the client asks the server for its offset (HEAD) and goes on from there. The
  last wait is shortened so that the last try happens exactly ``give_up_after`` (120) seconds after
  the streak began; if that fails too: ``TusError("gave_up")``.
  A ``Retry-After: <seconds>`` header on 429/503 lengthens a wait (never past the deadline).
  The state goes back to ``"uploading"`` as soon as the server answers again (HEAD ok); the
  streak (and so the schedule and the give-up clock) ends when the server acknowledges bytes
  past the offset it had when the streak began -- a server that answers HEAD but keeps failing
  PATCH therefore still makes the client give up.
* Permanent failures raise :class:`TusError` at once: 413 -> ``too_large``, 415 ->
  ``type_not_allowed`` (or the finer code from the JSON body's ``"error"``, for example
  ``audio_not_allowed``), 401/403 -> ``unauthorized``/``forbidden``, 404 at creation ->
  ``not_found``, 404/410 for an existing upload -> ``gone``, anything the client cannot make
  sense of -> ``protocol``. Other 4xx: the body's ``"error"`` code, else ``http_<status>``.
* :meth:`Upload.cancel` stops the running :meth:`Upload.start` (cancelling the request in
  flight: a browser adapter should abort its XHR when its coroutine is cancelled), then sends
  DELETE if an upload URL exists; ``start()`` raises ``TusError("cancelled")``. A cancel that
  lands while the creation POST is in flight cannot know the new URL; such an orphan upload is
  left to the server's expiration.
* If the task running ``start()`` is itself cancelled (page closing), the state becomes
  ``"failed"`` and nothing is deleted: the upload stays resumable.
* ``start()`` may be called again after a failure (``url`` is then set, so it resumes via HEAD);
  a new :class:`Upload` given ``url=`` resumes an upload made earlier (even in another page).
* Checksums (the server offers ``Tus-Checksum-Algorithm: sha256``) are not used: the client never
  sees the bytes, the adapter does. An adapter that wants them may add ``Upload-Checksum:
  sha256 <base64>`` of the slice it sends; nothing here requires it.
"""

import asyncio
import json

from bifoga.transfer.retry import (
    GIVE_UP_AFTER,
    RETRY_DELAYS,
    RETRY_EVERY,
    STALL_SECONDS,
    is_stalled,
    is_transient,
    next_delay,
    parse_retry_after,
)

try:
    from base64 import b64decode, b64encode
except ImportError:  # MicroPython: binascii only
    from binascii import a2b_base64 as _a2b
    from binascii import b2a_base64 as _b2a

    def b64encode(data):
        return _b2a(data).rstrip(b"\n")

    def b64decode(data, validate=False):
        return _a2b(data)

__all__ = [
    "TUS_VERSION",
    "Response",
    "TusError",
    "TusIO",
    "Upload",
    "decode_metadata",
    "encode_metadata",
    "parse_offset",
]

TUS_VERSION = "1.0.0"
STATES = ("uploading", "reconnecting", "done", "failed", "cancelled")

# 460: checksum mismatch (tus checksum extension), worth re-sending if an adapter checksums.
_CHECKSUM_MISMATCH = 460
# Body codes that make an otherwise transient status permanent (reference server, docs/api.md).
_PERMANENT_CODES = ("too_many_uploads", "visit_ended", "insufficient_storage", "link_expired")
_DEFAULT_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    410: "gone",
    412: "protocol",  # Tus-Resumable version not supported
    413: "too_large",
    415: "type_not_allowed",
}



# XHR upload progress is paced for the page: WebKit fires an event per 8 KiB (218 for a 1.7 MB
# photo) where Chromium and Firefox wait 50 ms between two, and each one passed on costs the main
# thread a render of the preview (it made WebKit's uploads seconds slower).
PROGRESS_INTERVAL = 0.05  # seconds, the pace the XHR standard gives


class ProgressPacer:
    """Passes on a transfer's progress at most every PROGRESS_INTERVAL, and always the end."""

    def __init__(self, on_progress, now):
        self.on_progress = on_progress
        self.now = now
        self.last = None

    def __call__(self, loaded, total):
        now = self.now()
        if self.last is None or now - self.last >= PROGRESS_INTERVAL or loaded >= total:
            self.last = now
            self.on_progress(loaded)

class TusError(Exception):
    """A failed upload. ``code`` is machine readable, ``status`` the HTTP status if any."""

    def __init__(self, code, message="", status=None):
        super().__init__(message or code)
        self.code = code
        self.status = status
        self.message = message or code

    def __repr__(self):
        return "TusError(code=%r, status=%r, message=%r)" % (self.code, self.status,
                                                            self.message)


class Response:
    """An answer: status, headers (lower-case keys), body bytes."""

    def __init__(self, status, headers=None, body=b""):
        self.status = status
        self.headers = dict(headers or {})
        self.body = body

    def __eq__(self, other):
        return (isinstance(other, Response) and self.status == other.status
                and self.headers == other.headers and self.body == other.body)

    def __repr__(self):
        return "Response(%r, %r, %r)" % (self.status, self.headers, self.body)


class TusIO:
    """What the client needs of its I/O adapter (documentation; adapters need not inherit).

    async control(method, url, headers, body=b"") -> Response: POST/HEAD/DELETE/OPTIONS;
        raises ConnectionError (or OSError) on a network failure.
    async send(url, headers, start, end, on_progress) -> Response: one PATCH whose body is
        bytes [start, end) of the file; on_progress(bytes sent in this request). Raises
        ConnectionError (or OSError) on a network failure mid-body.
    async sleep(seconds); now() -> monotonic seconds.
    """


# --------------------------------------------------------------------------- helpers

_DIGITS = "0123456789"


def _plain_digits(text):
    return bool(text) and all(c in _DIGITS for c in text)


def _valid_key(key):
    # Printable ASCII without space or comma (tus 1.0.0).
    return bool(key) and all(32 < ord(c) < 127 and c != "," for c in key)


def _join_url(base, location):
    """``location`` resolved against ``base`` (absolute URL, //host, /path or relative)."""
    if "://" in location:
        return location
    scheme, _, rest = base.partition("://")
    if location.startswith("//"):
        return scheme + ":" + location
    host = rest.split("/", 1)[0]
    if location.startswith("/"):
        return scheme + "://" + host + location
    path = rest[len(host):].split("?", 1)[0].split("#", 1)[0]
    return scheme + "://" + host + path[:path.rfind("/") + 1] + location


def encode_metadata(d):
    """``Upload-Metadata`` value: ``key base64(utf-8 value)`` pairs joined by commas.

    Keys must be non-empty ASCII without spaces or commas (tus 1.0.0); an empty value is sent as
    the bare key. Order is kept.
    """
    parts = []
    for key, value in d.items():
        if not _valid_key(key):
            raise ValueError("invalid tus metadata key: %r" % (key,))
        if value == "":
            parts.append(key)
        else:
            parts.append(key + " " + b64encode(value.encode("utf-8")).decode("ascii"))
    return ",".join(parts)


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="


def decode_metadata(value):
    """Inverse of :func:`encode_metadata` (raises ValueError on malformed input)."""
    out = {}
    if not value.strip():
        return out
    for pair in value.split(","):
        items = pair.strip().split(" ")
        if len(items) == 1 and items[0]:
            out[items[0]] = ""
        elif len(items) == 2 and items[0]:
            if len(items[1]) % 4 or not all(c in _B64 for c in items[1]):
                raise ValueError("malformed base64 in tus metadata: %r" % (pair,))
            out[items[0]] = b64decode(items[1], validate=True).decode("utf-8")
        else:
            raise ValueError("malformed tus metadata pair: %r" % (pair,))
    return out


def _header(headers, name):
    value = headers.get(name)
    if value is None:
        for key, v in headers.items():
            if key.lower() == name:
                return v
    return value


def parse_offset(headers, name="upload-offset"):
    """The non-negative decimal integer in ``Upload-Offset`` (any key case).

    Raises ``TusError(code="protocol")`` when it is missing or not a plain decimal integer.
    """
    raw = _header(headers, name)
    if raw is None:
        raise TusError("protocol", "response lacks " + name)
    text = raw.strip()
    if not _plain_digits(text) or len(text) > 20:
        raise TusError("protocol", "bad %s: %r" % (name, raw))
    return int(text)


async def server_offset(io, url, headers):
    """The upload's offset on the server, by a HEAD through the adapter ``io`` with the
    Authorization and Tus-Resumable of ``headers``; None without a clear answer. An adapter
    whose PATCH has stalled asks it: an offset still growing means the bytes still arrive."""
    ask = {k: v for k, v in headers.items() if k.lower() in ("authorization", "tus-resumable")}
    try:
        resp = await io.control("HEAD", url, ask)
        return int(resp.headers["upload-offset"]) if resp.status < 300 else None
    except (OSError, KeyError, ValueError):  # ConnectionError too
        return None


async def wait_or_stall(io, url, headers, length, seen, finished, wait):
    """An adapter's watch over its PATCH of ``length`` bytes: waits until ``finished()``;
    True when the PATCH stalled first (the adapter aborts it, and the client resumes from the
    server's offset). ``seen`` holds the bytes handed over ("loaded") and when they last grew
    ("at", io.now()); ``wait()`` waits about a second or less. A request that neither
    progresses nor fails (a half-open connection) stalls after STALL_SECONDS; when every byte
    was handed over, the OS may still be sending them, so the server's offset decides."""
    asked = -1  # the server's offset when last asked
    while not finished():
        await wait()
        idle = io.now() - seen["at"]
        if finished() or idle <= STALL_SECONDS:
            continue
        handed_over = seen["loaded"] >= length
        offset = await server_offset(io, url, headers) if handed_over else None
        if not is_stalled(idle, handed_over, offset, asked):
            asked, seen["at"] = offset, io.now()
            continue
        return True
    return False


def _json_body(body):
    if not body:
        return None
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeError, ValueError):
        return None


def _error_code(body):
    """The ``"error"`` field of a JSON error body, if there is one."""
    data = _json_body(body)
    if isinstance(data, dict) and isinstance(data.get("error"), str) and data["error"]:
        return data["error"]
    return None


def _error_message(body):
    data = _json_body(body)
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return data["message"]
    return ""


def _is_transient_status(status):
    return status == _CHECKSUM_MISMATCH or is_transient(status)


def _retry_after(resp):
    return parse_retry_after(resp.headers.get("retry-after"))


class _Transient(Exception):
    """Internal: a failure worth retrying (network error or a transient status)."""

    def __init__(self, reason, status=None, wait_at_least=None):
        super().__init__(reason)
        self.status = status
        self.wait_at_least = wait_at_least


# --------------------------------------------------------------------------- the upload


class Upload:
    def __init__(self, io, endpoint, size, metadata, headers=None, chunk_size=None,
                 retry_delays=RETRY_DELAYS, retry_every=RETRY_EVERY,
                 give_up_after=GIVE_UP_AFTER, on_progress=None, on_state=None, url=None):
        if size < 0:
            raise ValueError("size must be >= 0")
        if chunk_size is not None and chunk_size <= 0:
            raise ValueError("chunk_size must be positive or None")
        self.io = io
        self.endpoint = endpoint
        self.size = size
        self.metadata = dict(metadata)
        self.headers = dict(headers or {})
        self.chunk_size = chunk_size
        self.retry_delays = tuple(float(d) for d in retry_delays)
        self.retry_every = float(retry_every)
        self.give_up_after = float(give_up_after)
        self.on_progress = on_progress
        self.on_state = on_state
        self.url = url  # the upload URL once created; set it to resume
        self.offset = 0  # bytes the server has acknowledged
        self.state = None
        self._reported = -1  # highest progress value reported so far
        self._cancelled = False
        self._task = None
        self._finished = None  # an Event set when the task running _run() ends
        # failure streak
        self._streak_start = None
        self._streak_offset = 0
        self._attempt = 0

    # ----------------------------------------------------------------- public API

    async def start(self):
        """Create the upload (unless ``url`` is set), PATCH until the server has every byte,
        and return the upload URL. Raises :class:`TusError`."""
        if self._cancelled:
            self._set_state("cancelled")
            raise TusError("cancelled", "upload cancelled")
        if self._task is not None and not self._task.done():
            raise RuntimeError("start() is already running")
        self._finished = asyncio.Event()
        self._task = asyncio.create_task(self._run())
        try:
            return await self._task
        except asyncio.CancelledError:
            # cancel() came before the task ran a line: _run could not say so itself.
            if not self._finished.is_set() and self._cancelled:
                self._finished.set()
                self._set_state("cancelled")
                raise TusError("cancelled", "upload cancelled")  # noqa: B904 - as in _run
            raise

    async def cancel(self):
        """Stop the upload and terminate it on the server (DELETE) if it was created.

        A running ``start()`` then raises ``TusError("cancelled")``. Network errors of the DELETE
        are swallowed (the server expires abandoned uploads anyway)."""
        if self._cancelled:
            return
        self._cancelled = True
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await self._finished.wait()  # its exception is for start()'s caller
        if self.url is not None:
            try:
                await self.io.control("DELETE", self.url, self._headers())
            except OSError:
                pass
        self._set_state("cancelled")

    # ----------------------------------------------------------------- internals

    def _headers(self, extra=None):
        own = {"Tus-Resumable": TUS_VERSION}
        if extra:
            own.update(extra)
        lowered = set(k.lower() for k in own)
        out = {k: v for k, v in self.headers.items() if k.lower() not in lowered}
        out.update(own)
        return out

    def _set_state(self, state):
        if state != self.state:
            self.state = state
            if self.on_state is not None:
                self.on_state(state)

    def _report(self, value):
        value = min(max(value, 0), self.size)
        if value > self._reported:
            self._reported = value
            if self.on_progress is not None:
                self.on_progress(value, self.size)

    async def _run(self):
        try:
            self._streak_start = None
            self._set_state("uploading")
            result = await self._upload()
        except (asyncio.CancelledError, TusError):
            if self._cancelled:  # by cancel()
                self._set_state("cancelled")
                raise TusError("cancelled", "upload cancelled")  # noqa: B904 - MicroPython prints a warning on chaining
            # TusError, or the caller cancelled the task running start(): stopped, resumable
            self._set_state("failed")
            raise
        except BaseException:
            self._set_state("failed")
            raise
        finally:
            self._finished.set()
        self._set_state("done")
        return result

    async def _upload(self):
        need_head = self.url is not None
        if self.url is None:
            while True:
                try:
                    await self._create()
                    break
                except _Transient as exc:
                    await self._backoff(exc)
            self._end_streak()
        while True:
            if need_head:
                try:
                    await self._head()
                except _Transient as exc:
                    await self._backoff(exc)
                    continue
                need_head = False
                self._set_state("uploading")
                if self._streak_start is not None and self.offset > self._streak_offset:
                    self._end_streak()
            if self.offset >= self.size:
                break
            try:
                await self._patch()
            except _Transient as exc:
                need_head = True
                await self._backoff(exc)
                continue
            self._end_streak()
        self._report(self.size)
        return self.url

    def _end_streak(self):
        self._streak_start = None
        self._attempt = 0
        self._set_state("uploading")

    async def _backoff(self, exc):
        now = self.io.now()
        if self._streak_start is None:
            self._streak_start = now
            self._streak_offset = self.offset
            self._attempt = 0
        self._set_state("reconnecting")
        elapsed = now - self._streak_start
        delay = next_delay(self._attempt, elapsed, exc.wait_at_least, self.retry_delays,
                           self.retry_every, self.give_up_after)
        if delay is None:
            raise TusError(
                "gave_up",
                "no progress for %d s, last failure: %s" % (round(elapsed), exc),
                exc.status,
            )
        self._attempt += 1
        await self.io.sleep(delay)

    async def _request(self, method, url, headers):
        try:
            return await self.io.control(method, url, headers)
        except OSError as exc:  # ConnectionError, TimeoutError, ...
            raise _Transient("%s failed: %r" % (method, exc))  # noqa: B904

    def _fail(self, resp, what, not_found="not_found"):
        body_code = _error_code(resp.body)
        status = resp.status
        if status in (404, 410):
            code = not_found if not_found == "gone" else (body_code or not_found)
        else:
            code = body_code or _DEFAULT_CODES.get(status, "http_" + str(status))
        message = _error_message(resp.body) or "%s: HTTP %d" % (what, status)
        return TusError(code, message, status)

    def _check_transient(self, resp, what):
        if _is_transient_status(resp.status) and _error_code(resp.body) not in _PERMANENT_CODES:
            raise _Transient("%s: HTTP %d" % (what, resp.status), resp.status,
                             _retry_after(resp))

    async def _create(self):
        extra = {"Upload-Length": str(self.size)}
        if self.metadata:
            extra["Upload-Metadata"] = encode_metadata(self.metadata)
        resp = await self._request("POST", self.endpoint, self._headers(extra))
        self._check_transient(resp, "create")
        if not 200 <= resp.status < 300:
            raise self._fail(resp, "create")
        location = resp.headers.get("location")
        if not location:
            raise TusError("protocol", "creation response lacks Location", resp.status)
        self.url = _join_url(self.endpoint, location)
        self.offset = 0
        self._report(0)

    async def _head(self):
        resp = await self._request("HEAD", self.url, self._headers())
        self._check_transient(resp, "HEAD")
        if not 200 <= resp.status < 300:
            raise self._fail(resp, "HEAD", not_found="gone")
        offset = parse_offset(resp.headers)
        length = resp.headers.get("upload-length")
        if length is not None and parse_offset(resp.headers, "upload-length") != self.size:
            raise TusError("protocol", "server Upload-Length %s != size %d" % (length,
                                                                                self.size))
        if offset > self.size:
            raise TusError("protocol", "server offset %d > size %d" % (offset, self.size))
        self.offset = offset
        self._report(offset)

    async def _patch(self):
        start = self.offset
        end = self.size if self.chunk_size is None else min(self.size, start + self.chunk_size)
        headers = self._headers(
            {"Upload-Offset": str(start), "Content-Type": "application/offset+octet-stream"}
        )

        def progress(sent):
            self._report(start + min(max(sent, 0), end - start))

        try:
            resp = await self.io.send(self.url, headers, start, end, progress)
        except OSError as exc:
            raise _Transient("PATCH failed: %r" % (exc,))  # noqa: B904
        self._check_transient(resp, "PATCH")
        if resp.status == 409:  # offset mismatch (or a permanent conflict named in the body)
            code = _error_code(resp.body)
            if code not in _PERMANENT_CODES:
                raise _Transient("PATCH: HTTP 409 offset mismatch", 409)
            raise self._fail(resp, "PATCH")
        if not 200 <= resp.status < 300:
            raise self._fail(resp, "PATCH", not_found="gone")
        offset = parse_offset(resp.headers)
        if offset <= start or offset > self.size:
            raise TusError(
                "protocol", "PATCH from %d answered Upload-Offset %d" % (start, offset),
                resp.status
            )
        self.offset = offset
        self._report(offset)
