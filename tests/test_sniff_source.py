"""bifoga.media.sniff.classify_source: the content check reading a picked file through a Source.

Every sample of tests/test_sniff.py and tests/test_active_content.py is already checked both
ways (`assert_source_agrees` in `expect`, the fuzz helpers and the active-content cases). This
module adds mutated files read in small chunks (so that names, sequences and records straddle
the chunk edges), the parsers each replaced (zipfile, the PDF patterns) as oracles, what is
read of large files, and the same verdicts under MicroPython.
"""

import io
import random
import subprocess
import zipfile
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bifoga.media import active, active_patterns, containers, sniff
from bifoga.media.sniff import classify, classify_source
from tests.live_server import make_pdf, pdf_file
from tests.micropython_runner import (
    REPO,
    assert_fits_micropython,
    micropython_available,
    repo_files,
    run_micropython,
)
from tests.test_active_content import CASES as ACTIVE_CASES
from tests.test_sniff import (
    MAGICS,
    OFFICE_CASES,
    SEEDS,
    CountingSource,
    ooxml,
    pillow_image,
)

PDF_SEEDS = [data for data, _, _ in ACTIVE_CASES.values() if data.startswith(b"%PDF")
             and len(data) < 200_000]
ZIP_SEEDS = [data for data, _ in OFFICE_CASES.values() if data.startswith(b"PK")
             and len(data) < 200_000]
ZIP_SEEDS += [data for data, _, _ in ACTIVE_CASES.values() if data.startswith(b"PK")]
TEXT_SEEDS = ["Blodtryck 120/80, puls 64. Åäö ok. 😀\n".encode() * 40,
              "Hälsningar från Malmö ".encode("cp1252") * 40,
              b"\xef\xbb\xbf<!-- x -->" + b"a" * 300, b"{\\rtf1 " + b"x" * 200 + b"\\objdata}"]
