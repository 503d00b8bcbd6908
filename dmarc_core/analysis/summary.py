"""What a person wants to know from a triage, in a few tables: how much passes, which sources
fail and why, how it went over time, and whether the domain is ready for a stricter policy."""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..rules.alignment import exact_domain
from ..rules.diagnosis import KEY_ERRORS
from ..rules.knowledge import knowledge, known_sender_by_host, sender_kind
from ..rules.wording import counted, within_sentence
from .triage import REPORT_COLUMNS, explorer_links, exported

if TYPE_CHECKING:
    from ..lookups.sources import IpInfo

_PCT_STEPS = (10, 25, 50, 100)
#: Findings left out of the rollout's pass rate (see ``_weighed``), and one left out when no DKIM or
#: SPF passed for anyone: only foreign signatures, all failing, is then mail nobody vouches for.
NOT_YOURS = ("forwarded_reported", "unsigned_unknown")
NOT_YOURS_UNVOUCHED = ("wrong_domain_unverified",)
#: A failing sender holds the rollout back when it carries at least this share of the messages.
_SIGNIFICANT_SHARE = 0.01
#: Source addresses enriched per run (PTR and AS lookups): the ones behind the most messages.
ENRICH_LIMIT = 300


class CountedMessages:
    """The pass rate and the failing messages of a result that counts ``messages`` and
    ``passing_messages`` (the triage's headline, the history's coverage)."""

    messages: int
    passing_messages: int

    @property
    def pass_rate(self) -> float:
        return self.passing_messages / self.messages if self.messages else 0.0

    @property
    def failing_messages(self) -> int:
        return self.messages - self.passing_messages


@dataclass(frozen=True)
class Headline(CountedMessages):
    reports: int
    record_count: int
    messages: int
    passing_messages: int
    policy_domains: tuple[str, ...]
    begin: pd.Timestamp | None
    end: pd.Timestamp | None


def headline(frame: pd.DataFrame) -> Headline:
    messages = int(frame["count"].sum())
    return Headline(
        reports=frame["report"].nunique(),
        record_count=len(frame),
        messages=messages,
        passing_messages=int(frame.loc[frame["dmarc_pass"], "count"].sum()),
        policy_domains=tuple(sorted(filter(None, frame["policy_domain"].unique()))),
        begin=frame["begin"].min() if len(frame) else None,
        end=frame["end"].max() if len(frame) else None,
    )


#: The sources table's one source for every address whose mail nothing authenticated (no DKIM or
#: SPF pass for any domain), which the triage names by its address: spoofers and broken servers
#: send from thousands of addresses, and a row for each would bury the senders people act on.
UNAUTHENTICATED = "Unauthenticated addresses"
#: Addresses, AS names or host names a source row spells out; ``(+N)`` counts the rest.
_SHOWN_VALUES = 3
_SOURCE_KEYS = ["source", "sender_kind", "header_from", "cause"]
SOURCE_COLUMNS = [
    *_SOURCE_KEYS,
    "table_row",
    "failing",
    "messages",
    "pass_rate",
    "ips",
    "fix",
    "explorer_link",
    "addresses",
    "reasons",
    "disagreeing",
]
_SOURCE_NUMBERS = ("table_row", "failing", "messages", "pass_rate", "ips", "disagreeing")
ENRICHED_COLUMNS = ["as_names", "host_names"]


