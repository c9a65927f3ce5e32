"""One picked file inside the preview dialog: its preview, check result, what metadata goes,
"Behåll fotodatum", "Minska storlek", and its own upload progress.

Renders its record of the model (bifoga/chat/model.py); raises "keep_date"(key, bool) and
"reduce"(key).
"""

from pyscript import window

from bifoga.chat import events
from bifoga.chat.formatting import metadata_labels, record_texts
from components.dom import Component, clear, element, set_text
from components.icons import DOCUMENT, icon

# Pictures the browser shows as they were picked (a HEIC is shown once converted).
SHOWN_AS_PICKED = ("image/jpeg", "image/png", "image/gif", "image/webp")


class PreviewItem(Component):
    def __init__(self, lang, rec, large):
        super().__init__(lang)
        key = self.key = rec["key"]
        name = self.name = rec["name"]
        self.rec = None  # the record last drawn
        self.as_card = False
        self._object_url = None
        self._converted_url = None
        self.media = element("div", {"class": "preview-media" + ("" if large else " compact")})
        self.details = element("p", {"class": "preview-details"})
        self.meta_heading = element("p", {"class": "meta-heading"})
        self.meta_list = element("ul", {"class": "meta-list"})
        check_id, hint_id = "keep-date-" + key, "keep-date-hint-" + key
        self.keep_date = element("input", {"type": "checkbox", "id": check_id,
                                     "aria-describedby": hint_id})
        self.keep_date_row = element("div", {"class": "keep-date", "hidden": True}, [
            self.keep_date,
            element("label", {"for": check_id}, content=self.t("meta.keep_date")),
            element("p", {"class": "keep-date-hint", "id": hint_id},
                    content=self.t("meta.keep_date_hint")),
        ])
        self.metadata = element("div", {"class": "preview-metadata", "hidden": True},
                                [self.meta_heading, self.meta_list, self.keep_date_row])
        self.reduce_button = element("button", {"type": "button",
                                                "class": "secondary reduce-button",
                                          "hidden": True}, content=self.t("reduce.button"))
        self.status = element("p", {"class": "preview-status", "role": "status"})
        self.alert = element("p", {"class": "preview-alert", "role": "alert"})
        self.progress = element("progress", {"max": "100", "value": "0", "class": "upload-progress",
                                       "aria-label": self.t("preview.progress_label") + ": "
                                       + name})
        self.percent = element("span", {"class": "progress-percent", "aria-hidden": "true"})
        self.progress_row = element("div", {"class": "progress-row", "hidden": True},
                                    [self.progress, self.percent])
        self.root = element("li", {"class": "preview-item", "data-key": key}, [
            self.media, self.details, self.metadata, self.status, self.alert,
            self.reduce_button, self.progress_row])
        self.listeners.add(self.reduce_button, "click", lambda e: self.emit(events.REDUCE, key))
        self.listeners.add(self.keep_date, "change",
                           lambda e: self.emit(events.KEEP_DATE, key, bool(self.keep_date.checked)))
        self.file = rec["file"]  # the picked File (the record's opaque handle), shown as picked
        self._show(self.file, rec["category"])

    def _show(self, file, category):
        if category in ("image", "video"):
            self._object_url = window.URL.createObjectURL(file)
        if category == "image":
            self.media.appendChild(element("img", {"src": self._object_url, "alt": self.name,
                                                   "class": "preview-image"}))
        elif category == "video":
            self.media.appendChild(element("video", {"src": self._object_url, "controls": True,
                                                     "preload": "metadata",
                                                     "class": "preview-video",
                                                     "aria-label": self.name}))
        else:
            self._show_card()

    def _show_converted(self, url, name):
        """An iPhone photo as the JPEG that will be sent (the worker owns and revokes the URL).
        The browser did not know the HEIC's type, so it may stand as a card until now."""
        if self._converted_url == url:
            return
        self._converted_url = url
        self._revoke()
        clear(self.media)
        self.as_card = False
        self.media.appendChild(element("img", {"src": url, "alt": name,
                                               "class": "preview-image"}))

    def _show_card(self):
        """A refused file is never rendered (a song named .jpg shows no broken image), only its
        name on a file card."""
        self.as_card = True
        self._revoke()
        clear(self.media)
        self.media.appendChild(element("div", {"class": "preview-file"}, [
            icon(DOCUMENT, "file-icon"),
            element("span", {"class": "preview-file-name"}, content=self.name),
        ]))

    def render(self, rec, max_bytes):
        if rec == self.rec:
            return
        self.rec = rec
        if rec["as_card"] and not self.as_card:
            self._show_card()
        elif rec["preview_url"] and rec["status"] != "refused":
            self._show_converted(rec["preview_url"], rec["name"])
        elif (self.as_card and not rec["as_card"] and rec["typed"]
              and (rec["category"] == "video" or rec["mime"] in SHOWN_AS_PICKED)):
            # The browser did not know the type (a .MOV on some systems); the content check
            # did: show the picture or the film after all.
            clear(self.media)
            self.as_card = False
            self._show(self.file, rec["category"])
        texts = record_texts(rec, max_bytes, self.lang)
        set_text(self.details, texts["details"])
        if rec["reduced"]:
            self.details.classList.add("reduced")
        else:
            self.details.classList.remove("reduced")
        set_text(self.status, texts["status"])
        self.root.setAttribute("data-verified", "true" if rec["verified"] else "false")
        set_text(self.alert, texts["alert"])
        self._render_metadata(rec)
        self.reduce_button.hidden = not (rec["reducible"] and rec["status"] in ("refused",
                                                                             "reducing"))
        self.reduce_button.disabled = rec["status"] == "reducing"
        in_flight = rec["status"] in ("uploading", "sent")
        self.progress_row.hidden = not in_flight
        if in_flight:
            self.progress.value = rec["progress"]
            set_text(self.percent, self.t("preview.percent", percent=rec["progress"]))

    def _render_metadata(self, rec):
        """What will be removed before sending, in plain words; or that there is nothing."""
        if not rec["typed"] or rec["category"] not in ("image", "video") or rec["reduced"]:
            self.metadata.hidden = True
            return
        clear(self.meta_list)
        if not rec["verified"]:  # known from the first bytes only: the worker still looks
            set_text(self.meta_heading, self.t("meta.pending"))
            self.meta_list.hidden = True
            self.keep_date_row.hidden = True
            self.metadata.hidden = False
            return
        labels = metadata_labels(rec["removed"], self.lang)
        set_text(self.meta_heading, self.t("meta.heading") if labels else self.t("meta.none"))
        for label in labels:
            self.meta_list.appendChild(element("li", None, content=label))
        self.meta_list.hidden = not labels
        self.keep_date_row.hidden = not rec["has_date"]
        self.keep_date.checked = rec["keep_date"]
        self.metadata.hidden = False

    def destroy(self):
        self._revoke()
        super().destroy()

    def _revoke(self):
        if self._object_url:
            window.URL.revokeObjectURL(self._object_url)
            self._object_url = None
