"""The triage page's DNS actions, run only when the person asks: enriching source addresses
(PTR and AS, in the background so the page stays usable) and checking the DKIM selectors that
receivers could not find.

Both keep their results in the session per input (the addresses asked about, the selectors
checked): a rerun, a filter that comes back or a visit to another page shows them again.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from dmarc_core import DkimKeyLookup, IpInfo, enrich_ips, knowledge, lookup_dkim_keys, make_resolver
from dmarc_core.analysis.summary import busiest_addresses, missing_selectors
from dmarc_core.lookups.resolver import FAILED
from dmarc_core.rules.wording import counted
from ui.text import inert


@dataclass
class Enrichment:
    """A lookup running in a thread of its own; the page polls it."""

    total: int
    done: int = 0
    results: dict[str, IpInfo] | None = None
    error: str = ""
    shown: bool = False  # the page was redrawn with the results
    thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


def _start(ips: list[str], cache: dict) -> Enrichment:
    job = Enrichment(total=len(ips))

    def work() -> None:
        try:
            job.results = enrich_ips(ips, make_resolver(), cache=cache, progress=lambda done, total: setattr(job, "done", done))
        except ValueError as problem:  # the app's DNS setting is unusable
            job.error = str(problem)

    job.thread = threading.Thread(target=work, name="enrich-sources", daemon=True)
    job.thread.start()
    return job


def enrichment(frame: pd.DataFrame) -> dict[str, IpInfo] | None:
    """The button, the progress while it runs, and the results once there are some."""
    state = st.session_state
    ips = busiest_addresses(frame)
    jobs: dict[tuple[str, ...], Enrichment] = state.setdefault("enrichments", {})
    job = jobs.get(tuple(ips))
    if st.button(
        "Enrich sources",
        icon=":material/travel_explore:",
        key="enrich",
        help=f"Look up the host names (PTR) and networks (AS) of the {counted(len(ips), 'address', 'addresses')} behind the most messages.",
        disabled=bool(job and job.running) or not ips,
    ):
        job = jobs[tuple(ips)] = _start(ips, state.setdefault("ip_cache", {}))
    if job is not None:
        _progress(job)
    return job.results if job is not None else None


@st.fragment(run_every=1.0)
def _progress(job: Enrichment) -> None:
    # Reruns on its own every second, so the rest of the page stays usable while DNS answers.
    if job.running:
        st.progress(job.done / max(job.total, 1), text=f"Looked up {job.done:,} of {counted(job.total, 'address', 'addresses')}…")
    elif job.error:
        st.error(f"**DNS is not usable here.** {inert(job.error)}", icon=":material/dns:")
    elif job.results is not None and not job.shown:
        job.shown = True
        st.rerun(scope="app")  # redraw the sources table with the new columns
    elif job.results is not None:
        found = sum(1 for info in job.results.values() if info.as_name or info.ptr)
        failed = _failures(job.results)
        if failed:
            st.warning(_failure_message(failed, found, len(job.results)), icon=":material/dns:")
        else:
            st.caption(
                f"Host names and networks of {found:,} of {counted(job.total, 'address', 'addresses')} are in the table above."
            )


def _failures(results: dict[str, IpInfo]) -> dict[str, int]:
    """Per way DNS failed (``timeout``, ``servfail``), the addresses whose host name (PTR) or
    network (AS) lookup it failed, the most first; an address counts once, by its PTR lookup first."""
    counts: dict[str, int] = {}
    for info in results.values():
        failure = next((status for status in (info.ptr_status, info.asn_status) if status in FAILED), None)
        if failure:
            counts[failure] = counts.get(failure, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: -item[1]))


def _failure_message(failed: dict[str, int], found: int, total: int) -> str:
    """DNS's failure in words: for how many addresses, how, and what the visitor can do."""
    words = knowledge().lookup_statuses
    how = "; ".join(f"{words.get(status, status)} for {count:,}" for status, count in failed.items())
    count = sum(failed.values())
    advice = (
        "The DNS server the app asks may be unreachable or overloaded: press **Enrich sources** again later."
        if count == total
        else "Press **Enrich sources** again later to ask for those."
    )
    of_total = counted(total, "address", "addresses")
    shown = f" Host names and networks of {found:,} of {of_total} are in the table above." if found else ""
    return f"**DNS did not answer** for {count:,} of {of_total}: {how}. {advice}{shown}"


@dataclass(frozen=True)
class SelectorCheck:
    """What DNS said about the selectors receivers could not find."""

    keys: tuple[DkimKeyLookup, ...] = ()
    problems: tuple[str, ...] = ()  # selectors no DNS name could hold
    unusable_dns: str = ""  # the app's DNS setting, when nothing could be asked


def selectors(frame: pd.DataFrame) -> None:
    wanted = missing_selectors(frame)
    if not wanted:
        st.caption("No record here failed for a missing DKIM key, so there is no selector to check.")
        return
    listed = "; ".join(f"{domain}: {', '.join(names)}" for domain, names in wanted.items())
    checks: dict[tuple, SelectorCheck] = st.session_state.setdefault("selector_checks", {})
    asked = tuple((domain, tuple(names)) for domain, names in wanted.items())
    if st.button(
        "Check missing selectors",
        icon=":material/key:",
        key="check_selectors",
        help=f"Look up the DKIM keys receivers could not find: {inert(listed)}",  # a tooltip is markdown too
    ):
        with st.spinner("Asking DNS for the keys…"):
            checks[asked] = _check(wanted)
    if asked in checks:
        _show(checks[asked])


def _check(wanted: dict[str, list[str]]) -> SelectorCheck:
    try:
        resolver = make_resolver()
    except ValueError as problem:
        return SelectorCheck(unusable_dns=str(problem))
    keys, problems = [], []
    for domain, names in wanted.items():
        try:
            keys.extend(lookup_dkim_keys(domain, names, resolver))
        except ValueError as problem:  # a report can name a selector no DNS name could hold
            problems.append(str(problem))
    return SelectorCheck(tuple(keys), tuple(problems))


def _show(check: SelectorCheck) -> None:
    if check.unusable_dns:
        st.error(f"**DNS is not usable here.** {inert(check.unusable_dns)}", icon=":material/dns:")
        return
    for problem in check.problems:
        st.text(problem)
    st.dataframe(
        pd.DataFrame([{"name": key.name, "status": key.status, "detail": key.detail} for key in check.keys]),
        hide_index=True,
        width="stretch",
    )