def by_source(
    frame: pd.DataFrame,
    enrichment: Mapping[str, IpInfo] | None = None,
    links: Callable[[pd.DataFrame], pd.Series] = explorer_links,
) -> pd.DataFrame:
    """One row per sending source, its kind (``sender_kind``), From: domain and cause, the most
    failing messages first: messages, those that fail and the share that passes, how many
    addresses sent them and the busiest few, the fix and a link to the Explorer (both for the row's
    busiest record), the receiver's reasons (``reason_text``, the most messages first) and the
    messages whose receiver's verdict differs from its own auth results. Addresses nothing
    authenticated are one source, ``UNAUTHENTICATED``.
    With ``enrichment`` (IP → PTR and AS, from ``enrich_ips``), such an address whose host name
    names a known sender is that sender's (``named_by_host``), and the AS names and host names of
    the row's addresses are there too, those of the most addresses first. ``links`` makes
    records' Explorer links."""
    columns = SOURCE_COLUMNS + (ENRICHED_COLUMNS if enrichment is not None else [])
    if frame.empty:
        return pd.DataFrame(columns=columns)
    address_codes, addresses = pd.factorize(frame["source_ip"])
    sources = named_by_host(frame, enrichment or {}, address_codes, addresses)
    unauthenticated = sources.unauthenticated
    rows = _source_rows(frame, sources)
    counts = frame["count"].to_numpy()
    messages = np.bincount(rows, weights=counts).astype(np.int64)
    passing = np.bincount(rows, weights=np.where(frame["dmarc_pass"], counts, 0)).astype(np.int64)
    disagreeing = np.bincount(rows, weights=np.where(frame["disagrees"], counts, 0)).astype(np.int64)
    busiest = _busiest_records(rows, counts)
    records = frame.iloc[busiest]
    shown_addresses, ips = _few(rows, address_codes, counts, addresses, len(messages))
    reason_codes, reasons = pd.factorize(frame["reason"])
    reason_texts = pd.Index([reason_text(reason) for reason in reasons.tolist()], dtype=object)
    reason_codes = np.where(reason_texts.to_numpy(dtype=bool)[reason_codes] & (reason_codes >= 0), reason_codes, -1)
    table = pd.DataFrame(
        {
            "source": np.where(unauthenticated[busiest], UNAUTHENTICATED, sources.source.iloc[busiest].to_numpy(dtype=object)),
            "sender_kind": sources.sender_kind.iloc[busiest].to_numpy(dtype=object),
            "header_from": records["header_from"].to_numpy(dtype=object),
            "cause": records["cause"].to_numpy(dtype=object),
            "table_row": records["table_row"].array,
            "failing": messages - passing,
            "messages": messages,
            "pass_rate": passing / np.where(messages > 0, messages, np.nan),
            "ips": ips,
            "fix": records["fix"].to_numpy(dtype=object),
            "explorer_link": links(records).to_numpy(dtype=object),
            "addresses": shown_addresses,
            "reasons": _few(rows, reason_codes, counts, reason_texts, len(messages))[0],
            "disagreeing": disagreeing,
        }
    )
    if enrichment is not None:
        table = table.assign(**_names(rows, address_codes, addresses, enrichment, len(table)))
    table = table.sort_values(["failing", "messages", "source"], ascending=[False, False, True], ignore_index=True)
    text = [name for name in columns if name not in _SOURCE_NUMBERS]
    table[text] = table[text].fillna("").astype(str)  # plain text for display and links
    return table[columns]


def unauthenticated_records(frame: pd.DataFrame) -> np.ndarray:
    """Records whose source is their address: the triage names a source so when nothing authenticated."""
    source, address = (pa.array(frame[column]) for column in ("source", "source_ip"))
    if pa.types.is_dictionary(source.type):  # a category column
        source = source.dictionary_decode()
    return pc.equal(source, address).fill_null(False).to_numpy(zero_copy_only=False)


@dataclass(frozen=True)
class NamedSources:
    """Every record's source and ``sender_kind`` as the sources table names them, and whether its
    source is its address still (nothing authenticated its mail, and no host name named it)."""

    source: pd.Series
    sender_kind: pd.Series
    unauthenticated: np.ndarray


def named_by_host(
    frame: pd.DataFrame, enrichment: Mapping[str, IpInfo], address_codes: np.ndarray, addresses: pd.Index
) -> NamedSources:
    """The records' sources, where nothing authenticated a record's mail (its source is its
    address) named by the known sender its address's host name (PTR, from ``enrichment``) names,
    with that sender's kind: the triage is not run again. Each address is looked at once
    (``address_codes`` number the records' ``addresses``, as ``pd.factorize`` does)."""
    unauthenticated = unauthenticated_records(frame)
    if not enrichment:
        return NamedSources(frame["source"], frame["sender_kind"], unauthenticated)
    infos = (enrichment.get(address) for address in addresses.tolist())
    services = [known_sender_by_host(info.ptr) if info is not None else None for info in infos]
    found = np.append(np.array([service is not None for service in services], dtype=bool), False)  # code -1: no address
    named = unauthenticated & found[address_codes]
    if not named.any():
        return NamedSources(frame["source"], frame["sender_kind"], unauthenticated)
    source, kind = frame["source"].to_numpy(dtype=object), frame["sender_kind"].to_numpy(dtype=object)
    relayed = (frame["cause"] == "forwarded").to_numpy(dtype=bool)
    # Once per address and cause: nothing of yours passed (the address is the source), so yours=False.
    pairs = pd.factorize(address_codes[named] * 2 + relayed[named])[0]
    first = np.flatnonzero(named)[np.unique(pairs, return_index=True)[1]]
    kinds = [sender_kind(services[address_codes[row]], yours=False, relayed=bool(relayed[row])) for row in first.tolist()]
    source[named] = [services[code].name for code in address_codes[named].tolist()]
    kind[named] = np.array(kinds, dtype=object)[pairs]
    return NamedSources(pd.Series(source, index=frame.index), pd.Series(kind, index=frame.index), unauthenticated & ~named)


