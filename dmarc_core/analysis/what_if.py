"""What if: a DMARC policy tried on the mail the reports describe, before it is published.

A proposal is the tags a domain owner can change (p, sp, adkim, aspf, pct). Each record is judged
again by the rules of RFC 9989: DMARC passes when a DKIM signature or the SPF MAIL FROM check passes
*and aligns* with the From: domain under adkim/aspf (4.4, 4.7; relaxed: the same organizational
domain, strict: the same domain). Mail that fails gets the policy of the record that applies
(4.10.1): p for the policy domain itself, sp for its subdomains.

What the reports cannot say, and how it is handled:

- The receiver's own verdicts (policy_evaluated) stand where a mode is unchanged: it may have
  verified a signature the report does not list, or applied a stricter record of a subdomain.
  Where a mode changes, alignment is judged from auth_results; strict alignment implies relaxed,
  so relaxing a mode never fails mail that passed, and tightening never passes mail that failed.
- np= (RFC 9989 4.7) is for subdomains that do not exist; a report does not say whether a From:
  domain exists, so every subdomain is judged by sp.
- pct= (RFC 7489 6.3, 6.6.4; RFC 9989 removed it, appendix A.6, and t=y replaced it): a receiver
  that still honours it applies the policy to pct% of failing mail and the next-lower policy
  (reject → quarantine, quarantine → none) to the rest, at random: the counts are expectations.
- A receiver's local policy (RFC 7489 appendix C, PolicyOverrideType: forwarded, mailing list,
  ...) overrides the domain's: failing mail it overrode is counted apart, as the receiver's choice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from ..rules.alignment import aligns, exact_domain, parse_mode, reported_result, safe_domain
from ..rules.dmarc_record import POLICIES
from ..rules.evaluation import mail_from_results
from .summary import UNAUTHENTICATED, reports, unauthenticated_records
from .triage import _first_rows, _numbered

#: RFC 7489 6.6.4: failing mail that pct leaves out gets the next-lower policy.
NEXT_LOWER = {"reject": "quarantine", "quarantine": "none", "none": "none"}
#: Override reasons that are the receiver's own choice. ``sampled_out`` (pct) and
#: ``policy_test_mode`` (t=y) follow the domain's record, which the proposal replaces.
LOCAL_OVERRIDES = ("forwarded", "trusted_forwarder", "mailing_list", "local_policy", "other")
#: The link's parameters: the record's tag names, after this prefix (``what_if_p=reject``).
PARAM_PREFIX = "what_if_"
#: What becomes of a message under a proposal: it passes DMARC; it fails and is delivered (p=none,
#: or left out by pct); it is quarantined or rejected; or the receiver's local policy decides.
OUTCOMES = ("passing", "delivered_failing", "quarantined", "rejected", "receivers_choice")


@dataclass(frozen=True)
class Proposal:
    """The tags of a DMARC record that decide what becomes of failing mail. ``sp`` None is the tag
    left out: subdomains get p (RFC 9989 4.7)."""

    p: str = "none"
    sp: str | None = None
    adkim: str = "r"
    aspf: str = "r"
    pct: int = 100

    def __post_init__(self):
        for tag in ("p", "sp"):
            value = getattr(self, tag)
            if not (value in POLICIES or (tag == "sp" and value is None)):
                raise ValueError(f"{tag}={value} is not a policy; use {', '.join(POLICIES)}.")
        for tag in ("adkim", "aspf"):
            if getattr(self, tag) != parse_mode(getattr(self, tag), tag):
                raise ValueError(f"{tag}={getattr(self, tag)} is not an alignment mode; use r or s.")
        if isinstance(self.pct, bool) or not isinstance(self.pct, int) or not 0 <= self.pct <= 100:
            raise ValueError(f"pct={self.pct} is not a percentage from 0 to 100.")

    @property
    def subdomain_policy(self) -> str:
        return self.sp or self.p

    @property
    def tags(self) -> str:
        """The tags as a record writes them, those at their defaults left out: ``p=reject; adkim=s``."""
        parts = [f"p={self.p}"]
        if self.sp is not None:
            parts.append(f"sp={self.sp}")
        parts += [f"{tag}=s" for tag in ("adkim", "aspf") if getattr(self, tag) == "s"]
        if self.pct != 100:
            parts.append(f"pct={self.pct}")
        return "; ".join(parts)

    def record(self, domain: str) -> str | None:
        """The TXT record to publish at ``_dmarc.<domain>``, with a stand-in rua address; None unless
        ``domain`` is exactly a domain name (report text never goes into a record)."""
        published_as = exact_domain(domain)
        return f"v=DMARC1; {self.tags}; rua=mailto:dmarc-reports@{published_as}" if published_as else None

    def to_params(self) -> dict[str, str]:
        """The link's parameters; sp only when the record has it."""
        return {PARAM_PREFIX + name: str(value) for name, value in _values(self).items() if value is not None}

    @property
    def enforcing(self) -> bool:
        return self.p != "none" or self.subdomain_policy != "none"


