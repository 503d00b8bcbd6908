"""Who a source is (issue 16, "Know every sender"): the four kinds of sender, kept as data with their
titles and meanings, and the rule that sorts a source into one of them."""

from __future__ import annotations

import pytest

from dmarc_core.rules.knowledge import FORWARDING_KINDS, SENDER_KINDS, knowledge, known_sender, sender_kind

KINDS = ("own", "known_service", "forwarder", "unknown")


def test_every_kind_has_a_title_and_a_one_sentence_meaning():
    kinds = knowledge().sender_kinds
    assert tuple(kinds) == KINDS
    for key, kind in kinds.items():
        assert kind.key == key and kind.title.strip() and kind.meaning.endswith(".")
        assert knowledge().sender_kind_title(key) == kind.title
    assert len({kind.title for kind in kinds.values()}) == len(kinds)


def test_only_forwarders_and_mailing_lists_are_forwarders_by_kind():
    """A mailbox provider or gateway also sends your own users' mail (the catalogue's kinds)."""
    assert set(FORWARDING_KINDS) == {"forwarder", "mailing_list"} and set(FORWARDING_KINDS) <= set(SENDER_KINDS)


def test_mail_relayed_on_the_way_is_a_forwarders_whoever_signed_it():
    """Root cause 2: the triage's forwarded cause decides, even beside a known service or your own pass."""
    assert sender_kind(None, yours=False, relayed=True) == "forwarder"
    assert sender_kind(known_sender("outlook.com"), yours=False, relayed=True) == "forwarder"
    assert sender_kind(None, yours=True, relayed=True) == "forwarder"


@pytest.mark.parametrize("domain", ["forwardemail.net", "groups.io", "improvmx.com"])
def test_a_forwarding_service_or_list_host_is_a_forwarder(domain):
    sender = known_sender(domain)
    assert sender.kind in FORWARDING_KINDS
    assert sender_kind(sender, yours=True, relayed=False) == "forwarder"


@pytest.mark.parametrize("domain", ["mcsv.net", "amazonses.com", "sendgrid.net", "onmicrosoft.com", "mimecast.com"])
@pytest.mark.parametrize("yours", [False, True], ids=["not aligned", "aligned"])
def test_a_catalogued_service_of_another_organization_is_a_known_service_aligned_or_not(domain, yours):
    """Root cause 1's ESPs, and a mailbox provider sending your users' mail: known, whether or not
    they sign with your domain too."""
    sender = known_sender(domain)
    assert sender_kind(sender, yours=yours, relayed=False) == "known_service"


def test_your_own_authentication_without_another_service_is_your_own_servers():
    assert sender_kind(None, yours=True, relayed=False) == "own"


def test_a_service_that_is_your_own_organization_is_your_own_servers():
    """google.com's own mail, named "Google Workspace / Gmail" by the catalogue, is google.com's own."""
    assert sender_kind(known_sender("google.com"), yours=True, relayed=False, service_is_yours=True) == "own"


def test_nothing_that_identifies_a_source_leaves_it_unknown():
    assert sender_kind(None, yours=False, relayed=False) == "unknown"
