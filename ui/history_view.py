"""Drawing the History page: which history file, opening it, and the answers of
``dmarc_core.history.queries`` as figures, tables and the triage's own charts.

Which file: ``streamlit run app.py -- --store PATH`` (Streamlit hands the arguments after ``--``
to the script as ``sys.argv``), else ``$DMARC_STORE``. With neither, the app is hosted: nothing
is stored on the server, and the visitor brings their history file with their new reports.

Report content is hostile: it reaches the page only through dataframes, charts (``chart_text``)
``st.text`` and ``inert`` markdown, as on the triage.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dmarc_core import knowledge
from dmarc_core.analysis import summary
from dmarc_core.history import queries
from dmarc_core.history.ingest import IngestOutcome, ingest_files
from dmarc_core.history.store import STORE_ENV, Store, StoreBusy, StoreError
from dmarc_core.rules.wording import counted
from ui import triage_view
from ui.pack_uploads import PACKING_HELP, uploaded_files
from ui.text import chart_text, inert

T = TypeVar("T")
#: Answers kept per session: a widget change asks again only what it changed.
_ANSWERS_KEPT = 48
#: Seconds between looks at a history file an ingest or a fetch is writing.
_BUSY_RETRY_SECONDS = 3
#: Seconds between looks for new reports in the history file while the page is open.
FOLLOW_SECONDS = 10
#: A DuckDB file says so in its first bytes (its header's magic, at offset 8).
_DUCKDB_MAGIC = (8, b"DUCK")
HISTORY_FILE_NAME = "dmarc-history.duckdb"


def configured_store(argv: list[str] | None = None) -> str | None:
    """The history file the server was started with: ``--store PATH`` among the script's
    arguments (``streamlit run app.py -- --store PATH``), else ``$DMARC_STORE``; None when hosted."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--store")
    given, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    return given.store or os.environ.get(STORE_ENV, "").strip() or None


def open_read_only(path: str | Path) -> Store:
    """The history file, opened read-only for this run; else the page says why and stops. While an
    ingest or a fetch writes it, the page says so and looks again every few seconds."""
    path = Path(path)
    if not path.exists():
        st.info(
            f"No history file at {inert(path)} yet. Add reports to it with the command below, or fetch them from "
            "your report mailbox with `python -m dmarc_core fetch`; this page then shows them.",
            icon=":material/history:",
        )
        st.code(f"python -m dmarc_core ingest FILES... --store {path}", language="bash")
        st.stop()
    try:
        return Store(path, read_only=True)
    except StoreBusy:
        st.info(
            "The history file is being written by an ingest or fetch; this page shows it again in a moment.",
            icon=":material/hourglass_top:",
        )
        _when_free(str(path))
    except StoreError as problem:
        st.error(inert(problem), icon=":material/block:")
    st.stop()


@st.fragment(run_every=_BUSY_RETRY_SECONDS)
def _when_free(path: str) -> None:
    try:
        Store(path, read_only=True).close()
    except StoreBusy:
        return
    st.rerun()


def follow_writes(path: str | Path) -> None:
    """Draw the page again when an ingest or a fetch (``fetch --watch``) has changed the history
    file since this run drew it: an open page follows the new reports without a click."""
    _follow(str(path), _file_state(Path(path)))


@st.fragment(run_every=FOLLOW_SECONDS)
def _follow(path: str, drawn: tuple) -> None:
    if _file_state(Path(path)) != drawn:
        st.rerun()


def _file_state(path: Path) -> tuple:
    """What changes when the history file does: the file's and its write-ahead log's times and sizes."""
    wal = path.with_name(path.name + ".wal")
    return tuple((found.st_mtime_ns, found.st_size) if (found := _stat(file)) else None for file in (path, wal))


def _stat(path: Path):
    try:
        return path.stat()
    except FileNotFoundError:
        return None


def ask(store: Store, query: Callable[..., T], *arguments) -> T:
    """``query(store, *arguments)``, asked once per state of the history file in this session."""
    key = (str(store.path), _file_state(store.path), query, arguments)
    answers = st.session_state.setdefault("history_answers", {})
    if key not in answers:
        answers[key] = query(store, *arguments)
        while len(answers) > _ANSWERS_KEPT:
            del answers[next(iter(answers))]
    return answers[key]


