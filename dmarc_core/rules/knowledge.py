"""The domain knowledge (root causes, diagnosis table, findings, rollout plan, FAQ, scenarios,
known senders, DMARC record tags, DKIM selectors, domain check findings) loaded from
``data/*.toml`` into frozen dataclasses. Read once, shared by the pages, the triage and the CLI."""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class AlignmentMode:
    mode: str
    name: str
    tag: str
    requires: str
    example: str


@dataclass(frozen=True)
class RootCause:
    number: int
    title: str
    headline: str
    symptom: str
    checklist: tuple[str, ...]
    fix: str


@dataclass(frozen=True)
class DiagnosisTableRow:
    row: int
    reported_dkim: str
    auth_result: str
    auth_domain: str
    meaning: str
    root_cause: int | None = None  # row 5 (several signatures) is none of the five


@dataclass(frozen=True)
class Finding:
    """What a diagnosis says: the cause it belongs to, its table row, and its texts."""

    key: str
    cause: str
    table_row: int | None
    root_cause: int | None
    title: str
    summary: str
    explanation: str
    fix: str
    color: str
    blocks_rollout: bool = False
    #: The fix where the sender is none the catalogue knows, if it differs ("" where it does not).
    unknown_sender_fix: str = ""


@dataclass(frozen=True)
class RolloutStep:
    step: int
    policy: str
    pct: int | None
    record: str
    action: str

    def record_for(self, rua: str, pct: int | None = None) -> str:
        """The DMARC record of this step for a report address (and a pct other than the step's)."""
        return self.record.format(rua=rua, pct=pct or self.pct)


@dataclass(frozen=True)
class RolloutEvidence:
    """What the reports must cover before the plan's next step is recommended."""

    days: int
    receivers: int
    messages: int


@dataclass(frozen=True)
class RollbackBar:
    """How much legitimate mail must be blocked before rolling an enforcing policy back is advised."""

    share: float
    messages: int


@dataclass(frozen=True)
class FaqEntry:
    question: str
    answer: str
    scenario: str | None


@dataclass(frozen=True)
class ScenarioPreset:
    key: str
    title: str
    query: str
    root_cause: int | None = None


#: The kinds of known sender (``data/senders.toml`` explains each), those that send mail as it was
#: written first, then those that also relay, and may change and re-sign, mail written elsewhere.
ORIGINATING_KINDS = ("esp", "crm", "ticketing", "payroll", "platform")
RELAYING_KINDS = ("mailbox", "gateway", "forwarder", "mailing_list")
SENDER_KINDS = ORIGINATING_KINDS + RELAYING_KINDS


@dataclass(frozen=True)
class KnownSender:
    """A service that sends mail for other domains: what identifies it in a report (its own DKIM d=,
    SPF MAIL FROM and SPF include domains; the PTR host-name suffixes of its servers), whether it
    can sign with your domain and where, and the pages those facts come from."""

    name: str
    kind: str
    domains: tuple[str, ...]
    setting: str | None = None
    host_patterns: tuple[str, ...] = ()  # PTR host-name suffixes, with a leading dot: ".google.com"
    can_sign: bool | None = None  # DKIM with your own domain: None where the sources do not say
    sources: tuple[str, ...] = ()

    @property
    def originates(self) -> bool:
        """Sends mail as it was written (an ESP, a CRM, a help desk, a payroll or other platform),
        unlike a mailbox provider (Microsoft 365, Gmail), a security gateway, a forwarder or a
        mailing list, which also pass on and re-sign mail they may have changed."""
        return self.kind in ORIGINATING_KINDS


#: Kinds of known sender that only pass on mail written elsewhere: a source they name is a forwarder.
#: A mailbox provider or a gateway also sends your own users' mail, so it is a known service.
FORWARDING_KINDS = ("forwarder", "mailing_list")


@dataclass(frozen=True)
class SenderKind:
    """Who a source of the triage is (the ``sender_kind`` column): its name, title and meaning."""

    key: str
    title: str
    meaning: str


def sender_kind(sender: KnownSender | None, *, yours: bool, relayed: bool, service_is_yours: bool = False) -> str:
    """The kind of a source, by the rules of ``data/knowledge.toml`` (``sender_kinds``), the first
    that holds deciding: ``forwarder`` where the mail was ``relayed`` (the triage's ``forwarded``
    cause) or the known ``sender`` only forwards; ``known_service`` where a known sender of another
    organization is named (not ``service_is_yours``); ``own`` where DKIM or SPF passed for a domain
    of the From: domain's organization (``yours``); else ``unknown``."""
    if relayed or (sender is not None and sender.kind in FORWARDING_KINDS):
        return "forwarder"
    if sender is not None and not service_is_yours:
        return "known_service"
    return "own" if yours else "unknown"


