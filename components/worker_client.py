"""The flows' `worker` adapter (bifoga/adapters.py): calls into the Pyodide worker (worker.py)
with the messages of bifoga/worker_contract.py.

Where the worker's time went travels in the contract; it is recorded here as performance
measures, which `make bench` reads (bench/README.md):
  bifoga:worker-processing   the last check or reduction of a photo in the worker
  bifoga:upload-transfer     the last upload's tus transfer
  bifoga:upload-finalise     the last upload's finalisation (the server's checks)
"""

from pyscript import window
from pyscript.ffi import to_js

from bifoga.worker_contract import Checked, Reduced, Uploaded


def _measure(name, duration_ms):
    if duration_ms is None:
        return
    end = float(window.performance.now())
    window.performance.measure(name, to_js({"start": end - float(duration_ms), "end": end}))


class WorkerClient:
    def __init__(self, engine):
        self.engine = engine

    async def prepare(self, file, name, key, keep_date, max_bytes):
        checked = Checked.from_json(await self.engine.prepare_attachment(
            file, name, key, keep_date, max_bytes))
        _measure("bifoga:worker-processing", checked.processing_ms)
        return checked

    async def reduce(self, file, key, max_bytes):
        reduced = Reduced.from_json(await self.engine.reduce_attachment(file, key, max_bytes))
        _measure("bifoga:worker-processing", reduced.processing_ms)
        return reduced

    async def upload(self, file, request):
        outcome = Uploaded.from_json(await self.engine.upload_attachment(file, request.to_json()))
        _measure("bifoga:upload-transfer", outcome.transfer_ms)
        _measure("bifoga:upload-finalise", outcome.finalise_ms)
        return outcome

    async def discard(self, key):
        await self.engine.discard_prepared(key)

    async def cancel(self, key):
        await self.engine.cancel_upload(key)
