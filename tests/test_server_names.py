"""Display-name sanitiser and Content-Disposition (server/names.py)."""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bifoga.media.limits import ALLOWED_EXTENSIONS, ALLOWED_MIME_TYPES
from server.names import (
    FALLBACK_NAME,
    MAX_NAME_CHARS,
    TYPE_EXTENSIONS,
    ascii_fallback,
    clean_message_text,
    clean_person_name,
    content_disposition,
    name_for_type,
    sanitize_display_name,
)

BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Remiss åäö.pdf", "Remiss åäö.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\fakepath\\Röntgen.jpg", "Röntgen.jpg"),
        ("dir/sub\\file.txt", "file.txt"),
        ("..", FALLBACK_NAME),
        ("...", FALLBACK_NAME),
        (".bashrc", "bashrc"),
        ("a\x00b.pdf", "ab.pdf"),
        ("a\x07\x1b[31mb.pdf", "a[31mb.pdf"),
        ("  many \t\n spaces  .pdf", "many spaces .pdf"),
        ("photo\u202egpj.exe", "photogpj.exe"),
        ("x\u2066y\u2069\u200e\u200f.png", "xy.png"),
        ("", FALLBACK_NAME),
        ("   ", FALLBACK_NAME),
        ("/", FALLBACK_NAME),
        ("folder/", "folder"),
        ("trailing dot.", "trailing dot"),
        ("Ölands läkarintyg.docx", "Ölands läkarintyg.docx"),
        ("Ä\u0308.txt", "Ä\u0308.txt"),
        ("e\u0301.pdf", "\u00e9.pdf"),  # NFC
        ("日本語のファイル.pdf", "日本語のファイル.pdf"),
    ],
)
def test_sanitize_examples(raw: str, expected: str) -> None:
    assert sanitize_display_name(raw) == expected


def test_sanitize_caps_at_200_keeping_extension() -> None:
    name = sanitize_display_name("å" * 1000 + ".pdf")
    assert len(name) == MAX_NAME_CHARS
    assert name.endswith(".pdf")
    assert name.startswith("å")


def test_sanitize_caps_without_extension() -> None:
    assert sanitize_display_name("x" * 1000) == "x" * MAX_NAME_CHARS
    # An "extension" of 300 characters is not kept whole.
    assert len(sanitize_display_name("a." + "b" * 300)) == MAX_NAME_CHARS


@given(st.text(max_size=400))
def test_sanitize_properties(raw: str) -> None:
    name = sanitize_display_name(raw)
    assert 1 <= len(name) <= MAX_NAME_CHARS
    assert "/" not in name and "\\" not in name
    assert not name.startswith(".")
    assert name == name.strip()
    assert not any(unicodedata.category(ch) in ("Cc", "Cs") for ch in name)
    assert not any(ch in BIDI for ch in name)
    assert unicodedata.is_normalized("NFC", name)
    assert "  " not in name
    assert name.encode("utf-8")  # always encodable (no lone surrogates)
    assert sanitize_display_name(name) == name  # idempotent


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_content_disposition_roundtrips(raw: str) -> None:
    name = sanitize_display_name(raw)
    header = content_disposition(name)
    assert header.isascii()
    assert header.startswith('attachment; filename="')
    fallback = header.split('filename="', 1)[1].split('"', 1)[0]
    assert fallback == ascii_fallback(name)
    assert '"' not in fallback and "\\" not in fallback and fallback
    assert unquote(header.split("filename*=UTF-8''", 1)[1]) == name
    # No characters outside RFC 5987 attr-char (plus %) in the extended value.
    ext = header.split("filename*=UTF-8''", 1)[1]
    assert all(ch.isalnum() or ch in "!#$&+-.^_`|~%" for ch in ext)


def test_content_disposition_swedish() -> None:
    assert content_disposition("Remiss åäö.pdf") == (
        "attachment; filename=\"Remiss aao.pdf\"; filename*=UTF-8''Remiss%20%C3%A5%C3%A4%C3%B6.pdf"
    )
    assert content_disposition("bild.jpg", "inline").startswith("inline; ")
    with pytest.raises(ValueError):
        content_disposition("x", "form-data")


