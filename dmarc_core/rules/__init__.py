"""The rules: RFC 7489, RFC 9989, RFC 6376 and the article, as pure functions and data.

Domains and the organizational domain (``domains``), identifier alignment (``alignment``), the
cause rules (``diagnosis``), the DMARC verdict of one message (``evaluation``), the DMARC record
(``dmarc_record``), DKIM key records (``dkim_key``), the domain knowledge read from
``data/*.toml`` (``knowledge``), the Explorer's shareable scenarios (``scenario``), and how a
count is written in words (``wording``).

May import: the standard library, idna and tldextract (the Public Suffix List snapshot), and
each other, one way: knowledge, domains and wording first; then alignment, dkim_key and dmarc_record;
diagnosis; evaluation; scenario (``tests/test_layers.py`` holds the order). Never pandas, numpy,
pyarrow, lxml, dnspython, plotly or streamlit, nor the other layers: everything here runs on a
one-line answer and in any other layer.
"""
