"""Bifoga's main thread (MicroPython): state, handlers, wiring, start.

The components build the DOM; the Pyodide worker (worker.py) checks and uploads files; this file
only connects them through one store.
"""

import asyncio
import json

from pyscript import document, window, workers

from bifoga.formatting import (
    format_size,
    guess_category,
    metadata_labels,
    refusal_message,
    type_label,
    with_extension,
)
from bifoga.i18n import pick_lang, text
from bifoga.limits import check_size
from bifoga.links import parse_params, visit_from_fragment
from bifoga.state import Store
from bifoga.viewer_math import step_index
from components.announcer import Announcer
from components.api_client import ApiClient, ApiError
from components.clipboard import copy_image
from components.composer import Composer
from components.confirm_dialog import ConfirmDialog
from components.dom import h
from components.image_viewer import ImageViewer
from components.message_list import MessageList
from components.picker import Picker
from components.preview_dialog import PreviewDialog
from components.reminder_dialog import ReminderDialog
from components.visit_header import VisitHeader

WORKER_NAME = "bifoga-worker"
LONG_POLL_SECONDS = 25

lang = pick_lang(parse_params(str(window.location.search)).get("lang"))
document.documentElement.lang = lang
document.title = text(lang, "app.title")
visit_id, token = visit_from_fragment(str(window.location.hash))
api_base = str(document.querySelector('meta[name="bifoga-api-base"]').content or "/api")

store = Store({
    "config": None, "visit": None, "cursor": 0, "worker": None, "pending": None,
    "uploading": False, "object_urls": {}, "viewer_index": 0,
})
worker_ready = asyncio.Event()

# --- components ---------------------------------------------------------------------------
app = document.getElementById("app")
header = VisitHeader(lang, -int(window.Date.new().getTimezoneOffset()))
announcer = Announcer(lang)
messages = None  # built once the visit (and so the role) is known
composer = Composer(lang)
picker = Picker(lang, "", "")  # accept list and limits come from /api/config
preview = PreviewDialog(lang)
viewer = ImageViewer(lang)
reminder = None  # built once the role is known
confirm_end = ConfirmDialog(lang, "end-confirm", "end.confirm_title", "end.confirm_text",
                            "end.confirm", "end.back")
api = ApiClient(api_base, visit_id or "", token or "")


def t(key, **values):
    return text(lang, key, **values)


def utc_offset_minutes():
    return -int(window.Date.new().getTimezoneOffset())


# --- attachments in memory -------------------------------------------------------------------
async def attachment_url(att):
    """One object URL per attachment, fetched once and reused by the list and the viewer.

    Once the visit has ended nothing is kept: the in-memory copies are dropped.
    """
    urls = store.get("object_urls")
    if att["id"] in urls:
        return urls[att["id"]]
    url = await api.object_url(att)
    if visit_is_open():
        urls[att["id"]] = url
    return url


def visit_is_open():
    visit = store.get("visit") or {}
    return visit.get("state") == "open"


def save_as(url, name, revoke=False):
    """Let the browser download a blob URL under the attachment's original name."""
    link = h("a", {"href": url, "download": name, "hidden": True})
    document.body.appendChild(link)
    link.click()
    link.remove()
    if revoke:
        async def later():
            await asyncio.sleep(60)  # the download has long started by then
            window.URL.revokeObjectURL(url)
        asyncio.create_task(later())


def drop_object_urls():
    urls = store.get("object_urls")
    for url in urls.values():
        window.URL.revokeObjectURL(url)
    urls.clear()


def show_image(index, from_button=False):
    """Open (or step) the viewer at image `index` of the visit's images, oldest first."""
    images = messages.images
    att, button, sender_line = images[index]

    async def run():
        try:
            url = await attachment_url(att)
        except ApiError:
            announcer.warn(t("attachment.load_failed", name=att["name"]))
            return
        store.patch(viewer_index=index)
        viewer.open(att, url, sender_line, button if from_button else None, index, len(images))
    asyncio.create_task(run())


def on_enlarge(att):
    ids = [entry[0]["id"] for entry in messages.images]
    show_image(ids.index(att["id"]), from_button=True)


def on_viewer_step(delta):
    index = step_index(store.get("viewer_index"), delta, len(messages.images))
    if index is not None and index != store.get("viewer_index"):
        show_image(index)


