"""Drawing helpers shared by the pages: verdicts, domains with their organizational part,
the diagnosis table. They only present what dmarc_core computed.

Every computed string passes through ``inert`` before it meets markdown.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dmarc_core import DmarcEvaluation, IdentifierResult, Scenario, knowledge, public_suffix_match
from dmarc_core.rules.domains import display_domain, unicode_form
from ui.text import inert, inert_with_code


def domain_markdown(domain: str, organizational: str, color: str) -> str:
    """``mail.`` plain, then the organizational domain in bold on a colored background; an
    internationalized name's Unicode form after it."""
    prefix = domain[: -len(organizational)] if domain.endswith(organizational) else ""
    readable = unicode_form(domain)
    unicode = f" ({inert(readable)})" if readable != domain else ""
    return f"{inert(prefix)}:{color}-background[**{inert(organizational)}**]{unicode}"


def verdict(evaluation: DmarcEvaluation) -> None:
    box = st.success if evaluation.dmarc_pass else st.error
    icon = ":material/check_circle:" if evaluation.dmarc_pass else ":material/cancel:"
    box(f"### {evaluation.verdict}\n{inert(evaluation.summary)}", icon=icon)


def identifier_row(result: IdentifierResult) -> None:
    alignment = result.alignment
    color = "green" if alignment.same_organizational_domain else "red"
    mark = ":material/check:" if result.carries_dmarc else ":material/close:"
    aligned = "aligned" if alignment.aligned else "not aligned"
    with st.container(border=True):
        st.markdown(
            f"{mark} **{'DKIM d=' if result.identifier == 'dkim' else 'SPF MAIL FROM'}** "
            f"{domain_markdown(alignment.auth_domain, alignment.auth_organizational_domain, color)}"
            f" · result **{result.result}** · **{aligned}** ({alignment.tag}={alignment.mode})"
        )
        st.caption(inert(result.explanation))


def from_row(evaluation: DmarcEvaluation) -> None:
    with st.container(border=True):
        st.markdown(
            f":material/mail: **From:** {domain_markdown(evaluation.header_from, evaluation.organizational_domain, 'blue')}"
            f" · organizational domain **{inert(display_domain(evaluation.organizational_domain))}**"
        )
        st.caption(inert(public_suffix_match(evaluation.header_from).explanation))


def diagnosis_table(highlight_row: int | None = None) -> pd.DataFrame:
    """The article's quick diagnosis table, with the matching row marked."""
    rows = [
        {
            "": "◀ this case" if entry.row == highlight_row else "",
            "Row": entry.row,
            "policy_evaluated dkim": entry.reported_dkim,
            "auth_results dkim result": entry.auth_result,
            "auth_results dkim domain": entry.auth_domain,
            "Root cause": entry.meaning,
        }
        for entry in knowledge().diagnosis_table
    ]
    return pd.DataFrame(rows).set_index("Row")


def show_diagnosis_table(highlight_row: int | None = None) -> None:
    frame = diagnosis_table(highlight_row)
    styled = frame.style.apply(
        lambda row: [
            "background-color: rgba(255, 196, 0, 0.35); font-weight: bold" if row.name == highlight_row else "" for _ in row
        ],
        axis=1,
    )
    st.dataframe(styled, width="stretch")


def cause_and_fix(evaluation: DmarcEvaluation, fix: str | None = None) -> None:
    """The root cause and its fix; ``fix`` when the page knows a more exact one than the diagnosis."""
    diagnosis = evaluation.diagnosis
    finding = diagnosis.finding
    if finding.root_cause:
        cause = knowledge().root_cause(finding.root_cause)
        st.markdown(f"#### Root cause {cause.number}: {cause.title}")
        st.markdown(cause.headline)
    else:
        st.markdown(f"#### {finding.title}")
    st.markdown(inert(diagnosis.explanation))
    st.info(f"**Fix:** {inert_with_code(fix or evaluation.fix)}", icon=":material/build:")


def scenario_link(scenario: Scenario, label: str) -> None:
    """A real link to the Explorer on ``scenario``, to copy or open in a new tab. Not st.page_link:
    its href for the default page is the bare ``?query``, which names the page it is on."""
    st.markdown(f":material/open_in_new: [{inert(label)}](<./?{scenario.query_string()}>)")
