"""Bifoga's app on the main thread (MicroPython): builds the model, the adapters, the flows and
the components, connects them, and starts. main.py imports it in steps, then calls start().

The model (bifoga/chat/model.py) holds the state; the flows (bifoga/chat/flows.py) run the I/O
through the adapters and change the model through bifoga/chat/transitions.py; each component renders
its slice of the model and raises events, which are connected to the flows here and only here.
Two workers check and upload files: the light one (light_worker.py, MicroPython), which
index.html starts with the page's runtime, and the Pyodide one (worker.py, with Pillow), started
only when a file needs pixels changed or the light one hands a file over.
"""

import asyncio

from pyscript import create_named_worker, document, window, workers

from adapters.api_client import ApiClient
from adapters.browser import Browser, take_early_files, take_visit_link
from adapters.worker_client import WorkerClient
from bifoga.chat import events
from bifoga.chat.adapters import RequestError
from bifoga.chat.flows import Flows
from bifoga.chat.i18n import pick_lang, text
from bifoga.chat.links import parse_params
from bifoga.chat.model import CONFIRM_END, HEAVY, LIGHT, Model, initial_state
from bifoga.chat.transitions import error_detail
from components.announcer import Announcer
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

# (script, worker name, config, interpreter, start limit in seconds, the page's mark when ready);
# no script: index.html declares the worker, and PyScript starts it with the page's runtime.
WORKERS = {
    LIGHT: (None, "bifoga-light", None, "mpy", 60, "bifogaLightReady"),
    # 10 MB on a slow line included
    HEAVY: ("./worker_start.py", "bifoga-worker", "./worker.toml", "py", 180,
            "bifogaWorkerReady"),
}


def described(files):
    """(File, name, size, mime) for each File, as the flows take them."""
    return [(f, str(f.name), int(f.size), str(f.type)) for f in files]


def mount(app, model, flows, lang, utc_offset):
    """Build the components for the loaded visit, subscribe them, connect their events."""
    spawn = flows.spawn
    role = model.get("visit")["role"]
    header = VisitHeader(lang, utc_offset)
    messages = MessageList(lang, role, utc_offset, flows.inline_url)
    announcer = Announcer(lang)
    composer = Composer(lang)
    picker = Picker(lang, document.getElementById("picker"))
    drop_zone = DropZone(lang)
    preview = PreviewDialog(lang)
    viewer = ImageViewer(lang, utc_offset)
    reminder = ReminderDialog(lang, role, utc_offset)
    confirm_end = ConfirmDialog(lang, CONFIRM_END, "end-confirm", "end.confirm_title",
                                "end.confirm_text", "end.confirm", "end.back")

    header.on(events.END, lambda: spawn(flows.end_requested()))
    header.on(events.REMINDER, lambda: spawn(flows.end_requested()))
    reminder.on(events.END, lambda: spawn(flows.end_from_reminder()))
    reminder.on(events.END_ANYWAY, lambda: spawn(flows.end_confirmed()))
    reminder.on(events.BACK, flows.back)
    reminder.on(events.MARK, lambda att_id, mark: spawn(flows.mark(att_id, mark)))
    reminder.on(events.DOWNLOAD, lambda att: spawn(flows.download(att)))
    reminder.on(events.DOWNLOAD_ALL, lambda: spawn(flows.download_all()))
    confirm_end.on(events.CONFIRM, lambda: spawn(flows.end_confirmed()))
    confirm_end.on(events.BACK, flows.back)
    messages.on(events.ENLARGE, lambda att: spawn(flows.enlarge(att)))
    messages.on(events.DOWNLOAD, lambda att: spawn(flows.download(att)))
    messages.on(events.UNSHOWABLE, flows.image_unshowable)
    viewer.on(events.STEP, lambda delta: spawn(flows.step(delta)))
    viewer.on(events.SAVE, lambda att: spawn(flows.download(att)))
    viewer.on(events.CLOSED, flows.viewer_closed)
    composer.on(events.SEND, lambda body: spawn(flows.send_text(body)))
    picker.on(events.PICKED, lambda files: spawn(flows.pick(described(files))))
    drop_zone.on(events.DROPPED, lambda files: spawn(flows.pick(described(files))))
    preview.on(events.UPLOAD, lambda: spawn(flows.upload()))
    preview.on(events.CANCEL, flows.cancel)
    preview.on(events.KEEP_DATE, lambda key, keep: spawn(flows.keep_date(key, keep)))
    preview.on(events.REDUCE, lambda key: spawn(flows.reduce(key)))

    footer = element("div", {"class": "chat-footer"}, [composer.root, picker.root])
    main = element("main", {"class": "visit", "id": "visit"},
                   [header.root, messages.root, announcer.root, footer, drop_zone.root])
    app.replaceChildren(main, preview.root, viewer.root, reminder.root, confirm_end.root)
    drop_zone.attach(main)
    for component in (header, messages, announcer, composer, picker, drop_zone, preview,
                      viewer, reminder, confirm_end):
        component.watch(model)


async def connect_worker(flows, name):
    """Connect to a worker (LIGHT or HEAVY). The light one starts with the page's runtime
    (index.html), the heavy one here, on the first file that needs it. A worker that fails, or
    is not up in its time, is said so; nothing waits for it for ever."""
    script, worker_name, config, kind, limit, mark = WORKERS[name]
    flows.worker_starting(name)

    async def created():
        if script is None:
            return await workers[worker_name]
        return await create_named_worker(script, worker_name, config, type=kind)

    try:
        engine = await asyncio.wait_for(created(), limit)
    except Exception as exc:  # noqa: BLE001 - any failure to start is the same to the user
        flows.worker_not_started(name, type(exc).__name__ + ": " + str(exc))
        return
    flows.worker_connected(name, WorkerClient(engine, flows.progress))
    setattr(window, mark, window.performance.now())


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
    model = Model(initial_state(lang))
    flows = Flows(model, ApiClient(api_base, visit_id, token or ""), Browser(),
                  start_heavy=lambda: flows.spawn(connect_worker(flows, HEAVY)))
    window.performance.mark("bifoga:built")
    flows.spawn(connect_worker(flows, LIGHT))
    try:
        await flows.load()
        window.performance.mark("bifoga:loaded")
    except RequestError as exc:
        key = ("app.link_expired" if exc.status == 410 else
               "app.bad_link" if exc.status in (401, 403, 404) else "app.load_failed")
        show_fatal(app, text(lang, key, detail=error_detail(model.state, exc.status)))
        return
    mount(app, model, flows, lang, -int(window.Date.new().getTimezoneOffset()))
    # In the same task as mount: from here the components listen, and nothing falls between.
    early = take_early_files()
    document.body.setAttribute("data-ready", "true")
    window.bifogaReady = window.performance.now()
    if early:  # picked, dropped or pasted before Python was up
        flows.spawn(flows.pick(described(early)))
    flows.spawn(flows.poll())


def show_fatal(app, message):
    take_early_files()  # nothing can be sent here: the shell stops keeping files
    app.replaceChildren(element("p", {"class": "app-error", "role": "alert"}, content=message))

