"""bifoga/media/sniff_head.py: the sniffer's first-bytes stage, alone on the main thread
(MicroPython).

Every sample of tests/test_sniff.py is also checked against the whole file's verdict there
(`assert_head_agrees` in `expect` and in the fuzz tests); this module checks the answers
themselves, files longer than the head, the equivalence with the filetype library the stage
replaced, and that MicroPython gives the very same answers as CPython.
"""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bifoga.media import sniff, sniff_head
from bifoga.media.limits import ALLOWED_MIME_TYPES
from bifoga.media.sniff import classify
from bifoga.media.sniff_head import HEAD_BYTES, LIKELY, REFUSE, UNDECIDED, first_look
from tests.live_server import pdf_file
from tests.micropython_runner import (
    REPO,
    assert_fits_micropython,
    micropython_available,
    repo_files,
    run_micropython,
)
from tests.test_sniff import (
    AUDIO_SIGNATURES,
    EBML_CASES,
    ISO_CASES,
    MAGICS,
    OFFICE_CASES,
    SEEDS,
    assert_head_agrees,
    pillow_image,
)

PDF = pdf_file([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"])
ACTIVE_PDF = pdf_file([b"<< /Type /Catalog /OpenAction 2 0 R >>",
                       b"<< /S /JavaScript /JS (app.alert(1)) >>"])
RTF = b"{\\rtf1\\ansi Hej}"


def _shadowed(data: bytes, offset: int, marker: bytes) -> bytes:
    out = bytearray(data.ljust(offset + len(marker) + 1, b" "))
    out[offset:offset + len(marker)] = marker
    return bytes(out)


def likely(mime: str) -> tuple:
    return (LIKELY, mime, "image" if mime.startswith("image/") else "document")


AUDIO = (REFUSE, "audio_not_allowed", None)
NOT_YET = (UNDECIDED, None, None)

# name: (whole file, first_look's answer)
HEADS = {
    "jpeg": (pillow_image("JPEG"), likely("image/jpeg")),
    "png": (pillow_image("PNG"), likely("image/png")),
    "gif": (pillow_image("GIF"), likely("image/gif")),
    "webp": (pillow_image("WEBP"), likely("image/webp")),
    "pdf": (PDF, likely("application/pdf")),
    "pdf_bom": (b"\xef\xbb\xbf" + PDF, likely("application/pdf")),
    "pdf_active": (ACTIVE_PDF, likely("application/pdf")),  # the whole file refuses it
    "rtf": (RTF, likely("application/rtf")),
    "mp3_id3": (AUDIO_SIGNATURES["id3_then_frames"], AUDIO),
    "mpeg_frames": (AUDIO_SIGNATURES["mp3_frames"], AUDIO),
    "adts": (AUDIO_SIGNATURES["adts"], AUDIO),
    "wav": (AUDIO_SIGNATURES["wav"], AUDIO),
    "aiff": (AUDIO_SIGNATURES["aiff"], AUDIO),
    "flac": (AUDIO_SIGNATURES["flac"], AUDIO),
    "midi": (AUDIO_SIGNATURES["midi"], AUDIO),
    "amr": (AUDIO_SIGNATURES["amr"], AUDIO),
    "amr_too_short": (b"#!AMR\nabcde", NOT_YET),  # filetype never called 11 bytes AMR
    "dsdiff": (b"FRM8" + b"\x00" * 8 + b"DSD " + b"\x00" * 16, AUDIO),
    "mp4_film_brand": (ISO_CASES["film_with_sound"][0], NOT_YET),
    "m4a": (ISO_CASES["m4a"][0], NOT_YET),
    "heic": (ISO_CASES["heic"][0], NOT_YET),
    "webm": (EBML_CASES["webm_film"][0], NOT_YET),
    "docx": (OFFICE_CASES["docx"][0], NOT_YET),
    "text": (b"Hej! Provsvar bifogas.\r\n", NOT_YET),
    "exe": (b"MZ\x90\x00" + b"\x00" * 60, NOT_YET),
    # filetype 1.2.0 took these for DICOM, tar and M4A before PDF/RTF, so they skipped the
    # active-content check: now a PDF is a PDF whatever it carries at 128 or 257.
    "pdf_dicm_at_128": (_shadowed(PDF, 128, b"DICM"), likely("application/pdf")),
    "pdf_ustar_at_257": (_shadowed(PDF, 257, b"ustar"), likely("application/pdf")),
    # "ftyp" at 4 starts like an ISO box: the container parser goes first, as in classify.
    "rtf_ftypm4a_at_4": (b"{\\rtftypM4A1 Hej}", NOT_YET),
    "empty": (b"", (REFUSE, "empty_file", None)),
}


@pytest.mark.parametrize("case", sorted(HEADS))
def test_first_look(case: str) -> None:
    data, expected = HEADS[case]
    assert first_look(data[:HEAD_BYTES], len(data)) == expected
    assert first_look(data[:HEAD_BYTES], len(data), "song.mp3") == expected  # name: moot
    assert_head_agrees(data, "", classify(data))


def test_answers_for_a_file_longer_than_its_head() -> None:
    photo = pillow_image("JPEG") + random.Random(3).randbytes(3 * HEAD_BYTES)
    assert first_look(photo[:HEAD_BYTES], 5_000_000) == likely("image/jpeg")
    active = PDF + b"\n" * HEAD_BYTES + ACTIVE_PDF  # what refuses it is past the head
    assert first_look(active[:HEAD_BYTES], len(active)) == likely("application/pdf")
    assert classify(active).reason == "active_content"


@pytest.mark.parametrize("head, size", [
    (b"", 10),  # nothing read yet
    (b"\xff\xd8\xff", 10),  # fewer bytes than the file has, under HEAD_BYTES
    (b"ID3\x04\x00\x00\x00\x00\x00\x0a" * 100, HEAD_BYTES + 1),
    (None, 5),  # not bytes at all
])
def test_a_cut_or_wrong_head_is_undecided(head, size: int) -> None:
    assert first_look(head, size) == NOT_YET


@pytest.mark.parametrize("size", [0, -1])
def test_nothing_to_send(size: int) -> None:
    assert first_look(b"", size) == (REFUSE, "empty_file", None)


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview])
def test_head_types(wrap: type) -> None:
    data = pillow_image("PNG")
    assert first_look(wrap(data), len(data)) == likely("image/png")