ALL_SEEDS = SEEDS + PDF_SEEDS + ZIP_SEEDS + TEXT_SEEDS
# The chunk-size fixture is the same for every example.
QUIET = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
NAMES = ["", "a.doc", "b.txt", "c.docx", "d.html", "e.pdf"]


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks and blocks of a few bytes, so every boundary case happens in a small file."""
    monkeypatch.setattr(active, "_CHUNK", 97)
    monkeypatch.setattr(containers, "_BLOCK", 61)
    monkeypatch.setattr(containers, "_DIRECT", 500)
    monkeypatch.setattr(sniff, "_TEXT_CHUNK", 53)


def _mutated(seed: bytes, data: st.DataObject) -> bytes:
    buf = bytearray(seed)
    for _ in range(data.draw(st.integers(0, 6))):
        at = data.draw(st.integers(0, len(buf) - 1))
        buf[at] = data.draw(st.sampled_from([0, 0x23, 0x2F, 0x0A, 0xC3, 0xFF,
                                             data.draw(st.integers(0, 255))]))
    return bytes(buf[: data.draw(st.integers(1, len(buf)))])


@settings(max_examples=400, deadline=None, suppress_health_check=QUIET)
@given(st.sampled_from(ALL_SEEDS), st.data(), st.sampled_from(NAMES))
def test_mutations_read_in_small_chunks_agree(small_chunks: None, seed: bytes,
                                              data: st.DataObject, name: str) -> None:
    buf = _mutated(seed, data)
    assert classify_source(CountingSource(buf), name) == classify(buf, name)
    micropython_verdict(buf, name)  # classify's verdict or UNDECIDED, never another


@settings(max_examples=200, deadline=None, suppress_health_check=QUIET)
@given(st.sampled_from([*MAGICS, b"%PDF-1.4\n", b"{\\rtf1"]),
       st.lists(st.sampled_from([b"/JS ", b"/J#53(", b"/ObjStm", b"stream\n", b"endstream",
                                 b"/Launch", b"/JavaScript", b"#", b"/", b"\\obj", b"\\OBJd",
                                 b"/FlateDecode", b"\xc3\xa5", b"\xed\xa0\x80", b" "]),
                max_size=40),
       st.binary(max_size=64))
def test_token_soup_agrees(small_chunks: None, magic: bytes, tokens: list, tail: bytes) -> None:
    buf = magic + b"".join(tokens) + tail
    for name in ("", "x.txt"):
        assert classify_source(CountingSource(buf), name) == classify(buf, name)


@pytest.mark.parametrize("char", ["\U0001f600", "\u00e5", "a"])
def test_text_markup_is_looked_for_in_the_first_characters(small_chunks: None,
                                                           char: str) -> None:
    for count in (1015, 1016, 1017, 1022, 1023, 1024, 1025, 4095, 4096):
        for bom in (b"", b"\xef\xbb\xbf"):
            buf = bom + (char * count + "<script>").encode()
            assert classify_source(CountingSource(buf), "a.txt") == classify(buf, "a.txt")


@pytest.mark.parametrize("early, late", [
    ("\u00c1".encode(), "\u00e4".encode("cp1252")),  # UTF-8 holding 0x81, then cp1252: refused
    (b"plain", "\u00e4".encode("cp1252")),  # cp1252 throughout: text
    ("\u00e4".encode(), b"\x9d"),  # neither
])
def test_text_that_stops_being_utf8_late(small_chunks: None, early: bytes, late: bytes) -> None:
    buf = early + b" ord" * 200 + late + b" slut"
    assert classify_source(CountingSource(buf), "a.txt") == classify(buf, "a.txt")


# --------------------------------------------------------------------------- the PDF patterns

@settings(max_examples=300, deadline=None, suppress_health_check=QUIET)
@given(st.sampled_from(PDF_SEEDS), st.data())
def test_pdf_scan_matches_the_whole_file_patterns(small_chunks: None, seed: bytes,
                                                  data: st.DataObject) -> None:
    buf = _mutated(seed, data)
    assert active.pdf_source_active(CountingSource(buf)) == active_patterns.pdf_is_active(buf)
    assert active.pdf_source_active(active.BytesSource(buf)) == active_patterns.pdf_is_active(buf)


@pytest.mark.parametrize("body", [
    b"/J#61vaScript", b"/J#61v#61Script ", b"/#4Aava#53cript(", b"/JavaScrip#74", b"/JS",
    b"/JS#20", b"/Launch%", b"/JavaScriptX ", b"/J#6", b"/J#6GvaScript ", b"/Launc#68",
    b"/LAUNCH ", b"stream\n/JS endstream", b"endstream /JS", b"stream\r/JS",
])
def test_pdf_names_at_every_chunk_edge(monkeypatch: pytest.MonkeyPatch, body: bytes) -> None:
    for pad in range(0, 70, 3):
        buf = b"%PDF-1.4\n" + b"x" * pad + body
        monkeypatch.setattr(active, "_CHUNK", 64 + len(body) // 2)
        expected = active_patterns.pdf_is_active(buf)
        assert active.pdf_source_active(CountingSource(buf)) == expected, pad


def test_a_pdf_of_escapes_is_left_to_the_whole_file_patterns() -> None:
    buf = b"%PDF-1.4\n" + b"/J#53x" * (active._MAX_HASHES + 1)
    assert active.pdf_source_active(CountingSource(buf)) is None
    assert classify(buf + b"/J#53 ", "a.pdf").reason == "active_content"
    assert classify(buf, "a.pdf").ok


# --------------------------------------------------------------------------- zipfile

def _zipfile_verdict(buf: bytes):
    """What inspect_zip concluded when it opened packages with zipfile (as it did before)."""
    import re
    try:
        with zipfile.ZipFile(io.BytesIO(buf)) as zf:
            names = zf.namelist()
            if "mimetype" in names:
                with zf.open("mimetype") as member:
                    mime = member.read(128).strip().decode("ascii", "replace")
                if mime not in containers._ODF_MIMES:
                    return (None, "type_not_allowed")
                scripts = any(n.startswith(("Basic/", "Scripts/")) and not n.endswith("/")
                              for n in names)
                return (None, "active_content") if scripts else (mime, None)
            if "[Content_Types].xml" not in names:
                return (None, "type_not_allowed")
            pattern = re.compile(r"(^|/)vbaproject\.bin$|(^|/)activex/", re.IGNORECASE)
            if any(pattern.search(n) for n in names):
                return (None, "active_content")
            with zf.open("[Content_Types].xml") as member:
                types = member.read(containers._MAX_CONTENT_TYPES)
    except Exception:
        return (None, "type_not_allowed")
    text = types.decode("utf-8", "replace").lower()
    matches = [(mime, folder) for main, mime, folder in containers._OOXML_MAIN if main in text]
    if len(matches) != 1:
        return (None, "type_not_allowed")
    mime, folder = matches[0]
    if not any(n.startswith(folder) for n in names):
        return (None, "type_not_allowed")
    return (mime, None)


def _zip(members: list, **kw) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, **kw) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return out.getvalue()


ZIP_EDGES = {
    "comment": _zip([("[Content_Types].xml", b"x")]) [:-2] + b"\x05\x00hello",
    "prefix": b"MZ" * 50 + ooxml("docx"),  # zipfile finds a concatenated archive
    "utf8_name": ooxml("docx", extra=[("word/ävbaProject.bin", b"")]),
    "dotless_i": ooxml("docx", extra=[("word/vbaProject.b\u0131n", b"")]),
    "kelvin": ooxml("docx", extra=[("word/activeX/\u212a.bin", b"")]),
    "newline": ooxml("docx", extra=[("word/vbaProject.bin\n", b"")]),
    "nul": ooxml("docx", extra=[("word/vbaProject.bin\x00.txt", b"")]),
}


@pytest.mark.parametrize("case", sorted(ZIP_EDGES))
def test_zip_edges_as_zipfile_saw_them(case: str) -> None:
    buf = ZIP_EDGES[case]
    assert tuple(containers.inspect_zip(buf)) == _zipfile_verdict(buf)
    assert tuple(containers.inspect_zip(containers.View(CountingSource(buf)))) == \
        _zipfile_verdict(buf)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(ZIP_SEEDS), st.data())
def test_zip_reader_agrees_with_zipfile(seed: bytes, data: st.DataObject) -> None:
    buf = _mutated(seed, data)
    ours = tuple(containers.inspect_zip(buf))
    theirs = _zipfile_verdict(buf)
    # Stricter only: a damaged package zipfile still read may be refused here, never the
    # other way round.
    assert ours == theirs or (ours[0] is None and theirs[0] is not None), (ours, theirs)


# --------------------------------------------------------------------------- what is read

def _jpeg(size: int) -> bytes:
    photo = pillow_image("JPEG")
    return photo[:-2] + random.Random(5).randbytes(size - len(photo)) + b"\xff\xd9"


def test_large_files_are_judged_from_a_small_part() -> None:
    from tests.media import media_path

    clip = media_path("clip.mp4").read_bytes()  # moov after the media, as ffmpeg writes it
    at = clip.index(b"mdat") - 4
    size = int.from_bytes(clip[at:at + 4], "big")
    padding = 5_000_000 - len(clip)
    mdat = (size + padding).to_bytes(4, "big") + clip[at + 4:at + size] + bytes(padding)
    film = clip[:at] + mdat + clip[at + size:]
    for data, mime in ((film, "video/mp4"), (_jpeg(5_000_000), "image/jpeg")):
        source = CountingSource(data)
        assert classify_source(source).mime == mime == classify(data).mime
        assert source.bytes_read < 200_000, source.bytes_read
    docx = ooxml("docx", extra=[("word/media/image1.jpeg", random.randbytes(3_000_000))])
    source = CountingSource(docx)
    assert classify_source(source).ok
    assert source.bytes_read < 100_000, source.bytes_read


# --------------------------------------------------------------------------- MicroPython

SHARED = ("limits.py", "refusals.py", "sniff_head.py", "source.py", "inflate.py",
          "containers.py", "active.py", "sniff.py")


@pytest.mark.parametrize("module", SHARED)
def test_modules_avoid_what_micropython_lacks(module: str) -> None:
    imported = assert_fits_micropython(REPO / "bifoga" / "media" / module)
    assert imported <= {"bifoga.media.limits", "bifoga.media.refusals", "bifoga.media.sniff_head",
                        "bifoga.media.source", "bifoga.media.inflate", "bifoga.media",
                        "collections", "sys", "binascii", "deflate", "io", "zlib"}


def _ffmpeg(out: Path, *args: str) -> bytes:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args,
                    str(out)], check=True, timeout=300)
    return out.read_bytes()


def _phone_jpeg(size: int) -> bytes:
    from tests.media import phone_photo
    photo = phone_photo()
    # A phone photo grown to `size` with more entropy-coded data before its end marker.
    return photo[:-2] + random.Random(3).randbytes(max(0, size - len(photo))) + b"\xff\xd9"


def light_files(folder: Path) -> dict[str, tuple[bytes, str]]:
    """name: (file, name given): what the light worker is picked."""
    lavfi_video = ["-f", "lavfi", "-i", "testsrc=size=640x480:rate=25"]
    lavfi_sound = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"]
    js = b"<< /Type /Action /S /JavaScript /JS (app.alert\\(1\\)) >>"
    objstm_js = zlib.compress(b"1 0 " + js)
    files = {
        "photo.jpg": (_phone_jpeg(3_000_000), "IMG_0001.jpg"),
        "image.png": (pillow_image("PNG"), "image.png"),
        "letter.pdf": (make_pdf(2_000_000, seed=4), "letter.pdf"),
        "script.pdf": (pdf_file([b"<< /Type /Catalog /OpenAction 2 0 R >>", js]), "a.pdf"),
        "objstm.pdf": (make_pdf(300_000)[:-6] + b"9 0 obj\n<< /Type /ObjStm /N 1 /First 4 "
                       b"/Filter /FlateDecode >>\nstream\n" + objstm_js + b"\nendstream\n",
                       "b.pdf"),
        "report.docx": (ooxml("docx"), "report.docx"),
        "macros.docm": (ooxml("docm"), "macros.docm"),
        "vba.docx": (ooxml("docx", extra=[("word/vbaProject.bin", b"\x00" * 8)]), "vba.docx"),
        "sheet.xlsx": (ooxml("xlsx"), "sheet.xlsx"),
        "text.odt": (OFFICE_CASES["odt"][0], "text.odt"),
        "notes.txt": ("Provsvar: Hb 132, CRP <5. Åäö.\n".encode() * 200, "notes.txt"),
        "page.txt": (b"<html><body>x</body></html>", "page.txt"),
        "legacy.doc": (ACTIVE_CASES["doc plain"][0], "brev.doc"),
        "macro.doc": (ACTIVE_CASES["doc with Macros/VBA"][0], "brev.doc"),
        "object.rtf": (ACTIVE_CASES["rtf with \\objdata"][0], "brev.rtf"),
    }
    # About 5 MB: noise keeps the encoder at its bit rate; the movie box comes last.
    files["film.mp4"] = (_ffmpeg(folder / "film.mp4", *lavfi_video, *lavfi_sound, "-t", "10.5",
                                 "-vf", "noise=alls=40:allf=t", "-c:v", "libx264", "-preset",
                                 "ultrafast", "-b:v", "4M", "-maxrate", "4M", "-bufsize", "2M",
                                 "-c:a", "aac", "-shortest"), "film.mp4")
    files["audio.m4a.mp4"] = (_ffmpeg(folder / "audio.mp4", *lavfi_sound, "-t", "3", "-c:a",
                                      "aac"), "song.mp4")
    files["tone.mp3"] = (_ffmpeg(folder / "tone.mp3", *lavfi_sound, "-t", "2", "-c:a",
                                 "libmp3lame"), "tone.mp3")
    files["clip.webm"] = (_ffmpeg(folder / "clip.webm", "-f", "lavfi", "-i",
                                  "testsrc=size=160x120:rate=10", "-t", "1", "-c:v", "libvpx",
                                  "-deadline", "realtime"), "clip.webm")
    return files


_MICROPYTHON_RUN = """\
import sys, time
sys.path.append('/')
from bifoga.media.sniff import classify_source

