"""SPF as receivers see it (RFC 7208): the record of a domain, the evaluation of one sender, and
the include tree with the processing limits.

``fetch_spf`` finds the one TXT record starting with ``v=spf1`` (RFC 7208 4.5); several such
records are a permerror for every receiver, so SPF then fails everywhere and DMARC has only DKIM
left. ``evaluate_spf`` runs pyspf, the reference implementation, for a connecting IP and a MAIL
FROM (or HELO) domain, with every DNS question asked through this package's resolver.
``spf_tree`` walks the record, its ``include:`` and ``redirect=`` targets, and counts what RFC
7208 4.6.4 limits: 10 DNS-querying terms and 2 void lookups per evaluation.
"""

from __future__ import annotations

import asyncio
import contextvars
import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Literal, get_args

import dns.asyncresolver
import spf as pyspf

from ..rules.domains import normalize_domain
from ..rules.knowledge import knowledge
from .resolver import FAILED, Lookups, LookupStatus, run_lookups

# RFC 7208 4.5: the version section is exactly "v=spf1", ended by a space or the end of the record.
_SPF_VERSION = re.compile(r"^v=spf1( |$)", re.IGNORECASE)
#: RFC 7208 4.6.4: the terms that query DNS (include, a, mx, ptr, exists, redirect) per evaluation.
MAX_DNS_LOOKUPS = pyspf.MAX_LOOKUP
#: RFC 7208 4.6.4: lookups answered with NXDOMAIN or no records, per evaluation.
MAX_VOID_LOOKUPS = pyspf.MAX_VOID_LOOKUPS
#: DNS questions the tree walk asks for terms at most: pyspf's own hard stop (4 x 10), enough to
#: show by how much a record is over the limit, and a bound on what a hostile record makes us ask.
MAX_TREE_QUESTIONS = 4 * MAX_DNS_LOOKUPS
_VOID = frozenset({"nxdomain", "no_record"})
_QUERYING = frozenset({"include", "a", "mx", "ptr", "exists"})
_ADDRESS_QUERY = {"a": "A", "exists": "A", "mx": "MX"}

SpfResult = Literal["pass", "fail", "softfail", "neutral", "none", "permerror", "temperror"]


@dataclass(frozen=True)
class SpfLookup:
    domain: str
    status: LookupStatus
    records: tuple[str, ...] = ()
    detail: str = ""

    @property
    def name(self) -> str:
        return self.domain

    @property
    def record(self) -> str | None:
        return self.records[0] if self.status == "found" else None


async def spf_async(domain: str, lookups: Lookups) -> SpfLookup:
    answer = await lookups.get(domain)
    if answer.status != "found":
        return SpfLookup(domain, answer.status, detail=answer.detail)
    records = tuple(text for text in answer.answers if _SPF_VERSION.match(text))
    if not records:
        return SpfLookup(domain, "no_record")
    return SpfLookup(domain, "found" if len(records) == 1 else "multiple", records)


def fetch_spf(domain: str, resolver: dns.asyncresolver.Resolver | None = None) -> SpfLookup:
    """The SPF record of ``domain`` (strings of a multi-string record joined)."""
    domain = normalize_domain(domain)
    return run_lookups(lambda lookups: spf_async(domain, lookups), resolver)


# --- Evaluating one sender with pyspf ------------------------------------------------------------
#
# pyspf asks DNS through one module-level function, spf.DNSLookup(name, qtype, strict, timeout).
# We replace it once, at import, with a dispatcher that forwards each question to the lookup
# function of the evaluation running in the current context (a ContextVar set by evaluate_spf,
# copied into the worker thread that runs pyspf). Concurrent evaluations (two Streamlit sessions,
# two resolvers) therefore never see each other's resolver, and outside an evaluation pyspf gets
# a temperror instead of reaching the system's DNS.
_ASK: contextvars.ContextVar[Callable[[str, str], list] | None] = contextvars.ContextVar("spf_dns", default=None)


def _dispatch(name: str, qtype: str, strict: object = True, timeout: object = None) -> list:
    ask = _ASK.get()
    if ask is None:
        raise pyspf.TempError("DNS: no resolver (SPF lookups are asked only inside evaluate_spf)")
    return ask(name, qtype)


pyspf.DNSLookup = _dispatch


