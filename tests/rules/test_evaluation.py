"""The DMARC verdict of one message (RFC 9989 4.7: one identifier that passes and aligns is
enough), from the article's examples and FAQ."""

from __future__ import annotations

import pytest

from dmarc_core import evaluate_dmarc


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
    # The article: forwarding breaks SPF, so a pass on SPF alone is said to be at risk.
    assert "forwarding" in result.fragile
    assert evaluate_dmarc("example.com", dkim=[("example.com", "pass")], spf=("example.com", "pass")).fragile is None


def test_aligned_but_failing_identifiers_do_not_count():
    result = evaluate_dmarc(
        "example.com", dkim=[("example.com", "fail"), ("example.com", "permerror")], spf=("example.com", "softfail")
    )
    assert not result.dmarc_pass
    assert all(identifier.alignment.aligned and not identifier.carries_dmarc for identifier in (*result.dkim, result.spf))


def test_several_signatures_are_judged_one_by_one():
    result = evaluate_dmarc(
        "user@example.com", dkim=[("mcsv.net", "pass"), ("example.com", "fail"), ("mail.example.com", "pass")]
    )
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
    result = evaluate_dmarc("user@example.com", dkim=[("mcsv.net", "pass"), ("example.com", "pass")], reported_dkim="fail")
    assert not result.dmarc_pass and result.disagrees
    assert (result.diagnosis.cause, result.diagnosis.table_row) == ("multiple_signatures", 5)
    assert evaluate_dmarc("example.com", dkim=[("example.com", "pass")], reported_dkim="pass").dmarc_pass


def test_a_receivers_fail_of_both_though_both_pass_and_align_is_said_in_good_english():
    # A real Zoho report: DKIM and SPF both pass for example.com, and the receiver evaluated both as fail.
    result = evaluate_dmarc(
        "example.com", dkim=[("example.com", "pass")], spf=("example.com", "pass"), reported_dkim="fail", reported_spf="fail"
    )
    assert not result.dmarc_pass and result.disagrees
    assert result.summary == (
        "As reported: the receiver evaluated DKIM and SPF as fail, although an identifier given here passes and aligns "
        "with example.com."
    )
    assert result.diagnosis.finding.key == "verdict_contradicts_results"
    # SPF aligned under aspf=r only: under aspf=s a pass for the organization's domain does not
    # align with a subdomain's mail, so the receiver's SPF fail is no contradiction.
    relaxed_only = evaluate_dmarc(
        "news.example.com", dkim=[("news.example.com", "pass")], spf=("example.com", "pass"), aspf="s",
        reported_dkim="fail", reported_spf="fail",
    )  # fmt: skip
    assert relaxed_only.diagnosis.finding.key == "dkim_pass_not_counted"
    # The receiver counted SPF as pass: DMARC passed, and only DKIM's fail is row 5's question.
    counted = evaluate_dmarc(
        "example.com", dkim=[("example.com", "pass")], spf=("example.com", "pass"), reported_dkim="fail", reported_spf="pass"
    )
    assert counted.dmarc_pass and counted.diagnosis.finding.key == "dkim_pass_not_counted"


def test_a_receivers_pass_with_no_aligned_signature_given_is_said_to_be_the_receivers():
    result = evaluate_dmarc("user@example.com", dkim=[("mailchimp.com", "pass")], reported_dkim="pass")
    assert result.dmarc_pass and result.disagrees
    assert result.summary.startswith("As reported: the receiver evaluated DKIM as pass for example.com, although no signature")
    agreeing = evaluate_dmarc("example.com", dkim=[("example.com", "pass")], reported_dkim="pass")
    assert not agreeing.disagrees and agreeing.summary.startswith("DKIM")


def test_the_esp_that_signs_with_its_own_domain_is_told_where_to_sign_with_yours():
    # The article's root cause 1 example: DKIM passes for mailchimp.com, SPF for mcsv.net.
    result = evaluate_dmarc("user@example.com", dkim=[("mailchimp.com", "pass")], spf=("mcsv.net", "pass"))
    assert result.sender.name == "Mailchimp"
    assert result.sender_advice == "At Mailchimp: Settings → Domains → Authenticate Domain."


def test_no_sender_advice_for_aligned_mail_or_a_signature_that_failed():
    assert evaluate_dmarc("example.com", dkim=[("example.com", "pass")], spf=("mcsv.net", "pass")).sender_advice == ""
    unverified = evaluate_dmarc("example.com", dkim=[("mcsv.net", "fail")])
    assert unverified.sender is None and unverified.sender_advice == ""
