"""Reading one message: pasted headers, an .eml, or a DMARC failure report (RFC 6591) become a
``Message``; anything else becomes a ``MessageError`` whose reason names the input.

The header block is split here, line by line, by the rule dkimpy applies (a field starts with a
printable name and a colon; a line starting with a space or tab continues it), so ``data`` holds the
fields exactly as written and parses the same in dkimpy. The grammar inside the fields is left to
the libraries: ``email`` for From: and MIME parameters, authres for Authentication-Results
(RFC 8601), dkimpy for the DKIM and ARC tag lists. MIME parts are cut out of the raw bytes for the
same reason: a report's copy of the original must reach dkimpy byte for byte.
"""

from __future__ import annotations

import binascii
import email.utils
import ipaddress
import quopri
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.message import Message as MimeHeaders
from email.parser import BytesHeaderParser
from functools import cached_property

import authres
import dkim
from dkim.util import InvalidTagValueList, parse_tag_value

from .model import (
    MAX_HEADER_FIELDS,
    MAX_MESSAGE_BYTES,
    MAX_SIGNED_HEADERS,
    ArcSet,
    DkimSignature,
    DkimVerdict,
    FeedbackReport,
    FromHeader,
    Message,
    MessageError,
    ReceiverResults,
)

#: Bounds on single parts, far above real mail, that keep hostile input fast: MIME nesting and parts
#: looked at, Authentication-Results fields parsed (authres is quadratic in a field's length), and
#: the longest From: and DKIM-Signature values handed to their parsers.
MAX_MIME_DEPTH = 8
MAX_MIME_PARTS = 200
MAX_RESULTS_FIELDS = 50
MAX_RESULTS_CHARS = 8_000
MAX_FROM_CHARS = 4_000
MAX_SIGNATURE_CHARS = 16_000

#: RFC 6376 3.5: the tags a DKIM-Signature cannot do without.
REQUIRED_DKIM_TAGS = ("v", "a", "b", "bh", "d", "h", "s")

#: Where a report or bounce carries the original message (RFC 6591 3, RFC 3462, RFC 6533).
ORIGINAL_TYPES = ("message/rfc822", "message/global")
ORIGINAL_HEADER_TYPES = ("text/rfc822-headers", "message/rfc822-headers", "message/global-headers")

#: Attachments an aggregate report travels in (RFC 7489 7.2.1.1).
AGGREGATE_TYPES = (
    "application/zip",
    "application/x-zip-compressed",
    "application/gzip",
    "application/x-gzip",
    "text/xml",
    "application/xml",
)

# The field-line rule of dkimpy's rfc822_parse: a printable name without spaces, then a colon.
_FIELD_START = re.compile(rb"[\x21-\x7e]+?:")
_LINE_END = re.compile(rb"\r?\n")
_FOLD = re.compile(rb"\r\n(?=[ \t])")
_BRACKETED = re.compile(r"\[(?:IPv6:)?([^\]\s]+)\]", re.IGNORECASE)
_FROM_CLAUSE = re.compile(r"from\s", re.IGNORECASE)
_HELO = re.compile(r"\bhelo=([^\s;()\]]+)", re.IGNORECASE)
_RECEIVED_SPF_TAG = re.compile(r"(?:^|[\s;])(client-ip|helo|envelope-from)\s*=\s*(\"[^\"]*\"|[^\s;]*)", re.IGNORECASE)
_AAR_INSTANCE = re.compile(r"\s*i\s*=\s*(\d+)\s*;(.*)", re.DOTALL | re.IGNORECASE)
# authres reads `smtp.mailfrom=""` (ecelerity writes it for a null sender) as a syntax error of the
# whole field; the property says nothing, so it is left out before parsing.
_EMPTY_PROPERTY = re.compile(r"\s[\w-]+\.[\w-]+\s*=\s*\"\"(?=[\s;]|$)")
_METHOD_FIRST = re.compile(r"\s*[\w-]+\s*=")
# Exim's DMARC forensic report: no ARF part, the original header block inline in the text.
_EXIM_HEADERS_MARKER = re.compile(rb"^-+ *This is a copy of the headers that were received[^\r\n]*\r\n", re.MULTILINE)
_EXIM_LABEL = re.compile(rb"^[ \t]*(Sender Domain|Sender IP Address):[ \t]*(\S+)", re.MULTILINE | re.IGNORECASE)
_AGGREGATE_SUBJECT = re.compile(r"\breport[ -]domain:", re.IGNORECASE)
_AGGREGATE_FILENAME = re.compile(r"^[^!]+![^!]+!\d+!\d+")
_GMAIL_SUMMARY_END = re.compile(rb"^[ \t]*download original\b[^\r\n]*\r\n", re.MULTILINE | re.IGNORECASE)

_RESULTS_FEATURES = authres.all_features()


