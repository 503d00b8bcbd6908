"""The History page's queries: SQL over a store, checked against what pandas computes from the
triage of the same reports, and against histories built for the question (historykit)."""

from __future__ import annotations

import datetime as dt

import historykit as kit
import pandas as pd
import pytest

from dmarc_core import distinct_reports, read_files, triage
from dmarc_core.analysis import summary
from dmarc_core.history import queries
from dmarc_core.history.ingest import ingest_files
from dmarc_core.history.store import Store, StoreBusy

from reportkit import record, report

SAMPLE_STEP = 4  # every fourth real sample: receivers, years and quirks enough, ingested in seconds


@pytest.fixture(scope="module")
def sample_files(samples) -> list[tuple[str, bytes]]:
    return [(path.name, path.read_bytes()) for path in sorted((samples / "aggregate").iterdir())[::SAMPLE_STEP]]


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory, sample_files):
    path = tmp_path_factory.mktemp("history") / "samples.duckdb"
    with Store(path) as store:
        ingest_files(store, sample_files)
    with Store(path, read_only=True) as store:
        yield store


@pytest.fixture(scope="module")
def sample_reports(sample_files) -> tuple:
    """The same files' reports, read as the Triage page reads uploads."""
    return distinct_reports(report for outcome in read_files(sample_files) for report in outcome.reports).reports


@pytest.fixture(scope="module")
def sample_frame(sample_reports) -> pd.DataFrame:
    return triage(sample_reports)


@pytest.fixture(scope="module")
def kit_store(tmp_path_factory):
    path = kit.write_history(tmp_path_factory.mktemp("history") / "kit.duckdb")
    with Store(path, read_only=True) as store:
        yield store


def _named_sources(frame: pd.DataFrame) -> pd.Series:
    """Each record's source as the sources table names it."""
    return frame["source"].astype(object).where(~summary.unauthenticated_records(frame), summary.UNAUTHENTICATED)


def test_coverage_counts_what_the_triage_counts(sample_store, sample_frame, sample_reports):
    held = queries.coverage(sample_store)
    assert held.records == len(sample_frame)
    assert held.messages == sample_frame["count"].sum()
    assert held.passing_messages == sample_frame.loc[sample_frame["dmarc_pass"], "count"].sum()
    assert held.reports == len(sample_reports)  # those without records too
    days = sample_frame["begin"].dropna().dt.tz_convert("UTC")
    assert (held.first_day, held.last_day) == (days.min().date(), days.max().date())


def test_pass_rate_per_day_is_the_triages(sample_store, sample_frame):
    pd.testing.assert_frame_equal(
        queries.pass_rate_by_day(sample_store), summary.pass_rate_by_day(sample_frame), check_dtype=False, check_freq=False
    )


def test_pass_rate_per_day_of_one_domain_and_one_sender(sample_store, sample_frame):
    domain = sample_frame.groupby("policy_domain")["count"].sum().idxmax()
    rows = sample_frame[sample_frame["policy_domain"] == domain]
    pd.testing.assert_frame_equal(
        queries.pass_rate_by_day(sample_store, domain), summary.pass_rate_by_day(rows), check_dtype=False, check_freq=False
    )
    for source in (
        summary.UNAUTHENTICATED,
        _named_sources(sample_frame).loc[lambda named: named != summary.UNAUTHENTICATED].iloc[0],
    ):
        rows = sample_frame[_named_sources(sample_frame) == source]
        pd.testing.assert_frame_equal(
            queries.pass_rate_by_day(sample_store, source=source),
            summary.pass_rate_by_day(rows),
            check_dtype=False,
            check_freq=False,
        )


def test_senders_with_the_most_failing_messages_first(sample_store, sample_frame):
    named = _named_sources(sample_frame)
    totals = (
        pd.DataFrame(
            {
                "source": named,
                "messages": sample_frame["count"],
                "failing": sample_frame["count"].where(~sample_frame["dmarc_pass"], 0),
            }
        )
        .groupby("source", as_index=False)[["failing", "messages"]]
        .sum()
    )
    expected = totals.sort_values(["failing", "messages", "source"], ascending=[False, False, True]).head(6)
    table = queries.senders_by_week(sample_store, limit=6)
    assert table[["source", "failing", "messages"]].values.tolist() == expected[["source", "failing", "messages"]].values.tolist()
    assert queries.sources(sample_store, limit=6) == expected["source"].tolist()


