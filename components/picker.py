"""The paperclip: "Bifoga fil" under the chat box opens the file picker (several files at once);
on phones "Ta foto" opens the camera directly. The limits are stated next to them.

Both are native file inputs in index.html's shell, so they work before Python is up (what is
picked meanwhile, index.html's inline script keeps for app.py); this component takes that
markup over and renders it from the model. Raises "picked"(list of File). The accept list
(from the config) leaves audio out.
"""

from bifoga.chat import events
from bifoga.chat.formatting import format_size
from bifoga.chat.model import is_open
from components.dom import Component, set_text


class Picker(Component):
    KEYS = ("visit", "config", "focus")

    def __init__(self, lang, root):
        """root: the shell's picker (index.html's #picker)."""
        super().__init__(lang)
        self.root = root
        self.input = root.querySelector("#attachment-input")
        self.camera_input = root.querySelector("#camera-input")
        self.hint = root.querySelector("#picker-limits")
        set_text(root.querySelector("#picker-queued"), "")
        for source, key in ((self.input, "picker.attach"), (self.camera_input, "picker.camera")):
            set_text(source.nextElementSibling.querySelector(".button-label"), self.t(key))
            self.listeners.add(source, "change", lambda e, s=source: self._changed(s))

    def _changed(self, source):
        files = source.files
        if files and files.length:
            self.emit(events.PICKED, [files.item(i) for i in range(files.length)])
        # Reset so that picking the same file again raises "change" again.
        source.value = ""

    def render(self, state, changed):
        config = state["config"]
        enabled = is_open(state) and config is not None
        self.input.disabled = not enabled
        self.camera_input.disabled = not enabled
        if config and "config" in changed:
            self.input.setAttribute("accept", config["accept"])
            self.hint.textContent = self.t(
                "picker.limits", max=format_size(config["max_attachment_bytes"], self.lang))
        if self.focus_requested(state, changed) == "attach":
            self.input.focus()
