"""Bifoga's Pyodide worker: the heavy work, off the main thread.

It is the heavy path: started only when a picked file needs pixels changed (an iPhone photo to
convert, a photo over the limit to reduce) or when the light worker (light_worker.py,
MicroPython) cannot decide a file.

- prepare: reads the picked File here (FileReaderSync), decides by its content, and removes a
  photo's metadata losslessly (bifoga/media/metadata.py) before it can leave the device.
- reduce: scales and re-encodes a too large photo (Pillow, or the browser's decoder).
- upload: the tus upload (pure-Python protocol in bifoga.transfer.tus_client) over thin I/O: urllib
with   pyodide-http for the control requests, the browser's XHR with a Blob body for the bytes (a
  Blob body is about 5 times faster than a Uint8Array one in Chromium), then the chat message
  that announces the file.
- cancel: stops the upload and terminates it on the server; release: drops a held copy.
What each call takes and answers is bifoga/chat/worker_contract.py, for both workers. Progress goes
back through `sync.on_progress`, which the main thread sets on the worker object; callbacks can't
be passed as call arguments.
"""

# ruff: noqa: E402 - the first mark comes before the imports it times
import asyncio
import json

import js

# Where the start-up time goes: bench/ reads these marks in the worker.
js.performance.mark("bifoga:worker-start")
import sys

# The worker's memory snapshot (static/build/worker-snapshot.bin, scripts/worker_snapshot.py)
# comes with the modules below imported; they are used only if they are the files unpacked here.
if "bifoga_snapshot" in sys.modules:
    if sys.modules["bifoga_snapshot"].forget_if_stale():
        js.performance.mark("bifoga:worker-snapshot-modules")
    else:
        js.console.warn("The worker's snapshot is not from these files: importing them anew")
from pyodide.ffi import JsException, create_proxy, to_js
from pyscript import sync

from bifoga.chat.worker_contract import (
    Checked,
    Reduced,
    Uploaded,
    UploadRequest,
    retrying,
    send_held,
)
from bifoga.media import imaging, refusals
from bifoga.media.metadata import MetadataError, strip
from bifoga.media.metadata import inspect as metadata_inspect
from bifoga.media.sniff import classify
from bifoga.transfer.tus_client import ProgressPacer, Response, wait_or_stall

# urllib.request, email.parser and pyodide-http only serve the upload, and cost about a third of
# the worker's start in imports: the first upload imports them (_import_network).
urllib = Parser = None

js.performance.mark("bifoga:worker-imported")

_uploads = {}  # upload key -> Upload, so that cancel can reach it
# upload key -> what a check let through: the processed bytes (metadata removed or size
# reduced) as a Blob, or the checked File itself when there was nothing to change.
_prepared = {}
# Images whose metadata Bifoga removes losslessly before they leave the device.
STRIPPABLE = ("image/jpeg", "image/png", "image/webp", "image/gif", "image/heic", "image/heif")
# iPhone photos: converted to JPEG with Pillow and libheif-js (worker_heic.py) when both load.
HEIF = ("image/heic", "image/heif")
# Images the browser itself decodes, so it can verify them and reduce their size without Pillow.
BROWSER_DECODABLE = ("image/jpeg", "image/png", "image/webp", "image/gif")
MIN_LONG_SIDE = 2048


def _absolute(url):
    # Workers have no document base: every URL must be absolute.
    return str(js.URL.new(url, js.location.origin).href)


def _headers_dict(raw):
    return {k.lower(): v for k, v in Parser().parsestr(str(raw or "")).items()}


