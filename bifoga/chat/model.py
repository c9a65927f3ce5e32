"""The browser's one model (class `Model`; a variable holding it is called `model` too): the
visit and its attachments in one object. Pure: runs under MicroPython on the main thread and in
CPython in the tests.

Everything the UI shows is here, and only here:
- the visit as the API gave it (open or ended, role, participants), the chat's messages and the
  long-poll cursor, the config, how far each worker is (the light one, MicroPython, and the
  heavy one, Pyodide, started only when a file needs it);
- the picked files, one record each (`new_record`), from "checking" to "sent": each holds
  everything about its file, the File's opaque handle included;
- the object URLs the chat shows its files through (`object_urls`), until the visit ends;
- the filing list of the "Spara bilagor" reminder with its marks;
- which dialog is open, what the live regions say, and which control should get focus.

bifoga/chat/transitions.py computes the changes (event or result in, patch out);
bifoga/chat/flows.py runs the I/O; the components subscribe to their slice and render it.
"""

CHECKING = "checking"
READY = "ready"
REFUSED = "refused"
REDUCING = "reducing"
UPLOADING = "uploading"
SENT = "sent"
FAILED = "failed"
STATUSES = (CHECKING, READY, REFUSED, REDUCING, UPLOADING, SENT, FAILED)

# The workers: the light one (MicroPython) and the heavy one (Pyodide, for pixels).
LIGHT = "light"
HEAVY = "heavy"
STARTING = "starting"  # a worker's state besides READY and FAILED

# Dialogs; at most one is open at a time.
PREVIEW = "preview"
REMINDER = "reminder"
CONFIRM_END = "confirm_end"
VIEWER = "viewer"


def initial_state(lang="sv"):
    return {
        "lang": lang,
        "config": None,
        "visit": None,
        # Each worker: "" (not started), "starting", "ready" or "failed". The light one starts
        # with the page's runtime; the heavy one (Pyodide) on the first file that needs it.
        "workers": {LIGHT: "", HEAVY: ""},
        "worker_failed": "",  # why the heavy worker could not start
        "object_urls": {},  # attachment id -> object URL showing it, while the visit is open
        "cursor": 0,
        "messages": [],  # in chat order, each once
        "unshowable": [],  # ids of images the browser could not show: file cards instead
        "attachments": [],  # the picked files' records, in pick order
        "sending": False,  # an upload round is running: held here and nowhere else
        "preview_finished": False,  # a round left something unsent: the dialog only closes
        "composer_busy": False,
        "composer_sent": 0,  # counts texts sent, so the composer clears itself
        "dialog": None,
        "filing": None,  # {"attachments": [...], "ended": bool, "confirming": bool}
        "viewer": None,  # {"id", "url", "index", "count", "opener"}
        "notice": {"status": "", "alert": ""},  # the live regions' texts
        "dialog_alert": "",  # the open dialog's own alert line
        "focus": None,  # (target, serial): the control that should take focus now
    }


def new_record(key, name, size, mime, category, file=None):
    """One picked file. `reason` is a bifoga.media.refusals code, or an upload failure code. `file`
    is the picked File, an opaque handle: only adapters (the workers, the browser) look in."""
    return {
        "key": key, "file": file, "name": name, "size": size, "mime": mime,
        "category": category,
        "check_serial": 0,  # the newest check of this file; an older answer is late
        # Which worker holds the checked copy to send ("" none): the upload asks it by key.
        "holder": "",
        "imaging": False,  # waits for the heavy worker (Pyodide) to start
        "typed": False,  # the content says which type it is: mime and category are sure
        # The worker's full check is done (content, active content, metadata removed). "ready"
        # can come earlier, from the first bytes alone; nothing is sent before this is True.
        "verified": False,
        "waiting": False,  # "Ladda upp" was pressed and the file waits for that full check
        "status": CHECKING, "reason": None, "detail": "", "status_code": None,
        "progress": 0, "reconnecting": False, "removed": [], "keep_date": False,
        "has_date": False, "reducible": False, "reduced": None, "as_card": False,
        # An iPhone photo made a JPEG in the worker, and the object URL that shows it.
        "converted": False, "preview_url": "",
        "attachment_id": None,  # once sent: the chat's attachment it became
    }


