"""The chat's state and flows: the model, its transitions, the flows that run the I/O through
the adapters' protocols, the messages of the workers' contract, the components' event names,
texts and their formatting.

Runs on the main thread under MicroPython, and under CPython in the tests; worker_contract also
in both workers (MicroPython and Pyodide). No `js`, no `pyscript`.
"""
