"""A polite live region (role=status) for progress and "skickad", and an alert for failures."""

from components.dom import Component, h


class Announcer(Component):
    def __init__(self, lang):
        super().__init__(lang)
        self.status = h("p", {"class": "announcer-status", "role": "status", "id": "announcer"})
        self.alert = h("p", {"class": "announcer-alert", "role": "alert", "id": "app-alert"})
        self.root = h("div", {"class": "announcer"}, [self.status, self.alert])

    def say(self, message):
        self.alert.textContent = ""
        self.status.textContent = message

    def warn(self, message):
        self.alert.textContent = message

    def clear_warning(self):
        self.alert.textContent = ""
