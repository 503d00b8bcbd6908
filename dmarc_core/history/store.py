"""The history file: an embedded DuckDB database holding every report once, with its records and
their triage verdicts, and what was fetched from which mailbox.

DuckDB: one file, transactional, columnar and fast at the aggregates a History page asks for on
millions of records, readable by any DuckDB or Parquet tool. Each ingested file is one
transaction, so a crash or a kill loses nothing already added and leaves no half report.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from ..reports.model import PolicyPublished, Report, ReportMetadata
from ..reports.records import RECORD_TYPES

#: The environment variable naming the store the app and the CLI use when none is given.
STORE_ENV = "DMARC_STORE"

#: Each step brings a store from the version before it to its own; a new store runs them all.
#: Never edit a step that has shipped: add one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: reports and their records
        "CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
        "CREATE SEQUENCE report_keys",
        """CREATE TABLE reports (
            report_key BIGINT PRIMARY KEY DEFAULT nextval('report_keys'),
            org_name VARCHAR, email VARCHAR, report_id VARCHAR, policy_domain VARCHAR,
            "begin" TIMESTAMPTZ, "end" TIMESTAMPTZ,
            adkim VARCHAR, aspf VARCHAR, p VARCHAR, sp VARCHAR, np VARCHAR, pct INTEGER, fo VARCHAR,
            testing VARCHAR, discovery_method VARCHAR,
            extra_contact_info VARCHAR, errors VARCHAR[], generator VARCHAR,
            schema VARCHAR, version VARCHAR, repairs VARCHAR[],
            file VARCHAR, added_at TIMESTAMPTZ, record_count BIGINT, message_count BIGINT
        )""",
        "CREATE INDEX reports_identity ON reports (report_id, policy_domain)",
        """CREATE TABLE records (
            report_key BIGINT, day DATE, policy_domain VARCHAR,
            source_ip VARCHAR, count BIGINT, disposition VARCHAR, reported_dkim VARCHAR, reported_spf VARCHAR,
            reason VARCHAR, reason_comment VARCHAR, header_from VARCHAR, envelope_from VARCHAR, envelope_to VARCHAR,
            dkim STRUCT(domain VARCHAR, selector VARCHAR, result VARCHAR)[],
            spf STRUCT(domain VARCHAR, scope VARCHAR, result VARCHAR)[],
            dmarc_pass BOOLEAN, dkim_aligned BOOLEAN, spf_aligned BOOLEAN, disagrees BOOLEAN, cause VARCHAR,
            table_row INTEGER, finding VARCHAR, sender VARCHAR, source VARCHAR, sender_kind VARCHAR
        )""",
    ),
    (  # 2: what was fetched from which mailbox folder, so a re-run skips it
        """CREATE TABLE mailbox_messages (
            mailbox VARCHAR, folder VARCHAR, uidvalidity BIGINT, uid BIGINT, outcome VARCHAR,
            fetched_at TIMESTAMPTZ, PRIMARY KEY (mailbox, folder, uidvalidity, uid)
        )""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


#: The records' columns as the reader hands them to the triage (counts already numbers).
_READ_TYPES = {**RECORD_TYPES, "count": pa.int64()}
_TIME = pa.timestamp("us", tz="UTC")


#: Seconds a writer (ingest, fetch) waits for a reader or another writer to let go of the file.
WRITER_WAIT_SECONDS = 30.0


class StoreError(ValueError):
    """A store that cannot be used, with the reason."""


class StoreBusy(StoreError):
    """A store another process (an ingest or a fetch) holds open for writing: usable once it is done."""


@dataclass(frozen=True)
class Added:
    """What one ingest added: reports new to the store, and those it already held."""

    reports: int = 0
    records: int = 0
    messages: int = 0
    already_held: int = 0


