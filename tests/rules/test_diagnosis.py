"""The cause rules of DESIGN.md, one case per rule, from primitive report values."""

from __future__ import annotations

import pytest

from dmarc_core import diagnose, knowledge, known_sender
from dmarc_core.rules.diagnosis import authenticated_sender, spf_passes_for
from dmarc_core.rules.knowledge import KnownSender


def diagnosed(header_from, dkim, *, adkim="r", evaluated=False, spf=False, elsewhere=False, spf_error_for_you=False, reasons=()):
    return diagnose(
        header_from,
        tuple(dkim),
        adkim=adkim,
        dkim_pass=evaluated,
        spf_passed_for_you=spf,
        spf_passed_for_others=elsewhere,
        spf_error_for_you=spf_error_for_you,
        reasons=reasons,
    )


def cause_of(header_from, dkim, **options):
    result = diagnosed(header_from, dkim, **options)
    return result.cause, result.table_row


@pytest.mark.parametrize(
    ("header_from", "dkim", "options", "expected"),
    [
        ("example.com", [("example.com", "pass")], {"evaluated": True}, ("aligned", None)),
        # The article's quick diagnosis table, row by row.
        ("example.com", [("mcsv.net", "pass")], {}, ("wrong_domain", 1)),
        ("example.com", [("mcsv.net", "pass"), ("sendgrid.net", "fail")], {}, ("wrong_domain", 1)),
        ("example.com", [("other.net", "fail")], {}, ("wrong_domain", None)),
        ("example.com", [("example.com", "fail")], {"spf": True}, ("signature_failed", 2)),
        ("example.com", [("example.com", "fail")], {"spf": False}, ("forwarded", 2)),
        ("mail.example.com", [("example.com", "pass")], {"adkim": "s"}, ("strict_mismatch", 3)),
        ("example.com", [("mail.example.com", "pass")], {"adkim": "s"}, ("strict_mismatch", 3)),
        ("example.com", [("example.com", "permerror")], {}, ("selector_missing", 4)),
        ("example.com", [("example.com", "pass"), ("mcsv.net", "fail")], {}, ("multiple_signatures", 5)),
        # temperror is a transient DNS failure at the receiver, not a missing key: no table row.
        ("example.com", [("mail.example.com", "temperror")], {"spf": True}, ("dns_temporary", None)),
        ("example.com", [], {"spf": True}, ("unsigned", None)),
    ],
)
def test_each_cause_rule(header_from, dkim, options, expected):
    assert cause_of(header_from, dkim, **options) == expected


@pytest.mark.parametrize(
    ("reason", "dkim"),
    [
        ("forwarded", [("example.com", "fail")]),
        ("mailing_list", [("example.com", "fail")]),
        ("trusted_forwarder", []),
        ("forwarded", [("mcsv.net", "pass")]),
        ("mailing_list", [("example.com", "permerror")]),
    ],
)
def test_a_message_the_receiver_calls_forwarded_is_root_cause_2_whatever_its_dkim(reason, dkim):
    # The receiver's reason is evidence: "a forwarded message is root cause 2 whatever its DKIM result".
    result = diagnosed("example.com", dkim, spf=True, reasons=("local_policy", reason))
    assert (result.cause, result.table_row, result.finding.root_cause) == ("forwarded", 2, 2)
    assert reason in result.explanation


@pytest.mark.parametrize("reason", ["local_policy", "sampled_out", "policy_test_mode"])
def test_reasons_that_say_nothing_of_relaying_leave_the_cause_alone(reason):
    result = diagnosed("example.com", [("example.com", "fail")], spf=True, reasons=(reason,))
    assert result.cause == "signature_failed" and result.reasons == (reason,)


def test_your_signature_failing_beside_one_that_passed_is_your_signatures_own_failure():
    # Another signature on the same message verified, so the body arrived intact: not forwarding.
    result = diagnosed("example.com", [("example.com", "fail"), ("sendgrid.net", "pass")], spf=False)
    assert (result.cause, result.table_row) == ("signature_failed", 2)
    assert result.finding.key == "signature_failed_beside_pass"
    assert "sendgrid.net" in result.explanation and "l=" in result.explanation