def test_a_policy_domain_offers_only_the_sources_of_its_own_mail(sample_store, sample_frame):
    named = _named_sources(sample_frame)
    for domain in sample_frame["policy_domain"].dropna().unique():
        mine = named[sample_frame["policy_domain"] == domain]
        assert set(queries.sources(sample_store, domain)) == set(mine)
    # The samples hold a domain without unauthenticated mail, which must not be offered it.
    assert any(
        summary.UNAUTHENTICATED not in set(named[sample_frame["policy_domain"] == domain])
        for domain in sample_frame["policy_domain"].dropna().unique()
    )


def test_weekly_pass_rate_of_a_sender(sample_store, sample_frame):
    table = queries.senders_by_week(sample_store, limit=3)
    source = table["source"].iloc[1]
    rows = sample_frame[_named_sources(sample_frame) == source]
    day = sample_frame["begin"].dropna().dt.tz_convert(None).dt.floor("D")
    first_monday = day.min() - pd.Timedelta(days=day.min().weekday())
    week_of = (rows["begin"].dt.tz_convert(None).dt.floor("D") - first_monday).dt.days // 7
    per_week = rows.groupby(week_of).apply(lambda week: week.loc[week["dmarc_pass"], "count"].sum() / week["count"].sum())
    weekly = table["weekly_pass_rate"].iloc[1]
    # A week without mail has no rate and no point: the line joins the weeks that have one, in order.
    assert weekly == pytest.approx(per_week.dropna().sort_index().tolist())
    assert all(rate is not None for rate in weekly)


def test_new_senders_are_those_first_seen_in_the_last_week(kit_store):
    found = queries.new_senders(kit_store)
    assert found.since == kit.day(kit.DAYS - 7)
    new_record = kit.history_files()[-1][1]
    frame = triage(read_files([("new.xml", new_record)])[0].reports)
    expected = frame.loc[frame["source_ip"] == "198.51.100.30", "source"].iloc[0]
    assert found.senders["source"].tolist() == [expected]
    days_with_it = kit.DAYS - kit.NEW_SENDER_DAY
    assert found.senders["messages"].tolist() == [kit.NEW_SENDER_MESSAGES * len(kit.RECEIVERS) * days_with_it]
    assert found.senders["first_day"].dt.date.tolist() == [kit.day(kit.NEW_SENDER_DAY)]
    # The spoofer of every day is no news; the one of the last week is, with its messages.
    assert (found.unauthenticated_addresses, found.unauthenticated_messages) == (1, 2 * len(kit.RECEIVERS) * days_with_it)


def test_nothing_new_when_the_last_week_brings_only_known_senders(tmp_path):
    files = [item for item in kit.history_files() if int(item[0].rsplit("-", 1)[1].removesuffix(".xml")) < kit.NEW_SENDER_DAY]
    with Store(kit.write_history(tmp_path / "old.duckdb", files), read_only=True) as store:
        found = queries.new_senders(store)
    assert found.senders.empty and found.unauthenticated_addresses == 0


def test_did_my_fix_work_compares_the_days_before_and_after(kit_store):
    frame = triage(read_files(kit.history_files()[:1])[0].reports)
    esp = frame.loc[frame["source_ip"] == "198.51.100.20", "source"].unique().tolist()
    assert len(esp) == 1, "the fix keeps the sender's name: its ESP signature stays"
    fix = queries.fix_check(kit_store, esp[0], kit.day(kit.FIX_DAY))
    receivers = len(kit.RECEIVERS)
    assert (fix.before.first_day, fix.before.last_day) == (kit.day(0), kit.day(kit.FIX_DAY - 1))
    assert fix.before.days_reported == kit.FIX_DAY
    assert fix.before.messages == kit.ESP_MESSAGES * receivers * kit.FIX_DAY
    assert fix.before.failing == kit.ESP_FAILING_BEFORE_FIX * receivers * kit.FIX_DAY
    assert fix.before.pass_rate == pytest.approx(1 - kit.ESP_FAILING_BEFORE_FIX / kit.ESP_MESSAGES)
    after_days = kit.DAYS - kit.FIX_DAY
    assert (fix.after.days_reported, fix.after.messages, fix.after.failing) == (
        after_days,
        kit.ESP_MESSAGES * receivers * after_days,
        0,
    )
    assert fix.after.pass_rate == 1.0 and fix.after.failing_per_day == 0
    by_day = fix.days.set_index("day")["pass_rate"]
    assert by_day[pd.Timestamp(kit.day(kit.FIX_DAY - 1))] == pytest.approx(0.4)
    assert by_day[pd.Timestamp(kit.day(kit.FIX_DAY))] == 1.0


