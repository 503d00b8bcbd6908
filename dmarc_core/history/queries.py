"""The History page's questions, answered by SQL aggregates over the store's records: what the
history covers, the pass rate per day and per sender over the weeks, the senders new in the last
week, a sender before and after a fix, and the policy each domain published over time.

Every answer is an aggregate a few rows long (per day, per week, per sender): the records
themselves never leave DuckDB, so a history of ten million records answers in well under a
second. Only ``current_readiness`` reads records back, those of each domain's last two weeks, to run the
triage's own rollout assessment on them. Days are the days the reports begin (UTC), as in the
triage's charts; a source is named as the triage's sources table names it.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass, replace

import pandas as pd

from ..analysis.summary import (
    NOT_YOURS,
    NOT_YOURS_UNVOUCHED,
    UNAUTHENTICATED,
    CountedMessages,
    Readiness,
    daily_pass_rates,
    plan_step,
    rollout_readiness,
)
from ..rules.knowledge import knowledge
from .store import Store


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _listed(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(map(_literal, values)) + ")"


#: Records whose source is their address: nothing authenticated their mail (``summary.unauthenticated_records``).
#: The sources table names them all one source, ``UNAUTHENTICATED``.
_UNAUTHENTICATED = "coalesce(source = source_ip, false)"
#: The records the rollout plan's pass rate leaves out, as ``summary._weighed`` chooses them: mail
#: the receiver called forwarded, and mail nobody vouches for.
_NOT_JUDGED = f"coalesce(finding IN {_listed(NOT_YOURS)}, false)"
_UNVOUCHED = f"coalesce(finding IN {_listed(NOT_YOURS_UNVOUCHED)}, false) AND {_UNAUTHENTICATED}"
_FAILING = "sum(count) FILTER (WHERE NOT dmarc_pass)"
#: The day a report begins, in UTC: the ``day`` its records carry.
_REPORT_DAY = "CAST(timezone('UTC', \"begin\") AS DATE)"
#: Days before and after a fix that "did my fix work?" compares.
FIX_WINDOW_DAYS = 14
#: Days of the latest reports the current rollout step is assessed on: the plan's two weeks.
READINESS_DAYS = knowledge().evidence.days


def _where(
    policy_domain: str | None = None, source: str | None = None, *more: str, since: dt.date | None = None
) -> tuple[str, list]:
    """A WHERE clause for the records of one policy domain and one source (either optional), from
    the day ``since`` on when given."""
    conditions, values = ["day IS NOT NULL", *more], []
    if since is not None:
        conditions.append("day >= ?")
        values.append(since)
    if policy_domain is not None:
        conditions.append("policy_domain = ?")
        values.append(policy_domain)
    if source == UNAUTHENTICATED:
        conditions.append(_UNAUTHENTICATED)
    elif source is not None:
        conditions.append(f"source = ? AND NOT {_UNAUTHENTICATED}")
        values.append(source)
    return "WHERE " + " AND ".join(conditions), values


def _per_source(keys: str, aggregates: str, where: str) -> str:
    """SQL for ``aggregates`` per source (as the sources table names it) and ``keys``: the
    records something authenticated grouped by their source, the others as one source. Two
    aggregates, each over the stored column: grouping by a computed name takes several times longer."""
    columns = f"{keys}, {aggregates}" if keys else aggregates
    return (
        f"SELECT source, {columns} FROM records {where} AND NOT {_UNAUTHENTICATED} GROUP BY ALL "
        f"UNION ALL SELECT {_literal(UNAUTHENTICATED)} AS source, {columns} FROM records {where} AND {_UNAUTHENTICATED} GROUP BY ALL"
    )


def _frame(store: Store, sql: str, values: list) -> pd.DataFrame:
    return store.connection.execute(sql, values).df()


@dataclass(frozen=True)
class Coverage(CountedMessages):
    """What the history holds: the days its reports cover, and how much."""

    first_day: dt.date | None
    last_day: dt.date | None
    reports: int
    records: int
    messages: int
    passing_messages: int


def coverage(store: Store, policy_domain: str | None = None, since: dt.date | None = None) -> Coverage:
    """The period the records cover (the days their reports begin), the reports, records and
    messages (those of reports without dates too, unless a ``since`` day is given)."""
    # A record's day is the day its report begins (UTC): both tables are cut at the same day.
    chosen = [("policy_domain = ?", "policy_domain = ?", policy_domain), ("day >= ?", f"{_REPORT_DAY} >= ?", since)]
    given = [(on_records, on_reports, value) for on_records, on_reports, value in chosen if value is not None]
    values = [value for _, _, value in given]

    def where(table: int) -> str:
        return f"WHERE {' AND '.join(condition[table] for condition in given)}" if given else ""

    first, last, records, messages, passing = store.connection.execute(
        f"SELECT min(day), max(day), count(*), coalesce(sum(count), 0), coalesce(sum(count) FILTER (WHERE dmarc_pass), 0) "
        f"FROM records {where(0)}",
        values,
    ).fetchone()
    (reports,) = store.connection.execute(f"SELECT count(*) FROM reports {where(1)}", values).fetchone()
    return Coverage(first, last, int(reports), int(records), int(messages), int(passing))


def policy_domains(store: Store) -> list[str]:
    """The policy domains of the history, those with the most messages first."""
    rows = store.connection.execute(
        "SELECT policy_domain FROM reports WHERE policy_domain <> '' GROUP BY policy_domain "
        "ORDER BY sum(message_count) DESC, policy_domain"
    ).fetchall()
    return [domain for (domain,) in rows]


def pass_rate_by_day(
    store: Store, policy_domain: str | None = None, source: str | None = None, since: dt.date | None = None
) -> pd.DataFrame:
    """As ``summary.pass_rate_by_day`` on the triage of the same reports (the same columns, every
    day from the first to the last), for one policy domain and one source if given."""
    where, values = _where(policy_domain, source, since=since)
    totals = _frame(
        store,
        # Per finding first, the few records nobody vouches for apart: one test of every record's
        # finding and verdict instead of an expression per record, several times faster.
        f"""WITH parts AS (
                SELECT day, finding, dmarc_pass, sum(count) AS messages, 0 AS unvouched FROM records {where} GROUP BY ALL
                UNION ALL
                SELECT day, finding, dmarc_pass, 0, sum(count) FROM records {where} AND {_UNVOUCHED} GROUP BY ALL)
            SELECT day, sum(messages) AS messages, coalesce(sum(messages) FILTER (WHERE dmarc_pass), 0) AS passing,
                coalesce(sum(messages) FILTER (WHERE NOT {_NOT_JUDGED}), 0) - sum(unvouched) AS judged,
                coalesce(sum(messages) FILTER (WHERE dmarc_pass AND NOT {_NOT_JUDGED}), 0)
                    - coalesce(sum(unvouched) FILTER (WHERE dmarc_pass), 0) AS judged_passing
            FROM parts GROUP BY day ORDER BY day""",
        values * 2,
    )
    return daily_pass_rates(totals.set_index(pd.to_datetime(totals.pop("day"))).fillna(0).astype("int64"))


SENDER_COLUMNS = ["source", "sender_kind", "failing", "messages", "pass_rate", "weekly_pass_rate", "first_day", "last_day"]


def senders_by_week(
    store: Store, policy_domain: str | None = None, limit: int = 15, since: dt.date | None = None
) -> pd.DataFrame:
    """The ``limit`` senders with the most failing messages, most first: their kind, failing
    messages, messages, pass rate, first and last day, and their pass rate per week (Monday to
    Sunday) from the history's first week to its last, missing where they sent nothing."""
    where, values = _where(policy_domain, since=since)
    per_week = _per_source(
        "date_trunc('week', day) AS week",
        f"arg_max(sender_kind, count) AS sender_kind, sum(count) AS messages, {_FAILING} AS failing, "
        "min(day) AS first_day, max(day) AS last_day",
        where,
    )
    weekly = _frame(
        store,
        f"""WITH per_week AS ({per_week}),
            senders AS (
                SELECT source, arg_max(sender_kind, messages) AS sender_kind, coalesce(sum(failing), 0) AS failing,
                    sum(messages) AS messages, min(first_day) AS first_day, max(last_day) AS last_day
                FROM per_week GROUP BY source
                ORDER BY failing DESC, messages DESC, source LIMIT {int(limit)})
            SELECT senders.*, per_week.week, per_week.messages AS week_messages, per_week.failing AS week_failing,
                (SELECT min(week) FROM per_week) AS first_week, (SELECT max(week) FROM per_week) AS last_week
            FROM senders JOIN per_week USING (source)
            ORDER BY senders.failing DESC, senders.messages DESC, source, week""",
        values * 2,
    )
    if weekly.empty:
        return pd.DataFrame(columns=SENDER_COLUMNS)
    weeks = pd.date_range(weekly["first_week"].iloc[0], weekly["last_week"].iloc[0], freq="7D")
    week_rates = 1 - weekly["week_failing"].fillna(0) / weekly["week_messages"].where(weekly["week_messages"] > 0)
    series = week_rates.groupby([weekly["source"], pd.to_datetime(weekly["week"])], sort=False).first()
    table = weekly.drop_duplicates("source").reset_index(drop=True)
    table["weekly_pass_rate"] = [
        # A week without mail has no rate: the line joins the weeks that have one (a gap breaks the cell's chart).
        [float(rate) for rate in series[source].reindex(weeks).dropna().tolist()]
        for source in table["source"]
    ]
    table["pass_rate"] = 1 - table["failing"] / table["messages"].where(table["messages"] > 0)
    return table[SENDER_COLUMNS].astype({"failing": "int64", "messages": "int64"})


