"""History: weeks of reports in one file the user keeps; trends, fixes confirmed, the rollout followed.

The file is the server's (``streamlit run app.py -- --store PATH``, or ``$DMARC_STORE``), opened
read-only on every run; or, on a hosted app, the visitor's own, dropped in with their new reports
and downloaded again (ui/history_view.py).
"""

import streamlit as st

from dmarc_core.history import queries
from ui import history_view as view

st.title("History")
configured = view.configured_store()
if configured:
    path = configured
    view.follow_writes(path)
else:
    path = view.hosted_history()
    if path is None:
        st.stop()

with view.open_read_only(path) as store:
    held = view.ask(store, queries.coverage)
    if not held.records:
        st.info(
            "The history holds no report records yet. Add reports to it "
            + ("with `python -m dmarc_core ingest` or `fetch`." if configured else "by dropping them above."),
            icon=":material/history:",
        )
        st.stop()
    with st.container(horizontal=True):
        domain = view.domain_choice(store)
        domain_held = view.ask(store, queries.coverage, domain) if domain else held
        since = view.period_choice(domain_held)
    view.coverage(view.ask(store, queries.coverage, domain, since))

    st.subheader("Pass rate per day")
    view.pass_rate(view.ask(store, queries.pass_rate_by_day, domain, None, since))

    st.subheader("Senders over the weeks, the most failing messages first")
    view.senders_over_weeks(view.ask(store, queries.senders_by_week, domain, 15, since))

    st.subheader("New senders in the last week")
    view.new_senders(view.ask(store, queries.new_senders, domain))

    st.subheader("Did my fix work?")
    st.caption(
        f"Pick a sender and the day you fixed it: its mail in the {queries.FIX_WINDOW_DAYS} days before against "
        f"that day and the {queries.FIX_WINDOW_DAYS - 1} after, and its pass rate over the whole history, whatever the period."
    )
    chosen = view.fix_inputs(store, domain, domain_held)
    if chosen:
        source, day = chosen
        view.fix_result(view.ask(store, queries.fix_check, source, day, domain))

    st.subheader("The rollout plan, followed over time")
    view.rollout(store, domain, since)