def _values(proposal: Proposal) -> dict:
    return {field.name: getattr(proposal, field.name) for field in fields(proposal)}


def proposal_from_params(params: Mapping[str, str], default: Proposal) -> tuple[Proposal, list[str]]:
    """The proposal a link carries (``what_if_p``, ``what_if_sp``, ``what_if_adkim``, ``what_if_aspf``,
    ``what_if_pct``), ``default``'s value for each one left out, and for each value that cannot be
    used, a sentence saying so (that value left at the default)."""
    values, problems = _values(default), []
    for name in values:
        given = params.get(PARAM_PREFIX + name)
        if given is None:
            continue
        try:
            value = _tag_value(name, str(given).strip().lower())
            Proposal(**{**values, name: value})  # says what is wrong with it
        except ValueError as problem:
            problems.append(str(problem))
            continue
        values[name] = value
    return Proposal(**values), problems


def _tag_value(name: str, text: str) -> str | int | None:
    """A tag's value as a link writes it: pct a number, the modes also as words, sp empty when left out."""
    if name == "pct":
        return int(text) if text.isdigit() else text
    if name in ("adkim", "aspf"):
        return parse_mode(text, name)
    return None if name == "sp" and not text else text


def published_proposal(frame: pd.DataFrame, domain: str | None = None) -> Proposal:
    """The policy ``domain`` publishes as its latest report quotes it, or, without a domain, that
    of the domain with the most messages. Reports quote no sp for it to be read here, so sp is left
    out (subdomains get p); a value a receiver garbled counts as its default."""
    if frame.empty:
        return Proposal()
    if domain is None:
        domain = frame.groupby("policy_domain", observed=True)["count"].sum().idxmax()
    quoted = reports(frame[frame["policy_domain"] == domain])
    latest = quoted.sort_values("end", na_position="first", kind="stable").iloc[-1]
    pct = latest["pct"]
    return Proposal(
        p=latest["p"] if latest["p"] in POLICIES else "none",
        adkim="s" if latest["adkim"] == "s" else "r",
        aspf="s" if latest["aspf"] == "s" else "r",
        pct=int(pct) if pd.notna(pct) and 0 <= pct <= 100 else 100,
    )


@dataclass(frozen=True)
class Totals:
    """Messages by what becomes of them under a proposal (``OUTCOMES``) and today, as the receivers
    reported it: their DMARC verdict and their disposition."""

    messages: int
    passing: int
    delivered_failing: int
    quarantined: int
    rejected: int
    receivers_choice: int
    passing_today: int
    quarantined_today: int
    rejected_today: int

    @property
    def blocked(self) -> int:
        return self.quarantined + self.rejected

    @property
    def blocked_today(self) -> int:
        return self.quarantined_today + self.rejected_today


@dataclass(frozen=True, eq=False)
class WhatIf:
    """A proposal tried on a triage: per sender (source and From: domain, the senders table's),
    messages today and under the proposal; and in all.

    ``senders`` columns: source, header_from, messages, passing_today, quarantined_today,
    rejected_today, then ``OUTCOMES`` under the proposal, and ``blocked_change``, the messages
    quarantined or rejected under the proposal less those today; most messages first."""

    proposal: Proposal
    senders: pd.DataFrame
    totals: Totals
    #: pct leaves some failing mail out at random: the counts are expectations, rounded.
    expected: bool

    @property
    def sentence(self) -> str:
        """The outcome in one sentence, beside today's."""
        totals, plural = self.totals, (lambda count: "" if count == 1 else "s")
        change = totals.blocked - totals.blocked_today
        compared = f"{abs(change):,} {'more' if change > 0 else 'fewer'} than today" if change else "as many as today"
        text = (
            f"Under {self.proposal.tags}: {totals.passing:,} message{plural(totals.passing)} pass "
            f"(today {totals.passing_today:,}); {totals.quarantined:,} quarantined and {totals.rejected:,} rejected, "
            f"{compared}"
        )
        if totals.delivered_failing:
            text += f"; {totals.delivered_failing:,} fail and are delivered"
        if totals.receivers_choice:
            text += f"; {totals.receivers_choice:,} fail where the receiver's own policy decides"
        return text + "."


