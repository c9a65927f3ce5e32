"""The visit's messages, oldest first, with sender and time; files shown by their kind.

While the visit is open, images show inline with a magnifier in the lower right corner, films
as a playable video, documents as a file card; each has a "Ladda ner" control. After the end
every file is a card: nothing is fetched into memory any more. Renders the model's messages;
raises "enlarge"(attachment), "download"(attachment) and "unshowable"(attachment id). The
bytes come through `load_url(attachment)`, an async function (the flows') that returns an
object URL: the files need the visit token, so no plain src URL.
"""

import asyncio

from bifoga.chat import events
from bifoga.chat.formatting import card_info, format_size, format_time, sender_label, type_label
from bifoga.chat.model import shown_inline
from components.dom import Component, element
from components.icons import DOCUMENT, DOWNLOAD, MAGNIFIER, icon, icon_button


class MessageList(Component):
    KEYS = ("messages", "visit", "unshowable", "focus")

    def __init__(self, lang, my_role, utc_offset_minutes, load_url):
        super().__init__(lang)
        self.my_role = my_role
        self.utc_offset = utc_offset_minutes
        self.load_url = load_url
        self.list = element("ol", {"class": "messages", "id": "messages"})
        self.empty = element("p", {"class": "chat-empty"}, content=self.t("chat.empty"))
        # role=log: new messages are read out politely; it can't sit on the <ol> itself.
        self.root = element("section", {"class": "chat", "role": "log", "aria-live": "polite",
                                        "aria-label": self.t("chat.label")},
                            [self.empty, self.list])
        self._shown = {}
        self._attachments = {}  # id -> attachment, every one shown
        self._media = {}  # id -> the <img> or <video> showing it inline
        self._enlarge = {}  # id -> its magnifier button

    def render(self, state, changed):
        for message in state["messages"]:
            if message["id"] not in self._shown:
                self.add(message, state)
        for att_id in list(self._media):
            if not shown_inline(state, self._attachments[att_id]):
                self._as_card(att_id)
        target = self.focus_requested(state, changed) or ""
        if target.startswith("enlarge:") and target[8:] in self._enlarge:
            self._enlarge[target[8:]].focus()

    def add(self, message, state):
        """Append a message once."""
        mine = message["sender_role"] == self.my_role
        sender = sender_label(message, self.my_role, self.lang)
        when = format_time(message["sent_at"], self.lang, self.utc_offset)
        meta = element("p", {"class": "message-meta"}, [
            element("span", {"class": "message-sender"}, content=sender),
            element("time", {"datetime": message["sent_at"]}, content=when),
        ])
        body = []
        if message.get("kind") == "attachment" and message.get("attachment"):
            body.append(self._attachment(message["attachment"], sender, when, state))
        else:
            body.append(element("p", {"class": "message-text"},
                                content=message.get("text") or ""))
        item = element("li", {"class": "message " + ("mine" if mine else "theirs"),
                              "data-message-id": str(message["id"]),
                              "data-sender-role": message["sender_role"]}, [meta] + body)
        self.list.appendChild(item)
        self._shown[message["id"]] = item
        self.empty.hidden = True
        self._scroll_to_end()

    # --- attachments ---------------------------------------------------------------------
    def _attachment(self, att, sender, when, state):
        category = att.get("category")
        self._attachments[att["id"]] = att
        if not shown_inline(state, att):
            return self._card(att)
        caption = element("p", {"class": "attachment-caption"}, [
            element("span", {"class": "attachment-name"}, content=att["name"]),
            element("span", {"class": "attachment-info"},
                    content=self.t("attachment.info", type=type_label(att.get("mime")),
                             size=format_size(att["size"], self.lang))),
        ])
        if category == "image":
            img = element("img", {"class": "attachment-image",
                            "alt": self.t("attachment.image_alt", name=att["name"], sender=sender,
                                          time=when),
                            "data-attachment-id": att["id"]})
            enlarge = element("button", {"type": "button", "class": "enlarge-button",
                                   "aria-label": self.t("attachment.enlarge", name=att["name"])},
                              [icon(MAGNIFIER)])
            self._enlarge[att["id"]] = enlarge
            self.listeners.add(enlarge, "click", lambda e: self.emit(events.ENLARGE, att))
            frame = element("div", {"class": "image-frame"}, [img, enlarge])
            self._media[att["id"]] = img
            asyncio.create_task(self._fill(img, "src", att))
            return element("figure", {"class": "attachment attachment-image-wrap"},
                           [frame, caption, self._download_button(att)])
        if category == "video":
            video = element("video", {"class": "attachment-video", "controls": True,
                                "preload": "metadata", "aria-label": att["name"],
                                "data-attachment-id": att["id"]})
            self._media[att["id"]] = video
            asyncio.create_task(self._fill(video, "src", att))
            return element("figure", {"class": "attachment attachment-video-wrap"},
                           [video, caption, self._download_button(att)])
        return self._card(att)

    def _download_button(self, att):
        button = icon_button(DOWNLOAD, self.t("attachment.download"), {
            "class": "download-button",
            "aria-label": self.t("attachment.download_named", name=att["name"])})
        self.listeners.add(button, "click", lambda e: self.emit(events.DOWNLOAD, att))
        return button

    def _scroll_to_end(self):
        # Keep the newest message in view by scrolling the chat alone, never the page.
        self.root.scrollTop = self.root.scrollHeight

    def _as_card(self, att_id):
        """Replace an inline image or film by its file card: the bytes leave memory."""
        el = self._media.pop(att_id, None)
        self._enlarge.pop(att_id, None)
        figure = el.closest("figure") if el is not None else None
        if figure is None:
            return
        self.listeners.remove_target(el)
        el.removeAttribute("src")
        figure.replaceWith(self._card(self._attachments[att_id]))

    def _card(self, att):
        return element("div", {"class": "attachment attachment-document"}, [
            element("div", {"class": "file-card"}, [
                      icon(DOCUMENT, "file-icon"),
                      element("div", {"class": "file-card-text"}, [
                          element("span", {"class": "attachment-name"}, content=att["name"]),
                          element("span", {"class": "attachment-info"},
                            content=card_info(att, self.lang)),
                            ]),
                      self._download_button(att),
            ])])

    async def _fill(self, el, attr, att):
        try:
            url = await self.load_url(att)
        except Exception:  # noqa: BLE001 - any failure shows the same clear text
            el.replaceWith(element("p", {"class": "attachment-error", "role": "alert"},
                                   content=self.t("attachment.load_failed", name=att["name"])))
            return
        if url is None or att["id"] not in self._media:
            return  # the visit ended meanwhile: shown as a card
        if el.tagName == "IMG":
            # A photo the browser can't show (HEIC in Chromium) becomes a file card.
            self.listeners.add(el, "error", lambda e: self.emit(events.UNSHOWABLE, att["id"]))
            self.listeners.add(el, "load", lambda e: self._scroll_to_end())
        el.setAttribute(attr, url)
