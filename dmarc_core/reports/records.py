"""The record reader: report-level sections into dataclasses, and every ``<record>`` into Arrow
columns. Records come in a few shapes (sequences of element tags); each shape's field positions
are compiled once, so a record is read by one call. Damage that libxml2's recover mode got past
is described for a person."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from operator import attrgetter
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from lxml import etree

from .model import AUTH_FIELDS, RECORD_COLUMNS, PolicyPublished, ReportMetadata

#: Never entities, a DTD or the network; comments and processing instructions are dropped.
PARSER_OPTIONS = {
    "recover": True,
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}


#: libxml2's message where the data ends inside an element, naming the innermost one open.
_CUT_SHORT = re.compile(r"Premature end of data in tag (\S+)")

_PLAIN_ERRORS = (
    (_CUT_SHORT, "the file ends before <{0}> is closed; what came before was read"),
    (re.compile(r"Invalid bytes in character encoding"), "bytes invalid in the declared encoding were replaced with �"),
    (
        re.compile(r"Opening and ending tag mismatch: (\S+) line \d+ and (\S+)"),
        "<{0}> was closed by </{1}>; the reading went on past the damage, and what it could not make out was left",
    ),
    (re.compile(r"XML declaration allowed only at the start"), "text before the XML declaration was ignored"),
    (
        re.compile(r"Resource limit exceeded: Text node too long"),
        "a stretch of text over 10 MB (blank or junk) stopped the reading there: what came after it was not read",
    ),
    (
        re.compile(r"xmlParseCharRef: invalid xmlChar value 0\b"),
        "a character reference to code point 0 (&#0; or &#;) was dropped",
    ),
    (
        re.compile(r"xmlParseCharRef: invalid xmlChar value (\d+)"),
        "a character reference to code point {0}, which is no character, was shown as �",
    ),
    # libxml2 says a NUL twice, once of each kind: the same words make it one repair.
    (re.compile(r"Char 0x0 out of allowed range|PCDATA invalid Char value 0\b"), "a NUL byte in a value was dropped"),
    (re.compile(r"PCDATA invalid Char value (\d+)"), "a character XML forbids in text (code point {0}) was dropped"),
    # A bare "&" in text, as in AT&T, or an entity of HTML's: libxml2 drops what it cannot make out.
    (
        re.compile(r"EntityRef: expecting ';'"),
        "a bare & in a value (as in AT&T) was read as the start of an entity: the word after it was dropped",
    ),
    (re.compile(r"xmlParseEntityRef: no name"), "a bare & in a value was dropped"),
    (
        re.compile(r"Entity '([^']*)' not defined"),
        "&{0}; is no entity XML knows (an HTML one?): it and the rest of its value were dropped",
    ),
    (
        re.compile(r"Sequence '\]\]>' not allowed in content"),
        "a value held ']]>', which XML forbids in text: the part of that value before it was dropped",
    ),
    (
        re.compile(r"Couldn't find end of Start Tag|error parsing attribute name"),
        "text that looks like a tag (an <address>?) inside a value was dropped",
    ),
)


def describe(entry) -> str:
    """What libxml2 recovered from, at its line: in plain words where they are known."""
    message = entry.message.strip()
    where = f"line {entry.line}: "
    for pattern, text in _PLAIN_ERRORS:
        match = pattern.search(message)
        if match:
            return where + text.format(*match.groups())
    return f"{where}{message} (recovered)"


def local_name(tag) -> str:
    """An element's name without its namespace (``{urn:...}record``) or an undeclared prefix that
    recover mode kept as written (``x:feedback``); comments and the like have none."""
    return tag.rpartition("}")[2].rpartition(":")[2] if isinstance(tag, str) else ""


def tag_name(element) -> str:
    """An element's tag; U+FFFD where recover mode kept a name whose bytes are no UTF-8, which lxml
    cannot decode (such an element matches nothing the reader looks for)."""
    try:
        return element.tag
    except UnicodeDecodeError:
        return "\ufffd"


def qualified_name(element) -> str:
    """An element's name as written in the document (``x:feedback``), namespace prefix included."""
    local = tag_name(element).rpartition("}")[2]
    try:
        prefix = element.prefix
    except UnicodeDecodeError:  # as for tag_name
        prefix = None
    return f"{prefix}:{local}" if prefix else local