def test_a_fix_window_with_no_mail_has_no_rate(kit_store):
    fix = queries.fix_check(kit_store, "nobody.example", kit.day(kit.FIX_DAY))
    assert fix.before.messages == fix.after.messages == 0
    assert fix.after.pass_rate is None and fix.after.failing_per_day is None


def test_the_fix_date_shown_first_puts_the_senders_last_two_weeks_after_it(kit_store):
    # The ESP's mail runs to the kit's last day: its last 14 days start on the day it was fixed.
    (esp,) = [source for source in queries.sources(kit_store) if source not in ("example.com", summary.UNAUTHENTICATED)][:1]
    assert queries.suggested_fix_day(kit_store, esp) == kit.day(kit.DAYS - queries.FIX_WINDOW_DAYS)
    assert queries.suggested_fix_day(kit_store, esp, "example.com") == kit.day(kit.FIX_DAY)
    assert queries.suggested_fix_day(kit_store, "nobody.example") is None
    assert queries.suggested_fix_day(kit_store, esp, "other.example") is None


@pytest.mark.parametrize(
    ("reported", "shown"),
    [
        ((3, 5), 5),  # its first day before, its last after
        ((0, 1, 2, 3, 4), 3),  # three days before and two after, or two and three: the later
        ((0, 26, 28), 28),  # the two weeks before the 14th day after the first hold none: its last two days
        ((3,), 3),  # one day: nothing to compare, all of it after
        ((0, 40), 27),  # weeks apart: nothing to compare, its last two weeks
    ],
)
def test_the_fix_date_shown_first_compares_the_senders_mail_with_its_mail(tmp_path, reported, shown):
    # A person checking a fix wants the sender's mail on both sides of the date; a default that
    # leaves one side empty compares nothing with nothing.
    files = [
        (
            f"few-{number}.xml",
            report(record(dkim=[("few.example", "pass")], count=2), begin=start, end=start + 86399, report_id=f"r{number}"),
        )
        for number in reported
        for start in [kit._epoch(kit.day(number))]
    ]
    with Store(kit.write_history(tmp_path / "few.duckdb", files), read_only=True) as store:
        assert queries.suggested_fix_day(store, "few.example") == kit.day(shown)


def test_the_policy_published_over_time_and_its_plan_step(kit_store):
    periods = queries.policy_periods(kit_store)
    rows = periods[["policy_domain", "p", "pct", "step", "first_day", "last_day", "days_reported", "reports"]].values.tolist()
    receivers = len(kit.RECEIVERS)
    change = kit.POLICY_CHANGE_DAY
    collecting = 13  # the plan's step 1: p=none while two weeks of reports come in; the 14th day completes them
    assert rows == [
        # p=none: step 1, then step 2 (fix the senders) from its 14th day reported; then p=quarantine;
        # pct=10: step 3.
        ["example.com", "none", 100, 1, kit.day(0), kit.day(collecting - 1), collecting, collecting * receivers],
        [
            "example.com",
            "none",
            100,
            2,
            kit.day(collecting),
            kit.day(change - 1),
            change - collecting,
            (change - collecting) * receivers,
        ],
        [
            "example.com",
            "quarantine",
            10,
            3,
            kit.day(change),
            kit.day(kit.DAYS - 1),
            kit.DAYS - change,
            (kit.DAYS - change) * receivers,
        ],
    ]


def test_a_policy_is_published_since_its_first_day_over_its_steps(kit_store):
    periods = queries.policy_periods(kit_store)
    assert queries.published_since(periods) == kit.day(kit.POLICY_CHANGE_DAY)  # p=quarantine; pct=10
    p_none = periods[periods["p"] == "none"]
    assert p_none["step"].tolist() == [1, 2] and queries.published_since(p_none) == kit.day(0)