def sources(store: Store, policy_domain: str | None = None, limit: int = 500) -> list[str]:
    """The sources of the history, those with the most failing messages first, at most ``limit``."""
    where, values = _where(policy_domain)
    per_source = _per_source("", f"coalesce({_FAILING}, 0) AS failing, sum(count) AS messages", where)
    rows = store.connection.execute(
        # Without keys, the unauthenticated branch aggregates to a row even over no record: not a source.
        f"SELECT source FROM ({per_source}) WHERE messages > 0 ORDER BY failing DESC, messages DESC, source LIMIT {int(limit)}",
        values * 2,
    ).fetchall()
    return [source for (source,) in rows]


@dataclass(frozen=True)
class NewSenders:
    """The senders first seen in the last days of the history, and the addresses nothing
    authenticated first seen then (spoofers and unknown servers, one source in the senders table)."""

    since: dt.date | None
    senders: pd.DataFrame
    unauthenticated_addresses: int
    unauthenticated_messages: int


def new_senders(store: Store, policy_domain: str | None = None, days: int = 7) -> NewSenders:
    """The sources whose first record is in the last ``days`` days of the history (the days up to
    its last report's), with their kind, first day, messages, failing messages and pass rate."""
    where, values = _where(policy_domain)
    (last,) = store.connection.execute(f"SELECT max(day) FROM records {where}", values).fetchone()
    if last is None:
        return NewSenders(
            None, pd.DataFrame(columns=["source", "sender_kind", "first_day", "messages", "failing", "pass_rate"]), 0, 0
        )
    since = last - dt.timedelta(days=days - 1)
    # What the last days sent, less what was seen before: the last days are the few row groups
    # read in full; the earlier ones are only probed for the names found.
    found = _frame(
        store,
        f"""WITH recent AS (
                SELECT source, arg_max(sender_kind, count) AS sender_kind, min(day) AS first_day, sum(count) AS messages,
                    coalesce({_FAILING}, 0) AS failing
                FROM records {where} AND day >= ? AND NOT {_UNAUTHENTICATED} GROUP BY source)
            SELECT * FROM recent WHERE source NOT IN (
                SELECT source FROM records {where} AND day < ? AND source IN (SELECT source FROM recent))
            ORDER BY failing DESC, messages DESC, source""",
        [*values, since, *values, since],
    )
    found["pass_rate"] = 1 - found["failing"] / found["messages"].where(found["messages"] > 0)
    addresses, messages = store.connection.execute(
        f"""WITH recent AS (
                SELECT source_ip, sum(count) AS messages FROM records {where} AND day >= ? AND {_UNAUTHENTICATED}
                GROUP BY source_ip)
            SELECT count(*), coalesce(sum(messages), 0) FROM recent WHERE source_ip NOT IN (
                SELECT source_ip FROM records {where} AND day < ? AND source_ip IN (SELECT source_ip FROM recent))""",
        [*values, since, *values, since],
    ).fetchone()
    return NewSenders(since, found.astype({"messages": "int64", "failing": "int64"}), int(addresses), int(messages))


