"""The Report Triage page through AppTest: uploads, the demo, per-file status, filters, hostile text."""

from __future__ import annotations

import base64
import gzip
import io
import json
import zipfile
from collections import Counter

import numpy as np
import pandas as pd

from app.conftest import readable, texts
from dmarc_core import knowledge
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
    # Two domains: a row each, and in detail the one to act on first, whose legitimate mail is blocked.
    assert frame_with(test, "next_record")["domain"].tolist() == ["news.example.com", "example.com"]
    assert any("root cause 5" in text for text in texts(test.warning))
    assert [code.value for code in test.code] == ["v=DMARC1; p=none; rua=mailto:dmarc-reports@news.example.com"]


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
    assert set(frame_with(test, "explorer_link")["cause"]) == {knowledge().findings["wrong_domain"].title}
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


#: What the triage alone decides, made once per triage.
PER_TRIAGE = ("published_policies", "rollout_readiness", "readiness_table", "receiver_reasons")
#: What the filters decide, made once per filter state (the unfiltered one shared with the triage's).
PER_FILTERS = ("headline", "by_source", "by_cause", "disagreement")


def test_a_filter_change_reads_triages_and_assesses_nothing_again(app, monkeypatch):
    calls = Counter()
    count_calls(monkeypatch, calls, view, "read_files", "triage")
    count_calls(monkeypatch, calls, summary, *PER_TRIAGE, *PER_FILTERS, "for_domains_of")
    once = Counter(read_files=1, triage=1, **dict.fromkeys(PER_TRIAGE, 1))
    test = demo(app)
    # for_domains_of: the readiness and the policies of the filtered records' domains.
    assert calls == once + Counter(**dict.fromkeys(PER_FILTERS, 1), for_domains_of=2)
    test.toggle(key="filter_failing").set_value(True).run()
    test.multiselect(key="filter_causes").set_value(["wrong_domain"]).run()
    per_state = Counter(**dict.fromkeys(PER_FILTERS, 3), for_domains_of=6)  # once per new filter state
    assert calls == once + per_state
    test.multiselect(key="filter_causes").set_value([]).run()  # a state seen before
    test.run()  # a rerun that changes no filter (as when a DNS lookup finishes)
    assert calls == once + per_state and not test.exception


def test_each_chart_is_made_once_per_filter_state(app, monkeypatch):
    calls = Counter()
    count_calls(monkeypatch, calls, summary, "by_cause", "pass_rate_by_day", "failing_by_source_and_day", "by_day")
    test = demo(app)
    for tab in view.CHART_TABS[1:]:
        test.session_state["chart_tab"] = tab
        test.run()
    test.toggle(key="filter_failing").set_value(True).run()  # the open tab's chart alone is made again
    test.session_state["chart_tab"] = view.CHART_TABS[0]
    test.run()
    test.toggle(key="filter_failing").set_value(False).run()
    assert calls == Counter(by_cause=2, pass_rate_by_day=1, failing_by_source_and_day=1, by_day=2)


def test_explorer_links_are_made_once_per_record(app, monkeypatch):
    linked = []
    monkeypatch.setattr(view, "explorer_links", lambda records: linked.extend(records.index) or explorer_links(records))
    test = demo(app)
    shown = len(frame_with(test, "explorer_link"))
    assert len(linked) == shown  # the busiest record of each source row
    test.toggle(key="filter_failing").set_value(True).run()
    assert len(linked) == len(set(linked)) and frame_with(test, "explorer_link")["explorer_link"].str.startswith("./?from=").all()


def plotted(test) -> list[dict]:
    """The traces of the chart on the page (the open tab's alone), their numbers as lists."""
    (chart,) = test.get("plotly_chart")
    return [{name: _numbers(value) for name, value in trace.items()} for trace in json.loads(chart.proto.spec)["data"]]


