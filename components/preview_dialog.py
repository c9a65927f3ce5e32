"""The "Förhandsgranska" dialog: shows the picked file, its check result, and upload progress.

Raises "upload" when the user presses Ladda upp, "cancel" when the dialog is dismissed,
"keep_date"(bool) when "Behåll fotodatum" changes, and "reduce" for "Minska storlek".
"""

from pyscript import window

from bifoga.formatting import format_size, kind_label
from components.dom import Component, clear, h
from components.icons import DOCUMENT, icon


class PreviewDialog(Component):
    def __init__(self, lang):
        super().__init__(lang)
        self.title = h("h2", {"id": "preview-title"}, content=self.t("preview.title"))
        self.media = h("div", {"class": "preview-media"})
        self.details = h("p", {"class": "preview-details"})
        self.meta_heading = h("p", {"class": "meta-heading"})
        self.meta_list = h("ul", {"class": "meta-list"})
        self.keep_date = h("input", {"type": "checkbox", "id": "keep-date"})
        self.keep_date_row = h("div", {"class": "keep-date", "hidden": True}, [
            self.keep_date,
            h("label", {"for": "keep-date"}, content=self.t("meta.keep_date")),
            h("p", {"class": "keep-date-hint", "id": "keep-date-hint"},
              content=self.t("meta.keep_date_hint")),
        ])
        self.keep_date.setAttribute("aria-describedby", "keep-date-hint")
        self.metadata = h("section", {"class": "preview-metadata", "hidden": True,
                                      "aria-label": self.t("meta.heading")},
                          [self.meta_heading, self.meta_list, self.keep_date_row])
        self.reduce_button = h("button", {"type": "button", "class": "secondary reduce-button",
                                          "hidden": True}, content=self.t("reduce.button"))
        self.status = h("p", {"class": "preview-status", "role": "status"})
        self.alert = h("p", {"class": "preview-alert", "role": "alert"})
        self.progress = h("progress", {"max": "100", "value": "0", "id": "upload-progress",
                                       "aria-label": self.t("preview.progress_label")})
        self.percent = h("span", {"class": "progress-percent", "aria-hidden": "true"})
        self.progress_row = h("div", {"class": "progress-row", "hidden": True},
                              [self.progress, self.percent])
        self.cancel_button = h("button", {"type": "button", "class": "secondary"},
                               content=self.t("preview.cancel"))
        self.upload_button = h("button", {"type": "button", "class": "primary", "disabled": True},
                               content=self.t("preview.upload"))
        actions = h("div", {"class": "dialog-actions"}, [self.cancel_button, self.upload_button])
        self.root = h(
            "dialog",
            {"id": "preview-dialog", "class": "dialog preview-dialog",
             "aria-labelledby": "preview-title", "aria-modal": "true"},
            [self.title, self.media, self.details, self.metadata, self.status, self.alert,
             self.reduce_button, self.progress_row, actions],
        )
        self._object_url = None
        self._busy = False
        self.listeners.add(self.cancel_button, "click", self._cancel_clicked)
        self.listeners.add(self.upload_button, "click", self._upload_clicked)
        self.listeners.add(self.reduce_button, "click", lambda e: self.emit("reduce"))
        self.listeners.add(self.keep_date, "change",
                           lambda e: self.emit("keep_date", bool(self.keep_date.checked)))
        # Esc fires "cancel" on a modal <dialog>: treat it as Avbryt.
        self.listeners.add(self.root, "cancel", self._escape)

    # --- showing -------------------------------------------------------------------------
    def show(self, file, category, name, size):
        """Open for a picked file. category is a first guess from the browser's type."""
        self._revoke()
        clear(self.media)
        self._busy = False
        self.alert.textContent = ""
        self.status.textContent = ""
        self.progress_row.hidden = True
        self.upload_button.disabled = True
        self.cancel_button.disabled = False
        self.metadata.hidden = True
        self.reduce_button.hidden = True
        self.keep_date_row.hidden = True
        self.keep_date.checked = False
        if category in ("image", "video"):
            self._object_url = window.URL.createObjectURL(file)
        if category == "image":
            self.media.appendChild(h("img", {"src": self._object_url, "alt": name,
                                             "class": "preview-image"}))
        elif category == "video":
            self.media.appendChild(h("video", {"src": self._object_url, "controls": True,
                                               "preload": "metadata", "class": "preview-video",
                                               "aria-label": name}))
        else:
            self._show_card(name)
        self.details.textContent = name + " · " + self.t(
            "preview.file_info", kind=kind_label(category, self.lang),
            size=format_size(size, self.lang))
        self.details.classList.remove("reduced")
        if not self.root.open:
            self.root.showModal()
        self.cancel_button.focus()

    def set_checking(self):
        self.status.textContent = self.t("preview.checking")

    def set_details(self, name, category, mime_label, size):
        self.details.textContent = name + " · " + self.t(
            "preview.file_info", kind=kind_label(category, self.lang) + " (" + mime_label + ")",
            size=format_size(size, self.lang))

    def set_metadata(self, labels, offer_keep_date):
        """What will be removed before sending, in plain words; or that there is nothing."""
        clear(self.meta_list)
        self.meta_heading.textContent = self.t("meta.heading") if labels else self.t("meta.none")
        for label in labels:
            self.meta_list.appendChild(h("li", None, content=label))
        self.meta_list.hidden = not labels
        self.keep_date_row.hidden = not offer_keep_date
        self.metadata.hidden = False

    def offer_reduce(self):
        self.reduce_button.hidden = False
        self.reduce_button.disabled = False
        self.reduce_button.focus()

    def set_reducing(self):
        self.reduce_button.disabled = True
        self.status.textContent = self.t("reduce.working")

    def set_reduced(self, size, width, height):
        self.reduce_button.hidden = True
        self.alert.textContent = ""
        self.details.textContent = self.t(
            "reduce.done", size=format_size(size, self.lang),
            dimensions=self.t("meta.dimensions", width=width, height=height))
        self.details.classList.add("reduced")

    def set_ready(self, name):
        self.alert.textContent = ""
        self.status.textContent = self.t("preview.ready", name=name)
        self.upload_button.disabled = False
        self.upload_button.focus()

    def set_refused(self, message, name=None):
        """Show why the file can't be sent. With a name, the media preview becomes a plain
        file card: a refused file is never rendered (a song named .jpg shows no broken image)."""
        if name is not None:
            self._show_card(name)
        self.status.textContent = ""
        self.alert.textContent = message
        self.upload_button.disabled = True
        self.progress_row.hidden = True
        self.reduce_button.hidden = True
        self._busy = False
        self.cancel_button.disabled = False
        self.cancel_button.focus()

    def set_progress(self, name, percent, label=None):
        self._busy = True
        self.progress_row.hidden = False
        self.upload_button.disabled = True
        self.progress.value = percent
        self.percent.textContent = str(percent) + " %"
        self.status.textContent = label or self.t("preview.uploading", name=name, percent=percent)

    def _show_card(self, name):
        self._revoke()
        clear(self.media)
        self.media.appendChild(h("div", {"class": "preview-file"}, [
            icon(h("span", {"class": "icon file-icon", "aria-hidden": "true"}), DOCUMENT),
            h("span", {"class": "preview-file-name"}, content=name),
        ]))

    def close(self):
        self._busy = False
        if self.root.open:
            self.root.close()
        self._revoke()
        clear(self.media)

    @property
    def is_open(self):
        return bool(self.root.open)

    # --- events --------------------------------------------------------------------------
    def _upload_clicked(self, event):
        if not self.upload_button.disabled:
            self.emit("upload")

    def _cancel_clicked(self, event):
        self.emit("cancel")

    def _escape(self, event):
        event.preventDefault()
        self.emit("cancel")

    def _revoke(self):
        if self._object_url:
            window.URL.revokeObjectURL(self._object_url)
            self._object_url = None
