"""The ingest of many files as a map over batches of files on a Dask cluster (``ingest --scheduler``).

Each task reads and triages one batch of files where it runs (``read_part``) and writes a Parquet
part: ``reports/part-00007.parquet`` (the reports' metadata, the file each came from) and
``records/part-00007.parquet`` (their records with the triage's verdicts), joined on ``part`` and
``report``; DuckDB, Spark or pandas read the folder as it is. The store then takes the parts in
order, each in one transaction, and keeps each report once as ``Store.holds`` knows it, so the
store ends exactly as a serial ingest of the same files leaves it. The workers must reach the
files and the parts folder at the same paths (one machine, or a shared file system).

Dask is an optional extra (``scale``), imported only here and only when asked for.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..reports.model import Report
from ..reports.reading import read_files
from .ingest import BATCH_FILES, IngestOutcome, ingest_outcomes, read_path, stored_records
from .store import Store, report_from_row, report_rows

INSTALL_SCALE = "install the scale extra: pip install 'dmarc-alignment-explainer[scale]'"


class ScaleUnavailable(ValueError):
    """Dask is not installed."""


@dataclass(frozen=True)
class PartFile:
    """A file as a task read it: its name, status and details, and its reports' numbers in the part."""

    name: str
    status: str
    details: str
    reports: tuple[int, ...] = ()


@dataclass(frozen=True)
class Part:
    """One task's Parquet part: where its two files are, and the files it read."""

    number: int
    reports_path: str
    records_path: str
    files: tuple[PartFile, ...]


def read_part(paths: Sequence[str], folder: str, number: int) -> Part:
    """Read and triage the files at ``paths`` (a Dask task) and write them as part ``number`` under ``folder``."""
    found = [read_path(path) for path in paths]
    readable = [file for file in found if not isinstance(file, IngestOutcome)]
    outcomes = iter(read_files(readable, workers=1))  # the cluster is the parallelism: no process pool per task
    reports: list[Report] = []
    files = []
    for file in found:
        if isinstance(file, IngestOutcome):
            files.append(PartFile(file.name, file.status, file.details))
            continue
        outcome = next(outcomes)
        numbers = tuple(range(len(reports), len(reports) + len(outcome.reports)))
        reports += outcome.reports
        files.append(PartFile(outcome.name, outcome.status, outcome.details, numbers))
    rows = report_rows(reports)
    rows = rows.add_column(0, "report", pa.array(range(len(reports)), pa.int64())).add_column(
        0, "part", pa.array([number] * len(reports), pa.int64())
    )
    records = stored_records(reports) if reports else pa.table({"report": pa.array([], pa.int64())})
    records = records.add_column(0, "part", pa.array([number] * records.num_rows, pa.int64()))
    paths_out = []
    for kind, table in (("reports", rows), ("records", records)):
        target = Path(folder) / kind / f"part-{number:05d}.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, target)
        paths_out.append(str(target))
    return Part(number, *paths_out, tuple(files))


def ingest_part(store: Store, part: Part) -> list[IngestOutcome]:
    """Add a part's reports the store does not hold yet, in one transaction, as the serial ingest does."""
    rows = pq.read_table(part.reports_path)
    records = pq.read_table(part.records_path)
    numbers = records.column("report").to_numpy() if records.num_rows else np.zeros(0, np.int64)
    starts = np.searchsorted(numbers, np.arange(rows.num_rows + 1))
    reports = [
        report_from_row(row, records.slice(starts[n], starts[n + 1] - starts[n])) for n, row in enumerate(rows.to_pylist())
    ]
    number_of = {id(report): n for n, report in enumerate(reports)}

    def chosen_records(new: list[Report]) -> pa.Table:
        position = np.full(len(reports), -1, np.int64)
        position[[number_of[id(report)] for report in new]] = np.arange(len(new))
        at = position[numbers]
        kept = records.filter(pa.array(at >= 0)).drop_columns(["part"])
        return kept.set_column(kept.column_names.index("report"), "report", pa.array(at[at >= 0]))

    files = [_ReadFile(file.name, file.status, file.details, tuple(reports[n] for n in file.reports)) for file in part.files]
    return ingest_outcomes(store, files, chosen_records)


@dataclass(frozen=True)
class _ReadFile:
    name: str
    status: str
    details: str
    reports: tuple[Report, ...]


def ingest_on_cluster(
    store: Store,
    paths: Sequence[str | os.PathLike],
    scheduler: str,
    parts_folder: str | os.PathLike,
    progress: Callable[[IngestOutcome], None] | None = None,
    batch_files: int = BATCH_FILES,
) -> list[IngestOutcome]:
    """Read ``paths`` in batches of ``batch_files`` on the Dask cluster at ``scheduler`` (an address,
    ``tcp://host:8786``), writing the parts into a new folder of this run under ``parts_folder``,
    and add them to ``store`` in order as they come. ``progress`` follows each file once it is in the store."""
    distributed = _distributed()
    run = Path(parts_folder) / f"ingest-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%fZ}"
    batches = [[os.fspath(path) for path in paths[start : start + batch_files]] for start in range(0, len(paths), batch_files)]
    outcomes: list[IngestOutcome] = []
    with distributed.Client(scheduler, timeout="30s") as client:
        futures = client.map(read_part, batches, [str(run)] * len(batches), range(len(batches)), pure=False)
        for future in futures:  # in order, so a report in two files is kept from the first, as the serial ingest does
            for outcome in ingest_part(store, future.result()):
                outcomes.append(outcome)
                if progress:
                    progress(outcome)
            future.release()
    return outcomes


def _distributed():
    try:
        import distributed
    except ImportError:
        raise ScaleUnavailable(f"--scheduler needs Dask: {INSTALL_SCALE}") from None
    return distributed