# --- hosted: the visitor's own file ------------------------------------------------------------------


def is_history_file(data: bytes) -> bool:
    offset, magic = _DUCKDB_MAGIC
    return data[offset : offset + len(magic)] == magic


def hosted_history() -> Path | None:
    """The visitor's history file and new reports: the file copied into a folder of this session's,
    the reports ingested into it, and a button to download it back. None while nothing is dropped."""
    st.markdown(
        "Nothing is stored on this server. Drop the history file you keep (`.duckdb`) together with your new "
        "report files: the reports are added to a copy of it, this page shows the weeks it holds, and you "
        "download the updated file to bring next time."
    )
    uploads = st.file_uploader(
        "Your history file and new reports", accept_multiple_files=True, key="history_uploads", help=PACKING_HELP
    )
    files = uploaded_files(uploads)
    if not files:
        st.info(
            "Start a history: drop your reports here; download the file and bring it next time, with the reports "
            "that arrived meanwhile.",
            icon=":material/upload_file:",
        )
        return None
    state = st.session_state
    key = hashlib.sha256(b"".join(hashlib.sha256(name.encode() + b"\0" + data).digest() for name, data in files)).hexdigest()
    if state.get("history_files_key") != key:
        histories = [(name, data) for name, data in files if is_history_file(data)]
        if len(histories) > 1:
            st.error("Drop one history file at a time, with any number of reports.", icon=":material/block:")
            return None
        posing = [name for name, data in files if name.lower().endswith(".duckdb") and not is_history_file(data)]
        if posing:  # never start a new history in place of the one the visitor meant to bring
            st.error(
                f"{inert(posing[0])} is named like a history file but is not a DuckDB file: nothing was added. "
                "Drop the history file this page gave you (or only reports, to start a new one).",
                icon=":material/block:",
            )
            return None
        workspace = tempfile.TemporaryDirectory(prefix="dmarc-history-")  # removed with the session's state
        path = Path(workspace.name) / HISTORY_FILE_NAME
        if histories:
            path.write_bytes(histories[0][1])
        try:
            outcomes = _ingest(path, [(name, data) for name, data in files if not is_history_file(data)])
        except StoreError as problem:  # said of the visitor's file, never of this server's folder
            brought = histories[0][0] if histories else "The history"
            st.error(f"{inert(brought)}: {inert(str(problem).replace(str(path), 'the file').strip())}", icon=":material/block:")
            return None
        state.history_workspace, state.history_path, state.history_outcomes = workspace, path, outcomes
        state.history_files_key = key
    _ingested(state.history_outcomes)
    path = state.history_path
    st.download_button(
        "Download your updated history file",
        data=path.read_bytes,  # read when the button is pressed
        file_name=HISTORY_FILE_NAME,
        mime="application/octet-stream",
        icon=":material/download:",
        on_click="ignore",
        type="primary",
    )
    return path


def _ingest(path: Path, reports: list[tuple[str, bytes]]) -> list[IngestOutcome]:
    with Store(path) as store:
        if not reports:
            return []
        bar = st.progress(0.0, text="Adding reports to your history…")

        def progress(done: int, total: int, outcome: IngestOutcome) -> None:
            bar.progress(done / total, text=f"Added {done} of {total}: {inert(outcome.name)}")

        outcomes = ingest_files(store, reports, progress)
        bar.empty()
        return outcomes


def _ingested(outcomes: list[IngestOutcome]) -> None:
    if not outcomes:
        st.caption("No new report among the files: the history as it was.")
        return
    added = sum(outcome.added for outcome in outcomes)
    held = sum(outcome.already_held for outcome in outcomes)
    with st.expander(f"Files: {counted(added, 'report')} added, {held:,} already in the history"):
        st.text("\n".join(outcome.line for outcome in outcomes))


# --- the history ---------------------------------------------------------------------------------------


#: The periods the page shows, in days up to the history's last day; the last three months by
#: default, so a few old reports in the file do not squeeze the weeks that matter into a corner.
PERIODS = {"Last 4 weeks": 28, "Last 3 months": 91, "Last 12 months": 365, "Everything": None}


