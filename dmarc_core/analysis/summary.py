"""What a person wants to know from a triage, in a few tables: how much passes, which sources
fail and why, how it went over time, and whether the domain is ready for a stricter policy."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from ..rules.alignment import exact_domain
from ..rules.diagnosis import KEY_ERRORS
from ..rules.knowledge import knowledge
from .triage import REPORT_COLUMNS, explorer_links, exported

if TYPE_CHECKING:
    from ..lookups.sources import IpInfo

_PCT_STEPS = (10, 25, 50, 100)
#: Findings left out of the rollout's pass rate (see _readiness).
_NOT_YOURS = ("forwarded_reported", "unsigned_unknown")
#: A failing sender holds the rollout back when it carries at least this share of the messages.
_SIGNIFICANT_SHARE = 0.01
#: Source addresses enriched per run (PTR and AS lookups): the ones behind the most messages.
ENRICH_LIMIT = 300


@dataclass(frozen=True)
class Headline:
    reports: int
    record_count: int
    messages: int
    passing_messages: int
    policy_domains: tuple[str, ...]
    begin: pd.Timestamp | None
    end: pd.Timestamp | None

    @property
    def pass_rate(self) -> float:
        return self.passing_messages / self.messages if self.messages else 0.0

    @property
    def failing_messages(self) -> int:
        return self.messages - self.passing_messages


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


SOURCE_COLUMNS = ["source", "header_from", "cause", "table_row", "messages", "pass_rate", "ips", "fix", "explorer_link"]
ENRICHED_COLUMNS = ["as_names", "host_names"]


def by_source(frame: pd.DataFrame, enrichment: Mapping[str, IpInfo] | None = None) -> pd.DataFrame:
    """One row per sending source and cause: messages, how many pass, the fix, and a link to the
    Explorer (for the source's most common combination). With ``enrichment`` (IP → PTR and AS,
    from ``enrich_ips``), the AS names and host names of the source's addresses too."""
    columns = SOURCE_COLUMNS + (ENRICHED_COLUMNS if enrichment is not None else [])
    if frame.empty:
        return pd.DataFrame(columns=columns)
    work = frame.assign(passing=frame["count"].where(frame["dmarc_pass"], 0))
    keys = ["source", "header_from", "cause"]
    grouped = work.groupby(keys, sort=False, dropna=False)
    summary = grouped.agg(
        table_row=("table_row", "first"),
        messages=("count", "sum"),
        passing=("passing", "sum"),
        ips=("source_ip", "nunique"),
        fix=("fix", "first"),
    )
    busiest = work.sort_values("count", ascending=False).drop_duplicates(keys)
    summary["explorer_link"] = explorer_links(busiest).set_axis(pd.MultiIndex.from_frame(busiest[keys])).reindex(summary.index)
    summary["pass_rate"] = summary["passing"] / summary["messages"].where(summary["messages"] > 0)
    if enrichment is not None:
        looked_up = {ip: info for ip, info in enrichment.items() if info is not None}
        names = work.assign(
            as_name=work["source_ip"].map(lambda ip: looked_up[ip].as_name if ip in looked_up else None),
            host_name=work["source_ip"].map(lambda ip: looked_up[ip].ptr if ip in looked_up else None),
        ).groupby(keys, sort=False, dropna=False)
        summary["as_names"] = names["as_name"].agg(_distinct)
        summary["host_names"] = names["host_name"].agg(_distinct)
    summary = summary.reset_index().sort_values(["messages", "source"], ascending=[False, True], ignore_index=True)
    text = ["source", "header_from", "cause", "fix", "explorer_link"]
    summary[text] = summary[text].astype(str)  # plain text for display and links, not categories
    return summary[columns]


def _distinct(values: pd.Series) -> str:
    """A few distinct values as text, most frequent first."""
    counted = values.dropna().value_counts()
    shown = ", ".join(counted.index[:3])
    return shown + (f" (+{len(counted) - 3})" if len(counted) > 3 else "")


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
    """Messages per cause, with the cause's title and table row, most messages first."""
    findings = knowledge().findings
    totals = frame.groupby("cause", sort=False)["count"].sum()
    rows = [
        {"cause": cause, "title": findings[cause].title, "table_row": findings[cause].table_row, "messages": int(messages)}
        for cause, messages in totals.items()
    ]
    result = pd.DataFrame(rows, columns=["cause", "title", "table_row", "messages"])
    result["table_row"] = result["table_row"].astype("Int64")
    return result.sort_values("messages", ascending=False, ignore_index=True)


