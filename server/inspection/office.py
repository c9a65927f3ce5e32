"""Office (OLE and OOXML), RTF and OpenDocument read by oletools and a real reading of the package.

- OLE (.doc, .xls, .ppt): olevba (VBA and Excel 4.0 XLM macro sheets), msodde (DDE fields and
  links), the embedded objects (oleobj's OLE 1.0 native packages, linked objects).
- OOXML: [Content_Types].xml parsed as XML (a macro-enabled, VBA, ActiveX or macro-sheet type
  is refused whatever the file is called); every relationships part parsed (an external
  target is allowed for a hyperlink only: remote templates, OLE links such as mhtml:, frames
  and sub-documents are refused); olevba over every part (a VBA project under any name);
  msodde; nested packages and OLE objects followed, to a bounded depth.
- ODF: manifest and every XML part parsed: script and Basic parts, event listeners, macro
  links (vnd.sun.star.script:, macro:) and DDE links refused; nested objects followed.
- RTF: rtfobj (OLE objects, however obfuscated), msodde's field parser (DDE and DDEAUTO),
  oletools' RTF tokenizer for a \\*\\template destination (a remote template).

XML is parsed without DTDs, entities or network (a DOCTYPE is refused: no Office or ODF part
has one). Runs under CPython only.
"""

from __future__ import annotations

import io
import logging
import os
import re
import tempfile
import time
import warnings
import zipfile
from collections.abc import Callable

import olefile
from lxml import etree

with warnings.catch_warnings():
    # olevba builds its VBA expression grammar with pyparsing's older names at import.
    warnings.simplefilter("ignore", DeprecationWarning)
    from oletools import crypto, msodde, oleobj, olevba, rtfobj

# oletools logs every odd file at ERROR; the refusal says what matters.
for _name in ("olevba", "msodde", "oleobj", "rtfobj", "crypto", "ooxml", "xls_parser",
              "record_base", "ppt_record_parser"):
    logging.getLogger(_name).setLevel(logging.CRITICAL + 1)

OLE_MAGIC = olefile.MAGIC
ZIP_MAGIC = b"PK\x03\x04"
RTF_MAGIC = b"{\\rt"
# Content types of parts that hold code, wherever they stand in [Content_Types].xml.
_ACTIVE_TYPE = re.compile(r"macroenabled|vbaproject|vbadata|activex|macrosheet|"
                          r"ms-excel\.intlmacrosheet|ms-office\.vba", re.IGNORECASE)
_RELATIONSHIP_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
# ODF attribute values that call a macro or a script.
_ODF_MACRO = re.compile(r"^\s*(?:vnd\.sun\.star\.script:|macro:|vnd\.sun\.star\.basic:)",
                        re.IGNORECASE)
_ODF_DDE_ELEMENTS = frozenset({"dde-connection-decl", "dde-source", "dde-link",
                               "dde-connection"})
# What the whole package may inflate to while it is read (a zip bomb is refused).
MAX_PACKAGE_BYTES = 64 * 1024 * 1024

Nested = Callable[[bytes, str], None]


class OfficeActive(ValueError):
    """The document carries something that runs or fetches; the text says what."""


