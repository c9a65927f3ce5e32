"""Flows that span several components (sending, viewing, ending a visit). main.py wires them."""

from bifoga.i18n import text


class Flow:
    """What every flow needs: the UI language and its text lookup."""

    def __init__(self, lang):
        self.lang = lang

    def t(self, key, **values):
        return text(self.lang, key, **values)