@dataclass(frozen=True)
class _Field:
    """One header field as written: ``raw`` holds its lines joined by CRLF, without the last one."""

    name: str
    raw: bytes

    @cached_property
    def value(self) -> str:
        """The unfolded value as text (RFC 6532 UTF-8; bytes that are not become U+FFFD)."""
        return _FOLD.sub(b"", self.raw.partition(b":")[2]).decode("utf-8", "replace").strip()

    @property
    def raw_value(self) -> bytes:
        return self.raw.partition(b":")[2]


@dataclass(frozen=True)
class _Entity:
    """A header block and what follows its blank line (``None`` when no blank line came);
    ``cut`` when the text stopped inside the last field, without a line break."""

    fields: tuple[_Field, ...]
    body: bytes | None
    notes: tuple[str, ...] = ()
    cut: bool = False

    def all(self, name: str) -> list[_Field]:
        return [field for field in self.fields if field.name == name]

    def first(self, name: str) -> str:
        return next((field.value for field in self.fields if field.name == name), "")

    def mime(self) -> MimeHeaders:
        """The fields as ``email`` reads them, for the Content-Type grammar (RFC 2045, RFC 2231)."""
        block = b"".join(field.raw + b"\r\n" for field in self.fields if field.name.startswith("content-"))
        return BytesHeaderParser(policy=policy.compat32).parsebytes(block + b"\r\n")


def read_message(data: bytes | str, name: str = "") -> Message:
    """Read pasted headers, an .eml, or a DMARC failure report into a ``Message``.

    A failure report (RFC 6591 / ARF) is read as the original message it carries, with the
    report's fields in ``feedback_report``. Raises ``MessageError`` (never anything else) when the
    input cannot be checked: empty, too large, not a message, an aggregate report, or nothing in it
    that DMARC looks at.
    """
    label = f"“{name}”" if name else "The text"
    if isinstance(data, str):
        # Every character takes at least one byte: a text longer than the limit is refused unencoded.
        if len(data) > MAX_MESSAGE_BYTES:
            raise MessageError(_too_large(label, len(data)))
        data = data.encode("utf-8", "replace")
    if len(data) > MAX_MESSAGE_BYTES:
        raise MessageError(_too_large(label, len(data)))
    try:
        return _read(bytes(data), label)
    except RecursionError:
        raise MessageError(f"{label} is nested too deeply to be read as a message.") from None


def _too_large(label: str, size: int) -> str:
    return f"{label} is {size / 1024 / 1024:.1f} MB; the message check reads up to {MAX_MESSAGE_BYTES // 1024 // 1024} MB."


def _read(data: bytes, label: str) -> Message:
    text = _LINE_END.sub(b"\r\n", data).lstrip(b" \t\r\n")
    if not text.strip():
        raise MessageError(f"{label} is empty: give a message's headers or an .eml file.")
    _refuse_aggregate_xml(text, label)
    if text.startswith(b"From "):
        # An mbox separator line ("From sender date"), as mail clients save .eml files.
        text = text.partition(b"\r\n")[2]
    notes: list[str] = []
    if re.match(rb"[ \t]*original message[ \t]*\r\n", text, re.IGNORECASE) and (end := _GMAIL_SUMMARY_END.search(text, 0, 4096)):
        text = text[end.end() :]
        notes.append("Gmail's summary above the message (from “Original message” to “Download original”) was left out.")
    outer = _split(text, label)
    if not outer.fields:
        raise MessageError(f"{label} is not a message: it has no header fields (lines such as “From: …” or “DKIM-Signature: …”).")
    original, report, read_notes = _original(outer, label)
    return _message(original, report, [*notes, *read_notes], label)


def _refuse_aggregate_xml(text: bytes, label: str) -> None:
    head = text[:4096].lower()
    if head.startswith((b"pk\x03\x04", b"\x1f\x8b")) or (head.startswith(b"<") and b"<feedback" in head):
        raise MessageError(_aggregate(label))


def _split(text: bytes, label: str) -> _Entity:
    """The header fields of ``text`` (CRLF line ends) and the body after the first empty line.

    Lines before the first field and lines inside the block that are neither a field nor a
    continuation are left out with a note: dkimpy would refuse the whole message for them.
    """
    block, blank, body = text.partition(b"\r\n\r\n")
    if text.startswith(b"\r\n"):
        block, blank, body = b"", b"\r\n", text[2:]
    fields: list[list[bytes]] = []
    skipped_before = skipped_inside = 0
    for line in block.split(b"\r\n"):
        if not line:
            continue  # the line break that ended a block with no blank line after it
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1].append(line)
        elif _FIELD_START.match(line):
            if len(fields) == MAX_HEADER_FIELDS:
                raise MessageError(
                    f"{label} has more than {MAX_HEADER_FIELDS:,} header fields; real messages have a few dozen, so it is not read."
                )
            fields.append([line])
        elif fields:
            skipped_inside += 1
        else:
            skipped_before += 1
    notes = []
    if skipped_before and fields:
        notes.append(f"{_not_fields('Before the first header field,', skipped_before)} left out.")
    if skipped_inside:
        notes.append(
            f"{_not_fields('Inside the header block,', skipped_inside)} left out; a signature over the fields around "
            "them may not verify."
        )
    parsed = tuple(_Field(lines[0].partition(b":")[0].decode("ascii").strip().lower(), b"\r\n".join(lines)) for lines in fields)
    return _Entity(parsed, body if blank else None, tuple(notes), cut=not blank and not text.endswith(b"\r\n"))