class Store:
    """An open history file. Use as a context manager, or call ``close``."""

    def __init__(self, path: str | os.PathLike, *, read_only: bool = False, wait: float | None = None) -> None:
        """``wait``: seconds a writer waits for other processes to let go of the file (a History
        page reads it for a few seconds at a time); 30 unless given, none for a reader."""
        self.path = Path(path)
        if read_only and not self.path.exists():
            raise StoreError(f"{self.path} does not exist: ingest reports into it first (python -m dmarc_core ingest).")
        deadline = time.monotonic() + (wait if wait is not None else 0.0 if read_only else WRITER_WAIT_SECONDS)
        while True:
            try:
                self.connection = duckdb.connect(str(self.path), read_only=read_only)
                break
            except duckdb.IOException as failure:
                problem = _io_error(self.path, failure)
                if not isinstance(problem, StoreBusy) or time.monotonic() > deadline:
                    raise problem from None
                time.sleep(0.2)  # another process holds the file: wait for it to let go
            except duckdb.Error as failure:
                raise StoreError(f"{self.path} is not a history file: {failure}") from None
        self.read_only = read_only
        try:
            self._migrate()
        except duckdb.Error as failure:  # a damaged file: its tables cannot be read
            self.connection.close()
            raise StoreError(f"{self.path} cannot be read as a history file (damaged or cut short): {failure}") from None
        except BaseException:
            self.connection.close()
            raise

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def close(self) -> None:
        self.connection.close()

    @property
    def schema_version(self) -> int:
        tables = {row[0] for row in self.connection.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if "meta" not in tables:
            if tables:
                raise StoreError(f"{self.path} is a DuckDB file, but not a history file: it has no meta table.")
            return 0
        rows = self.connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
        return int(rows[0][0]) if rows else 0

    def _migrate(self) -> None:
        found = self.schema_version
        if found > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer version of this tool (history schema {found}; this one "
                f"reads up to {SCHEMA_VERSION}). Upgrade dmarc-alignment-explainer to open it."
            )
        if found == SCHEMA_VERSION:
            return
        if self.read_only:
            raise StoreError(f"{self.path} has history schema {found}; open it once for writing to bring it to {SCHEMA_VERSION}.")
        with self.transaction():
            for step in MIGRATIONS[found:]:
                for statement in step:
                    self.connection.execute(statement)
            self.connection.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])

    _in_transaction = False

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction. One begun inside another joins it: both commit together, or neither
        (a fetched message's reports and the note that it was read)."""
        if self._in_transaction:
            yield self.connection
            return
        self.connection.execute("BEGIN TRANSACTION")
        self._in_transaction = True
        try:
            yield self.connection
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        finally:
            self._in_transaction = False
        self.connection.execute("COMMIT")

    def holds(self, report: Report) -> bool:
        """Whether the store has this report already. A receiver's report id, with the policy
        domain and dates, is its identity (as ``distinct_reports``); a report without an id is
        known by its receiver, domain, dates and counts."""
        metadata = report.metadata
        known_by = ["org_name = ?", "policy_domain = ?", '"begin" IS NOT DISTINCT FROM ?', '"end" IS NOT DISTINCT FROM ?']
        values = [metadata.org_name, report.policy.domain, metadata.begin, metadata.end]
        if metadata.report_id:
            known_by.append("report_id = ?")
            values.append(metadata.report_id)
        else:
            known_by += ["report_id = ''", "email = ?", "record_count = ?", "message_count = ?"]
            values += [metadata.email, report.record_count, report.message_count]
        rows = self.connection.execute(f"SELECT 1 FROM reports WHERE {' AND '.join(known_by)} LIMIT 1", values).fetchall()
        return bool(rows)

    def add(self, reports: list[Report], records: pa.Table) -> None:
        """Add ``reports`` and their triaged ``records`` (a ``report`` column numbering the reports
        in this list) in the caller's transaction."""
        # One insert for all the reports (a statement per report cost more than their triage).
        keys = [
            key for (key,) in self.connection.execute("SELECT nextval('report_keys') FROM range(?)", [len(reports)]).fetchall()
        ]
        rows = report_rows(reports).add_column(0, "report_key", pa.array(keys, pa.int64()))
        rows = rows.append_column("added_at", pa.array([dt.datetime.now(dt.UTC)] * len(reports), _TIME))
        self.connection.register("incoming_reports", rows)
        try:
            self.connection.execute("INSERT INTO reports BY NAME SELECT * FROM incoming_reports")
        finally:
            self.connection.unregister("incoming_reports")
        if records.num_rows:
            numbers = records.column("report").to_numpy()
            keyed = records.drop_columns(["report"]).add_column(0, "report_key", pa.array([keys[n] for n in numbers], pa.int64()))
            self.connection.register("incoming_records", keyed)
            try:
                self.connection.execute("INSERT INTO records BY NAME SELECT * FROM incoming_records")
            finally:
                self.connection.unregister("incoming_records")

    def reports(self, since: dt.datetime | None = None, until: dt.datetime | None = None) -> list[Report]:
        """The reports whose period ends on or after ``since`` and begins before ``until``, as the
        reader gave them, so the triage and its summaries run on them as on uploaded files."""
        where, values = [], []
        if since is not None:
            where.append('"end" >= ?')
            values.append(since)
        if until is not None:
            where.append('"begin" < ?')
            values.append(until)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self.connection.execute(f'SELECT * FROM reports {clause} ORDER BY "begin", report_key', values).fetchall()
        names = [column[0] for column in self.connection.description]
        found = [dict(zip(names, row, strict=True)) for row in rows]
        if not found:
            return []
        columns = ", ".join(f'"{name}"' for name in RECORD_TYPES)
        self.connection.register("wanted", pa.table({"report_key": [row["report_key"] for row in found]}))
        try:
            records = self.connection.sql(
                f"SELECT report_key, {columns} FROM records WHERE report_key IN (SELECT report_key FROM wanted) "
                "ORDER BY report_key, rowid"
            ).to_arrow_table()
        finally:
            self.connection.unregister("wanted")
        keys = records.column("report_key").to_numpy()
        reports = []
        for row in found:
            start, stop = np.searchsorted(keys, row["report_key"], "left"), np.searchsorted(keys, row["report_key"], "right")
            table = records.slice(start, stop - start).drop_columns(["report_key"])
            typed = pa.table({name: table.column(name).cast(kind) for name, kind in _READ_TYPES.items()})
            reports.append(report_from_row(row, typed))
        return reports


def report_rows(reports: list[Report]) -> pa.Table:
    """The reports as rows of the ``reports`` table (all its columns but ``report_key`` and ``added_at``)."""

    def text(values) -> pa.Array:
        return pa.array(list(values), pa.string())

    return pa.table(
        {
            **{name: text(getattr(report.metadata, name) for report in reports) for name in ("org_name", "email", "report_id")},
            "policy_domain": text(report.policy.domain for report in reports),
            **{name: pa.array([getattr(report.metadata, name) for report in reports], _TIME) for name in ("begin", "end")},
            **{name: text(getattr(report.policy, name) for report in reports) for name in ("adkim", "aspf", "p", "sp", "np")},
            "pct": pa.array([report.policy.pct for report in reports], pa.int32()),
            **{name: text(getattr(report.policy, name) for report in reports) for name in ("fo", "testing", "discovery_method")},
            "extra_contact_info": text(report.metadata.extra_contact_info for report in reports),
            "errors": pa.array([list(report.metadata.errors) for report in reports], pa.list_(pa.string())),
            "generator": text(report.metadata.generator for report in reports),
            **{name: text(getattr(report, name) for report in reports) for name in ("schema", "version")},
            "repairs": pa.array([list(report.repairs) for report in reports], pa.list_(pa.string())),
            "file": text(report.file for report in reports),
            "record_count": pa.array([report.record_count for report in reports], pa.int64()),
            "message_count": pa.array([report.message_count for report in reports], pa.int64()),
        }
    )


def report_from_row(row: dict, records: pa.Table) -> Report:
    metadata = ReportMetadata(
        row["org_name"], row["email"], row["extra_contact_info"], row["report_id"], row["begin"], row["end"],
        tuple(row["errors"] or ()), row["generator"],
    )  # fmt: skip
    policy = PolicyPublished(
        row["policy_domain"], row["adkim"], row["aspf"], row["p"], row["sp"], row["np"], row["pct"], row["fo"],
        row["testing"], row["discovery_method"],
    )  # fmt: skip
    return Report(row["file"], row["schema"], row["version"], metadata, policy, records, tuple(row["repairs"] or ()))


def store_path(path: str | os.PathLike | None = None) -> Path:
    """The history file named by ``path``, else by ``$DMARC_STORE``; ``StoreError`` when neither is."""
    chosen = path if path is not None else os.environ.get(STORE_ENV, "")
    if not str(chosen).strip():
        raise StoreError(f"No history file given: pass --store PATH or set {STORE_ENV}.")
    return Path(chosen)


def open_store(path: str | os.PathLike | None = None, *, read_only: bool = False) -> Store:
    """The store at ``path``, else at ``$DMARC_STORE``; ``StoreError`` when neither is given."""
    return Store(store_path(path), read_only=read_only)


@contextmanager
def opened(store: Store | str | os.PathLike) -> Iterator[Store]:
    """``store`` itself, or the file at that path opened for as long as the block runs: a long
    watch holds the file only while it writes, so the History page can read it in between."""
    if isinstance(store, Store):
        yield store
        return
    with Store(store) as held:
        yield held


def _io_error(path: Path, failure: Exception) -> StoreError:
    text = str(failure)
    if "lock" in text.lower():
        return StoreBusy(
            f"{path} is open in another process (an ingest or a fetch writing it, or a History page reading it): "
            "try again when it is done."
        )
    return StoreError(f"{path} cannot be opened: {text}")
