"""The runtime's precompressed .br and .gz copies are sent as they are, only to clients that
take them, brotli first."""

from __future__ import annotations

import gzip
import os
from dataclasses import replace

import brotli
import pytest


@pytest.fixture
def app_dir(tmp_path):
    root = tmp_path / "app"
    vendor = root / "static" / "vendor" / "runtime-1.0"
    vendor.mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html>")
    wasm = os.urandom(1000) + b"\0" * 50_000
    (vendor / "engine.wasm").write_bytes(wasm)
    (vendor / "engine.wasm.gz").write_bytes(gzip.compress(wasm, mtime=0))
    (vendor / "engine.wasm.br").write_bytes(brotli.compress(wasm))
    (vendor / "plain.js").write_text("export const x = 1;\n" * 200)
    build = root / "static" / "build"
    build.mkdir()
    (build / "worker-snapshot.bin").write_bytes(wasm)
    (build / "worker-snapshot.bin.br").write_bytes(brotli.compress(wasm))
    return root


@pytest.fixture
def client(app_dir, server_settings):
    import warnings

    from starlette.exceptions import StarletteDeprecationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StarletteDeprecationWarning)
        from starlette.testclient import TestClient

    from server.app import create_app

    with TestClient(create_app(replace(server_settings), app_dir=app_dir)) as test_client:
        yield test_client


def test_gzip_copy_is_sent_to_clients_that_take_it(client, app_dir):
    url = "/static/vendor/runtime-1.0/engine.wasm"
    original = (app_dir / "static/vendor/runtime-1.0/engine.wasm").read_bytes()
    packed = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert packed.status_code == 200
    assert packed.headers["content-encoding"] == "gzip"  # brotli only where it is accepted
    assert packed.headers["content-type"] == "application/wasm"
    assert "immutable" in packed.headers["cache-control"]
    assert int(packed.headers["content-length"]) < len(original) // 5
    assert packed.content == original  # httpx decodes it: the bytes are the runtime's own


@pytest.mark.parametrize("accept", ["gzip, deflate, br, zstd", "br", "gzip;q=0.5, br"])
def test_brotli_copy_is_preferred_by_clients_that_take_it(client, app_dir, accept):
    url = "/static/vendor/runtime-1.0/engine.wasm"
    packed = client.get(url, headers={"Accept-Encoding": accept})
    assert packed.headers["content-encoding"] == "br"
    assert packed.headers["vary"] == "Accept-Encoding"
    assert packed.content == (app_dir / "static/vendor/runtime-1.0/engine.wasm").read_bytes()


def test_gzip_when_brotli_is_refused(client):
    url = "/static/vendor/runtime-1.0/engine.wasm"
    packed = client.get(url, headers={"Accept-Encoding": "gzip, br;q=0"})
    assert packed.headers["content-encoding"] == "gzip"


@pytest.mark.parametrize("accept", ["identity", "zstd", ""])
def test_clients_without_gzip_get_the_plain_file(client, app_dir, accept):
    url = "/static/vendor/runtime-1.0/engine.wasm"
    plain = client.get(url, headers={"Accept-Encoding": accept})
    assert "content-encoding" not in plain.headers
    assert plain.content == (app_dir / "static/vendor/runtime-1.0/engine.wasm").read_bytes()


def test_files_without_a_copy_are_still_served(client):
    response = client.get("/static/vendor/runtime-1.0/plain.js",
                          headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.text.startswith("export const x")


def test_the_worker_snapshot_is_sent_compressed_and_revalidated(client, app_dir):
    """Made by `make` beside worker.zip under a fixed name: compressed like the runtime, but
    checked with the server on every load instead of cached as immutable."""
    url = "/static/build/worker-snapshot.bin"
    packed = client.get(url, headers={"Accept-Encoding": "gzip, br"})
    assert packed.headers["content-encoding"] == "br"
    assert packed.headers["cache-control"] == "no-cache"
    assert packed.content == (app_dir / "static/build/worker-snapshot.bin").read_bytes()
    again = client.get(url, headers={"Accept-Encoding": "gzip, br",
                                     "If-None-Match": packed.headers["etag"]})
    assert again.status_code == 304
