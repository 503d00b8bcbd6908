"""Drawing the triage: file statuses, headline figures, readiness, the sources table, charts.

Report content is hostile until shown otherwise: it reaches the page only through dataframes
and charts (their labels through ``chart_text`` or ``chart_label``), ``st.text``, or ``inert`` markdown.

A filter change reruns the whole page, so nothing is computed twice: what the triage alone
decides (headline, policies, readiness, Explorer links) once per triage, what the filters decide
once per filter state (the last few are kept), in this session's state.
"""

from __future__ import annotations

import hashlib
from collections import Counter
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
from dmarc_core.rules.domains import display_domain
from dmarc_core.rules.wording import counted, within_sentence
from ui import session
from ui.pack_uploads import MANY_FILES
from ui.text import chart_label, chart_text, inert

STATUS_LABELS = {
    "read": "✅ read",
    "repaired": "🛠️ read with repairs",
    "refused": "⛔ refused",
    "failure_report": "📨 failure report: open it in the message check",
}
#: The files' expander counts these always, and failure reports where there are some.
_COUNTED = {"read": "read", "repaired": "read with repairs", "refused": "refused"}
#: Failure samples listed before their list scrolls in a box of its own.
_SAMPLES_UNBOXED = 8
_SAMPLE_COLUMNS = ("File", "Reported domain", "Source IP", "Arrival date", "Feedback type")
#: The columns' widths, the button's last: room for its whole label.
_SAMPLE_WIDTHS = (2.4, 2, 1.6, 2, 1.3, 2.9)
RECORD_PREVIEW = 1000
# The CSV's columns, less the long texts the senders table already shows.
PREVIEW_COLUMNS = [name for name in EXPORTED_COLUMNS if name not in ("explanation", "fix", "explorer_link")]
#: Results kept per filter state (sources, causes, days) for the last eight states.
_FILTER_RESULTS_KEPT = 24
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
    # The bar's place is kept on every run, read or not: an element that is there on the first run
    # alone would move every later one, and Streamlit would draw them all anew on the next rerun.
    slot = st.empty()
    if missing:
        bar = slot.progress(0.0, text="Reading reports…")

        def progress(done: int, total: int, outcome: FileOutcome) -> None:
            bar.progress(done / total, text=f"Read {done} of {total}: {inert(outcome.name)}")

        for (key, _), outcome in zip(missing, read_files([item for _, item in missing], progress=progress), strict=True):
            cache[key] = outcome
        slot.empty()
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
    count by identity: the memo holds them, so no other object can take their ``id`` meanwhile.
    With no filter (the rows are the triage itself) and no inputs, it is made once per triage."""
    if not inputs and selection.rows is st.session_state.triage_frame:
        return _once_per_triage(compute, selection.rows)
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
    counts = Counter(outcome.status for outcome in outcomes)
    label = ", ".join(f"{counts[status]} {words}" for status, words in _COUNTED.items())
    if counts["failure_report"]:
        label += f", {counted(counts['failure_report'], 'failure report')}"
    # Closed: the senders are what a person acts on; the label says whether any file was refused.
    refused = any(outcome.status == "refused" for outcome in outcomes)
    with st.expander(f"Files: {label}", icon=":material/warning:" if refused else None):
        st.dataframe(
            table, hide_index=True, width="stretch", column_config={"Details": st.column_config.TextColumn(width="large")}
        )


def upload_hint(dropped: int) -> None:
    """For many files dropped one by one: one .zip of them uploads in one request."""
    if dropped > MANY_FILES:
        st.caption(
            f"These {dropped:,} files were uploaded in a request each. Next time, drop one .zip of them: it uploads "
            "in one request and reaches this page several times sooner.",
            help="A .zip may hold .xml, .xml.gz, .eml and .zip files. The files list then counts the reports read from it "
            "and says why any part of it was refused.",
        )


def failure_samples(outcomes: list[FileOutcome]) -> None:
    """The failure reports among the files, each with a button that opens it in the message check."""
    samples = [found for outcome in outcomes for found in outcome.failure_reports]
    if not samples:
        return
    st.subheader("Failure samples")
    st.markdown(
        "A failure report carries one message that a receiver found failing DMARC, sent to the address in "
        "your record's ruf= tag: open one in the message check to see exactly why that message failed."
    )
    rows = st.container(height=460) if len(samples) > _SAMPLES_UNBOXED else st.container()
    for column, title in zip(rows.columns(_SAMPLE_WIDTHS)[:-1], _SAMPLE_COLUMNS, strict=True):
        column.markdown(f"**{title}**")
    for number, found in enumerate(samples):
        cells = rows.columns(_SAMPLE_WIDTHS, vertical_alignment="center")
        shown = (found.name, found.reported_domain, found.source_ip, found.arrival_date, found.feedback_type or "not stated")
        for cell, value in zip(cells[:-1], shown, strict=True):
            cell.text(value)  # the report's own text: shown as text, never as markdown
        if cells[-1].button("Open in the message check", key=f"failure_sample_{number}", icon=":material/mail_lock:"):
            session.open_in_message_check(found.name, found.data)


def nothing_to_triage(outcomes: list[FileOutcome]) -> None:
    """Why nothing is triaged when no file holds an aggregate report."""
    if any(outcome.failure_reports for outcome in outcomes):
        st.info(
            "No aggregate report among these files, so there is nothing to triage: the failure samples above "
            "each open in the message check.",
            icon=":material/mail_lock:",
        )
    else:
        st.error(
            "None of these files holds a readable DMARC aggregate report; the list above says why for each.",
            icon=":material/block:",
        )


def headline_metrics(selection: Selection) -> None:
    metrics(_once_per_filters(summary.headline, selection))


def metrics(figures: summary.Headline) -> None:
    """The headline figures, and the period and domains they cover."""
    with st.container(horizontal=True):
        st.metric("Messages", f"{figures.messages:,}", border=True)
        st.metric("DMARC pass rate", f"{figures.pass_rate:.1%}", help=_HEADLINE_RATE_HELP, border=True)
        st.metric("Failing messages", f"{figures.failing_messages:,}", border=True)
        st.metric(
            "Reports",
            f"{figures.reports:,}",
            help=f"The reports that hold these records ({counted(figures.record_count, 'record')}). The files list "
            "counts every report read, also those without a record and those that came twice.",
            border=True,
        )
    if figures.begin is not None and pd.notna(figures.begin):
        more = f" and {counted(len(figures.policy_domains) - 5, 'more domain')}" if len(figures.policy_domains) > 5 else ""
        st.caption(
            inert(f"From {figures.begin:%Y-%m-%d} to {figures.end:%Y-%m-%d}, for {', '.join(figures.policy_domains[:5])}{more}.")
        )


#: Why the headline's rate and the rollout plan's differ, said where each is shown.
_LEFT_OUT = f"{summary.ROLLOUT_LEAVES_OUT} (no DKIM or SPF pass for anyone, and no signature of yours)"
_HEADLINE_RATE_HELP = (
    "Of every message in these records, by the receiver's DMARC verdict (the rules' where it gave none). The rollout "
    f"readiness below leaves out {_LEFT_OUT}: its rate is your senders', and can differ."
)
_ROLLOUT_RATE_HELP = f"Your senders' rate: unlike the headline's, it leaves out {_LEFT_OUT}. "


def filtered(frame: pd.DataFrame) -> Selection:
    """The filter widgets, and the rows they keep: every table, figure and chart below shows those."""
    facts = knowledge()
    # A row that wraps rather than columns: the toggles keep their labels whole however narrow the page.
    row = st.container(horizontal=True, vertical_alignment="bottom")
    domains = _once_per_triage(summary.headline, frame).policy_domains
    domain = (
        row.selectbox("Policy domain", ["all", *domains], format_func=_domain_label, key="filter_domain", persist_state="session")
        if len(domains) > 1
        else "all"
    )
    causes = row.multiselect(
        "Causes",
        _once_per_triage(_causes_found, frame),
        format_func=cause_title,
        key="filter_causes",
        persist_state="session",
        placeholder="all causes",
        width=360,  # room for a cause's title: squeezed, a chosen one shrinks to its remove button
    )
    search = row.text_input("Search sender, IP or domain", key="filter_search", persist_state="session")
    given = _once_per_triage(summary.receiver_reasons, frame)
    reasons = (
        row.multiselect(
            "Receiver's reasons",
            given,
            format_func=facts.reason_titles.get,
            key="filter_reasons",
            persist_state="session",
            placeholder="any or none",
            width=280,
        )
        if given
        else []
    )
    failing_only = row.toggle("Failing only", key="filter_failing", persist_state="session")
    disagreeing_only = _once_per_triage(summary.disagreement, frame).records > 0 and row.toggle(
        "Receiver's verdict differs",
        key="filter_disagreeing",
        persist_state="session",
        help="Only the records whose receiver's verdict differs from the DKIM and SPF results it lists",
    )
    rows = summary.matching(
        frame,
        policy_domain=None if domain == "all" else domain,
        causes=causes,
        failing_only=failing_only,
        search=search,
        reasons=reasons,
        disagreeing_only=disagreeing_only,
    )
    return Selection(rows, (domain, tuple(causes), failing_only, search, tuple(reasons), disagreeing_only))


def _causes_found(frame: pd.DataFrame) -> list[str]:
    """The causes the records have, in the knowledge's order: a cause no record has filters nothing in."""
    found = set(frame["cause"].unique())
    return [cause for cause in knowledge().causes if cause in found]


