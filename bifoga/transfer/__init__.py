"""The upload: the tus protocol (tus_client) and its one retry policy (retry), without I/O of
their own.

Runs in the light worker (MicroPython), the heavy worker (Pyodide) and under CPython (the tests,
the benchmarks). No `js`, no `pyscript`.
"""
