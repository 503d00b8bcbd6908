"""The Domain Check: findings tied to the article's root causes, tag explanations, the JSON."""

from __future__ import annotations

import json
import time

import pytest

from dmarc_core import check_domain, explain_tags, make_resolver, parse_dmarc_record
from dmarc_core._cli import main


def keys(result):
    return [(note.key, note.root_cause) for note in result.findings]


def test_a_subdomain_with_its_own_stricter_record(resolver):
    result = check_domain("strict.example.com", resolver=resolver)
    assert result.policy == ("p", "reject")
    assert result.parent.domain == "example.com"
    findings = {note.key: note for note in result.findings}
    assert [findings[key].root_cause for key in ("strict_dkim", "strict_spf", "stricter_subdomain", "enforcing")] == [3, 3, 3, 5]
    stricter = findings["stricter_subdomain"].explanation
    assert "p=reject where the parent asks sp=quarantine" in stricter and "adkim=s where the parent has adkim=r" in stricter
    assert (
        "A signature by example.com or another of its subdomains passes DKIM but fails DMARC"
        in findings["strict_dkim"].explanation
    )


def test_an_inherited_record_applies_sp_and_np_to_a_name_that_does_not_exist(resolver):
    news = check_domain("news.example.com", resolver=resolver)
    assert (news.dmarc.applied.found_at, news.policy, news.parent) == ("_dmarc.example.com", ("sp", "quarantine"), None)
    assert ("enforcing", 5) in keys(news)
    assert "quarantined" in next(note.title for note in news.findings if note.key == "enforcing")
    ghost = check_domain("ghost.example.com", resolver=resolver)
    assert ghost.spf.status == "nxdomain" and ghost.policy == ("np", "quarantine")
    # Issue 16: a name that does not exist is said first, and no SPF or DKIM finding follows about it.
    assert not ghost.exists and keys(ghost)[0] == ("domain_missing", None)
    assert {"spf_missing", "no_dkim_key"}.isdisjoint(key for key, _ in keys(ghost))


def test_dkim_keys_tie_to_root_cause_4_and_an_empty_search_to_root_cause_1(resolver):
    result = check_domain("example.com", "k1, old, broken, nokey", resolver)
    assert result.selectors == ("k1", "old", "broken", "nokey")
    assert [key.selector for key in result.dkim if key.selector in result.selectors] == ["k1", "old", "broken", "nokey"]
    assert ("selector_revoked", 4) in keys(result) and ("selector_malformed", 4) in keys(result)
    missing = [note for note in result.findings if note.key == "selector_missing"]
    assert [note.words["selector"] for note in missing] == ["nokey"]  # common selectors may be absent
    assert "no_dkim_key" not in [key for key, _ in keys(result)]
    lonely = check_domain("news.example.com", resolver=resolver)
    assert ("no_dkim_key", 1) in keys(lonely)


def test_rsa_key_sizes_outside_rfc_8301s_advice_are_findings(resolver):
    result = check_domain("example.com", "tiny, short, k1, big, huge", resolver)
    notes = {note.words["selector"]: note for note in result.findings if "selector" in note.words}
    assert {selector: (note.key, note.severity) for selector, note in notes.items()} == {
        "tiny": ("selector_malformed", "error"),
        "short": ("selector_short_key", "warning"),
        "huge": ("selector_long_key", "warning"),
    }
    assert notes["short"].title == "DKIM key short is only 1024 bits"
    assert "1024 to 4096 bits" in notes["huge"].explanation and notes["huge"].root_cause == 4
    assert {key["selector"]: key["bits"] for key in result.to_dict()["dkim"][:5]} == {
        "tiny": 512,
        "short": 1024,
        "k1": 2048,
        "big": 4096,
        "huge": 4608,
    }


def test_the_common_selectors_are_tried_besides_the_given_ones(resolver, dns_server):
    result = check_domain("example.com", "k1", resolver)
    assert "google._domainkey.example.com" in dns_server.names()
    assert [key.selector for key in result.dkim if key.selector in result.selectors] == ["k1"]
    assert "k1" not in [key.selector for key in result.common_keys]  # a common selector given is asked once
    assert dns_server.names().count("k1._domainkey.example.com") == 1