def _text(element) -> str:
    return cleaned_text(_safe_text(element) or "")


def cleaned_text(text: str) -> str:
    """An element's text as the report's sections keep it: trimmed, unsafe characters replaced."""
    text = text.strip()
    # Printable text holds none of the unsafe characters: the look-up is skipped for nearly every value.
    return text if text.isprintable() else _UNSAFE_CHARACTERS.sub("\ufffd", text)


def _safe_text(element) -> str | None:
    """An element's text, also where recover mode kept a character reference to a code point that
    is no character (``&#xD800;``, a UTF-16 surrogate), which lxml cannot decode: shown as U+FFFD."""
    try:
        return element.text
    except UnicodeDecodeError:
        return etree.tostring(element, method="text", encoding="utf-8", with_tail=False).decode("utf-8", "replace")


#: RFC 7489's predecessor was published on 2012-01-30; earlier report dates are placeholders.
_DMARC_EPOCH = datetime(2012, 1, 30, tzinfo=UTC)


def _epoch(value: str, repairs: list[str], what: str) -> datetime | None:
    if not value:
        return None
    try:
        if not value.isascii():  # int() also reads full-width and other digits, which no report writes
            raise ValueError
        seconds = int(value)
        moment = datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError, OSError):
        repairs.append(f"the {what} date '{value}' is not a Unix time and was ignored")
        return None
    if moment < _DMARC_EPOCH:
        repairs.append(f"the {what} date {moment:%Y-%m-%d} predates DMARC, so it is a placeholder and was ignored")
        return None
    if seconds > time.time() + 86400:  # a report covers the past; later than a day ahead is a wrong clock or a lie
        repairs.append(f"the {what} date {moment:%Y-%m-%d} is in the future, so it was ignored and counts as no evidence")
        return None
    return moment


#: A report covers a day or so (RFC 7489 ri= defaults to 86400 s); a range longer than this is no
#: report's, and counting it would make one report weeks of evidence.
_LONGEST_RANGE = timedelta(days=31)


def _date_range(begin_text: str, end_text: str, repairs: list[str]) -> dict:
    begin, end = _epoch(begin_text, repairs, "begin"), _epoch(end_text, repairs, "end")
    if begin and end and not timedelta(0) <= end - begin <= _LONGEST_RANGE:
        what = "ends before it begins" if end < begin else f"spans {(end - begin).days} days"
        repairs.append(f"the date range {begin:%Y-%m-%d} to {end:%Y-%m-%d} {what}, so it was ignored and counts as no evidence")
        begin = end = None
    return {"begin": begin, "end": end}


