"""Shared pytest fixtures. Keep them generic: several parts of the project use this file."""

from __future__ import annotations

import base64
import warnings
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """Real media made by the tests themselves (tests/media.py): photo_gps.jpg, clip.mp4,
    document.pdf, tone.mp3. Nothing outside the repository is read."""
    from tests.media import media_dir

    return media_dir()


# --- reference backend (server/) -----------------------------------------------------------


STORAGES = ("sqlite", "pg")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A module marked `both_storages` runs each server test once per storage (SQLite plus
    files, PostgreSQL); a test of it marked `sqlite_only` (it reads the SQLite file or the data
    directory) only on SQLite. Other modules use SQLite, unparametrized."""
    if "storage_kind" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker("both_storages") is None:
        return
    only_sqlite = metafunc.definition.get_closest_marker("sqlite_only") is not None
    metafunc.parametrize("storage_kind", ["sqlite"] if only_sqlite else list(STORAGES),
                         indirect=True)


@pytest.fixture
def storage_kind(request: pytest.FixtureRequest) -> str:
    return getattr(request, "param", "sqlite")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Any]:
    """One throwaway PostgreSQL server for the session (tests/pg.py) with a database `bifoga`
    at the newest schema. Fails loudly when PostgreSQL is missing: `make` installs it."""
    from server import migrate
    from tests.pg import PgCluster

    cluster = PgCluster(durable=False)
    cluster.start()
    try:
        cluster.sql("CREATE DATABASE bifoga")
        migrate.upgrade(cluster.url("bifoga"))
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_database(pg_cluster: Any) -> str:
    """The URL of the session's database, emptied (faster than a database per test)."""
    # DELETE, not TRUNCATE: a few rows go faster than new files for every table.
    pg_cluster.sql("DELETE FROM attachment_marks; DELETE FROM attachment_uploads; "
                   "DELETE FROM messages; DELETE FROM attachment_chunks; DELETE FROM attachments; "
                   "DELETE FROM upload_chunks; DELETE FROM uploads; DELETE FROM visit_purges; "
                   "DELETE FROM visits; "
                   "ALTER SEQUENCE messages_id_seq RESTART", "bifoga")
    return str(pg_cluster.url("bifoga"))


@pytest.fixture
def server_settings(tmp_path: Path, storage_kind: str, request: pytest.FixtureRequest) -> Any:
    """Settings for a test server: demo on, rate limiting off, short long-poll cap; on
    PostgreSQL (storage_kind "pg") a fresh database of its own."""
    from server.config import Settings

    database_url = request.getfixturevalue("pg_database") if storage_kind == "pg" else None
    return Settings(data_dir=tmp_path / "data", demo=True, rate_limit_enabled=False,
                    long_poll_max_seconds=5, public_origin="http://testserver",
                    database_url=database_url, db_pool_size=4)


@pytest.fixture
def storage_view(server_settings: Any) -> Any:
    """The test server's storage read directly (tests/storage_view.py)."""
    from tests.storage_view import StorageView

    return StorageView.of(server_settings)


def run_in_app(client: Any, fn: Callable[..., Any], *args: Any) -> Any:
    """Await fn(*args) (a storage method) in the event loop of a started TestClient's app."""
    return client.portal.call(fn, *args)


@pytest.fixture
def make_server_client(server_settings: Any) -> Iterator[Callable[..., Any]]:
    """make_server_client(**settings_overrides) -> a started TestClient (lifespan has run)."""
    from starlette.exceptions import StarletteDeprecationWarning

    with warnings.catch_warnings():
        # Starlette 1.10 prefers httpx2; httpx (requirements-dev.txt) works the same here.
        warnings.simplefilter("ignore", StarletteDeprecationWarning)
        from starlette.testclient import TestClient

    from server.app import create_app

    clients: list[Any] = []

    def make(**overrides: Any) -> Any:
        client = TestClient(create_app(replace(server_settings, **overrides)))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def server_client(make_server_client: Callable[..., Any]) -> Any:
    return make_server_client()


class VisitHandle:
    """A visit created through POST /api/visits, with per-role auth headers."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.id: str = body["visit_id"]
        self.body = body
        self.patient = {"Authorization": f"Bearer {body['patient_token']}"}
        self.clinician = {"Authorization": f"Bearer {body['clinician_token']}"}

    def headers(self, role: str = "patient", **extra: str) -> dict[str, str]:
        base = self.patient if role == "patient" else self.clinician
        return {**base, **{k.replace("_", "-"): v for k, v in extra.items()}}

    def url(self, suffix: str = "") -> str:
        return f"/api/visits/{self.id}{suffix}"


@pytest.fixture
def new_visit(server_client: Any) -> Callable[..., VisitHandle]:
    def make(client: Any = None, **names: str) -> VisitHandle:
        response = (client or server_client).post("/api/visits", json=names)
        assert response.status_code == 201, response.text
        return VisitHandle(response.json())

    return make


@pytest.fixture
def visit(new_visit: Callable[..., VisitHandle]) -> VisitHandle:
    return new_visit()


def tus_metadata(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


@pytest.fixture
def tus_upload(server_client: Any) -> Callable[..., Any]:
    """tus_upload(visit, data, name, filetype="", role="patient", chunk=None, client=None)
    creates a tus upload, sends `data` in chunks and returns the upload URL."""

    def upload(visit: VisitHandle, data: bytes, name: str, filetype: str = "",
               role: str = "patient", chunk: int | None = None, client: Any = None) -> str:
        client = client or server_client
        meta = {"filename": name, **({"filetype": filetype} if filetype else {})}
        created = client.post(visit.url("/uploads"), headers=visit.headers(
            role, Tus_Resumable="1.0.0", Upload_Length=str(len(data)),
            Upload_Metadata=tus_metadata(**meta)))
        assert created.status_code == 201, created.text
        location = created.headers["location"]
        step = chunk or max(1, len(data))
        for start in range(0, len(data), step):
            headers = visit.headers(role, Tus_Resumable="1.0.0", Upload_Offset=str(start),
                                    Content_Type="application/offset+octet-stream")
            response = client.patch(location, content=data[start:start + step], headers=headers)
            assert response.status_code == 204, response.text
        return location

    return upload


@pytest.fixture(scope="session")
def stripped_photo(fixtures_dir: Path) -> bytes:
    """photo_gps.jpg after bifoga.media.metadata.strip, as the browser sends it. The server refuses
    the original (it still carries GPS) with 422 metadata_not_removed."""
    from bifoga.media.metadata import strip

    return strip((fixtures_dir / "photo_gps.jpg").read_bytes()).data


@pytest.fixture
def send_attachment(server_client: Any, tus_upload: Callable[..., Any]) -> Callable[..., Any]:
    """send_attachment(visit, data, name, filetype="", role="patient", client=None) uploads
    `data` with tus, finalises it and returns the finalisation response (201 or a refusal)."""

    def send(visit: VisitHandle, data: bytes, name: str, filetype: str = "",
             role: str = "patient", client: Any = None) -> Any:
        client = client or server_client
        location = tus_upload(visit, data, name, filetype, role=role, client=client)
        return client.post(visit.url("/attachments"), headers=visit.headers(role),
                           json={"upload_id": location.rsplit("/", 1)[1]})

    return send


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the browser tests last: Playwright's sync API leaves an event loop on the main
    thread, which breaks a later plain asyncio.run() in the CPython tests."""
    e2e_dir = REPO_ROOT / "tests" / "e2e"
    items.sort(key=lambda item: e2e_dir in Path(str(item.fspath)).parents)