def test_the_keys_shown_are_yours_found_or_not_and_the_common_ones_that_exist(resolver):
    result = check_domain("example.com", "nokey, old", resolver)
    # Yours are expected to exist, so a missing one is news; a common selector matters only if it has a key.
    assert [key.selector for key in result.shown_keys] == ["nokey", "old", "k1"]
    assert "google" in result.absent_common_selectors and "selector1" in result.absent_common_selectors
    assert not {"k1", "nokey", "old"} & set(result.absent_common_selectors)
    common_for = {key.selector: result.common_for(key) for key in result.shown_keys}
    assert common_for == {"nokey": "", "old": "", "k1": "Mailchimp"}


def test_a_common_selector_you_name_is_yours(resolver):
    result = check_domain("example.com", "google, k1", resolver)
    assert [key.selector for key in result.shown_keys][:2] == ["google", "k1"]  # shown though google has no key
    assert "google" not in result.absent_common_selectors
    assert result.common_for(result.shown_keys[1]) == ""


def test_records_that_cannot_be_used(resolver):
    assert keys(check_domain("example.net", resolver=resolver))[:1] == [("multiple_records", None)]
    assert ("spf_multiple", None) in keys(check_domain("example.net", resolver=resolver))
    assert ("no_record", None) in keys(check_domain("nothing.example", resolver=resolver))
    invalid = check_domain("badpolicy.example.org", resolver=resolver)
    assert ("invalid_record", None) in keys(invalid) and invalid.record is None and invalid.policy is None


def test_methods_that_disagree_are_a_finding(resolver):
    result = check_domain("a.mail.example.org", resolver=resolver)
    assert result.organizational_domain == "mail.example.org"
    assert ("methods_differ", None) in keys(result)
    assert ("methods_differ", None) not in keys(check_domain("news.example.com", resolver=resolver))


def test_dns_that_never_answers_is_one_clear_finding_within_seconds(silent_dns):
    started = time.monotonic()
    # A short lifetime per lookup keeps the test quick; the defaults' bound is tested in test_resolver.py.
    result = check_domain("example.com", "k1", make_resolver(silent_dns.address, lifetime=0.5))
    assert time.monotonic() - started < 5.0
    assert result.unreachable
    assert keys(result) == [("dns_failed", None)]
    assert silent_dns.address in result.findings[0].explanation


def test_a_server_failure_for_part_of_the_names(resolver):
    result = check_domain("mail.servfail.test", resolver=resolver)
    assert result.unreachable  # every name is in the failing zone
    assert keys(result)[0] == ("dns_failed", None)


def test_bad_input_is_a_value_error():
    with pytest.raises(ValueError, match="contains a space"):
        check_domain("exa mple.com")
    with pytest.raises(ValueError, match="not a DKIM selector"):
        check_domain("example.com", "s_1")


def test_tags_explained_with_defaults_and_rfc_9989_status():
    record = parse_dmarc_record("v=DMARC1; p=reject; fo=1:d; t=y; pct=50; rua=mailto:d@example.com")
    rows = {row.tag: row for row in explain_tags(record)}
    assert list(rows) == list(record.tags)
    assert rows["p"].value_meaning.startswith("refuse failing mail") and not rows["p"].is_default
    assert rows["adkim"].is_default and rows["adkim"].value == "r" and rows["adkim"].default == "r"
    assert (
        rows["fo"].value_meaning
        == "when any mechanism did not produce an aligned pass; when a DKIM signature failed, aligned or not"
    )
    assert rows["np"].rfc9989 == "added by RFC 9989" and rows["pct"].rfc9989.startswith("removed by RFC 9989")
    assert rows["rua"].value_meaning == ""