def by_day(frame: pd.DataFrame) -> pd.DataFrame:
    """Messages per day (the day a report's range begins) and disposition."""
    dated = frame.dropna(subset=["begin"])
    day = dated["begin"].dt.tz_convert(None).dt.floor("D")
    disposition = dated["disposition"].astype(str).replace("", "(none given)")
    return (
        dated.assign(day=day, disposition=disposition)
        .groupby(["day", "disposition"], as_index=False)["count"]
        .sum()
        .rename(columns={"count": "messages"})
    )


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


def pass_fail_by_source(frame: pd.DataFrame, limit: int = 15) -> pd.DataFrame:
    """Messages that pass and that fail DMARC per source, for the ``limit`` sources with the most
    messages: one row per source and verdict (``pass``/``fail``)."""
    verdicts = frame.assign(verdict=frame["dmarc_pass"].map({True: "pass", False: "fail"}))
    totals = verdicts.groupby(["source", "verdict"], as_index=False, observed=True)["count"].sum()
    busiest = totals.groupby("source", observed=True)["count"].sum().nlargest(limit).index
    return totals[totals["source"].isin(busiest)].rename(columns={"count": "messages"}).reset_index(drop=True)


def busiest_addresses(frame: pd.DataFrame, limit: int = ENRICH_LIMIT) -> list[str]:
    """The source addresses behind the most messages, most first, at most ``limit``: the ones
    worth the DNS lookups of ``enrich_ips``."""
    totals = frame.groupby("source_ip", observed=True)["count"].sum().nlargest(limit)
    return [ip for ip in totals.index if ip]


def matching(
    frame: pd.DataFrame,
    *,
    policy_domain: str | None = None,
    causes: Iterable[str] = (),
    failing_only: bool = False,
    search: str = "",
) -> pd.DataFrame:
    """The rows the triage's filters keep: one policy domain, some causes, failing mail only, and
    a text found in the source, its address, the From: domain or the DKIM results. The reader
    lower-cases domains, so only the source (a sender's name) needs lower-casing to compare."""
    keep = pd.Series(True, index=frame.index)
    if policy_domain:
        keep &= frame["policy_domain"] == policy_domain
    causes = list(causes)
    if causes:
        keep &= frame["cause"].isin(causes)
    if failing_only:
        keep &= ~frame["dmarc_pass"]
    text = search.strip().lower()
    if text:
        keep &= (
            frame["source"].str.lower().str.contains(text, regex=False)
            | frame["source_ip"].str.contains(text, regex=False)
            | frame["header_from"].str.contains(text, regex=False)
            | frame["dkim"].str.contains(text, regex=False)
        )
    return frame[keep]


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


def rollout_readiness(frame: pd.DataFrame) -> list[Readiness]:
    """One assessment per policy domain in the reports (the policy of the latest report counts)."""
    return [_readiness(domain, rows) for domain, rows in frame.groupby("policy_domain", sort=True, observed=True) if domain]