@dataclass(frozen=True)
class RecordTag:
    """One DMARC record tag: what it means, its default, what RFC 9989 did to it, its values."""

    tag: str
    name: str
    meaning: str
    default: str
    rfc9989: str
    values: dict[str, str]


@dataclass(frozen=True)
class CommonSelector:
    selector: str
    used_by: str


@dataclass(frozen=True)
class DomainFinding:
    """What a Domain Check finding says, with placeholders, and the root cause it would produce."""

    key: str
    severity: str
    title: str
    explanation: str
    fix: str
    root_cause: int | None


@dataclass(frozen=True)
class Knowledge:
    intro: str
    alignment_default: str
    organizational_domain_note: str
    diagnosis_table_note: str
    absent_selectors_note: str
    alignment_modes: tuple[AlignmentMode, ...]
    root_causes: tuple[RootCause, ...]
    diagnosis_table: tuple[DiagnosisTableRow, ...]
    findings: dict[str, Finding]
    rollout_intro: str
    rollout_plan: tuple[RolloutStep, ...]
    pass_rate_threshold: float
    evidence: RolloutEvidence
    rollback: RollbackBar
    threshold_note: str
    next_record_note: str
    pct_note: str
    faq: tuple[FaqEntry, ...]
    scenarios: tuple[ScenarioPreset, ...]
    senders: tuple[KnownSender, ...]
    record_tags: dict[str, RecordTag]
    dkim_selectors: tuple[CommonSelector, ...]
    lookup_statuses: dict[str, str]
    #: What each SPF result means (RFC 7208 8), and the Message Check's words for signature statuses.
    spf_results: dict[str, str]
    signature_statuses: dict[str, str]
    #: The Message Check's fix for a key that is missing, revoked or unusable, and why a From: cannot be judged.
    key_advice: dict[str, str]
    from_problems: dict[str, str]
    domain_findings: dict[str, DomainFinding]
    #: The receiver's verdict in reports: the notes on its disagreements and reasons, the reasons in words.
    disagreement_note: str
    reasons_note: str
    reason_titles: dict[str, str]
    #: Who a source is (the triage's ``sender_kind``): own servers, known services, forwarders, unknown.
    sender_kinds: dict[str, SenderKind]

    def root_cause(self, number: int) -> RootCause:
        return next(cause for cause in self.root_causes if cause.number == number)

    def table_row(self, row: int) -> DiagnosisTableRow:
        return next(entry for entry in self.diagnosis_table if entry.row == row)

    def scenario(self, key: str) -> ScenarioPreset:
        return next(preset for preset in self.scenarios if preset.key == key)

    def sender_kind_title(self, key: str) -> str:
        """A ``sender_kind`` by its title; a key it does not know as it is (empty in a link made before kinds)."""
        kind = self.sender_kinds.get(key)
        return kind.title if kind else key

    def rollout_step(self, number: int) -> RolloutStep:
        return next(step for step in self.rollout_plan if step.step == number)

    @property
    def causes(self) -> tuple[str, ...]:
        """The cause names of DESIGN.md, in the order the findings list them."""
        return tuple(dict.fromkeys(finding.cause for finding in self.findings.values()))

    @property
    def cause_colors(self) -> dict[str, str]:
        """Each cause's colour, from its first finding (findings of one cause share it)."""
        colors: dict[str, str] = {}
        for finding in self.findings.values():
            colors.setdefault(finding.cause, finding.color)
        return colors

    @property
    def esp_settings(self) -> tuple[KnownSender, ...]:
        """The ESPs that say where they turn on signing with your domain: root cause 1's fix."""
        return tuple(sender for sender in self.senders if sender.kind == "esp" and sender.setting)

    @property
    def common_selectors(self) -> tuple[str, ...]:
        return tuple(entry.selector for entry in self.dkim_selectors)


def _read(name: str) -> dict:
    return tomllib.loads(resources.files("dmarc_core").joinpath("data", name).read_text("utf-8"))


