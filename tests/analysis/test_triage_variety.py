"""The triage of a varied report, where thousands of distinct combinations share <dkim> and <spf>
entries and lists that are numbered once each, agrees row by row with bench/reference.py, which
reads every record on its own with ElementPath and judges it alone."""

from __future__ import annotations

import pytest

from dmarc_core import parse_reports, triage

from reference import differences, reference_triage
from variety import write_variety

RECORDS = 3000


@pytest.fixture(scope="module")
def varied(tmp_path_factory):
    path = write_variety(RECORDS, tmp_path_factory.mktemp("variety") / "variety.xml")
    return path, triage(parse_reports(path))


def test_the_report_has_many_combinations_sharing_their_entries(varied):
    _, frame = varied
    combinations = frame[["header_from", "auth_results", "reported_dkim", "reported_spf", "reason"]].drop_duplicates()
    assert len(combinations) > RECORDS / 5
    # Fewer distinct DKIM lists than distinct auth results: lists are shared between combinations.
    assert frame["dkim"].nunique() < frame["auth_results"].nunique()


def test_every_row_agrees_with_the_reference(varied):
    path, frame = varied
    assert differences(frame, reference_triage(path)) == []


def test_every_rows_text_columns_are_its_own_auth_results(varied):
    _, frame = varied
    for auth, selectors, dkim, spf in frame[["auth_results", "dkim_selectors", "dkim", "spf"]].itertuples(index=False):
        assert selectors == ",".join(signature.selector for signature in auth.dkim)
        assert dkim == ",".join(f"{signature.domain}:{signature.result}" for signature in auth.dkim)
        assert spf == ",".join(f"{check.domain}:{check.result}" for check in auth.spf)
