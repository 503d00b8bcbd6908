"""One message checked and explained: the DMARC verdict with each identifier's alignment, the
table row, the root cause and its fix, by the same rules as the Explorer and the triage, and
where the receiver's Authentication-Results and our own verification disagree."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..lookups.discovery import discover_dmarc
from ..lookups.resolver import FAILED
from ..lookups.spf import SpfEvaluation, evaluate_spf
from ..rules.evaluation import DmarcEvaluation, evaluate_dmarc
from ..rules.knowledge import knowledge
from ..rules.scenario import Scenario
from .model import Message, ReceiverResults
from .reading import read_message
from .verification import ArcCheck, SignatureCheck, check_arc, check_signatures

if TYPE_CHECKING:  # the resolver is the lookups' to use; here it is only passed on
    import dns.asyncresolver


@dataclass(frozen=True)
class SpfCheck:
    """SPF for the identity DMARC uses: the MAIL FROM domain, or postmaster@HELO for a null
    MAIL FROM (RFC 9989 3.2.4, RFC 7208 2.4). ``source`` says who evaluated it."""

    domain: str
    result: str | None
    source: str
    detail: str = ""


@dataclass(frozen=True)
class PolicyUsed:
    """The alignment modes the verdict used, and where they came from."""

    adkim: str = "r"
    aspf: str = "r"
    p: str = ""
    source: str = "assumed relaxed: the DMARC record was not looked up"
    #: False when DNS says no DMARC record applies: DMARC does not apply (RFC 9989 5.3.2).
    #: None when it is not known (not looked up, or DNS did not answer).
    applies: bool | None = None


@dataclass(frozen=True)
class MessageCheck:
    """A message read, verified and explained. ``evaluation`` is None when the verdict cannot be
    told: some identifier's result is unknown and the known ones do not make DMARC pass."""

    message: Message
    signatures: tuple[SignatureCheck, ...]
    spf: SpfCheck
    arc: ArcCheck | None
    policy: PolicyUsed
    evaluation: DmarcEvaluation | None
    looked_up: bool
    disagreements: tuple[str, ...] = ()

    @property
    def receiver(self) -> ReceiverResults | None:
        """The final receiver's Authentication-Results: the topmost field (RFC 8601 5)."""
        return self.message.receiver_results

    @property
    def dmarc_applies(self) -> bool:
        """False when no DMARC record applies to the From: domain (RFC 9989 5.3.2)."""
        return self.policy.applies is not False

    @property
    def dmarc_pass(self) -> bool | None:
        return self.evaluation.dmarc_pass if self.evaluation and self.dmarc_applies else None

    @property
    def fix(self) -> str:
        """The fix for the cause, said for the signature it is about when the key is the trouble."""
        if self.evaluation is None:
            return ""
        if self.evaluation.diagnosis.cause == "selector_missing":
            for check in self.signatures:
                advice = knowledge().key_advice.get(check.status)
                if advice and check.signature.domain in self.evaluation.diagnosis.signers:
                    return advice.format(domain=check.signature.domain, selector=check.signature.selector)
        return self.evaluation.fix

    @property
    def unknown(self) -> tuple[str, ...]:
        """The identifiers whose result is not known, as labels."""
        unknown = [
            f"DKIM d={check.signature.domain} s={check.signature.selector}" for check in self.signatures if check.result is None
        ]
        if self.spf.result is None and self.spf.domain:
            unknown.append(f"SPF for {self.spf.domain}")
        return tuple(unknown)

    def scenario(self) -> Scenario:
        """The case as an Explorer scenario: identifiers and results only, nothing personal."""
        dkim = tuple((check.signature.domain, check.result) for check in self.signatures if check.result)
        spf = (self.spf.domain, self.spf.result) if self.spf.domain and self.spf.result else None
        return Scenario(self.message.from_header.domain, dkim, spf, self.policy.adkim, self.policy.aspf)

    def to_json(self) -> dict[str, Any]:
        evaluation, message = self.evaluation, self.message
        diagnosis = evaluation.diagnosis if evaluation else None
        aligned = {result.domain: result.alignment.aligned for result in evaluation.dkim} if evaluation else {}
        return {
            "from_domain": message.from_header.domain,
            "from_problem": message.from_header.problem,
            "organizational_domain": evaluation.organizational_domain if evaluation else None,
            "dmarc_pass": self.dmarc_pass,
            "cause": diagnosis.cause if diagnosis else None,
            "table_row": diagnosis.table_row if diagnosis else None,
            "explanation": diagnosis.explanation if diagnosis else None,
            "fix": self.fix or None,
            "dmarc_applies": self.dmarc_applies,
            "unknown": list(self.unknown),
            "policy": {"adkim": self.policy.adkim, "aspf": self.policy.aspf, "p": self.policy.p, "source": self.policy.source},
            "signatures": [
                {
                    "domain": check.signature.domain,
                    "selector": check.signature.selector,
                    "status": check.status,
                    "result": check.result,
                    "result_source": check.result_source,
                    "aligned": aligned.get(check.signature.domain),
                    "signs_from": check.signature.signs_from,
                    "algorithm": check.signature.algorithm,
                    "body_intact": check.body_intact,
                    "key_bits": check.key.bits if check.key else None,
                    "detail": check.detail,
                }
                for check in self.signatures
            ],
            "spf": {"domain": self.spf.domain, "result": self.spf.result, "source": self.spf.source, "detail": self.spf.detail},
            "arc": self._arc_json(),
            "mail_from": message.mail_from,
            "connecting_ip": message.connecting_ip,
            "receivers": [
                {
                    "authserv_id": results.authserv_id,
                    "dkim": [verdict.result for verdict in results.dkim],
                    "spf": results.spf,
                    "dmarc": results.dmarc,
                }
                for results in message.authentication_results
            ],
            "disagreements": list(self.disagreements),
            "feedback_type": message.feedback_report.feedback_type if message.feedback_report else None,
            "explorer_query": self.scenario().query_string(),
            "looked_up": self.looked_up,
            "notes": list(message.notes),
        }

    def _arc_json(self) -> dict[str, Any] | None:
        if self.arc is None:
            return None
        first = self.arc.first_hop.results if self.arc.first_hop else None
        recorded = None
        if first is not None:  # what the first intermediary found on arrival, before any change
            dkim = [[verdict.domain, verdict.result] for verdict in first.dkim]
            recorded = {"authserv_id": first.authserv_id, "dkim": dkim, "spf": first.spf, "dmarc": first.dmarc}
        return {"status": self.arc.status, "sealed_by": self.arc.sealed_by, "detail": self.arc.detail, "first_hop": recorded}


