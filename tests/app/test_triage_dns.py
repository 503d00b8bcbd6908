"""The triage page's DNS actions against the loopback DNS server: enrich sources, check selectors."""

from __future__ import annotations

import time

import pytest

from app.conftest import texts
from dmarc_core import NAMESERVER_ENV

PAGE = "app_pages/triage.py"


@pytest.fixture
def demo(app, dns_server, monkeypatch):
    monkeypatch.setenv(NAMESERVER_ENV, dns_server.address)
    dns_server.queries.clear()
    test = app(PAGE)
    next(button for button in test.button if button.label == "Try the demo reports").click().run()
    return test


def sources(test):
    return next(frame.value for frame in test.dataframe if "explorer_link" in frame.value.columns)


def test_nothing_is_looked_up_until_asked(demo, dns_server):
    assert dns_server.queries == []
    assert "as_names" not in sources(demo).columns


def enrich(test) -> None:
    test.button(key="enrich").click().run()
    (job,) = test.session_state["enrichments"].values()
    deadline = time.monotonic() + 30
    while job.running and time.monotonic() < deadline:
        job.thread.join(0.1)  # the lookups run in a thread of their own; the page polls it
    assert not job.running and job.error == ""
    test.run()


def selector_table(test):
    return next(frame.value for frame in test.dataframe if "status" in frame.value.columns and "name" in frame.value.columns)


def test_enriching_sources_adds_networks_and_host_names(demo):
    enrich(demo)
    table = sources(demo)
    own = table[table["source"] == "example.com"].iloc[0]
    assert "EXAMPLE-NET" in own["as_names"] and own["host_names"] == "mail.example.com"
    mailchimp = table[table["source"] == "Mailchimp"].iloc[0]
    assert "EXAMPLE-ESP" in mailchimp["as_names"]
    assert not demo.exception


def test_checking_selectors_looks_up_the_missing_key(demo, dns_server):
    demo.button(key="check_selectors").click().run()
    keys = selector_table(demo)
    assert keys["name"].tolist() == ["sf2024._domainkey.example.com"]
    assert keys.loc[0, "status"] in ("nxdomain", "no_record")
    assert ("sf2024._domainkey.example.com", "TXT") in {(name.rstrip("."), qtype) for name, qtype, *_ in dns_server.queries}


def test_each_source_links_to_its_domain_check(demo):
    assert set(sources(demo)["check_link"]) == {"./check?domain=example.com", "./check?domain=news.example.com"}


def test_unreachable_dns_is_a_message(app, silent_dns, monkeypatch):
    monkeypatch.setenv(NAMESERVER_ENV, silent_dns.address)
    test = app(PAGE)
    next(button for button in test.button if button.label == "Try the demo reports").click().run()
    test.button(key="check_selectors").click().run()
    assert not test.exception
    keys = next(frame.value for frame in test.dataframe if "status" in frame.value.columns and "name" in frame.value.columns)
    assert keys.loc[0, "status"] == "timeout"
    assert any("Holding it back" in text for text in texts(test.text))


def test_dns_results_survive_a_rerun_and_a_visit_to_another_page(demo, dns_server):
    """Issue 16: results the person waited for stay on the page until the input changes."""
    enrich(demo)
    demo.button(key="check_selectors").click().run()
    asked = len(dns_server.queries)
    for move in ("rerun", "page"):
        if move == "page":
            demo.switch_page("app_pages/guide.py").run()
            demo.switch_page(PAGE).run()
        else:
            demo.run()
        assert not demo.exception
        assert "as_names" in sources(demo).columns
        assert selector_table(demo)["name"].tolist() == ["sf2024._domainkey.example.com"]
    assert len(dns_server.queries) == asked  # shown again, not asked again


def test_dns_results_belong_to_their_input(demo):
    enrich(demo)
    demo.button(key="check_selectors").click().run()
    demo.text_input(key="filter_search").input("Mailchimp").run()  # other addresses, no missing key
    assert "as_names" not in sources(demo).columns
    assert not any("status" in frame.value.columns and "name" in frame.value.columns for frame in demo.dataframe)
    demo.text_input(key="filter_search").input("").run()  # the first input again: its results again
    assert "as_names" in sources(demo).columns
    assert selector_table(demo)["name"].tolist() == ["sf2024._domainkey.example.com"]
