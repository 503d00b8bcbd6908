"""A record shape's plan, interpreted (``_interpret``, the reference) and compiled (``_compiled``,
the fast path for a shape met often), appends the same values: on every shape of the real
samples and on random shapes, with texts that are missing or hold the separators. And a report
(every sample, read by lxml) reads the same whether its shapes are interpreted throughout or compiled
from the first record."""

from __future__ import annotations

import random

import pytest

from dmarc_core import read_file
from dmarc_core.reports import records
from dmarc_core.reports.records import _PENDING, RecordReader, _compiled, _interpret, _plan_steps

#: Tags a record is made of, some in a namespace (RFC 9990's), and tags no report has.
_TAGS = [
    *sorted(records._RECORD_PARTS),
    "identities",
    "{urn:ietf:params:xml:ns:dmarc-2.0}record",
    "{urn:ietf:params:xml:ns:dmarc-2.0}domain",
    "{urn:ietf:params:xml:ns:dmarc-2.0}type",
    "unknown",
    "extension",
]
_TEXTS = [None, "", "pass", "a,b", "x; y", " example.com ", "local_policy,forwarded", "é"]


def _appended(plan, texts: list) -> list[list]:
    pending = [[] for _ in _PENDING]
    plan(texts, [values.append for values in pending])
    return pending


def _both_ways(shape: tuple, rng: random.Random) -> None:
    repairs: list[str] = []
    steps = _plan_steps(shape, repairs)
    compiled = _compiled(steps)
    for _ in range(4):
        texts = [rng.choice(_TEXTS) for _ in shape]
        interpreted = _appended(lambda t, a: _interpret(steps, t, a), texts)
        assert _appended(compiled, texts) == interpreted, (shape, texts)


def _sample_shapes(samples) -> set[tuple]:
    """Every record shape of the real samples, as the reader meets them."""
    shapes: set[tuple] = set()
    planned = RecordReader._plan

    def spy(reader, shape):
        shapes.add(shape)
        return planned(reader, shape)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RecordReader, "_plan", spy)
        patch.setattr(records, "_SHAPES", {})
        for path in sorted((samples / "aggregate").iterdir()):
            read_file(path.read_bytes(), path.name, chunk_bytes=None)  # every report read by lxml
    return shapes


def test_every_sample_shape_compiled_appends_what_it_interpreted(samples):
    shapes = _sample_shapes(samples)
    assert len(shapes) > 10  # the samples' damaged and namespaced reports have many
    rng = random.Random(0)
    for shape in sorted(shapes, key=repr):
        _both_ways(shape, rng)


@pytest.mark.parametrize("seed", range(300))
def test_a_random_shape_compiled_appends_what_it_interpreted(seed):
    rng = random.Random(seed)
    shape = tuple(rng.choice(_TAGS) for _ in range(rng.randint(0, 80)))
    _both_ways(shape, rng)


def _read_all(samples, compile_after: int, patch) -> list:
    patch.setattr(records, "_SHAPES", {})
    patch.setattr(records, "_COMPILE_AFTER", compile_after)
    read = []
    for path in sorted((samples / "aggregate").iterdir()):
        outcome = read_file(path.read_bytes(), path.name, chunk_bytes=None)
        read.append([(report.records.to_pylist(), report.repairs) for report in outcome.reports])
    return read


def test_reports_read_alike_interpreted_throughout_or_compiled_at_once(samples, monkeypatch):
    interpreted = _read_all(samples, 1 << 62, monkeypatch)
    compiled = _read_all(samples, 1, monkeypatch)
    assert compiled == interpreted


def test_a_shape_met_often_is_compiled_and_the_report_goes_on_with_that(monkeypatch):
    monkeypatch.setattr(records, "_SHAPES", {})
    monkeypatch.setattr(records, "_COMPILE_AFTER", 3)
    record = b"<record><row><source_ip>192.0.2.1</source_ip><count>1</count></row><auth_results/></record>"
    xml = b"<feedback>" + record * 5 + b"</feedback>"
    (report,) = read_file(xml, "r.xml", chunk_bytes=None).reports
    assert report.records.num_rows == 5
    (known,) = records._SHAPES.values()
    assert known.uses == 3  # interpreted three times, then the compiled plan took the other two
    assert known.compiled is not None