class BrowserTusIO:
    """The thin I/O under the tus client in the browser."""

    def __init__(self, file):
        self.file = file

    async def control(self, method, url, headers, body=b""):
        request = urllib.request.Request(url, data=body or None, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request) as resp:
                return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()},
                                resp.read())
        except urllib.error.HTTPError as exc:
            return Response(exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read())
        except (JsException, OSError) as exc:
            raise ConnectionError(str(exc)) from exc

    async def send(self, url, headers, start, end, on_progress):
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        xhr = js.XMLHttpRequest.new()
        xhr.open("PATCH", url, True)
        for name, value in headers.items():
            xhr.setRequestHeader(name, value)
        seen = {"loaded": 0, "at": self.now()}
        paced = ProgressPacer(on_progress, self.now)

        def progress(event):
            seen["loaded"], seen["at"] = int(event.loaded), self.now()
            paced(seen["loaded"], int(event.total))

        def loaded(event):
            if not done.done():
                done.set_result(None)

        def failed(event):
            if not done.done():
                done.set_exception(ConnectionError("network error during upload"))

        proxies = [create_proxy(progress), create_proxy(loaded), create_proxy(failed)]
        xhr.upload.addEventListener("progress", proxies[0])
        xhr.addEventListener("load", proxies[1])
        for event in ("error", "abort", "timeout"):
            xhr.addEventListener(event, proxies[2])
        try:
            xhr.send(self.file.slice(start, end))

            async def wait():
                await asyncio.wait([done], timeout=1.0)

            if await wait_or_stall(self, url, headers, end - start, seen, done.done, wait):
                xhr.abort()
            await done
        except asyncio.CancelledError:
            if not done.done():
                done.cancel()
            xhr.abort()  # cancel (or page teardown) must stop the bytes, not just the wait
            raise
        finally:
            xhr.upload.removeEventListener("progress", proxies[0])
            xhr.removeEventListener("load", proxies[1])
            for event in ("error", "abort", "timeout"):
                xhr.removeEventListener(event, proxies[2])
            for proxy in proxies:
                proxy.destroy()
        return Response(int(xhr.status), _headers_dict(xhr.getAllResponseHeaders()), b"")

    async def sleep(self, seconds):
        await asyncio.sleep(seconds)

    def now(self):
        return float(js.performance.now()) / 1000.0


def _read_file(file):
    """The whole File as bytes (at most the size limit; FileReaderSync is fast in a worker)."""
    return js.FileReaderSync.new().readAsArrayBuffer(file).to_py().tobytes()


def _blob(data, mime):
    return js.Blob.new(to_js([to_js(memoryview(data))]), to_js({"type": mime}))


async def _decodes(blob):
    """Whether the browser can decode the image (the one it would show)."""
    try:
        bitmap = await js.createImageBitmap(blob)
    except JsException:
        return False
    bitmap.close()
    return True


def _elapsed_ms(started):
    return round(float(js.performance.now() - started), 1)


async def prepare(file, name, key, keep_capture_date, max_bytes):
    """Check a picked file by its content and, for a photo or a film, remove its metadata here;
    an iPhone photo (HEIC/HEIF) becomes a JPEG that every browser shows.

    Answers worker_contract.Checked (as JSON). The processed bytes wait in the worker until
    upload or discard.
    """
    started = js.performance.now()
    release(key)
    try:
        data = _read_file(file)
        verdict = classify(data, str(name))
    except Exception as exc:  # noqa: BLE001 - report, never crash the worker
        return Checked(reason=refusals.CHECK_FAILED, detail=str(exc)[:200]).to_json()
    result = Checked(ok=verdict.ok, mime=verdict.mime, category=verdict.category,
                     reason=verdict.reason, size=len(data), removed=[])
    keep = bool(keep_capture_date)
    if verdict.ok and verdict.category == "video":
        await _prepare_film(data, key, keep, int(max_bytes), result)
    elif verdict.ok and verdict.mime in HEIF and await _load_pillow():
        await _prepare_heic(data, key, keep, int(max_bytes), result)
    elif verdict.ok and verdict.category == "image":
        await _prepare_photo(data, key, keep, int(max_bytes), result)
    if result.ok and str(key) not in _prepared:  # nothing to change: the file goes as it is
        _keep_prepared(key, file, result.mime)
    result.held = result.ok
    result.processing_ms = _elapsed_ms(started)
    return result.to_json()


def _refuse(result, reason, cause=""):
    result.ok, result.reason, result.detail = False, reason, str(cause)[:200]


