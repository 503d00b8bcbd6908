"""DMARC aggregate reports (RFC 7489 appendix C and RFC 9990), read by streaming.

``lxml.etree.iterparse`` yields each ``<record>`` as it ends, and the element is freed once
read, so memory stays flat whatever the size. Records come in a few shapes (sequences of
element tags); each shape's field positions are compiled once, so a record is read by one
call that fills Arrow columns. Reports over ``PARALLEL_BYTES`` are read on several processes.

The parser recovers from damage (unclosed tags, bad bytes, text before the declaration) and
every repair is reported. It never expands entities, never loads a DTD, never touches the
network, and refuses documents that declare a DOCTYPE.
"""

from __future__ import annotations

import collections
import io
import os
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import attrgetter
from os import PathLike
from typing import BinaryIO
from xml.sax.saxutils import quoteattr

import pyarrow as pa
import pyarrow.compute as pc
from lxml import etree

from .unpack import Limits, Payload, Refusal, ReportError, open_source, payloads
from .workers import process_pool

RFC9990_NAMESPACE = "urn:ietf:params:xml:ns:dmarc-2.0"
#: The per-record columns, in order. ``dkim`` and ``spf`` use the Explorer's link format:
#: comma-separated ``domain:result`` entries.
RECORD_COLUMNS = (
    "source_ip", "count", "disposition", "pe_dkim", "pe_spf", "reason", "reason_comment",
    "header_from", "envelope_from", "envelope_to", "dkim", "dkim_selectors", "spf",
)
_WATCHED = ("{*}record", "{*}report_metadata", "{*}policy_published", "{*}version")
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)


@dataclass(frozen=True)
class ReportMetadata:
    org_name: str = ""
    email: str = ""
    extra_contact_info: str = ""
    report_id: str = ""
    begin: datetime | None = None
    end: datetime | None = None
    errors: tuple[str, ...] = ()
    generator: str = ""


@dataclass(frozen=True)
class PolicyPublished:
    """The policy the receiver applied, as reported (defaults of RFC 7489 where absent)."""

    domain: str = ""
    adkim: str = "r"
    aspf: str = "r"
    p: str = ""
    sp: str = ""
    np: str = ""
    pct: int | None = None
    fo: str = ""
    testing: str = ""
    discovery_method: str = ""


@dataclass(frozen=True, eq=False)
class Report:
    """One aggregate report: who sent it, the policy, its records as columns, and what was repaired."""

    source: str
    schema: str
    version: str
    metadata: ReportMetadata
    policy: PolicyPublished
    records: pa.Table = field(repr=False)
    repairs: tuple[str, ...] = ()

    @property
    def record_count(self) -> int:
        return self.records.num_rows

    @property
    def message_count(self) -> int:
        return pc.sum(self.records["count"]).as_py() or 0


class ReportBatch(list):
    """The reports read from one upload, plus the parts of it that were refused."""

    def __init__(self, reports: Iterable[Report] = (), refusals: Iterable[Refusal] = ()):
        super().__init__(reports)
        self.refusals = tuple(refusals)

    @property
    def repaired(self) -> bool:
        return bool(self.refusals) or any(report.repairs for report in self)