def _domain_label(domain: str) -> str:
    return domain if domain == "all" else display_domain(domain)


def cause_title(cause: str) -> str:
    """A cause key by its title, as every table and chart shows it."""
    return knowledge().findings[cause].title


def _sources(rows: pd.DataFrame, enrichment: dict | None) -> pd.DataFrame:
    return linked_sources(summary.by_source(rows, enrichment, links=_explorer_links))


def linked_sources(table: pd.DataFrame) -> pd.DataFrame:
    """A sources table (``summary.by_source``) as drawn: Explorer and DNS links, causes by title."""
    # Relative to the app's root, so the links still work when the app is served under a path.
    table["explorer_link"] = "./?" + table["explorer_link"]
    checks = {domain: f"./check?{urlencode({'domain': domain})}" for domain in table["header_from"].unique()}
    table.insert(table.columns.get_loc("explorer_link") + 1, "check_link", table["header_from"].map(checks))
    # As categories, a text that repeats down the table (the fix above all) reaches the browser once;
    # the cause by its title, renamed once per cause.
    repeated = [
        name for name in ("source", "sender_kind", "header_from", "cause", "fix", "check_link", "reasons") if name in table
    ]
    table = table.astype(dict.fromkeys(repeated, "category"))
    table["cause"] = table["cause"].cat.rename_categories(cause_title)
    table["sender_kind"] = table["sender_kind"].cat.rename_categories(knowledge().sender_kind_title)
    return table


