"""Sharing a triage through the Report Triage page (AppTest): the link the page shows opens, in a
session of its own, the same figures and senders; a damaged or newer link says so, never a traceback."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from app.conftest import readable, texts
from dmarc_core.analysis.share import SHARE_PARAM

from conftest import ROOT

PAGE = "app_pages/triage.py"


def demo(app) -> AppTest:
    test = app(PAGE)
    next(button for button in test.button if button.label == "Try the demo reports").click().run()
    return test


def open_share_section(test: AppTest, leave_out: bool = False) -> str:
    """Open "Share this triage" and return the link it shows."""
    test.session_state["share_open"] = True
    test.run()
    if leave_out:
        test.checkbox(key="share_leave_out").check().run()
    assert not test.exception, [e.value for e in test.exception]
    (link,) = [code.value for code in test.code if f"?{SHARE_PARAM}=" in code.value]
    return link


def opened(link: str) -> AppTest:
    """A fresh session opening the link, as a colleague's browser does."""
    test = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    test.query_params[SHARE_PARAM] = link.split(f"?{SHARE_PARAM}=", 1)[1]
    test.switch_page(PAGE).run()
    assert not test.exception, [e.value for e in test.exception]
    return test


def metrics(test: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in test.metric}


def senders(test: AppTest):
    frame = next(frame.value for frame in test.dataframe if "explorer_link" in frame.value.columns)
    columns = ["source", "header_from", "cause", "failing", "messages", "pass_rate", "explorer_link"]
    return frame[columns].reset_index(drop=True).astype(str)  # as shown: the page keeps some as categories


def test_the_link_opens_the_same_figures_and_senders(app):
    test = demo(app)
    link = open_share_section(test)
    assert link.startswith(f"/triage?{SHARE_PARAM}=1.")
    assert any("The link carries" in text and "13 senders" in text for text in texts(test.markdown))
    preview = next(frame.value for frame in test.dataframe if list(frame.value.columns)[:3] == ["source", "header_from", "cause"])
    assert "Signed with someone else's domain" in set(preview["cause"])  # titles, not the rules' keys
    assert "Download as an HTML file" in [button.proto.label for button in test.get("download_button")]

    colleague = opened(link)
    assert metrics(colleague) == metrics(test)  # Messages, pass rate, failing, reports, aligned
    assert senders(colleague).equals(senders(test))
    assert not any(box.label == "Aggregate reports" for box in colleague.get("file_uploader"))  # no reports there
    banner = " ".join(texts(colleague.info))
    assert "Shared triage made on" in banner and "the raw reports are not included" in banner
    assert any("root cause 5" in text for text in texts(colleague.warning))  # the readiness came along


def test_the_filters_travel_with_the_link(app):
    test = demo(app)
    test.toggle(key="filter_failing").set_value(True).run()
    link = open_share_section(test)
    colleague = opened(link)
    assert metrics(colleague)["Messages"] == metrics(test)["Messages"] == "4,344"
    assert senders(colleague).equals(senders(test))
    assert "failing mail only" in " ".join(texts(colleague.info))


def test_leaving_out_addresses_leaves_them_out_of_the_link_and_the_page(app):
    test = demo(app)
    addresses = "198.2.140.17"  # Mailchimp's busiest address in the demo
    assert addresses in " ".join(frame.value.to_csv() for frame in test.dataframe)
    link = open_share_section(test, leave_out=True)
    assert any("no source IPs or host names" in text for text in texts(test.markdown))
    colleague = opened(link)
    shown = " ".join(frame.value.to_csv() for frame in colleague.dataframe) + " ".join(texts(colleague.markdown))
    assert addresses not in shown and "203.0.113." not in shown
    assert metrics(colleague)["Messages"] == "18,579"
    assert "Source IPs and host names were left out." in " ".join(texts(colleague.info))


def test_a_damaged_link_shows_a_message_not_a_traceback(app):
    test = demo(app)
    link = open_share_section(test)
    colleague = opened(link[: len(link) // 2])
    (error,) = colleague.error
    assert "This shared link is damaged" in readable(error.value)
    assert not colleague.metric and not colleague.exception
    assert any(button.label == "Triage your own reports" for button in colleague.button)


def test_a_link_from_a_newer_version_says_so(app):
    colleague = opened(f"/triage?{SHARE_PARAM}=7.eJzLSM3JyQcABiwCFQ")
    (error,) = colleague.error
    assert "made by a newer version of the app (format 7" in readable(error.value)


def test_triage_your_own_reports_leaves_the_shared_view(app):
    test = demo(app)
    colleague = opened(open_share_section(test))
    next(button for button in colleague.button if button.label == "Triage your own reports").click().run()
    assert SHARE_PARAM not in colleague.query_params
    assert any("Drop some here, or try the demo reports" in text for text in texts(colleague.info))
