"""The flows' worker adapters (bifoga/chat/adapters.py): calls into a worker, the light one
(light_worker.py, MicroPython) or the Pyodide one (worker.py), with the messages of
bifoga/chat/worker_contract.py; both answer the same calls.

Where the worker's time went travels in the contract; it is recorded here as performance
measures, which `make bench` reads (bench/README.md):
  bifoga:worker-processing   the last check or reduction of a file in a worker
  bifoga:upload-transfer     the last upload's tus transfer
  bifoga:upload-finalise     the last upload's finalisation (the server's checks)
"""

from pyscript import window
from pyscript.ffi import to_js

from bifoga.chat.worker_contract import Checked, Progress, Reduced, Uploaded


def _measure(name, duration_ms):
    if duration_ms is None:
        return
    end = float(window.performance.now())
    window.performance.measure(name, to_js({"start": end - float(duration_ms), "end": end}))


class WorkerClient:
    def __init__(self, engine, on_progress):
        """on_progress(worker_contract.Progress): the worker calls its `on_progress` attribute
        (a callback can't travel as a call argument: "could not be cloned")."""
        self.engine = engine
        engine.on_progress = lambda raw: on_progress(Progress.from_json(raw))

    async def prepare(self, file, name, key, keep_date, max_bytes):
        checked = Checked.from_json(await self.engine.prepare(file, name, key, keep_date,
                                                              max_bytes))
        _measure("bifoga:worker-processing", checked.processing_ms)
        return checked

    async def reduce(self, file, key, max_bytes):
        reduced = Reduced.from_json(await self.engine.reduce(file, key, max_bytes))
        _measure("bifoga:worker-processing", reduced.processing_ms)
        return reduced

    async def upload(self, request):
        outcome = Uploaded.from_json(await self.engine.upload(request.to_json()))
        _measure("bifoga:upload-transfer", outcome.transfer_ms)
        _measure("bifoga:upload-finalise", outcome.finalise_ms)
        return outcome

    async def release(self, key):
        await self.engine.release(key)

    async def cancel(self, key):
        await self.engine.cancel(key)
