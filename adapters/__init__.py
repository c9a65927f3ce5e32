"""The browser's I/O behind the flows' adapters (bifoga/chat/adapters.py): the API client, the
workers' client, keys, object URLs and downloads. Thin wrappers over `pyscript` and `js`, on the
main thread under MicroPython.
"""