def _not_fields(where: str, count: int) -> str:
    if count == 1:
        return f"{where} 1 line is not a header field and was"
    return f"{where} {count:,} lines are not header fields and were"


# --- Reports: the original inside a failure report, a bounce or Exim's plain-text report --------


@dataclass(frozen=True)
class _Part:
    entity: _Entity
    content_type: str
    headers: MimeHeaders


def _part(entity: _Entity) -> _Part:
    headers = entity.mime()
    return _Part(entity, headers.get_content_type(), headers)


def _original(outer: _Entity, label: str) -> tuple[_Entity, FeedbackReport | None, list[str]]:
    """The message to check: ``outer`` itself, or the original a report carries."""
    top = _part(outer)
    if not top.content_type.startswith("multipart/"):
        if _is_aggregate_email(outer, [top], [0], label):
            raise MessageError(_aggregate(label))
        return outer, None, list(outer.notes)
    budget = [MAX_MIME_PARTS]
    siblings = _report_parts(top, 0, budget, label)
    if siblings is not None:
        arf = next(part for part in siblings if part.content_type == "message/feedback-report")
        report = _feedback_report(_split(_content(arf, label), label), outer)
        original = _attached_original(siblings, label)
        if original is None:
            raise MessageError(
                f"{label} is a failure report ({report.feedback_type or 'ARF'}) without a copy of the message or its "
                "headers, so there is no message to check."
            )
        return original, report, list(original.notes)
    children = _children(top, budget, label)
    if top.content_type == "multipart/report":
        original = _attached_original(children, label)
        if original is not None:
            note = "Read the original message attached to this delivery status notification (bounce)."
            return original, None, [note, *original.notes]
        exim = _exim_original(children, outer, label)
        if exim is not None:
            return exim
        raise MessageError(
            f"{label} is a report without the machine-readable part of RFC 6591 and without the original "
            "message's headers, so there is no message to check."
        )
    if _is_aggregate_email(outer, children, budget, label):
        raise MessageError(_aggregate(label))
    return outer, None, list(outer.notes)


def _children(part: _Part, budget: list[int], label: str) -> list[_Part]:
    """The body parts of a multipart, cut from the raw bytes at its boundary (RFC 2046 5.1.1)."""
    boundary = part.headers.get_boundary()
    body = part.entity.body
    if not boundary or body is None:
        return []
    delimiter = re.compile(rb"(?:\A|(?<=\n))--" + re.escape(boundary.encode("utf-8", "replace")) + rb"(--)?[ \t]*(?:\r\n|\Z)")
    children: list[_Part] = []
    start = None
    for match in delimiter.finditer(body):
        if start is not None:
            content = body[start : match.start()]
            # The line break before a delimiter belongs to the delimiter.
            content = content.removesuffix(b"\r\n")
            children.append(_part(_split(content, label)))
            budget[0] -= 1
        if match.group(1) or budget[0] <= 0:
            break
        start = match.end()
    return children


def _report_parts(part: _Part, depth: int, budget: list[int], label: str) -> list[_Part] | None:
    """The parts beside the ``message/feedback-report`` part (RFC 5965 2), wherever the multipart
    that holds them sits (Netease sends multipart/mixed, others nest the report)."""
    if depth >= MAX_MIME_DEPTH or budget[0] <= 0:
        return None
    children = _children(part, budget, label)
    if any(child.content_type == "message/feedback-report" for child in children):
        return children
    for child in children:
        if child.content_type.startswith("multipart/"):
            found = _report_parts(child, depth + 1, budget, label)
            if found is not None:
                return found
    return None


def _content(part: _Part, label: str) -> bytes:
    """A part's content with its Content-Transfer-Encoding undone, line ends as CRLF."""
    body = part.entity.body or b""
    encoding = str(part.headers.get("content-transfer-encoding", "")).strip().lower()
    if encoding == "base64":
        try:
            body = binascii.a2b_base64(re.sub(rb"[^A-Za-z0-9+/=]", b"", body))
        except binascii.Error:
            raise MessageError(f"{label} has a part whose base64 encoding is damaged.") from None
    elif encoding == "quoted-printable":
        body = quopri.decodestring(body)
    return _LINE_END.sub(b"\r\n", body).lstrip(b"\r\n")


