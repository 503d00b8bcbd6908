"""The Alignment Explorer in a real browser: a link fills it, its inputs rewrite the URL, and that
URL reproduces the same verdict for a colleague who opens it."""

from __future__ import annotations

import re

import pandas as pd
from playwright.sync_api import expect

from browser.conftest import assert_no_exception, open_app, rerun, screenshot
from browser.helpers import expect_verdict, main, marked_row, query
from dmarc_core import read_file, triage
from dmarc_core.analysis.triage import explorer_links


def test_a_link_fills_the_explorer_and_shows_its_verdict(app_url, page):
    open_app(page, f"{app_url}/?from=user@example.com&dkim=mail.example.com:pass&adkim=s")
    assert_no_exception(page)
    expect(page.get_by_role("textbox", name="From: domain or address")).to_have_value("user@example.com")
    expect(page.get_by_role("textbox", name="DKIM d= #1")).to_have_value("mail.example.com")
    expect(page.get_by_role("radiogroup", name="adkim").get_by_role("radio", name="s: strict")).to_be_checked()
    expect(page.get_by_role("radiogroup", name="aspf").get_by_role("radio", name="r: relaxed")).to_be_checked()
    expect_verdict(page, "DMARC fail")
    expect(main(page)).to_contain_text("adkim=s requires them to be identical")
    assert marked_row(page) == 3
    screenshot(page, "explorer-strict-fail")


def test_changing_inputs_rewrites_the_url_and_the_url_reproduces_the_verdict(app_url, page, new_context):
    open_app(page, f"{app_url}/?from=user@example.com&dkim=mail.example.com:pass&adkim=s")
    expect_verdict(page, "DMARC fail")

    with rerun(page):
        page.get_by_role("radiogroup", name="adkim").get_by_text("r: relaxed").click()
    expect_verdict(page, "DMARC pass")
    assert query(page.url) == {"from": "user@example.com", "dkim": "mail.example.com:pass"}

    with rerun(page):
        page.get_by_role("textbox", name="From: domain or address").fill("news@example.org")
        page.keyboard.press("Enter")
    with rerun(page):
        page.get_by_role("textbox", name="SPF MAIL FROM domain").fill("bounces.example.org")
        page.keyboard.press("Enter")
    expect_verdict(page, "DMARC pass")  # SPF bounces.example.org passes and aligns (relaxed)
    expect(main(page)).to_contain_text("DMARC passes on SPF alone")
    shared = page.url
    assert query(shared) == {"from": "news@example.org", "dkim": "mail.example.com:pass", "spf": "bounces.example.org:pass"}
    # The Share box offers the same case.
    assert query(page.get_by_test_id("stCode").last.inner_text()) == query(shared)
    assert_no_exception(page)

    colleague = new_context().new_page()
    open_app(colleague, shared)
    expect_verdict(colleague, "DMARC pass")
    expect(main(colleague)).to_contain_text("DMARC passes on SPF alone")
    expect(colleague.get_by_role("textbox", name="From: domain or address")).to_have_value("news@example.org")
    expect(colleague.get_by_role("textbox", name="SPF MAIL FROM domain")).to_have_value("bounces.example.org")
    assert marked_row(colleague) == marked_row(page) == 1
    assert_no_exception(colleague)


def test_a_preset_button_fills_the_inputs_and_the_url(app_url, page):
    open_app(page, app_url)
    expect(main(page)).to_contain_text("Type the From: domain")
    with rerun(page):
        page.get_by_role("button", name="ESP signing with its own domain").click()
    expect_verdict(page, "DMARC fail")
    assert marked_row(page) == 1
    assert query(page.url)["dkim"] == "mailchimp.com:pass"


def test_a_link_with_a_bad_value_opens_with_a_message(app_url, page):
    open_app(page, f"{app_url}/?from=user@example.com&dkim=example.com:maybe&adkim=x")
    assert_no_exception(page)
    alerts = main(page).get_by_test_id("stAlert")
    # inert() may slip an invisible word joiner after a colon (":maybe:" looks like an :emoji: code).
    expect(alerts.filter(has_text=re.compile("example\\.com:\u2060?maybe"))).to_have_count(1)
    expect(alerts.filter(has_text="adkim=x")).to_have_count(1)


def test_every_failing_row_of_a_real_report_opens_with_the_receivers_verdict(app_url, page, samples):
    # Issue 11: a row's link carries the receiver's verdicts and reasons, so the Explorer shows what
    # the receiver decided, never "DMARC pass" for a row it failed, and the row of the table it is.
    (report,) = read_file(samples / "aggregate" / "d5f54f9775144853a0476406958c9869.xml").reports
    frame = triage(report)
    frame = frame.assign(explorer_link=explorer_links(frame))
    failing = frame[~frame["dmarc_pass"]].drop_duplicates("explorer_link")
    assert len(failing) >= 5 and failing["finding"].nunique() >= 3
    for link, table_row in failing[["explorer_link", "table_row"]].itertuples(index=False):
        open_app(page, f"{app_url}/?{link}")
        assert_no_exception(page)
        expect_verdict(page, "DMARC fail")
        assert marked_row(page) == (None if pd.isna(table_row) else int(table_row)), link
    screenshot(page, "explorer-from-a-failing-report-row")
