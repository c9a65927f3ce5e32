"""The paperclip: "Bifoga fil" under the chat box opens the file picker (several files at once);
on phones "Ta foto" opens the camera directly. The limits are stated next to them.

Raises "picked"(list of File). The accept list leaves audio out.
"""

from components.dom import Component, h
from components.icons import CAMERA, PAPERCLIP, icon


class Picker(Component):
    def __init__(self, lang):
        super().__init__(lang)
        self.input = h("input", {"type": "file", "id": "attachment-input", "multiple": True,
                                 "class": "visually-hidden", "tabindex": "-1",
                                 "aria-hidden": "true"})
        self.camera_input = h("input", {"type": "file", "id": "camera-input", "accept": "image/*",
                                        "capture": "environment", "class": "visually-hidden",
                                        "tabindex": "-1", "aria-hidden": "true"})
        self.hint = h("p", {"id": "picker-limits", "class": "picker-limits"})
        self.button = self._button("attach-button", "attach-button", PAPERCLIP, "picker.attach")
        self.camera_button = self._button("camera-button", "camera-button", CAMERA,
                                          "picker.camera")
        self.root = h("div", {"class": "picker"}, [
            self.button, self.camera_button, self.input, self.camera_input, self.hint])
        self.listeners.add(self.button, "click", lambda e: self.input.click())
        self.listeners.add(self.camera_button, "click", lambda e: self.camera_input.click())
        self.listeners.add(self.input, "change", lambda e: self._changed(self.input))
        self.listeners.add(self.camera_input, "change", lambda e: self._changed(self.camera_input))

    def _button(self, element_id, css, markup, key):
        return h("button", {"type": "button", "id": element_id, "class": css,
                            "aria-describedby": "picker-limits"},
                 [icon(h("span", {"class": "icon", "aria-hidden": "true"}), markup),
                  h("span", {"class": "button-label"}, content=self.t(key))])

    def _changed(self, source):
        files = source.files
        if files and files.length:
            self.emit("picked", [files.item(i) for i in range(files.length)])
        # Reset so that picking the same file again raises "change" again.
        source.value = ""

    def set_enabled(self, enabled):
        self.button.disabled = not enabled
        self.camera_button.disabled = not enabled

    def set_accept(self, accept):
        self.input.setAttribute("accept", accept)

    def set_limits_text(self, limits_text):
        self.hint.textContent = limits_text
