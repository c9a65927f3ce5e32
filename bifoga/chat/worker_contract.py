"""What the main thread and the workers say to each other, defined once.

Two workers answer the same calls: the light one (light_worker.py, MicroPython: check, metadata
removal, upload for everything that needs no pixel work) and the Pyodide one (worker.py: the
same, plus a HEIC to convert or a photo to reduce, with Pillow). Each message is a small class
with named fields and defaults. Between the interpreters it travels as a JSON string
(`to_json` / `from_json`): plain values cross PyScript's worker boundary reliably, Python
objects do not. Pure and MicroPython-safe: every side imports it.

Calls (both workers; reduce only the Pyodide one):
- prepare(file, name, key, keep_date, max_bytes) -> Checked. With `held`, the worker now holds
  the checked copy (metadata removed) of the file under `key`, until upload or release.
  `hand_over`: the light worker cannot do this file; the Pyodide worker is asked.
- reduce(file, key, max_bytes) -> Reduced (holds the reduced copy)
- upload(UploadRequest) -> Uploaded: sends the copy held under the request's key
- release(key): drops the held copy and its object URLs; cancel(key)
and back, through the worker object's `on_progress` attribute (callbacks can't be call
arguments): Progress (sent/total, or a tus_client state).

`processing_ms`, `transfer_ms` and `finalise_ms` are where the worker's time went; the main
thread records them as performance measures (adapters/worker_client.py), which
`make bench` reads.
"""

import json


class _Message:
    FIELDS = {}  # name -> default (immutable defaults only)

    def __init__(self, **values):
        for name, default in self.FIELDS.items():
            setattr(self, name, values.pop(name, default))
        if values:
            raise TypeError("unknown fields: " + ", ".join(sorted(values)))

    def to_dict(self):
        return {name: getattr(self, name) for name in self.FIELDS}

    def to_json(self):
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, raw):
        data = json.loads(str(raw))
        return cls(**{k: v for k, v in data.items() if k in cls.FIELDS})

    def __eq__(self, other):
        return type(self) is type(other) and self.to_dict() == other.to_dict()

    def __repr__(self):
        return type(self).__name__ + repr(self.to_dict())


class Checked(_Message):
    """The verdict on a picked file's content; for a photo, what metadata goes.

    reason: a bifoga.media.refusals code when not ok. reducible: a photo only too large, that
    "Minska storlek" can make fit. converted: an iPhone photo (HEIC/HEIF) made a JPEG, which
    preview_url (an object URL the worker made and revokes) shows. held: the worker holds the
    copy to send. hand_over: the light worker leaves this file to the Pyodide worker.
    """

    FIELDS = {"ok": False, "reason": None, "detail": "", "mime": "", "category": "document",
              "size": 0, "removed": (), "reducible": False, "processing_ms": None,
              "converted": False, "preview_url": "", "held": False, "hand_over": False}


class Reduced(_Message):
    """A too large photo scaled and re-encoded as JPEG, or why not."""

    FIELDS = {"ok": False, "detail": "", "size": 0, "width": 0, "height": 0,
              "mime": "image/jpeg", "processing_ms": None}


class UploadRequest(_Message):
    """One upload of the copy held under `key`: the tus endpoint (from the config's
    upload_endpoint_template), the URL that turns the finished upload into a chat message, and
    the visit token."""

    FIELDS = {"key": "", "name": "", "endpoint": "", "finalise_url": "", "token": ""}


class Uploaded(_Message):
    """ok: the chat message the server made, and local_url: an object URL of the very bytes
    sent, for the sender's own chat (valid until release). Otherwise error (a server error
    code, "network", "cancelled" or a tus client code) and the HTTP status when there was
    one."""

    FIELDS = {"ok": False, "message": None, "error": None, "status": None, "detail": "",
              "transfer_ms": None, "finalise_ms": None, "local_url": ""}


class Progress(_Message):
    """An upload's progress (sent of total bytes), or its new tus_client state."""

    FIELDS = {"key": "", "sent": 0, "total": 0, "state": ""}


def upload_endpoint(template, visit_id):
    """The config's `upload_endpoint_template` for one visit."""
    return template.replace("{visit_id}", visit_id)


RECONNECTING = "reconnecting"


