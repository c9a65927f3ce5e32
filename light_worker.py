"""Bifoga's light worker (MicroPython, the runtime the page has already loaded): a picked file
from check to server with no Pyodide download at all.

- prepare(file, name, key, keep_date, max_bytes): reads the File only through a BlobSource
  (FileReaderSync on file.slice: the parts the checks need, never the whole file), checks it
  (bifoga.media.sniff.classify_source) and removes a photo's or a film's metadata
  (bifoga.media.metadata.strip_source). What will be sent is a Blob built from the strip's Plan:
  slices of the File for what is kept, the few rewritten bytes for the rest. It holds that
  Blob until upload or release. A photo's decoding by the browser (createImageBitmap) starts
  with the check and may still run when the upload starts: it must succeed before the upload
  is finalised, and its failure stops the transfer.
- upload(request): the tus upload (bifoga.transfer.tus_client) of the held Blob over fetch (control
  requests) and XHR (the PATCH, so that progress is seen), then the chat message.
- cancel(key), release(key).

What it cannot do answers Checked(hand_over=True): an iPhone photo to convert, a photo over the
limit to reduce, a check it cannot decide, or a module that did not import here. The page then
gives the file to the Pyodide worker (worker.py). What each call takes and answers is
bifoga/chat/worker_contract.py.
"""

import asyncio
import json

import js
from pyscript import sync
from pyscript.ffi import to_js

from bifoga.chat.worker_contract import Checked, Uploaded, UploadRequest, retrying, send_held
from bifoga.media import refusals
from bifoga.media.source import Plan
from bifoga.transfer.tus_client import ProgressPacer, Response, wait_or_stall

js.performance.mark("bifoga:light-start")

try:  # the checks; where they do not import, every file goes to the Pyodide worker
    from bifoga.media.metadata import LIGHT_FORMATS, MetadataError, detect_format, strip_source
    from bifoga.media.sniff import UNDECIDED, classify_source
    CHECKS_MISSING = ""
except Exception as exc:  # noqa: BLE001 - any import failure means the same: hand over
    CHECKS_MISSING = str(exc)[:200] or type(exc).__name__

HEIF = ("image/heic", "image/heif")
# Images the browser decodes: it verifies them here (the one it would show).
BROWSER_DECODABLE = ("image/jpeg", "image/png", "image/webp", "image/gif")
# Response headers the tus client and the finalisation read.
HEADERS_READ = ("location", "upload-offset", "upload-length", "retry-after", "tus-resumable")

# key -> {"blob", "mime", "url", "decoding" (a _Decoding or None)}: what a check let through,
# until upload or release
_held = {}
_uploads = {}  # key -> Upload, so that cancel can reach it


# --- bytes across the JS boundary ---------------------------------------------------------------
# MicroPython's JS proxy copies a Uint8Array element by element (seconds per MiB); its
# Emscripten file system copies in bulk (milliseconds). This is the one place that knows.
_FS = None
_SCRATCH = "/bifoga-scratch"


def _fs():
    global _FS
    if _FS is None:
        try:
            _FS = js.Module.FS
            _FS.writeFile(_SCRATCH, js.Uint8Array.new(0))
        except Exception:  # noqa: BLE001 - no file system: the slow copy below
            _FS = False
    return _FS


def bytes_from_js(array_buffer):
    """The bytes of an ArrayBuffer."""
    fs = _fs()
    view = js.Uint8Array.new(array_buffer)
    n = int(view.length)
    if not fs:
        return bytes(view)
    fs.writeFile(_SCRATCH, view)
    with open(_SCRATCH, "rb") as f:
        return f.read(n) if n else b""


def bytes_to_js(data):
    """A Uint8Array with `data`."""
    fs = _fs()
    if not fs:
        return js.Uint8Array.new(data)
    with open(_SCRATCH, "wb") as f:
        f.write(data)
    return fs.readFile(_SCRATCH)


class BlobSource:
    """A bifoga.media.source Source over a File or Blob: each read is one FileReaderSync of a slice
    (synchronous; workers have it)."""

    def __init__(self, blob):
        self.blob = blob
        self.size = int(blob.size)
        self.reader = js.FileReaderSync.new()

    def read(self, offset, length):
        if offset < 0 or length < 0:
            raise ValueError("negative offset or length")
        end = min(self.size, offset + length)
        if offset >= end:
            return b""
        return bytes_from_js(self.reader.readAsArrayBuffer(self.blob.slice(offset, end)))


