"""The DMARC verdict for one message (RFC 9989 4.7): each identifier judged for alignment, what
carried the verdict, and the diagnosis of the cause rules."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .alignment import Alignment, Identifier, Mode, aligns, check_alignment, parse_mode, parse_result, safe_domain
from .diagnosis import KEY_ERRORS, Diagnosis, authenticated_sender, diagnose, spf_passes_for
from .domains import normalize_domain, organizational_domain
from .knowledge import KnownSender

_IDENTIFIER_NAMES = {"dkim": "DKIM d=", "spf": "SPF MAIL FROM "}


@dataclass(frozen=True)
class IdentifierResult:
    """One DKIM signature or the SPF check, judged for DMARC."""

    identifier: Identifier
    domain: str
    result: str
    alignment: Alignment

    @property
    def passed(self) -> bool:
        return self.result == "pass"

    @property
    def carries_dmarc(self) -> bool:
        """Passes and aligns: this identifier alone makes DMARC pass."""
        return self.passed and self.alignment.aligned

    @property
    def label(self) -> str:
        return f"{_IDENTIFIER_NAMES[self.identifier]}{self.domain}"

    @property
    def explanation(self) -> str:
        if self.carries_dmarc:
            return f"{self.label} passes and aligns: {self.alignment.reason}"
        if self.passed:
            return f"{self.label} passes but does not align: {self.alignment.reason}"
        if self.alignment.aligned:
            return f"{self.label} aligns but its result is {self.result}, and only a pass counts."
        return f"{self.label} is {self.result} and does not align either: {self.alignment.reason}"


@dataclass(frozen=True)
class DmarcEvaluation:
    """The DMARC verdict for one message: each identifier, what carried it, and the diagnosis.

    ``reported_dkim`` and ``reported_spf`` are a receiver's policy_evaluated results when a
    report row is being reproduced: the verdict is then the receiver's, and where it differs from
    what the identifiers given here say, ``disagrees`` says so."""

    header_from: str
    organizational_domain: str
    adkim: Mode
    aspf: Mode
    dkim: tuple[IdentifierResult, ...]
    spf: IdentifierResult | None
    reported_dkim: str | None
    reported_spf: str | None
    reasons: tuple[str, ...]
    judged: RecordVerdict

    @property
    def diagnosis(self) -> Diagnosis:
        return self.judged.diagnosis

    @property
    def dkim_aligned(self) -> bool:
        """The policy_evaluated dkim result: the receiver's when reported, else ours."""
        return self.reported_dkim == "pass" if self.reported_dkim else self.judged.dkim_aligned

    @property
    def spf_aligned(self) -> bool:
        """The policy_evaluated spf result: the receiver's when reported, else ours."""
        return self.reported_spf == "pass" if self.reported_spf else self.judged.spf_aligned

    @property
    def dmarc_pass(self) -> bool:
        return self.judged.dmarc_pass

    @property
    def disagrees(self) -> bool:
        """The receiver's verdict differs from what the identifiers given here say."""
        return self.judged.disagrees

    @property
    def fragile(self) -> str | None:
        """Why a pass that rests on SPF alone is at risk, or None: forwarding breaks SPF, so only
        an aligned DKIM signature survives it (the article's root cause 2)."""
        if self.dmarc_pass and not self.dkim_aligned:
            return (
                "DMARC passes on SPF alone. DKIM does not carry it, so forwarding (which breaks SPF) "
                "would make this mail fail. DKIM's own diagnosis:"
            )
        return None

    @property
    def carried_by(self) -> tuple[IdentifierResult, ...]:
        """The identifiers given here that pass and align, where the verdict for their kind is pass."""
        dkim = tuple(signature for signature in self.dkim if signature.carries_dmarc) if self.dkim_aligned else ()
        spf = (self.spf,) if self.spf is not None and self.spf.carries_dmarc and self.spf_aligned else ()
        return dkim + spf

    @property
    def sender(self) -> KnownSender | None:
        """The known sender behind the message, named only by a domain that passed."""
        identifiers = (*self.dkim, *((self.spf,) if self.spf else ()))
        return authenticated_sender((result.domain, result.result) for result in identifiers)

    @property
    def sender_advice(self) -> str:
        """Where that sender turns on signing with your domain, when the diagnosis asks for it."""
        return self.diagnosis.sender_advice(self.sender)

    @property
    def fix(self) -> str:
        """The diagnosis's fix with that advice: what the triage's fix column says for the same case."""
        return self.diagnosis.fix_for(self.sender)

    @property
    def verdict(self) -> str:
        return "DMARC pass" if self.dmarc_pass else "DMARC fail"

    @property
    def summary(self) -> str:
        """Why the verdict is what it is, in one sentence."""
        reported = " and ".join(
            kind
            for kind, verdict, ours in (
                ("DKIM", self.reported_dkim, self.judged.dkim_aligned),
                ("SPF", self.reported_spf, self.judged.spf_aligned),
            )
            if verdict and (verdict == "pass") != ours
        )
        given = {"DKIM": "signature", "SPF": "SPF result"}.get(reported, "identifier")
        if self.dmarc_pass and not self.carried_by:
            return (
                f"As reported: the receiver evaluated {reported} as pass for {self.header_from}, although no "
                f"{given} given here both passes and aligns; it may have verified one not listed here."
            )
        if self.dmarc_pass:
            carriers = " and ".join(result.label for result in self.carried_by)
            return f"{carriers} passes and aligns with {self.header_from}; one such identifier is enough."
        if self.disagrees:
            return (
                f"As reported: the receiver evaluated {reported} as fail, although {'an' if given == 'identifier' else 'a'} {given} given here "
                f"passes and aligns with {self.header_from}."
            )
        return f"No identifier both passes and aligns with {self.header_from}."


