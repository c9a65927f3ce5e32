"""Runtime settings of the reference backend.

Every limit lives here as an explicit field so tests (and operators) can change it without
monkeypatching module constants.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

TUS_VERSION = "1.0.0"


def _env_int(name: str, default: int) -> int:
    return int(_env_number(name, default, int, "an integer"))


def _env_float(name: str, default: float) -> float:
    return _env_number(name, default, float, "a number")


def _env_number(name: str, default: float, cast: type, what: str) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return cast(raw)  # type: ignore[no-any-return]
    except ValueError:
        raise ValueError(f"{name} must be {what}, got {raw!r}") from None


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    max_attachment_bytes: int = 10 * 1024 * 1024
    demo: bool = False
    public_origin: str = "http://127.0.0.1:8000"
    upload_expiry_seconds: int = 24 * 3600
    max_json_bytes: int = 64 * 1024
    long_poll_max_seconds: int = 25
    # Token bucket per authenticated token (per client address when unauthenticated).
    # Generous on purpose: a page load, a long poll and a chunked upload stay far below it.
    rate_limit_enabled: bool = True
    rate_limit_per_second: float = 20.0
    rate_limit_burst: int = 100
    # An upload reserves up to max_attachment_bytes of disk; cap how many each role of a visit
    # keeps open (per role, so that neither side's open uploads can block the other's).
    max_open_uploads_per_role: int = 20
    # How often the expired-upload sweep runs while the server is up.
    cleanup_interval_seconds: int = 600
    # At most this many messages in one GET .../messages answer (the cursor pages the rest).
    max_messages_per_page: int = 500
    # Images are decoded at finalisation (server.images). Pillow's default limit: a decoded
    # picture this large takes ~270 MB, so only a few decodes run at the same time.
    max_image_pixels: int = 89_478_485
    max_concurrent_image_checks: int = 2
    # Slow or stalled clients (slow loris), enforced by `python -m server` (server.__main__):
    # a connection must complete a request head within this many seconds of opening (or of
    # its previous answer), and a request body may pause at most body_read_timeout_seconds
    # (then 408 and the connection is closed; a tus PATCH keeps the bytes that arrived).
    # 0 turns either off.
    request_head_timeout_seconds: int = 20
    body_read_timeout_seconds: int = 30
    # Stateless nodes: with a PostgreSQL URL (postgresql://USER@HOST:PORT/DB) every piece of
    # state lives there and data_dir is not used; None keeps SQLite plus files in data_dir.
    database_url: str | None = None
    # Connections each node keeps to PostgreSQL for queries (locks and LISTEN have their own).
    db_pool_size: int = 10
    # Upload writes (PATCH, finalisation, DELETE) one node runs at the same time; on PostgreSQL
    # each holds a connection of the lock pool, of this size. One role of a visit holds at most
    # max_upload_writers_per_role of them (more: 429 too_many_upload_writes), so one visit
    # takes at most twice that share and never the whole pool.
    max_upload_writers: int = 40
    max_upload_writers_per_role: int = 4
    # Slow senders (a trickle keeps the upload's lock and its pool connection): a tus PATCH
    # must bring at least upload_min_bytes_per_second, counted over each window of
    # upload_rate_window_seconds, and may hold its upload for at most upload_patch_max_seconds.
    # Past either it is cut with 408 upload_too_slow; the bytes that arrived are kept (unless
    # the PATCH carries Upload-Checksum), so the client resumes from the offset reached.
    # 0 turns either off.
    upload_min_bytes_per_second: int = 1024
    upload_rate_window_seconds: float = 20.0
    upload_patch_max_seconds: float = 600.0
    # Disk: what one visit may hold (its attachments plus the declared lengths of its open
    # uploads; 413 visit_quota_exceeded past it), and the free space that must stay on the
    # data directory's file system (507 insufficient_storage below it). README gives reasons.
    max_visit_bytes: int = 200 * 1024 * 1024
    min_free_bytes: int = 512 * 1024 * 1024
    # Links answer 410 link_expired this many days after the visit ended, and the visit's files
    # are deleted then (by the cleanup sweep). 0 or less: links never expire.
    link_ttl_days: float = 14.0
    # Long polls one token may hold at the same time (more: 429 too_many_long_polls at once).
    max_long_polls_per_token: int = 4
    # Failed token attempts against one visit id, whatever address they come from: a bucket
    # of this many, refilled at this rate (the per-address bucket applies as well).
    failed_auth_per_visit_burst: int = 20
    failed_auth_per_visit_per_second: float = 0.2
    # Demo mode (anonymous POST /api/visits) on a non-loopback HOST needs BIFOGA_DEMO_PUBLIC=1.
    demo_public: bool = False

    @classmethod
    def from_env(cls) -> Settings:
        host = os.environ.get("HOST", "127.0.0.1")
        port = _env_int("PORT", 8000)
        origin = os.environ.get("BIFOGA_PUBLIC_ORIGIN") or f"http://{host}:{port}"
        numbers = {field: read(name, getattr(cls, field)) for field, name, read in _NUMBERS}
        return cls(
            data_dir=Path(os.environ.get("DATA_DIR", "./data")),
            demo=os.environ.get("BIFOGA_DEMO", "") == "1",
            public_origin=origin.rstrip("/"),
            database_url=os.environ.get("DATABASE_URL", "").strip() or None,
            demo_public=os.environ.get("BIFOGA_DEMO_PUBLIC", "") == "1",
            **numbers,
        )


# The number settings an environment variable sets: (field, variable, reader); the field's
# default applies when the variable is unset or empty.
_NUMBERS = (
    ("max_attachment_bytes", "BIFOGA_MAX_BYTES", _env_int),
    # BIFOGA_RATE_LIMIT_PER_SECOND=0 turns rate limiting off.
    ("rate_limit_per_second", "BIFOGA_RATE_LIMIT_PER_SECOND", _env_int),
    ("rate_limit_burst", "BIFOGA_RATE_LIMIT_BURST", _env_int),
    ("upload_expiry_seconds", "BIFOGA_UPLOAD_EXPIRY_SECONDS", _env_int),
    ("cleanup_interval_seconds", "BIFOGA_CLEANUP_INTERVAL_SECONDS", _env_int),
    ("request_head_timeout_seconds", "BIFOGA_REQUEST_HEAD_TIMEOUT", _env_int),
    ("body_read_timeout_seconds", "BIFOGA_BODY_READ_TIMEOUT", _env_int),
    ("db_pool_size", "BIFOGA_DB_POOL_SIZE", _env_int),
    ("max_upload_writers", "BIFOGA_UPLOAD_WRITERS", _env_int),
    ("max_upload_writers_per_role", "BIFOGA_UPLOAD_WRITERS_PER_ROLE", _env_int),
    ("upload_min_bytes_per_second", "BIFOGA_UPLOAD_MIN_BYTES_PER_SECOND", _env_int),
    ("upload_rate_window_seconds", "BIFOGA_UPLOAD_RATE_WINDOW", _env_float),
    ("upload_patch_max_seconds", "BIFOGA_UPLOAD_PATCH_MAX_SECONDS", _env_float),
    ("max_open_uploads_per_role", "BIFOGA_OPEN_UPLOADS_PER_ROLE", _env_int),
    ("max_visit_bytes", "BIFOGA_VISIT_MAX_BYTES", _env_int),
    ("min_free_bytes", "BIFOGA_MIN_FREE_BYTES", _env_int),
    ("link_ttl_days", "BIFOGA_LINK_TTL_DAYS", _env_float),
)
