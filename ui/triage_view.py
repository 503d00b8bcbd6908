"""Drawing the triage: file statuses, headline figures, readiness, the sources table, charts.

Report content is hostile until shown otherwise: it reaches the page only through dataframes
and charts (their labels through ``chart_text`` or ``chart_label``), ``st.text``, or ``inert`` markdown.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode

import pandas as pd
import plotly.express as px
import streamlit as st

from dmarc_core import FileOutcome, distinct_reports, knowledge, read_files, triage
from dmarc_core.analysis import summary
from ui.text import chart_label, chart_text, inert

STATUS_LABELS = {"read": "✅ read", "repaired": "🛠️ read with repairs", "refused": "⛔ refused"}


def read_with_progress(files: list[tuple[str, bytes]]) -> list[FileOutcome]:
    """Read the files, reusing this session's earlier results for files already seen (by content)."""
    cache: dict[str, FileOutcome] = st.session_state.setdefault("read_cache", {})
    keys = [hashlib.sha256(name.encode() + b"\0" + data).hexdigest() for name, data in files]
    missing = [(key, item) for key, item in zip(keys, files, strict=True) if key not in cache]
    if missing:
        bar = st.progress(0.0, text="Reading reports…")

        def progress(done: int, total: int, outcome: FileOutcome) -> None:
            bar.progress(done / total, text=f"Read {done} of {total}: {inert(outcome.name)}")

        for (key, _), outcome in zip(missing, read_files([item for _, item in missing], progress=progress), strict=True):
            cache[key] = outcome
        bar.empty()
    for stale in set(cache) - set(keys):  # forget files the person removed
        del cache[stale]
    return [cache[key] for key in keys]


def triaged(outcomes: list[FileOutcome]) -> pd.DataFrame:
    """The triage of all readable reports, computed once per set of files in this session."""
    key = tuple(id(report) for outcome in outcomes for report in outcome.reports)
    if st.session_state.get("triage_key") != key:
        distinct = distinct_reports(report for outcome in outcomes for report in outcome.reports)
        st.session_state.triage_frame = triage(distinct.reports)
        st.session_state.duplicates_note = distinct.note
        st.session_state.triage_key = key
    if st.session_state.duplicates_note:
        st.caption(inert(st.session_state.duplicates_note))
    return st.session_state.triage_frame


def file_status(outcomes: list[FileOutcome]) -> None:
    table = pd.DataFrame(
        {
            "File": [outcome.name for outcome in outcomes],
            "Status": [STATUS_LABELS[outcome.status] for outcome in outcomes],
            "Reports": [len(outcome.reports) for outcome in outcomes],
            "Records": [outcome.record_count for outcome in outcomes],
            "Messages": [outcome.messages for outcome in outcomes],
            "Details": [outcome.details for outcome in outcomes],
        }
    )
    counts = table["Status"].value_counts()
    label = ", ".join(f"{counts.get(STATUS_LABELS[s], 0)} {STATUS_LABELS[s].split(' ', 1)[1]}" for s in STATUS_LABELS)
    with st.expander(f"Files: {label}", expanded=any(outcome.status != "read" for outcome in outcomes)):
        st.dataframe(
            table, hide_index=True, width="stretch", column_config={"Details": st.column_config.TextColumn(width="large")}
        )


def headline_metrics(frame: pd.DataFrame) -> None:
    figures = summary.headline(frame)
    with st.container(horizontal=True):
        st.metric("Messages", f"{figures.messages:,}", border=True)
        st.metric("DMARC pass rate", f"{figures.pass_rate:.1%}", border=True)
        st.metric("Failing messages", f"{figures.failing_messages:,}", border=True)
        st.metric("Reports", f"{figures.reports:,}", help=f"{figures.record_count:,} records", border=True)
    if figures.begin is not None and pd.notna(figures.begin):
        more = f" and {len(figures.policy_domains) - 5} more domains" if len(figures.policy_domains) > 5 else ""
        st.caption(
            inert(f"From {figures.begin:%Y-%m-%d} to {figures.end:%Y-%m-%d}, for {', '.join(figures.policy_domains[:5])}{more}.")
        )


def policies(frame: pd.DataFrame) -> None:
    st.dataframe(summary.published_policies(frame), hide_index=True, width="stretch", column_config={"policy_domain": "domain"})


