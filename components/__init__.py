"""Bifoga's UI components. Each builds its DOM once and updates it from the model; MicroPython
on the main thread, with `pyscript`.
"""
