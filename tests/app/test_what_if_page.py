"""The what-if on the Report Triage page through AppTest: a policy chosen changes the numbers, the
choice goes into the link, and a link's choice comes back."""

from __future__ import annotations

from app.conftest import readable, texts

PAGE = "app_pages/triage.py"


def demo(app, **query):
    """The triage of the demo reports, the link's parameters ``query`` (AppTest drops a page's
    parameters when it switches to it, so they are given after)."""
    test = app(PAGE)
    for name, value in query.items():
        test.query_params[name] = value
    next(button for button in test.button if button.label == "Try the demo reports").click().run()
    assert not test.exception, [e.value for e in test.exception]
    return test


def metrics(test) -> dict[str, str]:
    return {metric.label: metric.value for metric in test.metric}


def sentence(test) -> str:
    return next(text for text in texts(test.markdown) if text.startswith("Under "))


def senders(test):
    return next(frame.value for frame in test.dataframe if "blocked_change" in frame.value.columns)


def test_it_is_drawn_only_once_opened(app):
    test = demo(app)
    assert "What if I publish another policy?" in [expander.label for expander in test.expander]
    assert "Would pass" not in metrics(test)
    test.session_state["what_if_open"] = True
    test.run()
    assert "Would pass" in metrics(test)


def test_choosing_reject_changes_the_numbers_and_the_link(app):
    test = demo(app)
    test.session_state["what_if_open"] = True
    test.run()
    # The demo's latest reports publish p=none for example.com (the domain with the most mail): today's.
    assert test.radio(key="what_if_p").value == "none"
    assert metrics(test)["Would be rejected"] == "0"
    test.radio(key="what_if_p").set_value("reject").run()
    assert not test.exception
    rejected = int(metrics(test)["Would be rejected"].replace(",", ""))
    assert rejected > 0
    assert sentence(test).startswith("Under p=reject: ")
    table = senders(test)
    assert table["rejected"].sum() == rejected
    assert table.set_index("source").loc["Mailchimp", "rejected"] > 0
    # The whole choice goes into the link, sp only when the record would have it.
    assert test.query_params == {"what_if_p": "reject", "what_if_adkim": "r", "what_if_aspf": "r", "what_if_pct": "100"}


def test_a_link_brings_its_choice_back_and_it_round_trips(app):
    chosen = {
        "what_if_p": "reject",
        "what_if_sp": "quarantine",
        "what_if_adkim": "r",
        "what_if_pct": "10",
        "what_if_domain": "news.example.com",
    }
    test = demo(app, **chosen)
    # A link with the what-if's parameters opens it.
    assert "Would pass" in metrics(test)
    assert [test.radio(key=f"what_if_{tag}").value for tag in ("p", "sp", "adkim")] == ["reject", "quarantine", "r"]
    assert test.number_input(key="what_if_pct").value == 10
    assert test.selectbox(key="what_if_domain").value == "news.example.com"
    # news.example.com publishes adkim=s, and HubSpot signs with the parent domain: relaxed, it passes.
    assert senders(test).set_index("source").loc["HubSpot", "passing"] == 236
    assert any(code.value.startswith("v=DMARC1; p=reject; sp=quarantine; pct=10;") for code in test.code)
    assert any("expectations" in readable(caption.value) for caption in test.caption)
    # Changing one value writes the whole choice, which reads back as the same page.
    test.radio(key="what_if_aspf").set_value("s").run()
    written = dict(test.query_params)
    assert written == {**chosen, "what_if_aspf": "s"}
    again = demo(app, **written)
    assert [again.radio(key=f"what_if_{tag}").value for tag in ("p", "sp", "adkim", "aspf")] == ["reject", "quarantine", "r", "s"]
    assert metrics(again) == metrics(test)


def test_a_bad_value_in_the_link_is_said(app):
    test = demo(app, what_if_p="block", what_if_domain="evil.example")
    warnings = texts(test.warning)
    assert any("p=block is not a policy" in text for text in warnings)
    assert any("what_if_domain=evil.example is not a policy domain" in text for text in warnings)
    assert test.radio(key="what_if_p").value == "none"


def test_a_link_opened_before_any_report_says_what_it_waits_for(app):
    test = app(PAGE)
    assert not any("carries a policy to try" in text for text in texts(test.info))
    test.query_params["what_if_p"] = "reject"
    test.run()
    assert any("carries a policy to try" in text for text in texts(test.info))
