"""Drawing the triage: file statuses, headline figures, readiness, the sources table, charts.

Report content is hostile until shown otherwise: it reaches the page only through dataframes
and charts (their labels through ``chart_text`` or ``chart_label``), ``st.text``, or ``inert`` markdown.

A filter change reruns the whole page, so nothing is computed twice: what the triage alone
decides (headline, policies, readiness, Explorer links) once per triage, what the filters decide
once per filter state (the last few are kept), in this session's state.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlencode

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dmarc_core import FileOutcome, distinct_reports, knowledge, read_files, triage
from dmarc_core.analysis import summary
from dmarc_core.analysis.triage import EXPORTED_COLUMNS, explorer_links
from ui.text import chart_label, chart_text, inert

STATUS_LABELS = {"read": "✅ read", "repaired": "🛠️ read with repairs", "refused": "⛔ refused"}
RECORD_PREVIEW = 1000
# The CSV's columns, less the long texts the senders table already shows.
PREVIEW_COLUMNS = [name for name in EXPORTED_COLUMNS if name not in ("explanation", "fix", "explorer_link")]
#: Results kept per filter state (sources, causes, days) for the last eight states.
_FILTER_RESULTS_KEPT = 24
_VERDICT_COLORS = {"pass": "#2da44e", "fail": "#cf222e"}

T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class Selection:
    """The records the filters keep, and the filters' values, by which their results are remembered."""

    rows: pd.DataFrame
    filters: tuple


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
    state = st.session_state
    key = tuple(id(report) for outcome in outcomes for report in outcome.reports)
    if state.get("triage_key") != key:
        distinct = distinct_reports(report for outcome in outcomes for report in outcome.reports)
        state.triage_frame = triage(distinct.reports)
        state.duplicates_note = distinct.note
        state.triage_key = key
        state.triage_memo, state.filter_memo = {}, {}  # the previous triage's results go
    if state.duplicates_note:
        st.caption(inert(state.duplicates_note))
    return state.triage_frame


def _once_per_triage(compute: Callable[[pd.DataFrame], T], frame: pd.DataFrame) -> T:
    """``compute(frame)``, made once per triage in this session."""
    memo = st.session_state.triage_memo
    if compute not in memo:
        memo[compute] = compute(frame)
    return memo[compute]


def _once_per_filters(compute: Callable[..., T], selection: Selection, *inputs) -> T:
    """``compute(selection.rows, *inputs)``, remembered for the last few filter states. ``inputs``
    count by identity: the memo holds them, so no other object can take their ``id`` meanwhile."""
    memo = st.session_state.filter_memo
    key = (compute, selection.filters, *map(id, inputs))
    remembered = memo.pop(key, None) or (inputs, compute(selection.rows, *inputs))
    memo[key] = remembered  # the most recent last
    while len(memo) > _FILTER_RESULTS_KEPT:
        del memo[next(iter(memo))]
    return remembered[1]


def _explorer_links(records: pd.DataFrame) -> pd.Series:
    """The records' Explorer links, each made once per triage: filter states mostly share their
    sources' busiest records, and links are the costliest text of a triage."""
    made = st.session_state.triage_memo.setdefault(explorer_links, {})
    new = records[[label not in made for label in records.index]]
    made.update(zip(new.index, explorer_links(new), strict=True))
    return pd.Series([made[label] for label in records.index], index=records.index, dtype=object)


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
    figures = _once_per_triage(summary.headline, frame)
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
    table = _once_per_triage(summary.published_policies, frame)
    st.dataframe(table, hide_index=True, width="stretch", column_config={"policy_domain": "domain"})


def readiness(frame: pd.DataFrame) -> None:
    facts = knowledge()
    for assessment in _once_per_triage(summary.rollout_readiness, frame):
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


def filtered(frame: pd.DataFrame) -> Selection:
    """The filter widgets, and the rows they keep."""
    findings = knowledge().findings
    # A row that wraps rather than columns: the toggle keeps its label whole however narrow the page.
    row = st.container(horizontal=True, vertical_alignment="bottom")
    domains = _once_per_triage(summary.headline, frame).policy_domains
    domain = row.selectbox("Policy domain", ["all", *domains], key="filter_domain") if len(domains) > 1 else "all"
    causes = row.multiselect(
        "Causes", list(knowledge().causes), format_func=lambda c: findings[c].title, key="filter_causes", placeholder="all causes"
    )
    search = row.text_input("Search sender, IP or domain", key="filter_search")
    failing_only = row.toggle("Failing only", key="filter_failing")
    rows = summary.matching(
        frame, policy_domain=None if domain == "all" else domain, causes=causes, failing_only=failing_only, search=search
    )
    return Selection(rows, (domain, tuple(causes), failing_only, search))


