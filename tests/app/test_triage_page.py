"""The Report Triage page through AppTest: uploads, the demo, per-file status, filters, hostile text."""

from __future__ import annotations

import gzip
import json
from collections import Counter

from app.conftest import readable, texts
from dmarc_core.analysis import summary
from dmarc_core.analysis.summary import UNAUTHENTICATED
from dmarc_core.analysis.triage import explorer_links
from ui import triage_view as view
from ui.text import chart_label

from reportkit import record, report

PAGE = "app_pages/triage.py"


def frame_with(test, column):
    return next(frame.value for frame in test.dataframe if column in frame.value.columns)


def test_empty_state_says_what_to_do(app):
    test = app(PAGE)
    assert any("Drop some here, or try the demo reports" in text for text in texts(test.info))
    assert not test.metric


def test_the_demo_shows_metrics_readiness_and_senders(app):
    test = app(PAGE)
    next(button for button in test.button if button.label == "Try the demo reports").click().run()
    assert not test.exception
    metrics = {metric.label: metric.value for metric in test.metric}
    assert metrics["Messages"] == "18,579" and metrics["Reports"] == "6"
    senders = frame_with(test, "explorer_link")
    assert {"Mailchimp", "Salesforce / Pardot", "HubSpot"} <= set(senders["source"])
    assert senders["explorer_link"].str.startswith("./?from=").all()
    assert any("root cause 5" in text for text in texts(test.warning))
    assert any(code.value.startswith("v=DMARC1; p=none") for code in test.code)


def test_uploads_list_every_file_with_its_status(app, samples):
    test = app(PAGE)
    names = ["nice-input.xml.gz", "plain.txt", "ikea.com!example.de!1538690400!1538776800.xml"]
    test.file_uploader(key="uploads").set_value(
        [(name, (samples / "aggregate" / name).read_bytes(), "application/octet-stream") for name in names]
    ).run()
    assert not test.exception
    status = frame_with(test, "Status")
    assert status["File"].tolist() == names
    assert status["Status"].tolist() == ["✅ read", "⛔ refused", "🛠️ read with repairs"]
    assert "is not XML" in status.loc[1, "Details"]
    assert {metric.label: metric.value for metric in test.metric}["Messages"] == "3,048"


def test_only_refused_files_give_a_clear_error(app, samples):
    test = app(PAGE)
    test.file_uploader(key="uploads").upload("plain.txt", (samples / "aggregate" / "plain.txt").read_bytes()).run()
    assert any("None of these files holds a readable" in text for text in texts(test.error))
    assert not test.exception


def test_filters_narrow_the_senders(app):
    test = app(PAGE)
    next(button for button in test.button if button.label == "Try the demo reports").click().run()
    test.multiselect(key="filter_causes").set_value(["wrong_domain"]).run()
    assert set(frame_with(test, "explorer_link")["cause"]) == {"wrong_domain"}
    test.text_input(key="filter_search").set_value("amazon").run()
    assert frame_with(test, "explorer_link")["source"].tolist() == ["Amazon SES"]
    test.text_input(key="filter_search").set_value("nothing-matches-this").run()
    assert any("No record matches" in text for text in texts(test.info))


def test_hostile_report_text_never_reaches_markdown(app):
    hostile = "<script>alert(1)</script> **bold** [x](http://evil.example) www.evil.example"
    data = gzip.compress(report(record(dkim=[("mcsv.net", "pass")]), org_name=hostile, domain="evil**example.com"))
    test = app(PAGE)
    test.file_uploader(key="uploads").upload("<b>evil</b>.xml.gz", data).run()
    assert not test.exception
    assert frame_with(test, "reported_by").loc[0, "reported_by"] == hostile
    for element in [*test.markdown, *test.caption, *test.warning, *test.success, *test.info]:
        source = element.value
        assert "<script>" not in source and "**bold**" not in source and "](http" not in source
        assert "www.evil" not in source  # escaped, so markdown cannot turn it into a link
    assert any("evil" in readable(element.value) for element in test.markdown)


def demo(app):
    test = app(PAGE)
    next(button for button in test.button if button.label == "Try the demo reports").click().run()
    return test


def count_calls(monkeypatch, calls: Counter, module, *names: str) -> None:
    """Count in ``calls`` the calls of ``module``'s functions ``names`` (the page calls them through the module)."""

    def counted(name, original):
        def call(*args, **kwargs):
            calls[name] += 1
            return original(*args, **kwargs)

        return call

    for name in names:
        monkeypatch.setattr(module, name, counted(name, getattr(module, name)))


