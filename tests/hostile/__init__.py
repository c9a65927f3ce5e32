"""Hostile files made here, one generator per class a review got past the checks, each class
with plain controls that must pass. Nothing is copied from elsewhere: every file is built by
the code in this package (with Pillow, pillow-heif, pikepdf, ffmpeg and exiftool where a real
producer is needed).

A case is (bytes, file name, expected): expected is ("ok", mime) for a control, or
(status, error code) for a file the server must refuse.
"""

from __future__ import annotations

from typing import NamedTuple


class Case(NamedTuple):
    data: bytes
    name: str
    status: int  # 201 for a control
    code: str  # the error code, or the stored mime for a control