def _readiness(domain: str, rows: pd.DataFrame) -> Readiness:
    facts = knowledge()
    threshold, needs, bar = facts.pass_rate_threshold, facts.evidence, facts.rollback
    # The latest dated report decides; one whose dates were placeholders never outranks a dated one.
    latest = rows.sort_values("end", na_position="first").iloc[-1]
    policy = latest["p"] or "none"
    pct = int(latest["pct"]) if pd.notna(latest["pct"]) else 100
    # Left out of the rate: mail the receiver itself called forwarded (no sender can fix it), and mail
    # nobody vouches for (no DKIM, no SPF pass for anyone: what enforcement is meant to stop).
    judged = rows[~rows["finding"].isin(_NOT_YOURS)]
    messages = int(judged["count"].sum())
    pass_rate = float(judged.loc[judged["dmarc_pass"], "count"].sum() / messages) if messages else 0.0
    days = _days_covered(rows)
    receivers = reports(rows)["org_name"].astype(str).replace("", pd.NA).nunique()
    # Forwarding only inferred (your signature failed, SPF passed for nobody of yours) blocks too when it
    # is a real share: the article's forwarding failures are low-count, many are more likely your server.
    blocking = [key for key, finding in facts.findings.items() if finding.blocks_rollout or key == "forwarded"]
    failing = judged[~judged["dmarc_pass"] & judged["finding"].isin(blocking)]
    blockers = tuple(
        (source, cause, int(count))
        for (source, cause), count in failing.groupby(["source", "cause"], observed=True)["count"].sum().nlargest(5).items()
        if count >= _SIGNIFICANT_SHARE * max(messages, 1)
    )
    missing = _missing_evidence(days, receivers, messages, needs)
    harmed = _harmed(judged[judged["cause"] != "forwarded"], messages, bar)  # forwarding never asks for a rollback
    # Only a validated domain goes into a record the app tells you to publish: report text never does.
    published_as = exact_domain(domain)

    def record(step: int, pct: int | None = None) -> str | None:
        return facts.rollout_step(step).record_for(f"dmarc-reports@{published_as}", pct) if published_as else None

    good = pass_rate >= threshold
    rate = f"{pass_rate:.1%} of {messages:,} messages pass (mail the receiver called forwarded, and mail nobody vouches for, left out)"
    evidence = f"Not enough evidence for the next step yet: {'; '.join(missing)}." if missing else ""
    # Where the published policy puts the domain in the plan.
    step = {"none": 1 if days < needs.days else 2, "quarantine": 3 if pct <= 10 else 4, "reject": 5}.get(policy, 1)

    def result(ready: bool, advice: str, next_record: str | None) -> Readiness:
        return Readiness(
            domain, policy, pct, messages, pass_rate, days, receivers, step, ready, advice, next_record, blockers, missing
        )

    if policy in ("quarantine", "reject") and harmed.significant:
        return result(
            False,
            f"{harmed.sentence} Mail with a valid DKIM signature is being blocked (root cause 5): if "
            f"{'this sender sends' if len(harmed.senders) == 1 else 'these senders send'} for you, roll back to p=none, "
            f"fix {'it' if len(harmed.senders) == 1 else 'them'}, then advance again.",
            record(1),
        )
    aside = (
        f" {harmed.sentence} Fix {'that sender' if len(harmed.senders) == 1 else 'those senders'}; too few messages to roll back for."
        if harmed.senders
        else ""
    )
    if policy == "reject":
        state = "" if good else " Fix the failing senders below."
        return result(good and not missing, f"p=reject is the last step; {rate}.{state}{aside} {evidence}".strip(), None)
    if missing:
        return result(False, f"{evidence} So far {rate}.{aside}", None)
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


def _missing_evidence(days: float, receivers: int, messages: int, needs) -> tuple[str, ...]:
    missing = []
    if days < needs.days:
        missing.append(f"the reports cover {days:g} day{'s' if days != 1 else ''}, and the plan asks for two weeks")
    if receivers < needs.receivers:
        missing.append(
            f"{receivers} receiver{'s' if receivers != 1 else ''} reported, and at least {needs.receivers} give a fair picture"
        )
    if messages < needs.messages:
        missing.append(f"{messages:,} messages are too few for a pass rate to mean much (at least {needs.messages:,})")
    return tuple(missing)


@dataclass(frozen=True)
class _Harm:
    """Legitimate mail an enforcing policy blocked (root cause 5), by sender, said as it happened."""

    senders: tuple[str, ...]
    sentence: str
    significant: bool


def _harmed(judged: pd.DataFrame, messages: int, bar) -> _Harm:
    """Root cause 5: DMARC failed, a DKIM result passed and the receiver quarantined or rejected
    the mail. Forwarded mail is no sender's fault; a sender counts when it is a real share."""
    rows = judged[judged["enforced_before_fix"]]
    if rows.empty:
        return _Harm((), "", False)
    findings = knowledge().findings
    parts, significant, senders = [], False, []
    per_sender = rows.groupby(["source", "finding"], observed=True)
    for (source, finding), group in sorted(per_sender, key=lambda item: -int(item[1]["count"].sum())):
        count = int(group["count"].sum())
        if not count:
            continue
        handled = " or ".join(
            word
            for word, disposition in (("quarantined", "quarantine"), ("rejected", "reject"))
            if (group["disposition"] == disposition).any()
        )
        parts.append(
            f"{count:,} message{'s' if count != 1 else ''} from {source} ({findings[finding].title.lower()}) "
            f"{'were' if count != 1 else 'was'} {handled}"
        )
        senders.append(str(source))
        significant |= count >= bar.messages and count >= bar.share * max(messages, 1)
    return _Harm(tuple(senders), "; ".join(parts) + "." if parts else "", significant)


def _days_covered(rows: pd.DataFrame) -> float:
    """Days that at least one report covers: the union of the reports' date ranges, so that two
    one-day reports a year apart count 2 days, not 366, and receivers reporting the same day count once."""
    ranges = reports(rows)[["begin", "end"]].dropna().drop_duplicates().sort_values("begin")
    covered, reach = 0.0, None
    for begin, end in ranges.itertuples(index=False):
        if reach is not None and begin < reach:
            begin = reach
        if end > begin:
            covered += (end - begin).total_seconds()
            reach = end
    return round(covered / 86400, 2)  # a day reported as 00:00:00 to 23:59:59 is a whole day


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