class FileSource:
    def __init__(self, path):
        self.file = open(path, 'rb')
        self.size = self.file.seek(0, 2)
        self.reads = 0
        self.bytes_read = 0

    def read(self, offset, length):
        self.file.seek(offset)
        got = self.file.read(length)
        self.reads += 1
        self.bytes_read += len(got)
        return got

print(sys.implementation.name)
for path, name in CASES:
    took = None
    for _ in range(RUNS):  # the fastest of a few: other processes share the machine
        source = FileSource(path)
        start = time.ticks_us()
        verdict = classify_source(source, name)
        run = time.ticks_diff(time.ticks_us(), start) // 1000
        took = run if took is None else min(took, run)
    print(repr(tuple(verdict)), source.reads, source.bytes_read, took)
"""


@pytest.mark.skipif(not micropython_available(), reason="node or MicroPython missing")
def test_micropython_gives_the_same_verdicts(tmp_path: Path) -> None:
    if subprocess.run(["which", "ffmpeg"], capture_output=True).returncode:
        pytest.skip("ffmpeg is not installed")
    files = light_files(tmp_path)
    modules = repo_files(*("bifoga.media." + m[:-3] for m in SHARED))
    cases = [("/media/" + key, name) for key, (_, name) in files.items()]
    code = "CASES = %r\nRUNS = 3\n" % cases + _MICROPYTHON_RUN
    out = run_micropython(code, modules, timeout=600,
                          binary_files={"/media/" + key: data for key, (data, _) in files.items()})
    lines = out.splitlines()
    assert lines[0] == "micropython"
    report = []
    for (key, (data, name)), line in zip(files.items(), lines[1:], strict=True):
        verdict, reads, bytes_read, took = line.rsplit(" ", 3)
        assert verdict == repr(tuple(classify(data, name))), key
        report.append("%-14s %9d B  %3s reads %9s B read  %5s ms"
                      % (key, len(data), reads, bytes_read, took))
        if key in ("photo.jpg", "film.mp4"):
            assert int(bytes_read) < len(data) // 10, key
    print("\n".join(report))


TRICKY_TEXT = [
    b"ok \xed\xa0\x80 surrogate", b"ok \xc0\xaf overlong", b"ok \xe0\x80\xaf overlong",
    b"ok \xf4\x90\x80\x80 past U+10FFFF", b"ok \xf0\x9f\x98\x80 emoji", b"\xed\xa0\x81\x81",
    "<lin\u212a rel=x>".encode(), "  <\u0130frame>".encode(), b"\xef\xbb\xbf\xef\xbb\xbf<p>",
    b"caf\xe9 <b>", b"\xa0<html>", "Hälsningar".encode("cp1252") * 3000,
    "Åäö ".encode() * 30000, b"text\x1a\x1b ok", b"\x7f", b"ID3 is a tag format.",
]


@pytest.mark.skipif(not micropython_available(), reason="node or MicroPython missing")
def test_micropython_agrees_on_mutated_files() -> None:
    rng = random.Random(20)
    seeds = [*ALL_SEEDS, *TRICKY_TEXT, *(d for d, _, _ in ACTIVE_CASES.values()
                                         if len(d) < 100_000)]
    cases = [(data, rng.choice(NAMES)) for data in TRICKY_TEXT]
    for _ in range(250):
        buf = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(0, 4)):
            buf[rng.randrange(len(buf))] = rng.choice([0, 0x23, 0x2F, 0xC3, 0xED, 0xFF,
                                                       rng.randrange(256)])
        cases.append((bytes(buf[:rng.randint(1, len(buf))]), rng.choice(NAMES)))
    modules = repo_files(*("bifoga.media." + m[:-3] for m in SHARED))
    paths = [("/media/%d" % i, name) for i, (_, name) in enumerate(cases)]
    code = "CASES = %r\nRUNS = 1\n" % paths + _MICROPYTHON_RUN
    out = run_micropython(code, modules, timeout=600,
                          binary_files={p: d for (p, _), (d, _) in zip(paths, cases, strict=True)})
    lines = out.splitlines()
    assert lines[0] == "micropython"
    undecided = 0
    for (data, name), line in zip(cases, lines[1:], strict=True):
        expected = micropython_verdict(data, name)
        assert line.rsplit(" ", 3)[0] == repr(tuple(expected)), (data[:80], name)
        undecided += expected.reason == sniff.UNDECIDED
    assert undecided < len(cases) // 20  # a cut object stream now and then, no more


def micropython_verdict(data: bytes, name: str) -> sniff.Verdict:
    """classify_source's answer under MicroPython, computed in CPython: classify's verdict,
    or UNDECIDED where MicroPython hands the file on (a PDF's object stream cut short that
    inflates to no action, a PDF of escapes)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sniff, "MICROPYTHON", True)
        patch.setattr(active, "MICROPYTHON", True)
        verdict = classify_source(CountingSource(data), name)
    if verdict.reason != sniff.UNDECIDED:
        assert verdict == classify(data, name)
    return verdict


def test_what_micropython_leaves_undecided() -> None:
    cut = make_pdf(3000)[:-6] + (b"9 0 obj\n<< /Type /ObjStm /Filter /FlateDecode >>\nstream\n"
                                 + zlib.compress(b"<< /Producer (x) >>" * 50)[:-30])
    assert classify(cut, "a.pdf").ok
    assert micropython_verdict(cut, "a.pdf") == (False, None, None, sniff.UNDECIDED)
    with_js = cut + b"\nendstream\n<< /S /JavaScript >>"
    assert micropython_verdict(with_js, "a.pdf") == classify(with_js) == \
        (False, None, None, "active_content")
    escapes = b"%PDF-1.4\n" + b"/J#53x" * (active._MAX_HASHES + 1)
    assert micropython_verdict(escapes, "a.pdf").reason == sniff.UNDECIDED
