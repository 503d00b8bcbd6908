"""Triage: every report record diagnosed, as one DataFrame row.

Records repeat: a big report has 100,000 rows but a few hundred distinct combinations of
From: domain, DKIM and SPF results and policy. The rules run once per combination and the
answers are mapped back onto the rows with array indexing. A varied report (a new return-path
domain on almost every record) still has tens of thousands of combinations, so what depends on
less than a whole one is worked out once per distinct part: <dkim> and <spf> entries and lists
are numbered in Arrow and become Python objects once each, senders and sources are named once
per distinct <auth_results>, and texts are read once per distinct diagnosis.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..reports.model import AuthResults, DkimResult, Report, SpfResult
from ..rules.alignment import aligns, reported_result, safe_domain, safe_organizational_domain
from ..rules.diagnosis import Diagnosis, authenticated_sender
from ..rules.evaluation import judge_record, mail_from_results
from ..rules.knowledge import KnownSender
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


def _signature(entry: DkimResult) -> tuple[str, str]:
    """A <dkim> entry as the rules read it: its domain and the RFC word of its result."""
    return entry.domain, reported_result(entry.result, "dkim")


def _spf_check(entry: SpfResult) -> tuple[str, str, str]:
    """An <spf> entry as the rules read it: its domain, scope and the RFC word of its result."""
    return entry.domain, entry.scope, reported_result(entry.result, "spf")


def _from_domain(header_from, policy_domain) -> str | None:
    """The From: domain, or the policy's domain for a record without a usable one."""
    return safe_domain(header_from) or safe_domain(policy_domain)


def _reasons(reason) -> tuple[str, ...]:
    """The receiver's reason types, from the comma-separated column."""
    return tuple(filter(None, (part.strip() for part in reason.split(",")))) if reason else ()


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
    codes = _numbered(*(pd.factorize(frame[name], use_na_sentinel=False)[0] for name in _KEY))
    return codes, _first_rows(codes)


def _link(header_from, policy_domain, auth, adkim, aspf, reported_dkim, reported_spf, reason) -> str:
    """A combination's Explorer query string: its identifiers as the rules read them."""
    header_from = _from_domain(header_from, policy_domain) or header_from
    dkim = tuple((_as_text(domain), result) for domain, result in map(_signature, auth.dkim) if domain)
    # The Explorer's SPF is MAIL FROM's: a HELO result never stands in for it. Of several, the one
    # that decides: a pass for your organization first, then any pass.
    spf_results = mail_from_results(tuple(map(_spf_check, auth.spf)))
    ranked = sorted(
        (entry for entry in spf_results if entry[0]), key=lambda entry: (entry[1] != "pass", not aligns(header_from, entry[0]))
    )
    spf = (_as_text(ranked[0][0]), ranked[0][1]) if ranked else None
    verdicts = [verdict if verdict in ("pass", "fail") else None for verdict in (reported_dkim, reported_spf)]
    reasons = tuple(reason for reason in _reasons(reason) if reason in REASONS)
    return Scenario(header_from or "", dkim, spf, adkim, aspf, *verdicts, reasons).query_string()


def triage(reports: Report | Iterable[Report]) -> pd.DataFrame:
    """One row per ``<record>``, in document order, with the receiver's and our verdicts and the cause."""
    reports = [reports] if isinstance(reports, Report) else list(reports)
    if not reports or not sum(report.record_count for report in reports):
        return _empty_frame()
    table = pa.concat_tables([report.records for report in reports])
    auth = _AuthResultsColumn(table)
    records = table.drop_columns(["dkim", "spf"]).to_pandas(types_mapper=_ARROW_TEXT.get)
    which_report = np.repeat(np.arange(len(reports)), [report.record_count for report in reports])
    frame = pd.concat([_report_columns(reports, which_report), records], axis=1)
    frame["auth_results"] = pd.Categorical.from_codes(auth.codes, categories=pd.Index(auth.values, dtype=object))
    for name, column in auth.text_columns().items():  # the auth results as text, for tables and CSV
        frame[name] = column
    # Who sent it depends on the auth results alone: named once per distinct one.
    senders = [authenticated_sender((*signatures, *spf_results)) for signatures, _, spf_results in auth.identifiers]
    frame["sender"] = _expand("sender", [sender.name if sender else "" for sender in senders], auth.codes)
    sources = [
        _source(sender, signatures, spf_results)
        for sender, (signatures, _, spf_results) in zip(senders, auth.identifiers, strict=True)
    ]
    frame["source"] = _source_column(sources, auth.codes, table["source_ip"])

    # The rules run once per distinct combination of the columns they read.
    codes, first_rows = _combinations(frame)
    auth_codes = auth.codes[first_rows].tolist()
    flags, diagnoses = _judged(
        frame[[name for name in _KEY if name != "auth_results"]].iloc[first_rows], auth_codes, auth.identifiers
    )
    for name, column in zip(_FLAGS, flags.T, strict=True):
        frame[name] = column[codes]
    combination_senders = [senders[auth_code] for auth_code in auth_codes]
    for name, column in _diagnosis_columns(diagnoses, combination_senders, codes).items():
        frame[name] = column
    # Root cause 5: DMARC failed, yet a DKIM result passed, and the receiver quarantined or rejected it.
    frame["enforced_before_fix"] = (
        frame["disposition"].isin(("quarantine", "reject")).to_numpy() & auth.dkim_passed() & ~frame["dmarc_pass"].to_numpy()
    )
    return frame[list(TRIAGE_COLUMNS)]


