"""Identifier alignment, from RFC 7489 3.1 / RFC 9989 4.4 and the article's alignment-mode table."""

from __future__ import annotations

import pytest

from dmarc_core import check_alignment
from dmarc_core.rules.alignment import aligns


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
        "mail.example.com and example.com share the organizational domain example.com, but adkim=s requires them to be identical."
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


@pytest.mark.parametrize(
    ("from_domain", "auth_domain", "mode"),
    [
        ("example.com", "mail.example.com", "r"),
        ("example.com", "mail.example.com", "s"),
        ("example.com", "example.com", "s"),
        ("example.com", "mailchimp.com", "r"),
        ("user1.github.io", "user2.github.io", "r"),
        ("example.co.uk", "mail.example.co.uk", "s"),
    ],
)
def test_report_data_is_aligned_by_the_same_rule(from_domain, auth_domain, mode):
    assert aligns(from_domain, auth_domain, mode) == check_alignment(from_domain, auth_domain, mode).aligned


def test_junk_in_report_data_is_not_aligned_and_no_error():
    assert not aligns("example.com", "exa mple.com") and not aligns("example.com", "") and not aligns("", "example.com")