def evaluate_dmarc(
    header_from: str,
    dkim: Iterable[tuple[str, str]] = (),
    spf: tuple[str, str] | None = None,
    adkim: str = "r",
    aspf: str = "r",
    reported_dkim: str | None = None,
    reported_spf: str | None = None,
    reasons: Iterable[str] = (),
) -> DmarcEvaluation:
    """DMARC passes when a DKIM signature passes *and* aligns, or SPF passes *and* aligns.

    ``reported_dkim`` and ``reported_spf`` are a receiver's policy_evaluated results
    (``pass``/``fail``) and ``reasons`` its reason types, for when a report row is being
    reproduced; the rules are those of the triage (``judge_record``).
    """
    header = normalize_domain(header_from)
    adkim_mode, aspf_mode = parse_mode(adkim, "adkim"), parse_mode(aspf, "aspf")
    signatures = tuple(_judge("dkim", header, domain, result, adkim_mode) for domain, result in dkim)
    spf_result = _judge("spf", header, spf[0], spf[1], aspf_mode) if spf else None
    reported = {"dkim": _reported(reported_dkim, "reported_dkim"), "spf": _reported(reported_spf, "reported_spf")}
    reasons = tuple(str(reason).strip().lower() for reason in reasons if str(reason).strip())
    judged = judge_record(
        header,
        tuple((signature.domain, signature.result) for signature in signatures),
        ((spf_result.domain, "mfrom", spf_result.result),) if spf_result else (),
        adkim=adkim_mode,
        aspf=aspf_mode,
        reported_dkim=reported["dkim"] or "",
        reported_spf=reported["spf"] or "",
        reasons=reasons,
    )
    return DmarcEvaluation(
        header,
        organizational_domain(header),
        adkim_mode,
        aspf_mode,
        signatures,
        spf_result,
        reported["dkim"],
        reported["spf"],
        reasons,
        judged,
    )


def _judge(identifier: Identifier, header: str, domain: str, result: str, mode: Mode) -> IdentifierResult:
    alignment = check_alignment(header, domain, mode, identifier)
    return IdentifierResult(identifier, alignment.auth_domain, parse_result(result, identifier), alignment)


def _reported(value: str | None, name: str) -> str | None:
    if value in (None, ""):
        return None
    reported = str(value).strip().lower()
    if reported not in ("pass", "fail"):
        raise ValueError(f"{name}={value} is not a policy_evaluated result; use pass or fail.")
    return reported


def mail_from_results(spf: Iterable[tuple[str, str, str]]) -> tuple[tuple[str, str], ...]:
    """(domain, result) of the SPF checks of the MAIL FROM identity, the only one that counts for
    DMARC (RFC 9989 4.4.2), never the HELO name; a report that leaves <scope> out means MAIL FROM
    (RFC 7489 appendix C)."""
    return tuple((domain, result) for domain, scope, result in spf if scope in ("mfrom", ""))


@dataclass(frozen=True)
class RecordVerdict:
    """What the rules make of one report record: our own alignment verdicts, the DMARC verdict
    that counts (the receiver's; ours where it gave none), and the diagnosis."""

    dkim_aligned: bool
    spf_aligned: bool
    dmarc_pass: bool
    #: The receiver's policy_evaluated dkim or spf differs from what its own auth_results give.
    disagrees: bool
    diagnosis: Diagnosis


def judge_record(
    header_from: str | None,
    dkim: tuple[tuple[str, str], ...],
    spf: tuple[tuple[str, str, str], ...],
    *,
    adkim: str,
    aspf: str,
    reported_dkim: str,
    reported_spf: str,
    reasons: tuple[str, ...] = (),
) -> RecordVerdict:
    """Judge a report record: ``dkim`` as (domain, result), ``spf`` as (domain, scope, result)
    from its auth_results, the published modes, and the receiver's verdicts and reasons."""
    from_domain = safe_domain(header_from)
    mail_from = mail_from_results(spf)
    ours_dkim = any(result == "pass" and aligns(from_domain, domain, adkim) for domain, result in dkim)
    # What the MAIL FROM results say, in one pass: a varied report has a new one on almost every record.
    ours_spf = passed_for_others = error_for_you = False
    for domain, result in mail_from:
        if result == "pass":
            ours_spf = ours_spf or aligns(from_domain, domain, aspf)
            passed_for_others = passed_for_others or not aligns(from_domain, domain)
        elif result in KEY_ERRORS:
            error_for_you = error_for_you or aligns(from_domain, domain)
    dkim_verdict = reported_dkim == "pass" if reported_dkim else ours_dkim
    spf_verdict = reported_spf == "pass" if reported_spf else ours_spf
    disagrees = (bool(reported_dkim) and dkim_verdict != ours_dkim) or (bool(reported_spf) and spf_verdict != ours_spf)
    diagnosis = diagnose(
        from_domain,
        dkim,
        adkim=adkim,
        dkim_pass=dkim_verdict,
        # With no SPF in auth_results, the receiver's verdict says whether it passed for you.
        spf_passed_for_you=spf_passes_for(from_domain, mail_from) if mail_from else spf_verdict,
        spf_passed_for_others=passed_for_others,
        spf_error_for_you=error_for_you,
        spf_not_counted=ours_spf and not spf_verdict,
        reasons=reasons,
    )
    return RecordVerdict(ours_dkim, ours_spf, dkim_verdict or spf_verdict, disagrees, diagnosis)
