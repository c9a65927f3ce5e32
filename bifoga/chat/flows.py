"""The app's flows: picking, checking, reducing, uploading, the chat, ending and filing, the
viewer. Each awaits its I/O through the injected adapters (bifoga/chat/adapters.py) and applies the
patches bifoga/chat/transitions.py computes, so the flows run, and are tested, without a browser.
No state of their own: everything about a picked file is its record in the model.
MicroPython-safe: no `js`, no `pyscript`.

Two workers check and send files: the light one (MicroPython) for everything that needs no
pixel work; the heavy one (Pyodide, with Pillow) started on the first file that does (an iPhone
photo to convert, a photo to reduce) or that the light one cannot decide.
"""

import asyncio

from bifoga.chat import transitions as T
from bifoga.chat.adapters import RequestError
from bifoga.chat.model import (
    CHECKING,
    FAILED,
    HEAVY,
    LIGHT,
    READY,
    REFUSED,
    SENT,
    STARTING,
    can_pick,
    held_by,
    images,
    is_mine,
    is_open,
    record,
    uploading,
)
from bifoga.chat.viewer_math import step_index
from bifoga.chat.worker_contract import (
    RECONNECTING,
    Checked,
    Reduced,
    Uploaded,
    UploadRequest,
    upload_endpoint,
)
from bifoga.media import refusals
from bifoga.media.sniff_head import HEAD_BYTES, first_look

LONG_POLL_SECONDS = 25
ZIP_URL_LIFETIME = 60  # seconds: the download has long started by then


