"""The History page in Chromium, on a server started with DMARC_STORE: the pass rate per day
against the 95% line, and "did my fix work?" for a sender fixed on a given day."""

from __future__ import annotations

import historykit as kit
import pytest
from playwright.sync_api import expect

from dmarc_core.history.ingest import ingest_files
from dmarc_core.history.store import STORE_ENV, Store
from ui.history_view import FOLLOW_SECONDS

from .conftest import assert_no_exception, open_app, rerun, screenshot, start_server, stop_server
from .helpers import grid, main, metric, rows
from reportkit import report


@pytest.fixture
def history_url(tmp_path, dns_server, diagnostics):
    store = kit.write_history(tmp_path / "history.duckdb")
    server = start_server(tmp_path / "history-server.log", dns_server.address, {STORE_ENV: str(store)})
    diagnostics.servers.append((server, 0))
    yield f"{server.url}/history"
    stop_server(server)


def _figure(chart) -> dict:
    """A drawn plotly chart's traces (as plotly decoded them: the figure sends typed arrays) and shapes."""
    return chart.evaluate(
        """plot => ({traces: plot._fullData.map(trace => ({name: trace.name, y: Array.from(trace.y)})),
                      shapes: (plot.layout.shapes || []).map(shape => ({x0: shape.x0, y0: shape.y0, type: shape.type}))})"""
    )


def test_history_page_pass_rate_and_a_fix(history_url, page):
    open_app(page, history_url)
    assert_no_exception(page)
    receivers = len(kit.RECEIVERS)
    assert metric(page, "Reports") == f"{kit.DAYS * receivers}"

    # The pass rate per day: a point per day, the 95% line of the rollout plan.
    charts = main(page).locator(".js-plotly-plot")
    expect(charts.first.locator(".scatterlayer .point").first).to_be_attached()
    figure = _figure(charts.first)
    everything = next(trace for trace in figure["traces"] if trace["name"] == "All messages")
    assert len(everything["y"]) == kit.DAYS
    assert any(shape["y0"] == 0.95 for shape in figure["shapes"])
    before_fix = (kit.OWN_MESSAGES + kit.ESP_MESSAGES - kit.ESP_FAILING_BEFORE_FIX) / (kit.OWN_MESSAGES + kit.ESP_MESSAGES + 1)
    assert everything["y"][0] == pytest.approx(before_fix)

    # The senders over the weeks: the one with the most failing messages first.
    senders = rows(grid(page, "Pass rate per week"))
    assert senders[0]["Failing"] == f"{kit.ESP_FAILING_BEFORE_FIX * receivers * kit.FIX_DAY:,}"
    esp = senders[0]["Sender / source"]

    # Did my fix work? The sender, the day: before and after, and a line at the day.
    # The picker starts at the sender with the most failing messages, on the day that splits its
    # days reported evenly: here the day it was fixed.
    expect(main(page).get_by_role("combobox", name="Sender or source")).to_have_value(esp)
    fixed_on = kit.day(kit.FIX_DAY)
    day_field = main(page).get_by_role("spinbutton", name="day, Fixed on")
    assert main(page).get_by_role("spinbutton", name="month, Fixed on").get_attribute("aria-valuenow") == str(fixed_on.month)
    assert day_field.get_attribute("aria-valuenow") == str(fixed_on.day)
    for day in (fixed_on.day + 1, fixed_on.day):  # another day, then back: typed as a person types, then left
        with rerun(page):
            day_field.click()
            page.keyboard.type(f"{day:02d}")
            main(page).get_by_role("heading", name="Did my fix work?").click()  # the field commits its date when left
        expect(day_field).to_have_attribute("aria-valuenow", str(day))
    assert_no_exception(page)
    rates = main(page).get_by_test_id("stMetric").filter(has_text="DMARC pass rate")
    expect(rates.nth(1).get_by_test_id("stMetricValue")).to_have_text("100.0%")
    expect(rates.nth(1).get_by_test_id("stMetricDelta")).to_contain_text(f"{kit.ESP_FAILING_BEFORE_FIX / kit.ESP_MESSAGES:.1%}")
    fix_chart = _figure(charts.nth(1))
    marked = [shape for shape in fix_chart["shapes"] if shape["type"] == "line" and shape["y0"] == 0]
    assert marked, fix_chart["shapes"]
    sender_days = next(trace for trace in fix_chart["traces"] if trace["name"] == "All messages")["y"]
    assert sender_days[kit.FIX_DAY - 1] == pytest.approx(1 - kit.ESP_FAILING_BEFORE_FIX / kit.ESP_MESSAGES)
    assert sender_days[kit.FIX_DAY] == 1.0
    path = screenshot(page, "history")
    assert path.exists()


def test_an_open_page_follows_the_reports_an_ingest_adds(history_url, page, tmp_path):
    """As with ``fetch --watch`` running: reports added while the page is open are drawn without a click."""
    open_app(page, history_url)
    reports = kit.DAYS * len(kit.RECEIVERS)
    assert metric(page, "Reports") == f"{reports}"
    last = kit.day(kit.DAYS - 1)
    late = report(*kit.day_records(kit.DAYS - 1), p="quarantine", pct=10, begin=kit._epoch(last), end=kit._epoch(last) + 86399,
                  org_name="receiver-c.example", report_id="receiver-c")  # fmt: skip
    with Store(tmp_path / "history.duckdb") as store:
        ingest_files(store, [("receiver-c.xml", late)])
    value = main(page).get_by_test_id("stMetric").filter(has_text="Reports").get_by_test_id("stMetricValue")
    expect(value).to_have_text(f"{reports + 1}", timeout=3 * FOLLOW_SECONDS * 1000)
    assert_no_exception(page)
