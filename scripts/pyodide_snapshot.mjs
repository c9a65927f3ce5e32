// Pyodide's memory snapshots, made in node: the wasm memory just after CPython has started and
// imported Pyodide's own modules. The worker starts from one (static/vendor/pyodide-*/
// bifoga-boot.mjs) and skips that start-up, the largest part of its time to ready.
//   node scripts/pyodide_snapshot.mjs <vendored pyodide folder>
//     snapshot.bin in that folder (scripts/vendor_runtime.py): Pyodide alone.
//   node scripts/pyodide_snapshot.mjs <pyodide folder> <worker.zip> <worker_snapshot.py> <out>
//     the worker's snapshot (scripts/bundle_app.py, beside worker.zip): also the worker's pure
//     modules imported from that very worker.zip (scripts/worker_snapshot.py), and <out>.json,
//     what it holds.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [dir, bundle, helper, out] = process.argv.slice(2);
const { loadPyodide } = await import(pathToFileURL(join(dir, "pyodide.mjs")).href);
if (!bundle) {
  const pyodide = await loadPyodide({ indexURL: dir + "/", _makeSnapshot: true });
  writeFileSync(join(dir, "snapshot.bin"), pyodide.makeMemorySnapshot());
} else {
  const pyodide = await loadPyodide({ indexURL: dir + "/", _makeSnapshot: true });
  // A snapshot starts with no package marked as loaded: the browser loads (passthrough) and
  // marks them itself; the module imported here stays imported.
  for (const name of Object.keys(pyodide.loadedPackages)) delete pyodide.loadedPackages[name];
  const zip = new Uint8Array(readFileSync(bundle));
  // Where PyScript unpacks the worker's [files] ("./*"): the working directory.
  pyodide.unpackArchive(zip, "zip", { extractDir: "." });
  // The helper is a module without a file: nothing in the working directory but worker.zip's.
  pyodide.globals.set("helper_source", readFileSync(helper, "utf8"));
  const result = pyodide.runPython(`
import glob, json, sys, types
helper = types.ModuleType("bifoga_snapshot")
exec(compile(helper_source, "bifoga_snapshot", "exec"), helper.__dict__)
sys.modules["bifoga_snapshot"] = helper
# bifoga/ is pure by rule (no js, no pyscript); worker.py's other modules (worker_heic) are not.
# html: the one standard module PyScript's own package imports that Pyodide's start has not.
# email.parser, urllib.*: the upload's standard modules (worker.py imports them lazily, with
# pyodide-http, which touches js and stays out), about 0.8 s when the first upload came first.
names = ["asyncio", "email.parser", "html", "json", "urllib.error", "urllib.request"] + sorted(
    path[:-3].replace("/", ".") for path in glob.glob("bifoga/**/*.py", recursive=True)
    if not path.endswith("__init__.py"))
helper.preload(names)
recorded = json.dumps(helper.MODULES)
del helper_source, helper, names, glob, json, sys, types
recorded
`);
  pyodide.runPython("del recorded; import gc; gc.collect(); del gc");
  writeFileSync(out, pyodide.makeMemorySnapshot());
  const sha256 = createHash("sha256").update(zip).digest("hex");
  const manifest = { bundle_sha256: sha256, modules: JSON.parse(result) };
  writeFileSync(out.replace(/\.bin$/, "") + ".json", JSON.stringify(manifest, null, 1));
}
