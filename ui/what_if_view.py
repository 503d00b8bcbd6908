"""Drawing the what-if: a DMARC policy tried on the uploaded reports before it is published.

The choice lives in the URL (``what_if_p=reject&what_if_adkim=s``, the record's tag names, see
``dmarc_core.analysis.what_if``), so a link carries it. It is computed only while its expander is
open, and kept per triage in this session: what depends on the records alone once per triage (and
domain), each proposal's outcome once.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dmarc_core import knowledge
from dmarc_core.analysis.what_if import (
    PARAM_PREFIX,
    Evidence,
    Proposal,
    WhatIf,
    proposal_from_params,
    published_proposal,
    what_if,
)
from dmarc_core.rules.dmarc_record import POLICIES
from dmarc_core.rules.wording import counted
from ui.text import inert

ALL_DOMAINS = "all domains"
#: The link's parameter for the policy domain the proposal is tried on.
DOMAIN_PARAM = PARAM_PREFIX + "domain"
#: sp's choice for the tag left out (subdomains get p).
AS_P = "as p"
_TAGS = ("p", "sp", "adkim", "aspf", "pct")
_PARAMS = (*(PARAM_PREFIX + tag for tag in _TAGS), DOMAIN_PARAM)
_MODE_LABELS = {"r": "r: relaxed", "s": "s: strict"}
#: Proposals' outcomes kept per triage and domain.
_RESULTS_KEPT = 16


def waiting() -> None:
    """Before any report: the policy a link carries, said, so that the person knows what it waits for."""
    if any(name in _PARAMS for name in st.query_params):
        st.info(
            "This link carries a policy to try on your reports (under *What if I publish another policy?*): "
            "drop them here, or try the demo reports.",
            icon=":material/science:",
        )


def draw(frame: pd.DataFrame) -> None:
    """The what-if expander: the form, the outcome beside today's, per sender, the record to publish."""
    params = {name: value for name, value in st.query_params.to_dict().items() if name in _PARAMS}
    expander = st.expander(
        "What if I publish another policy?",
        expanded=bool(params),
        key="what_if_open",
        on_change="rerun",
        icon=":material/science:",
    )
    if not expander.open:
        return
    with expander:
        domains = sorted(filter(None, frame["policy_domain"].dropna().unique()))
        problems = _load(frame, domains, params)
        st.caption(
            "Try a policy on the mail these reports describe before you publish it: each message is judged "
            "again by the rules of DMARC, and gets the policy that would apply to it."
        )
        for problem in problems:
            st.warning(f"This link had a value that could not be used: {inert(problem)}", icon=":material/link_off:")
        domain, proposal = _form(domains)
        result = _outcome(frame, domain, proposal)
        _summary(result)
        _senders(result)
        _notes(result)
        single = domain if domain != ALL_DOMAINS else (domains[0] if len(domains) == 1 else None)
        record = proposal.record(single) if single else None
        if record:
            with st.expander("Record to publish"):
                st.caption(knowledge().next_record_note.format(domain=inert(single)))
                st.code(record, language=None, wrap_lines=True)
        if st.session_state.get("what_if_chosen"):
            _write_link(domain, proposal)


def _load(frame: pd.DataFrame, domains: list[str], params: dict[str, str]) -> list[str]:
    """Fills the form from the link, the published policy where it says nothing: for a new triage,
    or a link that is not the one this page wrote. Returns what could not be used."""
    state = st.session_state
    if state.get("what_if_for") == id(frame) and (not params or params == state.get("what_if_link")):
        return state.get("what_if_problems", [])
    problems = []
    domain = params.get(DOMAIN_PARAM, ALL_DOMAINS)
    if domain not in (ALL_DOMAINS, *domains):
        problems.append(f"{DOMAIN_PARAM}={domain} is not a policy domain of these reports.")
        domain = ALL_DOMAINS
    default = published_proposal(frame, None if domain == ALL_DOMAINS else domain)
    proposal, wrong = proposal_from_params(params, default)
    state.what_if_domain = domain
    for tag in _TAGS:
        value = getattr(proposal, tag)
        state[PARAM_PREFIX + tag] = AS_P if value is None else value
    state.what_if_for, state.what_if_link, state.what_if_problems = id(frame), params, problems + wrong
    return state.what_if_problems


def _chosen() -> None:
    st.session_state.what_if_chosen = True


def _form(domains: list[str]) -> tuple[str, Proposal]:
    """The proposal's widgets (and the domain's, with several), and what they say."""
    tags = knowledge().record_tags
    row = st.container(horizontal=True, vertical_alignment="bottom")
    common = {"on_change": _chosen, "persist_state": "session"}
    domain = ALL_DOMAINS
    if len(domains) > 1:
        domain = row.selectbox("Publish at", [ALL_DOMAINS, *domains], key=DOMAIN_PARAM, **common)
    p = row.radio("p", POLICIES, key=PARAM_PREFIX + "p", horizontal=True, help=tags["p"].meaning, **common)
    sp = row.radio(
        "sp",
        (AS_P, *POLICIES),
        key=PARAM_PREFIX + "sp",
        horizontal=True,
        help=f"{tags['sp'].meaning} Left out, subdomains get p.",
        **common,
    )
    adkim, aspf = (
        row.radio(
            tag,
            tuple(_MODE_LABELS),
            key=PARAM_PREFIX + tag,
            format_func=_MODE_LABELS.get,
            horizontal=True,
            help=tags[tag].meaning,
            **common,
        )
        for tag in ("adkim", "aspf")
    )
    pct = row.number_input(
        "pct",
        min_value=0,
        max_value=100,
        step=1,
        key=PARAM_PREFIX + "pct",
        help=f"{tags['pct'].meaning} {tags['pct'].rfc9989}. {knowledge().pct_note}",
        width=140,
        **common,
    )
    return domain, Proposal(p=p, sp=None if sp == AS_P else sp, adkim=adkim, aspf=aspf, pct=int(pct))


