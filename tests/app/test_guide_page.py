"""The Guide through AppTest: the article's content, each scenario linked to the Explorer."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urljoin, urlsplit

from app.conftest import readable, texts
from dmarc_core import knowledge, scenario_from_params

# A markdown link: [label](<href>), the label escaped by inert().
LINK = re.compile(r"\[((?:\\.|[^\]])*)\]\(<([^>]*)>\)")


def hrefs(test) -> list[tuple[str, str]]:
    """Every link in the page's markdown, as (label as a reader sees it, href)."""
    return [(readable(label), href) for element in test.markdown for label, href in LINK.findall(element.value)]


def links(test):
    return {label: parse_qs(urlsplit(href).query) for label, href in hrefs(test)}


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
    assert [label for label, _ in hrefs(test)].count("See it in the Explorer") == 3


def test_every_scenario_link_is_a_real_link_to_the_explorer(app):
    """Issue 16: a link that can be copied or opened in a new tab. The Explorer is the default page,
    served at the app's root: from the Guide (/guide, or /base/guide behind a base path) each href
    resolves there, with the scenario in its query."""
    test = app("app_pages/guide.py")
    found = hrefs(test)
    tried = [label for label, _ in found if label.startswith("Try it: ")]
    # Every scenario of a root cause is tried under that cause.
    facts = knowledge()
    with_cause = [facts.scenario(preset.key).title for preset in facts.scenarios if facts.scenario(preset.key).root_cause]
    assert sorted(label.removeprefix("Try it: ") for label in tried) == sorted(with_cause)
    assert len(found) == 5 + len(tried) + 3  # the table's rows, the root causes' scenarios, the FAQ's
    for page, root in (("http://host/guide", "/"), ("http://host/base/guide", "/base/")):
        for _, href in found:
            target = urlsplit(urljoin(page, href))
            assert target.path == root
            scenario, problems = scenario_from_params({name: values[0] for name, values in parse_qs(target.query).items()})
            assert problems == [] and scenario.from_domain
