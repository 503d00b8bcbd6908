"""The Domain Check page through AppTest, pointed at the local DNS server with DMARC_NAMESERVER."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from app.conftest import texts
from dmarc_core import NAMESERVER_ENV

from conftest import ROOT

PAGE = "app_pages/domain_check.py"


@pytest.fixture
def check_page(monkeypatch, dns_server):
    """Open the page as a link does: /check?domain=...&selectors=..."""
    monkeypatch.setenv(NAMESERVER_ENV, dns_server.address)

    def open_page(**query: str) -> AppTest:
        test = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
        for name, value in query.items():
            test.query_params[name] = value
        test.switch_page(PAGE).run()
        assert not test.exception, [e.value for e in test.exception]
        return test

    return open_page


def boxes(test: AppTest) -> str:
    return " ".join(texts([*test.success, *test.error, *test.warning, *test.info]))


def table(test: AppTest, column: str):
    return next(frame.value for frame in test.dataframe if column in frame.value.columns)


def test_the_empty_page_tells_a_newcomer_what_to_do(check_page):
    test = check_page()
    assert test.title[0].value == "Domain Check"
    assert any("Type the domain of your From: address" in text for text in texts(test.info))
    assert not test.error and not test.dataframe


def test_a_typed_domain_is_checked_and_its_record_explained_tag_by_tag(check_page):
    test = check_page()
    test.text_input(key="check_domain").set_value("strict.example.com").run()
    assert not test.exception
    verdict = texts(test.success)[0]
    assert verdict.startswith("### DMARC record found at _dmarc.strict.example.com") and "p=reject" in verdict
    tags = table(test, "Tag").set_index("Tag")
    assert tags.loc["adkim", "Value"] == "s" and tags.loc["adkim", ""] == "set"
    assert tags.loc["np", ""] == "default" and tags.loc["np", "RFC 9989"] == "added by RFC 9989"
    assert tags.loc["adkim", "What this value does"].startswith("strict: d= must be exactly the From: domain")
    found = boxes(test)
    assert "Root cause 3 (Subdomain policy mismatch): Strict DKIM alignment (adkim=s)" in found
    assert "Root cause 3 (Subdomain policy mismatch): The subdomain's own record is stricter" in found
    assert "Root cause 5 (p=reject or p=quarantine applied before alignment is fixed): p=reject" in found
    assert test.query_params["domain"] == "strict.example.com"


def test_a_link_fills_the_inputs_and_checks_its_selectors(check_page):
    test = check_page(domain="example.com", selectors="k1,old,nokey")
    assert test.text_input(key="check_domain").value == "example.com"
    assert test.text_input(key="check_selectors").value == "k1,old,nokey"
    keys = table(test, "Selector").set_index("Selector")
    assert keys.loc["k1", "Answer"] == "found" and keys.loc["old", "Answer"] == "the key is revoked (empty p=)"
    assert keys.loc["nokey", "Answer"] == "the name does not exist (NXDOMAIN)"
    found = boxes(test)
    assert "Root cause 4 (DKIM selector missing or expired): DKIM selector nokey has no key" in found
    assert "Root cause 4 (DKIM selector missing or expired): DKIM key old is revoked" in found
    assert any("v=spf1 ip4:192.0.2.0/24 include:_spf.example.net -all" in block.value for block in test.code)


def test_both_organizational_domains_and_where_they_differ(check_page):
    test = check_page(domain="a.mail.example.org")
    headings = texts(test.markdown)
    assert "### example.org" in headings and "### mail.example.org" in headings
    assert "RFC 7489 and RFC 9989 receivers see different things" in boxes(test)
    assert "example.org by the Public Suffix List (RFC 7489) but mail.example.org" in boxes(test)
    queries = [frame.value for frame in test.dataframe if "Query" in frame.value.columns]
    assert list(queries[1]["Query"]) == ["_dmarc.a.mail.example.org", "_dmarc.mail.example.org"]


def test_unreachable_dns_is_a_clear_message_within_seconds(check_page, monkeypatch, silent_dns):
    test = check_page()
    monkeypatch.setenv(NAMESERVER_ENV, silent_dns.address)
    started = time.monotonic()
    test.text_input(key="check_domain").set_value("example.com").run()
    assert time.monotonic() - started < 10.0  # DNS gives up in ~2 s; the rest is the page
    assert not test.exception
    message = texts(test.error)
    assert len(message) == 1 and message[0].startswith("### DNS did not answer")
    # In words for the visitor: the server's setting is the README's business, not the page's.
    assert silent_dns.address in message[0] and "whoever runs the app" in message[0] and NAMESERVER_ENV not in message[0]


def test_a_name_that_does_not_exist_is_said_first(check_page):
    test = check_page(domain="ghost.example.com")
    first = texts(test.error)[0]
    assert first.startswith("**ghost.example.com does not exist in DNS**") and "NXDOMAIN" in first
    assert texts(test.success)[0].startswith("### DMARC record found at _dmarc.example.com")  # np= applies, said next
    assert "has no SPF record" not in boxes(test)


@pytest.mark.parametrize(
    ("query", "words"),
    [({"domain": "exa mple.com"}, "contains a space"), ({"domain": "example.com", "selectors": "s_1"}, "not a DKIM selector")],
)
def test_bad_input_is_a_message_not_a_traceback(check_page, query, words):
    test = check_page(**query)
    assert any(words in text for text in texts(test.error))


def test_a_bad_dns_server_setting_is_named_as_such(check_page, monkeypatch):
    monkeypatch.setenv(NAMESERVER_ENV, "localhost")
    test = check_page(domain="example.com")
    assert texts(test.error) == [
        "**The app's DNS server setting is not usable.** 'localhost' is not a nameserver: "
        "give an IP address, optionally with a port (127.0.0.1:5353)."
    ]


def test_a_suggested_record_is_code_that_copies_exactly(check_page):
    test = check_page(domain="nothing.example")
    suggestion = next(text for text in texts([*test.warning, *test.error, *test.info]) if "simplest" in text or "Publish" in text)
    assert "`v=DMARC1; p=none; rua=mailto:dmarc@nothing.example`" in suggestion
    record = suggestion.split("`")[1]
    assert "\u2060" not in record and "\\" not in record


def test_the_spf_include_tree_with_its_lookup_count(check_page):
    test = check_page(domain="eleven.spftree.example")
    count = next(metric for metric in test.metric if metric.label.startswith("DNS lookups"))
    assert count.value == "11 of 10"
    assert any(text.startswith("**SPF needs 11 DNS lookups; receivers stop at 10**") for text in texts(test.warning))
    tree = table(test, "Record of")
    assert [name.replace("\u2003", " ").strip() for name in tree["Record of"]] == [
        "eleven.spftree.example",
        "\u21b3 four.spftree.example",
        "\u21b3 four.spftree.example",
    ]
    assert list(tree["DNS lookups here"]) == [3, 4, 4]
    assert list(tree["Reached by"]) == ["", "include:four.spftree.example", "include:four.spftree.example"]


def test_ten_lookups_are_within_the_limit_and_void_lookups_are_listed(check_page):
    ten = check_page(domain="ten.spftree.example")
    assert next(metric.value for metric in ten.metric if metric.label.startswith("DNS lookups")) == "10 of 10"
    assert not [text for text in texts(ten.warning) if "SPF needs" in text]
    voids = check_page(domain="threevoids.spftree.example")
    assert next(metric.value for metric in voids.metric if metric.label == "Void lookups") == "3 of 2"
    assert list(table(voids, "Term")["Term"]) == [f"a:gone{n}.spftree.example" for n in (1, 2, 3)]


def test_a_loop_in_the_tree_says_why_it_was_not_followed(check_page):
    tree = table(check_page(domain="loop1.spftree.example"), "Record of")
    assert tree["Answer"].iloc[-1].startswith("not followed: this record is already on the way here")


def test_hostile_record_text_stays_inert(check_page):
    test = check_page(domain="hostile.spftree.example")
    record = "v=spf1 ip4:192.0.2.1 <img src=x onerror=alert(1)> **bold** -all"
    assert table(test, "Record of")["Record"].iloc[0] == record
    assert not any("<img" in element.value for element in [*test.markdown, *test.warning, *test.error, *test.info])


def test_a_tree_too_large_to_walk_shows_a_lower_bound(check_page):
    test = check_page(domain="wide.spftree.example")
    assert next(metric.value for metric in test.metric if metric.label.startswith("DNS lookups")).startswith("at least ")