def test_every_container_prefix_has_its_parser() -> None:
    assert set(sniff._PARSERS) == set(sniff_head.CONTAINER_MAGICS)
    assert len({m[0] for m in sniff_head.CONTAINER_MAGICS}) == len(sniff_head.CONTAINER_MAGICS)


def test_likely_types_are_allowed_and_never_film_or_heif() -> None:
    mimes = {sniff_head.JPEG, sniff_head.PNG, sniff_head.GIF, sniff_head.WEBP, sniff_head.PDF,
             sniff_head.RTF}
    assert mimes <= set(ALLOWED_MIME_TYPES)
    assert {answer[1] for _, answer in HEADS.values() if answer[0] == LIKELY} == mimes


# --------------------------------------------------------------------------- longer files

TAILS = [b"", b"\n" * HEAD_BYTES + b"/JavaScript", b"\\object", bytes(HEAD_BYTES + 5)]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from([*MAGICS, *(case[0] for case in HEADS.values()), *SEEDS[:20]]),
       st.binary(max_size=256), st.integers(0, 3 * HEAD_BYTES), st.sampled_from(TAILS),
       st.sampled_from(["", "a.txt", "b.doc"]))
def test_long_files_agree_with_classify(prefix: bytes, noise: bytes, pad: int, tail: bytes,
                                        name: str) -> None:
    data = prefix + noise + random.Random(pad).randbytes(pad) + tail
    assert_head_agrees(data, name, classify(data, name))


# --------------------------------------------------------------------------- filetype 1.2.0

def _filetype_mime(buf: bytes) -> str | None:
    """What bifoga/media/sniff.py made of a filetype 1.2.0 guess before sniff_head replaced it."""
    filetype = pytest.importorskip("filetype")
    kind = filetype.guess(buf)
    mime = kind.mime if kind else None
    if mime == "image/jpeg" and buf.startswith(b"\xff\xd8\xff"):
        return mime
    if mime in ("image/png", "image/apng") and buf.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if mime == "image/gif" and buf[:6] in (b"GIF87a", b"GIF89a"):
        return mime
    if mime == "image/webp":
        return mime
    if mime == "application/pdf" and buf.lstrip(b"\xef\xbb\xbf").startswith(b"%PDF-"):
        return mime
    if mime == "application/rtf" and buf.startswith(b"{\\rtf"):
        return mime
    return None


