"""The layout's promises: every module the browser runs under MicroPython imports under the very
MicroPython build PyScript loads, the shared packages never touch the browser (`js`,
`pyscript`), the browser modules ask PyScript only for what it offers, and the modules each
side imports at start (main.py's IMPORT_STEPS) exist.

Which modules run under MicroPython is not listed by hand: it is the app bundle's and the light
worker's bundle's contents (scripts/bundle_app.py follows the imports), less the few modules
that say they are CPython only and are imported lazily where only CPython reaches them.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from scripts.bundle_app import closure
from tests.micropython_runner import REPO, micropython_available, run_micropython

# Imported lazily, on paths only CPython (the server, Pyodide, the tests) takes; each one's
# docstring and its package's say so.
CPYTHON_ONLY = {"bifoga/media/active_patterns.py", "bifoga/media/meta_location.py",
                "bifoga/media/imaging.py", "bifoga/media/heif_boxes.py",
                "bifoga/media/heif_meta.py"}
# Run as scripts, not imported: main.py starts the app, light_start.py re-exports light_worker.
ENTRIES = {"main.py", "light_start.py"}
# The browser's own modules: they may import `js` and `pyscript` (stubbed in the test).
BROWSER_PREFIXES = ("adapters/", "components/", "app.py", "light_worker.py")
# PyScript's names only its main thread has (pyscript/__init__.py: `if not RUNNING_IN_WORKER`).
MAIN_THREAD_ONLY = {"create_named_worker", "workers"}


def _module_name(path: str) -> str:
    return path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def _imports(path: Path) -> set[str]:
    """Every module a file names in an import, nested ones included; `from a import b` gives
    both "a" and "a.b" (b may be a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(node.module + "." + alias.name for alias in node.names)
    return found


def micropython_modules() -> dict[str, list[str]]:
    """The repository modules the main thread's and the light worker's bundles hold, by
    bundle, that MicroPython imports (CPython-only ones and the entry scripts left out)."""
    return {entry: [m for m in closure(entry) if m not in CPYTHON_ONLY | ENTRIES]
            for entry in ("main.py", "light_start.py")}


def test_the_bundles_are_not_empty_and_the_cpython_only_modules_say_so() -> None:
    bundles = micropython_modules()
    assert "bifoga/chat/flows.py" in bundles["main.py"]
    assert "bifoga/media/sniff.py" in bundles["light_start.py"]
    package = ast.get_docstring(ast.parse((REPO / "bifoga/media/__init__.py").read_text()))
    for path in CPYTHON_ONLY:
        doc = ast.get_docstring(ast.parse((REPO / path).read_text(encoding="utf-8"))) or ""
        assert "CPython" in doc, path
        assert Path(path).stem in package, path


def test_the_shared_packages_never_touch_the_browser() -> None:
    """bifoga/ runs in the workers and on the server too: no `js`, no `pyscript`."""
    offenders = []
    for path in sorted((REPO / "bifoga").rglob("*.py")):
        for name in _imports(path):
            if name.split(".")[0] in ("js", "pyscript", "pyodide"):
                offenders.append((path.relative_to(REPO).as_posix(), name))
    assert offenders == []


def test_every_package_says_who_uses_it_and_under_which_interpreters() -> None:
    for init in sorted([*(REPO / "bifoga").rglob("__init__.py"), REPO / "adapters/__init__.py",
                        REPO / "components/__init__.py"]):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        assert "MicroPython" in doc, init.relative_to(REPO)


def _pyscript_offers() -> set[str] | None:
    """What the vendored PyScript's `pyscript` package exports (its Python files are embedded
    in core-*.js): names of pyscript/__init__.py and of pyscript/ffi.py (as "ffi.name")."""
    cores = sorted((REPO / "static" / "vendor").glob("pyscript-*/core-*.js"))
    if not cores:
        return None
    core = cores[-1].read_text(encoding="utf-8", errors="replace")
    init = re.search(r'"__init__\.py":"(.*?)(?<!\\)"', core)
    ffi = re.search(r'"ffi\.py":"(.*?)(?<!\\)"', core)
    if init is None or ffi is None:
        return None
    offers = set()
    for names in re.findall(r"import ([\w,]+)", init[1]):
        offers.update(names.split(","))
    # The embedded source keeps its newlines as "\\n": no \b before "def".
    offers.update("ffi." + name for name in re.findall(r"def ([a-z]\w*)", ffi[1]))
    return offers | {"ffi"}


def test_the_browser_modules_ask_pyscript_only_for_what_it_offers() -> None:
    offers = _pyscript_offers()
    if offers is None:
        pytest.skip("no vendored PyScript (make setup)")
    assert {"window", "document", "sync", "fetch", "create_named_worker"} <= offers
    bundles = micropython_modules()
    for entry, modules in bundles.items():
        in_worker = entry == "light_start.py"
        for module in modules:
            for name in _imports(REPO / module):
                if not name.startswith("pyscript."):
                    continue
                asked = name.removeprefix("pyscript.")
                assert asked in offers, (module, name)
                assert not (in_worker and asked in MAIN_THREAD_ONLY), (module, name)


def test_main_imports_steps_name_modules_of_its_bundle() -> None:
    """A step naming a module that moved fails only in the browser, at start: caught here."""
    tree = ast.parse((REPO / "main.py").read_text(encoding="utf-8"))
    steps = next(node.value for node in tree.body if isinstance(node, ast.Assign)
                 and any(isinstance(t, ast.Name) and t.id == "IMPORT_STEPS" for t in node.targets))
    names = [name for step in ast.literal_eval(steps) for name in step]
    bundle = {_module_name(m) for m in closure("main.py")}
    assert names and set(names) <= bundle, sorted(set(names) - bundle)


# A stand-in for `js` and for PyScript's modules: any attribute, any call, any assignment.
_STUB = """\
class _Stub:
    def __init__(self, name="stub"):
        self._name = name
    def __getattr__(self, name):
        return _Stub(name)
    def __call__(self, *args, **kwargs):
        return _Stub("call")
    def __iter__(self):
        return iter(())
    def __bool__(self):
        return False
"""

_IMPORT_ALL = """\
import sys
sys.path.insert(0, '/app')
{stubs}
failed = []
for name in NAMES:
    try:
        __import__(name)
    except Exception as e:
        failed.append('%s: %s: %s' % (name, type(e).__name__, e))
print(sys.implementation.name)
print('FAILED' if failed else 'OK')
for line in failed:
    print(line)
"""


def _stub_files(offers: set[str]) -> dict[str, str]:
    names = sorted(n for n in offers if "." not in n and n != "ffi")
    ffi = sorted(n.removeprefix("ffi.") for n in offers if n.startswith("ffi."))
    init = _STUB + "".join("%s = _Stub(%r)\n" % (n, n) for n in names)
    return {"/stubs/js.py": _STUB + "def __getattr__(name):\n    return _Stub(name)\n"
                            "performance = _Stub('performance')\n",
            "/stubs/pyscript/__init__.py": init + "from pyscript import ffi\n",
            "/stubs/pyscript/ffi.py": _STUB + "".join("%s = _Stub(%r)\n" % (n, n) for n in ffi)}


def _run_imports(modules: list[str], stubs: bool) -> list[str]:
    files = {"/app/" + m: (REPO / m).read_text(encoding="utf-8") for m in modules}
    offers = _pyscript_offers() or {"window", "document", "sync", "fetch",
                                    "create_named_worker", "ffi.to_js", "ffi.create_proxy"}
    if stubs:
        files.update(_stub_files(offers))
    names = [_module_name(m) for m in modules]
    code = "NAMES = %r\n" % names + _IMPORT_ALL.format(
        stubs="sys.path.append('/stubs')" if stubs else "")
    return run_micropython(code, files, timeout=180).strip().splitlines()


@pytest.mark.skipif(not micropython_available(), reason="node or MicroPython missing (npm ci)")
@pytest.mark.parametrize("entry", ["main.py", "light_start.py"])
def test_every_micropython_module_imports_under_micropython(entry: str) -> None:
    """Each module of the bundle, imported under PyScript's MicroPython build: the pure ones
    with no `js` and no `pyscript` to be found at all, then the browser's own with stand-ins
    for those two (whose names are checked against PyScript's above)."""
    modules = micropython_modules()[entry]
    pure = [m for m in modules if not m.startswith(BROWSER_PREFIXES)]
    browser = [m for m in modules if m.startswith(BROWSER_PREFIXES)]
    assert pure and (browser or entry == "light_start.py")
    out = _run_imports(pure, stubs=False)
    assert out[0] == "micropython"
    assert out[1:] == ["OK"], "\n".join(out[1:])
    if entry == "light_start.py":
        assert browser == ["light_worker.py"]
    out = _run_imports(modules, stubs=True)
    assert out[1:] == ["OK"], "\n".join(out[1:])
