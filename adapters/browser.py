"""The flows' `browser` adapter (bifoga/chat/adapters.py): keys, object URLs, downloads, the
date."""

from pyscript import document, window

from bifoga.chat.links import visit_for_tab
from components.dom import element

# What this tab keeps so that a reload works after the link has left the address bar.
TAB_VISIT_KEY = "bifoga-visit"


def take_early_files():
    """The files picked, dropped or pasted before Python was up, which index.html's inline
    script kept; from now on the components take them. Never stored: only this page holds
    them."""
    shell = window.bifogaShell
    if not shell:
        return []
    files = shell.take()
    return [files[i] for i in range(files.length)]


def take_visit_link():
    """(visit_id, token) of this tab's visit. The link's token must not stay in the address bar
    or the history of a shared computer: it leaves the URL here and lives on in this tab's
    sessionStorage only (bifoga.chat.links.visit_for_tab), never with a file name or content."""
    remembered = window.sessionStorage.getItem(TAB_VISIT_KEY)
    visit_id, token, keep = visit_for_tab(str(window.location.hash),
                                          str(remembered) if remembered else None)
    if keep:
        window.sessionStorage.setItem(TAB_VISIT_KEY, keep)
    if str(window.location.hash):
        window.history.replaceState(None, "", str(window.location.pathname)
                                    + str(window.location.search))
    return visit_id, token


class Browser:
    def new_key(self):
        return str(window.crypto.randomUUID())

    def revoke(self, url):
        window.URL.revokeObjectURL(url)

    def save_as(self, url, name):
        """Let the browser download a blob URL under the attachment's original name."""
        link = element("a", {"href": url, "download": name, "hidden": True})
        document.body.appendChild(link)
        link.click()
        link.remove()

    async def read_head(self, file, size):
        """The first `size` bytes of a File, as bytes (MicroPython copies them one by one: keep
        `size` small)."""
        buffer = await file.slice(0, size).arrayBuffer()
        return bytes(window.Uint8Array.new(buffer))

    def today(self):
        return str(window.Date.new().toISOString())[:10]
