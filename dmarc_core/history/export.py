"""The history as Hive-partitioned Parquet, for DuckDB, Spark, Trino or pandas when one file on
one machine is outgrown: ``month=2026-11/policy_domain=example.com/part-0.parquet``, one row per
record with its triage verdicts and its report's metadata beside it.

DuckDB writes the files (``COPY ... PARTITION_BY``) straight from the store, so the records never
pass through Python. Partition values are escaped by DuckDB (a policy domain from a hostile report
cannot name a folder outside the export). A record whose report has no usable date is in
``month=undated``: Hive's null partition would stop pandas (pyarrow cannot turn it into a category).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .store import Store

#: The month of records whose report has no usable date.
UNDATED = "undated"
#: The report's columns written beside each record (its policy domain is the record's own).
REPORT_COLUMNS = (
    "org_name", "email", "report_id", "begin", "end", "adkim", "aspf", "p", "sp", "np", "pct", "fo", "testing",
    "discovery_method", "extra_contact_info", "errors", "generator", "schema", "version", "repairs", "file", "added_at",
)  # fmt: skip
PARTITIONS = ("month", "policy_domain")


@dataclass(frozen=True)
class Exported:
    """What an export wrote: the folder, its Parquet files, and the records in them."""

    folder: Path
    files: int
    records: int


def export_parquet(store: Store, folder: str | os.PathLike) -> Exported:
    """Write every record of ``store``, joined with its report's metadata, as Parquet under
    ``folder`` (new, or empty), partitioned by month (of the day the report begins, UTC) and policy domain."""
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ValueError(f"{folder} is not an empty folder: export into a new or empty one.")
    reported = ", ".join(f'reports."{name}"' for name in REPORT_COLUMNS)
    (records,) = store.connection.execute("SELECT count(*) FROM records").fetchone()
    if not records:
        raise ValueError("the history holds no records to export: ingest reports into it first.")
    folder.mkdir(parents=True, exist_ok=True)
    quoted = str(folder).replace("'", "''")
    store.connection.execute(
        f"""COPY (
                SELECT coalesce(strftime(records.day, '%Y-%m'), '{UNDATED}') AS month, records.* EXCLUDE (report_key), {reported},
                    records.report_key
                FROM records JOIN reports USING (report_key)
                ORDER BY month, records.policy_domain, records.report_key, records.rowid
            ) TO '{quoted}' (FORMAT PARQUET, PARTITION_BY ({", ".join(PARTITIONS)}), FILENAME_PATTERN 'part-{{i}}')"""
    )
    return Exported(folder, sum(1 for _ in folder.rglob("*.parquet")), int(records))
