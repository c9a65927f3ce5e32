"""Copy the pinned browser runtime from node_modules into static/vendor/ (never committed).

Why: no request may leave the app's origin, so PyScript, MicroPython and Pyodide are served by
Bifoga itself. The npm pyodide package has no wheels: the few pure-Python wheels the worker needs
come from PyPI (runtime-wheels.txt, hash-pinned) and their pyodide-lock.json entries are rewritten
with the real file names and sha256, or the browser's integrity check refuses them.

Pillow's wasm wheel is on no registry reachable here: the project builds it from sources
(scripts/build_pillow_wasm.sh, `make pillow-wheel`) and commits it in wheels/ with a record of how
(wheels/pillow-wasm.json). It is copied beside Pyodide and its lock entry rewritten the same way.

libheif-js (npm: libheif, Emscripten-built) decodes HEIC photos in the worker, loaded only when one
is picked (worker_heic.py); its glue script and wasm go to static/vendor/libheif-<version>/.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
VENDOR = ROOT / "static" / "vendor"
WHEELS_FILE = ROOT / "runtime-wheels.txt"
STAMP = VENDOR / ".stamp"
PILLOW_WHEELS = ROOT / "wheels"

# Files each runtime needs in the browser; source maps and editors/terminals are left out.
PYSCRIPT_SKIP_PREFIXES: tuple[str, ...] = ()  # core.js imports its plugins by name; keep them all
PYODIDE_FILES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip")
# libheif-js: the wasm build (not the 3 MB asm.js one, nor the bundle with the wasm in base64).
LIBHEIF_FILES = ("libheif-wasm/libheif.js", "libheif-wasm/libheif.wasm", "libheif-wasm/LICENSE")


def package_version(name: str) -> str:
    return json.loads((NODE_MODULES / name / "package.json").read_text())["version"]


def runtime_dirs() -> dict[str, str]:
    """Versioned folder names, so the files can be cached as immutable."""
    return {
        "pyscript": f"pyscript-{package_version('@pyscript/core')}",
        "micropython": "micropython-"
        + package_version("@micropython/micropython-webassembly-pyscript"),
        "pyodide": f"pyodide-{package_version('pyodide')}",
        "libheif": f"libheif-{package_version('libheif-js')}",
    }


def inputs_digest() -> str:
    h = hashlib.sha256()
    for p in (ROOT / "package-lock.json", WHEELS_FILE, Path(__file__), *local_wheels(),
              ROOT / "scripts" / "pyodide_boot.mjs", ROOT / "scripts" / "pyodide_snapshot.mjs"):
        h.update(p.read_bytes())
    return h.hexdigest()


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def copy_pyscript(dest: Path) -> None:
    src = NODE_MODULES / "@pyscript" / "core" / "dist"
    dest.mkdir(parents=True)
    for f in src.iterdir():
        if f.suffix == ".map" or f.name.startswith(PYSCRIPT_SKIP_PREFIXES):
            continue
        shutil.copy2(f, dest / f.name)


def copy_micropython(dest: Path) -> None:
    src = NODE_MODULES / "@micropython" / "micropython-webassembly-pyscript"
    dest.mkdir(parents=True)
    for name in ("micropython.mjs", "micropython.wasm"):
        shutil.copy2(src / name, dest / name)


def copy_libheif(dest: Path) -> None:
    src = NODE_MODULES / "libheif-js"
    dest.mkdir(parents=True)
    for name in LIBHEIF_FILES:
        shutil.copy2(src / name, dest / Path(name).name)


def download_wheels(dest: Path) -> list[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
             "--python-version", "3.14", "--platform", "any", "--require-hashes",
             "-r", str(WHEELS_FILE), "-d", tmp],
            check=True,
        )
        wheels = []
        for whl in sorted(Path(tmp).glob("*.whl")):
            target = dest / whl.name
            shutil.copy2(whl, target)
            wheels.append(target)
        return wheels


def wheel_project(wheel: Path) -> tuple[str, str]:
    name, version = wheel.name.split("-")[:2]
    return name.replace("_", "-").lower(), version


def rewrite_lock(lock: dict, wheels: list[Path]) -> None:
    packages = lock["packages"]
    for whl in wheels:
        name, version = wheel_project(whl)
        import_name = name.replace("-", "_")
        entry = packages.get(name) or {
            "name": name, "depends": [], "imports": [import_name], "install_dir": "site",
            "package_type": "package", "tool": {}, "unvendored_tests": False,
        }
        entry.update(file_name=whl.name, version=version, sha256=sha256_file(whl))
        packages[name] = entry


def local_wheels() -> list[Path]:
    """The project's own wasm wheels (Pillow), built by scripts/build_pillow_wasm.sh."""
    return sorted(PILLOW_WHEELS.glob("*-pyemscripten_*_wasm32.whl"))


