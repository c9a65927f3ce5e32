"""The app's flows: picking, checking, reducing, uploading, the chat, ending and filing, the
viewer. Each awaits its I/O through the injected adapters (bifoga/adapters.py) and applies the
patches bifoga/transitions.py computes, so the flows run, and are tested, without a browser.
MicroPython-safe: no `js`, no `pyscript`.
"""

import asyncio

from bifoga import model, refusals
from bifoga import transitions as T
from bifoga.adapters import RequestError
from bifoga.sniff_head import HEAD_BYTES, first_look
from bifoga.viewer_math import step_index
from bifoga.worker_contract import Checked, Reduced, Uploaded, UploadRequest, upload_endpoint

LONG_POLL_SECONDS = 25
ZIP_URL_LIFETIME = 60  # seconds: the download has long started by then


class Flows:
    def __init__(self, store, api, worker, browser):
        self.model = store
        self.api = api
        self.worker = worker
        self.browser = browser
        self.files = {}  # record key -> the picked File (a JS object: not part of the model)
        self.checks = {}  # record key -> serial of its newest check: older answers are late
        self.current = None  # the key being uploaded, for cancel
        self.urls = {}  # attachment id -> object URL, while the visit is open

    @property
    def state(self):
        return self.model.state

    def apply(self, patch):
        return self.model.apply(patch)

    @staticmethod
    def spawn(coroutine):
        """Start a flow from an event handler (they can't await)."""
        return asyncio.create_task(coroutine)

    async def until(self, holds, keys):
        """Wait until holds(state) is true, woken by the model's changes to `keys`."""
        if holds(self.state):
            return
        changed = asyncio.Event()

        def wake(state, keys_changed):
            if holds(state):
                changed.set()
        self.model.subscribe(wake, keys)
        try:
            await changed.wait()
        finally:
            self.model.unsubscribe(wake)

    async def worker_ready(self):
        """Until the worker is up, or could not start (then False)."""
        await self.until(lambda state: state["worker_ready"] or state["worker_failed"],
                         ("worker_ready", "worker_failed"))
        return self.state["worker_ready"]

    # --- start and the chat --------------------------------------------------------------------
    async def load(self):
        config, visit = await asyncio.gather(self.api.config(), self.api.visit())
        self.apply(T.loaded(self.state, config, visit))

    def worker_connected(self):
        self.apply({"worker_ready": True})

    def worker_not_started(self, detail):
        self.apply(T.worker_failed(self.state, str(detail)[:200]))

    async def poll(self, sleep=asyncio.sleep):
        """Long polling: new messages and files from the other side appear without reloading.
        Returns at the end of the visit, or for a link that is not valid (any more)."""
        wait, failures = 0, 0
        while True:
            try:
                data = await self.api.messages(self.state["cursor"], wait)
            except RequestError as exc:
                if exc.status in (401, 403, 404):
                    self.apply(T.warn(self.state, T.t(self.state, "app.bad_link")))
                    return
                failures += 1
                self.apply(T.warn(self.state, T.t(self.state, "chat.connection_lost")))
                await sleep(min(10, 0.5 * 2 ** min(failures, 5)))
                continue
            if failures:
                self.apply(T.warn(self.state, ""))
            failures = 0
            self.apply(T.messages_arrived(self.state, data["messages"], data["cursor"]))
            visit_state = data.get("state")
            if visit_state and visit_state != self.state["visit"].get("state"):
                self.visit_changed(await self.api.visit())
            if visit_state == "ended":
                return  # nothing can arrive after the end
            wait = LONG_POLL_SECONDS

    def visit_changed(self, visit, patch_for=T.visit_changed):
        """A new visit state; after the end the app drops its in-memory copies."""
        if visit.get("state") == "ended":
            if self.current:
                self.spawn(self.worker.cancel(self.current))
            self.discard_all()
            self.drop_urls()
        self.apply(patch_for(self.state, visit))

    async def send_text(self, body):
        if not model.is_open(self.state) or self.state["composer_busy"]:
            return
        self.apply(T.text_sending(self.state))
        try:
            message = await self.api.send_text(body)
        except RequestError as exc:
            self.apply(T.text_failed(self.state, exc.status))
            return
        self.apply(T.text_sent(self.state, message))

    # --- picking and checking ------------------------------------------------------------------
    async def pick(self, files):
        """files: (File, name, size, mime) for each picked, dropped or pasted file."""
        if not model.can_pick(self.state) or not files:
            return
        self.discard_all()
        keyed = [(self.browser.new_key(), f) for f in files]
        self.files = {key: f[0] for key, f in keyed}
        self.apply(T.picked(self.state, [(key, f[1], f[2], f[3]) for key, f in keyed]))
        await asyncio.gather(*[self.check(key) for key in T.checking(self.state)])

    async def check(self, key):
        """The first bytes at once, here; then the full content check and the metadata removal
        in the worker, whenever it is up."""
        serial = self.checks.get(key, 0) + 1
        self.checks[key] = serial
        rec = model.record(self.state, key)
        if rec is None:
            return
        try:
            head = await self.browser.read_head(self.files[key], HEAD_BYTES)
            look = first_look(head, rec["size"], rec["name"])
        except Exception:  # noqa: BLE001 - unread is undecided: the worker's check still runs
            look = None
        if look is not None and self.checks.get(key) == serial:
            self.apply(T.first_looked(self.state, key, look))
        if not await self.worker_ready():  # it could not start: this file can't be checked
            self.apply(T.worker_failed(self.state, self.state["worker_failed"]))
            return
        rec = model.record(self.state, key)
        if rec is None or rec["status"] == model.REFUSED:
            return  # a refusal from the first bytes is final
        try:
            result = await self.worker.prepare(self.files[key], rec["name"], key,
                                               rec["keep_date"], self.max_bytes())
        except Exception as exc:  # noqa: BLE001 - shown as a failed check, never a frozen dialog
            result = Checked(ok=False, reason=refusals.CHECK_FAILED, detail=str(exc)[:200])
        if self.checks.get(key) == serial:
            self.apply(T.checked(self.state, key, result))

    async def keep_date(self, key, keep):
        if self.apply(T.keep_date_changed(self.state, key, keep)):
            await self.check(key)

    async def reduce(self, key):
        if not self.apply(T.reduce_started(self.state, key)):
            return
        try:
            result = await self.worker.reduce(self.files[key], key, self.max_bytes())
        except Exception as exc:  # noqa: BLE001
            result = Reduced(ok=False, detail=str(exc)[:200])
        self.apply(T.reduced(self.state, key, result))

    def max_bytes(self):
        return self.state["config"]["max_attachment_bytes"]

    # --- sending -------------------------------------------------------------------------------
    def upload_request(self, rec):
        return UploadRequest(
            key=rec["key"], name=rec["name"], mime=rec["mime"], token=self.api.token,
            endpoint=upload_endpoint(self.state["config"]["upload_endpoint_template"],
                                     self.api.visit_id),
            finalise_url=self.api.visit_base + "/attachments")

    async def upload(self):
        """"Ladda upp": the ready files, one after the other."""
        keys = model.to_send(self.state)
        if not self.apply(T.round_started(self.state)):
            return
        sent = []
        for key in keys:
            rec = model.record(self.state, key)
            if rec is None:
                break  # cancelled
            if not rec["verified"]:
                self.apply(T.upload_waiting(self.state, key))
                rec = await self.verified(key)
                if rec is None:
                    break  # cancelled
                if rec["status"] != model.READY:
                    continue  # the full check refused it: its reason is in view
            self.current = key
            self.apply(T.upload_started(self.state, key))
            try:
                outcome = await self.worker.upload(self.files[key], self.upload_request(rec))
            except Exception as exc:  # noqa: BLE001 - a worker failure must not freeze the dialog
                outcome = Uploaded(ok=False, error="worker", detail=str(exc)[:200])
            self.current = None  # late progress events must not overwrite the outcome
            self.apply(T.uploaded(self.state, key, outcome))
            if outcome.ok:
                sent.append(key)
                self.files.pop(key, None)
        if self.state["sending"]:
            self.apply(T.round_finished(self.state, sent))

    async def verified(self, key):
        """The record once the worker's full check has settled it (None if it went)."""
        def settled(state):
            rec = model.record(state, key)
            return (rec is None or rec["verified"]
                    or rec["status"] not in (model.READY, model.CHECKING))
        await self.until(settled, ("attachments",))
        return model.record(self.state, key)

    def upload_progress(self, key, sent, total):
        self.apply(T.upload_progress(self.state, str(key), int(sent), int(total)))

    def upload_state(self, key, state):
        if str(state) == "reconnecting":
            self.apply(T.upload_reconnecting(self.state, str(key)))

    def cancel(self):
        """Avbryt (or Stäng, or Esc): stop the upload running, drop the worker's copies."""
        if self.current and self.state["sending"]:
            self.spawn(self.worker.cancel(self.current))
        self.discard_all()
        self.apply(T.preview_closed(self.state))

    def discard_all(self):
        """Drop the worker's processed copies of files that will not be sent."""
        if self.state["worker_ready"]:
            for key in self.files:
                self.spawn(self.worker.discard(key))
        self.files = {}

    # --- ending the visit and filing -----------------------------------------------------------
    async def end_requested(self):
        """"Avsluta besök" (or "Spara bilagor" after the end): the reminder, if files went."""
        try:
            listing = await self.api.attachments()
        except RequestError as exc:
            self.apply(T.filing_failed(self.state, exc.status))
            return
        self.apply(T.filing_listed(self.state, listing))

    async def end_confirmed(self):
        try:
            visit = await self.api.end_visit()
        except RequestError as exc:
            self.apply(T.end_failed(self.state, exc.status))
            return
        self.visit_changed(visit, T.ended)

    async def end_from_reminder(self):
        patch, end = T.end_pressed_in_reminder(self.state)
        self.apply(patch)
        if end:
            await self.end_confirmed()

    def back(self):
        self.apply(T.dialog_back(self.state))

    async def mark(self, attachment_id, mark):
        filing = self.state["filing"] or {"attachments": []}
        previous = None
        for att in filing["attachments"]:
            if att["id"] == attachment_id:
                previous = att.get("mark")
        self.apply(T.marked(self.state, attachment_id, mark))
        try:
            await self.api.mark(attachment_id, mark)
        except RequestError as exc:
            self.apply(T.mark_failed(self.state, attachment_id, previous, exc.status))

    async def download_all(self, sleep=asyncio.sleep):
        try:
            url = await self.api.zip_url()
        except RequestError as exc:
            self.apply(T.zip_failed(self.state, exc.status))
            return
        self.browser.save_as(url, T.t(self.state, "reminder.zip_name",
                                      date=self.browser.today()))
        await sleep(ZIP_URL_LIFETIME)
        self.browser.revoke(url)

    # --- files in memory, downloads and the viewer ---------------------------------------------
    async def url(self, att):
        """One object URL per attachment, fetched once and reused by the list and the viewer;
        nothing is kept once the visit has ended."""
        if att["id"] in self.urls:
            return self.urls[att["id"]]
        url = await self.api.object_url(att)
        if model.is_open(self.state):
            self.urls[att["id"]] = url
        return url

    async def inline_url(self, att):
        """The object URL to show a file inline; None once the visit has ended (nothing is
        shown inline then, and the URL fetched meanwhile is revoked at once)."""
        url = await self.url(att)
        if model.is_open(self.state):
            return url
        self.browser.revoke(url)
        return None

    def drop_urls(self):
        for url in self.urls.values():
            self.browser.revoke(url)
        self.urls = {}

    async def download(self, att, sleep=asyncio.sleep):
        try:
            url = await self.url(att)
        except RequestError as exc:
            self.apply(T.load_failed(self.state, att["name"], exc.status))
            return
        self.browser.save_as(url, att["name"])
        if att["id"] not in self.urls:
            await sleep(ZIP_URL_LIFETIME)
            self.browser.revoke(url)

    async def show(self, att, opener=None):
        try:
            url = await self.url(att)
        except RequestError:
            self.apply(T.load_failed(self.state, att["name"]))
            return
        self.apply(T.viewer_opened(self.state, att, url, opener))

    async def enlarge(self, att):
        await self.show(att, opener=att["id"])

    async def step(self, delta):
        viewer, shown = self.state["viewer"], model.images(self.state)
        if not viewer:
            return
        index = step_index(viewer["index"], delta, len(shown))
        if index is not None and index != viewer["index"]:
            await self.show(shown[index])

    def viewer_closed(self):
        self.apply(T.viewer_closed(self.state))

    def image_unshowable(self, attachment_id):
        self.apply(T.image_unshowable(self.state, attachment_id))
