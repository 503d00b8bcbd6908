"""The Explorer in a real browser: it loads from a link and answers input changes."""

from __future__ import annotations

from playwright.sync_api import expect

from browser.conftest import screenshot, wait_for_app


def test_explorer_loads_from_a_link_and_updates_the_verdict(app_url, page):
    page.goto(f"{app_url}/?from=user@example.com&dkim=mail.example.com:pass&adkim=s")
    wait_for_app(page)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    main = page.get_by_test_id("stMain")
    expect(main.get_by_role("heading", name="DMARC fail")).to_be_visible()
    screenshot(page, "explorer-strict-fail")

    page.get_by_text("r: relaxed").first.click()
    wait_for_app(page)
    expect(main.get_by_role("heading", name="DMARC pass")).to_be_visible()
    expect(page).to_have_url(f"{app_url}/?from=user%40example.com&dkim=mail.example.com%3Apass")
