"""Pack the main thread's Python modules into one static/build/app.tar.gz.

Why: PyScript fetches every file in [files] with its own request; for the ~25 small modules of
the UI that cost more time than the bytes did. One gzipped tar is one request, and PyScript's
MicroPython unpacks it with its own gzip and tarfile modules. The module list is not kept by
hand: it is everything main.py imports from this repository, followed transitively.
"""

from __future__ import annotations

import ast
import gzip
import io
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bifoga", "components")
BUNDLE = ROOT / "static" / "build" / "app.tar.gz"


def local_imports(path: Path) -> set[str]:
    """Repository modules a file imports, as paths like 'bifoga/i18n.py'."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] in PACKAGES and len(parts) >= 2:
                if (ROOT / parts[0] / f"{parts[1]}.py").is_file():
                    found.add(f"{parts[0]}/{parts[1]}.py")
    return found


def closure(entry: str) -> list[str]:
    """Every repository module `entry` needs, with each package's __init__.py."""
    needed: set[str] = set()
    todo = [entry]
    while todo:
        for module in local_imports(ROOT / todo.pop()):
            if module not in needed:
                needed.add(module)
                todo.append(module)
    needed |= {f"{module.split('/')[0]}/__init__.py" for module in needed}
    return sorted(needed)


def build(entry: str = "main.py", target: Path = BUNDLE) -> list[str]:
    modules = closure(entry)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for module in modules:
            data = (ROOT / module).read_bytes()
            info = tarfile.TarInfo(module)
            info.size, info.mode, info.mtime = len(data), 0o644, 0  # reproducible
            tar.addfile(info, io.BytesIO(data))
    target.parent.mkdir(parents=True, exist_ok=True)
    packed = gzip.compress(raw.getvalue(), compresslevel=9, mtime=0)
    if not target.exists() or target.read_bytes() != packed:
        target.write_bytes(packed)
    return modules


if __name__ == "__main__":
    shipped = build()
    print(f"bundle: {len(shipped)} modules in {BUNDLE.relative_to(ROOT)} "
          f"({BUNDLE.stat().st_size} bytes)")
    sys.exit(0)
