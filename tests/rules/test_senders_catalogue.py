"""The catalogue of known senders (data/senders.toml): large enough to name the sources people meet,
every entry identifiable and cited, no identifier claimed twice, and the look-ups by a report's
domain and by a PTR host name find the right service."""

from __future__ import annotations

import dataclasses
import itertools
import re
import tomllib

import pytest

from dmarc_core.rules.knowledge import (
    ORIGINATING_KINDS,
    RELAYING_KINDS,
    SENDER_KINDS,
    KnownSender,
    knowledge,
    known_sender,
    known_sender_by_host,
)

from conftest import ROOT

CATALOGUE = ROOT / "dmarc_core" / "data" / "senders.toml"
LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
SENDERS = knowledge().senders


def is_dns_name(name: str) -> bool:
    """A lowercase host-style domain name of two labels or more: no scheme, path, port or trailing dot."""
    labels = name.split(".")
    return len(name) <= 253 and len(labels) >= 2 and all(LABEL.match(label) for label in labels)


def test_the_catalogue_names_at_least_200_services():
    assert len(SENDERS) >= 200
    assert len({sender.name for sender in SENDERS}) == len(SENDERS)


def test_every_kind_is_known_and_says_whether_it_originates():
    assert set(ORIGINATING_KINDS).isdisjoint(RELAYING_KINDS)
    assert {sender.kind for sender in SENDERS} <= set(SENDER_KINDS)
    # The families are all there: ESPs, CRMs, ticketing, payroll, cloud mail, security
    # gateways, forwarders and mailing-list hosts.
    assert {sender.kind for sender in SENDERS} == set(SENDER_KINDS)
    for sender in SENDERS:
        assert sender.originates is (sender.kind in ORIGINATING_KINDS), sender.name


@pytest.mark.parametrize("sender", SENDERS, ids=lambda sender: sender.name)
def test_every_entry_is_identifiable_and_cited(sender):
    assert sender.name.strip() == sender.name and sender.name
    assert sender.domains or sender.host_patterns
    assert sender.sources and all(source.startswith("https://") for source in sender.sources)
    assert len(set(sender.sources)) == len(sender.sources)
    assert sender.can_sign in (True, False, None)
    assert sender.setting is None or sender.setting.strip()
    assert isinstance(sender.domains, tuple) and isinstance(sender.host_patterns, tuple) and isinstance(sender.sources, tuple)


@pytest.mark.parametrize("domain", [domain for sender in SENDERS for domain in sender.domains])
def test_domains_are_lowercase_dns_names(domain):
    assert is_dns_name(domain), domain


@pytest.mark.parametrize("pattern", [pattern for sender in SENDERS for pattern in sender.host_patterns])
def test_host_patterns_are_dns_name_suffixes(pattern):
    assert pattern.startswith(".") and is_dns_name(pattern[1:]), pattern


def test_no_domain_or_host_pattern_belongs_to_two_entries():
    owners: dict[str, set[str]] = {}
    for sender in SENDERS:
        for name in (*sender.domains, *(pattern[1:] for pattern in sender.host_patterns)):
            owners.setdefault(name, set()).add(sender.name)
    assert {name: names for name, names in owners.items() if len(names) > 1} == {}
    domains = [domain for sender in SENDERS for domain in sender.domains]
    patterns = [pattern for sender in SENDERS for pattern in sender.host_patterns]
    assert len(domains) == len(set(domains)) and len(patterns) == len(set(patterns))


@pytest.mark.parametrize(
    ("domain", "name"),
    [
        ("x.gappssmtp.com", "Google Workspace / Gmail"),
        ("bounce.emsd1.com", "ActiveCampaign"),
        ("pm.mtasv.net", "Postmark"),
        ("us._netblocks.mimecast.com", "Mimecast"),
        ("dispatch-us.ppe-hosted.com", "Proofpoint Essentials"),
        ("mail.zendesk.com", "Zendesk"),
        ("email.freshdesk.com", "Freshdesk"),
        ("spf.protection.outlook.com", "Microsoft 365 / Outlook.com"),
        ("mysite.atlassian.net", "Atlassian (Jira, Confluence, Jira Service Management)"),
        ("Spf.Titan.Email.", "Titan Email"),
    ],
)
def test_known_sender_finds_an_entry_by_a_subdomain_of_its_domain(domain, name):
    assert known_sender(domain).name == name


