"""Big reports are cut into chunks of whole records and parsed on several processes: the result
must be exactly what one process reads. Small chunk sizes make small documents take that path."""

from __future__ import annotations

import gzip
import io

import pytest

from dmarc_core import Limits, parse_reports, triage
from dmarc_core.reports import chunks, reading

from generate import write
from reference import differences, reference_triage

#: Small chunks, so that a 3,000-record document (about 2 MB) takes the chunked path, cut into more
#: than a dozen chunks: several for each worker. (Every chunk is a round trip to a worker, so much
#: smaller ones only make the tests slower.)
SMALL = 128 << 10


@pytest.fixture
def tiny_chunks(monkeypatch):
    """Count how often the chunked path really runs."""
    calls = []
    read_chunks = reading.read_chunks

    def counting(*args):
        calls.append(args)
        return read_chunks(*args)

    monkeypatch.setattr(reading, "read_chunks", counting)
    return calls


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    return write(3000, tmp_path_factory.mktemp("bench") / "report-3000.xml")


@pytest.fixture(scope="module")
def shorter(tmp_path_factory):
    """150 records (about 100 KB): over the 64 KB a report's first read takes, so it is cut too."""
    return write(150, tmp_path_factory.mktemp("bench") / "report-150.xml")


def _table(path_or_bytes, workers, chunk_bytes=SMALL):
    (report,) = parse_reports(path_or_bytes, "report.xml", workers=workers, chunk_bytes=chunk_bytes)
    return report


def _one(path_or_bytes):
    """The simple path, the reference: one piece, lxml."""
    return _table(path_or_bytes, 1, None)


def test_chunked_parsing_equals_one_process(tiny_chunks, generated):
    one, many, here = _one(generated), _table(generated, 2), _table(generated, 1)
    assert len(tiny_chunks) == 2  # on workers, and in this process
    assert many.records.num_rows == 3000
    for chunked in (many, here):
        assert chunked.records.to_pylist() == one.records.to_pylist()
        assert (chunked.metadata, chunked.policy, chunked.repairs) == (one.metadata, one.policy, one.repairs)


def test_the_fast_triage_equals_the_reference(tiny_chunks, generated):
    assert differences(triage(parse_reports(generated, workers=2, chunk_bytes=SMALL)), reference_triage(generated)) == []


def test_namespaced_and_compressed_documents_are_cut_too(tiny_chunks, generated):
    namespaced = generated.read_bytes().replace(b"<feedback>", b'<feedback xmlns="urn:ietf:params:xml:ns:dmarc-2.0">', 1)
    one, many = _one(namespaced), _table(gzip.compress(namespaced), 2)
    assert len(tiny_chunks) == 1
    assert many.schema == "RFC 9990" and many.records.num_rows == 3000
    assert many.records.to_pylist() == one.records.to_pylist()


def test_a_truncated_big_report_says_so(tiny_chunks, generated):
    # Cut, then read again in one piece (the records are not followed by the root's end tag): what
    # the serial reader says, the chunked one says.
    cut = generated.read_bytes().rsplit(b"</feedback>", 1)[0]
    one, many = _one(cut), _table(cut, 2)
    assert len(tiny_chunks) == 1 and many.records.num_rows == 3000
    assert any("the file ends before <feedback> is closed; what came before was read" in r for r in many.repairs)
    assert (many.records.to_pylist(), many.repairs) == (one.records.to_pylist(), one.repairs)


def test_other_encodings_are_read_in_one_piece(tiny_chunks, generated):
    latin = generated.read_bytes().replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"', 1)
    assert _table(latin, 2).records.num_rows == 3000
    assert tiny_chunks == []


def test_records_longer_than_a_chunk_are_taken_whole(tiny_chunks, shorter):
    # Every record is longer than 256 bytes, so each is a chunk of its own: a round trip to a worker.
    one, many = _one(shorter), _table(shorter, 2, chunk_bytes=256)
    assert len(tiny_chunks) == 1 and many.records.num_rows == 150
    assert many.records.to_pylist() == one.records.to_pylist() and many.repairs == one.repairs