def what_if(frame: pd.DataFrame, proposal: Proposal, evidence: Evidence | None = None) -> WhatIf:
    """``proposal`` applied to every policy domain among ``frame``'s rows (a triage's, at least one).
    ``evidence`` is ``Evidence.of(frame)`` when kept from an earlier call for the same rows."""
    evidence = evidence or Evidence.of(frame)
    outcomes = evidence.outcomes(proposal)
    sums = np.stack([np.bincount(evidence.sender_codes, weights=column, minlength=len(evidence.senders)) for column in outcomes])
    table = evidence.senders.copy()
    for name, column in zip(OUTCOMES, _whole(sums), strict=True):
        table[name] = column
    table["blocked_change"] = table["quarantined"] + table["rejected"] - table["quarantined_today"] - table["rejected_today"]
    table = table.sort_values(["messages", "source", "header_from"], ascending=[False, True, True], ignore_index=True)
    totals = Totals(
        messages=int(evidence.counts.sum()),
        **{name: int(table[name].sum()) for name in (*OUTCOMES, "passing_today", "quarantined_today", "rejected_today")},
    )
    return WhatIf(proposal, table, totals, expected=proposal.pct not in (0, 100) and proposal.enforcing)


def _whole(sums: np.ndarray) -> np.ndarray:
    """Expected messages per outcome (rows) and sender (columns) in whole messages that still add
    up to each sender's messages: each rounded down, the messages left over going to the outcomes
    with the largest remainders. Rounding each alone would lose or add some (4.5 and 0.5 to 4 and 0)."""
    floors = np.floor(sums + 1e-9)
    left_over = np.rint(sums.sum(axis=0) - floors.sum(axis=0))
    ranks = np.argsort(np.argsort(floors - sums, axis=0, kind="stable"), axis=0, kind="stable")
    return (floors + (ranks < left_over)).astype(np.int64)


@dataclass(frozen=True, eq=False)
class Evidence:
    """What a proposal's outcome depends on, per record of a triage, found once for any number of
    proposals: each record's alignment under both modes is judged once per distinct From: domain
    and <dkim> list, and per distinct From: domain and MAIL FROM list, never per record."""

    counts: np.ndarray
    #: The From: domain is below the policy domain: sp applies, else p.
    subdomain: np.ndarray
    #: The receiver's local policy overrode the domain's (``LOCAL_OVERRIDES``).
    overridden: np.ndarray
    #: Per identifier (dkim, spf): the mode the receiver applied is strict; its verdict; ours, relaxed and strict.
    published_strict: dict[str, np.ndarray]
    reported: dict[str, np.ndarray]
    relaxed: dict[str, np.ndarray]
    strict: dict[str, np.ndarray]
    sender_codes: np.ndarray
    #: One row per sender: source, header_from, messages and today's figures.
    senders: pd.DataFrame

    @classmethod
    def of(cls, frame: pd.DataFrame) -> Evidence:
        counts = frame["count"].to_numpy(dtype=np.float64)
        from_codes, from_domains = _codes(frame, ["header_from", "policy_domain"], _from_and_policy_domains)
        subdomain = np.array([bool(domain and policy and domain.endswith("." + policy)) for domain, policy in from_domains], bool)
        auth = frame["auth_results"].cat
        signatures = [
            tuple((entry.domain, reported_result(entry.result, "dkim")) for entry in entries.dkim) for entries in auth.categories
        ]
        checks = [
            mail_from_results((entry.domain, entry.scope, reported_result(entry.result, "spf")) for entry in entries.spf)
            for entries in auth.categories
        ]
        auth_codes = auth.codes.to_numpy()
        relaxed, strict = {}, {}
        for identifier, lists in (("dkim", signatures), ("spf", checks)):
            list_codes, distinct = pd.factorize(pd.Series(lists, dtype=object))
            distinct = distinct.tolist()
            # Passes-and-aligns under each mode, once per distinct From: domain and list.
            pairs = _numbered(from_codes, list_codes[auth_codes])
            first_rows = _first_rows(pairs)
            judged = np.array(
                [
                    [_passes_aligned(from_domains[domain][0], distinct[results], mode) for mode in "rs"]
                    for domain, results in zip(
                        from_codes[first_rows].tolist(), list_codes[auth_codes[first_rows]].tolist(), strict=True
                    )
                ],
                dtype=bool,
            ).reshape(-1, 2)
            relaxed[identifier], strict[identifier] = judged[pairs, 0], judged[pairs, 1]
        reported = {}
        for identifier in ("dkim", "spf"):
            given = _mapped(frame, f"reported_{identifier}", lambda verdict: verdict == "pass" if verdict else None)
            # No verdict reported: the triage's own under the published mode stands in, as in dmarc_pass.
            reported[identifier] = np.where(pd.isna(given), frame[f"{identifier}_aligned"].to_numpy(), given).astype(bool)
        # The reader keeps only r and s; anything else is r.
        published_strict = {
            identifier: frame[tag].to_numpy(dtype=object) == "s" for identifier, tag in (("dkim", "adkim"), ("spf", "aspf"))
        }
        overridden = _mapped(
            frame, "reason", lambda reason: any(part.strip() in LOCAL_OVERRIDES for part in str(reason).split(","))
        )
        sender_codes, senders = _senders(frame, counts)
        return cls(
            counts,
            subdomain[from_codes],
            overridden.astype(bool),
            published_strict,
            reported,
            relaxed,
            strict,
            sender_codes,
            senders,
        )

    def passes(self, proposal: Proposal) -> np.ndarray:
        """Per record, whether DMARC passes under the proposal's modes: the receiver's verdict for
        an identifier whose mode is unchanged; where it changes, that verdict and ours under the new
        mode (tightened: both must pass; relaxed: either)."""
        verdicts = []
        for identifier, mode in (("dkim", proposal.adkim), ("spf", proposal.aspf)):
            reported, strict_now = self.reported[identifier], self.published_strict[identifier]
            if mode == "s":
                verdicts.append(np.where(strict_now, reported, reported & self.strict[identifier]))
            else:
                verdicts.append(np.where(strict_now, reported | self.relaxed[identifier], reported))
        return verdicts[0] | verdicts[1]

    def outcomes(self, proposal: Proposal) -> list[np.ndarray]:
        """Per record, its messages under each of ``OUTCOMES`` (expected, where pct splits them)."""
        failing = np.where(self.passes(proposal), 0.0, self.counts)
        share = proposal.pct / 100
        by_policy = dict.fromkeys(POLICIES, np.zeros_like(failing))
        for policy, applies in ((proposal.p, ~self.subdomain), (proposal.subdomain_policy, self.subdomain)):
            hit = np.where(applies, failing, 0.0)
            by_policy[policy] = by_policy[policy] + hit * share
            by_policy[NEXT_LOWER[policy]] = by_policy[NEXT_LOWER[policy]] + hit * (1 - share)
        decided = np.where(self.overridden, by_policy["quarantine"] + by_policy["reject"], 0.0)
        blocked = {policy: np.where(self.overridden, 0.0, by_policy[policy]) for policy in ("quarantine", "reject")}
        return [self.counts - failing, by_policy["none"], blocked["quarantine"], blocked["reject"], decided]