def check_message(
    data: bytes | str,
    *,
    lookup: bool = False,
    resolver: dns.asyncresolver.Resolver | None = None,
    name: str = "",
    now: float | None = None,
) -> MessageCheck:
    """Read, verify and explain one message; ``MessageError`` when it cannot be read as one.
    Without ``lookup`` nothing touches the network: what needs DNS is taken from the receiver's
    Authentication-Results and said to be."""
    message = read_message(data, name)
    signatures = check_signatures(message, lookup=lookup, resolver=resolver, now=now)
    spf = _spf(message, lookup, resolver)
    arc = check_arc(message, lookup=lookup, resolver=resolver)
    policy = _policy(message, lookup, resolver)
    evaluation = _evaluate(message, signatures, spf, policy, lookup)
    check = MessageCheck(message, signatures, spf, arc, policy, evaluation, lookup)
    return dataclasses.replace(check, disagreements=_disagreements(check))


def _spf(message: Message, lookup: bool, resolver: dns.asyncresolver.Resolver | None) -> SpfCheck:
    """SPF for the identity DMARC uses: the MAIL FROM, or postmaster@HELO for the null reverse-path
    (RFC 7208 2.4); when the headers do not say what the MAIL FROM was, only the receiver can."""
    if message.mail_from is None:
        domain = ""
    else:
        domain = message.mail_from_domain or message.helo.lower().rstrip(".")
    receiver = message.receiver_results
    if lookup and domain and message.connecting_ip:
        evaluated: SpfEvaluation = evaluate_spf(message.connecting_ip, message.mail_from or "", message.helo, resolver)
        if evaluated.result == "temperror":  # our DNS did not answer: no verdict on the sender
            return SpfCheck(evaluated.domain, None, "DNS did not answer here", evaluated.explanation)
        return SpfCheck(evaluated.domain, evaluated.result, "evaluated here", evaluated.explanation)
    if receiver is not None and receiver.spf:
        return SpfCheck(receiver.spf_domain or domain, receiver.spf, f"as {receiver.authserv_id or 'the receiver'} recorded")
    if message.mail_from is None:
        return SpfCheck("", None, "the headers do not say what the MAIL FROM was (no Return-Path:)")
    if not domain:
        return SpfCheck("", None, "no MAIL FROM or HELO in the headers")
    why = "no connecting IP in the headers" if not message.connecting_ip else "not looked up"
    return SpfCheck(domain, None, why)


