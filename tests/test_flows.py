"""The browser's flows without a browser: the real model, transitions and flows, with fakes of
their I/O boundaries (the API, the worker, the browser; bifoga/chat/adapters.py).

The same flows run under MicroPython on the main thread: the last test runs one there.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from bifoga.chat import transitions as T
from bifoga.chat.adapters import RequestError
from bifoga.chat.flows import Flows
from bifoga.chat.formatting import record_texts
from bifoga.chat.model import (
    CHECKING,
    CONFIRM_END,
    FAILED,
    HEAVY,
    LIGHT,
    PREVIEW,
    READY,
    REFUSED,
    REMINDER,
    SENT,
    STARTING,
    STATUSES,
    UPLOADING,
    Model,
    attachments_in_chat,
    images,
    initial_state,
    is_open,
    shown_inline,
    to_send,
    unmarked,
)
from bifoga.chat.worker_contract import Checked, Progress, Reduced, Uploaded, UploadRequest
from bifoga.media import refusals
from tests.micropython_runner import micropython_available, repo_files, run_micropython

MAX = 10 * 1024 * 1024
CONFIG = {"max_attachment_bytes": MAX, "accept": "image/*",
          "upload_endpoint_template": "/files/{visit_id}/tus"}


def message(mid, kind="text", attachment=None, role="patient"):
    return {"id": mid, "sender_role": role, "sender_name": "Alex", "sent_at": "2026-11-27T14:05Z",
            "kind": kind, "text": "hej" if kind == "text" else None, "attachment": attachment}


def attachment(att_id, category="image", name="a.jpg"):
    return {"id": att_id, "name": name, "size": 10, "mime": "image/jpeg", "category": category,
            "url": "/f/" + att_id, "sender_role": "patient", "sent_at": "2026-11-27T14:05Z"}


class FakeApi:
    visit_id, token, visit_base = "v1", "tok", "/api/visits/v1"

    def __init__(self, state="open", listing=(), pages=()):
        self.visit_state = state
        self.listing = [dict(a) for a in listing]
        self.pages = list(pages)  # answers of messages(), in turn
        self.calls: list[tuple] = []
        self.fail: dict[str, RequestError] = {}

    def _call(self, name, *args):
        self.calls.append((name, *args))
        if name in self.fail:
            raise self.fail[name]

    def _visit(self):
        return {"id": "v1", "state": self.visit_state, "role": "clinician",
                "participants": {"patient": "Alex", "clinician": "Sara"}}

    async def config(self):
        self._call("config")
        return dict(CONFIG)

    async def visit(self):
        self._call("visit")
        return self._visit()

    async def messages(self, after, wait):
        self._call("messages", after, wait)
        return self.pages.pop(0)

    async def send_text(self, body):
        self._call("send_text", body)
        return message(100)

    async def attachments(self):
        self._call("attachments")
        return {"attachments": self.listing, "state": self.visit_state}

    async def mark(self, attachment_id, mark):
        self._call("mark", attachment_id, mark)

    async def end_visit(self):
        self._call("end_visit")
        self.visit_state = "ended"
        return dict(self._visit(), ended_at="2026-11-27T15:00:00Z")

    async def object_url(self, att):
        self._call("object_url", att["id"])
        return "blob:" + att["id"]

    async def zip_url(self):
        self._call("zip_url")
        return "blob:zip"


class FakeWorker:
    """Answers like worker.py would; `gate` holds an upload until the test lets it go."""

    def __init__(self):
        self.checked: dict[str, Checked] = {}
        self.calls: list[tuple] = []
        self.gate: asyncio.Event | None = None  # holds uploads
        self.gate_prepare: asyncio.Event | None = None  # holds checks
        self.outcomes: dict[str, Uploaded] = {}

    async def prepare(self, file, name, key, keep_date, max_bytes):
        self.calls.append(("prepare", name, keep_date))
        if self.gate_prepare is not None:
            await self.gate_prepare.wait()
        result = self.checked.get(name) or Checked(
            ok=True, mime="image/jpeg", category="image", size=file["size"] - 100,
            removed=["gps", "datetime"] if not keep_date else ["gps"])
        result.held = result.ok  # what passes is held, as both workers do
        return result

    async def reduce(self, file, key, max_bytes):
        self.calls.append(("reduce", file["name"]))
        return Reduced(ok=True, size=max_bytes - 1, width=2048, height=1536)

    async def upload(self, request):
        assert isinstance(request, UploadRequest)
        self.calls.append(("upload", request.name, request.endpoint, request.finalise_url))
        if self.gate is not None:
            await self.gate.wait()
        outcome = self.outcomes.get(request.name)
        if outcome is not None:
            return outcome
        return Uploaded(ok=True, message=message(
            "m-" + request.key, "attachment", attachment("a-" + request.key, name=request.name)),
            local_url="blob:sent-" + request.key)

    async def release(self, key):
        self.calls.append(("release", key))

    async def cancel(self, key):
        self.calls.append(("cancel", key))


class FakeBrowser:
    def __init__(self):
        self.keys = 0
        self.revoked: list[str] = []
        self.saved: list[tuple[str, str]] = []

    def new_key(self):
        self.keys += 1
        return "k" + str(self.keys)

    def revoke(self, url):
        self.revoked.append(url)

    def save_as(self, url, name):
        self.saved.append((url, name))

    def today(self):
        return "2026-11-27"

    async def read_head(self, file, size):
        # The file's first bytes, then zeros up to its size.
        return (file["head"] + bytes(max(0, file["size"] - len(file["head"]))))[:size]


def make(state="open", **api_options):
    """The flows with fakes of both workers: the light one (connect(flows)) and the heavy one,
    which "starts" (heavy_starts counts it) only when a file needs it."""
    model = Model(initial_state("sv"))
    flows = Flows(model, FakeApi(state, **api_options), FakeBrowser(), light=FakeWorker(),
                  heavy=FakeWorker())
    flows.heavy_starts = []

    def start_heavy():
        flows.heavy_starts.append(True)
        connect(flows, HEAVY)
    flows.start_heavy = start_heavy
    return model, flows


def connect(flows, name=LIGHT):
    """The worker `name` is up (its fake was made with the flows)."""
    flows.worker_connected(name, flows.workers[name])


def light(flows):
    return flows.workers[LIGHT]


def heavy(flows):
    return flows.workers[HEAVY]


# What each kind of test file starts with (the main thread's first look reads these).
HEADS = {
    "image/jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00",
    "image/png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "application/pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n",
    "audio/mpeg": b"ID3\x04\x00\x00\x00\x00\x01\x00" + bytes(64),
    # A zip (an Office document?): only the whole file can tell, so the worker decides.
    "application/zip": b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(30),
}


def file(name, size=2000, mime="image/jpeg", head=None):
    info = {"name": name, "size": size, "head": HEADS.get(mime, b"") if head is None else head}
    return (info, name, size, mime)


async def no_sleep(seconds):
    return None


def run(coroutine):
    # A flow that waits for ever is a failure here, not a hung test run.
    return asyncio.run(asyncio.wait_for(coroutine, 10))


async def started(state="open", **api_options):
    model, flows = make(state, **api_options)
    await flows.load()
    connect(flows)
    return model, flows


# --- picking, checking, reducing ---------------------------------------------------------------
def test_pick_checks_each_file_and_the_model_decides_what_is_sent():
    async def go():
        model, flows = await started()
        light(flows).checked["song.jpg"] = Checked(ok=False, reason=refusals.AUDIO_NOT_ALLOWED,
                                                   mime="audio/mpeg", category="document")
        big = file("big.pdf", MAX + 1, "application/pdf")
        await flows.pick([file("a.jpg"), file("song.jpg"), big])
        return model, flows

    model, flows = run(go())
    recs = {r["name"]: r for r in model.state["attachments"]}
    assert all(r["status"] in STATUSES for r in recs.values())
    assert model.state["dialog"] == PREVIEW
    assert recs["a.jpg"]["status"] == READY and recs["a.jpg"]["typed"]
    assert recs["a.jpg"]["removed"] == ["gps", "datetime"] and recs["a.jpg"]["has_date"]
    assert recs["song.jpg"]["status"] == REFUSED and recs["song.jpg"]["as_card"]
    # Too large and not a photo: refused at once, the worker never sees it.
    assert recs["big.pdf"]["reason"] == refusals.TOO_LARGE
    assert [c[1] for c in light(flows).calls if c[0] == "prepare"] == ["a.jpg", "song.jpg"]
    assert to_send(model.state) == [recs["a.jpg"]["key"]]
    texts = record_texts(recs["song.jpg"], MAX, "sv")
    assert texts["alert"] == "song.jpg är en ljudfil. Ljudfiler kan inte skickas."


def test_nothing_is_picked_while_the_visit_is_ended_or_a_round_runs():
    async def go():
        model, flows = await started("ended")
        await flows.pick([file("a.jpg")])
        return model

    assert run(go()).state["attachments"] == []


def test_a_worker_failure_is_a_failed_check_never_a_frozen_dialog():
    async def go():
        model, flows = await started()

        async def broken(*args):
            raise RuntimeError("worker died")
        # The light worker failing hands the file to the heavy one; that failing too is a
        # failed check.
        light(flows).prepare = heavy(flows).prepare = broken
        await flows.pick([file("a.jpg")])
        return model, flows

    model, flows = run(go())
    rec = model.state["attachments"][0]
    assert rec["status"] == REFUSED and rec["reason"] == refusals.CHECK_FAILED
    assert "worker died" in record_texts(rec, MAX, "en")["alert"]
    assert flows.heavy_starts == [True]


def test_keep_date_checks_again_and_a_late_answer_is_ignored():
    async def go():
        model, flows = await started()
        await flows.pick([file("a.jpg")])
        key = model.state["attachments"][0]["key"]
        await flows.keep_date(key, True)
        return model, flows

    model, flows = run(go())
    rec = model.state["attachments"][0]
    assert rec["keep_date"] and rec["status"] == READY and rec["removed"] == ["gps"]
    assert rec["has_date"]  # the checkbox stays offered
    assert [c for c in light(flows).calls if c[0] == "prepare"][-1] == ("prepare", "a.jpg", True)
    # An answer for a record that is no longer being checked changes nothing, nor one from an
    # older check of it.
    assert T.checked(model.state, rec["key"], Checked(ok=False), LIGHT,
                     rec["check_serial"]) == {}
    assert rec["check_serial"] == 2 and rec["holder"] == LIGHT
    assert ("release", rec["key"]) in light(flows).calls  # the first check's copy went


def test_a_too_large_photo_is_reduced_then_sent_as_jpeg():
    async def go():
        model, flows = await started()
        light(flows).checked["big.png"] = Checked(ok=False, reason=refusals.TOO_LARGE,
                                                  reducible=True, mime="image/png",
                                                  category="image")
        await flows.pick([file("big.png", MAX + 5, "image/png")])
        rec = model.state["attachments"][0]
        assert rec["status"] == REFUSED and not rec["as_card"]  # stays in view
        await flows.reduce(rec["key"])
        rec = model.state["attachments"][0]
        assert rec["status"] == READY and rec["name"] == "big.jpg"
        assert rec["reduced"] == (2048, 1536) and rec["mime"] == "image/jpeg"
        await flows.upload()
        return model, flows

    model, flows = run(go())
    # Pixels change: the heavy worker, started on "Minska storlek", reduces and sends it.
    assert flows.heavy_starts == [True]
    assert ("upload", "big.jpg", "/files/v1/tus", "/api/visits/v1/attachments") in \
        heavy(flows).calls
    assert model.state["dialog"] is None and model.state["focus"][0] == "attach"


# --- the first bytes, checked at once on the main thread -----------------------------------------
async def picked_before_the_worker(*files):
    """Files picked while the worker is still starting (flows.pick waits for it: a task)."""
    model, flows = make()
    await flows.load()
    task = asyncio.create_task(flows.pick(list(files)))
    for _ in range(5):
        await asyncio.sleep(0)
    return model, flows, task


def test_the_first_bytes_make_a_pdf_ready_before_the_worker_is_up():
    async def go():
        model, flows, task = await picked_before_the_worker(
            file("remiss.pdf", 5000, "application/pdf"))
        rec = model.state["attachments"][0]
        assert rec["status"] == READY and rec["typed"] and not rec["verified"]
        assert to_send(model.state) == [rec["key"]]
        assert model.state["focus"][0] == "upload"
        assert record_texts(rec, MAX, "sv")["status"] == (
            "remiss.pdf kan skickas. Den sista kontrollen görs innan den skickas.")
        assert light(flows).calls == []  # nothing has reached the worker yet
        # "Ladda upp" now: the file waits for the worker's full check, and says why.
        upload = asyncio.create_task(flows.upload())
        await asyncio.sleep(0.06)
        rec = model.state["attachments"][0]
        assert rec["waiting"] and model.state["sending"]
        said = record_texts(rec, MAX, "sv")["status"]
        assert said == "Kontrollerar remiss.pdf innan den skickas…"
        light(flows).checked["remiss.pdf"] = Checked(ok=True, mime="application/pdf",
                                                     category="document", size=5000)
        connect(flows)
        await task
        await upload
        return model, flows

    model, flows = run(go())
    assert [c[0] for c in light(flows).calls] == ["prepare", "upload"]
    assert model.state["dialog"] is None
    assert [m["attachment"]["name"] for m in model.state["messages"]] == ["remiss.pdf"]


def test_a_photo_sent_at_once_waits_for_its_metadata_to_go_and_says_so():
    async def go():
        model, flows, task = await picked_before_the_worker(file("a.jpg"))
        rec = model.state["attachments"][0]
        assert rec["status"] == READY and rec["removed"] == [] and not rec["verified"]
        upload = asyncio.create_task(flows.upload())
        await asyncio.sleep(0.06)
        texts = record_texts(model.state["attachments"][0], MAX, "en")
        assert texts["status"] == ("Removing hidden details such as location from a.jpg "
                                   "before it is sent…")
        connect(flows)
        await task
        await upload
        return flows

    calls = light(run(go())).calls
    assert [c[0] for c in calls] == ["prepare", "upload"]


def test_audio_is_refused_from_its_first_bytes_and_never_reaches_the_worker():
    async def go():
        model, flows, task = await picked_before_the_worker(
            file("voice.jpg", 4000, "image/jpeg", head=HEADS["audio/mpeg"]))
        rec = model.state["attachments"][0]
        assert rec["status"] == REFUSED and rec["reason"] == refusals.AUDIO_NOT_ALLOWED
        assert rec["as_card"]  # a song named .jpg is never rendered as a picture
        connect(flows)
        await task
        return flows

    assert light(run(go())).calls == []


def test_what_the_first_bytes_cannot_tell_waits_for_the_worker():
    async def go():
        model, flows, task = await picked_before_the_worker(
            file("brev.docx", 4000, "application/zip"))
        rec = model.state["attachments"][0]
        assert rec["status"] == CHECKING and to_send(model.state) == []
        light(flows).checked["brev.docx"] = Checked(
            ok=True, category="document",
            mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document")
        connect(flows)
        await task
        return model

    rec = run(go()).state["attachments"][0]
    assert rec["status"] == READY and rec["verified"]


def test_a_file_the_full_check_refuses_is_not_sent_though_upload_was_pressed():
    async def go():
        model, flows, task = await picked_before_the_worker(
            file("a.pdf", 5000, "application/pdf"), file("b.jpg"))
        upload = asyncio.create_task(flows.upload())
        await asyncio.sleep(0.06)
        light(flows).checked["a.pdf"] = Checked(ok=False, reason=refusals.ACTIVE_CONTENT)
        connect(flows)
        await task
        await upload
        return model, flows

    model, flows = run(go())
    a, b = model.state["attachments"]
    assert a["status"] == REFUSED and a["reason"] == refusals.ACTIVE_CONTENT
    assert not a["waiting"] and b["status"] == SENT
    assert [c[1] for c in light(flows).calls if c[0] == "upload"] == ["b.jpg"]
    assert model.state["preview_finished"] and not model.state["sending"]


def test_cancel_while_waiting_for_the_full_check_sends_nothing():
    async def go():
        model, flows, task = await picked_before_the_worker(file("a.jpg"))
        upload = asyncio.create_task(flows.upload())
        await asyncio.sleep(0.06)
        flows.cancel()
        connect(flows)
        await task
        await upload
        return model, flows

    model, flows = run(go())
    assert [c for c in light(flows).calls if c[0] == "upload"] == []
    assert model.state["attachments"] == [] and not model.state["sending"]


def test_a_worker_that_cannot_start_refuses_what_waits_for_it_and_what_comes_after():
    async def go():
        model, flows, task = await picked_before_the_worker(file("a.jpg"), file("b.docx", 900,
                                                                                "application/zip"))
        flows.start_heavy = lambda: flows.worker_not_started(HEAVY, "NetworkError")
        upload = asyncio.create_task(flows.upload())
        await asyncio.sleep(0)
        flows.worker_not_started(LIGHT, "no MicroPython")  # all goes to the heavy one
        await task
        await upload
        assert not model.state["sending"] and model.state["preview_finished"]
        flows.cancel()
        await flows.pick([file("c.pdf", 800, "application/pdf")])  # no waiting, ever
        return model, flows

    model, flows = run(go())
    rec = model.state["attachments"][0]
    assert rec["status"] == REFUSED and rec["reason"] == refusals.CHECK_FAILED
    assert "NetworkError" in record_texts(rec, MAX, "sv")["alert"]
    assert light(flows).calls == [] and heavy(flows).calls == []


# --- uploading ---------------------------------------------------------------------------------
async def uploading_two():
    """Two photos picked and checked, "Ladda upp" pressed, the first upload held in flight."""
    model, flows = await started()
    await flows.pick([file("a.jpg"), file("b.jpg")])
    light(flows).gate = asyncio.Event()
    task = asyncio.create_task(flows.upload())
    await asyncio.sleep(0)
    return model, flows, task


def test_upload_follows_the_config_endpoint_shows_progress_and_closes_when_all_went():
    async def go():
        model, flows, task = await uploading_two()
        first = model.state["attachments"][0]
        assert model.state["sending"] and first["status"] == UPLOADING
        flows.progress(Progress(key=first["key"], sent=50, total=200))
        flows.progress(Progress(key=first["key"], state="reconnecting"))
        rec = model.state["attachments"][0]
        assert rec["progress"] == 25 and rec["reconnecting"]
        assert record_texts(rec, MAX, "sv")["status"] == "Återansluter…"
        flows.progress(Progress(key=first["key"], state="uploading"))  # connected again
        assert not model.state["attachments"][0]["reconnecting"]
        flows.progress(Progress(key=first["key"], state="reconnecting"))
        flows.progress(Progress(key=first["key"], sent=100, total=200))
        assert "Laddar upp a.jpg: 50 %" == record_texts(
            model.state["attachments"][0], MAX, "sv")["status"]
        # A second "Ladda upp" during the round sends nothing twice.
        await flows.upload()
        light(flows).gate.set()
        await task
        return model, flows

    model, flows = run(go())
    uploads = [c for c in light(flows).calls if c[0] == "upload"]
    assert [c[1] for c in uploads] == ["a.jpg", "b.jpg"]
    assert uploads[0][2] == "/files/v1/tus"
    assert not model.state["sending"] and model.state["attachments"] == []
    assert [m["attachment"]["name"] for m in model.state["messages"]] == ["a.jpg", "b.jpg"]
    assert model.state["notice"]["status"] == "a.jpg, b.jpg skickad."


@pytest.mark.parametrize("outcome, alert", [
    (Uploaded(error="visit_quota_exceeded", status=413), "besöket har redan så många filer"),
    (Uploaded(error="visit_ended", status=409), "Besöket är avslutat"),
    (Uploaded(error="network"), "kunde inte skickas (nätverksfel)"),
    (Uploaded(error="http_500", status=500), "kunde inte skickas (fel 500)"),
])
def test_a_refused_upload_keeps_its_reason_in_view_and_the_dialog_only_closes(outcome, alert):
    async def go():
        model, flows = await started()
        await flows.pick([file("a.jpg"), file("b.jpg")])
        light(flows).outcomes["b.jpg"] = outcome
        await flows.upload()
        return model

    model = run(go())
    a, b = model.state["attachments"]
    assert a["status"] == SENT and b["status"] == FAILED
    assert model.state["preview_finished"] and to_send(model.state) == []
    assert alert in record_texts(b, MAX, "sv")["alert"]


def test_cancel_stops_the_upload_and_drops_the_workers_copies():
    async def go():
        model, flows, task = await uploading_two()
        flows.cancel()
        light(flows).outcomes["a.jpg"] = Uploaded(error="cancelled")
        light(flows).gate.set()
        await task
        await asyncio.sleep(0)
        return model, flows

    model, flows = run(go())
    assert ("cancel", "k1") in light(flows).calls
    assert ("release", "k2") in light(flows).calls
    assert [c[1] for c in light(flows).calls if c[0] == "upload"] == ["a.jpg"]
    assert model.state["dialog"] is None and not model.state["sending"]


# --- the chat ----------------------------------------------------------------------------------
def test_poll_adds_messages_once_and_follows_the_end_of_the_visit():
    pages = [{"messages": [message(1), message(2)], "cursor": 2, "state": "open"},
             {"messages": [message(2), message(3)], "cursor": 3, "state": "ended"}]

    async def go():
        model, flows = await started(pages=pages)
        model.apply(T.url_kept(model.state, "x", "blob:x"))
        flows.api.visit_state = "ended"
        await flows.poll(sleep=no_sleep)
        return model, flows

    model, flows = run(go())
    assert [m["id"] for m in model.state["messages"]] == [1, 2, 3]
    assert model.state["cursor"] == 3 and not is_open(model.state)
    assert flows.browser.revoked == ["blob:x"] and model.state["object_urls"] == {}


def test_poll_says_when_the_connection_is_lost_and_when_the_link_is_bad():
    async def go():
        model, flows = await started(pages=[])
        answers = [RequestError(0), {"messages": [], "cursor": 0, "state": "open"},
                   RequestError(404)]

        async def messages(after, wait):
            answer = answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            assert model.state["notice"]["alert"] == "Anslutningen bröts. Försöker igen…"
            return answer
        flows.api.messages = messages
        await flows.poll(sleep=no_sleep)
        return model

    assert "länken" in run(go()).state["notice"]["alert"].lower()


def test_sending_a_text_clears_the_composer_or_says_why_not():
    async def go():
        model, flows = await started()
        await flows.send_text("hej")
        assert model.state["composer_sent"] == 1 and model.state["messages"][0]["id"] == 100
        flows.api.fail["send_text"] = RequestError(409, "visit_ended")
        await flows.send_text("igen")
        return model

    model = run(go())
    assert model.state["composer_sent"] == 1 and not model.state["composer_busy"]
    assert model.state["notice"]["alert"].startswith("Besöket är avslutat")


# --- ending and filing -------------------------------------------------------------------------
LISTING = [dict(attachment("a1"), mark=None), dict(attachment("a2", "document", "r.pdf"),
                                                    mark="saved")]


def test_end_without_files_asks_the_simple_question():
    async def go():
        model, flows = await started()
        await flows.end_requested()
        assert model.state["dialog"] == CONFIRM_END
        flows.back()
        assert model.state["dialog"] is None and model.state["focus"][0] == "end_button"
        await flows.end_requested()
        await flows.end_confirmed()
        return model

    model = run(go())
    assert model.state["visit"]["state"] == "ended" and model.state["dialog"] is None
    assert model.state["focus"][0] == "banner"


def test_reminder_marks_asks_once_more_then_ends():
    async def go():
        model, flows = await started(listing=LISTING)
        await flows.end_requested()
        filing = model.state["filing"]
        assert model.state["dialog"] == REMINDER and not filing["ended"]
        await flows.end_from_reminder()  # one unmarked: ask once more
        assert model.state["filing"]["confirming"] and flows.api.visit_state == "open"
        assert model.state["focus"][0] == "end_anyway"
        flows.api.fail["mark"] = RequestError(500)
        await flows.mark("a1", "not_relevant")
        assert model.state["filing"]["attachments"][0]["mark"] is None  # reverted
        assert "fel 500" in model.state["dialog_alert"]
        del flows.api.fail["mark"]
        await flows.mark("a1", "not_relevant")
        assert unmarked(model.state["filing"]) == []
        await flows.end_from_reminder()
        return model, flows

    model, flows = run(go())
    assert ("mark", "a1", "not_relevant") in flows.api.calls
    assert model.state["visit"]["state"] == "ended" and model.state["filing"] is None


def test_a_reopened_ended_visit_offers_its_filing_list_with_the_marks_as_saved():
    """After a reload of an ended visit "Spara bilagor" must come back."""
    pages = [{"messages": [message(1, "attachment", attachment("a1"))], "cursor": 1,
              "state": "ended"}]

    async def go():
        model, flows = await started("ended", listing=LISTING, pages=pages)
        assert attachments_in_chat(model.state) == []  # nothing loaded yet
        await flows.poll(sleep=no_sleep)
        assert attachments_in_chat(model.state)  # the header re-renders from this
        await flows.end_requested()
        return model, flows

    model, flows = run(go())
    filing = model.state["filing"]
    assert model.state["dialog"] == REMINDER and filing["ended"]
    assert [a["mark"] for a in filing["attachments"]] == [None, "saved"]
    # Ended: nothing is shown inline, so no object URL is ever made for the list.
    att = model.state["messages"][0]["attachment"]
    assert not shown_inline(model.state, att) and images(model.state) == []
    assert not [c for c in flows.api.calls if c[0] == "object_url"]
    flows.back()
    assert model.state["focus"][0] == "reminder_button"


def test_download_all_saves_the_zip_and_revokes_its_url_later():
    async def go():
        model, flows = await started(listing=LISTING)
        await flows.download_all(sleep=no_sleep)
        return flows

    flows = run(go())
    assert flows.browser.saved == [("blob:zip", "bilagor-2026-11-27.zip")]
    assert flows.browser.revoked == ["blob:zip"]


# --- viewing -----------------------------------------------------------------------------------
def test_viewer_steps_through_the_images_and_gives_focus_back_to_its_opener():
    pages = [{"messages": [message(1, "attachment", attachment("i1")),
                           message(2, "attachment", attachment("d1", "document", "x.pdf")),
                           message(3, "attachment", attachment("i2"))],
              "cursor": 3, "state": "ended"}]

    async def go():
        model, flows = await started(pages=pages)
        model.apply(T.messages_arrived(model.state, pages[0]["messages"], 3))
        await flows.enlarge(attachment("i1"))
        assert model.state["viewer"]["count"] == 2 and model.state["viewer"]["index"] == 0
        await flows.step(1)
        assert model.state["viewer"]["id"] == "i2" and model.state["viewer"]["opener"] == "i1"
        await flows.step(1)  # the last: stays
        assert model.state["viewer"]["id"] == "i2"
        # One URL per attachment, fetched once.
        await flows.download(attachment("i2"), sleep=no_sleep)
        flows.viewer_closed()
        return model, flows

    model, flows = run(go())
    assert [c for c in flows.api.calls if c[0] == "object_url"] == [("object_url", "i1"),
                                                                      ("object_url", "i2")]
    assert flows.browser.saved == [("blob:i2", "a.jpg")] and flows.browser.revoked == []
    assert model.state["viewer"] is None and model.state["focus"][0] == "enlarge:i1"


def test_an_image_the_browser_cannot_show_leaves_the_viewer_list():
    model = Model(initial_state())
    model.apply({"visit": {"state": "open"}})
    model.apply(T.messages_arrived(model.state, [message(1, "attachment", attachment("h1"))]))
    assert [a["id"] for a in images(model.state)] == ["h1"]
    model.apply(T.image_unshowable(model.state, "h1"))
    assert images(model.state) == []


# --- the model and the contract ----------------------------------------------------------------
def test_model_patches_notify_only_subscribers_of_changed_keys():
    model = Model({"a": 1, "b": 2})
    seen: list[tuple[str, list[str]]] = []
    model.subscribe(lambda state, changed: seen.append(("a", changed)), ("a",))
    model.subscribe(lambda state, changed: seen.append(("any", changed)))
    assert model.apply({"a": 1}) == []
    assert model.apply({"b": 3}) == ["b"]
    assert model.apply({"a": 5, "c": 1}) == ["a", "c"]
    assert seen == [("any", ["b"]), ("a", ["a", "c"]), ("any", ["a", "c"])]
    assert model.get("a") == 5 and model.snapshot() == {"a": 5, "b": 3, "c": 1}


def test_worker_contract_round_trips_and_refuses_unknown_fields():
    checked = Checked(ok=True, mime="image/png", category="image", size=3, removed=["gps"])
    again = Checked.from_json(checked.to_json())
    assert again == checked and again.removed == ["gps"]
    assert set(json.loads(checked.to_json())) == set(Checked.FIELDS)
    with pytest.raises(TypeError):
        Uploaded(oops=1)
    # Fields a newer worker adds are ignored by an older reader, not a crash.
    assert Reduced.from_json('{"ok": true, "size": 5, "extra": 1}').size == 5


@pytest.mark.skipif(not micropython_available(), reason="npm ci has not run")
def test_the_flows_run_under_micropython():
    files = repo_files(*("bifoga.chat." + n for n in (
        "i18n", "formatting", "links", "model", "events", "transitions", "flows", "adapters",
        "worker_contract", "viewer_math")), "bifoga.media.limits", "bifoga.media.refusals",
        "bifoga.media.sniff_head")
    code = """
