"""The _dmarc TXT record, by RFC 7489 section 6.3 and RFC 9989."""

from __future__ import annotations

import pytest

from dmarc_core import DmarcRecordError, parse_dmarc_record
from dmarc_core.rules.dmarc_record import declared_psd, is_dmarc_record


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
        # RFC 9989 4.10.1: an invalid p, sp or np with no valid rua= means no DMARC processing at all.
        ("v=DMARC1; p=block", "p=block is not a policy .* no DMARC processing"),
        ("v=DMARC1; p=reject; sp=block", "sp=block is not a policy"),
        ("v=DMARC1; p=reject; np=never; rua=reports@example.com", "np=never is not a policy"),
        # RFC 6376 3.2, adopted by RFC 9989 4.7: a duplicated tag voids the record, whatever the tag.
        ("v=DMARC1; p=none; p=reject; rua=mailto:d@example.com", "p= appears twice"),
        ("v=DMARC1; p=none; foo=1; foo=2", "foo= appears twice"),
        ("v=DMARC1; v=DMARC1; p=none", "v= appears twice"),
    ],
)
def test_errors(txt, words):
    with pytest.raises(DmarcRecordError, match=words):
        parse_dmarc_record(txt)
    assert issubclass(DmarcRecordError, ValueError)


@pytest.mark.parametrize(
    "txt",
    [
        "v=DMARC1; p=block; rua=mailto:d@example.com",
        "v=DMARC1; p=reject; sp=block; rua=mailto:d@example.com",
        "v=DMARC1; p=reject; np=Rejected; rua=mailto:d@example.com",
        # "at least one syntactically valid reporting URI": a scheme receivers do not send to still counts.
        "v=DMARC1; p=quarantine; sp=hold; rua=https://example.com/dmarc",
    ],
)
def test_an_invalid_policy_with_a_valid_rua_acts_as_p_none_everywhere(txt):
    # RFC 9989 4.10.1: "the Mail Receiver MUST act as if a record containing "p=none" was retrieved":
    # never the p=reject written beside the bad tag.
    record = parse_dmarc_record(txt)
    assert (record.p, record.sp, record.np) == ("none", "none", "none")
    assert any("act as if the record said p=none" in warning for warning in record.warnings)


@pytest.mark.parametrize("rua", ["; rua=mailto:d@example.com", ""])
def test_a_record_without_p_is_p_none(rua):
    # RFC 9989 4.7: "If this tag is not present in an otherwise syntactically valid DMARC Policy Record,
    # then the record is treated as if it included p=none"; RFC 7489 receivers needed a valid rua= too.
    record = parse_dmarc_record(f"v=DMARC1; adkim=s{rua}")
    assert (record.p, record.sp, record.np) == ("none", "none", "none")
    (warning,) = [warning for warning in record.warnings if "no p= tag" in warning]
    assert "RFC 7489" in warning and "ignore the record" in warning


@pytest.mark.parametrize("fo", ["0:1", "1:0:d", "d:d", "s:1:s"])
def test_contradictory_failure_options_fall_back_to_the_default(fo):
    # RFC 9989 4.7: "0" and "1" are mutually exclusive; 4.8: d and s each appear at most once.
    record = parse_dmarc_record(f"v=DMARC1; p=none; fo={fo}; rua=mailto:d@example.com")
    assert record.tags["fo"] == "0" and any(f"fo={fo} is not valid" in warning for warning in record.warnings)


@pytest.mark.parametrize("fo", ["1", "d", "d:s", "0:d", "s:1", "D:S:1"])
def test_valid_failure_options_are_kept(fo):
    assert parse_dmarc_record(f"v=DMARC1; p=none; fo={fo}; rua=mailto:d@example.com").tags["fo"] == fo.lower()


@pytest.mark.parametrize(
    ("txt", "words"),
    [
        ("v=DMARC1; p=none; adkim=s; rua=mailto:d@example.com", "adkim=s"),
        ("v=DMARC1; p=none; aspf=s; rua=mailto:d@example.com", "aspf=s"),
        ("v=DMARC1; p=reject", "p=reject without rua="),
        ("v=DMARC1; p=none", "p=none without rua="),
        ("v=DMARC1; p=none; adkim=x; rua=mailto:d@example.com", "adkim=x is not valid"),
        ("v=DMARC1; p=none; foo=bar; rua=mailto:d@example.com", "Unknown tag foo=bar"),
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


@pytest.mark.parametrize(
    ("txt", "is_record"),
    [
        ("v=DMARC1; p=none", True),
        ("V = DMARC1 ;p=none", True),  # "v" is case-insensitive in ABNF, and equals allows WSP around "="
        ("v=DMARC1", True),
        ("\tv=DMARC1; p=none", False),  # RFC 9989 4.10 step 2: the record must start with the v tag
        (" v=DMARC1; p=reject", False),
        ("v=dmarc1; p=none", False),  # %s"DMARC1": the value is case-sensitive
        ("v=DMARC10; p=none", False),
        ("v=spf1 -all", False),
    ],
)
def test_only_a_value_starting_with_v_dmarc1_is_a_dmarc_record(txt, is_record):
    assert is_dmarc_record(txt) is is_record


@pytest.mark.parametrize(
    ("txt", "psd"),
    [
        ("v=DMARC1; p=reject; psd=y", "y"),
        ("v=DMARC1; psd=N", "n"),
        ("v=DMARC1; p=block; psd=n", "n"),  # unusable (no valid p, no rua), yet it declares psd=n
        ("v=DMARC1; p=none", "u"),
        ("v=DMARC1; p=none; psd=maybe", "u"),
    ],
)
def test_psd_is_read_whatever_else_the_record_lacks(txt, psd):
    assert declared_psd(txt) == psd
