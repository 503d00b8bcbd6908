"""Finding the DMARC record of a domain, both ways.

RFC 7489 6.6.3 asks ``_dmarc.<domain>`` and, when that holds no DMARC record, the
``_dmarc`` record of the organizational domain the Public Suffix List gives.

RFC 9989 4.10 replaces the list with the DNS tree walk: ask the domain, then walk up one label
at a time, jumping straight to the last seven labels of a longer name, so at most eight queries;
stop at a record with ``psd=y`` or ``psd=n``. The records found decide the organizational
domain (4.10.2) and which record applies (4.10.1: the domain's own, else the organizational
domain's, else the public suffix domain's).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

import dns.asyncresolver

from ..rules.dmarc_record import DmarcRecord, DmarcRecordError, declared_psd, is_dmarc_record, parse_dmarc_record
from ..rules.domains import normalize_domain, public_suffix_match
from .resolver import FAILED, Lookups, LookupStatus, run_lookups

MAX_TREE_WALK_QUERIES = 8

Method = Literal["rfc7489", "rfc9989"]


@dataclass(frozen=True)
class PolicyLookup:
    """What ``_dmarc.<domain>`` holds, as DMARC reads it."""

    domain: str
    status: LookupStatus
    records: tuple[str, ...] = ()
    record: DmarcRecord | None = None
    error: str | None = None
    ignored: tuple[str, ...] = ()
    detail: str = ""

    @property
    def name(self) -> str:
        return f"_dmarc.{self.domain}"

    @property
    def text(self) -> str | None:
        """The DMARC record as published (strings joined), when there is exactly one."""
        return self.records[0] if self.status == "found" else None

    @property
    def psd(self) -> str:
        """psd= of the one DMARC record here, also when the record is otherwise unusable."""
        return declared_psd(self.records[0]) if self.status == "found" else "u"


@dataclass(frozen=True)
class PolicyDiscovery:
    """One method's queries, in order, the organizational domain it gives and the record that
    applies (``None`` when none does). ``reason`` says why that organizational domain."""

    method: Method
    domain: str
    lookups: tuple[PolicyLookup, ...]
    organizational_domain: str | None
    policy: PolicyLookup | None
    reason: str

    @property
    def status(self) -> LookupStatus:
        """``found`` when a record applies; otherwise what went wrong, DNS failures first."""
        if self.policy:
            return "found"
        for wrong in (FAILED, {"multiple"}):
            problem = next((lookup for lookup in self.lookups if lookup.status in wrong), None)
            if problem:
                return problem.status
        return self.lookups[0].status

    @property
    def found_at(self) -> str | None:
        return self.policy.name if self.policy else None

    @property
    def queries(self) -> tuple[str, ...]:
        return tuple(lookup.name for lookup in self.lookups)


@dataclass(frozen=True)
class DmarcDiscovery:
    """Both methods for one domain. RFC 9989 obsoletes RFC 7489, so its answer is the one that
    applies; where receivers still on RFC 7489 would see something else, ``differences`` says so."""

    domain: str
    rfc7489: PolicyDiscovery
    tree_walk: PolicyDiscovery

    @property
    def applied(self) -> PolicyDiscovery:
        return self.tree_walk

    @property
    def differences(self) -> tuple[str, ...]:
        notes = []
        psl, walk = self.rfc7489, self.tree_walk
        if walk.organizational_domain and psl.organizational_domain != walk.organizational_domain:
            notes.append(
                f"The organizational domain of {self.domain} is {psl.organizational_domain} by the Public Suffix List "
                f"(RFC 7489) but {walk.organizational_domain} by the DNS tree walk (RFC 9989): under relaxed alignment, "
                f"receivers on RFC 7489 accept signatures from {psl.organizational_domain} and its subdomains, "
                f"receivers on RFC 9989 from {walk.organizational_domain} and its subdomains."
            )
        if psl.status not in FAILED and walk.status not in FAILED and psl.found_at != walk.found_at:
            notes.append(f"Receivers on RFC 7489 apply {_where(psl)}; receivers on RFC 9989 apply {_where(walk)}.")
        return tuple(notes)


def _where(discovery: PolicyDiscovery) -> str:
    return f"the record at {discovery.found_at}" if discovery.found_at else "no DMARC record"


def tree_walk_domains(domain: str) -> tuple[str, ...]:
    """The domains whose ``_dmarc`` the tree walk asks, in order: the domain itself, then at most
    seven labels, then one label fewer each time (RFC 9989 4.10 steps 3-7)."""
    labels = normalize_domain(domain).split(".")
    start = min(len(labels) - 1, MAX_TREE_WALK_QUERIES - 1)
    return (".".join(labels), *(".".join(labels[-count:]) for count in range(start, 0, -1)))


async def policy_lookup_async(domain: str, lookups: Lookups) -> PolicyLookup:
    answer = await lookups.get(f"_dmarc.{domain}")
    if answer.status != "found":
        return PolicyLookup(domain, answer.status, detail=answer.detail)
    dmarc = tuple(text for text in answer.answers if is_dmarc_record(text))
    ignored = tuple(text for text in answer.answers if text not in dmarc)
    if not dmarc:
        return PolicyLookup(domain, "no_record", ignored=ignored)
    if len(dmarc) > 1:
        # RFC 7489 6.6.3 step 5, RFC 9989 4.10 step 2: several records are all discarded.
        return PolicyLookup(domain, "multiple", dmarc, ignored=ignored)
    try:
        return PolicyLookup(domain, "found", dmarc, parse_dmarc_record(dmarc[0]), ignored=ignored)
    except DmarcRecordError as error:
        return PolicyLookup(domain, "found", dmarc, error=str(error), ignored=ignored)


async def _rfc7489(domain: str, lookups: Lookups) -> PolicyDiscovery:
    match = public_suffix_match(domain)
    asked = [await policy_lookup_async(domain, lookups)]
    if asked[0].status in ("nxdomain", "no_record") and match.organizational_domain != domain:
        asked.append(await policy_lookup_async(match.organizational_domain, lookups))
    policy = asked[-1] if asked[-1].status == "found" else None
    return PolicyDiscovery("rfc7489", domain, tuple(asked), match.organizational_domain, policy, match.explanation)


async def _tree_walk(domain: str, lookups: Lookups) -> PolicyDiscovery:
    asked: list[PolicyLookup] = []
    for target in tree_walk_domains(domain):
        asked.append(await policy_lookup_async(target, lookups))
        if asked[-1].status in FAILED:
            reason = (
                f"The walk stopped at {asked[-1].name} ({asked[-1].detail}); without the rest of the tree "
                "the organizational domain is unknown."
            )
            return PolicyDiscovery("rfc9989", domain, tuple(asked), None, None, reason)
        if asked[-1].status == "found" and asked[-1].psd in ("y", "n"):
            break
    organizational, reason = _organizational_domain(domain, [lookup for lookup in asked if lookup.status == "found"])
    found = {lookup.domain: lookup for lookup in asked if lookup.status == "found"}
    policy = found.get(domain) or found.get(organizational) or next((psd for psd in found.values() if psd.psd == "y"), None)
    return PolicyDiscovery("rfc9989", domain, tuple(asked), organizational, policy, reason)


def _organizational_domain(domain: str, found: list[PolicyLookup]) -> tuple[str, str]:
    """RFC 9989 4.10.2. The walk stops at the first record with psd=y or psd=n, so only the last
    record found (the one with the fewest labels) can carry either."""
    if not found:
        return domain, f"No DMARC record on the way up from {domain}, so {domain} is its own organizational domain."
    last = found[-1]
    if last.psd == "n":
        return last.domain, f"{last.name} has psd=n: {last.domain} declares itself an organizational domain."
    if last.psd == "y" and last.domain != domain:
        below = ".".join(domain.split(".")[-(last.domain.count(".") + 2) :])
        return below, (
            f"{last.name} has psd=y: {last.domain} is a public suffix domain, so {below}, one label below it, "
            "is the organizational domain."
        )
    if len(found) == 1:
        return last.domain, f"{last.domain} is the only name on the way up with a DMARC record."
    names = ", ".join(lookup.domain for lookup in found)
    return last.domain, f"Of the names with a DMARC record ({names}), {last.domain} has the fewest labels."


async def discover_dmarc_async(domain: str, lookups: Lookups) -> DmarcDiscovery:
    domain = normalize_domain(domain)
    # Both ask _dmarc.<domain> first; Lookups asks DNS once for the two.
    rfc7489, walk = await asyncio.gather(_rfc7489(domain, lookups), _tree_walk(domain, lookups))
    return DmarcDiscovery(domain, rfc7489, walk)


def discover_dmarc(domain: str, resolver: dns.asyncresolver.Resolver | None = None) -> DmarcDiscovery:
    """Look the DMARC record of ``domain`` up by RFC 7489 and by the RFC 9989 tree walk."""
    domain = normalize_domain(domain)
    return run_lookups(lambda lookups: discover_dmarc_async(domain, lookups), resolver)
