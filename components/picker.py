"""The paperclip: a button named "Bifoga fil" under the chat box that opens the file picker."""

from components.dom import Component, h
from components.icons import PAPERCLIP, icon


class Picker(Component):
    """Raises "picked"(file) with the chosen File. The accept list leaves audio out."""

    def __init__(self, lang, accept, limits_text):
        super().__init__(lang)
        self.input = h(
            "input",
            {"type": "file", "id": "attachment-input", "accept": accept, "class": "visually-hidden",
             "tabindex": "-1", "aria-hidden": "true"},
        )
        self.hint = h("p", {"id": "picker-limits", "class": "picker-limits"}, content=limits_text)
        label = h("span", {"class": "button-label"}, content=self.t("picker.attach"))
        self.button = h(
            "button",
            {"type": "button", "id": "attach-button", "class": "attach-button",
             "aria-describedby": "picker-limits"},
            [icon(h("span", {"class": "icon", "aria-hidden": "true"}), PAPERCLIP), label],
        )
        self.root = h("div", {"class": "picker"}, [self.button, self.input, self.hint])
        self.listeners.add(self.button, "click", self._open)
        self.listeners.add(self.input, "change", self._changed)

    def _open(self, event):
        self.input.click()

    def _changed(self, event):
        files = self.input.files
        if files and files.length:
            file = files.item(0)
            self.emit("picked", file)
        # Reset so that picking the same file again raises "change" again.
        self.input.value = ""

    def set_enabled(self, enabled):
        self.button.disabled = not enabled

    def set_limits_text(self, limits_text):
        self.hint.textContent = limits_text