def on_viewer_copy(att, img):
    async def run():
        try:
            await copy_image(img)
            viewer.say(t("viewer.copied"))
        except Exception:  # noqa: BLE001 - permission refused, no clipboard: say so plainly
            viewer.say(t("viewer.copy_failed"))
    asyncio.create_task(run())


def on_download(att):
    async def run():
        try:
            url = await attachment_url(att)
        except ApiError as exc:
            announcer.warn(t("attachment.load_failed", name=att["name"]) + " " + error_detail(exc))
            return
        save_as(url, att["name"], revoke=att["id"] not in store.get("object_urls"))
    asyncio.create_task(run())


# --- end of visit (clinician) ------------------------------------------------------------
def on_end_requested():
    async def run():
        try:
            listing = await api.attachments()
        except ApiError as exc:
            announcer.warn(t("end.failed", detail=error_detail(exc)))
            return
        if listing["attachments"]:
            reminder.open(listing["attachments"], listing["state"] == "ended")
        else:
            confirm_end.open()
    asyncio.create_task(run())


def on_end_confirmed():
    async def run():
        try:
            visit = await api.end_visit()
        except ApiError as exc:
            message = t("end.failed", detail=error_detail(exc))
            (reminder.warn if reminder.root.open else confirm_end.warn)(message)
            return
        reminder.close()
        confirm_end.close()
        store.patch(visit=visit)
        header.banner.focus()
    asyncio.create_task(run())


def on_end_back():
    reminder.close()
    confirm_end.close()
    button = header.end_button if visit_is_open() else header.reminder_button
    button.focus()


def on_mark(att, mark, previous):
    async def run():
        try:
            await api.mark(att["id"], mark)
        except ApiError as exc:
            reminder.revert_mark(att["id"], previous)
            reminder.warn(t("reminder.mark_failed", detail=error_detail(exc)))
    asyncio.create_task(run())


def on_download_all():
    async def run():
        try:
            url = await api.zip_url()
        except ApiError as exc:
            reminder.warn(t("attachment.load_failed", name="zip") + " " + error_detail(exc))
            return
        save_as(url, t("reminder.zip_name", date=str(window.Date.new().toISOString())[:10]),
                revoke=True)
    asyncio.create_task(run())


def apply_ended():
    """After the end: nothing more can be sent, and the app drops its in-memory copies."""
    viewer.close()
    if preview.is_open:
        on_preview_cancel()
    drop_object_urls()
    messages.drop_media()


# --- sending -----------------------------------------------------------------------------------
def on_send(body):
    async def run():
        composer.set_enabled(False)
        try:
            message = await api.send_text(body)
            messages.add(message)
            composer.clear()
            announcer.clear_warning()
        except ApiError as exc:
            if exc.status == 409:
                announcer.warn(t("upload.visit_ended"))
            else:
                announcer.warn(t("composer.send_failed", detail=error_detail(exc)))
        finally:
            composer.set_enabled(store.get("visit", {}).get("state") == "open")
            composer.textarea.focus()
    asyncio.create_task(run())


def error_detail(exc):
    if exc.status:
        return t("error.status", status=exc.status)
    return t("error.network")


def on_picked(file):
    name, size = str(file.name), int(file.size)
    category = guess_category(str(file.type))
    max_bytes = store.get("config")["max_attachment_bytes"]
    pending = {"file": file, "name": name, "size": size, "mime": str(file.type), "ok": False,
               "key": str(window.crypto.randomUUID()), "keep_date": False, "has_date": False}
    discard_pending()
    store.patch(pending=pending)
    preview.show(file, category, name, size)
    reason = check_size(size, max_bytes)
    # A too large photo is not simply refused: the worker may offer to reduce its size.
    if reason and not (reason == "too_large" and category == "image"):
        preview.set_refused(refusal_message(reason, name, size, max_bytes, lang), name)
        return
    preview.set_checking()
    asyncio.create_task(prepare_pending(pending))


def in_worker(name, *args):
    """Call a worker function without waiting for it (a JS promise is not a coroutine)."""
    async def call():
        await getattr(store.get("worker"), name)(*args)
    if store.get("worker"):
        asyncio.create_task(call())


def discard_pending():
    """Drop the worker's processed copy of a file that will not be sent."""
    pending = store.get("pending")
    if pending:
        in_worker("discard_prepared", pending["key"])


