"""The visit's header: who the visit is with, the user's role, and whether it has ended."""

from components.dom import Component, h


class VisitHeader(Component):
    def __init__(self, lang):
        super().__init__(lang)
        self.heading = h("h1", {"class": "visit-heading"}, content=self.t("app.title"))
        self.role = h("p", {"class": "visit-role"})
        self.banner = h("p", {"class": "visit-banner", "role": "status", "hidden": True})
        self.root = h("header", {"class": "visit-header"}, [
            h("div", {"class": "visit-title"}, [self.heading, self.role]), self.banner])

    def update(self, visit):
        role = visit.get("role")
        other = visit.get("participants", {}).get("clinician" if role == "patient" else "patient")
        self.heading.textContent = self.t("visit.heading", name=other or "")
        self.role.textContent = self.t("visit.role." + role) if role else ""
        ended = visit.get("state") == "ended"
        self.banner.hidden = not ended
        self.banner.textContent = self.t("visit.ended") if ended else ""
