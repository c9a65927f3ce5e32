"""Bifoga's main thread (MicroPython): starts the app (app.py) without holding the page.

index.html's start-up script imports this module from static/build/app.tar, where the app's
~40 modules are MicroPython bytecode. Importing them all in one go would still be one long task
on a phone's CPU, in which not even a file chosen with the shell's paperclip could be delivered.
So they are imported a few at a time, and the browser handles input in between.
"""

import asyncio

from pyscript import window

window.performance.mark("bifoga:main-start")

# Each step a task of its own (a few ms each as bytecode, more on a phone's CPU); app.py imports
# whatever is not named here.
IMPORT_STEPS = (
    ("bifoga.chat.i18n", "bifoga.chat.events"),
    ("bifoga.media.limits", "bifoga.chat.formatting", "bifoga.media.sniff_head"),
    ("bifoga.chat.model", "bifoga.chat.transitions"),
    ("bifoga.chat.flows", "bifoga.chat.worker_contract"),
    ("components.dom", "components.icons", "components.preview_item",
     "components.preview_dialog"),
    ("components.message_list", "components.image_viewer"),
    ("components.reminder_dialog", "components.visit_header"),
    ("components.picker", "components.drop_zone", "components.composer",
     "components.confirm_dialog", "adapters.api_client", "adapters.browser"),
)


def next_task():
    """A promise resolved from a new task of the browser's (asyncio.sleep(0) stays within the
    current one): awaiting it lets the browser handle input, a picked file, meanwhile."""
    return window.Promise.new(lambda resolve, reject: window.setTimeout(resolve, 0))


async def boot():
    for names in IMPORT_STEPS:
        for name in names:
            __import__(name)
        await next_task()
    import app

    window.performance.mark("bifoga:imported")
    await app.start()


asyncio.create_task(boot())
