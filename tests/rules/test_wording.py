"""Counts in words, as every page, the advice and the CLI write them."""

import pytest

from dmarc_core.rules.wording import counted, within_sentence


@pytest.mark.parametrize(("count", "written"), [(1, "1 message"), (0, "0 messages"), (2, "2 messages"), (2400, "2,400 messages")])
def test_the_noun_is_plural_unless_the_count_is_one(count, written):
    assert counted(count, "message") == written


def test_a_noun_not_made_plural_by_an_s_says_its_plural():
    assert [counted(count, "address", "addresses") for count in (1, 3)] == ["1 address", "3 addresses"]


@pytest.mark.parametrize(
    ("title", "within"),
    [
        ("Signed with someone else's domain", "signed with someone else's domain"),
        ("Aligned signature, yet DKIM evaluated as fail", "aligned signature, yet DKIM evaluated as fail"),
        ("DKIM key not found", "DKIM key not found"),  # an acronym keeps its capitals
        ("SPF alone", "SPF alone"),
        ("A signature", "a signature"),
    ],
)
def test_a_title_within_a_sentence_keeps_its_acronyms(title, within):
    assert within_sentence(title) == within