class OfficeUnreadable(ValueError):
    """The parsers cannot read the document (damaged, encrypted, too large to unpack)."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           huge_tree=False, dtd_validation=False)


def parse_xml(raw: bytes, part: str) -> etree._Element:
    try:
        root = etree.fromstring(raw, _parser())
    except etree.XMLSyntaxError:
        raise OfficeUnreadable(f"The part {part} is not well-formed XML.") from None
    if root.getroottree().docinfo.doctype:
        raise OfficeUnreadable(f"The part {part} declares a DTD.")
    return root


def inspect_office(data: bytes, nested: Nested, nested_ole: Callable[[bytes, str], None],
                   deadline: float) -> None:
    """Raise OfficeActive or OfficeUnreadable, or return. `nested(bytes, name)` checks an
    embedded file with the server's checks (one depth further); `nested_ole` an embedded OLE
    object."""
    if data.startswith(OLE_MAGIC):
        inspect_ole(data, nested)
    elif data.startswith(ZIP_MAGIC):
        _inspect_package(data, nested, nested_ole, deadline)
    elif data.lstrip()[:4].startswith(RTF_MAGIC):
        inspect_rtf(data)
    else:
        raise OfficeUnreadable()


# --------------------------------------------------------------------------- macros and DDE


def _macros(data: bytes, name: str) -> None:
    try:
        parser = olevba.VBA_Parser(name, data=data)
    except Exception:  # olevba refuses what it cannot open as any Office format
        raise OfficeUnreadable() from None
    try:
        if parser.detect_vba_macros():
            raise OfficeActive("VBA macros")
        if parser.detect_xlm_macros():
            raise OfficeActive("Excel 4.0 (XLM) macros")
    except OfficeActive:
        raise
    except Exception:
        raise OfficeUnreadable() from None
    finally:
        parser.close()


def _xlm_sheets(data: bytes) -> None:
    """An Excel 4.0 macro sheet in a workbook stream, whatever the root's CLSID says (olevba
    looks only when the CLSID is Excel's; Excel opens the workbook either way)."""
    try:
        with olefile.OleFileIO(data) as ole:
            for stream in ("Workbook", "Book"):
                if ole.exists(stream):
                    biff = olevba.cBIFF(name=[stream], stream=ole.openstream(stream).read(),
                                        options="-o BOUNDSHEET")
                    if "macro sheet" in "\n".join(biff.Analyze()).lower():
                        raise OfficeActive("Excel 4.0 (XLM) macros")
    except OfficeActive:
        raise
    except Exception:
        raise OfficeUnreadable() from None


