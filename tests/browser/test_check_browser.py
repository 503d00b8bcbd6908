"""The Domain Check in a real browser, asking the loopback DNS server of tests/zones (the session's
server has DMARC_NAMESERVER pointing at it): typed or linked, it shows what DNS publishes."""

from __future__ import annotations

from playwright.sync_api import expect

from browser.conftest import assert_no_exception, open_app, rerun, screenshot
from browser.helpers import grid, main, query, rows


def test_a_typed_domain_is_checked_and_the_url_follows(app_url, page):
    open_app(page, f"{app_url}/check")
    expect(main(page)).to_contain_text("Type the domain of your From: address")
    with rerun(page):
        page.get_by_role("textbox", name="Domain", exact=True).fill("strict.example.com")
        page.keyboard.press("Enter")
    assert_no_exception(page)
    expect(main(page).get_by_role("heading", name="DMARC record found at _dmarc.strict.example.com")).to_be_visible()
    alerts = main(page).get_by_test_id("stAlert")
    expect(alerts.filter(has_text="Root cause 3 (Subdomain policy mismatch): Strict DKIM alignment (adkim=s)")).to_have_count(1)
    expect(alerts.filter(has_text="Root cause 5")).not_to_have_count(0)
    tags = {row["Tag"]: row for row in rows(grid(page, "Tag"))}
    assert tags["adkim"]["Value"] == "s" and tags["p"]["Value"] == "reject"
    assert query(page.url) == {"domain": "strict.example.com"}
    assert query(page.get_by_test_id("stCode").last.inner_text()) == {"domain": "strict.example.com"}
    screenshot(page, "check-strict-example-com")


def test_a_link_checks_the_domain_and_its_selectors(app_url, page):
    open_app(page, f"{app_url}/check?domain=example.com&selectors=k1,old,nokey")
    assert_no_exception(page)
    expect(page.get_by_role("textbox", name="Domain", exact=True)).to_have_value("example.com")
    expect(page.get_by_role("textbox", name="Your DKIM selectors (optional)")).to_have_value("k1,old,nokey")
    expect(main(page).get_by_role("heading", name="DMARC record found at _dmarc.example.com")).to_be_visible()
    keys = {row["Selector"]: row["Answer"] for row in rows(grid(page, "Selector"))}
    assert keys["k1"] == "found"
    assert keys["old"] == "the key is revoked (empty p=)"
    assert keys["nokey"] == "the name does not exist (NXDOMAIN)"
    expect(main(page).get_by_test_id("stAlert").filter(has_text="DKIM selector nokey has no key")).to_have_count(1)
