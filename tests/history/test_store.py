"""The history file: each report once, the reports read back as the reader gave them, the schema
migrated forward and refused when newer, and an ingest killed mid-way leaving a consistent store."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from dmarc_core.analysis.triage import exported, triage
from dmarc_core.history.ingest import VERDICT_COLUMNS, ingest_files
from dmarc_core.history.store import MIGRATIONS, SCHEMA_VERSION, Store, StoreError
from dmarc_core.reports.model import distinct_reports
from dmarc_core.reports.reading import read_files

from conftest import ROOT


@pytest.fixture(scope="module")
def sample_files(samples) -> list[tuple[str, bytes]]:
    return [(path.name, path.read_bytes()) for path in sorted((samples / "aggregate").iterdir()) if path.is_file()]


@pytest.fixture(scope="module")
def direct(sample_files):
    """The samples as the triage reads them: each report once (``distinct_reports``)."""
    return distinct_reports(report for outcome in read_files(sample_files) for report in outcome.reports).reports


@pytest.fixture(scope="module")
def filled(tmp_path_factory, sample_files) -> Path:
    path = tmp_path_factory.mktemp("store") / "history.duckdb"
    with Store(path) as store:
        ingest_files(store, sample_files)
    return path


def _counts(store: Store) -> tuple[int, int, int]:
    return store.connection.execute(
        "SELECT (SELECT count(*) FROM reports), (SELECT count(*) FROM records), (SELECT sum(count) FROM records)"
    ).fetchone()


def _sorted(frame):
    text = frame.drop(columns=["report"], errors="ignore").astype(str)
    return text.sort_values(list(text.columns)).reset_index(drop=True)


def test_ingesting_the_samples_twice_holds_each_report_once(filled, sample_files, direct):
    messages = sum(report.message_count for report in direct)
    with Store(filled) as store:
        assert _counts(store) == (len(direct), sum(report.record_count for report in direct), messages)
        again = ingest_files(store, sample_files)
        assert {outcome.status for outcome in again} <= {"already_held", "refused"}
        assert sum(outcome.added for outcome in again) == 0
        assert _counts(store) == (len(direct), sum(report.record_count for report in direct), messages)


def test_the_stored_reports_triage_as_the_files_do(filled, direct):
    with Store(filled, read_only=True) as store:
        back = store.reports()
        stored = store.connection.execute(f"SELECT {', '.join(VERDICT_COLUMNS)} FROM records").df()
    assert len(back) == len(direct)
    read, kept = triage(direct), triage(back)
    assert _sorted(exported(kept)).equals(_sorted(exported(read)))
    # The verdicts stored beside each record are the triage's own on the files.
    assert _sorted(stored).equals(_sorted(read[list(VERDICT_COLUMNS)]))


def test_reports_since_a_date_are_those_ending_on_or_after_it(filled, direct):
    since = sorted(report.metadata.end for report in direct if report.metadata.end)[len(direct) // 2]
    with Store(filled, read_only=True) as store:
        back = store.reports(since)
    expected = sorted(report.metadata.report_id for report in direct if report.metadata.end and report.metadata.end >= since)
    assert sorted(report.metadata.report_id for report in back) == expected


def test_a_store_of_schema_1_is_brought_to_the_current_schema(tmp_path):
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as connection:
        for statement in MIGRATIONS[0]:
            connection.execute(statement)
        connection.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        tables = {name for (name,) in store.connection.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert {"reports", "records", "mailbox_messages"} <= tables


def test_a_store_written_by_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "newer.duckdb"
    with Store(path) as store:
        store.connection.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="newer version"):
        Store(path)


def test_a_duckdb_file_that_is_not_a_history_file_is_refused(tmp_path):
    path = tmp_path / "other.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("CREATE TABLE invoices (number INTEGER)")
    with pytest.raises(StoreError, match="not a history file"):
        Store(path)
    text = tmp_path / "notes.duckdb"
    text.write_text("shopping list\n")
    with pytest.raises(StoreError, match=r"not a history file|cannot be opened"):
        Store(text)


def test_opening_a_missing_store_to_read_says_so(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "missing.duckdb", read_only=True)
    assert not (tmp_path / "missing.duckdb").exists()


def _consistent(store: Store) -> None:
    """Every report holds exactly its records, and every record belongs to a report."""
    assert store.connection.execute(
        """SELECT count(*) FROM reports LEFT JOIN (SELECT report_key, count(*) AS held FROM records GROUP BY report_key)
           USING (report_key) WHERE record_count <> coalesce(held, 0)"""
    ).fetchone() == (0,)
    assert store.connection.execute(
        "SELECT count(*) FROM records WHERE report_key NOT IN (SELECT report_key FROM reports)"
    ).fetchone() == (0,)


def test_an_ingest_killed_mid_way_leaves_a_consistent_store_that_a_rerun_completes(tmp_path, samples, filled):
    # Many files, so the ingest is still running when it is killed: the samples four times over,
    # under names of their own (a report seen again is held once).
    originals = sorted(path for path in (samples / "aggregate").iterdir() if path.is_file())
    folder = tmp_path / "mailbox"
    folder.mkdir()
    for number in range(4 * len(originals)):
        (folder / f"{number:05d}-{originals[number % len(originals)].name}").symlink_to(originals[number % len(originals)])
    paths = sorted(str(path) for path in folder.iterdir())
    path = tmp_path / "killed.duckdb"
    command = [sys.executable, "-m", "dmarc_core", "ingest", *paths, "--store", str(path)]
    running = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    printed = [running.stderr.readline() for _ in range(50)]
    os.kill(running.pid, signal.SIGKILL)
    running.wait(timeout=60)
    running.stderr.close()
    assert running.returncode == -signal.SIGKILL, "the ingest ended before it was killed"
    assert all(line.strip() for line in printed)
    with Store(path) as store:
        _consistent(store)
        reports, records, _ = _counts(store)
        # What was said to be added is in the store; and the ingest did not get to the end.
        said = [re.search(r": (\d+) reports? added \(", line) for line in printed]
        assert reports >= sum(int(found.group(1)) for found in said if found)
        with Store(filled, read_only=True) as complete:
            whole = _counts(complete)
        assert reports < whole[0] and records < whole[1]
        outcomes = ingest_files(store, [(Path(name).name, Path(name).read_bytes()) for name in paths])
        _consistent(store)
        assert _counts(store) == whole
        assert sum(outcome.added for outcome in outcomes) == whole[0] - reports


def test_a_writer_waits_for_a_reader_to_let_go(filled, tmp_path):
    # DuckDB lets one process write or many read: a History page reading the file for a few seconds
    # must not make a cron ingest or a watching fetch fail.
    copy = tmp_path / "history.duckdb"
    copy.write_bytes(filled.read_bytes())
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys, time; c = duckdb.connect({str(copy)!r}, read_only=True); print('open', flush=True); time.sleep(2)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout.readline().strip() == "open"
        with pytest.raises(StoreError, match="open in another process"):
            Store(copy, wait=0)
        with Store(copy, wait=30) as store:  # waits until the reader is gone
            assert store.schema_version == SCHEMA_VERSION
    finally:
        reader.kill()
        reader.wait()


def test_a_history_file_cut_short_is_refused_with_a_reason(filled, tmp_path):
    cut = tmp_path / "cut.duckdb"
    cut.write_bytes(filled.read_bytes()[:300_000])
    for read_only in (True, False):
        with pytest.raises(StoreError, match="history file"):
            Store(cut, read_only=read_only)
