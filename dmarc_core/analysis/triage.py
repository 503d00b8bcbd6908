"""Triage: every report record diagnosed, as one DataFrame row.

Records repeat: a big report has 100,000 rows but a few hundred distinct combinations of
From: domain, DKIM and SPF results and policy. The rules run once per combination of what they
read and the answers are mapped back onto the rows with array indexing. A varied report (a new
return-path domain on almost every record) still has tens of thousands of distinct
<auth_results>, so the work is done per distinct part, with the rows numbered in Arrow and numpy:
<dkim> and <spf> entries and lists become Python objects once each, senders and sources are
found once per distinct entry, an SPF domain is judged by whether it aligns with the From:
domain (so a new return-path domain of another organization adds no combination to judge), and
texts are read once per distinct diagnosis.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import re
from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..reports.model import AuthResults, DkimResult, Report, SpfResult
from ..reports.reading import records_of
from ..rules.alignment import aligns, reported_result, safe_domain, safe_organizational_domain
from ..rules.diagnosis import Diagnosis
from ..rules.evaluation import judge_record, mail_from_results
from ..rules.knowledge import KnownSender, known_sender, sender_kind
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
    codes = _numbered(*_column_codes(frame, _KEY))
    return codes, _first_rows(codes)


def _column_codes(columns, names) -> list[np.ndarray]:
    """Each named column's values (of a frame, or a dict of its columns) numbered among its distinct ones."""
    return [_codes_of(columns[name]) for name in names]


def _codes_of(column) -> np.ndarray:
    """A column's values numbered among its distinct ones (missing values too): a categorical's own
    codes, shifted past -1, where it has them, which costs nothing; else pandas' factorize."""
    dtype = getattr(column, "dtype", None)
    if isinstance(dtype, pd.CategoricalDtype):
        return np.asarray(column.cat.codes if isinstance(column, pd.Series) else column.codes, dtype=np.int64) + 1
    return pd.factorize(column, use_na_sentinel=False)[0]


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
    table = records_of(reports)
    auth = _AuthResultsColumn(table)
    which_report = np.repeat(np.arange(len(reports)), [report.record_count for report in reports])
    # Every column is made apart and the frame built once: each column set on a frame costs pandas
    # as much as making it, which for a month of small reports was a fifth of the triage.
    columns = {**_report_columns(reports, which_report), **_record_columns(table.drop_columns(["dkim", "spf"]))}
    columns["auth_results"] = _categorical(auth.codes, pd.Index(auth.values, dtype=object))
    columns.update(auth.text_columns())  # the auth results as text, for tables and CSV
    # Who sent it depends on the auth results alone: found once per distinct entry and list.
    senders, sources, naming_domains = auth.senders_and_sources()
    columns["sender"] = _expand("sender", [sender.name if sender else "" for sender in senders], auth.codes)
    columns["source"] = _source_column(sources, auth.codes, table["source_ip"])

    # The rules run once per distinct combination of what they read.
    judged = _judged(columns, auth)
    for name, column in zip(_FLAGS, judged.flags.T, strict=True):
        columns[name] = column[judged.codes]
    columns.update(_diagnosis_columns(judged.diagnoses, judged.codes, senders, auth.codes))
    columns["sender_kind"] = _kind_column(judged, columns["cause"], senders, naming_domains, auth.codes)
    # Root cause 5: DMARC failed, yet a DKIM result passed, and the receiver quarantined or rejected it.
    columns["enforced_before_fix"] = (
        columns["disposition"].isin(("quarantine", "reject")) & auth.dkim_passed() & ~columns["dmarc_pass"]
    )
    return pd.DataFrame({name: columns[name] for name in TRIAGE_COLUMNS}, copy=False)


#: The verdict's flags, as columns of the triage.
_FLAGS = ("dkim_aligned", "spf_aligned", "dmarc_pass", "disagrees")


