"""Bifoga's main thread (MicroPython): starts the app (app.py) without holding the page.

The app's ~40 modules (bytecode, from static/build/app.tar.gz) are imported a few at a time, a
task each, so that the browser handles input in between: a file chosen with the shell's
paperclip is delivered meanwhile. What app.start needs comes first; it starts loading the visit
while the components are imported, and mounts them once both are done.
"""

import asyncio

from pyscript import window

window.performance.mark("bifoga:main-start")

# Each step a task of its own (a few ms each on a phone-class CPU). IMPORT_STEPS: what
# app.start needs to load the visit; COMPONENT_STEPS: what it mounts after (app.mount imports
# whatever is not named here).
IMPORT_STEPS = (
    ("bifoga.chat.i18n", "bifoga.chat.events"),
    ("bifoga.media.limits", "bifoga.chat.formatting", "bifoga.media.sniff_head"),
    ("bifoga.chat.model", "bifoga.chat.transitions"),
    ("bifoga.chat.flows", "bifoga.chat.worker_contract"),
    ("adapters.api_client", "adapters.browser", "adapters.worker_client"),
)
COMPONENT_STEPS = (
    ("components.dom", "components.icons", "components.preview_item",
     "components.preview_dialog"),
    ("components.message_list", "components.image_viewer"),
    ("components.reminder_dialog", "components.visit_header"),
    ("components.picker", "components.drop_zone", "components.composer",
     "components.confirm_dialog", "components.announcer"),
)


def next_task():
    """A promise resolved from a new task of the browser's (asyncio.sleep(0) stays within the
    current one): awaiting it lets the browser handle input, a picked file, meanwhile."""
    return window.Promise.new(lambda resolve, reject: window.setTimeout(resolve, 0))


async def import_steps(steps):
    for names in steps:
        for name in names:
            __import__(name)
        await next_task()


async def boot():
    await import_steps(IMPORT_STEPS)
    import app

    components = asyncio.Event()
    starting = asyncio.create_task(app.start(components))
    await import_steps(COMPONENT_STEPS)
    window.performance.mark("bifoga:imported")
    components.set()
    await starting


asyncio.create_task(boot())
