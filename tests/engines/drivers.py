"""One small driver per engine, with the same methods, so that a flow is written once.

- :class:`ChromiumDriver`: Playwright (its own protocol, CDP) on Debian's Chromium;
- :class:`FirefoxDriver`: Firefox ESR's built-in WebDriver BiDi (tests/engines/bidi.py), headless;
- :class:`WebKitDriver`: WebKitGTK's MiniBrowser through WebKitWebDriver and Selenium, on an Xvfb
  display of its own; ``shared_array_buffer=True`` starts it with ``JSC_useSharedArrayBuffer=1``
  (Safari gives a cross-origin isolated page SharedArrayBuffer, WebKitGTK as shipped does not).

Every driver keeps one tab open for its whole session; `navigate` starts a new page load in it
and returns once the new document is there (Chromium, Firefox: committed; WebKit: its
DOMContentLoaded); the flows wait for what they need with `wait`. Page scripts are JavaScript
function sources called with JSON-like arguments, awaited, their result JSON-like. CPython only.
"""

from __future__ import annotations

import base64
import os
import select
import shutil
import subprocess
import tempfile
import time
import warnings
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import urllib3

from tests.engines.bidi import BiDiSession, to_local, to_python

FIREFOX = os.environ.get("BIFOGA_FIREFOX", "/usr/bin/firefox-esr")
WEBKIT_DRIVER = os.environ.get("BIFOGA_WEBKIT_DRIVER", "/usr/bin/WebKitWebDriver")
# Debian's libwebkit2gtk-4.1-0 ships the MiniBrowser (webkit2gtk-driver depends on it).
MINIBROWSER = os.environ.get("BIFOGA_MINIBROWSER",
                             "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser")
XVFB = "Xvfb"

# Resolves once the element is where a click at its centre reaches it, and stays there over
# one animation frame: scrolled into view again if something scrolled it away (the chat's own
# scroller keeps its newest message in view). False if that never happens within 100 frames.
STEADY = """async (s) => {
  const place = () => {
    const e = document.querySelector(s);
    if (!e) return null;
    const r = e.getBoundingClientRect();
    const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
    if (!hit || !(hit === e || e.contains(hit))) {
      e.scrollIntoView({block: "center"});
      return null;
    }
    return [r.x, r.y, r.width, r.height].join();
  };
  const frame = () => new Promise((done) => requestAnimationFrame(() => done()));
  let last = place();
  for (let i = 0; i < 100; i++) {
    await frame();
    const now = place();
    if (now !== null && now === last) return true;
    last = now;
  }
  return false;
}"""


# Before a click: remember the element and where the next click lands (capture, once).
CLICK_WATCH = """(s) => {
  const target = document.querySelector(s);
  const watch = {target, landed: null};
  window.__driverClick = watch;
  document.addEventListener("click", (event) => { watch.landed = event.target; },
                            {capture: true, once: true});
  return !!target;
}"""
# After it: "reached" when it landed on the element (or inside it), "missed" when elsewhere,
# "none" while no click has come yet.
CLICK_LANDED = """() => {
  const watch = window.__driverClick;
  if (!watch || !watch.landed) return "none";
  return watch.target.contains(watch.landed) ? "reached" : "missed:" + watch.landed.tagName
    + "." + watch.landed.className;
}"""


class PageError(AssertionError):
    """A page script threw, or a wait ran out."""


class DriverHung(PageError):
    """The engine's driver did not answer a command in time (WebKitWebDriver, now and then,
    between two page loads): the browser is started anew."""


