"""The app's frame: page config, navigation and sidebar. Each page is a short script in pages/;
everything they compute comes from dmarc_core."""

import streamlit as st

st.set_page_config(page_title="DMARC Alignment Explainer", page_icon=":material/mark_email_read:", layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/explorer.py", title="Alignment Explorer", icon=":material/compare_arrows:", default=True),
        st.Page("pages/guide.py", title="Guide", icon=":material/menu_book:", url_path="guide"),
        st.Page("pages/domain_check.py", title="Domain Check", icon=":material/dns:", url_path="check"),
    ]
)

with st.sidebar:
    st.markdown("**DMARC Alignment Explainer**")
    st.caption(
        "Why does mail fail DMARC although DKIM passes? Explore alignment, triage your aggregate "
        "reports, check your DNS. Nothing leaves your browser session unless you ask for a DNS lookup."
    )

navigation.run()