import sys
sys.path.insert(0, '/')
import asyncio
from bifoga.chat.flows import Flows
from bifoga.chat.model import Model, initial_state, to_send
from bifoga.chat.worker_contract import Checked, Uploaded
from bifoga.chat.formatting import record_texts

class Api:
    visit_id, token, visit_base = 'v1', 't', '/api/visits/v1'
    async def config(self):
        return {'max_attachment_bytes': 100, 'accept': '',
                'upload_endpoint_template': '/u/{visit_id}'}
    async def visit(self):
        return {'state': 'open', 'role': 'patient', 'participants': {}}

class Worker:
    async def prepare(self, file, name, key, keep_date, max_bytes):
        return Checked.from_json(Checked(ok=True, mime='image/png', category='image', size=9,
                                         removed=['gps'], held=True).to_json())
    async def upload(self, request):
        print(request.endpoint, request.name)
        return Uploaded(ok=True, message={'id': 1, 'kind': 'attachment',
                                          'attachment': {'id': 'a', 'name': 'p.png'}})

class Browser:
    def new_key(self):
        return 'k1'
    async def read_head(self, file, size):
        return b'\\x89PNG\\r\\n\\x1a\\n' + bytes(42)

async def main():
    model = Model(initial_state('en'))
    worker = Worker()
    flows = Flows(model, Api(), Browser(), light=worker)
    await flows.load()
    picking = asyncio.create_task(flows.pick([(None, 'p.png', 50, 'image/png')]))
    await asyncio.sleep(0.01)
    rec = model.state['attachments'][0]
    print(rec['status'], rec['verified'], record_texts(rec, 100, 'en')['status'])
    flows.worker_connected('light', worker)
    await picking
    rec = model.state['attachments'][0]
    print(rec['status'], to_send(model.state) == ['k1'], record_texts(rec, 100, 'en')['status'])
    await flows.upload()
    print(model.state['dialog'], len(model.state['messages']), model.state['notice']['status'])

