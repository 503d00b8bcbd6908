"""Many files at once: each ends read, read with repairs, or refused; good ones are never lost."""

from __future__ import annotations

from dmarc_core.reports.reading import demo_files, read_files

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