class Flows:
    def __init__(self, model, api, browser, light=None, heavy=None, start_heavy=None):
        """light, heavy: the two workers' clients (worker_contract's calls), set when each is up
        (worker_connected); start_heavy(): begins starting the heavy worker (app.py), called on
        the first file that needs it."""
        self.model = model
        self.api = api
        self.browser = browser
        self.workers = {LIGHT: light, HEAVY: heavy}
        self.start_heavy = start_heavy

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
        changed = asyncio.Event()

        def wake(state, keys_changed):
            if holds(state):
                changed.set()
        # Subscribed before the first look: no change can fall between the two.
        self.model.subscribe(wake, keys)
        try:
            if not holds(self.state):
                await changed.wait()
        finally:
            self.model.unsubscribe(wake)

    async def worker_up(self, name):
        """Until the worker `name` (LIGHT or HEAVY) is up, or could not start (False)."""
        await self.until(lambda state: state["workers"][name] in (READY, FAILED),
                         ("workers",))
        return self.state["workers"][name] == READY

    # --- start and the chat --------------------------------------------------------------------
    async def load(self):
        config, visit = await asyncio.gather(self.api.config(), self.api.visit())
        self.apply(T.loaded(self.state, config, visit))

    def worker_starting(self, name):
        self.apply(T.worker_state(self.state, name, STARTING))

    def worker_connected(self, name, client):
        self.workers[name] = client
        self.apply(T.worker_state(self.state, name, READY))

    def worker_not_started(self, name, detail):
        if name == HEAVY:
            self.apply(T.worker_failed(self.state, str(detail)[:200]))
        else:  # every file goes to the heavy worker then
            self.apply(T.worker_state(self.state, name, FAILED))

    def need_heavy(self):
        """A file needs the heavy worker: start it, once."""
        if self.state["workers"][HEAVY] == "":
            self.worker_starting(HEAVY)
            if self.start_heavy is not None:
                self.start_heavy()

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
            key = uploading(self.state)
            if key:
                self.spawn(self._worker_of(key).cancel(key))
            self.release_all()
            self.drop_urls()
        self.apply(patch_for(self.state, visit))

    async def send_text(self, body):
        if not is_open(self.state) or self.state["composer_busy"]:
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
        if not can_pick(self.state) or not files:
            return
        self.release_all()
        keyed = [(self.browser.new_key(),) + tuple(f) for f in files]
        self.apply(T.picked(self.state, keyed))
        await asyncio.gather(*[self.check(key) for key in T.checking(self.state)])

    async def check(self, key):
        """The first bytes at once, here; then the full content check and the metadata removal
        in the light worker, or in the heavy one when the light one hands the file over."""
        self.release(key)
        patch, serial = T.check_started(self.state, key)
        if not patch:
            return
        self.apply(patch)
        rec = record(self.state, key)
        try:
            head = await self.browser.read_head(rec["file"], HEAD_BYTES)
            look = first_look(head, rec["size"], rec["name"])
        except Exception:  # noqa: BLE001 - unread is undecided: the worker's check still runs
            look = None
        if look is not None and T.is_current(self.state, key, serial):
            self.apply(T.first_looked(self.state, key, look))
        detail = "no answer"
        try:
            await self._full_check(key, serial)
        except Exception as exc:  # noqa: BLE001 - a failed check, never an undecided file
            detail = str(exc)[:200] or type(exc).__name__
        finally:
            # However the check ended, its file is decided now: an upload waiting for it
            # (verified) hears an answer, never nothing.
            self.apply(T.check_ended(self.state, key, serial, detail))

    async def _full_check(self, key, serial):
        result, holder = None, LIGHT
        if await self.worker_up(LIGHT):
            if not self._still_to_check(key, serial):
                return
            result = await self._prepare(LIGHT, key)
        if result is None or result.hand_over:
            if not self._still_to_check(key, serial):
                return
            self.apply(T.handed_over(self.state, key, serial))
            self.need_heavy()
            if not await self.worker_up(HEAVY):  # it could not start: say why
                self.apply(T.worker_failed(self.state, self.state["worker_failed"]))
                return
            if not self._still_to_check(key, serial):
                return
            result, holder = await self._prepare(HEAVY, key), HEAVY
        patch = T.checked(self.state, key, result, holder, serial)
        if not patch and result.held:  # late or no longer wanted: the copy goes
            self.spawn(self.workers[holder].release(key))
        self.apply(patch)

    def _still_to_check(self, key, serial):
        rec = record(self.state, key)
        # A refusal from the first bytes is final.
        return T.is_current(self.state, key, serial) and rec["status"] != REFUSED

    async def _prepare(self, name, key):
        """The worker's Checked; from the light worker None when the call failed (the heavy
        one is asked then)."""
        rec = record(self.state, key)
        try:
            return await self.workers[name].prepare(rec["file"], rec["name"], key,
                                                    rec["keep_date"], self.max_bytes())
        except Exception as exc:  # noqa: BLE001 - shown as a failed check, never a frozen dialog
            if name == LIGHT:
                return None
            return Checked(ok=False, reason=refusals.CHECK_FAILED, detail=str(exc)[:200])

    async def keep_date(self, key, keep):
        if self.apply(T.keep_date_changed(self.state, key, keep)):
            await self.check(key)

    async def reduce(self, key):
        """"Minska storlek": pixels change, in the heavy worker."""
        self.release(key)
        if not self.apply(T.reduce_started(self.state, key)):
            return
        self.need_heavy()
        result = Reduced(ok=False, detail="the image worker did not start")
        if await self.worker_up(HEAVY):
            rec = record(self.state, key)
            try:
                result = await self.workers[HEAVY].reduce(rec["file"], key,
                                                                self.max_bytes())
            except Exception as exc:  # noqa: BLE001
                result = Reduced(ok=False, detail=str(exc)[:200])
        self.apply(T.reduced(self.state, key, result))

    def max_bytes(self):
        return self.state["config"]["max_attachment_bytes"]

    # --- sending -------------------------------------------------------------------------------
    def upload_request(self, rec):
        return UploadRequest(
            key=rec["key"], name=rec["name"], token=self.api.token,
            endpoint=upload_endpoint(self.state["config"]["upload_endpoint_template"],
                                     self.api.visit_id),
            finalise_url=self.api.visit_base + "/attachments")

    def _worker_of(self, key):
        return self.workers[held_by(self.state, key) or LIGHT]

    async def upload(self):
        """"Ladda upp": the ready files, one after the other, and those still being checked
        once their check lets them through (a film the Pyodide worker checks may come later
        than a PDF picked with it)."""
        if not self.apply(T.round_started(self.state)):
            return
        keys = [rec["key"] for rec in self.state["attachments"]
                if rec["status"] in (READY, CHECKING)]
        sent = []
        for key in keys:
            rec = record(self.state, key)
            if rec is None:
                break  # cancelled
            if not rec["verified"]:
                self.apply(T.upload_waiting(self.state, key))
                rec = await self.verified(key)
                if rec is None:
                    break  # cancelled
                if rec["status"] != READY:
                    continue  # the full check refused it: its reason is in view
            self.apply(T.upload_started(self.state, key))
            try:
                outcome = await self.workers[rec["holder"]].upload(self.upload_request(rec))
            except Exception as exc:  # noqa: BLE001 - a worker failure must not freeze the dialog
                outcome = Uploaded(ok=False, error="worker", detail=str(exc)[:200])
            self.apply(T.uploaded(self.state, key, outcome))
            if outcome.ok:
                sent.append(key)
        if self.state["sending"]:
            self.apply(T.round_finished(self.state, sent))

    async def verified(self, key):
        """The record once its full check has settled it (None if it went)."""
        def settled(state):
            rec = record(state, key)
            return (rec is None or rec["verified"]
                    or rec["status"] not in (READY, CHECKING))
        await self.until(settled, ("attachments",))
        return record(self.state, key)

    def progress(self, report):
        """A worker's worker_contract.Progress."""
        if report.state:
            self.apply(T.upload_reconnecting(self.state, report.key,
                                             report.state == RECONNECTING))
        else:
            self.apply(T.upload_progress(self.state, report.key, int(report.sent),
                                         int(report.total)))

    def cancel(self):
        """Avbryt (or Stäng, or Esc): stop the upload running, drop the workers' copies."""
        key = uploading(self.state)
        if key and self.state["sending"]:
            self.spawn(self._worker_of(key).cancel(key))
        self.release_all()
        self.apply(T.preview_closed(self.state))

    def release(self, key):
        """The worker holding a copy of this file drops it."""
        holder = held_by(self.state, key)
        if holder and self.workers[holder] is not None:
            self.spawn(self.workers[holder].release(key))

    def release_all(self):
        """Drop the workers' copies of the files that will not be sent (a sent one's copy shows
        in the sender's chat until the visit ends)."""
        for rec in self.state["attachments"]:
            if rec["status"] != SENT:
                self.release(rec["key"])

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
        """One object URL per attachment, reused by the list and the viewer: the sender's own
        file from the copy it sent, any other fetched once; nothing is kept once the visit has
        ended."""
        known = self.state["object_urls"].get(att["id"])
        if known:
            return known["url"]
        url = await self.api.object_url(att)
        if is_open(self.state):
            self.apply(T.url_kept(self.state, att["id"], url))
        return url

    async def inline_url(self, att):
        """The object URL to show a file inline; None once the visit has ended (nothing is
        shown inline then, and the URL fetched meanwhile is revoked at once)."""
        if uploading(self.state) and is_mine(self.state, att["id"]):
            # The chat may hear of the sender's own file (long poll) before the upload's answer
            # brings the copy it sent: that copy is shown, not a download.
            await self.until(lambda state: att["id"] in state["object_urls"]
                             or not uploading(state), ("object_urls", "attachments"))
        url = await self.url(att)
        if is_open(self.state):
            return url
        self.browser.revoke(url)
        return None

    def drop_urls(self):
        for entry in self.state["object_urls"].values():
            self.browser.revoke(entry["url"])
            worker = self.workers.get(entry["holder"])
            if worker is not None:  # the worker made it from its copy: that goes too
                self.spawn(worker.release(entry["key"]))
        self.apply({"object_urls": {}})

    async def download(self, att, sleep=asyncio.sleep):
        try:
            url = await self.url(att)
        except RequestError as exc:
            self.apply(T.load_failed(self.state, att["name"], exc.status))
            return
        self.browser.save_as(url, att["name"])
        if att["id"] not in self.state["object_urls"]:
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
        viewer, shown = self.state["viewer"], images(self.state)
        if not viewer:
            return
        index = step_index(viewer["index"], delta, len(shown))
        if index is not None and index != viewer["index"]:
            await self.show(shown[index])

    def viewer_closed(self):
        self.apply(T.viewer_closed(self.state))

    def image_unshowable(self, attachment_id):
        self.apply(T.image_unshowable(self.state, attachment_id))
