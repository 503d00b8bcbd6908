"""The Guide's links in a real browser: each opens the Explorer on its scenario in a tab of its
own, with the verdict and the marked row of the quick diagnosis table that the link's label promises."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from browser.conftest import assert_no_exception, open_app, wait_for_app
from browser.helpers import expect_verdict, main, marked_row, query
from dmarc_core import knowledge, scenario_from_params


def follow(page, app_url, link):
    """Click a Guide link to the Explorer: it opens in a new tab, whose URL carries the link's
    scenario. Returns that tab and the scenario's parameters."""
    wanted = query(link.get_attribute("href"))
    with page.context.expect_page() as opened:
        link.click()
    tab = opened.value
    wait_for_app(tab)
    expect(main(tab).get_by_role("heading", level=1)).to_have_text("Alignment Explorer")
    assert tab.url.startswith(f"{app_url}/?")
    assert query(tab.url) == wanted
    assert_no_exception(tab)
    return tab, wanted


@pytest.mark.parametrize("row", [1, 2, 3, 4, 5])
def test_each_table_row_link_opens_the_explorer_on_that_row(app_url, page, row):
    open_app(page, f"{app_url}/guide")
    link = main(page).get_by_role("link", name=f"Row {row}: open in the Explorer")
    tab, params = follow(page, app_url, link)
    expect_verdict(tab, scenario_from_params(params)[0].evaluate().verdict)
    assert marked_row(tab) == row


def test_a_root_cause_and_a_faq_link_open_their_scenarios(app_url, page):
    open_app(page, f"{app_url}/guide")
    # Root cause 1's expander is open; its "Try it" link is the ESP case (row 1).
    link = (
        page.get_by_test_id("stExpander")
        .filter(has_text="1. DKIM signing domain mismatch")
        .get_by_role("link", name=re.compile("Try it"))
    )
    tab, _ = follow(page, app_url, link.first)
    expect_verdict(tab, "DMARC fail")
    assert marked_row(tab) == 1

    question = next(entry.question for entry in knowledge().faq if entry.scenario)
    faq = page.get_by_test_id("stExpander").filter(has_text=question)
    faq.get_by_text(question).click()  # opening an expander runs nothing
    link = faq.get_by_role("link", name=re.compile("See it in the Explorer"))
    expect(link).to_be_visible()
    tab, params = follow(page, app_url, link)
    expect_verdict(tab, scenario_from_params(params)[0].evaluate().verdict)