#: The senders table's columns, what a person acts on first: on a phone the first ones are in view.
SOURCE_ORDER = [
    "source",
    "failing",
    "cause",
    "sender_kind",
    "fix",
    "explorer_link",
    "check_link",
    "messages",
    "pass_rate",
    "header_from",
    "table_row",
    "reasons",
    "disagreeing",
    "ips",
    "addresses",
    "as_names",
    "host_names",
]


def sources_table(selection: Selection, enrichment: dict | None = None) -> None:
    """The senders and sources the filters keep, those with the most failing messages first; past
    ``SENDERS_SHOWN`` of them, the first so many unless all are asked for: the long tail of a big
    report (thousands of one-message sources) is for the search, and sending it with every filter
    change is most of a rerun's time in the browser."""
    table = _once_per_filters(_sources, selection, enrichment)
    if len(table) > SENDERS_SHOWN and not st.session_state.get("senders_all"):
        senders(table.head(SENDERS_SHOWN))
    else:
        senders(table)
    if len(table) > SENDERS_SHOWN:
        st.toggle(
            f"Show all {len(table):,} senders and sources",
            key="senders_all",
            help=f"Shown: the {SENDERS_SHOWN} with the most failing messages. The search and the filters above reach "
            "every one, and the CSV download holds every record.",
        )


