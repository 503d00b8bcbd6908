"""Issue 12: failure reports dropped on the Report Triage are no longer refused: they are listed as
failure samples, each opening in the message check."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from app.conftest import texts
from ui.triage_view import STATUS_LABELS

PAGE = "app_pages/triage.py"


def upload(test: AppTest, files: list[tuple[str, bytes]]) -> AppTest:
    test.file_uploader(key="uploads").set_value([(name, data, "application/octet-stream") for name, data in files]).run()
    assert not test.exception, [e.value for e in test.exception]
    return test


def sample(samples, name: str) -> tuple[str, bytes]:
    return name, (samples / "forensic" / name).read_bytes()


def test_failure_reports_are_listed_beside_the_triage_of_aggregate_reports(app, samples):
    nice = ("nice-input.xml.gz", (samples / "aggregate" / "nice-input.xml.gz").read_bytes())
    test = upload(app(PAGE), [nice, sample(samples, "arf-18.eml"), sample(samples, "001.eml")])
    status = next(frame.value for frame in test.dataframe if "Status" in frame.value.columns)
    assert status["Status"].tolist() == ["✅ read", "📨 failure report: open it in the message check", "⛔ refused"]
    assert "Feedback-Type: abuse" in status.loc[2, "Details"]  # an abuse report stays refused
    assert test.expander[0].label == "Files: 1 read, 0 read with repairs, 1 refused, 1 failure report"
    assert "Failure samples" in texts(test.subheader)
    assert any("one message that a receiver found failing DMARC" in text for text in texts(test.markdown))
    # arf-18.eml's own fields, as the file says them.
    assert [text.value for text in test.text][:5] == [
        "arf-18.eml",
        "example.net",
        "192.0.2.222",
        "Thu, 29 Apr 2015 23:34:45 +0000",
        "auth-failure",
    ]
    assert [button.label for button in test.button].count("Open in the message check") == 1
    # The aggregate report is triaged as before.
    assert {metric.label: metric.value for metric in test.metric}["Messages"] == "3,047"


def test_only_failure_reports_say_there_is_nothing_to_triage_without_an_error(app, samples):
    names = ["arf-19.eml", "[Netease DMARC Failure Report] Rent Reminder.eml"]
    test = upload(app(PAGE), [sample(samples, name) for name in names])
    assert not test.error
    assert any("No aggregate report among these files" in text for text in texts(test.info))
    assert [button.label for button in test.button].count("Open in the message check") == 2
    shown = [text.value for text in test.text]
    assert {"203.0.113.2", "167.89.69.24", "cardinal.com"} <= set(shown)


def test_no_failure_samples_section_without_failure_reports(app):
    test = app(PAGE)
    next(button for button in test.button if button.label == "Try the demo reports").click().run()
    assert "Failure samples" not in texts(test.subheader)
    assert all(not label.endswith("failure report") for label in (expander.label for expander in test.expander))


def test_the_button_opens_the_sample_in_the_message_check(app, samples):
    test = upload(app(PAGE), [sample(samples, "arf-20.eml"), sample(samples, "arf-18.eml")])
    buttons = [button for button in test.button if button.label == "Open in the message check"]
    buttons[1].click().run()  # the second sample: arf-18.eml
    assert not test.exception, [e.value for e in test.exception]
    assert texts(test.title) == ["Message Check"]
    # The message check took the message handed over (the key is gone) and says which one it checks.
    assert "message_to_check" not in test.session_state
    assert any("arf-18.eml" in text for text in texts(test.caption))


def test_the_handed_over_message_is_taken_once():
    def page():
        import streamlit as st

        from ui.session import MESSAGE_TO_CHECK, take_message_to_check

        if st.button("hand over"):
            st.session_state[MESSAGE_TO_CHECK] = ("ruf.eml", b"Feedback-Type: auth-failure")
        st.text(repr(take_message_to_check()))

    test = AppTest.from_function(page, default_timeout=30)
    test.run()
    assert test.text[0].value == "None"
    test.button[0].click().run()
    assert test.text[0].value == repr(("ruf.eml", b"Feedback-Type: auth-failure"))
    test.run()
    assert test.text[0].value == "None"


def test_hostile_failure_report_fields_are_shown_only_as_text(app, samples):
    hostile = "**bold** <script>alert(1)</script> [x](http://evil.example)"
    data = (
        (samples / "forensic" / "arf-18.eml")
        .read_bytes()
        .replace(b"Reported-Domain: example.net", b"Reported-Domain: " + hostile.encode())
    )
    test = upload(app(PAGE), [("[x](http://evil.example).eml", data)])
    assert hostile in [text.value for text in test.text]
    for element in [*test.markdown, *test.caption, *test.info, *test.subheader]:
        assert "<script>" not in element.value and "**bold**" not in element.value and "](http" not in element.value


def test_every_status_has_a_label():
    from dmarc_core.reports.model import FileStatus

    assert set(STATUS_LABELS) == set(FileStatus.__args__)
