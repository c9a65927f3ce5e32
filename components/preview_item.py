"""One picked file inside the preview dialog: its preview, check result, what metadata goes,
"Behåll fotodatum", "Minska storlek", and its own upload progress.

Raises "keep_date"(item, bool) and "reduce"(item).
"""

from pyscript import window

from bifoga.formatting import format_size, kind_label
from components.dom import Component, clear, h
from components.icons import DOCUMENT, icon


class PreviewItem(Component):
    def __init__(self, lang, key, file, category, name, size, large):
        super().__init__(lang)
        self.key = key
        self.name = name
        self.ok = False
        self._object_url = None
        self.media = h("div", {"class": "preview-media" + ("" if large else " compact")})
        self.details = h("p", {"class": "preview-details"})
        self.meta_heading = h("p", {"class": "meta-heading"})
        self.meta_list = h("ul", {"class": "meta-list"})
        check_id, hint_id = "keep-date-" + key, "keep-date-hint-" + key
        self.keep_date = h("input", {"type": "checkbox", "id": check_id,
                                     "aria-describedby": hint_id})
        self.keep_date_row = h("div", {"class": "keep-date", "hidden": True}, [
            self.keep_date,
            h("label", {"for": check_id}, content=self.t("meta.keep_date")),
            h("p", {"class": "keep-date-hint", "id": hint_id},
              content=self.t("meta.keep_date_hint")),
        ])
        self.metadata = h("div", {"class": "preview-metadata", "hidden": True},
                          [self.meta_heading, self.meta_list, self.keep_date_row])
        self.reduce_button = h("button", {"type": "button", "class": "secondary reduce-button",
                                          "hidden": True}, content=self.t("reduce.button"))
        self.status = h("p", {"class": "preview-status", "role": "status"})
        self.alert = h("p", {"class": "preview-alert", "role": "alert"})
        self.progress = h("progress", {"max": "100", "value": "0", "class": "upload-progress",
                                       "aria-label": self.t("preview.progress_label") + ": "
                                       + name})
        self.percent = h("span", {"class": "progress-percent", "aria-hidden": "true"})
        self.progress_row = h("div", {"class": "progress-row", "hidden": True},
                              [self.progress, self.percent])
        self.root = h("li", {"class": "preview-item", "data-key": key}, [
            self.media, self.details, self.metadata, self.status, self.alert,
            self.reduce_button, self.progress_row])
        self.listeners.add(self.reduce_button, "click", lambda e: self.emit("reduce", self))
        self.listeners.add(self.keep_date, "change",
                           lambda e: self.emit("keep_date", self, bool(self.keep_date.checked)))
        self._show(file, category, size)

    def _show(self, file, category, size):
        if category in ("image", "video"):
            self._object_url = window.URL.createObjectURL(file)
        if category == "image":
            self.media.appendChild(h("img", {"src": self._object_url, "alt": self.name,
                                             "class": "preview-image"}))
        elif category == "video":
            self.media.appendChild(h("video", {"src": self._object_url, "controls": True,
                                               "preload": "metadata", "class": "preview-video",
                                               "aria-label": self.name}))
        else:
            self._show_card()
        self.details.textContent = self.t(
            "preview.file_info", name=self.name, kind=kind_label(category, self.lang),
            size=format_size(size, self.lang))

    def _show_card(self):
        self._revoke()
        clear(self.media)
        self.media.appendChild(h("div", {"class": "preview-file"}, [
            icon(h("span", {"class": "icon file-icon", "aria-hidden": "true"}), DOCUMENT),
            h("span", {"class": "preview-file-name"}, content=self.name),
        ]))

    # --- check results ---------------------------------------------------------------------
    def set_checking(self):
        self.ok = False
        self.status.textContent = self.t("preview.checking")

    def set_details(self, category, mime_label, size):
        self.details.classList.remove("reduced")
        self.details.textContent = self.t(
            "preview.file_info_typed", name=self.name, kind=kind_label(category, self.lang),
            type=mime_label, size=format_size(size, self.lang))

    def set_metadata(self, labels, offer_keep_date):
        """What will be removed before sending, in plain words; or that there is nothing."""
        clear(self.meta_list)
        self.meta_heading.textContent = self.t("meta.heading") if labels else self.t("meta.none")
        for label in labels:
            self.meta_list.appendChild(h("li", None, content=label))
        self.meta_list.hidden = not labels
        self.keep_date_row.hidden = not offer_keep_date
        self.metadata.hidden = False

    def set_ready(self):
        self.ok = True
        self.alert.textContent = ""
        self.status.textContent = self.t("preview.ready", name=self.name)

    def set_refused(self, message, as_card=True):
        """Why the file can't be sent. A refused file is never rendered (a song named .jpg
        shows no broken image), only its name on a file card."""
        self.ok = False
        if as_card:
            self._show_card()
        self.status.textContent = ""
        self.alert.textContent = message
        self.progress_row.hidden = True
        self.reduce_button.hidden = True

    def offer_reduce(self):
        self.reduce_button.hidden = False
        self.reduce_button.disabled = False

    def set_reducing(self):
        self.reduce_button.disabled = True
        self.status.textContent = self.t("reduce.working")

    def set_reduced(self, name, size, width, height):
        self.name = name
        self.reduce_button.hidden = True
        self.alert.textContent = ""
        self.metadata.hidden = True
        self.details.textContent = self.t(
            "reduce.done", size=format_size(size, self.lang),
            dimensions=self.t("meta.dimensions", width=width, height=height))
        self.details.classList.add("reduced")

    # --- upload ----------------------------------------------------------------------------
    def set_progress(self, percent, label=None):
        self.progress_row.hidden = False
        self.progress.value = percent
        self.percent.textContent = self.t("preview.percent", percent=percent)
        self.status.textContent = label or self.t("preview.uploading", name=self.name,
                                                  percent=percent)

    def set_sent(self):
        self.ok = False
        self.progress.value = 100
        self.percent.textContent = self.t("preview.percent", percent=100)
        self.status.textContent = self.t("preview.sent", name=self.name)

    def destroy(self):
        self._revoke()
        super().destroy()

    def _revoke(self):
        if self._object_url:
            window.URL.revokeObjectURL(self._object_url)
            self._object_url = None