def parse_reports(
    data: bytes | str | PathLike | BinaryIO,
    filename: str | None = None,
    limits: Limits | None = None,
    workers: int | None = None,
) -> ReportBatch:
    """Every aggregate report in one upload (an archive or e-mail may hold several).

    ``data`` is the file's bytes, a path, or a binary stream. Raises ``ReportError`` when
    nothing in it is a readable report; parts refused alongside readable ones are listed
    in ``.refusals`` of the result. A report larger than ``PARALLEL_BYTES`` is parsed on
    ``workers`` processes (default: every core, when this process runs a single thread).
    """
    # Left to itself, a process with several threads (a web server) reads a big report in one piece:
    # its workers could only come from a fork server, which re-imports the caller's main module.
    if workers is None:
        workers = (os.cpu_count() or 1) if threading.active_count() == 1 else 1
    limits = limits or Limits()
    name = filename or (str(data) if isinstance(data, (str, PathLike)) else "the upload")
    stream = open_source(data)
    reports, refusals = [], []
    try:
        for found in payloads(stream, name, limits):
            if isinstance(found, Refusal):
                refusals.append(found)
                continue
            try:
                reports.append(_parse_payload(found, workers))
            except ReportError as exc:
                refusals.append(Refusal(found.name, str(exc)))
    except ReportError as exc:
        refusals.append(Refusal(name, str(exc)))
    finally:
        if stream is not data:
            stream.close()
    if not reports:
        raise ReportError(" ".join(refusal.reason for refusal in refusals) or f"{name} holds no report.")
    return ReportBatch(reports, refusals)


def _parse_payload(payload: Payload, workers: int = 1) -> Report:
    stream, repairs = payload.stream, list(payload.repairs)
    head = stream.peek(1 << 16)[: 1 << 16]
    body_start = len(head) - len(head.lstrip(b" \t\r\n"))
    if body_start and head[body_start : body_start + 5] == b"<?xml":
        stream.read(body_start)  # whitespace before the declaration is the one thing libxml2 will not skip
        repairs.append("whitespace before the XML declaration was skipped")
    if _DOCTYPE.search(head[: head.find(b"<feedback") if b"<feedback" in head else len(head)]):
        raise ReportError(
            f"{payload.name} declares a DTD (<!DOCTYPE>); aggregate reports never do, so it is refused for safety."
        )
    chunks = None
    if workers > 1 and _UTF8_DECLARATION.match(head):
        start = stream.read(PARALLEL_BYTES)
        chunks = _record_chunks(start, stream) if len(start) == PARALLEL_BYTES else None
        stream = io.BytesIO(chunks.header if chunks else start)
        del start  # the chunks hold what they need
    reader = _RecordReader()
    events = etree.iterparse(stream, events=("end",), tag=_WATCHED, **_PARSER_OPTIONS)
    try:
        reader.read(events)
    except etree.XMLSyntaxError as exc:  # unrecoverable even in recover mode (e.g. no root at all)
        raise ReportError(f"{payload.name} is not readable XML: {exc}.") from None
    root = events.root
    errors = [entry for entry in events.error_log if entry.level >= etree.ErrorLevels.ERROR]
    if chunks:
        # The header was cut short on purpose before the first record; the records come from the workers.
        errors = [entry for entry in errors if not entry.message.startswith("Premature end of data")]
        records, chunk_repairs = _read_chunks(chunks, root, workers)
        reader.seen.add("record")
        repairs.extend(chunk_repairs)
    if not reader.seen:
        root_name = etree.QName(root).localname if root is not None else "none"
        raise ReportError(
            f"{payload.name} is XML but not a DMARC aggregate report: it has no <feedback>, <report_metadata> "
            f"or <record> (its root element is <{root_name}>)."
        )
    repairs.extend(_describe(entry) for entry in errors)
    if "report_metadata" not in reader.seen:
        repairs.append("the report has no <report_metadata>: the reporter and the date range are unknown")
    if "policy_published" not in reader.seen:
        repairs.append("the report has no <policy_published>: relaxed alignment (adkim=r, aspf=r) is assumed")
    namespace = etree.QName(root).namespace if root is not None else None
    schema = "RFC 9990" if namespace == RFC9990_NAMESPACE or reader.version.startswith("2") or reader.rfc9990 else "RFC 7489"
    if not chunks:
        records = reader.records
    repairs.extend(reader.repairs)
    return Report(payload.name, schema, reader.version, reader.metadata, reader.policy, records, tuple(dict.fromkeys(repairs)))


# --- Big reports on every core ---------------------------------------------------------------
# A report of more than PARALLEL_BYTES is cut after every CHUNK_BYTES at a </record> boundary.
# Each chunk, wrapped in an element that carries the document's namespace declarations, is a
# small document of whole records that a worker process parses; the main process reads the
# header itself and keeps the chunks in order. Only UTF-8 documents are cut (any byte offset
# after '>' is a character boundary there); others are read in one piece.

