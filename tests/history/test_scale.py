"""The ingest as a map over files on a Dask cluster (``dask.distributed.LocalCluster`` on loopback,
two worker processes): the store ends as the serial ingest leaves it, and the Parquet parts are
readable as they are."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from dmarc_core._cli import main
from dmarc_core.history.ingest import ingest_files
from dmarc_core.history.scale import INSTALL_SCALE, ingest_on_cluster
from dmarc_core.history.store import Store
from dmarc_core.reports.reading import read_files

from conftest import ROOT

#: The store's contents but its keys and the time of adding: a report with its records, in order.
_REPORTS = "SELECT * EXCLUDE (report_key, added_at) FROM reports ORDER BY ALL"
_RECORDS = (
    'SELECT reports.org_name, reports.report_id, reports."begin", reports.file, records.* EXCLUDE (report_key) '
    'FROM records JOIN reports USING (report_key) ORDER BY reports.org_name, reports.report_id, reports."begin", '
    "reports.file, records.rowid"
)


@pytest.fixture(scope="module")
def distributed():
    try:
        import distributed
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("dask[distributed] is in the dev group: CI must have it")
        pytest.skip("dask[distributed] is not installed (the scale extra, or the dev group)")
    return distributed


@pytest.fixture(scope="module")
def cluster(distributed):
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as running:
        yield running


@pytest.fixture(scope="module")
def sample_paths(samples) -> list[Path]:
    return sorted(path for path in (samples / "aggregate").iterdir() if path.is_file())


def _contents(path: Path) -> tuple[list, list]:
    with Store(path, read_only=True) as store:
        return store.connection.execute(_REPORTS).fetchall(), store.connection.execute(_RECORDS).fetchall()


def test_the_cluster_ingest_equals_the_serial_one(cluster, sample_paths, tmp_path):
    serial, spread = tmp_path / "serial.duckdb", tmp_path / "cluster.duckdb"
    with Store(serial) as store:
        serial_outcomes = ingest_files(store, [(path.name, path.read_bytes()) for path in sample_paths])
    told = []
    with Store(spread) as store:
        outcomes = ingest_on_cluster(
            store, sample_paths, cluster.scheduler_address, tmp_path / "parts", told.append, batch_files=50
        )
    assert outcomes == serial_outcomes and told == outcomes
    reports, records = _contents(serial)
    assert (reports, records) == _contents(spread)
    assert len(reports) > 300 and len(records) > 5000
    # The parts are there for any engine: every report the tasks read (a report held twice, twice).
    (run,) = (tmp_path / "parts").iterdir()
    assert len(list((run / "reports").glob("part-*.parquet"))) == -(-len(sample_paths) // 50)
    with duckdb.connect() as connection:
        part_records, part_messages = connection.execute(
            f"SELECT count(*), sum(count) FROM read_parquet('{run}/records/*.parquet') "
            f"JOIN read_parquet('{run}/reports/*.parquet') USING (part, report)"
        ).fetchone()
    read = read_files([(path.name, path.read_bytes()) for path in sample_paths])
    assert part_records == sum(outcome.record_count for outcome in read)
    assert part_messages == sum(outcome.messages for outcome in read)


def test_ingest_with_a_scheduler_on_the_command_line(cluster, sample_paths, tmp_path, capsys):
    store = tmp_path / "history.duckdb"
    status = main(["ingest", *map(str, sample_paths[:30]), "--store", str(store), "--scheduler", cluster.scheduler_address])
    out, err = capsys.readouterr()
    assert status in (0, 1) and len(err.splitlines()) == 30
    assert " reports added (" in out
    assert (tmp_path / "history.duckdb.parts").is_dir()


def test_without_dask_the_scheduler_option_says_what_to_install(tmp_path, sample_paths):
    # Dask's import blocked, as where the extra is not installed.
    code = (
        "import sys; sys.modules['distributed'] = None; from dmarc_core._cli import main; "
        f"sys.exit(main(['ingest', {str(sample_paths[0])!r}, '--store', {str(tmp_path / 'h.duckdb')!r}, "
        "'--scheduler', 'tcp://127.0.0.1:1']))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 2
    assert run.stderr.strip() == f"error: --scheduler needs Dask: {INSTALL_SCALE}"
