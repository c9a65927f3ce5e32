// Bifoga's entry to Pyodide, named by worker.toml; scripts/vendor_runtime.py puts it beside
// pyodide.mjs. It is Pyodide's loadPyodide, started from a memory snapshot made at set-up
// (scripts/pyodide_snapshot.mjs): CPython's own start-up, seconds of CPU, is skipped. The
// worker's snapshot (static/build/worker-snapshot.bin, made by `make` from the same files as
// worker.zip) also has the worker's pure modules imported; without it, Pyodide's own
// (snapshot.bin, beside this file); if none loads, Pyodide starts the ordinary way.
// The snapshots are public code's state, not patient data: they come from the HTTP cache only.
import { loadPyodide as load, version } from "./pyodide.mjs";

export { version };

const WORKER_SNAPSHOT = new URL("../../build/worker-snapshot.bin", import.meta.url);
const PYODIDE_SNAPSHOT = new URL("snapshot.bin", import.meta.url);

async function fetchBuffer(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  const buffer = await response.arrayBuffer();
  performance.mark("bifoga:snapshot-fetched", { detail: url.pathname });
  return buffer;
}

export async function loadPyodide(options = {}) {
  // Handed over as a promise: Pyodide starts fetching and compiling its wasm (and fetching the
  // standard library) at once and waits for the snapshot only when it needs it, instead of all
  // of that starting after the 31 MB have arrived.
  const snapshot = fetchBuffer(WORKER_SNAPSHOT).catch(() => fetchBuffer(PYODIDE_SNAPSHOT));
  snapshot.catch(() => {}); // a failed fetch is handled below, not an unhandled rejection
  try {
    return await load({ ...options, _loadSnapshot: snapshot });
  } catch (error) {
    console.warn("Pyodide's snapshot did not load; starting without it", error);
  }
  return load(options);
}
