"""Files that arrive without the picker: dropped on the chat (with a visible drop zone) or
pasted from the clipboard (Ctrl+V of a screenshot). Never the only way: the paperclip stays.

Raises "dropped"(list of File).
"""

from pyscript import document

from bifoga.chat import events
from bifoga.chat.model import is_open
from components.dom import Component, element


class DropZone(Component):
    KEYS = ("visit", "config")

    def __init__(self, lang):
        super().__init__(lang)
        self.enabled = False
        self.depth = 0  # dragenter/dragleave pairs, as they fire for every child element
        self.root = element("div", {"class": "drop-zone", "hidden": True, "aria-hidden": "true"},
                            [element("p", {"class": "drop-zone-text"},
                                     content=self.t("drop.here"))])

    def attach(self, area):
        add = self.listeners.add
        add(area, "dragenter", self._enter)
        add(area, "dragover", self._over)
        add(area, "dragleave", self._leave)
        add(area, "drop", self._drop)
        add(document, "paste", self._paste)

    def render(self, state, changed):
        self.enabled = is_open(state) and state["config"] is not None
        if not self.enabled:
            self._hide()

    def _has_files(self, event):
        types = event.dataTransfer.types if event.dataTransfer else None
        return bool(types) and types.includes("Files")

    def _enter(self, event):
        if self.enabled and self._has_files(event):
            event.preventDefault()
            self.depth += 1
            self.root.hidden = False

    def _over(self, event):
        if self.enabled and self._has_files(event):
            event.preventDefault()  # allows the drop
            event.dataTransfer.dropEffect = "copy"

    def _leave(self, event):
        if self.enabled and self._has_files(event):
            self.depth = max(0, self.depth - 1)
            if self.depth == 0:
                self._hide()

    def _drop(self, event):
        if not self.enabled:
            return
        event.preventDefault()
        self._hide()
        files = event.dataTransfer.files
        if files and files.length:
            self.emit(events.DROPPED, [files.item(i) for i in range(files.length)])

    def _paste(self, event):
        if not self.enabled or not event.clipboardData:
            return
        files = event.clipboardData.files
        if files and files.length:
            event.preventDefault()
            self.emit(events.DROPPED, [files.item(i) for i in range(files.length)])

    def _hide(self):
        self.depth = 0
        self.root.hidden = True