class Model:
    """A flat dict; `apply(patch)` changes some keys and tells the subscribers of those keys."""

    def __init__(self, state=None):
        self._state = dict(state or initial_state())
        self._subscribers = []  # (keys or None, callback)

    def get(self, key, default=None):
        return self._state.get(key, default)

    @property
    def state(self):
        return self._state

    def snapshot(self):
        return dict(self._state)

    def subscribe(self, callback, keys=None):
        """callback(state, changed keys) after each patch touching `keys` (None: any)."""
        self._subscribers.append((tuple(keys) if keys else None, callback))

    def unsubscribe(self, callback):
        self._subscribers = [(k, c) for k, c in self._subscribers if c is not callback]

    def apply(self, patch):
        """Change the state and tell every subscriber of the changed keys. One subscriber that
        fails (a component's render) must not keep the others from hearing of the change: a
        flow waiting for it (Flows.until) would wait for ever. Its error goes to `on_error`."""
        if not patch:
            return []
        changed = [k for k, v in patch.items() if self._state.get(k, _MISSING) != v]
        if not changed:
            return []
        for k in changed:
            self._state[k] = patch[k]
        for keys, callback in list(self._subscribers):
            if keys is None or any(k in keys for k in changed):
                try:
                    callback(self._state, changed)
                except Exception as exc:  # noqa: BLE001 - reported; the others still hear
                    self.on_error(exc)
        return changed

    @staticmethod
    def on_error(exc):
        """A subscriber failed (app.py reports it in the console)."""
        print("bifoga: a subscriber failed:", repr(exc))


_MISSING = object()


# --- what the state says (selectors) -----------------------------------------------------------
def is_open(state):
    return (state.get("visit") or {}).get("state") == "open"


def can_pick(state):
    return is_open(state) and state.get("config") is not None and not state.get("sending")


def record(state, key):
    for rec in state["attachments"]:
        if rec["key"] == key:
            return rec
    return None


def worker_state(state, name):
    return state["workers"][name]


def held_by(state, key):
    """The worker holding the checked copy of a file ("" none)."""
    rec = record(state, key)
    return rec["holder"] if rec else ""


def is_mine(state, attachment_id):
    """Whether the chat's attachment was sent from this side of the visit."""
    role = (state.get("visit") or {}).get("role")
    for m in state["messages"]:
        if (m.get("attachment") or {}).get("id") == attachment_id:
            return m.get("sender_role") == role
    return False


def uploading(state):
    """The key of the file being uploaded, or None."""
    for rec in state["attachments"]:
        if rec["status"] == UPLOADING:
            return rec["key"]
    return None


def to_send(state):
    """The files "Ladda upp" sends: those that passed their checks (the first bytes' at least;
    the upload waits for the full one). The model decides, not the view."""
    if state.get("preview_finished"):
        return []
    return [rec["key"] for rec in state["attachments"] if rec["status"] == READY]


def attachments_in_chat(state):
    return [m["attachment"] for m in state["messages"]
            if m.get("kind") == "attachment" and m.get("attachment")]


def shown_inline(state, att):
    """Images and films show inline while the visit is open; after the end only as cards, so
    no file is fetched into memory any more."""
    return (is_open(state) and att.get("category") in ("image", "video")
            and att["id"] not in state["unshowable"])


def images(state):
    """The images the viewer steps through, in chat order."""
    return [a for a in attachments_in_chat(state)
            if a.get("category") == "image" and shown_inline(state, a)]


def unmarked(filing):
    return [a for a in filing["attachments"] if not a.get("mark")]
