"""DMARC record discovery by RFC 7489 6.6.3 and by the RFC 9989 DNS tree walk (4.10, 4.10.1,
4.10.2), against the zones in tests/zones. The expected queries and organizational domains are
the RFC's own examples (4.10, 4.10.2, 5.1.8, appendix B.4), not this code's output."""

from __future__ import annotations

import time

import pytest

from dmarc_core import discover_dmarc, make_resolver, tree_walk_domains


def dmarc_names(domains):
    return [f"_dmarc.{domain}" for domain in domains]


# RFC 9989 4.10: "a.b.c.d.e.f.g.h.i.j.mail.example.com ... would require the following eight queries".
RFC_4_10_WALK = [
    "_dmarc.a.b.c.d.e.f.g.h.i.j.mail.example.com",
    "_dmarc.g.h.i.j.mail.example.com",
    "_dmarc.h.i.j.mail.example.com",
    "_dmarc.i.j.mail.example.com",
    "_dmarc.j.mail.example.com",
    "_dmarc.mail.example.com",
    "_dmarc.example.com",
    "_dmarc.com",
]
# RFC 9989 5.1.8: the record at the zone cut b.c.d.e.f.g.example.com "will never be discovered".
RFC_5_1_8_WALK = [
    "_dmarc.mail.a.b.c.d.e.f.g.example.com",
    "_dmarc.c.d.e.f.g.example.com",
    "_dmarc.d.e.f.g.example.com",
    "_dmarc.e.f.g.example.com",
    "_dmarc.f.g.example.com",
    "_dmarc.g.example.com",
    "_dmarc.example.com",
    "_dmarc.com",
]
# RFC 9989 B.4.2, deep tree walk.
RFC_B_4_2_WALK = [
    "_dmarc.a.b.c.d.e.f.g.h.i.j.k.example.com",
    "_dmarc.g.h.i.j.k.example.com",
    "_dmarc.h.i.j.k.example.com",
    "_dmarc.i.j.k.example.com",
    "_dmarc.j.k.example.com",
    "_dmarc.k.example.com",
    "_dmarc.example.com",
    "_dmarc.com",
]


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("a.b.c.d.e.f.g.h.i.j.mail.example.com", RFC_4_10_WALK),
        ("mail.a.b.c.d.e.f.g.example.com", RFC_5_1_8_WALK),
        # 4.10.2: "starting with _dmarc.a.mail.example.com and finishing with _dmarc.com".
        ("a.mail.example.com", ["_dmarc.a.mail.example.com", "_dmarc.mail.example.com", "_dmarc.example.com", "_dmarc.com"]),
        # Eight labels: the parent has seven, so the walk goes up one label at a time (4.10.1).
        (
            "a.b.c.d.e.f.example.com",
            dmarc_names(
                [
                    "a.b.c.d.e.f.example.com",
                    "b.c.d.e.f.example.com",
                    "c.d.e.f.example.com",
                    "d.e.f.example.com",
                    "e.f.example.com",
                    "f.example.com",
                    "example.com",
                    "com",
                ]
            ),
        ),
        # Nine labels: straight from the domain to its last seven (step 4, x >= 8).
        (
            "x.a.b.c.d.e.f.example.com",
            dmarc_names(
                [
                    "x.a.b.c.d.e.f.example.com",
                    "b.c.d.e.f.example.com",
                    "c.d.e.f.example.com",
                    "d.e.f.example.com",
                    "e.f.example.com",
                    "f.example.com",
                    "example.com",
                    "com",
                ]
            ),
        ),
        ("com", ["_dmarc.com"]),
    ],
)
def test_the_tree_walk_asks_at_most_eight_names_in_the_rfcs_order(domain, expected):
    assert dmarc_names(tree_walk_domains(domain)) == expected


def test_a_deep_name_is_walked_as_in_rfc_9989_b_4_2(resolver, dns_server):
    found = discover_dmarc("a.b.c.d.e.f.g.h.i.j.k.example.com", resolver)
    walk = found.tree_walk
    assert list(walk.queries) == RFC_B_4_2_WALK
    assert (walk.organizational_domain, walk.found_at) == ("example.com", "_dmarc.example.com")
    # RFC 7489 asks the domain, then the organizational domain by the Public Suffix List.
    assert list(found.rfc7489.queries) == ["_dmarc.a.b.c.d.e.f.g.h.i.j.k.example.com", "_dmarc.example.com"]
    # Both methods together ask DNS each name once, and nothing else.
    assert sorted(dns_server.names()) == sorted(RFC_B_4_2_WALK)


