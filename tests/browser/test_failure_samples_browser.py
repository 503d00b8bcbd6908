"""Issue 12 in a real browser: failure reports dropped on the Report Triage are listed as failure
samples, and a sample's button opens it in the Message Check."""

from __future__ import annotations

from playwright.sync_api import expect

from browser.conftest import assert_no_exception, open_app, rerun, screenshot, settled
from browser.helpers import main


def test_a_failure_sample_opens_in_the_message_check(app_url, new_context, samples):
    page = new_context(viewport={"width": 1400, "height": 1000}).new_page()
    open_app(page, f"{app_url}/triage")
    with rerun(page):
        page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
            [samples / "aggregate" / "test.xml", samples / "forensic" / "arf-18.eml", samples / "forensic" / "004.eml"]
        )
    settled(page)
    assert_no_exception(page)
    heading = main(page).get_by_role("heading", name="Failure samples")
    expect(heading).to_be_visible()
    expect(main(page).get_by_text("148.163.85.135", exact=True)).to_be_visible()  # 004.eml's Source-IP, its comment gone
    heading.scroll_into_view_if_needed()
    screenshot(page, "triage-failure-samples")

    buttons = main(page).get_by_role("button", name="Open in the message check")
    expect(buttons).to_have_count(2)
    with rerun(page):
        buttons.first.click()
    settled(page)
    assert_no_exception(page)
    expect(page).to_have_url(f"{app_url}/message")
    expect(main(page).get_by_role("heading", name="Message Check")).to_be_visible()
    expect(main(page).get_by_text("arf-18.eml").first).to_be_visible()
    screenshot(page, "message-check-from-triage")
