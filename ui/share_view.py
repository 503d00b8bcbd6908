"""Drawing a shared triage: the "Share this triage" section (what the link carries, the link to
copy, the HTML file) and the page a colleague sees when opening such a link.

A shared link is anyone's text: what it carries reaches the page only through metrics of numbers,
dataframes, charts (their labels through ``chart_label``) and ``inert`` markdown.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dmarc_core.analysis import share
from dmarc_core.analysis.share_html import share_html
from dmarc_core.analysis.summary import readiness_table
from dmarc_core.rules.alignment import exact_domain
from dmarc_core.rules.wording import counted
from ui import triage_view
from ui.text import inert


def shared_link_opened() -> str | None:
    """The state of a shared link the page was opened with, if any."""
    return st.query_params.get(share.SHARE_PARAM)


# --- sharing -------------------------------------------------------------------------------------


def share_section(frame: pd.DataFrame, selection: triage_view.Selection, enrichment: dict | None) -> None:
    """What a link to this triage carries, the link, and the HTML file; made only while open."""
    expander = st.expander("Share this triage", icon=":material/share:", key="share_open", on_change="rerun")
    if not expander.open:
        return
    with expander:
        st.markdown(
            "A colleague who opens the link, or the HTML file, sees this summary: the headline figures, readiness, "
            "the senders table with causes and fixes, and the charts, as the filters show them. The raw reports stay "
            "here; the link holds everything itself, so it works wherever the app runs, and nothing is stored."
        )
        leave_out = st.checkbox(
            "Leave out source IPs and their host names (PTR)",
            key="share_leave_out",
            help="Addresses and host names go; mail nothing authenticated is shown as one source.",
        )
        shared, encoded = _shared(frame, selection, enrichment, leave_out)
        root = _app_root()
        if isinstance(encoded, share.ShareError):
            st.warning(inert(str(encoded)), icon=":material/link_off:")
        else:
            _preview(encoded)
            st.code(f"{root or ''}{share.LINK_PATH}?{share.SHARE_PARAM}={encoded.text}", language=None, wrap_lines=True)
            if root is None:
                st.caption("Put your app's address (https://…) in front of this path before you send it.")
        st.download_button(
            "Download as an HTML file",
            data=lambda: share_html(shared, root),
            file_name=_html_file(shared),
            mime="text/html",
            icon=":material/download:",
            on_click="ignore",
            help="One file that opens in any browser, offline: for a ticket or an e-mail",
        )


def _shared(frame: pd.DataFrame, selection: triage_view.Selection, enrichment: dict | None, leave_out: bool):
    """The shared triage and its link (or why there is none), made once per triage, filter state,
    enrichment and choice: the last ones are kept, with the objects they were made from."""
    # The page's filter values, in the order of summary.matching's arguments, as Filters has them.
    domain, *others = selection.filters
    filters = share.Filters(None if domain == "all" else domain, *others)
    made = st.session_state.get("share_made")
    if made is None or made[0] is not frame or made[1] is not enrichment or made[2] != (filters, leave_out):
        shared = share.shared_triage(frame, filters, enrichment=enrichment, leave_out_addresses=leave_out)
        try:
            encoded = share.encode(shared)
        except share.ShareError as error:
            encoded = error
        made = st.session_state.share_made = (frame, enrichment, (filters, leave_out), shared, encoded)
    return made[3], made[4]


def _preview(encoded: share.Encoded) -> None:
    """What the link carries, in figures, and its senders, as the colleague will see them."""
    shared = encoded.shared
    parts = [
        f"the headline figures, the readiness of {counted(len(shared.readiness), 'policy domain')}",
        f"{counted(len(shared.sources), 'sender')} with their causes and fixes",
        "the charts' figures per cause and per day",
    ]
    left_out = []
    if shared.sources_left_out:
        left_out.append(f"{counted(shared.sources_left_out, 'sender')} with the fewest failing messages")
    if shared.domains_left_out:
        left_out.append(f"the readiness of {counted(shared.domains_left_out, 'policy domain')} with the fewest messages")
    addresses = "no source IPs or host names" if shared.addresses_left_out else "the busiest source IPs of each sender"
    st.markdown(
        inert(f"The link carries {', '.join(parts)}, and {addresses}; {len(encoded.text):,} characters.")
        + (f" {inert('Left out to fit a link: ' + ' and '.join(left_out) + '.')}" if left_out else "")
    )
    columns = ["source", "header_from", "cause", "messages"] + ([] if shared.addresses_left_out else ["addresses"])
    st.dataframe(
        shared.by_source().pipe(lambda table: table.assign(cause=table["cause"].map(triage_view.cause_title)))[columns],
        hide_index=True,
        width="stretch",
        height=min(400, 38 + 35 * max(len(shared.sources), 1)),
        column_config={
            "source": "Sender / source",
            "header_from": "From: domain",
            "cause": "Cause",
            "messages": st.column_config.NumberColumn("Messages", format="localized"),
            "addresses": "Busiest addresses",
        },
    )


def _html_file(shared: share.SharedTriage) -> str:
    """The HTML file's name: its domain (when one, and a valid name: report text never names a file) and day."""
    domains = shared.headline.policy_domains
    domain = exact_domain(domains[0]) if len(domains) == 1 else None
    return f"dmarc-triage-{domain or 'reports'}-{shared.made:%Y-%m-%d}.html"