def test_the_policy_most_receivers_quote_decides_a_day(tmp_path):
    """A receiver still quoting the old record on the day of a change (its DNS cache) is outvoted."""
    files = kit.history_files()[: 2 * 3]  # days 0-2, two receivers
    late = kit.report(*kit.day_records(2), p="reject", begin=kit._epoch(kit.day(2)), end=kit._epoch(kit.day(2)) + 86399,
                      org_name="receiver-c.example", report_id="late")  # fmt: skip
    with Store(kit.write_history(tmp_path / "votes.duckdb", [*files, ("late.xml", late)]), read_only=True) as store:
        periods = queries.policy_periods(store)
    assert periods["p"].tolist() == ["none"]
    assert periods["reports"].tolist() == [7]


def test_current_readiness_judges_the_last_two_weeks(kit_store):
    (assessment,) = queries.current_readiness(kit_store)
    assert (assessment.domain, assessment.policy, assessment.pct, assessment.step) == ("example.com", "quarantine", 10, 3)
    # The reports ending within the 14 days before the last report's end, as `history --since 14d`
    # counts them: 14 daily reports, not the one that ended exactly 14 days earlier.
    days = range(kit.DAYS - 14, kit.DAYS)
    assert assessment.days == 14.0
    judged = sum(record_count for number in days for record_count in _judged_messages(number)) * len(kit.RECEIVERS)
    assert assessment.messages == judged


def _judged_messages(number: int) -> list[int]:
    """The messages the rollout plan weighs on a day: all but the unauthenticated addresses' (mail nobody vouches for)."""
    new = kit.NEW_SENDER_MESSAGES if number >= kit.NEW_SENDER_DAY else 0
    return [kit.OWN_MESSAGES, kit.ESP_MESSAGES, new]


def test_an_empty_history_answers_with_nothing(tmp_path):
    with Store(tmp_path / "empty.duckdb") as store:
        assert queries.coverage(store).records == 0
        assert queries.pass_rate_by_day(store).empty
        assert queries.senders_by_week(store).empty
        assert queries.new_senders(store).since is None
        assert queries.policy_periods(store).empty
        assert queries.current_readiness(store) == []


def test_a_history_being_written_is_busy_for_a_reader(tmp_path):
    path = kit.write_history(tmp_path / "busy.duckdb", kit.history_files()[:2])
    with kit.held_for_writing(path), pytest.raises(StoreBusy, match="open in another process"):
        Store(path, read_only=True)
    with Store(path, read_only=True) as store:
        assert queries.coverage(store).reports == 2


def test_a_fix_window_stays_within_the_history(kit_store):
    late = queries.fix_check(kit_store, summary.UNAUTHENTICATED, kit.day(kit.DAYS - 3))
    assert (late.after.first_day, late.after.last_day) == (kit.day(kit.DAYS - 3), kit.day(kit.DAYS - 1))
    assert late.after.days_reported == 3
    early = queries.fix_check(kit_store, summary.UNAUTHENTICATED, kit.day(3))
    assert (early.before.first_day, early.before.last_day) == (kit.day(0), kit.day(2))
    assert (early.before.messages, early.before.failing) == (3 * len(kit.RECEIVERS), 3 * len(kit.RECEIVERS))


def test_a_period_leaves_out_what_came_before_it(sample_store, sample_frame):
    # The samples span 2018 to 2024: the page's default period (the history's last three months)
    # must hold only what began in it, as pandas counts it from the triage of the same reports.
    last_day = queries.coverage(sample_store).last_day
    since = last_day - dt.timedelta(days=90)
    day = sample_frame["begin"].dt.tz_convert(None).dt.floor("D").dt.date
    in_period = sample_frame[day >= since]
    held = queries.coverage(sample_store, None, since)
    assert held.first_day >= since and held.last_day == last_day
    assert (held.records, held.messages) == (len(in_period), int(in_period["count"].sum()))
    days = queries.pass_rate_by_day(sample_store, None, None, since)
    assert days["day"].min().date() >= since and int(days["messages"].sum()) == held.messages
    senders = queries.senders_by_week(sample_store, None, 15, since)
    assert senders["first_day"].min() >= pd.Timestamp(since)
    # The policy periods that reach the period, whole: as the whole history has them.
    periods = queries.policy_periods(sample_store, None, since)
    everything = queries.policy_periods(sample_store)
    pd.testing.assert_frame_equal(periods, everything[everything["last_day"] >= since].reset_index(drop=True))


