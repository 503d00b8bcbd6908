"""Issue 16: where the Explorer and the Domain Check show an internationalised domain, its A-label
(what DNS and reports carry) and its Unicode form stand side by side."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from app.conftest import texts
from dmarc_core import NAMESERVER_ENV

from conftest import ROOT

BOTH = "xn--bcher-kva.example (bücher.example)"


def test_the_explorer_shows_both_forms_of_each_domain(app):
    test = app(**{"from": "user@bücher.example", "dkim": "mail.xn--bcher-kva.example:pass,esp.example:pass"})
    (from_row,) = [text for text in texts(test.markdown) if text.startswith(":material/mail: **From:**")]
    assert "xn--bcher-kva.example**] (bücher.example) ·" in from_row
    assert f"organizational domain **{BOTH}**" in from_row
    signed = [text for text in texts(test.markdown) if "**DKIM d=**" in text]
    assert "mail.:green-background[**xn--bcher-kva.example**] (mail.bücher.example) ·" in signed[0]
    assert ":red-background[**esp.example**] ·" in signed[1]  # an ASCII name: nothing beside it


def test_the_domain_check_names_the_domain_in_both_forms(dns_server, monkeypatch):
    monkeypatch.setenv(NAMESERVER_ENV, dns_server.address)
    test = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    test.query_params["domain"] = "bücher.example"  # a link to /check?domain=bücher.example
    test.switch_page("app_pages/domain_check.py").run()
    assert not test.exception
    assert any(f"No DMARC record applies to {BOTH}" in text for text in texts(test.error))
    assert any(BOTH in text for text in texts(test.markdown))  # the organizational domains
