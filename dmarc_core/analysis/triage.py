"""Triage: every report record diagnosed, as one DataFrame row.

Records repeat: a big report has 100,000 rows but a few hundred distinct combinations of
From: domain, DKIM and SPF results and policy. The rules run once per combination and the
answers are mapped back onto the rows with array indexing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from ..reports.model import Report
from ..rules.alignment import DKIM_RESULTS, SPF_RESULTS
from ..rules.diagnosis import RELAY_REASONS, aligns, diagnose, safe_domain, safe_organizational_domain, spf_passes_for
from ..rules.knowledge import known_sender
from ..rules.scenario import Scenario

#: Report-level values repeated on each of the report's rows.
REPORT_COLUMNS = ("file", "org_name", "report_id", "begin", "end", "policy_domain", "p", "adkim", "aspf", "pct")
#: Columns the diagnosis depends on: rows equal in these get the same answer.
_KEY = ("header_from", "policy_domain", "dkim", "spf", "adkim", "aspf", "reported_dkim", "reported_spf", "reason")
_JUDGED = (
    "dkim_aligned",
    "spf_aligned",
    "dmarc_pass",
    "disagrees",
    "cause",
    "table_row",
    "finding",
    "sender",
    "source",
    "explanation",
    "fix",
    "explorer_link",
)
#: Non-standard result words seen in real reports, mapped to the nearest RFC word for links.
_RESULT_WORDS = {"hardfail": "fail"}


def entries(value: str) -> tuple[tuple[str, str], ...]:
    """``"a.example:pass,b.example:fail"`` to ``(("a.example", "pass"), ("b.example", "fail"))``."""
    if not value:
        return ()
    return tuple(tuple(entry.rsplit(":", 1)) for entry in value.split(","))  # type: ignore[misc]


@dataclass(frozen=True)
class _Judgement:
    dkim_aligned: bool
    spf_aligned: bool
    dmarc_pass: bool
    disagrees: bool
    cause: str
    table_row: int | None
    finding: str
    sender: str
    source: str
    explanation: str
    fix: str
    explorer_link: str


def _judge(header_from, policy_domain, dkim, spf, adkim, aspf, reported_dkim, reported_spf, reason) -> _Judgement:
    from_domain = safe_domain(header_from) or safe_domain(policy_domain)
    signatures, spf_results = entries(dkim), entries(spf)
    ours_dkim = any(result == "pass" and aligns(from_domain, domain, adkim) for domain, result in signatures)
    ours_spf = any(result == "pass" and aligns(from_domain, domain, aspf) for domain, result in spf_results)
    # The receiver's policy_evaluated verdicts count; where a report leaves them empty, ours stand in.
    dkim_pass = reported_dkim == "pass" if reported_dkim else ours_dkim
    spf_pass_evaluated = reported_spf == "pass" if reported_spf else ours_spf
    disagrees = (bool(reported_dkim) and dkim_pass != ours_dkim) or (bool(reported_spf) and spf_pass_evaluated != ours_spf)
    spf_passed = spf_passes_for(from_domain, spf_results) if spf_results else spf_pass_evaluated
    relayed = bool(RELAY_REASONS.intersection(reason.split(","))) if reason else False
    diagnosis = diagnose(from_domain, signatures, adkim=adkim, dkim_pass=dkim_pass, spf_pass=spf_passed, relayed=relayed)
    # Name a source only by domains that authenticated: anyone can claim a domain that then fails.
    authenticated = [domain for domain, result in (*signatures, *spf_results) if result == "pass" and domain]
    named = next(filter(None, map(known_sender, authenticated)), None)
    return _Judgement(
        dkim_aligned=ours_dkim,
        spf_aligned=ours_spf,
        dmarc_pass=dkim_pass or spf_pass_evaluated,
        disagrees=disagrees,
        cause=diagnosis.cause,
        table_row=diagnosis.table_row,
        finding=diagnosis.finding.key,
        sender=named.name if named else "",
        source=named.name if named else (safe_organizational_domain(authenticated[0]) or "" if authenticated else ""),
        explanation=diagnosis.explanation,
        fix=_fix(diagnosis, named),
        explorer_link=_link(from_domain or header_from, signatures, spf_results, adkim, aspf, reported_dkim),
    )


def _fix(diagnosis, sender) -> str:
    """The finding's fix, plus where the known sender turns on signing with your domain."""
    if sender and sender.setting and diagnosis.finding.blocks_rollout:
        return f"{diagnosis.fix} At {sender.name}: {sender.setting}."
    return diagnosis.fix


