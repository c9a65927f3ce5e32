"""The worker's own modules inside its memory snapshot, and the check that they are still the
files the worker was given.

scripts/pyodide_snapshot.mjs runs this in Pyodide (node, at `make`) as the module
`bifoga_snapshot`, after unpacking static/build/worker.zip: preload() imports the modules that
touch no browser API (bifoga.*) and records each one's file and sha256; the memory
snapshot is taken after that, so the worker starts with them imported. The module stays in the
snapshot's sys.modules: worker.py calls forget_if_stale() once PyScript has unpacked the
worker's files. If any file differs from what was imported (a snapshot from other sources), all
of them are forgotten and imported again from the files, as without a snapshot.
Pure Python: tested in CPython (tests/test_worker_snapshot.py).
"""

from __future__ import annotations

import hashlib
import importlib
import os
import sys

MODULES: dict[str, tuple[str, str]] = {}  # module name -> (its file, sha256 of the file)


def _digest(path: str) -> str:
    with open(path, "rb") as source:
        return hashlib.sha256(source.read()).hexdigest()


def preload(names: list[str], root: str = "") -> list[str]:
    """Import `names`; record every module that came from a file under `root` (default: the
    working directory, where the worker's files are unpacked). Returns the recorded names."""
    root = os.path.abspath(root or os.getcwd()) + os.sep
    for name in names:
        importlib.import_module(name)
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if path and os.path.abspath(path).startswith(root):
            MODULES[name] = (path, _digest(path))
    return sorted(MODULES)


def forget_if_stale() -> bool:
    """True if every recorded module's file is unchanged. Otherwise forget them all (a module
    may hold another's objects), so that the next import reads the files, and return False."""
    for path, expected in MODULES.values():
        try:
            if _digest(path) != expected:
                break
        except OSError:
            break
    else:
        return True
    for name in MODULES:
        sys.modules.pop(name, None)
    MODULES.clear()
    importlib.invalidate_caches()
    return False
