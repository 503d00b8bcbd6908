"""What ``history --fail-on`` watches for, so cron or CI can tell a person when something changed
without a server: a sender that started failing, a sender never seen before, a pass rate below a line.

A period is the reports whose period ends on or after its start (as ``Store.reports``); "before"
is every report that ended earlier. A source is named as the sources table names it (every address
nothing authenticated is one source, so a spoofer's new address is no new sender), per policy domain.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..analysis.summary import UNAUTHENTICATED
from ..rules.wording import counted
from .store import Store

#: The checks ``--fail-on`` takes; ``pass-rate-below`` takes a percentage (``pass-rate-below:95``).
CHECKS = {
    "new-failing-sender": "a sender with failing messages in the period that had none before it",
    "new-sender": "a sender with messages in the period that sent none before it",
    "pass-rate-below": "the period's DMARC pass rate (of messages) below PERCENT: pass-rate-below:PERCENT",
}
#: Senders a summary names before it says how many more there are.
_NAMED = 5
#: A record's source as the sources table names it: where nothing authenticated the mail, the
#: triage names the source by its address (``summary.unauthenticated_records``), and every such
#: address is one source.
_SOURCE = f"CASE WHEN coalesce(source = source_ip, false) THEN '{UNAUTHENTICATED}' ELSE source END"


@dataclass(frozen=True)
class Check:
    name: str
    percent: float | None = None

    def __str__(self) -> str:
        return f"{self.name}:{self.percent:g}" if self.percent is not None else self.name


def parse_check(text: str) -> Check:
    """``new-failing-sender``, ``new-sender`` or ``pass-rate-below:95``; ``ValueError`` otherwise."""
    name, _, value = text.strip().partition(":")
    if name not in CHECKS:
        raise ValueError(f"unknown check {text!r}: one of {', '.join(CHECKS)}")
    if name != "pass-rate-below":
        if value:
            raise ValueError(f"{name} takes no value")
        return Check(name)
    try:
        percent = float(value.rstrip("%"))
    except ValueError:
        raise ValueError("pass-rate-below needs a percentage: pass-rate-below:95") from None
    if not 0 <= percent <= 100:
        raise ValueError(f"pass-rate-below takes a percentage from 0 to 100, not {value}")
    return Check(name, percent)


@dataclass(frozen=True)
class Alert:
    """A check that fired: one line for a person, and what it found, one line each."""

    check: Check
    summary: str
    found: tuple[str, ...] = ()


def alerts(store: Store, checks: list[Check], since: dt.datetime | None) -> list[Alert]:
    """The checks that fire for the period from ``since`` (the whole history when None)."""
    fired = []
    for check in checks:
        if check.name == "pass-rate-below":
            fired += _pass_rate_below(store, check, since)
        else:
            fired += _new_senders(store, check, since)
    return fired


def _pass_rate_below(store: Store, check: Check, since: dt.datetime | None) -> list[Alert]:
    period, values = _in_period(since)
    messages, passing = store.connection.execute(
        f"""SELECT coalesce(sum(count), 0), coalesce(sum(count) FILTER (WHERE dmarc_pass), 0)
            FROM records JOIN reports USING (report_key) WHERE {period}""",
        values,
    ).fetchone()
    if not messages:  # no report arrived: a fetch that stopped working must not look healthy
        return [Alert(check, f"No messages in the history{_since(since)}: no pass rate to check")]
    if passing / messages * 100 >= check.percent:
        return []
    rate = passing / messages
    return [
        Alert(check, f"DMARC pass rate {rate:.1%} of {counted(messages, 'message')}{_since(since)}, below {check.percent:g}%")
    ]


def _new_senders(store: Store, check: Check, since: dt.datetime | None) -> list[Alert]:
    if since is None:
        raise ValueError(f"{check} compares the period with what came before it: give --since")
    (earlier,) = store.connection.execute('SELECT count(*) FROM reports WHERE "end" < ?', [since]).fetchone()
    if not earlier:  # nothing before the period: nothing is new against it
        return []
    failing_only = check.name == "new-failing-sender"
    messages_counted = "NOT dmarc_pass" if failing_only else "true"
    rows = store.connection.execute(
        f"""WITH marked AS (
                SELECT records.policy_domain, {_SOURCE} AS source, count, dmarc_pass, reports."end" >= ? AS in_period
                FROM records JOIN reports USING (report_key))
            SELECT policy_domain, source, coalesce(sum(count) FILTER (WHERE in_period), 0) AS messages,
                coalesce(sum(count) FILTER (WHERE in_period AND NOT dmarc_pass), 0) AS failing
            FROM marked GROUP BY policy_domain, source
            HAVING coalesce(sum(count) FILTER (WHERE in_period AND {messages_counted}), 0) > 0
                AND coalesce(sum(count) FILTER (WHERE NOT in_period AND {messages_counted}), 0) = 0
            ORDER BY failing DESC, messages DESC, policy_domain, source""",
        [since],
    ).fetchall()
    if not rows:
        return []
    what = "started failing" if failing_only else "sent mail for the first time"
    found = tuple(
        f"{source} (for {domain or 'no policy domain'}): {counted(messages, 'message')}, {failing:,} failing"
        for domain, source, messages, failing in rows
    )
    named = ", ".join(source for _, source, _, _ in rows[:_NAMED]) + (
        f" and {len(rows) - _NAMED} more" if len(rows) > _NAMED else ""
    )
    return [Alert(check, f"{counted(len(rows), 'sender')} {what}{_since(since)}: {named}", found)]


def _in_period(since: dt.datetime | None) -> tuple[str, list]:
    return ('reports."end" >= ?', [since]) if since is not None else ("true", [])


def _since(since: dt.datetime | None) -> str:
    return f" since {since:%Y-%m-%d %H:%M} UTC" if since is not None else ""
