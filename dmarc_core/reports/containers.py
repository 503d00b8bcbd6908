"""From an uploaded file to the XML payloads inside it, detected by content, never by name:
plain XML, gzip (also nested, also with trailing garbage), raw zlib, zip (every member), and
report e-mails (.eml) with the report attached under whatever MIME type. A failure report e-mail
(ARF, RFC 6591) is kept whole, for the message check.

Everything streams; decompressed size, archive members and nesting depth are capped, so a
compression bomb is refused in bounded time and memory.
"""

from __future__ import annotations

import base64
import email
import email.header
import email.message
import email.parser
import email.policy
import io
import itertools
import json
import re
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from os import PathLike
from typing import BinaryIO

from .model import FailureReport, Limits, Refusal, ReportError

BUFFER = 1 << 16
#: A zip that must be spooled (it came inside a gzip or an e-mail) stays in memory up to this size.
SPOOL_IN_MEMORY = 16 << 20
#: What zipfile raises on a damaged archive or member: a bad header, an offset before the start
#: (ValueError: negative seek), a field cut short (struct.error, IndexError), an unknown method.
_ZIP_DAMAGE = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, ValueError, IndexError, struct.error)
_EMAIL_HEADER = re.compile(rb"^(?:From |[!-9;-~]+:[ \t])")
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


@dataclass(frozen=True)
class Payload:
    """An XML document to parse: its name for messages, a readable stream, and the repairs of the
    containers around it, a list they add to while the stream is read (a gzip finds it was cut
    short only at its end)."""

    name: str
    stream: BinaryIO
    repairs: list[str] = field(default_factory=list)


#: What a container yields: an XML payload to parse, a failure report, or a part refused with the reason.
Found = Payload | FailureReport | Refusal


class _Inflate(io.RawIOBase):
    """Streaming gzip/zlib decompression with a size cap. Tolerates bytes after the stream
    (Mimecast appends CRLF) and reads concatenated gzip members."""

    def __init__(self, raw: BinaryIO, wbits: int, name: str, budget: Budget, repairs: list[str]):
        self._raw, self._wbits, self._name, self._budget, self._repairs = raw, wbits, name, budget, repairs
        self._limit = budget.limits.max_decompressed_bytes
        self._inflater = zlib.decompressobj(wbits)
        self._pending = b""
        self._produced = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending and not self._done:
            self._pending = self._next_chunk()
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def _next_chunk(self) -> bytes:
        inflater = self._inflater
        if inflater.eof:
            # What follows this member may not have been read yet (a member ending at a buffer's end).
            rest = inflater.unused_data
            if len(rest) < 2:
                rest += self._raw.read(2 - len(rest))
            if rest[:2] == b"\x1f\x8b":  # another gzip member follows
                self._inflater = zlib.decompressobj(self._wbits)
                return self._inflate(rest)
            if rest.strip() or self._raw.read(1).strip():
                self._repairs.append(f"bytes after the end of the compressed data in {self._name} were ignored")
            self._done = True
            return b""
        compressed = inflater.unconsumed_tail or self._raw.read(BUFFER)
        if not compressed:
            self._done = True
            self._repairs.append(f"{self._name} ends before its compressed data does; read what was there")
            return inflater.flush()
        return self._inflate(compressed)

    def _inflate(self, compressed: bytes) -> bytes:
        try:
            chunk = self._inflater.decompress(compressed, BUFFER)
        except zlib.error as exc:
            raise ReportError(f"{self._name} is damaged: its compressed data cannot be read ({exc}).") from None
        self._produced += len(chunk)
        if self._produced > self._limit:
            raise ReportError(_too_big(self._name, self._limit))
        self._budget.spend(len(chunk), self._name)
        return chunk


class _Capped(io.RawIOBase):
    """A stream that refuses to deliver more than ``limit`` bytes (zip members can lie about size)."""

    def __init__(self, raw: BinaryIO, name: str, limit: int, budget: Budget):
        self._raw, self._name, self._left, self._budget = raw, name, limit, budget

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self._raw.read(len(buffer))
        except _ZIP_DAMAGE as exc:
            raise ReportError(f"{self._name} is damaged: {exc}.") from None
        self._left -= len(data)
        self._budget.spend(len(data), self._name)
        if self._left < 0:
            raise ReportError(_too_big(self._name, 0))
        buffer[: len(data)] = data
        return len(data)


