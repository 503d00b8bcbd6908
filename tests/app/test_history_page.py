"""The History page: a configured history file (DMARC_STORE) read-only, one being written, none
yet; and hosted, the visitor's own file brought with new reports and downloaded again."""

from __future__ import annotations

import json

import historykit as kit
import pytest
from streamlit.testing.v1 import AppTest

from app.conftest import texts
from dmarc_core.history import queries
from dmarc_core.history.store import STORE_ENV, Store
from ui import history_view

from reportkit import record, report

PAGE = "app_pages/history.py"
RECEIVERS = len(kit.RECEIVERS)


@pytest.fixture(scope="module")
def history_file(tmp_path_factory):
    return kit.write_history(tmp_path_factory.mktemp("history") / "kit.duckdb")


def _metric(test: AppTest, label: str) -> str:
    return next(metric.value for metric in test.metric if metric.label == label)


def _fixed_on(test: AppTest):
    """The fix's date, whose key names the domain and the sender it is kept for."""
    (found,) = [widget for widget in test.date_input if widget.label == "Fixed on"]
    return found


def _frame_with(test: AppTest, column: str):
    return next(frame.value for frame in test.dataframe if column in frame.value.columns)


def _all_messages() -> int:
    per_day = [
        kit.OWN_MESSAGES + kit.ESP_MESSAGES + 1 + (kit.NEW_SENDER_MESSAGES + 2 if number >= kit.NEW_SENDER_DAY else 0)
        for number in range(kit.DAYS)
    ]
    return sum(per_day) * RECEIVERS


def test_a_configured_history_is_shown(app, monkeypatch, history_file):
    monkeypatch.setenv(STORE_ENV, str(history_file))
    test = app(PAGE)
    # The kit's four weeks fit the default period (the last three months): everything is shown.
    assert test.selectbox(key="history_period").value == "Last 3 months"
    assert _metric(test, "Messages") == f"{_all_messages():,}"
    assert _metric(test, "Reports") == f"{kit.DAYS * RECEIVERS:,}"
    assert f"From {kit.day(0)} to {kit.day(kit.DAYS - 1)}" in " ".join(texts(test.caption))
    assert [header.value for header in test.subheader] == [
        "Pass rate per day",
        "Senders over the weeks, the most failing messages first",
        "New senders in the last week",
        "Did my fix work?",
        "The rollout plan, followed over time",
    ]
    assert test.get("plotly_chart"), "the pass rate per day is drawn"
    senders = _frame_with(test, "weekly_pass_rate")
    assert len(senders["weekly_pass_rate"].iloc[0]) == kit.DAYS // 7
    new = next(frame.value for frame in test.dataframe if list(frame.value.columns[:3]) == ["source", "sender_kind", "first_day"])
    assert new["messages"].tolist()[0] == kit.NEW_SENDER_MESSAGES * RECEIVERS * (kit.DAYS - kit.NEW_SENDER_DAY)
    # The rollout: quarantine at pct=10 since the day of the change, step 3 of 5.
    text = " ".join(texts(test.markdown))
    assert f"p=quarantine; pct=10 since {kit.day(kit.POLICY_CHANGE_DAY)}" in text
    assert "step 3 of 5" in text
    periods = _frame_with(test, "days_reported")
    assert periods["step"].tolist() == [1, 2, 3]  # p=none for two weeks, p=none after, then quarantine
    assert periods["pct"].tolist() == ["", "", "10%"]  # pct= says nothing under p=none


