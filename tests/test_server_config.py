"""Settings.from_env and GET /api/config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bifoga.media.limits import ACCEPT_ATTRIBUTE, ALLOWED_MIME_TYPES
from server.config import Settings


def test_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATA_DIR", "BIFOGA_MAX_BYTES", "BIFOGA_DEMO", "HOST", "PORT",
                 "BIFOGA_PUBLIC_ORIGIN"):
        monkeypatch.delenv(name, raising=False)
    s = Settings.from_env()
    assert s.data_dir == Path("./data")
    assert s.max_attachment_bytes == 10 * 1024 * 1024 == 10_485_760
    assert s.demo is False
    assert s.public_origin == "http://127.0.0.1:8000"
    assert s.upload_expiry_seconds == 24 * 3600
    assert s.max_json_bytes == 64 * 1024
    assert s.long_poll_max_seconds == 25
    assert s.rate_limit_enabled


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BIFOGA_MAX_BYTES", "1234")
    monkeypatch.setenv("BIFOGA_DEMO", "1")
    monkeypatch.setenv("HOST", "0.0.0.0")
    monkeypatch.setenv("PORT", "9000")
    monkeypatch.delenv("BIFOGA_PUBLIC_ORIGIN", raising=False)
    s = Settings.from_env()
    assert (s.data_dir, s.max_attachment_bytes, s.demo) == (tmp_path, 1234, True)
    assert s.public_origin == "http://0.0.0.0:9000"
    monkeypatch.setenv("BIFOGA_PUBLIC_ORIGIN", "https://bifoga.example/")
    assert Settings.from_env().public_origin == "https://bifoga.example"


def test_hardening_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BIFOGA_VISIT_MAX_BYTES", "BIFOGA_MIN_FREE_BYTES", "BIFOGA_LINK_TTL_DAYS",
                 "BIFOGA_DEMO_PUBLIC"):
        monkeypatch.delenv(name, raising=False)
    s = Settings.from_env()
    assert (s.max_visit_bytes, s.min_free_bytes, s.link_ttl_days, s.demo_public) == (
        200 * 1024 * 1024, 512 * 1024 * 1024, 14.0, False)
    monkeypatch.setenv("BIFOGA_VISIT_MAX_BYTES", "1000")
    monkeypatch.setenv("BIFOGA_MIN_FREE_BYTES", "0")
    monkeypatch.setenv("BIFOGA_LINK_TTL_DAYS", "0.5")
    monkeypatch.setenv("BIFOGA_DEMO_PUBLIC", "1")
    s = Settings.from_env()
    assert (s.max_visit_bytes, s.min_free_bytes, s.link_ttl_days, s.demo_public) == (
        1000, 0, 0.5, True)
    monkeypatch.setenv("BIFOGA_LINK_TTL_DAYS", "two weeks")
    with pytest.raises(ValueError, match="BIFOGA_LINK_TTL_DAYS must be a number"):
        Settings.from_env()


def test_settings_bad_int(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIFOGA_MAX_BYTES", "ten")
    with pytest.raises(ValueError, match="BIFOGA_MAX_BYTES"):
        Settings.from_env()


def test_settings_frozen(server_settings: Settings) -> None:
    with pytest.raises(AttributeError):
        server_settings.demo = False  # type: ignore[misc]


def test_api_config(server_client: Any) -> None:
    r = server_client.get("/api/config")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    assert r.json() == {
        "max_attachment_bytes": 10_485_760,
        "allowed_mime_types": list(ALLOWED_MIME_TYPES),
        "accept": ACCEPT_ATTRIBUTE,
        "upload_endpoint_template": "/api/visits/{visit_id}/uploads",
        "tus_version": "1.0.0",
    }
    assert not any(m.startswith("audio/") for m in r.json()["allowed_mime_types"])


def test_api_config_follows_settings(make_server_client: Any) -> None:
    client = make_server_client(max_attachment_bytes=5000)
    assert client.get("/api/config").json()["max_attachment_bytes"] == 5000
    options = client.options("/api/visits/x/uploads")
    assert options.headers["tus-max-size"] == "5000"


def test_database_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from server.app import open_storage
    from server.sqlite_storage import SqliteStorage

    for name in ("DATABASE_URL", "BIFOGA_DB_POOL_SIZE"):
        monkeypatch.delenv(name, raising=False)
    s = Settings.from_env()
    assert (s.database_url, s.db_pool_size) == (None, 10)
    monkeypatch.setenv("DATABASE_URL", " postgresql://bifoga@db.internal:5432/bifoga ")
    monkeypatch.setenv("BIFOGA_DB_POOL_SIZE", "25")
    s = Settings.from_env()
    assert (s.database_url, s.db_pool_size) == ("postgresql://bifoga@db.internal:5432/bifoga", 25)
    # Nothing connects before start(): a node can be built without the database being up.
    assert type(open_storage(s)).__name__ == "PgStorage"
    monkeypatch.setenv("DATA_DIR", "/nonexistent-is-fine-for-a-pg-node")
    assert not isinstance(open_storage(Settings.from_env()), SqliteStorage)


def test_fair_share_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    names = {"BIFOGA_OPEN_UPLOADS_PER_ROLE": "3", "BIFOGA_UPLOAD_WRITERS": "8",
             "BIFOGA_UPLOAD_WRITERS_PER_ROLE": "2", "BIFOGA_UPLOAD_MIN_BYTES_PER_SECOND": "0",
             "BIFOGA_UPLOAD_RATE_WINDOW": "1.5", "BIFOGA_UPLOAD_PATCH_MAX_SECONDS": "90"}
    for name in names:
        monkeypatch.delenv(name, raising=False)

    def values(s: Settings) -> tuple[float, ...]:
        return (s.max_open_uploads_per_role, s.max_upload_writers, s.max_upload_writers_per_role,
                s.upload_min_bytes_per_second, s.upload_rate_window_seconds,
                s.upload_patch_max_seconds)

    assert values(Settings.from_env()) == (20, 40, 4, 1024, 20.0, 600.0)
    for name, value in names.items():
        monkeypatch.setenv(name, value)
    assert values(Settings.from_env()) == (3, 8, 2, 0, 1.5, 90.0)


def test_every_number_setting_reads_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from server.config import _NUMBERS

    for i, (_, name, _) in enumerate(_NUMBERS):
        monkeypatch.setenv(name, str(i + 1))
    s = Settings.from_env()
    assert [getattr(s, field) for field, _, _ in _NUMBERS] == list(range(1, len(_NUMBERS) + 1))
    monkeypatch.setenv("BIFOGA_RATE_LIMIT_PER_SECOND", "0.5")  # a whole number of requests
    with pytest.raises(ValueError, match="BIFOGA_RATE_LIMIT_PER_SECOND must be an integer"):
        Settings.from_env()
