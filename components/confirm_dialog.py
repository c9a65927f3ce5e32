"""A simple confirmation: ending a visit in which no file was exchanged.

Raises "confirm" and "back".
"""

from components.dom import Component, h, keep_focus_inside


class ConfirmDialog(Component):
    def __init__(self, lang, dialog_id, title_key, text_key, confirm_key, back_key):
        super().__init__(lang)
        title_id = dialog_id + "-title"
        self.confirm_button = h("button", {"type": "button", "class": "primary danger"},
                                content=self.t(confirm_key))
        self.back_button = h("button", {"type": "button", "class": "secondary"},
                             content=self.t(back_key))
        self.alert = h("p", {"class": "confirm-alert", "role": "alert"})
        self.root = h("dialog", {"id": dialog_id, "class": "dialog confirm-dialog",
                                 "aria-labelledby": title_id, "aria-modal": "true"}, [
            h("h2", {"id": title_id}, content=self.t(title_key)),
            h("p", None, content=self.t(text_key)),
            self.alert,
            h("div", {"class": "dialog-actions"}, [self.back_button, self.confirm_button]),
        ])
        keep_focus_inside(self.listeners, self.root)
        self.listeners.add(self.confirm_button, "click", lambda e: self.emit("confirm"))
        self.listeners.add(self.back_button, "click", lambda e: self.emit("back"))
        self.listeners.add(self.root, "cancel", self._escape)

    def open(self):
        self.alert.textContent = ""
        if not self.root.open:
            self.root.showModal()
        self.back_button.focus()

    def warn(self, message):
        self.alert.textContent = message

    def close(self):
        if self.root.open:
            self.root.close()

    def _escape(self, event):
        event.preventDefault()
        self.emit("back")