def test_a_lists_own_pass_beside_your_failed_signature_proves_nothing():
    # A list or forwarder signs what it changed (the real ietf.org sample in tests/analysis shows it):
    # with SPF passing only for the list, your failed signature is forwarding, not your own fault.
    result = diagnosed("example.com", [("example.com", "fail"), ("lists.example.org", "pass")], elsewhere=True)
    assert result.finding.key == "forwarded"


def test_one_org_domain_signature_on_subdomain_mail_failed_under_adkim_r_is_a_stricter_subdomain_record():
    # Root cause 3: "verify you do not have a separate DMARC record on the subdomain itself".
    result = diagnosed("news.example.com", [("example.com", "pass")], adkim="r")
    assert (result.cause, result.table_row, result.finding.root_cause) == ("strict_mismatch", 3, 3)
    assert result.fix.startswith("Verify you do not have a separate DMARC record on the subdomain itself")
    assert "_dmarc.news.example.com" in result.fix


def test_row_5_never_speaks_of_several_signatures_for_one():
    single = diagnosed("example.com", [("example.com", "pass")])
    assert (single.cause, single.table_row) == ("multiple_signatures", 5)
    assert "several" not in single.explanation + single.fix and "multiple" not in single.explanation + single.fix
    several = diagnosed("example.com", [("example.com", "pass"), ("example.com", "fail")])
    assert "several signatures" in several.explanation


def test_row_5_with_spf_also_aligned_yet_failed_says_the_verdict_contradicts_the_results():
    # RFC 9989 4.4 (DMARC passes if either aligned identifier passes): a receiver that lists DKIM
    # and SPF both passing and aligned, yet evaluates both as fail, contradicts its own results; the
    # article's row 5 (policy_evaluated dkim fail, auth_results dkim pass, your domain) still applies,
    # and its guess, several signatures, cannot explain SPF failing too.
    def row_5(header_from, dkim, **given):
        return diagnose(header_from, tuple(dkim), dkim_pass=False, spf_passed_for_you=True, **given)

    contradicted = row_5("example.com", [("example.com", "pass")], spf_not_counted=True)
    assert (contradicted.finding.key, contradicted.cause, contradicted.table_row) == (
        "verdict_contradicts_results",
        "multiple_signatures",
        5,
    )
    assert "SPF passes as well" in contradicted.explanation and "several" not in contradicted.explanation
    # Several signatures do not explain SPF failing either.
    several = row_5("example.com", [("example.com", "pass"), ("example.com", "fail")], spf_not_counted=True)
    assert several.finding.key == "verdict_contradicts_results"
    # SPF not aligned or counted as pass: the article's own reading of row 5.
    assert row_5("example.com", [("example.com", "pass")]).finding.key == "dkim_pass_not_counted"
    # One signature of the organizational domain on a subdomain's mail: a stricter record on the
    # subdomain (adkim=s and aspf=s) explains both (root cause 3), as before.
    stricter = row_5("news.example.com", [("example.com", "pass")], spf_not_counted=True)
    assert (stricter.cause, stricter.table_row) == ("strict_mismatch", 3)


@pytest.mark.parametrize(
    ("spf", "elsewhere", "finding"),
    [
        (True, False, "unsigned"),  # your own server, sending without DKIM
        (False, True, "unsigned_elsewhere"),  # a service with its own bounce domain, or someone else's server
        (False, False, "unsigned_unknown"),  # nobody vouches for it: yours, unconfigured, or spoofing
    ],
)
def test_unsigned_mail_says_whose_it_may_be(spf, elsewhere, finding):
    result = diagnosed("example.com", [], spf=spf, elsewhere=elsewhere)
    assert (result.cause, result.finding.key) == ("unsigned", finding)
    if finding == "unsigned_unknown":
        assert "someone is sending as example.com" in result.explanation
        assert not result.fix.startswith("Turn on DKIM")


