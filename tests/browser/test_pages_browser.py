"""Every page in a real browser: it opens by its own link, on the session's server and as the very
first request of a fresh server (Streamlit once ran a deep link outside the app's frame there),
and the sidebar moves between them."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from browser.conftest import assert_no_exception, open_app, rerun, screenshot
from browser.helpers import assert_nothing_injected, main, markdown_texts

PAGES = [
    pytest.param("/", "Alignment Explorer", id="explorer"),
    pytest.param("/triage", "Report Triage", id="triage"),
    pytest.param("/guide", "Guide: DKIM passes, DMARC fails", id="guide"),
    pytest.param("/check", "Domain Check", id="check"),
]
SIDEBAR = "Why does mail fail DMARC although DKIM passes?"


def expect_page(page, title: str) -> None:
    assert_no_exception(page)
    expect(main(page).get_by_role("heading", level=1)).to_have_text(title)
    # The frame (app.py) ran: its sidebar text is there and its navigation marks this page.
    expect(page.get_by_test_id("stSidebar")).to_contain_text(SIDEBAR)
    expect(page.get_by_test_id("stSidebarNav").get_by_role("link", name=title.split(":")[0])).to_have_attribute(
        "aria-current", "page"
    )
    # One tab title per page (issue 16): the page's own name first, then the app's.
    expect(page).to_have_title(f"{title.split(':')[0]} · DMARC Alignment Explainer")


@pytest.mark.parametrize(("path", "title"), PAGES)
def test_each_page_opens_by_its_link(app_url, page, path, title):
    open_app(page, app_url + path)
    expect_page(page, title)
    assert page.url.rstrip("/") == (app_url + path).rstrip("/")
    screenshot(page, f"page-{title.split(':')[0].lower().replace(' ', '-')}")


@pytest.mark.parametrize(("path", "title"), [p for p in PAGES if p.id != "explorer"])
def test_a_deep_link_as_a_fresh_servers_first_request(fresh_app_url, page, path, title):
    open_app(page, fresh_app_url + path)
    expect_page(page, title)


def test_the_sidebar_moves_between_pages(app_url, page):
    open_app(page, app_url)
    for path, title in [(p.values[0], p.values[1]) for p in PAGES[1:]] + [("/", "Alignment Explorer")]:
        with rerun(page):
            page.get_by_test_id("stSidebarNav").get_by_role("link", name=title.split(":")[0]).click()
        expect_page(page, title)
        assert page.url.rstrip("/") == (app_url + path).rstrip("/")


HOSTILE = (
    "<script>alert(1)</script> <img src=x onerror=alert(2)> **bold** [x](http://evil.example) www.evil.example"
    " :material/home: :rocket:"
)


@pytest.mark.parametrize(
    ("path", "parameters"),
    [
        pytest.param("/", {"from": HOSTILE, "dkim": f"{HOSTILE}:pass", "spf": HOSTILE, "adkim": HOSTILE}, id="explorer"),
        pytest.param("/check", {"domain": HOSTILE, "selectors": HOSTILE}, id="check"),
    ],
)
def test_a_hostile_link_shows_its_values_as_text(app_url, page, diagnostics, path, parameters):
    """A link is whatever its sender wrote: the page says which values it cannot use, as text."""
    open_app(page, f"{app_url}{path}?{urlencode(parameters)}")
    assert_no_exception(page)
    expect(main(page).get_by_test_id("stAlert").first).to_be_visible()
    assert any("<img src=x onerror=alert(2)>" in text for text in markdown_texts(page))
    assert_nothing_injected(page, diagnostics)
    screenshot(page, f"hostile-link-{path.strip('/') or 'explorer'}")