def test_did_my_fix_work_shows_before_and_after(app, monkeypatch, history_file):
    monkeypatch.setenv(STORE_ENV, str(history_file))
    test = app(PAGE)
    source = test.selectbox(key="history_fix_source")
    esp = next(option for option in source.options if option not in ("Unauthenticated addresses",))
    source.set_value(esp).run()
    # By default the sender's last two weeks are after the fix: here, the day it was fixed.
    assert _fixed_on(test).value == kit.day(kit.DAYS - queries.FIX_WINDOW_DAYS) == kit.day(kit.FIX_DAY)
    _fixed_on(test).set_value(kit.day(kit.FIX_DAY)).run()
    assert not test.exception
    rate = next(metric for metric in test.metric if metric.label == "DMARC pass rate" and metric.value == "100.0%")
    assert rate.delta == f"+{kit.ESP_FAILING_BEFORE_FIX / kit.ESP_MESSAGES:.1%}"
    failing_per_day = next(metric for metric in test.metric if metric.label == "Failing messages per day reported")
    assert failing_per_day.value == "0.0"
    assert failing_per_day.delta == f"{-kit.ESP_FAILING_BEFORE_FIX * RECEIVERS:+,.1f}"


def test_a_history_being_written_says_so_and_no_traceback(app, monkeypatch, history_file, tmp_path):
    busy = tmp_path / "busy.duckdb"
    busy.write_bytes(history_file.read_bytes())
    monkeypatch.setenv(STORE_ENV, str(busy))
    with kit.held_for_writing(busy):
        test = app(PAGE)
    assert texts(test.info) == ["The history file is being written by an ingest or fetch; this page shows it again in a moment."]
    assert not test.metric


def test_a_configured_history_not_written_yet_says_what_to_do(app, monkeypatch, tmp_path):
    monkeypatch.setenv(STORE_ENV, str(tmp_path / "later.duckdb"))
    test = app(PAGE)
    (info,) = texts(test.info)
    assert "No history file at" in info and "python -m dmarc_core fetch" in info
    # The command to copy is code, shown as written (no markdown escapes in the path).
    assert test.code[0].value == f"python -m dmarc_core ingest FILES... --store {tmp_path / 'later.duckdb'}"


def test_a_file_that_is_no_history_says_why(app, monkeypatch, tmp_path):
    other = tmp_path / "other.duckdb"
    import duckdb

    with duckdb.connect(str(other)) as connection:
        connection.execute("CREATE TABLE t (x INTEGER)")
    monkeypatch.setenv(STORE_ENV, str(other))
    test = app(PAGE)
    assert "not a history file" in " ".join(texts(test.error))


def test_store_given_after_the_double_dash_wins(monkeypatch):
    monkeypatch.setenv(STORE_ENV, "/from/environment.duckdb")
    assert history_view.configured_store(["--store", "/given.duckdb"]) == "/given.duckdb"
    assert history_view.configured_store(["--store=/given.duckdb"]) == "/given.duckdb"
    assert history_view.configured_store(["--other", "x"]) == "/from/environment.duckdb"
    monkeypatch.delenv(STORE_ENV)
    assert history_view.configured_store([]) is None
    assert history_view.configured_store(["--sto", "/abbreviated.duckdb"]) is None  # no guessing at abbreviations


# --- hosted: nothing stored on the server ---------------------------------------------------------------


@pytest.fixture
def hosted(app, monkeypatch):
    monkeypatch.delenv(STORE_ENV, raising=False)
    return app(PAGE)


def _upload(test: AppTest, files: list[tuple[str, bytes]]) -> AppTest:
    test.file_uploader(key="history_uploads").set_value([(name, data, "application/octet-stream") for name, data in files])
    test.run()
    assert not test.exception, [e.value for e in test.exception]
    return test


def test_hosted_empty_state_says_how_to_start(hosted):
    assert any(
        "Start a history: drop your reports here; download the file and bring it next time" in text for text in texts(hosted.info)
    )
    assert not hosted.download_button