@dataclasses.dataclass(frozen=True)
class _Judgement:
    """Every row's number among the distinct combinations of what the rules read (``codes``), and
    each combination's verdict flags (a row of _FLAGS), diagnosis, and whether DKIM or SPF (MAIL
    FROM) passed for a domain of the From: domain's organization (``yours``); every row's number
    among the distinct From: domains (``from_codes``), and those."""

    codes: np.ndarray
    flags: np.ndarray
    diagnoses: list[Diagnosis]
    yours: np.ndarray
    from_codes: np.ndarray
    from_domains: list[str | None]


def _judged(columns: dict, auth: _AuthResultsColumn) -> _Judgement:
    """The rules' answers, once per distinct combination of what they read (of ``columns``)."""
    from_codes, from_domains = _from_domains(columns)
    spf_codes, spf_lists = auth.spf_as_judged(from_codes, from_domains)
    dkim_codes, dkim_lists = auth.signatures()
    codes = _numbered(from_codes, dkim_codes, spf_codes, *_column_codes(columns, _RULE_COLUMNS))
    first_rows = _first_rows(codes)
    combos = zip(
        from_codes[first_rows].tolist(),
        dkim_codes[first_rows].tolist(),
        spf_codes[first_rows].tolist(),
        _rows_of(columns, _RULE_COLUMNS, first_rows),
        strict=True,
    )
    flags, diagnoses, yours = [], [], []
    for from_code, dkim, spf, (adkim, aspf, reported_dkim, reported_spf, reason) in combos:
        from_domain, signatures, checks = from_domains[from_code], dkim_lists[dkim], spf_lists[spf]
        verdict = judge_record(
            from_domain,
            signatures,
            checks,
            adkim=adkim,
            aspf=aspf,
            reported_dkim=reported_dkim,
            reported_spf=reported_spf,
            reasons=_reasons(reason),
        )
        # The verdict itself is not kept: thousands more objects alive make the garbage collector
        # run its full collection once more.
        flags.append((verdict.dkim_aligned, verdict.spf_aligned, verdict.dmarc_pass, verdict.disagrees))
        diagnoses.append(verdict.diagnosis)
        # Aligned under relaxed modes is the From: domain's organization; strict ones ask again.
        yours.append(
            verdict.dkim_aligned
            or verdict.spf_aligned
            or ("s" in (adkim, aspf) and _passed_for_organization(from_domain, signatures, checks))
        )
    return _Judgement(
        codes,
        np.array(flags, dtype=bool).reshape(-1, len(_FLAGS)),
        diagnoses,
        np.array(yours, dtype=bool),
        from_codes,
        from_domains,
    )


def _passed_for_organization(from_domain: str | None, signatures: tuple, checks: tuple) -> bool:
    """Whether a DKIM signature or the SPF MAIL FROM check passed for a domain of the From:
    domain's organization. The checks as judged keep a domain only where it aligns (relaxed)."""
    return any(result == "pass" and aligns(from_domain, domain) for domain, result in signatures) or any(
        domain and result == "pass" for domain, result in mail_from_results(checks)
    )


#: The columns the rules read beside the From: domain and the auth results.
_RULE_COLUMNS = ("adkim", "aspf", "reported_dkim", "reported_spf", "reason")


def _from_domains(columns: dict) -> tuple[np.ndarray, list[str | None]]:
    """Every row's number among the distinct From: domains the rules read, and those."""
    named = ("header_from", "policy_domain")
    pairs = _numbered(*_column_codes(columns, named))
    codes, distinct = _distinct([_from_domain(*pair) for pair in _rows_of(columns, named, _first_rows(pairs))])
    return codes[pairs], distinct


def _rows_of(columns, names: tuple[str, ...], rows: np.ndarray) -> Iterable[tuple]:
    """The named columns' values at ``rows`` (positions in the arrays of ``columns``), a tuple per row."""
    return zip(*(_values_at(columns[name], rows) for name in names), strict=True)


