"""A small tus 1.0.0 upload client (core + creation + termination) that does no I/O itself.

The same module runs under CPython (tests, against the reference server) and inside a Pyodide
web worker in the browser. It therefore imports nothing platform specific: no ``js``, no DOM, no
threads, no httpx. Every request goes through a :class:`TusIO` adapter that the caller passes in
(in the browser: XHR/fetch with ``Blob.slice``; in the tests: ``tests/tus_io.py`` over httpx).

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
  460, 5xx, and 409 (offset mismatch) on PATCH, unless the JSON body names a permanent condition
  (``too_many_uploads``, ``visit_ended``, ``insufficient_storage`` (507: the server's disk is
  full; waiting seconds will not help), ``link_expired``) -- switch the state to
  ``"reconnecting"`` and start (or continue) a *failure streak*: waits of ``retry_delays`` (0.5,
  1, 3, 5 s) and then every ``retry_every`` (10 s); before each retry the client asks the server
  for its offset (HEAD) and goes on from there. The last wait is shortened so that the last try
  happens exactly ``give_up_after`` seconds after the streak began; if that fails too:
  ``TusError("gave_up")``.
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

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urljoin

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
_TRANSIENT_STATUS = frozenset({408, 423, 429, 460})
# Body codes that make an otherwise transient status permanent (reference server, docs/api.md).
_PERMANENT_CODES = frozenset({"too_many_uploads", "visit_ended", "insufficient_storage",
                              "link_expired"})
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


class TusError(Exception):
    """A failed upload. ``code`` is machine readable, ``status`` the HTTP status if any."""

    def __init__(self, code: str, message: str = "", status: int | None = None) -> None:
        super().__init__(message or code)
        self.code = code
        self.status = status
        self.message = message or code

    def __repr__(self) -> str:
        return f"TusError(code={self.code!r}, status={self.status!r}, message={self.message!r})"


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)  # lower-case keys
    body: bytes = b""


class TusIO(Protocol):
    async def control(
        self, method: str, url: str, headers: dict[str, str], body: bytes = b""
    ) -> Response:
        """POST/HEAD/DELETE/OPTIONS. Raises ConnectionError (or OSError) on a network failure."""
        ...

    async def send(
        self,
        url: str,
        headers: dict[str, str],
        start: int,
        end: int,
        on_progress: Callable[[int], None],
    ) -> Response:
        """One PATCH whose body is bytes [start, end) of the file; on_progress(bytes sent in
        this request). Raises ConnectionError (or OSError) on a network failure mid-body."""
        ...

    async def sleep(self, seconds: float) -> None: ...

    def now(self) -> float:
        """Monotonic seconds."""
        ...


# --------------------------------------------------------------------------- helpers


def encode_metadata(d: Mapping[str, str]) -> str:
    """``Upload-Metadata`` value: ``key base64(utf-8 value)`` pairs joined by commas.

    Keys must be non-empty ASCII without spaces or commas (tus 1.0.0); an empty value is sent as
    the bare key. Order is kept.
    """
    parts = []
    for key, value in d.items():
        if not key or not key.isascii() or any(c in key for c in " ,") or not key.isprintable():
            raise ValueError(f"invalid tus metadata key: {key!r}")
        if value == "":
            parts.append(key)
        else:
            parts.append(f"{key} {base64.b64encode(value.encode('utf-8')).decode('ascii')}")
    return ",".join(parts)


def decode_metadata(value: str) -> dict[str, str]:
    """Inverse of :func:`encode_metadata` (raises ValueError on malformed input)."""
    out: dict[str, str] = {}
    if not value.strip():
        return out
    for pair in value.split(","):
        items = pair.strip().split(" ")
        if len(items) == 1 and items[0]:
            out[items[0]] = ""
        elif len(items) == 2 and items[0]:
            out[items[0]] = base64.b64decode(items[1], validate=True).decode("utf-8")
        else:
            raise ValueError(f"malformed tus metadata pair: {pair!r}")
    return out


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        for key, v in headers.items():
            if key.lower() == name:
                return v
    return value


def parse_offset(headers: Mapping[str, str], name: str = "upload-offset") -> int:
    """The non-negative decimal integer in ``Upload-Offset`` (any key case).

    Raises ``TusError(code="protocol")`` when it is missing or not a plain decimal integer.
    """
    raw = _header(headers, name)
    if raw is None:
        raise TusError("protocol", f"response lacks {name}")
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 20:
        raise TusError("protocol", f"bad {name}: {raw!r}")
    return int(text)


def _error_code(body: bytes) -> str | None:
    """The ``"error"`` field of a JSON error body, if there is one."""
    if not body:
        return None
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if isinstance(data, dict) and isinstance(data.get("error"), str) and data["error"]:
        return data["error"]
    return None


def _error_message(body: bytes) -> str:
    try:
        data = json.loads(body.decode("utf-8"))
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            return data["message"]
    except (UnicodeDecodeError, ValueError):
        pass
    return ""


def _is_transient_status(status: int) -> bool:
    return status in _TRANSIENT_STATUS or 500 <= status <= 599


def _retry_after(resp: Response) -> float | None:
    raw = resp.headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    return float(raw) if raw.isascii() and raw.isdigit() else None


class _Transient(Exception):
    """Internal: a failure worth retrying (network error or a transient status)."""

    def __init__(self, reason: str, status: int | None = None, wait_at_least: float | None = None):
        super().__init__(reason)
        self.status = status
        self.wait_at_least = wait_at_least


# --------------------------------------------------------------------------- the upload


class Upload:
    def __init__(
        self,
        io: TusIO,
        endpoint: str,
        size: int,
        metadata: Mapping[str, str],
        headers: Mapping[str, str] | None = None,
        chunk_size: int | None = None,
        retry_delays: Iterable[float] = (0.5, 1, 3, 5),
        retry_every: float = 10,
        give_up_after: float = 120,
        on_progress: Callable[[int, int], None] | None = None,
        on_state: Callable[[str], None] | None = None,
        url: str | None = None,
    ) -> None:
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
        self.url: str | None = url  # the upload URL once created; set it to resume
        self.offset = 0  # bytes the server has acknowledged
        self.state: str | None = None
        self._reported = -1  # highest progress value reported so far
        self._cancelled = False
        self._task: asyncio.Task[str] | None = None
        # failure streak
        self._streak_start: float | None = None
        self._streak_offset = 0
        self._attempt = 0

    # ----------------------------------------------------------------- public API

    async def start(self) -> str:
        """Create the upload (unless ``url`` is set), PATCH until the server has every byte,
        and return the upload URL. Raises :class:`TusError`."""
        if self._cancelled:
            self._set_state("cancelled")
            raise TusError("cancelled", "upload cancelled")
        if self._task is not None and not self._task.done():
            raise RuntimeError("start() is already running")
        self._task = asyncio.ensure_future(self._run())
        return await self._task

    async def cancel(self) -> None:
        """Stop the upload and terminate it on the server (DELETE) if it was created.

        A running ``start()`` then raises ``TusError("cancelled")``. Network errors of the DELETE
        are swallowed (the server expires abandoned uploads anyway)."""
        if self._cancelled:
            return
        self._cancelled = True
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task})  # its exception is for start()'s caller
        if self.url is not None:
            try:
                await self.io.control("DELETE", self.url, self._headers())
            except OSError:
                pass
        self._set_state("cancelled")

    # ----------------------------------------------------------------- internals

    def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        own = {"Tus-Resumable": TUS_VERSION}
        if extra:
            own.update(extra)
        lowered = {k.lower() for k in own}
        out = {k: v for k, v in self.headers.items() if k.lower() not in lowered}
        out.update(own)
        return out

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            if self.on_state is not None:
                self.on_state(state)

    def _report(self, value: int) -> None:
        value = min(max(value, 0), self.size)
        if value > self._reported:
            self._reported = value
            if self.on_progress is not None:
                self.on_progress(value, self.size)

    async def _run(self) -> str:
        try:
            self._streak_start = None
            self._set_state("uploading")
            result = await self._upload()
        except (asyncio.CancelledError, TusError):
            if self._cancelled:  # by cancel()
                self._set_state("cancelled")
                raise TusError("cancelled", "upload cancelled") from None
            # TusError, or the caller cancelled the task running start(): stopped, resumable
            self._set_state("failed")
            raise
        except BaseException:
            self._set_state("failed")
            raise
        self._set_state("done")
        return result

    async def _upload(self) -> str:
        need_head = self.url is not None
        if self.url is None:
            while True:
                try:
                    await self._create()
                    break
                except _Transient as exc:
                    await self._backoff(exc)
            self._end_streak()
        assert self.url is not None
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

    def _end_streak(self) -> None:
        self._streak_start = None
        self._attempt = 0
        self._set_state("uploading")

    async def _backoff(self, exc: _Transient) -> None:
        now = self.io.now()
        if self._streak_start is None:
            self._streak_start = now
            self._streak_offset = self.offset
            self._attempt = 0
        self._set_state("reconnecting")
        elapsed = now - self._streak_start
        remaining = self.give_up_after - elapsed
        if remaining <= 0:
            raise TusError(
                "gave_up",
                f"no progress for {elapsed:.0f} s, last failure: {exc}",
                exc.status,
            ) from exc
        if self._attempt < len(self.retry_delays):
            delay = self.retry_delays[self._attempt]
        else:
            delay = self.retry_every
        if exc.wait_at_least is not None:
            delay = max(delay, exc.wait_at_least)
        self._attempt += 1
        await self.io.sleep(min(delay, remaining))

    async def _request(self, method: str, url: str, headers: dict[str, str]) -> Response:
        try:
            return await self.io.control(method, url, headers)
        except OSError as exc:  # ConnectionError, TimeoutError, ...
            raise _Transient(f"{method} failed: {exc!r}") from exc

    def _fail(self, resp: Response, what: str, not_found: str = "not_found") -> TusError:
        body_code = _error_code(resp.body)
        status = resp.status
        if status in (404, 410):
            code = not_found if not_found == "gone" else (body_code or not_found)
        else:
            code = body_code or _DEFAULT_CODES.get(status, f"http_{status}")
        message = _error_message(resp.body) or f"{what}: HTTP {status}"
        return TusError(code, message, status)

    def _check_transient(self, resp: Response, what: str) -> None:
        if _is_transient_status(resp.status) and _error_code(resp.body) not in _PERMANENT_CODES:
            raise _Transient(f"{what}: HTTP {resp.status}", resp.status, _retry_after(resp))

    async def _create(self) -> None:
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
        self.url = urljoin(self.endpoint, location)
        self.offset = 0
        self._report(0)

    async def _head(self) -> None:
        assert self.url is not None
        resp = await self._request("HEAD", self.url, self._headers())
        self._check_transient(resp, "HEAD")
        if not 200 <= resp.status < 300:
            raise self._fail(resp, "HEAD", not_found="gone")
        offset = parse_offset(resp.headers)
        length = resp.headers.get("upload-length")
        if length is not None and parse_offset(resp.headers, "upload-length") != self.size:
            raise TusError("protocol", f"server Upload-Length {length} != size {self.size}")
        if offset > self.size:
            raise TusError("protocol", f"server offset {offset} > size {self.size}")
        self.offset = offset
        self._report(offset)

    async def _patch(self) -> None:
        assert self.url is not None
        start = self.offset
        end = self.size if self.chunk_size is None else min(self.size, start + self.chunk_size)
        headers = self._headers(
            {"Upload-Offset": str(start), "Content-Type": "application/offset+octet-stream"}
        )

        def progress(sent: int) -> None:
            self._report(start + min(max(sent, 0), end - start))

        try:
            resp = await self.io.send(self.url, headers, start, end, progress)
        except OSError as exc:
            raise _Transient(f"PATCH failed: {exc!r}") from exc
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
                "protocol", f"PATCH from {start} answered Upload-Offset {offset}", resp.status
            )
        self.offset = offset
        self._report(offset)