def _app_root() -> str | None:
    """The app's address as the browser has it (``st.context.url`` is the page's), if known."""
    url = st.context.url
    if not url:
        return None
    return url.rstrip("/").removesuffix(share.LINK_PATH)


# --- a shared link, opened ------------------------------------------------------------------------


def shared_view(text: str) -> None:
    """The triage a shared link carries, drawn as the page draws a triage; or why it cannot be."""
    try:
        shared = share.decode(text)
    except share.ShareError as error:
        st.error(inert(str(error)), icon=":material/link_off:")
        _own_reports()
        return
    st.info(inert(share.about(shared)), icon=":material/share:")
    triage_view.metrics(shared.headline)
    st.subheader("Senders, the most failing messages first")
    _sources_table(shared)
    st.subheader("Ready for a stricter policy?")
    _readiness(shared)
    st.subheader("Over time and by cause")
    by_cause, pass_rate, per_sender, disposition = st.tabs(triage_view.CHART_TABS)
    with by_cause:
        triage_view.cause_figures(shared.by_cause())
    triage_view.day_chart(pass_rate, shared.pass_rate_by_day(), triage_view.pass_rate_chart)
    triage_view.day_chart(per_sender, shared.failing_by_source_and_day(), triage_view.senders_chart)
    triage_view.day_chart(disposition, shared.by_day(), triage_view.days_chart)
    st.download_button(
        "Download as an HTML file",
        data=lambda: share_html(shared, _app_root()),
        file_name=_html_file(shared),
        mime="text/html",
        icon=":material/download:",
        on_click="ignore",
    )
    _own_reports()


def _own_reports() -> None:
    if st.button("Triage your own reports", icon=":material/upload_file:"):
        st.query_params.clear()
        st.rerun()


def _readiness(shared: share.SharedTriage) -> None:
    """Each policy domain of the shared records: a row per domain, and one in detail."""
    if shared.domains_left_out:
        st.caption(f"{shared.domains_left_out:,} policy domains, those with the fewest messages, were left out to fit the link.")
    if not shared.readiness:
        if not shared.domains_left_out:
            st.info("These records name no policy domain.", icon=":material/domain_disabled:")
        return
    assessments = {assessment.domain: assessment for assessment in shared.readiness}
    domain = triage_view.readiness_rows(readiness_table(shared.readiness), "shared_readiness_domain")
    triage_view.assessment_card(assessments[domain])


def _sources_table(shared: share.SharedTriage) -> None:
    hidden = ("addresses", "host_names") if shared.addresses_left_out else ()
    triage_view.senders(triage_view.linked_sources(shared.by_source()), hidden)
    if shared.sources_left_out:
        st.caption(f"{shared.sources_left_out:,} more senders, with the fewest failing messages, were left out to fit the link.")
