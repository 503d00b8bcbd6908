"""DMARC aggregate reports (RFC 7489 appendix C and RFC 9990), read by streaming.

``lxml.etree.iterparse`` yields each ``<record>`` as it ends; one pass over the record's
elements fills column lists and the element is freed, so memory stays flat whatever the size.
The parser recovers from damage (unclosed tags, bad bytes, text before the declaration) and
every repair is reported. It never expands entities, never loads a DTD, never touches the
network, and refuses documents that declare a DOCTYPE.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from os import PathLike
from typing import BinaryIO

from lxml import etree

from .unpack import Limits, Payload, Refusal, ReportError, open_source, payloads

RFC9990_NAMESPACE = "urn:ietf:params:xml:ns:dmarc-2.0"
#: The per-record columns, in order. ``dkim`` and ``spf`` use the Explorer's link format:
#: comma-separated ``domain:result`` entries.
RECORD_COLUMNS = (
    "source_ip", "count", "disposition", "pe_dkim", "pe_spf", "reason", "reason_comment",
    "header_from", "envelope_from", "envelope_to", "dkim", "dkim_selectors", "spf",
)
_WATCHED = ("{*}record", "{*}report_metadata", "{*}policy_published", "{*}version")
_UNSAFE_IN_ENTRY = re.compile(r"[,:\s]")
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
    records: dict[str, list] = field(repr=False)
    repairs: tuple[str, ...] = ()

    @property
    def record_count(self) -> int:
        return len(self.records["count"])

    @property
    def message_count(self) -> int:
        return sum(self.records["count"])


class ReportBatch(list):
    """The reports read from one upload, plus the parts of it that were refused."""

    def __init__(self, reports: Iterable[Report] = (), refusals: Iterable[Refusal] = ()):
        super().__init__(reports)
        self.refusals = tuple(refusals)

    @property
    def repaired(self) -> bool:
        return bool(self.refusals) or any(report.repairs for report in self)


def parse_reports(
    data: bytes | str | PathLike | BinaryIO, filename: str | None = None, limits: Limits | None = None
) -> ReportBatch:
    """Every aggregate report in one upload (an archive or e-mail may hold several).

    ``data`` is the file's bytes, a path, or a binary stream. Raises ``ReportError`` when
    nothing in it is a readable report; parts refused alongside readable ones are listed
    in ``.refusals`` of the result.
    """
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
                reports.append(_parse_payload(found))
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


def _parse_payload(payload: Payload) -> Report:
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
    reader = _RecordReader()
    events = etree.iterparse(
        stream, events=("end",), tag=_WATCHED, recover=True, resolve_entities=False,
        no_network=True, load_dtd=False, huge_tree=False, remove_comments=True, remove_pis=True,
    )
    try:
        for _, element in events:
            reader.take(element)
    except etree.XMLSyntaxError as exc:  # unrecoverable even in recover mode (e.g. no root at all)
        raise ReportError(f"{payload.name} is not readable XML: {exc}.") from None
    root = events.root
    if not reader.seen:
        root_name = etree.QName(root).localname if root is not None else "none"
        raise ReportError(
            f"{payload.name} is XML but not a DMARC aggregate report: it has no <feedback>, <report_metadata> "
            f"or <record> (its root element is <{root_name}>)."
        )
    repairs.extend(_describe(entry) for entry in events.error_log if entry.level >= etree.ErrorLevels.ERROR)
    repairs.extend(reader.repairs)
    if "report_metadata" not in reader.seen:
        repairs.append("the report has no <report_metadata>: the reporter and the date range are unknown")
    if "policy_published" not in reader.seen:
        repairs.append("the report has no <policy_published>: relaxed alignment (adkim=r, aspf=r) is assumed")
    namespace = etree.QName(root).namespace if root is not None else None
    schema = "RFC 9990" if namespace == RFC9990_NAMESPACE or reader.version.startswith("2") or reader.rfc9990 else "RFC 7489"
    return Report(payload.name, schema, reader.version, reader.metadata, reader.policy, reader.columns, tuple(dict.fromkeys(repairs)))


_PLAIN_ERRORS = (
    (re.compile(r"Premature end of data in tag (\S+)"), "the file ends before <{0}> is closed; what came before was read"),
    (re.compile(r"Invalid bytes in character encoding"), "bytes invalid in the declared encoding were replaced with �"),
    (re.compile(r"Opening and ending tag mismatch: (\S+) line \d+ and (\S+)"), "<{0}> was closed by </{1}>; the damaged part was skipped"),
    (re.compile(r"XML declaration allowed only at the start"), "text before the XML declaration was ignored"),
    (re.compile(r"Couldn't find end of Start Tag|error parsing attribute name"), "text that looks like a tag (an <address>?) inside a value was dropped"),
)


def _describe(entry) -> str:
    message = entry.message.strip()
    for pattern, text in _PLAIN_ERRORS:
        match = pattern.search(message)
        if match:
            return f"line {entry.line}: " + text.format(*match.groups())
    return f"line {entry.line}: {message} (recovered)"


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


def _entry(domain: str, result: str) -> str:
    # Domains and results cannot hold ',' ':' or spaces; hostile ones lose them so the list stays unambiguous.
    return f"{_UNSAFE_IN_ENTRY.sub('?', domain)}:{_UNSAFE_IN_ENTRY.sub('?', result)}"


class _RecordReader:
    """Collects report-level fields and fills the record columns, one element at a time."""

    def __init__(self) -> None:
        self.columns: dict[str, list] = {name: [] for name in RECORD_COLUMNS}
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

    def take(self, element) -> None:
        name = self._name(element.tag)
        self.seen.add(name)
        if name == "record":
            self._record(element)
        elif name == "report_metadata":
            self._metadata(element)
        elif name == "policy_published":
            self._policy(element)
        elif name == "version":
            self.version = _text(element)
        # Free what has been read: the element and the siblings before it.
        element.clear(keep_tail=True)
        parent = element.getparent()
        if parent is not None:
            while element.getprevious() is not None:
                del parent[0]

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

    def _record(self, record) -> None:
        intern = sys.intern
        name_of = self._local
        source_ip = count = disposition = pe_dkim = pe_spf = header_from = envelope_from = envelope_to = ""
        reasons, comments, dkim, selectors, spf = [], [], [], [], []
        section = ""
        group: list[str] | None = None
        for element in record.iter():
            tag = element.tag
            name = name_of.get(tag) or self._name(tag)
            text = element.text
            text = text.strip() if text else ""
            if name in ("row", "identifiers", "identities", "auth_results", "policy_evaluated"):
                section = name
                if name == "identities":
                    self.repairs.append("<identities> was read as <identifiers>")
                continue
            if section == "auth_results":
                if name == "dkim" or name == "spf":
                    group = ["", "", ""]
                    (dkim if name == "dkim" else spf).append(group)
                elif group is not None:
                    if name == "domain":
                        group[0] = text.lower()
                    elif name == "result":
                        group[1] = text.lower()
                    elif name == "selector":
                        group[2] = text
            elif name == "source_ip":
                source_ip = text
            elif name == "count":
                count = text
            elif name == "disposition":
                disposition = text.lower()
            elif name == "dkim":
                pe_dkim = text.lower()
            elif name == "spf":
                pe_spf = text.lower()
            elif name == "type":
                reasons.append(text.lower())
            elif name == "comment":
                comments.append(text)
            elif name == "header_from":
                header_from = text.lower()
            elif name == "envelope_from":
                envelope_from = text.lower()
            elif name == "envelope_to":
                envelope_to = text.lower()
        columns = self.columns
        if not count.isdigit():
            if count:
                self.repairs.append(f"a record's count '{count}' is not a number; counted as 0")
            count = "0"
        columns["source_ip"].append(intern(source_ip))
        columns["count"].append(int(count))
        columns["disposition"].append(intern(disposition))
        columns["pe_dkim"].append(intern(pe_dkim))
        columns["pe_spf"].append(intern(pe_spf))
        columns["reason"].append(intern(",".join(reasons)))
        columns["reason_comment"].append(intern("; ".join(filter(None, comments))))
        columns["header_from"].append(intern(header_from))
        columns["envelope_from"].append(intern(envelope_from))
        columns["envelope_to"].append(intern(envelope_to))
        columns["dkim"].append(intern(",".join(_entry(d, r) for d, r, _ in dkim)))
        columns["dkim_selectors"].append(intern(",".join(s for _, _, s in dkim)))
        columns["spf"].append(intern(",".join(_entry(d, r) for d, r, _ in spf)))