def _dde(data: bytes, suffix: str) -> None:
    fd, path = tempfile.mkstemp(suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            found = msodde.process_file(path, msodde.FIELD_FILTER_DDE)
        except Exception:
            raise OfficeUnreadable() from None
    finally:
        os.unlink(path)
    if found and found.strip():
        raise OfficeActive("a DDE field or link")


# --------------------------------------------------------------------------- OLE


def inspect_ole(data: bytes, nested: Nested) -> None:
    """A compound file: .doc, .xls, .ppt, or an OLE object embedded in another document."""
    try:
        ole = olefile.OleFileIO(data)
    except Exception:
        raise OfficeUnreadable() from None
    try:
        if crypto.is_encrypted(ole):
            raise OfficeUnreadable("The document is protected by a password; it cannot be "
                                   "checked.")
        payloads: list[tuple[bytes, str]] = []
        for path in ole.listdir(streams=True, storages=False):
            leaf = path[-1]
            if leaf == "\x01Ole10Native":
                native = oleobj.OleNativeStream(ole.openstream(path).read(), package=False)
                payloads.append((native.data or b"", str(native.filename or "embedded")))
            elif leaf == "\x01Ole":
                head = ole.openstream(path).read(8)
                if len(head) == 8 and int.from_bytes(head[4:8], "little") & 1:
                    raise OfficeActive("a linked OLE object")
    except (OfficeActive, OfficeUnreadable):
        raise
    except Exception:
        raise OfficeUnreadable() from None
    finally:
        ole.close()
    _macros(data, "document.bin")
    _xlm_sheets(data)
    _dde(data, ".bin")
    for payload, name in payloads:
        nested(payload, name)


# --------------------------------------------------------------------------- packages


def _read_members(zf: zipfile.ZipFile, deadline: float) -> dict[str, bytes]:
    members: dict[str, bytes] = {}
    budget = MAX_PACKAGE_BYTES
    for info in zf.infolist():
        if time.monotonic() > deadline:
            raise OfficeUnreadable("The package has too many parts to check in time.")
        if info.is_dir():
            continue
        if info.flag_bits & 0x1:
            raise OfficeUnreadable("The package is encrypted; it cannot be checked.")
        with zf.open(info) as f:
            raw = f.read(budget + 1)
        budget -= len(raw)
        if budget < 0:
            raise OfficeUnreadable("The package unpacks to more than can be checked.")
        members[info.filename] = raw
    return members


def _inspect_package(data: bytes, nested: Nested, nested_ole: Callable[[bytes, str], None],
                     deadline: float) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            members = _read_members(zf, deadline)
    except (OfficeActive, OfficeUnreadable):
        raise
    except Exception:  # BadZipFile, zlib.error, NotImplementedError (compression method)
        raise OfficeUnreadable() from None
    names = {n.lower().lstrip("/"): n for n in members}
    if "[content_types].xml" in names:
        _inspect_ooxml(data, members, names)
    elif "meta-inf/manifest.xml" in names or "mimetype" in names:
        _inspect_odf(members)
    else:
        raise OfficeUnreadable()
    for name, raw in members.items():
        if raw.startswith(OLE_MAGIC):
            nested_ole(raw, name)
        elif raw.startswith((ZIP_MAGIC, b"%PDF", RTF_MAGIC)) or name.lower().endswith(
                (".docm", ".xlsm", ".pptm", ".dotm", ".xlsb", ".exe", ".js", ".hta")):
            nested(raw, name.rsplit("/", 1)[-1])


def _inspect_ooxml(data: bytes, members: dict[str, bytes], names: dict[str, str]) -> None:
    types = parse_xml(members[names["[content_types].xml"]], "[Content_Types].xml")
    for element in types.iter():
        content_type = element.get("ContentType") if isinstance(element.tag, str) else None
        if content_type and _ACTIVE_TYPE.search(content_type):
            raise OfficeActive(f"a part of type {content_type}")
    for name, raw in members.items():
        if name.lower().endswith(".rels"):
            _check_relationships(parse_xml(raw, name), name)
    _macros(data, "document.zip")
    _dde(data, ".docx")


def _check_relationships(root: etree._Element, part: str) -> None:
    for rel in root.iter(f"{{{_RELATIONSHIP_NS}}}Relationship", "Relationship"):
        kind = (rel.get("Type") or "").rsplit("/", 1)[-1]
        target = rel.get("Target") or ""
        external = (rel.get("TargetMode") or "").lower() == "external" or bool(
            _SCHEME.match(target.strip()))
        if external and kind != "hyperlink":
            raise OfficeActive(f"an external {kind or 'relationship'} ({target[:80]})")


def _inspect_odf(members: dict[str, bytes]) -> None:
    for name, raw in members.items():
        lower = name.lower()
        if lower.startswith(("basic/", "scripts/")):
            raise OfficeActive("macros or scripts")
        if not lower.endswith(".xml") and lower not in ("meta-inf/manifest.xml",):
            continue
        root = parse_xml(raw, name)
        for element in root.iter():
            if not isinstance(element.tag, str):
                continue
            local = etree.QName(element).localname
            if local in _ODF_DDE_ELEMENTS:
                raise OfficeActive("a DDE link")
            if local == "event-listener":
                # A script event (any language) or a presentation action that starts a
                # program; slide navigation (previous-page...) is no code.
                attributes = {etree.QName(k).localname: v for k, v in element.attrib.items()}
                if "language" in attributes or attributes.get("action") == "execute":
                    raise OfficeActive("an event listener that runs a macro or a program")
            if local == "script" and (element.text or "").strip() or (
                    local == "file-entry" and "script" in (element.get(
                        "{urn:oasis:names:tc:opendocument:xmlns:manifest:1.0}media-type")
                        or "").lower()):
                raise OfficeActive("a script")
            for value in element.attrib.values():
                if _ODF_MACRO.match(value):
                    raise OfficeActive("a macro link")


# --------------------------------------------------------------------------- RTF


class _Destinations(rtfobj.RtfParser):
    """Records every destination control word the way Word's own tokenizer would see it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.seen: set[bytes] = set()

    def open_destination(self, destination: rtfobj.Destination) -> None:
        if destination.cword:
            self.seen.add(bytes(destination.cword).lower())


def inspect_rtf(data: bytes) -> None:
    try:
        objects = rtfobj.RtfObjParser(data)
        objects.parse()
        destinations = _Destinations(data)
        destinations.parse()
        fields = msodde.RtfFieldParser(data)
        fields.parse()
    except Exception:
        raise OfficeUnreadable() from None
    if objects.objects:
        raise OfficeActive("an embedded OLE object")
    if b"template" in destinations.seen:
        raise OfficeActive("a remote template (\\template)")
    for field in fields.fields:
        if msodde.FIELD_DDE_REGEX.match(field.decode("latin-1")):
            raise OfficeActive("a DDE field")