#: The verdict's flags, as columns of the triage.
_FLAGS = ("dkim_aligned", "spf_aligned", "dmarc_pass", "disagrees")


def _judged(combos: pd.DataFrame, auth_codes: list[int], identifiers: list[tuple]) -> tuple[np.ndarray, list[Diagnosis]]:
    """Each combination's verdict flags (a row of _FLAGS) and diagnosis, by the rules."""
    flags, diagnoses = [], []
    rows = zip(auth_codes, combos.itertuples(index=False, name=None), strict=True)
    for auth_code, (header_from, policy_domain, adkim, aspf, reported_dkim, reported_spf, reason) in rows:
        verdict = judge_record(
            _from_domain(header_from, policy_domain),
            *identifiers[auth_code][:2],
            adkim=adkim,
            aspf=aspf,
            reported_dkim=reported_dkim,
            reported_spf=reported_spf,
            reasons=_reasons(reason),
        )
        # The verdict itself is not kept: thousands more objects alive make the garbage collector
        # run its full collection once more (measured: 3 instead of 2 on 100,000 varied records).
        flags.append((verdict.dkim_aligned, verdict.spf_aligned, verdict.dmarc_pass, verdict.disagrees))
        diagnoses.append(verdict.diagnosis)
    return np.array(flags, dtype=bool).reshape(-1, len(_FLAGS)), diagnoses


def _diagnosis_columns(diagnoses: list[Diagnosis], senders: list[KnownSender | None], codes: np.ndarray) -> dict:
    """The columns of each combination's diagnosis (and sender, for the fix), onto every row by
    ``codes``. Combinations share diagnoses (diagnose is memoized, so equal ones are mostly one
    object) and senders: each text is made once per distinct diagnosis, or pair of it and a sender."""
    diagnosis_codes = _by_identity(diagnoses)
    distinct = [diagnoses[index] for index in _first_rows(diagnosis_codes)]
    columns = {
        name: _expand(name, [getattr(diagnosis, name) for diagnosis in distinct], diagnosis_codes[codes])
        for name in ("cause", "table_row", "explanation")
    }
    columns["finding"] = _expand("finding", [diagnosis.finding.key for diagnosis in distinct], diagnosis_codes[codes])
    fix_codes = _numbered(diagnosis_codes, _by_identity(senders))
    fixes = [diagnoses[index].fix_for(senders[index]) for index in _first_rows(fix_codes)]
    columns["fix"] = _expand("fix", fixes, fix_codes[codes])
    return columns


def _source(sender: KnownSender | None, signatures, spf_results) -> str:
    """Who sent it: the known sender, or else the organization of the first domain that
    authenticated, if any."""
    if sender:
        return sender.name
    authenticated = next((domain for domain, result in (*signatures, *spf_results) if result == "pass" and domain), None)
    return safe_organizational_domain(authenticated) or ""


def _source_column(sources: list[str], auth_codes: np.ndarray, source_ips: pa.ChunkedArray) -> pd.Series:
    """Each row's source: its auth results' (``sources``, one per distinct auth results), or where
    nothing authenticated, the address, which is all there is; "(unknown)" without one either."""
    per_auth = np.array(sources, dtype=object)
    values = per_auth[auth_codes]
    unnamed = (per_auth == "")[auth_codes]
    values[unnamed] = source_ips.filter(pa.array(unnamed)).to_numpy(zero_copy_only=False)
    values[values == ""] = "(unknown)"
    return pd.Series(values, dtype=object).astype("category")


_ARROW_TEXT = {pa.string(): pd.StringDtype("pyarrow", na_value=np.nan)}


