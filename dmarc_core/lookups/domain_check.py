"""The Domain Check: what a domain publishes for DMARC and what that means for its mail.

One batch of lookups, all under one deadline: the DMARC record found both ways (RFC 7489 and
the RFC 9989 tree walk), the organizational domain each gives, DKIM keys for the selectors you
name and common ones, and the SPF record. The findings tie what was found to the article's root
causes. The page draws a ``DomainCheck``; the CLI prints ``to_dict()`` as its JSON.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import dns.asyncresolver

from ..rules.dkim_key import parse_selectors
from ..rules.dmarc_record import DmarcRecord, explain_tags, stricter_than
from ..rules.domains import normalize_domain
from ..rules.knowledge import DomainFinding, knowledge
from .discovery import DmarcDiscovery, PolicyLookup, discover_dmarc_async, policy_lookup_async
from .dkim_keys import DkimKeyLookup, dkim_keys_async
from .resolver import FAILED, Lookups, describe_nameservers, run_lookups
from .spf import MAX_DNS_LOOKUPS, MAX_VOID_LOOKUPS, SpfLookup, SpfTree, spf_async, spf_tree_async

_HANDLED = {"quarantine": "quarantined", "reject": "rejected"}


@dataclass(frozen=True)
class Observation:
    """A Domain Check finding with its words filled in."""

    finding: DomainFinding
    words: dict[str, str]

    @property
    def key(self) -> str:
        return self.finding.key

    @property
    def severity(self) -> str:
        return self.finding.severity

    @property
    def root_cause(self) -> int | None:
        return self.finding.root_cause

    @property
    def title(self) -> str:
        return self.finding.title.format(**self.words)

    @property
    def explanation(self) -> str:
        return self.finding.explanation.format(**self.words)

    @property
    def fix(self) -> str:
        return self.finding.fix.format(**self.words)


@dataclass(frozen=True)
class DomainCheck:
    domain: str
    nameservers: str
    dmarc: DmarcDiscovery
    selectors: tuple[str, ...]
    dkim: tuple[DkimKeyLookup, ...]
    spf: SpfLookup
    parent: PolicyLookup | None = None
    #: The SPF record with its includes and the RFC 7208 4.6.4 counts.
    spf_tree: SpfTree | None = None

    @property
    def record(self) -> DmarcRecord | None:
        """The DMARC record that applies to the domain (RFC 9989), when it is usable."""
        policy = self.dmarc.applied.policy
        return policy.record if policy else None

    @property
    def organizational_domain(self) -> str:
        return self.dmarc.tree_walk.organizational_domain or self.dmarc.rfc7489.organizational_domain

    @property
    def exists(self) -> bool:
        """False when DNS answered that the name itself does not exist (NXDOMAIN for its TXT)."""
        return self.spf.status != "nxdomain"

    @property
    def policy(self) -> tuple[str, str] | None:
        """The tag that decides for mail from this domain and its value: p= for the domain's own
        record; for an inherited one sp=, or np= if the domain does not exist (RFC 9989 4.10.1)."""
        record = self.record
        if record is None:
            return None
        if self.dmarc.applied.found_at == f"_dmarc.{self.domain}":
            return "p", record.p
        return ("sp", record.sp) if self.exists else ("np", record.np)

    @property
    def common_keys(self) -> tuple[DkimKeyLookup, ...]:
        return tuple(key for key in self.dkim if key.selector not in self.selectors)

    @property
    def shown_keys(self) -> tuple[DkimKeyLookup, ...]:
        """The keys worth showing: each selector you gave, found or not, and every common one
        that did not come back missing."""
        return tuple(key for key in self.dkim if key.selector in self.selectors or not key.missing)

    @property
    def absent_common_selectors(self) -> tuple[str, ...]:
        """Common selectors with no key: normal, since each sender uses its own."""
        return tuple(key.selector for key in self.common_keys if key.missing)

    def common_for(self, key: DkimKeyLookup) -> str:
        """Who usually signs with a common selector tried here; empty for a selector you gave."""
        if key.selector in self.selectors:
            return ""
        return next((entry.used_by for entry in knowledge().dkim_selectors if entry.selector == key.selector), "")

    @property
    def asked(self) -> dict[str, tuple[str, str]]:
        """Every name asked, once: its status and the detail of what happened."""
        results = [*self.dmarc.rfc7489.lookups, *self.dmarc.tree_walk.lookups, *self.dkim, self.spf]
        results += [self.parent] if self.parent else []
        asked = {result.name: (result.status, result.detail) for result in results}
        return {**asked, **(self.spf_tree.asked if self.spf_tree else {})}

    @property
    def unreachable(self) -> bool:
        """DNS answered nothing at all: the server is down, unreachable or too slow."""
        return all(status in FAILED for status, _ in self.asked.values())

    @property
    def findings(self) -> tuple[Observation, ...]:
        return tuple(_findings(self))

    def to_dict(self) -> dict:
        """The check as plain data: the CLI's JSON."""
        applied, record = self.dmarc.applied, self.record
        policy = applied.policy
        return {
            "domain": self.domain,
            "nameservers": self.nameservers,
            "dmarc": {
                "status": applied.status,
                "found_at": applied.found_at,
                "record": policy.text if policy else None,
                "tags": dict(record.tags) if record else {},
                "warnings": list(record.warnings) if record else [],
                "error": policy.error if policy else None,
                "policy": dict(zip(("tag", "value"), self.policy, strict=True)) if self.policy else None,
                **{
                    method.method: {
                        "status": method.status,
                        "found_at": method.found_at,
                        "queries": [{"name": lookup.name, "status": lookup.status} for lookup in method.lookups],
                    }
                    for method in (self.dmarc.rfc7489, self.dmarc.tree_walk)
                },
            },
            "organizational_domain": {
                "psl": self.dmarc.rfc7489.organizational_domain,
                "tree_walk": self.dmarc.tree_walk.organizational_domain,
                "psl_reason": self.dmarc.rfc7489.reason,
                "tree_walk_reason": self.dmarc.tree_walk.reason,
                "differences": list(self.dmarc.differences),
            },
            "record_tags": [asdict(row) for row in explain_tags(record)] if record else [],
            "dkim": [
                {
                    "selector": key.selector,
                    "name": key.name,
                    "status": key.status,
                    "source": "given" if key.selector in self.selectors else "common",
                    "key_type": key.key_type,
                    "bits": key.bits,
                    "detail": key.detail,
                    "record": key.record,
                }
                for key in self.dkim
            ],
            "spf": {
                "status": self.spf.status,
                "record": self.spf.record,
                "records": list(self.spf.records),
                "detail": self.spf.detail,
                "tree": self.spf_tree.to_dict() if self.spf_tree else None,
            },
            "findings": [
                {
                    "key": note.key,
                    "severity": note.severity,
                    "root_cause": note.root_cause,
                    "title": note.title,
                    "explanation": note.explanation,
                    "fix": note.fix,
                }
                for note in self.findings
            ],
        }