def _values_at(column, rows: np.ndarray) -> list:
    """``column[rows].tolist()``; for a categorical, read off its categories by its codes (a missing
    value as NaN, as pandas gives it), which pandas' own takes several times longer to do."""
    if isinstance(column, pd.Categorical):
        categories = np.append(np.asarray(column.categories, dtype=object), np.nan)
        return categories[column.codes[rows]].tolist()
    return column[rows].tolist()


def _aligning(from_domains: list[str | None], domains: list[str]) -> np.ndarray:
    """Whether each domain aligns (relaxed) with the From: domain beside it, as ``aligns`` says.

    Most are of other organizations. A domain aligns only if, normalized, it ends with the From:
    domain's organizational domain; normalizing an ASCII name only trims, cuts and lower-cases it,
    so an ASCII name without that text aligns with nothing, found without normalizing it (which
    costs most for a name met only once)."""
    orgs = {from_domain: safe_organizational_domain(from_domain) for from_domain in set(from_domains)}
    return np.fromiter(
        (
            bool(org := orgs[from_domain])
            and bool(domain)
            and (not domain.isascii() or org in domain.lower())
            and aligns(from_domain, domain)
            for from_domain, domain in zip(from_domains, domains, strict=True)
        ),
        dtype=bool,
        count=len(domains),
    )


def _distinct(values: list) -> tuple[np.ndarray, list]:
    """Each value's number among the distinct values (hashable, compared by equality), and those,
    in order of first appearance."""
    numbers: dict = {}
    codes = np.fromiter((numbers.setdefault(value, len(numbers)) for value in values), np.int64, len(values))
    return codes, list(numbers)


def _diagnosis_columns(
    diagnoses: list[Diagnosis], codes: np.ndarray, senders: list[KnownSender | None], auth_codes: np.ndarray
) -> dict:
    """The columns of each combination's diagnosis (and the row's sender, for the fix), onto every
    row by ``codes`` (and ``auth_codes``, each row's number among ``senders``). Combinations
    share diagnoses (diagnose is memoized, so equal ones are mostly one object) and senders: each
    text is made once per distinct diagnosis, or pair of it and a sender."""
    diagnosis_codes = _by_identity(diagnoses)
    distinct = [diagnoses[index] for index in _first_rows(diagnosis_codes)]
    row_codes = diagnosis_codes[codes]
    columns = {
        name: _expand(name, [getattr(diagnosis, name) for diagnosis in distinct], row_codes)
        for name in ("cause", "table_row", "explanation")
    }
    columns["finding"] = _expand("finding", [diagnosis.finding.key for diagnosis in distinct], row_codes)
    fix_codes = _numbered(row_codes, _by_identity(senders)[auth_codes])
    first_rows = _first_rows(fix_codes)
    fixes = [
        distinct[diagnosis].fix_for(senders[auth_code])
        for diagnosis, auth_code in zip(row_codes[first_rows].tolist(), auth_codes[first_rows].tolist(), strict=True)
    ]
    columns["fix"] = _expand("fix", fixes, fix_codes)
    return columns


def _kind_column(
    judged: _Judgement,
    causes: pd.Categorical,
    senders: list[KnownSender | None],
    naming_domains: list[str | None],
    auth_codes: np.ndarray,
) -> pd.Categorical:
    """Each row's ``sender_kind``, by the rule, once per distinct combination of what it reads: the
    cause (forwarded or not), the known sender (of the row's auth results), whether DKIM or SPF
    passed for the From: domain's organization, and whether the domain that named the known sender
    (``naming_domains``, per distinct auth results) is of that organization too."""
    relayed = np.asarray(causes == "forwarded", dtype=bool)
    sender_codes = _by_identity(senders)
    # Where a known sender is named, its naming domain's organization against the From: domain's.
    naming_orgs = np.array([safe_organizational_domain(domain) or "" for domain in naming_domains], dtype=object)
    from_orgs = np.array([safe_organizational_domain(domain) or "\x00" for domain in judged.from_domains], dtype=object)
    service_is_yours = naming_orgs[auth_codes] == from_orgs[judged.from_codes]
    yours = judged.yours[judged.codes]
    codes = _numbered(
        relayed.astype(np.int64), sender_codes[auth_codes], yours.astype(np.int64), service_is_yours.astype(np.int64)
    )
    first = _first_rows(codes)
    kinds = [
        sender_kind(
            senders[auth], yours=bool(yours[row]), relayed=bool(relayed[row]), service_is_yours=bool(service_is_yours[row])
        )
        for row, auth in zip(first.tolist(), auth_codes[first].tolist(), strict=True)
    ]
    return _expand("sender_kind", kinds, codes)