def _attached_original(parts: list[_Part], label: str) -> _Entity | None:
    for part in parts:
        if part.content_type in ORIGINAL_TYPES + ORIGINAL_HEADER_TYPES:
            original = _split(_content(part, label), label)
            if not original.fields:
                continue
            if part.content_type in ORIGINAL_HEADER_TYPES:
                # Only the header block was sent (RFC 6591 3): whatever follows is not the body.
                return _Entity(original.fields, None, original.notes, original.cut)
            return original
    return None


def _exim_original(parts: list[_Part], outer: _Entity, label: str) -> tuple[_Entity, FeedbackReport, list[str]] | None:
    """Exim's DMARC forensic report has no ARF part; its text lists the sender domain and IP and
    then the header block received. The headers are read; the labels stand in for ARF fields."""
    for part in parts:
        if part.content_type != "text/plain":
            continue
        text = _content(part, label)
        marker = _EXIM_HEADERS_MARKER.search(text)
        if marker is None:
            continue
        original = _split(text[marker.end() :].lstrip(b"\r\n").rstrip(b"\r\n"), label)
        if not original.fields:
            return None
        labels = {
            key.decode().lower(): value.decode("utf-8", "replace") for key, value in _EXIM_LABEL.findall(text[: marker.start()])
        }
        report = FeedbackReport(
            feedback_type="auth-failure",
            auth_failure="dmarc",
            reported_domain=labels.get("sender domain", ""),
            source_ip=labels.get("sender ip address", ""),
            reporter=_reporter(outer, ""),
        )
        note = "Exim's failure report has no RFC 6591 part; the original headers were read from its text."
        return _Entity(original.fields, None, original.notes), report, [note, *original.notes]
    return None


def _feedback_report(fields: _Entity, outer: _Entity) -> FeedbackReport:
    """The fields of RFC 5965 3 and RFC 6591 3.1 that say what failed, where and for whom."""
    results = tuple(_receiver_results(field.value)[0] for field in fields.all("authentication-results")[:MAX_RESULTS_FIELDS])
    return FeedbackReport(
        feedback_type=fields.first("feedback-type").lower(),
        auth_failure=fields.first("auth-failure").lower(),
        reported_domain=fields.first("reported-domain").lower(),
        source_ip=_first_word(fields.first("source-ip")),
        original_mail_from=_unbracketed(fields.first("original-mail-from")),
        arrival_date=fields.first("arrival-date") or fields.first("received-date"),
        delivery_result=fields.first("delivery-result").lower(),
        dkim_domain=fields.first("dkim-domain").lower(),
        dkim_selector=fields.first("dkim-selector"),
        reporter=_reporter(outer, fields.first("reporting-mta")),
        authentication_results=results,
    )


def _reporter(outer: _Entity, reporting_mta: str) -> str:
    """Who sent the report: its From: domain, else the Reporting-MTA name (``dns; host``)."""
    sender = _from_header(outer)
    return sender.domain or reporting_mta.rpartition(";")[2].strip().lower()


def _is_aggregate_email(outer: _Entity, parts: list[_Part], budget: list[int], label: str) -> bool:
    """An RFC 7489 7.2.1.1 report e-mail: an XML, zip or gzip attachment and the report subject or
    file name (``receiver!domain!begin!end``)."""
    subject_says_report = bool(_AGGREGATE_SUBJECT.search(outer.first("subject")))
    pending = list(parts)
    while pending:
        part = pending.pop()
        if part.content_type.startswith("multipart/") and budget[0] > 0:
            pending += _children(part, budget, label)
            continue
        filename = part.headers.get_filename("")  # Content-Disposition filename=, else Content-Type name=
        attached = part.content_type in AGGREGATE_TYPES or filename.lower().endswith((".xml", ".zip", ".gz"))
        if attached and (subject_says_report or _AGGREGATE_FILENAME.match(filename)):
            return True
    return False


# --- The message itself ------------------------------------------------------------------------