@pytest.mark.parametrize(
    "markup",
    [
        b"<!-- </record> -->",
        b"<!-- </record><record><row><count>999</count></row></record> -->",
        b"<?note </record><record>?>",
    ],
)
def test_a_record_end_tag_inside_markup_is_no_place_to_cut(tiny_chunks, generated, markup):
    # Issue 14: the chunker cut at every "</record>" byte string, so a comment could make it invent
    # records. Whatever the comment holds, the chunked read equals the serial one.
    document = generated.read_bytes()
    middle = document.index(b"</record>", len(document) // 3) + len(b"</record>")
    marked = document[:middle] + markup * 40 + document[middle:]
    one, many = _one(marked), _table(marked, 2)
    assert many.records.num_rows == one.records.num_rows == 3000
    assert many.records.to_pylist() == one.records.to_pylist()


def test_a_comment_in_the_header_reads_in_one_piece(tiny_chunks, generated):
    document = generated.read_bytes().replace(b"<record>", b"<!-- <record> --><record>", 1)
    assert _table(document, 2).records.to_pylist() == _one(document).records.to_pylist()


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(b"<record>", b"</feedback><record>", id="the-root-closed-before-the-records"),
        pytest.param(b"<report_metadata>", b"<report_metadata><feedback><report_metadata>", id="an-element-named-as-the-root"),
    ],
)
def test_a_header_that_leaves_more_than_the_root_open_reads_in_one_piece(tiny_chunks, generated, before, after):
    # Cut before the records, libxml2 names only the innermost open element, and none when the root
    # has ended: neither says that the header ends inside the root alone.
    document = generated.read_bytes().replace(before, after, 1)
    one, many = _one(document), _table(document, 1)
    assert (many.records.to_pylist(), many.repairs) == (one.records.to_pylist(), one.repairs)


def test_a_big_report_that_cannot_be_cut_is_still_read_whole(tiny_chunks, generated):
    # No record in the first read (a long comment before them): read in one piece, all of it.
    document = generated.read_bytes().replace(b"<record>", b"<!--" + b" " * (300 << 10) + b"--><record>", 1)
    many = _table(document, 2)
    assert tiny_chunks == [] and many.records.num_rows == 3000


@pytest.mark.parametrize(
    "where",
    [
        pytest.param(1500, id="between-records"),
        pytest.param(0, id="in-the-header"),
    ],
)
def test_a_long_stretch_without_records_stops_both_readers_at_the_same_record(tiny_chunks, generated, where):
    # 11 MB of blank: past libxml2's 10 MB text limit, and past the 4 MB without a record that no report
    # has. The reading stops there, the same in one piece and in chunks, and says so.
    document = generated.read_bytes()
    at = document.index(b"<record>") if where == 0 else _after_record(document, where)
    document = document[:at] + b" " * (11 << 20) + document[at:]
    one, many = _one(document), _table(document, 2)
    assert one.records.num_rows == where
    assert many.records.to_pylist() == one.records.to_pylist() and many.repairs == one.repairs
    assert any("without a record or a report section stopped the reading there" in repair for repair in many.repairs)


def test_an_element_too_long_for_a_report_keeps_the_records_before_it(tiny_chunks, generated):
    document = generated.read_bytes()
    at = document.index(b"</source_ip>", _after_record(document, 2000))
    document = document[:at] + b"x" * (11 << 20) + document[at:]
    one, many = _one(document), _table(document, 2)
    assert one.records.num_rows == 2000
    assert many.records.to_pylist() == one.records.to_pylist() and many.repairs == one.repairs
    assert any("an element over 1 MB long" in repair for repair in many.repairs)


def _after_record(document: bytes, count: int) -> int:
    at = 0
    for _ in range(count):
        at = document.index(b"</record>", at) + len(b"</record>")
    return at


def test_the_records_budget_cuts_both_readers_at_the_same_record(tiny_chunks, generated):
    limits = Limits(max_records=1234)
    (one,) = parse_reports(generated, "report.xml", limits, workers=1, chunk_bytes=None)
    (many,) = parse_reports(generated, "report.xml", limits, workers=2, chunk_bytes=SMALL)
    assert len(tiny_chunks) == 1
    assert one.records.num_rows == 1234
    assert many.records.to_pylist() == one.records.to_pylist()


def _moved_to_the_end(document: bytes, section: bytes) -> bytes:
    start = document.index(b"<" + section + b">")
    end = document.index(b"</" + section + b">") + len(section) + 3
    body = document[:start] + document[end:]
    return body.replace(b"</feedback>", document[start:end] + b"</feedback>")


