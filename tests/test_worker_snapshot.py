"""The worker's memory snapshot (static/build/worker-snapshot.bin): its modules must be the ones
in worker.zip, and a snapshot from other files must not be used (scripts/worker_snapshot.py)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
import zipfile

import pytest

from scripts.bundle_app import WORKER_BUNDLE, WORKER_SNAPSHOT, build_worker
from tests.micropython_runner import REPO


def _helper():
    """scripts/worker_snapshot.py as a fresh module, as the snapshot has it."""
    spec = importlib.util.spec_from_file_location("bifoga_snapshot_test",
                                                  REPO / "scripts" / "worker_snapshot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def package(tmp_path, monkeypatch):
    (tmp_path / "snappkg").mkdir()
    (tmp_path / "snappkg" / "__init__.py").write_text("")
    (tmp_path / "snappkg" / "a.py").write_text("from snappkg import b\nVALUE = b.VALUE + 1\n")
    (tmp_path / "snappkg" / "b.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("snappkg", "snappkg.a", "snappkg.b"):
        sys.modules.pop(name, None)


def test_preload_records_the_modules_from_the_working_directory_only(package):
    helper = _helper()
    recorded = helper.preload(["json", "snappkg.a"], root=str(package))
    assert recorded == ["snappkg", "snappkg.a", "snappkg.b"]  # json is the stdlib's
    path, digest = helper.MODULES["snappkg.b"]
    assert digest == hashlib.sha256((package / "snappkg" / "b.py").read_bytes()).hexdigest()
    assert helper.forget_if_stale() is True
    assert "snappkg.a" in sys.modules


@pytest.mark.parametrize("change", ["edit", "remove"])
def test_a_changed_or_missing_file_forgets_every_preloaded_module(package, change):
    helper = _helper()
    helper.preload(["snappkg.a"], root=str(package))
    b = package / "snappkg" / "b.py"
    if change == "edit":
        b.write_text("VALUE = 41\n")
    else:
        b.unlink()
    assert helper.forget_if_stale() is False
    assert not {"snappkg", "snappkg.a", "snappkg.b"} & set(sys.modules)
    assert helper.MODULES == {}
    if change == "edit":  # imported anew from the files
        assert importlib.import_module("snappkg.a").VALUE == 42


def test_the_built_snapshot_was_made_from_the_worker_bundle_of_these_sources(tmp_path):
    """`make` builds worker.zip and the snapshot in one step; a snapshot from other sources
    would be caught at run time too (forget_if_stale), but then the worker imports anew."""
    manifest = WORKER_SNAPSHOT.with_suffix(".json")
    if not manifest.is_file():
        pytest.fail("static/build/worker-snapshot.json is missing: run `make setup`")
    made = json.loads(manifest.read_text())
    fresh = tmp_path / "worker.zip"
    build_worker(target=fresh)
    assert made["bundle_sha256"] == hashlib.sha256(fresh.read_bytes()).hexdigest(), (
        "the worker's snapshot is older than its sources: run `make setup`")
    assert fresh.read_bytes() == WORKER_BUNDLE.read_bytes()
    with zipfile.ZipFile(fresh) as archive:
        in_zip = {name: hashlib.sha256(archive.read(name)).hexdigest()
                  for name in archive.namelist()}
    for module, (path, digest) in made["modules"].items():
        name = path.removeprefix("/home/pyodide/")
        assert in_zip.get(name) == digest, module
    assert "worker.py" in in_zip  # imported by worker_start.py, not run from its source
    pure = {n for n in in_zip if n.startswith("bifoga/")}
    assert {path.removeprefix("/home/pyodide/") for path, _ in made["modules"].values()} == pure
