"""End-to-end fixtures: the real server in a subprocess, Debian's Chromium driven by Playwright.

Every test here is marked `e2e`. Two browser contexts play the patient and the clinician.
Every request either page makes is recorded, so tests can prove nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live_server import ServerProcess

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("BIFOGA_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium tries to reach Google's hosts at start.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-domain-reliability",
]
READY_TIMEOUT_MS = 30_000
WORKER_TIMEOUT_MS = 90_000


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session", autouse=True)
def app_bundle() -> None:
    """The main thread's and the workers' modules as the browser gets them, fresh from the
    working tree, and the Pyodide worker's memory snapshot made from them (when they
    changed)."""
    from scripts.bundle_app import LIGHT_BUNDLE, build, build_worker, worker_snapshot

    build()
    build("light_start.py", LIGHT_BUNDLE, with_entry=False)
    build_worker()
    worker_snapshot()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("e2e") / "data")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Participant:
    """One role's browser context and page, with every request URL it made."""

    def __init__(self, browser, url: str, role: str, **context_options) -> None:
        self.role = role
        self.url = url
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.context = browser.new_context(accept_downloads=True, **context_options)
        self.context.on("request", lambda r: self.requests.append(r.url))
        # Workers' requests are seen through the context too (service workers aside).
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def open(self, wait_for_worker: bool = True, query: str = "") -> None:
        base, _, fragment = self.url.partition("#")
        self.page.goto(base + query + "#" + fragment)
        try:
            self.page.wait_for_selector("body[data-ready]", timeout=READY_TIMEOUT_MS)
        except Exception as exc:
            raise AssertionError(f"{self.role} page not ready; page errors: {self.errors[-3:]};"
                                 f" text: {self.page.inner_text('body')[:500]!r}") from exc
        if wait_for_worker:  # the light worker: the heavy one starts only when a file needs it
            self.page.wait_for_function("window.bifogaLightReady", timeout=WORKER_TIMEOUT_MS)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(live_server: ServerProcess) -> dict:
    return live_server.new_visit()


@pytest.fixture
def pair(live_server, visit, make_participant):
    """The patient and the clinician of one visit, each in a browser context, ready."""
    patient = make_participant(visit["patient_url"], "patient")
    clinician = make_participant(visit["clinician_url"], "clinician")
    patient.open()
    clinician.open()
    return patient, clinician


@pytest.fixture
def make_participant(browser):
    made: list[Participant] = []

    def make(url: str, role: str, **options) -> Participant:
        participant = Participant(browser, url, role, **options)
        made.append(participant)
        return participant

    yield make
    for participant in made:
        participant.close()
