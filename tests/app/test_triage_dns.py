"""The triage page's DNS actions against the loopback DNS server: enrich sources, check selectors."""

from __future__ import annotations

import time

import pytest

from app.conftest import texts
from dmarc_core import NAMESERVER_ENV, knowledge
from dmarc_core.analysis.summary import UNAUTHENTICATED

from reportkit import record, report

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


def enrich_with(test):
    """Enrich sources, however long DNS takes to fail; the job, once the page shows its results."""
    test.button(key="enrich").click().run()
    (job,) = test.session_state["enrichments"].values()
    job.thread.join(60)
    assert not job.running and job.error == ""
    test.run()
    return job


def test_a_dns_server_that_never_answers_is_said_in_words(app, silent_dns, monkeypatch):
    """Issue 16: "Enrich sources" with DNS down says that DNS failed, for how many, and what to do."""
    monkeypatch.setenv(NAMESERVER_ENV, silent_dns.address)
    test = app(PAGE)
    next(button for button in test.button if button.label == "Try the demo reports").click().run()
    job = enrich_with(test)
    assert not test.exception
    total = job.total
    (warning,) = [text.replace("**", "") for text in texts(test.warning) if "DNS did not answer" in text]
    assert f"DNS did not answer for {total} of {total} addresses: no answer in time for {total}." in warning
    assert "may be unreachable" in warning and "again later" in warning
    assert not [text for text in texts(test.caption) if text.startswith("Host names and networks")]


def test_a_dns_server_failing_some_names_is_said_for_those(demo):
    """The loopback server answers SERVFAIL for 203.0.113.0/24's reverse zone: the demo's four
    unauthenticated addresses; the others are in the table."""
    job = enrich_with(demo)
    (warning,) = [text.replace("**", "") for text in texts(demo.warning) if "DNS did not answer" in text]
    assert f"DNS did not answer for 4 of {job.total} addresses: the DNS server could not answer (SERVFAIL) for 4." in warning
    assert "again later" in warning and f"of {job.total} addresses are in the table above" in warning


def test_enriched_addresses_are_named_by_their_host_names_with_their_kind(app, dns_server, monkeypatch):
    """Mail nothing authenticated, from a Microsoft 365 and an Amazon SES server (by their PTR) and
    an address without one: the first two named and sorted as known services once enriched."""
    monkeypatch.setenv(NAMESERVER_ENV, dns_server.address)
    spoofed = [
        record(spf=[("example.com", "fail")], source_ip=f"198.51.100.{host}", count=count)
        for host, count in ((40, 30), (41, 20), (42, 10))
    ]
    test = app(PAGE)
    test.file_uploader(key="uploads").upload("unauthenticated.xml", report(*spoofed)).run()
    assert sources(test)["source"].tolist() == [UNAUTHENTICATED]
    enrich_with(test)
    table = sources(test).set_index("source")
    titles = knowledge().sender_kinds
    assert table.loc["Microsoft 365 / Outlook.com", ["sender_kind", "host_names"]].tolist() == [
        titles["known_service"].title,
        "mail-am6eur05on2040.outbound.protection.outlook.com",
    ]
    assert table.loc["Amazon SES", "sender_kind"] == titles["known_service"].title
    assert table.loc[UNAUTHENTICATED, ["sender_kind", "addresses"]].tolist() == [titles["unknown"].title, "198.51.100.41"]
    assert not test.exception
