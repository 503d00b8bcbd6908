"""A deliberately simple reference triage, to check the fast path against.

It shares nothing with the fast path but the rules themselves (``judge_record``, which
``dmarc_core.analysis.triage`` applies once per distinct combination): it reads each record with
ElementPath look-ups, one record at a time, and judges every record on its own, with no shapes,
columns, batches or grouping. Its own copy of a rule would drift from the product's unseen.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from lxml import etree

from dmarc_core.rules.alignment import reported_result, safe_domain
from dmarc_core.rules.evaluation import judge_record

COMPARED = [
    "source_ip",
    "count",
    "header_from",
    "disposition",
    "reported_dkim",
    "reported_spf",
    "dkim",
    "spf",
    "dmarc_pass",
    "dkim_aligned",
    "spf_aligned",
    "cause",
    "table_row",
    "enforced_before_fix",
]


def _text(element, path: str) -> str:
    return (element.findtext(path) or "").strip().lower()


def reference_triage(path: Path) -> pd.DataFrame:
    policy_domain, adkim, aspf = "", "r", "r"
    rows = []
    for _, element in etree.iterparse(str(path), events=("end",), tag=("policy_published", "record")):
        if element.tag == "policy_published":
            policy_domain = _text(element, "domain")
            adkim, aspf = _text(element, "adkim") or "r", _text(element, "aspf") or "r"
            continue
        header_from = _text(element, "identifiers/header_from")
        # As in the product: a record without a usable From: domain is judged for the policy's domain.
        from_domain = safe_domain(header_from) or safe_domain(policy_domain)
        dkim = [(_text(d, "domain"), _text(d, "result")) for d in element.findall("auth_results/dkim")]
        spf = [(_text(s, "domain"), _text(s, "scope"), _text(s, "result")) for s in element.findall("auth_results/spf")]
        # The rules read results as the RFC words they stand for, as the product does.
        judged_dkim = tuple((domain, reported_result(result, "dkim")) for domain, result in dkim if domain or result)
        judged_spf = tuple((domain, scope, reported_result(result, "spf")) for domain, scope, result in spf)
        reported_dkim = _text(element, "row/policy_evaluated/dkim")
        reported_spf = _text(element, "row/policy_evaluated/spf")
        reasons = tuple(r.strip().lower() for r in element.xpath("row/policy_evaluated/reason/type/text()"))
        verdict = judge_record(
            from_domain,
            judged_dkim,
            judged_spf,
            adkim=adkim,
            aspf=aspf,
            reported_dkim=reported_dkim,
            reported_spf=reported_spf,
            reasons=reasons,
        )
        disposition = _text(element, "row/policy_evaluated/disposition")
        rows.append(
            {
                "source_ip": (element.findtext("row/source_ip") or "").strip(),
                "count": int(_text(element, "row/count") or 0),
                "header_from": header_from,
                "disposition": disposition,
                "reported_dkim": reported_dkim,
                "reported_spf": reported_spf,
                "dkim": ",".join(f"{d}:{r}" for d, r in dkim),
                "spf": ",".join(f"{d}:{r}" for d, _, r in spf),
                "dmarc_pass": verdict.dmarc_pass,
                "dkim_aligned": verdict.dkim_aligned,
                "spf_aligned": verdict.spf_aligned,
                "cause": verdict.diagnosis.cause,
                "table_row": verdict.diagnosis.table_row,
                # Root cause 5: DMARC failed, a DKIM result passed, and the receiver quarantined or rejected.
                "enforced_before_fix": disposition in ("quarantine", "reject")
                and any(r == "pass" for _, r in dkim)
                and not verdict.dmarc_pass,
            }
        )
        element.clear(keep_tail=True)
    return pd.DataFrame(rows, columns=COMPARED)


def differences(fast: pd.DataFrame, reference: pd.DataFrame) -> list[str]:
    """Where the fast triage and the reference disagree, as readable lines (empty: identical)."""
    if len(fast) != len(reference):
        return [f"{len(fast)} rows against {len(reference)} in the reference"]
    problems = []
    for name in COMPARED:
        ours = fast[name].astype(object).where(fast[name].notna(), None).tolist()
        theirs = reference[name].astype(object).where(reference[name].notna(), None).tolist()
        wrong = [index for index, (a, b) in enumerate(zip(ours, theirs, strict=True)) if a != b]
        if wrong:
            first = wrong[0]
            problems.append(f"{name}: {len(wrong)} rows differ, first at row {first}: {ours[first]!r} != {theirs[first]!r}")
    return problems
