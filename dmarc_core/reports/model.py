"""What report reading produces: a report with its records as Arrow columns, the outcome of one
uploaded file (its reports, its failure reports and its refusals), and the limits that keep hostile
input bounded."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

RFC9990_NAMESPACE = "urn:ietf:params:xml:ns:dmarc-2.0"
#: A record's one-value columns, in order: text as reported, trimmed (``count`` an integer).
RECORD_COLUMNS = (
    "source_ip",
    "count",
    "disposition",
    "reported_dkim",
    "reported_spf",
    "reason",
    "reason_comment",
    "header_from",
    "envelope_from",
    "envelope_to",
)
#: A record's <auth_results>: a list column per method, one struct per <dkim> or <spf> element.
AUTH_FIELDS = {"dkim": ("domain", "selector", "result"), "spf": ("domain", "scope", "result")}


class ReportError(ValueError):
    """Input that is not a readable DMARC aggregate report, with a reason a person understands."""


@dataclass(frozen=True)
class Limits:
    """Caps that keep hostile uploads in bounded time and memory. All configurable."""

    #: Bytes one payload may decompress to. A 1,000,000-record report is about 740 MB of XML.
    max_decompressed_bytes: int = 1 << 30
    #: Members read from one zip archive.
    max_members: int = 1000
    #: Containers inside containers (gzip in gzip in an e-mail ...).
    max_depth: int = 4
    #: Bytes of an e-mail (read whole, so kept small; reports attach compressed data).
    max_email_bytes: int = 64 << 20
    #: Bytes one upload may decompress to in all, every container level counted (a 42.zip is 4 PB).
    max_upload_bytes: int = 2 << 30
    #: Zip members and e-mail attachments read from one upload in all, however nested.
    max_parts: int = 2000
    #: Records read from one upload in all (the biggest real reports hold about a million): tiny
    #: records within the byte budget would otherwise cost gigabytes of columns.
    max_records: int = 5_000_000


@dataclass(frozen=True)
class Refusal:
    """A file or archive member that is not a report, and why."""

    name: str
    reason: str


@dataclass(frozen=True)
class FailureReport:
    """A DMARC failure (forensic) report (RFC 6591, ARF of RFC 5965): one message a receiver found
    failing authentication, for the message check. ``data`` is the whole report e-mail as uploaded
    (decompressed, when it came in a gzip or zip); the other fields are the report's own, as text."""

    name: str
    data: bytes = field(repr=False)
    #: auth-failure, or empty where the report does not say.
    feedback_type: str
    reported_domain: str = ""
    source_ip: str = ""
    arrival_date: str = ""


@dataclass(frozen=True, slots=True)
class DkimResult:
    """One <dkim> of a record's <auth_results>: the signature's d=, s= and the receiver's result."""

    domain: str
    selector: str
    result: str


@dataclass(frozen=True, slots=True)
class SpfResult:
    """One <spf> of a record's <auth_results>: the domain checked, its scope (mfrom or helo) and the result."""

    domain: str
    scope: str
    result: str


@dataclass(frozen=True, slots=True)
class AuthResults:
    """A record's <auth_results> as reported: every DKIM signature and SPF check, in order."""

    dkim: tuple[DkimResult, ...] = ()
    spf: tuple[SpfResult, ...] = ()


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
    """One aggregate report: who sent it, the policy, its records as columns, and what was repaired.

    ``records`` has the ``RECORD_COLUMNS`` and the list columns ``dkim`` and ``spf`` of ``AUTH_FIELDS``."""

    file: str
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


FileStatus = Literal["read", "repaired", "refused", "failure_report"]


@dataclass(frozen=True)
class FileOutcome:
    """What became of one uploaded file: the aggregate reports read from it, the failure reports in
    it, and each part that could not be read with the reason (the whole file, when nothing in it is
    a report). A failure report is no refusal: a file of failure reports alone is ``failure_report``."""

    name: str
    reports: tuple[Report, ...] = ()
    refusals: tuple[Refusal, ...] = ()
    failure_reports: tuple[FailureReport, ...] = ()

    @property
    def status(self) -> FileStatus:
        if not self.reports:
            return "failure_report" if self.failure_reports else "refused"
        if self.refusals or any(report.repairs for report in self.reports):
            return "repaired"
        return "read"

    @property
    def record_count(self) -> int:
        return sum(report.record_count for report in self.reports)

    @property
    def messages(self) -> int:
        return sum(report.message_count for report in self.reports)

    @property
    def details(self) -> str:
        """The reason for a refusal, what was repaired, and which parts are failure reports, as text for a person."""
        notes = [f"{r.file}: {repair}" if len(self.reports) > 1 else repair for r in self.reports for repair in r.repairs]
        notes += [
            f"{found.name} is a failure (forensic) report: one message that a receiver found failing authentication"
            f"{f' for {found.reported_domain}' if found.reported_domain else ''}; open it in the message check."
            for found in self.failure_reports
        ]
        notes += [refusal.reason for refusal in self.refusals]
        return "; ".join(notes)


@dataclass(frozen=True)
class DistinctReports:
    """Reports with each one counted once, and the copies that were left out."""

    reports: tuple[Report, ...]
    duplicates: tuple[Report, ...] = ()

    @property
    def note(self) -> str:
        """What was left out, for a person; empty when nothing was."""
        if not self.duplicates:
            return ""
        copies = "; ".join(
            f"{report.metadata.org_name or 'a receiver'}'s report {report.metadata.report_id} in {report.file}"
            for report in self.duplicates[:5]
        )
        more = f" and {len(self.duplicates) - 5} more" if len(self.duplicates) > 5 else ""
        count = len(self.duplicates)
        return f"{count} report{'s' if count != 1 else ''} came twice and {'were' if count != 1 else 'was'} counted once: {copies}{more}."


def distinct_reports(reports: Iterable[Report]) -> DistinctReports:
    """Each report once. A receiver's report_id, with its policy domain and dates, is its identity
    (RFC 9990: unique per report the receiver sends), so the same report uploaded twice, or inside
    two archives, counts once; a report without an id cannot be told apart and is kept."""
    seen: set[tuple] = set()
    kept, duplicates = [], []
    for report in reports:
        metadata = report.metadata
        identity = (metadata.org_name, metadata.report_id, report.policy.domain, metadata.begin, metadata.end)
        if report.metadata.report_id and identity in seen:
            duplicates.append(report)
            continue
        seen.add(identity)
        kept.append(report)
    return DistinctReports(tuple(kept), tuple(duplicates))
