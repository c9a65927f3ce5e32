"""`python -m server`: run the reference backend with uvicorn.

Environment: HOST (127.0.0.1), PORT (8000), DATA_DIR (./data), BIFOGA_MAX_BYTES,
BIFOGA_DEMO=1 (demo mode: prints a fresh visit's two links), BIFOGA_PUBLIC_ORIGIN,
BIFOGA_RATE_LIMIT_PER_SECOND (20; 0 turns it off), BIFOGA_RATE_LIMIT_BURST (100),
BIFOGA_UPLOAD_EXPIRY_SECONDS (86400), BIFOGA_CLEANUP_INTERVAL_SECONDS (600),
BIFOGA_REQUEST_HEAD_TIMEOUT (20 s), BIFOGA_BODY_READ_TIMEOUT (30 s; 0 turns either timeout
off), BIFOGA_VISIT_MAX_BYTES, BIFOGA_MIN_FREE_BYTES, BIFOGA_LINK_TTL_DAYS, BIFOGA_DEMO_PUBLIC=1
(demo mode on a non-loopback HOST), FORWARDED_ALLOW_IPS (proxies whose X-Forwarded-For and
-Proto are believed; unset: none), DATABASE_URL (postgresql://USER@HOST:PORT/DB: a stateless
node, all state in PostgreSQL), BIFOGA_DB_POOL_SIZE (10), BIFOGA_OPEN_UPLOADS_PER_ROLE (20),
BIFOGA_UPLOAD_WRITERS (40), BIFOGA_UPLOAD_WRITERS_PER_ROLE (4),
BIFOGA_UPLOAD_MIN_BYTES_PER_SECOND (1024), BIFOGA_UPLOAD_RATE_WINDOW (20 s),
BIFOGA_UPLOAD_PATCH_MAX_SECONDS (600): see server/config.py, README.md
("Running several nodes") and docs/security.md.
"""

from __future__ import annotations

import asyncio
import copy
import ipaddress
import os
import sys
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG
from uvicorn.protocols.http.h11_impl import H11Protocol

from server.api import VisitLinks, create_visit_links
from server.app import create_app, open_storage
from server.config import Settings
from server.live import VisitNotifier
from server.middleware import BodyReadTimeoutMiddleware


class _Server(uvicorn.Server):
    """uvicorn's server, releasing held long polls as soon as a shutdown is asked for."""

    def __init__(self, config: uvicorn.Config, notifier: VisitNotifier) -> None:
        super().__init__(config)
        self.notifier = notifier

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self.notifier.close()


class HeadTimeoutH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, closing a connection that has not sent a complete request
    head within `head_timeout` seconds of opening or of its previous answer (slow loris: idle
    and trickling connections alike). uvicorn itself only times out idle keep-alive
    connections, and not once a byte of the next request has arrived. Request bodies are
    watched by server.middleware.BodyReadTimeoutMiddleware."""

    head_timeout: float = 20.0
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._arm_head_timer()

    def on_response_complete(self) -> None:
        self._arm_head_timer()  # the next request head has its own time
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        if self.head_timeout > 0:  # 0 (or less) turns the timeout off, as for bodies
            self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        busy = self.cycle is not None and not self.cycle.response_complete
        if not busy and not self.transport.is_closing():
            self.transport.close()  # a request in progress re-arms when it is answered


async def _demo_links(settings: Settings) -> VisitLinks:
    # Its own storage: the app's opens in uvicorn's event loop, this runs before it.
    storage = open_storage(settings)
    await storage.start()
    try:
        return await create_visit_links(storage, settings)
    finally:
        await storage.stop()
def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[] ")).is_loopback
    except ValueError:  # a name other than localhost may resolve anywhere
        return False


def demo_refusal(settings: Settings, host: str) -> str | None:
    """Why demo mode must not start on `host`, or None. Demo mode lets anyone make a visit
    (POST /api/visits) that looks genuine on the app's own origin."""
    if not settings.demo or settings.demo_public or is_loopback(host):
        return None
    return (f"Refusing to start: demo mode (BIFOGA_DEMO=1) lets anyone create visits, and "
            f"HOST={host} is not a loopback address. Use HOST=127.0.0.1, or set "
            "BIFOGA_DEMO_PUBLIC=1 if a public demo is really meant.")


def uvicorn_config(settings: Settings, app: Any, host: str, port: int,
                   **extra: Any) -> uvicorn.Config:
    # Forwarded headers only from the proxies named in FORWARDED_ALLOW_IPS (uvicorn's own
    # setting); unset, no address is trusted and the socket's peer is the client (uvicorn's
    # default would trust 127.0.0.1, where any local process could claim any address).
    trusted = os.environ.get("FORWARDED_ALLOW_IPS", "").strip()
    protocol = type("HeadTimeoutH11Protocol", (HeadTimeoutH11Protocol,),
                    {"head_timeout": float(settings.request_head_timeout_seconds)})
    return uvicorn.Config(
        BodyReadTimeoutMiddleware(app, settings.body_read_timeout_seconds),
        http=protocol,
        host=host,
        port=port,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        server_header=False,
        # An upload still streaming after this is cut; its stored offset stays resumable.
        timeout_graceful_shutdown=5,
        **extra,
    )


def main() -> None:
    settings = Settings.from_env()
    host = os.environ.get("HOST", "127.0.0.1")
    refusal = demo_refusal(settings, host)
    if refusal:
        print(refusal, file=sys.stderr)
        sys.exit(2)
    app = create_app(settings)
    if settings.demo:
        # Tokens are stored hashed, so old links can't be shown again: make a new visit.
        links = asyncio.run(_demo_links(settings))
        print(f"Patient:    {links.patient_url}")
        print(f"Clinician:  {links.clinician_url}", flush=True)
    else:
        print("Demo mode is off (BIFOGA_DEMO=1 turns it on and prints visit links).",
              file=sys.stderr)
    # Access logs to stderr, so stdout holds only the two links (scripts read them).
    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config["handlers"]["access"]["stream"] = "ext://sys.stderr"
    config = uvicorn_config(settings, app, host, int(os.environ.get("PORT", "8000")),
                            log_config=log_config)
    _Server(config, app.state.ctx.notifier).run()


if __name__ == "__main__":
    main()