@dataclass(frozen=True)
class Period:
    """A sender's mail over some days: how much, how much failed, on how many days it was reported."""

    first_day: dt.date
    last_day: dt.date
    days_reported: int
    messages: int
    failing: int

    @property
    def pass_rate(self) -> float | None:
        return 1 - self.failing / self.messages if self.messages else None

    @property
    def failing_per_day(self) -> float | None:
        return self.failing / self.days_reported if self.days_reported else None


@dataclass(frozen=True)
class FixCheck:
    """Did my fix work? A source's mail in the days before a date and from it on, and per day."""

    source: str
    day: dt.date
    before: Period
    after: Period
    days: pd.DataFrame  # as ``pass_rate_by_day``, for this source over the whole history


def fix_check(
    store: Store, source: str, day: dt.date, policy_domain: str | None = None, window: int = FIX_WINDOW_DAYS
) -> FixCheck:
    """The ``window`` days before ``day`` against ``day`` and the ``window - 1`` days after it, for
    ``source``; neither reaching beyond the history's days (of ``policy_domain``)."""
    scope, scope_values = _where(policy_domain)
    first, last = store.connection.execute(f"SELECT min(day), max(day) FROM records {scope}", scope_values).fetchone()
    first, last = first or day, last or day
    before = Period(max(day - dt.timedelta(days=window), first), day - dt.timedelta(days=1), 0, 0, 0)
    after = Period(day, min(day + dt.timedelta(days=window - 1), max(last, day)), 0, 0, 0)
    where, values = _where(policy_domain, source, "day BETWEEN ? AND ?")
    rows = store.connection.execute(
        f"""SELECT day >= ? AS after, count(DISTINCT day), sum(count), coalesce({_FAILING}, 0)
            FROM records {where} GROUP BY ALL""",
        [day, before.first_day, after.last_day, *values],
    ).fetchall()
    found = {bool(is_after): (int(reported), int(messages), int(failing)) for is_after, reported, messages, failing in rows}
    periods = [
        Period(period.first_day, period.last_day, *found.get(is_after, (0, 0, 0)))
        for is_after, period in ((False, before), (True, after))
    ]
    return FixCheck(source, day, *periods, pass_rate_by_day(store, policy_domain, source))