def test_the_plans_step_counts_the_whole_history_whatever_the_period(tmp_path):
    """p=none reported on days 0-9 and 30-39: its 14th day reported (day 33) completes the plan's two
    weeks (step 2 from then on), whichever period the page shows, and the current assessment is at
    step 2 too, though the last 14 days hold only 10 days of reports (not evidence for the next step)."""
    files = [(name, data) for name, data in kit.history_files() if int(name.rsplit("-", 1)[1][:-4]) < 10]
    later = []
    for number in range(30, 40):
        begin = kit._epoch(kit.day(number))
        for receiver in kit.RECEIVERS:
            data = report(*kit.day_records(number), p="none", begin=begin, end=begin + 86399, org_name=receiver,
                          report_id=f"{receiver}-{number}")  # fmt: skip
            later.append((f"{receiver}-{number}.xml", data))
    with Store(kit.write_history(tmp_path / "gap.duckdb", files + later), read_only=True) as store:
        expected = [(1, kit.day(0), kit.day(33 - 1)), (2, kit.day(33), kit.day(39))]
        for since in (None, kit.day(35)):
            periods = queries.policy_periods(store, None, since)
            assert list(zip(periods["step"], periods["first_day"], periods["last_day"], strict=True)) == (
                expected if since is None else expected[1:]
            )
        (assessment,) = queries.current_readiness(store)
    assert assessment.step == 2 and not assessment.ready and assessment.days == 10.0
    assert "the plan asks for two weeks" in assessment.advice


@pytest.mark.parametrize("which", ["sample_store", "kit_store"])
def test_current_readiness_from_the_stored_verdicts_equals_the_triages_own(which, request):
    # The page sums the stored verdicts per report, source and finding; the rollout's code must
    # reach the same assessment as on the triage of the same reports, record by record.
    # Each domain on the reports that end within the 14 days before its own last report's end.
    store = request.getfixturevalue(which)
    frame = triage(store.reports())
    last = frame.groupby("policy_domain", observed=True)["end"].transform("max")
    recent = frame[frame["end"] >= last - pd.Timedelta(days=queries.READINESS_DAYS) + pd.Timedelta(seconds=1)]
    assert queries.current_readiness(store) == summary.rollout_readiness(recent)


def test_each_domain_is_judged_on_its_own_last_two_weeks(tmp_path):
    # A domain whose reports stopped a month before the others' still has a "now": its own last
    # two weeks of reports, not the history's, which hold none of it.
    begin = kit._epoch(kit.day(-30))
    old = [
        (
            f"old-{number}.xml",
            report(
                *kit.day_records(0),
                domain="old.example",
                begin=begin - number * 86400,
                end=begin - number * 86400 + 86399,
                report_id=f"old-{number}",
            ),
        )
        for number in range(3)
    ]
    with Store(kit.write_history(tmp_path / "two.duckdb", [*kit.history_files(), *old]), read_only=True) as store:
        assessments = {assessment.domain: assessment for assessment in queries.current_readiness(store)}
    assert set(assessments) == {"example.com", "old.example"}
    assert assessments["old.example"].days == 3.0 and assessments["example.com"].days == 14.0


def test_pct_under_p_none_changes_no_policy(tmp_path):
    # RFC 7489 6.3: pct= applies to quarantine and reject; p=none with pct=50 is still p=none, and
    # its days count towards the plan's two weeks like the days before it.
    files = []
    for number in range(20):
        begin = kit._epoch(kit.day(number))
        for receiver in kit.RECEIVERS:
            data = report(*kit.day_records(number), p="none", pct=100 if number < 10 else 50, begin=begin, end=begin + 86399,
                          org_name=receiver, report_id=f"{receiver}-{number}")  # fmt: skip
            files.append((f"{receiver}-{number}.xml", data))
    with Store(kit.write_history(tmp_path / "pct.duckdb", files), read_only=True) as store:
        periods = queries.policy_periods(store)
        (assessment,) = queries.current_readiness(store)
    assert list(zip(periods["p"], periods["pct"], periods["step"], periods["first_day"], strict=True)) == [
        ("none", 100, 1, kit.day(0)),
        ("none", 100, 2, kit.day(13)),
    ]
    assert queries.published_since(periods) == kit.day(0) and assessment.step == 2