def _pyspf_answers(name: str, qtype: str, answers: tuple[str, ...]) -> list:
    """Our answers in the shapes pyspf's dnspython driver gives (spf.DNSLookup_dnspython)."""
    if qtype in ("TXT", "SPF"):
        return [((name, qtype), (text.encode("utf-8"),)) for text in answers]
    if qtype == "MX":
        pairs = (text.split() for text in answers)
        return [((name, qtype), (int(preference), exchange.rstrip("."))) for preference, exchange in pairs]
    return [((name, qtype), text) for text in answers]


@dataclass(frozen=True)
class SpfEvaluation:
    """What a receiver concludes about ``ip`` sending for ``domain``. ``reason`` is pyspf's own
    text; ``explanation`` says what the result means, followed by that reason."""

    ip: str
    domain: str
    scope: Literal["mfrom", "helo"]
    result: SpfResult
    reason: str
    explanation: str
    lookups_used: int
    void_lookups: int


def _identity(mail_from: str, helo: str) -> tuple[str, str, Literal["mfrom", "helo"]]:
    """(sender for pyspf, the domain checked, scope). With a null MAIL FROM the HELO name is
    checked as postmaster@helo (RFC 7208 2.4); a MAIL FROM without a local part gets postmaster
    (RFC 7208 4.3)."""
    sender = mail_from.strip().strip("<>").strip()
    if sender:
        local, _, domain = sender.rpartition("@")
        domain = normalize_domain(domain)
        return f"{local or 'postmaster'}@{domain}", domain, "mfrom"
    if not helo.strip():
        raise ValueError("SPF needs a MAIL FROM address or domain, or a HELO name when the MAIL FROM is empty (<>).")
    return "", normalize_domain(helo), "helo"


async def evaluate_spf_async(ip: str, mail_from: str, helo: str, lookups: Lookups) -> SpfEvaluation:
    """``evaluate_spf`` inside a batch of lookups (same resolver, same deadline, shared answers)."""
    try:
        address = str(ipaddress.ip_address(ip.strip()))
    except ValueError:
        raise ValueError(f"'{ip}' is not an IP address; give the connecting IP as 192.0.2.1 or 2001:db8::1.") from None
    sender, domain, scope = _identity(mail_from, helo)
    loop = asyncio.get_running_loop()

    def ask(name: str, qtype: str) -> list:
        try:
            answer = asyncio.run_coroutine_threadsafe(lookups.get(name, qtype), loop).result()
        except RuntimeError as stopped:  # the batch's event loop is gone (its caller gave up)
            raise pyspf.TempError(f"DNS: {stopped}") from None
        if answer.status in FAILED:
            raise pyspf.TempError(f"DNS {answer.status} for {name} {qtype}: {answer.detail}".rstrip(": "))
        return _pyspf_answers(name, qtype, answer.answers)

    # querytime=0: the batch's deadline bounds the time spent, not pyspf's clock.
    query = pyspf.query(i=address, s=sender, h=(domain if scope == "helo" else helo.strip()), querytime=0)
    token = _ASK.set(ask)
    try:
        result, _code, reason = await asyncio.to_thread(query.check)  # to_thread copies the context
    finally:
        _ASK.reset(token)
    meaning = knowledge().spf_results[result].format(domain=domain, ip=address)
    explanation = f"{meaning} The SPF engine (pyspf) said: {reason}." if reason else meaning
    return SpfEvaluation(address, domain, scope, result, reason, explanation, query.lookups, query.void_lookups)


def evaluate_spf(ip: str, mail_from: str, helo: str = "", resolver: dns.asyncresolver.Resolver | None = None) -> SpfEvaluation:
    """The SPF result a receiver reaches for mail from ``ip`` with this MAIL FROM (an address, a
    domain, or empty for a bounce, then the ``helo`` name is checked). ``ValueError`` for an IP
    or a domain that is not one."""
    return run_lookups(lambda lookups: evaluate_spf_async(ip, mail_from, helo, lookups), resolver)


# --- The include tree ----------------------------------------------------------------------------

#: What a term's target got: a DNS answer, or why it was not asked.
TermStatus = LookupStatus | Literal["", "loop", "macro", "not_followed", "depends_on_sender", "after_all", "ignored"]


@dataclass(frozen=True)
class SpfTerm:
    """One term of a record as written, with the DNS question it makes. ``lookups`` is 1 for the
    terms RFC 7208 4.6.4 counts; ``void`` when the answer was NXDOMAIN or no records."""

    text: str
    kind: str
    target: str = ""
    lookups: int = 0
    status: TermStatus = ""
    void: bool = False
    detail: str = ""
    node: SpfNode | None = None


