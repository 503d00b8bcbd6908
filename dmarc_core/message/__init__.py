"""The message check: one message (pasted headers, an .eml, or a DMARC failure report) read,
verified and explained by the same rules as a report row.

``model`` holds the dataclasses; ``reading`` is the one boundary where text that is not a message
becomes a ``MessageError`` with a reason (RFC 5322 From:, DKIM-Signature tags, RFC 8601
Authentication-Results, ARC sets, RFC 6591 failure reports); ``verification`` checks the DKIM
signatures, SPF and the ARC chain, offline first and through the lookups' resolver on request;
``check`` turns both into the DMARC verdict, the table row, the cause and its fix.

May import: the standard library, dkimpy (``dkim``), authres and pyspf (``spf``) for what those
standards already solved, the rules, and the lookups (the one way to DNS). Never report reading,
the analysis, pandas, pyarrow, plotly or streamlit. Nothing here stores the message.
"""
