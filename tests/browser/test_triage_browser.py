"""Report Triage in a real browser: real reports uploaded together, each file's status, the charts,
the CSV download against the tables, the links from each source row, and hostile report text."""

from __future__ import annotations

import re
from collections import Counter

import pandas as pd
from playwright.sync_api import expect

from browser.conftest import assert_no_exception, open_app, rerun, screenshot, settled, wait_for_app
from browser.helpers import (
    assert_nothing_injected,
    cell_link,
    expect_verdict,
    grid,
    main,
    main_and_window_width,
    markdown_texts,
    marked_row,
    metric,
    query,
    row_count,
    rows,
)
from dmarc_core import knowledge, read_files
from dmarc_core.analysis.summary import UNAUTHENTICATED, reason_text
from ui.triage_view import RECORD_LABELS

from reportkit import record, report

SAMPLES = ["nice-input.xml.gz", "ikea.com!example.de!1538690400!1538776800.xml", "plain.txt", "mimecast-weird-gzip.eml"]
STATUS = ["✅ read", "🛠️ read with repairs", "⛔ refused", "✅ read"]
WIDE = {"width": 2600, "height": 1200}  # every column of the sources table in view


def cause_title(cause: str) -> str:
    return knowledge().findings[cause].title


def upload(page, files) -> None:
    with rerun(page):
        page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(files)


def load_demo(page) -> None:
    with rerun(page):
        page.get_by_role("button", name="Try the demo reports").click()


def test_uploaded_samples_each_get_a_status_a_chart_and_a_csv_that_matches_the_tables(app_url, new_context, samples):
    page = new_context(viewport=WIDE).new_page()
    open_app(page, f"{app_url}/triage")
    upload(page, [samples / "aggregate" / name for name in SAMPLES])
    files = main(page).get_by_test_id("stExpander").filter(has_text="Files:")
    expect(files.locator("summary")).to_have_text(re.compile("Files: 2 read, 1 read with repairs, 1 refused"))
    settled(page)
    assert_no_exception(page)
    files.locator("summary").click()  # closed: the senders come first

    status = rows(grid(page, "Status"))
    assert [row["File"] for row in status] == SAMPLES
    assert [row["Status"] for row in status] == STATUS
    assert "is not XML" in status[2]["Details"]
    assert "before <schema> is closed" in status[1]["Details"]

    # The first chart (messages by cause) is drawn: plotly's SVG with its bars.
    chart = main(page).locator(".js-plotly-plot").first
    expect(chart.locator(".main-svg").first).to_be_visible()
    expect(chart.locator(".barlayer .point").first).to_be_attached()

    button = main(page).get_by_role("button", name=re.compile(r"Download the [\d,]+ triaged records \(CSV\)"))
    records = int(re.search(r"[\d,]+", button.inner_text()).group().replace(",", ""))
    with page.expect_download() as downloading:
        button.click()
    download = downloading.value
    assert download.suggested_filename == "dmarc-triage.csv"
    csv = pd.read_csv(download.path(), dtype=str, keep_default_na=False)
    settled(page)

    # One row per record: the button, the records table and the CSV agree; so do the messages.
    assert len(csv) == records == 22
    assert f"{csv['count'].astype(int).sum():,}" == metric(page, "Messages") == "3,049"
    # A bar per cause of the failing mail (the aligned mail is a figure, not a bar).
    assert csv.loc[csv["dmarc_pass"] == "False", "cause"].nunique() == chart.locator(".barlayer .point").count()
    # Each source row in view carries the messages of its rows in the CSV; addresses nothing
    # authenticated (the CSV's source is the address) are one source.
    source = csv["source"].where(csv["source"] != csv["source_ip"], UNAUTHENTICATED)
    titled = csv.assign(source=source, count=csv["count"].astype(int), cause=csv["cause"].map(cause_title))
    per_source = titled.groupby(["source", "header_from", "cause"])["count"].sum()
    sources = rows(grid(page, "Sender / source"))
    assert sources
    for row in sources:
        assert per_source[(row["Sender / source"], row["From: domain"], row["Cause"])] == int(row["Messages"]), row
    assert sum(int(row["Messages"]) for row in sources) <= per_source.sum()

    with rerun(page):  # the records are drawn once their expander opens
        main(page).get_by_test_id("stExpander").filter(has_text=f"Records ({records})").locator("summary").click()
    table = grid(page, "Source IP")
    assert row_count(table) == len(csv)
    shown = rows(table)
    assert len(shown) >= 5
    assert {"File", "Receiver", "Report ID", "Source IP", "Messages", "From: domain"} <= set(shown[0])
    names = {label: name for name, label in RECORD_LABELS.items()}
    in_words = {"cause": cause_title, "finding": lambda key: knowledge().findings[key].title, "reason": reason_text}
    for index, row in enumerate(shown):  # every cell in view is the CSV's, row for row, keys in words
        cells = {label: (names.get(label, label), csv.loc[index, names.get(label, label)]) for label in row}
        assert row == {label: in_words.get(name, str)(value) for label, (name, value) in cells.items()}, index
    screenshot(page, "triage-samples")


