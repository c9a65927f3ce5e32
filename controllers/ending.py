"""Ending a visit (clinician): the "Spara bilagor" reminder, filing marks, download all."""

import asyncio

from pyscript import window

from components.api_client import ApiError
from controllers import Flow
from controllers.viewing import error_detail


class Ending(Flow):
    def __init__(self, lang, store, api, header, reminder, confirm, announcer, viewing):
        super().__init__(lang)
        self.store = store
        self.api = api
        self.header = header
        self.reminder = reminder
        self.confirm = confirm
        self.announcer = announcer
        self.viewing = viewing

    def requested(self):
        """"Avsluta besök" (or "Spara bilagor" after the end): the reminder, if files went."""
        async def run():
            try:
                listing = await self.api.attachments()
            except ApiError as exc:
                self.announcer.warn(self.t("end.failed", detail=error_detail(self.lang, exc)))
                return
            if listing["attachments"]:
                self.reminder.open(listing["attachments"], listing["state"] == "ended")
            else:
                self.confirm.open()
        asyncio.create_task(run())

    def confirmed(self):
        async def run():
            try:
                visit = await self.api.end_visit()
            except ApiError as exc:
                message = self.t("end.failed", detail=error_detail(self.lang, exc))
                (self.reminder.warn if self.reminder.root.open else self.confirm.warn)(message)
                return
            self.reminder.close()
            self.confirm.close()
            self.store.patch(visit=visit)
            self.header.banner.focus()
        asyncio.create_task(run())

    def back(self):
        self.reminder.close()
        self.confirm.close()
        ended = (self.store.get("visit") or {}).get("state") == "ended"
        (self.header.reminder_button if ended else self.header.end_button).focus()

    def mark(self, att, mark, previous):
        async def run():
            try:
                await self.api.mark(att["id"], mark)
            except ApiError as exc:
                self.reminder.revert_mark(att["id"], previous)
                self.reminder.warn(self.t("reminder.mark_failed",
                                          detail=error_detail(self.lang, exc)))
        asyncio.create_task(run())

    def download_all(self):
        async def run():
            try:
                url = await self.api.zip_url()
            except ApiError as exc:
                self.reminder.warn(self.t("attachment.load_failed", name="zip") + " "
                                   + error_detail(self.lang, exc))
                return
            today = str(window.Date.new().toISOString())[:10]
            self.viewing.save_as(url, self.t("reminder.zip_name", date=today), revoke=True)
        asyncio.create_task(run())
