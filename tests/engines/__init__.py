"""The same few browser actions in Chromium, Firefox and WebKit, so that a flow is written once.

`drivers.py` has one small class per engine (Playwright for Chromium, a WebDriver BiDi client of
our own for Firefox, Selenium with WebKitWebDriver for WebKitGTK) with the same methods; the flows
that use them are in tests/e2e/test_engines.py. CPython only (the test process).
"""