def test_hosted_history_brought_back_with_new_reports(hosted, tmp_path):
    files = kit.history_files()
    old, new = files[: -2 * 7], files[-2 * 7 :]  # the last week arrives later
    kept = kit.write_history(tmp_path / "kept.duckdb", old)
    test = _upload(hosted, [("my-history.duckdb", kept.read_bytes()), *new])
    assert test.download_button[0].label == "Download your updated history file"
    assert _metric(test, "Reports") == f"{len(files):,}"
    assert _metric(test, "Messages") == f"{_all_messages():,}"
    assert "Files: 14 reports added, 0 already in the history" in [expander.label for expander in test.expander]
    # The visitor's file is a copy in this session's folder, with the new reports in it: what the button gives back.
    working = test.session_state["history_path"]
    assert working != kept and working.parent.name.startswith("dmarc-history-")
    with Store(working, read_only=True) as store:
        assert store.connection.execute("SELECT count(*) FROM reports").fetchone() == (len(files),)
    with Store(kept, read_only=True) as store:
        assert store.connection.execute("SELECT count(*) FROM reports").fetchone() == (len(old),)


def test_hosted_history_started_from_reports_alone(hosted):
    test = _upload(hosted, kit.history_files()[:4])
    assert test.download_button[0].label == "Download your updated history file"
    assert _metric(test, "Reports") == "4"
    assert f"From {kit.day(0)} to {kit.day(1)}" in " ".join(texts(test.caption))


def test_hosted_two_history_files_are_refused(hosted, tmp_path):
    one = kit.write_history(tmp_path / "one.duckdb", kit.history_files()[:1]).read_bytes()
    test = _upload(hosted, [("a.duckdb", one), ("b.duckdb", one)])
    assert "Drop one history file at a time" in " ".join(texts(test.error))
    assert not test.download_button


def test_hosted_reports_dropped_twice_count_once(hosted):
    files = kit.history_files()[:4]
    test = _upload(hosted, [*files, *[(f"copy-{name}", data) for name, data in files]])
    assert _metric(test, "Reports") == "4"
    assert "Files: 4 reports added, 4 already in the history" in [expander.label for expander in test.expander]


def test_hosted_a_file_named_like_a_history_that_is_none_starts_nothing(hosted):
    test = _upload(hosted, [("my-history.duckdb", b"this is not a database"), *kit.history_files()[:2]])
    assert "my-history.duckdb is named like a history file but is not a DuckDB file" in texts(test.error)[0]
    assert not test.get("download_button")


def test_a_domain_reported_long_before_the_others_shows_its_own_last_weeks(app, monkeypatch, tmp_path):
    # A domain whose only report is a year older than the rest: the period counts back from its own last day.
    begin = kit._epoch(kit.day(-365))
    old = report(*kit.day_records(0), domain="old.example", begin=begin, end=begin + 86399, report_id="old")
    monkeypatch.setenv(STORE_ENV, str(kit.write_history(tmp_path / "old.duckdb", [*kit.history_files(), ("old.xml", old)])))
    test = app(PAGE)
    test.selectbox(key="history_domain").set_value("old.example").run()
    assert not test.exception
    assert test.selectbox(key="history_period").value == "Last 3 months"
    assert _metric(test, "Messages") == f"{kit.OWN_MESSAGES + kit.ESP_MESSAGES + 1:,}"
    assert [chart for chart in test.get("plotly_chart") if chart.proto.id.endswith("history_pass_rate")]
    # Its steps chart ticks whole days: left to plotly, one day's axis ticked fractions of a millisecond.
    (steps,) = [chart for chart in test.get("plotly_chart") if chart.proto.id.endswith("history_steps_chart")]
    assert json.loads(steps.proto.spec)["layout"]["xaxis"]["dtick"] == 86_400_000
    # Where it stands now: by its own last two weeks of reports, though the history's hold none of it.
    assert f"Now, by old.example's last 14 days of reports (up to {kit.day(-365)}):" in texts(test.caption)
    # The fix's date is among the domain's own days, not the history's.
    fixed_on = _fixed_on(test)
    assert fixed_on.value == kit.day(-365) and fixed_on.min == fixed_on.max == kit.day(-365)
    # Each domain's date is kept while another is shown (Streamlit forgets a widget not drawn).
    test.selectbox(key="history_domain").set_value("example.com").run()
    _fixed_on(test).set_value(kit.day(kit.FIX_DAY + 3)).run()
    test.selectbox(key="history_domain").set_value("old.example").run()
    test.selectbox(key="history_domain").set_value("example.com").run()
    assert _fixed_on(test).value == kit.day(kit.FIX_DAY + 3)


