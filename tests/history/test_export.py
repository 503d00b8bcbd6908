"""``export_parquet``: the history as Hive-partitioned Parquet by month and policy domain, read back
by pyarrow, pandas and DuckDB with the store's own counts."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.dataset as ds
import pytest

from dmarc_core.history.export import REPORT_COLUMNS, UNDATED, export_parquet
from dmarc_core.history.ingest import ingest_files
from dmarc_core.history.store import Store

from reportkit import record, report


@pytest.fixture(scope="module")
def filled(tmp_path_factory, samples) -> Path:
    files = [(path.name, path.read_bytes()) for path in sorted((samples / "aggregate").iterdir()) if path.is_file()]
    # A hostile policy domain: its partition must stay inside the export.
    hostile = report(record(dkim=[("example.com", "pass")], reported_dkim="pass"), domain="../../escaped", report_id="hostile")
    path = tmp_path_factory.mktemp("export") / "history.duckdb"
    with Store(path) as store:
        ingest_files(store, [*files, ("hostile.xml", hostile)])
    return path


@pytest.fixture(scope="module")
def exported(filled, tmp_path_factory):
    folder = tmp_path_factory.mktemp("parquet") / "history"
    with Store(filled, read_only=True) as store:
        return export_parquet(store, folder)


def _store_frame(filled: Path, sql: str) -> pd.DataFrame:
    with Store(filled, read_only=True) as store:
        return store.connection.execute(sql).df()


def test_every_record_is_written_once_partitioned_by_month_and_policy_domain(filled, exported):
    expected = _store_frame(
        filled,
        f"SELECT coalesce(strftime(day, '%Y-%m'), '{UNDATED}') AS month, policy_domain, count(*) AS records, "
        "CAST(sum(count) AS BIGINT) AS messages "
        "FROM records GROUP BY ALL ORDER BY ALL",
    )
    assert exported.records == expected["records"].sum()
    table = ds.dataset(exported.folder, format="parquet", partitioning="hive").to_table()
    assert table.num_rows == exported.records
    found = (
        table.to_pandas()
        .groupby(["month", "policy_domain"], observed=True)
        .agg(records=("count", "size"), messages=("count", "sum"))
        .reset_index()
        .sort_values(["month", "policy_domain"], ignore_index=True)
    )
    assert found.astype(str).equals(expected.astype(str))
    for path in exported.folder.rglob("*.parquet"):
        month, domain = path.parent.parent.name, path.parent.name
        assert month.startswith("month=") and domain.startswith("policy_domain=") and path.name.startswith("part-")


def test_pandas_and_duckdb_read_the_records_with_their_reports_metadata(filled, exported):
    frame = pd.read_parquet(exported.folder)
    assert len(frame) == exported.records
    assert set(REPORT_COLUMNS) | {"month", "policy_domain", "source_ip", "dmarc_pass", "cause", "sender"} <= set(frame.columns)
    with duckdb.connect() as connection:
        read = connection.execute(
            f"SELECT org_name, report_id, count(*), sum(count) FROM read_parquet('{exported.folder}/**/*.parquet', "
            "hive_partitioning = true) GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    stored = _store_frame(
        filled,
        "SELECT org_name, report_id, count(*), sum(count) FROM records JOIN reports USING (report_key) GROUP BY ALL ORDER BY ALL",
    )
    assert read == list(stored.itertuples(index=False, name=None))


def test_a_hostile_policy_domain_stays_inside_the_export(exported):
    outside = exported.folder.parent
    assert not any(outside.parent.rglob("escaped*"))  # nothing written beside or above the export
    table = ds.dataset(exported.folder, format="parquet", partitioning="hive").to_table(columns=["policy_domain"])
    assert "../../escaped" in set(table.column("policy_domain").to_pylist())
    assert all(exported.folder in path.parents for path in outside.rglob("*.parquet"))


def test_an_export_goes_into_a_new_or_empty_folder(filled, exported, tmp_path):
    with Store(filled, read_only=True) as store:
        with pytest.raises(ValueError, match="not an empty folder"):
            export_parquet(store, exported.folder)
        (tmp_path / "empty").mkdir()
        assert export_parquet(store, tmp_path / "empty").records == exported.records