class Columns:
    """Record columns being filled: Python lists, made into Arrow batches every few thousand
    records. One ``Columns`` may serve many small reports in turn (a month of them), so that the
    Arrow work is done once for them all rather than once per report; each takes its rows as a
    slice of ``table()``."""

    def __init__(self) -> None:
        # One list per value column, then per auth column one list per field and one of entry counts.
        self.pending: list[list] = [[] for _ in _PENDING]
        self.appends = [values.append for values in self.pending]
        self._batches: dict[str, list] = {name: [] for name in (*RECORD_COLUMNS, *AUTH_FIELDS)}
        self._flushed = 0

    @property
    def rows(self) -> int:
        return self._flushed + len(self.pending[0])

    def extend(self, pending: list[list]) -> None:
        """Append records read elsewhere (``plain.read_plain``), given as lists in ``_PENDING`` order."""
        for values, more in zip(self.pending, pending, strict=True):
            values.extend(more)

    def flush(self) -> None:
        """Turn the pending Python lists into Arrow columns, trimmed and lower-cased in C.

        Text is cleaned once per distinct value (results and domains repeat), not once per record."""
        if not self.pending[0]:
            return
        self._flushed += len(self.pending[0])
        pending = dict(zip(_PENDING, self.pending, strict=True))
        for name in RECORD_COLUMNS:
            column = pa.array(pending[name], pa.string())
            if name in _FREE_TEXT:
                self._batches[name].append(pc.replace_substring_regex(pc.utf8_trim_whitespace(column), _CONTROLS, "\ufffd"))
                continue
            indices, words = _clean(column, keep_case=False)
            if len(pc.unique(words)) < len(words):  # "Pass" and "pass" became one word
                self._batches[name].append(pc.take(words, indices).dictionary_encode())
            else:
                self._batches[name].append(pa.DictionaryArray.from_arrays(indices, words))
        for name, fields in AUTH_FIELDS.items():
            children = [_cleaned(pending[f"{name}.{field}"], field in _KEEP_CASE) for field in fields]
            offsets = pa.array(accumulate(pending[f"{name}.count"], initial=0), pa.int32())
            self._batches[name].append(pa.ListArray.from_arrays(offsets, pa.StructArray.from_arrays(children, fields)))
        for values in self.pending:
            values.clear()

    def table(self) -> tuple[pa.Table, list[int] | None]:
        """Every row so far, with counts as numbers, and before each row how many counts were no
        numbers (None: none was, as nearly always); a report of many in a batch finds its own by
        two look-ups."""
        self.flush()
        columns = {name: pa.chunked_array(batches, type=RECORD_TYPES[name]) for name, batches in self._batches.items()}
        counts = columns["count"]
        # A count is a number of messages; over 11 digits (a hundred billion messages in one record) it is
        # no count, and sums of such would overflow the 64-bit totals.
        numeric = pc.match_substring_regex(counts, r"^[0-9]{1,11}$")
        columns["count"] = pc.cast(pc.if_else(numeric, counts, "0"), pa.int64())
        if pc.all(numeric).as_py() is not False:
            return pa.table(columns), None
        return pa.table(columns), list(accumulate((not number for number in numeric.to_pylist()), initial=0))


class _Pruning:
    """The stream the parser reads: before every read the reader prunes its tree and checks that
    the document still looks like a report (``_Stop`` otherwise)."""

    def __init__(self, stream, reader: RecordReader) -> None:
        self._stream, self._reader, self._last = stream, reader, b""

    def read(self, size: int = -1) -> bytes:
        self._reader.prune()
        data = self._stream.read(size)
        if self._reader.root is None and DOCTYPE.search(self._last + data):
            raise DtdFound  # the prolog declares a DTD: reports never do (the first bytes were checked before)
        self._last = data[-len(b"<!DOCTYPE") :]
        self._reader.bytes_read += len(data)
        return data


class DtdFound(Exception):
    """A document type declaration before the root: no report has one, and it is refused for safety."""


DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)


class _Stop(Exception):
    """The document stopped looking like a report: reading ends here, what came before is kept."""


#: Bytes one watched element (a record, the metadata) may span: real ones are a few KB; millions
#: of elements inside one would all stay in memory until it ends.
MAX_ELEMENT_BYTES = 1 << 20
#: Bytes without any watched element starting or ending: real reports have one every few KB.
_MAX_SILENT_BYTES = 4 << 20


#: The elements whose end events the reader handles.
WATCHED = ("{*}record", "{*}report_metadata", "{*}policy_published", "{*}version")
_WATCHED_NAMES = frozenset(tag[3:] for tag in WATCHED)
_FIRST_ELEMENT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)")


def first_element_name(head: bytes) -> str:
    """The name of the first element in a document's first bytes, most likely its root."""
    found = _FIRST_ELEMENT.search(head)
    return found.group(1).decode("ascii", "replace") if found else ""


#: A report's sections before any is read: frozen, so one of each serves every report.
_NO_METADATA, _NO_POLICY = ReportMetadata(), PolicyPublished()