def plan_blob(file, plan, mime):
    """The Blob a Plan describes: slices of `file` and the rewritten bytes, no copy here."""
    if len(plan.pieces) == 1 and plan.pieces[0] == ("range", 0, int(file.size)):
        return file
    parts = js.Array.new()
    for piece in plan.pieces:
        if piece[0] == "range":
            parts.push(file.slice(piece[1], piece[2]))
        else:
            parts.push(bytes_to_js(piece[1]))
    return js.Blob.new(parts, to_js({"type": mime}))


# --- checking -------------------------------------------------------------------------------------
def _now_ms():
    return float(js.performance.now())


class _Decoding:
    """The browser's decoding of a picked photo (createImageBitmap), started at once: it runs on
    the browser's own threads while this one strips the file, and goes on while the stripped
    copy is sent; the upload is finalised only once it has decoded (send_held's refusal)."""

    def __init__(self, file):
        self.promise = js.createImageBitmap(file)
        self.ok = None  # None while it runs
        self.settled = asyncio.Event()
        asyncio.create_task(self._settle())  # and the bitmap is let go, whoever asks

    async def _settle(self):
        try:
            bitmap = await self.promise
        except Exception:  # noqa: BLE001 - any failure to decode is the same: it does not
            self.ok = False
        else:
            bitmap.close()
            self.ok = True
        self.settled.set()

    async def refusal(self):
        """IMAGE_DOES_NOT_DECODE once it failed, None once it decoded."""
        await self.settled.wait()
        return None if self.ok else refusals.IMAGE_DOES_NOT_DECODE


def _hold(key, blob, mime, decoding):
    release(key)
    _held[str(key)] = {"blob": blob, "mime": mime, "url": "", "decoding": decoding}


async def prepare(file, name, key, keep_date, max_bytes):
    """Check a picked file and remove its metadata; answers worker_contract.Checked (JSON)."""
    started = _now_ms()
    release(key)
    if CHECKS_MISSING:
        return Checked(hand_over=True, detail=CHECKS_MISSING).to_json()
    try:
        result = await _prepare(file, str(name), str(key), bool(keep_date), int(max_bytes))
    except Exception as exc:  # noqa: BLE001 - what this worker cannot decide, Pyodide may
        result = Checked(hand_over=True, detail=(type(exc).__name__ + ": " + str(exc))[:200])
    result.processing_ms = round(_now_ms() - started, 1)
    return result.to_json()


async def _prepare(file, name, key, keep, max_bytes):
    source = BlobSource(file)
    verdict = classify_source(source, name)
    if not verdict.ok and verdict.reason == UNDECIDED:  # only the full check can tell
        return Checked(hand_over=True, detail=UNDECIDED)
    if not verdict.ok:
        return Checked(reason=verdict.reason, size=source.size)
    mime = verdict.mime
    if mime in HEIF:  # to convert: pixels change
        return Checked(hand_over=True, mime=mime, category=verdict.category)
    if source.size > max_bytes:
        if mime in BROWSER_DECODABLE:  # "Minska storlek" offers the reduction (heavy worker)
            return Checked(reason=refusals.TOO_LARGE, reducible=True, mime=mime,
                           category=verdict.category, size=source.size)
        return Checked(hand_over=True, detail="too large")
    # The picked photo is what is decoded: the pixel data sent are slices of that very File,
    # and the server decodes what arrives.
    decoding = _Decoding(file) if mime in BROWSER_DECODABLE else None
    return await _prepared(file, source, verdict, key, keep, decoding)


async def _prepared(file, source, verdict, key, keep, decoding):
    mime = verdict.mime
    result = Checked(ok=True, mime=mime, category=verdict.category, size=source.size,
                     removed=[], held=True)
    if verdict.category in ("image", "video"):
        fmt = detect_format(source)
        if fmt not in LIGHT_FORMATS:  # its remover needs CPython: the Pyodide worker
            return Checked(hand_over=True, mime=mime, category=verdict.category,
                           detail=str(fmt))
        try:
            stripped = strip_source(source, keep)
        except MetadataError as exc:
            reason = (refusals.TYPE_NOT_ALLOWED if verdict.category == "video"
                      else refusals.IMAGE_DOES_NOT_DECODE)
            return Checked(reason=reason, detail=str(exc)[:200], size=source.size)
        plan = stripped.plan
        result.removed = list(stripped.removed)
    else:
        plan = Plan()
        plan.keep(0, source.size)
    if decoding is not None and decoding.ok is False:  # known already: said at once
        return Checked(reason=refusals.IMAGE_DOES_NOT_DECODE, size=source.size)
    blob = plan_blob(file, plan, mime)
    result.size = int(blob.size)
    _hold(key, blob, mime, decoding)
    return result


def release(key):
    """Drop the held copy of a file and its object URL."""
    held = _held.pop(str(key), None)
    if held and held["url"]:
        js.URL.revokeObjectURL(held["url"])
    return True