#: Senders and sources drawn unless all are asked for.
SENDERS_SHOWN = 200


def senders(table: pd.DataFrame, hidden: tuple[str, ...] = ()) -> None:
    """A sources table (``linked_sources``) with its key columns first, less the ``hidden`` ones.
    Where the rows are of several From: domains, that column comes right after the seven a person
    acts on (all in view at 1400 px, the next one beginning): one sender is a row per domain, and the
    rows would read as the same one twice."""
    order = SOURCE_ORDER
    if "header_from" in table and table["header_from"].nunique() > 1:
        rest = [name for name in SOURCE_ORDER if name != "header_from"]
        order = [*rest[:7], "header_from", *rest[7:]]
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_order=[name for name in order if name in table.columns and name not in hidden],
        column_config={
            "source": st.column_config.TextColumn("Sender / source", width=190, pinned=True),  # "Unauthenticated addresses" whole
            "sender_kind": st.column_config.TextColumn("Kind", width=105, help=_KIND_HELP),
            "failing": st.column_config.NumberColumn("Failing", format="localized", width=70, help="Messages that fail DMARC"),
            "cause": st.column_config.TextColumn("Cause", width=165),
            "fix": st.column_config.TextColumn("What to do", width=170),  # a sentence, cut short at any width: read in its cell
            "explorer_link": st.column_config.LinkColumn("Explain", display_text="Open in Explorer", width=125),
            "check_link": st.column_config.LinkColumn("DNS", display_text="Check domain", width=110),
            "messages": st.column_config.NumberColumn("Messages", format="localized"),
            "pass_rate": st.column_config.ProgressColumn("DMARC pass", format="percent", min_value=0.0, max_value=1.0),
            "header_from": "From: domain",
            "table_row": st.column_config.NumberColumn(
                "Table row", format="%d", help="The row of the quick diagnosis table (the Guide); empty where none applies"
            ),
            "reasons": st.column_config.TextColumn("Receiver's reasons", help=knowledge().reasons_note),
            "disagreeing": st.column_config.NumberColumn(
                "Verdict differs",
                format="localized",
                help="Messages whose receiver's verdict differs from the DKIM and SPF results it lists",
            ),
            "ips": st.column_config.NumberColumn("IPs"),
            "addresses": st.column_config.TextColumn(
                "Busiest addresses", help="By messages; search an address to see its records"
            ),
            "as_names": "Network (AS)",
            "host_names": "Host names (PTR)",
        },
    )


#: The kinds of sender in words, for the Kind column's tooltip (markdown: a list).
_KIND_HELP = "\n".join(f"- **{kind.title}**: {kind.meaning}" for kind in knowledge().sender_kinds.values())


def receiver_verdict(selection: Selection) -> None:
    """A sentence on the receiver's reasons, and on the records where its verdict differs from its own results."""
    facts = knowledge()
    found = _once_per_filters(summary.disagreement, selection)
    sentences = [facts.reasons_note]
    if found.records:
        sentences.append(
            facts.disagreement_note.format(
                records=f"{found.records:,}",
                total=counted(found.total_records, "record"),
                messages=counted(found.messages, "message"),
            )
        )
    st.caption(" ".join(map(inert, sentences)))


def _readiness_table(frame: pd.DataFrame) -> pd.DataFrame:
    return summary.readiness_table(_once_per_triage(summary.rollout_readiness, frame))


def _assessments(frame: pd.DataFrame) -> dict[str, summary.Readiness]:
    return {assessment.domain: assessment for assessment in _once_per_triage(summary.rollout_readiness, frame)}