def copy_local_wheels(dest: Path) -> list[Path]:
    copied = []
    for whl in local_wheels():
        shutil.copy2(whl, dest / whl.name)
        copied.append(dest / whl.name)
    return copied


def copy_pyodide(dest: Path) -> dict:
    src = NODE_MODULES / "pyodide"
    dest.mkdir(parents=True)
    for name in PYODIDE_FILES:
        shutil.copy2(src / name, dest / name)
    lock = json.loads((src / "pyodide-lock.json").read_text())
    rewrite_lock(lock, download_wheels(dest) + copy_local_wheels(dest))
    # Keep only entries whose files are really here, so nothing is ever looked up elsewhere.
    present = {p.name for p in dest.iterdir()}
    lock["packages"] = {k: v for k, v in lock["packages"].items() if v["file_name"] in present}
    (dest / "pyodide-lock.json").write_text(json.dumps(lock, separators=(",", ":")))
    shutil.copy2(ROOT / "scripts" / "pyodide_boot.mjs", dest / "bifoga-boot.mjs")
    return {"pillow": "pillow" in lock["packages"], "packages": sorted(lock["packages"]),
            "snapshot": snapshot(dest)}


def snapshot(dest: Path) -> bool:
    """Pyodide's memory snapshot (scripts/pyodide_snapshot.mjs, in node): the worker then skips
    CPython's start-up. Pyodide marks the option private (_makeSnapshot/_loadSnapshot), so it is
    made for exactly the pinned version, and bifoga-boot.mjs starts without it if it is absent
    or does not load."""
    node = shutil.which("node")
    if node is None:
        print("vendor: node missing; the worker starts without a memory snapshot")
        return False
    made = subprocess.run([node, str(ROOT / "scripts" / "pyodide_snapshot.mjs"), str(dest)],
                          capture_output=True, text=True, timeout=600, check=False)
    if made.returncode != 0 or not (dest / "snapshot.bin").is_file():
        print(f"vendor: no memory snapshot ({made.stderr.strip()[-300:]}); starting without it")
        (dest / "snapshot.bin").unlink(missing_ok=True)
        return False
    return True


COMPRESSIBLE = (".js", ".mjs", ".wasm", ".json", ".css", ".bin")


def precompress(root: Path) -> int:
    """Write a .gz and a .br beside every compressible runtime file, once, at the best level:
    the server then sends these instead of compressing 10 MB of WebAssembly on every cold load.
    Brotli (quality 11; a minute for Pyodide's wasm, once) is 14-26 % smaller than gzip here:
    MicroPython's wasm, which comes before the paperclip works, drops from 191 to 166 KB."""
    import brotli  # requirements-dev.txt

    saved = 0
    for path in sorted(root.rglob("*")):
        if path.suffix in COMPRESSIBLE and path.is_file():
            data = path.read_bytes()
            packed = gzip.compress(data, compresslevel=9, mtime=0)
            if len(packed) < len(data):
                path.with_name(path.name + ".gz").write_bytes(packed)
                saved += len(data) - len(packed)
                # Quality 11 on the 31 MB memory snapshot would take minutes: 9 is close.
                smaller = brotli.compress(data, quality=11 if len(data) < 16 << 20 else 9)
                if len(smaller) < len(packed):
                    path.with_name(path.name + ".br").write_bytes(smaller)
    return saved


def main() -> int:
    if not (NODE_MODULES / "pyodide").exists():
        print("vendor: node_modules is missing; run `npm ci` first", file=sys.stderr)
        return 1
    digest = inputs_digest()
    if STAMP.exists() and STAMP.read_text().strip() == digest and "--force" not in sys.argv:
        return 0
    tmp = VENDOR.with_name("vendor.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    dirs = runtime_dirs()
    copy_pyscript(tmp / dirs["pyscript"])
    copy_micropython(tmp / dirs["micropython"])
    copy_libheif(tmp / dirs["libheif"])
    info = copy_pyodide(tmp / dirs["pyodide"])
    (tmp / "runtime.json").write_text(json.dumps({**dirs, **info}, indent=2))
    precompress(tmp)
    (tmp / ".stamp").write_text(digest)
    shutil.rmtree(VENDOR, ignore_errors=True)
    tmp.rename(VENDOR)
    print(f"vendor: runtime in {VENDOR.relative_to(ROOT)} ({', '.join(dirs.values())};"
          f" Pillow {'present' if info['pillow'] else 'absent'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
