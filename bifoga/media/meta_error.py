"""The error every metadata parser raises for a file that is not what it claims to be.

Its own module so that the parsers the browser's light worker runs (MicroPython) can raise it
without importing the rest of bifoga.media.meta_common. CPython, Pyodide and MicroPython run it.
"""


class MetadataError(ValueError):
    """The data is not a well-formed image of the format it claims to be."""
