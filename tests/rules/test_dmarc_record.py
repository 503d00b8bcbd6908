"""The _dmarc TXT record, by RFC 7489 section 6.3 and RFC 9989."""

from __future__ import annotations

import pytest

from dmarc_core import DmarcRecordError, parse_dmarc_record


def test_defaults_fill_every_tag():
    record = parse_dmarc_record("v=DMARC1; p=none")
    assert (record.p, record.sp, record.np, record.adkim, record.aspf) == ("none", "none", "none", "r", "r")
    assert (record.tags["fo"], record.tags["t"], record.psd, record.pct) == ("0", "n", "u", 100)
    assert record.explicit == {"v", "p"}
    assert record.is_default("adkim") and not record.is_default("p")


def test_sp_defaults_to_p_and_np_to_sp():
    assert parse_dmarc_record("v=DMARC1; p=reject").sp == "reject"
    record = parse_dmarc_record("v=DMARC1; p=reject; sp=quarantine")
    assert (record.sp, record.np) == ("quarantine", "quarantine")


def test_rfc_9989_tags():
    record = parse_dmarc_record("v=DMARC1; p=quarantine; np=reject; t=y; psd=y; rua=mailto:d@example.com")
    assert (record.np, record.tags["t"], record.psd) == ("reject", "y", "y")
    assert any("t=y" in warning for warning in record.warnings)


def test_removed_tags_are_read_and_flagged():
    record = parse_dmarc_record("v=DMARC1; p=quarantine; pct=10; rf=afrf; ri=3600; rua=mailto:d@example.com")
    assert record.pct == 10 and record.tags["rf"] == "afrf" and record.tags["ri"] == "3600"
    assert sum("removed by RFC 9989" in warning for warning in record.warnings) == 3


def test_syntax_is_forgiving_where_the_abnf_is():
    record = parse_dmarc_record("v=DMARC1 ;  P = Reject ; ADKIM=S;rua = mailto:a@example.com, mailto:b@example.net!10m ;")
    assert (record.p, record.adkim) == ("reject", "s")
    assert record.rua == ("mailto:a@example.com", "mailto:b@example.net!10m")


@pytest.mark.parametrize(
    ("txt", "words"),
    [
        ("", "empty"),
        ("p=none; v=DMARC1", "must be the first tag"),
        ("v=spf1 include:_spf.example.com -all", "not a DMARC version"),
        ("v=dmarc1; p=none", "exactly v=DMARC1"),
        ("v=DMARC2; p=none", "exactly v=DMARC1"),
        ("v=DMARC1; p=block", "p=block is not a policy"),
        ("v=DMARC1; adkim=s", "no p= tag and no rua="),
    ],
)
def test_errors(txt, words):
    with pytest.raises(DmarcRecordError, match=words):
        parse_dmarc_record(txt)
    assert issubclass(DmarcRecordError, ValueError)


def test_an_invalid_policy_says_what_receivers_do_meanwhile():
    with pytest.raises(DmarcRecordError, match=r"treat the record as p=none, since rua= is valid"):
        parse_dmarc_record("v=DMARC1; p=block; rua=mailto:d@example.com")


def test_missing_p_with_rua_acts_as_none():
    record = parse_dmarc_record("v=DMARC1; rua=mailto:d@example.com")
    assert record.p == "none" and any("no p= tag" in warning for warning in record.warnings)


@pytest.mark.parametrize(
    ("txt", "words"),
    [
        ("v=DMARC1; p=none; adkim=s; rua=mailto:d@example.com", "adkim=s"),
        ("v=DMARC1; p=none; aspf=s; rua=mailto:d@example.com", "aspf=s"),
        ("v=DMARC1; p=reject", "p=reject without rua="),
        ("v=DMARC1; p=none", "p=none without rua="),
        ("v=DMARC1; p=none; adkim=x; rua=mailto:d@example.com", "adkim=x is not valid"),
        ("v=DMARC1; p=none; foo=bar; rua=mailto:d@example.com", "Unknown tag foo=bar"),
        ("v=DMARC1; p=none; p=reject; rua=mailto:d@example.com", "appears twice"),
        ("v=DMARC1; p=none; rua=https://example.com/dmarc", "not a mailto"),
        ("v=DMARC1; p=reject; sp=none; rua=mailto:d@example.com", "weaker than p=reject"),
        ("v=DMARC1; p=none; pct=150; rua=mailto:d@example.com", "pct=150 is not a percentage"),
        ("v=DMARC1; p=none; fo=2; rua=mailto:d@example.com", "fo=2 is not valid"),
    ],
)
def test_warnings_say_what_is_odd(txt, words):
    assert any(words in warning for warning in parse_dmarc_record(txt).warnings), parse_dmarc_record(txt).warnings


def test_a_plain_good_record_has_no_warnings():
    assert parse_dmarc_record("v=DMARC1; p=reject; rua=mailto:dmarc@example.com").warnings == ()


def test_invalid_optional_values_fall_back_to_defaults():
    record = parse_dmarc_record("v=DMARC1; p=none; adkim=x; sp=sometimes; t=maybe; rua=mailto:d@example.com")
    assert (record.adkim, record.sp, record.tags["t"]) == ("r", "none", "n")