def test_the_json_has_the_documented_shape(resolver):
    data = json.loads(json.dumps(check_domain("news.example.com", "k1", resolver).to_dict()))
    assert data["domain"] == "news.example.com"
    assert data["dmarc"]["status"] == "found" and data["dmarc"]["found_at"] == "_dmarc.example.com"
    assert data["dmarc"]["record"] == "v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com"
    assert data["dmarc"]["tags"]["p"] == "quarantine" and data["dmarc"]["tags"]["adkim"] == "r"
    assert data["dmarc"]["warnings"] == []
    assert [query["name"] for query in data["dmarc"]["rfc9989"]["queries"]] == [
        "_dmarc.news.example.com",
        "_dmarc.example.com",
        "_dmarc.com",
    ]
    assert data["organizational_domain"]["psl"] == data["organizational_domain"]["tree_walk"] == "example.com"
    assert {"selector": "k1", "status": "nxdomain", "source": "given"}.items() <= data["dkim"][0].items()
    assert {"status": "no_record", "record": None, "records": [], "detail": ""}.items() <= data["spf"].items()
    assert (data["spf"]["tree"]["dns_lookups"], data["spf"]["tree"]["over_limit"]) == (0, False)
    assert {"key": "enforcing", "root_cause": 5}.items() <= data["findings"][0].items()


# --- SPF's processing limits (RFC 7208 4.6.4), from the include tree ---------------------------


def test_an_spf_tree_over_ten_lookups_is_an_error_every_receiver_sees(resolver):
    result = check_domain("eleven.spftree.example", resolver=resolver)
    findings = {note.key: note for note in result.findings}
    over = findings["spf_too_many_lookups"]
    assert over.severity == "error" and over.title == "SPF needs 11 DNS lookups; receivers stop at 10"
    assert "permerror" in over.explanation and "DMARC rests on DKIM alone" in over.explanation
    spf = json.loads(json.dumps(result.to_dict()))["spf"]["tree"]
    assert (spf["dns_lookups"], spf["over_limit"]) == (11, True)
    assert [(record["depth"], record["domain"]) for record in spf["records"]] == [
        (0, "eleven.spftree.example"),
        (1, "four.spftree.example"),
        (1, "four.spftree.example"),
    ]


def test_exactly_ten_lookups_are_no_finding(resolver):
    result = check_domain("ten.spftree.example", resolver=resolver)
    assert result.spf_tree.dns_lookups == 10
    assert not {"spf_too_many_lookups", "spf_too_many_void_lookups", "spf_include_broken"} & {key for key, _ in keys(result)}


def test_void_lookups_over_two_name_the_terms(resolver):
    note = next(
        note
        for note in check_domain("threevoids.spftree.example", resolver=resolver).findings
        if note.key == "spf_too_many_void_lookups"
    )
    assert note.title == "SPF meets 3 names that do not answer; receivers allow 2"
    assert note.explanation.startswith("a:gone1.spftree.example, a:gone2.spftree.example, a:gone3.spftree.example:")


@pytest.mark.parametrize(
    ("domain", "term", "status"),
    [
        ("missinginclude.spftree.example", "include:gone1.spftree.example", "the name does not exist (NXDOMAIN)"),
        ("loop1.spftree.example", "include:loop1.spftree.example", "this record is already on the way here"),
    ],
)
def test_an_include_that_leads_nowhere(resolver, domain, term, status):
    broken = [note for note in check_domain(domain, resolver=resolver).findings if note.key == "spf_include_broken"]
    assert [note.title for note in broken] == [f"SPF {term} leads nowhere"]
    assert status in broken[0].explanation


def test_an_include_whose_server_fails_counts_as_dns_that_did_not_answer(resolver):
    result = check_domain("broken.spftree.example", resolver=resolver)
    assert result.asked["spf.servfail.test TXT"][0] == "servfail"
    assert "dns_failed" in {key for key, _ in keys(result)} and not result.unreachable


def test_the_check_command_prints_the_lookup_count_and_the_tree(dns_server, capsys):
    assert main(["check", "eleven.spftree.example", "--nameserver", dns_server.address]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert "SPF DNS lookups:          11 of 10 (over the limit: permerror)" in lines
    tree = lines[lines.index(next(line for line in lines if line.startswith("SPF include tree:"))) + 1 :][:3]
    assert [line.split("[")[0].rstrip() for line in tree] == [
        "  eleven.spftree.example",
        "    four.spftree.example",
        "    four.spftree.example",
    ]
    assert tree[1].split("  ")[-1].startswith("[4] v=spf1 a:host.spftree.example")