@dataclass(frozen=True)
class SpfNode:
    """A record in the tree. ``status`` is what DNS answered for its TXT records, or, for an
    include:/redirect= the walk did not follow, why (``detail`` says it in words)."""

    domain: str
    status: TermStatus
    record: str | None = None
    terms: tuple[SpfTerm, ...] = ()
    detail: str = ""

    @property
    def lookups_here(self) -> int:
        return sum(term.lookups for term in self.terms)


@dataclass(frozen=True)
class SpfTree:
    """The record of ``root.domain`` and everything it includes. The totals are what a receiver
    counts for a sender that matches nothing before the record's end (the most it can count):
    ``dns_lookups`` over 10 or ``void_lookups`` over 2 is a permerror (RFC 7208 4.6.4).
    ``truncated``: the walk stopped asking, so the totals are a lower bound."""

    root: SpfNode
    dns_lookups: int
    void_lookups: int
    truncated: bool = False

    @property
    def over_limit(self) -> bool:
        return self.dns_lookups > MAX_DNS_LOOKUPS

    @property
    def too_many_void_lookups(self) -> bool:
        return self.void_lookups > MAX_VOID_LOOKUPS

    def walk(self) -> Iterator[tuple[int, SpfTerm | None, SpfNode]]:
        """(depth, the term that reached it or None for the root, node), depth first in record order."""

        def below(node: SpfNode, depth: int) -> Iterator[tuple[int, SpfTerm | None, SpfNode]]:
            for term in node.terms:
                if term.node:
                    yield depth, term, term.node
                    yield from below(term.node, depth + 1)

        yield 0, None, self.root
        yield from below(self.root, 1)

    def terms(self) -> Iterator[SpfTerm]:
        return (term for _depth, _via, node in self.walk() for term in node.terms)

    @property
    def void_terms(self) -> tuple[SpfTerm, ...]:
        return tuple(term for term in self.terms() if term.void)

    @property
    def asked(self) -> dict[str, tuple[str, str]]:
        """Each DNS question the walk asked for a term (the root's own TXT aside): status, detail."""
        answered = set(get_args(LookupStatus))
        return {
            f"{term.target} {_ADDRESS_QUERY.get(term.kind, 'TXT')}": (term.status, term.detail)
            for term in self.terms()
            if term.status in answered
        }

    @property
    def broken(self) -> tuple[tuple[str, SpfTerm], ...]:
        """(the record's domain, its include:/redirect=) whose target has no usable record, or
        that loops: a permerror for any sender that reaches it (RFC 7208 5.2, 6.1)."""
        return tuple(
            (node.domain, term)
            for _depth, _via, node in self.walk()
            for term in node.terms
            if term.kind in ("include", "redirect") and term.status in ("nxdomain", "no_record", "multiple", "loop")
        )

    def to_dict(self) -> dict:
        return {
            "dns_lookups": self.dns_lookups,
            "max_dns_lookups": MAX_DNS_LOOKUPS,
            "void_lookups": self.void_lookups,
            "max_void_lookups": MAX_VOID_LOOKUPS,
            "over_limit": self.over_limit,
            "too_many_void_lookups": self.too_many_void_lookups,
            "truncated": self.truncated,
            "records": [
                {
                    "depth": depth,
                    "via": via.text if via else None,
                    "domain": node.domain,
                    "status": node.status,
                    "record": node.record,
                    "lookups_here": node.lookups_here,
                }
                for depth, via, node in self.walk()
            ],
            "void_terms": [{"term": term.text, "status": term.status} for term in self.void_terms],
        }


def _parse_terms(record: str, domain: str) -> list[SpfTerm]:
    """The terms of a record with the name each asks about (pyspf's own parser for mechanisms).
    Mechanisms after ``all`` are never evaluated (RFC 7208 5.1); with ``all`` present a
    ``redirect=`` is ignored (RFC 7208 6.1), though pyspf still counts it."""
    terms, seen_all = [], False
    for text in record.split()[1:]:
        modifier = pyspf.RE_MODIFIER.split(text)[1:]
        if len(modifier) == 2:
            name, value = modifier[0].lower(), modifier[1]
            counted = name == "redirect"
            terms.append(SpfTerm(text, name, value.lower().rstrip(".") if counted else "", int(counted)))
            continue
        kind, target, _cidr, _cidr6 = pyspf.parse_mechanism(text.lstrip("+-~?"), domain)
        kind = kind.lower()
        if seen_all:
            terms.append(SpfTerm(text, kind, (target or "").lower().rstrip("."), status="after_all"))
            continue
        seen_all = kind == "all"
        queries = kind in _QUERYING
        terms.append(SpfTerm(text, kind, (target or "").lower().rstrip(".") if queries else "", int(queries)))
    if seen_all:
        terms = [replace(term, status="ignored") if term.kind == "redirect" else term for term in terms]
    return terms