def _message(original: _Entity, report: FeedbackReport | None, notes: list[str], label: str) -> Message:
    from_header = _from_header(original)
    signatures = tuple(_signature(position, field) for position, field in enumerate(original.all("dkim-signature")))
    parsed_results = [_receiver_results(field.value) for field in original.all("authentication-results")[:MAX_RESULTS_FIELDS]]
    if len(original.all("authentication-results")) > MAX_RESULTS_FIELDS:
        notes.append(f"Only the first {MAX_RESULTS_FIELDS} Authentication-Results fields were read.")
    checkable = ("from", "dkim-signature", "authentication-results", "arc-seal")
    if not any(original.all(name) for name in checkable):
        raise MessageError(f"{label} has nothing DMARC looks at: no From:, DKIM-Signature, Authentication-Results or ARC field.")
    has_body = original.body is not None and bool(original.body.strip())
    data = b"".join(field.raw + b"\r\n" for field in original.fields)
    if has_body:
        data += b"\r\n" + (original.body or b"")
    mail_from = _mail_from(original, parsed_results, report, notes)
    connecting_ip, helo = _connection(original, parsed_results, report, notes)
    notes += _truncation_notes(original, signatures)
    return Message(
        data=data,
        has_body=has_body,
        from_header=from_header,
        signatures=signatures,
        mail_from=mail_from,
        connecting_ip=connecting_ip,
        helo=helo,
        authentication_results=tuple(results for results, _ in parsed_results),
        receiver_results=_receiver_results_of(original, tuple(results for results, _ in parsed_results), report),
        arc_sets=_arc_sets(original, notes),
        feedback_report=report,
        arrived_at=_arrival(original, report),
        notes=tuple(notes),
    )


def _arrival(original: _Entity, report: FeedbackReport | None) -> float | None:
    """When the message arrived: the report's Arrival-Date (RFC 5965 3.2), else the date-time
    after the last ';' of the topmost Received: field (RFC 5321 4.4)."""
    received = original.first("received")
    for written in (report.arrival_date if report else "", received.rpartition(";")[2] if ";" in received else ""):
        try:
            return email.utils.parsedate_to_datetime(written.strip()).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            continue
    return None


def _receiver_results_of(
    original: _Entity, parsed: tuple[ReceiverResults, ...], report: FeedbackReport | None
) -> ReceiverResults | None:
    """The final receiver's Authentication-Results: the topmost field above the first Received:
    that names the SMTP client (the receiver's border hop), else, for a failure report, the
    report's own. Fields below the border were added before that hop, by an intermediary or by
    the sender, who can write anything (RFC 8601 5): they are shown, never taken as the receiver's."""
    for field in original.fields:
        if field.name == "received" and _received_connection(field.value):
            break
        if field.name == "authentication-results" and parsed:
            return parsed[0]  # the fields were parsed top to bottom
    if report is not None and report.authentication_results:
        return report.authentication_results[0]
    return None


def _truncation_notes(original: _Entity, signatures: tuple[DkimSignature, ...]) -> list[str]:
    """A header block cut inside its last field: that field is the one that cannot be read."""
    if not original.cut or not original.fields:
        return []
    last = original.fields[-1]
    if last.name == "dkim-signature":
        cut = signatures[-1].problem is not None
    elif last.name == "authentication-results":
        cut = _receiver_results(last.value)[0].problem is not None
    else:
        cut = False
    if not cut:
        return []
    name = last.raw.partition(b":")[0].decode("ascii", "replace")
    return [f"The last field ({name}) cannot be read; the text was probably cut inside it."]


def _from_header(entity: _Entity) -> FromHeader:
    """The author address DMARC judges (RFC 9989 4.2, 5.3.1): exactly one From: field with
    exactly one address and a domain; otherwise the problem, and DMARC does not apply."""
    fields = entity.all("from")
    if not fields:
        return FromHeader(raw="", problem="none")
    raw = fields[0].value
    if len(fields) > 1:
        return FromHeader(raw=raw, problem="several")
    if len(raw) > MAX_FROM_CHARS:
        return FromHeader(raw=raw[:MAX_FROM_CHARS], problem="unreadable")
    try:
        header = policy.default.header_factory("from", raw)
        groups, addresses = header.groups, header.addresses
    except Exception:  # email's parser fails in many ways on hostile text; each means "unreadable"
        return FromHeader(raw=raw, problem="unreadable")
    if any(group.display_name is not None for group in groups):
        return FromHeader(raw=raw, problem="group")
    if not addresses:
        return FromHeader(raw=raw, problem="none")
    if len(addresses) > 1:
        return FromHeader(raw=raw, problem="several")
    domain = addresses[0].domain.strip().lower()
    local_part = addresses[0].addr_spec.rpartition("@")[0]
    if not domain or domain.startswith("["):
        return FromHeader(raw=raw, problem="no_domain")
    if "\ufffd" in domain:
        return FromHeader(raw=raw, problem="unreadable")
    return FromHeader(raw=raw, address=f"{local_part}@{domain}", domain=domain)


