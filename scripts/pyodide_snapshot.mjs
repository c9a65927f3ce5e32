// Pyodide's memory snapshot, made once by scripts/vendor_runtime.py (node): the wasm memory just
// after CPython has started and imported Pyodide's own modules. The worker starts from it
// (static/vendor/pyodide-*/bifoga-boot.mjs) and skips that start-up, the largest part of its
// time to ready. Usage: node scripts/pyodide_snapshot.mjs <vendored pyodide folder>
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const dir = process.argv[2];
const { loadPyodide } = await import(pathToFileURL(join(dir, "pyodide.mjs")).href);
const pyodide = await loadPyodide({ indexURL: dir + "/", _makeSnapshot: true });
writeFileSync(join(dir, "snapshot.bin"), pyodide.makeMemorySnapshot());