def period_choice(held: queries.Coverage) -> dt.date | None:
    """The first day everything below shows (None: the whole history), counted back from the last
    day ``held`` covers: the chosen policy domain's, so that a domain reported long before the
    others still shows its last weeks."""
    chosen = st.selectbox(
        "Period",
        list(PERIODS),
        index=1,
        key="history_period",
        width=260,
        help="Counted back from the last day of the chosen policy domain's reports",
    )
    days = PERIODS[chosen]
    return None if days is None or held.last_day is None else held.last_day - dt.timedelta(days=days - 1)


def domain_choice(store: Store) -> str | None:
    """The policy domain everything below shows (None: all of them)."""
    domains = ask(store, queries.policy_domains)
    if len(domains) < 2:
        return None
    chosen = st.selectbox("Policy domain", ["all", *domains], key="history_domain")
    return None if chosen == "all" else chosen


def _change(before: float | None, after: float | None, written: str) -> str | None:
    """The change from ``before`` to ``after`` as a metric's delta; none when either is unknown, or
    when nothing changed (an arrow on "+0.0" would point at a change)."""
    return None if before is None or after is None or before == after else written.format(after - before)


def coverage(held: queries.Coverage) -> None:
    with st.container(horizontal=True):
        st.metric("Messages", f"{held.messages:,}", border=True)
        st.metric("DMARC pass rate", f"{held.pass_rate:.1%}" if held.messages else "–", border=True)
        st.metric("Failing messages", f"{held.failing_messages:,}", border=True)
        st.metric("Reports", f"{held.reports:,}", border=True)
        st.metric("Records", f"{held.records:,}", border=True)
    if held.first_day:
        days = (held.last_day - held.first_day).days + 1
        span = f"{days / 365.25:,.1f} years" if days >= 730 else f"{days / 7:,.1f} weeks" if days >= 14 else counted(days, "day")
        st.caption(f"From {held.first_day:%Y-%m-%d} to {held.last_day:%Y-%m-%d} ({span}), by the days the reports begin.")


def pass_rate(days: pd.DataFrame) -> None:
    st.plotly_chart(triage_view.pass_rate_chart(days), key="history_pass_rate")


#: The columns of the senders tables, by their titles.
_SENDER_COLUMNS = {
    "source": st.column_config.TextColumn("Sender / source", pinned=True),
    "sender_kind": "Kind",
    "failing": st.column_config.NumberColumn("Failing", format="localized"),
    "messages": st.column_config.NumberColumn("Messages", format="localized"),
    "pass_rate": st.column_config.ProgressColumn("DMARC pass", format="percent", min_value=0.0, max_value=1.0),
    "weekly_pass_rate": st.column_config.LineChartColumn(
        "Pass rate per week",
        y_min=0.0,
        y_max=1.0,
        width="medium",
        help="Each week the sender sent mail, from the first to the last (weeks without mail are left out)",
    ),
    "first_day": st.column_config.DateColumn("First seen"),
    "last_day": st.column_config.DateColumn("Last seen"),
}


def _senders(table: pd.DataFrame) -> None:
    table = table.assign(sender_kind=table["sender_kind"].map(knowledge().sender_kind_title))
    st.dataframe(table, hide_index=True, width="stretch", column_config=_SENDER_COLUMNS)


def senders_over_weeks(table: pd.DataFrame) -> None:
    """The senders with the most failing messages, each with its pass rate per week as a line."""
    if table.empty:
        st.info("No sender in the history.")
    else:
        _senders(table)


def new_senders(found: queries.NewSenders) -> None:
    if found.since is None:
        return
    if found.senders.empty:
        st.success(f"No sender seen for the first time since {found.since:%Y-%m-%d}.", icon=":material/check_circle:")
    else:
        _senders(found.senders)
    addresses = (
        f" {counted(found.unauthenticated_addresses, 'address', 'addresses')} nothing "
        f"authenticated sent for the first time too ({counted(found.unauthenticated_messages, 'message')}): "
        f"they count as {summary.UNAUTHENTICATED.lower()}."
        if found.unauthenticated_addresses
        else ""
    )
    st.caption(
        f"Senders whose first report is on or after {found.since:%Y-%m-%d}, the last week of the reports shown.{addresses}"
    )


