"""The gates for dynamic text: markdown made inert, chart labels escaped and wrapped."""

from __future__ import annotations

from ui.text import WORD_JOINER, chart_label, chart_text, inert, inert_with_code


def test_markdown_and_link_triggers_are_made_inert():
    assert inert("**bold** [x](http://a.example)") == "\\*\\*bold\\*\\* \\[x\\]\\(http\\:" + WORD_JOINER + "//a\\.example\\)"
    assert WORD_JOINER in inert("www.evil.example") and WORD_JOINER in inert("user@example.com")


def test_a_long_chart_label_is_wrapped_on_spaces_and_each_line_escaped():
    assert chart_label("Signed with someone else's domain (row 1)") == "Signed with someone<br>else's domain (row 1)"
    assert (
        chart_label("<b>x</b> and more words here <a href=y>") == "&lt;b&gt;x&lt;/b&gt; and more<br>words here &lt;a href=y&gt;"
    )


def test_a_name_without_spaces_stays_whole():
    name = "mail-relay.outbound.example-provider.com"
    assert chart_label(name) == name and chart_label("") == ""


def test_backticked_records_stay_code_and_the_prose_around_them_inert():
    text = "Publish `v=DMARC1; p=none; rua=mailto:dmarc@example.com` at _dmarc.example.com."
    assert inert_with_code(text) == "Publish `v=DMARC1; p=none; rua=mailto:dmarc@example.com` at \\_dmarc\\.example\\.com\\."
    assert inert_with_code("an unpaired ` backtick") == inert("an unpaired ` backtick")


def test_icon_and_emoji_shortcodes_are_made_inert():
    # Report text or a link can write :material/...: or :emoji: codes, which Streamlit draws.
    for code in (":material/home:", ":smile:", "a :material/warning: b"):
        assert WORD_JOINER in inert(code)
    assert WORD_JOINER not in inert("mcsv.net:pass,example.com:fail")  # no shortcode here


def test_bidirectional_controls_are_shown_not_obeyed():
    # U+202E in a report's domain would turn the rest of the app's sentence backwards.
    assert inert("example.com\u202e for") == "example\\.com\ufffd for"
    assert chart_text("a\u2066b") == "a\ufffdb"
