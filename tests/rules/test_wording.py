"""Counts in words, as every page, the advice and the CLI write them."""

import pytest

from dmarc_core.rules.wording import counted


@pytest.mark.parametrize(("count", "written"), [(1, "1 message"), (0, "0 messages"), (2, "2 messages"), (2400, "2,400 messages")])
def test_the_noun_is_plural_unless_the_count_is_one(count, written):
    assert counted(count, "message") == written
