"""The triage page's DNS actions, run only when the person asks: enriching source addresses
(PTR and AS, in the background so the page stays usable) and checking the DKIM selectors that
receivers could not find."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from dmarc_core import IpInfo, enrich_ips, lookup_dkim_keys, make_resolver
from dmarc_core.analysis.summary import busiest_addresses, missing_selectors
from ui.text import inert


@dataclass
class Enrichment:
    """A lookup running in a thread of its own; the page polls it."""

    total: int
    done: int = 0
    results: dict[str, IpInfo] | None = None
    error: str = ""
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
    if st.button(
        "Enrich sources",
        icon=":material/travel_explore:",
        key="enrich",
        help=f"Look up the host names (PTR) and networks (AS) of the {len(ips):,} addresses behind the most messages.",
        disabled=bool(state.get("enrichment") and state.enrichment.running) or not ips,
    ):
        state.enrichment = _start(ips, state.setdefault("ip_cache", {}))
    job: Enrichment | None = state.get("enrichment")
    if job is not None:
        _progress(job)
    return job.results if job is not None else None


@st.fragment(run_every=1.0)
def _progress(job: Enrichment) -> None:
    # Reruns on its own every second, so the rest of the page stays usable while DNS answers.
    if job.running:
        st.progress(job.done / max(job.total, 1), text=f"Looked up {job.done:,} of {job.total:,} addresses…")
    elif job.error:
        st.error(f"**DNS is not usable here.** {inert(job.error)}", icon=":material/dns:")
    elif job.results is not None and st.session_state.get("enrichment_shown") is not job:
        st.session_state.enrichment_shown = job
        st.rerun(scope="app")  # redraw the sources table with the new columns
    elif job.results is not None:
        found = sum(1 for info in job.results.values() if info.as_name or info.ptr)
        st.caption(f"Host names and networks of {found:,} of {job.total:,} addresses are in the table above.")


def selectors(frame: pd.DataFrame) -> None:
    wanted = missing_selectors(frame)
    if not wanted:
        st.caption("No record here failed for a missing DKIM key, so there is no selector to check.")
        return
    listed = "; ".join(f"{domain}: {', '.join(names)}" for domain, names in wanted.items())
    if not st.button(
        "Check missing selectors",
        icon=":material/key:",
        key="check_selectors",
        help=f"Look up the DKIM keys receivers could not find: {inert(listed)}",  # a tooltip is markdown too
    ):
        return
    try:
        resolver = make_resolver()
    except ValueError as problem:
        st.error(f"**DNS is not usable here.** {inert(problem)}", icon=":material/dns:")
        return
    found = []
    with st.spinner("Asking DNS for the keys…"):
        for domain, names in wanted.items():
            try:
                found.extend(lookup_dkim_keys(domain, names, resolver))
            except ValueError as problem:  # a report can name a selector no DNS name could hold
                st.text(str(problem))
    st.dataframe(
        pd.DataFrame([{"name": key.name, "status": key.status, "detail": key.detail} for key in found]),
        hide_index=True,
        width="stretch",
    )
