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
