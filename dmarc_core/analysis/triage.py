"""Triage: every report record diagnosed, as one DataFrame row.

Records repeat: a big report has 100,000 rows but a few hundred distinct combinations of
From: domain, DKIM and SPF results and policy. The rules run once per combination and the
answers are mapped back onto the rows with array indexing.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..reports.model import AuthResults, DkimResult, Report, SpfResult
from ..rules.alignment import aligns, reported_result, safe_domain, safe_organizational_domain
from ..rules.diagnosis import authenticated_sender
from ..rules.evaluation import judge_record, mail_from_results
from ..rules.scenario import REASONS, Scenario

#: Report-level values on each of the report's rows; ``report`` numbers the reports triaged
#: together, so ``summary.reports`` finds each report's facts once by it.
REPORT_COLUMNS = ("report", "file", "org_name", "report_id", "begin", "end", "policy_domain", "p", "adkim", "aspf", "pct")
#: Columns the diagnosis depends on: rows equal in these get the same answer.
_KEY = ("header_from", "policy_domain", "auth_results", "adkim", "aspf", "reported_dkim", "reported_spf", "reason")


#: What the link format (``domain:result``, comma-separated) uses as separators; a report's value
#: shows them as ``?``, so that no value can pass for two entries.
_SEPARATORS = re.compile(r"[,:\s]")


def _as_text(value: str) -> str:
    return _SEPARATORS.sub("?", value)


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


#: The columns the rules fill, once per distinct combination of _KEY.
_JUDGED = tuple(field.name for field in fields(_Judgement))


def _identifiers(header_from, policy_domain, auth: AuthResults, reason):
    """A combination's From: domain, signatures, SPF results (all, and MAIL FROM's) and reasons,
    by the RFC words their results stand for, as the Explorer reads its link."""
    from_domain = safe_domain(header_from) or safe_domain(policy_domain)
    signatures = tuple((signature.domain, reported_result(signature.result, "dkim")) for signature in auth.dkim)
    spf = tuple((check.domain, check.scope, reported_result(check.result, "spf")) for check in auth.spf)
    spf_results = mail_from_results(spf)  # the Explorer's SPF: a HELO result never stands in for it
    reasons = tuple(filter(None, (part.strip() for part in reason.split(",")))) if reason else ()
    return from_domain, signatures, spf, spf_results, reasons


def _judge(header_from, policy_domain, auth: AuthResults, adkim, aspf, reported_dkim, reported_spf, reason) -> _Judgement:
    from_domain, signatures, spf, spf_results, reasons = _identifiers(header_from, policy_domain, auth, reason)
    verdict = judge_record(
        from_domain,
        signatures,
        spf,
        adkim=adkim,
        aspf=aspf,
        reported_dkim=reported_dkim,
        reported_spf=reported_spf,
        reasons=reasons,
    )
    diagnosis = verdict.diagnosis
    named = authenticated_sender((*signatures, *spf_results))
    # Without a known sender, a source is named by the first domain that authenticated, if any.
    authenticated = next((domain for domain, result in (*signatures, *spf_results) if result == "pass" and domain), None)
    return _Judgement(
        dkim_aligned=verdict.dkim_aligned,
        spf_aligned=verdict.spf_aligned,
        dmarc_pass=verdict.dmarc_pass,
        disagrees=verdict.disagrees,
        cause=diagnosis.cause,
        table_row=diagnosis.table_row,
        finding=diagnosis.finding.key,
        sender=named.name if named else "",
        source=named.name if named else (safe_organizational_domain(authenticated) or ""),
        explanation=diagnosis.explanation,
        fix=diagnosis.fix_for(named),
    )


def explorer_links(rows: pd.DataFrame) -> pd.Series:
    """For each triaged row, the Explorer query string that reproduces it: its identifiers, and
    the receiver's verdicts and reasons, so the Explorer reaches the same verdict and cause. Built
    once per distinct combination among ``rows``, and only for rows shown or exported: links are
    the costliest text of a triage."""
    if rows.empty:
        return pd.Series([], index=rows.index, dtype=object)
    codes, first_rows = _combinations(rows)
    links = [_link(*combo) for combo in rows[list(_KEY)].iloc[first_rows].itertuples(index=False, name=None)]
    return pd.Series(_expand("explorer_link", links, codes), index=rows.index)


def exported(frame: pd.DataFrame) -> pd.DataFrame:
    """The triage as CSV and JSON carry it: every exported column, the Explorer link included."""
    return frame.assign(explorer_link=explorer_links(frame))[list(EXPORTED_COLUMNS)]


def _combinations(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Every row's number among the distinct combinations of the columns the rules read, and the
    first row of each."""
    codes = frame.groupby(list(_KEY), sort=False, dropna=False, observed=True).ngroup().to_numpy()
    return codes, np.unique(codes, return_index=True)[1]


def _link(header_from, policy_domain, auth, adkim, aspf, reported_dkim, reported_spf, reason) -> str:
    from_domain, signatures, _, spf_results, reasons = _identifiers(header_from, policy_domain, auth, reason)
    header_from = from_domain or header_from
    dkim = tuple((_as_text(domain), result) for domain, result in signatures if domain)
    # Of several MAIL FROM results, the one that decides: a pass for your organization first, then any pass.
    ranked = sorted(
        (entry for entry in spf_results if entry[0]), key=lambda entry: (entry[1] != "pass", not aligns(header_from, entry[0]))
    )
    spf = (_as_text(ranked[0][0]), ranked[0][1]) if ranked else None
    verdicts = [verdict if verdict in ("pass", "fail") else None for verdict in (reported_dkim, reported_spf)]
    reasons = tuple(reason for reason in reasons if reason in REASONS)
    return Scenario(header_from or "", dkim, spf, adkim, aspf, *verdicts, reasons).query_string()