def suggested_fix_day(store: Store, source: str, policy_domain: str | None = None) -> dt.date | None:
    """The fix's date to show first for ``source``: of its days reported, the one that leaves the
    most of them on the thinner side, counting ``FIX_WINDOW_DAYS`` days from it and as many before
    (of equals, the latest), so that its mail is compared with its mail; where no day has some on
    both sides (one day reported, or weeks apart), the start of its last two weeks. None without its mail."""
    where, values = _where(policy_domain, source)
    days = [
        day for (day,) in store.connection.execute(f"SELECT DISTINCT day FROM records {where} ORDER BY day", values).fetchall()
    ]
    if not days:
        return None
    window = dt.timedelta(days=FIX_WINDOW_DAYS)

    def thinner_side(day: dt.date) -> int:
        at = bisect.bisect_left(days, day)
        return min(at - bisect.bisect_left(days, day - window), bisect.bisect_left(days, day + window) - at)

    best = max(days[1:], key=lambda day: (thinner_side(day), day), default=None)
    if best is not None and thinner_side(best):
        return best
    return max(days[-1] - window + dt.timedelta(days=1), days[0])


POLICY_COLUMNS = ["policy_domain", "p", "pct", "step", "first_day", "last_day", "days_reported", "reports"]


def policy_periods(store: Store, policy_domain: str | None = None, since: dt.date | None = None) -> pd.DataFrame:
    """The policy each domain published over time, as receivers quoted it in their reports: one
    row per period of an unchanged p= and pct= (on each day, the policy most reports quote), with
    the rollout plan's step it puts the domain on, its first and last day, the days reported and
    the reports. A domain's current period is its last. p=none is two periods once it has two weeks
    of reports: step 1, then step 2 from its 14th day reported, which completes the two weeks.
    With ``since``, the periods that reach it, whole: their steps and days count the history before it too."""
    where, values = (
        ("WHERE policy_domain = ?", [policy_domain]) if policy_domain is not None else ("WHERE policy_domain <> ''", [])
    )
    daily = _frame(
        store,
        f"""WITH quoted AS (
                SELECT policy_domain, {_REPORT_DAY} AS day,
                    coalesce(nullif(p, ''), 'none') AS p,
                    -- pct= applies to quarantine and reject (RFC 7489 6.3): under p=none it changes no policy.
                    CASE WHEN coalesce(nullif(p, ''), 'none') = 'none' THEN 100 ELSE coalesce(pct, 100) END AS pct,
                    count(*) AS reports
                FROM reports {where} AND "begin" IS NOT NULL GROUP BY ALL),
            ranked AS (
                SELECT *, row_number() OVER (PARTITION BY policy_domain, day ORDER BY reports DESC, p, pct) AS rank,
                    sum(reports) OVER (PARTITION BY policy_domain, day) AS day_reports
                FROM quoted)
            SELECT policy_domain, day, p, pct, day_reports AS reports FROM ranked WHERE rank = 1
            ORDER BY policy_domain, day""",
        values,
    )
    if daily.empty:
        return pd.DataFrame(columns=POLICY_COLUMNS)
    # A period of one policy; within it, each day's step by the days reported so far: p=none turns
    # from step 1 (collect two weeks of reports) to step 2 (fix the senders) on its 14th day reported.
    policy = ["policy_domain", "p", "pct"]
    published = (daily[policy] != daily[policy].shift()).any(axis=1).cumsum()
    days_so_far = daily.groupby(published).cumcount() + 1
    daily["step"] = [plan_step(p, int(pct), days) for p, pct, days in zip(daily["p"], daily["pct"], days_so_far, strict=True)]
    changed = (daily[[*policy, "step"]] != daily[[*policy, "step"]].shift()).any(axis=1)
    periods = (
        daily.groupby(changed.cumsum(), sort=False)
        .agg(
            policy_domain=("policy_domain", "first"),
            p=("p", "first"),
            pct=("pct", "first"),
            step=("step", "first"),
            first_day=("day", "min"),
            last_day=("day", "max"),
            days_reported=("day", "nunique"),
            reports=("reports", "sum"),
        )
        .reset_index(drop=True)
    )
    for column in ("first_day", "last_day"):
        periods[column] = pd.to_datetime(periods[column]).dt.date
    if since is not None:
        periods = periods[periods["last_day"] >= since].reset_index(drop=True)
    return periods[POLICY_COLUMNS]