def fix_inputs(store: Store, domain: str | None, held: queries.Coverage) -> tuple[str, dt.date] | None:
    """The sender and the date of a fix, chosen; the date among the days ``held`` covers (the policy
    domain's), by default one that compares the sender's mail with its mail (``suggested_fix_day``), kept for each
    domain and sender apart: a person fixes one sender on one day and another on another."""
    choices = ask(store, queries.sources, domain)
    if not choices or held.first_day is None:
        return None
    source_column, day_column = st.columns([2, 1])
    source = source_column.selectbox(
        "Sender or source", choices, key="history_fix_source", help="The most failing messages first"
    )
    # Streamlit forgets a widget not drawn in a run: each date picked is kept here, to come back to.
    picked = st.session_state.setdefault("history_fix_days", {})
    default = picked.get((domain, source)) or ask(store, queries.suggested_fix_day, source, domain) or held.last_day
    day = day_column.date_input(
        "Fixed on",
        value=min(max(default, held.first_day), held.last_day),
        min_value=held.first_day,
        max_value=held.last_day,
        key=f"history_fix_day:{domain or ''}:{source}",
        help="By default, a day with the sender's mail both in the two weeks before it and from it on, where it has such a day.",
    )
    picked[domain, source] = day
    return source, day


def fix_result(fix: queries.FixCheck) -> None:
    """Before against after in figures, and the sender's pass rate per day with the date marked;
    where one side holds none of the sender's mail, that said instead of a comparison with nothing."""
    before, after = fix.before, fix.after
    reported = fix.days.loc[fix.days["messages"] > 0, "day"]
    if len(reported) == 1:
        st.info(
            inert(f"{fix.source} was reported on one day only ({reported.iloc[0]:%Y-%m-%d}): there is nothing to compare yet."),
            icon=":material/info:",
        )
        return
    with st.container(horizontal=True):
        st.metric(
            "Failing messages per day reported",
            "–" if after.failing_per_day is None else f"{after.failing_per_day:,.1f}",
            delta=_change(before.failing_per_day, after.failing_per_day, "{:+,.1f}"),
            delta_color="inverse",
            border=True,
        )
        st.metric(
            "DMARC pass rate",
            "–" if after.pass_rate is None else f"{after.pass_rate:.1%}",
            delta=_change(before.pass_rate, after.pass_rate, "{:+.1%}"),
            border=True,
        )
        st.metric(
            "Failing messages", f"{after.failing:,}", help=f"Before: {before.failing:,} of {before.messages:,}", border=True
        )
    after_text = (
        f"from {after.first_day:%Y-%m-%d} to {after.last_day:%Y-%m-%d}, {after.failing:,} of "
        f"{counted(after.messages, 'message')} failed on {counted(after.days_reported, 'day')} reported"
    )
    if not before.messages:
        st.info(
            inert(
                f"None of {fix.source}'s mail was reported in the {queries.FIX_WINDOW_DAYS} days before {fix.day:%Y-%m-%d}: "
                f"there is nothing to compare its mail from then on against. Its mail {after_text}."
                if after.messages
                else f"None of {fix.source}'s mail was reported within {queries.FIX_WINDOW_DAYS} days of {fix.day:%Y-%m-%d}: "
                "its days reported are the dots on the chart below."
            ),
            icon=":material/info:",
        )
    elif not after.messages:
        st.info(
            inert(
                f"None of {fix.source}'s mail was reported from {fix.day:%Y-%m-%d} to {after.last_day:%Y-%m-%d}: nothing says yet "
                f"whether the fix worked. In the {counted((before.last_day - before.first_day).days + 1, 'day')} before, "
                f"{before.failing:,} of {counted(before.messages, 'message')} failed."
            ),
            icon=":material/info:",
        )
    else:
        st.caption(
            inert(
                f"{fix.source}: {after_text}; in the {counted((before.last_day - before.first_day).days + 1, 'day')} before, "
                f"{before.failing:,} of {counted(before.messages, 'message')} on {counted(before.days_reported, 'day')}. "
                "The changes are against those days."
            )
        )
    if fix.days["messages"].sum() == 0:
        return
    figure = triage_view.pass_rate_chart(fix.days)
    marked = pd.Timestamp(fix.day).value // 1_000_000  # plotly's date axis counts milliseconds
    figure.add_vline(x=marked, line_color="#8250df", line_width=2)
    figure.add_annotation(  # at the foot of the line: the legend takes the top of the chart
        x=marked,
        y=0,
        yref="paper",
        text=chart_text(f" fixed on {fix.day:%Y-%m-%d}"),
        showarrow=False,
        xanchor="left",
        yanchor="bottom",
    )
    st.plotly_chart(figure, key="history_fix_chart")


