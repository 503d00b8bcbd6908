"""``ingest``, ``history`` and ``export`` as a user runs them: what they print, their exit status,
``history``'s summary equal to ``triage``'s on the same reports, and ``--fail-on`` for cron."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
import test_cli

from dmarc_core._cli import CHECK_FIRED
from dmarc_core.history.store import STORE_ENV

from reportkit import record, report

BAD = ("bad.xml", "plain.txt", "non-dmarc.xml")


cli = test_cli.cli  # the command line run in this process (tests/test_cli.py)


@pytest.fixture
def command(cli):
    """``command("ingest", path, ...)``: ``cli`` with every argument as text."""
    return lambda *args: cli(*map(str, args))


@pytest.fixture(scope="module")
def sample_paths(samples) -> list[Path]:
    return sorted(path for path in (samples / "aggregate").iterdir() if path.is_file())


@pytest.fixture
def store(tmp_path) -> Path:
    return tmp_path / "history.duckdb"


def test_ingest_says_what_became_of_each_file_and_exits_by_it(command, store, sample_paths):
    first = command("ingest", *sample_paths, "--store", store)
    assert first.returncode == 1  # the samples hold refused files
    lines = first.stderr.splitlines()
    assert len(lines) == len(sample_paths)
    assert sorted(line.split(": ")[0] for line in lines) == sorted(path.name for path in sample_paths)
    assert any(line.startswith("bad.xml: refused: ") for line in lines)
    assert f"{len(sample_paths):,} files: " in first.stdout and " reports added (" in first.stdout
    again = command("ingest", *sample_paths, "--store", store)
    assert again.returncode == 1
    assert "0 reports added (0 records, 0 messages)" in again.stdout
    assert not any(" added (" in line and " 0 reports added" not in line for line in again.stderr.splitlines())


def test_ingest_exits_0_when_every_file_was_read_and_2_when_none_was(command, store, sample_paths):
    good = [path for path in sample_paths if path.name.endswith(".xml") and path.name not in BAD][:20]
    assert command("ingest", *good, "--store", store).returncode == 0
    assert command("ingest", *good, "--store", store).returncode == 0  # already held is fine
    bad = [path for path in sample_paths if path.name in BAD]
    nothing = command("ingest", *bad, "--store", store)
    assert nothing.returncode == 2
    assert nothing.stderr.splitlines()[-1] == "error: none of the files holds a readable DMARC aggregate report"


def test_ingest_takes_the_store_from_the_environment_and_refuses_an_unusable_one(command, tmp_path, sample_paths, monkeypatch):
    some = sample_paths[:3]
    monkeypatch.delenv(STORE_ENV, raising=False)
    missing = command("ingest", *some)
    assert missing.returncode == 2 and missing.stderr.startswith("error: No history file given")
    monkeypatch.setenv(STORE_ENV, str(tmp_path / "env.duckdb"))
    assert command("ingest", *some).returncode in (0, 1)
    assert (tmp_path / "env.duckdb").exists()
    other = tmp_path / "other.duckdb"
    with duckdb.connect(str(other)) as connection:
        connection.execute("CREATE TABLE invoices (number INTEGER)")
    refused = command("ingest", *some, "--store", other)
    assert refused.returncode == 2 and refused.stderr.startswith("error: ") and "not a history file" in refused.stderr
    unreadable = command("ingest", tmp_path / "gone.xml", *some, "--store", tmp_path / "env.duckdb")
    assert unreadable.returncode == 1
    assert unreadable.stderr.splitlines()[0].startswith("gone.xml: refused: gone.xml cannot be read")


def _rows(items: list[dict], leave_out: tuple[str, ...] = ()) -> list[str]:
    return sorted(
        json.dumps({key: value for key, value in item.items() if key not in leave_out}, sort_keys=True) for item in items
    )


def test_history_gives_the_summary_triage_gives_for_the_same_reports(command, store, sample_paths):
    command("ingest", *sample_paths, "--store", store)
    history = json.loads(command("history", "--store", store, "--format", "json").stdout)
    triaged = json.loads(command("triage", *sample_paths, "--format", "json").stdout)
    assert set(history) - {"since"} == set(triaged) - {"files"}
    assert history["headline"] == triaged["headline"]
    assert _rows(history["readiness"]) == _rows(triaged["readiness"])
    # A source's busiest record (its fix and link) and its busiest addresses are the first among
    # equals, and the store gives the reports in date order, the files in name order: the rest is equal.
    representative = ("explorer_link", "fix", "addresses", "reasons")
    assert _rows(history["sources"], leave_out=representative) == _rows(triaged["sources"], leave_out=representative)
    assert _rows(history["records"]) == _rows(triaged["records"])
    csv_history = command("history", "--store", store, "--format", "csv").stdout.splitlines()
    csv_triage = command("triage", *sample_paths, "--format", "csv").stdout.splitlines()
    assert csv_history[0] == csv_triage[0] and sorted(csv_history) == sorted(csv_triage)
    table = command("history", "--store", store).stdout.splitlines()
    assert table[0] == command("triage", *sample_paths).stdout.splitlines()[0]


def test_history_since_keeps_the_reports_of_the_period(command, store, sample_paths):
    command("ingest", *sample_paths, "--store", store)
    later = command("history", "--store", store, "--since", "2099-01-01")
    assert later.returncode == 0 and later.stdout == "No reports in the history since 2099-01-01 00:00 UTC.\n"
    empty = json.loads(command("history", "--store", store, "--since", "2099-01-01", "--format", "json").stdout)
    assert empty["headline"]["reports"] == 0 and empty["records"] == [] and empty["since"].startswith("2099-01-01")
    everything = json.loads(command("history", "--store", store, "--format", "json").stdout)
    since_2024 = json.loads(command("history", "--store", store, "--since", "2024-01-01", "--format", "json").stdout)
    assert 0 < since_2024["headline"]["reports"] < everything["headline"]["reports"]
    assert all(row["end"] >= "2024-01-01" for row in since_2024["records"])
    assert command("history", "--store", store, "--since", "7d").returncode == 0
    wrong = command("history", "--store", store, "--since", "last tuesday")
    assert wrong.returncode == 2 and "is not a date" in wrong.stderr


DAY = 86400
WEEK_1 = 1759276800  # 2025-10-01 00:00 UTC
WEEK_2 = WEEK_1 + 7 * DAY


@pytest.fixture
def two_weeks(tmp_path, store, command) -> Path:
    """A week where example.com and SendGrid pass, then a week where SendGrid fails DMARC (its
    signature is only its own) and a vendor never seen before sends failing mail."""
    own = record(dkim=[("example.com", "pass")], reported_dkim="pass", count=100)
    before = report(
        own, record(dkim=[("sendgrid.net", "pass"), ("example.com", "pass")], reported_dkim="pass", source_ip="192.0.2.7", count=50),
        begin=WEEK_1, end=WEEK_1 + DAY - 1, report_id="week-1",
    )  # fmt: skip
    after = report(
        own, record(dkim=[("sendgrid.net", "pass")], source_ip="192.0.2.7", count=40),
        record(spf=[("bounce.vendor-mail.example", "pass")], source_ip="198.51.100.9", count=5),
        begin=WEEK_2, end=WEEK_2 + DAY - 1, report_id="week-2",
    )  # fmt: skip
    for name, data in (("week-1.xml", before), ("week-2.xml", after)):
        (tmp_path / name).write_bytes(data)
    assert command("ingest", tmp_path / "week-1.xml", tmp_path / "week-2.xml", "--store", store).returncode == 0
    return store


def test_fail_on_new_failing_sender_names_the_senders_that_started_failing(command, two_weeks):
    run = command("history", "--store", two_weeks, "--since", "2025-10-05", "--fail-on", "new-failing-sender")
    assert run.returncode == CHECK_FIRED
    first, *found = run.stderr.splitlines()
    assert first.startswith("new-failing-sender: 2 senders started failing since 2025-10-05 00:00 UTC: ")
    assert found == [
        "  SendGrid (for example.com): 40 messages, 40 failing",
        "  vendor-mail.example (for example.com): 5 messages, 5 failing",
    ]
    assert run.stdout.startswith("145 messages in 3 records of 1 report;")  # the period's summary, as triage prints it


def test_fail_on_new_sender_and_pass_rate(command, two_weeks):
    new = command("history", "--store", two_weeks, "--since", "2025-10-05", "--fail-on", "new-sender", "--format", "json")
    assert new.returncode == CHECK_FIRED
    assert new.stderr.splitlines()[1:] == ["  vendor-mail.example (for example.com): 5 messages, 5 failing"]
    json.loads(new.stdout)  # the summary on stdout stays valid JSON
    low = command("history", "--store", two_weeks, "--since", "2025-10-05", "--fail-on", "pass-rate-below:95")
    assert low.returncode == CHECK_FIRED
    assert "DMARC pass rate 69.0% of 145 messages since 2025-10-05 00:00 UTC, below 95%" in low.stderr
    fine = command("history", "--store", two_weeks, "--since", "2025-10-05", "--fail-on", "pass-rate-below:60")
    assert fine.returncode == 0 and fine.stderr == ""
    # No report at all in the period: a fetch that stopped must not look healthy.
    silent = command("history", "--store", two_weeks, "--since", "2030-01-01", "--fail-on", "pass-rate-below:60")
    assert silent.returncode == CHECK_FIRED and "No messages in the history since 2030-01-01" in silent.stderr
    # Before the period there was nothing: nothing is new against it.
    first_run = command("history", "--store", two_weeks, "--since", "2025-09-01", "--fail-on", "new-failing-sender")
    assert first_run.returncode == 0 and first_run.stderr == ""
    unknown = command("history", "--store", two_weeks, "--since", "2025-10-05", "--fail-on", "nonsense")
    assert unknown.returncode == 2 and "unknown check 'nonsense'" in unknown.stderr
    needs_since = command("history", "--store", two_weeks, "--fail-on", "new-sender")
    assert needs_since.returncode == 2 and "give --since" in needs_since.stderr


def test_history_and_export_never_create_a_store(command, tmp_path):
    for words in (("history",), ("export", "--parquet", tmp_path / "out")):
        run = command(*words, "--store", tmp_path / "none.duckdb")
        assert run.returncode == 2 and "does not exist" in run.stderr
    assert not (tmp_path / "none.duckdb").exists() and not (tmp_path / "out").exists()


def test_export_writes_parquet_and_says_how_much(command, two_weeks, tmp_path):
    run = command("export", "--store", two_weeks, "--parquet", tmp_path / "parquet")
    assert run.returncode == 0
    assert run.stdout == f"5 records in 1 Parquet files under {tmp_path / 'parquet'}\n"
    assert (tmp_path / "parquet" / "month=2025-10" / "policy_domain=example.com" / "part-0.parquet").is_file()
    again = command("export", "--store", two_weeks, "--parquet", tmp_path / "parquet")
    assert again.returncode == 2 and "not an empty folder" in again.stderr
