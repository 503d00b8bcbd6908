"""One pool of worker processes, owned by ``reports.pool``: never more workers than cores however
the reading nests (many files, archives of big reports, chunks), and a dead worker does not break
later reading."""

from __future__ import annotations

import io
import multiprocessing
import os
import signal
import zipfile

import pytest

from dmarc_core import read_file, read_files
from dmarc_core.reports import pool

from generate import write

SMALL = 128 << 10


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> bytes:
    return write(3000, tmp_path_factory.mktemp("pool") / "big.xml").read_bytes()


def _zip(*documents: bytes) -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for number, document in enumerate(documents):
            zipped.writestr(f"report-{number}.xml", document)
    return archive.getvalue()


def test_asking_for_more_workers_than_cores_starts_no_more(big, monkeypatch):
    monkeypatch.setattr("dmarc_core.reports.reading.PARALLEL_THRESHOLD_BYTES", 0)
    outcome = read_file(_zip(big, big), "two.zip", workers=64, chunk_bytes=SMALL)
    assert [report.records.num_rows for report in outcome.reports] == [3000, 3000]
    outcomes = read_files([(f"{n}.zip", _zip(big, big)) for n in range(4)], workers=64)
    assert all(len(outcome.reports) == 2 for outcome in outcomes)
    workers = [
        child
        for child in multiprocessing.active_children()
        if child.name.startswith(("ForkProcess", "ForkServerProcess", "SpawnProcess"))
    ]
    assert 0 < len(workers) <= pool.cores()


def test_a_worker_killed_mid_way_breaks_one_read_not_the_next(big):
    first = read_file(big, "big.xml", workers=2, chunk_bytes=SMALL)
    assert first.reports[0].records.num_rows == 3000
    for process in list(pool.process_pool()._processes.values()):
        os.kill(process.pid, signal.SIGKILL)  # as the OOM killer would
        process.join()
    second = read_file(big, "big.xml", workers=2, chunk_bytes=SMALL)
    if not second.reports:  # the read that meets the dead pool is refused with the reason ...
        assert "a worker process reading it died" in second.refusals[0].reason, second.refusals
        second = read_file(big, "big.xml", workers=2, chunk_bytes=SMALL)
    assert second.reports, second.refusals  # ... and the next one gets a fresh pool
    assert second.reports[0].records.num_rows == 3000
