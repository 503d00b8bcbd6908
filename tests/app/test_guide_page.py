"""The Guide through AppTest: the article's content, each scenario linked to the Explorer."""

from __future__ import annotations

from urllib.parse import parse_qs

from app.conftest import texts
from dmarc_core import scenario_from_params


def links(test):
    return {link.proto.label: parse_qs(link.proto.query_string) for link in test.get("page_link")}


def test_the_guide_shows_the_articles_sections(app):
    test = app("app_pages/guide.py")
    headers = texts(test.header)
    assert headers == [
        "Alignment modes",
        "Quick diagnosis table",
        "The five root causes",
        "Rollout plan",
        "Frequently asked questions",
    ]
    assert [expander.label for expander in test.expander][:5] == [
        "1. DKIM signing domain mismatch",
        "2. Email forwarding breaks alignment",
        "3. Subdomain policy mismatch",
        "4. DKIM selector missing or expired",
        "5. p=reject or p=quarantine applied before alignment is fixed",
    ]
    assert any("95%" in text for text in texts(test.caption))


def test_each_table_row_links_to_a_scenario_that_lands_on_that_row(app):
    test = app("app_pages/guide.py")
    row_links = {label: query for label, query in links(test).items() if label.startswith("Row ")}
    assert len(row_links) == 5
    for label, query in row_links.items():
        scenario, problems = scenario_from_params({name: values[0] for name, values in query.items()})
        assert problems == []
        assert f"Row {scenario.evaluate().diagnosis.table_row}:" in label


def test_faq_links_open_the_explorer(app):
    test = app("app_pages/guide.py")
    assert [link.proto.label for link in test.get("page_link")].count("See it in the Explorer") == 3
    # The Explorer is the default page, served at the root URL.
    assert {link.proto.page for link in test.get("page_link")} == {""}
