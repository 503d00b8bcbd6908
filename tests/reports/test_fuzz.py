"""Fuzzing the reader with the real samples: every input, however damaged, ends as reports or
refusals (a ``FileOutcome``), never an exception, and what is read triages and summarises; the
chunked reader equals the serial one on every intact input.

A seeded mutator keeps failures reproducible: each case prints its seed. ``FUZZ_CASES`` sets how
many cases run (``make fuzz`` runs many more than the suite's default).
"""

from __future__ import annotations

import gzip
import io
import os
import random
import time
import zipfile
import zlib

import pytest

from dmarc_core import read_file, triage
from dmarc_core.analysis import summary

from generate import write
from reportkit import SNIPPETS

CASES = int(os.environ.get("FUZZ_CASES", "300"))
#: The first seed: a long run starts past the seeds earlier runs tried.
START = int(os.environ.get("FUZZ_START", "0"))
#: Seconds one small case may take: far above what any takes, so it only fails on a runaway.
CASE_SECONDS = 20


def _samples(samples) -> list[tuple[str, bytes]]:
    folder = samples / "aggregate"
    return [(path.name, path.read_bytes()) for path in sorted(folder.iterdir()) if path.stat().st_size < 200_000]


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to three damages of the kinds real uploads show, then maybe a container around it."""
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(7)
        at = rng.randrange(len(data) + 1)
        if kind == 0:  # truncated
            data = data[:at]
        elif kind == 1:  # bit flips
            flipped = bytearray(data)
            for _ in range(rng.randint(1, 8)):
                if flipped:
                    flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
            data = bytes(flipped)
        elif kind == 2:  # something inserted
            data = data[:at] + rng.choice(SNIPPETS) + data[at:]
        elif kind == 3:  # a stretch repeated
            end = min(len(data), at + rng.randint(1, 400))
            data = data[:end] + data[at:end] * rng.randint(1, 3) + data[end:]
        elif kind == 4:  # two stretches swapped
            other = rng.randrange(len(data) + 1)
            first, second = sorted((at, other))
            middle = (first + second) // 2
            data = data[:first] + data[middle:second] + data[first:middle] + data[second:]
        elif kind == 5:  # another encoding declared
            data = data.replace(b"UTF-8", rng.choice([b"ISO-8859-1", b"UTF-16", b"bogus", b"windows-1252"]), 1)
        else:  # a stretch deleted
            data = data[:at] + data[at + rng.randint(1, 200) :]
    wrap = rng.randrange(6)
    if wrap == 0:
        data = gzip.compress(data)
    elif wrap == 1:
        data = zlib.compress(data)
    elif wrap == 2:
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w", rng.choice([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])) as zipped:
            zipped.writestr("report.xml", data)
            zipped.writestr("other.xml.gz", gzip.compress(data))
        data = archive.getvalue()
        if rng.random() < 0.5:  # and the archive itself damaged
            damaged = bytearray(data)
            damaged[rng.randrange(len(damaged))] ^= 0xFF
            data = bytes(damaged)
    return data


def test_every_mutated_sample_ends_as_reports_or_refusals(samples):
    originals = _samples(samples)
    failures = []  # a long run reports every failing seed, not only the first
    for case in range(START, START + CASES):
        rng = random.Random(case)
        name, original = rng.choice(originals)
        data = mutate(original, rng)
        started = time.monotonic()
        try:
            outcome = read_file(data, name, workers=1)
            frame = triage(outcome.reports)
            if len(frame):
                summary.headline(frame), summary.by_source(frame), summary.by_day(frame), summary.rollout_readiness(frame)
                summary.csv_bytes(frame)
        except Exception as exc:  # the contract: no exception of any kind escapes
            failures.append(f"case {case} ({name}): {type(exc).__name__}: {exc}")
            continue
        if not (outcome.reports or outcome.refusals):
            failures.append(f"case {case} ({name}): neither a report nor a refusal")
        if not all(refusal.reason for refusal in outcome.refusals):
            failures.append(f"case {case} ({name}): a refusal without a reason")
        if time.monotonic() - started > CASE_SECONDS:
            failures.append(f"case {case} ({name}) took too long")
    assert not failures, f"{len(failures)} of {CASES} cases failed:\n" + "\n".join(failures[:30])


@pytest.fixture(scope="module")
def big_report(tmp_path_factory) -> bytes:
    return write(1500, tmp_path_factory.mktemp("fuzz") / "big.xml").read_bytes()


@pytest.mark.parametrize("case", range(int(os.environ.get("FUZZ_CHUNK_CASES", "6"))))
def test_the_chunked_reader_equals_the_serial_one_on_intact_input(big_report, case):
    # Markup that is well-formed XML, put between records: whatever it holds, the fast path must read
    # exactly what the serial one reads.
    rng = random.Random(10_000 + case)
    document = big_report
    for _ in range(rng.randint(1, 5)):
        at = document.index(b"</record>", rng.randrange(len(document) // 2)) + len(b"</record>")
        text = rng.choice([b"</record>", b"<record><count>7</count></record>", b"</feedback>", b"<!-- x -->"])
        markup = rng.choice([b"<!-- %s -->", b"<![CDATA[%s]]>", b"<?note %s?>"]).replace(b"%s", text)
        document = document[:at] + markup * rng.randint(1, 30) + document[at:]
    one = read_file(document, "big.xml", workers=1, chunk_bytes=None)
    many = read_file(document, "big.xml", workers=2, chunk_bytes=32 << 10)
    assert [r.records.to_pylist() for r in many.reports] == [r.records.to_pylist() for r in one.reports]
    assert [(r.metadata, r.policy, r.repairs) for r in many.reports] == [(r.metadata, r.policy, r.repairs) for r in one.reports]


#: Cases a longer run found (make fuzz), kept so they stay fixed: a zip whose damaged header made
#: zipfile seek before the archive's start (ValueError rather than BadZipFile); an element name whose
#: bytes are no UTF-8, which lxml cannot decode (UnicodeDecodeError from ``element.tag``); a zip
#: member with an empty name (IndexError from zipfile's is_dir).
FOUND = [100809, 102723, 103456, 267144, 451362]


@pytest.mark.parametrize("case", FOUND)
def test_cases_a_long_run_found(samples, case):
    rng = random.Random(case)
    name, original = rng.choice(_samples(samples))
    outcome = read_file(mutate(original, rng), name, workers=1)
    assert outcome.reports or outcome.refusals
    summary.csv_bytes(triage(outcome.reports))
