"""The Report Triage page through AppTest: uploads, the demo, per-file status, filters, hostile text."""

from __future__ import annotations

import gzip

from app.conftest import readable, texts

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
