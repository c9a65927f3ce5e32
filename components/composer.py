"""The chat box: a text area and a send button. Raises "send"(text).

Enabled while the visit is open and no text is on its way; cleared once a text was sent."""

from bifoga.chat import events
from bifoga.chat.model import is_open
from components.dom import Component, element
from components.icons import SEND, icon_button


class Composer(Component):
    KEYS = ("visit", "composer_busy", "composer_sent", "focus")

    def __init__(self, lang):
        super().__init__(lang)
        self.sent = 0
        label = element("label", {"for": "message-input", "class": "visually-hidden"},
                        content=self.t("composer.label"))
        self.textarea = element(
            "textarea",
            {"id": "message-input", "rows": "2", "maxlength": "4000",
             "placeholder": self.t("composer.placeholder"), "autocomplete": "off"},
        )
        self.send_button = icon_button(SEND, self.t("composer.send"),
                                       {"type": "submit", "class": "send-button"})
        self.root = element("form", {"class": "composer", "id": "composer"},
                            [label, self.textarea, self.send_button])
        self.listeners.add(self.root, "submit", self._submit)
        self.listeners.add(self.textarea, "keydown", self._keydown)

    def _submit(self, event):
        event.preventDefault()
        body = str(self.textarea.value).strip()
        if body:
            self.emit(events.SEND, body)

    def _keydown(self, event):
        # Enter sends, Shift+Enter makes a new line, as in every chat.
        if event.key == "Enter" and not event.shiftKey and not event.isComposing:
            self._submit(event)

    def render(self, state, changed):
        if state["composer_sent"] != self.sent:
            self.sent = state["composer_sent"]
            self.textarea.value = ""
        enabled = is_open(state) and not state["composer_busy"]
        self.textarea.disabled = not enabled
        self.send_button.disabled = not enabled
        if self.focus_requested(state, changed) == "composer":
            self.textarea.focus()
