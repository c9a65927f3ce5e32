"""Types shared by the per-format metadata modules: the error, the results, the accumulator.

Part of :mod:`bifoga.metadata` (the public interface): plain Python, no Pillow, runs in Pyodide.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bifoga.exif import CATEGORIES, build_exif
from bifoga.meta_error import MetadataError  # noqa: F401 (the parsers import it from here)

_MAX_PARTS = 100_000  # segments/chunks per file: real files have far fewer; bounds the time


@dataclass
class Report:
    """What an image carries.

    ``format``: "jpeg", "png", "webp", "heic", "heif" (handled), "gif", "avif", "tiff", "bmp"
    (recognised, not handled) or None (unknown). ``found``: category keys (see CATEGORIES).
    ``orientation``: EXIF Orientation 1..8 or None (for HEIF: the EXIF equivalent of the
    primary item's 'irot'/'imir' properties, None without them). ``capture_date``: ISO 8601
    local time ("2024-05-01T12:34:56") from DateTimeOriginal (else DateTimeDigitized, else
    DateTime) or None.
    ``icc``: the image has a colour profile (kept, never removed).
    """

    format: str | None
    found: list[str] = field(default_factory=list)
    orientation: int | None = None
    capture_date: str | None = None
    icc: bool = False


@dataclass
class StripResult:
    """Result of :func:`strip`. ``lossless`` is True: the image data is copied unchanged."""

    data: bytes
    removed: list[str]
    orientation: int | None
    lossless: bool = True


@dataclass
class _Acc:
    fmt: str
    found: set[str] = field(default_factory=set)
    orientation: int | None = None
    capture_date: str | None = None
    exif_seen: bool = False
    icc: bool = False
    date_dropped: bool = False  # the capture date was to be kept but could not be written back

    def report(self) -> Report:
        return Report(
            format=self.fmt,
            found=[c for c in CATEGORIES if c in self.found],
            orientation=self.orientation,
            capture_date=self.capture_date,
            icc=self.icc,
        )

    def new_exif(self, keep_capture_date: bool) -> bytes | None:
        """The minimal EXIF to write back, or None when nothing needs to be kept."""
        orientation = self.orientation if self.orientation not in (None, 1) else None
        date = self.capture_date if keep_capture_date else None
        if orientation is None and date is None:
            return None
        return build_exif(orientation, date)

    def removed(self, keep_capture_date: bool) -> list[str]:
        keep = keep_capture_date and self.capture_date and not self.date_dropped
        kept = {"datetime"} if keep else set()
        return [c for c in CATEGORIES if c in self.found and c not in kept]


def _valid_icc(profile: bytes) -> bool:
    return (
        len(profile) >= 128
        and int.from_bytes(profile[:4], "big") == len(profile)
        and profile[36:40] == b"acsp"
    )

