"""Alignment Explorer: what a message carried in, the DMARC verdict and why."""

import streamlit as st

from dmarc_core import Scenario, knowledge, scenario_from_params, scenario_from_query
from dmarc_core.rules.alignment import DKIM_RESULTS, SPF_RESULTS
from ui import explain
from ui.text import inert

MAX_SIGNATURES = 5
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


def from_inputs() -> Scenario:
    signatures = tuple(
        (state[f"dkim_domain_{i}"].strip(), state[f"dkim_result_{i}"])
        for i in range(state.dkim_count)
        if state[f"dkim_domain_{i}"].strip()
    )
    spf = (state.spf_domain.strip(), state.spf_result) if state.spf_domain.strip() else None
    reported = None if state.reported_dkim == NOT_REPORTED else state.reported_dkim
    return Scenario(state.from_domain.strip(), signatures, spf, state.adkim, state.aspf, reported)


def apply_preset(query: str) -> None:
    load(scenario_from_query(query)[0])


def add_signature() -> None:
    state.dkim_count = min(MAX_SIGNATURES, state.dkim_count + 1)


def remove_signature(index: int) -> None:
    set_signatures([(state[f"dkim_domain_{i}"], state[f"dkim_result_{i}"]) for i in range(state.dkim_count) if i != index])


# A link (or a Guide/triage page link) brings parameters the inputs do not show yet: load them.
params = st.query_params.to_dict()
if "from_domain" not in state or (params and params != state.get("explorer_params")):
    scenario, problems = scenario_from_params(params)
    load(scenario)
    state.link_problems = problems

st.title("Alignment Explorer")
st.markdown(knowledge().intro)
for problem in state.get("link_problems", []):
    st.warning(f"This link had a value that could not be used: {inert(problem)}", icon=":material/link_off:")

st.markdown("**Try a scenario from the article:**")
with st.container(horizontal=True):  # wraps, so no title is cut short on a narrow screen
    for preset in knowledge().scenarios:
        st.button(preset.title, key=f"preset_{preset.key}", on_click=apply_preset, args=(preset.query,))

verdict = st.container()  # filled once the inputs are read: first on the page, also on a phone
inputs, results = st.columns([2, 3], gap="large")
with inputs:
    st.subheader("What the message carried")
    st.text_input("From: domain or address", key="from_domain", placeholder="user@example.com", persist_state="session")
    st.markdown("**DKIM signatures** (the d= domain and the verification result)")
    for index in range(state.dkim_count):
        domain_col, result_col, remove_col = st.columns([5, 3, 1], vertical_alignment="bottom")
        domain_col.text_input(
            f"DKIM d= #{index + 1}", key=f"dkim_domain_{index}", placeholder="mail.example.com", persist_state="session"
        )
        result_col.selectbox(f"Result #{index + 1}", DKIM_RESULTS, key=f"dkim_result_{index}", persist_state="session")
        remove_col.button(
            "",
            key=f"remove_{index}",
            icon=":material/delete:",
            help="Remove this signature",
            on_click=remove_signature,
            args=(index,),
            disabled=state.dkim_count == 1,
        )
    st.button("Add a signature", icon=":material/add:", on_click=add_signature, disabled=state.dkim_count >= MAX_SIGNATURES)
    spf_domain_col, spf_result_col = st.columns([5, 4])
    spf_domain_col.text_input(
        "SPF MAIL FROM domain", key="spf_domain", placeholder="bounces.example.com (optional)", persist_state="session"
    )
    spf_result_col.selectbox("SPF result", SPF_RESULTS, key="spf_result", persist_state="session")
    adkim_col, aspf_col = st.columns(2)
    mode_label = {"r": "r: relaxed", "s": "s: strict"}.get
    adkim_col.radio("adkim", ("r", "s"), key="adkim", format_func=mode_label, horizontal=True, persist_state="session")
    aspf_col.radio("aspf", ("r", "s"), key="aspf", format_func=mode_label, horizontal=True, persist_state="session")
    with st.expander("Reproducing a report row?"):
        st.selectbox(
            "The receiver's policy_evaluated dkim",
            (NOT_REPORTED, "pass", "fail"),
            key="reported_dkim",
            help="Give what the report said to compare it with the rules.",
            persist_state="session",
        )

scenario = from_inputs()
state.explorer_params = scenario.to_params()
st.query_params.from_dict(state.explorer_params)

with verdict:
    if not scenario.from_domain:
        st.info(
            "Type the From: domain (or a whole address) and the DKIM d= domains the message was signed with, "
            "or pick one of the scenarios above.",
            icon=":material/arrow_downward:",
        )
        st.stop()
    try:
        evaluation = scenario.evaluate()
    except ValueError as problem:
        st.error(f"**That input is not usable yet.** {inert(problem)}", icon=":material/error:")
        st.stop()
    explain.verdict(evaluation)
with results:
    st.markdown("#### Why")
    explain.from_row(evaluation)
    for result in evaluation.dkim:
        explain.identifier_row(result)
    if evaluation.spf:
        explain.identifier_row(evaluation.spf)
    if not evaluation.dkim and not evaluation.spf:
        st.caption("No DKIM signature and no SPF result: nothing can make DMARC pass.")
    diagnosis = evaluation.diagnosis
    if diagnosis.cause != "aligned":
        if evaluation.fragile:
            st.warning(evaluation.fragile, icon=":material/warning:")
        explain.cause_and_fix(evaluation)
    st.markdown("#### Quick diagnosis table")
    explain.show_diagnosis_table(diagnosis.table_row)
    if not diagnosis.table_row:
        st.caption("No row of the table applies: " + inert(diagnosis.finding.summary))
    st.markdown("#### Share")
    st.code(f"{st.context.url.split('?')[0] if st.context.url else ''}?{scenario.query_string()}", language=None, wrap_lines=True)
