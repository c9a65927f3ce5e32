"""create_app(): the Starlette application of the Bifoga reference backend."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route

from server import api, filing, static, tus
from server.common import AppContext, error_body, purge_expired_visits
from server.config import Settings
from server.errors import (  # re-exported: callers import the error classes from here
    ApiError,
    BadRequest,
    Forbidden,
    NotAllowedType,
    NotFound,
    TooLarge,
    Unauthorized,
    VisitEnded,
)
from server.inspection import bounded as inspection_helpers
from server.inspection import location
from server.live import RateLimiter, VisitNotifier
from server.middleware import (
    ClientDisconnectMiddleware,
    SecurityHeadersMiddleware,
    StaticGZipMiddleware,
    TusMethodOverrideMiddleware,
)
from server.sqlite_storage import SqliteStorage
from server.storage import Storage

__all__ = [
    "ApiError", "BadRequest", "Forbidden", "NotAllowedType", "NotFound", "TooLarge",
    "Unauthorized", "VisitEnded", "create_app",
]

log = logging.getLogger("bifoga.server")
REPO_ROOT = Path(__file__).resolve().parent.parent
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}


async def api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse(error_body(exc), status_code=exc.status, headers=exc.headers)


def allowed_methods(request: Request) -> str:
    """Every method some route takes on this path. Starlette's own 405 names only the methods
    of the first route that matched the path, and a path can have one route per method."""
    scope = dict(request.scope, method="")  # no method: any route of this path matches PARTIAL
    methods = {m for route in request.app.routes if isinstance(route, Route)
               and route.matches(scope)[0] != Match.NONE for m in route.methods or ()}
    return ", ".join(sorted(methods))


async def http_error_handler(request: Request, exc: Exception) -> Response:
    # Starlette's own 404/405 (no route, wrong method) in the same JSON shape as ours.
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = allowed_methods(request)
    # A 404 reads the same whether a route or a handler found nothing.
    message = NotFound.message if exc.status_code == 404 else str(exc.detail)
    return JSONResponse({"error": code, "message": message},
                        status_code=exc.status_code, headers=headers)


async def internal_error_handler(request: Request, exc: Exception) -> Response:
    # Never a trace to the client; the log has it.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"error": "internal_error", "message": "Something went wrong."},
                        status_code=500)


async def _cleanup_loop(ctx: AppContext) -> None:
    while True:
        await asyncio.sleep(ctx.settings.cleanup_interval_seconds)
        try:
            await ctx.storage.delete_expired_uploads()
            await purge_expired_visits(ctx)
        except Exception:  # keep sweeping later; a failed sweep must not stop the server
            log.exception("upload cleanup failed")


def open_storage(settings: Settings) -> Storage:
    """PgStorage when settings.database_url is set, else SqliteStorage in data_dir."""
    if settings.database_url:
        from server.pg_storage import PgStorage  # psycopg only where it is used

        return PgStorage(settings.database_url, pool_size=settings.db_pool_size,
                         lock_pool_size=settings.max_upload_writers)
    return SqliteStorage(settings.data_dir)


def create_app(settings: Settings, app_dir: Path | None = None) -> Starlette:
    """Build the app. `app_dir` holds index.html etc. (default: the repository root)."""
    ctx = AppContext(
        settings=settings,
        storage=open_storage(settings),
        notifier=VisitNotifier(),
        limiter=RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst,
                            settings.rate_limit_enabled),
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await ctx.storage.start(ctx.notifier)
        inspection_helpers.warm()  # the document checks' processes start importing now
        location.pool().warm()  # and ExifTool, for the first picture's check
        await ctx.storage.delete_expired_uploads()
        await purge_expired_visits(ctx)
        if settings.demo and await ctx.storage.count_visits() == 0:
            links = await api.create_visit_links(ctx.storage, settings)
            app.state.demo_links = links
            log.warning("demo visit: patient %s clinician %s", links.patient_url,
                        links.clinician_url)
        task = asyncio.create_task(_cleanup_loop(ctx))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await ctx.storage.stop()

    app = Starlette(
        routes=[*api.routes, *filing.routes, *tus.routes, *static.routes(app_dir or REPO_ROOT)],
        middleware=[
            Middleware(SecurityHeadersMiddleware),
            Middleware(TusMethodOverrideMiddleware),
            Middleware(StaticGZipMiddleware),
            # Innermost, so that its quiet answer still gets the headers above.
            Middleware(ClientDisconnectMiddleware),
        ],
        exception_handlers={
            ApiError: api_error_handler,
            HTTPException: http_error_handler,
            Exception: internal_error_handler,
        },
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.state.demo_links = None
    return app
