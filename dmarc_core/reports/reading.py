"""From uploaded files to reports: the one boundary where whatever cannot be read becomes a
refusal with its reason, so every file ends read, read with repairs, a failure report (for the
message check), or refused, and one bad file (or one bad member of an archive) never hides the
good ones.

``lxml.etree.iterparse`` yields each ``<record>`` as it ends, and the element is freed once
read, so memory stays flat whatever the size. Reports over twice ``CHUNK_BYTES`` are cut into
chunks of whole records, read without a tree where they are plain (``plain``) and on several
processes when asked; many big files together are shared out over every core. The parser never
expands entities, never loads a DTD, never touches the network, and refuses documents that
declare a DOCTYPE.
"""

from __future__ import annotations

import concurrent.futures
import concurrent.futures.process
import dataclasses
import io
import itertools
import re
import weakref
from collections.abc import Callable, Iterable, Sequence
from importlib import resources
from os import PathLike
from typing import Any, BinaryIO

import pyarrow as pa
from lxml import etree

from .chunks import CHUNK_BYTES, UTF8_DECLARATION, NotCuttable, Rejoined, ends_root, read_chunks, record_chunks
from .containers import BUFFER, Budget, Payload, open_source, payloads
from .model import RFC9990_NAMESPACE, FailureReport, FileOutcome, Limits, Refusal, Report, ReportError
from .plain import read_plain, read_plain_header
from .pool import cores, process_pool
from .records import (
    DOCTYPE,
    MAX_ELEMENT_BYTES,
    Columns,
    DtdFound,
    RecordReader,
    describe,
    first_element_name,
    local_name,
    qualified_name,
    tag_name,
)

#: Below this much data, starting worker processes for many files costs more than it saves.
PARALLEL_THRESHOLD_BYTES = 8 << 20


def read_file(
    data: bytes | str | PathLike | BinaryIO,
    filename: str | None = None,
    limits: Limits | None = None,
    workers: int = 1,
    chunk_bytes: int | None = CHUNK_BYTES,
) -> FileOutcome:
    """Every aggregate report in one uploaded file (an archive or e-mail may hold several), and
    every part of it that is not one, with the reason.

    ``data`` is the file's bytes, a path, or a binary stream. A report larger than twice
    ``chunk_bytes`` is cut into chunks of about that size, whose records written the plain way
    are read without a tree (``plain``), in this process or on ``workers`` processes: more
    workers pay only on many cores, each with a copy of the libraries in memory.
    ``chunk_bytes=None`` reads every report in one piece with lxml: the simple path, which the
    fast one must equal.
    """
    return _read(data, filename, limits, workers, chunk_bytes, None)


def _read(data, filename, limits, workers, chunk_bytes, batch: _Batch | None) -> FileOutcome:
    """``read_file``, with the records of its reports put in ``batch`` when one is given."""
    replay = _replayable(data)
    if replay is None:
        chunk_bytes = None  # a big report is cut only where it can be read again whole, should the cutting fail
    limits = limits or Limits()
    name = filename or (str(data) if isinstance(data, (str, PathLike)) else "the upload")
    reports, refusals, failure_reports = [], [], []
    stream = open_source(data)
    budget = Budget(limits)
    try:
        for found in payloads(stream, name, budget):
            if isinstance(found, Refusal):
                refusals.append(found)
                continue
            if isinstance(found, FailureReport):
                failure_reports.append(found)
                continue
            try:
                report = parse_payload(found, workers, chunk_bytes, budget.records_allowed(found.name), batch)
                budget.records_left -= report.record_count
                reports.append(report)
            except ReportError as exc:
                refusals.append(Refusal(found.name, str(exc)))
    except ReportError as exc:  # the file itself, before any part of it could be told apart
        refusals.append(Refusal(name, str(exc)))
    except NotCuttable:  # a big report that the chunks would not read as it reads whole: the simple path
        return _read(replay(), filename, limits, 1, None, batch)
    finally:
        if stream is not data:
            stream.close()
    if not reports and not refusals and not failure_reports:
        refusals.append(Refusal(name, f"{name} holds no report."))
    return FileOutcome(name, tuple(reports), tuple(refusals), tuple(failure_reports))


def _replayable(data) -> Callable[[], bytes | str | PathLike | BinaryIO] | None:
    """How to read ``data`` again from its start, if it can be."""
    if isinstance(data, (bytes, bytearray, memoryview, str, PathLike)):
        return lambda: data
    if getattr(data, "seekable", lambda: False)():
        start = data.tell()
        return lambda: (data.seek(start), data)[1]
    return None


