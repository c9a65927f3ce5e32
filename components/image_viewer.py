"""The image viewer behind the magnifier: zoom, pan, rotate, save, copy, previous and next.

The enlarged image is a real <img> of the image itself, so the browser's own right-click
"Spara bild som…" and "Kopiera bild" work too. Esc, the close button or a click outside closes
it (focus then goes back to the magnifier that opened it: the model's focus request).
Renders the model's "viewer" slice; raises "save"(attachment), "step"(delta) and "closed".
"""

import asyncio

from bifoga.chat import events
from bifoga.chat.formatting import format_size, sender_line, type_label
from bifoga.chat.viewer_math import PAN_STEP, View, pinch_factor
from components.clipboard import copy_image
from components.dom import Component, element, keep_focus_inside


class ImageViewer(Component):
    KEYS = ("viewer",)

    def __init__(self, lang, utc_offset_minutes=0):
        super().__init__(lang)
        self.utc_offset = utc_offset_minutes
        self.view = View()
        self.attachment = None
        self.shown = None  # the viewer state last drawn
        self._pointers = {}
        self._pinch_distance = 0.0

        header = self._header()
        self.image = element("img", {"class": "viewer-image", "id": "viewer-image",
                                     "draggable": "false"})
        self.stage = element("div", {"class": "viewer-stage", "id": "viewer-stage"}, [self.image])
        toolbar = self._toolbar()
        footer = self._footer()
        self.status = element("p", {"class": "viewer-status", "role": "status"})
        help_text = element("p", {"class": "viewer-help", "id": "viewer-help"},
                            content=self.t("viewer.help"))
        self.root = element("dialog", {"id": "image-viewer", "class": "dialog image-viewer",
                                 "aria-labelledby": "viewer-title",
                                 "aria-describedby": "viewer-help", "aria-modal": "true"},
                            [header, self.stage, toolbar, footer, self.status, help_text])
        self._listen()

    def _header(self):
        """The title, which of the chat's images this is, and the close button."""
        self.title = element("h2", {"id": "viewer-title", "class": "viewer-title"})
        self.position = element("p", {"class": "viewer-position"})
        self.close_button = element("button", {"type": "button", "class": "secondary viewer-close"},
                                    content=self.t("viewer.close"))
        return element("div", {"class": "viewer-header"},
                       [self.title, self.position, self.close_button])

    def _toolbar(self):
        """Previous, zoom out, the zoom level, zoom in, reset, rotate, next."""
        self.zoom_label = element("output", {"class": "viewer-zoom", "aria-live": "polite"})
        self.prev_button = self._button("viewer.previous",
                                        lambda e: self.emit(events.STEP, -1), "‹")
        self.next_button = self._button("viewer.next", lambda e: self.emit(events.STEP, 1), "›")
        return element("div", {"class": "viewer-toolbar", "role": "toolbar",
                               "aria-controls": "viewer-stage"}, [
            self.prev_button,
            self._button("viewer.zoom_out", lambda e: self._zoom(-1), "−"),
            self.zoom_label,
            self._button("viewer.zoom_in", lambda e: self._zoom(1), "+"),
            self._text_button("viewer.zoom_reset", lambda e: self._reset()),
            self._button("viewer.rotate", lambda e: self._rotate(), "⟳"),
            self.next_button,
        ])

    def _footer(self):
        """Who sent the image and when, and the save and copy buttons."""
        self.save_button = element("button", {"type": "button", "class": "secondary"},
                                   content=self.t("viewer.save"))
        self.copy_button = element("button", {"type": "button", "class": "secondary"},
                                   content=self.t("viewer.copy"))
        self.info = element("p", {"class": "viewer-info"})
        return element("div", {"class": "viewer-footer"}, [
            self.info, element("div", {"class": "viewer-actions"},
                               [self.save_button, self.copy_button])])

    def _listen(self):
        add = self.listeners.add
        keep_focus_inside(self.listeners, self.root)
        add(self.close_button, "click", lambda e: self.close())
        add(self.save_button, "click", lambda e: self.emit(events.SAVE, self.attachment))
        add(self.copy_button, "click", self._copy)
        add(self.root, "close", self._closed)
        add(self.root, "click", self._backdrop_click)
        add(self.root, "keydown", self._keydown)
        add(self.stage, "wheel", self._wheel, {"passive": False})
        add(self.stage, "pointerdown", self._pointer_down)
        add(self.stage, "pointermove", self._pointer_move)
        for name in ("pointerup", "pointercancel", "lostpointercapture"):
            add(self.stage, name, self._pointer_up)

    def _text_button(self, key, handler):
        button = element("button", {"type": "button", "class": "viewer-tool"}, content=self.t(key))
        self.listeners.add(button, "click", handler)
        return button

    def _button(self, key, handler, symbol):
        button = element("button", {"type": "button", "class": "viewer-tool",
                                     "aria-label": self.t(key), "title": self.t(key)},
                         [element("span", {"aria-hidden": "true"}, content=symbol)])
        self.listeners.add(button, "click", handler)
        return button

    # --- showing ---------------------------------------------------------------------------
    def render(self, state, changed):
        viewer = state["viewer"]
        if viewer == self.shown:
            return
        self.shown = viewer
        if not viewer:
            self.close()
            return
        for message in state["messages"]:
            att = message.get("attachment")
            if att and att["id"] == viewer["id"]:
                self.show(att, viewer, sender_line(message, state["visit"]["role"], self.lang,
                                                   self.utc_offset))

    def show(self, attachment, viewer, sender):
        """Show an image, or step to another one."""
        self.attachment = attachment
        self.view.reset()
        self._apply()
        self.status.textContent = ""
        self.title.textContent = self.t("viewer.title", name=attachment["name"])
        self.image.setAttribute("src", viewer["url"])
        self.image.setAttribute("alt", attachment["name"])
        self.info.textContent = self.t("viewer.info", sender=sender,
                                       type=type_label(attachment.get("mime")),
                                       size=format_size(attachment["size"], self.lang))
        index, count = viewer["index"], viewer["count"]
        self.position.textContent = self.t("viewer.position", n=index + 1, total=count)
        self.position.hidden = count < 2
        self.prev_button.disabled = index <= 0
        self.next_button.disabled = index >= count - 1
        if not self.root.open:
            self.root.showModal()
            self.close_button.focus()

    def _copy(self, event):
        async def run():
            try:
                await copy_image(self.image)
                self.say(self.t("viewer.copied"))
            except Exception:  # noqa: BLE001 - permission refused, no clipboard: say so plainly
                self.say(self.t("viewer.copy_failed"))
        asyncio.create_task(run())

    def say(self, message):
        self.status.textContent = message

    def close(self):
        if self.root.open:
            self.root.close()

    # --- view changes ----------------------------------------------------------------------
    def _size(self):
        return float(self.stage.clientWidth), float(self.stage.clientHeight)

    def _apply(self):
        self.image.style.transform = self.view.css()
        self.zoom_label.textContent = self.t("viewer.zoom_level", percent=self.view.percent())
        self.stage.classList.toggle("zoomed", self.view.zoomed)

    def _zoom(self, direction):
        width, height = self._size()
        if direction > 0:
            self.view.zoom_in(width, height)
        else:
            self.view.zoom_out(width, height)
        self._apply()

    def _reset(self):
        self.view.reset()
        self._apply()

    def _rotate(self):
        self.view.rotate()
        self._apply()

    # --- input -----------------------------------------------------------------------------
    def _keydown(self, event):
        key = event.key
        width, height = self._size()
        if key in ("+", "="):
            self._zoom(1)
        elif key == "-":
            self._zoom(-1)
        elif key == "0":
            self._reset()
        elif key in ("ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown"):
            if self.view.zoomed:
                dx = {"ArrowLeft": PAN_STEP, "ArrowRight": -PAN_STEP}.get(key, 0)
                dy = {"ArrowUp": PAN_STEP, "ArrowDown": -PAN_STEP}.get(key, 0)
                self.view.pan(dx, dy, width, height)
                self._apply()
            elif key in ("ArrowLeft", "ArrowRight"):
                self.emit(events.STEP, -1 if key == "ArrowLeft" else 1)
            else:
                return
        else:
            return
        event.preventDefault()

    def _wheel(self, event):
        event.preventDefault()
        rect = self.stage.getBoundingClientRect()
        cx = float(event.clientX) - float(rect.left) - float(rect.width) / 2
        cy = float(event.clientY) - float(rect.top) - float(rect.height) / 2
        factor = 1.15 if float(event.deltaY) < 0 else 1 / 1.15
        self.view.zoom(factor, cx, cy, float(rect.width), float(rect.height))
        self._apply()

    def _pointer_down(self, event):
        self._pointers[int(event.pointerId)] = (float(event.clientX), float(event.clientY))
        self.stage.setPointerCapture(event.pointerId)
        if len(self._pointers) == 2:
            self._pinch_distance = self._distance()

    def _pointer_move(self, event):
        pid = int(event.pointerId)
        if pid not in self._pointers:
            return
        old_x, old_y = self._pointers[pid]
        self._pointers[pid] = (float(event.clientX), float(event.clientY))
        width, height = self._size()
        if len(self._pointers) >= 2:
            distance = self._distance()
            self.view.zoom(pinch_factor(self._pinch_distance, distance), 0.0, 0.0, width, height)
            self._pinch_distance = distance
        elif self.view.zoomed:
            self.view.pan(float(event.clientX) - old_x, float(event.clientY) - old_y, width, height)
        else:
            return
        self._apply()

    def _pointer_up(self, event):
        self._pointers.pop(int(event.pointerId), None)

    def _distance(self):
        (x1, y1), (x2, y2) = list(self._pointers.values())[:2]
        return ((x1 - x2) ** 2 + (y1 - y2) ** 2) ** 0.5

    def _closed(self, event):
        self.image.removeAttribute("src")
        self._pointers = {}
        self.emit(events.CLOSED)

    def _backdrop_click(self, event):
        if event.target == self.root:
            self.close()