def _outcome(frame: pd.DataFrame, domain: str, proposal: Proposal) -> WhatIf:
    """The proposal tried on the domain's records (all of ``frame``'s for ``ALL_DOMAINS``): their
    evidence found once per triage and domain, each proposal's outcome once (the last few kept)."""
    memo = st.session_state.setdefault("what_if_memo", {})
    if memo.get("key") != (id(frame), domain):
        rows = frame if domain == ALL_DOMAINS else frame[frame["policy_domain"] == domain]
        # The frame is held beside its results, so that no other frame can take its id meanwhile.
        memo.clear()
        memo.update(key=(id(frame), domain), frame=frame, rows=rows, evidence=Evidence.of(rows), results={})
    results = memo["results"]
    if proposal not in results:
        results[proposal] = what_if(memo["rows"], proposal, memo["evidence"])
        while len(results) > _RESULTS_KEPT:
            del results[next(iter(results))]
    return results[proposal]


def _summary(result: WhatIf) -> None:
    totals = result.totals
    expected = " (expected)" if result.expected else ""
    with st.container(horizontal=True):
        st.metric("Would pass", f"{totals.passing:,}", delta=_change(totals.passing, totals.passing_today), border=True)
        for label, count, today in (
            ("Would be quarantined", totals.quarantined, totals.quarantined_today),
            ("Would be rejected", totals.rejected, totals.rejected_today),
        ):
            st.metric(label + expected, f"{count:,}", delta=_change(count, today), delta_color="inverse", border=True)
        st.metric(
            "Left to the receiver",
            f"{totals.receivers_choice:,}",
            help="Failing mail the receiver's own local policy overrode (forwarded, mailing list, local policy): "
            "its choice, whatever your record says.",
            border=True,
        )
    st.markdown(inert(result.sentence))
    st.caption(
        f"Today: {totals.passing_today:,} of {counted(totals.messages, 'message')} passed DMARC, {totals.quarantined_today:,} were "
        f"quarantined and {totals.rejected_today:,} rejected, as the receivers reported."
    )


def _change(count: int, today: int) -> str | None:
    """The change from today, signed; none when there is none."""
    return f"{count - today:+,} from today" if count != today else None


#: The senders table's columns in the order shown; those of outcomes no sender has are left out.
_SENDER_COLUMNS = ("source", "header_from", "messages", "blocked_change", "passing_today", "passing")
_OUTCOME_COLUMNS = (
    "quarantined_today",
    "quarantined",
    "rejected_today",
    "rejected",
    "delivered_failing",
    "receivers_choice",
)


def _senders(result: WhatIf) -> None:
    table = result.senders
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_order=[*_SENDER_COLUMNS, *(name for name in _OUTCOME_COLUMNS if table[name].any())],
        column_config={
            "source": "Sender / source",
            "header_from": "From: domain",
            "messages": st.column_config.NumberColumn("Messages", format="localized"),
            "passing_today": st.column_config.NumberColumn("Pass today", format="localized"),
            "quarantined_today": st.column_config.NumberColumn("Quarantined today", format="localized"),
            "rejected_today": st.column_config.NumberColumn("Rejected today", format="localized"),
            "passing": st.column_config.NumberColumn("Would pass", format="localized"),
            "delivered_failing": st.column_config.NumberColumn(
                "Would fail, delivered", format="localized", help="p=none, or left out by pct"
            ),
            "quarantined": st.column_config.NumberColumn("Would be quarantined", format="localized"),
            "rejected": st.column_config.NumberColumn("Would be rejected", format="localized"),
            "receivers_choice": st.column_config.NumberColumn(
                "Left to the receiver", format="localized", help="Its local policy overrode the domain's"
            ),
            "blocked_change": st.column_config.NumberColumn(
                "Change in blocked",
                format="localized",
                help="Quarantined or rejected under this policy, less today",
            ),
        },
    )


def _notes(result: WhatIf) -> None:
    notes = [
        "Where a mode is unchanged, the receivers' own DKIM and SPF verdicts stand; where it changes, alignment is "
        "judged from the reports' auth results.",
        "np= (subdomains that do not exist) cannot be tried here: reports do not say whether a From: domain exists, "
        "so every subdomain gets sp.",
    ]
    if result.expected:
        notes.append(
            f"pct={result.proposal.pct}: receivers that still honour pct (RFC 7489; RFC 9989 removed it and t=y replaced it) "
            "apply the policy to that share of failing mail at random and the next-lower policy to the rest "
            "(reject → quarantine, quarantine → none): the counts are expectations, rounded."
        )
    st.caption(" ".join(notes))


def _write_link(domain: str, proposal: Proposal) -> None:
    """The choice into the URL, this page's other parameters left alone."""
    wanted = proposal.to_params()
    if domain != ALL_DOMAINS:
        wanted[DOMAIN_PARAM] = domain
    for name in _PARAMS:
        if name in wanted:
            if st.query_params.get(name) != wanted[name]:
                st.query_params[name] = wanted[name]
        elif name in st.query_params:
            del st.query_params[name]
    st.session_state.what_if_link, st.session_state.what_if_problems = wanted, []