def parse_reports(
    data: bytes | str | PathLike | BinaryIO,
    filename: str | None = None,
    limits: Limits | None = None,
    workers: int = 1,
    chunk_bytes: int | None = CHUNK_BYTES,
) -> list[Report]:
    """The reports in one file (see ``read_file``); ``ReportError`` with every reason when there
    is none. Parts refused beside readable reports are in ``read_file``'s outcome."""
    outcome = read_file(data, filename, limits, workers, chunk_bytes)
    if not outcome.reports:
        raise ReportError(outcome.details)
    return list(outcome.reports)


def read_files(
    files: Sequence[tuple[str, bytes]],
    limits: Limits | None = None,
    progress: Callable[[int, int, FileOutcome], None] | None = None,
    workers: int | None = None,
) -> list[FileOutcome]:
    """Read every file, in the given order. ``progress(done, total, outcome)`` follows each file.
    Big files are shared out over every core; small ones (a month of reports) are read in this
    process in batches, which costs less than sending them to workers."""
    total = len(files)
    workers = min(workers or cores(), cores(), total)
    outcomes: list[FileOutcome | None] = [None] * total

    def finish(index: int, outcome: FileOutcome) -> None:
        outcomes[index] = outcome
        if progress:
            progress(sum(o is not None for o in outcomes), total, outcome)

    big = [(index, name, data) for index, (name, data) in enumerate(files) if len(data) > _Batch.FILE_BYTES]
    if workers > 1 and len(big) > 1 and sum(len(data) for _, _, data in big) >= PARALLEL_THRESHOLD_BYTES:
        pool, waiting = process_pool(), iter(big)
        # One file per worker, at most ``workers`` at a time; a worker reads its file in one piece.
        pending = {}
        try:
            while True:
                for index, name, data in itertools.islice(waiting, workers - len(pending)):
                    pending[pool.submit(read_file, data, name, limits, 1)] = index
                if not pending:
                    break
                done, _ = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in done:
                    finish(pending.pop(future), future.result())
        except concurrent.futures.process.BrokenProcessPool:
            pass  # workers could not start here (an unguarded main module) or one died; read the rest here
    batch = _Batch()
    for index, (name, data) in enumerate(files):
        if outcomes[index] is not None:
            continue
        if len(data) > _Batch.FILE_BYTES:
            finish(index, read_file(data, name, limits))
            continue
        batch.outcomes.append((index, _read(data, name, limits, 1, CHUNK_BYTES, batch)))
        if batch.columns.rows >= _Batch.RECORDS or len(batch.outcomes) >= _Batch.FILES:
            for settled in batch.settle():
                finish(*settled)
    for settled in batch.settle():
        finish(*settled)
    return outcomes  # type: ignore[return-value]


def demo_files() -> list[tuple[str, bytes]]:
    """The demo reports shipped with the package."""
    folder = resources.files("dmarc_core").joinpath("data", "demo")
    return [
        (entry.name, entry.read_bytes())
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".xml")
    ]


class _Batch:
    """Small files read one after another into one set of columns, made into Arrow once for them
    all: a month of reports of a few records each costs one table, not one per report. Their
    reports wait for their rows (``_Rows``) until ``settle``."""

    #: Records or files gathered before the batch is settled: often enough for a progress bar to
    #: move, seldom enough that making Arrow columns (a few ms a batch, whatever its size) is not
    #: the cost of a month of small files. Files at most FILE_BYTES big join a batch.
    RECORDS, FILES = 1 << 15, 500
    FILE_BYTES = 1 << 20

    def __init__(self) -> None:
        self.columns = Columns()
        self.outcomes: list[tuple[int, FileOutcome]] = []

    def settle(self) -> list[tuple[int, FileOutcome]]:
        """Every waiting outcome with its reports' rows in place, in the order they were read."""
        table, bad_before = self.columns.table()

        def settled(report: Report) -> Report:
            if not isinstance(report.records, _Rows):
                return report
            reader = report.records.reader
            records = reader.rows_of(table, bad_before)
            _remember_slice(records, table, reader.start)
            repairs = tuple(dict.fromkeys((*report.repairs, *reader.repairs)))
            # Made anew, not by dataclasses.replace, which reads the class's fields again for every report.
            return Report(report.file, report.schema, report.version, report.metadata, report.policy, records, repairs)

        done = [
            (index, FileOutcome(o.name, tuple(map(settled, o.reports)), o.refusals, o.failure_reports))
            for index, o in self.outcomes
        ]
        self.columns, self.outcomes = Columns(), []  # the next files start a batch of their own
        return done


#: The records of each report read in a batch, a slice of the batch's table, by the slice's id: the
#: slice (weakly: the entry goes with it), the batch's table, and where the slice starts in it.
_SLICES: dict[int, tuple[weakref.ref, pa.Table, int]] = {}


def _remember_slice(records: pa.Table, table: pa.Table, start: int) -> None:
    key = id(records)
    _SLICES[key] = (weakref.ref(records, lambda _, key=key: _SLICES.pop(key, None)), table, start)


