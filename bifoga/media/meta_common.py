"""Types shared by the per-format metadata modules: the error, the results, the accumulator.

Part of :mod:`bifoga.media.metadata` (the public interface). Plain Python, no Pillow; CPython,
Pyodide and MicroPython (the browser's light worker) run it, so no dataclasses, typing or re.
"""

from bifoga.media.exif import CATEGORIES, build_exif
from bifoga.media.meta_error import MetadataError  # noqa: F401 (the parsers import it from here)

_MAX_PARTS = 100000  # segments/chunks per file: real files have far fewer; bounds the time


class Report:
    """What an image carries.

    ``format``: "jpeg", "png", "webp", "gif", "heic", "heif" (handled), "avif", "tiff", "bmp"
    (recognised, not handled) or None (unknown). ``found``: category keys (see CATEGORIES).
    ``orientation``: EXIF Orientation 1..8 or None (for HEIF: the EXIF equivalent of the
    primary item's 'irot'/'imir' properties, None without them). ``capture_date``: ISO 8601
    local time ("2024-05-01T12:34:56") from DateTimeOriginal (else DateTimeDigitized, else
    DateTime) or None.
    ``icc``: the image has a colour profile (kept, never removed).
    """

    _FIELDS = ("format", "found", "orientation", "capture_date", "icc")

    def __init__(self, format, found=None, orientation=None, capture_date=None, icc=False):
        self.format = format
        self.found = list(found) if found else []
        self.orientation = orientation
        self.capture_date = capture_date
        self.icc = icc

    def _values(self):
        return tuple(getattr(self, name) for name in self._FIELDS)

    def __eq__(self, other):
        return isinstance(other, Report) and self._values() == other._values()

    def __repr__(self):
        fields = [name + "=" + repr(getattr(self, name)) for name in self._FIELDS]
        return "Report(" + ", ".join(fields) + ")"


class StripResult:
    """Result of :func:`strip`. ``lossless`` is True: the image data is copied unchanged."""

    def __init__(self, data, removed, orientation, lossless=True):
        self.data = data
        self.removed = removed
        self.orientation = orientation
        self.lossless = lossless

    def __eq__(self, other):
        return isinstance(other, StripResult) and (
            self.data, self.removed, self.orientation, self.lossless) == (
            other.data, other.removed, other.orientation, other.lossless)

    def __repr__(self):
        return "StripResult(%d bytes, removed=%r, orientation=%r)" % (
            len(self.data), self.removed, self.orientation)


class _Acc:
    """What a parser learns of a file while it walks it."""

    def __init__(self, fmt):
        self.fmt = fmt
        self.found = set()
        self.orientation = None
        self.capture_date = None
        self.exif_seen = False
        self.icc = False
        self.date_dropped = False  # the capture date was to be kept but could not be written

    def report(self):
        return Report(
            format=self.fmt,
            found=[c for c in CATEGORIES if c in self.found],
            orientation=self.orientation,
            capture_date=self.capture_date,
            icc=self.icc,
        )

    def new_exif(self, keep_capture_date):
        """The minimal EXIF to write back, or None when nothing needs to be kept."""
        orientation = self.orientation if self.orientation not in (None, 1) else None
        date = self.capture_date if keep_capture_date else None
        if orientation is None and date is None:
            return None
        return build_exif(orientation, date)

    def removed(self, keep_capture_date):
        keep = keep_capture_date and self.capture_date and not self.date_dropped
        kept = ("datetime",) if keep else ()
        return [c for c in CATEGORIES if c in self.found and c not in kept]


def _valid_icc(profile):
    return (
        len(profile) >= 128
        and int.from_bytes(profile[:4], "big") == len(profile)
        and profile[36:40] == b"acsp"
    )


def _add_or_keep(plan, reader, data):
    """Add rebuilt bytes to a Plan, or keep the source's own where the plan stands when they
    are the same (a file stripped before is then sent as it is, one slice)."""
    last = plan.pieces[-1] if plan.pieces else None
    at = 0 if last is None else last[2] if last[0] == "range" else None
    if at is not None and reader.read(at, len(data)) == data:
        plan.keep(at, at + len(data))
    else:
        plan.add(data)
