"""The chat box: a text area and a send button. Raises "send"(text)."""

from components.dom import Component, h
from components.icons import SEND, icon


class Composer(Component):
    def __init__(self, lang):
        super().__init__(lang)
        label = h("label", {"for": "message-input", "class": "visually-hidden"},
                  content=self.t("composer.label"))
        self.textarea = h(
            "textarea",
            {"id": "message-input", "rows": "2", "maxlength": "4000",
             "placeholder": self.t("composer.placeholder"), "autocomplete": "off"},
        )
        self.send_button = h(
            "button", {"type": "submit", "class": "send-button"},
            [icon(h("span", {"class": "icon", "aria-hidden": "true"}), SEND),
             h("span", {"class": "button-label"}, content=self.t("composer.send"))],
        )
        self.root = h("form", {"class": "composer", "id": "composer"},
                      [label, self.textarea, self.send_button])
        self.listeners.add(self.root, "submit", self._submit)
        self.listeners.add(self.textarea, "keydown", self._keydown)

    def _submit(self, event):
        event.preventDefault()
        body = str(self.textarea.value).strip()
        if body:
            self.emit("send", body)

    def _keydown(self, event):
        # Enter sends, Shift+Enter makes a new line, as in every chat.
        if event.key == "Enter" and not event.shiftKey and not event.isComposing:
            self._submit(event)

    def clear(self):
        self.textarea.value = ""

    def set_enabled(self, enabled):
        self.textarea.disabled = not enabled
        self.send_button.disabled = not enabled