def _signature(position: int, field: _Field) -> DkimSignature:
    """One DKIM-Signature's tags (RFC 6376 3.5) and what makes a verifier reject it outright."""
    try:
        tags = {key.decode("ascii", "replace").lower(): value for key, value in parse_tag_value(field.raw_value).items()}
    except InvalidTagValueList as error:
        reason = _plain(str(error)) or "a tag without “=”"
        return DkimSignature(position, "", "", problem=f"The field is not a tag=value list (RFC 6376 3.2): {reason}.")
    text = {key: _FOLD.sub(b"", value).decode("utf-8", "replace").strip() for key, value in tags.items() if key != "h"}
    problem = None
    signed_headers_text = tags.get("h", b"")
    if signed_headers_text.count(b":") >= MAX_SIGNED_HEADERS:
        problem = (
            f"The signature lists {signed_headers_text.count(b':') + 1:,} signed header fields (h=); more than "
            f"{MAX_SIGNED_HEADERS} is no real signature, so it is not checked."
        )
    names = signed_headers_text.split(b":", MAX_SIGNED_HEADERS)[:MAX_SIGNED_HEADERS]
    signed_headers = tuple(name for name in (part.decode("utf-8", "replace").strip().lower() for part in names) if name)
    if problem is None:
        problem = _signature_problem(tags, len(field.raw))
    canonicalization = text.get("c", "").lower() or "simple/simple"
    if "/" not in canonicalization:
        canonicalization += "/simple"  # RFC 6376 3.5: a missing body algorithm is "simple"
    return DkimSignature(
        position=position,
        domain=text.get("d", "").lower(),
        selector=text.get("s", ""),
        algorithm=text.get("a", "").lower(),
        canonicalization=canonicalization,
        signed_headers=signed_headers,
        identity=text.get("i", ""),
        body_length=_number(text.get("l")),
        signed_at=_number(text.get("t")),
        expires_at=_number(text.get("x")),
        problem=problem,
    )


def _signature_problem(tags: dict[str, bytes], length: int) -> str | None:
    """What dkimpy rejects before any DNS, in a sentence; expiry is left to the verification,
    which knows the time it checks at."""
    missing = [f"{tag}=" for tag in REQUIRED_DKIM_TAGS if tag not in tags]
    if missing:
        return f"Required tags are missing: {', '.join(missing)} (RFC 6376 3.5)."
    if length > MAX_SIGNATURE_CHARS:
        return f"The field is {length:,} characters long; no real signature is, so it is not checked."
    # Whitespace inside b= and bh= is folding (RFC 6376 3.5) and dkimpy's check of them backtracks
    # on long runs of it, so it gets the values without.
    checked = {key.encode(): re.sub(rb"\s+", b"", value) if key in ("b", "bh") else value for key, value in tags.items()}
    expires = checked.pop(b"x", None)
    try:
        dkim.validate_signature_fields(checked)
    except (dkim.ValidationError, IndexError) as error:
        return f"A verifier rejects it before looking up the key: {_plain(str(error)) or 'i= is not an address in d='} (RFC 6376 3.5)."
    if expires is not None:
        if not expires.isdigit():
            return "A verifier rejects it before looking up the key: x= is not a number (RFC 6376 3.5)."
        signed_at = checked.get(b"t", b"")
        if signed_at.isdigit() and int(expires) < int(signed_at):
            return "A verifier rejects it before looking up the key: it expires (x=) before it was signed (t=) (RFC 6376 3.5)."
    return None


def _plain(message: str) -> str:
    """dkimpy's messages show tags as bytes (``b'bh'``); people read them as ``bh``."""
    return re.sub(r"b'([^']*)'", r"\1", message)[:300]


def _number(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) <= 76 else None


# --- Authentication-Results and ARC ------------------------------------------------------------


def _receiver_results(text: str) -> tuple[ReceiverResults, object | None]:
    """One Authentication-Results value parsed by authres, and the parsed header for the
    properties this module reads besides (smtp.mailfrom, smtp.remote-ip)."""
    if len(text) > MAX_RESULTS_CHARS:
        return ReceiverResults(
            authserv_id="", raw=text[:MAX_RESULTS_CHARS], problem=f"The field is {len(text):,} characters long and was not read."
        ), None
    cleaned = _EMPTY_PROPERTY.sub("", text)
    authserv_missing = False
    try:
        header = _RESULTS_FEATURES.parse_value(cleaned)
    except (authres.AuthResError, RecursionError) as error:
        if not _METHOD_FIRST.match(cleaned):
            return ReceiverResults(authserv_id="", raw=text, problem=f"Not readable as RFC 8601: {error}"[:300]), None
        # Microsoft 365 and some failure reports leave out the authserv-id (RFC 8601 2.2): read
        # the results anyway, with no receiver named.
        try:
            header = _RESULTS_FEATURES.parse_value("authserv-id.invalid; " + cleaned)
        except (authres.AuthResError, RecursionError) as retry_error:
            return ReceiverResults(authserv_id="", raw=text, problem=f"Not readable as RFC 8601: {retry_error}"[:300]), None
        authserv_missing = True
    results = header.results
    dkim_verdicts = tuple(
        DkimVerdict(
            result=str(result.result or "").lower(),
            domain=(_property(result, "header", "d") or _property(result, "header", "i").rpartition("@")[2]).lower(),
            selector=_property(result, "header", "s"),
            signature_prefix=_property(result, "header", "b"),
            reason=str(result.reason or ""),
        )
        for result in results
        if result.method.lower() == "dkim"
    )
    spf = _first_result(results, "spf")
    dmarc_result = _first_result(results, "dmarc")
    arc = _first_result(results, "arc")
    spf_identity = (_property(spf, "smtp", "mailfrom") or _property(spf, "smtp", "helo")) if spf else ""
    return ReceiverResults(
        authserv_id="" if authserv_missing else str(header.authserv_id or ""),
        dkim=dkim_verdicts,
        spf=str(spf.result).lower() if spf else None,
        spf_domain=spf_identity.rpartition("@")[2].lower(),
        dmarc=str(dmarc_result.result).lower() if dmarc_result else None,
        dmarc_from=_property(dmarc_result, "header", "from").lower() if dmarc_result else "",
        arc=str(arc.result).lower() if arc else None,
        raw=text,
    ), header


