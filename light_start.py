"""What PyScript runs in the light worker (MicroPython; index.html declares it, app.py connects
to it): light_worker.py, imported as a module from static/build/light.tar.gz
(scripts/bundle_app.py)."""

from light_worker import *  # noqa: F403 - the exported functions, as PyScript looks them up here
from light_worker import __export__  # noqa: F401 - what PyScript exports to the main thread
