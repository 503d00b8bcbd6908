"""Alignment Explorer: what a message carried in, the DMARC verdict and why."""

import streamlit as st

from dmarc_core import knowledge, scenario_from_params
from dmarc_core.rules.alignment import DKIM_RESULTS, SPF_RESULTS
from ui import explain
from ui.explorer_inputs import MAX_SIGNATURES, add_signature, apply_preset, from_inputs, load, remove_signature, report_row
from ui.text import inert

state = st.session_state

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
    report_row()

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
