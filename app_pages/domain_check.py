"""Domain Check: what a domain publishes in DNS for DMARC, DKIM and SPF, and what it means for
its mail, each finding tied to the article's root causes."""

from urllib.parse import urlencode

import streamlit as st

from dmarc_core import check_domain, knowledge, make_resolver
from ui import check as draw
from ui.text import inert

state = st.session_state

# A link (?domain=...&selectors=...) brings values the inputs do not show yet: load them.
params = st.query_params.to_dict()
if "check_domain" not in state or (params and params != state.get("check_params")):
    state.check_domain = params.get("domain", "")
    state.check_selectors = params.get("selectors", "")

st.title("Domain Check")
st.markdown(
    "Instead of running `nslookup` by hand, as the article suggests: this looks up the domain's DMARC "
    "record (the way RFC 7489 receivers do and by the RFC 9989 DNS tree walk), its DKIM keys and its SPF "
    "record, and says what each means for your mail."
)
domain_column, selectors_column = st.columns([3, 2])
domain_column.text_input("Domain", key="check_domain", placeholder="example.com or user@example.com", persist_state="session")
selectors_column.text_input(
    "Your DKIM selectors (optional)",
    key="check_selectors",
    placeholder="k1, s1",
    persist_state="session",
    help="Comma separated: the s= of your DKIM-Signature headers, or <selector> in your reports' auth_results. "
    "Common selectors are tried as well.",
)

domain = state.check_domain.strip()
selectors = ",".join(part.strip() for part in state.check_selectors.split(",") if part.strip())
state.check_params = {name: value for name, value in (("domain", domain), ("selectors", selectors)) if value}
st.query_params.from_dict(state.check_params)

if not domain:
    st.info(
        "Type the domain of your From: address (or paste the whole address) and press Enter. If your reports "
        "show DKIM selectors (<selector> in auth_results), add them to check that their keys are published.",
        icon=":material/arrow_upward:",
    )
    st.stop()

try:
    resolver = make_resolver()
except ValueError as problem:
    st.error(f"**The app's DNS server setting is not usable.** {inert(problem)}", icon=":material/dns:")
    st.stop()
try:
    with st.spinner(f"Asking DNS about {inert(domain)}…"):
        result = check_domain(domain, selectors, resolver)
except ValueError as problem:
    st.error(f"**That input is not usable.** {inert(problem)}", icon=":material/error:")
    st.stop()

if result.unreachable:
    st.error(
        f"### DNS did not answer\nThe DNS server this app asks ({inert(result.nameservers)}) answered none of the "
        "lookups within a few seconds, so nothing could be checked. Try again in a minute; if it keeps failing, it may be "
        "down or unreachable from where the app runs, and whoever runs the app can point it at another one.",
        icon=":material/cloud_off:",
    )
    st.stop()

findings = list(result.findings)
if not result.exists:  # before anything else: the rest is about a name nobody can send from
    draw.finding(findings.pop(0))
draw.verdict(result)
st.caption(f"Asked {inert(result.nameservers)}.")

st.header("Findings")
if not result.findings:
    st.success("Nothing to fix: the record, the keys found and SPF look right.", icon=":material/thumb_up:")
for note in findings:
    draw.finding(note)

st.header("DMARC record")
draw.record(result)

st.header("Organizational domain")
st.markdown(knowledge().organizational_domain_note)
draw.organizational_domains(result)

st.header("DKIM keys")
draw.dkim(result)

st.header("SPF")
draw.spf(result)

st.header("Share")
st.code(
    f"{st.context.url.split('?')[0] if st.context.url else ''}?{urlencode(state.check_params, safe='@,')}",
    language=None,
    wrap_lines=True,
)