@pytest.mark.parametrize("dkim", [[("", "")], [("", "none")], [("", "pass"), ("", "fail")], [(None, "")]])
def test_an_entry_without_a_domain_is_no_signature(dkim):
    result = diagnosed("example.com", dkim, spf=True)
    assert result.cause == "unsigned"
    assert "(no domain)" not in result.explanation and "(empty)" not in result.explanation


@pytest.mark.parametrize(
    ("result_word", "finding", "cause", "words"),
    [
        ("policy", "dkim_policy", "signature_failed", "not acceptable to the receiver"),
        ("neutral", "dkim_neutral", "signature_failed", "could not otherwise be processed"),
        ("none", "dkim_none", "unsigned", "found no signature"),
    ],
)
def test_other_dkim_results_say_what_rfc_8601_means(result_word, finding, cause, words):
    result = diagnosed("example.com", [("example.com", result_word)], spf=False)
    assert (result.finding.key, result.cause) == (finding, cause)
    assert words in result.explanation and "forward" not in result.explanation


def test_your_signatures_decide_pass_before_key_error_before_failure():
    assert cause_of("example.com", [("example.com", "fail"), ("mail.example.com", "permerror")]) == ("selector_missing", 4)
    assert cause_of("example.com", [("example.com", "permerror"), ("mail.example.com", "pass")]) == ("multiple_signatures", 5)


def test_your_signatures_decide_before_foreign_ones():
    assert cause_of("example.com", [("mcsv.net", "pass"), ("example.com", "fail")], spf=True) == ("signature_failed", 2)
    assert cause_of("example.com", [("mcsv.net", "pass"), ("example.com", "permerror")]) == ("selector_missing", 4)


def test_under_strict_the_exactly_matching_signature_is_preferred():
    dkim = [("example.com", "pass"), ("mail.example.com", "pass")]
    assert cause_of("mail.example.com", dkim, adkim="s") == ("multiple_signatures", 5)


def test_domains_compare_case_insensitively():
    assert cause_of("Example.COM", [("EXAMPLE.com.", "permerror")]) == ("selector_missing", 4)


def test_junk_from_real_reports_never_raises():
    assert cause_of("", [("", "pass")]) == ("unsigned", None)
    assert cause_of(None, [("exa mple.com", "fail")]) == ("wrong_domain", None)
    assert cause_of("example.com", [("", "none")]) == ("unsigned", None)


def test_explanations_and_fixes_are_sentences_about_the_domains():
    result = diagnose("example.com", (("mcsv.net", "pass"),), dkim_pass=False, spf_passed_for_you=False)
    assert "mcsv.net" in result.explanation and "example.com" in result.explanation
    assert "{" not in result.fix
    for finding in knowledge().findings.values():
        assert finding.explanation.endswith(".") and finding.fix.endswith(".")


@pytest.mark.parametrize(
    ("spf", "passes"),
    [
        ([("example.com", "pass")], True),
        ([("bounces.example.com", "pass")], True),  # your organization's bounce domain: your server
        ([("lists.example.org", "pass")], False),  # a mailing list's own domain
        ([("example.com", "softfail"), ("srs.forwarder.example", "pass")], False),
        ([], False),
    ],
)
def test_spf_passes_for_your_domain_only(spf, passes):
    assert spf_passes_for("news.example.com", spf) is passes


def test_the_esp_advice_names_where_the_sender_signs_with_your_domain():
    # Root cause 1: the article's fix is custom-domain signing, at the ESP's own setting.
    mailchimp = known_sender("mcsv.net")
    esp_signed = diagnose("example.com", (("mcsv.net", "pass"),), dkim_pass=False, spf_passed_for_you=False)
    assert esp_signed.sender_advice(mailchimp) == "At Mailchimp: Settings → Domains → Authenticate Domain."
    assert esp_signed.sender_advice(None) == ""