def _first_result(results, method: str):
    return next((result for result in results if result.method.lower() == method), None)


def _property(result, kind: str, name: str) -> str:
    """A property's value (``header.d``, ``smtp.mailfrom``) of one result, "" when absent."""
    for item in result.properties:
        if str(item.type or "").lower() == kind and str(item.name or "").lower() == name:
            return str(item.value or "").strip()
    return ""


def _arc_sets(entity: _Entity, notes: list[str]) -> tuple[ArcSet, ...]:
    """ARC-Seal, ARC-Message-Signature and ARC-Authentication-Results grouped by ``i=``
    (RFC 8617 4.1); the first field of each kind per instance counts."""
    seals: dict[int, dict[str, str]] = {}
    signatures: dict[int, dict[str, str]] = {}
    results: dict[int, ReceiverResults] = {}
    unreadable = 0
    for field in entity.fields:
        if field.name in ("arc-seal", "arc-message-signature"):
            tags = _tags(field)
            instance = _number(tags.get("i"))
            if instance is None:
                unreadable += 1
                continue
            (seals if field.name == "arc-seal" else signatures).setdefault(instance, tags)
        elif field.name == "arc-authentication-results":
            match = _AAR_INSTANCE.match(field.value)
            if match is None:
                unreadable += 1
                continue
            if len(results) >= MAX_RESULTS_FIELDS:
                continue
            results.setdefault(int(match.group(1)), _receiver_results(match.group(2).strip())[0])
    if unreadable:
        notes.append(f"ARC fields without a readable instance (i=) were left out: {unreadable}.")
    instances = sorted(set(seals) | set(signatures) | set(results))
    return tuple(
        ArcSet(
            instance=instance,
            sealed_by=seals.get(instance, {}).get("d", "").lower(),
            chain_validation=seals.get(instance, {}).get("cv", "").lower(),
            signed_by=signatures.get(instance, {}).get("d", "").lower(),
            results=results.get(instance),
        )
        for instance in instances
    )


def _tags(field: _Field) -> dict[str, str]:
    try:
        tags = parse_tag_value(field.raw_value)
    except InvalidTagValueList:
        return {}
    return {
        key.decode("ascii", "replace").lower(): _FOLD.sub(b"", value).decode("utf-8", "replace").strip()
        for key, value in tags.items()
    }


# --- The envelope: MAIL FROM, the connecting IP and HELO ---------------------------------------


def _mail_from(original: _Entity, parsed_results, report: FeedbackReport | None, notes: list[str]) -> str | None:
    """RFC 5321 MAIL FROM: what a failure report says the reporter received (Original-Mail-From),
    else what the final receiver recorded in Return-Path: (RFC 5321 4.4), else what the receivers'
    SPF checks name."""
    return_path = _unbracketed(original.first("return-path")) if original.all("return-path") else None
    if report is not None and report.original_mail_from:
        if return_path is not None and return_path.lower() != report.original_mail_from.lower():
            notes.append(
                f"The MAIL FROM is the failure report's Original-Mail-From; the copy's Return-Path: names "
                f"“{return_path or '<>'}”, recorded before the reporter."
            )
        return report.original_mail_from
    if return_path is not None:
        return return_path
    for results, header in parsed_results[:1]:
        spf = _first_result(header.results, "spf") if header else None
        mail_from = _property(spf, "smtp", "mailfrom") if spf else ""
        if mail_from:
            notes.append(
                "There is no Return-Path: field; the MAIL FROM comes from the Authentication-Results of "
                f"{results.authserv_id or 'the receiver'}."
            )
            return _unbracketed(mail_from)
    envelope_from = _received_spf(original).get("envelope-from", "")
    if envelope_from:
        notes.append("There is no Return-Path: field; the MAIL FROM comes from the Received-SPF field.")
        return _unbracketed(envelope_from)
    return None


