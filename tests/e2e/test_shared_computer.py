"""On a shared computer: the visit link's token leaves the address bar and the history
once the app has read it; a reload of the same tab still works; a demo visit says it is one."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.conftest import READY_TIMEOUT_MS


def test_token_leaves_the_address_bar_and_a_reload_still_works(visit, make_participant):
    patient = make_participant(visit["patient_url"], "patient")
    patient.open(wait_for_worker=False)
    page = patient.page
    token = visit["patient_token"]
    assert token not in page.url and "#" not in page.url
    # Only this tab keeps it, in sessionStorage. The history entry was replaced, not added to:
    # going back leaves the app instead of showing the link again.
    assert token in page.evaluate("sessionStorage.getItem('bifoga-visit')")
    assert page.evaluate("history.length") == 2  # about:blank, then the app

    page.reload()
    page.wait_for_selector("body[data-ready]", timeout=READY_TIMEOUT_MS)
    expect(page.get_by_text("Du är patient")).to_be_visible()
    assert token not in page.url

    # Another tab without the link has nothing to go on.
    other = patient.context.new_page()
    other.goto(page.url)
    expect(other.get_by_role("alert")).to_contain_text("Länken till besöket saknas",
                                                       timeout=READY_TIMEOUT_MS)


def test_a_demo_visit_says_it_is_one(pair):
    patient, clinician = pair
    for page in (patient.page, clinician.page):
        expect(page.get_by_text("Demobesök")).to_be_visible()