@functools.cache
def knowledge() -> Knowledge:
    data = _read("knowledge.toml")
    senders = _read("senders.toml")["senders"]
    rollout = data["rollout"]
    return Knowledge(
        intro=data["intro"],
        alignment_default=data["alignment_default"],
        organizational_domain_note=data["organizational_domain_note"],
        diagnosis_table_note=data["diagnosis_table_note"],
        absent_selectors_note=data["absent_selectors_note"],
        alignment_modes=tuple(AlignmentMode(**mode) for mode in data["alignment_modes"]),
        root_causes=tuple(RootCause(**{**cause, "checklist": tuple(cause["checklist"])}) for cause in data["root_causes"]),
        diagnosis_table=tuple(DiagnosisTableRow(**row) for row in data["diagnosis_table"]),
        findings={
            key: Finding(
                key=key,
                cause=entry.get("cause", key),
                table_row=entry.get("table_row"),
                root_cause=entry.get("root_cause"),
                title=entry["title"],
                summary=entry["summary"],
                explanation=entry["explanation"],
                fix=entry["fix"],
                color=entry["color"],
                blocks_rollout=entry.get("blocks_rollout", False),
                unknown_sender_fix=entry.get("unknown_sender_fix", ""),
            )
            for key, entry in data["findings"].items()
        },
        rollout_intro=rollout["intro"],
        rollout_plan=tuple(RolloutStep(**{"pct": None, **step}) for step in data["rollout_plan"]),
        pass_rate_threshold=rollout["pass_rate_threshold"],
        evidence=RolloutEvidence(**rollout["evidence"]),
        rollback=RollbackBar(**rollout["rollback"]),
        threshold_note=rollout["threshold_note"].format(threshold=rollout["pass_rate_threshold"]),
        next_record_note=rollout["next_record_note"],
        pct_note=rollout["pct_note"],
        faq=tuple(FaqEntry(**{"scenario": None, **entry}) for entry in data["faq"]),
        scenarios=tuple(ScenarioPreset(**preset) for preset in data["scenarios"]),
        senders=tuple(
            KnownSender(**{**sender, **{key: tuple(sender.get(key, ())) for key in ("domains", "host_patterns", "sources")}})
            for sender in senders
        ),
        record_tags={tag: RecordTag(tag=tag, **{"values": {}, **entry}) for tag, entry in data["record_tags"].items()},
        dkim_selectors=tuple(CommonSelector(**entry) for entry in data["dkim_selectors"]),
        lookup_statuses=data["lookup_statuses"],
        spf_results=data["spf_results"],
        signature_statuses=data["signature_statuses"],
        key_advice=data["key_advice"],
        from_problems=data["from_problems"],
        domain_findings={
            key: DomainFinding(key=key, **{"root_cause": None, **entry}) for key, entry in data["domain_findings"].items()
        },
        disagreement_note=data["receiver_verdict"]["disagreement_note"],
        reasons_note=data["receiver_verdict"]["reasons_note"],
        reason_titles=data["receiver_verdict"]["reasons"],
        sender_kinds={key: SenderKind(key=key, **entry) for key, entry in data["sender_kinds"].items()},
    )


@functools.cache
def _sender_by_domain() -> dict[str, KnownSender]:
    return {domain: sender for sender in knowledge().senders for domain in sender.domains}


@functools.lru_cache(maxsize=65536)
def known_sender(domain: str | None) -> KnownSender | None:
    """The known sender whose domain is ``domain`` or a parent of it (``x.gappssmtp.com``)."""
    if not domain:
        return None
    labels = domain.strip().rstrip(".").lower().split(".")
    table = _sender_by_domain()
    for start in range(len(labels) - 1):
        sender = table.get(".".join(labels[start:]))
        if sender:
            return sender
    return None


@functools.cache
def _sender_by_host() -> dict[str, KnownSender]:
    return {pattern.lstrip("."): sender for sender in knowledge().senders for pattern in sender.host_patterns}


@functools.lru_cache(maxsize=65536)
def known_sender_by_host(host: str | None) -> KnownSender | None:
    """The known sender whose host pattern the PTR host name ``host`` ends with
    (``mail-wr1-f54.google.com`` ends with ``.google.com``); the longest pattern wins. A pattern is
    a suffix at a label boundary below its domain: ``google.com`` itself and ``notgoogle.com`` name
    nobody."""
    if not host:
        return None
    labels = host.strip().rstrip(".").lower().split(".")
    table = _sender_by_host()
    for start in range(1, len(labels) - 1):
        sender = table.get(".".join(labels[start:]))
        if sender:
            return sender
    return None
