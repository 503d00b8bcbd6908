"""The Explorer's inputs: a scenario put into the widgets' state and read back from it, and the
widgets for what a receiver's report said. Only presentation: the scenario's rules are in
dmarc_core."""

from __future__ import annotations

import streamlit as st

from dmarc_core import Scenario, scenario_from_query
from dmarc_core.rules.scenario import MAX_SIGNATURES, REASONS

NOT_REPORTED = "not given"
state = st.session_state


def set_signatures(signatures: list[tuple[str, str]]) -> None:
    state.dkim_count = max(1, len(signatures))
    for index in range(MAX_SIGNATURES):
        domain, result = signatures[index] if index < len(signatures) else ("", "pass")
        state[f"dkim_domain_{index}"], state[f"dkim_result_{index}"] = domain, result


def load(scenario: Scenario) -> None:
    """Put a scenario into the input widgets."""
    state.from_domain = scenario.from_domain
    set_signatures(list(scenario.dkim))
    state.spf_domain, state.spf_result = scenario.spf or ("", "pass")
    state.adkim, state.aspf = scenario.adkim, scenario.aspf
    state.reported_dkim = scenario.reported_dkim or NOT_REPORTED
    state.reported_spf = scenario.reported_spf or NOT_REPORTED
    state.reasons = list(scenario.reasons)


def from_inputs() -> Scenario:
    signatures = tuple(
        (state[f"dkim_domain_{i}"].strip(), state[f"dkim_result_{i}"])
        for i in range(state.dkim_count)
        if state[f"dkim_domain_{i}"].strip()
    )
    spf = (state.spf_domain.strip(), state.spf_result) if state.spf_domain.strip() else None
    reported = [None if state[name] == NOT_REPORTED else state[name] for name in ("reported_dkim", "reported_spf")]
    return Scenario(state.from_domain.strip(), signatures, spf, state.adkim, state.aspf, *reported, tuple(state.reasons))


def apply_preset(query: str) -> None:
    load(scenario_from_query(query)[0])


def add_signature() -> None:
    state.dkim_count = min(MAX_SIGNATURES, state.dkim_count + 1)


def remove_signature(index: int) -> None:
    set_signatures([(state[f"dkim_domain_{i}"], state[f"dkim_result_{i}"]) for i in range(state.dkim_count) if i != index])


def report_row() -> None:
    """What the receiver's report said of the row being reproduced: its verdicts and reasons."""
    # Open when a link set any of it: what flips the verdict is then in sight.
    given = state.reported_dkim != NOT_REPORTED or state.reported_spf != NOT_REPORTED or bool(state.reasons)
    with st.expander("Reproducing a report row?", expanded=given):
        for name, label in (("reported_dkim", "policy_evaluated dkim"), ("reported_spf", "policy_evaluated spf")):
            st.selectbox(
                f"The receiver's {label}",
                (NOT_REPORTED, "pass", "fail"),
                key=name,
                help="Give what the report said to compare it with the rules.",
                persist_state="session",
            )
        st.multiselect("The receiver's reasons", REASONS, key="reasons", placeholder="none given", persist_state="session")
