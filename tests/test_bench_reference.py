"""The benchmark's reference triage (bench/reference.py) follows the product's cause rules, so the
parity check in tests/reports/test_chunks.py can see the fast path drift from them."""

from __future__ import annotations

from dmarc_core import parse_reports, triage
from dmarc_core.rules.diagnosis import spf_passes_for

from generate import write
from reference import differences, reference_triage


def _spf_passes_only_elsewhere(spf: str, header_from: str) -> bool:
    """SPF passed, but only for a domain outside the From: domain's organization (a list's own)."""
    results = [tuple(entry.rsplit(":", 1)) for entry in spf.split(",") if entry]
    return any(result == "pass" for _, result in results) and not spf_passes_for(header_from, results)


def test_a_list_with_no_reason_is_forwarded_in_both(tmp_path):
    path = write(300, tmp_path / "report-300.xml")
    fast = triage(parse_reports(path))
    # The case that tells "SPF passed for your organization" from "SPF passed" must be generated,
    # or the comparison below proves nothing about that rule.
    relayed_silently = [
        row
        for row in fast.itertuples()
        if row.cause == "forwarded" and not row.reason and _spf_passes_only_elsewhere(row.spf, row.header_from)
    ]
    assert relayed_silently
    assert differences(fast, reference_triage(path)) == []