def _source_column(sources: list[str], auth_codes: np.ndarray, source_ips: pa.ChunkedArray) -> pd.Series:
    """Each row's source: its auth results' (``sources``, one per distinct auth results), or where
    nothing authenticated, the address, which is all there is; "(unknown)" without one either."""
    per_auth = np.array(sources, dtype=object)
    values = per_auth[auth_codes]
    unnamed = (per_auth == "")[auth_codes]
    values[unnamed] = source_ips.filter(pa.array(unnamed)).to_numpy(zero_copy_only=False)
    values[values == ""] = "(unknown)"
    codes, categories = pd.factorize(values, sort=True)  # sorted, as astype("category") sorts them
    return pd.Series(_categorical(codes, pd.Index(categories, dtype="str")))


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
        #: Each distinct one's <dkim> and <spf> list, by number.
        self._dkim_lists, self._spf_lists = self._dkim.numbers[first_rows].tolist(), self._spf.numbers[first_rows].tolist()
        signatures, checks = self._dkim.tuples(), self._spf.tuples()
        self.values = [
            AuthResults(signatures[dkim], checks[spf]) for dkim, spf in zip(self._dkim_lists, self._spf_lists, strict=True)
        ]

    def signatures(self) -> tuple[np.ndarray, list[tuple]]:
        """Every record's DKIM signatures as the rules read them, numbered, and those: lists that
        differ only in selectors are one list of signatures to the rules."""
        codes, signatures = _distinct(self._dkim.tuples(_signature))
        return codes[self._dkim.numbers], signatures

    def spf_as_judged(self, from_codes: np.ndarray, from_domains: list[str | None]) -> tuple[np.ndarray, list[tuple]]:
        """Every record's SPF checks as the rules judge them for its From: domain (``from_codes``
        among ``from_domains``), numbered, and those.

        The rules read an SPF domain only for whether it aligns with the From: domain (relaxed;
        strict alignment implies it), and judge one that does not like the empty domain: so it is
        judged as that, and a new return-path domain on every record adds no combination. Whether
        a domain aligns is found once per distinct pair of it and a From: domain."""
        rows, entries = self._spf.row_entries()
        pairs = _numbered(from_codes[rows], entries)
        first = _first_rows(pairs)
        aligned = _aligning(
            [from_domains[code] for code in from_codes[rows[first]].tolist()],
            [self._spf.entries[entry].domain for entry in entries[first].tolist()],
        )[pairs]
        # A check judged as the entry itself where its domain aligns, else as its scope and result alone.
        blank = self._spf.numbered_by(("scope", "result"))
        codes = self._spf.list_numbers(np.where(aligned, entries, len(self._spf.entries) + blank[entries]))

        def judged(position: int) -> tuple[str, str, str]:
            domain, scope, result = _spf_check(self._spf.entries[entries[position]])
            return domain if aligned[position] else "", scope, result

        return codes, [tuple(map(judged, self._spf.row_span(row))) for row in _first_rows(codes).tolist()]

    def senders_and_sources(self) -> tuple[list[KnownSender | None], list[str], list[str | None]]:
        """Each distinct one's known sender, the one the first DKIM or MAIL FROM result that passed
        names (as ``authenticated_sender``), who sent it (that sender, or else the organization of
        the first domain that authenticated, if any), and the domain that named the known sender.
        Found once per distinct entry and list."""
        dkim_domains = [_authenticated(*_signature(entry)) for entry in self._dkim.entries]
        # The scopes that count as MAIL FROM, as the rule says of a check of each.
        mail_from = {scope for scope in {entry.scope for entry in self._spf.entries} if mail_from_results((("", scope, ""),))}
        spf_domains = [
            _authenticated(entry.domain, reported_result(entry.result, "spf")) if entry.scope in mail_from else None
            for entry in self._spf.entries
        ]
        dkim_named, spf_named = (
            [domain if known_sender(domain) else None for domain in domains] for domains in (dkim_domains, spf_domains)
        )
        dkim_senders, spf_senders = (
            self._dkim.first(list(map(known_sender, dkim_named))),
            self._spf.first(list(map(known_sender, spf_named))),
        )
        dkim_named, spf_named = self._dkim.first(dkim_named), self._spf.first(spf_named)
        dkim_domains, spf_domains = self._dkim.first(dkim_domains), self._spf.first(spf_domains)
        lists = list(zip(self._dkim_lists, self._spf_lists, strict=True))
        senders = [dkim_senders[dkim] or spf_senders[spf] for dkim, spf in lists]
        sources = [
            sender.name if sender else safe_organizational_domain(dkim_domains[dkim] or spf_domains[spf]) or ""
            for sender, (dkim, spf) in zip(senders, lists, strict=True)
        ]
        naming_domains = [dkim_named[dkim] or spf_named[spf] for dkim, spf in lists]
        return senders, sources, naming_domains

    def text_columns(self) -> dict[str, pd.Categorical]:
        """The text columns: ``domain:result`` entries (the link format) and the DKIM selectors,
        comma-separated."""
        return {
            "dkim": _expand("dkim", self._dkim.joined(("domain", "result")), self._dkim.numbers),
            "dkim_selectors": _expand("dkim_selectors", self._dkim.joined(("selector",)), self._dkim.numbers),
            "spf": _expand("spf", self._spf.joined(("domain", "result")), self._spf.numbers),
        }

    def dkim_passed(self) -> np.ndarray:
        """For every record, whether a DKIM result with a domain passed."""
        return self._dkim.any(lambda signature: signature.result == "pass" and bool(signature.domain))[self._dkim.numbers]


