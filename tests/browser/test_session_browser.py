"""Issue 16 in a real browser: the session's work survives moving between pages, the Guide's
scenarios are real links, and a deep link opens its page."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from browser.conftest import BASE_PATH_PROBE, assert_no_exception, open_app, rerun, screenshot, wait_for_app
from browser.helpers import expect_verdict, main, marked_row, metric, query
from dmarc_core import scenario_from_params

SAMPLES = ["nice-input.xml.gz", "ikea.com!example.de!1538690400!1538776800.xml", "mimecast-weird-gzip.eml"]


def filters_caption(page) -> str:
    """The caption that says how many records the filters keep."""
    captions = main(page).get_by_test_id("stCaptionContainer").all_inner_texts()
    return next((text for text in captions if text.startswith("Filters keep")), "")


def go_to(page, title: str) -> None:
    with rerun(page):
        page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(main(page).get_by_role("heading", level=1)).to_contain_text(title)


def test_uploaded_reports_and_filters_survive_a_visit_to_the_guide(app_url, page, samples):
    open_app(page, f"{app_url}/triage")
    with rerun(page):
        page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files([samples / "aggregate" / n for n in SAMPLES])
    files = main(page).get_by_test_id("stExpander").filter(has_text="Files:").locator("summary")
    read = files.text_content()
    search = main(page).get_by_label("Search sender, IP or domain")
    with rerun(page):
        search.fill("209.85")
        search.press("Enter")
    messages = metric(page, "Messages")
    kept = filters_caption(page)
    assert kept.startswith("Filters keep") and not kept.endswith("22 of 22 records.")

    go_to(page, "Guide")
    go_to(page, "Report Triage")
    assert_no_exception(page)
    note = main(page).get_by_test_id("stAlert").filter(has_text="kept from before")
    expect(note).to_contain_text(f"3 files kept from before: {', '.join(SAMPLES)}.")
    expect(files).to_have_text(read)
    assert metric(page, "Messages") == messages
    expect(main(page).get_by_label("Search sender, IP or domain")).to_have_value("209.85")
    assert filters_caption(page) == kept
    screenshot(page, "session-triage-kept")

    with rerun(page):
        main(page).get_by_role("button", name="Clear").click()
    expect(note).to_have_count(0)
    expect(main(page).get_by_test_id("stMetric")).to_have_count(0)


def test_a_guide_link_is_a_real_link_that_opens_the_explorer_in_a_new_tab(app_url, new_context):
    context = new_context()
    page = context.new_page()
    open_app(page, f"{app_url}/guide")
    link = (
        page.get_by_test_id("stExpander")
        .filter(has_text="1. DKIM signing domain mismatch")
        .get_by_role("link", name=re.compile("Try it"))
        .first
    )
    href = link.get_attribute("href")
    absolute = link.evaluate("a => a.href")  # what "copy link address" copies
    assert absolute.startswith(f"{app_url}/?from="), absolute
    params = query(absolute)
    assert query(href) == params

    # Opened in a new page, as a reader's "open in new tab" or a colleague with the copied link does.
    fresh = context.new_page()
    open_app(fresh, absolute)
    expect(main(fresh).get_by_role("heading", level=1)).to_have_text("Alignment Explorer")
    expect_verdict(fresh, scenario_from_params(params)[0].evaluate().verdict)
    assert marked_row(fresh) == 1
    assert query(fresh.url) == params

    # A click opens it in a tab of its own too; the Guide stays where the reader was.
    with context.expect_page() as opened:
        link.click()
    tab = opened.value
    wait_for_app(tab)
    expect_verdict(tab, "DMARC fail")
    assert query(tab.url) == params
    expect(main(page).get_by_role("heading", level=1)).to_have_text("Guide: DKIM passes, DMARC fails")
    screenshot(page, "session-guide-links")


def test_a_deep_link_opens_its_page_with_nothing_missing(app_url, page, diagnostics):
    """Opening /check?domain=example.com directly. Streamlit's frontend first looks for its server
    under the page's own path (/check/_stcore/health, /check/_stcore/host-config) and then at the
    root: two 404s that only Streamlit can remove (streamlit/streamlit#7074, open in 1.67: it needs
    a server-rendered index.html). Every other request succeeds and the page works."""
    failed = []
    page.on("response", lambda response: response.status >= 400 and failed.append((response.status, response.url)))
    open_app(page, f"{app_url}/check?domain=example.com")
    assert_no_exception(page)
    expect(main(page).get_by_role("heading", level=1)).to_have_text("Domain Check")
    expect(main(page).get_by_role("textbox", name="Domain", exact=True)).to_have_value("example.com")
    expect(main(page).get_by_role("heading", name=re.compile("DMARC record found at _dmarc.example.com"))).to_be_visible()
    assert query(page.url) == {"domain": "example.com"}
    unexplained = [(status, url) for status, url in failed if not (status == 404 and BASE_PATH_PROBE.search(url))]
    assert unexplained == []
    assert {url.removeprefix(app_url) for _, url in failed} <= {"/check/_stcore/health", "/check/_stcore/host-config"}
    assert diagnostics.console_errors() == []