def test_each_source_row_links_to_its_explorer_case_and_domain_check(app_url, new_context):
    context = new_context(viewport=WIDE)
    page = context.new_page()
    open_app(page, f"{app_url}/triage")
    load_demo(page)
    sources = grid(page, "Sender / source")
    shown = rows(sources)
    mailchimp = next(index for index, row in enumerate(shown) if row["Sender / source"] == "Mailchimp")
    assert shown[mailchimp]["Cause"] == cause_title("wrong_domain") and shown[mailchimp]["Table row"] == "1"

    link = cell_link(page, sources, mailchimp, "Explain")
    href = link.get_attribute("href")
    assert href == shown[mailchimp]["Explain"]
    with context.expect_page() as opening:
        link.click()
    explorer = opening.value
    wait_for_app(explorer)
    assert_no_exception(explorer)
    assert query(explorer.url) == query(href)
    assert query(explorer.url)["from"] == "example.com"
    expect_verdict(explorer, "DMARC fail")
    assert marked_row(explorer) == 1
    expect(main(explorer)).to_contain_text("Mailchimp")
    explorer.close()

    page.keyboard.press("Escape")  # close the overlay
    hubspot = next(index for index, row in enumerate(shown) if row["Sender / source"] == "HubSpot")
    link = cell_link(page, sources, hubspot, "DNS")
    assert link.get_attribute("href") == shown[hubspot]["DNS"] == "./check?domain=news.example.com"
    with context.expect_page() as opening:
        link.click()
    check = opening.value
    wait_for_app(check)
    assert_no_exception(check)
    assert check.url == f"{app_url}/check?domain=news.example.com"
    expect(main(check).get_by_role("heading", level=1)).to_have_text("Domain Check")
    expect(check.get_by_role("textbox", name="Domain", exact=True)).to_have_value("news.example.com")
    expect(main(check).get_by_role("heading", name="DMARC record found at _dmarc.example.com")).to_be_visible()


SCRIPT = "<script>alert(1)</script>"
IMAGE = "<img src=x onerror=alert(2)>"
MARKDOWN = "**bold** [x](http://evil.example) www.evil.example"
PLOTLY_LINK = '<a href="http://evil.example/chart">click</a>'  # plotly reads a subset of HTML in labels
HOSTILE = f"{SCRIPT} {IMAGE} {MARKDOWN} {PLOTLY_LINK}"


def hostile_report() -> bytes:
    return report(
        record(
            header_from=f"{SCRIPT}.example.com",
            dkim=[(f"{IMAGE}.example", "pass"), ("mcsv.net", "pass")],
            spf=[("www.evil.example", "pass")],
            reasons=["forwarded", "local_policy"],
            comments=[HOSTILE, PLOTLY_LINK],
            disposition="quarantine",
            count=7,
        ),
        record(header_from="example.com", dkim=[("[x](http://evil.example)", "fail")], source_ip=IMAGE, count=3),
        record(header_from="example.com", source_ip=PLOTLY_LINK, disposition=PLOTLY_LINK, count=2),
        org_name=HOSTILE,
        domain=MARKDOWN,
        report_id=HOSTILE,
    )


def test_hostile_report_text_shows_as_plain_text(app_url, page, diagnostics):
    open_app(page, f"{app_url}/triage")
    upload(page, [{"name": f"{IMAGE}.xml", "mimeType": "text/xml", "buffer": hostile_report()}])
    expect(main(page).get_by_test_id("stMetricValue").first).to_be_visible()
    chart_texts = []
    for tab in ("Failing messages per sender", "Disposition per day", "Pass rate per day", "Failing messages by cause"):
        with rerun(page):  # a tab's chart is drawn when the tab opens
            page.get_by_role("tab", name=tab).click()
        chart = main(page).locator(".js-plotly-plot")
        expect(chart.locator(".barlayer .point, .scatterlayer .point").first).to_be_attached()
        chart_texts += chart.locator("text").all_text_contents()
        assert_nothing_injected(page, diagnostics)
    with rerun(page):
        main(page).get_by_test_id("stExpander").filter(has_text="Records (3)").locator("summary").click()
    assert_no_exception(page)

    # The text is there, as text: in markdown (the readiness box), in dataframes and in the charts.
    assert any(MARKDOWN in text for text in markdown_texts(page))
    assert rows(grid(page, "Reported by"))[0]["Reported by"] == HOSTILE
    assert PLOTLY_LINK in chart_texts  # the disposition, in the legend

    assert_nothing_injected(page, diagnostics)
    screenshot(page, "triage-hostile")


PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
#: What a person acts on, in the senders table's first columns (the issue: off-screen at 1400 px).
KEY_COLUMNS = ["Sender / source", "Failing", "Cause", "Kind", "What to do", "Explain", "DNS"]


def headers_in_view(frame) -> list[str]:
    """The grid's column headers drawn in view, left to right (the grid draws only those)."""
    return frame.locator("table[role=grid] thead th").all_text_contents()


def a_month_of_reports(samples) -> list:
    """The real aggregate samples of their busiest calendar month, as a mailbox collects them:
    many receivers, many domains."""
    paths = sorted(path for path in (samples / "aggregate").iterdir() if path.is_file())
    outcomes = read_files([(path.name, path.read_bytes()) for path in paths])
    months = [
        {pd.Timestamp(report.metadata.begin).strftime("%Y-%m") for report in outcome.reports if report.metadata.begin}
        for outcome in outcomes
    ]
    busiest = Counter(month for found in months for month in found).most_common(1)[0][0]
    return [path for path, found in zip(paths, months, strict=True) if found == {busiest}]


def test_a_month_of_real_reports_reads_act_first_at_1400_px(app_url, new_context, samples):
    page = new_context(viewport={"width": 1400, "height": 1000}).new_page()
    open_app(page, f"{app_url}/triage")
    files = a_month_of_reports(samples)
    assert len(files) >= 60
    upload(page, files)
    assert_no_exception(page)
    main_width, window_width = main_and_window_width(page)
    assert main_width <= window_width + 1
    senders = grid(page, "Sender / source")
    in_view = headers_in_view(senders)
    # Every key column whole, in view without scrolling sideways: the column after them shows too.
    assert in_view[: len(KEY_COLUMNS)] == KEY_COLUMNS and len(in_view) > len(KEY_COLUMNS), in_view
    # Reports of several From: domains: that column next, so a sender's rows per domain tell apart.
    assert in_view[len(KEY_COLUMNS)] == "From: domain", in_view
    shown = rows(senders)
    failing = [int(row["Failing"].replace(",", "")) for row in shown]
    assert failing == sorted(failing, reverse=True) and failing[0] > 0  # the most failing messages first
    # Causes and reasons by their titles; no key, no "None" in a cell.
    for row in shown:
        assert "_" not in row["Cause"] and "None" not in row.values(), row
    # Hundreds of domains: one table, one detail; the senders come first, not 51,000 px down.
    domains = grid(page, "Next record")
    assert row_count(domains) > 50
    assert senders.bounding_box()["y"] < domains.bounding_box()["y"]
    details = [text for text in markdown_texts(page) if "of the rollout plan" in text]
    assert len(details) == 1
    captions = [text.replace("\u2060", "") for text in main(page).get_by_test_id("stCaptionContainer").all_inner_texts()]
    assert any(knowledge().reasons_note in text for text in captions)  # beside the reasons column
    screenshot(page, "triage-month-1400")


def test_the_key_columns_come_first_on_a_phone(app_url, new_context):
    page = new_context(**PHONE).new_page()
    open_app(page, f"{app_url}/triage")
    load_demo(page)
    assert_no_exception(page)
    main_width, window_width = main_and_window_width(page)
    assert main_width <= window_width + 1
    in_view = headers_in_view(grid(page, "Sender / source"))
    assert in_view[:3] == KEY_COLUMNS[:3], in_view
    screenshot(page, "triage-phone-390")


def test_a_cause_chosen_and_removed_by_its_tag_filters_and_unfilters(app_url, new_context):
    # The filters share a row: a squeezed multiselect shrank a chosen cause to a sliver whose
    # remove button took clicks and did nothing.
    page = new_context(viewport={"width": 1400, "height": 1000}).new_page()
    open_app(page, f"{app_url}/triage")
    load_demo(page)
    everything = metric(page, "Messages")
    failing_only = main(page).get_by_text("Failing only", exact=True)
    for _ in range(2):  # on and off, as a person tries the filters in turn
        with rerun(page):
            failing_only.click()
    causes = main(page).get_by_test_id("stMultiSelect").filter(has_text="Causes")
    causes.locator("input").click()
    title = cause_title("wrong_domain")
    with rerun(page):
        page.get_by_role("option", name=title).click()
        page.keyboard.press("Escape")
    filtered = metric(page, "Messages")
    assert filtered != everything
    expect(causes.get_by_text(title, exact=True)).to_be_visible()  # the chosen cause reads whole
    with rerun(page):
        causes.get_by_role("button", name=f"Remove {title}").click()
    assert metric(page, "Messages") == everything
    assert_no_exception(page)
