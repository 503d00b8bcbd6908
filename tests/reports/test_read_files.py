"""Many files at once: each ends read, read with repairs, or refused; good ones are never lost."""

from __future__ import annotations

import random

import pyarrow as pa

from dmarc_core import Limits, read_file
from dmarc_core.reports import reading
from dmarc_core.reports.reading import demo_files, read_files, records_of

from reportkit import record, report


def test_one_bad_file_never_hides_the_good_ones(samples):
    names = ["nice-input.xml.gz", "plain.txt", "ikea.com!example.de!1538690400!1538776800.xml", "bad.zip", "test.xml.zip"]
    files = [(name, (samples / "aggregate" / name).read_bytes()) for name in names]
    seen = []
    outcomes = read_files(files, progress=lambda done, total, outcome: seen.append((done, total, outcome.name)))
    assert [o.status for o in outcomes] == ["read", "refused", "repaired", "refused", "read"]
    assert [o.messages for o in outcomes] == [3047, 0, 1, 0, 7]
    assert "is not XML" in outcomes[1].details and "ends before <schema>" in outcomes[2].details
    assert [step[:2] for step in seen] == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]


def test_large_batches_use_worker_processes_and_keep_order():
    files = [(f"r{n}.xml", report(record(count=n), report_id=str(n)) + b" " * (3 << 20)) for n in range(1, 5)]
    outcomes = read_files(files, workers=2)
    assert [o.reports[0].metadata.report_id for o in outcomes] == ["1", "2", "3", "4"]
    assert [o.messages for o in outcomes] == [1, 2, 3, 4]


def test_demo_files_are_all_readable():
    outcomes = read_files(demo_files())
    assert len(outcomes) >= 3 and all(o.status == "read" for o in outcomes)
    assert len({o.reports[0].metadata.org_name for o in outcomes}) == 3


def _as_read(outcome):
    """An outcome as plain data: what two ways of reading must agree on."""
    return (
        outcome.name,
        [(r.file, r.schema, r.version, r.metadata, r.policy, r.repairs, r.records.to_pylist()) for r in outcome.reports],
        outcome.refusals,
    )


def test_small_files_read_in_a_batch_equal_each_read_alone(samples):
    # The batch is a fast path: one set of columns for many small reports. On every real sample, and
    # on files whose counts are no numbers or whose records pass the records budget, it must give
    # exactly what reading each file alone gives.
    files = [(path.name, path.read_bytes()) for path in sorted((samples / "aggregate").iterdir())]
    files += [
        ("bad-counts.xml", report(record(count=3), record(count="lots"), record(count=10**15), report_id="bad")),
        ("budget.xml", report(*(record(count=n) for n in range(1, 40)), report_id="budget")),
    ]
    alone = [read_file(data, name, workers=1) for name, data in files]
    batched = read_files(files, workers=1)
    assert [_as_read(o) for o in batched] == [_as_read(o) for o in alone]
    assert any("were not numbers of messages" in repair for o in batched for r in o.reports for repair in r.repairs)


def test_the_records_budget_holds_in_a_batch():
    files = [(f"r{n}.xml", report(*(record(count=1) for _ in range(30)), report_id=str(n))) for n in range(3)]
    limits = Limits(max_records=20)
    alone = [read_file(data, name, limits, workers=1) for name, data in files]
    batched = read_files(files, limits, workers=1)
    assert [_as_read(o) for o in batched] == [_as_read(o) for o in alone]
    assert [o.record_count for o in batched] == [20, 20, 20]


def test_a_batch_is_settled_every_so_many_records(monkeypatch):
    # A month of files makes several batches; each file's rows are its own whichever batch holds them.
    monkeypatch.setattr(reading._Batch, "RECORDS", 50)
    files = [(f"r{n}.xml", report(*(record(count=n) for _ in range(n % 7 + 1)), report_id=str(n))) for n in range(60)]
    seen = []
    batched = read_files(files, workers=1, progress=lambda done, total, outcome: seen.append(done))
    assert [o.messages for o in batched] == [n * (n % 7 + 1) for n in range(60)]
    assert seen == list(range(1, 61))  # every file reported, in order, as its batch settles


def test_the_records_of_many_reports_are_theirs_in_order_in_few_chunks(samples, monkeypatch):
    # records_of takes a run of reports that follow one another in their batch's table as one slice
    # of it: a fast path, which must equal joining every report's records, in any order, with
    # repeats, gaps and reports read alone among them.
    monkeypatch.setattr(reading._Batch, "FILES", 40)  # several batches
    files = [(path.name, path.read_bytes()) for path in sorted((samples / "aggregate").iterdir())]
    reports = [report for outcome in read_files(files, workers=1) for report in outcome.reports]
    alone = [report for name, data in files[:8] for report in read_file(data, name, workers=1).reports]
    shuffled = random.Random(7).sample(reports, len(reports))
    for chosen in (reports, reports[::-1], reports[::2], shuffled, reports[:12] * 2, [*reports[:20], *alone, *reports[20:90]]):
        assert records_of(chosen).equals(pa.concat_tables([report.records for report in chosen]))
    assert records_of([]).schema == reports[0].records.schema and records_of([]).num_rows == 0
    # One chunk per batch, about, where joining the reports' tables keeps one per report.
    assert records_of(reports).column("header_from").num_chunks < len(reports) / 10


def test_what_records_of_remembers_of_a_batch_goes_with_its_reports():
    # The batch's table is held for records_of only while a report's slice of it lives.
    before = len(reading._SLICES)
    outcomes = read_files([(f"r{n}.xml", report(record(count=n), report_id=str(n))) for n in range(1, 30)], workers=1)
    assert len(reading._SLICES) == before + 29
    del outcomes
    assert len(reading._SLICES) == before


def test_a_settled_batch_makes_its_reports_and_outcomes_with_every_field():
    # _Batch.settle makes each Report and FileOutcome anew from its fields, by position (faster
    # than dataclasses.replace): a field added to either must be added there too, or it is lost.
    import dataclasses

    from dmarc_core.reports.model import FileOutcome, Report

    assert [field.name for field in dataclasses.fields(Report)] == [
        "file", "schema", "version", "metadata", "policy", "records", "repairs"
    ]  # fmt: skip
    assert [field.name for field in dataclasses.fields(FileOutcome)] == ["name", "reports", "refusals", "failure_reports"]