def _link(header_from, signatures, spf_results, adkim, aspf, reported_dkim) -> str:
    """The Explorer query string that reproduces the row."""

    def word(result: str, allowed: tuple[str, ...]) -> str:
        result = _RESULT_WORDS.get(result, result)
        return result if result in allowed else "neutral"

    dkim = tuple((domain, word(result, DKIM_RESULTS)) for domain, result in signatures if domain)
    spf = next(((domain, word(result, SPF_RESULTS)) for domain, result in spf_results if domain), None)
    reported = reported_dkim if reported_dkim in ("pass", "fail") else None
    return Scenario(header_from or "", dkim, spf, adkim, aspf, reported).query_string()


def triage(reports: Report | Iterable[Report]) -> pd.DataFrame:
    """One row per ``<record>``, in document order, with the receiver's and our verdicts and the cause."""
    reports = [reports] if isinstance(reports, Report) else list(reports)
    if not reports or not sum(report.record_count for report in reports):
        return _empty_frame()
    records = pa.concat_tables([report.records for report in reports]).to_pandas(types_mapper=_ARROW_TEXT.get)
    which_report = np.repeat(np.arange(len(reports)), [report.record_count for report in reports])
    frame = pd.concat([_report_columns(reports, which_report), records], axis=1)

    # The rules run once per distinct combination of the columns they read.
    codes = frame.groupby(list(_KEY), sort=False, dropna=False, observed=True).ngroup().to_numpy()
    first_rows = np.unique(codes, return_index=True)[1]
    judged = [_judge(*combo) for combo in frame[list(_KEY)].iloc[first_rows].itertuples(index=False, name=None)]
    for name in _JUDGED:
        frame[name] = _expand(name, [getattr(judgement, name) for judgement in judged], codes)
    frame["enforced_before_fix"] = (
        frame["disposition"].isin(("quarantine", "reject")).to_numpy()
        & frame["dkim"].str.contains(":pass", regex=False).to_numpy()
        & (frame["reported_dkim"] == "fail").to_numpy()
    )
    # Who sent it when nothing authenticated: the address is all there is.
    source = frame["source"].astype(object)
    frame["source"] = source.where(source != "", frame["source_ip"]).where(lambda s: s != "", "(unknown)").astype("category")
    return frame[list(TRIAGE_COLUMNS)]


_ARROW_TEXT = {pa.string(): pd.StringDtype("pyarrow", na_value=np.nan)}


def _expand(name: str, values: list, codes: np.ndarray):
    """Per-combination answers onto every row: flags as arrays, the table row as a nullable
    integer, text as categoricals (a few distinct values over many rows)."""
    if name == "table_row":
        return pd.array(values, dtype="Int64")[codes]
    if isinstance(values[0], bool):
        return np.asarray(values, dtype=bool)[codes]
    value_codes, uniques = pd.factorize(pd.Series(values, dtype=object))
    return pd.Categorical.from_codes(value_codes[codes], categories=uniques)


def _report_columns(reports: list[Report], which_report: np.ndarray) -> pd.DataFrame:
    per_report = pd.DataFrame(
        {
            "file": [r.file for r in reports],
            "org_name": [r.metadata.org_name for r in reports],
            "report_id": [r.metadata.report_id for r in reports],
            "begin": pd.to_datetime([r.metadata.begin for r in reports], utc=True),
            "end": pd.to_datetime([r.metadata.end for r in reports], utc=True),
            "policy_domain": [r.policy.domain for r in reports],
            "p": [r.policy.p for r in reports],
            "adkim": [r.policy.adkim for r in reports],
            "aspf": [r.policy.aspf for r in reports],
            "pct": pd.array([r.policy.pct for r in reports], dtype="Int64"),
        }
    )
    text = ["file", "org_name", "report_id", "policy_domain", "p", "adkim", "aspf"]
    per_report[text] = per_report[text].astype("category")
    return per_report.iloc[which_report].reset_index(drop=True)


TRIAGE_COLUMNS = (
    *REPORT_COLUMNS,
    "source_ip",
    "count",
    "header_from",
    "envelope_from",
    "envelope_to",
    "disposition",
    "reported_dkim",
    "reported_spf",
    "reason",
    "reason_comment",
    "dkim",
    "dkim_selectors",
    "spf",
    "dmarc_pass",
    "dkim_aligned",
    "spf_aligned",
    "disagrees",
    "cause",
    "table_row",
    "enforced_before_fix",
    "finding",
    "sender",
    "source",
    "explanation",
    "fix",
    "explorer_link",
)


def _empty_frame() -> pd.DataFrame:
    frame = pd.DataFrame({name: pd.Series(dtype=object) for name in TRIAGE_COLUMNS})
    frame = frame.astype(
        {
            "count": "int64",
            "table_row": "Int64",
            "dmarc_pass": bool,
            "dkim_aligned": bool,
            "spf_aligned": bool,
            "disagrees": bool,
            "enforced_before_fix": bool,
        }
    )
    return frame