def _connection(original: _Entity, parsed_results, report: FeedbackReport | None, notes: list[str]) -> tuple[str, str]:
    """The SMTP client's IP and HELO name. A failure report's Source-IP is what the reporter saw
    (RFC 6591 3.1): the copy's topmost Received: may be a hop before it (Netease reports carry the
    sender's headers only). Otherwise the topmost Received: field naming an IP in its from-clause
    (the receiver's own record), else the receivers' SPF and iprev results."""
    candidates = list(_connection_candidates(original, parsed_results))
    source_ip = _ip(report.source_ip) if report is not None else ""
    if source_ip:
        helo = next((helo for ip, helo, _ in candidates if ip == source_ip and helo), "")
        if candidates and candidates[0][0] != source_ip:
            notes.append(
                f"The connecting IP is the failure report's Source-IP; the copy's own headers name {candidates[0][0]} "
                "first, a hop before the reporter."
            )
        return source_ip, helo
    if not candidates:
        return "", ""
    ip, helo, where = candidates[0]
    if where:
        notes.append(f"The connecting IP comes from {where}.")
    return ip, helo


def _connection_candidates(original: _Entity, parsed_results) -> Iterator[tuple[str, str, str]]:
    """(IP, HELO, where it was found, "" for the topmost Received:), most trusted first."""
    for index, field in enumerate(original.all("received")):
        found = _received_connection(field.value)
        if found is not None:
            by = _by_host(field.value)
            where = (
                f"Received: field {index + 1} from the top{f' (by {by})' if by else ''}, as the ones above it name no IP address"
            )
            yield *found, where if index else ""
    spf_tags = _received_spf(original)
    if spf_ip := _ip(spf_tags.get("client-ip", "")):
        yield spf_ip, spf_tags.get("helo", ""), "the Received-SPF field (client-ip=), as no Received: field names one"
    for results, header in parsed_results:
        for result in header.results if header else ():
            if ip := _ip(_property(result, "smtp", "remote-ip") or _property(result, "policy", "iprev")):
                spf = _first_result(header.results, "spf")
                where = f"the Authentication-Results of {results.authserv_id or 'the receiver'}, as no Received: field names one"
                yield ip, _property(spf, "smtp", "helo") if spf else "", where


def _received_connection(value: str) -> tuple[str, str] | None:
    """(IP, HELO) from a Received: from-clause (RFC 5321 4.4), as Postfix, Sendmail, Exim, Gmail
    and ecelerity write it: the bracketed address in the comment (the TCP peer) wins over one
    standing as the HELO name; loopback hops (content filters) name no client."""
    if not _FROM_CLAUSE.match(value):
        return None
    by = re.search(r"\sby\s", value)
    clause = value[5 : by.start() if by else len(value)]
    comment_start = clause.find("(")
    in_comment = [_ip(found) for found in _BRACKETED.findall(clause[comment_start:])] if comment_start >= 0 else []
    anywhere = [_ip(found) for found in _BRACKETED.findall(clause)]
    ip = next((found for found in in_comment + anywhere if found and not ipaddress.ip_address(found).is_loopback), "")
    if not ip:
        return None
    helo = _HELO.search(clause)
    first_word = clause.split(None, 1)[0] if clause.split() else ""
    return ip, helo.group(1) if helo else ("" if first_word.startswith(("[", "(")) else first_word)


def _by_host(value: str) -> str:
    by = re.search(r"\sby\s+([^\s;()]+)", value)
    return by.group(1) if by else ""


def _received_spf(original: _Entity) -> dict[str, str]:
    """client-ip, helo and envelope-from of the topmost Received-SPF field (RFC 7208 9.1)."""
    value = original.first("received-spf")
    return {key.lower(): found.strip('"') for key, found in _RECEIVED_SPF_TAG.findall(value)}


def _ip(text: str) -> str:
    """An IP address as written in a header ("192.0.2.1", "192.0.2.1:4227", "::ffff:192.0.2.1"), or ""."""
    candidate = text.strip().strip("[]")
    if candidate.lower().startswith("ipv6:"):
        candidate = candidate[5:]
    for attempt in (candidate, candidate.rpartition(":")[0] if candidate.count(":") == 1 else ""):
        try:
            address = ipaddress.ip_address(attempt)
        except ValueError:
            continue
        mapped = getattr(address, "ipv4_mapped", None)
        return str(mapped or address)
    return ""


def _unbracketed(address: str) -> str:
    """An address from Return-Path or Original-Mail-From without its angle brackets; ``<>`` is the
    null sender (RFC 5321 4.5.5) and reads as ""."""
    text = address.strip()
    if "<" in text:
        text = text[text.find("<") + 1 :].partition(">")[0]
    return text.strip()


def _first_word(text: str) -> str:
    return text.split(None, 1)[0] if text.split() else ""


def _aggregate(label: str) -> str:
    return (
        f"{label} looks like an aggregate report (XML), not one message: triage it instead (the Report Triage "
        "page, or `triage` on the command line)."
    )