def reason_text(reason: str) -> str:
    """The receiver's reasons of a record (the triage's comma-separated ``reason``) in words."""
    titles = knowledge().reason_titles
    return " + ".join(titles.get(part, part) for part in filter(None, (part.strip() for part in str(reason).split(","))))


def _source_rows(frame: pd.DataFrame, sources: NamedSources) -> np.ndarray:
    """Each record's row of the sources table, numbered from 0: its distinct (source, kind, From:
    domain, cause), as ``sources`` names them, every unauthenticated source counting as one."""
    key = np.zeros(len(frame), dtype=np.int64)
    for column in _SOURCE_KEYS:
        values = getattr(sources, column) if column in ("source", "sender_kind") else frame[column]
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
        if column == "source":
            codes = np.where(sources.unauthenticated, len(uniques), codes)
        key = key * (len(uniques) + 1) + codes
    return pd.factorize(key)[0]


def _busiest_records(rows: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The position of each source row's record with the most messages (the first of equals)."""
    order = np.lexsort((-counts, rows))
    return order[np.r_[True, rows[order][1:] != rows[order][:-1]]]


def _few(rows: np.ndarray, values: np.ndarray, weights: np.ndarray, names: pd.Index, size: int) -> tuple[list[str], np.ndarray]:
    """For each of ``size`` source rows, its distinct values (codes into ``names``, -1 for none)
    with the most ``weights`` first: a few of them as text, and how many there are."""
    known = values >= 0
    pairs, which = np.unique(rows[known] * len(names) + values[known], return_inverse=True)
    totals = np.bincount(which, weights=weights[known])
    row, value = np.divmod(pairs, len(names))
    order = np.lexsort((-totals, row))
    row, value = row[order], value[order]
    count = np.bincount(row, minlength=size)
    rank = np.arange(len(row)) - (np.cumsum(count) - count)[row]  # place within its row's values
    shown: list[list[str]] = [[] for _ in count]
    leading = rank < _SHOWN_VALUES
    for number, name in zip(row[leading].tolist(), names.take(value[leading]).tolist(), strict=True):
        shown[number].append(name)
    more = (f" (+{extra:,})" if extra > 0 else "" for extra in (count - _SHOWN_VALUES).tolist())
    return [", ".join(values) + rest for values, rest in zip(shown, more, strict=True)], count


def _names(
    rows: np.ndarray, address_codes: np.ndarray, addresses: pd.Index, enrichment: Mapping[str, IpInfo], size: int
) -> dict[str, list[str]]:
    """The AS names and host names of each source row's addresses, by how many addresses have them."""
    known = address_codes >= 0
    pairs = np.unique(rows[known] * len(addresses) + address_codes[known])
    pair_rows, pair_addresses = np.divmod(pairs, len(addresses))
    infos = [enrichment.get(address) for address in addresses.tolist()]
    names = {}
    for column, attribute in (("as_names", "as_name"), ("host_names", "ptr")):
        codes, found = pd.factorize(pd.Series([getattr(info, attribute, None) or None for info in infos], dtype=object))
        names[column] = _few(pair_rows, codes[pair_addresses], np.ones(len(pairs)), found, size)[0]
    return names


def missing_selectors(frame: pd.DataFrame) -> dict[str, list[str]]:
    """The DKIM selectors whose key a receiver could not get (permerror/temperror), per signing
    domain, from the rows triaged as selector_missing: what "check selectors" looks up."""
    wanted: dict[str, list[str]] = {}
    for auth in frame.loc[frame["cause"] == "selector_missing", "auth_results"].unique():
        for signature in auth.dkim:
            if signature.result in KEY_ERRORS and signature.domain and signature.selector:
                selectors = wanted.setdefault(signature.domain, [])
                if signature.selector not in selectors:
                    selectors.append(signature.selector)
    return wanted


def by_cause(frame: pd.DataFrame) -> pd.DataFrame:
    """Messages per cause, and those of them that fail DMARC, with the cause's title and table row,
    most messages first."""
    findings = knowledge().findings
    counts = frame["count"]
    totals = pd.DataFrame({"messages": counts, "failing": counts.where(~frame["dmarc_pass"], 0)})
    totals = totals.groupby(frame["cause"], sort=False, observed=True).sum()
    rows = [
        {
            "cause": cause,
            "title": findings[cause].title,
            "table_row": findings[cause].table_row,
            "messages": int(messages),
            "failing": int(failing),
        }
        for cause, messages, failing in totals.itertuples()
    ]
    result = pd.DataFrame(rows, columns=["cause", "title", "table_row", "messages", "failing"])
    # A cause's row where each of its records is on that row: mail "signed with someone else's
    # domain" whose signatures all failed is on no row of the table (row 1 asks for a pass).
    records_rows = frame["table_row"].groupby(frame["cause"], observed=True)
    on_its_row = (records_rows.count() == records_rows.size()) & (records_rows.min() == records_rows.max())
    result["table_row"] = result["table_row"].astype("Int64").where(result["cause"].map(on_its_row).fillna(False).astype(bool))
    return result.sort_values("messages", ascending=False, ignore_index=True)


def by_day(frame: pd.DataFrame) -> pd.DataFrame:
    """Messages per day (the day a report's range begins) and disposition."""
    # Summed per report start first: a report's records share it, so only those few become days.
    totals = frame.groupby(["begin", "disposition"], observed=True, dropna=False)["count"].sum().reset_index()
    dated = totals.dropna(subset=["begin"])
    day = _day(dated["begin"])
    disposition = dated["disposition"].astype(str).replace("", "(none given)")
    return (
        dated.assign(day=day, disposition=disposition)
        .groupby(["day", "disposition"], as_index=False)["count"]
        .sum()
        .rename(columns={"count": "messages"})
    )


#: What the rollout plan's pass rate leaves out (``_weighed``), as the advice and the pages say it.
ROLLOUT_LEAVES_OUT = "mail the receiver called forwarded, and mail nobody vouches for"


def _weighed(frame: pd.DataFrame) -> pd.Series:
    """The records the rollout plan's pass rate weighs. Left out: mail the receiver itself called
    forwarded (no sender can fix it), and mail nobody vouches for (no DKIM or SPF pass for anyone,
    and no signature of yours: what enforcement is meant to stop). Mail whose own signature failed
    stays in: it is likely yours, forwarded or broken."""
    finding = frame["finding"]
    unvouched = finding.isin(NOT_YOURS_UNVOUCHED).to_numpy() & unauthenticated_records(frame)
    return ~finding.isin(NOT_YOURS) & ~pd.Series(unvouched, index=frame.index)


def _day(begin: pd.Series) -> pd.Series:
    """The day a report's range begins, in UTC: the day its records count for."""
    return begin.dt.tz_convert(None).dt.floor("D")


def pass_rate_by_day(frame: pd.DataFrame) -> pd.DataFrame:
    """Per day (the day a report's range begins), every day from the first to the last: the
    messages, the share that passes DMARC, and the share the rollout plan judges
    (``Readiness.pass_rate``: mail the receiver called forwarded and mail nobody vouches for left
    out). A rate is missing where there is nothing to divide: a line breaks there, not slopes."""
    counts, passed = frame["count"], frame["dmarc_pass"]
    judged = _weighed(frame)
    parts = pd.DataFrame(
        {
            "messages": counts,
            "passing": counts.where(passed, 0),
            "judged": counts.where(judged, 0),
            "judged_passing": counts.where(judged & passed, 0),
        }
    )
    # Summed per report start first: a report's records share it, so only those few become days.
    totals = parts.groupby(frame["begin"]).sum()
    return daily_pass_rates(totals.groupby(_day(totals.index.to_series())).sum())


def daily_pass_rates(days: pd.DataFrame) -> pd.DataFrame:
    """``pass_rate_by_day`` from its sums per day (``messages``, ``passing``, ``judged``,
    ``judged_passing``, indexed by day): the history's store sums them in SQL."""
    if len(days):
        days = days.reindex(pd.date_range(days.index.min(), days.index.max(), freq="D"), fill_value=0)
    return pd.DataFrame(
        {
            "day": days.index,
            "messages": days["messages"].to_numpy(),
            "pass_rate": (days["passing"] / days["messages"].where(days["messages"] > 0)).to_numpy(),
            "rollout_pass_rate": (days["judged_passing"] / days["judged"].where(days["judged"] > 0)).to_numpy(),
        }
    )


#: The name of the senders a chart of the busiest leaves out, together.
OTHER_SENDERS = "Other senders"


def failing_by_source_and_day(frame: pd.DataFrame, limit: int = 8) -> pd.DataFrame:
    """Messages that fail DMARC per day and source (as the sources table names it), for the
    ``limit`` sources with the most of them, the rest as ``OTHER_SENDERS``; the sources with the
    most failing messages first. Addresses nothing authenticated are one sender per cause (a
    forwarder's relay and a spoofer have opposite fixes), named ``UNAUTHENTICATED: cause title``."""
    failing = frame.loc[~frame["dmarc_pass"], ["begin", "source", "source_ip", "cause", "count"]]
    unauthenticated = pd.Series(unauthenticated_records(failing), index=failing.index, name="unauthenticated")
    totals = failing.groupby(["begin", "source", "cause", unauthenticated], observed=True)["count"].sum().reset_index()
    titles = {cause: finding.title for cause, finding in knowledge().findings.items()}
    by_cause = UNAUTHENTICATED + ": " + totals["cause"].astype(object).map(titles)
    source = totals["source"].astype(object).where(~totals["unauthenticated"], by_cause)
    per_source = totals["count"].groupby(source).sum().sort_values(ascending=False, kind="stable")
    kept = per_source.index[:limit] if len(per_source) > limit else per_source.index
    named = source.where(source.isin(kept), OTHER_SENDERS)
    per_day = totals["count"].groupby([_day(totals["begin"]).rename("day"), named.rename("source")]).sum().reset_index()
    order = {name: rank for rank, name in enumerate([*kept, OTHER_SENDERS])}
    per_day = per_day.assign(rank=per_day["source"].map(order)).sort_values(["rank", "day"], ignore_index=True)
    return per_day.drop(columns="rank").rename(columns={"count": "messages"})


@dataclass(frozen=True)
class Disagreement:
    """The records whose receiver's verdict (policy_evaluated) differs from its own auth results."""

    records: int
    messages: int
    total_records: int


def disagreement(frame: pd.DataFrame) -> Disagreement:
    differing = frame["disagrees"].to_numpy(dtype=bool)
    return Disagreement(int(differing.sum()), int(frame["count"].to_numpy()[differing].sum()), len(frame))


def receiver_reasons(frame: pd.DataFrame) -> list[str]:
    """The reason types of RFC 7489 and RFC 9990 the records carry, in the order the knowledge lists them."""
    present = {part for reason in pd.unique(frame["reason"].dropna()) for part in str(reason).split(",")}
    return [reason for reason in knowledge().reason_titles if reason in present]


_POLICY_COLUMNS = ["policy_domain", "p", "adkim", "aspf", "pct"]


def reports(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per report among ``frame``'s rows, with the report-level columns: what a report
    says once (who sent it, its dates, the policy it quotes), however many records it has."""
    return frame.loc[~frame["report"].duplicated(), list(REPORT_COLUMNS)].reset_index(drop=True)


def published_policies(frame: pd.DataFrame) -> pd.DataFrame:
    """Each distinct policy a domain published (p, adkim, aspf, pct) as the reports quote it,
    with the receivers (org_name) whose reports quote it."""
    quoted = reports(frame).astype(dict.fromkeys(("policy_domain", "p", "adkim", "aspf", "org_name"), object))
    receivers = quoted.groupby(_POLICY_COLUMNS, sort=False, dropna=False)["org_name"]
    return receivers.agg(lambda names: ", ".join(sorted({name for name in names if name}))).rename("reported_by").reset_index()


def busiest_addresses(frame: pd.DataFrame, limit: int = ENRICH_LIMIT) -> list[str]:
    """The source addresses behind the most messages, most first, at most ``limit``: the ones
    worth the DNS lookups of ``enrich_ips``."""
    codes, addresses = pd.factorize(frame["source_ip"])
    totals = np.bincount(codes[codes >= 0], weights=frame["count"].to_numpy()[codes >= 0], minlength=len(addresses))
    return [address for address in addresses.take(np.argsort(-totals, kind="stable")[:limit]).tolist() if address]


def matching(
    frame: pd.DataFrame,
    *,
    policy_domain: str | None = None,
    causes: Iterable[str] = (),
    failing_only: bool = False,
    search: str = "",
    reasons: Iterable[str] = (),
    disagreeing_only: bool = False,
) -> pd.DataFrame:
    """The rows the triage's filters keep: one policy domain, some causes, failing mail only, a
    text found, whatever its case, in the source (``UNAUTHENTICATED`` included), its address, the
    From: domain or the DKIM or SPF results, any of some receiver's reasons, and the rows whose receiver's
    verdict differs from its auth results only. With no filter, ``frame`` itself."""
    causes, reasons, text = list(causes), set(reasons), search.strip().lower()
    if not (policy_domain or causes or failing_only or text or reasons or disagreeing_only):
        return frame
    keep = pd.Series(True, index=frame.index)
    if policy_domain:
        keep &= frame["policy_domain"] == policy_domain
    if causes:
        keep &= frame["cause"].isin(causes)
    if failing_only:
        keep &= ~frame["dmarc_pass"]
    if disagreeing_only:
        keep &= frame["disagrees"]
    if reasons:
        codes, values = pd.factorize(frame["reason"])
        given = np.array([bool(reasons.intersection(str(value).split(","))) for value in values.tolist()] + [False])
        keep &= given[codes]  # code -1, no reason, keeps nothing
    if text:
        found = _contains(frame["source"], text) | _contains(frame["source_ip"], text)
        found |= _contains(frame["header_from"], text) | _contains(frame["dkim"], text) | _contains(frame["spf"], text)
        if text in UNAUTHENTICATED.lower():  # the sources table's name for them
            found |= unauthenticated_records(frame)
        keep &= found
    return frame[keep]


def _contains(column: pd.Series, text: str) -> np.ndarray:
    """Which values hold ``text``, whatever their case; a category column's looked at once per category."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        found = column.cat.categories.str.contains(text, case=False, regex=False)
        return np.append(found, False)[column.cat.codes.to_numpy()]  # code -1, a missing value, finds nothing
    return column.str.contains(text, case=False, regex=False).fillna(False).to_numpy(dtype=bool)


@dataclass(frozen=True)
class Readiness:
    """Where a domain stands in the article's rollout plan, what the reports show, and the record
    to publish next (only when the reports are evidence enough for it)."""

    domain: str
    policy: str
    pct: int
    messages: int
    pass_rate: float
    days: float
    receivers: int
    step: int
    ready: bool
    advice: str
    next_record: str | None
    #: Senders whose legitimate mail fails (source, cause, messages), most messages first.
    blockers: tuple[tuple[str, str, int], ...]
    #: What the reports still lack for the plan's next step, in words.
    missing_evidence: tuple[str, ...] = ()
    #: Legitimate mail is blocked (root cause 5): the advice is to roll back to p=none.
    roll_back: bool = False


def rollout_readiness(frame: pd.DataFrame) -> list[Readiness]:
    """One assessment per policy domain in the reports (the policy of the latest report counts).
    The evidence is gathered for every domain at once: a month of reports can name hundreds."""
    quoted = reports(frame)
    # The latest dated report decides; one whose dates were placeholders never outranks a dated one.
    latest = quoted.sort_values("end", na_position="first", kind="stable").drop_duplicates("policy_domain", keep="last")
    latest = latest.set_index("policy_domain")
    judged = frame[_weighed(frame)]
    messages = judged.groupby("policy_domain", observed=True)["count"].sum()
    passing = judged[judged["dmarc_pass"]].groupby("policy_domain", observed=True)["count"].sum()
    receivers = quoted["org_name"].astype(str).replace("", pd.NA).groupby(quoted["policy_domain"], observed=True).nunique()
    days = _days_covered(quoted)
    blockers = _blockers(judged, messages)
    enforced = judged[judged["enforced_before_fix"] & (judged["cause"] != "forwarded")]  # forwarding never asks for a rollback
    enforced_by_domain = dict(tuple(enforced.groupby("policy_domain", observed=True)))
    assessments = []
    for domain in sorted(filter(None, frame["policy_domain"].dropna().unique())):
        count = int(messages.get(domain, 0))
        assessment = _readiness(
            domain,
            policy=latest.at[domain, "p"] or "none",
            pct=int(latest.at[domain, "pct"]) if pd.notna(latest.at[domain, "pct"]) else 100,
            messages=count,
            pass_rate=float(passing.get(domain, 0) / count) if count else 0.0,
            days=days.get(domain, 0.0),
            receivers=int(receivers.get(domain, 0)),
            blockers=blockers.get(domain, ()),
            harmed=_harmed(enforced_by_domain.get(domain), count),
        )
        assessments.append(assessment)
    return assessments


READINESS_COLUMNS = ["domain", "policy", "step", "days", "messages", "pass_rate", "ready", "next_record"]


def readiness_table(assessments: Iterable[Readiness]) -> pd.DataFrame:
    """The assessments as a table, a row per domain (the policy as published, p= and pct= below
    100): what a month of reports naming hundreds of domains fits in. What to act on first comes
    first: the domains whose legitimate mail is blocked (roll back), then the most messages."""
    assessments = sorted(assessments, key=lambda assessment: (not assessment.roll_back, -assessment.messages, assessment.domain))
    rows = [
        (
            assessment.domain,
            f"p={assessment.policy}" + (f"; pct={assessment.pct}" if assessment.pct < 100 else ""),
            assessment.step,
            assessment.days,
            assessment.messages,
            assessment.pass_rate if assessment.messages else None,  # no mail judged: no rate, not 0%
            assessment.ready,
            assessment.next_record or "",
        )
        for assessment in assessments
    ]
    return pd.DataFrame(rows, columns=READINESS_COLUMNS)


def for_domains_of(rows: pd.DataFrame, table: pd.DataFrame, column: str = "domain") -> pd.DataFrame:
    """The rows of a per-domain ``table`` whose ``column`` is a policy domain of the records ``rows``."""
    return table[table[column].isin(pd.unique(rows["policy_domain"].dropna()))]


def _blockers(judged: pd.DataFrame, messages: pd.Series) -> dict[str, tuple[tuple[str, str, int], ...]]:
    """Per policy domain, the senders whose legitimate mail fails with a real share of the domain's
    messages (source, cause, messages), at most five, most messages first."""
    # Forwarding only inferred (your signature failed, SPF passed for nobody of yours) blocks too when it
    # is a real share: the article's forwarding failures are low-count, many are more likely your server.
    blocking = [key for key, finding in knowledge().findings.items() if finding.blocks_rollout or key == "forwarded"]
    failing = judged[~judged["dmarc_pass"] & judged["finding"].isin(blocking)]
    totals = failing.groupby(["policy_domain", "source", "cause"], observed=True)["count"].sum()
    busiest = totals.sort_values(ascending=False, kind="stable").groupby(level="policy_domain", observed=True, sort=False).head(5)
    found: dict[str, list[tuple[str, str, int]]] = {}
    for (domain, source, cause), count in busiest.items():
        if count >= _SIGNIFICANT_SHARE * max(int(messages.get(domain, 0)), 1):
            found.setdefault(domain, []).append((source, cause, int(count)))
    return {domain: tuple(entries) for domain, entries in found.items()}


def _readiness(
    domain: str,
    *,
    policy: str,
    pct: int,
    messages: int,
    pass_rate: float,
    days: float,
    receivers: int,
    blockers: tuple[tuple[str, str, int], ...],
    harmed: _Harm,
) -> Readiness:
    """Where the evidence the reports give about ``domain`` puts it in the rollout plan."""
    facts = knowledge()
    threshold, needs = facts.pass_rate_threshold, facts.evidence
    missing = _missing_evidence(days, receivers, messages, needs)
    # Only a validated domain goes into a record the app tells you to publish: report text never does.
    published_as = exact_domain(domain)

    def record(step: int, pct: int | None = None) -> str | None:
        return facts.rollout_step(step).record_for(f"dmarc-reports@{published_as}", pct) if published_as else None

    good = pass_rate >= threshold
    left_out = f"{ROLLOUT_LEAVES_OUT}, left out"
    rate = (
        f"{pass_rate:.1%} of {counted(messages, 'message')} pass ({left_out})"
        if messages
        else f"no message to judge ({left_out})"
    )
    judged = "to judge it" if policy == "reject" else "for the next step"  # p=reject is the plan's last step
    not_enough = f"Not enough evidence {judged} yet: {'; '.join(missing)}." if missing else ""
    step = plan_step(policy, pct, days)

    def result(ready: bool, advice: str, next_record: str | None, roll_back: bool = False) -> Readiness:
        return Readiness(
            domain,
            policy,
            pct,
            messages,
            pass_rate,
            days,
            receivers,
            step,
            ready,
            advice,
            next_record,
            blockers,
            missing,
            roll_back,
        )

    if policy in ("quarantine", "reject") and harmed.significant:
        return result(
            False,
            f"{harmed.sentence} Mail with a valid DKIM signature is being blocked (root cause 5): if "
            f"{'this sender sends' if len(harmed.senders) == 1 else 'these senders send'} for you, roll back to p=none, "
            f"fix {'it' if len(harmed.senders) == 1 else 'them'}, then advance again.",
            record(1),
            roll_back=True,
        )
    # Blocked mail too little to roll back for; under p=none the receivers blocked it of their own accord.
    aside = (
        f" {harmed.sentence} Fix {'that sender' if len(harmed.senders) == 1 else 'those senders'}"
        + ("; too few messages to roll back for." if policy in ("quarantine", "reject") else ".")
        if harmed.senders
        else ""
    )
    if policy == "reject":
        state = "" if good or not messages else " Fix the failing senders below."
        return result(good and not missing, f"p=reject is the last step; {rate}.{state}{aside} {not_enough}".strip(), None)
    if missing:
        return result(False, f"{not_enough} So far {rate}.{aside}", None)
    if policy == "quarantine":
        if not good:
            return result(False, f"{rate}, below {threshold:.0%}: fix the senders below before going further.{aside}", None)
        if pct < 100:
            next_pct = next(value for value in _PCT_STEPS if value > pct)
            following = record(4) if next_pct == 100 else record(3, next_pct)
            return result(True, f"{rate}: raise pct gradually, over 4-6 weeks, to 100%.{aside}", following)
        return result(True, f"{rate}, above {threshold:.0%}: switch to p=reject.{aside}", record(5))
    if not good or blockers:
        return result(False, f"{rate}: fix DKIM alignment for the senders below, starting with the most messages.", None)
    return result(True, f"{rate} over {days:.0f} days: start enforcing on 10% of failing mail. {facts.pct_note}", record(3))


def plan_step(policy: str, pct: int, days: float) -> int:
    """The rollout plan's step a published policy puts a domain on, after ``days`` covered by reports."""
    return {"none": 1 if days < knowledge().evidence.days else 2, "quarantine": 3 if pct <= 10 else 4, "reject": 5}.get(policy, 1)


def _missing_evidence(days: float, receivers: int, messages: int, needs) -> tuple[str, ...]:
    missing = []
    if days < needs.days:
        # Hours of a day read as part of one; under one, a count of days would say "0 days".
        covered = "less than a day" if days < 1 else f"{days:g} day{'s' if days != 1 else ''}"
        missing.append(f"the reports cover {covered} (the days between reports do not count), and the plan asks for two weeks")
    if receivers < needs.receivers:
        missing.append(f"{counted(receivers, 'receiver')} reported, and at least {needs.receivers} give a fair picture")
    if messages < needs.messages:
        missing.append(
            f"{counted(messages, 'message')} {'is' if messages == 1 else 'are'} too few for a pass rate to mean much "
            f"(at least {needs.messages:,})"
        )
    return tuple(missing)


@dataclass(frozen=True)
class _Harm:
    """Legitimate mail an enforcing policy blocked (root cause 5), by sender, said as it happened."""

    senders: tuple[str, ...]
    sentence: str
    significant: bool


def _harmed(rows: pd.DataFrame | None, messages: int) -> _Harm:
    """Root cause 5 in ``rows`` (a domain's records where DMARC failed, a DKIM result passed and
    the receiver quarantined or rejected the mail; forwarded mail is no sender's fault): a sender
    counts when it is a real share of the domain's ``messages``."""
    if rows is None:
        return _Harm((), "", False)
    bar, findings = knowledge().rollback, knowledge().findings
    parts, significant, senders = [], False, []
    rest, rest_senders, rest_rows = 0, set(), []  # the long tail past the senders named
    per_sender = rows.groupby(["source", "finding"], observed=True)
    for (source, finding), group in sorted(per_sender, key=lambda item: -int(item[1]["count"].sum())):
        count = int(group["count"].sum())
        if not count:
            continue
        senders.append(str(source))
        significant |= count >= bar.messages and count >= bar.share * max(messages, 1)
        if len(parts) < _HARMED_NAMED:
            parts.append(
                f"{counted(count, 'message')} from {source} ({within_sentence(findings[finding].title)}) {_handled(group, count)}"
            )
        else:  # a big domain's long tail: the largest named, the rest counted
            rest += count
            rest_senders.add(str(source))
            rest_rows.append(group)
    if rest:
        # The tail: more findings of senders named above (by name), and senders not named (counted).
        named = [source for source in dict.fromkeys(senders[:_HARMED_NAMED]) if source in rest_senders]
        others = len(rest_senders - set(senders[:_HARMED_NAMED]))
        whom = [*named, *([counted(others, "other sender")] if others else [])]
        parts.append(f"and {counted(rest, 'more message')} from {' and '.join(whom)} {_handled(pd.concat(rest_rows), rest)}")
    return _Harm(tuple(dict.fromkeys(senders)), "; ".join(parts) + "." if parts else "", significant)


def _handled(rows: pd.DataFrame, count: int) -> str:
    """What the receivers did with blocked mail: "were quarantined", "was rejected", "were quarantined or rejected"."""
    words = " or ".join(
        word
        for word, disposition in (("quarantined", "quarantine"), ("rejected", "reject"))
        if (rows["disposition"] == disposition).any()
    )
    return f"{'were' if count != 1 else 'was'} {words}"


#: Senders of blocked mail the advice names, the most messages first.
_HARMED_NAMED = 3


def _days_covered(quoted: pd.DataFrame) -> dict[str, float]:
    """Per policy domain of the reports ``quoted``, the days that at least one of its reports covers:
    the union of their date ranges, so that two one-day reports a year apart count 2 days, not 366,
    and receivers reporting the same day count once."""
    ranges = quoted[["policy_domain", "begin", "end"]].dropna().drop_duplicates()
    covered = {}
    spans = ranges.sort_values(["policy_domain", "begin"], kind="stable").itertuples(index=False)
    for domain, domain_spans in itertools.groupby(spans, key=operator.itemgetter(0)):
        seconds, reach = 0.0, None
        for _, begin, end in domain_spans:
            if reach is not None and begin < reach:
                begin = reach
            if end > begin:
                seconds += (end - begin).total_seconds()
                reach = end
        covered[domain] = round(seconds / 86400, 2)  # a day reported as 00:00:00 to 23:59:59 is a whole day
    return covered


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The rows as CSV. Text a spreadsheet would run as a formula (a hostile org_name such as
    ``=HYPERLINK(...)``) gets a leading apostrophe, as OWASP recommends."""

    def defuse(value):
        return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_START) else value

    frame = exported(frame)
    safe = {}
    for name, column in frame.items():
        if isinstance(column.dtype, pd.CategoricalDtype):
            safe[name] = column.cat.rename_categories(defuse)  # once per distinct value
        elif column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
            safe[name] = column.map(defuse)
    return frame.assign(**safe).to_csv(index=False).encode("utf-8")
