"""The "Förhandsgranska" dialog: every picked file with its check result, then the upload.

Open while the model's "dialog" is "preview"; one PreviewItem per record of the model's
attachments. Ladda upp is enabled while the model has files to send and no round is running.
Raises "upload", "cancel" (Avbryt, Stäng or Esc), "keep_date"(key, bool) and "reduce"(key).
"""

from bifoga.chat import events
from bifoga.chat.model import PREVIEW, to_send
from components.dom import Component, clear, element, keep_focus_inside, set_text
from components.preview_item import PreviewItem


class PreviewDialog(Component):
    KEYS = ("dialog", "attachments", "sending", "preview_finished", "focus")

    def __init__(self, lang):
        super().__init__(lang)
        self.title = element("h2", {"id": "preview-title"}, content=self.t("preview.title"))
        self.list = element("ul", {"class": "preview-list"})
        self.cancel_button = element("button", {"type": "button", "class": "secondary"},
                                     content=self.t("preview.cancel"))
        self.upload_button = element("button", {"type": "button", "class": "primary",
                                                "disabled": True},
                                     content=self.t("preview.upload"))
        actions = element("div", {"class": "dialog-actions"},
                          [self.cancel_button, self.upload_button])
        self.root = element("dialog", {"id": "preview-dialog", "class": "dialog preview-dialog",
                                 "aria-labelledby": "preview-title", "aria-modal": "true"},
                            [self.title, self.list, actions])
        self.items = {}  # record key -> PreviewItem
        keep_focus_inside(self.listeners, self.root)
        self.listeners.add(self.cancel_button, "click", lambda e: self.emit(events.CANCEL))
        self.listeners.add(self.upload_button, "click", self._upload_clicked)
        # Esc fires "cancel" on a modal <dialog>: treat it as Avbryt.
        self.listeners.add(self.root, "cancel", self._escape)

    def render(self, state, changed):
        showing = state["dialog"] == PREVIEW
        if not showing:
            if self.root.open:
                self.root.close()
            self._clear_items()
            return
        records = state["attachments"]
        keys = [rec["key"] for rec in records]
        if sorted(keys) != sorted(self.items):
            self._clear_items()
            for rec in records:
                item = PreviewItem(self.lang, rec, len(records) == 1)
                item.on(events.KEEP_DATE, lambda key, keep: self.emit(events.KEEP_DATE, key, keep))
                item.on(events.REDUCE, lambda key: self.emit(events.REDUCE, key))
                self.items[rec["key"]] = item
                self.list.appendChild(item.root)
        max_bytes = state["config"]["max_attachment_bytes"]
        for rec in records:
            self.items[rec["key"]].render(rec, max_bytes)
        self.upload_button.disabled = state["sending"] or not to_send(state)
        set_text(self.cancel_button, self.t("preview.close" if state["preview_finished"]
                                            else "preview.cancel"))
        if not self.root.open:
            self.root.showModal()
        target = self.focus_requested(state, changed)
        if target == "preview_cancel":
            self.cancel_button.focus()
        elif target == "upload" and not self.upload_button.disabled:
            self.upload_button.focus()

    def _clear_items(self):
        for item in self.items.values():
            item.destroy()
        self.items = {}
        clear(self.list)

    def _upload_clicked(self, event):
        if not self.upload_button.disabled:
            self.emit(events.UPLOAD)

    def _escape(self, event):
        event.preventDefault()
        self.emit(events.CANCEL)