def _sources(rows: pd.DataFrame, enrichment: dict | None) -> pd.DataFrame:
    table = summary.by_source(rows, enrichment, links=_explorer_links)
    # Relative to the app's root, so the links still work when the app is served under a path.
    table["explorer_link"] = "./?" + table["explorer_link"]
    checks = {domain: f"./check?{urlencode({'domain': domain})}" for domain in table["header_from"].unique()}
    table.insert(table.columns.get_loc("explorer_link") + 1, "check_link", table["header_from"].map(checks))
    # As categories, a text that repeats down the table (the fix above all) reaches the browser once.
    return table.astype(dict.fromkeys(["source", "header_from", "cause", "fix", "check_link"], "category"))


def sources_table(selection: Selection, enrichment: dict | None = None) -> pd.DataFrame:
    """The senders and sources the filters keep, drawn; returned for the charts drawn from it."""
    table = _once_per_filters(_sources, selection, enrichment)
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
            "addresses": st.column_config.TextColumn(
                "Busiest addresses", help="By messages; search an address to see its records"
            ),
            "as_names": "Network (AS)",
            "host_names": "Host names (PTR)",
        },
    )
    return table


def charts(selection: Selection, sources: pd.DataFrame) -> None:
    """The chart of the open tab alone, drawn from small aggregates (a bar per cause, source or
    day and disposition): the others are made when their tab is opened."""
    by_cause, by_sender, over_time = st.tabs(
        ["Messages by cause", "Pass / fail per sender", "Disposition over time"], key="chart_tab", on_change="rerun"
    )
    if by_cause.open:
        by_cause.plotly_chart(_cause_chart(_once_per_filters(summary.by_cause, selection)))
    if by_sender.open:
        by_sender.plotly_chart(_pass_fail_chart(summary.pass_fail_by_source(sources)))
    if over_time.open:
        days = _once_per_filters(summary.by_day, selection)
        if days.empty:
            over_time.info("The reports carry no usable dates.")
        else:
            over_time.plotly_chart(_days_chart(days))


def _cause_chart(causes: pd.DataFrame) -> go.Figure:
    rows = causes["table_row"].map(lambda row: f" (row {row})" if pd.notna(row) else "")
    bar = go.Bar(
        x=causes["messages"],
        y=(causes["title"] + rows).map(chart_label),
        orientation="h",
        marker_color=causes["cause"].map(knowledge().cause_colors),
        hovertemplate="%{y}: %{x:,} messages<extra></extra>",
    )
    # Room for labels of up to three lines each (chart_label) once a phone wraps them.
    height = max(450, 64 * len(causes))
    return _figure([bar], height=height, showlegend=False, xaxis_title_text="Messages", yaxis_categoryorder="total ascending")


def _pass_fail_chart(verdicts: pd.DataFrame) -> go.Figure:
    bars = [
        go.Bar(
            x=rows["messages"],
            y=rows["source"].map(chart_label),
            name=verdict,
            orientation="h",
            marker_color=_VERDICT_COLORS[verdict],
            hovertemplate="%{y}: %{x:,} messages<extra>%{fullData.name}</extra>",
        )
        for verdict, rows in verdicts.groupby("verdict", sort=False)
    ]
    return _figure(bars, legend_title_text="verdict", xaxis_title_text="Messages", yaxis_categoryorder="total ascending")


def _days_chart(days: pd.DataFrame) -> go.Figure:
    bars = [
        go.Bar(
            x=rows["day"],
            y=rows["messages"],
            name=chart_text(disposition),
            hovertemplate="%{x|%Y-%m-%d}: %{y:,} messages<extra>%{fullData.name}</extra>",
        )
        for disposition, rows in days.groupby("disposition", sort=False)
    ]
    return _figure(bars, legend_title_text="disposition", yaxis_title_text="Messages")


def _figure(bars: list[go.Bar], **layout) -> go.Figure:
    """Bars stacked, with the top margin of plotly express: the charts look as they did when drawn by it."""
    return go.Figure(bars).update_layout(barmode="relative", margin_t=60, **layout)


def records(selection: Selection) -> None:
    """The records the filters keep, drawn only while their expander is open: a thousand rows of
    thirty columns is most of what a filter change would otherwise send to the browser."""
    shown = selection.rows
    expander = st.expander(f"Records ({len(shown):,})", key="records_open", on_change="rerun")
    if not expander.open:
        return
    with expander:
        if len(shown) > RECORD_PREVIEW:
            st.caption(f"The first {RECORD_PREVIEW:,} records; the download has all {len(shown):,}.")
        st.dataframe(shown.head(RECORD_PREVIEW)[PREVIEW_COLUMNS], hide_index=True)