def _authenticated(domain: str, result: str) -> str | None:
    """The domain of a (domain, result) that passed: one that authenticated the message."""
    return domain if result == "pass" and domain else None


def _numbered(*parts: np.ndarray) -> np.ndarray:
    """Each position's number among the distinct combinations of ``parts`` (arrays of numbers
    from 0), counting up from 0 in order of first appearance."""
    # Mixed radix: each combination one int64, renumbered only when the next part would overflow it.
    numbers, bound = np.zeros(len(parts[0]), dtype=np.int64), 1
    for part in parts:
        radix = int(part.max(initial=0)) + 1
        if bound * radix >= 1 << 63:
            numbers = pd.factorize(numbers)[0]
            bound = int(numbers.max(initial=0)) + 1
        numbers, bound = numbers * radix + part, bound * radix
    return pd.factorize(numbers)[0]


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
    among the distinct entries, which become ``kind`` once each (``entries``). Lists and entries
    repeat across rows, so Python sees each distinct one once."""

    def __init__(self, column: pa.ListArray, kind: type):
        offsets, values = column.offsets.to_numpy(), column.values  # a sliced column's values are not sliced
        codes = _joined_codes(values.flatten())
        self._distinct_entries = values.take(_first_rows(codes))
        self.entries = list(
            map(kind, *(self._distinct_entries.field(field.name).to_pylist() for field in dataclasses.fields(kind)))
        )
        #: Every row's entries (their numbers, in row order) and where each row's start.
        self._row_codes, self._row_offsets = codes[offsets[0] : offsets[-1]], offsets - offsets[0]
        self.numbers = self.list_numbers(self._row_codes)
        distinct = pa.ListArray.from_arrays(self._row_offsets, self._row_codes).take(_first_rows(self.numbers))
        self._codes, self._offsets = distinct.flatten().to_numpy(), distinct.offsets.to_numpy()

    def list_numbers(self, codes: np.ndarray) -> np.ndarray:
        """Every row's list numbered by ``codes``, a number for each entry of every row, in row
        order: rows whose entries have equal numbers get equal numbers, in order of first appearance."""
        # A list as the bytes of its entries' numbers: equal lists, equal bytes.
        buffers = [None, pa.py_buffer(self._row_offsets * codes.itemsize), pa.py_buffer(codes)]
        lists = pa.BinaryArray.from_buffers(pa.binary(), len(self._row_offsets) - 1, buffers)
        return lists.dictionary_encode().indices.to_numpy()

    def row_entries(self) -> tuple[np.ndarray, np.ndarray]:
        """Every row's entries, in row order: the row of each, and its number among ``entries``."""
        return np.repeat(np.arange(len(self._row_offsets) - 1), np.diff(self._row_offsets)), self._row_codes

    def row_span(self, row: int) -> range:
        """Where ``row``'s entries are among those of ``row_entries``."""
        return range(self._row_offsets[row], self._row_offsets[row + 1])

    def numbered_by(self, fields: tuple[str, ...]) -> np.ndarray:
        """Each of ``entries`` numbered among the distinct values of the named fields."""
        return _joined_codes([self._distinct_entries.field(name) for name in fields])

    def tuples(self, made=None) -> list[tuple]:
        """Each distinct list as a tuple of its entries, or of what ``made`` makes of each."""
        items = self.entries if made is None else list(map(made, self.entries))
        flat = np.fromiter(items, dtype=object, count=len(items))[self._codes].tolist()
        return [tuple(flat[start:end]) for start, end in itertools.pairwise(self._offsets.tolist())]

    def first(self, values: list) -> list:
        """For each distinct list, the first of its entries' ``values`` (one per entry) that is not
        None, else None."""
        given = np.empty(len(values) + 1, dtype=object)
        given[:-1] = values
        present = np.flatnonzero(np.fromiter((value is not None for value in values), bool, len(values))[self._codes])
        # Each list's first entry with a value, if the list reaches it; else the None at the end.
        found = np.append(present, len(self._codes))[np.searchsorted(present, self._offsets[:-1])]
        chosen = np.where(found < self._offsets[1:], np.append(self._codes, -1)[found], -1)
        return given[chosen].tolist()

    def joined(self, fields: tuple[str, ...]) -> list[str]:
        """Each distinct list as text: each entry's named fields as ``_as_text`` writes them, joined
        by ":", and the entries comma-separated."""
        values = [self._distinct_entries.field(name) for name in fields]
        texts = pc.binary_join_element_wise(*values, ":")
        # _as_text leaves letters, digits, dots, hyphens and underscores as they are (most values):
        # only entries with another character reach Python.
        plain = functools.reduce(pc.and_, (pc.match_substring_regex(value, r"^[A-Za-z0-9._-]*$") for value in values))
        rewritten = pc.invert(plain.fill_null(False))
        if pc.any(rewritten).as_py():
            entries = [self.entries[index] for index in np.flatnonzero(rewritten.to_numpy(zero_copy_only=False)).tolist()]
            texts = pc.replace_with_mask(
                texts,
                rewritten,
                pa.array([":".join(_as_text(getattr(entry, name)) for name in fields) for entry in entries], pa.string()),
            )
        return pc.binary_join(pa.ListArray.from_arrays(self._offsets, texts.take(self._codes)), ",").to_pylist()

    def any(self, test) -> np.ndarray:
        """For each distinct list, whether ``test`` holds for any of its entries."""
        held = np.fromiter(map(test, self.entries), dtype=bool, count=len(self.entries))[self._codes]
        counts = np.concatenate(([0], np.cumsum(held)))
        return counts[self._offsets[1:]] > counts[self._offsets[:-1]]


