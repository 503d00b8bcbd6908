"""Report Triage: drop in aggregate reports; see which senders fail, why, what it costs, what to do."""

import streamlit as st

from dmarc_core.analysis.summary import csv_bytes
from dmarc_core.reports.reading import demo_files
from dmarc_core.rules.wording import counted
from ui import session, share_view, what_if_view
from ui import triage_dns as dns_actions
from ui import triage_view as view
from ui.pack_uploads import PACKING_HELP
from ui.text import inert

state = st.session_state

st.title("Report Triage")
if shared_link := share_view.shared_link_opened():  # a colleague's shared triage, not reports of one's own
    share_view.shared_view(shared_link)
    st.stop()
st.markdown(
    "Drop the DMARC aggregate reports your mailbox collected: `.xml`, `.xml.gz`, `.zip` or the report "
    "e-mails themselves (`.eml`), as many as you like. Failure reports (`.eml`) are welcome too: each "
    "opens in the message check. They are read in this browser session only: nothing is stored or shared."
)
uploads = st.file_uploader(
    "Aggregate reports", accept_multiple_files=True, key="uploads", on_change=session.keep_uploads, help=PACKING_HELP
)
if st.button(
    "Try the demo reports",
    icon=":material/science:",
    help="Reports written for this app: three receivers, two weeks, every root cause",
):
    state.demo = True
    session.forget_uploads()
if uploads:
    state.demo = False
files = session.held_uploads(uploads) or (demo_files() if state.get("demo") else session.kept_uploads())
if not files:
    what_if_view.waiting()
    st.info(
        "Receivers send aggregate reports to the address in your DMARC record's rua= tag, usually once a day. "
        "Drop some here, or try the demo reports to see what the triage shows.",
        icon=":material/upload_file:",
    )
    st.stop()

outcomes = view.read_with_progress(files)
view.file_status(outcomes)
view.upload_hint(len(uploads))
view.failure_samples(outcomes)
if not any(outcome.reports for outcome in outcomes):
    view.nothing_to_triage(outcomes)
    st.stop()
frame = view.triaged(outcomes)
if frame.empty:
    st.info("The reports are readable but hold no records: the receivers saw no mail from your domain in their period.")
    st.stop()

# The filters first: they apply to everything below, ordered by what a person acts on first.
selection = view.filtered(frame)
shown = selection.rows
if shown.empty:
    st.info("No record matches these filters.", icon=":material/filter_alt_off:")
    st.stop()
view.headline_metrics(selection)

# Each part in a container of its own: Streamlit knows an element by its place, so an element that a
# filter adds or takes away would otherwise make it draw anew every element after it, charts included.
st.subheader("Senders, the most failing messages first")
enrich_column, selectors_column = st.columns(2)
with enrich_column:
    enrichment = dns_actions.enrichment(shown)
with selectors_column:
    dns_actions.selectors(shown)
with st.container():
    view.sources_table(selection, enrichment)
view.receiver_verdict(selection)

st.subheader("Ready for a stricter policy?")
with st.container():
    view.readiness(frame, selection)
with st.container():
    what_if_view.draw(frame)
st.subheader("Over time and by cause")
with st.container():
    view.charts(selection)
st.subheader("Policy published")
with st.container():
    view.policies(frame, selection)

with st.container():
    view.records(selection)
st.download_button(
    f"Download the {counted(len(shown), 'triaged record')} (CSV)",
    data=lambda: csv_bytes(shown),
    file_name="dmarc-triage.csv",
    mime="text/csv",
    icon=":material/download:",
    on_click="ignore",  # a download changes nothing on the page: no rerun racing the file's generation
)
st.caption(inert(f"Filters keep {len(shown):,} of {counted(len(frame), 'record')}."))
share_view.share_section(frame, selection, enrichment)
