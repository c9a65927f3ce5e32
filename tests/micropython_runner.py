"""Run a snippet under the MicroPython WebAssembly build (the one PyScript loads) in node."""

import ast
import base64
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MICROPYTHON_MJS = (
    REPO / "node_modules" / "@micropython" / "micropython-webassembly-pyscript" / "micropython.mjs"
)

# The .mjs is minified; a crash dumps it whole, so only the tail of stderr is worth keeping.
_STDERR_TAIL = 2000

_SCRIPT = """\
import {{ loadMicroPython }} from {mjs};
const lines = [];
const mp = await loadMicroPython({{ stdout: (l) => lines.push(l), stderr: (l) => lines.push(l) }});
const files = {files};
const binaryFiles = {binary_files};
function write(path, content) {{
  const parts = path.split("/").slice(1, -1);
  for (let i = 1; i <= parts.length; i++) {{
    try {{ mp.FS.mkdir("/" + parts.slice(0, i).join("/")); }} catch (e) {{ /* exists */ }}
  }}
  mp.FS.writeFile(path, content);
}}
for (const [path, text] of Object.entries(files)) write(path, text);
for (const [path, b64] of Object.entries(binaryFiles)) write(path, Buffer.from(b64, "base64"));
try {{
  await mp.{run}({code});
}} catch (e) {{
  process.stderr.write(lines.join("\\n") + "\\n" + String(e) + "\\n");
  process.exit(1);
}}
process.stdout.write(lines.join("\\n") + "\\n");
"""


def micropython_available() -> bool:
    """True when node and the npm MicroPython build are both present."""
    return shutil.which("node") is not None and MICROPYTHON_MJS.is_file()


def run_micropython(code: str, files: dict[str, str], timeout: float = 60.0,
                    top_level_await: bool = False,
                    binary_files: dict[str, bytes] | None = None) -> str:
    """Write `files` (text) and `binary_files` (bytes), absolute paths in the MicroPython FS,
    and run `code`; return stdout.

    With `top_level_await`, `code` may `await` (the build's asyncio has no `run`: the JS event
    loop drives its tasks, as in the browser).

    Raises RuntimeError with the last part of stderr when node or MicroPython fails.
    """
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not installed")
    script = _SCRIPT.format(
        mjs=json.dumps(MICROPYTHON_MJS.as_uri()),
        files=json.dumps(files),
        binary_files=json.dumps({path: base64.b64encode(data).decode("ascii")
                                 for path, data in (binary_files or {}).items()}),
        code=json.dumps(code),
        run="runPythonAsync" if top_level_await else "runPython",
    )
    with tempfile.TemporaryDirectory() as tmp:
        runner = Path(tmp) / "run.mjs"
        runner.write_text(script, encoding="utf-8")
        proc = subprocess.run(
            [node, str(runner)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout)[-_STDERR_TAIL:]
        raise RuntimeError(f"MicroPython run failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout


def repo_files(*modules: str) -> dict[str, str]:
    """The source of the repository's `modules` (dotted names: "bifoga.media.sniff"), keyed by
    their paths in the MicroPython FS (imported from '/'), with the __init__.py of every
    package on the way."""
    files: dict[str, str] = {}
    for module in modules:
        parts = module.split(".")
        for depth in range(1, len(parts)):
            init = "/".join(parts[:depth]) + "/__init__.py"
            files["/" + init] = (REPO / init).read_text(encoding="utf-8")
        path = "/".join(parts) + ".py"
        files["/" + path] = (REPO / path).read_text(encoding="utf-8")
    return files


# Modules MicroPython 1.27 lacks, or (re) has only a small part of.
_LACKING_MODULES = {"typing", "dataclasses", "__future__", "enum", "re"}


def assert_fits_micropython(path: Path) -> set[str]:
    """Fail on what MicroPython 1.27 lacks in the source at `path`; return what it imports."""
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
        # f-strings are fine in MicroPython except the "=" specifier; simplest to have none.
        assert not isinstance(node, ast.JoinedStr), "f-string at line %d" % node.lineno
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            # Neither bytes.hex(sep) nor a tuple of prefixes for startswith/endswith.
            assert not (node.func.attr == "hex" and node.args), "hex(sep), line %d" % node.lineno
            assert not (node.func.attr in ("startswith", "endswith") and node.args
                        and isinstance(node.args[0], ast.Tuple)), "line %d" % node.lineno
    assert not imported & _LACKING_MODULES
    return imported
