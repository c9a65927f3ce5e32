"""A shaped network for the benchmark: a reverse proxy on 127.0.0.1 in front of the app server,
with one link for everything the browser does (its pages and their workers).

CPython only (asyncio; the bench runs it in a thread of its own next to Playwright's sync API).

The link is two token buckets, down and up, shared by every connection (one phone, one radio),
and a one-way delay of half the round-trip time in each direction. A chunk waits for the
bucket of its direction (FIFO across connections, as packets queue on one link), then travels
for RTT/2; a new connection pays one RTT before its first byte (the TCP handshake).

The proxy speaks TCP, not HTTP: it relays bytes as they are. It reads the request heads going
up only to account for them: which path each connection is fetching (its response bytes going
down are counted against that path; browsers do not pipeline HTTP/1.1) and when the first byte
of an upload body goes up (a PATCH body, or a POST body of a tus or multipart upload). At that
moment it keeps a snapshot of what went down so far. Of the answers going down it reads only
the status line, to tell a 304 (the browser revalidated its cached copy) from a download.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

CHUNK = 8 * 1024  # what one read relays at most: 7 ms at 9 Mbit/s, 87 ms at 0.75 Mbit/s
UPLOAD_TYPES = ("application/offset+octet-stream", "multipart/form-data")


@dataclass(frozen=True)
class Profile:
    """A link: rates in bits per second, the round-trip time in seconds."""

    name: str
    down_bps: float
    up_bps: float
    rtt_s: float


PROFILES = {
    "4g": Profile("4G", 9_000_000, 1_500_000, 0.060),
    "slow4g": Profile("slow 4G", 1_600_000, 750_000, 0.150),
}


class TokenBucket:
    """`rate` bytes per second with at most `burst` bytes banked. `take(n)` returns once n bytes
    may go: callers are served in order (asyncio.Lock is FIFO), each waits for the previous
    one's bytes to have gone, so concurrent connections share the rate."""

    def __init__(self, rate: float, burst: float = CHUNK,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = burst
        self._stamp = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def take(self, n: int) -> None:
        async with self._lock:
            self._refill()
            self._tokens -= n  # may go into debt: a chunk larger than the burst waits it off
            if self._tokens < 0:
                await asyncio.sleep(-self._tokens / self.rate)
                self._refill()


@dataclass
class Direction:
    """One way of the link: its bucket and its one-way delay."""

    bucket: TokenBucket
    delay_s: float


class RequestHeads:
    """Follows the request stream of one connection (client → server): where each request's
    head ends and how long its body is (Content-Length; a chunked or upgraded stream is relayed
    without further reading). `feed` returns, per chunk, the requests that started in it and how
    many upload-body bytes it carries."""

    def __init__(self) -> None:
        self._head = bytearray()
        self._body_left = 0
        self._upload = False
        self._opaque = False
        self.path = ""
        self.answered = True  # whether the current request's answer has begun to come down

    def feed(self, data: bytes) -> tuple[list[tuple[str, str]], int]:
        started: list[tuple[str, str]] = []
        upload_bytes = 0
        view = memoryview(data)
        while view:
            if self._opaque:
                upload_bytes += len(view) if self._upload else 0
                break
            if self._body_left:
                n = min(self._body_left, len(view))
                self._body_left -= n
                upload_bytes += n if self._upload else 0
                view = view[n:]
                continue
            self._head += view
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                break
            head, rest = bytes(self._head[:end]), bytes(self._head[end + 4:])
            self._head.clear()
            method, path, length, kind, opaque = _parse_head(head)
            self.path = path
            self.answered = False
            started.append((method, path))
            self._upload = method == "PATCH" or (method == "POST" and kind in UPLOAD_TYPES)
            self._body_left, self._opaque = length, opaque
            view = memoryview(rest)
        return started, upload_bytes


def _parse_head(head: bytes) -> tuple[str, str, int, str, bool]:
    """(method, path, Content-Length, content type, whether the rest is not HTTP requests)."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    method, path = (parts[0], parts[1]) if len(parts) >= 2 else (lines[0], "")
    length, kind, opaque = 0, "", False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip()
        if name == "content-length" and value.isdigit():
            length = int(value)
        elif name == "content-type":
            kind = value.split(";")[0].strip().lower()
        elif (name == "transfer-encoding" and "chunked" in value.lower()) or name == "upgrade":
            opaque = True
    return method, path, length, kind, opaque


@dataclass
class Tally:
    """What went through the link since `reset`: bytes delivered down (to the browser) in
    total and per request path, the requests, and the first upload byte's moment with a
    snapshot of what had gone down by then."""

    started: float = field(default_factory=time.monotonic)
    down: int = 0
    up: int = 0
    down_by_path: dict[str, int] = field(default_factory=dict)
    requests: list[tuple[float, str, str]] = field(default_factory=list)
    first_upload_s: float | None = None
    down_before_upload: int | None = None
    down_before_upload_by_path: dict[str, int] | None = None
    # Paths answered 304 Not Modified (a revalidation: headers only, the cached file is used).
    not_modified: set[str] = field(default_factory=set)
    not_modified_before_upload: set[str] | None = None

    def as_dict(self) -> dict:
        return {
            "down_bytes": self.down, "up_bytes": self.up,
            "first_upload_s": self.first_upload_s,
            "down_before_upload": self.down_before_upload,
            "down_before_upload_by_path": self.down_before_upload_by_path,
            "not_modified": sorted(self.not_modified),
            "not_modified_before_upload": (None if self.not_modified_before_upload is None
                                           else sorted(self.not_modified_before_upload)),
            "down_by_path": dict(self.down_by_path),
            "requests": [[round(t, 3), method, path] for t, method, path in self.requests],
        }


class ShapingProxy:
    """The reverse proxy: listens on 127.0.0.1 (a free port), relays to `target_port` on
    127.0.0.1 through the shaped link. Runs its own event loop in a daemon thread (`start`,
    `stop`); `profile` None relays unshaped. `reset()` starts a new tally; `drop()` closes every
    open connection (a new visit opens new ones and pays their handshakes again)."""

    def __init__(self, target_port: int, profile: Profile | None = None,
                 target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.tally = Tally()
        self._profile = profile
        self._down: Direction | None = None
        self._up: Direction | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task] = set()
        self._links_made = False

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- running in a thread, for the synchronous bench -----------------------------------------
    def start(self) -> ShapingProxy:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self.open())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="shaping-proxy", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the shaping proxy did not start")
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self.close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(10)
        self._loop.close()
        self._loop = None

    def _call(self, fn: Callable[[], object]) -> None:
        """Run `fn` on the proxy's loop (or here when none runs yet) and wait for it."""
        if self._loop is None:
            fn()
            return

        async def call() -> None:
            fn()

        asyncio.run_coroutine_threadsafe(call(), self._loop).result(10)

    def set_profile(self, profile: Profile | None) -> None:
        def apply() -> None:
            self._profile = profile
            self._links_made = False

        self._call(apply)

    def reset(self) -> None:
        def apply() -> None:
            self.tally = Tally()

        self._call(apply)

    def snapshot(self) -> dict:
        out: dict = {}
        self._call(lambda: out.update(self.tally.as_dict()))
        return out

    def drop(self) -> None:
        def apply() -> None:
            for writer in list(self._writers):
                writer.close()

        self._call(apply)

    # --- asyncio ----------------------------------------------------------------------------------
    async def open(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            for task in list(self._handlers):
                task.cancel()
            await asyncio.gather(*self._handlers, return_exceptions=True)
            await self._server.wait_closed()

    def _links(self) -> tuple[Direction | None, Direction | None]:
        """The buckets, made in the proxy's loop (asyncio.Lock binds to it) when first used."""
        if not self._links_made:
            p = self._profile
            self._down = Direction(TokenBucket(p.down_bps / 8), p.rtt_s / 2) if p else None
            self._up = Direction(TokenBucket(p.up_bps / 8), p.rtt_s / 2) if p else None
            self._links_made = True
        return self._down, self._up

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        down, up = self._links()
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        self._writers.add(client_w)
        server_w = None
        pumps: list[asyncio.Future] = []
        try:
            if self._profile:  # the handshake's round trip before the first byte can go
                await asyncio.sleep(self._profile.rtt_s)
            server_r, server_w = await asyncio.open_connection(*self.target)
            self._writers.add(server_w)
            heads = RequestHeads()
            pumps = [asyncio.ensure_future(self._pump(client_r, server_w, up, heads, upward=True)),
                     asyncio.ensure_future(self._pump(server_r, client_w, down, heads,
                                                      upward=False))]
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        except (OSError, asyncio.CancelledError):
            pass  # cancelled when the proxy closes: end quietly (3.11 logs a cancelled handler)
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            for writer in (client_w, server_w):
                if writer is not None:
                    self._writers.discard(writer)
                    writer.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    way: Direction | None, heads: RequestHeads, *, upward: bool) -> None:
        """Relay one direction: read, wait for the bucket, deliver after the delay, in order."""
        loop = asyncio.get_running_loop()
        line: asyncio.Queue = asyncio.Queue()
        deliver = asyncio.ensure_future(self._deliver(line, writer, heads, upward=upward))
        try:
            while not deliver.done():  # a delivery that failed ends this direction
                try:
                    data = await reader.read(CHUNK)
                except OSError:
                    break
                if not data:
                    break
                if upward:
                    self._note_up(heads, data)
                if way is not None:
                    await way.bucket.take(len(data))
                line.put_nowait((loop.time() + (way.delay_s if way else 0.0), data))
        finally:
            line.put_nowait(None)
            try:
                await deliver  # what is on the line still arrives, then this direction ends
            except asyncio.CancelledError:
                deliver.cancel()
                raise
            except OSError:
                pass

    def _note_up(self, heads: RequestHeads, data: bytes) -> None:
        tally = self.tally
        tally.up += len(data)
        started, upload_bytes = heads.feed(data)
        now = time.monotonic() - tally.started
        tally.requests += [(now, method, path) for method, path in started]
        if upload_bytes and tally.first_upload_s is None:
            tally.first_upload_s = now
            tally.down_before_upload = tally.down
            tally.down_before_upload_by_path = dict(tally.down_by_path)
            tally.not_modified_before_upload = set(tally.not_modified)

    async def _deliver(self, line: asyncio.Queue, writer: asyncio.StreamWriter,
                       heads: RequestHeads, *, upward: bool) -> None:
        loop = asyncio.get_running_loop()
        while (item := await line.get()) is not None:
            due, data = item
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
            if not upward:
                tally = self.tally
                tally.down += len(data)
                path = heads.path.split("?")[0]
                tally.down_by_path[path] = tally.down_by_path.get(path, 0) + len(data)
                if not heads.answered:  # the status line of its answer (no pipelining)
                    heads.answered = True
                    if data[9:12] == b"304":
                        tally.not_modified.add(path)
