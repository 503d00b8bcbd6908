"""Drawing a Domain Check: the verdict, findings tied to root causes, the record tag by tag,
both organizational domains, DKIM keys, SPF and its include tree. Only presentation: every sentence and rule
comes from dmarc_core.

Every computed string passes through ``inert`` before it meets markdown.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dmarc_core import DomainCheck, explain_tags, knowledge
from dmarc_core.lookups.domain_check import Observation
from dmarc_core.lookups.spf import MAX_DNS_LOOKUPS, MAX_VOID_LOOKUPS, SpfNode
from dmarc_core.rules.domains import display_domain
from ui.text import inert, inert_with_code

_BOXES = {
    "error": (st.error, ":material/error:"),
    "warning": (st.warning, ":material/warning:"),
    "info": (st.info, ":material/info:"),
}


def _status(status: str) -> str:
    return knowledge().lookup_statuses[status]


def verdict(result: DomainCheck) -> None:
    applied = result.dmarc.applied
    if result.policy:
        tag, value = result.policy
        meaning = knowledge().record_tags[tag].values.get(value, "")
        st.success(
            f"### DMARC record found at {inert(display_domain(applied.found_at))}\n"
            f"For mail from {inert(display_domain(result.domain))} that fails DMARC, **{inert(tag)}={inert(value)}** applies: {inert(meaning)}.",
            icon=":material/check_circle:",
        )
    elif applied.policy:
        st.error(
            f"### The DMARC record at {inert(display_domain(applied.found_at))} cannot be used\n{inert(applied.policy.error)}",
            icon=":material/cancel:",
        )
    else:
        st.error(
            f"### No DMARC record applies to {inert(display_domain(result.domain))}\nWhat DNS said: {inert(_status(applied.status))}.",
            icon=":material/cancel:",
        )


def finding(note: Observation) -> None:
    box, icon = _BOXES[note.severity]
    cause = knowledge().root_cause(note.root_cause) if note.root_cause else None
    label = f"Root cause {cause.number} ({inert(cause.title)}): " if cause else ""
    box(f"**{label}{inert(note.title)}**\n\n{inert(note.explanation)}\n\n**Fix:** {inert_with_code(note.fix)}", icon=icon)


def record(result: DomainCheck) -> None:
    applied = result.dmarc.applied
    for lookup in applied.lookups:
        if lookup.status == "multiple":
            st.markdown(f"{inert(lookup.name)} holds several DMARC records; receivers discard them all:")
            st.code("\n".join(lookup.records), language=None, wrap_lines=True)
        if lookup.ignored:
            st.markdown(f"TXT records at {inert(lookup.name)} that are not DMARC records (they must start with v=DMARC1):")
            st.code("\n".join(lookup.ignored), language=None, wrap_lines=True)
    if not applied.policy:
        return
    st.markdown(f"Published at **{inert(display_domain(applied.found_at))}**:")
    st.code(applied.policy.text, language=None, wrap_lines=True)
    if result.record is None:
        return
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Tag": row.tag,
                    "Value": row.value,
                    "": "default" if row.is_default else "set",
                    "What it is": row.name,
                    "What this value does": row.value_meaning,
                    "Meaning": row.meaning,
                    "Default": row.default,
                    "RFC 9989": row.rfc9989,
                }
                for row in explain_tags(result.record)
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    for warning in result.record.warnings:
        st.warning(inert(warning), icon=":material/warning:")


def organizational_domains(result: DomainCheck) -> None:
    left, right = st.columns(2)
    for column, method, title in (
        (left, result.dmarc.rfc7489, "Public Suffix List (RFC 7489)"),
        (right, result.dmarc.tree_walk, "DNS tree walk (RFC 9989)"),
    ):
        with column.container(border=True):
            st.markdown(f"**{title}**")
            st.markdown(
                f"### {inert(display_domain(method.organizational_domain) if method.organizational_domain else 'unknown')}"
            )
            st.caption(inert(method.reason))
            st.dataframe(
                pd.DataFrame([{"Query": lookup.name, "Answer": _status(lookup.status)} for lookup in method.lookups]),
                hide_index=True,
                width="stretch",
            )


def dkim(result: DomainCheck) -> None:
    if result.shown_keys:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Selector": key.selector,
                        "Name": key.name,
                        "Answer": _status(key.status),
                        "Detail": key.detail,
                        "Common for": result.common_for(key),
                    }
                    for key in result.shown_keys
                ]
            ),
            hide_index=True,
            width="stretch",
        )
    if result.absent_common_selectors:
        absent = inert(", ".join(result.absent_common_selectors))
        st.caption(knowledge().absent_selectors_note.format(selectors=absent))


def spf(result: DomainCheck) -> None:
    found = result.spf
    if found.status in ("found", "multiple"):
        st.code("\n".join(found.records), language=None, wrap_lines=True)
    if found.status != "found":
        st.markdown(f"SPF at {inert(display_domain(found.domain))}: {inert(_status(found.status))}.")
    if result.spf_tree and result.spf_tree.root.status == "found":
        spf_tree(result)


def _answer(node: SpfNode) -> str:
    if node.status not in knowledge().lookup_statuses:  # not followed: the detail says why
        return node.detail
    return f"{_status(node.status)} ({node.detail})" if node.detail else _status(node.status)


def spf_tree(result: DomainCheck) -> None:
    """The include tree with what RFC 7208 4.6.4 limits: DNS lookups and void lookups."""
    tree = result.spf_tree
    lookups, voids = st.columns(2)
    at_least = "at least " if tree.truncated else ""  # the walk stopped asking: a lower bound
    lookups.metric("DNS lookups (RFC 7208 4.6.4)", f"{at_least}{tree.dns_lookups} of {MAX_DNS_LOOKUPS}", border=True)
    voids.metric("Void lookups", f"{tree.void_lookups} of {MAX_VOID_LOOKUPS}", border=True)
    for note in result.findings:
        if note.key in ("spf_too_many_lookups", "spf_too_many_void_lookups"):
            st.warning(
                f"**{inert(note.title)}**: receivers return permerror once the limit is reached (see Findings).",
                icon=":material/warning:",
            )
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Record of": "\u2003" * depth + ("\u21b3 " if depth else "") + node.domain,
                    "Reached by": via.text if via else "",
                    "DNS lookups here": node.lookups_here,
                    "Answer": _answer(node),
                    "Record": node.record or "",
                }
                for depth, via, node in tree.walk()
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    if tree.void_terms:
        st.markdown("Void lookups (the name does not exist or holds no such record):")
        st.dataframe(
            pd.DataFrame([{"Term": term.text, "Answer": _status(term.status)} for term in tree.void_terms]),
            hide_index=True,
            width="stretch",
        )
    st.caption(
        "Counted as a receiver counts for a sender that matches nothing before the end: include, a, mx, ptr, exists "
        "and redirect cost one DNS lookup each, ip4, ip6 and all none. Names built from the message (%{...} macros) "
        "are counted but not followed; ptr is not asked, since its answer depends on the sender."
    )
