"""The visit's header: who the visit is with, the user's role, whether it has ended, and for
the clinician "Avsluta besök" (and, after the end, "Spara bilagor" to finish filing).

Renders the visit and whether files went (from the chat's messages, so a reopened ended
visit shows "Spara bilagor" once they have loaded). Raises "end" and "reminder".
"""

from bifoga.chat import events
from bifoga.chat.formatting import format_datetime
from bifoga.chat.model import attachments_in_chat
from components.dom import Component, element


class VisitHeader(Component):
    KEYS = ("visit", "messages", "focus")

    def __init__(self, lang, utc_offset_minutes=0):
        super().__init__(lang)
        self.utc_offset = utc_offset_minutes
        self.heading = element("h1", {"class": "visit-heading"}, content=self.t("app.title"))
        self.role = element("p", {"class": "visit-role"})
        # A demo visit (BIFOGA_DEMO) says so: nobody should take it for a real one.
        self.demo = element("p", {"class": "visit-demo", "hidden": True},
                            content=self.t("visit.demo"))
        self.banner = element("p", {"class": "visit-banner", "role": "status", "hidden": True,
                                "tabindex": "-1"})
        self.end_button = element("button", {"type": "button", "class": "secondary end-button",
                                       "hidden": True}, content=self.t("end.button"))
        self.reminder_button = element("button", {"type": "button", "class": "secondary",
                                            "hidden": True}, content=self.t("end.show_reminder"))
        self.root = element("header", {"class": "visit-header"}, [
            element("div", {"class": "visit-title"}, [self.heading, self.role, self.demo]),
            element("div", {"class": "visit-actions"}, [self.end_button, self.reminder_button]),
            self.banner])
        self.listeners.add(self.end_button, "click", lambda e: self.emit(events.END))
        self.listeners.add(self.reminder_button, "click", lambda e: self.emit(events.REMINDER))

    def render(self, state, changed):
        visit = state["visit"]
        if visit and ("visit" in changed or "messages" in changed):
            self.update(visit, bool(attachments_in_chat(state)))
        target = self.focus_requested(state, changed)
        controls = {"end_button": self.end_button, "reminder_button": self.reminder_button,
                    "banner": self.banner}
        if target in controls:
            controls[target].focus()

    def update(self, visit, has_attachments):
        role = visit.get("role")
        other = visit.get("participants", {}).get("clinician" if role == "patient" else "patient")
        self.heading.textContent = self.t("visit.heading", name=other or "")
        self.role.textContent = self.t("visit.role." + role) if role else ""
        self.demo.hidden = not visit.get("demo")
        ended = visit.get("state") == "ended"
        clinician = role == "clinician"
        self.end_button.hidden = not clinician or ended
        self.reminder_button.hidden = not (clinician and ended and has_attachments)
        self.banner.hidden = not ended
        text = ""
        if ended and visit.get("ended_at"):
            text = self.t("ended.notice_at", time=format_datetime(visit["ended_at"], self.lang,
                                                                  self.utc_offset))
        elif ended:
            text = self.t("ended.notice")
        self.banner.textContent = text
