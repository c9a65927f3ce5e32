// Bifoga's entry to Pyodide, named by worker.toml; scripts/vendor_runtime.py puts it beside
// pyodide.mjs. It is Pyodide's loadPyodide, started from the memory snapshot made at set-up
// (snapshot.bin, scripts/pyodide_snapshot.mjs): CPython's own start-up, seconds of CPU, is
// skipped. Without a snapshot (or if it does not load) Pyodide starts the ordinary way.
// The snapshot is public code's state, not patient data: it comes from the HTTP cache only.
import { loadPyodide as load, version } from "./pyodide.mjs";

export { version };

export async function loadPyodide(options = {}) {
  const snapshot = await fetch(new URL("snapshot.bin", import.meta.url))
    .then((response) => (response.ok ? response.arrayBuffer() : null))
    .catch(() => null);
  performance.mark("bifoga:snapshot-fetched");
  if (snapshot) {
    try {
      return await load({ ...options, _loadSnapshot: new Uint8Array(snapshot) });
    } catch (error) {
      console.warn("Pyodide's snapshot did not load; starting without it", error);
    }
  }
  return load(options);
}
