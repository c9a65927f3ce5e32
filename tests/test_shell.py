"""index.html's shell, which works before Python is up: its texts are the catalogue's, its
paperclip is the app's (the same accept list, the same icons), and its one inline script keeps
files in memory only and is allowed by the server's CSP, by hash."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser

import pytest

from bifoga.chat import i18n
from bifoga.chat.formatting import format_size
from bifoga.media.limits import ACCEPT_ATTRIBUTE, DEFAULT_MAX_BYTES
from server.middleware import CONTENT_SECURITY_POLICY
from tests.micropython_runner import REPO

INDEX = (REPO / "index.html").read_text(encoding="utf-8")
INLINE_SCRIPTS = re.findall(r"<script>(.*?)</script>", INDEX, re.S)


class _Shell(HTMLParser):
    """Every element with data-text: (key, its Swedish, its English), and the inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[tuple[str, str, str]] = []
        self.inputs: dict[str, dict] = {}
        self.scripts: list[dict] = []
        self._open: list[list] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input":
            self.inputs[a["id"]] = a
        if tag == "script":
            self.scripts.append(a)
        if "data-text" in a:
            self._open.append([tag, a, ""])

    def handle_data(self, data):
        for entry in self._open:
            entry[2] += data

    def handle_endtag(self, tag):
        if self._open and self._open[-1][0] == tag:
            _, a, content = self._open.pop()
            self.texts.append((a["data-text"], a.get("data-sv", content.strip()), a["data-en"]))


@pytest.fixture(scope="module")
def shell() -> _Shell:
    parser = _Shell()
    parser.feed(INDEX)
    return parser


def catalogue(lang: str, key: str) -> str:
    return i18n.text(lang, key, max=format_size(DEFAULT_MAX_BYTES, lang))


def test_the_shell_says_what_the_catalogue_says_in_both_languages(shell):
    keys = [key for key, _, _ in shell.texts]
    assert {"picker.attach", "picker.camera", "picker.limits", "picker.queued",
            "app.starting", "app.start_failed"} <= set(keys)
    for key, swedish, english in shell.texts:
        assert swedish == catalogue("sv", key), key
        assert english == catalogue("en", key), key


def test_the_paperclip_is_a_native_input_with_the_apps_accept_list_and_icons(shell):
    attach, camera = shell.inputs["attachment-input"], shell.inputs["camera-input"]
    assert attach["type"] == "file" and "multiple" in attach
    assert attach["accept"] == ACCEPT_ATTRIBUTE and "audio" not in attach["accept"]
    assert camera["capture"] == "environment" and camera["accept"] == "image/*"
    # Each face shows its icon, hidden from assistive technology (the label names the input).
    for label_for in ("attachment-input", "camera-input"):
        face = re.search(r'<label for="%s"[^>]*>(.*?)</label>' % label_for, INDEX, re.S).group(1)
        assert '<svg aria-hidden="true" focusable="false"' in face


def test_the_one_inline_script_keeps_files_in_memory_only_and_the_csp_allows_it(shell):
    assert len(INLINE_SCRIPTS) == 1
    keeper = INLINE_SCRIPTS[0]
    # No browser storage of any kind: file names and contents never leave the page's memory.
    assert not re.search(r"localStorage|sessionStorage|indexedDB|caches\.|cookie", keeper)
    # It stops listening when Python takes over (each listener it adds, it removes).
    assert keeper.count("addEventListener") == keeper.count("removeEventListener")
    # Allowed by its hash, and nothing else inline: no 'unsafe-inline' for scripts.
    digest = base64.b64encode(hashlib.sha256(keeper.encode()).digest()).decode()
    script_src = re.search(r"script-src ([^;]+)", CONTENT_SECURITY_POLICY).group(1).split()
    assert f"'sha256-{digest}'" in script_src and "'unsafe-inline'" not in script_src
    # Every other script is a file of this origin (or Python for PyScript).
    assert all(s.get("src") for s in shell.scripts if s.get("type") != "mpy" and s != {})


def test_every_preloaded_runtime_file_exists():
    """The preloads name PyScript's hashed chunks of the pinned version: a new version must
    bring new names, not silent 404s."""
    hrefs = re.findall(r'\["(?:modulepreload|preload)", "([^"]+)"\]', INLINE_SCRIPTS[0])
    assert any("core-" in h for h in hrefs)
    missing = [h for h in hrefs if not (REPO / h).is_file()]
    assert missing == []