class RecordReader:
    """Collects the report-level fields and fills the record columns."""

    def __init__(self, max_records: int | None = None, columns: Columns | None = None) -> None:
        #: Records to read at most; the reading stops soon after and ``records`` keeps exactly these.
        self.max_records = max_records
        #: Where the records go: this report's own, or a batch shared with other reports.
        self.columns = columns or Columns()
        self.start = self.stop = self.columns.rows
        self._plans: dict[tuple, object] = {}
        self.metadata, self.policy = _NO_METADATA, _NO_POLICY  # until the report's own are read
        self.version = ""
        self.rfc9990 = False
        self.seen: set[str] = set()
        self.repairs: list[str] = []
        #: The document's root element, once the first start event told where it is.
        self.root = None
        #: Bytes the parser has read; where the open watched element began; how deep they nest;
        #: where the last watched element began or ended.
        self.bytes_read = self._opened_at = self._open = self._last_event_at = 0
        #: Whether the reading stopped early because the document stopped looking like a report.
        self.stopped = False
        #: Record counts that were no numbers, once ``records`` or ``rows_of`` has made the table.
        self.bad_counts = 0
        #: The local name of the last watched element that started (a record, a section).
        self._last_started = ""

    @property
    def record_count(self) -> int:
        """Records read, within ``max_records``."""
        read = self.stop - self.start
        return read if self.max_records is None else min(read, self.max_records)

    @property
    def records(self) -> pa.Table:
        """The records as a table of their own (the reader's columns are its own)."""
        return self.rows_of(*self.columns.table())

    def rows_of(self, table: pa.Table, bad_before: list[int] | None) -> pa.Table:
        """This report's rows of its columns' ``table()``; counts that were no numbers are said."""
        start, count = self.start, self.record_count
        self.bad_counts = bad = 0 if bad_before is None else bad_before[start + count] - bad_before[start]
        if bad:
            self.repairs.append(f"{bad} record count(s) were not numbers of messages and were counted as 0")
        return table.slice(start, count)

    @staticmethod
    def _name(tag) -> str:
        """``local_name``, from the process's cache: a month of reports shares a few dozen tags."""
        name = _LOCAL_NAMES.get(tag)
        if name is None:
            name = local_name(tag)
            if len(_LOCAL_NAMES) < _MAX_SHAPES:
                _LOCAL_NAMES[tag] = name
        return name

    def events(self, stream, root_name: str = ""):
        """iterparse over ``stream``: end events of the ``WATCHED`` elements, and start events, whose
        first tells where the root is, so that ``prune`` can free what no event will need."""
        tags = (*WATCHED, f"{{*}}{root_name}") if root_name else WATCHED
        return etree.iterparse(_Pruning(stream, self), events=("start", "end"), tag=tags, **PARSER_OPTIONS)

    def _check(self) -> None:
        if self._open and self.bytes_read - self._opened_at > MAX_ELEMENT_BYTES:
            raise _Stop(f"an element over {MAX_ELEMENT_BYTES >> 20} MB long (no report has one) stopped the reading there")
        if self.bytes_read - self._last_event_at > _MAX_SILENT_BYTES:
            raise _Stop(f"{_MAX_SILENT_BYTES >> 20} MB without a record or a report section stopped the reading there")

    def prune(self) -> None:
        """Free the finished elements outside those the reader watches, which no event frees: a flood
        of elements no report has (a few KB of gzip can hold millions) would otherwise all stay in
        memory. Called between two reads of the parser, when every event so far has been handled;
        an open watched element is left whole, its end event still to come."""
        self._check()
        node = self.root
        while node is not None and self._name(tag_name(node)) not in _WATCHED_NAMES:
            count = len(node)
            if count > 1:
                del node[: count - 1]
            node = node[-1] if count else None

    def read(self, events) -> None:
        """Consume the events; the records go to ``columns`` from ``start`` to ``stop``."""
        try:
            self._read(events)
        except _Stop as stop:
            self.stopped = True
            self.repairs.append(f"{stop}: what came after it was not read")
        finally:
            self.stop = self.columns.rows

    def _read(self, events) -> None:
        """Records take the hot path; everything here runs 100,000 times for a big report, so it
        stays in local variables."""
        record_tags: set = set()
        columns = self.columns
        plans, appends, pending = self._plans, columns.appends, columns.pending[0]
        tag_of, text_of = attrgetter("tag"), attrgetter("text")
        for event, element in events:
            self._last_event_at = self.bytes_read
            if event == "start":
                self._started(element)
                continue
            tag = tag_name(element)
            if tag not in record_tags:
                name = self._name(tag)
                if name not in _WATCHED_NAMES:
                    continue  # the root's end, watched only for its start
                if name == "record":
                    self.seen.add(name)
                    record_tags.add(tag)
                else:  # a section, which ``section`` marks seen
                    self._open -= 1
                    self._section(name, element)
            if tag in record_tags:
                self._open -= 1
                elements = list(element.iter())
                try:
                    shape = tuple(map(tag_of, elements))
                except UnicodeDecodeError:
                    shape = tuple(map(tag_name, elements))
                plan = plans.get(shape)
                if plan is None:
                    plan = self._plan(shape)
                    if len(plans) < _MAX_PLANS:  # a report whose every record has a shape of its own is kept small
                        plans[shape] = plan
                try:
                    texts = list(map(text_of, elements))
                except UnicodeDecodeError:
                    texts = list(map(_safe_text, elements))
                    self.repairs.append(_SURROGATE_REPAIR)
                plan(texts, appends)
                if len(pending) >= _FLUSH_RECORDS:
                    columns.flush()
                    if self.max_records is not None and columns.rows - self.start >= self.max_records:
                        return
            # Free what has been read: the element and the siblings before it.
            element.clear(keep_tail=True)
            if element.getprevious() is not None:
                parent = element.getparent()
                while element.getprevious() is not None:
                    del parent[0]

    def _started(self, element) -> None:
        if self.root is None:
            self.root = element.getroottree().getroot()
        name = self._name(tag_name(element))
        if name in _WATCHED_NAMES:
            self._last_started = name
            if not self._open:
                self._opened_at = self.bytes_read
            self._open += 1

    def leave_out_record_cut_short(self, errors: list) -> None:
        """Where the data ended inside a record, leave that record out and say so: the parser's
        recovery closed it, so its fields after the cut read as absent, and a verdict on it (no DKIM,
        no SPF: "unsigned") would be made up. libxml2 names the innermost element open at the end."""
        open_at_end = {local_name(found.group(1)) for entry in errors if (found := _CUT_SHORT.search(entry.message))}
        if (
            self._last_started == "record"
            and open_at_end & _RECORD_PARTS
            and not self.stopped
            and self.stop > self.start
            and (self.max_records is None or self.stop - self.start <= self.max_records)
        ):
            self.stop -= 1
            self.repairs.append("the file ends inside a record, which was left out: its DKIM and SPF results are unknown")

    def _plan(self, shape: tuple):
        """The plan for a shape, from the process's cache when another report had it: a month of
        small reports shares a few dozen shapes. Its repairs are said for every report.

        A shape met fewer than ``_COMPILE_AFTER`` times is interpreted: compiling one costs as
        much as interpreting a hundred records, and most shapes in a month of small reports come
        a few times. After that it is compiled, and this report's later records use that."""
        known = _SHAPES.get(shape)
        if known is None:
            known = _Shape(shape)
            if len(_SHAPES) < _MAX_SHAPES:
                _SHAPES[shape] = known
        self.repairs.extend(known.notes)
        if known.compiled is not None:
            return known.compiled
        plans, steps = self._plans, known.steps

        def interpreted(t: list, a: list) -> None:
            _interpret(steps, t, a)
            known.uses += 1
            if known.uses >= _COMPILE_AFTER and plans.get(shape) is interpreted:
                plans[shape] = known.compile()

        return interpreted

    def _section(self, name: str, element) -> None:
        self.section(name, [(self._name(tag_name(child)), _text(child)) for child in element.iter()])

    def section(self, name: str, fields: list[tuple[str, str]]) -> None:
        """Take in a report-level section, ``fields`` being the (name, cleaned text) of it and of
        every element in it, in document order, as lxml or ``plain.read_plain_header`` found them."""
        self.seen.add(name)
        if name == "report_metadata":
            self._metadata(fields)
        elif name == "policy_published":
            self._policy(fields)
        elif name == "version":
            self.version = fields[0][1]

    def _metadata(self, fields: list[tuple[str, str]]) -> None:
        found, errors = {}, []
        for name, text in fields:
            found[name] = text  # the last of a name, as a dict made of them all keeps
            if name == "error":
                errors.append(text)
        if "data_range" in found and "date_range" not in found:
            self.repairs.append("<data_range> was read as <date_range>")
        self.rfc9990 |= "generator" in found
        self.metadata = ReportMetadata(
            org_name=found.get("org_name", ""),
            email=found.get("email", ""),
            extra_contact_info=found.get("extra_contact_info", ""),
            report_id=found.get("report_id", ""),
            **_date_range(found.get("begin", ""), found.get("end", ""), self.repairs),
            errors=tuple(errors),
            generator=found.get("generator", ""),
        )

    def _policy(self, fields: list[tuple[str, str]]) -> None:
        found = {name: text.lower() for name, text in fields}
        self.rfc9990 |= bool({"np", "testing", "discovery_method"} & found.keys())
        pct = found.get("pct", "")
        # RFC 7489 C: an integer 0-100; anything else (a superscript digit, 5,000 digits) is ignored.
        percent = int(pct) if _PERCENT.fullmatch(pct) and int(pct) <= 100 else None
        if pct and percent is None:
            self.repairs.append(f"pct '{pct[:20]}' in policy_published is not a percentage and was ignored")
        self.policy = PolicyPublished(
            domain=found.get("domain", ""),
            adkim=found.get("adkim") if found.get("adkim") in ("r", "s") else "r",
            aspf=found.get("aspf") if found.get("aspf") in ("r", "s") else "r",
            p=found.get("p", ""),
            sp="" if found.get("sp") == "nil" else found.get("sp", ""),  # Mail.Ru writes <sp>nil</sp>
            np=found.get("np", ""),
            pct=percent,
            fo=found.get("fo", ""),
            testing=found.get("testing", ""),
            discovery_method=found.get("discovery_method", ""),
        )


