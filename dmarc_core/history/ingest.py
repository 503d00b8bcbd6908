"""Reports into the history file: each file read as the triage reads it, each report new to the
store triaged by the same rules and added with its records; files go in by batches, a batch per
transaction, so a file is in the store whole or not at all."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa

from ..analysis.triage import triage
from ..reports.model import FileOutcome, Report
from ..reports.reading import read_files, records_of
from ..rules.wording import counted
from .store import Store

#: The triage's verdicts kept beside each record, so the History page asks SQL, never the rules.
VERDICT_COLUMNS = {
    **dict.fromkeys(("dmarc_pass", "dkim_aligned", "spf_aligned", "disagrees"), pa.bool_()),
    "table_row": pa.int32(),
    **dict.fromkeys(("cause", "finding", "sender", "source", "sender_kind"), pa.string()),
}


@dataclass(frozen=True)
class IngestOutcome:
    """What became of one file: the reports it added, those the store already held, or why not."""

    name: str
    status: str
    added: int = 0
    already_held: int = 0
    records: int = 0
    messages: int = 0
    details: str = ""

    @property
    def line(self) -> str:
        """One line for a person: ``reports.zip: 2 reports added (1,204 records), 1 already held``."""
        if self.status in ("refused", "failure_report"):
            return f"{self.name}: {self.status.replace('_', ' ')}: {self.details}"
        added = f"{counted(self.added, 'report')} added ({counted(self.records, 'record')})"
        held = f", {self.already_held} already held" if self.already_held else ""
        repaired = f"; {self.details}" if self.details else ""
        return f"{self.name}: {added}{held}{repaired}"


#: Files read, triaged and added together, in one transaction: one triage for a batch costs far
#: less than one per file, and a crash loses at most the batch being added, never part of a file.
#: A batch holds at most BATCH_BYTES of files (a file over it is a batch of its own), so that big
#: reports do not all sit in memory at once.
BATCH_FILES, BATCH_BYTES = 100, 4 << 20


class ReadFile(Protocol):
    """A file as read (a ``FileOutcome``, or one rebuilt from a Parquet part by ``scale``)."""

    @property
    def name(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def details(self) -> str: ...
    @property
    def reports(self) -> Sequence[Report]: ...


def ingest_files(
    store: Store,
    files: Sequence[tuple[str, bytes]],
    progress: Callable[[int, int, IngestOutcome], None] | None = None,
) -> list[IngestOutcome]:
    """Read ``files`` and add each report the store does not hold yet, ``BATCH_FILES`` files per
    transaction; ``progress`` follows each file once its batch is in the store."""
    outcomes: list[IngestOutcome] = []
    for batch in _batches(files):
        for added in ingest_outcomes(store, read_files(batch)):
            outcomes.append(added)
            if progress:
                progress(len(outcomes), len(files), added)
    return outcomes


def _batches(files: Sequence[tuple[str, bytes]]) -> Iterator[list[tuple[str, bytes]]]:
    batch: list[tuple[str, bytes]] = []
    size = 0
    for file in files:
        if batch and (len(batch) == BATCH_FILES or size + len(file[1]) > BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(file)
        size += len(file[1])
    if batch:
        yield batch


def read_path(path: str | os.PathLike) -> tuple[str, bytes] | IngestOutcome:
    """A file's name and bytes, or its refusal where it cannot be read (gone, or not allowed)."""
    name = Path(path).name
    try:
        return name, Path(path).read_bytes()
    except OSError as failure:
        return IngestOutcome(name, "refused", details=f"{name} cannot be read: {failure.strerror or failure}")


def ingest_outcome(store: Store, outcome: FileOutcome) -> IngestOutcome:
    """Add the reports of one read file, all or nothing."""
    return ingest_outcomes(store, [outcome])[0]


def ingest_outcomes(
    store: Store, outcomes: Sequence[ReadFile], records: Callable[[list[Report]], pa.Table] | None = None
) -> list[IngestOutcome]:
    """Add the reports of read files in one transaction, all or nothing, each report once.
    ``records(new)`` gives the new reports' stored records (numbered in ``new``): triaged here
    (``stored_records``, the default), or triaged already where the files were read (``scale``)."""
    chosen: list[list[Report]] = []
    with store.transaction():
        seen: set[tuple] = set()
        for outcome in outcomes:
            new = []
            for report in outcome.reports:
                if _identity(report) in seen or store.holds(report):
                    continue
                seen.add(_identity(report))
                new.append(report)
            chosen.append(new)
        everything = [report for new in chosen for report in new]
        if everything:
            store.add(everything, (records or stored_records)(everything))
    return [_ingested(outcome, new) for outcome, new in zip(outcomes, chosen, strict=True)]


def _ingested(outcome: ReadFile, new: list[Report]) -> IngestOutcome:
    if not outcome.reports:
        return IngestOutcome(outcome.name, outcome.status, details=outcome.details)
    held = len(outcome.reports) - len(new)
    records = sum(report.record_count for report in new)
    messages = sum(report.message_count for report in new)
    return IngestOutcome(outcome.name, "added" if new else "already_held", len(new), held, records, messages, outcome.details)


def stored_records(reports: list[Report]) -> pa.Table:
    """The reports' records as read, with the report's number in the list, the day it began (UTC)
    and the policy domain, and the triage's verdicts beside each."""
    frame = triage(reports)
    table = records_of(reports)
    columns = {name: _plain(table.column(name)) for name in table.column_names}
    numbers = frame["report"].to_numpy()
    begins = [report.metadata.begin for report in reports]
    days = pa.array([begins[n].date() if begins[n] else None for n in numbers], pa.date32())
    verdicts = {name: _arrow(frame[name], kind) for name, kind in VERDICT_COLUMNS.items()}
    return pa.table(
        {
            "report": pa.array(numbers.astype(np.int64)),
            "day": days,
            "policy_domain": pa.array([reports[n].policy.domain for n in numbers], pa.string()),
            **columns,
            "count": pa.array(frame["count"].to_numpy(), pa.int64()),
            **verdicts,
        }
    )


def _arrow(column: pd.Series, kind: pa.DataType) -> pa.Array:
    values = column.astype(object).where(column.notna(), None).tolist()
    return pa.array(values, kind)


def _plain(column: pa.ChunkedArray) -> pa.ChunkedArray:
    # Dictionary columns are stored as text: DuckDB compresses them itself, and a dictionary's
    # values from one file would otherwise fix the set allowed for all later ones.
    return column.cast(pa.string()) if pa.types.is_dictionary(column.type) else column


def _identity(report: Report) -> tuple:
    """A report's identity, as ``Store.holds`` knows it: the same report twice in one batch."""
    metadata = report.metadata
    counts = () if metadata.report_id else (metadata.email, report.record_count, report.message_count)
    return (metadata.org_name, metadata.report_id, report.policy.domain, metadata.begin, metadata.end, *counts)
