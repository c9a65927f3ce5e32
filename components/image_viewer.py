"""The enlarged image: a modal dialog with the full image as a real <img>.

A real <img> of the image itself, so the browser's own right-click "Spara bild som…" and
"Kopiera bild" work. Esc or the close button closes it; focus goes back to the magnifier.
"""

from bifoga.formatting import format_size, type_label
from components.dom import Component, h


class ImageViewer(Component):
    def __init__(self, lang):
        super().__init__(lang)
        self.title = h("h2", {"id": "viewer-title", "class": "viewer-title"})
        self.image = h("img", {"class": "viewer-image", "id": "viewer-image"})
        self.info = h("p", {"class": "viewer-info"})
        self.close_button = h("button", {"type": "button", "class": "secondary viewer-close"},
                              content=self.t("viewer.close"))
        header = h("div", {"class": "viewer-header"}, [self.title, self.close_button])
        self.root = h("dialog", {"id": "image-viewer", "class": "dialog image-viewer",
                                 "aria-labelledby": "viewer-title", "aria-modal": "true"},
                      [header, h("div", {"class": "viewer-stage"}, [self.image]), self.info])
        self._opener = None
        self.listeners.add(self.close_button, "click", lambda e: self.close())
        self.listeners.add(self.root, "close", self._closed)
        # A click on the backdrop (the dialog element itself, outside its content) closes it.
        self.listeners.add(self.root, "click", self._backdrop_click)

    def open(self, attachment, url, sender_line, opener):
        self._opener = opener
        self.title.textContent = self.t("viewer.title", name=attachment["name"])
        self.image.setAttribute("src", url)
        self.image.setAttribute("alt", attachment["name"])
        self.info.textContent = (sender_line + " · " + type_label(attachment.get("mime")) + " · "
                                 + format_size(attachment["size"], self.lang))
        if not self.root.open:
            self.root.showModal()
        self.close_button.focus()

    def close(self):
        if self.root.open:
            self.root.close()

    def _closed(self, event):
        self.image.removeAttribute("src")
        if self._opener is not None:
            self._opener.focus()
            self._opener = None

    def _backdrop_click(self, event):
        if event.target == self.root:
            self.close()