_PERCENT = re.compile(r"[0-9]{1,3}")
_SURROGATE_REPAIR = "a character reference to a code point that is no character (&#xD800; and the like) was shown as �"
_FLUSH_RECORDS = 1 << 13
#: Results of one kind (and reasons, and comments) read from one record: real ones carry a
#: handful; thousands are an attack.
_MAX_RESULTS = 64
#: Compiled record shapes kept per report: real reports have a few dozen.
_MAX_PLANS = 1024
#: Record shapes known to the process, for the next reports, and how many at most.
_SHAPES: dict[tuple, _Shape] = {}
_MAX_SHAPES = 4096
#: Records of a shape interpreted before it is compiled.
_COMPILE_AFTER = 64
#: Local names of the tags seen, kept by the process as many at most.
_LOCAL_NAMES: dict[str, str] = {}
#: Columns with many distinct values or free text: trimmed row by row, case kept.
_FREE_TEXT = frozenset({"source_ip", "count", "reason_comment"})
#: Fields whose case carries meaning to a reader.
_KEEP_CASE = frozenset({"selector"})
#: The Arrow type of each column of a report's records, as the reader builds them.
RECORD_TYPES = {
    **{name: pa.string() if name in _FREE_TEXT else pa.dictionary(pa.int32(), pa.string()) for name in RECORD_COLUMNS},
    **{name: pa.list_(pa.struct([(field, pa.string()) for field in fields])) for name, fields in AUTH_FIELDS.items()},
}
#: The reader's pending lists, in the order a compiled plan appends to them.
_PENDING = (
    *RECORD_COLUMNS,
    *(f"{name}.{part}" for name, fields in AUTH_FIELDS.items() for part in (*fields, "count")),
)
#: Section elements of a record, and the leaves read by name inside them.
_SECTIONS = frozenset({"row", "policy_evaluated", "identifiers", "identities", "auth_results"})
_LEAVES = {"source_ip", "count", "disposition", "header_from", "envelope_from", "envelope_to"}
#: The elements of a record (RFC 7489 appendix C, RFC 9990 appendix A); of them only <domain> is in
#: <policy_published> too, which a record's start after it tells apart.
_RECORD_PARTS = frozenset(
    {
        "record",
        *_SECTIONS,
        *_LEAVES,
        "dkim",
        "spf",
        "reason",
        "type",
        "comment",
        "domain",
        "selector",
        "result",
        "scope",
        "human_result",
    }
)
#: C0 controls other than white space: XML 1.0 forbids them, but libxml2's recover mode keeps a
#: character reference such as &#1;. Shown as U+FFFD, they can never pass for a separator. And C1
#: controls (terminal escapes), line separators, and the bidirectional controls (U+202E and the
#: like), which would turn the text around them backwards.
_UNSAFE = (
    (0x00, 0x08),
    (0x0B, 0x0C),
    (0x0E, 0x1F),
    (0x7F, 0x9F),
    (0x061C, 0x061C),
    (0x200E, 0x200F),
    (0x2028, 0x202E),
    (0x2066, 0x2069),
)
#: The same as a pattern for Arrow (RE2) and for Python's re.
_CONTROLS = "[" + "".join(f"\\x{{{low:x}}}-\\x{{{high:x}}}" for low, high in _UNSAFE) + "]"
_UNSAFE_CHARACTERS = re.compile("[" + "".join(f"\\U{low:08x}-\\U{high:08x}" for low, high in _UNSAFE) + "]")


