"""The cause rules of DESIGN.md, one case per rule, from primitive report values."""

from __future__ import annotations

import pytest

from dmarc_core import diagnose, knowledge, known_sender
from dmarc_core.rules.diagnosis import authenticated_sender, spf_passes_for
from dmarc_core.rules.knowledge import KnownSender


def cause_of(header_from, dkim, *, adkim="r", evaluated=False, spf=False, relayed=False):
    result = diagnose(header_from, tuple(dkim), adkim=adkim, dkim_pass=evaluated, spf_pass=spf, relayed=relayed)
    return result.cause, result.table_row


@pytest.mark.parametrize(
    ("header_from", "dkim", "options", "expected"),
    [
        ("example.com", [("example.com", "pass")], {"evaluated": True}, ("aligned", None)),
        ("example.com", [("mcsv.net", "pass")], {}, ("wrong_domain", 1)),
        ("example.com", [("mcsv.net", "pass"), ("sendgrid.net", "fail")], {}, ("wrong_domain", 1)),
        ("example.com", [("other.net", "fail")], {}, ("wrong_domain", None)),
        ("example.com", [("example.com", "fail")], {"spf": True}, ("signature_failed", 2)),
        ("example.com", [("example.com", "fail")], {"spf": False}, ("forwarded", 2)),
        ("example.com", [("example.com", "fail")], {"spf": True, "relayed": True}, ("forwarded", 2)),
        ("mail.example.com", [("example.com", "pass")], {"adkim": "s"}, ("strict_mismatch", 3)),
        ("example.com", [("mail.example.com", "pass")], {"adkim": "s"}, ("strict_mismatch", 3)),
        ("example.com", [("example.com", "permerror")], {}, ("selector_missing", 4)),
        ("example.com", [("mail.example.com", "temperror")], {"spf": True}, ("selector_missing", 4)),
        ("example.com", [("example.com", "pass")], {}, ("multiple_signatures", 5)),
        ("mail.example.com", [("example.com", "pass")], {}, ("multiple_signatures", 5)),
        ("example.com", [], {}, ("unsigned", None)),
        ("example.com", [], {"spf": True}, ("unsigned", None)),
    ],
)
def test_each_cause_rule(header_from, dkim, options, expected):
    assert cause_of(header_from, dkim, **options) == expected


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
    assert cause_of("", [("", "pass")]) == ("wrong_domain", 1)
    assert cause_of(None, [("exa mple.com", "fail")]) == ("wrong_domain", None)
    assert cause_of("example.com", [("", "none")]) == ("wrong_domain", None)


def test_explanations_and_fixes_are_sentences_about_the_domains():
    result = diagnose("example.com", (("mcsv.net", "pass"),), dkim_pass=False, spf_pass=False)
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
    esp_signed = diagnose("example.com", (("mcsv.net", "pass"),), dkim_pass=False, spf_pass=False)
    assert esp_signed.sender_advice(mailchimp) == "At Mailchimp: Settings → Domains → Authenticate Domain."
    assert esp_signed.sender_advice(None) == ""


@pytest.mark.parametrize(
    ("dkim", "spf"),
    [
        ((("example.com", "fail"),), False),  # forwarded: nothing for the sender to change
        ((), False),  # unsigned: possibly spoofing, which enforcement should stop
        ((("mcsv.net", "fail"),), False),  # a foreign signature that does not verify
    ],
)
def test_no_esp_advice_where_there_is_no_sender_to_fix(dkim, spf):
    diagnosis = diagnose("example.com", dkim, dkim_pass=False, spf_pass=spf)
    assert diagnosis.sender_advice(known_sender("mcsv.net")) == ""


def test_no_esp_advice_from_a_sender_with_no_known_setting():
    esp_signed = diagnose("example.com", (("mcsv.net", "pass"),), dkim_pass=False, spf_pass=False)
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