class _AuthResultsColumn:
    """Every record's <auth_results> numbered among the distinct ones (``codes``), and those
    (``values``), in order of first appearance, with what the triage reads of them. Equal entries
    and equal lists are found by their numbers, so only distinct ones reach Python."""

    def __init__(self, records: pa.Table):
        self._dkim = _Lists(records["dkim"].combine_chunks(), DkimResult)
        self._spf = _Lists(records["spf"].combine_chunks(), SpfResult)
        self.codes = _numbered(self._dkim.numbers, self._spf.numbers)
        first_rows = _first_rows(self.codes)
        pairs = list(zip(self._dkim.numbers[first_rows].tolist(), self._spf.numbers[first_rows].tolist(), strict=True))
        signatures, checks = self._dkim.tuples(), self._spf.tuples()
        self.values = [AuthResults(signatures[dkim], checks[spf]) for dkim, spf in pairs]
        signatures, checks = self._dkim.tuples(_signature), self._spf.tuples(_spf_check)
        mail_from = list(map(mail_from_results, checks))
        #: (signatures, SPF results, MAIL FROM's SPF results) of each, as the rules read them.
        self.identifiers = [(signatures[dkim], checks[spf], mail_from[spf]) for dkim, spf in pairs]

    def text_columns(self) -> dict[str, pd.Categorical]:
        """The text columns: ``domain:result`` entries (the link format) and the DKIM selectors,
        comma-separated."""
        return {
            "dkim": _expand("dkim", self._dkim.joined(_entry_text), self._dkim.numbers),
            "dkim_selectors": _expand(
                "dkim_selectors", self._dkim.joined(lambda signature: _as_text(signature.selector)), self._dkim.numbers
            ),
            "spf": _expand("spf", self._spf.joined(_entry_text), self._spf.numbers),
        }

    def dkim_passed(self) -> np.ndarray:
        """For every record, whether a DKIM result with a domain passed."""
        return self._dkim.any(lambda signature: signature.result == "pass" and bool(signature.domain))[self._dkim.numbers]


def _entry_text(entry: DkimResult | SpfResult) -> str:
    return f"{_as_text(entry.domain)}:{_as_text(entry.result)}"


def _numbered(*parts: np.ndarray) -> np.ndarray:
    """Each position's number among the distinct combinations of ``parts`` (arrays of numbers
    from 0), counting up from 0 in order of first appearance."""
    numbers = np.zeros(len(parts[0]), dtype=np.int64)
    for part in parts:
        numbers = pd.factorize(numbers * (int(part.max(initial=0)) + 1) + part)[0]
    return numbers


def _by_identity(objects: list) -> np.ndarray:
    """Each object's number among the distinct objects (by identity), in order of first appearance."""
    return pd.factorize(np.fromiter(map(id, objects), np.int64, len(objects)))[0]


def _first_rows(numbers: np.ndarray) -> np.ndarray:
    """Where each number first appears, for numbers counting up from 0 in order of appearance."""
    highest = np.maximum.accumulate(numbers)
    return np.flatnonzero(np.diff(highest, prepend=-1) > 0)


class _Lists:
    """A list column of structs (a record's <dkim> or <spf> elements) by its distinct lists: every
    row's list numbered among them (``numbers``), in order of first appearance, and each entry
    among the distinct entries, which become ``kind`` once each. Lists and entries repeat across
    rows, so Python sees each distinct one once."""

    def __init__(self, column: pa.ListArray, kind: type):
        offsets, values = column.offsets.to_numpy(), column.values  # a sliced column's values are not sliced
        # Text equal for equal entries: fields joined by U+001F. The reader replaced every control
        # character in report text, so no value holds it.
        codes = pc.binary_join_element_wise(*values.flatten(), "\x1f").dictionary_encode().indices.to_numpy()
        taken = values.take(_first_rows(codes))
        self._entries = list(map(kind, *(taken.field(field.name).to_pylist() for field in dataclasses.fields(kind))))
        # A list as the bytes of its entries' numbers: equal lists, equal bytes.
        buffers = [None, pa.py_buffer(offsets * codes.itemsize), pa.py_buffer(codes)]
        self.numbers = pa.BinaryArray.from_buffers(pa.binary(), len(offsets) - 1, buffers).dictionary_encode().indices.to_numpy()
        distinct = pa.ListArray.from_arrays(offsets, codes).take(_first_rows(self.numbers))
        self._codes, self._offsets = distinct.flatten().to_numpy(), distinct.offsets.to_numpy()

    def tuples(self, made=None) -> list[tuple]:
        """Each distinct list as a tuple of its entries, or of what ``made`` makes of each."""
        items = self._entries if made is None else list(map(made, self._entries))
        flat = np.fromiter(items, dtype=object, count=len(items))[self._codes].tolist()
        return [tuple(flat[start:end]) for start, end in itertools.pairwise(self._offsets.tolist())]

    def joined(self, text) -> list[str]:
        """Each distinct list as the ``text`` of its entries, comma-separated."""
        texts = pa.array(list(map(text, self._entries)), pa.string()).take(self._codes)
        return pc.binary_join(pa.ListArray.from_arrays(self._offsets, texts), ",").to_pylist()

    def any(self, test) -> np.ndarray:
        """For each distinct list, whether ``test`` holds for any of its entries."""
        held = np.fromiter(map(test, self._entries), dtype=bool, count=len(self._entries))[self._codes]
        counts = np.concatenate(([0], np.cumsum(held)))
        return counts[self._offsets[1:]] > counts[self._offsets[:-1]]


def _expand(name: str, values: list, codes: np.ndarray):
    """Answers per distinct combination (or part of one) onto every row: the table row as a
    nullable integer, text as categoricals (a few distinct values over many rows)."""
    if name == "table_row":
        return pd.array(values, dtype="Int64")[codes]
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