def _passes_aligned(from_domain: str | None, results: tuple[tuple[str, str], ...], mode: str) -> bool:
    """RFC 9989 4.4.1, 4.4.2: an identifier carries DMARC when it passes and aligns."""
    return any(result == "pass" and aligns(from_domain, domain, mode) for domain, result in results)


def _from_and_policy_domains(header_from, policy_domain) -> tuple[str | None, str | None]:
    """The From: domain as the rules read it (the policy domain's for a record without a usable
    one), and the policy domain."""
    policy = safe_domain(policy_domain)
    return safe_domain(header_from) or policy, policy


def _codes(frame: pd.DataFrame, columns: list[str], made) -> tuple[np.ndarray, list]:
    """Each row's number among the distinct combinations of ``columns``, and ``made(*values)`` of each."""
    codes = _numbered(*(pd.factorize(frame[column], use_na_sentinel=False)[0] for column in columns))
    return codes, [made(*values) for values in frame[columns].iloc[_first_rows(codes)].itertuples(index=False, name=None)]


def _mapped(frame: pd.DataFrame, column: str, made) -> np.ndarray:
    """``made(value)`` for every row's value of ``column``, made once per distinct value."""
    codes, uniques = pd.factorize(frame[column].astype(object), use_na_sentinel=False)
    return np.array([made("" if pd.isna(value) else value) for value in uniques], dtype=object)[codes]


def _senders(frame: pd.DataFrame, counts: np.ndarray) -> tuple[np.ndarray, pd.DataFrame]:
    """Each record's sender (the senders table's source, every unauthenticated address one, and
    From: domain), and one row per sender with its messages and today's figures."""
    source = np.where(unauthenticated_records(frame), UNAUTHENTICATED, frame["source"].to_numpy(dtype=object))
    keys = pd.DataFrame({"source": source, "header_from": frame["header_from"].to_numpy(dtype=object)}).fillna("")
    codes, senders = _codes(keys, ["source", "header_from"], lambda *key: key)
    disposition = frame["disposition"].to_numpy(dtype=object)
    today = {
        "messages": counts,
        "passing_today": np.where(frame["dmarc_pass"].to_numpy(), counts, 0.0),
        "quarantined_today": np.where(disposition == "quarantine", counts, 0.0),
        "rejected_today": np.where(disposition == "reject", counts, 0.0),
    }
    senders = pd.DataFrame(senders, columns=["source", "header_from"], dtype=str)
    for name, column in today.items():
        senders[name] = np.bincount(codes, weights=column, minlength=len(senders)).astype(np.int64)
    return codes, senders
