"""The vendored runtime: the rewritten pyodide-lock.json matches the wheels it names, and its
Pillow entry is the project's own wasm wheel (wheels/), with the sha256 its build record gives."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from scripts import vendor_runtime as vendor
from tests.micropython_runner import REPO

VENDOR = REPO / "static" / "vendor"


@pytest.fixture(scope="module")
def runtime() -> dict:
    info = VENDOR / "runtime.json"
    if not info.is_file():
        pytest.fail("static/vendor/ is not built: run `make setup`")
    return json.loads(info.read_text())


def test_every_lock_entry_names_a_present_file_with_its_sha256(runtime):
    folder = VENDOR / runtime["pyodide"]
    lock = json.loads((folder / "pyodide-lock.json").read_text())
    assert {"micropip", "packaging", "pyodide-http"} <= set(lock["packages"])
    for name, entry in lock["packages"].items():
        wheel = folder / entry["file_name"]
        assert wheel.is_file(), name
        assert hashlib.sha256(wheel.read_bytes()).hexdigest() == entry["sha256"], name


def test_pages_and_configs_point_at_the_vendored_versions(runtime):
    lock = json.loads((REPO / "package-lock.json").read_text())["packages"]
    for package, folder in (("@pyscript/core", "pyscript"), ("pyodide", "pyodide"),
                            ("@micropython/micropython-webassembly-pyscript", "micropython")):
        assert runtime[folder].endswith("-" + lock["node_modules/" + package]["version"])
    referenced = set()
    for name in ("index.html", "pyscript.toml", "worker.toml", "light.toml"):
        referenced |= set(re.findall(r"static/vendor/([^/\"]+)/", (REPO / name).read_text()))
    assert referenced == {runtime["pyscript"], runtime["micropython"], runtime["pyodide"]}


def test_everything_index_html_loads_exists(runtime):
    """The preload hints name PyScript's hashed chunks: a version bump must update them."""
    page = (REPO / "index.html").read_text()
    for ref in re.findall(r'(?:href|src)="([^"#:]+)"', page):
        if ref.startswith("static/build/"):
            continue  # made by `make` (scripts/bundle_app.py), checked in test_ui_logic.py
        assert (REPO / ref).is_file(), ref


def test_no_file_the_browser_loads_names_another_origin():
    for name in ("index.html", "pyscript.toml", "worker.toml", "main.py", "worker.py",
                 "worker_start.py", "light.toml", "light_start.py", "light_worker.py"):
        assert not re.search(r"https?://", (REPO / name).read_text()), name


def _wheel(tmp_path, name: str, content: bytes):
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_lock_rewrite_takes_the_wheels_names_and_hashes(tmp_path):
    lock = {"packages": {"micropip": {"name": "micropip", "file_name": "old.whl", "sha256": "0",
                                      "version": "0.1", "imports": ["micropip"]}}}
    wheels = [_wheel(tmp_path, "micropip-0.11.1-py3-none-any.whl", b"a"),
              _wheel(tmp_path, "filetype-1.2.0-py2.py3-none-any.whl", b"b")]
    vendor.rewrite_lock(lock, wheels)
    assert lock["packages"]["micropip"]["file_name"] == "micropip-0.11.1-py3-none-any.whl"
    assert lock["packages"]["micropip"]["sha256"] == hashlib.sha256(b"a").hexdigest()
    assert lock["packages"]["micropip"]["imports"] == ["micropip"]  # kept
    added = lock["packages"]["filetype"]
    assert added["version"] == "1.2.0" and added["imports"] == ["filetype"]
    assert added["sha256"] == hashlib.sha256(b"b").hexdigest()


def test_the_locks_pillow_is_the_committed_wheel(runtime):
    record = json.loads((REPO / "wheels" / "pillow-wasm.json").read_text())
    committed = REPO / "wheels" / record["wheel"]
    digest = hashlib.sha256(committed.read_bytes()).hexdigest()
    assert digest == record["sha256"]
    folder = VENDOR / runtime["pyodide"]
    entry = json.loads((folder / "pyodide-lock.json").read_text())["packages"]["pillow"]
    assert entry["file_name"] == record["wheel"]
    assert entry["sha256"] == digest
    assert entry["imports"] == ["PIL"]
    assert (folder / record["wheel"]).read_bytes() == committed.read_bytes()
    assert runtime["pillow"] is True


def test_local_wheels_are_rewritten_into_the_lock(tmp_path, monkeypatch):
    name = "pillow-12.2.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl"
    own = tmp_path / "wheels"
    own.mkdir()
    (own / name).write_bytes(b"built here")
    monkeypatch.setattr(vendor, "PILLOW_WHEELS", own)
    dest = tmp_path / "dest"
    dest.mkdir()
    lock = {"packages": {"pillow": {"name": "Pillow", "file_name": name, "sha256": "upstream",
                                    "version": "12.2.0", "imports": ["PIL"]}}}
    vendor.rewrite_lock(lock, vendor.copy_local_wheels(dest))
    assert (dest / name).read_bytes() == b"built here"
    assert lock["packages"]["pillow"]["sha256"] == hashlib.sha256(b"built here").hexdigest()
    assert lock["packages"]["pillow"]["imports"] == ["PIL"]


def test_precompressed_copies_are_exact(runtime):
    import gzip

    import brotli

    wasm = VENDOR / runtime["micropython"] / "micropython.wasm"
    assert gzip.decompress((wasm.parent / (wasm.name + ".gz")).read_bytes()) == wasm.read_bytes()
    assert brotli.decompress((wasm.parent / (wasm.name + ".br")).read_bytes()) == wasm.read_bytes()


def test_the_worker_starts_pyodide_through_the_snapshot_loader(runtime):
    """worker.toml names bifoga-boot.mjs (scripts/pyodide_boot.mjs), vendored beside pyodide.mjs,
    and the set-up made the memory snapshot it loads (it starts without one if node failed)."""
    folder = VENDOR / runtime["pyodide"]
    assert f'interpreter = "./static/vendor/{runtime["pyodide"]}/bifoga-boot.mjs"' in (
        REPO / "worker.toml").read_text()
    boot = (folder / "bifoga-boot.mjs").read_text()
    assert boot == (REPO / "scripts" / "pyodide_boot.mjs").read_text()
    assert 'from "./pyodide.mjs"' in boot and "_loadSnapshot" in boot
    if runtime.get("snapshot"):
        assert (folder / "snapshot.bin").stat().st_size > 1 << 20
