"""Reports into the history file: each file read as the triage reads it, each report new to the
store triaged by the same rules and added with its records in one transaction per file."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from ..analysis.triage import triage
from ..reports.model import FileOutcome, Report
from ..reports.reading import read_files
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
        added = f"{self.added} report{'s' if self.added != 1 else ''} added ({self.records:,} records)"
        held = f", {self.already_held} already held" if self.already_held else ""
        repaired = f"; {self.details}" if self.details else ""
        return f"{self.name}: {added}{held}{repaired}"


def ingest_files(
    store: Store,
    files: Sequence[tuple[str, bytes]],
    progress: Callable[[int, int, IngestOutcome], None] | None = None,
) -> list[IngestOutcome]:
    """Read ``files`` and add each report the store does not hold yet, a file per transaction."""
    outcomes = []
    for done, outcome in enumerate(read_files(files), 1):
        added = ingest_outcome(store, outcome)
        outcomes.append(added)
        if progress:
            progress(done, len(files), added)
    return outcomes


def ingest_outcome(store: Store, outcome: FileOutcome) -> IngestOutcome:
    """Add the reports of one read file, all or nothing."""
    if not outcome.reports:
        return IngestOutcome(outcome.name, outcome.status, details=outcome.details)
    with store.transaction():
        new: list[Report] = []
        for report in outcome.reports:
            if store.holds(report) or any(_same(report, other) for other in new):
                continue
            new.append(report)
        if new:
            store.add(new, stored_records(new))
    held = len(outcome.reports) - len(new)
    records = sum(report.record_count for report in new)
    messages = sum(report.message_count for report in new)
    return IngestOutcome(outcome.name, "added" if new else "already_held", len(new), held, records, messages, outcome.details)


def stored_records(reports: list[Report]) -> pa.Table:
    """The reports' records as read, with the report's number in the list, the day it began (UTC)
    and the policy domain, and the triage's verdicts beside each."""
    frame = triage(reports)
    table = pa.concat_tables([report.records for report in reports])
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


def _same(report: Report, other: Report) -> bool:
    """The same report twice in one file (``Store.holds``' identity)."""

    def identity(one: Report) -> tuple:
        metadata = one.metadata
        counts = () if metadata.report_id else (metadata.email, one.record_count, one.message_count)
        return (metadata.org_name, metadata.report_id, one.policy.domain, metadata.begin, metadata.end, *counts)

    return identity(report) == identity(other)