def test_a_zone_cut_beyond_eight_labels_is_never_queried(resolver, dns_server):
    walk = discover_dmarc("mail.a.b.c.d.e.f.g.example.com", resolver).tree_walk
    assert list(walk.queries) == RFC_5_1_8_WALK
    assert "_dmarc.b.c.d.e.f.g.example.com" not in dns_server.names()
    assert walk.organizational_domain == "example.com"


def test_fewest_labels_decides_without_psd_rfc_9989_b_4_1(resolver):
    found = discover_dmarc("signing.example.com", resolver)
    walk = found.tree_walk
    assert walk.organizational_domain == "example.com"  # "the highest element ... (fewest labels)"
    assert walk.found_at == "_dmarc.signing.example.com"  # its own record applies
    assert "fewest labels" in walk.reason
    assert found.rfc7489.found_at == "_dmarc.signing.example.com" and found.differences == ()


def test_a_psd_record_makes_the_name_below_it_the_organizational_domain_rfc_9989_b_4_3(resolver, dns_server):
    author = discover_dmarc("giant.bank.example", resolver)
    assert author.tree_walk.organizational_domain == "giant.bank.example"
    assert author.tree_walk.found_at == "_dmarc.giant.bank.example"
    assert list(author.tree_walk.queries) == ["_dmarc.giant.bank.example", "_dmarc.bank.example"]  # stops at psd=y
    assert "_dmarc.example" not in dns_server.names()

    mail_from = discover_dmarc("mail.giant.bank.example", resolver).tree_walk
    assert mail_from.organizational_domain == "giant.bank.example"
    assert mail_from.found_at == "_dmarc.giant.bank.example"  # the organizational domain's record

    signer = discover_dmarc("mail.mega.bank.example", resolver).tree_walk
    assert signer.organizational_domain == "mega.bank.example"  # "so DKIM is not aligned"
    assert signer.found_at == "_dmarc.bank.example"  # no record of its own or its org: the PSD's applies


def test_the_public_suffix_list_and_the_tree_walk_disagree_on_a_psd(resolver):
    found = discover_dmarc("mail.giant.bank.example", resolver)
    # "example" is not in the Public Suffix List, so the list makes bank.example the organization.
    assert (found.rfc7489.organizational_domain, found.tree_walk.organizational_domain) == ("bank.example", "giant.bank.example")
    assert found.rfc7489.found_at == "_dmarc.bank.example"
    assert len(found.differences) == 2
    assert "bank.example by the Public Suffix List (RFC 7489) but giant.bank.example" in found.differences[0]


def test_psd_y_on_the_starting_domain_does_not_count(resolver):
    # 4.10.2 rule 2 applies to "a valid DMARC Policy Record, other than the one for the domain where
    # the tree walk started"; the walk stops there, and the fewest-labels rule keeps the domain itself.
    walk = discover_dmarc("bank.example", resolver).tree_walk
    assert list(walk.queries) == ["_dmarc.bank.example"]
    assert (walk.organizational_domain, walk.found_at) == ("bank.example", "_dmarc.bank.example")


def test_psd_n_declares_an_organizational_domain_rfc_9989_4_10_2(resolver, dns_server):
    found = discover_dmarc("a.mail.example.org", resolver)
    walk = found.tree_walk
    assert (walk.organizational_domain, walk.found_at) == ("mail.example.org", "_dmarc.mail.example.org")
    assert list(walk.queries) == ["_dmarc.a.mail.example.org", "_dmarc.mail.example.org"]
    assert "_dmarc.org" not in dns_server.names()
    # RFC 7489 goes straight to the organizational domain by the list, and finds p=reject there.
    assert (found.rfc7489.organizational_domain, found.rfc7489.found_at) == ("example.org", "_dmarc.example.org")
    assert found.rfc7489.policy.record.p == "reject" and walk.policy.record.p == "none"
    assert any("RFC 7489 apply the record at _dmarc.example.org" in note for note in found.differences)


def test_only_a_psd_record_up_the_tree_rfc_9989_4_10_2(resolver):
    found = discover_dmarc("a.mail.nopolicy.test", resolver)
    walk = found.tree_walk
    # "only yields a DMARC Policy Record at _dmarc.com ... with psd=y": one label below it.
    assert walk.organizational_domain == "nopolicy.test"
    assert walk.found_at == "_dmarc.test"  # no record at the organizational domain: the PSD's applies
    assert (found.rfc7489.status, found.rfc7489.found_at) == ("nxdomain", None)


