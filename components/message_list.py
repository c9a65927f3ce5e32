"""The visit's messages, oldest first, with sender and time; files shown by their kind.

Images show inline with a magnifier in the lower right corner; films as a playable video;
documents as a file card. Each has a "Ladda ner" control. Raises "enlarge"(attachment, button)
and "download"(attachment). The bytes come through `load_url(attachment)`, an async function
main.py gives, that returns an object URL: the files need the visit token, so no plain src URL.
"""

import asyncio

from bifoga.formatting import card_info, format_size, format_time, type_label
from components.dom import Component, h
from components.icons import DOCUMENT, DOWNLOAD, MAGNIFIER, icon


class MessageList(Component):
    def __init__(self, lang, my_role, utc_offset_minutes, load_url):
        super().__init__(lang)
        self.my_role = my_role
        self.utc_offset = utc_offset_minutes
        self.load_url = load_url
        self.list = h("ol", {"class": "messages", "id": "messages"})
        self.empty = h("p", {"class": "chat-empty"}, content=self.t("chat.empty"))
        # role=log: new messages are read out politely; it can't sit on the <ol> itself.
        self.root = h("section", {"class": "chat", "role": "log", "aria-live": "polite",
                                  "aria-label": self.t("chat.label")}, [self.empty, self.list])
        self._shown = {}
        self.images = []  # (attachment, magnifier button, sender line), in chat order
        self._attachments = {}  # id -> attachment, every one shown
        self._media = {}  # id -> the <img> or <video> showing it inline

    def add(self, message):
        """Append a message once; a message already shown is left as it is."""
        if message["id"] in self._shown:
            return
        mine = message["sender_role"] == self.my_role
        sender = self.t("chat.you") if mine else message.get("sender_name") or ""
        when = format_time(message["sent_at"], self.lang, self.utc_offset)
        meta = h("p", {"class": "message-meta"}, [
            h("span", {"class": "message-sender"}, content=sender),
            h("time", {"datetime": message["sent_at"]}, content=when),
        ])
        body = []
        if message.get("kind") == "attachment" and message.get("attachment"):
            body.append(self._attachment(message["attachment"], sender, when))
        else:
            body.append(h("p", {"class": "message-text"}, content=message.get("text") or ""))
        item = h("li", {"class": "message " + ("mine" if mine else "theirs"),
                        "data-message-id": str(message["id"]),
                        "data-sender-role": message["sender_role"]}, [meta] + body)
        self.list.appendChild(item)
        self._shown[message["id"]] = item
        self.empty.hidden = True
        self._scroll_to_end()

    # --- attachments ---------------------------------------------------------------------
    def _attachment(self, att, sender, when):
        category = att.get("category")
        self._attachments[att["id"]] = att
        caption = h("p", {"class": "attachment-caption"}, [
            h("span", {"class": "attachment-name"}, content=att["name"]),
            h("span", {"class": "attachment-info"},
              content=self.t("attachment.info", type=type_label(att.get("mime")),
                             size=format_size(att["size"], self.lang))),
        ])
        if category == "image":
            img = h("img", {"class": "attachment-image",
                            "alt": self.t("attachment.image_alt", name=att["name"], sender=sender,
                                          time=when),
                            "data-attachment-id": att["id"]})
            enlarge = h("button", {"type": "button", "class": "enlarge-button",
                                   "aria-label": self.t("attachment.enlarge", name=att["name"])},
                        [icon(h("span", {"class": "icon", "aria-hidden": "true"}), MAGNIFIER)])
            self.images.append((att, enlarge, sender + ", " + when))
            self.listeners.add(enlarge, "click", lambda e: self.emit("enlarge", att))
            frame = h("div", {"class": "image-frame"}, [img, enlarge])
            self._media[att["id"]] = img
            asyncio.create_task(self._fill(img, "src", att))
            return h("figure", {"class": "attachment attachment-image-wrap"},
                     [frame, caption, self._download_button(att)])
        if category == "video":
            video = h("video", {"class": "attachment-video", "controls": True,
                                "preload": "metadata", "aria-label": att["name"],
                                "data-attachment-id": att["id"]})
            self._media[att["id"]] = video
            asyncio.create_task(self._fill(video, "src", att))
            return h("figure", {"class": "attachment attachment-video-wrap"},
                     [video, caption, self._download_button(att)])
        return self._card(att)

    def _download_button(self, att):
        button = h("button", {"type": "button", "class": "download-button",
                              "aria-label": self.t("attachment.download_named", name=att["name"])},
                   [icon(h("span", {"class": "icon", "aria-hidden": "true"}), DOWNLOAD),
                    h("span", {"class": "button-label"}, content=self.t("attachment.download"))])
        self.listeners.add(button, "click", lambda e: self.emit("download", att))
        return button

    def _scroll_to_end(self):
        # Keep the newest message in view by scrolling the chat alone, never the page.
        self.root.scrollTop = self.root.scrollHeight

    def attachment_count(self):
        return len(self._attachments)

    def drop_media(self):
        """Replace every inline image and film by its file card: the bytes leave memory."""
        for att_id, el in list(self._media.items()):
            self._as_card(el, self._attachments[att_id])
        self._media = {}

    def _as_card(self, el, att):
        figure = el.closest("figure")
        if figure is None:
            return
        self.listeners.remove_target(el)
        el.removeAttribute("src")
        self._media.pop(att["id"], None)
        self.images = [entry for entry in self.images if entry[0]["id"] != att["id"]]
        figure.replaceWith(self._card(att))

    def _card(self, att):
        return h("div", {"class": "attachment attachment-document"}, [
            h("div", {"class": "file-card"}, [
                icon(h("span", {"class": "icon file-icon", "aria-hidden": "true"}), DOCUMENT),
                h("div", {"class": "file-card-text"}, [
                    h("span", {"class": "attachment-name"}, content=att["name"]),
                    h("span", {"class": "attachment-info"},
                      content=card_info(att, self.lang)),
                ]),
                self._download_button(att),
            ])])

    async def _fill(self, el, attr, att):
        try:
            url = await self.load_url(att)
        except Exception:  # noqa: BLE001 - any failure shows the same clear text
            url = None
        if url and att["id"] not in self._media:
            return  # dropped meanwhile (the visit ended)
        if url:
            if el.tagName == "IMG":
                # A photo the browser can't show (HEIC in Chromium) becomes a file card.
                self.listeners.add(el, "error", lambda e: self._as_card(el, att))
                self.listeners.add(el, "load", lambda e: self._scroll_to_end())
            el.setAttribute(attr, url)
        else:
            el.replaceWith(h("p", {"class": "attachment-error", "role": "alert"},
                             content=self.t("attachment.load_failed", name=att["name"])))