def _joined_codes(fields: list[pa.Array]) -> np.ndarray:
    """Each position numbered among the distinct values of ``fields`` together, in order of first
    appearance. Text equal for equal values: the fields joined by U+001F. The reader replaced every
    control character in report text, so no value holds it."""
    return pc.binary_join_element_wise(*fields, "\x1f").dictionary_encode().indices.to_numpy()


def _expand(name: str, values: list, codes: np.ndarray):
    """Answers per distinct combination (or part of one) onto every row: the table row as a
    nullable integer, text as categoricals (a few distinct values over many rows)."""
    if name == "table_row":
        return pd.array(values, dtype="Int64")[codes]
    numbers: dict = {}
    value_codes = np.fromiter(
        (-1 if value is None else numbers.setdefault(value, len(numbers)) for value in values), np.int64, len(values)
    )
    return _categorical(value_codes[codes], pd.Index(list(numbers), dtype=object))


def _record_columns(records: pa.Table) -> dict:
    """The records' own columns as pandas arrays: text as Arrow-backed strings, the dictionary
    columns as categoricals of their dictionary (made one across the table's chunks)."""
    records = records.unify_dictionaries()
    columns = {}
    for name, column in zip(records.column_names, records.columns, strict=True):
        if pa.types.is_dictionary(column.type):
            dictionary = column.chunk(0).dictionary if column.num_chunks else pa.array([], pa.string())
            indices = pa.chunked_array([chunk.indices for chunk in column.chunks], column.type.index_type)
            codes = indices.fill_null(-1).to_numpy()
            columns[name] = _categorical(codes, pd.Index(dictionary.to_pandas(types_mapper=_ARROW_TEXT.get)))
        else:
            columns[name] = column.to_pandas(types_mapper=_ARROW_TEXT.get).array
    return columns


