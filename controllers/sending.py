"""Sending files: picked (paperclip, drop, paste) -> checked in the worker -> previewed -> sent.

Each picked file is a batch entry: {key, file, name, size, mime, item, keep_date, has_date}.
The worker keeps the processed bytes (metadata removed, or size reduced) under the entry's key
until the upload or a discard.
"""

import asyncio
import json

from pyscript import window

from bifoga import refusals
from bifoga.formatting import (
    guess_category,
    metadata_labels,
    refusal_message,
    type_label,
    with_extension,
)
from bifoga.limits import check_size
from controllers import Flow


class Sending(Flow):
    def __init__(self, lang, store, preview, messages, announcer, picker, worker_ready):
        super().__init__(lang)
        self.store = store
        self.preview = preview
        self.messages = messages
        self.announcer = announcer
        self.picker = picker
        self.worker_ready = worker_ready
        self.batch = []
        self.current = None  # the entry being uploaded

    @property
    def worker(self):
        return self.store.get("worker")

    @property
    def max_bytes(self):
        return self.store.get("config")["max_attachment_bytes"]

    def in_worker(self, name, *args):
        """Call a worker function without waiting for it (a JS promise is not a coroutine)."""
        async def call():
            await getattr(self.worker, name)(*args)
        if self.worker:
            asyncio.create_task(call())

    # --- picking -------------------------------------------------------------------------------
    def picked(self, files):
        if self.store.get("uploading") or not files:
            return
        self.discard_all()
        self.batch = []
        for file in files:
            self.batch.append({
                "key": str(window.crypto.randomUUID()), "file": file, "name": str(file.name),
                "size": int(file.size), "mime": str(file.type), "keep_date": False,
                "has_date": False, "category": guess_category(str(file.type)), "item": None})
        items = self.preview.open([(e["key"], e["file"], e["category"], e["name"], e["size"])
                                   for e in self.batch])
        for index, item in enumerate(items):  # MicroPython's zip() takes no strict=
            entry = self.batch[index]
            entry["item"] = item
            item.on("keep_date", self.keep_date_changed)
            item.on("reduce", self.reduce)
            reason = check_size(entry["size"], self.max_bytes)
            # A too large photo is not simply refused: the worker may offer to reduce it.
            if reason and not (reason == "too_large" and entry["category"] == "image"):
                item.set_refused(refusal_message(reason, entry["name"], entry["size"],
                                                 self.max_bytes, self.lang))
                continue
            item.set_checking()
            asyncio.create_task(self.prepare(entry))

    def entry_of(self, item):
        for entry in self.batch:
            if entry["item"] is item:
                return entry
        return None

    async def prepare(self, entry):
        """Content check and metadata removal in the worker, then show the result."""
        await self.worker_ready.wait()
        item, name, size = entry["item"], entry["name"], entry["size"]
        try:
            result = json.loads(str(await self.worker.prepare_attachment(
                entry["file"], name, entry["key"], entry["keep_date"], self.max_bytes)))
        except Exception as exc:  # noqa: BLE001 - shown as a failed check, never a frozen dialog
            result = {"ok": False, "reason": "check_failed", "detail": str(exc)[:200]}
        if entry not in self.batch:
            return  # cancelled or replaced meanwhile
        window.bifogaLastProcessingMs = result.get("processing_ms")
        reason = result.get("reason")
        if reason == "check_failed":
            item.set_refused(self.t("refusal.check_failed", name=name,
                                    detail=result.get("detail", "")))
        elif not result["ok"]:
            # A photo that is only too large stays in view: it can be reduced and sent.
            reducible = bool(result.get("reducible"))
            item.set_refused(refusal_message(reason, name, size, self.max_bytes, self.lang),
                             as_card=not reducible)
            if reducible:
                item.offer_reduce()
        else:
            entry.update(mime=result["mime"], category=result["category"], size=result["size"])
            if result["category"] == "image":
                entry["has_date"] = entry["has_date"] or "datetime" in result["removed"]
                item.set_metadata(metadata_labels(result["removed"], self.lang),
                                  entry["has_date"])
            item.set_details(result["category"], type_label(result["mime"]), size)
            item.set_ready()
        self.preview.refresh(focus_upload=len(self.batch) == 1)

    def keep_date_changed(self, item, checked):
        entry = self.entry_of(item)
        if entry and not self.store.get("uploading"):
            entry["keep_date"] = checked
            item.set_checking()
            self.preview.refresh()
            asyncio.create_task(self.prepare(entry))

    def reduce(self, item):
        entry = self.entry_of(item)
        if not entry:
            return
        item.set_reducing()

        async def run():
            try:
                result = json.loads(str(await self.worker.reduce_attachment(
                    entry["file"], entry["key"], self.max_bytes)))
            except Exception:  # noqa: BLE001
                result = {"ok": False}
            if entry not in self.batch:
                return
            window.bifogaLastProcessingMs = result.get("processing_ms")
            if not result["ok"]:
                item.set_refused(self.t("reduce.failed"))
                return
            name = with_extension(entry["name"], ".jpg")
            entry.update(size=result["size"], mime=result["mime"], name=name)
            item.set_reduced(name, result["size"], result["width"], result["height"])
            item.set_ready()
            self.preview.refresh(focus_upload=len(self.batch) == 1)
        asyncio.create_task(run())

    # --- sending -------------------------------------------------------------------------------
    def upload(self, params_base):
        ready = [e for e in self.batch if e["item"].ok]
        if not ready or self.store.get("uploading"):
            return
        self.store.patch(uploading=True)
        self.preview.set_busy(True)

        async def run():
            failed = False
            for entry in ready:
                if entry not in self.batch:
                    break  # cancelled
                failed = not await self.upload_one(entry, params_base) or failed
            self.current = None
            self.store.patch(uploading=False)
            self.preview.set_busy(False)
            sent = [e for e in ready if e.get("sent")]
            if sent:
                self.announcer.say(self.t("preview.sent",
                                          name=", ".join(e["name"] for e in sent)))
            if self.batch and not failed and len(sent) == len(self.batch):
                self.preview.close()
                self.batch = []
                self.picker.button.focus()
            elif self.batch:
                # Something was not sent: keep its reason in view; the dialog now only closes.
                self.preview.set_finished()
        asyncio.create_task(run())

    async def upload_one(self, entry, params_base):
        item = entry["item"]
        self.current = entry
        item.set_progress(0)
        params = dict(params_base, key=entry["key"], name=entry["name"], mime=entry["mime"])
        try:
            result = json.loads(str(await self.worker.upload_attachment(entry["file"],
                                                                        json.dumps(params))))
        except Exception as exc:  # noqa: BLE001 - a worker failure must not freeze the dialog
            result = {"ok": False, "error": "worker", "status": None, "message": str(exc)}
        self.current = None  # late progress events must not overwrite the outcome
        if entry not in self.batch:
            return False
        if result["ok"]:
            window.bifogaLastUpload = json.dumps(result.get("timings") or {})  # for make bench
            self.messages.add(result["message"])
            entry["sent"] = True
            item.set_sent()
            return True
        if result.get("error") != "cancelled":
            item.set_refused(self.refusal(result, entry), as_card=False)
        return False

    def refusal(self, result, entry):
        """The server refused or the network failed: the same clear words as the local check."""
        code, status = result.get("error"), result.get("status")
        if code in refusals.ALL:
            return refusal_message(code, entry["name"], entry["size"],
                                   self.max_bytes, self.lang)
        if code == "visit_ended" or status == 409:
            return self.t("upload.visit_ended")
        detail = self.t("error.status", status=status) if status else self.t("error.network")
        return self.t("upload.failed", name=entry["name"], detail=detail)

    def progress(self, key, sent, total):
        entry = self.current
        if entry and entry["key"] == str(key) and int(total) > 0:
            entry["item"].set_progress(int(int(sent) * 100 // int(total)))

    def state(self, key, state):
        entry = self.current
        if entry and entry["key"] == str(key) and str(state) == "reconnecting":
            item = entry["item"]
            item.set_progress(int(item.progress.value), self.t("preview.reconnecting"))

    # --- leaving -------------------------------------------------------------------------------
    def cancel(self):
        if self.current and self.store.get("uploading"):
            self.in_worker("cancel_upload", self.current["key"])
        self.discard_all()
        self.batch = []
        self.preview.close()
        self.picker.button.focus()

    def discard_all(self):
        """Drop the worker's processed copies of files that will not be sent."""
        for entry in self.batch:
            self.in_worker("discard_prepared", entry["key"])
