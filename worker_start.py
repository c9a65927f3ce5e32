"""What PyScript runs in the Pyodide worker (main.py names it): worker.py, imported as a module.

PyScript runs a worker's script through Pyodide's runPythonAsync, which parses, rewrites and
tokenizes the source in Python before compiling it: about 0.3 s for worker.py's size, against
tens of ms for an import. worker.py comes in static/build/worker.zip (scripts/bundle_app.py).
"""

from worker import *  # noqa: F403 - the exported functions, as PyScript looks them up here
from worker import __export__  # noqa: F401 - what PyScript exports to the main thread
