"""What the route modules share: the per-app context, auth, JSON bodies, query parsing."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from server.config import Settings
from server.errors import (
    ApiError,
    BadRequest,
    InsufficientStorage,
    LinkExpired,
    Locked,
    NotFound,
    TooLarge,
    TooManyRequests,
    TooManyUploadWrites,
    Unauthorized,
)
from server.live import RateLimiter, VisitNotifier
from server.storage import Storage, UploadBusy, Visit, hash_token

log = logging.getLogger("bifoga.server")

T = TypeVar("T")
# Longer than any token we issue (43 chars); refuse before hashing megabytes of header.
_MAX_TOKEN_CHARS = 256


@dataclass
class AppContext:
    settings: Settings
    storage: Storage
    notifier: VisitNotifier
    limiter: RateLimiter
    # Guards _long_polls (long_poll_slot) and _upload_writers (upload_lock).
    _busy_lock: threading.Lock = field(default_factory=threading.Lock)
    # Bounds the memory of image decoding at finalisation (see server.images). Checks heavier
    # than images.HEAVY_DECODE_WEIGHT take the heavy lane, one at a time, so that a slow one
    # never holds up an ordinary photo (image_check_lane).
    image_checks: asyncio.Semaphore = field(init=False)
    heavy_image_checks: asyncio.Semaphore = field(init=False)
    # Failed token attempts per visit id, whichever address they come from.
    auth_failures: RateLimiter = field(init=False)
    # Long polls held per token (visit id and role), see long_poll_slot.
    _long_polls: dict[str, int] = field(default_factory=dict)
    # Upload writes in progress on this node per token (visit id and role), see upload_lock.
    _upload_writers: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        s = self.settings
        self.image_checks = asyncio.Semaphore(s.max_concurrent_image_checks)
        self.heavy_image_checks = asyncio.Semaphore(1)
        self.auth_failures = RateLimiter(s.failed_auth_per_visit_per_second,
                                         s.failed_auth_per_visit_burst, s.rate_limit_enabled)

    @contextmanager
    def _counted(self, counts: dict[str, int], key: str, limit: int,
                 refusal: Callable[[], ApiError]) -> Iterator[None]:
        """Hold one of `limit` places under `key` of `counts`; `refusal()` is raised when all
        are taken."""
        with self._busy_lock:
            held = counts.get(key, 0)
            if held >= limit:
                raise refusal()
            counts[key] = held + 1
        try:
            yield
        finally:
            with self._busy_lock:
                left = counts[key] - 1
                if left:
                    counts[key] = left
                else:
                    del counts[key]

    def long_poll_slot(self, visit_id: str, role: str) -> AbstractContextManager[None]:
        """At most max_long_polls_per_token held at once per token; one more is answered 429
        at once (a held poll costs a connection and a wake-up query per message)."""
        return self._counted(
            self._long_polls, f"{visit_id}:{role}", self.settings.max_long_polls_per_token,
            lambda: TooManyRequests("Too many long polls held by this link at once.",
                                    code="too_many_long_polls", headers={"Retry-After": "1"}))

    @asynccontextmanager
    async def upload_lock(self, upload_id: str, visit_id: str, role: str
                          ) -> AsyncIterator[None]:
        """One writer per upload (tus requires it), across all nodes of the storage; a second
        one gets 423 and retries. One role of a visit runs at most max_upload_writers_per_role
        writes at once on this node (429 too_many_upload_writes past it), so a visit never
        holds more than its share of the upload locks (on PostgreSQL: of the lock pool)."""
        async with AsyncExitStack() as stack:
            stack.enter_context(self._counted(
                self._upload_writers, f"{visit_id}:{role}",
                self.settings.max_upload_writers_per_role, TooManyUploadWrites))
            try:
                await stack.enter_async_context(self.storage.lock_upload(upload_id))
            except UploadBusy:
                raise Locked() from None
            yield


async def require_free_space(ctx: AppContext, needed: int) -> None:
    """507 insufficient_storage unless `needed` bytes can be written and min_free_bytes still
    stay free: refused while SQLite and the file system still have room, not when they fail.
    A storage with no local disk (PostgreSQL) has no floor here: the database's own disk is
    its operator's to watch (README, "Running several nodes")."""
    free = await ctx.storage.free_bytes()
    if free is not None and free - needed < ctx.settings.min_free_bytes:
        raise InsufficientStorage()


