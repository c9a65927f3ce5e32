"""ASGI middleware: security headers, tus method override, gzip for the app files only, quiet
client disconnects, and a timeout for stalled request bodies."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import re
from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.config import TUS_VERSION


def inline_script_sources(index_html: Path) -> str:
    """CSP sources for index.html's inline scripts, each by its sha256: the shell's file keeper
    must run while the page is parsed, before any other byte arrives; no other inline script
    can run."""
    try:
        text = index_html.read_text(encoding="utf-8")
    except OSError:
        return ""
    return "".join(
        " 'sha256-%s'" % base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        for script in re.findall(r"<script>(.*?)</script>", text, re.S))


# One constant so it can be tightened in one place. PyScript (Pyodide) still needs
# 'unsafe-eval'; 'wasm-unsafe-eval' lets WebAssembly compile; blob: workers are PyScript's.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; "
    "script-src 'self'"
    + inline_script_sources(Path(__file__).resolve().parents[1] / "index.html")
    + " 'wasm-unsafe-eval' 'unsafe-eval'; "
    "worker-src 'self' blob:; "
    "connect-src 'self'; "
    "img-src 'self' blob: data:; "
    "media-src 'self' blob:; "
    "style-src 'self' 'unsafe-inline'; "
    "object-src 'none'; "
    "base-uri 'none'; "
    "frame-ancestors 'none'; "
    "form-action 'self'"
)
# Cross-origin isolation (COOP + COEP) gives the PyScript worker SharedArrayBuffer.
SECURITY_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_TUS_PATH = re.compile(r"^/api/visits/[^/]+/uploads(/[^/]+)?/?$")
log = logging.getLogger("bifoga.server")


class _HttpMiddleware:
    """An ASGI middleware of HTTP requests (http()); anything else (lifespan) passes through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class SecurityHeadersMiddleware(_HttpMiddleware):
    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        is_api = path.startswith("/api/") or path == "/api"
        is_tus = bool(_TUS_PATH.match(path))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                # A response may bring a stricter policy of its own (attachment bytes do).
                if "content-security-policy" not in headers:
                    headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
                if is_api:
                    headers["Cache-Control"] = "no-store"
                if is_tus:
                    headers["Tus-Resumable"] = TUS_VERSION
            await send(message)

        await self.app(scope, receive, send_with_headers)


class TusMethodOverrideMiddleware:
    """tus: X-HTTP-Method-Override on a POST must be taken as the request's method."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and _TUS_PATH.match(scope["path"]):
            for name, value in scope["headers"]:
                if name == b"x-http-method-override":
                    method = value.decode("latin-1").strip().upper()
                    if method in ("PATCH", "DELETE", "HEAD"):
                        scope = dict(scope, method=method)
                    break
        await self.app(scope, receive, send)


class StaticGZipMiddleware:
    """gzip the app and runtime files, never /api/.

    API answers carry attachment bytes (already compressed, or where compression must not
    change what was sniffed) and tokens (BREACH), so they are sent as they are.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=1024, compresslevel=6)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/api"):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class ClientDisconnectMiddleware(_HttpMiddleware):
    """End a request quietly when its client is gone: no traceback, no 500 in the log.

    Starlette raises ClientDisconnect when the client closes the connection while its body is
    read (an abandoned JSON request), when BodyReadTimeoutMiddleware gives up on a stalled
    body, and (ASGI 2.4 servers) when a streamed answer can no longer be sent. Nothing went
    wrong on the server and nobody is left to read an answer: before the answer started, a
    short 400 `client_disconnected` is sent (the server drops it; the timeout middleware sends
    its 408 instead), after that the request just ends. A tus PATCH handles the disconnect
    itself (it keeps the bytes that arrived) and never gets here.
    """

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ClientDisconnect:
            log.debug("client disconnected during %s %s", scope["method"], scope["path"])
            if not started:
                body = json.dumps({"error": "client_disconnected",
                                   "message": "The client closed the connection."}).encode()
                await send({"type": "http.response.start", "status": 400, "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body, "more_body": False})


class BodyReadTimeoutMiddleware:
    """408 and a closed connection when a request body stalls for `timeout` seconds.

    A slow-loris client (or a half-open connection) would otherwise hold a request, and for a
    tus PATCH the upload's lock, for ever. Only waits for body bytes count; once the body is
    complete, receive() is passed through untouched (long polls and downloads are not timed).
    The application sees the stall as a client disconnect, so a PATCH keeps the bytes that
    arrived and releases the upload; whatever it answers is replaced by the 408. Installed by
    `python -m server` (server/__main__.py) with settings.body_read_timeout_seconds.
    """

    def __init__(self, app: ASGIApp, timeout: float) -> None:
        self.app = app
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.timeout <= 0:
            await self.app(scope, receive, send)
            return
        body_done = timed_out = started = replaced = False

        async def timed_receive() -> Message:
            nonlocal body_done, timed_out
            if timed_out:
                return {"type": "http.disconnect"}
            if body_done:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.timeout)
            except TimeoutError:
                timed_out = True
                return {"type": "http.disconnect"}
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started, replaced
            if replaced:
                return  # the rest of the application's own answer
            if timed_out and not started:
                started = replaced = True
                await self._send_408(send)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, timed_receive, guarded_send)
        except Exception:
            if not timed_out:
                raise
            # The application gave up on the stalled body (ClientDisconnect): answered below.
        if timed_out and not started:
            await self._send_408(send)

    @staticmethod
    async def _send_408(send: Send) -> None:
        body = json.dumps({"error": "request_timeout",
                           "message": "The request body stalled."}).encode()
        headers = {**SECURITY_HEADERS, "Content-Security-Policy": CONTENT_SECURITY_POLICY,
                   "Cache-Control": "no-store", "Content-Type": "application/json",
                   "Content-Length": str(len(body)), "Connection": "close"}
        await send({"type": "http.response.start", "status": 408,
                    "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]})
        await send({"type": "http.response.body", "body": body, "more_body": False})