def _clean(column: pa.Array, keep_case: bool) -> tuple[pa.Array, pa.Array]:
    """(indices, words): the column's distinct values trimmed, controls replaced, lower-cased
    unless ``keep_case``, and where each row's value is among them."""
    encoded = column.dictionary_encode()
    words = pc.replace_substring_regex(pc.utf8_trim_whitespace(encoded.dictionary), _CONTROLS, "\ufffd")
    return encoded.indices, words if keep_case else pc.utf8_lower(words)


def _cleaned(values: list[str], keep_case: bool) -> pa.Array:
    indices, words = _clean(pa.array(values, pa.string()), keep_case)
    return pc.take(words, indices)


def _first_of(fields: dict[str, int], name: str, index: int, repairs: list[str], holder: str) -> None:
    """Where ``name`` is among ``fields`` already, the first is read and the repair says so: no
    report writes a value twice, and the second would be lost without a word."""
    if name in fields:
        repairs.append(f"{holder} held <{name.removeprefix('reported_')}> twice: the first was read")
    else:
        fields[name] = index


def _plan_steps(shape: tuple, repairs: list[str]) -> tuple[tuple[str, int, Any], ...]:
    """What appending one record of this shape to the columns takes: a (kind, position, what) for
    each of the reader's pending lists, in the order of ``_PENDING``: "text", the text of the
    element at ``what`` (none for None); "joined", the texts of the elements at ``what[0]`` joined
    by ``what[1]``; "count", the number ``what``. Element positions and numbers only, no report text."""
    names = [local_name(tag) for tag in shape]
    where: dict[str, int] = {}
    reasons, comments, groups = [], [], {"dkim": [], "spf": []}
    section, group, kind = "", None, ""
    for index, name in enumerate(names):
        if name in _SECTIONS:
            section = name
            if name == "identities":
                repairs.append("<identities> was read as <identifiers>")
        elif section == "auth_results":
            if name in groups:
                group, kind = {}, name
                groups[name].append(group)
            elif group is not None and name in ("domain", "result", "selector", "scope"):
                _first_of(group, name, index, repairs, f"a <{kind}> result")
        elif section == "policy_evaluated" and name in ("dkim", "spf"):
            _first_of(where, f"reported_{name}", index, repairs, "a record's <policy_evaluated>")
        elif name == "type":
            reasons.append(index)
        elif name == "comment":
            comments.append(index)
        elif name in _LEAVES:
            _first_of(where, name, index, repairs, "a record")

    if "auth_results" not in names:  # every record has one, in RFC 7489's schema and RFC 9990's
        repairs.append("a record held no <auth_results>: it was read as one without DKIM or SPF results")
    for what, indices in (("reason", reasons), ("comment", comments)):
        if len(indices) > _MAX_RESULTS:
            repairs.append(f"a record with {len(indices)} <{what}>s: the first {_MAX_RESULTS} were read")
            del indices[_MAX_RESULTS:]

    def text(index: int | None) -> tuple[str, int | None]:
        return ("text", index)

    def joined(indices: list[int], separator: str) -> tuple[str, tuple[tuple[int, ...], str]]:
        return ("joined", (tuple(indices), separator))

    values = {
        "source_ip": text(where.get("source_ip")),
        "count": text(where.get("count")),
        "disposition": text(where.get("disposition")),
        "reported_dkim": text(where.get("reported_dkim")),
        "reported_spf": text(where.get("reported_spf")),
        "reason": joined(reasons, ","),
        "reason_comment": joined(comments, "; "),
        "header_from": text(where.get("header_from")),
        "envelope_from": text(where.get("envelope_from")),
        "envelope_to": text(where.get("envelope_to")),
    }
    steps = [(values[name][0], _PENDING.index(name), values[name][1]) for name in RECORD_COLUMNS]
    for name, fields in AUTH_FIELDS.items():
        if len(groups[name]) > _MAX_RESULTS:
            repairs.append(f"a record with {len(groups[name])} <{name}> results: the first {_MAX_RESULTS} were read")
            del groups[name][_MAX_RESULTS:]
        for group in groups[name]:
            steps += [("text", _PENDING.index(f"{name}.{field}"), group.get(field)) for field in fields]
        steps.append(("count", _PENDING.index(f"{name}.count"), len(groups[name])))
    return tuple(steps)


