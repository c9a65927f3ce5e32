"""The browser's side of the API contract (openapi.yaml), through fetch: the flows' `api`
adapter (bifoga/chat/adapters.py). Any backend will do."""

import json

from pyscript import fetch, window

from bifoga.chat.adapters import RequestError


class ApiClient:
    def __init__(self, base, visit_id, token):
        self.base = base.rstrip("/")
        self.visit_id = visit_id
        self.token = token
        self.visit_base = self.base + "/visits/" + visit_id

    def _headers(self, json_body=False):
        headers = {"Authorization": "Bearer " + self.token}
        if json_body:
            headers["Content-Type"] = "application/json"
        return headers

    async def _json(self, method, url, body=None, auth=True):
        options = {"method": method, "cache": "no-store", "credentials": "omit"}
        if auth:
            options["headers"] = self._headers(body is not None)
        if body is not None:
            options["body"] = json.dumps(body)
        try:
            response = await fetch(url, **options)
        except Exception as exc:  # noqa: BLE001 - the browser raises a JS TypeError
            raise RequestError(0, "network", str(exc)) from None
        if not response.ok:
            try:
                data = await response.json()
            except Exception:  # noqa: BLE001
                data = {}
            raise RequestError(response.status, data.get("error"), data.get("message"))
        return await response.json()

    async def config(self):
        return await self._json("GET", self.base + "/config", auth=False)

    async def visit(self):
        return await self._json("GET", self.visit_base)

    async def messages(self, after, wait):
        return await self._json(
            "GET", self.visit_base + "/messages?after=" + str(after) + "&wait=" + str(wait))

    async def send_text(self, text):
        return await self._json("POST", self.visit_base + "/messages", {"text": text})

    async def attachments(self):
        return await self._json("GET", self.visit_base + "/attachments")

    async def mark(self, attachment_id, mark):
        return await self._json("PUT", self.visit_base + "/attachments/" + attachment_id + "/mark",
                                {"mark": mark})

    async def end_visit(self):
        return await self._json("POST", self.visit_base + "/end", {})

    async def object_url(self, attachment):
        """Fetch an attachment with the visit token and hand back an object URL for it."""
        return await self.blob_url(attachment["url"])

    async def zip_url(self):
        return await self.blob_url(self.visit_base + "/attachments.zip")

    async def blob_url(self, url):
        try:
            response = await fetch(url, method="GET", cache="no-store",
                                   credentials="omit", headers=self._headers())
        except Exception as exc:  # noqa: BLE001
            raise RequestError(0, "network", str(exc)) from None
        if not response.ok:
            raise RequestError(response.status, None, None)
        blob = await response.blob()
        return window.URL.createObjectURL(blob)
