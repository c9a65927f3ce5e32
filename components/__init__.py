"""Bifoga's UI components. Each builds its DOM once and updates it from state; MicroPython."""