def _policy(message: Message, lookup: bool, resolver: dns.asyncresolver.Resolver | None) -> PolicyUsed:
    domain = message.from_header.domain
    receiver = message.receiver_results
    if not (lookup and domain):
        if receiver is not None and receiver.dmarc == "none":  # the receiver found no policy to apply
            return PolicyUsed(source=f"{receiver.authserv_id or 'the receiver'} recorded dmarc=none: no policy", applies=False)
        return PolicyUsed()
    applied = discover_dmarc(domain, resolver).applied
    if applied.status in FAILED:
        return PolicyUsed(source=f"not known: DNS did not answer for the DMARC record of {domain}")
    record = applied.policy.record if applied.policy else None
    if record is None:
        return PolicyUsed(source=f"no DMARC record applies to {domain}", applies=False)
    return PolicyUsed(record.adkim, record.aspf, record.p, f"the DMARC record at {applied.policy.name}", applies=True)


def _evaluate(
    message: Message, signatures: tuple[SignatureCheck, ...], spf: SpfCheck, policy: PolicyUsed, lookup: bool
) -> DmarcEvaluation | None:
    if not message.from_header.domain:
        return None
    known = tuple((check.signature.domain, check.result) for check in signatures if check.result)
    spf_result = (spf.domain, spf.result) if spf.domain and spf.result else None
    try:
        evaluation = evaluate_dmarc(message.from_header.domain, known, spf_result, policy.adkim, policy.aspf)
    except ValueError:  # a From: domain that is not a domain name: DMARC has nothing to judge
        return None
    complete = len(known) == len(signatures) and (spf_result is not None or not spf.domain)
    modes_known = not lookup or policy.applies is not None  # looked up, yet DNS did not say
    return evaluation if modes_known and (evaluation.dmarc_pass or complete) else None


def _disagreements(check: MessageCheck) -> tuple[str, ...]:
    """Where the final receiver recorded something other than what we established, and why that happens."""
    receiver = check.receiver
    if receiver is None or not check.looked_up:
        return ()
    who = receiver.authserv_id or "The receiver"
    found = []
    for signature in check.signatures:
        theirs = signature.receiver.result if signature.receiver else None
        ours = signature.result if signature.result_source == "verified here" else None
        if not theirs or not ours or theirs == ours:
            continue
        label = f"DKIM d={signature.signature.domain} s={signature.signature.selector}"
        if ours == "pass":
            found.append(
                f"{who} recorded {theirs} for {label}, but it verifies here: the key may have been published or "
                "changed since, or that receiver could not fetch it at the time."
            )
        else:
            found.append(
                f"{who} recorded {theirs} for {label}, but here it is {signature.status.replace('_', ' ')}: the copy "
                "checked here differs from what that receiver saw (a gateway or mail client changed it after "
                "delivery), or the key changed since."
            )
    if check.spf.source == "evaluated here" and receiver.spf and receiver.spf != check.spf.result:
        found.append(
            f"{who} recorded spf={receiver.spf}, but it evaluates to {check.spf.result} here: the SPF record "
            "may have changed since delivery."
        )
    if receiver.dmarc and check.dmarc_pass is not None and (receiver.dmarc == "pass") != check.dmarc_pass:
        found.append(
            f"{who} recorded dmarc={receiver.dmarc}, but the verdict here is "
            f"{'pass' if check.dmarc_pass else 'fail'}, for the reasons above."
        )
    return tuple(found)