def _categorical(codes: np.ndarray, categories: pd.Index) -> pd.Categorical:
    """``categories`` at ``codes`` (-1: missing) as a categorical, its categories distinct as every
    caller makes them. pandas would check that once more per column, building a hash table of
    them: a fifth of a small triage's time, in a month of reports most of what it does per column."""
    return pd.Categorical.from_codes(codes, dtype=_DISTINCT_CATEGORIES(categories, False), validate=False)


#: A categorical dtype whose categories are taken as distinct (pandas' own constructor for those),
#: or, should a pandas lack it, the checking one.
_DISTINCT_CATEGORIES = getattr(pd.CategoricalDtype, "_from_fastpath", pd.CategoricalDtype)


def _report_columns(reports: list[Report], which_report: np.ndarray) -> dict:
    """The report-level columns: each report's values onto its rows (``which_report``)."""
    metadata, policies = [report.metadata for report in reports], [report.policy for report in reports]
    texts = {
        "file": [report.file for report in reports],
        "org_name": [m.org_name for m in metadata],
        "report_id": [m.report_id for m in metadata],
        "policy_domain": [policy.domain for policy in policies],
        "p": [policy.p for policy in policies],
        "adkim": [policy.adkim for policy in policies],
        "aspf": [policy.aspf for policy in policies],
    }
    return {
        "report": which_report.astype(np.int32),
        **{name: _sorted_categorical(values, which_report) for name, values in texts.items()},
        "begin": pd.to_datetime([m.begin for m in metadata], utc=True)[which_report],
        "end": pd.to_datetime([m.end for m in metadata], utc=True)[which_report],
        "pct": pd.array([policy.pct for policy in policies], dtype="Int64")[which_report],
    }


def _sorted_categorical(values: list[str | None], codes: np.ndarray) -> pd.Categorical:
    """``values[codes]`` as a categorical of text, its categories sorted (as pandas' astype
    "category" sorts them), None missing."""
    categories = sorted({value for value in values if value is not None})
    numbers = dict(zip(categories, range(len(categories)), strict=True))
    value_codes = np.fromiter((numbers.get(value, -1) for value in values), np.int64, len(values))
    return _categorical(value_codes[codes], pd.Index(categories, dtype="str"))


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
    "sender_kind",
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