await main()
"""
    assert run_micropython(code, files, top_level_await=True).splitlines() == [
        "ready False p.png can be sent. The last check is done before it goes.",
        "ready True p.png is ready to send.", "/u/v1 p.png", "None 1 p.png sent."]


# --- the light path and the heavy one ----------------------------------------------------------
def test_a_photo_goes_by_the_light_worker_and_pyodide_never_starts():
    async def go():
        model, flows = await started()
        await flows.pick([file("a.jpg")])
        rec = model.state["attachments"][0]
        assert rec["holder"] == LIGHT and rec["verified"]
        await flows.upload()
        return model, flows

    model, flows = run(go())
    assert [c[0] for c in light(flows).calls] == ["prepare", "upload"]
    assert flows.heavy_starts == [] and heavy(flows).calls == []
    assert model.state["workers"][HEAVY] == ""


def test_what_the_light_worker_hands_over_starts_pyodide_and_the_preview_says_so():
    async def go():
        model, flows = await started()
        flows.start_heavy = lambda: flows.heavy_starts.append(True)  # starting, not up yet
        light(flows).checked["IMG_1.HEIC"] = Checked(hand_over=True, mime="image/heic")
        task = asyncio.create_task(flows.pick([file("IMG_1.HEIC", 3000, "image/heic",
                                                    head=b"\x00\x00\x00\x18ftypheic")]))
        for _ in range(10):
            await asyncio.sleep(0)
        rec = model.state["attachments"][0]
        assert rec["imaging"] and model.state["workers"][HEAVY] == STARTING
        assert record_texts(rec, MAX, "sv")["status"] == (
            "Förbereder bildbehandling för IMG_1.HEIC…")
        heavy(flows).checked["IMG_1.HEIC"] = Checked(
            ok=True, mime="image/jpeg", category="image", converted=True,
            preview_url="blob:converted", removed=["gps"])
        connect(flows, HEAVY)
        await task
        await flows.upload()
        return model, flows

    model, flows = run(go())
    assert flows.heavy_starts == [True]
    assert [c[0] for c in heavy(flows).calls] == ["prepare", "upload"]
    assert [c[1] for c in heavy(flows).calls if c[0] == "upload"] == ["IMG_1.jpg"]
    assert [c[0] for c in light(flows).calls] == ["prepare"]


def test_the_sender_sees_its_own_file_from_the_copy_it_sent_until_the_visit_ends():
    pages = [{"messages": [], "cursor": 0, "state": "ended"}]

    async def go():
        model, flows = await started(pages=pages)
        await flows.pick([file("a.jpg")])
        await flows.upload()
        att = model.state["messages"][0]["attachment"]
        url = await flows.inline_url(att)
        assert url == "blob:sent-k1"
        assert [c for c in flows.api.calls if c[0] == "object_url"] == []  # never fetched back
        # The file went: its record too, but not the copy the chat shows.
        assert ("release", "k1") not in light(flows).calls
        flows.api.visit_state = "ended"
        await flows.poll(sleep=no_sleep)
        await asyncio.sleep(0)
        return model, flows

    model, flows = run(go())
    assert flows.browser.revoked == ["blob:sent-k1"] and model.state["object_urls"] == {}
    assert ("release", "k1") in light(flows).calls


def test_the_chat_hearing_of_ones_own_file_before_the_upload_answers_waits_for_its_copy():
    async def go():
        model, flows = await started()
        flows.apply({"visit": dict(model.state["visit"], role="patient")})
        await flows.pick([file("a.jpg")])
        light(flows).gate = asyncio.Event()
        upload = asyncio.create_task(flows.upload())
        await asyncio.sleep(0)
        # The long poll brings the message before the worker's answer does.
        att = {k: v for k, v in attachment("a-k1").items() if k != "sender_role"}
        flows.apply(T.messages_arrived(model.state, [message("m-k1", "attachment", att)]))
        shown = asyncio.create_task(flows.inline_url(att))
        await asyncio.sleep(0)
        light(flows).gate.set()
        await upload
        return flows, await shown

    flows, url = run(go())
    assert url == "blob:sent-k1"
    assert [c for c in flows.api.calls if c[0] == "object_url"] == []


# --- the hurried patient: "Ladda upp" before the check, and the answer must be heard ------------
def test_a_render_that_fails_on_the_checks_answer_does_not_keep_the_upload_waiting():
    """The race: "Ladda upp" is pressed while the check runs; the check's answer lands while a
    component (subscribed before the waiting upload) fails to render it. The model used to stop
    telling subscribers at the first failure, so the upload, subscribed last, never heard that
    its file was checked: no request, "Ladda upp" disabled, no progress, no error."""
    async def go():
        model, flows = make()
        await flows.load()
        connect(flows)
        light(flows).gate_prepare = asyncio.Event()
        failures = []

        def fragile_render(state, changed):  # a component that fails on the verified record
            if any(rec["verified"] for rec in state["attachments"]):
                raise RuntimeError("render failed")
        model.subscribe(fragile_render, ("attachments",))
        model.on_error = failures.append
        picking = asyncio.create_task(flows.pick([file("a.jpg")]))
        for _ in range(5):
            await asyncio.sleep(0)
        assert to_send(model.state)  # ready from its first bytes
        upload = asyncio.create_task(flows.upload())
        await asyncio.sleep(0)
        assert model.state["attachments"][0]["waiting"]
        light(flows).gate_prepare.set()  # the answer lands between the upload's two awaits
        await picking
        await upload
        return model, flows, failures

    model, flows, failures = run(go())
    assert [c[0] for c in light(flows).calls] == ["prepare", "upload"]
    assert model.state["messages"] and not model.state["sending"]
    assert failures and all(str(f) == "render failed" for f in failures)


def test_a_check_that_ends_without_an_answer_refuses_its_file_instead_of_waiting():
    async def go():
        model, flows = make()
        await flows.load()
        connect(flows)
        light(flows).gate_prepare = asyncio.Event()
        picking = asyncio.create_task(flows.pick([file("a.jpg")]))
        for _ in range(5):
            await asyncio.sleep(0)
        upload = asyncio.create_task(flows.upload())
        await asyncio.sleep(0)
        # An answer the transitions cannot use (a worker bug): the check fails, and ends.
        light(flows).checked["a.jpg"] = Checked(ok=True, mime="image/jpeg", category="image",
                                                removed=None)
        light(flows).gate_prepare.set()
        await picking
        await upload
        return model, flows

    model, flows = run(go())
    rec = model.state["attachments"][0]
    assert rec["status"] == REFUSED and rec["reason"] == refusals.CHECK_FAILED
    assert not model.state["sending"] and model.state["preview_finished"]
    assert [c[0] for c in light(flows).calls] == ["prepare"]
    assert "not iterable" in record_texts(rec, MAX, "en")["alert"]


def test_component_event_names_are_the_typed_ones():
    """Every .on(…) and .emit(…) in the components and app.py names a bifoga.chat.events constant,
    so a typo fails here; and a name that is not one fails at once."""
    import ast

    from bifoga.chat import events
    from tests.micropython_runner import REPO as root

    used = 0
    for path in sorted((root / "components").glob("*.py")) + [root / "app.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("on", "emit") and node.args):
                name = node.args[0]
                assert (isinstance(name, ast.Attribute) and isinstance(name.value, ast.Name)
                        and name.value.id == "events"), (path.name, node.lineno)
                assert getattr(events, name.attr) in events.ALL, (path.name, name.attr)
                used += 1
    assert used > 40
    assert len(set(events.ALL)) == len(events.ALL)


def test_ladda_upp_also_sends_a_file_whose_check_ends_after_the_press():
    async def go():
        model, flows = await started()
        flows.start_heavy = lambda: flows.heavy_starts.append(True)  # starting, not up yet
        light(flows).checked["clip.mp4"] = Checked(hand_over=True)
        picking = asyncio.create_task(flows.pick([
            file("remiss.pdf", 5000, "application/pdf"),
            file("clip.mp4", 9000, "video/mp4", head=b"\x00\x00\x00\x18ftypisom")]))
        for _ in range(10):
            await asyncio.sleep(0)
        pdf, clip = model.state["attachments"]
        assert pdf["status"] == READY and clip["status"] == CHECKING
        upload = asyncio.create_task(flows.upload())
        for _ in range(10):
            await asyncio.sleep(0)
        heavy(flows).checked["clip.mp4"] = Checked(ok=True, mime="video/mp4", category="video")
        connect(flows, HEAVY)
        await picking
        await upload
        return model, flows

    model, flows = run(go())
    assert [c[1] for c in light(flows).calls if c[0] == "upload"] == ["remiss.pdf"]
    assert [c[1] for c in heavy(flows).calls if c[0] == "upload"] == ["clip.mp4"]
    assert model.state["dialog"] is None