def ctx_of(request: Request) -> AppContext:
    return request.app.state.ctx  # type: ignore[no-any-return]


async def db(fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking call off the event loop."""
    return await run_in_threadpool(fn, *args)


def link_expiry_cutoff(settings: Settings, now: datetime | None = None) -> str | None:
    """Visits that ended before this instant (ISO, as the storage writes ended_at) have expired
    links; None when links never expire."""
    if settings.link_ttl_days <= 0:
        return None
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=settings.link_ttl_days)
    return cutoff.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def link_expired(settings: Settings, visit: Visit) -> bool:
    cutoff = link_expiry_cutoff(settings)
    return cutoff is not None and visit.ended_at is not None and visit.ended_at < cutoff


async def purge_expired_visits(ctx: AppContext) -> int:
    """Delete the files of every visit whose links have expired (the sweep runs it). Returns
    how many visits were purged."""
    cutoff = link_expiry_cutoff(ctx.settings)
    if cutoff is None:
        return 0
    visit_ids = await ctx.storage.expired_visits(cutoff)
    for visit_id in visit_ids:
        files = await ctx.storage.purge_visit_files(visit_id)
        log.warning("visit %s: links expired (%s days after the end), %d files deleted",
                    visit_id, ctx.settings.link_ttl_days, files)
    return len(visit_ids)


def client_key(request: Request) -> str:
    return "ip:" + (request.client.host if request.client else "unknown")


def rate_limit(request: Request, key: str | None = None) -> None:
    if not ctx_of(request).limiter.allow(key or client_key(request)):
        raise TooManyRequests(headers={"Retry-After": "1"})


def _failed_attempt(request: Request, visit_id: str) -> None:
    """Charge a failed token attempt to the caller's address and to the visit id: guesses
    spread over many addresses (or hidden behind one proxy) are still limited per visit.
    Right tokens are never charged here, so guessing cannot lock a visit's own users out."""
    rate_limit(request)
    if not ctx_of(request).auth_failures.allow("visit:" + visit_id[:64]):
        raise TooManyRequests("Too many failed attempts for this visit.",
                              headers={"Retry-After": "5"})


async def authenticate(request: Request, visit_id: str) -> tuple[Visit, str]:
    """Return (visit, role) for the bearer token, or raise 401/404 as the contract says."""
    ctx = ctx_of(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > _MAX_TOKEN_CHARS:
        _failed_attempt(request, visit_id)
        raise Unauthorized()
    token_hash = hash_token(token)
    visit = await ctx.storage.get_visit(visit_id)
    role: str | None = None
    if visit is not None:
        # Both comparisons always run and are constant-time: timing tells nothing about
        # how much of a guessed token was right, nor which role it would have been.
        is_patient = hmac.compare_digest(token_hash, visit.patient_token_hash)
        is_clinician = hmac.compare_digest(token_hash, visit.clinician_token_hash)
        role = "patient" if is_patient else "clinician" if is_clinician else None
    if visit is None or role is None:
        _failed_attempt(request, visit_id)
        if await ctx.storage.token_hash_exists(token_hash):
            # A real token of another visit: answer as if this visit did not exist.
            raise NotFound()
        raise Unauthorized()
    rate_limit(request, f"visit:{visit.id}:{role}")
    if link_expired(ctx.settings, visit):
        raise LinkExpired()
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


def query_number(request: Request, name: str, default: int, maximum: int | None = None) -> int:
    """A non-negative integer query parameter: decimal digits only, as openapi.yaml's `integer`
    (no sign, point, exponent or spaces). Above `maximum` is 400; without one, any size."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit():
        raise BadRequest(f"Query parameter {name} must be a whole number >= 0.",
                         code="bad_query")
    digits = raw.lstrip("0") or "0"
    # Past every limit; int() of thousands of digits is slow (and refused by Python).
    value = int(digits) if len(digits) <= 19 else 10**19
    if maximum is not None and value > maximum:
        raise BadRequest(f"Query parameter {name} must be at most {maximum}.", code="bad_query")
    return value


def error_body(exc: ApiError) -> dict[str, str]:
    return {"error": exc.code, "message": exc.message}