def test_a_signer_no_catalogue_knows_is_to_be_found_out_before_it_is_set_up():
    # Root cause 1's fix, custom-domain DKIM "at this sender", presumes a service you use. A valid
    # signature proves only who signed: a spoofer signs with a domain of its own as easily, and the
    # advice must not have a newcomer authorise it (the other unknown senders' fixes say the same).
    signed = diagnose("example.com", (("toptierhighticket.club", "pass"),), dkim_pass=False, spf_passed_for_you=False)
    assert signed.cause == "wrong_domain"
    unknown = signed.fix_for(None)
    assert unknown.startswith("Find out who signs as toptierhighticket.club: if it is a service you use")
    assert "if nobody recognises it, let it fail" in unknown
    # A sender of the catalogue is one you chose: its setting is named, without the doubt.
    mailchimp = signed.fix_for(known_sender("mcsv.net"))
    assert mailchimp.startswith("Set up custom-domain DKIM at this sender so it signs with example.com")
    assert mailchimp.endswith("At Mailchimp: Settings → Domains → Authenticate Domain.")


@pytest.mark.parametrize(
    ("dkim", "spf"),
    [
        ((("example.com", "fail"),), False),  # forwarded: nothing for the sender to change
        ((), False),  # unsigned: possibly spoofing, which enforcement should stop
        ((("mcsv.net", "fail"),), False),  # a foreign signature that does not verify
    ],
)
def test_no_esp_advice_where_there_is_no_sender_to_fix(dkim, spf):
    diagnosis = diagnose("example.com", dkim, dkim_pass=False, spf_passed_for_you=spf)
    assert diagnosis.sender_advice(known_sender("mcsv.net")) == ""


def test_no_esp_advice_from_a_sender_with_no_known_setting():
    esp_signed = diagnose("example.com", (("mcsv.net", "pass"),), dkim_pass=False, spf_passed_for_you=False)
    assert esp_signed.sender_advice(KnownSender("Some relay", "forwarder", ("relay.example",), None)) == ""


@pytest.mark.parametrize(
    ("results", "name"),
    [
        ([("mcsv.net", "pass")], "Mailchimp"),
        ([("mcsv.net", "fail")], None),  # anyone can write d=mcsv.net into a header
        ([("mcsv.net", "fail"), ("sendgrid.net", "pass")], "SendGrid"),
        ([("example.com", "pass"), ("bounce.rsgsv.net", "pass")], "Mailchimp"),  # the SPF MAIL FROM names it
        ([(None, "pass"), ("", "pass")], None),
    ],
)
def test_only_a_domain_that_passed_names_the_sender(results, name):
    sender = authenticated_sender(results)
    assert (sender.name if sender else None) == name


def test_unsigned_mail_with_an_spf_error_for_your_domain_blames_the_record_not_a_spoofer():
    # A permerror means the receiver could not evaluate your SPF record (over 10 lookups, two records).
    result = diagnosed("example.com", [], spf_error_for_you=True)
    assert (result.cause, result.finding.key) == ("unsigned", "spf_broken")
    assert "could not evaluate the SPF record of example.com" in result.explanation
    assert result.fix.startswith("Fix the SPF record of example.com") and "let it fail" not in result.fix


def test_unsigned_mail_with_spf_for_someone_else_does_not_presume_it_is_yours():
    result = diagnosed("example.com", [], elsewhere=True)
    assert "or someone else's server sending as you" in result.explanation
    assert "if nobody recognises it, let it fail" in result.fix


def test_a_mailbox_providers_pass_beside_your_failed_signature_is_forwarding():
    # Microsoft 365 and Gmail re-sign mail they forward: their pass does not prove the body intact
    # (a real Google report, b3c1fca0...xml, has six unrelated onmicrosoft.com tenants in a day).
    result = diagnosed("example.com", [("example.com", "fail"), ("contoso.onmicrosoft.com", "pass")], elsewhere=True)
    assert result.finding.key == "forwarded"