def progress_reporters(key, report):
    """The tus client's on_progress and on_state for the upload of `key`, each handing a
    Progress to report(). Of the states, only what the page shows goes: "reconnecting", and
    the state that ends it. A report is a call the worker waits on until the page's thread has
    taken it (PyScript's sync), so the states nobody reads ("uploading" before the creation
    request, "done") would hold the upload whenever that thread is busy."""
    shown = [None]

    def progress(sent, total):
        report(Progress(key=key, sent=sent, total=total))

    def state(value):
        if value != shown[0] and RECONNECTING in (value, shown[0]):
            shown[0] = value
            report(Progress(key=key, state=value))

    return progress, state


async def send_held(request, io, size, mime, absolute, post_json, now_ms, report, uploads,
                    release, local_url, refusal=None):
    """upload() of both workers: send the held copy (io: the worker's tus I/O over it, size
    bytes of type mime) over tus, then post the finalisation that makes the chat message.
    Answers Uploaded.

    absolute(url) makes a URL absolute; post_json(url, token, payload) -> (status, body), an
    OSError when no answer came; now_ms() a clock in ms; report(Progress); uploads (key ->
    the running Upload, which cancel() reads); release(key) drops the copy when it was not
    sent; local_url() an object URL of what was sent, made once it has been.

    refusal: a check still running while the bytes go (metadata is removed before, always),
    an async callable answering a refusal reason or None. A refusal stops the transfer at
    once, terminates the upload on the server, and is the answer; nothing is finalised
    before it has said None."""
    # Imported here: the main thread imports this module too, and never uploads.
    import asyncio

    from bifoga.transfer.tus_client import TusError, Upload

    key, token = request.key, request.token
    progress, state = progress_reporters(key, report)
    up = Upload(io, absolute(request.endpoint), size, {"filename": request.name, "filetype": mime},
                headers={"Authorization": "Bearer " + token}, on_progress=progress,
                on_state=state)
    uploads[key] = up

    async def stop_if_refused():
        if await refusal():
            await up.cancel()

    watch = asyncio.create_task(stop_if_refused()) if refusal is not None else None
    started = now_ms()
    status = body = None
    try:
        url = await up.start()
        transferred = now_ms()
        if refusal is not None and await refusal():
            await watch  # until its cancel has terminated the upload on the server (DELETE)
            return Uploaded(error=await refusal())
        status, body = await post_json(absolute(request.finalise_url), token,
                                       {"upload_id": url.rstrip("/").split("/")[-1]})
    except TusError as exc:
        if refusal is not None and exc.code == "cancelled" and await refusal():
            await watch  # until its cancel has terminated the upload on the server (DELETE)
            return Uploaded(error=await refusal())
        return Uploaded(status=exc.status, error=exc.code, detail=str(exc))
    except OSError as exc:  # ConnectionError too
        return Uploaded(error="network", detail=str(exc))
    finally:
        if watch is not None:
            watch.cancel()  # a check left running when the upload failed otherwise
        uploads.pop(key, None)
        if status not in (200, 201):
            release(key)  # not sent: the copy (and its preview) goes
    return finalised(status, body, local_url, round(transferred - started, 1),
                     round(now_ms() - transferred, 1))


def finalised(status, body, local_url, transfer_ms, finalise_ms):
    """The Uploaded answer to the finalisation's (status, body); local_url() is called only
    when it made the message. transfer_ms and finalise_ms: where the time went, the tus
    transfer, then the server's checks."""
    if status in (200, 201):  # 200: an earlier try had made the message, its answer was lost
        return Uploaded(ok=True, message=json.loads(body), local_url=local_url(),
                        transfer_ms=transfer_ms, finalise_ms=finalise_ms)
    try:
        error = json.loads(body)
    except ValueError:
        error = {}
    return Uploaded(status=status, error=error.get("error"), detail=error.get("message", ""))


async def retrying(attempt, now, sleep):
    """A request on the upload's one retry policy (bifoga.transfer.retry): attempt() -> (status,
    Retry-After or None, body, the exception when no answer came, else None); now() in
    seconds; sleep(seconds) waits. Returns (status, body) of the final answer; raises the last
    exception when none came."""
    from bifoga.transfer.retry import parse_retry_after, should_retry

    started, tries = now(), 0
    while True:
        status, retry_after, body, failure = await attempt()
        delay = should_retry(status, tries, now() - started, parse_retry_after(retry_after))
        if delay is None:
            if failure is not None:
                raise failure
            return status, body
        tries += 1
        await sleep(delay)
