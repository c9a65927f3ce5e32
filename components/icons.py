"""Inline SVG icons (static markup, never user data), hidden from assistive technology.

The paperclip's and the camera's are in index.html's shell, where they paint before Python is up."""

from components.dom import element

_SVG = ('<svg aria-hidden="true" focusable="false" viewBox="0 0 24 24" width="20" height="20">'
        '{}</svg>')

MAGNIFIER = _SVG.format(
    '<circle cx="10.5" cy="10.5" r="6.5" fill="none" stroke="currentColor" stroke-width="2.4"/>'
    '<path d="M15.5 15.5L21 21M10.5 7.5v6M7.5 10.5h6" stroke="currentColor" stroke-width="2.4" '
    'stroke-linecap="round"/>'
)
DOCUMENT = _SVG.format(
    '<path fill="none" stroke="currentColor" stroke-width="1.8" stroke-linejoin="round" '
    'd="M6 2.5h8l4.5 4.5v14.5H6z M14 2.5V7h4.5 M9 12h6 M9 15.5h6 M9 19h4"/>'
)
DOWNLOAD = _SVG.format(
    '<path fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" '
    'stroke-linejoin="round" d="M12 4v11m0 0l-4.5-4.5M12 15l4.5-4.5M5 19.5h14"/>'
)
SEND = _SVG.format('<path fill="currentColor" d="M3 20.5l18-8.5L3 3.5l2.5 7L14 12l-8.5 1.5z"/>')


def icon(markup, extra_class=""):
    """A span holding an icon's markup, hidden from assistive technology."""
    el = element("span", {"class": ("icon " + extra_class).strip(), "aria-hidden": "true"})
    el.innerHTML = markup
    return el


def icon_button(markup, label, attrs):
    """A button showing an icon and its label."""
    return element("button", dict({"type": "button"}, **attrs),
                   [icon(markup), element("span", {"class": "button-label"}, content=label)])