async def prepare_pending(pending):
    """Content check and metadata removal in the worker, then show the result."""
    await worker_ready.wait()
    max_bytes = store.get("config")["max_attachment_bytes"]
    name, size = pending["name"], pending["size"]
    result = json.loads(str(await store.get("worker").prepare_attachment(
        pending["file"], name, pending["key"], pending["keep_date"], max_bytes)))
    if store.get("pending") is not pending:
        return  # the user cancelled or picked another file meanwhile
    window.bifogaLastProcessingMs = result.get("processing_ms")
    reason = result.get("reason")
    if reason == "check_failed":
        preview.set_refused(t("refusal.check_failed", name=name, detail=result.get("detail", "")))
    elif not result["ok"]:
        preview.set_refused(refusal_message(reason, name, size, max_bytes, lang), name)
        if result.get("reducible"):
            preview.offer_reduce()
    else:
        pending.update(ok=True, mime=result["mime"], category=result["category"],
                       size=result["size"])
        if result["category"] == "image":
            pending["has_date"] = pending["has_date"] or "datetime" in result["removed"]
            preview.set_metadata(metadata_labels(result["removed"], lang), pending["has_date"])
        preview.set_details(name, result["category"], type_label(result["mime"]), size)
        preview.set_ready(name)


def on_keep_date(checked):
    pending = store.get("pending")
    if pending and not store.get("uploading"):
        pending.update(keep_date=checked, ok=False)
        preview.set_checking()
        asyncio.create_task(prepare_pending(pending))


def on_reduce():
    pending = store.get("pending")
    if not pending:
        return
    preview.set_reducing()

    async def run():
        max_bytes = store.get("config")["max_attachment_bytes"]
        result = json.loads(str(await store.get("worker").reduce_attachment(
            pending["file"], pending["key"], max_bytes)))
        if store.get("pending") is not pending:
            return
        window.bifogaLastProcessingMs = result.get("processing_ms")
        if not result["ok"]:
            preview.set_refused(t("reduce.failed"), pending["name"])
            return
        pending.update(ok=True, size=result["size"], mime=result["mime"],
                       name=with_extension(pending["name"], ".jpg"))
        preview.set_metadata([], False)
        preview.set_reduced(result["size"], result["width"], result["height"])
        preview.set_ready(pending["name"])
    asyncio.create_task(run())


def on_upload():
    pending = store.get("pending")
    if not pending or not pending["ok"] or store.get("uploading"):
        return
    store.patch(uploading=True)
    preview.set_progress(pending["name"], 0)
    params = {"key": pending["key"], "token": token, "visit_id": visit_id, "api_base": api_base,
              "name": pending["name"], "mime": pending["mime"]}

    async def run():
        try:
            result = json.loads(str(await store.get("worker").upload_attachment(
                pending["file"], json.dumps(params))))
        finally:
            store.patch(uploading=False)
        if store.get("pending") is not pending:
            return  # cancelled meanwhile
        if result["ok"]:
            messages.add(result["message"])
            preview.close()
            store.patch(pending=None)
            announcer.say(t("preview.sent", name=pending["name"]))
            picker.button.focus()
        elif result.get("error") == "cancelled":
            return
        else:
            preview.set_refused(upload_refusal(result, pending))
    asyncio.create_task(run())


def upload_refusal(result, pending):
    """The server refused or the network failed: the same clear words as the local check."""
    code, status = result.get("error"), result.get("status")
    max_bytes = store.get("config")["max_attachment_bytes"]
    reasons = {"too_large": "too_large", "audio_not_allowed": "audio", "empty_file": "empty",
               "type_not_allowed": "type_not_allowed",
               "image_does_not_decode": "image_does_not_decode",
               "metadata_not_removed": "metadata_not_removed"}
    if code in reasons:
        return refusal_message(reasons[code], pending["name"], pending["size"], max_bytes, lang)
    if code == "visit_ended" or status == 409:
        return t("upload.visit_ended")
    detail = t("error.status", status=status) if status else t("error.network")
    return t("upload.failed", name=pending["name"], detail=detail)


def on_preview_cancel():
    pending = store.get("pending")
    discard_pending()
    store.patch(pending=None)
    preview.close()
    if pending and store.get("uploading"):
        in_worker("cancel_upload", pending["key"])
    picker.button.focus()


