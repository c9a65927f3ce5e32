"""Small DOM helpers shared by the components: element building and listener bookkeeping."""

from pyscript import document
from pyscript.ffi import create_proxy, to_js

from bifoga.chat import events
from bifoga.chat.i18n import text


def element(tag, attrs=None, children=None, content=None):
    """Create an element. attrs: attribute dict (None values skipped); content: its text."""
    el = document.createElement(tag)
    if attrs:
        for name, value in attrs.items():
            if value is None or value is False:
                continue
            el.setAttribute(name, "" if value is True else str(value))
    if content is not None:
        el.textContent = content
    if children:
        for child in children:
            if child is not None:
                el.appendChild(child)
    return el


def clear(el):
    while el.firstChild:
        el.removeChild(el.firstChild)


class Listeners:
    """Keeps every event proxy it adds, so the very same proxy can be removed again.

    Under MicroPython, removeEventListener with the plain Python function removes nothing.
    """

    def __init__(self):
        self._items = []

    def add(self, target, event, handler, options=None):
        proxy = create_proxy(handler)
        if options is None:
            target.addEventListener(event, proxy)
        else:
            target.addEventListener(event, proxy, to_js(options))
        self._items.append((target, event, proxy))
        return proxy

    def remove_target(self, target):
        keep = []
        for item in self._items:
            if item[0] is target or item[0] == target:
                item[0].removeEventListener(item[1], item[2])
            else:
                keep.append(item)
        self._items = keep

    def remove_all(self):
        for target, event, proxy in self._items:
            target.removeEventListener(event, proxy)
        self._items = []


def set_text(el, value):
    """Change an element's text only when it differs: a live region re-reads what is set."""
    if str(el.textContent) != value:
        el.textContent = value


class Component:
    """Base: a root element, listeners, text lookup, and events raised to the wiring (app.py).

    A component renders its slice of the model: `KEYS` names it, `render(state, changed)`
    draws it, `watch(model)` subscribes the one to the other.
    """

    KEYS = ()

    def __init__(self, lang):
        self.lang = lang
        self.listeners = Listeners()
        self._handlers = {}
        self.root = None

    def t(self, key, **values):
        return text(self.lang, key, **values)

    def watch(self, model):
        model.subscribe(self.render, self.KEYS)
        self.render(model.state, list(self.KEYS))

    def render(self, state, changed):
        pass

    def focus_requested(self, state, changed):
        """The control named by the model's focus request, when it is new."""
        if "focus" not in changed or not state.get("focus"):
            return None
        return state["focus"][0]

    def on(self, name, callback):
        """Listen to an event of bifoga/chat/events.py (an unknown name fails at once)."""
        if name not in events.ALL:
            raise ValueError("unknown event: " + str(name))
        self._handlers.setdefault(name, []).append(callback)

    def emit(self, name, *args):
        if name not in events.ALL:
            raise ValueError("unknown event: " + str(name))
        for callback in self._handlers.get(name, ()):
            callback(*args)

    def destroy(self):
        self.listeners.remove_all()
        if self.root is not None and self.root.parentNode:
            self.root.parentNode.removeChild(self.root)


FOCUSABLE = ("a[href], button:not([disabled]), input:not([disabled]), textarea:not([disabled]), "
             "select:not([disabled]), video[controls], [tabindex]:not([tabindex='-1'])")


def keep_focus_inside(listeners, dialog):
    """Tab and Shift+Tab cycle within a modal dialog (the WAI-ARIA dialog pattern) instead of
    leaving for the browser's own toolbar."""

    def on_keydown(event):
        if event.key != "Tab":
            return
        nodes = dialog.querySelectorAll(FOCUSABLE)
        visible = [nodes.item(i) for i in range(nodes.length)
                   if nodes.item(i).getClientRects().length > 0]
        if not visible:
            return
        first, last = visible[0], visible[-1]
        active = dialog.ownerDocument.activeElement
        if event.shiftKey and (active == first or active == dialog):
            event.preventDefault()
            last.focus()
        elif not event.shiftKey and active == last:
            event.preventDefault()
            first.focus()

    listeners.add(dialog, "keydown", on_keydown)
