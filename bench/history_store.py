"""A big history file for the History page's benchmark, and each page query timed on it.

    python bench/history_store.py OUT.duckdb --records 10000000
    python bench/history_store.py OUT.duckdb --records 1000000 --days 90 --timing-only

A few real reports are ingested first (``reports`` rows as the reader writes them; their days all come
before the default first day of the synthetic ones, the last real sample's being 2026-07-07), then synthetic
reports (three policy domains, a dozen receivers, one report a receiver, domain and day, the
policy published following the rollout plan on example.com) and their records, made in DuckDB SQL
from range() with random values: some hundreds of senders, a fifth of the mail from unauthenticated
addresses, a few senders new in the last week, and one (``Sender 5``) fixed on day 120.
The queries then run as the page runs them (a read-only store opened for each), three times each;
the median is printed, with the file's size per million records. Never run as a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT)]

from dmarc_core.history import queries  # noqa: E402
from dmarc_core.history.ingest import ingest_files  # noqa: E402
from dmarc_core.history.store import Store  # noqa: E402

SAMPLES = ROOT.parent / "shared" / "samples" / "aggregate"
DOMAINS = ("example.com", "example.org", "example.net")
RECEIVERS = 12
SENDERS = 300
NEW_SENDERS = 10
FIXED_SENDER, FIX_DAY = "Sender 5", 120
#: example.com's policy by day: p=none for six weeks, then pct steps, then reject (the rollout plan).
ROLLOUT = ((42, "none", 100), (70, "quarantine", 10), (90, "quarantine", 25), (110, "quarantine", 50), (140, "quarantine", 100))


def build(path: Path, records: int, days: int, first_day: dt.date, real_reports: int = 5) -> None:
    with Store(path) as store:
        samples = sorted(SAMPLES.glob("*.xml"))[:real_reports]
        ingest_files(store, [(sample.name, sample.read_bytes()) for sample in samples])
        connection = store.connection
        rollout = " ".join(f"WHEN day_number < {until} THEN '{p}'" for until, p, _ in ROLLOUT)
        domains = ", ".join(f"('{domain}')" for domain in DOMAINS)
        rollout_pct = " ".join(f"WHEN day_number < {until} THEN {pct}" for until, _, pct in ROLLOUT)
        connection.execute(
            f"""CREATE TEMP TABLE synthetic AS
                SELECT row_number() OVER (ORDER BY day_number, domain, receiver) - 1 AS number, day_number, domain, receiver,
                    CASE WHEN domain = 'example.com' THEN CASE {rollout} ELSE 'reject' END
                         WHEN domain = 'example.net' THEN 'reject' ELSE 'none' END AS p,
                    CASE WHEN domain = 'example.com' THEN CASE {rollout_pct} ELSE 100 END ELSE 100 END AS pct
                FROM range({days}) AS d(day_number), (VALUES {domains}) AS m(domain), range({RECEIVERS}) AS r(receiver)"""
        )
        connection.execute(
            """INSERT INTO reports (org_name, email, report_id, policy_domain, "begin", "end", adkim, aspf, p, sp, np,
                   pct, fo, testing, discovery_method, extra_contact_info, errors, generator, schema, version, repairs,
                   file, added_at, record_count, message_count)
               SELECT 'receiver-' || receiver || '.example', 'noreply-dmarc@receiver-' || receiver || '.example',
                   'synthetic-' || number, domain, CAST(? AS TIMESTAMPTZ) + to_days(CAST(day_number AS INTEGER)),
                   CAST(? AS TIMESTAMPTZ) + to_days(CAST(day_number AS INTEGER)) + INTERVAL 86399 SECOND,
                   'r', 'r', p, p, '', pct, '0', '', '', '', [], '', 'RFC 7489', '1.0', [],
                   'synthetic-' || number || '.xml', now(), 0, 0
               FROM synthetic ORDER BY number""",
            [f"{first_day} 00:00:00+00", f"{first_day} 00:00:00+00"],
        )
        (first_key,) = connection.execute("SELECT min(report_key) FROM reports WHERE report_id LIKE 'synthetic-%'").fetchone()
        (reports,) = connection.execute("SELECT count(*) FROM synthetic").fetchone()
        connection.execute(_RECORDS.format(records=records, reports=reports, first_key=first_key, days=days,
                                           senders=SENDERS, new=NEW_SENDERS, fixed=FIXED_SENDER, fix_day=FIX_DAY),
                           [first_day])  # fmt: skip
        connection.execute(
            """UPDATE reports SET record_count = totals.records, message_count = totals.messages
               FROM (SELECT report_key, count(*) AS records, sum(count) AS messages FROM records GROUP BY report_key) AS totals
               WHERE reports.report_key = totals.report_key AND reports.report_id LIKE 'synthetic-%'"""
        )
        connection.execute("CHECKPOINT")


# Each record: a synthetic report (so its day and domain), a sender or an unauthenticated address,
# a verdict by the sender's pass rate, and results that agree with the verdict. In the order of the
# days, as a daily ingest or fetch adds them.
_RECORDS = """
INSERT INTO records BY NAME
WITH picked AS (
    SELECT i, synthetic.*, random() AS chance, random() AS kind_draw, random() AS size_draw,
        CAST(floor(pow(random(), 2) * {senders}) AS INTEGER) AS drawn
    FROM range({records}) AS t(i) JOIN synthetic ON synthetic.number = i * {reports} // {records}),
named AS (
    SELECT *, kind_draw < 0.2 AS unauthenticated,
        CASE WHEN drawn >= {senders} - {new} AND day_number < {days} - 7 THEN drawn - {new} ELSE drawn END AS sender_number
    FROM picked),
judged AS (
    SELECT *, 'Sender ' || sender_number AS sender_name,
        NOT unauthenticated AND chance < CASE
            WHEN 'Sender ' || sender_number = '{fixed}' THEN CASE WHEN day_number < {fix_day} THEN 0.4 ELSE 0.99 END
            WHEN sender_number % 5 = 0 THEN 0.6 ELSE 0.995 END AS passes,
        ['wrong_domain', 'signature_failed', 'forwarded_reported'][1 + sender_number % 3] AS failure
    FROM named)
SELECT {first_key} + number AS report_key, CAST(? AS DATE) + CAST(day_number AS INTEGER) AS day, domain AS policy_domain,
    CASE WHEN unauthenticated THEN format('{{}}.{{}}.{{}}.{{}}', 1 + i % 223, (i // 7) % 256, (i // 1789) % 256, i % 251)
         ELSE format('198.51.{{}}.{{}}', sender_number // 256, sender_number % 256) END AS source_ip,
    1 + CAST(floor(pow(size_draw, 3) * 200) AS BIGINT) AS count,
    CASE WHEN passes THEN 'none' ELSE p END AS disposition,
    CASE WHEN passes THEN 'pass' ELSE 'fail' END AS reported_dkim, 'fail' AS reported_spf,
    CASE WHEN NOT passes AND failure = 'forwarded_reported' THEN 'forwarded' ELSE '' END AS reason, '' AS reason_comment,
    domain AS header_from, CASE WHEN unauthenticated THEN domain ELSE 'bounce.esp' || sender_number || '.net' END AS envelope_from,
    '' AS envelope_to,
    CASE WHEN unauthenticated THEN []
         WHEN passes THEN [{{'domain': domain, 'selector': 's' || sender_number, 'result': 'pass'}}]
         WHEN failure = 'wrong_domain' THEN [{{'domain': 'esp' || sender_number || '.net', 'selector': 'k1', 'result': 'pass'}}]
         ELSE [{{'domain': domain, 'selector': 's' || sender_number, 'result': 'fail'}}] END AS dkim,
    [{{'domain': CASE WHEN unauthenticated THEN domain ELSE 'bounce.esp' || sender_number || '.net' END,
       'scope': 'mfrom', 'result': CASE WHEN unauthenticated THEN 'fail' ELSE 'pass' END}}] AS spf,
    passes AS dmarc_pass, passes AS dkim_aligned, false AS spf_aligned, false AS disagrees,
    CASE WHEN passes THEN 'aligned' WHEN unauthenticated THEN 'unsigned' WHEN failure = 'forwarded_reported' THEN 'forwarded'
         ELSE failure END AS cause,
    CASE WHEN passes OR unauthenticated THEN NULL WHEN failure = 'wrong_domain' THEN 1 ELSE 2 END AS table_row,
    CASE WHEN passes THEN 'aligned' WHEN unauthenticated THEN 'unsigned_unknown' ELSE failure END AS finding,
    CASE WHEN unauthenticated THEN '' ELSE sender_name END AS sender,
    CASE WHEN unauthenticated THEN format('{{}}.{{}}.{{}}.{{}}', 1 + i % 223, (i // 7) % 256, (i // 1789) % 256, i % 251)
         ELSE sender_name END AS source,
    CASE WHEN unauthenticated THEN 'unknown' WHEN sender_number % 2 = 0 THEN 'known_service' ELSE 'own' END AS sender_kind
FROM judged ORDER BY i
"""


def page_queries(first_day: dt.date) -> dict[str, Callable[[Store], object]]:
    """The page's queries, as the page asks them on its first run (every domain), and for one domain."""
    fix_day = first_day + dt.timedelta(days=FIX_DAY)
    return {
        "open read-only": lambda store: None,
        "coverage": queries.coverage,
        "policy domains": queries.policy_domains,
        "pass rate per day": queries.pass_rate_by_day,
        "pass rate per day, one domain": lambda store: queries.pass_rate_by_day(store, "example.com"),
        "senders by week (top 15)": queries.senders_by_week,
        "sources for the picker (500)": queries.sources,
        "new senders (last 7 days)": queries.new_senders,
        "did my fix work (one sender, a date)": lambda store: queries.fix_check(store, FIXED_SENDER, fix_day),
        "policy periods": queries.policy_periods,
        "current readiness (last 14 days, from the stored verdicts)": queries.current_readiness,
    }


def time_queries(path: Path, first_day: dt.date, runs: int = 3) -> dict[str, float]:
    timings = {}
    for name, query in page_queries(first_day).items():
        seconds = []
        for _ in range(runs):
            start = time.perf_counter()
            with Store(path, read_only=True) as store:
                query(store)
            seconds.append(time.perf_counter() - start)
        timings[name] = statistics.median(seconds)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the history file to write (replaced if it exists)")
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=180, help="days of reports (default 180)")
    parser.add_argument("--first-day", type=dt.date.fromisoformat, default=dt.date(2026, 7, 13))
    parser.add_argument("--runs", type=int, default=3, help="runs of each query; the median is printed")
    parser.add_argument("--timing-only", action="store_true", help="time the queries on OUT as it is")
    options = parser.parse_args()
    if not options.timing_only:
        options.out.unlink(missing_ok=True)
        start = time.perf_counter()
        build(options.out, options.records, options.days, options.first_day)
        print(f"built {options.out} in {time.perf_counter() - start:.1f} s")
    with Store(options.out, read_only=True) as store:
        held = queries.coverage(store)
    size = options.out.stat().st_size
    print(f"{held.records:,} records, {held.reports:,} reports, {held.messages:,} messages, {held.first_day} to {held.last_day}")
    print(f"file: {size / 1e6:,.1f} MB, {size / 1e6 / (held.records / 1e6):,.1f} MB per million records")
    print("\n| query | median seconds |\n|---|---:|")
    for name, seconds in time_queries(options.out, options.first_day, options.runs).items():
        print(f"| {name} | {seconds:.3f} |")


if __name__ == "__main__":
    main()
