"""PDF read by qpdf (through pikepdf): every object, object streams and encryption included.

qpdf parses the file as a PDF reader does (names with #xx escapes and NUL ends, object
streams whatever their filter or predictor, cross-reference repair, encryption with an empty
user password), so nothing here searches bytes. What a reader runs by itself, or can be made to
run, is refused:

- script and program actions anywhere: /JavaScript, /Launch, /SubmitForm, /ImportData,
  /RichMediaExecute, /Rendition, /Movie, /Sound, /GoToE, /GoToR; any /JS or /JavaScript key
  (a document-level script name tree included);
- rich media, 3D, movie and sound annotations (players with scripting of their own);
- an /OpenAction or an /AA (additional, automatic) action that is not a plain /GoTo, through
  its /Next chain;
- XFA forms that carry a script or an execute element;
- embedded files that the chat itself would refuse, or that are active documents in turn
  (checked by the caller's own checks, to a bounded depth).

Link annotations that open a URI when clicked stay allowed. Runs under CPython only.
"""

from __future__ import annotations

import io
import re
import time
import zlib
from collections.abc import Callable, Iterator

import pikepdf

# Action types (/S) that run code, send data, open other files or play media.
ACTIVE_ACTIONS = frozenset({
    "/JavaScript", "/Launch", "/SubmitForm", "/ImportData", "/RichMediaExecute", "/Rendition",
    "/Movie", "/Sound", "/GoToE", "/GoToR", "/GoTo3DView"})
# Keys that hold a script or a script name tree wherever they stand.
SCRIPT_KEYS = frozenset({"/JS", "/JavaScript"})
# Annotation subtypes whose players run content of their own.
ACTIVE_ANNOTATIONS = frozenset({"/RichMedia", "/3D", "/Movie", "/Sound"})
# An embedded file or an XFA packet is decoded up to this size (a compressed bomb is refused).
MAX_DECODED_BYTES = 16 * 1024 * 1024
# Streams in filters other than Flate are decoded only when this small (LZW and RunLength
# expand without a bound we can check before decoding).
MAX_OTHER_FILTER_RAW = 16 * 1024
# Direct objects nested deeper than this inside one object are not walked further: qpdf's
# own parser stops at 500; a document never needs more than a few levels.
MAX_NESTING = 100
_XFA_ACTIVE = re.compile(rb"<\s*(?:[A-Za-z0-9_.-]+:)?(?:script|execute)\b", re.IGNORECASE)


class PdfActive(ValueError):
    """The PDF carries something that runs; the text says what."""


class PdfUnreadable(ValueError):
    """qpdf cannot open the PDF (damaged, or it needs a password), or it cannot be checked in
    time."""


Nested = Callable[[bytes, str], None]


def inspect_pdf(data: bytes, nested: Nested, deadline: float) -> None:
    """Raise PdfActive or PdfUnreadable, or return when the PDF runs nothing by itself.

    `nested(bytes, name)` checks an embedded file with the server's own checks (it raises
    for one the chat would refuse); `deadline` is a time.monotonic() past which the walk stops
    and the PDF is refused as unreadable."""
    try:
        pdf = pikepdf.open(io.BytesIO(data), password="")
    except pikepdf.PasswordError:
        raise PdfUnreadable("The PDF is protected by a password; it cannot be checked.") from None
    except Exception:  # pikepdf.PdfError and qpdf's other refusals
        raise PdfUnreadable() from None
    with pdf:
        try:
            _walk(pdf, nested, deadline)
        except (PdfActive, PdfUnreadable):
            raise
        except Exception as exc:  # qpdf failed to resolve an object or decode a stream
            if _is_refusal(exc):
                raise
            raise PdfUnreadable() from None


def _is_refusal(exc: Exception) -> bool:
    # The nested check raises the server's own refusals (ApiError): let them through.
    from server.errors import ApiError

    return isinstance(exc, ApiError)


def _walk(pdf: pikepdf.Pdf, nested: Nested, deadline: float) -> None:
    embedded: list[tuple[pikepdf.Stream, str]] = []
    root = pdf.Root
    _check_automatic(root.get("/OpenAction"), "/OpenAction")
    for i, obj in enumerate(pdf.objects):
        if i % 500 == 0 and time.monotonic() > deadline:
            raise PdfUnreadable("The PDF has too many objects to check in time.")
        for d in _dictionaries(obj):
            _check_dictionary(d, embedded)
    acroform = root.get("/AcroForm")
    if isinstance(acroform, pikepdf.Dictionary) and "/XFA" in acroform:
        _check_xfa(acroform["/XFA"])
    named = {stream.objgen: name for stream, name in embedded if name != "embedded"}
    checked: set[tuple[int, int]] = set()
    for stream, name in embedded:
        if stream.objgen in checked:
            continue
        checked.add(stream.objgen)
        name = named.get(stream.objgen, name)
        if time.monotonic() > deadline:
            raise PdfUnreadable("The PDF has too many embedded files to check in time.")
        nested(_bounded_bytes(stream), name)