async def _prepare_photo(data, key, keep, max_bytes, result):
    too_large = len(data) > max_bytes
    out = data
    if result.mime in STRIPPABLE:
        try:
            stripped = strip(data, keep_capture_date=keep)
        except MetadataError as exc:
            return _refuse(result, refusals.IMAGE_DOES_NOT_DECODE, exc)
        out = stripped.data
        result.removed = list(stripped.removed)
    blob = _blob(out, result.mime)
    # HEIC without Pillow: Chromium can't show it, so it is not decoded here; it travels as a
    # file card, metadata removed all the same.
    if result.mime in BROWSER_DECODABLE and not await _decodes(blob):
        return _refuse(result, refusals.IMAGE_DOES_NOT_DECODE)
    result.size = len(out)
    result.reducible = too_large and result.mime in BROWSER_DECODABLE
    if too_large:
        result.ok, result.reason = False, refusals.TOO_LARGE
    else:
        _keep_prepared(key, blob, result.mime)


async def _prepare_film(data, key, keep, max_bytes, result):
    """Location, device and software leave the film; every audio and video sample stays as
    it is (bifoga.media.film_meta / film_ebml overwrite in place)."""
    try:
        stripped = strip(data, keep_capture_date=keep)
    except MetadataError as exc:
        # The server cannot walk it either (415): say so now, not after the upload.
        return _refuse(result, refusals.TYPE_NOT_ALLOWED, exc)
    result.removed = list(stripped.removed)
    result.size = len(stripped.data)
    _keep_prepared(key, _blob(stripped.data, result.mime), result.mime)


async def _prepare_heic(data, key, keep, max_bytes, result):
    """An iPhone photo as a JPEG every browser shows: upright as taken, no location and no
    device identity; the capture date only with "Behåll fotodatum"."""
    from worker_heic import HeicError, decode_heic

    try:
        found = metadata_inspect(data)
        pixels, width, height = await decode_heic(data)
        jpeg = imaging.jpeg_from_rgba(pixels, width, height,
                                      found.capture_date if keep else None)
        if len(jpeg) > max_bytes:
            jpeg = imaging.reduce_to_fit(jpeg, max_bytes, MIN_LONG_SIDE).data
    except (HeicError, MetadataError, JsException, OSError, ValueError) as exc:
        return _refuse(result, refusals.IMAGE_DOES_NOT_DECODE, exc)
    result.mime, result.size, result.converted = "image/jpeg", len(jpeg), True
    result.removed = [label for label in found.found if not (keep and label == "datetime")]
    blob = _blob(jpeg, "image/jpeg")
    result.preview_url = _keep_prepared(key, blob, "image/jpeg", preview=True)


def _keep_prepared(key, blob, mime, preview=False):
    """The bytes to send, kept until upload or discard; with preview, also an object URL the
    preview shows (a blob URL made here is valid in the page of the same origin)."""
    url = str(js.URL.createObjectURL(blob)) if preview else ""
    _prepared[str(key)] = {"blob": blob, "size": int(blob.size), "mime": mime, "url": url}
    return url


async def reduce(file, key, max_bytes):
    """Scale and re-encode a too large photo until it fits, longest side >= 2048 px if it can.

    With Pillow in the worker it does the work; without it, the browser's own decoder and
    encoder (createImageBitmap + OffscreenCanvas.convertToBlob). Either way the result is an
    upright JPEG with no metadata at all. Answers worker_contract.Reduced (as JSON).
    """
    max_bytes = int(max_bytes)
    started = js.performance.now()
    if await _load_pillow():
        try:
            reduced = imaging.reduce_to_fit(_read_file(file), max_bytes, MIN_LONG_SIDE)
        except MetadataError as exc:
            return Reduced(detail=str(exc)[:200]).to_json()
        blob, width, height = _blob(reduced.data, "image/jpeg"), reduced.width, reduced.height
    else:
        bitmap = await js.createImageBitmap(file)
        width, height = int(bitmap.width), int(bitmap.height)
        blob = None
        for scale, quality in imaging.reduction_plan(width, height, MIN_LONG_SIDE):
            w, h = max(1, round(width * scale)), max(1, round(height * scale))
            canvas = js.OffscreenCanvas.new(w, h)
            canvas.getContext("2d").drawImage(bitmap, 0, 0, w, h)
            candidate = await canvas.convertToBlob(to_js({"type": "image/jpeg",
                                                          "quality": quality}))
            if int(candidate.size) <= max_bytes:
                blob, width, height = candidate, w, h
                break
        bitmap.close()
        if blob is None:
            return Reduced(detail="could not reduce").to_json()
    release(key)
    _keep_prepared(key, blob, "image/jpeg")
    return Reduced(ok=True, size=int(blob.size), width=width, height=height,
                   processing_ms=_elapsed_ms(started)).to_json()


