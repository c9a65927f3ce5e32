"""Received files in memory: one object URL per attachment, downloads, and the image viewer.

The files need the visit token, so they are fetched and shown through object URLs. Once the
visit has ended nothing is cached any more, and `drop` revokes what was.
"""

import asyncio

from pyscript import document, window

from bifoga.i18n import text
from bifoga.viewer_math import step_index
from components.api_client import ApiError
from components.clipboard import copy_image
from components.dom import h
from controllers import Flow


class Viewing(Flow):
    def __init__(self, lang, store, api, viewer, announcer):
        super().__init__(lang)
        self.store = store
        self.api = api
        self.viewer = viewer
        self.announcer = announcer
        self.messages = None  # set by main.py once the message list exists
        self.urls = {}  # attachment id -> object URL
        self.index = 0

    def visit_is_open(self):
        return (self.store.get("visit") or {}).get("state") == "open"

    async def url(self, att):
        """One object URL per attachment, fetched once and reused by the list and the viewer."""
        if att["id"] in self.urls:
            return self.urls[att["id"]]
        url = await self.api.object_url(att)
        if self.visit_is_open():
            self.urls[att["id"]] = url
        return url

    def drop(self):
        """After the end: revoke every object URL and show files as cards, not inline."""
        self.viewer.close()
        for url in self.urls.values():
            window.URL.revokeObjectURL(url)
        self.urls = {}
        if self.messages:
            self.messages.drop_media()

    # --- downloads -----------------------------------------------------------------------------
    def save_as(self, url, name, revoke=False):
        """Let the browser download a blob URL under the attachment's original name."""
        link = h("a", {"href": url, "download": name, "hidden": True})
        document.body.appendChild(link)
        link.click()
        link.remove()
        if revoke:
            async def later():
                await asyncio.sleep(60)  # the download has long started by then
                window.URL.revokeObjectURL(url)
            asyncio.create_task(later())

    def download(self, att):
        async def run():
            try:
                url = await self.url(att)
            except ApiError as exc:
                self.announcer.warn(self.t("attachment.load_failed", name=att["name"]) + " "
                                    + error_detail(self.lang, exc))
                return
            self.save_as(url, att["name"], revoke=att["id"] not in self.urls)
        asyncio.create_task(run())

    # --- the viewer ----------------------------------------------------------------------------
    def show(self, index, from_button=False):
        """Open (or step) the viewer at image `index` of the visit's images, oldest first."""
        images = self.messages.images
        att, button, sender_line = images[index]

        async def run():
            try:
                url = await self.url(att)
            except ApiError:
                self.announcer.warn(self.t("attachment.load_failed", name=att["name"]))
                return
            self.index = index
            self.viewer.open(att, url, sender_line, button if from_button else None, index,
                             len(images))
        asyncio.create_task(run())

    def enlarge(self, att):
        ids = [entry[0]["id"] for entry in self.messages.images]
        self.show(ids.index(att["id"]), from_button=True)

    def step(self, delta):
        index = step_index(self.index, delta, len(self.messages.images))
        if index is not None and index != self.index:
            self.show(index)

    def copy(self, att, img):
        async def run():
            try:
                await copy_image(img)
                self.viewer.say(self.t("viewer.copied"))
            except Exception:  # noqa: BLE001 - permission refused, no clipboard: say so plainly
                self.viewer.say(self.t("viewer.copy_failed"))
        asyncio.create_task(run())


def error_detail(lang, exc):
    if exc.status:
        return text(lang, "error.status", status=exc.status)
    return text(lang, "error.network")