def _numbers(value):
    """Plotly writes numeric arrays as base64 ("bdata") with their dtype."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).tolist()
    return value


def test_charts_are_drawn_from_aggregates_one_tab_at_a_time(app):
    test = demo(app)
    frame = test.session_state["triage_frame"]
    failing = frame[~frame["dmarc_pass"]]
    # Failing messages by cause: a bar per cause that fails, the aligned mail a figure, not a bar.
    (bars,) = plotted(test)
    findings = knowledge().findings
    # A cause's row where all its records are on it (some "someone else's domain" are on none).
    rows = {}
    for cause in failing["cause"].unique():
        on = frame.loc[frame["cause"] == cause, "table_row"]
        rows[cause] = f" (row {on.iloc[0]})" if on.notna().all() and on.nunique() == 1 else ""
    assert "" in {rows[cause] for cause in rows if findings[cause].table_row}  # the demo has such a cause
    assert set(bars["y"]) == {chart_label(findings[cause].title + row) for cause, row in rows.items()}
    assert sum(bars["x"]) == failing["count"].sum()
    aligned = frame.loc[frame["cause"] == "aligned", "count"].sum()
    aligned_metric = next(metric for metric in test.metric if metric.label.startswith("Aligned"))
    assert aligned_metric.value == f"{aligned:,} of 18,579"
    # Beside the headline's DMARC pass rate (the receiver's verdict, SPF alignment counted), it is
    # another rate, and its help says why.
    assert round(aligned / 18_579, 3) != round(summary.headline(frame).pass_rate, 3)
    # As the help says: the messages whose DKIM was evaluated as pass (the receiver's verdict first).
    evaluated_pass = (frame["reported_dkim"] == "pass") | (frame["reported_dkim"].isna() & frame["dkim_aligned"])
    assert aligned == frame.loc[evaluated_pass, "count"].sum()
    assert "DKIM was evaluated as pass" in aligned_metric.help and "only SPF alignment passes" in aligned_metric.help

    test.session_state["chart_tab"] = "Pass rate per day"
    test.run()
    (chart,) = test.get("plotly_chart")
    spec = json.loads(chart.proto.spec)
    (threshold,) = spec["layout"]["shapes"]  # the rollout plan's 95% line
    assert threshold["y0"] == threshold["y1"] == knowledge().pass_rate_threshold
    days = summary.pass_rate_by_day(frame)
    assert [len(trace["x"]) for trace in spec["data"]] == [len(days)] * 2  # a point per day, all mail and the plan's

    test.session_state["chart_tab"] = "Failing messages per sender"
    test.run()
    per_sender = summary.failing_by_source_and_day(frame)
    assert {trace["name"] for trace in plotted(test)} == set(per_sender["source"])
    assert sum(sum(trace["y"]) for trace in plotted(test)) == failing.loc[failing["begin"].notna(), "count"].sum()

    test.session_state["chart_tab"] = "Disposition per day"
    test.run()
    days = summary.by_day(frame)
    assert {trace["name"] for trace in plotted(test)} == set(days["disposition"])  # a trace per disposition
    assert sum(len(trace["x"]) for trace in plotted(test)) == len(days)  # a bar per day and disposition


def metrics(test) -> dict[str, str]:
    return {metric.label: metric.value for metric in test.metric}


def test_filters_apply_to_the_headline_the_readiness_and_the_charts(app):
    test = demo(app)
    test.selectbox(key="filter_domain").set_value("news.example.com").run()
    frame = test.session_state["triage_frame"]
    news = frame[frame["policy_domain"] == "news.example.com"]
    assert metrics(test)["Messages"] == f"{news['count'].sum():,}"
    # One domain left: no table of domains, its detail alone.
    assert not any("next_record" in frame.value.columns for frame in test.dataframe)
    assert any("news.example.com" in text and "rollout plan" in text for text in texts(test.markdown))
    (bars,) = plotted(test)
    assert sum(bars["x"]) == news.loc[~news["dmarc_pass"], "count"].sum()
    assert set(frame_with(test, "policy_domain")["policy_domain"]) == {"news.example.com"}

    test.selectbox(key="filter_domain").set_value("all").run()
    test.toggle(key="filter_failing").set_value(True).run()
    failing = frame[~frame["dmarc_pass"]]
    assert metrics(test)["Messages"] == metrics(test)["Failing messages"] == f"{failing['count'].sum():,}"
    assert metrics(test)["DMARC pass rate"] == "0.0%"
    test.text_input(key="filter_search").set_value("hubspot").run()  # HubSpot sends for news.example.com alone
    assert not any("next_record" in frame.value.columns for frame in test.dataframe)
    assert [code.value for code in test.code] == ["v=DMARC1; p=none; rua=mailto:dmarc-reports@news.example.com"]


def domains_report(number: int) -> bytes:
    domain = f"domain{number:03}.example"
    records = [record(domain, dkim=[(domain, "pass")], reported_dkim="pass", count=100 + number), record(domain, count=number)]
    return report(*records, domain=domain, report_id=f"r{number}", org_name=f"receiver{number % 3}.example")


def test_many_domains_are_one_compact_table_and_one_detail_at_a_time(app):
    test = app(PAGE)
    test.file_uploader(key="uploads").set_value(
        [(f"{number}.xml", domains_report(number), "text/xml") for number in range(40)]
    ).run()
    assert not test.exception
    table = frame_with(test, "next_record")
    assert len(table) == 40 and table["domain"].iloc[0] == "domain039.example"  # the most messages first
    details = [text for text in texts(test.markdown) if "of the rollout plan" in text]
    assert len(details) == 1 and "domain039.example** publishes p=none" in details[0]
    test.selectbox(key="readiness_domain").set_value("domain007.example").run()
    details = [text for text in texts(test.markdown) if "of the rollout plan" in text]
    assert len(details) == 1 and "domain007.example**" in details[0]
    # The senders table comes before the domains: a row per sender, not a card per domain.
    frames = [frame.value for frame in test.dataframe]
    assert next(i for i, f in enumerate(frames) if "explorer_link" in f) < next(
        i for i, f in enumerate(frames) if "next_record" in f
    )


def test_the_receivers_reasons_and_disagreements_are_a_column_a_filter_and_a_sentence(app):
    forwarded = record(dkim=[("example.com", "fail")], count=6, reasons=["forwarded"], source_ip="192.0.2.9")
    # The receiver says DKIM passed though the one signature it lists failed: its verdict differs.
    differing = record(dkim=[("example.com", "fail")], reported_dkim="pass", count=4, source_ip="192.0.2.7")
    test = app(PAGE)
    test.file_uploader(key="uploads").upload(
        "reasons.xml", report(record(dkim=[("example.com", "pass")], reported_dkim="pass", count=30), forwarded, differing)
    ).run()
    senders = frame_with(test, "explorer_link")
    assert senders.loc[senders["reasons"] != "", ["reasons", "failing"]].values.tolist() == [["Forwarded", 6]]
    assert sorted(senders["disagreeing"]) == [0, 0, 4]
    sentence = next(text for text in texts(test.caption) if "receiver's verdict" in text)
    assert "In 1 of 3 records (4 messages)" in sentence
    test.toggle(key="filter_disagreeing").set_value(True).run()
    assert frame_with(test, "explorer_link")["disagreeing"].tolist() == [4]
    assert metrics(test)["Messages"] == "4"
    test.toggle(key="filter_disagreeing").set_value(False).run()
    assert test.multiselect(key="filter_reasons").options == ["Forwarded"]
    test.multiselect(key="filter_reasons").set_value(["forwarded"]).run()
    assert frame_with(test, "explorer_link")["reasons"].tolist() == ["Forwarded"]


#: Keys a person must never read: the causes', the findings' and the receiver's reasons' (those
#: that are no English word: "forwarded" is one).
KEYS = {
    key
    for key in (*knowledge().causes, *knowledge().findings, *knowledge().reason_titles, *knowledge().sender_kinds)
    if "_" in key
}


def visible_words(test) -> list[str]:
    """Every text on the page, and every shown cell of its tables but the links."""
    words = [*texts(test.markdown), *texts(test.caption), *texts(test.text), *texts(test.warning), *texts(test.success)]
    for frame in test.dataframe:
        shown = frame.value.drop(columns=["explorer_link", "check_link"], errors="ignore")
        # A missing value shows as an empty cell (the browser test reads the cells themselves).
        words += [str(value) for column in shown.columns for value in shown[column].tolist() if not pd.isna(value)]
    return words


def test_titles_not_keys_in_every_table_and_text(app):
    test = demo(app)
    test.session_state["records_open"] = True
    test.run()
    words = visible_words(test)
    raw = {word for word in words for key in KEYS if key in word.split() or word == key}
    assert not raw
    assert not [word for word in words if word in ("None", "nan", "<NA>")]
    assert knowledge().findings["wrong_domain"].title in words


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


def test_one_sender_for_two_domains_is_told_apart_by_the_from_domain_next_to_it(app):
    # A review found four rows named "Unauthenticated addresses" whose one difference, the From:
    # domain, was off screen: with several domains it follows the seven a person acts on.
    spoofer = record(count=3, source_ip="203.0.113.9")
    test = app(PAGE)
    test.file_uploader(key="uploads").upload("com.xml", report(spoofer, report_id="a")).upload(
        "org.xml",
        report(record(count=2, source_ip="203.0.113.8", header_from="example.org"), domain="example.org", report_id="b"),
    ).run()
    element = next(frame for frame in test.dataframe if "explorer_link" in frame.value.columns)
    assert list(element.proto.column_order[:8]) == [
        "source",
        "failing",
        "cause",
        "sender_kind",
        "fix",
        "explorer_link",
        "check_link",
        "header_from",
    ]
    rows = element.value[element.value["source"] == UNAUTHENTICATED]
    assert sorted(rows["header_from"].astype(str)) == ["example.com", "example.org"]


def test_the_senders_say_the_kind_of_each_sender_by_title_after_the_cause(app):
    """Issue 16: own servers, known services, forwarders and unknown sources, after the columns a
    phone shows first (sender, failing, cause)."""
    test = demo(app)
    element = next(frame for frame in test.dataframe if "explorer_link" in frame.value.columns)
    assert list(element.proto.column_order[:4]) == ["source", "failing", "cause", "sender_kind"]
    senders = element.value
    titles = {key: kind.title for key, kind in knowledge().sender_kinds.items()}
    kinds = {
        (source, kind) for source, kind in zip(senders["source"].astype(str), senders["sender_kind"].astype(str), strict=True)
    }
    assert {
        ("Mailchimp", titles["known_service"]),
        ("Amazon SES", titles["known_service"]),
        ("example.com", titles["own"]),
        ("example.org", titles["forwarder"]),  # the mailing list
        (UNAUTHENTICATED, titles["unknown"]),
        (UNAUTHENTICATED, titles["forwarder"]),  # the forwarding server (root cause 2)
    } <= kinds
    assert set(senders["sender_kind"].astype(str)) <= set(titles.values())
    assert senders["failing"].is_monotonic_decreasing  # the failing mail first, as before


def test_a_days_chart_of_a_few_messages_ticks_whole_days_and_whole_messages(app):
    # Left to plotly, one day's bar was a millisecond wide under ticks a fraction of a millisecond
    # apart, and a count of 1 had ticks at 0.5 messages.
    test = app(PAGE)
    test.file_uploader(key="uploads").upload("one-day.xml", report(record(count=1))).run()
    test.session_state["chart_tab"] = "Disposition per day"
    test.run()
    (chart,) = test.get("plotly_chart")
    spec = json.loads(chart.proto.spec)
    layout, (bars,) = spec["layout"], spec["data"]
    assert layout["xaxis"]["dtick"] == 86_400_000 and layout["yaxis"]["dtick"] == 1
    assert bars["width"] >= 0.5 * 86_400_000 and layout["showlegend"]


def test_the_cause_filter_offers_the_causes_the_records_have(app):
    test = app(PAGE)
    test.file_uploader(key="uploads").upload(
        "two-causes.xml",
        report(
            record(dkim=[("example.com", "pass")], reported_dkim="pass", count=4), record(dkim=[("mcsv.net", "pass")], count=2)
        ),
    ).run()
    causes = [cause for cause in knowledge().causes if cause in ("aligned", "wrong_domain")]  # in the knowledge's order
    assert test.multiselect(key="filter_causes").options == [knowledge().findings[cause].title for cause in causes]


def test_many_files_dropped_one_by_one_get_the_zip_hint(app, samples):
    """Each dropped file is an upload request of its own: past ``MANY_FILES`` the page says that one
    .zip uploads at once, and the .zip reads to the same senders."""
    names = sorted(path.name for path in (samples / "aggregate").glob("*.xml"))[: view.MANY_FILES + 1]
    files = [(name, (samples / "aggregate" / name).read_bytes()) for name in names]
    hint = "files were uploaded in a request each"

    test = app(PAGE)
    test.file_uploader(key="uploads").set_value([(name, data, "text/xml") for name, data in files[:-1]]).run()
    assert not test.exception and not any(hint in caption.value for caption in test.caption)
    test.file_uploader(key="uploads").set_value([(name, data, "text/xml") for name, data in files]).run()
    assert any(f"These {len(files)} {hint}" in caption.value for caption in test.caption)
    one_by_one = frame_with(test, "explorer_link")

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as written:
        for name, data in files:
            written.writestr(name, data)
    test = app(PAGE)
    test.file_uploader(key="uploads").set_value([("reports.zip", archive.getvalue(), "application/zip")]).run()
    assert not test.exception and not any(hint in caption.value for caption in test.caption)
    pd.testing.assert_frame_equal(frame_with(test, "explorer_link"), one_by_one)


def test_a_long_tail_of_senders_is_drawn_on_demand(app):
    """Past ``SENDERS_SHOWN`` senders, those with the most failing messages are drawn, and a toggle
    draws them all; the search reaches the others either way."""
    signers = view.SENDERS_SHOWN + 30
    records = [
        record(dkim=[(f"sender{number}.example", "pass")], count=number + 1, source_ip=f"198.51.100.{number % 250}")
        for number in range(signers)
    ]
    test = app(PAGE)
    test.file_uploader(key="uploads").set_value([("tail.xml", report(*records), "text/xml")]).run()
    assert not test.exception
    shown = frame_with(test, "explorer_link")
    assert len(shown) == view.SENDERS_SHOWN
    assert shown["failing"].tolist() == sorted(range(signers - view.SENDERS_SHOWN + 1, signers + 1), reverse=True)
    test.text_input(key="filter_search").set_value("sender0.example").run()
    assert frame_with(test, "explorer_link")["source"].tolist() == ["sender0.example"]
    test.text_input(key="filter_search").set_value("").run()
    test.toggle(key="senders_all").set_value(True).run()
    assert len(frame_with(test, "explorer_link")) == signers


def _places(test) -> list[str]:
    """The kind of element at each place of the page's main column."""
    return [type(element).__name__ + ":" + str(getattr(element, "type", "")) for element in test.main.children.values()]


