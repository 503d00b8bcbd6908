"""Issue 16: an internationalised domain in both forms, A-label (as DNS and reports write it) and
Unicode (as people read it); labels that are not valid IDNA2008 stay as they are. The pairs can be
checked with any IDNA tool (`idn2`, Python's `encodings.idna`)."""

from __future__ import annotations

import pytest

from dmarc_core.rules.domains import display_domain, normalize_domain, unicode_form


@pytest.mark.parametrize(
    ("a_label", "unicode"),
    [
        ("xn--bcher-kva.example", "bücher.example"),
        ("mail.xn--mnchen-3ya.de", "mail.münchen.de"),
        ("xn--bcher-kva.xn--p1ai", "bücher.рф"),
        ("_dmarc.xn--bcher-kva.example", "_dmarc.bücher.example"),  # a DMARC record's name
        ("XN--BCHER-KVA.example", "bücher.example"),  # the xn-- prefix in capitals, as some senders write it
    ],
)
def test_an_a_label_name_shows_its_unicode_form_beside_it(a_label, unicode):
    assert unicode_form(a_label) == unicode
    assert display_domain(a_label) == f"{a_label} ({unicode})"


def test_the_two_forms_are_the_same_name():
    """What the app shows beside a name turns back into that name."""
    for name in ("xn--bcher-kva.example", "mail.xn--mnchen-3ya.de", "xn--bcher-kva.xn--p1ai"):
        assert normalize_domain(unicode_form(name)) == name


@pytest.mark.parametrize(
    "name",
    [
        "example.com",
        "Example.COM",  # no A-label: nothing to add, not even the lower-case form
        "mail.example.com.",
        "xn--ls8h.la",  # an emoji: not a valid IDNA2008 label
        "xn--zz.example",  # not Punycode that decodes
        "xn--.example",
        "",
    ],
)
def test_other_names_and_bad_a_labels_are_shown_as_they_are(name):
    assert display_domain(name) == name


def test_a_bad_a_label_does_not_hide_the_good_one_beside_it():
    assert display_domain("xn--zz.xn--bcher-kva.example") == "xn--zz.xn--bcher-kva.example (xn--zz.bücher.example)"