def on_upload_progress(key, sent, total):
    pending = store.get("pending")
    if pending and pending["key"] == str(key) and int(total) > 0:
        preview.set_progress(pending["name"], int(int(sent) * 100 // int(total)))


def on_upload_state(key, state):
    pending = store.get("pending")
    if pending and pending["key"] == str(key) and str(state) == "reconnecting":
        preview.set_progress(pending["name"], int(preview.progress.value),
                             t("preview.reconnecting"))


# --- visit state -------------------------------------------------------------------------------
def render_visit(state, changed):
    visit = state["visit"]
    if not visit:
        return
    header.update(visit, bool(messages.attachment_count()))
    is_open = visit.get("state") == "open"
    composer.set_enabled(is_open)
    picker.set_enabled(is_open and state["config"] is not None)
    if not is_open and "visit" in changed:
        apply_ended()


def render_config(state, changed):
    config = state["config"]
    picker.input.setAttribute("accept", config["accept"])
    picker.set_limits_text(t("picker.limits", max=format_size(config["max_attachment_bytes"],
                                                              lang)))


async def poll_messages():
    """Long polling: new messages and files from the other side appear without reloading."""
    wait = 0
    failures = 0
    while True:
        try:
            data = await api.messages(store.get("cursor"), wait)
        except ApiError as exc:
            if exc.status in (401, 403, 404):
                announcer.warn(t("app.bad_link"))
                return
            failures += 1
            announcer.warn(t("chat.connection_lost"))
            await asyncio.sleep(min(10, 0.5 * 2 ** min(failures, 5)))
            continue
        if failures:
            announcer.clear_warning()
        failures = 0
        for message in data["messages"]:
            messages.add(message)
        store.patch(cursor=data["cursor"])
        visit = store.get("visit")
        if data.get("state") and visit and data["state"] != visit.get("state"):
            store.patch(visit=await api.visit())
        if data.get("state") == "ended":
            return  # nothing can arrive after the end
        wait = LONG_POLL_SECONDS


async def connect_worker():
    engine = await workers[WORKER_NAME]
    # Progress can't travel as a call argument ("could not be cloned"): the worker calls these.
    engine.on_upload_progress = on_upload_progress
    engine.on_upload_state = on_upload_state
    store.patch(worker=engine)
    worker_ready.set()
    window.bifogaWorkerReady = window.performance.now()


def mount():
    global messages, reminder
    visit = store.get("visit")
    messages = MessageList(lang, visit["role"], utc_offset_minutes(), attachment_url)
    reminder = ReminderDialog(lang, visit["role"], utc_offset_minutes())
    header.on("end", on_end_requested)
    header.on("reminder", on_end_requested)
    reminder.on("end", on_end_confirmed)
    reminder.on("back", on_end_back)
    reminder.on("mark", on_mark)
    reminder.on("download", on_download)
    reminder.on("download_all", on_download_all)
    confirm_end.on("confirm", on_end_confirmed)
    confirm_end.on("back", on_end_back)
    messages.set_names(visit.get("participants", {}))
    messages.on("enlarge", on_enlarge)
    messages.on("download", on_download)
    viewer.on("step", on_viewer_step)
    viewer.on("save", on_download)
    viewer.on("copy", on_viewer_copy)
    composer.on("send", on_send)
    picker.on("picked", on_picked)
    preview.on("upload", on_upload)
    preview.on("cancel", on_preview_cancel)
    preview.on("keep_date", on_keep_date)
    preview.on("reduce", on_reduce)
    store.subscribe(render_visit, ("visit", "config"))
    store.subscribe(render_config, ("config",))
    footer = h("div", {"class": "chat-footer"}, [composer.root, picker.root])
    main = h("main", {"class": "visit", "id": "visit"},
             [header.root, messages.root, announcer.root, footer])
    app.replaceChildren(main, preview.root, viewer.root, reminder.root, confirm_end.root)


def show_fatal(message):
    app.replaceChildren(h("p", {"class": "app-error", "role": "alert"}, content=message))


async def start():
    if not visit_id:
        show_fatal(t("app.bad_link"))
        return
    asyncio.create_task(connect_worker())
    try:
        config, visit = await asyncio.gather(api.config(), api.visit())
    except ApiError as exc:
        key = "app.bad_link" if exc.status in (401, 403, 404) else "app.load_failed"
        show_fatal(t(key, detail=error_detail(exc)))
        return
    store.patch(visit=visit)
    mount()
    store.patch(config=config)
    render_visit(store.snapshot(), ["visit"])
    document.body.setAttribute("data-ready", "true")
    window.bifogaReady = window.performance.now()
    asyncio.create_task(poll_messages())


asyncio.create_task(start())
