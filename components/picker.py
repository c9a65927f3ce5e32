"""The paperclip: "Bifoga fil" under the chat box opens the file picker (several files at once);
on phones "Ta foto" opens the camera directly. The limits are stated next to them.

Raises "picked"(list of File). The accept list (from the config) leaves audio out.
"""

from bifoga import model
from bifoga.formatting import format_size
from components.dom import Component, element
from components.icons import CAMERA, PAPERCLIP, icon_button


class Picker(Component):
    KEYS = ("visit", "config", "focus")

    def __init__(self, lang):
        super().__init__(lang)
        self.input = element("input", {"type": "file", "id": "attachment-input", "multiple": True,
                                 "class": "visually-hidden", "tabindex": "-1",
                                 "aria-hidden": "true"})
        self.camera_input = element("input", {"type": "file", "id": "camera-input",
                                              "accept": "image/*",
                                        "capture": "environment", "class": "visually-hidden",
                                        "tabindex": "-1", "aria-hidden": "true"})
        self.hint = element("p", {"id": "picker-limits", "class": "picker-limits"})
        self.button = self._button("attach-button", "attach-button", PAPERCLIP, "picker.attach")
        self.camera_button = self._button("camera-button", "camera-button", CAMERA,
                                          "picker.camera")
        self.root = element("div", {"class": "picker"}, [
            self.button, self.camera_button, self.input, self.camera_input, self.hint])
        self.listeners.add(self.button, "click", lambda e: self.input.click())
        self.listeners.add(self.camera_button, "click", lambda e: self.camera_input.click())
        self.listeners.add(self.input, "change", lambda e: self._changed(self.input))
        self.listeners.add(self.camera_input, "change", lambda e: self._changed(self.camera_input))

    def _button(self, element_id, css, markup, key):
        return icon_button(markup, self.t(key), {"id": element_id, "class": css,
                                                  "aria-describedby": "picker-limits"})

    def _changed(self, source):
        files = source.files
        if files and files.length:
            self.emit("picked", [files.item(i) for i in range(files.length)])
        # Reset so that picking the same file again raises "change" again.
        source.value = ""

    def render(self, state, changed):
        config = state["config"]
        enabled = model.is_open(state) and config is not None
        self.button.disabled = not enabled
        self.camera_button.disabled = not enabled
        if config and "config" in changed:
            self.input.setAttribute("accept", config["accept"])
            self.hint.textContent = self.t(
                "picker.limits", max=format_size(config["max_attachment_bytes"], self.lang))
        if self.focus_requested(state, changed) == "attach":
            self.button.focus()