def _findings(check: DomainCheck) -> list[Observation]:
    texts, applied = knowledge().domain_findings, check.dmarc.applied
    base = {"domain": check.domain, "org_domain": check.organizational_domain, "found_at": applied.found_at or ""}
    notes: list[Observation] = []

    def note(key: str, **words: object) -> None:
        notes.append(Observation(texts[key], {**base, **{name: str(value) for name, value in words.items()}}))

    if not check.exists:  # said first: every other finding about a name that does not exist is noise
        note("domain_missing")
    failed = [detail for status, detail in check.asked.values() if status in FAILED]
    if failed:
        note("dns_failed", failed=len(failed), total=len(check.asked), detail=failed[0])
    if applied.status == "multiple":
        several = next(lookup for lookup in applied.lookups if lookup.status == "multiple")
        note("multiple_records", where=several.name, count=len(several.records))
    elif applied.status in ("nxdomain", "no_record"):
        note("no_record")
    if applied.policy and applied.policy.error:
        note("invalid_record", error=applied.policy.error)
    record = check.record
    if record:
        if record.adkim == "s":
            note("strict_dkim")
        if record.aspf == "s":
            note("strict_spf")
        stricter = stricter_than(record, check.parent.record) if check.parent and check.parent.record else []
        if stricter:
            note("stricter_subdomain", parent=check.parent.domain, stricter="; ".join(stricter))
        tag, value = check.policy
        if value in _HANDLED:
            note("enforcing", tag=tag, policy=value, handled=_HANDLED[value])
    statuses = knowledge().lookup_statuses
    for key in check.dkim:
        words = {"selector": key.selector, "name": key.name, "status": statuses[key.status], "detail": key.detail}
        if key.missing and key.selector in check.selectors:
            note("selector_missing", **words)
        elif key.status in ("revoked", "malformed"):
            note(f"selector_{key.status}", **words)
        elif key.key_size_concern:
            note(f"selector_{key.key_size_concern}_key", bits=key.bits, **words)
    if check.exists and check.dkim and all(key.missing for key in check.dkim):
        note("no_dkim_key", count=len(check.dkim))
    if check.spf.status == "multiple":
        note("spf_multiple", count=len(check.spf.records))
    elif check.spf.status == "no_record":
        note("spf_missing")
    tree = check.spf_tree
    if tree and tree.over_limit:
        note("spf_too_many_lookups", lookups=tree.dns_lookups, limit=MAX_DNS_LOOKUPS, over=MAX_DNS_LOOKUPS + 1)
    if tree and tree.too_many_void_lookups:
        terms = ", ".join(term.text for term in tree.void_terms)
        note("spf_too_many_void_lookups", voids=tree.void_lookups, limit=MAX_VOID_LOOKUPS, terms=terms)
    for parent, term in tree.broken if tree else ():
        note("spf_include_broken", term=term.text, parent=parent, status=term.node.detail or statuses.get(term.status, ""))
    if check.dmarc.differences:
        note("methods_differ", differences=" ".join(check.dmarc.differences))
    return notes


