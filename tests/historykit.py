"""A small history for tests, written with reportkit: four weeks of one domain's reports from two
receivers, in which a sender is fixed on day 14, another appears in the last week, and the
published policy moves from p=none to p=quarantine; pct=10 on day 16."""

from __future__ import annotations

import contextlib
import datetime as dt
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

from dmarc_core.history.ingest import ingest_files
from dmarc_core.history.store import Store

from reportkit import record, report

FIRST_DAY = dt.date(2025, 3, 3)  # a Monday
DAYS = 28
FIX_DAY = 14
NEW_SENDER_DAY = 23
POLICY_CHANGE_DAY = 16
RECEIVERS = ("receiver-a.example", "receiver-b.example")
#: Per receiver and day: the busy sender's messages, and how many of them its own ESP signature
#: alone signs (failing DMARC) before the fix; after it, the sender signs as example.com too.
ESP_MESSAGES, ESP_FAILING_BEFORE_FIX = 10, 6
OWN_MESSAGES = 20
NEW_SENDER_MESSAGES = 3
#: An address nothing authenticated sends from every day; another appears in the last week.
OLD_SPOOFER, NEW_SPOOFER = "203.0.113.7", "203.0.113.99"


def day(number: int) -> dt.date:
    return FIRST_DAY + dt.timedelta(days=number)


def _epoch(date: dt.date) -> int:
    return int(dt.datetime(date.year, date.month, date.day, tzinfo=dt.UTC).timestamp())


def day_records(number: int) -> list[str]:
    """One receiver's records of one day."""
    esp_signed = [("example.com", "pass"), ("mcsv.net", "pass")]
    failing = ESP_FAILING_BEFORE_FIX if number < FIX_DAY else 0
    records = [
        record(dkim=[("example.com", "pass")], count=OWN_MESSAGES, source_ip="192.0.2.10", reported_dkim="pass"),
        record(dkim=esp_signed, count=ESP_MESSAGES - failing, source_ip="198.51.100.20", reported_dkim="pass"),
        record(spf=[("example.com", "fail")], count=1, source_ip=OLD_SPOOFER),
    ]
    if failing:
        records.append(record(dkim=[("mcsv.net", "pass")], count=failing, source_ip="198.51.100.20"))
    if number >= NEW_SENDER_DAY:
        records.append(
            record(dkim=[("sendgrid.net", "pass")], count=NEW_SENDER_MESSAGES, source_ip="198.51.100.30"),
        )
        records.append(record(spf=[("example.com", "fail")], count=2, source_ip=NEW_SPOOFER))
    return records


def history_files() -> list[tuple[str, bytes]]:
    """The reports, one a receiver and day, as files."""
    files = []
    for number in range(DAYS):
        begin = _epoch(day(number))
        for receiver in RECEIVERS:
            p, pct = ("quarantine", 10) if number >= POLICY_CHANGE_DAY else ("none", 100)
            data = report(
                *day_records(number),
                p=p,
                pct=pct,
                begin=begin,
                end=begin + 86399,
                org_name=receiver,
                report_id=f"{receiver}-{number}",
            )
            files.append((f"{receiver}-{number}.xml", data))
    return files


def write_history(path: Path, files: list[tuple[str, bytes]] | None = None) -> Path:
    with Store(path) as store:
        ingest_files(store, history_files() if files is None else files)
    return path


@contextlib.contextmanager
def held_for_writing(path: Path) -> Iterator[None]:
    """Another process holds the history open for writing (as an ingest or a fetch does) meanwhile."""
    writer = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, duckdb
            connection = duckdb.connect({str(path)!r})
            print("open", flush=True)
            sys.stdin.read()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert writer.stdout.readline().strip() == "open"
        yield
    finally:
        writer.communicate("")
