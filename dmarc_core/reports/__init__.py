"""Report reading: from an uploaded file to DMARC aggregate reports, or refusals with reasons.

``containers`` finds the XML payloads inside gzip, zlib, zip and e-mail by content; ``reading``
is the one boundary where whatever cannot be read becomes a refusal (``FileOutcome``);
``records`` streams the XML into Arrow columns and describes repairs; ``chunks`` cuts big
reports into pieces of whole records, which ``plain`` reads without a tree when they are written
the plain way (else lxml does, on every core through ``pool``); ``model`` holds the dataclasses.

May import: the standard library, lxml and pyarrow. Never the rules (reading a report decides
nothing about it), pandas, dnspython, plotly or streamlit, nor the other layers.
"""