def _too_big(name: str, limit: int) -> str:
    size = f" more than {limit >> 20} MB" if limit else " more than the archive says"
    return f"{name} decompresses to{size}; refused as a possible compression bomb (the limit is configurable)."


def _peekable(stream: BinaryIO) -> io.BufferedReader:
    return stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(stream, BUFFER)


def sniff(head: bytes) -> str:
    """What a payload is, from its first bytes."""
    if not head:
        return "empty"
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if len(head) >= 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0:
        return "zlib"
    text = head
    for bom in _BOMS:
        if text.startswith(bom):
            return "xml" if bom != _BOMS[0] else sniff_text(text[3:])
    return sniff_text(text)


def sniff_text(text: bytes) -> str:
    stripped = text.lstrip()
    if not stripped:
        return "empty" if not text.strip(b" \t\r\n\x00") else "binary"
    if stripped[:1] == b"<":
        return "xml"
    if stripped[:1] in (b"{", b"["):
        return "json"
    if _EMAIL_HEADER.match(text):
        return "email"
    if b"\x00" in text[:1024]:
        return "binary"
    return "text"


def open_source(source: bytes | bytearray | str | PathLike | BinaryIO) -> BinaryIO:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(source)
    if isinstance(source, (str, PathLike)):
        return open(source, "rb")
    return source


def payloads(stream: BinaryIO, name: str, budget: Budget, depth: int = 0, repairs: list[str] | None = None) -> Iterator[Found]:
    """Every XML payload and failure report in ``stream``, or a refusal saying why a part is neither.
    ``repairs`` collects what the containers around it repaired, for the payload or the refusal to say."""
    repairs = [] if repairs is None else repairs
    if depth > budget.limits.max_depth:
        yield Refusal(name, f"{name} nests containers more than {budget.limits.max_depth} deep; refused.")
        return
    stream = _peekable(stream)
    head = stream.peek(BUFFER)[:BUFFER]
    kind = sniff(head)
    if kind == "xml":
        yield Payload(name, stream, repairs)
    elif kind in ("gzip", "zlib"):
        inflated = _Inflate(stream, 31 if kind == "gzip" else 15, name, budget, repairs)
        yield from payloads(inflated, _inner_name(name), budget, depth + 1, repairs)
    elif kind == "zip":
        yield from _zip_members(stream, name, budget, depth)
    elif kind == "email":
        yield from _email_parts(stream, name, budget, depth)
    else:
        earlier = f" Before that, {'; '.join(repairs)}." if repairs else ""
        yield Refusal(name, _not_a_report(name, kind, head) + earlier)


class Budget:
    """What one upload may cost in all, drawn on by every container level inside it: decompressed
    bytes and parts (zip members, e-mail attachments). Once spent, nothing more is read, and what
    was not read is refused with the reason."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._bytes_left = limits.max_upload_bytes
        self._parts_left = limits.max_parts
        self.records_left = limits.max_records
        self.spent = ""

    def spend(self, size: int, name: str) -> None:
        self._bytes_left -= size
        if self._bytes_left < 0:
            self.spent = (
                f"the upload decompresses to more than {self.limits.max_upload_bytes >> 20} MB in all, "
                "so it was refused past that as a possible compression bomb (the limit is configurable)"
            )
            raise ReportError(f"{name} was not read to its end: {self.spent}.")

    def records_allowed(self, name: str) -> int:
        """How many records the next report may hold; once none, it is refused unread."""
        if self.records_left <= 0:
            self.spent = f"the upload holds more than {self.limits.max_records:,} records in all (the limit is configurable)"
            raise ReportError(f"{name} was not read: {self.spent}.")
        return self.records_left

    def take_part(self) -> bool:
        """Whether one more part may be read; False once the upload's parts or bytes are spent."""
        if not self.spent and self._parts_left <= 0:
            self.spent = (
                f"the upload holds more than {self.limits.max_parts} files and attachments in all (the limit is configurable)"
            )
        self._parts_left -= 1
        return not self.spent


