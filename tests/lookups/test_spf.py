"""SPF (RFC 7208): the record of a domain (3.3, 4.5), a sender evaluated as receivers do (section 8),
and the include tree with the processing limits (4.6.4)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict

import pytest
import spf as pyspf

from dmarc_core import fetch_spf, make_resolver
from dmarc_core.lookups.spf import MAX_DNS_LOOKUPS, evaluate_spf, spf_tree


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


# --- Evaluating a sender as receivers do (RFC 7208), DNS from the loopback server ----------------

LISTED, UNLISTED = "192.0.2.10", "203.0.113.5"


def sender(name: str) -> str:
    return f"bounce@{name}.spftree.example"


def test_a_sender_listed_two_includes_down_passes_and_dns_went_through_our_resolver(resolver, dns_server):
    result = evaluate_spf("192.0.2.20", sender("chain"), resolver=resolver)
    assert (result.result, result.domain, result.scope, result.ip) == ("pass", "chain.spftree.example", "mfrom", "192.0.2.20")
    assert result.lookups_used == 2  # two include: terms
    assert {"chain.spftree.example", "_spf.chain.spftree.example", "_deep.chain.spftree.example"} <= set(dns_server.names())
    assert "authorizes 192.0.2.20" in result.explanation


@pytest.mark.parametrize(
    ("name", "ip", "expected"),
    [
        ("chain", UNLISTED, "fail"),  # -all
        ("soft", UNLISTED, "softfail"),  # ~all
        ("redirected", UNLISTED, "softfail"),  # redirect= hands over to soft's record (RFC 7208 6.1)
        ("redirected", LISTED, "pass"),
        ("nospf", LISTED, "none"),  # the name exists, with no SPF record (RFC 7208 4.5)
        ("gone9", LISTED, "none"),  # the name does not exist (RFC 7208 4.3)
        ("hostile", LISTED, "permerror"),  # an unknown mechanism (RFC 7208 4.6.1)
    ],
)
def test_the_results_of_rfc_7208_section_8(resolver, name, ip, expected):
    assert evaluate_spf(ip, sender(name), resolver=resolver).result == expected


def test_a_bounce_checks_the_helo_name(resolver):
    result = evaluate_spf(UNLISTED, "<>", helo="soft.spftree.example", resolver=resolver)
    assert (result.scope, result.domain, result.result) == ("helo", "soft.spftree.example", "softfail")


def test_a_mail_from_domain_without_a_local_part_is_checked_as_postmaster(resolver):
    assert evaluate_spf(LISTED, "soft.spftree.example", resolver=resolver).result == "pass"


def test_exactly_ten_lookups_pass_and_the_tree_counts_ten(resolver):
    result = evaluate_spf(LISTED, sender("ten"), resolver=resolver)
    tree = spf_tree("ten.spftree.example", resolver)
    assert (result.result, result.lookups_used) == ("pass", 10)
    assert (tree.dns_lookups, tree.over_limit) == (10, False)
    # A sender that matches nothing is counted through the whole tree: the receiver's count is ours.
    assert evaluate_spf(UNLISTED, sender("ten"), resolver=resolver).lookups_used == tree.dns_lookups


def test_eleven_lookups_are_a_permerror_even_for_a_listed_sender_and_the_tree_counts_eleven(resolver):
    result = evaluate_spf(LISTED, sender("eleven"), resolver=resolver)
    tree = spf_tree("eleven.spftree.example", resolver)
    assert result.result == "permerror" and "Too many DNS lookups" in result.reason
    assert "Too many DNS lookups" in result.explanation and "DMARC rests on DKIM alone" in result.explanation
    assert (tree.dns_lookups, tree.over_limit) == (11, True)


def test_two_void_lookups_are_allowed_the_third_is_a_permerror(resolver):
    allowed = evaluate_spf(LISTED, sender("twovoids"), resolver=resolver)
    assert (allowed.result, allowed.void_lookups) == ("pass", 2)
    refused = evaluate_spf(LISTED, sender("threevoids"), resolver=resolver)
    assert refused.result == "permerror" and "Void lookup limit of 2 exceeded" in refused.reason
    two = spf_tree("twovoids.spftree.example", resolver)
    assert (two.void_lookups, two.too_many_void_lookups) == (2, False)
    tree = spf_tree("threevoids.spftree.example", resolver)
    assert (tree.void_lookups, tree.too_many_void_lookups) == (3, True)
    assert [term.text for term in tree.void_terms] == [f"a:gone{n}.spftree.example" for n in (1, 2, 3)]


def test_an_include_of_a_name_without_spf_is_a_permerror_at_once(resolver):
    # RFC 7208 5.2: include: of a domain with no SPF record is a permerror, before any void limit.
    result = evaluate_spf(LISTED, sender("missinginclude"), resolver=resolver)
    assert result.result == "permerror" and "No valid SPF record for included domain" in result.reason
    tree = spf_tree("missinginclude.spftree.example", resolver)
    assert [(parent, term.text, term.status) for parent, term in tree.broken] == [
        ("missinginclude.spftree.example", "include:gone1.spftree.example", "nxdomain")
    ]
    assert tree.void_lookups == 1


def test_an_included_domain_whose_server_fails_is_a_temperror(resolver):
    result = evaluate_spf(LISTED, sender("broken"), resolver=resolver)
    assert result.result == "temperror" and "spf.servfail.test" in result.reason
    assert "this is no verdict on 192.0.2.10" in result.explanation


def test_a_loop_of_includes_runs_into_the_lookup_limit_and_the_tree_stops_at_it(resolver):
    assert evaluate_spf(UNLISTED, sender("loop1"), resolver=resolver).result == "permerror"
    tree = spf_tree("loop1.spftree.example", resolver)
    assert [(depth, node.domain, node.status) for depth, _via, node in tree.walk()] == [
        (0, "loop1.spftree.example", "found"),
        (1, "loop2.spftree.example", "found"),
        (2, "loop1.spftree.example", "loop"),
    ]
    assert [term.text for _parent, term in tree.broken] == ["include:loop1.spftree.example"]


def test_pyspf_asks_no_dns_outside_an_evaluation(dns_server):
    assert pyspf.DNSLookup is not pyspf.DNSLookup_dnspython
    dns_server.queries.clear()
    with pytest.raises(pyspf.TempError, match="no resolver"):
        pyspf.DNSLookup("chain.spftree.example", "TXT", True, 5)
    result, _code, reason = pyspf.query(i=LISTED, s=sender("chain"), h="").check()
    assert result == "temperror" and "no resolver" in reason
    assert dns_server.queries == []


def test_evaluations_in_two_threads_keep_their_own_resolvers(dns_server, silent_dns):
    answering, silent = make_resolver(dns_server.address), make_resolver(silent_dns.address, lifetime=0.5)
    jobs = [(answering, "192.0.2.20"), (silent, "192.0.2.20")] * 3
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        results = list(pool.map(lambda job: evaluate_spf(job[1], sender("chain"), resolver=job[0]).result, jobs))
    assert results == ["pass", "temperror"] * 3


@pytest.mark.parametrize(
    ("ip", "mail_from", "helo", "message"),
    [
        ("192.0.2.300", "a@example.com", "", "not an IP address"),
        ("192.0.2.1", "a@exa mple.com", "", "contains a space"),
        ("192.0.2.1", "", "", "needs a MAIL FROM"),
    ],
)
def test_input_that_is_not_an_ip_or_a_domain(ip, mail_from, helo, message):
    with pytest.raises(ValueError, match=message):
        evaluate_spf(ip, mail_from, helo)


# --- The include tree (RFC 7208 4.6.4) ----------------------------------------------------------


def test_the_tree_follows_includes_and_counts_lookups_per_record(resolver):
    tree = spf_tree("chain.spftree.example", resolver)
    assert [(depth, via.text if via else None, node.domain, node.lookups_here) for depth, via, node in tree.walk()] == [
        (0, None, "chain.spftree.example", 1),
        (1, "include:_spf.chain.spftree.example", "_spf.chain.spftree.example", 1),
        (2, "include:_deep.chain.spftree.example", "_deep.chain.spftree.example", 0),
    ]
    assert (tree.dns_lookups, tree.void_lookups, tree.over_limit) == (2, 0, False)


def test_a_redirect_counts_and_is_followed(resolver):
    tree = spf_tree("redirected.spftree.example", resolver)
    assert [node.domain for _depth, _via, node in tree.walk()] == ["redirected.spftree.example", "soft.spftree.example"]
    assert tree.dns_lookups == 1


def test_a_macro_target_is_counted_but_not_asked(resolver, dns_server):
    tree = spf_tree("macro.spftree.example", resolver)
    exists = tree.root.terms[0]
    assert (exists.kind, exists.lookups, exists.status, exists.void) == ("exists", 1, "macro", False)
    assert not any("allow" in name for name, _type, _protocol in dns_server.queries)


def test_the_tree_is_plain_data_for_json(resolver):
    tree = spf_tree("eleven.spftree.example", resolver)
    data = json.loads(json.dumps(tree.to_dict()))
    assert (data["dns_lookups"], data["max_dns_lookups"], data["over_limit"]) == (11, 10, True)
    assert [record["lookups_here"] for record in data["records"]] == [3, 4, 4]
    json.dumps(asdict(tree))


def test_the_walk_stops_asking_after_forty_questions(resolver):
    tree = spf_tree("wide.spftree.example", resolver)
    assert tree.truncated and tree.over_limit
    assert MAX_DNS_LOOKUPS < tree.dns_lookups <= 44  # a lower bound of the 4 x (1 + 10) terms
    assert evaluate_spf(LISTED, sender("wide"), resolver=resolver).result == "permerror"


def test_every_spf_result_has_its_meaning_in_the_knowledge():
    from typing import get_args

    from dmarc_core import knowledge
    from dmarc_core.lookups.spf import SpfResult

    assert set(knowledge().spf_results) == set(get_args(SpfResult))
