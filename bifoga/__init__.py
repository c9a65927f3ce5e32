"""Bifoga's pure Python, no browser API in it: the media checks that the browser and the server
share (bifoga.media), the chat's state and flows (bifoga.chat) and the upload (bifoga.transfer).

Runs under MicroPython (the main thread, the light worker), Pyodide (the heavy worker) and
CPython (the server, the tests); each sub-package says which of them use it.
"""
