"""Guide: the article's root causes, quick diagnosis table, rollout plan and FAQ, each scenario
one click away from the Explorer."""

import pandas as pd
import streamlit as st

from dmarc_core import knowledge, scenario_from_query
from dmarc_core.rules.scenario import scenarios_by_table_row
from ui import explain

facts = knowledge()
presets = {preset.key: scenario_from_query(preset.query)[0] for preset in facts.scenarios}

st.title("Guide: DKIM passes, DMARC fails")
st.markdown(facts.intro)

st.header("Alignment modes")
st.dataframe(
    pd.DataFrame(
        [{"Mode": m.name, "Tag": m.tag, "What it requires": m.requires, "Example": m.example} for m in facts.alignment_modes]
    ),
    hide_index=True,
    width="stretch",
)
st.caption(facts.alignment_default)

st.header("Quick diagnosis table")
st.markdown(f"{facts.diagnosis_table_note} Open a row's scenario in the Explorer:")
explain.show_diagnosis_table()
for entry in facts.diagnosis_table:
    key = scenarios_by_table_row().get(entry.row)
    if key:
        explain.scenario_link(presets[key], f"Row {entry.row}: open in the Explorer")

st.header("The five root causes")
for cause in facts.root_causes:
    with st.expander(f"{cause.number}. {cause.title}", expanded=cause.number == 1):
        st.markdown(f"**{cause.headline}**")
        st.markdown(f"*What the report shows:* {cause.symptom}")
        st.markdown("**Diagnosis checklist**\n" + "\n".join(f"- {step}" for step in cause.checklist))
        st.markdown(f"**Fix.** {cause.fix}")
        if cause.number == 1:
            st.dataframe(
                pd.DataFrame(
                    [{"Sender": s.name, "Where to turn on signing with your domain": s.setting} for s in facts.esp_settings]
                ),
                hide_index=True,
                width="stretch",
            )
        for key, preset in presets.items():
            if facts.scenario(key).root_cause == cause.number:
                explain.scenario_link(preset, f"Try it: {facts.scenario(key).title}")

st.header("Rollout plan")
st.markdown(facts.rollout_intro)
for step in facts.rollout_plan:
    st.markdown(f"{step.step}. {step.action}  \n   `{step.record_for('dmarc@example.com')}`")
st.caption(facts.threshold_note)
st.caption(facts.pct_note)

st.header("Frequently asked questions")
for entry in facts.faq:
    with st.expander(entry.question):
        st.markdown(entry.answer)
        if entry.scenario:
            explain.scenario_link(presets[entry.scenario], "See it in the Explorer")