def rollout(store: Store, domain: str | None, since: dt.date | None = None) -> None:
    """Per domain, the policy published over time and the plan's step, and where the latest two
    weeks of reports put it now (the triage's own assessment)."""
    assessments = {assessment.domain: assessment for assessment in ask(store, queries.current_readiness)}
    table = summary.readiness_table(assessments.values())
    if domain is not None:
        table = table[table["domain"] == domain]
    chosen = triage_view.readiness_rows(table, "history_readiness_domain") if not table.empty else domain
    if chosen is None:
        st.info("No report of the history names a policy domain: nothing says where one stands.")
        return
    periods = ask(store, queries.policy_periods, chosen, since)
    plan = knowledge().rollout_plan
    if not periods.empty:
        now = periods.iloc[-1]
        st.markdown(
            inert(
                f"{chosen}: p={now['p']}" + (f"; pct={now['pct']}" if now["pct"] < 100 else "") + f" since "
                f"{queries.published_since(periods):%Y-%m-%d}, as the receivers' reports quote it; each policy before, "
                "and the plan's step it was:"
            )
        )
        st.plotly_chart(_steps_chart(periods), key="history_steps_chart")
        st.dataframe(
            # pct= applies to quarantine and reject (RFC 7489 6.3): under p=none it says nothing.
            periods.drop(columns="policy_domain").assign(
                pct=[f"{pct}%" if p != "none" else "" for p, pct in zip(periods["p"], periods["pct"], strict=True)]
            ),
            hide_index=True,
            width="stretch",
            column_config={
                "p": "Policy (p=)",
                "pct": st.column_config.TextColumn("pct="),
                "step": st.column_config.NumberColumn(
                    "Step", format=f"%d of {len(plan)}", help="Of the rollout plan (the Guide)"
                ),
                "first_day": st.column_config.DateColumn("From"),
                "last_day": st.column_config.DateColumn("To"),
                "days_reported": st.column_config.NumberColumn("Days reported"),
                "reports": st.column_config.NumberColumn("Reports", format="localized"),
            },
        )
    if chosen in assessments:
        last_day = ask(store, queries.coverage, chosen).last_day
        up_to = f" (up to {last_day:%Y-%m-%d})" if last_day else ""
        st.caption(inert(f"Now, by {chosen}'s last {queries.READINESS_DAYS} days of reports{up_to}:"))
        triage_view.assessment_card(assessments[chosen])
    else:
        st.info(inert(f"No report of {chosen} in the history says where it stands now."))


def _steps_chart(periods: pd.DataFrame) -> go.Figure:
    """The plan's step over time, a level per period of one published policy."""
    plan = knowledge().rollout_plan
    ends = periods.assign(first_day=periods["last_day"])
    points = pd.concat([periods, ends]).sort_values(["first_day"], kind="stable")
    labels = [f"p={p}" + (f"; pct={pct}" if pct < 100 else "") for p, pct in zip(points["p"], points["pct"], strict=True)]
    line = go.Scatter(
        x=pd.to_datetime(points["first_day"]),
        y=points["step"],
        mode="lines+markers",
        line_shape="hv",
        line_color="#1f6feb",
        text=[chart_text(label) for label in labels],
        hovertemplate="%{x|%Y-%m-%d}: step %{y}, %{text}<extra></extra>",
    )
    return go.Figure([line]).update_layout(
        height=320,
        margin_t=30,
        **triage_view.day_axis(pd.to_datetime(points["first_day"])),
        yaxis={
            "range": [0.5, len(plan) + 0.5],
            "tickvals": [step.step for step in plan],
            "ticktext": [
                f"{step.step}: p={step.policy}" + (f" pct={step.pct}" if step.pct and step.pct < 100 else "") for step in plan
            ],
            "title_text": "Rollout plan step",
        },
    )