def _interpret(steps: tuple, t: list, a: list) -> None:
    """Append one record, its elements' texts ``t``, to the pending lists ``a`` by ``steps``."""
    for kind, position, what in steps:
        if kind == "text":
            a[position]("" if what is None else (t[what] or ""))
        elif kind == "count":
            a[position](what)
        else:
            # A value may not hold the separator: "local_policy,forwarded" in one <type> is no two reasons.
            indices, separator = what
            a[position](separator.join(filter(None, [(t[index] or "").replace(separator, "?") for index in indices])))


def _compiled(steps: tuple):
    """``_interpret`` for these steps as one generated function, so a record costs one call that
    indexes a list instead of a Python step per element. Generated from the steps' positions and
    numbers (integers only, no report text)."""

    def value(kind: str, what: Any) -> str:
        if kind == "text":
            return "''" if what is None else f"(t[{int(what)}] or '')"
        if kind == "count":
            return str(int(what))
        indices, separator = what
        parts = "".join(f"(t[{int(index)}] or '').replace({separator!r}, '?'), " for index in indices)
        return f"{separator!r}.join(filter(None, ({parts})))" if indices else "''"

    calls = ", ".join(f"a[{int(position)}]({value(kind, what)})" for kind, position, what in steps)
    return eval(f"lambda t, a: ({calls})", {})  # noqa: S307 - code made of integers only


class _Shape:
    """What the process knows of a record shape: its steps, the repairs it calls for, how many
    records of it were interpreted, and its compiled plan once made."""

    __slots__ = ("compiled", "notes", "steps", "uses")

    def __init__(self, shape: tuple) -> None:
        notes: list[str] = []
        self.steps = _plan_steps(shape, notes)
        self.notes = tuple(notes)
        self.uses = 0
        self.compiled = None

    def compile(self):
        if self.compiled is None:
            self.compiled = _compiled(self.steps)
        return self.compiled
