"""Drawing the Message Check: the verdict, each signature, SPF, the ARC chain and what each
receiver recorded. Everything read from the message is shown inert or in tables."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from dmarc_core import knowledge
from dmarc_core.message.check import MessageCheck
from dmarc_core.message.model import ReceiverResults
from ui.text import inert


def verdict(result: MessageCheck) -> None:
    problem = result.message.from_header.problem
    if problem:
        cut = " ".join(note for note in result.message.notes if "cut" in note)
        st.error(f"### No DMARC verdict\n{knowledge().from_problems[problem]} {inert(cut)}", icon=":material/cancel:")
    elif not result.dmarc_applies:
        st.warning(
            f"### DMARC does not apply\nNo DMARC record applies to {inert(result.message.from_header.domain)} "
            f"({inert(result.policy.source)}), so receivers record dmarc=none and apply no policy (RFC 9989 5.3.2). "
            "Publish one, p=none to start, to get reports; what follows is what DMARC would say under it.",
            icon=":material/block:",
        )
    elif result.evaluation is None:
        unknown = ", ".join(result.unknown) or "the alignment modes (the DMARC record)"
        st.warning(
            f"### Not known yet\nThe results of {inert(unknown)} are not known, and the other identifiers do not make "
            "DMARC pass. Turn on the DNS lookups to verify them, or paste the whole message with its body.",
            icon=":material/help:",
        )
    else:
        passed, evaluation = result.evaluation.dmarc_pass, result.evaluation
        box, icon = (st.success, ":material/check_circle:") if passed else (st.error, ":material/cancel:")
        box(f"### {evaluation.verdict}\n{inert(evaluation.summary)}", icon=icon)
    st.caption(f"Alignment modes: adkim={result.policy.adkim}, aspf={result.policy.aspf}: {inert(result.policy.source)}.")


def disagreements(result: MessageCheck) -> None:
    for disagreement in result.disagreements:
        st.warning(inert(disagreement), icon=":material/compare_arrows:")


def signatures(result: MessageCheck) -> None:
    if not result.signatures:
        st.markdown(
            "The message carries **no DKIM signature**, so DMARC rests on SPF alone, which forwarding breaks "
            "(the article's root cause 2): have every server and service that sends as you sign with your domain."
        )
        return
    aligned = {item.domain: item.alignment.aligned for item in result.evaluation.dkim} if result.evaluation else {}
    rows = [
        {
            "d=": check.signature.domain,
            "s=": check.signature.selector,
            "Status": knowledge().signature_statuses[check.status],
            "Result": check.result or "not known",
            "Established": check.result_source or "",
            "Aligned with From:": {True: "yes", False: "no"}.get(aligned.get(check.signature.domain), ""),
            "Signs From:": "yes" if check.signature.signs_from else "no",
            "a=": check.signature.algorithm,
            "c=": check.signature.canonicalization,
            "l= (body bytes signed)": "" if check.signature.body_length is None else str(check.signature.body_length),
            "t= signed": _date(check.signature.signed_at),
            "x= expires": _date(check.signature.expires_at),
        }
        for check in result.signatures
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.markdown("\n".join(f"- **d={inert(check.signature.domain)}**: {inert(check.detail)}" for check in result.signatures))
    with st.expander("Signed headers (h=) of each signature"):
        for check in result.signatures:
            st.text(f"d={check.signature.domain} s={check.signature.selector}: {' : '.join(check.signature.signed_headers)}")


def _date(timestamp: int | None) -> str:
    return "" if timestamp is None else datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def spf(result: MessageCheck) -> None:
    check = result.spf
    identity = f"MAIL FROM {result.message.mail_from}" if result.message.mail_from else "the HELO name (null MAIL FROM)"
    rows = [
        {
            "Domain": check.domain or "none found",
            "Identity": identity if check.domain else "",
            "Connecting IP": result.message.connecting_ip,
            "Result": check.result or "not known",
            "Established": check.source,
        }
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    if check.detail:
        st.markdown(inert(check.detail))


def arc(result: MessageCheck) -> None:
    chain = result.arc
    if chain is None:
        return
    words = {"pass": "verifies", "fail": "does not verify", "none": "is absent", "not_checked": "was not verified"}
    st.markdown(f"The ARC chain **{words[chain.status]}**; the last set was sealed by **{inert(chain.sealed_by)}**.")
    st.caption(inert(chain.detail))
    sets = [
        {"i=": arc_set.instance, "Sealed by": arc_set.sealed_by, "cv=": arc_set.chain_validation, "Signed by": arc_set.signed_by}
        for arc_set in result.message.arc_sets
    ]
    st.dataframe(pd.DataFrame(sets), hide_index=True)
    first = chain.first_hop
    if first is not None and first.results is not None:
        st.markdown(
            f"Before any forwarding, the first hop ({inert(first.sealed_by)}) recorded what it found on arrival: "
            "receivers that trust that sealer may accept the message on this result."
        )
        _results_table((first.results,))


def receivers(result: MessageCheck) -> None:
    report = result.message.feedback_report
    from_report = report.authentication_results if report else ()
    fields = (*from_report, *result.message.authentication_results)
    if not fields:
        st.markdown("The message holds no Authentication-Results field: no receiver's results to compare with.")
        return
    st.caption(
        "Topmost first. Only the final receiver's results (the field above its own Received: line, else the failure "
        "report's) are compared with the verdict above: fields further down were written before the last hop, by an "
        "intermediary or by the sender, who can write anything."
    )
    _results_table(fields, result.receiver, from_report=from_report)


def _results_table(
    fields: tuple[ReceiverResults, ...],
    receiver: ReceiverResults | None = None,
    *,
    from_report: tuple[ReceiverResults, ...] | None = None,
) -> None:
    def whose(results: ReceiverResults) -> str:
        if results is receiver:
            return "the final receiver"
        return "the failure report" if any(results is other for other in from_report or ()) else "written before the last hop"

    rows = [
        {
            "Receiver": results.authserv_id,
            **({"Whose": whose(results)} if from_report is not None else {}),
            "DKIM": ", ".join(f"{verdict.result} ({verdict.domain or '?'})" for verdict in results.dkim),
            "SPF": f"{results.spf} ({results.spf_domain})" if results.spf else "",
            "DMARC": f"{results.dmarc} ({results.dmarc_from})" if results.dmarc else "",
            "ARC": results.arc or "",
            "Problem": results.problem or "",
        }
        for results in fields
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def notes(result: MessageCheck) -> None:
    report = result.message.feedback_report
    if report is not None:
        st.header("The failure report")
        rows = {
            "Feedback-Type": report.feedback_type,
            "Auth-Failure": report.auth_failure,
            "Reported-Domain": report.reported_domain,
            "Source-IP": report.source_ip,
            "Original-Mail-From": report.original_mail_from,
            "Arrival-Date": report.arrival_date,
            "Delivery-Result": report.delivery_result,
            "Reported by": report.reporter,
        }
        st.dataframe(pd.DataFrame([{"Field": key, "Value": value} for key, value in rows.items() if value]), hide_index=True)
    for note in result.message.notes:
        st.caption(inert(note))
