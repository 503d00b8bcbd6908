"""The cause rules of DESIGN.md: from what DKIM and SPF said of one message (or one report
record) to a finding of the quick diagnosis table.

One function serves the Explorer and the triage. It is memoized, so a report with 100,000
records costs one call per distinct combination of domains and results.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

from .alignment import aligns, safe_domain, safe_organizational_domain
from .knowledge import Finding, KnownSender, knowledge, known_sender

#: policy_evaluated reasons that say the receiver saw the message relayed.
RELAY_REASONS = frozenset({"forwarded", "trusted_forwarder", "mailing_list"})
#: DKIM results that mean the key could not be fetched (temperror: for now) or used.
KEY_ERRORS = frozenset({"permerror", "temperror"})
#: RFC 8601 2.7.1 results for a signature that did not verify, other than fail, each its own finding.
_UNVERIFIED = {"policy": "dkim_policy", "neutral": "dkim_neutral", "none": "dkim_none"}


@dataclass(frozen=True)
class Diagnosis:
    """A finding of the diagnosis table, with the domains it is about."""

    finding: Finding
    from_domain: str
    org_domain: str
    signers: tuple[str, ...] = ()
    signing_result: str | None = None
    #: Signatures beside the one the finding is about that passed (for another domain).
    other_signers: tuple[str, ...] = ()
    #: The receiver's reasons (policy_evaluated <reason><type>), as evidence beside the cause.
    reasons: tuple[str, ...] = ()

    @property
    def cause(self) -> str:
        return self.finding.cause

    @property
    def table_row(self) -> int | None:
        return self.finding.table_row

    @property
    def signing_domain(self) -> str:
        """The DKIM domain(s) the finding is about, as text."""
        return ", ".join(self.signers)

    @property
    def explanation(self) -> str:
        return self.finding.explanation.format(**self._words())

    @property
    def fix(self) -> str:
        return self.finding.fix.format(**self._words())

    def sender_advice(self, sender: KnownSender | None) -> str:
        """Where ``sender`` turns on signing with your domain (the article's list under root
        cause 1), for a finding that sender must fix before enforcing; otherwise empty."""
        if sender and sender.setting and self.finding.blocks_rollout:
            return f"At {sender.name}: {sender.setting}."
        return ""

    def fix_for(self, sender: KnownSender | None) -> str:
        """The fix, followed by where ``sender`` turns on signing with your domain when it must; for
        a sender the catalogue does not know, the finding's fix for those where it has one."""
        if sender is None and self.finding.unknown_sender_fix:
            return self.finding.unknown_sender_fix.format(**self._words())
        return " ".join(filter(None, (self.fix, self.sender_advice(sender))))

    def _words(self) -> dict[str, str]:
        return {
            "from_domain": self.from_domain or "(no From: domain)",
            "org_domain": self.org_domain or "(unknown)",
            "signing_domain": self.signing_domain or "(no domain)",
            "signing_result": self.signing_result or "(no result)",
            "other_signers": ", ".join(self.other_signers),
            "reason": ", ".join(self.reasons),
        }


def authenticated_sender(results: Iterable[tuple[str | None, str]]) -> KnownSender | None:
    """The known sender named by the first (domain, result) that passed, DKIM or SPF. A domain
    whose check failed names nobody: anyone can write it into a header."""
    return next(filter(None, (known_sender(domain) for domain, result in results if result == "pass" and domain)), None)


def spf_passes_for(from_domain: str | None, spf: Iterable[tuple[str | None, str]]) -> bool:
    """Whether SPF passed for the From: domain's organization, that is, the message left a server
    that domain authorised. A pass for a forwarder's or a mailing list's own domain does not count."""
    return any(result == "pass" and aligns(from_domain, domain) for domain, result in spf)


def _rank(result: str) -> int:
    # Among your own signatures a pass decides before a key error, which decides before a failure.
    return 0 if result == "pass" else 1 if result in KEY_ERRORS else 2


