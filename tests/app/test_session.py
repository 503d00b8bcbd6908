"""Issue 16, "keep the session's work": uploads and filters outlive a visit to another page and
reruns, in that visitor's session only."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from app.conftest import texts

PAGE = "app_pages/triage.py"
GUIDE = "app_pages/guide.py"
NAMES = ["nice-input.xml.gz", "ikea.com!example.de!1538690400!1538776800.xml", "001.xml"]


def upload_samples(test: AppTest, samples) -> None:
    files = [(name, (samples / "aggregate" / name).read_bytes(), "application/octet-stream") for name in NAMES]
    test.file_uploader(key="uploads").set_value(files).run()
    assert not test.exception, [e.value for e in test.exception]


def away_and_back(test: AppTest) -> None:
    test.switch_page(GUIDE).run()
    assert texts(test.title) == ["Guide: DKIM passes, DMARC fails"]
    test.switch_page(PAGE).run()
    assert not test.exception, [e.value for e in test.exception]


def status_files(test: AppTest) -> list[str]:
    return next(frame.value for frame in test.dataframe if "Status" in frame.value.columns)["File"].tolist()


def metrics(test: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in test.metric}


def kept_notes(test: AppTest) -> list[str]:
    return [text for text in texts(test.info) if "kept from before" in text]


def test_uploaded_reports_are_still_there_after_the_guide(app, samples):
    test = app(PAGE)
    upload_samples(test, samples)
    before = metrics(test)
    assert not kept_notes(test)  # the uploader itself shows them

    away_and_back(test)
    assert test.file_uploader(key="uploads").value in (None, [])  # Streamlit's uploader starts empty again
    assert kept_notes(test) == [f"3 files kept from before: {', '.join(NAMES)}. Dropping files above replaces them."]
    assert status_files(test) == NAMES
    assert metrics(test) == before

    test.run()  # and on any later rerun
    assert status_files(test) == NAMES


def test_clear_forgets_the_kept_reports(app, samples):
    test = app(PAGE)
    upload_samples(test, samples)
    away_and_back(test)
    test.button(key="clear_uploads").click().run()
    assert not kept_notes(test) and not test.metric
    assert any("Drop some here" in text for text in texts(test.info))
    away_and_back(test)
    assert not test.metric


def test_removing_every_file_from_the_uploader_keeps_nothing(app, samples):
    test = app(PAGE)
    upload_samples(test, samples)
    test.file_uploader(key="uploads").clear().run()
    assert not kept_notes(test) and not test.metric
    away_and_back(test)
    assert not kept_notes(test) and not test.metric


def test_new_files_replace_the_kept_ones_and_the_demo_replaces_both(app, samples):
    test = app(PAGE)
    upload_samples(test, samples)
    away_and_back(test)
    name = "002.xml"
    test.file_uploader(key="uploads").upload(name, (samples / "aggregate" / name).read_bytes()).run()
    assert status_files(test) == [name] and not kept_notes(test)
    away_and_back(test)
    assert status_files(test) == [name]
    next(button for button in test.button if button.label == "Try the demo reports").click().run()
    assert not kept_notes(test) and metrics(test)["Reports"] == "6"


def test_filters_are_kept_across_pages(app):
    test = app(PAGE)
    next(button for button in test.button if button.label == "Try the demo reports").click().run()
    total = len(test.session_state["triage_frame"])
    test.text_input(key="filter_search").input("mailchimp").run()
    test.toggle(key="filter_failing").set_value(True).run()
    kept = [caption for caption in texts(test.caption) if caption.startswith("Filters keep")]
    assert kept and not kept[0].endswith(f"{total:,} of {total:,} records.")

    away_and_back(test)
    assert test.text_input(key="filter_search").value == "mailchimp"
    assert test.toggle(key="filter_failing").value is True
    assert [caption for caption in texts(test.caption) if caption.startswith("Filters keep")] == kept

    test.text_input(key="filter_search").input("").run()  # and they still change
    assert test.text_input(key="filter_search").value == ""
    away_and_back(test)
    assert test.text_input(key="filter_search").value == "" and test.toggle(key="filter_failing").value is True


def test_one_visitors_work_is_not_anothers(app, samples):
    first = app(PAGE)
    upload_samples(first, samples)
    second = app(PAGE)
    assert not second.metric and not kept_notes(second)