class Driver:
    """What every engine offers the flows."""

    name = ""

    # --- per engine -------------------------------------------------------------------------
    def navigate(self, url: str) -> None:
        """Start loading `url` in the tab; returns without waiting for the whole load."""
        raise NotImplementedError

    def call(self, function: str, *args: Any) -> Any:
        """Call the JavaScript function `function` (its source) in the page with `args`; its
        (awaited) result."""
        raise NotImplementedError

    def set_files(self, selector: str, paths: list[Path]) -> None:
        """Choose `paths` in the <input type=file> `selector`, as the system picker would."""
        raise NotImplementedError

    def click(self, selector: str) -> None:
        """A real mouse click (the engine's input, not a script's) on `selector`."""
        raise NotImplementedError

    def screenshot(self, path: Path) -> None:
        raise NotImplementedError

    def set_viewport(self, width: int, height: int) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # --- the same for all -------------------------------------------------------------------
    def steady(self, selector: str) -> None:
        """Until `selector` is in view, on top, and holds still: a click sent to where it was
        while the layout still moves (an image above it just loaded) lands on whatever is
        there by then."""
        if not self.call(STEADY, selector):
            raise PageError(f"{self.name}: {selector} does not hold still to be clicked\n"
                            f"{self.state_for_error()}")

    def click_reaching(self, selector: str, dispatch: Callable[[], None]) -> None:
        """Send a click with `dispatch` until one reaches `selector`: one that the moving
        layout made land on something else is sent again (it did nothing the flow asked
        for); one that reached it is never repeated."""
        landed = "none"
        for _attempt in range(3):
            self.steady(selector)
            if not self.call(CLICK_WATCH, selector):
                raise PageError(f"{self.name}: no element {selector}")
            dispatch()
            deadline = time.monotonic() + 5
            landed = self.call(CLICK_LANDED)
            while landed == "none" and time.monotonic() < deadline:
                time.sleep(0.02)
                landed = self.call(CLICK_LANDED)
            if landed == "reached":
                return
            # Said in the run's summary: a click that keeps missing is worth a look.
            warnings.warn(f"{self.name}: a click on {selector} landed on {landed}; sent again",
                          stacklevel=2)
        raise PageError(f"{self.name}: a click on {selector} did not reach it ({landed})\n"
                        f"{self.state_for_error()}")

    def load(self, url: str) -> None:
        """A new page load of `url`, even when only its fragment differs from the current one
        (the app moves the token out of the address bar: the next visit's link would otherwise
        be a same-document navigation)."""
        for attempt in (1, 2, 3):
            try:
                self.navigate("about:blank")
                self.wait("() => location.href === 'about:blank'", timeout=10)
                break
            except DriverHung:
                if attempt == 3:
                    raise
                self.restart()
            except PageError:
                # WebKitWebDriver now and then loses the page between two loads; once more.
                if attempt == 3:
                    raise
        self.navigate(url)

    def restart(self) -> None:
        """A new browser in place of one whose driver no longer answers."""
        raise NotImplementedError

    def wait(self, condition: str, timeout: float = 60, *args: Any, interval: float = 0.05) -> Any:
        """Poll the JavaScript function `condition` until it returns something truthy."""
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while True:
            try:
                value = self.call(condition, *args)
                if value:
                    return value
            except PageError as exc:  # e.g. between two documents of a navigation
                last_error = exc
            if time.monotonic() > deadline:
                raise PageError(f"{self.name}: not true within {timeout} s: {condition}"
                                f"\nlast error: {last_error}\n{self.state_for_error()}")
            time.sleep(interval)

    def text(self, selector: str = "body") -> str:
        try:
            return str(self.call("(s) => document.querySelector(s)?.innerText ?? ''", selector))
        except Exception as exc:  # only for error messages
            return f"<no text: {exc}>"

    def console(self) -> list[str]:
        """The page's and its workers' last console lines, where the engine's driver gives
        them."""
        return []

    def state_for_error(self) -> str:
        """What a failed wait shows: the page, the open dialog whole, the console's tail."""
        lines = "\n  ".join(self.console()[-40:]) or "(none)"
        try:
            trace = self.call("() => (window.__engineTrace || []).slice(-30)")
        except Exception as exc:  # only for error messages
            trace = f"<no trace: {exc}>"
        return (f"page text: {self.text()[:600]!r}\n"
                f"dialog text: {self.text('dialog[open]')[:1500]!r}\n"
                f"page trace (the test's): {trace}\n"
                f"console:\n  {lines}")


class ChromiumDriver(Driver):
    name = "chromium"

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.logged: deque[str] = deque(maxlen=200)
        self.page.on("console", lambda m: self.logged.append(f"{m.type}: {m.text}"[:500]))
        self.page.on("pageerror", lambda e: self.logged.append(f"pageerror: {e}"[:500]))

    def navigate(self, url: str) -> None:
        self.page.goto(url, wait_until="commit")

    def call(self, function: str, *args: Any) -> Any:
        try:
            return self.page.evaluate(f"async (args) => await ({function})(...args)", list(args))
        except Exception as exc:
            raise PageError(str(exc)) from exc

    def set_files(self, selector: str, paths: list[Path]) -> None:
        self.page.set_input_files(selector, [str(p) for p in paths])

    def click(self, selector: str) -> None:
        self.page.click(selector)

    def screenshot(self, path: Path) -> None:
        self.page.screenshot(path=str(path))

    def set_viewport(self, width: int, height: int) -> None:
        self.page.set_viewport_size({"width": width, "height": height})

    def console(self) -> list[str]:
        return list(self.logged)

    def close(self) -> None:
        self.context.close()


