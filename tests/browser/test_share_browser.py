"""Sharing a triage in a real browser (issue 16): the link the page shows, opened in a fresh browser
context, shows the same senders and figures; the HTML file, opened from disk with the network
refused, shows them too and asks for nothing."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from browser.conftest import SCREENSHOTS, assert_no_exception, open_app, rerun, screenshot, settled
from browser.helpers import grid, main, metric, rows
from dmarc_core.analysis.share import SHARE_PARAM

SAMPLES = ["nice-input.xml.gz", "ikea.com!example.de!1538690400!1538776800.xml", "mimecast-weird-gzip.eml"]
WIDE = {"width": 2600, "height": 2400}  # every column and row of the senders table in view
SENDER_COLUMNS = ["Sender / source", "From: domain", "Failing", "Messages", "DMARC pass"]


def senders(page) -> list[dict[str, str]]:
    return [{column: row[column] for column in SENDER_COLUMNS} for row in rows(grid(page, "Sender / source"))]


def test_a_shared_link_and_file_reproduce_the_triage(app_url, new_context, browser, samples, tmp_path):
    page = new_context(viewport=WIDE).new_page()
    open_app(page, f"{app_url}/triage")
    with rerun(page):
        page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files([samples / "aggregate" / name for name in SAMPLES])
    messages, pass_rate, shown = metric(page, "Messages"), metric(page, "DMARC pass rate"), senders(page)
    assert messages == "3,049" and len(shown) >= 3

    with rerun(page):
        main(page).get_by_test_id("stExpander").filter(has_text="Share this triage").locator("summary").click()
    section = main(page).get_by_test_id("stExpander").filter(has_text="Share this triage")
    expect(section).to_contain_text("The link carries")
    link = section.get_by_test_id("stCode").inner_text().strip()
    assert re.fullmatch(rf"{re.escape(app_url)}/triage\?{SHARE_PARAM}=1\.[A-Za-z0-9_-]+", link), link
    screenshot(page, "share-section")
    with page.expect_download() as downloading:
        section.get_by_role("button", name="Download as an HTML file").click()
    # Named by its day; these reports are for several domains (one would be named too).
    assert re.fullmatch(r"dmarc-triage-reports-\d{4}-\d{2}-\d{2}\.html", downloading.value.suggested_filename)
    saved = tmp_path / "dmarc-triage.html"
    downloading.value.save_as(saved)
    settled(page)

    # A colleague: a fresh context (no cookies, no session), the link alone.
    colleague = new_context(viewport=WIDE).new_page()
    open_app(colleague, link)
    assert_no_exception(colleague)
    expect(main(colleague).get_by_test_id("stAlert").first).to_contain_text("the raw reports are not included")
    assert metric(colleague, "Messages") == messages and metric(colleague, "DMARC pass rate") == pass_rate
    assert senders(colleague) == shown
    expect(colleague.get_by_test_id("stFileUploaderDropzone")).to_have_count(0)
    screenshot(colleague, "share-link-opened")

    # The file, from disk, with every request refused and recorded: it must need none.
    offline = browser.new_context(offline=True, viewport={"width": 1400, "height": 1000})
    requested = []

    def refuse(route):
        if not route.request.url.startswith("file://"):
            requested.append(route.request.url)
            route.abort("blockedbyclient")
        else:
            route.continue_()

    offline.route("**/*", refuse)
    document = offline.new_page()
    document.on("request", lambda request: requested.append(request.url) if request.url != saved.as_uri() else None)
    errors = []
    document.on("pageerror", lambda error: errors.append(str(error)))
    document.goto(saved.as_uri())
    expect(document.get_by_role("heading", name="DMARC report triage")).to_be_visible()
    figures = dict(
        zip(document.locator(".figure span").all_inner_texts(), document.locator(".figure strong").all_inner_texts(), strict=True)
    )
    assert (figures["Messages"], figures["DMARC pass rate"]) == (messages, pass_rate)
    table = document.locator("table").first
    names = table.locator("tbody tr td:first-child").all_inner_texts()
    assert names == [row["Sender / source"] for row in shown]
    assert document.evaluate("document.scripts.length") == 0
    SCREENSHOTS.mkdir(exist_ok=True)
    document.screenshot(path=str(SCREENSHOTS / "share-html-offline.png"), full_page=True)
    offline.close()
    assert requested == [] and errors == []
