"""What the route modules share: the per-app context, auth, JSON bodies, query parsing."""

from __future__ import annotations

import asyncio
import hmac
import json
import math
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from server.config import Settings
from server.errors import (
    ApiError,
    BadRequest,
    Locked,
    NotFound,
    TooLarge,
    TooManyRequests,
    Unauthorized,
)
from server.live import RateLimiter, VisitNotifier
from server.storage import Storage, UploadBusy
from server.store import Visit, hash_token

T = TypeVar("T")
# Longer than any token we issue (43 chars); refuse before hashing megabytes of header.
_MAX_TOKEN_CHARS = 256


@dataclass
class AppContext:
    settings: Settings
    store: Storage
    notifier: VisitNotifier
    limiter: RateLimiter
    # Bounds the memory of image decoding at finalisation (see server.images).
    image_checks: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self.image_checks = asyncio.Semaphore(self.settings.max_concurrent_image_checks)

    @asynccontextmanager
    async def upload_lock(self, upload_id: str) -> AsyncIterator[None]:
        """One writer per upload (tus requires it), across all nodes of the storage; a second
        one gets 423 and retries."""
        async with AsyncExitStack() as stack:
            try:
                await stack.enter_async_context(self.store.lock_upload(upload_id))
            except UploadBusy:
                raise Locked() from None
            yield


def ctx_of(request: Request) -> AppContext:
    return request.app.state.ctx  # type: ignore[no-any-return]


async def db(fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking call off the event loop."""
    return await run_in_threadpool(fn, *args)


def client_key(request: Request) -> str:
    return "ip:" + (request.client.host if request.client else "unknown")


def rate_limit(request: Request, key: str | None = None) -> None:
    if not ctx_of(request).limiter.allow(key or client_key(request)):
        raise TooManyRequests(headers={"Retry-After": "1"})


async def authenticate(request: Request, visit_id: str) -> tuple[Visit, str]:
    """Return (visit, role) for the bearer token, or raise 401/404 as the contract says."""
    ctx = ctx_of(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > _MAX_TOKEN_CHARS:
        rate_limit(request)
        raise Unauthorized()
    token_hash = hash_token(token)
    visit = await ctx.store.get_visit(visit_id)
    role: str | None = None
    if visit is not None:
        # Both comparisons always run and are constant-time: timing tells nothing about
        # how much of a guessed token was right, nor which role it would have been.
        is_patient = hmac.compare_digest(token_hash, visit.patient_token_hash)
        is_clinician = hmac.compare_digest(token_hash, visit.clinician_token_hash)
        role = "patient" if is_patient else "clinician" if is_clinician else None
    if visit is None or role is None:
        rate_limit(request)
        if await ctx.store.token_hash_exists(token_hash):
            # A real token of another visit: answer as if this visit did not exist.
            raise NotFound()
        raise Unauthorized()
    rate_limit(request, f"visit:{visit.id}:{role}")
    return visit, role


async def read_json_object(request: Request) -> dict[str, Any]:
    """Read a JSON object body of at most settings.max_json_bytes (413 / 400 otherwise)."""
    limit = ctx_of(request).settings.max_json_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"JSON bodies are limited to {limit} bytes.", code="body_too_large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"JSON bodies are limited to {limit} bytes.", code="body_too_large")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise BadRequest("The body is not valid JSON.", code="bad_json") from None
    if not isinstance(value, dict):
        raise BadRequest("The body must be a JSON object.", code="bad_json")
    return value


def require_str(body: dict[str, Any], name: str) -> str:
    if name not in body or body[name] is None:
        raise BadRequest(f"Missing field: {name}.", code="missing_field")
    return optional_str(body, name) or ""


def optional_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"Field {name} must be a string.", code="invalid_field")
    return value


def query_number(request: Request, name: str, default: int, *, integer: bool) -> float:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        raise BadRequest(f"Query parameter {name} must be a number.", code="bad_query") from None
    # The upper bound keeps values inside SQLite's 64-bit integers.
    if value < 0 or not math.isfinite(value) or value > 2**62:
        raise BadRequest(f"Query parameter {name} must be >= 0.", code="bad_query")
    return value


def error_body(exc: ApiError) -> dict[str, str]:
    return {"error": exc.code, "message": exc.message}