def release(key):
    """Drop the held copy of a file and its object URLs (preview, sender's chat)."""
    dropped = _prepared.pop(str(key), None)
    for name in ("url", "local_url"):
        if dropped and dropped.get(name):
            js.URL.revokeObjectURL(dropped[name])
    return True


async def _post_json(url, token, payload):
    """POST JSON, trying again after a lost connection, 408, 423, 429 or 5xx, on the one retry
    policy of an upload (bifoga.transfer.retry, as the tus transfer). Returns (status, body) of the
    final answer; ConnectionError if none came. Safe for the finalisation: the server answers a
    repeat with 200 and the message it already made."""
    data = json.dumps(payload).encode()
    headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}

    async def attempt():
        try:
            request = urllib.request.Request(url, data=data, method="POST", headers=headers)
            with urllib.request.urlopen(request) as resp:
                return resp.status, None, resp.read(), None
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("Retry-After"), exc.read(), None
        except (JsException, OSError) as exc:
            return None, None, b"", ConnectionError(str(exc))

    return await retrying(attempt, lambda: float(js.performance.now()) / 1000.0,
                          asyncio.sleep)


async def upload(request_json):
    """Upload the copy held under the request's key over tus, then post the chat message that
    announces the file. Takes worker_contract.UploadRequest, answers worker_contract.Uploaded
    (JSON), with an object URL of what was sent for the sender's own chat (until release)."""
    request = UploadRequest.from_json(request_json)
    _import_network()

    # Only what this worker has checked is sent: the processed bytes (metadata removed, or
    # size reduced), or the checked file as it is. The main thread may offer "Ladda upp" from
    # the first bytes alone, so this is the last guard.
    prepared = _prepared.get(request.key)
    if prepared is None:
        return Uploaded(error=refusals.CHECK_FAILED, detail="not checked").to_json()
    blob = prepared["blob"]

    def local_url():
        prepared["local_url"] = str(js.URL.createObjectURL(blob))
        return prepared["local_url"]

    answer = await send_held(request, BrowserTusIO(blob), int(blob.size), prepared["mime"],
                             _absolute, _post_json, _now_ms, _report, _uploads, release,
                             local_url)
    return answer.to_json()


def _now_ms():
    return float(js.performance.now())


def _report(message):
    sync.on_progress(message.to_json())


async def cancel(key):
    tus = _uploads.get(str(key))
    if tus is not None:
        await tus.cancel()
    return True


_pillow_loading = None  # loadPackage("pillow")'s promise, made on first need (never at start-up)


async def _load_pillow():
    """Pillow, loaded on first need: True when it can be imported."""
    global _pillow_loading
    try:
        if _pillow_loading is None:
            import pyodide_js

            vendored = "pillow" in pyodide_js.lockfile.packages.object_keys()
            _pillow_loading = (pyodide_js.loadPackage("pillow") if vendored
                               else js.Promise.resolve(None))
        await _pillow_loading
    except Exception:  # noqa: BLE001 - without Pillow the browser's decoder does the work
        pass
    return imaging.pillow_available()


def _import_network():
    """The upload's imports, on the first upload: between two calls nothing runs in this
    worker, so nothing of its own can stand in a call's way."""
    global urllib, Parser
    if Parser is not None:
        return
    import urllib.error
    import urllib.request
    from email.parser import Parser as parser

    import pyodide_http  # urllib over the browser's XHR

    pyodide_http.patch_all()
    Parser = parser


js.performance.mark("bifoga:worker-ready")

__export__ = ["prepare", "reduce", "release", "upload", "cancel"]