def _filetype_audio(buf: bytes) -> bool:
    filetype = pytest.importorskip("filetype")
    from filetype.types import audio

    matchers = (audio.Midi(), audio.Flac(), audio.Wav(), audio.Amr(), audio.Aiff())
    return filetype.match(buf[:8192], matchers) is not None


STARTS = [b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"\x89PNG", b"GIF89a", b"GIF8",
          b"RIFF\0\0\0\0WEBPVP", b"RIFF\0\0\0\0WAVE", b"FORM\0\0\0\0AIFF", b"%PDF-", b"%PDF",
          b"\xef\xbb\xbf%PDF-", b"\xef\xbb\xbf\xef\xbb\xbf%PDF-", b"{\\rtf", b"{\\rtftypM4A",
          b"MThd", b"fLaC", b"#!AMR\n"]
PLANTS = [(128, b"DICM"), (257, b"ustar"), (4, b"ftypM4A"), (8, b"WEBPVP"), (0, b"M4A ")]
# Where filetype named DICOM, tar or M4A before PDF/RTF; sniff_head does not (see HEADS).
_SHADOWS = PLANTS[:3]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(STARTS), st.binary(max_size=300), st.sampled_from([None, *PLANTS]),
       st.integers(-1, 1))
def test_same_as_filetype(start: bytes, body: bytes, plant, cut: int) -> None:
    buf = start + body
    if plant is not None:
        buf = _shadowed(buf, *plant)[: plant[0] + len(plant[1]) + cut]
    shadowed = plant in _SHADOWS or start == b"{\\rtftypM4A"
    if not sniff_head.is_audio(buf) and not shadowed:
        assert sniff_head.allowed_mime(buf) == _filetype_mime(buf)
    assert not _filetype_audio(buf) or sniff_head.is_audio(buf)


# --------------------------------------------------------------------------- MicroPython

def test_source_avoids_what_micropython_lacks() -> None:
    imported = assert_fits_micropython(REPO / "bifoga" / "media" / "sniff_head.py")
    assert imported <= {"bifoga.media.limits", "bifoga.media.refusals"}


def _micropython_cases() -> list[tuple[bytes, int]]:
    cases = [(data[:HEAD_BYTES], len(data)) for data, _ in HEADS.values()]
    rng = random.Random(12)
    for _ in range(150):  # mutated and cut heads of every kind
        buf = bytearray(rng.choice([*SEEDS, *(d for d, _ in HEADS.values() if d)]))
        for _ in range(rng.randint(0, 4)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        cut = rng.randint(1, min(len(buf), 3000))  # a second MPEG frame header fits in 3000
        cases.append((bytes(buf[:cut]), cut))
    return cases


@pytest.mark.skipif(not micropython_available(),
                    reason="node or node_modules/@micropython/... is missing (npm ci)")
def test_micropython_gives_the_same_answers() -> None:
    cases = _micropython_cases()
    files = repo_files("bifoga.media.limits", "bifoga.media.refusals", "bifoga.media.sniff_head")
    files["/cases.py"] = "CASES = [\n" + "".join(
        "    (%r, %d),\n" % (head, size) for head, size in cases) + "]\n"
    code = "\n".join([
        "import sys",
        "sys.path.append('/')",
        "from bifoga.media.sniff_head import first_look",
        "from cases import CASES",
        "print(sys.implementation.name)",
        "for head, size in CASES:",
        "    print(repr(first_look(head, size)))",
    ])
    out = run_micropython(code, files).splitlines()
    assert out[0] == "micropython"
    assert out[1:] == [repr(first_look(head, size)) for head, size in cases]


@pytest.mark.parametrize("offset, marker", _SHADOWS[:2])
def test_an_active_pdf_shaped_like_dicom_or_tar_is_still_refused(offset, marker) -> None:
    """Once taken for text/plain through filetype's DICOM and tar matchers, skipping the
    active-content check."""
    active = _shadowed(ACTIVE_PDF, offset, marker)
    assert first_look(active[:HEAD_BYTES], len(active)) == likely("application/pdf")
    assert classify(active, "evil.pdf").reason == "active_content"
