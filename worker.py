"""Bifoga's Pyodide worker: the heavy work, off the main thread.

- check_attachment: reads the picked File here (FileReaderSync) and decides by its content.
- upload_attachment: the tus upload (pure-Python protocol in bifoga.tus_client) over thin I/O:
  urllib with pyodide-http for the control requests, the browser's XHR with a Blob body for the
  bytes (a Blob body is about 5 times faster than a Uint8Array one in Chromium), then the chat
  message that announces the file.
- cancel_upload: stops the upload and terminates it on the server.
Progress and state go back through `sync.on_upload_progress` / `sync.on_upload_state`, which
main.py sets on the worker object; callbacks can't be passed as call arguments.
"""

import asyncio
import json
import urllib.error
import urllib.request
from email.parser import Parser

import js
import pyodide_http
from pyodide.ffi import JsException, create_proxy
from pyscript import sync

from bifoga.sniff import classify
from bifoga.tus_client import Response, TusError, Upload

pyodide_http.patch_all()

_uploads = {}  # upload key -> Upload, so that cancel_upload can reach it
STALL_SECONDS = 30


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
        last_progress = [self.now()]

        def progress(event):
            last_progress[0] = self.now()
            on_progress(int(event.loaded))

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
            # A request that neither progresses nor fails (a half-open connection) counts as
            # dropped after STALL_SECONDS, so the tus client resumes from the server's offset.
            while not done.done():
                await asyncio.wait([done], timeout=1.0)
                if not done.done() and self.now() - last_progress[0] > STALL_SECONDS:
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


def check_attachment(file, name):
    """Decide by content whether the file may be sent. Returns JSON text."""
    try:
        data = _read_file(file)
        verdict = classify(data, str(name))
    except Exception as exc:  # noqa: BLE001 - report, never crash the worker
        return json.dumps({"ok": False, "reason": "check_failed", "detail": str(exc)[:200]})
    return json.dumps({"ok": verdict.ok, "mime": verdict.mime, "category": verdict.category,
                       "reason": verdict.reason, "size": len(data)})


def _post_json(url, token, payload):
    body = json.dumps(payload).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Authorization": "Bearer " + token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (JsException, OSError) as exc:
        raise ConnectionError(str(exc)) from exc


async def upload_attachment(file, params_json):
    """Upload over tus, then post the chat message that announces the file. Returns JSON."""
    params = json.loads(str(params_json))
    key, token = params["key"], params["token"]
    base = params["api_base"].rstrip("/") + "/visits/" + params["visit_id"]

    def progress(sent, total):
        sync.on_upload_progress(key, sent, total)

    def state(value):
        sync.on_upload_state(key, value)

    upload = Upload(
        BrowserTusIO(file), _absolute(base + "/uploads"), int(file.size),
        {"filename": params["name"], "filetype": params.get("mime") or ""},
        headers={"Authorization": "Bearer " + token}, on_progress=progress, on_state=state)
    _uploads[key] = upload
    try:
        url = await upload.start()
        status, body = _post_json(_absolute(base + "/attachments"), token,
                                  {"upload_id": url.rstrip("/").rsplit("/", 1)[-1]})
    except TusError as exc:
        return json.dumps({"ok": False, "status": exc.status, "error": exc.code,
                           "message": str(exc)})
    except ConnectionError as exc:
        return json.dumps({"ok": False, "status": None, "error": "network", "message": str(exc)})
    finally:
        _uploads.pop(key, None)
    if status == 201:
        return json.dumps({"ok": True, "message": json.loads(body)})
    try:
        error = json.loads(body)
    except ValueError:
        error = {}
    return json.dumps({"ok": False, "status": status, "error": error.get("error"),
                       "message": error.get("message", "")})


async def cancel_upload(key):
    upload = _uploads.get(str(key))
    if upload is not None:
        await upload.cancel()
    return True


def ready():
    return True


__export__ = ["check_attachment", "upload_attachment", "cancel_upload", "ready"]