def test_rfc_7489_asks_the_organizational_domain_only_when_the_domain_has_no_record(resolver):
    inherited = discover_dmarc("news.example.com", resolver).rfc7489
    assert list(inherited.queries) == ["_dmarc.news.example.com", "_dmarc.example.com"]
    assert (inherited.status, inherited.found_at) == ("found", "_dmarc.example.com")
    own = discover_dmarc("User <user@Example.COM.>", resolver).rfc7489
    assert list(own.queries) == ["_dmarc.example.com"]
    assert own.policy.text == "v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com"  # two strings, joined


def test_several_records_are_all_discarded(resolver):
    found = discover_dmarc("example.net", resolver)
    for method in (found.rfc7489, found.tree_walk):
        assert (method.status, method.found_at) == ("multiple", None)
    assert len(found.tree_walk.lookups[0].records) == 2
    # RFC 7489 stops at the domain's records; a subdomain meets them at the organizational domain.
    assert discover_dmarc("news.example.net", resolver).rfc7489.status == "multiple"


def test_txt_records_that_are_not_dmarc_records_are_discarded(resolver):
    found = discover_dmarc("plain.example", resolver)
    assert found.tree_walk.status == "no_record" and found.tree_walk.found_at is None
    # An SPF record put at _dmarc by mistake, and v=dmarc1 (the version is case-sensitive).
    assert set(found.tree_walk.lookups[0].ignored) == {"v=spf1 -all", "v=dmarc1; p=reject"}


def test_no_record_anywhere(resolver):
    found = discover_dmarc("nothing.example", resolver)
    assert (found.rfc7489.status, found.tree_walk.status) == ("nxdomain", "nxdomain")
    assert found.tree_walk.organizational_domain == "nothing.example"  # "the initial target domain"


def test_an_unusable_record_is_found_and_says_why(resolver):
    policy = discover_dmarc("badpolicy.example.org", resolver).tree_walk.policy
    assert policy.status == "found" and policy.record is None
    assert "p=block is not a policy" in policy.error


def test_a_server_failure_stops_the_walk(resolver):
    found = discover_dmarc("mail.servfail.test", resolver)
    assert (found.rfc7489.status, found.tree_walk.status) == ("servfail", "servfail")
    assert list(found.tree_walk.queries) == ["_dmarc.mail.servfail.test"]
    assert found.tree_walk.organizational_domain is None and "unknown" in found.tree_walk.reason


def test_a_server_that_never_answers(silent_dns):
    started = time.monotonic()
    found = discover_dmarc("news.example.com", make_resolver(silent_dns.address, lifetime=0.5))
    assert time.monotonic() - started < 5.0
    assert (found.rfc7489.status, found.tree_walk.status) == ("timeout", "timeout")
    assert found.differences == ()


def test_the_first_example_of_rfc_9989_4_10_2(resolver):
    # "If there are DMARC Policy Records published at _dmarc.mail.example.com and _dmarc.example.com,
    # but not at _dmarc.a.mail.example.com or _dmarc.com, then the Organizational Domain ... would be
    # example.com."
    walk = discover_dmarc("a.mail.one.walk", resolver).tree_walk
    assert walk.organizational_domain == "one.walk"
    # 4.10.1: with none at the Author Domain, the Organizational Domain's record applies, not the one
    # at mail.one.walk, which is neither.
    assert walk.found_at == "_dmarc.one.walk"
    assert list(walk.queries) == ["_dmarc.a.mail.one.walk", "_dmarc.mail.one.walk", "_dmarc.one.walk", "_dmarc.walk"]


@pytest.mark.parametrize("department", ["four", "five"])
def test_psd_n_stops_the_walk_whatever_else_the_record_lacks(resolver, department):
    # 4.10 step 6: "If a single record remains and it contains a psd=n or psd=y tag, stop."
    walk = discover_dmarc(f"a.mail.{department}.walk", resolver).tree_walk
    assert list(walk.queries) == [f"_dmarc.a.mail.{department}.walk", f"_dmarc.mail.{department}.walk"]
    assert walk.organizational_domain == f"mail.{department}.walk"  # 4.10.2 rule 1


def test_a_record_without_p_applies_as_p_none(resolver):
    policy = discover_dmarc("a.mail.four.walk", resolver).tree_walk.policy
    assert policy.record is not None and policy.record.p == "none"  # RFC 9989 4.7


def test_a_record_with_a_leading_space_is_no_dmarc_record(resolver):
    walk = discover_dmarc("six.walk", resolver).tree_walk
    assert walk.policy is None and walk.lookups[0].status == "no_record"
    assert walk.lookups[0].ignored == (" v=DMARC1; p=reject; rua=mailto:d@six.walk",)