def test_a_filter_change_reads_triages_and_assesses_nothing_again(app, monkeypatch):
    calls = Counter()
    count_calls(monkeypatch, calls, view, "read_files", "triage")
    count_calls(monkeypatch, calls, summary, "headline", "published_policies", "rollout_readiness", "by_source")
    test = demo(app)
    assert calls == Counter(read_files=1, triage=1, headline=1, published_policies=1, rollout_readiness=1, by_source=1)
    test.toggle(key="filter_failing").set_value(True).run()
    test.multiselect(key="filter_causes").set_value(["wrong_domain"]).run()
    assert calls["by_source"] == 3  # once per new filter state, and nothing else again
    assert calls - Counter(by_source=3) == Counter(read_files=1, triage=1, headline=1, published_policies=1, rollout_readiness=1)
    test.multiselect(key="filter_causes").set_value([]).run()  # a state seen before
    test.run()  # a rerun that changes no filter (as when a DNS lookup finishes)
    assert calls["by_source"] == 3 and not test.exception


def test_explorer_links_are_made_once_per_record(app, monkeypatch):
    linked = []
    monkeypatch.setattr(view, "explorer_links", lambda records: linked.extend(records.index) or explorer_links(records))
    test = demo(app)
    shown = len(frame_with(test, "explorer_link"))
    assert len(linked) == shown  # the busiest record of each source row
    test.toggle(key="filter_failing").set_value(True).run()
    assert len(linked) == len(set(linked)) and frame_with(test, "explorer_link")["explorer_link"].str.startswith("./?from=").all()


def plotted(test) -> list[dict]:
    """The traces of the chart on the page (the open tab's alone)."""
    (chart,) = test.get("plotly_chart")
    return json.loads(chart.proto.spec)["data"]


def test_charts_are_drawn_from_aggregates_one_tab_at_a_time(app):
    test = demo(app)
    causes = set(frame_with(test, "explorer_link")["cause"])
    (bars,) = plotted(test)
    assert len(bars["y"]) == len(causes)  # a bar per cause, whatever the number of records
    test.session_state["chart_tab"] = "Pass / fail per sender"
    test.run()
    senders = frame_with(test, "explorer_link").groupby("source", observed=True)["messages"].sum()
    traces = plotted(test)
    assert {trace["name"] for trace in traces} == {"pass", "fail"}
    assert {label for trace in traces for label in trace["y"]} == set(map(chart_label, senders.index))
    test.session_state["chart_tab"] = "Disposition over time"
    test.run()
    days = summary.by_day(test.session_state["triage_frame"])
    assert {trace["name"] for trace in plotted(test)} == set(days["disposition"])  # a trace per disposition
    assert sum(len(trace["x"]) for trace in plotted(test)) == len(days)  # a bar per day and disposition


def test_records_are_drawn_only_while_their_expander_is_open(app):
    test = demo(app)
    assert not any("source_ip" in frame.value.columns for frame in test.dataframe)
    test.session_state["records_open"] = True
    test.run()
    kept = next(text for text in texts(test.caption) if text.startswith("Filters keep "))
    assert len(frame_with(test, "source_ip")) == int(kept.split()[2].replace(",", ""))  # all of them: under the 1,000 shown


def test_addresses_nothing_authenticated_are_one_row_of_the_senders(app):
    spoofers = [record(spf=[("example.com", "fail")], count=count, source_ip=f"203.0.113.{count}") for count in range(1, 8)]
    test = app(PAGE)
    test.file_uploader(key="uploads").upload(
        "spoofed.xml", report(record(dkim=[("example.com", "pass")], count=40), *spoofers)
    ).run()
    senders = frame_with(test, "explorer_link")
    spoofing = senders[senders["source"] == UNAUTHENTICATED].iloc[0]
    assert (spoofing["ips"], spoofing["messages"]) == (7, 28)
    assert spoofing["addresses"] == "203.0.113.7, 203.0.113.6, 203.0.113.5 (+4)"
    test.text_input(key="filter_search").set_value("203.0.113.2").run()  # each address stays reachable
    assert frame_with(test, "explorer_link")[["source", "ips", "messages"]].values.tolist() == [[UNAUTHENTICATED, 1, 2]]
