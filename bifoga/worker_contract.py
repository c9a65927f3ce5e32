"""What the main thread and the Pyodide worker (worker.py) say to each other, defined once.

Each message is a small class with named fields and defaults. Between the two interpreters it
travels as a JSON string (`to_json` / `from_json`): plain values cross PyScript's worker
boundary reliably, Python objects do not. Pure and MicroPython-safe: both sides import it.

Calls (worker.py's exports):
- prepare_attachment(file, name, key, keep_date, max_bytes) -> Checked
- reduce_attachment(file, key, max_bytes) -> Reduced
- upload_attachment(file, UploadRequest) -> Uploaded
- discard_prepared(key), cancel_upload(key)
and back, through the worker object's attributes (callbacks can't be call arguments):
on_upload_progress(key, sent, total), on_upload_state(key, state) with tus_client's states.

`processing_ms`, `transfer_ms` and `finalise_ms` are where the worker's time went; the main
thread records them as performance measures (components/worker_client.py), which
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

    reason: a bifoga.refusals code when not ok. reducible: a photo only too large, that
    "Minska storlek" can make fit. converted: an iPhone photo (HEIC/HEIF) made a JPEG, which
    preview_url (an object URL the worker made and revokes) shows.
    """

    FIELDS = {"ok": False, "reason": None, "detail": "", "mime": "", "category": "document",
              "size": 0, "removed": (), "reducible": False, "processing_ms": None,
              "converted": False, "preview_url": ""}


class Reduced(_Message):
    """A too large photo scaled and re-encoded as JPEG, or why not."""

    FIELDS = {"ok": False, "detail": "", "size": 0, "width": 0, "height": 0,
              "mime": "image/jpeg", "processing_ms": None}


class UploadRequest(_Message):
    """One upload: the tus endpoint (from the config's upload_endpoint_template), the URL that
    turns the finished upload into a chat message, and the visit token."""

    FIELDS = {"key": "", "name": "", "mime": "", "endpoint": "", "finalise_url": "",
              "token": ""}


class Uploaded(_Message):
    """ok: the chat message the server made. Otherwise error (a server error code, "network",
    "cancelled" or a tus client code) and the HTTP status when there was one."""

    FIELDS = {"ok": False, "message": None, "error": None, "status": None, "detail": "",
              "transfer_ms": None, "finalise_ms": None}


def upload_endpoint(template, visit_id):
    """The config's `upload_endpoint_template` for one visit."""
    return template.replace("{visit_id}", visit_id)