@pytest.mark.parametrize(
    ("name", "fallback"),
    [("Справка.pdf", "fil.pdf"), ("日本", "fil"), ('a"b\\c;d.txt', "a_b_c_d.txt"),
     ("Ørsted Æble.png", "Orsted AEble.png"), ("...", "fil"), ("x.___", "x")],
)
def test_ascii_fallback(name: str, fallback: str) -> None:
    assert ascii_fallback(name) == fallback


def test_person_and_message_cleaning() -> None:
    assert clean_person_name("  Dr\u202e Sara\n\tLind ") == "Dr Sara Lind"
    assert clean_message_text(" hej\r\nhopp\x00\x07 \t") == "hej\nhopp"
    shalom = "\u05e9\u05dc\u05d5\u05dd \u200f!"  # bidi marks belong in RTL chat text
    assert clean_message_text(shalom) == shalom


# --- the extension of the sniffed type (server.names.name_for_type, applied at finalisation) --

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.mark.parametrize(
    ("name", "mime", "expected"),
    [
        # A PDF whose name (bidi override already removed) ends in .exe stays no .exe.
        ("rapportfdp.exe", PDF, "rapportfdp.exe.pdf"),
        ("Remiss åäö.pdf", PDF, "Remiss åäö.pdf"),
        ("REMISS.PDF", PDF, "REMISS.PDF"),
        ("scan", PDF, "scan.pdf"),  # no extension
        ("report v1.2", PDF, "report v1.2.pdf"),  # "2" after a dot is no PDF extension
        (FALLBACK_NAME, PDF, "fil.pdf"),
        ("IMG_0001.JPG", "image/jpeg", "IMG_0001.JPG"),  # upper case stays as it is
        ("bild.jpg", "image/jpeg", "bild.jpg"),
        ("bild.jpeg", "image/jpeg", "bild.jpeg"),  # both JPEG spellings are JPEG
        ("bild.JPEG", "image/jpeg", "bild.JPEG"),
        ("bild.jpg", "image/png", "bild.jpg.png"),
        ("skärmbild.png", "image/jpeg", "skärmbild.png.jpg"),
        ("IMG_0002.HEIC", "image/heic", "IMG_0002.HEIC"),
        ("film.MOV", "video/quicktime", "film.MOV"),
        ("film.mp4", "video/quicktime", "film.mp4.mov"),
        ("film", "video/mp4", "film.mp4"),
        ("Intyg.docx", DOCX, "Intyg.docx"),
        ("Intyg.doc", DOCX, "Intyg.doc.docx"),
        ("Intyg.pdf", DOCX, "Intyg.pdf.docx"),
        ("anteckning", "text/plain", "anteckning.txt"),
        ("anteckning.TXT", "text/plain", "anteckning.TXT"),
        ("värden.csv", "text/plain", "värden.csv.txt"),
        ("x.pdf", "application/x-unknown", "x.pdf"),  # no known extension: unchanged
    ],
)
def test_name_for_type(name: str, mime: str, expected: str) -> None:
    assert name_for_type(name, mime) == expected
    assert name_for_type(expected, mime) == expected  # once is enough
    assert sanitize_display_name(expected) == expected  # still a clean display name


def test_name_for_type_keeps_the_length_limit() -> None:
    name = sanitize_display_name("å" * 1000 + ".exe")
    assert len(name) == MAX_NAME_CHARS
    fixed = name_for_type(name, PDF)
    assert len(fixed) == MAX_NAME_CHARS and fixed.endswith("å.pdf")
    assert name_for_type("x" * (MAX_NAME_CHARS - 4) + ". .", PDF) == "x" * 196 + ".pdf"


def test_every_allowed_type_has_its_extensions() -> None:
    assert set(TYPE_EXTENSIONS) == set(ALLOWED_MIME_TYPES)
    offered = {ext for exts in TYPE_EXTENSIONS.values() for ext in exts}
    assert set(ALLOWED_EXTENSIONS) <= offered  # every extension the file picker offers
    for exts in TYPE_EXTENSIONS.values():
        assert all(e.startswith(".") and e == e.lower() for e in exts)