def test_a_filter_change_keeps_every_element_in_its_place(app, samples):
    # Streamlit knows an element by its place: one that is there on the upload's run alone (the
    # progress bar), or that a filter adds, would move every later element, and the browser would
    # draw them all anew, the charts among them, on the first change after an upload.
    test = app(PAGE)
    files = sorted((samples / "aggregate").glob("*.xml"))[:40]
    test.file_uploader(key="uploads").set_value([(path.name, path.read_bytes(), "text/xml") for path in files]).run()
    assert not test.exception
    after_upload = _places(test)
    test.toggle(key="filter_failing").set_value(True).run()
    assert _places(test) == after_upload
    test.text_input(key="filter_search").set_value("google").run()
    assert _places(test) == after_upload


def test_the_headline_reports_count_those_with_records_once_and_say_so(app):
    """The Files list counts every report read; the headline's Reports, those holding the records
    shown: a report sent twice counts once (RFC 9990: a report_id is unique per report),
    one without a record not at all, and the help says why the two differ."""
    counted = report(record(count=3), report_id="r1")
    test = app(PAGE)
    test.file_uploader(key="uploads").set_value(
        [("a.xml", counted, "text/xml"), ("again.xml", counted, "text/xml"), ("empty.xml", report(report_id="r2"), "text/xml")]
    ).run()
    assert not test.exception
    files = next(frame.value for frame in test.dataframe if "Status" in frame.value.columns)
    assert files["Reports"].sum() == 3
    headline = next(metric for metric in test.metric if metric.label == "Reports")
    assert headline.value == "1"
    assert "(1 record)" in headline.help and "without a record" in headline.help and "came twice" in headline.help
