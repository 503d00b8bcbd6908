"""The app's frame: page config, navigation and sidebar. Each page is a short script in app_pages/;
everything they compute comes from dmarc_core.

The folder is not called pages/: Streamlit still treats a pages/ folder beside the entry script as
a legacy multipage app, so the first deep link after a server start (/triage) would bypass this
frame and its st.navigation."""

import gc

import streamlit as st

from ui.pack_uploads import pack_many_uploads


@st.cache_resource(show_spinner=False)
def _settle_the_server() -> None:
    """Once per server process: the pages' heaviest imports done, the knowledge and the Public
    Suffix List loaded (its tree alone is 17,000 objects), and every object alive then
    (Streamlit's, pandas', pyarrow's: about 160,000) frozen out of the cyclic garbage collector's
    sight. They live as long as the process; without this, each of the collector's full passes
    walks them all again, about 0.1 s inside whatever a person is waiting for."""
    import dmarc_core.analysis.triage  # noqa: F401 (imported for the freeze)
    from dmarc_core import knowledge
    from dmarc_core.rules.domains import organizational_domain

    knowledge()
    organizational_domain("example.com")
    gc.collect()
    gc.freeze()


def main() -> None:
    _settle_the_server()
    # An emoji icon: Streamlit draws it as an inline SVG. A :material/...: page icon makes every
    # browser fetch the favicon from fonts.gstatic.com, a request to Google the app promises not to make.
    st.set_page_config(page_icon="📧", layout="wide")

    navigation = st.navigation(
        [
            st.Page("app_pages/explorer.py", title="Alignment Explorer", icon=":material/compare_arrows:", default=True),
            st.Page("app_pages/triage.py", title="Report Triage", icon=":material/fact_check:", url_path="triage"),
            st.Page("app_pages/history.py", title="History", icon=":material/history:", url_path="history"),
            st.Page("app_pages/message.py", title="Message Check", icon=":material/mail_lock:", url_path="message"),
            st.Page("app_pages/guide.py", title="Guide", icon=":material/menu_book:", url_path="guide"),
            st.Page("app_pages/domain_check.py", title="Domain Check", icon=":material/dns:", url_path="check"),
        ]
    )

    # One tab title per page, so that a person with several tabs open tells them apart.
    st.set_page_config(page_title=f"{navigation.title} · DMARC Alignment Explainer")

    with st.sidebar:
        st.markdown("**DMARC Alignment Explainer**")
        st.caption(
            "Why does mail fail DMARC although DKIM passes? Explore alignment, triage your aggregate "
            "reports, check one message, check your DNS. Nothing leaves your browser session unless you ask for a DNS lookup."
        )
        pack_many_uploads()

    navigation.run()


# Worker processes reading big reports import the main module again, as __mp_main__ (multiprocessing
# with a fork server): the frame runs only when Streamlit runs this script.
if __name__ == "__main__":
    main()
