"""The flows' `browser` adapter (bifoga/adapters.py): keys, object URLs, downloads, the date."""

from pyscript import document, window

from components.dom import element


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

    def today(self):
        return str(window.Date.new().toISOString())[:10]