PARALLEL_BYTES = 8 << 20
CHUNK_BYTES = 4 << 20
_PARSER_OPTIONS = dict(recover=True, resolve_entities=False, no_network=True, load_dtd=False,
                       huge_tree=False, remove_comments=True, remove_pis=True)
_UTF8_DECLARATION = re.compile(rb"(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*encoding=[\"'](?:utf-8|us-ascii|ascii)[\"']|<\?xml(?![^>]*encoding)|<(?![?!]))", re.IGNORECASE)
_RECORD_START = re.compile(rb"<((?:[\w.-]+:)?record)[\s>]")


@dataclass
class _Chunks:
    header: bytes
    pieces: Iterator[bytes]
    tail: list[bytes]


def _record_chunks(start: bytes, stream: BinaryIO) -> _Chunks | None:
    first = _RECORD_START.search(start)
    if first is None:
        return None
    tail: list[bytes] = []
    pieces = _pieces(start, first.start(), stream, b"</" + first.group(1) + b">", tail)
    return _Chunks(start[: first.start()], pieces, tail)


def _pieces(data: bytes, offset: int, stream: BinaryIO, end_tag: bytes, tail: list[bytes]) -> Iterator[bytes]:
    """Whole records from ``data[offset:]`` and then ``stream``, cut at the last end tag within
    every CHUNK_BYTES (or after a record longer than that); what follows the last record goes
    to ``tail``."""
    while True:
        window = offset + CHUNK_BYTES
        cut = data.rfind(end_tag, offset, window) if len(data) >= window else -1
        if cut < 0 and len(data) >= window:
            cut = data.find(end_tag, window)  # a record longer than a chunk is taken whole
        if cut < 0:
            block = stream.read(CHUNK_BYTES)
            if block:
                data, offset = data[offset:] + block, 0
                continue
            cut = data.rfind(end_tag, offset)
            if cut >= 0:
                yield data[offset : cut + len(end_tag)]
                offset = cut + len(end_tag)
            tail.append(data[offset:])
            return
        yield data[offset : cut + len(end_tag)]
        offset = cut + len(end_tag)


def _read_chunks(chunks: _Chunks, root, workers: int) -> tuple[pa.Table, list[str]]:
    declarations = "".join(f' xmlns{":" + prefix if prefix else ""}={quoteattr(uri)}' for prefix, uri in (root.nsmap if root is not None else {}).items())
    opening, closing = f"<chunk{declarations}>".encode(), b"</chunk>"
    pool = process_pool(workers)
    pending: collections.deque = collections.deque()
    tables, repairs = [], []

    def collect() -> None:
        table, problems = pending.popleft().result()
        first_record = sum(t.num_rows for t in tables) + 1
        tables.append(table)
        repairs.extend(f"records {first_record}-{first_record + table.num_rows - 1}: {problem}" for problem in problems)

    for piece in chunks.pieces:
        pending.append(pool.submit(_read_chunk, opening + piece + closing))
        if len(pending) > workers:  # one chunk waiting per worker: busy workers, flat memory
            collect()
    while pending:
        collect()
    root_name = etree.QName(root).localname if root is not None else "feedback"
    if not re.search(rb"</(?:[\w.-]+:)?" + root_name.encode() + rb"\s*>", b"".join(chunks.tail)):
        repairs.append(f"the file ends before <{root_name}> is closed; what came before was read")
    return pa.concat_tables(tables) if tables else _RecordReader().records, repairs


def _read_chunk(document: bytes) -> tuple[pa.Table, list[str]]:
    """In a worker: the records of one chunk, and what was repaired in it."""
    reader = _RecordReader()
    events = etree.iterparse(io.BytesIO(document), events=("end",), tag="{*}record", **_PARSER_OPTIONS)
    reader.read(events)
    problems = [_describe(entry, with_line=False) for entry in events.error_log if entry.level >= etree.ErrorLevels.ERROR]
    return reader.records, problems + reader.repairs


