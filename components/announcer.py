"""A polite live region (role=status) for progress and "skickad", and an alert for failures."""

from components.dom import Component, element, set_text


class Announcer(Component):
    """Renders the model's "notice": {"status": ..., "alert": ...}."""

    KEYS = ("notice",)

    def __init__(self, lang):
        super().__init__(lang)
        self.status = element("p", {"class": "announcer-status", "role": "status",
                                    "id": "announcer"})
        self.alert = element("p", {"class": "announcer-alert", "role": "alert", "id": "app-alert"})
        self.root = element("div", {"class": "announcer"}, [self.status, self.alert])

    def render(self, state, changed):
        set_text(self.alert, state["notice"]["alert"])
        set_text(self.status, state["notice"]["status"])
