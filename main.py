"""Bifoga's main thread (MicroPython): state, wiring, start.

The components build the DOM and raise events; the controllers (sending, viewing, ending) hold
the flows that span several components; the Pyodide worker (worker.py) checks and uploads
files. This file connects them through one store.
"""

import asyncio

from pyscript import create_named_worker, document, window

window.performance.mark("bifoga:main-start")

from bifoga.formatting import format_size
from bifoga.i18n import pick_lang, text
from bifoga.links import parse_params, visit_from_fragment
from bifoga.state import Store
from components.announcer import Announcer
from components.api_client import ApiClient, ApiError
from components.composer import Composer
from components.confirm_dialog import ConfirmDialog
from components.dom import h
from components.drop_zone import DropZone
from components.image_viewer import ImageViewer
from components.message_list import MessageList
from components.picker import Picker
from components.preview_dialog import PreviewDialog
from components.reminder_dialog import ReminderDialog
from components.visit_header import VisitHeader
from controllers.ending import Ending
from controllers.sending import Sending
from controllers.viewing import Viewing, error_detail

window.performance.mark("bifoga:imported")
WORKER_NAME = "bifoga-worker"
LONG_POLL_SECONDS = 25

lang = pick_lang(parse_params(str(window.location.search)).get("lang"))
document.documentElement.lang = lang
document.title = text(lang, "app.title")
visit_id, token = visit_from_fragment(str(window.location.hash))
api_base = str(document.querySelector('meta[name="bifoga-api-base"]').content or "/api")
utc_offset = -int(window.Date.new().getTimezoneOffset())

store = Store({"config": None, "visit": None, "cursor": 0, "worker": None, "uploading": False})
worker_ready = asyncio.Event()
api = ApiClient(api_base, visit_id or "", token or "")

# --- components and controllers -------------------------------------------------------------
app = document.getElementById("app")
header = VisitHeader(lang, utc_offset)
announcer = Announcer(lang)
composer = Composer(lang)
picker = Picker(lang)
drop_zone = DropZone(lang)
preview = PreviewDialog(lang)
viewer = ImageViewer(lang)
confirm_end = ConfirmDialog(lang, "end-confirm", "end.confirm_title", "end.confirm_text",
                            "end.confirm", "end.back")
viewing = Viewing(lang, store, api, viewer, announcer)
messages = None  # these three need the role, known once the visit is loaded
reminder = None
sending = None


def t(key, **values):
    return text(lang, key, **values)


# --- handlers -------------------------------------------------------------------------------
def on_send(body):
    async def run():
        composer.set_enabled(False)
        try:
            messages.add(await api.send_text(body))
            composer.clear()
            announcer.clear_warning()
        except ApiError as exc:
            announcer.warn(t("upload.visit_ended") if exc.status == 409 else
                           t("composer.send_failed", detail=error_detail(lang, exc)))
        finally:
            composer.set_enabled(is_open())
            composer.textarea.focus()
    asyncio.create_task(run())


def on_files(files):
    if is_open() and store.get("config"):
        sending.picked(files)


def on_upload():
    sending.upload({"token": token, "visit_id": visit_id, "api_base": api_base})


def is_open():
    return (store.get("visit") or {}).get("state") == "open"


def render_visit(state, changed):
    visit = state["visit"]
    if not visit:
        return
    header.update(visit, bool(messages.attachment_count()))
    composer.set_enabled(is_open())
    picker.set_enabled(is_open() and state["config"] is not None)
    drop_zone.set_enabled(is_open() and state["config"] is not None)
    if not is_open() and "visit" in changed:
        # After the end nothing more can be sent, and the app drops its in-memory copies.
        if preview.is_open:
            sending.cancel()
        viewing.drop()


def render_config(state, changed):
    config = state["config"]
    picker.set_accept(config["accept"])
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
    # Started after the UI is usable: Pyodide's download and compile never delay the paperclip.
    engine = await create_named_worker("./worker.py", WORKER_NAME, "./worker.toml")
    # Progress can't travel as a call argument ("could not be cloned"): the worker calls these.
    engine.on_upload_progress = lambda key, sent, total: sending.progress(key, sent, total)
    engine.on_upload_state = lambda key, state: sending.state(key, state)
    store.patch(worker=engine)
    worker_ready.set()
    window.bifogaWorkerReady = window.performance.now()


# --- wiring and start -----------------------------------------------------------------------
def mount():
    global messages, reminder, sending
    role = store.get("visit")["role"]
    messages = MessageList(lang, role, utc_offset, viewing.url)
    reminder = ReminderDialog(lang, role, utc_offset)
    viewing.messages = messages
    sending = Sending(lang, store, preview, messages, announcer, picker, worker_ready)
    ending = Ending(lang, store, api, header, reminder, confirm_end, announcer, viewing)

    header.on("end", ending.requested)
    header.on("reminder", ending.requested)
    reminder.on("end", ending.confirmed)
    reminder.on("back", ending.back)
    reminder.on("mark", ending.mark)
    reminder.on("download", viewing.download)
    reminder.on("download_all", ending.download_all)
    confirm_end.on("confirm", ending.confirmed)
    confirm_end.on("back", ending.back)
    messages.on("enlarge", viewing.enlarge)
    messages.on("download", viewing.download)
    viewer.on("step", viewing.step)
    viewer.on("save", viewing.download)
    viewer.on("copy", viewing.copy)
    composer.on("send", on_send)
    picker.on("picked", on_files)
    drop_zone.on("dropped", on_files)
    preview.on("upload", on_upload)
    preview.on("cancel", sending.cancel)
    store.subscribe(render_visit, ("visit", "config"))
    store.subscribe(render_config, ("config",))

    footer = h("div", {"class": "chat-footer"}, [composer.root, picker.root])
    main = h("main", {"class": "visit", "id": "visit"},
             [header.root, messages.root, announcer.root, footer, drop_zone.root])
    app.replaceChildren(main, preview.root, viewer.root, reminder.root, confirm_end.root)
    drop_zone.attach(main)


def show_fatal(message):
    app.replaceChildren(h("p", {"class": "app-error", "role": "alert"}, content=message))


async def start():
    if not visit_id:
        show_fatal(t("app.bad_link"))
        return
    window.performance.mark("bifoga:built")
    try:
        config, visit = await asyncio.gather(api.config(), api.visit())
        window.performance.mark("bifoga:loaded")
    except ApiError as exc:
        key = "app.bad_link" if exc.status in (401, 403, 404) else "app.load_failed"
        show_fatal(t(key, detail=error_detail(lang, exc)))
        return
    store.patch(visit=visit)
    mount()
    store.patch(config=config)
    render_visit(store.snapshot(), ["visit"])
    document.body.setAttribute("data-ready", "true")
    window.bifogaReady = window.performance.now()
    asyncio.create_task(poll_messages())
    asyncio.create_task(connect_worker())


asyncio.create_task(start())