class FirefoxDriver(Driver):
    name = "firefox"

    def __init__(self, port: int) -> None:
        if not Path(FIREFOX).exists():
            raise FileNotFoundError(f"{FIREFOX}: `make test` installs Debian's firefox-esr")
        self.profile = Path(tempfile.mkdtemp(prefix="bifoga-firefox-"))
        # Firefox's own automation preferences come with the remote agent; these keep it from
        # asking anything at start.
        (self.profile / "user.js").write_text(
            'user_pref("browser.shell.checkDefaultBrowser", false);\n'
            'user_pref("datareporting.policy.dataSubmissionEnabled", false);\n'
            'user_pref("browser.aboutwelcome.enabled", false);\n')
        self.process = subprocess.Popen(
            [FIREFOX, "--headless", "--no-remote", "--profile", str(self.profile),
             f"--remote-debugging-port={port}", "about:blank"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self._await_line(b"WebDriver BiDi listening on", 60)
        self.session = BiDiSession(f"ws://127.0.0.1:{port}/session")
        self.session.command("session.new", {"capabilities": {}})
        contexts = self.session.command("browsingContext.getTree", {})["contexts"]
        self.context = contexts[0]["context"]
        self.logged: deque[str] = deque(maxlen=200)
        self.session.on("log.entryAdded", lambda entry: self.logged.append(
            f"{entry.get('level')}: {entry.get('text')}"[:500]))
        self.set_viewport(1280, 900)

    def _await_line(self, wanted: bytes, timeout: float) -> None:
        assert self.process.stdout is not None
        deadline, seen = time.monotonic() + timeout, b""
        while wanted not in seen:
            left = deadline - time.monotonic()
            if left <= 0 or self.process.poll() is not None:
                self.process.kill()
                raise RuntimeError(f"Firefox's remote agent did not start: {seen[-2000:]!r}")
            if select.select([self.process.stdout], [], [], min(left, 0.5))[0]:
                seen += os.read(self.process.stdout.fileno(), 65536)
        # Firefox keeps writing to its stdout; nobody reads it from now on, so it goes nowhere.
        self.process.stdout.close()

    def navigate(self, url: str) -> None:
        self.session.command("browsingContext.navigate",
                             {"context": self.context, "url": url, "wait": "none"})

    def _call(self, function: str, args: tuple[Any, ...]) -> dict[str, Any]:
        result = self.session.command("script.callFunction", {
            "functionDeclaration": function, "awaitPromise": True,
            "arguments": [to_local(a) for a in args], "target": {"context": self.context},
            "resultOwnership": "none"})
        if result["type"] == "exception":
            raise PageError(result["exceptionDetails"].get("text", "exception"))
        return result["result"]

    def call(self, function: str, *args: Any) -> Any:
        return to_python(self._call(function, args))

    def _element(self, selector: str) -> dict[str, str]:
        node = self._call("(s) => { const e = document.querySelector(s); "
                          "if (e) e.scrollIntoView({block: 'center'}); return e; }", (selector,))
        if node["type"] != "node":
            raise PageError(f"no element {selector}")
        return {"sharedId": node["sharedId"]}

    def set_files(self, selector: str, paths: list[Path]) -> None:
        self.session.command("input.setFiles", {
            "context": self.context, "element": self._element(selector),
            "files": [str(p) for p in paths]})

    def click(self, selector: str) -> None:
        def dispatch() -> None:
            element = self._element(selector)
            self.session.command("input.performActions", {"context": self.context, "actions": [{
                "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
                "actions": [
                    {"type": "pointerMove", "x": 0, "y": 0,
                     "origin": {"type": "element", "element": element}},
                    {"type": "pointerDown", "button": 0},
                    {"type": "pointerUp", "button": 0},
                ]}]})
            self.session.command("input.releaseActions", {"context": self.context})

        self._element(selector)  # scrolled into view
        self.click_reaching(selector, dispatch)

    def screenshot(self, path: Path) -> None:
        shot = self.session.command("browsingContext.captureScreenshot", {"context": self.context})
        path.write_bytes(base64.b64decode(shot["data"]))

    def set_viewport(self, width: int, height: int) -> None:
        self.session.command("browsingContext.setViewport", {
            "context": self.context, "viewport": {"width": width, "height": height}})

    def console(self) -> list[str]:
        return list(self.logged)

    def close(self) -> None:
        self.session.close()
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        shutil.rmtree(self.profile, ignore_errors=True)


COMMAND_TIMEOUT_S = 40
# What a command the driver does not answer in time raises (through Selenium's urllib3).
_TIMEOUTS = (TimeoutError, OSError, urllib3.exceptions.HTTPError)


class WebKitDriver(Driver):
    viewport = (1280, 900)

    def __init__(self, shared_array_buffer: bool = False) -> None:
        from selenium import webdriver
        from selenium.webdriver.webkitgtk.options import Options
        from selenium.webdriver.webkitgtk.service import Service

        for program in (WEBKIT_DRIVER, MINIBROWSER):
            if not Path(program).exists():
                raise FileNotFoundError(f"{program}: `make test` installs Debian's "
                                        "webkit2gtk-driver")
        self.name = "webkit-sab" if shared_array_buffer else "webkit"
        self.xvfb, display = start_xvfb()
        env = {**os.environ, "DISPLAY": display}
        env.pop("WAYLAND_DISPLAY", None)
        if shared_array_buffer:
            env["JSC_useSharedArrayBuffer"] = "1"
        options = Options()
        options.binary_location = MINIBROWSER
        options.add_argument("--automation")
        # Without its toolbar (which keeps the window at least 447 px wide) the page's viewport
        # is the window: a phone's 390 px too.
        options.add_argument("--full-screen")
        # "none" would return before the new document is there, and a script sent to the page
        # in that moment can hang WebKitWebDriver for good; DOMContentLoaded comes right after
        # index.html's shell, long before Python is up.
        options.page_load_strategy = "eager"
        self._new_driver = lambda: webdriver.WebKitGTK(
            options=options, service=Service(executable_path=WEBKIT_DRIVER, env=env))
        try:
            self._start()
        except Exception:
            self.xvfb.kill()
            raise

    def _start(self) -> None:
        self.driver = self._new_driver()
        # A command that gets no answer (the driver itself hangs, now and then) fails after
        # this long instead of waiting for ever; every script here answers in seconds.
        self.driver.command_executor._client_config.timeout = COMMAND_TIMEOUT_S
        self.driver.set_script_timeout(COMMAND_TIMEOUT_S - 10)
        self.set_viewport(*self.viewport)

    def restart(self) -> None:
        try:
            self.driver.quit()
        except Exception:  # noqa: BLE001 - it hung: whatever it says now does not matter
            pass
        self._start()

    def navigate(self, url: str) -> None:
        try:
            self.driver.get(url)
        except _TIMEOUTS as exc:
            raise DriverHung(f"{self.name}: no answer to a navigation: {exc}") from exc

    def call(self, function: str, *args: Any) -> Any:
        from selenium.common.exceptions import WebDriverException

        try:
            outcome = self.driver.execute_async_script(
                "const done = arguments[arguments.length - 1];"
                "const args = Array.prototype.slice.call(arguments, 0, -1);"
                f"Promise.resolve().then(() => ({function})(...args)).then("
                "  (value) => done({value: value === undefined ? null : value}),"
                "  (error) => done({error: String(error && error.stack || error)}));", *args)
        except _TIMEOUTS as exc:
            raise DriverHung(f"{self.name}: no answer to a script: {exc}") from exc
        except WebDriverException as exc:
            raise PageError(str(exc)) from exc
        if outcome is None or "error" in outcome:
            raise PageError(str(outcome and outcome["error"]))
        return outcome["value"]

    def _element(self, selector: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def set_files(self, selector: str, paths: list[Path]) -> None:
        self._element(selector).send_keys("\n".join(str(p) for p in paths))

    def click(self, selector: str) -> None:
        self.call("(s) => document.querySelector(s).scrollIntoView({block: 'center'})", selector)
        self.click_reaching(selector, lambda: self._element(selector).click())

    def screenshot(self, path: Path) -> None:
        path.write_bytes(self.driver.get_screenshot_as_png())

    def set_viewport(self, width: int, height: int) -> None:
        self.viewport = (width, height)
        self.driver.set_window_size(width, height)

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            self.xvfb.terminate()
            try:
                self.xvfb.wait(10)
            except subprocess.TimeoutExpired:
                self.xvfb.kill()


def start_xvfb() -> tuple[subprocess.Popen[bytes], str]:
    """An Xvfb server on a free display (it writes the number it chose to -displayfd)."""
    if shutil.which(XVFB) is None:
        raise FileNotFoundError("Xvfb: `make test` installs Debian's xvfb")
    read, write = os.pipe()
    process = subprocess.Popen([XVFB, "-displayfd", str(write), "-screen", "0", "1400x1000x24",
                                "-nolisten", "tcp"], pass_fds=(write,),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    number = b""
    deadline = time.monotonic() + 20
    while not number.endswith(b"\n"):
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError("Xvfb did not start")
        if select.select([read], [], [], 0.5)[0]:
            chunk = os.read(read, 16)
            if not chunk:
                break
            number += chunk
    os.close(read)
    return process, ":" + number.decode().strip()
