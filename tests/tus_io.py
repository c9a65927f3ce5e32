"""TusIO adapters for the tests of bifoga.transfer.tus_client.

* :class:`HttpxTusIO` -- the real thing for CPython: httpx against a running server.
* :class:`MemoryTusIO` -- an in-memory tus server on a :class:`FakeClock`, with scripted faults,
  for unit tests that must not sleep or touch the network.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from bifoga.transfer.tus_client import Response, decode_metadata

PIECE = 64 * 1024


class HttpxTusIO:
    """TusIO over an ``httpx.AsyncClient``; the file is a bytes object held by the adapter."""

    def __init__(self, file_bytes: bytes, client: httpx.AsyncClient, piece: int = PIECE) -> None:
        self.file_bytes = file_bytes
        self.client = client
        self.piece = piece
        self.requests: list[tuple[str, str]] = []  # (method, url), for assertions

    @staticmethod
    def _response(resp: httpx.Response) -> Response:
        return Response(
            status=resp.status_code,
            headers={k.lower(): v for k, v in resp.headers.items()},
            body=resp.content,
        )

    async def control(
        self, method: str, url: str, headers: dict[str, str], body: bytes = b""
    ) -> Response:
        self.requests.append((method, url))
        try:
            resp = await self.client.request(method, url, headers=headers, content=body)
        except httpx.TransportError as exc:
            raise ConnectionError(f"{method} {url}: {exc!r}") from exc
        return self._response(resp)

    async def send(
        self,
        url: str,
        headers: dict[str, str],
        start: int,
        end: int,
        on_progress: Callable[[int], None],
    ) -> Response:
        self.requests.append(("PATCH", url))
        headers = {**headers, "Content-Length": str(end - start)}
        body = self._body(start, end, on_progress)
        try:
            resp = await self.client.request("PATCH", url, headers=headers, content=body)
        except httpx.TransportError as exc:
            raise ConnectionError(f"PATCH {url}: {exc!r}") from exc
        return self._response(resp)

    async def _body(
        self, start: int, end: int, on_progress: Callable[[int], None]
    ) -> AsyncIterator[bytes]:
        """The PATCH body: bytes start..end of the file in pieces, each counted as sent once
        httpx has written it."""
        data = memoryview(self.file_bytes)[start:end]
        sent = 0
        while sent < len(data):
            chunk = bytes(data[sent : sent + self.piece])
            yield chunk  # resumes once httpx has written the piece
            sent += len(chunk)
            self._handed_over(start + sent)
            on_progress(sent)
            await self._pace(len(chunk))

    def _handed_over(self, position: int) -> None:
        """The file's bytes before `position` are with the connection."""

    async def _pace(self, size: int) -> None:
        """Called after each piece of `size` bytes; a slower adapter waits here."""

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def now(self) -> float:
        return time.monotonic()


class FakeClock:
    """Simulated monotonic time; ``sleep`` advances it at once and records the wait."""

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds
        await asyncio.sleep(0)  # let other tasks (cancel()) run


@dataclass
class Drop:
    """Scripted PATCH fault: the connection breaks after ``after`` bytes of the body.

    ``kept`` bytes of those reach the server's storage (default: all of them)."""

    after: int
    kept: int | None = None


@dataclass
class Hang:
    """Scripted fault: the request never answers (until cancelled)."""


@dataclass
class _Stored:
    length: int
    metadata: dict[str, str]
    data: bytearray = field(default_factory=bytearray)