def triage(reports: Report | Iterable[Report]) -> pd.DataFrame:
    """One row per ``<record>``, in document order, with the receiver's and our verdicts and the cause."""
    reports = [reports] if isinstance(reports, Report) else list(reports)
    if not reports or not sum(report.record_count for report in reports):
        return _empty_frame()
    table = pa.concat_tables([report.records for report in reports])
    auth_codes, auth_values = _distinct_auth_results(table)
    records = table.drop_columns(["dkim", "spf"]).to_pandas(types_mapper=_ARROW_TEXT.get)
    which_report = np.repeat(np.arange(len(reports)), [report.record_count for report in reports])
    frame = pd.concat([_report_columns(reports, which_report), records], axis=1)
    frame["auth_results"] = pd.Categorical.from_codes(auth_codes, categories=pd.Index(auth_values, dtype=object))
    for name, text in _AUTH_TEXT.items():  # the auth results as text, for tables and CSV
        frame[name] = _expand(name, [text(auth) for auth in auth_values], auth_codes)

    # The rules run once per distinct combination of the columns they read.
    codes, first_rows = _combinations(frame)
    judged = [_judge(*combo) for combo in frame[list(_KEY)].iloc[first_rows].itertuples(index=False, name=None)]
    for name in _JUDGED:
        frame[name] = _expand(name, [getattr(judgement, name) for judgement in judged], codes)
    # Root cause 5: DMARC failed, yet a DKIM result passed, and the receiver quarantined or rejected it.
    frame["enforced_before_fix"] = (
        frame["disposition"].isin(("quarantine", "reject")).to_numpy()
        & np.array([any(s.result == "pass" and s.domain for s in auth.dkim) for auth in auth_values])[auth_codes]
        & ~frame["dmarc_pass"].to_numpy()
    )
    # Who sent it when nothing authenticated: the address is all there is.
    source = frame["source"].astype(object)
    frame["source"] = source.where(source != "", frame["source_ip"]).where(lambda s: s != "", "(unknown)").astype("category")
    return frame[list(TRIAGE_COLUMNS)]


_ARROW_TEXT = {pa.string(): pd.StringDtype("pyarrow", na_value=np.nan)}


#: The text columns written from a record's auth results: ``domain:result`` entries (the link
#: format) and the DKIM selectors, comma-separated.
def _entries_text(results) -> str:
    return ",".join(f"{_as_text(result.domain)}:{_as_text(result.result)}" for result in results)


_AUTH_TEXT = {
    "dkim": lambda auth: _entries_text(auth.dkim),
    "dkim_selectors": lambda auth: ",".join(_as_text(signature.selector) for signature in auth.dkim),
    "spf": lambda auth: _entries_text(auth.spf),
}


def _distinct_auth_results(records: pa.Table) -> tuple[np.ndarray, list[AuthResults]]:
    """For every record the number of its <auth_results> among the distinct ones, and those, in
    order of first appearance. Equal lists are found in Arrow, so only distinct ones reach Python."""
    dkim, spf = records["dkim"].combine_chunks(), records["spf"].combine_chunks()
    encoded = pc.binary_join_element_wise(_list_key(dkim), _list_key(spf), "\x1d").dictionary_encode()
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    first_rows = np.unique(codes, return_index=True)[1]  # codes count up from 0 in order of appearance
    distinct = zip(_entries(dkim.take(first_rows), DkimResult), _entries(spf.take(first_rows), SpfResult), strict=True)
    return codes, [AuthResults(signatures, checks) for signatures, checks in distinct]


def _entries(column: pa.ListArray, kind: type) -> list[tuple]:
    """Every row's list of structs as a tuple of ``kind``, made once per distinct entry (entries
    repeat across rows far more than rows do)."""
    values = column.flatten()
    names = [field.name for field in values.type]
    made: dict[tuple, object] = {}
    entries = [
        made.get(key) or made.setdefault(key, kind(**dict(zip(names, key, strict=True))))
        for key in zip(*(child.to_pylist() for child in values.flatten()), strict=True)
    ]
    offsets = column.offsets.to_numpy()
    return [tuple(entries[start:end]) for start, end in itertools.pairwise((offsets - offsets[0]).tolist())]


def _list_key(column: pa.ListArray) -> pa.Array:
    """Text equal for equal lists of structs: fields joined by U+001F, entries by U+001E. The reader
    replaced every control character in report text, so no value holds these."""
    entries = pc.binary_join_element_wise(*column.values.flatten(), "\x1f")
    return pc.binary_join(pa.ListArray.from_arrays(column.offsets, entries), "\x1e")


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
            "report": np.arange(len(reports), dtype=np.int32),
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
    "auth_results",
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
)


#: What exports (CSV, JSON) carry: the structured ``auth_results`` are there as the text columns,
#: ``report`` only numbers the reports of one triage, and the Explorer link is built for them.
EXPORTED_COLUMNS = (*(name for name in TRIAGE_COLUMNS if name not in ("report", "auth_results")), "explorer_link")


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