def _nested(document: bytes) -> bytes:
    first = document.index(b"</record>", len(document) // 2)
    return document[:first] + b"<record><row><count>5</count></row></record>" + document[first:]


def _second_half(document: bytes, change) -> bytes:
    middle = document.index(b"<record>", len(document) // 2)
    return document[:middle] + change(document[middle:])


#: Well-formed reports (and a few damaged ones) unlike the plain records a big report is made of,
#: found by a review of the fast path: each must read exactly as it reads in one piece.
ODD_SHAPES = {
    "end-tag-with-space": lambda d: d.replace(b"</record>", b"</record >"),
    "mixed-prefixes": lambda d: _second_half(
        d.replace(b"<feedback>", b'<feedback xmlns:x="urn:x">', 1), lambda rest: rest.replace(b"record>", b"x:record>")
    ),
    "records-in-groups": lambda d: d.replace(b"<record>", b"<group><record>").replace(b"</record>", b"</record></group>"),
    "policy-after-records": lambda d: _moved_to_the_end(d, b"policy_published"),
    "metadata-after-records": lambda d: _moved_to_the_end(d, b"report_metadata"),
    "leading-empty-record": lambda d: d.replace(b"<record>", b"<record/><record>", 1),
    "two-roots": lambda d: d + d[d.index(b"<feedback>") :],
    "record-in-a-record": _nested,
    "section-among-records": lambda d: _second_half(d, lambda rest: b"<policy_published><p>reject</p></policy_published>" + rest),
    "counts-that-are-no-numbers": lambda d: _second_half(d, lambda rest: rest.replace(b"<count>", b"<count>x", 3)),
    "damage-among-records": lambda d: _second_half(d, lambda rest: rest.replace(b"</row>", b"</rows>", 1)),
    "header-section-unclosed": lambda d: d.replace(b"</policy_published>", b"", 1),
    "root-closed-with-another-prefix": lambda d: d.replace(b"</feedback>", b"</x:feedback>"),
    "notes-from-header-and-records": lambda d: _second_half(
        d.replace(b"<pct>100</pct>", b"<pct>200</pct>", 1), lambda rest: rest.replace(b"identifiers>", b"identities>")
    ),
    # Issue 15's review: a chunk is read as UTF-8, where the whole report reads bytes over 127 as damage.
    "declared-ascii-with-other-bytes": lambda d: _second_half(
        d.replace(b'encoding="UTF-8"', b'encoding="us-ascii"', 1),
        lambda rest: rest.replace(b"<header_from>", "<header_from>é".encode(), 1),
    ),
    "a-record-too-long-for-a-report": lambda d: _second_half(
        d, lambda rest: rest.replace(b"</row>", b"<x/>" * 300_000 + b"</row>", 1)
    ),
}


@pytest.mark.parametrize("shape", ODD_SHAPES)
def test_reports_of_odd_shapes_read_as_they_read_in_one_piece(tiny_chunks, generated, shape):
    document = ODD_SHAPES[shape](generated.read_bytes())
    one = _one(document)
    for chunked in (_table(document, 2), _table(document, 1)):
        assert chunked.records.to_pylist() == one.records.to_pylist()
        assert (chunked.metadata, chunked.policy, chunked.repairs) == (one.metadata, one.policy, one.repairs)


def test_a_stream_is_read_again_from_its_start_when_cutting_fails(tiny_chunks, generated):
    # No "</record>" anywhere: the chunker gives up after a few chunks' worth (never holding the whole
    # file), and the stream is read again from where it started.
    document = generated.read_bytes().replace(b"</record>", b"</record >")
    stream = io.BytesIO(b"junk before" + document)
    stream.seek(len(b"junk before"))
    (many,) = parse_reports(stream, "report.xml", workers=2, chunk_bytes=SMALL)
    assert many.records.num_rows == 3000 and len(tiny_chunks) == 1


class _Pipe(io.RawIOBase):
    """A stream that cannot be read again (a pipe, a socket)."""

    def __init__(self, data: bytes):
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        return self._data.readinto(buffer)


def test_a_stream_that_cannot_be_read_again_is_never_cut(tiny_chunks, generated):
    (report,) = parse_reports(io.BufferedReader(_Pipe(generated.read_bytes())), "report.xml", workers=2, chunk_bytes=SMALL)
    assert report.records.num_rows == 3000 and tiny_chunks == []


@pytest.mark.parametrize(
    ("opener", "closer"), [(b"<!--", b"-->"), (b"<![CDATA[", b"]]>"), (b"<?note", b"?>")], ids=["comment", "cdata", "pi"]
)
def test_an_end_tag_is_known_to_be_inside_each_kind_of_markup(opener, closer):
    # XML 1.0 2.5, 2.6 and 2.7: inside a comment, a CDATA section or a processing instruction,
    # "</record>" is text. Where one is open, the chunker learns where it closes.
    records = b"<record><row><count>1</count></row></record>"
    data = records + opener + b" </record> " + closer + records
    inside = data.index(b"</record>", len(records))
    assert chunks._markup_end(data, 0, inside) == data.index(closer) + len(closer)
    assert chunks._markup_end(data[: inside + 10], 0, inside) == -1  # not closed within the data
    assert chunks._markup_end(data, 0, len(data)) is None  # closed before the end: no markup open there
    # Text with "!" or "?" but no markup is no markup either.
    assert chunks._markup_end(b"<record><comment>why? now!</comment></record>", 0, 40) is None