@functools.lru_cache(maxsize=65536)
def diagnose(
    header_from: str | None,
    dkim: tuple[tuple[str | None, str], ...],
    *,
    adkim: str = "r",
    dkim_pass: bool,
    spf_passed_for_you: bool,
    spf_passed_for_others: bool = False,
    spf_error_for_you: bool = False,
    spf_not_counted: bool = False,
    reasons: tuple[str, ...] = (),
) -> Diagnosis:
    """Apply the cause rules of DESIGN.md.

    ``dkim`` holds (d= domain, result) pairs as reported; an entry without a domain is no
    signature. ``adkim`` is the published mode; ``dkim_pass`` the DKIM verdict (policy_evaluated
    dkim); ``spf_passed_for_you`` whether SPF (MAIL FROM) passed for your organization (``spf_passes_for``),
    ``spf_passed_for_others`` whether it passed for another domain, ``spf_error_for_you`` whether
    it returned permerror or temperror for your organization; ``spf_not_counted`` whether SPF
    passed and aligned (under the published aspf) in the results listed, yet the receiver's SPF
    verdict (policy_evaluated spf) is fail; ``reasons`` the receiver's.
    """
    findings = knowledge().findings
    from_domain = safe_domain(header_from)
    org = safe_organizational_domain(from_domain)
    signatures = tuple((domain, result) for domain, result in dkim if domain)
    relayed = tuple(reason for reason in reasons if reason in RELAY_REASONS)

    def found(key: str, signers: tuple[str, ...] = (), result: str | None = None, others: tuple[str, ...] = ()) -> Diagnosis:
        return Diagnosis(findings[key], from_domain or "", org or "", signers, result, others, reasons)

    # "Your domain" is the From: domain's organization; under adkim=s, an exact match is preferred.
    aligned = [aligns(from_domain, domain) for domain, _ in signatures]
    yours = sorted(
        (signature for signature, is_yours in zip(signatures, aligned, strict=True) if is_yours),
        key=lambda signature: (_rank(signature[1]), not aligns(from_domain, signature[0], adkim)),
    )
    foreign_passes = tuple(
        domain for (domain, result), is_yours in zip(signatures, aligned, strict=True) if result == "pass" and not is_yours
    )
    if dkim_pass:
        signer = next((domain for domain, result in yours if result == "pass"), None)
        return found("aligned", (signer,), "pass") if signer else found("aligned_as_reported")
    if relayed:  # the receiver saw it forwarded: root cause 2, whatever DKIM said (the article)
        return found("forwarded_reported", tuple(domain for domain, _ in yours))
    if not signatures:
        if spf_passed_for_you:
            return found("unsigned")  # your own server, sending without DKIM
        if spf_error_for_you:
            return found("spf_broken")  # your SPF record could not be evaluated: no sign of spoofing
        return found("unsigned_elsewhere" if spf_passed_for_others else "unsigned_unknown")
    if not yours:
        if foreign_passes:
            return found("wrong_domain", foreign_passes, "pass")
        return found("wrong_domain_unverified", tuple(domain for domain, _ in signatures), signatures[0][1])
    domain, result = yours[0]
    if result == "pass":
        if not aligns(from_domain, domain, adkim):
            return found("strict_mismatch", (domain,), result)
        stricter_record = domain == org and from_domain != org  # a record on the subdomain may set adkim=s and aspf=s
        if spf_not_counted and not stricter_record:
            # Both aligned identifiers failed by the receiver's verdict: no second signature explains SPF.
            return found("verdict_contradicts_results", (domain,), result)
        if len(signatures) > 1:
            return found("multiple_signatures", (domain,), result)
        if stricter_record:  # adkim=r published, yet failed: a record of its own (root cause 3)
            return found("strict_on_subdomain", (domain,), result)
        return found("dkim_pass_not_counted", (domain,), result)
    if result == "permerror":
        return found("selector_missing", (domain,), result)
    if result == "temperror":
        return found("dns_temporary", (domain,), result)
    if result in _UNVERIFIED:
        return found(_UNVERIFIED[result], (domain,), result)
    # A sender that originates mail (an ESP beside you) signed the same message and it verified: the
    # body arrived intact. A forwarder's or a list's pass proves nothing: it signs what it changed.
    witnesses = tuple(other for other in foreign_passes if (sender := known_sender(other)) and sender.originates)
    if witnesses:
        return found("signature_failed_beside_pass", (domain,), result, witnesses)
    return found("signature_failed" if spf_passed_for_you else "forwarded", (domain,), result)