def readiness(frame: pd.DataFrame, selection: Selection) -> None:
    """The policy domains of the records the filters keep, each assessed on all its mail (a pass
    rate of failing mail alone would say nothing): one row per domain, and one in detail."""
    table = _once_per_filters(summary.for_domains_of, selection, _once_per_triage(_readiness_table, frame))
    if table.empty:
        st.info("These records name no policy domain.", icon=":material/domain_disabled:")
        return
    if selection.rows is not frame:
        st.caption("The filters choose the domains; each is assessed on all its mail, as receivers will judge it.")
    assessment_card(_once_per_triage(_assessments, frame)[readiness_rows(table, "readiness_domain")])


def readiness_rows(table: pd.DataFrame, key: str) -> str:
    """A readiness table (``summary.readiness_table``) when it has several domains, and a choice of
    one to see in detail (under ``key``): the domain chosen."""
    if len(table) == 1:
        return table["domain"].iloc[0]
    facts = knowledge()
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "domain": st.column_config.TextColumn("Domain", pinned=True),
            "policy": "Published",
            "step": st.column_config.NumberColumn(
                "Step", format=f"%d of {len(facts.rollout_plan)}", help="Of the rollout plan (the Guide)"
            ),
            # %g: a report of some hours covers 0.25 days, not "0"; whole days show no decimals.
            "days": st.column_config.NumberColumn("Days covered", format="%g"),
            "messages": st.column_config.NumberColumn("Messages", format="localized"),
            "pass_rate": st.column_config.ProgressColumn(
                "Pass rate", format="percent", min_value=0.0, max_value=1.0, help=_ROLLOUT_RATE_HELP + facts.threshold_note
            ),
            "ready": st.column_config.CheckboxColumn("Ready", help=_ready_help()),
            "next_record": st.column_config.TextColumn("Next record", width="large"),
        },
    )
    return st.selectbox("Details of", table["domain"], key=key)


def _ready_help() -> str:
    facts = knowledge()
    needs = facts.evidence
    return (
        f"Ready for the plan's next step: a pass rate of {facts.pass_rate_threshold:.0%} or more over {needs.days} days "
        f"of reports, from {needs.receivers} receivers and {needs.messages} messages at least, with no sender of yours "
        "failing with a real share before enforcing starts. At the last step (p=reject), ready means the same evidence "
        "shows it holds."
    )


def assessment_card(assessment: summary.Readiness) -> None:
    facts = knowledge()
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
                + "; ".join(
                    f"{source} ({within_sentence(cause_title(cause))}, {counted(count, 'message')})"
                    for source, cause, count in assessment.blockers
                )
            )


_POLICY_LABELS = {
    "policy_domain": "Domain",
    "p": "Policy (p=)",
    "adkim": "DKIM alignment (adkim=)",
    "aspf": "SPF alignment (aspf=)",
    "pct": "Percentage (pct=)",
    "reported_by": "Reported by",
}


def policies(frame: pd.DataFrame, selection: Selection) -> None:
    """The policies published by the domains of the records the filters keep."""
    table = _once_per_filters(
        summary.for_domains_of, selection, _once_per_triage(summary.published_policies, frame), "policy_domain"
    )
    st.dataframe(table, hide_index=True, width="stretch", column_config=_POLICY_LABELS)


CHART_TABS = ("Failing messages by cause", "Pass rate per day", "Failing messages per sender", "Disposition per day")


def charts(selection: Selection) -> None:
    """The chart of the open tab alone, drawn from small aggregates (a bar per cause, a point per
    day, a bar per day and sender or disposition): the others are made when their tab is opened."""
    by_cause, pass_rate, per_sender, disposition = st.tabs(CHART_TABS, key="chart_tab", on_change="rerun")
    if by_cause.open:
        with by_cause:
            cause_figures(_once_per_filters(summary.by_cause, selection))
    for tab, compute, draw in (
        (pass_rate, summary.pass_rate_by_day, pass_rate_chart),
        (per_sender, summary.failing_by_source_and_day, senders_chart),
        (disposition, summary.by_day, days_chart),
    ):
        if tab.open:
            day_chart(tab, _once_per_filters(compute, selection), draw)