def records_of(reports: Iterable[Report]) -> pa.Table:
    """Every report's records, in order, as one table.

    Reports read in one batch (``read_files``) hold slices of one table, and a run of them that
    follow one another there is taken as one slice. Otherwise Arrow would keep a chunk per report,
    each bearing the whole batch's dictionaries, and unify those once per chunk: for a month of
    3,000 reports that cost more than the rest of their triage."""
    pieces: list = []  # tables, and runs of a batch's slices as [the batch's table, start, end]
    for report in reports:
        records = report.records
        known = _SLICES.get(id(records))
        if known is None or known[0]() is not records:
            pieces.append(records)
            continue
        _, table, start = known
        last = pieces[-1] if pieces else None
        if isinstance(last, list) and last[0] is table and last[2] == start:
            last[2] += records.num_rows
        else:
            pieces.append([table, start, start + records.num_rows])
    if not pieces:
        return RecordReader().records
    return pa.concat_tables(
        [piece if isinstance(piece, pa.Table) else piece[0].slice(piece[1], piece[2] - piece[1]) for piece in pieces]
    )


@dataclasses.dataclass(frozen=True)
class _Rows:
    """A report's records while they wait in a ``_Batch``."""

    reader: RecordReader

    @property
    def num_rows(self) -> int:
        return self.reader.record_count


def parse_payload(
    payload: Payload,
    workers: int = 1,
    chunk_bytes: int | None = CHUNK_BYTES,
    max_records: int = 1 << 62,
    batch: _Batch | None = None,
) -> Report:
    stream, repairs = payload.stream, []
    head = stream.peek(1 << 16)[: 1 << 16]
    body_start = len(head) - len(head.lstrip(b" \t\r\n"))
    if body_start and head[body_start : body_start + 5] == b"<?xml":
        stream.read(body_start)  # whitespace before the declaration is the one thing libxml2 will not skip
        repairs.append("whitespace before the XML declaration was skipped")
    dtd = f"{payload.name} declares a DTD (<!DOCTYPE>); aggregate reports never do, so it is refused for safety."
    if DOCTYPE.search(head[: head.find(b"<feedback") if b"<feedback" in head else len(head)]):
        raise ReportError(dtd)
    chunks = document = None
    if chunk_bytes and UTF8_DECLARATION.match(head):
        # The first read holds the report's header (metadata, policy) and the first records.
        first = max(2 * chunk_bytes, 1 << 16)
        start = _read_up_to(stream, first)
        if len(start) == first:
            chunks = record_chunks(start, stream, chunk_bytes)
            # Cut: the main process reads the header alone. Not cut: the whole report, what was read first included.
            stream = io.BytesIO(chunks.header) if chunks else io.BufferedReader(Rejoined(start, stream))
        else:
            document, stream = start, io.BytesIO(start)  # the whole report
        del start  # the chunks hold what they need
    root_name, columns = first_element_name(head), batch.columns if batch and not chunks else None
    read = _read_plain_report(document, root_name, max_records, columns) if document else None
    if read is None:
        try:
            read = _read_report(stream, root_name, max_records, columns)
        except DtdFound:  # after a prolog longer than the first bytes checked above
            raise ReportError(dtd) from None
        except etree.XMLSyntaxError as exc:  # unrecoverable even in recover mode (e.g. no root at all)
            raise ReportError(f"{payload.name} is not readable XML: {exc}.{_before(payload)}") from None
    reader, root, errors = read
    if chunks:
        # The records come from the workers.
        if not _cut_cleanly(chunks.header, root, errors) or "record" in reader.seen or reader.stopped:
            raise NotCuttable  # damage or a record in the header: only the whole report reads as it should
        errors = []  # the one error was the cut
        try:
            records, chunk_repairs = read_chunks(chunks, root, workers, max_records)
        except concurrent.futures.process.BrokenProcessPool:
            raise ReportError(
                f"{payload.name} could not be read: a worker process reading it died (out of memory?). Try it again "
                "alone, or with fewer other files."
            ) from None
        reader.seen.add("record")
        reader.repairs.extend(chunk_repairs)  # after the header's, as the serial reader says them
    if not reader.seen:
        if root is None:
            raise ReportError(
                f"{payload.name} looks like XML, but no element in it could be read: is it written in an encoding "
                f"reports never use (UTF-32, EBCDIC)?{_before(payload)}"
            )
        root_name = local_name(tag_name(root))
        if root_name == "feedback":
            raise ReportError(
                f"{payload.name} is an empty DMARC aggregate report: its <feedback> holds no "
                f"<report_metadata>, <policy_published> or <record>.{_before(payload)}"
            )
        raise ReportError(
            f"{payload.name} is XML but not a DMARC aggregate report: its root element is <{root_name}>, not "
            f"<feedback>, and it holds no <report_metadata> or <record>.{_before(payload)}"
        )
    repairs.extend(describe(entry) for entry in errors)
    if "report_metadata" not in reader.seen:
        repairs.append("the report has no <report_metadata>: the reporter and the date range are unknown")
    if "policy_published" not in reader.seen:
        repairs.append("the report has no <policy_published>: relaxed alignment (adkim=r, aspf=r) is assumed")
    root_tag = tag_name(root) if root is not None else ""
    namespace = root_tag.partition("}")[0].lstrip("{") if root_tag.startswith("{") else None
    schema = "RFC 9990" if namespace == RFC9990_NAMESPACE or reader.version.startswith("2") or reader.rfc9990 else "RFC 7489"
    if not chunks:
        records = _Rows(reader) if batch else reader.records
    if records.num_rows >= max_records:
        repairs.append(f"reading stopped after {max_records:,} records, the most one upload may hold (the limit is configurable)")
    repairs.extend(reader.repairs)
    # The containers' repairs are read last: a gzip says it was cut short only once read to its end.
    repairs = [*payload.repairs, *repairs]
    return Report(payload.name, schema, reader.version, reader.metadata, reader.policy, records, tuple(dict.fromkeys(repairs)))