def _dictionaries(obj: object, depth: int = 0) -> Iterator[pikepdf.Dictionary | pikepdf.Stream]:
    """`obj` and every dictionary nested directly inside it (indirect references are walked as
    objects of their own)."""
    if depth > MAX_NESTING:
        return
    if isinstance(obj, (pikepdf.Dictionary, pikepdf.Stream)):
        yield obj
        values = list(obj.values())
    elif isinstance(obj, pikepdf.Array):
        values = list(obj)
    else:
        return
    for value in values:
        if isinstance(value, (pikepdf.Dictionary, pikepdf.Array)) and not value.is_indirect:
            yield from _dictionaries(value, depth + 1)


def _check_dictionary(d: pikepdf.Dictionary | pikepdf.Stream,
                      embedded: list[tuple[pikepdf.Stream, str]]) -> None:
    keys = set(d.keys())
    script = keys & SCRIPT_KEYS
    if script:
        raise PdfActive(f"a script ({sorted(script)[0]})")
    action = d.get("/S")
    if isinstance(action, pikepdf.Name) and str(action) in ACTIVE_ACTIONS:
        raise PdfActive(f"a {str(action)[1:]} action")
    subtype = d.get("/Subtype")
    if isinstance(subtype, pikepdf.Name) and str(subtype) in ACTIVE_ANNOTATIONS and (
            d.get("/Type") in (None, pikepdf.Name.Annot)):
        raise PdfActive(f"a {str(subtype)[1:]} annotation")
    if "/RichMediaContent" in keys or "/RichMediaSettings" in keys:
        raise PdfActive("rich media")
    if "/AA" in keys:
        aa = d["/AA"]
        if isinstance(aa, pikepdf.Dictionary):
            for trigger, act in aa.items():
                _check_automatic(act, f"/AA {trigger}")
        else:
            raise PdfActive("automatic actions (/AA) that cannot be read")
    if "/OpenAction" in keys:
        _check_automatic(d["/OpenAction"], "/OpenAction")
    if isinstance(d, pikepdf.Stream) and d.get("/Type") == pikepdf.Name.EmbeddedFile:
        embedded.append((d, "embedded"))
    ef = d.get("/EF")
    if isinstance(ef, pikepdf.Dictionary):
        name = str(d.get("/UF", d.get("/F", "embedded")))
        for value in ef.values():
            if isinstance(value, pikepdf.Stream):
                embedded.append((value, name))


def _check_automatic(action: object, where: str) -> None:
    """An action a reader runs without a click: only /GoTo, and so is every /Next after it.
    A destination (an array or a name) is no action."""
    seen = 0
    while action is not None:
        seen += 1
        if seen > 50:
            raise PdfActive(f"an endless {where} chain")
        if isinstance(action, (pikepdf.Array, pikepdf.Name, pikepdf.String)):
            return
        if not isinstance(action, pikepdf.Dictionary):
            raise PdfActive(f"an {where} that cannot be read")
        kind = action.get("/S")
        if kind != pikepdf.Name.GoTo:
            raise PdfActive(f"an automatic {where} action ({kind})")
        following = action.get("/Next")
        if isinstance(following, pikepdf.Array):
            for item in following:
                _check_automatic(item, where)
            return
        action = following


def _check_xfa(xfa: object) -> None:
    packets: list[pikepdf.Stream] = []
    if isinstance(xfa, pikepdf.Stream):
        packets.append(xfa)
    elif isinstance(xfa, pikepdf.Array):
        packets.extend(x for x in xfa if isinstance(x, pikepdf.Stream))
    for packet in packets:
        if _XFA_ACTIVE.search(_bounded_bytes(packet)):
            raise PdfActive("an XFA form with scripts")


def _filters(stream: pikepdf.Stream) -> list[str]:
    f = stream.get("/Filter")
    if f is None:
        return []
    if isinstance(f, pikepdf.Array):
        return [str(x) for x in f]
    return [str(f)]


def _bounded_bytes(stream: pikepdf.Stream) -> bytes:
    """The stream decoded, refused past MAX_DECODED_BYTES before it is all inflated."""
    filters = _filters(stream)
    too_large = PdfUnreadable("An embedded file or form in the PDF is too large to check.")
    if not filters:
        raw = stream.read_raw_bytes()
        if len(raw) > MAX_DECODED_BYTES:
            raise too_large
        return raw
    if filters[0] in ("/FlateDecode", "/Fl"):
        inflater = zlib.decompressobj()
        try:
            inflated = inflater.decompress(stream.read_raw_bytes(), MAX_DECODED_BYTES + 1)
        except zlib.error:
            raise PdfUnreadable() from None
        if len(inflated) > MAX_DECODED_BYTES:
            raise too_large
        if len(filters) == 1 and "/DecodeParms" not in stream:
            return inflated
    elif len(stream.read_raw_bytes()) > MAX_OTHER_FILTER_RAW:
        raise too_large
    decoded = stream.read_bytes()
    if len(decoded) > MAX_DECODED_BYTES:
        raise too_large
    return decoded
