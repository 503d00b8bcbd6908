"""The analysis of reports: every record triaged by the rules (``triage``), and what a person
wants from that (``summary``: headline, senders, causes, days, rollout readiness, CSV).

May import: the standard library, pandas, numpy, pyarrow, the rules and report reading (and
lookups' dataclasses for type hints only). Never dnspython, plotly or streamlit: the analysis
makes no network request and draws nothing.
"""