class _Budget:
    """How many more questions the walk may ask."""

    def __init__(self, questions: int) -> None:
        self.left = questions

    def take(self) -> bool:
        self.left -= 1
        return self.left >= 0


#: Why the walk did not follow an include:/redirect=, in words (a node's detail).
_NOT_FOLLOWED = {
    "loop": "not followed: this record is already on the way here, so evaluating it loops until the 10-lookup limit",
    "macro": "not followed: the name is built from the message (a macro), so it depends on the sender",
    "not_followed": f"not followed: the walk asks at most {MAX_TREE_QUESTIONS} DNS questions",
    "ignored": "never used: a record with an all mechanism ignores redirect= (RFC 7208 6.1)",
    "after_all": "never evaluated: it comes after all (RFC 7208 5.1)",
}


def _not_followed(term: SpfTerm, status: TermStatus) -> SpfTerm:
    return replace(term, status=status, node=SpfNode(term.target, status, detail=_NOT_FOLLOWED[status]))


async def _ask_term(term: SpfTerm, path: tuple[str, ...], lookups: Lookups, budget: _Budget) -> SpfTerm:
    if term.kind in ("include", "redirect") and term.status:
        return _not_followed(term, term.status)
    if term.status or not term.lookups:
        return term
    if "%" in term.target:
        return _not_followed(term, "macro") if term.kind in ("include", "redirect") else replace(term, status="macro")
    if term.kind == "ptr":
        return replace(term, status="depends_on_sender")
    if term.kind in ("include", "redirect") and term.target in path:
        return _not_followed(term, "loop")
    if not term.target:  # exists without a domain: pyspf's permerror, nothing asked
        return term
    if not budget.take():
        return (
            _not_followed(term, "not_followed") if term.kind in ("include", "redirect") else replace(term, status="not_followed")
        )
    if term.kind in ("include", "redirect"):
        node, answer = await asyncio.gather(_walk(term.target, (*path, term.target), lookups, budget), lookups.get(term.target))
        return replace(term, status=node.status, void=answer.status in _VOID, detail=node.detail, node=node)
    answer = await lookups.get(term.target, _ADDRESS_QUERY[term.kind])
    return replace(term, status=answer.status, void=answer.status in _VOID, detail=answer.detail)


async def _walk(domain: str, path: tuple[str, ...], lookups: Lookups, budget: _Budget) -> SpfNode:
    found = await spf_async(domain, lookups)
    if found.status != "found":
        detail = f"{len(found.records)} v=spf1 records" if found.status == "multiple" else found.detail
        return SpfNode(domain, found.status, detail=detail)
    record = found.record
    terms = await asyncio.gather(*(_ask_term(term, path, lookups, budget) for term in _parse_terms(record, domain)))
    return SpfNode(domain, "found", record, tuple(terms))


async def spf_tree_async(domain: str, lookups: Lookups) -> SpfTree:
    """``spf_tree`` inside a batch of lookups (the Domain Check's)."""
    budget = _Budget(MAX_TREE_QUESTIONS)
    tree = SpfTree(await _walk(domain, (domain,), lookups, budget), 0, 0)
    terms = list(tree.terms())
    return replace(
        tree,
        dns_lookups=sum(term.lookups for term in terms),
        void_lookups=sum(term.void for term in terms),
        truncated=any(term.status == "not_followed" for term in terms),
    )


def spf_tree(domain: str, resolver: dns.asyncresolver.Resolver | None = None) -> SpfTree:
    """The SPF record of ``domain``, its includes and redirects, with the RFC 7208 4.6.4 counts.
    Targets built with macros (``%{i}``) depend on the message and are counted, not followed;
    ``a``/``exists`` are asked as A (an IPv4 sender), ``mx`` as MX, and ``ptr`` not at all (its
    answer depends on the sender's address)."""
    domain = normalize_domain(domain)
    return run_lookups(lambda lookups: spf_tree_async(domain, lookups), resolver)
