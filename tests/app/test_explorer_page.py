"""The Alignment Explorer through AppTest: inputs in, verdict and table row out, links in both directions."""

from __future__ import annotations

from app.conftest import headline, marked_row, texts


def test_empty_state_says_what_to_do(app):
    test = app()
    assert any("Type the From: domain" in text for text in texts(test.info))
    assert headline(test) == ""


def test_the_articles_example_relaxed_pass_strict_fail(app):
    test = app()
    test.text_input(key="from_domain").set_value("user@example.com")
    test.text_input(key="dkim_domain_0").set_value("mail.example.com").run()
    assert headline(test) == "DMARC pass"
    assert marked_row(test) is None
    test.radio(key="adkim").set_value("s").run()
    assert headline(test) == "DMARC fail"
    assert marked_row(test) == 3
    assert any("adkim=s requires them to be identical" in text for text in texts(test.markdown) + texts(test.caption))


def test_esp_signing_with_its_own_domain_is_row_1(app):
    test = app()
    test.text_input(key="from_domain").set_value("user@example.com")
    test.text_input(key="dkim_domain_0").set_value("mailchimp.com").run()
    assert headline(test) == "DMARC fail"
    assert marked_row(test) == 1
    page_text = " ".join(texts(test.markdown))
    assert "Root cause 1" in page_text
    # The fix ends with where Mailchimp turns on signing with your domain.
    assert "At Mailchimp: Settings → Domains → Authenticate Domain" in " ".join(texts(test.info))


def test_a_link_fills_the_inputs_and_shows_the_verdict(app):
    test = app(**{"from": "user@example.com", "dkim": "mcsv.net:pass,example.com:fail", "spf": "example.com:pass", "aspf": "s"})
    assert test.text_input(key="from_domain").value == "user@example.com"
    assert test.text_input(key="dkim_domain_1").value == "example.com"
    assert test.selectbox(key="dkim_result_1").value == "fail"
    assert test.text_input(key="spf_domain").value == "example.com"
    assert test.radio(key="aspf").value == "s"
    assert headline(test) == "DMARC pass"  # SPF example.com passes and aligns strictly
    assert marked_row(test) == 2  # yet DKIM alone says: your signature failed
    assert any("DMARC passes on SPF alone" in text for text in texts(test.warning))


def test_changing_inputs_rewrites_the_url(app):
    test = app(**{"from": "user@example.com", "dkim": "mail.example.com:pass"})
    test.radio(key="adkim").set_value("s").run()
    assert test.query_params["adkim"] == "s"
    assert test.query_params["dkim"] == "mail.example.com:pass"
    test.text_input(key="spf_domain").set_value("example.com").run()
    assert test.query_params["spf"] == "example.com:pass"


def test_presets_fill_the_inputs(app):
    test = app()
    test.button(key="preset_strict_subdomain").click().run()
    assert test.text_input(key="from_domain").value == "noreply@mail.example.com"
    assert test.radio(key="adkim").value == "s"
    assert (headline(test), marked_row(test)) == ("DMARC fail", 3)
    test.button(key="preset_several_signatures").click().run()
    assert test.text_input(key="dkim_domain_1").value == "example.com"
    assert (headline(test), marked_row(test)) == ("DMARC fail", 5)


def test_signatures_can_be_added_and_removed(app):
    test = app(**{"from": "example.com", "dkim": "mcsv.net:pass"})
    assert headline(test) == "DMARC fail"
    add = next(button for button in test.button if button.label == "Add a signature")
    add.click().run()
    test.text_input(key="dkim_domain_1").set_value("example.com").run()
    assert headline(test) == "DMARC pass"
    test.button(key="remove_1").click().run()
    assert headline(test) == "DMARC fail"
    assert test.query_params["dkim"] == "mcsv.net:pass"


def test_a_link_with_bad_values_shows_messages_not_a_traceback(app):
    test = app(**{"from": "exa mple.com", "dkim": "example.com:maybe", "adkim": "x"})
    warnings = " ".join(texts(test.warning))
    assert "example.com:maybe" in warnings and "adkim=x" in warnings
    assert any("contains a space" in text for text in texts(test.error))
    assert not test.exception


def test_a_triage_link_reproduces_the_receivers_verdict_and_reasons(app):
    # SPF passes and aligns as given, but the receiver reported spf=fail and a forwarding reason:
    # the Explorer follows the receiver, says so, and shows the cause the triage gave.
    test = app(
        **{
            "from": "example.com",
            "dkim": "example.com:fail",
            "spf": "example.com:pass",
            "reported_dkim": "fail",
            "reported_spf": "fail",
            "reason": "forwarded",
        }
    )
    assert test.selectbox(key="reported_spf").value == "fail" and test.multiselect(key="reasons").value == ["forwarded"]
    assert headline(test) == "DMARC fail"
    page = " ".join(texts(test.markdown) + texts(test.error))
    assert "the receiver evaluated SPF as fail" in page and "with the reason forwarded" in page
    assert marked_row(test) == 2


def test_a_link_with_more_signatures_than_inputs_fills_as_many_as_it_keeps(app):
    test = app(**{"from": "example.com", "dkim": ",".join(f"d{n}.example:pass" for n in range(12))})
    assert test.text_input(key="dkim_domain_9").value == "d9.example"
    assert any("the first 10 were kept" in text for text in texts(test.warning))
