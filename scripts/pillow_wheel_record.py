"""Check the Pillow wasm wheel against Pyodide; write its record (wheels/pillow-wasm.json).

Called by scripts/build_pillow_wasm.sh. The check: every function and GOT import of every extension
module in the wheel must be exported by Pyodide's pyodide.asm.wasm, or be a JavaScript library
function the main module itself imports (such as __assert_fail), or a dynamic-linking symbol; so a
library left out of the link fails here rather than at the first decode in a browser.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import zipfile
from pathlib import Path

# Provided by Emscripten's dynamic loader itself, not by the main module's exports.
LOADER_SYMBOLS = {"memory", "__indirect_function_table", "__memory_base", "__table_base",
                  "__stack_pointer", "__c_longjmp", "__cpp_exception"}


def _uleb(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _name(data: bytes, pos: int) -> tuple[str, int]:
    size, pos = _uleb(data, pos)
    return data[pos:pos + size].decode(), pos + size


def _sections(data: bytes):
    if data[:4] != b"\0asm":
        raise ValueError("not a wasm module")
    pos = 8
    while pos < len(data):
        sid = data[pos]
        size, pos = _uleb(data, pos + 1)
        yield sid, data[pos:pos + size]
        pos += size


def wasm_imports(data: bytes) -> list[tuple[str, str, int]]:
    """(module, name, kind) of every import: kind 0 function, 1 table, 2 memory, 3 global, 4 tag."""
    out = []
    for sid, body in _sections(data):
        if sid != 2:
            continue
        count, pos = _uleb(body, 0)
        for _ in range(count):
            module, pos = _name(body, pos)
            name, pos = _name(body, pos)
            kind = body[pos]
            pos += 1
            if kind == 0:
                _, pos = _uleb(body, pos)
            elif kind == 1:
                pos += 1
                flags, pos = _uleb(body, pos)
                _, pos = _uleb(body, pos)
                if flags & 1:
                    _, pos = _uleb(body, pos)
            elif kind == 2:
                flags, pos = _uleb(body, pos)
                _, pos = _uleb(body, pos)
                if flags & 1:
                    _, pos = _uleb(body, pos)
            elif kind == 3:
                pos += 2
            elif kind == 4:
                pos += 1
                _, pos = _uleb(body, pos)
            out.append((module, name, kind))
    return out


def wasm_exports(data: bytes) -> set[str]:
    names = set()
    for sid, body in _sections(data):
        if sid != 7:
            continue
        count, pos = _uleb(body, 0)
        for _ in range(count):
            name, pos = _name(body, pos)
            pos += 1
            _, pos = _uleb(body, pos)
            names.add(name)
    return names


def unresolved(wheel: Path, main_wasm: Path) -> dict[str, list[str]]:
    main = main_wasm.read_bytes()
    exports = wasm_exports(main) | {n for module, n, _ in wasm_imports(main) if module == "env"}
    missing: dict[str, list[str]] = {}
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            if not info.filename.endswith(".so"):
                continue
            own = wasm_exports(z.read(info))
            bad = sorted({name for module, name, _ in wasm_imports(z.read(info))
                          if module in ("env", "GOT.func", "GOT.mem")
                          and name not in exports and name not in own
                          and name not in LOADER_SYMBOLS})
            if bad:
                missing[info.filename] = bad
    return missing


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--wheel", type=Path, required=True)
    ap.add_argument("--build", type=Path, required=True, help="the chroot's /build folder")
    ap.add_argument("--cflags", required=True)
    ap.add_argument("--ldflags", required=True)
    ap.add_argument("--pyodide-wasm", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()

    missing = unresolved(args.wheel, args.pyodide_wasm)
    if missing:
        for so, names in missing.items():
            print(f"pillow_wheel_record: {so} imports what Pyodide does not export: {names[:20]}",
                  file=sys.stderr)
        return 1

    src = args.build / "src"
    sources = []
    for tarball in sorted([*src.glob("*.orig.tar.*"), *src.glob("pillow-*.tar.gz")]):
        m = re.match(r"(.+?)_(.+)\.orig\.tar\.", tarball.name)
        sources.append({
            "name": m.group(1) if m else tarball.name.split("-")[0],
            "version": m.group(2) if m else tarball.name.removesuffix(".tar.gz").split("-")[-1],
            "from": "Debian sid (apt-get source --tar-only)" if m else "PyPI sdist",
            "file": tarball.name,
            "sha256": sha256(tarball),
        })
    for whl in sorted((args.build / "dl").glob("*.whl")):
        sources.append({"name": whl.name.split("-")[0], "version": whl.name.split("-")[1],
                        "from": "PyPI (build tool only)", "file": whl.name, "sha256": sha256(whl)})
    toolchain = dict(line.split("\t", 1) for line in
                     (args.build / "toolchain.txt").read_text().splitlines() if "\t" in line)
    with zipfile.ZipFile(args.wheel) as z:
        modules = sorted(n for n in z.namelist() if n.endswith(".so"))
    record = {
        "wheel": args.wheel.name,
        "sha256": sha256(args.wheel),
        "size": args.wheel.stat().st_size,
        "target": {"pyodide": "314.0.7", "python": "3.14", "abi": "2026_0",
                   "pyodide_emscripten": "5.0.3"},
        "built_by": "scripts/build_pillow_wasm.sh (make pillow-wheel)",
        "features": ["jpeg (libjpeg-turbo, no SIMD)", "zlib (PNG)", "webp (libwebp, no threads)"],
        "extension_modules": modules,
        "sources": sources,
        "toolchain": {
            "chroot": "Debian sid, debootstrap --variant=minbase",
            "emcc": (args.build / "emcc-version.txt").read_text().strip(),
            "clang": (args.build / "clang-version.txt").read_text().strip(),
            "debian_packages": toolchain,
        },
        "flags": {"compile": args.cflags, "link_side_module": args.ldflags,
                  "python_headers": "libpython3.14-dev's, pyconfig.h regenerated from Pyodide's "
                                    "_sysconfigdata__emscripten_wasm32-emscripten.py"},
        "checked": "every import of every .so resolves against pyodide.asm.wasm's exports or the "
                   "JavaScript functions it imports itself",
    }
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
