"""The SPF record of a domain (RFC 7208 3.3, 4.5)."""

from __future__ import annotations

import pytest

from dmarc_core import fetch_spf, make_resolver


def test_one_record_of_several_strings_among_other_txt_records(resolver):
    spf = fetch_spf("example.com", resolver)
    assert (spf.status, spf.record) == ("found", "v=spf1 ip4:192.0.2.0/24 include:_spf.example.net -all")


def test_several_spf_records_are_an_error(resolver):
    spf = fetch_spf("example.net", resolver)
    assert (spf.status, spf.record) == ("multiple", None)
    assert set(spf.records) == {"v=spf1 ip4:198.51.100.0/24 -all", "v=spf1 include:_spf.example.com ~all"}


@pytest.mark.parametrize(
    ("domain", "status"),
    [
        ("plain.example", "no_record"),  # exists, no TXT at all
        ("strict.example.com", "no_record"),
        ("nothing.example", "nxdomain"),
        ("mail.servfail.test", "servfail"),
    ],
)
def test_no_spf_record(resolver, domain, status):
    spf = fetch_spf(domain, resolver)
    assert (spf.status, spf.record, spf.records) == (status, None, ())


def test_the_version_must_be_exactly_v_spf1_in_any_case(resolver):
    assert fetch_spf("lookalike.example.org", resolver).status == "no_record"  # v=spf10, spf2.0/pra
    assert fetch_spf("capitals.example.org", resolver).record == "V=SPF1 -all"


def test_a_server_that_never_answers(silent_dns):
    assert fetch_spf("example.com", make_resolver(silent_dns.address, lifetime=0.5)).status == "timeout"