def test_every_domain_and_its_subdomains_name_their_own_entry():
    for sender in SENDERS:
        for domain in sender.domains:
            assert known_sender(domain) is sender, domain
            assert known_sender(f"bounce.{domain}") is sender, domain


@pytest.mark.parametrize(
    ("host", "name"),
    [
        ("mail-wr1-f54.google.com", "Google Workspace / Gmail"),
        ("mail-eastusazon11012345.outbound.protection.outlook.com.", "Microsoft 365 / Outlook.com"),
        ("mx0a-00123401.pphosted.com", "Proofpoint"),
        ("o1.ptr1234.sendgrid.net", "SendGrid"),
        ("mail132-5.atl131.mcsv.net", "Mailchimp"),
        ("a8-30.smtp-out.amazonses.com", "Amazon SES"),
        ("EU-SMTP-DELIVERY-1.MIMECAST.COM", "Mimecast"),
        ("esa1.hc1234-5.iphmx.com", "Cisco Secure Email (IronPort)"),
    ],
)
def test_known_sender_by_host_finds_an_entry_by_a_ptr_host_name(host, name):
    assert known_sender_by_host(host).name == name


@pytest.mark.parametrize("host", ["google.com", "notgoogle.com", "mail.example.com", "com", "", None, "sendgrid.net.example.com"])
def test_host_names_outside_every_pattern_name_nobody(host):
    assert known_sender_by_host(host) is None


def test_every_host_pattern_names_its_own_entry():
    # Also where one pattern ends with another: the longest wins, whatever the order of the file.
    for sender in SENDERS:
        for pattern in sender.host_patterns:
            assert known_sender_by_host(f"mail1{pattern}") is sender, pattern


@pytest.mark.parametrize(
    ("name", "originates"),
    [
        ("Mailchimp", True),
        ("Zendesk", True),
        ("ADP", True),
        ("Shopify", True),
        ("SuperOffice CRM", True),
        ("Microsoft 365 / Outlook.com", False),
        ("Mimecast", False),
        ("ImprovMX", False),
        ("Topicbox", False),
    ],
)
def test_services_that_relay_others_mail_do_not_originate(name, originates):
    assert next(sender for sender in SENDERS if sender.name == name).originates is originates


def test_a_sender_can_still_be_made_from_name_kind_domains_and_setting():
    relay = KnownSender("Some relay", "forwarder", ("relay.example",), None)
    assert relay.host_patterns == () and relay.can_sign is None and relay.sources == () and not relay.originates


def test_the_file_keeps_one_table_per_entry_grouped_by_kind_and_explains_every_field():
    text = CATALOGUE.read_text("utf-8")
    entries = tomllib.loads(text)["senders"]
    assert len(re.findall(r"^\[\[senders\]\]$", text, re.MULTILINE)) == len(entries) == len(SENDERS)
    kinds = [entry["kind"] for entry in entries]
    assert [kind for kind, _ in itertools.groupby(kinds)] == list(dict.fromkeys(kinds)), "kinds are not grouped"
    header = re.split(r"^\[\[senders\]\]$", text, maxsplit=1, flags=re.MULTILINE)[0]
    for field in dataclasses.fields(KnownSender):
        assert re.search(rf"^#\s+{field.name}\s", header, re.MULTILINE), field.name
    for kind in SENDER_KINDS:
        assert re.search(rf"^#\s+{kind}\s", header, re.MULTILINE), kind
    for entry in entries:
        assert set(entry) <= {field.name for field in dataclasses.fields(KnownSender)}, entry["name"]
