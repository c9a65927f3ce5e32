"""Bifoga's light worker (MicroPython, the runtime the page has already loaded): a picked file
from check to server with no Pyodide download at all.

- prepare(file, name, key, keep_date, max_bytes): reads the File only through a BlobSource
  (FileReaderSync on file.slice: the parts the checks need, never the whole file), checks it
  (bifoga.media.sniff.classify_source) and removes a photo's or a film's metadata
  (bifoga.media.metadata.strip_source). What will be sent is a Blob built from the strip's Plan:
  slices of the File for what is kept, the few rewritten bytes for the rest. It holds that
  Blob until upload or release.
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

from bifoga.chat.worker_contract import Checked, Progress, Uploaded, UploadRequest
from bifoga.media import refusals
from bifoga.media.source import Plan
from bifoga.transfer.retry import STALL_SECONDS, is_stalled, parse_retry_after, should_retry
from bifoga.transfer.tus_client import ProgressPacer, Response, TusError, Upload

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

_held = {}  # key -> {"blob", "mime", "url"}: what a check let through, until upload or release
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


async def _decodes(blob):
    try:
        bitmap = await js.createImageBitmap(blob)
    except Exception:  # noqa: BLE001 - any failure to decode is the same: it does not
        return False
    bitmap.close()
    return True


def _hold(key, blob, mime):
    release(key)
    _held[str(key)] = {"blob": blob, "mime": mime, "url": ""}


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
    blob = plan_blob(file, plan, mime)
    if mime in BROWSER_DECODABLE and not await _decodes(blob):
        return Checked(reason=refusals.IMAGE_DOES_NOT_DECODE, size=source.size)
    result.size = int(blob.size)
    _hold(key, blob, mime)
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

        xhr.upload.onprogress = progress
        xhr.onload = loaded
        xhr.onerror = xhr.onabort = xhr.ontimeout = failed
        length = end - start
        asked = -1  # the server's offset when last asked
        try:
            xhr.send(self.blob.slice(start, end))
            while not done.is_set():
                try:
                    await asyncio.wait_for(done.wait(), 1.0)
                except asyncio.TimeoutError:  # noqa: UP041 - MicroPython has no builtin one
                    pass
                idle = self.now() - seen["at"]
                if done.is_set() or idle <= STALL_SECONDS:
                    continue
                # No progress for STALL_SECONDS. When XHR says every byte went, the OS may
                # still be sending them: the server's offset tells whether they still flow.
                handed_over = seen["loaded"] >= length
                offset = await self._server_offset(url, headers) if handed_over else None
                if not is_stalled(idle, handed_over, offset, asked):
                    asked, seen["at"] = offset, self.now()
                    continue
                xhr.abort()
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

    async def _server_offset(self, url, headers):
        ask = {k: v for k, v in headers.items()
               if k.lower() in ("authorization", "tus-resumable")}
        try:
            resp = await self.control("HEAD", url, ask)
            return int(resp.headers["upload-offset"]) if resp.status < 300 else None
        except (OSError, KeyError, ValueError):
            return None

    async def sleep(self, seconds):
        await asyncio.sleep(seconds)

    def now(self):
        return _now_ms() / 1000.0


async def _post_json(url, token, payload):
    """POST JSON on the upload's one retry policy (bifoga.transfer.retry); (status, body) of the
       final
    answer, OSError if none came. The server answers a repeat with the message already made."""
    headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    started, attempt = _now_ms(), 0
    while True:
        status, retry_after, body, failure = None, None, b"", None
        try:
            resp = await _fetch("POST", url, headers, json.dumps(payload))
            status, body = resp.status, resp.body
            retry_after = resp.headers.get("retry-after")
        except OSError as exc:
            failure = exc
        delay = should_retry(status, attempt, (_now_ms() - started) / 1000.0,
                             parse_retry_after(retry_after))
        if delay is None:
            if failure is not None:
                raise failure
            return status, body
        attempt += 1
        await asyncio.sleep(delay)


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
    key, token = request.key, request.token
    held = _held.get(key)
    if held is None:
        return Uploaded(error=refusals.CHECK_FAILED, detail="not checked").to_json()
    blob = held["blob"]

    def progress(sent, total):
        _report(Progress(key=key, sent=sent, total=total))

    def state(value):
        _report(Progress(key=key, state=value))

    up = Upload(LightTusIO(blob), _absolute(request.endpoint), int(blob.size),
                {"filename": request.name, "filetype": held["mime"]},
                headers={"Authorization": "Bearer " + token}, on_progress=progress,
                on_state=state)
    _uploads[key] = up
    started = _now_ms()
    status = body = None
    try:
        url = await up.start()
        transferred = _now_ms()
        status, body = await _post_json(_absolute(request.finalise_url), token,
                                        {"upload_id": url.rstrip("/").split("/")[-1]})
    except TusError as exc:
        return Uploaded(status=exc.status, error=exc.code, detail=str(exc)).to_json()
    except OSError as exc:
        return Uploaded(error="network", detail=str(exc)).to_json()
    finally:
        _uploads.pop(key, None)
        if status not in (200, 201):
            release(key)  # not sent: the copy goes
    if status in (200, 201):  # 200: an earlier try had made the message, its answer was lost
        held["url"] = str(js.URL.createObjectURL(blob))
        return Uploaded(ok=True, message=json.loads(body), local_url=held["url"],
                        transfer_ms=round(transferred - started, 1),
                        finalise_ms=round(_now_ms() - transferred, 1)).to_json()
    try:
        error = json.loads(body)
    except ValueError:
        error = {}
    return Uploaded(status=status, error=error.get("error"),
                    detail=error.get("message", "")).to_json()


async def cancel(key):
    up = _uploads.get(str(key))
    if up is not None:
        await up.cancel()
    return True


js.performance.mark("bifoga:light-ready")

__export__ = ["prepare", "upload", "cancel", "release"]