def _child(open_child: Callable[[], BinaryIO], name: str, budget: Budget, depth: int) -> Iterator[Found]:
    """A container's child (zip member, e-mail part), walked behind its own boundary: what cannot
    be read in it becomes its refusal, and the container's other children are still read."""
    try:
        yield from payloads(open_child(), name, budget, depth + 1)
    except ReportError as exc:
        yield Refusal(name, str(exc))


def _open_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, label: str) -> BinaryIO:
    try:
        return archive.open(info)
    except _ZIP_DAMAGE as exc:
        raise ReportError(f"{label} cannot be opened: {exc}.") from None


def _inner_name(name: str) -> str:
    for suffix in (".gz", ".gzip", ".zlib", ".z"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _not_a_report(name: str, kind: str, head: bytes) -> str:
    if kind == "empty":
        return f"{name} is empty."
    if kind == "json":
        if _is_tls_report(head):
            return f"{name} is an SMTP TLS report (RFC 8460), not a DMARC aggregate report."
        return f"{name} is JSON; DMARC aggregate reports are XML."
    if kind == "binary":
        return f"{name} is not a report: it is binary data in no format a report comes in (XML, gzip, zip, e-mail)."
    start = head[:40].decode("utf-8", "replace").strip().replace("\n", " ")
    return f"{name} is not XML: it begins with '{start}'."


def _is_tls_report(head: bytes) -> bool:
    try:
        data = json.loads(head.decode("utf-8", "replace"))
    except (ValueError, RecursionError):  # not JSON, or nested deeper than Python's stack
        return b'"policies"' in head and b'"organization-name"' in head
    return isinstance(data, dict) and "policies" in data and "organization-name" in data


def _zip_members(stream: BinaryIO, name: str, budget: Budget, depth: int) -> Iterator[Found]:
    if stream.seekable():
        yield from _archive_members(stream, name, budget, depth)
        return
    # A zip inside a gzip or an e-mail: its directory is at its end, so it is spooled to a temporary
    # file first (in memory only while small), never read whole into memory.
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spooled:
        copied = 0
        while block := stream.read(BUFFER):
            copied += len(block)
            if copied > budget.limits.max_decompressed_bytes:
                raise ReportError(_too_big(name, budget.limits.max_decompressed_bytes))
            spooled.write(block)
        spooled.seek(0)
        yield from _archive_members(spooled, name, budget, depth)


def _archive_members(stream: BinaryIO, name: str, budget: Budget, depth: int) -> Iterator[Found]:
    entries, directory_bytes = _directory(stream)
    if entries > 2 * budget.limits.max_members or directory_bytes > 2 * budget.limits.max_members * _ENTRY_BYTES:
        # zipfile would read the whole directory first, walking it by its size
        count = f"{entries:,} entries" if entries > 2 * budget.limits.max_members else f"a {directory_bytes >> 10:,} KB directory"
        yield Refusal(
            name, f"{name} holds {count}; more than {budget.limits.max_members} files are refused (the limit is configurable)."
        )
        return
    try:
        archive = zipfile.ZipFile(stream)
    except _ZIP_DAMAGE as exc:
        yield Refusal(name, f"{name} is a damaged zip archive ({exc}).")
        return
    members = [info for info in archive.infolist() if not info.filename.endswith("/")]  # is_dir() fails on a name ''
    if not members:
        yield Refusal(name, f"{name} is a zip archive with no files in it.")
        return
    if _overlapping(members):
        yield Refusal(
            name,
            f"{name} is refused: its files overlap, sharing compressed bytes, a trick of zip bombs that no real archive uses.",
        )
        return
    if len(members) > budget.limits.max_members:
        yield Refusal(
            name,
            f"{name} holds {len(members)} files; more than {budget.limits.max_members} are refused (the limit is configurable).",
        )
        return
    for number, info in enumerate(members, 1):
        member = f"{name} › {info.filename or f'member {number}'}"
        label = f"member {number} ({info.filename or 'no name'}) of {name}"
        if not budget.take_part():
            yield Refusal(member, f"{label} and the rest of {name} were not read: {budget.spent}")
            return
        if info.flag_bits & 0x1:
            yield Refusal(member, f"{label} is password-protected.")
        elif info.file_size > budget.limits.max_decompressed_bytes:
            yield Refusal(member, _too_big(label, budget.limits.max_decompressed_bytes))
        elif info.file_size == 0:
            yield Refusal(member, f"{label} is empty.")
        else:
            for found in _child(
                lambda info=info, label=label: _Capped(_open_member(archive, info, label), label, info.file_size, budget),
                member,
                budget,
                depth,
            ):
                yield _relabel(found, member, label)


#: Bytes of a zip's directory per member, generously: a report's entry takes about a hundred.
_ENTRY_BYTES = 1024


def _directory(stream: BinaryIO) -> tuple[int, int]:
    """The entries and bytes of a zip's directory as its end record declares them ((0, 0) if it has
    none), read before zipfile reads the directory itself: a million empty entries cost it seconds
    and hundreds of MB."""
    size = stream.seek(0, io.SEEK_END)
    stream.seek(max(0, size - 22 - 0xFFFF))
    tail = stream.read()
    stream.seek(0)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return 0, 0
    entries, size = struct.unpack_from("<HI", tail, at + 10)
    locator = tail[at - 20 : at] if at >= 20 else b""
    if locator[:4] == b"PK\x06\x07":  # Zip64: the counts are in the Zip64 record
        stream.seek(struct.unpack_from("<Q", locator, 8)[0])
        record = stream.read(56)
        stream.seek(0)
        if record[:4] == b"PK\x06\x06" and len(record) == 56:
            entries, size = struct.unpack_from("<QQ", record, 32)
    return entries, size


def _overlapping(members: list[zipfile.ZipInfo]) -> bool:
    """Whether one member's data runs into the next member (CPython checks this itself from 3.12)."""
    ordered = sorted(members, key=lambda info: info.header_offset)
    return any(one.header_offset + one.compress_size > after.header_offset for one, after in itertools.pairwise(ordered))


def _relabel(found: Found, member: str, label: str) -> Found:
    """Say "member 2 (x.txt) of reports.zip is not XML" rather than the member's bare path."""
    if isinstance(found, Refusal) and found.reason.startswith(member):
        return Refusal(found.name, label + found.reason[len(member) :])
    return found


def _read_capped(stream: BinaryIO, name: str, limit: int) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise ReportError(_too_big(name, limit))
    return data


#: Bytes of an e-mail given to the parser at a time.
_EMAIL_BLOCK = 1 << 16


def _parsed_email(data: bytes) -> email.message.Message:
    """``email.message_from_bytes(data)``, fed to the same parser in blocks: that function first
    copies the whole text into a StringIO, at up to four bytes a character, which made reading a
    report e-mail of a few MB the peak of memory of reading its 100,000 records."""
    parser = email.parser.BytesFeedParser(policy=email.policy.compat32)
    for start in range(0, len(data), _EMAIL_BLOCK):
        parser.feed(data[start : start + _EMAIL_BLOCK])
    return parser.close()


def _email_parts(stream: BinaryIO, name: str, budget: Budget, depth: int) -> Iterator[Found]:
    data = _read_capped(stream, name, budget.limits.max_email_bytes)
    try:
        message = _parsed_email(data)
        parts = list(message.walk())
    except RecursionError:  # the parser and walk() recurse once per level of nesting
        raise ReportError(f"{name} is an e-mail whose parts nest deeper than any report e-mail; refused.") from None
    kinds = [part.get_content_type() for part in parts]
    report_type = (message.get_param("report-type") or "") if message.get_content_type() == "multipart/report" else ""
    if report_type == "feedback-report" or "message/feedback-report" in kinds:
        # An ARF report, decided before any attachment: those belong to the message it reports.
        yield _feedback_report(name, data, parts)
        return
    found_any = False
    for number, (part, content_type) in enumerate(zip(parts, kinds, strict=True), 1):
        if part.is_multipart() or content_type.startswith("message/"):
            continue
        try:
            payload = part.get_payload(decode=True)
        except (ValueError, TypeError):
            payload = None
        if not payload:
            continue
        kind = sniff(payload[:BUFFER])
        if part.get_content_maintype() == "text" and not part.get_filename() and b"<feedback" not in payload[:BUFFER]:
            continue  # the message's own text or HTML body, not an attachment
        if kind in ("gzip", "zlib", "zip", "xml", "email"):  # a report e-mail may come attached as a file
            found_any = True
            if not budget.take_part():
                yield Refusal(name, f"the rest of {name} was not read: {budget.spent}")
                return
            part_name = f"{name} › {part.get_filename() or f'part {number}'}"
            yield from _child(lambda payload=payload: io.BytesIO(payload), part_name, budget, depth)
    if found_any:
        return
    exim = _exim_failure_report(name, data, parts) if report_type == "" and kinds[0] == "multipart/report" else None
    if exim is not None:
        yield exim
    elif any("tlsrpt" in kind for kind in kinds):
        yield Refusal(name, f"{name} is an SMTP TLS report (RFC 8460), not a DMARC aggregate report.")
    else:
        parts = ", ".join(dict.fromkeys(kinds))
        yield Refusal(name, f"{name} is an e-mail with no DMARC report attached (its parts: {parts}).")


#: Characters kept of a failure report's field: more than any domain, address or date takes.
_FIELD_CHARS = 256


def _feedback_report(name: str, data: bytes, parts: list) -> FailureReport | Refusal:
    """An ARF report (RFC 5965): a failure report (Feedback-Type auth-failure, RFC 6591) with the few
    fields a list of them shows, or, for any other type (abuse, fraud ...), a refusal. A report that
    does not say its type is taken for a failure report: DMARC is what sends ARF to a report address."""
    fields = _feedback_fields(parts)
    feedback_type = _field(fields, "Feedback-Type").lower()
    if feedback_type not in ("auth-failure", ""):
        return Refusal(name, f"{name} is an ARF feedback report (Feedback-Type: {feedback_type}), not a DMARC aggregate report.")
    return FailureReport(
        name,
        data,
        feedback_type,
        reported_domain=_field(fields, "Reported-Domain"),
        # RFC 5965 allows a comment after the address: "192.0.2.1 (mail.example.net)".
        source_ip=_field(fields, "Source-IP").partition("(")[0].strip(),
        # Received-Date: the name in RFC 6591's own example and in early ARF reporters.
        arrival_date=_field(fields, "Arrival-Date") or _field(fields, "Received-Date"),
    )


#: Exim's DMARC failure report has no ARF part: its text says what failed, then copies the headers.
_EXIM_MARKER = b"This is a copy of the headers that were received before the error was detected"
_EXIM_FIELD = re.compile(rb"^\s*(Sender Domain|Sender IP Address|Received date):[ \t]*(.+?)\s*$", re.MULTILINE)


def _exim_failure_report(name: str, data: bytes, parts: list) -> FailureReport | None:
    """Exim's failure report (multipart/report with one text/plain part), or None."""
    for part in parts:
        if part.get_content_type() != "text/plain":
            continue
        text = part.get_payload(decode=True) or b""
        if _EXIM_MARKER in text:
            fields = {
                label.decode(): value.decode("utf-8", "replace")[:_FIELD_CHARS] for label, value in _EXIM_FIELD.findall(text)
            }
            return FailureReport(
                name,
                data,
                "auth-failure",
                reported_domain=fields.get("Sender Domain", ""),
                source_ip=fields.get("Sender IP Address", ""),
                arrival_date=fields.get("Received date", ""),
            )
    return None


def _feedback_fields(parts: list) -> email.message.Message:
    """The fields of the message/feedback-report part, as headers (none if there is no such part)."""
    for part in parts:
        if part.get_content_type() != "message/feedback-report":
            continue
        payload = part.get_payload()
        fields = payload[0] if isinstance(payload, list) and payload else email.message.Message()
        encoded = fields.get_payload()
        base64_encoded = part.get("Content-Transfer-Encoding", "").strip().lower() == "base64"
        if not fields.keys() and isinstance(encoded, str) and base64_encoded:
            # Re-encoded on the way (a Netease report through Outlook): the fields are the decoded text.
            try:
                decoded = base64.b64decode(encoded)
            except ValueError:  # not base64 after all (binascii.Error), or not even ASCII
                return email.message.Message()
            return email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(decoded)
        return fields
    return email.message.Message()


def _field(fields: email.message.Message, name: str) -> str:
    """A field's value as one line of text; bytes that are no UTF-8 become replacement characters."""
    value = fields.get(name)
    if value is None:
        return ""
    text = "".join(
        chunk.decode("utf-8", "replace") if isinstance(chunk, bytes) else chunk for chunk, _ in email.header.decode_header(value)
    )
    return " ".join(text.split())[:_FIELD_CHARS]
