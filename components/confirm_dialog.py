"""A simple confirmation: ending a visit in which no file was exchanged.

Open while the model's "dialog" names it. Raises "confirm" and "back".
"""

from bifoga.chat import events
from components.dom import Component, element, keep_focus_inside, set_text


class ConfirmDialog(Component):
    KEYS = ("dialog", "dialog_alert")

    def __init__(self, lang, name, dialog_id, title_key, text_key, confirm_key, back_key):
        super().__init__(lang)
        self.name = name
        title_id = dialog_id + "-title"
        self.confirm_button = element("button", {"type": "button", "class": "primary danger"},
                                      content=self.t(confirm_key))
        self.back_button = element("button", {"type": "button", "class": "secondary"},
                                   content=self.t(back_key))
        self.alert = element("p", {"class": "confirm-alert", "role": "alert"})
        self.root = element("dialog", {"id": dialog_id, "class": "dialog confirm-dialog",
                                 "aria-labelledby": title_id, "aria-modal": "true"}, [
            element("h2", {"id": title_id}, content=self.t(title_key)),
            element("p", None, content=self.t(text_key)),
            self.alert,
            element("div", {"class": "dialog-actions"}, [self.back_button, self.confirm_button]),
        ])
        keep_focus_inside(self.listeners, self.root)
        self.listeners.add(self.confirm_button, "click", lambda e: self.emit(events.CONFIRM))
        self.listeners.add(self.back_button, "click", lambda e: self.emit(events.BACK))
        self.listeners.add(self.root, "cancel", self._escape)

    def render(self, state, changed):
        showing = state["dialog"] == self.name
        if showing:
            set_text(self.alert, state["dialog_alert"])
        if showing and not self.root.open:
            self.root.showModal()
            self.back_button.focus()
        elif not showing and self.root.open:
            self.root.close()

    def _escape(self, event):
        event.preventDefault()
        self.emit(events.BACK)