def day_chart(tab, days: pd.DataFrame, draw: Callable[[pd.DataFrame], go.Figure]) -> None:
    """In ``tab``, the chart ``draw`` makes of ``days``, or why there is none."""
    if days.empty:
        tab.info(
            "No dated report among these records fails DMARC." if draw is senders_chart else "The reports carry no usable dates."
        )
    else:
        tab.plotly_chart(draw(days))


def cause_figures(causes: pd.DataFrame) -> None:
    """The aligned mail as a figure, the failing mail as a bar per cause: a bar of the aligned
    mail would dwarf the rest."""
    messages = int(causes["messages"].sum())
    aligned = int(causes.loc[causes["cause"] == "aligned", "messages"].sum())
    st.metric(
        "Aligned messages (DKIM passes and aligns)",
        f"{aligned:,} of {messages:,}",
        delta=f"{aligned / messages:.1%}" if messages else None,
        delta_arrow="off",
        delta_color="off",
        help="Messages of the cause Aligned: those whose DKIM was evaluated as pass (by the receiver; by the rules "
        "where it gave no verdict), whether or not a signature listed in the report shows it. The DMARC pass rate "
        "above also counts the mail that only SPF alignment passes, so it can be higher.",
    )
    failing = causes[causes["failing"] > 0]
    if failing.empty:
        st.success("No message among these fails DMARC.", icon=":material/check_circle:")
        return
    rows = failing["table_row"].map(lambda row: f" (row {row})" if pd.notna(row) else "")
    bar = go.Bar(
        x=failing["failing"],
        y=(failing["title"] + rows).map(chart_label),
        orientation="h",
        marker_color=failing["cause"].map(knowledge().cause_colors),
        customdata=failing["failing"].map(lambda count: counted(count, "failing message")),
        hovertemplate="%{y}: %{customdata}<extra></extra>",
    )
    # Room for labels of up to three lines each (chart_label) once a phone wraps them.
    height = max(450, 64 * len(failing))
    st.plotly_chart(
        go.Figure([bar]).update_layout(
            margin_t=60,
            height=height,
            xaxis_title_text="Messages that fail DMARC",
            xaxis_tickformat=",d",
            **({"xaxis_dtick": 1} if failing["failing"].max() <= 5 else {}),
            yaxis_categoryorder="total ascending",
        )
    )


def pass_rate_chart(days: pd.DataFrame) -> go.Figure:
    """The pass rate per day, the rollout plan's too, against the plan's threshold for p=reject."""
    threshold = knowledge().pass_rate_threshold
    lines = [
        go.Scatter(
            x=days["day"],
            y=days[column],
            name=name,
            mode="lines+markers",
            line_dash=dash,
            line_color=color,
            customdata=days["messages"].map(lambda count: counted(count, "message")),
            hovertemplate="%{x|%Y-%m-%d}: %{y:.1%} of %{customdata}<extra>%{fullData.name}</extra>",
        )
        for column, name, dash, color in (
            ("pass_rate", "All messages", "dot", "#8c959f"),
            ("rollout_pass_rate", "Your senders' (the rollout plan's measure)", "solid", "#1f6feb"),
        )
    ]
    figure = go.Figure(lines).update_layout(
        margin_t=60,
        **day_axis(days["day"]),
        yaxis_tickformat=".0%",
        yaxis_range=[0, 1.05],
        yaxis_title_text="DMARC pass rate",
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom"},  # above: below, it covers the axis's year
    )
    return figure.add_hline(
        y=threshold,
        line_dash="dash",
        line_color="#cf222e",
        annotation_text=f"{threshold:.0%}: the rollout plan's bar for p=reject",
        annotation_position="bottom left",
    )


def senders_chart(days: pd.DataFrame) -> go.Figure:
    grey = {summary.OTHER_SENDERS: "#8c959f"}
    return _stacked_days(
        days, "source", "failing messages", grey, legend_title_text="Sender", yaxis_title_text="Messages that fail DMARC"
    )


def days_chart(days: pd.DataFrame) -> go.Figure:
    return _stacked_days(days, "disposition", "messages", {}, legend_title_text="Disposition", yaxis_title_text="Messages")


