"""Making dynamic text safe to place inside Streamlit markdown.

Streamlit's markdown formats ``**``, ``[..](..)``, ``:red[..]`` and ``$..$``, and turns
``www.`` names, ``http://`` URLs and addresses into live links even when they are escaped, and
``:material/icon:`` and ``:emoji:`` shortcodes into pictures. ``inert`` backslash-escapes every
markdown character and slips a word joiner (U+2060, invisible) into the link triggers and shortcodes, so text from a report or a link shows exactly as written.
``inert_with_code`` does the same but keeps the knowledge's backticked records as inline code.

Plotly reads a little HTML in its labels, ticks, legends and hover text (``<a href>`` becomes a
live link, ``<b>``, ``<br>``, ``<span style>`` format); ``chart_text`` turns dynamic text into
entities, which plotly shows as the characters they stand for.
"""

from __future__ import annotations

import html
import re
import textwrap

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$&=\"'])")
_LINK_TRIGGERS = re.compile(r"(?i)(www)(?=\\\.)|(?=@)|(?<=:)(?=//)|(?<=\\:)(?=//)")
WORD_JOINER = "\u2060"
#: Streamlit draws :material/icon: and :emoji: shortcodes even from escaped colons.
_SHORTCODE = re.compile(r":(?=[\w/+\-]+:)")
#: Bidirectional controls (U+202E and the like) turn the text after them backwards, the page's own
#: words included: shown as U+FFFD, as the report reader shows them.
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def inert(text: object) -> str:
    escaped = _MARKDOWN.sub(r"\\\1", _SHORTCODE.sub(":" + WORD_JOINER, _BIDI.sub("\ufffd", str(text))))
    return _LINK_TRIGGERS.sub(lambda match: (match.group(1) or "") + WORD_JOINER, escaped)


def inert_with_code(text: object) -> str:
    """``inert`` for prose, with the knowledge's `backticked` DNS records kept as inline code:
    code is shown exactly as written and copies without the word joiner."""
    parts = str(text).split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: no code at all
        return inert(text)
    return "".join(f"`{part}`" if index % 2 else inert(part) for index, part in enumerate(parts))


def chart_text(text: object) -> str:
    return html.escape(_BIDI.sub("\ufffd", str(text)), quote=False)


def chart_label(text: object, width: int = 22) -> str:
    """``chart_text`` in lines of about ``width`` characters, so that on a phone a long axis label
    leaves its bar room; a name without spaces stays whole."""
    lines = textwrap.wrap(str(text), width, break_long_words=False, break_on_hyphens=False) or [""]
    return "<br>".join(chart_text(line) for line in lines)
