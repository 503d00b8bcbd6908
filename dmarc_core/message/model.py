"""What a message says about itself, as read (``reading``); verification and verdict live in
``verification`` and ``check``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

#: Sizes past which a pasted or dropped message is refused, or read in part: no real message's
#: header block comes near them, and they bound the time and memory one check may take.
MAX_MESSAGE_BYTES = 32 * 1024 * 1024
MAX_HEADER_FIELDS = 1000
MAX_SIGNED_HEADERS = 100

FromProblem = Literal["none", "several", "group", "no_domain", "unreadable"]


class MessageError(ValueError):
    """Text that cannot be checked as a message, with a reason a person understands."""


@dataclass(frozen=True)
class FromHeader:
    """The RFC 5322 From: field: one address (``domain`` set), or why DMARC cannot use it
    (RFC 9989 4.2, 5.3.1 and 11.5: none, several addresses or fields, a group, no domain)."""

    raw: str
    address: str = ""
    domain: str = ""
    problem: FromProblem | None = None


@dataclass(frozen=True)
class DkimSignature:
    """One DKIM-Signature field as written (RFC 6376 3.5). ``position`` counts from the top, as
    dkimpy's index does; ``problem`` says why a verifier rejects the field before any DNS."""

    position: int
    domain: str
    selector: str
    algorithm: str = ""
    canonicalization: str = "simple/simple"
    signed_headers: tuple[str, ...] = ()
    identity: str = ""
    body_length: int | None = None
    signed_at: int | None = None
    expires_at: int | None = None
    problem: str | None = None

    @property
    def signs_from(self) -> bool:
        """RFC 6376 5.4: From: must be signed; a signature that leaves it out proves nothing of it."""
        return "from" in self.signed_headers


@dataclass(frozen=True)
class DkimVerdict:
    """A receiver's ``dkim=`` result for one signature, from its Authentication-Results."""

    result: str
    domain: str = ""
    selector: str = ""
    #: The first characters of b= (header.b, RFC 6008), telling two signatures of one domain apart.
    signature_prefix: str = ""
    reason: str = ""


@dataclass(frozen=True)
class ReceiverResults:
    """One Authentication-Results field (RFC 8601), parsed: who wrote it and what it found."""

    authserv_id: str
    dkim: tuple[DkimVerdict, ...] = ()
    spf: str | None = None
    spf_domain: str = ""
    dmarc: str | None = None
    dmarc_from: str = ""
    arc: str | None = None
    raw: str = ""
    problem: str | None = None


@dataclass(frozen=True)
class ArcSet:
    """One ARC set (RFC 8617 4.1): the instance ``i=``, who sealed it (ARC-Seal d=), what the
    sealer said of the chain before it (cv=), and the Authentication-Results it recorded."""

    instance: int
    sealed_by: str
    chain_validation: str
    signed_by: str = ""
    results: ReceiverResults | None = None


@dataclass(frozen=True)
class FeedbackReport:
    """The machine-readable part of an RFC 5965 / RFC 6591 report, when the input is one."""

    feedback_type: str
    auth_failure: str = ""
    reported_domain: str = ""
    source_ip: str = ""
    original_mail_from: str = ""
    arrival_date: str = ""
    delivery_result: str = ""
    dkim_domain: str = ""
    dkim_selector: str = ""
    reporter: str = ""
    #: The reporter's own Authentication-Results (RFC 6591 3.1 requires them in the report part).
    authentication_results: tuple[ReceiverResults, ...] = ()


@dataclass(frozen=True)
class Message:
    """A message as read. ``data`` holds the bytes dkimpy verifies (the header block and the body
    when one came); it is never shown and never stored."""

    data: bytes = field(repr=False)
    has_body: bool
    from_header: FromHeader
    signatures: tuple[DkimSignature, ...] = ()
    #: The envelope sender (RFC 5321 MAIL FROM) as the final receiver recorded it in Return-Path:;
    #: "" for the null reverse-path (<>, bounces), None when the headers do not say.
    mail_from: str | None = None
    #: The SMTP client's IP address and HELO name, from the receiver's Received: field.
    connecting_ip: str = ""
    helo: str = ""
    authentication_results: tuple[ReceiverResults, ...] = ()
    #: The final receiver's own Authentication-Results (see ``reading._receiver_results_of``), or None.
    receiver_results: ReceiverResults | None = None
    arc_sets: tuple[ArcSet, ...] = ()
    feedback_report: FeedbackReport | None = None
    #: When the message arrived (POSIX seconds): the failure report's Arrival-Date, else the date of
    #: the topmost Received: field. A signature's x= is judged against it, not against today.
    arrived_at: float | None = None
    #: What was repaired or left out while reading, in sentences.
    notes: tuple[str, ...] = ()

    @property
    def mail_from_domain(self) -> str:
        return (self.mail_from or "").rpartition("@")[2].strip().lower().rstrip(".")