def _stacked_days(days: pd.DataFrame, by: str, unit: str, colors: dict[str, str], **layout) -> go.Figure:
    """Messages per day, a bar for each value of ``by`` (``colors`` fixes some), stacked."""
    bars = [
        go.Bar(
            x=rows["day"],
            y=rows["messages"],
            name=chart_text(value),
            marker_color=colors.get(value),
            hovertemplate=f"%{{x|%Y-%m-%d}}: %{{y:,}} {unit}<extra>%{{fullData.name}}</extra>",
        )
        for value, rows in days.groupby(by, sort=False)
    ]
    return _figure(bars, days, **layout)


def _figure(bars: list[go.Bar], days: pd.DataFrame, **layout) -> go.Figure:
    """Messages per day in bars, stacked, with the top margin of plotly express, a legend even for
    one kind of bar, and ticks on whole days and whole messages."""
    most = days.groupby("day")["messages"].sum().max()
    whole = {"yaxis_dtick": 1} if most <= 5 else {}  # plotly's own steps would be 0.5 messages
    figure = go.Figure(bars).update_traces(width=_BAR_WIDTH_MS)  # one bar alone would be a millisecond wide
    return figure.update_layout(
        barmode="relative", margin_t=60, showlegend=True, **day_axis(days["day"]), yaxis_tickformat=",d", **whole, **layout
    )


_BAR_WIDTH_MS = 0.8 * 86_400_000


def day_axis(days: pd.Series) -> dict:
    """Ticks on whole days: for a day or a few, plotly's own fall between them (to sub-milliseconds)."""
    span = (days.max() - days.min()).days
    if span > 14:
        return {"xaxis_tickformat": "%b %d\n%Y"}
    half_day = pd.Timedelta(hours=12)
    return {
        "xaxis_tickformat": "%b %d, %Y",
        "xaxis_dtick": 86_400_000,
        "xaxis_range": [days.min() - half_day, days.max() + half_day],
    }


#: The records' columns by their titles; a column not named here keeps its own name.
RECORD_LABELS = {
    "file": "File",
    "org_name": "Receiver",
    "report_id": "Report ID",
    "begin": "Begins",
    "end": "Ends",
    "policy_domain": "Policy domain",
    "p": "Policy (p=)",
    "adkim": "adkim=",
    "aspf": "aspf=",
    "pct": "pct=",
    "source_ip": "Source IP",
    "count": "Messages",
    "header_from": "From: domain",
    "envelope_from": "Envelope from",
    "envelope_to": "Envelope to",
    "disposition": "Disposition",
    "reported_dkim": "Receiver's DKIM verdict",
    "reported_spf": "Receiver's SPF verdict",
    "reason": "Receiver's reasons",
    "reason_comment": "Receiver's comment",
    "dkim": "DKIM results",
    "dkim_selectors": "DKIM selectors",
    "spf": "SPF results",
    "dmarc_pass": "DMARC pass",
    "dkim_aligned": "DKIM aligned",
    "spf_aligned": "SPF aligned",
    "disagrees": "Verdict differs",
    "cause": "Cause",
    "table_row": "Table row",
    "enforced_before_fix": "Enforced before the fix (root cause 5)",
    "finding": "Finding",
    "sender": "Known sender",
    "source": "Sender / source",
    "sender_kind": "Kind",
}


def _record_preview(rows: pd.DataFrame) -> pd.DataFrame:
    """The first records, the cause, kind, finding and reasons in words."""
    facts = knowledge()
    findings = facts.findings
    shown = rows.head(RECORD_PREVIEW)[PREVIEW_COLUMNS]
    return shown.assign(
        cause=shown["cause"].map(cause_title),
        sender_kind=shown["sender_kind"].map(facts.sender_kind_title),
        finding=shown["finding"].map(lambda key: findings[key].title),
        reason=shown["reason"].map(summary.reason_text),
    )


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
        config = {name: RECORD_LABELS.get(name, name) for name in PREVIEW_COLUMNS}
        config["table_row"] = st.column_config.NumberColumn("Table row", format="%d")
        st.dataframe(_once_per_filters(_record_preview, selection), hide_index=True, column_config=config)
