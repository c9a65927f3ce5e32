"""The end-of-visit reminder, "Spara bilagor" (instruction 2.2): the visit's attachments, with
the two rules, a download for each and for all, and a filing mark per attachment.

It reminds but does not force: "Avsluta besök" stays available with unmarked attachments, after
one more confirmation. Renders the model's "filing" while its "dialog" is "reminder"; raises
"download"(attachment), "download_all", "mark"(attachment id, mark), "end" (Avsluta besök),
"end_anyway" and "back".
"""

from bifoga.chat import events
from bifoga.chat.formatting import card_info, format_datetime
from bifoga.chat.model import REMINDER, unmarked
from components.dom import Component, clear, element, keep_focus_inside, set_text
from components.icons import DOWNLOAD, icon_button

MARKS = ("saved", "not_relevant")


class ReminderDialog(Component):
    KEYS = ("dialog", "filing", "dialog_alert", "focus")

    def __init__(self, lang, my_role, utc_offset_minutes):
        super().__init__(lang)
        self.my_role = my_role
        self.utc_offset = utc_offset_minutes
        self.ids = []  # the attachments the rows show
        self._row_targets = []
        self.list = element("ul", {"class": "reminder-list",
                             "aria-label": self.t("reminder.list_label")})
        self.summary = element("p", {"class": "reminder-summary", "role": "status"})
        self.alert = element("p", {"class": "reminder-alert", "role": "alert"})
        self.download_all = icon_button(DOWNLOAD, self.t("reminder.download_all"),
                                        {"class": "secondary"})
        self.back_button = element("button", {"type": "button", "class": "secondary"},
                                   content=self.t("end.back"))
        self.end_button = element("button", {"type": "button", "class": "primary danger"},
                                  content=self.t("end.confirm"))
        self.confirm_text = element("p", {"class": "reminder-confirm-text"})
        self.end_anyway = element("button", {"type": "button", "class": "primary danger"},
                                  content=self.t("reminder.end_anyway"))
        self.confirm_row = element("div", {"class": "reminder-confirm", "hidden": True},
                                   [self.confirm_text, self.end_anyway])
        self.root = element("dialog", {"id": "reminder-dialog", "class": "dialog reminder-dialog",
                                 "aria-labelledby": "reminder-title", "aria-modal": "true"}, [
            element("h2", {"id": "reminder-title"}, content=self.t("reminder.title")),
            element("ol", {"class": "reminder-rules"}, [
                      element("li", None, content=self.t("reminder.rule_save")),
                      element("li", None, content=self.t("reminder.rule_delete")),
            ]),
            element("div", {"class": "reminder-tools"}, [self.download_all]),
            self.list, self.summary, self.alert, self.confirm_row,
            element("div", {"class": "dialog-actions"}, [self.back_button, self.end_button]),
        ])
        add = self.listeners.add
        keep_focus_inside(self.listeners, self.root)
        add(self.download_all, "click", lambda e: self.emit(events.DOWNLOAD_ALL))
        add(self.back_button, "click", lambda e: self.emit(events.BACK))
        add(self.end_button, "click", lambda e: self.emit(events.END))
        add(self.end_anyway, "click", lambda e: self.emit(events.END_ANYWAY))
        add(self.root, "cancel", self._escape)

    def render(self, state, changed):
        filing = state["filing"]
        if state["dialog"] != REMINDER or not filing:
            if self.root.open:
                self.root.close()
            self._rows_listeners_reset()
            self.ids = []
            return
        opening = not self.root.open
        ids = [att["id"] for att in filing["attachments"]]
        if opening or ids != self.ids:
            self._rows_listeners_reset()
            clear(self.list)
            for att in filing["attachments"]:
                self.list.appendChild(self._row(att))
            self.ids = ids
        else:
            self._check_marks(filing["attachments"])
        left = unmarked(filing)
        set_text(self.summary, self.t("reminder.all_marked") if not left else "")
        set_text(self.alert, state["dialog_alert"])
        self.confirm_row.hidden = not filing["confirming"]
        if filing["confirming"]:
            set_text(self.confirm_text, self.t("reminder.unmarked", count=len(left),
                                               total=len(filing["attachments"])))
        self.end_button.hidden = filing["ended"]
        set_text(self.back_button, self.t("reminder.close" if filing["ended"] else "end.back"))
        if opening:
            self.root.showModal()
            self.download_all.focus()
        if self.focus_requested(state, changed) == "end_anyway":
            self.end_anyway.focus()

    # --- rows ------------------------------------------------------------------------------
    def _row(self, att):
        mine = att["sender_role"] == self.my_role
        when = format_datetime(att["sent_at"], self.lang, self.utc_offset)
        direction = self.t("reminder.sent" if mine else "reminder.received",
                           name=att.get("sender_name") or "", time=when)
        label = self.t("attachment.download_named", name=att["name"])
        download = icon_button(DOWNLOAD, self.t("attachment.download"),
                               {"class": "download-button", "aria-label": label})
        self._row_listener(download, "click", lambda e: self.emit(events.DOWNLOAD, att))
        legend = element("legend", {"class": "visually-hidden"},
                         content=self.t("reminder.mark_label", name=att["name"]))
        choices = [legend]
        for mark in MARKS:
            radio_id = "mark-" + att["id"] + "-" + mark
            radio = element("input", {"type": "radio", "name": "mark-" + att["id"], "id": radio_id,
                                "value": mark, "checked": att.get("mark") == mark})
            self._row_listener(radio, "change",
                               lambda e, m=mark: self.emit(events.MARK, att["id"], m))
            choices.append(element("span", {"class": "mark-choice"}, [
                radio, element("label", {"for": radio_id}, content=self.t("reminder." + mark))]))
        return element("li", {"class": "reminder-item", "data-attachment-id": att["id"]}, [
            element("div", {"class": "reminder-item-text"}, [
                      element("span", {"class": "attachment-name"}, content=att["name"]),
                      element("span", {"class": "attachment-info"},
                        content=card_info(att, self.lang)),
                      element("span", {"class": "reminder-direction"}, content=direction),
            ]),
            download,
            element("fieldset", {"class": "reminder-marks"}, choices),
        ])

    def _check_marks(self, attachments):
        """The radios as the model has them (a failed save puts the previous mark back)."""
        for att in attachments:
            radios = self.list.querySelectorAll('input[name="mark-' + att["id"] + '"]')
            for i in range(radios.length):
                radio = radios.item(i)
                checked = radio.value == att.get("mark")
                if bool(radio.checked) != checked:
                    radio.checked = checked

    def _row_listener(self, target, event, handler):
        self._row_targets.append(target)
        self.listeners.add(target, event, handler)

    def _rows_listeners_reset(self):
        for target in self._row_targets:
            self.listeners.remove_target(target)
        self._row_targets = []

    def _escape(self, event):
        event.preventDefault()
        self.emit(events.BACK)
