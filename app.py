"""Bifoga's app on the main thread (MicroPython): builds the model, the adapters, the flows and
the components, connects them, and starts. main.py imports it in steps, then calls start().

The model (bifoga/model.py) holds the state; the flows (bifoga/flows.py) run the I/O through
the adapters and change the model through bifoga/transitions.py; each component renders its
slice of the model and raises events, which are connected to the flows here and only here.
The Pyodide worker (worker.py) checks and uploads files.
"""

import asyncio

from pyscript import create_named_worker, document, window

from bifoga.adapters import RequestError
from bifoga.flows import Flows
from bifoga.i18n import pick_lang, text
from bifoga.links import parse_params
from bifoga.model import CONFIRM_END, Model, initial_state
from bifoga.transitions import error_detail
from components.announcer import Announcer
from components.api_client import ApiClient
from components.browser import Browser, take_early_files, take_visit_link
from components.composer import Composer
from components.confirm_dialog import ConfirmDialog
from components.dom import element
from components.drop_zone import DropZone
from components.image_viewer import ImageViewer
from components.message_list import MessageList
from components.picker import Picker
from components.preview_dialog import PreviewDialog
from components.reminder_dialog import ReminderDialog
from components.visit_header import VisitHeader
from components.worker_client import WorkerClient

WORKER_NAME = "bifoga-worker"
WORKER_START_LIMIT = 180  # seconds


def described(files):
    """(File, name, size, mime) for each File, as the flows take them."""
    return [(f, str(f.name), int(f.size), str(f.type)) for f in files]


def mount(app, store, flows, lang, utc_offset):
    """Build the components for the loaded visit, subscribe them, connect their events."""
    spawn = flows.spawn
    role = store.get("visit")["role"]
    header = VisitHeader(lang, utc_offset)
    messages = MessageList(lang, role, utc_offset, flows.inline_url)
    announcer = Announcer(lang)
    composer = Composer(lang)
    picker = Picker(lang, document.getElementById("picker"))
    drop_zone = DropZone(lang)
    preview = PreviewDialog(lang, lambda key: flows.files.get(key))
    viewer = ImageViewer(lang, utc_offset)
    reminder = ReminderDialog(lang, role, utc_offset)
    confirm_end = ConfirmDialog(lang, CONFIRM_END, "end-confirm", "end.confirm_title",
                                "end.confirm_text", "end.confirm", "end.back")

    header.on("end", lambda: spawn(flows.end_requested()))
    header.on("reminder", lambda: spawn(flows.end_requested()))
    reminder.on("end", lambda: spawn(flows.end_from_reminder()))
    reminder.on("end_anyway", lambda: spawn(flows.end_confirmed()))
    reminder.on("back", flows.back)
    reminder.on("mark", lambda att_id, mark: spawn(flows.mark(att_id, mark)))
    reminder.on("download", lambda att: spawn(flows.download(att)))
    reminder.on("download_all", lambda: spawn(flows.download_all()))
    confirm_end.on("confirm", lambda: spawn(flows.end_confirmed()))
    confirm_end.on("back", flows.back)
    messages.on("enlarge", lambda att: spawn(flows.enlarge(att)))
    messages.on("download", lambda att: spawn(flows.download(att)))
    messages.on("unshowable", flows.image_unshowable)
    viewer.on("step", lambda delta: spawn(flows.step(delta)))
    viewer.on("save", lambda att: spawn(flows.download(att)))
    viewer.on("closed", flows.viewer_closed)
    composer.on("send", lambda body: spawn(flows.send_text(body)))
    picker.on("picked", lambda files: spawn(flows.pick(described(files))))
    drop_zone.on("dropped", lambda files: spawn(flows.pick(described(files))))
    preview.on("upload", lambda: spawn(flows.upload()))
    preview.on("cancel", flows.cancel)
    preview.on("keep_date", lambda key, keep: spawn(flows.keep_date(key, keep)))
    preview.on("reduce", lambda key: spawn(flows.reduce(key)))

    footer = element("div", {"class": "chat-footer"}, [composer.root, picker.root])
    main = element("main", {"class": "visit", "id": "visit"},
                   [header.root, messages.root, announcer.root, footer, drop_zone.root])
    app.replaceChildren(main, preview.root, viewer.root, reminder.root, confirm_end.root)
    drop_zone.attach(main)
    for component in (header, messages, announcer, composer, picker, drop_zone, preview,
                      viewer, reminder, confirm_end):
        component.watch(store)


async def connect_worker(flows):
    # Started after the UI is usable: Pyodide's download and compile never delay the paperclip.
    # A worker that fails, or is not up after WORKER_START_LIMIT seconds (10 MB on a slow line
    # included), is said so in the preview; nothing waits for it for ever.
    async def created():
        return await create_named_worker("./worker_start.py", WORKER_NAME, "./worker.toml")

    try:
        engine = await asyncio.wait_for(created(), WORKER_START_LIMIT)
    except Exception as exc:  # noqa: BLE001 - any failure to start is the same to the user
        flows.worker_not_started(type(exc).__name__ + ": " + str(exc))
        return
    # Progress can't travel as a call argument ("could not be cloned"): the worker calls these.
    engine.on_upload_progress = lambda key, sent, total: flows.upload_progress(key, sent, total)
    engine.on_upload_state = lambda key, state: flows.upload_state(key, state)
    flows.worker = WorkerClient(engine)
    flows.worker_connected()
    window.bifogaWorkerReady = window.performance.now()


async def start():
    lang = pick_lang(parse_params(str(window.location.search)).get("lang"))
    document.documentElement.lang = lang
    document.title = text(lang, "app.title")
    app = document.getElementById("app")
    visit_id, token = take_visit_link()
    if not visit_id:
        show_fatal(app, text(lang, "app.bad_link"))
        return
    api_base = str(document.querySelector('meta[name="bifoga-api-base"]').content or "/api")
    store = Model(initial_state(lang))
    flows = Flows(store, ApiClient(api_base, visit_id, token or ""), None, Browser())
    window.performance.mark("bifoga:built")
    try:
        await flows.load()
        window.performance.mark("bifoga:loaded")
    except RequestError as exc:
        key = ("app.link_expired" if exc.status == 410 else
               "app.bad_link" if exc.status in (401, 403, 404) else "app.load_failed")
        show_fatal(app, text(lang, key, detail=error_detail(store.state, exc.status)))
        return
    mount(app, store, flows, lang, -int(window.Date.new().getTimezoneOffset()))
    # In the same task as mount: from here the components listen, and nothing falls between.
    early = take_early_files()
    document.body.setAttribute("data-ready", "true")
    window.bifogaReady = window.performance.now()
    if early:  # picked, dropped or pasted before Python was up
        flows.spawn(flows.pick(described(early)))
    flows.spawn(flows.poll())
    flows.spawn(connect_worker(flows))


def show_fatal(app, message):
    take_early_files()  # nothing can be sent here: the shell stops keeping files
    app.replaceChildren(element("p", {"class": "app-error", "role": "alert"}, content=message))

