"""Alignment and the DMARC verdict, from RFC 7489 3.1 and the article's examples."""

from __future__ import annotations

import pytest

from dmarc_core import check_alignment, evaluate_dmarc


@pytest.mark.parametrize(
    ("from_domain", "auth_domain", "mode", "aligned"),
    [
        # The article's alignment-mode table.
        ("user@example.com", "mail.example.com", "r", True),
        ("user@example.com", "mail.example.com", "s", False),
        # Root cause 3: From a subdomain, signed by the parent.
        ("noreply@mail.example.com", "example.com", "s", False),
        ("noreply@mail.example.com", "example.com", "r", True),
        # Identical domains align in both modes; case and a trailing dot do not matter.
        ("example.com", "example.com", "s", True),
        ("Example.COM.", "example.com", "s", True),
        ("bücher.de", "xn--bcher-kva.de", "s", True),
        # Root cause 1: an ESP's own domain never aligns.
        ("user@example.com", "mailchimp.com", "r", False),
        ("user@example.com", "mcsv.net", "s", False),
        # The Public Suffix List decides what "the same organization" is.
        ("news.example.co.uk", "example.co.uk", "r", True),
        ("example.co.uk", "other.co.uk", "r", False),
        ("user1.github.io", "user2.github.io", "r", False),
        ("a.user1.github.io", "user1.github.io", "r", True),
        ("a.b.test.ck", "c.b.test.ck", "r", True),
        ("a.b.test.ck", "a.c.test.ck", "r", False),
    ],
)
def test_relaxed_means_same_organizational_domain_strict_means_identical(from_domain, auth_domain, mode, aligned):
    assert check_alignment(from_domain, auth_domain, mode).aligned is aligned


def test_the_reason_is_a_sentence_a_newcomer_understands():
    assert check_alignment("user@example.com", "mail.example.com", "s").reason == (
        "mail.example.com and example.com share the organizational domain example.com, "
        "but adkim=s requires them to be identical."
    )
    spf = check_alignment("user@example.com", "bounce.example.com", "s", identifier="spf")
    assert "aspf=s requires them to be identical" in spf.reason
    other = check_alignment("user@example.com", "mailchimp.com")
    assert other.reason == (
        "mailchimp.com and example.com belong to different organizational domains "
        "(mailchimp.com and example.com), so they do not align."
    )


def test_bad_mode_and_bad_domains_are_refused():
    with pytest.raises(ValueError, match="adkim=r"):
        check_alignment("example.com", "example.com", "x")
    with pytest.raises(ValueError, match="space"):
        check_alignment("exa mple.com", "example.com")
    assert check_alignment("example.com", "example.com", "strict").mode == "s"


def test_dkim_that_passes_and_aligns_carries_dmarc():
    result = evaluate_dmarc("user@example.com", dkim=[("mail.example.com", "pass")])
    assert result.dmarc_pass and result.dkim_aligned and not result.spf_aligned
    assert [carrier.domain for carrier in result.carried_by] == ["mail.example.com"]
    assert result.verdict == "DMARC pass"


def test_faq_both_raw_checks_pass_yet_dmarc_fails():
    # "If DKIM passes for mailchimp.com and SPF passes for mcsv.net but your From: domain is
    # example.com, both alignment checks fail."
    result = evaluate_dmarc("example.com", dkim=[("mailchimp.com", "pass")], spf=("mcsv.net", "pass"))
    assert not result.dmarc_pass and not result.dkim_aligned and not result.spf_aligned
    assert all(identifier.passed for identifier in (*result.dkim, result.spf))
    assert result.verdict == "DMARC fail"
    assert result.diagnosis.table_row == 1


def test_spf_alone_can_carry_dmarc():
    result = evaluate_dmarc("example.com", dkim=[("mailchimp.com", "pass")], spf=("bounce.example.com", "pass"))
    assert result.dmarc_pass and result.spf_aligned and not result.dkim_aligned
    assert [carrier.identifier for carrier in result.carried_by] == ["spf"]


def test_aligned_but_failing_identifiers_do_not_count():
    result = evaluate_dmarc(
        "example.com", dkim=[("example.com", "fail"), ("example.com", "permerror")], spf=("example.com", "softfail")
    )
    assert not result.dmarc_pass
    assert all(identifier.alignment.aligned and not identifier.carries_dmarc for identifier in (*result.dkim, result.spf))


def test_several_signatures_are_judged_one_by_one():
    result = evaluate_dmarc("user@example.com", dkim=[("mcsv.net", "pass"), ("example.com", "fail"), ("mail.example.com", "pass")])
    assert [(s.domain, s.passed, s.alignment.aligned, s.carries_dmarc) for s in result.dkim] == [
        ("mcsv.net", True, False, False),
        ("example.com", False, True, False),
        ("mail.example.com", True, True, True),
    ]
    assert result.dmarc_pass


@pytest.mark.parametrize(("adkim", "passes"), [("r", True), ("s", False)])
def test_adkim_decides_for_a_subdomain_signer(adkim, passes):
    assert evaluate_dmarc("user@example.com", dkim=[("mail.example.com", "pass")], adkim=adkim).dmarc_pass is passes


@pytest.mark.parametrize(("aspf", "passes"), [("r", True), ("s", False)])
def test_aspf_decides_for_a_subdomain_mail_from(aspf, passes):
    assert evaluate_dmarc("example.com", spf=("bounces.example.com", "pass"), aspf=aspf).dmarc_pass is passes


def test_results_are_read_case_insensitively_and_checked():
    assert evaluate_dmarc("example.com", dkim=[("example.com", "PASS")]).dmarc_pass
    with pytest.raises(ValueError, match="not a DKIM result"):
        evaluate_dmarc("example.com", dkim=[("example.com", "maybe")])
    with pytest.raises(ValueError, match="not a SPF result"):
        evaluate_dmarc("example.com", spf=("example.com", "hardpass"))


def test_nothing_at_all_fails():
    result = evaluate_dmarc("example.com")
    assert not result.dmarc_pass and result.diagnosis.cause == "unsigned"


def test_a_receivers_fail_despite_an_aligned_pass_is_row_5():
    result = evaluate_dmarc(
        "user@example.com", dkim=[("mcsv.net", "pass"), ("example.com", "pass")], reported_dkim="fail"
    )
    assert not result.dmarc_pass and result.contradicts_report
    assert (result.diagnosis.cause, result.diagnosis.table_row) == ("multiple_signatures", 5)
    assert evaluate_dmarc("example.com", dkim=[("example.com", "pass")], reported_dkim="pass").dmarc_pass


def test_a_receivers_pass_with_no_aligned_signature_given_is_said_to_be_the_receivers():
    result = evaluate_dmarc("user@example.com", dkim=[("mailchimp.com", "pass")], reported_dkim="pass")
    assert result.dmarc_pass and result.contradicts_report
    assert result.summary.startswith("As reported: the receiver evaluated DKIM as pass for example.com, although no signature")
    agreeing = evaluate_dmarc("example.com", dkim=[("example.com", "pass")], reported_dkim="pass")
    assert not agreeing.contradicts_report and agreeing.summary.startswith("DKIM")