def test_a_sender_gone_before_the_last_weeks_gets_a_fix_date_among_its_own_days(app, monkeypatch, tmp_path):
    # A sender seen only in the first five days: a date in the domain's last weeks would compare
    # nothing with nothing. Its fourth day splits its mail: three days before, two after.
    gone = [
        (
            f"gone-{number}.xml",
            report(
                record(dkim=[("gone-esp.example", "pass")], count=5, source_ip="203.0.113.9"),
                begin=kit._epoch(kit.day(number)),
                end=kit._epoch(kit.day(number)) + 86399,
                report_id=f"gone-{number}",
            ),
        )
        for number in range(5)
    ]
    monkeypatch.setenv(STORE_ENV, str(kit.write_history(tmp_path / "gone.duckdb", [*kit.history_files(), *gone])))
    test = app(PAGE)
    test.selectbox(key="history_fix_source").set_value("gone-esp.example").run()
    assert not test.exception
    assert _fixed_on(test).value == kit.day(3)
    (caption,) = [text for text in texts(test.caption) if text.startswith("gone-esp.example: from")]
    assert (
        f"from {kit.day(3)} to {kit.day(3 + queries.FIX_WINDOW_DAYS - 1)}, 10 of 10 messages failed on 2 days reported" in caption
    )
    assert "15 of 15 messages on 3 days" in caption
    # Each sender keeps its own date: another one's, changed, leaves this one's as it was.
    test.selectbox(key="history_fix_source").set_value(test.selectbox(key="history_fix_source").options[0]).run()
    _fixed_on(test).set_value(kit.day(kit.FIX_DAY + 2)).run()
    test.selectbox(key="history_fix_source").set_value("gone-esp.example").run()
    assert _fixed_on(test).value == kit.day(3)


def test_a_sender_with_nothing_to_compare_is_told_so_not_compared_with_nothing(app, monkeypatch, tmp_path):
    def reports_of(signer: str, days: tuple[int, ...]) -> list[tuple[str, bytes]]:
        return [
            (
                f"{signer}-{number}.xml",
                report(
                    record(dkim=[(signer, "pass")], count=4, source_ip="203.0.113.7"),
                    begin=kit._epoch(kit.day(number)),
                    end=kit._epoch(kit.day(number)) + 86399,
                    report_id=f"{signer}-{number}",
                ),
            )
            for number in days
        ]

    files = [*kit.history_files(), *reports_of("once.example", (5,)), *reports_of("apart.example", (0, 40))]
    monkeypatch.setenv(STORE_ENV, str(kit.write_history(tmp_path / "apart.duckdb", files)))
    test = app(PAGE)
    test.selectbox(key="history_fix_source").set_value("once.example").run()
    assert f"once.example was reported on one day only ({kit.day(5)}): there is nothing to compare yet." in texts(test.info)
    assert not [metric for metric in test.metric if metric.label == "Failing messages per day reported"]
    # Six weeks apart: no day has its mail in the two weeks before and from it on.
    test.selectbox(key="history_fix_source").set_value("apart.example").run()
    assert _fixed_on(test).value == kit.day(27)
    assert (
        f"None of apart.example's mail was reported in the 14 days before {kit.day(27)}: there is nothing to compare its "
        f"mail from then on against. Its mail from {kit.day(27)} to {kit.day(40)}, 4 of 4 messages failed on 1 day reported."
    ) in texts(test.info)
    assert not [caption for caption in texts(test.caption) if caption.startswith("apart.example:")]
    _fixed_on(test).set_value(kit.day(1)).run()  # a day after its first: none from then on in two weeks
    assert any(text.startswith("None of apart.example's mail was reported from") for text in texts(test.info))