def readiness(frame: pd.DataFrame) -> None:
    facts = knowledge()
    for assessment in summary.rollout_readiness(frame):
        with st.container(border=True):
            st.markdown(
                f"**{inert(assessment.domain)}** publishes p={inert(assessment.policy)}: step {assessment.step} of "
                f"{len(facts.rollout_plan)} of the rollout plan, *{inert(facts.rollout_step(assessment.step).action)}*"
            )
            (st.success if assessment.ready else st.warning)(inert(assessment.advice))
            if assessment.next_record:
                st.caption(facts.next_record_note.format(domain=inert(assessment.domain)))
                st.code(assessment.next_record, language=None, wrap_lines=True)
            if assessment.blockers:
                st.text(
                    "Holding it back: "
                    + "; ".join(f"{source} ({cause}, {count:,} messages)" for source, cause, count in assessment.blockers)
                )


def filtered(frame: pd.DataFrame) -> pd.DataFrame:
    """The filter widgets, and the rows they keep."""
    findings = knowledge().findings
    # A row that wraps rather than columns: the toggle keeps its label whole however narrow the page.
    row = st.container(horizontal=True, vertical_alignment="bottom")
    domains = sorted(filter(None, frame["policy_domain"].unique()))
    domain = row.selectbox("Policy domain", ["all", *domains], key="filter_domain") if len(domains) > 1 else "all"
    causes = row.multiselect(
        "Causes", list(knowledge().causes), format_func=lambda c: findings[c].title, key="filter_causes", placeholder="all causes"
    )
    search = row.text_input("Search sender, IP or domain", key="filter_search")
    failing_only = row.toggle("Failing only", key="filter_failing")
    return summary.matching(
        frame, policy_domain=None if domain == "all" else domain, causes=causes, failing_only=failing_only, search=search
    )


def sources_table(frame: pd.DataFrame, enrichment: dict | None = None) -> None:
    table = summary.by_source(frame, enrichment)
    # Relative to the app's root, so the links still work when the app is served under a path.
    table["explorer_link"] = "./?" + table["explorer_link"]
    table["check_link"] = "./check?" + table["header_from"].map(lambda domain: urlencode({"domain": domain}))
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "source": "Sender / source",
            "header_from": "From: domain",
            "table_row": st.column_config.NumberColumn("Table row", format="%d"),
            "messages": st.column_config.NumberColumn("Messages", format="localized"),
            "pass_rate": st.column_config.ProgressColumn("DMARC pass", format="percent", min_value=0.0, max_value=1.0),
            "ips": st.column_config.NumberColumn("IPs"),
            "fix": st.column_config.TextColumn("What to do", width="large"),
            "explorer_link": st.column_config.LinkColumn("Explain", display_text="Open in Explorer"),
            "check_link": st.column_config.LinkColumn("DNS", display_text="Check domain"),
            "as_names": "Network (AS)",
            "host_names": "Host names (PTR)",
        },
    )


def charts(frame: pd.DataFrame) -> None:
    by_cause, by_sender, over_time = st.tabs(["Messages by cause", "Pass / fail per sender", "Disposition over time"])
    with by_cause:
        causes = summary.by_cause(frame)
        causes["label"] = (causes["title"] + causes["table_row"].map(lambda row: f" (row {row})" if pd.notna(row) else "")).map(
            chart_label
        )
        figure = px.bar(
            causes,
            x="messages",
            y="label",
            color="cause",
            orientation="h",
            color_discrete_map=knowledge().cause_colors,
            labels={"label": "", "messages": "Messages"},
        )
        # Room for labels of up to three lines each (chart_label) once a phone wraps them.
        height = max(450, 64 * len(causes))
        st.plotly_chart(figure.update_layout(showlegend=False, height=height, yaxis={"categoryorder": "total ascending"}))
    with by_sender:
        senders = summary.pass_fail_by_source(frame)
        figure = px.bar(
            senders.assign(source=senders["source"].astype(str).map(chart_label)),
            x="messages",
            y="source",
            color="verdict",
            orientation="h",
            color_discrete_map={"pass": "#2da44e", "fail": "#cf222e"},
            labels={"messages": "Messages", "source": ""},
        )
        st.plotly_chart(figure.update_layout(yaxis={"categoryorder": "total ascending"}))
    with over_time:
        days = summary.by_day(frame)
        days["disposition"] = days["disposition"].astype(str).map(chart_text)
        if days.empty:
            st.info("The reports carry no usable dates.")
        else:
            st.plotly_chart(px.bar(days, x="day", y="messages", color="disposition", labels={"day": "", "messages": "Messages"}))
