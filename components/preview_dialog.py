"""The "Förhandsgranska" dialog: every picked file with its check result, then the upload.

Holds one PreviewItem per file. Raises "upload" when the user presses Ladda upp (it sends the
files that passed their checks) and "cancel" when the dialog is dismissed.
"""

from components.dom import Component, clear, h, keep_focus_inside
from components.preview_item import PreviewItem


class PreviewDialog(Component):
    def __init__(self, lang):
        super().__init__(lang)
        self.title = h("h2", {"id": "preview-title"}, content=self.t("preview.title"))
        self.list = h("ul", {"class": "preview-list"})
        self.cancel_button = h("button", {"type": "button", "class": "secondary"},
                               content=self.t("preview.cancel"))
        self.upload_button = h("button", {"type": "button", "class": "primary", "disabled": True},
                               content=self.t("preview.upload"))
        actions = h("div", {"class": "dialog-actions"}, [self.cancel_button, self.upload_button])
        self.root = h("dialog", {"id": "preview-dialog", "class": "dialog preview-dialog",
                                 "aria-labelledby": "preview-title", "aria-modal": "true"},
                      [self.title, self.list, actions])
        self.items = []
        self.busy = False
        keep_focus_inside(self.listeners, self.root)
        self.listeners.add(self.cancel_button, "click", lambda e: self.emit("cancel"))
        self.listeners.add(self.upload_button, "click", self._upload_clicked)
        # Esc fires "cancel" on a modal <dialog>: treat it as Avbryt.
        self.listeners.add(self.root, "cancel", self._escape)

    def open(self, files):
        """files: (key, File, first-guess category, name, size). Returns the PreviewItems."""
        self._clear_items()
        large = len(files) == 1
        for key, file, category, name, size in files:
            item = PreviewItem(self.lang, key, file, category, name, size, large)
            self.items.append(item)
            self.list.appendChild(item.root)
        self.busy = False
        self.upload_button.disabled = True
        self.cancel_button.disabled = False
        self.cancel_button.textContent = self.t("preview.cancel")
        if not self.root.open:
            self.root.showModal()
        self.cancel_button.focus()
        return self.items

    def refresh(self, focus_upload=False):
        """Ladda upp is enabled while any file is ready and nothing is uploading."""
        ready = any(item.ok for item in self.items)
        self.upload_button.disabled = self.busy or not ready
        if focus_upload and ready and not self.busy:
            self.upload_button.focus()

    def set_finished(self):
        """After an upload round in which some files were not sent: "Avbryt" becomes "Stäng"."""
        for item in self.items:
            item.ok = False
        self.cancel_button.textContent = self.t("preview.close")
        self.refresh()
        self.cancel_button.focus()

    def set_busy(self, busy):
        self.busy = busy
        self.refresh()

    def close(self):
        self.busy = False
        if self.root.open:
            self.root.close()
        self._clear_items()

    @property
    def is_open(self):
        return bool(self.root.open)

    def _clear_items(self):
        for item in self.items:
            item.destroy()
        self.items = []
        clear(self.list)

    def _upload_clicked(self, event):
        if not self.upload_button.disabled:
            self.emit("upload")

    def _escape(self, event):
        event.preventDefault()
        self.emit("cancel")