async def _parent_record(domain: str, dmarc: DmarcDiscovery, lookups: Lookups) -> PolicyLookup | None:
    """The record of the domain's organizational domain, when the domain has one of its own
    (the article's root cause 3: "a separate DMARC record on the subdomain itself")."""
    if dmarc.applied.found_at != f"_dmarc.{domain}":
        return None
    parents = (dmarc.rfc7489.organizational_domain, dmarc.tree_walk.organizational_domain)
    parent = next((name for name in parents if name and domain.endswith("." + name)), None)
    return await policy_lookup_async(parent, lookups) if parent else None


async def check_domain_async(domain: str, selectors: tuple[str, ...], lookups: Lookups) -> DomainCheck:
    tried = (*selectors, *(common for common in knowledge().common_selectors if common not in selectors))
    dmarc, dkim, spf, tree = await asyncio.gather(
        discover_dmarc_async(domain, lookups),
        dkim_keys_async(domain, tried, lookups),
        spf_async(domain, lookups),
        spf_tree_async(domain, lookups),
    )
    parent = await _parent_record(domain, dmarc, lookups)
    return DomainCheck(domain, describe_nameservers(lookups.resolver), dmarc, selectors, dkim, spf, parent, tree)


def check_domain(
    domain: str, selectors: str | Iterable[str] = (), resolver: dns.asyncresolver.Resolver | None = None
) -> DomainCheck:
    """Check what ``domain`` publishes for DMARC. ``selectors`` are DKIM selectors you expect to
    have keys (``"k1, s2"`` or a list); common ones are tried besides. ``ValueError`` for a
    domain or selector that is not one."""
    domain, chosen = normalize_domain(domain), parse_selectors(selectors)
    return run_lookups(lambda lookups: check_domain_async(domain, chosen, lookups), resolver)