_PLAIN_ERRORS = (
    (re.compile(r"Premature end of data in tag (\S+)"), "the file ends before <{0}> is closed; what came before was read"),
    (re.compile(r"Invalid bytes in character encoding"), "bytes invalid in the declared encoding were replaced with �"),
    (re.compile(r"Opening and ending tag mismatch: (\S+) line \d+ and (\S+)"), "<{0}> was closed by </{1}>; the damaged part was skipped"),
    (re.compile(r"XML declaration allowed only at the start"), "text before the XML declaration was ignored"),
    (re.compile(r"Couldn't find end of Start Tag|error parsing attribute name"), "text that looks like a tag (an <address>?) inside a value was dropped"),
)


def _describe(entry, with_line: bool = True) -> str:
    message = entry.message.strip()
    where = f"line {entry.line}: " if with_line else ""
    for pattern, text in _PLAIN_ERRORS:
        match = pattern.search(message)
        if match:
            return where + text.format(*match.groups())
    return f"{where}{message} (recovered)"


def _text(element) -> str:
    return (element.text or "").strip()


#: RFC 7489's predecessor was published on 2012-01-30; earlier report dates are placeholders.
_DMARC_EPOCH = datetime(2012, 1, 30, tzinfo=UTC)


def _epoch(value: str, repairs: list[str], what: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromtimestamp(int(value), UTC)
    except (ValueError, OverflowError, OSError):
        repairs.append(f"the {what} date '{value}' is not a Unix time and was ignored")
        return None
    if moment < _DMARC_EPOCH:
        repairs.append(f"the {what} date {moment:%Y-%m-%d} predates DMARC, so it is a placeholder and was ignored")
        return None
    return moment


class _RecordReader:
    """Collects the report-level fields and fills the record columns."""

    def __init__(self) -> None:
        self._plans: dict[tuple, object] = {}
        self._pending: list[list] = [[] for _ in RECORD_COLUMNS]
        self._appends = [values.append for values in self._pending]
        self._batches: dict[str, list] = {name: [] for name in RECORD_COLUMNS}
        self.metadata = ReportMetadata()
        self.policy = PolicyPublished()
        self.version = ""
        self.rfc9990 = False
        self.seen: set[str] = set()
        self.repairs: list[str] = []
        self._local: dict[str, str] = {}

    def _name(self, tag) -> str:
        name = self._local.get(tag)
        if name is None:
            name = self._local[tag] = tag.rpartition("}")[2] if isinstance(tag, str) else ""
        return name

    def read(self, events) -> None:
        """Consume iterparse's end events. Records take the hot path; everything here runs
        100,000 times for a big report, so it stays in local variables."""
        record_tags: set = set()
        plans, appends, pending = self._plans, self._appends, self._pending[0]
        tag_of, text_of = attrgetter("tag"), attrgetter("text")
        for _, element in events:
            tag = element.tag
            if tag not in record_tags:
                name = self._name(tag)
                self.seen.add(name)
                if name == "record":
                    record_tags.add(tag)
                else:
                    self._section(name, element)
            if tag in record_tags:
                elements = list(element.iter())
                shape = tuple(map(tag_of, elements))
                plan = plans.get(shape)
                if plan is None:
                    plan = plans[shape] = _compile_plan(shape, self.repairs)
                plan(list(map(text_of, elements)), appends)
                if len(pending) >= _BATCH:
                    self._flush()
            # Free what has been read: the element and the siblings before it.
            element.clear(keep_tail=True)
            if element.getprevious() is not None:
                parent = element.getparent()
                while element.getprevious() is not None:
                    del parent[0]

    def _section(self, name: str, element) -> None:
        if name == "report_metadata":
            self._metadata(element)
        elif name == "policy_published":
            self._policy(element)
        elif name == "version":
            self.version = _text(element)

    def _metadata(self, element) -> None:
        found = {self._name(child.tag): _text(child) for child in element.iter()}
        if "data_range" in found and "date_range" not in found:
            self.repairs.append("<data_range> was read as <date_range>")
        errors = tuple(_text(child) for child in element.iter() if self._name(child.tag) == "error")
        self.rfc9990 |= "generator" in found
        self.metadata = ReportMetadata(
            org_name=found.get("org_name", ""),
            email=found.get("email", ""),
            extra_contact_info=found.get("extra_contact_info", ""),
            report_id=found.get("report_id", ""),
            begin=_epoch(found.get("begin", ""), self.repairs, "begin"),
            end=_epoch(found.get("end", ""), self.repairs, "end"),
            errors=errors,
            generator=found.get("generator", ""),
        )

    def _policy(self, element) -> None:
        found = {self._name(child.tag): _text(child).lower() for child in element.iter()}
        self.rfc9990 |= bool({"np", "testing", "discovery_method"} & found.keys())
        pct = found.get("pct", "")
        if pct and not pct.isdigit():
            self.repairs.append(f"pct '{pct}' in policy_published is not a number and was ignored")
        self.policy = PolicyPublished(
            domain=found.get("domain", ""),
            adkim=found.get("adkim") if found.get("adkim") in ("r", "s") else "r",
            aspf=found.get("aspf") if found.get("aspf") in ("r", "s") else "r",
            p=found.get("p", ""),
            sp="" if found.get("sp") == "nil" else found.get("sp", ""),  # Mail.Ru writes <sp>nil</sp>
            np=found.get("np", ""),
            pct=int(pct) if pct.isdigit() else None,
            fo=found.get("fo", ""),
            testing=found.get("testing", ""),
            discovery_method=found.get("discovery_method", ""),
        )

    def _flush(self) -> None:
        """Turn the pending Python lists into Arrow columns, trimmed and lower-cased in C.

        Columns with few distinct values (results, domains) are dictionary-encoded first, so the
        text work is done once per distinct value instead of once per record."""
        if not self._pending[0]:
            return
        for name, values, batches in zip(RECORD_COLUMNS, self._pending, self._batches.values(), strict=True):
            column = pa.array(values, pa.string())
            values.clear()
            if name in _FREE_TEXT:
                batches.append(pc.utf8_trim_whitespace(column))
                continue
            encoded = column.dictionary_encode()
            words = _list_column(encoded.dictionary) if name in _LIST_COLUMNS else pc.utf8_trim_whitespace(encoded.dictionary)
            if name not in _KEEP_CASE:
                words = pc.utf8_lower(words)
            if len(pc.unique(words)) < len(words):  # "Pass" and "pass" became one word
                batches.append(pc.take(words, encoded.indices).dictionary_encode())
            else:
                batches.append(pa.DictionaryArray.from_arrays(encoded.indices, words))

    @property
    def records(self) -> pa.Table:
        self._flush()
        columns = {
            name: pa.chunked_array(batches, type=None if batches else _COLUMN_TYPES[name])
            for name, batches in self._batches.items()
        }
        counts = columns["count"]
        numeric = pc.match_substring_regex(counts, r"^[0-9]{1,15}$")
        bad = len(counts) - (pc.sum(numeric).as_py() or 0)
        if bad:
            self.repairs.append(f"{bad} record count(s) were not numbers and were counted as 0")
        columns["count"] = pc.cast(pc.if_else(numeric, counts, "0"), pa.int64())
        return pa.table(columns)


_BATCH = 1 << 13
#: Columns with many distinct values or free text: trimmed row by row, case kept.
_FREE_TEXT = frozenset({"source_ip", "count", "reason_comment"})
#: Columns whose case carries meaning to a reader.
_KEEP_CASE = frozenset({"dkim_selectors"})
_COLUMN_TYPES = {name: pa.string() if name in _FREE_TEXT else pa.dictionary(pa.int32(), pa.string()) for name in RECORD_COLUMNS}
#: Section elements of a record, and the leaves read by name inside them.
_SECTIONS = frozenset({"row", "policy_evaluated", "identifiers", "identities", "auth_results"})
_LEAVES = {"source_ip", "count", "disposition", "header_from", "envelope_from", "envelope_to"}
# Inside a DKIM or SPF list, fields and entries are first joined with control characters XML 1.0
# text cannot contain; whole columns are then trimmed, stripped of characters a domain or result
# cannot hold (a hostile "a.example,b.example:pass" must not become two entries), and only then
# given the link format's ':' and ','.
_FIELD, _ENTRY = "\x02", "\x01"
_LIST_COLUMNS = frozenset({"dkim", "dkim_selectors", "spf"})


def _list_column(column: pa.Array) -> pa.Array:
    column = pc.replace_substring_regex(column, r"\s*([\x01\x02])\s*", r"\1")
    column = pc.replace_substring_regex(pc.utf8_trim_whitespace(column), r"[,:\s]", "?")
    return pc.replace_substring(pc.replace_substring(column, _FIELD, ":"), _ENTRY, ",")


def _compile_plan(shape: tuple, repairs: list[str]):
    """A function that appends one record of this shape to the columns.

    The function is generated from element positions (integers only, no report text), so a
    record costs one call that indexes a list, instead of a Python step per element.
    """
    names = [tag.rpartition("}")[2] if isinstance(tag, str) else "" for tag in shape]
    where: dict[str, int] = {}
    reasons, comments, groups = [], [], {"dkim": [], "spf": []}
    section, group = "", None
    for index, name in enumerate(names):
        if name in _SECTIONS:
            section = name
            if name == "identities":
                repairs.append("<identities> was read as <identifiers>")
        elif section == "auth_results":
            if name in groups:
                group = {}
                groups[name].append(group)
            elif group is not None and name in ("domain", "result", "selector"):
                group.setdefault(name, index)
        elif section == "policy_evaluated" and name in ("dkim", "spf"):
            where.setdefault(f"pe_{name}", index)
        elif name == "type":
            reasons.append(index)
        elif name == "comment":
            comments.append(index)
        elif name in _LEAVES:
            where.setdefault(name, index)

    def text(index: int | None) -> str:
        return "''" if index is None else f"(t[{index}] or '')"

    def joined(indices: list[int], separator: str) -> str:
        return f"{separator!r}.join(filter(None, ({''.join(f'{text(i)}, ' for i in indices)})))" if indices else "''"

    def entries(kind: str, fields: tuple[str, ...]) -> str:
        """An f-string of each group's fields, e.g. f"{t[14] or ''}\x02{t[16] or ''}\x01{t[19] or ''}..."."""
        def part(group: dict, field: str) -> str:
            return "" if group.get(field) is None else "{t[%d] or ''}" % group[field]
        text = _ENTRY.join(_FIELD.join(part(group, field) for field in fields) for group in groups[kind])
        return "f" + repr(text) if groups[kind] else "''"

    values = {
        "source_ip": text(where.get("source_ip")),
        "count": text(where.get("count")),
        "disposition": text(where.get("disposition")),
        "pe_dkim": text(where.get("pe_dkim")),
        "pe_spf": text(where.get("pe_spf")),
        "reason": joined(reasons, ","),
        "reason_comment": joined(comments, "; "),
        "header_from": text(where.get("header_from")),
        "envelope_from": text(where.get("envelope_from")),
        "envelope_to": text(where.get("envelope_to")),
        "dkim": entries("dkim", ("domain", "result")),
        "dkim_selectors": entries("dkim", ("selector",)),
        "spf": entries("spf", ("domain", "result")),
    }
    body = ", ".join(f"a[{number}]({values[name]})" for number, name in enumerate(RECORD_COLUMNS))
    return eval(f"lambda t, a: ({body})", {})  # noqa: S307 - code made of integers only
