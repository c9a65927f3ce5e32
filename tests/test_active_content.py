"""Active content: macros, scripts, launch actions and embedded objects are
refused as `active_content` by the sniffer (browser worker and server alike) and by the
server's finalisation; plain documents of each kind still pass. Every file is made here."""

from __future__ import annotations

import io
import os
import zipfile
import zlib
from typing import Any

import pytest
from PIL import Image

from bifoga.media import refusals
from bifoga.media.sniff import classify
from tests.hostile.ole import Tree, compound_file
from tests.live_server import pdf_file
from tests.test_sniff import assert_source_agrees

ACTIVE = refusals.ACTIVE_CONTENT
DOC = "application/msword"
ODT = "application/vnd.oasis.opendocument.text"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

# --- legacy Office: a compound file with storages ------------------------------------------

WORD: Tree = [("\x01CompObj", b""), ("WordDocument", b""), ("1Table", b""),
              ("\x05SummaryInformation", b"")]
VBA: Tree = [("VBA", [("dir", b""), ("_VBA_PROJECT", b""), ("ThisDocument", b"")]),
             ("PROJECT", b""), ("PROJECTwm", b"")]

# --- ZIP packages ------------------------------------------------------------------------


def zip_of(members: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, (name, data) in enumerate(members):
            zf.writestr(name, data, compress_type=zipfile.ZIP_STORED if i == 0 else None)
    return out.getvalue()


ODF_CONTENT = (b'<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:'
               b'xmlns:office:1.0" office:version="1.3"/>')
ODF_MANIFEST = (b'<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:'
                b'manifest:1.0" manifest:version="1.3"/>')


def odf(*extra: tuple[str, bytes], mime: str = ODT) -> bytes:
    return zip_of([("mimetype", mime.encode()), ("content.xml", ODF_CONTENT),
                   ("META-INF/manifest.xml", ODF_MANIFEST), *extra])


def docx(*extra: tuple[str, bytes]) -> bytes:
    types = ('<?xml version="1.0"?><Types><Override PartName="/word/document.xml" '
             f'ContentType="{DOCX}.main+xml"/></Types>').encode()
    return zip_of([("[Content_Types].xml", types), ("_rels/.rels", b"<Relationships/>"),
                   ("word/document.xml", b"<w:document/>"), *extra])


# --- PDF ---------------------------------------------------------------------------------


def pdf(*objects: bytes) -> bytes:
    """A small PDF: a catalog, one page, and `objects` (numbered from 4) before the xref."""
    return pdf_file([b"<< /Type /Catalog /Pages 2 0 R >>",
                     b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                     b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>", *objects],
                    head=b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")


def stream(dictionary: bytes, data: bytes) -> bytes:
    return b"<< %s /Length %d >>\nstream\n" % (dictionary, len(data)) + data + b"\nendstream"


def object_stream(*dicts: bytes, flate: bool = True, filter_name: bytes = b"") -> bytes:
    """/Type /ObjStm holding `dicts` as objects 100, 101, ... (compressed when `flate`)."""
    offsets, body = [], b""
    for d in dicts:
        offsets.append(len(body))
        body += d + b" "
    header = b" ".join(b"%d %d" % (100 + i, o) for i, o in enumerate(offsets)) + b" "
    data = header + body
    names = b"/Type /ObjStm /N %d /First %d" % (len(dicts), len(header))
    if filter_name:
        return stream(names + b" /Filter /" + filter_name, data.hex().encode() + b">")
    if flate:
        return stream(names + b" /Filter /FlateDecode", zlib.compress(data))
    return stream(names, data)


def real_pdf() -> bytes:
    """A PDF as Pillow writes it (a picture inside), for a plain case not made by hand."""
    out = io.BytesIO()
    Image.frombytes("RGB", (64, 64), os.urandom(64 * 64 * 3)).save(out, "PDF")
    return out.getvalue()


JS_ACTION = b"<< /Type /Action /S /JavaScript /JS (app.alert\\(1\\)) >>"
# A 2 MB random stream that holds "/JS " and "/JS(": in compressed pictures those bytes turn
# up by chance, and must not be taken for a script.
NOISE = os.urandom(1_000_000) + b"/JS /JS(" + os.urandom(1_000_000)

CASES: dict[str, tuple[bytes, str, str]] = {
    # name: (data, file name, expected mime or refusal)
    "doc plain": (compound_file(WORD), "brev.doc", DOC),
    "doc with Macros/VBA": (compound_file([*WORD, ("Macros", VBA)]), "brev.doc", ACTIVE),
    "doc with a VBA storage at the root": (compound_file([*WORD, *VBA]), "brev.doc", ACTIVE),
    "xls with _VBA_PROJECT_CUR": (
        compound_file([("Workbook", b""), ("_VBA_PROJECT_CUR", VBA)]), "ark.xls", ACTIVE),
    "odt plain": (odf(), "brev.odt", ODT),
    "odt with Basic/Standard/Module1.xml": (
        odf(("Basic/script-lc.xml", b"<library:libraries/>"),
            ("Basic/Standard/script-lb.xml", b"<library:library/>"),
            ("Basic/Standard/Module1.xml", b"<script:module>Sub Main\nShell(1)\nEnd Sub"
                                           b"</script:module>")), "brev.odt", ACTIVE),
    "odt with Scripts/python": (odf(("Scripts/python/run.py", b"import os")), "brev.odt",
                                ACTIVE),
    "ods with Basic": (odf(("Basic/Standard/Module1.xml", b"<x/>"),
                           mime="application/vnd.oasis.opendocument.spreadsheet"), "a.ods",
                       ACTIVE),
    "docx plain": (docx(), "brev.docx", DOCX),
    "docx with vbaProject.bin": (docx(("word/vbaProject.bin", b"\x00" * 8)), "brev.docx",
                                 ACTIVE),
    "docx with an ActiveX control": (docx(("word/activeX/activeX1.bin", b"\x00" * 8)),
                                     "brev.docx", ACTIVE),
    "rtf plain": (b"{\\rtf1\\ansi\\deff0 {\\fonttbl {\\f0 Arial;}} Hej \\b fet\\b0 text.\\par}",
                  "brev.rtf", "application/rtf"),
    "rtf with \\objdata": (b"{\\rtf1\\ansi {\\object\\objemb{\\*\\objclass Package}"
                          b"{\\*\\objdata 01050000020000000b000000}}}", "brev.rtf", ACTIVE),
    "rtf with \\object only": (b"{\\rtf1 {\\object\\objlink\\objw10\\objh10}}", "brev.rtf",
                               ACTIVE),
    "rtf with upper-case \\OBJDATA": (b"{\\rtf1 {\\*\\OBJDATA 0105}}", "brev.rtf", ACTIVE),
    "pdf plain (hand-made)": (pdf(), "a.pdf", "application/pdf"),
    "pdf plain (Pillow)": (real_pdf(), "a.pdf", "application/pdf"),
    "pdf plain with /JS bytes in a stream": (pdf(stream(b"/Type /XObject", NOISE)), "a.pdf",
                                             "application/pdf"),
    "pdf plain with a compressed object stream": (
        pdf(object_stream(b"<< /Type /Annot /Subtype /Text >>", b"<< /Producer (x) >>")),
        "a.pdf", "application/pdf"),
    "pdf /OpenAction JavaScript": (pdf(JS_ACTION), "a.pdf", ACTIVE),
    "pdf /JS without /S": (pdf(b"<< /JS (app.alert\\(1\\)) >>"), "a.pdf", ACTIVE),
    "pdf /Launch": (pdf(b"<< /S /Launch /F (cmd.exe) >>"), "a.pdf", ACTIVE),
    "pdf hex-escaped /J#61vaScript": (pdf(b"<< /S /J#61vaScript /J#53 (x) >>"), "a.pdf",
                                      ACTIVE),
    "pdf JavaScript name tree": (pdf(b"<< /Names << /JavaScript 5 0 R >> >>"), "a.pdf",
                                 ACTIVE),
    "pdf JS in a compressed object stream": (pdf(object_stream(JS_ACTION)), "a.pdf", ACTIVE),
    "pdf Launch in an uncompressed object stream": (
        pdf(object_stream(b"<< /S /Launch /F (x.exe) >>", flate=False)), "a.pdf", ACTIVE),
    "pdf object stream in ASCIIHexDecode": (
        pdf(object_stream(b"<< /Producer (x) >>", filter_name=b"ASCIIHexDecode")), "a.pdf",
        ACTIVE),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_sniffer(case: str) -> None:
    data, name, expected = CASES[case]
    verdict = classify(data, name)
    assert_source_agrees(data, name, verdict)
    if expected == ACTIVE:
        assert (verdict.ok, verdict.reason) == (False, ACTIVE)
    else:
        assert (verdict.ok, verdict.mime) == (True, expected), verdict


def test_object_stream_inflating_past_the_budget_is_refused() -> None:
    bomb = zlib.compress(b" " * (40 * 1024 * 1024), 9)  # 40 KB that inflate to 40 MB
    data = pdf(stream(b"/Type /ObjStm /N 1 /First 4 /Filter /FlateDecode", bomb))
    assert classify(data, "a.pdf").reason == ACTIVE


@pytest.mark.parametrize("body", [
    b"#" + b"/a" * 5_000_000,  # 5 million names, one "#" to force the slow path
    b"/J#53x" * 1_500_000,  # near misses of an escaped /JS
    b"stream\nendstream" * 600_000,  # 600,000 empty streams
    b"<</Type/ObjStm/Filter/FlateDecode>>stream\n" + zlib.compress(b"/a" * 5_000_000)
    + b"endstream",
])
def test_hostile_pdfs_are_scanned_in_linear_time(body: bytes) -> None:
    import time

    t0 = time.monotonic()
    verdict = classify(b"%PDF-1.4\n" + body, "a.pdf")
    assert time.monotonic() - t0 < 20  # a generous bound: about 0.1-1 s (a naive scan: 70 s)
    t0 = time.monotonic()
    assert_source_agrees(b"%PDF-1.4\n" + body, "a.pdf", verdict)  # chunk by chunk
    assert time.monotonic() - t0 < 20


@pytest.mark.parametrize("case", sorted(CASES))
def test_server_finalisation(case: str, send_attachment: Any, visit: Any) -> None:
    data, name, expected = CASES[case]
    r = send_attachment(visit, data, name)
    if expected == ACTIVE:
        assert (r.status_code, r.json()["error"]) == (415, "active_content")
        assert "PDF" in r.json()["message"]  # what to do instead
    else:
        assert r.status_code == 201, r.text
        assert r.json()["attachment"]["mime"] == expected
