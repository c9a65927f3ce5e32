"""The end-of-visit reminder, "Spara bilagor" (instruction 2.2): the visit's attachments, with
the two rules, a download for each and for all, and a filing mark per attachment.

It reminds but does not force: "Avsluta besök" stays available with unmarked attachments, after
one more confirmation. Raises "download"(attachment), "download_all", "mark"(attachment, mark),
"end" and "back".
"""

from bifoga.formatting import card_info, format_datetime
from components.dom import Component, clear, h, keep_focus_inside
from components.icons import DOWNLOAD, icon

MARKS = ("saved", "not_relevant")


class ReminderDialog(Component):
    def __init__(self, lang, my_role, utc_offset_minutes):
        super().__init__(lang)
        self.my_role = my_role
        self.utc_offset = utc_offset_minutes
        self.attachments = []
        self.ended = False
        self.list = h("ul", {"class": "reminder-list",
                             "aria-label": self.t("reminder.list_label")})
        self.summary = h("p", {"class": "reminder-summary", "role": "status"})
        self.alert = h("p", {"class": "reminder-alert", "role": "alert"})
        self.download_all = h("button", {"type": "button", "class": "secondary"},
                              [icon(h("span", {"class": "icon", "aria-hidden": "true"}), DOWNLOAD),
                               h("span", {"class": "button-label"},
                                 content=self.t("reminder.download_all"))])
        self.back_button = h("button", {"type": "button", "class": "secondary"},
                             content=self.t("end.back"))
        self.end_button = h("button", {"type": "button", "class": "primary danger"},
                            content=self.t("end.confirm"))
        self.confirm_text = h("p", {"class": "reminder-confirm-text"})
        self.end_anyway = h("button", {"type": "button", "class": "primary danger"},
                            content=self.t("reminder.end_anyway"))
        self.confirm_row = h("div", {"class": "reminder-confirm", "hidden": True},
                             [self.confirm_text, self.end_anyway])
        self.root = h("dialog", {"id": "reminder-dialog", "class": "dialog reminder-dialog",
                                 "aria-labelledby": "reminder-title", "aria-modal": "true"}, [
            h("h2", {"id": "reminder-title"}, content=self.t("reminder.title")),
            h("ol", {"class": "reminder-rules"}, [
                h("li", None, content=self.t("reminder.rule_save")),
                h("li", None, content=self.t("reminder.rule_delete")),
            ]),
            h("div", {"class": "reminder-tools"}, [self.download_all]),
            self.list, self.summary, self.alert, self.confirm_row,
            h("div", {"class": "dialog-actions"}, [self.back_button, self.end_button]),
        ])
        add = self.listeners.add
        keep_focus_inside(self.listeners, self.root)
        add(self.download_all, "click", lambda e: self.emit("download_all"))
        add(self.back_button, "click", lambda e: self.emit("back"))
        add(self.end_button, "click", self._end_clicked)
        add(self.end_anyway, "click", lambda e: self.emit("end"))
        add(self.root, "cancel", self._escape)

    def open(self, attachments, ended):
        self.attachments = attachments
        self.ended = ended
        self._rows_listeners_reset()
        clear(self.list)
        for att in attachments:
            self.list.appendChild(self._row(att))
        self.alert.textContent = ""
        self.confirm_row.hidden = True
        self.end_button.hidden = ended
        self.back_button.textContent = self.t("reminder.close" if ended else "end.back")
        self._summarise()
        if not self.root.open:
            self.root.showModal()
        self.download_all.focus()

    def close(self):
        if self.root.open:
            self.root.close()
        self._rows_listeners_reset()

    def set_mark(self, attachment_id, mark):
        for att in self.attachments:
            if att["id"] == attachment_id:
                att["mark"] = mark
        self._summarise()

    def warn(self, message):
        self.alert.textContent = message

    # --- rows ------------------------------------------------------------------------------
    def _row(self, att):
        mine = att["sender_role"] == self.my_role
        when = format_datetime(att["sent_at"], self.lang, self.utc_offset)
        direction = self.t("reminder.sent" if mine else "reminder.received",
                           name=att.get("sender_name") or "", time=when)
        label = self.t("attachment.download_named", name=att["name"])
        download = h("button", {"type": "button", "class": "download-button",
                                "aria-label": label},
                     [icon(h("span", {"class": "icon", "aria-hidden": "true"}), DOWNLOAD),
                      h("span", {"class": "button-label"}, content=self.t("attachment.download"))])
        self._row_listener(download, "click", lambda e: self.emit("download", att))
        legend = h("legend", {"class": "visually-hidden"},
                   content=self.t("reminder.mark_label", name=att["name"]))
        choices = [legend]
        for mark in MARKS:
            radio_id = "mark-" + att["id"] + "-" + mark
            radio = h("input", {"type": "radio", "name": "mark-" + att["id"], "id": radio_id,
                                "value": mark, "checked": att.get("mark") == mark})
            self._row_listener(radio, "change", lambda e, m=mark: self._marked(att, m))
            choices.append(h("span", {"class": "mark-choice"}, [
                radio, h("label", {"for": radio_id}, content=self.t("reminder." + mark))]))
        return h("li", {"class": "reminder-item", "data-attachment-id": att["id"]}, [
            h("div", {"class": "reminder-item-text"}, [
                h("span", {"class": "attachment-name"}, content=att["name"]),
                h("span", {"class": "attachment-info"},
                  content=card_info(att, self.lang)),
                h("span", {"class": "reminder-direction"}, content=direction),
            ]),
            download,
            h("fieldset", {"class": "reminder-marks"}, choices),
        ])

    def _marked(self, att, mark):
        # Counted at once (the end button must see it); main.py saves it and reverts on failure.
        previous = att.get("mark")
        self.set_mark(att["id"], mark)
        self.emit("mark", att, mark, previous)

    def revert_mark(self, attachment_id, previous):
        self.set_mark(attachment_id, previous)
        radios = self.list.querySelectorAll('input[name="mark-' + attachment_id + '"]')
        for i in range(radios.length):
            radios.item(i).checked = radios.item(i).value == previous

    def _row_listener(self, target, event, handler):
        self._row_targets.append(target)
        self.listeners.add(target, event, handler)

    def _rows_listeners_reset(self):
        for target in getattr(self, "_row_targets", []):
            self.listeners.remove_target(target)
        self._row_targets = []

    def _unmarked(self):
        return [a for a in self.attachments if not a.get("mark")]

    def _summarise(self):
        unmarked = self._unmarked()
        self.summary.textContent = self.t("reminder.all_marked") if not unmarked else ""

    # --- ending ----------------------------------------------------------------------------
    def _end_clicked(self, event):
        unmarked = self._unmarked()
        if unmarked and self.confirm_row.hidden:
            self.confirm_text.textContent = self.t("reminder.unmarked", count=len(unmarked),
                                                   total=len(self.attachments))
            self.confirm_row.hidden = False
            self.end_anyway.focus()
            return
        self.emit("end")

    def _escape(self, event):
        event.preventDefault()
        self.emit("back")