def _read_up_to(stream: BinaryIO, size: int) -> bytes:
    """``stream.read(size)``, without allocating ``size`` bytes first: for a small report that costs
    more than reading it."""
    blocks = []
    while size > 0 and (block := stream.read(min(size, BUFFER))):
        blocks.append(block)
        size -= len(block)
    return b"".join(blocks)


def _read_report(stream: BinaryIO, root_name: str, max_records: int, columns: Columns | None) -> tuple[RecordReader, Any, list]:
    """The reader after reading ``stream``, the document's root, and the damage libxml2 saw."""
    reader = RecordReader(max_records, columns)
    events = reader.events(stream, root_name)
    reader.read(events)
    root = events.root if events.root is not None else reader.root  # the parser's is set only at the end
    errors = [entry for entry in events.error_log if entry.level >= etree.ErrorLevels.ERROR]
    reader.leave_out_record_cut_short(errors)
    return reader, root, errors


def _cut_cleanly(header: bytes, root, errors: list) -> bool:
    """Whether a report's header, read alone, read as it reads in the whole report: its one error
    is the end of data it was cut short at on purpose, before the first record, with the root
    alone open. libxml2 names only the innermost open element there, so no other element in the
    header may bear the root's name; and with no error, the root ended before the records."""
    if root is None or len(errors) != 1:
        return False
    name = local_name(tag_name(root))
    if len(re.findall(rb"<(?:[^\s<>/:]+:)?" + re.escape(name.encode()) + rb"[\s/>]", header)) != 1:
        return False
    cut_short = tuple(f"Premature end of data in tag {written} " for written in {name, qualified_name(root)})
    return errors[0].message.startswith(cut_short)


def _read_plain_report(
    document: bytes, root_name: str, max_records: int, columns: Columns | None
) -> tuple[RecordReader, Any, list] | None:
    """A small report read as ``_read_report`` reads it, its header by lxml and its records by
    ``read_plain``, which is faster than the record reader (a month of small reports reads in a
    quarter less time); None where that is not sure to read alike (damage, markup or sections
    among or after the records, records written another way), and the report is read as a whole.

    Under ``MAX_ELEMENT_BYTES`` no reading stops early at a size limit, neither the whole
    document's nor the header's."""
    if len(document) > MAX_ELEMENT_BYTES:
        return None
    # Cut at a size over the document's: one piece, all its records.
    cut = record_chunks(document, io.BytesIO(), len(document) + 1)
    pieces = list(cut.pieces) if cut else []
    if not pieces:
        return None
    reader = RecordReader(max_records, columns)
    root = read_plain_header(cut.header, reader)
    if root is None:  # a header written another way: lxml reads it alone, cut short before the records
        try:
            reader, root, errors = _read_report(io.BytesIO(cut.header), root_name, max_records, columns)
        except (DtdFound, etree.XMLSyntaxError):
            return None  # read as a whole, the report is refused with the reason
        if not _cut_cleanly(cut.header, root, errors) or "record" in reader.seen:
            # A record read in the header (<record/>) stays in ``columns``, outside every report's rows.
            return None
    if not ends_root(b"".join(cut.tail), root):
        return None
    if not read_plain(pieces[0], reader.columns):
        return None
    reader.stop = reader.columns.rows
    reader.seen.add("record")
    return reader, root, []


def _before(payload: Payload) -> str:
    """What the containers repaired on the way in (a gzip cut short), often why nothing readable came out."""
    return f" Before that, {'; '.join(payload.repairs)}." if payload.repairs else ""
