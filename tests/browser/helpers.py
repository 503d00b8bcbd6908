"""Reading the app as a browser shows it: verdicts, dataframes, link cells, downloads.

Streamlit draws dataframes on a canvas (glide-data-grid); what a test can read is the grid's
accessibility table inside the canvas, which holds the cells currently in view. Grids are
scrolled into view before they are read, and tests that need every column use a wide viewport.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Locator, Page, expect


def main(page: Page) -> Locator:
    return page.get_by_test_id("stMain")


def expect_verdict(page: Page, verdict: str) -> None:
    """The Explorer's verdict box says ``verdict`` ("DMARC pass" / "DMARC fail")."""
    expect(main(page).get_by_role("heading", name=verdict, exact=True)).to_be_visible()


def query(url: str) -> dict[str, str]:
    """A URL's query parameters, decoded: links compare by meaning, not by percent-encoding."""
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


def markdown_texts(page: Page) -> list[str]:
    """The main area's markdown as a reader sees it (inert() slips invisible word joiners in)."""
    return [text.replace("\u2060", "") for text in main(page).get_by_test_id("stMarkdownContainer").all_inner_texts()]


def grid(page: Page, column: str) -> Locator:
    """The shown dataframe with a column headed ``column``, scrolled into view so its cells are drawn
    (a grid out of view draws no accessibility table, so each is brought into view in turn)."""
    frames = page.get_by_test_id("stDataFrame")
    expect(frames.first).to_be_attached()
    seen = []
    for index in range(frames.count()):
        frame = frames.nth(index)
        if not frame.is_visible():  # in a closed expander or another tab
            continue
        frame.scroll_into_view_if_needed()
        headers = frame.locator("table[role=grid] thead th")
        expect(headers.first).to_be_attached()
        seen.append(headers.all_text_contents())
        if column in seen[-1]:
            return frame
    raise AssertionError(f"no dataframe in view has a column {column!r}; columns seen: {seen}")


def rows(frame: Locator) -> list[dict[str, str]]:
    """The grid's rows in view, each as {column header: cell text}."""
    return frame.locator("table[role=grid]").evaluate(
        """table => {
            const headers = [...table.querySelectorAll('thead th')].map(th => [th.getAttribute('aria-colindex'), th.textContent]);
            return [...table.querySelectorAll('tbody tr')].map(tr => Object.fromEntries(headers.map(([index, name]) => {
                const cell = tr.querySelector(`td[aria-colindex="${index}"]`);
                return [name, cell ? cell.textContent : null];
            })));
        }"""
    )


def row_count(frame: Locator) -> int:
    """All the grid's rows, in view or not (aria-rowcount counts the header row too)."""
    return int(frame.locator("table[role=grid]").get_attribute("aria-rowcount")) - 1


def marked_row(page: Page) -> int | None:
    """The row of the quick diagnosis table the Explorer marks "◀ this case"."""
    marked = [row["Row"] for row in rows(grid(page, "policy_evaluated dkim")) if row.get("") == "◀ this case"]
    return int(marked[0]) if marked else None


def cell_link(page: Page, frame: Locator, row: int, column: str) -> Locator:
    """The link of a LinkColumn cell, as a keyboard user reaches it: focus the grid, go to its first
    cell (Control+Home), arrow to the cell; Enter opens its overlay with the link in it."""
    headers = frame.locator("table[role=grid] thead th").all_text_contents()
    assert column in headers, f"column {column!r} is not in view: {headers}"
    frame.get_by_test_id("data-grid-canvas").focus()
    page.keyboard.press("Control+Home")
    for _ in range(row):
        page.keyboard.press("ArrowDown")
    for _ in range(headers.index(column)):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    link = page.locator("a.gdg-link-area")
    expect(link).to_be_visible()
    return link


def main_and_window_width(page: Page) -> tuple[int, int]:
    """How wide the main area's content is (scrollWidth) and how wide the window is."""
    return tuple(page.evaluate("[document.querySelector('[data-testid=stMain]').scrollWidth, window.innerWidth]"))


def metric(page: Page, label: str) -> str:
    label_exactly = page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True)
    box = main(page).get_by_test_id("stMetric").filter(has=label_exactly)
    return box.get_by_test_id("stMetricValue").inner_text().strip()


def assert_nothing_injected(page: Page, diagnostics) -> None:
    """Hostile text (<script>, <img onerror>, markdown and plotly links) stayed text: no dialog, no
    error, no element made of it."""
    assert diagnostics.dialogs == [] and diagnostics.page_errors == []
    assert diagnostics.console_errors() == []
    expect(page.locator("img[src='x']")).to_have_count(0)
    expect(page.locator("script", has_text="alert(")).to_have_count(0)
    links = page.evaluate("""() => [...document.querySelectorAll('a')]
        .map(a => a.getAttribute('href') || a.getAttribute('xlink:href') || '').filter(href => /evil/.test(href))""")
    assert links == []
    for tag in ("strong", "b", "em"):
        expect(main(page).locator(tag).filter(has_text=re.compile(r"^bold$"))).to_have_count(0)
    # Shortcodes stay text: no icon drawn from :material/home:, no emoji from :rocket:.
    expect(page.locator("span[role='img'][aria-label='home icon']")).to_have_count(0)
    assert "\N{ROCKET}" not in main(page).inner_text()