def published_since(periods: pd.DataFrame) -> dt.date:
    """The first day of a domain's current policy (``policy_periods``' last p= and pct=), over the
    periods of steps it made meanwhile (p=none's two)."""
    policy = periods[["p", "pct"]]
    current = (policy == policy.iloc[-1]).all(axis=1)
    return periods["first_day"][current[::-1].cummin()[::-1]].min()


def current_readiness(store: Store, days: int = READINESS_DAYS) -> list[Readiness]:
    """``summary.rollout_readiness`` on each policy domain's reports of its last ``days`` days
    reported: where each domain stands now, and what the next step needs. A domain whose reports
    stopped before another's is judged on its own last weeks, not on none. The triage's verdicts are
    stored, so the rollout's code runs on their sums per report, source and finding, not on every
    record again."""
    # Reports that end within the last ``days`` days of their domain's: as ``history --since 14d``
    # counts them, from the domain's last report's end.
    window = dt.timedelta(days=days) - dt.timedelta(seconds=1)
    frame = _frame(
        store,
        f"""WITH last AS (SELECT policy_domain, max("end") AS last_end FROM reports GROUP BY policy_domain)
            SELECT report_key AS report, org_name, "begin", "end", reports.policy_domain, p, pct,
                -- Mail the rollout does not weigh (forwarded as the receiver said, vouched for by nobody)
                -- is summed as one source per report: only its report's dates and policy count.
                CASE WHEN {_NOT_JUDGED} OR ({_UNVOUCHED}) THEN '' ELSE source END AS source,
                CASE WHEN {_NOT_JUDGED} OR ({_UNVOUCHED}) THEN '' WHEN {_UNAUTHENTICATED} THEN source ELSE '' END
                    AS source_ip,
                finding, cause,
                dmarc_pass, disposition,
                coalesce(disposition IN ('quarantine', 'reject') AND list_bool_or(list_transform(dkim, lambda d: d.result = 'pass'))
                    AND NOT dmarc_pass, false) AS enforced_before_fix,
                sum(count) AS count
            FROM records JOIN reports USING (report_key) JOIN last ON last.policy_domain = reports.policy_domain
            WHERE "end" >= last_end - ? GROUP BY ALL ORDER BY report, source, finding""",
        [window],
    )
    if not len(frame):
        return []
    # Report columns the rollout does not read: present, as ``summary.reports`` selects them all.
    frame = frame.assign(file="", report_id="", adkim="", aspf="")
    assessments = rollout_readiness(frame.astype({"count": "int64", "pct": "Int64"}))
    # The plan's step is where the whole history puts a domain (p=none is step 2 once two weeks of
    # reports ever came in); the last days say what the next step needs.
    current = policy_periods(store).drop_duplicates("policy_domain", keep="last").set_index("policy_domain")
    return [_on_history_step(assessment, current) for assessment in assessments]


def _on_history_step(assessment: Readiness, current: pd.DataFrame) -> Readiness:
    """``assessment`` with the step of its domain's current policy period (``current``, by domain),
    where that period is of the policy the assessment read (pct= aside under p=none)."""
    if assessment.domain not in current.index:
        return assessment
    period = current.loc[assessment.domain]
    if period["p"] != assessment.policy or (assessment.policy != "none" and period["pct"] != assessment.pct):
        return assessment
    return replace(assessment, step=int(period["step"]))
