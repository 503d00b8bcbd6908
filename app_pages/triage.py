"""Report Triage: drop in aggregate reports; see which senders fail, why, what it costs, what to do."""

import streamlit as st

from dmarc_core import knowledge
from dmarc_core.batch import demo_files
from dmarc_core.summary import csv_bytes
from ui import triage_view as view
from ui.text import inert

state = st.session_state
RECORD_PREVIEW = 1000

st.title("Report Triage")
st.markdown(
    "Drop the DMARC aggregate reports your mailbox collected: `.xml`, `.xml.gz`, `.zip` or the report "
    "e-mails themselves (`.eml`), as many as you like. They are read in this browser session only: "
    "nothing is stored or shared."
)
uploads = st.file_uploader("Aggregate reports", accept_multiple_files=True, key="uploads")
if st.button("Try the demo reports", icon=":material/science:", help="Reports written for this app: three receivers, two weeks, every root cause"):
    state.demo = True
if uploads:
    state.demo = False
files = [(upload.name, upload.getvalue()) for upload in uploads] or (demo_files() if state.get("demo") else [])
if not files:
    st.info(
        "Receivers send aggregate reports to the address in your DMARC record's rua= tag, usually once a day. "
        "Drop some here, or try the demo reports to see what the triage shows.",
        icon=":material/upload_file:",
    )
    st.stop()

outcomes = view.read_with_progress(files)
view.file_status(outcomes)
if not any(outcome.reports for outcome in outcomes):
    st.error("None of these files holds a readable DMARC aggregate report; the list above says why for each.", icon=":material/block:")
    st.stop()
frame = view.triaged(outcomes)
if frame.empty:
    st.info("The reports are readable but hold no records: the receivers saw no mail from your domain in their period.")
    st.stop()

view.headline_metrics(frame)
st.subheader("Policy published")
view.policies(frame)
st.subheader("Ready for a stricter policy?")
view.readiness(frame)

st.subheader("Senders and sources")
findings = knowledge().findings
filters = st.columns([2, 3, 2, 1], vertical_alignment="bottom")
domains = sorted(filter(None, frame["policy_domain"].unique()))
domain = filters[0].selectbox("Policy domain", ["all", *domains], key="filter_domain") if len(domains) > 1 else "all"
causes = filters[1].multiselect("Causes", list(knowledge().causes), format_func=lambda c: findings[c].title, key="filter_causes",
                                placeholder="all causes")
search = filters[2].text_input("Search sender, IP or domain", key="filter_search")
failing_only = filters[3].toggle("Failing only", key="filter_failing")
shown = frame
if domain != "all":
    shown = shown[shown["policy_domain"] == domain]
if causes:
    shown = shown[shown["cause"].isin(causes)]
if failing_only:
    shown = shown[~shown["dmarc_pass"]]
if search:
    needle = search.strip().lower()
    shown = shown[shown["source"].str.lower().str.contains(needle, regex=False)
                  | shown["source_ip"].str.contains(needle, regex=False)
                  | shown["header_from"].str.contains(needle, regex=False)
                  | shown["dkim"].str.contains(needle, regex=False)]
if shown.empty:
    st.info("No record matches these filters.", icon=":material/filter_alt_off:")
    st.stop()
view.sources_table(shown)
view.charts(shown)

with st.expander(f"Records ({len(shown):,})"):
    if len(shown) > RECORD_PREVIEW:
        st.caption(f"The first {RECORD_PREVIEW:,} records; the download has all {len(shown):,}.")
    st.dataframe(shown.head(RECORD_PREVIEW).drop(columns=["explanation", "fix", "explorer_link"]), hide_index=True)
st.download_button(
    f"Download the {len(shown):,} triaged records (CSV)",
    data=lambda: csv_bytes(shown),
    file_name="dmarc-triage.csv",
    mime="text/csv",
    icon=":material/download:",
)
st.caption(inert(f"Filters keep {len(shown):,} of {len(frame):,} records."))