class MemoryTusIO:
    """An in-memory tus 1.0.0 server behind the TusIO interface, on a FakeClock.

    Faults: ``script[METHOD]`` is a queue consumed one entry per request of that method; an
    entry is a Response (returned as is), an exception (raised), :class:`Drop` (PATCH only) or
    :class:`Hang`. ``down_until`` makes every request raise ConnectionError while the clock is
    before it. ``latency`` seconds pass on the clock for every request.
    """

    def __init__(
        self,
        file_bytes: bytes,
        endpoint: str = "https://care.example/api/visits/v1/uploads",
        clock: FakeClock | None = None,
        max_size: int = 10 * 1024 * 1024,
        latency: float = 0.0,
        piece: int = PIECE,
    ) -> None:
        self.file_bytes = file_bytes
        self.endpoint = endpoint
        self.clock = clock or FakeClock()
        self.max_size = max_size
        self.latency = latency
        self.piece = piece
        self.uploads: dict[str, _Stored] = {}
        self.script: dict[str, deque] = {
            m: deque() for m in ("POST", "HEAD", "PATCH", "DELETE", "OPTIONS")
        }
        self.down_until: float | None = None
        self.log: list[tuple[str, str, dict[str, str], tuple[int, int] | None]] = []
        self.times: list[tuple[str, float]] = []  # (method, clock time) of each request

    # --- TusIO
    def now(self) -> float:
        return self.clock.now()

    async def sleep(self, seconds: float) -> None:
        await self.clock.sleep(seconds)

    @property
    def sleeps(self) -> list[float]:
        return self.clock.sleeps

    def methods(self) -> list[str]:
        return [entry[0] for entry in self.log]

    def _path(self, url: str) -> str:
        return urlsplit(url).path

    async def _enter(self, method: str) -> object | None:
        self.times.append((method, self.clock.t))
        self.clock.t += self.latency
        await asyncio.sleep(0)
        if self.down_until is not None and self.clock.t < self.down_until:
            raise ConnectionError("network is down")
        if self.script[method]:
            action = self.script[method].popleft()
            if isinstance(action, BaseException):
                raise action
            if isinstance(action, Hang):
                await asyncio.Event().wait()
            return action
        return None

    async def control(
        self, method: str, url: str, headers: dict[str, str], body: bytes = b""
    ) -> Response:
        self.log.append((method, url, dict(headers), None))
        action = await self._enter(method)
        if isinstance(action, Response):
            return action
        if headers.get("Tus-Resumable") != "1.0.0":
            return Response(412, {"tus-version": "1.0.0"})
        path = self._path(url)
        if method == "POST":
            assert path == self._path(self.endpoint), url
            length = int(headers["Upload-Length"])
            if length > self.max_size:
                return Response(413, {}, b'{"error": "too_large", "message": "too big"}')
            meta = decode_metadata(headers.get("Upload-Metadata", ""))
            upload_path = f"{path}/u{len(self.uploads) + 1}"
            self.uploads[upload_path] = _Stored(length, meta)
            return Response(201, {"location": upload_path, "tus-resumable": "1.0.0"})
        stored = self.uploads.get(path)
        if method == "HEAD":
            if stored is None:
                return Response(404, {})
            return Response(
                200,
                {
                    "upload-offset": str(len(stored.data)),
                    "upload-length": str(stored.length),
                    "cache-control": "no-store",
                },
            )
        if method == "DELETE":
            if stored is None:
                return Response(404, {})
            del self.uploads[path]
            return Response(204, {})
        raise AssertionError(f"unexpected {method}")

    async def send(
        self,
        url: str,
        headers: dict[str, str],
        start: int,
        end: int,
        on_progress: Callable[[int], None],
    ) -> Response:
        self.log.append(("PATCH", url, dict(headers), (start, end)))
        action = await self._enter("PATCH")
        if isinstance(action, Response):
            return action
        assert headers["Content-Type"] == "application/offset+octet-stream"
        assert headers["Tus-Resumable"] == "1.0.0"
        stored = self.uploads.get(self._path(url))
        if stored is None:
            return Response(404, {})
        if int(headers["Upload-Offset"]) != start or start != len(stored.data):
            return Response(409, {}, b'{"error": "offset_mismatch", "message": "offset"}')
        body = self.file_bytes[start:end]
        limit = len(body)
        if isinstance(action, Drop):
            limit = min(action.after, len(body))
        sent = 0
        while sent < limit:
            n = min(self.piece, limit - sent)
            sent += n
            on_progress(sent)
            await asyncio.sleep(0)
        if isinstance(action, Drop):
            kept = limit if action.kept is None else min(action.kept, limit)
            stored.data += body[:kept]
            raise ConnectionError("connection reset by peer")
        if start + len(body) > stored.length:
            return Response(413, {})
        stored.data += body
        return Response(204, {"upload-offset": str(len(stored.data))})
