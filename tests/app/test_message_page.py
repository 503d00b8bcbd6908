"""The Message Check page through AppTest: a pasted message, its verdict, the signatures table,
the DNS lookups on request, a failure report handed over from the triage, and refusals."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from app.conftest import headline, texts
from dmarc_core import NAMESERVER_ENV

from conftest import ROOT
from mailzone import ORIGINAL, delivered
from message.kit import sign

PAGE = "app_pages/message.py"


@pytest.fixture
def message_page(monkeypatch, mail_dns):
    monkeypatch.setenv(NAMESERVER_ENV, mail_dns.server.address)

    def open_page() -> AppTest:
        test = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
        test.switch_page(PAGE).run()
        assert not test.exception, [e.value for e in test.exception]
        return test

    return open_page


def table(test: AppTest, column: str):
    return next(frame.value for frame in test.dataframe if column in frame.value.columns)


def test_an_empty_page_says_what_to_paste(message_page):
    test = message_page()
    assert "Paste a message's headers" in texts(test.info)[0]
    assert any("Nothing is stored" in caption for caption in texts(test.caption))


def test_pasted_headers_offline_use_what_the_receiver_recorded(message_page, mail_dns):
    results = (
        "dkim=pass header.d=sendgrid.net header.s=s1; spf=pass smtp.mailfrom=sendgrid.net; dmarc=fail header.from=example.com"
    )
    signed = sign(ORIGINAL, "sendgrid.net", "s1", mail_dns.keys["esp"])
    pasted = delivered(signed, "198.51.100.7", "bounces@sendgrid.net", results).decode().replace("\r\n", "\n")
    test = message_page()
    test.text_area(key="message_text").input(pasted).run()
    assert not test.exception
    assert headline(test) == "DMARC fail"
    signatures = table(test, "Status")
    assert signatures[["d=", "Result", "Established", "Aligned with From:"]].values.tolist() == [
        ["sendgrid.net", "pass", "as the receiver recorded", "no"]
    ]
    assert any("Root cause 1" in text for text in texts(test.markdown))
    link = next(text for text in texts(test.markdown) if "Open this case in the Alignment Explorer" in text)
    assert "from=example.com" in link and "dkim=sendgrid.net:pass" in link
    assert "alice" not in link and "Invoice" not in link  # identifiers only, nothing personal


def test_the_lookup_verifies_every_signature(message_page, mail_dns):
    forwarded = sign(ORIGINAL, "example.com", "s1", mail_dns.keys["example"]) + b"-- \r\nforwarded by a relay\r\n"
    test = message_page()
    test.text_area(key="message_text").input(delivered(forwarded, "203.0.113.99", "alice@example.com").decode()).run()
    assert "Not known yet" in texts(test.warning)[0]
    test.toggle(key="message_lookup").set_value(True).run()
    assert not test.exception
    assert headline(test) == "DMARC fail"
    signatures = table(test, "Status")
    assert signatures[["d=", "Status", "Result", "Established"]].values.tolist() == [
        ["example.com", "body changed after signing", "fail", "verified here"]
    ]
    assert any("Root cause 2" in text for text in texts(test.markdown))


def test_a_failure_report_from_the_triage_opens_here(message_page, samples):
    test = message_page()
    data = (samples / "forensic" / "arf-18.eml").read_bytes()
    test.session_state["message_to_check"] = ("arf-18.eml", data)
    test.run()
    assert not test.exception
    assert any("arf-18.eml, opened from the Report Triage" in caption for caption in texts(test.caption))
    fields = table(test, "Field")
    assert "auth-failure" in fields["Value"].tolist()


def test_text_that_is_not_a_message_is_refused_with_a_reason(message_page):
    test = message_page()
    test.text_area(key="message_text").input("Why does my mail fail DMARC?").run()
    assert not test.exception
    assert "This cannot be checked as a message." in texts(test.error)[0]