# --- uploading ------------------------------------------------------------------------------------
def _absolute(url):
    return str(js.URL.new(url, js.location.origin).href)


def _response_headers(resp_headers):
    out = {}
    for name in HEADERS_READ:
        value = resp_headers.get(name)
        if value is not None:
            out[name] = str(value)
    return out


async def _fetch(method, url, headers, body=None):
    options = {"method": method, "headers": headers}
    if body:
        options["body"] = body
    try:
        resp = await js.fetch(url, to_js(options))
        text = str(await resp.text())
    except Exception as exc:  # noqa: BLE001 - no answer: the tus client's transient failure
        raise OSError("network: " + str(exc)[:200])  # noqa: B904
    return Response(int(resp.status), _response_headers(resp.headers), text.encode())


class LightTusIO:
    """The tus client's I/O here: fetch for the control requests, XHR for the PATCH (its
    upload progress), with a Blob slice as the body."""

    def __init__(self, blob):
        self.blob = blob

    async def control(self, method, url, headers, body=b""):
        return await _fetch(method, url, headers, body.decode() if body else None)

    async def send(self, url, headers, start, end, on_progress):
        done = asyncio.Event()
        seen = {"loaded": 0, "at": self.now(), "failed": False}
        xhr = js.XMLHttpRequest.new()
        xhr.open("PATCH", url, True)
        for name, value in headers.items():
            xhr.setRequestHeader(name, value)

        paced = ProgressPacer(on_progress, self.now)

        def progress(event):
            seen["loaded"], seen["at"] = int(event.loaded), self.now()
            paced(seen["loaded"], int(event.total))

        def loaded(event):
            done.set()

        def failed(event):
            seen["failed"] = True
            done.set()

        async def wait():
            try:
                await asyncio.wait_for(done.wait(), 1.0)
            except asyncio.TimeoutError:  # noqa: UP041 - MicroPython has no builtin one
                pass

        xhr.upload.onprogress = progress
        xhr.onload = loaded
        xhr.onerror = xhr.onabort = xhr.ontimeout = failed
        try:
            xhr.send(self.blob.slice(start, end))
            if await wait_or_stall(self, url, headers, end - start, seen, done.is_set, wait):
                xhr.abort()
                await done.wait()
        except asyncio.CancelledError:
            xhr.abort()  # cancel (or page teardown) must stop the bytes, not just the wait
            raise
        finally:
            xhr.upload.onprogress = xhr.onload = xhr.onerror = None
            xhr.onabort = xhr.ontimeout = None
        if seen["failed"]:
            raise OSError("network error during upload")
        raw = {}
        for name in HEADERS_READ:
            value = xhr.getResponseHeader(name)
            if value is not None:
                raw[name] = str(value)
        return Response(int(xhr.status), raw, str(xhr.responseText or "").encode())

    async def sleep(self, seconds):
        await asyncio.sleep(seconds)

    def now(self):
        return _now_ms() / 1000.0


async def _post_json(url, token, payload):
    """POST JSON on the upload's one retry policy (bifoga.transfer.retry); (status, body) of the
    final answer, OSError if none came. The server answers a repeat with the message already
    made."""
    headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}

    async def attempt():
        try:
            resp = await _fetch("POST", url, headers, json.dumps(payload))
        except OSError as exc:
            return None, None, b"", exc
        return resp.status, resp.headers.get("retry-after"), resp.body, None

    return await retrying(attempt, lambda: _now_ms() / 1000.0, asyncio.sleep)


def _report(message):
    try:
        sync.on_progress(message.to_json())
    except Exception:  # noqa: BLE001 - the page may be going; the upload goes on
        pass


async def upload(request_json):
    """Upload the held copy of request.key over tus, then post the chat message. Answers
    worker_contract.Uploaded (JSON), with an object URL of what was sent (`local_url`) for the
    sender's own chat; the copy stays held until release(key)."""
    request = UploadRequest.from_json(request_json)
    held = _held.get(request.key)
    if held is None:
        return Uploaded(error=refusals.CHECK_FAILED, detail="not checked").to_json()
    blob = held["blob"]

    def local_url():
        held["url"] = str(js.URL.createObjectURL(blob))
        return held["url"]

    decoding = held["decoding"]
    answer = await send_held(request, LightTusIO(blob), int(blob.size), held["mime"], _absolute,
                             _post_json, _now_ms, _report, _uploads, release, local_url,
                             refusal=decoding.refusal if decoding is not None else None)
    return answer.to_json()


async def cancel(key):
    up = _uploads.get(str(key))
    if up is not None:
        await up.cancel()
    return True


js.performance.mark("bifoga:light-ready")

__export__ = ["prepare", "upload", "cancel", "release"]
